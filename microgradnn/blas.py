"""The OpenBLAS that numpy loaded, reached at run time: its thread count, and a fused axpy.

Processes that each run their own share of a batch (``microgradnn.parallel``) should not
also run BLAS threads: an idle OpenBLAS thread spins for a while before it sleeps, taking a
core another process needs (benchmarks/RESULTS.md, "Figures moved out of the code"). numpy
offers no call for it, so this finds OpenBLAS among the libraries the process has mapped and
calls its own ``openblas_set_num_threads`` (the names numpy's bundled build exports are
tried too).

Elsewhere (macOS Accelerate, MKL, Windows) the thread functions do nothing and say so.

``axpy(alpha, x, y)`` is BLAS's ``y += alpha * x`` with one rounding per element (a fused
multiply-add), as PyTorch's ``add_(x, alpha=...)`` computes it: the optimizers' update
(``microgradnn.optim``). It calls OpenBLAS's own ``cblas_?axpby`` with ``beta = 1`` where the
symbol's name says its integer width (numpy's wheels bundle ``scipy_cblas_saxpby64_``): unlike
its ``?axpy``, which hands arrays over 10,000 elements to its threads, ``?axpby`` runs on the
caller's thread: with default threads, ``?axpy`` woke the second thread at every step of the
lectures' network (13,002 weights) and its update took longer (benchmarks/RESULTS.md). Elsewhere numpy computes the same numbers for float32 (in float64,
whose product of two float32 is exact), and rounds twice for float64.
"""

from __future__ import annotations

import ctypes
from typing import Any, Dict, List, Optional

import numpy as np

__all__ = ["get_blas_threads", "set_blas_threads", "axpy", "axpy_reference"]

_SETTERS = ("openblas_set_num_threads", "scipy_openblas_set_num_threads64_",
            "scipy_openblas_set_num_threads_64_", "openblas_set_num_threads64_")
_GETTERS = ("openblas_get_num_threads", "scipy_openblas_get_num_threads64_",
            "scipy_openblas_get_num_threads_64_", "openblas_get_num_threads64_")


def _libraries() -> List[ctypes.CDLL]:
    import numpy  # noqa: F401 - makes sure numpy's OpenBLAS is loaded

    paths = []
    try:
        with open("/proc/self/maps", encoding="utf-8", errors="replace") as maps:
            for line in maps:
                path = line.split()[-1] if len(line.split()) >= 6 else ""
                if "openblas" in path.lower() and path not in paths:
                    paths.append(path)
    except OSError:  # not Linux
        return []
    libraries = []
    for path in paths:
        try:
            libraries.append(ctypes.CDLL(path))
        except OSError:
            continue
    return libraries


def _function(names: tuple) -> Optional[ctypes._CFuncPtr]:
    for library in _libraries():
        for name in names:
            function = getattr(library, name, None)
            if function is not None:
                return function
    return None


def get_blas_threads() -> Optional[int]:
    """OpenBLAS's thread count, or None where no OpenBLAS is found."""
    function = _function(_GETTERS)
    return None if function is None else int(function())


def set_blas_threads(count: int) -> bool:
    """Set OpenBLAS's thread count; False where no OpenBLAS is found."""
    function = _function(_SETTERS)
    if function is None:
        return False
    function(ctypes.c_int(int(count)))
    return True


# ILP64 names only: the "64_" suffix says the integer arguments are 64-bit (a 32-bit int
# library called with 64-bit sizes would read the wrong lengths).
_AXPY_NAMES = {np.dtype(np.float32): ("scipy_cblas_saxpby64_", "cblas_saxpby64_"),
               np.dtype(np.float64): ("scipy_cblas_daxpby64_", "cblas_daxpby64_")}
_SCALARS = {np.dtype(np.float32): ctypes.c_float, np.dtype(np.float64): ctypes.c_double}
_BYTE = ctypes.c_ubyte
_POINTER = ctypes.POINTER(_BYTE)
_axpy_functions: Optional[Dict[np.dtype, Any]] = None


def _axpy_function(dtype: np.dtype) -> Any:
    global _axpy_functions
    if _axpy_functions is None:  # looked up once: /proc/self/maps is read per lookup
        found = {}
        for key, names in _AXPY_NAMES.items():
            function = _function(names)
            if function is not None:
                scalar = _SCALARS[key]  # (n, alpha, x, incx, beta, y, incy)
                function.argtypes = [ctypes.c_int64, scalar, _POINTER, ctypes.c_int64, scalar,
                                     _POINTER, ctypes.c_int64]
                function.restype = None
                found[key] = function
        _axpy_functions = found
    return _axpy_functions.get(dtype)


def axpy(alpha: float, x: np.ndarray, y: np.ndarray) -> None:
    """``y += alpha * x`` in place, rounded once per element (module docstring).

    ``x`` and ``y``: float arrays of one dtype and shape that do not overlap; ``alpha`` is
    taken in their dtype, as numpy takes a Python float. Arrays BLAS cannot walk as one run
    of memory (a strided view, two different layouts or dtypes) take ``axpy_reference``,
    with numpy's casting; two shapes are refused by name.
    """
    function = _axpy_functions.get(y.dtype) if _axpy_functions is not None \
        else _axpy_function(y.dtype)
    # alpha 0 goes to numpy: ?axpby skips x then, where 0 * nan must still give nan
    if function is not None and x.strides == y.strides and x.dtype == y.dtype \
            and x.shape == y.shape and alpha != 0:
        flags = y.flags
        if flags.c_contiguous or flags.f_contiguous:
            if not y.size:
                return
            # same strides: x is laid out as y; a C-ordered view of each gives its first
            # byte through from_buffer, a fraction of a.ctypes.data's cost (a step has
            # small arrays: the biases)
            xc, yc = (x, y) if flags.c_contiguous else (x.T, y.T)
            try:
                function(y.size, alpha, _BYTE.from_buffer(xc), 1, 1.0, _BYTE.from_buffer(yc), 1)
            except TypeError:  # a read-only x exports no writable buffer; y must be writable
                if not flags.writeable:
                    raise ValueError("axpy: y is read-only") from None
                function(y.size, alpha, ctypes.cast(x.ctypes.data, _POINTER), 1, 1.0,
                         _BYTE.from_buffer(yc), 1)
            return
    if x.shape != y.shape:
        raise ValueError(f"axpy: x of shape {x.shape} and y of shape {y.shape} must match")
    axpy_reference(alpha, x, y)


def axpy_reference(alpha: float, x: np.ndarray, y: np.ndarray) -> None:
    """``axpy`` in numpy: float32 through float64, where ``alpha * x`` is exact and the sum
    is rounded to float64 then to float32. That is the fused result except when the first
    rounding lands exactly halfway between two float32 (a double rounding: about one sum in
    2**29 of random bits); other dtypes round twice."""
    if y.dtype == np.float32:
        wide = y.astype(np.float64)
        wide += np.float64(np.float32(alpha)) * x.astype(np.float64)
        np.copyto(y, wide, casting="same_kind")
    else:
        y += alpha * x
