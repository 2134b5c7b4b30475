"""MNIST-style preparation of digit pictures of any size and polarity."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from microgradnn.datasets.digit_image import ascii_digit, load_digit_image, mnist_style


def stroke(h=120, w=90, dark_on_light=True):
    """A thick vertical bar with a foot, placed off-centre, like a hand-drawn '1'."""
    ink = np.zeros((h, w))
    ink[10:100, 20:32] = 1.0
    ink[90:100, 10:45] = 1.0
    gray = 255 * (1 - ink) if dark_on_light else 255 * ink
    return gray


def centre_of_mass(image):
    ys, xs = np.indices(image.shape)
    total = image.sum()
    return (ys * image).sum() / total, (xs * image).sum() / total


@pytest.mark.parametrize("dark_on_light", [True, False])
def test_mnist_recipe_box_and_centre(dark_on_light):
    out = mnist_style(stroke(dark_on_light=dark_on_light))
    assert out.shape == (28, 28) and out.dtype == np.uint8
    assert out.max() == 255 and out[0].max() == 0 and out[:, 0].max() == 0  # white on black
    rows = np.flatnonzero(out.max(axis=1) > 0)
    cols = np.flatnonzero(out.max(axis=0) > 0)
    assert rows[-1] - rows[0] + 1 <= 21 and cols[-1] - cols[0] + 1 <= 21
    assert max(rows[-1] - rows[0], cols[-1] - cols[0]) + 1 >= 19  # the long side fills the box
    cy, cx = centre_of_mass(out.astype(float))
    assert abs(cy - 13.5) <= 1.0 and abs(cx - 13.5) <= 1.0


def test_both_polarities_give_the_same_picture():
    np.testing.assert_array_equal(mnist_style(stroke(dark_on_light=True)),
                                  mnist_style(stroke(dark_on_light=False)))


def test_blank_and_bad_images_are_refused():
    with pytest.raises(ValueError, match="no digit"):
        mnist_style(np.full((40, 40), 200.0))
    with pytest.raises(ValueError, match="2-D"):
        mnist_style(np.zeros((3, 4, 4)))


@pytest.mark.parametrize("suffix, mode", [(".png", "L"), (".jpg", "RGB"), (".png", "RGBA")])
def test_load_digit_image_reads_files(tmp_path, suffix, mode):
    gray = stroke().astype(np.uint8)
    if mode == "RGBA":  # black strokes on a transparent sheet: transparency becomes paper
        rgba = np.zeros(gray.shape + (4,), np.uint8)
        rgba[..., 3] = 255 - gray
        image = Image.fromarray(rgba, mode="RGBA")
    else:
        image = Image.fromarray(gray, mode="L").convert(mode)
    path = tmp_path / f"digit{suffix}"
    image.save(path)
    out = load_digit_image(path)
    reference = mnist_style(stroke())
    assert np.abs(out.astype(int) - reference.astype(int)).mean() < 8  # JPEG is lossy


def test_load_digit_image_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_digit_image(tmp_path / "nope.png")
    bad = tmp_path / "bad.png"
    bad.write_text("not an image")
    with pytest.raises(ValueError, match="not a readable image"):
        load_digit_image(bad)


def test_ascii_digit_has_28_lines():
    text = ascii_digit(mnist_style(stroke()))
    lines = text.split("\n")
    assert len(lines) == 28 and all(len(line) == 56 for line in lines)
    assert "@" in text
