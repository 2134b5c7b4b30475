"""Finite-difference gradient checking for anyone's scalar function.

``gradcheck(f, [2.0, -3.0])`` calls ``f`` with ``Value`` leaves, backpropagates,
and compares every gradient with the central difference
``(f(x + h) - f(x - h)) / 2h`` computed on plain floats through the same ``f``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, List, Sequence

from .engine import Value

__all__ = ["gradcheck", "numerical_gradient", "GradcheckError", "GradcheckResult"]


class GradcheckError(AssertionError):
    """Backpropagated and numerical gradients disagree."""


@dataclass
class GradcheckResult:
    analytic: List[float]
    numeric: List[float]
    max_abs_error: float


def _evaluate(f: Callable[..., Value], xs: Sequence[float]) -> float:
    out = f(*[Value(x) for x in xs])
    if not isinstance(out, Value):
        raise TypeError(f"gradcheck: the function must return a Value, got {type(out).__name__}")
    return out.data


def numerical_gradient(f: Callable[..., Value], inputs: Sequence[float], h: float = 1e-6) -> List[float]:
    """Central differences of ``f`` at ``inputs``: one entry per input."""
    xs = [float(x) for x in inputs]
    grads = []
    for i in range(len(xs)):
        plus, minus = list(xs), list(xs)
        plus[i] += h
        minus[i] -= h
        grads.append((_evaluate(f, plus) - _evaluate(f, minus)) / (2.0 * h))
    return grads


def gradcheck(f: Callable[..., Value], inputs: Sequence[float], h: float = 1e-6,
              atol: float = 1e-5, rtol: float = 1e-4) -> GradcheckResult:
    """Check ``f``'s backpropagated gradients against finite differences.

    ``f`` takes one ``Value`` per entry of ``inputs`` and returns a ``Value``.
    Returns the two gradients; raises ``GradcheckError`` naming every input whose
    gradients differ by more than ``atol + rtol * |numeric|``.
    """
    leaves = [Value(float(x), label=f"x{i}") for i, x in enumerate(inputs)]
    out = f(*leaves)
    if not isinstance(out, Value):
        raise TypeError(f"gradcheck: the function must return a Value, got {type(out).__name__}")
    out.backward()
    analytic = [leaf.grad for leaf in leaves]
    numeric = numerical_gradient(f, inputs, h)
    errors = [abs(a - n) for a, n in zip(analytic, numeric)]
    bad = [f"input {i}: backprop {a:.8g}, finite difference {n:.8g}"
           for i, (a, n, e) in enumerate(zip(analytic, numeric, errors)) if e > atol + rtol * abs(n)]
    if bad:
        raise GradcheckError("gradcheck failed at " + "; ".join(bad))
    return GradcheckResult(analytic, numeric, max(errors, default=0.0))
