"""Every view speaks NOTATION.md: no name a learner reads is outside the notation.

Each view's text is read as a learner sees it (stepper captions and names, architecture
diagrams, the demo's SVG pictures, the stored notebooks' outputs) and searched for names
of values: an indexed symbol (``a[1][0]``, ``K[2]``) must use one of the notation's letters,
and no module path (``layers.0.neurons.3``) may stand for a neuron. Another view joins the
check by adding a function to ``VIEWS`` that returns its texts (e.g. the explain page's JSON
labels).
"""

from __future__ import annotations

import html
import json
import re
from pathlib import Path
from typing import Callable, Dict, Iterator, List

import numpy as np
import pytest

viz = pytest.importorskip("viz")

ROOT = Path(__file__).resolve().parents[1]
# The letters of NOTATION.md: inputs, weights (one and the matrix), biases, weighted sums
# (before and after batch norm), activations, targets, errors, kernels.
LETTERS = {"x", "w", "W", "b", "z", "ẑ", "a", "y", "δ", "K"}
# an indexed name whose index reads as a layer: a number, l, L, l-1, l+1
INDEXED = re.compile(r"(?<![\w.\]])([A-Za-zδẑ][\w]*)\[(\d+|l|L|l-1|l\+1|k|k-1)\]")
MODULE_PATH = re.compile(r"\b(?:layers\.\d+\.)?neurons\.\d+\b")
# a derivative written with d where NOTATION writes ∂: dC/dz[1][0], do/d(x*w), dL/dw
D_DERIVATIVE = re.compile(r"(?<![\w∂])d(?:[A-Za-z]\w*|\([^()]*\))/d(?=[\w(])")


def names_outside_notation(text: str) -> List[str]:
    """The names in ``text`` that NOTATION.md does not have."""
    text = html.unescape(text)
    bad = [m.group(0) for m in INDEXED.finditer(text) if m.group(1) not in LETTERS
           and not (m.group(1)[0] == "∂" and m.group(1)[1:] in LETTERS)]  # ∂C/∂a[1]
    return bad + MODULE_PATH.findall(text) + D_DERIVATIVE.findall(text)


def test_the_checker_can_fail():
    assert names_outside_notation("a[1][0] = σ(z[1][0]); w[2][3,1]; K[1][c,c']; ẑ[2]") == []
    assert names_outside_notation("∂C/∂a[3][0] = 2; ∂C/∂w[1][0,2]; ∂(a*b)/∂a") == []
    assert names_outside_notation("dC/da[3][0] = 2; do/d(x*w); dL/dw") == [
        "da[3]", "dC/d", "do/d", "dL/d"]
    assert names_outside_notation("h[1][0] and out[2] and layers.0.neurons.3") == [
        "h[1]", "out[2]", "layers.0.neurons.3"]
    assert names_outside_notation("a&#91;1&#93; h&#91;2&#93;") == ["h[2]"]


# ---- the views ----

def _svg_text(svg: str) -> str:
    return " ".join(re.findall(r"<text[^>]*>([^<]*)</text>", svg))


def _page_json(page: str) -> dict:
    found = re.search(r'<script type="application/json"[^>]*>(.*?)</script>', page, re.S)
    return json.loads(found.group(1))


def _strings(data) -> Iterator[str]:
    """Every string of the page's JSON the page shows (a node's raw ``label`` is data the
    script never displays: the page names nodes by ``name``)."""
    if isinstance(data, str):
        yield data
    elif isinstance(data, dict):
        for key, value in data.items():
            if key != "label":
                yield from _strings(value)
    elif isinstance(data, list):
        for value in data:
            yield from _strings(value)


def stepper_views() -> Dict[str, str]:
    """The stepper of one digit through a trained-shape MLP (neuron level), both costs, and
    a small model's node-level stepper: every caption, name and table cell."""
    from microgradnn.losses import quadratic_cost
    from microgradnn.models import build_model
    from microgradnn.nn import MLP
    image = np.random.default_rng(0).integers(0, 256, (28, 28), dtype=np.uint8)
    out = {}
    for loss in ("mse", "cross-entropy"):
        model = build_model({"model": "mlp", "hidden": [4, 3], "loss": loss})
        page = viz.step_digit(model, image, 2)
        out[f"step_digit ({loss})"] = (page.title + " " + _svg_text(page.html) + " "
                                       + " ".join(_strings(_page_json(page.html))))
    small = MLP(2, [3, 2], activation="sigmoid", output_activation="sigmoid", seed=0)
    cost = quadratic_cost(small([0.5, -1.0]), 1)
    page = viz.stepper(cost, parameters=small, level="node").html
    out["stepper (node level)"] = (" ".join(_strings(_page_json(page))) + " "
                                   + _svg_text(page))
    return out


def architecture_views() -> Dict[str, str]:
    from microgradnn.models import MODEL_KINDS, build_model, input_shape_of
    out = {}
    for kind in MODEL_KINDS:
        model = build_model({"model": kind})
        source = viz.draw_architecture(model, (1, *input_shape_of(model))).source
        out[f"architecture {kind}"] = source
    return out


def demo_views(tmp: Path) -> Dict[str, str]:
    from microgradnn.cli import main
    assert main(["demo", "-o", str(tmp), "--no-mnist", "--quiet", "--steps", "2"]) == 0
    return {f"demo {p.name}": _svg_text(p.read_text(encoding="utf-8"))
            for p in sorted(tmp.glob("*.svg"))}


def notebook_views() -> Dict[str, str]:
    """The stored outputs of every notebook: text, small HTML and SVG, as stored."""
    out = {}
    for path in sorted((ROOT / "examples" / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
        texts = []
        for cell in cells:
            for output in cell.get("outputs", []):
                texts.append("".join(output.get("text", [])))
                for kind, value in output.get("data", {}).items():
                    if kind.startswith("text/") or kind == "image/svg+xml":
                        texts.append("".join(value) if isinstance(value, list) else value)
        out[f"notebook {path.name}"] = "\n".join(texts)
    return out


VIEWS: Dict[str, Callable[[Path], Dict[str, str]]] = {
    "stepper": lambda tmp: stepper_views(),
    "architecture": lambda tmp: architecture_views(),
    "demo": demo_views,
    "notebooks": lambda tmp: notebook_views(),
}


@pytest.mark.parametrize("view", list(VIEWS))
def test_every_view_speaks_the_notation(view, tmp_path):
    texts = VIEWS[view](tmp_path)
    assert texts, view
    for name, text in texts.items():
        assert text.strip(), name
        assert names_outside_notation(text) == [], name
