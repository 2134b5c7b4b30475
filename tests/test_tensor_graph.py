"""Graph bookkeeping: no reference cycles, parameter discovery, repr, dropout gradients."""

from __future__ import annotations

import gc
import weakref

import numpy as np
import pytest

from microgradnn.module import Module
from microgradnn.tensor import (Conv2d, Dropout, Linear, MaxPool2d, ReLU, Sequential, Tensor,
                                cross_entropy, dropout, no_grad)
from microgradnn.tensor.gradcheck import tensor_gradcheck


def test_graph_is_freed_by_reference_counting_alone():
    net = Sequential(Conv2d(1, 2, 3, padding=1), ReLU(), MaxPool2d(2))
    gc.disable()
    try:
        x = Tensor(np.random.default_rng(0).standard_normal((2, 1, 6, 6)).astype(np.float32))
        hidden = net[0](x)
        out = net[2](net[1](hidden))
        loss = out.sum()
        loss.backward()
        ref = weakref.ref(hidden)
        del hidden, out, loss
        assert ref() is None  # no cycle kept the inner node alive
    finally:
        gc.enable()


def test_is_parameter_only_for_leaves_that_require_grad():
    w = Tensor(np.ones(3), requires_grad=True)
    assert w.is_parameter and w.is_leaf
    assert not Tensor(np.ones(3)).is_parameter
    assert not (w * 2).is_parameter


class Block(Module):
    """A residual block written by hand: y = relu(x + f(x))."""

    def __init__(self, width: int) -> None:
        self.body = Sequential(Linear(width, width, dtype=np.float64), ReLU(),
                               Linear(width, width, dtype=np.float64))

    def forward(self, x):
        return (x + self.body(x)).relu()


def test_nested_modules_find_parameters_with_dotted_names():
    net = Sequential(Block(3), Block(3), Linear(3, 2, dtype=np.float64))
    names = [n for n, _ in net.named_parameters()]
    assert names[:4] == ["0.body.0.weight", "0.body.0.bias", "0.body.2.weight", "0.body.2.bias"]
    assert names[-2:] == ["2.weight", "2.bias"]
    assert len(names) == len(set(names)) == 10
    x = np.random.default_rng(1).standard_normal((4, 3))
    loss = cross_entropy(net(Tensor(x)), [0, 1, 1, 0])
    loss.backward()
    assert all(p.grad is not None and p.grad.shape == p.data.shape for p in net.parameters())


def test_load_state_dict_keeps_the_layer_dtype():
    layer = Linear(3, 2)
    state = {k: v.astype(np.float64) + 1 for k, v in layer.state_dict().items()}
    layer.load_state_dict(state)
    assert layer.weight.dtype == np.float32
    np.testing.assert_allclose(layer.weight.data, state["weight"], rtol=1e-6)
    with pytest.raises(ValueError, match="NaN"):
        layer.load_state_dict({"weight": np.full((2, 3), np.nan), "bias": np.zeros(2)})


def test_dropout_gradient_matches_finite_differences_with_a_fixed_mask():
    x = np.random.default_rng(2).standard_normal((4, 5))
    tensor_gradcheck(lambda t: dropout(t, 0.3, True, np.random.default_rng(7)), [x])


def test_dropout_layer_is_identity_in_eval_and_under_no_grad_builds_nothing():
    layer = Dropout(0.2).eval()
    x = Tensor(np.ones((2, 2)), requires_grad=True)
    assert layer(x) is x
    with no_grad():
        y = Linear(2, 2, dtype=np.float64)(x)
    assert y.operands == () and not y.requires_grad


def test_repr_shows_value_or_shape():
    assert repr(Tensor([2.5])) == "Tensor(2.5000, dtype=float32)"
    assert "shape=(2, 3)" in repr(Tensor(np.zeros((2, 3)), requires_grad=True))
    assert repr(Conv2d(1, 8, 3, padding=1)).startswith("Conv2d(1, 8, kernel_size=(3, 3)")


def test_detach_and_item():
    a = Tensor([3.0], requires_grad=True)
    b = (a * 2).detach()
    assert not b.requires_grad and b.item() == 6.0
    with pytest.raises(ValueError, match="one-element"):
        Tensor(np.zeros(2)).item()


def test_leaves_never_share_a_gradient_array():
    a = Tensor(np.ones(3), requires_grad=True)
    b = Tensor(np.ones(3), requires_grad=True)
    (a + b).backward(np.array([1.0, 2.0, 3.0]))
    a.grad *= 10  # must not change b's gradient
    np.testing.assert_array_equal(b.grad, [1.0, 2.0, 3.0])


def test_backward_on_a_leaf_copies_the_given_gradient():
    a = Tensor(np.ones(2), requires_grad=True)
    upstream = np.array([1.0, 2.0])
    a.backward(upstream)
    a.grad *= 3
    np.testing.assert_array_equal(upstream, [1.0, 2.0])
    s = Tensor([2.0], requires_grad=True)
    s.backward()
    s.grad += 1  # writable, not the shared read-only seed
    assert s.grad[0] == 2.0
