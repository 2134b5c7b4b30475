"""``Module``: PyTorch's ``nn.Module`` registry, shared by the scalar nn and the tensor layers.

Assigning an attribute registers it, in assignment order:

* a parameter (a scalar ``Value``, or a leaf ``Tensor`` with ``requires_grad=True``)
  goes to ``_parameters``;
* a sub-module goes to ``_modules``;
* a tuple of parameters or modules registers each item under ``name.i``: the
  scalar nn keeps a neuron's weights as ``w = (w0, w1, ...)``, so a weight's name is
  ``layers.0.neurons.3.w.5`` (a list is refused: it could change behind the
  registry's back);
* ``register_buffer(name, array)`` adds a non-trained array (running statistics)
  to ``_buffers``; assigning that name later replaces the buffer.

Every walk (``named_parameters``, ``named_modules``, ``state_dict``, ``train``, ...)
reads these three dicts, never ``vars(self)``. Subclasses implement ``forward``;
calling the module calls ``forward``, then each forward hook (as PyTorch's
``register_forward_hook``): ``hook(module, args, output)`` sees every call, and a hook
that returns something other than None replaces the output. The explain page records
a model's numbers this way, from the model's own layers.

Scalar names and layer arrays. ``named_parameters()`` names every number the scalar
nn trains: ``layers.0.neurons.3.w.5`` is the weight from input 5 to neuron 3 of the
first layer, ``layers.0.neurons.3.b`` that neuron's bias. ``state_dict()`` stores a
scalar ``Layer`` as PyTorch stores a ``Linear``, two arrays: ``layers.0.weight``
(shape (nout, nin)) and ``layers.0.bias`` (nout,), so that

    layers.{l}.neurons.{j}.w.{k}  is  layers.{l}.weight[j, k]
    layers.{l}.neurons.{j}.b      is  layers.{l}.bias[j]

and a scalar ``MLP``'s ``state_dict`` loads into the vectorized ``Sequential`` of
``Linear`` layers (``microgradnn.tensor.bridge``) and PyTorch alike.
"""

from __future__ import annotations

from typing import Any, Callable, Dict, Iterator, List, NamedTuple, Optional, Set, Tuple

import numpy as np

from .engine import Value
from .layout import memory_order

__all__ = ["Module", "is_parameter", "IncompatibleKeys", "RemovableHandle"]


def is_parameter(obj: Any) -> bool:
    """A scalar ``Value``, or an array leaf marked ``requires_grad`` (``Tensor.is_parameter``)."""
    return isinstance(obj, Value) or getattr(obj, "is_parameter", False) is True


class IncompatibleKeys(NamedTuple):
    """What ``load_state_dict`` returns: the keys it did not find, and those it did not use."""

    missing_keys: List[str]
    unexpected_keys: List[str]


class RemovableHandle:
    """What ``register_forward_hook`` returns: ``handle.remove()`` takes the hook off again."""

    _next_id = 0
    live = 0  # hooks registered on any module now: 0 lets containers skip looking for them

    def __init__(self, hooks: Dict[int, Callable[..., Any]]) -> None:
        self._hooks = hooks
        self.id = RemovableHandle._next_id
        RemovableHandle._next_id += 1

    def remove(self) -> None:
        if self._hooks.pop(self.id, None) is not None:
            RemovableHandle.live -= 1

    def __enter__(self) -> "RemovableHandle":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.remove()


class Module:
    """Base class of every layer and model: a registry of parameters, buffers and modules.

    Subclasses set attributes in ``__init__`` (no ``super().__init__()`` needed) and
    implement ``forward``. Provides ``parameters()``, ``named_parameters()``,
    ``buffers()``, ``children()``, ``modules()``, ``zero_grad()``, ``train()``/``eval()``,
    ``apply()`` and ``state_dict()``/``load_state_dict()``.
    """

    training: bool
    _parameters: Dict[str, Any]
    _buffers: Dict[str, Optional[np.ndarray]]
    _modules: Dict[str, Optional["Module"]]
    _forward_hooks: Dict[int, Callable[..., Any]]

    def __new__(cls, *args: Any, **kwargs: Any) -> "Module":
        self = super().__new__(cls)
        d = self.__dict__
        d["_parameters"], d["_buffers"], d["_modules"] = {}, {}, {}
        d["training"] = True
        d["_forward_hooks"] = {}
        return self

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__} does not implement forward()")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        result = self.forward(*args, **kwargs)
        if self._forward_hooks:  # one dict lookup when no hook is registered
            for hook in tuple(self._forward_hooks.values()):
                replaced = hook(self, args, result)
                if replaced is not None:
                    result = replaced
        return result

    def register_forward_hook(self, hook: Callable[..., Any]) -> RemovableHandle:
        """Call ``hook(module, args, output)`` after every ``forward`` of this module.

        ``args`` is the tuple of positional inputs; a hook that returns a value other
        than None replaces the output. Returns a handle whose ``remove()`` unregisters it.
        """
        if not callable(hook):
            raise TypeError(f"register_forward_hook: expected a callable, got "
                            f"{type(hook).__name__}")
        handle = RemovableHandle(self._forward_hooks)
        self._forward_hooks[handle.id] = hook
        RemovableHandle.live += 1
        return handle

    # ---- registration ----

    def __setattr__(self, name: str, value: Any) -> None:
        params, buffers, modules = self._parameters, self._buffers, self._modules
        if name in buffers:
            if value is not None and not isinstance(value, np.ndarray):
                raise TypeError(f"{type(self).__name__}.{name} is a buffer: assign a numpy "
                                f"array or None, not {type(value).__name__}")
            buffers[name] = value
        else:
            if name in params and value is not None and not is_parameter(value):
                raise TypeError(f"{type(self).__name__}.{name} is a parameter: assign a "
                                f"parameter or None, not {type(value).__name__}")
            if name in modules and value is not None and not isinstance(value, Module):
                raise TypeError(f"{type(self).__name__}.{name} is a module: assign a "
                                f"Module or None, not {type(value).__name__}")
            if isinstance(self.__dict__.get(name), tuple):
                self._forget_items(name)
            if is_parameter(value) or (value is None and name in params):
                params[name] = value  # an existing name keeps its place in the order
            elif isinstance(value, Module) or (value is None and name in modules):
                modules[name] = value
            elif isinstance(value, (tuple, list)):
                self._register_items(name, value)
        # Also a plain attribute, so that reading self.weight is an ordinary lookup with
        # no __getattr__ fallback: the scalar engine reads them in its hot loop.
        object.__setattr__(self, name, value)

    def _register_items(self, name: str, items: Any) -> None:
        found = [i for i, item in enumerate(items) if is_parameter(item) or isinstance(item, Module)]
        if not found:
            return
        if isinstance(items, list):
            raise TypeError(f"{type(self).__name__}.{name}: assign a tuple, not a list, of "
                            f"parameters or modules (the registry reads it once, when assigned)")
        for i in found:
            item = items[i]
            (self._parameters if is_parameter(item) else self._modules)[f"{name}.{i}"] = item

    def _forget_items(self, name: str) -> None:
        """Drop the ``name.i`` entries a tuple attribute registered."""
        prefix = name + "."
        for registry in (self._parameters, self._modules):
            for key in [k for k in registry if k.startswith(prefix)]:
                del registry[key]

    def __delattr__(self, name: str) -> None:
        for registry in (self._parameters, self._buffers, self._modules):
            registry.pop(name, None)
        if isinstance(self.__dict__.get(name), tuple):
            self._forget_items(name)
        object.__delattr__(self, name)

    def register_buffer(self, name: str, array: Optional[np.ndarray]) -> None:
        """Add a saved, non-trained array (e.g. running statistics) under ``name``."""
        if not isinstance(name, str) or not name or "." in name:
            raise KeyError(f"register_buffer: bad buffer name {name!r}")
        if name in self._parameters or name in self._modules:
            raise KeyError(f"register_buffer: {name!r} is already a parameter or module")
        if array is not None and not isinstance(array, np.ndarray):
            raise TypeError(f"register_buffer: {name!r} must be a numpy array or None, "
                            f"not {type(array).__name__}")
        self._buffers[name] = array
        object.__setattr__(self, name, array)

    # ---- walks ----

    def named_children(self) -> Iterator[Tuple[str, "Module"]]:
        """The direct sub-modules with their names, in registration order."""
        for name, module in self._modules.items():
            if module is not None:
                yield name, module

    def children(self) -> Iterator["Module"]:
        for _, module in self.named_children():
            yield module

    def named_modules(self, prefix: str = "",
                      memo: Optional[Set[int]] = None) -> Iterator[Tuple[str, "Module"]]:
        """This module (name ``prefix``) and every module below it, each once, depth first."""
        memo = set() if memo is None else memo
        if id(self) in memo:
            return
        memo.add(id(self))
        yield prefix, self
        for name, child in self.named_children():
            yield from child.named_modules(f"{prefix}.{name}" if prefix else name, memo)

    def modules(self) -> Iterator["Module"]:
        for _, module in self.named_modules():
            yield module

    def named_parameters(self, prefix: str = "", recurse: bool = True) -> Iterator[Tuple[str, Any]]:
        """``(dotted_name, parameter)``: own parameters first, then each child's, each once."""
        seen: Set[int] = set()
        walk = self.named_modules(prefix) if recurse else iter([(prefix, self)])
        for path, module in walk:
            for name, p in module._parameters.items():
                if p is not None and id(p) not in seen:
                    seen.add(id(p))
                    yield (f"{path}.{name}" if path else name), p

    def parameters(self, recurse: bool = True) -> List[Any]:
        return [p for _, p in self.named_parameters(recurse=recurse)]

    def named_buffers(self, prefix: str = "") -> Iterator[Tuple[str, np.ndarray]]:
        for path, module in self.named_modules(prefix):
            for name, b in module._buffers.items():
                if b is not None:
                    yield (f"{path}.{name}" if path else name), b

    def buffers(self) -> List[np.ndarray]:
        return [b for _, b in self.named_buffers()]

    def num_parameters(self) -> int:
        """How many trainable numbers (a scalar ``Value`` counts 1, an array its size)."""
        return sum(1 if isinstance(p, Value) else int(np.size(p.data)) for p in self.parameters())

    def apply(self, fn: Callable[["Module"], Any]) -> "Module":
        """Call ``fn`` on every sub-module, then on this one (as PyTorch); return self."""
        for child in self.children():
            child.apply(fn)
        fn(self)
        return self

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
        """Every parameter and buffer as an array (a copy), keyed by dotted name."""
        out: Dict[str, np.ndarray] = {}
        self._save_state(out, "")
        return out

    def _save_state(self, out: Dict[str, np.ndarray], prefix: str) -> None:
        """Add this module's entries under ``prefix``, then its children's. A module that
        stores its parameters in another layout (``nn.Layer``) overrides this and
        ``_load_state`` together."""
        for name, p in self._parameters.items():
            if p is not None:
                out[prefix + name] = _as_array(p)
        for name, b in self._buffers.items():
            if b is not None:
                out[prefix + name] = b.copy()
        for name, child in self.named_children():
            child._save_state(out, f"{prefix}{name}.")

    def _load_state(self, state: Dict[str, np.ndarray], prefix: str) -> None:
        """Assign the (already checked) arrays of ``state`` found under ``prefix``."""
        for name, p in self._parameters.items():
            if p is not None and prefix + name in state:
                _assign(p, state[prefix + name])
        for name, b in self._buffers.items():
            if b is not None and prefix + name in state:
                setattr(self, name, state[prefix + name].astype(b.dtype, copy=True))
        for name, child in self.named_children():
            child._load_state(state, f"{prefix}{name}.")

    def load_state_dict(self, state: Dict[str, Any], strict: bool = True) -> IncompatibleKeys:
        """Copy arrays into the parameters and buffers, which keep their identity and dtype.

        Refused, naming the key: an array of the wrong shape, NaN or inf, not numbers;
        with ``strict`` (the default) also a missing or an unexpected key. With
        ``strict=False`` the matching keys are loaded and the others returned.
        """
        own = self.state_dict()
        missing = [k for k in own if k not in state]
        unexpected = [k for k in state if k not in own]
        if strict and (missing or unexpected):
            raise KeyError(f"load_state_dict for {type(self).__name__}: "
                           f"missing keys {missing[:5]}{' ...' if len(missing) > 5 else ''}, "
                           f"unexpected keys {unexpected[:5]}"
                           f"{' ...' if len(unexpected) > 5 else ''}")
        checked: Dict[str, np.ndarray] = {}
        for key, expected in own.items():
            if key in state:
                checked[key] = _checked_array(key, state[key], expected.shape)
        self._load_state(checked, "")
        return IncompatibleKeys(missing, unexpected)

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


def _as_array(p: Any) -> np.ndarray:
    """A parameter's value as a new array: float64 0-d for a ``Value``, a copy for a Tensor."""
    if isinstance(p, Value):
        return np.array(p.data, dtype=np.float64)
    return np.array(p.data)


def _assign(p: Any, array: np.ndarray) -> None:
    if isinstance(p, Value):
        p.data = float(array)
    else:
        p.data = array.astype(p.data.dtype, order=memory_order(p.data), copy=True)


def _checked_array(key: str, given: Any, shape: Tuple[int, ...]) -> np.ndarray:
    """``given`` as a finite real array of ``shape``, or an error naming ``key``."""
    array = np.asarray(given)
    if array.dtype.kind not in "biuf":
        raise ValueError(f"load_state_dict: {key!r} holds {array.dtype} data, not numbers")
    if array.shape != shape:
        raise ValueError(f"load_state_dict: {key!r} has shape {array.shape}, "
                         f"the model expects {shape}")
    if not np.all(np.isfinite(array)):
        raise ValueError(f"load_state_dict: {key!r} holds NaN or inf")
    return array
