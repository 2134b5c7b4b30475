"""Training loop for the vectorized path: ``fit`` with history and a divergence stop, ``evaluate``.

Images stay uint8 until a batch is drawn; only that batch becomes float32 in [0, 1]
(``to_input``), so a 60,000-image training set never needs a 188 MB float copy.
Shuffling and augmentation draw from one ``numpy`` generator seeded by ``seed``, so the
same seed, data and model give the same run.

``fit`` is three parts: its checks (``_checked``: every argument refused in one line before
any work), its epoch loop (``_FitRun.epoch``, one ``_FitRun.step`` per batch) and, after
each epoch, evaluation and checkpointing (``_FitRun.evaluate``, ``_FitRun.keep``). It stops
with ``TrainingDiverged`` by the rule of ``microgradnn.divergence`` (every cost: the loss,
the weights' growth), with ``TrainingStopped`` when a worker process fails, and with
``TrainingInterrupted`` on Ctrl-C. Each names the epoch, the step and the learning rate,
puts the model back to the weights of the last epoch that finished well (or those it
started with), and leaves the checkpoint on disk, if any, as that epoch wrote it: a
diverged model is never saved, and the checkpoint and the history file are written
together (Ctrl-C waits for both). The optimizer's own state (momentum, Adam's moments) is
not rolled back; make a new optimizer before training on.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import math
import os
import signal
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import (Any, Callable, Dict, Iterator, List, Mapping, Optional, Sequence, Tuple,
                    Union)

import numpy as np

from .divergence import CHECK_EVERY, DivergenceWatch, TrainingDiverged
from .engine import format_number
from .fileio import write_atomic
from .malloc import tune as tune_malloc
from .metrics import accuracy, confusion_matrix
from .models import input_mode_of, input_shape_of
from .tensor import Tensor, cross_entropy, from_uint8, log_softmax, no_grad, sigmoid_mse_loss
from .tensor.tensor import wrap_array

__all__ = ["fit", "evaluate", "predict_proba", "to_input", "input_tensor", "shift_batch",
           "write_history", "TrainingDiverged", "TrainingStopped", "TrainingInterrupted",
           "HISTORY_FIELDS", "LOSSES", "loss_function", "MAX_CHECKPOINT_HISTORY"]

Data = Tuple[np.ndarray, np.ndarray]
PathLike = Union[str, "os.PathLike[str]"]
HISTORY_FIELDS = ("epoch", "train_loss", "train_accuracy", "test_loss", "test_accuracy", "lr",
                  "seconds")


def _finite_or_none(value: Any) -> Any:
    """Floats that are NaN/inf become None, so a history is always valid JSON."""
    if isinstance(value, (float, np.floating)) and not math.isfinite(float(value)):
        return None
    return value


MNIST_MEAN, MNIST_STD = 0.1307, 0.3081  # of p / 255 over the training images

# The costs ``fit`` can train with, by the name checkpoints record (``extra["loss"]``):
# softmax cross-entropy, or the lectures' sum of squared differences between the sigmoid
# outputs and the one-hot target (``sigmoid_mse_loss``).
LOSSES = {"cross-entropy": cross_entropy, "mse": sigmoid_mse_loss}


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


# The epochs of history a checkpoint keeps in its metadata (the history file keeps them all):
# its ``extra`` stays far below what ``checkpoint.load`` accepts.
MAX_CHECKPOINT_HISTORY = 10_000


class TrainingStopped(RuntimeError):
    """A worker process of ``fit(workers=...)`` failed (killed, stopped, out of memory); the
    message names the epoch, step and learning rate. ``history``: the epochs that finished."""

    def __init__(self, message: str, history: List[Dict[str, Any]]) -> None:
        super().__init__(message)
        self.history = history


class TrainingInterrupted(KeyboardInterrupt):
    """Ctrl-C during ``fit``; the message names the epoch and step and what was kept."""

    def __init__(self, message: str, history: List[Dict[str, Any]]) -> None:
        super().__init__(message)
        self.history = history


@dataclass
class _Plan:
    """``fit``'s arguments once checked (``_checked``)."""

    images: np.ndarray
    labels: np.ndarray
    val: Optional[Data]
    epochs: int
    batch_size: int
    seed: int
    spec: Optional[Dict[str, Any]]
    checkpoint: Optional[PathLike]
    history_path: Optional[PathLike]
    lr_decay: float
    augment: int
    progress: bool
    extra: Optional[Mapping[str, Any]]
    loss_name: str
    on_step: Optional[Callable[[int], None]]
    workers: int
    shape: Tuple[int, ...] = ()
    mode: str = "unit"
    replay: bool = True

    @property
    def steps(self) -> int:
        return math.ceil(self.images.shape[0] / self.batch_size)


def fit(model: Any, optimizer: Any, data: Data, epochs: int, batch_size: int = 32, seed: int = 0,
        *, val_data: Optional[Data] = None, spec: Optional[Mapping[str, Any]] = None,
        checkpoint: Optional[PathLike] = None, history_path: Optional[PathLike] = None,
        lr_decay: float = 1.0, augment: int = 0, progress: bool = True,
        extra: Optional[Mapping[str, Any]] = None, loss: str = "cross-entropy",
        on_step: Optional[Callable[[int], None]] = None, workers: int = 1,
        replay: bool = True) -> List[Dict[str, Any]]:
    """Train ``model`` on uint8 ``data = (images (n, 28, 28), labels (n,))``.

    ``loss`` names the cost in ``LOSSES``: "cross-entropy" (softmax, the default) or
    "mse" (the lectures' sum of squared differences against the one-hot target, sigmoid
    outputs); checkpoints record it in their metadata as ``extra["loss"]``.

    Each epoch shuffles with a generator seeded by ``seed``, runs minibatches of
    ``batch_size`` (the last may be smaller), optionally shifts images by up to
    ``augment`` pixels, then multiplies the optimizer's ``lr`` by ``lr_decay``. After each
    epoch it evaluates ``val_data`` if given, appends a record (see ``HISTORY_FIELDS``)
    to the returned history, rewrites ``history_path`` and saves ``checkpoint`` (needs
    ``spec`` or ``model.spec``). Training that breaks the divergence rule
    (``microgradnn.divergence``) stops with ``TrainingDiverged`` naming the epoch, step and
    learning rate; the model is put back to the last good epoch's weights and the
    checkpoint on disk is left as it was. ``on_step(k)``, if given, is called after every
    optimizer step with the number of steps done so far (e.g.
    ``microgradnn.snapshots.WeightSnapshots`` to keep weight copies). ``fit`` calls
    ``microgradnn.malloc.tune()`` first.

    ``workers > 1`` splits each batch over that many processes sharing the weights
    (``microgradnn.parallel.DataParallelStep``: the same gradients to float rounding, batch
    normalization over the whole batch; faster on two cores, see benchmarks/RESULTS.md).

    ``replay`` (default True) trains with ``microgradnn.tensor.replay.ReplayStep``: each
    batch shape's first step runs eagerly and is recorded, the next ones replay it as
    plain numpy calls into fixed buffers, with the same numbers; ``replay=False`` builds
    the graph at every step. With ``workers > 1`` the split step runs eagerly.
    """
    plan = _checked(model, data, epochs, batch_size, seed, val_data, spec, checkpoint,
                    history_path, lr_decay, augment, progress, extra, loss, on_step, workers,
                    replay)
    return _FitRun(model, optimizer, plan).train()


def _checked(model: Any, data: Data, epochs: int, batch_size: int, seed: int,
             val_data: Optional[Data], spec: Optional[Mapping[str, Any]],
             checkpoint: Optional[PathLike], history_path: Optional[PathLike],
             lr_decay: float, augment: int, progress: bool, extra: Optional[Mapping[str, Any]],
             loss: str, on_step: Optional[Callable[[int], None]], workers: int,
             replay: bool = True) -> _Plan:
    """``fit``'s arguments checked, each refused in one line naming it and its value."""
    images, labels = _check_data(data, "fit data")
    loss_function(loss)
    val = None if val_data is None else _check_data(val_data, "fit val_data")
    for name, value in (("epochs", epochs), ("batch_size", batch_size), ("workers", workers)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"fit: {name} must be a positive integer, got {value!r}")
    if not isinstance(replay, bool):
        raise ValueError(f"fit: replay must be True or False, got {replay!r}")
    if not (isinstance(augment, (int, np.integer)) and 0 <= augment <= 8):
        raise ValueError(f"fit: augment must be a whole number of pixels in 0..8, got {augment!r}")
    if not (isinstance(lr_decay, (int, float)) and 0 < lr_decay <= 1):
        raise ValueError(f"fit: lr_decay must be in (0, 1], got {lr_decay!r}")
    spec = dict(spec) if spec is not None else getattr(model, "spec", None)
    if checkpoint is not None and spec is None:
        raise ValueError("fit: saving a checkpoint needs the model's spec (pass spec=...)")
    mode = input_mode_of(model)
    _scaling(mode)  # a bad mode fails now, not at the first batch
    return _Plan(images, labels, val, int(epochs), int(batch_size), seed, spec, checkpoint,
                 history_path, float(lr_decay), int(augment), progress, extra, loss, on_step,
                 int(workers), tuple(input_shape_of(model)), mode, replay)


class _FitRun:
    """One ``fit`` call: the epoch loop over ``step``s, then ``evaluate`` and ``keep``."""

    def __init__(self, model: Any, optimizer: Any, plan: _Plan) -> None:
        self.model, self.optimizer, self.plan = model, optimizer, plan
        self.loss_fn = loss_function(plan.loss_name)
        self.watch = DivergenceWatch(model, plan.loss_name)  # refuses NaN weights now
        self.rng = np.random.default_rng(plan.seed)
        self.history: List[Dict[str, Any]] = []
        self.good_state = model.state_dict()
        self.epoch, self.done = 1, 0  # where training is: epoch, steps done in it
        self.parallel: Any = None
        self.bar: Any = None

    def train(self) -> List[Dict[str, Any]]:
        from .parallel import WorkerError

        tune_malloc()  # a step's freed arrays stay in the heap for the next (microgradnn.malloc)
        self.model.train()
        try:
            if self.plan.workers != 1:
                from .parallel import DataParallelStep
                self.parallel = DataParallelStep(self.model, self.loss_fn, self.plan.workers,
                                                 prepare=self.input)
            elif self.plan.replay:  # the same (loss, outputs) protocol, recorded once a shape
                from .tensor.replay import ReplayStep, ScaledImages
                self.parallel = ReplayStep(self.model, self.loss_fn, self.optimizer,
                                           ScaledImages(self.plan.shape, *_scaling(self.plan.mode)),
                                           update=False)  # optimizer.step() after the check
            for self.epoch in range(1, self.plan.epochs + 1):
                self.run_epoch()
            return self.history
        except WorkerError as error:
            raise TrainingStopped(self.stopped_text("training stopped", str(error)),
                                  self.history) from None
        except KeyboardInterrupt:
            raise TrainingInterrupted(self.stopped_text("training interrupted", "Ctrl-C"),
                                      self.history) from None
        finally:
            if self.bar is not None:
                self.bar.close()
            if self.parallel is not None:
                self.parallel.close()

    def input(self, batch: np.ndarray) -> Tensor:
        return input_tensor(batch, self.plan.shape, self.plan.mode)

    # -- the epoch loop --

    def run_epoch(self) -> None:
        from tqdm import tqdm

        plan, epoch = self.plan, self.epoch
        started = time.perf_counter()
        order = self.rng.permutation(plan.images.shape[0])
        totals = [0.0, 0, 0]  # sum of the batch losses x sizes, correct, seen
        self.bar = tqdm(range(plan.steps), desc=f"epoch {epoch}/{plan.epochs}", unit="batch",
                        disable=not plan.progress, leave=True, dynamic_ncols=True)
        for self.done in self.bar:
            # sorted: a faster gather
            index = np.sort(order[self.done * plan.batch_size:(self.done + 1) * plan.batch_size])
            batch = plan.images[index]
            if plan.augment:
                batch = shift_batch(batch, plan.augment, self.rng)
            self.step(batch, plan.labels[index], totals)
        self.check(self.watch.weights(self.model))  # a blow-up in the last step shows in no loss
        self.check(self.watch.epoch(totals[1] / totals[2]))
        record: Dict[str, Any] = {
            "epoch": epoch, "train_loss": totals[0] / totals[2],
            "train_accuracy": totals[1] / totals[2], "test_loss": None, "test_accuracy": None,
            "lr": self.optimizer.lr, "seconds": round(time.perf_counter() - started, 3)}
        self.evaluate(record)
        self.bar.close()
        self.keep(record)
        self.optimizer.lr *= plan.lr_decay

    def step(self, batch: np.ndarray, target: np.ndarray, totals: List[Any]) -> None:
        """One batch: forward and loss, the divergence rule, backward, the optimizer's step."""
        with np.errstate(over="ignore", invalid="ignore"):  # a blow-up is reported below
            # Pixels scaled from uint8 are finite by construction: no NaN scan per batch.
            if self.parallel is None:
                logits = self.model(self.input(batch))
                loss = self.loss_fn(logits, target)
                value, outputs = float(loss.item()), np.asarray(logits.data)
            else:  # forward and backward of the shares at once (no zero_grad needed)
                value, outputs = self.parallel(batch, target)
            self.check(self.watch.batch(value, outputs.shape[-1]))
            if self.parallel is None:
                self.optimizer.zero_grad()
                loss.backward()
            self.optimizer.step()
            if (self.done + 1) % CHECK_EVERY == 0:
                self.check(self.watch.weights(self.model))
        if self.plan.on_step is not None:
            self.plan.on_step((self.epoch - 1) * self.plan.steps + self.done + 1)
        totals[0] += value * target.size
        totals[1] += int((outputs.argmax(axis=1) == target).sum())
        totals[2] += target.size
        if self.plan.progress and (self.done % 20 == 0 or self.done == self.plan.steps - 1):
            self.bar.set_postfix(loss=format_number(totals[0] / totals[2]),
                                 acc=format_number(totals[1] / totals[2]), refresh=False)

    # -- after each epoch: evaluation and checkpointing --

    def evaluate(self, record: Dict[str, Any]) -> None:
        """The test loss and accuracy of ``val_data`` into ``record``, if given."""
        if self.plan.val is None:
            return
        with np.errstate(over="ignore", invalid="ignore"):
            record["test_loss"], record["test_accuracy"] = _evaluate_loss(
                self.model, *self.plan.val, self.plan.loss_name)
        self.model.train()
        if not math.isfinite(record["test_loss"]):
            self.check(f"the test loss became {record['test_loss']}")

    def keep(self, record: Dict[str, Any]) -> None:
        """The epoch finished well: its record, weights, checkpoint and history file, all
        written before a Ctrl-C is let through (they stay consistent)."""
        from . import checkpoint as ckpt

        plan = self.plan
        with _interrupt_deferred():
            self.history.append(record)
            self.good_state = self.model.state_dict()
            if plan.checkpoint is not None:
                meta = dict(plan.extra or {})
                meta.update({"epochs": self.epoch, "loss": plan.loss_name,
                             "history": self.history[-MAX_CHECKPOINT_HISTORY:]})
                ckpt.save(self.model, plan.checkpoint, plan.spec, extra=meta)
            if plan.history_path is not None:
                write_history(self.history, plan.history_path)
        if plan.progress:
            from tqdm import tqdm

            shown = (f"test accuracy {format_number(record['test_accuracy'])}"
                     if plan.val is not None
                     else f"train accuracy {format_number(record['train_accuracy'])}")
            tqdm.write(f"epoch {self.epoch}: loss {format_number(record['train_loss'])}, "
                       f"{shown}, {record['seconds']:.1f} s")

    # -- stopping --

    def check(self, reason: Optional[str]) -> None:
        """Raise ``TrainingDiverged`` if the divergence rule gave a ``reason``."""
        if reason is not None:
            raise TrainingDiverged(self.stopped_text("training diverged", reason)
                                   + " Try a smaller learning rate.", self.history,
                                   epoch=self.epoch, step=self.done + 1, reason=reason)

    def stopped_text(self, what: str, reason: str) -> str:
        """Put the model back to the last good weights; the one line saying so."""
        if self.bar is not None:
            self.bar.close()
        self.model.load_state_dict(self.good_state)  # checked finite when it was kept
        epoch, plan = self.epoch, self.plan
        decay = getattr(self.optimizer, "weight_decay", 0.0)
        rates = (f"learning rate {self.optimizer.lr:g}"
                 + (f", weight decay {decay:g}" if decay else ""))
        good = len(self.history)  # the epochs kept (the last may be this one, on Ctrl-C)
        back = f"after epoch {good}" if good else "it started with"
        kept = "" if plan.checkpoint is None else (
            f"; the checkpoint {plan.checkpoint} from epoch {good} is kept" if good
            else f"; nothing was saved to {plan.checkpoint}")
        return (f"{what} at epoch {epoch}, step {self.done + 1} of {plan.steps}, {rates}: "
                f"{reason}; the model was reset to the weights {back}{kept}.")


@contextlib.contextmanager
def _interrupt_deferred() -> Iterator[None]:
    """Hold a Ctrl-C (SIGINT) back until the block is done, then raise it (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.getsignal(signal.SIGINT)
    if previous is None:  # a handler installed outside Python: leave it alone
        yield
        return
    caught: List[Any] = []
    signal.signal(signal.SIGINT, lambda *args: caught.append(args))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if caught and previous is not signal.SIG_IGN:
        raise KeyboardInterrupt
