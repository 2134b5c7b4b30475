"""The layout of one convolution call: where each sample's GEMM reads its columns.

A convolution is one small GEMM per sample: weights (O, C*kh*kw [+1 for the bias]) times
that sample's columns (C*kh*kw [+1 row of ones], positions). The columns are one copy of an
``as_strided`` view of the (padded) input. The batch runs in chunks whose columns fit in
the core's cache; wide columns are never kept (the backward pass rebuilds them from the
input), compact ones are: the convolutions are bound by memory traffic, not by the GEMMs,
so not writing batch-sized columns and reading them back pays where rebuilding them is
cheap (benchmarks/RESULTS.md, "Convolutions").

The layouts of the positions (``algorithms.LAYOUTS`` chooses):
- compact (kernels no larger than the stride): position r*OW + col, window rows of OW
  pixels;
- wide (stride 1): each sample's padded image is flattened row by row (Hp rows of Wp
  numbers, plus kw-1 zeros), and position q = r*Wp + col (col < Wp) reads, at kernel
  offset (i, j), the flattened pixel q + i*Wp + j. A (channel, offset) row of the columns
  is then ONE contiguous run of OH*Wp numbers instead of OH short rows. Rows share their
  padding (Wp = W + pw: a row's right padding is read as the next row's left one). The
  positions col >= OW of each output row are waste of the layout (they read the next
  row's pixels): the output leaves them out, and their gradient is zero.
- phase planes (strided, overlapping windows): plane (py, px) holds the padded pixels
  (y*sh + py, x*sw + px), offset (i, j) reads plane (i % sh, j % sw) shifted by
  (i // sh)*qw + j // sw: the wide layout again, on each plane.
"""

from __future__ import annotations

from typing import Optional, Tuple

import numpy as np
from numpy.lib.stride_tricks import as_strided

from ..forcing import choose
from ..pool import MAX_POOLS, ChunkedMaxPool
from ..windows import Pair, chunk, output_size, scratch

__all__ = ["Plan"]


class Plan:
    """The geometry of one convolution call in its layout, and the algorithms chosen for
    its gradients (``algorithms.choices``: ``layout``, ``input_grad``, ``weight_grad``)."""

    def __init__(self, x_shape: Tuple[int, ...], w_shape: Tuple[int, ...], stride: Pair,
                 padding: Pair, bias: bool, dtype: np.dtype, choice: Tuple[str, str, str],
                 pool: Optional[Tuple[Pair, Pair]] = None) -> None:
        self.layout, self.input_grad, self.weight_grad = choice
        wide = self.layout in ("wide", "phase_planes")
        self.n, self.c, self.h, self.w = x_shape
        self.o, _, self.kh, self.kw = w_shape
        (self.sh, self.sw), (self.ph, self.pw) = stride, padding
        self.hp, self.wp = self.h + 2 * self.ph, self.w + 2 * self.pw
        self.oh, self.ow = output_size("conv2d", x_shape, (self.kh, self.kw), stride, padding)
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
            self.poh, self.pow = output_size("max_pool2d", (self.n, self.o, self.oh, self.ow),
                                             pool[0], pool[1], (0, 0))
            # windows that tile the output exactly overwrite all of it in the backward
            self.pool_tiles = pool[0] == pool[1] and self.oh == self.poh * pkh \
                and self.ow == self.pow * pkw
            self.max_pool = choose("max_pool", MAX_POOLS, pool[0])

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
        cols = scratch("cols", (m, rows + self.bias, self.run), self.dtype)
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

    def pool_group(self) -> int:
        """Samples pooled together: a pool runs some 16 numpy calls whatever their size, so
        it goes over as many samples as fit the cache, not the few a GEMM's columns allow
        (benchmarks/RESULTS.md, "Pools over groups of samples")."""
        return chunk(self.n, 2 * self.o * self.run, np.dtype(self.dtype).itemsize)

    def pooler(self, m: int, grad: bool) -> ChunkedMaxPool:
        """The max pool taken inside chunks of ``m`` samples of this convolution's output."""
        return ChunkedMaxPool(self.pool[0], self.pool[1], m, self.o, self.oh, self.poh,
                              self.pow, self.dtype, grad, self.max_pool)

    def output(self, raw: np.ndarray) -> np.ndarray:
        """The (N, O, OH, OW) output within the GEMMs' (N, O, run) result."""
        return self.grid(raw, self.n)


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
