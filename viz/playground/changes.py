"""Changing the weights by hand: one step of gradient descent, a nudge of one weight.

``step`` applies ``w ← w - η ∂C/∂w`` (``microgradnn.optim.SGD``, gradients from the model's
own ``backward()``) for this example's cost or the mini-batch's mean cost and reports ``C``
before and after for both and the weights that moved most; ``nudge`` sets one weight or bias
and reports ``C`` beside the gradient's prediction ``∂C/∂w · Δw`` made where the nudging of
that parameter began. Both push the weights before them on the session's undo stack.
"""

from __future__ import annotations

from typing import Any, Dict, List, Sequence, Tuple

import numpy as np

from microgradnn.training import input_tensor, loss_function

from .inputs import check_int, check_number
from .session import MOVED, Session

__all__ = ["step", "nudge", "moved", "symbol"]


def step(session: Session, lr: Any, on: Any) -> Dict[str, Any]:
    """One step of gradient descent, ``w ← w - η ∂C/∂w``, on this example's cost or on
    the mini-batch's mean cost; returns C before and after and the weights that moved
    most."""
    from microgradnn.optim import SGD

    lr = check_number(lr, "lr", 1e-6, 100.0)
    if on not in ("example", "batch"):
        raise ValueError(f"on must be 'example' or 'batch', got {str(on)[:40]!r}")
    with session.lock:
        if on == "batch" and session.batch is None:
            raise ValueError("no mini-batch: the MNIST training set is not available")
        before = session.costs()
        label = session.explain()["label"]
        images, labels = (session.pixels[None], np.array([label])) if on == "example" \
            else session.batch
        old = session.model.state_dict()
        session.push_undo(f"a step on {'this example' if on == 'example' else 'the batch'}")
        optimizer = SGD(list(session.model.parameters()), lr=lr)
        optimizer.zero_grad()
        logits = session.model(input_tensor(images, session.shape, session.mode))
        loss_function(session.loss)(logits, labels).backward()
        optimizer.step()
        optimizer.zero_grad()
        session.weights_changed()
        after = session.costs()
        return {"lr": lr, "on": on, "before": before, "after": after,
                "moved": moved(session, old, session.model.state_dict())}


def moved(session: Session, old: Dict[str, np.ndarray],
          new: Dict[str, np.ndarray]) -> List[Dict[str, Any]]:
    """The ``MOVED`` parameters whose values changed most, named as the lectures do."""
    found: List[Tuple[float, str, Tuple[int, ...], float, float]] = []
    for name, after in new.items():
        before = old[name]
        if before.dtype.kind != "f":
            continue
        delta = np.abs(after.astype(np.float64) - before).ravel()
        for flat in np.argsort(delta)[-MOVED:]:
            index = np.unravel_index(int(flat), after.shape)
            found.append((float(delta[flat]), name, tuple(int(i) for i in index),
                          float(before[index]), float(after[index])))
    found.sort(key=lambda item: -item[0])
    return [{"symbol": symbol(session, name, index), "name": name, "index": list(index),
             "l": _layer_number(session, name), "before": b, "after": a, "delta": a - b}
            for _, name, index, b, a in found[:MOVED] if a != b]


def _layer_number(session: Session, name: str) -> Any:
    """l of a top-level weight layer's parameter (what ``nudge`` takes), else None."""
    module, _, kind = name.partition(".")
    if module.isdigit() and int(module) in session.weight_layers and kind in ("weight", "bias"):
        return session.weight_layers.index(int(module)) + 1
    return None


def symbol(session: Session, name: str, index: Sequence[int]) -> str:
    """``w[l][j,k]``, ``b[l][j]``, ``K[l][c,c'](r,q)`` for a parameter name and index."""
    l = _layer_number(session, name)
    if not session.nested and l is not None:
        if name.endswith(".bias"):
            return f"b[{l}][{index[0]}]"
        if len(index) == 4:
            return f"K[{l}][{index[0]},{index[1]}]({index[2]},{index[3]})"
        return f"w[{l}][{index[0]},{index[1]}]"
    return f"{name}[{','.join(map(str, index))}]"


def nudge(session: Session, l: Any, kind: Any, index: Any, value: Any) -> Dict[str, Any]:
    """Set one weight or bias to ``value``; C now beside the gradient's prediction
    ``∂C/∂w · Δw`` made where the nudging of this parameter began."""
    value = check_number(value, "value", -1e4, 1e4)
    with session.lock:
        module = session.layer_module(l)
        layer = session.layers[module]
        if kind not in ("weight", "bias") or getattr(layer, kind) is None:
            raise ValueError(f"kind must be 'weight' or 'bias' of layer {l}, got "
                             f"{str(kind)[:40]!r}")
        param = getattr(layer, kind)
        if not isinstance(index, list) or len(index) != param.data.ndim:
            raise ValueError(f"index must list {param.data.ndim} numbers for "
                             f"{kind} of shape {list(param.data.shape)}")
        where = tuple(check_int(i, "index", 0, n - 1)
                      for i, n in zip(index, param.data.shape))
        key = (module, kind, where)
        base = session.nudge_base
        if base is None or base["key"] != key or base["version"] != session.version:
            base = _nudge_base(session, key, param, where)
        param.data[where] = value
        session.weights_changed()
        cost = session.costs()["example"]
        base["version"] = session.version
        dw = float(param.data[where]) - base["w0"]
        return {"symbol": symbol(session, f"{module}.{kind}", where), "w0": base["w0"],
                "w": float(param.data[where]), "dw": dw, "C0": base["C0"], "C": cost,
                "dC": cost - base["C0"], "grad": base["g0"], "predicted": base["g0"] * dw}


def _nudge_base(session: Session, key: Tuple[Any, ...], param: Any, where: Tuple[int, ...]
                ) -> Dict[str, Any]:
    module, kind, _ = key
    grad = _gradient(session, session.layers[module], kind)[where]
    session.push_undo(f"the nudge of {symbol(session, f'{module}.{kind}', where)}")
    session.nudge_base = {"key": key, "version": session.version, "w0": float(param.data[where]),
                   "C0": session.costs()["example"], "g0": float(grad)}
    return session.nudge_base


def _gradient(session: Session, layer: Any, kind: str) -> np.ndarray:
    """∂C/∂(weight or bias) of this example, float64, from the explain data."""
    entry = session.entry(session.layers.index(layer))
    key = "weight_grad" if kind == "weight" else "bias_grad"
    if key not in entry:
        raise ValueError("this layer's gradients are not part of the explain data")
    return np.asarray(entry[key])
