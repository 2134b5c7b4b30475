"""Training loop for the vectorized path: ``fit`` with history and a divergence stop, ``evaluate``.

Images stay uint8 until a batch is drawn; only that batch becomes float32 in [0, 1]
(``to_input``), so a 60,000-image training set never needs a 188 MB float copy.
Shuffling and augmentation draw from one ``numpy`` generator seeded by ``seed``, so the
same seed, data and model give the same run.

The divergence rule. ``fit`` stops with ``TrainingDiverged`` when

1. a batch loss is NaN or infinite;
2. the smoothed training loss (an exponential moving average, ``s = 0.9 s + 0.1 loss``,
   started at the first batch's loss) rises above ``DIVERGENCE_FACTOR`` (10) times
   ``max(first loss, 1)``: for cross-entropy from scratch, 10 x 2.3 = 23, a network far
   worse than guessing. One unlucky batch moves ``s`` by a tenth, so it cannot trip this;
3. a weight is NaN or infinite. A non-finite weight shows in the next batch's loss (rule
   1); the weights are also scanned after the last step of every epoch, before they are
   evaluated, saved or kept, which catches a blow-up in that last step or one hidden
   behind a ReLU;
4. the test loss of the epoch's evaluation is NaN or infinite.

The error names the epoch, the step, the learning rate (and the weight decay, if any) and
the reason; the model is put back to the weights of the last epoch that finished well
(or those it started with) and the checkpoint on disk, if any, stays the one of that
epoch: a diverged model is never saved. The optimizer's own state (momentum, Adam's
moments) is not rolled back; make a new optimizer before training on.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import time
from pathlib import Path
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np

from .engine import format_number
from .fileio import write_atomic
from .metrics import accuracy, confusion_matrix
from .models import input_mode_of, input_shape_of
from .costs import COSTS, DEFAULT_COST
from .tensor import Tensor, from_uint8, log_softmax, no_grad
from .tensor.tensor import wrap_array

__all__ = ["fit", "evaluate", "predict_proba", "to_input", "input_tensor", "shift_batch",
           "write_history", "TrainingDiverged", "HISTORY_FIELDS", "LOSSES", "loss_function"]

Data = Tuple[np.ndarray, np.ndarray]
PathLike = Union[str, "os.PathLike[str]"]
HISTORY_FIELDS = ("epoch", "train_loss", "train_accuracy", "test_loss", "test_accuracy", "lr",
                  "seconds")


DIVERGENCE_FACTOR = 10.0
SMOOTHING = 0.1  # weight of the newest batch in the smoothed loss of the divergence rule


class TrainingDiverged(ValueError):
    """Training broke the divergence rule (module docstring); the message names the epoch,
    step, learning rate and reason. ``history`` holds the epochs that finished well."""

    def __init__(self, message: str, history: List[Dict[str, Any]], epoch: int = 0,
                 step: int = 0, reason: str = "") -> None:
        super().__init__(message)
        self.history = history
        self.epoch = epoch
        self.step = step
        self.reason = reason


def _non_finite_parameter(model: Any) -> Optional[str]:
    """The name of the first parameter holding NaN or inf, else None (one pass, no copies)."""
    with np.errstate(over="ignore", invalid="ignore"):
        for name, p in model.named_parameters():
            data = p.data
            if isinstance(data, np.ndarray):
                # A sum is finite only if every element is (an overflowing sum of huge
                # weights counts as diverged too); it needs no boolean temporary.
                if not math.isfinite(float(np.add.reduce(data, axis=None))):
                    return name
            elif not math.isfinite(float(data)):
                return name
    return None


def _finite_or_none(value: Any) -> Any:
    """Floats that are NaN/inf become None, so a history is always valid JSON."""
    if isinstance(value, (float, np.floating)) and not math.isfinite(float(value)):
        return None
    return value


MNIST_MEAN, MNIST_STD = 0.1307, 0.3081  # of p / 255 over the training images

# The costs ``fit`` can train with, by the name the model's spec records (``spec["loss"]``):
# softmax cross-entropy, or the lectures' sum of squared differences between the sigmoid
# outputs and the one-hot target (``sigmoid_mse_loss``); defined once in ``costs``.
LOSSES = {name: cost.tensor for name, cost in COSTS.items()}


def loss_function(name: str) -> Any:
    """The loss called ``name`` in ``LOSSES``, or a ValueError listing the names."""
    try:
        return LOSSES[name]
    except (KeyError, TypeError):
        raise ValueError(f"loss must be one of {sorted(LOSSES)}, got {name!r}") from None


# mode -> (scale, offset) of ``p * scale - offset`` for uint8 pixels p.
_SCALING = {"unit": (1.0 / 255.0, 0.0),
            "standard": (1.0 / (255.0 * MNIST_STD), MNIST_MEAN / MNIST_STD)}


def _scaling(mode: str) -> Tuple[float, float]:
    try:
        return _SCALING[mode]
    except (KeyError, TypeError):
        raise ValueError(f"to_input: mode must be 'unit' or 'standard', got {mode!r}") from None


def input_tensor(images: np.ndarray, shape: Sequence[int], mode: str = "unit") -> Tensor:
    """uint8 images (n, 28, 28) -> a float32 Tensor (n, *shape), e.g. (n, 784): the one
    place pixels become a network's input.

    ``mode`` "unit" gives p / 255 in [0, 1]; "standard" gives (p / 255 - 0.1307) / 0.3081.
    """
    images = np.asarray(images)
    if images.dtype != np.uint8:
        raise TypeError(f"to_input expects uint8 images, got {images.dtype}")
    scale, offset = _scaling(mode)
    return from_uint8(images, scale, offset, (images.shape[0],) + tuple(shape))


def to_input(images: np.ndarray, shape: Sequence[int], mode: str = "unit") -> np.ndarray:
    """``input_tensor``'s numbers as a float32 array (n, *shape)."""
    return input_tensor(images, shape, mode).data


def shift_batch(images: np.ndarray, max_shift: int, rng: np.random.Generator) -> np.ndarray:
    """Move each (n, h, w) image by a random whole-pixel offset in [-max_shift, max_shift]^2.

    Pixels moved in are background (0); one gather, no loop over images.
    """
    if max_shift <= 0:
        return images
    n, h, w = images.shape
    padded = np.pad(images, ((0, 0), (max_shift, max_shift), (max_shift, max_shift)))
    dy = rng.integers(0, 2 * max_shift + 1, size=n)
    dx = rng.integers(0, 2 * max_shift + 1, size=n)
    rows = dy[:, None] + np.arange(h)[None, :]
    cols = dx[:, None] + np.arange(w)[None, :]
    return padded[np.arange(n)[:, None, None], rows[:, :, None], cols[:, None, :]]


def _check_data(data: Data, what: str) -> Data:
    if not isinstance(data, (tuple, list)) or len(data) != 2:
        raise TypeError(f"{what} must be a pair (images, labels)")
    images, labels = np.asarray(data[0]), np.asarray(data[1])
    if images.ndim != 3 or images.dtype != np.uint8:
        raise ValueError(f"{what}: images must be uint8 of shape (n, h, w), got {images.dtype} "
                         f"{images.shape}")
    if labels.shape != (images.shape[0],):
        raise ValueError(f"{what}: {images.shape[0]} images but labels of shape {labels.shape}")
    if images.shape[0] == 0:
        raise ValueError(f"{what} is empty")
    return images, labels.astype(np.int64)


def predict_logits(model: Any, images: np.ndarray, batch_size: int = 1000) -> np.ndarray:
    """Raw scores (n, classes) for uint8 images (n, 28, 28), in eval mode, without a graph."""
    shape, mode = input_shape_of(model), input_mode_of(model)
    was_training = getattr(model, "training", False)
    model.eval()
    out = []
    try:
        with no_grad():
            for start in range(0, images.shape[0], batch_size):
                x = to_input(images[start:start + batch_size], shape, mode)
                out.append(np.asarray(model(Tensor(x)).data, dtype=np.float64))
    finally:
        model.train(was_training)
    return np.concatenate(out) if out else np.zeros((0, 10))


def _log_softmax(logits: np.ndarray) -> np.ndarray:
    """The vectorized path's ``log_softmax`` on our own float64 scores (no graph, no copy)."""
    return log_softmax(wrap_array(logits), axis=1).data


def predict_proba(model: Any, images: np.ndarray, batch_size: int = 1000) -> np.ndarray:
    """Class probabilities (n, classes), softmax of the model's scores; rows sum to 1."""
    return np.exp(_log_softmax(predict_logits(model, images, batch_size)))


def evaluate(model: Any, images: np.ndarray, labels: np.ndarray, batch_size: int = 1000,
             classes: int = 10) -> Tuple[float, np.ndarray]:
    """Accuracy in [0, 1] and the confusion matrix (classes, classes): row = true, column = predicted."""
    images, labels = _check_data((images, labels), "evaluate")
    predicted = predict_logits(model, images, batch_size).argmax(axis=1)
    return accuracy(labels, predicted), confusion_matrix(labels, predicted, classes)


def _evaluate_loss(model: Any, images: np.ndarray, labels: np.ndarray,
                   loss_name: str = "cross-entropy") -> Tuple[float, float]:
    logits = predict_logits(model, images)
    if loss_name == "cross-entropy":
        loss = float(-_log_softmax(logits)[np.arange(labels.size), labels].mean())
    else:
        loss = float(loss_function(loss_name)(Tensor(logits), labels).item())
    return loss, accuracy(labels, logits.argmax(axis=1))


def write_history(history: List[Mapping[str, Any]], path: PathLike) -> Path:
    """Write the per-epoch records atomically: CSV if ``path`` ends in .csv, else JSON."""
    path = Path(path)
    rows = [{key: _finite_or_none(value) for key, value in row.items()} for row in history]
    if path.suffix.lower() == ".csv":
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=list(HISTORY_FIELDS), extrasaction="ignore")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: ("" if row.get(k) is None else row.get(k)) for k in HISTORY_FIELDS})
        text = buffer.getvalue()
    else:
        text = json.dumps(rows, indent=1, allow_nan=False) + "\n"
    write_atomic(path, text)
    return path


def fit(model: Any, optimizer: Any, data: Data, epochs: int, batch_size: int = 32, seed: int = 0,
        *, val_data: Optional[Data] = None, spec: Optional[Mapping[str, Any]] = None,
        checkpoint: Optional[PathLike] = None, history_path: Optional[PathLike] = None,
        lr_decay: float = 1.0, augment: int = 0, progress: bool = True,
        extra: Optional[Mapping[str, Any]] = None, loss: Optional[str] = None,
        on_step: Optional[Callable[[int], None]] = None, workers: int = 1
        ) -> List[Dict[str, Any]]:
    """Train ``model`` on uint8 ``data = (images (n, 28, 28), labels (n,))``.

    ``loss`` names the cost in ``LOSSES``: "cross-entropy" (softmax) or "mse" (the
    lectures' sum of squared differences against the one-hot target, sigmoid outputs);
    by default the spec's ``"loss"``, else cross-entropy. The model's spec (and so its
    checkpoint) records the cost it was trained with as ``spec["loss"]``.

    Each epoch shuffles with a generator seeded by ``seed``, runs minibatches of
    ``batch_size`` (the last may be smaller), optionally shifts images by up to
    ``augment`` pixels, then multiplies the optimizer's ``lr`` by ``lr_decay``. After each
    epoch it evaluates ``val_data`` if given, appends a record (see ``HISTORY_FIELDS``)
    to the returned history, rewrites ``history_path`` and saves ``checkpoint`` (needs
    ``spec`` or ``model.spec``). Training that breaks the divergence rule (module
    docstring) stops with ``TrainingDiverged`` naming the epoch, step and learning rate;
    the model is put back to the last good epoch's weights and the checkpoint on disk is
    left as it was. ``on_step(k)``, if given, is called after every optimizer step with
    the number of steps done so far (e.g. ``microgradnn.snapshots.WeightSnapshots`` to
    keep weight copies).

    ``workers > 1`` splits each batch over that many processes sharing the weights
    (``microgradnn.parallel.DataParallelStep``: the same gradients to float rounding, batch
    normalization over the whole batch; the CNN families' epochs 1.17-2.0x faster on two cores,
    as measured in benchmarks/RESULTS.md).
    """
    from . import checkpoint as ckpt

    images, labels = _check_data(data, "fit data")
    given = dict(spec) if spec is not None else getattr(model, "spec", None)
    loss_name = loss if loss is not None else (given or {}).get("loss", DEFAULT_COST)
    loss_fn = loss_function(loss_name)  # ``loss`` names the step's loss below
    if val_data is not None:
        val_images, val_labels = _check_data(val_data, "fit val_data")
    for name, value in (("epochs", epochs), ("batch_size", batch_size), ("workers", workers)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"fit: {name} must be a positive integer, got {value!r}")
    if not (isinstance(augment, (int, np.integer)) and 0 <= augment <= 8):
        raise ValueError(f"fit: augment must be a whole number of pixels in 0..8, got {augment!r}")
    if not (isinstance(lr_decay, (int, float)) and 0 < lr_decay <= 1):
        raise ValueError(f"fit: lr_decay must be in (0, 1], got {lr_decay!r}")
    spec = None if given is None else {**given, "loss": loss_name}
    if getattr(model, "spec", None) is not None:
        model.spec = {**model.spec, "loss": loss_name}  # the model's cost travels with it
    if checkpoint is not None and spec is None:
        raise ValueError("fit: saving a checkpoint needs the model's spec (pass spec=...)")
    bad = _non_finite_parameter(model)
    if bad is not None:
        raise ValueError(f"fit: the model's weight {bad!r} holds NaN or inf before training")

    from tqdm import tqdm

    shape, mode = input_shape_of(model), input_mode_of(model)
    shape = tuple(shape)
    _scaling(mode)  # a bad mode fails now, not at the first batch
    rng = np.random.default_rng(seed)
    n = images.shape[0]
    steps = math.ceil(n / batch_size)
    history: List[Dict[str, Any]] = []
    good_state = model.state_dict()
    smoothed: Optional[float] = None
    limit = math.inf

    def diverged(reason: str, epoch: int, step: int, bar: Any) -> TrainingDiverged:
        bar.close()
        model.load_state_dict(good_state)  # checked finite when it was kept
        decay = getattr(optimizer, "weight_decay", 0.0)
        rates = f"learning rate {optimizer.lr:g}" + (f", weight decay {decay:g}" if decay else "")
        back = f"after epoch {epoch - 1}" if epoch > 1 else "it started with"
        kept = "" if checkpoint is None else (
            f"; the checkpoint {checkpoint} from epoch {epoch - 1} is kept" if epoch > 1
            else f"; nothing was saved to {checkpoint}")
        return TrainingDiverged(
            f"training diverged at epoch {epoch}, step {step} of {steps}, {rates}: {reason}; "
            f"the model was reset to the weights {back}{kept}. Try a smaller learning rate.",
            history, epoch=epoch, step=step, reason=reason)

    model.train()
    parallel = None
    if workers != 1:
        from .parallel import DataParallelStep
        parallel = DataParallelStep(model, loss_fn, workers,
                                    prepare=lambda batch: input_tensor(batch, shape, mode))
    try:
        for epoch in range(1, epochs + 1):
            started = time.perf_counter()
            order = rng.permutation(n)
            loss_sum, correct, seen = 0.0, 0, 0
            bar = tqdm(range(steps), desc=f"epoch {epoch}/{epochs}", unit="batch",
                       disable=not progress, leave=True, dynamic_ncols=True)
            for step in bar:
                # sorted: a faster gather
                index = np.sort(order[step * batch_size:(step + 1) * batch_size])
                batch = shift_batch(images[index], augment, rng) if augment else images[index]
                target = labels[index]
                with np.errstate(over="ignore", invalid="ignore"):  # a blow-up is reported below
                    # Pixels scaled from uint8 are finite by construction: no NaN scan per batch.
                    if parallel is None:
                        logits = model(input_tensor(batch, shape, mode))
                        loss = loss_fn(logits, target)
                        value, outputs = float(loss.item()), logits.data
                    else:  # forward and backward of the shares at once (no zero_grad needed)
                        value, outputs = parallel(batch, target)
                    if not math.isfinite(value):
                        raise diverged(f"the loss became {value}", epoch, step + 1, bar)
                    if smoothed is None:
                        smoothed, limit = value, DIVERGENCE_FACTOR * max(value, 1.0)
                    else:
                        smoothed += SMOOTHING * (value - smoothed)
                    if smoothed > limit:
                        raise diverged(f"the smoothed loss {smoothed:.4g} rose above "
                                       f"{DIVERGENCE_FACTOR:g} x max(first loss, 1) = {limit:.4g}",
                                       epoch, step + 1, bar)
                    if parallel is None:
                        optimizer.zero_grad()
                        loss.backward()
                    optimizer.step()
                    if on_step is not None:
                        on_step((epoch - 1) * steps + step + 1)
                count = target.size
                loss_sum += value * count
                correct += int((np.asarray(outputs).argmax(axis=1) == target).sum())
                seen += count
                if progress and (step % 20 == 0 or step == steps - 1):
                    bar.set_postfix(loss=format_number(loss_sum / seen),
                                    acc=format_number(correct / seen), refresh=False)
            bad = _non_finite_parameter(model)  # a blow-up in the last step shows in no loss yet
            if bad is not None:
                raise diverged(f"weight {bad!r} became NaN or inf", epoch, steps, bar)
            record: Dict[str, Any] = {
                "epoch": epoch, "train_loss": loss_sum / seen, "train_accuracy": correct / seen,
                "test_loss": None, "test_accuracy": None, "lr": optimizer.lr,
                "seconds": round(time.perf_counter() - started, 3)}
            if val_data is not None:
                with np.errstate(over="ignore", invalid="ignore"):
                    record["test_loss"], record["test_accuracy"] = _evaluate_loss(
                        model, val_images, val_labels, loss_name)
                model.train()
                if not math.isfinite(record["test_loss"]):
                    raise diverged(f"the test loss became {record['test_loss']}", epoch, steps, bar)
            bar.close()
            history.append(record)
            if progress:
                shown = f"test accuracy {format_number(record['test_accuracy'])}" \
                    if val_data is not None else f"train accuracy {format_number(correct / seen)}"
                tqdm.write(f"epoch {epoch}: loss {format_number(record['train_loss'])}, {shown}, "
                           f"{record['seconds']:.1f} s")
            good_state = model.state_dict()
            if checkpoint is not None:
                meta = dict(extra or {})
                meta.update({"epochs": epoch, "history": history, "loss": loss_name})
                ckpt.save(model, checkpoint, spec, extra=meta)
            if history_path is not None:
                write_history(history, history_path)
            optimizer.lr *= lr_decay
        return history
    finally:
        if parallel is not None:
            parallel.close()
