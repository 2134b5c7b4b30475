"""The ops a replay plan runs itself: the eager op's numpy calls again, into fixed buffers.

A plan (``microgradnn.tensor.replay``) is a flat list of entries ``(function, arguments)``,
each one numpy call such as ``(np.matmul, (x, w_t, z))`` for ``np.matmul(x, w_t, out=z)``.
For every op below, ``KERNELS`` maps the op's backward function (which identifies the op in
the recorded graph) to a builder that reads the recorded node (its operands and their
shapes) and returns

- the forward entries, writing the op's output into a buffer of its own;
- the backward entries, reading the output's gradient buffer and writing the input's (only
  when the input needs one, as ``x.requires_grad`` decides in the eager op) and each
  parameter's;
- the parameters with their gradient buffers (``grad_of(p)``: the optimizer's packed
  buffer, ``Optimizer.pack``, when it has one).

The entries repeat the eager op's numpy calls, in the same order and the same dtypes (a
Python ``0.5`` is a float32 ``0.5`` to a float32 array in both), with ``out=`` where eager
makes a new array, so a replayed step gives the eager step's numbers bit for bit
(``tests/test_replay.py`` checks every kernel). An op not listed here is replayed by
running its layer eagerly (an "island" of ``replay.py``).
"""

from __future__ import annotations

import functools
from typing import Any, Callable, Dict, List, Optional, Tuple

import numpy as np

from ..activations import ACTIVATIONS
from . import functional, ops, shape_ops
from .layers import Dropout
from .tensor import Tensor

__all__ = ["Slot", "Entry", "Built", "KERNELS", "LOSSES", "SlotLoss"]

Entry = Tuple[Callable[..., Any], Tuple[Any, ...]]


class Slot:
    """One array of a plan: its data buffer, and its gradient buffer (``None`` when no
    gradient flows back through it)."""

    __slots__ = ("data", "grad")

    def __init__(self, data: np.ndarray, grad: Optional[np.ndarray]) -> None:
        self.data, self.grad = data, grad


class Built:
    """What a builder returns: the output slot, entries and parameters' gradient buffers."""

    def __init__(self, out: Slot, forward: List[Entry], backward: List[Entry],
                 params: List[Tuple[Tensor, np.ndarray]]) -> None:
        self.out, self.forward, self.backward, self.params = out, forward, backward, params


def _slot_like(node: Tensor) -> Slot:
    data = np.empty_like(node.data)
    return Slot(data, np.empty_like(data) if node.requires_grad else None)


def _relu_into(x: np.ndarray, out: np.ndarray) -> Entry:
    """``max(x, 0)`` into ``out``: the eager op's numbers, against an array of zeros, which
    numpy runs faster than against the scalar 0 (its loop for two arrays); ``out`` goes by
    keyword (a third positional argument to np.maximum is deprecated)."""
    return functools.partial(np.maximum, out=out), (x, np.zeros_like(out))


# ---- linear, linear+relu ----

GradOf = Callable[[Tensor], np.ndarray]  # a parameter -> the buffer for its gradient


def _linear_backward(g: np.ndarray, x: Slot, node: Tensor,
                     grad_of: GradOf) -> Tuple[List[Entry], List[Any]]:
    """``_linear_back``'s calls: gx = g @ W, gW = weight_grad(g, x, W), gb = ones @ g."""
    weight = node.operands[1]
    entries: List[Entry] = []
    if x.grad is not None:
        entries.append((np.matmul, (g, weight.data, x.grad)))
    gw = grad_of(weight)  # laid out as the weight (functional.weight_grad)
    entries.append((functional.weight_grad, (g, x.data, weight.data, gw)))
    params = [(weight, gw)]
    if len(node.operands) == 3:
        bias = node.operands[2]
        gb = grad_of(bias)
        entries.append((np.matmul, (np.ones(g.shape[0], dtype=g.dtype), g, gb)))
        params.append((bias, gb))
    return entries, params


def _linear_forward(x: Slot, node: Tensor, out: Slot) -> List[Entry]:
    """``x @ W.T`` then ``+= b``, as ``linear_unchecked``."""
    entries: List[Entry] = [(np.matmul, (x.data, node.operands[1].data.T, out.data))]
    if len(node.operands) == 3:
        entries.append((np.add, (out.data, node.operands[2].data, out.data)))
    return entries


def _linear(node: Tensor, step: Any, x: Slot, grad_of: GradOf) -> Optional[Built]:
    if x.data.ndim != 2:
        return None  # (N, *, in) inputs: the eager op folds the axes; left to an island
    out = _slot_like(node)
    backward, params = _linear_backward(out.grad, x, node, grad_of)
    return Built(out, _linear_forward(x, node, out), backward, params)


def _linear_relu(node: Tensor, step: Any, x: Slot, grad_of: GradOf) -> Optional[Built]:
    if x.data.ndim != 2:
        return None
    out = _slot_like(node)
    z = out.data
    forward = _linear_forward(x, node, out)
    forward.append(_relu_into(z, z))
    mask = np.empty(z.shape, dtype=bool)
    g = out.grad  # g * (out > 0), in place: the gradient buffer is this op's alone
    backward: List[Entry] = [(np.greater, (z, 0, mask)), (np.multiply, (g, mask, g))]
    rest, params = _linear_backward(g, x, node, grad_of)
    return Built(out, forward, backward + rest, params)


# ---- elementwise activations ----

def _sigmoid(node: Tensor, step: Any, x: Slot, grad_of: GradOf) -> Built:
    out = _slot_like(node)
    s = out.data
    forward: List[Entry] = [(np.multiply, (x.data, 0.5, s)), (np.tanh, (s, s)),
                            (np.multiply, (s, 0.5, s)), (np.add, (s, 0.5, s))]
    backward: List[Entry] = []
    if x.grad is not None:  # g * (out * (1 - out))
        t = np.empty_like(s)
        backward = [(np.subtract, (1, s, t)), (np.multiply, (s, t, t)),
                    (np.multiply, (out.grad, t, x.grad))]
    return Built(out, forward, backward, [])


def _tanh(node: Tensor, step: Any, x: Slot, grad_of: GradOf) -> Built:
    out = _slot_like(node)
    t = out.data
    backward: List[Entry] = []
    if x.grad is not None:  # g * (1 - out * out)
        u = np.empty_like(t)
        backward = [(np.multiply, (t, t, u)), (np.subtract, (1, u, u)),
                    (np.multiply, (out.grad, u, x.grad))]
    return Built(out, [(np.tanh, (x.data, t))], backward, [])


def _relu(node: Tensor, step: Any, x: Slot, grad_of: GradOf) -> Built:
    out = _slot_like(node)
    r = out.data
    forward: List[Entry] = [_relu_into(x.data, r)]
    backward: List[Entry] = []
    if x.grad is not None:  # g * (out > 0)
        mask = np.empty(r.shape, dtype=bool)
        backward = [(np.greater, (r, 0, mask)), (np.multiply, (out.grad, mask, x.grad))]
    return Built(out, forward, backward, [])


# ---- reshape (Flatten) and dropout ----

def _reshape(node: Tensor, step: Any, x: Slot, grad_of: GradOf) -> Built:
    """No calls at all: the output and its gradient are views of the input's buffers."""
    shape = node.data.shape
    grad = None if x.grad is None else x.grad.reshape(shape)
    return Built(Slot(x.data.reshape(shape), grad), [], [], [])


def _draw_mask(layer: Dropout, draws: np.ndarray, keep: np.ndarray, mask: np.ndarray) -> None:
    """``dropout``'s new mask: the layer's generator, p and scale, read at every step."""
    layer._rng.random(out=draws)
    np.greater_equal(draws, layer.p, out=keep)
    np.multiply(keep, mask.dtype.type(1.0 / (1.0 - layer.p)), out=mask)


def _dropout(node: Tensor, step: Any, x: Slot, grad_of: GradOf) -> Optional[Built]:
    if type(step) is not Dropout:
        return None  # a dropout inside some other layer: its p and generator are unknown
    out = _slot_like(node)
    draws = np.empty(node.data.shape)  # float64, as Generator.random draws them
    keep = np.empty(node.data.shape, dtype=bool)
    mask = np.empty_like(node.data)
    forward: List[Entry] = [(_draw_mask, (step, draws, keep, mask)),
                            (np.multiply, (x.data, mask, out.data))]
    backward: List[Entry] = []
    if x.grad is not None:
        backward = [(np.multiply, (out.grad, mask, x.grad))]
    return Built(out, forward, backward, [])


def _activation(node: Tensor, step: Any, x: Slot, grad_of: GradOf) -> Optional[Built]:
    """One of ``microgradnn.activations`` (the op's name says which), if the plan knows it."""
    build = _ACTIVATIONS.get(node.op)
    if build is None or node.ctx[0] is not ACTIVATIONS[node.op].derivative:
        return None
    return build(node, step, x, grad_of)


_ACTIVATIONS = {"sigmoid": _sigmoid, "tanh": _tanh, "relu": _relu}

Builder = Callable[[Tensor, Any, Slot, GradOf], Optional[Built]]

# The op's backward function -> its builder; a builder's ``None`` leaves the op to an island.
KERNELS: Dict[Any, Builder] = {
    functional._linear_back: _linear,
    functional._linear_relu_back: _linear_relu,
    ops._activation_back: _activation,
    shape_ops._reshape_back: _reshape,
    functional._dropout_back: _dropout,
}


# ---- losses ----

_max, _sum = np.maximum.reduce, np.add.reduce


class SlotLoss:
    """A loss over the plan's logits ``x`` (N, C) with int targets ``t`` set before each run.

    ``forward()`` sets ``value`` (the eager loss's float); ``backward()`` writes dC/dlogits
    into ``x.grad``. ``check(t)`` refuses bad targets as the eager loss does.
    """

    op = ""

    def __init__(self, node: Tensor, x: Slot) -> None:
        self.x = x
        self.scale = node.ctx[-1]
        n, c = x.data.shape
        self.rows = np.arange(n)
        # the targets' places in the flattened (N, C) buffers: row * C + t, set per step
        self.row_starts = self.rows * c
        self.picks = np.empty(n, dtype=np.intp)
        # the seed 1 of backward() times the reduction's scale, as the eager op computes it
        self.seed = np.ones((), dtype=x.data.dtype)
        self.t: Any = None
        self.value = 0.0

    def check(self, t: Any) -> np.ndarray:
        n, c = self.x.data.shape
        return functional._check_targets(t, n, c, self.op)

    def place(self, t: np.ndarray) -> None:
        """Take this step's targets: ``x[rows, t]`` is ``x.reshape(-1)[picks]``."""
        self.t = t
        np.add(self.row_starts, t, out=self.picks, casting="unsafe")


class _CrossEntropy(SlotLoss):
    op = "cross_entropy"

    def __init__(self, node: Tensor, x: Slot) -> None:
        super().__init__(node, x)
        X = x.data
        self.m = np.empty((X.shape[0], 1), dtype=X.dtype)
        self.z, self.e = np.empty_like(X), np.empty_like(X)
        self.s, self.logs = np.empty_like(self.m), np.empty_like(self.m)
        self.factor = self.seed * self.scale
        self.z_flat = self.z.reshape(-1)
        self.g_flat = None if x.grad is None else x.grad.reshape(-1)

    def forward(self) -> None:
        X, z, s = self.x.data, self.z, self.s
        _max(X, 1, None, self.m, True)
        np.subtract(X, self.m, out=z)
        np.exp(z, out=self.e)
        _sum(self.e, 1, None, s, True)
        np.log(s, out=self.logs)
        total = _sum(self.logs, axis=None) - _sum(self.z_flat.take(self.picks))
        self.value = float(total * self.scale)  # a number of X's dtype, as the eager loss

    def backward(self) -> None:
        g = self.x.grad
        np.divide(self.e, self.s, out=g)
        self.g_flat[self.picks] -= 1.0
        g *= self.factor


class _SigmoidMse(SlotLoss):
    op = "sigmoid_mse_loss"

    def __init__(self, node: Tensor, x: Slot) -> None:
        super().__init__(node, x)
        X = x.data
        self.a, self.diff, self.tmp = np.empty_like(X), np.empty_like(X), np.empty_like(X)
        self.factor = self.seed * (2.0 * self.scale)
        self.diff_flat = self.diff.reshape(-1)

    def forward(self) -> None:
        a, diff = self.a, self.diff
        np.multiply(self.x.data, 0.5, out=a)  # sigmoid without overflow, as ops.sigmoid
        np.tanh(a, out=a)
        a *= 0.5
        a += 0.5
        np.copyto(diff, a)
        self.diff_flat[self.picks] -= 1.0
        self.value = float(np.asarray(np.vdot(diff, diff) * self.scale, dtype=a.dtype))

    def backward(self) -> None:
        a, t, g = self.a, self.tmp, self.x.grad
        np.subtract(1.0, a, out=t)  # diff * (a * (1 - a)) * (seed * 2 * scale)
        np.multiply(a, t, out=t)
        np.multiply(self.diff, t, out=g)
        g *= self.factor


# The loss's backward function -> its plan class (logits (N, C), targets (N,)).
LOSSES: Dict[Any, Any] = {
    functional._cross_entropy_back: _CrossEntropy,
    functional._sigmoid_mse_back: _SigmoidMse,
}
