"""``cat``: join tensors along one axis; backward hands each its own slice of the gradient.

For ``y = cat([a, b, c], dim)`` the gradient of ``a`` is ``g[..., :A, ...]`` along
``dim``, of ``b`` the next ``B`` entries, and so on: the forward copy run in reverse.
GoogLeNet joins its inception branches this way, along the channel axis (dim=1).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from .tensor import Tensor, make_node

__all__ = ["cat"]


def _cat_back(g, ctx, ops):
    dim, bounds = ctx
    index = [slice(None)] * g.ndim
    grads = []
    for start, stop in zip(bounds[:-1], bounds[1:]):
        index[dim] = slice(start, stop)
        grads.append(g[tuple(index)])
    return tuple(grads)


def cat(tensors: Sequence[Tensor], dim: int = 0) -> Tensor:
    """Concatenate ``tensors`` (same dtype, same shape except along ``dim``) along ``dim``."""
    tensors = tuple(tensors)
    if not tensors:
        raise ValueError("cat: expected a non-empty sequence of tensors")
    for i, t in enumerate(tensors):
        if not isinstance(t, Tensor):
            raise TypeError(f"cat: item {i} is a {type(t).__name__}, not a Tensor")
    first = tensors[0].data
    ndim = first.ndim
    if ndim == 0 or not -ndim <= dim < ndim:
        raise ValueError(f"cat: dim {dim} is out of range for tensors with {ndim} axes")
    dim %= ndim
    for i, t in enumerate(tensors):
        shape = t.data.shape
        if t.data.dtype != first.dtype:
            raise TypeError(f"cat: cannot mix dtypes ({first.dtype} and {t.data.dtype} at "
                            f"item {i})")
        if len(shape) != ndim or any(a != b for k, (a, b) in enumerate(zip(shape, first.shape))
                                     if k != dim):
            raise ValueError(f"cat: item {i} has shape {shape}, which does not match "
                             f"{first.shape} outside dim {dim}")
    sizes = [t.data.shape[dim] for t in tensors]
    bounds = tuple(int(b) for b in np.concatenate([[0], np.cumsum(sizes)]))
    out = np.concatenate([t.data for t in tensors], axis=dim)
    return make_node(out, tensors, _cat_back, (dim, bounds), "cat")
