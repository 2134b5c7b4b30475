"""Regenerate the README's picture of the playground (``make playground-screenshot``).

Starts the playground (``viz.playground.launch.make_server``, the untrained 784-16-16-10
sigmoid network with the lectures' cost) on 127.0.0.1 at a free port, opens it in headless
chromium, trains it live for one epoch from the page (SGD, lr 0.5), draws a "3" with the
mouse, opens a hidden neuron's wish, takes one step on the drawn example, and saves
``docs/playground.png``.

Needs MNIST (``$MICROGRADNN_DATA`` or the cache), chromium (``/usr/bin/chromium`` or
``$MICROGRADNN_CHROMIUM``) and the ``playwright`` package.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "docs"))


def three_strokes(left: float, top: float, size: float):
    """Two arcs of a "3" as points on the page (the drawing canvas's box)."""
    strokes = []
    for cy in (0.3, 0.68):
        points = []
        for i in range(25):
            angle = -math.pi * 0.8 + i * (math.pi * 1.5) / 24
            points.append((left + size * (0.48 + 0.2 * math.sin(angle + math.pi / 2)),
                           top + size * (cy + 0.17 * math.sin(angle))))
        strokes.append(points)
    return strokes


def draw_three(page) -> None:
    box = page.locator("#pg-canvas").bounding_box()
    for points in three_strokes(box["x"], box["y"], box["width"]):
        page.mouse.move(*points[0])
        page.mouse.down()
        for x, y in points[1:]:
            page.mouse.move(x, y, steps=2)
        page.mouse.up()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(ROOT / "docs" / "playground.png"))
    args = parser.parse_args()

    from make_pictures import browser_page

    from viz.playground.launch import make_server

    server = make_server().start()
    try:
        with browser_page(1500, 1000) as page:
            page.goto(server.url)
            page.wait_for_selector("#pg-outputs circle")
            page.fill("#pg-train-lr", "0.5")
            page.click("#pg-start")
            page.wait_for_selector("#pg-train-status:has-text('training: done')",
                                   timeout=120_000)
            draw_three(page)
            page.wait_for_timeout(1500)
            page.locator(".pg-cell").nth(3).click()
            page.wait_for_selector("#pg-wish table")
            page.click("#pg-step-example")
            page.wait_for_selector("#pg-step-result table")
            page.wait_for_timeout(500)
            page.locator("#pg-grid").screenshot(path=args.out)
    finally:
        server.stop()
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
