"""Scalar losses and the optimizers, against PyTorch."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from microgradnn import Value
from microgradnn.losses import binary_cross_entropy, cross_entropy, hinge_loss, l2_penalty, mse_loss
from microgradnn.optim import SGD, Adam


def leaves(values):
    return [Value(v) for v in values]


def tensor(values):
    return torch.tensor(values, dtype=torch.float64, requires_grad=True)


def test_mse_matches_pytorch():
    p, t = leaves([0.5, -1.0, 2.0]), [1.0, 0.0, 2.5]
    loss = mse_loss(p, t)
    loss.backward()
    tp = tensor([0.5, -1.0, 2.0])
    t_loss = F.mse_loss(tp, torch.tensor(t, dtype=torch.float64))
    t_loss.backward()
    assert loss.data == pytest.approx(t_loss.item(), rel=1e-12)
    assert [v.grad for v in p] == pytest.approx(tp.grad.tolist(), rel=1e-12)


def test_hinge_matches_formula_and_pytorch():
    s, y = leaves([0.3, -2.0, 1.5]), [1.0, -1.0, -1.0]
    loss = hinge_loss(s, y)
    loss.backward()
    ts = tensor([0.3, -2.0, 1.5])
    t_loss = torch.relu(1 - torch.tensor(y, dtype=torch.float64) * ts).mean()
    t_loss.backward()
    assert loss.data == pytest.approx(t_loss.item(), rel=1e-12)
    assert [v.grad for v in s] == pytest.approx(ts.grad.tolist(), rel=1e-12)


@pytest.mark.parametrize("logits", [[[1.0, 2.0, 0.5], [0.1, -0.3, 0.2]],
                                    [[1000.0, 999.0, -1000.0], [-1000.0, 0.0, 1000.0]]])
def test_cross_entropy_is_stable_and_matches_pytorch(logits):
    z = [leaves(row) for row in logits]
    targets = [1, 2]
    loss = cross_entropy(z, targets)
    loss.backward()
    tz = tensor(logits)
    t_loss = F.cross_entropy(tz, torch.tensor(targets))
    t_loss.backward()
    assert loss.data == pytest.approx(t_loss.item(), rel=1e-9, abs=1e-12)
    assert [[v.grad for v in row] for row in z] == [pytest.approx(r, abs=1e-12) for r in tz.grad.tolist()]


def test_cross_entropy_of_one_sample_is_pytorchs_unbatched_call():
    scores = [0.3, -1.2, 2.0, 0.5]
    z = leaves(scores)
    loss = cross_entropy(z, 2)          # one sample: its class scores and one class index
    loss.backward()
    tz = tensor(scores)
    t_loss = F.cross_entropy(tz, torch.tensor(2))   # PyTorch's unbatched form, input (C,)
    t_loss.backward()
    assert loss.data == pytest.approx(t_loss.item(), rel=1e-12)
    assert [v.grad for v in z] == pytest.approx(tz.grad.tolist(), abs=1e-12)
    batch = cross_entropy([leaves(scores)], [2])
    assert loss.data == batch.data


@pytest.mark.parametrize("call,message", [
    (lambda: cross_entropy([Value(1.0), Value(2.0)], [1]),
     r"one sample's 2 class scores, so the target is one class index: cross_entropy\(out, 7\)"),
    (lambda: cross_entropy([[Value(1.0)], [Value(2.0)]], 0),
     r"one target \(0\) for a batch of 2 samples: .*cross_entropy\(logits, \[0, \.\.\.\]\)"),
    (lambda: cross_entropy([Value(1.0), Value(2.0)], 2), r"target 2 is not a class index in \[0, 2\)"),
    (lambda: cross_entropy([Value(1.0), Value(2.0)], True), r"one sample's 2 class scores"),
    (lambda: cross_entropy(Value(1.0), 0), r"one sample's class scores, a list of Values; got Value"),
])
def test_cross_entropy_one_sample_errors_show_the_call(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_binary_cross_entropy_matches_pytorch_and_survives_certainty():
    p, y = leaves([0.2, 0.9, 0.5]), [0.0, 1.0, 1.0]
    loss = binary_cross_entropy(p, y)
    loss.backward()
    tp = tensor([0.2, 0.9, 0.5])
    t_loss = F.binary_cross_entropy(tp, torch.tensor(y, dtype=torch.float64))
    t_loss.backward()
    assert loss.data == pytest.approx(t_loss.item(), rel=1e-12)
    assert [v.grad for v in p] == pytest.approx(tp.grad.tolist(), rel=1e-9)
    sure_and_wrong = binary_cross_entropy([Value(1.0)], [0.0])
    assert np.isfinite(sure_and_wrong.data) and sure_and_wrong.data > 20


@pytest.mark.parametrize("call,message", [
    (lambda: mse_loss([Value(1.0)], [1.0, 2.0]), "1 predictions but 2 targets"),
    (lambda: mse_loss([], []), "no samples"),
    (lambda: hinge_loss([Value(1.0)], [0.0]), r"labels must be -1 or \+1, got 0.0"),
    (lambda: cross_entropy([[Value(1.0), Value(2.0)]], [2]), "target 2 is not a class index in \\[0, 2\\)"),
    (lambda: binary_cross_entropy([Value(1.5)], [1.0]), "probability must be in \\[0, 1\\], got 1.5"),
])
def test_loss_errors(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_l2_penalty():
    ps = leaves([1.0, -2.0])
    reg = l2_penalty(ps, 0.5)
    reg.backward()
    assert reg.data == 2.5 and [p.grad for p in ps] == [1.0, -2.0]


def run_both(make_ours, make_torch, steps=5):
    """Minimise sum((p - target)**2) with both optimizers; return both parameter traces."""
    start, target = [0.5, -1.5, 2.0], [1.0, 0.0, -1.0]
    ours, theirs = leaves(start), tensor(start)
    opt, t_opt = make_ours(ours), make_torch([theirs])
    for _ in range(steps):
        opt.zero_grad()
        sum(((p - t) ** 2 for p, t in zip(ours, target)), Value(0.0)).backward()
        opt.step()
        t_opt.zero_grad()
        ((theirs - torch.tensor(target, dtype=torch.float64)) ** 2).sum().backward()
        t_opt.step()
    return [p.data for p in ours], theirs.detach().tolist()


@pytest.mark.parametrize("kwargs", [{}, {"momentum": 0.9}, {"weight_decay": 0.1},
                                    {"momentum": 0.5, "weight_decay": 0.01}])
def test_sgd_matches_pytorch(kwargs):
    ours, theirs = run_both(lambda ps: SGD(ps, lr=0.1, **kwargs),
                            lambda ps: torch.optim.SGD(ps, lr=0.1, **kwargs))
    assert ours == pytest.approx(theirs, rel=1e-12)


@pytest.mark.parametrize("kwargs", [{}, {"weight_decay": 0.1}, {"betas": (0.8, 0.99), "eps": 1e-6}])
def test_adam_matches_pytorch(kwargs):
    ours, theirs = run_both(lambda ps: Adam(ps, lr=0.05, **kwargs),
                            lambda ps: torch.optim.Adam(ps, lr=0.05, **kwargs))
    assert ours == pytest.approx(theirs, rel=1e-10)


class ArrayParam:
    """A parameter holding a numpy array, as the tensor path's are."""

    def __init__(self, data):
        self.data, self.grad = np.array(data, dtype=np.float64), None

    def zero_grad(self):
        self.grad = None


def test_optimizers_update_numpy_array_parameters_like_scalars():
    for make in (lambda ps: SGD(ps, lr=0.1, momentum=0.9, weight_decay=0.01),
                 lambda ps: Adam(ps, lr=0.1, weight_decay=0.01)):
        arr, scalars = ArrayParam([0.5, -1.5]), leaves([0.5, -1.5])
        opt_a, opt_s = make([arr]), make(scalars)
        for _ in range(3):
            arr.grad = 2 * arr.data
            for s in scalars:
                s.grad = 2 * s.data
            opt_a.step()
            opt_s.step()
        assert arr.data.tolist() == pytest.approx([s.data for s in scalars], rel=1e-12)
        arr.grad = None  # a parameter no gradient reached is skipped
        before = arr.data.copy()
        opt_a.step()
        assert arr.data.tolist() == before.tolist()


@pytest.mark.parametrize("call,message", [
    (lambda: SGD([Value(1.0)], lr=-1), "lr must be a number >= 0, got -1"),
    (lambda: SGD([Value(1.0)], lr=0.1, momentum=1.0), "momentum must be a number >= 0 and below 1.0"),
    (lambda: Adam([], lr=0.1), "empty parameter list"),
])
def test_optimizer_errors(call, message):
    with pytest.raises(ValueError, match=message):
        call()


@pytest.mark.parametrize("kwargs", [{"momentum": 0.9, "dampening": 0.5},
                                    {"momentum": 0.9, "nesterov": True},
                                    {"momentum": 0.8, "nesterov": True, "weight_decay": 0.05},
                                    {"momentum": 0.5, "dampening": 1.0, "weight_decay": 0.01}])
def test_sgd_dampening_and_nesterov_match_pytorch(kwargs):
    ours, theirs = run_both(lambda ps: SGD(ps, lr=0.1, **kwargs),
                            lambda ps: torch.optim.SGD(ps, lr=0.1, **kwargs), steps=8)
    assert ours == pytest.approx(theirs, rel=1e-12)


@pytest.mark.parametrize("kwargs", [{"amsgrad": True, "betas": (0.9, 0.5)},
                                    {"amsgrad": True, "weight_decay": 0.1},
                                    {"betas": (0.3, 0.9)}])
def test_adam_amsgrad_and_large_beta1_step_match_pytorch(kwargs):
    ours, theirs = run_both(lambda ps: Adam(ps, lr=0.05, **kwargs),
                            lambda ps: torch.optim.Adam(ps, lr=0.05, **kwargs), steps=8)
    assert ours == pytest.approx(theirs, rel=1e-12)


def test_new_optimizer_options_update_arrays_like_scalars():
    for make in (lambda ps: SGD(ps, lr=0.1, momentum=0.9, nesterov=True),
                 lambda ps: SGD(ps, lr=0.1, momentum=0.9, dampening=0.3),
                 lambda ps: Adam(ps, lr=0.1, amsgrad=True),
                 lambda ps: Adam(ps, lr=0.1, betas=(0.2, 0.9))):
        arr, scalars = ArrayParam([0.5, -1.5]), leaves([0.5, -1.5])
        opt_a, opt_s = make([arr]), make(scalars)
        for step in range(4):
            # a gradient that shrinks, so AMSGrad's running maximum matters
            arr.grad = (2.0 - step * 0.6) * arr.data
            for s in scalars:
                s.grad = (2.0 - step * 0.6) * s.data
            opt_a.step()
            opt_s.step()
        assert arr.data.tolist() == pytest.approx([s.data for s in scalars], rel=1e-12)


@pytest.mark.parametrize("call,message", [
    (lambda: SGD([Value(1.0)], lr=0.1, nesterov=True), "nesterov momentum needs momentum > 0"),
    (lambda: SGD([Value(1.0)], lr=0.1, momentum=0.9, dampening=0.1, nesterov=True),
     "dampening 0, got momentum 0.9 and dampening 0.1"),
    (lambda: SGD([Value(1.0)], lr=0.1, momentum=0.9, dampening=1.5), "dampening must be a number in"),
    (lambda: Adam([Value(1.0)], lr=0.1, betas=0.9), r"betas must be a pair \(beta1, beta2\), got 0.9"),
    (lambda: Adam([Value(1.0)], lr=0.1, amsgrad="yes"), "amsgrad must be True or False"),
])
def test_new_optimizer_option_errors(call, message):
    with pytest.raises(ValueError, match=message):
        call()


@pytest.mark.parametrize("kwargs", [{}, {"momentum": 0.9}, {"weight_decay": 0.1},
                                    {"momentum": 0.9, "dampening": 0.3},
                                    {"momentum": 0.8, "nesterov": True, "weight_decay": 0.05}])
@pytest.mark.parametrize("packed", [False, True])
def test_float32_sgd_gives_pytorchs_numbers_bit_for_bit(kwargs, packed):
    """Each a + alpha * b is fused (rounded once), as torch's add_(b, alpha=...): the
    float32 weights after several steps are PyTorch's exactly, per array and packed."""
    from microgradnn.tensor import Tensor

    rng = np.random.default_rng(5)
    starts = [rng.standard_normal((64, 33)).astype(np.float32),
              np.asfortranarray(rng.standard_normal((40, 7)).astype(np.float32))]
    ours = [Tensor(a.copy(), requires_grad=True) for a in starts]
    theirs = [torch.nn.Parameter(torch.from_numpy(np.ascontiguousarray(a))) for a in starts]
    opt, t_opt = SGD(ours, lr=0.1, **kwargs), torch.optim.SGD(theirs, lr=0.1, **kwargs)
    grads = opt.pack() if packed else [None, None]
    for _ in range(4):
        for k, (p, t) in enumerate(zip(ours, theirs)):
            g = rng.standard_normal(p.data.shape).astype(np.float32)
            if packed:
                grads[k][...] = g
                p.grad = grads[k]
            else:
                p.grad = np.array(g, order="F" if k else "C")
            t.grad = torch.from_numpy(np.ascontiguousarray(g))
        opt.step()
        t_opt.step()
    for p, t in zip(ours, theirs):
        assert np.array_equal(p.data, t.detach().numpy()), kwargs
    # the two-rounding update p - (0.1 * g) differs in the last bit somewhere: the test can fail
    p, g = starts[0], rng.standard_normal(starts[0].shape).astype(np.float32)
    t = torch.from_numpy(p.copy())
    t.add_(torch.from_numpy(g), alpha=-0.1)
    assert not np.array_equal(p - np.float32(0.1) * g, t.numpy())
