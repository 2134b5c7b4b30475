"""One definition of each cost, the same number in every view (``microgradnn.costs``).

The lectures' cost ``C = Σ_j (a[L][j] - y[j])²`` (summed over the outputs, the mean of C
over a batch) and cross-entropy ``C = -log softmax(z[L])[y]``: the scalar losses, the
vectorized path, a checkpoint's spec, the bridge to the scalar MLP and the neuron-level
stepper of one digit agree to 1e-9 in float64, with the output sigmoid in place.
"""

import os
from pathlib import Path

import numpy as np
import pytest

from microgradnn import Value, losses
from microgradnn.checkpoint import load_checkpoint, save
from microgradnn.costs import COSTS, cost_of, get_cost
from microgradnn.models import build_model
from microgradnn.optim import SGD
from microgradnn.tensor import (Linear, Sequential, Sigmoid, Tensor, mlp_from_sequential,
                                quadratic_cost, sigmoid_mse_loss)
from microgradnn.training import fit, to_input

torch = pytest.importorskip("torch")
RNG = np.random.default_rng(7)


def test_the_lectures_cost_sums_over_outputs_and_averages_over_examples():
    a = RNG.uniform(size=(3, 10))
    labels = np.array([1, 7, 0])
    y = np.eye(10)[labels]
    expected = ((a - y) ** 2).sum(axis=1).mean()
    scalar = losses.quadratic_cost([[Value(v) for v in row] for row in a], labels.tolist())
    tensor = quadratic_cost(Tensor(a), labels)
    assert scalar.data == pytest.approx(expected, abs=1e-12)
    assert float(tensor.data) == pytest.approx(expected, abs=1e-12)
    assert float(quadratic_cost(Tensor(a), y, reduction="sum").data) == pytest.approx(3 * expected)
    one = losses.quadratic_cost([Value(v) for v in a[1]], 7)  # one example: C itself
    assert one.data == pytest.approx(((a[1] - y[1]) ** 2).sum(), abs=1e-12)
    # sigmoid_mse_loss is the same cost on the logits, with the sigmoid inside
    z = RNG.normal(size=(3, 10))
    assert float(sigmoid_mse_loss(Tensor(z), labels).data) == pytest.approx(
        float(quadratic_cost(Tensor(1 / (1 + np.exp(-z))), labels).data), abs=1e-12)


def test_quadratic_cost_gradient_matches_pytorch():
    a = RNG.uniform(size=(4, 10))
    labels = np.array([3, 3, 9, 0])
    ours = Tensor(a, requires_grad=True)
    quadratic_cost(ours, labels).backward()
    theirs = torch.tensor(a, requires_grad=True)
    y = torch.nn.functional.one_hot(torch.tensor(labels), 10).double()
    ((theirs - y) ** 2).sum(dim=1).mean().backward()
    np.testing.assert_allclose(ours.grad, theirs.grad.numpy(), atol=1e-12)


def test_mse_loss_keeps_pytorchs_meaning_with_a_reduction():
    p, t = RNG.normal(size=5), RNG.normal(size=5)
    for reduction in ("mean", "sum"):
        ours = losses.mse_loss([Value(v) for v in p], t.tolist(), reduction=reduction)
        theirs = torch.nn.functional.mse_loss(torch.tensor(p), torch.tensor(t),
                                              reduction=reduction)
        assert ours.data == pytest.approx(float(theirs), abs=1e-12)
    with pytest.raises(ValueError, match="reduction must be 'mean' or 'sum', got 'none'"):
        losses.mse_loss([Value(1.0)], [0.0], reduction="none")
    with pytest.raises(ValueError, match="target 10 is not a class index"):
        losses.quadratic_cost([Value(0.5)] * 10, 10)


def test_a_checkpoint_carries_its_cost_and_old_ones_are_inferred(tmp_path):
    model = build_model({"model": "mlp", "hidden": [4], "loss": "mse"})
    path = save(model, tmp_path / "new.npz", model.spec)
    assert cost_of(load_checkpoint(path)) is COSTS["mse"]
    assert cost_of(load_checkpoint(path).model).name == "mse"
    old_spec = {k: v for k, v in model.spec.items() if k != "loss"}  # before the spec had it
    save(model, tmp_path / "old_mse.npz", old_spec, extra={"loss": "mse"})
    save(model, tmp_path / "old_ce.npz", old_spec, extra={})
    assert cost_of(load_checkpoint(tmp_path / "old_mse.npz")).name == "mse"
    assert cost_of(load_checkpoint(tmp_path / "old_ce.npz")).name == "cross-entropy"
    with pytest.raises(ValueError, match="loss must be one of"):
        build_model({"model": "mlp", "loss": "hinge"})
    with pytest.raises(ValueError, match="loss must be one of"):
        get_cost("l1")


def test_fit_records_the_cost_it_trained_with(tmp_path):
    model = build_model({"model": "mlp", "hidden": [4]})
    images = RNG.integers(0, 256, (16, 28, 28), dtype=np.uint8)
    fit(model, SGD(model.parameters(), lr=0.1), (images, np.arange(16) % 10), epochs=1,
        progress=False, loss="mse", checkpoint=tmp_path / "m.npz")
    assert model.spec["loss"] == "mse"
    assert load_checkpoint(tmp_path / "m.npz").model.spec["loss"] == "mse"


def test_the_bridge_keeps_the_output_sigmoid_of_an_mse_model():
    mse = build_model({"model": "mlp", "hidden": [4], "loss": "mse"})
    assert mlp_from_sequential(mse).output_activation == "sigmoid"
    assert mlp_from_sequential(mse, output_activation="linear").output_activation == "linear"
    ce = build_model({"model": "mlp", "hidden": [4]})
    assert mlp_from_sequential(ce).output_activation == "linear"


def _trained(loss: str):
    """A 784-16-16-10 sigmoid MLP after a few steps with ``loss`` (weights away from init)."""
    model = build_model({"model": "mlp", "hidden": [16, 16], "activation": "sigmoid",
                         "loss": loss})
    images = RNG.integers(0, 256, (64, 28, 28), dtype=np.uint8)
    fit(model, SGD(model.parameters(), lr=0.5), (images, np.arange(64) % 10), epochs=1,
        batch_size=16, progress=False)
    return model


def _float64_reference(model, image, label):
    """C, every ∂C/∂W and ∂C/∂b of ``image`` on the vectorized path in float64: the model's
    own layers' weights, its own training loss (``cost.tensor``), no scalar engine."""
    layers = [m for m in model if isinstance(m, Linear)]
    copies = []
    for layer in layers:
        twin = Linear(layer.in_features, layer.out_features, dtype=np.float64)
        twin.load_state_dict({k: v.astype(np.float64) for k, v in layer.state_dict().items()})
        copies.append(twin)
    net = Sequential(copies[0], Sigmoid(), copies[1], Sigmoid(), copies[2])
    x = Tensor(to_input(image[None], (784,), "unit").astype(np.float64))
    loss = cost_of(model).tensor(net(x), np.array([label]))
    loss.backward()
    return float(loss.data), [(t.weight.grad, t.bias.grad) for t in copies]


@pytest.mark.parametrize("loss", ["mse", "cross-entropy"])
def test_the_stepper_the_bridge_and_the_tensor_path_agree_to_1e_9(loss):
    viz = pytest.importorskip("viz")
    model = _trained(loss)
    image = RNG.integers(0, 256, (28, 28), dtype=np.uint8)
    page = viz.step_digit(model, image, 4)
    run = page.backward
    assert run.cost.name == loss
    assert run.mlp.output_activation == ("sigmoid" if loss == "mse" else "linear")
    c, grads = _float64_reference(model, image, 4)
    assert abs(run.loss.data - c) < 1e-9
    for layer, (gw, gb) in zip(run.mlp.layers, grads):
        ours_w = np.array([[w.grad for w in n.w] for n in layer.neurons])
        ours_b = np.array([n.b.grad for n in layer.neurons])
        np.testing.assert_allclose(ours_w, gw, rtol=0, atol=1e-9)
        np.testing.assert_allclose(ours_b, gb, rtol=0, atol=1e-9)
    # the page prints the cost it stepped, its formula and its value
    from microgradnn.engine import format_number
    assert get_cost(loss).formula in page.title
    assert f"C = {format_number(c)}" in page.title


def test_predict_shows_percentages_only_for_softmax_outputs(tmp_path, capsys):
    from microgradnn.cli import main
    for loss in ("mse", "cross-entropy"):
        model = build_model({"model": "mlp", "hidden": [4], "loss": loss})
        path = save(model, tmp_path / f"{loss}.npz", model.spec)
        assert main(["predict", str(path), "--noise"]) == 0
        out = capsys.readouterr().out
        assert get_cost(loss).formula in out
        if loss == "mse":
            assert "%" not in out and "softmax" not in out
            assert out.count("output activation a[L][") == 3
        else:
            assert out.count("%  probability") == 3 and "softmax always sums to 1" in out


MNIST_DIR = os.environ.get("MICROGRADNN_DATA", "")


@pytest.mark.mnist
@pytest.mark.skipif(not (MNIST_DIR and Path(MNIST_DIR, "t10k-labels-idx1-ubyte.gz").exists()),
                    reason="MNIST files not found: set MICROGRADNN_DATA")
@pytest.mark.parametrize("loss", ["mse", "cross-entropy"])
def test_a_short_run_of_the_readme_recipe_agrees_on_a_test_image(loss, tmp_path):
    """The README's explain recipe (784-16-16-10 sigmoid, Adam 0.003, batch 32), one epoch on
    the first 3,000 training images, saved and loaded: test image 7 stepped by the scalar
    engine equals the float64 vectorized path to 1e-9, C and every gradient."""
    viz = pytest.importorskip("viz")
    from microgradnn.datasets import load_mnist
    from microgradnn.optim import Adam
    train_x, train_y = load_mnist("train", progress=False)
    test_x, test_y = load_mnist("test", progress=False)
    model = build_model({"model": "mlp", "hidden": [16, 16], "activation": "sigmoid",
                         "loss": loss})
    fit(model, Adam(model.parameters(), lr=0.003), (train_x[:3000], train_y[:3000]), epochs=1,
        batch_size=32, progress=False, checkpoint=tmp_path / "m.npz")
    saved = load_checkpoint(tmp_path / "m.npz")
    label = int(test_y[7])
    run = viz.step_digit(saved, test_x[7], label).backward
    assert run.cost.name == loss
    c, grads = _float64_reference(saved.model, test_x[7], label)
    assert abs(run.loss.data - c) < 1e-9
    for layer, (gw, gb) in zip(run.mlp.layers, grads):
        np.testing.assert_allclose([[w.grad for w in n.w] for n in layer.neurons], gw,
                                   rtol=0, atol=1e-9)
        np.testing.assert_allclose([n.b.grad for n in layer.neurons], gb, rtol=0, atol=1e-9)
