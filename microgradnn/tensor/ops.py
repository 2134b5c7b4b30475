"""Arithmetic and elementwise ops of ``Tensor``; attaches every operator to the class.

Each op computes its forward result with numpy and hands ``make_node`` a module-level
backward function plus the few arrays it needs. Binary ops broadcast like numpy;
their backward sums the gradient back to each operand's shape (``unbroadcast``).
"""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np

from ..activations import ACTIVATIONS, Activation
from .shape_ops import getitem, max, mean, reshape, sum, transpose
from .tensor import Tensor, make_node, to_array, unbroadcast, wrap_array

__all__ = ["add", "sub", "mul", "div", "power", "neg", "matmul", "exp", "log", "tanh",
           "sigmoid", "relu", "sum", "mean", "max", "reshape", "transpose", "getitem"]


def _const(x: Any, dtype: np.dtype) -> Tensor:
    if isinstance(x, numbers.Real) and not isinstance(x, bool):
        if not math.isfinite(x):
            raise ValueError(f"Tensor op: got a non-finite number {x!r}")
        return wrap_array(np.array(x, dtype=dtype))
    return wrap_array(to_array(x, dtype, copy=False))


def _pair(a: Tensor, b: Any, op: str) -> Tensor:
    if not isinstance(b, Tensor):
        return _const(b, a.data.dtype)
    if b.data.dtype != a.data.dtype:
        raise TypeError(f"{op}: cannot mix {a.data.dtype} and {b.data.dtype} tensors "
                        f"(shapes {a.data.shape} and {b.data.shape}); convert one with "
                        f"Tensor(x, dtype=...)")
    return b


def _broadcast_error(op: str, a: Tensor, b: Tensor) -> ValueError:
    return ValueError(f"{op}: shapes {a.data.shape} and {b.data.shape} do not broadcast")


# ---- binary arithmetic ----

def _add_back(g, ctx, ops):
    a, b = ops
    return (unbroadcast(g, a.data.shape) if a.requires_grad else None,
            unbroadcast(g, b.data.shape) if b.requires_grad else None)


def add(a: Tensor, b: Any) -> Tensor:
    """``a + b`` with numpy broadcasting; shapes (..) and (..) -> broadcast shape."""
    b = _pair(a, b, "+")
    try:
        out = a.data + b.data
    except ValueError:
        raise _broadcast_error("+", a, b) from None
    return make_node(out, (a, b), _add_back, None, "+")


def _sub_back(g, ctx, ops):
    a, b = ops
    return (unbroadcast(g, a.data.shape) if a.requires_grad else None,
            unbroadcast(-g, b.data.shape) if b.requires_grad else None)


def sub(a: Tensor, b: Any) -> Tensor:
    b = _pair(a, b, "-")
    try:
        out = a.data - b.data
    except ValueError:
        raise _broadcast_error("-", a, b) from None
    return make_node(out, (a, b), _sub_back, None, "-")


def _mul_back(g, ctx, ops):
    a, b = ops
    return (unbroadcast(g * b.data, a.data.shape) if a.requires_grad else None,
            unbroadcast(g * a.data, b.data.shape) if b.requires_grad else None)


def mul(a: Tensor, b: Any) -> Tensor:
    b = _pair(a, b, "*")
    try:
        out = a.data * b.data
    except ValueError:
        raise _broadcast_error("*", a, b) from None
    return make_node(out, (a, b), _mul_back, None, "*")


def _div_back(g, out, ops):
    a, b = ops
    ga = g / b.data
    return (unbroadcast(ga, a.data.shape) if a.requires_grad else None,
            unbroadcast(-ga * out, b.data.shape) if b.requires_grad else None)


def div(a: Tensor, b: Any) -> Tensor:
    b = _pair(a, b, "/")
    if not np.all(b.data):
        raise ZeroDivisionError(f"/: the divisor of shape {b.data.shape} contains zeros")
    try:
        out = a.data / b.data
    except ValueError:
        raise _broadcast_error("/", a, b) from None
    return make_node(out, (a, b), _div_back, out, "/")


def _pow_back(g, ctx, ops):
    a, b = ops
    out = ctx
    A, B = a.data, b.data
    ga = gb = None
    if a.requires_grad:
        # k * x**(k-1), with 0 where k == 0 (also at x == 0), PyTorch's convention.
        with np.errstate(divide="ignore", invalid="ignore"):
            local = np.where(B == 0, 0.0, B * np.power(A, B - 1)).astype(A.dtype, copy=False)
        ga = unbroadcast(g * local, A.shape)
    if b.requires_grad:
        with np.errstate(divide="ignore", invalid="ignore"):
            logs = np.where(A > 0, np.log(np.where(A > 0, A, 1)), np.where(A == 0, 0.0, np.nan))
        gb = unbroadcast(g * out * logs.astype(A.dtype, copy=False), B.shape)
    return ga, gb


def power(a: Tensor, b: Any) -> Tensor:
    """``a ** b``; a negative base needs an integer exponent, zero a non-negative one."""
    b = _pair(a, b, "**")
    A, B = a.data, b.data
    try:
        bad_zero = np.any((A == 0) & (B < 0))
        bad_neg = np.any((A < 0) & (B != np.round(B)))
    except ValueError:
        raise _broadcast_error("**", a, b) from None
    if bad_zero:
        raise ZeroDivisionError("**: zero raised to a negative power")
    if bad_neg:
        raise ValueError("**: negative base with a non-integer exponent is complex")
    out = np.power(A, B)
    return make_node(out, (a, b), _pow_back, out, "**")


def _neg_back(g, ctx, ops):
    return (-g,)


def neg(a: Tensor) -> Tensor:
    return make_node(-a.data, (a,), _neg_back, None, "neg")


def _matmul_back(g, ctx, ops):
    a, b = ops
    A, B = a.data, b.data
    if A.ndim == 1 and B.ndim == 1:
        return (g * B if a.requires_grad else None, g * A if b.requires_grad else None)
    A2 = A[None, :] if A.ndim == 1 else A
    B2 = B[:, None] if B.ndim == 1 else B
    g2 = g
    if A.ndim == 1:
        g2 = np.expand_dims(g2, -2)
    if B.ndim == 1:
        g2 = np.expand_dims(g2, -1)
    ga = gb = None
    if a.requires_grad:
        ga = unbroadcast(g2 @ np.swapaxes(B2, -1, -2), A2.shape).reshape(A.shape)
    if b.requires_grad:
        gb = unbroadcast(np.swapaxes(A2, -1, -2) @ g2, B2.shape).reshape(B.shape)
    return ga, gb


def matmul(a: Tensor, b: Any) -> Tensor:
    """``a @ b`` with numpy's rules: (n,k)@(k,m) -> (n,m), batched over leading axes."""
    b = _pair(a, b, "@")
    if a.data.ndim == 0 or b.data.ndim == 0:
        raise ValueError(f"@: operands must have at least one axis, got shapes "
                         f"{a.data.shape} and {b.data.shape}")
    try:
        out = a.data @ b.data
    except ValueError:
        raise ValueError(f"@: shapes {a.data.shape} and {b.data.shape} do not align "
                         f"(inner sizes must match)") from None
    return make_node(out, (a, b), _matmul_back, None, "@")


# ---- elementwise functions ----

def _exp_back(g, out, ops):
    return (g * out,)


def exp(a: Tensor) -> Tensor:
    with np.errstate(over="raise"):
        try:
            out = np.exp(a.data)
        except FloatingPointError:
            raise OverflowError(f"exp overflow: the input's maximum {a.data.max()!r} is too "
                                f"large for {a.data.dtype}") from None
    return make_node(out, (a,), _exp_back, out, "exp")


def _log_back(g, ctx, ops):
    return (g / ops[0].data,)


def log(a: Tensor) -> Tensor:
    if a.data.size and a.data.min() <= 0:
        raise ValueError(f"log of a non-positive number: the input's minimum is {a.data.min()!r}")
    return make_node(np.log(a.data), (a,), _log_back, None, "log")


def _activation_back(g, ctx, ops):
    derivative, out = ctx
    return (g * derivative(out),)


def _activate(a: Tensor, act: Activation) -> Tensor:
    """``act`` elementwise (``microgradnn.activations``): its array form forward, its
    derivative from the output backward."""
    out = act.array(a.data)
    return make_node(out, (a,), _activation_back, (act.derivative, out), act.name)


def tanh(a: Tensor) -> Tensor:
    """``tanh(x)`` elementwise."""
    return _activate(a, ACTIVATIONS["tanh"])


def sigmoid(a: Tensor) -> Tensor:
    """``1 / (1 + exp(-x))`` elementwise, without overflow (``activations.sigmoid_array``)."""
    return _activate(a, ACTIVATIONS["sigmoid"])


def relu(a: Tensor) -> Tensor:
    """``max(x, 0)`` elementwise."""
    return _activate(a, ACTIVATIONS["relu"])


# ---- attach to Tensor ----

def _rsub(a: Tensor, b: Any) -> Tensor:
    return sub(_pair(a, b, "-"), a)


def _rdiv(a: Tensor, b: Any) -> Tensor:
    return div(_pair(a, b, "/"), a)


def _rpow(a: Tensor, b: Any) -> Tensor:
    return power(_pair(a, b, "**"), a)


def _rmatmul(a: Tensor, b: Any) -> Tensor:
    return matmul(_pair(a, b, "@"), a)


def _attach() -> None:
    T = Tensor
    T.__add__ = add
    T.__radd__ = add  # a + b == b + a elementwise, gradients likewise
    T.__sub__ = sub
    T.__rsub__ = _rsub
    T.__mul__ = mul
    T.__rmul__ = mul
    T.__truediv__ = div
    T.__rtruediv__ = _rdiv
    T.__pow__ = power
    T.__rpow__ = _rpow
    T.__neg__ = neg
    T.__matmul__ = matmul
    T.__rmatmul__ = _rmatmul
    T.__getitem__ = getitem
    T.exp, T.log, T.tanh, T.sigmoid, T.relu = exp, log, tanh, sigmoid, relu
    T.sum, T.mean, T.max = sum, mean, max
    T.reshape, T.transpose = reshape, transpose
    T.T = property(lambda self: transpose(self))

    def flatten(self: Tensor, start_dim: int = 0) -> Tensor:
        """Merge the axes from ``start_dim`` on: (N, C, H, W) -> (N, C*H*W) for 1."""
        return reshape(self, self.data.shape[:start_dim] + (-1,))

    T.flatten = flatten


_attach()
