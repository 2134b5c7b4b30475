"""The replayed training step: MNIST epochs, eager vs replayed vs PyTorch vs JAX (jax.jit, CPU).

    MICROGRADNN_DATA=/work/shared/mnist python benchmarks/bench_replay.py --repeats 3
    MICROGRADNN_DATA=/work/shared/mnist python benchmarks/bench_replay.py --threads 1

Each peer trains in its own worker process (``bench_tensor.py``'s ``Peer``, ``serve`` and
``interleaved``: the peers take turns every 100 steps after the same pause, and an epoch's
time is the sum over chunks of the fastest of ``--repeats`` attempts), on the same batches
from the same weights, doing the same work per step: gather the uint8 batch and scale it,
forward, softmax cross-entropy, backward, optimizer step.

* ``eager``: ``microgradnn.tensor`` building its graph at every step (``tensor_peers.mg_epoch``);
* ``replay``: ``step = replay(net, cross_entropy, opt, prepare=ScaledImages(...))``
  (``microgradnn.tensor.replay``), then ``step(images[idx], labels[idx])`` per batch;
* ``pt``: PyTorch with ``--torch-threads`` threads (default 2, as ``bench_tensor.py``);
* ``jax``: one ``jax.jit`` function per step (``jax_peers``), with JAX's own threads
  (``XLA_FLAGS`` in the environment reaches its worker).

Cases: the MLPs 784-16-16-10 at batch 32 and 784-128-64-10 at batch 64 (SGD, lr 0.1, one
epoch; all four peers; the goals are replay / JAX <= 1.0 and <= 0.9), then replay against
eager alone for the README's CNN (``tensor_peers.mg_cnn``, Adam, one epoch) and the first
``--family-steps`` steps of each CNN family (Adam, batch 64): no slower than eager. The
replayed and eager losses must agree exactly (the plan repeats the eager numpy calls).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from typing import Any, Dict, List, Optional, Sequence

if "--worker" in sys.argv and "--blas-threads" in sys.argv:  # before numpy loads OpenBLAS
    os.environ["OPENBLAS_NUM_THREADS"] = sys.argv[sys.argv.index("--blas-threads") + 1]
if "--worker" in sys.argv and "--cpu" in sys.argv:  # before any library starts a thread
    os.sched_setaffinity(0, {int(sys.argv[sys.argv.index("--cpu") + 1])})

import numpy as np  # noqa: E402
from tqdm import tqdm  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from bench_families import Worker as FamilyWorker  # noqa: E402
from bench_tensor import Peer, interleaved, peer_env, serve  # noqa: E402
from tensor_peers import (SCALE, init_weights, mg_cnn, mg_epoch, mg_mlp, torch_cnn,  # noqa: E402
                          torch_epoch, torch_mlp)

from microgradnn import malloc  # noqa: E402
from microgradnn.datasets.mnist import MnistUnavailableError, load_mnist  # noqa: E402
from microgradnn.families import FAMILIES  # noqa: E402
from microgradnn.models import build_model  # noqa: E402
from microgradnn.optim import SGD, Adam  # noqa: E402
from microgradnn.tensor import cross_entropy, replay  # noqa: E402
from microgradnn.tensor.replay import ScaledImages  # noqa: E402

MLP_CASES = [((784, 16, 16, 10), 32, 1.0), ((784, 128, 64, 10), 64, 0.9)]  # sizes, batch, goal
PEERS = ("eager", "replay", "pt", "jax")


def replay_epoch(step: Any, images: np.ndarray, labels: np.ndarray,
                 order: Sequence[np.ndarray]) -> float:
    """``mg_epoch`` with the replayed step (which zeroes, backpropagates and updates)."""
    loss = 0.0
    for idx in order:
        loss, _ = step(images[idx], labels[idx])
    return loss


class Worker(FamilyWorker):
    """One peer's process: the data, and the network it trains (``chunk`` times a part of
    an epoch, as in ``bench_families.py``)."""

    def __init__(self, peer: str, torch_threads: int, cpu_clock: bool = False) -> None:
        self.peer, self.cpu_clock = peer, cpu_clock
        images, labels = load_mnist("train", progress=False)
        self.images, self.labels = images, labels.astype(np.int64)
        self.lib: Any = None
        if peer == "pt":
            import torch
            torch.set_num_threads(torch_threads)
            self.lib = torch
        elif peer == "jax":
            import jax
            jax.config.update("jax_platforms", "cpu")
            self.lib = jax
        self.batch = 32
        self.orders: Dict[Any, List[np.ndarray]] = {}
        self.run: Any = None

    def info(self) -> Dict[str, Any]:
        out = {"numpy": np.__version__,
               "openblas_threads": os.environ.get("OPENBLAS_NUM_THREADS", "one per core")}
        if self.lib is not None:
            out[self.peer] = self.lib.__version__
        return out

    def _microgradnn(self, net: Any, opt: Any, shape: Sequence[int]) -> None:
        if self.peer == "eager":
            self.run = lambda part: mg_epoch(net, opt, self.images, self.labels, part, shape)
        else:
            step = replay(net, cross_entropy, opt, prepare=ScaledImages(shape[1:], SCALE))
            self.run = lambda part: replay_epoch(step, self.images, self.labels, part)

    def setup(self, kind: str, batch: int, sizes: Sequence[int] = (), act: str = "relu",
              lr: float = 0.1) -> Dict[str, Any]:
        self.batch = batch
        images, labels, lib = self.images, self.labels, self.lib
        if kind == "mlp":
            weights, shape = init_weights(sizes, 0), (-1, 784)
            if self.peer in ("eager", "replay"):
                net = mg_mlp(sizes, weights, act)
                self._microgradnn(net, SGD(net.parameters(), lr=lr), shape)
            elif self.peer == "pt":
                tnet = torch_mlp(lib, sizes, weights, act)
                topt = lib.optim.SGD(tnet.parameters(), lr=lr)
                self.run = lambda part: torch_epoch(lib, tnet, topt, images, labels, part, shape)
            else:
                from jax_peers import jax_epoch, jax_mlp
                model = [jax_mlp(lib, weights, act, lr)]
                self.run = lambda part: jax_epoch(model, images, labels, part, shape)
            return {}
        net = mg_cnn() if kind == "cnn" else build_model({"model": kind})
        if self.peer == "pt":
            tnet = torch_cnn(lib, net.state_dict())
            topt = lib.optim.Adam(tnet.parameters(), lr=1e-3)
            self.run = lambda part: torch_epoch(lib, tnet, topt, images, labels, part,
                                                (-1, 1, 28, 28))
        else:
            self._microgradnn(net, Adam(net.parameters(), lr=1e-3), (-1, 1, 28, 28))
        return {}

    def chunk(self, repeat: int, start: int, stop: int) -> Dict[str, float]:
        started = time.process_time()
        out = super().chunk(repeat, start, stop)
        if self.cpu_clock:  # every thread of the process: JAX's dispatch thread too
            out["seconds"] = time.process_time() - started
        return out


# XLA's CPU client on one thread (``--threads 1``), as OpenBLAS and PyTorch are then
XLA_ONE_THREAD = "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"


class ReplayPeer(Peer):
    """``bench_tensor.Peer`` talking to this script's worker."""

    def __init__(self, peer: str, threads: Optional[int], torch_threads: int,  # noqa: D107
                 cpu_clock: bool = False, cpu: Optional[int] = None) -> None:
        cmd = [sys.executable, os.path.abspath(__file__), "--worker", peer,
               "--torch-threads", str(threads or torch_threads)] + (
                   ["--cpu-clock"] if cpu_clock else []) + (
                   ["--cpu", str(cpu)] if cpu is not None else [])
        if peer == "pt":  # numpy only scales the batches there
            cmd += ["--blas-threads", "1"]
        elif threads:
            cmd += ["--blas-threads", str(threads)]
        env = peer_env(peer, "default")
        if peer == "jax" and threads == 1:
            env["XLA_FLAGS"] = (env.get("XLA_FLAGS", "") + " " + XLA_ONE_THREAD).strip()
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                                     env=env)
        self.info = self._reply()


def _line(name: str, res: Dict[str, Any], goal: Optional[float]) -> str:
    t = {k: v[0] for k, v in res.items()}
    parts = [f"{k} {t[k]:6.3f} s" for k in PEERS if k in t]
    ratios = [f"replay/eager {t['replay'] / t['eager']:.3f}"]
    if "jax" in t:
        ratios.append(f"replay/jax {t['replay'] / t['jax']:.3f} (goal <= {goal})")
    if "pt" in t:
        ratios.append(f"replay/pt {t['replay'] / t['pt']:.3f}")
    same = res["replay"][1] == res["eager"][1]
    return (f"{name:>22}: {'  '.join(parts)} | {'  '.join(ratios)} | last loss replay "
            f"{res['replay'][1]:.6f} {'==' if same else '!='} eager {res['eager'][1]:.6f}")


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=3, help="attempts per chunk (min kept)")
    parser.add_argument("--activation", choices=("relu", "sigmoid"), default="relu")
    parser.add_argument("--threads", type=int, default=None,
                        help="threads of every peer: OpenBLAS's, PyTorch's and, for 1, XLA's "
                             "(default: each as it comes, OpenBLAS one per core, PyTorch "
                             "--torch-threads, JAX its own pool)")
    parser.add_argument("--torch-threads", type=int, default=2)
    parser.add_argument("--blas-threads", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--family-steps", type=int, default=100,
                        help="steps timed per CNN family (0: skip the families)")
    parser.add_argument("--skip-cnn", action="store_true", help="MLPs only")
    parser.add_argument("--skip-mlp", action="store_true", help="the CNNs only")
    parser.add_argument("--cpu-clock", action="store_true",
                        help="time each chunk by its worker's CPU time (all its threads) instead "
                             "of wall time: steadier on a loaded machine, and fair to JAX, which "
                             "computes on a thread of its own beside Python's")
    parser.add_argument("--cpu", type=int,
                        help="pin every worker (all its threads) to this one core, with --threads "
                             "1: one core each, JAX's dispatch thread and its compute thread "
                             "included (without it JAX computes beside Python on a second core)")
    parser.add_argument("--worker", choices=PEERS, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        if args.worker != "pt":
            malloc.tune()  # as fit does (PyTorch's worker runs as PyTorch does alone)
        return serve(Worker(args.worker, args.torch_threads, args.cpu_clock), ("setup", "chunk"))
    try:
        n = len(load_mnist("train", progress=False)[1])
    except MnistUnavailableError as err:
        print(f"bench_replay: {err}", file=sys.stderr)
        return 2
    names = PEERS if not args.skip_mlp else ("eager", "replay")
    if args.cpu is not None and args.cpu not in os.sched_getaffinity(0):
        print(f"bench_replay: --cpu {args.cpu} is not one of this machine's cores "
              f"{sorted(os.sched_getaffinity(0))}", file=sys.stderr)
        return 2
    peers = {name: ReplayPeer(name, args.threads, args.torch_threads, args.cpu_clock, args.cpu)
             for name in names}
    try:
        peer_text = "" if args.skip_mlp else (
            f"torch {peers['pt'].info['pt']} ({args.threads or args.torch_threads} threads); "
            f"jax {peers['jax'].info['jax']} (CPU, "
            f"{'one thread' if args.threads == 1 else 'its own threads'}); ")
        print(f"MNIST train: {n} images; numpy {peers['eager'].info['numpy']}, OpenBLAS threads "
              f"{peers['eager'].info['openblas_threads']}; {peer_text}"
              f"{os.cpu_count()} cores; activation {args.activation}; best of {args.repeats} "
              f"interleaved attempts per 100-step chunk; "
              f"{'CPU' if args.cpu_clock else 'wall'} time; "
              f"{'' if args.cpu is None else f'every worker on core {args.cpu}; '}load average "
              f"{os.getloadavg()[0]:.2f}", flush=True)
        cases = [] if args.skip_mlp else [("mlp", sizes, batch, goal, n)
                                          for sizes, batch, goal in MLP_CASES]
        if not args.skip_cnn:
            cases.append(("cnn", (), 64, None, n))
            if args.family_steps > 0:
                cases += [(kind, (), 64, None, 64 * args.family_steps) for kind in FAMILIES]
        bar = tqdm(total=len(cases), desc="cases", unit="case", file=sys.stderr)
        for kind, sizes, batch, goal, count in cases:
            names = PEERS if kind == "mlp" else ("eager", "replay")
            for name in names:
                peers[name].ask("setup", kind=kind, batch=batch, sizes=list(sizes),
                                act=args.activation)
            res = interleaved(args.repeats, count, batch, {k: peers[k] for k in names},
                              tqdm(disable=True))
            label = ("MLP " + "-".join(map(str, sizes)) if kind == "mlp" else
                     "README CNN" if kind == "cnn" else f"{kind} {args.family_steps} steps")
            bar.write(_line(f"{label} b{batch}", res, goal))
            bar.update()
        bar.close()
    finally:
        for peer in peers.values():
            peer.close()
    print(f"load average at the end: {os.getloadavg()[0]:.2f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
