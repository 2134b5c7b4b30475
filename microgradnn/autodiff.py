"""The one graph traversal shared by the scalar engine and the vectorized path.

Any node type works as long as it exposes ``operands``: a sequence of the nodes it
was computed from, in order (duplicates allowed). The order is built with an
explicit stack, so a chain a million ops deep needs no recursion.
"""

from __future__ import annotations

from typing import Any, List

__all__ = ["topological_order"]


def topological_order(root: Any) -> List[Any]:
    """Return every node reachable from ``root``, operands before their results.

    The order is deterministic: it depends only on the graph's structure and the
    order of each node's operands, never on ids or hashes. ``root`` comes last.
    """
    order: List[Any] = []
    entered = set()
    # (node, expanded): a node is pushed once to enter it and once more, under its
    # operands, so that it is appended only after all of them.
    stack = [(root, False)]
    while stack:
        node, expanded = stack.pop()
        if expanded:
            order.append(node)
            continue
        key = id(node)
        if key in entered:
            continue
        entered.add(key)
        stack.append((node, True))
        # Reversed so that the first operand is visited first.
        for operand in reversed(node.operands):
            if id(operand) not in entered:
                stack.append((operand, False))
    return order
