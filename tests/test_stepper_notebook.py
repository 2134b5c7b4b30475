"""``viz.stepper``: the stepper as an object that shows itself inline in Jupyter.

The inline form is an ``<iframe srcdoc=...>`` holding the whole page escaped as an
attribute, so it needs no server, no network and cannot touch the notebook around it.
"""

from __future__ import annotations

import html
import os
import re
import shutil

import pytest

import viz
from microgradnn.engine import Value

CHROMIUM = (os.environ.get("MICROGRADNN_CHROMIUM") or shutil.which("chromium")
            or "/usr/bin/chromium")
XSS = "</script><script>alert(1)</script>\"'"


def neuron(label="o"):
    x, w, b = Value(2.0, label="x"), Value(-3.0, label="w"), Value(6.8813735870195432, label="b")
    o = (x * w + b).tanh()
    o.label = label
    return o


def srcdoc(frame: str) -> str:
    match = re.fullmatch(r'<iframe srcdoc="([^"]*)" [^<]*></iframe>', frame)
    assert match, frame[:200]
    return html.unescape(match.group(1))


def test_stepper_is_exported_and_returns_an_object_with_the_page():
    s = viz.stepper(neuron(), title="one neuron")
    assert isinstance(s, viz.Stepper)
    assert s.html.startswith("<!DOCTYPE html>") and "one neuron" in s.html
    assert "Stepper(" in repr(s)


def test_repr_html_is_one_iframe_holding_the_escaped_page():
    s = viz.stepper(neuron(label=XSS), title=XSS)
    frame = s._repr_html_()
    # the only markup outside the attribute is the iframe itself: no script reaches the notebook
    assert frame.count("<") == 2 and "<script" not in frame.lower()
    assert srcdoc(frame) == s.html
    assert 'sandbox="allow-scripts"' in frame


def test_save_and_save_stepper_write_the_same_page(tmp_path):
    o = neuron()
    s = viz.stepper(o)
    a = s.save(str(tmp_path / "a.html"))
    b = viz.save_stepper(o, str(tmp_path / "b.html"))
    assert open(a, encoding="utf-8").read() == open(b, encoding="utf-8").read() == s.html


def test_stepper_refuses_what_is_not_a_value():
    with pytest.raises(TypeError, match="expected a Value"):
        viz.stepper(3.0)


@pytest.mark.browser
def test_the_inline_frame_runs_the_stepper_offline(tmp_path):
    from playwright.sync_api import sync_playwright

    notebook = tmp_path / "notebook.html"  # what a notebook page puts around the output
    notebook.write_text("<!DOCTYPE html><html><body><div id=cell>"
                        + viz.stepper(neuron())._repr_html_() + "</div></body></html>",
                        encoding="utf-8")
    problems = []
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM, headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        try:
            page = browser.new_page(viewport={"width": 1100, "height": 800})
            page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
            page.on("console", lambda m: m.type == "error" and problems.append(m.text))
            page.on("request", lambda r: not r.url.startswith(("file://", "about:"))
                    and problems.append(f"network: {r.url}"))
            page.goto(notebook.as_uri())
            frame = page.frames[1]
            frame.wait_for_selector("svg")
            assert frame.locator("svg g.node").count() >= 5
            assert frame.locator("button").count() > 0
            assert page.locator("#cell svg").count() == 0  # the page stays inside its frame
        finally:
            browser.close()
    assert problems == []
