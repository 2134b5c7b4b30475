"""Scalar engine vs micrograd (PyPI) on micrograd's own demo work, measured in one run.

One training step = forward of MLP 2-16-16-1 on 100 moons points, hinge loss + 1e-4 L2,
backward, SGD update. Both engines start from the same weights and must produce the
same losses to 1e-9 at every step. Also: backward over a chain one million ops deep.

    python benchmarks/bench_engine.py [--steps 5] [--clock cpu]

``--clock cpu`` times each step by the process's CPU time instead of the wall clock: on a
machine shared with other jobs (load above the core count) a wall-clock step also counts
the time the process waited for a core, which swings from run to run.
"""

from __future__ import annotations

import argparse
import gc
import os
import platform
import time
import weakref

from micrograd.engine import Value as MgValue
from micrograd.nn import MLP as MgMLP

from microgradnn import Value
from microgradnn.datasets import make_moons
from microgradnn.losses import hinge_loss, l2_penalty
from microgradnn.nn import MLP


def rss_mb() -> float:
    """Resident memory of this process now (Linux), in MB."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def micrograd_copy(model: MLP) -> MgMLP:
    """A micrograd MLP holding exactly ``model``'s weights."""
    mg = MgMLP(2, [16, 16, 1])
    for mg_layer, layer in zip(mg.layers, model.layers):
        for mg_neuron, neuron in zip(mg_layer.neurons, layer.neurons):
            for mg_w, w in zip(mg_neuron.w, neuron.w):
                mg_w.data = w.data
            mg_neuron.b.data = neuron.b.data
    return mg


def micrograd_step(model: MgMLP, X, y, lr: float) -> float:
    """micrograd's demo.ipynb training step, as written there."""
    inputs = [list(map(MgValue, row)) for row in X]
    scores = list(map(model, inputs))
    losses = [(1 + -yi * si).relu() for yi, si in zip(y, scores)]
    data_loss = sum(losses) * (1.0 / len(losses))
    reg_loss = 1e-4 * sum((p * p for p in model.parameters()))
    total = data_loss + reg_loss
    model.zero_grad()
    total.backward()
    for p in model.parameters():
        p.data -= lr * p.grad
    return total.data


def our_step(model: MLP, X, y, lr: float) -> float:
    scores = [model(row) for row in X]
    total = hinge_loss(scores, y) + l2_penalty(model.parameters(), 1e-4)
    model.zero_grad()
    total.backward()
    for p in model.parameters():
        p.data -= lr * p.grad
    return total.data


def time_steps(step, model, X, y, steps: int, gc_enabled: bool, clock=time.perf_counter):
    losses, times = [], []
    if not gc_enabled:
        gc.disable()
    try:
        for k in range(steps):
            lr = 1.0 - 0.9 * k / 100
            start = clock()
            losses.append(step(model, X, y, lr))
            times.append(clock() - start)
    finally:
        gc.enable()
        gc.collect()
    return losses, min(times)


def deep_chain(n: int = 1_000_000, clock=time.perf_counter):
    base = rss_mb()
    x = Value(1.0, label="x")
    y = x
    start = clock()
    for i in range(n):
        y = y * 1.0000001
        if i == n // 2:
            middle = weakref.ref(y)
    forward = clock() - start
    built = rss_mb()
    start = clock()
    y.backward()
    backward = clock() - start
    grad = x.grad
    del y
    freed = rss_mb()
    return forward, backward, grad, base, built, freed, middle() is None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--clock", choices=("wall", "cpu"), default="wall",
                        help="time steps by wall clock (default) or by this process's CPU time")
    args = parser.parse_args()
    clock = time.process_time if args.clock == "cpu" else time.perf_counter

    X, labels = make_moons(100, noise=0.1, seed=1)
    X = X.tolist()
    y = [2.0 * v - 1.0 for v in labels.tolist()]
    ours = MLP(2, [16, 16, 1], seed=0)
    mg_gc, mg_nogc = micrograd_copy(ours), micrograd_copy(ours)

    loss_ours, t_ours = time_steps(our_step, ours, X, y, args.steps, True, clock)
    loss_mg, t_mg = time_steps(micrograd_step, mg_gc, X, y, args.steps, True, clock)
    loss_nogc, t_nogc = time_steps(micrograd_step, mg_nogc, X, y, args.steps, False, clock)
    worst = max(max(abs(a - b), abs(a - c)) for a, b, c in zip(loss_ours, loss_mg, loss_nogc))
    if worst > 1e-9:
        raise SystemExit(f"losses differ by {worst:.3g}: {loss_ours} vs {loss_mg}")

    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    print(f"training step, MLP 2-16-16-1, 100 moons points, best of {args.steps} steps "
          f"({args.clock} clock); losses agree to {worst:.1e}")
    print(f"  micrograd (gc on):   {t_mg * 1e3:8.1f} ms")
    print(f"  micrograd (gc off):  {t_nogc * 1e3:8.1f} ms")
    print(f"  microgradnn:         {t_ours * 1e3:8.1f} ms")
    print(f"  speed-up vs micrograd: {t_mg / t_ours:5.1f}x (goal >= 30x); "
          f"vs micrograd without gc: {t_nogc / t_ours:5.1f}x (goal >= 5x)")

    forward, backward, grad, base, built, freed, released = deep_chain(clock=clock)
    print(f"chain of 1,000,000 multiplications ({args.clock} clock): forward {forward:.2f} s, "
          f"backward {backward:.2f} s "
          f"(goal < 5 s), dy/dx = {grad:.6f}")
    print(f"  memory: {base:.0f} MB before, {built:.0f} MB with the graph, {freed:.0f} MB after del; "
          f"nodes released by reference counting alone: {released}")


if __name__ == "__main__":
    main()
