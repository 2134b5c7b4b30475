"""Backpropagation as a list of steps, recorded from the engine's own backward loop.

The steps are not a replay: ``steps_from_trace`` runs ``autodiff.backward`` once, the
loop every ``Value.backward()`` runs, with a recorder that notes for each node the
gradient it passed on (``upstream``) and exactly what each operand received. The
final gradients shown are therefore ``backward()``'s own, zero, inf and NaN included
(a node whose gradient is exactly 0 passes nothing back, as in the engine).

The words shown beside the numbers (``∂o/∂w = x``) come from the engine's op table
(``microgradnn.engine.OPS``); the numbers are always the stored ones.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple

from microgradnn import autodiff
from microgradnn.engine import CALL_PRECEDENCE, Value, op_info

from ..graph.dot import format_value
from ..graph.notation import cost_name, lecture_names
from ..graph.trace import NodeRecord, Trace, trace
from .captions import derivative, factor, wrap

__all__ = ["Term", "Step", "backprop_steps", "steps_from_trace", "node_names", "root_name_of",
           "format_walkthrough", "last_change", "final_grads"]

_MAX_NAME = 24  # longer derived names fall back to the node id
_MAX_LECTURE_NAME = 40  # w[2][0,0]*a[1][0] + b[2][0]: names in the lectures' notation are longer


@dataclass(frozen=True)
class Term:
    """One chain-rule term: what one operand slot of a node received.

    ``contribution = local_grad * upstream`` is added to the operand's gradient,
    taking it from ``grad_before`` to ``grad_after``. ``skipped``: the node's gradient
    was exactly 0, so ``backward()`` passed nothing back (``contribution`` 0, the
    gradient unchanged), whatever the local derivative (even inf).
    """

    edge_id: str
    slot: int
    operand_id: str
    operand_name: str
    local_grad: float
    local_text: str  # how the local derivative reads, e.g. "x" or "do/dw"
    upstream: float
    contribution: float
    grad_before: float
    grad_after: float
    root_name: str
    node_name: str
    skipped: bool = False

    def __str__(self) -> str:
        if self.skipped:
            return (f"{derivative(self.root_name, self.operand_name)} += nothing: "
                    f"{derivative(self.root_name, self.node_name)} = {format_value(self.upstream)}, "
                    f"so backward() skips {self.node_name}")
        return (f"{derivative(self.root_name, self.operand_name)} += {wrap(self.local_text)} * "
                f"{derivative(self.root_name, self.node_name)} = {factor(self.local_grad)} * "
                f"{factor(self.upstream)} = {format_value(self.contribution)}")


@dataclass(frozen=True)
class Step:
    """One frame of the walk-through.

    ``kind`` is ``"forward"`` (``node`` was computed from its operands, value
    ``data``), ``"seed"`` (the root's gradient set to 1) or ``"backward"`` (``node``
    passed its gradient ``upstream`` to its operands, one ``Term`` per slot; when
    ``upstream`` is exactly 0 the engine skips the node and every term is ``skipped``).
    ``upstream`` is 1.0 for the seed and 0.0 (unused) for forward steps.
    """

    index: int
    kind: str
    node_id: str
    node_name: str
    op: str
    data: float
    upstream: float
    terms: Tuple[Term, ...]
    text: str  # the caption: what __str__ returns

    @property
    def edge_ids(self) -> Tuple[str, ...]:
        """The edges this step sent gradient through, in slot order (empty unless backward)."""
        return tuple(t.edge_id for t in self.terms)

    def __str__(self) -> str:
        return self.text


_ATOM_LEVEL = CALL_PRECEDENCE  # a name, a number or a call: never needs parentheses
_NEG_LEVEL = op_info("neg").precedence


def node_names(tr: Trace) -> Dict[str, str]:
    """A short readable name per node id.

    With a model (``parameters=model``), its parameters and neurons are named as in the
    lectures (``w[1][0,2]``, ``b[1][0]``, ``z[1][0]``, ``a[1][0]``, see
    ``viz.graph.notation``). Otherwise the label if there is one; a constant's value
    (``2``); else the expression it was computed by (``x*w + b``) while that stays
    short; else the id (``v7``).
    """
    names: Dict[str, str] = {}
    level: Dict[str, int] = {}
    lecture = lecture_names(tr)
    longest = _MAX_LECTURE_NAME if lecture else _MAX_NAME
    for node in tr.nodes:
        level[node.id] = _ATOM_LEVEL
        if node.id in lecture and (node.is_leaf or not node.label):
            names[node.id] = lecture[node.id]
        elif node.label:
            names[node.id] = node.label
        elif node.is_leaf:
            names[node.id] = f"{node.data:g}"
            if node.data < 0:
                level[node.id] = _NEG_LEVEL
        else:
            found = _expression(node, names, level)
            if found is not None and len(found[0]) <= longest:
                names[node.id], level[node.id] = found
            else:
                names[node.id] = node.id
    return names


def root_name_of(tr: Trace, lecture: Optional[Dict[str, str]] = None) -> str:
    """The output's name in captions: its label, its name in the lectures (``a[2][0]``),
    or ``C`` (the cost) for a model's graph and ``L`` otherwise."""
    root = tr.by_id[tr.root]
    if root.label:
        return root.label
    lecture = lecture_names(tr) if lecture is None else lecture
    return lecture.get(root.id) or cost_name(tr)


def _expression(node: NodeRecord, names: Dict[str, str],
                level: Dict[str, int]) -> Optional[Tuple[str, int]]:
    """The expression text of ``node`` from its operands' names, and its binding level.

    An operand is parenthesized unless it binds tighter than the op (``(x + 1)*2``);
    a function's argument never is (``tanh(x + 1)``).
    """
    info = op_info(node.op)
    ids = node.operand_ids
    if info is None or info.arity != len(ids):
        return None
    p = info.precedence
    parts = [names[i] if p == _ATOM_LEVEL or level[i] > p else f"({names[i]})" for i in ids]
    return info.fill(info.formula, parts), p


def _local_texts(node: NodeRecord, names: Dict[str, str], node_name: str) -> List[str]:
    """How each local derivative of ``node`` reads, from the op table; ``do/da`` when
    the op is not in it."""
    info = op_info(node.op)
    n = len(node.operand_ids)
    if info is None or (info.arity is not None and info.arity != n):
        return [derivative(node_name, names[i]) for i in node.operand_ids]
    operands = [wrap(names[i]) for i in node.operand_ids]
    if info.arity is not None:
        return [info.fill(t, operands, wrap(node_name)) for t in info.derivatives_for(n)]
    # the weighted sum: one slot-name table for its 2n + 1 templates (``fill`` would
    # rebuild it for each, quadratic in the inputs of a 784-input neuron)
    slots = dict(zip(info.operand_names(n), operands), out=wrap(node_name))
    return [t.format_map(slots) for t in info.derivatives_for(n)]


@dataclass(frozen=True)
class _Pass:
    """What the engine's loop did at one node (see ``autodiff.backward``)."""

    node: Value
    upstream: float
    contributions: Optional[Tuple[float, ...]]  # None: skipped, nothing passed back
    grads_after: Tuple[float, ...]  # each operand's grad once this node was done


def _record_backward(tr: Trace) -> Tuple[float, List[_Pass]]:
    """Run the engine's backward loop over ``tr`` from zero gradients and record it.

    Returns the root's gradient (the seed) and one ``_Pass`` per inner node, in the
    loop's order. Every gradient in the graph is put back as it was afterwards.
    """
    order = [n.value for n in tr.nodes]
    root = order[-1]
    saved = [v.grad for v in order]
    passes: List[_Pass] = []

    def record(node: Any, upstream: float, contributions: Optional[Tuple[float, ...]]) -> None:
        passes.append(_Pass(node, upstream, contributions,
                            tuple([operand.grad for operand in node.operands])))

    try:
        for v in order:  # leaves too: the walk-through is one fresh backward()
            v.grad = 0.0
        autodiff.backward(root, 1.0, record=record, order=order)
        seed = root.grad
    finally:
        for v, grad in zip(order, saved):
            v.grad = grad
    return seed, passes


def steps_from_trace(tr: Trace, forward: bool = False) -> List[Step]:
    """The steps of one backward pass over ``tr`` (and the forward pass first if asked).

    Returns ``[forward steps (one per computed node, topological order)] + [seed] +
    [backward steps (one per computed node, reverse topological order)]``. A node the
    engine skips (gradient exactly 0) gets terms marked ``skipped`` that add nothing.
    """
    names = node_names(tr)
    root = tr.by_id[tr.root]
    root_name = root_name_of(tr)
    names_for_d = dict(names)
    names_for_d[root.id] = root_name
    steps: List[Step] = []
    if forward:
        for node in tr.nodes:
            if not node.is_leaf:
                steps.append(_forward_step(len(steps), node, tr, names_for_d))
    seed, passes = _record_backward(tr)
    steps.append(Step(len(steps), "seed", root.id, root_name, root.op, root.data, seed, (),
                      f"{derivative(root_name, root_name)} = {format_value(seed)}"))
    id_of = {id(n.value): n.id for n in tr.nodes}
    edges_by_target: Dict[str, list] = {}
    for edge in tr.edges:
        edges_by_target.setdefault(edge.target, []).append(edge)
    grads: Dict[str, float] = {n.id: 0.0 for n in tr.nodes}  # as the loop left them so far
    grads[root.id] = seed
    for done in passes:
        node = tr.by_id[id_of[id(done.node)]]
        node_name = names_for_d[node.id]
        edges = edges_by_target[node.id]
        skipped = done.contributions is None
        contributions = (0.0,) * len(edges) if skipped else done.contributions
        last_slot = {edge.source: edge.slot for edge in edges}  # an operand's last slot here
        terms = []
        for edge, local_text, contribution, after in zip(
                edges, _local_texts(node, names_for_d, node_name), contributions,
                done.grads_after):
            before = grads[edge.source]
            if last_slot[edge.source] != edge.slot:
                # the same operand in a later slot too (a*a): the value between the two
                # additions is the engine's own sum, before + contribution
                after = before + contribution
            grads[edge.source] = after
            terms.append(Term(edge.id, edge.slot, edge.source, names_for_d[edge.source],
                              edge.local_grad, local_text, done.upstream, contribution, before,
                              after, root_name, node_name, skipped))
        text = "\n".join(str(t) for t in terms)
        steps.append(Step(len(steps), "backward", node.id, node_name, node.op, node.data,
                          done.upstream, tuple(terms), text))
    return steps


def _forward_step(index: int, node: NodeRecord, tr: Trace, names: Dict[str, str]) -> Step:
    """``v = a*b = 2.0000*(-3.0000) = -6.0000``: stored values, nothing recomputed."""
    operands = [tr.by_id[i] for i in node.operand_ids]
    info = op_info(node.op)
    if info is not None and (info.arity is None or info.arity == len(operands)):
        template = info.formula_for(len(operands))
        shown = wrap if info.precedence != CALL_PRECEDENCE else str  # f(x*w), not f((x*w))
        formula = info.fill(template, [shown(names[o.id]) for o in operands])
        values = info.fill(template, [factor(o.data) for o in operands])
    else:
        formula = f"{node.op}({', '.join(names[o.id] for o in operands)})"
        values = f"{node.op}({', '.join(format_value(o.data) for o in operands)})"
    name = names[node.id]
    derived = not node.label and name not in (node.id, "L")  # the name is the formula
    head = name if derived else f"{name} = {formula}"
    text = f"{head} = {values} = {format_value(node.data)}"
    return Step(index, "forward", node.id, name, node.op, node.data, 0.0, (), text)


def backprop_steps(root: Value, forward: bool = False,
                   parameters: Optional[Sequence[Value]] = None) -> List[Step]:
    """The walk-through of backpropagation from ``root``: a list of ``Step``.

    One seed step, then one step per computed node in reverse topological order
    (the order ``root.backward()`` uses), each with one ``Term`` per operand slot.
    With ``forward=True`` one step per computed node in topological order comes
    first. The gradients are those of one fresh ``backward()`` (from zero), recorded
    as the engine's loop computes them; every ``grad`` is left as it was.
    """
    return steps_from_trace(trace(root, parameters), forward=forward)


def format_walkthrough(steps: Sequence[Step], show_forward: bool = True) -> str:
    """The steps as terminal text: a numbered header per step, then its chain-rule lines."""
    lines: List[str] = []
    total = len(steps)
    for step in steps:
        if step.kind == "forward" and not show_forward:
            continue
        width = len(str(total))
        if step.kind == "forward":
            header = f"[{step.index + 1:>{width}}/{total}] forward  {step.node_name} ({step.op})"
        elif step.kind == "seed":
            header = f"[{step.index + 1:>{width}}/{total}] backward start at {step.node_name}"
        else:
            header = (f"[{step.index + 1:>{width}}/{total}] backward through {step.node_name} "
                      f"({step.op}), upstream {format_value(step.upstream)}")
        lines.append(header)
        lines.extend("    " + line for line in step.text.split("\n"))
    return "\n".join(lines)


def _gradient_updates(steps: Sequence[Step]) -> Iterator[Tuple[str, int, float]]:
    """``(node id, step index, gradient after)`` for every gradient a step sets, in order."""
    for step in steps:
        if step.kind == "seed":
            yield step.node_id, step.index, step.upstream
        for term in step.terms:
            yield term.operand_id, step.index, term.grad_after


def last_change(steps: Sequence[Step]) -> Dict[str, int]:
    """Node id -> index of the last step that sets its gradient (absent: never set)."""
    return {node_id: index for node_id, index, _ in _gradient_updates(steps)}


def final_grads(steps: Sequence[Step]) -> Dict[str, float]:
    """Node id -> its gradient after the last step (absent: never set)."""
    return {node_id: grad for node_id, _, grad in _gradient_updates(steps)}
