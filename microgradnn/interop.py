"""PyTorch, both ways: ``to_torch(model)`` and ``from_torch(module)``.

torch is optional: it is imported when one of these functions is called, and a machine
without it gets one line saying which ``pip install`` to run.

Every layer of the vectorized path has a PyTorch twin with the same constructor
arguments and the same ``state_dict`` keys ("0.weight", "0.bias", ...), so a conversion
is two steps: build the twin layer by layer, then copy the state (parameters *and*
buffers) with a strict ``load_state_dict``. The scalar ``MLP`` goes through the
``Sequential`` it is equal to (``microgradnn.tensor.bridge``). Outputs and gradients of
the two agree to rounding in float64 (``tests/test_interop.py``).

Each layer's twin is one row of ``_LAYERS``: the class here, the class name in
``torch.nn``, and the constructor keywords read from the instance on either side.
"""

from __future__ import annotations

from typing import Any, Callable, Dict, List, Tuple

import numpy as np

from .module import Module
from .nn import MLP
from .tensor import layers as L
from .tensor.adaptive_pool import AdaptiveAvgPool2d
from .tensor.blocks import BasicBlock, Inception
from .tensor.norm import BatchNorm1d, BatchNorm2d, LocalResponseNorm

__all__ = ["to_torch", "from_torch", "torch_source", "TORCH_INSTALL", "require_torch"]

TORCH_INSTALL = "pip install torch==2.13.0"


def require_torch() -> Any:
    """Import torch, or raise ``ImportError`` with the one command that installs it."""
    try:
        import torch
    except ImportError:
        raise ImportError(f"microgradnn.interop needs PyTorch, which is not installed: "
                          f"run `{TORCH_INSTALL}` (CPU build)") from None
    return torch


def _pair(value: Any) -> Tuple[int, int]:
    return (value, value) if isinstance(value, int) else tuple(value)


# Per layer: (our class, torch.nn class name, our instance -> torch kwargs,
#             torch instance -> our kwargs). Parameters travel through state_dict.
_Row = Tuple[type, str, Callable[[Any], Dict[str, Any]], Callable[[Any], Dict[str, Any]]]


def _linear_kw(m: Any) -> Dict[str, Any]:
    return dict(in_features=m.in_features, out_features=m.out_features, bias=m.bias is not None)


def _conv_kw(m: Any) -> Dict[str, Any]:
    return dict(in_channels=m.in_channels, out_channels=m.out_channels,
                kernel_size=_pair(m.kernel_size), stride=_pair(m.stride),
                padding=_pair(m.padding), bias=m.bias is not None)


def _pool_kw(m: Any) -> Dict[str, Any]:
    return dict(kernel_size=_pair(m.kernel_size), stride=_pair(m.stride),
                padding=_pair(m.padding))


def _torch_conv_kw(m: Any) -> Dict[str, Any]:
    if _pair(m.dilation) != (1, 1) or m.groups != 1 or m.padding_mode != "zeros":
        raise ValueError(f"from_torch: {m!r} uses dilation, groups or a padding mode other "
                         f"than zeros, which microgradnn's Conv2d does not have")
    if isinstance(m.padding, str):
        raise ValueError(f"from_torch: {m!r} has padding={m.padding!r}; give it in pixels")
    return _conv_kw(m)


def _torch_pool_kw(m: Any) -> Dict[str, Any]:
    if getattr(m, "ceil_mode", False) or _pair(getattr(m, "dilation", 1)) != (1, 1):
        raise ValueError(f"from_torch: {m!r} uses ceil_mode or dilation, which microgradnn's "
                         f"pooling does not have")
    if getattr(m, "count_include_pad", True) is False or getattr(m, "divisor_override", None):
        raise ValueError(f"from_torch: {m!r} changes how padding is counted; microgradnn's "
                         f"AvgPool2d counts it, as PyTorch's default")
    return _pool_kw(m)


def _flatten_kw(m: Any) -> Dict[str, Any]:
    if getattr(m, "end_dim", -1) != -1:
        raise ValueError(f"from_torch: {m!r} has end_dim={m.end_dim}; only -1 converts")
    return dict(start_dim=m.start_dim)


def _none(m: Any) -> Dict[str, Any]:
    return {}


def _batch_norm_kw(m: Any) -> Dict[str, Any]:
    if getattr(m, "track_running_stats", True) is False:
        raise ValueError(f"from_torch: {m!r} keeps no running statistics; microgradnn's "
                         f"BatchNorm always does")
    return dict(num_features=m.num_features, eps=m.eps, momentum=m.momentum, affine=m.affine)


def _lrn_kw(m: Any) -> Dict[str, Any]:
    return dict(size=m.size, alpha=m.alpha, beta=m.beta, k=m.k)


def _adaptive_kw(m: Any) -> Dict[str, Any]:
    return dict(output_size=_pair(m.output_size))


_LAYERS: List[_Row] = [
    (L.Linear, "Linear", _linear_kw, _linear_kw),
    (L.Conv2d, "Conv2d", _conv_kw, _torch_conv_kw),
    (L.MaxPool2d, "MaxPool2d", _pool_kw, _torch_pool_kw),
    (L.AvgPool2d, "AvgPool2d", _pool_kw, _torch_pool_kw),
    (L.ReLU, "ReLU", _none, _none),
    (L.Sigmoid, "Sigmoid", _none, _none),
    (L.Tanh, "Tanh", _none, _none),
    (L.Flatten, "Flatten", lambda m: dict(start_dim=m.start_dim), _flatten_kw),
    (L.Dropout, "Dropout", lambda m: dict(p=m.p), lambda m: dict(p=m.p)),
    (BatchNorm1d, "BatchNorm1d", _batch_norm_kw, _batch_norm_kw),
    (BatchNorm2d, "BatchNorm2d", _batch_norm_kw, _batch_norm_kw),
    (LocalResponseNorm, "LocalResponseNorm", _lrn_kw, _lrn_kw),
    (AdaptiveAvgPool2d, "AdaptiveAvgPool2d", _adaptive_kw, _adaptive_kw),
]

_TWINS: Dict[str, Any] = {}


def _block_twins(torch: Any) -> Dict[str, Any]:
    """The torch classes of the two blocks with a ``forward`` of their own, made once.

    Same attribute names as ``BasicBlock`` and ``Inception`` (torchvision's), so their
    ``state_dict`` keys match ours one to one.
    """
    if _TWINS:
        return _TWINS
    nn = torch.nn

    class TorchBasicBlock(nn.Module):
        """relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x)), as microgradnn's BasicBlock."""

        def __init__(self, in_channels: int, out_channels: int, stride: int = 1) -> None:
            super().__init__()
            self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride, 1, bias=False)
            self.bn1 = nn.BatchNorm2d(out_channels)
            self.relu = nn.ReLU()
            self.conv2 = nn.Conv2d(out_channels, out_channels, 3, 1, 1, bias=False)
            self.bn2 = nn.BatchNorm2d(out_channels)
            self.downsample = None
            if stride != 1 or in_channels != out_channels:
                self.downsample = nn.Sequential(
                    nn.Conv2d(in_channels, out_channels, 1, stride, 0, bias=False),
                    nn.BatchNorm2d(out_channels))

        def forward(self, x: Any) -> Any:
            out = self.relu(self.bn1(self.conv1(x)))
            out = self.bn2(self.conv2(out))
            identity = x if self.downsample is None else self.downsample(x)
            return self.relu(out + identity)

    class TorchInception(nn.Module):
        """Four branches on one input joined along the channels, as microgradnn's Inception."""

        def __init__(self, in_channels: int, c1: int, c3_reduce: int, c3: int, c5_reduce: int,
                     c5: int, pool_proj: int) -> None:
            super().__init__()

            def conv(cin: int, cout: int, k: int) -> List[Any]:
                return [nn.Conv2d(cin, cout, k, 1, k // 2), nn.ReLU()]

            self.branch1 = nn.Sequential(*conv(in_channels, c1, 1))
            self.branch2 = nn.Sequential(*conv(in_channels, c3_reduce, 1),
                                         *conv(c3_reduce, c3, 3))
            self.branch3 = nn.Sequential(*conv(in_channels, c5_reduce, 1),
                                         *conv(c5_reduce, c5, 5))
            self.branch4 = nn.Sequential(nn.MaxPool2d(3, 1, 1), *conv(in_channels, pool_proj, 1))

        def forward(self, x: Any) -> Any:
            return torch.cat([self.branch1(x), self.branch2(x), self.branch3(x),
                              self.branch4(x)], 1)

    _TWINS.update(BasicBlock=TorchBasicBlock, Inception=TorchInception)
    return _TWINS



def _row_for_ours(module: Any) -> _Row:
    for row in _LAYERS:
        if type(module) is row[0]:
            return row
    raise ValueError(f"to_torch: {type(module).__name__} ({module!r}) has no PyTorch "
                     f"counterpart here; convertible layers: {_names()}")


def _names() -> str:
    return ", ".join(["Sequential", "MLP", "BasicBlock", "Inception"]
                     + [row[0].__name__ for row in _LAYERS])


def _dtype_of(model: Module) -> np.dtype:
    dtypes = {np.asarray(p.data).dtype for p in model.parameters()}
    if len(dtypes) > 1:
        raise ValueError(f"to_torch: the model mixes parameter dtypes {sorted(map(str, dtypes))}")
    return dtypes.pop() if dtypes else np.dtype(np.float32)


def _build_torch(module: Module, torch: Any) -> Any:
    if isinstance(module, L.Sequential):
        return torch.nn.Sequential(*[_build_torch(m, torch) for m in module])
    if type(module) is BasicBlock:
        return _block_twins(torch)["BasicBlock"](module.in_channels, module.out_channels,
                                                 module.stride)
    if type(module) is Inception:
        return _block_twins(torch)["Inception"](module.in_channels, *module.widths)
    ours, name, to_kw, _ = _row_for_ours(module)
    return getattr(torch.nn, name)(**to_kw(module))


def to_torch(model: Module) -> Any:
    """An equivalent ``torch.nn.Module`` with the same weights, buffers, dtype and mode.

    ``model`` is a scalar ``microgradnn.nn.MLP`` (converted through the ``Sequential`` it
    equals, in float64) or a module of the vectorized path: a ``Sequential`` of its layers,
    the CNN families included (their ``BasicBlock`` and ``Inception`` become torch modules
    with the same attribute names, defined in this module).
    """
    torch = require_torch()
    if isinstance(model, MLP):
        from .tensor.bridge import sequential_from_mlp

        model = sequential_from_mlp(model, dtype=np.float64)
    if not isinstance(model, Module):
        raise TypeError(f"to_torch: expected a microgradnn Module, got {type(model).__name__}")
    dtype = _dtype_of(model)
    twin = _build_torch(model, torch).to({np.dtype(np.float64): torch.float64,
                                          np.dtype(np.float32): torch.float32}[dtype])
    state = {key: torch.from_numpy(np.array(value, dtype=dtype if value.dtype.kind == "f"
                                            else value.dtype))
             for key, value in model.state_dict().items()}
    twin.load_state_dict(state, strict=True)
    twin.train(model.training)
    return twin


def _build_ours(module: Any, torch: Any, path: str, inside: Tuple[int, ...] = ()) -> Module:
    if id(module) in inside:
        raise ValueError(f"from_torch: the module at {path!r} contains itself; a model is a "
                         f"tree of layers")
    if isinstance(module, torch.nn.Sequential):
        return L.Sequential(*[_build_ours(m, torch, f"{path}.{name}" if path else name,
                                          inside + (id(module),))
                              for name, m in module.named_children()])
    twins = _block_twins(torch)
    if type(module) is twins["BasicBlock"]:
        return BasicBlock(module.conv1.in_channels, module.conv1.out_channels,
                          _pair(module.conv1.stride)[0])
    if type(module) is twins["Inception"]:
        b1, b2, b3, b4 = module.branch1, module.branch2, module.branch3, module.branch4
        return Inception(b1[0].in_channels, b1[0].out_channels, b2[0].out_channels,
                         b2[2].out_channels, b3[0].out_channels, b3[2].out_channels,
                         b4[1].out_channels)
    for ours, name, _, from_kw in _LAYERS:
        if type(module) is getattr(torch.nn, name):
            return ours(**from_kw(module))
    where = f" at {path!r}" if path else ""
    raise ValueError(f"from_torch: {type(module).__name__}{where} has no microgradnn "
                     f"counterpart; convertible layers: {_names()}")


def _numpy_of(key: str, value: Any, torch: Any) -> np.ndarray:
    """A copy of one ``state_dict`` tensor as numpy, refusing what numpy cannot hold."""
    if value.is_meta:
        raise ValueError(f"from_torch: {key!r} is on the meta device, a shape without data; "
                         f"load or initialize real weights first")
    if value.dtype not in (torch.float32, torch.float64) and value.is_floating_point():
        raise ValueError(f"from_torch: {key!r} is {value.dtype}; parameters must all be "
                         f"float32 or all float64 (call .float() or .double() first)")
    return value.detach().cpu().numpy().copy()


def from_torch(module: Any) -> Module:
    """The vectorized-path model equal to a ``torch.nn.Module`` built from convertible layers.

    Refuses, naming it, the first layer that has no counterpart. Parameters keep their
    dtype (float32 or float64); the training mode is copied.
    """
    torch = require_torch()
    if not isinstance(module, torch.nn.Module):
        raise TypeError(f"from_torch: expected a torch.nn.Module, got {type(module).__name__}")
    model = _build_ours(module, torch, "")
    state = {key: _numpy_of(key, value, torch) for key, value in module.state_dict().items()}
    dtypes = {array.dtype for array in state.values() if array.dtype.kind != "i"}  # counts aside
    if dtypes - {np.dtype(np.float32), np.dtype(np.float64)} or len(dtypes) > 1:
        raise ValueError(f"from_torch: parameters must all be float32 or all float64, "
                         f"got {sorted(map(str, dtypes))}")
    if dtypes:
        dtype = dtypes.pop()
        for p in model.parameters():
            p.data = p.data.astype(dtype)
        for m in model.modules():  # float buffers (running statistics) follow the weights
            for name, array in list(m.named_buffers()):
                if "." not in name and array is not None and array.dtype.kind == "f":
                    setattr(m, name, array.astype(dtype))
    model.load_state_dict(state)
    model.train(module.training)
    return model


def torch_source(model: Module, name: str = "model") -> str:
    """Python text that builds ``model``'s PyTorch twin with plain ``torch.nn`` (no weights)."""
    if isinstance(model, MLP):
        from .tensor.bridge import sequential_from_mlp

        model = sequential_from_mlp(model, dtype=np.float64)

    def text(module: Module) -> str:
        if type(module) in (BasicBlock, Inception):
            raise ValueError(f"torch_source: {type(module).__name__} has no plain torch.nn "
                             f"form; build it with microgradnn.interop.to_torch")
        if isinstance(module, L.Sequential):
            return "torch.nn.Sequential(" + ", ".join(text(m) for m in module) + ")"
        _, torch_name, to_kw, _ = _row_for_ours(module)
        args = ", ".join(f"{k}={v!r}" for k, v in to_kw(module).items())
        return f"torch.nn.{torch_name}({args})"

    return f"{name} = {text(model)}"

