"""Sub-commands of the ``microgradnn`` CLI, one module per group (see ``microgradnn.cli``)."""

import argparse
import functools
import os
import re
import sys
from typing import Any, List

__all__ = ["add_expression_arguments", "ALLOWED_EXPRESSIONS", "check_picture_output",
           "write_picture"]

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


def check_picture_output(output: str) -> None:
    """Refuse an ``-o`` whose suffix names no picture format (before any work is done)."""
    from microgradnn.cli import CommandError

    suffix = os.path.splitext(output)[1].lower()
    if output != "-" and suffix not in TEXT_SUFFIXES + PICTURE_SUFFIXES:
        raise CommandError(f"cannot tell the picture format of {output!r}: use one of "
                           f"{', '.join(PICTURE_SUFFIXES + TEXT_SUFFIXES)}, or '-' for DOT")


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
