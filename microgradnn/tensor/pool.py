"""Max and average pooling on (N, C, H, W) arrays: one strided slice per kernel offset.

Pooling never copies windows: it reads each kernel offset's strided slice of the input
(``windows.offsets``) once. Max pooling notes each window's winner (the kernel offset of
its first maximum, row-major, as PyTorch) while it reads, so the backward needs neither
the input nor a comparison; windows of more than 4 pixels are pooled rows first, then
columns (the ``max_pool`` algorithms below). The batch runs in chunks that fit the cache.
The plain versions to compare with: ``microgradnn.tensor.reference``.
"""

from __future__ import annotations

from typing import Any, Dict, Optional, Tuple

import numpy as np

from .forcing import Algorithm, choose
from .tensor import _GRAD_ENABLED, Tensor, make_node
from .windows import Pair, chunk, crop, offsets, output_size, pad, pair, scratch

__all__ = ["max_pool2d", "avg_pool2d", "MAX_POOLS", "ChunkedMaxPool"]

def _pool_args(op: str, x: Tensor, kernel_size: Any, stride: Any,
               padding: Any) -> Tuple[Pair, Pair, Pair, Pair]:
    """-> (kernel, stride, padding, (OH, OW)) of a pool call, checked (stride defaults to
    the kernel; padding at most half the kernel)."""
    kernel = pair(kernel_size, f"{op} kernel_size", 1)
    stride = kernel if stride is None else pair(stride, f"{op} stride", 1)
    padding = pair(padding, f"{op} padding", 0)
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}: expected a Tensor, got {type(x).__name__}")
    if 2 * padding[0] > kernel[0] or 2 * padding[1] > kernel[1]:
        raise ValueError(f"{op}: padding {padding} must be at most half the kernel {kernel}")
    return kernel, stride, padding, output_size(op, x.data.shape, kernel, stride, padding)


def _window_views(a: np.ndarray, kernel: Pair, stride: Pair, oh: int, ow: int):
    """The kh*kw strided views of ``a`` (N, C, H, W) that hold, for every window of a pool
    without padding, its pixel at each kernel offset (row-major), each (N, C, OH, OW)."""
    (kh, kw), (sh, sw) = kernel, stride
    rows, cols = sh * (oh - 1) + 1, sw * (ow - 1) + 1
    return [a[:, :, i:i + rows:sh, j:j + cols:sw] for i in range(kh) for j in range(kw)]


class _WindowMax:
    """Maxima over windows, and which kernel offset holds each window's first maximum."""

    def __init__(self, shape: Tuple[int, ...], dtype: np.dtype, small: np.dtype,
                 winners: bool) -> None:
        self.winners = winners
        self.small = small
        if winners:
            self.plane = scratch("plane", shape, dtype)
            self.beats = scratch("beats", shape, bool)
            self.code = scratch("code", shape, small)

    def run(self, views, out: np.ndarray, winner: Optional[np.ndarray], k: int) -> None:
        """``out`` = max over ``views``; ``winner`` (if given) = the first one's index.

        An offset that beats the running maximum strictly is the winner so far, and later
        offsets have larger indices: winner = max over j of j * beats_j (row-major order,
        so ties go to the first maximum, as in PyTorch).
        """
        np.copyto(out, views[0])
        if winner is None:
            for view in views[1:]:
                np.maximum(out, view, out=out)
            return
        plane, beats, code = self.plane[:k], self.beats[:k], self.code[:k]
        winner[...] = 0
        for j, view in enumerate(views[1:], 1):
            np.copyto(plane, view)  # one strided read; the rest runs on contiguous arrays
            np.greater(plane, out, out=beats)
            np.maximum(out, plane, out=out)
            np.multiply(beats.view(np.uint8), self.small.type(j), out=code)
            np.maximum(winner, code, out=winner)


def _window_scatter(g: np.ndarray, winner: np.ndarray, views, disjoint: bool) -> None:
    """Send each window's gradient ``g`` to its winner: the adjoint of ``_WindowMax``."""
    for j, view in enumerate(views):
        hit = winner == j
        if disjoint:  # each element belongs to one window: write, do not add
            np.multiply(g, hit, out=view)
        else:
            view += g * hit


def separable(kernel: Pair) -> bool:
    """Pool a window of more than 4 pixels (3x3) in two passes, rows then columns: the
    maximum of a rectangle is the maximum of its rows' maxima, so kh + kw strided reads
    replace kh * kw. The first maximum in row-major order is kept: the column pass keeps
    each row's first maximum, the row pass the first row holding the window's maximum."""
    return kernel[0] * kernel[1] > 4 and kernel[0] > 1 and kernel[1] > 1


def any_kernel(kernel: Pair) -> bool:
    """Every kernel: one pass over its kh * kw offsets."""
    return True


# The max pool's algorithms, by kernel (``forcing.choose``: the first one chosen).
MAX_POOLS: Dict[str, Algorithm] = {
    "separable": Algorithm(separable, any_kernel),
    "windows": Algorithm(any_kernel, any_kernel),
}


class ChunkedMaxPool:
    """Max pooling of chunks of at most ``m`` samples of (C, HP, WP) (padded) images into
    (C, OH, OW), noting each window's first maximum for the backward (``winners``: one
    array of kernel offsets, or for a separable window the column and the row offsets).
    ``algorithm`` names one of ``MAX_POOLS``: the forward's choice, which the backward of
    the same call passes again."""

    def __init__(self, kernel: Pair, stride: Pair, m: int, c: int, hp: int, oh: int, ow: int,
                 dtype: np.dtype, grad: bool, algorithm: str) -> None:
        self.kernel, self.stride, self.grad = kernel, stride, grad
        self.c, self.hp, self.oh, self.ow, self.dtype = c, hp, oh, ow, dtype
        (kh, kw), (sh, sw) = kernel, stride
        self.separable = algorithm == "separable"
        if self.separable:
            self.smalls = (np.min_scalar_type(kw - 1), np.min_scalar_type(kh - 1))
            self.mid = scratch("pool rows", (m, c, hp, ow), dtype)  # each row's maxima
            self.work = (_WindowMax((m, c, hp, ow), dtype, self.smalls[0], grad),
                         _WindowMax((m, c, oh, ow), dtype, self.smalls[1], grad))
        else:
            self.smalls = (np.min_scalar_type(kh * kw - 1),)  # uint8 up to 256 offsets
            self.work = (_WindowMax((m, c, oh, ow), dtype, self.smalls[0], grad),)
        # windows that tile the rows exactly write every row of the row maxima' gradient
        self.rows_tile = sh == kh and hp == oh * kh

    def winners(self, n: int) -> Optional[Tuple[np.ndarray, ...]]:
        if not self.grad:
            return None
        if self.separable:
            return (np.empty((n, self.c, self.hp, self.ow), dtype=self.smalls[0]),
                    np.empty((n, self.c, self.oh, self.ow), dtype=self.smalls[1]))
        return (np.empty((n, self.c, self.oh, self.ow), dtype=self.smalls[0]),)

    def forward(self, x: np.ndarray, out: np.ndarray, winners: Optional[Tuple[np.ndarray, ...]],
                a: int, k: int) -> None:
        """``out`` (k, C, OH, OW) = the window maxima of ``x`` (k, C, HP, WP); the winners
        of these samples go to rows a..a+k of ``winners``."""
        (kh, kw), (sh, sw) = self.kernel, self.stride
        won = (None,) * 2 if winners is None else tuple(w[a:a + k] for w in winners)
        if not self.separable:
            self.work[0].run(_window_views(x, self.kernel, self.stride, self.oh, self.ow), out,
                             won[0], k)
            return
        mid = self.mid[:k]
        self.work[0].run(_window_views(x, (1, kw), (1, sw), self.hp, self.ow), mid, won[0], k)
        self.work[1].run(_window_views(mid, (kh, 1), (sh, 1), self.oh, self.ow), out, won[1], k)

    def backward(self, g: np.ndarray, winners: Tuple[np.ndarray, ...], dest: np.ndarray,
                 a: int, k: int) -> None:
        """Send ``g`` (k, C, OH, OW) to each window's winner in ``dest`` (k, C, HP, WP),
        which holds zeros wherever the windows do not write every element."""
        (kh, kw), (sh, sw) = self.kernel, self.stride
        won = tuple(w[a:a + k] for w in winners)
        if not self.separable:
            _window_scatter(g, won[0], _window_views(dest, self.kernel, self.stride, self.oh,
                                                     self.ow), sh >= kh and sw >= kw)
            return
        mid = scratch("pool rows grad", self.mid.shape, self.dtype)[:k]
        if not self.rows_tile:
            mid[...] = 0
        _window_scatter(g, won[1], _window_views(mid, (kh, 1), (sh, 1), self.oh, self.ow),
                        sh >= kh)
        _window_scatter(mid, won[0], _window_views(dest, (1, kw), (1, sw), self.hp, self.ow),
                        sw >= kw)


def _pool_chunk(n: int, c: int, hp: int, wp: int, ow: int, itemsize: int) -> int:
    return chunk(n, c * (hp * wp + 2 * hp * ow), itemsize)


def _max_pool_back(g, ctx, ops):
    winners, kernel, stride, padding, algorithm = ctx
    shape = ops[0].data.shape
    n, c = shape[:2]
    oh, ow = g.shape[2:]
    padded = (n, c, shape[2] + 2 * padding[0], shape[3] + 2 * padding[1])
    disjoint = stride[0] >= kernel[0] and stride[1] >= kernel[1]
    # Windows that tile the input exactly write every element: nothing to zero first.
    tiles = disjoint and padding == (0, 0) and shape[2] == oh * kernel[0] \
        and shape[3] == ow * kernel[1]
    d = (np.empty if tiles else np.zeros)(padded, dtype=g.dtype)
    m = _pool_chunk(n, c, padded[2], padded[3], ow, g.itemsize)
    pool = ChunkedMaxPool(kernel, stride, m, c, padded[2], oh, ow, g.dtype, True, algorithm)
    for a in range(0, n, m):
        k = min(m, n - a)
        pool.backward(g[a:a + k], winners, d[a:a + k], a, k)
    return (crop(d, padding),)


def max_pool2d(x: Tensor, kernel_size: Any, stride: Any = None, padding: Any = 0) -> Tensor:
    """Window maxima: (N, C, H, W) -> (N, C, OH, OW); stride defaults to the kernel size,
    padding adds -inf borders; the gradient goes to the first maximum of each window."""
    kernel, stride, padding, (oh, ow) = _pool_args("max_pool2d", x, kernel_size, stride,
                                                   padding)
    X = x.data
    # While the input is read anyway, note which kernel offset holds each window's first
    # maximum: the backward then needs neither the input nor any comparison with it.
    grad = _GRAD_ENABLED[0] and x.requires_grad
    xp = pad(X, padding, -np.inf)
    n, c, hp, wp = xp.shape
    out = np.empty((n, c, oh, ow), dtype=X.dtype)
    m = _pool_chunk(n, c, hp, wp, ow, X.itemsize)
    algorithm = choose("max_pool", MAX_POOLS, kernel)
    pool = ChunkedMaxPool(kernel, stride, m, c, hp, oh, ow, X.dtype, grad, algorithm)
    winners = pool.winners(n)
    for a in range(0, n, m):
        k = min(m, n - a)
        pool.forward(xp[a:a + k], out[a:a + k], winners, a, k)
    return make_node(out, (x,), _max_pool_back, (winners, kernel, stride, padding, algorithm),
                     "max_pool2d")


def _avg_pool_back(g, ctx, ops):
    kernel, stride, padding = ctx
    n, c, h, w = ops[0].data.shape
    oh, ow = g.shape[2:]
    share = g * (1.0 / (kernel[0] * kernel[1]))
    d = np.zeros((n, c, h + 2 * padding[0], w + 2 * padding[1]), dtype=g.dtype)
    for index in offsets(kernel, stride, oh, ow):
        d[index] += share
    return (crop(d, padding),)


def avg_pool2d(x: Tensor, kernel_size: Any, stride: Any = None, padding: Any = 0) -> Tensor:
    """Window means: (N, C, H, W) -> (N, C, OH, OW); zero padding counts in the mean."""
    kernel, stride, padding, (oh, ow) = _pool_args("avg_pool2d", x, kernel_size, stride,
                                                   padding)
    xp = pad(x.data, padding)
    out = None
    for index in offsets(kernel, stride, oh, ow):
        if out is None:
            out = xp[index].copy()
        else:
            out += xp[index]
    out *= 1.0 / (kernel[0] * kernel[1])
    return make_node(out, (x,), _avg_pool_back, (kernel, stride, padding), "avg_pool2d")
