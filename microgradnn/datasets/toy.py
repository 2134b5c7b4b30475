"""Seeded 2-D toy classification problems, made with numpy alone.

Each returns ``(X, y)``: ``X`` float64 of shape (n, 2), ``y`` int64 class labels
of shape (n,). The same ``seed`` gives the same points.
"""

from __future__ import annotations

from typing import Tuple

import numpy as np

__all__ = ["make_moons", "make_circles", "make_spiral", "make_xor"]

Dataset = Tuple[np.ndarray, np.ndarray]


def _check(n: int, noise: float) -> None:
    if not isinstance(n, (int, np.integer)) or n < 2:
        raise ValueError(f"n must be an integer >= 2, got {n!r}")
    if not noise >= 0:
        raise ValueError(f"noise must be >= 0, got {noise!r}")


def make_moons(n: int = 100, noise: float = 0.1, seed: int = 0) -> Dataset:
    """Two interleaving half circles; labels 0 (upper) and 1 (lower)."""
    _check(n, noise)
    rng = np.random.default_rng(seed)
    n_upper = n // 2
    n_lower = n - n_upper
    t_upper = np.linspace(0, np.pi, n_upper)
    t_lower = np.linspace(0, np.pi, n_lower)
    upper = np.stack([np.cos(t_upper), np.sin(t_upper)], axis=1)
    lower = np.stack([1 - np.cos(t_lower), 0.5 - np.sin(t_lower)], axis=1)
    X = np.concatenate([upper, lower]) + rng.normal(scale=noise, size=(n, 2))
    y = np.concatenate([np.zeros(n_upper, np.int64), np.ones(n_lower, np.int64)])
    order = rng.permutation(n)
    return X[order], y[order]


def make_circles(n: int = 100, noise: float = 0.05, factor: float = 0.5, seed: int = 0) -> Dataset:
    """A ring (label 0) around a smaller ring (label 1) scaled by ``factor``."""
    _check(n, noise)
    if not 0 < factor < 1:
        raise ValueError(f"factor must be between 0 and 1, got {factor!r}")
    rng = np.random.default_rng(seed)
    n_outer = n // 2
    n_inner = n - n_outer
    t_outer = np.linspace(0, 2 * np.pi, n_outer, endpoint=False)
    t_inner = np.linspace(0, 2 * np.pi, n_inner, endpoint=False)
    outer = np.stack([np.cos(t_outer), np.sin(t_outer)], axis=1)
    inner = factor * np.stack([np.cos(t_inner), np.sin(t_inner)], axis=1)
    X = np.concatenate([outer, inner]) + rng.normal(scale=noise, size=(n, 2))
    y = np.concatenate([np.zeros(n_outer, np.int64), np.ones(n_inner, np.int64)])
    order = rng.permutation(n)
    return X[order], y[order]


def make_spiral(n: int = 150, classes: int = 3, noise: float = 0.2, seed: int = 0) -> Dataset:
    """``classes`` arms spiralling out from the origin (CS231n's toy problem)."""
    _check(n, noise)
    if not isinstance(classes, int) or classes < 2:
        raise ValueError(f"classes must be an integer >= 2, got {classes!r}")
    rng = np.random.default_rng(seed)
    X = np.zeros((n, 2))
    y = np.zeros(n, np.int64)
    per_class = np.array_split(np.arange(n), classes)
    for c, idx in enumerate(per_class):
        r = np.linspace(0.0, 1.0, len(idx))
        t = np.linspace(c * 4.0, (c + 1) * 4.0, len(idx)) + rng.normal(scale=noise, size=len(idx))
        X[idx] = np.stack([r * np.sin(t), r * np.cos(t)], axis=1)
        y[idx] = c
    order = rng.permutation(n)
    return X[order], y[order]


def make_xor(n: int = 100, noise: float = 0.1, seed: int = 0) -> Dataset:
    """Points around the four corners of [-1, 1]^2; label 1 where x*y < 0."""
    _check(n, noise)
    rng = np.random.default_rng(seed)
    corners = rng.choice([-1.0, 1.0], size=(n, 2))
    X = corners + rng.normal(scale=noise, size=(n, 2))
    y = (corners[:, 0] * corners[:, 1] < 0).astype(np.int64)
    return X, y
