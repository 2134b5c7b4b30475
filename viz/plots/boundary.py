"""The regions a 2-D classifier assigns to each class, with the data points on top."""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable

import numpy as np

from microgradnn.engine import format_number
from microgradnn.nn import MLP

from .common import as_array, new_figure

if TYPE_CHECKING:  # matplotlib is imported when a figure is made (viz.plots.common)
    from matplotlib.figure import Figure

__all__ = ["plot_decision_boundary", "mlp_predict_fn", "CLASS_COLORS"]

# Class colours for points and regions (colour-blind friendly, from the Okabe-Ito palette).
CLASS_COLORS = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00",
                "#F0E442", "#000000", "#999999", "#882255")

def _class_ids(scores: np.ndarray, m: int, threshold: float) -> np.ndarray:
    """Class ids from what a predict function returned for ``m`` points."""
    scores = np.asarray(scores)
    if scores.ndim == 2 and scores.shape[1] == 1:
        scores = scores[:, 0]
    if scores.shape[0] != m or scores.ndim not in (1, 2):
        raise ValueError(f"plot_decision_boundary: predict_fn returned shape {scores.shape} "
                         f"for {m} points; expected ({m},) or ({m}, classes)")
    if scores.ndim == 2:
        return np.argmax(scores, axis=1)
    if scores.dtype.kind in "iub":
        return scores.astype(np.int64)
    return (scores > threshold).astype(np.int64)


def plot_decision_boundary(predict_fn: Callable[[np.ndarray], np.ndarray], X: object, y: object,
                           resolution: int = 200, threshold: float = 0.0,
                           title: str = "Decision boundary") -> Figure:
    """The regions a 2-D classifier assigns to each class, with the data points on top.

    ``predict_fn`` maps an (m, 2) float array to either class ids (an integer (m,) array),
    one score per point (float (m,) or (m, 1): class 1 where score > ``threshold``, and the
    ``threshold`` contour is drawn), or (m, classes) scores (argmax). ``X`` is (n, 2),
    ``y`` (n,) integer labels. The title reports the accuracy on the points.
    """
    X = as_array("plot_decision_boundary: X", X, 2)
    y = as_array("plot_decision_boundary: y", y, 1).astype(np.int64)
    if X.shape[1] != 2 or X.shape[0] != y.shape[0] or X.shape[0] == 0:
        raise ValueError(f"plot_decision_boundary: X must be (n, 2) and y (n,), got {X.shape} and {y.shape}")
    if not isinstance(resolution, int) or resolution < 2:
        raise ValueError(f"plot_decision_boundary: resolution must be an integer >= 2, got {resolution!r}")
    lo, hi = X.min(axis=0), X.max(axis=0)
    margin = 0.15 * np.maximum(hi - lo, 1e-9) + 0.1
    gx = np.linspace(lo[0] - margin[0], hi[0] + margin[0], resolution)
    gy = np.linspace(lo[1] - margin[1], hi[1] + margin[1], resolution)
    xx, yy = np.meshgrid(gx, gy)
    grid = np.column_stack([xx.ravel(), yy.ravel()])
    raw = np.asarray(predict_fn(grid))
    region = _class_ids(raw, grid.shape[0], threshold).reshape(xx.shape)
    predicted = _class_ids(np.asarray(predict_fn(X)), X.shape[0], threshold)
    accuracy = float(np.mean(predicted == y))

    from matplotlib.colors import BoundaryNorm, ListedColormap

    n_classes = int(max(region.max(), y.max(), 1)) + 1
    if n_classes > len(CLASS_COLORS):
        raise ValueError(f"plot_decision_boundary: at most {len(CLASS_COLORS)} classes, got {n_classes}")
    cmap = ListedColormap(CLASS_COLORS[:n_classes])
    norm = BoundaryNorm(np.arange(n_classes + 1) - 0.5, n_classes)
    fig = new_figure(5.0, 4.6)
    ax = fig.add_subplot()
    ax.contourf(xx, yy, region, levels=np.arange(n_classes + 1) - 0.5, cmap=cmap, norm=norm,
                alpha=0.3)
    scores = raw.reshape(-1) if raw.ndim == 1 or raw.shape[-1:] == (1,) else None
    if scores is not None and raw.dtype.kind == "f" and scores.min() < threshold < scores.max():
        ax.contour(xx, yy, scores.reshape(xx.shape), levels=[threshold], colors="k", linewidths=1)
    ax.scatter(X[:, 0], X[:, 1], c=y, cmap=cmap, norm=norm, s=18, edgecolors="k", linewidths=0.5)
    ax.set_xlim(gx[0], gx[-1])
    ax.set_ylim(gy[0], gy[-1])
    ax.set_xlabel("x1")
    ax.set_ylabel("x2")
    ax.set_title(f"{title} (accuracy {format_number(accuracy)})")
    return fig


def mlp_predict_fn(model: MLP) -> Callable[[np.ndarray], np.ndarray]:
    """A ``predict_fn`` for ``plot_decision_boundary`` from a scalar-engine ``MLP``.

    Runs the library's array version of the network
    (``microgradnn.tensor.bridge.mlp_array_function``, the weights as they are now), so a
    40,000-point grid takes milliseconds instead of a minute of ``Value`` graphs. The
    function returns (m,) scores for one output and (m, classes) scores otherwise.
    """
    if not isinstance(model, MLP):
        raise TypeError(f"mlp_predict_fn: expected a microgradnn.nn.MLP, got {type(model).__name__}")
    from microgradnn.tensor.bridge import mlp_array_function  # the vectorized path, on demand

    forward = mlp_array_function(model)

    def predict(points: np.ndarray) -> np.ndarray:
        x = as_array("mlp_predict_fn: points", points, 2)
        if x.shape[1] != model.nin:
            raise ValueError(f"mlp_predict_fn: the MLP takes {model.nin} inputs, got shape {x.shape}")
        out = forward(x)
        return out[:, 0] if out.shape[1] == 1 else out

    return predict
