"""The safe expression parser: what it builds, and everything it refuses."""

from __future__ import annotations

import math

import pytest

from microgradnn.engine import Value
from microgradnn.expression import (MAX_EXPRESSION_LENGTH, parse_assignments,
                                    parse_expression)

V = {"x": 2.0, "w": -3.0, "b": 6.8813735870195432}


def test_classic_neuron_value_and_gradients():
    o = parse_expression("tanh(x*w + b)", V)
    assert o.op == "tanh" and o.data == pytest.approx(math.sqrt(0.5), abs=1e-6)
    o.backward()
    (z,) = o.operands
    xw, b = z.operands
    x, w = xw.operands
    assert (x.label, w.label, b.label) == ("x", "w", "b")
    assert x.grad == pytest.approx(-1.5, abs=1e-6) and w.grad == pytest.approx(1.0, abs=1e-6)


def test_one_leaf_per_name_even_when_used_twice():
    y = parse_expression("x*x + x", {"x": 3.0})
    xx, x = y.operands
    assert xx.operands[0] is xx.operands[1] is x
    y.backward()
    assert x.grad == 7.0


@pytest.mark.parametrize("text, expected", [
    ("x**2", 4.0), ("x ** -1", 0.5), ("2**x", 4.0), ("x**w", 0.125), ("-x", -2.0), ("+x", 2.0),
    ("x - -3", 5.0), ("x / 4", 0.5), ("exp(0*x)", 1.0), ("log(x)", math.log(2.0)),
    ("sigmoid(0*x)", 0.5), ("relu(w)", 0.0), ("relu(x)", 2.0), ("1e-3 + x", 2.001),
    ("((x))", 2.0), ("  x * 2  ", 4.0),
])
def test_allowed_expressions(text, expected):
    assert parse_expression(text, V).data == pytest.approx(expected)


@pytest.mark.parametrize("method", ["exp", "log", "tanh", "sigmoid", "relu"])
def test_engine_methods_are_the_engine_functions(method):
    # the README's tour writes (a*b + c).tanh(): the same node as tanh(a*b + c)
    as_method = parse_expression(f"(x*w + b).{method}()", {"x": 2.0, "w": 0.5, "b": 0.25})
    as_function = parse_expression(f"{method}(x*w + b)", {"x": 2.0, "w": 0.5, "b": 0.25})
    assert as_method.op == as_function.op == method
    assert as_method.data == as_function.data
    as_method.backward()
    as_function.backward()
    assert [v.grad for v in as_method.operands] == [v.grad for v in as_function.operands]


def test_method_calls_chain_and_share_leaves():
    y = parse_expression("x.exp().log() + x", {"x": 1.5})
    assert y.data == pytest.approx(3.0)
    y.backward()
    leaf = y.operands[1]
    assert leaf.label == "x" and leaf.grad == pytest.approx(2.0)
    assert parse_expression("2 .tanh()", {}).data == pytest.approx(math.tanh(2))


def test_power_with_a_literal_exponent_is_one_op():
    y = parse_expression("x ** 2", V)
    assert y.op == "**2" and len(y.operands) == 1
    assert parse_expression("x ** -1", V).op == "**-1"
    y = parse_expression("x ** w", V)
    assert y.op == "**" and len(y.operands) == 2


def test_numbers_become_unlabelled_constants():
    y = parse_expression("x + 1", V)
    assert isinstance(y.operands[1], Value) and y.operands[1].label == ""
    assert parse_expression("-3", {}).data == -3.0


@pytest.mark.parametrize("text, named", [
    ("x.__class__", "attribute access"),
    ("__import__('os')", "calling '__import__'"),
    ("__import__", "'__import__' has no value"),
    ("(lambda: 1)()", "lambda"),
    ("lambda: x", "lambda"),
    ("x[0]", "subscript"),
    ("[i for i in x]", "list comprehension"),
    ("{i for i in x}", "set comprehension"),
    ("(i for i in x)", "generator expression"),
    ("print(x)", "calling 'print'"),
    ("eval('1')", "calling 'eval'"),
    ("x.exp(2)", ".exp() takes no arguments"),
    ("x.tanh(w=1)", ".tanh() takes no arguments"),
    ("x.backward()", "calling 'x.backward'"),
    ("x.__class__()", "calling 'x.__class__'"),
    ("(x*w).__init__(1)", "calling '(x*w).__init__'"),
    ("open('/etc/passwd')", "calling 'open'"),
    ("x // 2", "'//'"),
    ("x % 2", "'%'"),
    ("x @ w", "'@'"),
    ("~x", "'~'"),
    ("not x", "'not'"),
    ("x < 2", "comparison"),
    ("x and w", "boolean operator"),
    ("x if w else b", "conditional expression"),
    ("(y := 2)", "assignment expression"),
    ("'text'", "constant 'text'"),
    ("True", "constant True"),
    ("1j", "constant 1j"),
    ("f'{x}'", "f-string"),
    ("[x, w]", "list"),
    ("x, w", "tuple"),
    ("tanh", "'tanh' is a function"),
    ("tanh(x, w)", "exactly one argument"),
    ("tanh(x=1)", "exactly one argument"),
    ("tanh(*x)", "exactly one argument"),
    ("unknown + 1", "'unknown' has no value"),
])
def test_refusals_name_the_construct(text, named):
    with pytest.raises(ValueError) as info:
        parse_expression(text, V)
    assert named in str(info.value)


@pytest.mark.parametrize("text, message", [
    ("x +", "cannot parse expression"),
    ("import os", "cannot parse expression"),
    ("x = 1", "cannot parse expression"),
    ("", "empty"),
    ("   ", "empty"),
    ("1/(x-2)", "division by zero"),
    ("log(x - 2)", "log of a non-positive number"),
    ("exp(1000*x)", "exp overflow"),
    ("10**400", "overflow"),
    ("1e400", "not finite"),
    ("(" * 250 + "x" + ")" * 250, "nested parentheses"),
])
def test_syntax_and_math_errors_are_value_errors(text, message):
    with pytest.raises(ValueError, match=message):
        parse_expression(text, V)


def test_length_limit_and_long_flat_sums():
    assert parse_expression("+".join(["x"] * 500), {"x": 1.0}).data == 500.0
    with pytest.raises(ValueError, match="characters long"):
        parse_expression("x+" * MAX_EXPRESSION_LENGTH + "x", {"x": 1.0})
    with pytest.raises(TypeError, match="string"):
        parse_expression(42, V)


def test_parse_assignments():
    assert parse_assignments(["x=2", "w = -3", "b=6.8814", "tiny=1e-3"]) == \
        {"x": 2.0, "w": -3.0, "b": 6.8814, "tiny": 0.001}
    assert parse_assignments([]) == {}


@pytest.mark.parametrize("items, message", [
    (["x"], "expected NAME=VALUE, got 'x'"),
    (["=2"], "'' in '=2' is not a valid name"),
    (["2x=1"], "'2x' in '2x=1' is not a valid name"),
    (["x=abc"], "the value of 'x' is not a number: 'abc'"),
    (["x="], "the value of 'x' is not a number: ''"),
    (["x=nan"], "must be finite"),
    (["x=inf"], "must be finite"),
    (["x=1", "x=2"], "'x' is given a value twice"),
    (["tanh=1"], "'tanh' is a function name"),
])
def test_parse_assignments_errors(items, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        parse_assignments(items)
