"""``blas.axpy``: y += alpha * x rounded once, through OpenBLAS or numpy, the same numbers."""

from __future__ import annotations

import numpy as np
import pytest

from microgradnn import blas


def _fused64(y, alpha, x):
    return (y.astype(np.float64) + np.float64(np.float32(alpha)) * x).astype(np.float32)


@pytest.mark.parametrize("shape,order", [((1000,), "C"), ((37, 19), "C"), ((37, 19), "F"),
                                         ((), "C"), ((0, 3), "C")])
def test_axpy_float32_rounds_once_in_any_layout(shape, order):
    rng = np.random.default_rng(0)
    x = np.array(rng.standard_normal(shape), dtype=np.float32, order=order)
    y = np.array(rng.standard_normal(shape), dtype=np.float32, order=order)
    want = _fused64(y, -0.1, x)
    got, ref = y.copy(order="K"), y.copy(order="K")
    blas.axpy(-0.1, x, got)
    blas.axpy_reference(-0.1, x, ref)
    assert np.array_equal(got, want) and np.array_equal(ref, want)
    if y.size > 100:  # rounding twice differs: the test can tell the two apart
        assert not np.array_equal(y - np.float32(0.1) * x, want)


def test_axpy_takes_numpys_route_for_views_mixed_layouts_and_float64():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((30, 20)).astype(np.float32)
    y = rng.standard_normal((30, 20)).astype(np.float32)
    for xs, ys in ((x[:, ::2], y[:, ::2].copy()), (np.asfortranarray(x), y.copy())):
        want = _fused64(ys, 0.7, xs)
        blas.axpy(0.7, xs, ys)
        assert np.array_equal(ys, want)
    strided = y.copy()
    blas.axpy(0.7, x[:, ::2], strided[:, ::2])  # a view of y is updated in place
    assert np.array_equal(strided[:, ::2], _fused64(y[:, ::2], 0.7, x[:, ::2]))
    assert np.array_equal(strided[:, 1::2], y[:, 1::2])
    x64, y64 = x.astype(np.float64), y.astype(np.float64)
    got = y64.copy()
    blas.axpy(0.25, x64, got)  # 0.25 * x is exact: fused or not, one rounding
    assert np.array_equal(got, y64 + 0.25 * x64)


def test_axpy_uses_openblas_where_numpy_bundles_it():
    """numpy's wheels bundle scipy-openblas64 (its config names it): then axpy calls it."""
    config = np.show_config(mode="dicts")
    blas_name = config.get("Build Dependencies", {}).get("blas", {}).get("name", "")
    if "openblas" not in blas_name:
        pytest.skip(f"numpy's BLAS here is {blas_name!r}, not OpenBLAS: the numpy route runs")
    assert blas._axpy_function(np.dtype(np.float32)) is not None
    assert blas._axpy_function(np.dtype(np.float64)) is not None


def test_axpy_reads_a_read_only_x_and_refuses_a_read_only_y():
    x = np.arange(4, dtype=np.float32)
    x.flags.writeable = False
    y = np.ones(4, dtype=np.float32)
    blas.axpy(2.0, x, y)
    assert y.tolist() == [1.0, 3.0, 5.0, 7.0]
    with pytest.raises(ValueError, match="read-only"):
        blas.axpy(1.0, y, x)


def test_axpy_with_alpha_zero_still_carries_a_nan_as_torch_does():
    x = np.array([np.nan, 1.0, np.inf], dtype=np.float32)
    y = np.zeros(3, dtype=np.float32)
    with np.errstate(invalid="ignore"):  # 0 * inf
        blas.axpy(0.0, x, y)
    assert np.isnan(y[0]) and y[1] == 0.0 and np.isnan(y[2])


def test_axpy_refuses_two_shapes_in_one_line():
    with pytest.raises(ValueError, match=r"axpy: x of shape \(3,\) and y of shape \(4,\) must match"):
        blas.axpy(1.0, np.ones(3, np.float32), np.ones(4, np.float32))
