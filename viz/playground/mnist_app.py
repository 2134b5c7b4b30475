"""The MNIST playground's routes: the page, its JSON API, training live, saving.

``mnist_app(session)`` returns an ``App`` (see ``server.py``) with::

    GET  /                 the page (web/mnist.html, .css, .js inlined)
    GET  /explain          the explain page of the current input and weights
    GET  /api/state        the page's numbers (Session.summary)
    GET  /api/explain      the explain page's JSON (viz.explainer.explain_data)
    POST /api/input        {"drawing": rows} | {"pixels": 28x28} | {"test": i} |
                           {"misclassified": true} | {"random": true}; optional "label"
    POST /api/label        {"label": 0..9 or null}
    POST /api/batch        a new random mini-batch for the averaged wishes
    GET  /api/neuron       ?l=&k=     a hidden neuron's wish, term by term
    GET  /api/weight       ?l=&j=&k=  a weight's wish
    POST /api/step         {"lr", "on": "example" | "batch"}
    POST /api/nudge        {"l", "kind": "weight" | "bias", "index": [...], "value"}
    POST /api/undo
    POST /api/train/start  {"optimizer", "lr", "batch_size", "epochs"}; /pause /resume /stop
    GET  /api/train/status the job, the loss curve, the accuracies, the live digit
    GET  /api/train/events the same as Server-Sent Events, whenever it changes
    POST /api/save         write the checkpoint (atomically); GET /api/checkpoint downloads it

Changing the weights by hand (step, nudge, undo) is refused (409) while training runs.
"""

from __future__ import annotations

import os
import threading
import time
from typing import Any, Dict, Iterator, Optional, Tuple

import numpy as np
from viz.explainer.jsonout import page_json
from viz.explainer.page import architecture_svg, page_html
from viz.html import read_web_file

from .jobs import JobBusy
from .server import (App, HttpError, Request, Response, file_response, html_response,
                     json_response, page_response, sse_response)
from .changes import nudge, step
from .saving import Saver
from .session import Session
from .training_job import TrainingSettings, loss_curve, training_job
from .wishes import neuron_wish, summary, weight_wish

__all__ = ["mnist_app"]

EVENTS_INTERVAL = 0.25  # seconds between two events of the training stream, at least


def _json(value: Any, status: int = 200) -> Response:
    return Response(status, page_json(value).encode("utf-8"))


def _query_int(request: Request, name: str) -> int:
    text = request.query.get(name)
    if text is None:
        raise HttpError(400, f"the query needs {name}=...")
    try:
        return int(text)
    except ValueError:
        raise HttpError(400, f"{name} must be a whole number, got {text[:40]!r}") from None


def page() -> str:
    """The playground page with its style and script inlined."""
    html = read_web_file(__package__, "mnist.html")
    return (html.replace("/*PLAYGROUND_CSS*/", read_web_file(__package__, "mnist.css"), 1)
            .replace("/*PLAYGROUND_JS*/", read_web_file(__package__, "client.js")
                     + read_web_file(__package__, "mnist.js"), 1))


def mnist_app(session: Session, save_path: Optional[str] = None,
              app: Optional[App] = None) -> App:
    """The app (routes in the module docstring) over ``session``, registered in ``app`` (a
    new ``App`` if None, or one that also serves another page); ``save_path``: where the
    checkpoint is saved (None: a temporary file, removed when the server stops)."""
    app = app if app is not None else App()
    saver = Saver(save_path)
    app.on_shutdown(saver.close)

    @app.route("GET", "/")
    def index(request: Request) -> Response:
        return page_response(page())

    architecture: Dict[str, Optional[str]] = {}  # a CNN's diagram, drawn once

    @app.route("GET", "/explain")
    def explain_page(request: Request) -> Response:
        data = dict(session.explain())
        if data["kind"] == "cnn":  # as viz.explain's page: with the architecture diagram
            if "svg" not in architecture:
                architecture["svg"] = architecture_svg(session.model,
                                                       data["layers"][0]["shape"])
            data["architecture"] = architecture["svg"]
        return html_response(page_html(data, data["title"]))

    @app.route("GET", "/api/state")
    def get_state(request: Request) -> Response:
        return _state(session, {"training": app.jobs.status()})

    @app.route("GET", "/api/explain")
    def get_explain(request: Request) -> Response:
        return _json(session.explain())

    _input_routes(app, session)
    _weight_routes(app, session)
    _training_routes(app, session)
    _saving_routes(app, session, saver)
    return app


def _state(session: Session, extra: Optional[Dict[str, Any]] = None) -> Response:
    return _json({"state": summary(session), **(extra or {})})


def _input_routes(app: App, session: Session) -> None:
    @app.route("POST", "/api/input")
    def post_input(request: Request) -> Response:
        body = request.json()
        chosen = [k for k in ("drawing", "pixels", "test", "misclassified", "random")
                  if k in body]
        if len(chosen) != 1:
            raise HttpError(400, "send exactly one of drawing, pixels, test, misclassified, "
                                 "random")
        kind = chosen[0]
        with session.lock:
            if kind == "drawing":
                session.set_drawing(body["drawing"])
            elif kind == "pixels":
                session.set_pixels(body["pixels"])
            elif kind == "test":
                session.set_test(body["test"])
            elif kind == "misclassified":
                session.next_misclassified()
            else:
                session.random_test()
            if "label" in body:
                session.set_label(body["label"])
            return _state(session)

    @app.route("POST", "/api/label")
    def post_label(request: Request) -> Response:
        session.set_label(request.json().get("label"))
        return _state(session)

    @app.route("POST", "/api/batch")
    def post_batch(request: Request) -> Response:
        session.new_batch()
        return _state(session)

    @app.route("GET", "/api/neuron")
    def get_neuron(request: Request) -> Response:
        return _json(neuron_wish(session, _query_int(request, "l"), _query_int(request, "k")))

    @app.route("GET", "/api/weight")
    def get_weight(request: Request) -> Response:
        return _json(weight_wish(session, _query_int(request, "l"), _query_int(request, "j"),
                                 _query_int(request, "k")))


def _weight_routes(app: App, session: Session) -> None:
    """Step, nudge and undo: refused while a training job runs (or is paused)."""
    def idle() -> None:
        if app.jobs.running:
            raise HttpError(409, "training is running: stop it before changing the weights "
                                 "by hand")

    @app.route("POST", "/api/step")
    def post_step(request: Request) -> Response:
        idle()
        body = request.json()
        return _state(session, {"step": step(session, body.get("lr"), body.get("on", "example"))})

    @app.route("POST", "/api/nudge")
    def post_nudge(request: Request) -> Response:
        idle()
        body = request.json()
        result = nudge(session, body.get("l"), body.get("kind", "weight"), body.get("index"),
                       body.get("value"))
        return _state(session, {"nudge": result})

    @app.route("POST", "/api/undo")
    def post_undo(request: Request) -> Response:
        idle()
        return _state(session, {"undone": session.undo()})


def training_status(app: App, session: Session) -> Dict[str, Any]:
    """The job, the loss curve, the accuracies and the live digit, as plain JSON data
    (written by ``json.dumps``: polled while training runs, so it must cost little)."""
    status = app.jobs.status()
    live = {key: value.tolist() if isinstance(value, np.ndarray) else value
            for key, value in session.live().items()}
    live["hidden"] = [a.tolist() for a in live["hidden"]]
    return {"job": status, "curve": loss_curve(list(session.losses)),
            "accuracy": list(session.accuracy), "live": live}


def _training_routes(app: App, session: Session) -> None:
    def control(action: str) -> Response:
        try:
            if action == "start":
                raise AssertionError("start is handled by its own route")
            getattr(app.jobs, action)()
        except JobBusy as error:
            raise HttpError(409, str(error)) from None
        return json_response(training_status(app, session))

    @app.route("POST", "/api/train/start")
    def start(request: Request) -> Response:
        settings = TrainingSettings(request.json())
        job = training_job(session, settings)
        try:
            app.jobs.start("training", job)
        except JobBusy as error:
            raise HttpError(409, str(error)) from None
        return json_response(training_status(app, session))

    for action in ("pause", "resume", "stop"):
        app.add("POST", f"/api/train/{action}", lambda request, a=action: control(a))

    @app.route("GET", "/api/train/status")
    def status(request: Request) -> Response:
        return json_response(training_status(app, session))

    @app.route("GET", "/api/train/events")
    def events(request: Request) -> Response:
        return sse_response(_events(app, session))


def _events(app: App, session: Session) -> Iterator[Optional[Tuple[str, Any]]]:
    """The training status each time it changes (at most every ``EVENTS_INTERVAL`` s), a
    keep-alive comment each second otherwise; ends with the job or the server."""
    version = -1
    while True:
        status = app.jobs.wait_for_change(version, 1.0)
        if status["version"] == version:
            if status["state"] not in ("running", "paused", "stopping"):
                return
            yield None
            continue
        version = status["version"]
        yield ("status", training_status(app, session))
        time.sleep(EVENTS_INTERVAL)


def _saving_routes(app: App, session: Session, saver: Saver) -> None:
    @app.route("POST", "/api/save")
    def save(request: Request) -> Response:
        path = session.save(saver.target())
        return _json({"path": path if saver.path is not None else "(a temporary file)",
                      "bytes": os.path.getsize(path)})

    @app.route("GET", "/api/checkpoint")
    def download(request: Request) -> Response:
        path = session.save(saver.temporary(f"download-{threading.get_ident()}.npz"))
        try:
            with open(path, "rb") as handle:
                data = handle.read()
        finally:
            os.unlink(path)
        return file_response(data, "playground.npz", "application/octet-stream")
