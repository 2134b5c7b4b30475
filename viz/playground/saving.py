"""Where a playground's "save" writes: the path given, or a temporary folder of its own.

Both apps (``mnist_app``, ``toy_app``) save checkpoints through one ``Saver``; the server
calls ``close`` when it stops, so a temporary folder never outlives it.
"""

from __future__ import annotations

import os
import tempfile
import threading
from typing import Optional

__all__ = ["Saver"]


class Saver:
    """Where "save" writes: the path given, or a temporary folder removed at the end; a
    download is written in that folder too and removed once read (a GET writes no file of
    the user's)."""

    def __init__(self, path: Optional[str]) -> None:
        if path is not None and not str(path).endswith(".npz"):
            raise ValueError(f"save must name a .npz file, got {path!r}")
        self.path = path
        self._tmp: Optional[tempfile.TemporaryDirectory] = None
        self._lock = threading.Lock()

    def temporary(self, name: str) -> str:
        with self._lock:
            if self._tmp is None:
                self._tmp = tempfile.TemporaryDirectory(prefix="microgradnn-serve-")
            return os.path.join(self._tmp.name, name)

    def target(self) -> str:
        return self.path if self.path is not None else self.temporary("playground.npz")

    def close(self) -> None:
        with self._lock:
            if self._tmp is not None:
                self._tmp.cleanup()
                self._tmp = None
