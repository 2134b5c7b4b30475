"""Fused ops: one graph node each where a chain of small ops would cost time and memory.

``linear`` is ``x @ W.T + b`` in one node; ``cross_entropy`` fuses log-softmax and the
negative log-likelihood (log-sum-exp, so large logits never overflow) and passes back
``(softmax - onehot) / N`` directly. Convolution lives in ``conv/``, pooling in ``pool.py``.
"""

from __future__ import annotations

from typing import Any, Optional, Tuple

import numpy as np

from ..activations import sigmoid_array
from ..layout import memory_order
from .tensor import Tensor, as_tensor, column_sums, make_node

__all__ = ["linear", "linear_unchecked", "linear_relu_unchecked", "cross_entropy", "mse_loss", "softmax", "log_softmax",
           "dropout", "check_input", "sigmoid_mse_loss", "shifted_exp", "quadratic_cost"]

# The ufunc reductions themselves: ``arr.sum()`` adds a Python wrapper call per use.
_sum = np.add.reduce
_max = np.maximum.reduce


def check_input(x: Any, layer: Any, dtype: np.dtype) -> Tensor:
    """``x`` as a Tensor of ``dtype``, or a TypeError naming the layer and both dtypes."""
    if not isinstance(x, Tensor):
        x = Tensor(x, dtype=dtype)
    elif x.data.dtype != dtype:
        raise TypeError(f"{layer!r}: input is {x.data.dtype} but the layer's weights are "
                        f"{dtype}; convert with Tensor(x, dtype=np.{dtype}) or build the "
                        f"layer with dtype=np.{x.data.dtype}")
    return x


# ---- linear ----

def weight_grad(g: np.ndarray, X: np.ndarray, W: np.ndarray,
                out: Optional[np.ndarray] = None) -> np.ndarray:
    """``g.T @ X`` (out, in), laid out as the weight ``W`` is (``layers.weight_order``): a
    column-major weight gets ``(X.T @ g).T``, so that the optimizer's update runs over two
    arrays of one layout. ``out`` (of that layout): written in place, as a replayed step
    does (``replay_ops``), with the same product."""
    if memory_order(W) == "F":
        return np.matmul(X.T, g, out=None if out is None else out.T).T
    return np.matmul(g.T, X, out=out)


def _linear_back(g, ctx, ops):
    x, w = ops[0], ops[1]
    X = x.data
    if X.ndim == 2:
        gx = g @ w.data if x.requires_grad else None
    else:  # (N, *, in): fold the leading axes into one batch axis
        X = X.reshape(-1, X.shape[-1])
        g = g.reshape(-1, g.shape[-1])
        gx = (g @ w.data).reshape(x.data.shape) if x.requires_grad else None
    gw = weight_grad(g, X, w.data) if w.requires_grad else None
    if len(ops) == 2:
        return gx, gw
    gb = column_sums(g) if ops[2].requires_grad else None
    return gx, gw, gb


def linear(x: Tensor, weight: Tensor, bias: Optional[Tensor] = None) -> Tensor:
    """``x @ weight.T + bias``: x (N, in) or (N, *, in), weight (out, in), bias (out,)."""
    X, W = x.data, weight.data
    if X.ndim == 0 or W.ndim != 2 or X.shape[-1] != W.shape[1]:
        raise ValueError(f"linear: input of shape {X.shape} does not match weight of shape "
                         f"{W.shape} (the input's last axis must be {W.shape[-1]})")
    if X.dtype != W.dtype or (bias is not None and bias.data.dtype != W.dtype):
        raise TypeError(f"linear: cannot mix dtypes (input {X.dtype}, weight {W.dtype}"
                        f"{'' if bias is None else f', bias {bias.data.dtype}'})")
    if bias is not None and bias.data.shape != (W.shape[0],):
        raise ValueError(f"linear: bias of shape {bias.data.shape} does not match weight of "
                         f"shape {W.shape}")
    return linear_unchecked(x, weight, bias)


def linear_unchecked(x: Tensor, weight: Tensor, bias: Optional[Tensor]) -> Tensor:
    """``linear`` for callers that already checked the shapes (the ``Linear`` layer)."""
    out = x.data @ weight.data.T
    if bias is None:
        return make_node(out, (x, weight), _linear_back, None, "linear")
    out += bias.data
    return make_node(out, (x, weight, bias), _linear_back, None, "linear")


def _linear_relu_back(g, out, ops):
    # relu's backward (its output is positive exactly where its input was), then linear's.
    return _linear_back(g * (out > 0), None, ops)


def linear_relu_unchecked(x: Tensor, weight: Tensor, bias: Optional[Tensor]) -> Tensor:
    """``relu(x @ weight.T + bias)`` as one node "linear+relu" (shapes already checked).

    The same numbers as ``relu(linear(x, weight, bias))``; one node instead of two
    and the maximum taken in place saves an array and some bookkeeping per step.
    """
    out = x.data @ weight.data.T
    operands = (x, weight)
    if bias is not None:
        out += bias.data
        operands = (x, weight, bias)
    np.maximum(out, out.dtype.type(0), out=out)
    return make_node(out, operands, _linear_relu_back, out, "linear+relu")


# ---- softmax family ----

def shifted_exp(X: np.ndarray, axis: int) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The one log-sum-exp of the vectorized path: ``(z, e, s)`` with ``z = X - max(X)``,
    ``e = exp(z)`` and ``s = sum(e)`` along ``axis`` (kept as length 1), so that
    ``logsumexp(X) = max(X) + log(s)``, ``log_softmax(X) = z - log(s)`` and
    ``softmax(X) = e / s``. The shift makes the largest exponent 0: nothing overflows."""
    z = X - _max(X, axis=axis, keepdims=True)
    e = np.exp(z)
    return z, e, _sum(e, axis=axis, keepdims=True)


def _log_softmax_back(g, ctx, ops):
    p, axis = ctx
    return (g - p * g.sum(axis=axis, keepdims=True),)


def log_softmax(x: Tensor, axis: int = -1) -> Tensor:
    """``x - logsumexp(x)`` along ``axis``, stable for any magnitude; same shape as x."""
    z, e, s = shifted_exp(x.data, axis)
    out = z - np.log(s)
    return make_node(out, (x,), _log_softmax_back, (e / s, axis), "log_softmax")


def _softmax_back(g, ctx, ops):
    p, axis = ctx
    gp = g * p
    return (gp - p * gp.sum(axis=axis, keepdims=True),)


def softmax(x: Tensor, axis: int = -1) -> Tensor:
    """``exp(x) / sum(exp(x))`` along ``axis`` (max subtracted first); same shape as x."""
    _, e, s = shifted_exp(x.data, axis)
    e /= s
    return make_node(e, (x,), _softmax_back, (e, axis), "softmax")


# ---- losses ----

def _check_targets(targets: Any, n: int, c: int, op: str = "cross_entropy") -> np.ndarray:
    if type(targets) is np.ndarray and targets.dtype.kind == "i" and targets.shape == (n,):
        # The training-step case (int64 labels): one reduction over the unsigned view.
        if targets.view(f"u{targets.dtype.itemsize}").max() < c:
            return targets
        bad = targets.min() if targets.min() < 0 else targets.max()
        raise ValueError(f"{op}: target class {int(bad)} is outside 0..{c - 1}")
    t = targets.data if isinstance(targets, Tensor) else np.asarray(targets)
    if t.dtype.kind not in "iu":
        if t.dtype.kind == "f" and t.size and np.all(t == np.round(t)):
            # Checked as floats, before the cast: inf or 1e20 would wrap to a negative int.
            outside = ~((t >= 0) & (t < c))
            if outside.any():
                raise ValueError(f"cross_entropy: target class {float(t[outside].flat[0])!r} is "
                                 f"outside 0..{c - 1}")
            t = t.astype(np.intp)
        else:
            raise TypeError(f"{op}: targets must be integer class indices, got dtype "
                            f"{t.dtype}")
    if t.shape != (n,):
        raise ValueError(f"{op}: logits of shape ({n}, {c}) need targets of shape "
                         f"({n},), got {t.shape}")
    # One reduction: viewed as unsigned, negative classes become huge and fail too.
    unsigned = t.view(f"u{t.dtype.itemsize}") if t.dtype.kind == "i" else t
    if n and unsigned.max() >= c:
        bad = t.min() if t.min() < 0 else t.max()
        raise ValueError(f"{op}: target class {int(bad)} is outside 0..{c - 1}")
    return t


def _class_scores(logits: Any, targets: Any, reduction: str, op: str):
    """The checks shared by the classification losses: logits (N, C) as a Tensor, its
    array, the targets as class indices and the reduction's scale (1/N or 1)."""
    if not isinstance(logits, Tensor):
        logits = Tensor(logits)
    X = logits.data
    if X.ndim != 2:
        raise ValueError(f"{op}: logits must have shape (N, C), got {X.shape}")
    n, c = X.shape
    if n == 0:
        raise ValueError(f"{op}: got an empty batch (N = 0)")
    t = _check_targets(targets, n, c, op)
    if reduction not in ("mean", "sum"):
        raise ValueError(f"{op}: reduction must be 'mean' or 'sum', got {reduction!r}")
    return logits, X, t, 1.0 / n if reduction == "mean" else 1.0


def _cross_entropy_back(g, ctx, ops):
    e, s, rows, t, scale = ctx
    grad = e / s  # softmax, a fresh array we may edit
    grad[rows, t] -= 1.0
    grad *= g * scale
    return (grad,)


def cross_entropy(logits: Tensor, targets: Any, reduction: str = "mean") -> Tensor:
    """Softmax cross-entropy: logits (N, C), targets int (N,) -> a scalar tensor.

    ``reduction`` is "mean" (default, PyTorch's) or "sum". Numerically stable: the
    row maximum is subtracted before exponentiating.
    """
    logits, X, t, scale = _class_scores(logits, targets, reduction, "cross_entropy")
    z, e, s = shifted_exp(X, 1)
    rows = np.arange(X.shape[0])
    total = _sum(np.log(s), axis=None) - _sum(z[rows, t])
    out = np.asarray(total * scale, dtype=X.dtype)
    return make_node(out, (logits,), _cross_entropy_back, (e, s, rows, t, scale), "cross_entropy")


def _mse_back(g, ctx, ops):
    diff, scale = ctx
    pred, target = ops
    gp = diff * (g * scale)
    return (gp if pred.requires_grad else None, -gp if target.requires_grad else None)


def mse_loss(pred: Tensor, target: Any, reduction: str = "mean") -> Tensor:
    """Mean (or sum) of squared differences; pred and target must have the same shape."""
    if not isinstance(pred, Tensor):
        pred = Tensor(pred)
    target = as_tensor(target, like=pred)
    if pred.data.shape != target.data.shape:
        raise ValueError(f"mse_loss: prediction of shape {pred.data.shape} and target of shape "
                         f"{target.data.shape} differ")
    if target.data.dtype != pred.data.dtype:
        raise TypeError(f"mse_loss: prediction is {pred.data.dtype}, target is {target.data.dtype}")
    if reduction not in ("mean", "sum"):
        raise ValueError(f"mse_loss: reduction must be 'mean' or 'sum', got {reduction!r}")
    diff = pred.data - target.data
    scale = 2.0 / max(diff.size, 1) if reduction == "mean" else 2.0
    out = np.asarray(np.vdot(diff, diff) * (scale / 2.0), dtype=pred.data.dtype)
    return make_node(out, (pred, target), _mse_back, (diff, scale), "mse_loss")


def _quadratic_back(g, ctx, ops):
    diff, scale = ctx
    return (diff * (g * (2.0 * scale)),)


def _targets_like(targets: Any, X: np.ndarray, op: str) -> np.ndarray:
    """``y`` of shape (N, C): class indices (N,) become one-hot rows, an array is checked."""
    n, c = X.shape
    t = targets.data if isinstance(targets, Tensor) else np.asarray(targets)
    if t.ndim == 1:
        y = np.zeros_like(X)
        y[np.arange(n), _check_targets(t, n, c, op)] = 1.0
        return y
    if t.shape != X.shape:
        raise ValueError(f"{op}: outputs of shape {X.shape} need targets of shape ({n},) "
                         f"(class indices) or {X.shape}, got {t.shape}")
    return t.astype(X.dtype, copy=False)


def quadratic_cost(outputs: Tensor, targets: Any, reduction: str = "mean") -> Tensor:
    """The lectures' cost: ``C = Σ_j (a[L][j] - y[j])²`` per example, the mean of ``C``.

    outputs (N, C) are the output activations ``a[L]``; targets int (N,) the classes (``y``
    is one-hot) or ``y`` itself, (N, C). "mean" (default) averages ``C`` over the N
    examples, "sum" adds them; never divided by C (``mse_loss`` would be, as PyTorch's).
    The scalar twin is ``microgradnn.losses.quadratic_cost``.
    """
    if not isinstance(outputs, Tensor):
        outputs = Tensor(outputs)
    X = outputs.data
    if X.ndim != 2 or X.shape[0] == 0:
        raise ValueError(f"quadratic_cost: outputs must have shape (N, C) with N > 0, "
                         f"got {X.shape}")
    if reduction not in ("mean", "sum"):
        raise ValueError(f"quadratic_cost: reduction must be 'mean' or 'sum', got {reduction!r}")
    diff = X - _targets_like(targets, X, "quadratic_cost")
    scale = 1.0 / X.shape[0] if reduction == "mean" else 1.0
    out = np.asarray(np.vdot(diff, diff) * scale, dtype=X.dtype)
    return make_node(out, (outputs,), _quadratic_back, (diff, scale), "quadratic_cost")


def _sigmoid_mse_back(g, ctx, ops):
    a, diff, scale = ctx
    # dC/dz = 2 (a - y) * a (1 - a), times the reduction's scale
    return (diff * (a * (1.0 - a)) * (g * (2.0 * scale)),)


def sigmoid_mse_loss(logits: Tensor, targets: Any, reduction: str = "mean") -> Tensor:
    """The lectures' cost on the logits: ``quadratic_cost(sigmoid(z[L]), targets)`` in one node,
    ``C = Σ_j (σ(z[L][j]) - y[j])²`` with ``y`` one-hot.

    logits (N, C) are the output layer's weighted sums ``z[L]``, targets int (N,) the
    digits; ``a[L] = sigmoid(z[L])`` are the outputs compared with the one-hot ``y``.
    ``reduction`` "mean" (default) averages ``C`` over the N examples, as a mini-batch
    step does; it sums over the C classes (unlike ``mse_loss``, which would also divide
    by C). "sum" adds the examples' costs. One fused node; the same numbers as
    ``((torch.sigmoid(z) - one_hot(t)) ** 2).sum(1).mean()``.
    """
    logits, X, t, scale = _class_scores(logits, targets, reduction, "sigmoid_mse_loss")
    a = sigmoid_array(X)
    diff = a.copy()
    diff[np.arange(X.shape[0]), t] -= 1.0
    out = np.asarray(np.vdot(diff, diff) * scale, dtype=X.dtype)
    return make_node(out, (logits,), _sigmoid_mse_back, (a, diff, scale), "sigmoid_mse_loss")


# ---- dropout ----

def _dropout_back(g, mask, ops):
    return (g * mask,)


def dropout(x: Tensor, p: float = 0.5, training: bool = True,
            rng: Optional[np.random.Generator] = None) -> Tensor:
    """Zero each element with probability ``p`` and scale the rest by 1/(1-p) (training only)."""
    if not 0.0 <= p < 1.0:
        raise ValueError(f"dropout: p must be in [0, 1), got {p!r}")
    if not training or p == 0.0:
        return x
    rng = rng if rng is not None else np.random.default_rng()
    keep = rng.random(x.data.shape) >= p
    mask = keep.astype(x.data.dtype) * x.data.dtype.type(1.0 / (1.0 - p))
    return make_node(x.data * mask, (x,), _dropout_back, mask, "dropout")

