"""How far microgradnn and the hand-fused numpy loop of ``bench_tensor.py`` drift apart.

    MICROGRADNN_DATA=/work/shared/mnist python benchmarks/peer_drift.py --epochs 5

Both train MLP 784-16-16-10 (ReLU, SGD lr 0.1, batch 32) from the same weights on the
same shuffles, in one process. Each epoch prints both last-batch losses and the largest
difference between their weights: float32 rounding in different summation orders, and
how training amplifies it.
"""

from __future__ import annotations

import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from microgradnn.datasets.mnist import load_mnist  # noqa: E402
from microgradnn.optim import SGD  # noqa: E402
from tensor_peers import batches, init_weights, mg_epoch, mg_mlp, np_epoch  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=5)
    args = parser.parse_args()
    images, labels = load_mnist("train", progress=False)
    labels = labels.astype(np.int64)
    sizes = (784, 16, 16, 10)
    weights = init_weights(sizes, 0)
    net = mg_mlp(sizes, weights, "relu")
    opt = SGD(net.parameters(), lr=0.1)
    params = [w.copy() for w in weights]
    linears = [m for m in net if hasattr(m, "weight")]
    for epoch in range(args.epochs):
        order = batches(len(images), 32, epoch)
        loss_mg = mg_epoch(net, opt, images, labels, order, (-1, 784))
        loss_np = np_epoch(params, images, labels, order, 0.1, "relu")
        diff = max(float(np.abs(layer.weight.data - params[2 * k]).max())
                   for k, layer in enumerate(linears))
        print(f"epoch {epoch + 1}: last loss microgradnn {loss_mg:.4f}, numpy {loss_np:.4f}; "
              f"largest weight difference {diff:.1e}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
