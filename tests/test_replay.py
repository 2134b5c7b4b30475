"""The replayed training step (microgradnn.tensor.replay) against the eager step it records.

Every model kind trains the same batches twice, eagerly and replayed, from the same
weights: the losses, the weights, the optimizer's state and batch norm's running
statistics must come out bit for bit the same (the plan repeats the eager numpy calls).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from microgradnn import models
from microgradnn.optim import SGD, Adam
from microgradnn.tensor import (BatchNorm1d, Conv2d, Dropout, Flatten, Linear, MaxPool2d, ReLU,
                                ReplayStep, Sequential, Sigmoid, Tanh, Tensor, cross_entropy,
                                replay, sigmoid_mse_loss)
from microgradnn.tensor.replay import MAX_PLANS
from microgradnn.training import fit


def _data(n: int = 20, seed: int = 0):
    rng = np.random.default_rng(seed)
    return (rng.integers(0, 256, (n, 28, 28), dtype=np.uint8),
            rng.integers(0, 10, n).astype(np.int64))


def _same_state(a, b) -> None:
    sa, sb = a.state_dict(), b.state_dict()
    assert sa.keys() == sb.keys()
    for key in sa:
        assert np.array_equal(sa[key], sb[key]), key


def _fit_both(build, make_opt, epochs=2, batch_size=8, n=20, loss="cross-entropy"):
    """fit() eagerly and replayed from the same weights; both models and histories."""
    data = _data(n)
    runs = []
    for use_replay in (False, True):
        model = build()
        history = fit(model, make_opt(model), data, epochs, batch_size, seed=3, progress=False,
                      loss=loss, replay=use_replay)
        runs.append((model, [(h["train_loss"], h["train_accuracy"]) for h in history]))
    (eager, h_eager), (replayed, h_replayed) = runs
    assert h_eager == h_replayed
    _same_state(eager, replayed)
    return eager, replayed


def _mlp(act: str, seed: int = 0) -> Sequential:
    return models.build_model({"model": "mlp", "hidden": [16, 16], "activation": act,
                               "seed": seed})


@pytest.mark.parametrize("act", ["sigmoid", "relu"])
@pytest.mark.parametrize("loss", ["cross-entropy", "mse"])
def test_mlp_fit_replayed_equals_eager(act, loss):
    _fit_both(lambda: _mlp(act), lambda m: SGD(m.parameters(), lr=0.5), loss=loss, n=40,
              batch_size=16)


@pytest.mark.parametrize("make_opt", [
    lambda m: SGD(m.parameters(), lr=0.1, momentum=0.9),
    lambda m: SGD(m.parameters(), lr=0.1, momentum=0.9, nesterov=True, weight_decay=1e-3),
    lambda m: Adam(m.parameters(), lr=1e-2),
    lambda m: Adam(m.parameters(), lr=1e-2, betas=(0.3, 0.99), amsgrad=True),
], ids=["momentum", "nesterov-decay", "adam", "adam-amsgrad"])
def test_optimizer_state_replayed_equals_eager(make_opt):
    _fit_both(lambda: _mlp("relu"), make_opt)


def _eager_step(model, opt, loss_fn, x, y):
    logits = model(Tensor(x))
    loss = loss_fn(logits, y)
    opt.zero_grad()
    loss.backward()
    opt.step()
    return loss.item(), logits.data


def _step_both(build, make_opt, batches, loss_fn=cross_entropy, dtype=np.float32):
    """Train two copies on ``batches`` [(x, y)], eagerly and with ReplayStep."""
    a, b = build(), build()
    oa, ob = make_opt(a), make_opt(b)
    step = replay(b, loss_fn, ob)
    for x, y in batches:
        x = x.astype(dtype)
        value, logits = _eager_step(a, oa, loss_fn, x, y)
        replayed, outputs = step(x, y)
        assert replayed == value and np.array_equal(outputs, logits)
    _same_state(a, b)
    for p, q in zip(a.parameters(), b.parameters()):
        assert np.array_equal(p.grad, q.grad)
    return a, b, step


def _batches(shape, sizes, seed=0):
    rng = np.random.default_rng(seed)
    return [(rng.random((n,) + shape), rng.integers(0, 10, n)) for n in sizes]


def test_float64_and_tanh_replayed_equals_eager():
    def build():
        rng = np.random.default_rng(1)
        return Sequential(Linear(12, 8, dtype=np.float64, rng=rng), Tanh(),
                          Linear(8, 10, dtype=np.float64, rng=rng))
    _, _, step = _step_both(build, lambda m: SGD(m.parameters(), lr=0.3),
                            _batches((12,), [5, 5, 5, 3, 5]), sigmoid_mse_loss, np.float64)
    assert step.recorded == 2  # one plan per batch shape
    assert "tanh(" in step.describe() and "island" not in step.describe()


def test_readme_cnn_replayed_equals_eager():
    def build():
        rng = np.random.default_rng(0)
        return Sequential(Conv2d(1, 8, 3, padding=1, rng=rng), ReLU(), MaxPool2d(2), Flatten(),
                          Linear(8 * 14 * 14, 10, rng=rng))
    _, _, step = _step_both(build, lambda m: Adam(m.parameters(), lr=1e-3),
                            _batches((1, 28, 28), [4, 4, 4]))
    assert "island" in step.describe() and "matmul" in step.describe()


FAMILY_SPECS = [
    {"model": "lenet5"},
    {"model": "alexnet", "channels": [4, 4, 4, 4, 4], "hidden": [8, 8], "dropout": 0.5},
    {"model": "vgg", "channels": [2, 4, 4], "hidden": [8], "dropout": 0.3},
    {"model": "googlenet", "width": 2},
    {"model": "resnet", "channels": [2, 4, 4]},
    {"model": "cnn", "channels": [4], "hidden": [8], "dropout": 0.5},
]


def test_standardized_inputs_replayed_equal_eager():
    # fit scales uint8 pixels straight into the plan's input buffer (ScaledImages): with an
    # offset too, the numbers of from_uint8
    _fit_both(lambda: models.build_model({"model": "mlp", "hidden": [16], "input": "standard"}),
              lambda m: SGD(m.parameters(), lr=0.1))


@pytest.mark.parametrize("spec", FAMILY_SPECS, ids=[s["model"] for s in FAMILY_SPECS])
def test_every_family_replayed_equals_eager(spec):
    _fit_both(lambda: models.build_model(dict(spec, seed=1)),
              lambda m: Adam(m.parameters(), lr=2e-3), epochs=2, batch_size=4, n=10)


def test_dropout_draws_a_new_mask_each_step_and_follows_the_mode():
    def build():
        rng = np.random.default_rng(2)
        return Sequential(Linear(6, 8, rng=rng), ReLU(),
                          Dropout(0.5, rng=np.random.default_rng(5)), Linear(8, 10, rng=rng))
    a, b = build(), build()
    oa, ob = SGD(a.parameters(), lr=0.5), SGD(b.parameters(), lr=0.5)
    step = replay(b, cross_entropy, ob)
    for i, (x, y) in enumerate(_batches((6,), [4] * 9)):
        if i == 3:  # a plan of its own, without dropout
            a.eval(), b.eval()
        if i == 6:  # back to the training plan, which was kept
            a.train(), b.train()
        x = x.astype(np.float32)
        assert step(x, y)[0] == _eager_step(a, oa, cross_entropy, x, y)[0]
    _same_state(a, b)
    assert step.recorded == 2
    b[2].p = 0.25  # the layer changed on its own: recorded again
    step(x, y)
    assert step.recorded == 3


def test_batch_norm_running_statistics_replayed_equal_eager():
    def build():
        rng = np.random.default_rng(3)
        return Sequential(Linear(6, 8, rng=rng), BatchNorm1d(8), ReLU(), Linear(8, 10, rng=rng))
    a, b, _ = _step_both(build, lambda m: SGD(m.parameters(), lr=0.2, momentum=0.5),
                         _batches((6,), [5, 5, 5, 5]))
    assert int(b[1].num_batches_tracked) == 4


def test_replayed_step_builds_no_graph_and_reuses_its_buffers():
    model = _mlp("relu")
    step = ReplayStep(model, cross_entropy, SGD(model.parameters(), lr=0.1))
    grads = []
    for x, y in _batches((784,), [8, 8, 8]):
        step(x.astype(np.float32), y)
        grads.append([p.grad for p in model.parameters()])
    assert step.recorded == 1
    # replayed steps write into the same gradient arrays: the plan's, with no new nodes
    assert all(g is h for g, h in zip(grads[1], grads[2]))
    assert not any(g is h for g, h in zip(grads[0], grads[1]))
    # ... views of the optimizer's one packed buffer (Optimizer.pack), as the weights are
    flat = grads[2][0].base
    assert flat is not None and all(g.base is flat for g in grads[2])
    assert all(p.data.base is model.parameters()[0].data.base for p in model.parameters())
    text = step.describe()
    assert "matmul((8, 784), (784, 16), (8, 16))" in text and "SGD.step()" in text


def test_loaded_weights_and_a_changed_model_record_again():
    def build():
        return Sequential(Linear(6, 4, rng=np.random.default_rng(0)), Sigmoid(),
                          Linear(4, 10, rng=np.random.default_rng(1)))
    a, b = build(), build()
    oa, ob = SGD(a.parameters(), lr=0.5), SGD(b.parameters(), lr=0.5)
    step = replay(b, cross_entropy, ob)
    batches = _batches((6,), [4] * 5)
    for i, (x, y) in enumerate(batches):
        x = x.astype(np.float32)
        if i == 3:  # new arrays in every parameter: the plan's buffers no longer hold them
            state = {k: v * 0.5 for k, v in a.state_dict().items()}
            a.load_state_dict(state)
            b.load_state_dict(state)
        loss = cross_entropy(a(Tensor(x)), y)
        oa.zero_grad()
        loss.backward()
        oa.step()
        assert step(x, y)[0] == loss.item()
    _same_state(a, b)
    assert step.recorded == 2
    b.append(ReLU())  # the container changed: its call plan is a new one
    step(batches[0][0].astype(np.float32), batches[0][1])
    assert step.recorded == 3


def test_a_new_shape_records_again_and_old_plans_are_dropped():
    model = _mlp("sigmoid")
    step = replay(model, cross_entropy, SGD(model.parameters(), lr=0.1))
    sizes = list(range(1, MAX_PLANS + 3))
    for x, y in _batches((784,), sizes + sizes[-2:]):
        step(x.astype(np.float32), y)
    assert step.recorded == len(sizes) and len(step.plans) == MAX_PLANS
    assert "tanh(" in step.describe() and "island" not in step.describe()  # the sigmoids


def test_tied_weights_are_refused_by_name_and_trained_eagerly():
    def build():
        rng = np.random.default_rng(4)
        first, second = Linear(5, 5, rng=rng), Linear(5, 5, rng=rng)
        second.weight = first.weight
        return Sequential(first, ReLU(), second, ReLU(), Linear(5, 10, rng=rng))
    _, _, step = _step_both(build, lambda m: SGD(m.parameters(), lr=0.2),
                            _batches((5,), [4, 4, 4]))
    assert step.refused is not None and "0.weight" in step.refused
    assert "tied" in step.refused and not step.plans


def test_bad_targets_get_the_eager_message():
    model = _mlp("relu")
    step = replay(model, cross_entropy)
    x = np.zeros((4, 784), np.float32)
    step(x, np.array([0, 1, 2, 3]))
    with pytest.raises(ValueError, match="target class 10 is outside 0..9"):
        step(x, np.array([0, 1, 2, 10]))
    with pytest.raises(ValueError, match="contains NaN"):
        step(np.full((4, 784), np.nan, np.float32), np.array([0, 1, 2, 3]))


def test_fit_replay_argument_is_checked():
    with pytest.raises(ValueError, match="replay must be True or False, got 'yes'"):
        fit(_mlp("relu"), SGD(_mlp("relu").parameters(), lr=0.1), _data(), 1, replay="yes")


def _fused(y, alpha, x):
    """y + alpha * x rounded once (float64 holds the float32 product exactly)."""
    return (y.astype(np.float64) + np.float64(np.float32(alpha)) * x).astype(np.float32)


def _written_out_sgd(params, grads, velocity, lr, momentum, decay, keep, nesterov):
    for i, (p, g) in enumerate(zip(params, grads)):
        if decay:
            g = _fused(g, decay, p)
        if momentum:
            v = velocity[i] = np.array(g) if velocity[i] is None else \
                _fused(momentum * velocity[i], keep, g)
            g = _fused(g, momentum, v) if nesterov else v
        p[...] = _fused(p, -lr, g)


def test_optimizer_updates_in_place_give_the_written_out_numbers():
    rng = np.random.default_rng(0)
    for momentum, decay, dampening, nesterov in [(0, 0, 0, False), (0.9, 0, 0, False),
                                                 (0.9, 0.01, 0.3, False), (0.8, 0.1, 0, True)]:
        params = [Tensor(rng.standard_normal((3, 4)).astype(np.float32), requires_grad=True)]
        ref = [p.data.copy() for p in params]
        opt = SGD(params, lr=0.1, momentum=momentum, weight_decay=decay, dampening=dampening,
                  nesterov=nesterov)
        velocity = [None]
        for _ in range(3):
            grads = [rng.standard_normal((3, 4)).astype(np.float32)]
            params[0].grad = grads[0]
            opt.step()
            _written_out_sgd(ref, grads, velocity, 0.1, momentum, decay, 1 - dampening, nesterov)
            assert np.array_equal(params[0].data, ref[0])
    for betas in [(0.9, 0.999), (0.3, 0.9)]:
        p = Tensor(rng.standard_normal(7).astype(np.float32), requires_grad=True)
        ref, m, v = p.data.copy(), np.zeros(7, np.float32), np.zeros(7, np.float32)
        opt = Adam([p], lr=0.01, betas=betas)
        b1, b2 = betas
        for t in range(1, 4):
            g = p.grad = rng.standard_normal(7).astype(np.float32)
            opt.step()
            m = m + (1 - b1) * (g - m) if 1 - b1 < 0.5 else b1 * m + (1 - b1) * g
            v = b2 * v + (1 - b2) * (g * g)
            ref -= 0.01 / (1 - b1 ** t) * m / (np.sqrt(v) / math.sqrt(1 - b2 ** t) + 1e-8)
            assert np.array_equal(p.data, ref)


@pytest.mark.mnist
def test_train_command_replays_by_default_and_no_replay_gives_the_same_weights(tmp_path):
    import os
    from pathlib import Path

    from microgradnn import checkpoint
    from microgradnn.cli import main

    data = os.environ.get("MICROGRADNN_DATA")
    if not data or not Path(data, "t10k-images-idx3-ubyte.gz").exists():
        pytest.skip("set MICROGRADNN_DATA to the folder with the MNIST files")
    args = ["train", "mnist", "--hidden", "16,16", "--optimizer", "sgd", "--momentum", "0.9",
            "--epochs", "1", "--batch-size", "64", "--limit", "300", "--quiet"]
    saved = []
    for extra in ([], ["--no-replay"]):
        path = tmp_path / f"m{len(saved)}.npz"
        assert main(args + extra + ["--save", str(path)]) == 0
        saved.append(checkpoint.load_checkpoint(path))
    a, b = (s.model.state_dict() for s in saved)
    assert all(np.array_equal(a[k], b[k]) for k in a)
    histories = [s.extra["history"][-1]["train_loss"] for s in saved]
    assert histories[0] == histories[1]


def test_forward_hooks_see_every_step():
    model = _mlp("relu")
    step = replay(model, cross_entropy, SGD(model.parameters(), lr=0.1))
    seen = []
    batches = _batches((784,), [4, 4, 4, 4])
    step(batches[0][0].astype(np.float32), batches[0][1])
    handle = model[0].register_forward_hook(lambda m, args, out: seen.append(out.data.shape))
    for x, y in batches[1:3]:
        step(x.astype(np.float32), y)
    handle.remove()
    step(batches[3][0].astype(np.float32), batches[3][1])
    assert seen == [(4, 16), (4, 16)] and step.recorded == 1


def _column_major(a: np.ndarray) -> bool:
    return a.flags.f_contiguous and not a.flags.c_contiguous


@pytest.mark.parametrize("layout", ["default", "row-major"])
def test_weight_layouts_are_kept_and_replayed_equal_to_eager(layout):
    """A wide float32 Linear weight is stored column-major (layers.weight_order); the gradient,
    the optimizer's packed buffers and load_state_dict keep each array's layout, and a
    row-major weight (as a user may assign) is replayed as eagerly too."""
    def build():
        model = Sequential(Linear(20, 64, rng=np.random.default_rng(2)), ReLU(),
                           Linear(64, 72, rng=np.random.default_rng(3)))
        if layout == "row-major":
            for p in model.parameters():
                p.data = np.ascontiguousarray(p.data)
        return model
    weights = [p for p in build().parameters() if p.data.ndim == 2]
    assert all(_column_major(w.data) == (layout == "default") for w in weights)
    a, b, step = _step_both(build, lambda m: Adam(m.parameters(), lr=1e-2),
                            _batches((20,), [6, 6, 6]))
    assert step.recorded == 1
    for model in (a, b):
        for p in model.parameters():
            if p.data.ndim == 2:
                assert _column_major(p.data) == _column_major(p.grad) == (layout == "default")
    # the replayed model's weights are views of the packed buffer, in their own layout
    assert all(p.data.base is b.parameters()[0].data.base for p in b.parameters())
    a.load_state_dict({k: np.ascontiguousarray(v) for k, v in b.state_dict().items()})
    assert all(_column_major(p.data) == (layout == "default")
               for p in a.parameters() if p.data.ndim == 2)
    _same_state(a, b)


def test_only_wide_float32_weights_are_column_major():
    assert Linear(5, 64, dtype=np.float64).weight.data.flags.c_contiguous
    assert Linear(784, 16).weight.data.flags.c_contiguous
    assert _column_major(Linear(784, 64).weight.data)
