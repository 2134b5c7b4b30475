"""The per-step fast paths of a training step give the same numbers as the plain paths."""

from __future__ import annotations

import numpy as np
import pytest

from microgradnn.autodiff import topological_order
from microgradnn.tensor import Tensor, from_uint8, relu
from microgradnn.tensor.tensor import column_sums
from microgradnn.training import to_input


def test_from_uint8_matches_astype_then_scale():
    images = np.random.default_rng(0).integers(0, 256, (5, 28, 28), dtype=np.uint8)
    t = from_uint8(images, 1 / 255, shape=(-1, 784))
    expected = images.reshape(5, 784).astype(np.float32) * np.float32(1 / 255)
    assert t.data.dtype == np.float32 and t.data.shape == (5, 784)
    assert np.array_equal(t.data, expected)
    assert not t.requires_grad and t.is_leaf
    centred = from_uint8(images, 0.5, 3.0)
    assert np.array_equal(centred.data, images.astype(np.float32) * np.float32(0.5) - 3)


def test_to_input_standard_is_unchanged_by_the_one_pass_scaling():
    images = np.arange(256, dtype=np.uint8).reshape(1, 16, 16)
    old = images.reshape(1, 256).astype(np.float32)
    old *= np.float32(1.0 / (255.0 * 0.3081))
    old -= np.float32(0.1307 / 0.3081)
    assert np.array_equal(to_input(images, (256,), "standard"), old)


@pytest.mark.parametrize("bad", [np.array([[np.nan, 1.0]]), np.array([[0.5, np.inf]]),
                                 np.array([[1.0, 2.0]], dtype=np.float32), [[1, 2]],
                                 np.array([[1, 2]], dtype=np.int64)])
def test_from_uint8_refuses_anything_but_uint8(bad):
    # The unchecked constructor can never see user floats: NaN stays unreachable.
    with pytest.raises(TypeError, match="uint8"):
        from_uint8(bad, 1.0)


@pytest.mark.parametrize("scale, offset", [(np.nan, 0.0), (1.0, np.inf), (1e38, 0.0),
                                           (1.0, 3e38), ("1", 0.0), (True, 0.0)])
def test_from_uint8_refuses_scales_that_could_make_non_finite_data(scale, offset):
    with pytest.raises(ValueError, match="from_uint8"):
        from_uint8(np.zeros((2, 2), dtype=np.uint8), scale, offset)


def test_user_float_data_keeps_its_nan_check():
    with pytest.raises(ValueError, match="NaN"):
        Tensor(np.array([[0.0, np.nan]], dtype=np.float32))


def test_backward_walks_the_inner_nodes_in_topological_order():
    rng = np.random.default_rng(1)
    w = Tensor(rng.standard_normal((3, 3)), requires_grad=True)
    x = Tensor(rng.standard_normal((2, 3)))
    h = relu(x @ w)
    shared = h * 2.0
    loss = ((shared + h) * shared).sum() + (w * w).sum()
    inner = topological_order(loss, leaves=False)
    assert inner == [n for n in topological_order(loss) if not n.is_leaf]
    assert inner[-1] is loss and len(set(map(id, inner))) == len(inner)
    assert topological_order(w, leaves=False) == []


@pytest.mark.parametrize("labels, word", [(np.array([0, 3], dtype=np.int64), "3"),
                                          (np.array([-1, 2], dtype=np.int64), "-1"),
                                          (np.array([0, 2, 1], dtype=np.int64), "targets")])
def test_cross_entropy_int64_fast_path_still_checks_targets(labels, word):
    from microgradnn.tensor import cross_entropy
    logits = Tensor(np.zeros((2, 3), dtype=np.float32), requires_grad=True)
    with pytest.raises(ValueError, match=word):
        cross_entropy(logits, labels)


def test_plain_sgd_fast_path_is_p_minus_lr_grad_rounded_once_and_skips_missing_grads():
    from microgradnn.optim import SGD
    rng = np.random.default_rng(2)
    a = Tensor(rng.standard_normal((3, 4)).astype(np.float32), requires_grad=True)
    b = Tensor(rng.standard_normal(4).astype(np.float32), requires_grad=True)
    a.grad = rng.standard_normal((3, 4)).astype(np.float32)
    before_a, before_b = a.data.copy(), b.data.copy()
    opt = SGD([a, b], lr=0.3)
    opt.step()
    fused = before_a + np.float64(np.float32(-0.3)) * a.grad.astype(np.float64)
    assert np.array_equal(a.data, fused.astype(np.float32))
    assert np.array_equal(b.data, before_b) and opt.step_count == 1


def test_sequential_fuses_linear_relu_into_one_node_with_the_same_numbers():
    from microgradnn.tensor import Linear, ReLU, Sequential, cross_entropy
    rng = np.random.default_rng(3)
    net = Sequential(Linear(5, 4, rng=rng), ReLU(), Linear(4, 3, rng=rng))
    x = Tensor(rng.standard_normal((6, 5)).astype(np.float32))
    y = np.array([0, 1, 2, 0, 1, 2])
    fused = net(x)
    assert fused.op == "linear" and fused.operands[0].op == "linear+relu"
    loss = cross_entropy(fused, y)
    loss.backward()
    grads = [p.grad.copy() for p in net.parameters()]
    net.zero_grad()
    hidden = net[1](net[0](x))  # the layers one by one: two nodes, same numbers
    assert hidden.op == "relu" and hidden.operands[0].op == "linear"
    step_by_step = net[2](hidden)
    assert np.array_equal(step_by_step.data, fused.data)
    cross_entropy(step_by_step, y).backward()
    for p, g in zip(net.parameters(), grads):
        assert np.array_equal(p.grad, g)
    # An input that requires grad gets the same gradient through the fused node.
    xg = Tensor(x.data, requires_grad=True)
    cross_entropy(net(xg), y).backward()
    xs = Tensor(x.data, requires_grad=True)
    cross_entropy(net[2](net[1](net[0](xs))), y).backward()
    assert np.array_equal(xg.grad, xs.grad)


def test_fused_linear_relu_without_bias_matches_the_two_layers():
    from microgradnn.tensor import Linear, ReLU, Sequential
    rng = np.random.default_rng(4)
    net = Sequential(Linear(3, 4, bias=False, rng=rng), ReLU())
    x = Tensor(rng.standard_normal((5, 3)).astype(np.float32), requires_grad=True)
    out = net(x)
    assert out.op == "linear+relu" and len(out.operands) == 2
    out.sum().backward()
    gx, gw = x.grad.copy(), net[0].weight.grad.copy()
    x.zero_grad()
    net.zero_grad()
    net[1](net[0](x)).sum().backward()
    assert np.array_equal(x.grad, gx) and np.array_equal(net[0].weight.grad, gw)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(128, 16), (1, 5), (7, 1), (0, 3), (64, 6272)])
def test_column_sums_is_the_axis_0_sum(shape, dtype):
    g = np.random.default_rng(1).standard_normal(shape).astype(dtype)
    got = column_sums(g)
    assert got.shape == (shape[1],) and got.dtype == dtype
    tol = 1e-12 if dtype == np.float64 else 1e-4
    np.testing.assert_allclose(got, g.sum(axis=0), rtol=tol, atol=tol * max(shape[0], 1))
    if shape[0]:
        g[0, 0] = np.nan  # a NaN still reaches the sum
        assert np.isnan(column_sums(g)[0])


@pytest.mark.parametrize("target", [(4,), (1,), (1, 4), (3, 1), (1, 1)])
def test_bias_gradient_through_broadcasting_add(target):
    # (3, 4) + bias: the (N, C) -> (C,) case takes column_sums, the rest the plain sums.
    x = Tensor(np.arange(12.0).reshape(3, 4), requires_grad=True, dtype=np.float64)
    b = Tensor(np.zeros(target), requires_grad=True, dtype=np.float64)
    ((x + b) * x).sum().backward()
    expected = np.arange(12.0).reshape(3, 4)
    expected = expected.sum(axis=tuple(range(2 - len(target))))
    expected = expected.sum(axis=tuple(i for i, n in enumerate(target) if n == 1),
                            keepdims=True).reshape(target)
    assert b.grad.shape == target
    np.testing.assert_allclose(b.grad, expected)
