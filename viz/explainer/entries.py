"""The page's entries, one per recorded module call: its output, gradient and parameters.

An entry is a dict the page reads (``viz.explainer.data`` describes the whole schema)::

    {"name", "type", "symbol", "shape", "activations", "grad", "batch_grad"?,
     "local_grad"? (activations: σ'(z) as the op passes it back),
     "weight", "weight_grad", "bias", "bias_grad", "batch_weight_grad", ... (parameters),
     ... the layer's settings (kernel_size, stride, eps, running_mean, size, alpha, ...)}

A residual or inception block's entry holds its inner calls as ``parts`` (each an entry
with a ``role``: "F" or "shortcut" for a residual block, "branch1".."branch4" for an
inception block); a residual block adds ``sum`` (``F(a[l-1]) + shortcut`` before its
ReLU) and ``path_grads`` (what each path sends back to ``a[l-1]``), an inception block
its ``branches`` and the channel range each adds.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Sequence

import numpy as np

from microgradnn.module import Module
from microgradnn.tensor import (AdaptiveAvgPool2d, AvgPool2d, BasicBlock, BatchNorm2d, Conv2d,
                                Dropout, Flatten, Inception, Linear, LocalResponseNorm,
                                MaxPool2d, ReLU, Sequential, Sigmoid, Tanh, Tensor)

from .record import Call, Recording, path_grad
from .symbols import BRANCH_TAGS, branch_symbols, residual_symbols

__all__ = ["call_entry", "block_entry", "local_grad", "ACTIVATIONS", "BLOCKS"]

ACTIVATIONS = (ReLU, Sigmoid, Tanh)
BLOCKS = (BasicBlock, Inception)


def _layer_info(layer: Module) -> Dict[str, Any]:
    kind = type(layer)
    if kind is Linear:
        return {"in_features": layer.in_features, "out_features": layer.out_features}
    if kind is Conv2d:
        return {"in_channels": layer.in_channels, "out_channels": layer.out_channels,
                "kernel_size": list(layer.kernel_size), "stride": list(layer.stride),
                "padding": list(layer.padding)}
    if kind in (MaxPool2d, AvgPool2d):
        return {"kernel_size": list(layer.kernel_size), "stride": list(layer.stride),
                "padding": list(layer.padding)}
    if kind is BatchNorm2d:
        return {"eps": layer.eps, "running_mean": np.array(layer.running_mean),
                "running_var": np.array(layer.running_var)}
    if kind is LocalResponseNorm:
        return {"size": layer.size, "alpha": layer.alpha, "beta": layer.beta, "k": layer.k}
    if kind is AdaptiveAvgPool2d:
        return {"output_size": list(layer.output_size)}
    if kind is Dropout:
        return {"p": layer.p}
    if kind is Flatten:
        return {"start_dim": layer.start_dim}
    return {}


def local_grad(module: Module, z: np.ndarray) -> np.ndarray:
    """d(activation)/dz elementwise, as the module's op passes it back (upstream of ones)."""
    leaf = Tensor(z.copy(), requires_grad=True)
    module(leaf).backward(np.ones_like(z))
    return leaf.grad


def call_entry(call: Call, run: Recording, batch_call: Optional[Call],
               batch_run: Optional[Recording], with_linear_weights: bool) -> Dict[str, Any]:
    """The entry of one plain layer's call (the first image of the batch ``run``)."""
    module, out = call.module, call.output
    entry: Dict[str, Any] = {"name": call.name, "type": type(module).__name__,
                             "shape": list(out.data.shape[1:]), "activations": out.data[0],
                             "grad": run.grad_of(out)[0], **_layer_info(module)}
    if isinstance(module, ACTIVATIONS):
        entry["local_grad"] = local_grad(module, call.inputs[0].data[:1])[0]
    # The page draws every weight of an MLP and the kernels of a CNN; a CNN's fully
    # connected weights (hundreds of thousands) stay out of the file.
    if with_linear_weights or type(module) is not Linear:
        for name, p in module.named_parameters(recurse=False):
            entry[name] = p.data
            entry[name + "_grad"] = run.param_grads[id(p)]
            if batch_run is not None:
                entry["batch_" + name + "_grad"] = batch_run.param_grads[id(p)]
    if batch_call is not None and batch_run is not None:
        entry["batch_grad"] = batch_run.grad_of(batch_call.output).sum(axis=0)
    return entry


def _inner(calls: Sequence[Call], prefix: str) -> List[int]:
    """Positions of the calls inside the block named ``prefix`` (containers left out)."""
    return [i for i, c in enumerate(calls) if c.name.startswith(prefix + ".")
            and not isinstance(c.module, Sequential)]


def block_entry(position: int, l: int, run: Recording, batch_run: Optional[Recording]
                ) -> Dict[str, Any]:
    """The entry of the block whose call is ``run.calls[position]``, with its parts."""
    call = run.calls[position]
    batch_call = batch_run.calls[position] if batch_run is not None else None
    entry = call_entry(call, run, batch_call, batch_run, False)
    inner = [i for i in _inner(run.calls, call.name) if i < position]
    parts = [call_entry(run.calls[i], run,
                        batch_run.calls[i] if batch_run is not None else None, batch_run, False)
             for i in inner]
    for part in parts:
        part["name"] = part["name"][len(call.name) + 1:]
    if isinstance(call.module, BasicBlock):
        _residual(entry, parts, call.module, [run.calls[i] for i in inner], l, run,
                  [batch_run.calls[i] for i in inner] if batch_run is not None else None,
                  batch_run)
    else:
        _inception(entry, parts, l, call.module)
    entry["parts"] = parts
    return entry


def _residual(entry: Dict[str, Any], parts: List[Dict[str, Any]], block: BasicBlock,
              calls: List[Call], l: int, run: Recording, batch_calls: Optional[List[Call]],
              batch_run: Optional[Recording]) -> None:
    """The F path, the shortcut, the sum before the last ReLU and each path's gradient.

    The block's input gradient is the sum of what its two paths send back; the shortcut's
    part is the gradient at ``+`` itself (identity) or what the projection, run again,
    sends back for it; F's part is the rest.
    """
    last = len(calls) - 1  # the block's ReLU on F(a[l-1]) + shortcut: the block's output
    sum_tensor = calls[last].inputs[0]
    entry["local_grad"] = local_grad(block.relu, sum_tensor.data[:1])[0]
    entry["sum"] = {"activations": sum_tensor.data[0], "grad": run.grad_of(sum_tensor)[0]}
    x = calls[0].inputs[0]
    g_sum = run.grad_of(sum_tensor)[:1]
    shortcut = g_sum[0] if block.downsample is None else \
        path_grad(block.downsample, Tensor(x.data[:1]), g_sum)[0]
    # the total is the gradient of the block's input, the entry before it on the page;
    # an identity shortcut passes the gradient at + unchanged (``sum``'s)
    entry["path_grads"] = {"F": run.grad_of(x)[0] - shortcut}
    if block.downsample is not None:
        entry["path_grads"]["shortcut"] = shortcut
    if batch_run is not None and batch_calls is not None:
        b_sum = batch_calls[last].inputs[0]
        entry["sum"]["batch_grad"] = batch_run.grad_of(b_sum).sum(axis=0)
    entry["shortcut"] = "identity" if block.downsample is None else "projection"
    del parts[last]
    names = [p["name"] for p in parts]
    for part, symbol in zip(parts, residual_symbols(l, names)):
        part["symbol"] = symbol
        part["role"] = "shortcut" if part["name"].startswith("downsample") else "F"


def _inception(entry: Dict[str, Any], parts: List[Dict[str, Any]], l: int,
               block: Inception) -> None:
    """Each branch's parts named, and the channels of the join each branch fills."""
    start = 0
    branches = []
    for b in range(len(block.branches())):
        role = f"branch{b + 1}"
        mine = [p for p in parts if p["name"].startswith(role + ".")]
        kinds = [p["type"] for p in mine]
        kernels = [p.get("kernel_size", [0])[0] for p in mine]
        for part, symbol in zip(mine, branch_symbols(l, b, kinds, kernels)):
            part["symbol"], part["role"] = symbol, role
        width = mine[-1]["shape"][0]
        branches.append({"name": role, "tag": BRANCH_TAGS[b], "channels": [start, start + width],
                         "symbol": f"a_{BRANCH_TAGS[b]}"})
        start += width
    entry["branches"] = branches
