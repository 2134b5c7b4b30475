"""Module API, Neuron/Layer/MLP, against PyTorch."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from microgradnn import Value
from microgradnn.nn import MLP, Layer, Neuron


def torch_mlp_forward(model: MLP, x, activation: str):
    """The same network in PyTorch float64, weights from ``model.state_dict()``."""
    state = model.state_dict()
    h = torch.tensor(x, dtype=torch.float64)
    tensors = []
    for i in range(len(model.layers)):
        W = torch.tensor(state[f"layers.{i}.weight"], requires_grad=True)
        b = torch.tensor(state[f"layers.{i}.bias"], requires_grad=True)
        tensors += [W, b]
        h = W @ h + b
        if i < len(model.layers) - 1:
            h = {"relu": torch.relu, "tanh": torch.tanh, "sigmoid": torch.sigmoid,
                 "linear": lambda t: t}[activation](h)
    return h, tensors


def test_classic_mnist_network_has_13002_parameters():
    model = MLP(784, [16, 16, 10], activation="sigmoid")
    assert model.num_parameters() == 13002
    assert "784 -> 16 -> 16 -> 10" in repr(model) and "13002" in repr(model)


def test_named_parameters_are_dotted_paths_and_labels():
    model = MLP(3, [2, 1], seed=0)
    names = [name for name, _ in model.named_parameters()]
    assert names[:4] == ["layers.0.neurons.0.w.0", "layers.0.neurons.0.w.1",
                         "layers.0.neurons.0.w.2", "layers.0.neurons.0.b"]
    assert names[-1] == "layers.1.neurons.0.b"
    assert len(names) == model.num_parameters() == 3 * 2 + 2 + 2 + 1
    for name, p in model.named_parameters():
        assert p.label == name


@pytest.mark.parametrize("activation", ["relu", "tanh", "sigmoid", "linear"])
@pytest.mark.parametrize("fused", [True, False])
def test_mlp_matches_pytorch(activation, fused):
    model = MLP(4, [5, 3, 2], activation=activation, fused=fused, seed=3)
    x = [0.5, -1.25, 2.0, 0.75]
    out = model(x)
    assert isinstance(out, list) and len(out) == 2
    loss = out[0] * out[0] + out[1] * 3.0
    loss.backward()
    t_out, tensors = torch_mlp_forward(model, x, activation)
    (t_out[0] ** 2 + t_out[1] * 3.0).backward()
    assert [o.data for o in out] == pytest.approx(t_out.tolist(), rel=1e-9, abs=1e-12)
    for i, layer in enumerate(model.layers):
        grad_w = np.array([[w.grad for w in n.w] for n in layer.neurons])
        grad_b = np.array([n.b.grad for n in layer.neurons])
        np.testing.assert_allclose(grad_w, tensors[2 * i].grad.numpy(), rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(grad_b, tensors[2 * i + 1].grad.numpy(), rtol=1e-9, atol=1e-12)


def test_single_output_returns_a_value_and_single_neuron_hidden_layer_works():
    model = MLP(2, [1, 1], seed=0)  # micrograd breaks on a 1-neuron hidden layer
    out = model([1.0, 2.0])
    assert isinstance(out, Value)
    out.backward()
    assert model.num_parameters() == 5


def test_zero_grad_clears_every_parameter():
    model = MLP(2, [3, 1], seed=0)
    model([1.0, -1.0]).backward()
    assert any(p.grad != 0 for p in model.parameters())
    model.zero_grad()
    assert all(p.grad == 0 for p in model.parameters())


def test_state_dict_round_trip_and_refusals():
    a, b = MLP(3, [4, 2], seed=1), MLP(3, [4, 2], seed=2)
    state = a.state_dict()
    assert state["layers.0.weight"].shape == (4, 3) and state["layers.1.bias"].shape == (2,)
    b.load_state_dict(state)
    x = [0.1, 0.2, 0.3]
    assert [v.data for v in a(x)] == [v.data for v in b(x)]
    state["layers.0.weight"][0, 0] += 1.0  # a copy: changing it leaves the model alone
    assert a.layers[0].neurons[0].w[0].data != state["layers.0.weight"][0, 0]
    with pytest.raises(ValueError, match=r"'layers.0.weight' has shape \(3, 4\)"):
        b.load_state_dict({**a.state_dict(), "layers.0.weight": np.zeros((3, 4))})
    with pytest.raises(KeyError, match="missing keys \\['layers.1.bias'\\]"):
        b.load_state_dict({k: v for k, v in a.state_dict().items() if k != "layers.1.bias"})
    with pytest.raises(ValueError, match="NaN"):
        b.load_state_dict({**a.state_dict(), "layers.1.bias": np.array([np.nan, 0.0])})


def test_train_eval_flags_reach_every_module():
    model = MLP(2, [2, 1])
    model.eval()
    assert not any(m.training for m in model.modules())
    model.train()
    assert all(m.training for m in model.modules())


def test_seed_makes_initialisation_reproducible():
    assert MLP(2, [3, 1], seed=7).state_dict()["layers.0.weight"].tolist() == \
        MLP(2, [3, 1], seed=7).state_dict()["layers.0.weight"].tolist()


@pytest.mark.parametrize("call,message", [
    (lambda: MLP(2, [3], activation="softmax"), "unknown activation 'softmax'"),
    (lambda: MLP(0, [3]), "nin must be a positive integer, got 0"),
    (lambda: MLP(2, []), "at least one layer"),
    (lambda: Layer(2, 0), "nout must be a positive integer, got 0"),
    (lambda: MLP(2, [3])([1.0]), "MLP expects 2 inputs, got 1"),
    (lambda: Neuron(3)([1.0, 2.0]), "Neuron with 3 inputs got 2 values"),
])
def test_bad_arguments_get_clear_errors(call, message):
    with pytest.raises(ValueError, match=message.replace("[", "\\[").replace("(", "\\(")):
        call()
