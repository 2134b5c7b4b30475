"""One digit through a trained network, stepped one neuron at a time, in one call.

``step_digit(model, image, label)`` does what a learner would otherwise write by hand:
the scalar ``MLP`` with the model's weights (``microgradnn.tensor.mlp_from_sequential``,
the output sigmoid of a model trained with the lectures' cost kept in place), the image
prepared as the model was trained (``microgradnn.training.to_input``), the model's own
cost ``C`` of that example (``microgradnn.costs.cost_of``) built from engine ops,
``C.backward()``, and the neuron-level stepper over that recorded backward pass.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, List, Optional

import numpy as np

from microgradnn.costs import Cost, cost_of
from microgradnn.engine import Value, format_number
from microgradnn.models import describe, input_mode_of, to_scalar_mlp
from microgradnn.nn import MLP
from microgradnn.training import to_input

from .page import Stepper, stepper

__all__ = ["DigitBackward", "digit_backward", "step_digit", "digit_stepper", "digit_title",
           "output_text"]


@dataclass
class DigitBackward:
    """One example's backward pass on the scalar engine: the network, its cost, the numbers.

    ``mlp`` holds the model's weights in float64 (its parameters' ``.grad`` are ``∂C/∂w``
    and ``∂C/∂b`` after ``backward``), ``loss`` is ``C`` (a ``Value``), ``outputs`` the ten
    outputs (``a[L]``, or ``z[L]`` under cross-entropy), ``cost`` the ``Cost`` used.
    """

    mlp: MLP
    loss: Value
    outputs: List[Value]
    cost: Cost
    label: int
    name: str


def _network(model: Any) -> Any:
    """The ``Sequential`` inside ``model`` (a loaded ``Checkpoint`` or the model itself)."""
    inner = getattr(model, "model", None)
    return inner if inner is not None else model


def _pixels(net: Any, image: Any) -> List[float]:
    pixels = np.asarray(image)
    if pixels.dtype != np.uint8 or pixels.size != 784 or pixels.ndim not in (1, 2):
        raise ValueError(f"step_digit: expected the uint8 pixels of one 28x28 image (as MNIST "
                         f"stores them), got {pixels.dtype} of shape {pixels.shape}")
    x = to_input(pixels.reshape(1, 28, 28), (784,), input_mode_of(net))[0]
    return [float(v) for v in x]


def digit_backward(model: Any, image: Any, label: int) -> DigitBackward:
    """``C`` of one image under ``model``'s own cost, backpropagated by the scalar engine.

    ``model``: an MLP trained on the vectorized path (``microgradnn.load(...)``, a
    ``Checkpoint`` or a ``build_model`` result); ``image``: uint8 pixels (28, 28);
    ``label``: the digit ``y`` the cost compares with.
    """
    net = _network(model)
    spec = getattr(net, "spec", None)
    if spec is not None and spec.get("model") != "mlp":
        raise ValueError(f"only an MLP can be stepped one neuron at a time; this model is "
                         f"{describe(spec)} (its gradients are on 'microgradnn explain')")
    cost = cost_of(model)
    mlp = to_scalar_mlp(net)
    classes = mlp.nouts[-1]
    if isinstance(label, bool) or not isinstance(label, (int, np.integer)) \
            or not 0 <= label < classes:
        raise ValueError(f"step_digit: label must be a digit in 0..{classes - 1}, got {label!r}")
    outputs = mlp(_pixels(net, image))
    outputs = outputs if isinstance(outputs, list) else [outputs]
    loss = cost.scalar(outputs, int(label))
    loss.backward()
    name = describe(spec) if spec is not None else repr(mlp)
    return DigitBackward(mlp, loss, outputs, cost, int(label), name)


def digit_title(run: DigitBackward, image_name: str = "this image") -> str:
    """The page's title: the example, the network, the cost's formula and its value."""
    return (f"{image_name} (label {run.label}) through {run.name}, one neuron per step; "
            f"C = {format_number(run.loss.data)} ({run.cost.title}: {run.cost.formula})")


def step_digit(model: Any, image: Any, label: int, *, image_name: str = "this image",
               title: Optional[str] = None, height: int = 720) -> Stepper:
    """The neuron-level backprop stepper of one image through a trained MLP.

    ``viz.step_digit(microgradnn.load("mlp.npz"), image, 7)`` shows inline in Jupyter;
    ``.save("seven.html")`` writes the page. The page steps the engine's own backward
    pass of ``C``, the model's cost (``microgradnn.costs``), one neuron per step.
    """
    run = digit_backward(model, image, label)
    return digit_stepper(run, title if title is not None else digit_title(run, image_name),
                         height)


def digit_stepper(run: DigitBackward, title: str, height: int = 720,
                  practice: bool = False) -> Stepper:
    """The neuron-level stepper page of a ``digit_backward`` run; ``.backward`` is the run.
    ``practice=True``: a quiz asking each neuron's σ'(z[l][j]) and δ[l][j]."""
    page = stepper(run.loss, title=title, parameters=run.mlp, level="neuron", height=height,
                   output_names=[str(d) for d in range(len(run.outputs))], practice=practice)
    page.backward = run  # what was stepped: the scalar network, C and its gradients
    return page


def output_text(run: DigitBackward) -> str:
    """The ten outputs as the cost reads them: percentages for softmax, else ``a[L][j]``."""
    numbers = np.array([v.data for v in run.outputs])
    if run.cost.softmax:
        shown = run.cost.outputs(numbers)
        return "softmax(z[L]): " + ", ".join(f"{d}: {p:.2%}" for d, p in enumerate(shown))
    return "a[L]: " + ", ".join(f"{d}: {format_number(v)}" for d, v in enumerate(numbers))
