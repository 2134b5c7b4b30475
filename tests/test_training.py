"""fit/evaluate: learning beats chance, seeded runs repeat, divergence stops cleanly, history files."""

from __future__ import annotations

import csv
import json
import os

import numpy as np
import pytest

from microgradnn import checkpoint
from microgradnn.models import build_model
from microgradnn.optim import SGD, Adam
from microgradnn.training import (HISTORY_FIELDS, TrainingDiverged, evaluate, fit, predict_proba,
                                  shift_batch, to_input)


def synthetic_digits(n: int, seed: int = 0):
    """Ten fixed random 28x28 uint8 templates plus noise: learnable, no download needed."""
    rng = np.random.default_rng(seed)
    templates = (np.random.default_rng(99).random((10, 28, 28)) > 0.7) * 200.0
    labels = rng.integers(0, 10, n).astype(np.uint8)
    images = templates[labels] + rng.normal(0, 60, (n, 28, 28))
    return np.clip(images, 0, 255).astype(np.uint8), labels


MLP = {"model": "mlp", "hidden": [16], "activation": "relu", "seed": 0}


def test_to_input_scales_a_batch_only():
    batch = np.array([[[0, 255], [51, 102]]], dtype=np.uint8)
    x = to_input(batch, (4,))
    assert x.dtype == np.float32 and x.shape == (1, 4)
    np.testing.assert_allclose(x, [[0.0, 1.0, 0.2, 0.4]], rtol=1e-6)
    with pytest.raises(TypeError, match="uint8"):
        to_input(batch.astype(np.float64), (4,))


def test_to_input_standard_mode_centres_pixels():
    batch = np.array([[[0, 255]]], dtype=np.uint8)
    x = to_input(batch, (2,), "standard")
    np.testing.assert_allclose(x, [[-0.1307 / 0.3081, (1 - 0.1307) / 0.3081]], rtol=1e-5)
    with pytest.raises(ValueError, match="mode"):
        to_input(batch, (2,), "zscore")


def test_the_model_spec_decides_the_input_scaling():
    data = synthetic_digits(50)
    unit = build_model(MLP)
    standard = build_model({**MLP, "input": "standard"})
    logits_unit = predict_proba(unit, data[0])
    logits_standard = predict_proba(standard, data[0])
    assert not np.allclose(logits_unit, logits_standard)  # same weights, other inputs
    with pytest.raises(ValueError, match="input must be one of"):
        build_model({**MLP, "input": "raw"})


def test_shift_batch_moves_whole_images():
    rng = np.random.default_rng(0)
    images = np.zeros((50, 28, 28), np.uint8)
    images[:, 10:18, 12:16] = 255
    shifted = shift_batch(images, 2, rng)
    assert shifted.shape == images.shape and shifted.dtype == np.uint8
    assert (shifted.sum(axis=(1, 2)) == images.sum(axis=(1, 2))).all()  # ink kept, only moved
    assert (shifted != images).any(axis=(1, 2)).sum() > 30
    assert shift_batch(images, 0, rng) is images


def test_fit_beats_chance_and_evaluate_counts(tmp_path):
    train = synthetic_digits(1200, seed=1)
    test = synthetic_digits(300, seed=2)
    model = build_model(MLP)
    history = fit(model, Adam(model.parameters(), lr=0.01), train, epochs=2, batch_size=32,
                  seed=0, val_data=test, progress=False)
    assert [h["epoch"] for h in history] == [1, 2]
    assert set(history[0]) == set(HISTORY_FIELDS)
    accuracy, confusion = evaluate(model, *test)
    assert accuracy > 0.8  # chance is 0.1
    assert confusion.shape == (10, 10) and confusion.sum() == 300
    assert confusion.trace() / 300 == pytest.approx(accuracy)
    np.testing.assert_array_equal(confusion.sum(axis=1), np.bincount(test[1], minlength=10))
    assert history[-1]["test_accuracy"] == pytest.approx(accuracy)
    probs = predict_proba(model, test[0][:5])
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-9)


def run(seed: int, augment: int = 0):
    model = build_model({**MLP, "seed": 0})
    history = fit(model, SGD(model.parameters(), lr=0.1, momentum=0.9), synthetic_digits(300),
                  epochs=2, batch_size=16, seed=seed, augment=augment, progress=False)
    return model.state_dict(), [h["train_loss"] for h in history]


def test_seeded_runs_are_reproducible():
    state_a, loss_a = run(seed=5, augment=1)
    state_b, loss_b = run(seed=5, augment=1)
    assert loss_a == loss_b
    for key in state_a:
        np.testing.assert_array_equal(state_a[key], state_b[key])
    state_c, loss_c = run(seed=6, augment=1)
    assert loss_c != loss_a


def test_history_files_and_checkpoint_each_epoch(tmp_path):
    model = build_model(MLP)
    data = synthetic_digits(200)
    fit(model, SGD(model.parameters(), lr=0.1), data, epochs=3, batch_size=50, seed=0,
        val_data=data, checkpoint=tmp_path / "m.npz", history_path=tmp_path / "h.csv",
        lr_decay=0.5, progress=False)
    rows = list(csv.DictReader(open(tmp_path / "h.csv")))
    assert [r["epoch"] for r in rows] == ["1", "2", "3"]
    assert [float(r["lr"]) for r in rows] == [0.1, 0.05, 0.025]
    saved = checkpoint.load_checkpoint(tmp_path / "m.npz")
    assert saved.extra["epochs"] == 3 and len(saved.extra["history"]) == 3
    for key, array in model.state_dict().items():
        np.testing.assert_array_equal(saved.model.state_dict()[key], array)
    model2 = build_model(MLP)
    fit(model2, SGD(model2.parameters(), lr=0.1), data, epochs=1, batch_size=50, seed=0,
        history_path=tmp_path / "h.json", progress=False)
    records = json.loads((tmp_path / "h.json").read_text())
    assert records[0]["epoch"] == 1 and records[0]["test_accuracy"] is None


def test_divergence_stops_with_epoch_step_and_rate_and_keeps_the_checkpoint(tmp_path):
    data = synthetic_digits(256)
    model = build_model(MLP)
    path = tmp_path / "good.npz"
    fit(model, SGD(model.parameters(), lr=0.05), data, epochs=1, batch_size=32, seed=0,
        checkpoint=path, progress=False)
    good_bytes = path.read_bytes()
    good_state = model.state_dict()
    with pytest.raises(TrainingDiverged) as info:
        fit(model, SGD(model.parameters(), lr=1e30), data, epochs=2, batch_size=32, seed=0,
            checkpoint=path, history_path=tmp_path / "h.json", progress=False)
    message = str(info.value)
    assert "epoch 1" in message and "step " in message and "learning rate 1e+30" in message
    assert info.value.history == []
    assert isinstance(info.value, ValueError)  # the CLI prints it as one line
    assert path.read_bytes() == good_bytes
    for key, array in model.state_dict().items():  # the model is back to the last good weights
        np.testing.assert_array_equal(array, good_state[key])
    assert not (tmp_path / "h.json").exists()


def test_fit_rejects_bad_arguments():
    model = build_model(MLP)
    data = synthetic_digits(20)
    optimizer = SGD(model.parameters(), lr=0.1)
    with pytest.raises(ValueError, match="epochs"):
        fit(model, optimizer, data, epochs=0)
    with pytest.raises(ValueError, match="batch_size"):
        fit(model, optimizer, data, epochs=1, batch_size=0)
    with pytest.raises(ValueError, match="images must be uint8"):
        fit(model, optimizer, (data[0].astype(np.float32), data[1]), epochs=1)
    with pytest.raises(ValueError, match="labels of shape"):
        fit(model, optimizer, (data[0], data[1][:5]), epochs=1)
    with pytest.raises(ValueError, match="lr_decay"):
        fit(model, optimizer, data, epochs=1, lr_decay=2.0)
    for workers in (True, 0, 1.5):  # (True would otherwise be taken as 1)
        with pytest.raises(ValueError, match=f"fit: workers must be a positive integer, "
                                             f"got {workers!r}"):
            fit(model, optimizer, data, epochs=1, workers=workers)
    with pytest.raises(ValueError, match="fit: epochs must be a positive integer, got True"):
        fit(model, optimizer, data, epochs=True)


@pytest.mark.mnist
def test_a_short_run_on_real_mnist_clearly_beats_chance():
    from microgradnn.datasets.mnist import load_mnist

    if not os.environ.get("MICROGRADNN_DATA"):
        pytest.skip("set MICROGRADNN_DATA to the folder with the MNIST files")
    images, labels = load_mnist("train", download=False, progress=False)
    test_images, test_labels = load_mnist("test", download=False, progress=False)
    model = build_model({"model": "mlp", "hidden": [32], "activation": "relu", "seed": 0})
    fit(model, Adam(model.parameters(), lr=3e-3), (images[:3000], labels[:3000]), epochs=2,
        batch_size=32, seed=0, progress=False)
    accuracy, _ = evaluate(model, test_images[:1000], test_labels[:1000])
    assert accuracy > 0.8  # chance is 0.1


def test_the_progress_bar_counts_every_step(capsys):
    from microgradnn.models import build_model
    from microgradnn.optim import SGD

    model = build_model({"model": "mlp", "hidden": [4]})
    rng = np.random.default_rng(0)
    data = rng.integers(0, 256, (40, 28, 28), dtype=np.uint8), rng.integers(0, 10, 40)
    fit(model, SGD(model.parameters(), lr=0.1), data, 1, batch_size=16, progress=True)
    err = capsys.readouterr().err
    assert "epoch 1/1" in err and "3/3" in err, err
