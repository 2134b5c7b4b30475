"""``microgradnn train mnist | eval | predict``: MNIST with the vectorized path.

- ``train mnist --model mlp|cnn ...`` trains, evaluates on the test set each epoch,
  saves a checkpoint after every epoch (``--save``) and a history (``--history``).
- ``eval CHECKPOINT`` prints test accuracy and the confusion matrix.
- ``predict CHECKPOINT IMAGE`` prepares a PNG/JPEG of a digit MNIST-style and prints the
  top 3 classes; ``--noise`` feeds random noise instead, to show that the network answers
  confidently even for nonsense.

MNIST is read from ``$MICROGRADNN_DATA`` (or ``--data``), else the user cache, else
downloaded (see ``microgradnn.datasets.mnist``).
"""

from __future__ import annotations

import argparse
import math
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Dict, List, Optional, Tuple

from . import seed_value
from ..engine import format_number
from ..models import MODEL_KINDS

if TYPE_CHECKING:  # numpy is imported by the handlers: `microgradnn graph --help` skips it
    import numpy as np

__all__ = ["register", "run_train", "run_eval", "run_predict"]

OPTIMIZERS = ("sgd", "adam")
DEFAULT_LR = {"sgd": 0.1, "adam": 1e-3}


def _shown(text: str) -> str:
    return repr(text) if len(text) <= 60 else repr(text[:57]) + "..."


def _int_list(text: str) -> List[int]:
    """``"16,16"`` -> [16, 16]; ``"none"`` -> [] (no hidden layer). Every part must be a
    positive integer: ``""``, ``",,,"`` or ``"16,,16"`` are refused, never read as []."""
    if text.strip().lower() == "none":
        return []
    parts = [part.strip() for part in text.split(",")]
    try:
        values = [int(part) for part in parts]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated positive integers like "
                                         f"16,16 (or none), got {_shown(text)}") from None
    if any(v < 1 for v in values):
        raise argparse.ArgumentTypeError(f"sizes must be positive, got {_shown(text)}")
    return values


def _finite_float(text: str) -> float:
    """A float that is a number: "inf" and "nan" are refused here, before any work."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {_shown(text)}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"expected a finite number, got {_shown(text)}")
    return value


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def _worker_count(text: str) -> int:
    from ..parallel import MAX_WORKERS

    count = _positive_int(text)
    if count > MAX_WORKERS:
        raise argparse.ArgumentTypeError(f"expected at most {MAX_WORKERS} processes, got {text!r}")
    return count


def register(subparsers: argparse._SubParsersAction) -> None:
    train = subparsers.add_parser(
        "train", help="train an MLP or a CNN on MNIST with the vectorized path",
        description="Train on MNIST; the test set is evaluated after every epoch.")
    train.add_argument("dataset", choices=["mnist"], help="the data set (only mnist)")
    train.add_argument("--model", choices=MODEL_KINDS, default="mlp", metavar="MODEL",
                       help="network: " + "|".join(MODEL_KINDS) + " (default: %(default)s); the "
                            "CNN families take their defaults from microgradnn.families")
    train.add_argument("--hidden", type=_int_list, default=None,
                       help="hidden layer sizes, e.g. 16,16, or none (default: 16,16 for mlp, "
                            "128 for cnn)")
    train.add_argument("--channels", type=_int_list, default=None,
                       help="cnn, alexnet, vgg, resnet: channels of each conv block "
                            "(default: 32,64 for cnn)")
    train.add_argument("--kernel", type=int, default=None, help="cnn: kernel size (default: 3)")
    train.add_argument("--width", type=_positive_int, default=None,
                       help="googlenet: channels of the narrowest inception branch (default: 8)")
    train.add_argument("--blocks", type=_positive_int, default=None,
                       help="resnet: residual blocks per stage (default: 1)")
    train.add_argument("--dropout", type=_finite_float, default=None,
                       help="cnn, alexnet, vgg: dropout in the fully connected part "
                            "(default: 0 for cnn)")
    train.add_argument("--activation", choices=["sigmoid", "relu", "tanh"], default=None,
                       help="hidden activation (default: sigmoid for mlp, relu for cnn)")
    train.add_argument("--input", choices=["unit", "standard"], default=None,
                       help="pixel scaling: p/255 (unit, default) or standardized")
    train.add_argument("--loss", choices=["cross-entropy", "mse"], default="cross-entropy",
                       help="cost: softmax cross-entropy, or mse, the lectures' sum of squared "
                            "differences between sigmoid outputs and the one-hot target "
                            "(default: %(default)s)")
    train.add_argument("--epochs", type=_positive_int, default=10,
                       help="passes over the training images (default: %(default)s)")
    train.add_argument("--batch-size", type=_positive_int, default=32,
                       help="images averaged into each gradient step (default: %(default)s)")
    train.add_argument("--optimizer", choices=OPTIMIZERS, default="sgd",
                       help="sgd: gradient descent (with --momentum); adam: per-weight adaptive "
                            "steps (default: %(default)s)")
    train.add_argument("--lr", type=_finite_float, default=None,
                       help="learning rate (default: 0.1 for sgd, 0.001 for adam)")
    train.add_argument("--momentum", type=_finite_float, default=0.0, help="sgd momentum (default: 0)")
    train.add_argument("--weight-decay", type=_finite_float, default=0.0, help="L2 term (default: 0)")
    train.add_argument("--lr-decay", type=_finite_float, default=1.0,
                       help="multiply the learning rate by this after each epoch (default: 1)")
    train.add_argument("--augment", type=int, default=0,
                       help="shift training images by up to this many pixels (default: 0)")
    train.add_argument("--workers", type=_worker_count, default=1,
                       help="processes sharing each batch (default: 1); 2 uses both cores of a "
                            "two-core machine (speed-ups in benchmarks/RESULTS.md)")
    train.add_argument("--no-replay", dest="replay", action="store_false",
                       help="build the autograd graph at every step instead of replaying the "
                            "first step's recorded numpy calls (same numbers; see "
                            "microgradnn.tensor.replay; --workers 2 steps eagerly anyway)")
    train.add_argument("--seed", type=seed_value, default=0,
                       help="seed for weights, shuffling and augmentation (default: 0)")
    train.add_argument("--save", metavar="FILE.npz", help="checkpoint, rewritten after each epoch")
    train.add_argument("--history", metavar="FILE", help="per-epoch history, .csv or .json")
    train.add_argument("--snapshots", type=_positive_int, default=None, metavar="N",
                       help="also keep N copies of the weights spread over training (start and "
                            "end included) in FILE.snapshots.npz beside --save, for "
                            "'microgradnn landscape'")
    train.add_argument("--limit", type=_positive_int, default=None,
                       help="use only the first N training and test images (quick runs)")
    train.add_argument("--data", metavar="DIR", help="folder with the MNIST files "
                                                     "(default: $MICROGRADNN_DATA, then the cache)")
    train.add_argument("--quiet", action="store_true", help="no progress bars")
    train.set_defaults(handler=run_train)

    evaluate = subparsers.add_parser(
        "eval", help="test accuracy and confusion matrix of a checkpoint",
        description="Evaluate a checkpoint on the MNIST test set.")
    evaluate.add_argument("checkpoint", help="a .npz written by 'microgradnn train'")
    evaluate.add_argument("--limit", type=_positive_int, default=None,
                          help="use only the first N test images")
    evaluate.add_argument("--data", metavar="DIR", help="folder with the MNIST files "
                                                        "(default: $MICROGRADNN_DATA, then the cache)")
    evaluate.set_defaults(handler=run_eval)

    predict = subparsers.add_parser(
        "predict", help="classify an image of a digit (or noise) with a checkpoint",
        description="Print the top-3 digits for an image: any size, PNG or JPEG, dark ink on "
                    "light paper or the reverse; it is prepared as MNIST was.")
    predict.add_argument("checkpoint", help="a .npz written by 'microgradnn train'")
    predict.add_argument("image", nargs="?", help="PNG/JPEG of one digit")
    predict.add_argument("--noise", action="store_true",
                         help="classify uniform random noise instead of an image")
    predict.add_argument("--seed", type=seed_value, default=0, help="seed for --noise (default: 0)")
    predict.add_argument("--ascii", action="store_true",
                         help="also print the 28x28 input the network sees")
    predict.set_defaults(handler=run_predict)


def _load_split(split: str, args: argparse.Namespace, limit: Optional[int]
                ) -> Tuple[np.ndarray, np.ndarray]:
    from ..datasets.mnist import load_mnist

    images, labels = load_mnist(split, root=args.data, progress=not getattr(args, "quiet", False))
    if limit is not None:
        images, labels = images[:limit], labels[:limit]
    return images, labels


def _spec_from_args(args: argparse.Namespace) -> Dict[str, Any]:
    from ..models import normalize_spec

    spec: Dict[str, Any] = {"model": args.model, "seed": args.seed}
    given = {"hidden": args.hidden, "activation": args.activation, "input": args.input,
             "channels": args.channels, "kernel": args.kernel, "dropout": args.dropout,
             "width": args.width, "blocks": args.blocks}
    known = normalize_spec({"model": args.model})
    for key, value in given.items():
        if value is not None and key not in known:
            users = [kind for kind in MODEL_KINDS if key in normalize_spec({"model": kind})]
            raise ValueError(f"--{key} does not apply to --model {args.model} (it applies to "
                             f"{', '.join(users)})")
    spec.update({key: value for key, value in given.items() if value is not None})
    return normalize_spec(spec)


def _optimizer(args: argparse.Namespace, parameters: List[Any]) -> Any:
    from ..optim import SGD, Adam

    lr = DEFAULT_LR[args.optimizer] if args.lr is None else args.lr
    if args.optimizer == "adam":
        if args.momentum:
            raise ValueError("--momentum applies to --optimizer sgd only")
        return Adam(parameters, lr=lr, weight_decay=args.weight_decay)
    return SGD(parameters, lr=lr, momentum=args.momentum, weight_decay=args.weight_decay)


def run_train(args: argparse.Namespace) -> int:
    from ..cli import CommandError
    from ..models import build_model, describe
    from ..training import TrainingStopped, evaluate, fit

    from ..fileio import check_writable_file

    for flag, value in (("--save", args.save), ("--history", args.history)):
        if value is not None:  # checked now rather than after the first epoch's work
            check_writable_file(value, flag)
    if args.snapshots is not None and (not args.save or args.snapshots < 2):
        raise ValueError(f"--snapshots {args.snapshots} needs N >= 2 and --save FILE.npz "
                         f"(the snapshots are written beside it)")
    if args.snapshots is not None:
        from ..snapshots import snapshot_path

        check_writable_file(snapshot_path(args.save), "--snapshots")
    spec = _spec_from_args(args)
    model = build_model(spec)
    optimizer = _optimizer(args, model.parameters())
    train_data = _load_split("train", args, args.limit)
    test_data = _load_split("test", args, args.limit)
    recorder = _snapshot_recorder(args, model, len(train_data[1]))
    print(f"{describe(spec)}: {model.num_parameters()} parameters; {args.loss} loss, "
          f"{args.optimizer} lr {optimizer.lr:g}, batch {args.batch_size}, {args.epochs} epochs, "
          f"seed {args.seed}{f', {args.workers} worker processes' if args.workers > 1 else ''}; "
          f"{len(train_data[1])} training and {len(test_data[1])} test images")
    started = time.perf_counter()
    try:
        history = fit(model, optimizer, train_data, args.epochs, args.batch_size, args.seed,
                      val_data=test_data, spec=spec, checkpoint=args.save,
                      history_path=args.history, lr_decay=args.lr_decay, augment=args.augment,
                      progress=not args.quiet, loss=args.loss,
                      extra={"command": "train", "optimizer": args.optimizer,
                             "batch_size": args.batch_size, "lr": optimizer.lr,
                             "train_images": int(len(train_data[1]))},
                      on_step=recorder, workers=args.workers, replay=args.replay)
    except TrainingStopped as error:  # a worker process failed: one line, as every error
        raise CommandError(str(error)) from None
    seconds = time.perf_counter() - started
    accuracy, _ = evaluate(model, *test_data)
    print(f"test accuracy {format_number(accuracy)} ({accuracy:.2%}) after {len(history)} "
          f"epochs, {seconds:.1f} s of training")
    if args.save:
        print(f"saved {args.save}")
    if args.history:
        print(f"history written to {args.history}")
    if recorder is not None:
        from ..snapshots import snapshot_path

        written = recorder.save(snapshot_path(args.save))
        print(f"{len(recorder.steps)} weight snapshots saved to {written}")
    return 0


def _snapshot_recorder(args: argparse.Namespace, model: Any, train_images: int) -> Any:
    """A ``WeightSnapshots`` for ``--snapshots N`` (which needs ``--save``), else None."""
    if getattr(args, "snapshots", None) is None:
        return None
    from ..snapshots import WeightSnapshots

    per_epoch = -(-train_images // args.batch_size)
    return WeightSnapshots(model, args.snapshots, per_epoch * args.epochs, per_epoch)


def _confusion_table(confusion: np.ndarray) -> str:
    width = max(5, len(str(int(confusion.max()))) + 1)
    head = "true\\pred" + "".join(f"{c:>{width}}" for c in range(confusion.shape[1]))
    lines = [head]
    for label, row in enumerate(confusion):
        lines.append(f"{label:>9}" + "".join(f"{int(v):>{width}}" for v in row))
    return "\n".join(lines)


def run_eval(args: argparse.Namespace) -> int:
    import numpy as np

    from . import load_digit_checkpoint
    from ..malloc import tune
    from ..models import describe
    from ..training import evaluate

    tune()  # the allocator keeps the batches' arrays (microgradnn.malloc); fit does it for train
    saved = load_digit_checkpoint(args.checkpoint)
    images, labels = _load_split("test", args, args.limit)
    accuracy, confusion = evaluate(saved.model, images, labels)
    print(f"{args.checkpoint}: {describe(saved.spec)}, {saved.model.num_parameters()} parameters")
    print(f"test accuracy {format_number(accuracy)} ({accuracy:.2%}) on {len(labels)} images")
    print("confusion matrix (rows: true digit, columns: predicted digit)")
    print(_confusion_table(confusion))
    per_class = np.diag(confusion) / np.maximum(confusion.sum(axis=1), 1)
    print("per-digit accuracy: " + ", ".join(f"{d}: {format_number(a)}"
                                              for d, a in enumerate(per_class)))
    return 0


def run_predict(args: argparse.Namespace) -> int:
    import numpy as np

    from . import load_digit_checkpoint
    from ..datasets.digit_image import ascii_digit, load_digit_image
    from ..models import describe
    from ..training import predict_proba

    if args.noise == (args.image is not None):
        raise ValueError("give either an IMAGE or --noise (exactly one)")
    saved = load_digit_checkpoint(args.checkpoint)
    if args.noise:
        image = np.random.default_rng(args.seed).integers(0, 256, (28, 28), dtype=np.uint8)
        source = f"uniform noise (seed {args.seed})"
    else:
        image = load_digit_image(args.image)
        source = str(args.image)
    probs = predict_proba(saved.model, image[None])[0]
    print(f"{source} -> {describe(saved.spec)}")
    if args.ascii:
        print(ascii_digit(image))
    for rank, digit in enumerate(np.argsort(-probs, kind="stable")[:3], start=1):
        print(f"  {rank}. digit {digit}  probability {format_number(float(probs[digit]))}")
    if args.noise:
        print(f"  (noise is no digit, yet the answer is one of the ten digits, here with "
              f"probability {format_number(float(probs.max()))}: softmax always sums to 1 and the "
              f"network was never taught to say 'none of these')")
    return 0
