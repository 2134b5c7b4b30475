"""Gradient descent pictures: the two time goals of issue 15, each in a fresh process.

- a descent GIF of 3 paths x 60 steps (sgd, momentum, adam on two-valleys): goal < 10 s,
  computing the paths included;
- a 41x41 ``loss_landscape`` of the 784-16-16-10 sigmoid MLP on 2,000 MNIST test images:
  goal < 10 s. Its peer, in its own process on the same model and images, is the plain
  loop: set the weights, run the whole model, take the cross-entropy, for every grid
  point (what ``loss_landscape`` does for models that do not start with a ``Linear``).

Without MNIST (``MICROGRADNN_DATA``) the landscape runs on 2,000 random uint8 images: the
same arithmetic, other numbers.

    python benchmarks/bench_descent.py [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _images():
    import numpy as np

    from microgradnn.datasets.mnist import MnistUnavailableError, load_mnist

    try:
        images, labels = load_mnist("test", download=False, progress=False)
        return images[:2000], labels[:2000].astype(np.int64), "MNIST test"
    except MnistUnavailableError:
        rng = np.random.default_rng(0)
        return (rng.integers(0, 256, (2000, 28, 28), dtype=np.uint8),
                rng.integers(0, 10, 2000), "random")


def run_gif() -> dict:
    import viz

    with tempfile.TemporaryDirectory() as folder:
        start = time.perf_counter()
        paths = {name: viz.descent_path("two-valleys", optimizer=name, lr=0.05, steps=60)
                 for name in ("sgd", "momentum", "adam")}
        viz.save_descent_animation("two-valleys", paths, Path(folder) / "d.gif")
        return {"seconds": time.perf_counter() - start}


def run_landscape(plain: bool) -> dict:
    import numpy as np

    import viz
    from microgradnn.models import build_model
    from microgradnn.tensor import Tensor, cross_entropy, no_grad
    from microgradnn.training import to_input

    images, labels, source = _images()
    model = build_model({"model": "mlp", "hidden": [16, 16], "activation": "sigmoid", "seed": 0})
    start = time.perf_counter()
    if not plain:
        land = viz.loss_landscape(model, images, labels, span=1.0, steps=41)
        centre = land.center_cost
    else:
        d1, d2 = viz.landscape.random_directions(model, seed=0)
        named = list(model.named_parameters())
        base = {n: p.data for n, p in named}
        x = Tensor(to_input(images, (784,)))
        grid = np.linspace(-1.0, 1.0, 41)
        costs = np.empty((41, 41))
        model.eval()
        with no_grad():
            for i, b in enumerate(grid):
                for j, a in enumerate(grid):
                    for n, p in named:
                        p.data = (base[n] + np.float32(a) * d1[n].astype(np.float32)
                                  + np.float32(b) * d2[n].astype(np.float32))
                    logits = model(x).data.astype(np.float64)
                    costs[i, j] = cross_entropy(Tensor(logits), labels).item()
        centre = float(costs[20, 20])
    return {"seconds": time.perf_counter() - start, "images": source, "centre": centre}


def child(args: argparse.Namespace) -> None:
    result = run_gif() if args.child == "gif" else run_landscape(args.child == "plain")
    print(json.dumps(result))


def measure(kind: str, repeat: int) -> dict:
    runs = []
    for _ in range(repeat):
        env = dict(os.environ, PYTHONPATH=str(ROOT))
        done = subprocess.run([sys.executable, __file__, "--child", kind], env=env,
                              capture_output=True, text=True, check=True)
        runs.append(json.loads(done.stdout.strip().splitlines()[-1]))
    out = dict(runs[-1])
    out["seconds"] = statistics.median(r["seconds"] for r in runs)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--child", choices=("gif", "fast", "plain"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
        return
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}; "
          f"median of {args.repeat} fresh processes each")
    gif = measure("gif", args.repeat)
    print(f"descent GIF, 3 paths x 60 steps (61 frames): {gif['seconds']:.2f} s (goal < 10 s)")
    fast = measure("fast", args.repeat)
    plain = measure("plain", args.repeat)
    print(f"loss_landscape 41x41, 784-16-16-10, 2,000 {fast['images']} images: "
          f"{fast['seconds']:.2f} s (goal < 10 s); plain loop (whole model per point) "
          f"{plain['seconds']:.2f} s; ratio plain / loss_landscape "
          f"{plain['seconds'] / fast['seconds']:.1f}")
    print(f"centre cost: loss_landscape {fast['centre']:.6f}, plain loop {plain['centre']:.6f}")
    print(f"load after: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
