"""The same architecture in PyTorch, for the parity tests and ``bench_families.py``.

``to_torch`` is ``microgradnn.interop.to_torch`` (every layer class maps onto its torch.nn
twin with the same attribute names); ``copy_weights`` loads our state into a twin again
in the dtype a benchmark wants.
"""

from __future__ import annotations

import os
import sys
from typing import Any

import numpy as np
import torch
from torch import nn

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from microgradnn import interop  # noqa: E402

__all__ = ["to_torch", "copy_weights"]


def to_torch(m: Any) -> nn.Module:
    """The torch.nn twin of ``m`` (``microgradnn.interop.to_torch``: the one mapping)."""
    return interop.to_torch(m)


def copy_weights(ours: Any, theirs: nn.Module, dtype: torch.dtype = torch.float32) -> nn.Module:
    """Load ``ours``'s state_dict (parameters and buffers) into ``theirs``; return it."""
    state = {k: torch.from_numpy(np.array(v)) for k, v in ours.state_dict().items()}
    theirs.to(dtype)
    theirs.load_state_dict(state, strict=True)
    theirs.train(ours.training)
    return theirs
