"""Every CNN family's explain page against its PyTorch twin, number by number.

Each family at its default size is trained for a few steps on synthetic digits (so batch
norm's running statistics and the weights have moved from their start), then explained
with a mini-batch. The twin is ``microgradnn.interop.to_torch`` in float64 and eval
mode; forward hooks on every torch module record each call's input and output, the
outputs keep their gradients, and every number in the page's JSON (each column's
values and gradients, each block's inner maps, the residual sum and what each path sends
back, batch norm's running statistics, the kernels and their gradients, the mini-batch
means) must be within 1e-6 of torch's.
"""

from __future__ import annotations

import json
import re
from typing import Any, Dict, List, Tuple

import numpy as np
import pytest

from microgradnn.families import FAMILIES
from microgradnn.interop import to_torch
from microgradnn.models import build_model, input_mode_of, input_shape_of
from microgradnn.optim import Adam
from microgradnn.training import fit, to_input
from viz.explainer import explain

torch = pytest.importorskip("torch")

TOL = 1e-6


def digits(n: int, seed: int) -> Tuple[np.ndarray, np.ndarray]:
    """``n`` uint8 28x28 rings and bars with noise, and labels (no MNIST needed)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:28, :28]
    images = []
    for _ in range(n):
        cy, cx, r = rng.uniform(10, 18), rng.uniform(10, 18), rng.uniform(4, 9)
        ring = np.exp(-((np.hypot(yy - cy, xx - cx) - r) ** 2) / 3) * 255
        images.append(np.clip(ring + rng.normal(0, 25, (28, 28)), 0, 255))
    return np.array(images, dtype=np.uint8), rng.integers(0, 10, n)


def trained(family: str):
    model = build_model({"model": family, "seed": 0})
    fit(model, Adam(model.parameters(), lr=2e-3), digits(96, 1), epochs=1, batch_size=32,
        progress=False)
    return model.eval()


def page_data(page) -> Dict[str, Any]:
    match = re.search(r'<script type="application/json" id="microgradnn-data">(.*?)</script>',
                      page.html, re.S)
    return json.loads(match.group(1))


class TorchRun:
    """The twin on ``x``: every module call's inputs and output (output grads kept)."""

    def __init__(self, model, x: np.ndarray, labels: np.ndarray) -> None:
        self.twin = to_torch(model).double().eval()
        self.calls: Dict[str, List[Tuple[Any, Any]]] = {}
        self.back: Dict[str, Any] = {}
        handles = []
        self.near_ties = 0  # pooled windows whose two largest values differ by rounding
        for name, m in self.twin.named_modules():
            if not name:
                continue
            handles.append(m.register_forward_hook(self._record(name)))
            if isinstance(m, torch.nn.MaxPool2d):
                handles.append(m.register_forward_hook(self._count_near_ties))
            if name.endswith("conv1") or name.endswith("downsample"):
                handles.append(m.register_full_backward_hook(self._grad_in(name)))
        self.x = torch.tensor(x, dtype=torch.float64, requires_grad=True)
        logits = self.twin(self.x)
        self.out = torch.softmax(logits, dim=1)
        self.out.retain_grad()
        n = len(labels)
        self.loss = -torch.log(self.out[torch.arange(n), torch.tensor(labels)]).sum() / n
        self.loss.backward()
        for h in handles:
            h.remove()

    def _record(self, name):
        def hook(module, args, output):
            for a in args:
                if a.requires_grad:
                    a.retain_grad()
            output.retain_grad()
            self.calls.setdefault(name, []).append((args, output))
        return hook

    def _count_near_ties(self, module, args, output):
        """Windows whose maximum is matched within 1e-9 (relative), not exactly, by a
        second value: mathematically a tie (overlapping windows pass one maximum on to
        several positions), broken by rounding, which torch and microgradnn do in their own
        order; a max pool's gradient there may go to either (both are subgradients)."""
        x = args[0].detach()
        k, s, p = (torch.nn.modules.utils._pair(v) for v in
                   (module.kernel_size, module.stride, module.padding))
        x = torch.nn.functional.pad(x, (p[1], p[1], p[0], p[0]), value=-float("inf"))
        windows = x.unfold(2, k[0], s[0]).unfold(3, k[1], s[1]).flatten(-2)
        top = windows.max(-1, keepdim=True).values
        close_to_top = (windows >= top - 1e-9 * top.abs()).sum(-1)
        self.near_ties += int((close_to_top > (windows == top).sum(-1)).sum())

    def _grad_in(self, name):
        def hook(module, grad_input, grad_output):
            self.back[name] = grad_input[0]
        return hook

    def out_of(self, name: str, k: int = 0):
        return self.calls[name][k][1]

    def param(self, name: str):
        return self.twin.get_parameter(name)

    def buffer(self, name: str):
        return self.twin.get_buffer(name)


def close(got, expected, what: str, mean: bool = False) -> None:
    expected = expected.detach().numpy() if hasattr(expected, "detach") else np.asarray(expected)
    got = np.asarray(got, dtype=np.float64)
    assert got.shape == expected.shape, f"{what}: shape {got.shape} != {expected.shape}"
    err = float(np.max(np.abs(got - expected))) if got.size else 0.0
    assert err <= TOL, f"{what}: max error {err:.3g}"


def check_entry(e: Dict[str, Any], name: str, one: TorchRun, many: TorchRun, k: int = 0) -> int:
    """Compare one entry with the twin's call ``k`` of module ``name``; the numbers checked."""
    out, bout = one.out_of(name, k), many.out_of(name, k)
    close(e["activations"], out[0], f"{name} values")
    close(e["grad"], out.grad[0], f"dC/d({name})")
    close(e["batch_grad"], bout.grad.sum(0), f"batch mean dC/d({name})")
    count = 3 * out[0].numel()
    if "local_grad" in e and "parts" not in e:  # a block's: its ReLU's, checked below
        z = one.calls[name][k][0][0]
        close(e["local_grad"], (z[0] > 0).double(), f"ReLU' of {name}")
    for p in ("weight", "bias"):
        if p in e:
            close(e[p], one.param(f"{name}.{p}"), f"{name}.{p}")
            close(e[p + "_grad"], one.param(f"{name}.{p}").grad, f"dC/d {name}.{p}")
            close(e[f"batch_{p}_grad"], many.param(f"{name}.{p}").grad, f"mean dC/d {name}.{p}")
            count += 4 * one.param(f"{name}.{p}").numel()
    if e["type"] == "BatchNorm2d":
        close(e["running_mean"], one.buffer(f"{name}.running_mean"), f"{name} μ")
        close(e["running_var"], one.buffer(f"{name}.running_var"), f"{name} σ²")
    return count


@pytest.mark.slow
@pytest.mark.parametrize("family", FAMILIES)
def test_every_number_matches_the_pytorch_twin(family):
    model = trained(family)
    shape, mode = input_shape_of(model), input_mode_of(model)
    for seed in range(7, 17):  # images with no near tie in a max pool (TorchRun)
        image, label = digits(1, seed)[0][0], 3
        images, labels = digits(4, seed + 2)
        one = TorchRun(model, to_input(image[None], shape, mode), np.array([label]))
        many = TorchRun(model, to_input(images, shape, mode), labels)
        if one.near_ties == many.near_ties == 0:
            break
    assert one.near_ties == many.near_ties == 0, "no images without a near tie in 10 tries"
    data = page_data(explain(model, image, label, batch=(images, labels)))
    layers = data["layers"]
    close(layers[0]["grad"], one.x.grad[0], "dC/dx (saliency)")
    close(layers[0]["batch_grad"], many.x.grad.sum(0), "batch mean dC/dx")
    close(layers[-1]["activations"], one.out[0], "softmax")
    close(layers[-1]["grad"], one.out.grad[0], "dC/d softmax")
    assert abs(data["loss"] - one.loss.item()) <= TOL
    assert abs(data["batch"]["loss"] - many.loss.item()) <= TOL
    checked = 0
    for e in layers[1:-1]:
        checked += check_entry(e, e["name"], one, many)
        for part in e.get("parts", []):
            checked += check_entry(part, f"{e['name']}.{part['name']}", one, many)
        if e["type"] == "BasicBlock":
            args, _ = one.calls[f"{e['name']}.relu"][1]  # the block's ReLU reads F + shortcut
            close(e["sum"]["activations"], args[0][0], f"{e['name']} F + shortcut")
            close(e["sum"]["grad"], args[0].grad[0], f"dC/d({e['name']} F + shortcut)")
            b_args, _ = many.calls[f"{e['name']}.relu"][1]
            close(e["sum"]["batch_grad"], b_args[0].grad.sum(0), "batch mean dC/d(F + shortcut)")
            close(e["local_grad"], (args[0][0] > 0).double(), "the block's ReLU'")
            close(e["path_grads"]["F"], one.back[f"{e['name']}.conv1"][0], "through F")
            if e["shortcut"] == "projection":
                close(e["path_grads"]["shortcut"], one.back[f"{e['name']}.downsample"][0],
                      "through the projection")
            else:
                assert "shortcut" not in e["path_grads"]
            assert e["symbol"].startswith("a[") or e["symbol"].startswith("ReLU(F(")
        if e["type"] == "Inception":
            ends = [one.out_of(f"{e['name']}.{b['name']}") for b in e["branches"]]
            bounds = np.cumsum([0] + [t.shape[1] for t in ends])
            assert [b["channels"] for b in e["branches"]] == \
                [[int(a), int(b)] for a, b in zip(bounds[:-1], bounds[1:])]
    assert checked > 10_000


def test_the_columns_are_named_in_the_notation():
    data = explain(build_model({"model": "resnet", "seed": 0}), digits(1, 2)[0][0], 1).data
    symbols = [(e["type"], e["symbol"]) for e in data["layers"]]
    assert symbols[:4] == [("Input", "a[0]"), ("Conv2d", "z[1]"), ("BatchNorm2d", "ẑ[1]"),
                           ("ReLU", "a[1]")]
    assert symbols[-3:] == [("Flatten", "a[4]"), ("Linear", "z[5]"), ("Softmax", "a[5]")]
    block = data["layers"][4]
    assert [p["symbol"] for p in block["parts"]] == ["z₁", "ẑ₁", "ReLU(ẑ₁)", "z₂",
                                                     "ẑ₂ = F(a[1])"]
    lenet = explain(build_model({"model": "lenet5", "seed": 0}), digits(1, 2)[0][0], 1).data
    assert [e["symbol"] for e in lenet["layers"]][:4] == ["a[0]", "z[1]", "ReLU(z[1])", "a[1]"]


@pytest.mark.slow
@pytest.mark.parametrize("family", FAMILIES)
def test_each_family_page_with_the_default_batch_stays_under_5_mb(family):
    images, labels = digits(33, 4)
    page = explain(build_model({"model": family, "seed": 0}), images[0], int(labels[0]),
                   batch=(images[1:], labels[1:]))
    assert len(page.html.encode("utf-8")) <= 5_000_000
    assert page.data["kind"] == "cnn" and page.data["batch"]["size"] == 32
