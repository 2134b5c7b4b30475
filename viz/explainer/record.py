"""One batch through a model's own modules, every call recorded by forward hooks, then backward.

The model is copied to float64 (parameters and buffers) and put in evaluation mode, so
batch norm uses its running statistics and dropout is the identity, as after training.
A forward hook on every sub-module (``Module.register_forward_hook``) records each call
in the order it happens: the module's dotted name (as in ``named_modules``), the module,
its inputs and its output. After the cost's ``backward()`` every recorded output holds
``dC/d(output)`` in ``.grad``; nothing here knows how any layer computes, so a new layer
type is recorded without a line of code here.
"""

from __future__ import annotations

import copy
from typing import Any, Dict, List, NamedTuple, Optional, Tuple

import numpy as np

from microgradnn.module import Module
from microgradnn.tensor import Tensor, sigmoid, softmax

__all__ = ["Call", "Recording", "float64_copy", "path_grad"]


class Call(NamedTuple):
    """One call of one module: ``name`` as in ``named_modules``, inputs and output."""

    name: str
    module: Module
    inputs: Tuple[Any, ...]
    output: Tensor


def float64_copy(model: Module) -> Module:
    """A deep copy of ``model`` in float64 and in evaluation mode (the original is untouched)."""
    twin = copy.deepcopy(model)
    for _, p in twin.named_parameters():
        p.data = np.asarray(p.data, dtype=np.float64)
        p.grad = None
    owners = dict(twin.named_modules())
    for name, buffer in list(twin.named_buffers()):
        if buffer.dtype.kind == "f":
            path, _, leaf = name.rpartition(".")
            setattr(owners[path], leaf, buffer.astype(np.float64))
    return twin.eval()


class Recording:
    """A forward pass of ``x`` (N, ...) through ``model`` with every module call recorded.

    ``calls``: the sub-modules' calls in order (the root's own call left out);
    ``input``: the input tensor; ``logits``: the model's output (N, classes).
    """

    def __init__(self, model: Module, x: np.ndarray, input_grad: bool = True) -> None:
        self.model = model
        self.calls: List[Call] = []
        handles = [m.register_forward_hook(self._hook(name))
                   for name, m in model.named_modules() if name]
        self.input = Tensor(x, requires_grad=input_grad)
        try:
            out = model(self.input)
        finally:
            for handle in handles:
                handle.remove()
        if not isinstance(out, Tensor) or out.data.ndim != 2:
            shape = out.data.shape[1:] if isinstance(out, Tensor) else type(out).__name__
            raise ValueError(f"explain: the model's output has shape {shape} per image, not a "
                             f"vector of class scores (a Flatten is missing?)")
        if not np.isfinite(out.data).all():
            raise ValueError("explain: the model's output is NaN or infinite for this image")
        self.logits = out
        self.param_grads: Dict[int, Optional[np.ndarray]] = {}

    def _hook(self, name: str) -> Any:
        def record(module: Module, inputs: Tuple[Any, ...], output: Any) -> None:
            self.calls.append(Call(name, module, inputs, output))
        return record

    def backward(self, labels: np.ndarray, loss_fn: str) -> None:
        """The cost (mean over the batch) of ``labels`` and its gradient everywhere.

        Afterwards the parameters' gradients are kept in ``param_grads`` (by ``id``) and
        cleared on the model, so that another recording on the same model starts afresh.
        """
        logits = self.logits
        n = logits.data.shape[0]
        rows = np.arange(n)
        if loss_fn == "cross-entropy":
            self.out = softmax(logits, axis=1)
            picked = self.out[rows, labels]
            if picked.data.min() <= 0:
                raise ValueError("explain: the probability of the label underflows to 0 for "
                                 "this image; its cross-entropy is infinite")
            self.loss = -(picked.log().sum()) * (1.0 / n)
        else:
            self.out = sigmoid(logits)
            onehot = np.zeros(self.out.data.shape)
            onehot[rows, labels] = 1.0
            diff = self.out - onehot
            self.loss = (diff * diff).sum() * (1.0 / n)
        self.loss.backward()
        for p in self.model.parameters():
            self.param_grads[id(p)] = None if p.grad is None else np.array(p.grad)
        self.model.zero_grad()

    def grad_of(self, tensor: Any) -> np.ndarray:
        """``dC/d(tensor)``, zeros where no gradient reached it."""
        grad = getattr(tensor, "grad", None)
        return np.zeros_like(tensor.data) if grad is None else grad


def path_grad(module: Module, x: Tensor, grad: np.ndarray) -> np.ndarray:
    """What ``module`` alone sends back to its input ``x`` for an output gradient ``grad``.

    Runs the module again on a copy of ``x`` (no hooks are registered any more), so a
    block's two paths can show what each adds to the gradient where they meet.
    """
    leaf = Tensor(np.array(x.data), requires_grad=True)
    module(leaf).backward(grad)
    module.zero_grad()
    return leaf.grad
