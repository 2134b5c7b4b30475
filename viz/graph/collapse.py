"""The collapsed grouped view: a big graph drawn small enough to render in seconds.

Each neuron (or layer, if neurons are too many) becomes one node. Ungrouped nodes
(inputs, loss, penalty) stay one node each while the picture's nodes plus edges fit
``collapsed_budget(max_layout)``; past that, chains of one op (a long sum) become
one node and other nodes with the same op at the same height (distance from the
leaves) are merged, so a loss over 100 samples shows one ``relu`` node ×100 instead
of 100; past that again, all nodes with the same op are merged. Edges between the same two units are
merged too and say how many they stand for and the gradient they carried in total.

Node names are ``u0, u1, ...`` and edge ids ``ue0, ue1, ...`` in the order units
first appear in the trace, so the DOT text is deterministic.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, Hashable, List, Optional, Set, Tuple

import graphviz

from microgradnn.engine import OPS, WEIGHTED_SUM

from .dot import (MONO_FONT, Picture, diverging_colour, escape_html, format_value, intensity,
                  max_abs, scale_legend, sequential_colour, text_colour)
from .grouping import group_order, groups, layer_of, op_kind
from .trace import NodeRecord, Trace

__all__ = ["draw_collapsed", "collapsed_budget"]

_MAX_EDGE_LABELS = 60


@dataclass
class _Unit:
    name: str
    kind: str  # "group", "node" or "bucket"
    title: str
    members: List[NodeRecord] = field(default_factory=list)


def collapsed_budget(max_layout: int) -> int:
    """Units plus links the collapsed view may have: a quarter of the full picture's
    layout budget (at least 100), as its nodes are big and its edges dense."""
    return max(100, max_layout // 4)


def _heights(t: Trace) -> Dict[str, int]:
    height: Dict[str, int] = {}
    for node in t.nodes:
        height[node.id] = 1 + max((height[o] for o in node.operand_ids), default=-1)
    return height


def _chains(t: Trace, ungrouped: List[NodeRecord]) -> Dict[str, str]:
    """Node id -> id of the first node of its chain, for chains of 2+ same-op nodes
    where each link is used only by the next (like the ``+`` chain of a long sum)."""
    consumers: Dict[str, int] = {}
    for e in t.edges:
        consumers[e.source] = consumers.get(e.source, 0) + 1
    inside = {n.id: n for n in ungrouped if not n.is_leaf}
    head: Dict[str, str] = {}
    for n in ungrouped:  # topological order: an operand's chain head is already known
        if n.is_leaf:
            continue
        for o in dict.fromkeys(n.operand_ids):
            other = inside.get(o)
            if other is not None and other.op == n.op and consumers.get(o) == 1:
                head[n.id] = head.setdefault(o, o)
                break
    return head


def _size(t: Trace, keys: Dict[str, Hashable]) -> int:
    """Units plus distinct links between them: the collapsed picture's layout size."""
    links = set()
    for e in t.edges:
        if e.source in keys:
            pair = (keys[e.source], keys[e.target])
            if pair[0] != pair[1]:
                links.add(pair)
    return len(set(keys.values())) + len(links)


def _assign(t: Trace, shown: List[NodeRecord], level: str,
            budget: int) -> Tuple[Dict[str, Hashable], str, str]:
    """Unit key per node id, the group level used, and how ungrouped nodes were merged:
    the first of neuron/layer x none/op-height/op whose size fits ``budget``."""
    levels = ("neuron", "layer") if level == "neuron" else ("layer",)
    height = _heights(t)
    for level in levels:
        group_of = groups(t, level)
        ungrouped = [n for n in shown if n.id not in group_of]
        chain = _chains(t, ungrouped)
        for merge in ("none", "op-height", "op"):
            keys: Dict[str, Hashable] = {n.id: ("group", group_of[n.id])
                                         for n in shown if n.id in group_of}
            for n in ungrouped:
                if merge == "none":
                    keys[n.id] = ("node", n.id)
                elif merge == "op-height":
                    keys[n.id] = (("chain", chain[n.id]) if n.id in chain
                                  else ("bucket", n.op or n.role, height[n.id]))
                else:
                    keys[n.id] = ("bucket", n.op or n.role)
            if _size(t, keys) <= budget:
                return keys, level, merge
    return keys, level, merge  # the smallest view there is


def _row(name: str, value: str, fill: str = "") -> str:
    bg = f' BGCOLOR="{fill}"' if fill else ""
    colour = f' COLOR="{text_colour(fill)}"' if fill else ""
    return (f'<TR><TD ALIGN="LEFT">{name}</TD><TD ALIGN="RIGHT"{bg}>'
            f'<FONT FACE="{MONO_FONT}"{colour}>{value}</FONT></TD></TR>')


def _added_parameters(t: Trace) -> Set[str]:
    """Parameter leaves that enter their neuron by addition: a bias. Read from the op
    table: the ``b`` slot of a weighted sum, or an operand of ``+`` (the unfused chain)."""
    added: Set[str] = set()
    for e in t.edges:
        if t.by_id[e.source].role != "parameter":
            continue
        target = t.by_id[e.target]
        kind = op_kind(target.op)
        if kind == "add":
            added.add(e.source)
        elif kind == "weighted_sum":
            if OPS[WEIGHTED_SUM].operand_names(len(target.operand_ids))[e.slot] == "b":
                added.add(e.source)
    return added


def _unit_label(unit: _Unit, level: str, has_grads: bool, show_grads: bool,
                grad_scale: float, sum_scale: float, biases: Set[str]) -> str:
    rows = [f'<TR><TD COLSPAN="2"><B>{escape_html(unit.title)}</B></TD></TR>']
    grads = show_grads and has_grads
    if unit.kind == "node":
        node = unit.members[0]
        rows.append(_row("data", format_value(node.data)))
        if show_grads:
            fill = diverging_colour(node.grad, grad_scale) if has_grads else ""
            rows.append(_row("grad", format_value(node.grad) if has_grads else "not computed yet",
                             fill))
        return ('<<TABLE BORDER="1" CELLBORDER="0" CELLSPACING="0" CELLPADDING="3">'
                + "".join(rows) + "</TABLE>>")
    if unit.kind == "group":
        rows.append(_row(level, f"{len(unit.members)} values"))
        bias = [m for m in unit.members if m.id in biases]
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
    spacing = "3" if unit.kind == "group" else "0"  # keeps text off the rounded corners
    return (f'<<TABLE BORDER="{border}"{style} CELLBORDER="0" CELLSPACING="{spacing}" '
            f'CELLPADDING="3">'
            + "".join(rows) + "</TABLE>>")


def draw_collapsed(t: Trace, *, level: str, rankdir: str, hide_constants: bool,
                   show_grads: bool, max_layout: int,
                   title: Optional[str] = None) -> graphviz.Digraph:
    """Draw ``t`` with each neuron (``level="neuron"``) or layer collapsed into one node.

    Built in parts: the units (boxes) and links between them, the colour scales, the
    caption (the legend), the boxes in layer columns, and the links."""
    shown = [n for n in t.nodes if not (hide_constants and n.role == "constant")]
    keys, level, merge = _assign(t, shown, level, collapsed_budget(max_layout))
    units = _units(shown, keys)
    links = _links(t, keys)
    grad_scale, sum_scale = _scales(t, units, links, keys)

    g = Picture(name="computation_graph_grouped")
    g.attr(rankdir=rankdir, fontname="DejaVu Sans", nodesep="0.2", ranksep="0.5")
    g.attr("node", fontname="DejaVu Sans", fontsize="10", shape="plain")
    g.attr("edge", fontname="DejaVu Sans", arrowsize="0.6", color="#555555")
    note = _collapsed_caption(t, level, merge, show_grads, grad_scale, sum_scale, title)
    g.attr(label=f'<<FONT POINT-SIZE="10">{note}<BR ALIGN="LEFT"/></FONT>>', labelloc="t",
           labeljust="l")
    label = functools.partial(_unit_label, level=level, has_grads=t.has_grads,
                              show_grads=show_grads, grad_scale=grad_scale,
                              sum_scale=sum_scale, biases=_added_parameters(t))
    _draw_units(g, t, units, level, label)
    _draw_links(g, units, links, show_grads and t.has_grads, grad_scale)
    return g


def _units(shown: List[NodeRecord], keys: Dict[str, Hashable]) -> Dict[Hashable, _Unit]:
    """One box per key: a neuron or layer group, a lone node, a chain or an op bucket."""
    units: Dict[Hashable, _Unit] = {}
    for n in shown:
        key = keys[n.id]
        unit = units.get(key)
        if unit is None:
            if key[0] == "group":
                name = key[1]
            elif key[0] == "node":
                name = n.label or n.op or n.role
            elif key[0] == "chain":
                name = f"{n.op} chain"
            else:
                name = f"{n.op or n.role}"
            kind = "bucket" if key[0] == "chain" else key[0]
            unit = units[key] = _Unit(f"u{len(units)}", kind, name)
        unit.members.append(n)
    return units


def _links(t: Trace, keys: Dict[str, Hashable]) -> Dict[Tuple[Hashable, Hashable], List[float]]:
    """(from unit, to unit) -> [edges merged, their summed gradient contribution]."""
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
    return links


def _scales(t: Trace, units: Dict[Hashable, _Unit],
            links: Dict[Tuple[Hashable, Hashable], List[float]],
            keys: Dict[str, Hashable]) -> Tuple[float, float]:
    """(the grad colour scale, the Σ|grad| scale). Constants' gradients mean little to a
    reader and can dwarf everything else, so the scale is set by the other units
    (constants are clipped to it); the output's own seed gradient (1) is left out too."""
    constant = {key for key, u in units.items() if all(m.role == "constant" for m in u.members)}
    root_key = keys.get(t.root)
    grad_scale = max_abs([u.members[0].grad for k, u in units.items()
                          if u.kind == "node" and k not in constant and k != root_key]
                         + [link[1] for pair, link in links.items() if pair[0] not in constant])
    grad_scale = grad_scale or max_abs([t.by_id[t.root].grad])
    sum_scale = max_abs([sum(abs(m.grad) for m in u.members) for k, u in units.items()
                         if k not in constant])
    return grad_scale, sum_scale


def _collapsed_caption(t: Trace, level: str, merge: str, show_grads: bool, grad_scale: float,
                       sum_scale: float, title: Optional[str]) -> str:
    """The legend: what a box is, what was merged, what the colours and arrows mean."""
    merged = {"none": "", "op-height": "; chains and repeated ops at the same depth merged",
              "op": "; all nodes with the same op merged"}[merge]
    if t.modules is not None:
        note = f"grouped view: each {level} is one node{merged}; "
    else:  # no model given: nothing to group by, only merges
        note = f"collapsed view{merged or ': nothing merged'}; "
    note += f"{len(t.nodes)} values in the full graph"
    if show_grads and not t.has_grads:
        note += "<BR/>gradients not computed yet: call backward() on the output"
    elif show_grads:
        note += "<BR/>" + scale_legend(grad_scale)
        note += ("<BR/>arrows: the gradient passed between two boxes (×n: n edges merged, "
                 "grad += their sum), coloured like a grad")
        note += (f"<BR/>Σ|grad|: the summed |grad| of a box's parameters (grey 0 to orange "
                 f"{format_value(sum_scale)})")
    if title:
        note = f'<FONT POINT-SIZE="13"><B>{escape_html(title)}</B></FONT><BR ALIGN="LEFT"/>' + note
    return note.replace("<BR/>", '<BR ALIGN="LEFT"/>')


def _draw_units(g: Any, t: Trace, units: Dict[Hashable, _Unit], level: str,
                label: Callable[[_Unit], str]) -> None:
    """The boxes: groups in one column per layer, neurons in index order (kept by an
    invisible chain); the other boxes where the layout puts them."""
    columns: Dict[str, List[_Unit]] = {}
    for unit in units.values():
        if unit.kind == "group":
            columns.setdefault(layer_of(t, unit.title) if level == "neuron" else "", []).append(unit)
            continue
        g.node(unit.name, id=unit.name, label=label(unit))
    for i, column in enumerate(columns.values()):
        column.sort(key=lambda u: group_order(t, u.title))
        with g.subgraph(name=f"column_{i}") as c:
            c.attr(rank="same")
            for unit in column:
                c.node(unit.name, id=unit.name, label=label(unit))
            for a, b in zip(column, column[1:]):
                c.edge(a.name, b.name, style="invis")


def _draw_links(g: Any, units: Dict[Hashable, _Unit],
                links: Dict[Tuple[Hashable, Hashable], List[float]], show_grads: bool,
                grad_scale: float) -> None:
    """The arrows: ×n merged edges and the gradient they pass (labels, or hover text when
    labels would bury a dense picture)."""
    for i, ((a, b), (count, total)) in enumerate(links.items()):
        attrs = {"id": f"ue{i}"}
        lines = [f"×{count}"] if count > 1 else []
        if show_grads:
            lines.append(f"grad += {format_value(total)}")
            colour = diverging_colour(total, grad_scale)
            attrs["color"] = colour if colour != "#f7f7f7" else "#bbbbbb"
        if lines and len(links) <= _MAX_EDGE_LABELS:
            attrs["label"] = (f'<<FONT FACE="{MONO_FONT}" POINT-SIZE="8">'
                              + "<BR/>".join(lines) + "</FONT>>")
        elif lines:
            attrs["tooltip"] = ", ".join(lines)
            attrs["penwidth"] = f"{0.5 + 2.5 * intensity(total, grad_scale):.2f}"
        g.edge(units[a].name, units[b].name, **attrs)
