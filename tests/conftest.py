"""Suite-wide checks.

Tests that need graphviz's `dot` or the MNIST files skip on a user's machine without them;
in CI (``CI`` set) everything they need is installed, so a missing piece is an error
rather than a quiet skip.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest


def pytest_sessionstart(session: pytest.Session) -> None:
    if not os.environ.get("CI"):
        return
    missing = []
    if shutil.which("dot") is None:
        missing.append("graphviz's `dot` is not on PATH")
    data = os.environ.get("MICROGRADNN_DATA")
    names = ("train-images-idx3-ubyte.gz", "train-images-idx3-ubyte")
    if not data or not any((Path(data) / name).exists() for name in names):
        missing.append(f"MICROGRADNN_DATA ({data!r}) does not hold the MNIST files")
    if missing:
        pytest.exit("CI is set but " + "; ".join(missing) + ": the tests that need them would be skipped",
                    returncode=3)
