"""Sub-commands of the ``microgradnn`` CLI, one module per group (see ``microgradnn.cli``)."""

import argparse
import os
import sys
from typing import Any

__all__ = ["add_expression_arguments", "ALLOWED_EXPRESSIONS", "check_picture_output",
           "write_picture"]

TEXT_SUFFIXES = (".dot", ".gv")
PICTURE_SUFFIXES = (".svg", ".png", ".pdf", ".jpg", ".jpeg")

ALLOWED_EXPRESSIONS = ("Allowed: names given with --set, numbers, + - * / **, unary -, "
                       "and exp, log, tanh, sigmoid, relu.")


def add_expression_arguments(parser: argparse.ArgumentParser) -> None:
    """The expression and its ``--set NAME=VALUE`` values, shared by ``graph`` and ``backprop``."""
    parser.add_argument("expression", help='e.g. "tanh(x*w + b)"')
    parser.add_argument("--set", dest="assignments", metavar="NAME=VALUE", nargs="+",
                        action="extend", default=[], help="give a name its value, e.g. x=2 w=-3")


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
    from viz.dot import GraphvizNotFoundError, render, write_atomic

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
