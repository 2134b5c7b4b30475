"""How fast can any numpy implementation train MLP 784-128-64-10 (batch 64) here?

    MICROGRADNN_DATA=/work/shared/mnist python benchmarks/bench_floor.py

Issue 5 asks for an MNIST epoch in at most 0.5x PyTorch's time. This script measures,
per training step, what no numpy implementation can skip, and sets it against a whole
PyTorch training step measured in the same run (each in its own process, taking turns):

* gathering the batch's 64 uint8 images from the 60,000 and scaling them to float32,
  which every peer of ``bench_tensor.py`` does in its timed loop;
* the two large matrix products of the step on that batch, ``x @ W1.T`` (64x784 by
  784x128) and the weight gradient ``g.T @ x`` (128x64 by 64x784), with numpy's OpenBLAS
  on 1 and on 2 threads. The small layers' products, the ReLUs, the loss and the update
  are not counted: the floor is lower than any real training step.

It prints the floor per epoch (938 steps), PyTorch's epoch, their ratio, and what is
left for everything else in a step if an epoch is to take 0.5x PyTorch's time; and, to
compare the libraries' matrix products, one forward product ``x @ W1.T`` on its own.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

STEPS_PER_EPOCH = 938  # ceil(60000 / 64)


def child(kind: str, rounds: int) -> None:
    """Measure in this process and print one JSON line of microseconds per step."""
    import numpy as np
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
    from microgradnn.datasets.mnist import load_mnist
    from tensor_peers import batches, init_weights, scaled

    images, labels = load_mnist("train", progress=False)
    labels = labels.astype(np.int64)
    order = batches(len(images), 64, 0)[:200]
    best = {}

    def keep(name: str, seconds: float, steps: int) -> None:
        best[name] = min(best.get(name, 1e9), seconds / steps * 1e6)

    if kind == "torch":
        import torch
        from tensor_peers import torch_epoch, torch_mlp
        torch.set_num_threads(2)
        sizes = (784, 128, 64, 10)
        net = torch_mlp(torch, sizes, init_weights(sizes, 0), "relu")
        opt = torch.optim.SGD(net.parameters(), lr=0.1)
        x = torch.from_numpy(scaled(images, order[0], (64, 784)))
        w1 = torch.from_numpy(init_weights(sizes, 0)[0])
        for _ in range(rounds):
            t0 = time.perf_counter()
            torch_epoch(torch, net, opt, images, labels, order, (-1, 784))
            keep("torch_step", time.perf_counter() - t0, len(order))
            t0 = time.perf_counter()
            for _ in order:
                x @ w1.T
            keep("product", time.perf_counter() - t0, len(order))
    else:
        rng = np.random.default_rng(0)
        w1 = rng.uniform(-0.03, 0.03, (128, 784)).astype(np.float32)
        g = rng.standard_normal((64, 128)).astype(np.float32)
        for _ in range(rounds):
            # As in training: each batch is gathered and scaled, then multiplied while
            # it is still in cache.
            t0 = time.perf_counter()
            for idx in order:
                x = scaled(images, idx, (64, 784))
                x @ w1.T
                g.T @ x
            keep("floor", time.perf_counter() - t0, len(order))
            t0 = time.perf_counter()
            for idx in order:
                scaled(images, idx, (64, 784))
            keep("batch", time.perf_counter() - t0, len(order))
            x = scaled(images, order[0], (64, 784))
            t0 = time.perf_counter()
            for _ in order:
                x @ w1.T
            keep("product", time.perf_counter() - t0, len(order))
    print(json.dumps(best), flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--turns", type=int, default=3, help="turns each process takes")
    parser.add_argument("--rounds", type=int, default=3, help="timed rounds per turn")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.rounds)
        return 0
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
    from microgradnn.datasets.mnist import MnistUnavailableError, load_mnist
    try:  # fail here, once and clearly, rather than in every child
        load_mnist("train", progress=False)
    except MnistUnavailableError as err:
        print(f"bench_floor: {err}", file=sys.stderr)
        return 2
    runs = {"numpy, 1 BLAS thread": ("numpy", "1"), "numpy, 2 BLAS threads": ("numpy", "2"),
            "pytorch, 2 threads": ("torch", "1")}
    best: dict = {}
    for _ in range(args.turns):
        for name, (kind, blas) in runs.items():
            time.sleep(0.2)
            env = dict(os.environ, OPENBLAS_NUM_THREADS=blas)
            out = subprocess.run([sys.executable, os.path.abspath(__file__), "--child", kind,
                                  "--rounds", str(args.rounds)],
                                 stdout=subprocess.PIPE, text=True, env=env)
            if out.returncode:  # its traceback went to our stderr
                print(f"bench_floor: the {name} measurement failed (exit {out.returncode})",
                      file=sys.stderr)
                return 1
            for key, value in json.loads(out.stdout.strip().splitlines()[-1]).items():
                best[(name, key)] = min(best.get((name, key), 1e9), value)
    torch_us = best[("pytorch, 2 threads", "torch_step")]
    print(f"MLP 784-128-64-10, batch 64, best of {args.turns}x{args.rounds} rounds of 200 steps; "
          f"load average {os.getloadavg()[0]:.2f}")
    print(f"PyTorch training step (2 threads): {torch_us:7.1f} us -> "
          f"{torch_us * STEPS_PER_EPOCH / 1e6:.3f} s per epoch; 0.5x of it: "
          f"{torch_us / 2:.1f} us per step; one x @ W1.T product alone "
          f"{best[('pytorch, 2 threads', 'product')]:.1f} us")
    for name in ("numpy, 1 BLAS thread", "numpy, 2 BLAS threads"):
        floor, batch = best[(name, "floor")], best[(name, "batch")]
        print(f"{name}: batch gather/scale and the two large products {floor:6.1f} us "
              f"(the batch alone {batch:5.1f} us) per step ({floor * STEPS_PER_EPOCH / 1e6:.3f} s per epoch) = "
              f"{floor / torch_us:.2f}x PyTorch; left for everything else at 0.5x: "
              f"{torch_us / 2 - floor:6.1f} us per step; one x @ W1.T product alone "
              f"{best[(name, 'product')]:.1f} us")
    return 0


if __name__ == "__main__":
    sys.exit(main())
