"""Suite-wide checks.

Tests that need graphviz's `dot` or the MNIST files skip on a user's machine without them;
in CI (``CI`` set) everything they need is installed, so a missing piece is an error
rather than a quiet skip.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest


def pytest_sessionstart(session: pytest.Session) -> None:
    if not os.environ.get("CI"):
        return
    missing = []
    if shutil.which("dot") is None:
        missing.append("graphviz's `dot` is not on PATH")
    data = os.environ.get("MICROGRADNN_DATA")
    names = ("train-images-idx3-ubyte.gz", "train-images-idx3-ubyte")
    if not data or not any((Path(data) / name).exists() for name in names):
        missing.append(f"MICROGRADNN_DATA ({data!r}) does not hold the MNIST files")
    if missing:
        pytest.exit("CI is set but " + "; ".join(missing) + ": the tests that need them would be skipped",
                    returncode=3)


# ---- headless chromium (Debian's binary driven by Playwright; no Playwright browser download)

CHROMIUM = (os.environ.get("MICROGRADNN_CHROMIUM") or shutil.which("chromium")
            or "/usr/bin/chromium")


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(
            executable_path=CHROMIUM, headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        yield chromium
        chromium.close()


@pytest.fixture
def open_page(browser):
    """``open_page(path, ready=None)``: open an HTML file from file:// (waiting for the CSS
    selector ``ready`` if given); ``page.problems`` collects console errors and warnings,
    page errors, dialogs and any request that leaves the file."""
    contexts = []

    def _open(path, ready=None):
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        contexts.append(context)
        page = context.new_page()
        page.problems = []
        page.on("console", lambda m: m.type in ("error", "warning") and page.problems.append(m.text))
        page.on("pageerror", lambda e: page.problems.append(f"page error: {e}"))
        page.on("dialog", lambda d: (page.problems.append(f"dialog: {d.message}"), d.dismiss()))
        page.on("request", lambda r: not r.url.startswith(("file://", "about:", "data:"))
                and page.problems.append(f"network: {r.url}"))
        page.goto(path.as_uri())
        if ready:
            page.wait_for_selector(ready)
        return page

    yield _open
    for context in contexts:
        context.close()
