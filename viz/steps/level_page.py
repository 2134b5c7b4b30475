"""The stepper page of a big graph, one neuron per step (see ``viz.steps.levels``).

The same page, style and script as the node-by-node stepper (``viz.steps.page``), over
a small picture with one box per neuron (plus the input and the cost) drawn once by
``dot``. Clicking a box opens that neuron's own scalar steps, as the engine's backward
pass recorded them.
"""

from __future__ import annotations

import html
from typing import Any, Dict, List, Optional, Sequence

from ..graph.dot import MONO_FONT, Picture, escape_html, format_value
from ..graph.trace import Trace
from .assets import PAGE_CSS, PAGE_JS, PAGE_TEMPLATE, PRACTICE_CSS, PRACTICE_JS
from .backprop import Step
from .layout import mark_svg
from .levels import NeuronLevel, Unit, neuron_steps
from .page import fill_template, script_json

__all__ = ["level_stepper_html", "level_source", "level_data", "LEVEL_NOTE"]

_MAX_DETAIL_LINES = 40  # per scalar step in a box's detail panel

_CLICK_NOTE = " Click a box to read its own scalar steps."
LEVEL_NOTE = ("One box per neuron a[l][j]: data is its activation, grad is ∂C/∂a[l][j] (summed "
              "over the neurons of the next layer). Each step is one neuron: its error "
              "δ = ∂C/∂a * σ'(z) and the gradients it produces (vectors)." + _CLICK_NOTE)


def _final_grad(level: NeuronLevel, unit: Unit) -> str:
    """The last text a box's grad cell shows, so dot sizes the cell for it."""
    text = "?"
    for step in level.steps:
        if step.kind == "seed" and step.unit == unit.id:
            text = step.upstream
        for row in step.rows:
            if row.unit == unit.id:
                text = row.after
    return text


def _label(unit: Unit, grad: str, output_name: str = "") -> str:
    mono = f'<FONT FACE="{MONO_FONT}">'
    title = f"<B>{escape_html(unit.name)}</B>"
    if output_name:
        title += f" “{escape_html(output_name)}”"
    rows = [f'<TR><TD COLSPAN="2">{title}</TD></TR>',
            f'<TR><TD ALIGN="LEFT">data</TD><TD ALIGN="RIGHT">{mono}{escape_html(unit.data_text)}'
            f"</FONT></TD></TR>",
            f'<TR><TD ALIGN="LEFT">grad</TD><TD ALIGN="RIGHT" BGCOLOR="#ffffff">{mono}'
            f"{escape_html(grad)}</FONT></TD></TR>"]
    style = ' STYLE="rounded"' if unit.kind != "neuron" else ""
    return (f'<<TABLE BORDER="1"{style} CELLBORDER="0" CELLSPACING="0" CELLPADDING="2">'
            + "".join(rows) + "</TABLE>>")


def level_source(level: NeuronLevel, rankdir: str = "LR",
                 output_names: Optional[Sequence[str]] = None) -> Picture:
    """The neuron-level picture as DOT: columns of boxes, one link per pair of boxes;
    ``output_names`` names the output neurons' classes (e.g. the digits)."""
    last = max((u.layer for u in level.units if u.kind == "neuron"), default=0)
    outputs = [u for u in level.units if u.kind == "neuron" and u.layer == last]
    if output_names is not None and len(output_names) != len(outputs):
        raise ValueError(f"output_names: {len(output_names)} names for {len(outputs)} "
                         f"output neurons")
    names = {u.id: str(output_names[u.index]) for u in outputs} if output_names else {}
    g = Picture(name="neuron_level")
    g.attr(rankdir=rankdir, fontname="DejaVu Sans", nodesep="0.06", ranksep="1.4",
           splines="line")
    g.attr("node", fontname="DejaVu Sans", fontsize="10", shape="plain")
    # Links leave a box on its far side and enter on its near side, so no line crosses
    # a label; no arrowheads (hundreds of them would bury the boxes): the order is the columns'.
    tail, head = {"LR": ("e", "w"), "RL": ("w", "e"), "TB": ("s", "n"), "BT": ("n", "s")}[rankdir]
    g.attr("edge", color="#9a9a9a", arrowhead="none", penwidth="0.6", tailport=tail,
           headport=head)
    columns: Dict[int, List[Unit]] = {}
    for unit in level.units:
        columns.setdefault(unit.layer, []).append(unit)
    for layer in sorted(columns):
        with g.subgraph(name=f"column_{layer}") as c:
            c.attr(rank="same")
            units = sorted(columns[layer], key=lambda u: u.index)
            for unit in units:
                c.node(unit.id, id=unit.id,
                       label=_label(unit, _final_grad(level, unit), names.get(unit.id, "")))
            for a, b in zip(units, units[1:]):
                c.edge(a.id, b.id, style="invis", tailport="_", headport="_")
    for edge in level.edges:
        g.edge(edge.source, edge.target, id=edge.id)
    return g


def _detail(level: NeuronLevel, steps: Sequence[Step]) -> Dict[str, str]:
    """Each box's own scalar steps as text (long steps cut at 40 lines, the count said)."""
    out: Dict[str, str] = {}
    for step in level.steps:
        lines: List[str] = []
        for i in step.scalar:
            scalar = steps[i]
            head = (f"backward start at {scalar.node_name}" if scalar.kind == "seed" else
                    f"backward through {scalar.node_name} ({scalar.op}), upstream "
                    f"{format_value(scalar.upstream)}")
            body = scalar.text.split("\n")
            if len(body) > _MAX_DETAIL_LINES:
                body = body[:_MAX_DETAIL_LINES] + [f"... and {len(body) - _MAX_DETAIL_LINES} more "
                                                   f"lines like these"]
            lines.append(f"[scalar step {i + 1}] {head}")
            lines.extend("    " + line for line in body)
        previous = out.get(step.unit)
        out[step.unit] = "\n".join(([previous] if previous else []) + lines)
    return out


def level_data(level: NeuronLevel, steps: Sequence[Step], title: str,
               clickable: bool = True) -> Dict[str, Any]:
    """The page's JSON, in the shape ``viz.steps.page.stepper_data`` gives the script;
    ``clickable=False`` leaves out each box's own scalar steps (a quiz: they hold answers)."""
    click = "; click its box to read them" if clickable else ""
    nodes = {u.id: {"name": u.name, "label": u.name, "op": "", "leaf": u.kind == "input",
                    "data": None, "dataText": u.data_text, "final": level.grad_final.get(u.id, -1)}
             for u in level.units}
    edges = {e.id: {"source": e.source, "target": e.target} for e in level.edges}
    edge_of = {(e.source, e.target): e.id for e in level.edges}
    out_steps = []
    for step in level.steps:
        item: Dict[str, Any] = {
            "kind": step.kind, "node": step.unit, "name": step.name, "text": step.text,
            "edges": list(step.edges), "upstreamText": step.upstream, "terms": [],
            "phase": (f"Backward pass: start at the output {step.name} with gradient 1"
                      if step.kind == "seed" else
                      f"Backward pass through {step.name} ({len(step.scalar)} scalar steps of "
                      f"the engine{click})")}
        if step.kind == "seed":
            item["gradText"] = step.upstream
        for row in step.rows:
            item["terms"].append({"operand": row.unit, "operandName": row.name,
                                  "edge": edge_of.get((row.unit, step.unit), ""),
                                  "local": row.local, "localText": row.local_text,
                                  "upstream": row.upstream, "contribution": row.adds,
                                  "before": row.before, "after": row.after})
        out_steps.append(item)
    return {"title": title, "root": level.steps[0].unit, "nodes": nodes, "edges": edges,
            "steps": out_steps, "hasForward": False,
            "detail": _detail(level, steps) if clickable else {},
            "note": LEVEL_NOTE if clickable else LEVEL_NOTE[:-len(_CLICK_NOTE)]}


def level_stepper_html(tr: Trace, steps: Sequence[Step], title: str, rankdir: str = "LR",
                       output_names: Optional[Sequence[str]] = None,
                       practice: bool = False) -> str:
    """The whole page for ``tr``'s backward pass (``steps``), one neuron per step;
    ``practice=True``: a quiz asking each neuron's σ'(z) and δ (``viz.steps.practice``)."""
    level = neuron_steps(tr, steps)
    svg = mark_svg(level_source(level, rankdir, output_names).pipe(format="svg").decode("utf-8"))
    data = level_data(level, steps, title, clickable=not practice)
    if practice:
        from .practice import level_practice_data

        data["practice"] = level_practice_data(tr, level, steps, title)
    return fill_template({"/*STEPPER_CSS*/": PAGE_CSS + (PRACTICE_CSS if practice else ""),
                          "<!--STEPPER_TITLE-->": html.escape(title),
                          "<!--STEPPER_SVG-->": svg, "/*STEPPER_DATA*/": script_json(data),
                          "/*STEPPER_JS*/": (PRACTICE_JS if practice else "") + PAGE_JS})
