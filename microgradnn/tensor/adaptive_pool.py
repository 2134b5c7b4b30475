"""Adaptive average pooling: any (H, W) -> a fixed (OH, OW), as PyTorch's ``AdaptiveAvgPool2d``.

Output cell (i, j) is the mean of rows ``floor(i*H/OH) .. ceil((i+1)*H/OH) - 1`` and
columns ``floor(j*W/OW) .. ceil((j+1)*W/OW) - 1``; with output size 1 it is the global
average pool of GoogLeNet and ResNet, (N, C, H, W) -> (N, C, 1, 1), whose backward
spreads each gradient evenly, g / (H*W), over the pixels it came from.
"""

from __future__ import annotations

from typing import Any, List, Tuple

import numpy as np

from ..module import Module
from .conv import pair
from .tensor import Tensor, make_node

__all__ = ["adaptive_avg_pool2d", "AdaptiveAvgPool2d"]


def _bins(size: int, out: int) -> List[Tuple[int, int]]:
    return [((i * size) // out, -((-(i + 1) * size) // out)) for i in range(out)]


def _adaptive_back(g, ctx, ops):
    rows, cols = ctx
    shape = ops[0].data.shape
    if len(rows) == 1 and len(cols) == 1:
        return (np.broadcast_to(g / (shape[2] * shape[3]), shape),)
    d = np.zeros(shape, dtype=g.dtype)
    for i, (r0, r1) in enumerate(rows):
        for j, (c0, c1) in enumerate(cols):
            d[:, :, r0:r1, c0:c1] += g[:, :, i:i + 1, j:j + 1] / ((r1 - r0) * (c1 - c0))
    return (d,)


def adaptive_avg_pool2d(x: Tensor, output_size: Any) -> Tensor:
    """(N, C, H, W) -> (N, C, OH, OW), each output the mean of its bin (see above)."""
    if not isinstance(x, Tensor):
        raise TypeError(f"adaptive_avg_pool2d: expected a Tensor, got {type(x).__name__}")
    oh, ow = pair(output_size, "adaptive_avg_pool2d output_size", 1)
    X = x.data
    if X.ndim != 4:
        raise ValueError(f"adaptive_avg_pool2d: expected input of shape (N, C, H, W), "
                         f"got {X.shape}")
    if X.shape[2] == 0 or X.shape[3] == 0:
        raise ValueError(f"adaptive_avg_pool2d: the input {X.shape} has no pixels to average")
    rows, cols = _bins(X.shape[2], oh), _bins(X.shape[3], ow)
    if (oh, ow) == (1, 1):
        n, c, h, w = X.shape
        out = X.reshape(n, c, h * w).mean(axis=2).reshape(n, c, 1, 1)  # an empty batch too
    else:
        out = np.empty(X.shape[:2] + (oh, ow), dtype=X.dtype)
        for i, (r0, r1) in enumerate(rows):
            for j, (c0, c1) in enumerate(cols):
                out[:, :, i, j] = X[:, :, r0:r1, c0:c1].mean(axis=(2, 3))
    return make_node(out, (x,), _adaptive_back, (rows, cols), "adaptive_avg_pool2d")


class AdaptiveAvgPool2d(Module):
    """Average pooling to a fixed output size; ``AdaptiveAvgPool2d(1)``: global average pooling."""

    def __init__(self, output_size: Any) -> None:
        self.output_size = pair(output_size, "AdaptiveAvgPool2d output_size", 1)

    def forward(self, x: Tensor) -> Tensor:
        return adaptive_avg_pool2d(x, self.output_size)

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"
