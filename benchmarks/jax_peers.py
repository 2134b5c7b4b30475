"""JAX as a peer of ``bench_replay.py``: the MLPs of ``tensor_peers`` under ``jax.jit`` (CPU).

The same work per step as the other peers: the batch gathered and scaled to float32 by
numpy (``tensor_peers.scaled``), forward, softmax cross-entropy (mean), backward and a
plain SGD update, all in one jitted function that returns the new weights and the loss.
JAX dispatches asynchronously, so an epoch waits for its last result before it is timed.
Install with ``pip install microgradnn[bench]`` (or ``pip install jax``).
"""

from __future__ import annotations

from typing import Any, List, Sequence

import numpy as np

from tensor_peers import scaled

__all__ = ["jax_mlp", "jax_epoch"]


def jax_mlp(jax: Any, weights: Sequence[np.ndarray], act: str, lr: float) -> Any:
    """(params, step): the weights [W0, b0, W1, b1, ...] as JAX arrays and a jitted SGD step."""
    jnp = jax.numpy
    nonlinear = jax.nn.relu if act == "relu" else jax.nn.sigmoid
    layers = len(weights) // 2

    def loss_fn(params: List[Any], x: Any, y: Any) -> Any:
        h = x
        for k in range(layers):
            h = h @ params[2 * k].T + params[2 * k + 1]
            if k < layers - 1:
                h = nonlinear(h)
        logp = jax.nn.log_softmax(h)
        return -jnp.mean(jnp.take_along_axis(logp, y[:, None], axis=1))

    @jax.jit
    def step(params: List[Any], x: Any, y: Any) -> Any:
        loss, grads = jax.value_and_grad(loss_fn)(params, x, y)
        return [p - lr * g for p, g in zip(params, grads)], loss

    return [jnp.asarray(w) for w in weights], step


def jax_epoch(model: Any, images: np.ndarray, labels: np.ndarray, order: Sequence[np.ndarray],
              shape: Sequence[int]) -> float:
    """Train ``model`` (a one-element list holding (params, step)) on ``order``'s batches."""
    params, step = model[0]
    loss = None
    for idx in order:
        params, loss = step(params, scaled(images, idx, shape), labels[idx].astype(np.int32))
    model[0] = (params, step)
    return float(loss.block_until_ready())
