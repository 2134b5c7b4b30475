"""The forward pass of a convolution: columns times weights, chunk by chunk.

``conv_forward`` picks the algorithms (``algorithms.choices``), lays out the input
(``plan.Plan``) and runs the GEMMs over the batch in chunks whose columns fit the cache,
with relu, and a max pool, taken while each chunk is in cache.
"""

from __future__ import annotations

from typing import Any, Optional, Tuple

import numpy as np

from ..windows import Pair, chunk, scratch, zeros_like
from .algorithms import Geometry, choices
from .plan import Plan

__all__ = ["conv_forward"]


def conv_forward(X: np.ndarray, W: np.ndarray, B: Optional[np.ndarray], stride: Pair,
                 padding: Pair, relu: bool = False, keep_mask: bool = False,
                 pool: Optional[Tuple[Pair, Pair]] = None) -> Tuple[np.ndarray, Any, Any]:
    """-> (output (N, O, OH, OW), context for backward, relu mask or None).

    With ``relu`` the output is max(conv, 0); with ``keep_mask`` also the booleans
    "output > 0" that relu's backward needs (in the GEMM layout). With ``pool`` (kernel,
    stride; relu implied) the output is the max pool of that, and ``keep_mask`` keeps the
    pool's winners instead.
    """
    o, c, kh, kw = W.shape
    n, _, h, w = X.shape
    w2 = W.reshape(o, -1)
    choice = choices(Geometry(c, o, (kh, kw), stride, padding, pool is not None))
    if choice[0] == "pointwise":
        # 1x1: the input itself is the column matrix, nothing to copy.
        cols = X.reshape(n, c, h * w)
        raw = np.matmul(w2, cols)
        if B is not None:
            raw += B[:, None]
        if relu:
            np.maximum(raw, zeros_like(raw), out=raw)
        out = raw.reshape(n, o, h, w)
        return out, ("pointwise", cols), (raw > 0) if keep_mask else None
    if B is not None:
        w2 = np.concatenate([w2, B[:, None]], axis=1)  # the bias rides in the GEMM
    plan = Plan(X.shape, W.shape, stride, padding, B is not None, X.dtype, choice, pool=pool)
    src = plan.source(X)
    # the backward rebuilds wide columns from ``src`` and reads compact ones back
    if pool is not None:
        pooled, winner, kept = forward_pooled(plan, src, w2, keep_mask)
        return pooled, ("pooled", (plan, src if kept is None else kept, winner)), None
    raw, mask, kept = forward(plan, src, w2, relu, keep_mask)
    return plan.output(raw), ("plan", (plan, src if kept is None else kept)), mask


def forward(plan: Plan, src: np.ndarray, w2: np.ndarray, relu: bool, keep_mask: bool):
    """-> (N, O, run): each sample's columns times the (bias-extended) weights, with
    ``relu`` max(., 0) taken chunk by chunk while the chunk is in cache; and with
    ``keep_mask`` the (N, O, run) booleans "output > 0" for relu's backward."""
    n, o, run = plan.n, plan.o, plan.run
    raw = np.empty((n, o, run), dtype=plan.dtype)
    mask = np.empty((n, o, run), dtype=bool) if keep_mask else None
    # (compact columns are kept whole anyway: one chunk, one batched GEMM)
    m = chunk(n, (plan.rows + 1 + o) * run, raw.itemsize) if plan.wide else max(1, n)
    fill, kept = plan.columns(src, m)
    zeros = scratch("zeros", (m, o, run), plan.dtype) if relu else None
    for a in range(0, n, m):
        k = min(m, n - a)
        out = raw[a:a + k]
        np.matmul(w2, fill(a, k), out=out)
        if relu:
            np.maximum(out, zeros[:k], out=out)
        if keep_mask:
            np.greater(out, zeros[:k], out=mask[a:a + k])
    return raw, mask, kept


def forward_pooled(plan: Plan, src: np.ndarray, w2: np.ndarray, keep_winner: bool):
    """-> (N, O, POH, POW) max_pool(relu(conv)), and the pool's winner codes or None.

    The convolution's output is pooled in groups of ``pool_group`` samples while in
    cache and never stored whole. The relu is taken on the pooled numbers: max and relu
    commute (relu(max z) = max relu(z)).
    """
    n, o, run = plan.n, plan.o, plan.run
    pooled = np.empty((n, o, plan.poh, plan.pow), dtype=plan.dtype)
    m = chunk(n, (plan.rows + 1 + 2 * o) * run, pooled.itemsize)
    fill, kept = plan.columns(src, m)
    group = plan.pool_group()
    z = scratch("conv", (group, o, run), plan.dtype)
    pool = plan.pooler(group, keep_winner)
    winners = pool.winners(n)
    zeros = scratch("zeros", (group, o, plan.poh, plan.pow), plan.dtype)
    for a in range(0, n, group):
        kp = min(group, n - a)
        for b in range(a, a + kp, m):  # the GEMMs, in chunks whose columns fit the cache
            k = min(m, a + kp - b)
            np.matmul(w2, fill(b, k), out=z[b - a:b - a + k])
        out = pooled[a:a + kp]
        pool.forward(plan.grid(z[:kp], kp), out, winners, a, kp)
        np.maximum(out, zeros[:kp], out=out)
    return pooled, winners, kept
