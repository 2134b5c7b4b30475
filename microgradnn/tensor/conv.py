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

import threading
from typing import Any, Optional, Tuple

import numpy as np

from numpy.lib.stride_tricks import as_strided

from .tensor import _GRAD_ENABLED, Tensor, make_node

__all__ = ["conv2d", "conv2d_relu", "max_pool2d", "avg_pool2d", "pair", "output_size"]

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


def _offsets(kernel: Pair, stride: Pair, oh: int, ow: int):
    """Yield (i, j, index) for each kernel offset in row-major order; ``index`` selects, in a
    padded (N, C, Hp, Wp) array, the input element that offset (i, j) sees in every window."""
    (kh, kw), (sh, sw) = kernel, stride
    for i in range(kh):
        for j in range(kw):
            yield i, j, (slice(None), slice(None), slice(i, i + sh * (oh - 1) + 1, sh),
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
    d = np.matmul(w2.T, g3).reshape(n, c, kh, kw, oh, ow)
    out = np.zeros(shape, dtype=g3.dtype)
    for i in range(kh):
        out_r, in_r = _valid(h, oh, i, stride[0], padding[0])
        for j in range(kw):
            out_c, in_c = _valid(w, ow, j, stride[1], padding[1])
            out[:, :, in_r, in_c] += d[:, :, i, j, out_r, out_c]
    return out


# Stride 1, the "wide" layout: each sample's padded image is flattened row by row (Hp*Wp
# numbers, plus kw-1 zeros at the end), and output position q = r*Wp + col (r < OH, col < Wp)
# reads, at kernel offset (i, j), the flattened pixel q + i*Wp + j. So every (channel,
# offset) row of the columns is ONE contiguous run of OH*Wp numbers: the columns are a single
# copy of an ``as_strided`` view, long runs instead of N*C*kh*kw*OH short rows. The kw-1
# columns col >= OW of each output row are padding of the layout (they read the next
# row's pixels); the output is a view that leaves them out, and gradients there are zero.
#
# The batch is processed in chunks whose scratch arrays (columns, shifted gradients) fit in
# the core's cache, and the columns are rebuilt in the backward pass from the small padded
# input instead of being kept: a step touches far less memory than with batch-sized columns,
# and on this machine the convolutions are bound by memory traffic, not by the GEMMs.

_CHUNK_BYTES = 1 << 20
_SCRATCH = threading.local()


def _scratch(name: str, shape: Tuple[int, ...], dtype: np.dtype) -> np.ndarray:
    """A zero-initialised work array of this thread, reused by every call of the same shape.

    Callers only ever write the parts they read back, so parts they never write (the ones
    row of the columns, the zero edges of the shifted gradients) keep their first content.
    """
    arrays = getattr(_SCRATCH, "arrays", None)
    if arrays is None:
        arrays = _SCRATCH.arrays = {}
    key = (name, shape, dtype)
    arr = arrays.get(key)
    if arr is None:
        if len(arrays) > 32:
            arrays.clear()
        arr = arrays[key] = np.zeros(shape, dtype=dtype)
    return arr


def _chunk(n: int, per_sample: int, itemsize: int) -> int:
    """Samples per chunk so that ``per_sample`` numbers each fill about ``_CHUNK_BYTES``."""
    return max(1, min(n, _CHUNK_BYTES // max(1, per_sample * itemsize)))


class _Wide:
    """Geometry of a stride-1 convolution in the wide layout, and its three loops."""

    def __init__(self, x_shape: Tuple[int, ...], w_shape: Tuple[int, ...], padding: Pair,
                 bias: bool, dtype: np.dtype) -> None:
        self.n, self.c, self.h, self.w = x_shape
        self.o, _, self.kh, self.kw = w_shape
        self.ph, self.pw = padding
        self.hp, self.wp = self.h + 2 * self.ph, self.w + 2 * self.pw
        self.oh, self.ow = self.hp - self.kh + 1, self.wp - self.kw + 1
        self.run = self.oh * self.wp  # wide positions of one output channel
        self.span = self.run + self.kw - 1
        self.size = self.hp * self.wp + self.kw - 1  # a flattened padded image
        self.rows = self.c * self.kh * self.kw
        self.bias = bias
        self.dtype = dtype

    def flat(self, x: np.ndarray) -> np.ndarray:
        """(N, C, H, W) -> (N, C, size): zero-padded images, flattened row-major."""
        flat = np.zeros((self.n, self.c, self.size), dtype=self.dtype)
        image = flat[:, :, :self.hp * self.wp].reshape(self.n, self.c, self.hp, self.wp)
        image[:, :, self.ph:self.ph + self.h, self.pw:self.pw + self.w] = x
        return flat

    def columns(self, flat: np.ndarray, m: int):
        """A scratch column array for ``m`` samples (ones row preset when there is a bias)
        and a function filling its first k samples from samples a..a+k of ``flat``."""
        cols = _scratch("cols", (m, self.rows + self.bias, self.run), self.dtype)
        if self.bias:
            cols[:, self.rows] = 1
        s0, s1, s2 = flat.strides
        windows = as_strided(flat, (self.n, self.c, self.kh, self.kw, self.run),
                             (s0, s1, self.wp * s2, s2, s2), writeable=False)
        shape = (self.c, self.kh, self.kw, self.run)

        def fill(a: int, k: int) -> np.ndarray:
            cols[:k, :self.rows].reshape((k,) + shape)[...] = windows[a:a + k]
            return cols[:k]
        return fill

    def forward(self, flat: np.ndarray, w2: np.ndarray) -> np.ndarray:
        """(N, O, OH*Wp): the GEMM of each sample's columns with the (bias-extended) weights."""
        n = self.n
        raw = np.empty((n, self.o, self.run), dtype=self.dtype)
        m = _chunk(n, (self.rows + 1 + self.o) * self.run, raw.itemsize)
        fill = self.columns(flat, m)
        for a in range(0, n, m):
            k = min(m, n - a)
            np.matmul(w2, fill(a, k), out=raw[a:a + k])
        return raw

    def backward(self, g: np.ndarray, mask: Optional[np.ndarray], flat: np.ndarray,
                 weight: np.ndarray, want_w: bool, want_x: bool):
        """-> (weight gradient (O, rows [+1]) or None, input gradient (N, C, H, W) or None)."""
        n, o, c, kh, kw = self.n, self.o, self.c, self.kh, self.kw
        run, span, wp, ow = self.run, self.span, self.wp, self.ow
        dt = self.dtype
        per_sample = (o * run + (self.rows + 1) * run * want_w
                      + (kw * o * span + kh * c * span + c * self.size) * want_x)
        m = _chunk(n, per_sample, np.dtype(dt).itemsize)
        # The output gradient on the wide grid, zero in the layout's padding columns.
        gpad = _scratch("gpad", (m, o, self.oh, wp), dt)
        g3 = gpad.reshape(m, o, run)
        gw = np.zeros((o, self.rows + self.bias), dtype=dt) if want_w else None
        if want_w:
            fill = self.columns(flat, m)
        if want_x:
            # shifted[:, j, :, t] = g3[:, :, t - j] (zero edges), rows (j, o) of one GEMM
            # with the weights as [(i, c), (j, o)]: for each kernel row i, the gradient of
            # the padded image shifted by i*Wp; kh long additions put them together.
            shifted = _scratch("shifted", (m, kw, o, span), dt)
            w3 = weight.transpose(2, 1, 3, 0).reshape(kh * c, kw * o)
            image = _scratch("image", (m, c, self.size), dt)
            gx = np.empty((n, c, self.h, self.w), dtype=dt)
        for a in range(0, n, m):
            k = min(m, n - a)
            if mask is None:
                gpad[:k, :, :, :ow] = g[a:a + k]
            else:
                np.multiply(g[a:a + k], mask[a:a + k], out=gpad[:k, :, :, :ow])
            gk = g3[:k]
            if want_w:
                # one small GEMM per sample, summed; a bias's gradient is the last column
                gw += np.matmul(gk, fill(a, k).transpose(0, 2, 1)).sum(axis=0)
            if want_x:
                for j in range(kw):
                    shifted[:k, j, :, j:j + run] = gk
                parts = np.matmul(w3, shifted[:k].reshape(k, kw * o, span))
                img = image[:k]
                img[:, :, :span] = parts[:, :c]
                img[:, :, span:] = 0
                for i in range(1, kh):
                    img[:, :, i * wp:i * wp + span] += parts[:, i * c:(i + 1) * c]
                padded = img[:, :, :self.hp * wp].reshape(k, c, self.hp, wp)
                gx[a:a + k] = padded[:, :, self.ph:self.ph + self.h, self.pw:self.pw + self.w]
        return gw, (gx if want_x else None)


def _conv_forward(X: np.ndarray, W: np.ndarray, B: Optional[np.ndarray], stride: Pair,
                  padding: Pair, wide: bool) -> Tuple[np.ndarray, np.ndarray, Any]:
    """-> (output (N, O, OH, OW), the GEMM's output array it views, context for backward)."""
    o, c, kh, kw = W.shape
    n, _, h, w = X.shape
    oh, ow = _geometry("conv2d", X.shape, (kh, kw), stride, padding)
    w2 = W.reshape(o, -1)
    if (kh, kw) == (1, 1) and stride == (1, 1) and padding == (0, 0):
        # 1x1: the input itself is the column matrix, nothing to copy.
        cols = X.reshape(n, c, h * w)
        raw = np.matmul(w2, cols)
        if B is not None:
            raw += B[:, None]
        return raw.reshape(n, o, oh, ow), raw, ("pointwise", cols)
    if B is not None:
        w2 = np.concatenate([w2, B[:, None]], axis=1)  # the bias rides in the GEMM
    if wide:
        geo = _Wide(X.shape, W.shape, padding, B is not None, X.dtype)
        flat = geo.flat(X)
        raw = geo.forward(flat, w2)  # (N, O, OH*Wp)
        return raw.reshape(n, o, oh, geo.wp)[:, :, :, :ow], raw, ("wide", (geo, flat))
    cols = _im2col(X, (kh, kw), stride, padding, oh, ow, ones_row=B is not None)
    raw = np.matmul(w2, cols)  # (N, O, OH*OW): already channel-first
    return raw.reshape(n, o, oh, ow), raw, ("columns", cols)


def _conv_backward(g: np.ndarray, ctx: Any, ops: Tuple[Tensor, ...]):
    (kind, saved), stride, padding, mask = ctx
    x, weight = ops[0], ops[1]
    W = weight.data
    o, c, kh, kw = W.shape
    n, _, oh, ow = g.shape
    has_bias = len(ops) == 3
    want_w = weight.requires_grad or has_bias
    rows = c * kh * kw
    gx = gw = gb = None
    if kind == "wide":
        geo, flat = saved
        full, gx = geo.backward(g, mask, flat, W, want_w, x.requires_grad)
        if want_w:
            gw = full[:, :rows].reshape(W.shape)
            gb = full[:, rows] if has_bias else None
        return (gx, gw) if not has_bias else (gx, gw, gb)
    if mask is not None:
        g = g * mask
    g3 = g.reshape(n, o, oh * ow)
    if want_w:
        # One small GEMM per sample, summed; with a bias row, its gradient is the last column.
        full = np.matmul(g3, saved.transpose(0, 2, 1)).sum(axis=0)
        gw = full[:, :rows].reshape(W.shape)
        if has_bias:
            gb = full[:, rows] if kind != "pointwise" else g3.sum(axis=2).sum(axis=0)
    if x.requires_grad:
        if kind == "pointwise":
            gx = np.matmul(W.reshape(o, c).T, g3).reshape(x.data.shape)
        else:
            gx = _col2im(g3, W.reshape(o, -1), x.data.shape, (kh, kw), stride, padding, oh, ow)
    return (gx, gw) if not has_bias else (gx, gw, gb)


def _conv_back(g, ctx, ops):
    return _conv_backward(g, (ctx[0], ctx[1], ctx[2], None), ops)


def _conv_relu_back(g, ctx, ops):
    data, stride, padding, out = ctx
    # relu's backward (its output is positive exactly where its input was), then conv's.
    return _conv_backward(g, (data, stride, padding, out > 0), ops)


def _conv_checked(x: Tensor, weight: Tensor, bias: Optional[Tensor], stride: Any,
                  padding: Any) -> Tuple[Pair, Pair]:
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
    return stride, padding


def _use_wide(x: Tensor, stride: Pair) -> bool:
    """The wide layout needs stride 1; it pays when the input gradient is wanted too (that
    gradient is computed on the wide grid anyway, so both directions share it)."""
    return stride == (1, 1) and x.requires_grad and _GRAD_ENABLED[0]


def conv2d(x: Tensor, weight: Tensor, bias: Optional[Tensor] = None, stride: Any = 1,
           padding: Any = 0) -> Tensor:
    """Cross-correlation like PyTorch's: x (N, C, H, W), weight (O, C, kh, kw), bias (O,)
    -> (N, O, OH, OW) with OH = (H + 2*padding - kh) // stride + 1."""
    stride, padding = _conv_checked(x, weight, bias, stride, padding)
    out, _, data = _conv_forward(x.data, weight.data, None if bias is None else bias.data,
                                 stride, padding, _use_wide(x, stride))
    operands = (x, weight) if bias is None else (x, weight, bias)
    return make_node(out, operands, _conv_back, (data, stride, padding), "conv2d")


def conv2d_relu(x: Tensor, weight: Tensor, bias: Optional[Tensor] = None, stride: Any = 1,
                padding: Any = 0) -> Tensor:
    """``relu(conv2d(x, weight, bias, stride, padding))`` as one node "conv2d+relu".

    The same numbers as the two ops one after the other; the maximum is taken in place
    on the GEMM's output, and the backward masks the gradient on its way into the
    convolution's, which saves an array and a pass over it each way.
    """
    stride, padding = _conv_checked(x, weight, bias, stride, padding)
    out, raw, data = _conv_forward(x.data, weight.data, None if bias is None else bias.data,
                                   stride, padding, _use_wide(x, stride))
    np.maximum(raw, _zeros_like(raw), out=raw)
    operands = (x, weight) if bias is None else (x, weight, bias)
    return make_node(out, operands, _conv_relu_back, (data, stride, padding, out),
                     "conv2d+relu")


# Read-only zero arrays, one per (shape, dtype) seen: numpy's maximum against a full array
# runs its vector loop, against a scalar zero a scalar loop about 3x slower.
_ZEROS: dict = {}


def _zeros_like(a: np.ndarray) -> np.ndarray:
    key = (a.shape, a.dtype)
    z = _ZEROS.get(key)
    if z is None:
        if len(_ZEROS) > 16:
            _ZEROS.clear()
        z = _ZEROS[key] = np.zeros(a.shape, dtype=a.dtype)
        z.flags.writeable = False
    return z


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
    for k, (_, _, index) in enumerate(_offsets(kernel, stride, oh, ow)):
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
    for _, _, index in _offsets(kernel, stride, oh, ow):
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
    for _, _, index in _offsets(kernel, stride, oh, ow):
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
    for _, _, index in _offsets(kernel, stride, oh, ow):
        if out is None:
            out = xp[index].copy()
        else:
            out += xp[index]
    out *= 1.0 / (kernel[0] * kernel[1])
    return make_node(out, (x,), _avg_pool_back, (kernel, stride, padding), "avg_pool2d")
