"""The mathematics one click away: one point through the current weights, on the scalar engine.

- ``backward_pass(session, i)``: point ``i``'s cost ``C`` built as a graph and
  ``C.backward()``: every neuron's ``a``, ``z``, ``∂C/∂a`` and ``∂C/∂z``, every weight's
  and bias's ``∂C/∂w``, and each weight before and after one gradient step
  ``w - η ∂C/∂w`` for this point alone.
- ``neuron_detail(session, i, l, j)``: neuron ``j`` of layer ``l`` for point ``i``: its
  lecture formula with the numbers, the picture of its scalar graph (``viz.draw_graph``,
  data and grad in each box, as SVG from graphviz's ``dot``) and, beside the scalar
  engine's ``a``, the vectorized path's value the heat map was drawn from.
- ``nudge(session, i, l, j, k, value)``: set one weight (``k`` = -1: the bias) to
  ``value`` and measure ``C`` for the point and the training cost, beside the gradient's
  prediction ``∂C/∂w · Δw``; the weight is put back.
- ``point_stepper(session, i)``: the backprop stepper page of point ``i`` (``viz.steps``).

Layers are numbered as in the lectures: ``a[0]`` the inputs, ``a[L]`` the outputs; weight
``w[l][j,k]`` joins ``a[l-1][k]`` to neuron ``j`` of layer ``l``.
"""

from __future__ import annotations

import base64
import warnings
from typing import Any, Dict, List, Tuple

import numpy as np
from microgradnn.engine import Value
from viz.graph.grouping import op_kind

from .inputs import check_int, check_number
from .toy_model import forward_point, layer_outputs, point_cost
from .toy_session import ToySession

__all__ = ["backward_pass", "neuron_detail", "nudge", "point_stepper", "check_point_index"]


def check_point_index(session: ToySession, value: Any) -> int:
    if len(session.X) == 0:
        raise ValueError("there are no points: add some first")
    return check_int(value, "point", 0, len(session.X) - 1)


def _graph(session: ToySession, i: int) -> Tuple[List[Tuple[Value, ...]], Value]:
    """Point ``i`` through the network: every layer's outputs and its cost ``C``, after
    ``C.backward()`` (the model's gradients cleared first and after)."""
    outs = forward_point(session.mlp, session.inputs([i])[0].tolist())
    cost = point_cost(session.setup, outs[-1], int(session.y[i]))
    session.mlp.zero_grad()
    cost.backward()
    return outs, cost


def _z(a: Value) -> Value:
    """The weighted sum under a neuron's output (the output itself for a linear one)."""
    return a.operands[0] if op_kind(a.op) == "activation" else a


def backward_pass(session: ToySession, i: int) -> Dict[str, Any]:
    """See the module docstring; numbers per layer ``l = 1..L``."""
    with session.lock:
        outs, cost = _graph(session, i)
        lr = session.setup.lr
        layers = []
        for layer, values in zip(session.mlp.layers, outs[1:]):
            w = [[p.data for p in n.w] for n in layer.neurons]
            g = [[p.grad for p in n.w] for n in layer.neurons]
            layers.append({
                "a": [v.data for v in values], "z": [_z(v).data for v in values],
                "da": [v.grad for v in values], "dz": [_z(v).grad for v in values],
                "w": w, "dw": g, "w_after": [[x - lr * d for x, d in zip(wr, gr)]
                                             for wr, gr in zip(w, g)],
                "b": [n.b.data for n in layer.neurons], "db": [n.b.grad for n in layer.neurons],
                "b_after": [n.b.data - lr * n.b.grad for n in layer.neurons]})
        session.mlp.zero_grad()
        return {"point": i, "x": session.X[i].tolist(), "label": int(session.y[i]),
                "inputs": list(outs[0][k].data for k in range(len(outs[0]))),
                "cost": cost.data, "lr": lr, "layers": layers}


def _svg(node: Value, session: ToySession, title: str) -> str:
    from viz.graph.graph import draw_graph

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a big graph is drawn grouped: that is fine here
        svg = draw_graph(node, parameters=session.mlp, title=title).pipe(format="svg")
    return "data:image/svg+xml;base64," + base64.b64encode(svg).decode("ascii")


def neuron_detail(session: ToySession, i: int, l: Any, j: Any, picture: bool = True
                  ) -> Dict[str, Any]:
    """Neuron ``j`` of layer ``l`` (1..L) for point ``i`` (see the module docstring)."""
    with session.lock:
        depth = len(session.mlp.layers)
        l = check_int(l, "l", 1, depth)
        layer = session.mlp.layers[l - 1]
        j = check_int(j, "j", 0, layer.nout - 1)
        outs, cost = _graph(session, i)
        a, neuron = outs[l][j], layer.neurons[j]
        z = _z(a)
        lr = session.setup.lr
        terms = [{"name": f"w[{l}][{j},{k}]", "w": w.data, "dw": w.grad,
                  "w_after": w.data - lr * w.grad, "input": f"a[{l - 1}][{k}]", "a": x.data,
                  "product": w.data * x.data}
                 for k, (w, x) in enumerate(zip(neuron.w, outs[l - 1]))]
        vector = layer_outputs(session.mlp, session.inputs([i]))[l - 1][0, j]
        out = {"point": i, "l": l, "j": j, "activation": layer.activation, "terms": terms,
               "b": neuron.b.data, "db": neuron.b.grad,
               "b_after": neuron.b.data - lr * neuron.b.grad, "lr": lr, "z": z.data, "a": a.data,
               "dz": z.grad, "da": a.grad, "cost": cost.data, "a_vectorized": float(vector),
               "label": int(session.y[i]), "x": session.X[i].tolist()}
        if picture:
            out["svg"] = _svg(a, session, f"a[{l}][{j}] for point {i}; grad = ∂C/∂(box)")
        session.mlp.zero_grad()
        return out


def _parameter(session: ToySession, l: Any, j: Any, k: Any) -> Value:
    depth = len(session.mlp.layers)
    l = check_int(l, "l", 1, depth)
    layer = session.mlp.layers[l - 1]
    j = check_int(j, "j", 0, layer.nout - 1)
    k = check_int(k, "k", -1, layer.nin - 1)
    neuron = layer.neurons[j]
    return neuron.b if k == -1 else neuron.w[k]


def nudge(session: ToySession, i: int, l: Any, j: Any, k: Any, value: Any,
          keep: Any = False) -> Dict[str, Any]:
    """``C`` of point ``i`` and the training cost with one weight set to ``value``, beside
    the first-order prediction. The weight springs back to its old value afterwards, unless
    ``keep``: then it stays at ``value`` (the learner's hand-made step; "reset" or training
    moves it on from there)."""
    value = check_number(value, "value", -100.0, 100.0)
    if not isinstance(keep, bool):
        raise ValueError(f"keep must be true or false, got {keep!r}")
    with session.lock:
        param = _parameter(session, l, j, k)
        train = session.train_index
        before_point = _graph(session, i)[1].data
        g_point = param.grad
        session.mlp.zero_grad()
        before_train = g_train = None
        if len(train):
            cost = session.batch_cost(train)
            cost.backward()
            before_train, g_train = cost.data, param.grad
            session.mlp.zero_grad()
        old = param.data
        try:
            param.data = value
            after_point = _graph(session, i)[1].data
            after_train = session.batch_cost(train).data if len(train) else None
        finally:
            param.data = old
            session.mlp.zero_grad()
        if keep:  # only once the measurement went through: a failed request changes nothing
            param.data = value
        delta = value - old
        return {"old": old, "value": value, "delta": delta, "kept": keep,
                "point": {"before": before_point, "after": after_point, "grad": g_point,
                          "change": after_point - before_point, "predicted": g_point * delta},
                "train": None if before_train is None else {
                    "before": before_train, "after": after_train, "grad": g_train,
                    "change": after_train - before_train, "predicted": g_train * delta}}


def point_stepper(session: ToySession, i: int) -> str:
    """The stepper page (HTML) of point ``i``'s cost through the current weights."""
    from viz.steps.page import stepper_html

    with session.lock:
        outs, cost = _graph(session, i)
        session.mlp.zero_grad()
        x1, x2 = (float(v) for v in np.round(session.X[i], 3))
        title = f"Backpropagation of point {i} ({x1:g}, {x2:g}), class {int(session.y[i])}"
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return stepper_html(cost, title=title, parameters=session.mlp)
