"""Layers with PyTorch's names on the shared ``Module`` API.

Parameters are leaf ``Tensor``s with ``requires_grad=True``, so ``parameters()``,
``named_parameters()`` ("0.weight", "0.bias", ...), ``zero_grad()``, ``train()``/
``eval()`` and ``state_dict()``/``load_state_dict()`` come from ``Module`` unchanged.
Weights start like PyTorch's: uniform in +-1/sqrt(fan_in); pass ``rng`` (a numpy
``Generator``) for reproducible weights.
"""

from __future__ import annotations

import functools
from typing import Any, Iterator, Optional, Tuple, Union

import numpy as np

from ..module import Module
from . import ops
from .conv import avg_pool2d, conv2d, conv2d_relu, conv2d_relu_max_pool2d, max_pool2d, pair
from .functional import check_input, dropout, linear_relu_unchecked, linear_unchecked
from .tensor import Tensor, _check_dtype

__all__ = ["Linear", "ReLU", "Sigmoid", "Tanh", "Flatten", "Dropout", "Sequential",
           "Conv2d", "MaxPool2d", "AvgPool2d"]

IntPair = Union[int, Tuple[int, int]]


def _positive_int(value: Any, name: str, layer: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{layer}: {name} must be a positive integer, got {value!r}")
    return int(value)


def _uniform(rng: Optional[np.random.Generator], bound: float, shape: Tuple[int, ...],
             dtype: np.dtype) -> Tensor:
    rng = rng if rng is not None else np.random.default_rng()
    return Tensor(rng.uniform(-bound, bound, shape).astype(dtype), requires_grad=True)


class Linear(Module):
    """``y = x @ weight.T + bias``: (N, in_features) -> (N, out_features), one fused node."""

    def __init__(self, in_features: int, out_features: int, bias: bool = True,
                 dtype: Any = np.float32, rng: Optional[np.random.Generator] = None) -> None:
        self.in_features = _positive_int(in_features, "in_features", "Linear")
        self.out_features = _positive_int(out_features, "out_features", "Linear")
        dt = _check_dtype(dtype)
        bound = 1.0 / np.sqrt(self.in_features)
        self.weight = _uniform(rng, bound, (self.out_features, self.in_features), dt)
        self.bias = _uniform(rng, bound, (self.out_features,), dt) if bias else None

    def __call__(self, x: Any) -> Tensor:
        return linear_unchecked(self._checked(x), self.weight, self.bias)

    def call_with_relu(self, x: Any) -> Tensor:
        """``ReLU()(self(x))`` as one graph node "linear+relu" (what ``Sequential`` uses)."""
        return linear_relu_unchecked(self._checked(x), self.weight, self.bias)

    def _checked(self, x: Any) -> Tensor:
        weight = self.weight
        if type(x) is not Tensor or x.data.dtype is not weight.data.dtype:
            x = check_input(x, self, weight.data.dtype)
        shape = x.data.shape
        if not shape or shape[-1] != self.in_features:
            raise ValueError(f"{self!r}: expected input of shape (N, {self.in_features}), "
                             f"got {shape}")
        return x

    def extra_repr(self) -> str:
        return f"{self.in_features}, {self.out_features}, bias={self.bias is not None}"


class _Activation(Module):
    """A parameter-free elementwise layer."""

    def __call__(self, x: Tensor) -> Tensor:
        if not isinstance(x, Tensor):
            raise TypeError(f"{type(self).__name__}: expected a Tensor, got {type(x).__name__}")
        return self._fn(x)


class ReLU(_Activation):
    """``max(x, 0)`` elementwise."""
    _fn = staticmethod(ops.relu)


class Sigmoid(_Activation):
    """``1 / (1 + exp(-x))`` elementwise."""
    _fn = staticmethod(ops.sigmoid)


class Tanh(_Activation):
    """``tanh(x)`` elementwise."""
    _fn = staticmethod(ops.tanh)


class Flatten(Module):
    """(N, d1, d2, ...) -> (N, d1*d2*...): merges every axis from ``start_dim`` on."""

    def __init__(self, start_dim: int = 1) -> None:
        self.start_dim = start_dim

    def __call__(self, x: Tensor) -> Tensor:
        shape = x.data.shape
        if len(shape) <= self.start_dim:
            raise ValueError(f"{self!r}: input of shape {shape} has no axis {self.start_dim}")
        return ops.reshape(x, shape[:self.start_dim] + (-1,))

    def extra_repr(self) -> str:
        return f"start_dim={self.start_dim}"


class Dropout(Module):
    """Zero elements with probability ``p`` while training; identity after ``eval()``."""

    def __init__(self, p: float = 0.5, rng: Optional[np.random.Generator] = None) -> None:
        if not 0.0 <= p < 1.0:
            raise ValueError(f"Dropout: p must be in [0, 1), got {p!r}")
        self.p = float(p)
        self._rng = rng if rng is not None else np.random.default_rng()

    def __call__(self, x: Tensor) -> Tensor:
        return dropout(x, self.p, self.training, self._rng)

    def extra_repr(self) -> str:
        return f"p={self.p}"


class Conv2d(Module):
    """2-D convolution: (N, in_channels, H, W) -> (N, out_channels, H', W').

    ``H' = (H + 2*padding - kernel_size) // stride + 1``; weight (out, in, kh, kw).
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: IntPair,
                 stride: IntPair = 1, padding: IntPair = 0, bias: bool = True,
                 dtype: Any = np.float32, rng: Optional[np.random.Generator] = None) -> None:
        self.in_channels = _positive_int(in_channels, "in_channels", "Conv2d")
        self.out_channels = _positive_int(out_channels, "out_channels", "Conv2d")
        self.kernel_size = pair(kernel_size, "kernel_size", minimum=1)
        self.stride = pair(stride, "stride", minimum=1)
        self.padding = pair(padding, "padding", minimum=0)
        dt = _check_dtype(dtype)
        kh, kw = self.kernel_size
        bound = 1.0 / np.sqrt(self.in_channels * kh * kw)
        self.weight = _uniform(rng, bound, (self.out_channels, self.in_channels, kh, kw), dt)
        self.bias = _uniform(rng, bound, (self.out_channels,), dt) if bias else None

    def __call__(self, x: Any) -> Tensor:
        return conv2d(self._checked(x), self.weight, self.bias, self.stride, self.padding)

    def call_with_relu(self, x: Any) -> Tensor:
        """``ReLU()(self(x))`` as one graph node "conv2d+relu" (what ``Sequential`` uses)."""
        return conv2d_relu(self._checked(x), self.weight, self.bias, self.stride, self.padding)

    def call_with_relu_pool(self, x: Any, pool: "MaxPool2d") -> Tensor:
        """``pool(ReLU()(self(x)))`` as one graph node "conv2d+relu+max_pool2d" (what
        ``Sequential`` uses for a pool without padding)."""
        return conv2d_relu_max_pool2d(self._checked(x), self.weight, self.bias, self.stride,
                                      self.padding, pool.kernel_size, pool.stride)

    def _checked(self, x: Any) -> Tensor:
        x = check_input(x, self, self.weight.data.dtype)
        shape = x.data.shape
        if len(shape) != 4 or shape[1] != self.in_channels:
            raise ValueError(f"{self!r}: expected input of shape (N, {self.in_channels}, H, W), "
                             f"got {shape}")
        return x

    def extra_repr(self) -> str:
        return (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}, padding={self.padding}")


class MaxPool2d(Module):
    """Maximum over ``kernel_size`` windows every ``stride`` (default: the kernel size)."""

    def __init__(self, kernel_size: IntPair, stride: Optional[IntPair] = None,
                 padding: IntPair = 0) -> None:
        self.kernel_size = pair(kernel_size, "kernel_size", minimum=1)
        self.stride = self.kernel_size if stride is None else pair(stride, "stride", minimum=1)
        self.padding = pair(padding, "padding", minimum=0)

    def __call__(self, x: Tensor) -> Tensor:
        return max_pool2d(x, self.kernel_size, self.stride, self.padding)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class AvgPool2d(MaxPool2d):
    """Mean over ``kernel_size`` windows (zero padding counted, as PyTorch's default)."""

    def __call__(self, x: Tensor) -> Tensor:
        return avg_pool2d(x, self.kernel_size, self.stride, self.padding)


class Sequential(Module):
    """Calls its modules in order; they are named "0", "1", ... as in PyTorch.

    A ``Linear`` or ``Conv2d`` directly followed by a ``ReLU`` (exactly these classes) runs
    as one graph node "linear+relu" / "conv2d+relu", and ``Conv2d``, ``ReLU``, ``MaxPool2d``
    (a kernel larger than 1x1, a pool without padding) as one node "conv2d+relu+max_pool2d":
    the same numbers, less work per training step. Call the layers one by one
    (``net[0](x)``) to see every step as a separate node.
    """

    def __init__(self, *modules: Module) -> None:
        if len(modules) == 1 and isinstance(modules[0], (list, tuple)):
            modules = tuple(modules[0])
        for i, m in enumerate(modules):
            if not isinstance(m, Module):
                raise TypeError(f"Sequential: item {i} is a {type(m).__name__}, not a Module")
            setattr(self, str(i), m)
        self._size = len(modules)
        # A dict, which Module's attribute walk ignores, so parameters are found once.
        self._chain = {str(i): m for i, m in enumerate(modules)}
        # The call plan: bound methods (not Modules, so the parameter walk skips them),
        # a Linear+ReLU pair as one fused call.
        steps = []
        i = 0
        while i < len(modules):
            m = modules[i]
            relu_next = i + 1 < len(modules) and type(modules[i + 1]) is ReLU
            pool = modules[i + 2] if i + 2 < len(modules) else None
            if type(m) is Conv2d and relu_next and type(pool) is MaxPool2d \
                    and pool.padding == (0, 0) and m.kernel_size != (1, 1):
                steps.append(functools.partial(m.call_with_relu_pool, pool=pool))
                i += 3
            elif type(m) in (Linear, Conv2d) and relu_next:
                steps.append(m.call_with_relu)
                i += 2
            else:
                steps.append(m.__call__)
                i += 1
        self._steps = tuple(steps)

    def __call__(self, x: Any) -> Any:
        for step in self._steps:
            x = step(x)
        return x

    def __iter__(self) -> Iterator[Module]:
        return iter(list(self._chain.values()))

    def __len__(self) -> int:
        return self._size

    def __getitem__(self, i: int) -> Module:
        if not -self._size <= i < self._size:
            raise IndexError(f"Sequential has {self._size} modules, no index {i}")
        return self._chain[str(i % self._size)]
