"""The CNN families and their layers: float64 parity with PyTorch, forward and backward.

Layers first (BatchNorm, LRN, cat, adaptive pooling, a residual block, an inception
module), then each whole family with weights copied from the equivalent torch.nn model,
then checkpoint round trips (buffers included) and the CLI's --model errors.
"""

from __future__ import annotations

import os
import sys

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "benchmarks"))

from torch_families import copy_weights, to_torch  # noqa: E402

from microgradnn import checkpoint  # noqa: E402
from microgradnn.cli import main  # noqa: E402
from microgradnn.models import FAMILIES, build_model, normalize_spec  # noqa: E402
from microgradnn.tensor import (AdaptiveAvgPool2d, BasicBlock, BatchNorm1d,  # noqa: E402
                                BatchNorm2d, Inception, LocalResponseNorm, Tensor,
                                adaptive_avg_pool2d, cat, cross_entropy)
from microgradnn.tensor.gradcheck import tensor_gradcheck  # noqa: E402
from microgradnn.tensor.norm import batch_norm  # noqa: E402

RNG = np.random.default_rng(16)


def double(model):
    """Turn a model's parameters and float buffers to float64 (what the parity tests need)."""
    for p in model.parameters():
        p.data = p.data.astype(np.float64)
    for m in model.modules():
        for name in list(m._buffers):
            value = getattr(m, name)
            if value.dtype.kind == "f":
                setattr(m, name, value.astype(np.float64))
    return model


def run_both(ours, theirs, x, upstream=None):
    """Forward and backward of the same input through both; return (ours_out, x_grad) pairs."""
    xt = Tensor(x, requires_grad=True, dtype=np.float64)
    out = ours(xt)
    tx = torch.tensor(x, requires_grad=True)
    tout = theirs(tx)
    g = RNG.standard_normal(out.shape) if upstream is None else upstream
    out.backward(g)
    tout.backward(torch.tensor(g))
    np.testing.assert_allclose(out.data, tout.detach().numpy(), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(xt.grad, tx.grad.numpy(), rtol=1e-8, atol=1e-11)
    return out, tout


def assert_same_parameters_and_buffers(ours, theirs):
    tparams = dict(theirs.named_parameters())
    names = [n for n, _ in ours.named_parameters()]
    assert names == list(tparams)
    for name, p in ours.named_parameters():
        np.testing.assert_allclose(p.grad, tparams[name].grad.numpy(), rtol=1e-8, atol=1e-11,
                                   err_msg=name)
    tbuffers = dict(theirs.named_buffers())
    ours_buffers = dict(ours.named_buffers())
    assert sorted(ours_buffers) == sorted(tbuffers)
    for name, value in ours_buffers.items():
        np.testing.assert_allclose(value, tbuffers[name].numpy(), rtol=1e-12, atol=1e-14,
                                   err_msg=name)


# ---- layers ----

@pytest.mark.parametrize("cls, shape", [(BatchNorm2d, (4, 3, 5, 6)), (BatchNorm1d, (6, 3)),
                                        (BatchNorm1d, (5, 3, 4))])
def test_batch_norm_train_then_eval_matches_torch(cls, shape):
    ours = double(cls(3, momentum=0.2))
    ours.weight.data[:] = RNG.standard_normal(3)
    ours.bias.data[:] = RNG.standard_normal(3)
    theirs = copy_weights(ours, to_torch(ours), torch.float64)
    for _ in range(4):  # several training steps: running statistics follow PyTorch's
        x = RNG.standard_normal(shape) * 3 + 1
        ours.zero_grad()
        theirs.zero_grad()
        run_both(ours, theirs, x)
        assert_same_parameters_and_buffers(ours, theirs)
    assert int(ours.num_batches_tracked) == 4
    ours.eval()
    theirs.eval()
    ours.zero_grad()
    theirs.zero_grad()
    run_both(ours, theirs, RNG.standard_normal(shape))
    assert_same_parameters_and_buffers(ours, theirs)


def test_batch_norm_matches_finite_differences():
    x = RNG.standard_normal((3, 2, 2, 3))
    w, b = RNG.standard_normal(2), RNG.standard_normal(2)

    def f(x, w, b):  # the function BatchNorm2d's forward calls, training mode
        return batch_norm(x, None, None, w, b, training=True)

    tensor_gradcheck(f, [x, w, b])


@pytest.mark.parametrize("cls, shape", [(BatchNorm2d, (0, 3, 4, 4)), (BatchNorm1d, (0, 3)),
                                        (BatchNorm1d, (0, 3, 5))])
def test_batch_norm_in_eval_mode_takes_an_empty_batch(cls, shape):
    bn = cls(3)
    bn.eval()
    x = Tensor(np.ones(shape, np.float32), requires_grad=True)
    out = bn(x)
    assert out.shape == shape
    out.sum().backward()
    assert x.grad.shape == shape and not bn.weight.grad.any()


def test_batch_norm_backward_twice_over_one_graph_adds_the_same_gradients():
    # the backward reads the forward's x - mean and must leave it as it found it
    x = Tensor(RNG.standard_normal((4, 3, 5, 5)), requires_grad=True, dtype=np.float64)
    bn = double(BatchNorm2d(3))
    out = bn(x)
    g = RNG.standard_normal(out.shape)
    out.backward(g)
    once = (x.grad.copy(), bn.weight.grad.copy(), bn.bias.grad.copy())
    out.backward(g)
    for twice, first in zip((x.grad, bn.weight.grad, bn.bias.grad), once):
        np.testing.assert_allclose(twice, 2 * first, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("offset", [0.0, 1e3])
def test_batch_norm_float32_matches_float64_even_far_from_zero(offset):
    # float32 statistics: the variance is taken about the mean, so an input whose mean is
    # far larger than its spread keeps its variance (E[x^2] - mean^2 in float32 would lose
    # it all at offset 1e3); output and gradients agree with the float64 computation
    x = RNG.standard_normal((8, 3, 5, 7)) * np.array([0.5, 1, 2])[:, None, None] + offset
    w, b = RNG.standard_normal(3), RNG.standard_normal(3)
    g = RNG.standard_normal(x.shape)
    results = []
    for dt in (np.float32, np.float64):
        ts = [Tensor(v, requires_grad=True, dtype=dt) for v in (x, w, b)]
        rm, rv = np.zeros(3, dt), np.ones(3, dt)
        out = batch_norm(*ts[:1], rm, rv, *ts[1:], training=True)
        out.backward(g.astype(dt))
        results.append([out.data, rv] + [t.grad for t in ts])
    for ours, exact in zip(*results):
        np.testing.assert_allclose(ours, exact, rtol=2e-4, atol=2e-4 * np.abs(exact).max())


@pytest.mark.parametrize("shape", [(1, 4), (1, 3, 1, 1)])
def test_batch_norm_refuses_one_value_per_channel_in_training(shape):
    bn = BatchNorm2d(shape[1]) if len(shape) == 4 else BatchNorm1d(shape[1])
    with pytest.raises(ValueError, match=r"^Expected more than 1 value per channel when "
                                         r"training, got input size \(" + ", ".join(
                                             map(str, shape))):
        bn(Tensor(np.ones(shape, np.float32)))
    assert int(bn.num_batches_tracked) == 0 and np.all(bn.running_mean == 0)  # nothing updated
    bn.eval()
    assert bn(Tensor(np.ones(shape, np.float32))).shape == shape  # eval: running statistics


def test_batch_norm_state_dict_holds_buffers_and_loads_them():
    bn = BatchNorm2d(3)
    bn(Tensor(RNG.standard_normal((4, 3, 2, 2)).astype(np.float32)))
    state = bn.state_dict()
    assert sorted(state) == ["bias", "num_batches_tracked", "running_mean", "running_var",
                             "weight"]
    assert state["num_batches_tracked"].dtype == np.int64
    other = BatchNorm2d(3)
    other.load_state_dict(state)
    np.testing.assert_array_equal(other.running_var, bn.running_var)
    assert int(other.num_batches_tracked) == 1
    with pytest.raises(KeyError, match="missing keys"):
        other.load_state_dict({k: v for k, v in state.items() if k != "running_mean"})


@pytest.mark.parametrize("size", [1, 2, 3, 5])
def test_local_response_norm_matches_torch(size):
    x = RNG.standard_normal((2, 6, 3, 4))
    run_both(LocalResponseNorm(size, 0.3, 0.75, 2.0),
             torch.nn.LocalResponseNorm(size, 0.3, 0.75, 2.0), x)


@pytest.mark.parametrize("size,beta", [(4, 0.5), (9, 0.75), (3, 1.3)])
def test_local_response_norm_matches_torch_other_betas_and_windows_wider_than_channels(size,
                                                                                         beta):
    # beta 0.75 takes the square-root path, the others numpy's power; a window of 9 over 6
    # channels is clipped at both ends
    x = RNG.standard_normal((2, 6, 3, 4))
    run_both(LocalResponseNorm(size, 0.3, beta, 2.0),
             torch.nn.LocalResponseNorm(size, 0.3, beta, 2.0), x)


def test_local_response_norm_matches_finite_differences():
    tensor_gradcheck(lambda x: LocalResponseNorm(3, 0.5, 0.75, 1.0)(x),
                     [RNG.standard_normal((2, 4, 2, 2))])


@pytest.mark.parametrize("dim", [0, 1, -1])
def test_cat_matches_torch_and_splits_gradients(dim):
    shapes = [[2, 3, 4], [2, 3, 4], [2, 3, 4]]
    for k, shape in enumerate(shapes):
        shape[dim] = k + 1
    arrays = [RNG.standard_normal(s) for s in shapes]
    ours = [Tensor(a, requires_grad=True, dtype=np.float64) for a in arrays]
    theirs = [torch.tensor(a, requires_grad=True) for a in arrays]
    out, tout = cat(ours, dim), torch.cat(theirs, dim)
    np.testing.assert_array_equal(out.data, tout.detach().numpy())
    g = RNG.standard_normal(out.shape)
    out.backward(g)
    tout.backward(torch.tensor(g))
    for a, b in zip(ours, theirs):
        np.testing.assert_array_equal(a.grad, b.grad.numpy())


def test_cat_refuses_mismatched_shapes():
    with pytest.raises(ValueError, match="item 1 has shape"):
        cat([Tensor(np.zeros((2, 3))), Tensor(np.zeros((3, 3)))], dim=1)


@pytest.mark.parametrize("out", [1, 2, 3, (2, 4)])
def test_adaptive_avg_pool_matches_torch(out):
    x = RNG.standard_normal((2, 3, 7, 5))
    run_both(AdaptiveAvgPool2d(out), torch.nn.AdaptiveAvgPool2d(out), x)
    tensor_gradcheck(lambda x: adaptive_avg_pool2d(x, out), [RNG.standard_normal((1, 2, 5, 4))])


# ---- blocks ----

@pytest.mark.parametrize("cin, cout, stride", [(3, 5, 2), (4, 4, 1)])
def test_residual_block_matches_torch(cin, cout, stride):
    ours = double(BasicBlock(cin, cout, stride, rng=np.random.default_rng(1)))
    assert (ours.downsample is not None) == (cin != cout or stride != 1)
    theirs = copy_weights(ours, to_torch(ours), torch.float64)
    run_both(ours, theirs, RNG.standard_normal((3, cin, 6, 5)))
    assert_same_parameters_and_buffers(ours, theirs)


def test_inception_module_matches_torch():
    ours = double(Inception(4, 2, 3, 4, 1, 2, 2, rng=np.random.default_rng(2)))
    theirs = copy_weights(ours, to_torch(ours), torch.float64)
    out, _ = run_both(ours, theirs, RNG.standard_normal((2, 4, 6, 6)))
    assert out.shape == (2, 2 + 4 + 2 + 2, 6, 6)
    assert_same_parameters_and_buffers(ours, theirs)


# ---- whole families ----

SMALL = {"lenet5": {}, "alexnet": {"channels": [4, 6, 8, 8, 6], "hidden": [16, 12]},
         "vgg": {"channels": [3, 4, 6], "hidden": [8]}, "googlenet": {"width": 2},
         "resnet": {"channels": [3, 4, 6], "blocks": 2}}


@pytest.mark.parametrize("kind", FAMILIES)
@pytest.mark.parametrize("mode", ["train", "eval"])
def test_family_matches_torch_with_copied_weights(kind, mode):
    spec = {"model": kind, "seed": 3, **SMALL[kind]}
    if "dropout" in normalize_spec({"model": kind}):
        spec["dropout"] = 0.0  # random masks cannot match; dropout itself is tested elsewhere
    ours = double(build_model(spec)).train(mode == "train")
    theirs = copy_weights(ours, to_torch(ours), torch.float64)
    x = RNG.random((3, 1, 28, 28))
    labels = np.array([1, 7, 3])
    xt = Tensor(x, requires_grad=True, dtype=np.float64)
    loss = cross_entropy(ours(xt), labels)
    loss.backward()
    tx = torch.tensor(x, requires_grad=True)
    tloss = TF.cross_entropy(theirs(tx), torch.tensor(labels))
    tloss.backward()
    assert loss.item() == pytest.approx(tloss.item(), rel=1e-10)
    np.testing.assert_allclose(xt.grad, tx.grad.numpy(), rtol=1e-7, atol=1e-13)
    assert_same_parameters_and_buffers(ours, theirs)


def test_family_defaults_build_and_describe():
    sizes = {kind: build_model({"model": kind}).num_parameters() for kind in FAMILIES}
    assert sizes["lenet5"] == 61706  # the paper's layer sizes: 156 + 2416 + 48120 + 10164 + 850
    assert all(n > 0 for n in sizes.values())


@pytest.mark.parametrize("spec, message", [
    ({"model": "alexnet", "channels": [8, 8]}, "'channels' must hold 5..5 integers"),
    ({"model": "vgg", "channels": [8, 100000]}, "integers in 1..256"),
    ({"model": "resnet", "blocks": 0}, "blocks must be an integer in 1..4"),
    ({"model": "googlenet", "width": "8"}, "width must be an integer"),
    ({"model": "lenet5", "pool": "median"}, "pool must be 'max' or 'avg'"),
    ({"model": "resnet", "kernel": 3}, "unknown keys \\['kernel'\\]"),
])
def test_family_spec_errors_name_the_key(spec, message):
    with pytest.raises(ValueError, match=message):
        normalize_spec(spec)


@pytest.mark.parametrize("kind", FAMILIES)
def test_checkpoint_round_trip_with_buffers(kind, tmp_path):
    model = build_model({"model": kind, "seed": 1, **SMALL[kind]})
    x = Tensor(RNG.random((4, 1, 28, 28)).astype(np.float32))
    model.train()
    model(x)  # moves BatchNorm's running statistics away from their initial values
    model.eval()
    expected = model(x).data
    path = checkpoint.save(model, tmp_path / f"{kind}.npz", model.spec, extra={"note": kind})
    loaded = checkpoint.load(path)
    assert loaded.spec == model.spec
    assert loaded.training is False
    state, again = model.state_dict(), loaded.state_dict()
    assert sorted(state) == sorted(again)
    for name in state:
        np.testing.assert_array_equal(state[name], again[name], err_msg=name)
    np.testing.assert_array_equal(loaded(x).data, expected)
    if kind == "resnet":
        assert any(name.endswith("running_var") for name in state)
        assert int(state["0.weight"].size) > 0 and int(state["1.num_batches_tracked"]) == 1


# ---- CLI ----

def test_wrong_model_name_lists_the_valid_ones(capsys):
    with pytest.raises(SystemExit):
        main(["train", "mnist", "--model", "resnet50"])
    err = capsys.readouterr().err
    assert "invalid choice: 'resnet50'" in err
    for kind in FAMILIES:
        assert f"'{kind}'" in err


def test_family_flag_that_does_not_apply_is_one_line(capsys):
    assert main(["train", "mnist", "--model", "googlenet", "--channels", "8"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == ("microgradnn train: error: --channels does not apply to --model googlenet "
                   "(it applies to cnn, alexnet, vgg, resnet)")


def test_width_and_blocks_flags_reach_the_spec(capsys, tmp_path, monkeypatch):
    from microgradnn.commands import mnist as cli
    seen = []
    monkeypatch.setattr(cli, "_load_split", lambda split, args, limit: (_ for _ in ()).throw(
        RuntimeError("stop")))
    real = cli._spec_from_args
    monkeypatch.setattr(cli, "_spec_from_args", lambda args: seen.append(real(args)) or seen[-1])
    for argv in (["--model", "googlenet", "--width", "12"], ["--model", "resnet", "--blocks", "2"]):
        with pytest.raises(RuntimeError, match="stop"):
            main(["train", "mnist"] + argv)
    assert seen[0]["width"] == 12 and seen[1]["blocks"] == 2
    default = build_model({"model": "googlenet"}).num_parameters()
    assert build_model(seen[0]).num_parameters() > default
    assert main(["train", "mnist", "--model", "vgg", "--width", "3"]) == 2
    assert capsys.readouterr().err.strip().endswith(
        "--width does not apply to --model vgg (it applies to googlenet)")


@pytest.mark.parametrize("name", list(FAMILIES) + ["fastest"])
def test_each_recipe_command_trains_that_recipe(name):
    from microgradnn.cli import build_parser
    from microgradnn.commands.mnist import _spec_from_args
    from microgradnn.families import FASTEST_RECIPE, RECIPES, recipe_command
    recipe = FASTEST_RECIPE if name == "fastest" else RECIPES[name]
    args = build_parser().parse_args(recipe_command(recipe).split()[1:])
    assert _spec_from_args(args) == normalize_spec({"model": recipe["model"], "seed": 0,
                                                    **recipe["spec"]})
    assert (args.optimizer, args.lr, args.lr_decay, args.epochs, args.batch_size, args.augment,
            args.workers) == ("adam", recipe["lr"], recipe["lr_decay"], recipe["epochs"],
                              recipe["batch_size"], recipe["augment"], recipe["workers"])


# ---- pictures ----

def test_draw_architecture_shows_each_family_idea():
    viz = pytest.importorskip("viz")
    sources = {kind: viz.draw_architecture(build_model({"model": kind, **SMALL[kind]})).source
               for kind in FAMILIES}
    for kind, source in sources.items():
        assert "legend" in source and "params" in source, kind
        assert "1×28×28" in source and "10 class scores" in source, kind
    assert "LocalResponseNorm" in sources["alexnet"] and "overlapping" in sources["alexnet"]
    assert sources["googlenet"].count("<B>inception module</B>") == 3
    assert sources["googlenet"].count("<B>concat</B>") == 3
    assert "global average pool" in sources["resnet"]
    resnet = sources["resnet"]
    assert "1×1 projection" in resnet and "identity a[l-1]" in resnet
    assert "×2 (identical blocks folded)" in resnet  # blocks=2: stage 1's two blocks fold
    unfolded = viz.draw_architecture(build_model({"model": "resnet", **SMALL["resnet"]}),
                                     fold=False).source
    assert "folded" not in unfolded and unfolded.count("<B>residual block") == 6
    with pytest.raises(ValueError, match="input_shape must be"):
        viz.draw_architecture(build_model({"model": "lenet5"}), input_shape=(1, 28, 28))


def test_architecture_command_writes_a_picture_and_refuses_unknown_names(tmp_path, capsys):
    pytest.importorskip("viz")
    out = tmp_path / "resnet.svg"
    assert main(["architecture", "resnet", "-o", str(out)]) == 0
    assert out.read_text().lstrip().startswith("<?xml") and "residual block" in out.read_text()
    assert main(["architecture", "resnet50", "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert "unknown model 'resnet50'" in err and "googlenet" in err
