"""When you outgrow microgradnn: continue training in PyTorch, on more than one process.

The road: build (or train) a model here, ``to_torch`` it, train it with PyTorch's
``DistributedDataParallel`` in two CPU processes that talk over the gloo backend on this
machine (each sees its own half of every batch; DDP averages their gradients), then bring
the result back with ``from_torch`` and check it here. On a cluster, the same worker
function runs once per machine with ``init_method`` pointing at the first one.

Needs torch (``pip install torch==2.13.0``) and MNIST (``MICROGRADNN_DATA``).
"""

from __future__ import annotations

import copy
import os
import socket
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _helpers import example_args, input_tensor, mnist_or_exit  # noqa: E402

WORLD = 2  # processes; each would be one machine (or one GPU) in real use


def free_port() -> int:
    """A TCP port on the loopback interface that nobody is listening on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def worker(rank: int, port: int, model, images, labels, steps: int, batch: int,
           out: str) -> None:
    """One DDP process: its share of each batch, gradients averaged with the other."""
    import torch
    import torch.distributed as dist
    from torch.nn.parallel import DistributedDataParallel

    torch.set_num_threads(1)
    # spawn hands every process the same shared-memory tensors: each needs its own copy.
    model = copy.deepcopy(model)
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank,
                            world_size=WORLD)
    torch.manual_seed(0)
    ddp = DistributedDataParallel(model)
    optimizer = torch.optim.SGD(ddp.parameters(), lr=0.5)
    rng = np.random.default_rng(0)  # the same order on every rank; each takes its half
    for step in range(steps):
        index = rng.choice(len(labels), size=batch, replace=False)[rank::WORLD]
        x = torch.from_numpy(images[index])
        y = torch.from_numpy(labels[index].astype(np.int64))
        loss = torch.nn.functional.cross_entropy(ddp(x), y)
        optimizer.zero_grad()
        loss.backward()  # DDP all-reduces (averages) the gradients here
        optimizer.step()
        if rank == 0 and (step % max(1, steps // 5) == 0 or step == steps - 1):
            print(f"  step {step:4d}  loss on rank 0's half-batch {loss.item():.4f}")
    # Every rank must hold the same weights: the largest difference across ranks is 0.
    flat = torch.cat([p.detach().reshape(-1) for p in model.parameters()])
    spread = flat.clone()
    dist.all_reduce(spread, op=dist.ReduceOp.MAX)
    low = flat.clone()
    dist.all_reduce(low, op=dist.ReduceOp.MIN)
    if rank == 0:
        print(f"  ranks agree on every weight: max difference {float((spread - low).max()):.1e}")
        torch.save(model.state_dict(), out)
    dist.barrier()  # both ranks leave together: a rank tearing gloo down alone can abort
    dist.destroy_process_group()
    # Leave without the interpreter's teardown: gloo's threads, destroyed there, now and then
    # abort the process ("terminate called without an active exception", seen in CI runs).
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


def main() -> None:
    args = example_args("11_pytorch_ddp", __doc__.splitlines()[0], mnist=True)
    try:
        import torch
        import torch.multiprocessing as mp
    except ImportError:
        print("This example needs PyTorch: pip install torch==2.13.0")
        return
    from microgradnn.interop import from_torch, to_torch
    from microgradnn.models import build_model
    from microgradnn.tensor import no_grad

    (train_x, train_y), (test_x, test_y) = mnist_or_exit(args.download)
    steps, n_test = (60, 2000) if args.quick else (600, 10000)
    model = build_model({"model": "mlp", "hidden": [16, 16], "activation": "relu", "seed": 0})
    print(f"1. built here: {model.spec['model']} 784-16-16-10, "
          f"{model.num_parameters()} parameters")
    twin = to_torch(model)
    print(f"2. to_torch: {type(twin).__name__} with the same weights")
    images = input_tensor(train_x, (784,)).data
    with tempfile.TemporaryDirectory() as tmp:
        out = str(Path(tmp) / "ddp.pt")
        print(f"3. DistributedDataParallel, {WORLD} processes, gloo on 127.0.0.1, "
              f"{steps} steps of batch 64:")
        mp.spawn(worker, args=(free_port(), twin, images, train_y, steps, 64, out),
                 nprocs=WORLD, join=True)
        twin.load_state_dict(torch.load(out, weights_only=True))
    back = from_torch(twin)
    with no_grad():
        logits = back(input_tensor(test_x[:n_test], (784,))).data
    accuracy = float((logits.argmax(axis=1) == test_y[:n_test]).mean())
    print(f"4. from_torch: back in microgradnn, test accuracy {accuracy:.2%} on {n_test} images")


if __name__ == "__main__":
    main()
