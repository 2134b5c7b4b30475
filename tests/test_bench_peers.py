"""The tensor benchmark compares like with like: its three peers train the same way.

``benchmarks/bench_tensor.py`` reports microgradnn's epoch time as a ratio to PyTorch's
and to a hand-fused numpy loop; those ratios mean something only if all three do the
same work. Here each trains a few steps on the same batches from the same weights and
must end with the same loss and the same weights.
"""

import os
import sys

import numpy as np
import pytest
import torch

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "benchmarks"))

import tensor_peers as peers  # noqa: E402
from microgradnn.optim import SGD, Adam  # noqa: E402


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(3)
    # Sparse bright strokes on black, like MNIST, and labels tied to the pixels a little.
    images = (rng.random((512, 28, 28)) < 0.2) * rng.integers(0, 256, (512, 28, 28))
    images = images.astype(np.uint8)
    labels = (images.reshape(512, -1)[:, ::97].sum(1) % 10).astype(np.int64)
    return images, labels


@pytest.mark.parametrize("sizes,batch", [((784, 16, 16, 10), 32), ((784, 32, 16, 10), 64)])
@pytest.mark.parametrize("act", ["relu", "sigmoid"])
def test_mlp_peers_agree(data, sizes, batch, act):
    images, labels = data
    order = peers.batches(len(images), batch, 0)
    weights = peers.init_weights(sizes, 0)
    net = peers.mg_mlp(sizes, weights, act)
    loss_mg = peers.mg_epoch(net, SGD(net.parameters(), lr=0.1), images, labels, order,
                             (-1, 784))
    params = [w.copy() for w in weights]
    loss_np = peers.np_epoch(params, images, labels, order, 0.1, act)
    tnet = peers.torch_mlp(torch, sizes, weights, act)
    loss_pt = peers.torch_epoch(torch, tnet, torch.optim.SGD(tnet.parameters(), lr=0.1),
                                images, labels, order, (-1, 784))
    assert loss_mg == pytest.approx(loss_np, abs=1e-4)
    assert loss_mg == pytest.approx(loss_pt, abs=1e-4)
    linears = [m for m in net if hasattr(m, "weight")]
    for k, layer in enumerate(linears):  # the weights moved the same way, too
        np.testing.assert_allclose(layer.weight.data, params[2 * k], atol=1e-5)
    # ...and away from where they started: a peer that did nothing would fail here.
    assert not np.allclose(params[0], weights[0], atol=1e-4)


@pytest.mark.parametrize("workers", [1, 2])
def test_cnn_peers_agree(data, workers):
    # workers=2: bench_tensor.py --mg-workers 2, each batch split over two processes
    images, labels = data
    order = peers.batches(len(images), 64, 1)[:4]
    net = peers.mg_cnn()
    tnet = peers.torch_cnn(torch, net.state_dict())
    opt = Adam(net.parameters(), lr=1e-3)
    if workers == 1:
        loss_mg = peers.mg_epoch(net, opt, images, labels, order, (-1, 1, 28, 28))
    else:
        with peers.mg_parallel(net, workers, (-1, 1, 28, 28)) as step:
            loss_mg = peers.mg_parallel_epoch(step, opt, images, labels, order)
    loss_pt = peers.torch_epoch(torch, tnet, torch.optim.Adam(tnet.parameters(), lr=1e-3),
                                images, labels, order, (-1, 1, 28, 28))
    assert loss_mg == pytest.approx(loss_pt, abs=1e-4)
    trained = {k: v.detach().numpy() for k, v in tnet.state_dict().items()}
    for name, value in net.state_dict().items():
        np.testing.assert_allclose(value, trained[name], atol=1e-4, err_msg=name)


@pytest.mark.skipif(__import__("microgradnn.malloc").malloc._glibc() is None,
                    reason="glibc's malloc thresholds only")
def test_pytorchs_worker_keeps_glibcs_malloc_thresholds_unless_asked():
    # PyTorch's worker imports microgradnn to build the same model; microgradnn's allocator
    # settings must not speed PyTorch up (or slow it down) behind the comparison's back.
    import subprocess

    from bench_tensor import peer_env

    probe = "import microgradnn.tensor, microgradnn.malloc as m; m.tune(); print(m.tuned())"

    def tuned(peer: str, pt_malloc: str) -> str:
        return subprocess.run([sys.executable, "-c", probe], env=peer_env(peer, pt_malloc),
                              capture_output=True, text=True, check=True).stdout.strip()

    assert tuned("pt", "default") == "False"
    assert tuned("pt", "tuned") == "True"
    assert tuned("mg", "default") == "True"  # microgradnn's own worker: as users run it
