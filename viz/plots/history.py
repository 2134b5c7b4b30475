"""Loss and accuracy per epoch (or per step) from a training history."""

from __future__ import annotations

from typing import TYPE_CHECKING, Mapping, Sequence

from .common import new_figure

if TYPE_CHECKING:  # matplotlib is imported when a figure is made (viz.plots.common)
    from matplotlib.figure import Figure

__all__ = ["plot_history"]

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
