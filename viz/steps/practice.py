"""The stepper as a quiz: each backward step asks for its local derivatives and results.

For every chain-rule term of a backward step the learner types two numbers: the local
derivative ``∂(node)/∂(operand)`` and the operand's gradient once the step is done
(``∂(root)/∂(operand)``: what it had before plus local derivative times upstream). The
answers are the engine's own numbers, recorded by the stepper from ``backward()``
(``Term.local_grad`` is the node's stored ``local_grads`` entry, ``Term.grad_after`` the
gradient the loop left); the page only compares a typed number with them.

The hint after a wrong or close answer names the rule, written from the engine's op table
(``microgradnn.engine.OPS`` through ``op_info``) with generic operand names, e.g.
``∂(a*b)/∂a = b`` or ``∂(tanh(a))/∂a = 1 - tanh(a)²``, and then the rule as it reads at
this node (``Term.local_text``, from the same table). Nothing of calculus is in the page.

How an answer is judged (by the page, with the thresholds written here):

* right: within half a unit of the last digit the page shows (``format_value``: 4
  decimals, or 5 significant digits in scientific notation), so typing the shown number
  or the exact one is right;
* close: within ``CLOSE_RELATIVE`` of the answer's size, or ``CLOSE_ABSOLUTE``;
* wrong: anything else; after ``TRIES`` tries that are not right the answer is shown.
"""

from __future__ import annotations

import math
from typing import Any, Dict, List, Optional, Sequence

from microgradnn.engine import CALL_PRECEDENCE, op_info

from ..graph.dot import format_value
from ..graph.notation import neuron_outputs
from ..graph.trace import Trace
from .backprop import Step, Term, root_name_of
from .captions import derivative, factor, wrap
from .levels import NeuronLevel

__all__ = ["practice_data", "level_practice_data", "judge_settings", "rule_text",
           "right_tolerance", "CLOSE_RELATIVE", "CLOSE_ABSOLUTE", "TRIES"]

CLOSE_RELATIVE = 0.05  # "close": within 5% of the answer ...
CLOSE_ABSOLUTE = 0.005  # ... or within this much of it (answers near 0)
TRIES = 3  # tries that are not right before the page shows the answer


def right_tolerance(x: float) -> float:
    """Half a unit of the last digit ``format_value`` shows for ``x``: what "right" allows."""
    text = format_value(x)
    if "e" in text:  # 1.2345e-05: 5 significant digits
        exponent = int(text.split("e")[1])
        return 0.5 * 10.0 ** (exponent - 4)
    return 0.5e-4


def rule_text(op: str, slot: int, n_operands: int) -> str:
    """The derivative rule of ``op`` for operand ``slot``, with generic names, from ``OPS``.

    ``rule_text("*", 0, 2) == "∂(a*b)/∂a = b"``; ``rule_text("tanh", 0, 1) ==
    "∂(tanh(a))/∂a = 1 - tanh(a)²"``; a weighted sum's slot reads
    ``"∂(Σ w_i*x_i + b)/∂w_i = x_i"``. ``""`` for an op the table does not know.
    """
    info = op_info(op)
    if info is None or (info.arity is not None and info.arity != n_operands):
        return ""
    if info.arity is None:  # the weighted sum: slots w_1..w_n, x_1..x_n, b
        half = n_operands // 2
        kind = 0 if slot < half else (1 if slot < 2 * half else 2)
        names = {"w_i": "w_i", "x_i": "x_i", "b": "b"}
        formula = info.formula.format(**names)
        wrt = ("w_i", "x_i", "b")[kind]
        return f"∂({formula})/∂{wrt} = {info.derivatives[kind].format(**names)}"
    names = info.operand_names(n_operands)
    formula = info.fill(info.formula_for(n_operands), names)
    out = formula if info.precedence == CALL_PRECEDENCE else f"({formula})"
    derivative = info.fill(info.derivatives_for(n_operands)[slot], names, out)
    return f"∂({formula})/∂{names[slot]} = {derivative}"


def _answer(x: float) -> Dict[str, Any]:
    """An answer as the page needs it: the engine's float, its text, what "right" allows.
    A non-finite number is not asked (``value`` None): the page shows it."""
    finite = math.isfinite(x)
    return {"value": x if finite else None, "text": format_value(x),
            "right": right_tolerance(x) if finite else None}


def _question(step: Step, term: Term, root_name: str) -> Dict[str, Any]:
    n_operands = len(step.terms)
    d_local = derivative(step.node_name, term.operand_name)
    d_root = derivative(root_name, term.operand_name)
    before = format_value(term.grad_before)
    return {
        "operand": term.operand_id, "edge": term.edge_id,
        "localLabel": d_local, "afterLabel": f"{d_root} after this step",
        "local": _answer(term.local_grad), "after": _answer(term.grad_after),
        "rule": rule_text(step.op, term.slot, n_operands),
        "here": f"{d_local} = {term.local_text}",
        "chain": (f"{d_root} after = {d_root} before + {d_local} * "
                  f"{derivative(root_name, step.node_name)} = {before} + {wrap(d_local)} * "
                  f"{factor(term.upstream)}"),
        "line": f"{d_root} += {d_local} * {derivative(root_name, step.node_name)} = ? * "
                f"{factor(term.upstream)} = ?",
    }


def practice_data(steps: Sequence[Step], title: Optional[str] = None) -> Dict[str, Any]:
    """The quiz of ``steps`` (from ``steps_from_trace``) as JSON-able data for the page.

    ``questions``: step index (as a string) -> one question per term of that backward
    step, each with the engine's answers (``local``, ``after``), the rule of its op
    (``rule``), the rule at this node (``here``) and the chain rule with this step's numbers
    but the local derivative left out (``chain``). ``judge``: the thresholds of the module doc.
    """
    root_name = next((s.node_name for s in steps if s.kind == "seed"), "L")
    questions: Dict[str, List[Dict[str, Any]]] = {}
    for step in steps:
        if step.kind == "backward" and step.terms:
            questions[str(step.index)] = [_question(step, t, root_name) for t in step.terms]
    total = sum(q[key]["value"] is not None for qs in questions.values() for q in qs
                for key in ("local", "after"))
    return {"questions": questions, "count": total, "title": title or "",
            "judge": judge_settings()}


def level_practice_data(tr: Trace, level: NeuronLevel, steps: Sequence[Step],
                        title: Optional[str] = None) -> Dict[str, Any]:
    """The quiz of a neuron-level page (``viz.steps.levels``): each neuron's step asks its
    ``σ'(z[l][j])`` (the activation's local derivative) and its error ``δ[l][j]``.

    Both are the engine's numbers: the term of the neuron's activation node in the recorded
    backward pass (``local_grad`` and ``grad_after``). A neuron with no activation asks
    nothing. The question is the step's first table row, as the page draws it.
    """
    places = {(l, j): (out_id, z_id) for l, j, out_id, z_id in neuron_outputs(tr).values()}
    by_unit = {u.id: u for u in level.units}
    cost = root_name_of(tr)
    questions: Dict[str, List[Dict[str, Any]]] = {}
    for step in level.steps:
        unit = by_unit[step.unit]
        if step.kind != "backward" or unit.kind != "neuron":
            continue
        out_id, z_id = places[(unit.layer, unit.index)]
        act = next((steps[i] for i in step.scalar
                    if steps[i].node_id == out_id and out_id != z_id and steps[i].terms), None)
        if act is None:
            continue
        questions[str(step.index)] = [_neuron_question(act, unit.layer, unit.index, cost)]
    total = sum(q[key]["value"] is not None for qs in questions.values() for q in qs
                for key in ("local", "after"))
    return {"questions": questions, "count": total, "title": title or "",
            "judge": judge_settings()}


def _neuron_question(act: Step, l: int, j: int, cost: str) -> Dict[str, Any]:
    term = act.terms[0]
    delta = f"δ[{l}][{j}]"
    local = derivative(act.node_name, term.operand_name)  # ∂a[l][j]/∂z[l][j], σ'(z[l][j])
    upstream = f"{derivative(cost, act.node_name)} * σ'(z[{l}][{j}])"
    return {
        "operand": "", "edge": "",
        "localLabel": f"σ'(z[{l}][{j}]) = {local}",
        "afterLabel": f"{delta} = {derivative(cost, term.operand_name)}",
        "local": _answer(term.local_grad), "after": _answer(term.grad_after),
        "rule": rule_text(act.op, 0, 1), "here": f"{local} = {term.local_text}",
        "chain": f"{delta} = {upstream} = {factor(term.upstream)} * σ'(z[{l}][{j}])",
        "line": f"{delta} = {upstream} = {factor(term.upstream)} * ? = ?",
    }


def judge_settings() -> Dict[str, Any]:
    """The thresholds a practice page judges with (the stepper's quiz, the explain page's
    exercises): "close" within ``CLOSE_RELATIVE`` or ``CLOSE_ABSOLUTE``, ``TRIES`` tries."""
    return {"closeRelative": CLOSE_RELATIVE, "closeAbsolute": CLOSE_ABSOLUTE, "tries": TRIES}
