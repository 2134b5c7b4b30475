"""Every fast convolution and pooling algorithm, forced by name, against the plain reference.

No torch here: ``microgradnn.tensor.reference`` (``sliding_window_view`` and one ``einsum``)
is the oracle, itself checked against PyTorch in test_tensor_conv.py and against finite
differences below. Each algorithm runs over every geometry of the grid it can run
(``Algorithm.runs``), in whole batches and in chunks of one or a few samples, plain, with
relu and with a max pool inside, so the three masks of the output gradient meet every
algorithm.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from microgradnn.tensor import Tensor, avg_pool2d, conv2d, max_pool2d, reference
from microgradnn.tensor.conv import conv2d_relu, conv2d_relu_max_pool2d
from microgradnn.tensor.conv.algorithms import (INPUT_GRADS, LAYOUTS, WEIGHT_GRADS, Geometry,
                                                choices)
from microgradnn.tensor.forcing import forced
from microgradnn.tensor.pool import MAX_POOLS

RTOL, ATOL = 1e-9, 1e-11
KINDS = ("none", "relu", "pool")
CHUNKS = (1, 3000, 1 << 20)  # one sample per chunk, a few and a shorter last one, all
GRID = list(itertools.product([(1, 1), (2, 2), (3, 3), (3, 2), (5, 3)],       # kernel
                              [(1, 1), (2, 2), (1, 2), (3, 2)],               # stride
                              [(0, 0), (1, 1), (2, 1)],                       # padding
                              [(1, 3), (4, 2), (3, 5)]))                      # (C, O)
SIZE = (9, 8)


def out_size(kernel, stride, padding):
    return tuple((SIZE[a] + 2 * padding[a] - kernel[a]) // stride[a] + 1 for a in (0, 1))


def fast(kind, x, w, b, stride, padding, upstream):
    """Our op's output and gradients (x, w, b) for ``upstream``."""
    leaves = [Tensor(a, requires_grad=True, dtype=np.float64) for a in (x, w, b)]
    op = {"none": conv2d, "relu": conv2d_relu,
          "pool": lambda *a: conv2d_relu_max_pool2d(*a, 2)}[kind]
    out = op(*leaves, stride, padding)
    out.backward(upstream)
    return [out.data] + [t.grad for t in leaves]


def plain(kind, x, w, b, stride, padding, upstream=None):
    """The same from the reference: conv, relu, pool one after the other, backward alike
    (only the output without ``upstream``)."""
    z = reference.conv2d(x, w, b, stride, padding)
    a = np.maximum(z, 0)
    out = z if kind == "none" else a if kind == "relu" else reference.max_pool2d(a, 2)
    if upstream is None:
        return [out]
    if kind == "none":
        return [z] + list(reference.conv2d_backward(x, w, upstream, stride, padding))
    da = upstream if kind == "relu" else reference.max_pool2d_backward(a, upstream, 2)
    return [out] + list(reference.conv2d_backward(x, w, da * (z > 0), stride, padding))


def check_against_reference(kind_name: str, name: str, table) -> int:
    """Force ``name`` over every geometry of the grid it runs (with every layout it runs
    in), compare with the reference; -> the number of geometries run."""
    rng = np.random.default_rng(sum(map(ord, name)))
    runs = 0
    for index, (kernel, stride, padding, (c, o)) in enumerate(GRID):
        oh, ow = out_size(kernel, stride, padding)
        if oh < 1 or ow < 1:
            continue
        kind = KINDS[index % 3] if min(oh, ow) >= 2 else "relu"
        g = Geometry(c, o, kernel, stride, padding, kind == "pool")
        layouts = [name] if kind_name == "layout" else list(LAYOUTS)
        for layout in layouts:
            if not (LAYOUTS[layout].runs(g) and table[name].runs(g._replace(layout=layout))):
                continue
            x = rng.standard_normal((3, c) + SIZE)
            w, b = rng.standard_normal((o, c) + kernel), rng.standard_normal(o)
            upstream = rng.standard_normal(plain(kind, x, w, b, stride, padding)[0].shape)
            want = plain(kind, x, w, b, stride, padding, upstream)
            force = {"layout": layout, "chunk_bytes": CHUNKS[index % 3], kind_name: name}
            with forced(**force) as chosen:
                got = fast(kind, x, w, b, stride, padding, upstream)
            assert (kind_name, name) in chosen and ("layout", layout) in chosen
            for what, a, e in zip(("output", "dx", "dw", "db"), got, want):
                np.testing.assert_allclose(a, e, rtol=RTOL, atol=ATOL, err_msg=(
                    f"{kind_name}={name} layout={layout} {kind}: {what} for kernel {kernel} "
                    f"stride {stride} padding {padding} C={c} O={o}"))
            runs += 1
    return runs


@pytest.mark.parametrize("name", list(INPUT_GRADS))
def test_every_input_gradient_algorithm_matches_the_reference(name):
    assert check_against_reference("input_grad", name, INPUT_GRADS) > 0


@pytest.mark.parametrize("name", list(WEIGHT_GRADS))
def test_every_weight_gradient_algorithm_matches_the_reference(name):
    assert check_against_reference("weight_grad", name, WEIGHT_GRADS) > 0


@pytest.mark.parametrize("name", list(LAYOUTS))
def test_every_layout_matches_the_reference(name):
    assert check_against_reference("layout", name, LAYOUTS) > 0


POOLS = [(k, s, p) for k, s, p in itertools.product([(1, 1), (2, 2), (3, 3), (2, 3), (1, 3)],
                                                    [None, (1, 1), (2, 2), (2, 1)],
                                                    [(0, 0), (1, 1), (0, 1)])
         if 2 * p[0] <= k[0] and 2 * p[1] <= k[1]]


@pytest.mark.parametrize("name", list(MAX_POOLS))
@pytest.mark.parametrize("ties", [False, True])
def test_every_max_pool_algorithm_matches_the_reference(name, ties):
    rng = np.random.default_rng(3)
    for index, (k, s, p) in enumerate(POOLS):
        # values from {0, 1, 2}: ties in most windows, where the first maximum must win
        x = rng.integers(0, 3, (3, 2) + SIZE).astype(np.float64) if ties \
            else rng.standard_normal((3, 2) + SIZE)
        want = reference.max_pool2d(x, k, s, p)
        upstream = rng.standard_normal(want.shape)
        leaf = Tensor(x, requires_grad=True)
        with forced(max_pool=name, chunk_bytes=CHUNKS[index % 3]) as chosen:
            out = max_pool2d(leaf, k, s, p)
            out.backward(upstream)
        assert ("max_pool", name) in chosen
        np.testing.assert_array_equal(out.data, want)
        np.testing.assert_allclose(leaf.grad, reference.max_pool2d_backward(x, upstream, k, s, p),
                                   rtol=RTOL, atol=ATOL, err_msg=f"kernel {k} stride {s} pad {p}")


def test_avg_pool_matches_the_reference():
    rng = np.random.default_rng(4)
    for k, s, p in POOLS:
        x = rng.standard_normal((3, 2) + SIZE)
        leaf = Tensor(x, requires_grad=True)
        out = avg_pool2d(leaf, k, s, p)
        upstream = rng.standard_normal(out.shape)
        out.backward(upstream)
        np.testing.assert_allclose(out.data, reference.avg_pool2d(x, k, s, p), rtol=RTOL,
                                   atol=ATOL)
        np.testing.assert_allclose(leaf.grad, reference.avg_pool2d_backward(x, upstream, k, s, p),
                                   rtol=RTOL, atol=ATOL)


def numeric_gradient(f, a, eps=1e-6):
    grad = np.zeros_like(a)
    for index in np.ndindex(a.shape):
        keep = a[index]
        a[index] = keep + eps
        up = f()
        a[index] = keep - eps
        down = f()
        a[index] = keep
        grad[index] = (up - down) / (2 * eps)
    return grad


@pytest.mark.parametrize("kernel,stride,padding", [((3, 3), 1, 1), ((3, 2), (2, 1), (1, 0)),
                                                   ((2, 2), 2, 0), ((3, 3), 2, 1)])
def test_the_reference_backward_is_the_derivative_of_its_forward(kernel, stride, padding):
    rng = np.random.default_rng(5)
    x, w, b = rng.standard_normal((2, 2, 6, 5)), rng.standard_normal((3, 2) + kernel), \
        rng.standard_normal(3)
    u = rng.standard_normal(reference.conv2d(x, w, b, stride, padding).shape)
    dx, dw, db = reference.conv2d_backward(x, w, u, stride, padding)
    for got, a in ((dx, x), (dw, w), (db, b)):
        num = numeric_gradient(lambda: (reference.conv2d(x, w, b, stride, padding) * u).sum(), a)
        np.testing.assert_allclose(got, num, rtol=1e-6, atol=1e-6)
    x = rng.permutation(2 * 2 * 6 * 5).reshape(2, 2, 6, 5) * 0.1  # distinct: no ties
    pad = (kernel[0] // 2, kernel[1] // 2)
    for forward, backward in ((reference.max_pool2d, reference.max_pool2d_backward),
                              (reference.avg_pool2d, reference.avg_pool2d_backward)):
        u = rng.standard_normal(forward(x, kernel, stride, pad).shape)
        num = numeric_gradient(lambda: (forward(x, kernel, stride, pad) * u).sum(), x)
        np.testing.assert_allclose(backward(x, u, kernel, stride, pad), num, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("geometry, expected", [
    # the benchmark networks' layers (bench_tensor.py's CNN, the five families)
    (Geometry(1, 8, (3, 3), (1, 1), (1, 1), True), ("wide", "shifted_copies", "columns")),
    (Geometry(8, 16, (3, 3), (1, 1), (1, 1), True),
     ("wide", "shifted_copies", "shifted_views")),
    (Geometry(8, 8, (3, 3), (1, 1), (1, 1), True), ("wide", "flipped_kernel", "shifted_views")),
    (Geometry(32, 24, (3, 3), (1, 1), (1, 1)), ("wide", "flipped_kernel", "shifted_views")),
    (Geometry(6, 16, (5, 5), (1, 1), (0, 0), True),
     ("wide", "shifted_copies", "shifted_views")),
    (Geometry(4, 8, (5, 5), (1, 1), (2, 2)), ("wide", "shifted_copies", "shifted_views")),
    (Geometry(16, 8, (1, 1), (1, 1), (0, 0)), ("pointwise", "pointwise", "pointwise")),
    (Geometry(8, 16, (3, 3), (2, 2), (1, 1)),
     ("phase_planes", "phase_planes", "shifted_views")),
    (Geometry(8, 16, (1, 1), (2, 2), (0, 0)), ("compact", "scatter", "columns")),
    # a 1x1 with a pool inside is no longer pointwise; a strided 1-channel conv
    (Geometry(4, 2, (1, 1), (1, 1), (0, 0), True), ("wide", "flipped_kernel", "shifted_views")),
    (Geometry(1, 4, (3, 3), (2, 2), (1, 1)), ("phase_planes", "phase_planes", "columns")),
])
def test_the_geometry_chooses_the_algorithms(geometry, expected):
    assert choices(geometry) == expected
    with forced() as chosen:  # nothing forced: the same choices, recorded
        assert choices(geometry) == expected
    assert chosen == list(zip(("layout", "input_grad", "weight_grad"), expected))


def test_forcing_refuses_what_cannot_run_and_restores_the_choice():
    x = Tensor(np.ones((1, 1, 5, 5)))
    w = Tensor(np.ones((1, 1, 3, 3)))
    with pytest.raises(ValueError, match=r"^forced layout 'wide' cannot run"):
        with forced(layout="wide"):
            conv2d(x, w, None, 2, 1)
    with pytest.raises(ValueError, match=r"^forced input_grad 'fast' is none of"):
        with forced(input_grad="fast"):
            conv2d(x, w, None, 1, 1)
    with pytest.raises(ValueError, match=r"^forced: unknown kind"):
        with forced(kernel="winograd"):
            pass
    with forced(layout="compact"):
        with forced(chunk_bytes=1) as chosen:
            conv2d(x, w, None, 1, 1)
        assert ("layout", "compact") in chosen
    with forced() as chosen:
        conv2d(x, w, None, 1, 1)
    assert ("layout", "wide") in chosen
