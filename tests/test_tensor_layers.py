"""Layers: the Module API, agreement with torch.nn, finite differences, and training."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from microgradnn.optim import SGD, Adam
from microgradnn.tensor import (Dropout, Flatten, Linear, ReLU, Sequential, Sigmoid, Tanh, Tensor,
                                cross_entropy, linear)
from microgradnn.tensor.gradcheck import tensor_gradcheck


def mlp(dtype=np.float64, seed=0, act=Sigmoid):
    rng = np.random.default_rng(seed)
    return Sequential(Linear(6, 5, dtype=dtype, rng=rng), act(), Linear(5, 4, dtype=dtype, rng=rng),
                      act(), Linear(4, 3, dtype=dtype, rng=rng))


def torch_copy(net):
    layers = []
    for m in net:
        if isinstance(m, Linear):
            layers.append(torch.nn.Linear(m.in_features, m.out_features, dtype=torch.float64))
        else:
            layers.append({"Sigmoid": torch.nn.Sigmoid, "ReLU": torch.nn.ReLU,
                           "Tanh": torch.nn.Tanh, "Flatten": torch.nn.Flatten}[type(m).__name__]())
    tnet = torch.nn.Sequential(*layers)
    tnet.load_state_dict({k: torch.tensor(v, dtype=torch.float64)
                          for k, v in net.state_dict().items()})
    return tnet


def test_module_api_names_and_counts():
    net = mlp()
    names = [n for n, _ in net.named_parameters()]
    assert names == ["0.weight", "0.bias", "2.weight", "2.bias", "4.weight", "4.bias"]
    assert net.num_parameters() == 6 * 5 + 5 + 5 * 4 + 4 + 4 * 3 + 3
    assert set(net.state_dict()) == set(names)
    assert len(net) == 5 and isinstance(net[0], Linear) and isinstance(net[-1], Linear)
    text = repr(net)
    assert "(0): Linear(6, 5, bias=True)" in text and "(1): Sigmoid()" in text


def test_state_dict_round_trip_and_copy_semantics():
    a, b = mlp(seed=0), mlp(seed=1)
    state = a.state_dict()
    state["0.weight"][0, 0] = 123.0  # a copy: the model is untouched
    assert a[0].weight.data[0, 0] != 123.0
    b.load_state_dict(a.state_dict())
    x = np.random.default_rng(2).standard_normal((4, 6))
    np.testing.assert_array_equal(a(Tensor(x)).data, b(Tensor(x)).data)
    with pytest.raises(ValueError, match="0.weight"):
        b.load_state_dict({**a.state_dict(), "0.weight": np.zeros((2, 2))})


@pytest.mark.parametrize("act", [Sigmoid, ReLU, Tanh])
def test_mlp_matches_torch_forward_and_backward(act):
    net = mlp(act=act)
    tnet = torch_copy(net)
    rng = np.random.default_rng(3)
    x = rng.standard_normal((7, 6))
    y = rng.integers(0, 3, 7)
    loss = cross_entropy(net(Tensor(x)), y)
    loss.backward()
    tloss = torch.nn.functional.cross_entropy(tnet(torch.tensor(x)), torch.tensor(y))
    tloss.backward()
    assert loss.item() == pytest.approx(tloss.item(), rel=1e-12)
    for (name, p), tp in zip(net.named_parameters(), tnet.parameters()):
        np.testing.assert_allclose(p.grad, tp.grad.numpy(), rtol=1e-9, atol=1e-13, err_msg=name)


def test_mlp_gradients_match_finite_differences():
    net = mlp()
    x = np.random.default_rng(4).standard_normal((3, 6))
    y = np.array([0, 2, 1])

    def f(w0, b0, inp):  # the first layer's parameters and the input as variables
        h = linear(inp, w0, b0).sigmoid()
        for module in list(net)[2:]:
            h = module(h)
        return cross_entropy(h, y)

    tensor_gradcheck(f, [net[0].weight.data.copy(), net[0].bias.data.copy(), x])


def test_flatten_and_linear_on_images():
    x = np.random.default_rng(5).standard_normal((2, 3, 4, 5))
    net = Sequential(Flatten(), Linear(60, 2, dtype=np.float64))
    assert net(Tensor(x)).shape == (2, 2)
    tensor_gradcheck(lambda t: Flatten()(t) * 2, [x])


def test_linear_without_bias():
    layer = Linear(4, 2, bias=False, dtype=np.float64)
    assert [n for n, _ in layer.named_parameters()] == ["weight"]
    x = np.random.default_rng(6).standard_normal((3, 4))
    np.testing.assert_allclose(layer(Tensor(x)).data, x @ layer.weight.data.T)


def test_zero_grad_through_module_and_optimizer():
    net = mlp()
    cross_entropy(net(Tensor(np.ones((2, 6)))), [0, 1]).backward()
    assert all(p.grad is not None for p in net.parameters())
    net.zero_grad()
    assert all(p.grad is None for p in net.parameters())


def test_dropout_train_and_eval():
    layer = Dropout(0.5, rng=np.random.default_rng(0))
    x = Tensor(np.ones((200, 50)), requires_grad=True)
    out = layer(x)
    kept = out.data != 0
    assert 0.4 < kept.mean() < 0.6
    np.testing.assert_array_equal(out.data[kept], 2.0)  # survivors scaled by 1/(1-p)
    out.sum().backward()
    np.testing.assert_array_equal(x.grad, out.data)  # gradient follows the same mask
    net = Sequential(layer)
    net.eval()
    assert not layer.training
    assert net(x) is x
    net.train()
    assert layer.training


@pytest.mark.parametrize("make_opt", [lambda p: SGD(p, lr=0.5, momentum=0.9),
                                      lambda p: Adam(p, lr=0.05)])
def test_training_matches_torch_step_by_step(make_opt):
    net = mlp(act=Tanh)
    tnet = torch_copy(net)
    opt = make_opt(net.parameters())
    topt = (torch.optim.SGD(tnet.parameters(), lr=0.5, momentum=0.9) if isinstance(opt, SGD)
            else torch.optim.Adam(tnet.parameters(), lr=0.05))
    rng = np.random.default_rng(8)
    x = rng.standard_normal((16, 6))
    y = rng.integers(0, 3, 16)
    first = None
    for _ in range(20):
        opt.zero_grad()
        loss = cross_entropy(net(Tensor(x)), y)
        loss.backward()
        opt.step()
        topt.zero_grad()
        tloss = torch.nn.functional.cross_entropy(tnet(torch.tensor(x)), torch.tensor(y))
        tloss.backward()
        topt.step()
        assert loss.item() == pytest.approx(tloss.item(), rel=1e-8)
        first = first if first is not None else loss.item()
    assert loss.item() < 0.5 * first
    for p, tp in zip(net.parameters(), tnet.parameters()):
        np.testing.assert_allclose(p.data, tp.detach().numpy(), rtol=1e-7, atol=1e-9)


def test_float32_training_learns_a_separable_problem():
    rng = np.random.default_rng(9)
    x = rng.standard_normal((256, 2)).astype(np.float32)
    y = (x[:, 0] + x[:, 1] > 0).astype(np.int64)
    net = Sequential(Linear(2, 16, rng=rng), ReLU(), Linear(16, 2, rng=rng))
    opt = Adam(net.parameters(), lr=0.05)
    for _ in range(100):
        opt.zero_grad()
        loss = cross_entropy(net(Tensor(x)), y)
        loss.backward()
        opt.step()
    assert all(p.data.dtype == np.float32 for p in net.parameters())
    accuracy = (net(Tensor(x)).data.argmax(1) == y).mean()
    assert accuracy > 0.95


def test_residual_block_through_plus():
    rng = np.random.default_rng(10)
    block = Sequential(Linear(4, 4, dtype=np.float64, rng=rng), ReLU(),
                       Linear(4, 4, dtype=np.float64, rng=rng))
    x = rng.standard_normal((3, 4))
    out = block(Tensor(x)) + Tensor(x)
    tblock = torch_copy(block)
    tx = torch.tensor(x)
    np.testing.assert_allclose(out.data, (tblock(tx) + tx).detach().numpy(), rtol=1e-12)
    tensor_gradcheck(lambda t: (block(t) + t).relu(), [x])
