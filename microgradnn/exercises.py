"""Random small expressions to practise backpropagation on: always a new one.

``random_expression(seed, depth, ops)`` builds an expression such as
``tanh(x*w + b)`` from a seed, with values for its names, that the expression parser
(``microgradnn.expression.parse_expression``) accepts and the engine computes without
trouble: no log of a number that is not positive, no division by a number near 0, no
``exp`` of a large number, no ReLU at its kink, and every value and gradient of the
graph below ``MAX_MAGNITUDE`` (checked by running the engine itself; a draw that fails
is drawn again from the same seed's stream). Values are multiples of 0.5 so a learner
can do the arithmetic by hand.

Difficulty is the depth of the tree (how many ops deep) and the ops it may use;
``DIFFICULTIES`` names three presets.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import Dict, List, Sequence, Tuple

from .engine import Value
from .expression import parse_expression

__all__ = ["Exercise", "random_expression", "DIFFICULTIES", "OP_CHOICES", "MAX_MAGNITUDE",
           "MAX_DEPTH"]

#: What a generated expression may use: binary ops, ``**2`` and the engine's functions.
OP_CHOICES = ("+", "-", "*", "/", "**2", "tanh", "exp", "log", "sigmoid", "relu")
#: difficulty name -> (depth, ops)
DIFFICULTIES: Dict[str, Tuple[int, Tuple[str, ...]]] = {
    "easy": (2, ("+", "*")),
    "medium": (3, ("+", "-", "*", "tanh", "exp")),
    "hard": (4, OP_CHOICES),
}
MAX_MAGNITUDE = 100.0  # every value and gradient of a generated graph stays below this
MAX_DEPTH = 6
_NAMES = ("x", "w", "b", "u", "v", "c", "k", "y")
_VALUES = (-2.0, -1.5, -1.0, -0.5, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0)
_BINARY = {"+": 1, "-": 1, "*": 2, "/": 2}  # op -> precedence
_ATOM = 9  # a name, a call or a parenthesized expression
_CONSTANT = 10  # a number: binds like a name
_ATTEMPTS = 200


@dataclass(frozen=True)
class Exercise:
    """A generated expression and the values of its names.

    ``expression``: text for ``parse_expression`` (and ``microgradnn backprop``);
    ``values``: name -> number; ``assignments``: the same as ``NAME=VALUE`` words (``--set``).
    """

    expression: str
    values: Dict[str, float]

    @property
    def assignments(self) -> List[str]:
        return [f"{name}={value:g}" for name, value in self.values.items()]

    def build(self) -> Value:
        """The expression as a graph of ``Value`` (through the safe parser)."""
        return parse_expression(self.expression, dict(self.values))


def _check_args(depth: int, ops: Sequence[str]) -> Tuple[str, ...]:
    if isinstance(depth, bool) or not isinstance(depth, int) or not 1 <= depth <= MAX_DEPTH:
        raise ValueError(f"random_expression: depth must be a whole number 1..{MAX_DEPTH}, "
                         f"got {depth!r}")
    chosen = tuple(ops)
    unknown = [op for op in chosen if op not in OP_CHOICES]
    if unknown or not chosen:
        raise ValueError(f"random_expression: ops must be some of {' '.join(OP_CHOICES)}, "
                         f"got {unknown[0] if unknown else 'none'!r}")
    if not any(op in _BINARY for op in chosen):
        raise ValueError("random_expression: ops needs at least one of + - * / (a function "
                         "alone nests one name)")
    return chosen


class _Builder:
    """One draw: a tree of text, value and binding strength, bottom up."""

    def __init__(self, rng: random.Random, ops: Tuple[str, ...]) -> None:
        self.rng, self.ops = rng, ops
        self.values: Dict[str, float] = {}

    def leaf(self) -> Tuple[str, float, int]:
        rng = self.rng
        if self.values and rng.random() < 0.25:  # a name used again: gradients add up
            name = rng.choice(sorted(self.values))
            return name, self.values[name], _ATOM
        free = [n for n in _NAMES if n not in self.values]
        if not free or rng.random() < 0.12:
            value = float(rng.choice((2, 3, 0.5)))
            return f"{value:g}", value, _CONSTANT
        name = free[0]
        self.values[name] = rng.choice(_VALUES)
        return name, self.values[name], _ATOM

    def node(self, depth: int) -> Tuple[str, float, int]:
        if depth == 0:
            return self.leaf()
        op = self.rng.choice(self.ops)
        if op in _BINARY:
            left = self.node(depth - 1)
            right = self.node(depth - 1 if self.rng.random() < 0.5 else 0)
            if self.rng.random() < 0.5 and op in ("+", "*"):
                left, right = right, left
            return _binary(op, left, right)
        inner = self.node(depth - 1)
        return _unary(op, inner)


def _binary(op: str, left: Tuple[str, float, int], right: Tuple[str, float, int]
            ) -> Tuple[str, float, int]:
    p = _BINARY[op]
    if left[2] == right[2] == _CONSTANT or (left[0] == right[0] and op in ("-", "/")):
        raise _Redraw  # 2*3 or x - x: nothing to differentiate
    a = left[0] if left[2] >= p else f"({left[0]})"
    b = right[0] if right[2] > p or (right[2] == p and op in ("+", "*")) else f"({right[0]})"
    x, y = left[1], right[1]
    if op == "/" and abs(y) < 0.5:
        raise _Redraw
    value = {"+": x + y, "-": x - y, "*": x * y, "/": x / y if y else 0.0}[op]
    spacer = " " if p == 1 else ""
    return f"{a}{spacer}{op}{spacer}{b}", value, p


def _unary(op: str, inner: Tuple[str, float, int]) -> Tuple[str, float, int]:
    text, x, level = inner
    if level == _CONSTANT:
        raise _Redraw  # tanh(2): nothing to differentiate
    if op == "**2":
        return (text if level >= _ATOM else f"({text})") + "**2", x * x, 4
    if op == "log" and x < 0.25:
        raise _Redraw
    if op == "exp" and abs(x) > 3:
        raise _Redraw
    if op == "relu" and abs(x) < 0.25:
        raise _Redraw
    value = {"tanh": math.tanh, "exp": math.exp, "log": math.log,
             "sigmoid": lambda v: 1 / (1 + math.exp(-v)), "relu": lambda v: max(v, 0.0)}[op](x)
    return f"{op}({text})", value, _ATOM


class _Redraw(Exception):
    """This draw broke a rule (log of a small number, ...): draw again."""


def _tame(root: Value) -> bool:
    """Every value and gradient of the graph finite and below ``MAX_MAGNITUDE``."""
    root.backward()
    seen, stack = set(), [root]
    while stack:
        v = stack.pop()
        if id(v) in seen:
            continue
        seen.add(id(v))
        if not (abs(v.data) < MAX_MAGNITUDE and abs(v.grad) < MAX_MAGNITUDE):
            return False
        stack.extend(v.operands)
    return True


def random_expression(seed: int, depth: int = 2,
                      ops: Sequence[str] = DIFFICULTIES["medium"][1]) -> Exercise:
    """A random expression ``depth`` ops deep over ``ops`` (some of ``OP_CHOICES``).

    The same seed, depth and ops give the same exercise. The root op is never a bare
    leaf: ``depth`` 1 is one op (``x*w``), 2 is e.g. ``tanh(x*w)`` or ``x*w + b``.
    """
    chosen = _check_args(depth, ops)
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise ValueError(f"random_expression: seed must be a whole number, got {seed!r}")
    rng = random.Random(seed)
    for _ in range(_ATTEMPTS):
        builder = _Builder(rng, chosen)
        try:
            text, _, _ = builder.node(depth)
        except (_Redraw, OverflowError, ZeroDivisionError):
            continue
        if not builder.values:
            continue
        exercise = Exercise(text, dict(builder.values))
        try:
            if _tame(exercise.build()):
                return exercise
        except (ValueError, OverflowError, ZeroDivisionError):
            continue
    raise ValueError(f"random_expression: no usable expression of depth {depth} over "
                     f"{' '.join(chosen)} in {_ATTEMPTS} draws (seed {seed})")
