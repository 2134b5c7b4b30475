"""The 2-D playground's server: its numbers against the scalar engine, hostile setups and CSVs
refused with one line, training lowers the cost, the checkpoint and the Python code work."""

from __future__ import annotations

import http.client
import json
import math
import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np
import pytest

import microgradnn
from microgradnn.nn import MLP
from viz.playground.toy_app import make_toy_server
from viz.playground.toy_inspect import backward_pass, neuron_detail, nudge
from viz.playground.toy_model import (costs, features, forward_point, layer_outputs,
                                      point_cost)
from viz.playground.toy_session import ToySession
from viz.playground.toy_setup import format_setup, parse_csv, parse_setup

SETUPS = [
    "data=circles&layers=4,4&feat=x1,x2,x1sq&cost=mse",
    "data=spiral&classes=3&layers=5&act=relu&cost=ce&reg=l2&rate=0.01&opt=momentum",
    "data=moons&classes=2&layers=3,3&act=sigmoid&cost=ce&reg=l1&rate=0.001",
    "data=xor&add=0.5:0.5:3,-1:1:2&layers=6&feat=x1,x2,x1x2,sinx1,sinx2&cost=mse&opt=sgd",
    "data=moons&layers=&cost=mse",
]


class Client:
    def __init__(self, server):
        parts = urlsplit(server.url)
        self.host, self.port, self.token = parts.hostname, parts.port, server.token

    def request(self, method, path, body=None, token=True, headers=None):
        conn = http.client.HTTPConnection(self.host, self.port, timeout=30)
        head = {"Host": f"{self.host}:{self.port}", **(headers or {})}
        if token:
            head["X-Microgradnn-Token"] = self.token
        data = None
        if body is not None:
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
            head.update({"Content-Type": "application/json", "Content-Length": str(len(data)),
                         "Origin": f"http://{self.host}:{self.port}"})
        conn.request(method, path, body=data, headers=head)
        response = conn.getresponse()
        raw = response.read()
        conn.close()
        return response.status, raw


@pytest.fixture
def served(tmp_path):
    server = make_toy_server("circles", save=str(tmp_path / "toy.npz")).start()
    try:
        yield server, Client(server)
    finally:
        server.stop()


def _independent_mlp(session: ToySession) -> MLP:
    """A second scalar MLP with the session's weights, built from its state_dict."""
    s = session.setup
    mlp = MLP(len(s.feat), [*s.layers, s.outputs], activation=s.act,
              output_activation=session.mlp.output_activation, seed=123)
    mlp.load_state_dict(session.mlp.state_dict())
    return mlp


@pytest.mark.parametrize("text", SETUPS)
def test_setup_round_trip(text):
    setup = parse_setup(text)
    assert parse_setup(format_setup(setup)) == setup
    assert parse_setup("#" + format_setup(setup)) == setup


def test_points_round_trip_through_the_address():
    from viz.playground.toy_setup import rounded_point, with_points
    points = [rounded_point(x, y, c) for x, y, c in
              [(1e-7, -0.00004, 1), (-2.5, 2.5, 0), (0.123456, -1.99999, 4), (-1e-9, 0.0, 2)]]
    setup = with_points(parse_setup("data=none&n=0"), points, ())
    assert parse_setup(format_setup(setup)) == setup
    assert setup.add[0] == (0.0, -0.0, 1) and setup.add[2] == (0.1235, -2.0, 4)


@pytest.mark.parametrize("text", SETUPS)
def test_neuron_numbers_equal_the_scalar_engine(text):
    session = ToySession(parse_setup(text))
    for _ in range(5):
        session.train_step()
    mlp = _independent_mlp(session)
    i = 7
    x = features(session.setup.feat, session.X[i:i + 1])[0].tolist()
    for l, layer in enumerate(session.mlp.layers, start=1):
        for j in range(layer.nout):
            shown = neuron_detail(session, i, l, j, picture=False)
            outs = forward_point(mlp, x)
            cost = point_cost(session.setup, outs[-1], int(session.y[i]))
            mlp.zero_grad()
            cost.backward()
            a = outs[l][j]
            z = a.operands[0] if a.op in ("tanh", "sigmoid", "relu") else a
            neuron = mlp.layers[l - 1].neurons[j]
            assert shown["a"] == pytest.approx(a.data, abs=1e-9)
            assert shown["z"] == pytest.approx(z.data, abs=1e-9)
            assert shown["a_vectorized"] == pytest.approx(a.data, abs=1e-9)
            assert shown["da"] == pytest.approx(a.grad, abs=1e-9)
            assert shown["dz"] == pytest.approx(z.grad, abs=1e-9)
            assert shown["cost"] == pytest.approx(cost.data, abs=1e-9)
            assert [t["dw"] for t in shown["terms"]] == pytest.approx(
                [w.grad for w in neuron.w], abs=1e-9)
            assert shown["db"] == pytest.approx(neuron.b.grad, abs=1e-9)
            lr = session.setup.lr
            assert [t["w_after"] for t in shown["terms"]] == pytest.approx(
                [w.data - lr * w.grad for w in neuron.w], abs=1e-12)


@pytest.mark.parametrize("text", SETUPS)
def test_heat_maps_equal_the_scalar_engine(text):
    """The vectorized path the heat maps and curves come from equals the scalar MLP."""
    session = ToySession(parse_setup(text))
    session.train_step()
    rng = np.random.default_rng(0)
    points = rng.uniform(-2.5, 2.5, size=(6, 2))
    F = features(session.setup.feat, points)
    outs = layer_outputs(session.mlp, F)
    for m, row in enumerate(F.tolist()):
        scalar = forward_point(session.mlp, row)
        for l in range(1, len(scalar)):
            assert outs[l - 1][m] == pytest.approx([v.data for v in scalar[l]], abs=1e-9)
        label = m % session.setup.num_classes
        cost = point_cost(session.setup, scalar[-1], label).data
        assert costs(session.setup, outs[-1][m:m + 1], np.array([label]))[0] == \
            pytest.approx(cost, abs=1e-9)


def test_backward_pass_matches_finite_differences():
    session = ToySession(parse_setup("data=moons&layers=4,3&cost=ce"))
    back = backward_pass(session, 3)
    for l, j, k in [(1, 0, 1), (2, 2, 3), (3, 0, 0)]:
        w = back["layers"][l - 1]["w"][j][k]
        step = 1e-6
        moved = nudge(session, 3, l, j, k, w + step)
        assert moved["point"]["change"] / step == pytest.approx(
            back["layers"][l - 1]["dw"][j][k], rel=1e-4, abs=1e-7)
        assert back["layers"][l - 1]["w_after"][j][k] == pytest.approx(
            w - back["lr"] * back["layers"][l - 1]["dw"][j][k], abs=1e-12)
    # the nudge put the weight back
    assert backward_pass(session, 3)["cost"] == back["cost"]


def test_training_lowers_the_cost():
    session = ToySession(parse_setup("data=circles&layers=6,6&feat=x1,x2&lr=0.03&opt=adam"))
    start = session.curves["train_loss"][-1]
    for _ in range(300):
        session.train_step()
    assert session.epoch >= 3
    assert session.curves["train_loss"][-1] < 0.8 * start


HOSTILE_SETUPS = [
    ("bogus=1", "unknown key"),
    ("data=circles&data=moons", "given twice"),
    ("layers=4,4,4,4,4,4,4", "at most 6"),
    ("layers=17", "1..16"),
    ("lr=nan", "lr must be"),
    ("lr=1e999", "lr must be"),
    ("noise=-1", "noise must be"),
    ("n=100000", "n must be"),
    ("feat=x1,x1", "twice"),
    ("feat=", "feat must"),
    ("feat=__import__('os')", "feat must"),
    ("add=9:9:1", "x and y must be"),
    ("add=0:0:7", "class must be"),
    ("add=" + ",".join(["0:0:0"] * 501), "more than 500"),
    ("drop=999&n=100", "only 100"),
    ("data=circles&" + "x" * 20000, "characters long"),
    ("layers", "expected key=value"),
]


@pytest.mark.parametrize("text, words", HOSTILE_SETUPS)
def test_hostile_setups_refused_with_one_line(served, text, words):
    server, client = served
    status, raw = client.request("POST", "/toy/api/setup", {"setup": text})
    assert status == 400, raw
    error = json.loads(raw)["error"]
    assert words in error and "\n" not in error and len(error) < 300
    status, raw = client.request("GET", "/toy/api/frame")
    assert status == 200 and json.loads(raw)["setup"].startswith("data=circles")


HOSTILE_CSV = [
    ("1,2\n", "expected x,y,class"),
    ("x,y,class\n0.1,0.2,9\n", "class"),
    ("0.1,nan,1\n", "plain numbers"),
    ("0.1,1e400,1\n", "plain numbers"),
    ("5,0,1\n", "x and y must be"),
    ("", "no points"),
    ("0,0,0\n" * 501, "more than 500"),
    ("0" * 70000, "at most"),
]


@pytest.mark.parametrize("text, words", HOSTILE_CSV)
def test_hostile_csv_refused_with_one_line(served, text, words):
    server, client = served
    status, raw = client.request("POST", "/toy/api/points", {"csv": text})
    assert status in (400, 413), raw
    error = json.loads(raw)["error"]
    assert words in error and "\n" not in error


def test_csv_points_and_clicks(served):
    server, client = served
    status, raw = client.request("POST", "/toy/api/points",
                                 {"csv": "x,y,class\n0.5,0.5,0\n-0.5,-0.5,1\n1,-1,2\n"})
    assert status == 200, raw
    setup = json.loads(raw)["setup"]
    assert "data=none" in setup and "add=0.5:0.5:0,-0.5:-0.5:1,1:-1:2" in setup
    assert parse_csv("1,2,3") == [(1.0, 2.0, 3)]
    status, raw = client.request("POST", "/toy/api/points", {"add": [0.25, -0.75, 1]})
    assert status == 200 and "0.25:-0.75:1" in json.loads(raw)["setup"]
    status, raw = client.request("POST", "/toy/api/points", {"remove": 0})
    assert status == 200 and "0.5:0.5:0" not in json.loads(raw)["setup"]
    status, raw = client.request("GET", "/toy/api/frame")
    frame = json.loads(raw)
    assert frame["classes"] == 3 and frame["sizes"][-1] == 3 and len(frame["points"]["c"]) == 3
    for bad in ({"add": [0, 0]}, {"add": [0, 0, 1.5]}, {"remove": 99}, {"nothing": 1},
                {"add": [True, 0, 1]}):
        status, raw = client.request("POST", "/toy/api/points", bad)
        assert status == 400, (bad, raw)


def test_requests_without_token_or_with_bad_queries(served):
    server, client = served
    assert client.request("GET", "/toy/api/frame", token=False)[0] == 403
    assert client.request("GET", "/toy/api/neuron?point=0&l=9&j=0")[0] == 400
    assert client.request("GET", "/toy/api/neuron?point=-1&l=1&j=0")[0] == 400
    assert client.request("GET", "/toy/api/neuron?point=x&l=1&j=0")[0] == 400
    assert client.request("GET", "/toy/stepper?point=100000")[0] == 400
    body = b'{"point": 0, "l": 1, "j": 0, "k": 0, "value": Infinity}'
    status, raw = client.request("POST", "/toy/api/nudge", body)
    assert status == 400
    assert client.request("GET", "/toy/api/frame")[0] == 200


def test_play_pause_step_reset(served):
    server, client = served
    assert client.request("POST", "/toy/api/play", {})[0] == 200
    assert client.request("POST", "/toy/api/play", {})[0] in (200, 409)
    assert client.request("POST", "/toy/api/step", {})[0] == 409
    assert client.request("POST", "/toy/api/pause", {})[0] == 200
    assert client.request("POST", "/toy/api/step", {})[0] == 200
    assert client.request("POST", "/toy/api/reset", {})[0] == 200
    frame = json.loads(client.request("GET", "/toy/api/frame")[1])
    assert frame["steps"] == 0 and frame["training"]["state"] in ("stopped", "done")


def test_checkpoint_loads_and_computes_the_same(served, tmp_path):
    server, client = served
    client.request("POST", "/toy/api/setup",
                   {"setup": "data=spiral&classes=3&layers=5,4&feat=x1,x2,x1x2&cost=ce"})
    for _ in range(3):
        assert client.request("POST", "/toy/api/step", {})[0] == 200
    status, raw = client.request("POST", "/toy/api/save", {})
    assert status == 200, raw
    path = json.loads(raw)["path"]
    model = microgradnn.load(path)
    frame = json.loads(client.request("GET", "/toy/api/frame")[1])
    X = np.array([frame["points"]["x1"][:5], frame["points"]["x2"][:5]]).T
    F = features(("x1", "x2", "x1x2"), X)
    from microgradnn.tensor import Tensor
    loaded = model(Tensor(F, dtype=np.float32)).data  # a checkpoint loads in float32
    session_w = frame["net"]
    # the scalar network of the frame's weights, computed by hand with numpy
    h = F
    for layer in session_w[:-1]:
        h = np.tanh(h @ np.array(layer["w"]).T + np.array(layer["b"]))
    logits = h @ np.array(session_w[-1]["w"]).T + np.array(session_w[-1]["b"])
    assert np.allclose(loaded, logits, atol=1e-5)
    status, raw = client.request("GET", "/toy/api/checkpoint")
    assert status == 200 and raw[:2] == b"PK"


@pytest.mark.parametrize("setup", ["data=moons&n=40&layers=3&reg=l2&rate=0.01&cost=ce",
                                   "data=spiral&n=30&classes=3&drop=2&add=0:0:4&layers=3"
                                   "&feat=x1,x2,sinx1&reg=l1&rate=0.001&cost=mse"])
def test_python_code_runs(served, tmp_path, setup):
    server, client = served
    assert client.request("POST", "/toy/api/setup", {"setup": setup})[0] == 200
    status, raw = client.request("GET", "/toy/api/code")
    assert status == 200
    code = raw.decode().replace("EPOCHS = 100", "EPOCHS = 2")
    script = tmp_path / "rebuild.py"
    script.write_text(code)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                          timeout=120, env=env)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.strip().splitlines()
    assert len(lines) == 2 and lines[0].startswith("epoch 1: cost")
    assert math.isfinite(float(lines[-1].split()[-1]))


def test_neuron_route_draws_the_graph(served):
    pytest.importorskip("graphviz")
    import shutil
    if shutil.which("dot") is None:
        pytest.skip("graphviz's dot is not installed")
    server, client = served
    status, raw = client.request("GET", "/toy/api/neuron?point=2&l=2&j=1")
    assert status == 200
    data = json.loads(raw)
    assert data["svg"].startswith("data:image/svg+xml;base64,")
    status, raw = client.request("GET", "/toy/stepper?point=2")
    assert status == 200 and b"mg-next" in raw


def _cli(*args):
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    return subprocess.Popen([sys.executable, "-m", "microgradnn", "serve", *args, "--no-browser"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def test_cli_serve_data_starts_the_2d_playground_and_stops_on_ctrl_c():
    import signal
    process = _cli("--data", "spiral", "--port", "0")
    try:
        line = process.stdout.readline()
        url = line.split("open ")[1].split()[0]
        parts = urlsplit(url)
        token = parts.query.split("token=")[1]
        conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
        conn.request("GET", "/toy/api/frame", headers={"X-Microgradnn-Token": token})
        frame = json.loads(conn.getresponse().read())
        assert frame["setup"].startswith("data=spiral") and frame["classes"] == 3
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=30) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


@pytest.mark.parametrize("args, words", [
    (("--setup", "layers=99"), "1..16"),
    (("--data", "circles", "some.npz"), "drop the checkpoint"),
    (("--data", "moonz"), "neither a 2-D data set (moons, circles, spiral, xor) nor a folder"),
])
def test_cli_serve_refuses_a_bad_setup_with_one_line(args, words):
    process = _cli(*args)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and words in lines[0]


def test_a_diverging_step_is_undone_with_one_line():
    session = ToySession(parse_setup("data=moons&layers=4&act=relu&lr=10&opt=sgd&cost=ce"))
    params = session.mlp.parameters()
    session.mlp.layers[0].neurons[0].w[0].data = 1e308
    before = [p.data for p in params]
    with pytest.raises(ValueError, match="diverged"):
        for _ in range(20):
            before = [p.data for p in params]
            session.train_step()
    assert [p.data for p in params] == before
    json.dumps(session.frame(), allow_nan=False)


def test_the_pages_neuron_numbers_over_http_equal_a_scalar_mlp_of_the_pages_weights(served):
    """What the page receives (frame weights, neuron numbers) against a scalar MLP built
    from those weights alone: the page's numbers are the scalar engine's to 1e-9."""
    server, client = served
    setup = "data=spiral&classes=3&layers=5,4&act=sigmoid&feat=x1,x2,x2sq&cost=mse"
    assert client.request("POST", "/toy/api/setup", {"setup": setup})[0] == 200
    for _ in range(4):
        assert client.request("POST", "/toy/api/step", {})[0] == 200
    frame = json.loads(client.request("GET", "/toy/api/frame?point=11")[1])
    mlp = MLP(3, [5, 4, 3], activation="sigmoid", output_activation="sigmoid", seed=99)
    mlp.load_state_dict({f"layers.{i}.{key}": np.array(layer[short])
                         for i, layer in enumerate(frame["net"])
                         for key, short in (("weight", "w"), ("bias", "b"))})
    x1, x2 = frame["points"]["x1"][11], frame["points"]["x2"][11]
    label = frame["points"]["c"][11]
    outs = forward_point(mlp, [x1, x2, x2 * x2])
    cost = sum((a - (1.0 if j == label else 0.0)) ** 2 for j, a in enumerate(outs[-1]))
    cost.backward()
    assert frame["backward"]["cost"] == pytest.approx(cost.data, abs=1e-9)
    for l, j in [(1, 0), (1, 4), (2, 3), (3, 2)]:
        status, raw = client.request("GET", f"/toy/api/neuron?point=11&l={l}&j={j}")
        shown = json.loads(raw)
        a = outs[l][j]
        assert shown["a"] == pytest.approx(a.data, abs=1e-9)
        assert shown["da"] == pytest.approx(a.grad, abs=1e-9)
        assert shown["dz"] == pytest.approx(a.operands[0].grad, abs=1e-9)
        assert [t["dw"] for t in shown["terms"]] == pytest.approx(
            [w.grad for w in mlp.layers[l - 1].neurons[j].w], abs=1e-9)
        assert frame["backward"]["layers"][l - 1]["dz"][j] == pytest.approx(
            a.operands[0].grad, abs=1e-9)


def test_viz_serve_starts_the_2d_playground_from_python():
    """viz.serve(data="moons") (or setup=...) is the 2-D playground, as `serve --data moons`;
    a model with 2-D data, a misspelt data set and a save path that is not .npz are refused."""
    import urllib.request

    import viz
    from viz.playground.launch import make_playground, stop

    url = viz.serve(data="moons")
    try:
        with urllib.request.urlopen(url.replace("/?", "/toy/api/frame?"), timeout=60) as reply:
            frame = json.loads(reply.read())
        assert frame["setup"].startswith("data=moons")
    finally:
        stop()
    server = make_playground(setup="data=xor&layers=3").start()
    try:
        with urllib.request.urlopen(server.url.replace("/?", "/toy/api/frame?"),
                                    timeout=60) as reply:
            assert json.loads(reply.read())["setup"].startswith("data=xor")
    finally:
        server.stop()
    for kwargs, words in (({"model": MLP(2, [2, 1]), "data": "circles"}, "drop the checkpoint"),
                          ({"data": "moonz"}, "neither a 2-D data set"),
                          ({"data": "moons", "save": "net.txt"}, "must name a .npz file")):
        with pytest.raises(ValueError, match=words):
            make_playground(**kwargs)


def test_a_kept_nudge_stays_and_keep_must_be_a_boolean():
    session = ToySession(parse_setup("data=moons&layers=4,3&cost=ce"))
    w = backward_pass(session, 3)["layers"][0]["w"][0][1]
    preview = nudge(session, 3, 1, 0, 1, w + 0.5)
    assert not preview["kept"] and backward_pass(session, 3)["layers"][0]["w"][0][1] == w
    kept = nudge(session, 3, 1, 0, 1, w + 0.5, keep=True)
    assert kept["kept"] and kept["point"]["after"] == preview["point"]["after"]
    assert backward_pass(session, 3)["layers"][0]["w"][0][1] == w + 0.5
    assert backward_pass(session, 3)["cost"] == pytest.approx(kept["point"]["after"], abs=1e-12)
    with pytest.raises(ValueError, match="keep must be true or false"):
        nudge(session, 3, 1, 0, 1, w, keep="yes")
