"""A cheap estimate of how hard a picture is for graphviz ``dot`` to lay out.

``dot``'s time is not set by the node count alone: every rank an edge crosses
becomes a virtual node to order and place, and dense edges cross. So the estimate is

    DOT nodes + edges + ranks spanned by edges beyond their first

with ranks from a longest-path layering (leaves pulled next to their first use, as
``dot`` places them). Measured on the project machine (2 cores, graphviz 2.43) with
the attributes ``draw_graph`` sets (nslimit=1, xlabels on bigger graphs): dense MLP
graphs took 1.9 s at 3,965, 4.9 s at 5,909 and 10.8 s at 8,237; graphs whose size
comes from long edges render much faster (0.7 s at 14,601) but reach 23 s at 120k.
A limit of 5,000 keeps the worst measured case near 3-4 s.
"""

from __future__ import annotations

from typing import Dict, Iterable, List

from .trace import EdgeRecord, NodeRecord

__all__ = ["layout_cost", "DEFAULT_MAX_LAYOUT"]

DEFAULT_MAX_LAYOUT = 5000


def layout_cost(nodes: List[NodeRecord], edges: Iterable[EdgeRecord]) -> int:
    """Estimate the layout work of drawing ``nodes`` (value + op nodes) and ``edges``.

    ``nodes`` are in topological order; edges whose source is not in ``nodes`` are ignored.
    """
    edges = list(edges)
    rank: Dict[str, int] = {}
    for node in nodes:
        if not node.is_leaf:
            rank[node.id] = 1 + max((rank[o] for o in node.operand_ids if o in rank), default=0)
    first_use: Dict[str, int] = {}
    for e in edges:
        r = rank.get(e.target)
        if r is not None and (e.source not in first_use or r < first_use[e.source]):
            first_use[e.source] = r
    for node in nodes:
        if node.is_leaf:
            rank[node.id] = first_use.get(node.id, 1) - 1
    # In DOT a value of rank r sits at 2r and its op node at 2r - 1.
    span = 0
    count = 0
    for e in edges:
        if e.source not in rank:
            continue
        count += 1
        span += max(0, (2 * rank[e.target] - 1) - 2 * rank[e.source] - 1)
    dot_nodes = len(nodes) + sum(1 for n in nodes if not n.is_leaf)
    op_edges = dot_nodes - len(nodes)
    return dot_nodes + count + op_edges + span
