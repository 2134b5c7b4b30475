"""The 2-D playground's speed: scalar training steps while the page redraws everything.

The server of ``microgradnn serve --data circles`` runs in this process with a 2-8-8-1 tanh
network on 200 training points (circles, n=250 with a test share of 0.2), batch 10, Adam,
the squared error. A separate process plays the page: it starts training and fetches
``GET /toy/api/frame`` (the decision surface, every neuron's 50x50 heat map, the weights,
the curves: everything the page redraws) back to back, or every ``--interval`` seconds as
the page does (0.12 s). Reported: training steps per second (the ``steps`` counter of the
frames over the run) and frames per second the client received. Goals: >= 20 steps/s with
>= 5 frames/s. Also: one frame's server time (``App.dispatch``, no socket), median of 50, and the
steps per second of ``ToySession.train_step`` alone, for reference.

``--browser`` adds the page itself in headless chromium (Play, then the frames it drew and the
steps per second over the run, chromium's own drawing on the same two cores).

    OPENBLAS_NUM_THREADS=1 python benchmarks/bench_toy_serve.py [--seconds 10] [--runs 3] [--browser]
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from viz.playground.server import Request  # noqa: E402
from viz.playground.toy_app import make_toy_server  # noqa: E402

SETUP = ("data=circles&n=250&noise=0.1&test=0.2&seed=0&layers=8,8&act=tanh&feat=x1,x2"
         "&lr=0.03&batch=10&opt=adam&cost=mse")
CLIENT = """
import http.client, json, sys, time
host, port, token, seconds, interval = sys.argv[1], int(sys.argv[2]), sys.argv[3], \\
    float(sys.argv[4]), float(sys.argv[5])
def call(method, path):
    conn = http.client.HTTPConnection(host, port, timeout=30)
    head = {"Host": f"{host}:{port}", "X-Microgradnn-Token": token}
    if method == "POST":
        head.update({"Origin": f"http://{host}:{port}", "Content-Length": "2",
                     "Content-Type": "application/json"})
    conn.request(method, path, body=b"{}" if method == "POST" else None, headers=head)
    data = conn.getresponse().read()
    conn.close()
    return data
call("POST", "/toy/api/play")
first = json.loads(call("GET", "/toy/api/frame"))
start, frames = time.perf_counter(), 0
while time.perf_counter() - start < seconds:
    t = time.perf_counter()
    last = json.loads(call("GET", "/toy/api/frame"))
    frames += 1
    if interval:
        time.sleep(max(0.0, interval - (time.perf_counter() - t)))
took = time.perf_counter() - start
call("POST", "/toy/api/pause")
maps = sum(len(layer["maps"]) for layer in last["maps"]["layers"]) + len(last["maps"]["inputs"])
print(json.dumps({"steps_per_s": (last["steps"] - first["steps"]) / took,
                  "frames_per_s": frames / took, "maps": maps, "grid": last["maps"]["grid"]}))
"""


def frame_server_time(server, repeat: int = 50) -> float:
    request = Request("GET", "/toy/api/frame", {}, {}, b"")
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        server.app.dispatch(request)
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def bare_steps(seconds: float = 3.0) -> float:
    """Steps per second of ``ToySession.train_step`` alone (no server, no client)."""
    from viz.playground.toy_session import ToySession
    from viz.playground.toy_setup import parse_setup

    session = ToySession(parse_setup(SETUP))
    start, steps = time.perf_counter(), 0
    while time.perf_counter() - start < seconds:
        session.train_step()
        steps += 1
    return steps / (time.perf_counter() - start)


def one_run(seconds: float, interval: float) -> dict:
    server = make_toy_server(setup=SETUP).start()
    try:
        median = frame_server_time(server)
        done = subprocess.run([sys.executable, "-c", CLIENT, "127.0.0.1", str(server.port),
                               server.token, str(seconds), str(interval)],
                              capture_output=True, text=True, timeout=seconds + 120)
        if done.returncode:
            raise SystemExit(done.stderr)
        out = json.loads(done.stdout)
        out["frame_ms"] = 1000 * median
        return out
    finally:
        server.stop()


def browser_run(seconds: float) -> dict:
    """The page itself in headless chromium: Play, then frames drawn and steps per second."""
    sys.path.insert(0, str(ROOT / "docs"))
    from make_pictures import browser_page

    server = make_toy_server(setup=SETUP).start()
    try:
        with browser_page(1360, 1000) as page:
            page.goto(server.url)
            page.wait_for_selector(".tp-neuron[data-l='2']")
            page.click("#tp-play")
            page.wait_for_timeout(1000)
            read = "() => [P.drawn, P.frame.steps, performance.now()]"
            drawn0, steps0, t0 = page.evaluate(read)
            page.wait_for_timeout(int(seconds * 1000))
            drawn1, steps1, t1 = page.evaluate(read)
            page.click("#tp-play")
    finally:
        server.stop()
    took = (t1 - t0) / 1000
    return {"frames_per_s": (drawn1 - drawn0) / took, "steps_per_s": (steps1 - steps0) / took}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--browser", action="store_true",
                        help="also the page itself in headless chromium (needs playwright)")
    args = parser.parse_args()
    print(f"# {platform.processor() or platform.machine()}, Python {platform.python_version()}, "
          f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
    print(f"# setup: {SETUP}")
    for run in range(args.runs):
        print(f"train_step alone (no server), run {run + 1}: {bare_steps():.0f} steps/s", flush=True)
    for label, interval in (("frames back to back", 0.0), ("a frame every 0.12 s (the page)", 0.12)):
        for run in range(args.runs):
            r = one_run(args.seconds, interval)
            print(f"{label}, run {run + 1}: {r['steps_per_s']:.0f} steps/s, "
                  f"{r['frames_per_s']:.1f} frames/s ({r['maps']} heat maps of "
                  f"{r['grid']}x{r['grid']} each), one frame {r['frame_ms']:.1f} ms server time",
                  flush=True)
    for run in range(args.runs if args.browser else 0):
        r = browser_run(args.seconds)
        print(f"the page in chromium, run {run + 1}: {r['steps_per_s']:.0f} steps/s, "
              f"{r['frames_per_s']:.1f} frames drawn/s (surface, every heat map, edges, curves)",
              flush=True)


if __name__ == "__main__":
    main()
