"""The backprop stepper as one self-contained HTML file.

The graph is laid out once: its DOT (``viz.graph.draw_graph``) goes through the
``dot`` binary to SVG a single time and is embedded inline. The page then only
restyles elements found by id (``v3``, ``v3_op``, ``e5``, ``v3_out``) frame by
frame, so nothing ever moves. All step data travels as JSON escaped for a
``<script>`` element and reaches the page through ``textContent`` only, so user
labels are shown as text, never interpreted as markup. No network, no server:
the file works when opened from ``file://``.
"""

from __future__ import annotations

import html
import json
import math
import re
from typing import Any, Dict, List, Optional, Sequence

from microgradnn.engine import Value
from microgradnn.fileio import write_atomic

from ..graph.dot import format_value
from ..graph.notation import lecture_names
from ..graph.trace import Parameters, Trace, trace
from .assets import PAGE_CSS, PAGE_JS, PAGE_TEMPLATE, PRACTICE_CSS, PRACTICE_JS
from .backprop import Step, last_change, node_names, root_name_of, steps_from_trace
from .layout import DEFAULT_MAX_NODES, graph_svg

__all__ = ["Stepper", "stepper", "save_stepper", "stepper_html", "stepper_data", "script_json"]

_PLACEHOLDER = re.compile(r"(/\*STEPPER_\w+\*/|<!--STEPPER_\w+-->)")

def script_json(data: Any) -> str:
    """JSON that is safe inside ``<script type="application/json">``.

    ``<``, ``>`` and ``&`` are written as ``\\u003c`` etc. so no ``</script>`` or
    ``<!--`` can appear, and U+2028/U+2029 are escaped for old JavaScript parsers.
    """
    text = json.dumps(data, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    for char, escaped in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"),
                          ("\u2028", "\\u2028"), ("\u2029", "\\u2029")):
        text = text.replace(char, escaped)
    return text


def _num(x: float) -> Optional[float]:
    """A float JSON can carry (NaN and infinities become null; the text still shows them)."""
    return x if math.isfinite(x) else None


def stepper_data(tr: Trace, steps: Sequence[Step], title: str = "") -> Dict[str, Any]:
    """Everything the page needs, as plain JSON-able data.

    ``nodes``: id -> name, value text, leaf flag, and ``final``: the index of the
    last step that changes its gradient (-1 if none). ``edges``: id -> source and
    target ids. ``steps``: kind, node id,
    caption text, the edges used and, per operand slot, the numbers of the term.
    """
    names = node_names(tr)
    final_step = last_change(steps)
    nodes = {
        n.id: {"name": names[n.id], "label": n.label, "op": n.op, "leaf": n.is_leaf,
               "data": _num(n.data), "dataText": format_value(n.data),
               "final": final_step.get(n.id, -1)}
        for n in tr.nodes
    }
    out_steps: List[Dict[str, Any]] = []
    for step in steps:
        item: Dict[str, Any] = {"kind": step.kind, "node": step.node_id, "name": step.node_name,
                                "text": step.text, "edges": list(step.edge_ids),
                                "upstreamText": format_value(step.upstream), "terms": []}
        if step.kind == "forward":
            node = tr.by_id[step.node_id]
            item["edges"] = [e.id for e in tr.edges_into(node.id)]
            item["operands"] = list(node.operand_ids)
        elif step.kind == "seed":
            item["gradText"] = format_value(1.0)
        for term in step.terms:
            item["terms"].append({
                "operand": term.operand_id, "operandName": term.operand_name, "edge": term.edge_id,
                "local": format_value(term.local_grad), "localText": term.local_text,
                "contribution": format_value(term.contribution),
                "before": format_value(term.grad_before), "after": format_value(term.grad_after),
                "line": str(term)})
        out_steps.append(item)
    edges = {e.id: {"source": e.source, "target": e.target} for e in tr.edges}
    return {"title": title, "root": tr.root, "nodes": nodes, "edges": edges, "steps": out_steps,
            "hasForward": any(s.kind == "forward" for s in steps)}


LEVELS = ("auto", "node", "neuron")


def stepper_html(root: Value, forward: bool = False, title: Optional[str] = None,
                 rankdir: str = "LR", parameters: Parameters = None,
                 hide_constants: bool = False, max_nodes: int = DEFAULT_MAX_NODES,
                 level: str = "auto", output_names: Optional[Sequence[str]] = None,
                 practice: bool = False) -> str:
    """The stepper page for the graph under ``root``, as a string (see ``save_stepper``)."""
    if not isinstance(root, Value):
        raise TypeError(f"stepper: expected a Value, got {type(root).__name__}")
    if level not in LEVELS:
        raise ValueError(f"level must be one of {', '.join(LEVELS)}, got {level!r}")
    tr = trace(root, parameters)
    if level == "auto":
        dot_nodes = len(tr.nodes) + sum(1 for n in tr.nodes if not n.is_leaf)
        level = "neuron" if dot_nodes > max_nodes and tr.modules is not None and not forward \
            else "node"
    if level == "neuron":
        from .level_page import level_stepper_html  # imports this module: loaded on use

        steps = steps_from_trace(tr)
        return level_stepper_html(tr, steps, title if title is not None else
                                  "Backpropagation, one neuron at a time", rankdir, output_names,
                                  practice)
    steps = steps_from_trace(tr, forward=forward)
    title = title if title is not None else _default_title(practice)
    names = node_names(tr)
    # Unlabelled computed nodes have no name in the picture: show the caption's name.
    lecture = lecture_names(tr)  # drawn in the node itself
    tags = {n.id: names[n.id] for n in tr.nodes
            if not n.label and not n.is_leaf and n.id not in lecture}
    if tr.root in tags:
        tags[tr.root] = root_name_of(tr, lecture)  # what the captions call an unlabelled output
    svg = graph_svg(root, rankdir=rankdir, parameters=parameters,
                    hide_constants=hide_constants, max_nodes=max_nodes, tags=tags)
    data = stepper_data(tr, steps, title)
    if practice:  # the quiz: its data, style and script, which page.js hands its hooks
        from .practice import practice_data

        data["practice"] = practice_data(steps, title)
    values = {"/*STEPPER_CSS*/": PAGE_CSS + (PRACTICE_CSS if practice else ""),
              "<!--STEPPER_TITLE-->": html.escape(title), "<!--STEPPER_SVG-->": svg,
              "/*STEPPER_DATA*/": script_json(data),
              "/*STEPPER_JS*/": (PRACTICE_JS if practice else "") + PAGE_JS}
    return fill_template(values)


def _default_title(practice: bool) -> str:
    return "Backpropagation quiz: you compute each step" if practice \
        else "Backpropagation, step by step"


def fill_template(values: Dict[str, str]) -> str:
    """The page template with each placeholder replaced by ``values[placeholder]``, in one
    pass, so text inserted for one placeholder is never searched again."""
    parts = _PLACEHOLDER.split(PAGE_TEMPLATE)
    return "".join(values[p] if i % 2 else p for i, p in enumerate(parts))


class Stepper:
    """A built stepper page: shows itself inline in Jupyter, saves itself as one HTML file.

    ``html`` is the complete offline page. In a notebook (JupyterLab, classic Notebook,
    VS Code) the object displays as an isolated ``<iframe srcdoc=...>`` holding that page,
    escaped as an attribute value, so its script and styles touch nothing else in the
    notebook and nothing is fetched from a network or server.
    """

    def __init__(self, html_page: str, title: str, height: int = 640) -> None:
        self.html = html_page
        self.title = title
        self.height = int(height)

    def save(self, path: str) -> str:
        """Write the page to ``path`` atomically; return ``path``."""
        write_atomic(path, self.html)
        return path

    def _repr_html_(self) -> str:
        return ('<iframe srcdoc="' + html.escape(self.html, quote=True) + '" '
                f'title="{html.escape(self.title, quote=True)}" '
                f'style="width:100%;height:{self.height}px;border:1px solid #ccc" '
                'sandbox="allow-scripts"></iframe>')

    def __repr__(self) -> str:
        return f"Stepper(title={self.title!r}, {len(self.html)} characters of HTML)"


def stepper(root: Value, forward: bool = False, title: Optional[str] = None,
            rankdir: str = "LR", parameters: Parameters = None,
            hide_constants: bool = False, max_nodes: int = DEFAULT_MAX_NODES,
            height: int = 640, level: str = "auto",
            output_names: Optional[Sequence[str]] = None, practice: bool = False) -> Stepper:
    """The interactive stepper for ``root`` as a ``Stepper`` (see ``save_stepper``).

    In Jupyter, leave it as the last expression of a cell to see it inline; ``.save(path)``
    writes the same page as one HTML file. ``height`` is the inline frame's height in pixels.
    """
    page = stepper_html(root, forward=forward, title=title, rankdir=rankdir, parameters=parameters,
                        hide_constants=hide_constants, max_nodes=max_nodes, level=level,
                        output_names=output_names, practice=practice)
    shown = title if title is not None else _default_title(practice)
    return Stepper(page, shown, height=height)


def save_stepper(root: Value, path: str, forward: bool = False, title: Optional[str] = None,
                 rankdir: str = "LR", parameters: Parameters = None,
                 hide_constants: bool = False, max_nodes: int = DEFAULT_MAX_NODES,
                 level: str = "auto", output_names: Optional[Sequence[str]] = None,
                 practice: bool = False) -> str:
    """Write the interactive stepper for ``root`` to ``path`` (one HTML file); return ``path``.

    ``forward=True`` plays the forward pass (values in topological order) before
    the backward pass. ``rankdir`` is graphviz's direction (``"LR"`` or ``"TB"``).
    ``hide_constants`` leaves unlabelled leaves out of the picture (their steps stay).
    ``parameters`` (the model, or its parameter Values) marks which leaves are
    parameters, as in ``draw_graph``; without it every labelled leaf looks alike.
    ``level``: ``"node"`` steps every value; ``"neuron"`` steps one neuron at a time
    (needs ``parameters=model`` and one sample; each step shows the vectors of gradients
    the neuron produced, and a click on a box opens its own scalar steps); ``"auto"``
    (default) chooses ``"neuron"`` when the graph has more than ``max_nodes`` DOT nodes
    and a model is given. A graph too big for ``"node"`` without a model is refused with a
    ``ValueError``. ``output_names`` (one per output neuron, e.g. the ten digits) labels the
    output boxes of the neuron level.
    ``practice=True`` makes the page a quiz (``viz.steps.practice``): each backward step
    hides its local derivatives and results until the learner types them; the page says
    right, close or wrong against the engine's numbers, hints at the op's rule, shows the
    answer after three tries and the score at the end. On the neuron level each neuron's
    step asks its ``σ'(z[l][j])`` and ``δ[l][j]``.
    The file needs no network and no server: open it from disk in any browser.
    """
    return stepper(root, forward=forward, title=title, rankdir=rankdir, parameters=parameters,
                   hide_constants=hide_constants, max_nodes=max_nodes, level=level,
                   output_names=output_names, practice=practice).save(path)


