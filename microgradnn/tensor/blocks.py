"""The two non-sequential building blocks of the CNN families, written as PyTorch modules.

- ``BasicBlock`` (ResNet, He et al. 2015): ``y = relu(F(x) + shortcut(x))`` with
  ``F = conv3x3 -> BN -> ReLU -> conv3x3 -> BN``; the shortcut is ``x`` itself, or a
  1x1 convolution + BN (``downsample``) where the stride or the channel count changes.
  The skip gives the gradient a path around F: dL/dx gets dL/dy (through the ReLU)
  added directly, whatever F does.
- ``Inception`` (GoogLeNet, Szegedy et al. 2014): four parallel branches on the same
  input, 1x1 | 1x1 -> 3x3 | 1x1 -> 5x5 | 3x3 max-pool -> 1x1, joined along the
  channels with ``cat``; the 1x1 convolutions shrink the channels before the costly
  3x3 and 5x5 ones. Output channels: ``c1 + c3 + c5 + pool_proj``.

Attribute names follow torchvision (``conv1``, ``bn1``, ``downsample``; ``branch1`` to
``branch4``), so a state_dict maps one to one onto the PyTorch equivalent.
"""

from __future__ import annotations

from typing import Any, List, Optional

import numpy as np

from ..module import Module
from .join import cat
from .layers import Conv2d, MaxPool2d, ReLU, Sequential
from .norm import BatchNorm2d
from .tensor import Tensor

__all__ = ["BasicBlock", "Inception"]


class BasicBlock(Module):
    """ResNet's residual block: (N, in_channels, H, W) -> (N, out_channels, H/stride, W/stride)."""

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1,
                 dtype: Any = np.float32, rng: Optional[np.random.Generator] = None) -> None:
        self.in_channels, self.out_channels, self.stride = in_channels, out_channels, stride
        self.conv1 = Conv2d(in_channels, out_channels, 3, stride, 1, bias=False, dtype=dtype,
                            rng=rng)
        self.bn1 = BatchNorm2d(out_channels, dtype=dtype)
        self.relu = ReLU()
        self.conv2 = Conv2d(out_channels, out_channels, 3, 1, 1, bias=False, dtype=dtype, rng=rng)
        self.bn2 = BatchNorm2d(out_channels, dtype=dtype)
        self.downsample: Optional[Sequential] = None
        if stride != 1 or in_channels != out_channels:
            self.downsample = Sequential(
                Conv2d(in_channels, out_channels, 1, stride, 0, bias=False, dtype=dtype, rng=rng),
                BatchNorm2d(out_channels, dtype=dtype))

    def forward(self, x: Tensor) -> Tensor:
        """``a[l] = ReLU(F(a[l-1]) + shortcut(a[l-1]))``: (N, C_in, H, W) -> (N, C_out, H/s, W/s)."""
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        identity = x if self.downsample is None else self.downsample(x)
        return self.relu(out + identity)

    def extra_repr(self) -> str:
        return f"{self.in_channels}, {self.out_channels}, stride={self.stride}"


class Inception(Module):
    """GoogLeNet's inception module: (N, in_channels, H, W) -> (N, c1+c3+c5+pool_proj, H, W)."""

    def __init__(self, in_channels: int, c1: int, c3_reduce: int, c3: int, c5_reduce: int,
                 c5: int, pool_proj: int, dtype: Any = np.float32,
                 rng: Optional[np.random.Generator] = None) -> None:
        self.in_channels = in_channels
        self.widths = (c1, c3_reduce, c3, c5_reduce, c5, pool_proj)
        self.out_channels = c1 + c3 + c5 + pool_proj

        def conv(cin: int, cout: int, k: int) -> List[Module]:
            return [Conv2d(cin, cout, k, 1, k // 2, dtype=dtype, rng=rng), ReLU()]

        self.branch1 = Sequential(*conv(in_channels, c1, 1))
        self.branch2 = Sequential(*conv(in_channels, c3_reduce, 1), *conv(c3_reduce, c3, 3))
        self.branch3 = Sequential(*conv(in_channels, c5_reduce, 1), *conv(c5_reduce, c5, 5))
        self.branch4 = Sequential(MaxPool2d(3, 1, 1), *conv(in_channels, pool_proj, 1))

    def branches(self) -> List[Sequential]:
        """The four branches in order: 1x1, 1x1-3x3, 1x1-5x5, pool-1x1."""
        return [self.branch1, self.branch2, self.branch3, self.branch4]

    def forward(self, x: Tensor) -> Tensor:
        """The four branches side by side, joined along the channels: (N, C, H, W) ->
        (N, C_1x1 + C_3x3 + C_5x5 + C_pool, H, W)."""
        return cat([branch(x) for branch in self.branches()], dim=1)

    def extra_repr(self) -> str:
        return f"{self.in_channels}, widths={self.widths} -> {self.out_channels}"
