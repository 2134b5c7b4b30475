"""The input gradient of a convolution: one class per algorithm of ``algorithms.INPUT_GRADS``.

For a convolution Z = X * W (cross-correlation, stride s, padding p) the input gradient is

    dX[n, c, y, x] = sum over (o, i, j) with y + p = oy*s + i, x + p = ox*s + j of
                     dZ[n, o, oy, ox] * W[o, c, i, j]

(``reference.conv2d_backward`` computes it plainly). Each class below computes it in the
layout its convolution ran in: ``__init__`` prepares what every chunk shares, ``chunk``
writes the input gradient of samples a..a+k from their output gradient ``gk`` (k, O, run),
zero in the layout's padding columns, and ``gx`` is the (N, C, H, W) result. ``work`` is
the numbers per sample a chunk's work arrays take (for the chunk size).
"""

from __future__ import annotations

from typing import Dict, Tuple

import numpy as np
from numpy.lib.stride_tricks import as_strided

from ..windows import scratch
from .plan import Plan

__all__ = ["BY_NAME", "grad_buffer", "rows_added"]


def grad_buffer(plan: Plan, held: int) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """-> (grid (held, O, OH, row), flat (held, O, run), whole buffer): where the output
    gradient of ``held`` samples is written in the GEMM layout (zero in the wide layout's
    padding columns: keyed by the output width, as a wider output would leave its gradient
    there)."""
    gbuf = scratch(("grad", plan.ow), (held, plan.o, plan.oh,
                                       plan.qw if plan.wide else plan.ow), plan.dtype)
    return gbuf, gbuf.reshape(held, plan.o, plan.run), gbuf


class FlippedKernel:
    """Stride 1, "same" padding (kh = 2*ph + 1): the input gradient is the convolution of
    the output gradient, zero-padded alike, with the flipped kernel,

        dX[n, c] = sum over o of  pad(dZ[n, o]) (*) W[o, c, ::-1, ::-1],

    in the wide layout again: the gradient is written inside zero-padded images (whose
    borders are the layout's padding columns and the rows before and after), its columns
    (O*kh*kw rows of H*Wp positions) cut from them in place, then one GEMM per sample."""

    @staticmethod
    def work(plan: Plan) -> int:
        return (plan.o * plan.kh * plan.kw + plan.c) * plan.h * plan.wp

    @staticmethod
    def buffer(plan: Plan, held: int) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
        # position q of the wide layout is pixel q + ph*Wp + pw of the flattened padded
        # gradient (keyed by the whole geometry: the zero borders must be this layout's)
        start = plan.ph * plan.wp + plan.pw
        padded = scratch(("grad padded", plan.oh, plan.wp, start), (held, plan.o, plan.size),
                         plan.dtype)
        g3 = padded[:, :, start:start + plan.run]
        return g3.reshape(held, plan.o, plan.oh, plan.wp), g3, padded

    def __init__(self, plan: Plan, weight: np.ndarray, m: int, padded: np.ndarray) -> None:
        o, c, kh, kw, wp = plan.o, plan.c, plan.kh, plan.kw, plan.wp
        self.shape = (o, kh, kw, plan.h * wp)
        self.gcols = scratch("grad columns", (m, o * kh * kw, plan.h * wp), plan.dtype)
        s0, s1, s2 = padded.strides
        self.gwindows = as_strided(padded, (padded.shape[0],) + self.shape,
                                   (s0, s1, wp * s2, s2, s2), writeable=False)
        # wflip[c, (o, i, j)] = W[o, c, -1-i, -1-j]
        self.wflip = weight[:, :, ::-1, ::-1].transpose(1, 0, 2, 3).reshape(c, o * kh * kw)
        self.wide_gx = np.empty((plan.n, c, plan.h * wp), dtype=plan.dtype)
        self.gx = self.wide_gx.reshape(plan.n, c, plan.h, wp)[:, :, :, :plan.w]

    def chunk(self, gk: np.ndarray, a: int, k: int, b: int) -> None:
        # (``gk`` is a view of the padded buffer: its columns are read from the buffer)
        self.gcols[:k].reshape((k,) + self.shape)[...] = self.gwindows[b:b + k]
        np.matmul(self.wflip, self.gcols[:k], out=self.wide_gx[a:a + k])


class ShiftedCopies:
    """Stride 1, the wide layout: kw copies of the output gradient shifted by j,
    ``shifted[:, j, :, t] = gk[:, :, t - j]`` (zero edges), are rows (j, o) of one GEMM with
    the weights as [(i, c), (j, o)]; it gives, for each kernel row i, the gradient of the
    padded image shifted by i*Wp, and kh long additions put them together (``rows_added``)
    into the padded images' gradients, of which ``gx`` is a view."""

    @staticmethod
    def work(plan: Plan) -> int:
        span = plan.run + plan.kw - 1
        return plan.kw * plan.o * span + plan.kh * plan.c * span + plan.c * plan.size

    buffer = staticmethod(grad_buffer)

    def __init__(self, plan: Plan, weight: np.ndarray, m: int, buffer: np.ndarray) -> None:
        self.plan = plan
        self.shifted = scratch("shifted", (m, plan.kw, plan.o, plan.run + plan.kw - 1),
                               plan.dtype)
        self.w3 = weight.transpose(2, 1, 3, 0).reshape(plan.kh * plan.c, plan.kw * plan.o)
        self.image = np.empty((plan.n, plan.c, plan.size), dtype=plan.dtype)
        self.gx = self.image[:, :, :plan.hp * plan.wp].reshape(plan.n, plan.c, plan.hp, plan.wp)[
            :, :, plan.ph:plan.ph + plan.h, plan.pw:plan.pw + plan.w]

    def chunk(self, gk: np.ndarray, a: int, k: int, b: int) -> None:
        p = self.plan
        shifted = self.shifted
        for j in range(p.kw):
            shifted[:k, j, :, j:j + p.run] = gk
        parts = np.matmul(self.w3, shifted[:k].reshape(k, p.kw * p.o, p.run + p.kw - 1))
        rows_added(parts, self.image[a:a + k], p.kh, p.c, p.wp)


class PhasePlanes:
    """Strided, over phase planes: each plane is the stride-1 case on its own. Its offsets
    (py + a*sh, px + b*sw) read the plane shifted by a*qw + b, so one GEMM of the weights
    [(a, c), (b, o)] with copies of the gradient shifted by b gives each kernel row a's
    part, and the parts are added a*qw apart (``rows_added``); the plane is then written
    into every sh-th row and sw-th column of the image: for 3x3 stride 2, two additions of
    a plane instead of nine (one per offset)."""

    @staticmethod
    def work(plan: Plan) -> int:
        span = plan.run + plan.kw - 1
        return (len(range(0, plan.kw, plan.sw)) * plan.o * span + 2 * plan.rows * span
                + plan.c * plan.size)

    buffer = staticmethod(grad_buffer)

    def __init__(self, plan: Plan, weight: np.ndarray, m: int, buffer: np.ndarray) -> None:
        self.plan, self.m = plan, m
        # per phase (py, px), in ``plan.phase_cuts`` order: (na, nb, w3) with the offsets
        # (py + a*sh, px + b*sw), a < na, b < nb, and their weights as [(a, c), (b, o)]
        self.weights = []
        for py in range(plan.sh):
            for px in range(plan.sw):
                na, nb = len(range(py, plan.kh, plan.sh)), len(range(px, plan.kw, plan.sw))
                w3 = weight[:, :, py::plan.sh, px::plan.sw].transpose(2, 1, 3, 0)
                self.weights.append((na, nb, w3.reshape(na * plan.c, nb * plan.o)))
        self.gx = np.empty((plan.n, plan.c, plan.h, plan.w), dtype=plan.dtype)

    def chunk(self, gk: np.ndarray, a: int, k: int, b: int) -> None:
        p, dest = self.plan, self.gx[a:a + k]
        c, o, run, qw = p.c, p.o, p.run, p.qw
        nbs = len(range(0, p.kw, p.sw))
        span = run + nbs - 1
        shifted = scratch("phase shifted", (self.m, nbs, o, span), p.dtype)
        for j in range(nbs):
            shifted[:k, j, :, j:j + run] = gk
        image = scratch("phase image", (self.m, c, p.size), p.dtype)[:k]
        for (_, y0, x0, yq, xq, ny, nx), (na, nb, w3) in zip(p.phase_cuts(), self.weights):
            pixels = dest[:, :, y0::p.sh, x0::p.sw]  # this phase's pixels
            if na == 0 or nb == 0:
                pixels[...] = 0  # no offset of the kernel reads them
                continue
            parts = np.matmul(w3, shifted[:k, :nb].reshape(k, nb * o, span))
            if na == 1:
                img = parts
            else:
                img = image[:, :, :span + (na - 1) * qw]
                rows_added(parts, img, na, c, qw)
            rows = max(0, min(ny, img.shape[2] // qw - yq))
            if rows < pixels.shape[2] or nx < pixels.shape[3]:
                pixels[...] = 0  # the last rows or columns, which no window reads
            grid = img[:, :, :(img.shape[2] // qw) * qw].reshape(k, c, -1, qw)
            pixels[:, :, :rows, :nx] = grid[:, :, yq:yq + rows, xq:xq + nx]


class Scatter:
    """The compact layout: the columns' gradient W^T @ gk, added back at each input pixel
    its windows read (the adjoint of cutting the columns; padding pixels are skipped, each
    offset's slices cut to the image). Kernel offset (i, j) only reaches input pixels of
    one phase (y % sh, x % sw): each phase is gathered in its own plane, where the additions
    run on contiguous rows instead of every sh-th pixel, and the planes are interleaved."""

    @staticmethod
    def work(plan: Plan) -> int:
        return plan.rows * plan.run

    buffer = staticmethod(grad_buffer)

    def __init__(self, plan: Plan, weight: np.ndarray, m: int, buffer: np.ndarray) -> None:
        self.plan = plan
        self.w2t = weight.reshape(plan.o, plan.rows).T
        self.gx = np.empty((plan.n, plan.c, plan.h, plan.w), dtype=plan.dtype)

    def chunk(self, gk: np.ndarray, a: int, k: int, b: int) -> None:
        p, dest = self.plan, self.gx[a:a + k]
        d = np.matmul(self.w2t, gk).reshape(k, p.c, p.kh, p.kw, p.oh, p.ow)
        sh, sw = p.sh, p.sw
        planes = np.zeros((k, p.c, sh, sw, -(-p.h // sh), -(-p.w // sw)), dtype=dest.dtype)
        for i, j, out_r, in_r, out_c, in_c in p.cuts():
            if in_r.start >= in_r.stop or in_c.start >= in_c.stop:
                continue
            y0, x0 = in_r.start // sh, in_c.start // sw
            rows, cols = out_r.stop - out_r.start, out_c.stop - out_c.start
            planes[:, :, in_r.start % sh, in_c.start % sw, y0:y0 + rows, x0:x0 + cols] += \
                d[:, :, i, j, out_r, out_c]
        for py in range(sh):
            for px in range(sw):
                dest[:, :, py::sh, px::sw] = planes[:, :, py, px, :len(range(py, p.h, sh)),
                                                    :len(range(px, p.w, sw))]


# The layouts' algorithms by name (``algorithms.INPUT_GRADS`` says which runs where; the
# 1x1 "pointwise" one is ``W^T @ dZ``, in ``backward.pointwise_backward``).
BY_NAME: Dict[str, type] = {"flipped_kernel": FlippedKernel,
                                "shifted_copies": ShiftedCopies,
                                "phase_planes": PhasePlanes, "scatter": Scatter}


def rows_added(parts: np.ndarray, img: np.ndarray, rows: int, c: int, width: int) -> None:
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
