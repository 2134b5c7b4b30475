"""The scalar autograd engine: one ``Value`` per number, reverse-mode autodiff.

micrograd's ``Value``, with one change: instead of a ``_backward`` closure, every op
stores, computed right beside the forward result, the local derivative of its
output with respect to each operand (``local_grads``, one per slot of ``operands``;
``a * a`` keeps both slots). ``backward()`` is then one generic loop,
``operand.grad += local * node.grad`` over the reverse topological order, written
once in ``autodiff.py``. No closures are stored, so a graph has no reference cycles
and is freed by reference counting alone, without the garbage collector.

Below the class: ``weighted_sum`` (a neuron's ``w·x + b`` as one node) and ``OPS``,
the table of every op's name, symbol and derivative formulas that pictures read.

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
from dataclasses import dataclass
from operator import attrgetter, mul
from typing import Dict, Optional, Sequence, Tuple, Union

from . import autodiff
from .activations import ACTIVATIONS, sigmoid_scalar

__all__ = ["Value", "weighted_sum", "format_number", "Op", "OPS", "op_info", "WEIGHTED_SUM",
           "CALL_PRECEDENCE"]

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
    # Each op returns Value(result, label, op, operands, local_grads), arguments
    # passed by position because keywords cost time on the engine's hot path.

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
        q = a / b
        da, db = 1.0 / b, -q / b  # -a / b**2 without squaring b (1e-300**2 is 0.0)
        if not (-_INF < q < _INF and -_INF < da < _INF and -_INF < db < _INF):
            raise OverflowError(f"division overflow: {a!r} / {b!r}, its value or its derivative "
                                f"is too large for a float")
        return Value(q, "", "/", (self, other), (da, db))

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
        return Value(_power(x, k), "", _pow_key(k), (self,), (_power_derivative(x, k),))

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
        s = sigmoid_scalar(self.data)  # 1 / (1 + exp(-x)), never overflowing (activations)
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
        The loop itself is ``autodiff.backward``.
        """
        autodiff.backward(self, 1.0)

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


def weighted_sum(weights: Sequence[Value], inputs: Sequence[Union[Value, Number]], bias: Value,
                 input_data: Optional[Tuple[float, ...]] = None) -> Value:
    """One node for ``w1*x1 + ... + wn*xn + b``: a neuron's weighted sum ``z``.

    Operands are ``(w1..wn, x1..xn, b)`` with local derivatives ``(x1..xn, w1..wn, 1)``,
    so pictures can still draw every edge; it computes the same numbers as the chain
    of ``*`` and ``+`` nodes with about a tenth of the nodes (``nn.Neuron`` uses it).
    A plain number among ``inputs`` becomes a leaf. ``input_data``: the inputs'
    ``.data``, if the caller has them already (a layer reads its inputs once for all
    its neurons: a speed trick).
    """
    ws, xs = tuple(weights), tuple(inputs)  # tuple() of a tuple is the tuple itself: free
    if len(ws) != len(xs):
        raise ValueError(f"weighted_sum: {len(ws)} weights but {len(xs)} inputs")
    try:
        w_data, b = tuple(map(_data, ws)), bias.data
        x_data = input_data if input_data is not None else tuple(map(_data, xs))
    except AttributeError:  # a plain number somewhere: rare, so checked only now
        if not all(isinstance(v, Value) for v in ws + (bias,)):
            raise TypeError("weighted_sum: weights and bias must be Values") from None
        return weighted_sum(ws, [x if isinstance(x, Value) else Value(x) for x in xs], bias)
    return Value(sum(map(mul, w_data, x_data)) + b, "", WEIGHTED_SUM, ws + xs + (bias,),
                 x_data + w_data + (1.0,))


# ---- the op table: what pictures may say about each op, written down once ----

@dataclass(frozen=True)
class Op:
    """One kind of node the engine builds, as formulas a picture can fill in.

    Templates name the operands ``{a}`` and ``{b}`` (slots 0 and 1) and the result
    ``{out}``; the weighted sum's slots are ``{w1}..{wn}``, ``{x1}..{xn}``, ``{b}``.
    Substitute operand names to get ``do/da = b``-style text, or formatted numbers.

    Attributes:
        key: the ``Value.op`` string ("*"; "**k" stands for "**2", "**0.5", ...).
        name: a word for it ("mul").
        symbol: how a picture labels the node ("*", "tanh", "Σwx+b").
        arity: how many operands; ``None`` for the weighted sum (2n + 1 of them).
        precedence: binding strength in a formula: 1 for ``+ -``, 2 for ``* /``,
            3 for ``-a``, 4 for ``**``, 9 for ``f(a)`` (never needs parentheses).
        formula: the forward expression, e.g. ``"{a} + {b}"``.
        derivatives: d(out)/d(operand) for each slot, e.g. ``("{b}", "{a}")`` for ``*``.
    """

    key: str
    name: str
    symbol: str
    arity: Optional[int]
    precedence: int
    formula: str
    derivatives: Tuple[str, ...]

    def operand_names(self, n: int) -> Tuple[str, ...]:
        """The template names of ``n`` operand slots: ("a", "b"), or w1..wn, x1..xn, b."""
        if self.arity is None:
            half = n // 2
            return (tuple(f"w{i}" for i in range(1, half + 1))
                    + tuple(f"x{i}" for i in range(1, half + 1)) + ("b",))
        return ("a", "b")[:n]

    def formula_for(self, n: int) -> str:
        """``formula`` for ``n`` operands (the weighted sum spells out every term)."""
        if self.arity is None:
            return " + ".join([f"{{w{i}}}*{{x{i}}}" for i in range(1, n // 2 + 1)] + ["{b}"])
        return self.formula

    def derivatives_for(self, n: int) -> Tuple[str, ...]:
        """``derivatives`` for ``n`` operands (the weighted sum: x_i for w_i, w_i for x_i, 1)."""
        if self.arity is None:
            half = n // 2
            return (tuple(f"{{x{i}}}" for i in range(1, half + 1))
                    + tuple(f"{{w{i}}}" for i in range(1, half + 1)) + ("1",))
        return self.derivatives

    def fill(self, template: str, operands: Sequence[str], out: str = "") -> str:
        """``template`` with the operand texts (names or numbers) and ``out`` put in."""
        names = dict(zip(self.operand_names(len(operands)), operands))
        return template.format(out=out, **names)


WEIGHTED_SUM = "Σwx+b"  # the op string of weighted_sum's node, everywhere
CALL_PRECEDENCE = 9  # f(a): binds tightest, never needs parentheses


def _op(key: str, name: str, arity: Optional[int], precedence: int, formula: str,
        *derivatives: str, symbol: str = "") -> Op:
    return Op(key, name, symbol or key, arity, precedence, formula, derivatives)


#: Every op ``Value`` builds, keyed by ``Value.op``; ``op_info`` also resolves "**2" etc.
OPS: Dict[str, Op] = {op.key: op for op in (
    _op("+", "add", 2, 1, "{a} + {b}", "1", "1"),
    _op("-", "sub", 2, 1, "{a} - {b}", "1", "-1"),
    _op("*", "mul", 2, 2, "{a}*{b}", "{b}", "{a}"),
    _op("/", "div", 2, 2, "{a}/{b}", "1/{b}", "-{a}/{b}²"),
    _op("neg", "neg", 1, 3, "-{a}", "-1", symbol="-"),
    _op("**", "pow", 2, 4, "{a}**{b}", "{b}*{a}**({b} - 1)", "{out}*log({a})"),
    _op("**k", "pow", 1, 4, "{a}**{k}", "{k}*{a}**{k_minus_1}"),
    _op("exp", "exp", 1, CALL_PRECEDENCE, "exp({a})", "{out}"),
    _op("log", "log", 1, CALL_PRECEDENCE, "log({a})", "1/{a}"),
    *(_op(a.name, a.name, 1, CALL_PRECEDENCE, a.formula, a.derivative_text)
      for a in ACTIVATIONS.values()),
    _op(WEIGHTED_SUM, "weighted_sum", None, 1, "Σ {w_i}*{x_i} + {b}", "{x_i}", "{w_i}", "1"),
)}


def _pow_key(k: float) -> str:
    """The ``Value.op`` of ``x ** k`` for a constant ``k``: "**2", "**0.5"."""
    return f"**{k:g}"


def op_info(op: str) -> Optional[Op]:
    """The ``Op`` describing a ``Value.op`` string; ``None`` for an op not in ``OPS``.

    A constant power ("**2") gets its own ``Op`` with the exponent written in:
    formula ``"{a}**2"``, derivative ``"2*{a}"``.
    """
    found = OPS.get(op)
    if found is not None or not op.startswith("**"):
        return found
    try:
        k = float(op[2:])
    except ValueError:
        return None
    if _pow_key(k) != op:
        return None
    if k == 0.0 or k == 1.0:
        derivative = f"{k:g}"
    elif k == 2.0:
        derivative = "2*{a}"
    else:
        derivative = f"{k:g}*{{a}}**{k - 1:g}"
    family = OPS["**k"]
    return Op(op, family.name, op, 1, family.precedence, f"{{a}}{op}", (derivative,))
