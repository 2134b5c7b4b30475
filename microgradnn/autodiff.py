"""The one graph traversal shared by the scalar engine and the vectorized path.

Any node type works as long as it exposes ``operands`` (the nodes it was computed
from, in order, duplicates allowed) and hashes by identity (``object.__hash__``).
The order is built with an explicit stack, so a chain a million ops deep needs no
recursion.
"""

from __future__ import annotations

from typing import Any, List

__all__ = ["topological_order"]


def topological_order(root: Any) -> List[Any]:
    """Return every node reachable from ``root``, operands before their results.

    Depth-first, first operand first, so the order is deterministic: it depends
    only on the graph's structure, never on ids or memory addresses. ``root`` is last.
    """
    order: List[Any] = []
    visited = {root}
    # Each stack entry is a node and an iterator over the operands not yet looked at.
    stack = [(root, iter(root.operands))]
    push, pop, mark = stack.append, stack.pop, visited.add
    while stack:
        node, pending = stack[-1]
        for operand in pending:
            if operand not in visited:
                mark(operand)
                push((operand, iter(operand.operands)))
                break
        else:  # every operand is placed: the node can follow them
            pop()
            order.append(node)
    return order
