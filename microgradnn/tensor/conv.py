"""Convolution and pooling on (N, C, H, W) arrays, vectorized: no loop over samples or pixels.

``conv2d`` gathers every receptive field with ``sliding_window_view`` (a strided view,
no copy) into one (N*OH*OW, C*kh*kw) matrix and multiplies it by the flattened
weights: one BLAS call. The backward pass scatters the column gradients back with a
loop over the kh*kw kernel offsets only; each offset adds a strided slice, so windows
that overlap (stride < kernel) accumulate correctly for any stride and padding.
Pooling uses a plain reshape when windows tile the input exactly.
"""

from __future__ import annotations

from typing import Any, Optional, Tuple

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from .tensor import Tensor, make_node

__all__ = ["conv2d", "max_pool2d", "avg_pool2d", "pair", "output_size"]

Pair = Tuple[int, int]


def pair(value: Any, name: str, minimum: int) -> Pair:
    """An int or a pair of ints -> (h, w), each at least ``minimum``."""
    items = tuple(value) if isinstance(value, (tuple, list)) else (value, value)
    if len(items) != 2 or any(isinstance(v, bool) or not isinstance(v, (int, np.integer))
                              or v < minimum for v in items):
        raise ValueError(f"{name} must be an int >= {minimum} or a pair of them, got {value!r}")
    return int(items[0]), int(items[1])


def output_size(size: int, kernel: int, stride: int, padding: int) -> int:
    return (size + 2 * padding - kernel) // stride + 1


def _geometry(op: str, shape: Tuple[int, ...], kernel: Pair, stride: Pair,
              padding: Pair) -> Pair:
    if len(shape) != 4:
        raise ValueError(f"{op}: expected input of shape (N, C, H, W), got {shape}")
    h, w = shape[2] + 2 * padding[0], shape[3] + 2 * padding[1]
    if h < kernel[0] or w < kernel[1]:
        raise ValueError(f"{op}: kernel {kernel} is larger than the padded input "
                         f"{(h, w)} (input shape {shape}, padding {padding})")
    return (h - kernel[0]) // stride[0] + 1, (w - kernel[1]) // stride[1] + 1


def _pad(x: np.ndarray, padding: Pair, value: float = 0.0) -> np.ndarray:
    ph, pw = padding
    if not ph and not pw:
        return x
    return np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)), constant_values=value)


def _windows(xp: np.ndarray, kernel: Pair, stride: Pair) -> np.ndarray:
    """(N, C, Hp, Wp) -> a strided view (N, C, OH, OW, kh, kw) of every window."""
    view = sliding_window_view(xp, kernel, axis=(2, 3))
    return view[:, :, ::stride[0], ::stride[1]]


def _scatter_windows(dwin: np.ndarray, shape: Tuple[int, ...], kernel: Pair, stride: Pair,
                     padding: Pair) -> np.ndarray:
    """Adjoint of ``_windows`` after padding: dwin (N, C, OH, OW, kh, kw) -> (N, C, H, W).

    One strided slice add per kernel offset, so overlapping windows add up.
    """
    n, c, h, w = shape
    (kh, kw), (sh, sw), (ph, pw) = kernel, stride, padding
    oh, ow = dwin.shape[2], dwin.shape[3]
    out = np.zeros((n, c, h + 2 * ph, w + 2 * pw), dtype=dwin.dtype)
    for i in range(kh):
        for j in range(kw):
            out[:, :, i:i + sh * (oh - 1) + 1:sh, j:j + sw * (ow - 1) + 1:sw] += dwin[:, :, :, :, i, j]
    return out[:, :, ph:ph + h, pw:pw + w]


# ---- convolution ----

def _conv2d_back(g, ctx, ops):
    cols, stride, padding, oh, ow = ctx
    x, w = ops[0], ops[1]
    n, c, h, wd = x.data.shape
    o, _, kh, kw = w.data.shape
    g2 = g.transpose(0, 2, 3, 1).reshape(n * oh * ow, o)  # rows match the rows of cols
    gw = (g2.T @ cols).reshape(w.data.shape) if w.requires_grad else None
    gx = None
    if x.requires_grad:
        dcols = (g2 @ w.data.reshape(o, -1)).reshape(n, oh, ow, c, kh, kw)
        gx = _scatter_windows(dcols.transpose(0, 3, 1, 2, 4, 5), x.data.shape, (kh, kw),
                              stride, padding)
    if len(ops) == 2:
        return gx, gw
    gb = g.sum(axis=(0, 2, 3)) if ops[2].requires_grad else None
    return gx, gw, gb


def conv2d(x: Tensor, weight: Tensor, bias: Optional[Tensor] = None, stride: Any = 1,
           padding: Any = 0) -> Tensor:
    """Cross-correlation like PyTorch's: x (N, C, H, W), weight (O, C, kh, kw), bias (O,)
    -> (N, O, OH, OW) with OH = (H + 2*padding - kh) // stride + 1."""
    stride = pair(stride, "conv2d stride", 1)
    padding = pair(padding, "conv2d padding", 0)
    X, W = x.data, weight.data
    if W.ndim != 4:
        raise ValueError(f"conv2d: weight must have shape (O, C, kh, kw), got {W.shape}")
    if X.ndim != 4 or X.shape[1] != W.shape[1]:
        raise ValueError(f"conv2d: input of shape {X.shape} does not match weight of shape "
                         f"{W.shape} (expected (N, {W.shape[1]}, H, W))")
    o, c, kh, kw = W.shape
    n = X.shape[0]
    oh, ow = _geometry("conv2d", X.shape, (kh, kw), stride, padding)
    win = _windows(_pad(X, padding), (kh, kw), stride)  # (N, C, OH, OW, kh, kw)
    cols = win.transpose(0, 2, 3, 1, 4, 5).reshape(n * oh * ow, c * kh * kw)
    out = cols @ W.reshape(o, -1).T
    if bias is not None:
        out += bias.data
    out = np.ascontiguousarray(out.reshape(n, oh, ow, o).transpose(0, 3, 1, 2))
    operands = (x, weight) if bias is None else (x, weight, bias)
    return make_node(out, operands, _conv2d_back, (cols, stride, padding, oh, ow), "conv2d")


# ---- pooling ----

def _tiles(X: np.ndarray, kernel: Pair, oh: int, ow: int) -> np.ndarray:
    """Non-overlapping windows by reshape: (N, C, H, W) -> (N, C, OH, OW, kh*kw) (a copy)."""
    n, c = X.shape[:2]
    kh, kw = kernel
    x = X[:, :, :oh * kh, :ow * kw].reshape(n, c, oh, kh, ow, kw)
    return x.transpose(0, 1, 2, 4, 3, 5).reshape(n, c, oh, ow, kh * kw)


def _untile(d: np.ndarray, shape: Tuple[int, ...], kernel: Pair) -> np.ndarray:
    """Adjoint of ``_tiles``: (N, C, OH, OW, kh*kw) -> (N, C, H, W), zeros in cropped edges."""
    n, c, oh, ow, _ = d.shape
    kh, kw = kernel
    full = d.reshape(n, c, oh, ow, kh, kw).transpose(0, 1, 2, 4, 3, 5).reshape(n, c, oh * kh, ow * kw)
    if full.shape == tuple(shape):
        return full
    out = np.zeros(shape, dtype=d.dtype)
    out[:, :, :oh * kh, :ow * kw] = full
    return out


def _tiled(kernel: Pair, stride: Pair, padding: Pair) -> bool:
    return kernel == stride and padding == (0, 0)


def _check_pool(op: str, x: Tensor, kernel: Pair, padding: Pair) -> None:
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}: expected a Tensor, got {type(x).__name__}")
    if 2 * padding[0] > kernel[0] or 2 * padding[1] > kernel[1]:
        raise ValueError(f"{op}: padding {padding} must be at most half the kernel {kernel}")


def _max_pool_back(g, ctx, ops):
    flat, kernel, stride, padding = ctx
    shape = ops[0].data.shape
    idx = flat.argmax(axis=-1)[..., None]  # first maximum wins ties, as in PyTorch
    d = np.zeros(flat.shape, dtype=g.dtype)
    np.put_along_axis(d, idx, g[..., None], axis=-1)
    if _tiled(kernel, stride, padding):
        return (_untile(d, shape, kernel),)
    n, c, oh, ow, _ = d.shape
    return (_scatter_windows(d.reshape(n, c, oh, ow, *kernel), shape, kernel, stride, padding),)


def max_pool2d(x: Tensor, kernel_size: Any, stride: Any = None, padding: Any = 0) -> Tensor:
    """Window maxima: (N, C, H, W) -> (N, C, OH, OW); stride defaults to the kernel size,
    padding adds -inf borders; the gradient goes to the first maximum of each window."""
    kernel = pair(kernel_size, "max_pool2d kernel_size", 1)
    stride = kernel if stride is None else pair(stride, "max_pool2d stride", 1)
    padding = pair(padding, "max_pool2d padding", 0)
    _check_pool("max_pool2d", x, kernel, padding)
    X = x.data
    oh, ow = _geometry("max_pool2d", X.shape, kernel, stride, padding)
    if _tiled(kernel, stride, padding):
        flat = _tiles(X, kernel, oh, ow)
    else:
        win = _windows(_pad(X, padding, -np.inf), kernel, stride)
        flat = win.reshape(*win.shape[:4], -1)
    out = flat.max(axis=-1)
    return make_node(out, (x,), _max_pool_back, (flat, kernel, stride, padding), "max_pool2d")


def _avg_pool_back(g, ctx, ops):
    kernel, stride, padding = ctx
    shape = ops[0].data.shape
    kk = kernel[0] * kernel[1]
    share = g / kk
    d = np.broadcast_to(share[..., None], share.shape + (kk,))
    if _tiled(kernel, stride, padding):
        return (_untile(np.ascontiguousarray(d), shape, kernel),)
    d = d.reshape(*share.shape, *kernel)
    return (_scatter_windows(d, shape, kernel, stride, padding),)


def avg_pool2d(x: Tensor, kernel_size: Any, stride: Any = None, padding: Any = 0) -> Tensor:
    """Window means: (N, C, H, W) -> (N, C, OH, OW); zero padding counts in the mean."""
    kernel = pair(kernel_size, "avg_pool2d kernel_size", 1)
    stride = kernel if stride is None else pair(stride, "avg_pool2d stride", 1)
    padding = pair(padding, "avg_pool2d padding", 0)
    _check_pool("avg_pool2d", x, kernel, padding)
    X = x.data
    oh, ow = _geometry("avg_pool2d", X.shape, kernel, stride, padding)
    if _tiled(kernel, stride, padding):
        out = _tiles(X, kernel, oh, ow).mean(axis=-1)
    else:
        out = _windows(_pad(X, padding), kernel, stride).mean(axis=(-2, -1))
    return make_node(np.ascontiguousarray(out), (x,), _avg_pool_back, (kernel, stride, padding),
                     "avg_pool2d")
