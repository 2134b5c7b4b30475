"""The matplotlib pictures: what each figure contains, not just that it renders."""

from __future__ import annotations

import os
import subprocess
import sys
import xml.etree.ElementTree as ElementTree
from pathlib import Path

import numpy as np
import pytest
from matplotlib.figure import Figure

from microgradnn.datasets import make_moons
from microgradnn.engine import Value
from microgradnn.nn import MLP
from viz.plots import (confusion_matrix, mean_abs_grad_per_layer, mlp_predict_fn,
                       plot_activation_histograms, plot_confusion_matrix, plot_conv_filters,
                       plot_decision_boundary, plot_feature_maps, plot_gradient_flow,
                       plot_history, plot_images, plot_misclassified, plot_weight_images,
                       save_figure)

RNG = np.random.default_rng(0)


def image_axes(fig: Figure):
    """Axes that show an image (colorbars excluded), in creation order."""
    return [ax for ax in fig.axes if ax.images and ax.get_label() != "<colorbar>"]


def colorbar_axes(fig: Figure):
    return [ax for ax in fig.axes if ax.get_label() == "<colorbar>"]


def history(epochs: int = 4, with_test: bool = True):
    rows = []
    for e in range(1, epochs + 1):
        row = {"epoch": e, "train_loss": 2.0 / e, "train_accuracy": 1 - 0.5 / e}
        if with_test:
            row.update(test_loss=2.5 / e, test_accuracy=1 - 0.6 / e)
        rows.append(row)
    return rows


# ---------------------------------------------------------------- saving

def test_save_figure_png_and_svg_atomically(tmp_path):
    fig = plot_history(history())
    png = save_figure(fig, tmp_path / "sub" / "curves.png")
    svg = save_figure(fig, tmp_path / "curves.svg")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    root = ElementTree.parse(svg).getroot()
    assert root.tag.endswith("svg")
    assert sorted(os.listdir(tmp_path)) == ["curves.svg", "sub"]  # no temp files left
    assert os.listdir(tmp_path / "sub") == ["curves.png"]
    mode = os.stat(png).st_mode & 0o777
    assert mode & 0o044, f"file mode {oct(mode)} is not readable by others (umask ignored)"


def test_save_figure_refuses_unknown_suffix_and_non_figures(tmp_path):
    with pytest.raises(ValueError, match=r"\.jpg"):
        save_figure(plot_history(history()), tmp_path / "x.jpg")
    with pytest.raises(TypeError, match="Figure"):
        save_figure("not a figure", tmp_path / "x.png")
    assert os.listdir(tmp_path) == []


def test_figures_never_touch_pyplot(tmp_path):
    """Building and saving every kind of figure must not import pyplot (no global state)."""
    code = (
        "import sys, numpy as np, viz\n"
        "r = np.random.default_rng(0)\n"
        "figs = [viz.plot_history([{'train_loss': 1.0}]),\n"
        "        viz.plot_weight_images(r.normal(size=(2, 784))),\n"
        "        viz.plot_conv_filters(r.normal(size=(2, 1, 3, 3))),\n"
        "        viz.plot_feature_maps(r.random((2, 5, 5))),\n"
        "        viz.plot_confusion_matrix(np.eye(2)),\n"
        "        viz.plot_gradient_flow({'a': [1.0, 2.0]}),\n"
        "        viz.plot_activation_histograms({'a': r.random(9)}),\n"
        "        viz.plot_decision_boundary(lambda p: p[:, 0], r.normal(size=(4, 2)), [0, 1, 0, 1])]\n"
        f"viz.save_figure(figs[0], {str(tmp_path / 'x.png')!r})\n"
        "print('matplotlib.pyplot' in sys.modules)\n")
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[1]))
    env.pop("MPLBACKEND", None)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"


# ---------------------------------------------------------------- history

def test_history_draws_each_present_series_with_its_data():
    rows = history(5)
    fig = plot_history(rows)
    loss_ax, acc_ax = fig.axes
    assert loss_ax.get_title() == "Loss" and acc_ax.get_title() == "Accuracy"
    assert loss_ax.get_xlabel() == "epoch"
    labels = [line.get_label() for line in loss_ax.get_lines()]
    assert labels == ["train", "test"]
    train = loss_ax.get_lines()[0]
    np.testing.assert_allclose(train.get_xdata(), [1, 2, 3, 4, 5])
    np.testing.assert_allclose(train.get_ydata(), [r["train_loss"] for r in rows])
    np.testing.assert_allclose(acc_ax.get_lines()[1].get_ydata(), [r["test_accuracy"] for r in rows])


def test_history_by_step_uses_the_step_key_and_label():
    rows = [{"step": 10 * i, "train_loss": 1.0 / (i + 1)} for i in range(4)]
    (ax,) = plot_history(rows, x_key="step").axes
    assert ax.get_xlabel() == "step"
    np.testing.assert_allclose(ax.get_lines()[0].get_xdata(), [0, 10, 20, 30])


def test_history_skips_missing_keys():
    fig = plot_history(history(3, with_test=False))
    assert [ax.get_title() for ax in fig.axes] == ["Loss", "Accuracy"]
    assert all(len(ax.get_lines()) == 1 for ax in fig.axes)
    only_loss = plot_history([{"train_loss": 1.0}, {"train_loss": 0.5, "test_loss": 0.7}])
    (ax,) = only_loss.axes
    assert ax.get_title() == "Loss"
    test_line = ax.get_lines()[1]
    np.testing.assert_allclose(test_line.get_xdata(), [2])  # numbered from 1, only where present
    np.testing.assert_allclose(test_line.get_ydata(), [0.7])


@pytest.mark.parametrize("bad", [[], {"train_loss": [1.0]}, [{"lr": 0.1}], [1.0]])
def test_history_rejects_bad_input(bad):
    with pytest.raises((ValueError, TypeError)):
        plot_history(bad)


# ---------------------------------------------------------------- decision boundary

def test_mlp_predict_fn_matches_the_scalar_engine():
    model = MLP(2, [8, 8, 1], activation="tanh", seed=3)
    points = RNG.normal(size=(6, 2))
    expected = [model([Value(a), Value(b)]).data for a, b in points]
    np.testing.assert_allclose(mlp_predict_fn(model)(points), expected, rtol=1e-12, atol=1e-12)
    multi = MLP(2, [5, 3], activation="sigmoid", seed=1)
    expected = [[v.data for v in multi(list(p))] for p in points]
    np.testing.assert_allclose(mlp_predict_fn(multi)(points), expected, rtol=1e-12, atol=1e-12)
    with pytest.raises(TypeError, match="MLP"):
        mlp_predict_fn(lambda x: x)


def test_decision_boundary_regions_points_and_accuracy():
    X, y = make_moons(60, noise=0.1, seed=0)
    predict = lambda P: P[:, 1] - 0.25  # noqa: E731  a horizontal line: class 1 above
    fig = plot_decision_boundary(predict, X, y, resolution=50)
    (ax,) = fig.axes
    accuracy = np.mean((X[:, 1] > 0.25).astype(int) == y)
    assert ax.get_title() == f"Decision boundary (accuracy {accuracy:.4f})"
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("x1", "x2")
    scatter = ax.collections[-1]
    np.testing.assert_allclose(scatter.get_offsets(), X)
    np.testing.assert_array_equal(scatter.get_array(), y)
    lo, hi = ax.get_ylim()
    assert lo < X[:, 1].min() and hi > X[:, 1].max()
    # the threshold contour is drawn, at y = 0.25 (a path of constant height)
    contour = [c for c in ax.collections if hasattr(c, "levels") and list(c.levels) == [0.0]]
    assert contour, "threshold line missing"
    vertices = np.concatenate([p.vertices for p in contour[0].get_paths()])
    np.testing.assert_allclose(vertices[:, 1], 0.25, atol=1e-9)


def test_decision_boundary_class_ids_and_multiclass_scores():
    X = RNG.normal(size=(30, 2))
    y = (X[:, 0] > 0).astype(int) + (X[:, 1] > 0).astype(int)
    ids = lambda P: ((P[:, 0] > 0).astype(np.int64) + (P[:, 1] > 0))  # noqa: E731
    fig = plot_decision_boundary(ids, X, y, resolution=20)
    assert "accuracy 1.0000" in fig.axes[0].get_title()
    scores = lambda P: np.stack([-P[:, 0], P[:, 0]], axis=1)  # noqa: E731
    fig = plot_decision_boundary(scores, X, (X[:, 0] > 0).astype(int), resolution=20)
    assert "accuracy 1.0000" in fig.axes[0].get_title()


def test_decision_boundary_errors_name_the_problem():
    X = RNG.normal(size=(10, 2))
    with pytest.raises(ValueError, match=r"\(10, 2\).*\(9,\)"):
        plot_decision_boundary(lambda P: P[:, 0], X, np.zeros(9, int))
    with pytest.raises(ValueError, match="returned shape"):
        plot_decision_boundary(lambda P: P[:3, 0], X, np.zeros(10, int))


# ---------------------------------------------------------------- weight images, filters, maps

def test_weight_images_one_panel_per_neuron_with_symmetric_scale():
    W = RNG.normal(size=(16, 784))
    W[3, 5] = 7.0  # the largest magnitude fixes the colour limits
    fig = plot_weight_images(W)
    panels = image_axes(fig)
    assert len(panels) == 16
    for i, ax in enumerate(panels):
        data = ax.images[0].get_array()
        assert data.shape == (28, 28)
        np.testing.assert_allclose(data, W[i].reshape(28, 28))
        assert ax.get_title() == f"neuron {i}"
        assert ax.images[0].get_clim() == (-7.0, 7.0)
    (bar,) = colorbar_axes(fig)
    assert bar.get_ylim() == pytest.approx((-7.0, 7.0))
    assert len(image_axes(plot_weight_images(RNG.normal(size=(100, 784)), max_images=10))) == 10


def test_weight_images_other_shapes_and_errors():
    fig = plot_weight_images(RNG.normal(size=(3, 12)), shape=(3, 4))
    assert [ax.images[0].get_array().shape for ax in image_axes(fig)] == [(3, 4)] * 3
    with pytest.raises(ValueError, match=r"pass W\.T"):
        plot_weight_images(RNG.normal(size=(784, 16)))
    with pytest.raises(ValueError, match="NaN"):
        plot_weight_images(np.full((2, 784), np.nan))


def test_conv_filters_single_and_multi_channel():
    weights = RNG.normal(size=(6, 1, 3, 3))
    fig = plot_conv_filters(weights)
    panels = image_axes(fig)
    assert [ax.get_title() for ax in panels] == [f"filter {o}" for o in range(6)]
    for o, ax in enumerate(panels):
        np.testing.assert_allclose(ax.images[0].get_array(), weights[o, 0])
    limit = np.abs(weights).max()
    assert panels[0].images[0].get_clim() == pytest.approx((-limit, limit))

    deep = RNG.normal(size=(4, 3, 5, 5))
    fig = plot_conv_filters(deep)
    panels = image_axes(fig)
    assert len(panels) == 12
    np.testing.assert_allclose(panels[3 * 2 + 1].images[0].get_array(), deep[2, 1])  # row out 2, col in 1
    assert panels[3].get_ylabel() == "out 1" and panels[1].get_title() == "in 1"
    assert fig.get_suptitle() == "Convolution filters: 4 filters of 5x5 over 3 input channels"
    big = plot_conv_filters(RNG.normal(size=(40, 10, 3, 3)), max_out=4, max_in=2)
    assert len(image_axes(big)) == 4 * 2 and big.get_suptitle().endswith("(first 4 x 2 shown)")
    with pytest.raises(ValueError, match="4-D"):
        plot_conv_filters(RNG.normal(size=(3, 3, 3)))


def test_feature_maps_with_input_image():
    maps = RNG.random((5, 14, 14))
    image = RNG.random((28, 28))
    fig = plot_feature_maps(maps, image=image)
    panels = image_axes(fig)
    assert [ax.get_title() for ax in panels] == ["input"] + [f"channel {c}" for c in range(5)]
    np.testing.assert_allclose(panels[0].images[0].get_array(), image)
    for c in range(5):
        np.testing.assert_allclose(panels[c + 1].images[0].get_array(), maps[c])
    assert len(image_axes(plot_feature_maps(maps, max_maps=2))) == 2
    with pytest.raises(ValueError, match="3-D"):
        plot_feature_maps(RNG.random((14, 14)))


# ---------------------------------------------------------------- confusion and mistakes

def test_confusion_matrix_counts_and_picture():
    labels = [0, 0, 1, 2, 2, 2]
    predictions = [0, 1, 1, 2, 2, 0]
    cm = confusion_matrix(labels, predictions)
    np.testing.assert_array_equal(cm, [[1, 1, 0], [0, 1, 0], [1, 0, 2]])
    fig = plot_confusion_matrix(cm, class_names=["cat", "dog", "eel"])
    ax = image_axes(fig)[0]
    np.testing.assert_array_equal(ax.images[0].get_array(), cm)
    assert ax.get_title() == "Confusion matrix (accuracy 0.6667)"
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("predicted", "true")
    assert [t.get_text() for t in ax.get_xticklabels()] == ["cat", "dog", "eel"]
    assert sorted(t.get_text() for t in ax.texts) == sorted(str(v) for v in cm.ravel())
    with pytest.raises(ValueError, match="square"):
        plot_confusion_matrix(np.zeros((2, 3)))
    with pytest.raises(ValueError, match="2 class names"):
        plot_confusion_matrix(cm, class_names=["a", "b"])
    with pytest.raises(ValueError, match="num_classes"):
        confusion_matrix([0, 3], [0, 1], num_classes=3)


def test_misclassified_shows_only_mistakes_with_their_labels():
    images = RNG.random((10, 784))
    labels = np.arange(10)
    predictions = labels.copy()
    predictions[[2, 5, 7]] = [3, 1, 0]
    fig = plot_misclassified(images, labels, predictions, confidences=np.full(10, 0.875))
    panels = image_axes(fig)
    assert len(panels) == 3
    assert [ax.get_title() for ax in panels] == ["true 2 -> 3\n88%", "true 5 -> 1\n88%",
                                                 "true 7 -> 0\n88%"]
    np.testing.assert_allclose(panels[1].images[0].get_array(), images[5].reshape(28, 28))
    assert "3 of 10 wrong" in fig.get_suptitle()
    assert len(image_axes(plot_misclassified(images, labels, (labels + 1) % 10, max_images=4))) == 4
    none = plot_misclassified(images, labels, labels)
    assert not image_axes(none) and "no misclassified" in none.axes[0].texts[0].get_text()
    with pytest.raises(ValueError, match="must match"):
        plot_misclassified(images, labels[:5], predictions)


def test_plot_images_gallery_with_titles():
    images = RNG.random((5, 784))
    fig = plot_images(images, titles=[f"#{i}" for i in range(5)], title="Noise")
    panels = image_axes(fig)
    assert [ax.get_title() for ax in panels] == ["#0", "#1", "#2", "#3", "#4"]
    np.testing.assert_allclose(panels[4].images[0].get_array(), images[4].reshape(28, 28))
    assert panels[0].images[0].get_clim() == (images.min(), images.max())
    assert fig.get_suptitle() == "Noise"
    assert len(image_axes(plot_images(images, max_images=2))) == 2
    with pytest.raises(ValueError, match="3 titles for 5 images"):
        plot_images(images, titles=["a", "b", "c"])


# ---------------------------------------------------------------- gradient flow, activations

def test_gradient_flow_runs_side_by_side_on_log_scale():
    records = {"sigmoid": {"layers.0": [1e-4, 2e-4], "layers.1": [1e-2, 1e-2]},
               "relu": [{"layers.0": 0.1, "layers.1": 0.2}, {"layers.0": 0.3, "layers.1": 0.0}]}
    fig = plot_gradient_flow(records)
    sigmoid_ax, relu_ax, summary = fig.axes
    assert (sigmoid_ax.get_title(), relu_ax.get_title()) == ("sigmoid", "relu")
    assert all(ax.get_yscale() == "log" for ax in fig.axes)
    np.testing.assert_allclose(sigmoid_ax.get_lines()[0].get_ydata(), [1e-4, 2e-4])
    relu_layer1 = relu_ax.get_lines()[1].get_ydata()
    assert relu_layer1[0] == 0.2 and np.isnan(relu_layer1[1])  # zero cannot sit on a log axis
    assert [line.get_label() for line in summary.get_lines()] == ["sigmoid", "relu"]
    np.testing.assert_allclose(summary.get_lines()[0].get_ydata(), [1.5e-4, 1e-2])
    assert sigmoid_ax.get_shared_y_axes().joined(sigmoid_ax, relu_ax)
    single = plot_gradient_flow({"fc1": [0.1, 0.2, 0.3]}, every=10)
    assert len(single.axes) == 2
    np.testing.assert_allclose(single.axes[0].get_lines()[0].get_xdata(), [0, 10, 20])
    smoothed = plot_gradient_flow({"fc1": [1.0, 3.0, 5.0, 7.0]}, smooth=2).axes[0].get_lines()
    assert len(smoothed) == 2  # the raw series, faint, and its moving average
    np.testing.assert_allclose(smoothed[1].get_xdata(), [0.5, 1.5, 2.5])
    np.testing.assert_allclose(smoothed[1].get_ydata(), [2.0, 4.0, 6.0])
    assert smoothed[0].get_alpha() < 1 and smoothed[1].get_label() == "fc1 (mean of 2)"
    with pytest.raises(ValueError, match="smooth"):
        plot_gradient_flow({"fc1": [1.0, 2.0]}, smooth=5)
    with pytest.raises(ValueError, match=r"records\['relu'\].*1-D"):
        plot_gradient_flow({"relu": 3.0})
    with pytest.raises(TypeError, match="per-step"):
        plot_gradient_flow("relu")


def test_mean_abs_grad_per_layer_on_the_scalar_mlp():
    model = MLP(3, [4, 2], seed=0)
    out = model([1.0, -2.0, 0.5])
    (out[0] * 2 + out[1]).backward()
    means = mean_abs_grad_per_layer(model)
    assert list(means) == ["layers.0", "layers.1"]
    for i, layer in enumerate(model.layers):
        expected = np.mean([abs(p.grad) for n in layer.neurons for p in (*n.w, n.b)])
        assert means[f"layers.{i}"] == pytest.approx(expected)


def test_mean_abs_grad_per_layer_on_tensor_layers_skips_activations():
    from microgradnn.tensor import Linear, ReLU, Sequential, Tensor

    rng = np.random.default_rng(0)
    model = Sequential(Linear(3, 4, rng=rng), ReLU(), Linear(4, 2, rng=rng))
    model(Tensor(rng.normal(size=(5, 3)).astype(np.float32))).sum().backward()
    means = mean_abs_grad_per_layer(model)
    assert list(means) == ["0", "2"]
    for key, layer in (("0", model[0]), ("2", model[2])):
        grads = np.concatenate([np.abs(p.grad).ravel() for p in layer.parameters()])
        assert means[key] == pytest.approx(grads.mean())


def test_layers_come_from_the_module_tree_not_from_names():
    """Models whose attributes are named nothing like ``layers.0`` still have their layers."""
    from microgradnn.module import Module
    from microgradnn.nn import Layer
    from viz.plots.training import layers_of

    class Net(Module):
        def __init__(self):
            self.trunk = Layer(2, 3, activation="tanh")
            self.head = Layer(3, 1, activation="linear")

    class Wrapper(Module):  # one child holding everything: looked through
        def __init__(self):
            self.net = MLP(2, [3, 1], seed=0)

    net = Net()
    out = net.head(net.trunk([1.0, -1.0]))[0]
    out.backward()
    means = mean_abs_grad_per_layer(net)
    assert list(means) == ["trunk", "head"]
    assert means["head"] == pytest.approx(np.mean([abs(p.grad) for p in net.head.parameters()]))
    assert [name for name, _ in layers_of(Wrapper())] == ["net.layers.0", "net.layers.1"]



def test_activation_histograms_one_panel_per_layer_with_stats():
    relu = np.maximum(RNG.normal(size=(32, 8)), 0)
    sigmoid = 1 / (1 + np.exp(-RNG.normal(size=(32, 8))))
    fig = plot_activation_histograms({"fc1": relu, "fc2": sigmoid}, bins=20)
    assert [ax.get_title() for ax in fig.axes] == ["fc1", "fc2"]
    counts = [patch.get_height() for patch in fig.axes[0].patches]
    assert len(counts) == 20 and sum(counts) == relu.size
    note = fig.axes[0].texts[0].get_text()
    assert f"mean {relu.mean():.4f}" in note and "exactly 0" in note
    assert "within 0.01 of 0 or 1" in fig.axes[1].texts[0].get_text()
    with pytest.raises(ValueError, match="non-empty"):
        plot_activation_histograms({})
