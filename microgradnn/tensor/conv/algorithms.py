"""Which algorithm a convolution runs: small pure functions of its geometry.

Three choices, each the first algorithm of its table whose ``chosen`` function holds
(``forcing.choose``; a test names another with ``forcing.forced``):

- ``layout``: how the columns of each sample are laid out for its GEMM (``plan.Plan``):
  ``pointwise`` (1x1: the input is its own columns), ``wide`` (stride 1: every (channel,
  kernel offset) row one contiguous run), ``compact`` (kernel no larger than the stride:
  each pixel read at most once, the columns kept for the backward), ``phase_planes``
  (strided with overlapping windows: the wide layout over each pixel phase).
- ``input_grad`` (``input_grad.py``): ``pointwise``, ``flipped_kernel``, ``shifted_copies``,
  ``phase_planes``, ``scatter``.
- ``weight_grad`` (``weight_grad.py``): ``pointwise``, ``shifted_views``, ``columns``.

Why each wins where it is chosen, with the measurements: benchmarks/RESULTS.md,
"Convolutions".
"""

from __future__ import annotations

from typing import Dict, NamedTuple, Tuple

from ..forcing import Algorithm, active, choose
from ..windows import Pair

__all__ = ["Geometry", "LAYOUTS", "INPUT_GRADS", "WEIGHT_GRADS", "choices"]


class Geometry(NamedTuple):
    """What the choices read: channels in and out, kernel, stride, padding, whether a max
    pool is taken inside the convolution, and (for the gradients) the layout chosen."""

    c: int
    o: int
    kernel: Pair
    stride: Pair
    padding: Pair
    pooled: bool = False
    layout: str = ""


# ---- the layout of the columns ----

def pointwise(g: Geometry) -> bool:
    """1x1, stride 1, no padding, no pool inside: nothing to copy."""
    return g.kernel == (1, 1) and g.stride == (1, 1) and g.padding == (0, 0) and not g.pooled


def wide(g: Geometry) -> bool:
    """Stride 1: long contiguous runs instead of OH short rows per column row."""
    return g.stride == (1, 1)


def compact(g: Geometry) -> bool:
    """Kernel no larger than the stride: no window overlaps another, nothing to share."""
    return g.kernel[0] <= g.stride[0] and g.kernel[1] <= g.stride[1]


def phase_planes(g: Geometry) -> bool:
    """Strided: the wide layout over each phase plane (y % sh, x % sw)."""
    return g.stride != (1, 1)


def anything(g: Geometry) -> bool:
    """Every geometry."""
    return True


LAYOUTS: Dict[str, Algorithm] = {
    "pointwise": Algorithm(pointwise, pointwise),
    "wide": Algorithm(wide, wide),
    "compact": Algorithm(compact, anything),
    "phase_planes": Algorithm(phase_planes, phase_planes),
}


# ---- the input gradient ----

def same_padding(g: Geometry) -> bool:
    """Stride 1 in the wide layout and kh = 2*ph + 1, kw = 2*pw + 1: the padded output
    gradient has the padded input's size."""
    (kh, kw), (ph, pw) = g.kernel, g.padding
    return g.layout == "wide" and kh == 2 * ph + 1 and kw == 2 * pw + 1


def flipped_kernel(g: Geometry) -> bool:
    """"Same" padding and no more column rows (O*kh*kw per position) than the shifted
    copies write and add (kw*O + 2*kh*C): for 3x3, no more output than input channels."""
    kh, kw = g.kernel
    return same_padding(g) and (kh - 1) * kw * g.o <= 2 * kh * g.c


def _layout_is(name: str) -> Algorithm:
    def holds(g: Geometry) -> bool:
        return g.layout == name
    holds.__doc__ = f"The {name} layout."
    return Algorithm(holds, holds)


INPUT_GRADS: Dict[str, Algorithm] = {
    "pointwise": _layout_is("pointwise"),
    "flipped_kernel": Algorithm(flipped_kernel, same_padding),
    "shifted_copies": _layout_is("wide"),
    "phase_planes": _layout_is("phase_planes"),
    "scatter": _layout_is("compact"),
}


# ---- the weight gradient ----

def overlapping(g: Geometry) -> bool:
    """The wide layouts, whose columns are rebuilt from the input in the backward."""
    return g.layout in ("wide", "phase_planes")


def shifted_views(g: Geometry) -> bool:
    """Wide layouts with several input channels: one GEMM per kernel offset over views of
    the input beats rebuilding the columns (with one channel the columns are faster)."""
    return overlapping(g) and g.c > 1


def has_columns(g: Geometry) -> bool:
    """Every layout that makes columns."""
    return g.layout in ("wide", "phase_planes", "compact")


WEIGHT_GRADS: Dict[str, Algorithm] = {
    "pointwise": _layout_is("pointwise"),
    "shifted_views": Algorithm(shifted_views, overlapping),
    "columns": Algorithm(has_columns, has_columns),
}


# The choices are pure functions of the geometry: each geometry's are kept (a network has
# a few), and made afresh inside a ``forced`` block.
_CHOICES: Dict[Geometry, Tuple[str, str, str]] = {}


def choices(g: Geometry) -> Tuple[str, str, str]:
    """-> (layout, input gradient, weight gradient) algorithm names for ``g``."""
    known = None if active() else _CHOICES.get(g)
    if known is not None:
        return known
    layout = choose("layout", LAYOUTS, g)
    named = g._replace(layout=layout)
    made = (layout, choose("input_grad", INPUT_GRADS, named),
            choose("weight_grad", WEIGHT_GRADS, named))
    if not active():
        if len(_CHOICES) > 256:
            _CHOICES.clear()
        _CHOICES[g] = made
    return made
