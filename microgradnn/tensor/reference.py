"""The plain convolution and pooling that every fast path is tested against.

Short and obviously correct, not fast (the fast ones: ``conv/``, ``pool.py``). Each
forward looks at every window of the padded input at once, as one ``sliding_window_view``
``win[n, c, y, x, i, j] = xpad[n, c, y*sh + i, x*sw + j]`` (a view, no copy), and reduces
it in one step:

    conv2d      out[n, o, y, x] = b[o] + sum over (c, i, j) of win[n, c, y, x, i, j] * w[o, c, i, j]
    max_pool2d  out[n, c, y, x] = max over (i, j) of win[n, c, y, x, i, j]   (-inf padding)
    avg_pool2d  out[n, c, y, x] = mean over (i, j) of win[n, c, y, x, i, j]  (zero padding)

Each backward is the plain transposed formulation: the gradient of every window
``dwin[n, c, y, x, i, j]`` is added back at the pixel it read (``unwindow``), and the
weight gradient is the same sum as the forward with ``dout`` in place of ``w``. Arrays in,
arrays out (float64 in the tests); ints or pairs for kernel, stride and padding.
"""

from __future__ import annotations

from typing import Any, Optional, Tuple

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from .windows import Pair, crop, pad, pair

__all__ = ["windows", "unwindow", "conv2d", "conv2d_backward", "max_pool2d",
           "max_pool2d_backward", "avg_pool2d", "avg_pool2d_backward"]


def windows(xp: np.ndarray, kernel: Pair, stride: Pair) -> np.ndarray:
    """(N, C, Hp, Wp) padded input -> its windows (N, C, OH, OW, kh, kw), a view."""
    return sliding_window_view(xp, kernel, axis=(2, 3))[:, :, ::stride[0], ::stride[1]]


def unwindow(dwin: np.ndarray, shape: Tuple[int, ...], stride: Pair) -> np.ndarray:
    """The adjoint of ``windows``: each window's (N, C, OH, OW, kh, kw) numbers added back
    at the pixels of the padded input (of ``shape``) that it read."""
    out = np.zeros(shape, dtype=dwin.dtype)
    (sh, sw), (oh, ow, kh, kw) = stride, dwin.shape[2:]
    for i in range(kh):
        for j in range(kw):
            out[:, :, i:i + sh * oh:sh, j:j + sw * ow:sw] += dwin[:, :, :, :, i, j]
    return out


def _geometry(kernel: Any, stride: Any, padding: Any) -> Tuple[Pair, Pair, Pair]:
    kernel = pair(kernel, "kernel", 1)
    return kernel, (kernel if stride is None else pair(stride, "stride", 1)), \
        pair(padding, "padding", 0)


def conv2d(x: np.ndarray, w: np.ndarray, b: Optional[np.ndarray] = None, stride: Any = 1,
           padding: Any = 0) -> np.ndarray:
    """x (N, C, H, W), w (O, C, kh, kw), b (O,) -> (N, O, OH, OW), as PyTorch's conv2d."""
    _, stride, padding = _geometry(w.shape[2:], stride, padding)
    out = np.einsum("ncyxij,ocij->noyx", windows(pad(x, padding), w.shape[2:], stride), w)
    return out if b is None else out + b[None, :, None, None]


def conv2d_backward(x: np.ndarray, w: np.ndarray, dout: np.ndarray, stride: Any = 1,
                    padding: Any = 0) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """-> (dx, dw, db): the gradients of conv2d(x, w, b, stride, padding) for ``dout``."""
    _, stride, padding = _geometry(w.shape[2:], stride, padding)
    xp = pad(x, padding)
    dw = np.einsum("ncyxij,noyx->ocij", windows(xp, w.shape[2:], stride), dout)
    dwin = np.einsum("noyx,ocij->ncyxij", dout, w)
    return crop(unwindow(dwin, xp.shape, stride), padding), dw, dout.sum(axis=(0, 2, 3))


def max_pool2d(x: np.ndarray, kernel: Any, stride: Any = None, padding: Any = 0) -> np.ndarray:
    """Window maxima (N, C, H, W) -> (N, C, OH, OW); stride defaults to the kernel."""
    kernel, stride, padding = _geometry(kernel, stride, padding)
    return windows(pad(x, padding, -np.inf), kernel, stride).max(axis=(4, 5))


def max_pool2d_backward(x: np.ndarray, dout: np.ndarray, kernel: Any, stride: Any = None,
                        padding: Any = 0) -> np.ndarray:
    """dx: each window's gradient to its first maximum in row-major order (PyTorch's
    choice among ties)."""
    kernel, stride, padding = _geometry(kernel, stride, padding)
    xp = pad(x, padding, -np.inf)
    win = windows(xp, kernel, stride)
    first = win.reshape(win.shape[:4] + (-1,)).argmax(axis=4)
    winner = (np.arange(kernel[0] * kernel[1]) == first[..., None]).reshape(win.shape)
    return crop(unwindow(winner * dout[..., None, None], xp.shape, stride), padding)


def avg_pool2d(x: np.ndarray, kernel: Any, stride: Any = None, padding: Any = 0) -> np.ndarray:
    """Window means (N, C, H, W) -> (N, C, OH, OW); zero padding counts in the mean."""
    kernel, stride, padding = _geometry(kernel, stride, padding)
    return windows(pad(x, padding), kernel, stride).mean(axis=(4, 5))


def avg_pool2d_backward(x: np.ndarray, dout: np.ndarray, kernel: Any, stride: Any = None,
                        padding: Any = 0) -> np.ndarray:
    """dx: each window's gradient shared evenly by its kh*kw pixels."""
    kernel, stride, padding = _geometry(kernel, stride, padding)
    shape = dout.shape + kernel
    dwin = np.broadcast_to(dout[..., None, None] / (kernel[0] * kernel[1]), shape)
    padded = (x.shape[0], x.shape[1], x.shape[2] + 2 * padding[0], x.shape[3] + 2 * padding[1])
    return crop(unwindow(dwin, padded, stride), padding)
