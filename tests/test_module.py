"""Module: the registry (parameters, buffers, sub-modules), forward, state_dict, Sequential."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest

from microgradnn import checkpoint
from microgradnn.engine import Value
from microgradnn.models import build_model
from microgradnn.module import Module
from microgradnn.nn import MLP, Layer, Neuron
from microgradnn.tensor import (AdaptiveAvgPool2d, AvgPool2d, BasicBlock, BatchNorm1d,
                                BatchNorm2d, Conv2d, Dropout, Flatten, Inception, Linear,
                                LocalResponseNorm, MaxPool2d, ReLU, Sequential, Sigmoid, Tanh,
                                Tensor)

GOLDEN = Path(__file__).parent / "golden" / "checkpoints"

# One way to build each module class of the library (scalar nn and vectorized path).
FACTORIES = {
    Neuron: lambda: Neuron(3, rng=random.Random(0)),
    Layer: lambda: Layer(3, 2, rng=random.Random(0)),
    MLP: lambda: MLP(3, [4, 2], seed=0),
    Linear: lambda: Linear(3, 2, rng=np.random.default_rng(0)),
    Conv2d: lambda: Conv2d(2, 3, 3, rng=np.random.default_rng(0)),
    ReLU: ReLU,
    Sigmoid: Sigmoid,
    Tanh: Tanh,
    Flatten: Flatten,
    Dropout: lambda: Dropout(0.5, rng=np.random.default_rng(0)),
    MaxPool2d: lambda: MaxPool2d(2),
    AvgPool2d: lambda: AvgPool2d(2),
    Sequential: lambda: Sequential(Conv2d(1, 2, 3, rng=np.random.default_rng(0)), ReLU(),
                                   Flatten(), Linear(8, 3, bias=False,
                                                     rng=np.random.default_rng(1))),
    BatchNorm1d: lambda: BatchNorm1d(3),
    BatchNorm2d: lambda: BatchNorm2d(2),
    LocalResponseNorm: lambda: LocalResponseNorm(3),
    AdaptiveAvgPool2d: lambda: AdaptiveAvgPool2d(1),
    BasicBlock: lambda: BasicBlock(2, 4, stride=2, rng=np.random.default_rng(0)),
    Inception: lambda: Inception(2, 1, 1, 2, 1, 1, 1, rng=np.random.default_rng(0)),
}
EXTRA_CASES = {  # more shapes of the same classes
    "linear_no_bias": lambda: Linear(4, 3, bias=False),
    "mlp_unfused": lambda: MLP(2, [3, 3, 1], fused=False, seed=1),
    "built_mlp": lambda: build_model({"model": "mlp", "hidden": [4], "inputs": 5, "classes": 3}),
    "built_cnn": lambda: build_model({"model": "cnn", "channels": [2], "hidden": [3],
                                      "dropout": 0.2}),
    **{f"built_{family}": (lambda family=family: build_model({"model": family}))
       for family in ("lenet5", "alexnet", "vgg", "googlenet", "resnet")},
}
CASES = {cls.__name__: f for cls, f in FACTORIES.items()} | EXTRA_CASES


def all_subclasses(cls):
    for sub in cls.__subclasses__():
        yield sub
        yield from all_subclasses(sub)


def test_every_module_class_of_the_library_is_covered():
    library = {c for c in all_subclasses(Module) if c.__module__.startswith("microgradnn.")
               and not c.__name__.startswith("_")}
    assert library <= set(FACTORIES), library - set(FACTORIES)


def perturb(model, amount):
    for i, p in enumerate(model.parameters()):
        p.data = p.data + amount * (i + 1) if isinstance(p, Value) else p.data + np.asarray(
            amount * (i + 1), dtype=p.data.dtype)


def values(model):
    return [np.array(p.data, dtype=np.float64).copy() for p in model.parameters()]


@pytest.mark.parametrize("case", sorted(CASES))
def test_every_parameter_is_saved_and_restored(case):
    source = CASES[case]()
    perturb(source, 0.125)
    state = source.state_dict()
    target = CASES[case]()
    assert len(values(target)) == len(values(source))
    target.load_state_dict(state)
    for (name, a), b in zip(source.named_parameters(), values(target)):
        np.testing.assert_array_equal(np.asarray(a.data, dtype=np.float64), b, err_msg=name)
    # And every parameter really is in the state: changing any one changes the state.
    for p in source.parameters():
        before = {k: v.copy() for k, v in source.state_dict().items()}
        p.data = p.data + 1.0
        after = source.state_dict()
        assert any(not np.array_equal(before[k], after[k]) for k in before), case


def test_neuron_state_dict_holds_its_weights():
    """Issue 11: Neuron(3).state_dict() held only b, and loading {'b': ...} left w alone."""
    neuron = Neuron(3, rng=random.Random(0))
    state = neuron.state_dict()
    assert list(state) == ["w.0", "w.1", "w.2", "b"]
    assert [float(state[f"w.{i}"]) for i in range(3)] == [w.data for w in neuron.w]
    with pytest.raises(KeyError, match=r"missing keys \['w.0', 'w.1', 'w.2'\]"):
        neuron.load_state_dict({"b": np.array(1.0)})
    assert neuron.b.data == 0.0


def test_strict_false_loads_what_matches_and_reports_the_rest():
    model = MLP(2, [3, 1], seed=0)
    bias = np.array([1.0, 2.0, 3.0])
    result = model.load_state_dict({"layers.0.bias": bias, "extra": np.zeros(2)}, strict=False)
    assert result.missing_keys == ["layers.0.weight", "layers.1.weight", "layers.1.bias"]
    assert result.unexpected_keys == ["extra"]
    assert [n.b.data for n in model.layers[0].neurons] == [1.0, 2.0, 3.0]
    with pytest.raises(ValueError, match=r"'layers.0.bias' has shape \(2,\)"):
        model.load_state_dict({"layers.0.bias": np.zeros(2)}, strict=False)


def test_strict_refusals_name_the_key():
    layer = Linear(3, 2)
    good = layer.state_dict()
    with pytest.raises(KeyError, match=r"unexpected keys \['weight_typo'\]"):
        layer.load_state_dict({**good, "weight_typo": good["weight"]})
    with pytest.raises(ValueError, match=r"'bias' has shape \(3,\)"):
        layer.load_state_dict({**good, "bias": np.zeros(3)})
    with pytest.raises(ValueError, match="'weight' holds <U1 data"):
        layer.load_state_dict({**good, "weight": np.full((2, 3), "a")})


def test_scalar_names_map_to_layer_arrays():
    """layers.{l}.neurons.{j}.w.{k} is layers.{l}.weight[j, k]; ...b is bias[j]."""
    model = MLP(3, [4, 2], seed=5)
    state = model.state_dict()
    for name, p in model.named_parameters():
        parts = name.split(".")
        layer, j = parts[1], int(parts[3])
        if parts[4] == "w":
            assert state[f"layers.{layer}.weight"][j, int(parts[5])] == p.data
        else:
            assert state[f"layers.{layer}.bias"][j] == p.data


class Scale(Module):
    """A small module written by a user: a parameter, a buffer, a child, a tuple."""

    def __init__(self):
        self.gain = Tensor(np.array([2.0]), requires_grad=True)
        self.register_buffer("calls", np.zeros(1))
        self.inner = Linear(2, 2, dtype=np.float64)
        self.extra = (Value(1.0), Value(2.0))
        self.note = "plain attributes are not registered"

    def forward(self, x):
        self.calls += 1
        return self.inner(x) * self.gain


def test_registry_order_walks_and_buffers():
    m = Scale()
    assert [n for n, _ in m.named_parameters()] == ["gain", "extra.0", "extra.1",
                                                    "inner.weight", "inner.bias"]
    assert [n for n, _ in m.named_buffers()] == ["calls"]
    assert [n for n, _ in m.named_modules()] == ["", "inner"]
    assert list(m.children()) == [m.inner]
    assert list(m.state_dict()) == ["gain", "extra.0", "extra.1", "calls", "inner.weight",
                                    "inner.bias"]
    m(Tensor(np.ones((1, 2))))
    assert m.state_dict()["calls"].tolist() == [1.0]
    fresh = Scale()
    fresh.load_state_dict(m.state_dict())
    assert fresh.calls.tolist() == [1.0] and fresh._buffers["calls"] is fresh.calls
    seen = []
    assert m.apply(lambda mod: seen.append(type(mod).__name__)) is m
    assert seen == ["Linear", "Scale"]


def test_reassignment_keeps_the_order_and_none_keeps_the_slot():
    m = Scale()
    m.gain = Tensor(np.array([3.0]), requires_grad=True)
    assert [n for n, _ in m.named_parameters()][0] == "gain"
    m.inner.bias = None
    assert "inner.bias" not in dict(m.named_parameters())
    m.extra = (Value(5.0),)
    assert [n for n, _ in m.named_parameters()] == ["gain", "extra.0", "inner.weight"]
    del m.extra
    assert "extra.0" not in dict(m.named_parameters())


def test_bad_assignments_are_refused():
    m = Scale()
    with pytest.raises(TypeError, match="Scale.gain is a parameter"):
        m.gain = np.array([1.0])
    with pytest.raises(TypeError, match="Scale.inner is a module"):
        m.inner = 3
    with pytest.raises(TypeError, match="Scale.calls is a buffer"):
        m.calls = [1.0]
    with pytest.raises(TypeError, match="assign a tuple, not a list"):
        m.more = [Linear(2, 2)]
    with pytest.raises(NotImplementedError, match="Module does not implement forward"):
        Module()(1.0)


def test_train_and_eval_reach_every_module():
    net = build_model({"model": "cnn", "channels": [2], "hidden": [3], "dropout": 0.5})
    assert all(m.training for m in net.modules())
    net.eval()
    assert not any(m.training for m in net.modules())


# ---- Sequential: a plain ordered container ----

def small_seq():
    rng = np.random.default_rng(0)
    return Sequential(Linear(3, 4, dtype=np.float64, rng=rng), ReLU(),
                      Linear(4, 2, dtype=np.float64, rng=rng))


def test_replacing_the_relu_ends_the_fused_node():
    """Issue 11: after setattr(seq, "1", Tanh()) seq[1] stayed ReLU and the call still fused."""
    x = Tensor(np.random.default_rng(1).standard_normal((5, 3)))
    for replace in (lambda s: setattr(s, "1", Tanh()), lambda s: s.__setitem__(1, Tanh())):
        seq = small_seq()
        assert seq(x).operands[0].op == "linear+relu"
        replace(seq)
        assert isinstance(seq[1], Tanh) and len(seq) == 3
        out = seq(x)
        assert out.operands[0].op == "tanh"
        expected = seq[2](seq[1](seq[0](x)))
        np.testing.assert_array_equal(out.data, expected.data)
        assert [n for n, _ in seq.named_parameters()] == ["0.weight", "0.bias", "2.weight",
                                                          "2.bias"]


def test_fused_and_unfused_give_the_same_numbers():
    seq = small_seq()
    x = Tensor(np.random.default_rng(2).standard_normal((5, 3)))
    fused = seq(x)
    by_hand = seq[2](seq[1](seq[0](x)))
    np.testing.assert_array_equal(fused.data, by_hand.data)


def test_sequential_container_operations():
    seq = small_seq()
    assert [type(m).__name__ for m in seq] == ["Linear", "ReLU", "Linear"]
    assert seq[-1] is seq[2]
    seq.append(Sigmoid())
    assert len(seq) == 4 and isinstance(seq[3], Sigmoid)
    x = Tensor(np.ones((1, 3)))
    assert seq(x).op == "sigmoid"
    head = seq[:2]
    assert isinstance(head, Sequential) and len(head) == 2 and head[0] is seq[0]
    assert head(x).op == "linear+relu"
    del seq[1]
    assert [type(m).__name__ for m in seq] == ["Linear", "Linear", "Sigmoid"]
    assert [n for n, _ in seq.named_children()] == ["0", "1", "2"]
    with pytest.raises(IndexError, match="no index 3"):
        seq[3]
    with pytest.raises(TypeError, match="not a Module"):
        seq[0] = "relu"
    with pytest.raises(TypeError, match="item 1 is a int"):
        Sequential(ReLU(), 3)


def test_unfusing_by_appending_after_a_trailing_linear():
    seq = Sequential(Linear(2, 2, dtype=np.float64))
    x = Tensor(np.ones((1, 2)))
    assert seq(x).op == "linear"
    seq.append(ReLU())
    assert seq(x).op == "linear+relu"


# ---- checkpoints written before issue 11 still load ----

@pytest.mark.parametrize("name", ["mlp", "cnn"])
def test_checkpoints_saved_before_the_registry_still_load(name):
    loaded = checkpoint.load_checkpoint(GOLDEN / f"{name}_format1.npz")
    assert loaded.extra == {"saved_by": "microgradnn before issue 11"}
    expected_model = build_model(loaded.spec)
    perturb_all = [p.data + np.float32(0.01) for p in expected_model.parameters()]
    for p, expected in zip(loaded.model.parameters(), perturb_all):
        np.testing.assert_array_equal(p.data, expected)
    x = np.random.default_rng(0).random((2, 6) if name == "mlp" else (2, 1, 28, 28))
    out = loaded.model(Tensor(x.astype(np.float32))).data
    np.testing.assert_allclose(out, np.load(GOLDEN / f"{name}_format1_outputs.npy"), rtol=1e-6,
                               atol=1e-7)


# ---------------------------------------------------------------- forward hooks

def test_forward_hooks_see_every_call_and_come_off_again():
    from microgradnn.tensor import Linear, ReLU, Sequential, Tensor

    model = Sequential(Linear(3, 4, rng=np.random.default_rng(0)), ReLU(), Linear(4, 2))
    seen = []
    handles = [m.register_forward_hook(lambda mod, args, out, n=n: seen.append(
        (n, args[0].data.shape, out.data.shape))) for n, m in model.named_modules() if n]
    x = Tensor(np.ones((5, 3), np.float32))
    y = model(x)
    # Linear followed by ReLU is fused while nothing listens; a hook sees each layer's own call
    assert seen == [("0", (5, 3), (5, 4)), ("1", (5, 4), (5, 4)), ("2", (5, 4), (5, 2))]
    for handle in handles:
        handle.remove()
    seen.clear()
    assert np.array_equal(model(x).data, y.data) and seen == []


def test_a_forward_hook_may_replace_the_output():
    from microgradnn.tensor import ReLU, Tensor

    relu = ReLU()
    with relu.register_forward_hook(lambda m, args, out: out * 2.0):
        assert relu(Tensor(np.array([-1.0, 3.0]))).data.tolist() == [0.0, 6.0]
    assert relu(Tensor(np.array([-1.0, 3.0]))).data.tolist() == [0.0, 3.0]
    with pytest.raises(TypeError, match="expected a callable, got int"):
        relu.register_forward_hook(3)


def test_a_hook_on_a_fused_layer_is_called_and_the_live_count_returns():
    import numpy as np
    from microgradnn.module import RemovableHandle
    from microgradnn.tensor import Linear, ReLU, Sequential, Tensor

    net = Sequential(Linear(3, 2), ReLU())  # Linear+ReLU run as one node without hooks
    before = RemovableHandle.live
    seen = []
    handle = net[0].register_forward_hook(lambda m, args, out: seen.append(out.data.copy()))
    assert RemovableHandle.live == before + 1
    out = net(Tensor(np.ones((4, 3), np.float32)))
    assert len(seen) == 1 and np.array_equal(np.maximum(seen[0], 0), out.data)
    handle.remove()
    handle.remove()  # a second remove changes nothing
    assert RemovableHandle.live == before
    net(Tensor(np.ones((4, 3), np.float32)))
    assert len(seen) == 1
