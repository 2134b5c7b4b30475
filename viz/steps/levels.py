"""Backpropagation one neuron at a time: the steps of a graph too big to step node by node.

A one-sample graph of a 784-16-16-10 MLP has some 14,000 values; stepped one value at
a time it is neither drawable nor followable. ``neuron_steps`` regroups the steps of
the engine's recorded backward pass (``steps_from_trace``: ``autodiff.backward`` with
its ``record`` hook) by the model's neurons (``viz.graph.grouping``, read from the
module tree) into one step per neuron, each showing the vectors of gradients it
produced, as the lectures write them::

    δ[l][j] = ∂C/∂a[l][j] * σ'(z[l][j])
    ∂C/∂b[l][j] = δ[l][j],  ∂C/∂w[l][j,:] = δ[l][j] * a[l-1][:],  ∂C/∂a[l-1][:] += δ[l][j] * w[l][j,:]

Every number shown is one the engine computed (a term's ``local_grad``, ``upstream``,
``contribution`` or ``grad_after``); nothing is differentiated again here. Each step
keeps the indices of its scalar steps, so a page can open one neuron's own steps.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

from ..graph.dot import format_value
from ..graph.grouping import neuron_groups
from ..graph.notation import lecture_names, neuron_outputs, parameter_places
from ..graph.trace import Trace
from .backprop import Step, Term, root_name_of

__all__ = ["Unit", "UnitEdge", "LevelRow", "LevelStep", "NeuronLevel", "neuron_steps",
           "format_vector"]

_SHOWN = 16  # vectors up to this long are printed in full


@dataclass
class Unit:
    """One box of the neuron-level picture: the input, a neuron ``a[l][j]`` or the cost."""

    id: str
    kind: str  # "input", "neuron" or "cost"
    name: str
    data_text: str
    layer: int = 0  # l for a neuron (0 for the input, one past the last layer for the cost)
    index: int = 0  # j for a neuron
    nodes: List[str] = field(default_factory=list)  # trace node ids inside it


@dataclass(frozen=True)
class UnitEdge:
    id: str
    source: str
    target: str
    count: int  # how many scalar edges it stands for


@dataclass(frozen=True)
class LevelRow:
    """One row of a step's table: a gradient the step produced or added to.

    ``unit`` is the box whose shown gradient becomes ``after`` ("" if none, e.g. δ)."""

    unit: str
    name: str
    local_text: str
    local: str
    upstream: str
    adds: str
    before: str
    after: str


@dataclass(frozen=True)
class LevelStep:
    index: int
    kind: str  # "seed" or "backward"
    unit: str
    name: str
    text: str  # the caption
    rows: Tuple[LevelRow, ...]
    edges: Tuple[str, ...]  # unit edges the gradient went back through
    scalar: Tuple[int, ...]  # indices of the scalar steps it groups
    upstream: str


@dataclass
class NeuronLevel:
    """The neuron-level view of one backward pass: boxes, their links and the steps."""

    units: List[Unit]
    edges: List[UnitEdge]
    steps: List[LevelStep]
    unit_of: Dict[str, str]  # trace node id -> unit id
    grad_final: Dict[str, int]  # unit id -> index of the last step changing its shown gradient


def format_vector(values: Sequence[float], name_of: Callable[[int], str]) -> str:
    """``[0.1, -0.2]`` in full up to 16 values, else a summary: the count, the largest
    ``|value|`` with the name of its element (``name_of(k)``) and how many are exactly 0."""
    if len(values) <= _SHOWN:
        return "[" + ", ".join(format_value(v) for v in values) + "]"
    finite = [(abs(v), k) for k, v in enumerate(values) if math.isfinite(v)]
    zeros = sum(1 for v in values if v == 0.0)
    biggest = max(finite)[1] if finite else 0
    return (f"{len(values)} values, the largest for {name_of(biggest)}: "
            f"{format_value(values[biggest])}; {zeros} exactly 0")


def _norm(values: Sequence[float]) -> float:
    return math.sqrt(sum(v * v for v in values))


def neuron_steps(tr: Trace, steps: Sequence[Step]) -> NeuronLevel:
    """Group the scalar ``steps`` of ``tr`` (from ``steps_from_trace``, backward only) into
    one step per neuron of the model given to ``trace``.

    Raises ``ValueError`` when the trace has no model, or a neuron is used more than once
    (a batch: the neuron view is for one sample). Built in three parts: the boxes (the
    input, each neuron, the cost), the links between them, and the steps.
    """
    group, outputs = _one_sample(tr, steps)
    cost_name = root_name_of(tr, lecture_names(tr))
    boxes = _Boxes(tr, group, outputs, cost_name)
    edges, into = _unit_links(tr, boxes.unit_of)
    level, grad_final = _level_steps(tr, steps, boxes, into, cost_name)
    return NeuronLevel(boxes.units, edges, level, boxes.unit_of, grad_final)


def _one_sample(tr: Trace, steps: Sequence[Step]) -> Tuple[Dict[str, str], Dict[str, Any]]:
    """(node -> neuron, the neurons' outputs) of a trace the neuron level can step."""
    if tr.modules is None:
        raise ValueError("stepping one neuron at a time needs the model: pass parameters=model")
    if any(s.kind == "forward" for s in steps):
        raise ValueError("the neuron-level stepper plays the backward pass only (forward=False)")
    group = neuron_groups(tr)
    outputs = neuron_outputs(tr)
    if not outputs or len(outputs) != len(set(group.values())):
        raise ValueError("stepping one neuron at a time needs one sample: a neuron is used "
                         "more than once in this graph (a batch?); step one sample's loss")
    return group, outputs


class _Boxes:
    """The boxes: the input, each neuron (in layer order), the cost; which box each node
    of the trace belongs to (``unit_of``), and each neuron's output and z nodes."""

    def __init__(self, tr: Trace, group: Dict[str, str], outputs: Dict[str, Any],
                 cost_name: str) -> None:
        neuron_unit: Dict[str, Unit] = {}
        for key in sorted(outputs, key=lambda k: outputs[k][:2]):
            l, j, out_id, z_id = outputs[key]
            letter = "z" if out_id == z_id else "a"  # no activation: the neuron ends in z
            neuron_unit[key] = Unit(f"u{len(neuron_unit) + 1}", "neuron", f"{letter}[{l}][{j}]",
                                    format_value(tr.by_id[out_id].data), l, j)
        inside = {node_id: neuron_unit[key].id for node_id, key in group.items()}
        consumers: Dict[str, List[str]] = {}
        for e in tr.edges:
            consumers.setdefault(e.source, []).append(e.target)
        feeds_neurons = [n.id for n in tr.nodes if n.is_leaf and n.id not in inside
                         and consumers.get(n.id) and all(c in inside for c in consumers[n.id])]
        last_layer = max(u.layer for u in neuron_unit.values())
        input_unit = Unit("u0", "input", "x", f"{len(feeds_neurons)} values", 0, 0)
        self.units: List[Unit] = [input_unit, *neuron_unit.values()]
        self.unit_of: Dict[str, str] = dict(inside)
        self.unit_of.update({i: input_unit.id for i in feeds_neurons})
        if tr.root not in self.unit_of:
            cost_unit = Unit(f"u{len(self.units)}", "cost", cost_name,
                             format_value(tr.by_id[tr.root].data), last_layer + 1, 0)
            self.units.append(cost_unit)
            for n in tr.nodes:
                self.unit_of.setdefault(n.id, cost_unit.id)
        self.by_id = {u.id: u for u in self.units}
        for node_id, unit_id in self.unit_of.items():
            self.by_id[unit_id].nodes.append(node_id)
        self.output_of = {neuron_unit[key].id: outputs[key][2] for key in outputs}
        self.z_of = {neuron_unit[key].id: outputs[key][3] for key in outputs}


def _unit_links(tr: Trace, unit_of: Dict[str, str]
                ) -> Tuple[List[UnitEdge], Dict[str, List[str]]]:
    """The links between boxes, one per pair (a scalar edge per weight inside), and the
    links into each box."""
    link_ids: Dict[Tuple[str, str], int] = {}
    counts: List[int] = []
    for e in tr.edges:
        a, b = unit_of.get(e.source), unit_of.get(e.target)
        if a is None or b is None or a == b:
            continue
        if (a, b) not in link_ids:
            link_ids[(a, b)] = len(counts)
            counts.append(0)
        counts[link_ids[(a, b)]] += 1
    edges = [UnitEdge(f"ue{i}", a, b, counts[i]) for (a, b), i in link_ids.items()]
    into: Dict[str, List[str]] = {}
    for edge in edges:
        into.setdefault(edge.target, []).append(edge.id)
    return edges, into


def _level_steps(tr: Trace, steps: Sequence[Step], boxes: _Boxes, into: Dict[str, List[str]],
                 cost_name: str) -> Tuple[List[LevelStep], Dict[str, int]]:
    """The steps: scalar steps grouped by box, in the order each box finishes; and for
    each box, the step after which its gradient is final."""
    unit_of, by_id = boxes.unit_of, boxes.by_id
    by_unit: Dict[str, List[int]] = {}
    for step in steps:
        if step.kind == "backward":
            by_unit.setdefault(unit_of[step.node_id], []).append(step.index)
    # The cost first (it only passes gradient to the output neurons), then each neuron
    # when its last scalar step is done: a neuron's additions to the layer before it come
    # in the engine's own order, so every "before" is the previous "after".
    order = sorted(by_unit, key=lambda u: (by_id[u].kind != "cost", by_unit[u][-1]))
    seed = steps[0]
    seed_unit = unit_of[seed.node_id]
    level: List[LevelStep] = [
        LevelStep(0, "seed", seed_unit, cost_name,
                  f"∂{cost_name}/∂{cost_name} = {format_value(seed.upstream)}", (), (),
                  (seed.index,), format_value(seed.upstream))]
    grad_final: Dict[str, int] = {seed_unit: 0}
    places = parameter_places(tr)
    for unit_id in order:
        unit = by_id[unit_id]
        scalar = [steps[i] for i in by_unit[unit_id]]
        if unit.kind == "cost":
            step = _cost_step(len(level), unit, scalar, unit_of, boxes.output_of, by_id,
                              cost_name, tuple(into.get(unit_id, ())))
        else:
            step = _neuron_step(len(level), unit, scalar, unit_of, by_id, places, cost_name,
                                boxes.output_of[unit_id], boxes.z_of[unit_id],
                                tuple(into.get(unit_id, ())))
        level.append(step)
        for row in step.rows:
            if row.unit:
                grad_final[row.unit] = step.index
    return level, grad_final


def _terms_by_operand(scalar: Sequence[Step]) -> Dict[str, Term]:
    """The last term each operand received in these steps (its gradient after them)."""
    last: Dict[str, Term] = {}
    for step in scalar:
        for term in step.terms:
            last[term.operand_id] = term
    return last


def _cost_step(index: int, unit: Unit, scalar: Sequence[Step], unit_of: Dict[str, str],
               output_of: Dict[str, str], by_id: Dict[str, Unit], cost_name: str,
               edges: Tuple[str, ...]) -> LevelStep:
    """Backward through the cost's own nodes: the gradient of each output neuron."""
    last = _terms_by_operand(scalar)
    outputs = sorted((u for u, out in output_of.items() if out in last),
                     key=lambda u: by_id[u].index)
    rows = []
    values = []
    for u in outputs:
        term = last[output_of[u]]
        values.append(term.grad_after)
        rows.append(LevelRow(u, f"∂{cost_name}/∂{by_id[u].name}", "", "", "", "", "",
                             format_value(term.grad_after)))
    layer = by_id[outputs[0]].layer if outputs else 0
    letter = by_id[outputs[0]].name[0] if outputs else "a"  # z[L] when the outputs are linear
    text = (f"backward through the {len(scalar)} nodes of {cost_name}:\n"
            f"∂{cost_name}/∂{letter}[{layer}][:] = "
            f"{format_vector(values, lambda k: by_id[outputs[k]].name)}")
    return LevelStep(index, "backward", unit.id, cost_name, text, tuple(rows), edges,
                     tuple(s.index for s in scalar), "")


def _neuron_step(index: int, unit: Unit, scalar: Sequence[Step], unit_of: Dict[str, str],
                 by_id: Dict[str, Unit],
                 places: Dict[str, Tuple[str, int, int, Optional[int]]], cost_name: str,
                 out_id: str, z_id: str, edges: Tuple[str, ...]) -> LevelStep:
    """One neuron: δ from its activation's step, then what its weighted sum passed back."""
    l, j = unit.layer, unit.index
    d = f"∂{cost_name}/∂"
    first = scalar[0]
    upstream = next((s.upstream for s in scalar if s.node_id == out_id), first.upstream)
    act = next((s for s in scalar if s.node_id == out_id and out_id != z_id), None)
    lines: List[str] = []
    rows: List[LevelRow] = []
    if act is not None and act.terms:
        t = act.terms[0]
        delta = t.grad_after
        lines.append(f"δ[{l}][{j}] = {d}z[{l}][{j}] = {d}a[{l}][{j}] * {t.local_text} = "
                     f"{format_value(upstream)} * {format_value(t.local_grad)} = "
                     f"{format_value(delta)}")
        rows.append(LevelRow("", f"δ[{l}][{j}] = {d}z[{l}][{j}]", t.local_text,
                             format_value(t.local_grad), format_value(upstream),
                             format_value(t.contribution), format_value(t.grad_before),
                             format_value(delta)))
    else:  # no activation: the neuron's output is its weighted sum z
        delta = upstream
        lines.append(f"δ[{l}][{j}] = {d}z[{l}][{j}] = {format_value(delta)} (no activation)")
    last = _terms_by_operand(scalar)
    inner = set(unit.nodes)
    weights = sorted(((places[i][3], t) for i, t in last.items()
                      if i in inner and places.get(i, ("",))[0] == "w"), key=lambda kt: kt[0])
    bias = [t for i, t in last.items() if i in inner and places.get(i, ("",))[0] == "b"]
    if bias:
        lines.append(f"{d}b[{l}][{j}] = δ[{l}][{j}] = {format_value(bias[0].grad_after)}")
    sources = [t for i, t in last.items() if i not in inner]
    source_units = sorted({unit_of[t.operand_id] for t in sources},
                          key=lambda u: (by_id[u].layer, by_id[u].index))
    previous = f"a[{l - 1}]" if l > 1 else "x"
    w_values = [t.grad_after for _, t in weights]
    lines.append(f"{d}w[{l}][{j},:] = δ[{l}][{j}] * {previous}[:] = "
                 f"{format_vector(w_values, lambda n: f'w[{l}][{j},{weights[n][0]}]')}")
    for u in source_units:
        terms = [t for t in sources if unit_of[t.operand_id] == u]
        src = by_id[u]
        if src.kind == "neuron":
            t = terms[0]
            rows.append(LevelRow(u, f"{d}{src.name}", t.local_text, format_value(t.local_grad),
                                 format_value(t.upstream), format_value(t.contribution),
                                 format_value(t.grad_before), format_value(t.grad_after)))
        else:  # the input: one row for the whole vector
            adds = [t.contribution for t in terms]
            after = [t.grad_after for t in terms]
            rows.append(LevelRow(u, f"{d}x[:] ({len(terms)} values)", f"w[{l}][{j},:]", "",
                                 format_value(delta), f"|·| {format_value(_norm(adds))}", "",
                                 f"|·| {format_value(_norm(after))}"))
    added = [t.contribution for t in sources]
    if sources:
        lines.append(f"{d}{previous}[:] += δ[{l}][{j}] * w[{l}][{j},:] = "
                     f"{format_vector(added, lambda n: sources[n].operand_name)}")
    return LevelStep(index, "backward", unit.id, unit.name, "\n".join(lines), tuple(rows), edges,
                     tuple(s.index for s in scalar), format_value(upstream))
