"""The MNIST playground served on 127.0.0.1 at a free port, driven with urllib: refusals that
leave the app working, the numbers against an independent numpy forward/backward of the
downloaded checkpoint (1e-6), one step, a nudge by hand, training live, saving, the CLI."""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest

import microgradnn
from microgradnn.checkpoint import save as save_checkpoint
from microgradnn.models import build_model
from viz.playground.launch import make_server

ROOT = Path(__file__).resolve().parents[1]
DATA = os.environ.get("MICROGRADNN_DATA", "")
HAVE_MNIST = bool(DATA) and any((Path(DATA) / name).exists() for name in (
    "train-images-idx3-ubyte.gz", "train-images-idx3-ubyte"))


class Client:
    def __init__(self, server):
        self.server = server
        self.base = f"http://127.0.0.1:{server.port}"

    def call(self, method, path, body=None, token=True, headers=None):
        sep = "&" if "?" in path else "?"
        url = self.base + path + (f"{sep}token={self.server.token}" if token else "")
        data = body if isinstance(body, bytes) or body is None else json.dumps(body).encode()
        hdrs = {"Origin": self.base} if method == "POST" else {}
        hdrs.update(headers or {})
        request = urllib.request.Request(url, data=data, method=method, headers=hdrs)
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                raw = response.read()
                status = response.status
        except urllib.error.HTTPError as error:
            raw, status = error.read(), error.code
        return status, raw

    def json(self, method, path, body=None, **kwargs):
        status, raw = self.call(method, path, body, **kwargs)
        assert status == 200, raw
        return json.loads(raw)

    def state(self):
        return self.json("GET", "/api/state")["state"]


@pytest.fixture
def serve(tmp_path):
    servers = []

    def _serve(model=None, **kwargs):
        server = make_server(model, **kwargs).start()
        servers.append(server)
        return Client(server)

    yield _serve
    for server in servers:
        server.stop()


def _pixels(seed=0):
    rng = np.random.default_rng(seed)
    grid = np.zeros((28, 28))
    grid[6:22, 9:19] = rng.uniform(0.2, 1.0, (16, 10))
    return np.round(grid, 3)


def _error(raw):
    text = raw.decode()
    assert "\n" not in text.strip() and "Traceback" not in text
    return json.loads(text)["error"]


def test_refusals_leave_the_app_working(serve):
    client = serve()
    assert client.call("POST", "/api/input", {"pixels": _pixels().tolist()})[0] == 200
    before = client.state()
    cases = [
        (dict(method="GET", path="/api/state", token=False), 403),
        (dict(method="GET", path="/api/state", headers={"Host": "evil.example"}), 403),
        (dict(method="POST", path="/api/step", body={"lr": 0.1},
              headers={"Origin": "http://evil.example"}), 403),
        (dict(method="POST", path="/api/input", body=b"{" + b" " * (2 << 20) + b"}"), 413),
        (dict(method="POST", path="/api/input", body=b"{bad json"), 400),
        (dict(method="POST", path="/api/input", body={"pixels": [[0.5] * 28] * 27}), 400),
        (dict(method="POST", path="/api/input", body={"pixels": [[0.5] * 27] * 28}), 400),
        (dict(method="POST", path="/api/input", body=b'{"pixels": [[NaN]]}'), 400),
        (dict(method="POST", path="/api/input", body={"pixels": [[2.0] * 28] * 28}), 400),
        (dict(method="POST", path="/api/input", body={"drawing": [[0.0] * 50] * 50}), 400),
        (dict(method="POST", path="/api/input", body={"drawing": [[0.0] * 5000] * 3}), 400),
        (dict(method="POST", path="/api/input", body=b"[" * 100000 + b"]" * 100000), 400),
        (dict(method="POST", path="/api/step", body={"lr": -1}), 400),
        (dict(method="POST", path="/api/nudge", body={"l": 9, "index": [0, 0], "value": 1}), 400),
        (dict(method="GET", path="/api/neuron?l=1&k=x"), 400),
        (dict(method="GET", path="/api/neuron?l=3&k=0"), 400),
        (dict(method="POST", path="/api/train/pause", body={}), 409),
    ]
    for kwargs, expected in cases:
        status, raw = client.call(kwargs.pop("method"), kwargs.pop("path"), **kwargs)
        assert status == expected, (expected, raw)
        assert _error(raw)
    after = client.state()
    assert after["cost"] == before["cost"] and after["pixels"] == before["pixels"]
    status, raw = client.call("POST", "/api/input", body={"pixels": [[0.5] * 28] * 27})
    assert "pixels must be 28x28 numbers, got 27x28" in _error(raw)


def _numpy_pass(arrays, pixels, label, activation, loss):
    """An independent float64 forward and backward of an MLP's saved arrays."""
    act = {"sigmoid": (lambda z: 1 / (1 + np.exp(-z)), lambda z, a: a * (1 - a)),
           "relu": (lambda z: np.maximum(z, 0), lambda z, a: (z > 0).astype(float)),
           "tanh": (np.tanh, lambda z, a: 1 - a * a)}[activation]
    n = len([k for k in arrays if k.endswith(".weight")])
    keys = sorted({int(k.split(".")[0]) for k in arrays})
    a = [pixels.reshape(-1) / 255.0]
    zs = []
    for i, key in enumerate(keys):
        z = arrays[f"{key}.weight"].astype(np.float64) @ a[-1] + arrays[f"{key}.bias"]
        zs.append(z)
        a.append(act[0](z) if i < n - 1 else z)
    y = np.eye(10)[label]
    if loss == "mse":
        out = 1 / (1 + np.exp(-zs[-1]))
        cost = float(((out - y) ** 2).sum())
        dout = 2 * (out - y)
        delta = dout * out * (1 - out)
    else:
        e = np.exp(zs[-1] - zs[-1].max())
        out = e / e.sum()
        cost = float(-np.log(out[label]))
        dout = None
        delta = out - y
    deltas, grads_a = [delta], []
    for i in range(n - 1, 0, -1):
        da = arrays[f"{keys[i]}.weight"].astype(np.float64).T @ deltas[0]
        grads_a.insert(0, da)
        deltas.insert(0, da * act[1](zs[i - 1], a[i]))
    weight_grads = [np.outer(deltas[i], a[i]) for i in range(n)]
    return {"cost": cost, "out": out, "dout": dout, "deltas": deltas, "a": a,
            "grads_a": grads_a, "weight_grads": weight_grads, "keys": keys}


@pytest.mark.parametrize("hidden, activation, loss", [
    ([16, 16], "sigmoid", "mse"), ([20], "relu", "cross-entropy"), ([8, 6, 5], "tanh", "mse")])
def test_numbers_equal_an_independent_numpy_pass(serve, tmp_path, hidden, activation, loss):
    spec = {"model": "mlp", "hidden": hidden, "activation": activation, "seed": 3}
    path = tmp_path / "mlp.npz"  # served from a checkpoint, which says its cost
    save_checkpoint(build_model(spec), path, spec, extra={"loss": loss})
    client = serve(str(path))
    assert client.state()["loss_fn"] == loss
    pixels = _pixels(1)
    state = client.json("POST", "/api/input", {"pixels": pixels.tolist(), "label": 3})["state"]
    status, raw = client.call("GET", "/api/checkpoint")
    assert status == 200
    with np.load(io.BytesIO(raw), allow_pickle=False) as archive:
        arrays = {k[len("param/"):]: archive[k] for k in archive.files if k.startswith("param/")}
    ref = _numpy_pass(arrays, np.array(state["pixels"], np.float64), 3, activation, loss)
    close = dict(atol=1e-6, rtol=0)
    np.testing.assert_allclose(state["cost"], ref["cost"], **close)
    np.testing.assert_allclose(state["outputs"], ref["out"], **close)
    wish = -ref["dout"] if loss == "mse" else -ref["deltas"][-1]
    np.testing.assert_allclose(state["wish"], wish, **close)
    for layer, a, grad in zip(state["hidden"], ref["a"][1:], ref["grads_a"]):
        np.testing.assert_allclose(layer["a"], a, **close)
        np.testing.assert_allclose(layer["wish"], -grad, **close)
    explain = client.json("GET", "/api/explain")
    linears = [e for e in explain["layers"] if e["type"] == "Linear"]
    for entry, grad in zip(linears, ref["weight_grads"]):
        np.testing.assert_allclose(entry["weight_grad"], grad, **close)
    wish = client.json("GET", "/api/neuron?l=1&k=2") if len(hidden) > 1 else None
    if wish is not None:
        w2 = arrays[f"{ref['keys'][1]}.weight"][:, 2]
        np.testing.assert_allclose([t["product"] for t in wish["terms"]],
                                   w2 * ref["deltas"][1], **close)
        np.testing.assert_allclose(wish["wish"], -ref["grads_a"][0][2], **close)
    weight = client.json("GET", "/api/weight?l=1&j=4&k=300")
    np.testing.assert_allclose(weight["wish"], -ref["weight_grads"][0][4, 300], **close)
    batch = explain["batch"]
    if batch is not None:  # the mini-batch's wish: the mean of its examples' own
        refs = [_numpy_pass(arrays, np.array(p, np.float64), y, activation, loss)
                for p, y in zip(batch["pixels"], batch["labels"])]
        mean = np.mean([-r["dout"] if loss == "mse" else -r["deltas"][-1] for r in refs], 0)
        np.testing.assert_allclose(state["batch_wish"], mean, **close)
        np.testing.assert_allclose(weight["batch_wish"],
                                   -np.mean([r["weight_grads"][0][4, 300] for r in refs]),
                                   **close)


def test_one_step_lowers_this_examples_cost_and_undo_restores(serve):
    client = serve()
    start = client.json("POST", "/api/input", {"pixels": _pixels(2).tolist(), "label": 3})
    cost = start["state"]["cost"]
    step = client.json("POST", "/api/step", {"lr": 0.01, "on": "example"})["step"]
    assert step["before"]["example"] == pytest.approx(cost, abs=1e-7)
    assert step["after"]["example"] < step["before"]["example"]
    assert step["moved"] and all(m["delta"] != 0 for m in step["moved"])
    assert client.state()["undo"] == 1
    undone = client.json("POST", "/api/undo", {})
    assert undone["state"]["cost"] == pytest.approx(cost, abs=1e-7)
    status, raw = client.call("POST", "/api/undo", {})
    assert status == 400 and "nothing to undo" in _error(raw)


def test_nudge_by_hand_against_the_gradients_prediction(serve):
    client = serve()
    client.json("POST", "/api/input", {"pixels": _pixels(3).tolist(), "label": 5})
    w = client.json("GET", "/api/weight?l=3&j=5&k=2")
    small = client.json("POST", "/api/nudge", {"l": 3, "kind": "weight", "index": [5, 2],
                                               "value": w["w"] + 1e-3})["nudge"]
    assert small["grad"] == pytest.approx(-w["wish"], abs=1e-7)
    assert small["dC"] == pytest.approx(small["predicted"], rel=0.02)
    large = client.json("POST", "/api/nudge", {"l": 3, "kind": "weight", "index": [5, 2],
                                               "value": w["w"] + 20.0})["nudge"]
    assert large["C0"] == small["C0"]  # the same nudge: measured from where it began
    assert abs(large["dC"] - large["predicted"]) > 0.1 * abs(large["predicted"])
    bias = client.json("POST", "/api/nudge", {"l": 1, "kind": "bias", "index": [0],
                                              "value": 0.5})["nudge"]
    assert bias["symbol"] == "b[1][0]"


def test_drawing_becomes_mnist_style_input(serve):
    client = serve()
    drawing = np.zeros((140, 140))
    drawing[20:120, 60:80] = 1.0  # a tall bar: scaled to 20 rows, centred
    state = client.json("POST", "/api/input", {"drawing": drawing.tolist()})["state"]
    pixels = np.array(state["pixels"])
    rows = np.flatnonzero(pixels.max(axis=1) > 50)
    assert rows[-1] - rows[0] + 1 == 20 and state["image_name"] == "your drawing"
    ys, xs = np.indices(pixels.shape)
    assert abs((ys * pixels).sum() / pixels.sum() - 13.5) <= 1
    assert not state["label_given"]


def test_a_cnn_checkpoint_is_served(serve, tmp_path):
    spec = {"model": "cnn", "channels": [4], "hidden": [16], "seed": 0}
    model = build_model(spec)
    path = tmp_path / "cnn.npz"
    save_checkpoint(model, path, spec, extra={"loss": "cross-entropy"})
    client = serve(str(path))
    state = client.json("POST", "/api/input", {"pixels": _pixels(4).tolist(), "label": 1})["state"]
    assert state["kind"] == "cnn" and state["hidden"] == []
    # A nudge reaches the kernels, whose gradients the explain data holds, not the fc layers.
    assert [(p["symbol"], p["explained"]) for p in state["params"]] == [
        ("K", True), ("w", False), ("w", False)]
    from microgradnn.training import predict_proba
    expected = predict_proba(model, np.array(state["pixels"], np.uint8)[None])[0]
    np.testing.assert_allclose(state["outputs"], expected, atol=1e-6)
    step = client.json("POST", "/api/step", {"lr": 0.01, "on": "example"})["step"]
    assert step["after"]["example"] < step["before"]["example"]
    assert any(m["symbol"].startswith(("K[1]", "w[")) for m in step["moved"])
    status, raw = client.call("GET", "/explain")
    assert status == 200 and b"microgradnn-data" in raw


def _wait(client, predicate, timeout=120.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = client.json("GET", "/api/train/status")
        if predicate(status):
            return status
        time.sleep(0.05)
    raise AssertionError(f"not reached in {timeout} s: {status['job']}")


@pytest.mark.slow
@pytest.mark.mnist
@pytest.mark.skipif(not HAVE_MNIST, reason="MNIST files not found")
def test_training_live(serve, tmp_path):
    saved = tmp_path / "live.npz"
    client = serve(save=str(saved))
    settings = {"optimizer": "sgd", "lr": 0.5, "batch_size": 32, "epochs": 2}
    first = client.json("POST", "/api/train/start", settings)
    assert first["job"]["state"] == "running"
    status, raw = client.call("POST", "/api/train/start", settings)
    assert status == 409 and "already running" in _error(raw)
    status, raw = client.call("POST", "/api/step", {"lr": 0.1})
    assert status == 409
    at50 = _wait(client, lambda s: s["curve"]["count"] >= 50)
    client.json("POST", "/api/train/pause", {})
    paused = _wait(client, lambda s: s["job"]["state"] == "paused")
    time.sleep(0.3)
    held = client.json("GET", "/api/train/status")["curve"]["count"]
    time.sleep(0.3)
    assert client.json("GET", "/api/train/status")["curve"]["count"] == held
    client.json("POST", "/api/train/resume", {})
    later = _wait(client, lambda s: s["curve"]["count"] >= held + 50)
    assert later["curve"]["count"] > at50["curve"]["count"] >= 50
    assert later["curve"]["steps"][-1] > at50["curve"]["steps"][-1]
    assert all(np.isfinite(later["curve"]["loss"]))
    assert len(later["live"]["outputs"]) == 10 and len(later["live"]["first_weights"]) == 16
    client.json("POST", "/api/train/stop", {})
    stopped = _wait(client, lambda s: s["job"]["state"] == "stopped")
    assert stopped["job"]["step"] <= stopped["curve"]["count"] + 1
    assert paused["job"]["state"] == "paused"
    saved_info = client.json("POST", "/api/save", {})
    assert saved_info["bytes"] == saved.stat().st_size
    loaded = microgradnn.load(saved)
    from microgradnn.checkpoint import load_checkpoint
    from viz.explainer.page import checkpoint_loss
    assert checkpoint_loss(load_checkpoint(saved)) == "mse"  # the lectures' cost travels along
    written = saved.stat().st_mtime_ns
    status, raw = client.call("GET", "/api/checkpoint")  # the served weights, downloaded
    assert saved.stat().st_mtime_ns == written  # a download does not rewrite --save's file
    with np.load(io.BytesIO(raw), allow_pickle=False) as archive:
        np.testing.assert_array_equal(archive["param/0.weight"], loaded.state_dict()["0.weight"])
    status, raw = client.call("GET", "/api/train/events")
    assert status == 200 and b"event: status" in raw


def test_temporary_checkpoint_is_removed_at_stop(tmp_path):
    server = make_server().start()
    try:
        client = Client(server)
        client.json("POST", "/api/input", {"pixels": _pixels().tolist()})
        info = client.json("POST", "/api/save", {})
        assert info["path"] == "(a temporary file)" and info["bytes"] > 0
        saver_dirs = [p for p in Path(os.environ.get("TMPDIR", "/tmp")).glob(
            "microgradnn-serve-*")]
        assert saver_dirs
    finally:
        server.stop()
    assert not any(p.exists() for p in saver_dirs)


@contextlib.contextmanager
def _cli_serve(tmp_path, *args):
    """``microgradnn serve --no-browser ARGS`` in tmp_path: yields (process, printed URL);
    Ctrl-C (SIGINT) is sent when the block ends, and the process killed if it outlives it."""
    env = dict(os.environ, PYTHONPATH=str(ROOT), OPENBLAS_NUM_THREADS="1")
    process = subprocess.Popen([sys.executable, "-m", "microgradnn", "serve", "--no-browser",
                                *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, env=env, cwd=tmp_path)
    try:
        line = process.stdout.readline()
        assert line.startswith("microgradnn serve: open http://127.0.0.1:"), line
        yield process, line.split()[3]
        process.send_signal(signal.SIGINT)
        _, process.err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()


@pytest.mark.slow
def test_cli_serve_prints_the_url_and_stops_on_ctrl_c(tmp_path):
    with _cli_serve(tmp_path) as (process, url):
        with urllib.request.urlopen(url.replace("/?", "/api/state?"), timeout=60) as response:
            assert json.loads(response.read())["state"]["model"].startswith("MLP 784-16-16-10")
    assert process.returncode == 0 and "stopped" in process.err
    assert list(tmp_path.iterdir()) == []  # nothing left behind


def test_cli_serve_refuses_bad_options():
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    bad_port = subprocess.run([sys.executable, "-m", "microgradnn", "serve", "--port", "70000"],
                              capture_output=True, text=True, env=env, timeout=60)
    assert bad_port.returncode == 2 and "70000" in bad_port.stderr
    assert len(bad_port.stderr.strip().splitlines()) == 1
    missing = subprocess.run([sys.executable, "-m", "microgradnn", "serve", "nope.npz",
                              "--no-browser"], capture_output=True, text=True, env=env,
                             timeout=60)
    assert missing.returncode == 2 and "nope.npz" in missing.stderr
    assert len(missing.stderr.strip().splitlines()) == 1


def test_viz_serve_returns_the_url_and_stop_stops_it():
    from viz.playground.launch import serve, stop

    url = serve()
    assert url.startswith("http://127.0.0.1:") and "token=" in url
    with urllib.request.urlopen(url.replace("/?", "/api/state?"), timeout=60) as response:
        assert response.status == 200
    stop()
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(url.replace("/?", "/api/state?"), timeout=5)


def test_the_page_may_talk_to_its_own_server_only(serve):
    client = serve()
    url = f"{client.base}/?token={client.server.token}"
    with urllib.request.urlopen(url, timeout=60) as response:
        policy = response.headers["Content-Security-Policy"]
        page = response.read().decode()
        assert response.headers["Referrer-Policy"] == "no-referrer"
    assert "default-src 'none'" in policy and "connect-src 'self'" in policy
    assert "unsafe-eval" not in policy
    assert "/*PLAYGROUND_" not in page and 'id="pg-canvas"' in page


def test_in_jupyter_viz_serve_also_shows_the_app_in_an_iframe(monkeypatch):
    import types

    from viz.playground.launch import serve, stop

    shown = []
    ipython = types.ModuleType("IPython")
    ipython.get_ipython = lambda: types.SimpleNamespace(config={"IPKernelApp": {}})
    display = types.ModuleType("IPython.display")
    display.IFrame = lambda src, width, height: ("iframe", src, width, height)
    display.display = shown.append
    monkeypatch.setitem(sys.modules, "IPython", ipython)
    monkeypatch.setitem(sys.modules, "IPython.display", display)
    try:
        url = serve()
    finally:
        stop()
    assert shown == [("iframe", url, "100%", 900)]


def test_without_mnist_the_app_draws_and_training_says_why(serve, tmp_path, monkeypatch):
    monkeypatch.delenv("MICROGRADNN_DATA", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))  # no cache either
    client = serve(data=str(tmp_path))
    state = client.state()
    assert state["batch"] is None and state["batch_wish"] is None
    assert state["image_name"] == "an empty drawing"
    drawn = client.json("POST", "/api/input", {"pixels": _pixels().tolist()})["state"]
    assert drawn["cost"] > 0
    for path, body in (("/api/train/start", {}), ("/api/input", {"test": 3}),
                       ("/api/step", {"lr": 0.1, "on": "batch"})):
        status, raw = client.call("POST", path, body)
        assert status == 400 and "not available" in _error(raw), raw
    assert client.json("POST", "/api/step", {"lr": 0.1, "on": "example"})["step"]


@pytest.mark.mnist
@pytest.mark.skipif(not HAVE_MNIST, reason="MNIST files not found")
def test_pick_a_test_image_the_next_misclassified_or_a_random_one(serve):
    client = serve()
    first = client.json("POST", "/api/input", {"test": 0})["state"]
    assert (first["test_index"], first["label"], first["label_given"]) == (0, 7, True)
    missed = client.json("POST", "/api/input", {"misclassified": True})["state"]
    assert missed["test_index"] > 0 and missed["prediction"] != missed["label"]
    after = client.json("POST", "/api/input", {"misclassified": True})["state"]
    assert after["test_index"] > missed["test_index"]
    picked = client.json("POST", "/api/input", {"random": True})["state"]
    assert 0 <= picked["test_index"] < 10000
    status, raw = client.call("POST", "/api/input", {"test": 10000})
    assert status == 400 and "0..9999" in _error(raw)
    status, raw = client.call("POST", "/api/input", {"test": 1, "random": True})
    assert status == 400 and "exactly one" in _error(raw)


@pytest.mark.slow
@pytest.mark.mnist
@pytest.mark.skipif(not HAVE_MNIST, reason="MNIST files not found")
def test_ctrl_c_stops_a_running_training_and_keeps_the_saved_checkpoint(tmp_path):
    saved = tmp_path / "kept.npz"
    with _cli_serve(tmp_path, "--save", str(saved)) as (process, url):
        base, token = url.split("/?token=")

        def post(path, body):
            req = urllib.request.Request(f"{base}{path}?token={token}",
                                         data=json.dumps(body).encode(),
                                         headers={"Origin": base})
            with urllib.request.urlopen(req, timeout=60) as response:
                return json.loads(response.read())

        post("/api/save", {})
        before = saved.read_bytes()
        post("/api/train/start", {"epochs": 5, "lr": 0.1})
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with urllib.request.urlopen(f"{base}/api/train/status?token={token}") as r:
                if json.loads(r.read())["curve"]["count"] > 20:
                    break
            time.sleep(0.05)
    assert process.returncode == 0 and "stopped" in process.err, process.err
    assert saved.read_bytes() == before  # the last saved checkpoint, intact
    microgradnn.load(saved)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["kept.npz"]  # no temporary files


@pytest.mark.parametrize("family", ["lenet5", "resnet"])
def test_a_cnn_family_is_served(serve, family):
    client = serve(build_model({"model": family, "seed": 0}), loss="cross-entropy")
    state = client.json("POST", "/api/input", {"pixels": _pixels(5).tolist(), "label": 2})["state"]
    assert state["kind"] == "cnn" and len(state["outputs"]) == 10
    np.testing.assert_allclose(sum(state["outputs"]), 1.0, atol=1e-6)
    step = client.json("POST", "/api/step", {"lr": 0.01, "on": "example"})["step"]
    assert step["after"]["example"] < step["before"]["example"]
    if family == "resnet":  # weights inside residual blocks: named by their path, not w[l]
        assert all(not m["symbol"].startswith(("w[", "K[", "b[")) for m in step["moved"])
    status, raw = client.call("GET", "/explain")
    assert status == 200 and b"microgradnn-data" in raw
    if shutil.which("dot"):  # the explain page's architecture diagram, as viz.explain's
        assert b"arch_" in raw
