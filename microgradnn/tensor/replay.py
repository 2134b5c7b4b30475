"""A training step that records itself once and then replays a flat plan of numpy calls.

    step = microgradnn.tensor.replay(model, cross_entropy, optimizer)
    for x, y in batches:
        loss, logits = step(x, y)     # zero_grad, forward, loss, backward, optimizer.step()

The eager step builds a graph of ``Tensor`` nodes at every batch, although for batches of
one shape the graph is the same each time. The first call of a shape runs the eager step
(so its numbers are the eager ones) and reads the graph it made; later calls of that shape
replay a *plan*: a list of entries ``(numpy function, arguments)`` over arrays allocated
once, each written with ``out=``, and no node objects. A new input shape (the last,
shorter batch of an epoch) records a plan of its own. ``describe()`` prints the plan.

How the graph becomes a plan. The model runs step by step as ``Sequential.forward`` calls
it (``call_plan()``, with its fused Linear+ReLU pairs; any other model is one step). Each
step made one graph node whose op is recognised by its backward function (``KERNELS`` in
``replay_ops``: linear, linear+relu, sigmoid, tanh, relu, reshape, dropout; the losses
cross-entropy and the lectures' sigmoid MSE), and the node gives the rest: its operands are
the step's input and the parameters, its shape the buffers'. Such a step becomes the eager
op's own numpy calls into fixed buffers (bit for bit the eager numbers). Any other step
(a convolution, batch norm, a residual block, an unknown loss) becomes an *island*: it runs
eagerly between two fixed buffers, its small graph and backward included (consecutive such
steps run as one island). So every model can be replayed, a CNN's convolutions as eagerly
as before, while the layers whose time is Python overhead (the small matrices of an MLP, a
CNN's head) run as plain numpy calls. The optimizer is asked to ``pack()`` its parameters
into one buffer (``microgradnn.optim``): the plan writes the gradients there and
``optimizer.step()`` updates every weight with one numpy call per formula.

Why not a second forward function for every op, captured as the ops run? It would mean
rewriting each of the ~30 ops as a forward/backward pair taking ``out=`` buffers, and the
convolutions already keep their scratch buffers between steps: their time is the
arithmetic, which a plan cannot shorten. Reading the graph the eager step made keeps every
op's eager code as the one reference and confines the replayed numpy calls to seven small
ops and two losses, each tested against eager bit for bit.

State the plan respects, by name:

- dropout draws a new mask from the layer's generator at every step (the same numbers as
  eager, in the same order);
- batch norm runs in an island: batch statistics, running statistics and
  ``num_batches_tracked`` are updated as eager does;
- the optimizer's state (SGD's velocity, Adam's moments and step count, the learning rate
  ``fit`` decays) is the optimizer's own: the plan calls ``optimizer.step()``, whose
  updates write into arrays kept between steps (its packed buffers while they hold);
- ``train()``/``eval()``: a plan is kept per mode; a dropout layer switched on its own
  records again;
- weights loaded since (``load_state_dict`` gives parameters new arrays) or a changed
  ``Sequential`` record again;
- forward hooks (``register_forward_hook``) on the model or on one of its layers: that step
  runs eagerly, as ``model(x)``, so that every hook sees its output.

Refused, by name, with the eager step used instead (``refused`` says why): a parameter
used by two steps (tied weights) or an input that requires a gradient. ``fit`` uses a
replay step by default (``fit(..., replay=False)``, ``microgradnn train --no-replay`` turn
it off) except with ``workers > 1``, whose split step (``microgradnn.parallel``) runs
eagerly. The stepper, the explain page and everything that reads the graph use the eager
path: a replayed step leaves no graph behind.
"""

from __future__ import annotations

import math
from typing import Any, Callable, Dict, List, Optional, Tuple

import numpy as np

from ..module import RemovableHandle
from .layers import Dropout, Sequential
from .replay_ops import KERNELS, LOSSES, Built, Entry, Slot
from .tensor import Tensor, from_uint8, wrap_array

__all__ = ["replay", "ReplayStep", "ReplayRefused", "ScaledImages", "MAX_PLANS"]

MAX_PLANS = 4  # plans kept per step (shapes x modes); the oldest goes first


class ReplayRefused(ValueError):
    """The step cannot be replayed; the message names what (the eager step runs instead)."""


class _Island:
    """A step with no kernel: run eagerly at every replay between two fixed buffers."""

    def __init__(self, x: Slot) -> None:
        self.x = x
        self.fns: List[Callable[[Any], Any]] = []  # consecutive steps, run as one
        self.params: List[Tensor] = []
        self.out = x
        self._input: Optional[Tensor] = None
        self._output: Optional[Tensor] = None

    def add(self, fn: Callable[[Any], Any], out: Tensor, params: List[Tensor]) -> None:
        """Take in the next step, which made ``out``; the island's output is now its."""
        self.fns.append(fn)
        self.params += [p for p in params if all(p is not q for q in self.params)]
        self.out = Slot(np.empty_like(out.data),
                        np.empty_like(out.data) if out.requires_grad else None)

    def forward(self) -> None:
        t = y = wrap_array(self.x.data)
        t.requires_grad = self.x.grad is not None
        for fn in self.fns:
            y = fn(y)
        np.copyto(self.out.data, y.data)
        self._input, self._output = t, y

    def backward(self) -> None:
        t, y = self._input, self._output
        self._input = self._output = None
        for p in self.params:
            p.grad = None
        if self.out.grad is not None:
            y.backward(self.out.grad)
        if self.x.grad is not None:
            np.copyto(self.x.grad, t.grad)

    def __repr__(self) -> str:
        names = ", ".join(_step_name(fn) for fn in self.fns)
        return f"island [{names}] {self.x.data.shape} -> {self.out.data.shape}"


class _LossIsland:
    """A loss with no kernel, run eagerly on the plan's logits."""

    op = "loss"

    def __init__(self, loss_fn: Callable[[Any, Any], Any], x: Slot) -> None:
        self.loss_fn, self.x = loss_fn, x
        self.t: Any = None
        self.value = 0.0
        self._input: Optional[Tensor] = None
        self._loss: Optional[Tensor] = None

    def check(self, t: Any) -> Any:
        return t  # the loss checks its targets itself

    def place(self, t: Any) -> None:
        self.t = t

    def forward(self) -> None:
        self._input = wrap_array(self.x.data)
        self._input.requires_grad = self.x.grad is not None
        self._loss = self.loss_fn(self._input, self.t)
        self.value = float(self._loss.item())

    def backward(self) -> None:
        t, loss = self._input, self._loss
        self._input = self._loss = None
        if self.x.grad is not None:
            loss.backward()
            np.copyto(self.x.grad, t.grad)


def _island_params(out: Tensor, start: Tensor) -> List[Tensor]:
    """The parameters in the graph of ``out`` above ``start`` (an island's own)."""
    found, seen, stack = [], {id(start)}, [out]
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if node.is_parameter:
            found.append(node)
        stack.extend(node.operands)
    return found


class _Plan:
    """One recorded step, ready to replay for inputs of its shape."""

    def __init__(self, steps: Tuple[Any, ...]) -> None:
        self.steps = steps
        self.x: Optional[Slot] = None
        self.forward: List[Entry] = []
        self.backward: List[List[Entry]] = []  # per step, in forward order
        self.grads: List[Tuple[Tensor, np.ndarray, np.ndarray]] = []  # (param, data, grad)
        self.zero: List[Tensor] = []  # parameters whose grad is cleared before each step
        self.watch: List[Dropout] = []  # layers whose mode or p the plan depends on
        self.mode: Tuple[Any, ...] = ()
        self.loss: Any = None
        self.outputs: Optional[np.ndarray] = None
        self.flat_backward: List[Entry] = []

    def watched(self) -> Tuple[Any, ...]:
        return tuple((m.training, m.p) for m in self.watch)

    def valid(self, model: Any) -> bool:
        if isinstance(model, Sequential) and model.call_plan() is not self.steps:
            return False
        for p, data, _ in self.grads:
            if p.data is not data:
                return False
        return not self.watch or self.watched() == self.mode

    def run(self, t: np.ndarray) -> float:
        """The step, once the input is in ``x.data``; ``t`` the checked targets."""
        self.loss.place(t)
        for p in self.zero:
            p.grad = None
        for p, _, g in self.grads:
            p.grad = g
        for fn, args in self.forward:
            fn(*args)
        self.loss.forward()
        self.loss.backward()
        for fn, args in self.flat_backward:
            fn(*args)
        return self.loss.value


def _builds(node: Any, step: Any, x: Slot, cur: Tensor, grad_of: Any) -> Optional[Built]:
    """The kernel's entries for the node ``step`` made from ``cur``, or None (an island)."""
    if not isinstance(node, Tensor) or node.backward_fn not in KERNELS:
        return None
    operands = node.operands
    if not operands or operands[0] is not cur or not all(p.is_parameter for p in operands[1:]):
        return None
    return KERNELS[node.backward_fn](node, step, x, grad_of)


def _param_names(model: Any) -> Dict[int, str]:
    named = getattr(model, "named_parameters", None)
    return {} if named is None else {id(p): name for name, p in named()}


class _Recorder:
    """Builds a ``_Plan`` from the eager step's trace: (step, its input, its output)."""

    def __init__(self, model: Any, steps: Tuple[Any, ...], optimizer: Any) -> None:
        self.model, self.optimizer = model, optimizer
        # the optimizer's packed gradient buffers, one per parameter (Optimizer.pack)
        packed = getattr(optimizer, "pack", lambda: None)()
        self.packed = {} if packed is None else {
            id(p): g for p, g in zip(optimizer.params, packed)}
        self.plan = _Plan(steps)
        self.kernel_params: Dict[int, Tensor] = {}
        self.island_params: Dict[int, Tensor] = {}
        self.island: Optional[_Island] = None  # the last one, which a next island step joins

    def build(self, x: Tensor, trace: List[Tuple[Any, Tensor, Any]], loss: Tensor,
              loss_fn: Any) -> _Plan:
        plan = self.plan
        slot = plan.x = Slot(np.empty_like(x.data), None)
        for step, cur, out in trace:
            slot = self._step(step, cur, out, slot)
        logits = trace[-1][2] if trace else x
        if loss.backward_fn in LOSSES and len(loss.operands) == 1 \
                and loss.operands[0] is logits and slot.data.ndim == 2 and slot.grad is not None:
            plan.loss = LOSSES[loss.backward_fn](loss, slot)
        else:
            plan.loss = _LossIsland(loss_fn, slot)
        plan.outputs = slot.data
        plan.flat_backward = [e for entries in reversed(plan.backward) for e in entries]
        self._check_params()
        plan.mode = plan.watched()
        return plan

    def _step(self, step: Any, cur: Tensor, out: Any, slot: Slot) -> Slot:
        plan = self.plan
        if isinstance(out, Tensor) and out.requires_grad and out.grad is None:
            raise ReplayRefused(f"replay: no gradient reaches the output of {step!r}; the "
                                f"eager step skips what lies before it")
        if out is cur:  # an identity here (dropout in eval mode, p = 0)
            if isinstance(step, Dropout):
                plan.watch.append(step)
            return slot
        built = _builds(out, step, slot, cur, self.grad_of)
        if built is None:
            if not isinstance(out, Tensor):
                raise ReplayRefused(f"replay: step {step!r} returned a "
                                    f"{type(out).__name__}, not a Tensor")
            island = self.island
            if island is None or island.out is not slot:  # else the step joins the last one
                island = self.island = _Island(slot)
                plan.forward.append((island.forward, ()))
                plan.backward.append([(island.backward, ())])
            params = _island_params(out, cur)
            island.add(step, out, params)
            for p in params:
                self.island_params.setdefault(id(p), p)
            return island.out
        if isinstance(step, Dropout):
            plan.watch.append(step)
        for p, g in built.params:
            if id(p) in self.kernel_params:
                self._refuse_tied(p)
            self.kernel_params[id(p)] = p
            plan.grads.append((p, p.data, g))
        plan.forward.extend(built.forward)
        plan.backward.append(built.backward)
        return built.out

    def grad_of(self, p: Tensor) -> np.ndarray:
        g = self.packed.get(id(p))
        return np.empty_like(p.data) if g is None else g

    def _refuse_tied(self, p: Tensor) -> None:
        name = _param_names(self.model).get(id(p), repr(p))
        raise ReplayRefused(f"replay: parameter {name} is used by two steps (tied weights); "
                            f"its gradients add up, which the plan does not do")

    def _check_params(self) -> None:
        for key, p in self.island_params.items():
            if key in self.kernel_params:
                self._refuse_tied(p)
        others = list(self.island_params.values())
        if self.optimizer is not None:
            others += [p for p in self.optimizer.params
                       if id(p) not in self.kernel_params and id(p) not in self.island_params]
        self.plan.zero = others


class ScaledImages:
    """``prepare`` for uint8 images: ``images * scale - offset`` as float32 (N, *shape), the
    numbers of ``from_uint8``, written by a replayed step straight into its input buffer."""

    def __init__(self, shape: Tuple[int, ...], scale: float, offset: float = 0.0) -> None:
        from_uint8(np.zeros(1, np.uint8), scale, offset)  # refuses a bad scale or offset
        self.shape, self.scale, self.offset = tuple(shape), scale, offset
        self._scale, self._offset = np.float32(scale), np.float32(offset)

    def __call__(self, images: np.ndarray) -> Tensor:
        return from_uint8(images, self.scale, self.offset, (len(images),) + self.shape)

    def shape_of(self, images: Any) -> Tuple[int, ...]:
        shape = (len(images),) + self.shape if isinstance(images, np.ndarray) else ()
        if not shape or images.dtype.type is not np.uint8 or images.size != math.prod(shape):
            return ()  # not a plan's input: the eager conversion names the problem
        return shape

    def into(self, images: np.ndarray, out: np.ndarray) -> None:
        # cast, then scale in place, as from_uint8 (faster than one mixed-type multiply)
        np.copyto(out, images.reshape(out.shape))
        out *= self._scale
        if self.offset:
            out -= self._offset


class ReplayStep:
    """``step(x, y) -> (loss, outputs)``: one training step, recorded once per input shape
    and replayed after (module docstring).

    ``x`` is a ``Tensor`` or a float array (N, ...), or whatever ``prepare`` turns into a
    Tensor (``fit`` passes uint8 images); ``y`` the int targets (N,). Each call sets every
    parameter's ``grad`` to this batch's gradient (no accumulation: ``zero_grad`` is part
    of the step) and, when ``optimizer`` is given, calls ``optimizer.step()`` (with
    ``update=False`` the caller does, as ``fit`` after its divergence check; the plan still
    writes the gradients into the optimizer's packed buffers, ``Optimizer.pack``). ``loss`` is
    the batch's loss as a float, ``outputs`` the model's output array, overwritten by the
    next call. The same protocol as ``microgradnn.parallel.DataParallelStep``.
    """

    def __init__(self, model: Any, loss_fn: Callable[[Any, Any], Any], optimizer: Any = None,
                 prepare: Optional[Callable[[Any], Tensor]] = None, update: bool = True) -> None:
        if not callable(model) or not callable(loss_fn):
            raise TypeError("replay: model and loss_fn must be callable")
        if optimizer is not None and not callable(getattr(optimizer, "step", None)):
            raise TypeError(f"replay: optimizer must have a step() method, got "
                            f"{type(optimizer).__name__}")
        self.model, self.loss_fn, self.optimizer, self.prepare = model, loss_fn, optimizer, prepare
        self.update = update and optimizer is not None
        self.plans: Dict[Tuple[Any, ...], _Plan] = {}
        self.refused: Optional[str] = None  # why the eager step runs instead, once refused
        self.recorded = 0  # how many plans were recorded (a test and a benchmark read it)

    def __call__(self, x: Any, y: Any) -> Tuple[float, np.ndarray]:
        prepare, images = self.prepare, None
        if self.refused is not None or _hooked(self.model):
            return self._eager(x if prepare is None else prepare(x), y)[:2]
        if isinstance(prepare, ScaledImages):
            images = x
            key = (prepare.shape_of(x), "<f4", _shape(y), getattr(self.model, "training", None))
        else:
            if prepare is not None:
                x = prepare(x)
            if not isinstance(x, Tensor):
                x = Tensor(x)
            key = (x.data.shape, x.data.dtype.str, _shape(y), getattr(self.model, "training", None))
        plan = self.plans.get(key)
        if plan is None or not plan.valid(self.model):
            if images is not None:
                x = prepare(images)
            value, outputs, plan = self._record(x, y, key)
            return value, outputs
        t = plan.loss.check(y)
        if images is not None:
            prepare.into(images, plan.x.data)
        else:
            np.copyto(plan.x.data, x.data)
        value = plan.run(t)
        if self.update:
            self.optimizer.step()
        return value, plan.outputs

    def close(self) -> None:
        """Forget the plans and their buffers."""
        self.plans.clear()

    def describe(self) -> str:
        """The most recent plan, one entry a line: what a replayed step runs."""
        if not self.plans:
            return "no plan recorded" + (f" ({self.refused})" if self.refused else "")
        plan = list(self.plans.values())[-1]
        lines = [f"input {plan.x.data.shape} {plan.x.data.dtype}", "forward:"]
        lines += [f"  {_entry_text(e)}" for e in plan.forward]
        lines += [f"  {plan.loss.op} -> loss", "backward:", f"  {plan.loss.op} backward"]
        lines += [f"  {_entry_text(e)}" for e in plan.flat_backward]
        if self.update:
            lines.append(f"update: {type(self.optimizer).__name__}.step()")
        return "\n".join(lines)

    # ---- recording ----

    def _steps(self) -> Tuple[Any, ...]:
        model = self.model
        return model.call_plan() if isinstance(model, Sequential) else (model,)

    def _eager(self, x: Tensor, y: Any, steps: Tuple[Any, ...] = ()) -> Tuple[Any, ...]:
        """The eager step, as ``fit`` runs it; returns (loss, outputs, trace, loss node)."""
        trace, cur = [], x
        for step in steps or (self.model,):
            out = step(cur)
            trace.append((step, cur, out))
            cur = out
        loss = self.loss_fn(cur, y)
        value, outputs = float(loss.item()), np.asarray(cur.data)
        if hasattr(self.model, "zero_grad"):
            self.model.zero_grad()
        if self.optimizer is not None:
            self.optimizer.zero_grad()
        loss.backward()
        if self.update:
            self.optimizer.step()
        return value, outputs, trace, loss

    def _record(self, x: Tensor, y: Any, key: Tuple[Any, ...]) -> Tuple[float, np.ndarray, Any]:
        steps = self._steps()
        value, outputs, trace, loss = self._eager(x, y, steps)
        try:
            if x.requires_grad:
                raise ReplayRefused("replay: the input requires a gradient; a plan "
                                    "computes none for it")
            plan = _Recorder(self.model, steps, self.optimizer).build(x, trace, loss,
                                                                     self.loss_fn)
        except ReplayRefused as refusal:
            self.refused = str(refusal)
            self.plans.clear()
            return value, outputs, None
        self.plans.pop(key, None)
        if len(self.plans) >= MAX_PLANS:
            self.plans.pop(next(iter(self.plans)))
        self.plans[key] = plan
        self.recorded += 1
        return value, outputs, plan


def _hooked(model: Any) -> bool:
    """Whether the model or a layer the plan would call has forward hooks (``Module``):
    they see the output of every forward call, which a replayed step does not make."""
    if not RemovableHandle.live:  # no hook registered anywhere: nothing to look for
        return False
    if getattr(model, "_forward_hooks", None):
        return True
    return isinstance(model, Sequential) and any(
        m._forward_hooks for m in model._modules.values() if m is not None)


def _shape(y: Any) -> Tuple[int, ...]:
    return y.shape if type(y) is np.ndarray else np.shape(y)


def _step_name(fn: Any) -> str:
    """``Conv2d.forward_relu`` for a bound method (or a partial of one), else the class."""
    fn = getattr(fn, "func", fn)
    owner = getattr(fn, "__self__", None)
    if owner is not None:
        return f"{type(owner).__name__}.{fn.__name__}"
    return type(fn).__name__


def _entry_text(entry: Entry) -> str:
    fn, args = entry
    if isinstance(getattr(fn, "__self__", None), _Island):
        return f"{fn.__name__} of the {fn.__self__!r} (eager)"
    name = getattr(fn, "__name__", None) or getattr(getattr(fn, "func", None), "__name__", "?")
    shown = [str(a.shape) if isinstance(a, np.ndarray) else type(a).__name__
             if hasattr(a, "training") else repr(a) for a in args]
    return f"{name}({', '.join(shown)})"


def replay(model: Any, loss_fn: Callable[[Any, Any], Any], optimizer: Any = None,
           prepare: Optional[Callable[[Any], Tensor]] = None) -> ReplayStep:
    """A ``ReplayStep`` for ``model``, ``loss_fn`` and ``optimizer`` (module docstring)."""
    return ReplayStep(model, loss_fn, optimizer, prepare)
