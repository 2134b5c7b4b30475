"""Hostile training: absurd learning rates for every cost and family, runaway or stopped
worker processes, Ctrl-C, a history too long for a checkpoint. Each ends in one line, in
bounded time, with the checkpoint and the history file consistent."""

from __future__ import annotations

import json
import multiprocessing
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from microgradnn import checkpoint, parallel
from microgradnn.cli import main
from microgradnn.models import build_model
from microgradnn.optim import SGD, Adam
from microgradnn.parallel import DataParallelStep, WorkerError
from microgradnn.tensor import Linear, ReLU, Sequential, Tensor, cross_entropy
from microgradnn.training import (MAX_CHECKPOINT_HISTORY, TrainingDiverged, TrainingStopped,
                                  fit)

ROOT = Path(__file__).resolve().parents[1]
DATA = os.environ.get("MICROGRADNN_DATA")
HAS_MNIST = bool(DATA) and Path(DATA or ".", "t10k-images-idx3-ubyte.gz").exists()
FAMILIES = ["mlp", "lenet5", "alexnet", "vgg", "googlenet", "resnet"]


def data(n: int = 48, seed: int = 0):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (n, 28, 28), dtype=np.uint8), rng.integers(0, 10, n)


def weights(model):
    return {k: v.copy() for k, v in model.state_dict().items()}


# -- divergence, for both costs and every family --

@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("loss,lr", [("mse", 1e30), ("cross-entropy", 1e30), ("mse", 1e4),
                                     ("cross-entropy", 1e4)])
def test_an_absurd_learning_rate_stops_training_and_saves_nothing(family, loss, lr, tmp_path):
    spec = {"model": family, "hidden": [16]} if family == "mlp" else {"model": family}
    model = build_model(spec)
    start = weights(model)
    saved = tmp_path / "model.npz"
    with pytest.raises(TrainingDiverged) as info:
        fit(model, SGD(model.parameters(), lr=lr), data(), 3, batch_size=16, progress=False,
            loss=loss, checkpoint=saved, history_path=tmp_path / "history.json")
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith("training diverged at epoch 1, step ")
    assert f"learning rate {lr:g}" in message and "nothing was saved" in message
    assert not saved.exists() and not (tmp_path / "history.json").exists()
    for name, value in model.state_dict().items():  # put back to where it started
        np.testing.assert_array_equal(value, start[name], err_msg=name)


def test_adam_at_an_absurd_rate_stops_under_the_squared_error_too():
    model = build_model({"model": "lenet5"})
    with pytest.raises(TrainingDiverged, match="learning rate 10000: the"):
        fit(model, Adam(model.parameters(), lr=1e4), data(), 2, batch_size=16, progress=False,
            loss="mse")


def test_a_sane_rate_trains_on_under_both_costs():
    for loss, lr in (("mse", 3.0), ("cross-entropy", 0.1)):
        model = build_model({"model": "mlp", "hidden": [16], "activation": "sigmoid"})
        history = fit(model, SGD(model.parameters(), lr=lr), data(96), 3, batch_size=16,
                      progress=False, loss=loss)
        assert len(history) == 3


def test_a_diverging_later_epoch_keeps_the_last_good_checkpoint(tmp_path):
    model = build_model({"model": "mlp", "hidden": [16], "activation": "sigmoid"})
    optimizer = SGD(model.parameters(), lr=0.5)
    saved = tmp_path / "model.npz"

    def blow_up(step: int) -> None:  # in epoch 2 the rate becomes absurd
        if step == 3:
            optimizer.lr = 1e30

    with pytest.raises(TrainingDiverged, match=r"at epoch 2, .*learning rate 1e\+30.*"
                                               r"from epoch 1 is kept"):
        fit(model, optimizer, data(), 3, batch_size=16, progress=False, loss="mse",
            checkpoint=saved, on_step=blow_up)
    kept = checkpoint.load_checkpoint(saved)
    assert kept.extra["epochs"] == 1 and len(kept.extra["history"]) == 1
    for name, value in model.state_dict().items():
        np.testing.assert_array_equal(value, kept.model.state_dict()[name], err_msg=name)


@pytest.mark.mnist
@pytest.mark.skipif(not HAS_MNIST, reason="needs MICROGRADNN_DATA")
@pytest.mark.parametrize("args", [["--loss", "mse", "--lr", "1e30"],
                                  ["--model", "lenet5", "--lr", "1e4"],
                                  ["--model", "lenet5", "--lr", "1e4", "--loss", "mse"]])
def test_the_train_command_refuses_a_blown_up_run_in_one_line(args, tmp_path, capsys):
    saved = tmp_path / "model.npz"
    code = main(["train", "mnist", "--limit", "300", "--epochs", "2", "--quiet",
                 "--save", str(saved), *args])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1
    assert "training diverged at epoch 1, step " in err and "learning rate" in err
    assert not saved.exists()


# -- a checkpoint's metadata stays loadable --

def test_save_refuses_an_extra_that_load_would_refuse(tmp_path):
    model = build_model({"model": "mlp", "hidden": [4]})
    target = tmp_path / "big.npz"
    huge = {"history": ["x" * 1000] * (checkpoint.MAX_EXTRA_BYTES // 1000 + 1)}
    with pytest.raises(ValueError, match=r"checkpoint extra is \d+ bytes of JSON, more than "
                                         r"the 16777216 a checkpoint may hold; nothing written"):
        checkpoint.save(model, target, model.spec, extra=huge)
    assert not target.exists() and list(tmp_path.iterdir()) == []


def test_a_checkpoint_keeps_a_bounded_history(tmp_path, monkeypatch):
    from microgradnn import training

    monkeypatch.setattr(training, "MAX_CHECKPOINT_HISTORY", 2)
    model = build_model({"model": "mlp", "hidden": [4]})
    fit(model, SGD(model.parameters(), lr=0.1), data(16), 3, batch_size=16, progress=False,
        checkpoint=tmp_path / "m.npz", history_path=tmp_path / "h.json")
    kept = checkpoint.load_checkpoint(tmp_path / "m.npz")
    assert [r["epoch"] for r in kept.extra["history"]] == [2, 3] and kept.extra["epochs"] == 3
    assert len(json.loads((tmp_path / "h.json").read_text())) == 3
    assert MAX_CHECKPOINT_HISTORY * 300 < checkpoint.MAX_EXTRA_BYTES  # ~200 bytes a record


# -- worker processes --

def small_net():
    rng = np.random.default_rng(0)
    return Sequential(Linear(784, 32, rng=rng), ReLU(), Linear(32, 10, rng=rng))


def prepare(batch):
    return Tensor(batch.reshape(len(batch), -1).astype(np.float32) / 255)


def alive(pid: int) -> bool:
    """Running or asleep (a zombie or a vanished process is not)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except OSError:
        return False


def children(pid: int):
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as stat:
                    if int(stat.read().rsplit(")", 1)[1].split()[1]) == pid:
                        found.append(int(entry))
            except (OSError, IndexError, ValueError):
                continue
    return found


def wait_until(condition, seconds: float = 60.0) -> bool:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_a_stopped_worker_fails_the_step_in_bounded_time():
    images, labels = data(32)
    step = DataParallelStep(small_net(), cross_entropy, 2, prepare=prepare, timeout=5)
    try:
        step(images, labels)  # a good step first
        (pid,) = step.worker_pids
        os.kill(pid, signal.SIGSTOP)
        started = time.monotonic()
        with pytest.raises(WorkerError) as info:
            step(images, labels)
        assert time.monotonic() - started < 60  # the deadline, not forever
        assert str(info.value) == (f"DataParallelStep: worker 1 (pid {pid}) sent no answer "
                                   f"within 5 s (stopped or stuck); the workers were stopped")
        assert wait_until(lambda: not alive(pid), 30)
        with pytest.raises(WorkerError, match="closed"):
            step(images, labels)
    finally:
        step.close()


def _stop_worker_in_epoch_two(how: int, steps_per_epoch: int):
    def on_step(done: int) -> None:
        if done == steps_per_epoch + 1:
            for proc in multiprocessing.active_children():
                if proc.name.startswith("microgradnn-worker"):
                    os.kill(proc.pid, how)
    return on_step


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="fork and signals")
@pytest.mark.parametrize("how", [signal.SIGSTOP, signal.SIGKILL])
def test_fit_stops_in_one_line_when_a_worker_stops_or_dies(how, tmp_path, monkeypatch):
    monkeypatch.setattr(parallel, "TIMEOUT_SECONDS", 5.0)  # a step here takes milliseconds
    model = build_model({"model": "mlp", "hidden": [16]})
    saved, history = tmp_path / "m.npz", tmp_path / "h.json"
    with pytest.raises(TrainingStopped) as info:
        fit(model, SGD(model.parameters(), lr=0.1), data(64), 4, batch_size=16, progress=False,
            checkpoint=saved, history_path=history, workers=2,
            on_step=_stop_worker_in_epoch_two(how, 4))
    message = str(info.value)
    assert "\n" not in message and message.startswith("training stopped at epoch 2, step 2 of 4")
    assert "worker 1 (pid " in message and f"the checkpoint {saved} from epoch 1 is kept" in message
    kept = checkpoint.load_checkpoint(saved)
    assert len(kept.extra["history"]) == len(json.loads(history.read_text())) == 1
    for name, value in model.state_dict().items():
        np.testing.assert_array_equal(value, kept.model.state_dict()[name], err_msg=name)
    assert wait_until(lambda: not multiprocessing.active_children(), 30)


TRAINER = """
import sys
import numpy as np
from microgradnn.models import build_model
from microgradnn.optim import SGD
from microgradnn.training import fit
model = build_model({"model": "mlp", "hidden": [16]})
rng = np.random.default_rng(0)
images, labels = rng.integers(0, 256, (64, 28, 28), dtype=np.uint8), rng.integers(0, 10, 64)
def told(step):
    if step == 1:
        print("training", flush=True)
fit(model, SGD(model.parameters(), lr=0.01), (images, labels), 100000, batch_size=16,
    progress=False, workers=2, on_step=told)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc and prctl")
@pytest.mark.parametrize("how", [signal.SIGKILL, signal.SIGTERM])
def test_no_worker_outlives_its_parent(how):
    env = dict(os.environ, PYTHONPATH=str(ROOT), OPENBLAS_NUM_THREADS="1")
    trainer = subprocess.Popen([sys.executable, "-c", TRAINER], stdout=subprocess.PIPE,
                               env=env, text=True)
    try:
        assert trainer.stdout.readline().strip() == "training"
        workers = children(trainer.pid)
        assert len(workers) == 1 and alive(workers[0])
        trainer.send_signal(how)
        trainer.wait(timeout=60)
        assert wait_until(lambda: not alive(workers[0]), 60), "the worker outlived its parent"
    finally:
        if trainer.poll() is None:
            trainer.kill()
            trainer.wait()


def _train_command(tmp_path: Path, *extra: str) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=str(ROOT), OPENBLAS_NUM_THREADS="1")
    return subprocess.Popen(
        [sys.executable, "-m", "microgradnn", "train", "mnist", "--limit", "200", "--epochs",
         "100000", "--batch-size", "16", "--hidden", "16", "--quiet",
         "--save", str(tmp_path / "m.npz"), "--history", str(tmp_path / "h.json"), *extra],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True)


def _train_then(tmp_path: Path, flags, act) -> tuple:
    """Start ``train``, ``act(process)`` once its first epoch is written, wait for the end:
    (the process, its stderr)."""
    trainer = _train_command(tmp_path, *flags)
    try:
        assert wait_until(lambda: (tmp_path / "h.json").exists(), 120)
        act(trainer)
        _, err = trainer.communicate(timeout=60)
    finally:
        if trainer.poll() is None:
            trainer.kill()
            trainer.communicate()
    return trainer, err


def _consistent(tmp_path: Path) -> None:
    kept = checkpoint.load_checkpoint(tmp_path / "m.npz")
    history = json.loads((tmp_path / "h.json").read_text())
    assert kept.extra["history"] == history and kept.extra["epochs"] == len(history)


@pytest.mark.mnist
@pytest.mark.skipif(not HAS_MNIST or not sys.platform.startswith("linux"),
                    reason="needs MICROGRADNN_DATA and Linux")
@pytest.mark.parametrize("workers", ["1", "2"])
def test_ctrl_c_during_training_is_one_line_and_leaves_files_consistent(workers, tmp_path):
    def interrupt(trainer: subprocess.Popen) -> None:
        time.sleep(0.3)  # somewhere inside a later epoch
        trainer.send_signal(signal.SIGINT)

    trainer, err = _train_then(tmp_path, ("--workers", workers), interrupt)
    assert trainer.returncode == 130, err
    assert err.count("\n") == 1 and err.startswith("microgradnn train: interrupted: training "
                                                   "interrupted at epoch "), err
    _consistent(tmp_path)


@pytest.mark.mnist
@pytest.mark.skipif(not HAS_MNIST or not sys.platform.startswith("linux"),
                    reason="needs MICROGRADNN_DATA and Linux")
def test_a_killed_worker_ends_the_train_command_in_one_line(tmp_path):
    killed = []

    def kill_the_worker(trainer: subprocess.Popen) -> None:
        killed.extend(children(trainer.pid))
        os.kill(killed[0], signal.SIGKILL)

    trainer, err = _train_then(tmp_path, ("--workers", "2"), kill_the_worker)
    worker = killed[0]
    assert trainer.returncode == 2, err
    assert err.count("\n") == 1 and err.startswith("microgradnn train: error: training "
                                                   "stopped at epoch "), err
    assert f"(pid {worker}) stopped (exit code -9)" in err
    _consistent(tmp_path)


def test_ctrl_c_while_an_epoch_is_saved_waits_for_both_files(tmp_path, monkeypatch):
    from microgradnn.training import TrainingInterrupted

    real_save = checkpoint.save

    def save_then_ctrl_c(*args, **kwargs):  # Ctrl-C between the checkpoint and the history
        written = real_save(*args, **kwargs)
        os.kill(os.getpid(), signal.SIGINT)
        return written

    monkeypatch.setattr(checkpoint, "save", save_then_ctrl_c)
    model = build_model({"model": "mlp", "hidden": [8]})
    with pytest.raises(TrainingInterrupted) as info:
        fit(model, SGD(model.parameters(), lr=0.1), data(32), 5, batch_size=16, progress=False,
            checkpoint=tmp_path / "m.npz", history_path=tmp_path / "h.json")
    assert str(info.value).startswith("training interrupted at epoch 1, step 2 of 2")
    assert "the checkpoint" in str(info.value) and "from epoch 1 is kept" in str(info.value)
    monkeypatch.setattr(checkpoint, "save", real_save)
    _consistent(tmp_path)
    assert len(json.loads((tmp_path / "h.json").read_text())) == 1


def test_the_weight_scan_copies_no_weight_in_either_memory_order():
    """divergence.weight_scan reads every parameter in place: a column-major Linear weight
    (layers.weight_order) included, so the check costs no copy of the weights."""
    import tracemalloc

    from microgradnn.divergence import weight_scan
    from microgradnn.tensor import Linear, Sequential

    model = Sequential(Linear(784, 512), Linear(512, 64))
    assert model[0].weight.data.flags.f_contiguous and not model[0].weight.data.flags.c_contiguous
    weight_scan(model)  # warm up
    tracemalloc.start()
    name, rms = weight_scan(model)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert name is None and 0 < rms < 1
    assert peak < model[0].weight.data.nbytes // 10, peak
    model[1].weight.data[3, 5] = np.nan
    assert weight_scan(model)[0] == "1.weight"
