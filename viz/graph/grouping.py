"""Which neuron and which layer each node of a trace belongs to.

Groups come from the model's module tree (``Trace.modules``, read from the
``Module`` given to ``trace``), never from labels. The module holding a parameter
is its neuron; that module's parent is the layer. A node joins neuron N when it is
part of N's own computation:

* a parameter leaf of N;
* a weighted sum (``weighted_sum``'s node) over N's weights;
* ``w * x`` with exactly one operand a parameter of N (``p * p``, the L2 penalty, is not);
* ``+`` whose operands are both open nodes of N (the unfused ``w*x + z`` chain);
* an activation (``microgradnn.activations``) of an open node of N, which closes it.

Ops are recognised by their entry in the engine's op table (``op_kind``), never by the
text of their op string.

Everything else (inputs, losses, penalties) stays ungrouped. Works the same for
a graph that calls the network on many samples: all calls of neuron N share N's group.
Without a model nothing is grouped.
"""

from __future__ import annotations

from typing import Dict

from microgradnn.activations import ACTIVATIONS
from microgradnn.engine import op_info

from .trace import Trace

__all__ = ["neuron_groups", "layer_of", "group_order", "groups", "op_kind", "GROUP_LEVELS"]

GROUP_LEVELS = ("neuron", "layer")


def op_kind(op: str) -> str:
    """What a node's op is, by the engine's op table (``engine.OPS``): "add", "mul",
    "weighted_sum", "activation" (an entry of ``microgradnn.activations``), another
    op's name ("exp", "pow"...), or "" for a leaf or an op the table does not hold."""
    info = op_info(op) if op else None
    if info is None:
        return ""
    return "activation" if info.key in ACTIVATIONS else info.name


def neuron_groups(t: Trace) -> Dict[str, str]:
    """Map node id -> neuron (the path of the module holding its parameters, e.g.
    ``layers.0.neurons.3``; the model's class name for the model itself)."""
    if t.modules is None:
        return {}
    display = t.modules.display
    group: Dict[str, str] = {}
    is_param: Dict[str, bool] = {}
    closed = set()  # activation outputs: a neuron's finished result
    for node in t.nodes:
        if node.is_leaf:
            if node.id in t.owner:
                group[node.id] = display(t.owner[node.id])
                is_param[node.id] = True
            continue
        operands = node.operand_ids
        keys = [group.get(o) for o in operands]
        neuron = None
        kind = op_kind(node.op)
        if kind == "weighted_sum":
            params = {k for o, k in zip(operands, keys) if is_param.get(o)}
            if len(params) == 1:
                neuron = params.pop()
        elif kind == "mul" and len(operands) == 2:
            a, b = operands
            if is_param.get(a, False) != is_param.get(b, False):
                neuron = group[a] if is_param.get(a) else group[b]
        elif kind == "add" and len(operands) == 2:
            if keys[0] is not None and keys[0] == keys[1] and not (set(operands) & closed):
                neuron = keys[0]
        elif kind == "activation":
            operand = operands[0]
            if keys[0] is not None and operand not in closed and not is_param.get(operand):
                neuron = keys[0]
                closed.add(node.id)
        if neuron is not None:
            group[node.id] = neuron
    return group


def _path(t: Trace, key: str) -> str:
    """The module path a group key names (the root's key is its class name)."""
    return "" if key == t.modules.root_name and key not in t.modules.order else key


def layer_of(t: Trace, neuron: str) -> str:
    """The layer of ``neuron``: its parent module (``layers.0.neurons.3`` -> ``layers.0``);
    a neuron with no parent (the model is a single neuron) is its own layer."""
    path = _path(t, neuron)
    parent = t.modules.parent_of(path) if t.modules is not None else None
    return neuron if parent is None else t.modules.display(parent)


def group_order(t: Trace, key: str) -> int:
    """Where the module named ``key`` comes in the model (for sorting groups)."""
    return t.modules.order.get(_path(t, key), -1) if t.modules is not None else -1


def groups(t: Trace, level: str) -> Dict[str, str]:
    """Map node id -> group key at ``level`` (``"neuron"`` or ``"layer"``)."""
    if level not in GROUP_LEVELS:
        raise ValueError(f"group must be one of {', '.join(GROUP_LEVELS)} or None, got {level!r}")
    by_neuron = neuron_groups(t)
    if level == "neuron":
        return by_neuron
    layers = {neuron: layer_of(t, neuron) for neuron in set(by_neuron.values())}
    return {node_id: layers[neuron] for node_id, neuron in by_neuron.items()}
