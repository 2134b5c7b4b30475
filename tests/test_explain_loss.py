"""The lectures' cost ``sigmoid_mse_loss`` and training with it (``fit(loss=...)``,
``train mnist --loss``): PyTorch parity in float64, finite differences, the checkpoint
records the loss."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from microgradnn import checkpoint
from microgradnn.models import build_model
from microgradnn.optim import SGD
from microgradnn.tensor import Tensor, sigmoid_mse_loss
from microgradnn.tensor.gradcheck import tensor_gradcheck
from microgradnn.training import LOSSES, evaluate, fit, loss_function
from test_training import synthetic_digits  # ten noisy templates, no download

RNG = np.random.default_rng(7)


def torch_cost(z: torch.Tensor, t: np.ndarray, reduction: str) -> torch.Tensor:
    onehot = torch.nn.functional.one_hot(torch.tensor(t), z.shape[1]).to(z.dtype)
    per_example = ((torch.sigmoid(z) - onehot) ** 2).sum(dim=1)
    return per_example.mean() if reduction == "mean" else per_example.sum()


@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_matches_pytorch_forward_and_backward(reduction):
    z = RNG.standard_normal((6, 10)) * 3
    t = RNG.integers(0, 10, 6)
    ours = Tensor(z, requires_grad=True)
    loss = sigmoid_mse_loss(ours, t, reduction=reduction)
    loss.backward()
    theirs = torch.tensor(z, requires_grad=True)
    expected = torch_cost(theirs, t, reduction)
    expected.backward()
    assert loss.data.dtype == np.float64
    np.testing.assert_allclose(loss.item(), expected.item(), rtol=1e-12)
    np.testing.assert_allclose(ours.grad, theirs.grad.numpy(), rtol=1e-10, atol=1e-14)


def test_is_the_sum_over_outputs_not_the_mean():
    z = np.zeros((1, 10))  # every output sigmoid(0) = 0.5
    loss = sigmoid_mse_loss(Tensor(z), [3])
    assert loss.item() == pytest.approx(9 * 0.25 + 0.25)  # nine (0.5 - 0)^2 and one (0.5 - 1)^2


def test_finite_differences():
    z = RNG.standard_normal((3, 4))
    t = np.array([0, 3, 1])
    tensor_gradcheck(lambda a: sigmoid_mse_loss(a, t), [z])


def test_huge_logits_do_not_overflow():
    z = np.array([[1000.0, -1000.0, 0.0]])
    loss = sigmoid_mse_loss(Tensor(z, requires_grad=True), [1])
    assert np.isfinite(loss.item()) and loss.item() == pytest.approx(1 + 1 + 0.25)


@pytest.mark.parametrize("targets, message", [
    ([10], "sigmoid_mse_loss: target class 10 is outside 0..9"),
    ([-1], "sigmoid_mse_loss: target class -1 is outside 0..9"),
    ([0, 1], r"sigmoid_mse_loss: logits of shape \(1, 10\) need targets of shape \(1,\)"),
])
def test_bad_targets_are_named(targets, message):
    with pytest.raises(ValueError, match=message):
        sigmoid_mse_loss(Tensor(np.zeros((1, 10))), targets)


def test_bad_reduction_and_shape():
    with pytest.raises(ValueError, match="reduction must be 'mean' or 'sum', got 'max'"):
        sigmoid_mse_loss(Tensor(np.zeros((1, 10))), [0], reduction="max")
    with pytest.raises(ValueError, match=r"logits must have shape \(N, C\), got \(10,\)"):
        sigmoid_mse_loss(Tensor(np.zeros(10)), [0])


def test_fit_with_mse_learns_and_records_the_loss(tmp_path):
    data = synthetic_digits(600)
    model = build_model({"model": "mlp", "hidden": [16], "activation": "sigmoid", "seed": 0})
    path = tmp_path / "mse.npz"
    history = fit(model, SGD(model.parameters(), lr=2.0), data, epochs=3, batch_size=16,
                  val_data=data, checkpoint=path, progress=False, loss="mse")
    accuracy, _ = evaluate(model, *data)
    assert accuracy > 0.9
    # the recorded test loss is the mean over images of sum_j (a_j - y_j)^2
    saved = checkpoint.load_checkpoint(path)
    assert saved.extra["loss"] == "mse"
    logits = Tensor(np.asarray(model(Tensor(data[0].reshape(-1, 784) / np.float32(255))).data,
                               dtype=np.float64))
    expected = sigmoid_mse_loss(logits, data[1].astype(np.int64)).item()
    assert history[-1]["test_loss"] == pytest.approx(expected, rel=1e-5)
    assert history[0]["train_loss"] > history[-1]["train_loss"]


def test_fit_records_cross_entropy_by_default(tmp_path):
    data = synthetic_digits(64)
    model = build_model({"model": "mlp", "hidden": [8], "seed": 0})
    fit(model, SGD(model.parameters(), lr=0.1), data, epochs=1, checkpoint=tmp_path / "ce.npz",
        progress=False)
    assert checkpoint.load_checkpoint(tmp_path / "ce.npz").extra["loss"] == "cross-entropy"


def test_unknown_loss_is_refused():
    assert sorted(LOSSES) == ["cross-entropy", "mse"]
    with pytest.raises(ValueError, match=r"loss must be one of \['cross-entropy', 'mse'\], got 'l1'"):
        loss_function("l1")
    model = build_model({"model": "mlp", "hidden": [4], "seed": 0})
    with pytest.raises(ValueError, match="got 'hinge'"):
        fit(model, SGD(model.parameters(), lr=0.1), synthetic_digits(8), 1, progress=False,
            loss="hinge")


def test_cli_train_mse_writes_it_into_the_checkpoint(tmp_path, monkeypatch, capsys):
    from microgradnn import cli
    from microgradnn.datasets import mnist

    data = synthetic_digits(64)
    monkeypatch.setattr(mnist, "load_mnist", lambda split, root=None, progress=True: data)
    path = tmp_path / "m.npz"
    assert cli.main(["train", "mnist", "--loss", "mse", "--hidden", "8", "--epochs", "1",
                     "--quiet", "--save", str(path)]) == 0
    assert "cost the lectures' cost (C = Σ_j (a[L][j] - y[j])²" in capsys.readouterr().out
    assert checkpoint.load_checkpoint(path).extra["loss"] == "mse"
    assert checkpoint.load_checkpoint(path).spec["loss"] == "mse"
    with pytest.raises(SystemExit):
        cli.main(["train", "mnist", "--loss", "l1"])
