"""Backprop stepper: time to write the HTML page (and the GIF) against a plain graph render.

Budgets from issue 4: a neuron's stepper in under 2 s; an ``MLP(2, [4, 4, 1])``
one-sample loss graph in under 10 s. The peer, measured in the same run on the
same graph, is ``draw_graph(...).pipe("svg")``: one ``dot`` layout, which the
stepper also needs, so the ratio shows what stepping adds on top of drawing.

    python benchmarks/bench_stepper.py [--repeat 3] [--gif]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import tempfile
import time
from typing import Callable, List, Tuple

from microgradnn.autodiff import topological_order
from microgradnn.engine import Value
from microgradnn.nn import MLP
from viz import backprop_steps, draw_graph, save_animation, save_stepper


def neuron() -> Value:
    """The classic two-input tanh neuron, every node labelled."""
    x1, x2 = Value(2.0, label="x1"), Value(0.0, label="x2")
    w1, w2 = Value(-3.0, label="w1"), Value(1.0, label="w2")
    b = Value(6.8813735870195432, label="b")
    x1w1, x2w2 = x1 * w1, x2 * w2
    x1w1.label, x2w2.label = "x1w1", "x2w2"
    s = x1w1 + x2w2
    s.label = "x1w1 + x2w2"
    n = s + b
    n.label = "n"
    o = n.tanh()
    o.label = "o"
    return o


def mlp_loss() -> Value:
    """Squared error of ``MLP(2, [4, 4, 1])`` (textbook * and + nodes) on one sample."""
    model = MLP(2, [4, 4, 1], activation="tanh", fused=False, seed=0)
    y = model([Value(0.5, label="x0"), Value(-1.5, label="x1")])
    return (y - 1.0) ** 2


def median_time(fn: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def measure(name: str, build: Callable[[], Value], budget: float, repeat: int, gif: bool,
            directory: str) -> List[Tuple[str, str]]:
    root = build()
    nodes = topological_order(root)
    dot_nodes = len(nodes) + sum(1 for v in nodes if v.operands)
    n_steps = len(backprop_steps(root))
    html = os.path.join(directory, f"{name}.html")
    t_steps = median_time(lambda: backprop_steps(root), repeat)
    t_page = median_time(lambda: save_stepper(root, html), repeat)
    t_peer = median_time(lambda: draw_graph(root).pipe(format="svg"), repeat)
    size_kb = os.path.getsize(html) / 1024
    print(f"{name}: {len(nodes)} values, {dot_nodes} DOT nodes, {n_steps} steps, "
          f"page {size_kb:.0f} KiB")
    print(f"  backprop_steps            {t_steps * 1000:9.1f} ms")
    print(f"  save_stepper (HTML)       {t_page * 1000:9.1f} ms   budget {budget:.0f} s: "
          f"{'OK' if t_page < budget else 'OVER'}")
    print(f"  peer draw_graph -> svg    {t_peer * 1000:9.1f} ms   "
          f"stepper / peer = {t_page / t_peer:.2f}")
    rows = [(name, f"{len(nodes)} values / {dot_nodes} DOT nodes / {n_steps} steps"),
            ("save_stepper", f"{t_page:.3f} s (budget {budget:.0f} s)"),
            ("draw_graph svg (peer)", f"{t_peer:.3f} s, ratio {t_page / t_peer:.2f}")]
    if gif:
        path = os.path.join(directory, f"{name}.gif")
        t_gif = median_time(lambda: save_animation(root, path, progress=False), 1)
        print(f"  save_animation (GIF)      {t_gif * 1000:9.1f} ms   "
              f"({n_steps + 1} frames, {os.path.getsize(path) / 1024:.0f} KiB)")
        rows.append(("save_animation gif", f"{t_gif:.3f} s"))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="runs per measurement (median)")
    parser.add_argument("--gif", action="store_true", help="also time the GIF (one run)")
    args = parser.parse_args()
    print(f"python {platform.python_version()} on {platform.machine()}, {os.cpu_count()} cores; "
          f"median of {args.repeat}")
    with tempfile.TemporaryDirectory() as directory:
        measure("neuron", neuron, 2.0, args.repeat, args.gif, directory)
        measure("mlp_2_4_4_1", mlp_loss, 10.0, args.repeat, args.gif, directory)


if __name__ == "__main__":
    main()
