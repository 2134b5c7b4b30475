"""Convolution and pooling on (N, C, H, W) arrays, vectorized: no loop over pixels.

``conv2d`` is one small GEMM per sample (weights times that sample's im2col columns), run
over the batch in cache-sized chunks; stride-1 convolutions use a "wide" column layout in
which every (channel, kernel offset) row is one contiguous run, compute their input
gradient as a correlation with the flipped kernel (no scatter) and, with several input
channels, their weight gradient as one batched GEMM per kernel offset over shifted views of
the input (no columns). ``conv2d_relu`` and ``conv2d_relu_max_pool2d`` are the same numbers
as the layers one after the other, fused into one node (``Sequential`` uses them) so that
relu masks, activations and pool gradients never take a batch-sized array; the fused pool
runs over groups of samples that fit the cache. Pooling reads each kernel offset's strided
slice once; max pooling notes each window's winner for the backward, and pools windows of
more than 4 pixels rows first, then columns. The layouts and their measurements are
described below and in benchmarks/RESULTS.md (issue 18).
"""

from __future__ import annotations

import threading
from typing import Any, Optional, Tuple

import numpy as np
from numpy.lib.stride_tricks import as_strided

from .tensor import _GRAD_ENABLED, Tensor, make_node

__all__ = ["conv2d", "conv2d_relu", "conv2d_relu_max_pool2d", "max_pool2d", "avg_pool2d",
           "pair"]

Pair = Tuple[int, int]


def pair(value: Any, name: str, minimum: int) -> Pair:
    """An int or a pair of ints -> (h, w), each at least ``minimum``."""
    items = tuple(value) if isinstance(value, (tuple, list)) else (value, value)
    if len(items) != 2 or any(isinstance(v, bool) or not isinstance(v, (int, np.integer))
                              or v < minimum for v in items):
        raise ValueError(f"{name} must be an int >= {minimum} or a pair of them, got {value!r}")
    return int(items[0]), int(items[1])


# No array of a network a learner trains comes near this (8 GiB of float32); a bigger one
# is a mistake (say padding=10**6) to refuse in one line, not a MemoryError.
MAX_ELEMENTS = 2 ** 31


def _geometry(op: str, shape: Tuple[int, ...], kernel: Pair, stride: Pair,
              padding: Pair) -> Pair:
    if len(shape) != 4:
        raise ValueError(f"{op}: expected input of shape (N, C, H, W), got {shape}")
    h, w = shape[2] + 2 * padding[0], shape[3] + 2 * padding[1]
    if shape[0] * shape[1] * h * w > MAX_ELEMENTS:  # checked before anything is allocated
        raise ValueError(f"{op}: padding {padding} makes the input {shape} a padded array of "
                         f"{shape[0] * shape[1] * h * w:,} numbers, more than the "
                         f"{MAX_ELEMENTS:,} one array may hold here")
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
#
# A convolution is one small GEMM per sample: weights (O, C*kh*kw [+1 for the bias]) times
# that sample's columns (C*kh*kw [+1 row of ones], positions). The columns are one copy of an
# ``as_strided`` view of the (padded) input. The batch runs in chunks whose columns fit in
# the core's cache; wide columns are never kept (the backward pass rebuilds them from the
# input), compact ones are. On this machine the convolutions are bound by memory traffic,
# not by the GEMMs, so not writing batch-sized columns and reading them back pays where
# rebuilding them is cheap.
#
# Two layouts of the positions:
# - compact (kernels no larger than the stride): position r*OW + col, window rows of OW
#   pixels;
# - wide (every other conv): each sample's padded image is flattened row by row (Hp rows of
#   Wp numbers, plus kw-1 zeros), and position q = r*Wp + col (col < Wp) reads, at kernel
#   offset (i, j), the flattened pixel q + i*Wp + j. A (channel, offset) row of the columns
#   is then ONE contiguous run of OH*Wp numbers instead of OH short rows. Rows share their
#   padding (Wp = W + pw: a row's right padding is read as the next row's left one). The
#   positions col >= OW of each output row are waste of the layout (they read the next
#   row's pixels): the output leaves them out, and their gradient is zero.
#   Its input gradient is the correlation of the output gradient with the flipped kernel:
#   one GEMM over kw shifted copies of the gradient gives, for each kernel row i, the
#   gradient of the padded image shifted by i*Wp, and kh long additions put them together.
#   Strided, the same over phase planes: plane (py, px) holds the padded pixels
#   (y*sh + py, x*sw + px), offset (i, j) reads plane (i % sh, j % sw) shifted by
#   (i // sh)*qw + j // sw, and each plane's input gradient is the stride-1 case again.

_CHUNK_BYTES = 1 << 20
_SCRATCH_BYTES = 64 << 20  # all scratch arrays of a thread together, before starting over
_SCRATCH = threading.local()


def _scratch(name: Any, shape: Tuple[int, ...], dtype: np.dtype) -> np.ndarray:
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
        arr = np.zeros(shape, dtype=dtype)
        if sum(a.nbytes for a in arrays.values()) + arr.nbytes > _SCRATCH_BYTES:
            arrays.clear()  # (arrays in use stay alive with their callers)
        arrays[key] = arr
    return arr


def _chunk(n: int, per_sample: int, itemsize: int, scale: int = 1) -> int:
    """Samples per chunk so that ``per_sample`` numbers each fill about ``scale`` times
    ``_CHUNK_BYTES``."""
    return max(1, min(n, scale * _CHUNK_BYTES // max(1, per_sample * itemsize)))


class _Plan:
    """The geometry of one convolution call and its chunked forward and backward loops."""

    def __init__(self, x_shape: Tuple[int, ...], w_shape: Tuple[int, ...], stride: Pair,
                 padding: Pair, bias: bool, dtype: np.dtype, wide: bool,
                 pool: Optional[Tuple[Pair, Pair]] = None) -> None:
        self.n, self.c, self.h, self.w = x_shape
        self.o, _, self.kh, self.kw = w_shape
        (self.sh, self.sw), (self.ph, self.pw) = stride, padding
        self.hp, self.wp = self.h + 2 * self.ph, self.w + 2 * self.pw
        self.oh, self.ow = _geometry("conv2d", x_shape, (self.kh, self.kw), stride, padding)
        self.wide = wide  # the wide layout, over phase planes when strided
        self.phases = self.sh * self.sw if wide else 1
        # the layout's rows of qw positions over planes of qh rows: stride 1, the padded
        # image; strided, the pixels of one phase (y % sh, x % sw) that some window reads
        self.qh = self.oh + (self.kh - 1) // self.sh if wide else self.hp
        self.qw = self.ow + (self.kw - 1) // self.sw if wide else self.wp
        if wide and self.phases == 1:
            # Rows share their padding: a row's right padding pixels are read as the next
            # row's left ones (zeros both), so a row is W + pw wide, not W + 2*pw, and fewer
            # of its positions are the layout's waste (7x7: 1 in 8 instead of 2 in 9)
            self.wp = self.qw = max(self.w + self.pw, self.ow)
        self.run = self.oh * (self.qw if wide else self.ow)  # positions per output channel
        self.size = self.qh * self.qw + (self.kw - 1) // self.sw  # a flattened plane (wide)
        self.rows = self.c * self.kh * self.kw
        self.bias = bias
        self.dtype = dtype
        self._cuts: Optional[list] = None
        self._phase_cuts: Optional[list] = None
        self.pool = pool  # (kernel, stride) of a max pool taken inside the chunks
        if pool is not None:
            pkh, pkw = pool[0]
            self.poh, self.pow = _geometry("max_pool2d", (self.n, self.o, self.oh, self.ow),
                                           pool[0], pool[1], (0, 0))
            # windows that tile the output exactly overwrite all of it in the backward
            self.pool_tiles = pool[0] == pool[1] and self.oh == self.poh * pkh \
                and self.ow == self.pow * pkw

    def source(self, x: np.ndarray) -> np.ndarray:
        """The array the columns are cut from: wide, the input zero-padded and flattened
        (N, C, size); strided wide, its phase planes so (N, C, sh*sw, size); compact, the
        input itself (padding pixels are never copied, their columns stay 0)."""
        n, c, h, w, ph, pw = self.n, self.c, self.h, self.w, self.ph, self.pw
        if not self.wide:
            return x
        if self.phases > 1:
            src = np.zeros((n, c, self.phases, self.size), dtype=self.dtype)
            for p, y0, x0, yq, xq, ny, nx in self.phase_cuts():
                self.plane_grid(src[:, :, p])[:, :, yq:yq + ny, xq:xq + nx] = \
                    x[:, :, y0::self.sh, x0::self.sw][:, :, :ny, :nx]
            return src
        src = np.zeros((n, c, self.size), dtype=self.dtype)
        image = src[:, :, :self.hp * self.wp].reshape(n, c, self.hp, self.wp)
        image[:, :, ph:ph + h, pw:pw + w] = x
        return src

    def phase_cuts(self):
        """For each phase plane p of a strided wide layout: (p, y0, x0, yq, xq, ny, nx) where
        image pixel (y0 + a*sh, x0 + b*sw) is the plane's (yq + a, xq + b), a < ny, b < nx.

        Plane p = py*sw + px holds padded pixel (yq*sh + py, xq*sw + px). Image pixels past
        the plane (read by no window: the last rows or columns when the stride skips
        them) are left out."""
        if self._phase_cuts is not None:
            return self._phase_cuts
        cuts = self._phase_cuts = []
        for py in range(self.sh):
            for px in range(self.sw):
                y0, x0 = (py - self.ph) % self.sh, (px - self.pw) % self.sw
                yq, xq = (y0 + self.ph - py) // self.sh, (x0 + self.pw - px) // self.sw
                ny = max(0, min(len(range(y0, self.h, self.sh)), self.qh - yq))
                nx = max(0, min(len(range(x0, self.w, self.sw)), self.qw - xq))
                cuts.append((py * self.sw + px, y0, x0, yq, xq, ny, nx))
        return cuts

    def plane_grid(self, plane: np.ndarray) -> np.ndarray:
        """(..., size) flattened planes -> their (..., qh, qw) pixels."""
        return plane[..., :self.qh * self.qw].reshape(plane.shape[:-1] + (self.qh, self.qw))

    def at_offset(self, src: np.ndarray, i: int, j: int) -> np.ndarray:
        """Wide layouts: the (N, C, run) numbers that kernel offset (i, j) reads at each
        position, a view of ``src`` (stride 1: shifted by i*Wp + j; strided: in plane
        (i % sh, j % sw), shifted by (i // sh)*qw + j // sw)."""
        shift = (i // self.sh) * self.qw + j // self.sw
        if self.phases > 1:
            src = src[:, :, (i % self.sh) * self.sw + j % self.sw]
        return src[:, :, shift:shift + self.run]

    def cuts(self):
        """For each kernel offset (i, j): the output rows and columns whose input pixel
        lies inside the image, and those input pixels (slices; ``_valid``)."""
        if self._cuts is None:
            rows = [_valid(self.h, self.oh, i, self.sh, self.ph) for i in range(self.kh)]
            cols = [_valid(self.w, self.ow, j, self.sw, self.pw) for j in range(self.kw)]
            self._cuts = [(i, j) + rows[i] + cols[j]
                          for i in range(self.kh) for j in range(self.kw)]
        return self._cuts

    def columns(self, src: np.ndarray, m: int):
        """-> (fill, kept): ``fill(a, k)`` returns the columns (k, rows [+1], run) of samples
        a..a+k, with a ones row when there is a bias.

        Wide layout: rebuilt in a scratch array for ``m`` samples each time (one copy of
        long runs, cheaper than keeping them); ``kept`` is None. Compact layout: written
        once into a batch-sized array ``kept`` that the backward reads again (rebuilding
        its short rows costs more than reading them back).
        """
        rows = self.rows
        if not self.wide:
            # one strided copy per kernel offset, cut to the pixels inside the image
            cols = (np.zeros if self.ph or self.pw else np.empty)(
                (self.n, rows + self.bias, self.run), dtype=self.dtype)
            if self.bias:
                cols[:, rows] = 1
            grid = cols[:, :rows].reshape(self.n, self.c, self.kh, self.kw, self.oh, self.ow)
            cuts = self.cuts()

            def fill_compact(a: int, k: int) -> np.ndarray:
                for i, j, out_r, in_r, out_c, in_c in cuts:
                    grid[a:a + k, :, i, j, out_r, out_c] = src[a:a + k, :, in_r, in_c]
                return cols[a:a + k]
            return fill_compact, cols
        cols = _scratch("cols", (m, rows + self.bias, self.run), self.dtype)
        if self.bias:
            cols[:, rows] = 1
        # per phase (py, px): the offsets (py + a*sh, px + b*sw) as one view of its plane
        parts = []
        for py in range(self.sh):
            for px in range(self.sw):
                plane = src[:, :, py * self.sw + px] if self.phases > 1 else src
                s0, s1, s2 = plane.strides
                shape = (self.n, self.c, len(range(py, self.kh, self.sh)),
                         len(range(px, self.kw, self.sw)), self.run)
                parts.append((py, px, as_strided(plane, shape, (s0, s1, self.qw * s2, s2, s2),
                                                 writeable=False)))
        grid = (self.c, self.kh, self.kw, self.run)

        def fill(a: int, k: int) -> np.ndarray:
            dest = cols[:k, :rows].reshape((k,) + grid)
            for py, px, windows in parts:
                dest[:, :, py::self.sh, px::self.sw] = windows[a:a + k]
            return cols[:k]
        return fill, None

    def grid(self, flat: np.ndarray, k: int) -> np.ndarray:
        """The (k, O, OH, OW) output positions inside a (k, O, run) GEMM result."""
        if not self.wide:
            return flat.reshape(k, self.o, self.oh, self.ow)
        return flat.reshape(k, self.o, self.oh, self.qw)[:, :, :, :self.ow]

    def forward_pooled(self, src: np.ndarray, w2: np.ndarray, keep_winner: bool):
        """-> (N, O, POH, POW) max_pool(relu(conv)), and the pool's winner codes or None.

        The convolution's output is pooled in groups of ``pool_group`` samples while in
        cache and never stored whole. The relu is taken on the pooled numbers: max and relu
        commute (relu(max z) = max relu(z)).
        """
        n, o, run = self.n, self.o, self.run
        pooled = np.empty((n, o, self.poh, self.pow), dtype=self.dtype)
        m = _chunk(n, (self.rows + 1 + 2 * o) * run, pooled.itemsize)
        fill, kept = self.columns(src, m)
        group = self.pool_group()
        z = _scratch("conv", (group, o, run), self.dtype)
        pool = self.pooler(group, keep_winner)
        winners = pool.winners(n)
        zeros = _scratch("zeros", (group, o, self.poh, self.pow), self.dtype)
        for a in range(0, n, group):
            kp = min(group, n - a)
            for b in range(a, a + kp, m):  # the GEMMs, in chunks whose columns fit the cache
                k = min(m, a + kp - b)
                np.matmul(w2, fill(b, k), out=z[b - a:b - a + k])
            out = pooled[a:a + kp]
            pool.forward(self.grid(z[:kp], kp), out, winners, a, kp)
            np.maximum(out, zeros[:kp], out=out)
        return pooled, winners, kept

    def pool_group(self) -> int:
        """Samples pooled together: a pool runs some 16 numpy calls whatever their size, so
        it goes over as many samples as fit the cache, not the few a GEMM's columns allow
        (measured, 2x2 pool of 64x8x28x28 forward/backward: 3 samples a call 563/504 us,
        16 at a time 319/310, all 64 287/283)."""
        return _chunk(self.n, 2 * self.o * self.run, np.dtype(self.dtype).itemsize)

    def pooler(self, m: int, grad: bool) -> "_MaxPool":
        """The max pool taken inside chunks of ``m`` samples of this convolution's output."""
        return _MaxPool(self.pool[0], self.pool[1], m, self.o, self.oh, self.poh, self.pow,
                        self.dtype, grad)

    def output(self, raw: np.ndarray) -> np.ndarray:
        """The (N, O, OH, OW) output within the GEMMs' (N, O, run) result."""
        return self.grid(raw, self.n)

    def forward(self, src: np.ndarray, w2: np.ndarray, relu: bool, keep_mask: bool):
        """-> (N, O, run): each sample's columns times the (bias-extended) weights, with
        ``relu`` max(., 0) taken chunk by chunk while the chunk is in cache; and with
        ``keep_mask`` the (N, O, run) booleans "output > 0" for relu's backward."""
        n, o, run = self.n, self.o, self.run
        raw = np.empty((n, o, run), dtype=self.dtype)
        mask = np.empty((n, o, run), dtype=bool) if keep_mask else None
        # (compact columns are kept whole anyway: one chunk, one batched GEMM)
        m = _chunk(n, (self.rows + 1 + o) * run, raw.itemsize) if self.wide else max(1, n)
        fill, kept = self.columns(src, m)
        zeros = _scratch("zeros", (m, o, run), self.dtype) if relu else None
        for a in range(0, n, m):
            k = min(m, n - a)
            out = raw[a:a + k]
            np.matmul(w2, fill(a, k), out=out)
            if relu:
                np.maximum(out, zeros[:k], out=out)
            if keep_mask:
                np.greater(out, zeros[:k], out=mask[a:a + k])
        return raw, mask, kept

    def backward(self, g: np.ndarray, mask: Optional[np.ndarray], src: np.ndarray,
                 weight: np.ndarray, want_w: bool, want_x: bool,
                 pooled: Optional[np.ndarray] = None, winner: Optional[np.ndarray] = None):
        """-> (weight gradient (O, rows [+1]) or None, input gradient (N, C, H, W) or None).

        ``g`` is the gradient of the output; with a pool inside, of the pooled output
        ``pooled``, sent to each window's winner (relu's mask there is "pooled > 0").
        """
        n, o, c, kh, kw, run = self.n, self.o, self.c, self.kh, self.kw, self.run
        dt = self.dtype
        span = run + kw - 1
        # "same" padding (kh = 2*ph + 1): the input gradient is the convolution of the output
        # gradient, zero-padded alike, with the flipped kernel, in this same wide layout. Its
        # columns copy O*kh*kw rows per position where the shifted copies below write kw*O
        # and then add kh*C rows twice: for 3x3 it pays unless the output has more channels
        # (measured, input gradient alone: 8->8 on 28x28 1653 -> 1192 us; 8->16 on 14x14
        # 740 -> 799 us, so that one keeps the shifted copies)
        shifts = self.wide and self.phases == 1  # stride 1: the shifted copies below
        same = shifts and want_x and kh == 2 * self.ph + 1 and kw == 2 * self.pw + 1 \
            and (kh - 1) * kw * o <= 2 * kh * c
        if same:
            back = (o * kh * kw + c) * self.h * self.wp
        elif shifts:
            back = (kw * o * span + kh * c * span + c * self.size) * want_x
        elif self.wide:
            back = (len(range(0, kw, self.sw)) * o * span + 2 * self.rows * span
                    + c * self.size) * want_x
        else:
            back = self.rows * run * want_x
        # The weight gradient of a wide layout with several input channels: for each kernel
        # offset (i, j), one batched GEMM of the whole batch's output gradient with the input
        # that offset reads (a view: ``at_offset``), after the loop; no columns. (measured, weight
        # gradient alone, batch 64, us: 8->8 on 28x28 1015 -> 712, 16->16 on 14x14 1205 ->
        # 740, 8->16 on 14x14 448 -> 393, 16->32 on 7x7 622 -> 572, 32->32 on 7x7 1371 ->
        # 1091; for one input channel the columns are faster, 153 against 261)
        stacked = want_w and self.wide and c > 1
        # (the phase planes' small GEMMs and additions pay per call: chunks 16x larger;
        # 8->16 on 28x28 stride 2, backward, best of 80: 1551-2113 -> 1332-1367 us)
        m = _chunk(n, o * run + (self.rows + 1) * run * (want_w and not stacked) + back,
                   np.dtype(dt).itemsize, 16 if self.phases > 1 else 1)
        if not self.wide and pooled is None:
            m = max(1, n)  # the compact columns are kept whole: one batched GEMM each way
        # samples whose output gradient the buffer holds: all of them for the stacked weight
        # gradient, and for a pool's backward (run over groups of samples, before the loop)
        held = n if stacked or pooled is not None else m
        # The output gradient in the GEMM layout (zero in the wide layout's padding columns).
        # (keyed by the output width too: a wider output would leave its gradient in this
        # layout's zero columns)
        if same:
            # g3 sits inside zero-padded images: position q of the wide layout is pixel
            # q + ph*Wp + pw of the flattened padded gradient, whose zero borders are the
            # wide layout's padding columns and the rows before and after
            start = self.ph * self.wp + self.pw
            # (keyed by the whole geometry: the zero borders must be this layout's)
            padded = _scratch(("grad padded", self.oh, self.wp, start), (held, o, self.size),
                              dt)
            g3 = padded[:, :, start:start + run]
            gbuf = g3.reshape(held, o, self.oh, self.wp)
        else:
            gbuf = _scratch(("grad", self.ow), (held, o, self.oh,
                                                self.qw if self.wide else self.ow), dt)
            g3 = gbuf.reshape(held, o, run)
        if want_w and not stacked:
            if self.wide:
                fill = self.columns(src, m)[0]
            else:  # ``src`` is the forward's columns
                def fill(a: int, k: int) -> np.ndarray:
                    return src[a:a + k]
            per_sample = np.empty((n, self.rows + self.bias, o), dtype=dt)
        if same:
            # columns of the padded gradient (O*kh*kw rows of H*Wp positions), as in the
            # forward pass, and the kernel flipped: wflip[c, (o, i, j)] = W[o, c, -1-i, -1-j]
            gcols = _scratch("grad columns", (m, o * kh * kw, self.h * self.wp), dt)
            s0, s1, s2 = padded.strides
            gwindows = as_strided(padded, (held, o, kh, kw, self.h * self.wp),
                              (s0, s1, self.wp * s2, s2, s2), writeable=False)
            wflip = weight[:, :, ::-1, ::-1].transpose(1, 0, 2, 3).reshape(c, o * kh * kw)
            wide_gx = np.empty((n, c, self.h * self.wp), dtype=dt)
            gx = wide_gx.reshape(n, c, self.h, self.wp)[:, :, :, :self.w]
        elif want_x:
            gx = np.empty((n, c, self.h, self.w), dtype=dt)
            if shifts:
                # shifted[:, j, :, t] = g3[:, :, t - j] (zero edges): rows (j, o) of one GEMM
                # with the weights as [(i, c), (j, o)]. The padded images' gradients are
                # assembled in ``image``; the input gradient is a view into it.
                shifted = _scratch("shifted", (m, kw, o, span), dt)
                w3 = weight.transpose(2, 1, 3, 0).reshape(kh * c, kw * o)
                image = np.empty((n, c, self.size), dtype=dt)
                gx = image[:, :, :self.hp * self.wp].reshape(n, c, self.hp, self.wp)[
                    :, :, self.ph:self.ph + self.h, self.pw:self.pw + self.w]
            elif self.wide:
                phase_weights = self.phase_weights(weight)
            else:
                w2t = weight.reshape(o, self.rows).T
                image = None
        if pooled is not None:
            # each window's gradient to its winner (relu's mask there: "pooled > 0")
            group = self.pool_group()
            pool = self.pooler(group, True)
            alive = _scratch("alive", (group, o, self.poh, self.pow), bool)
            gwin = _scratch("gwin", (group, o, self.poh, self.pow), dt)
            for a in range(0, n, group):
                kp = min(group, n - a)
                np.greater(pooled[a:a + kp], 0, out=alive[:kp])
                np.multiply(g[a:a + kp], alive[:kp], out=gwin[:kp])
                gk = g3[a:a + kp]
                if not self.pool_tiles:
                    gk[...] = 0
                pool.backward(gwin[:kp], winner, self.grid(gk, kp), a, kp)
        for a in range(0, n, m):
            k = min(m, n - a)
            b = a if held == n else 0  # where this chunk's output gradient is in the buffer
            gk = g3[b:b + k]
            if pooled is not None:
                pass  # the pool's backward wrote it, before this loop
            elif self.wide:
                gbuf[b:b + k, :, :, :self.ow] = g[a:a + k]
                if mask is not None:  # on the wide grid: this product runs on whole rows
                    np.multiply(gk, mask[a:a + k], out=gk)
            elif mask is not None:
                np.multiply(g[a:a + k].reshape(k, o, run), mask[a:a + k], out=gk)
            else:
                gk = g[a:a + k].reshape(k, o, run)
            if want_w and not stacked:
                # one small GEMM per sample (summed below); a bias's gradient is the last row.
                # columns @ grad^T rather than grad @ columns^T: the same numbers, and
                # OpenBLAS runs (rows, run) x (run, O) up to 1.7x faster for O < rows
                np.matmul(fill(a, k), gk.transpose(0, 2, 1), out=per_sample[a:a + k])
            if same:
                gcols[:k].reshape(k, o, kh, kw, self.h * self.wp)[...] = gwindows[b:b + k]
                np.matmul(wflip, gcols[:k], out=wide_gx[a:a + k])
            elif want_x and self.wide and not shifts:
                self._phased_input_grad(gk, phase_weights, gx[a:a + k], m)
            elif want_x:
                self._input_grad(gk, k, shifted if shifts else w2t,
                                 image[a:a + k] if shifts else None,
                                 w3 if shifts else None, gx[a:a + k])
        if stacked:
            return self._stacked_weight_grad(g3[:n], src), (gx if want_x else None)
        gw = np.add.reduce(per_sample, axis=0).T if want_w else None
        return gw, (gx if want_x else None)

    def _stacked_weight_grad(self, g3: np.ndarray, src: np.ndarray) -> np.ndarray:
        """-> (O, rows [+1]) from the whole batch's output gradient ``g3`` (N, O, run) in the
        wide layout (zero in its padding columns) and the flattened padded input ``src``."""
        o, c, kh, kw = self.o, self.c, self.kh, self.kw
        per = np.empty((kh * kw, self.n, o, c), dtype=self.dtype)
        for i in range(kh):
            for j in range(kw):
                # (N, run, C): the input pixel each position reads at offset (i, j)
                shifted = self.at_offset(src, i, j).transpose(0, 2, 1)
                np.matmul(g3, shifted, out=per[i * kw + j])
        full = np.empty((o, self.rows + self.bias), dtype=self.dtype)
        full[:, :self.rows].reshape(o, c, kh * kw)[...] = \
            np.add.reduce(per, axis=1).transpose(1, 2, 0)
        if self.bias:
            full[:, self.rows] = np.einsum("nor->o", g3)
        return full

    def phase_weights(self, weight: np.ndarray):
        """Per phase (py, px), in ``phase_cuts`` order: (na, nb, w3) with the offsets
        (py + a*sh, px + b*sw), a < na, b < nb, and their weights as [(a, c), (b, o)]."""
        out = []
        for py in range(self.sh):
            for px in range(self.sw):
                na, nb = len(range(py, self.kh, self.sh)), len(range(px, self.kw, self.sw))
                w3 = weight[:, :, py::self.sh, px::self.sw].transpose(2, 1, 3, 0)
                out.append((na, nb, w3.reshape(na * self.c, nb * self.o)))
        return out

    def _phased_input_grad(self, gk: np.ndarray, phase_weights, dest: np.ndarray,
                           m: int) -> None:
        """Write into ``dest`` (k, C, H, W) the input gradient of a strided wide layout from
        the output gradient ``gk`` (k, O, run), zero in the layout's padding columns.

        Each phase plane is the stride-1 case on its own: its offsets (py + a*sh, px + b*sw)
        read the plane shifted by a*qw + b, so one GEMM of the weights [(a, c), (b, o)]
        with copies of the gradient shifted by b gives each kernel row a's part, and the
        parts are added a*qw apart (``_rows_added``); the plane is then written into every
        sh-th row and sw-th column of the image: for 3x3 stride 2, two additions of a
        plane instead of nine (one per offset).
        """
        k, c, o, run, qw = gk.shape[0], self.c, self.o, self.run, self.qw
        nbs = len(range(0, self.kw, self.sw))
        span = run + nbs - 1
        shifted = _scratch("phase shifted", (m, nbs, o, span), self.dtype)
        for b in range(nbs):
            shifted[:k, b, :, b:b + run] = gk
        image = _scratch("phase image", (m, c, self.size), self.dtype)[:k]
        for (_, y0, x0, yq, xq, ny, nx), (na, nb, w3) in zip(self.phase_cuts(), phase_weights):
            pixels = dest[:, :, y0::self.sh, x0::self.sw]  # this phase's pixels
            if na == 0 or nb == 0:
                pixels[...] = 0  # no offset of the kernel reads them
                continue
            parts = np.matmul(w3, shifted[:k, :nb].reshape(k, nb * o, span))
            if na == 1:
                img = parts
            else:
                img = image[:, :, :span + (na - 1) * qw]
                _rows_added(parts, img, na, c, qw)
            rows = max(0, min(ny, img.shape[2] // qw - yq))
            if rows < pixels.shape[2] or nx < pixels.shape[3]:
                pixels[...] = 0  # the last rows or columns, which no window reads
            grid = img[:, :, :(img.shape[2] // qw) * qw].reshape(k, c, -1, qw)
            pixels[:, :, :rows, :nx] = grid[:, :, yq:yq + rows, xq:xq + nx]

    def _input_grad(self, gk: np.ndarray, k: int, work: np.ndarray, image: Optional[np.ndarray],
                    w3: Optional[np.ndarray], dest: np.ndarray) -> None:
        """Write into ``dest`` (k, C, H, W) the input gradient of k samples from their output
        gradient ``gk`` (k, O, run); wide, by filling ``image``, of which ``dest`` is a view."""
        c, kh, kw, wp, run = self.c, self.kh, self.kw, self.wp, self.run
        if self.wide:
            span = run + kw - 1
            shifted = work
            for j in range(kw):
                shifted[:k, j, :, j:j + run] = gk
            parts = np.matmul(w3, shifted[:k].reshape(k, kw * self.o, span))
            # these k samples' padded images (``dest`` is a view into them)
            _rows_added(parts, image, kh, c, wp)
            return
        # column gradients, added back at each input pixel their windows read (padding
        # pixels are skipped: each offset's slices are cut to the image)
        d = np.matmul(work, gk).reshape(k, c, kh, kw, self.oh, self.ow)
        sh, sw = self.sh, self.sw
        if sh == 1 and sw == 1:
            dest[...] = 0
            for i, j, out_r, in_r, out_c, in_c in self.cuts():
                dest[:, :, in_r, in_c] += d[:, :, i, j, out_r, out_c]
            return
        # Strided: kernel offset (i, j) only reaches input pixels of one phase (y % sh,
        # x % sw). Each phase is gathered in its own plane, where the additions run on
        # contiguous rows instead of every sh-th pixel, and the planes are interleaved once.
        ny, nx = -(-self.h // sh), -(-self.w // sw)
        planes = np.zeros((k, c, sh, sw, ny, nx), dtype=dest.dtype)
        for i, j, out_r, in_r, out_c, in_c in self.cuts():
            if in_r.start >= in_r.stop or in_c.start >= in_c.stop:
                continue
            y0, x0 = in_r.start // sh, in_c.start // sw
            rows, cols = out_r.stop - out_r.start, out_c.stop - out_c.start
            planes[:, :, in_r.start % sh, in_c.start % sw, y0:y0 + rows, x0:x0 + cols] += \
                d[:, :, i, j, out_r, out_c]
        for py in range(sh):
            for px in range(sw):
                dest[:, :, py::sh, px::sw] = planes[:, :, py, px, :len(range(py, self.h, sh)),
                                                    :len(range(px, self.w, sw))]


def _rows_added(parts: np.ndarray, img: np.ndarray, rows: int, c: int, width: int) -> None:
    """img[:, :, t] = sum over kernel rows i < ``rows`` of part_i[t - i*width], where part i
    is ``parts[:, i*c:(i+1)*c]`` (k, c, span) and img is (k, c, span + (rows-1)*width).

    Kernel row i overlaps what rows < i wrote on span - width numbers and alone writes the
    last ``width``: every number of img is written once, with one addition per overlap."""
    span = parts.shape[2]
    if rows == 1:
        img[...] = parts
        return
    img[:, :, :width] = parts[:, :c, :width]
    last = parts[:, :c, width:]  # the part still to be written from row i - 1
    for i in range(1, rows):
        part = parts[:, i * c:(i + 1) * c]
        np.add(last, part[:, :, :span - width], out=img[:, :, i * width:span + (i - 1) * width])
        last = part[:, :, span - width:]
        if i < rows - 1:  # the next row adds to this part, which is in place already
            img[:, :, span + (i - 1) * width:span + i * width] = last
            last = img[:, :, (i + 1) * width:span + i * width]
    img[:, :, span + (rows - 2) * width:] = last


def _valid(size: int, out: int, offset: int, stride: int, pad: int) -> Tuple[slice, slice]:
    """Along one axis, for kernel offset ``offset``: the output positions whose input
    pixel lies inside the unpadded image, and those input pixels (as slices).

    Output position o reads input pixel o*stride + offset - pad.
    """
    lo = max(0, -((offset - pad) // stride))
    hi = min(out - 1, (size - 1 + pad - offset) // stride)
    if hi < lo:
        return slice(0, 0), slice(0, 0)
    first = lo * stride + offset - pad
    return slice(lo, hi + 1), slice(first, first + (hi - lo) * stride + 1, stride)


def _conv_forward(X: np.ndarray, W: np.ndarray, B: Optional[np.ndarray], stride: Pair,
                  padding: Pair, wide: bool, relu: bool = False, keep_mask: bool = False,
                  pool: Optional[Tuple[Pair, Pair]] = None):
    """-> (output (N, O, OH, OW), context for backward, relu mask or None).

    With ``relu`` the output is max(conv, 0); with ``keep_mask`` also the booleans
    "output > 0" that relu's backward needs (in the GEMM layout). With ``pool`` (kernel,
    stride; relu implied) the output is the max pool of that, and ``keep_mask`` keeps the
    pool's winners instead.
    """
    o, c, kh, kw = W.shape
    n, _, h, w = X.shape
    w2 = W.reshape(o, -1)
    if (kh, kw) == (1, 1) and stride == (1, 1) and padding == (0, 0) and pool is None:
        # 1x1: the input itself is the column matrix, nothing to copy.
        cols = X.reshape(n, c, h * w)
        raw = np.matmul(w2, cols)
        if B is not None:
            raw += B[:, None]
        if relu:
            np.maximum(raw, _zeros_like(raw), out=raw)
        out = raw.reshape(n, o, h, w)
        return out, ("pointwise", cols), (raw > 0) if keep_mask else None
    if B is not None:
        w2 = np.concatenate([w2, B[:, None]], axis=1)  # the bias rides in the GEMM
    plan = _Plan(X.shape, W.shape, stride, padding, B is not None, X.dtype, wide, pool=pool)
    src = plan.source(X)
    # the backward rebuilds wide columns from ``src`` and reads compact ones back
    if pool is not None:
        pooled, winner, kept = plan.forward_pooled(src, w2, keep_mask)
        return pooled, ("pooled", (plan, src if kept is None else kept, winner)), None
    raw, mask, kept = plan.forward(src, w2, relu, keep_mask)
    return plan.output(raw), ("plan", (plan, src if kept is None else kept)), mask


def _conv_backward(g: np.ndarray, ctx: Any, ops: Tuple[Tensor, ...]):
    (kind, saved), stride, padding, mask = ctx
    x, weight = ops[0], ops[1]
    W = weight.data
    o, c, kh, kw = W.shape
    has_bias = len(ops) == 3
    want_w = weight.requires_grad or has_bias
    rows = c * kh * kw
    gx = gw = gb = None
    if kind in ("plan", "pooled"):
        if kind == "plan":
            plan, src = saved
            full, gx = plan.backward(g, mask, src, W, want_w, x.requires_grad)
        else:
            plan, src, winner = saved
            full, gx = plan.backward(g, None, src, W, want_w, x.requires_grad,
                                     pooled=mask, winner=winner)
        if want_w:
            gw = full[:, :rows].reshape(W.shape)
            gb = full[:, rows] if has_bias else None
        return (gx, gw) if not has_bias else (gx, gw, gb)
    n = g.shape[0]
    g3 = g.reshape(n, o, -1)
    if mask is not None:
        g3 = g3 * mask
    if want_w:
        # (C, HW) x (HW, O) per sample, then transposed: OpenBLAS is faster this way round
        gw = np.add.reduce(np.matmul(saved, g3.transpose(0, 2, 1)), axis=0).T.reshape(W.shape)
        if has_bias:
            gb = g3.sum(axis=2).sum(axis=0)
    if x.requires_grad:
        gx = np.matmul(W.reshape(o, c).T, g3).reshape(x.data.shape)
    return (gx, gw) if not has_bias else (gx, gw, gb)


def _conv_back(g, ctx, ops):
    return _conv_backward(g, (ctx[0], ctx[1], ctx[2], None), ops)


def _conv_relu_pool_back(g, ctx, ops):
    # ctx ends with the pooled output: relu's mask at each window's winner is "pooled > 0".
    return _conv_backward(g, ctx, ops)


def _conv_relu_back(g, ctx, ops):
    # relu's backward (its output is positive exactly where its input was), then conv's:
    # ctx ends with the mask "output > 0" made in the forward pass.
    return _conv_backward(g, ctx, ops)


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


def _use_wide(stride: Pair, weight: Tensor) -> bool:
    """The wide layout (over phase planes when strided) for every convolution whose windows
    overlap; compact columns where the kernel is no larger than the stride (each pixel read
    at most once). Fused with relu and a pool or not alike, so that the fused nodes give
    exactly the numbers of the layers one by one."""
    kh, kw = weight.data.shape[2:]
    return stride == (1, 1) or kh > stride[0] or kw > stride[1]


def conv2d(x: Tensor, weight: Tensor, bias: Optional[Tensor] = None, stride: Any = 1,
           padding: Any = 0) -> Tensor:
    """Cross-correlation like PyTorch's: x (N, C, H, W), weight (O, C, kh, kw), bias (O,)
    -> (N, O, OH, OW) with OH = (H + 2*padding - kh) // stride + 1."""
    stride, padding = _conv_checked(x, weight, bias, stride, padding)
    out, data, _ = _conv_forward(x.data, weight.data, None if bias is None else bias.data,
                                 stride, padding, _use_wide(stride, weight))
    operands = (x, weight) if bias is None else (x, weight, bias)
    return make_node(out, operands, _conv_back, (data, stride, padding), "conv2d")


def conv2d_relu(x: Tensor, weight: Tensor, bias: Optional[Tensor] = None, stride: Any = 1,
                padding: Any = 0) -> Tensor:
    """``relu(conv2d(x, weight, bias, stride, padding))`` as one node "conv2d+relu".

    The same numbers as the two ops one after the other; the maximum is taken in place
    on the GEMM's output while it is in cache, and the backward masks the gradient on
    its way into the convolution's: an array and two passes over it saved.
    """
    stride, padding = _conv_checked(x, weight, bias, stride, padding)
    operands = (x, weight) if bias is None else (x, weight, bias)
    grad = _GRAD_ENABLED[0] and any(t.requires_grad for t in operands)
    out, data, mask = _conv_forward(x.data, weight.data, None if bias is None else bias.data,
                                    stride, padding, _use_wide(stride, weight), relu=True,
                                    keep_mask=grad)
    return make_node(out, operands, _conv_relu_back, (data, stride, padding, mask),
                     "conv2d+relu")


def conv2d_relu_max_pool2d(x: Tensor, weight: Tensor, bias: Optional[Tensor], stride: Any,
                           padding: Any, pool_kernel: Any, pool_stride: Any = None) -> Tensor:
    """``max_pool2d(relu(conv2d(x, weight, bias, stride, padding)), pool_kernel, pool_stride)``
    as one node "conv2d+relu+max_pool2d" (a pool without padding).

    The same numbers as the three ops one after the other. The convolution's output is
    pooled chunk by chunk while in cache and never stored; relu is taken on the pooled
    numbers (relu and max commute), and the backward sends the gradient of each window
    straight to its winner on the convolution's gradient grid, masked by "pooled > 0"
    (relu's mask at the winner). No full-size relu mask, activation or pool gradient.
    """
    stride, padding = _conv_checked(x, weight, bias, stride, padding)
    kernel = pair(pool_kernel, "max_pool2d kernel_size", 1)
    pstride = kernel if pool_stride is None else pair(pool_stride, "max_pool2d stride", 1)
    operands = (x, weight) if bias is None else (x, weight, bias)
    grad = _GRAD_ENABLED[0] and any(t.requires_grad for t in operands)
    out, data, _ = _conv_forward(x.data, weight.data, None if bias is None else bias.data,
                                 stride, padding, _use_wide(stride, weight),
                                 relu=True, keep_mask=grad, pool=(kernel, pstride))
    return make_node(out, operands, _conv_relu_pool_back, (data, stride, padding, out),
                     "conv2d+relu+max_pool2d")


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
            self.plane = _scratch("plane", shape, dtype)
            self.beats = _scratch("beats", shape, bool)
            self.code = _scratch("code", shape, small)

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


def _separable(kernel: Pair) -> bool:
    """Pool a window of more than 4 pixels (3x3) in two passes, rows then columns: the
    maximum of a rectangle is the maximum of its rows' maxima, so kh + kw strided reads
    replace kh * kw. The first maximum in row-major order is kept: the column pass keeps
    each row's first maximum, the row pass the first row holding the window's maximum."""
    return kernel[0] * kernel[1] > 4 and kernel[0] > 1 and kernel[1] > 1


class _MaxPool:
    """Max pooling of chunks of at most ``m`` samples of (C, HP, WP) (padded) images into
    (C, OH, OW), noting each window's first maximum for the backward (``winners``: one
    array of kernel offsets, or for a separable window the column and the row offsets)."""

    def __init__(self, kernel: Pair, stride: Pair, m: int, c: int, hp: int, oh: int, ow: int,
                 dtype: np.dtype, grad: bool) -> None:
        self.kernel, self.stride, self.grad = kernel, stride, grad
        self.c, self.hp, self.oh, self.ow, self.dtype = c, hp, oh, ow, dtype
        (kh, kw), (sh, sw) = kernel, stride
        self.separable = _separable(kernel)
        if self.separable:
            self.smalls = (np.min_scalar_type(kw - 1), np.min_scalar_type(kh - 1))
            self.mid = _scratch("pool rows", (m, c, hp, ow), dtype)  # each row's maxima
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
        mid = _scratch("pool rows grad", self.mid.shape, self.dtype)[:k]
        if not self.rows_tile:
            mid[...] = 0
        _window_scatter(g, won[1], _window_views(mid, (kh, 1), (sh, 1), self.oh, self.ow),
                        sh >= kh)
        _window_scatter(mid, won[0], _window_views(dest, (1, kw), (1, sw), self.hp, self.ow),
                        sw >= kw)


def _pool_chunk(n: int, c: int, hp: int, wp: int, ow: int, itemsize: int) -> int:
    return _chunk(n, c * (hp * wp + 2 * hp * ow), itemsize)


def _max_pool_back(g, ctx, ops):
    winners, kernel, stride, padding = ctx
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
    pool = _MaxPool(kernel, stride, m, c, padded[2], oh, ow, g.dtype, True)
    for a in range(0, n, m):
        k = min(m, n - a)
        pool.backward(g[a:a + k], winners, d[a:a + k], a, k)
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
    # While the input is read anyway, note which kernel offset holds each window's first
    # maximum: the backward then needs neither the input nor any comparison with it.
    grad = _GRAD_ENABLED[0] and x.requires_grad
    xp = _pad(X, padding, -np.inf)
    n, c, hp, wp = xp.shape
    out = np.empty((n, c, oh, ow), dtype=X.dtype)
    m = _pool_chunk(n, c, hp, wp, ow, X.itemsize)
    pool = _MaxPool(kernel, stride, m, c, hp, oh, ow, X.dtype, grad)
    winners = pool.winners(n)
    for a in range(0, n, m):
        k = min(m, n - a)
        pool.forward(xp[a:a + k], out[a:a + k], winners, a, k)
    return make_node(out, (x,), _max_pool_back, (winners, kernel, stride, padding),
                     "max_pool2d")


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
