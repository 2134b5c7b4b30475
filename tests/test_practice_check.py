"""``microgradnn.practice.check``: exact, approximate (largest difference), wrong (shape or the
worst entry), missing; one line printed, a result returned."""

from __future__ import annotations

import numpy as np
import pytest

from microgradnn.engine import Value
from microgradnn.practice import CheckResult, check
from microgradnn.tensor import Linear, Sigmoid, Sequential, Tensor


def grads():
    """A batch through Linear -> Sigmoid: (x, delta, a, W, the engine's dC/dW and dC/dz)."""
    rng = np.random.default_rng(1)
    net = Sequential(Linear(5, 5, dtype=np.float64, rng=rng), Sigmoid())
    x = rng.normal(size=(4, 5))
    z = net[0](Tensor(x))
    a = net[1](z)
    (a * a).sum().backward()
    return x, z.grad, net[0].weight.data, net[0].weight.grad, a.data


def test_exact_and_approximate(capsys):
    x, delta, _, dW, _ = grads()
    result = check("dW", delta.T @ x, dW)
    assert result.verdict in ("exact", "approximate") and result
    assert check("same", dW.copy(), dW).verdict == "exact"
    nudged = dW.copy()
    nudged[2, 3] *= 1 + 1e-9
    r = check("dW", nudged, dW)
    assert r.verdict == "approximate" and r.where == (2, 3) and 0 < r.max_diff < 1e-8
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 3 and out[2] == r.message and "largest difference" in out[2]
    assert "at [2, 3]" in out[2]


def test_a_planted_transpose_is_wrong_naming_the_entry():
    x, delta, _, dW, _ = grads()
    mine = (delta.T @ x).T  # 5x5: the shape cannot tell
    r = check("∂C/∂W[1]", mine, dW, quiet=True)
    worst = np.unravel_index(np.argmax(np.abs(mine - dW)), dW.shape)
    assert r.verdict == "wrong" and not r and r.where == tuple(int(i) for i in worst)
    assert r.message.startswith("wrong") and f"at [{worst[0]}, {worst[1]}] yours is " in r.message
    assert f"{mine[worst]:.6g}" in r.message and f"{dW[worst]:.6g}" in r.message


def test_a_planted_missing_factor_is_wrong_naming_the_entry():
    x, delta, _, dW, a = grads()
    mine = ((delta / (a * (1 - a))).T @ x)  # σ'(z) left out
    r = check("∂C/∂W[1]", mine, dW, quiet=True)
    assert r.verdict == "wrong" and r.where is not None and len(r.where) == 2
    assert "at [" in r.message and "the reference" in r.message


def test_wrong_shape_names_both():
    r = check("db", np.zeros((5, 1)), np.zeros(5), quiet=True)
    assert r.verdict == "wrong" and r.message.endswith("shape (5, 1), the reference's is (5,)")


def test_missing_nan_scalars_values_and_tensors(capsys):
    assert check("δ", None, np.ones(3)).verdict == "missing"
    assert "not done yet" in capsys.readouterr().out
    r = check("v", np.array([1.0, np.nan]), np.array([1.0, 2.0]), quiet=True)
    assert r.verdict == "wrong" and r.where == (1,) and r.max_diff == np.inf
    v = Value(2.0)
    assert check("scalar", 2.0, v, quiet=True).verdict == "exact"
    assert check("numpy scalar", np.float64(2.0), v, quiet=True).verdict == "exact"
    assert check("tensor", Tensor(np.ones(3)), np.ones(3), quiet=True).verdict == "exact"
    assert check("0-d", 1.5, 2.5, quiet=True).message.endswith(
        "at the value yours is 1.5, the reference 2.5 (largest difference 1)")
    assert isinstance(check("e", np.ones(0), np.ones(0), quiet=True), CheckResult)


def test_not_numbers_is_one_clear_error():
    with pytest.raises(TypeError, match="check dW: yours must be numbers .* got str"):
        check("dW", "oops", np.ones(2))
