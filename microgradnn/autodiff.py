"""Reverse-mode autodiff in one place: the topological order and the one backward loop.

``Value.backward``, ``Tensor.backward`` and the backprop stepper all call ``backward``
below; the stepper passes a ``record`` function and so shows exactly what the loop did.

A node is anything with ``operands`` (the nodes it was computed from, in order,
duplicates allowed; empty for a leaf), a ``grad``, and one way to pass its gradient on:

* a scalar ``Value`` keeps ``local_grads``, d(node)/d(operand) per operand slot, so
  slot ``i`` receives ``local_grads[i] * node.grad``; its ``grad`` is 0.0 until some
  gradient arrives;
* an array ``Tensor`` keeps ``backward_fn(upstream, ctx, operands)``, which returns
  one gradient array (or ``None``) per slot; its ``grad`` is ``None`` until some arrives.

Nodes hash by identity (``object.__hash__``). The order is built with an explicit
stack, so a chain a million ops deep needs no recursion.
"""

from __future__ import annotations

from typing import Any, Callable, List, Optional, Sequence, Tuple

__all__ = ["topological_order", "backward", "Recorder"]

# record(node, upstream, contributions); see ``backward``.
Recorder = Callable[[Any, Any, Optional[Tuple[Any, ...]]], None]


def topological_order(root: Any, leaves: bool = True) -> List[Any]:
    """Return every node reachable from ``root``, operands before their results.

    Depth-first, first operand first, so the order is deterministic: it depends only
    on the graph's structure, never on ids or memory addresses. ``root`` is last.
    With ``leaves=False`` only the inner nodes (those with operands) are returned, in
    the same relative order: all that backpropagation has to visit.
    """
    if not leaves and not root.operands:
        return []
    order: List[Any] = []
    visited = {root}
    # Each stack entry is a node and an iterator over the operands not yet looked at.
    stack = [(root, iter(root.operands))]
    push, pop, mark, place = stack.append, stack.pop, visited.add, order.append
    while stack:
        node, pending = stack[-1]
        for operand in pending:
            if operand not in visited:
                mark(operand)
                if operand.operands:
                    push((operand, iter(operand.operands)))
                    break
                if leaves:  # a leaf has nothing to wait for: place it at once
                    place(operand)
        else:  # every operand is placed: the node can follow them
            pop()
            place(node)
    return order


def backward(root: Any, seed: Any, *, record: Optional[Recorder] = None,
             order: Optional[Sequence[Any]] = None) -> None:
    """Add d(root)/d(node), scaled by ``seed``, to the ``grad`` of every node under ``root``.

    1. Inner nodes' gradients are reset (to 0.0, or ``None`` for arrays), so each call
       adds exactly one gradient; leaves (parameters, inputs) accumulate, as in PyTorch.
    2. ``seed`` (d(final)/d(root), 1.0 for a loss) is added to ``root.grad``.
    3. For each inner node, ``root`` first (reverse topological order), its gradient
       ``upstream`` is passed to its operands: ``operand.grad += contribution``.
       A node that has no gradient to pass is skipped: a scalar whose upstream is
       exactly 0.0 (say behind a dead ReLU; so 0 * inf gives 0, where PyTorch gives
       NaN) or an array whose gradient is ``None`` (nothing reached it).

    ``record(node, upstream, contributions)``, if given, is called once per inner node
    in the order the loop visits them, after the node's gradient was passed on:
    ``upstream`` is the node's gradient at that moment; ``contributions`` is a tuple
    aligned with ``node.operands`` of exactly what was added to each operand's ``grad``
    (``None`` in a slot that received nothing), or ``None`` when the node was skipped.

    ``order``: the graph's ``topological_order(root)`` if the caller already has it
    (leaves may be included), so the graph is walked once.
    """
    if order is None:
        inner = topological_order(root, leaves=False)
    else:
        inner = [node for node in order if node.operands]
    if hasattr(root, "local_grads"):  # scalar nodes (Value)
        for node in inner:
            node.grad = 0.0
        root.grad += seed
        if record is None:
            _pass_scalars(inner)
        else:
            _pass_scalars_recorded(inner, record)
    else:  # array nodes (Tensor)
        for node in inner:
            node.grad = None
        root.grad = seed if root.grad is None else root.grad + seed
        if record is None:
            _pass_arrays(inner)
        else:
            _pass_arrays_recorded(inner, record)


# Two versions of each loop, so that not recording costs nothing per node.

def _pass_scalars(inner: List[Any]) -> None:
    for node in reversed(inner):
        upstream = node.grad
        if upstream == 0.0:
            continue
        for operand, local in zip(node.operands, node.local_grads):
            operand.grad += local * upstream


def _pass_scalars_recorded(inner: List[Any], record: Recorder) -> None:
    for node in reversed(inner):
        upstream = node.grad
        if upstream == 0.0:
            record(node, upstream, None)
            continue
        contributions = tuple([local * upstream for local in node.local_grads])
        for operand, contribution in zip(node.operands, contributions):
            operand.grad += contribution
        record(node, upstream, contributions)


def _pass_arrays(inner: List[Any]) -> None:
    for node in reversed(inner):
        upstream = node.grad
        if upstream is None:
            continue
        operands = node.operands
        for operand, g in zip(operands, node.backward_fn(upstream, node.ctx, operands)):
            _add_array(operand, g, upstream)


def _pass_arrays_recorded(inner: List[Any], record: Recorder) -> None:
    for node in reversed(inner):
        upstream = node.grad
        if upstream is None:
            record(node, upstream, None)
            continue
        operands = node.operands
        grads = node.backward_fn(upstream, node.ctx, operands)
        record(node, upstream, tuple([_add_array(operand, g, upstream)
                                      for operand, g in zip(operands, grads)]))


def _add_array(operand: Any, g: Any, upstream: Any) -> Any:
    """``operand.grad += g`` for arrays; return what was added (``None``: nothing)."""
    if g is None or not operand.requires_grad:
        return None
    if operand.grad is None:
        # A leaf gets an array of its own: not a read-only broadcast view, not the
        # upstream array that a pass-through op (+) handed on.
        if not operand.operands and (
                g is upstream or (g.base is not None and not g.flags.writeable)):
            g = g.copy()
        operand.grad = g
    else:
        operand.grad = operand.grad + g
    return g
