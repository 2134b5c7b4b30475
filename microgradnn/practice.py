"""Backprop by hand on arrays: compare your gradient with the engine's, one clear line.

``check(name, yours, reference)`` says whether an array you computed (say with numpy,
for ``∂C/∂W[2]``) is the reference (the gradient ``backward()`` left in ``.grad``):

* ``exact``: every entry equal, bit for bit;
* ``approximate``: equal within ``rtol``/``atol`` (``|yours - ref| <= atol + rtol |ref|``
  entrywise, as ``numpy.allclose``), and the line gives the largest difference;
* ``wrong``: a different shape (both shapes named), or an entry off by more, and the line
  names the worst entry (the largest difference), its value and the reference's;
* ``missing``: ``yours`` is ``None`` (an exercise cell left empty).

It prints the line (unless ``quiet=True``) and returns a ``CheckResult``, true when the
answer is exact or approximate, so ``assert check(...)`` works too.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Optional, Tuple

import numpy as np

__all__ = ["check", "CheckResult", "VERDICTS"]

VERDICTS = ("exact", "approximate", "wrong", "missing")
_WIDTH = max(map(len, VERDICTS))


@dataclass(frozen=True)
class CheckResult:
    """What ``check`` found.

    Attributes:
        name: what was checked (``"∂C/∂W[2]"``).
        verdict: one of ``VERDICTS``.
        max_diff: the largest ``|yours - reference|`` (NaN when the shapes differ or nothing
            was given; inf where an entry is NaN or infinite and the reference's is not).
        where: the index of that entry (``()`` for a scalar; None without one).
        message: the line ``check`` prints.
    """

    name: str
    verdict: str
    max_diff: float
    where: Optional[Tuple[int, ...]]
    message: str

    def __bool__(self) -> bool:
        return self.verdict in ("exact", "approximate")

    def __str__(self) -> str:
        return self.message


def _array(value: Any, what: str, name: str) -> np.ndarray:
    # a Tensor or a Value holds its numbers in .data (a numpy array's .data is its buffer)
    plain = isinstance(value, (np.ndarray, np.generic)) or not hasattr(value, "data")
    data = value if plain else value.data
    try:
        array = np.asarray(data)
    except (TypeError, ValueError):
        array = np.asarray(None)
    if array.dtype.kind not in "biuf":
        raise TypeError(f"check {name}: {what} must be numbers (an array, a Tensor or a float), "
                        f"got {type(value).__name__}")
    return array.astype(np.float64)


def _index(where: Tuple[int, ...]) -> str:
    return "[" + ", ".join(map(str, where)) + "]" if where else "the value"


def _num(x: float) -> str:
    return f"{x:.6g}"


def check(name: str, yours: Any, reference: Any, *, rtol: float = 1e-5, atol: float = 1e-8,
          quiet: bool = False) -> CheckResult:
    """Compare ``yours`` with ``reference`` (arrays, Tensors or numbers); print one line.

    ``reference`` is usually an engine's gradient, e.g. ``model[2].weight.grad``. Shapes
    must match exactly (no broadcasting: a ``(16,)`` bias is not a ``(16, 1)`` column).
    Returns a ``CheckResult`` (true for exact and approximate).
    """
    label = f"{name}:"
    if yours is None:
        result = CheckResult(name, "missing", math.nan, None,
                             f"{'missing':<{_WIDTH}}  {label} not done yet: write it in the "
                             f"cell above")
        return _said(result, quiet)
    ref = _array(reference, "the reference", name)
    mine = _array(yours, "yours", name)
    if mine.shape != ref.shape:
        message = (f"{'wrong':<{_WIDTH}}  {label} shape {tuple(mine.shape)}, the reference's "
                   f"is {tuple(ref.shape)}")
        return _said(CheckResult(name, "wrong", math.nan, None, message), quiet)
    with np.errstate(invalid="ignore", over="ignore"):
        diff = np.abs(mine - ref)
    same_special = (mine == ref) | (np.isnan(mine) & np.isnan(ref))
    diff = np.where(same_special, 0.0, np.where(np.isnan(diff), np.inf, diff))
    worst = tuple(int(i) for i in np.unravel_index(int(np.argmax(diff)), diff.shape)) \
        if diff.size else ()
    largest = float(diff[worst]) if diff.size else 0.0
    if bool(np.all(same_special)):
        verdict, detail = "exact", "equal to the reference, entry for entry"
    elif bool(np.all(diff <= atol + rtol * np.abs(np.where(np.isfinite(ref), ref, 0.0)))):
        verdict = "approximate"
        detail = f"largest difference {largest:.1e} (at {_index(worst)})"
    else:
        verdict = "wrong"
        detail = (f"at {_index(worst)} yours is {_num(float(mine[worst]))}, the reference "
                  f"{_num(float(ref[worst]))} (largest difference {_num(largest)})")
    message = f"{verdict:<{_WIDTH}}  {label} {detail}"
    return _said(CheckResult(name, verdict, largest, worst if diff.size else (), message),
                 quiet)


def _said(result: CheckResult, quiet: bool) -> CheckResult:
    if not quiet:
        print(result.message)
    return result
