"""``microgradnn explain``: from a checkpoint and an MNIST index or a PNG to one page."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import numpy as np
import pytest

from microgradnn import checkpoint, cli
from microgradnn.checkpoint import Checkpoint
from microgradnn.models import build_model
from microgradnn.module import Module
from microgradnn.tensor import Conv2d, Flatten, Linear, Sequential

HOSTILE = '<img src=x onerror=alert(1)> "seven" & </script>.png'


def page_data(path: Path) -> dict:
    text = path.read_text(encoding="utf-8")
    match = re.search(r'<script type="application/json" id="microgradnn-data">(.*?)</script>',
                      text, re.S)
    return json.loads(match.group(1))


@pytest.fixture
def mse_checkpoint(tmp_path):
    model = build_model({"model": "mlp", "hidden": [16, 16], "seed": 0})
    path = tmp_path / "mlp.npz"
    checkpoint.save(model, path, model.spec, extra={"loss": "mse"})
    return path


def digit_png(path: Path) -> Path:
    from PIL import Image, ImageDraw

    image = Image.new("L", (120, 160), 255)
    ImageDraw.Draw(image).line([(20, 20), (100, 20), (50, 140)], fill=0, width=12)
    image.save(path)
    return path


def test_image_with_a_hostile_file_name(tmp_path, mse_checkpoint, capsys):
    png = digit_png(tmp_path / HOSTILE.replace("/", "_"))
    out = tmp_path / "seven.html"
    code = cli.main(["explain", str(mse_checkpoint), "--image", str(png), "--label", "7",
                     "--batch", "0", "-o", str(out)])
    assert code == 0
    printed = capsys.readouterr().out
    assert "MLP 784-16-16-10 (sigmoid) on " in printed and "(mse)" in printed
    assert f"wrote {out}" in printed
    data = page_data(out)
    assert data["image_name"] == png.name and data["label"] == 7 and data["loss_fn"] == "mse"
    assert data["batch"] is None
    html = out.read_text(encoding="utf-8")
    assert "<img src=x" not in html and html.count("</script>") == 2


def test_image_without_label_uses_the_prediction_and_no_mnist_means_no_batch(
        tmp_path, mse_checkpoint, capsys):
    empty = tmp_path / "no-mnist"
    empty.mkdir()
    out = tmp_path / "p.html"
    code = cli.main(["explain", str(mse_checkpoint), "--image", str(digit_png(tmp_path / "d.png")),
                     "--data", str(empty), "-o", str(out)])
    assert code == 0
    captured = capsys.readouterr()
    assert "note: the MNIST training images are not on disk" in captured.out
    data = page_data(out)
    assert data["label"] == data["prediction"] and data["label_given"] is False
    assert captured.err.strip() == (f"note: no --label given: the cost compares with the "
                                    f"prediction, label {data['label']} assumed")
    # the lectures' cost: the output activation, not a softmax probability
    assert f"prediction {data['label']} (a[3][{data['label']}] = " in captured.out
    assert "probability" not in captured.out
    assert data["batch"] is None


needs_mnist = pytest.mark.skipif(
    not os.environ.get("MICROGRADNN_DATA") or not Path(os.environ["MICROGRADNN_DATA"]).is_dir(),
    reason="needs the MNIST files in MICROGRADNN_DATA")


@pytest.mark.mnist
@needs_mnist
def test_index_takes_the_test_image_its_label_and_a_training_batch(tmp_path, mse_checkpoint):
    from microgradnn.datasets import load_mnist

    images, labels = load_mnist("test", progress=False)
    out = tmp_path / "seven.html"
    assert cli.main(["explain", str(mse_checkpoint), "--index", "7", "--batch", "8",
                     "-o", str(out)]) == 0
    data = page_data(out)
    assert data["image_name"] == "MNIST test image 7" and data["label"] == int(labels[7])
    assert np.array_equal(np.array(data["pixels"]), images[7])
    assert data["batch"]["size"] == 8
    assert data["batch"]["source"] == "8 random MNIST training images, seed 0"
    assert cli.main(["explain", str(mse_checkpoint), "--index", "7", "--label", "1",
                     "--batch", "0", "-o", str(out)]) == 0
    assert page_data(out)["label"] == 1


@pytest.mark.mnist
@needs_mnist
def test_an_index_outside_the_test_set_is_one_line(tmp_path, mse_checkpoint, capsys):
    code = cli.main(["explain", str(mse_checkpoint), "--index", "10000", "-o",
                     str(tmp_path / "x.html")])
    assert code == 2
    err = capsys.readouterr().err.strip()
    assert err == "microgradnn explain: error: --index 10000: the MNIST test set has images 0..9999"


@pytest.mark.parametrize("argv, message", [
    (["--index", "1", "--image", "a.png"], "not allowed with argument"),
    (["--batch", "600", "--index", "1"], "expected 0..512, got 600"),
    ([], "one of the arguments --index --pick --image is required"),
    (["--pick", "sure"], "argument --pick: invalid choice: 'sure'"),
])
def test_argument_errors(tmp_path, mse_checkpoint, capsys, argv, message):
    with pytest.raises(SystemExit):
        cli.main(["explain", str(mse_checkpoint), *argv, "-o", str(tmp_path / "x.html")])
    assert message in capsys.readouterr().err


def test_missing_output_folder_and_missing_checkpoint(tmp_path, mse_checkpoint, capsys):
    png = str(digit_png(tmp_path / "d.png"))
    assert cli.main(["explain", str(mse_checkpoint), "--image", png, "-o",
                     str(tmp_path / "nowhere" / "x.html")]) == 2
    assert "folder" in capsys.readouterr().err
    assert cli.main(["explain", str(tmp_path / "none.npz"), "--image", png, "-o",
                     str(tmp_path / "x.html")]) == 2
    assert "does not exist" in capsys.readouterr().err


class GroupNorm(Module):
    def __call__(self, x):
        return x


def test_a_checkpoint_of_an_unsupported_model_is_refused(tmp_path, monkeypatch, capsys):
    model = Sequential(Conv2d(1, 2, 3, padding=1), GroupNorm(), Flatten(), Linear(1568, 10))
    monkeypatch.setattr(checkpoint, "load_checkpoint",
                        lambda path: Checkpoint(model=model, spec={"model": "cnn"}, extra={}))
    out = tmp_path / "x.html"
    code = cli.main(["explain", "families.npz", "--image", str(digit_png(tmp_path / "d.png")),
                     "--batch", "0", "-o", str(out)])
    assert code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["microgradnn explain: error: explain: layer 1 is GroupNorm, which the explain "
                   "page cannot draw; it draws Linear, ReLU, Sigmoid, Tanh, Conv2d, MaxPool2d, "
                   "AvgPool2d, Flatten, Dropout, BatchNorm2d, LocalResponseNorm, "
                   "AdaptiveAvgPool2d, BasicBlock, Inception"]
    assert not out.exists()


# ---------------------------------------------------------------- choosing the example

def synthetic_test_set(n=60, seed=3):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (n, 28, 28), dtype=np.uint8), rng.integers(0, 10, n)


@pytest.mark.parametrize("loss", ["cross-entropy", "mse"])
def test_pick_finds_the_first_wrong_and_the_least_sure_image(loss):
    from microgradnn.training import predict_logits
    from viz.explainer.pick import pick_example

    model = build_model({"model": "mlp", "hidden": [16], "seed": 1})
    images, labels = synthetic_test_set()
    logits = predict_logits(model, images)
    first_wrong = int(np.flatnonzero(logits.argmax(1) != labels)[0])
    index, why = pick_example(model, images, labels, "wrong", loss, chunk=7)
    assert index == first_wrong and why.startswith("the first misclassified test image")
    top = (1 / (1 + np.exp(-logits)) if loss == "mse"
           else np.exp(logits) / np.exp(logits).sum(1, keepdims=True)).max(1)
    index, why = pick_example(model, images, labels, "unsure", loss, chunk=7)
    assert index == int(np.argmin(top))
    assert why.endswith(f"is {top.min():.4f}")
    assert ("top output activation" in why) == (loss == "mse")
    right = logits.argmax(1)
    assert pick_example(model, images, right, "wrong", loss) == (
        None, "no test image among the 60 is misclassified")


@pytest.mark.mnist
@needs_mnist
def test_pick_wrong_on_the_command_line(tmp_path, mse_checkpoint, capsys):
    out = tmp_path / "wrong.html"
    assert cli.main(["explain", str(mse_checkpoint), "--pick", "wrong", "--batch", "0",
                     "-o", str(out)]) == 0
    data = page_data(out)
    assert data["prediction"] != data["label"] and data["label_given"] is True
    n = int(data["image_name"].rsplit(" ", 1)[1])
    assert f"picked MNIST test image {n}, the first misclassified" in capsys.readouterr().out


def test_a_resnet_checkpoint_is_explained_with_its_architecture(tmp_path, capsys):
    model = build_model({"model": "resnet", "seed": 0})
    path = tmp_path / "resnet.npz"
    checkpoint.save(model, path, model.spec)
    out = tmp_path / "r.html"
    assert cli.main(["explain", str(path), "--image", str(digit_png(tmp_path / "d.png")),
                     "--label", "7", "--batch", "0", "-o", str(out)]) == 0
    data = page_data(out)
    assert [e["type"] for e in data["layers"]].count("BasicBlock") == 3
    assert data["loss_fn"] == "cross-entropy" and "probability" in capsys.readouterr().out
    svg = data["architecture"]
    assert svg.lstrip().startswith("<?xml") and 'id="arch_3"' in svg  # the first block's box
