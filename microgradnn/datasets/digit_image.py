"""Turn a photo or drawing of one digit into a 28x28 MNIST-style uint8 image.

MNIST's recipe (LeCun et al.): white ink on black, the digit's bounding box scaled to
fit a 20x20 box keeping its aspect ratio (anti-aliased, hence grey levels), then placed
in a 28x28 frame so that its centre of mass sits at the centre. ``mnist_style`` does
the same to a grayscale array of any size; ``load_digit_image`` reads PNG, JPEG, GIF, BMP,
TIFF or WebP with Pillow (a dependency of matplotlib) and flattens transparency onto white
paper. The format is told by the file's content, and only these raster formats are tried:
Pillow's other readers, PostScript above all (it runs Ghostscript, which can loop forever
and leaves temporary files), are never reached.

A digit photo is not 100 megapixels: ``load_digit_image`` reads the image header first and
refuses more than ``MAX_PIXELS`` (16.7 million, e.g. 4096 x 4096; a 12-megapixel phone
photo passes) before decoding a single pixel, so a hostile header costs nothing.
"""

from __future__ import annotations

import os
import struct
from typing import Union

import numpy as np

from ..fileio import check_readable_file

__all__ = ["load_digit_image", "mnist_style", "ascii_digit", "MAX_PIXELS", "IMAGE_FORMATS"]

PathLike = Union[str, "os.PathLike[str]"]
BOX = 20
SIDE = 28
MAX_PIXELS = 4096 * 4096
IMAGE_FORMATS = ("PNG", "JPEG", "GIF", "BMP", "TIFF", "WEBP")  # Pillow's names of the readers
# What Pillow's readers raise on a damaged file of a format they accept.
_DECODE_ERRORS = (OSError, SyntaxError, EOFError, ValueError, IndexError, KeyError, TypeError,
                  ZeroDivisionError, struct.error, MemoryError)


def _border(gray: np.ndarray) -> np.ndarray:
    return np.concatenate([gray[0], gray[-1], gray[:, 0], gray[:, -1]])


def mnist_style(gray: np.ndarray) -> np.ndarray:
    """A 2-D grayscale array (h, w), any range, either polarity -> uint8 (28, 28).

    The background is the median of the border pixels; if it is light, the image is
    inverted (dark ink on paper). Raises ``ValueError`` if no digit stands out.
    """
    from PIL import Image

    gray = np.asarray(gray, dtype=np.float64)
    if gray.ndim != 2 or min(gray.shape) < 2:
        raise ValueError(f"expected a 2-D grayscale image of at least 2x2 pixels, got shape "
                         f"{gray.shape}")
    if not np.isfinite(gray).all():
        raise ValueError("the image contains NaN or inf")
    background = float(np.median(_border(gray)))
    ink = gray - background
    if background > (gray.min() + gray.max()) / 2:  # light paper: dark strokes carry the digit
        ink = -ink
    ink = np.clip(ink, 0.0, None)
    peak = float(ink.max())
    span = float(gray.max() - gray.min())
    if span <= 0 or peak < 0.2 * span:
        raise ValueError("no digit found: the image has no ink that stands out from its "
                         "background")
    ink /= peak
    rows = np.flatnonzero((ink > 0.2).any(axis=1))
    cols = np.flatnonzero((ink > 0.2).any(axis=0))
    crop = ink[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]
    h, w = crop.shape
    scale = BOX / max(h, w)
    new_h, new_w = max(1, round(h * scale)), max(1, round(w * scale))
    resized = Image.fromarray((crop * 255).astype(np.uint8), mode="L").resize(
        (new_w, new_h), Image.Resampling.LANCZOS)
    patch = np.asarray(resized, dtype=np.float64)
    if patch.max() > 0:  # thin strokes of a big image fade when shrunk: restore full contrast
        patch *= 255.0 / patch.max()
    total = patch.sum()
    ys, xs = np.indices(patch.shape)
    com_y = (ys * patch).sum() / total
    com_x = (xs * patch).sum() / total
    top = int(np.clip(round(SIDE / 2 - 0.5 - com_y), 0, SIDE - new_h))
    left = int(np.clip(round(SIDE / 2 - 0.5 - com_x), 0, SIDE - new_w))
    out = np.zeros((SIDE, SIDE), dtype=np.float64)
    out[top:top + new_h, left:left + new_w] = patch
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def load_digit_image(path: PathLike) -> np.ndarray:
    """Read an image file (PNG, JPEG, GIF, BMP, TIFF, WebP) of one digit -> uint8 (28, 28),
    MNIST style. Anything else, or a file too large or damaged, is one ``ValueError``."""
    import warnings

    from PIL import Image, UnidentifiedImageError

    check_readable_file(path, "image")
    try:
        with open(path, "rb") as handle, warnings.catch_warnings():
            # Pillow warns, then refuses, past its own limit; ours is far lower.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            try:
                image_file = Image.open(handle, formats=IMAGE_FORMATS)
            except UnidentifiedImageError:
                raise ValueError(f"{path} is not a readable image: not a PNG, JPEG, GIF, BMP, "
                                 f"TIFF or WebP file (told by its content, not its name)") \
                    from None
            with image_file as image:
                gray = _gray_pixels(image, path)
    except Image.DecompressionBombError as error:
        raise ValueError(f"{path}: refused before decoding, the image is too large "
                         f"({error})") from None
    except _DECODE_ERRORS as error:
        if isinstance(error, ValueError) and str(error).startswith(str(path)):
            raise
        text = str(error).strip().splitlines()
        raise ValueError(f"{path} is not a readable image "
                         f"({text[0][:200] if text else type(error).__name__})") from None
    try:
        return mnist_style(gray)
    except ValueError as error:
        raise ValueError(f"{path}: {error}") from None


def _gray_pixels(image, path: PathLike) -> np.ndarray:
    """The pixels of an opened Pillow image as float64 gray, its size checked first."""
    from PIL import Image

    width, height = image.size  # from the header: nothing decoded yet
    if width * height > MAX_PIXELS:
        raise ValueError(f"{path}: the image is {width}x{height} pixels, more than the "
                         f"{MAX_PIXELS:,} allowed for a digit; scale it down first")
    image.load()
    if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
        paper = Image.new("RGBA", image.size, (255, 255, 255, 255))
        image = Image.alpha_composite(paper, image.convert("RGBA"))
    return np.asarray(image.convert("L"), dtype=np.float64)


def ascii_digit(image: np.ndarray) -> str:
    """A 28-line text picture of a uint8 (28, 28) image, darker characters = more ink."""
    shades = " .:-=+*#%@"
    levels = (np.asarray(image, dtype=np.int64) * (len(shades) - 1) + 127) // 255
    return "\n".join("".join(shades[v] * 2 for v in row) for row in levels)
