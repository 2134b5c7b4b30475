"""``Module``: the PyTorch-style container API shared by the scalar nn and the tensor layers.

A module's parameters and sub-modules are found by walking its attributes in the
order they were set: a parameter attribute (see ``is_parameter``), a sub-module, or a
list/tuple of either. Names are dotted paths, e.g. ``layers.0.neurons.3.w.17``.
"""

from __future__ import annotations

from typing import Any, Dict, Iterator, List, Tuple

import numpy as np

from .engine import Value

__all__ = ["Module", "is_parameter"]


def is_parameter(obj: Any) -> bool:
    """A scalar ``Value`` attribute, or an array node marked ``requires_grad``."""
    return isinstance(obj, Value) or getattr(obj, "is_parameter", False) is True


class Module:
    """Base class: ``parameters()``, ``named_parameters()``, ``zero_grad()``,
    ``train()``/``eval()``, ``state_dict()``/``load_state_dict()``, ``register_buffer``,
    and ``__call__`` -> ``forward`` for modules written PyTorch-style."""

    training: bool = True
    _buffer_names: Tuple[str, ...] = ()

    def forward(self, *args: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__} defines no forward()")

    def __call__(self, *args: Any) -> Any:
        return self.forward(*args)

    # ---- buffers: saved arrays that are not trained (e.g. BatchNorm's running statistics) ----

    def register_buffer(self, name: str, array: np.ndarray) -> None:
        """Keep ``array`` as attribute ``name``, saved in ``state_dict`` but not a parameter."""
        setattr(self, name, np.asarray(array))
        if name not in self._buffer_names:
            self._buffer_names = self._buffer_names + (name,)

    def named_buffers(self, prefix: str = "") -> Iterator[Tuple[str, np.ndarray]]:
        for name in self._buffer_names:
            yield prefix + name, getattr(self, name)
        for name, child in self.named_children():
            yield from child.named_buffers(f"{prefix}{name}.")

    def buffers(self) -> List[np.ndarray]:
        return [b for _, b in self.named_buffers()]

    # ---- discovery ----

    def named_children(self) -> Iterator[Tuple[str, "Module"]]:
        for name, value in vars(self).items():
            if isinstance(value, Module):
                yield name, value
            elif isinstance(value, (list, tuple)):
                for i, item in enumerate(value):
                    if isinstance(item, Module):
                        yield f"{name}.{i}", item

    def named_parameters(self, prefix: str = "") -> Iterator[Tuple[str, Any]]:
        """Yield ``(dotted_name, parameter)`` in a fixed, documented order."""
        for name, value in vars(self).items():
            if is_parameter(value):
                yield prefix + name, value
            elif isinstance(value, Module):
                yield from value.named_parameters(prefix + name + ".")
            elif isinstance(value, (list, tuple)):
                for i, item in enumerate(value):
                    if is_parameter(item):
                        yield f"{prefix}{name}.{i}", item
                    elif isinstance(item, Module):
                        yield from item.named_parameters(f"{prefix}{name}.{i}.")

    def parameters(self) -> List[Any]:
        return [p for _, p in self.named_parameters()]

    def modules(self) -> Iterator["Module"]:
        yield self
        for _, child in self.named_children():
            yield from child.modules()

    def num_parameters(self) -> int:
        """How many trainable numbers (a scalar ``Value`` counts 1, an array its size)."""
        return sum(1 if isinstance(p, Value) else int(np.size(p.data)) for p in self.parameters())

    # ---- training state ----

    def zero_grad(self) -> None:
        for p in self.parameters():
            p.zero_grad()

    def train(self, mode: bool = True) -> "Module":
        for m in self.modules():
            m.training = mode
        return self

    def eval(self) -> "Module":
        return self.train(False)

    # ---- saving and loading ----

    def state_dict(self) -> Dict[str, np.ndarray]:
        """Parameters and buffers as arrays, keyed by dotted name (a copy, never a view)."""
        out: Dict[str, np.ndarray] = {}
        for name, value in vars(self).items():
            if is_parameter(value):
                out[name] = np.array(value.data, dtype=np.float64 if isinstance(value, Value) else None)
        for name in self._buffer_names:
            out[name] = np.array(getattr(self, name))
        for name, child in self.named_children():
            for key, array in child.state_dict().items():
                out[f"{name}.{key}"] = array
        return out

    def load_state_dict(self, state: Dict[str, Any]) -> None:
        """Copy arrays into the parameters; refuse missing, unexpected or mis-shaped keys."""
        own = self.state_dict()
        missing = sorted(set(own) - set(state))
        unexpected = sorted(set(state) - set(own))
        if missing or unexpected:
            raise KeyError(f"load_state_dict for {type(self).__name__}: "
                           f"missing keys {missing[:5]}, unexpected keys {unexpected[:5]}")
        for key, array in own.items():
            given = np.asarray(state[key])
            if given.shape != array.shape:
                raise ValueError(f"load_state_dict: {key!r} has shape {given.shape}, "
                                 f"the model expects {array.shape}")
            if not np.all(np.isfinite(given)):
                raise ValueError(f"load_state_dict: {key!r} holds NaN or inf")
        self._load(state, "")

    def _load(self, state: Dict[str, Any], prefix: str) -> None:
        """Assign already-validated arrays; modules with their own layout override this."""
        for name, value in vars(self).items():
            if is_parameter(value):
                given = np.asarray(state[prefix + name])
                if isinstance(value, Value):
                    value.data = float(given)
                else:
                    value.data = given.astype(value.data.dtype, copy=True)
        for name in self._buffer_names:
            current = getattr(self, name)
            setattr(self, name, np.asarray(state[prefix + name]).astype(current.dtype, copy=True))
        for name, child in self.named_children():
            child._load(state, f"{prefix}{name}.")

    def __repr__(self) -> str:
        children = list(self.named_children())
        if not children:
            return f"{type(self).__name__}({self.extra_repr()})"
        lines = [f"{type(self).__name__}({self.extra_repr()}"]
        for name, child in children:
            body = repr(child).replace("\n", "\n  ")
            lines.append(f"  ({name}): {body}")
        return "\n".join(lines) + "\n)"

    def extra_repr(self) -> str:
        return ""
