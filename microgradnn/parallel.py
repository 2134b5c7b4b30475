"""Data-parallel training steps on several CPU cores, with processes and shared memory.

numpy runs one small GEMM per sample on one core, and Python threads would pass the
interpreter lock back and forth between the many short numpy calls of a step. So a step
is split by samples instead: ``DataParallelStep(model, loss_fn, workers=2)`` forks
``workers - 1`` processes that hold a copy of the model whose weights live in the same
shared memory as the parent's. A step sends each worker its share of the batch, computes
the first share in the parent meanwhile, and adds the shares' gradients, each weighted by
its share of the samples:

    dC/dw = sum over shares s of (n_s / n) * dC_s/dw      (C = mean loss over the batch)

which is the gradient of the whole batch (to float rounding). The optimizer then updates
the shared weights in place, and every worker sees the new weights at its next step.

Limits, refused in one line: the fork start method is needed (Linux, macOS); a model with
batch normalization cannot be split (a share's batch statistics are not the batch's);
the loss must be a mean over the samples (``cross_entropy``, ``sigmoid_mse_loss``).
Dropout draws its masks from a separate stream in each worker.
"""

from __future__ import annotations

import mmap
import multiprocessing
import weakref
from typing import Any, Callable, List, Optional, Tuple

import numpy as np

__all__ = ["DataParallelStep", "MAX_WORKERS"]

MAX_WORKERS = 64


def _check_model(model: Any) -> List[Any]:
    from .tensor.norm import _BatchNorm

    for name, module in model.named_modules():
        if isinstance(module, _BatchNorm):
            raise ValueError(f"DataParallelStep: the model's {type(module).__name__} "
                             f"({name or 'the model'}) normalizes with the batch's statistics, "
                             f"which a share of the batch would change; train it with workers=1")
    params = list(model.parameters())
    for p in params:
        if not isinstance(getattr(p, "data", None), np.ndarray):
            raise TypeError("DataParallelStep: expected a model of the vectorized path "
                            f"(Tensor parameters), got a parameter of type {type(p).__name__}")
    return params


class DataParallelStep:
    """``step(inputs, targets)`` -> (mean loss, outputs): forward, loss and backward of one
    batch split over ``workers`` processes, the gradients left in each parameter's ``grad``
    (replacing what was there), ready for ``optimizer.step()``.

    ``prepare(inputs_share)`` turns a share of ``inputs`` (any array, split along its first
    axis) into the model's input Tensor; ``loss_fn(outputs, targets_share)`` must return the
    mean loss over the share. ``outputs`` is the (n, ...) array of the model's outputs.
    Call ``close()`` (or use ``with``) to stop the workers; the parameters then get private
    copies of their weights again.
    """

    def __init__(self, model: Any, loss_fn: Callable[[Any, np.ndarray], Any],
                 workers: int = 2, prepare: Optional[Callable[[np.ndarray], Any]] = None) -> None:
        if isinstance(workers, bool) or not isinstance(workers, (int, np.integer)) \
                or not 1 <= workers <= MAX_WORKERS:
            raise ValueError(f"DataParallelStep: workers must be an integer in 1..{MAX_WORKERS}, "
                             f"got {workers!r}")
        if workers > 1 and "fork" not in multiprocessing.get_all_start_methods():
            raise ValueError("DataParallelStep: workers > 1 needs the 'fork' start method "
                             "(Linux, macOS), which this platform lacks; use workers=1")
        self.model, self.loss_fn, self.workers = model, loss_fn, int(workers)
        self.prepare = prepare if prepare is not None else (lambda a: a)
        self.params = _check_model(model)
        self._conns: List[Any] = []
        self._procs: List[Any] = []
        self._shared: List[np.ndarray] = []
        self._grads: List[List[np.ndarray]] = []
        if self.workers > 1:
            self._start()
        self._finalizer = weakref.finalize(self, _stop, self._conns, self._procs)

    # -- set-up --

    def _start(self) -> None:
        sizes = [p.data.size * p.data.itemsize for p in self.params]
        # each region 64-byte aligned: weights, then one gradient copy per worker
        offsets, total = [], 0
        for size in sizes:
            offsets.append(total)
            total += -(-size // 64) * 64
        buf = mmap.mmap(-1, max(total, 1) * self.workers)  # anonymous: shared across fork

        def view(region: int, p: Any, offset: int) -> np.ndarray:
            return np.frombuffer(buf, dtype=p.data.dtype, count=p.data.size,
                                 offset=region * total + offset).reshape(p.data.shape)

        for p, offset in zip(self.params, offsets):
            shared = view(0, p, offset)
            shared[...] = p.data
            p.data = shared
            self._shared.append(shared)
        self._grads = [[view(w, p, o) for p, o in zip(self.params, offsets)]
                       for w in range(1, self.workers)]
        ctx = multiprocessing.get_context("fork")
        for w in range(1, self.workers):
            parent, child = ctx.Pipe()
            proc = ctx.Process(target=self._serve, args=(child, w), daemon=True,
                               name=f"microgradnn-worker-{w}")
            proc.start()
            child.close()
            self._conns.append(parent)
            self._procs.append(proc)

    def _serve(self, conn: Any, worker: int) -> None:
        """A worker's loop (in the forked process): a share in, its gradients out."""
        for module in self.model.modules():  # its own dropout stream
            rng = getattr(module, "_rng", None)
            if isinstance(rng, np.random.Generator):
                module._rng = np.random.default_rng([worker, int(rng.integers(2 ** 62))])
        grads = self._grads[worker - 1]
        while True:
            try:
                message = conn.recv()
            except (EOFError, OSError, KeyboardInterrupt):
                return
            if message is None:
                return
            try:
                with np.errstate(over="ignore", invalid="ignore"):  # the parent reports it
                    loss, outputs, had = self._share(*message)
                for g, p in zip(grads, self.params):
                    if p.grad is not None:
                        g[...] = p.grad
                conn.send(("ok", loss, outputs, had))
            except Exception as err:  # reported by the parent, which raises it
                conn.send(("error", f"{type(err).__name__}: {err}", None, None))

    def _share(self, inputs: np.ndarray, targets: np.ndarray, mode: bool
               ) -> Tuple[float, np.ndarray, List[bool]]:
        self.model.train(mode)
        for p in self.params:
            p.grad = None
        outputs = self.model(self.prepare(inputs))
        loss = self.loss_fn(outputs, targets)
        loss.backward()
        return float(loss.item()), np.asarray(outputs.data), [p.grad is not None
                                                                for p in self.params]

    # -- a step --

    def __call__(self, inputs: np.ndarray, targets: np.ndarray) -> Tuple[float, np.ndarray]:
        n = len(targets)
        if len(inputs) != n or n == 0:
            raise ValueError(f"DataParallelStep: {len(inputs)} inputs for {n} targets "
                             f"(need the same number, at least one)")
        if self.workers == 1 or n == 1:
            for p in self.params:
                p.grad = None
            loss, outputs, _ = self._share(inputs, targets, self.model.training)
            return loss, outputs
        if not self._procs:
            raise RuntimeError("DataParallelStep: closed")
        for i, p in enumerate(self.params):  # weights loaded or replaced since: share them again
            if p.data is not self._shared[i]:
                self._shared[i][...] = p.data
                p.data = self._shared[i]
        cuts = np.linspace(0, n, min(self.workers, n) + 1).round().astype(int)
        busy = []
        for w, conn in enumerate(self._conns, 1):
            if w < len(cuts) - 1:
                a, b = cuts[w], cuts[w + 1]
                conn.send((inputs[a:b], targets[a:b], self.model.training))
                busy.append((w, conn, b - a))
        first = int(cuts[1])
        try:
            loss, head, _ = self._share(inputs[:first], targets[:first], self.model.training)
        finally:  # always collect the workers' answers, so the next step starts clean
            answers = [(w, count, self._receive(w, conn)) for w, conn, count in busy]
        total = loss * first
        outputs = [head]
        for p in self.params:
            if p.grad is not None:
                p.grad *= first / n
        for w, count, (w_loss, w_out, had) in answers:
            total += w_loss * count
            outputs.append(w_out)
            for p, g, got in zip(self.params, self._grads[w - 1], had):
                if not got:
                    continue
                if p.grad is None:
                    p.grad = g * (count / n)
                else:
                    p.grad += g * (count / n)
        return total / n, np.concatenate(outputs)

    def _receive(self, worker: int, conn: Any) -> Tuple[float, np.ndarray, List[bool]]:
        try:
            status, loss, outputs, had = conn.recv()
        except (EOFError, OSError):
            raise RuntimeError(f"DataParallelStep: worker {worker} stopped (exit code "
                               f"{self._procs[worker - 1].exitcode})") from None
        if status != "ok":
            raise RuntimeError(f"DataParallelStep: worker {worker} failed: {loss}")
        return loss, outputs, had

    # -- the end --

    def close(self) -> None:
        """Stop the workers and give the parameters private copies of their weights."""
        self._finalizer()
        for i, p in enumerate(self.params):
            if i < len(self._shared) and p.data is self._shared[i]:
                p.data = self._shared[i].copy()
        self._shared, self._grads = [], []

    def __enter__(self) -> "DataParallelStep":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def _stop(conns: List[Any], procs: List[Any]) -> None:
    for conn in conns:
        try:
            conn.send(None)
            conn.close()
        except (OSError, ValueError):
            pass
    for proc in procs:
        proc.join(timeout=5)
        if proc.is_alive():
            proc.terminate()
            proc.join(timeout=5)
    conns.clear()
    procs.clear()
