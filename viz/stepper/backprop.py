"""Backpropagation as a list of steps: one per node, in the order ``backward()`` visits them.

Every number comes from the one ``Trace`` of the graph: node values and the local
derivatives the engine stored when each op ran. Nothing here differentiates
anything; the steps replay the engine's loop ``operand.grad += local * node.grad``
over the reverse topological order, starting from zero gradients, and record each
addition. The final gradients therefore equal those of one fresh ``backward()``.

The words shown beside the numbers (``do/dw = x``) are only a reading aid taken
from a small table of textbook formulas; the numbers are always the stored ones.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple

from microgradnn.engine import Value

from ..graph.dot import format_value
from ..graph.trace import NodeRecord, Trace, trace

__all__ = ["Term", "Step", "backprop_steps", "steps_from_trace", "node_names",
           "format_walkthrough", "last_change"]

STEP_KINDS = ("forward", "seed", "backward")
_INFIX = ("+", "-", "*", "/", "**")
_MAX_NAME = 24  # longer derived names fall back to the node id


@dataclass(frozen=True)
class Term:
    """One chain-rule term: what one operand slot of a node received.

    ``contribution = local_grad * upstream`` is added to the operand's gradient,
    taking it from ``grad_before`` to ``grad_after``.
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

    def __str__(self) -> str:
        return (f"{_d(self.root_name, self.operand_name)} += {_wrap(self.local_text)} * "
                f"{_d(self.root_name, self.node_name)} = {_factor(self.local_grad)} * "
                f"{_factor(self.upstream)} = {format_value(self.contribution)}")


@dataclass(frozen=True)
class Step:
    """One frame of the walk-through.

    ``kind`` is ``"forward"`` (``node`` was computed from its operands, value
    ``data``), ``"seed"`` (the root's gradient set to 1) or ``"backward"`` (``node``
    passed its gradient ``upstream`` to its operands, one ``Term`` per slot).
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


def _d(root_name: str, name: str) -> str:
    """``dL/dx``, with compound names in parentheses: ``dL/d(x*w)``."""
    return f"d{_wrap_d(root_name)}/d{_wrap_d(name)}"


def _wrap_d(name: str) -> str:
    return name if _SIMPLE.match(name) and not _is_number(name) else f"({name})"


_SIMPLE = re.compile(r"^[\w.]+$")  # labels like w1 or layers.0.w.1, ids, plain numbers


def _is_call(name: str) -> bool:
    """``f(...)`` or ``(...)`` whose first parenthesis closes at the very end."""
    m = re.match(r"^\w*\(", name)
    if not m or not name.endswith(")"):
        return False
    depth = 0
    for i in range(m.end() - 1, len(name)):
        depth += {"(": 1, ")": -1}.get(name[i], 0)
        if depth == 0:
            return i == len(name) - 1
    return False


def _wrap(name: str) -> str:
    """Parenthesize anything but a simple name, a number or a call."""
    simple = bool(_SIMPLE.match(name)) or _is_call(name) or name.startswith("[")
    return name if simple else f"({name})"


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _factor(x: float) -> str:
    """A number inside a product: negatives in parentheses, ``(-1.2000)``."""
    text = format_value(x)
    return f"({text})" if text.startswith("-") else text


# Binding strength of a derived name's outermost operator; atoms bind tightest.
_LEVEL = {"+": 1, "-": 1, "*": 2, "/": 2, "neg": 3, "**": 4}
_ATOM_LEVEL = 9


def node_names(tr: Trace) -> Dict[str, str]:
    """A short readable name per node id.

    The label if there is one; a constant's value (``2``); else the expression it
    was computed by (``x*w + b``) while that stays short; else the id (``v7``).
    """
    names: Dict[str, str] = {}
    level: Dict[str, int] = {}
    for node in tr.nodes:
        level[node.id] = _ATOM_LEVEL
        if node.label:
            names[node.id] = node.label
        elif node.is_leaf:
            names[node.id] = f"{node.data:g}"
            if node.data < 0:
                level[node.id] = _LEVEL["neg"]
        else:
            found = _expression(node, names, level)
            if found is not None and len(found[0]) <= _MAX_NAME:
                names[node.id], level[node.id] = found
            else:
                names[node.id] = node.id
    return names


def _expression(node: NodeRecord, names: Dict[str, str],
                level: Dict[str, int]) -> Optional[Tuple[str, int]]:
    """The expression text of ``node`` from its operands' names, and its binding level."""
    ids = node.operand_ids

    def part(i: str, at_least: int) -> str:
        return names[i] if level[i] >= at_least else f"({names[i]})"

    op = "**" if node.op.startswith("**") else node.op
    if op in _LEVEL and op != "neg":
        p = _LEVEL[op]
        if len(ids) == 2:
            # a - (b - c), a / (b * c), (a ** b) ** c: the right side binds tighter.
            left = part(ids[0], p + 1 if op == "**" else p)
            right = part(ids[1], p if op == "**" else p + (op in ("-", "/")))
            sep = f" {op} " if p == 1 else op
            return left + sep + right, p
        if len(ids) == 1 and node.op != "**":
            return part(ids[0], p + 1) + node.op, p
        return None
    if op == "neg" and len(ids) == 1:
        return "-" + part(ids[0], _LEVEL["neg"] + 1), _LEVEL["neg"]
    if op.isidentifier() and len(ids) == 1:
        return f"{op}({names[ids[0]]})", _ATOM_LEVEL
    return None


def _local_texts(node: NodeRecord, names: Dict[str, str], node_name: str) -> List[str]:
    """How each local derivative of ``node`` reads; ``do/da`` when no formula is known."""
    ops = [_wrap(names[i]) for i in node.operand_ids]
    out = _wrap(node_name)
    generic = [f"{_d(node_name, names[i])}" for i in node.operand_ids]
    op, n = node.op, len(ops)
    known: Optional[List[str]] = None
    if op == "+" and n == 2:
        known = ["1", "1"]
    elif op == "-" and n == 2:
        known = ["1", "-1"]
    elif op == "*" and n == 2:
        known = [ops[1], ops[0]]
    elif op == "/" and n == 2:
        known = [f"1/{ops[1]}", f"-{ops[0]}/{ops[1]}**2"]
    elif op == "**" and n == 2:
        known = [f"{ops[1]}*{ops[0]}**({names[node.operand_ids[1]]} - 1)", f"{out}*log({ops[0]})"]
    elif op == "neg" and n == 1:
        known = ["-1"]
    elif op.startswith("**") and op != "**" and n == 1:
        k = float(op[2:])
        known = [f"{k:g}*{ops[0]}" if k == 2 else f"{k:g}*{ops[0]}**{k - 1:g}"]
    elif op == "exp" and n == 1:
        known = [out]
    elif op == "log" and n == 1:
        known = [f"1/{ops[0]}"]
    elif op == "tanh" and n == 1:
        known = [f"1 - {out}**2"]
    elif op == "sigmoid" and n == 1:
        known = [f"{out}*(1 - {out})"]
    elif op == "relu" and n == 1:
        known = [f"[{ops[0]} > 0]"]
    elif op == "Σwx+b" and n % 2 == 1:
        half = n // 2
        known = ops[half:2 * half] + ops[:half] + ["1"]
    return generic if known is None else known


def steps_from_trace(tr: Trace, forward: bool = False) -> List[Step]:
    """The steps of one backward pass over ``tr`` (and the forward pass first if asked).

    Returns ``[forward steps (one per computed node, topological order)] + [seed] +
    [backward steps (one per computed node, reverse topological order)]``.
    """
    names = node_names(tr)
    root = tr.by_id[tr.root]
    root_name = root.label or "L"
    names_for_d = dict(names)
    names_for_d[root.id] = root_name
    steps: List[Step] = []
    if forward:
        for node in tr.nodes:
            if not node.is_leaf:
                steps.append(_forward_step(len(steps), node, tr, names_for_d))
    grads: Dict[str, float] = {n.id: 0.0 for n in tr.nodes}
    grads[root.id] += 1.0  # the engine's seed: self.grad += 1.0
    steps.append(Step(len(steps), "seed", root.id, root_name, root.op, root.data, 1.0, (),
                      f"{_d(root_name, root_name)} = {format_value(grads[root.id])}"))
    edges_by_target: Dict[str, list] = {}
    for edge in tr.edges:
        edges_by_target.setdefault(edge.target, []).append(edge)
    for node in reversed(tr.nodes):
        if node.is_leaf:
            continue
        node_name = names_for_d[node.id]
        upstream = grads[node.id]
        locals_text = _local_texts(node, names_for_d, node_name)
        terms = []
        for edge, local_text in zip(edges_by_target[node.id], locals_text):
            before = grads[edge.source]
            contribution = edge.local_grad * upstream  # the engine's one multiply
            grads[edge.source] = before + contribution
            terms.append(Term(edge.id, edge.slot, edge.source, names_for_d[edge.source],
                              edge.local_grad, local_text, upstream, contribution, before,
                              grads[edge.source], root_name, node_name))
        text = "\n".join(str(t) for t in terms)
        steps.append(Step(len(steps), "backward", node.id, node_name, node.op, node.data,
                          upstream, tuple(terms), text))
    return steps


def _forward_step(index: int, node: NodeRecord, tr: Trace, names: Dict[str, str]) -> Step:
    """``v = a * b = 2.0000 * (-3.0000) = -6.0000``: stored values, nothing recomputed."""
    operands = [tr.by_id[i] for i in node.operand_ids]
    labels = [_wrap(names[o.id]) for o in operands]
    numbers = [_factor(o.data) for o in operands]
    if node.op in _INFIX and len(operands) == 2:
        sep = f" {node.op} "
        formula, values = sep.join(labels), sep.join(numbers)
    elif node.op.startswith("**") and len(operands) == 1:
        formula, values = labels[0] + node.op, numbers[0] + node.op
    elif node.op == "Σwx+b" and len(operands) % 2 == 1:
        # weighted_sum's documented operand order: w1..wn, x1..xn, b.
        half = len(operands) // 2
        pairs = list(zip(range(half), range(half, 2 * half)))
        formula = " + ".join(f"{labels[i]}*{labels[j]}" for i, j in pairs) + f" + {labels[-1]}"
        values = " + ".join(f"{numbers[i]}*{numbers[j]}" for i, j in pairs) + f" + {numbers[-1]}"
    elif node.op == "neg" and len(operands) == 1:
        formula, values = "-" + labels[0], f"-({format_value(operands[0].data)})"
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
    first. Gradients are simulated from zero, so they match a fresh ``backward()``
    whether or not it has been called; ``root`` is not modified.
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


def last_change(steps: Sequence[Step]) -> Dict[str, int]:
    """Node id -> index of the last step that sets its gradient (absent: never set)."""
    last: Dict[str, int] = {}
    for step in steps:
        if step.kind == "seed":
            last[step.node_id] = step.index
        for term in step.terms:
            last[term.operand_id] = step.index
    return last
