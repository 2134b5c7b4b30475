"""glibc's allocator keeps a training step's freed arrays after ``malloc.tune()`` (called by
``fit`` and the ``train``/``eval`` commands), and importing microgradnn changes nothing."""

from __future__ import annotations

import inspect
import subprocess
import sys

import numpy as np
import pytest

from microgradnn import malloc

PROBE = """
import sys
import numpy as np
if sys.argv[1] in ("tensor", "tuned"):
    import microgradnn, microgradnn.tensor, microgradnn.training, microgradnn.parallel
if sys.argv[1] == "tuned":
    import microgradnn.malloc
    assert microgradnn.malloc.tune() is (microgradnn.malloc.ENV not in __import__("os").environ)
def resident():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096
arrays = [np.ones((4 << 20) // 8) for _ in range(8)]  # 32 MiB in blocks of 4 MiB
before = resident()
del arrays
print((before - resident()) / 2 ** 20)
"""


def freed_mib(mode: str) -> float:
    out = subprocess.run([sys.executable, "-c", PROBE, mode], capture_output=True, text=True,
                         check=True, timeout=60)
    return float(out.stdout.split()[-1])


@pytest.mark.skipif(malloc._glibc() is None, reason="glibc's mallopt thresholds only")
def test_importing_the_library_leaves_glibcs_thresholds_alone():
    assert freed_mib("numpy") > 16  # glibc's defaults give the freed blocks back at once
    assert freed_mib("tensor") > 16  # importing microgradnn (and its tensor path) changes nothing


@pytest.mark.skipif(malloc._glibc() is None, reason="glibc's mallopt thresholds only")
def test_freed_arrays_stay_in_the_heap_after_the_explicit_call(monkeypatch):
    monkeypatch.delenv(malloc.ENV, raising=False)
    assert freed_mib("tuned") < 4  # tuned: they stay for the next step


def test_fit_and_the_eval_command_make_the_explicit_call(monkeypatch):
    from microgradnn import training
    from microgradnn.commands import mnist

    calls = []
    monkeypatch.setattr(training, "tune_malloc", lambda: calls.append("fit"))
    from microgradnn.models import build_model
    from microgradnn.optim import SGD

    model = build_model({"model": "mlp", "hidden": [4], "seed": 0})
    images = np.zeros((4, 28, 28), np.uint8)
    training.fit(model, SGD(model.parameters(), lr=0.1), (images, np.zeros(4, int)), 1,
                 progress=False)
    assert calls == ["fit"]
    assert "tune()" in inspect.getsource(mnist.run_eval)


def test_tune_does_nothing_without_glibc(monkeypatch):
    monkeypatch.setattr(malloc, "_glibc", lambda: None)
    assert malloc.tune() is False


@pytest.mark.skipif(malloc._glibc() is None, reason="glibc's mallopt thresholds only")
def test_the_environment_can_leave_glibcs_thresholds_alone(monkeypatch):
    monkeypatch.setenv(malloc.ENV, "default")
    assert freed_mib("tuned") > 16  # as without microgradnn: freed blocks go back
    assert malloc.tune() is False


def test_an_unknown_setting_is_named_in_one_line_and_the_thresholds_tuned(monkeypatch, capsys):
    monkeypatch.setenv(malloc.ENV, "fast")
    done = malloc.tune()
    assert capsys.readouterr().err == ("microgradnn: MICROGRADNN_MALLOC='fast' is neither "
                                       "'tuned' nor 'default'; using 'tuned'\n")
    assert done is (malloc._glibc() is not None) and malloc.tuned() is done
