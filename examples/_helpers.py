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

from microgradnn.training import input_tensor  # the one pixel scaling: uint8 p -> p / 255

__all__ = ["example_args", "mnist_or_exit", "say_saved", "save_graph", "input_tensor", "train_epoch",
           "predict_logits"]


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
    import graphviz

    from microgradnn.fileio import write_atomic
    from viz import GraphvizNotFoundError, draw_graph
    from viz.graph.dot import render, write_atomic

    graph = draw_graph(root, **options)
    try:
        write_atomic(path, graph.pipe(format=path.suffix.lstrip(".")))
    except graphviz.ExecutableNotFound:
        path = path.with_suffix(".dot")
        write_atomic(path, graph.source)
        print(f"  ({GraphvizNotFoundError()}; wrote the DOT source instead)")
    say_saved(path, "the computation graph")
    return path


def train_epoch(model, optimizer, images: np.ndarray, labels: np.ndarray, shape, batch_size: int,
                rng: np.random.Generator, desc: str = "train", on_step=None) -> Tuple[float, float]:
    """One pass over shuffled minibatches; returns (mean loss, accuracy) on the training data.

    The loop every network trains with: forward, loss, zero the grads, backward, step.
    ``on_step(step)`` is called after ``backward()``, while the gradients are there to see.
    """
    from tqdm import tqdm

    from microgradnn.tensor import cross_entropy

    order = rng.permutation(images.shape[0])
    total_loss, correct = 0.0, 0
    bar = tqdm(range(0, order.size, batch_size), desc=desc, unit="batch", leave=False)
    for step, start in enumerate(bar):
        index = order[start:start + batch_size]
        logits = model(input_tensor(images[index], shape))
        loss = cross_entropy(logits, labels[index].astype(np.int64))
        optimizer.zero_grad()
        loss.backward()
        if on_step is not None:
            on_step(step)
        optimizer.step()
        total_loss += loss.item() * index.size
        correct += int((logits.data.argmax(axis=1) == labels[index]).sum())
        if step % 20 == 0:
            bar.set_postfix(loss=f"{total_loss / (start + index.size):.4f}")
    return total_loss / order.size, correct / order.size


def predict_logits(model, images: np.ndarray, shape, batch_size: int = 1000) -> np.ndarray:
    """Class scores (n, 10) for uint8 digits, without building a graph."""
    from microgradnn.tensor import no_grad

    with no_grad():
        return np.concatenate([model(input_tensor(images[i:i + batch_size], shape)).data
                               for i in range(0, images.shape[0], batch_size)])
