"""The bridge between the two paths: a scalar ``MLP`` <-> a ``Sequential`` of ``Linear`` layers.

Both conversions go through ``state_dict``: the scalar MLP's ``layers.{i}.weight``
(nout, nin) and ``layers.{i}.bias`` (nout,) become the Sequential's ``{j}.weight`` and
``{j}.bias`` for the j-th module, which is the i-th ``Linear``. Same weights, same
function: outputs and gradients agree to rounding in float64.
"""

from __future__ import annotations

from typing import Any, Callable, Dict, List, Optional, Tuple

import numpy as np

from ..module import Module
from ..nn import MLP
from .layers import ACTIVATIONS, Linear, Sequential
from .tensor import Tensor, no_grad

__all__ = ["sequential_from_mlp", "mlp_from_sequential", "mlp_array_function"]

_NAMES = {cls: name for name, cls in ACTIVATIONS.items()}


def sequential_from_mlp(mlp: MLP, dtype: Any = np.float64) -> Sequential:
    """``Linear`` + activation module per scalar layer ("linear" adds no module)."""
    if not isinstance(mlp, MLP):
        raise TypeError(f"sequential_from_mlp: expected a microgradnn.nn.MLP, "
                        f"got {type(mlp).__name__}")
    sizes = [mlp.nin] + list(mlp.nouts)
    last = len(mlp.nouts) - 1
    modules: List[Module] = []
    mapping: List[Tuple[int, int]] = []  # (scalar layer index, Sequential index)
    for i in range(len(mlp.nouts)):
        mapping.append((i, len(modules)))
        modules.append(Linear(sizes[i], sizes[i + 1], dtype=dtype))
        activation = mlp.output_activation if i == last else mlp.activation
        if activation != "linear":
            modules.append(ACTIVATIONS[activation]())
    seq = Sequential(*modules)
    source = mlp.state_dict()
    state: Dict[str, np.ndarray] = {}
    for i, j in mapping:
        state[f"{j}.weight"] = source[f"layers.{i}.weight"]
        state[f"{j}.bias"] = source[f"layers.{i}.bias"]
    seq.load_state_dict(state)
    return seq


def _activation_after(seq: Sequential, j: int) -> Tuple[str, int]:
    """The activation name following module ``j`` and the index of the next Linear."""
    if j + 1 < len(seq) and not isinstance(seq[j + 1], Linear):
        module = seq[j + 1]
        name = _NAMES.get(type(module))
        if name is None:
            raise ValueError(f"mlp_from_sequential: module {j + 1} ({module!r}) has no scalar "
                             f"equivalent; only Linear, ReLU, Sigmoid and Tanh convert")
        return name, j + 2
    return "linear", j + 1


def _output_activation(seq: Sequential, last: str, given: Optional[str]) -> str:
    """The scalar MLP's last activation: ``given``, else the Sequential's own last one, else
    the one its cost puts on the outputs (``microgradnn.costs``: an "mse" model's sigmoid,
    which the vectorized path keeps inside its loss ``sigmoid_mse_loss``)."""
    if given is not None:
        return given
    if last != "linear":
        return last
    from ..costs import cost_of  # the costs module imports this package

    return cost_of(seq).output_activation


def mlp_from_sequential(seq: Sequential, seed: Optional[int] = None,
                        output_activation: Optional[str] = None) -> MLP:
    """A scalar ``MLP`` computing the same function as ``seq`` (Linear [activation] ...).

    All hidden layers must share one activation (the MLP has a single ``activation``);
    the last one becomes ``output_activation``. A model trained with the lectures' cost
    (``seq.spec["loss"] == "mse"``) ends in a ``Linear`` whose sigmoid lives in the loss:
    its scalar MLP gets that sigmoid back as ``output_activation``, so its outputs are
    ``a[L] = σ(z[L])`` and ``microgradnn.losses.quadratic_cost`` of them is the model's
    cost. ``output_activation`` given ("linear" for the bare ``z[L]``) overrides that.
    """
    if not isinstance(seq, Sequential) or len(seq) == 0:
        raise TypeError(f"mlp_from_sequential: expected a non-empty Sequential, got {seq!r}")
    linears: List[Tuple[int, Linear]] = []
    activations: List[str] = []
    j = 0
    while j < len(seq):
        layer = seq[j]
        if not isinstance(layer, Linear):
            raise ValueError(f"mlp_from_sequential: module {j} ({layer!r}) should be a Linear")
        if layer.bias is None:
            raise ValueError(f"mlp_from_sequential: module {j} ({layer!r}) has no bias; "
                             f"scalar neurons always have one")
        if linears and linears[-1][1].out_features != layer.in_features:
            raise ValueError(f"mlp_from_sequential: module {j} ({layer!r}) does not follow a "
                             f"layer with {linears[-1][1].out_features} outputs")
        linears.append((j, layer))
        name, j = _activation_after(seq, j)
        activations.append(name)
    hidden = set(activations[:-1])
    if len(hidden) > 1:
        raise ValueError(f"mlp_from_sequential: hidden layers mix activations {sorted(hidden)}; "
                         f"a scalar MLP has one hidden activation")
    activation = hidden.pop() if hidden else "relu"
    mlp = MLP(linears[0][1].in_features, [layer.out_features for _, layer in linears],
              activation=activation, seed=seed,
              output_activation=_output_activation(seq, activations[-1], output_activation))
    source = seq.state_dict()
    state = {}
    for i, (j, _) in enumerate(linears):
        state[f"layers.{i}.weight"] = source[f"{j}.weight"].astype(np.float64)
        state[f"layers.{i}.bias"] = source[f"{j}.bias"].astype(np.float64)
    mlp.load_state_dict(state)
    return mlp


def mlp_array_function(mlp: MLP) -> Callable[[np.ndarray], np.ndarray]:
    """The scalar ``mlp`` as a function on many inputs at once: (m, nin) -> (m, nout) float64.

    It reads the weights ``mlp`` has now (``sequential_from_mlp`` in float64) and runs
    the vectorized path without building a graph: a 40,000-point grid for a decision
    boundary takes milliseconds instead of 40,000 ``Value`` graphs.
    """
    seq = sequential_from_mlp(mlp, dtype=np.float64)

    def forward(points: Any) -> np.ndarray:
        with no_grad():
            return seq(Tensor(points, dtype=np.float64)).data

    return forward
