"""``draw_graph``: a scalar computation graph as DOT, showing how gradients flow.

One node per ``Value`` (an HTML table: label, data, grad) and one node per op.
Every operand slot is its own edge, so ``a * a`` shows two edges into ``*``. After
``backward()`` each edge says the local derivative and the contribution
(``local × upstream grad``) it added to its operand's grad.

DOT names and SVG ids are stable, for the stepper that restyles the SVG:
value node ``v3`` (the trace id), its op node ``v3_op``, the edge from an operand
into an op node ``e5`` (the ``EdgeRecord`` id), the edge from op node to result
``v3_out``. The same graph always gives byte-identical DOT.
"""

from __future__ import annotations

import warnings
from typing import Dict, List, Optional

import graphviz

from microgradnn.engine import Value

from .collapse import draw_collapsed
from .dot import (MONO_FONT, Picture, diverging_colour, escape_html, format_value, max_abs,
                  scale_legend, text_colour)
from .grouping import GROUP_LEVELS, group_order, groups, layer_of
from .notation import group_title, lecture_names
from .layout_cost import DEFAULT_MAX_LAYOUT, layout_cost
from .trace import EdgeRecord, NodeRecord, Parameters, Trace, trace

__all__ = ["draw_graph", "LargeGraphWarning", "RANKDIRS", "DEFAULT_MAX_NODES",
           "DEFAULT_MAX_LAYOUT", "graph_legend", "grad_scale"]

RANKDIRS = ("LR", "TB", "RL", "BT")
DEFAULT_MAX_NODES = 3000
EDGE_LABEL_LAYOUT = 1500

# Roles are told apart by border and header, not by colour alone.
_ROLE_STYLE = {
    # role: (table attributes, header background, header word)
    "input": ('BORDER="1" STYLE="rounded"', "#e4e4e4", "input"),
    "leaf": ('BORDER="1" STYLE="rounded"', "#e4e4e4", ""),  # nothing known: no word
    "parameter": ('BORDER="3"', "#fff2cc", "parameter"),
    "constant": ('BORDER="1" STYLE="dashed"', "#ffffff", "constant"),
    "intermediate": ('BORDER="1"', "#ffffff", ""),
    "output": ('BORDER="3" STYLE="rounded"', "#d9d9d9", "output"),
}
_NOT_YET = "not computed yet"


class LargeGraphWarning(UserWarning):
    """``draw_graph`` switched to the collapsed grouped view because the graph is big."""


def _cell(text: str, *, bgcolor: Optional[str] = None, mono: bool = False,
          align: str = "LEFT", colour: Optional[str] = None, italic: bool = False) -> str:
    attrs = f' ALIGN="{align}"' + (f' BGCOLOR="{bgcolor}"' if bgcolor else "")
    font = f'<FONT FACE="{MONO_FONT}"' if mono else "<FONT"
    font += f' COLOR="{colour}">' if colour else ">"
    body = f"<I>{text}</I>" if italic else text
    return f"<TD{attrs}>{font}{body}</FONT></TD>"


def _value_label(node: NodeRecord, show_grads: bool, has_grads: bool, scale: float,
                 name: Optional[str] = None) -> str:
    """``name``: the node's name in the lectures (``w[1][0,2]``), shown instead of its label."""
    table_attrs, header_bg, word = _ROLE_STYLE[node.role]
    rows: List[str] = []
    name = name or node.label
    header = f"<B>{escape_html(name)}</B>" if name else ""
    if word:
        small = f'<FONT POINT-SIZE="9">{word}</FONT>'
        header = f"{header} {small}" if header else small
    if header:
        rows.append(f'<TR><TD COLSPAN="2" BGCOLOR="{header_bg}">{header}</TD></TR>')
    rows.append("<TR>" + _cell("data") + _cell(format_value(node.data), mono=True, align="RIGHT")
                + "</TR>")
    if show_grads:
        if has_grads:
            fill = diverging_colour(node.grad, scale)
            rows.append("<TR>" + _cell("grad") + _cell(format_value(node.grad), mono=True,
                                                       align="RIGHT", bgcolor=fill,
                                                       colour=text_colour(fill)) + "</TR>")
        else:
            rows.append("<TR>" + _cell("grad") + _cell(_NOT_YET, align="RIGHT", colour="#666666",
                                                       italic=True) + "</TR>")
    return (f'<<TABLE {table_attrs} CELLBORDER="0" CELLSPACING="0" CELLPADDING="3">'
            + "".join(rows) + "</TABLE>>")


def _edge_attrs(edge: EdgeRecord, show_grads: bool, has_grads: bool,
                scale: float, label_key: str) -> Dict[str, str]:
    lines = [f"local {format_value(edge.local_grad)}"]
    attrs = {"id": edge.id, "color": "#555555"}
    if show_grads and has_grads:
        lines.append(f"grad += {format_value(edge.contribution)}")
        colour = diverging_colour(edge.contribution, scale)
        attrs["color"] = colour if colour != "#f7f7f7" else "#bbbbbb"
        width = 1.0 + 2.0 * min(1.0, abs(edge.contribution) / scale) if scale else 1.0
        attrs["penwidth"] = f"{width:.2f}"
    attrs[label_key] = (f'<<FONT FACE="{MONO_FONT}" POINT-SIZE="9">'
                      + "<BR/>".join(lines) + "</FONT>>")
    return attrs


def grad_scale(t: Trace, nodes: List[NodeRecord], edges: List[EdgeRecord]) -> float:
    """The ``|grad|`` that gets full colour: the largest drawn, leaving out the output's own
    seed gradient (1), which would otherwise wash out every other colour (0 before backward)."""
    if not t.has_grads:
        return 0.0
    scale = max_abs([n.grad for n in nodes if n.id != t.root] + [e.contribution for e in edges])
    return scale or max_abs([t.by_id[t.root].grad])


def graph_legend(has_grads: bool, show_grads: bool, scale: float, hidden_constants: int = 0,
                 title: Optional[str] = None) -> str:
    """The caption of a picture: its title, what the colours mean, or that grads are not
    computed yet (an HTML-like label; ``title`` is escaped here)."""
    parts = [f'<FONT POINT-SIZE="13"><B>{escape_html(title)}</B></FONT>'] if title else []
    if show_grads:
        if has_grads:
            parts.append(scale_legend(scale))
            parts.append("edges: local derivative, and what it added to the operand's grad; "
                         "edge colour that addition, edge width its size")
        else:
            parts.append("gradients not computed yet: call backward() on the output")
            parts.append("edges: local derivative of the op with respect to that operand")
    if hidden_constants:
        parts.append(f"{hidden_constants} constant{'s' if hidden_constants != 1 else ''} hidden")
    if not parts:
        return ""
    br = '<BR ALIGN="LEFT"/>'
    return '<<FONT POINT-SIZE="10">' + br.join(parts).replace("<BR/>", br) + br + "</FONT>>"


def _cluster(name: str, key: str) -> graphviz.Digraph:
    cluster = graphviz.Digraph(name=name)
    cluster.attr(label=f"<<B>{escape_html(key)}</B>>", style="rounded,dashed",
                 color="#888888", fontsize="10", labeljust="l")
    return cluster


def _check_options(rankdir: str, group: Optional[str], max_nodes: int, max_layout: int) -> None:
    if rankdir not in RANKDIRS:
        raise ValueError(f"rankdir must be one of {', '.join(RANKDIRS)}, got {rankdir!r}")
    if group is not None and group not in GROUP_LEVELS:
        raise ValueError(f"group must be one of {', '.join(GROUP_LEVELS)} or None, got {group!r}")
    for name, value in (("max_nodes", max_nodes), ("max_layout", max_layout)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")


def draw_graph(root: Value, *, rankdir: str = "LR", hide_constants: bool = False,
               group: Optional[str] = None, parameters: Parameters = None,
               show_grads: bool = True, collapse: bool = False,
               max_nodes: int = DEFAULT_MAX_NODES, max_layout: int = DEFAULT_MAX_LAYOUT,
               title: Optional[str] = None) -> graphviz.Digraph:
    """Draw the graph under ``root`` as a ``graphviz.Digraph`` (render it, or read ``.source``).

    Args:
        root: the output ``Value``; the picture shows everything it depends on.
        rankdir: ``"LR"`` (left to right) or ``"TB"`` (top to bottom); also RL, BT.
        hide_constants: leave out unlabelled leaves (like the ``1`` in ``x + 1``).
        group: ``"neuron"`` or ``"layer"``: put each neuron's or layer's nodes in a cluster
            (needs the model as ``parameters``).
        parameters: the model (a ``Module``: its parameters are marked, and its module
            tree gives the neurons and layers) or the parameter Values to mark. Default
            ``None``: nothing is known, so every labelled leaf is drawn alike.
        show_grads: show gradients (after ``backward()``) or leave them out entirely.
        collapse: draw each group as one node (the view used for big graphs).
        max_nodes: past this many DOT nodes the collapsed grouped view is drawn
            instead, with a ``LargeGraphWarning``, so that rendering stays fast.
        max_layout: the same switch for graphs with fewer but dense or long edges, by
            the estimate of ``layout_cost`` (nodes + edges + ranks spanned).
        title: a caption shown above the picture (escaped), e.g. the expression text.
    """
    _check_options(rankdir, group, max_nodes, max_layout)
    t = trace(root, parameters)
    if group is not None and t.modules is None:
        raise ValueError(f"group={group!r} needs the model to know its neurons and layers: "
                         f"pass parameters=model (a Module)")
    visible = [n for n in t.nodes if not (hide_constants and n.role == "constant")]
    cost = layout_cost(visible, t.edges)
    if not collapse:
        dot_nodes = len(visible) + sum(1 for n in t.nodes if not n.is_leaf)
        reason = ""
        if dot_nodes > max_nodes:
            reason = f"{dot_nodes} DOT nodes, more than max_nodes={max_nodes}"
        elif cost > max_layout:
            reason = (f"{dot_nodes} DOT nodes but a layout size of {cost} (edges are dense "
                      f"or long), more than max_layout={max_layout}")
        if reason:
            how = (f"each {group or 'neuron'} collapsed into one node, repeated ungrouped ops "
                   f"merged if needed" if t.modules is not None else
                   "repeated ops merged; pass parameters=model to see one node per neuron")
            warnings.warn(
                f"draw_graph: the graph has {reason}; drawing the grouped view instead "
                f"({how}) so it renders in seconds; pass larger limits to force "
                f"the full picture", LargeGraphWarning, stacklevel=2)
            collapse = True
    if collapse:
        return draw_collapsed(t, level=group or "neuron", rankdir=rankdir,
                              hide_constants=hide_constants, show_grads=show_grads,
                              max_layout=max_layout, title=title)
    # Edge labels become extra nodes and ranks in dot's layout; past a moderate size
    # they are placed after the layout instead (xlabel), which keeps renders short.
    return _draw_full(t, visible, rankdir=rankdir, group=group, show_grads=show_grads,
                      hidden_constants=len(t.nodes) - len(visible), title=title,
                      label_key="label" if cost <= EDGE_LABEL_LAYOUT else "xlabel")


def _draw_full(t: Trace, visible: List[NodeRecord], *, rankdir: str, group: Optional[str],
               show_grads: bool, hidden_constants: int, title: Optional[str],
               label_key: str) -> graphviz.Digraph:
    shown = {n.id for n in visible}
    edges = [e for e in t.edges if e.source in shown]
    scale = grad_scale(t, visible, edges)
    g = Picture(name="computation_graph")
    # nslimit caps dot's network-simplex passes: without it, graphs with long edges
    # (a reused input, a penalty over all parameters) spend minutes placing nodes.
    g.attr(rankdir=rankdir, fontname="DejaVu Sans", nodesep="0.25", ranksep="0.4", nslimit="1")
    g.attr("node", fontname="DejaVu Sans", fontsize="11")
    g.attr("edge", fontname="DejaVu Sans", arrowsize="0.7")
    legend = graph_legend(t.has_grads, show_grads, scale, hidden_constants, title)
    if legend:
        g.attr(label=legend, labelloc="t", labeljust="l")

    group_of = groups(t, group) if group else {}
    keys = sorted({group_of[n.id] for n in visible if n.id in group_of},
                  key=lambda key: group_order(t, key))
    clusters = {key: _cluster(f"cluster_{i}", group_title(t, key, group or ""))
                for i, key in enumerate(keys)}
    lecture = lecture_names(t)
    for node in visible:
        target = clusters[group_of[node.id]] if node.id in group_of else g
        name = lecture.get(node.id) if node.is_leaf or not node.label else None
        target.node(node.id, id=node.id, shape="plain",
                    label=_value_label(node, show_grads, t.has_grads, scale, name))
        if not node.is_leaf:
            shape = "circle" if len(node.op) <= 4 else "ellipse"
            target.node(f"{node.id}_op", id=f"{node.id}_op", shape=shape, style="filled",
                        fillcolor="#eeeeee", fontsize="10", width="0.3", margin="0.02",
                        label=f"<{escape_html(node.op)}>")
    if group == "neuron":  # neuron clusters nested in one cluster per layer
        layers: Dict[str, graphviz.Digraph] = {}
        for key in keys:
            layer = layer_of(t, key)
            if layer == key:  # the model is one neuron: no layer around it
                layers[key] = clusters[key]
                continue
            if layer not in layers:
                layers[layer] = _cluster(f"cluster_layer_{len(layers)}",
                                         group_title(t, layer, "layer"))
            layers[layer].subgraph(clusters[key])
        clusters = layers
    for cluster in clusters.values():
        g.subgraph(cluster)
    into: Dict[str, List[EdgeRecord]] = {}
    for edge in edges:
        into.setdefault(edge.target, []).append(edge)
    for node in visible:
        if node.is_leaf:
            continue
        for edge in into.get(node.id, ()):
            g.edge(edge.source, f"{node.id}_op",
                   **_edge_attrs(edge, show_grads, t.has_grads, scale, label_key))
        g.edge(f"{node.id}_op", node.id, id=f"{node.id}_out", color="#555555")
    return g
