"""``microgradnn graph``: draw the computation graph of an expression, no Python needed.

Example::

    microgradnn graph "tanh(x*w + b)" --set x=2 w=-3 b=6.8814 --backward -o neuron.svg

The expression is parsed safely (``microgradnn.expression``), never evaluated.
The picture format follows the suffix of ``-o`` (svg, png, pdf; ``.dot``/``.gv``
write DOT text); ``-o -`` (the default) prints the DOT text to stdout.
"""

from __future__ import annotations

import argparse

from . import (ALLOWED_EXPRESSIONS, add_expression_arguments, check_picture_output,
               write_picture)

__all__ = ["register"]


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``graph`` sub-command to the CLI's sub-parsers."""
    parser = subparsers.add_parser(
        "graph", help="draw the computation graph of an expression",
        description="Draw the computation graph of a scalar expression, with gradients "
                    "after --backward. " + ALLOWED_EXPRESSIONS)
    add_expression_arguments(parser)
    parser.add_argument("--backward", action="store_true",
                        help="run backward() first so the picture shows gradients")
    parser.add_argument("-o", "--output", default="-",
                        help="output file (.svg, .png, .pdf, or .dot); '-' prints DOT (default)")
    parser.add_argument("--rankdir", choices=("LR", "TB"), default="LR",
                        help="layout direction: left to right or top to bottom (default LR)")
    parser.add_argument("--hide-constants", action="store_true",
                        help="leave out unnamed numbers such as the 1 in x + 1")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Parse, optionally backpropagate, draw, and write or print the picture."""
    from microgradnn.expression import parse_assignments, parse_expression

    check_picture_output(args.output)
    variables = parse_assignments(args.assignments)
    root = parse_expression(args.expression, variables)
    if args.backward:
        root.backward()

    import viz  # the CLI is the application layer: it may draw, the library never does

    picture = viz.draw_graph(root, rankdir=args.rankdir, hide_constants=args.hide_constants,
                             title=args.expression)
    write_picture(picture, args.output)
    return 0
