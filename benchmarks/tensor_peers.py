"""The three peers of ``bench_tensor.py``: microgradnn.tensor, a hand-fused numpy loop, PyTorch.

Each trains on the same batches from the same starting weights and does the same work
per step: forward, softmax cross-entropy, backward, optimizer step.
"""

from __future__ import annotations

import os
import sys
from typing import Dict, List, Sequence, Tuple

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from microgradnn.tensor import (Conv2d, Flatten, Linear, MaxPool2d, ReLU, Sequential,  # noqa: E402
                                Sigmoid, Tensor, cross_entropy, from_uint8, no_grad)

__all__ = ["SCALE", "MLP_CASES", "CNN_BATCH", "batches", "scaled", "init_weights", "mg_mlp",
           "mg_cnn", "mg_epoch", "mg_accuracy", "np_epoch", "torch_mlp", "torch_cnn",
           "torch_epoch"]

SCALE = np.float32(1.0 / 255.0)
MLP_CASES = [((784, 16, 16, 10), 32), ((784, 16, 16, 10), 128), ((784, 128, 64, 10), 64)]
CNN_BATCH = 64


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


def mg_parallel(net, workers: int, shape):
    """A ``DataParallelStep`` of ``workers`` processes for ``net``, on uint8 batches."""
    from microgradnn.parallel import DataParallelStep
    return DataParallelStep(net, cross_entropy, workers,
                            prepare=lambda batch: from_uint8(batch, SCALE, shape=shape))


def mg_parallel_epoch(step, opt, images, labels, order) -> float:
    """``mg_epoch`` with each batch split over the processes of ``step`` (``mg_parallel``)."""
    for idx in order:
        loss, _ = step(images[idx], labels[idx])
        opt.step()
    return loss


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


def mg_cnn(seed: int = 0) -> Sequential:
    """The issue's CNN: conv(1->8, 3, p1)-ReLU-pool2-conv(8->16, 3, p1)-ReLU-pool2-Linear(784, 10)."""
    rng = np.random.default_rng(seed)
    return Sequential(Conv2d(1, 8, 3, padding=1, rng=rng), ReLU(), MaxPool2d(2),
                      Conv2d(8, 16, 3, padding=1, rng=rng), ReLU(), MaxPool2d(2), Flatten(),
                      Linear(784, 10, rng=rng))


def torch_cnn(torch, weights: Dict[str, np.ndarray]):
    """The same CNN in PyTorch, loaded from microgradnn's ``state_dict`` (same names)."""
    net = torch.nn.Sequential(torch.nn.Conv2d(1, 8, 3, padding=1), torch.nn.ReLU(),
                              torch.nn.MaxPool2d(2), torch.nn.Conv2d(8, 16, 3, padding=1),
                              torch.nn.ReLU(), torch.nn.MaxPool2d(2), torch.nn.Flatten(),
                              torch.nn.Linear(784, 10))
    net.load_state_dict({k: torch.from_numpy(v) for k, v in weights.items()})
    return net
