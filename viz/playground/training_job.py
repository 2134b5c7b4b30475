"""Training live: the project's training step, run as the playground's background job.

Each step is ``microgradnn.training.fit``'s own: a shuffled mini-batch through
``input_tensor``, the model, the cost of ``training.LOSSES``, ``zero_grad``, ``backward`` and
the optimizer's ``step`` (``microgradnn.optim``: SGD, SGD with momentum 0.9, Adam). Written
out here rather than calling ``fit`` because the page needs three things ``fit`` has no hook
for: each step's loss for the curve, a pause between any two steps, and the session's lock
held around each step (the page reads the weights between steps, never in the middle of
one). After each epoch (and every ``EVAL_EVERY`` steps) the model is evaluated on the test
set with ``training.evaluate``. A loss that is NaN or infinite stops the job with a message.
"""

from __future__ import annotations

import math
import time
from typing import Any, Dict, List

import numpy as np

from microgradnn.training import evaluate, input_tensor, loss_function

from .inputs import check_choice, check_int, check_number
from .jobs import JobControl
from .session import Session

__all__ = ["TrainingSettings", "training_job", "loss_curve", "OPTIMIZERS"]

OPTIMIZERS = ("sgd", "momentum", "adam")
EVAL_EVERY = 1000
REPORT_EVERY = 0.1  # seconds between two progress reports
CURVE_POINTS = 400


class TrainingSettings:
    """The page's settings, checked: optimizer, lr, batch size, epochs, seed."""

    def __init__(self, body: Dict[str, Any]) -> None:
        self.optimizer = check_choice(body.get("optimizer", "sgd"), "optimizer", OPTIMIZERS)
        self.lr = check_number(body.get("lr", 0.1), "lr", 1e-6, 10.0)
        self.batch_size = check_int(body.get("batch_size", 32), "batch_size", 1, 1024)
        self.epochs = check_int(body.get("epochs", 1), "epochs", 1, 100)
        self.seed = check_int(body.get("seed", 0), "seed", 0, 2**31 - 1)
        self.eval_every = check_int(body.get("eval_every", EVAL_EVERY), "eval_every", 10, 10**6)

    def as_dict(self) -> Dict[str, Any]:
        return dict(vars(self))

    def make_optimizer(self, parameters: List[Any]) -> Any:
        from microgradnn.optim import SGD, Adam

        if self.optimizer == "adam":
            return Adam(parameters, lr=self.lr)
        return SGD(parameters, lr=self.lr, momentum=0.9 if self.optimizer == "momentum" else 0)


def loss_curve(losses: List[float], points: int = CURVE_POINTS) -> Dict[str, Any]:
    """At most ``points`` means of consecutive steps' losses: {"steps", "loss", "every"}."""
    n = len(losses)
    every = max(1, math.ceil(n / points))
    values = np.asarray(losses[:n - n % every], dtype=np.float64) if n >= every else \
        np.zeros(0)
    means = values.reshape(-1, every).mean(axis=1) if values.size else values
    return {"steps": [(i + 1) * every for i in range(means.size)], "loss": means.tolist(),
            "every": every, "count": n}


def training_job(session: Session, settings: TrainingSettings) -> Any:
    """The job's function for ``JobRunner.start``: trains ``session.model`` in place."""
    images, labels = session.mnist("train")
    test_images, test_labels = session.mnist("test")

    def run(control: JobControl) -> None:
        session.losses, session.accuracy = [], []  # a new curve (only once the job runs)
        model = session.model
        optimizer = settings.make_optimizer(list(model.parameters()))
        loss_fn = loss_function(session.loss)
        rng = np.random.default_rng(settings.seed)
        n, size = labels.size, settings.batch_size
        steps = math.ceil(n / size)
        session.push_undo("the training")
        done, last, elapsed = 0, 0.0, 0.0  # elapsed: seconds in steps, evaluations left out
        control.report(settings=settings.as_dict(), steps_per_epoch=steps,
                       epochs=settings.epochs, step=0, epoch=0)
        with session.lock:
            model.train()
        try:
            for epoch in range(1, settings.epochs + 1):
                order = rng.permutation(n)
                for step in range(steps):
                    control.checkpoint()
                    started = time.perf_counter()
                    index = np.sort(order[step * size:(step + 1) * size])
                    with session.lock:
                        with np.errstate(over="ignore", invalid="ignore"):
                            loss = loss_fn(model(input_tensor(images[index], session.shape,
                                                              session.mode)),
                                           labels[index])
                            value = float(loss.item())
                            if not math.isfinite(value):
                                raise ValueError(f"training diverged at epoch {epoch}, step "
                                                 f"{step + 1}: the loss became {value}; try a "
                                                 f"smaller learning rate (undo restores the "
                                                 f"weights before training)")
                            optimizer.zero_grad()
                            loss.backward()
                            optimizer.step()
                        session.weights_changed()
                    session.losses.append(value)
                    elapsed += time.perf_counter() - started
                    done += 1
                    if done % settings.eval_every == 0 or step == steps - 1:
                        _evaluate(session, test_images, test_labels, done)
                    now = time.monotonic()
                    if now - last >= REPORT_EVERY or step == steps - 1:
                        last = now
                        control.report(step=done, epoch=epoch, loss=value, seconds=elapsed,
                                       steps_per_second=done / elapsed if elapsed else None)
        finally:
            with session.lock:
                model.eval()
    return run


def _evaluate(session: Session, images: np.ndarray, labels: np.ndarray, step: int) -> None:
    with session.lock:
        accuracy, _ = evaluate(session.model, images, labels)
    session.accuracy.append({"step": step, "accuracy": float(accuracy)})
