"""metrics: the one confusion matrix and accuracy of the library."""

from __future__ import annotations

import numpy as np
import pytest

from microgradnn.metrics import MAX_CLASSES, accuracy, confusion_matrix


def test_confusion_matrix_counts_true_rows_predicted_columns():
    cm = confusion_matrix([0, 1, 1, 2, 2, 2], [0, 1, 2, 2, 2, 0])
    assert cm.dtype == np.int64
    assert cm.tolist() == [[1, 0, 0], [0, 1, 1], [1, 0, 2]]
    assert confusion_matrix([1], [1], num_classes=4).shape == (4, 4)
    assert confusion_matrix(np.array([0.0, 1.0]), [1, 1]).tolist() == [[0, 1], [0, 1]]
    assert confusion_matrix([], [], num_classes=2).tolist() == [[0, 0], [0, 0]]


@pytest.mark.parametrize("labels, predictions, kwargs, message", [
    ([0, 1], [0], {}, "2 labels but 1 predictions"),
    ([0, -1], [0, 0], {}, "class ids must be >= 0"),
    ([0, 3], [0, 0], {"num_classes": 3}, "class id 3 is >= num_classes=3"),
    ([0, 10**9], [0, 0], {}, f"must be in 1..{MAX_CLASSES}, got 1000000001"),
    ([0.5], [0], {}, "integer class ids"),
    ([[0, 1]], [[0, 1]], {}, "1-D"),
])
def test_confusion_matrix_refuses_bad_input_before_allocating(labels, predictions, kwargs, message):
    with pytest.raises((ValueError, TypeError), match=message.replace("(", r"\(")):
        confusion_matrix(labels, predictions, **kwargs)


def test_accuracy():
    assert accuracy([1, 2, 3, 4], [1, 2, 0, 4]) == 0.75
    with pytest.raises(ValueError, match="as many predictions as labels"):
        accuracy([1, 2], [1])
