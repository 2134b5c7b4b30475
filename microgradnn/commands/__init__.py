"""Sub-commands of the ``microgradnn`` CLI, one module per group (see ``microgradnn.cli``)."""

import argparse
import functools
import re
from typing import List

__all__ = ["add_expression_arguments", "ALLOWED_EXPRESSIONS"]

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
    if args.expression is None and not extras:
        parser.error("the following arguments are required: EXPRESSION")
    return extras
