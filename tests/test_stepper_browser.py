"""The HTML stepper in a real browser: headless Debian chromium driven by Playwright.

Needs the OS's chromium (``apt-get install chromium``; another binary can be given
in ``MICROGRADNN_CHROMIUM``) and the ``playwright`` Python package; Playwright's own
browser download is not used.
"""

from __future__ import annotations

import pytest

from microgradnn.autodiff import topological_order
from microgradnn.engine import Value, format_number
from viz.steps.backprop import backprop_steps
from viz.steps.page import save_stepper

pytestmark = pytest.mark.browser

XSS = "</script><script>alert(1)</script>"
# browser and open_page: the shared fixtures of tests/conftest.py


def neuron(w_label="w"):
    x, w, b = Value(2.0, label="x"), Value(-3.0, label=w_label), Value(6.8813735870195432, label="b")
    o = (x * w + b).tanh()
    o.label = "o"
    return o


def grad_shown(page, node_id):
    return page.text_content(f"#{node_id} text.mg-grad")


def classes(page, element_id):
    return page.get_attribute(f"#{element_id}", "class").split()


def test_clicking_next_walks_the_chain_rule(tmp_path, open_page):
    o = neuron()
    steps = backprop_steps(o)
    path = tmp_path / "neuron.html"
    save_stepper(o, str(path))
    page = open_page(path)

    # the page opens on the first step: the output with its seed gradient
    assert page.text_content("#mg-counter") == f"1 / {len(steps)}"
    assert grad_shown(page, "v5") == "1.0000"
    assert all(grad_shown(page, f"v{i}") == "?" for i in range(5))
    assert "mg-pending" in classes(page, "e0")
    page.click("#mg-first")
    assert page.text_content("#mg-counter") == f"0 / {len(steps)}"

    for _ in range(3):
        page.click("#mg-next")
    step = steps[2]  # backward through x*w + b
    assert page.text_content("#mg-counter") == f"3 / {len(steps)}"
    assert page.text_content("#mg-caption") == str(step)
    assert page.eval_on_selector_all("g.node.mg-current", "els => els.map(e => e.id).sort()") == \
        [step.node_id, f"{step.node_id}_op"]
    used = page.eval_on_selector_all("g.edge.mg-used", "els => els.map(e => e.id).sort()")
    assert used == sorted(list(step.edge_ids) + [f"{step.node_id}_out"])
    receiving = page.eval_on_selector_all("g.node.mg-receiving", "els => els.map(e => e.id).sort()")
    assert receiving == sorted(t.operand_id for t in step.terms)
    assert grad_shown(page, "v4") == "0.5000" and grad_shown(page, "v3") == "0.5000"
    assert grad_shown(page, "v2") == "0.5000"
    assert grad_shown(page, "v0") == "?" and "mg-grad-pending" in classes(page, "v0")
    assert page.text_content("#e3 text.mg-contrib") == "grad += 0.5000"
    assert page.text_content("#e0 text.mg-contrib") == "grad += ?"
    rows = page.eval_on_selector_all("#mg-terms-body tr", "rs => rs.map(r => r.textContent)")
    assert len(rows) == 2

    page.click("#mg-next")
    o.backward()
    leaves = topological_order(o)
    for i, value in enumerate(leaves):
        assert grad_shown(page, f"v{i}") == format_number(value.grad)
    assert "Done" in page.text_content("#mg-phase")
    assert page.is_disabled("#mg-next")
    assert page.problems == []


def test_keys_slider_and_prev_land_on_the_same_frames(tmp_path, open_page):
    o = neuron()
    steps = backprop_steps(o)
    path = tmp_path / "neuron.html"
    save_stepper(o, str(path))
    page = open_page(path)
    page.keyboard.press("End")
    assert page.text_content("#mg-counter") == f"{len(steps)} / {len(steps)}"
    page.keyboard.press("ArrowLeft")
    page.keyboard.press("ArrowLeft")
    assert page.text_content("#mg-caption") == str(steps[len(steps) - 3])
    keyed = page.inner_html("#mg-graph")
    page.keyboard.press("Home")
    assert page.text_content("#mg-caption") == ""
    page.eval_on_selector("#mg-slider", "(s, v) => { s.value = v; s.dispatchEvent(new Event('input')); }",
                          str(len(steps) - 2))
    assert page.inner_html("#mg-graph") == keyed  # same state however we got there
    page.click("#mg-prev")
    assert page.text_content("#mg-counter") == f"{len(steps) - 3} / {len(steps)}"
    assert page.problems == []


def test_play_runs_to_the_end(tmp_path, open_page):
    a = Value(3.0, label="a")
    path = tmp_path / "square.html"
    save_stepper(a * a, str(path))
    page = open_page(path)
    page.select_option("#mg-speed", "400")
    page.click("#mg-play")
    page.wait_for_function("() => document.getElementById('mg-counter').textContent === '2 / 2'",
                           timeout=20000)
    assert grad_shown(page, "v0") == "6.0000"
    assert page.text_content("#mg-caption").count("∂L/∂a += a * ∂L/∂L") == 2
    assert page.problems == []


def test_forward_mode_fills_values_first(tmp_path, open_page):
    o = neuron()
    path = tmp_path / "forward.html"
    save_stepper(o, str(path), forward=True)
    page = open_page(path)
    page.click("#mg-first")
    assert page.text_content("#v0 text.mg-data") == "2.0000"
    assert page.text_content("#v5 text.mg-data") == "?"
    assert page.text_content("#e4 text.mg-local") == "local ?"
    page.click("#mg-next")
    assert page.text_content("#v2 text.mg-data") == "-6.0000"
    assert page.text_content("#v5 text.mg-data") == "?"
    assert page.text_content("#mg-caption") == "x*w = 2.0000*(-3.0000) = -6.0000"
    assert "mg-value-pending" in classes(page, "v5")
    for _ in range(3):
        page.click("#mg-next")
    assert page.text_content("#v5 text.mg-data") == "0.7071"
    assert page.text_content("#e4 text.mg-local") == "local 0.5000"
    assert grad_shown(page, "v5") == "1.0000" and grad_shown(page, "v4") == "?"
    assert page.problems == []


def test_script_label_is_shown_as_text(tmp_path, open_page):
    o = neuron(w_label=XSS)
    path = tmp_path / "xss.html"
    save_stepper(o, str(path), title=XSS)
    page = open_page(path)
    assert page.text_content("#mg-title") == XSS
    assert XSS in page.text_content("#v1")
    page.keyboard.press("End")
    assert f"∂o/∂x += ({XSS}) * ∂o/∂v2 = " in page.text_content("#mg-caption")
    assert f"∂o/∂({XSS}) += x * ∂o/∂v2 = " in page.text_content("#mg-caption")
    assert XSS in page.text_content("#mg-terms-body")
    assert page.evaluate("document.querySelectorAll('script').length") == 2
    assert page.problems == []


def test_frames_only_restyle_nothing_moves(tmp_path, open_page):
    x = Value(1.5, label="x")
    root = (x + 1) * 2 - x ** 2 / 3
    path = tmp_path / "moves.html"
    save_stepper(root, str(path), forward=True)
    page = open_page(path)
    page.keyboard.press("Home")
    geometry = """() => Array.from(document.querySelectorAll('#mg-graph svg .mg-outline, #mg-graph svg g.edge path'))
        .map(e => { const b = e.getBBox(); return [b.x, b.y, b.width, b.height].map(v => v.toFixed(2)).join(','); })"""
    count = "() => document.querySelectorAll('#mg-graph svg *').length"
    before, elements = page.evaluate(geometry), page.evaluate(count)
    total = len(backprop_steps(root, forward=True))
    for _ in range(total):
        page.keyboard.press("ArrowRight")
        assert page.evaluate(geometry) == before
        assert page.evaluate(count) == elements
    assert page.text_content("#mg-counter") == f"{total} / {total}"
    assert page.problems == []


def mlp_sample(sizes=(6, 6, 3), nin=4):
    from microgradnn import losses
    from microgradnn.nn import MLP

    model = MLP(nin, list(sizes), seed=3)
    loss = losses.cross_entropy(model([0.5, -0.2, 0.9, 0.1][:nin]), 1)
    return loss, model


def _inside(page, selector, box="#mg-graph"):
    return page.evaluate("""([s, b]) => {
        const r = document.querySelector(s).getBoundingClientRect();
        const c = document.querySelector(b).getBoundingClientRect();
        return r.left >= c.left - 1 && r.right <= c.right + 1 && r.top >= c.top - 1
            && r.bottom <= c.bottom + 1; }""", [selector, box])


def test_a_model_sample_opens_on_its_cost_and_reads_in_lecture_notation(tmp_path, open_page):
    loss, model = mlp_sample()
    path = tmp_path / "mlp.html"
    save_stepper(loss, str(path), parameters=model)
    page = open_page(path)
    steps = backprop_steps(loss, parameters=model)
    root = steps[0].node_id
    assert page.text_content("#mg-counter") == f"1 / {len(steps)}"
    assert page.text_content("#mg-caption") == "∂C/∂C = 1.0000"
    assert _inside(page, f"#{root}")  # the cost is on screen, not the inputs' corner
    assert "w[1][0,0]" in page.text_content("#mg-graph")
    page.keyboard.press("End")
    caption = page.text_content("#mg-caption")
    assert "∂C/∂w[1][" in caption and "v" not in caption.split("∂C/∂")[1][:2]
    # the last step's terms table is all there: nothing cut off in the caption box
    assert page.evaluate("""() => { const b = document.getElementById('mg-caption-box');
        return b.scrollHeight <= b.clientHeight + 1; }""")
    assert _inside(page, "#mg-terms", "#mg-caption-box")
    assert page.problems == []


def test_fit_to_window_keeps_text_readable_or_says_it_cannot(tmp_path, open_page):
    loss, model = mlp_sample((12, 12, 4))
    path = tmp_path / "wide.html"
    save_stepper(loss, str(path), parameters=model)
    page = open_page(path)
    text_px = """() => Math.min(...Array.from(document.querySelectorAll('#mg-graph svg text.mg-data'))
        .map(t => t.getBoundingClientRect().height))"""
    full = page.evaluate(text_px)
    page.set_viewport_size({"width": 500, "height": 900})
    if page.text_content("#mg-zoom") != "Actual size":  # the button offers the other mode
        page.click("#mg-zoom")
    fitted = page.evaluate(text_px)
    assert fitted >= 0.6 * full - 0.5
    assert "does not fit at a readable size" in page.text_content("#mg-zoom-note")
    page.click("#mg-zoom")  # actual size: no note
    assert page.text_content("#mg-zoom-note") == ""
    assert page.problems == []
