"""A Linear layer's three matrix products with its weight stored row-major or column-major.

    OPENBLAS_NUM_THREADS=1 python benchmarks/bench_linear_layout.py [--dtype float64]

``Linear`` keeps a float32 weight W (out, in) column-major (``layers.weight_order``). This
script is the measurement behind that choice: for the layer shapes of the README's MLPs
and CNN heads at their batch sizes, the CPU time of

* the forward ``x @ W.T`` (N, in) @ (in, out),
* the weight's gradient ``g.T @ x`` (out, N) @ (N, in), written in the weight's layout
  (``functional.weight_grad``: ``(x.T @ g).T`` for a column-major weight),
* the input's gradient ``g @ W`` (N, out) @ (out, in), which a first layer never computes,

each the fastest of 5 runs of ``--repeat`` calls (``time.process_time``), microseconds per
call, W row-major ("C") and column-major ("F"). OpenBLAS runs a product fastest when
neither operand is a transposed view of a row-major array in its second place, so the
column-major weight speeds up ``x @ W.T`` and slows down ``g @ W`` by about as much.

    MICROGRADNN_DATA=/work/shared/mnist OPENBLAS_NUM_THREADS=1 \
        python benchmarks/bench_linear_layout.py --families

instead trains each CNN family (and the README CNN) twice in one process, replayed (Adam, batch
64, the same MNIST batches), once with every Linear weight row-major and once column-major,
``--steps`` steps per round, rounds alternated (the order swapped every round): the best
round's CPU milliseconds per step of each, and their ratio.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cpu_time import cpu_us  # noqa: E402

SHAPES = [  # (batch, in, out): the MLPs' layers, LeNet-5's head, a wider first layer
    (64, 784, 128), (64, 128, 64), (64, 64, 10), (32, 784, 16), (32, 16, 16),
    (64, 400, 120), (64, 120, 84), (64, 1024, 128),
]


def families(steps: int, rounds: int) -> None:
    """Each family's replayed step with its Linear weights row-major against column-major."""
    from microgradnn.datasets.mnist import load_mnist
    from microgradnn.families import FAMILIES
    from microgradnn.models import build_model
    from microgradnn.optim import Adam
    from microgradnn.tensor import cross_entropy, replay
    from microgradnn.tensor.replay import ScaledImages

    images, labels = load_mnist("train", progress=False)
    labels = labels.astype(np.int64)
    rng = np.random.default_rng(0)
    print(f"ms of CPU per replayed step, best of {rounds} rounds of {steps} steps")
    for kind in ("cnn",) + tuple(FAMILIES):
        batches = [rng.choice(len(images), 64, replace=False) for _ in range(steps)]
        runs = {}
        for order in ("C", "F"):
            model = build_model({"model": kind, "seed": 0})
            for p in model.parameters():
                if p.data.ndim == 2:
                    p.data = p.data.copy(order=order)
            step = replay(model, cross_entropy, Adam(model.parameters(), lr=1e-3),
                          prepare=ScaledImages((1, 28, 28), 1 / 255))
            step(images[batches[0]], labels[batches[0]])  # records
            runs[order] = (step, [])
        for r in range(rounds):
            for order in (("C", "F") if r % 2 == 0 else ("F", "C")):
                step, times = runs[order]
                start = time.process_time()
                for idx in batches:
                    step(images[idx], labels[idx])
                times.append((time.process_time() - start) / steps * 1e3)
        best = {order: min(times) for order, (_, times) in runs.items()}
        print(f"{kind:>10}: row-major {best['C']:7.2f}  column-major {best['F']:7.2f}  "
              f"column/row {best['F'] / best['C']:.3f}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dtype", choices=("float32", "float64"), default="float32")
    parser.add_argument("--repeat", type=int, default=200)
    parser.add_argument("--families", action="store_true",
                        help="the CNN families' replayed steps with either layout (needs MNIST)")
    parser.add_argument("--steps", type=int, default=20, help="with --families: steps a round")
    parser.add_argument("--rounds", type=int, default=4, help="with --families: rounds")
    args = parser.parse_args()
    if args.families:
        families(args.steps, args.rounds)
        return 0
    dt = np.dtype(args.dtype)
    rng = np.random.default_rng(0)
    print(f"{args.dtype}, CPU us per call, weight row-major (C) / column-major (F)")
    print(f"{'N, in, out':>16} | {'x @ W.T':>13} | {'g.T @ x':>13} | {'g @ W':>13} | "
          f"{'first layer':>13} | {'hidden layer':>13}")
    for n, fan_in, fan_out in SHAPES:
        x, g = (rng.standard_normal(s).astype(dt) for s in ((n, fan_in), (n, fan_out)))
        w_c = rng.standard_normal((fan_out, fan_in)).astype(dt)
        w_f = np.asfortranarray(w_c)
        z, gx = np.empty((n, fan_out), dt), np.empty((n, fan_in), dt)
        gw_c, gw_f = np.empty_like(w_c), np.empty_like(w_f)
        row = {}
        for name, w, gw, grad in (
                ("C", w_c, gw_c, lambda: np.matmul(g.T, x, out=gw_c)),
                ("F", w_f, gw_f, lambda: np.matmul(x.T, g, out=gw_f.T))):
            row[name] = (cpu_us(lambda w=w: np.matmul(x, w.T, out=z), args.repeat, 5),
                         cpu_us(grad, args.repeat, 5),
                         cpu_us(lambda w=w: np.matmul(g, w, out=gx), args.repeat, 5))
        cells = [f"{row['C'][k]:6.1f}/{row['F'][k]:<6.1f}" for k in range(3)]
        first = [row[v][0] + row[v][1] for v in "CF"]
        hidden = [sum(row[v]) for v in "CF"]
        cells += [f"{first[0]:6.1f}/{first[1]:<6.1f}", f"{hidden[0]:6.1f}/{hidden[1]:<6.1f}"]
        print(f"{str((n, fan_in, fan_out)):>16} | " + " | ".join(cells))
    return 0


if __name__ == "__main__":
    sys.exit(main())
