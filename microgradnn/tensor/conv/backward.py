"""The backward pass of a convolution: the output gradient in chunks, into both gradients.

``backward`` writes the output gradient dZ of a chunk of samples into the GEMM layout (with
relu's mask, or sent to each pool window's winner first), then hands the chunk to the
chosen weight-gradient algorithm (``weight_grad.py``) and input-gradient algorithm
(``input_grad.py``). The 1x1 convolution needs no layout: ``pointwise_backward``.
"""

from __future__ import annotations

from typing import Optional, Tuple

import numpy as np

from ..windows import chunk, scratch
from . import input_grad, weight_grad
from .input_grad import grad_buffer
from .plan import Plan

__all__ = ["backward", "pointwise_backward"]

Grads = Tuple[Optional[np.ndarray], Optional[np.ndarray]]


def backward(plan: Plan, g: np.ndarray, mask: Optional[np.ndarray], src: np.ndarray,
             weight: np.ndarray, want_w: bool, want_x: bool,
             pooled: Optional[np.ndarray] = None, winner: Optional[tuple] = None) -> Grads:
    """-> (weight gradient (O, rows [+1]) or None, input gradient (N, C, H, W) or None).

    ``g`` is the gradient of the output, ``mask`` relu's "output > 0" in the GEMM layout;
    with a pool inside, ``g`` is the gradient of the pooled output ``pooled``, sent to each
    window's winner (relu's mask there is "pooled > 0"). ``src`` is what the forward kept:
    the flattened padded input (wide layouts) or the columns (compact).
    """
    n = plan.n
    x_alg = input_grad.BY_NAME[plan.input_grad] if want_x else None
    w_alg = weight_grad.BY_NAME[plan.weight_grad] if want_w else None
    m, held = _chunks(plan, x_alg, w_alg, pooled is not None)
    gbuf, g3, whole = (x_alg.buffer if x_alg else grad_buffer)(plan, held)
    w_job = w_alg(plan, src, m) if w_alg else None
    x_job = x_alg(plan, weight, m, whole) if x_alg else None
    if pooled is not None:
        _pool_backward(plan, g, pooled, winner, g3)
    for a in range(0, n, m):
        k = min(m, n - a)
        b = a if held == n else 0  # where this chunk's output gradient is in the buffer
        gk = g3[b:b + k]
        if pooled is None:
            gk = _output_grad(plan, g, mask, gbuf, gk, a, k, b)
        if w_job:
            w_job.chunk(gk, a, k)
        if x_job:
            x_job.chunk(gk, a, k, b)
    return (w_job.result(g3[:n]) if w_job else None), (x_job.gx if x_job else None)


def _chunks(plan: Plan, x_alg: Optional[type], w_alg: Optional[type],
            pooled: bool) -> Tuple[int, int]:
    """-> (samples per chunk, samples whose output gradient the buffer holds: all of them
    for a weight gradient that needs the whole batch, and for a pool's backward, run over
    groups of samples before the loop)."""
    columns = w_alg is not None and not w_alg.holds_batch
    work = plan.o * plan.run + (plan.rows + 1) * plan.run * columns \
        + (x_alg.work(plan) if x_alg else 0)
    # (the phase planes' small GEMMs and additions pay per call: chunks 16x larger)
    m = chunk(plan.n, work, np.dtype(plan.dtype).itemsize, 16 if plan.phases > 1 else 1)
    if not plan.wide and not pooled:
        m = max(1, plan.n)  # the compact columns are kept whole: one batched GEMM each way
    held = plan.n if (w_alg is not None and w_alg.holds_batch) or pooled else m
    return m, held


def _output_grad(plan: Plan, g: np.ndarray, mask: Optional[np.ndarray], gbuf: np.ndarray,
                 gk: np.ndarray, a: int, k: int, b: int) -> np.ndarray:
    """The output gradient of samples a..a+k in the GEMM layout (at rows b..b+k of the
    buffer ``gbuf``, whose view ``gk`` is), times relu's mask if any."""
    if plan.wide:
        gbuf[b:b + k, :, :, :plan.ow] = g[a:a + k]
        if mask is not None:  # on the wide grid: this product runs on whole rows
            np.multiply(gk, mask[a:a + k], out=gk)
        return gk
    if mask is not None:
        np.multiply(g[a:a + k].reshape(k, plan.o, plan.run), mask[a:a + k], out=gk)
        return gk
    return g[a:a + k].reshape(k, plan.o, plan.run)


def _pool_backward(plan: Plan, g: np.ndarray, pooled: np.ndarray, winner: tuple,
                   g3: np.ndarray) -> None:
    """Each pool window's gradient ``g`` to its winner in the output gradient ``g3`` of the
    whole batch, masked by relu's mask there, "pooled > 0"."""
    n, o, dt = plan.n, plan.o, plan.dtype
    group = plan.pool_group()
    pool = plan.pooler(group, True)
    alive = scratch("alive", (group, o, plan.poh, plan.pow), bool)
    gwin = scratch("gwin", (group, o, plan.poh, plan.pow), dt)
    for a in range(0, n, group):
        kp = min(group, n - a)
        np.greater(pooled[a:a + kp], 0, out=alive[:kp])
        np.multiply(g[a:a + kp], alive[:kp], out=gwin[:kp])
        gk = g3[a:a + kp]
        if not plan.pool_tiles:
            gk[...] = 0
        pool.backward(gwin[:kp], winner, plan.grid(gk, kp), a, kp)


def pointwise_backward(g: np.ndarray, mask: Optional[np.ndarray], cols: np.ndarray,
                       weight: np.ndarray, want_w: bool, want_x: bool,
                       bias: bool) -> Tuple[Optional[np.ndarray], ...]:
    """A 1x1 convolution (stride 1, no padding), whose columns ``cols`` (N, C, H*W) are its
    input: -> (input gradient W^T @ dZ, weight gradient, bias gradient), None where not
    wanted."""
    o, c = weight.shape[:2]
    n = g.shape[0]
    g3 = g.reshape(n, o, -1)
    if mask is not None:
        g3 = g3 * mask
    gx = gw = gb = None
    if want_w:
        # (C, HW) x (HW, O) per sample, then transposed: OpenBLAS is faster this way round
        gw = np.add.reduce(np.matmul(cols, g3.transpose(0, 2, 1)), axis=0).T.reshape(
            weight.shape)
        if bias:
            gb = g3.sum(axis=2).sum(axis=0)
    if want_x:
        gx = np.matmul(weight.reshape(o, c).T, g3).reshape(n, c, -1)
    return gx, gw, gb
