"""A graph too big to step node by node is stepped one neuron at a time.

Every number shown comes from the engine's recorded backward pass: δ, the weight and
bias gradients and what each neuron adds to the layer before are checked against a
plain ``loss.backward()``.
"""

from __future__ import annotations

import json
import random
import re

import pytest

import viz
from microgradnn import losses
from microgradnn.nn import MLP
from viz.graph.dot import format_value
from viz.graph.notation import lecture_names
from viz.graph.trace import trace
from viz.steps.backprop import steps_from_trace
from viz.steps.levels import neuron_steps


def sample(sizes=(4, 3), nin=5, activation="sigmoid", seed=0):
    model = MLP(nin, list(sizes), activation=activation, seed=seed)
    rng = random.Random(seed)
    loss = losses.cross_entropy(model([rng.uniform(-1, 1) for _ in range(nin)]), 1)
    return loss, model


def level_of(loss, model):
    tr = trace(loss, model)
    return tr, neuron_steps(tr, steps_from_trace(tr))


def test_one_step_per_neuron_with_the_engines_numbers():
    loss, model = sample()
    tr, level = level_of(loss, model)
    loss.backward()
    names = lecture_names(tr)
    value = {name: tr.by_id[i].value for i, name in names.items()}
    neurons = [u for u in level.units if u.kind == "neuron"]
    assert len(neurons) == 7 and [u.kind for u in level.units].count("cost") == 1
    assert [s.kind for s in level.steps] == ["seed"] + ["backward"] * 8
    assert level.steps[1].name == "C"  # the cost first, then the neurons, last layer first
    # linear output neurons end in their weighted sum: z[2][j], as NOTATION names logits
    assert [s.name for s in level.steps[2:5]] == ["z[2][2]", "z[2][1]", "z[2][0]"]
    for step in level.steps[2:]:
        l, j = map(int, re.findall(r"\d+", step.name))
        z = value[f"z[{l}][{j}]"]
        assert f"δ[{l}][{j}] = ∂C/∂z[{l}][{j}]" in step.text
        first = step.text.split("\n")[0]
        assert first.endswith(f"= {format_value(z.grad)}") or \
            first.endswith(f"= {format_value(z.grad)} (no activation)")
        assert f"∂C/∂b[{l}][{j}] = δ[{l}][{j}] = {format_value(model.layers[l - 1].neurons[j].b.grad)}" \
            in step.text
        ws = model.layers[l - 1].neurons[j].w
        assert "[" + ", ".join(format_value(w.grad) for w in ws) + "]" in step.text
    # each box's shown gradient ends at the engine's ∂C/∂a
    final = {}
    for step in level.steps:
        for row in step.rows:
            if row.unit:
                final[row.unit] = row.after
    for unit in neurons:
        a = value.get(unit.name) or value[unit.name.replace("a", "z", 1)]
        assert final[unit.id] == format_value(a.grad), unit.name


def test_accumulating_gradients_chain_before_to_after():
    loss, model = sample((4, 4, 3), activation="tanh")
    _, level = level_of(loss, model)
    last = {}
    for step in level.steps:
        for row in step.rows:
            if row.unit and row.before:
                if row.unit in last:
                    assert row.before == last[row.unit], (step.name, row)
                last[row.unit] = row.after


def test_a_wide_input_is_summarised_not_listed():
    loss, model = sample((3, 2), nin=40, activation="relu")
    _, level = level_of(loss, model)
    first_layer = [s for s in level.steps if s.name.startswith("a[1]")]
    assert first_layer and all("40 values, the largest for w[1][" in s.text for s in first_layer)
    assert all(any(r.name == "∂C/∂x[:] (40 values)" for r in s.rows) for s in first_layer)


def test_needs_the_model_and_one_sample():
    loss, model = sample()
    tr = trace(loss)
    with pytest.raises(ValueError, match="parameters=model"):
        neuron_steps(tr, steps_from_trace(tr))
    batch = losses.cross_entropy([model([0.1] * 5), model([0.2] * 5)], [0, 1])
    tr = trace(batch, model)
    with pytest.raises(ValueError, match="one sample"):
        neuron_steps(tr, steps_from_trace(tr))


def page_data(page: str) -> dict:
    text = re.search(r'<script type="application/json" id="mg-data">(.*?)</script>', page, re.S)
    return json.loads(text.group(1))


def test_auto_level_switches_to_neurons_when_the_graph_is_too_big():
    loss, model = sample()
    small = page_data(viz.stepper(loss, parameters=model).html)
    assert "detail" not in small  # fits: one value per step
    big = viz.stepper(loss, parameters=model, max_nodes=20)
    data = page_data(big.html)
    assert len(data["steps"]) == 9 and data["title"] == "Backpropagation, one neuron at a time"
    assert set(data["detail"]) == {u for u in data["nodes"] if data["nodes"][u]["name"] != "x"}
    assert "[scalar step" in data["detail"][data["steps"][2]["node"]]
    with pytest.raises(ValueError, match="pass parameters=model"):
        viz.stepper(loss, max_nodes=20)
    with pytest.raises(ValueError, match="level must be one of"):
        viz.stepper(loss, level="layer")


@pytest.mark.slow
def test_a_784_16_16_10_sample_is_stepped_one_neuron_at_a_time():
    model = MLP(784, [16, 16, 10], activation="sigmoid", seed=0)
    rng = random.Random(1)
    loss = losses.cross_entropy(model([rng.random() for _ in range(784)]), 7)
    data = page_data(viz.stepper(loss, parameters=model).html)
    assert len(data["steps"]) == 2 + 16 + 16 + 10
    assert len(data["nodes"]) == 1 + 42 + 1


@pytest.mark.browser
def test_the_level_page_steps_and_opens_a_neurons_own_steps(tmp_path):
    from playwright.sync_api import sync_playwright

    loss, model = sample()
    tr, level = level_of(loss, model)
    scalar = steps_from_trace(tr)
    path = tmp_path / "level.html"
    viz.save_stepper(loss, str(path), parameters=model, level="neuron")
    problems = []
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path="/usr/bin/chromium", headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
            page.on("console", lambda m: m.type == "error" and problems.append(m.text))
            page.goto(path.as_uri())
            assert page.text_content("#mg-counter") == "1 / 9"
            page.keyboard.press("ArrowRight")
            page.keyboard.press("ArrowRight")
            step = level.steps[2]
            assert page.text_content("#mg-caption") == step.text
            rows = page.eval_on_selector_all("#mg-terms-body tr", "rs => rs.length")
            assert rows == len(step.rows)
            used = page.eval_on_selector_all("g.edge.mg-used", "els => els.map(e => e.id).sort()")
            assert used and set(used) <= set(step.edges)
            assert page.is_hidden("#mg-detail")
            page.click(f"#{step.unit}")
            assert page.is_visible("#mg-detail")
            shown = page.text_content("#mg-detail-text")
            for i in step.scalar:
                assert scalar[i].text.split("\n")[0] in shown
            page.click("#mg-detail-close")
            assert page.is_hidden("#mg-detail")
        finally:
            browser.close()
    assert problems == []


def test_output_boxes_carry_their_class_names():
    loss, model = sample()
    page = viz.stepper(loss, parameters=model, level="neuron", output_names=["cat", "dog", "<b>"]).html
    assert "“cat”" in page and "“dog”" in page and "“&lt;b&gt;”" in page
    with pytest.raises(ValueError, match="2 names for 3 output neurons"):
        viz.stepper(loss, parameters=model, level="neuron", output_names=["a", "b"])
