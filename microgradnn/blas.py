"""The thread count of the OpenBLAS that numpy loaded, read and set at run time.

Processes that each run their own share of a batch (``microgradnn.parallel``) should not
also run BLAS threads: an idle OpenBLAS thread spins for a while before it sleeps, taking a
core another process needs (benchmarks/RESULTS.md, "Figures moved out of the code"). numpy
offers no call for it, so this finds OpenBLAS among the libraries the process has mapped and
calls its own ``openblas_set_num_threads`` (the names numpy's bundled build exports are
tried too).

Elsewhere (macOS Accelerate, MKL, Windows) the functions do nothing and say so.
"""

from __future__ import annotations

import ctypes
from typing import List, Optional

__all__ = ["get_blas_threads", "set_blas_threads"]

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
