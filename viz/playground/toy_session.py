"""The 2-D playground's live state: the setup, the points, the scalar network, training.

``ToySession(setup)`` holds the points, the scalar ``MLP`` and its optimizer. Every change
and every read happens under ``session.lock``, so the training thread and the page's
requests never see half a step. ``train_step()`` is one mini-batch step of the scalar
engine: the batch's mean cost (plus the penalty) as one graph, ``Value.backward()``, then
the project's optimizer (``microgradnn.optim``). After each pass over the training points
(an epoch) the train and test cost and accuracy join the curves. ``frame()`` is what the
page draws: the curves, the decision surface, every neuron's output over the plane
(``GRID`` x ``GRID`` points, as bytes 0..255 on the layer's own scale) and the weights.
"""

from __future__ import annotations

import base64
import math
import threading
from typing import Any, Dict, List, Optional

import numpy as np
from microgradnn.engine import Value
from microgradnn.nn import MLP
from microgradnn.optim import SGD, Adam, Optimizer

from .toy_model import (FEATURE_LABELS, build_network, class_shares, costs, features,
                        forward_point, layer_outputs, make_points, penalty, point_cost,
                        predictions)
from .toy_setup import VIEW, Setup, format_setup

__all__ = ["ToySession", "GRID", "MAX_CURVE"]

GRID = 50  # heat maps: GRID x GRID points over the plane
MAX_CURVE = 1000  # points per curve; past that every second one is dropped


def _bytes(values: np.ndarray, lo: float, hi: float) -> str:
    """``values`` on the scale [lo, hi] as base64 bytes 0..255 (row 0 at the top)."""
    with np.errstate(all="ignore"):
        scaled = np.nan_to_num(np.clip((values - lo) / (hi - lo if hi > lo else 1.0), 0.0, 1.0))
    return base64.b64encode(np.round(scaled * 255).astype(np.uint8).tobytes()).decode("ascii")


def _scale(values: np.ndarray, activation: str) -> tuple:
    """The colour scale of a layer's outputs: its activation's range, else symmetric."""
    if activation == "sigmoid":
        return 0.0, 1.0
    if activation == "tanh":
        return -1.0, 1.0
    top = float(np.abs(values).max()) if values.size else 1.0
    top = top if top > 1e-12 else 1.0
    return (0.0, top) if activation == "relu" else (-top, top)


def _grid_points() -> np.ndarray:
    """The GRID x GRID centres over [-VIEW, VIEW]², row by row from the top (x2 = VIEW)."""
    c = (np.arange(GRID) + 0.5) / GRID * 2 * VIEW - VIEW
    x1, x2 = np.meshgrid(c, c[::-1])
    return np.stack([x1.ravel(), x2.ravel()], axis=1)


class ToySession:
    """The setup, the points and the network of one 2-D playground (see the module doc)."""

    def __init__(self, setup: Setup) -> None:
        self.lock = threading.RLock()
        self.grid = _grid_points()
        self.setup = setup
        self._load_points()
        self.reset()

    # -- setup -------------------------------------------------------------------------
    def _load_points(self) -> None:
        self.X, self.y, self.test = make_points(self.setup)
        self.train_index = np.flatnonzero(~self.test)
        self.test_index = np.flatnonzero(self.test)
        self.order_rng = np.random.default_rng(self.setup.seed)
        self.order: List[int] = []

    def apply(self, setup: Setup) -> bool:
        """Take ``setup``: new points if the data changed, a new network if its shape
        changed (returns True then), a new optimizer if its settings changed."""
        with self.lock:
            old, self.setup = self.setup, setup
            if setup.data_key() != old.data_key():
                self._load_points()
            if setup.network_key() != old.network_key():
                self.reset()
                return True
            if (setup.opt, setup.lr) != (old.opt, old.lr):
                self.optimizer = self._optimizer()
            if setup.data_key() != old.data_key():
                self._evaluate_into_curves(replace_last=True)
            return False

    def _optimizer(self) -> Optimizer:
        params = self.mlp.parameters()
        if self.setup.opt == "adam":
            return Adam(params, lr=self.setup.lr)
        return SGD(params, lr=self.setup.lr, momentum=0.9 if self.setup.opt == "momentum" else 0.0)

    def reset(self) -> None:
        """The network's first weights again (from ``wseed``), epoch 0, empty curves."""
        with self.lock:
            self.mlp: MLP = build_network(self.setup)
            self.optimizer = self._optimizer()
            self.epoch, self.steps, self.order = 0, 0, []
            self.curves: Dict[str, List[float]] = {k: [] for k in (
                "epoch", "train_loss", "test_loss", "train_acc", "test_acc")}
            self._evaluate_into_curves()

    # -- training ----------------------------------------------------------------------
    def inputs(self, index: Any) -> np.ndarray:
        return features(self.setup.feat, self.X[index])

    def batch_cost(self, index: np.ndarray) -> Value:
        """The mean cost of the points ``index`` plus the penalty: one scalar graph."""
        rows = self.inputs(index).tolist()
        total: Optional[Value] = None
        for row, label in zip(rows, self.y[index].tolist()):
            cost = point_cost(self.setup, forward_point(self.mlp, row)[-1], label)
            total = cost if total is None else total + cost
        assert total is not None
        mean = total if len(rows) == 1 else total / len(rows)
        extra = penalty(self.setup, self.mlp)
        return mean if extra is None else mean + extra

    def _next_batch(self) -> np.ndarray:
        if not self.order:
            self.order = self.order_rng.permutation(self.train_index).tolist()
        size = min(self.setup.batch, len(self.order))
        batch, self.order = self.order[:size], self.order[size:]
        return np.array(batch, np.int64)

    def train_step(self) -> float:
        """One mini-batch step of the scalar engine; returns the batch's cost before it."""
        with self.lock:
            if len(self.train_index) == 0:
                raise ValueError("no training points: add some points or lower the test share")
            batch = self._next_batch()
            params = self.optimizer.params
            before = [p.data for p in params]
            try:
                cost = self.batch_cost(batch)
                self.optimizer.zero_grad()
                cost.backward()
                self.optimizer.step()
                finite = math.isfinite(cost.data + sum(p.data for p in params))
            except (ValueError, OverflowError, ZeroDivisionError):
                finite = False
            if not finite:
                for p, value in zip(params, before):
                    p.data = value
                raise ValueError(f"training diverged (the cost or a weight is no longer a "
                                 f"finite number) at learning rate {self.setup.lr:g}: the "
                                 f"step was undone; lower the learning rate or Reset")
            self.steps += 1
            if not self.order:
                self.epoch += 1
                self._evaluate_into_curves()
            return cost.data

    # -- what the page shows -----------------------------------------------------------
    def evaluate(self) -> Dict[str, Optional[float]]:
        """Train and test: mean cost and accuracy (None for an empty part)."""
        out: Dict[str, Optional[float]] = {}
        with np.errstate(all="ignore"):
            last = layer_outputs(self.mlp, self.inputs(slice(None)))[-1] if len(self.X) else None
        for part, index in (("train", self.train_index), ("test", self.test_index)):
            if last is None or len(index) == 0:
                out[f"{part}_loss"] = out[f"{part}_acc"] = None
                continue
            with np.errstate(all="ignore"):
                loss = float(costs(self.setup, last[index], self.y[index]).mean())
            out[f"{part}_loss"] = loss if math.isfinite(loss) else None
            out[f"{part}_acc"] = float((predictions(last[index]) == self.y[index]).mean())
        return out

    def _evaluate_into_curves(self, replace_last: bool = False) -> None:
        numbers = self.evaluate()
        if replace_last and self.curves["epoch"]:
            for values in self.curves.values():
                values.pop()
        self.curves["epoch"].append(float(self.epoch))
        for key, value in numbers.items():
            self.curves[key].append(value)  # type: ignore[arg-type]
        if len(self.curves["epoch"]) > MAX_CURVE:
            for key in self.curves:
                self.curves[key] = self.curves[key][::2]

    def heat_maps(self) -> Dict[str, Any]:
        """The surface and every neuron's output over the plane, as the page draws them."""
        F = features(self.setup.feat, self.grid)
        with np.errstate(all="ignore"):  # huge weights: inf and NaN drawn at the scale's ends
            outs = [np.nan_to_num(out, posinf=1e300, neginf=-1e300)
                    for out in layer_outputs(self.mlp, F)]
            shares = np.nan_to_num(class_shares(self.setup, outs[-1]))
        inputs = []
        for k, name in enumerate(self.setup.feat):
            lo, hi = float(F[:, k].min()), float(F[:, k].max())
            inputs.append({"name": FEATURE_LABELS[name], "lo": lo, "hi": hi,
                           "map": _bytes(F[:, k], lo, hi)})
        layers = []
        for l, (layer, out) in enumerate(zip(self.mlp.layers, outs), start=1):
            lo, hi = _scale(out, layer.activation)
            layers.append({"activation": layer.activation, "lo": lo, "hi": hi,
                           "maps": [_bytes(out[:, j], lo, hi) for j in range(out.shape[1])]})
        return {"grid": GRID, "view": VIEW, "inputs": inputs, "layers": layers,
                "surface": [_bytes(shares[:, c], 0.0, 1.0) for c in range(shares.shape[1])]}

    def weights(self) -> List[Dict[str, Any]]:
        return [{"w": layer.weight_matrix().tolist(),
                 "b": [n.b.data for n in layer.neurons]} for layer in self.mlp.layers]

    def points(self) -> Dict[str, Any]:
        return {"x1": self.X[:, 0].tolist(), "x2": self.X[:, 1].tolist(),
                "c": self.y.tolist(), "test": self.test.tolist()}

    def frame(self) -> Dict[str, Any]:
        """Everything the page draws, at one moment."""
        with self.lock:
            return {"setup": format_setup(self.setup), "epoch": self.epoch,
                    "steps": self.steps, "classes": self.setup.num_classes,
                    "features": [FEATURE_LABELS[f] for f in self.setup.feat],
                    "sizes": [len(self.setup.feat), *self.setup.layers, self.setup.outputs],
                    "curves": self.curves, "maps": self.heat_maps(), "net": self.weights(),
                    "points": self.points()}
