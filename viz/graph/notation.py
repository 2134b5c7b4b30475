"""The lectures' names of a network's nodes: ``w[l][j,k]``, ``b[l][j]``, ``z[l][j]``, ``a[l][j]``.

Read from the model only (``Trace.modules``, the ``Module`` given as ``parameters=``),
never from labels (the notation table of the README and of NOTATION.md):

* ``l`` is the layer's place among its siblings in the module tree, counted from 1
  (``layers.0`` is ``l = 1``); ``j`` the neuron's place in its layer, from 0;
* a parameter whose name in its neuron (``named_parameters(recurse=False)``) is an
  element of a vector (``w.3``) is the weight ``w[l][j,3]``; the neuron's one scalar
  parameter (``b``) is its bias ``b[l][j]``;
* the node that closes a neuron (its activation, see ``grouping``) is ``a[l][j]`` and
  the activation's operand is ``z[l][j]``; a neuron without activation (a linear output)
  ends in ``z[l][j]``.

A neuron called more than once in the graph (a batch) keeps its derived names: one
``z[l][j]`` must name one node.
"""

from __future__ import annotations

from typing import Dict, List, Optional, Tuple

from .grouping import neuron_groups, op_kind
from .trace import Trace

__all__ = ["lecture_names", "neuron_index", "neuron_outputs", "parameter_places", "cost_name"]


def cost_name(t: Trace) -> str:
    """What an unlabelled output is called: ``C`` (the cost) for a model's graph, else ``L``."""
    return "C" if t.modules is not None else "L"


def _siblings(t: Trace, path: str) -> List[str]:
    tree = t.modules
    parent = tree.parent_of(path)
    return sorted((p for p, q in tree.parent.items() if q == parent), key=tree.order.get)


def neuron_index(t: Trace, path: str) -> Tuple[int, int]:
    """``(l, j)`` of the neuron module at ``path``: its layer's place (from 1) and its own (from 0)."""
    tree = t.modules
    layer = tree.parent_of(path)
    if layer is None:  # the model is one neuron
        return 1, 0
    j = _siblings(t, path).index(path)
    l = 1 if tree.parent_of(layer) is None else _siblings(t, layer).index(layer) + 1
    return l, j


def _place(local: str, l: int, j: int) -> Optional[Tuple[str, int, int, Optional[int]]]:
    head, _, index = local.rpartition(".")
    if head and index.isdigit():
        return ("w", l, j, int(index))
    if "." not in local:
        return ("b", l, j, None)
    return None


def parameter_places(t: Trace) -> Dict[str, Tuple[str, int, int, Optional[int]]]:
    """Parameter node id -> ``("w", l, j, k)`` for the weight ``w[l][j,k]`` or
    ``("b", l, j, None)`` for the bias ``b[l][j]`` (empty without a model)."""
    if t.modules is None:
        return {}
    tree = t.modules
    places: Dict[str, Tuple[str, int, int, Optional[int]]] = {}
    index: Dict[str, Tuple[int, int]] = {}
    for node_id, path in t.owner.items():
        local = tree.local_name.get(id(t.by_id[node_id].value))
        if local is None:
            continue
        if path not in index:
            index[path] = neuron_index(t, path)
        place = _place(local, *index[path])
        if place is not None:
            places[node_id] = place
    return places


def neuron_outputs(t: Trace) -> Dict[str, Tuple[int, int, str, Optional[str]]]:
    """Neuron key (see ``grouping.neuron_groups``) -> ``(l, j, output id, z id)`` for each
    neuron called exactly once in the graph: its output is its activation node (or, with
    no activation, its weighted sum, which is then also its ``z``)."""
    if t.modules is None:
        return {}
    tree = t.modules
    members: Dict[str, List[str]] = {}
    for node_id, key in neuron_groups(t).items():
        if not t.by_id[node_id].is_leaf:
            members.setdefault(key, []).append(node_id)
    out: Dict[str, Tuple[int, int, str, Optional[str]]] = {}
    for key, ids in members.items():
        path = "" if key == tree.root_name and key not in tree.order else key
        l, j = neuron_index(t, path)
        closing = [i for i in ids if op_kind(t.by_id[i].op) == "activation"]
        if len(closing) > 1:
            continue  # the neuron was called more than once: names would repeat
        if closing:
            a = t.by_id[closing[0]]
            out[key] = (l, j, a.id, a.operand_ids[0])
            continue
        inside = set(ids)
        ends = [i for i in ids if not any(e.source == i and e.target in inside for e in t.edges)]
        if len(ends) == 1:
            out[key] = (l, j, ends[0], ends[0])
    return out


def lecture_names(t: Trace) -> Dict[str, str]:
    """Node id -> its name in the lectures' notation, for the nodes of a model's neurons
    (empty without a model)."""
    if t.modules is None:
        return {}
    names: Dict[str, str] = {}
    for node_id, (kind, l, j, k) in parameter_places(t).items():
        names[node_id] = f"w[{l}][{j},{k}]" if kind == "w" else f"b[{l}][{j}]"
    for key, (l, j, out_id, z_id) in neuron_outputs(t).items():
        if z_id is not None:
            names[z_id] = f"z[{l}][{j}]"
        if out_id != z_id:
            names[out_id] = f"a[{l}][{j}]"
    return names
