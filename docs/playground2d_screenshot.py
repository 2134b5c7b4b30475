"""Regenerate the README's picture of the 2-D playground (``docs/playground2d.png``).

Starts ``microgradnn serve --data circles``'s server (``viz.playground.toy_app``) on
127.0.0.1 at a free port, opens it in headless chromium, adds the input feature x1² and a
third hidden layer, trains for a few seconds from the page, chooses a point (its backward
pass on the edges) and opens a neuron's formula, then saves the top of the page.

Needs chromium (``/usr/bin/chromium`` or ``$MICROGRADNN_CHROMIUM``) and ``playwright``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "docs"))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(ROOT / "docs" / "playground2d.png"))
    parser.add_argument("--seconds", type=float, default=4.0, help="training time")
    args = parser.parse_args()

    from make_pictures import browser_page

    from viz.playground.toy_app import make_toy_server

    server = make_toy_server("circles").start()
    try:
        with browser_page(1360, 1060) as page:
            page.goto(server.url)
            page.wait_for_selector(".tp-neuron[data-l='1']")
            page.click(".tp-feature[data-feature='x1sq']")
            page.wait_for_selector(".tp-feature[data-feature='x1sq']:not(.tp-off)")
            page.click("#tp-add-layer")
            page.wait_for_selector(".tp-neuron[data-l='3'][data-j='3']")
            page.click("#tp-play")
            page.wait_for_timeout(int(args.seconds * 1000))
            page.click("#tp-play")
            page.wait_for_timeout(400)
            box = page.locator("#tp-surface").bounding_box()
            xy = page.evaluate("""() => { const f = P.frame, c = document.getElementById('tp-surface');
                const [x, y] = toCanvas(f.points.x1[5], f.points.x2[5], f.maps.view, c.width);
                return [x * c.getBoundingClientRect().width / c.width,
                        y * c.getBoundingClientRect().height / c.height]; }""")
            page.mouse.click(box["x"] + xy[0], box["y"] + xy[1])
            page.wait_for_selector("#tp-stepper-box:not([hidden])")
            page.click(".tp-neuron[data-l='2'][data-j='1']")
            page.wait_for_selector("#tp-neuron:not([hidden])")
            page.wait_for_timeout(800)
            page.screenshot(path=args.out, clip={"x": 0, "y": 0, "width": 1360, "height": 1060})
    finally:
        server.stop()
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
