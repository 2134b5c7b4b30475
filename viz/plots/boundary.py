"""Matplotlib pictures of what a network learned: curves, boundaries, confusions.

Every function takes plain numbers (lists or numpy arrays, so the scalar engine and the
tensor path both fit) and returns a ``matplotlib.figure.Figure``; ``save_figure`` writes
it as PNG or SVG. Images of weights, filters and digits are in ``viz.plots_images``;
gradient flow and activation histograms in ``viz.plots_training``. All are re-exported here.
"""

from __future__ import annotations

from typing import Callable, Dict, List, Mapping, Optional, Sequence

import numpy as np
from matplotlib.colors import BoundaryNorm, ListedColormap
from matplotlib.figure import Figure

from microgradnn.engine import format_number
from microgradnn.nn import MLP

from .plots_common import as_array, new_figure, save_figure
from .plots_images import (plot_conv_filters, plot_feature_maps, plot_images, plot_misclassified,
                           plot_weight_images)
from .plots_training import mean_abs_grad_per_layer, plot_activation_histograms, plot_gradient_flow

__all__ = ["save_figure", "plot_history", "plot_decision_boundary", "mlp_predict_fn",
           "confusion_matrix", "plot_confusion_matrix", "plot_weight_images",
           "plot_conv_filters", "plot_feature_maps", "plot_misclassified", "plot_images",
           "plot_gradient_flow",
           "plot_activation_histograms", "mean_abs_grad_per_layer", "CLASS_COLORS"]

# Class colours for points and regions (colour-blind friendly, from the Okabe-Ito palette).
CLASS_COLORS = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00",
                "#F0E442", "#000000", "#999999", "#882255")

_SPLITS = ("train", "val", "test")


def plot_history(history: Sequence[Mapping[str, float]], x_key: str = "epoch") -> Figure:
    """Loss and accuracy per epoch, train and test, from a training history.

    ``history`` is one dict per epoch with keys such as ``epoch``, ``train_loss``,
    ``train_accuracy``, ``test_loss``, ``test_accuracy`` (``val_`` also works). A key
    missing from every epoch is not drawn; a key missing from some epochs is drawn at the
    epochs that have it. Epochs are numbered 1, 2, ... when ``epoch`` is absent.
    ``x_key="step"`` plots a per-step history (the scalar demo's) against ``step``.
    Returns a figure with a "Loss" axes and/or an "Accuracy" axes.
    """
    if isinstance(history, Mapping) or not isinstance(history, Sequence) or not history:
        raise ValueError(f"plot_history: expected a non-empty list of per-epoch dicts, got {history!r}")
    for i, row in enumerate(history):
        if not isinstance(row, Mapping):
            raise TypeError(f"plot_history: epoch entry {i} is {type(row).__name__}, not a dict")
    panels = []
    for metric, title in (("loss", "Loss"), ("accuracy", "Accuracy")):
        keys = [f"{split}_{metric}" for split in _SPLITS
                if any(row.get(f"{split}_{metric}") is not None for row in history)]
        if keys:
            panels.append((metric, title, keys))
    if not panels:
        raise ValueError("plot_history: no train/val/test loss or accuracy keys in the history "
                         f"(keys seen: {sorted({k for row in history for k in row})})")
    fig = new_figure(5.0 * len(panels), 3.6)
    axes = fig.subplots(1, len(panels), squeeze=False)[0]
    for ax, (metric, title, keys) in zip(axes, panels):
        for key in keys:
            xs, ys = [], []
            for i, row in enumerate(history):
                if row.get(key) is not None:
                    xs.append(float(row.get(x_key, i + 1)))
                    ys.append(float(row[key]))
            split = key.split("_", 1)[0]
            ax.plot(xs, ys, marker="o" if len(xs) <= 30 else None, markersize=3, label=split)
        ax.set_title(title)
        ax.set_xlabel(x_key)
        ax.set_ylabel(metric)
        ax.grid(True, alpha=0.3)
        ax.legend()
    return fig


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


_NUMPY_ACTIVATIONS: Dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "relu": lambda z: np.maximum(z, 0.0),
    "tanh": np.tanh,
    "sigmoid": lambda z: 0.5 * (1.0 + np.tanh(0.5 * z)),  # = 1/(1+exp(-z)), never overflows
    "linear": lambda z: z,
}


def mlp_predict_fn(model: MLP) -> Callable[[np.ndarray], np.ndarray]:
    """A ``predict_fn`` for ``plot_decision_boundary`` from a scalar-engine ``MLP``.

    Reads the current weights once and evaluates the same network with numpy, so a
    40,000-point grid takes milliseconds instead of a minute of ``Value`` graphs. The
    function returns (m,) scores for one output and (m, classes) scores otherwise.
    """
    if not isinstance(model, MLP):
        raise TypeError(f"mlp_predict_fn: expected a microgradnn.nn.MLP, got {type(model).__name__}")
    layers = [(layer.weight_matrix(), np.array([n.b.data for n in layer.neurons]),
               _NUMPY_ACTIVATIONS[layer.activation]) for layer in model.layers]

    def predict(points: np.ndarray) -> np.ndarray:
        out = as_array("mlp_predict_fn: points", points, 2)
        if out.shape[1] != model.nin:
            raise ValueError(f"mlp_predict_fn: the MLP takes {model.nin} inputs, got shape {out.shape}")
        for weight, bias, activation in layers:
            out = activation(out @ weight.T + bias)
        return out[:, 0] if out.shape[1] == 1 else out

    return predict


def confusion_matrix(labels: object, predictions: object, num_classes: Optional[int] = None) -> np.ndarray:
    """Counts ``cm[true, predicted]`` as an int64 (k, k) array; k from the data if not given."""
    labels = as_array("confusion_matrix: labels", labels, 1, np.int64)
    predictions = as_array("confusion_matrix: predictions", predictions, 1, np.int64)
    if labels.shape != predictions.shape:
        raise ValueError(f"confusion_matrix: {labels.shape[0]} labels but {predictions.shape[0]} predictions")
    if labels.size and min(labels.min(), predictions.min()) < 0:
        raise ValueError("confusion_matrix: class ids must be >= 0")
    k = num_classes if num_classes is not None else int(max(labels.max(initial=0),
                                                            predictions.max(initial=0))) + 1
    if labels.size and max(labels.max(), predictions.max()) >= k:
        raise ValueError(f"confusion_matrix: a class id is >= num_classes={k}")
    cm = np.zeros((k, k), dtype=np.int64)
    np.add.at(cm, (labels, predictions), 1)
    return cm


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
