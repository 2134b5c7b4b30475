"""``Tensor``: reverse-mode autodiff over numpy arrays, the ``Value`` idea scaled up.

Every op makes a node holding its operands in order, a small saved context ``ctx``
(arrays it needs later, never the output node itself) and a module-level backward
function ``backward_fn(upstream, ctx, operands) -> one gradient (or None) per
operand``. ``backward()`` is the engine's one loop (``autodiff.backward``), which calls
those functions over the inner nodes in reverse topological order. No closure refers
back to its output node, so a graph has no reference cycles and is freed by
reference counting as soon as the loss goes out of scope.

Semantics follow PyTorch: leaves accumulate gradients across ``backward()`` calls
(``zero_grad()`` clears them, setting ``grad`` to ``None``); inner nodes are reset
first and then hold this call's gradient (handy for teaching, as with ``Value``).
Nodes are only recorded when an operand requires a gradient and grad mode is on.
"""

from __future__ import annotations

import math
from contextlib import contextmanager
from typing import Any, Callable, Iterator, Optional, Sequence, Tuple, Union

import numpy as np

from .. import autodiff
from ..engine import format_number

__all__ = ["Tensor", "no_grad", "is_grad_enabled", "as_tensor", "from_uint8", "unbroadcast",
           "column_sums", "make_node", "wrap_array", "to_array", "check_dtype"]

# A one-element list so that helpers elsewhere can read the flag without a global
# statement; ``no_grad()`` flips it.
_GRAD_ENABLED = [True]
_F32, _F64 = np.dtype(np.float32), np.dtype(np.float64)
_FLOAT_DTYPES = (_F32, _F64)
# The seed gradient of a scalar loss, shared and read-only (gradients are never
# modified in place; a leaf that would receive it gets a copy).
_ONES = {dt: np.ones((), dtype=dt) for dt in _FLOAT_DTYPES}
for _one in _ONES.values():
    _one.flags.writeable = False

BackwardFn = Callable[[np.ndarray, Any, Tuple["Tensor", ...]], Sequence[Optional[np.ndarray]]]


@contextmanager
def no_grad() -> Iterator[None]:
    """Within this block ops build no graph (evaluation, optimizer-free updates)."""
    previous = _GRAD_ENABLED[0]
    _GRAD_ENABLED[0] = False
    try:
        yield
    finally:
        _GRAD_ENABLED[0] = previous


def is_grad_enabled() -> bool:
    """``False`` inside a ``no_grad()`` block (ops build no graph there), ``True`` otherwise."""
    return _GRAD_ENABLED[0]


def check_dtype(dtype: Any) -> np.dtype:
    try:
        dt = np.dtype(dtype)
    except TypeError:
        raise TypeError(f"Tensor: dtype must be float32 or float64, got {dtype!r}") from None
    if dt not in _FLOAT_DTYPES:
        raise TypeError(f"Tensor: dtype must be float32 or float64, got {dt}")
    return dt


def to_array(data: Any, dtype: Any, copy: bool) -> np.ndarray:
    """User data -> a float32/float64 array, refusing non-numeric data and NaN/inf."""
    if dtype is None and type(data) is np.ndarray and (data.dtype is _F32 or data.dtype is _F64):
        # The hot path (a float batch every training step): no conversion, one check.
        out = data.copy() if copy else data
        if not np.isfinite(out).all():
            _raise_non_finite(out)
        return out
    arr = data if isinstance(data, np.ndarray) else np.asarray(data)
    kind = arr.dtype.kind
    if kind not in "biuf":
        raise TypeError(f"Tensor: data must be real numbers, got an array of dtype {arr.dtype}")
    if dtype is not None:
        target = check_dtype(dtype)
    elif kind == "f" and isinstance(data, np.ndarray) and arr.dtype in _FLOAT_DTYPES:
        target = arr.dtype  # a float64 array stays float64, as torch.from_numpy does
    else:
        target = _FLOAT_DTYPES[0]
    out = arr.astype(target, copy=copy)
    if kind == "f" and not np.isfinite(out).all():
        _raise_non_finite(out)
    return out


def _raise_non_finite(out: np.ndarray) -> None:
    bad = "NaN" if np.isnan(out).any() else "inf"
    where = tuple(int(i) for i in np.argwhere(~np.isfinite(out))[0])
    raise ValueError(f"Tensor: input of shape {out.shape} contains {bad} (first at index "
                     f"{where}); clean the data before building a Tensor")


class Tensor:
    """An n-dimensional array in a computation graph.

    Attributes:
        data: the numpy array (float32 by default, float64 on request).
        grad: d(output)/d(this), same shape as ``data``, or ``None`` before backward.
        requires_grad: whether gradients are tracked for this tensor.
        op: the op that made it ("" for a leaf); operands: its inputs, in order.
    """

    __slots__ = ("data", "grad", "requires_grad", "operands", "backward_fn", "ctx", "op",
                 "label", "__weakref__")
    # Make ``ndarray + Tensor`` call ``Tensor.__radd__`` instead of broadcasting numpy.
    __array_priority__ = 1000

    def __init__(self, data: Any, requires_grad: bool = False, dtype: Any = None,
                 label: str = "") -> None:
        if isinstance(data, Tensor):
            data = data.data
        self.data = to_array(data, dtype, copy=bool(requires_grad))
        self.grad: Optional[np.ndarray] = None
        self.requires_grad = bool(requires_grad)
        self.operands: Tuple[Tensor, ...] = ()
        self.backward_fn: Optional[BackwardFn] = None
        self.ctx: Any = None
        self.op = ""
        self.label = label

    # ---- properties ----

    @property
    def shape(self) -> Tuple[int, ...]:
        """The array's shape, e.g. (N, C, H, W)."""
        return self.data.shape

    @property
    def dtype(self) -> np.dtype:
        """The array's dtype (float32 by default, float64 on request)."""
        return self.data.dtype

    @property
    def ndim(self) -> int:
        """The number of dimensions, ``len(shape)``."""
        return self.data.ndim

    @property
    def size(self) -> int:
        """The number of elements, the product of ``shape``."""
        return self.data.size

    @property
    def is_leaf(self) -> bool:
        """True for a tensor no op made (an input or a parameter)."""
        return self.backward_fn is None

    @property
    def is_parameter(self) -> bool:
        """True for leaves that require a gradient: what ``Module`` collects."""
        return self.requires_grad and self.backward_fn is None

    def __len__(self) -> int:
        return len(self.data)

    def item(self) -> float:
        """The one element of a one-element tensor (a loss) as a Python float."""
        if self.data.size != 1:
            raise ValueError(f"item(): only a one-element tensor converts to a number, "
                             f"this one has shape {self.data.shape}")
        return float(self.data.reshape(()))

    def numpy(self) -> np.ndarray:
        """The array itself (not a copy): ``data``."""
        return self.data

    def detach(self) -> "Tensor":
        """The same array, cut from the graph."""
        return wrap_array(self.data)

    def zero_grad(self) -> None:
        """Forget the gradient: ``grad = None`` until the next ``backward()``."""
        self.grad = None

    def __repr__(self) -> str:
        label = f", label={self.label!r}" if self.label else ""
        grad = ", requires_grad=True" if self.requires_grad else ""
        if self.data.size == 1:
            body = format_number(float(self.data.reshape(())))
        else:
            body = f"shape={self.data.shape}"
        return f"Tensor({body}, dtype={self.data.dtype}{grad}{label})"

    # ---- backpropagation ----

    def backward(self, grad: Any = None) -> None:
        """Fill in ``grad`` of every tensor this one depends on.

        ``grad`` is d(final)/d(self); it may be omitted only for a one-element tensor
        (a loss), where it is 1. Leaves accumulate, inner nodes are reset first.
        """
        if not self.requires_grad:
            raise RuntimeError("backward(): this tensor does not require a gradient "
                               "(no operand had requires_grad=True, or it was built under no_grad)")
        if grad is None:
            if self.data.size != 1:
                raise ValueError(f"backward(): pass grad= for a non-scalar output of shape "
                                 f"{self.data.shape}")
            seed = _ONES[self.data.dtype].reshape(self.data.shape)
        else:
            given = grad.data if isinstance(grad, Tensor) else grad
            seed = np.asarray(given, dtype=self.data.dtype)
            if seed.shape != self.data.shape:
                raise ValueError(f"backward(): grad has shape {seed.shape}, "
                                 f"the tensor has shape {self.data.shape}")
        if self.backward_fn is None:
            seed = seed.copy()  # a leaf's gradient must be its own, writable array
        autodiff.backward(self, seed)


_new = object.__new__


def wrap_array(data: np.ndarray) -> Tensor:
    """A constant leaf around an array that is already clean (no checks, no copy)."""
    t = _new(Tensor)
    t.data = data
    t.grad = None
    t.requires_grad = False
    t.operands = ()
    t.backward_fn = None
    t.ctx = None
    t.op = ""
    t.label = ""
    return t


def make_node(data: np.ndarray, operands: Tuple[Tensor, ...], backward: BackwardFn, ctx: Any,
              op: str) -> Tensor:
    """The one place ops build a result: records the graph only when it is needed."""
    t = _new(Tensor)
    t.data = data
    t.grad = None
    t.op = op
    t.label = ""
    if _GRAD_ENABLED[0]:
        for operand in operands:
            if operand.requires_grad:
                t.requires_grad = True
                t.operands = operands
                t.backward_fn = backward
                t.ctx = ctx
                return t
    t.requires_grad = False
    t.operands = ()
    t.backward_fn = None
    t.ctx = None
    return t


def as_tensor(x: Any, like: Optional[Tensor] = None) -> Tensor:
    """``x`` itself if it is a Tensor, else a constant leaf (in ``like``'s dtype if given)."""
    if isinstance(x, Tensor):
        return x
    if like is not None:
        return wrap_array(to_array(x, like.data.dtype, copy=False))
    return Tensor(x)


# |uint8 * scale - offset| <= 255 * |scale| + |offset|: below this bound no float32 overflows.
_UINT8_BOUND = float(np.finfo(np.float32).max) / 2


def from_uint8(images: np.ndarray, scale: float, offset: float = 0.0,
               shape: Optional[Tuple[int, ...]] = None) -> Tensor:
    """A constant float32 Tensor ``images * scale - offset`` from uint8 pixels (a batch).

    ``images`` must be a uint8 array (any shape; ``shape`` reshapes it first, e.g.
    (-1, 784)). The result needs no NaN/inf scan, unlike ``Tensor(float_array)``: every
    pixel is a finite integer in 0..255 and ``scale``/``offset`` are checked to be
    finite and small enough, so the product cannot overflow. Computed in float32, the
    same numbers as ``images.astype(np.float32) * np.float32(scale)``.
    """
    if not isinstance(images, np.ndarray) or images.dtype.type is not np.uint8:
        what = images.dtype if isinstance(images, np.ndarray) else type(images).__name__
        raise TypeError(f"from_uint8: images must be a uint8 numpy array, got {what}")
    for name, value in (("scale", scale), ("offset", offset)):
        if isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer)) \
                or not math.isfinite(value):
            raise ValueError(f"from_uint8: {name} must be a finite number, got {value!r}")
    if 255.0 * abs(float(scale)) + abs(float(offset)) >= _UINT8_BOUND:
        raise ValueError(f"from_uint8: scale {scale!r} and offset {offset!r} would overflow "
                         f"float32")
    if shape is not None:
        images = images.reshape(shape)
    # Cast, then scale in place: faster than one mixed-type multiply, same numbers.
    out = images.astype(_F32)
    out *= _F32.type(scale)
    if offset:
        out -= _F32.type(offset)
    return wrap_array(out)


# Row vectors of ones for ``column_sums``, one per (rows, dtype) seen; read-only.
_ONE_ROWS: dict = {}


def column_sums(g: np.ndarray) -> np.ndarray:
    """``g.sum(axis=0)`` of a 2-D float array (N, C) -> (C,), as ``ones(N) @ g``.

    A bias gradient is such a sum every step. numpy reduces over axis 0 one row at a
    time; BLAS's matrix-vector product gives the same sums, up to rounding, in about
    half the time (figures and command in benchmarks/RESULTS.md).
    """
    key = (g.shape[0], g.dtype)
    ones = _ONE_ROWS.get(key)
    if ones is None:
        if len(_ONE_ROWS) > 64:  # many batch sizes: keep the cache small
            _ONE_ROWS.clear()
        ones = _ONE_ROWS[key] = np.ones(g.shape[0], dtype=g.dtype)
        ones.flags.writeable = False
    return ones @ g


def unbroadcast(g: np.ndarray, shape: Tuple[int, ...]) -> np.ndarray:
    """Sum ``g`` over the axes that broadcasting added or stretched, back to ``shape``."""
    if g.shape == shape:
        return g
    if g.ndim == 2 and shape == g.shape[1:] and g.dtype in _FLOAT_DTYPES:
        # (N, C) -> (C,): a bias added to a batch, the common case.
        return column_sums(g)
    extra = g.ndim - len(shape)
    if extra:
        g = g.sum(axis=tuple(range(extra)))
    stretched = tuple(i for i, n in enumerate(shape) if n == 1 and g.shape[i] != 1)
    if stretched:
        g = g.sum(axis=stretched, keepdims=True)
    return g.reshape(shape)


Operand = Union[Tensor, float, int, np.ndarray]
