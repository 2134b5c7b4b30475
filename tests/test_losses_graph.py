"""The losses of one sample are drawn as the textbook writes them.

No plumbing node a learner has to decode: no ``0 +`` from ``sum(..., 0)``, no ``/ 1``
for a batch of one, no ``* 1.0``, no ``- 0`` shift; targets are leaves named ``y[j]``.
The numbers and gradients are those of the plain formulas (checked against a direct
reference built the long way).
"""

from __future__ import annotations

import math
import random

import pytest

from microgradnn import losses
from microgradnn.autodiff import topological_order
from microgradnn.engine import Value


def _vals(xs):
    return [Value(x, label=f"p{i}") for i, x in enumerate(xs)]


def _plumbing(root):
    """Nodes that only plumb: an op whose operand is a constant 0 (for + and -) or 1
    (for * and /)."""
    found = []
    for v in topological_order(root):
        consts = [o.data for o in v.operands if not o.operands and not o.label]
        if v.op in ("+", "-") and 0.0 in consts:
            found.append(f"{v.op} 0")
        if v.op in ("*", "/") and 1.0 in consts:
            found.append(f"{v.op} 1")
    return found


def _reference(kind, ps, ts):
    """The long way, as the losses used to build it (sum from 0, divide by n)."""
    n = len(ps)
    if kind == "mse":
        return sum(((p - t) ** 2 for p, t in zip(ps, ts)), Value(0.0)) / n
    if kind == "hinge":
        return sum(((1 + -y * s).relu() for s, y in zip(ps, ts)), Value(0.0)) / n
    if kind == "bce":
        total = Value(0.0)
        for p, y in zip(ps, ts):
            total = total - (y * p.log() + (1.0 - y) * (1.0 - p).log())
        return total / n
    raise AssertionError(kind)


def _check_same(kind, xs, ts):
    a, b = _vals(xs), _vals(xs)
    ours = {"mse": losses.mse_loss, "hinge": losses.hinge_loss,
            "bce": losses.binary_cross_entropy}[kind](a, ts)
    ref = _reference(kind, b, ts)
    ours.backward()
    ref.backward()
    assert ours.data == pytest.approx(ref.data, rel=1e-12, abs=1e-15)
    for u, v in zip(a, b):
        assert u.grad == pytest.approx(v.grad, rel=1e-12, abs=1e-15)
    return ours


@pytest.mark.parametrize("n", [1, 3])
def test_mse_same_numbers_no_plumbing_and_targets_named_y(n):
    rng = random.Random(n)
    out = _check_same("mse", [rng.uniform(-1, 1) for _ in range(n)], [1.0] + [0.0] * (n - 1))
    if n == 1:
        assert _plumbing(out) == [] and out.op == "**2"
    labels = {v.label for v in topological_order(out) if not v.operands}
    assert {f"y[{j}]" for j in range(n)} <= labels


@pytest.mark.parametrize("ts", [[1], [-1], [1, -1, -1]])
def test_hinge_same_numbers_no_times_one(ts):
    rng = random.Random(len(ts))
    out = _check_same("hinge", [rng.uniform(-2, 2) for _ in ts], ts)
    assert _plumbing(out) == []
    assert not any(v.op == "neg" for v in topological_order(out))


@pytest.mark.parametrize("ts", [[1.0], [0.0], [0.3], [1.0, 0.0, 0.7]])
def test_bce_same_numbers_only_the_live_term(ts):
    rng = random.Random(len(ts))
    out = _check_same("bce", [rng.uniform(0.05, 0.95) for _ in ts], ts)
    assert _plumbing(out) == []
    if ts == [1.0]:
        assert [v.op for v in topological_order(out) if v.operands] == ["log", "neg"]


@pytest.mark.parametrize("logits", [[0.5, -1.0, 2.0], [0.0, -1.0, -3.0], [1000.0, 998.0, 990.0],
                                    [-900.0, -901.0, -905.0]])
def test_cross_entropy_of_one_sample_same_numbers_no_plumbing(logits):
    z = _vals(logits)
    loss = losses.cross_entropy(z, 2)
    loss.backward()
    m = max(logits)
    lse = m + math.log(sum(math.exp(v - m) for v in logits))
    assert loss.data == pytest.approx(lse - logits[2], rel=1e-12)
    soft = [math.exp(v - lse) for v in logits]
    for j, v in enumerate(z):
        assert v.grad == pytest.approx(soft[j] - (j == 2), rel=1e-10, abs=1e-15)
    assert _plumbing(loss) == []
    constants = [v for v in topological_order(loss) if not v.operands and not v.label]
    assert (constants == []) == (abs(m) <= 30)  # the shift only where exp needs it


def test_a_batch_still_averages():
    z = [_vals([0.1, 0.2]), _vals([0.3, -0.4])]
    loss = losses.cross_entropy(z, [0, 1])
    assert loss.op == "/"
    assert loss.data == pytest.approx(
        sum(math.log(math.exp(a) + math.exp(b)) - t for (a, b), t in
            [((0.1, 0.2), 0.1), ((0.3, -0.4), -0.4)]) / 2)


def test_l2_penalty_has_no_leading_zero():
    ps = _vals([1.0, -2.0])
    pen = losses.l2_penalty(ps, 0.1)
    pen.backward()
    assert pen.data == pytest.approx(0.5) and _plumbing(pen) == []
    assert [p.grad for p in ps] == pytest.approx([0.2, -0.4])
    assert losses.l2_penalty([], 0.1).data == 0.0
