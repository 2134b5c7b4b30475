"""Checkpoints: round trips, refusals (tampered, truncated, mismatched) and the scalar bridge."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

import microgradnn
from microgradnn import checkpoint
from microgradnn.checkpoint import CheckpointError
from microgradnn.engine import Value
from microgradnn.models import build_model, to_scalar_mlp
from microgradnn.optim import SGD
from microgradnn.tensor import Tensor, cross_entropy

MLP_SPEC = {"model": "mlp", "hidden": [8, 6], "activation": "tanh", "seed": 3}
CNN_SPEC = {"model": "cnn", "channels": [2, 3], "hidden": [5], "dropout": 0.25, "seed": 1}


def images(n=4, seed=0):
    return np.random.default_rng(seed).random((n, 784)).astype(np.float32)


def outputs(model, x):
    model.eval()
    return np.asarray(model(Tensor(x)).data)


def read_npz(path):
    with np.load(path, allow_pickle=False) as archive:
        return {name: archive[name] for name in archive.files}


def write_npz(path, arrays):
    with open(path, "wb") as handle:
        np.savez(handle, **arrays)


@pytest.mark.parametrize("spec", [MLP_SPEC, CNN_SPEC])
def test_round_trip_gives_the_same_function(tmp_path, spec):
    model = build_model(spec)
    for p in model.parameters():  # move away from the seeded init so the load really matters
        p.data += np.float32(0.01)
    path = checkpoint.save(model, tmp_path / "m.npz", model.spec, extra={"accuracy": 0.5})
    loaded = checkpoint.load_checkpoint(path)
    assert loaded.spec == model.spec
    assert loaded.extra == {"accuracy": 0.5}
    assert loaded.model.training is False
    for key, array in model.state_dict().items():
        np.testing.assert_array_equal(loaded.model.state_dict()[key], array)
    x = images()
    if spec["model"] == "cnn":
        x = x.reshape(-1, 1, 28, 28)
    np.testing.assert_array_equal(outputs(loaded.model, x), outputs(model, x))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.npz"]  # no temp file left behind


def test_package_level_load_and_plain_npz_without_pickle(tmp_path):
    model = build_model(MLP_SPEC)
    path = checkpoint.save(model, tmp_path / "m.npz", model.spec)
    rebuilt = microgradnn.load(path)
    np.testing.assert_array_equal(outputs(rebuilt, images()), outputs(model, images()))
    arrays = read_npz(path)  # readable with allow_pickle=False, every entry numeric
    assert all(a.dtype != object for a in arrays.values())
    assert json.loads(arrays["spec"].tobytes()) == model.spec
    assert int(arrays["format"][0]) == checkpoint.FORMAT_VERSION


def test_saved_file_has_ordinary_permissions(tmp_path):
    umask = os.umask(0)
    os.umask(umask)
    model = build_model(MLP_SPEC)
    path = checkpoint.save(model, tmp_path / "plain", model.spec)  # no .npz added to the name
    assert sorted(p.name for p in tmp_path.iterdir()) == ["plain"]
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask
    assert microgradnn.load(path).spec == model.spec


def test_save_overwrites_atomically(tmp_path):
    path = tmp_path / "m.npz"
    first = build_model(MLP_SPEC)
    checkpoint.save(first, path, first.spec)
    second = build_model({**MLP_SPEC, "seed": 4})
    checkpoint.save(second, path, second.spec)
    np.testing.assert_array_equal(outputs(microgradnn.load(path), images()),
                                  outputs(second, images()))
    assert len(list(tmp_path.iterdir())) == 1


def test_tampered_weights_are_refused(tmp_path):
    model = build_model(MLP_SPEC)
    path = checkpoint.save(model, tmp_path / "m.npz", model.spec)
    arrays = read_npz(path)
    arrays["param/0.weight"] = arrays["param/0.weight"].copy()
    arrays["param/0.weight"][0, 0] += 1.0
    write_npz(path, arrays)
    with pytest.raises(CheckpointError, match="sha256"):
        checkpoint.load(path)


def test_tampered_spec_is_refused(tmp_path):
    model = build_model(MLP_SPEC)
    path = checkpoint.save(model, tmp_path / "m.npz", model.spec)
    arrays = read_npz(path)
    arrays["spec"] = np.frombuffer(json.dumps({**model.spec, "activation": "relu"}).encode(),
                                   dtype=np.uint8)
    write_npz(path, arrays)
    with pytest.raises(CheckpointError, match="modified"):
        checkpoint.load(path)


@pytest.mark.parametrize("keep", [0.5, 0.9, 10])
def test_truncated_file_is_refused(tmp_path, keep):
    model = build_model(MLP_SPEC)
    path = checkpoint.save(model, tmp_path / "m.npz", model.spec)
    data = path.read_bytes()
    size = keep if isinstance(keep, int) else int(len(data) * keep)
    path.write_bytes(data[:size])
    with pytest.raises(CheckpointError, match="truncated"):
        checkpoint.load(path)


def test_weights_that_do_not_fit_the_architecture_are_refused(tmp_path):
    # A self-consistent file (valid digest) whose spec claims other layer sizes.
    model = build_model(MLP_SPEC)
    path = checkpoint.save(model, tmp_path / "m.npz", model.spec)
    arrays = read_npz(path)
    arrays["spec"] = np.frombuffer(json.dumps({**model.spec, "hidden": [8, 7]}).encode(),
                                   dtype=np.uint8)
    arrays["sha256"] = np.frombuffer(checkpoint._digest(arrays).encode(), dtype=np.uint8)
    write_npz(path, arrays)
    with pytest.raises(CheckpointError, match="shape"):
        checkpoint.load(path)
    del arrays["param/4.bias"]
    arrays["spec"] = np.frombuffer(json.dumps(model.spec).encode(), dtype=np.uint8)
    arrays["sha256"] = np.frombuffer(checkpoint._digest(arrays).encode(), dtype=np.uint8)
    write_npz(path, arrays)
    with pytest.raises(CheckpointError, match="missing.*4.bias"):
        checkpoint.load(path)


def test_other_files_are_refused(tmp_path):
    text = tmp_path / "notes.npz"
    text.write_text("hello")
    with pytest.raises(CheckpointError, match="not a readable"):
        checkpoint.load(text)
    other = tmp_path / "other.npz"
    write_npz(other, {"a": np.zeros(3)})
    with pytest.raises(CheckpointError, match="not a microgradnn checkpoint"):
        checkpoint.load(other)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        checkpoint.load(tmp_path / "missing.npz")


def test_unknown_format_version_is_refused(tmp_path):
    model = build_model(MLP_SPEC)
    path = checkpoint.save(model, tmp_path / "m.npz", model.spec)
    arrays = read_npz(path)
    arrays["format"] = np.array([99], dtype=np.int64)
    arrays["sha256"] = np.frombuffer(checkpoint._digest(arrays).encode(), dtype=np.uint8)
    write_npz(path, arrays)
    with pytest.raises(CheckpointError, match="format \\[99\\]"):
        checkpoint.load(path)


def test_save_refuses_a_spec_that_does_not_rebuild_the_model(tmp_path):
    model = build_model(MLP_SPEC)
    with pytest.raises(CheckpointError, match="shape"):
        checkpoint.save(model, tmp_path / "m.npz", {**MLP_SPEC, "hidden": [9, 6]})
    model.parameters()[0].data[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        checkpoint.save(model, tmp_path / "m.npz", model.spec)
    assert not any(tmp_path.iterdir())


def test_a_trained_mlp_loads_into_the_scalar_engine(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.random((64, 784)).astype(np.float32)
    y = rng.integers(0, 10, 64)
    spec = {"model": "mlp", "hidden": [4], "activation": "sigmoid", "seed": 0}
    model = build_model(spec)
    optimizer = SGD(model.parameters(), lr=0.5)
    for _ in range(5):
        optimizer.zero_grad()
        cross_entropy(model(Tensor(x)), y).backward()
        optimizer.step()
    path = checkpoint.save(model, tmp_path / "small.npz", model.spec)
    scalar = to_scalar_mlp(microgradnn.load(path))
    assert scalar.nin == 784 and scalar.nouts == [4, 10] and scalar.activation == "sigmoid"
    out = scalar([float(v) for v in x[0]])
    assert all(isinstance(v, Value) for v in out)
    np.testing.assert_allclose([v.data for v in out], outputs(model, x[:1])[0], rtol=1e-4,
                               atol=1e-5)
    out[3].backward()  # the graph of one image can be stepped backwards
    assert any(w.grad != 0 for w in scalar.layers[0].neurons[0].w)
    with pytest.raises(ValueError, match="only MLP"):
        to_scalar_mlp(build_model(CNN_SPEC))
