"""Losses on scalar ``Value``s, each a mean over the samples given.

The array versions (``microgradnn.tensor.cross_entropy`` and friends) are fused
ops of the vectorized path; these are built from engine ops so every step of them
can be drawn and stepped through.
"""

from __future__ import annotations

import math
import numbers
from typing import Sequence, Union

from .engine import Value

__all__ = ["mse_loss", "hinge_loss", "cross_entropy", "binary_cross_entropy", "l2_penalty"]

Scalar = Union[Value, float]


def _check_lengths(name: str, predictions: Sequence, targets: Sequence) -> None:
    if len(predictions) != len(targets):
        raise ValueError(f"{name}: {len(predictions)} predictions but {len(targets)} targets")
    if len(predictions) == 0:
        raise ValueError(f"{name}: no samples given")


def mse_loss(predictions: Sequence[Scalar], targets: Sequence[float]) -> Value:
    """Mean of ``(prediction - target)**2``: the "cost" of the classic explanation
    (times the number of outputs if you sum instead of average)."""
    _check_lengths("mse_loss", predictions, targets)
    total = sum(((p - t) ** 2 for p, t in zip(predictions, targets)), Value(0.0))
    return total / len(predictions)


def hinge_loss(scores: Sequence[Value], labels: Sequence[float]) -> Value:
    """Mean of ``relu(1 - y * score)`` with labels ``y`` in {-1, +1} (micrograd's demo)."""
    _check_lengths("hinge_loss", scores, labels)
    for y in labels:
        if y not in (-1, 1):
            raise ValueError(f"hinge_loss: labels must be -1 or +1, got {y!r}")
    total = sum(((1 + -y * s).relu() for s, y in zip(scores, labels)), Value(0.0))
    return total / len(scores)


def _is_class_index(target: object) -> bool:
    return isinstance(target, numbers.Integral) and not isinstance(target, bool)


def _one_sample(logits: object) -> bool:
    """True when ``logits`` is one sample's class scores (Values or numbers), not a batch."""
    return (isinstance(logits, Sequence) and len(logits) > 0
            and all(isinstance(v, (Value, numbers.Real)) for v in logits))


def cross_entropy(logits: Union[Sequence[Sequence[Scalar]], Sequence[Scalar]],
                  targets: Union[Sequence[int], int]) -> Value:
    """Mean softmax cross-entropy, ``logsumexp(z) - z[target]`` per sample.

    Numerically stable: the largest logit is subtracted (as a constant) before
    ``exp``, so logits in the thousands neither overflow nor lose the answer.
    ``logits`` is one list of class scores per sample and ``targets`` their class
    indices; one sample may be given as its scores and one index, like PyTorch's
    unbatched input: ``cross_entropy(model(x), 7)``.
    """
    if _is_class_index(targets):
        if not isinstance(logits, Sequence):
            raise ValueError(f"cross_entropy: with one target ({targets!r}) the logits are one "
                             f"sample's class scores, a list of Values; got {type(logits).__name__}")
        if not _one_sample(logits):
            raise ValueError(f"cross_entropy: one target ({targets!r}) for a batch of {len(logits)} "
                             f"samples: give one class index per sample, "
                             f"cross_entropy(logits, [{targets!r}, ...])")
        logits, targets = [logits], [targets]
    elif _one_sample(logits):
        raise ValueError(f"cross_entropy: logits are one sample's {len(logits)} class scores, "
                         f"so the target is one class index: cross_entropy(out, 7), "
                         f"or cross_entropy([out], [7]) for a batch of one")
    _check_lengths("cross_entropy", logits, targets)
    total = Value(0.0)
    for z, target in zip(logits, targets):
        if not _is_class_index(target) or not 0 <= target < len(z):
            raise ValueError(f"cross_entropy: target {target!r} is not a class index in [0, {len(z)})")
        shift = max(v.data if isinstance(v, Value) else float(v) for v in z)
        sum_exp = sum(((v - shift).exp() for v in z), Value(0.0))
        total = total + (sum_exp.log() + shift - z[target])
    return total / len(logits)


def binary_cross_entropy(probabilities: Sequence[Value], targets: Sequence[float],
                         eps: float = 1e-12) -> Value:
    """Mean of ``-(y log p + (1-y) log(1-p))`` for probabilities ``p`` (after a sigmoid)
    and targets ``y`` in [0, 1]; ``p`` is kept at least ``eps`` from 0 and 1 so that a
    confident wrong answer gives a large finite loss instead of ``log(0)``."""
    _check_lengths("binary_cross_entropy", probabilities, targets)
    total = Value(0.0)
    for p, y in zip(probabilities, targets):
        if not 0.0 <= y <= 1.0:
            raise ValueError(f"binary_cross_entropy: target must be in [0, 1], got {y!r}")
        pd = p.data
        if not 0.0 <= pd <= 1.0 or math.isnan(pd):
            raise ValueError(f"binary_cross_entropy: probability must be in [0, 1], got {pd!r}")
        # Clamping is done with a constant shift so the gradient still flows through p.
        p_safe = p + (min(max(pd, eps), 1.0 - eps) - pd)
        total = total - (y * p_safe.log() + (1.0 - y) * (1.0 - p_safe).log())
    return total / len(probabilities)


def l2_penalty(parameters: Sequence[Value], alpha: float) -> Value:
    """``alpha * sum(p**2)``: the weight decay term of micrograd's demo."""
    return alpha * sum((p * p for p in parameters), Value(0.0))
