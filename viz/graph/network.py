"""``draw_network``: an MLP drawn as neurons and weights, one node per neuron.

Layers are columns (clusters). Each edge is one weight: colour by sign on the
picture's diverging scale, width by magnitude, both normalised over the whole
picture; ``edge_value="grad"`` draws the weights' gradients instead. A neuron's
label shows its bias and, after ``backward()``, the summed ``|grad|`` of its
parameters (which also sets its fill). Many inputs (an MNIST image's 784) collapse
into one input node, with one edge per first-layer neuron sized by the norm of its
weights. Names are stable: inputs ``x0..`` (or ``input``), neurons ``n{layer}_{i}``,
weight edges ``w{layer}_{i}_{j}``.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, List, Optional, Sequence, Tuple

import graphviz

from .dot import (MONO_FONT, Picture, diverging_colour, escape_html, format_value, max_abs,
                  sequential_colour, text_colour)

if TYPE_CHECKING:
    from microgradnn.nn import MLP

__all__ = ["draw_network", "EDGE_VALUES"]

EDGE_VALUES = ("weight", "grad")


def _row(name: str, value: str, fill: str = "") -> str:
    bg = f' BGCOLOR="{fill}"' if fill else ""
    colour = f' COLOR="{text_colour(fill)}"' if fill else ""
    return (f'<TR><TD ALIGN="LEFT"><FONT POINT-SIZE="9">{name}</FONT></TD><TD ALIGN="RIGHT"{bg}>'
            f'<FONT FACE="{MONO_FONT}" POINT-SIZE="9"{colour}>{value}</FONT></TD></TR>')


def _chain(graph: graphviz.Digraph, names: List[str]) -> None:
    for a, b in zip(names, names[1:]):
        graph.edge(a, b, style="invis", tailport="_", headport="_")


def _input_title(nin: int) -> str:
    side = math.isqrt(nin)
    shape = f" ({side}×{side} image)" if side * side == nin else ""
    return f"input: {nin} values{shape}"


def draw_network(mlp: MLP, *, rankdir: str = "LR", edge_value: str = "weight",
                 max_inputs: int = 16, max_edges: int = 4000,
                 title: Optional[str] = None,
                 output_names: Optional[Sequence[str]] = None) -> graphviz.Digraph:
    """Draw ``mlp`` (a ``microgradnn.nn.MLP``) as a ``graphviz.Digraph``.

    Args:
        rankdir: ``"LR"`` (layers left to right) or ``"TB"``.
        edge_value: ``"weight"`` (sign and size of each weight) or ``"grad"`` (its gradient).
        max_inputs: more inputs than this collapse into one input node.
        max_edges: if the layers hold more weights than this, only the ``max_edges``
            largest in magnitude are drawn (the caption says so), keeping renders fast.
        title: a caption shown above the picture (escaped).
        output_names: one name per output neuron, shown in its box (escaped): the
            classes, e.g. ``[str(d) for d in range(10)]`` for an MNIST model.

    Neurons are named as in the lectures, ``a[l][j]`` (layer ``l`` from 1). Without
    stored gradients (all zero, e.g. after training, whose optimizer cleared them) the
    boxes have no grad row and the caption says so; after a ``backward()`` they show
    the summed ``|grad|`` of that last pass.

    Drawn in four parts: the caption (the legend), the input column, one column per
    layer, and the edges.
    """
    output_names = _checked_network(mlp, rankdir, edge_value, max_inputs, max_edges,
                                    output_names)
    layers = mlp.layers
    has_grads = any(p.grad != 0.0 for p in mlp.parameters())
    collapsed = mlp.nin > max_inputs
    edges, total_edges = _network_edges(layers, edge_value, collapsed, max_edges)
    scale = max_abs(e[3] for e in edges if not e[4])
    norm_scale = max_abs(e[3] for e in edges if e[4])
    sums = [[sum(abs(w.grad) for w in n.w) + abs(n.b.grad) for n in layer.neurons]
            for layer in layers]
    sum_scale = max_abs(s for row in sums for s in row)

    g = Picture(name="network")
    g.attr(rankdir=rankdir, fontname="DejaVu Sans", nodesep="0.08", ranksep="1.6",
           splines="line")
    g.attr("node", fontname="DejaVu Sans", fontsize="10", shape="plain")
    # Edges leave a neuron on its far side and enter on its near side, so no line
    # crosses a label; invisible chains (below) keep each column in neuron order.
    tail, head = {"LR": ("e", "w"), "RL": ("w", "e"), "TB": ("s", "n"), "BT": ("n", "s")}[rankdir]
    g.attr("edge", arrowhead="none", tailport=tail, headport=head)
    caption = _network_caption(title, edge_value, scale, mlp.nin if collapsed else 0,
                               len(edges), total_edges, sum_scale if has_grads else None)
    g.attr(label='<<FONT POINT-SIZE="10">' + '<BR ALIGN="LEFT"/>'.join(caption)
           + '<BR ALIGN="LEFT"/></FONT>>', labelloc="t", labeljust="l")
    _input_column(g, mlp.nin, collapsed)
    for li, layer in enumerate(layers):
        names = output_names if li == len(layers) - 1 else None
        _layer_column(g, li, layer, sums[li], sum_scale if has_grads else None, names)
    _network_edge_lines(g, edges, scale, norm_scale)
    return g


def _checked_network(mlp: Any, rankdir: str, edge_value: str, max_inputs: int,
                     max_edges: int, output_names: Optional[Sequence[str]]
                     ) -> Optional[List[str]]:
    """``draw_network``'s arguments checked; the output names as strings."""
    from microgradnn.nn import MLP  # here, not at the top: it brings numpy, and the graph
    # command (which never draws a network) should start without it

    layers = getattr(mlp, "layers", None)
    if not isinstance(mlp, MLP) or not layers:
        raise TypeError(f"draw_network: expected a microgradnn.nn.MLP, got {type(mlp).__name__}")
    if rankdir not in ("LR", "TB", "RL", "BT"):
        raise ValueError(f"rankdir must be one of LR, TB, RL, BT, got {rankdir!r}")
    if edge_value not in EDGE_VALUES:
        raise ValueError(f"edge_value must be one of {', '.join(EDGE_VALUES)}, got {edge_value!r}")
    for name, value in (("max_inputs", max_inputs), ("max_edges", max_edges)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
    if output_names is None:
        return None
    nout = len(layers[-1].neurons)
    names = [str(n) for n in output_names]
    if len(names) != nout:
        raise ValueError(f"output_names: {len(names)} names for {nout} output neurons")
    return names


Edge = Tuple[str, str, str, float, bool]  # (source, target, id, value, is_norm)


def _network_edges(layers: Sequence[Any], edge_value: str, collapsed: bool,
                   max_edges: int) -> Tuple[List[Edge], int]:
    """Every drawn edge, at most ``max_edges`` (the largest), and how many there were."""
    def number(w) -> float:
        return w.grad if edge_value == "grad" else w.data

    edges: List[Edge] = []
    for li, layer in enumerate(layers):
        for ni, neuron in enumerate(layer.neurons):
            target = f"n{li}_{ni}"
            if li == 0 and collapsed:
                norm = math.sqrt(sum(number(w) ** 2 for w in neuron.w))
                edges.append(("input", target, f"w0_{ni}", norm, True))
                continue
            for ki, w in enumerate(neuron.w):
                source = f"x{ki}" if li == 0 else f"n{li - 1}_{ki}"
                edges.append((source, target, f"w{li}_{ni}_{ki}", number(w), False))
    total_edges = len(edges)
    if total_edges > max_edges:
        keep = sorted(range(total_edges), key=lambda i: (-abs(edges[i][3]), i))[:max_edges]
        edges = [edges[i] for i in sorted(keep)]
    return edges, total_edges


def _network_caption(title: Optional[str], edge_value: str, scale: float, collapsed_inputs: int,
                     shown: int, total_edges: int, sum_scale: Optional[float]) -> List[str]:
    """The legend's lines: what the edges' colour and width mean, the neurons' rows."""
    caption = [f'<FONT POINT-SIZE="13"><B>{escape_html(title)}</B></FONT>'] if title else []
    what = "weight" if edge_value == "weight" else "weight gradient"
    symbol = "w" if edge_value == "weight" else "grad"
    caption.append(f"edge colour: {what} sign, purple &lt; 0 &lt; orange; edge width and "
                   f"colour strength: |{symbol}|, full at |{symbol}| = {format_value(scale)}")
    if collapsed_inputs:
        caption.append(f"edges from the input: norm of each neuron's {collapsed_inputs} "
                       f"{what}s (grey, width by norm)")
    if total_edges > shown:
        caption.append(f"showing the {shown} largest of {total_edges} edges")
    caption.append("neuron a[l][j]: its bias b, and the summed |grad| of its weights and bias "
                   "from the last backward() (fill: grey 0 to orange "
                   f"{format_value(sum_scale)})" if sum_scale is not None
                   else "neuron a[l][j]: its bias b; no gradients stored (all zero), so none "
                        "are shown")
    return caption


# Columns are rank=same subgraphs headed by a caption node; invisible edges down each
# column keep neurons in index order (clusters with rank=same lay out badly).

def _input_column(g: Any, nin: int, collapsed: bool) -> None:
    with g.subgraph(name="column_input") as c:
        c.attr(rank="same")
        c.node("input_header", id="input_header", label="<<B>input</B>>")
        column = ["input_header"]
        if collapsed:
            c.node("input", id="input",
                   label=(f'<<TABLE BORDER="1" STYLE="rounded" CELLBORDER="0" CELLPADDING="6">'
                          f"<TR><TD><B>{escape_html(_input_title(nin))}</B></TD></TR>"
                          "</TABLE>>"))
            column.append("input")
        else:
            for ki in range(nin):
                c.node(f"x{ki}", id=f"x{ki}",
                       label=(f'<<TABLE BORDER="1" STYLE="rounded" CELLBORDER="0">'
                              f"<TR><TD>x{ki}</TD></TR></TABLE>>"))
                column.append(f"x{ki}")
        _chain(c, column)


def _layer_column(g: Any, li: int, layer: Any, sums: Sequence[float],
                  sum_scale: Optional[float], output_names: Optional[List[str]]) -> None:
    """Layer ``li``'s neurons ``a[l][j]``: bias, and Σ|grad| when ``sum_scale`` is given."""
    with g.subgraph(name=f"column_layer{li}") as c:
        c.attr(rank="same")
        header = f"layer{li}_header"
        c.node(header, id=header, label=(f"<<B>layer {li + 1}</B> (layers.{li})<BR/>"
                                         f"{len(layer.neurons)} × "
                                         f"{escape_html(layer.activation)}>"))
        column = [header]
        for ni, neuron in enumerate(layer.neurons):
            name = f"a[{li + 1}][{ni}]"
            if output_names is not None:
                name += f' <FONT POINT-SIZE="12">“{escape_html(output_names[ni])}”</FONT>'
            rows = [f'<TR><TD COLSPAN="2"><B>{name}</B></TD></TR>',
                    _row("b", format_value(neuron.b.data))]
            if sum_scale is not None:
                fill = sequential_colour(sums[ni], sum_scale)
                rows.append(_row("Σ|grad|", format_value(sums[ni]), fill))
            c.node(f"n{li}_{ni}", id=f"n{li}_{ni}",
                   label=('<<TABLE BORDER="1" CELLBORDER="0" CELLSPACING="0" CELLPADDING="2">'
                          + "".join(rows) + "</TABLE>>"))
            column.append(f"n{li}_{ni}")
        _chain(c, column)


def _network_edge_lines(g: Any, edges: Sequence[Edge], scale: float, norm_scale: float) -> None:
    """The weights: colour by sign and size, width by size (grey norms from a collapsed input)."""
    for source, target, edge_id, value, is_norm in edges:
        if is_norm:
            colour = "#888888"
            width = 0.5 + 3.0 * (value / norm_scale if norm_scale else 0.0)
        else:
            colour = diverging_colour(value, scale)
            width = 0.3 + 2.7 * (abs(value) / scale if scale else 0.0)
        g.edge(source, target, id=edge_id, color=colour, penwidth=f"{width:.2f}")
