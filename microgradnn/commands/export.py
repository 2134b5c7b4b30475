"""``microgradnn export CHECKPOINT --torch model.pt``: continue in PyTorch.

Writes the model's PyTorch ``state_dict`` (parameters and buffers, as torch tensors) with
``torch.save``, atomically, and prints the three lines of PyTorch that build the same
architecture and load it with ``torch.load(..., weights_only=True)`` (no pickle of code).
Plain ``torch.nn`` where every layer has a twin there; a family with residual or inception
blocks is built by ``microgradnn.interop.to_torch`` (those blocks are torch modules it defines).
"""

from __future__ import annotations

import argparse

__all__ = ["register", "run_export"]


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "export", help="write a checkpoint's weights as a PyTorch state_dict",
        description="Export a microgradnn checkpoint to PyTorch: the state_dict goes to "
                    "--torch FILE, and the PyTorch code that loads it is printed. "
                    "Needs torch (pip install torch==2.13.0).")
    parser.add_argument("checkpoint", help="a .npz written by microgradnn train ... --save")
    parser.add_argument("--torch", required=True, metavar="FILE",
                        help="where to write the state_dict (e.g. model.pt)")
    parser.set_defaults(handler=run_export)


def run_export(args: argparse.Namespace) -> int:
    from ..checkpoint import load_checkpoint
    from ..fileio import atomic_path, check_writable_file
    from ..interop import require_torch, to_torch, torch_source
    from ..models import input_mode_of, input_shape_of

    check_writable_file(args.torch, "--torch")
    saved = load_checkpoint(args.checkpoint)  # refused before torch is even imported
    torch = require_torch()
    twin = to_torch(saved.model)
    try:
        source = torch_source(saved.model)
    except ValueError:  # a family with residual or inception blocks: torch.nn has no such layer
        source = (f"from microgradnn.interop import to_torch; "
                  f"from microgradnn.models import build_model\n"
                  f"model = to_torch(build_model({saved.spec!r}))")
    with atomic_path(args.torch) as tmp:
        torch.save(twin.state_dict(), tmp)
    dtype = next(twin.parameters()).dtype
    cast = "" if dtype == torch.float32 else ".double()"
    shape = ", ".join(map(str, input_shape_of(saved.model)))
    pixels = {"unit": "pixel / 255", "standard": "(pixel / 255 - 0.1307) / 0.3081"}
    print(f"wrote {args.torch}: {len(twin.state_dict())} tensors ({dtype}); the model takes "
          f"inputs of shape (N, {shape}) scaled as {pixels[input_mode_of(saved.model)]}. "
          f"In PyTorch:")
    print("import torch")
    print(source + cast)
    print(f"model.load_state_dict(torch.load({str(args.torch)!r}, weights_only=True))")
    return 0
