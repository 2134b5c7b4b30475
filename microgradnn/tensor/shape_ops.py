"""Reductions (sum, mean, max over axes) and shape ops (reshape, transpose, indexing).

Each backward puts the gradient back into the input's shape: a reduced axis is
re-inserted and broadcast, a permutation inverted, an index scattered with
``np.add.at`` so that repeated fancy indices accumulate.
"""

from __future__ import annotations

from typing import Any, Optional, Tuple, Union

import numpy as np

from .tensor import Tensor, make_node

__all__ = ["sum", "mean", "max", "reshape", "transpose", "getitem"]

Axis = Union[None, int, Tuple[int, ...]]


# ---- reductions ----

def _norm_axis(axis: Axis, ndim: int, op: str) -> Optional[Tuple[int, ...]]:
    if axis is None:
        return None
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    out = []
    for ax in axes:
        if not -ndim <= ax < ndim:
            raise ValueError(f"{op}: axis {ax} is out of range for a tensor with {ndim} axes")
        out.append(int(ax) % ndim)
    return tuple(out)


def _expand_back(g: np.ndarray, axes: Optional[Tuple[int, ...]], keepdims: bool,
                 shape: Tuple[int, ...]) -> np.ndarray:
    """Reshape a reduced gradient so that it broadcasts against the input's shape."""
    if not keepdims:
        if axes is None:
            g = g.reshape((1,) * len(shape))
        else:
            g = np.expand_dims(g, axes)
    return g


def _sum_back(g, ctx, ops):
    axes, keepdims = ctx
    shape = ops[0].data.shape
    return (np.broadcast_to(_expand_back(g, axes, keepdims, shape), shape),)


def sum(a: Tensor, axis: Axis = None, keepdims: bool = False) -> Tensor:  # noqa: A001
    """Sum over ``axis`` (all axes when None)."""
    axes = _norm_axis(axis, a.data.ndim, "sum")
    out = np.asarray(a.data.sum(axis=axes, keepdims=keepdims))
    return make_node(out, (a,), _sum_back, (axes, keepdims), "sum")


def _mean_back(g, ctx, ops):
    axes, keepdims, count = ctx
    shape = ops[0].data.shape
    return (np.broadcast_to(_expand_back(g / count, axes, keepdims, shape), shape),)


def mean(a: Tensor, axis: Axis = None, keepdims: bool = False) -> Tensor:
    """Mean over ``axis`` (all axes when None)."""
    axes = _norm_axis(axis, a.data.ndim, "mean")
    count = a.data.size if axes is None else int(np.prod([a.data.shape[i] for i in axes]))
    if count == 0:
        raise ValueError(f"mean over an empty selection of a tensor of shape {a.data.shape}")
    out = np.asarray(a.data.mean(axis=axes, keepdims=keepdims))
    return make_node(out, (a,), _mean_back, (axes, keepdims, count), "mean")


def _max_back(g, ctx, ops):
    axes, keepdims, out = ctx
    x = ops[0].data
    shape = x.shape
    peak = _expand_back(out, axes, keepdims, shape)
    mask = x == peak
    # Ties share the gradient equally (PyTorch's amax convention).
    share = mask / mask.sum(axis=axes, keepdims=True)
    return (_expand_back(g, axes, keepdims, shape) * share.astype(x.dtype, copy=False),)


def max(a: Tensor, axis: Axis = None, keepdims: bool = False) -> Tensor:  # noqa: A001
    """Maximum over ``axis``; tied maxima share the gradient equally."""
    axes = _norm_axis(axis, a.data.ndim, "max")
    if a.data.size == 0:
        raise ValueError("max of an empty tensor")
    out = np.asarray(a.data.max(axis=axes, keepdims=keepdims))
    return make_node(out, (a,), _max_back, (axes, keepdims, out), "max")


# ---- shape ops ----

def _reshape_back(g, ctx, ops):
    return (g.reshape(ops[0].data.shape),)


def reshape(a: Tensor, *shape: Any) -> Tensor:
    """A view with a new shape (one entry may be -1)."""
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    try:
        out = a.data.reshape(shape)
    except ValueError:
        raise ValueError(f"reshape: cannot reshape a tensor of shape {a.data.shape} "
                         f"({a.data.size} elements) into {shape}") from None
    return make_node(out, (a,), _reshape_back, None, "reshape")


def _transpose_back(g, inverse, ops):
    return (g.transpose(inverse),)


def transpose(a: Tensor, *axes: Any) -> Tensor:
    """Permute axes (reverse them when none are given), like ``ndarray.transpose``."""
    if len(axes) == 1 and isinstance(axes[0], (tuple, list)):
        axes = tuple(axes[0])
    ndim = a.data.ndim
    if not axes:
        perm = tuple(reversed(range(ndim)))
    else:
        perm = tuple(int(x) % ndim if ndim else 0 for x in axes)
    if sorted(perm) != list(range(ndim)):
        raise ValueError(f"transpose: {axes} is not a permutation of the {ndim} axes of a "
                         f"tensor of shape {a.data.shape}")
    inverse = tuple(np.argsort(perm))
    return make_node(a.data.transpose(perm), (a,), _transpose_back, inverse, "transpose")


def _is_basic_index(idx: Any) -> bool:
    items = idx if isinstance(idx, tuple) else (idx,)
    return all(isinstance(i, (int, np.integer, slice)) or i is None or i is Ellipsis
               for i in items)


def _getitem_back(g, ctx, ops):
    idx, basic = ctx
    x = ops[0].data
    out = np.zeros_like(x)
    if basic:
        out[idx] += g
    else:
        np.add.at(out, idx, g)  # repeated fancy indices accumulate
    return (out,)


def getitem(a: Tensor, idx: Any) -> Tensor:
    """numpy indexing (ints, slices, integer or boolean arrays); repeats accumulate."""
    if isinstance(idx, Tensor):
        idx = idx.data.astype(np.intp)
    elif isinstance(idx, tuple):
        idx = tuple(i.data.astype(np.intp) if isinstance(i, Tensor) else i for i in idx)
    try:
        out = a.data[idx]
    except IndexError as err:
        raise IndexError(f"indexing a tensor of shape {a.data.shape}: {err}") from None
    return make_node(np.asarray(out), (a,), _getitem_back, (idx, _is_basic_index(idx)), "getitem")
