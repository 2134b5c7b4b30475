"""Choosing an example worth explaining: the first one the model gets wrong, or its least sure.

A well-classified digit has gradients near zero everywhere (the cost is already small); a
misclassified or uncertain one shows what the network would change. ``pick_example``
scans a test set in chunks (``wrong`` stops at the first mistake) and returns the index
with a sentence saying why it was chosen.

* ``"wrong"``: the first image whose prediction (the largest output) is not its label;
* ``"unsure"``: the image whose top output is lowest: the top softmax probability for a
  cross-entropy model, the top output activation ``a[L][j] = σ(z[L][j])`` for one
  trained with the lectures' cost.
"""

from __future__ import annotations

from typing import Any, Optional, Tuple

import numpy as np

from microgradnn.activations import sigmoid_array
from microgradnn.tensor.functional import shifted_exp
from microgradnn.training import predict_logits

__all__ = ["pick_example", "PICKS"]

PICKS = ("wrong", "unsure")


def _top(logits: np.ndarray, loss: str) -> np.ndarray:
    """The top output of each row: softmax probability, or sigmoid activation for mse."""
    if loss == "mse":
        return sigmoid_array(logits.max(axis=1))
    _, _, total = shifted_exp(logits, axis=1)  # the top class's exp(0) = 1 over the sum
    return 1.0 / total[:, 0]


def pick_example(model: Any, images: np.ndarray, labels: np.ndarray, how: str,
                 loss: str = "cross-entropy", chunk: int = 500,
                 progress: bool = False) -> Tuple[Optional[int], str]:
    """(index, why) of the example ``how`` picks (see the module doc); (None, why) if none."""
    if how not in PICKS:
        raise ValueError(f"pick: expected one of {', '.join(PICKS)}, got {how!r}")
    n = len(labels)
    starts = range(0, n, chunk)
    if progress:
        from tqdm import tqdm

        goal = "the first misclassified" if how == "wrong" else "the least sure"
        starts = tqdm(starts, desc=f"looking for {goal} image", unit="chunk", leave=False)
    best: Tuple[float, int] = (np.inf, -1)
    for start in starts:
        logits = predict_logits(model, images[start:start + chunk])
        predicted = logits.argmax(axis=1)
        if how == "wrong":
            wrong = np.flatnonzero(predicted != labels[start:start + chunk])
            if wrong.size:
                i = start + int(wrong[0])
                return i, (f"the first misclassified test image: predicted "
                           f"{int(predicted[wrong[0]])}, label {int(labels[i])}")
        else:
            top = _top(logits, loss)
            k = int(np.argmin(top))
            if top[k] < best[0]:
                best = (float(top[k]), start + k)
    if how == "wrong":
        return None, f"no test image among the {n} is misclassified"
    value, i = best
    what = "top output activation" if loss == "mse" else "top probability"
    return i, f"the least sure test image: its {what} is {value:.4f}"
