"""Optimizers for scalar ``Value`` parameters and array (``Tensor``) parameters alike.

A parameter is anything with ``.data`` and ``.grad``: floats for a ``Value``, numpy
arrays for a ``Tensor`` (whose ``grad`` may be ``None`` when no gradient reached it;
such a parameter is skipped, as PyTorch does). The update formulas are PyTorch's.
Array state is updated in place so a step allocates almost nothing.
"""

from __future__ import annotations

import math
from typing import Any, Dict, Iterable, List, Optional, Tuple

import numpy as np

from .blas import axpy
from .layout import memory_order

__all__ = ["Optimizer", "SGD", "Adam"]


def _check_rate(name: str, value: float, upper: Optional[float] = None) -> float:
    if not isinstance(value, (int, float)) or math.isnan(value) or value < 0 or (upper is not None and value >= upper):
        bound = f" and below {upper}" if upper is not None else ""
        raise ValueError(f"{name} must be a number >= 0{bound}, got {value!r}")
    return float(value)


_PACKED = -1  # the index of the packed buffer in ``_state`` and ``_scratch``


class _Packed:
    """An optimizer's array parameters, gradients and state in one buffer each (``pack``)."""

    def __init__(self, params: List[Any]) -> None:
        # Each array keeps its memory layout (``layout.memory_order``): a column-major weight
        # is packed column-major, and its gradient and state views likewise.
        self.slices = []
        start = 0
        for p in params:
            self.slices.append((start, start + p.data.size, p.data.shape, memory_order(p.data)))
            start += p.data.size
        self.data = self.flat([p.data for p in params])
        self.datas = self.views(self.data)
        for p, view in zip(params, self.datas):
            p.data = view
        self.grad = np.zeros_like(self.data)
        self.grads = self.views(self.grad)
        self.state: Dict[str, Tuple[np.ndarray, List[np.ndarray]]] = {}

    @classmethod
    def of(cls, opt: "Optimizer") -> Optional["_Packed"]:
        dtypes = {getattr(p.data, "dtype", None) for p in opt.params}
        if len(dtypes) != 1 or not all(isinstance(p.data, np.ndarray) for p in opt.params) \
                or dtypes.pop().kind != "f":
            return None
        lists = {name: getattr(opt, name) for name in opt._state_names}
        for items in lists.values():
            if any(x is None for x in items) and any(x is not None for x in items):
                return None
        packed = cls(opt.params)
        for name, items in lists.items():
            if items and items[0] is not None:
                packed.adopt(opt, name, packed.flat(items))
        return packed

    def views(self, flat: np.ndarray) -> List[np.ndarray]:
        return [flat[a:b].reshape(shape, order=order) for a, b, shape, order in self.slices]

    def flat(self, items: List[np.ndarray]) -> np.ndarray:
        """Per-parameter arrays as one buffer, each in its parameter's layout."""
        return np.concatenate([x.ravel(order=order) for x, (_, _, _, order) in
                               zip(items, self.slices)])

    def adopt(self, opt: "Optimizer", name: str, flat: np.ndarray) -> None:
        """Make ``flat`` the packed state ``name``, its views the optimizer's list."""
        views = self.views(flat)
        self.state[name] = (flat, views)
        getattr(opt, name)[:] = views

    def holds_data(self, params: List[Any]) -> bool:
        return all(p.data is d for p, d in zip(params, self.datas))

    def intact(self, opt: "Optimizer") -> bool:
        """Whether every parameter, gradient and state array is still this buffer's view."""
        for p, d, g in zip(opt.params, self.datas, self.grads):
            if p.data is not d or p.grad is not g:
                return False
        for name in opt._state_names:
            items, entry = getattr(opt, name), self.state.get(name)
            if entry is None:
                if items[0] is None:
                    if any(x is not None for x in items):
                        return False
                    continue
                if any(x is None for x in items):
                    return False  # made one by one since (the first step): packed from now on
                self.adopt(opt, name, self.flat(items))
                continue
            for x, y in zip(items, entry[1]):
                if x is not y:
                    return False
        return True


class Optimizer:
    """Holds the parameter list; ``zero_grad()`` clears their gradients."""

    def __init__(self, params: Iterable[Any], lr: float) -> None:
        self.params: List[Any] = list(params)
        if not self.params:
            raise ValueError(f"{type(self).__name__} got an empty parameter list")
        self.lr = _check_rate("lr", lr)
        self.step_count = 0

    def zero_grad(self) -> None:
        for p in self.params:
            p.zero_grad()

    # ---- array parameters packed into one buffer ----

    _state_names: Tuple[str, ...] = ()  # the lists of per-parameter state (SGD's velocity)

    def pack(self) -> Optional[List[np.ndarray]]:
        """Move every parameter into one contiguous array, with its gradient and state.

        Each ``p.data`` becomes a view of one buffer (same numbers), the state arrays
        likewise, and the returned list holds one gradient array per parameter, views of
        one gradient buffer. While every ``p.grad`` is that view (a replayed step writes
        its gradients there, ``microgradnn.tensor.replay``), ``step()`` updates all the
        parameters with one call per formula over the whole buffer: the same numbers as
        the update of each in turn. Otherwise (a new gradient array, weights loaded since)
        it updates them one by one, as before. Returns None, packing nothing, unless
        every parameter is an array of one float dtype and each state list is full or empty.
        """
        packed = self.__dict__.get("_packed")
        if packed is not None and packed.holds_data(self.params):
            return packed.grads
        self.__dict__["_packed"] = packed = _Packed.of(self)
        return None if packed is None else packed.grads

    def _packed_arrays(self) -> Optional["_Packed"]:
        packed = self.__dict__.get("_packed")
        return packed if packed is not None and packed.intact(self) else None

    def _state(self, name: str, i: int) -> Any:
        """State ``name`` of parameter ``i``, or of the packed buffer for ``i == PACKED``."""
        if i == _PACKED:
            return self.__dict__["_packed"].state.get(name, (None,))[0]
        return getattr(self, name)[i]

    def _set_state(self, name: str, i: int, value: Any) -> Any:
        if i == _PACKED:
            self.__dict__["_packed"].adopt(self, name, value)
        else:
            getattr(self, name)[i] = value
        return value

    def _scratch(self, k: int, i: int, like: np.ndarray) -> np.ndarray:
        """Temporary array ``k`` of parameter ``i`` (or of the packed buffer), shaped and
        typed like ``like``: made once and reused, so that a step writes its intermediate
        results (``out=``) instead of allocating them; same numbers as the expressions."""
        slots = self.__dict__.get("_scratch_arrays")
        if slots is None:
            slots = self.__dict__["_scratch_arrays"] = ({}, {})
        tmp = slots[k].get(i)
        if tmp is None or tmp.shape != like.shape or tmp.dtype != like.dtype:
            tmp = slots[k][i] = np.empty_like(like)
        return tmp

    def step(self) -> None:  # pragma: no cover - abstract
        raise NotImplementedError


class SGD(Optimizer):
    """Stochastic gradient descent, PyTorch's ``torch.optim.SGD`` step for step.

    With ``g = grad + weight_decay * p``:

    - plain (``momentum=0``): ``p -= lr * g``;
    - momentum: ``v = g`` on the first step, then ``v = momentum * v + (1 - dampening) * g``;
      ``p -= lr * v``;
    - ``nesterov=True`` (needs ``momentum > 0`` and ``dampening == 0``): ``p -= lr * (g +
      momentum * v)``, the gradient "looked ahead" along the velocity.

    Each ``a + alpha * b`` of an array is one fused multiply-add per element
    (``blas.axpy``), as PyTorch's ``add_(b, alpha=...)``: float32 steps give PyTorch's numbers
    bit for bit (``tests/test_losses_optim.py``), and the update reads each array once.
    """

    def __init__(self, params: Iterable[Any], lr: float, momentum: float = 0.0,
                 weight_decay: float = 0.0, dampening: float = 0.0,
                 nesterov: bool = False) -> None:
        super().__init__(params, lr)
        self.momentum = _check_rate("momentum", momentum, 1.0)
        self.weight_decay = _check_rate("weight_decay", weight_decay)
        self.dampening = _check_rate("dampening", dampening)
        if self.dampening > 1.0:
            raise ValueError(f"dampening must be a number in [0, 1], got {dampening!r}")
        if not isinstance(nesterov, bool):
            raise ValueError(f"nesterov must be True or False, got {nesterov!r}")
        if nesterov and (self.momentum <= 0 or self.dampening != 0):
            raise ValueError(f"nesterov momentum needs momentum > 0 and dampening 0, got "
                             f"momentum {momentum!r} and dampening {dampening!r}")
        self.nesterov = nesterov
        self.velocity: List[Any] = [None] * len(self.params)

    _state_names = ("velocity",)

    def step(self) -> None:
        packed = self._packed_arrays()
        if packed is not None:
            self._update(_PACKED, packed.data, packed.grad)
            self.step_count += 1
            return
        lr, momentum, decay = self.lr, self.momentum, self.weight_decay
        if not (momentum or decay):
            # Plain SGD, the common case: one fused update per array (_update's numbers).
            for p in self.params:
                g = p.grad
                if isinstance(g, np.ndarray):
                    axpy(-lr, g, p.data)
                elif g is not None:
                    p.data -= lr * g
            self.step_count += 1
            return
        keep = 1.0 - self.dampening
        for i, p in enumerate(self.params):
            g = p.grad
            if g is None:
                continue
            if isinstance(g, np.ndarray):
                self._update(i, p.data, g)
                continue
            if decay:
                g = g + decay * p.data
            if momentum:
                v = self.velocity[i]
                v = self.velocity[i] = g if v is None else momentum * v + keep * g
                g = g + momentum * v if self.nesterov else v
            p.data -= lr * g
        self.step_count += 1

    def _update(self, i: int, data: np.ndarray, g: np.ndarray) -> None:
        """One array's update, in place (``i``: its index, or ``_PACKED``)."""
        lr, momentum, decay = self.lr, self.momentum, self.weight_decay
        if decay:  # g + decay * p, into a scratch array (the gradient stays as it is)
            tmp = self._scratch(0, i, g)
            np.copyto(tmp, g)
            axpy(decay, data, tmp)
            g = tmp
        if momentum:
            v = self._state("velocity", i)
            if v is None:
                v = self._set_state("velocity", i, np.array(g, dtype=data.dtype))
            else:
                v *= momentum
                axpy(1.0 - self.dampening, g, v)
            if self.nesterov:  # g + momentum * v, in the scratch array
                tmp = self._scratch(0, i, g)
                if g is not tmp:
                    np.copyto(tmp, g)
                axpy(momentum, v, tmp)
                g = tmp
            else:
                g = v
        axpy(-lr, g, data)


class Adam(Optimizer):
    """Adam (Kingma & Ba), PyTorch's ``torch.optim.Adam`` step for step.

    With ``g = grad + weight_decay * p`` (L2, added to the gradient as PyTorch does) and
    ``t`` the step number: ``m = beta1 * m + (1 - beta1) * g``, ``v = beta2 * v +
    (1 - beta2) * g**2``; ``p -= lr / (1 - beta1**t) * m / (sqrt(v) / sqrt(1 - beta2**t) +
    eps)``. ``amsgrad=True`` divides by the largest ``v`` seen so far instead of ``v``.
    """

    def __init__(self, params: Iterable[Any], lr: float = 1e-3, betas=(0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0.0, amsgrad: bool = False) -> None:
        super().__init__(params, lr)
        if not isinstance(betas, (tuple, list)) or len(betas) != 2:
            raise ValueError(f"betas must be a pair (beta1, beta2), got {betas!r}")
        self.beta1 = _check_rate("betas[0]", betas[0], 1.0)
        self.beta2 = _check_rate("betas[1]", betas[1], 1.0)
        self.eps = _check_rate("eps", eps)
        self.weight_decay = _check_rate("weight_decay", weight_decay)
        if not isinstance(amsgrad, bool):
            raise ValueError(f"amsgrad must be True or False, got {amsgrad!r}")
        self.amsgrad = amsgrad
        self.m: List[Any] = [None] * len(self.params)
        self.v: List[Any] = [None] * len(self.params)
        self.v_max: List[Any] = [None] * len(self.params)

    _state_names = ("m", "v", "v_max")

    def step(self) -> None:
        self.step_count += 1
        t, b1, b2, eps, decay = self.step_count, self.beta1, self.beta2, self.eps, self.weight_decay
        step_size = self.lr / (1.0 - b1 ** t)
        v_correction = math.sqrt(1.0 - b2 ** t)
        packed = self._packed_arrays()
        if packed is not None:
            self._update(_PACKED, packed.data, packed.grad, step_size, v_correction)
            return
        # m moves towards g by (1 - b1), written as PyTorch's lerp (for weights below 1/2).
        w1 = 1.0 - b1
        for i, p in enumerate(self.params):
            g = p.grad
            if g is None:
                continue
            if isinstance(p.data, np.ndarray):
                self._update(i, p.data, g, step_size, v_correction)
                continue
            if decay:
                g = g + decay * p.data
            m = self.m[i] or 0.0
            m = self.m[i] = m + w1 * (g - m) if w1 < 0.5 else g - (g - m) * b1
            v = self.v[i] = b2 * (self.v[i] or 0.0) + (1.0 - b2) * g * g
            if self.amsgrad:
                v = self.v_max[i] = max(v, self.v_max[i] or 0.0)
            p.data -= step_size * m / (math.sqrt(v) / v_correction + eps)

    def _update(self, i: int, data: np.ndarray, g: np.ndarray, step_size: float,
                v_correction: float) -> None:
        """One array's update, in place (``i``: its index, or ``_PACKED``)."""
        b1, b2 = self.beta1, self.beta2
        w1 = 1.0 - b1
        if self.weight_decay:
            g = g + self.weight_decay * data
        m = self._state("m", i)
        if m is None:
            m = self._set_state("m", i, np.zeros_like(data))
            self._set_state("v", i, np.zeros_like(data))
        v = self._state("v", i)
        t1, t2 = self._scratch(0, i, g), self._scratch(1, i, g)
        if w1 < 0.5:  # m += w1 * (g - m), PyTorch's lerp
            np.subtract(g, m, out=t1)
            t1 *= w1
        else:  # m = b1 * m + w1 * g
            m *= b1
            np.multiply(g, w1, out=t1)
        m += t1
        v *= b2
        np.multiply(g, g, out=t1)  # v += (1 - b2) * g * g
        t1 *= 1.0 - b2
        v += t1
        if self.amsgrad:
            v_max = self._state("v_max", i)
            v = self._set_state("v_max", i, v.copy()) if v_max is None \
                else np.maximum(v_max, v, out=v_max)
        # p -= step_size * m / (sqrt(v) / v_correction + eps)
        np.multiply(m, step_size, out=t1)
        np.sqrt(v, out=t2)
        t2 /= v_correction
        t2 += self.eps
        t1 /= t2
        data -= t1
