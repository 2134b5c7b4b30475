"""The 2-D playground's routes (``microgradnn serve --data moons|circles|spiral|xor``).

``toy_app(session)`` returns an ``App`` (see ``server.py``: the same token, Host, Origin and
size rules as the MNIST playground) with::

    GET  /toy (and / unless the app is shared)   the page (web/toy.html, .css, .js inlined)
    GET  /toy/api/frame    ?point=i   what the page draws (ToySession.frame), the training
                                      job, and point i's backward pass if asked
    POST /toy/api/setup    {"setup": "data=...&..."}  a shared setup, checked strictly
    POST /toy/api/points   {"add": [x1, x2, class]} | {"remove": i} | {"csv": text} |
                           {"clear": true}   the learner's own points (a new setup)
    POST /toy/api/play | /pause | /step | /reset
    GET  /toy/api/neuron   ?point=&l=&j=     a neuron's formula, numbers and scalar graph
    POST /toy/api/nudge    {"point", "l", "j", "k" (-1: the bias), "value", "keep"}
    GET  /toy/stepper      ?point=i          the backprop stepper of one point
    POST /toy/api/save     write the checkpoint; GET /toy/api/checkpoint downloads it
    GET  /toy/api/code     the Python that rebuilds and trains the network

Every number on the page comes from these answers; the page only draws them.
"""

from __future__ import annotations

import os
import time
from dataclasses import replace
from typing import Any, Dict, Optional

from viz.html import read_web_file

from .jobs import JobBusy, JobControl
from .saving import Saver
from .server import (App, HttpError, Request, Response, Server, file_response,
                     html_response, json_response, page_response)
from .toy_export import python_code, save_checkpoint
from .toy_inspect import backward_pass, check_point_index, neuron_detail, nudge, point_stepper
from .toy_session import ToySession
from .toy_setup import format_setup, parse_csv, parse_setup, rounded_point, with_points

__all__ = ["toy_app", "toy_page", "make_toy_server"]

REPORT_INTERVAL = 0.1  # seconds between two progress reports of the training job


def toy_page() -> str:
    """The page with its style and script inlined."""
    html = read_web_file(__package__, "toy.html")
    return (html.replace("/*TOY_CSS*/", read_web_file(__package__, "toy.css"), 1)
            .replace("/*TOY_JS*/", read_web_file(__package__, "client.js")
                     + read_web_file(__package__, "toy.js"), 1))


def _query_int(request: Request, name: str) -> int:
    text = request.query.get(name, "")
    if not text.lstrip("-").isdigit() or len(text) > 12:
        raise HttpError(400, f"the query needs {name}= a whole number, got {text[:40]!r}")
    return int(text)


def _edit_points(session: ToySession, body: Dict[str, Any]) -> None:
    """A new setup with a point added or removed, a CSV loaded, or the points cleared."""
    s = session.setup
    if "csv" in body:
        session.apply(with_points(replace(s, data="none", n=0), parse_csv(body["csv"]), ()))
        return
    if body.get("clear") is True:
        session.apply(with_points(replace(s, data="none", n=0), [], ()))
        return
    add = list(s.add)
    drop = set(s.drop)
    if "add" in body:
        point = body["add"]
        if not (isinstance(point, list) and len(point) == 3 and
                all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in point)
                and float(point[2]).is_integer()):
            raise ValueError(f"add must be [x1, x2, class], got {str(point)[:40]}")
        add.append(rounded_point(float(point[0]), float(point[1]), int(point[2])))
    elif "remove" in body:
        i = check_point_index(session, body["remove"])
        kept = [k for k in range(s.n) if k not in drop] if s.data != "none" else []
        if i < len(kept):
            drop.add(kept[i])
        else:
            del add[i - len(kept)]
    else:
        raise ValueError("points: send add, remove, csv or clear")
    session.apply(with_points(s, add, tuple(drop)))


def _training_routes(app: App, session: ToySession) -> None:
    def run(control: JobControl) -> None:
        last = 0.0
        while True:
            control.checkpoint()
            session.train_step()
            now = time.monotonic()
            if now - last >= REPORT_INTERVAL:
                control.report(epoch=session.epoch, steps=session.steps)
                last = now
            time.sleep(0)  # let the page's requests in between two steps

    @app.route("POST", "/toy/api/play")
    def play(request: Request) -> Response:
        status = app.jobs.status()
        if status["state"] == "paused":
            app.jobs.resume()
        else:
            try:
                app.jobs.start("training", run)
            except JobBusy as error:
                raise HttpError(409, str(error)) from None
        return json_response(app.jobs.status())

    @app.route("POST", "/toy/api/pause")
    def pause(request: Request) -> Response:
        if app.jobs.running:
            app.jobs.pause()
        return json_response(app.jobs.status())

    @app.route("POST", "/toy/api/step")
    def step(request: Request) -> Response:
        if app.jobs.running and app.jobs.status()["state"] != "paused":
            raise HttpError(409, "training is running: pause it before a single step")
        session.train_step()
        return json_response({"epoch": session.epoch, "steps": session.steps})

    @app.route("POST", "/toy/api/reset")
    def reset(request: Request) -> Response:
        app.jobs.stop(wait=10.0)
        session.reset()
        return json_response(app.jobs.status())


def _inspect_routes(app: App, session: ToySession) -> None:
    @app.route("GET", "/toy/api/neuron")
    def neuron(request: Request) -> Response:
        i = check_point_index(session, _query_int(request, "point"))
        return json_response(neuron_detail(session, i, _query_int(request, "l"),
                                           _query_int(request, "j")))

    @app.route("POST", "/toy/api/nudge")
    def nudge_weight(request: Request) -> Response:
        body = request.json()
        i = check_point_index(session, body.get("point"))
        return json_response(nudge(session, i, body.get("l"), body.get("j"), body.get("k"),
                                   body.get("value"), body.get("keep", False)))

    @app.route("GET", "/toy/stepper")
    def stepper(request: Request) -> Response:
        i = check_point_index(session, _query_int(request, "point"))
        return html_response(point_stepper(session, i))


def _export_routes(app: App, session: ToySession, saver: Saver) -> None:
    @app.route("POST", "/toy/api/save")
    def save(request: Request) -> Response:
        path = save_checkpoint(session, saver.target())
        return json_response({"path": path, "bytes": os.path.getsize(path)})

    @app.route("GET", "/toy/api/checkpoint")
    def download(request: Request) -> Response:
        path = save_checkpoint(session, saver.target())
        with open(path, "rb") as handle:
            return file_response(handle.read(), "playground2d.npz", "application/octet-stream")

    @app.route("GET", "/toy/api/code")
    def code(request: Request) -> Response:
        return Response(200, python_code(session).encode("utf-8"), "text/plain; charset=utf-8")


def toy_app(session: ToySession, save_path: Optional[str] = None, app: Optional[App] = None,
            root: bool = True) -> App:
    """The app (routes in the module docstring) over ``session``; ``root``: also serve the
    page at ``/``; ``save_path``: where "save" writes (None: a temporary file)."""
    app = app if app is not None else App()
    saver = Saver(save_path)
    app.on_shutdown(saver.close)

    def index(request: Request) -> Response:
        return page_response(toy_page())

    app.add("GET", "/toy", index)
    if root:
        app.add("GET", "/", index)

    @app.route("GET", "/toy/api/frame")
    def frame(request: Request) -> Response:
        out = session.frame()
        out["training"] = app.jobs.status()
        if "point" in request.query:
            i = _query_int(request, "point")
            if 0 <= i < len(session.X):
                out["backward"] = backward_pass(session, i)
        return json_response(out)

    @app.route("POST", "/toy/api/setup")
    def setup(request: Request) -> Response:
        session.apply(parse_setup(request.json().get("setup", "")))
        return json_response({"setup": format_setup(session.setup)})

    @app.route("POST", "/toy/api/points")
    def points(request: Request) -> Response:
        _edit_points(session, request.json())
        return json_response({"setup": format_setup(session.setup)})

    _training_routes(app, session)
    _inspect_routes(app, session)
    _export_routes(app, session, saver)
    return app


def make_toy_server(data: str = "circles", *, setup: Optional[str] = None,
                    host: str = "127.0.0.1", port: int = 0, save: Optional[str] = None,
                    verbose: bool = False) -> Server:
    """A ``Server`` of the 2-D playground (not started yet) on the data set ``data``, or on
    ``setup`` (a shared setup string, checked strictly) when given."""
    if setup is not None:
        chosen = parse_setup(setup)
    else:
        chosen = parse_setup(f"data={data}&classes={3 if data == 'spiral' else 2}")
    return Server(toy_app(ToySession(chosen), save), host=host, port=port, verbose=verbose)
