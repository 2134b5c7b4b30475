"""Tensor ops: finite differences (float64) and PyTorch (forward + backward) for each op."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from microgradnn.gradcheck import GradcheckError
from microgradnn.tensor import Tensor, no_grad
from microgradnn.tensor import functional as F
from microgradnn.tensor.gradcheck import tensor_gradcheck

RNG = np.random.default_rng(1234)


def positive(*shape):
    return RNG.uniform(0.5, 2.0, shape)


def normal(*shape):
    return RNG.standard_normal(shape)


def away_from_zero(*shape):
    """Values at least 0.1 away from 0, so relu's kink never sits inside a finite difference."""
    x = RNG.uniform(0.1, 2.0, shape)
    return x * RNG.choice([-1.0, 1.0], shape)


# (name, our function, torch function, input arrays)
CASES = [
    ("add broadcast", lambda a, b: a + b, lambda a, b: a + b, [normal(3, 4), normal(4)]),
    ("add scalar", lambda a: 2.5 + a, lambda a: 2.5 + a, [normal(2, 3)]),
    ("sub broadcast", lambda a, b: a - b, lambda a, b: a - b, [normal(3, 1), normal(1, 4)]),
    ("rsub", lambda a: 1.0 - a, lambda a: 1.0 - a, [normal(5)]),
    ("mul broadcast", lambda a, b: a * b, lambda a, b: a * b, [normal(2, 3, 4), normal(3, 1)]),
    ("mul self", lambda a: a * a, lambda a: a * a, [normal(4)]),
    ("div", lambda a, b: a / b, lambda a, b: a / b, [normal(3, 4), positive(4)]),
    ("rdiv", lambda a: 3.0 / a, lambda a: 3.0 / a, [positive(3)]),
    ("pow scalar", lambda a: a ** 3, lambda a: a ** 3, [normal(3, 2)]),
    ("pow fractional", lambda a: a ** 0.5, lambda a: a ** 0.5, [positive(4)]),
    ("pow tensor", lambda a, b: a ** b, lambda a, b: a ** b, [positive(3, 2), normal(2)]),
    ("rpow", lambda a: 2.0 ** a, lambda a: 2.0 ** a, [normal(4)]),
    ("neg", lambda a: -a, lambda a: -a, [normal(3)]),
    ("matmul 2d", lambda a, b: a @ b, lambda a, b: a @ b, [normal(3, 4), normal(4, 5)]),
    ("matmul vec", lambda a, b: a @ b, lambda a, b: a @ b, [normal(3, 4), normal(4)]),
    ("vec matmul", lambda a, b: a @ b, lambda a, b: a @ b, [normal(4), normal(4, 2)]),
    ("dot", lambda a, b: a @ b, lambda a, b: a @ b, [normal(4), normal(4)]),
    ("batched matmul", lambda a, b: a @ b, lambda a, b: a @ b, [normal(2, 3, 4), normal(4, 2)]),
    ("exp", lambda a: a.exp(), torch.exp, [normal(3, 3)]),
    ("log", lambda a: a.log(), torch.log, [positive(3, 3)]),
    ("tanh", lambda a: a.tanh(), torch.tanh, [normal(5)]),
    ("sigmoid", lambda a: a.sigmoid(), torch.sigmoid, [normal(2, 5) * 4]),
    ("relu", lambda a: a.relu(), torch.relu, [away_from_zero(4, 3)]),
    ("sum all", lambda a: a.sum(), lambda a: a.sum(), [normal(3, 4)]),
    ("sum axis", lambda a: a.sum(axis=1), lambda a: a.sum(dim=1), [normal(3, 4, 2)]),
    ("sum axes keepdims", lambda a: a.sum(axis=(0, 2), keepdims=True),
     lambda a: a.sum(dim=(0, 2), keepdim=True), [normal(3, 4, 2)]),
    ("mean", lambda a: a.mean(), lambda a: a.mean(), [normal(3, 4)]),
    ("mean axis", lambda a: a.mean(axis=-1), lambda a: a.mean(dim=-1), [normal(3, 4)]),
    ("max all", lambda a: a.max(), lambda a: a.amax(), [normal(3, 4)]),
    ("max axis", lambda a: a.max(axis=0), lambda a: a.amax(dim=0), [normal(3, 4)]),
    ("max keepdims", lambda a: a.max(axis=1, keepdims=True), lambda a: a.amax(dim=1, keepdim=True),
     [normal(3, 4)]),
    ("reshape", lambda a: a.reshape(6, -1) * 2, lambda a: a.reshape(6, -1) * 2, [normal(3, 4)]),
    ("transpose", lambda a: a.transpose(2, 0, 1) * 2, lambda a: a.permute(2, 0, 1) * 2,
     [normal(2, 3, 4)]),
    ("T", lambda a: a.T @ a, lambda a: a.T @ a, [normal(3, 2)]),
    ("flatten", lambda a: a.flatten(1) * 3, lambda a: a.flatten(1) * 3, [normal(2, 3, 4)]),
    ("slice", lambda a: a[1:, ::2] * 3, lambda a: a[1:, ::2] * 3, [normal(3, 4)]),
    ("fancy index repeats", lambda a: a[np.array([0, 2, 0])] * 2,
     lambda a: a[torch.tensor([0, 2, 0])] * 2, [normal(3, 2)]),
    ("boolean mask", lambda a: a[a.data > 0] * 2, lambda a: a[a > 0] * 2, [away_from_zero(3, 4)]),
    ("int and list index", lambda a: a[1, [0, 2, 2]] * 2, lambda a: a[1, [0, 2, 2]] * 2,
     [normal(2, 3)]),
    ("softmax", lambda a: F.softmax(a, axis=1), lambda a: torch.softmax(a, dim=1), [normal(3, 5)]),
    ("softmax axis0", lambda a: F.softmax(a, axis=0), lambda a: torch.softmax(a, dim=0),
     [normal(3, 5)]),
    ("log_softmax", lambda a: F.log_softmax(a), lambda a: torch.log_softmax(a, dim=-1),
     [normal(4, 3)]),
    ("mse_loss", lambda a, b: F.mse_loss(a, b), torch.nn.functional.mse_loss,
     [normal(3, 4), normal(3, 4)]),
    ("mse_loss sum", lambda a, b: F.mse_loss(a, b, reduction="sum"),
     lambda a, b: torch.nn.functional.mse_loss(a, b, reduction="sum"), [normal(5), normal(5)]),
    ("linear", lambda x, w, b: F.linear(x, w, b), torch.nn.functional.linear,
     [normal(5, 4), normal(3, 4), normal(3)]),
    ("linear 3d input", lambda x, w: F.linear(x, w), torch.nn.functional.linear,
     [normal(2, 5, 4), normal(3, 4)]),
    ("composite", lambda a, b: ((a * b).tanh() + a.exp() / (b * b + 1)).sum(axis=0),
     lambda a, b: ((a * b).tanh() + a.exp() / (b * b + 1)).sum(dim=0), [normal(3, 2), normal(2)]),
]


@pytest.mark.parametrize("name,ours,theirs,arrays", CASES, ids=[c[0] for c in CASES])
def test_op_matches_finite_differences(name, ours, theirs, arrays):
    tensor_gradcheck(ours, arrays)


@pytest.mark.parametrize("name,ours,theirs,arrays", CASES, ids=[c[0] for c in CASES])
def test_op_matches_pytorch(name, ours, theirs, arrays):
    leaves = [Tensor(a, requires_grad=True, dtype=np.float64) for a in arrays]
    out = ours(*leaves)
    tleaves = [torch.tensor(a, requires_grad=True) for a in arrays]
    tout = theirs(*tleaves)
    np.testing.assert_allclose(out.data, tout.detach().numpy(), rtol=1e-10, atol=1e-12)
    upstream = np.random.default_rng(7).standard_normal(out.data.shape)
    out.backward(upstream)
    tout.backward(torch.tensor(upstream))
    for leaf, tleaf in zip(leaves, tleaves):
        np.testing.assert_allclose(leaf.grad, tleaf.grad.numpy(), rtol=1e-9, atol=1e-12)


def test_cross_entropy_matches_pytorch_and_finite_differences():
    logits = RNG.standard_normal((6, 4)) * 3
    targets = np.array([0, 3, 1, 1, 2, 0])
    for reduction in ("mean", "sum"):
        x = Tensor(logits, requires_grad=True)
        loss = F.cross_entropy(x, targets, reduction=reduction)
        loss.backward()
        tx = torch.tensor(logits, requires_grad=True)
        tl = torch.nn.functional.cross_entropy(tx, torch.tensor(targets), reduction=reduction)
        tl.backward()
        assert loss.item() == pytest.approx(tl.item(), rel=1e-12)
        np.testing.assert_allclose(x.grad, tx.grad.numpy(), rtol=1e-10, atol=1e-14)
        tensor_gradcheck(lambda z: F.cross_entropy(z, targets, reduction=reduction), [logits])


def test_cross_entropy_is_stable_for_huge_logits():
    logits = np.array([[1000.0, 0.0, -1000.0], [-5000.0, 5000.0, 0.0]], dtype=np.float32)
    x = Tensor(logits, requires_grad=True)
    loss = F.cross_entropy(x, [0, 0])
    loss.backward()
    assert np.isfinite(loss.item()) and loss.item() == pytest.approx(5000.0)
    assert np.all(np.isfinite(x.grad))


def test_gradcheck_catches_a_wrong_gradient():
    from microgradnn.tensor import ops
    from microgradnn.tensor.tensor import make_node

    def wrong_square(a):  # claims d(a^2)/da = a instead of 2a
        return make_node(a.data ** 2, (a,), lambda g, ctx, o: (g * o[0].data,), None, "bad")

    with pytest.raises(GradcheckError, match="input 0"):
        tensor_gradcheck(wrong_square, [normal(3)])
    assert ops.mul  # the module attaches operators on import


def test_leaf_gradients_accumulate_and_inner_nodes_reset():
    a = Tensor([1.0, 2.0], requires_grad=True, dtype=np.float64)
    b = a * 3
    c = b.sum()
    c.backward()
    c.backward()
    np.testing.assert_array_equal(a.grad, [6.0, 6.0])  # accumulated twice
    np.testing.assert_array_equal(b.grad, [1.0, 1.0])  # inner: this call's gradient only
    a.zero_grad()
    assert a.grad is None


def test_repeated_operand_and_diamond():
    a = Tensor([2.0], requires_grad=True, dtype=np.float64)
    b = a * a
    c = b + a
    d = c * b
    d.backward()
    # d = (a^2 + a) a^2 = a^4 + a^3 -> 4a^3 + 3a^2 = 32 + 12
    assert a.grad[0] == pytest.approx(44.0)


def test_no_grad_builds_no_graph():
    a = Tensor([1.0, 2.0], requires_grad=True)
    with no_grad():
        b = (a * 2).sum()
    assert not b.requires_grad and b.operands == ()
    with pytest.raises(RuntimeError, match="does not require a gradient"):
        b.backward()
    c = (a * 2).sum()
    assert c.requires_grad


def test_constants_get_no_gradient():
    a = Tensor([1.0, 2.0], requires_grad=True)
    k = Tensor([3.0, 4.0])
    (a * k).sum().backward()
    assert k.grad is None
    np.testing.assert_array_equal(a.grad, [3.0, 4.0])


def test_grads_of_a_leaf_are_writable_arrays_of_its_shape_and_dtype():
    a = Tensor(np.ones((3, 1), dtype=np.float32), requires_grad=True)
    (a + np.zeros((3, 4), dtype=np.float32)).sum().backward()
    assert a.grad.shape == (3, 1) and a.grad.dtype == np.float32
    a.grad *= 2  # writable
    b = Tensor(np.ones(4, dtype=np.float32), requires_grad=True)
    b.sum().backward()  # the gradient of a sum is a broadcast view: the leaf gets a copy
    b.grad[0] = 5.0


def test_float32_stays_float32_through_ops_and_backward():
    a = Tensor(np.ones((2, 3)), requires_grad=True, dtype=np.float32)
    out = ((a * 2.5 + 1) ** 2 / 3.0).tanh().sigmoid().exp().log().mean()
    assert out.dtype == np.float32
    out.backward()
    assert a.grad.dtype == np.float32


def test_backward_needs_grad_for_non_scalar():
    a = Tensor(np.ones(3), requires_grad=True)
    with pytest.raises(ValueError, match="non-scalar"):
        (a * 2).backward()
    with pytest.raises(ValueError, match=r"grad has shape \(2,\)"):
        (a * 2).backward(np.ones(2))


def test_deep_chain_needs_no_recursion():
    a = Tensor([1.0], requires_grad=True, dtype=np.float64)
    x = a
    for _ in range(20000):
        x = x + 1e-6
    x.backward()
    assert a.grad[0] == pytest.approx(1.0)
