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

from ..module import Module, RemovableHandle
from . import ops
from .conv import avg_pool2d, conv2d, conv2d_relu, conv2d_relu_max_pool2d, max_pool2d, pair
from .functional import check_input, dropout, linear_relu_unchecked, linear_unchecked
from .tensor import Tensor, check_dtype

__all__ = ["Linear", "ReLU", "Sigmoid", "Tanh", "Flatten", "Dropout", "Sequential",
           "Conv2d", "MaxPool2d", "AvgPool2d", "ACTIVATIONS"]

IntPair = Union[int, Tuple[int, int]]


def _positive_int(value: Any, name: str, layer: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{layer}: {name} must be a positive integer, got {value!r}")
    return int(value)


def _uniform(rng: Optional[np.random.Generator], bound: float, shape: Tuple[int, ...],
             dtype: np.dtype, order: str = "C") -> Tensor:
    rng = rng if rng is not None else np.random.default_rng()
    t = Tensor(rng.uniform(-bound, bound, shape).astype(dtype), requires_grad=True)
    if order == "F":
        t.data = np.asfortranarray(t.data)
    return t


def weight_order(dtype: np.dtype, out_features: int) -> str:
    """The memory order of a new ``Linear`` weight (out, in): "F" (column-major) for a
    float32 layer with 64 or more outputs, else "C".

    Then ``x @ weight.T`` multiplies two row-major matrices, which OpenBLAS's sgemm runs
    about a quarter faster than the transposed form (784 -> 128 at batch 64: 137 against
    189 us); ``g @ weight`` (the input's gradient) becomes the transposed one, so the gain is
    a first layer's, whose input needs no gradient, and hidden layers break even. Narrow
    layers (16 or 10 outputs) lose, and in float64 the 784 -> 128 first layer is slower
    column-major (577 against 564 us): they stay row-major
    (``benchmarks/bench_linear_layout.py``). The layout changes only the rounding of the
    products; eager and replayed steps use the same arrays, so they agree bit for bit.
    """
    return "F" if np.dtype(dtype) == np.float32 and out_features >= 64 else "C"


class Linear(Module):
    """``y = x @ weight.T + bias``: (N, in_features) -> (N, out_features), one fused node."""

    def __init__(self, in_features: int, out_features: int, bias: bool = True,
                 dtype: Any = np.float32, rng: Optional[np.random.Generator] = None) -> None:
        self.in_features = _positive_int(in_features, "in_features", "Linear")
        self.out_features = _positive_int(out_features, "out_features", "Linear")
        dt = check_dtype(dtype)
        bound = 1.0 / np.sqrt(self.in_features)
        self.weight = _uniform(rng, bound, (self.out_features, self.in_features), dt,
                               weight_order(dt, self.out_features))
        self.bias = _uniform(rng, bound, (self.out_features,), dt) if bias else None

    def forward(self, x: Any) -> Tensor:
        """``x @ weight.T + bias``: (N, in_features) -> (N, out_features)."""
        return linear_unchecked(self._checked(x), self.weight, self.bias)

    def forward_relu(self, x: Any) -> Tensor:
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
    """A parameter-free elementwise layer: the activation ``name`` of
    ``microgradnn.activations`` (its function and derivative are written there)."""

    activation = ""  # its name in the registry

    def forward(self, x: Tensor) -> Tensor:
        if not isinstance(x, Tensor):
            raise TypeError(f"{type(self).__name__}: expected a Tensor, got {type(x).__name__}")
        return getattr(ops, self.activation)(x)


class ReLU(_Activation):
    """``max(x, 0)`` elementwise."""
    activation = "relu"


class Sigmoid(_Activation):
    """``1 / (1 + exp(-x))`` elementwise (the lectures' σ)."""
    activation = "sigmoid"


class Tanh(_Activation):
    """``tanh(x)`` elementwise."""
    activation = "tanh"


#: The activation layers by the registry's name (``microgradnn.activations``), which the
#: scalar nn and the model specs use.
ACTIVATIONS = {cls.activation: cls for cls in (ReLU, Sigmoid, Tanh)}


class Flatten(Module):
    """(N, d1, d2, ...) -> (N, d1*d2*...): merges every axis from ``start_dim`` on."""

    def __init__(self, start_dim: int = 1) -> None:
        self.start_dim = start_dim

    def forward(self, x: Tensor) -> Tensor:
        """(N, C, H, W) -> (N, C·H·W): the dimensions from ``start_dim`` on joined into one."""
        if not isinstance(x, Tensor):
            raise TypeError(f"{self!r}: expected a Tensor, got {type(x).__name__}; wrap it: "
                            f"Tensor(x)")
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

    def forward(self, x: Tensor) -> Tensor:
        """In training, each element zeroed with probability ``p`` and the others scaled by
        ``1 / (1 - p)``; in evaluation the identity."""
        return dropout(x, self.p, self.training, self._rng)

    def reseed(self, stream: int) -> None:
        """Draw the masks from a new stream, a function of ``stream`` and of the present one
        (each process of a split batch gets its own: ``microgradnn.parallel``)."""
        self._rng = np.random.default_rng([int(stream), int(self._rng.integers(2 ** 62))])

    def extra_repr(self) -> str:
        return f"p={self.p}"


class Conv2d(Module):
    """2-D convolution: (N, in_channels, H, W) -> (N, out_channels, H', W').

    ``H' = (H + 2*padding - kernel_size) // stride + 1``; weight (out, in, kh, kw).
    ``padding`` is at most ``kernel_size - 1`` per axis (a "full" convolution): more
    would only add outputs that see nothing but zeros, and cost memory before failing.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: IntPair,
                 stride: IntPair = 1, padding: IntPair = 0, bias: bool = True,
                 dtype: Any = np.float32, rng: Optional[np.random.Generator] = None) -> None:
        self.in_channels = _positive_int(in_channels, "in_channels", "Conv2d")
        self.out_channels = _positive_int(out_channels, "out_channels", "Conv2d")
        self.kernel_size = pair(kernel_size, "kernel_size", minimum=1)
        self.stride = pair(stride, "stride", minimum=1)
        self.padding = pair(padding, "padding", minimum=0)
        kh, kw = self.kernel_size
        if self.padding[0] >= kh or self.padding[1] >= kw:
            raise ValueError(f"Conv2d: padding {self.padding} must be smaller than the kernel "
                             f"{self.kernel_size}; more adds outputs that see only zeros")
        dt = check_dtype(dtype)
        bound = 1.0 / np.sqrt(self.in_channels * kh * kw)
        self.weight = _uniform(rng, bound, (self.out_channels, self.in_channels, kh, kw), dt)
        self.bias = _uniform(rng, bound, (self.out_channels,), dt) if bias else None

    def forward(self, x: Any) -> Tensor:
        """(N, in_channels, H, W) -> (N, out_channels, H', W'), ``H' = ⌊(H + 2p - k) / s⌋ + 1``:
        ``z[c] = Σ_c' weight[c, c'] ⋆ x[c'] + bias[c]``."""
        return conv2d(self._checked(x), self.weight, self.bias, self.stride, self.padding)

    def forward_relu(self, x: Any) -> Tensor:
        """``ReLU()(self(x))`` as one graph node "conv2d+relu" (what ``Sequential`` uses)."""
        return conv2d_relu(self._checked(x), self.weight, self.bias, self.stride, self.padding)

    def forward_relu_pool(self, x: Any, pool: "MaxPool2d") -> Tensor:
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

    def forward(self, x: Tensor) -> Tensor:
        """(N, C, H, W) -> (N, C, H', W'): the largest value of each window; backward sends
        the gradient to each window's winner."""
        return max_pool2d(x, self.kernel_size, self.stride, self.padding)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class AvgPool2d(MaxPool2d):
    """Mean over ``kernel_size`` windows (zero padding counted, as PyTorch's default)."""

    def forward(self, x: Tensor) -> Tensor:
        """(N, C, H, W) -> (N, C, H', W'): the mean of each window; backward shares the
        gradient equally over the window."""
        return avg_pool2d(x, self.kernel_size, self.stride, self.padding)


class Sequential(Module):
    """An ordered container: calls its modules in order, named "0", "1", ... as in PyTorch.

    ``seq[i]``, ``len(seq)``, iteration, ``seq.append(m)``, ``seq[i] = m`` (the same as
    ``setattr(seq, str(i), m)``), ``del seq[i]`` and slices work as in PyTorch.

    One optimisation, stated here because it changes the graph and not the numbers: a
    ``Linear`` or ``Conv2d`` directly followed by a ``ReLU`` (exactly these classes) runs as
    one graph node "linear+relu" / "conv2d+relu", and ``Conv2d``, ``ReLU``, ``MaxPool2d`` (a
    kernel larger than 1x1, a pool without padding) as one node "conv2d+relu+max_pool2d",
    which saves work in every training step. The call plan that pairs them is made again
    whenever the container changes. Call the layers one by one (``seq[0](x)``) to see every
    step as a separate node. While a child has a forward hook, nothing is fused, so that
    every hook sees its module's own call.
    """

    def __init__(self, *modules: Module) -> None:
        if len(modules) == 1 and isinstance(modules[0], (list, tuple)):
            modules = tuple(modules[0])
        for i, m in enumerate(modules):
            self._check(m, i)
            setattr(self, str(i), m)

    @staticmethod
    def _check(m: Any, i: Any) -> None:
        if not isinstance(m, Module):
            raise TypeError(f"Sequential: item {i} is a {type(m).__name__}, not a Module")

    def __setattr__(self, name: str, value: Any) -> None:
        super().__setattr__(name, value)
        if name in self._modules:
            self.__dict__["_plan"] = None  # the container changed: pair Linear+ReLU again

    def __delattr__(self, name: str) -> None:
        super().__delattr__(name)
        self.__dict__["_plan"] = None

    def _call_plan(self) -> Tuple[Any, ...]:
        """The modules or bound methods to call in order; fused pairs and triples are one call."""
        modules = list(self)
        plan, i = [], 0
        while i < len(modules):
            m = modules[i]
            relu_next = i + 1 < len(modules) and type(modules[i + 1]) is ReLU
            pool = modules[i + 2] if i + 2 < len(modules) else None
            if type(m) is Conv2d and relu_next and type(pool) is MaxPool2d \
                    and pool.padding == (0, 0) and m.kernel_size != (1, 1):
                plan.append(functools.partial(m.forward_relu_pool, pool=pool))
                i += 3
            elif type(m) in (Linear, Conv2d) and relu_next:
                plan.append(m.forward_relu)
                i += 2
            else:
                plan.append(m)
                i += 1
        return tuple(plan)

    def call_plan(self) -> Tuple[Any, ...]:
        """What ``forward`` calls, in order (fused pairs and triples as one call); the same
        tuple until the container changes (``microgradnn.tensor.replay`` records by it)."""
        plan = self.__dict__.get("_plan")
        if plan is None:
            plan = self.__dict__["_plan"] = self._call_plan()
        return plan

    def forward(self, x: Any) -> Any:
        """Each module in turn on the output of the one before (a Linear followed by a ReLU
        runs as one node, with the same numbers)."""
        plan = self.__dict__.get("_plan")
        if plan is None:
            plan = self.call_plan()
        if RemovableHandle.live and any(m._forward_hooks for m in self._modules.values()
                                        if m is not None):  # a hook sees every layer: no fusing
            plan = tuple(self)
        for step in plan:
            x = step(x)
        return x

    # ---- the container ----

    def __len__(self) -> int:
        return sum(1 for _ in self.children())

    def __iter__(self) -> Iterator[Module]:
        return self.children()

    def _key(self, i: int) -> str:
        keys = [name for name, _ in self.named_children()]
        if isinstance(i, bool) or not isinstance(i, (int, np.integer)):
            raise TypeError(f"Sequential indices are integers or slices, not {type(i).__name__}")
        if not -len(keys) <= i < len(keys):
            raise IndexError(f"Sequential has {len(keys)} modules, no index {i}")
        return keys[i]

    def __getitem__(self, i: Union[int, slice]) -> Any:
        if isinstance(i, slice):
            return Sequential(*list(self)[i])
        return self._modules[self._key(i)]

    def __setitem__(self, i: int, module: Module) -> None:
        self._check(module, i)
        setattr(self, self._key(i), module)

    def __delitem__(self, i: int) -> None:
        delattr(self, self._key(i))
        # Renumber, as PyTorch does: the names stay "0", "1", ... in order.
        remaining = list(self)
        for name in [name for name in self._modules]:
            delattr(self, name)
        for j, m in enumerate(remaining):
            setattr(self, str(j), m)

    def append(self, module: Module) -> "Sequential":
        """Add ``module`` at the end; returns the container."""
        self._check(module, len(self))
        setattr(self, str(len(self)), module)
        return self
