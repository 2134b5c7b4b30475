"""Which module holds each parameter, read from a ``Module``'s own tree.

A picture learns a network's structure only from what the module exports:
``named_children()`` (the tree, with its names) and ``parameters()`` (which numbers
each sub-tree owns). It never reads it back out of labels. A parameter belongs to
the deepest module that holds it: for ``MLP`` that is a ``Neuron``
(``layers.0.neurons.3``), whose parent is its ``Layer`` (``layers.0``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Dict, List, Optional, Tuple

if TYPE_CHECKING:
    from microgradnn.module import Module

__all__ = ["ModuleTree", "module_tree"]


@dataclass(frozen=True)
class ModuleTree:
    """The module tree of a model, as plain data.

    Attributes:
        root_name: the model's class name, shown for the root (whose path is ``""``).
        owner: ``id(parameter)`` -> path of the deepest module holding it.
        parent: module path -> its parent's path (the root has none).
        order: module path -> its place in a pre-order walk (the model's own order).
        local_name: ``id(parameter)`` -> its name inside its owner, from the owner's own
            ``named_parameters(recurse=False)`` (``"w.3"``, ``"b"``).
    """

    root_name: str
    owner: Dict[int, str]
    parent: Dict[str, str]
    order: Dict[str, int]
    local_name: Dict[int, str] = field(default_factory=dict)

    def display(self, path: str) -> str:
        """How a picture names the module at ``path``: the path, or the root's class name."""
        return path or self.root_name

    def parent_of(self, path: str) -> Optional[str]:
        return self.parent.get(path)


def module_tree(model: Module) -> ModuleTree:
    """Walk ``model`` once through ``named_children()``; children overwrite their parent's
    claim on a parameter, so each ends up with the deepest module that holds it."""
    from microgradnn.module import Module  # brings numpy: only when a model is given

    if not isinstance(model, Module):
        raise TypeError(f"module_tree: expected a microgradnn Module, got {type(model).__name__}")
    owner: Dict[int, str] = {}
    parent: Dict[str, str] = {}
    order: Dict[str, int] = {}
    local_name: Dict[int, str] = {}
    stack: List[Tuple[str, Module]] = [("", model)]
    while stack:
        path, module = stack.pop()
        order[path] = len(order)
        for p in module.parameters():
            owner[id(p)] = path
        for name, p in module.named_parameters(recurse=False):
            local_name[id(p)] = name
        children = [(f"{path}.{name}" if path else name, child)
                    for name, child in module.named_children()]
        for child_path, _ in children:
            parent[child_path] = path
        stack.extend(reversed(children))
    return ModuleTree(type(model).__name__, owner, parent, order, local_name)
