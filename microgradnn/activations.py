"""The activation functions, each in one place: name, function, derivative, the lectures' symbol.

Every table of activations reads ``ACTIVATIONS`` (or ``names()``): the scalar engine's
``Value.relu/tanh/sigmoid`` and its op table, the scalar ``Neuron``, the vectorized path's
``ReLU/Sigmoid/Tanh`` layers and ops, the model specs and families, and the pictures
(which node closes a neuron, which layer is an activation). A new activation is one
``Activation`` entry here (and a ``Value`` method and a layer class named by ``layer``).

Each is written once per path: ``scalar(x)`` for one Python float (the engine), ``array(X)``
for a numpy array (the vectorized path, a fresh array of X's dtype); both derivatives
are written from the *output* a = f(z), which is what backpropagation keeps::

    relu     a = max(z, 0)                     da/dz = [a > 0]
    tanh     a = tanh(z)                       da/dz = 1 - a^2
    sigmoid  a = 1 / (1 + exp(-z))             da/dz = a (1 - a)   (the lectures' σ)

``sigmoid`` never overflows: the scalar form exponentiates only a negative number, the
array form is ``(1 + tanh(z / 2)) / 2``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Dict, Tuple

import numpy as np

__all__ = ["Activation", "ACTIVATIONS", "names", "get", "sigmoid_scalar", "sigmoid_array"]


@dataclass(frozen=True)
class Activation:
    """One activation function.

    ``name``: the spec/CLI name and the op string of its node ("relu"); ``layer``: the
    vectorized path's layer class (PyTorch's name, "ReLU"); ``symbol``: what the lectures
    write (σ for the sigmoid); ``formula`` / ``derivative_text``: a(z) and da/dz as text,
    ``{a}`` standing for the input and ``{out}`` for the output (the engine's op table);
    ``scalar(z)`` -> a; ``array(Z)`` -> A; ``derivative(A)`` -> da/dz from the output A.
    """

    name: str
    layer: str
    symbol: str
    formula: str
    derivative_text: str
    scalar: Callable[[float], float]
    array: Callable[[np.ndarray], np.ndarray]
    derivative: Callable[[np.ndarray], np.ndarray]


def sigmoid_scalar(z: float) -> float:
    """``1 / (1 + exp(-z))`` for one float, exponentiating only ``-|z|`` (no overflow)."""
    if z >= 0.0:
        return 1.0 / (1.0 + math.exp(-z))
    e = math.exp(z)
    return e / (1.0 + e)


def sigmoid_array(Z: np.ndarray) -> np.ndarray:
    """``1 / (1 + exp(-Z))`` as ``(1 + tanh(Z / 2)) / 2``: no overflow, one new array."""
    out = np.tanh(Z * 0.5)
    out *= 0.5
    out += 0.5
    return out


def _relu_scalar(z: float) -> float:
    return z if z > 0.0 else 0.0


def _relu_array(Z: np.ndarray) -> np.ndarray:
    return np.maximum(Z, Z.dtype.type(0))  # a zero of Z's dtype: no Python-int conversion


ACTIVATIONS: Dict[str, Activation] = {a.name: a for a in (
    Activation("relu", "ReLU", "ReLU", "relu({a})", "[{a} > 0]",
               _relu_scalar, _relu_array, lambda A: A > 0),
    Activation("tanh", "Tanh", "tanh", "tanh({a})", "1 - {out}²",
               math.tanh, np.tanh, lambda A: 1 - A * A),
    Activation("sigmoid", "Sigmoid", "σ", "sigmoid({a})", "{out}*(1 - {out})",
               sigmoid_scalar, sigmoid_array, lambda A: A * (1 - A)),
)}


def names() -> Tuple[str, ...]:
    """The activation names, in the registry's order: ("relu", "tanh", "sigmoid")."""
    return tuple(ACTIVATIONS)


def get(name: str) -> Activation:
    """The ``Activation`` called ``name``, or a ValueError listing the names."""
    try:
        return ACTIVATIONS[name]
    except (KeyError, TypeError):
        raise ValueError(f"unknown activation {name!r}; choose one of "
                         f"{', '.join(ACTIVATIONS)}") from None
