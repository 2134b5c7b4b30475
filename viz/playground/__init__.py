"""The playground: a local web app over a live model (``microgradnn serve``, ``viz.serve``).

- ``server.py``: the core every playground app builds on (routes ``(method, path) ->
  handler(request) -> response``, the safety rules, Server-Sent Events; see its docstring);
  ``jobs.py``: one background job (a training run) at a time; ``inputs.py``: checks of what a
  page sends.
- The MNIST app: ``session.py`` (the model, the input digit, the mini-batch, undo),
  ``wishes.py`` (the lecture's nudges read from the explain data), ``changes.py`` (a step of
  gradient descent, a nudge by hand), ``training_job.py`` (training live), ``mnist_app.py``
  (its routes), ``web/mnist.*`` (its page), ``launch.py`` (``viz.serve``, ``make_server``).
- The 2-D playground (``serve --data moons|circles|spiral|xor``): ``toy_setup.py`` (the setup
  in the page's address, parsed strictly; CSV points), ``toy_model.py`` (points, features,
  the scalar MLP, costs, the vectorized path through the bridge), ``toy_session.py`` (live
  state, training steps, what the page draws), ``toy_inspect.py`` (a point's backward pass,
  a neuron's formula and graph, a nudge, the stepper), ``toy_export.py`` (checkpoint and
  Python code), ``toy_app.py`` (its routes, ``make_toy_server``), ``web/toy.*`` (its page).
"""

from __future__ import annotations

from typing import Any

from .jobs import JobBusy, JobControl, JobRunner, JobStopped
from .server import App, HttpError, Request, Response, Server, json_response, sse_response

__all__ = ["App", "Server", "Request", "Response", "HttpError", "json_response",
           "sse_response", "JobRunner", "JobControl", "JobStopped", "JobBusy", "serve",
           "make_server", "make_playground", "stop"]


def __getattr__(name: str) -> Any:
    """``serve``, ``make_server``, ``make_playground`` and ``stop`` come with the MNIST app, imported on first use
    (an app that needs only the core does not load the explain page and the tensor path)."""
    if name in ("serve", "make_server", "make_playground", "stop"):
        from . import launch

        return getattr(launch, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
