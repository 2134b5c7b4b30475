"""The playground page in headless chromium against a server on 127.0.0.1 at a free port: draw
a "3" with mouse events and see the server's prediction on the page; take a step; train live."""

from __future__ import annotations

import json
import math
import urllib.request

import numpy as np
import pytest

from viz.playground.launch import make_server

pytestmark = pytest.mark.browser


@pytest.fixture
def served():
    server = make_server().start()
    try:
        yield server
    finally:
        server.stop()


def _open(browser, server, **context_options):
    """A new context's page on the app, ready; ``page.problems`` collects console errors,
    page errors and any request that leaves the server."""
    context = browser.new_context(**context_options)
    page = context.new_page()
    page.problems = []
    page.on("console", lambda m: m.type in ("error", "warning") and page.problems.append(m.text))
    page.on("pageerror", lambda e: page.problems.append(f"page error: {e}"))
    origin = f"http://127.0.0.1:{server.port}/"
    page.on("request", lambda r: not r.url.startswith((origin, "data:", "blob:", "about:"))
            and page.problems.append(f"network: {r.url}"))
    page.goto(server.url)
    page.wait_for_selector("#pg-outputs circle")
    return context, page


@pytest.fixture
def app_page(browser, served):
    context, page = _open(browser, served, viewport={"width": 1400, "height": 1000})
    try:
        yield page
    finally:
        context.close()


def _state(server):
    url = f"http://127.0.0.1:{server.port}/api/state?token={server.token}"
    with urllib.request.urlopen(url, timeout=30) as response:
        return json.loads(response.read())["state"]


def _draw_three(page):
    box = page.locator("#pg-canvas").bounding_box()
    for cy in (0.3, 0.68):  # two arcs, open to the left
        points = []
        for i in range(25):
            angle = -math.pi * 0.8 + i * (math.pi * 1.5) / 24
            points.append((box["x"] + box["width"] * (0.48 + 0.2 * math.sin(angle + math.pi / 2)),
                           box["y"] + box["height"] * (cy + 0.17 * math.sin(angle))))
        page.mouse.move(*points[0])
        page.mouse.down()
        for x, y in points[1:]:
            page.mouse.move(x, y, steps=2)
        page.mouse.up()


def test_draw_a_three_and_see_the_servers_prediction(app_page, served):
    page = app_page
    # Drawing with a finger must not scroll the page: the canvas takes the touch itself.
    assert page.locator("#pg-canvas").evaluate("e => getComputedStyle(e).touchAction") == "none"
    _draw_three(page)
    page.wait_for_selector("#pg-image-name:has-text('your drawing')")
    page.wait_for_timeout(500)  # the last stroke's update
    state = _state(served)
    assert state["image_name"] == "your drawing"
    pixels = np.array(state["pixels"])
    assert pixels.max() > 200 and (pixels > 50).sum() > 40  # ink reached the 28x28 input
    rows = np.flatnonzero(pixels.max(axis=1) > 50)
    assert rows[-1] - rows[0] + 1 == 20  # a tall digit fills the 20-pixel box
    shown = page.locator("#pg-prediction b").inner_text()
    assert shown == str(state["prediction"])
    cost = page.locator("#pg-cost").inner_text()
    assert f"{state['cost']:.4f}" in cost
    assert page.problems == []


def test_a_neuron_a_nudge_by_hand_a_step_and_undo(app_page, served):
    page = app_page
    _draw_three(page)
    page.wait_for_selector("#pg-image-name:has-text('your drawing')")
    page.locator(".pg-cell").nth(2).click()
    page.wait_for_selector("#pg-wish table")
    assert page.locator("#pg-wish tr").count() == 17  # a header and the 16 terms of layer 2
    page.locator("#pg-wish tr.pg-pick").nth(5).click()  # w[2][5,2]: to the nudge panel
    page.wait_for_selector("#pg-weight-wish:has-text('w[2][5,2] = ')")
    page.fill("#pg-nudge-value", "0.75")
    page.press("#pg-nudge-value", "Enter")  # commits the value: its change event, once
    page.wait_for_selector("#pg-nudge-result:has-text('the gradient predicted')")
    nudged = page.locator("#pg-nudge-result").inner_text()
    assert "w[2][5,2]" in nudged and "0.7500" in nudged
    assert _state(served)["undo"] == 1  # the nudge can be undone
    page.click("#pg-undo")
    page.wait_for_selector("#pg-step-result:has-text('undone: the nudge of w[2][5,2]')")
    page.click("#pg-step-example")
    page.wait_for_selector("#pg-step-result table")
    text = page.locator("#pg-step-result").inner_text()
    assert "this example" in text and "moved most" in text
    assert _state(served)["undo"] == 1
    page.click("#pg-undo")
    page.wait_for_selector("#pg-step-result:has-text('undone')")
    assert page.problems == []


@pytest.fixture
def phone_page(browser, served):
    context, page = _open(browser, served, viewport={"width": 390, "height": 700},
                          has_touch=True, is_mobile=True)
    try:
        yield page
    finally:
        context.close()


def test_drawing_with_a_finger_does_not_scroll_the_page(phone_page, served):
    page = phone_page
    page.locator("#pg-canvas").scroll_into_view_if_needed()
    before = page.evaluate("window.scrollY")
    box = page.locator("#pg-canvas").bounding_box()
    cdp = page.context.new_cdp_session(page)
    x = box["x"] + box["width"] / 2
    # Upwards, as a finger that scrolls a page down would move (the page can scroll down).
    points = [(x, box["y"] + box["height"] * t) for t in np.linspace(0.85, 0.15, 15)]
    cdp.send("Input.dispatchTouchEvent",
             {"type": "touchStart", "touchPoints": [{"x": points[0][0], "y": points[0][1]}]})
    for px, py in points[1:]:
        cdp.send("Input.dispatchTouchEvent",
                 {"type": "touchMove", "touchPoints": [{"x": px, "y": py}]})
        page.wait_for_timeout(15)
    cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})
    page.wait_for_selector("#pg-image-name:has-text('your drawing')")
    page.wait_for_timeout(300)
    assert page.evaluate("window.scrollY") == before  # a vertical stroke, no scrolling
    pixels = np.array(_state(served)["pixels"])
    assert (pixels > 50).sum() > 20  # the finger's stroke became the input
    assert page.problems == []
