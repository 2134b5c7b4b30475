"""The names the explain page gives each column, in the notation of NOTATION.md.

``l`` counts the layers that hold weights (convolutions, fully connected layers, and a
residual or inception block as one layer), from 1. Inside layer l:

* a convolution's or a fully connected layer's output is ``z[l]`` (the logits are ``z[L]``);
* batch norm's output is ``ẑ[l]``; an activation's ``ReLU(z[l])``, a pool's
  ``maxpool(...)``, a local response normalisation's ``LRN(...)``;
* the last of these before the next layer, the map that layer reads, is ``a[l]``
  (flatten and dropout keep their input's name);
* the cost's output is ``a[L]``: softmax(z[L]) for cross-entropy, σ(z[L]) for the
  lectures' cost.

A residual block's inner maps are ``z₁``, ``ẑ₁``, ``ReLU(ẑ₁)``, ``z₂``, ``ẑ₂ = F(a[l-1])``,
and on a projection shortcut ``z_s``, ``ẑ_s = P(a[l-1])``; an inception branch ends in
``a_1x1``, ``a_3x3``, ``a_5x5`` or ``a_pool``.
"""

from __future__ import annotations

from typing import List, Sequence

from microgradnn.activations import ACTIVATIONS

__all__ = ["layer_symbols", "residual_symbols", "branch_symbols", "BRANCH_TAGS"]

_WEIGHTED = ("Linear", "Conv2d", "BasicBlock", "Inception")
_TRANSPARENT = ("Flatten", "Dropout")
_OPS = {"MaxPool2d": "maxpool", "AvgPool2d": "avgpool", "LocalResponseNorm": "LRN",
        "AdaptiveAvgPool2d": "mean",
        **{act.layer: act.symbol for act in ACTIVATIONS.values()}}  # ReLU, σ, tanh
BRANCH_TAGS = ("1x1", "3x3", "5x5", "pool")


def layer_symbols(types: Sequence[str]) -> List[str]:
    """The symbol of each top-level module's output, given their class names in order."""
    symbols: List[str] = []
    layer_of: List[int] = []
    l, previous = 0, "a[0]"
    for kind in types:
        if kind in ("Linear", "Conv2d"):
            l += 1
            symbol = f"z[{l}]"
        elif kind == "BatchNorm2d":
            symbol = f"ẑ[{l}]"
        elif kind == "BasicBlock":
            l += 1
            symbol = f"ReLU(F(a[{l - 1}]) + shortcut)"
        elif kind == "Inception":
            l += 1
            symbol = "[" + " ; ".join(f"a_{t}" for t in BRANCH_TAGS) + "]"
        elif kind in _TRANSPARENT:
            symbol = previous
        else:
            symbol = f"{_OPS.get(kind, kind)}({previous})"
        symbols.append(symbol)
        layer_of.append(l)
        previous = symbol
    # the last step of each layer (before the next weighted one) is what the next reads: a[l]
    for i, kind in enumerate(types):
        if kind in _TRANSPARENT or kind in ("Linear", "Conv2d"):
            continue
        following = [t for t in types[i + 1:] if t not in _TRANSPARENT]
        if not following or following[0] in _WEIGHTED:
            name = f"a[{layer_of[i]}]"
            old = symbols[i]
            symbols[i] = name
            for k in range(i + 1, len(types)):
                if types[k] not in _TRANSPARENT or symbols[k] != old:
                    break
                symbols[k] = name
    return symbols


def residual_symbols(l: int, names: Sequence[str]) -> List[str]:
    """Symbols of a residual block's inner calls (``conv1``, ``bn1``, ``relu``, ``conv2``,
    ``bn2``, ``downsample.0``, ``downsample.1``), given their names inside the block."""
    table = {"conv1": "z₁", "bn1": "ẑ₁", "relu": "ReLU(ẑ₁)", "conv2": "z₂",
             "bn2": f"ẑ₂ = F(a[{l - 1}])", "downsample.0": "z_s",
             "downsample.1": f"ẑ_s = P(a[{l - 1}])"}
    return [table.get(name, name) for name in names]


def branch_symbols(l: int, branch: int, types: Sequence[str],
                   kernels: Sequence[int]) -> List[str]:
    """Symbols of one inception branch's calls (class names and kernel sides, in order)."""
    out: List[str] = []
    previous = f"a[{l - 1}]"
    for kind, k in zip(types, kernels):
        symbol = f"z {k}x{k}" if kind == "Conv2d" else f"{_OPS.get(kind, kind)}({previous})"
        out.append(symbol)
        previous = symbol
    if out:
        out[-1] = f"a_{BRANCH_TAGS[branch]}"
    return out
