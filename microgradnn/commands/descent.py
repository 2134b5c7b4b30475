"""``microgradnn descent`` and ``microgradnn landscape``: gradient descent you can see.

Examples::

    microgradnn descent --function two-valleys --optimizers sgd,momentum,adam --lr 0.05 -o d.gif
    microgradnn descent --expression "x**2 + 3*y**2" --start=-1.5,1 -o bowl.png
    microgradnn landscape mlp.npz -o landscape.png

``descent`` rolls one ball per optimizer down a named cost surface (or an expression in
x and y, parsed safely by ``microgradnn.expression``, never evaluated) and writes a
picture (.png, .svg) or an animation (.gif). ``landscape`` draws a trained MNIST model's
cost on a plane through its weights: along the training path's two main directions when
``train --snapshots N`` saved ``FILE.snapshots.npz`` beside the checkpoint, else along two
random filter-normalised directions. ``viz`` is imported inside the handlers.
"""

from __future__ import annotations

import argparse
import math
import warnings
from pathlib import Path
from typing import Any, List, Optional

from . import seed_value
from ..engine import Value, format_number
from ..fileio import check_writable_file

__all__ = ["register", "run_descent", "run_landscape", "expression_function"]

_FIGURE_SUFFIXES = (".png", ".svg")
MAX_SPAN = 1000.0  # landscape --span: 1 is the weights' own scale (Li et al. draw 1)


def _numbers(text: str) -> List[float]:
    try:
        values = [float(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers like 0.05 or "
                                         f"0.1,0.01, got {text!r}") from None
    if not values or not all(math.isfinite(v) for v in values):
        raise argparse.ArgumentTypeError(f"expected finite numbers, got {text!r}")
    return values


def register(subparsers: argparse._SubParsersAction) -> None:
    descent = subparsers.add_parser(
        "descent", help="roll gradient descent down a cost surface: picture or GIF",
        description="Run gradient descent with several optimizers on a cost surface C(x, y) "
                    "and draw the paths (.png/.svg) or animate them (.gif), one frame a step.")
    source = descent.add_mutually_exclusive_group()
    source.add_argument("--function", default=None,
                        help="a named surface: bowl, ravine, rosenbrock, two-valleys, saddle "
                             "(default: two-valleys)")
    source.add_argument("--expression", default=None, metavar="TEXT",
                        help='your own C(x, y), e.g. "x**2 + 3*y**2" (+ - * / **, exp, log, '
                             'tanh, sigmoid, relu)')
    descent.add_argument("--optimizers", default="sgd,momentum,adam",
                         help="comma-separated: sgd, momentum, nesterov, adam "
                              "(default: %(default)s)")
    descent.add_argument("--lr", type=_numbers, default=None,
                         help="learning rate, one for all or one per optimizer (e.g. "
                              "0.1,0.01,0.05); default: the function's suggestion per optimizer")
    descent.add_argument("--steps", type=int, default=None,
                         help="steps per path (default: the function's, 60 for most)")
    descent.add_argument("--start", type=_numbers, default=None, metavar="X,Y",
                         help="starting point, e.g. --start=-1.5,1.8 (default: the function's)")
    descent.add_argument("--momentum", type=float, default=None,
                         help="momentum of the momentum and nesterov optimizers (default: 0.9)")
    descent.add_argument("--show", choices=("contour", "surface", "both"), default="contour",
                         help="for pictures: contours, the 3-D surface or both "
                              "(default: %(default)s)")
    descent.add_argument("--fps", type=int, default=12, help="GIF frames per second (default: 12)")
    descent.add_argument("-o", "--output", required=True,
                         help="output file: .gif (animation), .png or .svg (picture)")
    descent.set_defaults(handler=run_descent)

    landscape = subparsers.add_parser(
        "landscape", help="a trained MNIST model's cost on a plane through its weights",
        description="Draw the cost of a checkpoint on a 2-D plane through its weights: along "
                    "the training path's two main directions (PCA) if FILE.snapshots.npz from "
                    "'train --snapshots N' is found, else along two random filter-normalised "
                    "directions (Li et al. 2018).")
    landscape.add_argument("checkpoint", help="a .npz written by 'microgradnn train'")
    landscape.add_argument("-o", "--output", required=True, help="output picture, .png or .svg")
    landscape.add_argument("--images", type=int, default=2000,
                           help="how many test images the cost is averaged over (default: 2000)")
    landscape.add_argument("--steps", type=int, default=41,
                           help="grid points per side, odd (default: 41)")
    landscape.add_argument("--span", type=float, default=None,
                           help="the grid covers -span..span along each direction (default: 1 "
                                "for random directions, the whole path for a training path)")
    landscape.add_argument("--snapshots", metavar="FILE", default=None,
                           help="weight snapshots (default: CHECKPOINT's .snapshots.npz if it "
                                "exists)")
    landscape.add_argument("--random", action="store_true",
                           help="use random directions even when snapshots exist")
    landscape.add_argument("--seed", type=seed_value, default=0,
                           help="seed of the random directions (default: 0)")
    landscape.add_argument("--show", choices=("contour", "surface", "both"), default="both",
                           help="contours, the 3-D surface or both (default: %(default)s)")
    landscape.add_argument("--data", metavar="DIR", help="folder with the MNIST files")
    landscape.set_defaults(handler=run_landscape)


def expression_function(text: str) -> Any:
    """``C(x, y)`` from a safely parsed expression in x and y, as a function of ``Value``s.

    Each call parses ``text`` with the current numbers, runs ``backward()`` on that small
    graph and returns one node whose operands are the given x and y and whose local
    derivatives are the gradient just computed: the same numbers as writing the
    expression with ``Value`` operations, so the optimizers see the true gradient.
    """
    import ast

    from ..expression import FUNCTIONS, MAX_EXPRESSION_LENGTH, parse_expression

    if isinstance(text, str) and len(text) <= MAX_EXPRESSION_LENGTH:
        try:  # parsed only to list its names; parse_expression below reports syntax errors
            nodes = list(ast.walk(ast.parse(text.strip(), mode="eval")))
            called = {id(n.func) for n in nodes if isinstance(n, ast.Call)}
            names = {n.id for n in nodes if isinstance(n, ast.Name) and id(n) not in called}
        except (SyntaxError, RecursionError, MemoryError):
            names = set()
        unknown = sorted(names - {"x", "y"} - set(FUNCTIONS))
        if unknown:
            raise ValueError(f"the expression may use the names x and y only, not "
                             f"{', '.join(unknown)}")

    def f(x: Value, y: Value) -> Value:
        out = parse_expression(text, {"x": x.data, "y": y.data})
        out.backward()
        grads = {"x": 0.0, "y": 0.0}
        for node in _leaves(out):
            if node.label in grads:
                grads[node.label] = node.grad
        return Value(out.data, "", "C", (x, y), (grads["x"], grads["y"]))

    parse_expression(text, {"x": 0.5, "y": 0.5})  # refuse bad text at once, with its message
    return f


def _leaves(root: Value) -> List[Value]:
    from ..autodiff import topological_order

    return [node for node in topological_order(root) if not node.operands]


def _point(start: Any) -> str:
    return "default" if start is None else ",".join(f"{v:g}" for v in start)


def _check_start_in_view(start: List[float], cf: Any) -> None:
    """A built-in function is drawn in its own view: a start outside it draws nothing."""
    (x0, x1), (y0, y1) = cf.xlim, cf.ylim
    if not (x0 <= start[0] <= x1 and y0 <= start[1] <= y1):
        raise ValueError(f"--start {_point(start)} lies outside the picture of {cf.name!r} "
                         f"(x in {x0:g}..{x1:g}, y in {y0:g}..{y1:g}); start inside it")


def run_descent(args: argparse.Namespace) -> int:
    import numpy as np

    import viz
    from viz.plots.descent import OPTIMIZERS, evaluate, get_function

    output = Path(args.output)
    suffix = output.suffix.lower()
    if suffix not in (".gif",) + _FIGURE_SUFFIXES:
        raise ValueError(f"cannot tell what to write from {str(output)!r}: use .gif for an "
                         f"animation, or {', '.join(_FIGURE_SUFFIXES)} for a picture")
    check_writable_file(output, "-o")
    names = [name.strip() for name in args.optimizers.split(",") if name.strip()]
    if not names:
        raise ValueError("--optimizers is empty; give some of " + ", ".join(OPTIMIZERS))
    for name in names:
        if name not in OPTIMIZERS:
            raise ValueError(f"unknown optimizer {name!r}; choose from {', '.join(OPTIMIZERS)}")
    if len(set(names)) != len(names):
        raise ValueError(f"--optimizers names one twice: {args.optimizers!r}")
    if args.expression is not None:
        f: Any = expression_function(args.expression)
        cf = None
        if args.start is None:
            raise ValueError("--expression needs --start X,Y (e.g. --start=-1.5,1)")
        title = f"C(x, y) = {args.expression}"
    else:
        cf = get_function(args.function or "two-valleys")
        f, title = cf, None
    lrs = args.lr if args.lr is not None else [None] * len(names)
    if len(lrs) == 1:
        lrs = lrs * len(names)
    if len(lrs) != len(names):
        raise ValueError(f"--lr gives {len(lrs)} rates for {len(names)} optimizers; give one, "
                         f"or one per optimizer")
    if args.start is not None and len(args.start) != 2:
        raise ValueError(f"--start needs two numbers X,Y, got {len(args.start)}")
    if args.start is not None and cf is not None:
        _check_start_in_view(args.start, cf)
    paths = {}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", RuntimeWarning)
        for name, lr in zip(names, lrs):
            options = {}
            if args.momentum is not None and name in ("momentum", "nesterov"):
                options["momentum"] = args.momentum
            if lr is None:
                lr = cf.suggested_lr(name) if cf is not None else 0.05
            try:
                path = viz.descent_path(f, start=args.start, optimizer=name, lr=lr,
                                        steps=args.steps, **options)
            except ArithmeticError as error:  # the cost at the start itself overflows
                raise ValueError(f"{name} from --start {_point(args.start)}: {error}") from None
            label = f"{name} (lr {lr:g})"
            paths[label] = path
            ok = np.all(np.isfinite(path), axis=1)
            end = path[ok][-1]
            costs = evaluate(f, path[[0, int(np.flatnonzero(ok)[-1])], 0],
                                         path[[0, int(np.flatnonzero(ok)[-1])], 1])
            print(f"{label}: {len(path) - 1} steps from ({format_number(path[0, 0])}, "
                  f"{format_number(path[0, 1])}) to ({format_number(end[0])}, "
                  f"{format_number(end[1])}), cost {format_number(costs[0])} -> "
                  f"{format_number(costs[1])}")
    for warning in caught:
        print(f"note: {warning.message}")
    if suffix == ".gif":
        viz.save_descent_animation(f, paths, output, fps=args.fps, title=title)
        print(f"wrote {output} ({max(len(p) for p in paths.values())} frames, one a step)")
    else:
        from viz.plots.common import save_figure

        save_figure(viz.plot_descent(f, paths, show=args.show, title=title), output)
        print(f"wrote {output}")
    return 0


def run_landscape(args: argparse.Namespace) -> int:
    from . import load_digit_checkpoint
    from ..datasets.mnist import load_mnist
    from ..models import describe
    from ..snapshots import load_snapshots, snapshot_path

    output = Path(args.output)
    if output.suffix.lower() not in _FIGURE_SUFFIXES:
        raise ValueError(f"-o {output}: use one of {', '.join(_FIGURE_SUFFIXES)}")
    check_writable_file(output, "-o")
    if args.images < 1:
        raise ValueError(f"--images must be a positive integer, got {args.images}")
    if args.span is not None and not (math.isfinite(args.span) and 0 < args.span <= MAX_SPAN):
        raise ValueError(f"--span must be a positive number up to {MAX_SPAN:g} (the grid "
                         f"reaches span times each direction, whose length is the weights' "
                         f"own; past that the weights overflow), got {args.span:g}")
    saved = load_digit_checkpoint(args.checkpoint)
    snapshots_file: Optional[Path] = None
    if not args.random:
        if args.snapshots is not None:
            snapshots_file = Path(args.snapshots)
        elif snapshot_path(args.checkpoint).is_file():
            snapshots_file = snapshot_path(args.checkpoint)
    images, labels = load_mnist("test", root=args.data, progress=False)
    images, labels = images[:args.images], labels[:args.images]

    import viz

    if snapshots_file is not None:
        path = viz.training_path(load_snapshots(snapshots_file), saved.model)
        span = args.span if args.span is not None else path.span
        land = viz.loss_landscape(saved.model, images, labels, span=span, steps=args.steps,
                                  directions=path, progress=True)
        how = (f"the plane of the training path's two main directions ({snapshots_file}: "
               f"{len(path.coords)} snapshots; they hold {path.explained[0]:.1%} and "
               f"{path.explained[1]:.1%} of its variance)")
    else:
        land = viz.loss_landscape(saved.model, images, labels,
                                  span=args.span if args.span is not None else 1.0,
                                  steps=args.steps, seed=args.seed, progress=True)
        how = f"two random filter-normalised directions (seed {args.seed})"
    from viz.plots.common import save_figure

    save_figure(viz.plot_landscape(land, show=args.show), output)
    print(f"{describe(saved.spec)}: cost {format_number(land.center_cost)} at the trained "
          f"weights on {land.images} test images")
    print(f"{args.steps}x{args.steps} grid on {how}: cost from "
          f"{format_number(float(land.costs.min()))} to {format_number(float(land.costs.max()))}")
    print(f"wrote {output}")
    return 0
