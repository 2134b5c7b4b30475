"""The numbers of the explain page: one image through a model, forward and backward.

Every number comes from running the model's own modules (``record.Recording``: a float64
copy in evaluation mode, a forward hook on every module), then the cost and one
``backward()``. Each call's output keeps its gradient ``dC/d(output)``, each weight its
``dC/dW``, the input its ``dC/dx``. Nothing here differentiates by hand, nor computes a
layer a second time: even ``σ'(z)``, shown in the backprop steps, is the gradient the
activation passes back for an upstream of ones.

The result (``explain_data``) is a plain dict of numbers and numpy arrays, the schema
the page reads (see ``viz.explainer.page``)::

    {"kind": "mlp" | "cnn", "label", "prediction", "probabilities", "loss", "loss_fn",
     "layers": [{"name", "type", "symbol", "shape", "activations", "grad", ...}, ...],
     "batch", ...}

``layers`` starts with the input ("input") and ends with the output activation the
cost reads ("output": softmax for cross-entropy, sigmoid for mse); in between one
entry per module of the ``Sequential``, named by its index as in ``named_parameters``
(``entries`` describes one; a residual or inception block's holds its inner calls).
``symbol`` names each column in the notation of NOTATION.md (``symbols``).
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np

from microgradnn.models import describe, input_mode_of, input_shape_of
from microgradnn.module import Module
from microgradnn.tensor import (AdaptiveAvgPool2d, AvgPool2d, BasicBlock, BatchNorm2d, Conv2d,
                                Dropout, Flatten, Inception, Linear, LocalResponseNorm,
                                MaxPool2d, ReLU, Sequential, Sigmoid, Tanh, Tensor, softmax)
from microgradnn.training import LOSSES, MNIST_MEAN, MNIST_STD, to_input

from .entries import BLOCKS, block_entry, call_entry, local_grad
from .record import Recording, float64_copy
from .symbols import layer_symbols

__all__ = ["explain_data", "check_model", "UnsupportedModelError", "SUPPORTED_LAYERS",
           "model_name"]

SIDE = 28
# The layers the page can draw (exact classes: AvgPool2d is a subclass of MaxPool2d).
SUPPORTED_LAYERS = (Linear, ReLU, Sigmoid, Tanh, Conv2d, MaxPool2d, AvgPool2d, Flatten, Dropout,
                    BatchNorm2d, LocalResponseNorm, AdaptiveAvgPool2d, BasicBlock, Inception)
_SPATIAL = (Conv2d, MaxPool2d, AvgPool2d, AdaptiveAvgPool2d) + BLOCKS
MAX_BATCH = 512


class UnsupportedModelError(ValueError):
    """The model has a layer (or a shape) the explain page cannot draw; the message names it."""


def _layer_names() -> str:
    return ", ".join(cls.__name__ for cls in SUPPORTED_LAYERS)


def check_model(model: Any) -> Tuple[Module, List[Module]]:
    """(the model, its layers in order) if the page can draw every layer; else a clear error.

    Accepts a ``microgradnn.tensor.Sequential`` (iterated as ``for layer in model``) or a
    scalar ``microgradnn.nn.MLP`` (converted through ``sequential_from_mlp``).
    """
    from microgradnn.nn import MLP

    if isinstance(model, MLP):
        from microgradnn.tensor import sequential_from_mlp

        model = sequential_from_mlp(model)
    if not isinstance(model, Module) or not hasattr(model, "__len__") \
            or not hasattr(model, "__iter__"):
        raise UnsupportedModelError(
            f"explain: expected a Sequential of microgradnn.tensor layers (or a checkpoint), "
            f"got {type(model).__name__}")
    layers = list(model)
    if not layers:
        raise UnsupportedModelError("explain: the model has no layers")
    for name, module in model.named_modules():
        if name and type(module) not in SUPPORTED_LAYERS + (Sequential,):
            raise UnsupportedModelError(
                f"explain: layer {name} is {type(module).__name__}, which the explain page "
                f"cannot draw; it draws {_layer_names()}")
    if type(layers[-1]) is not Linear:
        raise UnsupportedModelError(f"explain: the model must end with the Linear layer that "
                                    f"gives the class scores; it ends with "
                                    f"{type(layers[-1]).__name__}")
    return model, layers


def _input_shape(model: Any, layers: Sequence[Module]) -> Tuple[int, ...]:
    if getattr(model, "spec", None) is not None or type(layers[0]) in (Linear, Conv2d):
        return tuple(input_shape_of(model))
    if type(layers[0]) is Flatten:
        return (1, SIDE, SIDE)
    raise UnsupportedModelError(f"explain: cannot tell the input shape of a model that starts "
                                f"with {type(layers[0]).__name__}")


def model_name(model: Any, layers: Sequence[Module]) -> str:
    """``describe(spec)`` for models built from a spec, else the layers in a short line."""
    spec = getattr(model, "spec", None)
    if spec is not None:
        return describe(spec)
    parts = []
    for layer in layers:
        kind = type(layer)
        if kind is Linear:
            parts.append(f"Linear {layer.in_features}→{layer.out_features}")
        elif kind is Conv2d:
            parts.append(f"Conv2d {layer.in_channels}→{layer.out_channels} "
                         f"{layer.kernel_size[0]}x{layer.kernel_size[1]}")
        elif kind in (MaxPool2d, AvgPool2d):
            parts.append(f"{kind.__name__} {layer.kernel_size[0]}x{layer.kernel_size[1]}")
        else:
            parts.append(kind.__name__)
    return " · ".join(parts)


def _prepare(image: Any, shape: Tuple[int, ...], mode: str) -> Tuple[np.ndarray, np.ndarray]:
    """(the model's input (1, *shape) as float64, the 28x28 pixels as uint8 for display)."""
    if isinstance(image, Tensor):
        image = image.data
    array = np.asarray(image)
    if array.size != SIDE * SIDE:
        raise ValueError(f"explain: the image must have 28x28 = 784 pixels, got shape "
                         f"{array.shape}")
    array = array.reshape(SIDE, SIDE)
    if array.dtype == np.uint8:
        x = to_input(array[None], shape, mode).astype(np.float64)
        return x, array
    if array.dtype.kind not in "iuf":
        raise TypeError(f"explain: the image must hold numbers, got dtype {array.dtype}")
    values = array.astype(np.float64)
    if not np.isfinite(values).all():
        raise ValueError("explain: the image contains NaN or inf")
    if values.min() < 0 or values.max() > 1:
        raise ValueError(f"explain: a float image must hold intensities in [0, 1] (or pass "
                         f"uint8 pixels 0..255), got values in [{values.min():g}, "
                         f"{values.max():g}]")
    pixels = np.rint(values * 255).astype(np.uint8)
    x = values if mode == "unit" else (values - MNIST_MEAN) / MNIST_STD
    return x.reshape((1,) + shape), pixels


def _check_label(label: Any, classes: int, what: str = "label") -> int:
    if isinstance(label, bool) or not isinstance(label, (int, np.integer)) \
            or not 0 <= label < classes:
        raise ValueError(f"explain: {what} must be a class index 0..{classes - 1}, got {label!r}")
    return int(label)


def explain_data(model: Any, image: Any, label: Optional[int] = None, *,
                 loss: str = "cross-entropy", batch: Optional[Tuple[Any, Any]] = None,
                 model_title: Optional[str] = None, image_name: str = "an image",
                 batch_name: str = "") -> Dict[str, Any]:
    """Forward and backward numbers of ``model`` for one 28x28 ``image`` (see the module doc).

    ``label`` is the digit the cost compares with (None: the prediction, and the page
    says so); ``loss`` the cost the model was trained with ("cross-entropy" or "mse");
    ``batch`` an optional ``(images uint8 (n, 28, 28), labels (n,))`` whose mean gradient
    the page shows beside this example's.
    """
    if loss not in LOSSES:
        raise ValueError(f"explain: loss must be one of {sorted(LOSSES)}, got {loss!r}")
    model, layers = check_model(model)
    shape = _input_shape(model, layers)
    mode = input_mode_of(model)
    x, pixels = _prepare(image, shape, mode)
    kind = "cnn" if any(isinstance(m, _SPATIAL) for m in model.modules()) else "mlp"

    twin = float64_copy(model)
    with np.errstate(over="ignore", invalid="ignore"):  # the output is checked by Recording
        run = Recording(twin, x)
    classes = run.logits.data.shape[1]
    probabilities = softmax(Tensor(run.logits.data), axis=1).data[0]
    prediction = int(np.argmax(probabilities))
    given = label is not None
    label = _check_label(label, classes) if given else prediction
    run.backward(np.array([label]), loss)

    batch_run, batch_info = None, None
    if batch is not None:
        batch_run, batch_info = _batch(twin, shape, mode, batch, loss, classes, batch_name)

    entries = _entries(run, batch_run, kind, shape)
    output = {"name": "output", "type": "Softmax" if loss == "cross-entropy" else "Sigmoid",
              "shape": [classes], "activations": run.out.data[0], "grad": run.out.grad[0]}
    if loss == "mse":
        output["local_grad"] = local_grad(Sigmoid(), run.logits.data)[0]
    if batch_run is not None:
        output["batch_grad"] = batch_run.out.grad.sum(axis=0)
    entries.append(output)
    _name_columns(entries)

    onehot = np.zeros(classes)
    onehot[label] = 1.0
    title_model = model_title or model_name(model, layers)
    return {
        "version": 1, "kind": kind, "model": title_model, "image_name": str(image_name),
        "label": label, "label_given": given, "prediction": prediction,
        "probabilities": probabilities, "target": onehot, "loss": float(run.loss.data),
        "loss_fn": loss, "input_mode": mode, "pixels": pixels, "layers": entries,
        "batch": batch_info,
    }


def _entries(run: Recording, batch_run: Optional[Recording], kind: str,
             shape: Tuple[int, ...]) -> List[Dict[str, Any]]:
    """The input's entry, then one per top-level module (a block with its parts)."""
    entry: Dict[str, Any] = {"name": "input", "type": "Input", "shape": list(shape),
                             "activations": run.input.data[0], "grad": run.input.grad[0]}
    if batch_run is not None:
        entry["batch_grad"] = batch_run.input.grad.sum(axis=0)
    entries = [entry]
    l = 0
    for position, call in enumerate(run.calls):
        if "." in call.name:
            continue
        batch_call = batch_run.calls[position] if batch_run is not None else None
        if isinstance(call.module, (Linear, Conv2d) + BLOCKS):
            l += 1
        if isinstance(call.module, BLOCKS):
            entries.append(block_entry(position, l, run, batch_run))
            for part in entries[-1]["parts"]:
                part["layer"] = l
        else:
            entries.append(call_entry(call, run, batch_call, batch_run, kind == "mlp"))
        entries[-1]["layer"] = l
    return entries


def _name_columns(entries: List[Dict[str, Any]]) -> None:
    """Each column's symbol (``z[l]``, ``ẑ[l]``, ``a[l]``, ...; see ``symbols``)."""
    entries[0]["symbol"], entries[0]["layer"] = "a[0]", 0
    middle = entries[1:-1]
    for entry, symbol in zip(middle, layer_symbols([e["type"] for e in middle])):
        entry["symbol"] = symbol
    layers = sum(e["type"] in ("Linear", "Conv2d", "BasicBlock", "Inception") for e in middle)
    entries[-1]["symbol"], entries[-1]["layer"] = f"a[{layers}]", layers


def _batch(model: Module, shape: Tuple[int, ...], mode: str, batch: Any, loss: str,
           classes: int, name: str) -> Tuple[Recording, Dict[str, Any]]:
    if not isinstance(batch, (tuple, list)) or len(batch) != 2:
        raise TypeError("explain: batch must be a pair (images, labels)")
    images, labels = np.asarray(batch[0]), np.asarray(batch[1])
    if images.dtype != np.uint8 or images.ndim != 3 or images.shape[1:] != (SIDE, SIDE):
        raise ValueError(f"explain: batch images must be uint8 of shape (n, 28, 28), got "
                         f"{images.dtype} {images.shape}")
    n = images.shape[0]
    if not 1 <= n <= MAX_BATCH:
        raise ValueError(f"explain: the batch must hold 1..{MAX_BATCH} images, got {n}")
    if labels.shape != (n,):
        raise ValueError(f"explain: {n} batch images but labels of shape {labels.shape}")
    labels = np.array([_check_label(v, classes, "a batch label") for v in labels.tolist()])
    x = to_input(images, shape, mode).astype(np.float64)
    with np.errstate(over="ignore", invalid="ignore"):
        run = Recording(model, x)
    run.backward(labels, loss)
    predicted = run.logits.data.argmax(axis=1)
    info = {"size": n, "loss": float(run.loss.data), "labels": labels,
            "predictions": predicted, "accuracy": float((predicted == labels).mean()),
            "pixels": images, "source": name}
    return run, info
