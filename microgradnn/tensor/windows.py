"""What convolution and pooling share: argument pairs, window geometry, work arrays, chunks.

A window op slides a (kh, kw) kernel over an (N, C, H, W) input zero-padded by (ph, pw) on
each side, stepping (sh, sw) pixels: output (N, ., OH, OW) with

    OH = (H + 2*ph - kh) // sh + 1,   OW = (W + 2*pw - kw) // sw + 1.

The fast paths run over the batch in chunks whose work arrays fit in the core's cache
(``chunk``), in arrays that each thread keeps between calls (``scratch``).
"""

from __future__ import annotations

import threading
from typing import Any, Iterator, Tuple

import numpy as np

from .forcing import chunk_bytes

__all__ = ["Pair", "pair", "MAX_ELEMENTS", "output_size", "pad", "crop", "offsets", "scratch",
           "chunk", "zeros_like"]

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


def output_size(op: str, shape: Tuple[int, ...], kernel: Pair, stride: Pair,
                padding: Pair) -> Pair:
    """(OH, OW) of a window op on an input of ``shape``; bad geometry is one clear line,
    raised before anything is allocated."""
    if len(shape) != 4:
        raise ValueError(f"{op}: expected input of shape (N, C, H, W), got {shape}")
    h, w = shape[2] + 2 * padding[0], shape[3] + 2 * padding[1]
    if shape[0] * shape[1] * h * w > MAX_ELEMENTS:
        raise ValueError(f"{op}: padding {padding} makes the input {shape} a padded array of "
                         f"{shape[0] * shape[1] * h * w:,} numbers, more than the "
                         f"{MAX_ELEMENTS:,} one array may hold here")
    if h < kernel[0] or w < kernel[1]:
        raise ValueError(f"{op}: kernel {kernel} is larger than the padded input "
                         f"{(h, w)} (input shape {shape}, padding {padding})")
    return (h - kernel[0]) // stride[0] + 1, (w - kernel[1]) // stride[1] + 1


def pad(x: np.ndarray, padding: Pair, value: float = 0.0) -> np.ndarray:
    """``x`` (N, C, H, W) with ``value`` borders of (ph, pw) pixels (``x`` itself if none)."""
    ph, pw = padding
    if not ph and not pw:
        return x
    return np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)), constant_values=value)


def crop(xp: np.ndarray, padding: Pair) -> np.ndarray:
    """The inverse of ``pad``: the (N, C, H, W) view inside the borders."""
    ph, pw = padding
    if not ph and not pw:
        return xp
    return xp[:, :, ph:xp.shape[2] - ph, pw:xp.shape[3] - pw]


def offsets(kernel: Pair, stride: Pair, oh: int, ow: int) -> Iterator[Tuple[slice, ...]]:
    """Yield an index for each kernel offset (i, j) in row-major order: it selects, in a
    padded (N, C, Hp, Wp) array, the input element that offset sees in every window."""
    (kh, kw), (sh, sw) = kernel, stride
    for i in range(kh):
        for j in range(kw):
            yield (slice(None), slice(None), slice(i, i + sh * (oh - 1) + 1, sh),
                   slice(j, j + sw * (ow - 1) + 1, sw))


_SCRATCH_BYTES = 64 << 20  # all scratch arrays of a thread together, before starting over
_SCRATCH = threading.local()


def scratch(name: Any, shape: Tuple[int, ...], dtype: np.dtype) -> np.ndarray:
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


def chunk(n: int, per_sample: int, itemsize: int, scale: int = 1) -> int:
    """Samples per chunk so that ``per_sample`` numbers each fill about ``scale`` times the
    chunk size (1 MiB, about the core's cache; ``forcing.forced(chunk_bytes=)`` in tests)."""
    return max(1, min(n, scale * chunk_bytes() // max(1, per_sample * itemsize)))


# Read-only zero arrays, one per (shape, dtype) seen: numpy's maximum against a full array
# runs its vector loop, against a scalar zero a slower scalar loop (benchmarks/RESULTS.md).
_ZEROS: dict = {}


def zeros_like(a: np.ndarray) -> np.ndarray:
    """A read-only array of zeros shaped like ``a``, kept for the next call."""
    key = (a.shape, a.dtype)
    z = _ZEROS.get(key)
    if z is None:
        if len(_ZEROS) > 16:
            _ZEROS.clear()
        z = _ZEROS[key] = np.zeros(a.shape, dtype=a.dtype)
        z.flags.writeable = False
    return z
