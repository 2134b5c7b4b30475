"""Hypothesis: random expression graphs (with reuse) against PyTorch and finite differences."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from microgradnn import Value, gradcheck, numerical_gradient

# Ops written once for both engines. Each keeps values bounded so float64 stays exact
# enough for a 1e-9 comparison; ``smooth`` ones are safe for finite differences.
UNARY = {
    "tanh": lambda a: a.tanh(),
    "sigmoid": lambda a: a.sigmoid(),
    "square": lambda a: a ** 2,
    "exp_tanh": lambda a: a.tanh().exp(),
    "log_1p_sq": lambda a: (1.0 + a * a).log(),
    "neg": lambda a: -a,
    "relu": lambda a: a.relu(),
}
BINARY = {
    "add": lambda a, b: a + b,
    "sub": lambda a, b: a - b,
    "mul": lambda a, b: a * b,
    "safe_div": lambda a, b: a / (1.0 + b * b),
    "pow_value": lambda a, b: (1.0 + a * a) ** b.tanh(),
}

op_names = st.sampled_from(sorted(UNARY) + sorted(BINARY))
program_strategy = st.lists(st.tuples(op_names, st.integers(0, 100), st.integers(0, 100)),
                            min_size=1, max_size=10)
inputs_strategy = st.lists(st.floats(-2.0, 2.0, allow_nan=False), min_size=1, max_size=3)


def build(program, leaves):
    """Apply the program; operand indices pick among all nodes so far (reuse included)."""
    nodes = list(leaves)
    for name, i, j in program:
        a, b = nodes[i % len(nodes)], nodes[j % len(nodes)]
        nodes.append(UNARY[name](a) if name in UNARY else BINARY[name](a, b))
    out = nodes[-1]
    for node in nodes[len(leaves):-1]:  # make every intermediate count once more
        out = out + 0.5 * node.tanh()
    return out


@settings(max_examples=150, deadline=None)
@given(program=program_strategy, inputs=inputs_strategy)
def test_random_graphs_match_pytorch(program, inputs):
    leaves = [Value(x) for x in inputs]
    out = build(program, leaves)
    out.backward()
    t_leaves = [torch.tensor(x, dtype=torch.float64, requires_grad=True) for x in inputs]
    t_out = build(program, t_leaves)
    if not t_out.requires_grad:  # the program never touched a leaf
        return
    t_out.backward()
    assert out.data == pytest.approx(t_out.item(), rel=1e-9, abs=1e-9)
    for leaf, t_leaf in zip(leaves, t_leaves):
        expected = 0.0 if t_leaf.grad is None else t_leaf.grad.item()
        assert leaf.grad == pytest.approx(expected, rel=1e-9, abs=1e-9)


@settings(max_examples=100, deadline=None)
@given(program=st.lists(st.tuples(st.sampled_from([n for n in sorted(UNARY) + sorted(BINARY)
                                                   if n != "relu"]),
                                  st.integers(0, 100), st.integers(0, 100)), min_size=1, max_size=8),
       inputs=inputs_strategy)
def test_random_smooth_graphs_match_finite_differences(program, inputs):
    gradcheck(lambda *xs: build(program, xs), inputs, atol=1e-4, rtol=1e-4)


def test_gradcheck_catches_a_wrong_derivative():
    """The checker itself can fail: a deliberately wrong local derivative is reported."""

    def wrong_square(x):
        return Value(x.data ** 2, op="bad", operands=(x,), local_grads=(x.data,))  # should be 2x

    with pytest.raises(AssertionError, match="input 0"):
        gradcheck(wrong_square, [1.5])
    assert numerical_gradient(wrong_square, [1.5]) == pytest.approx([3.0], abs=1e-6)
