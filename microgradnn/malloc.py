"""Keep the megabyte-sized arrays of a training step in the C heap between steps (glibc).

A training step allocates and frees the same arrays every time: activations, their
gradients, the temporaries of batch norm and of the residual additions, a few megabytes
each. glibc's ``malloc`` hands blocks above ``M_MMAP_THRESHOLD`` (128 KiB at first, raised
as large blocks are freed) to fresh ``mmap`` calls and trims the top of its heap whenever
more than ``M_TRIM_THRESHOLD`` is free there, so a step's arrays go back to the system and
are faulted in again, page by page, at the next step. Fixing both thresholds high keeps
them in the heap, which makes a ResNet step faster (figures in benchmarks/RESULTS.md,
"Allocator thresholds").

The cost: up to ``TRIM_THRESHOLD`` of freed memory stays with the process, and blocks up
to ``MMAP_THRESHOLD`` come from the heap. So importing microgradnn changes nothing: ``tune()``
is an explicit call, made by ``microgradnn.training.fit`` and by the ``train`` and ``eval``
commands. Where the C library is not glibc (macOS, Windows, musl) it does nothing, and
``MICROGRADNN_MALLOC=default`` in the environment leaves glibc's thresholds as they are
(for a process that shares them with other code, or to compare).
"""

from __future__ import annotations

import ctypes
import os
import sys

__all__ = ["tune", "tuned", "ENV", "MMAP_THRESHOLD", "TRIM_THRESHOLD"]

ENV = "MICROGRADNN_MALLOC"  # "default": leave glibc's thresholds alone

MMAP_THRESHOLD = 32 << 20  # the largest value glibc accepts on 64-bit systems
TRIM_THRESHOLD = 256 << 20
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # mallopt's parameter numbers (malloc.h)


def _glibc():
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(None)
    except OSError:
        return None
    if getattr(libc, "gnu_get_libc_version", None) is None \
            or getattr(libc, "mallopt", None) is None:
        return None  # musl has a mallopt that does nothing; the thresholds are glibc's
    return libc


_TUNED = [False]


def tune() -> bool:
    """Set glibc's mmap and trim thresholds (above); True if they were set.

    Not with ``MICROGRADNN_MALLOC=default``; any other value but "tuned" (or unset) gets one
    line on stderr naming it, and the thresholds are set."""
    choice = os.environ.get(ENV, "tuned").strip().lower()
    if choice not in ("tuned", "default"):
        print(f"microgradnn: {ENV}={os.environ[ENV]!r} is neither 'tuned' nor 'default'; "
              f"using 'tuned'", file=sys.stderr)
    libc = _glibc()
    if libc is None or choice == "default":
        return False
    mallopt = libc.mallopt
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    _TUNED[0] = bool(mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)) \
        and bool(mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD))
    return _TUNED[0]


def tuned() -> bool:
    """Whether this process runs with the thresholds above (``tune()`` set them)."""
    return _TUNED[0]
