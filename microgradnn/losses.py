"""Losses on scalar ``Value``s, built from engine ops so every step can be drawn and stepped.

PyTorch's names keep PyTorch's meaning: ``mse_loss`` is the mean of the squared
differences (``reduction="sum"`` adds them), ``cross_entropy`` the mean over the samples.
The lectures' cost has a name of its own, ``quadratic_cost``: for one example
``C = Σ_j (a[L][j] - y[j])²``, summed over the outputs, and the mean of ``C`` for a batch
(``microgradnn.costs`` lists the costs every view uses). The array versions
(``microgradnn.tensor.cross_entropy``, ``quadratic_cost`` and friends) are fused ops of the
vectorized path with the same numbers.
"""

from __future__ import annotations

import math
import numbers
from typing import Iterable, Sequence, Union

from .engine import Value

__all__ = ["mse_loss", "quadratic_cost", "hinge_loss", "cross_entropy", "binary_cross_entropy",
           "l2_penalty", "REDUCTIONS"]

Scalar = Union[Value, float]
REDUCTIONS = ("mean", "sum")
_NO_SHIFT = 30.0  # |largest logit| up to which cross_entropy needs no shift: exp(30) ~ 1e13


def _check_lengths(name: str, predictions: Sequence, targets: Sequence) -> None:
    if len(predictions) != len(targets):
        raise ValueError(f"{name}: {len(predictions)} predictions but {len(targets)} targets")
    if len(predictions) == 0:
        raise ValueError(f"{name}: no samples given")


def _total(terms: Iterable[Value]) -> Value:
    """The sum of ``terms`` as the textbook writes it: ``t0 + t1 + ...``, no ``0 +`` first
    (``sum(..., Value(0.0))`` would draw a plumbing node a learner has to decode)."""
    it = iter(terms)
    total = next(it)
    for t in it:
        total = total + t
    return total


def _mean(total: Value, n: int) -> Value:
    """``total / n``, except for one sample, where the mean is the total itself (no ``/ 1``)."""
    return total if n == 1 else total / n


def _target(t: Scalar, j: int) -> Value:
    """A target as a labelled leaf, ``y[j]``, so pictures name it as the lectures do
    (a target given as a ``Value`` is used as it is)."""
    return t if isinstance(t, Value) else Value(float(t), label=f"y[{j}]")


def _check_reduction(name: str, reduction: str) -> None:
    if reduction not in REDUCTIONS:
        raise ValueError(f"{name}: reduction must be 'mean' or 'sum', got {reduction!r}")


def mse_loss(predictions: Sequence[Scalar], targets: Sequence[float],
             reduction: str = "mean") -> Value:
    """``(1/n) Σ_i (predictions[i] - targets[i])²``, PyTorch's ``mse_loss``: the mean over
    every number given; ``reduction="sum"`` leaves out the ``1/n``. For the lectures' cost
    (summed over one example's outputs, averaged over examples) use ``quadratic_cost``."""
    _check_reduction("mse_loss", reduction)
    _check_lengths("mse_loss", predictions, targets)
    total = _total((p - _target(t, j)) ** 2 for j, (p, t) in enumerate(zip(predictions, targets)))
    return _mean(total, len(predictions)) if reduction == "mean" else total


def _one_hot(target: object, size: int, name: str) -> Sequence[float]:
    """A class index as the one-hot vector ``y`` of ``size`` numbers; a vector as it is."""
    if _is_class_index(target):
        if not 0 <= target < size:
            raise ValueError(f"{name}: target {target!r} is not a class index in [0, {size})")
        return [1.0 if j == target else 0.0 for j in range(size)]
    if not isinstance(target, Sequence):
        raise ValueError(f"{name}: the target is a class index or one number per output, "
                         f"got {type(target).__name__}")
    return target


def quadratic_cost(outputs: Union[Sequence[Scalar], Sequence[Sequence[Scalar]]],
                   targets: object) -> Value:
    """The lectures' cost: ``C = Σ_j (a[L][j] - y[j])²`` for one example, the mean of ``C``
    over a batch.

    ``outputs`` are one example's output activations ``a[L]`` (after the output sigmoid)
    and ``targets`` its class index (``y`` is then one-hot, ``y[j] = 1`` for the label) or
    its ``y`` as numbers; for a batch, one list of outputs per example and one target each.
    Summed over the outputs, unlike ``mse_loss``, which divides by their number too.
    The vectorized twin is ``microgradnn.tensor.quadratic_cost``.
    """
    if _one_sample(outputs):
        outputs, targets = [outputs], [targets]
    elif _is_class_index(targets) or not isinstance(targets, Sequence):
        raise ValueError(f"quadratic_cost: {len(outputs)} examples' outputs need one target "
                         f"each, got {targets!r}")
    _check_lengths("quadratic_cost", outputs, targets)
    per_example = []
    for a, target in zip(outputs, targets):
        y = _one_hot(target, len(a), "quadratic_cost")
        _check_lengths("quadratic_cost", a, y)
        per_example.append(_total((p - _target(t, j)) ** 2 for j, (p, t) in enumerate(zip(a, y))))
    return _mean(_total(per_example), len(outputs))


def hinge_loss(scores: Sequence[Value], labels: Sequence[float]) -> Value:
    """Mean of ``relu(1 - y * score)`` with labels ``y`` in {-1, +1} (micrograd's demo)."""
    _check_lengths("hinge_loss", scores, labels)
    for y in labels:
        if y not in (-1, 1):
            raise ValueError(f"hinge_loss: labels must be -1 or +1, got {y!r}")
    # 1 - s for y = +1 and 1 + s for y = -1: relu(1 - y*s) without a "* 1" node
    total = _total(((1 - s) if y == 1 else (1 + s)).relu() for s, y in zip(scores, labels))
    return _mean(total, len(scores))


def _is_class_index(target: object) -> bool:
    return isinstance(target, numbers.Integral) and not isinstance(target, bool)


def _one_sample(logits: object) -> bool:
    """True when ``logits`` is one sample's class scores (Values or numbers), not a batch."""
    return (isinstance(logits, Sequence) and len(logits) > 0
            and all(isinstance(v, (Value, numbers.Real)) for v in logits))


def cross_entropy(logits: Union[Sequence[Sequence[Scalar]], Sequence[Scalar]],
                  targets: Union[Sequence[int], int]) -> Value:
    """Mean softmax cross-entropy, ``logsumexp(z) - z[target]`` per sample.

    Numerically stable: when the largest logit is beyond ±30, it is subtracted (as a
    constant) before ``exp``, so logits in the thousands neither overflow nor lose the
    answer; smaller logits are drawn as the textbook writes the loss,
    ``log(Σ exp(z[j])) - z[target]``.
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
    per_sample = []
    for z, target in zip(logits, targets):
        if not _is_class_index(target) or not 0 <= target < len(z):
            raise ValueError(f"cross_entropy: target {target!r} is not a class index in [0, {len(z)})")
        z = [v if isinstance(v, Value) else Value(float(v)) for v in z]
        shift = max(v.data for v in z)
        if -_NO_SHIFT <= shift <= _NO_SHIFT:  # exp cannot overflow or all underflow: no
            log_sum_exp = _total(v.exp() for v in z).log()  # "- m" and "+ m" nodes to decode
        else:
            log_sum_exp = _total((v - shift).exp() for v in z).log() + shift
        per_sample.append(log_sum_exp - z[target])
    return _mean(_total(per_sample), len(logits))


def binary_cross_entropy(probabilities: Sequence[Value], targets: Sequence[float],
                         eps: float = 1e-12) -> Value:
    """Mean of ``-(y log p + (1-y) log(1-p))`` for probabilities ``p`` (after a sigmoid)
    and targets ``y`` in [0, 1]; ``p`` is kept at least ``eps`` from 0 and 1 so that a
    confident wrong answer gives a large finite loss instead of ``log(0)``."""
    _check_lengths("binary_cross_entropy", probabilities, targets)
    per_sample = []
    for p, y in zip(probabilities, targets):
        if not 0.0 <= y <= 1.0:
            raise ValueError(f"binary_cross_entropy: target must be in [0, 1], got {y!r}")
        pd = p.data
        if not 0.0 <= pd <= 1.0 or math.isnan(pd):
            raise ValueError(f"binary_cross_entropy: probability must be in [0, 1], got {pd!r}")
        # Clamping is done with a constant shift so the gradient still flows through p.
        shift = min(max(pd, eps), 1.0 - eps) - pd
        p_safe = p if shift == 0.0 else p + shift
        # y = 1 and y = 0 keep only the term that is not multiplied by 0 (same numbers and
        # gradients: the other term adds 0 * finite); no "1.0 *" node either.
        if y == 1.0:
            per_sample.append(-p_safe.log())
        elif y == 0.0:
            per_sample.append(-(1.0 - p_safe).log())
        else:
            per_sample.append(-(y * p_safe.log() + (1.0 - y) * (1.0 - p_safe).log()))
    return _mean(_total(per_sample), len(probabilities))


def l2_penalty(parameters: Sequence[Value], alpha: float) -> Value:
    """``alpha * sum(p**2)``: the weight decay term of micrograd's demo."""
    parameters = list(parameters)
    if not parameters:
        return Value(0.0)
    return alpha * _total(p * p for p in parameters)
