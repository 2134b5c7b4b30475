"""CPU time of one microgradnn.tensor training step, for before/after comparisons of two trees.

    OPENBLAS_NUM_THREADS=1 PYTHONPATH=<tree> MICROGRADNN_DATA=/work/shared/mnist \\
        python benchmarks/bench_step_cpu.py [--chunks 8]

On a machine shared with other jobs the wall-clock epochs of ``bench_tensor.py`` swing by
2x or more from run to run; this script times steps by the process's CPU time with one
BLAS thread, so waiting for a core does not count. Each case runs ``--chunks`` chunks of
``--steps`` steps (forward, cross-entropy, backward, SGD) on the same MNIST batches and
prints the fastest chunk per step. Run it once per tree, alternating, in the same session:
the ratio of the two figures is the comparison (same machine, same moment).
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

from microgradnn.datasets.mnist import MnistUnavailableError, load_mnist
from microgradnn.models import build_model
from microgradnn.optim import SGD, Adam
from microgradnn.tensor import cross_entropy, from_uint8

CASES = {  # name: (spec, batch, optimizer)
    "mlp 784-16-16-10 b32": ({"model": "mlp", "hidden": [16, 16], "activation": "relu"}, 32, "sgd"),
    "mlp 784-128-64-10 b64": ({"model": "mlp", "hidden": [128, 64], "activation": "relu"}, 64,
                              "sgd"),
    "cnn conv8-conv16-fc32 b64": ({"model": "cnn", "channels": [8, 16], "hidden": [32]}, 64,
                                  "adam"),
}


def time_case(spec, batch, optimizer, images, labels, steps, chunks):
    model = build_model(spec)
    opt = SGD(model.parameters(), lr=0.05) if optimizer == "sgd" else Adam(model.parameters(),
                                                                             lr=1e-3)
    shape = (-1, 784) if spec["model"] == "mlp" else (-1, 1, 28, 28)
    rng = np.random.default_rng(0)
    order = rng.permutation(len(labels))
    best = float("inf")
    for chunk in range(chunks):
        start = time.process_time()
        for step in range(steps):
            index = order[(chunk * steps + step) * batch % (len(labels) - batch):][:batch]
            x = from_uint8(images[index], 1 / 255, 0.0, shape)
            loss = cross_entropy(model(x), labels[index])
            opt.zero_grad()
            loss.backward()
            opt.step()
        best = min(best, (time.process_time() - start) / steps)
    return best, float(loss.item())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--chunks", type=int, default=8)
    parser.add_argument("--only", default="", help="run the cases whose name contains this")
    args = parser.parse_args()
    try:
        images, labels = load_mnist("train", progress=False)
    except MnistUnavailableError as err:
        print(f"bench_step_cpu: {err}", file=sys.stderr)
        return 2
    labels = labels.astype(np.int64)
    print(f"tree {os.environ.get('PYTHONPATH', '?')}, OPENBLAS_NUM_THREADS="
          f"{os.environ.get('OPENBLAS_NUM_THREADS', 'unset')}, load {os.getloadavg()[0]:.2f}")
    for name, (spec, batch, optimizer) in CASES.items():
        if args.only not in name:
            continue
        per_step, loss = time_case(spec, batch, optimizer, images, labels, args.steps, args.chunks)
        print(f"  {name:28s} {per_step * 1e6:9.1f} us CPU per step (best chunk of "
              f"{args.chunks} x {args.steps}), last loss {loss:.6f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
