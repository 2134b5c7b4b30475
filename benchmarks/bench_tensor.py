"""Full MNIST epochs: microgradnn.tensor vs PyTorch (2 threads) vs a hand-fused numpy loop.

    MICROGRADNN_DATA=/work/shared/mnist python benchmarks/bench_tensor.py \
        --repeats 3 --blas-threads 1 --memory

``--blas-threads 1`` keeps numpy's OpenBLAS threads from spinning against PyTorch's
two threads inside the same process on a 2-core machine (both peers get slower with
it unset; the ratio to the numpy loop is unaffected).

Every implementation sees the same batches (one shuffled order per epoch, uint8 images
gathered and scaled to float32 per batch) and does the same work per step: forward,
softmax cross-entropy, backward, optimizer step. The implementations take turns every
100 steps and an epoch's time is the sum, over those chunks, of the fastest of
``--repeats`` attempts (see ``interleaved``): on a shared, noisy machine this compares
like with like. The ratios are what the goals of issue 5 are about:

* MLP epochs: microgradnn / PyTorch <= 0.5 and microgradnn / hand-fused numpy <= 1.5;
* CNN epoch (Adam): microgradnn / PyTorch <= 1.5;
* peak memory (max RSS) of a microgradnn training process < 600 MB (``--memory``).
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import time
from typing import Callable, Dict, List, Sequence, Tuple

if "--blas-threads" in sys.argv:  # must be set before numpy loads OpenBLAS
    os.environ["OPENBLAS_NUM_THREADS"] = sys.argv[sys.argv.index("--blas-threads") + 1]

import numpy as np  # noqa: E402
from tqdm import tqdm  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from microgradnn.datasets.mnist import load_mnist  # noqa: E402
from microgradnn.optim import SGD, Adam  # noqa: E402
from microgradnn.tensor import (Conv2d, Flatten, Linear, MaxPool2d, ReLU, Sequential,  # noqa: E402
                                Sigmoid, Tensor, cross_entropy, from_uint8, no_grad)

SCALE = np.float32(1.0 / 255.0)
MLP_CASES = [((784, 16, 16, 10), 32), ((784, 16, 16, 10), 128), ((784, 128, 64, 10), 64)]
CNN_BATCH = 64
SETTLE_SECONDS = 0.2


def batches(n: int, batch: int, seed: int) -> List[np.ndarray]:
    order = np.random.default_rng(seed).permutation(n)
    return [order[i:i + batch] for i in range(0, n, batch)]


def scaled(images: np.ndarray, idx: np.ndarray, shape: Tuple[int, ...]) -> np.ndarray:
    """Gather one batch of uint8 images and scale it to float32 in [0, 1] (one pass)."""
    return np.multiply(images[idx].reshape(shape), SCALE, dtype=np.float32)


def init_weights(sizes: Sequence[int], seed: int) -> List[np.ndarray]:
    """Shared starting weights: [W0, b0, W1, b1, ...] float32, PyTorch's uniform range."""
    rng = np.random.default_rng(seed)
    out = []
    for nin, nout in zip(sizes[:-1], sizes[1:]):
        bound = 1.0 / np.sqrt(nin)
        out.append(rng.uniform(-bound, bound, (nout, nin)).astype(np.float32))
        out.append(rng.uniform(-bound, bound, nout).astype(np.float32))
    return out


# ---- microgradnn.tensor ----

def mg_mlp(sizes, weights, act):
    mods = []
    for i, (nin, nout) in enumerate(zip(sizes[:-1], sizes[1:])):
        mods.append(Linear(nin, nout))
        if i < len(sizes) - 2:
            mods.append(ReLU() if act == "relu" else Sigmoid())
    net = Sequential(*mods)
    linears = [m for m in net if isinstance(m, Linear)]
    for k, layer in enumerate(linears):
        layer.weight.data[...] = weights[2 * k]
        layer.bias.data[...] = weights[2 * k + 1]
    return net


def mg_epoch(net, opt, images, labels, order, shape) -> float:
    for idx in order:
        # The same one-pass scaling as ``scaled``; uint8 pixels need no NaN scan.
        x = from_uint8(images[idx], SCALE, shape=shape)
        loss = cross_entropy(net(x), labels[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
    return loss.item()


def mg_accuracy(net, images, labels, shape) -> float:
    with no_grad():
        right = 0
        for i in range(0, len(images), 1000):
            x = Tensor(scaled(images, np.arange(i, min(i + 1000, len(images))), (-1,) + shape[1:]))
            right += int((net(x).data.argmax(1) == labels[i:i + 1000]).sum())
    return right / len(images)


# ---- hand-fused numpy: the same maths written out, no graph ----

def np_epoch(params, images, labels, order, lr, act) -> float:
    nlayers = len(params) // 2
    for idx in order:
        x = scaled(images, idx, (len(idx), 784))
        y = labels[idx]
        n = len(idx)
        acts = [x]
        h = x
        for k in range(nlayers):
            z = h @ params[2 * k].T
            z += params[2 * k + 1]
            if k < nlayers - 1:
                if act == "relu":
                    np.maximum(z, 0, out=z)
                else:
                    np.tanh(z * 0.5, out=z)
                    z *= 0.5
                    z += 0.5
                acts.append(z)
            h = z
        z = h - h.max(axis=1, keepdims=True)
        e = np.exp(z)
        s = e.sum(axis=1, keepdims=True)
        loss = (np.log(s).sum() - z[np.arange(n), y].sum()) / n
        g = e / s
        g[np.arange(n), y] -= 1.0
        g *= np.float32(1.0 / n)
        for k in range(nlayers - 1, -1, -1):
            a = acts[k]
            gw = g.T @ a
            gb = g.sum(axis=0)
            if k:
                g = g @ params[2 * k]
                if act == "relu":
                    g *= a > 0
                else:
                    g *= a * (1 - a)
            params[2 * k] -= lr * gw
            params[2 * k + 1] -= lr * gb
    return float(loss)


# ---- PyTorch ----

def torch_mlp(torch, sizes, weights, act):
    mods = []
    for i, (nin, nout) in enumerate(zip(sizes[:-1], sizes[1:])):
        mods.append(torch.nn.Linear(nin, nout))
        if i < len(sizes) - 2:
            mods.append(torch.nn.ReLU() if act == "relu" else torch.nn.Sigmoid())
    net = torch.nn.Sequential(*mods)
    with torch.no_grad():
        for p, w in zip(net.parameters(), weights):
            p.copy_(torch.from_numpy(w))
    return net


def torch_epoch(torch, net, opt, images, labels, order, shape) -> float:
    ce = torch.nn.functional.cross_entropy
    for idx in order:
        x = torch.from_numpy(scaled(images, idx, shape))
        loss = ce(net(x), torch.from_numpy(labels[idx]))
        opt.zero_grad()
        loss.backward()
        opt.step()
    return loss.item()


def interleaved(repeats: int, n: int, batch: int, runs: Dict[str, Callable[[list], float]],
                bar: "tqdm", chunk: int = 100) -> Dict[str, Tuple[float, float]]:
    """Epoch time of each run, robust to other processes' bursts of load.

    Each epoch is cut into chunks of ``chunk`` steps and the runs take turns chunk by
    chunk (in a rotating order, each after the same short pause), so a burst of load
    hits all of them alike. Repeating the epoch ``repeats`` times (new shuffle each
    time), a run's time is the sum over chunks of its fastest attempt at that chunk.
    Returns {name: (seconds per epoch, last loss)}.
    """
    best: Dict[str, List[float]] = {}
    loss: Dict[str, float] = {}
    for r in range(repeats):
        order = batches(n, batch, r)
        for c, start in enumerate(range(0, len(order), chunk)):
            part = order[start:start + chunk]
            names = list(runs)
            # Take turns in a rotating order: nobody always runs first after the pause.
            names = names[c % len(names):] + names[:c % len(names)]
            for name in names:
                run = runs[name]
                # PyTorch's worker threads keep spinning for a while after it returns
                # and would slow down whoever runs next: everyone starts after a pause.
                time.sleep(SETTLE_SECONDS)
                t0 = time.perf_counter()
                loss[name] = run(part)
                elapsed = time.perf_counter() - t0
                times = best.setdefault(name, [])
                if c < len(times):
                    times[c] = min(times[c], elapsed)
                else:
                    times.append(elapsed)
        bar.update(len(runs))
    return {name: (sum(times), loss[name]) for name, times in best.items()}


def main(argv: Sequence[str] = ()) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=2, help="epochs per measurement (best kept)")
    parser.add_argument("--activation", choices=("relu", "sigmoid"), default="relu")
    parser.add_argument("--lr", type=float, default=0.1, help="SGD learning rate for the MLPs")
    parser.add_argument("--skip-cnn", action="store_true")
    parser.add_argument("--torch-threads", type=int, default=2,
                        help="torch.set_num_threads (default 2, the issue's setting)")
    parser.add_argument("--blas-threads", type=int,
                        help="OpenBLAS threads for numpy (default: the environment's); PyTorch "
                             "always gets 2")
    parser.add_argument("--memory", action="store_true",
                        help="also measure the peak RSS of a microgradnn-only training process")
    parser.add_argument("--child", choices=("mlp", "cnn"), help=argparse.SUPPRESS)
    args = parser.parse_args(list(argv) or None)
    images, labels = load_mnist("train", progress=False)
    labels = labels.astype(np.int64)
    if args.child:
        return memory_child(args.child, images, labels)
    import torch
    torch.set_num_threads(args.torch_threads)
    test_images, test_labels = load_mnist("test", progress=False)
    n = len(images)
    blas = os.environ.get("OPENBLAS_NUM_THREADS", "default (one per core)")
    print(f"MNIST train {images.shape}, numpy {np.__version__} (OpenBLAS threads: {blas}), "
          f"torch {torch.__version__} ({torch.get_num_threads()} threads), "
          f"{os.cpu_count()} cores, activation {args.activation}, best of {args.repeats} "
          f"interleaved epoch(s)", flush=True)
    bar = tqdm(total=args.repeats * (3 * len(MLP_CASES) + (0 if args.skip_cnn else 2)),
               desc="epochs", unit="epoch", file=sys.stderr)
    for sizes, batch in MLP_CASES:
        name = "-".join(map(str, sizes)) + f" b{batch}"
        weights = init_weights(sizes, 0)
        shape = (-1, 784)
        net = mg_mlp(sizes, weights, args.activation)
        opt = SGD(net.parameters(), lr=args.lr)
        params = [w.copy() for w in weights]
        tnet = torch_mlp(torch, sizes, weights, args.activation)
        topt = torch.optim.SGD(tnet.parameters(), lr=args.lr)
        res = interleaved(args.repeats, n, batch, {
            "mg": lambda part: mg_epoch(net, opt, images, labels, part, shape),
            "np": lambda part: np_epoch(params, images, labels, part, args.lr, args.activation),
            "pt": lambda part: torch_epoch(torch, tnet, topt, images, labels, part, shape)}, bar)
        acc = mg_accuracy(net, test_images, test_labels.astype(np.int64), (-1, 784))
        (t_mg, l_mg), (t_np, l_np), (t_pt, l_pt) = res["mg"], res["np"], res["pt"]
        bar.write(f"MLP {name:>20}: microgradnn {t_mg:6.3f} s  pytorch {t_pt:6.3f} s  "
                  f"numpy {t_np:6.3f} s | mg/pt {t_mg / t_pt:5.2f} (goal <= 0.5)  "
                  f"mg/np {t_mg / t_np:5.2f} (goal <= 1.5) | last loss {l_mg:.4f}/{l_pt:.4f}/"
                  f"{l_np:.4f}, mg test acc {acc:.4f}")
    if not args.skip_cnn:
        shape = (-1, 1, 28, 28)
        rng = np.random.default_rng(0)
        net = Sequential(Conv2d(1, 8, 3, padding=1, rng=rng), ReLU(), MaxPool2d(2),
                         Conv2d(8, 16, 3, padding=1, rng=rng), ReLU(), MaxPool2d(2), Flatten(),
                         Linear(784, 10, rng=rng))
        tnet = torch.nn.Sequential(torch.nn.Conv2d(1, 8, 3, padding=1), torch.nn.ReLU(),
                                   torch.nn.MaxPool2d(2), torch.nn.Conv2d(8, 16, 3, padding=1),
                                   torch.nn.ReLU(), torch.nn.MaxPool2d(2), torch.nn.Flatten(),
                                   torch.nn.Linear(784, 10))
        tnet.load_state_dict({k: torch.from_numpy(v) for k, v in net.state_dict().items()})
        opt = Adam(net.parameters(), lr=1e-3)
        topt = torch.optim.Adam(tnet.parameters(), lr=1e-3)
        res = interleaved(args.repeats, n, CNN_BATCH, {
            "mg": lambda part: mg_epoch(net, opt, images, labels, part, shape),
            "pt": lambda part: torch_epoch(torch, tnet, topt, images, labels, part, shape)}, bar)
        acc = mg_accuracy(net, test_images, test_labels.astype(np.int64), shape)
        (t_mg, l_mg), (t_pt, l_pt) = res["mg"], res["pt"]
        bar.write(f"CNN b{CNN_BATCH} Adam: microgradnn {t_mg:6.3f} s  pytorch {t_pt:6.3f} s | "
                  f"mg/pt {t_mg / t_pt:5.2f} (goal <= 1.5) | last loss {l_mg:.4f}/{l_pt:.4f}, "
                  f"mg test acc {acc:.4f}")
    bar.close()
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
        net = Sequential(Conv2d(1, 8, 3, padding=1), ReLU(), MaxPool2d(2),
                         Conv2d(8, 16, 3, padding=1), ReLU(), MaxPool2d(2), Flatten(),
                         Linear(784, 10))
        mg_epoch(net, Adam(net.parameters()), images, labels, batches(n, CNN_BATCH, 0),
                 (-1, 1, 28, 28))
    peak_mb = peak_rss_mb()
    print(f"peak memory, one microgradnn {kind.upper()} epoch in its own process: "
          f"{peak_mb:.0f} MB (goal < 600 MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
