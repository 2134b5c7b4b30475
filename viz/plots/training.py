"""Pictures of what happens inside during training: gradient flow and activations.

``plot_gradient_flow`` shows the mean |gradient| of each layer's parameters over the steps
(log scale), several runs side by side, e.g. sigmoid against ReLU: with sigmoid the
first layers get gradients orders of magnitude smaller (vanishing gradients).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np

from microgradnn.engine import format_number

from .common import as_array, grid_shape, new_figure

if TYPE_CHECKING:  # matplotlib is imported when a figure is made (viz.plots.common)
    from matplotlib.figure import Figure

__all__ = ["plot_gradient_flow", "plot_activation_histograms", "mean_abs_grad_per_layer",
           "layers_of"]

Series = Dict[str, np.ndarray]


def layers_of(module: Any) -> List[Tuple[str, List[Any]]]:
    """The layers of ``module`` in order, as ``(path, parameters)``, read from its module tree.

    The layers are the children that hold parameters (``MLP``'s ``layers.0``, ``layers.1``;
    a ``Sequential``'s ``0``, ``2``, ``4``, skipping parameter-free activations). A module
    holding nothing itself and a single such child (a wrapper, a list of layers) is
    looked through. A module with no such child is one layer; parameters a module holds
    beside its children form a layer named after the module, listed first.
    """
    path, current = "", module
    while True:
        holders = [(f"{path}.{name}" if path else name, child, child.parameters())
                   for name, child in current.named_children()]
        holders = [h for h in holders if h[2]]
        inside = {id(p) for _, _, params in holders for p in params}
        own = [p for p in current.parameters() if id(p) not in inside]
        if len(holders) != 1 or own:
            break
        path, current, _ = holders[0]
    layers = [(path or type(module).__name__, own)] if own else []
    return layers + [(name, params) for name, _, params in holders]


def mean_abs_grad_per_layer(module: Any) -> Dict[str, float]:
    """Mean |grad| of each layer's parameters, in layer order: ``{"layers.0": 0.012, ...}``.

    Layers come from the module's own tree (``layers_of``), never from parameter names;
    every parameter of a layer counts, weights and biases alike. Works for a scalar
    ``MLP`` (``Value`` grads) and for tensor modules (array grads; a parameter whose
    grad is ``None`` counts as zero). Call it after ``backward()``.
    """
    means: Dict[str, float] = {}
    for name, parameters in layers_of(module):
        total, count = 0.0, 0
        for param in parameters:
            grad = param.grad
            if grad is None:
                count += int(np.size(param.data))
            else:
                grad = np.asarray(grad, dtype=np.float64)
                total += float(np.abs(grad).sum())
                count += grad.size
        means[name] = total / count if count else 0.0
    if not means:
        raise ValueError(f"mean_abs_grad_per_layer: {type(module).__name__} has no parameters")
    return means


def _as_series(name: str, data: Any) -> Series:
    """``{layer: values over steps}`` from that mapping or from a list of per-step dicts."""
    if isinstance(data, Mapping):
        series = {str(layer): as_array(f"plot_gradient_flow: {name}[{layer!r}]", values, 1)
                  for layer, values in data.items()}
    elif isinstance(data, Sequence) and data and all(isinstance(step, Mapping) for step in data):
        layers = list(dict.fromkeys(layer for step in data for layer in step))
        series = {str(layer): as_array(f"plot_gradient_flow: {name} layer {layer!r}",
                                       [step.get(layer, np.nan) for step in data], 1)
                  for layer in layers}
    else:
        raise TypeError(f"plot_gradient_flow: {name} must map layer -> values per step, or be a "
                        f"list of per-step {{layer: value}} dicts; got {type(data).__name__}")
    if not series:
        raise ValueError(f"plot_gradient_flow: {name} has no layers")
    return series


def _normalize_runs(records: Any) -> Dict[str, Series]:
    if isinstance(records, Mapping) and records:
        first = next(iter(records.values()))
        if isinstance(first, Mapping) or (isinstance(first, Sequence) and first
                                          and isinstance(first[0], Mapping)):
            return {str(run): _as_series(f"run {run!r}", data) for run, data in records.items()}
    return {"": _as_series("records", records)}


def _moving_average(values: np.ndarray, window: int) -> np.ndarray:
    """Mean of each run of ``window`` consecutive values: length ``size - window + 1``."""
    sums = np.cumsum(np.concatenate([[0.0], values]))
    return (sums[window:] - sums[:-window]) / window


def plot_gradient_flow(records: Any, title: str = "Gradient flow", every: int = 1,
                       smooth: Optional[int] = None) -> Figure:
    """Mean |grad| per layer over training steps, log scale, one panel per run.

    ``records`` is one of:
      * ``{run: {layer: [g_step0, g_step1, ...]}}`` e.g. ``{"sigmoid": ..., "relu": ...}``;
      * ``{run: [{layer: g}, ...]}`` (one dict per step, as ``mean_abs_grad_per_layer`` gives);
      * one run alone, in either of those two forms.
    All panels share the y axis so runs compare directly. A last panel plots the mean over
    steps against layer depth, one line per run: how the gradient shrinks towards the input.
    Non-positive values cannot be drawn on a log axis and are left out. ``every`` says
    how many training steps lie between two records (the x axis counts steps). Long,
    noisy series are smoothed: a moving average over ``smooth`` records (by default 1
    under 200 records, else 1% of them) drawn over the raw values, which stay faint.
    """
    if not isinstance(every, int) or isinstance(every, bool) or every < 1:
        raise ValueError(f"plot_gradient_flow: every must be a positive integer, got {every!r}")
    runs = _normalize_runs(records)
    layers = list(dict.fromkeys(layer for series in runs.values() for layer in series))
    colors = {layer: f"C{i % 10}" for i, layer in enumerate(layers)}
    fig = new_figure(4.2 * (len(runs) + 1), 3.6)
    axes = fig.subplots(1, len(runs) + 1, squeeze=False, sharey=True)[0]
    for ax, (run, series) in zip(axes, runs.items()):
        for layer, values in series.items():
            window = smooth if smooth is not None else (1 if values.size < 200 else values.size // 100)
            if not isinstance(window, int) or not 1 <= window <= max(1, values.size):
                raise ValueError(f"plot_gradient_flow: smooth must be an integer in 1..{values.size}, "
                                 f"got {smooth!r}")
            steps = every * np.arange(values.size)
            positive = np.where(values > 0, values, np.nan)
            if window == 1:
                ax.plot(steps, positive, color=colors[layer], label=layer)
                continue
            ax.plot(steps, positive, color=colors[layer], alpha=0.2, linewidth=0.6)
            centre = every * ((window - 1) / 2 + np.arange(values.size - window + 1))
            ax.plot(centre, _moving_average(positive, window), color=colors[layer],
                    label=f"{layer} (mean of {window})")
        ax.set_yscale("log")
        ax.set_title(run or "mean |grad| per layer")
        ax.set_xlabel("step")
        ax.set_ylabel("mean |grad| of parameters")
        ax.grid(True, which="both", alpha=0.25)
        ax.legend(fontsize=7, title="layer", title_fontsize=7)
    summary = axes[-1]
    for run, series in runs.items():
        depth = [layer for layer in layers if layer in series]
        means = [float(np.nanmean(series[layer])) for layer in depth]
        summary.plot([layers.index(layer) for layer in depth],
                     [m if m > 0 else np.nan for m in means], marker="o", label=run or "mean")
    summary.set_yscale("log")
    summary.set_xticks(range(len(layers)), layers, rotation=30, fontsize=7)
    summary.set_title("mean over steps, by layer")
    summary.set_xlabel("layer (input -> output)")
    summary.set_ylabel("mean |grad| of parameters")
    summary.grid(True, which="both", alpha=0.25)
    summary.legend(fontsize=7)
    fig.suptitle(title)
    return fig


def plot_activation_histograms(activations: Mapping[str, Any], bins: int = 50,
                               title: str = "Activations per layer") -> Figure:
    """One histogram per layer of the values its neurons output (any shape, flattened).

    ``activations`` maps a layer name to an array of activations (e.g. (batch, units)),
    in layer order. Each panel notes the mean, the std and the share of exact zeros
    (dead ReLUs) or of values within 0.01 of 0 or 1 (saturated sigmoids).
    """
    if not isinstance(activations, Mapping) or not activations:
        raise ValueError("plot_activation_histograms: expected a non-empty dict {layer name: array}")
    if not isinstance(bins, int) or bins < 1:
        raise ValueError(f"plot_activation_histograms: bins must be a positive integer, got {bins!r}")
    arrays = {str(name): as_array(f"plot_activation_histograms: {name!r}", values).ravel()
              for name, values in activations.items()}
    for name, values in arrays.items():
        if values.size == 0:
            raise ValueError(f"plot_activation_histograms: layer {name!r} has no values")
    rows, cols = grid_shape(len(arrays), max_cols=4)
    fig = new_figure(3.4 * cols, 2.8 * rows + 0.4)
    axes = fig.subplots(rows, cols, squeeze=False).ravel()
    for ax in axes[len(arrays):]:
        fig.delaxes(ax)
    for ax, (name, values) in zip(axes, arrays.items()):
        ax.hist(values, bins=bins, color="#0072B2", alpha=0.85)
        ax.set_title(name)
        ax.set_xlabel("activation")
        ax.set_ylabel("count")
        notes = [f"mean {format_number(values.mean())}", f"std {format_number(values.std())}"]
        zeros = float(np.mean(values == 0.0))
        if zeros > 0:
            notes.append(f"{100 * zeros:.1f}% exactly 0")
        if values.min() >= 0.0 and values.max() <= 1.0:
            saturated = float(np.mean((values < 0.01) | (values > 0.99)))
            notes.append(f"{100 * saturated:.1f}% within 0.01 of 0 or 1")
        ax.text(0.97, 0.95, "\n".join(notes), transform=ax.transAxes, ha="right", va="top",
                fontsize=7, bbox={"facecolor": "white", "alpha": 0.8, "edgecolor": "none"})
    fig.suptitle(title)
    return fig
