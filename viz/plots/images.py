"""Pictures made of small images: hidden-neuron weights, conv filters, feature maps, digits.

Weights and filters use a diverging colormap centred at 0 (red positive, blue negative,
white zero) with one shared, symmetric colour scale, so panels can be compared.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Optional, Sequence, Tuple

import numpy as np

from .common import as_array, grid_shape, new_figure, symmetric_limit

if TYPE_CHECKING:  # matplotlib is imported when a figure is made (viz.plots.common)
    from matplotlib.figure import Figure

__all__ = ["plot_weight_images", "plot_conv_filters", "plot_feature_maps", "plot_misclassified",
           "plot_images", "DIVERGING_CMAP"]

DIVERGING_CMAP = "RdBu_r"


def _panel_grid(fig: Figure, count: int, max_cols: int = 8):
    """``count`` image axes in a near-square grid, ticks off; unused cells removed."""
    rows, cols = grid_shape(count, max_cols)
    axes = fig.subplots(rows, cols, squeeze=False).ravel()
    for ax in axes[count:]:
        fig.delaxes(ax)
    for ax in axes[:count]:
        ax.set_xticks([])
        ax.set_yticks([])
    return axes[:count]


def _check_count(name: str, value: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return value


def plot_weight_images(W: object, shape: Tuple[int, int] = (28, 28), max_images: int = 64,
                       title: str = "What each hidden neuron looks for") -> Figure:
    """Each row of a first-layer weight matrix drawn as an image.

    ``W`` is (neurons, inputs) as in ``Linear.weight`` and ``Layer.weight_matrix()``, with
    inputs = shape[0] * shape[1] (784 for MNIST). Red pixels push the neuron up, blue down.
    At most ``max_images`` neurons are drawn; all share one colour scale [-m, m], m = max |W|.
    """
    W = as_array("plot_weight_images: W", W, 2)
    if len(shape) != 2 or min(shape) < 1:
        raise ValueError(f"plot_weight_images: shape must be (height, width), got {shape!r}")
    pixels = shape[0] * shape[1]
    if W.shape[1] != pixels:
        hint = "; rows must be neurons, so pass W.T" if W.shape[0] == pixels else ""
        raise ValueError(f"plot_weight_images: W has shape {W.shape}, but images of shape "
                         f"{tuple(shape)} need {pixels} columns{hint}")
    count = min(W.shape[0], _check_count("max_images", max_images))
    images = W[:count].reshape(count, *shape)
    limit = symmetric_limit(images)
    rows, cols = grid_shape(count)
    fig = new_figure(1.3 * cols + 1.0, 1.3 * rows + 0.6)
    axes = _panel_grid(fig, count)
    for i, ax in enumerate(axes):
        image = ax.imshow(images[i], cmap=DIVERGING_CMAP, vmin=-limit, vmax=limit)
        ax.set_title(f"neuron {i}", fontsize=8)
    fig.colorbar(image, ax=list(axes), label="weight", shrink=0.8)
    fig.suptitle(title)
    return fig


def plot_conv_filters(weights: object, max_out: int = 32, max_in: int = 8,
                      title: str = "Convolution filters") -> Figure:
    """The kernels of a conv layer, ``weights`` of shape (out, in, kh, kw).

    With one input channel the ``out`` filters fill a grid (titled "filter o"); with
    several, row "out o", column "in i" shows filter o's kernel for input channel i. One symmetric diverging colour scale for all.
    """
    weights = as_array("plot_conv_filters: weights", weights, 4)
    n_out = min(weights.shape[0], _check_count("max_out", max_out))
    n_in = min(weights.shape[1], _check_count("max_in", max_in))
    if 0 in weights.shape:
        raise ValueError(f"plot_conv_filters: empty weights of shape {weights.shape}")
    kernels = weights[:n_out, :n_in]
    limit = symmetric_limit(kernels)
    if n_in == 1:
        rows, cols = grid_shape(n_out)
        fig = new_figure(1.1 * cols + 1.0, 1.1 * rows + 0.6)
        axes = _panel_grid(fig, n_out)
        panels = [(ax, kernels[o, 0], f"filter {o}") for o, ax in enumerate(axes)]
    else:
        fig = new_figure(0.9 * n_in + 1.4, 0.9 * n_out + 0.6)
        grid = fig.subplots(n_out, n_in, squeeze=False)
        panels = []
        for o in range(n_out):
            for i in range(n_in):
                ax = grid[o, i]
                ax.set_xticks([])
                ax.set_yticks([])
                if i == 0:
                    ax.set_ylabel(f"out {o}", fontsize=7)
                panels.append((ax, kernels[o, i], f"in {i}" if o == 0 else ""))
        axes = list(grid.ravel())
    for ax, kernel, label in panels:
        image = ax.imshow(kernel, cmap=DIVERGING_CMAP, vmin=-limit, vmax=limit)
        ax.set_title(label, fontsize=7)
    fig.colorbar(image, ax=list(axes), label="weight", shrink=0.8)
    out_ch, in_ch, kh, kw = weights.shape
    text = f"{title}: {out_ch} filters of {kh}x{kw} over {in_ch} input channel{'s' * (in_ch > 1)}"
    if (n_out, n_in) != (out_ch, in_ch):
        text += f" (first {n_out} x {n_in} shown)"
    fig.suptitle(text)
    return fig


def plot_feature_maps(maps: object, image: Optional[object] = None, max_maps: int = 32,
                      title: str = "Feature maps") -> Figure:
    """The channels a conv layer computed for one input, ``maps`` of shape (C, H, W).

    If ``image`` (H0, W0) is given it is drawn first, in grey, as "input". Each map has
    its own colour scale (viridis): what matters is where a channel fires, not how much.
    """
    maps = as_array("plot_feature_maps: maps", maps, 3)
    if 0 in maps.shape:
        raise ValueError(f"plot_feature_maps: empty maps of shape {maps.shape}")
    count = min(maps.shape[0], _check_count("max_maps", max_maps))
    panels = [(maps[c], f"channel {c}", "viridis") for c in range(count)]
    if image is not None:
        picture = as_array("plot_feature_maps: image", image, (2, 3))
        if picture.ndim == 3:  # (1, H, W): one grey channel
            if picture.shape[0] != 1:
                raise ValueError(f"plot_feature_maps: image must be (H, W) or (1, H, W), got {picture.shape}")
            picture = picture[0]
        panels.insert(0, (picture, "input", "gray"))
    rows, cols = grid_shape(len(panels))
    fig = new_figure(1.4 * cols + 0.4, 1.4 * rows + 0.6)
    axes = _panel_grid(fig, len(panels))
    for ax, (data, label, cmap) in zip(axes, panels):
        ax.imshow(data, cmap=cmap)
        ax.set_title(label, fontsize=8)
    fig.suptitle(f"{title} ({maps.shape[0]} channels, {maps.shape[1]}x{maps.shape[2]})")
    return fig


def plot_misclassified(images: object, labels: Sequence[int], predictions: Sequence[int],
                       max_images: int = 24, confidences: Optional[Sequence[float]] = None,
                       shape: Tuple[int, int] = (28, 28),
                       title: str = "Misclassified digits") -> Figure:
    """A gallery of the images whose prediction differs from the label.

    ``images`` is (n, H, W) or (n, H*W) (reshaped to ``shape``), ``labels`` and
    ``predictions`` (n,) class ids, optional ``confidences`` (n,) the probability given
    to the prediction. Each panel is titled "true 3 -> 5" (and the confidence). The first
    ``max_images`` mistakes are drawn in order; with none, the figure says so.
    """
    images = as_array("plot_misclassified: images", images, (2, 3))
    labels = as_array("plot_misclassified: labels", labels, 1, np.int64)
    predictions = as_array("plot_misclassified: predictions", predictions, 1, np.int64)
    n = images.shape[0]
    if labels.shape[0] != n or predictions.shape[0] != n:
        raise ValueError(f"plot_misclassified: {n} images, {labels.shape[0]} labels and "
                         f"{predictions.shape[0]} predictions; they must match")
    if images.ndim == 2:
        if images.shape[1] != shape[0] * shape[1]:
            raise ValueError(f"plot_misclassified: flat images of length {images.shape[1]} "
                             f"cannot be shown as {tuple(shape)}")
        images = images.reshape(n, *shape)
    if confidences is not None:
        confidences = as_array("plot_misclassified: confidences", confidences, 1)
        if confidences.shape[0] != n:
            raise ValueError(f"plot_misclassified: {confidences.shape[0]} confidences for {n} images")
    wrong = np.flatnonzero(labels != predictions)
    shown = wrong[:_check_count("max_images", max_images)]
    if shown.size == 0:
        fig = new_figure(4.0, 1.5)
        ax = fig.add_subplot()
        ax.axis("off")
        ax.text(0.5, 0.5, f"no misclassified images among {n}", ha="center", va="center")
        fig.suptitle(title)
        return fig
    rows, cols = grid_shape(shown.size)
    fig = new_figure(1.35 * cols + 0.4, 1.5 * rows + 0.6)
    axes = _panel_grid(fig, shown.size)
    for ax, index in zip(axes, shown):
        ax.imshow(images[index], cmap="gray_r")
        text = f"true {labels[index]} -> {predictions[index]}"
        if confidences is not None:
            text += f"\n{100 * confidences[index]:.0f}%"
        ax.set_title(text, fontsize=8, color="#B22222")
    fig.suptitle(f"{title}: {wrong.size} of {n} wrong, first {shown.size} shown")
    return fig


def plot_images(images: object, titles: Optional[Sequence[str]] = None, max_images: int = 32,
                shape: Tuple[int, int] = (28, 28), cmap: str = "gray_r",
                title: str = "") -> Figure:
    """A gallery of images, e.g. digits with what a network said about them.

    ``images`` is (n, H, W) or (n, H*W) (reshaped to ``shape``); ``titles`` one string per
    image. Grey images share the colour scale of the data; the first ``max_images`` are drawn.
    """
    images = as_array("plot_images: images", images, (2, 3))
    n = images.shape[0]
    if n == 0:
        raise ValueError("plot_images: no images given")
    if images.ndim == 2:
        if images.shape[1] != shape[0] * shape[1]:
            raise ValueError(f"plot_images: flat images of length {images.shape[1]} cannot be "
                             f"shown as {tuple(shape)}")
        images = images.reshape(n, *shape)
    if titles is not None and len(titles) != n:
        raise ValueError(f"plot_images: {len(titles)} titles for {n} images")
    count = min(n, _check_count("max_images", max_images))
    rows, cols = grid_shape(count)
    fig = new_figure(1.35 * cols + 0.4, 1.5 * rows + (0.6 if title else 0.2))
    axes = _panel_grid(fig, count)
    low, high = float(images[:count].min()), float(images[:count].max())
    for i, ax in enumerate(axes):
        ax.imshow(images[i], cmap=cmap, vmin=low, vmax=high)
        if titles is not None:
            ax.set_title(str(titles[i]), fontsize=8)
    if title:
        fig.suptitle(title)
    return fig
