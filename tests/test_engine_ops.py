"""The op table (engine.OPS): one entry per op the engine builds, formulas that agree with it."""

from __future__ import annotations

import math
import re

import pytest

from microgradnn.engine import OPS, WEIGHTED_SUM, Value, op_info, weighted_sum

# One node per op ``Value`` builds, with operands far from any kink.
BUILDERS = {
    "+": lambda a, b: a + b,
    "-": lambda a, b: a - b,
    "*": lambda a, b: a * b,
    "/": lambda a, b: a / b,
    "neg": lambda a, b: -a,
    "**": lambda a, b: a ** b,
    "**k": lambda a, b: a ** 3,
    "exp": lambda a, b: a.exp(),
    "log": lambda a, b: a.log(),
    "tanh": lambda a, b: a.tanh(),
    "sigmoid": lambda a, b: a.sigmoid(),
    "relu": lambda a, b: a.relu(),
    WEIGHTED_SUM: lambda a, b: weighted_sum([a, b], [b, Value(0.25)], Value(-0.5)),
}


def evaluate(text: str) -> float:
    """A derivative text with numbers filled in, as Python (test only: our own strings)."""
    text = text.replace("²", "**2")
    text = re.sub(r"\[(.+?) > 0\]", r"(1.0 if \1 > 0 else 0.0)", text)
    return eval(text, {"__builtins__": {}}, {"log": math.log})  # noqa: S307


def test_every_op_the_engine_builds_has_an_entry():
    assert set(BUILDERS) == set(OPS)
    for key, build in BUILDERS.items():
        node = build(Value(1.3), Value(0.7))
        info = op_info(node.op)
        assert info is not None, key
        assert info.name == OPS[key].name
        if info.arity is not None:
            assert info.arity == len(node.operands)
        assert len(info.derivatives_for(len(node.operands))) == len(node.operands)


@pytest.mark.parametrize("key", sorted(BUILDERS))
@pytest.mark.parametrize("a, b", [(1.3, 0.7), (0.4, -1.6), (2.5, 3.0)])
def test_derivative_formulas_give_the_stored_local_derivatives(key, a, b):
    node = BUILDERS[key](Value(a), Value(b))
    info = op_info(node.op)
    numbers = [f"({o.data!r})" for o in node.operands]
    for template, stored in zip(info.derivatives_for(len(numbers)), node.local_grads):
        text = info.fill(template, numbers, f"({node.data!r})")
        assert evaluate(text) == pytest.approx(stored, rel=1e-12, abs=1e-12), (template, text)


def test_forward_formulas_give_the_stored_value():
    for key, build in BUILDERS.items():
        if key in ("exp", "log", "tanh", "sigmoid", "relu"):
            continue  # calls: the formula is the function's name
        node = build(Value(1.3), Value(0.7))
        info = op_info(node.op)
        numbers = [f"({o.data!r})" for o in node.operands]
        text = info.fill(info.formula_for(len(numbers)), numbers)
        assert evaluate(text) == pytest.approx(node.data, rel=1e-12), (key, text)


def test_templates_read_like_the_textbook():
    assert OPS["*"].derivatives == ("{b}", "{a}")
    assert OPS["tanh"].fill(OPS["tanh"].derivatives[0], ["z"], "o") == "1 - o²"
    square = op_info("**2")
    assert square.fill(square.formula, ["x"]) == "x**2"
    assert square.fill(square.derivatives[0], ["x"]) == "2*x"
    ws = OPS[WEIGHTED_SUM]
    assert ws.operand_names(5) == ("w1", "w2", "x1", "x2", "b")
    assert ws.fill(ws.formula_for(5), ["w1", "w2", "x1", "x2", "b"]) == "w1*x1 + w2*x2 + b"
    assert ws.derivatives_for(5) == ("{x1}", "{x2}", "{w1}", "{w2}", "1")


def test_unknown_ops_have_no_entry():
    assert op_info("mystery") is None
    assert op_info("**x") is None
    assert op_info("**2.50") is None  # not how the engine spells 2.5
    assert op_info("**2.5").derivatives == ("2.5*{a}**1.5",)
