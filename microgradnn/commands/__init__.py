"""Sub-commands of the ``microgradnn`` CLI, one module per group (see ``microgradnn.cli``)."""

import argparse
import functools
import os
import re
import sys
from typing import Any, List

__all__ = ["add_expression_arguments", "ALLOWED_EXPRESSIONS", "check_picture_output",
           "write_picture", "load_digit_checkpoint", "seed_value"]

TEXT_SUFFIXES = (".dot", ".gv")
PICTURE_SUFFIXES = (".svg", ".png", ".pdf", ".jpg", ".jpeg")

_LONG_OPTION = re.compile(r"--[A-Za-z][\w-]*(=.*)?$")
ALLOWED_EXPRESSIONS = ("Allowed: names given with --set, numbers, + - * / **, unary -, "
                       "and exp, log, tanh, sigmoid, relu as tanh(x) or x.tanh().")


def add_expression_arguments(parser: argparse.ArgumentParser) -> None:
    """The expression and its ``--set NAME=VALUE`` values, shared by ``graph`` and ``backprop``.

    An expression may start with ``-`` (``"-x*w"``): argparse takes such a word for an
    unknown option and leaves it over, so ``claim_extras`` (called by ``cli.main``) takes
    it back as the expression.
    """
    parser.usage = "%(prog)s EXPRESSION [--set NAME=VALUE ...] [options]"
    parser.add_argument("expression", nargs="?", metavar="EXPRESSION",
                        help='e.g. "tanh(x*w + b)", "(x*w + b).tanh()" or "-x*w"')
    parser.add_argument("--set", dest="assignments", metavar="NAME=VALUE", nargs="+",
                        action="extend", default=[], help="give a name its value, e.g. x=2 w=-3")
    parser.set_defaults(claim_extras=functools.partial(_claim_expression, parser))


def _claim_expression(parser: argparse.ArgumentParser, args: argparse.Namespace,
                      extras: List[str]) -> List[str]:
    """Take a left-over word starting with ``-`` as the expression; return what is still left.

    A word like ``--backwrd`` stays an unknown option (a typo is not an expression).
    """
    if args.expression is None and len(extras) == 1 and not _LONG_OPTION.match(extras[0]):
        args.expression = extras.pop()
    if args.expression is None and not extras and getattr(args, "random", None) is None:
        parser.error("the following arguments are required: EXPRESSION")
    return extras


def seed_value(text: str) -> int:
    """``--seed``'s type: an integer in 0..2**64-1 (what ``numpy.random.default_rng`` takes),
    refused by argparse as "argument --seed: ..." otherwise."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text[:60]!r}") from None
    if not 0 <= value < 2**64:
        raise argparse.ArgumentTypeError(f"expected an integer in 0..2**64-1, got {text[:60]!r}")
    return value


def check_picture_output(output: str, flag: str = "-o") -> None:
    """Refuse an ``-o`` whose suffix names no picture format, or that cannot be written
    (a folder, a FIFO, a device, a missing folder), before any work is done."""
    from microgradnn.cli import CommandError
    from microgradnn.fileio import check_writable_file

    suffix = os.path.splitext(output)[1].lower()
    if output != "-" and suffix not in TEXT_SUFFIXES + PICTURE_SUFFIXES:
        raise CommandError(f"cannot tell the picture format of {output!r}: use one of "
                           f"{', '.join(PICTURE_SUFFIXES + TEXT_SUFFIXES)}, or '-' for DOT")
    if output != "-":
        check_writable_file(output, flag)


def write_picture(picture: Any, output: str) -> None:
    """Print the DOT text (``-``), write it (.dot/.gv), or render the picture (by suffix)."""
    from microgradnn.cli import CommandError
    from viz.graph.dot import GraphvizNotFoundError, render, write_atomic

    if output == "-":
        sys.stdout.write(picture.source)
        return
    if os.path.splitext(output)[1].lower() in TEXT_SUFFIXES:
        write_atomic(output, picture.source.encode("utf-8"))
    else:
        try:
            render(picture, output)
        except GraphvizNotFoundError as error:
            raise CommandError(str(error)) from None
    print(f"wrote {output}")


def load_digit_checkpoint(path: str) -> Any:
    """``load_checkpoint(path)``, refused in one line unless its model reads MNIST digits:
    28x28 images in, 10 classes out (a hand-made spec may say otherwise)."""
    from microgradnn.checkpoint import load_checkpoint
    from microgradnn.models import SIDE, normalize_spec

    saved = load_checkpoint(path)
    spec = normalize_spec(saved.spec)
    if spec.get("inputs", SIDE * SIDE) != SIDE * SIDE or spec["classes"] != 10:
        raise ValueError(f"{path}: its model takes {spec.get('inputs', SIDE * SIDE)} inputs "
                         f"and tells {spec['classes']} classes apart; an MNIST digit is "
                         f"{SIDE * SIDE} pixels and one of 10 classes")
    return saved
