"""``draw_architecture``: a CNN's shape at a glance, one node per layer or block.

Each node shows the layer (an activation joins the layer before it), its output shape
(C×H×W, without the batch) and its parameter count; the fill says what kind of layer
it is (see the legend). The two non-sequential blocks are drawn as what they are:

- a residual block (``BasicBlock``) is a box holding F(x) as a column, its shortcut
  (identity, or the 1x1 projection where the shape changes) drawn beside F as a dashed
  edge around it, both meeting at the "+" node; identical consecutive blocks fold into
  one box marked "×n" (``fold=True``);
- an inception module is a box with its four branches side by side, joined at the
  "concat" node, each branch's edge labelled with the channels it adds.

Shapes come from one forward pass of a zero input (in eval mode, without a graph), so
the picture reads what the model does; nothing is re-derived from layer names.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple

import numpy as np

from microgradnn.module import Module
from microgradnn.tensor import (AdaptiveAvgPool2d, AvgPool2d, BasicBlock, BatchNorm1d,
                                BatchNorm2d, Conv2d, Dropout, Flatten, Inception, Linear,
                                LocalResponseNorm, MaxPool2d, ReLU, Sequential, Tensor,
                                no_grad)
from microgradnn.tensor.layers import ACTIVATIONS

from .dot import Picture, escape_html

__all__ = ["draw_architecture", "LAYER_COLOURS"]

# Fill per kind of layer (ColorBrewer Pastel1, readable with black text).
LAYER_COLOURS: Dict[str, Tuple[str, str]] = {
    "conv": ("#b3cde3", "convolution"),
    "pool": ("#ccebc5", "pooling"),
    "norm": ("#fed9a6", "normalization (BatchNorm, LRN)"),
    "fc": ("#fbb4ae", "fully connected (Linear)"),
    "reshape": ("#f2f2f2", "flatten / dropout"),
    "join": ("#ffffff", "join: + (residual) or concat (inception)"),
    "io": ("#decbe4", "input / output"),
}
_ACTIVATIONS = tuple(ACTIVATIONS.values())  # the registry's layers (microgradnn.activations)


@dataclass
class _Layer:
    kind: str
    title: str
    detail: str
    shape: Tuple[int, ...]
    params: int
    acts: List[str] = field(default_factory=list)
    index: Optional[int] = None  # position in the top-level Sequential: the node's SVG id


@dataclass
class _Residual:
    body: List[_Layer]
    shortcut: List[_Layer]
    shape: Tuple[int, ...]
    params: int
    repeat: int = 1
    block: Optional[BasicBlock] = None
    index: Optional[int] = None


@dataclass
class _Inception:
    branches: List[List[_Layer]]
    widths: List[int]
    shape: Tuple[int, ...]
    params: int
    index: Optional[int] = None


def _count(module: Module) -> int:
    return int(sum(np.size(p.data) for p in module.parameters()))


def _pairs(p: Tuple[int, int]) -> str:
    return f"{p[0]}" if p[0] == p[1] else f"{p[0]}×{p[1]}"


def _describe(m: Module) -> Tuple[str, str, str]:
    """(kind, title, detail) of one plain layer."""
    if isinstance(m, Conv2d):
        k = m.kernel_size
        detail = [f"{m.in_channels} → {m.out_channels} channels"]
        if m.stride != (1, 1):
            detail.append(f"stride {_pairs(m.stride)}")
        if m.padding != (0, 0):
            detail.append(f"pad {_pairs(m.padding)}")
        return "conv", f"Conv2d {k[0]}×{k[1]}", ", ".join(detail)
    if isinstance(m, (MaxPool2d, AvgPool2d)):
        name = "AvgPool2d" if isinstance(m, AvgPool2d) else "MaxPool2d"
        k = m.kernel_size
        detail = f"stride {_pairs(m.stride)}"
        if m.stride[0] < k[0]:
            detail += " (overlapping)"
        if m.padding != (0, 0):
            detail += f", pad {_pairs(m.padding)}"
        return "pool", f"{name} {k[0]}×{k[1]}", detail
    if isinstance(m, AdaptiveAvgPool2d):
        global_pool = m.output_size == (1, 1)
        return "pool", "AdaptiveAvgPool2d", ("global average pool" if global_pool
                                             else f"to {_pairs(m.output_size)}")
    if isinstance(m, (BatchNorm1d, BatchNorm2d)):
        return "norm", type(m).__name__, f"{m.num_features} channels"
    if isinstance(m, LocalResponseNorm):
        return ("norm", "LocalResponseNorm",
                f"size {m.size}, α {m.alpha:g}, β {m.beta:g}, k {m.k:g}")
    if isinstance(m, Linear):
        return "fc", "Linear", f"{m.in_features} → {m.out_features}"
    if isinstance(m, Dropout):
        return "reshape", "Dropout", f"p = {m.p:g}"
    if isinstance(m, Flatten):
        return "reshape", "Flatten", ""
    return "reshape", type(m).__name__, ""


def _chain(modules: Sequence[Module], x: Tensor, top: bool = False) -> Tuple[List[Any], Tensor]:
    """Describe ``modules`` applied in order to ``x``; return the items and the output.

    ``top``: ``modules`` are the model's own, and each item keeps the position of its
    first module (the SVG id ``arch_<position>`` of its node or box)."""
    items: List[Any] = []
    for position, m in enumerate(modules):
        count = len(items)
        if isinstance(m, BasicBlock):
            body_mods = [m.conv1, m.bn1, m.relu, m.conv2, m.bn2]
            body, _ = _chain(body_mods, x)
            shortcut, _ = _chain(list(m.downsample), x) if m.downsample is not None else ([], x)
            y = m(x)
            items.append(_Residual(body, shortcut, tuple(y.data.shape[1:]), _count(m), block=m))
        elif isinstance(m, Inception):
            branches = []
            widths = []
            for branch in m.branches():
                layers, out = _chain(list(branch), x)
                branches.append(layers)
                widths.append(out.data.shape[1])
            y = m(x)
            items.append(_Inception(branches, widths, tuple(y.data.shape[1:]), _count(m)))
        elif isinstance(m, Sequential):
            inner, y = _chain(list(m), x)
            items.extend(inner)
        else:
            y = m(x)
            if isinstance(m, _ACTIVATIONS) and items and isinstance(items[-1], _Layer):
                items[-1].acts.append(type(m).__name__)
                items[-1].shape = tuple(y.data.shape[1:])
            elif isinstance(m, _ACTIVATIONS):
                items.append(_Layer("reshape", type(m).__name__, "", tuple(y.data.shape[1:]), 0))
            else:
                kind, title, detail = _describe(m)
                items.append(_Layer(kind, title, detail, tuple(y.data.shape[1:]), _count(m)))
        if top and len(items) > count and items[-1].index is None:
            items[-1].index = position
        x = y
    return items, x


def _same_block(a: _Residual, b: _Residual) -> bool:
    """Two residual blocks that draw the same: same layers, same shapes, identity shortcut."""
    return (not a.shortcut and not b.shortcut and a.shape == b.shape
            and [(l.title, l.detail, l.shape) for l in a.body]
            == [(l.title, l.detail, l.shape) for l in b.body])


def _fold(items: List[Any]) -> List[Any]:
    out: List[Any] = []
    for item in items:
        if isinstance(item, _Residual) and out and isinstance(out[-1], _Residual) \
                and _same_block(out[-1], item):
            out[-1].repeat += 1
            out[-1].params += item.params
        else:
            out.append(item)
    return out


def _shape_text(shape: Tuple[int, ...]) -> str:
    return "×".join(str(s) for s in shape)


def _params_text(n: int) -> str:
    return f"{n:,} params" if n else "no params"


def _label(layer: _Layer, compact: bool = False) -> str:
    title = " + ".join([layer.title] + layer.acts)
    rows = [f"<B>{escape_html(title)}</B>"]
    if layer.detail and not compact:
        rows.append(escape_html(layer.detail))
    elif layer.detail:
        rows.append(f'<FONT POINT-SIZE="8">{escape_html(layer.detail)}</FONT>')
    rows.append(f'<FONT POINT-SIZE="9">→ {_shape_text(layer.shape)} · '
                f"{_params_text(layer.params)}</FONT>")
    fill = LAYER_COLOURS[layer.kind][0]
    cells = "".join(f"<TR><TD>{r}</TD></TR>" for r in rows)
    return (f'<<TABLE BORDER="1" STYLE="rounded" CELLBORDER="0" CELLSPACING="0" '
            f'CELLPADDING="2" BGCOLOR="{fill}">{cells}</TABLE>>')


class _Drawer:
    def __init__(self, graph: Picture) -> None:
        self.g = graph
        self.count = 0

    def new_id(self, prefix: str) -> str:
        self.count += 1
        return f"{prefix}{self.count}"

    def layer(self, g: Any, layer: _Layer, compact: bool = False, group: str = "") -> str:
        node = self.new_id("l")
        extra = {} if layer.index is None else {"id": f"arch_{layer.index}"}
        g.node(node, label=_label(layer, compact), shape="plain", group=group, **extra)
        return node

    def column(self, g: Any, layers: List[_Layer], source: str, compact: bool = False,
               heads: Optional[List[str]] = None, **edge: str) -> str:
        """Draw ``layers`` as a chain hanging from ``source``; ``heads`` collects its first node."""
        group = self.new_id("g")
        for i, layer in enumerate(layers):
            node = self.layer(g, layer, compact, group)
            if i == 0 and heads is not None:
                heads.append(node)
            self.g.edge(source, node, **edge)
            edge = {}
            source = node
        return source

    @contextmanager
    def block(self, title: str, subtitle: str, params: int, source: str,
              index: Optional[int] = None) -> Iterator[Any]:
        """A dashed box for a block; yields (its subgraph, the point where its input enters)."""
        with self.g.subgraph(name=self.new_id("cluster_")) as c:
            if index is not None:
                c.attr(id=f"arch_{index}")
            c.attr(label=f"<<B>{escape_html(title)}</B><BR/>"
                         f'<FONT POINT-SIZE="9">{escape_html(subtitle)} · '
                         f"{_params_text(params)}</FONT>>",
                   style="rounded,dashed", color="#777777", fontsize="10")
            entry = self.new_id("p")
            c.node(entry, label="", shape="point", width="0.06")
            self.g.edge(source, entry, arrowhead="none")
            yield c, entry

    def residual(self, item: _Residual, source: str) -> str:
        folded = f" ×{item.repeat} (identical blocks folded)" if item.repeat > 1 else ""
        with self.block(f"residual block{folded}", "y = ReLU(F(x) + shortcut(x))", item.params,
                        source, item.index) as (c, entry):
            end = self.column(c, item.body, entry, compact=True)
            add = self.new_id("add")
            c.node(add, label=f"<<B>+</B> then ReLU<BR/>"
                              f'<FONT POINT-SIZE="9">→ {_shape_text(item.shape)}</FONT>>',
                   shape="ellipse", style="filled", fillcolor=LAYER_COLOURS["join"][0])
            self.g.edge(end, add, label=" F(x)", fontsize="9")
            if item.shortcut:
                last = self.column(c, item.shortcut, entry, compact=True, style="dashed",
                                   color="#d95f02")
                self.g.edge(last, add, style="dashed", color="#d95f02", penwidth="1.6",
                            label=" 1×1 projection", fontsize="9", fontcolor="#d95f02")
            else:
                self.g.edge(entry, add, style="dashed", color="#d95f02", penwidth="1.6",
                            label=" identity x", fontsize="9", fontcolor="#d95f02")
        return add

    def inception(self, item: _Inception, source: str) -> str:
        with self.block("inception module", "4 parallel branches, joined along the channels",
                        item.params, source, item.index) as (c, entry):
            heads: List[str] = []
            ends = [self.column(c, branch, entry, compact=True, heads=heads)
                    for branch in item.branches]
            with c.subgraph() as row:  # the branches side by side, in order
                row.attr(rank="same")
                for head in heads:
                    row.node(head)
                for left, right in zip(heads, heads[1:]):
                    row.edge(left, right, style="invis")
            join = self.new_id("cat")
            widths = " + ".join(str(w) for w in item.widths)
            c.node(join, label=f"<<B>concat</B> (channels {escape_html(widths)})<BR/>"
                               f'<FONT POINT-SIZE="9">→ {_shape_text(item.shape)}</FONT>>',
                   shape="ellipse", style="filled", fillcolor=LAYER_COLOURS["join"][0])
            for end, width in zip(ends, item.widths):
                self.g.edge(end, join, label=f" {width}", fontsize="9")
        return join


def _legend() -> str:
    rows = ['<TR><TD COLSPAN="2"><B>legend</B></TD></TR>']
    for fill, text in LAYER_COLOURS.values():
        rows.append(f'<TR><TD BGCOLOR="{fill}" BORDER="1" FIXEDSIZE="TRUE" WIDTH="24" '
                    f'HEIGHT="14"></TD>'
                    f'<TD ALIGN="LEFT">{escape_html(text)}</TD></TR>')
    rows.append('<TR><TD><FONT COLOR="#d95f02">- - →</FONT></TD>'
                '<TD ALIGN="LEFT">skip connection (shortcut) of a residual block</TD></TR>')
    rows.append('<TR><TD COLSPAN="2" ALIGN="LEFT"><FONT POINT-SIZE="9">each node: output '
                'shape (channels×height×width, batch left out) · trainable parameters'
                '</FONT></TD></TR>')
    return ('<<TABLE BORDER="1" CELLBORDER="0" CELLSPACING="2" CELLPADDING="2">'
            + "".join(rows) + "</TABLE>>")


def draw_architecture(model: Module, input_shape: Sequence[int] = (1, 1, 28, 28), *,
                      fold: bool = True, title: Optional[str] = None,
                      rankdir: str = "TB") -> Picture:
    """Draw ``model`` (a ``microgradnn.tensor`` module, e.g. a family from
    ``microgradnn.models.build_model``) as a ``graphviz.Digraph`` (see the module docstring).

    Args:
        input_shape: the shape of the zero batch pushed through to find each output shape:
            (N, C, H, W) for a CNN, (N, features) for an MLP.
        fold: draw identical consecutive residual blocks as one box marked "×n".
        title: caption above the picture (escaped); default: the model's description.
        rankdir: "TB" (top to bottom) or "LR".
    """
    if not isinstance(model, Module):
        raise TypeError(f"draw_architecture: expected a microgradnn Module, got "
                        f"{type(model).__name__}")
    shape = tuple(input_shape)
    if len(shape) not in (2, 4) or any(isinstance(s, bool) or not isinstance(s, (int, np.integer))
                                       or not 1 <= s <= 4096 for s in shape) or shape[0] > 8:
        raise ValueError(f"draw_architecture: input_shape must be (N, C, H, W) or (N, features) "
                         f"with N <= 8 and sizes in 1..4096, got {input_shape!r}")
    if rankdir not in ("TB", "LR"):
        raise ValueError(f"draw_architecture: rankdir must be 'TB' or 'LR', got {rankdir!r}")
    params = model.parameters()
    dtype = params[0].data.dtype if params else np.float32
    was_training = model.training
    model.eval()
    try:
        with no_grad():
            modules = list(model) if isinstance(model, Sequential) else [model]
            items, out = _chain(modules, Tensor(np.zeros(shape, dtype=dtype)), top=True)
    finally:
        model.train(was_training)
    if fold:
        items = _fold(items)
    if title is None:
        spec = getattr(model, "spec", None)
        if spec is not None:
            from microgradnn.models import describe
            title = describe(spec)
        else:
            title = type(model).__name__

    g = Picture(name="architecture")
    g.attr(rankdir=rankdir, fontname="DejaVu Sans", nodesep="0.25", ranksep="0.3",
           label=f'<<FONT POINT-SIZE="14"><B>{escape_html(title)}</B></FONT><BR/>'
                 f'<FONT POINT-SIZE="10">{_params_text(_count(model))} in all, input '
                 f'{_shape_text(shape[1:])}</FONT>>', labelloc="t")
    g.attr("node", fontname="DejaVu Sans", fontsize="10")
    g.attr("edge", fontname="DejaVu Sans", arrowsize="0.6")
    g.node("legend", label=_legend(), shape="plain")
    drawer = _Drawer(g)
    source = "input"
    g.node(source, label=f"<<B>input</B><BR/>{_shape_text(shape[1:])}>", shape="box",
           style="rounded,filled", fillcolor=LAYER_COLOURS["io"][0])
    g.edge("legend", source, style="invis")
    for item in items:
        if isinstance(item, _Residual):
            source = drawer.residual(item, source)
        elif isinstance(item, _Inception):
            source = drawer.inception(item, source)
        else:
            node = drawer.layer(g, item)
            g.edge(source, node)
            source = node
    g.node("output", label=f"<<B>output</B><BR/>{_shape_text(tuple(out.data.shape[1:]))} "
                           f"class scores>", shape="box", style="rounded,filled",
           fillcolor=LAYER_COLOURS["io"][0])
    g.edge(source, "output")
    return g
