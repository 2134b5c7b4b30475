"""How good are the predictions: accuracy and the confusion matrix (numpy, no graph)."""

from __future__ import annotations

from typing import Any, Optional

import numpy as np

__all__ = ["confusion_matrix", "accuracy", "MAX_CLASSES"]

MAX_CLASSES = 2048  # a (k, k) int64 matrix of at most 32 MB


def _class_ids(name: str, values: Any) -> np.ndarray:
    array = np.asarray(values)
    if array.ndim != 1:
        raise ValueError(f"confusion_matrix: {name} must be one class id per sample (1-D), "
                         f"got shape {array.shape}")
    if array.size and array.dtype.kind not in "iu":
        if array.dtype.kind != "f" or not np.all(array == np.round(array)):
            raise TypeError(f"confusion_matrix: {name} must be integer class ids, got dtype "
                            f"{array.dtype}")
    return array.astype(np.int64)


def confusion_matrix(labels: Any, predictions: Any, num_classes: Optional[int] = None) -> np.ndarray:
    """Counts ``cm[true, predicted]`` as an int64 (k, k) array; row = true class, column =
    predicted class. ``k`` is ``num_classes`` if given, else one more than the largest id."""
    labels = _class_ids("labels", labels)
    predictions = _class_ids("predictions", predictions)
    if labels.shape != predictions.shape:
        raise ValueError(f"confusion_matrix: {labels.shape[0]} labels but "
                         f"{predictions.shape[0]} predictions")
    if labels.size and min(labels.min(), predictions.min()) < 0:
        raise ValueError("confusion_matrix: class ids must be >= 0")
    largest = int(max(labels.max(initial=0), predictions.max(initial=0)))
    k = largest + 1 if num_classes is None else num_classes
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 1 <= k <= MAX_CLASSES:
        raise ValueError(f"confusion_matrix: the number of classes must be in 1..{MAX_CLASSES}, "
                         f"got {k!r}")
    if labels.size and largest >= k:
        raise ValueError(f"confusion_matrix: class id {largest} is >= num_classes={k}")
    cm = np.zeros((k, k), dtype=np.int64)
    np.add.at(cm, (labels, predictions), 1)
    return cm


def accuracy(labels: Any, predictions: Any) -> float:
    """The fraction of predictions equal to the labels, in [0, 1]."""
    labels, predictions = np.asarray(labels), np.asarray(predictions)
    if labels.shape != predictions.shape or labels.size == 0:
        raise ValueError(f"accuracy: need as many predictions as labels (and at least one), "
                         f"got shapes {labels.shape} and {predictions.shape}")
    return float((labels == predictions).mean())
