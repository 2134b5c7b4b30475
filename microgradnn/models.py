"""Model builders: a small JSON-able ``spec`` dict -> a ``microgradnn.tensor.Sequential``.

The spec is what checkpoints store beside the weights, so ``build_model(spec)`` must
rebuild exactly the same layers. Two families:

- ``{"model": "mlp", "hidden": [16, 16], "activation": "sigmoid"}``: input (N, 784),
  ``Linear`` + activation per hidden size, then ``Linear(.., 10)``. No ``Flatten``, so the
  scalar engine's ``MLP`` can take the same weights (``to_scalar_mlp``).
- ``{"model": "cnn", "channels": [32, 64], "kernel": 3, "hidden": [128], "dropout": 0.0}``:
  input (N, 1, 28, 28); per channel count a same-padded ``Conv2d`` + activation +
  ``MaxPool2d(2)``; then ``Flatten``, hidden ``Linear`` layers (with ``Dropout`` if asked)
  and ``Linear(.., 10)``.
- the CNN families of ``microgradnn.families``, input (N, 1, 28, 28):
  ``{"model": "lenet5", "activation": "relu", "pool": "max"}``,
  ``{"model": "alexnet", "channels": [16, 24, 32, 32, 24], "hidden": [128, 128], "dropout": 0.5}``,
  ``{"model": "vgg", "channels": [8, 16, 32], "hidden": [64], "dropout": 0.0}``,
  ``{"model": "googlenet", "width": 8}``, ``{"model": "resnet", "channels": [8, 16, 32],
  "blocks": 1}``.

Common keys: ``activation`` ("relu" | "sigmoid" | "tanh"), ``seed`` (weights drawn from
``numpy.random.default_rng(seed)``), ``inputs`` (784 = 28*28), ``classes`` (10), and
``input``: how uint8 pixels become numbers, "unit" (p / 255, in [0, 1]) or "standard"
((p / 255 - 0.1307) / 0.3081, MNIST's mean and standard deviation: zero-centred inputs
help sigmoid units).

Bounds (``check_spec_size``, called by ``normalize_spec``): at most ``MAX_HIDDEN_LAYERS``
hidden layers, ``MAX_CLASSES`` classes and ``MAX_PARAMETERS`` parameters in all, counted
from the spec by ``parameter_shapes`` before anything is allocated. A convolutional
model (``cnn`` and the families) is also bounded by what evaluating it costs, read off
its layers (``families.layer_plan``) without building it: at most ``MAX_ACTIVATIONS``
numbers per image in any layer's output (what a batch of 1000 test images holds at
once) and ``MAX_MULTIPLY_ADDS`` per image (its time). The checkpoint loader compares
the same ``parameter_shapes`` with the arrays stored in a file before building the model.
A new model family adds its entry to ``PARAMETER_SHAPES`` and to ``families.layer_plan``.
"""

from __future__ import annotations

import functools
import json
from typing import Any, Dict, FrozenSet, List, Mapping, Optional, Tuple

import numpy as np

from .families import FAMILIES, FAMILY_DEFAULTS, Layer, build_family, describe_family, layer_plan
from .module import Module
from .tensor import Conv2d, Dropout, Flatten, Linear, MaxPool2d, Sequential
from .tensor.layers import ACTIVATIONS

__all__ = ["build_model", "normalize_spec", "input_shape", "input_shape_of", "input_mode_of",
           "describe", "to_scalar_mlp", "parameter_shapes", "check_spec_size", "ACTIVATIONS",
           "INPUT_MODES", "SIDE", "MAX_PARAMETERS", "MAX_HIDDEN_LAYERS", "PARAMETER_SHAPES",
           "MODEL_KINDS", "FAMILIES", "integer_state_keys", "MAX_CLASSES", "MAX_ACTIVATIONS",
           "MAX_MULTIPLY_ADDS", "evaluation_cost"]

SIDE = 28
INPUT_MODES = ("unit", "standard")
MAX_PARAMETERS = 50_000_000  # 200 MB of float32 weights; training needs about 4x that
MAX_HIDDEN_LAYERS = 64
MAX_CLASSES = 1000
# Per image, for the convolutional models: the largest layer output (32 channels of 28 x 28;
# a batch of 1000 such images is 100 MB per array) and the multiply-adds of one forward pass.
MAX_ACTIVATIONS = 32 * SIDE * SIDE
MAX_MULTIPLY_ADDS = 10_000_000
_DEFAULTS: Dict[str, Dict[str, Any]] = {
    "mlp": {"hidden": [16, 16], "activation": "sigmoid", "seed": 0, "inputs": SIDE * SIDE,
            "classes": 10, "input": "unit"},
    "cnn": {"channels": [32, 64], "kernel": 3, "hidden": [128], "activation": "relu",
            "dropout": 0.0, "seed": 0, "classes": 10, "input": "unit"},
    **{kind: {**defaults, "seed": 0, "classes": 10, "input": "unit"}
       for kind, defaults in FAMILY_DEFAULTS.items()},
}
MODEL_KINDS = tuple(_DEFAULTS)
MAX_CHANNELS = 256  # per layer: with the limits below, a spec (e.g. from a file) stays < 100 MB
MAX_HIDDEN = 2048


def _shown(value: Any, limit: int = 80) -> str:
    """``repr(value)`` cut to ``limit`` characters: a hostile spec must not flood a message."""
    text = repr(value)
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _int_list(value: Any, key: str, allow_empty: bool) -> List[int]:
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        value = [value]
    if isinstance(value, (list, tuple)) and len(value) > MAX_HIDDEN_LAYERS:
        raise ValueError(f"model spec: {key!r} lists {len(value)} sizes; at most "
                         f"{MAX_HIDDEN_LAYERS} layers are allowed")
    if not isinstance(value, (list, tuple)) or (not value and not allow_empty) or any(
            isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1 for v in value):
        raise ValueError(f"model spec: {key!r} must be a list of positive integers, "
                         f"got {_shown(value)}")
    return [int(v) for v in value]


def normalize_spec(spec: Mapping[str, Any]) -> Dict[str, Any]:
    """Fill defaults and check every key; return a new plain dict (JSON-able).

    Raises ``ValueError`` naming the key and value for anything unknown or out of range.
    """
    if not isinstance(spec, Mapping):
        raise TypeError(f"model spec must be a dict, got {type(spec).__name__}")
    kind = spec.get("model")
    if not isinstance(kind, str) or kind not in _DEFAULTS:
        raise ValueError(f"model spec: 'model' must be one of {sorted(_DEFAULTS)}, "
                         f"got {_shown(kind)}")
    out: Dict[str, Any] = {"model": kind, **_DEFAULTS[kind]}
    unknown = sorted(set(spec) - set(out))
    if unknown:
        raise ValueError(f"model spec for {kind!r}: unknown keys {_shown(unknown)}; "
                         f"known keys are {sorted(out)}")
    out.update(spec)
    if "hidden" in out:
        out["hidden"] = _int_list(out["hidden"], "hidden", allow_empty=True)
    if "activation" in out and (not isinstance(out["activation"], str)
                                or out["activation"] not in ACTIVATIONS):
        raise ValueError(f"model spec: activation must be one of {sorted(ACTIVATIONS)}, "
                         f"got {_shown(out['activation'])}")
    if not isinstance(out["input"], str) or out["input"] not in INPUT_MODES:
        raise ValueError(f"model spec: input must be one of {list(INPUT_MODES)}, "
                         f"got {_shown(out['input'])}")
    seed = out["seed"]
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not 0 <= seed < 2**64:
        raise ValueError(f"model spec: seed must be an integer in 0..2**64-1, got {_shown(seed)}")
    out["seed"] = int(seed)
    out["classes"] = _int_list(out["classes"], "classes", allow_empty=False)[0]
    if out["classes"] > MAX_CLASSES:
        raise ValueError(f"model spec: classes must be in 1..{MAX_CLASSES}, got {out['classes']}")
    if kind in FAMILIES:
        check_spec_size(_normalize_family(out))
        return out
    if kind == "mlp":
        out["inputs"] = _int_list(out["inputs"], "inputs", allow_empty=False)[0]
    else:
        out["channels"] = _int_list(out["channels"], "channels", allow_empty=False)
        if len(out["channels"]) > 4:
            raise ValueError(f"model spec: at most 4 conv blocks fit a 28x28 image, got "
                             f"channels {out['channels']}")
        kernel = out["kernel"]
        if isinstance(kernel, bool) or not isinstance(kernel, (int, np.integer)) \
                or kernel < 1 or kernel % 2 == 0 or kernel > 9:
            raise ValueError(f"model spec: kernel must be an odd integer in 1..9, "
                             f"got {_shown(kernel)}")
        out["kernel"] = int(kernel)
        p = out["dropout"]
        if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0.0 <= p < 1.0:
            raise ValueError(f"model spec: dropout must be in [0, 1), got {_shown(p)}")
        out["dropout"] = float(p)
    check_spec_size(out)
    return out


def _mlp_shapes(spec: Mapping[str, Any]) -> Dict[str, Tuple[int, ...]]:
    """Linear, activation per hidden size, then Linear: parameters at every second index."""
    shapes: Dict[str, Tuple[int, ...]] = {}
    width = spec["inputs"]
    for i, size in enumerate([*spec["hidden"], spec["classes"]]):
        shapes[f"{2 * i}.weight"], shapes[f"{2 * i}.bias"] = (size, width), (size,)
        width = size
    return shapes


def _cnn_shapes(spec: Mapping[str, Any]) -> Dict[str, Tuple[int, ...]]:
    """Conv2d, activation, MaxPool2d per block; Flatten; Linear, activation (, Dropout)."""
    shapes: Dict[str, Tuple[int, ...]] = {}
    index, channels, side, k = 0, 1, SIDE, spec["kernel"]
    for out_channels in spec["channels"]:
        shapes[f"{index}.weight"] = (out_channels, channels, k, k)
        shapes[f"{index}.bias"] = (out_channels,)
        index, channels, side = index + 3, out_channels, side // 2
    index += 1  # Flatten
    width = channels * side * side
    per_hidden = 3 if spec["dropout"] > 0 else 2
    for size in spec["hidden"]:
        shapes[f"{index}.weight"], shapes[f"{index}.bias"] = (size, width), (size,)
        index, width = index + per_hidden, size
    shapes[f"{index}.weight"], shapes[f"{index}.bias"] = (spec["classes"], width), \
        (spec["classes"],)
    return shapes


@functools.lru_cache(maxsize=32)
def _family_layout(spec_json: str) -> Tuple[Dict[str, Tuple[int, ...]], FrozenSet[str]]:
    state = build_family(json.loads(spec_json)).state_dict()
    shapes = {name: tuple(np.shape(array)) for name, array in state.items()}
    return shapes, frozenset(name for name, array in state.items() if array.dtype.kind in "iu")


def _family_shapes(spec: Mapping[str, Any]) -> Dict[str, Tuple[int, ...]]:
    """A CNN family's shapes (parameters and buffers), read off the model its spec builds:
    the family bounds of ``_normalize_family`` keep any accepted spec under 100 MB, so
    building it is the one statement of its layout (cached per spec)."""
    return dict(_family_layout(json.dumps(dict(spec), sort_keys=True))[0])


def integer_state_keys(spec: Mapping[str, Any]) -> FrozenSet[str]:
    """The ``state_dict`` entries of ``build_model(spec)`` that hold counts, not weights
    (BatchNorm's ``num_batches_tracked``); every other entry is floating point."""
    if spec["model"] not in FAMILIES:
        return frozenset()
    return _family_layout(json.dumps(dict(spec), sort_keys=True))[1]


# family -> the ``state_dict`` shapes its ``build_model`` makes: MLP and CNN computed
# without building anything (their sizes are unbounded), the bounded families built.
PARAMETER_SHAPES = {"mlp": _mlp_shapes, "cnn": _cnn_shapes,
                    **dict.fromkeys(FAMILIES, _family_shapes)}


def parameter_shapes(spec: Mapping[str, Any]) -> Dict[str, Tuple[int, ...]]:
    """The ``state_dict`` of ``build_model(spec)`` as ``{name: shape}``, nothing allocated.

    ``spec`` must already be normalized (``normalize_spec`` fills the defaults).
    """
    try:
        shapes = PARAMETER_SHAPES[spec["model"]]
    except KeyError:
        raise ValueError(f"model spec: no parameter_shapes for the family "
                         f"{_shown(spec.get('model'))}; add it to PARAMETER_SHAPES") from None
    return shapes(spec)


def _cnn_plan(spec: Mapping[str, Any]) -> List[Layer]:
    plan, channels, side = [], 1, SIDE
    for out in spec["channels"]:
        plan.append(Layer(channels, out, spec["kernel"], side))
        channels, side = out, side // 2
    width = channels * side * side
    for size in [*spec["hidden"], spec["classes"]]:
        plan.append(Layer(width, size, 1, 1))
        width = size
    return plan


def evaluation_cost(spec: Mapping[str, Any]) -> Tuple[int, int, int]:
    """(weights, largest layer output, multiply-adds), the last two per image, of a
    normalized convolutional ``spec``, read off its layers without building it. The
    weights leave out biases and batch-norm scales (``parameter_shapes`` has them all)."""
    plan = layer_plan(spec) if spec["model"] in FAMILIES else _cnn_plan(spec)
    weights = sum(layer.inputs * layer.outputs * layer.kernel ** 2 for layer in plan)
    largest = max(layer.outputs * layer.side ** 2 for layer in plan)
    work = sum(layer.inputs * layer.outputs * layer.kernel ** 2 * layer.side ** 2
               for layer in plan)
    return weights, largest, work


def _check_cost(spec: Mapping[str, Any]) -> None:
    weights, largest, work = evaluation_cost(spec)
    if weights > MAX_PARAMETERS:
        raise ValueError(f"model spec: {_describe(spec)} would have over {weights:,} "
                         f"parameters, more than the limit of {MAX_PARAMETERS:,}")
    if largest > MAX_ACTIVATIONS:
        raise ValueError(f"model spec: {_describe(spec)} has a layer output of {largest:,} "
                         f"numbers per image, more than the limit of {MAX_ACTIVATIONS:,} "
                         f"(32 channels of 28x28) that keeps evaluating it within memory")
    if work > MAX_MULTIPLY_ADDS:
        raise ValueError(f"model spec: {_describe(spec)} needs {work:,} multiply-adds per "
                         f"image, more than the limit of {MAX_MULTIPLY_ADDS:,} that keeps "
                         f"evaluating it within seconds")


def check_spec_size(spec: Mapping[str, Any]) -> int:
    """The parameter count of a normalized ``spec``; ``ValueError`` past ``MAX_PARAMETERS``,
    or, for a convolutional model, past ``MAX_ACTIVATIONS`` or ``MAX_MULTIPLY_ADDS``.

    Counted from the spec with Python integers (``evaluation_cost``, then
    ``parameter_shapes``), so a spec asking for ``hidden: [1000000000]`` or a million
    classes is refused before a single weight is allocated.
    """
    if spec["model"] != "mlp":
        _check_cost(spec)
    total = sum(int(np.prod(shape, dtype=object)) for shape in parameter_shapes(spec).values())
    if total > MAX_PARAMETERS:
        raise ValueError(f"model spec: {_describe(spec)} would have {total:,} "
                         f"parameters, more than the limit of {MAX_PARAMETERS:,}")
    return total


def _bounded_list(out: Dict[str, Any], key: str, lengths: range, upper: int) -> None:
    values = _int_list(out[key], key, allow_empty=0 in lengths)
    if len(values) not in lengths or any(v > upper for v in values):
        raise ValueError(f"model spec for {out['model']!r}: {key!r} must hold "
                         f"{lengths.start}..{lengths.stop - 1} integers in 1..{upper}, "
                         f"got {_shown(out[key])}")
    out[key] = values


def _dropout_rate(p: Any) -> float:
    if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0.0 <= p < 1.0:
        raise ValueError(f"model spec: dropout must be in [0, 1), got {_shown(p)}")
    return float(p)


def _normalize_family(out: Dict[str, Any]) -> Dict[str, Any]:
    """Check the keys of a CNN family's spec (see ``microgradnn.families``)."""
    kind = out["model"]
    if kind == "lenet5":
        if not isinstance(out["pool"], str) or out["pool"] not in ("max", "avg"):
            raise ValueError(f"model spec: pool must be 'max' or 'avg', got {_shown(out['pool'])}")
    elif kind == "alexnet":
        _bounded_list(out, "channels", range(5, 6), MAX_CHANNELS)
    elif kind == "vgg":
        _bounded_list(out, "channels", range(1, 5), MAX_CHANNELS)  # 28 -> 14 -> 7 -> 3 -> 1
    elif kind == "googlenet":
        width = out["width"]
        if isinstance(width, bool) or not isinstance(width, (int, np.integer)) \
                or not 1 <= width <= 64:
            raise ValueError(f"model spec: width must be an integer in 1..64, got {_shown(width)}")
        out["width"] = int(width)
    elif kind == "resnet":
        _bounded_list(out, "channels", range(1, 5), MAX_CHANNELS)
        blocks = out["blocks"]
        if isinstance(blocks, bool) or not isinstance(blocks, (int, np.integer)) \
                or not 1 <= blocks <= 4:
            raise ValueError(f"model spec: blocks must be an integer in 1..4, got {_shown(blocks)}")
        out["blocks"] = int(blocks)
    if "hidden" in out:
        _bounded_list(out, "hidden", range(0, 5), MAX_HIDDEN)
    if "dropout" in out:
        out["dropout"] = _dropout_rate(out["dropout"])
    return out


def input_shape(spec: Mapping[str, Any]) -> Tuple[int, ...]:
    """Shape of one input sample: (784,) for an MLP, (1, 28, 28) for a CNN."""
    spec = normalize_spec(spec)
    return (spec["inputs"],) if spec["model"] == "mlp" else (1, SIDE, SIDE)


def input_shape_of(model: Module) -> Tuple[int, ...]:
    """Input sample shape of a built model: from ``model.spec``, else from its first layer."""
    spec = getattr(model, "spec", None)
    if spec is not None:
        return input_shape(spec)
    first = next(iter(model)) if isinstance(model, Sequential) and len(model) else model
    if isinstance(first, Conv2d):
        return (first.in_channels, SIDE, SIDE)
    if isinstance(first, Linear):
        return (first.in_features,)
    raise ValueError(f"cannot tell the input shape of {type(model).__name__}; build it with "
                     f"microgradnn.models.build_model")


def input_mode_of(model: Module) -> str:
    """How the model wants its pixels scaled: "unit" unless its spec says "standard"."""
    spec = getattr(model, "spec", None)
    return normalize_spec(spec)["input"] if spec is not None else "unit"


def build_model(spec: Mapping[str, Any]) -> Sequential:
    """A fresh ``Sequential`` for ``spec`` (see the module docstring); ``.spec`` holds the
    normalized spec. The same spec (seed included) gives the same initial weights."""
    spec = normalize_spec(spec)
    if spec["model"] in FAMILIES:
        model = build_family(spec)
        model.spec = spec
        return model
    rng = np.random.default_rng(spec["seed"])
    act = ACTIVATIONS[spec["activation"]]
    layers: List[Module] = []
    if spec["model"] == "mlp":
        width = spec["inputs"]
    else:
        channels, side, k = 1, SIDE, spec["kernel"]
        for out_channels in spec["channels"]:
            layers += [Conv2d(channels, out_channels, k, padding=k // 2, rng=rng), act(),
                       MaxPool2d(2)]
            channels, side = out_channels, side // 2
        layers.append(Flatten())
        width = channels * side * side
    for size in spec["hidden"]:
        layers += [Linear(width, size, rng=rng), act()]
        if spec["model"] == "cnn" and spec["dropout"] > 0:
            layers.append(Dropout(spec["dropout"], rng=np.random.default_rng(rng.integers(2**63))))
        width = size
    layers.append(Linear(width, spec["classes"], rng=rng))
    model = Sequential(*layers)
    model.spec = spec
    return model


def describe(spec: Mapping[str, Any]) -> str:
    """A one-line human name, e.g. ``MLP 784-16-16-10 (sigmoid)``."""
    return _describe(normalize_spec(spec))


def _describe(spec: Mapping[str, Any]) -> str:
    """``describe`` for a spec already normalized (no second check), at most 120 characters."""
    text = _describe_full(spec)
    return text if len(text) <= 120 else text[:117] + "..."


def _describe_full(spec: Mapping[str, Any]) -> str:
    if spec["model"] in FAMILIES:
        return describe_family(spec)
    if spec["model"] == "mlp":
        sizes = [spec["inputs"], *spec["hidden"], spec["classes"]]
        return f"MLP {'-'.join(map(str, sizes))} ({spec['activation']})"
    convs = "-".join(f"conv{spec['kernel']}x{spec['kernel']}:{c}" for c in spec["channels"])
    fcs = "-".join(str(h) for h in [*spec["hidden"], spec["classes"]])
    drop = f", dropout {spec['dropout']}" if spec["dropout"] else ""
    return f"CNN {convs}-fc{fcs} ({spec['activation']}{drop})"


def to_scalar_mlp(model: Sequential) -> Any:
    """The scalar engine's ``microgradnn.nn.MLP`` with ``model``'s weights (MLP specs only).

    Its output for one flattened image (784 numbers prepared by
    ``microgradnn.training.to_input`` with the model's input mode) equals ``model``'s, so
    a network trained on the fast path can be drawn and stepped node by node.
    """
    from .tensor.bridge import mlp_from_sequential

    spec: Optional[Mapping[str, Any]] = getattr(model, "spec", None)
    if spec is not None and spec.get("model") != "mlp":
        raise ValueError(f"only MLP models convert to the scalar engine, this one is "
                         f"{describe(spec)}")
    return mlp_from_sequential(model)
