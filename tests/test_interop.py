"""microgradnn.interop: models go to PyTorch and come back with the same function.

Each check builds both sides, feeds the same float64 input, and compares outputs and the
gradients of every parameter and of the input to 1e-6 (they agree to rounding).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from microgradnn import interop  # noqa: E402
from microgradnn.nn import MLP  # noqa: E402
from microgradnn.tensor import Tensor  # noqa: E402
from microgradnn.tensor import layers as L  # noqa: E402
from microgradnn.tensor.functional import cross_entropy  # noqa: E402

TOL = 1e-6
ROOT = Path(__file__).resolve().parents[1]


def _rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


def assert_same_loss_and_gradients(model, twin, x, labels):
    """Cross-entropy of both on the same float64 input: loss, input and parameter gradients."""
    xt = Tensor(x, requires_grad=True)
    loss = cross_entropy(model(xt), labels)
    model.zero_grad()
    loss.backward()
    xt_torch = torch.tensor(x, requires_grad=True)
    loss_torch = torch.nn.functional.cross_entropy(twin(xt_torch), torch.tensor(labels))
    loss_torch.backward()
    assert abs(loss.item() - loss_torch.item()) < TOL
    np.testing.assert_allclose(xt.grad, xt_torch.grad.numpy(), atol=TOL)
    ours = dict(model.named_parameters())
    for key, p in twin.named_parameters():
        np.testing.assert_allclose(ours[key].grad, p.grad.numpy(), atol=TOL, err_msg=key)


def _models():
    """Every kind of model the vectorized path builds from its layers, in float64."""
    r = _rng(1)
    f64 = np.float64
    yield "mlp-relu", L.Sequential(L.Linear(6, 5, dtype=f64, rng=r), L.ReLU(),
                                   L.Linear(5, 3, dtype=f64, rng=r)), (4, 6)
    yield "mlp-sigmoid-tanh", L.Sequential(L.Linear(6, 4, dtype=f64, rng=r), L.Sigmoid(),
                                           L.Linear(4, 4, bias=False, dtype=f64, rng=r),
                                           L.Tanh(), L.Linear(4, 3, dtype=f64, rng=r)), (3, 6)
    yield "cnn", L.Sequential(
        L.Conv2d(1, 3, 3, padding=1, dtype=f64, rng=r), L.ReLU(), L.MaxPool2d(2),
        L.Conv2d(3, 4, (3, 2), stride=(2, 1), padding=(0, 1), dtype=f64, rng=r), L.Tanh(),
        L.AvgPool2d(2, stride=1, padding=1), L.Flatten(),
        L.Linear(4 * 3 * 6, 5, dtype=f64, rng=r)), (2, 1, 10, 9)


@pytest.mark.parametrize("name,model,shape", list(_models()), ids=[m[0] for m in _models()])
def test_to_torch_same_outputs_and_gradients(name, model, shape):
    x = _rng(2).normal(size=shape)
    twin = interop.to_torch(model)
    assert next(twin.parameters()).dtype == torch.float64
    labels = np.arange(shape[0]) % 3

    assert_same_loss_and_gradients(model, twin, x, labels)


@pytest.mark.parametrize("name,model,shape", list(_models()), ids=[m[0] for m in _models()])
def test_round_trip_keeps_every_weight(name, model, shape):
    back = interop.from_torch(interop.to_torch(model))
    assert type(back) is type(model) and len(back) == len(model)
    for (k1, a), (k2, b) in zip(model.state_dict().items(), back.state_dict().items()):
        assert k1 == k2
        np.testing.assert_array_equal(a, b)
    x = _rng(3).normal(size=shape)
    np.testing.assert_allclose(model(Tensor(x)).data, back(Tensor(x)).data, atol=0)


def test_scalar_mlp_matches_torch():
    mlp = MLP(3, [4, 4, 2], activation="tanh")
    twin = interop.to_torch(mlp)
    x = [0.5, -1.0, 2.0]
    out = mlp(x)
    out_torch = twin(torch.tensor([x], dtype=torch.float64))[0]
    for v, t in zip(out, out_torch):
        assert abs(v.data - t.item()) < TOL
    # Gradient of the sum of outputs, weight by weight: scalar names map to array entries.
    mlp.zero_grad()
    total = out[0] + out[1]
    total.backward()
    out_torch.sum().backward()
    w_torch = twin[0].weight.grad.numpy()
    for j, neuron in enumerate(mlp.layers[0].neurons):
        for k, w in enumerate(neuron.w):
            assert abs(w.grad - w_torch[j, k]) < TOL


def test_float32_stays_float32_and_mode_is_copied():
    model = L.Sequential(L.Linear(4, 3, rng=_rng()), L.Dropout(0.25))
    model.eval()
    twin = interop.to_torch(model)
    assert next(twin.parameters()).dtype == torch.float32
    assert twin.training is False and twin[1].p == 0.25
    back = interop.from_torch(twin)
    assert back[0].weight.data.dtype == np.float32 and back.training is False


def test_from_torch_names_the_first_layer_without_counterpart():
    module = torch.nn.Sequential(torch.nn.Linear(3, 3), torch.nn.GELU(), torch.nn.Softplus())
    with pytest.raises(ValueError, match=r"GELU at '1' has no microgradnn counterpart"):
        interop.from_torch(module)


def test_from_torch_refuses_what_our_conv_cannot_do():
    with pytest.raises(ValueError, match="dilation, groups"):
        interop.from_torch(torch.nn.Sequential(torch.nn.Conv2d(2, 2, 3, groups=2)))
    with pytest.raises(ValueError, match="ceil_mode"):
        interop.from_torch(torch.nn.Sequential(torch.nn.MaxPool2d(2, ceil_mode=True)))


def test_to_torch_refuses_non_modules():
    with pytest.raises(TypeError, match="expected a microgradnn Module"):
        interop.to_torch(torch.nn.Linear(2, 2))


def test_torch_source_builds_the_same_architecture():
    _, model, shape = next(_models())
    namespace = {"torch": torch}
    exec(interop.torch_source(model), namespace)  # our own generated text, not user input
    built = namespace["model"]
    built.load_state_dict(interop.to_torch(model).state_dict())
    built = built.double()
    x = _rng(4).normal(size=shape)
    np.testing.assert_allclose(built(torch.tensor(x)).detach().numpy(), model(Tensor(x)).data,
                               atol=TOL)


def test_without_torch_the_message_says_what_to_install():
    code = ("import sys; sys.modules['torch'] = None\n"
            "from microgradnn import interop\n"
            "from microgradnn.tensor import layers as L\n"
            "try:\n    interop.to_torch(L.Sequential(L.Linear(2, 2)))\n"
            "except ImportError as e:\n    print(e)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert "pip install torch==2.13.0" in out


needs_mnist = pytest.mark.skipif(
    not os.environ.get("MICROGRADNN_DATA"), reason="MNIST files not found: set MICROGRADNN_DATA")


def _env() -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT)] + [p for p in [env.get("PYTHONPATH")] if p])
    return env


@needs_mnist
def test_export_writes_a_state_dict_that_the_printed_lines_load(tmp_path):
    run = lambda *a: subprocess.run([sys.executable, "-m", "microgradnn", *a], cwd=tmp_path,
                                    env=_env(), capture_output=True, text=True, timeout=300)
    trained = run("train", "mnist", "--quiet", "--model", "cnn", "--limit", "200",
                  "--epochs", "1", "--save", "cnn.npz")
    assert trained.returncode == 0, trained.stderr
    done = run("export", "cnn.npz", "--torch", "cnn.pt")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert "(N, 1, 28, 28)" in lines[0] and lines[1] == "import torch"
    code = "\n".join(lines[1:4])
    assert "weights_only=True" in lines[3]
    namespace: dict = {}
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        exec(code, namespace)  # the three lines we printed, run as a user would
    finally:
        os.chdir(cwd)
    from microgradnn import load

    model = load(tmp_path / "cnn.npz")
    model.eval()
    namespace["model"].eval()
    x = _rng(5).random((3, 1, 28, 28)).astype(np.float32)
    np.testing.assert_allclose(namespace["model"](torch.from_numpy(x)).detach().numpy(),
                               model(Tensor(x)).data, atol=1e-5)
    missing = run("export", "nothere.npz", "--torch", "x.pt")
    assert missing.returncode == 2 and "nothere.npz" in missing.stderr
    assert missing.stderr.count("\n") == 1 and not (tmp_path / "x.pt").exists()


@needs_mnist
def test_ddp_example_runs_two_processes_that_agree(tmp_path):
    result = subprocess.run([sys.executable, str(ROOT / "examples" / "11_pytorch_ddp.py"),
                             "--quick", "--out", str(tmp_path)], cwd=tmp_path, env=_env(),
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "ranks agree on every weight: max difference 0.0e+00" in result.stdout
    accuracy = float(re.search(r"test accuracy ([\d.]+)%", result.stdout).group(1))
    assert accuracy > 40.0, result.stdout  # 60 DDP steps from random weights learn (56% here)


FAMILIES = ("lenet5", "alexnet", "vgg", "googlenet", "resnet")


def _float64(model):
    for p in model.parameters():
        p.data = p.data.astype(np.float64)
    for m in model.modules():
        for name, array in list(m.named_buffers()):
            if "." not in name and array.dtype.kind == "f":
                setattr(m, name, array.astype(np.float64))
    return model


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("training", [True, False])
def test_cnn_families_go_to_torch_and_back(family, training):
    from microgradnn.models import build_model

    model = _float64(build_model({"model": family, "seed": 3}))
    model.train(training)
    x = _rng(6).normal(size=(4, 1, 28, 28))
    twin = interop.to_torch(model)
    assert twin.training is training
    labels = np.arange(4) % 10
    if training:  # dropout draws different masks on the two sides: compare without it
        for m in model.modules():
            if type(m).__name__ == "Dropout":
                m.eval()
        for m in twin.modules():
            if isinstance(m, torch.nn.Dropout):
                m.eval()
    assert_same_loss_and_gradients(model, twin, x, labels)
    # running statistics after a training step agree too, and survive the way back
    back = interop.from_torch(twin)
    assert type(back) is type(model)
    for (k1, a), (k2, b) in zip(model.state_dict().items(), back.state_dict().items()):
        assert k1 == k2
        np.testing.assert_allclose(a, b, atol=TOL, err_msg=k1)
    twin_state = twin.state_dict()
    for key, value in model.state_dict().items():
        np.testing.assert_allclose(value, twin_state[key].numpy(), atol=TOL, err_msg=key)


def test_torch_source_says_a_block_needs_to_torch():
    from microgradnn.models import build_model

    with pytest.raises(ValueError, match="BasicBlock has no plain torch.nn form"):
        interop.torch_source(build_model({"model": "resnet"}))
