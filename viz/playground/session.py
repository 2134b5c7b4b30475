"""The MNIST playground's state: one model, one input digit, a mini-batch and an undo stack.

Every number the page shows starts here, computed by microgradnn: the explain page's JSON
(``explain``: ``viz.explainer.explain_data``, float64 copies of the weights, cached until
the input or the weights change). ``wishes.py`` reads the lecture's nudges from it,
``changes.py`` changes the weights by hand (a step, a nudge), ``undo`` puts back the weights
before the last change. All of it under ``lock``, which the training job also holds for each
of its steps.

The input is always uint8 pixels (28, 28), as MNIST stores them: a drawing becomes one through
``microgradnn.datasets.digit_image.mnist_style`` (the ink's bounding box scaled into 20x20,
centred by its centre of mass), a test image is one already.
"""

from __future__ import annotations

import threading
from typing import Any, Dict, List, Optional, Tuple

import numpy as np

from microgradnn.datasets.digit_image import mnist_style
from microgradnn.models import build_model, describe, input_mode_of, input_shape_of
from microgradnn.tensor import Conv2d, Linear, Tensor, no_grad
from microgradnn.training import input_tensor, loss_function, predict_logits

from .inputs import check_grid, check_int

__all__ = ["Session", "DEFAULT_SPEC", "DEFAULT_LOSS", "load_session"]

DEFAULT_SPEC = {"model": "mlp", "hidden": [16, 16], "activation": "sigmoid", "seed": 0}
DEFAULT_LOSS = "mse"  # the lectures' cost, C = Σ_j (a[L][j] - y[j])²
BATCH = 32  # the mini-batch whose mean wishes are shown
MAX_UNDO = 20
MAX_DRAWING = 280  # side of the largest drawing accepted, in pixels
MOVED = 8  # how many of the weights that moved most a step reports
SIDE = 28


class Session:
    """The model and everything the page changes (see the module docstring)."""

    def __init__(self, model: Any, spec: Optional[Dict[str, Any]], loss: str, title: str,
                 data_root: Optional[str] = None, seed: int = 0) -> None:
        from viz.explainer import check_model

        loss_function(loss)  # a bad name fails now
        self.model, self.layers = check_model(model)
        self.model.eval()
        self.spec, self.loss, self.title = spec, loss, title
        self.data_root = data_root
        self.lock = threading.RLock()
        self.version = 0  # grows whenever the input, the label, the batch or the weights change
        self.weights_version = 0  # grows whenever the weights change
        self.rng = np.random.default_rng(seed)
        self.pixels = np.zeros((SIDE, SIDE), np.uint8)
        self.label: Optional[int] = None
        self.image_name = "an empty drawing"
        self.test_index: Optional[int] = None
        self._data: Dict[str, Tuple[np.ndarray, np.ndarray]] = {}
        self.batch: Optional[Tuple[np.ndarray, np.ndarray]] = None
        self._undo: List[Tuple[str, Dict[str, np.ndarray]]] = []
        self._cache: Tuple[int, Optional[Dict[str, Any]]] = (-1, None)
        self._predictions: Tuple[int, Optional[np.ndarray]] = (-1, None)
        self.nudge_base: Optional[Dict[str, Any]] = None
        self.losses: List[float] = []  # each training step's loss (the page's curve)
        self.accuracy: List[Dict[str, Any]] = []  # {"step", "accuracy"} per evaluation
        self.shape, self.mode = tuple(input_shape_of(self.model)), input_mode_of(self.model)
        self.weight_layers = [i for i, layer in enumerate(self.layers)
                              if type(layer) in (Linear, Conv2d)]
        # Weights inside blocks (ResNet, GoogLeNet): l would not count them, so parameters
        # are named by their path there instead of w[l][j,k].
        self.nested = any("." in name for name, module in self.model.named_modules()
                          if type(module) in (Linear, Conv2d))

    # -- data -----------------------------------------------------------------------------------
    def mnist(self, split: str) -> Tuple[np.ndarray, np.ndarray]:
        """MNIST's ``split`` from disk (never downloaded here); ValueError if missing."""
        if split not in self._data:
            from microgradnn.datasets.mnist import load_mnist

            try:
                self._data[split] = load_mnist(split, root=self.data_root, download=False,
                                               progress=False)
            except Exception as error:  # MnistUnavailableError, a corrupt file: one line
                first = str(error).strip().splitlines()
                raise ValueError(f"the MNIST {split} set is not available "
                                 f"({first[0] if first else type(error).__name__}); set "
                                 f"MICROGRADNN_DATA or pass --data") from None
        return self._data[split]

    def new_batch(self) -> None:
        """A fresh random mini-batch of training images for the averaged wishes."""
        images, labels = self.mnist("train")
        index = np.sort(self.rng.choice(labels.size, size=BATCH, replace=False))
        with self.lock:
            self.batch = (images[index], labels[index].astype(np.int64))
            self.changed()

    def try_batch(self) -> None:
        try:
            self.new_batch()
        except ValueError:
            self.batch = None  # no MNIST on disk: the page says so

    # -- the input --------------------------------------------------------------------------------
    def changed(self) -> None:
        """Something the numbers depend on changed (input, label, weights, batch)."""
        self.version += 1

    def set_pixels(self, grid: Any) -> None:
        """A 28x28 input of numbers in [0, 1] (white ink on black); its label: the
        prediction until ``set_label``."""
        values = check_grid(grid, "pixels", (SIDE, SIDE), (SIDE, SIDE))
        with self.lock:
            self.pixels = np.rint(values * 255).astype(np.uint8)
            self.image_name, self.test_index, self.label = "your 28x28 input", None, None
            self.changed()

    def set_drawing(self, grid: Any) -> None:
        """A drawing (h, w) of numbers in [0, 1], ink 1 on 0, made into MNIST's 28x28."""
        values = check_grid(grid, "drawing", (8, 8), (MAX_DRAWING, MAX_DRAWING))
        if values.max() <= 0:
            raise ValueError("the drawing is empty: draw a digit first")
        pixels = mnist_style(values)
        with self.lock:
            self.pixels = pixels
            self.image_name, self.test_index, self.label = "your drawing", None, None
            self.changed()

    def set_label(self, label: Any) -> None:
        with self.lock:
            self.label = None if label is None else check_int(label, "label", 0, 9)
            self.changed()

    def set_test(self, index: Any) -> None:
        images, labels = self.mnist("test")
        index = check_int(index, "index", 0, labels.size - 1)
        with self.lock:
            self.pixels, self.label = images[index].copy(), int(labels[index])
            self.image_name, self.test_index = f"MNIST test image {index}", index
            self.changed()

    def next_misclassified(self) -> int:
        """The index of the next test image (after the current one) the model gets wrong."""
        images, labels = self.mnist("test")
        with self.lock:
            version, predicted = self._predictions
            if version != self.weights_version or predicted is None:
                predicted = predict_logits(self.model, images).argmax(axis=1)
                self._predictions = (self.weights_version, predicted)
            start = -1 if self.test_index is None else self.test_index
        wrong = np.flatnonzero(predicted != labels)
        if wrong.size == 0:
            raise ValueError("the model classifies every test image correctly")
        after = wrong[wrong > start]
        index = int(after[0] if after.size else wrong[0])
        self.set_test(index)
        return index

    def random_test(self) -> int:
        _, labels = self.mnist("test")
        index = int(self.rng.integers(labels.size))
        self.set_test(index)
        return index

    def weights_changed(self) -> None:
        self.weights_version += 1
        self.changed()

    # -- the numbers -----------------------------------------------------------------------------
    def explain(self) -> Dict[str, Any]:
        """The explain page's numbers for the current input and weights (cached)."""
        from viz.explainer import explain_data

        with self.lock:
            version, data = self._cache
            if version == self.version and data is not None:
                return data
            data = explain_data(self.model, self.pixels, self.label, loss=self.loss,
                                batch=self.batch, model_title=self.title,
                                image_name=self.image_name,
                                batch_name="random MNIST training images")
            data["title"] = f"{data['model']} on {self.image_name}"
            self._cache = (self.version, data)
            return data

    def entry(self, module_index: int) -> Dict[str, Any]:
        """The explain data's entry of module ``module_index`` of the Sequential."""
        for e in self.explain()["layers"]:
            if e["name"] == str(module_index):
                return e
        raise ValueError(f"no layer {module_index} in the explain data")

    def layer_module(self, l: Any) -> int:
        """The Sequential's index of weight layer ``l`` (1-based, as in w[l][j,k])."""
        l = check_int(l, "layer l", 1, len(self.weight_layers))
        return self.weight_layers[l - 1]

    def weight_layer(self, l: Any) -> Tuple[int, Any, Dict[str, Any]]:
        index = self.layer_module(l)
        entry = self.entry(index)
        if "weight" not in entry:
            raise ValueError(f"layer {l}'s weights are not part of the explain data (a CNN's "
                             f"fully connected layers are not drawn)")
        return index, self.layers[index], entry

    # -- changing the weights --------------------------------------------------------------------
    def push_undo(self, what: str) -> None:
        with self.lock:
            self._undo.append((what, self.model.state_dict()))
            del self._undo[:-MAX_UNDO]

    def undo(self) -> str:
        with self.lock:
            if not self._undo:
                raise ValueError("nothing to undo")
            what, state = self._undo.pop()
            self.model.load_state_dict(state)
            self.nudge_base = None
            self.weights_changed()
            return what

    def costs(self) -> Dict[str, Optional[float]]:
        data = self.explain()
        batch = data.get("batch")
        return {"example": float(data["loss"]),
                "batch": None if batch is None else float(batch["loss"])}

    # -- live view while training ----------------------------------------------------------------
    def live(self) -> Dict[str, Any]:
        """The current digit's prediction and activations and the first layer's weights
        (at most 16 neurons or kernels), by a forward pass only (cheap enough to poll
        while training)."""
        with self.lock:
            was_training = self.model.training
            self.model.eval()
            try:
                with no_grad():
                    h = input_tensor(self.pixels[None], self.shape, self.mode)
                    activations = []
                    for i, layer in enumerate(self.layers):
                        h = layer(h)
                        if i - 1 in self.weight_layers[:-1] and self._is_mlp():
                            activations.append(np.asarray(h.data[0], np.float64))
                    logits = np.asarray(h.data[0], np.float64)
            finally:
                self.model.train(was_training)
            first = self.layers[self.weight_layers[0]].weight.data
            images = np.array(first[:16].reshape(min(16, first.shape[0]), -1), np.float64)
        # The weight pictures as 8-bit levels of each image's largest |w| (a picture, not
        # numbers to read: 4x less JSON to write while training runs).
        scale = np.abs(images).max(axis=1, keepdims=True)
        levels = np.rint(127 * images / np.where(scale > 0, scale, 1)).astype(np.int8)
        outputs = _outputs(logits, self.loss)
        return {"outputs": outputs, "prediction": int(np.argmax(logits)),
                "hidden": activations, "first_weights": levels,
                "first_scale": scale[:, 0], "first_shape": list(first.shape[1:])}

    def _is_mlp(self) -> bool:
        return all(type(self.layers[i]) is Linear for i in self.weight_layers)

    # -- saving ------------------------------------------------------------------------------------
    def save(self, path: str) -> str:
        """The weights as a checkpoint at ``path`` (atomically), with the cost they were
        trained with: in the metadata as ``fit`` writes it, and in the spec where the spec
        has a place for it."""
        from microgradnn.checkpoint import save
        from microgradnn.models import normalize_spec

        if self.spec is None:
            raise ValueError("this model was not built from a spec (a checkpoint or "
                             "microgradnn.models.build_model), so it cannot be saved as a "
                             "checkpoint")
        spec = dict(self.spec)
        try:
            normalize_spec({**spec, "loss": self.loss})
            spec["loss"] = self.loss
        except (ValueError, TypeError):  # specs without a "loss" key
            pass
        with self.lock:
            save(self.model, path, spec, extra={"loss": self.loss, "source": "microgradnn serve"})
        return path


def _outputs(logits: np.ndarray, loss: str) -> np.ndarray:
    """The outputs the cost reads: sigmoid for the lectures' cost, softmax for cross-entropy."""
    from microgradnn.tensor import sigmoid, softmax

    z = Tensor(logits[None])
    return (sigmoid(z) if loss == "mse" else softmax(z, axis=1)).data[0]


def load_session(source: Any = None, loss: Optional[str] = None,
                 data_root: Optional[str] = None) -> Session:
    """A Session for a checkpoint path, a ``Checkpoint``, a model, or None (the untrained
    784-16-16-10 sigmoid network with the lectures' cost)."""
    from microgradnn.checkpoint import Checkpoint, load_checkpoint
    from microgradnn.nn import MLP

    if source is None:
        model = build_model(DEFAULT_SPEC)
        return Session(model, model.spec, loss or DEFAULT_LOSS,
                       f"{describe(model.spec)}, untrained", data_root)
    if isinstance(source, (str, bytes)) or hasattr(source, "__fspath__"):
        source = load_checkpoint(source)
    if isinstance(source, Checkpoint):
        from viz.explainer.page import checkpoint_loss

        trained = checkpoint_loss(source)
        try:
            name = describe(source.spec)
        except (ValueError, TypeError):
            name = type(source.model).__name__
        return Session(source.model, source.model.spec, loss or trained, name, data_root)
    if isinstance(source, MLP):
        from microgradnn.tensor import sequential_from_mlp

        source = sequential_from_mlp(source, dtype=np.float32)
    spec = getattr(source, "spec", None)
    title = describe(spec) if spec is not None else type(source).__name__
    return Session(source, spec, loss or "cross-entropy", title, data_root)
