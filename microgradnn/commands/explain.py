"""``microgradnn explain CHECKPOINT (--index N | --pick wrong|unsure | --image PNG) -o OUT.html``.

Writes the explain page (``viz.explain``): the checkpoint's network thinking about one
image (every neuron or feature map, forward) and learning from it (every gradient,
backward), beside the mean gradient of a mini-batch of MNIST training images.
``--label D`` sets the digit the cost compares with (an ``--image`` without it takes the
prediction, and says so). ``viz`` is imported only when the command runs.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional, Tuple

if TYPE_CHECKING:  # numpy is imported by the handler: `microgradnn graph --help` skips it
    import numpy as np

from . import seed_value
from ..engine import format_number

__all__ = ["register", "run_explain"]

MAX_BATCH = 512


def _batch_size(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if not 0 <= value <= MAX_BATCH:
        raise argparse.ArgumentTypeError(f"expected 0..{MAX_BATCH}, got {value}")
    return value


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "explain", help="an HTML page of a checkpoint thinking and learning on one image",
        description="Write one self-contained HTML page (no network) showing a trained MLP or "
                    "CNN on one image: every activation forward, every gradient backward, the "
                    "cost term by term, the backprop steps with real numbers.")
    parser.add_argument("checkpoint", help="a .npz written by 'microgradnn train'")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--index", type=int, metavar="N",
                        help="MNIST test image N (its true label is the default --label)")
    source.add_argument("--pick", choices=("wrong", "unsure"),
                        help="the first misclassified MNIST test image (wrong) or the one whose "
                             "top output is lowest (unsure): their gradients are not near zero")
    source.add_argument("--image", metavar="PNG", help="a PNG/JPEG of one digit, prepared "
                                                       "as MNIST was")
    parser.add_argument("--label", type=int, metavar="D",
                        help="the digit the cost compares with (default: the test image's "
                             "label; for --image, the prediction)")
    parser.add_argument("--batch", type=_batch_size, default=32, metavar="N",
                        help="show the mean gradient of N random MNIST training images beside "
                             "this one (0: none; default: %(default)s)")
    parser.add_argument("--seed", type=seed_value, default=0,
                        help="seed that picks the mini-batch (default: 0)")
    parser.add_argument("-o", "--output", required=True, metavar="OUT.html",
                        help="the page to write")
    parser.add_argument("--practice", action="store_true",
                        help="add exercises: compute δ[L], one entry of δ[l], one ∂C/∂w and "
                             "one ∂C/∂b from the numbers shown; the page checks them")
    parser.add_argument("--data", metavar="DIR",
                        help="folder with the MNIST files (default: $MICROGRADNN_DATA, then "
                             "the cache)")
    parser.set_defaults(handler=run_explain)


def _test_image(args: argparse.Namespace, saved: Any) -> Tuple[np.ndarray, int, str]:
    from ..datasets.mnist import load_mnist

    images, labels = load_mnist("test", root=args.data, progress=False)
    if args.pick is not None:
        from viz.explainer.page import checkpoint_loss
        from viz.explainer.pick import pick_example

        index, why = pick_example(saved.model, images, labels, args.pick, checkpoint_loss(saved),
                                  progress=True)
        if index is None:
            raise ValueError(f"--pick {args.pick}: {why}")
        print(f"picked MNIST test image {index}, {why}")
        args.index = index
    if not 0 <= args.index < len(labels):
        raise ValueError(f"--index {args.index}: the MNIST test set has images 0.."
                         f"{len(labels) - 1}")
    return images[args.index], int(labels[args.index]), f"MNIST test image {args.index}"


def _batch(args: argparse.Namespace) -> Tuple[Optional[Tuple[Any, Any]], str]:
    """``args.batch`` random training images, or None (with why) if MNIST is not on disk."""
    import numpy as np

    from ..datasets.mnist import MnistUnavailableError, load_mnist

    if args.batch == 0:
        return None, ""
    try:
        images, labels = load_mnist("train", root=args.data, download=False, progress=False)
    except MnistUnavailableError:
        return None, "the MNIST training images are not on disk, so the page has no batch view"
    pick = np.sort(np.random.default_rng(args.seed).choice(len(labels), args.batch,
                                                           replace=False))
    return (images[pick], labels[pick]), (f"{args.batch} random MNIST training images, "
                                          f"seed {args.seed}")


def run_explain(args: argparse.Namespace) -> int:
    from . import load_digit_checkpoint

    from ..fileio import check_writable_file

    output = check_writable_file(args.output, "-o")
    saved = load_digit_checkpoint(args.checkpoint)
    if args.index is not None or args.pick is not None:
        image, true_label, image_name = _test_image(args, saved)
        label: Optional[int] = true_label if args.label is None else args.label
    else:
        from ..datasets.digit_image import load_digit_image

        image = load_digit_image(args.image)
        label, image_name = args.label, Path(args.image).name
    batch, batch_name = _batch(args)
    if batch is None and batch_name:
        print(f"note: {batch_name}")
        batch_name = ""

    from viz.explainer import explain

    page = explain(saved, image, label, batch=batch, image_name=image_name,
                       batch_name=batch_name, practice=args.practice)
    page.save(output)
    data = page.data
    size = len(page.html.encode("utf-8"))
    j, out = data["prediction"], data["layers"][-1]
    top = (f"probability {format_number(float(data['probabilities'][j]))}"
           if data["loss_fn"] == "cross-entropy"
           else f"a[{out['layer']}][{j}] = {format_number(float(out['activations'][j]))}")
    print(f"{page.title}: prediction {j} ({top}), label {data['label']}, "
          f"cost {format_number(data['loss'])} ({data['loss_fn']})")
    print(f"wrote {output} ({size / 1e6:.2f} MB)")
    if not data["label_given"]:
        print(f"note: no --label given: the cost compares with the prediction, label "
              f"{data['label']} assumed", file=sys.stderr)
    return 0
