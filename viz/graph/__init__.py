"""Graphviz pictures of a computation graph and of a network.

``trace`` walks a graph once into plain records; ``draw_graph`` turns them into DOT
(one node per value, collapsed into groups when the graph is big); ``draw_network``
draws an MLP with one node per neuron. Needs the ``graphviz`` package, and its
``dot`` program only to render.
"""

from .dot import GraphvizNotFoundError
from .graph import LargeGraphWarning, draw_graph
from .network import draw_network
from .trace import EdgeRecord, NodeRecord, Trace, trace

__all__ = ["trace", "Trace", "NodeRecord", "EdgeRecord", "draw_graph", "LargeGraphWarning",
           "GraphvizNotFoundError", "draw_network"]
