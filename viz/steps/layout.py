"""The stepper's one layout: ``draw_graph``'s DOT, rendered once, read by id.

``graph_source`` draws the graph as it looks after one fresh ``backward()``, so
every cell and edge label is already sized for its final number; the user's
gradients are put back afterwards. ``graph_svg`` renders it with ``dot`` once and
marks the elements the page restyles (``class="mg-grad"`` etc.); ``layout`` reads
node positions and edge splines from ``dot -Tjson`` for the matplotlib frames.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Dict, Iterator, List, Optional, Tuple

import graphviz

from microgradnn.autodiff import topological_order
from microgradnn.engine import Value

from ..graph.layout_cost import layout_cost
from ..graph.trace import Parameters, trace

__all__ = ["graph_source", "graph_svg", "mark_svg", "layout", "Layout", "DEFAULT_MAX_NODES",
           "DEFAULT_MAX_LAYOUT", "fresh_gradients"]

# The stepper lays out every node; past this many DOT nodes dot gets slow and the
# page unreadable, so we refuse with a clear message instead.
DEFAULT_MAX_NODES = 3000
# The same estimate draw_graph uses (``layout_cost``), with twice its limit: the stepper
# cannot fall back to a grouped view, and a dense 2-40-40-1 sample (about 5,900) must step.
DEFAULT_MAX_LAYOUT = 10_000

_SVG_NS = "http://www.w3.org/2000/svg"
_XLINK_NS = "http://www.w3.org/1999/xlink"
ET.register_namespace("", _SVG_NS)
ET.register_namespace("xlink", _XLINK_NS)


@contextmanager
def fresh_gradients(root: Value) -> Iterator[List[Value]]:
    """Inside the block, every node holds the gradients of one fresh ``root.backward()``.

    On leaving, each node's gradient is put back as it was, so the caller's graph
    (leaves that accumulate across calls included) is left exactly as found.
    """
    nodes = topological_order(root)
    saved = [v.grad for v in nodes]
    try:
        for v in nodes:
            v.grad = 0.0
        root.backward()
        yield nodes
    finally:
        for v, g in zip(nodes, saved):
            v.grad = g


def graph_source(root: Value, rankdir: str = "LR", parameters: Parameters = None,
                 hide_constants: bool = False, max_nodes: int = DEFAULT_MAX_NODES,
                 max_layout: int = DEFAULT_MAX_LAYOUT) -> graphviz.Digraph:
    """``draw_graph`` of ``root`` with its final gradients: the stepper's single layout.

    Refused (``ValueError``) past ``max_nodes`` DOT nodes or past ``max_layout`` by
    ``layout_cost`` (dense or long edges), the check ``draw_graph`` makes before it
    sends a picture to ``dot``: the stepper needs every node, so it cannot fall back
    to the grouped view."""
    from ..graph.graph import draw_graph  # the picture module; imported when a stepper is made

    nodes = topological_order(root)
    dot_nodes = len(nodes) + sum(1 for v in nodes if v.operands)
    if dot_nodes > max_nodes:
        raise ValueError(
            f"the graph has {dot_nodes} DOT nodes, more than max_nodes={max_nodes}: too many to "
            f"step through one at a time; use a smaller expression, or pass parameters=model "
            f"for one sample of a network to step it one neuron at a time (or raise max_nodes)")
    traced = trace(root, parameters)
    visible = [n for n in traced.nodes if not (hide_constants and n.role == "constant")]
    cost = layout_cost(visible, traced.edges)
    if cost > max_layout:
        raise ValueError(
            f"the graph has {dot_nodes} DOT nodes but a layout size of {cost} (edges are dense "
            f"or long), more than max_layout={max_layout}: graphviz would take too long to lay "
            f"it out; use a smaller expression (or raise max_layout)")
    with fresh_gradients(root):
        return draw_graph(root, rankdir=rankdir, parameters=parameters,
                          hide_constants=hide_constants, show_grads=True, max_nodes=max_nodes + 1,
                          max_layout=10**9)  # the stepper needs every node, never the grouped view


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _add_class(element: ET.Element, name: str) -> None:
    classes = element.get("class", "").split()
    if name not in classes:
        element.set("class", " ".join(classes + [name]))


def mark_svg(svg_text: str, tags: Optional[Dict[str, str]] = None) -> str:
    """Tag what the page restyles and return the bare ``<svg>`` element as text.

    In each value node ``g#vN``: the number after the word ``data`` gets ``mg-data``,
    the number after ``grad`` gets ``mg-grad`` (its coloured cell ``mg-grad-bg``),
    unfilled outlines get ``mg-outline``. In each edge: ``local ...`` gets
    ``mg-local`` and ``grad += ...`` gets ``mg-contrib``. Each of those texts keeps
    its words in ``data-prefix``. ``tags`` (node id -> name) adds a small grey name
    above those nodes' boxes, so captions that say ``v7`` can be matched to the
    picture. The XML prolog, doctype and comments are dropped.
    """
    root = ET.fromstring(svg_text)
    tags = tags or {}
    for group in root.iter(f"{{{_SVG_NS}}}g"):
        classes = group.get("class", "").split()
        children = list(group)
        if "node" in classes:
            _mark_node(children)
            if group.get("id") in tags:
                _add_tag(group, children, tags[group.get("id")])
        elif "edge" in classes:
            for child in children:
                text = child.text or ""
                if _local(child.tag) != "text":
                    continue
                for prefix, name in (("local ", "mg-local"), ("grad += ", "mg-contrib")):
                    if text.startswith(prefix):
                        _add_class(child, name)
                        child.set("data-prefix", prefix)
    # The page sizes the picture itself; the viewBox keeps its proportions.
    for attribute in ("width", "height"):
        root.attrib.pop(attribute, None)
    return ET.tostring(root, encoding="unicode")


def _mark_node(children: List[ET.Element]) -> None:
    texts = [(i, c) for i, c in enumerate(children) if _local(c.tag) == "text"]
    for (_, word), (index, number) in zip(texts, texts[1:]):
        kind = {"data": "mg-data", "grad": "mg-grad"}.get((word.text or "").strip())
        if kind is None:
            continue
        _add_class(number, kind)
        number.set("data-prefix", "")
        if kind == "mg-grad":
            before = children[index - 1]
            if _local(before.tag) == "polygon" and before.get("fill") not in (None, "none"):
                _add_class(before, "mg-grad-bg")
    for child in children:
        tag = _local(child.tag)
        if tag == "ellipse" or (tag in ("polygon", "path") and child.get("fill") == "none"):
            _add_class(child, "mg-outline")


def _add_tag(group: ET.Element, children: List[ET.Element], name: str) -> None:
    """A small text just above the top-left corner of the node's outline."""
    numbers: List[float] = []
    for child in children:
        if "mg-outline" in child.get("class", "").split():
            numbers += [float(v) for v in re.findall(r"-?\d+(?:\.\d+)?", child.get("points", "")
                                                     + " " + child.get("d", ""))]
    if len(numbers) < 2:
        return
    xs, ys = numbers[0::2], numbers[1::2]
    tag = ET.SubElement(group, f"{{{_SVG_NS}}}text", {
        "class": "mg-tag", "x": f"{min(xs):.2f}", "y": f"{min(ys) - 2:.2f}", "font-size": "8.00",
        "font-family": "DejaVu Sans Mono,monospace", "fill": "#777777"})
    tag.text = name


def graph_svg(root: Value, rankdir: str = "LR", parameters: Parameters = None,
              hide_constants: bool = False, max_nodes: int = DEFAULT_MAX_NODES,
              tags: Optional[Dict[str, str]] = None) -> str:
    """Render the stepper's graph to SVG once (``dot -Tsvg``) and mark it (``mark_svg``)."""
    graph = graph_source(root, rankdir, parameters, hide_constants, max_nodes)
    return mark_svg(graph.pipe(format="svg").decode("utf-8"), tags)


@dataclass(frozen=True)
class Layout:
    """Positions from one ``dot`` run, in points, y growing upwards.

    ``nodes``: DOT name -> (x, y, width, height) of the node's box;
    ``edges``: edge id -> list of spline points (cubic Bézier control points, then
    the arrow tip); ``edge_labels``: edge id -> centre of its label.
    """

    width: float
    height: float
    nodes: Dict[str, Tuple[float, float, float, float]]
    edges: Dict[str, List[Tuple[float, float]]]
    edge_labels: Dict[str, Tuple[float, float]]


def layout(graph: graphviz.Digraph) -> Layout:
    """Lay ``graph`` out once with ``dot -Tjson`` and keep the geometry."""
    data = json.loads(graph.pipe(format="json").decode("utf-8"))
    x0, y0, x1, y1 = (float(v) for v in data["bb"].split(","))
    nodes: Dict[str, Tuple[float, float, float, float]] = {}
    names: Dict[int, str] = {}
    for obj in data.get("objects", []):
        if "pos" not in obj or "nodes" in obj:  # clusters have bb, not pos
            continue
        x, y = (float(v) for v in obj["pos"].split(","))
        nodes[obj["name"]] = (x, y, float(obj["width"]) * 72.0, float(obj["height"]) * 72.0)
        names[obj["_gvid"]] = obj["name"]
    edges: Dict[str, List[Tuple[float, float]]] = {}
    labels: Dict[str, Tuple[float, float]] = {}
    for edge in data.get("edges", []):
        edge_id = edge.get("id") or f"{names.get(edge['tail'])}->{names.get(edge['head'])}"
        edges[edge_id] = _spline_points(edge.get("pos", ""))
        if "lp" in edge:
            lx, ly = (float(v) for v in edge["lp"].split(","))
            labels[edge_id] = (lx, ly)
    return Layout(x1 - x0, y1 - y0, nodes, edges, labels)


def _spline_points(pos: str) -> List[Tuple[float, float]]:
    """DOT's ``pos`` of an edge: optional ``s,x,y``/``e,x,y`` ends, then Bézier points.

    The arrow tip (``e,x,y``) is appended last so the drawn line reaches it.
    """
    points: List[Tuple[float, float]] = []
    end: Optional[Tuple[float, float]] = None
    for item in pos.split():
        parts = item.split(",")
        if parts[0] == "e":
            end = (float(parts[1]), float(parts[2]))
        elif parts[0] == "s":
            continue
        else:
            points.append((float(parts[0]), float(parts[1])))
    if end is not None:
        points.append(end)
    return points
