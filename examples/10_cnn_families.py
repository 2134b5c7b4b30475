"""Example 10: the five CNN families of the notes on MNIST, side by side, and their diagrams.

    LeNet-5 (1998)    conv 5x5 - subsample - conv 5x5 - subsample - fc 120 - fc 84 - 10
    AlexNet (2012)    large first kernel, ReLU, local response norm, overlapping pools, dropout
    VGG (2014)        two 3x3 convs per block, channels doubling per block
    GoogLeNet (2014)  inception modules (parallel 1x1 | 3x3 | 5x5 | pool branches), global pooling
    ResNet (2015)     residual blocks y = relu(F(x) + x) with batch norm, global pooling

Each family is trained with its recipe (``microgradnn.families.RECIPES``, batches split over
two processes where the recipe says so), then the quickest recipe found to reach 99.2%
(``FASTEST_RECIPE``), and the table shows parameters, training time and test accuracy;
``--quick`` trains each for a few hundred steps on part of the data in one process instead.
The diagrams (``viz.draw_architecture``) show what makes each family different.

    python examples/10_cnn_families.py [--quick] [--steps N] [--only resnet,vgg] [--out DIR]
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # small GEMMs: one BLAS thread is fastest

from _helpers import example_args, mnist_or_exit, say_saved  # noqa: E402

from microgradnn.families import FAMILIES, FASTEST_RECIPE, RECIPES  # noqa: E402
from microgradnn.models import build_model, describe  # noqa: E402
from microgradnn.optim import Adam  # noqa: E402
from microgradnn.training import evaluate, fit  # noqa: E402


def draw(model, out, kind: str) -> None:
    from viz import GraphvizNotFoundError, draw_architecture
    from viz.graph.dot import render, write_atomic

    picture = draw_architecture(model)
    try:
        for suffix in ("svg", "png"):
            render(picture, str(out / f"{kind}.{suffix}"))
        say_saved(out / f"{kind}.png", f"the {kind} diagram (and .svg)")
    except GraphvizNotFoundError as error:
        write_atomic(str(out / f"{kind}.dot"), picture.source.encode("utf-8"))
        print(f"  ({error}; wrote {kind}.dot instead)")


def main() -> None:
    own = argparse.ArgumentParser(add_help=False)
    own.add_argument("--steps", type=int, default=300, help="quick mode: steps per family")
    own.add_argument("--only", default="", help="comma-separated families to run")
    mine, rest = own.parse_known_args()
    args = example_args("10_cnn_families", __doc__.splitlines()[0], rest, mnist=True)
    if mine.steps < 1:
        raise SystemExit(f"--steps must be a positive integer, got {mine.steps}")
    args.steps = mine.steps
    kinds = [k for k in mine.only.split(",") if k] or list(FAMILIES)
    unknown = [k for k in kinds if k not in FAMILIES]
    if unknown:
        raise SystemExit(f"--only: unknown families {unknown}; choose from {', '.join(FAMILIES)}")
    (train_x, train_y), (test_x, test_y) = mnist_or_exit(args.download)
    if args.quick:
        test_x, test_y = test_x[:2000], test_y[:2000]
    rows = []
    runs = [(kind, RECIPES[kind]) for kind in kinds]
    if not mine.only and not any(FASTEST_RECIPE is recipe for recipe in RECIPES.values()):
        runs.append(("fastest", FASTEST_RECIPE))
    for kind, recipe in runs:
        model = build_model({"model": recipe["model"], **recipe["spec"]})
        batch = recipe["batch_size"]
        if args.quick:  # a few hundred steps: enough to see each one learn
            epochs, images, labels = 1, train_x[:args.steps * batch], train_y[:args.steps * batch]
        else:
            epochs, images, labels = recipe["epochs"], train_x, train_y
        steps = epochs * -(-len(labels) // batch)
        print(f"\n{describe(model.spec)}: {model.num_parameters():,} parameters; adam lr "
              f"{recipe['lr']:g}, batch {batch}, {epochs} epoch(s) on {len(labels)} images "
              f"({steps} steps)")
        optimizer = Adam(model.parameters(), lr=recipe["lr"])
        started = time.perf_counter()
        fit(model, optimizer, (images, labels), epochs, batch, seed=0,
            lr_decay=recipe["lr_decay"], augment=recipe["augment"], progress=True,
            workers=1 if args.quick else recipe["workers"])
        seconds = time.perf_counter() - started
        accuracy, _ = evaluate(model, test_x, test_y)
        print(f"{kind}: test accuracy {accuracy:.2%} on {len(test_y)} images, {seconds:.0f} s")
        rows.append((kind, model.num_parameters(), steps, seconds, accuracy))
        if kind != "fastest":
            draw(model, args.out, kind)

    print(f"\n{'family':<10} {'parameters':>10} {'steps':>6} {'seconds':>8} {'test accuracy':>14}")
    for kind, params, steps, seconds, accuracy in rows:
        print(f"{kind:<10} {params:>10,} {steps:>6} {seconds:>8.0f} {accuracy:>14.2%}")
    if args.quick:
        print("(quick mode: a few hundred steps each, far from the full recipes' accuracy)")


if __name__ == "__main__":
    main()
