"""Explain page of every CNN family: time to build it and its size (budget: 3 s, 5 MB).

Each family at its default size (``microgradnn.families.FAMILY_DEFAULTS``), explained with
a 32-image batch as ``microgradnn explain`` does by default: the float64 copy, the recorded
forward and backward of the image and of the batch, the architecture diagram (graphviz),
the JSON and the HTML. The peer, measured in the same run on the same model, is one
float32 training step (forward, cross-entropy, backward) on the same 32 images: the ratio
says how many training steps one page costs. Weights are the specs' initial ones (a
trained model has the same shapes, so the same cost).

    OPENBLAS_NUM_THREADS=1 python benchmarks/bench_explain_families.py [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import platform

from microgradnn.families import FAMILIES
from microgradnn.models import build_model, describe
from microgradnn.tensor import Tensor, cross_entropy
from microgradnn.training import to_input
from viz.explainer import explain

from bench_explain import images  # the benchmarks folder is on sys.path when run
from bench_stepper import median_time

BUDGET_SECONDS, BUDGET_BYTES = 3.0, 5_000_000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    x, y = images(32)
    batch = (x[1:], y[1:])
    print(f"# {platform.node()}, {os.cpu_count()} cores, median of {args.repeat}, batch 32")
    print("| family | build page | budget | size | budget | peer: one training step | ratio |")
    print("|---|---|---|---|---|---|---|")
    for family in FAMILIES:
        model = build_model({"model": family, "seed": 0})
        page = explain(model, x[0], int(y[0]), batch=batch)
        size = len(page.html.encode("utf-8"))
        build = median_time(lambda: explain(model, x[0], int(y[0]), batch=batch), args.repeat)

        def step() -> None:
            model.zero_grad()
            cross_entropy(model(Tensor(to_input(x[1:], (1, 28, 28)))), y[1:]).backward()

        peer = median_time(step, args.repeat)
        print(f"| {describe(model.spec)} | {build:.2f} s | <= {BUDGET_SECONDS:g} s | "
              f"{size / 1e6:.2f} MB | <= {BUDGET_BYTES / 1e6:g} MB | {peer * 1000:.1f} ms | "
              f"{build / peer:.0f}x |")


if __name__ == "__main__":
    main()
