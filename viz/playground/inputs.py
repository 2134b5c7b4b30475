"""Checks for what the page sends: numbers, whole numbers and grids of numbers.

Each refusal is a ``ValueError`` of one line naming the field and the value, raised before
anything is allocated from the value's size (a grid's rows are counted first).
"""

from __future__ import annotations

import math
from typing import Any, Tuple

import numpy as np

__all__ = ["check_grid", "check_int", "check_number", "check_choice"]


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def check_int(value: Any, name: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) \
            or not low <= value <= high:
        raise ValueError(f"{name} must be a whole number in {low}..{high}, got {_shown(value)}")
    return int(value)


def check_number(value: Any, name: str, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) \
            or not math.isfinite(value) or not low <= value <= high:
        raise ValueError(f"{name} must be a number in [{low:g}, {high:g}], got {_shown(value)}")
    return float(value)


def check_choice(value: Any, name: str, choices: Tuple[str, ...]) -> str:
    if not isinstance(value, str) or value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(choices)}, got {_shown(value)}")
    return value


def check_grid(value: Any, name: str, smallest: Tuple[int, int],
               largest: Tuple[int, int]) -> np.ndarray:
    """A list of rows of numbers in [0, 1], between ``smallest`` and ``largest`` (rows,
    columns) in size, as a float64 array."""
    if not isinstance(value, list) or not all(isinstance(row, list) for row in value):
        raise ValueError(f"{name} must be a list of rows of numbers")
    rows = len(value)
    cols = len(value[0]) if rows else 0
    if not (smallest[0] <= rows <= largest[0] and smallest[1] <= cols <= largest[1]):
        want = (f"{largest[0]}x{largest[1]}" if smallest == largest
                else f"from {smallest[0]}x{smallest[1]} to {largest[0]}x{largest[1]}")
        raise ValueError(f"{name} must be {want} numbers, got {rows}x{cols}")
    if any(len(row) != cols for row in value):
        raise ValueError(f"{name}: the rows have different lengths")
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool)
               for row in value for v in row):
        raise ValueError(f"{name} must hold numbers only")
    grid = np.array(value, dtype=np.float64)
    if not np.isfinite(grid).all():
        raise ValueError(f"{name} holds NaN or infinite numbers")
    if grid.min() < 0 or grid.max() > 1:
        raise ValueError(f"{name} must hold numbers in [0, 1], got values in "
                         f"[{grid.min():g}, {grid.max():g}]")
    return grid
