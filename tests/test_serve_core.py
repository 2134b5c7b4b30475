"""The playground's server core (viz.playground.server, jobs): the safety rules and the job
runner, on a tiny app served on 127.0.0.1 at a free port; every refusal is followed by a
request that still works."""

from __future__ import annotations

import http.client
import json
import socket
import threading
import time

import pytest

from viz.playground.jobs import JobBusy, JobRunner
from viz.playground.server import App, HttpError, Server, json_response, sse_response


def _app():
    app = App()

    @app.route("GET", "/api/ping")
    def ping(request):
        return json_response({"pong": True})

    @app.route("POST", "/api/echo")
    def echo(request):
        body = request.json()
        if "x" not in body:
            raise HttpError(400, "x is missing")
        if body["x"] == "bad":
            raise ValueError("x must not be 'bad'")
        if body["x"] == "bug":
            raise RuntimeError("a bug")
        return json_response({"x": body["x"]})

    @app.route("GET", "/api/events")
    def events(request):
        def gen():
            for i in range(3):
                yield ("tick", {"i": i})
        return sse_response(gen())
    return app


@pytest.fixture
def server():
    srv = Server(_app(), port=0, timeout=1.0).start()
    try:
        yield srv
    finally:
        srv.stop()


def _request(server, method, path, body=None, headers=None, token=True, host=None,
             origin=True):
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    sep = "&" if "?" in path else "?"
    url = path + (f"{sep}token={server.token}" if token else "")
    hdrs = {"Host": host or f"127.0.0.1:{server.port}"}
    if method == "POST" and origin:
        hdrs["Origin"] = origin if isinstance(origin, str) else f"http://127.0.0.1:{server.port}"
    if body is not None and not isinstance(body, bytes):
        body = json.dumps(body).encode()
    hdrs.update(headers or {})
    conn.putrequest(method, url, skip_host=True, skip_accept_encoding=True)
    for k, v in hdrs.items():
        conn.putheader(k, v)
    if body is not None and "Content-Length" not in hdrs:
        conn.putheader("Content-Length", str(len(body)))
    conn.endheaders()
    if body is not None:
        try:
            conn.send(body)
        except (BrokenPipeError, ConnectionResetError):
            pass
    response = conn.getresponse()
    data = response.read()
    conn.close()
    return response.status, data


def _ok(server):
    status, data = _request(server, "GET", "/api/ping")
    assert (status, json.loads(data)) == (200, {"pong": True})


def _error(data):
    text = data.decode()
    assert "\n" not in text.strip()
    return json.loads(text)["error"]


def test_url_names_loopback_and_token(server):
    assert server.url == f"http://127.0.0.1:{server.port}/?token={server.token}"
    assert server.port > 0 and len(server.token) >= 24
    _ok(server)


@pytest.mark.parametrize("case", ["no token", "wrong token", "foreign host", "no origin",
                                  "foreign origin"])
def test_refusals_are_403_and_the_server_keeps_serving(server, case):
    kwargs = {"no token": dict(token=False),
              "wrong token": dict(token=False, headers={"X-Microgradnn-Token": "nope"}),
              "foreign host": dict(host=f"evil.example:{server.port}"),
              "no origin": dict(origin=False),
              "foreign origin": dict(origin="http://evil.example")}[case]
    method = "POST" if "origin" in case else "GET"
    path = "/api/echo" if method == "POST" else "/api/ping"
    status, data = _request(server, method, path, body={"x": 1} if method == "POST" else None,
                            **kwargs)
    assert status == 403, data
    assert _error(data)
    _ok(server)


def test_token_in_header_is_accepted(server):
    status, _ = _request(server, "GET", "/api/ping", token=False,
                         headers={"X-Microgradnn-Token": server.token})
    assert status == 200


def test_post_round_trip_and_bad_bodies(server):
    assert _request(server, "POST", "/api/echo", body={"x": 5}) == (200, b'{"x":5}')
    status, data = _request(server, "POST", "/api/echo", body=b"{not json")
    assert status == 400 and "not JSON" in _error(data)
    status, data = _request(server, "POST", "/api/echo", body=b"[1, 2]")
    assert status == 400 and "JSON object" in _error(data)
    status, data = _request(server, "POST", "/api/echo", body={"y": 1})
    assert (status, _error(data)) == (400, "x is missing")
    status, data = _request(server, "POST", "/api/echo", body={"x": "bad"})
    assert (status, _error(data)) == (400, "x must not be 'bad'")
    status, data = _request(server, "POST", "/api/echo", body={"x": "bug"})
    assert status == 500 and "RuntimeError" in _error(data)
    _ok(server)


def test_two_megabyte_body_is_refused_before_reading(server):
    status, data = _request(server, "POST", "/api/echo", body=b"x" * (2 << 20))
    assert status == 413 and "1048576" in _error(data)
    status, data = _request(server, "POST", "/api/echo", body=b"{}",
                            headers={"Content-Length": str(2 << 20)})
    assert status == 413
    _ok(server)


def test_unknown_path_and_method(server):
    status, data = _request(server, "GET", "/nope")
    assert status == 404 and "/nope" in _error(data)
    status, data = _request(server, "GET", "/api/echo")
    assert status == 405
    _ok(server)


def test_garbage_request_line_gets_json_error(server):
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as s:
        s.sendall(b"BLAH\r\n\r\n")
        chunks = []
        while True:  # until the server closes the connection
            chunk = s.recv(4096)
            if not chunk:
                break
            chunks.append(chunk)
        reply = b"".join(chunks).decode()
    assert reply.startswith("HTTP/1.0 400") and '{"error":' in reply
    _ok(server)


def test_stalled_client_does_not_block_others(server):
    stalled = socket.create_connection(("127.0.0.1", server.port), timeout=5)
    stalled.sendall(b"GET /api/ping?token=" + server.token.encode() + b" HTTP/1.1\r\n")
    try:
        started = time.monotonic()
        _ok(server)  # answered while the other connection is stuck in its headers
        assert time.monotonic() - started < 5
        stalled.settimeout(5)
        assert stalled.recv(100) == b""  # the server's 1 s socket timeout closed it
    finally:
        stalled.close()


def test_connections_past_the_limit_get_503_until_the_stalled_ones_time_out():
    srv = Server(_app(), port=0, timeout=1.0, max_connections=3).start()
    stalled = [socket.create_connection(("127.0.0.1", srv.port), timeout=5) for _ in range(3)]
    try:
        time.sleep(0.2)
        status, data = _request(srv, "GET", "/api/ping")
        assert status == 503 and "too many connections" in _error(data)
        time.sleep(1.5)  # the stalled connections time out and free their threads
        _ok(srv)
    finally:
        for s in stalled:
            s.close()
        srv.stop()


def test_server_sent_events(server):
    status, data = _request(server, "GET", "/api/events")
    assert status == 200
    assert data.decode().count("event: tick") == 3 and 'data: {"i":2}' in data.decode()


def test_host_names_and_the_public_warning():
    from viz.playground.server import _host_names, warn_if_public

    assert _host_names("127.0.0.1", 80) == ("127.0.0.1:80", "localhost:80")
    assert _host_names("::1", 80) == ("[::1]:80", "localhost:80")
    srv = Server(_app(), host="127.0.0.1", port=0)  # tests listen on 127.0.0.1 only:
    srv.host, srv.wildcard = "0.0.0.0", True  # the wildcard's Host rule, checked unbound
    try:
        assert srv.url.startswith("http://127.0.0.1:")
        assert srv._host_ok(f"192.168.1.5:{srv.port}") and srv._host_ok(f"localhost:{srv.port}")
        assert not srv._host_ok(f"evil.example:{srv.port}")
        assert not srv._host_ok("192.168.1.5:1")
    finally:
        srv.stop()
    assert warn_if_public("0.0.0.0") and warn_if_public("127.0.0.1") is None


# ---- the job runner -----------------------------------------------------------------------

def _wait(runner, states, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = runner.status()
        if status["state"] in states:
            return status
        time.sleep(0.01)
    raise AssertionError(f"state {runner.status()} never reached {states}")


def test_job_runner_start_pause_resume_stop():
    runner = JobRunner()
    steps = []
    release = threading.Event()

    def job(control):
        for i in range(100000):
            control.checkpoint()
            steps.append(i)
            control.report(step=i + 1)
            release.wait(0.001)

    runner.start("count", job)
    with pytest.raises(JobBusy, match="already running"):
        runner.start("again", job)
    _wait(runner, {"running"})
    runner.pause()
    time.sleep(0.05)
    paused_at = len(steps)
    time.sleep(0.1)
    assert len(steps) <= paused_at + 1
    assert runner.status()["state"] == "paused"
    runner.resume()
    time.sleep(0.05)
    assert len(steps) > paused_at + 1
    runner.stop(wait=5)
    status = _wait(runner, {"stopped"})
    assert status["step"] == len(steps) and not runner.running
    runner.start("again", lambda control: control.report(step=-1))  # a new job after stop
    assert _wait(runner, {"done"})["step"] == -1


def test_job_failure_is_reported_and_shutdown_refuses_new_jobs():
    runner = JobRunner()

    def boom(control):
        raise ValueError("lr must be positive\nmore")

    runner.start("boom", boom)
    status = _wait(runner, {"failed"})
    assert status["error"] == "ValueError: lr must be positive"
    version = status["version"]
    started = time.monotonic()
    assert runner.wait_for_change(version, 0.2)["version"] == version
    assert time.monotonic() - started >= 0.15
    runner.shutdown()
    with pytest.raises(JobBusy, match="shutting down"):
        runner.start("late", boom)


def test_server_stop_ends_a_running_job_after_its_step():
    app = _app()
    done = []

    def job(control):
        while True:
            control.checkpoint()
            time.sleep(0.01)
            done.append(1)

    srv = Server(app, port=0).start()
    app.jobs.start("loop", job)
    _wait(app.jobs, {"running"})
    srv.stop()
    assert app.jobs.status()["state"] == "stopped" and not app.jobs.running
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", srv.port), timeout=1).close()


def test_a_save_path_that_is_not_npz_is_refused_by_either_app():
    from viz.playground.launch import make_server
    from viz.playground.toy_app import make_toy_server

    for make in (lambda: make_toy_server("moons", save="net.txt"),
                 lambda: make_server(save="net.txt")):
        with pytest.raises(ValueError, match="save must name a .npz file, got 'net.txt'"):
            make()
