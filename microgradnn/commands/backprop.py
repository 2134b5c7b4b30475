"""``microgradnn backprop``: step through backpropagation, no Python needed.

Two things to step::

    microgradnn backprop "tanh(x*w + b)" --set x=2 w=-3 b=6.8814 -o neuron.html
    microgradnn backprop mlp.npz --index 7 -o seven.html        # or -o seven.gif
    microgradnn backprop mlp.npz --image digit.png --label 3 -o three.html

An expression prints every chain-rule step in the terminal and steps node by node; a
checkpoint (a ``.npz`` written by ``microgradnn train``, an MLP) steps one image through the
trained network one neuron at a time, under the model's own cost, over the engine's own
backward pass (``viz.step_digit``). ``-o`` may be given more than once: ``.html`` writes the
interactive stepper, ``.gif`` an animation (``--html FILE`` and ``--gif FILE`` still work);
``--frames DIR`` writes an expression's numbered SVG frames. The expression is parsed
safely, never evaluated.
"""

from __future__ import annotations

import argparse
import os
from typing import Any, List, Tuple

from . import ALLOWED_EXPRESSIONS, add_expression_arguments

__all__ = ["register", "run", "STEPPER_SUFFIXES", "ANIMATION_SUFFIXES"]

STEPPER_SUFFIXES = (".html", ".htm")
ANIMATION_SUFFIXES = (".gif",)


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``backprop`` sub-command to the CLI's sub-parsers."""
    parser = subparsers.add_parser(
        "backprop", help="step through backpropagation of an expression or of one digit "
                         "through a checkpoint",
        description="Walk through backpropagation one step at a time: of a scalar expression, "
                    "node by node (each step the chain-rule term with its numbers), or of one "
                    "MNIST image through a trained MLP checkpoint, neuron by neuron, under the "
                    "cost it was trained with. " + ALLOWED_EXPRESSIONS)
    add_expression_arguments(parser)
    for action in parser._actions:  # the one positional takes a checkpoint too
        if action.dest == "expression":
            action.metavar = "EXPRESSION|CHECKPOINT"
            action.help = ('an expression, e.g. "tanh(x*w + b)" or "-x*w", or a checkpoint '
                           'FILE.npz written by microgradnn train (an MLP)')
    parser.usage = ("%(prog)s (EXPRESSION [--set NAME=VALUE ...] | CHECKPOINT.npz (--index N | "
                    "--image PNG --label D)) [-o FILE.html|FILE.gif ...] [options]")
    parser.add_argument("-o", "--output", dest="output", action="append", default=[],
                        metavar="FILE", help="write the interactive stepper (.html) or an "
                                             "animated GIF (.gif); may be given twice")
    parser.add_argument("--html", metavar="FILE", help="the same as -o FILE.html")
    parser.add_argument("--gif", metavar="FILE", help="the same as -o FILE.gif")
    parser.add_argument("--frames", metavar="DIR",
                        help="expression only: write numbered SVG frames frame_000.svg ... "
                             "into DIR")
    digit = parser.add_argument_group("one image through a checkpoint")
    digit.add_argument("--index", type=int, metavar="N",
                       help="MNIST test image N (its true label is the default --label)")
    digit.add_argument("--image", metavar="PNG",
                       help="a PNG/JPEG of one digit, prepared as MNIST was (needs --label)")
    digit.add_argument("--label", type=int, metavar="D", help="the digit y the cost compares with")
    digit.add_argument("--data", metavar="DIR", help="folder with the MNIST files (default: "
                                                      "$MICROGRADNN_DATA, then the cache)")
    parser.add_argument("--forward", action="store_true",
                        help="expression only: show the forward pass (values in topological "
                             "order) first")
    parser.add_argument("--rankdir", choices=("LR", "TB"), default="LR",
                        help="layout direction of the pictures (default LR)")
    parser.add_argument("--hide-constants", action="store_true",
                        help="leave unnamed numbers such as the 1 in x + 1 out of the pictures")
    parser.add_argument("--quiet", action="store_true", help="do not print the steps")
    parser.add_argument("--practice", action="store_true",
                        help="make the HTML page a quiz: you type each local derivative and "
                             "gradient, the page checks them against the engine's")
    parser.add_argument("--random", type=int, metavar="SEED",
                        help="practise on a random expression drawn from SEED (instead of "
                             "EXPRESSION and --set)")
    parser.add_argument("--difficulty", choices=("easy", "medium", "hard"),
                        help="how deep the random expression is and which ops it uses, with "
                             "--random (default: medium)")
    parser.set_defaults(handler=run)


def _outputs(args: argparse.Namespace) -> Tuple[List[str], List[str]]:
    """The stepper pages and the animations asked for, each checked by its suffix."""
    from microgradnn.cli import CommandError
    from microgradnn.fileio import check_writable_file

    pages, gifs = [], []
    given = [("-o", path) for path in args.output]
    given += [("--html", args.html)] if args.html else []
    given += [("--gif", args.gif)] if args.gif else []
    for option, path in given:
        suffix = os.path.splitext(path)[1].lower()
        if suffix in STEPPER_SUFFIXES and option != "--gif":
            pages.append(path)
        elif suffix in ANIMATION_SUFFIXES and option != "--html":
            gifs.append(path)
        else:
            wanted = {"--html": STEPPER_SUFFIXES, "--gif": ANIMATION_SUFFIXES}.get(
                option, STEPPER_SUFFIXES + ANIMATION_SUFFIXES)
            raise CommandError(f"{option} expects a file ending in {' or '.join(wanted)} "
                               f"(the extension chooses the format), got {path!r}")
    for option, path in given:
        check_writable_file(path, option)
    return pages, gifs


def _is_checkpoint(args: argparse.Namespace) -> bool:
    return args.expression is not None and args.expression.lower().endswith(".npz")


def _random_exercise(args: argparse.Namespace) -> tuple:
    """(expression, NAME=VALUE words) drawn from ``--random SEED`` at ``--difficulty``."""
    from microgradnn.cli import CommandError
    from microgradnn.exercises import DIFFICULTIES, random_expression

    if args.expression is not None or args.assignments:
        raise CommandError("--random draws its own expression: leave out EXPRESSION and --set")
    difficulty = args.difficulty or "medium"
    depth, ops = DIFFICULTIES[difficulty]
    exercise = random_expression(args.random, depth, ops)
    print(f"exercise {args.random} ({difficulty}): {exercise.expression} with "
          f"{' '.join(exercise.assignments)}")
    return exercise.expression, exercise.assignments


def run(args: argparse.Namespace) -> int:
    """Step an expression or one image through a checkpoint; write what ``-o`` asks for."""
    from microgradnn.cli import CommandError

    pages, gifs = _outputs(args)
    if args.practice and not pages:
        raise CommandError("--practice makes the HTML page a quiz: give the page's file name "
                           "(quiz.html)")
    digit_flags = [flag for flag, value in (("--index", args.index), ("--image", args.image),
                                            ("--label", args.label), ("--data", args.data))
                   if value is not None]
    if _is_checkpoint(args):
        for flag, given in (("--set", args.assignments), ("--frames", args.frames),
                            ("--random", args.random), ("--difficulty", args.difficulty),
                            ("--forward", args.forward), ("--hide-constants",
                                                          args.hide_constants)):
            if given:
                raise CommandError(f"{flag} applies to an expression, not to a checkpoint "
                                   f"({args.expression})")
        return _run_checkpoint(args, pages, gifs)
    if digit_flags:
        raise CommandError(f"{digit_flags[0]} applies to a checkpoint (FILE.npz), not to the "
                           f"expression {args.expression!r}")
    return _run_expression(args, pages, gifs)


def _digit(args: argparse.Namespace) -> Tuple[Any, int, str]:
    """The image, its label and its name, from ``--index`` or ``--image`` with ``--label``."""
    from microgradnn.cli import CommandError

    if (args.index is None) == (args.image is None):
        raise CommandError("a checkpoint needs one image: --index N (an MNIST test image) or "
                           "--image PNG --label D")
    if args.index is not None:
        from microgradnn.datasets.mnist import load_mnist

        images, labels = load_mnist("test", root=args.data, progress=False)
        if not 0 <= args.index < len(labels):
            raise CommandError(f"--index {args.index}: the MNIST test set has images "
                               f"0..{len(labels) - 1}")
        label = int(labels[args.index]) if args.label is None else args.label
        return images[args.index], label, f"MNIST test image {args.index}"
    if args.label is None:
        raise CommandError(f"--image {args.image} needs --label D: the digit the cost compares "
                           f"the outputs with")
    from microgradnn.datasets.digit_image import load_digit_image

    return load_digit_image(args.image), args.label, os.path.basename(args.image)


def _run_checkpoint(args: argparse.Namespace, pages: List[str], gifs: List[str]) -> int:
    from microgradnn.checkpoint import load_checkpoint
    from microgradnn.cli import CommandError
    from microgradnn.engine import format_number

    saved = load_checkpoint(args.expression)
    image, label, name = _digit(args)

    from viz.steps.digit import digit_backward, digit_stepper, digit_title, output_text
    from viz.graph.dot import GraphvizNotFoundError
    from viz.steps.level_animation import save_level_animation

    run = digit_backward(saved, image, label)
    title = digit_title(run, name)
    if not args.quiet:
        print(f"{name} (label {label}) through {run.name}")
        print(f"outputs {output_text(run)}")
        print(f"C = {format_number(run.loss.data)}  ({run.cost.describe()})")
    try:
        if pages:
            page = digit_stepper(run, title, practice=args.practice)
            for path in pages:
                page.save(path)
                print(f"wrote {path}")
        for path in gifs:
            save_level_animation(run.loss, path, run.mlp, title=title, rankdir=args.rankdir,
                                 output_names=[str(d) for d in range(len(run.outputs))],
                                 progress=not args.quiet)
            print(f"wrote {path}")
    except GraphvizNotFoundError as error:
        raise CommandError(str(error)) from None
    return 0


def _run_expression(args: argparse.Namespace, pages: List[str], gifs: List[str]) -> int:
    """Parse the expression, print the walk-through, and write the requested pictures."""
    from microgradnn.cli import CommandError
    from microgradnn.expression import parse_assignments, parse_expression

    if args.frames and os.path.exists(args.frames) and not os.path.isdir(args.frames):
        raise CommandError(f"--frames {args.frames} exists and is not a folder")
    if args.random is not None:
        args.expression, args.assignments = _random_exercise(args)
    elif args.difficulty:
        raise CommandError("--difficulty sets how hard a --random expression is: give "
                           "--random SEED too")
    variables = parse_assignments(args.assignments)
    root = parse_expression(args.expression, variables)

    import viz  # the CLI is the application layer: it may draw, the library never does
    from viz.graph.dot import GraphvizNotFoundError, format_value
    from viz.steps.animation import save_animation

    steps = viz.backprop_steps(root, forward=args.forward)
    if not args.quiet:
        print(f"expression: {args.expression}")
        print(viz.format_walkthrough(steps))
        root_name = next(step.node_name for step in steps if step.kind == "seed")
        final = {}
        for step in steps:
            for term in step.terms:
                final[term.operand_name] = term.grad_after
        named = [f"∂{root_name}/∂{name} = {format_value(final[name])}"
                 for name in variables if name in final]
        if named:
            print("gradients: " + ", ".join(named))
    options = dict(forward=args.forward, rankdir=args.rankdir, hide_constants=args.hide_constants)
    try:
        for path in pages:
            what = "Backpropagation quiz" if args.practice else "Backpropagation"
            viz.save_stepper(root, path, title=f"{what} through {args.expression}",
                             practice=args.practice, **options)
            print(f"wrote {path}")
        frames_dir = args.frames  # written once, beside the first GIF if there is one
        for path in gifs + ([None] if frames_dir and not gifs else []):
            written = save_animation(root, path, frames_dir=frames_dir, **options)
            if path:
                print(f"wrote {path}")
            if frames_dir:
                print(f"wrote {len(written) - (1 if path else 0)} frames into {frames_dir}")
                frames_dir = None
    except GraphvizNotFoundError as error:
        raise CommandError(str(error)) from None
    return 0
