"""``microgradnn architecture NAME_OR_CHECKPOINT -o file.svg``: draw a model's shape.

``NAME`` is a model kind (``mlp``, ``cnn``, ``lenet5``, ``alexnet``, ``vgg``, ``googlenet``
or ``resnet``) built with its default spec; a path ending in ``.npz`` is a checkpoint
written by ``microgradnn train``, drawn with the architecture it stores. The picture format follows
the suffix of ``-o`` (svg, png, pdf; ``.dot``/``.gv`` write DOT text; ``-`` prints DOT).
"""

from __future__ import annotations

import argparse

from . import check_picture_output, write_picture

__all__ = ["register", "run"]


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``architecture`` sub-command to the CLI's sub-parsers."""
    parser = subparsers.add_parser(
        "architecture", help="draw a model (a CNN family, an MLP, or a checkpoint's) layer by layer",
        description="Draw a model's architecture: one node per layer or block with its output "
                    "shape and parameter count.")
    parser.add_argument("model", metavar="NAME_OR_CHECKPOINT",
                        help="mlp, cnn, lenet5, alexnet, vgg, googlenet, resnet, or a .npz "
                             "checkpoint")
    parser.add_argument("-o", "--output", default="-",
                        help="output file (.svg, .png, .pdf, or .dot); '-' prints DOT (default)")
    parser.add_argument("--no-fold", action="store_true",
                        help="draw every residual block, even identical consecutive ones")
    parser.add_argument("--rankdir", choices=("TB", "LR"), default="TB",
                        help="layout direction (default TB: top to bottom)")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from microgradnn.cli import CommandError
    from microgradnn.models import MODEL_KINDS, build_model, input_shape_of

    check_picture_output(args.output)
    drawable = MODEL_KINDS
    if args.model.lower().endswith(".npz"):
        from microgradnn.checkpoint import load

        model = load(args.model)
    elif args.model in drawable:
        model = build_model({"model": args.model})
    else:
        raise CommandError(f"unknown model {args.model!r}: give one of {', '.join(drawable)}, "
                           f"or a .npz checkpoint")

    import viz  # the CLI is the application layer: it may draw, the library never does

    picture = viz.draw_architecture(model, (1, *input_shape_of(model)), fold=not args.no_fold,
                                    rankdir=args.rankdir)
    write_picture(picture, args.output)
    return 0
