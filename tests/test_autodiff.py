"""The one backward loop (microgradnn.autodiff): order, semantics and the recording hook."""

from __future__ import annotations

import math

import numpy as np
import pytest

from microgradnn import Value
from microgradnn.autodiff import backward, topological_order
from microgradnn.tensor import Tensor, relu
from microgradnn.tensor.tensor import make_node


def recorder():
    calls = []
    return calls, lambda node, upstream, contributions: calls.append((node, upstream,
                                                                      contributions))


def test_topological_order_without_leaves_keeps_the_relative_order():
    x, w = Value(2.0), Value(-3.0)
    y = (x * w + x).tanh() * (x * w)
    full = topological_order(y)
    assert full[-1] is y
    assert topological_order(y, leaves=False) == [n for n in full if n.operands]
    assert topological_order(x, leaves=False) == [] and topological_order(x) == [x]


def test_record_sees_every_inner_node_in_reverse_order_with_exact_contributions():
    a, b = Value(1.5), Value(-2.0)
    c = a * b
    d = c + a
    out = d * d
    calls, record = recorder()
    backward(out, 1.0, record=record)
    inner = topological_order(out, leaves=False)
    assert [node for node, _, _ in calls] == inner[::-1]
    upstreams = {id(node): up for node, up, _ in calls}
    assert upstreams[id(out)] == 1.0
    for node, upstream, contributions in calls:
        assert contributions == tuple(local * upstream for local in node.local_grads)
    # a receives from c (slot 0) and from d (slot 1): its grad is the sum of both
    from_c = next(cs[0] for n, _, cs in calls if n is c)
    from_d = next(cs[1] for n, _, cs in calls if n is d)
    assert a.grad == 0.0 + from_d + from_c


def test_recording_gives_the_same_gradients_as_not_recording():
    def build():
        xs = [Value(v) for v in (0.3, -1.2, 2.0)]
        y = ((xs[0] * xs[1]).relu() + xs[2] ** 2 - xs[0] / xs[2]).tanh() * xs[1].exp()
        return xs, y

    xs1, y1 = build()
    backward(y1, 1.0)
    xs2, y2 = build()
    backward(y2, 1.0, record=lambda *args: None)
    assert [x.grad for x in xs1] == [x.grad for x in xs2]


def test_a_zero_gradient_is_skipped_and_recorded_as_none():
    """The issue's case: dL/dx = 0 for L = (x ** 0.5) * 0 at x = 0, though d(x**0.5)/dx = inf."""
    x = Value(0.0)
    root = x ** 0.5
    loss = root * 0
    calls, record = recorder()
    backward(loss, 1.0, record=record)
    assert x.grad == 0.0
    assert [(n, c) for n, _, c in calls if n is root] == [(root, None)]
    assert math.isinf(root.local_grads[0])


def test_given_order_walks_nothing_again_and_gives_the_same_result():
    x = Value(0.7)
    y = (x * x).sigmoid() + x
    order = topological_order(y)
    backward(y, 1.0, order=order)
    first = x.grad
    x.grad = 0.0
    backward(y, 1.0)
    assert x.grad == first


def test_inner_nodes_reset_and_leaves_accumulate_with_a_seed():
    x = Value(3.0)
    y = x * x
    backward(y, 2.0)
    backward(y, 2.0)
    assert y.grad == 2.0  # inner: this call's seed only
    assert x.grad == 2 * 2.0 * 6.0  # leaf: both calls


def test_tensor_record_reports_what_each_operand_received():
    w = Tensor(np.array([[1.0, -2.0], [0.5, 3.0]]), requires_grad=True)
    x = Tensor(np.array([[1.0, 1.0]]))  # no gradient: its slot receives nothing
    h = relu(x @ w)
    loss = (h * h).sum()
    calls, record = recorder()
    backward(loss, np.ones(()), record=record)
    inner = topological_order(loss, leaves=False)
    assert [node for node, _, _ in calls] == inner[::-1]
    matmul = next((node, up, cs) for node, up, cs in calls if node.op == "@")
    node, upstream, (to_x, to_w) = matmul
    assert to_x is None
    np.testing.assert_array_equal(to_w, w.grad)
    np.testing.assert_array_equal(upstream, node.grad)


def test_tensor_node_without_gradient_is_skipped_and_recorded_as_none():
    w = Tensor(np.array([2.0]), requires_grad=True)
    doubled = make_node(w.data * 2, (w,), lambda g, ctx, ops: (g * 2,), None, "double")
    # An op that passes nothing back (like a stop-gradient) leaves ``doubled`` without one.
    stopped = make_node(doubled.data.sum(), (doubled,), lambda g, ctx, ops: (None,), None, "stop")
    calls, record = recorder()
    backward(stopped, np.ones(()), record=record)
    assert [(node.op, up is None, cs) for node, up, cs in calls] == [("stop", False, (None,)),
                                                                     ("double", True, None)]
    assert doubled.grad is None and w.grad is None
