"""Walk a scalar graph once into plain node and edge records.

Every picture (the static graph, the grouped view, each stepper frame) reads a
``Trace``; nothing in ``viz`` walks ``Value`` objects or recomputes derivatives
on its own. Ids are assigned in topological order (``v0`` is the first operand
ever computed, the root comes last) so the same graph always gives the same ids.

What a leaf is comes from the caller, never from its label: pass the model (a
``Module``: its ``parameters()`` are parameters, and its module tree lets pictures
group nodes by neuron and layer) or the parameters themselves. Given nothing,
every labelled leaf is drawn alike.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Dict, Iterable, List, Optional, Tuple, Union

from microgradnn.autodiff import topological_order
from microgradnn.engine import Value

from .dot import readable_text
from .structure import ModuleTree, module_tree

if TYPE_CHECKING:
    from microgradnn.module import Module

__all__ = ["NodeRecord", "EdgeRecord", "Trace", "trace", "Parameters"]

#: What ``parameters=`` accepts: a model, the parameter Values, or nothing.
Parameters = Union["Module", Iterable[Value], None]


@dataclass(frozen=True)
class NodeRecord:
    """One ``Value``: its numbers as they were when traced, and its place in the graph.

    ``role`` is ``"output"`` (the root), ``"intermediate"`` (any other op result),
    ``"parameter"`` (a leaf among the parameters given to ``trace``), ``"input"`` (another
    labelled leaf, when parameters were given), ``"leaf"`` (a labelled leaf when none
    were: nothing is known about it) or ``"constant"`` (an unlabelled leaf, like the
    ``1`` in ``x + 1``).
    """

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
    """The records of one graph; ``modules`` is the model's tree when a model was given,
    and ``owner`` maps each parameter leaf's id to the path of the module holding it."""

    root: str
    nodes: List[NodeRecord]
    edges: List[EdgeRecord]
    has_grads: bool
    modules: Optional[ModuleTree] = None
    owner: Dict[str, str] = field(default_factory=dict)

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
    if parameter_ids is not None and id(value) in parameter_ids:
        return "parameter"
    if not value.label:
        return "constant"
    return "leaf" if parameter_ids is None else "input"


def _parameter_values(parameters: Any) -> List[Value]:
    """``parameters`` as a list of Values, or one clear error naming what it is."""
    try:
        values = list(parameters)
    except TypeError:
        raise TypeError(f"parameters must be a Module or an iterable of Values, got "
                        f"{type(parameters).__name__}") from None
    for i, p in enumerate(values):
        if not isinstance(p, Value):
            raise TypeError(f"parameters[{i}] is {type(p).__name__}, not a Value")
    return values


def trace(root: Value, parameters: Parameters = None) -> Trace:
    """Record the graph under ``root``.

    ``parameters`` is the model (a ``Module``), an iterable of its parameter Values, or
    ``None``. Leaves among them are ``parameter``, other labelled leaves ``input``;
    with ``None`` every labelled leaf is a plain ``leaf``. Unlabelled leaves (the ``1``
    in ``x + 1``) are ``constant`` either way. Only a model gives the module tree that
    grouping by neuron or layer needs.
    """
    if not isinstance(root, Value):
        raise TypeError(f"trace: expected a Value, got {type(root).__name__}")
    tree = None
    if parameters is not None:
        from microgradnn.module import Module  # brings numpy: only when parameters are given

        tree = module_tree(parameters) if isinstance(parameters, Module) else None
    if tree is not None:
        parameter_ids: Optional[set] = set(tree.owner)
    elif parameters is not None:
        parameter_ids = {id(p) for p in _parameter_values(parameters)}
    else:
        parameter_ids = None
    order = topological_order(root)
    ids = {id(v): f"v{i}" for i, v in enumerate(order)}
    nodes: List[NodeRecord] = []
    edges: List[EdgeRecord] = []
    owner: Dict[str, str] = {}
    for v in order:
        node_id = ids[id(v)]
        operand_ids = tuple(ids[id(o)] for o in v.operands)
        nodes.append(NodeRecord(node_id, readable_text(v.label), v.data, v.grad, v.op,
                                _role(v, v is root, parameter_ids), operand_ids, v))
        if tree is not None and not v.operands and id(v) in tree.owner:
            owner[node_id] = tree.owner[id(v)]
        for slot, (source, local) in enumerate(zip(operand_ids, v.local_grads)):
            edges.append(EdgeRecord(f"e{len(edges)}", source, node_id, slot, local, local * v.grad))
    # backward() always leaves the root's grad at 1 or more; before it, 0.
    return Trace(ids[id(root)], nodes, edges, has_grads=root.grad != 0.0, modules=tree,
                 owner=owner)
