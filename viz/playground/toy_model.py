"""The 2-D playground's mathematics: points, input features, the scalar network and its cost.

- ``make_points(setup)``: the generated set (``microgradnn.datasets``) minus the points
  dropped, plus the learner's own; each point is a test point or a training point by its
  index alone (``is_test``), so adding a point never moves the others between the two.
- ``features(names, X)``: the network's inputs ``a[0]`` from the plane's ``(x1, x2)``,
  shape (m, 2) -> (m, len(names)).
- ``build_network(setup)``: a scalar ``microgradnn.nn.MLP``. One output for two classes
  (``a[L][0] = σ(z)`` is the probability of class 1), else one output per class: sigmoid
  outputs with the squared error, raw scores ``z[L]`` through a softmax with cross-entropy.
- ``point_cost``: one point's cost ``C`` as a graph of ``Value``s, the lectures' squared
  error ``C = Σ_j (a[L][j] - y[j])²`` or cross-entropy; ``penalty``: L1 ``λ Σ |w|`` or L2
  ``λ Σ w²`` over the weights (not the biases).
- The same numbers on many points at once (heat maps, curves): ``layer_outputs`` runs the
  vectorized ``Sequential`` that ``tensor.bridge.sequential_from_mlp`` makes of the same
  weights; ``costs`` and ``class_shares`` read its last layer.
"""

from __future__ import annotations

from typing import Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np
from microgradnn.datasets import make_circles, make_moons, make_spiral, make_xor
from microgradnn.engine import Value
from microgradnn.losses import binary_cross_entropy, cross_entropy
from microgradnn.nn import MLP
from microgradnn.tensor import Linear, Tensor, no_grad
from microgradnn.tensor.bridge import sequential_from_mlp

from .toy_setup import Setup

__all__ = ["make_points", "is_test", "features", "FEATURE_LABELS", "build_network",
           "point_cost", "penalty", "forward_point", "layer_outputs", "costs", "predictions",
           "class_shares", "output_activation"]

_GOLDEN = 0.6180339887498949
FEATURE_LABELS = {"x1": "x1", "x2": "x2", "x1sq": "x1²", "x2sq": "x2²", "x1x2": "x1·x2",
                  "sinx1": "sin x1", "sinx2": "sin x2"}
_FEATURES: Dict[str, Callable[[np.ndarray, np.ndarray], np.ndarray]] = {
    "x1": lambda a, b: a, "x2": lambda a, b: b, "x1sq": lambda a, b: a * a,
    "x2sq": lambda a, b: b * b, "x1x2": lambda a, b: a * b,
    "sinx1": lambda a, b: np.sin(a), "sinx2": lambda a, b: np.sin(b)}


def is_test(index: np.ndarray, fraction: float) -> np.ndarray:
    """Point ``i`` is a test point when ``frac((i + 1) * 0.618...) < fraction``: the golden
    ratio's sequence spreads the test points evenly over the indices."""
    return np.mod((np.asarray(index) + 1) * _GOLDEN, 1.0) < fraction


def make_points(setup: Setup) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(X (m, 2), y (m,) int64, test (m,) bool)`` for ``setup``."""
    if setup.data == "none":
        X, y = np.zeros((0, 2)), np.zeros(0, np.int64)
    elif setup.data == "spiral":
        X, y = make_spiral(setup.n, classes=setup.classes, noise=setup.noise, seed=setup.seed)
    else:
        maker = {"moons": make_moons, "circles": make_circles, "xor": make_xor}[setup.data]
        X, y = maker(setup.n, noise=setup.noise, seed=setup.seed)
    index = np.arange(len(X))
    keep = np.ones(len(X), bool)
    keep[list(setup.drop)] = False
    added = np.array([(x, v) for x, v, _ in setup.add], np.float64).reshape(-1, 2)
    X = np.concatenate([X[keep], added])
    y = np.concatenate([y[keep], np.array([c for _, _, c in setup.add], np.int64)])
    index = np.concatenate([index[keep], len(keep) + np.arange(len(added))])
    return X, y, is_test(index, setup.test)


def features(names: Sequence[str], X: np.ndarray) -> np.ndarray:
    """The inputs ``a[0]`` of the network for points ``X`` (m, 2): (m, len(names))."""
    X = np.asarray(X, np.float64).reshape(-1, 2)
    return np.stack([_FEATURES[name](X[:, 0], X[:, 1]) for name in names], axis=1)


def output_activation(setup: Setup) -> str:
    return "linear" if setup.cost == "ce" and setup.outputs > 1 else "sigmoid"


def build_network(setup: Setup) -> MLP:
    """The scalar MLP of ``setup`` (its first weights drawn with ``setup.wseed``)."""
    return MLP(len(setup.feat), [*setup.layers, setup.outputs], activation=setup.act,
               output_activation=output_activation(setup), seed=setup.wseed)


def forward_point(mlp: MLP, inputs: Sequence[float]) -> List[Tuple[Value, ...]]:
    """Every layer's outputs for one point, as graphs: ``[a[0], a[1], ..., a[L]]``."""
    layer_out = tuple(Value(float(v), label=f"a[0][{k}]") for k, v in enumerate(inputs))
    outs = [layer_out]
    for layer in mlp.layers:
        layer_out = layer._forward(layer_out)
        outs.append(layer_out)
    return outs


def point_cost(setup: Setup, outputs: Sequence[Value], label: int) -> Value:
    """One point's cost ``C`` from the output layer's values ``a[L]`` (or ``z[L]``)."""
    if setup.cost == "ce":
        if len(outputs) == 1:
            return binary_cross_entropy([outputs[0]], [float(label)])
        return cross_entropy(list(outputs), int(label))
    targets = [float(label)] if len(outputs) == 1 else \
        [1.0 if j == label else 0.0 for j in range(len(outputs))]
    total: Optional[Value] = None
    for j, (a, t) in enumerate(zip(outputs, targets)):
        term = (a - Value(t, label=f"y[{j}]")) ** 2
        total = term if total is None else total + term
    assert total is not None
    return total


def penalty(setup: Setup, mlp: MLP) -> Optional[Value]:
    """The regularisation term over every weight (None without one)."""
    if setup.reg == "none" or setup.rate == 0.0:
        return None
    weights = [w for layer in mlp.layers for neuron in layer.neurons for w in neuron.w]
    terms = [w * w if setup.reg == "l2" else w.relu() + (-w).relu() for w in weights]
    total = terms[0]
    for term in terms[1:]:
        total = total + term
    return setup.rate * total


def layer_outputs(mlp: MLP, inputs: np.ndarray) -> List[np.ndarray]:
    """``[a[1], ..., a[L]]`` for many points at once, each (m, width of the layer), on the
    vectorized path (the scalar MLP's weights through ``sequential_from_mlp``)."""
    seq = sequential_from_mlp(mlp, dtype=np.float64)
    outs: List[np.ndarray] = []
    with no_grad():
        h = Tensor(np.asarray(inputs, np.float64), dtype=np.float64)
        modules = list(seq)
        for i, module in enumerate(modules):
            h = module(h)
            last_of_layer = i + 1 == len(modules) or isinstance(modules[i + 1], Linear)
            if last_of_layer:
                outs.append(np.array(h.data, np.float64))
    return outs


def costs(setup: Setup, last: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Each point's ``C`` from the last layer's outputs (m, outputs): as ``point_cost``."""
    y = np.asarray(y, np.int64)
    if setup.cost == "ce" and last.shape[1] == 1:
        p = np.clip(last[:, 0], 1e-12, 1.0 - 1e-12)
        return -np.where(y == 1, np.log(p), np.log(1.0 - p))
    if setup.cost == "ce":
        shift = last.max(axis=1, keepdims=True)
        lse = np.log(np.exp(last - shift).sum(axis=1)) + shift[:, 0]
        return lse - last[np.arange(len(y)), y]
    if last.shape[1] == 1:
        return (last[:, 0] - y) ** 2
    target = np.eye(last.shape[1])[y]
    return ((last - target) ** 2).sum(axis=1)


def predictions(last: np.ndarray) -> np.ndarray:
    """The predicted class of each point."""
    if last.shape[1] == 1:
        return (last[:, 0] > 0.5).astype(np.int64)
    return last.argmax(axis=1)


def class_shares(setup: Setup, last: np.ndarray) -> np.ndarray:
    """How much of each class the surface shows at each point, (m, classes), rows sum to 1:
    ``(1 - a, a)`` for one output, the softmax of the scores with cross-entropy, the
    sigmoid outputs divided by their sum with the squared error."""
    if last.shape[1] == 1:
        return np.stack([1.0 - last[:, 0], last[:, 0]], axis=1)
    if setup.cost == "ce":
        e = np.exp(last - last.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)
    total = np.maximum(last.sum(axis=1, keepdims=True), 1e-12)
    return last / total
