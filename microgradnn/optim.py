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

    def step(self) -> None:  # pragma: no cover - abstract
        raise NotImplementedError


class SGD(Optimizer):
    """``v = momentum * v + (g + weight_decay * p)``; ``p -= lr * v`` (plain SGD when momentum=0)."""

    def __init__(self, params: Iterable[Any], lr: float, momentum: float = 0.0,
                 weight_decay: float = 0.0) -> None:
        super().__init__(params, lr)
        self.momentum = _check_rate("momentum", momentum, 1.0)
        self.weight_decay = _check_rate("weight_decay", weight_decay)
        self.velocity: List[Any] = [None] * len(self.params)

    def step(self) -> None:
        lr, momentum, decay = self.lr, self.momentum, self.weight_decay
        if not (momentum or decay):
            # Plain SGD, the common case: one fused update per array, no branches.
            for p in self.params:
                g = p.grad
                if g is not None:
                    p.data -= lr * g
            self.step_count += 1
            return
        for i, p in enumerate(self.params):
            g = p.grad
            if g is None:
                continue
            if isinstance(p.data, np.ndarray):
                if decay:
                    g = g + decay * p.data
                if momentum:
                    v = self.velocity[i]
                    if v is None:
                        v = self.velocity[i] = np.array(g, dtype=p.data.dtype)
                    else:
                        v *= momentum
                        v += g
                    g = v
                p.data -= lr * g
            else:
                if decay:
                    g = g + decay * p.data
                if momentum:
                    v = self.velocity[i]
                    g = self.velocity[i] = g if v is None else momentum * v + g
                p.data -= lr * g
        self.step_count += 1


class Adam(Optimizer):
    """Adam (Kingma & Ba) with bias correction; ``weight_decay`` adds ``wd * p`` to the gradient."""

    def __init__(self, params: Iterable[Any], lr: float = 1e-3, betas=(0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0.0) -> None:
        super().__init__(params, lr)
        self.beta1 = _check_rate("betas[0]", betas[0], 1.0)
        self.beta2 = _check_rate("betas[1]", betas[1], 1.0)
        self.eps = _check_rate("eps", eps)
        self.weight_decay = _check_rate("weight_decay", weight_decay)
        self.m: List[Any] = [None] * len(self.params)
        self.v: List[Any] = [None] * len(self.params)

    def step(self) -> None:
        self.step_count += 1
        t, b1, b2, eps, decay = self.step_count, self.beta1, self.beta2, self.eps, self.weight_decay
        step_size = self.lr / (1.0 - b1 ** t)
        v_correction = 1.0 - b2 ** t
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
                m *= b1
                m += (1.0 - b1) * g
                v *= b2
                v += (1.0 - b2) * (g * g)
                p.data -= step_size * m / (np.sqrt(v / v_correction) + eps)
            else:
                m = self.m[i] = b1 * (self.m[i] or 0.0) + (1.0 - b1) * g
                v = self.v[i] = b2 * (self.v[i] or 0.0) + (1.0 - b2) * g * g
                p.data -= step_size * m / (math.sqrt(v / v_correction) + eps)
