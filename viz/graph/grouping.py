"""Which neuron and which layer each node of a trace belongs to.

Groups are read from the parameter labels ``microgradnn.nn`` gives
(``layers.0.neurons.3.w.17``, ``layers.0.neurons.3.b``). A node joins neuron N when
it is part of N's own computation:

* a parameter leaf of N;
* ``Σwx+b`` over N's weights;
* ``w * x`` with exactly one operand a parameter of N (``p * p``, the L2 penalty, is not);
* ``+`` whose operands are both open nodes of N (the unfused ``w*x + z`` chain);
* an activation (``tanh``, ``relu``, ``sigmoid``) of an open node of N, which closes it.

Everything else (inputs, losses, penalties) stays ungrouped. Works the same for
a graph that calls the network on many samples: all calls of neuron N share N's group.
"""

from __future__ import annotations

import re
from typing import Dict, List, Optional

from .trace import Trace

__all__ = ["neuron_groups", "layer_key", "natural_key", "groups", "GROUP_LEVELS"]

GROUP_LEVELS = ("neuron", "layer")

_PARAMETER = re.compile(r"^(?P<neuron>(?:.*\.)?neurons\.\d+)\.(?:w\.\d+|b)$")
_LAYER_SUFFIX = re.compile(r"\.?neurons\.\d+$")
_ACTIVATIONS = frozenset({"tanh", "relu", "sigmoid"})


def _parameter_neuron(label: str) -> Optional[str]:
    match = _PARAMETER.match(label or "")
    return match.group("neuron") if match else None


def natural_key(text: str) -> List:
    """Sort key that puts ``neurons.10`` after ``neurons.9``."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", text)]


def layer_key(neuron: str) -> str:
    """``layers.0.neurons.3`` -> ``layers.0``; a bare ``Layer``'s ``neurons.3`` -> ``layer``."""
    return _LAYER_SUFFIX.sub("", neuron) or "layer"


def neuron_groups(t: Trace) -> Dict[str, str]:
    """Map node id -> neuron key (e.g. ``layers.0.neurons.3``) for the grouped nodes of ``t``."""
    group: Dict[str, str] = {}
    is_param: Dict[str, bool] = {}
    closed = set()  # activation outputs: a neuron's finished result
    for node in t.nodes:
        if node.is_leaf:
            neuron = _parameter_neuron(node.label)
            if neuron is not None:
                group[node.id] = neuron
                is_param[node.id] = True
            continue
        operands = node.operand_ids
        keys = [group.get(o) for o in operands]
        neuron = None
        if node.op == "Σwx+b":
            params = {k for o, k in zip(operands, keys) if is_param.get(o)}
            if len(params) == 1:
                neuron = params.pop()
        elif node.op == "*" and len(operands) == 2:
            a, b = operands
            if is_param.get(a, False) != is_param.get(b, False):
                neuron = group[a] if is_param.get(a) else group[b]
        elif node.op == "+" and len(operands) == 2:
            if keys[0] is not None and keys[0] == keys[1] and not (set(operands) & closed):
                neuron = keys[0]
        elif node.op in _ACTIVATIONS:
            operand = operands[0]
            if keys[0] is not None and operand not in closed and not is_param.get(operand):
                neuron = keys[0]
                closed.add(node.id)
        if neuron is not None:
            group[node.id] = neuron
    return group


def groups(t: Trace, level: str) -> Dict[str, str]:
    """Map node id -> group key at ``level`` (``"neuron"`` or ``"layer"``)."""
    if level not in GROUP_LEVELS:
        raise ValueError(f"group must be one of {', '.join(GROUP_LEVELS)} or None, got {level!r}")
    by_neuron = neuron_groups(t)
    if level == "neuron":
        return by_neuron
    return {node_id: layer_key(neuron) for node_id, neuron in by_neuron.items()}
