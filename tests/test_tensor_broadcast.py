"""Hypothesis: broadcasting binary ops give PyTorch's values and reduced gradients."""

from __future__ import annotations

import numpy as np
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from microgradnn.tensor import Tensor

OPS = {
    "+": (lambda a, b: a + b),
    "-": (lambda a, b: a - b),
    "*": (lambda a, b: a * b),
    "/": (lambda a, b: a / b),
}


@settings(max_examples=150, deadline=None)
@given(shapes=hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=4,
                                                 min_side=1, max_side=4),
       op=st.sampled_from(sorted(OPS)), seed=st.integers(0, 2 ** 31 - 1))
def test_broadcasting_matches_torch(shapes, op, seed):
    rng = np.random.default_rng(seed)
    sa, sb = shapes.input_shapes
    a = rng.standard_normal(sa)
    b = rng.uniform(0.5, 2.0, sb) * rng.choice([-1.0, 1.0], sb)  # a safe divisor
    fn = OPS[op]
    ta = Tensor(np.asarray(a), requires_grad=True, dtype=np.float64)
    tb = Tensor(np.asarray(b), requires_grad=True, dtype=np.float64)
    out = fn(ta, tb)
    assert out.shape == shapes.result_shape
    upstream = rng.standard_normal(shapes.result_shape)
    out.backward(upstream)
    pa = torch.tensor(np.asarray(a), requires_grad=True)
    pb = torch.tensor(np.asarray(b), requires_grad=True)
    pout = fn(pa, pb)
    pout.backward(torch.tensor(upstream))
    np.testing.assert_allclose(out.data, pout.detach().numpy(), rtol=1e-12)
    assert ta.grad.shape == tuple(sa) and tb.grad.shape == tuple(sb)
    np.testing.assert_allclose(ta.grad, pa.grad.numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(tb.grad, pb.grad.numpy(), rtol=1e-10, atol=1e-12)


@settings(max_examples=60, deadline=None)
@given(shapes=hnp.mutually_broadcastable_shapes(min_dims=0, max_dims=2,
                                                 min_side=1, max_side=3,
                                                 signature=np.matmul.signature),
       seed=st.integers(0, 2 ** 31 - 1))
def test_batched_matmul_broadcasting_matches_torch(shapes, seed):
    rng = np.random.default_rng(seed)
    sa, sb = shapes.input_shapes
    a, b = rng.standard_normal(sa), rng.standard_normal(sb)
    ta = Tensor(a, requires_grad=True)
    tb = Tensor(b, requires_grad=True)
    out = ta @ tb
    upstream = rng.standard_normal(out.shape)
    out.backward(upstream)
    pa = torch.tensor(a, requires_grad=True)
    pb = torch.tensor(b, requires_grad=True)
    (pa @ pb).backward(torch.tensor(upstream))
    np.testing.assert_allclose(ta.grad, pa.grad.numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(tb.grad, pb.grad.numpy(), rtol=1e-10, atol=1e-12)


@settings(max_examples=80, deadline=None)
@given(shape=hnp.array_shapes(min_dims=1, max_dims=4, max_side=4), data=st.data())
def test_reductions_over_random_axes_match_torch(shape, data):
    axes = data.draw(st.lists(st.integers(0, len(shape) - 1), unique=True, min_size=1))
    keepdims = data.draw(st.booleans())
    rng = np.random.default_rng(len(shape))
    x = rng.standard_normal(shape)
    for ours, theirs in ((lambda t: t.sum(axis=tuple(axes), keepdims=keepdims),
                          lambda t: t.sum(dim=tuple(axes), keepdim=keepdims)),
                         (lambda t: t.mean(axis=tuple(axes), keepdims=keepdims),
                          lambda t: t.mean(dim=tuple(axes), keepdim=keepdims)),
                         (lambda t: t.max(axis=tuple(axes), keepdims=keepdims),
                          lambda t: t.amax(dim=tuple(axes), keepdim=keepdims))):
        t = Tensor(x, requires_grad=True)
        out = ours(t)
        up = rng.standard_normal(out.shape)
        out.backward(up)
        p = torch.tensor(x, requires_grad=True)
        pout = theirs(p)
        pout.backward(torch.tensor(up))
        np.testing.assert_allclose(out.data, pout.detach().numpy(), rtol=1e-12)
        np.testing.assert_allclose(t.grad, p.grad.numpy(), rtol=1e-10, atol=1e-12)
