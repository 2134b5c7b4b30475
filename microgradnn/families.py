"""The CNN families of the notes, small enough for MNIST on a laptop CPU, each keeping its idea.

| family    | its idea, kept in the small version                                          |
|-----------|------------------------------------------------------------------------------|
| lenet5    | conv 5x5 (6) - subsample - conv 5x5 (16) - subsample - fc 120 - fc 84 - 10    |
| alexnet   | a large first kernel (7x7), ReLU, local response normalisation, overlapping  |
|           | max-pool (3, stride 2), five convs, dropout in the fully connected part      |
| vgg       | blocks of two 3x3 convs before each 2x2 max-pool, channels doubling per block |
| googlenet | inception modules (1x1 | 1x1-3x3 | 1x1-5x5 | pool-1x1, joined along channels)  |
|           | and global average pooling instead of big fc layers                          |
| resnet    | residual blocks y = relu(F(x) + x) with batch normalisation, a 1x1 projection |
|           | where the shape changes, global average pooling                              |

Every builder takes a normalized spec (see ``microgradnn.models``) and returns a
``Sequential`` whose input is (N, 1, 28, 28) and output (N, classes). Layer names follow
PyTorch (a state_dict maps one to one onto the same architecture in torch.nn).

In the four ReLU families after LeNet-5, convolution weights start with He's
initialization (He et al. 2015, the ResNet authors' earlier paper): uniform in
+-sqrt(6 / fan_in), so the signal keeps its size through many ReLU layers. PyTorch's
default (+-1/sqrt(fan_in)) shrinks it by about sqrt(6) per layer, and the deeper families (GoogLeNet above all) then barely move
in their first hundred steps.
"""

from __future__ import annotations

from typing import Any, Callable, Dict, List, Mapping, NamedTuple, Tuple

import numpy as np

from .module import Module
from .tensor import (AdaptiveAvgPool2d, AvgPool2d, BasicBlock, BatchNorm2d, Conv2d, Dropout,
                     Flatten, Inception, Linear, LocalResponseNorm, MaxPool2d, ReLU, Sequential)
from .tensor.layers import ACTIVATIONS

__all__ = ["FAMILIES", "FAMILY_DEFAULTS", "RECIPES", "FASTEST_RECIPE", "build_family",
           "describe_family", "recipe_command", "Layer", "layer_plan"]

# Defaults of each family's spec keys (besides "model", "seed", "classes", "input").
FAMILY_DEFAULTS: Dict[str, Dict[str, Any]] = {
    "lenet5": {"activation": "relu", "pool": "max"},
    "alexnet": {"channels": [16, 24, 32, 32, 24], "hidden": [128, 128], "dropout": 0.5},
    "vgg": {"channels": [8, 16, 32], "hidden": [64], "dropout": 0.0},
    "googlenet": {"width": 8},
    "resnet": {"channels": [8, 16, 32], "blocks": 1},
}
FAMILIES = tuple(FAMILY_DEFAULTS)

# The best measured training recipe of each family (README, benchmarks/RESULTS.md): the
# spec keys that differ from the defaults, Adam, the learning rate multiplied by lr_decay
# after each epoch, and the processes each batch is split over (``fit(workers=)``).
# ``recipe_command`` spells one as its ``microgradnn train`` command.
RECIPES: Dict[str, Dict[str, Any]] = {
    "lenet5": {"model": "lenet5", "spec": {}, "lr": 2e-3, "lr_decay": 0.85, "epochs": 15,
               "batch_size": 64, "augment": 1, "workers": 2},
    "alexnet": {"model": "alexnet", "spec": {}, "lr": 1e-3, "lr_decay": 0.85, "epochs": 15,
                "batch_size": 64, "augment": 1, "workers": 1},
    "vgg": {"model": "vgg", "spec": {}, "lr": 2e-3, "lr_decay": 0.8, "epochs": 10,
            "batch_size": 64, "augment": 1, "workers": 1},
    "googlenet": {"model": "googlenet", "spec": {"width": 12}, "lr": 2e-3, "lr_decay": 0.8,
                  "epochs": 14, "batch_size": 64, "augment": 1, "workers": 2},
    "resnet": {"model": "resnet", "spec": {}, "lr": 2e-3, "lr_decay": 0.8, "epochs": 15,
               "batch_size": 64, "augment": 1, "workers": 1},
}
# The quickest recipe found to reach 99.2% on the test set (issue 16's two-minute goal):
# LeNet-5's, its batches split over two processes.
FASTEST_RECIPE: Dict[str, Any] = RECIPES["lenet5"]

_FLAGS = {"channels": "--channels", "hidden": "--hidden", "dropout": "--dropout",
          "width": "--width", "blocks": "--blocks", "activation": "--activation"}


def recipe_command(recipe: Mapping[str, Any]) -> str:
    """The ``microgradnn train mnist`` command that trains ``recipe`` (seed 0)."""
    parts = ["microgradnn train mnist", f"--model {recipe['model']}"]
    for key, value in recipe["spec"].items():
        text = ",".join(map(str, value)) if isinstance(value, (list, tuple)) else str(value)
        parts.append(f"{_FLAGS[key]} {text}")
    parts += [f"--optimizer adam --lr {recipe['lr']:g} --lr-decay {recipe['lr_decay']:g}",
              f"--augment {recipe['augment']}", f"--epochs {recipe['epochs']}",
              f"--batch-size {recipe['batch_size']}"]
    if recipe["workers"] > 1:
        parts.append(f"--workers {recipe['workers']}")
    return " ".join(parts + ["--seed 0"])


def _dropout(p: float, rng: np.random.Generator) -> List[Module]:
    return [Dropout(p, rng=np.random.default_rng(rng.integers(2**63)))] if p > 0 else []


def _lenet5(spec: Mapping[str, Any], rng: np.random.Generator) -> List[Module]:
    act = ACTIVATIONS[spec["activation"]]
    pool = MaxPool2d if spec["pool"] == "max" else AvgPool2d
    return [Conv2d(1, 6, 5, padding=2, rng=rng), act(), pool(2),      # 6 x 28 x 28 -> 14 x 14
            Conv2d(6, 16, 5, rng=rng), act(), pool(2),                # 16 x 10 x 10 -> 5 x 5
            Flatten(), Linear(400, 120, rng=rng), act(), Linear(120, 84, rng=rng), act(),
            Linear(84, spec["classes"], rng=rng)]


def _alexnet(spec: Mapping[str, Any], rng: np.random.Generator) -> List[Module]:
    c1, c2, c3, c4, c5 = spec["channels"]
    lrn = (5, 1e-4, 0.75, 2.0)  # AlexNet's size, alpha, beta, k
    layers: List[Module] = [
        Conv2d(1, c1, 7, padding=3, rng=rng), ReLU(), LocalResponseNorm(*lrn),
        MaxPool2d(3, 2),                                               # 28 -> 13
        Conv2d(c1, c2, 5, padding=2, rng=rng), ReLU(), LocalResponseNorm(*lrn),
        MaxPool2d(3, 2),                                               # 13 -> 6
        Conv2d(c2, c3, 3, padding=1, rng=rng), ReLU(),
        Conv2d(c3, c4, 3, padding=1, rng=rng), ReLU(),
        Conv2d(c4, c5, 3, padding=1, rng=rng), ReLU(),
        MaxPool2d(3, 2),                                               # 6 -> 2
        Flatten()]
    width = c5 * 2 * 2
    for size in spec["hidden"]:
        layers += _dropout(spec["dropout"], rng) + [Linear(width, size, rng=rng), ReLU()]
        width = size
    return layers + [Linear(width, spec["classes"], rng=rng)]


def _vgg(spec: Mapping[str, Any], rng: np.random.Generator) -> List[Module]:
    layers: List[Module] = []
    channels, side = 1, 28
    for out in spec["channels"]:
        layers += [Conv2d(channels, out, 3, padding=1, rng=rng), ReLU(),
                   Conv2d(out, out, 3, padding=1, rng=rng), ReLU(), MaxPool2d(2)]
        channels, side = out, side // 2
    layers.append(Flatten())
    width = channels * side * side
    for size in spec["hidden"]:
        layers += [Linear(width, size, rng=rng), ReLU()] + _dropout(spec["dropout"], rng)
        width = size
    return layers + [Linear(width, spec["classes"], rng=rng)]


def _inception_widths(w: int) -> List[Tuple[int, ...]]:
    """The three inception modules' (in, c1, c3_reduce, c3, c5_reduce, c5, pool_proj)."""
    h = max(w // 2, 1)
    a = (2 * w, w, w, 2 * w, h, w, w)                                                # 14 x 14
    b = (w + 2 * w + w + w, 2 * w, 3 * w // 2, 3 * w, h, w, w)                       # 14 x 14
    c = (2 * w + 3 * w + w + w, 3 * w, 2 * w, 4 * w, h, w, w)                         # 7 x 7
    return [a, b, c]


def _googlenet(spec: Mapping[str, Any], rng: np.random.Generator) -> List[Module]:
    w = spec["width"]
    a, b, c = (Inception(*widths, rng=rng) for widths in _inception_widths(w))
    return [Conv2d(1, 2 * w, 3, padding=1, rng=rng), ReLU(), MaxPool2d(2),      # 28 -> 14
            a, b, MaxPool2d(3, 2, 1), c,                                         # 14 -> 7
            AdaptiveAvgPool2d(1), Flatten(), Linear(c.out_channels, spec["classes"], rng=rng)]


def _resnet(spec: Mapping[str, Any], rng: np.random.Generator) -> List[Module]:
    channels = spec["channels"]
    layers: List[Module] = [Conv2d(1, channels[0], 3, padding=1, bias=False, rng=rng),
                            BatchNorm2d(channels[0]), ReLU()]
    width = channels[0]
    for stage, out in enumerate(channels):
        for block in range(spec["blocks"]):
            stride = 2 if stage > 0 and block == 0 else 1
            layers.append(BasicBlock(width, out, stride, rng=rng))
            width = out
    return layers + [AdaptiveAvgPool2d(1), Flatten(), Linear(width, spec["classes"], rng=rng)]


_BUILDERS: Dict[str, Callable[[Mapping[str, Any], np.random.Generator], List[Module]]] = {
    "lenet5": _lenet5, "alexnet": _alexnet, "vgg": _vgg, "googlenet": _googlenet,
    "resnet": _resnet}


def _he_init(model: Module, rng: np.random.Generator) -> None:
    """Conv weights uniform in +-sqrt(6 / fan_in) (see the module docstring)."""
    for m in model.modules():
        if isinstance(m, Conv2d):
            w = m.weight.data
            bound = np.sqrt(6.0 / w[0].size)
            w[...] = rng.uniform(-bound, bound, w.shape)


class Layer(NamedTuple):
    """One convolution or fully connected layer of a family, as ``layer_plan`` lists it:
    ``inputs`` -> ``outputs`` channels (features), a ``kernel`` x ``kernel`` window, an
    output of ``side`` x ``side`` (1 for a fully connected layer)."""

    inputs: int
    outputs: int
    kernel: int
    side: int


def _resnet_plan(spec: Mapping[str, Any]) -> List[Layer]:
    channels = spec["channels"]
    plan, width, side = [Layer(1, channels[0], 3, 28)], channels[0], 28
    for stage, out in enumerate(channels):
        for block in range(spec["blocks"]):
            stride = 2 if stage > 0 and block == 0 else 1
            side = (side - 1) // stride + 1
            plan += [Layer(width, out, 3, side), Layer(out, out, 3, side)]
            if stride != 1 or width != out:
                plan.append(Layer(width, out, 1, side))
            width = out
    return plan + [Layer(width, spec["classes"], 1, 1)]


def _googlenet_plan(spec: Mapping[str, Any]) -> List[Layer]:
    plan = [Layer(1, 2 * spec["width"], 3, 28)]
    for (cin, c1, c3r, c3, c5r, c5, pool), side in zip(_inception_widths(spec["width"]),
                                                       (14, 14, 7)):
        plan += [Layer(cin, c1, 1, side), Layer(cin, c3r, 1, side), Layer(c3r, c3, 3, side),
                 Layer(cin, c5r, 1, side), Layer(c5r, c5, 5, side), Layer(cin, pool, 1, side),
                 Layer(cin, c1 + c3 + c5 + pool, 0, side)]  # the joined output: no weights
    return plan + [Layer(plan[-1].outputs, spec["classes"], 1, 1)]


def _fully_connected(width: int, spec: Mapping[str, Any]) -> List[Layer]:
    plan = []
    for size in [*spec.get("hidden", []), spec["classes"]]:
        plan.append(Layer(width, size, 1, 1))
        width = size
    return plan


def layer_plan(spec: Mapping[str, Any]) -> List[Layer]:
    """The convolutions and fully connected layers ``build_family(spec)`` makes, computed
    from the (normalized) spec without building anything: what bounds a spec's cost
    (``microgradnn.models.check_spec_size``). A layer with ``kernel`` 0 is an inception
    module's joined output (it has no weights of its own)."""
    kind = spec["model"]
    if kind == "lenet5":
        return [Layer(1, 6, 5, 28), Layer(6, 16, 5, 10), Layer(400, 120, 1, 1),
                Layer(120, 84, 1, 1), Layer(84, spec["classes"], 1, 1)]
    if kind == "alexnet":
        c1, c2, c3, c4, c5 = spec["channels"]
        return [Layer(1, c1, 7, 28), Layer(c1, c2, 5, 13), Layer(c2, c3, 3, 6),
                Layer(c3, c4, 3, 6), Layer(c4, c5, 3, 6)] + _fully_connected(c5 * 4, spec)
    if kind == "vgg":
        plan, channels, side = [], 1, 28
        for out in spec["channels"]:
            plan += [Layer(channels, out, 3, side), Layer(out, out, 3, side)]
            channels, side = out, side // 2
        return plan + _fully_connected(channels * side * side, spec)
    return _googlenet_plan(spec) if kind == "googlenet" else _resnet_plan(spec)


def build_family(spec: Mapping[str, Any]) -> Sequential:
    """The family's ``Sequential`` for an already normalized ``spec``."""
    rng = np.random.default_rng(spec["seed"])
    model = Sequential(*_BUILDERS[spec["model"]](spec, rng))
    if spec["model"] != "lenet5":  # LeNet-5 keeps PyTorch's default, as in its paper's spirit
        _he_init(model, rng)
    return model


def describe_family(spec: Mapping[str, Any]) -> str:
    """A one-line name, e.g. ``ResNet-small (channels 16-32-64, 1 block per stage)``."""
    kind = spec["model"]
    if kind == "lenet5":
        return f"LeNet-5 ({spec['activation']}, {spec['pool']}-pool subsampling)"
    if kind == "alexnet":
        return (f"AlexNet-small (channels {'-'.join(map(str, spec['channels']))}, fc "
                f"{'-'.join(map(str, spec['hidden']))}, dropout {spec['dropout']})")
    if kind == "vgg":
        return (f"VGG-small (2 convs 3x3 per block, channels "
                f"{'-'.join(map(str, spec['channels']))}, fc {'-'.join(map(str, spec['hidden']))})")
    if kind == "googlenet":
        return f"GoogLeNet-small (3 inception modules, width {spec['width']})"
    return (f"ResNet-small (channels {'-'.join(map(str, spec['channels']))}, "
            f"{spec['blocks']} block{'s' if spec['blocks'] > 1 else ''} per stage)")
