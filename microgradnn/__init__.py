"""microgradnn: backpropagation you can see, on scalars and on arrays.

The scalar engine (``Value``) and the nn built on it teach; ``microgradnn.tensor``
trains real networks with the same API; the separate ``viz`` package draws both.
"""

from .engine import Value, format_number, weighted_sum
from .gradcheck import GradcheckError, gradcheck, numerical_gradient

__all__ = ["Value", "weighted_sum", "format_number", "gradcheck", "numerical_gradient",
           "GradcheckError", "load", "__version__"]

__version__ = "0.1.0"


def load(path):
    """Rebuild a model saved with ``microgradnn.checkpoint.save`` (see that module)."""
    from .checkpoint import load as _load  # imported lazily: it pulls in the tensor path

    return _load(path)
