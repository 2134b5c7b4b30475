"""Neurons, layers and MLPs built from scalar ``Value``s.

``Neuron(nin)`` computes ``act(w·x + b)``. By default the weighted sum is one fused
node (``weighted_sum``) holding all n+1 local derivatives; ``fused=False`` builds
the textbook chain of ``*`` and ``+`` nodes instead, which is what you want when
drawing or stepping through a single neuron. Both give the same numbers.
"""

from __future__ import annotations

import random
from operator import attrgetter
from typing import Dict, List, Optional, Sequence, Tuple, Union

import numpy as np

from .activations import names
from .engine import Value, weighted_sum
from .module import Module

__all__ = ["Neuron", "Layer", "MLP", "ACTIVATIONS"]

ACTIVATIONS = names() + ("linear",)  # the registry's (microgradnn.activations), or none
INITS = ("fan_in", "unit")
Input = Union[Value, float]
_data = attrgetter("data")


def _as_values(x: Sequence[Input]) -> Tuple[Value, ...]:
    """Inputs as a tuple of Values; a plain number becomes a leaf labelled ``x[i]``."""
    return tuple(v if isinstance(v, Value) else Value(v, label=f"x[{i}]") for i, v in enumerate(x))


def _check_activation(activation: str) -> str:
    if activation not in ACTIVATIONS:
        raise ValueError(f"unknown activation {activation!r}; choose one of {', '.join(ACTIVATIONS)}")
    return activation


class Neuron(Module):
    """One neuron: ``activation(w·x + b)`` over ``nin`` inputs.

    Weights start uniform in [-1/sqrt(nin), 1/sqrt(nin)] with ``init="fan_in"``
    (PyTorch's ``Linear`` range) or in [-1, 1] with ``init="unit"`` (micrograd's);
    bias at 0. Pass ``rng`` (a ``random.Random``) for reproducibility.
    """

    def __init__(self, nin: int, activation: str = "relu", fused: bool = True,
                 rng: Optional[random.Random] = None, label: str = "", init: str = "fan_in") -> None:
        if not isinstance(nin, int) or nin < 1:
            raise ValueError(f"Neuron: nin must be a positive integer, got {nin!r}")
        if init not in INITS:
            raise ValueError(f"unknown init {init!r}; choose one of {', '.join(INITS)}")
        rng = rng or random.Random()
        bound = 1.0 / nin ** 0.5 if init == "fan_in" else 1.0
        self.w = tuple(Value(rng.uniform(-bound, bound), label=f"{label}w.{i}") for i in range(nin))
        self.b = Value(0.0, label=f"{label}b")
        self.activation = _check_activation(activation)
        self.fused = fused

    def forward(self, x: Sequence[Input]) -> Value:
        if len(x) != len(self.w):
            raise ValueError(f"Neuron with {len(self.w)} inputs got {len(x)} values")
        xs = _as_values(x)
        return self._forward(xs, tuple(map(_data, xs)))

    def _forward(self, xs: Tuple[Value, ...], x_data: Tuple[float, ...]) -> Value:
        if self.fused:
            z = weighted_sum(self.w, xs, self.b, x_data)
        else:
            z = self.b
            for wi, xi in zip(self.w, xs):
                z = wi * xi + z
        if self.activation == "linear":
            return z
        return getattr(z, self.activation)()

    def extra_repr(self) -> str:
        return f"{len(self.w)}, activation={self.activation!r}"


class Layer(Module):
    """``nout`` neurons that all see the same ``nin`` inputs.

    Its ``state_dict`` holds ``weight`` (nout, nin) and ``bias`` (nout,), the layout
    of PyTorch's and microgradnn.tensor's ``Linear``.
    """

    def __init__(self, nin: int, nout: int, activation: str = "relu", fused: bool = True,
                 rng: Optional[random.Random] = None, label: str = "", init: str = "fan_in") -> None:
        if not isinstance(nout, int) or nout < 1:
            raise ValueError(f"Layer: nout must be a positive integer, got {nout!r}")
        self.neurons = tuple(Neuron(nin, activation, fused, rng, label=f"{label}neurons.{i}.",
                                    init=init) for i in range(nout))
        self.nin, self.nout, self.activation = nin, nout, activation

    def forward(self, x: Sequence[Input]) -> Tuple[Value, ...]:
        if len(x) != self.nin:
            raise ValueError(f"Layer with {self.nin} inputs got {len(x)} values")
        return self._forward(_as_values(x))

    def _forward(self, xs: Tuple[Value, ...]) -> Tuple[Value, ...]:
        x_data = tuple(map(_data, xs))  # shared by every neuron of the layer
        return tuple([n._forward(xs, x_data) for n in self.neurons])

    def weight_matrix(self) -> np.ndarray:
        return np.array([[w.data for w in n.w] for n in self.neurons], dtype=np.float64)

    def _save_state(self, out: Dict[str, np.ndarray], prefix: str) -> None:
        # One (nout, nin) array and one (nout,) array, not a number per neuron weight:
        # neurons.{j}.w.{k} is weight[j, k], neurons.{j}.b is bias[j] (see module.py).
        out[prefix + "weight"] = self.weight_matrix()
        out[prefix + "bias"] = np.array([n.b.data for n in self.neurons], dtype=np.float64)

    def _load_state(self, state: Dict[str, np.ndarray], prefix: str) -> None:
        if prefix + "weight" in state:
            for neuron, row in zip(self.neurons, state[prefix + "weight"].tolist()):
                for w, v in zip(neuron.w, row):
                    w.data = float(v)
        if prefix + "bias" in state:
            for neuron, b in zip(self.neurons, state[prefix + "bias"].tolist()):
                neuron.b.data = float(b)

    def __repr__(self) -> str:
        return f"Layer({self.nin} -> {self.nout}, activation={self.activation!r})"


class MLP(Module):
    """A multi-layer perceptron: ``MLP(2, [16, 16, 1])`` has layers 2->16->16->1.

    Hidden layers use ``activation``; the last layer is linear unless
    ``output_activation`` says otherwise. Called on a list of ``nin`` numbers or
    Values it returns a ``Value`` for one output and a list otherwise. ``init`` and
    ``fused`` are passed to every ``Neuron``; ``seed`` makes the weights reproducible.
    """

    def __init__(self, nin: int, nouts: Sequence[int], activation: str = "relu",
                 output_activation: str = "linear", fused: bool = True,
                 seed: Optional[int] = None, init: str = "fan_in") -> None:
        if not isinstance(nin, int) or nin < 1:
            raise ValueError(f"MLP: nin must be a positive integer, got {nin!r}")
        nouts = list(nouts)
        if not nouts:
            raise ValueError("MLP: nouts must list at least one layer size")
        _check_activation(activation)
        _check_activation(output_activation)
        rng = random.Random(seed)
        sizes = [nin] + nouts
        last = len(nouts) - 1
        self.layers = tuple(Layer(sizes[i], sizes[i + 1],
                                  output_activation if i == last else activation, fused, rng,
                                  label=f"layers.{i}.", init=init)
                            for i in range(len(nouts)))
        self.nin, self.nouts = nin, nouts
        self.activation, self.output_activation = activation, output_activation

    def forward(self, x: Sequence[Input]) -> Union[Value, List[Value]]:
        if len(x) != self.nin:
            raise ValueError(f"MLP expects {self.nin} inputs, got {len(x)}")
        out = _as_values(x)
        for layer in self.layers:
            out = layer._forward(out)
        return out[0] if len(out) == 1 else list(out)

    def __repr__(self) -> str:
        sizes = " -> ".join(str(s) for s in [self.nin] + self.nouts)
        return (f"MLP({sizes}, activation={self.activation!r}, "
                f"output_activation={self.output_activation!r}, parameters={self.num_parameters()})")
