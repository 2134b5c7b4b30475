"""Toy datasets: shapes, labels, seeds, and that they are the shapes their names say."""

from __future__ import annotations

import numpy as np
import pytest

from microgradnn.datasets import make_circles, make_moons, make_spiral, make_xor


@pytest.mark.parametrize("make,classes", [(make_moons, 2), (make_circles, 2), (make_xor, 2),
                                          (lambda **kw: make_spiral(classes=3, **kw), 3)])
def test_shapes_labels_and_seeds(make, classes):
    X, y = make(n=101, seed=3)
    assert X.shape == (101, 2) and X.dtype == np.float64 and y.shape == (101,)
    assert sorted(set(y.tolist())) == list(range(classes))
    X2, y2 = make(n=101, seed=3)
    assert np.array_equal(X, X2) and np.array_equal(y, y2)
    assert not np.array_equal(X, make(n=101, seed=4)[0])


def test_circles_inner_ring_is_smaller():
    X, y = make_circles(n=200, noise=0.0, factor=0.5)
    radius = np.hypot(X[:, 0], X[:, 1])
    assert np.allclose(radius[y == 0], 1.0) and np.allclose(radius[y == 1], 0.5)


def test_xor_labels_follow_quadrants():
    X, y = make_xor(n=200, noise=0.05)
    assert np.array_equal(y, (X[:, 0] * X[:, 1] < 0).astype(int))


def test_moons_without_noise_lie_on_their_arcs():
    X, y = make_moons(n=100, noise=0.0)
    upper = X[y == 0]
    assert np.allclose(np.hypot(upper[:, 0], upper[:, 1]), 1.0)


@pytest.mark.parametrize("call,message", [
    (lambda: make_moons(n=1), "n must be an integer >= 2, got 1"),
    (lambda: make_moons(noise=-1.0), "noise must be >= 0, got -1.0"),
    (lambda: make_circles(factor=2.0), "factor must be between 0 and 1, got 2.0"),
    (lambda: make_spiral(classes=1), "classes must be an integer >= 2, got 1"),
])
def test_errors(call, message):
    with pytest.raises(ValueError, match=message):
        call()
