"""Optimizers for scalar ``Value`` parameters and array (``Tensor``) parameters alike.

A parameter is anything with ``.data`` and ``.grad``: floats for a ``Value``, numpy
arrays for a ``Tensor`` (whose ``grad`` may be ``None`` when no gradient reached it;
such a parameter is skipped, as PyTorch does). The update formulas are PyTorch's.
Array state is updated in place so a step allocates almost nothing.
"""

from __future__ import annotations

import math
from typing import Any, Iterable, List, Optional

import numpy as np

__all__ = ["Optimizer", "SGD", "Adam"]


def _check_rate(name: str, value: float, upper: Optional[float] = None) -> float:
    if not isinstance(value, (int, float)) or math.isnan(value) or value < 0 or (upper is not None and value >= upper):
        bound = f" and below {upper}" if upper is not None else ""
        raise ValueError(f"{name} must be a number >= 0{bound}, got {value!r}")
    return float(value)


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

    def _scratch(self, k: int, i: int, like: np.ndarray) -> np.ndarray:
        """Temporary array ``k`` of parameter ``i``, shaped and typed like ``like``: made
        once and reused, so that a step writes its intermediate results (``out=``) instead
        of allocating them; same numbers as the expressions written out."""
        slots = self.__dict__.get("_scratch_arrays")
        if slots is None:
            slots = self.__dict__["_scratch_arrays"] = ([None] * len(self.params),
                                                        [None] * len(self.params))
        tmp = slots[k][i]
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

    def step(self) -> None:
        lr, momentum, decay = self.lr, self.momentum, self.weight_decay
        keep = 1.0 - self.dampening
        nesterov = self.nesterov
        for i, p in enumerate(self.params):
            g = p.grad
            if g is None:
                continue
            if not isinstance(g, np.ndarray):
                if decay:
                    g = g + decay * p.data
                if momentum:
                    v = self.velocity[i]
                    v = self.velocity[i] = g if v is None else momentum * v + keep * g
                    g = g + momentum * v if nesterov else v
                p.data -= lr * g
                continue
            tmp = self._scratch(0, i, g)
            if decay:
                g = g + decay * p.data
            if momentum:
                v = self.velocity[i]
                if v is None:
                    v = self.velocity[i] = np.array(g, dtype=p.data.dtype)
                else:
                    v *= momentum
                    if keep == 1.0:
                        v += g
                    else:
                        np.multiply(g, keep, out=tmp)
                        v += tmp
                if nesterov:  # g + momentum * v
                    np.multiply(v, momentum, out=tmp)
                    g = np.add(g, tmp, out=tmp)
                else:
                    g = v
            np.multiply(g, lr, out=tmp)  # lr * g
            p.data -= tmp
        self.step_count += 1


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

    def step(self) -> None:
        self.step_count += 1
        t, b1, b2, eps, decay = self.step_count, self.beta1, self.beta2, self.eps, self.weight_decay
        step_size = self.lr / (1.0 - b1 ** t)
        v_correction = math.sqrt(1.0 - b2 ** t)
        # m moves towards g by (1 - b1), written as PyTorch's lerp (for weights below 1/2).
        w1 = 1.0 - b1
        for i, p in enumerate(self.params):
            g = p.grad
            if g is None:
                continue
            if decay:
                g = g + decay * p.data
            if isinstance(p.data, np.ndarray):
                if self.m[i] is None:
                    self.m[i] = np.zeros_like(p.data)
                    self.v[i] = np.zeros_like(p.data)
                m, v = self.m[i], self.v[i]
                t1, t2 = self._scratch(0, i, g), self._scratch(1, i, g)
                if w1 < 0.5:  # m += w1 * (g - m)
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
                    v = self.v_max[i] = v.copy() if self.v_max[i] is None \
                        else np.maximum(self.v_max[i], v, out=self.v_max[i])
                # p -= step_size * m / (sqrt(v) / v_correction + eps)
                np.multiply(m, step_size, out=t1)
                np.sqrt(v, out=t2)
                t2 /= v_correction
                t2 += eps
                t1 /= t2
                p.data -= t1
            else:
                m = self.m[i] or 0.0
                m = self.m[i] = m + w1 * (g - m) if w1 < 0.5 else g - (g - m) * b1
                v = self.v[i] = b2 * (self.v[i] or 0.0) + (1.0 - b2) * g * g
                if self.amsgrad:
                    v = self.v_max[i] = max(v, self.v_max[i] or 0.0)
                p.data -= step_size * m / (math.sqrt(v) / v_correction + eps)
