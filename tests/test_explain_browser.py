"""The explain page in headless Debian chromium (the ``browser`` and ``open_page`` fixtures
of conftest.py: Playwright driving /usr/bin/chromium).

Clicks a neuron, a layer, a conv map, a pool map, the flatten step; steps the backward
view with the arrow keys; switches to the batch view; checks that what is shown equals
the page's JSON, that nothing reaches the console or the network, and that hostile
names stay text.
"""

from __future__ import annotations

import numpy as np
import pytest

from microgradnn.models import build_model
from microgradnn.tensor import Conv2d, Flatten, Linear, MaxPool2d, ReLU, Sequential
from viz.explainer import explain
from test_explain_data import digit  # a ring of ink, no MNIST needed

pytestmark = pytest.mark.browser

READY = "body[data-ready='1']"  # set by the page's script when it has drawn everything
XSS = "</script><script>alert(1)</script><img src=x onerror=alert(2)>"


def a_batch(n: int = 6):
    return np.stack([digit(i + 1) for i in range(n)]), np.arange(n) % 10


def shown(text: str, value: float) -> bool:
    """A number as the page prints it (4 decimals or 4-digit scientific) matches value."""
    return abs(float(text) - value) <= 1e-4 * max(1.0, abs(value)) + 0.6e-4 * (abs(value) >= 1e-4)


def number(page, selector) -> float:
    return float(page.text_content(selector))


@pytest.fixture(scope="module")
def mlp_page(tmp_path_factory):
    model = build_model({"model": "mlp", "hidden": [16, 16], "activation": "sigmoid", "seed": 4})
    page = explain(model, digit(), 3, batch=a_batch(), image_name="a ring", batch_name="six rings")
    path = tmp_path_factory.mktemp("mlp") / "mlp.html"
    page.save(path)
    return path, page.data


def test_clicking_a_neuron_writes_out_its_weighted_sum(mlp_page, open_page):
    path, data = mlp_page
    page = open_page(path, READY)
    assert page.text_content("#mx-title") == "MLP 784-16-16-10 (sigmoid) on a ring"
    assert "label 3" in page.text_content("#mx-summary")
    page.click("#mx-n-1-3")
    z = data["layers"][1]["activations"][3]
    a = data["layers"][2]["activations"][3]
    b = data["layers"][1]["bias"][3]
    assert page.text_content("#mx-detail-title").startswith("Neuron a[1][3]")
    assert shown(page.text_content("#mx-val-z"), z) and shown(page.text_content("#mx-val-a"), a)
    assert shown(page.text_content("#mx-val-b"), b)
    eq = page.text_content("#mx-eq").splitlines()
    assert eq[0] == "a[1][3] = σ(w[1][3]·a[0] + b[1][3])"
    assert eq[2].strip().startswith("= σ(") and shown(eq[2].strip()[4:-1], z)
    assert shown(eq[-1].strip()[2:], a)
    # the largest term of the sum is written first, with the real weight and pixel
    products = data["layers"][1]["weight"][3] * data["layers"][0]["activations"]
    k = int(np.argmax(np.abs(products)))
    w, x = data["layers"][1]["weight"][3][k], data["layers"][0]["activations"][k]
    first = eq[1].split("σ(", 1)[1].split(" + ")[0]
    wt, xt = first.split("×")
    assert shown(wt.strip("()"), w) and shown(xt, x)
    size = page.eval_on_selector("#mx-weights canvas", "c => [c.width, c.height]")
    assert size == [168, 168]  # the 784 incoming weights as a 28x28 image
    assert "mx-selected" in page.get_attribute("#mx-n-1-3", "class")
    assert page.problems == []


def test_a_layer_shows_its_matrix_form_with_numbers_on_hover(mlp_page, open_page):
    path, data = mlp_page
    page = open_page(path, READY)
    page.click("#mx-n-2-5")
    page.click("#mx-layer-2")
    assert page.text_content("#mx-detail-title") == "Layer 2 in matrix form: a[2] = σ(W[2] a[1] + b[2])"
    for part in ("W", "a", "b", "z", "act"):
        assert page.is_visible(f"#mx-mat-{part} canvas")
    text = page.text_content("#mx-mat-text")
    assert text.startswith("Row 5 of W[2] times a[1]")
    W = data["layers"][3]["weight"]
    box = page.query_selector("#mx-mat-W canvas").bounding_box()
    page.mouse.move(box["x"] + 1 + 7.5 * (box["width"] - 2) / 16,  # inside its 1 px border
                    box["y"] + 1 + 5.5 * (box["height"] - 2) / 16)
    tip = page.text_content("#mx-tip")
    assert tip.startswith("W[2][5,7] = ") and shown(tip.split(" = ")[1], W[5][7])
    assert page.problems == []


def test_backward_steps_follow_the_textbook_with_the_arrow_keys(mlp_page, open_page):
    path, data = mlp_page
    layers = data["layers"]
    page = open_page(path, READY)
    page.click("#mx-mode-backward")
    assert page.text_content("#mx-step-counter") == "1 / 7"
    assert page.text_content("#mx-step-title") == "δ[3] = ∂C/∂z[3], the error at the output"
    cells = page.eval_on_selector_all("#mx-step-delta .mx-vec span", "s => s.map(e => e.textContent)")
    assert len(cells) == 10 and all(shown(t, v) for t, v in zip(cells, layers[5]["grad"]))
    page.keyboard.press("ArrowRight")
    assert page.text_content("#mx-step-title") == "∂C/∂b[3] = δ[3],  ∂C/∂W[3] = δ[3] a[2]ᵀ"
    assert page.is_visible("#mx-step-dW canvas")
    page.keyboard.press("ArrowRight")
    assert page.text_content("#mx-step-counter") == "3 / 7"
    assert page.text_content("#mx-step-title") == "δ[2] = (W[3]ᵀ δ[3]) ⊙ σ'(z[2])"
    for selector, values in (("#mx-step-dA", layers[4]["grad"]), ("#mx-step-sp", layers[4]["local_grad"]),
                             ("#mx-step-delta", layers[3]["grad"])):
        cells = page.eval_on_selector_all(f"{selector} .mx-vec span", "s => s.map(e => e.textContent)")
        assert len(cells) == 16 and all(shown(t, v) for t, v in zip(cells, values)), selector
    for _ in range(10):
        page.keyboard.press("ArrowRight")
    assert page.text_content("#mx-step-counter") == "7 / 7" and page.is_disabled("#mx-step-next")
    page.keyboard.press("ArrowLeft")
    assert page.text_content("#mx-step-title") == "∂C/∂b[1] = δ[1],  ∂C/∂W[1] = δ[1] a[0]ᵀ"
    # the circles now carry dC/da, the connections dC/dw
    label = page.get_attribute("#mx-n-2-0", "aria-label")
    assert label.startswith("∂C/∂a[2][0] = ") and shown(label.split(" = ")[1], layers[4]["grad"][0])
    page.fill("#mx-topk", "10")
    page.dispatch_event("#mx-topk", "input")
    assert page.eval_on_selector_all("#mx-conns line", "ls => ls.length") == 30
    page.click("#mx-n-1-0")
    delta = layers[1]["grad"][0]
    assert shown(page.text_content("#mx-val-delta"), delta)
    assert shown(page.text_content("#mx-val-db"), layers[1]["bias_grad"][0])
    page.click("#mx-layer-1")  # the layer's gradient in matrix form: δ[1] a[0]ᵀ
    assert page.text_content("#mx-detail-title") == "Layer 1 backward: ∂C/∂W[1] = δ[1] a[0]ᵀ"
    box = page.query_selector("#mx-mat-W canvas").bounding_box()
    page.mouse.move(box["x"] + 1 + 400.5 * (box["width"] - 2) / 784,  # inside its 1 px border
                    box["y"] + 1 + 0.5 * (box["height"] - 2) / 16)
    tip = page.text_content("#mx-tip")  # a CSS pixel spans 4 of the 784 columns here
    k = int(tip.split(",")[1].split("]")[0])
    assert tip.startswith("∂C/∂W[1][0,") and abs(k - 400) <= 4
    assert shown(tip.split(" = ")[1], layers[1]["weight_grad"][0][k])
    assert page.problems == []


def test_forward_steps_walk_the_layers(mlp_page, open_page):
    path, data = mlp_page
    page = open_page(path, READY)
    assert page.text_content("#mx-step-title") == "a[1] = σ(W[1] a[0] + b[1])"
    page.keyboard.press("ArrowRight")
    assert page.text_content("#mx-step-title") == "a[2] = σ(W[2] a[1] + b[2])"
    cells = page.eval_on_selector_all("#mx-step-a .mx-vec span", "s => s.map(e => e.textContent)")
    assert all(shown(t, v) for t, v in zip(cells, data["layers"][4]["activations"]))
    page.keyboard.press("End")
    for _ in range(3):
        page.keyboard.press("ArrowRight")
    assert page.text_content("#mx-step-title") == "The prediction: the brightest output"
    assert page.text_content("#mx-out-" + str(data["prediction"])).startswith(str(data["prediction"]))
    assert page.problems == []


def test_the_whole_batch_switch_shows_the_mean_beside_this_example(mlp_page, open_page):
    path, data = mlp_page
    layers = data["layers"]
    page = open_page(path, READY)
    assert page.text_content("#mx-batch") == "Whole batch (N = 6)"
    page.click("#mx-mode-backward")
    page.click("#mx-batch")
    assert page.get_attribute("#mx-batch", "aria-pressed") == "true"
    label = page.get_attribute("#mx-n-1-2", "aria-label")
    assert shown(label.split(" = ")[1], layers[2]["batch_grad"][2])
    page.click("#mx-n-1-2")
    assert shown(page.text_content("#mx-val-dA"), layers[2]["grad"][2])
    assert shown(page.text_content("#mx-val-dA-batch"), layers[2]["batch_grad"][2])
    assert shown(page.text_content("#mx-val-db-batch"), layers[1]["batch_bias_grad"][2])
    assert page.is_visible("#mx-weights-batch canvas")
    page.keyboard.press("ArrowRight")
    assert page.is_visible("#mx-step-dW-batch canvas") and page.is_visible("#mx-step-dW canvas")
    assert page.eval_on_selector_all("#mx-batchinfo canvas", "c => c.length") == 6
    assert "mean cost " in page.text_content("#mx-batch-summary")
    page.click("#mx-batch")
    assert page.query_selector("#mx-step-dW-batch") is None
    assert page.problems == []


def test_tab_reaches_a_neuron_and_enter_opens_it(mlp_page, open_page):
    path, _ = mlp_page
    page = open_page(path, READY)
    for _ in range(40):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.classList.contains('mx-neuron')"):
            break
    focused = page.evaluate("document.activeElement.id")
    assert focused.startswith("mx-n-1-")
    page.keyboard.press("Enter")
    assert page.text_content("#mx-detail-title").startswith("Neuron a[1][" + focused.split("-")[-1] + "]")
    assert page.problems == []


def test_a_page_without_batch_disables_the_switch(tmp_path, open_page):
    model = build_model({"model": "mlp", "hidden": [8], "seed": 0})
    path = tmp_path / "nobatch.html"
    explain(model, digit(), None, loss="mse").save(path)
    page = open_page(path, READY)
    assert page.is_disabled("#mx-batch")
    summary = page.text_content("#mx-summary")
    data = explain(model, digit(), None, loss="mse").data
    assert f"label {data['prediction']} assumed (no label was given" in summary
    # the lectures' cost: output activations a[L][j], no softmax percentages anywhere
    assert "%" not in summary and "C = Σ_j (a[2][j] - y[j])²" in summary
    out = page.text_content("#mx-out-3")
    assert "%" not in out and out.startswith("3  a[2][3] = ")
    assert shown(out.split(" = ")[1], data["layers"][-1]["activations"][3])
    assert page.text_content("#mx-steps-title") == "The forward pass, step by step"
    page.click("#mx-step-next")
    assert "%" not in page.text_content("#mx-step-body")
    page.click("#mx-mode-backward")
    assert page.text_content("#mx-steps-title") == "Backpropagation, step by step"
    eq = page.text_content("#mx-cost-eq")
    assert eq.startswith("C = Σ_j (a[2][j] - y[j])²")
    terms = [float(t) for t in eq.splitlines()[1].strip(" =").split(" + ")]
    assert abs(sum(terms) - data["loss"]) < 1e-3 and shown(eq.splitlines()[-1].strip(" ="), data["loss"])
    assert page.problems == []


# ---------------------------------------------------------------- CNN

@pytest.fixture(scope="module")
def cnn_page(tmp_path_factory):
    rng = np.random.default_rng(5)
    model = Sequential(Conv2d(1, 3, 3, padding=1, rng=rng), ReLU(), MaxPool2d(2),
                       Conv2d(3, 4, 3, stride=2, padding=1, rng=rng), ReLU(), Flatten(),
                       Linear(196, 10, rng=rng))
    page = explain(model, digit(2), 8, batch=a_batch(4), image_name="ring.png")
    path = tmp_path_factory.mktemp("cnn") / "cnn.html"
    page.save(path)
    return path, page.data


def maps(data, i):
    return np.asarray(data["layers"][i]["activations"])


def selected_pixel(page):
    """(row, column) of the output pixel the detail panel shows."""
    text = page.text_content("#mx-detail-body")
    return tuple(map(int, text.split("pixel (")[1].split(")")[0].split(", ")))


def test_clicking_a_conv_map_shows_one_pixel_as_patch_kernel_products_and_sum(cnn_page, open_page):
    path, data = cnn_page
    page = open_page(path, READY)
    assert page.eval_on_selector_all("canvas.mx-map", "c => c.length") == 1 + 3 + 3 + 3 + 4 + 4
    page.click("#mx-map-1-2")
    assert page.text_content("#mx-detail-title") == "Convolution z[1]: map 2 (28×28)"
    assert "kernel 3×3, stride 1, padding 1: output side ⌊(28 + 2·1 - 3) / 1⌋ + 1 = 28" in \
        page.text_content("#mx-conv-geometry")
    out = maps(data, 1)
    # walk the window to the top-left corner with the arrow keys: padding cells appear
    page.focus("#mx-outmap")
    for _ in range(30):
        page.keyboard.press("ArrowUp")
        page.keyboard.press("ArrowLeft")
    assert page.eval_on_selector_all("#mx-conv-patch td.mx-pad", "t => t.length") == 5
    patch = page.eval_on_selector_all("#mx-conv-patch td", "t => t.map(e => e.textContent)")
    x = maps(data, 0)[0]
    assert all(shown(patch[4 + 3 * y + xx], x[y, xx]) for y in range(2) for xx in range(2))
    kernel = page.eval_on_selector_all("#mx-conv-kernel td", "t => t.map(e => e.textContent)")
    K = np.asarray(data["layers"][1]["weight"])[2, 0]
    assert all(shown(t, v) for t, v in zip(kernel, K.ravel()))
    total = float(page.text_content("#mx-conv-sum"))
    bias = data["layers"][1]["bias"][2]
    assert abs(total + bias - out[2, 0, 0]) < 1e-6  # the written-out sum is the map's value
    assert float(page.text_content("#mx-conv-value")) == pytest.approx(out[2, 0, 0], abs=1e-6)
    eq = page.text_content("#mx-conv-eq")
    assert "sum + bias = " in eq and eq.rstrip().endswith("= z[1][2][0,0]")
    page.keyboard.press("ArrowRight")  # the window slides one stride to the right
    assert "pixel (0, 1)" in page.text_content("#mx-detail-body")
    assert page.problems == []


def test_a_strided_conv_with_several_input_channels(cnn_page, open_page):
    path, data = cnn_page
    page = open_page(path, READY)
    page.click("#mx-map-4-1")
    assert "stride 2, padding 1: output side ⌊(14 + 2·1 - 3) / 2⌋ + 1 = 7" in \
        page.text_content("#mx-conv-geometry")
    page.select_option("#mx-cin", "2")
    r, q = selected_pixel(page)
    inp = maps(data, 3)[2]
    patch = page.eval_on_selector_all("#mx-conv-patch td", "t => t.map(e => e.textContent)")
    for y in range(3):
        for xx in range(3):
            iy, ix = 2 * r + y - 1, 2 * q + xx - 1
            expected = inp[iy, ix] if 0 <= iy < 14 and 0 <= ix < 14 else 0.0
            assert shown(patch[3 * y + xx], expected)
    total = float(page.text_content("#mx-conv-sum"))
    assert abs(total + data["layers"][4]["bias"][1] - maps(data, 4)[1, r, q]) < 1e-6
    assert "Σ over all 3 input channels" in page.text_content("#mx-conv-eq")
    assert page.problems == []


def test_clicking_a_pool_map_shows_the_window_and_its_winner(cnn_page, open_page):
    path, data = cnn_page
    page = open_page(path, READY)
    page.click("#mx-map-3-1")
    assert page.text_content("#mx-detail-title") == "Max pooling a[1]: map 1 (14×14)"
    r, q = selected_pixel(page)
    window = maps(data, 2)[1, 2 * r:2 * r + 2, 2 * q:2 * q + 2]
    w = int(np.argmax(window))
    assert page.text_content("#mx-pool-winner") == f"{2 * r + w // 2},{2 * q + w % 2}"
    assert page.eval_on_selector_all("#mx-pool-window td.mx-win", "t => t.length") == 1
    assert shown(page.text_content("#mx-pool-window td.mx-win"), window.max())
    assert shown(page.text_content("#mx-pool-eq").split(") = ")[1].split()[0], maps(data, 3)[1, r, q])
    assert page.problems == []


def test_flatten_and_the_cnn_backward_view(cnn_page, open_page):
    path, data = cnn_page
    page = open_page(path, READY)
    page.click("#mx-colhead-6")
    assert "4 maps of 7×7 → one vector of 196" in page.text_content("#mx-flatten-eq")
    page.click("#mx-mode-backward")
    assert page.text_content("#mx-step-counter") == "1 / 9"
    assert page.text_content("#mx-step-title").startswith("∂C/∂ the output a[3]: Softmax")
    for _ in range(4):
        page.keyboard.press("ArrowRight")
    assert page.text_content("#mx-step-title").startswith("∂C/∂ z[2]: Conv2d")
    assert page.is_visible("#mx-kgrad-4 canvas")
    page.click("#mx-batch")
    assert page.is_visible("#mx-kgrad-batch-4 canvas")
    for _ in range(10):
        page.keyboard.press("ArrowRight")
    assert page.is_visible("#mx-saliency canvas")
    # "Whole batch" shows the batch's saliency: the mean of dC/dx over its images
    assert page.text_content("#mx-saliency").startswith("mini-batch mean ∂C/∂x")
    batch_dx = np.asarray(data["layers"][0]["batch_grad"])
    assert f"{np.abs(batch_dx).max():.4f}" in page.text_content("#mx-saliency") \
        or f"{np.abs(batch_dx).max():.4e}" in page.text_content("#mx-saliency")
    page.click("#mx-map-1-0")
    assert "∂C/∂b[1][0]" in page.text_content("#mx-conv-eq")
    kgrad = page.eval_on_selector_all("#mx-conv-kgrad td", "t => t.map(e => e.textContent)")
    expected = np.asarray(data["layers"][1]["weight_grad"])[0, 0].ravel()
    assert all(shown(t, v) for t, v in zip(kgrad, expected))
    assert page.is_visible("#mx-conv-kgrad-batch")
    assert page.problems == []


# ---------------------------------------------------------------- safety

def test_hostile_names_stay_text(tmp_path, open_page):
    model = build_model({"model": "mlp", "hidden": [4], "seed": 0})
    page_obj = explain(model, digit(), 1, image_name=XSS, title=XSS, batch=a_batch(2),
                       batch_name=XSS)
    assert "<script>alert(1)" not in page_obj.html and "<img src=x" not in page_obj.html
    path = tmp_path / "xss.html"
    page_obj.save(path)
    page = open_page(path, READY)
    assert page.text_content("#mx-title") == XSS
    assert page.title() == XSS
    assert XSS in page.text_content("#mx-summary")
    page.click("#mx-mode-backward")
    page.click("#mx-batch")
    assert XSS in page.text_content("#mx-batchinfo")
    assert page.evaluate("document.querySelectorAll('script').length") == 2
    assert page.evaluate("document.querySelectorAll('img').length") == 0
    assert page.problems == []


def test_jupyter_shows_the_page_in_an_isolated_iframe(tmp_path, open_page):
    model = build_model({"model": "mlp", "hidden": [4], "seed": 0})
    shown_html = explain(model, digit(), 1, image_name=XSS)._repr_html_()
    assert shown_html.startswith("<iframe srcdoc=") and 'sandbox="allow-scripts"' in shown_html
    path = tmp_path / "notebook.html"
    path.write_text(f"<!DOCTYPE html><html><body>{shown_html}</body></html>", encoding="utf-8")
    page = open_page(path)
    frame = page.frame_locator("iframe")
    frame.locator("body[data-ready='1']").wait_for()
    assert frame.locator("#mx-title").text_content() == f"MLP 784-4-10 (sigmoid) on {XSS}"
    frame.locator("#mx-n-1-0").click()
    assert frame.locator("#mx-detail-title").text_content().startswith("Neuron a[1][0]")
    assert page.problems == []
