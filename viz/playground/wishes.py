"""The lecture's nudges, read from the explain page's numbers (``Session.explain``).

- on the output layer, the change this example wants of each neuron, ``-∂C/∂a[L][j]`` (with
  cross-entropy, of the weighted sums: ``-∂C/∂z[L][j] = y[j] - softmax(z[L])[j]``);
- of a hidden neuron ``a[l][k]``, the sum over the next layer ``Σ_j w[l+1][j,k] δ[l+1][j]``,
  term by term (``neuron_wish``);
- of a weight, ``-∂C/∂w[l][j,k] = -a[l-1][k] δ[l][j]`` (``weight_wish``);

each beside its mean over the mini-batch ("what all the examples want"). Nothing is
differentiated here: every gradient is the explain data's (one ``backward()`` of the model);
a term's product and the sum are written out for the page in float64.
"""

from __future__ import annotations

from typing import Any, Dict, List

import numpy as np

from microgradnn.tensor import Conv2d, Linear

from .inputs import check_int
from .session import Session

__all__ = ["summary", "neuron_wish", "weight_wish", "parameter_table"]


def summary(session: Session) -> Dict[str, Any]:
    """What the page's own panels draw (the explain page gets ``explain()`` whole)."""
    with session.lock:
        data = session.explain()
        out_entry = data["layers"][-1]
        last_linear = session.entry(session.weight_layers[-1])
        mse = session.loss == "mse"
        wish_from = out_entry if mse else last_linear
        batch = data.get("batch")
        out = {
            "version": session.version, "model": data["model"], "kind": data["kind"],
            "loss_fn": session.loss, "image_name": session.image_name,
            "test_index": session.test_index, "label": data["label"],
            "label_given": data["label_given"], "prediction": data["prediction"],
            "pixels": data["pixels"], "outputs": out_entry["activations"],
            "output_symbol": "a[L][j]" if mse else "softmax(z[L])[j]",
            "cost": data["loss"], "wish": -np.asarray(wish_from["grad"]),
            "wish_symbol": "-∂C/∂a[L][j]" if mse else "-∂C/∂z[L][j]",
            "batch": None if batch is None else {
                "size": batch["size"], "loss": batch["loss"],
                "accuracy": batch["accuracy"]},
            "batch_wish": None if batch is None else -np.asarray(wish_from["batch_grad"]),
            "L": len(session.weight_layers), "hidden": _hidden(session, data),
            "params": parameter_table(session), "undo": len(session._undo),
        }
        return out


def _hidden(session: Session, data: Dict[str, Any]) -> List[Dict[str, Any]]:
    """Each hidden layer of an MLP: its activations a[l] and this example's wish."""
    if data["kind"] != "mlp":
        return []
    out = []
    for l, index in enumerate(session.weight_layers[:-1], start=1):
        act = session.entry(index + 1)
        out.append({"l": l, "n": len(act["activations"]), "a": act["activations"],
                    "wish": -np.asarray(act["grad"]),
                    "batch_wish": None if "batch_grad" not in act
                    else -np.asarray(act["batch_grad"])})
    return out


def parameter_table(session: Session) -> List[Dict[str, Any]]:
    """The weight layers: l, module, shapes, symbol, and whether a nudge can reach them
    (``explained``: their gradients are in the explain data; a CNN's fully connected layers'
    are not)."""
    table = []
    for l, index in enumerate(session.weight_layers, start=1):
        layer = session.layers[index]
        conv = type(layer) is Conv2d
        table.append({"l": l, "module": index, "type": type(layer).__name__,
                      "weight": list(layer.weight.data.shape),
                      "bias": None if layer.bias is None else list(layer.bias.data.shape),
                      "symbol": "K" if conv else "w",
                      "explained": "weight_grad" in session.entry(index)})
    return table


def neuron_wish(session: Session, l: Any, k: Any) -> Dict[str, Any]:
    """What this example (and the batch) wants of hidden neuron a[l][k], term by term:
    ``∂C/∂a[l][k] = Σ_j w[l+1][j,k] δ[l+1][j]``, the wish is its negative."""
    with session.lock:
        if session.explain()["kind"] != "mlp":
            raise ValueError("a hidden neuron's wish is written out for MLPs only")
        l = check_int(l, "layer l", 1, len(session.weight_layers) - 1)
        _, _, nxt = session.weight_layer(l + 1)
        weights = np.asarray(nxt["weight"])
        k = check_int(k, "neuron k", 0, weights.shape[1] - 1)
        column = weights[:, k]
        delta = np.asarray(nxt["grad"])
        act = session.entry(session.weight_layers[l - 1] + 1)
        out = {"l": l, "k": k, "a": float(act["activations"][k]),
               "terms": [{"j": j, "w": float(column[j]), "delta": float(delta[j]),
                          "product": float(column[j] * delta[j])}
                         for j in range(column.size)],
               "sum": float(column @ delta), "wish": -float(column @ delta),
               "grad": float(act["grad"][k])}
        if "batch_grad" in nxt:
            mean_delta = np.asarray(nxt["batch_grad"])
            out["batch_terms"] = [float(v) for v in column * mean_delta]
            out["batch_sum"] = float(column @ mean_delta)
            out["batch_wish"] = -out["batch_sum"]
        return out


def weight_wish(session: Session, l: Any, j: Any, k: Any) -> Dict[str, Any]:
    """``-∂C/∂w[l][j,k] = -a[l-1][k] δ[l][j]`` for this example and the batch's mean."""
    with session.lock:
        index, layer, entry = session.weight_layer(l)
        if type(layer) is not Linear:
            raise ValueError("a weight's wish is written out for fully connected layers")
        weights = np.asarray(entry["weight"])
        j = check_int(j, "neuron j", 0, weights.shape[0] - 1)
        k = check_int(k, "input k", 0, weights.shape[1] - 1)
        data = session.explain()
        before = data["layers"][[e["name"] for e in data["layers"]].index(str(index)) - 1]
        out = {"l": int(l), "j": j, "k": k, "w": float(weights[j, k]),
               "a_prev": float(np.ravel(before["activations"])[k]),
               "delta": float(entry["grad"][j]),
               "grad": float(entry["weight_grad"][j, k]),
               "wish": -float(entry["weight_grad"][j, k])}
        if "batch_weight_grad" in entry:
            out["batch_wish"] = -float(entry["batch_weight_grad"][j, k])
        return out
