"""``microgradnn train mnist | eval | predict`` end to end on the shared MNIST files (short runs)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import urllib.error
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from microgradnn import checkpoint
from microgradnn.cli import main
from microgradnn.datasets import mnist

pytestmark = pytest.mark.mnist

DATA = os.environ.get("MICROGRADNN_DATA")
if not DATA or not Path(DATA, "t10k-images-idx3-ubyte.gz").exists():
    pytest.skip("set MICROGRADNN_DATA to the folder with the MNIST files", allow_module_level=True)

QUICK = ["train", "mnist", "--hidden", "32", "--activation", "relu", "--optimizer", "adam",
         "--lr", "0.003", "--epochs", "2", "--limit", "3000", "--quiet"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A checkpoint from a quick CLI run, shared by the eval/predict tests."""
    folder = tmp_path_factory.mktemp("cli")
    path = folder / "mlp.npz"
    assert main(QUICK + ["--save", str(path), "--history", str(folder / "h.json")]) == 0
    return path


def test_train_saves_checkpoint_and_history(trained, capsys):
    history = json.loads((trained.parent / "h.json").read_text())
    assert [row["epoch"] for row in history] == [1, 2]
    assert history[-1]["test_accuracy"] > 0.8  # chance is 0.1
    saved = checkpoint.load_checkpoint(trained)
    assert saved.spec["hidden"] == [32] and saved.spec["activation"] == "relu"
    assert saved.extra["epochs"] == 2 and saved.extra["train_images"] == 3000


def test_train_prints_a_summary(tmp_path, capsys):
    args = ["train", "mnist", "--hidden", "16,16", "--epochs", "1", "--limit", "500",
            "--seed", "3", "--quiet"]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "MLP 784-16-16-10 (sigmoid): 13002 parameters" in out
    assert "500 training and 500 test images" in out and "test accuracy" in out


def test_train_cnn_quick(tmp_path, capsys):
    path = tmp_path / "cnn.npz"
    args = ["train", "mnist", "--model", "cnn", "--channels", "4", "--hidden", "16",
            "--optimizer", "adam", "--lr", "0.003", "--epochs", "1", "--batch-size", "50",
            "--limit", "600", "--save", str(path), "--quiet"]
    assert main(args) == 0
    assert "CNN conv3x3:4-fc16-10 (relu)" in capsys.readouterr().out
    assert checkpoint.load_checkpoint(path).spec["channels"] == [4]
    assert main(["predict", str(path), "--noise"]) == 0  # a CNN takes (1, 28, 28) inputs
    assert capsys.readouterr().out.count("probability") >= 3


def test_eval_prints_accuracy_and_confusion_matrix(trained, capsys):
    assert main(["eval", str(trained), "--limit", "1000"]) == 0
    out = capsys.readouterr().out
    accuracy = float(out.split("test accuracy ")[1].split()[0])
    assert 0.8 < accuracy <= 1.0
    table = out.split("true\\pred")[1].strip().splitlines()[1:11]
    counts = np.array([[int(v) for v in row.split()[1:]] for row in table])
    assert counts.shape == (10, 10) and counts.sum() == 1000
    assert counts.trace() / 1000 == pytest.approx(accuracy, abs=1e-4)


def test_predict_reads_big_dark_on_light_pictures(trained, tmp_path, capsys):
    images, labels = mnist.load_mnist("test", download=False, progress=False)
    right = 0
    for i in range(10):
        picture = Image.fromarray(255 - images[i]).resize((140, 140), Image.Resampling.BICUBIC)
        path = tmp_path / f"digit{i}.{'png' if i % 2 else 'jpg'}"
        picture.convert("RGB").save(path)
        assert main(["predict", str(trained), str(path)]) == 0
        lines = [l for l in capsys.readouterr().out.splitlines() if "probability" in l]
        assert len(lines) == 3
        probs = [float(l.split()[-1]) for l in lines]
        assert probs == sorted(probs, reverse=True) and sum(probs) <= 1.0 + 1e-4
        right += int(lines[0].split()[2]) == labels[i]
    assert right >= 8


def test_predict_noise_still_answers(trained, capsys):
    assert main(["predict", str(trained), "--noise", "--ascii"]) == 0
    out = capsys.readouterr().out
    assert "uniform noise" in out and out.count("probability") >= 3


@pytest.mark.parametrize("argv, message", [
    (["eval", "missing.npz"], "does not exist"),
    (["predict", "missing.npz", "--noise"], "does not exist"),
    (["train", "mnist", "--channels", "8", "--limit", "10"], "does not apply to --model mlp"),
    (["train", "mnist", "--lr", "-1", "--limit", "10"], "lr must be"),
    (["train", "mnist", "--save", "no/such/dir/m.npz", "--limit", "10"], "does not exist"),
])
def test_errors_are_one_line_with_status_2(argv, message, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1


def test_predict_refuses_a_non_image_and_a_tampered_checkpoint(trained, tmp_path, capsys):
    text = tmp_path / "note.png"
    text.write_text("hello")
    assert main(["predict", str(trained), str(text)]) == 2
    assert "not a readable image" in capsys.readouterr().err
    broken = tmp_path / "broken.npz"
    broken.write_bytes(trained.read_bytes()[:-200])
    assert main(["eval", str(broken)]) == 2
    assert "truncated" in capsys.readouterr().err


def test_diverging_training_stops_with_a_clear_message(tmp_path, capsys):
    path = tmp_path / "d.npz"
    argv = ["train", "mnist", "--activation", "relu", "--lr", "1e30", "--epochs", "2",
            "--limit", "200", "--save", str(path), "--quiet"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "diverged" in err and "epoch 1, step" in err and "learning rate 1e+30" in err
    assert not path.exists()


def test_offline_without_data_fails_fast_with_status_2(monkeypatch, tmp_path, capsys):
    monkeypatch.delenv("MICROGRADNN_DATA")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))

    def offline(url, timeout):
        raise urllib.error.URLError(socket.gaierror(-2, "Name or service not known"))

    monkeypatch.setattr(mnist, "_urlopen", offline)
    assert main(["train", "mnist", "--limit", "10", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "MICROGRADNN_DATA" in err and "train-images-idx3-ubyte.gz" in err
    assert "--data DIR" in err  # the variable set by make is not in the learner's shell


def test_the_installed_command_runs(trained):
    result = subprocess.run([sys.executable, "-m", "microgradnn", "eval", str(trained),
                             "--limit", "200"], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "confusion matrix" in result.stdout
