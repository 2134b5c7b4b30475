"""The same architecture in PyTorch: ``to_torch(model)`` mirrors a microgradnn module tree.

Every layer class of the CNN families maps onto its torch.nn twin with the same
attribute names, so ``torch_model.load_state_dict(our_state)`` copies the weights (and
BatchNorm's buffers) one to one. Used by the parity tests and ``bench_families.py``.
"""

from __future__ import annotations

import os
import sys
from typing import Any, Dict

import numpy as np
import torch
from torch import nn

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from microgradnn import tensor as T  # noqa: E402

__all__ = ["to_torch", "copy_weights", "TorchBasicBlock", "TorchInception"]


class TorchBasicBlock(nn.Module):
    """torchvision's BasicBlock: relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x))."""

    def __init__(self, ours: T.BasicBlock) -> None:
        super().__init__()
        self.conv1 = to_torch(ours.conv1)
        self.bn1 = to_torch(ours.bn1)
        self.relu = nn.ReLU()
        self.conv2 = to_torch(ours.conv2)
        self.bn2 = to_torch(ours.bn2)
        self.downsample = None if ours.downsample is None else to_torch(ours.downsample)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        identity = x if self.downsample is None else self.downsample(x)
        return self.relu(out + identity)


class TorchInception(nn.Module):
    """Four branches on the same input, concatenated along the channels."""

    def __init__(self, ours: T.Inception) -> None:
        super().__init__()
        self.branch1 = to_torch(ours.branch1)
        self.branch2 = to_torch(ours.branch2)
        self.branch3 = to_torch(ours.branch3)
        self.branch4 = to_torch(ours.branch4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.branch1(x), self.branch2(x), self.branch3(x), self.branch4(x)], 1)


def to_torch(m: Any) -> nn.Module:
    """A fresh torch.nn module with ``m``'s architecture (weights: see ``copy_weights``)."""
    if isinstance(m, T.Sequential):
        return nn.Sequential(*[to_torch(child) for child in m])
    if isinstance(m, T.Conv2d):
        return nn.Conv2d(m.in_channels, m.out_channels, m.kernel_size, m.stride, m.padding,
                         bias=m.bias is not None)
    if isinstance(m, T.Linear):
        return nn.Linear(m.in_features, m.out_features, bias=m.bias is not None)
    if isinstance(m, (T.BatchNorm1d, T.BatchNorm2d)):
        cls = nn.BatchNorm2d if isinstance(m, T.BatchNorm2d) else nn.BatchNorm1d
        return cls(m.num_features, eps=m.eps, momentum=m.momentum, affine=m.affine)
    if isinstance(m, T.LocalResponseNorm):
        return nn.LocalResponseNorm(m.size, m.alpha, m.beta, m.k)
    if isinstance(m, T.AvgPool2d):  # before MaxPool2d: AvgPool2d subclasses it
        return nn.AvgPool2d(m.kernel_size, m.stride, m.padding)
    if isinstance(m, T.MaxPool2d):
        return nn.MaxPool2d(m.kernel_size, m.stride, m.padding)
    if isinstance(m, T.AdaptiveAvgPool2d):
        return nn.AdaptiveAvgPool2d(m.output_size)
    if isinstance(m, T.Dropout):
        return nn.Dropout(m.p)
    if isinstance(m, T.Flatten):
        return nn.Flatten(m.start_dim)
    simple: Dict[type, type] = {T.ReLU: nn.ReLU, T.Sigmoid: nn.Sigmoid, T.Tanh: nn.Tanh}
    if type(m) in simple:
        return simple[type(m)]()
    if isinstance(m, T.BasicBlock):
        return TorchBasicBlock(m)
    if isinstance(m, T.Inception):
        return TorchInception(m)
    raise TypeError(f"to_torch: no PyTorch twin for {type(m).__name__}")


def copy_weights(ours: Any, theirs: nn.Module, dtype: torch.dtype = torch.float32) -> nn.Module:
    """Load ``ours``'s state_dict (parameters and buffers) into ``theirs``; return it."""
    state = {k: torch.from_numpy(np.array(v)) for k, v in ours.state_dict().items()}
    theirs.to(dtype)
    theirs.load_state_dict(state, strict=True)
    theirs.train(ours.training)
    return theirs
