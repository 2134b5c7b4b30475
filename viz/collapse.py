"""The collapsed grouped view: a big graph drawn small enough to render in seconds.

Each neuron (or layer) becomes one node. Ungrouped nodes (inputs, loss, penalty)
stay one node each while the picture is under ``max_nodes``; past that, nodes with
the same op at the same height (distance from the leaves) are merged, so a loss
summed over 100 samples shows one ``relu ×100`` node instead of 100; past that
again, all nodes with the same op are merged. Edges between the same two units are
merged too and say how many they stand for and the gradient they carried in total.

Node names are ``u0, u1, ...`` and edge ids ``ue0, ue1, ...`` in the order units
first appear in the trace, so the DOT text is deterministic.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, Hashable, List, Optional, Tuple

import graphviz

from .dot import (MONO_FONT, Picture, diverging_colour, escape_html, format_value, max_abs,
                  sequential_colour, text_colour)
from .grouping import groups
from .trace import NodeRecord, Trace

__all__ = ["draw_collapsed"]


@dataclass
class _Unit:
    name: str
    kind: str  # "group", "node" or "bucket"
    title: str
    members: List[NodeRecord] = field(default_factory=list)


def _heights(t: Trace) -> Dict[str, int]:
    height: Dict[str, int] = {}
    for node in t.nodes:
        height[node.id] = 1 + max((height[o] for o in node.operand_ids), default=-1)
    return height


def _assign(t: Trace, shown: List[NodeRecord], level: str,
            max_nodes: int) -> Tuple[Dict[str, Hashable], str, str]:
    """Unit key per node id, the group level used, and how ungrouped nodes were merged."""
    group_of = groups(t, level)
    if level == "neuron" and len(set(group_of.values())) > max_nodes // 2:
        level, group_of = "layer", groups(t, "layer")
    height = None
    for merge in ("none", "op-height", "op"):
        keys: Dict[str, Hashable] = {}
        for n in shown:
            if n.id in group_of:
                keys[n.id] = ("group", group_of[n.id])
            elif merge == "none":
                keys[n.id] = ("node", n.id)
            elif merge == "op-height":
                height = height or _heights(t)
                keys[n.id] = ("bucket", n.op or n.role, height[n.id])
            else:
                keys[n.id] = ("bucket", n.op or n.role)
        if len(set(keys.values())) <= max_nodes:
            break
    return keys, level, merge


def _row(name: str, value: str, fill: str = "") -> str:
    bg = f' BGCOLOR="{fill}"' if fill else ""
    colour = f' COLOR="{text_colour(fill)}"' if fill else ""
    return (f'<TR><TD ALIGN="LEFT">{name}</TD><TD ALIGN="RIGHT"{bg}>'
            f'<FONT FACE="{MONO_FONT}"{colour}>{value}</FONT></TD></TR>')


def _unit_label(unit: _Unit, level: str, has_grads: bool, show_grads: bool,
                grad_scale: float, sum_scale: float) -> str:
    rows = [f'<TR><TD COLSPAN="2"><B>{escape_html(unit.title)}</B></TD></TR>']
    grads = show_grads and has_grads
    if unit.kind == "node":
        node = unit.members[0]
        rows.append(_row("data", format_value(node.data)))
        if show_grads:
            fill = diverging_colour(node.grad, grad_scale) if has_grads else ""
            rows.append(_row("grad", format_value(node.grad) if has_grads else "not computed yet",
                             fill))
        return '<<TABLE BORDER="1" CELLBORDER="0" CELLSPACING="0">' + "".join(rows) + "</TABLE>>"
    if unit.kind == "group":
        rows.append(_row(level, f"{len(unit.members)} values"))
        bias = [m for m in unit.members if m.role == "parameter" and m.label.endswith(".b")]
        if level == "neuron" and bias:
            rows.append(_row("bias", format_value(bias[0].data)))
        total = sum(abs(m.grad) for m in unit.members if m.role == "parameter")
    else:
        rows.append(_row("merged", f"×{len(unit.members)}"))
        total = sum(abs(m.grad) for m in unit.members)
    if grads:
        rows.append(_row("Σ|grad|", format_value(total), sequential_colour(total, sum_scale)))
    border = "3" if unit.kind == "group" else "1"
    style = ' STYLE="rounded"' if unit.kind == "group" else ""
    return (f'<<TABLE BORDER="{border}"{style} CELLBORDER="0" CELLSPACING="0">'
            + "".join(rows) + "</TABLE>>")


def draw_collapsed(t: Trace, *, level: str, rankdir: str, hide_constants: bool,
                   show_grads: bool, max_nodes: int, title: Optional[str] = None) -> graphviz.Digraph:
    """Draw ``t`` with each neuron (``level="neuron"``) or layer collapsed into one node."""
    shown = [n for n in t.nodes if not (hide_constants and n.role == "constant")]
    keys, level, merge = _assign(t, shown, level, max_nodes)
    units: Dict[Hashable, _Unit] = {}
    for n in shown:
        key = keys[n.id]
        unit = units.get(key)
        if unit is None:
            if key[0] == "group":
                title = key[1]
            elif key[0] == "node":
                title = n.label or n.op or n.role
            else:
                title = f"{n.op or n.role}"
            unit = units[key] = _Unit(f"u{len(units)}", key[0], title)
        unit.members.append(n)

    links: Dict[Tuple[Hashable, Hashable], List[float]] = {}
    for e in t.edges:
        if e.source not in keys:
            continue
        pair = (keys[e.source], keys[e.target])
        if pair[0] == pair[1]:
            continue
        link = links.setdefault(pair, [0, 0.0])
        link[0] += 1
        link[1] += e.contribution

    has_grads = t.has_grads
    grad_scale = max_abs([u.members[0].grad for u in units.values() if u.kind == "node"]
                         + [link[1] for link in links.values()])
    sum_scale = max_abs([sum(abs(m.grad) for m in u.members) for u in units.values()])

    g = Picture(name="computation_graph_grouped")
    g.attr(rankdir=rankdir, fontname="DejaVu Sans", nodesep="0.2", ranksep="0.5")
    g.attr("node", fontname="DejaVu Sans", fontsize="10", shape="plain")
    g.attr("edge", fontname="DejaVu Sans", arrowsize="0.6", color="#555555")
    merged = {"none": "", "op-height": "; repeated ops at the same depth merged",
              "op": "; all nodes with the same op merged"}[merge]
    note = (f"grouped view: each {level} is one node{merged}; "
            f"{len(t.nodes)} values in the full graph")
    if show_grads and not has_grads:
        note += "<BR/>gradients not computed yet: call backward() on the output"
    if title:
        note = f'<FONT POINT-SIZE="13"><B>{escape_html(title)}</B></FONT><BR ALIGN="LEFT"/>' + note
    note = note.replace("<BR/>", '<BR ALIGN="LEFT"/>')
    g.attr(label=f'<<FONT POINT-SIZE="10">{note}<BR ALIGN="LEFT"/></FONT>>', labelloc="t",
           labeljust="l")
    for unit in units.values():
        g.node(unit.name, id=unit.name,
               label=_unit_label(unit, level, has_grads, show_grads, grad_scale, sum_scale))
    for i, ((a, b), (count, total)) in enumerate(links.items()):
        attrs = {"id": f"ue{i}"}
        lines = [f"×{count}"] if count > 1 else []
        if show_grads and has_grads:
            lines.append(f"grad += {format_value(total)}")
            colour = diverging_colour(total, grad_scale)
            attrs["color"] = colour if colour != "#f7f7f7" else "#bbbbbb"
        if lines:
            attrs["label"] = (f'<<FONT FACE="{MONO_FONT}" POINT-SIZE="8">'
                              + "<BR/>".join(lines) + "</FONT>>")
        g.edge(units[a].name, units[b].name, **attrs)
    return g
