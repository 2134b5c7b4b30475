"""Normalization layers: ``BatchNorm1d``, ``BatchNorm2d`` and ``LocalResponseNorm``.

Batch normalization (Ioffe & Szegedy, 2015), per channel c over the batch (and the
pixels, for images), with M numbers per channel::

    mean_c = (1/M) sum x        var_c = (1/M) sum (x - mean_c)^2       (biased)
    xhat   = (x - mean_c) / sqrt(var_c + eps)
    y      = weight_c * xhat + bias_c

In ``train()`` the batch's statistics are used and the running ones updated,
``running = (1 - momentum) * running + momentum * batch``, with the *unbiased*
variance ``var_c * M / (M - 1)`` as PyTorch does; in ``eval()`` the running statistics
replace the batch's, so one image gives the same answer alone or in a batch.
Backward of the training form (one node; the batch statistics depend on x)::

    dbias = sum g      dweight = sum g * xhat
    dx    = weight / sqrt(var + eps) * (g - mean(g) - xhat * mean(g * xhat))

Local response normalization (AlexNet, 2012), across channels, as PyTorch's::

    y_c = x_c / (k + alpha / size * sum_{c' = c - size//2}^{c + (size-1)//2} x_c'^2) ^ beta
"""

from __future__ import annotations

from typing import Any, Callable, Dict, Optional, Tuple

import numpy as np

from ..module import Module
from .tensor import Tensor, check_dtype, make_node

__all__ = ["batch_norm", "local_response_norm", "BatchNorm1d", "BatchNorm2d",
           "LocalResponseNorm"]


def _per_channel(v: np.ndarray, x3: np.ndarray) -> np.ndarray:
    """A per-channel vector (C,) as a (1, C, S) array to combine with x3 (N, C, S).

    Each channel's value repeated S times: numpy then broadcasts over the samples only, with
    C*S numbers in a row, instead of starting a new short loop for every (n, c) row, which is
    faster (benchmarks/RESULTS.md, "Figures moved out of the code").
    """
    return np.repeat(v.astype(x3.dtype), x3.shape[2]).reshape(1, x3.shape[1], x3.shape[2])


def _sums(a: np.ndarray, b: Optional[np.ndarray] = None) -> np.ndarray:
    """Per channel, float64: the sum of ``a`` (N, C, S), or of ``a * b``, over N and S.

    Each (n, c) row is summed in a's dtype, the N rows in float64. The products' rows are
    N*C dot products of one batched matmul (BLAS: faster than ``einsum``, and no temporary
    array; benchmarks/RESULTS.md, "Figures moved out of the code").
    """
    if b is None:
        rows = np.einsum("ncs->nc", a)
    else:
        n, c, s = a.shape
        rows = np.matmul(a.reshape(n * c, 1, s), b.reshape(n * c, s, 1)).reshape(n, c)
    return rows.sum(axis=0, dtype=np.float64)


def _bn_train_back(g, ctx, ops):
    x3, mean, invstd, count, sync, kept = ctx
    weight = ops[1].data if len(ops) > 1 else None
    g3 = g.reshape(x3.shape)
    dt = g.dtype
    # x - mean: the forward's, when its mean is the batch's (not across processes)
    centred = x3 - _per_channel(mean, x3) if kept is None else kept
    gsum = _sums(g3)
    gdot = _sums(g3, centred)  # sum of g * (x - mean)
    gx = None
    if ops[0].requires_grad:
        # a batch split over processes: the input gradient needs both sums over all of it
        # (each process returns its own part of the parameters' gradients, which add up)
        gsum_all, gdot_all = (gsum, gdot) if sync is None else np.split(
            sync("backward", np.concatenate([gsum, gdot])), 2)
        # dx = scale * (g - mean(g) - (x - mean) * invstd^2 * mean(g * (x - mean)))
        #    = a * g + b * (x - mean) + shift, per channel
        a = invstd if weight is None else invstd * weight.astype(np.float64)
        b = -a * invstd * invstd * gdot_all / count
        shift = -a * gsum_all / count
        a_c, b_c, shift_c = (_per_channel(v, g3) for v in (a, b, shift))
        gx3 = g3 * a_c
        gx3 += centred * b_c
        gx3 += shift_c
        gx = gx3.reshape(g.shape)
    if len(ops) == 1:
        return (gx,)
    return gx, (invstd * gdot).astype(dt), gsum.astype(dt)


def _bn_eval_back(g, ctx, ops):
    x3, mean, invstd = ctx
    weight = ops[1].data if len(ops) > 1 else None
    scale = invstd if weight is None else invstd * weight.astype(np.float64)
    g3 = g.reshape(x3.shape)
    gx = (g3 * _per_channel(scale, g3)).reshape(g.shape) if ops[0].requires_grad else None
    if len(ops) == 1:
        return (gx,)
    centred = x3 - _per_channel(mean, x3)
    return gx, (invstd * _sums(g3, centred)).astype(g.dtype), _sums(g3).astype(g.dtype)


def batch_norm(x: Tensor, running_mean: Optional[np.ndarray], running_var: Optional[np.ndarray],
               weight: Optional[Tensor] = None, bias: Optional[Tensor] = None,
               training: bool = False, momentum: float = 0.1, eps: float = 1e-5,
               sync: Optional[Callable[[str, np.ndarray], np.ndarray]] = None) -> Tensor:
    """Batch normalization of x (N, C) or (N, C, ...) per channel; see the module docstring.

    ``training=True`` normalizes with the batch's statistics and, when running arrays
    are given, updates them in place; ``training=False`` uses the running statistics.
    ``sync(phase, sums)``, when ``x`` is one process's share of a batch
    (``microgradnn.parallel``), returns ``sums`` added over every share, so that the
    statistics and the input gradient are those of the whole batch (PyTorch's
    ``SyncBatchNorm``).

    As PyTorch's CPU kernel, the output is ``x * alpha + beta`` with per-channel
    ``alpha = weight * invstd`` and ``beta = bias - mean * alpha``; the statistics are
    summed in float64 over rows summed in x's dtype, and the variance is taken about
    the mean (two passes); across processes, each share's about its own mean.
    """
    X = x.data
    if X.ndim < 2:
        raise ValueError(f"batch_norm: expected input of shape (N, C, ...), got {X.shape}")
    c = X.shape[1]
    for name, t in (("weight", weight), ("bias", bias)):
        if t is not None and t.data.shape != (c,):
            raise ValueError(f"batch_norm: {name} of shape {t.data.shape} does not match "
                             f"{c} channels of input {X.shape}")
    if (weight is None) != (bias is None):
        raise ValueError("batch_norm: give both weight and bias, or neither")
    count = X.size // c
    x3 = X.reshape(X.shape[0], c, int(np.prod(X.shape[2:])))  # (an empty batch too)
    operands: Tuple[Tensor, ...] = (x,) if weight is None else (x, weight, bias)
    if training:
        if count <= 1 and sync is None:
            raise ValueError(f"Expected more than 1 value per channel when training, "
                             f"got input size {tuple(X.shape)}")
        total = _sums(x3)
        mean = total / count
        # squares about the mean (two passes; E[x^2] - mean^2 would cancel for |mean| >>
        # std). Rounding the mean to x's dtype (by d) adds count*d^2 to them, a fraction
        # below eps^2 * (mean/std)^2 of the variance: not worth another pass to take away
        centred = x3 - _per_channel(mean, x3)
        squares = _sums(centred, centred)
        var = squares / count
    if training and sync is not None:
        # the whole batch: counts and sums add up; squares about each share's own mean add
        # up to those about the batch's mean once each share's n * mean^2 is added and the
        # batch's taken away (in float64)
        both = sync("forward", np.concatenate([[count], total, squares + total * mean]))
        count = int(round(both[0]))
        if count <= 1:
            raise ValueError(f"Expected more than 1 value per channel when training, "
                             f"got input size {tuple(X.shape)} (the whole batch: {count})")
        mean = both[1:c + 1] / count
        var = np.maximum(both[c + 1:] / count - mean * mean, 0.0)
    if training:
        invstd = 1.0 / np.sqrt(var + eps)
        if running_mean is not None:
            running_mean *= 1.0 - momentum
            running_mean += momentum * mean
        if running_var is not None:
            running_var *= 1.0 - momentum
            running_var += momentum * var * (count / (count - 1))
        backward, ctx = _bn_train_back, (x3, mean, invstd, count, sync,
                                         centred if sync is None else None)
    else:
        if running_mean is None or running_var is None:
            raise ValueError("batch_norm: eval mode needs running_mean and running_var")
        mean = running_mean.astype(np.float64)
        invstd = 1.0 / np.sqrt(running_var.astype(np.float64) + eps)
        backward, ctx = _bn_eval_back, (x3, mean, invstd)
    alpha = invstd if weight is None else invstd * weight.data.astype(np.float64)
    beta = -mean * alpha if bias is None else bias.data.astype(np.float64) - mean * alpha
    out3 = x3 * _per_channel(alpha, x3)
    out3 += _per_channel(beta, x3)
    return make_node(out3.reshape(X.shape), operands, backward, ctx, "batch_norm")


class _BatchNorm(Module):
    """Shared by ``BatchNorm1d`` and ``BatchNorm2d`` (they differ in the input's rank)."""

    _ranks: Tuple[int, ...] = ()
    _shape_text = ""

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float = 0.1,
                 affine: bool = True, dtype: Any = np.float32) -> None:
        name = type(self).__name__
        if isinstance(num_features, bool) or not isinstance(num_features, (int, np.integer)) \
                or num_features < 1:
            raise ValueError(f"{name}: num_features must be a positive integer, "
                             f"got {num_features!r}")
        if not (isinstance(eps, (int, float)) and eps > 0):
            raise ValueError(f"{name}: eps must be > 0, got {eps!r}")
        if not (isinstance(momentum, (int, float)) and 0.0 <= momentum <= 1.0):
            raise ValueError(f"{name}: momentum must be in [0, 1], got {momentum!r}")
        dt = check_dtype(dtype)
        self.num_features = int(num_features)
        self.eps = float(eps)
        self.momentum = float(momentum)
        self.affine = bool(affine)
        self.weight = Tensor(np.ones(self.num_features, dt), requires_grad=True) if affine else None
        self.bias = Tensor(np.zeros(self.num_features, dt), requires_grad=True) if affine else None
        self.register_buffer("running_mean", np.zeros(self.num_features, dt))
        self.register_buffer("running_var", np.ones(self.num_features, dt))
        self.register_buffer("num_batches_tracked", np.array(0, dtype=np.int64))
        self.sync: Optional[Callable[[str, np.ndarray], np.ndarray]] = None  # see set_sync

    # -- the batch-sync protocol (microgradnn.parallel finds layers by ``set_sync``) --

    def sync_sizes(self) -> Dict[str, int]:
        """How many numbers this layer adds over the processes of a split batch, by phase:
        forward the count, sum x and sum x^2 per channel (2C + 1); backward sum g and
        sum g * (x - mean) per channel (2C)."""
        return {"forward": 2 * self.num_features + 1, "backward": 2 * self.num_features}

    def set_sync(self, sync: Optional[Callable[[str, np.ndarray], np.ndarray]]) -> None:
        """While a batch is split over processes, ``sync(phase, sums)`` returns ``sums``
        (of length ``sync_sizes()[phase]``) added over every process's share, so the
        statistics and the input gradient are the whole batch's; None: the batch is local."""
        self.sync = sync

    def forward(self, x: Tensor) -> Tensor:
        if not isinstance(x, Tensor):
            raise TypeError(f"{type(self).__name__}: expected a Tensor, got {type(x).__name__}")
        shape = x.data.shape
        if x.data.ndim not in self._ranks or shape[1] != self.num_features:
            raise ValueError(f"{type(self).__name__}({self.num_features}): expected input of "
                             f"shape {self._shape_text.format(c=self.num_features)}, got {shape}")
        out = batch_norm(x, self.running_mean, self.running_var, self.weight, self.bias,
                         self.training, self.momentum, self.eps, self.sync)
        if self.training:
            self.num_batches_tracked += 1
        return out

    def extra_repr(self) -> str:
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, "
                f"affine={self.affine}")


class BatchNorm1d(_BatchNorm):
    """Batch normalization of (N, C) or (N, C, L) per channel C (after a ``Linear``)."""

    _ranks = (2, 3)
    _shape_text = "(N, {c}) or (N, {c}, L)"


class BatchNorm2d(_BatchNorm):
    """Batch normalization of images (N, C, H, W) per channel C (after a ``Conv2d``)."""

    _ranks = (4,)
    _shape_text = "(N, {c}, H, W)"


# ---- local response normalization ----

def _window_sum(a: np.ndarray, before: int, after: int) -> np.ndarray:
    """Along axis 1: out[:, c] = sum of a[:, c - before : c + after + 1] (clipped to 0..C-1).

    One copy and before + after shifted additions, each a run of whole (H, W) planes per
    sample (faster and exacter than differences of a cumulative sum).
    """
    out = a.copy()
    c = a.shape[1]
    for d in range(1, min(before, c - 1) + 1):
        out[:, d:] += a[:, :c - d]
    for d in range(1, min(after, c - 1) + 1):
        out[:, :c - d] += a[:, d:]
    return out


def _power(base: np.ndarray, beta: float) -> np.ndarray:
    """base ** -beta; for AlexNet's beta = 0.75 as 1 / (r * sqrt(r)), r = sqrt(base):
    numpy's float power is much slower than its square roots (same numbers to rounding;
    benchmarks/RESULTS.md, "Figures moved out of the code")."""
    if beta == 0.75:
        r = np.sqrt(base)
        np.multiply(r, np.sqrt(r), out=r)
        return np.divide(1.0, r, out=r)
    return base ** -beta


def _lrn_back(g, ctx, ops):
    size, alpha, beta, base, scale = ctx
    x = ops[0].data
    t = g * x
    t *= scale
    t /= base  # d out / d base, times g
    spread = _window_sum(t, (size - 1) // 2, size // 2)
    spread *= x
    spread *= -2.0 * beta * alpha / size
    spread += g * scale
    return (spread,)


def local_response_norm(x: Tensor, size: int, alpha: float = 1e-4, beta: float = 0.75,
                        k: float = 1.0) -> Tensor:
    """Normalize each value by the energy of ``size`` neighbouring channels (see above);
    x has shape (N, C, ...)."""
    X = x.data
    if X.ndim < 3:
        raise ValueError(f"local_response_norm: expected input of shape (N, C, ...) with at "
                         f"least 3 axes, got {X.shape}")
    base = _window_sum(X * X, size // 2, (size - 1) // 2)
    base *= alpha / size
    base += k
    scale = _power(base, beta)
    out = X * scale
    return make_node(out, (x,), _lrn_back, (size, alpha, beta, base, scale), "local_response_norm")


class LocalResponseNorm(Module):
    """AlexNet's normalization across ``size`` neighbouring channels (PyTorch's formula)."""

    def __init__(self, size: int, alpha: float = 1e-4, beta: float = 0.75, k: float = 1.0) -> None:
        if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 1:
            raise ValueError(f"LocalResponseNorm: size must be a positive integer, got {size!r}")
        for name, value in (("alpha", alpha), ("beta", beta), ("k", k)):
            if isinstance(value, bool) or not isinstance(value, (int, float)) \
                    or not np.isfinite(value) or value < 0:
                raise ValueError(f"LocalResponseNorm: {name} must be a number >= 0, got {value!r}")
        if k <= 0:
            raise ValueError(f"LocalResponseNorm: k must be > 0, got {k!r}")
        self.size, self.alpha, self.beta, self.k = int(size), float(alpha), float(beta), float(k)

    def forward(self, x: Tensor) -> Tensor:
        if not isinstance(x, Tensor):
            raise TypeError(f"LocalResponseNorm: expected a Tensor, got {type(x).__name__}")
        return local_response_norm(x, self.size, self.alpha, self.beta, self.k)

    def extra_repr(self) -> str:
        return f"{self.size}, alpha={self.alpha}, beta={self.beta}, k={self.k}"
