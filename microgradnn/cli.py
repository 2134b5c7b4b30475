"""The ``microgradnn`` command: ``demo | graph | backprop | train | eval | predict | descent |
landscape | explain | export | serve |
architecture``.

Each sub-command lives in its own module under ``microgradnn.commands`` and
registers itself through ``register(subparsers)``. The CLI is the application
layer: the picture commands import ``viz`` inside their handlers, while the
library modules of ``microgradnn`` never import it.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from typing import List, Optional

__all__ = ["main", "build_parser"]

# One module per group of sub-commands, in the order shown by --help.
COMMAND_MODULES = ("demo", "graph", "backprop", "mnist", "descent", "explain", "export", "architecture",
                   "serve")


class CommandError(Exception):
    """A user-facing error: printed as one line, exit status 2."""


class _OneLineParser(argparse.ArgumentParser):
    """Usage errors as one line naming the argument and the value, as every other error."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    from . import __version__

    parser = _OneLineParser(
        prog="microgradnn",
        description="Backpropagation you can see: train, draw and step through neural networks.")
    parser.add_argument("--version", action="version", version=f"microgradnn {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(f"microgradnn.commands.{name}").register(subparsers)
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    parser = build_parser()
    args, extras = parser.parse_known_args(argv)
    claim_extras = getattr(args, "claim_extras", None)  # e.g. an expression "-x*w"
    if claim_extras is not None:
        extras = claim_extras(args, extras)
    if extras:
        parser.error(f"unrecognized arguments: {' '.join(extras)}")
    if not getattr(args, "handler", None):
        parser.print_help()
        return 2
    try:
        return int(args.handler(args) or 0)
    except (CommandError, ValueError, TypeError, KeyError, FileNotFoundError, OSError) as error:
        message = error.args[0] if isinstance(error, KeyError) and error.args else error
        print(f"microgradnn {args.command}: error: {message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as error:  # Ctrl-C: one line (fit's names the epoch and step)
        said = f": {error.args[0]}" if error.args else ""
        print(f"microgradnn {args.command}: interrupted{said}", file=sys.stderr)
        return 130
    except (MemoryError, RecursionError) as error:  # a size check is missing somewhere: still one line
        what = "out of memory" if isinstance(error, MemoryError) else "input nested too deeply"
        print(f"microgradnn {args.command}: error: {what} ({type(error).__name__})",
              file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
