"""Walk a scalar graph once into plain node and edge records.

Every picture (the static graph, the grouped view, each stepper frame) reads a
``Trace``; nothing in ``viz`` walks ``Value`` objects or recomputes derivatives
on its own. Ids are assigned in topological order (``v0`` is the first operand
ever computed, the root comes last) so the same graph always gives the same ids.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Dict, Iterable, List, Optional, Tuple

from microgradnn.autodiff import topological_order
from microgradnn.engine import Value

__all__ = ["NodeRecord", "EdgeRecord", "Trace", "trace", "ROLES"]

ROLES = ("input", "parameter", "constant", "intermediate", "output")

# Labels given by microgradnn.nn (``layers.0.neurons.3.w.17``) and the usual
# hand-written names of the classic neuron example (``w``, ``b``, ``w1``).
_PARAMETER_LABEL = re.compile(r"(^|\.)(w|b|weight|bias)(\.?\d+)?$")


@dataclass(frozen=True)
class NodeRecord:
    """One ``Value``: its numbers as they were when traced, and its place in the graph."""

    id: str
    label: str
    data: float
    grad: float
    op: str
    role: str
    operand_ids: Tuple[str, ...]
    value: Value  # the engine node itself, for callers that need identity

    @property
    def is_leaf(self) -> bool:
        return not self.operand_ids


@dataclass(frozen=True)
class EdgeRecord:
    """Operand slot ``slot`` of ``target``: ``source`` feeds it.

    ``local_grad`` is d(target)/d(source) through this slot, as stored by the engine;
    ``contribution`` is ``local_grad * target.grad``: what backward added to
    ``source.grad`` through this edge (meaningful once ``Trace.has_grads``).
    """

    id: str
    source: str
    target: str
    slot: int
    local_grad: float
    contribution: float


@dataclass
class Trace:
    root: str
    nodes: List[NodeRecord]
    edges: List[EdgeRecord]
    has_grads: bool

    def __post_init__(self) -> None:
        self.by_id: Dict[str, NodeRecord] = {n.id: n for n in self.nodes}

    def edges_into(self, node_id: str) -> List[EdgeRecord]:
        """The edges whose target is ``node_id``, in operand order."""
        return [e for e in self.edges if e.target == node_id]


def _role(value: Value, is_root: bool, parameter_ids: Optional[set]) -> str:
    if is_root:
        return "output"
    if value.operands:
        return "intermediate"
    if parameter_ids is not None:
        if id(value) in parameter_ids:
            return "parameter"
    elif _PARAMETER_LABEL.search(value.label or ""):
        return "parameter"
    return "input" if value.label else "constant"


def trace(root: Value, parameters: Optional[Iterable[Value]] = None) -> Trace:
    """Record the graph under ``root``.

    Leaves are classed as ``parameter`` (those in ``parameters`` if given, else
    those labelled like ``w``, ``b``, ``layers.0.neurons.3.w.17``), ``input`` (other
    labelled leaves) or ``constant`` (unlabelled leaves, e.g. the ``1`` in ``x + 1``).
    """
    if not isinstance(root, Value):
        raise TypeError(f"trace: expected a Value, got {type(root).__name__}")
    order = topological_order(root)
    parameter_ids = None if parameters is None else {id(p) for p in parameters}
    ids = {id(v): f"v{i}" for i, v in enumerate(order)}
    nodes: List[NodeRecord] = []
    edges: List[EdgeRecord] = []
    for v in order:
        node_id = ids[id(v)]
        operand_ids = tuple(ids[id(o)] for o in v.operands)
        nodes.append(NodeRecord(node_id, v.label, v.data, v.grad, v.op,
                                _role(v, v is root, parameter_ids), operand_ids, v))
        for slot, (source, local) in enumerate(zip(operand_ids, v.local_grads)):
            edges.append(EdgeRecord(f"e{len(edges)}", source, node_id, slot, local, local * v.grad))
    # backward() always leaves the root's grad at 1 or more; before it, 0.
    return Trace(ids[id(root)], nodes, edges, has_grads=root.grad != 0.0)
