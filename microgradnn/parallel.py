"""Data-parallel training steps on several CPU cores, with processes and shared memory.

numpy runs one small GEMM per sample on one core, and Python threads would pass the
interpreter lock back and forth between the many short numpy calls of a step. So a step
is split by samples instead: ``DataParallelStep(model, loss_fn, workers=2)`` forks
``workers - 1`` processes that hold a copy of the model whose weights live in the same
shared memory as the parent's. A step sends each worker its share of the batch, computes
the first share in the parent meanwhile, and adds the shares' gradients, each weighted by
its share of the samples:

    dC/dw = sum over shares s of (n_s / n) * dC_s/dw      (C = mean loss over the batch)

which is the gradient of the whole batch (to float rounding). The factor n_s / n is the
backward pass's seed: each process backpropagates its share's mean loss times n_s / n, so
the gradients simply add up. The optimizer then updates the shared weights in place, and
every worker sees the new weights at its next step.

Batch normalization sees the whole batch, as PyTorch's ``SyncBatchNorm`` does: each
``BatchNorm`` layer adds its per-channel sums (count, sum of x and of x^2, each share's
squares taken about its own mean, in the forward pass; sum of g and of g * (x - mean) in the
backward) over the processes through shared memory and a barrier (``_Barrier``), so its
statistics, running averages and input gradient are the whole batch's.

The model takes part through public hooks only: a layer with ``set_sync(fn)`` and
``sync_sizes()`` (the batch norm layers) gets its sums added over the processes, and a
module with ``reseed(stream)`` (``Dropout``) draws its masks from a separate stream in
each worker.

No worker outlives its parent or makes it wait forever: a worker holds only its own end of
its pipe (it sees the parent go as the end of the pipe), asks Linux to kill it when the
parent dies (``PR_SET_PDEATHSIG``), and the parent waits for an answer at most ``timeout``
seconds (a worker stopped with SIGSTOP, or swapped out), then kills the workers and fails
the step with ``WorkerError`` naming the worker.

Limits, refused in one line: the fork start method is needed (Linux, macOS); the loss must
be a mean over the samples (``cross_entropy``, ``sigmoid_mse_loss``). A batch with fewer
samples than workers runs in the parent alone.
"""

from __future__ import annotations

import ctypes
import functools
import mmap
import multiprocessing
import os
import signal
import sys
import threading
import time
import weakref
from typing import Any, Callable, List, Optional, Tuple

import numpy as np

from .blas import get_blas_threads, set_blas_threads

__all__ = ["DataParallelStep", "WorkerError", "MAX_WORKERS", "TIMEOUT_SECONDS"]

MAX_WORKERS = 64

# How long a process waits for the others (a worker's answer, a batch norm layer's sums)
# before it fails the step: far longer than any step, short enough to see a hang end.
TIMEOUT_SECONDS = 120.0
# How long it polls there before it sleeps, when every process has a core of its own
SPIN_SECONDS = 0.002
# How often a sleeping process looks whether those it waits for are still running
CHECK_SECONDS = 0.2


class _Barrier:
    """A reusable barrier of ``parties`` processes made of one counting semaphore each.

    Arriving, a process posts once to every other's semaphore, then takes ``parties - 1``
    posts from its own, polling for ``SPIN_SECONDS`` before it sleeps (when there are no
    more processes than cores): the others usually arrive within that time, and a process
    put to sleep wakes up late, so this waits less than ``multiprocessing.Barrier``
    (benchmarks/RESULTS.md, "Figures moved out of the code"). A process that has gone
    on to the next round posts early, but it got there only because every process had
    arrived at this one, so taking its post here lets nobody through too soon.
    """

    def __init__(self, parties: int, ctx: Any) -> None:
        self.parties = parties
        self._sems = [ctx.Semaphore(0) for _ in range(parties)]
        self._broken = ctx.RawValue("b", 0)
        self._spin = SPIN_SECONDS if parties <= _cores() else 0.0

    @property
    def broken(self) -> bool:
        return bool(self._broken.value)

    def wait(self, rank: int, timeout: float,
             alive: Optional[Callable[[], bool]] = None) -> None:
        """Return once all ``parties`` processes have called ``wait`` for this round;
        ``BrokenBarrierError`` if the barrier was aborted, ``timeout`` seconds pass, or
        ``alive()`` (asked every ``CHECK_SECONDS`` while asleep) says a process it waits
        for has gone (killed, out of memory: it will never arrive)."""
        if self._broken.value:
            raise threading.BrokenBarrierError
        for other, sem in enumerate(self._sems):
            if other != rank:
                sem.release()
        own = self._sems[rank]
        deadline = time.monotonic() + timeout
        for _ in range(self.parties - 1):
            spin_end = time.perf_counter() + self._spin
            while not own.acquire(block=False):
                if time.perf_counter() > spin_end:
                    self._sleep(own, deadline, alive)
                    break
            if self._broken.value:
                raise threading.BrokenBarrierError

    def _sleep(self, own: Any, deadline: float, alive: Optional[Callable[[], bool]]) -> None:
        """Take one post from ``own``, asleep, looking now and then at the others."""
        while not own.acquire(timeout=max(0.0, min(CHECK_SECONDS,
                                                   deadline - time.monotonic()))):
            if self._broken.value:
                raise threading.BrokenBarrierError
            if time.monotonic() >= deadline or (alive is not None and not alive()):
                self.abort()
                raise threading.BrokenBarrierError

    def abort(self) -> None:
        """Break the barrier: every process waiting, or coming, gets BrokenBarrierError."""
        self._broken.value = 1
        for sem in self._sems:
            for _ in range(self.parties):
                sem.release()

    def reset(self) -> None:
        """Mend a broken barrier; only while no process waits at it."""
        for sem in self._sems:
            while sem.acquire(block=False):
                pass
        self._broken.value = 0


def _cores() -> int:
    """The cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


class WorkerError(RuntimeError):
    """A worker process failed, died or sent no answer in time; the step cannot finish."""


def _die_with_parent(parent_pid: int) -> None:
    """In a worker: ask Linux to kill this process when its parent dies; exit now if the
    parent has already gone (it may have died before the request)."""
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG = 1 (linux/prctl.h)
        except (OSError, AttributeError):
            pass  # the closed pipe still ends the worker
    if os.getppid() != parent_pid:
        os._exit(0)


def _check_model(model: Any) -> List[Any]:
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
    copies of their weights again. A worker that sends no answer within ``timeout`` seconds
    (``TIMEOUT_SECONDS`` if None) fails the step with ``WorkerError``, and the workers are
    stopped.
    """

    def __init__(self, model: Any, loss_fn: Callable[[Any, np.ndarray], Any],
                 workers: int = 2, prepare: Optional[Callable[[np.ndarray], Any]] = None,
                 timeout: Optional[float] = None) -> None:
        if isinstance(workers, bool) or not isinstance(workers, (int, np.integer)) \
                or not 1 <= workers <= MAX_WORKERS:
            raise ValueError(f"DataParallelStep: workers must be an integer in 1..{MAX_WORKERS}, "
                             f"got {workers!r}")
        if workers > 1 and "fork" not in multiprocessing.get_all_start_methods():
            raise ValueError("DataParallelStep: workers > 1 needs the 'fork' start method "
                             "(Linux, macOS), which this platform lacks; use workers=1")
        timeout = TIMEOUT_SECONDS if timeout is None else timeout
        if isinstance(timeout, bool) or not (isinstance(timeout, (int, float))
                                             and 0 < timeout < float("inf")):
            raise ValueError(f"DataParallelStep: timeout must be a positive number of seconds, "
                             f"got {timeout!r}")
        self.model, self.loss_fn, self.workers = model, loss_fn, int(workers)
        self.timeout = float(timeout)
        self.prepare = prepare if prepare is not None else (lambda a: a)
        self.params = _check_model(model)
        # the layers that take part in the batch-sync protocol (``BatchNorm*.set_sync``)
        self._norms = [m for m in model.modules() if callable(getattr(m, "set_sync", None))]
        self._rank = 0  # 0 in the parent, k in worker k
        self._killed = False  # the workers were killed after one sent no answer in time
        self._parent_pid = os.getpid()
        self._barrier: Any = None
        self._conns: List[Any] = []
        self._procs: List[Any] = []
        self._shared: List[np.ndarray] = []
        self._grads: List[List[np.ndarray]] = []
        self._blas_threads: Optional[int] = None
        if self.workers > 1:
            # one BLAS thread per process: idle OpenBLAS threads spin and would take the
            # cores the processes need (microgradnn.blas); put back by close()
            self._blas_threads = get_blas_threads()
            set_blas_threads(1)
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
        if self._norms:
            # one row per process of every batch norm layer's sums, forward and backward
            self._slots, width = {}, 0
            for layer, norm in enumerate(self._norms):
                for phase, length in norm.sync_sizes().items():
                    self._slots[(layer, phase)] = (width, int(length))
                    width += length
            sums = mmap.mmap(-1, self.workers * width * 8)
            self._sums = np.frombuffer(sums, dtype=np.float64).reshape(self.workers, width)
            self._barrier = _Barrier(self.workers, ctx)
        for w in range(1, self.workers):
            parent, child = ctx.Pipe()
            proc = ctx.Process(target=self._serve, args=(child, w, parent), daemon=True,
                               name=f"microgradnn-worker-{w}")
            proc.start()
            child.close()
            self._conns.append(parent)
            self._procs.append(proc)

    def _exchange(self, layer: int, phase: str, local: np.ndarray) -> np.ndarray:
        """``local`` sums of one batch norm layer, added over every process's share."""
        offset, length = self._slots[(layer, phase)]
        rows = self._sums[:, offset:offset + length]
        rows[self._rank] = local
        try:
            self._barrier.wait(self._rank, self.timeout, self._others_alive)
        except threading.BrokenBarrierError:
            raise WorkerError("DataParallelStep: another process stopped in the middle of "
                              "the step") from None
        return rows.sum(axis=0)

    def _others_alive(self) -> bool:
        """Whether the processes this one may wait for still run: the parent looks at its
        workers (a worker that died waits for nobody, and the parent then breaks the
        barrier for the rest), a worker at its parent."""
        if self._rank == 0:
            return all(proc.is_alive() for proc in self._procs)
        return os.getppid() == self._parent_pid

    def _synced(self, on: bool) -> None:
        for layer, norm in enumerate(self._norms):
            norm.set_sync(functools.partial(self._exchange, layer) if on else None)

    def _serve(self, conn: Any, worker: int, parent_end: Any) -> None:
        """A worker's loop (in the forked process): a share in, its gradients out."""
        # Ctrl-C is the parent's to handle: it stops the workers by closing their pipes
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        # Only the parent's ends of the pipes may stay open there, so that the parent's death
        # closes this worker's pipe (recv() then ends with EOFError)
        for end in [parent_end] + self._conns:
            end.close()
        _die_with_parent(self._parent_pid)
        self._rank = worker
        for module in self.model.modules():  # its own dropout stream
            reseed = getattr(module, "reseed", None)
            if callable(reseed):
                reseed(worker)
        self._synced(True)
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
                reply = ("ok", loss, outputs, had)
            except Exception as err:  # reported by the parent, which raises it
                if self._barrier is not None:
                    self._barrier.abort()  # nobody waits for this process at a barrier
                reply = ("error", f"{type(err).__name__}: {err}", None, None)
            try:
                conn.send(reply)
            except OSError:  # the parent has gone or closed the pipe: stop quietly
                return

    def _share(self, inputs: np.ndarray, targets: np.ndarray, mode: bool, part: float
               ) -> Tuple[float, np.ndarray, List[bool]]:
        """Forward, loss and backward of one share, ``part`` (n_s / n) of the batch: the
        gradients are those of part * (the share's mean loss), which add up to the batch's."""
        self.model.train(mode)
        for p in self.params:
            p.grad = None
        outputs = self.model(self.prepare(inputs))
        loss = self.loss_fn(outputs, targets)
        loss.backward(np.full(loss.data.shape, part, dtype=loss.data.dtype))
        return float(loss.item()), np.asarray(outputs.data), [p.grad is not None
                                                                for p in self.params]

    # -- a step --

    def __call__(self, inputs: np.ndarray, targets: np.ndarray) -> Tuple[float, np.ndarray]:
        n = len(targets)
        if len(inputs) != n or n == 0:
            raise ValueError(f"DataParallelStep: {len(inputs)} inputs for {n} targets "
                             f"(need the same number, at least one)")
        if self.workers == 1 or n < self.workers:
            loss, outputs, _ = self._share(inputs, targets, self.model.training, 1.0)
            return loss, outputs
        if not self._procs or self._killed:
            raise WorkerError("DataParallelStep: closed (its workers were stopped)")
        for i, p in enumerate(self.params):  # weights loaded or replaced since: share them again
            if p.data is not self._shared[i]:
                self._shared[i][...] = p.data
                p.data = self._shared[i]
        if self._barrier is not None and self._barrier.broken:
            self._barrier.reset()  # after a failed step (every worker is idle now)
        cuts = np.linspace(0, n, self.workers + 1).round().astype(int)
        for w, conn in enumerate(self._conns, 1):
            a, b = cuts[w], cuts[w + 1]
            try:
                conn.send((inputs[a:b], targets[a:b], self.model.training, (b - a) / n))
            except OSError:  # it died since the last step: nothing of this step has started
                self._kill()
                raise self._died(w) from None
        first = int(cuts[1])
        self._synced(True)
        failure: Optional[BaseException] = None
        try:
            loss, head, _ = self._share(inputs[:first], targets[:first], self.model.training,
                                        first / n)
        except BaseException as err:
            if self._barrier is not None:
                try:
                    self._barrier.abort()  # the workers must not wait for this process
                except Exception:  # a Ctrl-C inside the barrier's own lock; close() ends them
                    pass
            failure = err
        self._synced(False)
        # every worker's answer, so that the next step starts clean; a worker's own error
        # explains a barrier the parent saw broken
        replies = [self._receive(w, conn) for w, conn in enumerate(self._conns, 1)]
        errors = [reply for reply in replies if isinstance(reply, Exception)]
        if failure is not None and (not errors or not isinstance(failure, Exception)):
            raise failure
        if errors:
            raise errors[0]
        total = loss * first
        outputs = [head]
        for w, (w_loss, w_out, had) in enumerate(replies, 1):
            count = int(cuts[w + 1] - cuts[w])
            total += w_loss * count
            outputs.append(w_out)
            for p, g, got in zip(self.params, self._grads[w - 1], had):
                if not got:
                    continue
                if p.grad is None:
                    p.grad = g.copy()
                else:
                    p.grad += g
        return total / n, np.concatenate(outputs)

    def _receive(self, worker: int, conn: Any) -> Any:
        """Worker ``worker``'s answer: (loss, outputs, which parameters got a gradient), or
        the WorkerError to raise once every worker has answered. A worker that sends
        nothing within ``timeout`` seconds is killed with the others (its answer could come
        later, out of turn): this object is closed then."""
        proc = self._procs[worker - 1]
        deadline = time.monotonic() + self.timeout
        try:
            while not conn.poll(min(CHECK_SECONDS * 5, max(0.0, deadline - time.monotonic()))):
                if not proc.is_alive():
                    break  # recv() below reads what it sent before dying, or EOF
                if time.monotonic() >= deadline:
                    self._kill()
                    return WorkerError(f"DataParallelStep: worker {worker} (pid {proc.pid}) "
                                       f"sent no answer within {self.timeout:g} s (stopped or "
                                       f"stuck); the workers were stopped")
            status, loss, outputs, had = conn.recv()
        except (EOFError, OSError):
            return self._died(worker)
        if status != "ok":
            return WorkerError(f"DataParallelStep: worker {worker} failed: {loss}")
        return loss, outputs, had

    def _died(self, worker: int) -> WorkerError:
        proc = self._procs[worker - 1]
        proc.join(timeout=1)
        return WorkerError(f"DataParallelStep: worker {worker} (pid {proc.pid}) stopped "
                           f"(exit code {proc.exitcode})")

    def _kill(self) -> None:
        """Kill every worker now (SIGKILL works on a stopped process too)."""
        self._killed = True
        for proc in self._procs:
            if proc.is_alive():
                proc.kill()
        for proc in self._procs:
            proc.join(timeout=5)

    @property
    def worker_pids(self) -> List[int]:
        """The process ids of the workers (none once closed, or with ``workers=1``)."""
        return [proc.pid for proc in self._procs]

    # -- the end --

    def close(self) -> None:
        """Stop the workers and give the parameters private copies of their weights."""
        self._finalizer()
        if self._blas_threads is not None:
            set_blas_threads(self._blas_threads)
            self._blas_threads = None
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
