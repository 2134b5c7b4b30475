"""The scalar autograd engine: one ``Value`` per number, reverse-mode autodiff.

Every op builds a node that keeps its operands in order (``a * a`` keeps both
slots) and, computed right there beside the forward result, the local derivative
of the output with respect to each operand. ``backward()`` is then one generic
loop: ``operand.grad += local * node.grad`` over a reverse topological order.
No closures are stored, so a graph has no reference cycles and is freed by
reference counting alone, without the garbage collector.

Gradient semantics follow PyTorch:

* gradients of leaves (values made by the user, like parameters) *accumulate*
  across ``backward()`` calls; ``zero_grad()`` clears them;
* ``backward()`` first resets the gradients of the graph's inner nodes, so
  calling it twice on the same graph adds the same gradient to every leaf twice
  (PyTorch's result with ``retain_graph=True``) and leaves the inner nodes holding
  this call's gradients.
"""

from __future__ import annotations

import math
import numbers
from operator import attrgetter, mul
from typing import Sequence, Tuple, Union

from .autodiff import topological_order

__all__ = ["Value", "weighted_sum", "format_number"]

Number = Union[int, float]
_INF = math.inf
_data = attrgetter("data")


def format_number(x: float) -> str:
    """The one format used everywhere numbers are shown to users."""
    return f"{x:.4f}"


def _as_float(x: object, op: str) -> float:
    """Convert a user-supplied number to float, or raise an error naming it."""
    if isinstance(x, bool) or not isinstance(x, numbers.Real):
        raise TypeError(f"{op}: expected a real number, got {x!r} of type {type(x).__name__}")
    value = float(x)
    if not -_INF < value < _INF:
        raise ValueError(f"{op}: got a non-finite number {value!r} (NaN and inf are refused)")
    return value


class Value:
    """A scalar in a computation graph.

    Attributes:
        data: the number (float).
        grad: d(output)/d(this), filled in by ``backward()`` on some output.
        label: a name for pictures and messages ("" if none).
        op: the op that made this value ("" for a leaf).
        operands: the values it was computed from, in order, duplicates kept.
        local_grads: d(this)/d(operand) for each operand slot, same order.
    """

    __slots__ = ("data", "grad", "label", "op", "operands", "local_grads", "__weakref__")

    def __init__(
        self,
        data: Number,
        label: str = "",
        op: str = "",
        operands: Tuple["Value", ...] = (),
        local_grads: Tuple[float, ...] = (),
    ) -> None:
        if type(data) is not float or not -_INF < data < _INF:
            data = _as_float(data, op or "Value")
        self.data = data
        self.grad = 0.0
        self.label = label
        self.op = op
        self.operands = operands
        self.local_grads = local_grads

    # ---- arithmetic: forward result and local derivatives side by side ----
    # Each op returns Value(result, label, op, operands, local_grads): positional
    # arguments because this is the engine's hot path.

    def __add__(self, other: Union["Value", Number]) -> "Value":
        other = other if isinstance(other, Value) else Value(other)
        return Value(self.data + other.data, "", "+", (self, other), (1.0, 1.0))

    def __mul__(self, other: Union["Value", Number]) -> "Value":
        other = other if isinstance(other, Value) else Value(other)
        return Value(self.data * other.data, "", "*", (self, other), (other.data, self.data))

    def __sub__(self, other: Union["Value", Number]) -> "Value":
        other = other if isinstance(other, Value) else Value(other)
        return Value(self.data - other.data, "", "-", (self, other), (1.0, -1.0))

    def __truediv__(self, other: Union["Value", Number]) -> "Value":
        other = other if isinstance(other, Value) else Value(other)
        a, b = self.data, other.data
        if b == 0.0:
            raise ZeroDivisionError(f"division by zero: {a!r} / {b!r}")
        return Value(a / b, "", "/", (self, other), (1.0 / b, -a / (b * b)))

    def __neg__(self) -> "Value":
        return Value(-self.data, "", "neg", (self,), (-1.0,))

    def __pow__(self, exponent: Union["Value", Number]) -> "Value":
        x = self.data
        if isinstance(exponent, Value):
            k = exponent.data
            out = _power(x, k)
            # d(x**k)/dk = x**k * log(x): defined for x > 0; PyTorch's convention 0 at
            # x == 0, and NaN (documented) for a negative base.
            dk = out * math.log(x) if x > 0 else (0.0 if x == 0 else math.nan)
            return Value(out, "", "**", (self, exponent), (_power_derivative(x, k), dk))
        k = _as_float(exponent, "**")
        return Value(_power(x, k), "", f"**{k:g}", (self,), (_power_derivative(x, k),))

    def __radd__(self, other: Number) -> "Value":
        return Value(other) + self

    def __rmul__(self, other: Number) -> "Value":
        return Value(other) * self

    def __rsub__(self, other: Number) -> "Value":
        return Value(other) - self

    def __rtruediv__(self, other: Number) -> "Value":
        return Value(other) / self

    def __rpow__(self, base: Number) -> "Value":
        return Value(base) ** self

    # ---- functions ----

    def exp(self) -> "Value":
        x = self.data
        try:
            out = math.exp(x)
        except OverflowError:
            raise OverflowError(f"exp overflow: exp({x!r}) is too large for a float") from None
        return Value(out, "", "exp", (self,), (out,))

    def log(self) -> "Value":
        x = self.data
        if x <= 0.0:
            raise ValueError(f"log of a non-positive number: log({x!r})")
        return Value(math.log(x), "", "log", (self,), (1.0 / x,))

    def tanh(self) -> "Value":
        t = math.tanh(self.data)
        return Value(t, "", "tanh", (self,), (1.0 - t * t,))

    def sigmoid(self) -> "Value":
        x = self.data
        if x >= 0.0:
            s = 1.0 / (1.0 + math.exp(-x))
        else:  # written this way so that exp never overflows
            e = math.exp(x)
            s = e / (1.0 + e)
        return Value(s, "", "sigmoid", (self,), (s * (1.0 - s),))

    def relu(self) -> "Value":
        x = self.data
        if x > 0.0:
            return Value(x, "", "relu", (self,), (1.0,))
        return Value(0.0, "", "relu", (self,), (0.0,))

    # ---- backpropagation ----

    def backward(self) -> None:
        """Fill in ``grad`` of every value this one depends on: d(self)/d(value).

        Leaves accumulate (call ``zero_grad()`` on them, or on a ``Module``, between
        steps); inner nodes are reset first, so each call adds exactly one gradient.
        A node whose gradient is exactly zero (say behind a dead ReLU) passes nothing
        back: the chain rule with 0 * inf = 0, where PyTorch would give NaN.
        """
        order = topological_order(self)
        for node in order:
            if node.operands:
                node.grad = 0.0
        self.grad += 1.0
        for node in reversed(order):
            upstream = node.grad
            if upstream == 0.0:
                continue
            for operand, local in zip(node.operands, node.local_grads):
                operand.grad += local * upstream

    def zero_grad(self) -> None:
        """Set this value's gradient back to zero."""
        self.grad = 0.0

    def __repr__(self) -> str:
        label = f", label={self.label!r}" if self.label else ""
        return f"Value(data={format_number(self.data)}, grad={format_number(self.grad)}{label})"


def _power(x: float, k: float) -> float:
    if x == 0.0 and k < 0.0:
        raise ZeroDivisionError(f"** : zero to a negative power: {x!r} ** {k!r}")
    if x < 0.0 and not k.is_integer():
        raise ValueError(f"** : negative base with a non-integer exponent: {x!r} ** {k!r} is complex")
    try:
        return x ** k
    except OverflowError:
        raise OverflowError(f"** overflow: {x!r} ** {k!r} is too large for a float") from None


def _power_derivative(x: float, k: float) -> float:
    """d(x**k)/dx = k * x**(k-1), with 0 for k == 0 (also at x == 0)."""
    if k == 0.0:
        return 0.0
    if x == 0.0 and k < 1.0:
        return _INF if k > 0.0 else 0.0  # k < 0 already refused by _power
    return k * x ** (k - 1.0)


def weighted_sum(weights: Sequence[Value], inputs: Sequence[Union[Value, Number]], bias: Value) -> Value:
    """One node for ``w1*x1 + ... + wn*xn + b``: a neuron's pre-activation.

    Operands are ``(w1..wn, x1..xn, b)`` with local derivatives ``(x1..xn, w1..wn, 1)``,
    so pictures can still draw every edge; it computes the same numbers as the chain
    of ``*`` and ``+`` nodes with about a tenth of the nodes.
    """
    if len(weights) != len(inputs):
        raise ValueError(f"weighted_sum: {len(weights)} weights but {len(inputs)} inputs")
    xs = tuple(x if isinstance(x, Value) else Value(x) for x in inputs)
    return _weighted_sum(tuple(weights), xs, tuple(map(_data, xs)), bias)


def _weighted_sum(ws: Tuple[Value, ...], xs: Tuple[Value, ...], x_data: Tuple[float, ...],
                  b: Value) -> Value:
    """``weighted_sum`` for callers that already hold tuples (a layer shares ``xs``)."""
    w_data = tuple(map(_data, ws))
    out = sum(map(mul, w_data, x_data)) + b.data
    return Value(out, "", "Σwx+b", ws + xs + (b,), x_data + w_data + (1.0,))
