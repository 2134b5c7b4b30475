"""``microgradnn backprop``: step through backpropagation of an expression, no Python needed.

Example::

    microgradnn backprop "tanh(x*w + b)" --set x=2 w=-3 b=6.8814 --html neuron.html

prints every chain-rule step in the terminal, and can write the interactive HTML
stepper (``--html``), an animated GIF (``--gif``) and numbered SVG frames
(``--frames DIR``). The expression is parsed safely, never evaluated.
"""

from __future__ import annotations

import argparse
import os

from . import ALLOWED_EXPRESSIONS, add_expression_arguments

__all__ = ["register", "run"]


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``backprop`` sub-command to the CLI's sub-parsers."""
    parser = subparsers.add_parser(
        "backprop", help="step through backpropagation of an expression",
        description="Walk through backpropagation of a scalar expression one node at a time: "
                    "each step shows the chain-rule term with its numbers. " + ALLOWED_EXPRESSIONS)
    add_expression_arguments(parser)
    parser.add_argument("--forward", action="store_true",
                        help="show the forward pass (values in topological order) first")
    parser.add_argument("--html", metavar="FILE", help="write the interactive stepper (.html)")
    parser.add_argument("--gif", metavar="FILE", help="write an animated GIF of the steps (.gif)")
    parser.add_argument("--frames", metavar="DIR",
                        help="write numbered SVG frames frame_000.svg ... into DIR")
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


def _check_suffix(path: str, suffixes: tuple, option: str) -> None:
    """Refuse a wrong suffix, or a target that cannot be written, before any work."""
    from microgradnn.cli import CommandError
    from microgradnn.fileio import check_writable_file

    if os.path.splitext(path)[1].lower() not in suffixes:
        raise CommandError(f"{option} expects a file ending in {' or '.join(suffixes)}, "
                           f"got {path!r}")
    check_writable_file(path, option)


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
    """Parse the expression, print the walk-through, and write the requested pictures."""
    from microgradnn.cli import CommandError
    from microgradnn.expression import parse_assignments, parse_expression

    if args.html:
        _check_suffix(args.html, (".html", ".htm"), "--html")
    if args.gif:
        _check_suffix(args.gif, (".gif",), "--gif")
    if args.frames and os.path.exists(args.frames) and not os.path.isdir(args.frames):
        raise CommandError(f"--frames {args.frames} exists and is not a folder")
    if args.practice and not (getattr(args, "output", None) or getattr(args, "html", None)):
        raise CommandError("--practice makes the HTML page a quiz: give the page's file name "
                           "(quiz.html)")
    if args.random is not None:
        args.expression, args.assignments = _random_exercise(args)
    elif args.difficulty:
        raise CommandError("--difficulty sets how hard a --random expression is: give "
                           "--random SEED too")
    variables = parse_assignments(args.assignments)
    root = parse_expression(args.expression, variables)

    import viz  # the CLI is the application layer: it may draw, the library never does
    from viz.steps.animation import save_animation
    from viz.graph.dot import GraphvizNotFoundError, format_value

    steps = viz.backprop_steps(root, forward=args.forward)
    if not args.quiet:
        print(f"expression: {args.expression}")
        print(viz.format_walkthrough(steps))
        root_name = next(step.node_name for step in steps if step.kind == "seed")
        final = {}
        for step in steps:
            for term in step.terms:
                final[term.operand_name] = term.grad_after
        named = [f"d{root_name}/d{name} = {format_value(final[name])}"
                 for name in variables if name in final]
        if named:
            print("gradients: " + ", ".join(named))
    options = dict(forward=args.forward, rankdir=args.rankdir, hide_constants=args.hide_constants)
    try:
        if args.html:
            what = "Backpropagation quiz" if args.practice else "Backpropagation"
            viz.save_stepper(root, args.html, title=f"{what} through {args.expression}",
                             practice=args.practice, **options)
            print(f"wrote {args.html}")
        if args.gif or args.frames:
            written = save_animation(root, args.gif, frames_dir=args.frames, **options)
            if args.gif:
                print(f"wrote {args.gif}")
            if args.frames:
                print(f"wrote {len(written) - (1 if args.gif else 0)} frames into {args.frames}")
    except GraphvizNotFoundError as error:
        raise CommandError(str(error)) from None
    return 0
