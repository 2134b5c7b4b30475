"""Where a training step's time goes, eager and replayed (cProfile, and each plan entry alone).

    MICROGRADNN_DATA=/work/shared/mnist OPENBLAS_NUM_THREADS=1 python benchmarks/profile_replay.py
    OPENBLAS_NUM_THREADS=1 XLA_FLAGS="--xla_cpu_multi_thread_eigen=false \
        intra_op_parallelism_threads=1" python benchmarks/profile_replay.py --gemm

For the MLP 784-16-16-10 at batch 32 (SGD, lr 0.1; ``--wide``: 784-128-64-10 at batch 64):

1. cProfile over ``--steps`` steps of each path: Python function calls per step and the
   functions that take the most time of their own (numpy's ufunc calls are C and do not
   show, except the reductions);
2. the replayed step taken apart: each entry of its plan, the loss, ``optimizer.step()``,
   the targets' check and the input's conversion run alone ``--repeat`` times, CPU time
   (``time.process_time``, steadier than wall time on a loaded machine), microseconds each;
3. ``--gemm``: the wide MLP's two large matrix products alone, numpy's against ``jax.jit``'s;
4. ``--sequence``: each part of the replayed step timed where it runs, step after step over
   ``--steps`` batches (``perf_counter_ns``, wall time, the timer's own ~0.1 us per part
   included): the caches then hold what the step before left, not the part's own data.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import sys
import time
from typing import Any

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from bench_replay import replay_epoch  # noqa: E402
from cpu_time import cpu_us  # noqa: E402
from tensor_peers import SCALE, batches, init_weights, mg_epoch, mg_mlp  # noqa: E402

from microgradnn.datasets.mnist import load_mnist  # noqa: E402
from microgradnn.optim import SGD  # noqa: E402
from microgradnn.tensor import cross_entropy, replay  # noqa: E402
from microgradnn.tensor.replay import ScaledImages, _entry_text  # noqa: E402


def gemms(repeat: int) -> None:
    """The wide MLP's two large products, numpy (OpenBLAS) against jax.jit (XLA), CPU time."""
    rng = np.random.default_rng(0)
    x, w, g = (rng.random(shape, dtype=np.float32) for shape in ((64, 784), (128, 784), (64, 128)))
    print("784-128-64-10 at batch 64, its two large products (CPU us per call):")
    print(f"{cpu_us(lambda: x @ w.T, repeat):8.1f}  numpy x @ W.T (64x784 @ 784x128)")
    print(f"{cpu_us(lambda: g.T @ x, repeat):8.1f}  numpy g.T @ x (128x64 @ 64x784)")
    try:
        import jax
    except ImportError:
        print("(jax is not installed: pip install microgradnn[bench])")
        return
    jx, jw, jg = (jax.numpy.asarray(a) for a in (x, w, g))
    forward, weight_grad = jax.jit(lambda a, b: a @ b.T), jax.jit(lambda a, b: a.T @ b)
    for name, f, a, b in (("x @ W.T", forward, jx, jw), ("g.T @ x", weight_grad, jg, jx)):
        f(a, b).block_until_ready()
        us = cpu_us(lambda f=f, a=a, b=b: f(a, b).block_until_ready(), repeat)
        print(f"{us:8.1f}  jax.jit {name}")


def sequence(step: Any, images: np.ndarray, labels: np.ndarray, order: Any) -> None:
    """Each part of the replayed step timed in place, over every batch of ``order``."""
    step(images[order[0]], labels[order[0]])  # records
    plan = list(step.plans.values())[0]
    names = (["gather the batch (images[idx], labels[idx])", "check the targets, scale the batch"]
             + [f"forward  {_entry_text(e)}" for e in plan.forward]
             + ["loss forward", "loss backward"]
             + [f"backward {_entry_text(e)}" for e in plan.flat_backward]
             + ["optimizer.step()"])
    total = np.zeros(len(names))
    clock = time.perf_counter_ns
    for idx in order:
        t0 = clock()
        images_b, targets = images[idx], labels[idx]
        t1 = clock()
        total[0] += t1 - t0
        t = plan.loss.check(targets)
        step.prepare.into(images_b, plan.x.data)
        plan.loss.place(t)
        for p, _, g in plan.grads:
            p.grad = g
        t0 = clock()
        total[1] += t0 - t1
        k = 2
        for part in ([lambda f=f, a=a: f(*a) for f, a in plan.forward]
                     + [plan.loss.forward, plan.loss.backward]
                     + [lambda f=f, a=a: f(*a) for f, a in plan.flat_backward]
                     + [step.optimizer.step]):
            part()
            t1 = clock()
            total[k] += t1 - t0
            t0, k = t1, k + 1
    total /= len(order) * 1000
    print(f"\nthe replayed step in sequence (us per step, mean over {len(order)} steps):")
    for us, name in zip(total, names):
        print(f"{us:8.1f}  {name}")
    print(f"{total.sum():8.1f}  in all")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--wide", action="store_true", help="784-128-64-10 at batch 64")
    parser.add_argument("--steps", type=int, default=500)
    parser.add_argument("--repeat", type=int, default=2000)
    parser.add_argument("--sequence", action="store_true",
                        help="only the replayed step's parts, timed in place step after step")
    parser.add_argument("--gemm", action="store_true",
                        help="only the wide MLP's two large products, numpy against jax.jit")
    args = parser.parse_args()
    if args.gemm:
        gemms(max(args.repeat // 10, 10))
        return 0
    sizes, batch = ((784, 128, 64, 10), 64) if args.wide else ((784, 16, 16, 10), 32)
    images, labels = load_mnist("train", progress=False)
    labels = labels.astype(np.int64)
    order = batches(len(images), batch, 0)[:args.steps]
    weights = init_weights(sizes, 0)
    if args.sequence:
        net = mg_mlp(sizes, weights, "relu")
        sequence(replay(net, cross_entropy, SGD(net.parameters(), lr=0.1),
                        prepare=ScaledImages((784,), SCALE)), images, labels,
                 [idx for idx in order if len(idx) == batch])
        return 0
    eager, replayed = mg_mlp(sizes, weights, "relu"), mg_mlp(sizes, weights, "relu")
    opt_eager, opt = SGD(eager.parameters(), lr=0.1), SGD(replayed.parameters(), lr=0.1)
    step = replay(replayed, cross_entropy, opt, prepare=ScaledImages((784,), SCALE))
    runs = {"eager": lambda: mg_epoch(eager, opt_eager, images, labels, order, (-1, 784)),
            "replay": lambda: replay_epoch(step, images, labels, order)}
    print(f"MLP {'-'.join(map(str, sizes))} batch {batch}, {args.steps} steps")
    for name, run in runs.items():
        run()  # warm up (and record)
        profile = cProfile.Profile()
        profile.enable()
        run()
        profile.disable()
        stats = pstats.Stats(profile, stream=io.StringIO())
        print(f"\n{name}: {stats.total_calls / args.steps:.0f} Python function calls per step")
        out = io.StringIO()
        pstats.Stats(profile, stream=out).sort_stats("tottime").print_stats(8)
        print("\n".join(line for line in out.getvalue().splitlines()[-11:] if line.strip()))
    plan = list(step.plans.values())[0]
    idx, target = order[0], labels[order[0]]
    rows = [(cpu_us(lambda f=fn, a=a: f(*a), args.repeat), f"forward  {_entry_text((fn, a))}")
            for fn, a in plan.forward]
    rows += [(cpu_us(lambda f=fn, a=a: f(*a), args.repeat), f"backward {_entry_text((fn, a))}")
             for fn, a in plan.flat_backward]
    plan.loss.place(target)
    parts = {"loss forward": plan.loss.forward, "loss backward": plan.loss.backward,
             "optimizer.step()": opt.step, "check the targets": lambda: plan.loss.check(target),
             "gather the uint8 batch": lambda: images[idx],
             "scale it into the input buffer": lambda: step.prepare.into(images[idx],
                                                                        plan.x.data),
             "the whole step, gather included": lambda: step(images[idx], target)}
    rows += [(cpu_us(fn, args.repeat), name) for name, fn in parts.items()]
    print(f"\nthe replayed step taken apart (CPU us per call, best of 3 x {args.repeat}):")
    for us, text in rows:
        print(f"{us:8.2f}  {text}")
    entries = sum(us for us, text in rows if text.startswith(("forward", "backward")))
    print(f"{entries:8.2f}  the plan's {len(plan.forward) + len(plan.flat_backward)} entries")
    return 0


if __name__ == "__main__":
    sys.exit(main())
