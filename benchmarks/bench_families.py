"""The CNN families: training time per epoch (or per N steps), microgradnn against PyTorch CPU.

    MICROGRADNN_DATA=/work/shared/mnist python benchmarks/bench_families.py --steps 200
    MICROGRADNN_DATA=/work/shared/mnist python benchmarks/bench_families.py --epoch --repeats 2

Each peer runs in its own worker process (``bench_tensor.py``'s pattern and its
``interleaved`` timing): microgradnn without torch loaded, PyTorch with
``torch.set_num_threads(T)``; microgradnn's OpenBLAS gets the same number of threads T
(``--threads``, default 1: on this shared 2-core machine one thread per process is
what both run fastest with). Both start from the same weights (microgradnn's, copied
into the same architecture in torch.nn by ``torch_families.to_torch``), see the same
batches and do the same work per step: forward, cross-entropy, backward, Adam step.
The ratio microgradnn / PyTorch is what issue 16 asks about (goal <= 1.5 per epoch),
and each worker reports its peak resident memory (goal < 1 GB).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from typing import Any, Dict, Optional

if "--worker" in sys.argv and "--threads" in sys.argv:  # before numpy loads OpenBLAS
    os.environ["OPENBLAS_NUM_THREADS"] = sys.argv[sys.argv.index("--threads") + 1]

import numpy as np  # noqa: E402
from tqdm import tqdm  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from bench_tensor import Peer, interleaved, peak_rss_mb, peer_env, serve  # noqa: E402
from tensor_peers import (batches, mg_epoch, mg_parallel, mg_parallel_epoch,  # noqa: E402
                          torch_epoch)

from microgradnn import malloc  # noqa: E402
from microgradnn.datasets.mnist import MnistUnavailableError, load_mnist  # noqa: E402
from microgradnn.families import FAMILIES  # noqa: E402
from microgradnn.models import build_model  # noqa: E402
from microgradnn.optim import Adam  # noqa: E402

SHAPE = (-1, 1, 28, 28)


class Worker:
    """One peer's process: the data, and the family being trained."""

    def __init__(self, peer: str, threads: int, workers: int = 1) -> None:
        self.peer = peer
        self.workers = workers  # microgradnn's processes per step (DataParallelStep)
        self.parallel: Any = None
        images, labels = load_mnist("train", progress=False)
        self.images, self.labels = images, labels.astype(np.int64)
        self.torch = None
        if peer == "pt":
            import torch
            torch.set_num_threads(threads)
            self.torch = torch
        self.batch = 64
        self.orders: Dict[Any, Any] = {}
        self.run = None

    def info(self) -> Dict[str, Any]:
        out = {"numpy": np.__version__, "openblas_threads": os.environ.get("OPENBLAS_NUM_THREADS"),
               "malloc": "tuned" if malloc.tuned() else "default"}
        if self.torch is not None:
            out.update(torch=self.torch.__version__, torch_threads=self.torch.get_num_threads())
        return out

    def setup(self, kind: str, batch: int) -> Dict[str, Any]:
        self.batch = batch
        net = build_model({"model": kind})
        workers = 1
        if self.parallel is not None:
            self.parallel.close()
            self.parallel = None
        if self.peer == "mg":
            opt = Adam(net.parameters(), lr=1e-3)
            if self.workers > 1:
                step = self.parallel = mg_parallel(net, self.workers, SHAPE)
                workers = self.workers
                self.run = lambda part: mg_parallel_epoch(step, opt, self.images, self.labels,
                                                          part)
            else:
                self.run = lambda part: mg_epoch(net, opt, self.images, self.labels, part,
                                                 SHAPE)
        else:
            from torch_families import copy_weights, to_torch

            tnet = copy_weights(net, to_torch(net))
            topt = self.torch.optim.Adam(tnet.parameters(), lr=1e-3)
            self.run = lambda part: torch_epoch(self.torch, tnet, topt, self.images, self.labels,
                                                part, SHAPE)
        return {"parameters": net.num_parameters(), "workers": workers}

    def chunk(self, repeat: int, start: int, stop: int) -> Dict[str, float]:
        import time

        key = (repeat, self.batch)
        if key not in self.orders:
            self.orders = {key: batches(len(self.images), self.batch, repeat)}
        part = self.orders[key][start:stop]
        t0 = time.perf_counter()
        loss = self.run(part)
        return {"seconds": time.perf_counter() - t0, "loss": loss}

    def memory(self) -> float:
        return peak_rss_mb()


def worker_main(peer: str, threads: int, workers: int = 1) -> int:
    malloc.tune()  # as fit does (MICROGRADNN_MALLOC=default in PyTorch's worker: untouched)
    return serve(Worker(peer, threads, workers), ("setup", "chunk", "memory"))


class FamilyPeer(Peer):
    """``bench_tensor.Peer`` talking to this script's worker."""

    def __init__(self, peer: str, threads: int, workers: int = 1,  # noqa: D107
                 pt_malloc: str = "default") -> None:
        cmd = [sys.executable, os.path.abspath(__file__), "--worker", peer,
               "--threads", str(threads), "--mg-workers", str(workers)]
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                                     env=peer_env(peer, pt_malloc))
        self.info = self._reply()


def main(argv: Optional[list] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--families", default=",".join(FAMILIES),
                        help="comma-separated (default: all five)")
    parser.add_argument("--steps", type=int, default=200,
                        help="training steps measured per family (default %(default)s)")
    parser.add_argument("--epoch", action="store_true", help="measure one full epoch instead")
    parser.add_argument("--batch", type=int, default=64, help="(default %(default)s)")
    parser.add_argument("--repeats", type=int, default=1,
                        help="attempts per chunk, the fastest kept (default %(default)s)")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch threads and OpenBLAS threads, the same for both peers")
    parser.add_argument("--mg-workers", type=int, default=1,
                        help="processes microgradnn splits each batch over (DataParallelStep; "
                             "default 1)")
    parser.add_argument("--pt-malloc", choices=("default", "tuned"), default="default",
                        help="glibc's malloc thresholds in PyTorch's worker: as PyTorch runs "
                             "alone (default), or microgradnn's (microgradnn/malloc.py)")
    parser.add_argument("--worker", choices=("mg", "pt"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        return worker_main(args.worker, args.threads, args.mg_workers)
    kinds = [k for k in args.families.split(",") if k]
    unknown = [k for k in kinds if k not in FAMILIES]
    if unknown:
        print(f"bench_families: unknown families {unknown}; choose from {', '.join(FAMILIES)}",
              file=sys.stderr)
        return 2
    if min(args.steps, args.batch, args.repeats, args.threads, args.mg_workers) < 1:
        print("bench_families: --steps, --batch, --repeats, --threads and --mg-workers must be "
              "positive", file=sys.stderr)
        return 2
    try:
        n_all = len(load_mnist("train", progress=False)[1])
    except MnistUnavailableError as err:
        print(f"bench_families: {err}", file=sys.stderr)
        return 2
    n = n_all if args.epoch else min(n_all, args.steps * args.batch)
    peers = {name: FamilyPeer(name, args.threads, args.mg_workers if name == "mg" else 1,
                              args.pt_malloc)
             for name in ("mg", "pt")}
    try:
        info = peers["pt"].info
        print(f"{'one epoch' if args.epoch else f'{-(-n // args.batch)} steps'} of batch "
              f"{args.batch} per family, Adam; numpy {info['numpy']}, torch {info['torch']}; "
              f"{args.threads} thread(s) each (OpenBLAS, torch); {os.cpu_count()} cores; one "
              f"process per peer; best of {args.repeats}; glibc malloc thresholds: "
              f"microgradnn {peers['mg'].info['malloc']}, PyTorch {info['malloc']}; load average "
              f"{os.getloadavg()[0]:.2f}", flush=True)
        bar = tqdm(total=args.repeats * 2 * len(kinds), desc="families", unit="run",
                   file=sys.stderr)
        rows = []
        for kind in kinds:
            built = peers["mg"].ask("setup", kind=kind, batch=args.batch)
            params = built["parameters"]
            peers["pt"].ask("setup", kind=kind, batch=args.batch)
            res = interleaved(args.repeats, n, args.batch, peers, bar, chunk=50)
            (t_mg, l_mg), (t_pt, l_pt) = res["mg"], res["pt"]
            rows.append((kind, params, t_mg, t_pt))
            bar.write(f"{kind:<10} {params:>7,} params: microgradnn {t_mg:7.2f} s "
                      f"({built['workers']} process{'es' if built['workers'] > 1 else ''})  "
                      f"pytorch {t_pt:7.2f} s | mg/pt {t_mg / t_pt:5.2f} (goal <= 1.0) | last "
                      f"loss {l_mg:.4f}/{l_pt:.4f}")
        bar.close()
        memory = {name: peer.ask("memory") for name, peer in peers.items()}
    finally:
        for peer in peers.values():
            peer.close()
    print(f"peak memory of the worker after all families: microgradnn {memory['mg']:.0f} MB, "
          f"pytorch {memory['pt']:.0f} MB (goal < 1 GB); load average at the end "
          f"{os.getloadavg()[0]:.2f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
