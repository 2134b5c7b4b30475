"""Where one training step of the README CNN (or a CNN family) spends its time, per layer
type, forward and back.

    MICROGRADNN_DATA=/work/shared/mnist python benchmarks/profile_cnn.py --steps 300
    MICROGRADNN_DATA=/work/shared/mnist python benchmarks/profile_cnn.py --peer pt --steps 300
    MICROGRADNN_DATA=/work/shared/mnist python benchmarks/profile_cnn.py --cprofile 25
    MICROGRADNN_DATA=/work/shared/mnist python benchmarks/profile_cnn.py --model vgg --steps 100

The network, batches and optimizer are ``bench_tensor.py``'s (``tensor_peers.mg_cnn``, batch
64, Adam lr 1e-3, float32), or with ``--model KIND`` a family of ``microgradnn.families``
as ``bench_families.py`` trains it (its PyTorch twin from ``torch_families``). One peer per
process, as in the benchmarks. A block (``BasicBlock``, ``Inception``) is one forward row;
its inner nodes' backward rows are named by their op ("conv2d", "batch_norm", ...).

microgradnn (``--peer mg``): every forward call of the ``Sequential``'s plan is timed (a fused
pair such as "Conv2d+ReLU" shows as one row), every node's backward function is wrapped in a
timer keyed by its op name just before ``backward()``, and ``zero_grad``/``step`` are timed
too. A row is the median over the steps of that op's time in one step (us), so bursts of load
from other processes count little; with ``--clock cpu`` the times are this process's CPU
time (``time.process_time``), which a loaded machine distorts far less than wall time.
``--cprofile N`` runs the same steps under cProfile instead and prints the N functions with
the largest own time.

PyTorch (``--peer pt``, 2 threads unless ``--torch-threads``): ``torch.profiler`` over the
same steps, the self CPU time of each aten op per step (forward and backward ops are
named apart by aten, e.g. ``aten::convolution_backward``), with glibc's malloc thresholds
as PyTorch runs alone unless ``--pt-malloc`` (microgradnn's, ``microgradnn/malloc.py``).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections import defaultdict
from typing import Dict, List

if "--blas-threads" in sys.argv:  # before numpy loads OpenBLAS
    os.environ["OPENBLAS_NUM_THREADS"] = sys.argv[sys.argv.index("--blas-threads") + 1]
if ("pt" in sys.argv or "--peer=pt" in sys.argv) and "--pt-malloc" not in sys.argv:
    os.environ["MICROGRADNN_MALLOC"] = "default"  # PyTorch as it runs alone (malloc.py)

import numpy as np  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from microgradnn.autodiff import topological_order  # noqa: E402
from microgradnn.module import Module  # noqa: E402
from microgradnn.datasets.mnist import MnistUnavailableError, load_mnist  # noqa: E402
from microgradnn.families import FAMILIES  # noqa: E402
from microgradnn.optim import Adam  # noqa: E402
from microgradnn.tensor import cross_entropy, from_uint8  # noqa: E402
from tensor_peers import CNN_BATCH, SCALE, batches, mg_cnn, scaled, torch_cnn  # noqa: E402

SHAPE = (-1, 1, 28, 28)
# "cpu" counts only the time this process ran (all its threads): on a machine loaded by
# other jobs, wall-clock medians mostly measure how often the scheduler took the core away.
CLOCKS = {"wall": time.perf_counter, "cpu": time.process_time}


def _step_name(step) -> str:
    """"Conv2d" for a module's ``__call__``, "Conv2d+ReLU" for a fused ``forward_relu``,
    "Conv2d+ReLU+MaxPool2d" for a ``forward_relu_pool`` (a ``functools.partial``)."""
    if isinstance(step, Module):  # an unfused step of the call plan is the module itself
        return type(step).__name__
    method = getattr(step, "func", step)
    owner = getattr(method, "__self__", None)
    name = type(owner).__name__ if owner is not None else getattr(method, "__name__", "?")
    fused = getattr(method, "__name__", "")
    if fused == "forward_relu":
        name += "+ReLU"
    elif fused == "forward_relu_pool":
        name += "+ReLU+MaxPool2d"
    return name


def _mg_net(model: str):
    if model == "cnn":
        return mg_cnn()
    from microgradnn.models import build_model
    return build_model({"model": model})


def _pt_net(torch, model: str):
    if model == "cnn":
        return torch_cnn(torch, mg_cnn().state_dict())
    from torch_families import copy_weights, to_torch
    net = _mg_net(model)
    return copy_weights(net, to_torch(net))


def mg_profile(images, labels, order, warmup: int, clock_name: str, model: str) -> None:
    net = _mg_net(model)
    opt = Adam(net.parameters(), lr=1e-3)
    steps = net._call_plan()
    names = [f"{i} {_step_name(s)}" for i, s in enumerate(steps)]
    fwd: Dict[str, List[float]] = defaultdict(list)
    bwd: Dict[str, List[float]] = defaultdict(list)
    other: Dict[str, List[float]] = defaultdict(list)
    clock = CLOCKS[clock_name]
    totals = []
    for k, idx in enumerate(order):
        f: Dict[str, float] = {}
        b: Dict[str, float] = defaultdict(float)
        o: Dict[str, float] = {}
        t_start = clock()
        t0 = clock()
        x = from_uint8(images[idx], SCALE, shape=SHAPE)
        o["batch (from_uint8)"] = clock() - t0
        label = {}  # node -> the row of the step that made it
        for name, step in zip(names, steps):
            t0 = clock()
            x = step(x)
            f[name] = clock() - t0
            label[id(x)] = name
        t0 = clock()
        loss = cross_entropy(x, labels[idx])
        f["loss cross_entropy"] = clock() - t0
        label[id(loss)] = "loss cross_entropy"

        def timed(fn, key):
            def run(g, ctx, ops):
                t = clock()
                out = fn(g, ctx, ops)
                b[key] += clock() - t
                return out
            return run

        t0 = clock()
        for node in topological_order(loss):
            if node.backward_fn is not None:
                node.backward_fn = timed(node.backward_fn, label.get(id(node), node.op))
        wrap = clock() - t0
        t0 = clock()
        opt.zero_grad()
        o["zero_grad"] = clock() - t0
        t0 = clock()
        loss.backward()
        o["backward loop (walk, accumulate)"] = clock() - t0 - sum(b.values())
        t0 = clock()
        opt.step()
        o["Adam step"] = clock() - t0
        total = clock() - t_start - wrap
        if k >= warmup:
            totals.append(total)
            for src, dst in ((f, fwd), (b, bwd), (o, other)):
                for key, v in src.items():
                    dst[key].append(v)
    med = {key: float(np.median(v)) * 1e6 for key, v in
           list(fwd.items()) + [("bwd " + k, v) for k, v in bwd.items()]}
    n = len(totals)
    step_us = float(np.median(totals)) * 1e6
    print(f"microgradnn {model}, {n} steps after {warmup} warm-up, batch {CNN_BATCH}, float32, "
          f"OpenBLAS threads {os.environ.get('OPENBLAS_NUM_THREADS', 'one per core')}, "
          f"{clock_name} clock, load average {os.getloadavg()[0]:.2f}")
    print(f"{'layer (median us per step)':32s} {'forward':>9s} {'backward':>9s}")
    by_type: Dict[str, List[float]] = defaultdict(lambda: [0.0, 0.0])
    for key in list(fwd):
        fw, bw = med[key], med.get("bwd " + key, 0.0)
        print(f"{key:32s} {fw:9.1f} {bw:9.1f}")
        kind = key.split(" ", 1)[1]
        by_type[kind][0] += fw
        by_type[kind][1] += bw
    for key in bwd:  # nodes made inside a block, named by their op
        if key not in fwd:
            print(f"{'  (in a block) ' + key:32s} {'':9s} {med['bwd ' + key]:9.1f}")
            by_type[key + " (in blocks)"][1] += med["bwd " + key]
    for key, v in other.items():
        print(f"{key:32s} {float(np.median(v)) * 1e6:9.1f}")
    print(f"{'layer type':32s} {'forward':>9s} {'backward':>9s} {'share of step':>14s}")
    for kind, (fw, bw) in sorted(by_type.items(), key=lambda kv: -sum(kv[1])):
        print(f"{kind:32s} {fw:9.1f} {bw:9.1f} {(fw + bw) / step_us:14.1%}")
    print(f"{'step (median of totals)':32s} {step_us:9.1f}")


def mg_cprofile(images, labels, order, top: int, model: str) -> None:
    import cProfile
    import pstats
    net = _mg_net(model)
    opt = Adam(net.parameters(), lr=1e-3)

    def run():
        for idx in order:
            loss = cross_entropy(net(from_uint8(images[idx], SCALE, shape=SHAPE)), labels[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()

    prof = cProfile.Profile()
    prof.runcall(run)
    stats = pstats.Stats(prof)
    stats.sort_stats("tottime").print_stats(top)


def pt_profile(images, labels, order, warmup: int, threads: int, clock_name: str,
               model: str) -> None:
    import torch
    from torch.profiler import ProfilerActivity, profile
    torch.set_num_threads(threads)
    clock = CLOCKS[clock_name]
    tnet = _pt_net(torch, model)
    opt = torch.optim.Adam(tnet.parameters(), lr=1e-3)
    ce = torch.nn.functional.cross_entropy

    def step(idx):
        x = torch.from_numpy(scaled(images, idx, SHAPE))
        loss = ce(tnet(x), torch.from_numpy(labels[idx]))
        opt.zero_grad()
        loss.backward()
        opt.step()

    for idx in order[:warmup]:
        step(idx)
    rest = order[warmup:]
    times = []
    for idx in rest:
        t0 = clock()
        step(idx)
        times.append(clock() - t0)
    plain = float(np.median(times))
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        for idx in rest:
            step(idx)
    print(f"PyTorch {torch.__version__} {model}, {threads} threads, {len(rest)} steps after "
          f"{warmup} warm-up; step without profiler (median, {clock_name} clock) "
          f"{plain * 1e6:.1f} us; glibc malloc thresholds "
          f"{os.environ.get('MICROGRADNN_MALLOC', 'tuned')}; load average {os.getloadavg()[0]:.2f}")
    events = sorted(prof.key_averages(), key=lambda e: -e.self_cpu_time_total)
    total = sum(e.self_cpu_time_total for e in events)
    print(f"{'aten op (self CPU time)':40s} {'us/step':>10s} {'share':>7s}")
    for e in events[:25]:
        print(f"{e.key:40s} {e.self_cpu_time_total / len(rest):10.1f} "
              f"{e.self_cpu_time_total / total:7.1%}")
    print(f"{'all ops (with profiler overhead)':40s} {total / len(rest):10.1f}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--peer", choices=("mg", "pt"), default="mg")
    parser.add_argument("--model", choices=("cnn",) + FAMILIES, default="cnn",
                        help="the README CNN (default) or a CNN family")
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--cprofile", type=int, metavar="N", help="cProfile, top N functions")
    parser.add_argument("--torch-threads", type=int, default=2)
    parser.add_argument("--pt-malloc", action="store_true",
                        help="PyTorch with microgradnn's malloc thresholds (default: glibc's)")
    parser.add_argument("--blas-threads", type=int, help="OPENBLAS_NUM_THREADS for microgradnn")
    parser.add_argument("--clock", choices=tuple(CLOCKS), default="wall",
                        help="wall time, or this process's CPU time (for a loaded machine; "
                             "use it with --blas-threads 1, or --torch-threads 1)")
    args = parser.parse_args(argv)
    try:
        images, labels = load_mnist("train", progress=False)
    except MnistUnavailableError as err:
        print(f"profile_cnn: {err}", file=sys.stderr)
        return 2
    labels = labels.astype(np.int64)
    order = batches(len(images), CNN_BATCH, 0)[:args.warmup + args.steps]
    if args.peer == "pt":
        pt_profile(images, labels, order, args.warmup, args.torch_threads, args.clock,
                   args.model)
    elif args.cprofile:
        mg_cprofile(images, labels, order, args.cprofile, args.model)
    else:
        mg_profile(images, labels, order, args.warmup, args.clock, args.model)
    return 0


if __name__ == "__main__":
    sys.exit(main())
