"""Explain page: time to build it and its size, for the classic MLP and the README's CNN.

Budgets from issue 14: building the page (``viz.explain`` with a 32-image batch) under
2 s for 784-16-16-10 and under 5 s for the README's CNN (conv3x3:16-pool-conv3x3:32-
pool-fc128-10); the file under 5 MB. The peer, measured in the same run on the same
model, is one float32 training step (forward, cross-entropy, backward) on the same 32
images: the ratio says how many training steps the page costs. Weights are the specs'
initial ones (a trained model has the same shapes, so the same cost).

    python benchmarks/bench_explain.py [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import platform

import numpy as np

from microgradnn.models import build_model, describe
from microgradnn.tensor import Tensor, cross_entropy
from microgradnn.training import to_input
from viz.explainer import explain

from bench_stepper import median_time  # the benchmarks folder is on sys.path when run

MODELS = [({"model": "mlp", "hidden": [16, 16], "activation": "sigmoid"}, 2.0),
          ({"model": "cnn", "channels": [16, 32], "hidden": [128]}, 5.0)]


def images(n: int) -> tuple:
    """MNIST test images if they are on disk, else random digits-like noise."""
    try:
        from microgradnn.datasets import load_mnist

        x, y = load_mnist("test", download=False, progress=False)
        return x[:n + 1], y[:n + 1].astype(np.int64)
    except (OSError, ValueError):
        rng = np.random.default_rng(0)
        return (rng.integers(0, 256, (n + 1, 28, 28), dtype=np.uint8),
                rng.integers(0, 10, n + 1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    x, y = images(32)
    print(f"# {platform.node()}, {os.cpu_count()} cores, median of {args.repeat}, batch 32")
    print("| model | build page | budget | size | peer: one training step | ratio |")
    print("|---|---|---|---|---|---|")
    for spec, budget in MODELS:
        model = build_model(spec)
        batch = (x[1:], y[1:])
        page = explain(model, x[0], int(y[0]), batch=batch)
        size = len(page.html.encode("utf-8"))
        build = median_time(lambda: explain(model, x[0], int(y[0]), batch=batch), args.repeat)
        shape = (32,) + (tuple([784]) if spec["model"] == "mlp" else (1, 28, 28))

        def step() -> None:
            model.zero_grad()
            cross_entropy(model(Tensor(to_input(x[1:], shape[1:]))), y[1:]).backward()

        peer = median_time(step, args.repeat)
        print(f"| {describe(spec)} | {build:.2f} s | < {budget:g} s | {size / 1e6:.2f} MB | "
              f"{peer * 1000:.1f} ms | {build / peer:.0f}x |")


if __name__ == "__main__":
    main()
