"""Training a scalar-engine classifier on a 2-D toy problem: micrograd's demo recipe.

Full-batch steps of hinge loss + L2 penalty with SGD whose learning rate falls
linearly from ``lr`` to ``lr / 10``, as in micrograd's ``demo.ipynb``.
"""

from __future__ import annotations

from typing import Dict, List, Sequence

import numpy as np
from tqdm.auto import tqdm

from .engine import Value
from .losses import hinge_loss, l2_penalty
from .nn import MLP

__all__ = ["train_hinge_classifier", "hinge_accuracy", "sample_loss"]


def hinge_accuracy(scores: Sequence[Value], labels: Sequence[float]) -> float:
    """Fraction of scores on the right side of zero for labels in {-1, +1}."""
    return sum((s.data > 0) == (y > 0) for s, y in zip(scores, labels)) / len(labels)


def _signed_labels(y: np.ndarray) -> List[float]:
    values = sorted(set(np.asarray(y).tolist()))
    if not set(values) <= {0, 1}:
        raise ValueError(f"labels must be 0 or 1 (two classes), got the values {values}")
    return [2.0 * v - 1.0 for v in np.asarray(y).tolist()]


def sample_loss(model: MLP, x: Sequence[float], label: int) -> Value:
    """The hinge loss of one sample (label 0 or 1): a small graph worth drawing."""
    return hinge_loss([model([Value(v, label=f"x[{i}]") for i, v in enumerate(x)])], _signed_labels([label]))


def train_hinge_classifier(model: MLP, X: np.ndarray, y: np.ndarray, steps: int = 100,
                           lr: float = 1.0, alpha: float = 1e-4,
                           progress: bool = True) -> List[Dict[str, float]]:
    """Train ``model`` (one output) on ``X`` (n, 2) and labels ``y`` (n,) in {0, 1}.

    Returns the history: one ``{"step", "loss", "accuracy", "lr"}`` dict per step,
    loss and accuracy measured before that step's update.
    """
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2 or X.shape[1] != model.nin or len(X) != len(y):
        raise ValueError(f"train_hinge_classifier: X must be (n, {model.nin}) with one label per row, "
                         f"got X {X.shape} and {len(y)} labels")
    if not isinstance(steps, int) or steps < 1:
        raise ValueError(f"steps must be a positive integer, got {steps!r}")
    labels = _signed_labels(y)
    rows = X.tolist()
    params = model.parameters()
    history: List[Dict[str, float]] = []
    bar = tqdm(range(steps), desc="training", unit="step", disable=not progress, leave=False)
    for k in bar:
        scores = [model(row) for row in rows]
        loss = hinge_loss(scores, labels) + l2_penalty(params, alpha)
        model.zero_grad()
        loss.backward()
        step_lr = lr * (1.0 - 0.9 * k / steps)
        for p in params:
            p.data -= step_lr * p.grad
        accuracy = hinge_accuracy(scores, labels)
        history.append({"step": k, "loss": loss.data, "accuracy": accuracy, "lr": step_lr})
        if k % 10 == 0 or k == steps - 1:
            bar.set_postfix(loss=f"{loss.data:.4f}", acc=f"{accuracy:.2f}", refresh=False)
    return history
