"""The few lines every example shares: its command-line options and finding MNIST.

Not part of the library; the examples import it as a sibling module.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import List, Optional, Tuple

import numpy as np

__all__ = ["example_args", "mnist_or_exit", "say_saved", "save_graph"]


def example_args(name: str, description: str, argv: Optional[List[str]] = None,
                 mnist: bool = False) -> argparse.Namespace:
    """Parse ``--quick`` and ``--out DIR`` (default ``examples_out/<name>``); create the folder."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--quick", action="store_true",
                        help="a few seconds of work instead of the full run (used by CI)")
    parser.add_argument("--out", type=Path, default=Path("examples_out") / name,
                        help="folder for the pictures (default: %(default)s)")
    if mnist:
        parser.add_argument("--download", action="store_true",
                            help="download MNIST (about 11 MB) into the cache if it is not found")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    return args


def mnist_or_exit(download: bool = False) -> Tuple[Tuple[np.ndarray, np.ndarray],
                                                  Tuple[np.ndarray, np.ndarray]]:
    """``(train_images, train_labels), (test_images, test_labels)`` as uint8, or a clear exit.

    Without the files this prints how to get them and ends the example with status 0:
    MNIST is optional, the scalar examples need nothing.
    """
    from microgradnn.datasets.mnist import ENV_VAR, MnistUnavailableError, load_mnist

    try:
        return (load_mnist("train", download=download, progress=download),
                load_mnist("test", download=download, progress=download))
    except MnistUnavailableError as error:
        where = os.environ.get(ENV_VAR)
        print("MNIST is not available, so this example stops here (nothing is wrong).")
        print(f"  {ENV_VAR} is {'set to ' + repr(where) if where else 'not set'}.")
        print(f"  To get it: set {ENV_VAR} to a folder holding the four MNIST .gz files,")
        print("  or run this example again with --download (needs internet, about 11 MB).")
        print(f"  Details: {error}")
        sys.exit(0)


def say_saved(path: Path, what: str) -> None:
    """One line per written file, so the learner knows what to open."""
    print(f"  wrote {path}  ({what})")


def save_graph(root, path: Path, **options) -> Path:
    """Draw the graph under ``root`` with ``viz.draw_graph`` into ``path`` (.svg or .png).

    Without graphviz's ``dot`` program the DOT source is written instead (``.dot``),
    with a line saying how to install graphviz.
    """
    from viz import GraphvizNotFoundError, draw_graph
    from viz.dot import render, write_atomic

    graph = draw_graph(root, **options)
    try:
        render(graph, str(path))
    except GraphvizNotFoundError as error:
        path = path.with_suffix(".dot")
        write_atomic(str(path), graph.source.encode("utf-8"))
        print(f"  ({error}; wrote the DOT source instead)")
    say_saved(path, "the computation graph")
    return path
