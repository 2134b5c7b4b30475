"""Finite-difference checks for functions of ``Tensor``s (float64).

``tensor_gradcheck(f, [x, w])`` builds float64 leaves from the arrays, calls ``f``,
backpropagates a fixed random projection of the output (so any output shape works)
and compares each input's gradient with central differences of the same projection.
"""

from __future__ import annotations

from typing import Callable, List, Optional, Sequence

import numpy as np

from ..gradcheck import GradcheckError
from .tensor import Tensor, no_grad

__all__ = ["tensor_gradcheck", "tensor_numerical_gradient"]


def _scalar(f: Callable[..., Tensor], arrays: Sequence[np.ndarray], weights: np.ndarray) -> float:
    with no_grad():
        out = f(*[Tensor(a, dtype=np.float64) for a in arrays])
    return float(np.vdot(out.data, weights))


def tensor_numerical_gradient(f: Callable[..., Tensor], arrays: Sequence[np.ndarray],
                              weights: np.ndarray, h: float = 1e-6) -> List[np.ndarray]:
    """Central differences of ``sum(f(*arrays) * weights)`` w.r.t. every input element."""
    arrays = [np.array(a, dtype=np.float64) for a in arrays]
    grads = []
    for k, a in enumerate(arrays):
        g = np.zeros_like(a)
        for i in np.ndindex(a.shape):
            old = a[i]
            a[i] = old + h
            plus = _scalar(f, arrays, weights)
            a[i] = old - h
            minus = _scalar(f, arrays, weights)
            a[i] = old
            g[i] = (plus - minus) / (2.0 * h)
        grads.append(g)
    return grads


def tensor_gradcheck(f: Callable[..., Tensor], inputs: Sequence[np.ndarray], h: float = 1e-6,
                     atol: float = 1e-6, rtol: float = 1e-5,
                     seed: Optional[int] = 0) -> List[np.ndarray]:
    """Compare backprop with finite differences for every input; return the analytic gradients.

    Raises ``GradcheckError`` naming the input, the worst element and both values.
    """
    leaves = [Tensor(np.array(a, dtype=np.float64), requires_grad=True) for a in inputs]
    out = f(*leaves)
    weights = np.random.default_rng(seed).standard_normal(out.data.shape)
    out.backward(weights)
    numeric = tensor_numerical_gradient(f, [leaf.data for leaf in leaves], weights, h)
    analytic = []
    for k, (leaf, num) in enumerate(zip(leaves, numeric)):
        got = leaf.grad if leaf.grad is not None else np.zeros_like(leaf.data)
        err = np.abs(got - num) - (atol + rtol * np.abs(num))
        if err.size and err.max() > 0:
            i = np.unravel_index(int(err.argmax()), err.shape)
            raise GradcheckError(f"tensor_gradcheck: input {k} (shape {leaf.data.shape}) at "
                                 f"{i}: backprop {got[i]:.10g}, finite difference {num[i]:.10g}")
        analytic.append(got)
    return analytic
