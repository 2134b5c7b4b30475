"""What every matplotlib picture shares: a headless Figure, input checks, an atomic save.

Figures are built as ``matplotlib.figure.Figure`` objects on an Agg canvas, never through
``pyplot``: no global figure list to leak, no GUI backend needed, safe in threads and tests.
matplotlib is imported inside the functions that draw (here by ``new_figure``), never by
``import viz``: it costs most of a second that ``microgradnn graph`` does not need.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import TYPE_CHECKING, Sequence, Tuple, Union

import numpy as np

from microgradnn.fileio import atomic_path

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["save_figure", "new_figure", "as_array", "grid_shape", "symmetric_limit",
           "FIGURE_FORMATS"]

FIGURE_FORMATS = ("png", "svg")
PathLike = Union[str, "os.PathLike[str]"]


def new_figure(width: float, height: float) -> Figure:
    """A Figure of ``width`` x ``height`` inches attached to an Agg (headless) canvas."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def save_figure(fig: Figure, path: PathLike, dpi: int = 120) -> Path:
    """Write ``fig`` to ``path`` as PNG or SVG (from the suffix), atomically.

    The picture is rendered into a temporary file in the same directory and then
    moved over ``path``, so a reader never sees half a file. Missing parent
    directories are created. Returns the path written.
    """
    from matplotlib.figure import Figure

    if not isinstance(fig, Figure):
        raise TypeError(f"save_figure: expected a matplotlib Figure, got {type(fig).__name__}")
    path = Path(path)
    fmt = path.suffix.lower().lstrip(".")
    if fmt not in FIGURE_FORMATS:
        raise ValueError(f"save_figure: unsupported file type {path.suffix!r} in {str(path)!r}; "
                         f"use one of {', '.join('.' + f for f in FIGURE_FORMATS)}")
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format=fmt, dpi=dpi)
    return path


def as_array(name: str, value: object, ndim: Union[int, Sequence[int], None] = None,
             dtype: type = np.float64) -> np.ndarray:
    """``value`` as a numpy array of ``dtype``, checked for dimensions and finiteness.

    Accepts lists, numpy arrays and anything with a ``.data`` array (a Tensor).
    """
    # A Tensor carries its array in .data; numpy arrays also have a .data (a raw buffer).
    data = value if isinstance(value, np.ndarray) else getattr(value, "data", value)
    try:
        array = np.asarray(data, dtype=dtype)
    except (TypeError, ValueError) as error:
        raise TypeError(f"{name}: expected numbers, got {type(value).__name__} ({error})") from None
    if ndim is not None:
        allowed = (ndim,) if isinstance(ndim, int) else tuple(ndim)
        if array.ndim not in allowed:
            want = " or ".join(f"{d}-D" for d in allowed)
            raise ValueError(f"{name}: expected a {want} array, got shape {array.shape}")
    if array.size and np.issubdtype(array.dtype, np.floating) and not np.isfinite(array).all():
        raise ValueError(f"{name}: contains NaN or infinite values")
    return array


def grid_shape(count: int, max_cols: int = 8) -> Tuple[int, int]:
    """Rows and columns of a near-square grid holding ``count`` panels."""
    if count < 1:
        raise ValueError(f"grid_shape: need at least one panel, got {count}")
    cols = min(max_cols, math.ceil(math.sqrt(count)))
    return math.ceil(count / cols), cols


def symmetric_limit(array: np.ndarray) -> float:
    """``max |array|`` (1.0 for an all-zero array) so that colour limits are ``[-v, v]``."""
    limit = float(np.max(np.abs(array))) if array.size else 0.0
    return limit if limit > 0.0 else 1.0
