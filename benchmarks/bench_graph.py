"""How long graph pictures take to build and render, against the 10 s goal and a peer.

Run: ``python benchmarks/bench_graph.py [--samples 100] [--full-timeout 120]``

Cases (each rendered to SVG with the ``dot`` binary, best of ``--repeat`` runs):

* ``draw_network(MLP(784, [16, 16, 10]))`` after one backward pass;
* ``draw_graph`` of micrograd's moons demo loss (MLP(2, [16, 16, 1]), hinge loss +
  L2 over ``--samples`` samples): the automatic grouped view, and as the peer the full
  picture of the same graph (what you would get without the switch), cut off at
  ``--full-timeout`` seconds;
* ``draw_graph`` of a dense MLP(2, [32, 32, 1]) output, drawn in full: the slowest
  kind of graph still under the automatic switch;
* ``draw_graph`` of a 20,000-op chain with no neurons (merging must still bound it);
* the classic one-neuron picture (``dot``'s fixed start-up cost).

Prints one line per case and the ratios; numbers go in benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import re
import subprocess
import sys
import time
import warnings
from typing import Callable, List, Optional, Tuple

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from tqdm import tqdm  # noqa: E402

from microgradnn.datasets.toy import make_moons  # noqa: E402
from microgradnn.engine import Value  # noqa: E402
from microgradnn.losses import cross_entropy, hinge_loss, l2_penalty  # noqa: E402
from microgradnn.nn import MLP  # noqa: E402
from viz import draw_graph, draw_network  # noqa: E402

GOAL_SECONDS = 10.0


def render_seconds(source: str, timeout: float) -> Optional[float]:
    """Wall time of ``dot -Tsvg`` on ``source``; None if it ran past ``timeout``."""
    start = time.perf_counter()
    try:
        subprocess.run(["dot", "-Tsvg"], input=source.encode("utf-8"), capture_output=True,
                       check=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return None
    return time.perf_counter() - start


def best_of(repeat: int, source: str, timeout: float) -> Optional[float]:
    times = [render_seconds(source, timeout) for _ in range(repeat)]
    return None if any(t is None for t in times) else min(times)


def moons_loss(samples: int) -> Tuple[Value, MLP]:
    X, y = make_moons(samples, seed=0)
    mlp = MLP(2, [16, 16, 1], seed=0)
    scores = [mlp([Value(a) for a in row]) for row in X.tolist()]
    loss = hinge_loss(scores, (2 * y - 1).tolist()) + l2_penalty(mlp.parameters(), 1e-4)
    loss.backward()
    return loss, mlp


def mnist_network() -> MLP:
    mlp = MLP(784, [16, 16, 10], seed=0)
    loss = cross_entropy([mlp([((i * 37) % 255) / 255 for i in range(784)])], [3])
    loss.backward()
    return mlp


def dense_mlp_output() -> Value:
    mlp = MLP(2, [32, 32, 1], seed=0)
    out = mlp([Value(0.1, label="x0"), Value(0.2, label="x1")])
    out.backward()
    return out


def chain(ops: int) -> Value:
    x = Value(0.5, label="x")
    y = x
    for i in range(ops // 2):
        y = (y * 0.999).tanh() if i % 2 else y + x
    y.backward()
    return y


def classic_neuron() -> Value:
    x, w, b = Value(2.0, label="x"), Value(-3.0, label="w"), Value(6.8814, label="b")
    o = (x * w + b).tanh()
    o.backward()
    return o


def build(make_source: Callable[[], str]) -> Tuple[str, float]:
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        source = make_source()
    return source, time.perf_counter() - start


def fmt(seconds: Optional[float], timeout: float) -> str:
    return f"> {timeout:.0f} s (cut off)" if seconds is None else f"{seconds:.2f} s"


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--samples", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--full-timeout", type=float, default=120.0)
    args = parser.parse_args(argv)

    dot_version = subprocess.run(["dot", "-V"], capture_output=True, text=True).stderr.strip()
    print(f"date: {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M UTC}")
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, {platform.system()} "
          f"{platform.release()}, Python {platform.python_version()}, {dot_version}")

    loss, moons_mlp = moons_loss(args.samples)
    cases = [
        ("draw_network MLP(784,[16,16,10])", lambda: draw_network(mnist_network()).source),
        (f"draw_graph moons x{args.samples} (auto grouped)", lambda: draw_graph(loss, parameters=moons_mlp).source),
        (f"draw_graph moons x{args.samples} FULL (peer)",
         lambda: draw_graph(loss, parameters=moons_mlp, max_nodes=10 ** 9,
                            max_layout=10 ** 9).source),
        ("draw_graph dense MLP(2,[32,32,1]) (full, just under the switch)",
         lambda: draw_graph(dense_mlp_output()).source),
        ("draw_graph 20k-op chain (auto grouped)", lambda: draw_graph(chain(20_000)).source),
        ("draw_graph classic neuron", lambda: draw_graph(classic_neuron()).source),
    ]
    results = {}
    for name, make in tqdm(cases, desc="rendering", unit="case"):
        source, build_s = build(make)
        nodes = sum(1 for line in source.splitlines()
                    if re.match(r"\t+\w+ \[", line) and "style=invis" not in line)
        full = "(peer)" in name
        seconds = (render_seconds(source, args.full_timeout) if full
                   else best_of(args.repeat, source, args.full_timeout))
        results[name] = seconds
        tqdm.write(f"{name:58s} {nodes:6d} DOT nodes  build {build_s:6.2f} s  "
                   f"render {fmt(seconds, args.full_timeout)}")

    names = [n for n, _ in cases]
    network, grouped, full, dense, chained, tiny = (results[n] for n in names)
    print(f"draw_network render / 10 s goal: {network / GOAL_SECONDS:.3f}")
    print(f"grouped moons render / 10 s goal: {grouped / GOAL_SECONDS:.3f}")
    print(f"dense full render just under the switch / 10 s goal: {dense / GOAL_SECONDS:.3f}")
    print(f"20k chain grouped render / 10 s goal: {chained / GOAL_SECONDS:.3f}")
    if full is None:
        print(f"full moons render / grouped: > {args.full_timeout / grouped:.0f}x (full cut off)")
    else:
        print(f"full moons render / grouped: {full / grouped:.1f}x")
    print(f"grouped moons render / classic neuron render (dot start-up): {grouped / tiny:.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
