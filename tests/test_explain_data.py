"""The explain page's numbers against an independent float64 numpy recomputation.

The reference below is written from the textbook equations (forward ``z = W a + b``,
``a = σ(z)``; backward ``δ[L]``, ``δ[l] = (W[l+1]ᵀ δ[l+1]) ⊙ σ'(z[l])``, ``∂C/∂W = δ aᵀ``;
convolution, pooling and their gradients by explicit loops); it shares no code with
``viz.explain``. The numbers are read back from the page's own JSON, so the encoding is
checked too: every number on the page must be within 1e-6 of the reference.
"""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

from microgradnn.checkpoint import Checkpoint
from microgradnn.models import build_model
from microgradnn.module import Module
from microgradnn.nn import MLP
from microgradnn.tensor import (AvgPool2d, Conv2d, Dropout, Flatten, Linear, MaxPool2d, ReLU,
                                Sequential, Sigmoid, Tanh)
from microgradnn.training import predict_proba
from viz.explainer import UnsupportedModelError, explain

TOL = 1e-6


def page_data(page) -> dict:
    """The JSON the page draws from, parsed from the HTML text itself."""
    match = re.search(r'<script type="application/json" id="microgradnn-data">(.*?)</script>',
                      page.html, re.S)
    assert match, "the page has no microgradnn-data script"
    return json.loads(match.group(1))


def close(got, expected, what):
    got = np.asarray(got, dtype=np.float64)
    expected = np.asarray(expected, dtype=np.float64)
    assert got.shape == expected.shape, f"{what}: shape {got.shape} != {expected.shape}"
    err = float(np.max(np.abs(got - expected))) if got.size else 0.0
    assert err <= TOL, f"{what}: max error {err:.3g}"


def digit(seed: int = 0) -> np.ndarray:
    """A uint8 28x28 image: a ring of ink with some noise (no MNIST needed)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:28, :28]
    ring = np.exp(-((np.hypot(yy - 14, xx - 13) - 7) ** 2) / 4) * 255
    return np.clip(ring + rng.normal(0, 20, (28, 28)), 0, 255).astype(np.uint8)


def batch(n: int = 6, seed: int = 1):
    rng = np.random.default_rng(seed)
    images = np.stack([np.roll(digit(seed + i), rng.integers(-3, 4), axis=1) for i in range(n)])
    return images, rng.integers(0, 10, n)


# ---------------------------------------------------------------- the reference

ACT = {"sigmoid": lambda z: 1 / (1 + np.exp(-z)), "relu": lambda z: np.maximum(z, 0),
       "tanh": np.tanh, None: lambda z: z}
DACT = {"sigmoid": lambda z: ACT["sigmoid"](z) * (1 - ACT["sigmoid"](z)),
        "relu": lambda z: (z > 0).astype(float), "tanh": lambda z: 1 - np.tanh(z) ** 2,
        None: lambda z: np.ones_like(z)}


def head(z, label, loss):
    """(outputs, cost, dC/d(outputs), δ at the output) of the cost for one example."""
    y = np.zeros_like(z)
    y[label] = 1
    if loss == "cross-entropy":
        p = np.exp(z - z.max()) / np.exp(z - z.max()).sum()
        d_out = np.where(y == 1, -1 / p, 0.0)
        return p, -np.log(p[label]), d_out, p - y
    a = 1 / (1 + np.exp(-z))
    return a, np.sum((a - y) ** 2), 2 * (a - y), 2 * (a - y) * a * (1 - a)


def mlp_reference(Ws, bs, acts, x, label, loss):
    """Forward and textbook backprop of an MLP for one example."""
    a, zs = [x], []
    for W, b, act in zip(Ws, bs, acts):
        zs.append(W @ a[-1] + b)
        a.append(ACT[act](zs[-1]))
    out, cost, d_out, delta = head(zs[-1], label, loss)
    dW, db, dA, deltas = [None] * len(Ws), [None] * len(Ws), [None] * len(Ws), [None] * len(Ws)
    for l in range(len(Ws) - 1, -1, -1):
        deltas[l] = delta
        dW[l], db[l] = np.outer(delta, a[l]), delta
        back = Ws[l].T @ delta  # dC/da[l], the activation of the layer below
        if l > 0:
            dA[l - 1] = back
            delta = back * DACT[acts[l - 1]](zs[l - 1])
    return {"z": zs, "a": a[1:], "out": out, "cost": cost, "d_out": d_out, "delta": deltas,
            "dW": dW, "db": db, "dA": dA, "dx": back}


def model_weights(model):
    linears = [m for m in model if isinstance(m, Linear)]
    return ([m.weight.data.astype(np.float64) for m in linears],
            [m.bias.data.astype(np.float64) for m in linears])


# ---------------------------------------------------------------- MLP

@pytest.mark.parametrize("loss, act", [("cross-entropy", "sigmoid"), ("mse", "sigmoid"),
                                       ("cross-entropy", "relu"), ("mse", "tanh")])
def test_mlp_numbers_match_the_textbook_recomputation(loss, act):
    model = build_model({"model": "mlp", "hidden": [16, 12], "activation": act, "seed": 3})
    image, label = digit(), 4
    data = page_data(explain(model, image, label, loss=loss))
    Ws, bs = model_weights(model)
    x = image.reshape(-1) / 255.0
    ref = mlp_reference(Ws, bs, [act, act, None], x, label, loss)

    assert data["kind"] == "mlp" and data["loss_fn"] == loss and data["label"] == label
    layers = data["layers"]
    assert [e["type"] for e in layers] == ["Input", "Linear", type(model[1]).__name__, "Linear",
                                           type(model[3]).__name__, "Linear",
                                           "Softmax" if loss == "cross-entropy" else "Sigmoid"]
    assert [e["name"] for e in layers] == ["input", "0", "1", "2", "3", "4", "output"]
    close(layers[0]["activations"], x, "x")
    close(layers[0]["grad"], ref["dx"], "dC/dx")
    for l, (lin, act_e) in enumerate([(1, 2), (3, 4)]):
        close(layers[lin]["activations"], ref["z"][l], f"z[{l + 1}]")
        close(layers[lin]["grad"], ref["delta"][l], f"δ[{l + 1}]")
        close(layers[act_e]["activations"], ref["a"][l], f"a[{l + 1}]")
        close(layers[act_e]["grad"], ref["dA"][l], f"dC/da[{l + 1}]")
        close(layers[act_e]["local_grad"], DACT[act](ref["z"][l]), f"σ'(z[{l + 1}])")
    for l, lin in enumerate([1, 3, 5]):
        close(layers[lin]["weight"], Ws[l], f"W[{l + 1}]")
        close(layers[lin]["bias"], bs[l], f"b[{l + 1}]")
        close(layers[lin]["weight_grad"], ref["dW"][l], f"dC/dW[{l + 1}]")
        close(layers[lin]["bias_grad"], ref["db"][l], f"dC/db[{l + 1}]")
    close(layers[5]["activations"], ref["z"][2], "z[L]")
    close(layers[5]["grad"], ref["delta"][2], "δ[L]")
    close(layers[6]["activations"], ref["out"], "a[L]")
    close(layers[6]["grad"], ref["d_out"], "dC/da[L]")
    if loss == "mse":
        close(layers[6]["local_grad"], DACT["sigmoid"](ref["z"][2]), "σ'(z[L])")
    assert abs(data["loss"] - ref["cost"]) <= TOL
    p = np.exp(ref["z"][2] - ref["z"][2].max())
    close(data["probabilities"], p / p.sum(), "softmax probabilities")
    assert data["prediction"] == int(np.argmax(ref["z"][2]))
    close(data["target"], np.eye(10)[label], "one-hot y")
    assert np.array_equal(np.array(data["pixels"]), image)


@pytest.mark.parametrize("loss", ["cross-entropy", "mse"])
def test_batch_view_is_the_mean_of_the_examples_gradients(loss):
    model = build_model({"model": "mlp", "hidden": [10], "activation": "sigmoid", "seed": 1})
    images, labels = batch(5)
    data = page_data(explain(model, digit(), 2, loss=loss, batch=(images, labels),
                             batch_name="five rings"))
    Ws, bs = model_weights(model)
    refs = [mlp_reference(Ws, bs, ["sigmoid", None], im.reshape(-1) / 255.0, int(t), loss)
            for im, t in zip(images, labels)]
    layers = data["layers"]
    for l, lin in enumerate([1, 3]):
        close(layers[lin]["batch_weight_grad"], np.mean([r["dW"][l] for r in refs], axis=0),
              f"mean dC/dW[{l + 1}]")
        close(layers[lin]["batch_bias_grad"], np.mean([r["db"][l] for r in refs], axis=0),
              f"mean dC/db[{l + 1}]")
        close(layers[lin]["batch_grad"], np.mean([r["delta"][l] for r in refs], axis=0),
              f"mean δ[{l + 1}]")
    close(layers[2]["batch_grad"], np.mean([r["dA"][0] for r in refs], axis=0), "mean dC/da[1]")
    close(layers[4]["batch_grad"], np.mean([r["d_out"] for r in refs], axis=0), "mean dC/da[L]")
    info = data["batch"]
    assert info["size"] == 5 and info["labels"] == labels.tolist() and info["source"] == "five rings"
    assert abs(info["loss"] - np.mean([r["cost"] for r in refs])) <= TOL
    predicted = [int(np.argmax(r["z"][-1])) for r in refs]
    assert info["predictions"] == predicted
    assert info["accuracy"] == pytest.approx(np.mean(np.array(predicted) == labels))
    assert np.array_equal(np.array(info["pixels"]), images)


def test_the_float32_model_agrees_with_the_float64_page():
    model = build_model({"model": "mlp", "hidden": [16, 16], "seed": 0})
    image = digit(5)
    data = explain(model, image, 1).data
    np.testing.assert_allclose(data["probabilities"], predict_proba(model, image[None])[0],
                               atol=1e-5)


def test_standard_inputs_and_float_images():
    model = build_model({"model": "mlp", "hidden": [8], "seed": 2, "input": "standard"})
    image = digit(2)
    data = explain(model, image, 0).data
    close(data["layers"][0]["activations"], (image.reshape(-1) / 255.0 - 0.1307) / 0.3081, "x")
    assert data["input_mode"] == "standard"
    unit = build_model({"model": "mlp", "hidden": [8], "seed": 2})
    as_float = explain(unit, image / 255.0, 0).data
    as_uint8 = explain(unit, image, 0).data
    assert abs(as_float["loss"] - as_uint8["loss"]) < 1e-6


def test_no_label_means_the_prediction():
    model = build_model({"model": "mlp", "hidden": [8], "seed": 0})
    data = explain(model, digit(), None).data
    assert data["label"] == data["prediction"] and data["label_given"] is False
    assert explain(model, digit(), 3).data["label_given"] is True


def test_checkpoint_and_scalar_mlp_are_accepted():
    model = build_model({"model": "mlp", "hidden": [6], "seed": 0})
    saved = Checkpoint(model=model, spec=model.spec, extra={"loss": "mse"})
    page = explain(saved, digit(), 2)
    assert page.data["loss_fn"] == "mse" and page.data["model"] == "MLP 784-6-10 (sigmoid)"
    assert page.title == "MLP 784-6-10 (sigmoid) on an image"
    assert explain(saved, digit(), 2, loss="cross-entropy").data["loss_fn"] == "cross-entropy"
    scalar = MLP(784, [5, 10], activation="tanh", seed=0)
    data = explain(scalar, digit(), 1).data
    assert [e["type"] for e in data["layers"]][1:3] == ["Linear", "Tanh"]
    x = digit().reshape(-1) / 255.0
    z = np.array([o.data for o in scalar(list(x))])
    close(data["layers"][3]["activations"], z, "the scalar MLP's output")


# ---------------------------------------------------------------- CNN

def conv_forward(x, W, b, s, p):
    xp = np.pad(x, ((0, 0), (p, p), (p, p)))
    o, _, k, _ = W.shape
    n = (x.shape[1] + 2 * p - k) // s + 1
    out = np.zeros((o, n, n))
    for i in range(n):
        for j in range(n):
            patch = xp[:, i * s:i * s + k, j * s:j * s + k]
            out[:, i, j] = np.tensordot(W, patch, axes=3) + b
    return out


def conv_backward(x, W, g, s, p):
    xp = np.pad(x, ((0, 0), (p, p), (p, p)))
    dxp, dW = np.zeros_like(xp), np.zeros_like(W)
    k, n = W.shape[2], g.shape[1]
    for i in range(n):
        for j in range(n):
            window = (slice(None), slice(i * s, i * s + k), slice(j * s, j * s + k))
            dW += g[:, i, j][:, None, None, None] * xp[window][None]
            dxp[window] += np.tensordot(g[:, i, j], W, axes=1)
    return dxp[:, p:p + x.shape[1], p:p + x.shape[2]], dW, g.sum(axis=(1, 2))


def pool_forward(x, k, kind):
    n = x.shape[1] // k
    out, winner = np.zeros((x.shape[0], n, n)), {}
    for c in range(x.shape[0]):
        for i in range(n):
            for j in range(n):
                window = x[c, i * k:(i + 1) * k, j * k:(j + 1) * k]
                if kind == "max":
                    w = int(np.argmax(window))  # the first maximum, row by row
                    winner[c, i, j] = (i * k + w // k, j * k + w % k)
                    out[c, i, j] = window.max()
                else:
                    out[c, i, j] = window.mean()
    return out, winner


def pool_backward(x, g, k, kind, winner):
    dx = np.zeros_like(x)
    for (c, i, j), v in np.ndenumerate(g):
        if kind == "max":
            dx[(c,) + winner[c, i, j]] += v
        else:
            dx[c, i * k:(i + 1) * k, j * k:(j + 1) * k] += v / (k * k)
    return dx


def small_cnn():
    rng = np.random.default_rng(11)
    return Sequential(Conv2d(1, 3, 3, padding=1, rng=rng), ReLU(), MaxPool2d(2),
                      Conv2d(3, 4, 3, stride=2, padding=1, rng=rng), Tanh(), AvgPool2d(2),
                      Flatten(), Linear(36, 12, rng=rng), ReLU(), Dropout(0.3), Linear(12, 10, rng=rng))


def cnn_reference(model, x, label, loss):
    c1, _, _, c2, _, _, _, l1, _, _, l2 = list(model)
    P = lambda t: t.data.astype(np.float64)  # noqa: E731
    z1 = conv_forward(x, P(c1.weight), P(c1.bias), 1, 1)
    r1 = np.maximum(z1, 0)
    p1, win = pool_forward(r1, 2, "max")
    z2 = conv_forward(p1, P(c2.weight), P(c2.bias), 2, 1)
    t2 = np.tanh(z2)
    p2, _ = pool_forward(t2, 2, "avg")
    f = p2.reshape(-1)
    h = P(l1.weight) @ f + P(l1.bias)
    hr = np.maximum(h, 0)
    z = P(l2.weight) @ hr + P(l2.bias)
    out, cost, d_out, dz = head(z, label, loss)
    dhr = P(l2.weight).T @ dz
    dh = dhr * (h > 0)
    df = P(l1.weight).T @ dh
    dp2 = df.reshape(p2.shape)
    dt2 = pool_backward(t2, dp2, 2, "avg", None)
    dz2 = dt2 * (1 - t2 ** 2)
    dp1, dW2, db2 = conv_backward(p1, P(c2.weight), dz2, 2, 1)
    dr1 = pool_backward(r1, dp1, 2, "max", win)
    dz1 = dr1 * (z1 > 0)
    dx, dW1, db1 = conv_backward(x, P(c1.weight), dz1, 1, 1)
    acts = [x, z1, r1, p1, z2, t2, p2, f, h, hr, hr, z, out]
    grads = [dx, dz1, dr1, dp1, dz2, dt2, dp2, df, dh, dhr, dhr, dz, d_out]
    return acts, grads, cost, {0: (dW1, db1), 3: (dW2, db2)}


@pytest.mark.parametrize("loss", ["cross-entropy", "mse"])
def test_cnn_numbers_match_loops_in_numpy(loss):
    model = small_cnn()
    image, label = digit(3), 7
    data = page_data(explain(model, image, label, loss=loss))
    x = image[None] / 255.0
    acts, grads, cost, kernels = cnn_reference(model, x, label, loss)
    layers = data["layers"]
    assert data["kind"] == "cnn"
    assert [e["type"] for e in layers] == ["Input", "Conv2d", "ReLU", "MaxPool2d", "Conv2d",
                                           "Tanh", "AvgPool2d", "Flatten", "Linear", "ReLU",
                                           "Dropout", "Linear",
                                           "Softmax" if loss == "cross-entropy" else "Sigmoid"]
    for i, (e, a, g) in enumerate(zip(layers, acts, grads)):
        assert e["shape"] == list(a.shape), e["name"]
        close(e["activations"], a, f"layer {e['name']} ({e['type']}) output")
        close(e["grad"], g, f"dC/d(layer {e['name']} ({e['type']}) output)")
    for i, (dW, db) in kernels.items():
        conv = layers[i + 1]
        close(conv["weight"], model[i].weight.data, f"K of layer {i}")
        close(conv["weight_grad"], dW, f"dC/dK of layer {i}")
        close(conv["bias_grad"], db, f"dC/db of layer {i}")
    assert conv["stride"] == [2, 2] and conv["padding"] == [1, 1] and conv["kernel_size"] == [3, 3]
    assert layers[3]["kernel_size"] == [2, 2] and layers[3]["stride"] == [2, 2]
    assert "weight" not in layers[8]  # a CNN's fully connected weights stay out of the file
    assert abs(data["loss"] - cost) <= TOL


def test_cnn_batch_kernel_gradients_are_the_mean():
    model = small_cnn()
    images, labels = batch(3)
    data = explain(model, digit(), 1, batch=(images, labels)).data
    refs = [cnn_reference(model, im[None] / 255.0, int(t), "cross-entropy")
            for im, t in zip(images, labels)]
    for i in (0, 3):
        close(data["layers"][i + 1]["batch_weight_grad"],
              np.mean([r[3][i][0] for r in refs], axis=0), f"mean dC/dK of layer {i}")
    close(data["layers"][4]["batch_grad"], np.mean([r[1][4] for r in refs], axis=0),
          "mean dC/d(conv 2 maps)")


# ---------------------------------------------------------------- refusals

class GroupNorm(Module):
    """Stands in for a layer the page does not draw yet."""

    def __call__(self, x):
        return x


@pytest.mark.parametrize("model, message", [
    (Sequential(Conv2d(1, 2, 3, padding=1), GroupNorm(), Flatten(), Linear(1568, 10)),
     "explain: layer 1 is GroupNorm, which the explain page cannot draw; it draws Linear, "
     "ReLU, Sigmoid, Tanh, Conv2d, MaxPool2d, AvgPool2d, Flatten, Dropout, BatchNorm2d, "
     "LocalResponseNorm, AdaptiveAvgPool2d, BasicBlock, Inception"),
    (Sequential(Linear(784, 10), Sigmoid()), "must end with the Linear layer that gives the class "
                                             "scores; it ends with Sigmoid"),
    (Linear(784, 10), "expected a Sequential of microgradnn.tensor layers"),
    ("model.npz", "expected a Sequential of microgradnn.tensor layers (or a checkpoint), got str"),
    (Sequential(), "the model has no layers"),
])
def test_unsupported_models_are_refused_by_name(model, message):
    with pytest.raises(UnsupportedModelError, match=re.escape(message)):
        explain(model, digit(), 1)


@pytest.mark.parametrize("kwargs, error, message", [
    ({"image": np.zeros((27, 28), np.uint8)}, ValueError, "must have 28x28 = 784 pixels, got shape (27, 28)"),
    ({"image": np.full((28, 28), 2.0)}, ValueError, "intensities in [0, 1]"),
    ({"image": np.full((28, 28), np.nan)}, ValueError, "NaN or inf"),
    ({"image": np.array([["a"] * 28] * 28)}, TypeError, "must hold numbers"),
    ({"label": 10}, ValueError, "label must be a class index 0..9, got 10"),
    ({"label": True}, ValueError, "label must be a class index 0..9, got True"),
    ({"loss": "hinge"}, ValueError, "loss must be one of ['cross-entropy', 'mse'], got 'hinge'"),
    ({"batch": (np.zeros((2, 28, 28)), [1, 2])}, ValueError, "batch images must be uint8"),
    ({"batch": (np.zeros((2, 28, 28), np.uint8), [1])}, ValueError,
     "2 batch images but labels of shape (1,)"),
    ({"batch": (np.zeros((2, 28, 28), np.uint8), [1, 11])}, ValueError,
     "a batch label must be a class index 0..9, got 11"),
    ({"batch": (np.zeros((600, 28, 28), np.uint8), [0] * 600)}, ValueError,
     "the batch must hold 1..512 images, got 600"),
])
def test_bad_input_gets_one_clear_message(kwargs, error, message):
    model = build_model({"model": "mlp", "hidden": [4], "seed": 0})
    args = {"image": digit(), "label": 1, **kwargs}
    with pytest.raises(error, match=re.escape(message)):
        explain(model, **args)


def test_the_readme_cnn_page_stays_small():
    model = build_model({"model": "cnn", "channels": [16, 32], "hidden": [128], "seed": 0})
    images, labels = batch(4)
    page = explain(model, digit(), 3, batch=(images, labels))
    assert len(page.html.encode("utf-8")) < 5_000_000
    assert page.data["layers"][1]["weight"].shape == (16, 1, 3, 3)


# ---------------------------------------------------------------- the recording

def test_the_recording_runs_any_module_and_leaves_the_model_alone():
    """A layer type the page has never heard of is recorded like any other: by its hook."""
    from microgradnn.tensor import Tensor
    from viz.explainer.record import Recording, float64_copy

    class Double(Module):
        def forward(self, x):
            return x * 2.0

    rng = np.random.default_rng(0)
    model = Sequential(Flatten(), Double(), Linear(784, 10, rng=rng))
    before = model[2].weight.data.copy()
    twin = float64_copy(model)
    run = Recording(twin, digit()[None, None] / 255.0)
    run.backward(np.array([3]), "cross-entropy")
    assert [c.name for c in run.calls] == ["0", "1", "2"]
    flat, double = run.calls[0].output, run.calls[1].output
    close(double.data, 2 * flat.data, "Double's output")
    close(flat.grad, 2 * double.grad, "the gradient through Double")
    assert twin[2].weight.data.dtype == np.float64 and not twin.training
    assert model[2].weight.data.dtype == np.float32 and np.array_equal(model[2].weight.data, before)
    assert model[2].weight.grad is None and all(m._forward_hooks == {} for m in twin.modules())
    assert isinstance(run.input, Tensor) and run.input.grad.shape == (1, 1, 28, 28)


def test_symbols_follow_the_notation():
    from viz.explainer.symbols import layer_symbols

    alexnet = ["Conv2d", "ReLU", "LocalResponseNorm", "MaxPool2d", "Conv2d", "ReLU", "MaxPool2d",
               "Flatten", "Dropout", "Linear", "ReLU", "Dropout", "Linear"]
    assert layer_symbols(alexnet) == ["z[1]", "ReLU(z[1])", "LRN(ReLU(z[1]))", "a[1]", "z[2]",
                                      "ReLU(z[2])", "a[2]", "a[2]", "a[2]", "z[3]", "a[3]",
                                      "a[3]", "z[4]"]
    assert layer_symbols(["Linear", "Sigmoid", "Linear"]) == ["z[1]", "a[1]", "z[2]"]
