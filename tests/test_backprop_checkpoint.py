"""``microgradnn backprop CHECKPOINT (--index N | --image PNG --label D) -o page.html|.gif``:
one digit through a trained MLP, stepped one neuron at a time under the model's own cost."""

import json
import os
import re
from pathlib import Path

import numpy as np
import pytest

from microgradnn.checkpoint import save
from microgradnn.cli import main
from microgradnn.costs import get_cost
from microgradnn.models import build_model

viz = pytest.importorskip("viz")
PIL = pytest.importorskip("PIL.Image")


@pytest.fixture
def files(tmp_path):
    model = build_model({"model": "mlp", "hidden": [3], "loss": "mse", "seed": 2})
    checkpoint = save(model, tmp_path / "mse.npz", model.spec)
    pixels = np.zeros((28, 28), np.uint8)
    pixels[6:22, 12:16] = 255  # a one
    image = tmp_path / "one.png"
    PIL.fromarray(pixels).save(image)
    return checkpoint, image


def _page_data(path: Path) -> dict:
    text = path.read_text(encoding="utf-8")
    found = re.search(r'<script type="application/json"[^>]*>(.*?)</script>', text, re.S)
    return json.loads(found.group(1))


def test_one_image_through_a_checkpoint_as_a_page_and_a_gif(files, tmp_path, capsys):
    checkpoint, image = files
    page, gif = tmp_path / "one.html", tmp_path / "one.gif"
    assert main(["backprop", str(checkpoint), "--image", str(image), "--label", "1",
                 "-o", str(page), "-o", str(gif), "--quiet"]) == 0
    out = capsys.readouterr().out
    assert f"wrote {page}" in out and f"wrote {gif}" in out
    data = _page_data(page)
    assert get_cost("mse").formula in data["title"] and "label 1" in data["title"]
    names = {node["name"] for node in data["nodes"].values()}
    assert {"x", "a[1][0]", "a[2][9]", "C"} <= names  # the output sigmoid is in place: a[2]
    assert gif.read_bytes()[:6] == b"GIF89a"
    from PIL import Image
    with Image.open(gif) as frames:
        assert frames.n_frames == len(data["steps"])  # one frame per neuron step


def test_a_checkpoints_digit_as_a_quiz(files, tmp_path, capsys):
    checkpoint, image = files
    quiz, plain = tmp_path / "quiz.html", tmp_path / "plain.html"
    for path, extra in ((quiz, ["--practice"]), (plain, [])):
        assert main(["backprop", str(checkpoint), "--image", str(image), "--label", "1",
                     "-o", str(path), "--quiet", *extra]) == 0
    asked, shown = _page_data(quiz), _page_data(plain)
    assert "practice" in asked and "practice" not in shown
    assert [s["name"] for s in asked["steps"]] == [s["name"] for s in shown["steps"]]


def test_the_terminal_shows_the_cost_and_its_formula(files, capsys):
    checkpoint, image = files
    assert main(["backprop", str(checkpoint), "--image", str(image), "--label", "1"]) == 0
    out = capsys.readouterr().out
    assert "C = " in out and "the lectures' cost" in out and "a[L]: 0: " in out
    assert "%" not in out  # no softmax, no percentages


@pytest.mark.parametrize("argv, message", [
    (["--image", "{image}"], "needs --label D"),
    ([], "--index N (an MNIST test image) or --image PNG --label D"),
    (["--image", "{image}", "--label", "1", "--set", "x=1"], "--set applies to an expression"),
    (["--image", "{image}", "--label", "12"], "label must be a digit in 0..9"),
    (["--image", "{image}", "--label", "1", "-o", "page.svg"], "-o expects a file ending in"),
    (["--image", "{image}", "--label", "1", "--practice"], "--practice makes the HTML page a quiz"),
    (["--image", "{image}", "--label", "1", "--random", "3", "-o", "q.html"],
     "--random applies to an expression"),
])
def test_bad_input_is_one_line(files, argv, message, capsys):
    checkpoint, image = files
    argv = [a.replace("{image}", str(image)) for a in argv]
    assert main(["backprop", str(checkpoint), *argv]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1


def test_a_cnn_checkpoint_is_refused_with_where_to_look(tmp_path, files, capsys):
    model = build_model({"model": "lenet5"})
    path = save(model, tmp_path / "lenet.npz", model.spec)
    assert main(["backprop", str(path), "--image", str(files[1]), "--label", "1"]) == 2
    assert "only an MLP can be stepped" in capsys.readouterr().err


def test_an_expression_refuses_the_image_flags_and_takes_dash_o(tmp_path, capsys):
    assert main(["backprop", "tanh(x)", "--set", "x=1", "--index", "3"]) == 2
    assert "--index applies to a checkpoint" in capsys.readouterr().err
    page = tmp_path / "t.html"
    assert main(["backprop", "tanh(x)", "--set", "x=-1", "-o", str(page), "--quiet"]) == 0
    assert "Backpropagation through tanh(x)" in page.read_text(encoding="utf-8")


MNIST_DIR = os.environ.get("MICROGRADNN_DATA", "")


@pytest.mark.mnist
@pytest.mark.skipif(not (MNIST_DIR and Path(MNIST_DIR, "t10k-labels-idx1-ubyte.gz").exists()),
                    reason="MNIST files not found: set MICROGRADNN_DATA")
def test_index_takes_the_test_images_true_label(files, tmp_path, capsys):
    page = tmp_path / "seven.html"
    assert main(["backprop", str(files[0]), "--index", "0", "-o", str(page)]) == 0
    assert "MNIST test image 0 (label 7)" in capsys.readouterr().out
