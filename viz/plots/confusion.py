"""A confusion matrix drawn with every count written in.

The counting is the library's ``microgradnn.metrics.confusion_matrix``, re-exported here
so that ``viz.confusion_matrix`` keeps working.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, List, Optional, Sequence

import numpy as np

from microgradnn.engine import format_number
from microgradnn.metrics import confusion_matrix

from .common import as_array, new_figure

if TYPE_CHECKING:  # matplotlib is imported when a figure is made (viz.plots.common)
    from matplotlib.figure import Figure

__all__ = ["confusion_matrix", "plot_confusion_matrix"]


def plot_confusion_matrix(cm: object, class_names: Optional[Sequence[str]] = None,
                          title: str = "Confusion matrix") -> Figure:
    """A (k, k) confusion matrix (rows true class, columns predicted) with each count written in.

    The title gives the accuracy (trace / total); ``class_names`` (k strings) label the ticks.
    """
    cm = as_array("plot_confusion_matrix: cm", cm, 2)
    k = cm.shape[0]
    if cm.shape != (k, k) or k == 0:
        raise ValueError(f"plot_confusion_matrix: cm must be square (k, k), got shape {cm.shape}")
    if (cm < 0).any():
        raise ValueError("plot_confusion_matrix: counts must be >= 0")
    names: List[str] = [str(i) for i in range(k)] if class_names is None else [str(c) for c in class_names]
    if len(names) != k:
        raise ValueError(f"plot_confusion_matrix: {len(names)} class names for a {k}x{k} matrix")
    total = cm.sum()
    accuracy = float(np.trace(cm) / total) if total else 0.0
    size = 1.6 + 0.45 * k
    fig = new_figure(size + 1.2, size)
    ax = fig.add_subplot()
    image = ax.imshow(cm, cmap="Blues", vmin=0)
    fig.colorbar(image, ax=ax, label="count")
    ax.set_xticks(range(k), names)
    ax.set_yticks(range(k), names)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(f"{title} (accuracy {format_number(accuracy)})")
    brightest = cm.max() if cm.max() > 0 else 1.0
    is_integer = np.all(cm == np.round(cm))
    for i in range(k):
        for j in range(k):
            text = f"{int(cm[i, j])}" if is_integer else format_number(cm[i, j])
            ax.text(j, i, text, ha="center", va="center", fontsize=8,
                    color="white" if cm[i, j] > 0.6 * brightest else "black")
    return fig
