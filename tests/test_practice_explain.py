"""The explain page's exercises (``explain(..., practice=True)``, ``explain --practice``):
δ[L], one entry of δ[l], one ∂C/∂w[l][j,k], one ∂C/∂b[l][j], checked against the page's
own numbers (its JSON); in chromium for the browser tests."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import numpy as np
import pytest

from microgradnn import checkpoint, cli
from microgradnn.models import build_model
from viz.explainer import explain
from viz.html import read_web_file

sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_explain_data import digit  # noqa: E402  (a ring of ink, no MNIST needed)

READY = "#mx-practice"


def page_data(text: str) -> dict:
    return json.loads(re.search(r'id="microgradnn-data">(.*?)</script>', text, re.S).group(1))


def mlp_page(tmp_path, loss):
    model = build_model({"model": "mlp", "hidden": [16, 16], "activation": "sigmoid", "seed": 4})
    page = explain(model, digit(), 3, image_name="a ring", loss=loss, practice=True)
    path = tmp_path / f"practice-{loss}.html"
    page.save(path)
    return path, page_data(page.html)


def test_practice_is_on_the_page_only_when_asked():
    model = build_model({"model": "mlp", "hidden": [16], "seed": 1})
    plain = explain(model, digit(), 3).html
    quiz = explain(model, digit(), 3, practice=True).html
    script = read_web_file("viz.explainer", "practice.js")
    assert script not in plain and "practice" not in page_data(plain)
    assert script in quiz and read_web_file("viz.explainer", "practice.css") in quiz
    assert page_data(quiz)["practice"]["judge"]["tries"] == 3


def test_cli_practice_flag(tmp_path, capsys):
    from PIL import Image

    model = build_model({"model": "mlp", "hidden": [16, 16], "seed": 0})
    ckpt = tmp_path / "mlp.npz"
    checkpoint.save(model, ckpt, model.spec, extra={"loss": "mse"})
    png = tmp_path / "ring.png"
    Image.fromarray(digit()).save(png)
    out = tmp_path / "page.html"
    assert cli.main(["explain", str(ckpt), "--image", str(png), "--label", "3", "--batch", "0",
                     "--practice", "-o", str(out)]) == 0
    assert "practice" in page_data(out.read_text(encoding="utf-8"))


def numbers(data):
    """What the exercises ask, from the page's JSON, computed here the lectures' way."""
    layers = data["layers"]
    lin = [i for i, e in enumerate(layers) if e["type"] == "Linear"]
    top, hidden = layers[lin[-1]], layers[lin[-2]]
    a_out, y = np.array(layers[-1]["activations"]), np.array(data["target"])
    if data["loss_fn"] == "cross-entropy":
        delta_top = a_out - y
    else:
        delta_top = 2 * (a_out - y) * np.array(layers[-1]["local_grad"])
    w_top = np.array(top["weight"])
    sigma_prime = np.array(layers[lin[-2] + 1]["local_grad"])
    delta_hidden = (w_top.T @ delta_top) * sigma_prime
    j = int(np.argmax(np.abs(np.array(hidden["grad"]))))
    a_prev = np.array(layers[lin[-2] - 1]["activations"]).ravel()
    k = int(np.argmax(np.abs(a_prev)))
    return {"delta_top": delta_top, "page_delta_top": np.array(top["grad"]),
            "delta_j": delta_hidden[j], "page_delta_j": hidden["grad"][j], "j": j, "k": k,
            "dw": delta_hidden[j] * a_prev[k], "page_dw": hidden["weight_grad"][j][k],
            "db": delta_hidden[j], "page_db": hidden["bias_grad"][j]}


def test_the_lectures_equations_give_the_pages_numbers(tmp_path):
    for loss in ("cross-entropy", "mse"):
        n = numbers(mlp_page(tmp_path, loss)[1])
        np.testing.assert_allclose(n["delta_top"], n["page_delta_top"], atol=1e-7)
        for mine, page in (("delta_j", "page_delta_j"), ("dw", "page_dw"), ("db", "page_db")):
            assert abs(n[mine] - n[page]) < 1e-7


def card(page, e):
    return page.locator(f"#mx-pr-{e}")


def type_in(page, e, i, value):
    page.fill(f"#mx-pr-{e} input[data-ask='{i}']", value)


def said(page, e, i):
    return page.locator(f"#mx-pr-{e} .mx-pr-field").nth(i).locator(".mx-pr-verdict").text_content()


@pytest.mark.browser
@pytest.mark.parametrize("loss", ["cross-entropy", "mse"])
def test_answer_the_four_exercises(tmp_path, open_page, loss):
    path, data = mlp_page(tmp_path, loss)
    n = numbers(data)
    page = open_page(path, READY)
    assert card(page, 1).count() == 0  # exercise 2 opens once exercise 1 is done
    # 1. δ[L]: nine right from the lecture's formula, one wrong then right
    for i, value in enumerate(n["delta_top"]):
        type_in(page, 0, i, f"{value:.4f}" if i else "0.3")
    page.click("#mx-pr-0 .mx-pr-check")
    assert said(page, 0, 0).startswith("wrong (try 1 of 3)") and said(page, 0, 1) == "right"
    rule = "a[L][j] - y[j]" if loss == "cross-entropy" else "2 (a[L][j] - y[j]) σ'(z[L][j])"
    assert rule in card(page, 0).locator(".mx-pr-hint").text_content()
    type_in(page, 0, 0, repr(float(n["delta_top"][0])))
    page.keyboard.press("Enter")
    assert said(page, 0, 0) == "right"
    # 2. one entry of δ[l]: close, then right
    title = card(page, 1).locator("h3").text_content()
    assert f"δ[2][{n['j']}]" in title and "W[l+1]ᵀ δ[l+1]" in title
    type_in(page, 1, 0, repr(float(n["delta_j"]) * 1.02))
    page.click("#mx-pr-1 .mx-pr-check")
    assert said(page, 1, 0).startswith("close")
    delta_j = float(n["delta_j"])
    type_in(page, 1, 0, f"{delta_j:.4f}" if abs(delta_j) >= 1e-4 else repr(delta_j))
    page.click("#mx-pr-1 .mx-pr-check")
    assert said(page, 1, 0) == "right"
    # 3. ∂C/∂w[l][j,k]: three wrong tries, then the page's number is shown
    assert f"∂C/∂w[2][{n['j']},{n['k']}]" in card(page, 2).locator("h3").text_content()
    for wrong in ("5", "-5", "7"):
        type_in(page, 2, 0, wrong)
        page.click("#mx-pr-2 .mx-pr-check")
    assert said(page, 2, 0).startswith("shown after 3 tries: ")
    shown = float(said(page, 2, 0).split(": ")[1])
    assert abs(shown - n["page_dw"]) <= 0.5e-4 * max(1, abs(n["page_dw"]))
    assert "a[l-1][k] δ[l][j]" in card(page, 2).locator(".mx-pr-hint").text_content()
    # 4. ∂C/∂b[l][j], right at once
    type_in(page, 3, 0, repr(float(n["db"])))
    page.click("#mx-pr-3 .mx-pr-check")
    assert said(page, 3, 0) == "right"
    assert page.text_content("#mx-pr-score") == \
        "All done. Score: 12 of 13 right (10 at the first try), 1 shown."
    assert page.problems == []


@pytest.mark.browser
def test_a_cnn_page_asks_delta_L_only(tmp_path, open_page):
    from microgradnn.tensor import Conv2d, Flatten, Linear, ReLU, Sequential

    rng = np.random.default_rng(5)
    model = Sequential(Conv2d(1, 3, 3, padding=1, rng=rng), ReLU(), Flatten(),
                       Linear(3 * 28 * 28, 10, rng=rng))
    page_obj = explain(model, digit(2), 8, practice=True)
    path = tmp_path / "cnn.html"
    page_obj.save(path)
    data = page_data(page_obj.html)
    page = open_page(path, READY)
    assert "only δ[L] is asked" in page.text_content("#mx-practice")
    delta = np.array(data["layers"][-1]["activations"]) - np.array(data["target"])
    np.testing.assert_allclose(delta, data["layers"][-2]["grad"], atol=1e-7)
    for i, value in enumerate(delta):
        type_in(page, 0, i, f"{value:.4f}")
    page.click("#mx-pr-0 .mx-pr-check")
    assert card(page, 1).count() == 0
    assert page.text_content("#mx-pr-score") == \
        "All done. Score: 10 of 10 right (10 at the first try), 0 shown."
    assert page.problems == []
