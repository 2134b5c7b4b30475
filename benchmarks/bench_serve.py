"""The playground's speed: one drawn update, and training in the app against the CLI.

1. One drawn update: the server's time for ``POST /api/input`` with a 140x140 drawing (JSON
   parsed, the drawing made MNIST-style, forward and backward of the example and of the
   32-image mini-batch by ``explain_data``, the page's JSON written), measured around the
   app's own dispatch (``App.dispatch``, no socket) and, for reference, the round trip over
   HTTP on 127.0.0.1. Goals: median <= 50 ms for 784-16-16-10, <= 250 ms for the README CNN
   (conv3x3:16-pool-conv3x3:32-pool-fc128-10). Untrained weights (the cost does not depend
   on their values).
2. Training steps per second for three epochs (3 x 1875 steps of batch 32, SGD lr 0.1, the
   784-16-16-10 sigmoid network with the lectures' cost): in the app, with a separate
   process polling ``/api/train/status`` every 0.4 s as the page does, against
   ``microgradnn train`` with the same settings (its printed epoch time; evaluation is left
   out of both). Goal: the app >= 0.8x. Runs alternate, ``--runs`` of each.

    MICROGRADNN_DATA=... OPENBLAS_NUM_THREADS=1 python benchmarks/bench_serve.py [--repeat 30]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from microgradnn.models import build_model, describe  # noqa: E402
from viz.playground.launch import make_server  # noqa: E402
from viz.playground.server import Request  # noqa: E402

MODELS = [({"model": "mlp", "hidden": [16, 16], "activation": "sigmoid", "seed": 0}, "mse", 50),
          ({"model": "cnn", "channels": [16, 32], "hidden": [128], "seed": 0},
           "cross-entropy", 250)]
EPOCHS = 3
STEPS = 1875 * EPOCHS
TRAIN = ["--model", "mlp", "--hidden", "16,16", "--activation", "sigmoid", "--loss", "mse",
         "--optimizer", "sgd", "--lr", "0.1", "--epochs", str(EPOCHS), "--batch-size", "32",
         "--seed", "0"]
POLLER = """
import sys, time, urllib.request
url = sys.argv[1]
while True:
    urllib.request.urlopen(url, timeout=30).read()
    time.sleep(0.4)
"""


def drawings(n: int):
    """n different 140x140 drawings of a "3"-like stroke, shifted a little each time."""
    out = []
    for i in range(n):
        grid = np.zeros((140, 140))
        t = np.linspace(-2.4, 2.4, 200)
        for cy in (45, 95):
            ys = (cy + 22 * np.sin(t) + i % 7).astype(int)
            xs = (70 + 25 * np.cos(t) + i % 5).astype(int)
            for dy in range(-4, 5):
                for dx in range(-4, 5):
                    grid[np.clip(ys + dy, 0, 139), np.clip(xs + dx, 0, 139)] = 1.0
        out.append(json.dumps({"drawing": grid.tolist()}).encode())
    return out


def drawn_update(spec, loss, repeat):
    server = make_server(build_model(spec), loss=loss)
    app, host = server.app, f"127.0.0.1:{server.port}"
    bodies = drawings(repeat + 1)
    times = []
    for body in bodies:
        request = Request("POST", "/api/input", {}, {"Host": host}, body)
        started = time.perf_counter()
        response = app.dispatch(request)
        times.append(time.perf_counter() - started)
        assert response.status == 200
    size = len(response.body)
    server.start()
    try:
        url = f"http://{host}/api/input?token={server.token}"
        trips = []
        for body in bodies:
            req = urllib.request.Request(url, data=body, headers={"Origin": f"http://{host}"})
            started = time.perf_counter()
            urllib.request.urlopen(req, timeout=60).read()
            trips.append(time.perf_counter() - started)
    finally:
        server.stop()
    return statistics.median(times[1:]), statistics.median(trips[1:]), size


def cli_steps_per_second():
    env = dict(os.environ, PYTHONPATH=str(ROOT), OPENBLAS_NUM_THREADS="1")
    result = subprocess.run([sys.executable, "-m", "microgradnn", "train", "mnist", *TRAIN],
                            capture_output=True, text=True, env=env, timeout=600, check=True)
    seconds = [float(m) for m in re.findall(r"epoch \d+: .*?, ([0-9.]+) s",
                                            result.stdout + result.stderr)]
    assert len(seconds) == EPOCHS, result.stdout + result.stderr
    return STEPS / sum(seconds)


def app_steps_per_second():
    server = make_server(None).start()
    base = f"http://127.0.0.1:{server.port}"
    poller = subprocess.Popen([sys.executable, "-c", POLLER,
                               f"{base}/api/train/status?token={server.token}"])
    try:
        body = json.dumps({"optimizer": "sgd", "lr": 0.1, "batch_size": 32, "epochs": EPOCHS,
                           "eval_every": 10**6}).encode()
        req = urllib.request.Request(f"{base}/api/train/start?token={server.token}",
                                     data=body, headers={"Origin": base})
        urllib.request.urlopen(req, timeout=60).read()
        deadline = time.monotonic() + 600
        while server.app.jobs.running and time.monotonic() < deadline:
            time.sleep(0.1)
        status = server.app.jobs.status()
        assert status["state"] == "done" and status["step"] == STEPS, status
        return status["steps_per_second"]
    finally:
        poller.kill()
        poller.wait()
        server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    print(f"# {platform.node()}, {os.cpu_count()} cores, "
          f"OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS')}, "
          f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
    print("| model | one drawn update, server (median) | goal | over HTTP | JSON size |")
    print("|---|---|---|---|---|")
    for spec, loss, goal in MODELS:
        server_time, trip, size = drawn_update(spec, loss, args.repeat)
        print(f"| {describe(spec)} | {server_time * 1000:.1f} ms | <= {goal} ms | "
              f"{trip * 1000:.1f} ms | {size / 1024:.0f} KB |", flush=True)
    cli, app = [], []
    for _ in range(args.runs):
        cli.append(cli_steps_per_second())
        app.append(app_steps_per_second())
    print(f"\ntraining steps/s, 784-16-16-10 sigmoid mse, SGD 0.1, batch 32, {EPOCHS} epochs "
          f"({args.runs} runs each, alternating)")
    print(f"microgradnn train: {', '.join(f'{v:.0f}' for v in cli)} (median "
          f"{statistics.median(cli):.0f})")
    print(f"in the app, polled every 0.4 s: {', '.join(f'{v:.0f}' for v in app)} (median "
          f"{statistics.median(app):.0f})")
    print(f"ratio app / CLI (medians): {statistics.median(app) / statistics.median(cli):.2f}x "
          f"(goal >= 0.8x)")


if __name__ == "__main__":
    main()
