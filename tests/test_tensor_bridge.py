"""The scalar MLP and the tensor Sequential compute the same function and gradients (1e-9)."""

from __future__ import annotations

import numpy as np
import pytest

from microgradnn.engine import Value
from microgradnn.losses import cross_entropy as scalar_cross_entropy
from microgradnn.nn import MLP
from microgradnn.tensor import Linear, ReLU, Sequential, Sigmoid, Tanh, Tensor, cross_entropy
from microgradnn.tensor.bridge import mlp_from_sequential, sequential_from_mlp


def mnist_batch(n=3):
    """A few real MNIST test images if the files are available, else random uint8 images."""
    from microgradnn.datasets.mnist import MnistUnavailableError, load_mnist
    try:
        images, labels = load_mnist("test", download=False, progress=False)
        return images[:n], labels[:n].astype(np.int64)
    except MnistUnavailableError:  # no data here: MNIST-shaped random digits, same code path
        rng = np.random.default_rng(0)
        return rng.integers(0, 256, (n, 28, 28), dtype=np.uint8), rng.integers(0, 10, n)


def scalar_forward_backward(mlp, images, labels):
    xs = [[Value(float(v)) for v in img.reshape(-1) / 255.0] for img in images]
    logits = [mlp(x) for x in xs]
    loss = scalar_cross_entropy(logits, [int(t) for t in labels])
    mlp.zero_grad()
    loss.backward()
    out = np.array([[v.data for v in row] for row in logits])
    grads = {}
    for i, layer in enumerate(mlp.layers):
        grads[f"layers.{i}.weight"] = np.array([[w.grad for w in n.w] for n in layer.neurons])
        grads[f"layers.{i}.bias"] = np.array([n.b.grad for n in layer.neurons])
    input_grads = np.array([[v.grad for v in x] for x in xs])
    return loss.data, out, grads, input_grads


def test_mlp_to_sequential_same_outputs_and_gradients_on_mnist():
    images, labels = mnist_batch()
    mlp = MLP(784, [16, 16, 10], activation="sigmoid", seed=3)
    seq = sequential_from_mlp(mlp)
    assert [type(m) for m in seq] == [Linear, Sigmoid, Linear, Sigmoid, Linear]
    loss_s, out_s, grads_s, input_grads_s = scalar_forward_backward(mlp, images, labels)

    x = Tensor(images.reshape(len(images), -1) / 255.0, requires_grad=True)
    assert x.dtype == np.float64
    logits = seq(x)
    loss = cross_entropy(logits, labels)
    loss.backward()
    np.testing.assert_allclose(logits.data, out_s, rtol=0, atol=1e-9)
    assert abs(loss.item() - loss_s) < 1e-9
    j = {0: 0, 1: 2, 2: 4}
    for i in range(3):
        np.testing.assert_allclose(seq[j[i]].weight.grad, grads_s[f"layers.{i}.weight"], atol=1e-9)
        np.testing.assert_allclose(seq[j[i]].bias.grad, grads_s[f"layers.{i}.bias"], atol=1e-9)
    np.testing.assert_allclose(x.grad, input_grads_s, atol=1e-9)


@pytest.mark.parametrize("hidden,output", [("relu", "linear"), ("tanh", "sigmoid")])
def test_round_trip_preserves_weights_and_activations(hidden, output):
    mlp = MLP(5, [4, 3, 2], activation=hidden, output_activation=output, seed=1)
    seq = sequential_from_mlp(mlp)
    back = mlp_from_sequential(seq)
    assert back.activation == hidden and back.output_activation == output
    for key, value in mlp.state_dict().items():
        np.testing.assert_array_equal(back.state_dict()[key], value)
    x = [0.3, -1.2, 0.5, 2.0, -0.7]
    np.testing.assert_allclose([v.data for v in back(x)], [v.data for v in mlp(x)], atol=1e-12)
    np.testing.assert_allclose(seq(Tensor(np.array([x]))).data[0], [v.data for v in mlp(x)],
                               atol=1e-12)


def test_sequential_to_mlp_matches_outputs():
    rng = np.random.default_rng(2)
    seq = Sequential(Linear(3, 4, dtype=np.float64, rng=rng), Tanh(),
                     Linear(4, 2, dtype=np.float64, rng=rng))
    mlp = mlp_from_sequential(seq)
    assert mlp.activation == "tanh" and mlp.output_activation == "linear"
    x = rng.standard_normal(3)
    np.testing.assert_allclose([v.data for v in mlp(list(x))], seq(Tensor(x[None])).data[0],
                               atol=1e-12)


def test_float32_sequential_from_mlp():
    mlp = MLP(4, [3, 2], seed=0)
    seq = sequential_from_mlp(mlp, dtype=np.float32)
    assert all(p.dtype == np.float32 for p in seq.parameters())


def test_unconvertible_sequentials_are_refused():
    with pytest.raises(ValueError, match="mix activations"):
        mlp_from_sequential(Sequential(Linear(2, 3), ReLU(), Linear(3, 3), Tanh(), Linear(3, 1)))
    with pytest.raises(ValueError, match="has no bias"):
        mlp_from_sequential(Sequential(Linear(2, 3, bias=False)))
    with pytest.raises(ValueError, match="should be a Linear"):
        mlp_from_sequential(Sequential(ReLU(), Linear(2, 3)))
    with pytest.raises(TypeError, match="expected a microgradnn.nn.MLP"):
        sequential_from_mlp(Sequential(Linear(2, 2)))


def test_mlp_array_function_is_the_scalar_mlp_on_many_points():
    from microgradnn.tensor.bridge import mlp_array_function

    mlp = MLP(2, [5, 3], activation="sigmoid", output_activation="tanh", seed=4)
    points = np.random.default_rng(0).standard_normal((7, 2)) * 3
    forward = mlp_array_function(mlp)
    out = forward(points)
    assert out.shape == (7, 3) and out.dtype == np.float64
    expected = [[v.data for v in mlp(list(p))] for p in points]
    np.testing.assert_allclose(out, expected, rtol=1e-12, atol=1e-12)
    with pytest.raises(ValueError, match=r"expected input of shape \(N, 2\), got \(7, 3\)"):
        forward(np.zeros((7, 3)))
