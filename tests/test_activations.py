"""The one activation registry: every path and every table reads it, and each entry's
function and derivative agree with finite differences and PyTorch."""

from __future__ import annotations

import math

import numpy as np
import pytest

from microgradnn import activations, nn
from microgradnn.engine import OPS, Value
from microgradnn.expression import FUNCTIONS
from microgradnn.tensor import Tensor, functional, layers, ops

torch = pytest.importorskip("torch")
Z = np.array([-800.0, -30.0, -2.5, -1e-3, 0.3, 2.0, 40.0, 800.0])
TORCH = {"relu": torch.relu, "tanh": torch.tanh, "sigmoid": torch.sigmoid}


@pytest.mark.parametrize("name", activations.names())
def test_each_function_agrees_with_torch_on_both_paths(name):
    act = activations.get(name)
    expected = TORCH[name](torch.tensor(Z)).numpy()
    # the array sigmoid, (1 + tanh(z/2)) / 2, is exact to 1e-16 absolute, not relative
    np.testing.assert_allclose(act.array(Z), expected, rtol=1e-12, atol=1e-16)
    np.testing.assert_allclose([act.scalar(float(z)) for z in Z], expected, rtol=1e-12, atol=0)
    assert act.array(Z.astype(np.float32)).dtype == np.float32


@pytest.mark.parametrize("name", activations.names())
def test_each_derivative_from_the_output_agrees_with_torch_and_finite_differences(name):
    act = activations.get(name)
    z = torch.tensor(Z[1:-1], requires_grad=True)
    TORCH[name](z).sum().backward()
    derivative = np.asarray(act.derivative(act.array(Z[1:-1])), dtype=float)
    np.testing.assert_allclose(derivative, z.grad.numpy(), rtol=1e-12, atol=1e-16)
    h = 1e-6
    for x in (-2.5, 0.3, 2.0):
        numeric = (act.scalar(x + h) - act.scalar(x - h)) / (2 * h)
        assert float(act.derivative(np.array(act.scalar(x)))) == pytest.approx(numeric, rel=1e-6)


@pytest.mark.parametrize("name", activations.names())
def test_the_engine_and_the_tensor_path_use_the_entry(name):
    act = activations.get(name)
    for x in (-2.0, 0.5, 3.0):
        out = getattr(Value(x), name)()
        assert out.op == name and out.data == act.scalar(x)
        assert out.local_grads[0] == pytest.approx(float(act.derivative(np.array(out.data))))
    t = Tensor(Z, requires_grad=True)
    y = getattr(ops, name)(t)
    np.testing.assert_array_equal(y.data, act.array(Z))
    y.sum().backward()
    np.testing.assert_array_equal(t.grad, act.derivative(act.array(Z)) * 1.0)
    assert OPS[name].formula == act.formula and OPS[name].derivatives == (act.derivative_text,)


def test_every_table_holds_the_registry():
    names = set(activations.names())
    assert set(layers.ACTIVATIONS) == names
    assert {cls.activation for cls in layers.ACTIVATIONS.values()} == names
    assert set(nn.ACTIVATIONS) == names | {"linear"}
    assert names <= set(FUNCTIONS) and names <= set(OPS)
    assert {layers.ACTIVATIONS[n].__name__ for n in names} == {activations.get(n).layer
                                                               for n in names}
    assert activations.get("sigmoid").symbol == "σ"


def test_an_unknown_name_is_refused_in_one_line():
    with pytest.raises(ValueError, match=r"unknown activation 'gelu'; choose one of relu, tanh, "
                                         r"sigmoid"):
        activations.get("gelu")


def test_the_sigmoid_never_overflows():
    with np.errstate(all="raise"):
        a = activations.sigmoid_array(np.array([-1e308, 1e308]))
    assert a.tolist() == [0.0, 1.0]
    assert activations.sigmoid_scalar(-1e308) == 0.0 and activations.sigmoid_scalar(1e308) == 1.0


def test_the_one_log_sum_exp_gives_softmax_and_log_softmax_for_huge_scores():
    X = np.array([[1000.0, 0.0, -1000.0], [3.0, 1.0, 0.2]])
    z, e, s = functional.shifted_exp(X, 1)
    expected = torch.log_softmax(torch.tensor(X), 1).numpy()
    np.testing.assert_allclose(z - np.log(s), expected, rtol=1e-12)
    np.testing.assert_allclose(functional.log_softmax(Tensor(X), axis=1).data, expected,
                               rtol=1e-12)
    np.testing.assert_allclose(functional.softmax(Tensor(X), axis=1).data, np.exp(expected),
                               rtol=1e-12)
    assert math.isfinite(float(functional.cross_entropy(Tensor(X), np.array([2, 0])).item()))


def test_viz_finds_ops_through_the_engines_op_table():
    import pathlib
    import re

    from viz.graph.grouping import op_kind

    assert [op_kind(op) for op in ("+", "*", "Σwx+b", "relu", "sigmoid", "exp", "**2", "", "?")] \
        == ["add", "mul", "weighted_sum", "activation", "activation", "exp", "pow", "", ""]
    root = pathlib.Path(__file__).resolve().parents[1] / "viz"
    matching = re.compile(r"""\.op\s*(==|!=|in)\s*[("'\[{]""")
    found = [f"{path.relative_to(root)}:{i}" for path in root.rglob("*.py")
             for i, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
             if matching.search(line)]
    assert found == [], "viz compares op strings instead of asking engine.op_info: " + str(found)
