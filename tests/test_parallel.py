"""DataParallelStep: the batch's gradients from several processes sharing the weights."""

from __future__ import annotations

import mmap
import os
import signal

import numpy as np
import pytest

from microgradnn.module import Module
from microgradnn.optim import SGD
from microgradnn.parallel import DataParallelStep
from microgradnn.tensor import (BatchNorm1d, BatchNorm2d, Conv2d, Flatten, Linear, MaxPool2d,
                                ReLU, Sequential, Tensor, cross_entropy)
from microgradnn.training import fit

RNG = np.random.default_rng(7)


def small_cnn(dtype=np.float64, seed=0):
    rng = np.random.default_rng(seed)
    return Sequential(Conv2d(1, 3, 3, padding=1, dtype=dtype, rng=rng), ReLU(), MaxPool2d(2),
                      Flatten(), Linear(3 * 4 * 4, 5, dtype=dtype, rng=rng))


def prepare(batch):
    return Tensor(batch, dtype=np.float64)


def batch(n):
    return RNG.standard_normal((n, 1, 8, 8)), RNG.integers(0, 5, n)


def single_process_grads(model, x, y):
    for p in model.parameters():
        p.grad = None
    out = model(prepare(x))
    loss = cross_entropy(out, y)
    loss.backward()
    return float(loss.item()), out.data, [p.grad.copy() for p in model.parameters()]


@pytest.mark.parametrize("workers,n", [(2, 16), (3, 17), (4, 3), (2, 1)])
def test_gradients_loss_and_outputs_are_the_whole_batchs(workers, n):
    model = small_cnn()
    x, y = batch(n)
    loss, out, grads = single_process_grads(model, x, y)
    with DataParallelStep(model, cross_entropy, workers, prepare=prepare) as step:
        for _ in range(2):  # the second step starts from the first's leftovers
            got_loss, got_out = step(x, y)
            assert got_loss == pytest.approx(loss, rel=1e-12)
            np.testing.assert_allclose(got_out, out, rtol=1e-12)
            for p, g in zip(model.parameters(), grads):
                np.testing.assert_allclose(p.grad, g, rtol=1e-10, atol=1e-14)


def test_workers_see_the_optimizers_updates_and_loaded_weights():
    model, twin = small_cnn(), small_cnn()
    opt, twin_opt = SGD(model.parameters(), lr=0.5), SGD(twin.parameters(), lr=0.5)
    with DataParallelStep(model, cross_entropy, 2, prepare=prepare) as step:
        for _ in range(5):
            x, y = batch(12)
            step(x, y)
            opt.step()
            single_process_grads(twin, x, y)
            twin_opt.step()
        for p, q in zip(model.parameters(), twin.parameters()):
            np.testing.assert_allclose(p.data, q.data, rtol=1e-9, atol=1e-12)
        other = small_cnn(seed=3)
        model.load_state_dict(other.state_dict())  # new arrays: shared again at the next step
        x, y = batch(10)
        _, _, grads = single_process_grads(other, x, y)
        step(x, y)
        for p, g in zip(model.parameters(), grads):
            np.testing.assert_allclose(p.grad, g, rtol=1e-10, atol=1e-14)


def in_shared_memory(a):
    while isinstance(a, np.ndarray):
        a = a.base
    return isinstance(a, memoryview) and isinstance(a.obj, mmap.mmap)


def test_close_stops_the_workers_and_unshares_the_weights():
    from microgradnn.blas import get_blas_threads
    model = small_cnn()
    threads = get_blas_threads()
    step = DataParallelStep(model, cross_entropy, 2, prepare=prepare)
    assert get_blas_threads() in (None, 1)  # one BLAS thread per process while it runs
    procs = list(step._procs)
    assert all(in_shared_memory(p.data) for p in model.parameters())
    step(*batch(8))
    step.close()
    assert get_blas_threads() == threads
    assert not any(proc.is_alive() for proc in procs)
    assert not any(in_shared_memory(p.data) for p in model.parameters())
    with pytest.raises(RuntimeError, match="closed"):
        step(*batch(8))


def test_a_workers_error_is_raised_in_the_parent_and_the_next_step_works():
    model = small_cnn()
    x, y = batch(8)
    bad = y.copy()
    bad[-1] = 9  # a class the model does not have, in the worker's share only
    with DataParallelStep(model, cross_entropy, 2, prepare=prepare) as step:
        with pytest.raises(RuntimeError, match=r"worker 1 failed: ValueError: .*9"):
            step(x, bad)
        loss, _ = step(x, y)
        assert loss == pytest.approx(single_process_grads(model, x, y)[0], rel=1e-12)


def test_refusals_are_one_line():
    for workers in (0, 65, 2.0, True):
        with pytest.raises(ValueError, match=r"workers must be an integer in 1\.\.64, got"):
            DataParallelStep(small_cnn(), cross_entropy, workers)
    with DataParallelStep(small_cnn(), cross_entropy, 2, prepare=prepare) as step:
        with pytest.raises(ValueError, match="3 inputs for 2 targets"):
            step(np.zeros((3, 1, 8, 8)), np.zeros(2, dtype=int))


def normed_cnn(seed=0):
    rng = np.random.default_rng(seed)
    return Sequential(Conv2d(1, 3, 3, padding=1, dtype=np.float64, rng=rng),
                      BatchNorm2d(3, dtype=np.float64), ReLU(), MaxPool2d(2), Flatten(),
                      Linear(48, 6, dtype=np.float64, rng=rng), BatchNorm1d(6, dtype=np.float64),
                      ReLU(), Linear(6, 5, dtype=np.float64, rng=rng))


@pytest.mark.parametrize("workers,n", [(2, 16), (3, 7), (4, 4), (3, 2)])
def test_batch_norm_sees_the_whole_batch_like_pytorchs_sync_batch_norm(workers, n):
    # (4, 4): one sample per process, so BatchNorm1d has one value per channel in each
    # share and more than one in the batch; (3, 2): fewer samples than processes
    model, twin = normed_cnn(), normed_cnn()
    opt, twin_opt = SGD(model.parameters(), lr=0.3), SGD(twin.parameters(), lr=0.3)
    with DataParallelStep(model, cross_entropy, workers, prepare=prepare) as step:
        for _ in range(3):
            x, y = batch(n)
            loss, out, grads = single_process_grads(twin, x, y)
            got_loss, got_out = step(x, y)
            assert got_loss == pytest.approx(loss, rel=1e-10)
            np.testing.assert_allclose(got_out, out, rtol=1e-9, atol=1e-12)
            for p, g in zip(model.parameters(), grads):
                np.testing.assert_allclose(p.grad, g, rtol=1e-8, atol=1e-12)
            opt.step()
            twin_opt.step()
    for name, value in twin.state_dict().items():  # running statistics and counters too
        np.testing.assert_allclose(model.state_dict()[name], value, rtol=1e-9, atol=1e-12,
                                   err_msg=name)


def test_a_workers_error_between_batch_norm_barriers_does_not_hang():
    model = normed_cnn()
    x, y = batch(8)
    bad = y.copy()
    bad[-1] = 9  # fails in the worker's loss: after the forward barriers, before the backward
    with DataParallelStep(model, cross_entropy, 2, prepare=prepare) as step:
        with pytest.raises(RuntimeError, match=r"worker 1 failed: ValueError: .*9"):
            step(x, bad)
        loss, _ = step(x, y)  # the barrier was reset
        assert np.isfinite(loss)


class _DiesInWorkers(Module):
    """Passes x on in the process that made it; in a forked worker, kills that worker."""

    def __init__(self) -> None:
        self.home = os.getpid()

    def forward(self, x):
        if os.getpid() != self.home:
            os.kill(os.getpid(), signal.SIGKILL)  # as the kernel's OOM killer would
        return x


def test_a_worker_killed_before_a_batch_norm_barrier_fails_the_step_at_once(monkeypatch):
    import time

    model = normed_cnn()
    model = Sequential(_DiesInWorkers(), *model)
    # without looking at the workers, the parent would wait at the barrier this long
    step = DataParallelStep(model, cross_entropy, 2, prepare=prepare, timeout=60.0)
    start = time.monotonic()
    with pytest.raises(RuntimeError, match=r"worker 1 \(pid \d+\) stopped \(exit code -9\)"):
        step(*batch(8))
    assert time.monotonic() - start < 30
    step.close()


def test_fit_with_two_workers_trains_like_one():
    images = RNG.integers(0, 256, (96, 28, 28), dtype=np.uint8)
    labels = RNG.integers(0, 10, 96)
    histories = []
    for workers in (1, 2):
        rng = np.random.default_rng(0)
        model = Sequential(Conv2d(1, 2, 3, rng=rng), ReLU(), MaxPool2d(2), Flatten(),
                           Linear(2 * 13 * 13, 10, rng=rng))
        histories.append(fit(model, SGD(model.parameters(), lr=0.1), (images, labels), 3, 16,
                             progress=False, workers=workers))
    for a, b in zip(*histories):
        assert a["train_loss"] == pytest.approx(b["train_loss"], rel=1e-4)
        assert a["train_accuracy"] == b["train_accuracy"]


@pytest.mark.parametrize("value,message", [("65", "expected at most 64 processes, got '65'"),
                                           ("0", "expected a positive integer, got '0'")])
def test_train_refuses_a_wrong_worker_count_before_loading_anything(capsys, value, message):
    from microgradnn.cli import main
    with pytest.raises(SystemExit) as exit_:
        main(["train", "mnist", "--workers", value])
    assert exit_.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("microgradnn train: error: argument --workers: " + message)
    assert "\n" not in err


# ---- the barrier of the batch norm exchanges ----

def _barrier_rounds(barrier, rank, rounds, seen, failures):
    # each round: write this round's number, wait, and read everyone's: all must have
    # written this round (nobody through too soon) and none the next (nobody gone too far
    # before the reads, as the exchange needs: its rows are reused two rounds later)
    for r in range(rounds):
        seen[r % 2, rank] = r
        barrier.wait(rank, 30.0)
        if not (seen[r % 2] == r).all():
            failures[rank] += 1
        barrier.wait(rank, 30.0)


@pytest.mark.parametrize("parties", [2, 3, 5])
def test_barrier_lets_nobody_through_before_everyone_arrives(parties):
    import multiprocessing
    from microgradnn.parallel import _Barrier
    ctx = multiprocessing.get_context("fork")
    barrier = _Barrier(parties, ctx)
    seen = np.frombuffer(mmap.mmap(-1, 2 * parties * 8), dtype=np.int64).reshape(2, parties)
    seen[...] = -1
    failures = np.frombuffer(mmap.mmap(-1, parties * 8), dtype=np.int64)
    failures[...] = 0
    procs = [ctx.Process(target=_barrier_rounds, args=(barrier, rank, 300, seen, failures))
             for rank in range(1, parties)]
    for proc in procs:
        proc.start()
    _barrier_rounds(barrier, 0, 300, seen, failures)
    for proc in procs:
        proc.join(30)
        assert proc.exitcode == 0
    assert not failures.any() and (seen >= 298).all()


def test_barrier_abort_wakes_the_waiting_and_reset_mends_it():
    import multiprocessing
    import threading
    import time
    from microgradnn.parallel import _Barrier
    ctx = multiprocessing.get_context("fork")
    barrier = _Barrier(2, ctx)
    proc = ctx.Process(target=lambda: (time.sleep(0.3), barrier.abort()))
    proc.start()
    start = time.monotonic()
    with pytest.raises(threading.BrokenBarrierError):
        barrier.wait(0, 30.0)  # the other process never arrives: it aborts instead
    assert time.monotonic() - start < 10 and barrier.broken
    proc.join(10)
    with pytest.raises(threading.BrokenBarrierError):
        barrier.wait(0, 30.0)  # broken stays broken
    barrier.reset()
    assert not barrier.broken
    with pytest.raises(threading.BrokenBarrierError):
        barrier.wait(0, 0.05)  # alone: the timeout breaks it, no hang
    assert barrier.broken


def test_barrier_breaks_when_a_process_it_waits_for_has_gone():
    import multiprocessing
    import threading
    import time
    from microgradnn.parallel import _Barrier
    barrier = _Barrier(2, multiprocessing.get_context("fork"))
    asked = []
    start = time.monotonic()
    with pytest.raises(threading.BrokenBarrierError):
        barrier.wait(0, 60.0, alive=lambda: asked.append(1) or len(asked) < 3)
    assert len(asked) == 3 and time.monotonic() - start < 30 and barrier.broken
