"""Pictures of microgradnn graphs and networks (graphviz and matplotlib).

``viz`` imports ``microgradnn``; ``microgradnn`` never imports ``viz``.
"""

from .trace import EdgeRecord, NodeRecord, Trace, trace

__all__ = ["trace", "Trace", "NodeRecord", "EdgeRecord"]
