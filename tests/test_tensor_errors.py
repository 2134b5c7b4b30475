"""Tensor inputs: dtypes, NaN/inf, shape mismatches; each error names the problem and values."""

from __future__ import annotations

import numpy as np
import pytest

from microgradnn.tensor import (Conv2d, Linear, MaxPool2d, Sequential, Tensor, cross_entropy,
                                mse_loss)


def test_default_dtype_is_float32_and_float64_on_request():
    assert Tensor([1, 2, 3]).dtype == np.float32
    assert Tensor(np.arange(3, dtype=np.uint8)).dtype == np.float32
    assert Tensor([1.0], dtype=np.float64).dtype == np.float64
    assert Tensor(np.zeros(2)).dtype == np.float64  # a float64 array keeps its precision
    assert Tensor(np.zeros(2, dtype=np.float16)).dtype == np.float32


@pytest.mark.parametrize("bad", [np.array(["a", "b"]), np.array([1 + 2j]), [object()]])
def test_non_numeric_data_is_refused(bad):
    with pytest.raises(TypeError, match="real numbers"):
        Tensor(bad)


@pytest.mark.parametrize("dtype", [np.int32, np.float16, "complex64"])
def test_only_float32_and_float64_dtypes(dtype):
    with pytest.raises(TypeError, match="float32 or float64"):
        Tensor([1.0], dtype=dtype)


@pytest.mark.parametrize("value,word", [(np.nan, "NaN"), (np.inf, "inf"), (-np.inf, "inf")])
def test_nan_and_inf_inputs_are_refused(value, word):
    data = np.ones((2, 3))
    data[1, 2] = value
    with pytest.raises(ValueError, match=word):
        Tensor(data)
    with pytest.raises(ValueError, match="non-finite"):
        Tensor([1.0]) * float(value)


def test_large_finite_float32_is_not_mistaken_for_inf():
    data = np.full(10, 3e38, dtype=np.float32)  # the sum overflows, the values do not
    assert Tensor(data).data.max() == np.float32(3e38)


def test_mixing_dtypes_is_an_error_naming_both():
    a = Tensor([1.0], dtype=np.float32)
    b = Tensor([1.0], dtype=np.float64)
    with pytest.raises(TypeError, match="float32 and float64"):
        a + b


def test_broadcast_mismatch_names_both_shapes():
    with pytest.raises(ValueError, match=r"\(2, 3\) and \(4,\) do not broadcast"):
        Tensor(np.ones((2, 3))) * Tensor(np.ones(4))


def test_matmul_mismatch_names_both_shapes():
    with pytest.raises(ValueError, match=r"\(2, 3\) and \(4, 5\) do not align"):
        Tensor(np.ones((2, 3))) @ Tensor(np.ones((4, 5)))


def test_linear_shape_mismatch_names_layer_and_shapes():
    layer = Linear(784, 16)
    with pytest.raises(ValueError, match=r"Linear\(784, 16.*\(N, 784\).*\(32, 785\)"):
        layer(Tensor(np.zeros((32, 785), dtype=np.float32)))


def test_sequential_mismatch_names_the_failing_layer():
    net = Sequential(Linear(4, 3), Linear(5, 2))
    with pytest.raises(ValueError, match=r"Linear\(5, 2.*got \(7, 3\)"):
        net(Tensor(np.zeros((7, 4), dtype=np.float32)))


def test_layer_dtype_mismatch_names_both_dtypes():
    with pytest.raises(TypeError, match=r"input is float64 .* weights are float32"):
        Linear(3, 2)(Tensor(np.zeros((1, 3))))


def test_conv_channel_mismatch_names_layer():
    with pytest.raises(ValueError, match=r"Conv2d\(3, 8.*\(N, 3, H, W\).*\(2, 1, 8, 8\)"):
        Conv2d(3, 8, 3)(Tensor(np.zeros((2, 1, 8, 8), dtype=np.float32)))


def test_pool_kernel_larger_than_input():
    with pytest.raises(ValueError, match="larger than the padded input"):
        MaxPool2d(5)(Tensor(np.zeros((1, 1, 3, 3), dtype=np.float32)))


def test_cross_entropy_target_errors():
    logits = Tensor(np.zeros((3, 4), dtype=np.float32))
    with pytest.raises(ValueError, match=r"targets of shape \(3,\), got \(2,\)"):
        cross_entropy(logits, [0, 1])
    with pytest.raises(ValueError, match="class 4 is outside 0..3"):
        cross_entropy(logits, [0, 1, 4])
    with pytest.raises(ValueError, match="class -1"):
        cross_entropy(logits, [0, -1, 2])
    with pytest.raises(TypeError, match="integer class indices"):
        cross_entropy(logits, [0.5, 1, 2])
    with pytest.raises(ValueError, match=r"shape \(N, C\)"):
        cross_entropy(Tensor(np.zeros(4, dtype=np.float32)), [0])


def test_mse_shape_mismatch():
    with pytest.raises(ValueError, match=r"\(3,\) and target of shape \(4,\)"):
        mse_loss(Tensor(np.zeros(3)), np.zeros(4))


def test_bad_layer_arguments():
    with pytest.raises(ValueError, match="in_features must be a positive integer, got 0"):
        Linear(0, 3)
    with pytest.raises(ValueError, match="kernel_size"):
        Conv2d(1, 1, 0)
    with pytest.raises(TypeError, match="not a Module"):
        Sequential(Linear(2, 2), "relu")


def test_log_and_division_domain_errors():
    with pytest.raises(ValueError, match="non-positive"):
        Tensor([1.0, -1.0]).log()
    with pytest.raises(ZeroDivisionError):
        Tensor([1.0]) / Tensor([0.0])
    with pytest.raises(ValueError, match="complex"):
        Tensor([-2.0]) ** 0.5
