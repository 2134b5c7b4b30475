"""The same small workloads timed in two checkouts of the project, interleaved: a change's
cost on the hot paths, as a ratio (this tree / the other), best of several rounds.

    python benchmarks/bench_trees.py OTHER_TREE [--rounds 5]

Workloads: the tensor path's activations (ReLU, sigmoid, tanh forward and backward on a
(64, 512) float32 batch), ``log_softmax`` + ``cross_entropy`` on (64, 10) scores, and one
``fit`` epoch of a 784-32-10 MLP over 2,048 synthetic images (batch 64, no progress bar).
Each round runs each tree in a fresh process, one after the other, so both see the same load;
times are the process's CPU time (one thread), which other jobs on the machine disturb less
than wall time.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Dict

HERE = Path(__file__).resolve().parents[1]

PROBE = r"""
import json, time
import numpy as np
from microgradnn.tensor import Tensor, cross_entropy, log_softmax, ops
from microgradnn.models import build_model
from microgradnn.optim import SGD
from microgradnn.training import fit

rng = np.random.default_rng(0)
X = rng.standard_normal((64, 512)).astype(np.float32)
S = rng.standard_normal((64, 10)).astype(np.float32)
t = rng.integers(0, 10, 64)

def best(fn, repeat=7, number=200):
    times = []
    for _ in range(repeat):
        start = time.process_time()  # CPU time: on a shared machine, not others' jobs
        for _ in range(number):
            fn()
        times.append((time.process_time() - start) / number)
    return min(times)

def activations():
    for f in (ops.relu, ops.sigmoid, ops.tanh):
        x = Tensor(X, requires_grad=True)
        f(x).sum().backward()

def softmax_family():
    x = Tensor(S, requires_grad=True)
    (cross_entropy(x, t) + log_softmax(x, axis=1).sum()).backward()

images = rng.integers(0, 256, (2048, 28, 28), dtype=np.uint8)
labels = rng.integers(0, 10, 2048)

def one_epoch():
    model = build_model({"model": "mlp", "hidden": [32], "seed": 0})
    fit(model, SGD(model.parameters(), lr=0.05), (images, labels), 1, 64, progress=False)

print(json.dumps({"activations": best(activations), "softmax": best(softmax_family),
                  "fit_epoch": best(one_epoch, repeat=3, number=3)}))
"""


def run(tree: Path) -> Dict[str, float]:
    env = dict(os.environ, PYTHONPATH=str(tree), OPENBLAS_NUM_THREADS="1")
    out = subprocess.run([sys.executable, "-c", PROBE], env=env, cwd=str(tree),
                         capture_output=True, text=True, check=True, timeout=600)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("other", type=Path, help="the other checkout (e.g. /work/main)")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    best: Dict[str, Dict[str, float]] = {"this": {}, "other": {}}
    for _ in range(args.rounds):
        for name, tree in (("other", args.other.resolve()), ("this", HERE)):
            for key, value in run(tree).items():
                best[name][key] = min(value, best[name].get(key, float("inf")))
    with open("/proc/loadavg") as f:
        load = f.read().split()[0]
    print(f"best of {args.rounds} rounds, CPU time, one OpenBLAS thread, load average {load}")
    for key in best["this"]:
        this, other = best["this"][key], best["other"][key]
        print(f"{key:12s} this {this * 1e3:9.3f} ms  other {other * 1e3:9.3f} ms  "
              f"this/other {this / other:5.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
