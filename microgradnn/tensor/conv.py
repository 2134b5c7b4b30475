"""Convolution and pooling on (N, C, H, W) arrays, vectorized: no loop over samples or pixels.

Everything loops over the kh*kw kernel offsets only. For offset (i, j) the input pixel
each window sees is one strided slice of the padded input, so ``conv2d`` builds its
(N, C*kh*kw, OH*OW) columns with kh*kw slice copies and multiplies them by the
flattened weights (one small GEMM per sample, output already (N, O, OH, OW)).
Backward adds each offset's slice back: windows that overlap (stride < kernel)
accumulate correctly for any stride and padding. Pooling takes a running maximum or
sum over the same slices, which beats reshaping windows into a copy.
"""

from __future__ import annotations

from typing import Any, Optional, Tuple

import numpy as np

from .tensor import Tensor, make_node

__all__ = ["conv2d", "max_pool2d", "avg_pool2d", "pair"]

Pair = Tuple[int, int]


def pair(value: Any, name: str, minimum: int) -> Pair:
    """An int or a pair of ints -> (h, w), each at least ``minimum``."""
    items = tuple(value) if isinstance(value, (tuple, list)) else (value, value)
    if len(items) != 2 or any(isinstance(v, bool) or not isinstance(v, (int, np.integer))
                              or v < minimum for v in items):
        raise ValueError(f"{name} must be an int >= {minimum} or a pair of them, got {value!r}")
    return int(items[0]), int(items[1])


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


def _offsets(kernel: Pair, stride: Pair, oh: int, ow: int):
    """Yield an index for each kernel offset (i, j) in row-major order: it selects, in a
    padded (N, C, Hp, Wp) array, the input element that offset sees in every window."""
    (kh, kw), (sh, sw) = kernel, stride
    for i in range(kh):
        for j in range(kw):
            yield (slice(None), slice(None), slice(i, i + sh * (oh - 1) + 1, sh),
                   slice(j, j + sw * (ow - 1) + 1, sw))


def _crop(xp: np.ndarray, padding: Pair) -> np.ndarray:
    ph, pw = padding
    if not ph and not pw:
        return xp
    return xp[:, :, ph:xp.shape[2] - ph, pw:xp.shape[3] - pw]


# ---- convolution ----

def _valid(size: int, out: int, offset: int, stride: int, pad: int) -> Tuple[slice, slice]:
    """Along one axis, for kernel offset ``offset``: the output positions whose input
    pixel lies inside the unpadded image, and those input pixels (as slices).

    Output position o reads input pixel o*stride + offset - pad; padding pixels are
    simply never copied (their columns stay zero), so no padded copy is made.
    """
    lo = max(0, -((offset - pad) // stride))
    hi = min(out - 1, (size - 1 + pad - offset) // stride)
    if hi < lo:
        return slice(0, 0), slice(0, 0)
    first = lo * stride + offset - pad
    return slice(lo, hi + 1), slice(first, first + (hi - lo) * stride + 1, stride)


def _im2col(x: np.ndarray, kernel: Pair, stride: Pair, padding: Pair, oh: int, ow: int,
            ones_row: bool) -> np.ndarray:
    """(N, C, H, W) -> columns (N, C*kh*kw [+1], OH*OW): one strided copy per kernel offset.

    With ``ones_row`` a last row of ones is appended, so that the bias rides along in
    the same GEMM (forward) and its gradient comes out of the weight GEMM (backward).
    """
    n, c, h, w = x.shape
    kh, kw = kernel
    rows = c * kh * kw
    alloc = np.zeros if padding != (0, 0) else np.empty
    buf = alloc((n, rows + ones_row, oh * ow), dtype=x.dtype)
    if ones_row:
        buf[:, rows] = 1
    cols = buf[:, :rows].reshape(n, c, kh, kw, oh, ow)  # a view into buf
    for i in range(kh):
        out_r, in_r = _valid(h, oh, i, stride[0], padding[0])
        for j in range(kw):
            out_c, in_c = _valid(w, ow, j, stride[1], padding[1])
            cols[:, :, i, j, out_r, out_c] = x[:, :, in_r, in_c]
    return buf


def _col2im(g3: np.ndarray, w2: np.ndarray, shape: Tuple[int, ...], kernel: Pair,
            stride: Pair, padding: Pair, oh: int, ow: int) -> np.ndarray:
    """Input gradient: column gradients ``w2.T @ g3`` added back at each input pixel
    (the adjoint of ``_im2col``); overlapping windows add up."""
    n, c, h, w = shape
    kh, kw = kernel
    if stride == (1, 1):
        return _col2im_stride1(g3, w2, shape, kernel, padding, oh, ow)
    d = np.matmul(w2.T, g3).reshape(n, c, kh, kw, oh, ow)
    out = np.zeros(shape, dtype=g3.dtype)
    for i in range(kh):
        out_r, in_r = _valid(h, oh, i, stride[0], padding[0])
        for j in range(kw):
            out_c, in_c = _valid(w, ow, j, stride[1], padding[1])
            out[:, :, in_r, in_c] += d[:, :, i, j, out_r, out_c]
    return out


def _col2im_stride1(g3: np.ndarray, w2: np.ndarray, shape: Tuple[int, ...], kernel: Pair,
                    padding: Pair, oh: int, ow: int) -> np.ndarray:
    """Stride 1: lay each output row out at the padded width Wp (zeros in the extra
    columns), so that offset (i, j) adds one contiguous run of OH*Wp numbers to the
    flattened padded image at i*Wp + j. Long runs instead of short rows: ~1.5x faster."""
    n, c, h, w = shape
    kh, kw = kernel
    hp, wp = h + 2 * padding[0], w + 2 * padding[1]
    o = g3.shape[1]
    gp = np.zeros((n, o, oh, wp), dtype=g3.dtype)
    gp[:, :, :, :ow] = g3.reshape(n, o, oh, ow)
    run = oh * wp
    d = np.matmul(w2.T, gp.reshape(n, o, run)).reshape(n, c, kh, kw, run)
    flat = np.zeros((n, c, hp * wp + kw - 1), dtype=g3.dtype)
    for i in range(kh):
        for j in range(kw):
            start = i * wp + j
            flat[:, :, start:start + run] += d[:, :, i, j]
    image = flat[:, :, :hp * wp].reshape(n, c, hp, wp)
    return image[:, :, padding[0]:padding[0] + h, padding[1]:padding[1] + w]


def _conv2d_back(g, ctx, ops):
    cols, stride, padding, oh, ow = ctx
    x, w = ops[0], ops[1]
    n = g.shape[0]
    o, c, kh, kw = w.data.shape
    rows = c * kh * kw
    g3 = g.reshape(n, o, oh * ow)
    gx = gw = gb = None
    if w.requires_grad or len(ops) == 3:
        # One small GEMM per sample, summed; with a bias, its gradient is the last column.
        full = np.matmul(g3, cols.transpose(0, 2, 1)).sum(axis=0)
        gw = full[:, :rows].reshape(w.data.shape)
        if len(ops) == 3:
            gb = full[:, rows]
    if x.requires_grad:
        gx = _col2im(g3, w.data.reshape(o, rows), x.data.shape, (kh, kw), stride, padding,
                     oh, ow)
    return (gx, gw) if len(ops) == 2 else (gx, gw, gb)


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
    if X.dtype != W.dtype or (bias is not None and bias.data.dtype != W.dtype):
        raise TypeError(f"conv2d: cannot mix dtypes (input {X.dtype}, weight {W.dtype})")
    o, c, kh, kw = W.shape
    n = X.shape[0]
    oh, ow = _geometry("conv2d", X.shape, (kh, kw), stride, padding)
    cols = _im2col(X, (kh, kw), stride, padding, oh, ow, ones_row=bias is not None)
    w2 = W.reshape(o, -1)
    if bias is not None:
        w2 = np.concatenate([w2, bias.data[:, None]], axis=1)
    out = np.matmul(w2, cols)  # (N, O, OH*OW): already channel-first
    operands = (x, weight) if bias is None else (x, weight, bias)
    return make_node(out.reshape(n, o, oh, ow), operands, _conv2d_back,
                     (cols, stride, padding, oh, ow), "conv2d")


# ---- pooling: one strided slice per kernel offset, never a window copy ----

def _check_pool(op: str, x: Tensor, kernel: Pair, padding: Pair) -> None:
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}: expected a Tensor, got {type(x).__name__}")
    if 2 * padding[0] > kernel[0] or 2 * padding[1] > kernel[1]:
        raise ValueError(f"{op}: padding {padding} must be at most half the kernel {kernel}")


def _max_pool_back(g, ctx, ops):
    xp, out, kernel, stride, padding = ctx
    oh, ow = out.shape[2:]
    d = np.zeros(xp.shape, dtype=g.dtype)
    disjoint = stride[0] >= kernel[0] and stride[1] >= kernel[1]
    last = kernel[0] * kernel[1] - 1
    taken = None  # windows whose maximum has already been found
    for k, index in enumerate(_offsets(kernel, stride, oh, ow)):
        # Row-major offsets and a running "taken" mask: the first maximum of each
        # window takes the whole gradient, as in PyTorch (ties are common after ReLU).
        if k == 0:
            hit = taken = xp[index] == out
        elif k < last:
            hit = xp[index] == out
            np.greater(hit, taken, out=hit)  # a maximum, and none found before
            taken |= hit
        else:  # the windows left over have their maximum at the last offset
            hit = ~taken
        if disjoint:  # each input element belongs to one window: write, do not add
            np.multiply(g, hit, out=d[index])
        else:
            d[index] += g * hit
    return (_crop(d, padding),)


def max_pool2d(x: Tensor, kernel_size: Any, stride: Any = None, padding: Any = 0) -> Tensor:
    """Window maxima: (N, C, H, W) -> (N, C, OH, OW); stride defaults to the kernel size,
    padding adds -inf borders; the gradient goes to the first maximum of each window."""
    kernel = pair(kernel_size, "max_pool2d kernel_size", 1)
    stride = kernel if stride is None else pair(stride, "max_pool2d stride", 1)
    padding = pair(padding, "max_pool2d padding", 0)
    _check_pool("max_pool2d", x, kernel, padding)
    X = x.data
    oh, ow = _geometry("max_pool2d", X.shape, kernel, stride, padding)
    xp = _pad(X, padding, -np.inf)
    out = None
    for index in _offsets(kernel, stride, oh, ow):
        if out is None:
            out = xp[index].copy()
        else:
            np.maximum(out, xp[index], out=out)
    return make_node(out, (x,), _max_pool_back, (xp, out, kernel, stride, padding), "max_pool2d")


def _avg_pool_back(g, ctx, ops):
    kernel, stride, padding = ctx
    n, c, h, w = ops[0].data.shape
    oh, ow = g.shape[2:]
    share = g * (1.0 / (kernel[0] * kernel[1]))
    d = np.zeros((n, c, h + 2 * padding[0], w + 2 * padding[1]), dtype=g.dtype)
    for index in _offsets(kernel, stride, oh, ow):
        d[index] += share
    return (_crop(d, padding),)


def avg_pool2d(x: Tensor, kernel_size: Any, stride: Any = None, padding: Any = 0) -> Tensor:
    """Window means: (N, C, H, W) -> (N, C, OH, OW); zero padding counts in the mean."""
    kernel = pair(kernel_size, "avg_pool2d kernel_size", 1)
    stride = kernel if stride is None else pair(stride, "avg_pool2d stride", 1)
    padding = pair(padding, "avg_pool2d padding", 0)
    _check_pool("avg_pool2d", x, kernel, padding)
    X = x.data
    oh, ow = _geometry("avg_pool2d", X.shape, kernel, stride, padding)
    xp = _pad(X, padding)
    out = None
    for index in _offsets(kernel, stride, oh, ow):
        if out is None:
            out = xp[index].copy()
        else:
            out += xp[index]
    out *= 1.0 / (kernel[0] * kernel[1])
    return make_node(out, (x,), _avg_pool_back, (kernel, stride, padding), "avg_pool2d")
