"""An array's memory order: "F" (column-major, and not also row-major) or "C".

A float32 ``Linear`` weight is stored column-major for speed (``tensor.layers.weight_order``);
whatever copies or repacks parameters keeps each one's order with this: the optimizer's
packed buffers, ``load_state_dict``, the weight's gradient.
"""

from __future__ import annotations

import numpy as np

__all__ = ["memory_order"]


def memory_order(a: np.ndarray) -> str:
    """"F" for an array stored column-major (and not also row-major, as 1-D arrays are),
    else "C": the ``order=`` that copies ``a`` in its own layout."""
    return "F" if a.flags.f_contiguous and not a.flags.c_contiguous else "C"
