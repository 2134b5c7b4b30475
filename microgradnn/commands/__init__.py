"""Sub-commands of the ``microgradnn`` CLI, one module per group (see ``microgradnn.cli``)."""

import argparse

__all__ = ["add_expression_arguments", "ALLOWED_EXPRESSIONS"]

ALLOWED_EXPRESSIONS = ("Allowed: names given with --set, numbers, + - * / **, unary -, "
                       "and exp, log, tanh, sigmoid, relu as tanh(x) or x.tanh().")


def add_expression_arguments(parser: argparse.ArgumentParser) -> None:
    """The expression and its ``--set NAME=VALUE`` values, shared by ``graph`` and ``backprop``."""
    parser.add_argument("expression", help='e.g. "tanh(x*w + b)"')
    parser.add_argument("--set", dest="assignments", metavar="NAME=VALUE", nargs="+",
                        action="extend", default=[], help="give a name its value, e.g. x=2 w=-3")
