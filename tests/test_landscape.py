"""A real network's cost landscape (viz.plots.landscape), weight snapshots (microgradnn.snapshots)
and the ``landscape`` / ``train --snapshots`` commands. Small models and synthetic digits:
fast, no download."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

import viz
from microgradnn.checkpoint import save
from microgradnn.cli import main
from microgradnn.models import build_model
from microgradnn.optim import SGD
from microgradnn.snapshots import WeightSnapshots, load_snapshots, snapshot_path
from microgradnn.tensor import Tensor, cross_entropy, no_grad, sigmoid_mse_loss
from microgradnn.training import fit, to_input
from viz.plots.landscape import Landscape, TrainingPath, random_directions

MNIST_DIR = os.environ.get("MICROGRADNN_DATA", "")
needs_mnist = pytest.mark.skipif(
    not (MNIST_DIR and Path(MNIST_DIR, "t10k-labels-idx1-ubyte.gz").exists()),
    reason="MNIST files not found: set MICROGRADNN_DATA")


def digits(n, seed=0):
    """Ten fixed random templates plus noise, uint8 (n, 28, 28): learnable, no download."""
    rng = np.random.default_rng(seed)
    templates = (np.random.default_rng(99).random((10, 28, 28)) > 0.7) * 200.0
    labels = rng.integers(0, 10, n)
    images = templates[labels] + rng.normal(0, 60, (n, 28, 28))
    return np.clip(images, 0, 255).astype(np.uint8), labels.astype(np.int64)


def model_cost(model, images, labels):
    """The model's own forward and the library's cross-entropy, nothing from viz."""
    model.eval()
    with no_grad():
        x = to_input(images, (784,)) if model.spec["model"] == "mlp" else \
            to_input(images, (1, 28, 28))
        logits = model(Tensor(x)).data
    return float(cross_entropy(Tensor(logits.astype(np.float64)), labels).item())


@pytest.mark.parametrize("activation", ["sigmoid", "relu"])
def test_centre_is_the_models_cost_and_the_weights_come_back(activation):
    model = build_model({"model": "mlp", "hidden": [16, 16], "activation": activation, "seed": 1})
    images, labels = digits(200)
    before = model.state_dict()
    model.train()
    land = viz.loss_landscape(model, images, labels, span=0.5, steps=7)
    assert isinstance(land, Landscape) and land.costs.shape == (7, 7)
    assert land.alphas[3] == 0.0 and land.betas[3] == 0.0
    assert land.center_cost == land.costs[3, 3] == model_cost(model, images, labels)
    after = model.state_dict()
    assert all(np.array_equal(before[k], after[k]) for k in before)
    assert land.images == 200


def test_every_grid_point_is_the_cost_at_those_weights():
    model = build_model({"model": "mlp", "hidden": [16, 16], "seed": 2})
    images, labels = digits(100)
    land = viz.loss_landscape(model, images, labels, span=(1.0, 0.5), steps=5, seed=3)
    d1, d2 = land.directions
    base = model.state_dict()
    for i, j in [(0, 0), (1, 4), (4, 2), (2, 3)]:
        a, b = land.alphas[j], land.betas[i]
        model.load_state_dict({k: base[k] + a * d1[k] + b * d2[k] for k in base})
        # the fast first layer agrees with the full forward up to float32 rounding
        assert land.costs[i, j] == pytest.approx(model_cost(model, images, labels), rel=2e-5)
    model.load_state_dict(base)
    assert land.alphas.tolist() == [-1.0, -0.5, 0.0, 0.5, 1.0]
    assert land.betas.tolist() == [-0.5, -0.25, 0.0, 0.25, 0.5]


def test_a_cnn_takes_the_plain_path_with_one_forward_per_point():
    model = build_model({"model": "cnn", "channels": [2], "hidden": [], "seed": 0})
    images, labels = digits(20)
    calls = []
    original = type(model).__call__

    class Counting(type(model)):
        def __call__(self, x):
            calls.append(x.data.shape[0])
            return original(self, x)

    model.__class__ = Counting
    land = viz.loss_landscape(model, images, labels, span=0.2, steps=3)
    assert calls == [20] * 9  # one batch forward per grid point, no more
    model.__class__ = Counting.__mro__[1]
    assert land.center_cost == model_cost(model, images, labels)


def test_uint8_and_already_scaled_float_images_give_the_same_landscape():
    model = build_model({"model": "mlp", "hidden": [8], "seed": 0})
    images, labels = digits(50)
    a = viz.loss_landscape(model, images, labels, steps=3)
    b = viz.loss_landscape(model, images.astype(np.float32) / 255.0, labels, steps=3)
    c = viz.loss_landscape(model, images.reshape(50, 784).astype(np.float64) / 255.0, labels,
                           steps=3)
    np.testing.assert_allclose(a.costs, b.costs, rtol=1e-6)
    np.testing.assert_allclose(a.costs, c.costs, rtol=1e-6)


def test_random_directions_are_filter_normalised_and_leave_biases_alone():
    model = build_model({"model": "mlp", "hidden": [16, 16], "seed": 0})
    d1, d2 = random_directions(model, seed=5)
    for name, p in model.named_parameters():
        w = p.data.astype(np.float64)
        for d in (d1, d2):
            if w.ndim == 1:
                assert not d[name].any()
            else:
                np.testing.assert_allclose(np.linalg.norm(d[name], axis=1),
                                           np.linalg.norm(w, axis=1), rtol=1e-9)
    assert not np.allclose(d1["0.weight"], d2["0.weight"])
    again, _ = random_directions(model, seed=5)
    assert np.array_equal(again["0.weight"], d1["0.weight"])


def _curved_snapshots(model, k=12):
    """States θ + t u + t² v, t from 1 to 0: a curved path in a plane, ending at θ."""
    rng = np.random.default_rng(0)
    base = model.state_dict()
    u = {n: rng.normal(size=a.shape) for n, a in base.items()}
    v = {n: rng.normal(size=a.shape) for n, a in base.items()}
    ts = np.linspace(1.0, 0.0, k)
    return [{n: base[n] + t * u[n] + 0.5 * t * t * v[n] for n in base} for t in ts], u, v


def test_training_path_finds_the_plane_of_a_curved_path_and_projects_onto_it():
    model = build_model({"model": "mlp", "hidden": [8], "seed": 0})
    states, u, v = _curved_snapshots(model)
    path = viz.training_path(states, model)
    assert isinstance(path, TrainingPath) and path.coords.shape == (12, 2)
    assert sum(path.explained) == pytest.approx(1.0, abs=1e-6)  # the path lies in a plane
    assert path.explained[0] > path.explained[1] > 0
    names = [n for n, _ in model.named_parameters()]
    flat = lambda d: np.concatenate([np.ravel(d[n]) for n in names])  # noqa: E731
    c1, c2 = flat(path.directions[0]), flat(path.directions[1])
    assert np.linalg.norm(c1) == pytest.approx(1) and abs(c1 @ c2) < 1e-9
    # coordinates rebuild each snapshot's offset from the final weights (float32 weights)
    base = flat(model.state_dict())
    for state, (a, b) in zip(states, path.coords):
        np.testing.assert_allclose(a * c1 + b * c2, flat(state) - base, atol=1e-5)
    assert np.abs(path.coords[-1]).max() < 1e-9
    land = viz.loss_landscape(model, *digits(30), span=path.span, steps=5, directions=path)
    assert land.path is path and land.path_costs.shape == (12,)
    assert land.path_costs[-1] == pytest.approx(land.center_cost, rel=1e-6)
    assert "PC1" in land.axis_labels[0]


def test_pictures_carry_their_legends():
    model = build_model({"model": "mlp", "hidden": [8], "seed": 0})
    states, _, _ = _curved_snapshots(model)
    path = viz.training_path(states, model)
    land = viz.loss_landscape(model, *digits(30), span=path.span, steps=5, directions=path)
    fig = viz.plot_landscape(land)
    contour, bar = fig.axes[0], fig.axes[1]
    assert bar.get_ylabel() == "cost: mean of C (cross-entropy) on 30 images"
    texts = [t.get_text() for t in contour.get_legend().get_texts()]
    assert texts[0] == f"trained weights: cost {land.center_cost:.4f}"
    assert texts[1].startswith("training path: 12 snapshots")
    assert any(ax.name == "3d" for ax in fig.axes)
    fig = viz.plot_landscape(viz.loss_landscape(model, *digits(30), steps=3), show="contour")
    assert len(fig.axes) == 2 and "random" in fig.axes[0].get_xlabel()


@pytest.mark.parametrize("call,message", [
    (lambda m, x, y: viz.loss_landscape(m, x, y, steps=4), "steps must be an odd integer"),
    (lambda m, x, y: viz.loss_landscape(m, x, y, steps=1001), "steps must be an odd integer"),
    (lambda m, x, y: viz.loss_landscape(m, x, y, span=0), "span must be a positive number"),
    (lambda m, x, y: viz.loss_landscape(m, x, y[:5]), "labels must be n = 10 integers"),
    (lambda m, x, y: viz.loss_landscape(m, x[:, :20, :20].astype(np.float32), y),
     "each image must have 784 numbers"),
    (lambda m, x, y: viz.loss_landscape(m, x.astype(np.int32), y), "must be uint8"),
    (lambda m, x, y: viz.loss_landscape(m, x[:, :20, :20], y), "must have 784 numbers for this "
                                                                r"model, got 400 \(shape \(20, 20\)\)"),
    (lambda m, x, y: viz.loss_landscape(m, x, y, directions=({}, {})),
     "direction 1 has no '0.weight'"),
    (lambda m, x, y: viz.training_path([m.state_dict()] * 2, m), "at least 3 snapshots"),
    (lambda m, x, y: viz.training_path([m.state_dict()] * 4, m), "lie on a line"),
    (lambda m, x, y: viz.training_path([{"0.weight": np.zeros((2, 2))}] * 3, m),
     "snapshot 0 has no '0.bias'"),
    (lambda m, x, y: viz.plot_landscape("no"), "expected a Landscape"),
])
def test_bad_input_is_one_clear_error(call, message):
    model = build_model({"model": "mlp", "hidden": [4], "seed": 0})
    images, labels = digits(10)
    with pytest.raises((ValueError, TypeError), match=message):
        call(model, images, labels)


# ------------------------------------------------------------------ snapshots and the CLI

def test_fit_with_snapshots_keeps_evenly_spread_copies_from_start_to_end(tmp_path):
    model = build_model({"model": "mlp", "hidden": [8], "seed": 0})
    initial = model.state_dict()
    data = digits(96)
    steps_total = 2 * 3  # 2 epochs of 96 / 32 = 3 batches
    recorder = WeightSnapshots(model, 4, steps_total, 3)
    fit(model, SGD(model.parameters(), lr=0.1), (data[0], data[1].astype(np.uint8)), epochs=2,
        batch_size=32, progress=False, on_step=recorder)
    assert recorder.steps == [0, 2, 4, 6]
    assert np.array_equal(recorder.states[0]["0.weight"], initial["0.weight"])
    assert np.array_equal(recorder.states[-1]["0.weight"], model.state_dict()["0.weight"])
    written = recorder.save(tmp_path / "run.snapshots.npz")
    loaded = load_snapshots(written)
    assert loaded.steps.tolist() == [0, 2, 4, 6] and loaded.steps_per_epoch == 3
    assert loaded.weights["0.weight"].shape == (4, 8, 784)
    assert np.array_equal(loaded.state(2)["2.bias"], recorder.states[2]["2.bias"])
    with np.load(written, allow_pickle=False) as archive:
        assert all(archive[name].dtype != object for name in archive.files)
    assert snapshot_path(tmp_path / "mlp.npz") == tmp_path / "mlp.snapshots.npz"
    (tmp_path / "bad.npz").write_bytes(b"not a zip")
    with pytest.raises(ValueError, match="not a readable snapshots .npz"):
        load_snapshots(tmp_path / "bad.npz")
    with pytest.raises(ValueError, match="count must be an integer >= 2, got 1"):
        WeightSnapshots(model, 1, 10)
    with pytest.raises(ValueError, match="1000 copies of 109386 weights are more than 50000000"):
        WeightSnapshots(build_model({"model": "mlp", "hidden": [128, 64]}), 1000, 10)


def test_train_snapshots_needs_save(capsys):
    assert main(["train", "mnist", "--snapshots", "5", "--quiet"]) == 2
    assert "--snapshots 5 needs N >= 2 and --save FILE.npz" in capsys.readouterr().err


@needs_mnist
def test_landscape_command_draws_with_and_without_a_training_path(tmp_path, capsys):
    spec = {"model": "mlp", "hidden": [8], "seed": 0}
    model = build_model(spec)
    states, _, _ = _curved_snapshots(model, k=5)
    checkpoint = save(model, tmp_path / "mlp.npz", spec)
    assert main(["landscape", str(checkpoint), "-o", str(tmp_path / "random.png"), "--images",
                 "50", "--steps", "5"]) == 0
    out = capsys.readouterr().out
    assert "two random filter-normalised directions (seed 0)" in out
    assert (tmp_path / "random.png").read_bytes()[:4] == b"\x89PNG"
    recorder = WeightSnapshots(model, 2, 1)
    recorder.steps, recorder.states = list(range(5)), states
    recorder.save(snapshot_path(checkpoint))
    assert main(["landscape", str(checkpoint), "-o", str(tmp_path / "path.png"), "--images",
                 "50", "--steps", "5"]) == 0
    out = capsys.readouterr().out
    assert "training path's two main directions" in out and "5 snapshots" in out
    assert main(["landscape", str(checkpoint), "-o", str(tmp_path / "x.gif")]) == 2
    assert "use one of .png, .svg" in capsys.readouterr().err
    assert main(["landscape", str(checkpoint), "-o", str(tmp_path / "x.png"), "--steps",
                 "4"]) == 2
    assert "steps must be an odd integer" in capsys.readouterr().err


def test_a_snapshots_file_too_big_to_hold_is_refused_before_reading(tmp_path, monkeypatch):
    import zipfile

    from microgradnn import snapshots

    monkeypatch.setattr(snapshots, "MAX_NUMBERS", 1000)  # 8,000 bytes + 1 MiB of slack
    path = tmp_path / "big.snapshots.npz"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        # an entry that unpacks to 2 MiB of zeros: refused from the directory alone
        archive.writestr("param/w.npy", bytes(2 << 20))
    assert path.stat().st_size < 10_000
    with pytest.raises(ValueError, match=r"1 entries of 2097152 bytes in all; snapshots hold "
                                         r"at most 1000 entries of 8000 bytes"):
        load_snapshots(path)
    with pytest.raises(FileNotFoundError, match="snapshots file .* does not exist"):
        load_snapshots(tmp_path / "missing.npz")


def test_the_landscape_draws_the_models_own_cost_unless_told_otherwise(tmp_path, capsys):
    spec = {"model": "mlp", "hidden": [8], "seed": 0, "loss": "mse"}
    model = build_model(spec)
    images, labels = digits(40)
    with no_grad():
        logits = model(Tensor(to_input(images, (784,)))).data.astype(np.float64)
    lectures = float(sigmoid_mse_loss(Tensor(logits), labels).item())
    land = viz.loss_landscape(model, images, labels, span=0.5, steps=3)
    assert land.cost == "mse" and land.center_cost == pytest.approx(lectures, rel=1e-12)
    assert "C = Σ_j (a[L][j] - y[j])²" in land.title
    other = viz.loss_landscape(model, images, labels, span=0.5, steps=3, loss="cross-entropy")
    assert other.center_cost == pytest.approx(model_cost(model, images, labels), rel=1e-12)
    checkpoint = save(model, tmp_path / "mse.npz", spec)
    for flags, formula in (([], "C = Σ_j (a[L][j] - y[j])²"),
                           (["--loss", "cross-entropy"], "C = -log softmax(z[L])[y]")):
        assert main(["landscape", str(checkpoint), "-o", str(tmp_path / "l.png"), "--images",
                     "20", "--steps", "3", "--random", *flags]) == 0
        assert formula in capsys.readouterr().out


def test_the_centre_is_the_models_own_cost_with_a_column_major_weight():
    """θ + 0·d₁ + 0·d₂ keeps each weight's memory layout (a float32 Linear of 64 or more
    outputs is column-major), so the centre is the very arithmetic of the model's own forward."""
    model = build_model({"model": "cnn", "channels": [2], "hidden": [], "seed": 0})
    # Linear(392, 10) is row-major by default; column-major here. Its products round
    # differently in the two layouts, so a centre computed in the other layout is caught.
    head = model[-1].weight
    head.data = np.asfortranarray(head.data)
    images, labels = digits(20)
    land = viz.loss_landscape(model, images, labels, span=0.2, steps=3)
    assert land.center_cost == model_cost(model, images, labels)
