"""The costs every view shows, each defined once (NOTATION.md, "Costs").

``C`` is the cost of one example; the cost of a mini-batch (or of the training set) is
the mean of ``C`` over its examples, and gradient descent steps against that mean's
gradient. Two costs, by the names ``microgradnn train --loss`` and checkpoints use:

- ``"mse"``, the lectures' cost: ``C = Σ_j (a[L][j] - y[j])²`` summed over the outputs,
  with ``a[L] = σ(z[L])`` and ``y`` the one-hot label. The network's outputs are the
  sigmoid activations ``a[L][j]``; no percentages (they need not sum to 1).
- ``"cross-entropy"``: ``C = -log softmax(z[L])[y]``. The outputs are
  ``softmax(z[L])``, shown as percentages.

A ``Cost`` holds its formula as every view prints it, the output activation the scalar
``MLP`` ends with (the bridge, ``microgradnn.tensor.mlp_from_sequential``, puts it there),
its function on the vectorized path (logits ``z[L]`` (N, C) and labels (N,) -> the mean
of ``C``) and its function on the scalar engine (one example's outputs and label -> ``C``).
``cost_of(model)`` is the cost a model (or a loaded checkpoint) was trained with.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Dict, Sequence

import numpy as np

from . import losses
from .engine import Value
from .tensor.functional import cross_entropy, sigmoid_mse_loss

__all__ = ["Cost", "COSTS", "COST_NAMES", "DEFAULT_COST", "get_cost", "cost_of",
           "BATCH_FORMULA"]

BATCH_FORMULA = "the cost of a batch is the mean of C over its examples"


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 0.5 + 0.5 * np.tanh(0.5 * np.asarray(z, dtype=np.float64))  # no overflow


def _softmax(z: np.ndarray) -> np.ndarray:
    z = np.asarray(z, dtype=np.float64)
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


@dataclass(frozen=True)
class Cost:
    """One cost: its name, formula, the network's output activation and its functions.

    ``tensor(logits, labels, reduction="mean")``: the vectorized path's loss on ``z[L]``.
    ``scalar(outputs, label)``: ``C`` of one example on the scalar engine, from the
    outputs of the scalar ``MLP`` the bridge builds (``a[L]`` for "mse", ``z[L]`` for
    "cross-entropy"). ``outputs(logits)``: what the network answers, as numbers.
    """

    name: str
    title: str
    formula: str
    output_activation: str  # the scalar MLP's last activation: "sigmoid" or "linear"
    softmax: bool  # True: the outputs are probabilities, shown as percentages
    tensor: Callable[..., Any]
    scalar: Callable[[Sequence[Value], int], Value]
    outputs: Callable[[np.ndarray], np.ndarray]

    @property
    def output_name(self) -> str:
        """What the views call the ten outputs: ``softmax(z[L])`` or ``a[L]``."""
        return "softmax(z[L])" if self.softmax else "a[L]"

    def describe(self) -> str:
        """One line for a page or a terminal: the formula, and how a batch's cost is made."""
        return f"{self.title}: {self.formula}; {BATCH_FORMULA}"


COSTS: Dict[str, Cost] = {
    "mse": Cost(name="mse", title="the lectures' cost",
                formula="C = Σ_j (a[L][j] - y[j])² with a[L] = σ(z[L])",
                output_activation="sigmoid", softmax=False, tensor=sigmoid_mse_loss,
                scalar=losses.quadratic_cost, outputs=_sigmoid),
    "cross-entropy": Cost(name="cross-entropy", title="cross-entropy",
                          formula="C = -log softmax(z[L])[y]",
                          output_activation="linear", softmax=True, tensor=cross_entropy,
                          scalar=losses.cross_entropy, outputs=_softmax),
}
COST_NAMES = tuple(COSTS)
DEFAULT_COST = "cross-entropy"


def get_cost(name: str) -> Cost:
    """The cost called ``name`` ("mse" or "cross-entropy"), or a ValueError naming both."""
    try:
        return COSTS[name]
    except (KeyError, TypeError):
        raise ValueError(f"loss must be one of {sorted(COSTS)}, got {name!r}") from None


def cost_of(model: Any) -> Cost:
    """The cost ``model`` was trained with: a cost name, a ``Cost``, a loaded checkpoint
    (``microgradnn.checkpoint.Checkpoint``) or a model built by ``build_model`` (its
    ``spec["loss"]``). A model without a spec was trained with cross-entropy as far as
    anyone can tell, as ``fit`` does by default."""
    if isinstance(model, Cost):
        return model
    if isinstance(model, str):
        return get_cost(model)
    inner = getattr(model, "model", None)  # a Checkpoint: its model carries the full spec
    spec = getattr(inner if inner is not None else model, "spec", None)
    if spec is None:
        spec = getattr(model, "spec", None)
    name = spec.get("loss", DEFAULT_COST) if isinstance(spec, dict) else DEFAULT_COST
    return get_cost(name)
