"""Full MNIST epochs: microgradnn.tensor vs PyTorch (2 threads) vs a hand-fused numpy loop.

    MICROGRADNN_DATA=/work/shared/mnist python benchmarks/bench_tensor.py --repeats 3 --memory

Each peer runs in its own worker process with its own thread pool, as a user would run
it: PyTorch with ``torch.set_num_threads(2)`` (the issue's setting), microgradnn and the
numpy loop with numpy's OpenBLAS as configured (one thread per core unless
``--blas-threads`` says otherwise). In one process the two pools spun against each other on
2 cores and made every PyTorch epoch 10-35x slower, which is why an earlier version of this
script had to pin OpenBLAS to one thread.

Every implementation sees the same batches (one shuffled order per epoch, uint8 images
gathered and scaled to float32 per batch) and does the same work per step: forward,
softmax cross-entropy, backward, optimizer step. The peers take turns every 100 steps,
each after the same pause, and an epoch's time is the sum, over those chunks, of the
fastest of ``--repeats`` attempts (see ``interleaved``): on a shared, noisy machine this
compares like with like. A chunk is timed inside its worker (no inter-process traffic in
the figure). The ratios are what the goals of issue 5 are about:

* MLP epochs: microgradnn / PyTorch <= 0.5 and microgradnn / hand-fused numpy <= 1.5;
* CNN epoch (Adam): microgradnn / PyTorch <= 1.0 (issue 18; it was 1.5 in issue 5);
* peak memory (max RSS) of a microgradnn training process < 600 MB (``--memory``).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

if "--worker" in sys.argv and "--blas-threads" in sys.argv:  # before numpy loads OpenBLAS
    os.environ["OPENBLAS_NUM_THREADS"] = sys.argv[sys.argv.index("--blas-threads") + 1]

import numpy as np  # noqa: E402
from tqdm import tqdm  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from microgradnn import malloc  # noqa: E402
from microgradnn.datasets.mnist import MnistUnavailableError, load_mnist  # noqa: E402
from microgradnn.optim import SGD, Adam  # noqa: E402
from tensor_peers import (CNN_BATCH, MLP_CASES, batches, init_weights, mg_accuracy,  # noqa: E402
                          mg_cnn, mg_epoch, mg_mlp, mg_parallel, mg_parallel_epoch, np_epoch,
                          torch_cnn, torch_epoch, torch_mlp)

SETTLE_SECONDS = 0.2


# ---- one worker process per peer ----

class Worker:
    """State of one peer's worker process: the data and the network being trained."""

    def __init__(self, peer: str, torch_threads: int, cpu_clock: bool = False,
                 workers: int = 1) -> None:
        self.peer = peer
        self.workers = workers  # microgradnn's processes per CNN step (DataParallelStep)
        self.cpu_clock = cpu_clock
        self.images, labels = load_mnist("train", progress=False)
        self.labels = labels.astype(np.int64)
        self.torch = None
        if peer == "pt":
            import torch
            torch.set_num_threads(torch_threads)
            self.torch = torch
        self.orders: Dict[Tuple[int, int], List[np.ndarray]] = {}
        self.case: Dict[str, Any] = {}
        self.run: Optional[Callable[[List[np.ndarray]], float]] = None

    def info(self) -> Dict[str, Any]:
        out = {"numpy": np.__version__, "malloc": "tuned" if malloc.tuned() else "default",
               "openblas_threads": os.environ.get("OPENBLAS_NUM_THREADS", "one per core")}
        if self.torch is not None:
            out.update(torch=self.torch.__version__, torch_threads=self.torch.get_num_threads())
        return out

    def setup(self, kind: str, sizes: Sequence[int], batch: int, act: str, lr: float) -> None:
        """Build this peer's network for one case, from the same starting weights."""
        if "parallel" in self.case:
            self.case["parallel"].close()
        self.case = dict(kind=kind, batch=batch)
        images, labels, torch = self.images, self.labels, self.torch
        if kind == "cnn":
            shape = (-1, 1, 28, 28)
            net = mg_cnn()
            if self.peer == "mg":
                opt = Adam(net.parameters(), lr=1e-3)
                if self.workers > 1:
                    step = self.case["parallel"] = mg_parallel(net, self.workers, shape)
                    self.run = lambda part: mg_parallel_epoch(step, opt, images, labels, part)
                else:
                    self.run = lambda part: mg_epoch(net, opt, images, labels, part, shape)
                self.case["net"] = net
            else:
                tnet = torch_cnn(torch, net.state_dict())
                topt = torch.optim.Adam(tnet.parameters(), lr=1e-3)
                self.run = lambda part: torch_epoch(torch, tnet, topt, images, labels, part, shape)
            return
        weights = init_weights(sizes, 0)
        shape = (-1, 784)
        if self.peer == "mg":
            net = mg_mlp(sizes, weights, act)
            opt = SGD(net.parameters(), lr=lr)
            self.run = lambda part: mg_epoch(net, opt, images, labels, part, shape)
            self.case["net"] = net
        elif self.peer == "np":
            params = [w.copy() for w in weights]
            self.run = lambda part: np_epoch(params, images, labels, part, lr, act)
        else:
            tnet = torch_mlp(torch, sizes, weights, act)
            topt = torch.optim.SGD(tnet.parameters(), lr=lr)
            self.run = lambda part: torch_epoch(torch, tnet, topt, images, labels, part, shape)

    def chunk(self, repeat: int, start: int, stop: int) -> Dict[str, float]:
        """Train on batches start..stop of epoch ``repeat``'s order; time it here."""
        key = (repeat, self.case["batch"])
        if key not in self.orders:
            self.orders = {key: batches(len(self.images), self.case["batch"], repeat)}
        part = self.orders[key][start:stop]
        clock = time.process_time if self.cpu_clock else time.perf_counter
        t0 = clock()
        loss = self.run(part)
        return {"seconds": clock() - t0, "loss": loss}

    def accuracy(self) -> float:
        test_images, test_labels = load_mnist("test", progress=False)
        shape = (-1, 1, 28, 28) if self.case["kind"] == "cnn" else (-1, 784)
        return mg_accuracy(self.case["net"], test_images, test_labels.astype(np.int64), shape)


def serve(worker: Any, commands: Sequence[str]) -> int:
    """A worker process's loop: its ``info()`` first, then for each JSON line in
    ({"cmd": name, ...arguments}) the JSON of ``worker.name(**arguments)``, until "quit"."""
    print(json.dumps(worker.info()), flush=True)
    for line in sys.stdin:
        msg = json.loads(line)
        cmd = msg.pop("cmd")
        if cmd == "quit":
            break
        if cmd not in commands:
            raise ValueError(f"benchmark worker: unknown command {cmd!r}")
        print(json.dumps(getattr(worker, cmd)(**msg)), flush=True)
    return 0


def worker_main(peer: str, torch_threads: int, cpu_clock: bool, workers: int = 1) -> int:
    """Answer the parent's requests, one JSON line in, one JSON line out."""
    malloc.tune()  # as fit does (MICROGRADNN_MALLOC=default in PyTorch's worker: untouched)
    return serve(Worker(peer, torch_threads, cpu_clock, workers), ("setup", "chunk", "accuracy"))


def peer_env(peer: str, pt_malloc: str) -> Dict[str, str]:
    """A worker's environment. Every worker calls ``malloc.tune()`` as ``fit`` does, which
    would set glibc's malloc thresholds for PyTorch too (``microgradnn.malloc``); with
    ``pt_malloc="default"`` PyTorch's worker runs as PyTorch does alone."""
    env = dict(os.environ)
    if peer == "pt":
        env["MICROGRADNN_MALLOC"] = pt_malloc
    return env


class Peer:
    """The parent's handle on one worker process."""

    def __init__(self, peer: str, blas_threads: Optional[int], torch_threads: int,
                 cpu_clock: bool = False, workers: int = 1, pt_malloc: str = "default") -> None:
        cmd = [sys.executable, os.path.abspath(__file__), "--worker", peer,
               "--torch-threads", str(torch_threads), "--mg-workers", str(workers)]
        if cpu_clock:
            cmd.append("--cpu-clock")
        if peer == "pt":
            # numpy only scales the batches there; keep its pool out of PyTorch's way.
            cmd += ["--blas-threads", "1"]
        elif blas_threads is not None:
            cmd += ["--blas-threads", str(blas_threads)]
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                                     env=peer_env(peer, pt_malloc))
        self.info = self._reply()

    def _reply(self) -> Any:
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"benchmark worker {self.proc.args[3]!r} exited "
                               f"(code {self.proc.wait()})")
        return json.loads(line)

    def ask(self, cmd: str, **msg: Any) -> Any:
        self.proc.stdin.write(json.dumps(dict(msg, cmd=cmd)) + "\n")
        self.proc.stdin.flush()
        return self._reply()

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.stdin.write(json.dumps({"cmd": "quit"}) + "\n")
            self.proc.stdin.close()
            self.proc.wait(timeout=30)


def interleaved(repeats: int, n: int, batch: int, peers: Dict[str, Peer], bar: "tqdm",
                chunk: int = 100) -> Dict[str, Tuple[float, float]]:
    """Epoch time of each peer, robust to other processes' bursts of load.

    Each epoch is cut into chunks of ``chunk`` steps and the peers take turns chunk by
    chunk (in a rotating order, each after the same short pause), so a burst of load
    hits all of them alike. Repeating the epoch ``repeats`` times (new shuffle each
    time), a peer's time is the sum over chunks of its fastest attempt at that chunk.
    Returns {name: (seconds per epoch, last loss)}.
    """
    best: Dict[str, List[float]] = {}
    loss: Dict[str, float] = {}
    steps = -(-n // batch)
    for r in range(repeats):
        for c, start in enumerate(range(0, steps, chunk)):
            names = list(peers)
            # Take turns in a rotating order: nobody always runs first after the pause.
            names = names[c % len(names):] + names[:c % len(names)]
            for name in names:
                # PyTorch's worker threads keep spinning for a while after it returns
                # and would slow down whoever runs next: everyone starts after a pause.
                time.sleep(SETTLE_SECONDS)
                reply = peers[name].ask("chunk", repeat=r, start=start, stop=start + chunk)
                loss[name] = reply["loss"]
                times = best.setdefault(name, [])
                if c < len(times):
                    times[c] = min(times[c], reply["seconds"])
                else:
                    times.append(reply["seconds"])
        bar.update(len(peers))
    return {name: (sum(times), loss[name]) for name, times in best.items()}


def main(argv: Sequence[str] = ()) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=2, help="epochs per measurement (best kept)")
    parser.add_argument("--activation", choices=("relu", "sigmoid"), default="relu")
    parser.add_argument("--lr", type=float, default=0.1, help="SGD learning rate for the MLPs")
    parser.add_argument("--skip-cnn", action="store_true")
    parser.add_argument("--skip-mlp", action="store_true")
    parser.add_argument("--torch-threads", type=int, default=2,
                        help="torch.set_num_threads (default 2, the issue's setting)")
    parser.add_argument("--blas-threads", type=int,
                        help="OpenBLAS threads of the microgradnn and numpy workers (default: "
                             "the environment's, else one per core)")
    parser.add_argument("--cpu-clock", action="store_true",
                        help="time each chunk by its worker's CPU time (time.process_time) "
                             "instead of wall time: on a machine loaded by other jobs, and "
                             "only meaningful with one thread per peer (--blas-threads 1 "
                             "--torch-threads 1), since idle threads that spin count too")
    parser.add_argument("--mg-workers", type=int, default=1,
                        help="processes microgradnn splits each CNN batch over "
                             "(microgradnn.parallel.DataParallelStep; default 1). With 2, both "
                             "peers use the machine's two cores: PyTorch's 2 threads, our 2 "
                             "processes; with --cpu-clock only the parent's CPU time would count")
    parser.add_argument("--pt-malloc", choices=("default", "tuned"), default="default",
                        help="glibc's malloc thresholds in PyTorch's worker: as PyTorch runs "
                             "alone (default), or microgradnn's (microgradnn/malloc.py)")
    parser.add_argument("--memory", action="store_true",
                        help="also measure the peak RSS of a microgradnn-only training process")
    parser.add_argument("--child", choices=("mlp", "cnn"), help=argparse.SUPPRESS)
    parser.add_argument("--worker", choices=("mg", "np", "pt"), help=argparse.SUPPRESS)
    args = parser.parse_args(list(argv) or None)
    if args.worker:
        return worker_main(args.worker, args.torch_threads, args.cpu_clock, args.mg_workers)
    if args.child:
        images, labels = load_mnist("train", progress=False)
        return memory_child(args.child, images, labels.astype(np.int64))
    try:  # fail here, once and clearly, rather than in every worker
        n = len(load_mnist("train", progress=False)[1])
    except MnistUnavailableError as err:
        print(f"bench_tensor: {err}", file=sys.stderr)
        return 2
    if args.mg_workers > 1 and args.cpu_clock:
        print("bench_tensor: --cpu-clock counts one process's time; it cannot time "
              "--mg-workers > 1", file=sys.stderr)
        return 2
    peers = {name: Peer(name, args.blas_threads, args.torch_threads, args.cpu_clock,
                        args.mg_workers if name == "mg" else 1, args.pt_malloc)
             for name in ("mg", "np", "pt")}
    try:
        info = peers["pt"].info
        print(f"MNIST train: {n} images; numpy {info['numpy']}, OpenBLAS threads "
              f"{peers['mg'].info['openblas_threads']} (microgradnn, numpy loop); torch "
              f"{info['torch']} ({info['torch_threads']} threads); {os.cpu_count()} cores; "
              f"activation {args.activation}; best of {args.repeats} interleaved epoch(s); "
              f"one process per peer; {'CPU' if args.cpu_clock else 'wall'} time; "
              f"microgradnn CNN steps over {args.mg_workers} process(es); glibc malloc "
              f"thresholds: microgradnn {peers['mg'].info['malloc']}, PyTorch {info['malloc']}; "
              f"load average {os.getloadavg()[0]:.2f}", flush=True)
        cases = [] if args.skip_mlp else [("mlp", sizes, batch) for sizes, batch in MLP_CASES]
        if not args.skip_cnn:
            cases.append(("cnn", (), CNN_BATCH))
        bar = tqdm(total=args.repeats * sum(3 if kind == "mlp" else 2 for kind, _, _ in cases),
                   desc="epochs", unit="epoch", file=sys.stderr)
        for kind, sizes, batch in cases:
            names = ("mg", "np", "pt") if kind == "mlp" else ("mg", "pt")
            for name in names:
                peers[name].ask("setup", kind=kind, sizes=list(sizes), batch=batch,
                                act=args.activation, lr=args.lr)
            res = interleaved(args.repeats, n, batch, {k: peers[k] for k in names}, bar)
            acc = peers["mg"].ask("accuracy")
            (t_mg, l_mg), (t_pt, l_pt) = res["mg"], res["pt"]
            if kind == "mlp":
                t_np, l_np = res["np"]
                name = "-".join(map(str, sizes)) + f" b{batch}"
                bar.write(f"MLP {name:>20}: microgradnn {t_mg:6.3f} s  pytorch {t_pt:6.3f} s  "
                          f"numpy {t_np:6.3f} s | mg/pt {t_mg / t_pt:5.3f} (goal <= 0.5)  "
                          f"mg/np {t_mg / t_np:5.2f} (goal <= 1.5) | last loss {l_mg:.4f}/"
                          f"{l_pt:.4f}/{l_np:.4f}, mg test acc {acc:.4f}")
            else:
                bar.write(f"CNN b{batch} Adam: microgradnn {t_mg:6.3f} s  pytorch {t_pt:6.3f} s | "
                          f"mg/pt {t_mg / t_pt:5.2f} (goal <= 1.0) | last loss {l_mg:.4f}/"
                          f"{l_pt:.4f}, mg test acc {acc:.4f}")
        bar.close()
    finally:
        for peer in peers.values():
            peer.close()
    print(f"load average at the end: {os.getloadavg()[0]:.2f}", flush=True)
    if args.memory:
        for kind in ("mlp", "cnn"):
            out = subprocess.run([sys.executable, os.path.abspath(__file__), "--child", kind],
                                 capture_output=True, text=True, check=True)
            print(out.stdout.strip(), flush=True)
    return 0


def peak_rss_mb() -> float:
    """Peak resident memory of this process image. ``VmHWM`` is reset by exec, unlike
    ``ru_maxrss``, which a child inherits from the (large, torch-loaded) parent."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def memory_child(kind: str, images: np.ndarray, labels: np.ndarray) -> int:
    """One epoch in a fresh process without torch; report its peak resident memory."""
    n = len(images)
    if kind == "mlp":
        net = mg_mlp((784, 128, 64, 10), init_weights((784, 128, 64, 10), 0), "relu")
        opt = SGD(net.parameters(), lr=0.1)
        mg_epoch(net, opt, images, labels, batches(n, 64, 0), (-1, 784))
    else:
        net = mg_cnn()
        mg_epoch(net, Adam(net.parameters()), images, labels, batches(n, CNN_BATCH, 0),
                 (-1, 1, 28, 28))
    peak_mb = peak_rss_mb()
    print(f"peak memory, one microgradnn {kind.upper()} epoch in its own process: "
          f"{peak_mb:.0f} MB (goal < 600 MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
