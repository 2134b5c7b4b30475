"""The weight gradient of a convolution: one class per algorithm of ``algorithms.WEIGHT_GRADS``.

    dW[o, c, i, j] = sum over (n, oy, ox) of dZ[n, o, oy, ox] * Xpad[n, c, oy*sh + i, ox*sw + j]
    db[o]          = sum over (n, oy, ox) of dZ[n, o, oy, ox]

Both come out as one (O, C*kh*kw [+1]) array, the bias's gradient in the last column (the
GEMM's ones row). ``chunk`` sees the output gradient ``gk`` (k, O, run) of samples a..a+k
while the backward loop runs; ``result`` gives the sum, from the whole batch's gradient
``g3`` (N, O, run) when ``holds_batch`` (the loop then keeps all of it).
"""

from __future__ import annotations

from typing import Dict

import numpy as np

from .plan import Plan

__all__ = ["BY_NAME"]


class Columns:
    """One small GEMM per sample, columns (rows [+1], run) @ dZ^T (run, O), summed over the
    samples. columns @ dZ^T rather than dZ @ columns^T: the same numbers, and OpenBLAS runs
    it faster for O < rows (benchmarks/RESULTS.md). Wide layouts rebuild the columns from
    ``src`` (the padded input) chunk by chunk; ``src`` of the compact one is its columns."""

    holds_batch = False

    def __init__(self, plan: Plan, src: np.ndarray, m: int) -> None:
        if plan.wide:
            self.fill = plan.columns(src, m)[0]
        else:
            self.fill = lambda a, k: src[a:a + k]
        self.per_sample = np.empty((plan.n, plan.rows + plan.bias, plan.o), dtype=plan.dtype)

    def chunk(self, gk: np.ndarray, a: int, k: int) -> None:
        np.matmul(self.fill(a, k), gk.transpose(0, 2, 1), out=self.per_sample[a:a + k])

    def result(self, g3: np.ndarray) -> np.ndarray:
        return np.add.reduce(self.per_sample, axis=0).T


class ShiftedViews:
    """Wide layouts: for each kernel offset (i, j), one batched GEMM of the whole batch's
    output gradient with the input that offset reads (a view of ``src``, the flattened
    padded input: ``plan.at_offset``), after the loop; no columns."""

    holds_batch = True

    def __init__(self, plan: Plan, src: np.ndarray, m: int) -> None:
        self.plan, self.src = plan, src

    def chunk(self, gk: np.ndarray, a: int, k: int) -> None:
        pass  # all at the end, from the whole batch's gradient

    def result(self, g3: np.ndarray) -> np.ndarray:
        p = self.plan
        o, c, kh, kw = p.o, p.c, p.kh, p.kw
        per = np.empty((kh * kw, p.n, o, c), dtype=p.dtype)
        for i in range(kh):
            for j in range(kw):
                # (N, run, C): the input pixel each position reads at offset (i, j)
                shifted = p.at_offset(self.src, i, j).transpose(0, 2, 1)
                np.matmul(g3, shifted, out=per[i * kw + j])
        full = np.empty((o, p.rows + p.bias), dtype=p.dtype)
        full[:, :p.rows].reshape(o, c, kh * kw)[...] = \
            np.add.reduce(per, axis=1).transpose(1, 2, 0)
        if p.bias:
            full[:, p.rows] = np.einsum("nor->o", g3)
        return full


# The layouts' algorithms by name (``algorithms.WEIGHT_GRADS`` says which runs where; the
# 1x1 "pointwise" one is ``dZ @ X^T`` summed, in ``backward.pointwise_backward``).
BY_NAME: Dict[str, type] = {"shifted_views": ShiftedViews, "columns": Columns}
