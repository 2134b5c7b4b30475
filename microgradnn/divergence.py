"""When training has blown up: the divergence rule ``fit`` applies, for every cost.

``fit`` stops with ``TrainingDiverged`` when

1. a batch loss is NaN or infinite;
2. the smoothed training loss (an exponential moving average, ``s = 0.9 s + 0.1 loss``,
   started at the first batch's loss) rises above ``limit``: ``DIVERGENCE_FACTOR`` (10)
   times ``max(first loss, 1)``, and, for a cost with a ceiling, no more than halfway from
   the cost of chance to that ceiling. Cross-entropy has no ceiling: from scratch the limit
   is 10 x 2.3 = 23, a network far worse than guessing. The lectures' squared error of C
   sigmoid outputs costs C / 4 for outputs of 0.5 (chance) and at most C, so its limit is
   5C / 8 (6.25 for ten digits), which no network that learns comes near. One unlucky batch
   moves ``s`` by a tenth, so it cannot trip this;
3. a weight is NaN or infinite, or the weights have grown far beyond where they started:
   their root mean square more than ``GROWTH_LIMIT`` (100) times its first value. Sigmoid
   outputs stay in [0, 1] however large the weights, so a blown-up network can have a
   small squared-error cost; the size of its weights shows it (how much networks that
   learn grow theirs: benchmarks/RESULTS.md, "Divergence"). The weights are
   looked at every ``CHECK_EVERY`` steps and after the last step of every epoch, before
   they are evaluated, saved or kept;
4. an epoch's training accuracy has collapsed to chance (at most ``COLLAPSE_ACCURACY``
   (1.5) times 1 / classes) while the weights' root mean square grew more than
   ``COLLAPSE_GROWTH`` (10) times: saturated units that no longer learn (sigmoid outputs
   stuck at 0 cost only 1 under the squared error, less than chance);
5. the test loss of the epoch's evaluation is NaN or infinite.

``fit`` then puts the model back to the weights of the last epoch that finished well and
leaves the checkpoint on disk as it was: a diverged model is never saved.
"""

from __future__ import annotations

import math
from typing import Any, Dict, List, Optional, Tuple

import numpy as np

__all__ = ["TrainingDiverged", "DivergenceWatch", "DIVERGENCE_FACTOR", "GROWTH_LIMIT",
           "CHECK_EVERY", "COLLAPSE_ACCURACY", "COLLAPSE_GROWTH", "SMOOTHING", "cost_bounds", "weight_scan"]

DIVERGENCE_FACTOR = 10.0
SMOOTHING = 0.1  # weight of the newest batch in the smoothed loss
GROWTH_LIMIT = 100.0  # of the weights' root mean square over its value before training
RMS_FLOOR = 0.01  # the start's root mean square counts as at least this (weights set to 0)
COLLAPSE_ACCURACY = 1.5  # times 1 / classes: an epoch's accuracy no better than chance
COLLAPSE_GROWTH = 10.0  # ... with the weights grown this much: collapsed (rule 4)
CHECK_EVERY = 16  # steps between two looks at the weights (and after an epoch's last step)


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


def cost_bounds(loss_name: str, classes: int) -> Tuple[float, float]:
    """(cost of chance, the cost's ceiling) per example for ``classes`` outputs: what a
    network that guesses costs and the most any network can (inf: no ceiling)."""
    if loss_name == "mse":  # C outputs sigmoid(0) = 0.5 against one-hot: C / 4; at most C
        return classes / 4.0, float(classes)
    return math.log(max(classes, 1)), math.inf  # cross-entropy of the uniform guess


def weight_scan(model: Any) -> Tuple[Optional[str], float]:
    """(the name of the first parameter holding NaN or inf, else None; the root mean square
    of all parameters, inf if it overflows). One pass, no copies of the weights."""
    total, count = 0.0, 0
    with np.errstate(over="ignore", invalid="ignore"):
        for name, p in model.named_parameters():
            data = p.data
            if isinstance(data, np.ndarray):
                flat = data.ravel(order="K")  # a view in either memory order
                # A sum is finite only if every element is; it needs no boolean temporary.
                if not math.isfinite(float(np.add.reduce(flat))):
                    return name, math.inf
                total += float(np.dot(flat, flat))
                count += flat.size
            else:
                if not math.isfinite(float(data)):
                    return name, math.inf
                total += float(data) ** 2
                count += 1
    if count == 0:
        return None, 0.0
    return None, math.sqrt(total / count) if math.isfinite(total) else math.inf


class DivergenceWatch:
    """The rule's state over one ``fit`` call: ``batch(loss)`` after every batch,
    ``weights(model)`` every ``CHECK_EVERY`` steps and after every epoch; each returns the
    reason training diverged, or None."""

    def __init__(self, model: Any, loss_name: str) -> None:
        bad, self.start_rms = weight_scan(model)
        if bad is not None:
            raise ValueError(f"fit: the model's weight {bad!r} holds NaN or inf before training")
        self.loss_name = loss_name
        self.smoothed: Optional[float] = None
        self.limit = math.inf
        self.limit_text = ""
        self.classes = 0
        self.rms = self.start_rms

    def batch(self, value: float, classes: int) -> Optional[str]:
        if not math.isfinite(value):
            return f"the loss became {value}"
        if self.smoothed is None:
            self.classes = classes
            self._start(value, classes)
        else:
            self.smoothed += SMOOTHING * (value - self.smoothed)
        if self.smoothed > self.limit:
            return f"the smoothed loss {self.smoothed:.4g} rose above {self.limit_text}"
        return None

    def _start(self, first: float, classes: int) -> None:
        self.smoothed = first
        chance, ceiling = cost_bounds(self.loss_name, classes)
        self.limit = DIVERGENCE_FACTOR * max(first, 1.0)
        self.limit_text = (f"{DIVERGENCE_FACTOR:g} x max(first loss, 1) = {self.limit:.4g}")
        halfway = chance + (ceiling - chance) / 2
        if halfway < self.limit:
            self.limit = halfway
            self.limit_text = (f"{halfway:.4g}, halfway from the cost of chance {chance:.4g} "
                               f"to the most the {self.loss_name} cost can be, {ceiling:.4g}")

    def weights(self, model: Any) -> Optional[str]:
        bad, self.rms = weight_scan(model)
        if bad is not None:
            return f"weight {bad!r} became NaN or inf"
        if self.rms > GROWTH_LIMIT * max(self.start_rms, RMS_FLOOR):
            return (f"the weights' root mean square grew from {self.start_rms:.3g} to "
                    f"{self.rms:.3g}, more than {GROWTH_LIMIT:g}x")
        return None

    def epoch(self, train_accuracy: float) -> Optional[str]:
        """Rule 4, after an epoch (``weights`` looked at the weights just before)."""
        chance = 1.0 / max(self.classes, 1)
        grown = self.rms / max(self.start_rms, RMS_FLOOR)
        if train_accuracy <= COLLAPSE_ACCURACY * chance and grown > COLLAPSE_GROWTH:
            return (f"the training accuracy collapsed to {train_accuracy:.2%} (chance is "
                    f"{chance:.0%}) while the weights' root mean square grew {grown:.3g}x")
        return None
