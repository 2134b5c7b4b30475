"""The scalar engine: every op against PyTorch (float64, 1e-9) and finite differences."""

from __future__ import annotations

import math

import pytest
import torch

from microgradnn import Value, gradcheck, weighted_sum

# Each case: (name, function of two arguments written once for both engines, inputs).
# The functions use only operators and methods both Value and torch.Tensor have.
BINARY_CASES = [
    ("add", lambda a, b: a + b, (1.5, -2.25)),
    ("sub", lambda a, b: a - b, (1.5, -2.25)),
    ("mul", lambda a, b: a * b, (1.5, -2.25)),
    ("div", lambda a, b: a / b, (1.5, -2.25)),
    ("pow_value_exponent", lambda a, b: a ** b, (1.7, -0.6)),
    ("radd", lambda a, b: 3.0 + a, (1.5, 0.0)),
    ("rsub", lambda a, b: 3.0 - a * b, (1.5, 0.5)),
    ("rmul", lambda a, b: -2.5 * a + b, (1.5, 0.5)),
    ("rdiv", lambda a, b: 2.0 / (a * b), (1.5, 0.5)),
    ("rpow", lambda a, b: 2.0 ** (a - b), (1.5, 0.5)),
    ("neg", lambda a, b: -a * b, (1.5, 0.5)),
    ("pow_int", lambda a, b: a ** 3 + b ** 2, (-1.3, 0.7)),
    ("pow_negative_int", lambda a, b: a ** -2 * b, (-1.3, 0.7)),
    ("pow_fraction", lambda a, b: a ** 0.5 + b ** 1.5, (2.3, 0.7)),
    ("exp", lambda a, b: (a * b).exp(), (1.5, 0.5)),
    ("log", lambda a, b: (a * b).log(), (1.5, 0.5)),
    ("tanh", lambda a, b: (a * b).tanh(), (1.5, 0.5)),
    ("sigmoid", lambda a, b: (a - b).sigmoid(), (1.5, 0.5)),
    ("sigmoid_very_negative", lambda a, b: (a * b).sigmoid(), (-800.0, 1.0)),
    ("relu_positive", lambda a, b: (a * b).relu(), (1.5, 0.5)),
    ("relu_negative", lambda a, b: (a * b).relu() + a, (-1.5, 0.5)),
    ("reuse_square", lambda a, b: a * a, (3.0, 0.0)),
    ("reuse_doubling", lambda a, b: (a + a) + (a + a), (3.0, 0.0)),
    ("neuron", lambda a, b: (a * -3.0 + b).tanh(), (2.0, 6.8813735870195432)),
    ("composite", lambda a, b: ((a * b).exp() + (a / b).tanh() * (a - b).sigmoid()).log() ** 2,
     (0.8, 1.1)),
    ("micrograd_sanity", lambda a, b: (a * 2 + 2 + a).relu() + (a * 2 + 2 + a) * (a * 2 + 2 + a),
     (-4.0, 0.0)),
]


def run_ours(fn, inputs):
    leaves = [Value(x) for x in inputs]
    out = fn(*leaves)
    out.backward()
    return out.data, [leaf.grad for leaf in leaves]


def run_torch(fn, inputs):
    leaves = [torch.tensor(x, dtype=torch.float64, requires_grad=True) for x in inputs]
    out = fn(*leaves)
    out.backward()
    return out.item(), [0.0 if leaf.grad is None else leaf.grad.item() for leaf in leaves]


@pytest.mark.parametrize("name,fn,inputs", BINARY_CASES, ids=[c[0] for c in BINARY_CASES])
def test_against_pytorch(name, fn, inputs):
    ours, our_grads = run_ours(fn, inputs)
    theirs, their_grads = run_torch(fn, inputs)
    assert ours == pytest.approx(theirs, rel=1e-9, abs=1e-9)
    assert our_grads == pytest.approx(their_grads, rel=1e-9, abs=1e-9)


# At -800 the sigmoid's slope is below float precision: differences see nothing there.
FD_CASES = [c for c in BINARY_CASES if c[0] != "sigmoid_very_negative"]


@pytest.mark.parametrize("name,fn,inputs", FD_CASES, ids=[c[0] for c in FD_CASES])
def test_against_finite_differences(name, fn, inputs):
    gradcheck(fn, inputs)


def test_classic_neuron_numbers():
    x, w, b = Value(2.0, label="x"), Value(-3.0, label="w"), Value(6.8813735870195432, label="b")
    o = (x * w + b).tanh()
    o.backward()
    assert o.data == pytest.approx(math.sqrt(0.5), abs=1e-12)
    assert x.grad == pytest.approx(-1.5, abs=1e-12)
    assert w.grad == pytest.approx(1.0, abs=1e-12)
    assert b.grad == pytest.approx(0.5, abs=1e-12)


def test_operands_keep_order_and_duplicates():
    a, b = Value(3.0), Value(4.0)
    c = a * a
    assert c.operands == (a, a) and c.local_grads == (3.0, 3.0)
    d = b - a
    assert d.operands == (b, a) and d.local_grads == (1.0, -1.0)
    c.backward()
    assert a.grad == 6.0


def test_reuse_chain_b_eq_a_plus_a():
    a = Value(2.0)
    b = a + a
    c = b + b
    c.backward()
    assert a.grad == 4.0 and b.grad == 2.0 and c.grad == 1.0


def test_power_by_value_records_both_local_derivatives():
    x, k = Value(2.0), Value(3.0)
    y = x ** k
    assert y.data == 8.0
    assert y.local_grads == pytest.approx((12.0, 8.0 * math.log(2.0)))


def test_weighted_sum_matches_primitive_chain_and_pytorch():
    ws = [Value(v) for v in (0.5, -1.5, 2.0)]
    xs = [Value(v) for v in (1.0, 3.0, -0.25)]
    b = Value(0.125)
    fused = weighted_sum(ws, xs, b).tanh()
    fused.backward()
    fused_grads = [v.grad for v in ws + xs + [b]]
    for v in ws + xs + [b]:
        v.zero_grad()
    chain = b
    for w, x in zip(ws, xs):
        chain = w * x + chain
    chain = chain.tanh()
    chain.backward()
    assert fused.data == pytest.approx(chain.data, abs=1e-15)
    assert fused_grads == pytest.approx([v.grad for v in ws + xs + [b]], abs=1e-15)
    tw = torch.tensor([0.5, -1.5, 2.0], dtype=torch.float64, requires_grad=True)
    tx = torch.tensor([1.0, 3.0, -0.25], dtype=torch.float64, requires_grad=True)
    tb = torch.tensor(0.125, dtype=torch.float64, requires_grad=True)
    torch.tanh(tw @ tx + tb).backward()
    expected = tw.grad.tolist() + tx.grad.tolist() + [tb.grad.item()]
    assert fused_grads == pytest.approx(expected, rel=1e-9, abs=1e-12)


def test_weighted_sum_refuses_length_mismatch():
    with pytest.raises(ValueError, match="2 weights but 3 inputs"):
        weighted_sum([Value(1.0), Value(2.0)], [1.0, 2.0, 3.0], Value(0.0))


def test_leaves_accumulate_across_backward_calls_and_zero_grad_clears():
    x = Value(3.0)
    y = x * x
    y.backward()
    assert x.grad == 6.0
    z = x * 2.0
    z.backward()
    assert x.grad == 8.0  # accumulated, as in PyTorch
    x.zero_grad()
    assert x.grad == 0.0


def test_second_backward_on_same_graph_adds_the_gradient_again():
    """Documented: like PyTorch with retain_graph=True, leaves get 2x; inner nodes hold 1x."""
    x = Value(1.5)
    h = x.tanh()
    y = h * h
    y.backward()
    first_x, first_h = x.grad, h.grad
    y.backward()
    assert x.grad == pytest.approx(2 * first_x)
    assert h.grad == pytest.approx(first_h)  # inner nodes are reset, not accumulated
    assert y.grad == 1.0
    tx = torch.tensor(1.5, dtype=torch.float64, requires_grad=True)
    ty = torch.tanh(tx) ** 2
    ty.backward(retain_graph=True)
    ty.backward()
    assert x.grad == pytest.approx(tx.grad.item(), rel=1e-12)


def test_dead_relu_passes_zero_even_through_an_infinite_local_derivative():
    """Documented: a node with zero gradient sends nothing back (0 * inf = 0)."""
    x = Value(0.0)
    y = (x ** 0.5).relu() * 0.0
    y.backward()
    assert x.grad == 0.0


def test_one_million_deep_chain_has_no_recursion_error():
    x = Value(1.0)
    y = x
    for _ in range(1_000_000):
        y = y + 1e-6
    y.backward()
    assert x.grad == 1.0
    assert y.data == pytest.approx(2.0, abs=1e-6)
    del y  # freeing a deep chain must not overflow the C stack either


def test_repr_shows_data_grad_and_label():
    v = Value(1.23456, label="w")
    assert repr(v) == "Value(data=1.2346, grad=0.0000, label='w')"


# ---- bad input: clear errors naming the op and the value ----

@pytest.mark.parametrize("bad", ["abc", None, [1.0], True, 1 + 2j])
def test_value_refuses_non_numbers(bad):
    with pytest.raises(TypeError, match="expected a real number") as info:
        Value(bad)
    assert repr(bad) in str(info.value)


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_value_refuses_nan_and_inf(bad):
    with pytest.raises(ValueError, match="non-finite"):
        Value(bad)


def test_adding_a_string_is_refused_clearly():
    with pytest.raises(TypeError, match="'abc'"):
        Value(1.0) + "abc"


@pytest.mark.parametrize("x", [0.0, -2.0])
def test_log_of_non_positive(x):
    with pytest.raises(ValueError, match=rf"log of a non-positive number: log\({x!r}\)"):
        Value(x).log()


def test_zero_to_negative_power():
    with pytest.raises(ZeroDivisionError, match=r"0.0 \*\* -1.0"):
        Value(0.0) ** -1


def test_negative_base_fractional_exponent():
    with pytest.raises(ValueError, match=r"negative base with a non-integer exponent: -2.0 \*\* 0.5"):
        Value(-2.0) ** 0.5
    with pytest.raises(ValueError, match="non-integer exponent"):
        Value(-2.0) ** Value(0.5)


def test_negative_base_integer_value_exponent_gives_documented_nan_local():
    x, k = Value(-2.0), Value(2.0)
    y = x ** k
    y.backward()
    assert y.data == 4.0 and x.grad == -4.0
    assert math.isnan(k.grad)  # d/dk of (-2)**k is complex: NaN, as PyTorch gives


def test_division_by_zero():
    with pytest.raises(ZeroDivisionError, match=r"division by zero: 1.0 / 0.0"):
        Value(1.0) / 0


def test_exp_overflow():
    with pytest.raises(OverflowError, match=r"exp overflow: exp\(1000.0\)"):
        Value(1000.0).exp()


def test_product_overflow_is_named():
    with pytest.raises(ValueError, match=r"\*: got a non-finite number inf"):
        Value(1e200) * 1e200
