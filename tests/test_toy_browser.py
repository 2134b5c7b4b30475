"""The 2-D playground in chromium: choose circles, add a layer, play, see the test cost fall
and the heat maps change; a neuron's graph; a point's backward pass step by step; the saved
checkpoint loads."""

from __future__ import annotations

import re
import time

import pytest

import microgradnn
from viz.playground.toy_app import make_toy_server

pytestmark = pytest.mark.browser


@pytest.fixture
def toy(browser, tmp_path):
    server = make_toy_server("moons", save=str(tmp_path / "toy.npz")).start()
    context = browser.new_context(viewport={"width": 1400, "height": 1000},
                                  bypass_csp=True)  # wait_for_function evaluates strings
    page = context.new_page()
    page.problems = []
    page.on("pageerror", lambda e: page.problems.append(f"page error: {e}"))
    page.on("console", lambda m: m.type == "error" and page.problems.append(f"{m.text} {m.location}"))
    page.on("response", lambda r: r.status >= 400 and page.problems.append(f"{r.status} {r.url}"))
    try:
        page.goto(server.url)
        page.wait_for_selector(".tp-neuron[data-l='1']")
        yield server, page, tmp_path
    finally:
        context.close()
        server.stop()


def _number(page, selector):
    return float(page.inner_text(selector))


def _maps(page):
    return page.evaluate("""() => [...document.querySelectorAll('.tp-neuron[data-l] canvas')]
                              .map((c) => c.toDataURL())""")


def _wait(page, predicate, timeout=30.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        page.wait_for_timeout(200)
    return False


def test_circles_add_layer_play_learns(toy):
    server, page, _ = toy
    page.select_option("#tp-set", "circles")
    page.wait_for_function("location.hash.includes('data=circles')")
    page.click("#tp-add-layer")
    page.wait_for_function("location.hash.includes('layers=4,4,4')")
    page.wait_for_selector(".tp-neuron[data-l='3'][data-j='3']")
    start = _number(page, "#tp-test-loss")
    before = _maps(page)
    page.click("#tp-play")
    assert _wait(page, lambda: _number(page, "#tp-epoch") >= 5)
    assert _wait(page, lambda: _number(page, "#tp-test-loss") < start)
    page.click("#tp-play")  # pause
    page.wait_for_function("document.getElementById('tp-play').textContent.includes('Play')")
    after = _maps(page)
    assert len(after) == len(before) == 4 + 4 + 4 + 1
    assert sum(a != b for a, b in zip(before, after)) >= 10
    assert not page.problems


def test_neuron_graph_and_point_stepper(toy):
    server, page, _ = toy
    page.click(".tp-neuron[data-l='2'][data-j='1']")
    page.wait_for_selector("#tp-neuron:not([hidden])")
    page.wait_for_function("document.getElementById('tp-graph').src.startsWith('data:image/svg+xml')")
    assert page.evaluate("document.getElementById('tp-graph').naturalWidth") > 100
    assert "z[2][1] = Σ_k w[2][1,k] a[1][k] + b[2][1]" in page.inner_text("#tp-formula")
    # click the first point on the plane: its stepper opens
    x, y = page.evaluate("""() => { const f = P.frame, c = document.getElementById('tp-surface');
        const r = c.getBoundingClientRect();
        const [px, py] = toCanvas(f.points.x1[0], f.points.x2[0], f.maps.view, c.width);
        return [r.left + px * r.width / c.width, r.top + py * r.height / c.height]; }""")
    n_points = page.evaluate("P.frame.points.c.length")
    page.mouse.click(x, y)
    page.wait_for_selector("#tp-stepper-box:not([hidden])")
    assert page.evaluate("P.point") == 0
    assert page.evaluate("P.frame.points.c.length") == n_points  # chose it, added nothing
    frame = page.frame_locator("#tp-stepper")
    frame.locator("#mg-next").wait_for()
    first = frame.locator("#mg-counter").inner_text()
    frame.locator("#mg-next").click()
    frame.locator("#mg-next").click()
    assert frame.locator("#mg-counter").inner_text() != first
    assert frame.locator("#mg-caption").inner_text().strip()
    # the backward pass on the network: every neuron shows its delta
    page.wait_for_function("document.querySelector('.tp-neuron[data-l=\"1\"] .tp-delta')"
                           ".textContent.startsWith('δ')")
    assert "Chosen point 0" in page.inner_text("#tp-backward")
    assert not page.problems


def test_add_and_remove_a_point_and_save(toy):
    server, page, tmp_path = toy
    n = page.evaluate("P.frame.points.c.length")
    box = page.locator("#tp-surface").bounding_box()
    page.select_option("#tp-class", "2")
    page.mouse.click(box["x"] + 5, box["y"] + 5)  # a corner: far from every point
    page.wait_for_function(f"P.frame.points.c.length === {n + 1}")
    assert page.evaluate("P.frame.classes") == 3 and "add=" in page.evaluate("location.hash")
    page.keyboard.down("Shift")
    page.mouse.click(box["x"] + 5, box["y"] + 5)
    page.keyboard.up("Shift")
    page.wait_for_function(f"P.frame.points.c.length === {n}")
    page.click("#tp-save")
    page.wait_for_function("document.getElementById('tp-saved').textContent.startsWith('saved')")
    path = re.search(r"saved (\S+\.npz)", page.inner_text("#tp-saved")).group(1)
    model = microgradnn.load(path)
    assert model.spec["inputs"] == 2 and model.spec["classes"] == 1
    # a setup pasted into the address is checked by the server and taken
    page.evaluate("location.hash = 'data=xor&layers=2&act=relu'")
    page.wait_for_function("P.S.data === 'xor' && P.S.act === 'relu'")
    page.wait_for_function("document.querySelectorAll('.tp-neuron[data-l=\"1\"]').length === 2")
    page.evaluate("location.hash = 'data=xor&layers=99'")
    page.wait_for_function("!document.getElementById('tp-error').hidden")
    assert "1..16" in page.inner_text("#tp-error")
    assert "layers=2&" in page.evaluate("location.hash")  # the address shows what runs
    assert all("400" in p for p in page.problems)
    page.problems.clear()
    page.click("#tp-code-button")
    page.wait_for_selector("#tp-code:not([hidden])")
    assert "from microgradnn.nn import MLP" in page.inner_text("#tp-code")
    assert not page.problems


def test_a_shared_address_opens_its_setup(toy):
    server, page, _ = toy
    page.goto(server.url + "#data=spiral&classes=4&layers=3,2&act=sigmoid&feat=x1,x2,x1x2")
    page.wait_for_function("P.S.data === 'spiral' && P.frame && P.frame.classes === 4")
    page.wait_for_function("document.querySelectorAll('.tp-neuron[data-l]').length === 3 + 2 + 4")
    assert page.evaluate("P.frame.sizes") == [3, 3, 2, 4]
    assert not page.problems


def test_a_dragged_weight_springs_back_unless_kept(toy):
    server, page, _ = toy
    page.click(".tp-neuron[data-l='1'][data-j='0']")
    page.wait_for_selector("#tp-nudges input[type=range][data-k='0']")
    weight = lambda: page.evaluate("""async () => (await api('GET',
        '/toy/api/neuron?point=0&l=1&j=0')).terms[0].w""")
    before = weight()
    drag = """(v) => { const r = document.querySelector("#tp-nudges input[data-k='0']");
                       r.value = String(v); r.dispatchEvent(new Event('input'));
                       r.dispatchEvent(new Event('change')); }"""
    page.evaluate(drag, before + 1.0)
    page.wait_for_function("document.getElementById('tp-nudge-out').textContent.includes('→')")
    assert weight() == before  # let go: it sprang back
    page.check("#tp-nudge-keep")
    page.evaluate(drag, before + 1.0)
    page.wait_for_function("document.getElementById('tp-nudge-out').textContent.includes('kept')")
    assert weight() == pytest.approx(before + 1.0, abs=1e-9)
    assert page.is_checked("#tp-nudge-keep")  # the rebuilt sliders keep the choice
    assert not page.problems
