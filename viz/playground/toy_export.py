"""Leaving the 2-D playground with the network: a checkpoint and the Python that rebuilds it.

``save_checkpoint(session, path)`` writes the scalar MLP's weights through the bridge
(``tensor.bridge.sequential_from_mlp``) with ``microgradnn.save``: ``microgradnn.load``
and the command line read it back as a ``Sequential`` (``spec`` model "mlp", inputs = the
features chosen). The ``extra`` metadata says what the spec cannot: the input features,
the output's squashing (a sigmoid, or a softmax inside the cross-entropy) and the setup.

``python_code(session)`` is the few lines of Python that rebuild the same data, features and
network and train it with the same optimizer, on the scalar engine.
"""

from __future__ import annotations

import os
from typing import Any, Dict

from microgradnn.checkpoint import save
from microgradnn.tensor.bridge import sequential_from_mlp

from .toy_model import output_activation
from .toy_session import ToySession
from .toy_setup import format_setup

__all__ = ["save_checkpoint", "python_code", "checkpoint_spec"]

_FEATURE_CODE = {"x1": "x1", "x2": "x2", "x1sq": "x1 * x1", "x2sq": "x2 * x2",
                 "x1x2": "x1 * x2", "sinx1": "math.sin(x1)", "sinx2": "math.sin(x2)"}


def checkpoint_spec(session: ToySession) -> Dict[str, Any]:
    s = session.setup
    return {"model": "mlp", "inputs": len(s.feat), "hidden": list(s.layers),
            "classes": s.outputs, "activation": s.act}


def save_checkpoint(session: ToySession, path: "os.PathLike[str] | str") -> str:
    """Write the current network to ``path`` (.npz, atomically); return the path."""
    with session.lock:
        s = session.setup
        seq = sequential_from_mlp(session.mlp)
        extra = {"source": "microgradnn serve (2-D playground)", "features": list(s.feat),
                 "output": output_activation(s), "cost": s.cost, "epoch": session.epoch,
                 "setup": format_setup(s)}
        return str(save(seq, path, checkpoint_spec(session), extra=extra))


def _data_lines(session: ToySession) -> str:
    s = session.setup
    split = (f"test = np.mod((np.arange(len(X)) + 1) * 0.6180339887498949, 1.0) < "
             f"{s.test!r}")
    if s.data == "none" or s.drop or s.add:
        rows = ",\n    ".join(f"({x!r}, {v!r}, {c}, {t})" for (x, v), c, t in
                              zip(session.X.tolist(), session.y.tolist(),
                                  session.test.tolist()))
        return (f"points = [  # x1, x2, class, test point?\n    {rows},\n]\n"
                f"X = np.array([p[:2] for p in points])\ny = np.array([p[2] for p in points])\n"
                f"test = [p[3] for p in points]")
    if s.data == "spiral":
        return (f"X, y = make_spiral({s.n}, classes={s.classes}, noise={s.noise!r}, "
                f"seed={s.seed})\n{split}")
    return f"X, y = make_{s.data}({s.n}, noise={s.noise!r}, seed={s.seed})\n{split}"


def _cost_lines(session: ToySession) -> str:
    s = session.setup
    if s.cost == "ce" and s.outputs > 1:
        cost = "cross_entropy(out, label)"
    elif s.cost == "ce":
        cost = "binary_cross_entropy([out], [float(label)])"
    elif s.outputs == 1:
        cost = "(out - float(label)) ** 2"
    else:
        cost = (f"sum(((a - (1.0 if j == label else 0.0)) ** 2 for j, a in enumerate(out)), "
                f"Value(0.0))")
    reg = ""
    if s.reg != "none" and s.rate:
        term = "w * w" if s.reg == "l2" else "w.relu() + (-w).relu()"
        reg = (f"\n    cost = cost + {s.rate!r} * sum(({term} for layer in model.layers "
               f"for n in layer.neurons for w in n.w), Value(0.0))")
    return f"{cost}{reg}"


def python_code(session: ToySession) -> str:
    """The Python that rebuilds and trains this network (see the module docstring)."""
    with session.lock:
        s = session.setup
        feats = ", ".join(_FEATURE_CODE[f] for f in s.feat)
        optimizer = {"adam": f"Adam(model.parameters(), lr={s.lr!r})",
                     "momentum": f"SGD(model.parameters(), lr={s.lr!r}, momentum=0.9)",
                     "sgd": f"SGD(model.parameters(), lr={s.lr!r})"}[s.opt]
        uses_maker = not (s.data == "none" or s.drop or s.add)
        maker = f"from microgradnn.datasets import make_{s.data}\n" if uses_maker else ""
        return f"""# The 2-D playground's network, rebuilt and trained on the scalar engine.
# setup: {format_setup(s)[:200]}
import math
import random

import numpy as np
{maker}from microgradnn.engine import Value
from microgradnn.losses import binary_cross_entropy, cross_entropy
from microgradnn.nn import MLP
from microgradnn.optim import SGD, Adam

{_data_lines(session)}


def features(x1, x2):
    return [{feats}]


model = MLP({len(s.feat)}, {[*s.layers, s.outputs]}, activation={s.act!r},
            output_activation={output_activation(s)!r}, seed={s.wseed})
optimizer = {optimizer}
train = [i for i in range(len(X)) if not test[i]]


def point_cost(i):
    out = model(features(*X[i].tolist()))
    label = int(y[i])
    cost = {_cost_lines(session)}
    return cost


EPOCHS = 100
for epoch in range(EPOCHS):
    random.shuffle(train)
    for start in range(0, len(train), {s.batch}):
        batch = train[start:start + {s.batch}]
        loss = sum((point_cost(i) for i in batch), Value(0.0)) / len(batch)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    print(f"epoch {{epoch + 1}}: cost {{loss.data:.4f}}")
"""
