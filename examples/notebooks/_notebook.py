"""What the MNIST notebooks share: finding MNIST, or saying so and skipping the rest.

Not part of the library; the notebooks import it as a sibling module (Jupyter runs a
notebook in its own folder). The message is example 5's (``examples/_helpers.py``).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import List, Optional, Tuple

import numpy as np

__all__ = ["mnist_or_skip"]

_SKIP_LINE = 'print("(skipped: this cell needs MNIST, see the first cell)")\n'


def _skip_cells(lines: List[str]) -> List[str]:
    """IPython input transformer: every later cell prints one line instead of running.

    The cell that loads MNIST still runs, so setting MICROGRADNN_DATA and running it
    again brings the notebook back.
    """
    return lines if any("mnist_or_skip(" in line for line in lines) else [_SKIP_LINE]


def mnist_or_skip(download: bool = False) -> Optional[Tuple[Tuple[np.ndarray, np.ndarray],
                                                           Tuple[np.ndarray, np.ndarray]]]:
    """``(train_images, train_labels), (test_images, test_labels)`` as uint8, or ``None``.

    Without the files this prints how to get them, and every later cell of the notebook
    prints that it was skipped instead of failing ("Run All" ends cleanly). With them,
    any earlier skipping stops.
    """
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # examples/, for _helpers
    try:
        from _helpers import mnist_or_exit
    finally:
        sys.path.pop(0)
    try:
        from IPython import get_ipython
        shell = get_ipython()
    except ImportError:  # plain Python: nothing to skip
        shell = None
    transformers = shell.input_transformers_post if shell is not None else []
    while _skip_cells in transformers:
        transformers.remove(_skip_cells)
    try:
        return mnist_or_exit(download)
    except SystemExit:
        print("In a notebook: set MICROGRADNN_DATA before starting Jupyter, or call "
              "mnist_or_skip(download=True).")
        transformers.append(_skip_cells)
        return None
