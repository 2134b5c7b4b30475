"""The explain page of a ResNet and a GoogLeNet in a browser: the +, the two paths, the branches.

Clicking into a residual block shows its + with F(a[l-1]) and the shortcut beside it, the
sum written out for a pixel and, backward, the gradient at + going down both paths and
adding where they meet; clicking into an inception block shows its four branches side by
side with the channel range each adds to the join. The architecture diagram on the page
leads to a block's maps. Numbers shown are the page JSON's (checked against PyTorch in
``test_explain_families``).
"""

from __future__ import annotations

import numpy as np
import pytest

from microgradnn.models import build_model
from viz.explainer import explain

pytestmark = pytest.mark.browser
READY = "body[data-ready='1']"


def ring() -> np.ndarray:
    yy, xx = np.mgrid[:28, :28]
    return (np.exp(-((np.hypot(yy - 14, xx - 13) - 7) ** 2) / 4) * 255).astype(np.uint8)


def page_of(tmp_path_factory, family: str):
    model = build_model({"model": family, "seed": 0})
    images = np.stack([np.roll(ring(), k, axis=1) for k in range(3)])
    page = explain(model, ring(), 0, batch=(images, np.array([0, 1, 2])), image_name="ring")
    path = tmp_path_factory.mktemp(family) / f"{family}.html"
    page.save(path)
    return path, page.data


@pytest.fixture(scope="module")
def resnet_page(tmp_path_factory):
    return page_of(tmp_path_factory, "resnet")


@pytest.fixture(scope="module")
def googlenet_page(tmp_path_factory):
    return page_of(tmp_path_factory, "googlenet")


def block_index(data, kind, shortcut=None):
    return next(i for i, e in enumerate(data["layers"])
                if e["type"] == kind and (shortcut is None or e["shortcut"] == shortcut))


def test_a_residual_block_shows_its_plus_and_both_paths(resnet_page, open_page):
    path, data = resnet_page
    page = open_page(path, READY)
    i = block_index(data, "BasicBlock", "projection")
    block = data["layers"][i]
    assert page.is_visible(f"#mx-plus-{i} .mx-plussign")
    assert page.text_content(f"#mx-plus-{i} .mx-plussign") == "+"
    assert "F(a[" in page.text_content(f"#mx-path-F-{i}")
    assert "1×1 projection" in page.text_content(f"#mx-path-shortcut-{i}")
    # the architecture diagram leads to the block
    page.click(f"#mx-arch-body g#arch_{i - 1}")
    assert "mx-selected" in page.get_attribute(f"#mx-col-{i}", "class")
    # forward: the + of one pixel, written out
    page.click(f"#mx-plus-{i}")
    eq = page.text_content("#mx-add-eq")
    l = block["layer"]
    assert f"F(a[{l - 1}])[0]" in eq and f"P(a[{l - 1}])[0]" in eq and f"a[{l}][0]" in eq
    pixel = page.text_content("#mx-detail-body").split("pixel (")[1].split(")")[0]
    r, q = map(int, pixel.split(", "))
    total = np.asarray(block["sum"]["activations"])[0, r, q]
    assert f"= {total:.4f}" in eq or f"{total:.4e}" in eq
    # backward: the gradient at + goes down both paths unchanged, and adds where they meet
    page.click("#mx-mode-backward")
    assert "both paths unchanged" in page.text_content(f"#mx-plusnote-{i}")
    page.click(f"#mx-plus-{i}")
    eq = page.text_content("#mx-add-eq")
    g = np.asarray(block["sum"]["grad"])[0, r, q]
    assert "passes it down both paths unchanged" in eq
    assert eq.count(_fmt(g)) >= 3  # at +, into F, into the shortcut
    for part in ("F", "shortcut", "total"):
        assert page.is_visible(f"#mx-path-grad-{part}")
    assert page.problems == []


def test_an_inception_block_shows_its_branches_side_by_side(googlenet_page, open_page):
    path, data = googlenet_page
    page = open_page(path, READY)
    i = block_index(data, "Inception")
    block = data["layers"][i]
    boxes = [page.query_selector(f"#mx-branch-{i}-{k}") for k in range(4)]
    assert all(boxes)
    tops = [b.bounding_box()["y"] for b in boxes]
    lefts = [b.bounding_box()["x"] for b in boxes]
    assert max(tops) - min(tops) < 2 and lefts == sorted(lefts)  # side by side, in order
    ranges = [page.text_content(f"#mx-range-{i}-{k}") for k in range(4)]
    for text, b in zip(ranges, block["branches"]):
        assert text == f"{b['symbol']} → channels {b['channels'][0]}–{b['channels'][1] - 1}"
    assert ranges[0].startswith("a_1x1") and ranges[3].startswith("a_pool")
    # a channel of the join names its branch
    c = block["branches"][2]["channels"][0]
    page.click(f"#mx-map-{i}-{c}")
    assert f"= a_5x5[0]" in page.text_content("#mx-cat-eq")
    assert page.problems == []


def _fmt(x: float) -> str:
    """The page's number format (4 decimals, scientific below 1e-4)."""
    if x != 0 and abs(x) < 1e-4:
        mantissa, exponent = f"{x:.4e}".split("e")
        return f"{mantissa}e{exponent[0]}{int(exponent[1:]):02d}"
    text = f"{x:.4f}"
    return "0.0000" if text == "-0.0000" else text


def test_batch_norm_and_global_average_pooling_written_out(resnet_page, open_page):
    path, data = resnet_page
    page = open_page(path, READY)
    bn = next(i for i, e in enumerate(data["layers"]) if e["type"] == "BatchNorm2d")
    e, z = data["layers"][bn], np.asarray(data["layers"][bn - 1]["activations"])
    page.click(f"#mx-map-{bn}-3")
    assert page.text_content("#mx-detail-title").startswith("Batch norm ẑ[1]: map 3")
    pixel = page.text_content("#mx-detail-body").split("pixel (")[1].split(")")[0]
    r, q = map(int, pixel.split(", "))
    stats = page.eval_on_selector_all("#mx-bn-stats td", "t => t.map(x => x.textContent)")
    assert [float(t) for t in stats] == pytest.approx(
        [e["running_mean"][3], e["running_var"][3], e["eps"], e["weight"][3], e["bias"][3]],
        abs=1e-4)
    eq = page.text_content("#mx-bn-eq")
    zhat = np.asarray(e["activations"])[3, r, q]
    by_hand = (e["weight"][3] * (z[3, r, q] - e["running_mean"][3])
               / np.sqrt(e["running_var"][3] + e["eps"]) + e["bias"][3])
    assert abs(by_hand - zhat) < 1e-6 and eq.rstrip().endswith(_fmt(zhat))
    gap = next(i for i, e in enumerate(data["layers"]) if e["type"] == "AdaptiveAvgPool2d")
    page.click(f"#mx-map-{gap}-5")
    mean = np.asarray(data["layers"][gap - 1]["activations"])[5].mean()
    assert page.text_content("#mx-gap-eq").rstrip().endswith(_fmt(mean))
    assert page.problems == []


def test_lrn_overlapping_pools_and_dropout_as_the_identity(tmp_path_factory, open_page):
    path, data = page_of(tmp_path_factory, "alexnet")
    page = open_page(path, READY)
    i = next(k for k, e in enumerate(data["layers"]) if e["type"] == "LocalResponseNorm")
    page.click(f"#mx-map-{i}-0")
    heads = page.eval_on_selector_all("#mx-lrn-neighbours th", "t => t.map(x => x.textContent)")
    assert heads == ["map 0", "map 1", "map 2"]  # size 5: two maps either side, clipped at 0
    assert page.text_content("#mx-lrn-eq").rstrip().endswith(
        _fmt(np.asarray(data["layers"][i]["activations"])[0].max()))
    pool = next(k for k, e in enumerate(data["layers"]) if e["type"] == "MaxPool2d")
    page.click(f"#mx-map-{pool}-0")  # AlexNet's overlapping max pool: window 3, stride 2
    assert "The windows overlap (stride 2 < window 3)" in page.text_content("#mx-detail-body")
    assert page.eval_on_selector_all("#mx-pool-window td.mx-win", "t => t.length") == 1
    d = next(k for k, e in enumerate(data["layers"]) if e["type"] == "Dropout")
    assert "identity after training" in page.text_content(f"#mx-dropout-{d}")
    page.click(f"#mx-colhead-{d}")
    assert "the identity" in page.text_content("#mx-detail-body")
    assert page.problems == []
