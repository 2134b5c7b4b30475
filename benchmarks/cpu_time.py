"""CPU microseconds per call of a small function: the timer of the benchmarks that take one
operation apart (``time.process_time``: waiting for a core on a busy machine does not count)."""

from __future__ import annotations

import time
from typing import Any, Callable

__all__ = ["cpu_us"]


def cpu_us(fn: Callable[[], Any], repeat: int, runs: int = 3) -> float:
    """The fastest of ``runs`` runs of ``repeat`` calls of ``fn``, CPU microseconds per call."""
    best = float("inf")
    for _ in range(runs):
        start = time.process_time()
        for _ in range(repeat):
            fn()
        best = min(best, time.process_time() - start)
    return best / repeat * 1e6
