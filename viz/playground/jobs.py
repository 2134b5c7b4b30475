"""One background job at a time (a training run): start, pause, resume, stop, progress.

A job is a function ``run(control)`` executed in a thread of its own. Between two steps it
calls ``control.checkpoint()``, which blocks while the job is paused and raises ``JobStopped``
once a stop was asked (by the page, or by the server's shutdown): so a job always ends
*after* its current step, never in the middle of one. It publishes what the page shows with
``control.report(key=value, ...)`` (a plain dict of JSON-able values, merged into the
progress)::

    def run(control):
        for step in range(1000):
            control.checkpoint()
            loss = train_one_step()
            control.report(step=step + 1, loss=loss)

    runner = JobRunner()
    runner.start("training", run)          # JobBusy (a 409 for the page) if one is running
    runner.pause(); runner.resume(); runner.stop()
    runner.status()                        # {"name", "state", "version", "error", **progress}
    runner.wait_for_change(version, 1.0)   # the next status, or the same one after 1 s

``state`` is "idle", "running", "paused", "stopping", "done", "stopped" or "failed" (with
``error``, the exception's first line). ``version`` grows with every change, so a Server-Sent
Events loop or a poller sends only what is new.
"""

from __future__ import annotations

import threading
import traceback
from typing import Any, Callable, Dict, Optional

__all__ = ["JobRunner", "JobControl", "JobStopped", "JobBusy"]


class JobStopped(Exception):
    """Raised by ``JobControl.checkpoint`` in the job's thread once a stop was asked."""


class JobBusy(RuntimeError):
    """A second job was started while one runs."""


class JobControl:
    """What a running job sees: ``checkpoint()`` between steps, ``report(...)`` for progress."""

    def __init__(self, runner: "JobRunner") -> None:
        self._runner = runner

    @property
    def stop_requested(self) -> bool:
        return self._runner._stop.is_set()

    def checkpoint(self) -> None:
        """Block while paused; raise ``JobStopped`` once a stop was asked."""
        runner = self._runner
        with runner._changed:
            while runner._paused and not runner._stop.is_set():
                runner._changed.wait(0.5)
        if runner._stop.is_set():
            raise JobStopped()

    def report(self, **progress: Any) -> None:
        self._runner._update(progress)


class JobRunner:
    """Runs at most one job at a time in a background thread (see the module docstring)."""

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._thread: Optional[threading.Thread] = None
        self._stop = threading.Event()
        self._paused = False
        self._closed = False
        self._status: Dict[str, Any] = {"name": "", "state": "idle", "version": 0,
                                        "error": None}

    # -- called from request threads ---------------------------------------------------------
    def start(self, name: str, run: Callable[[JobControl], Any]) -> None:
        with self._changed:
            if self._closed:
                raise JobBusy("the server is shutting down; no new job starts")
            if self.running:
                raise JobBusy(f"a job ({self._status['name']}) is already running: pause, "
                              f"stop or wait for it before starting another")
            self._stop.clear()
            self._paused = False
            self._status = {"name": name, "state": "running", "error": None,
                            "version": self._status["version"] + 1}
            self._thread = threading.Thread(target=self._main, args=(run,),
                                            name=f"microgradnn-job-{name}", daemon=True)
            self._thread.start()
            self._changed.notify_all()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def pause(self) -> None:
        self._set_paused(True)

    def resume(self) -> None:
        self._set_paused(False)

    def _set_paused(self, paused: bool) -> None:
        with self._changed:
            if not self.running:
                raise JobBusy("no job is running")
            self._paused = paused
            if not self._stop.is_set():
                self._status["state"] = "paused" if paused else "running"
            self._status["version"] += 1
            self._changed.notify_all()

    def stop(self, wait: Optional[float] = None) -> None:
        """Ask the job to stop after its current step; wait up to ``wait`` seconds for it."""
        with self._changed:
            thread = self._thread
            if thread is not None and thread.is_alive():
                self._stop.set()
                self._status["state"] = "stopping"
                self._status["version"] += 1
                self._changed.notify_all()
        if wait is not None and thread is not None:
            thread.join(timeout=wait)

    def shutdown(self, wait: float = 30.0) -> None:
        """No new jobs; a running one stops after its current step (waited for)."""
        with self._changed:
            self._closed = True
            self._changed.notify_all()
        self.stop(wait=wait)

    def status(self) -> Dict[str, Any]:
        with self._changed:
            return dict(self._status)

    def wait_for_change(self, version: int, timeout: float) -> Dict[str, Any]:
        """The status once its version differs from ``version`` (or after ``timeout`` s)."""
        with self._changed:
            if self._status["version"] == version and not self._closed:
                self._changed.wait(timeout)
            return dict(self._status)

    # -- the job's thread ----------------------------------------------------------------------
    def _update(self, progress: Dict[str, Any]) -> None:
        with self._changed:
            self._status.update(progress)
            self._status["version"] += 1
            self._changed.notify_all()

    def _main(self, run: Callable[[JobControl], Any]) -> None:
        state, error = "done", None
        try:
            run(JobControl(self))
        except JobStopped:
            state = "stopped"
        except Exception as exc:  # shown on the page; the server keeps serving
            traceback.print_exc()
            text = str(exc).strip().splitlines()
            state, error = "failed", f"{type(exc).__name__}: {text[0] if text else ''}"
        with self._changed:
            if state == "done" and self._stop.is_set():
                state = "stopped"
            self._status.update(state=state, error=error)
            self._status["version"] += 1
            self._paused = False
            self._changed.notify_all()
