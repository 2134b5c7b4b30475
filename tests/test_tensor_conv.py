"""Convolution and pooling over a grid of kernels, strides, paddings and odd sizes."""

from __future__ import annotations

import contextlib
import itertools

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

from microgradnn.optim import Adam
from microgradnn.tensor import (AvgPool2d, Conv2d, Flatten, Linear, MaxPool2d, ReLU, Sequential,
                                Tensor, avg_pool2d, conv2d, cross_entropy, max_pool2d)
from microgradnn.tensor import conv as conv_module
from microgradnn.tensor import reference
from microgradnn.tensor.conv import conv2d_relu
from microgradnn.tensor.forcing import forced
from microgradnn.tensor.gradcheck import tensor_gradcheck

RNG = np.random.default_rng(42)

@pytest.fixture
def force():
    """``force(chunk_bytes=1, ...)``: ``forcing.forced`` for the rest of the test."""
    with contextlib.ExitStack() as stack:
        yield lambda **names: stack.enter_context(forced(**names))


CONV_GRID = [(k, s, p) for k, s, p in itertools.product([1, 2, 3, 4], [1, 2, 3], [0, 1, 2])]


def compare_with_torch(ours, theirs, arrays, rtol=1e-9):
    leaves = [Tensor(a, requires_grad=True, dtype=np.float64) for a in arrays]
    out = ours(*leaves)
    tleaves = [torch.tensor(a, requires_grad=True) for a in arrays]
    tout = theirs(*tleaves)
    assert out.shape == tuple(tout.shape)
    np.testing.assert_allclose(out.data, tout.detach().numpy(), rtol=rtol, atol=1e-12)
    upstream = np.random.default_rng(0).standard_normal(out.shape)
    out.backward(upstream)
    tout.backward(torch.tensor(upstream))
    for k, (leaf, tleaf) in enumerate(zip(leaves, tleaves)):
        np.testing.assert_allclose(leaf.grad, tleaf.grad.numpy(), rtol=rtol, atol=1e-11,
                                   err_msg=f"operand {k}")


@pytest.mark.parametrize("k,s,p", CONV_GRID)
def test_conv2d_matches_torch_over_grid(k, s, p):
    x = RNG.standard_normal((2, 3, 7, 9))  # odd, non-square
    w = RNG.standard_normal((4, 3, k, k))
    b = RNG.standard_normal(4)
    compare_with_torch(lambda x, w, b: conv2d(x, w, b, s, p),
                       lambda x, w, b: TF.conv2d(x, w, b, stride=s, padding=p), [x, w, b])


@pytest.mark.parametrize("k,s,p", [(3, 1, 1), (2, 2, 0), (3, 2, 1), (2, 1, 0)])
def test_conv2d_matches_finite_differences(k, s, p):
    x = RNG.standard_normal((2, 2, 5, 4))
    w = RNG.standard_normal((3, 2, k, k))
    b = RNG.standard_normal(3)
    tensor_gradcheck(lambda x, w, b: conv2d(x, w, b, s, p), [x, w, b])
    tensor_gradcheck(lambda x, w, b: conv2d_relu(x, w, b, s, p), [x, w, b])


def test_conv2d_rectangular_kernel_stride_padding_no_bias():
    x = RNG.standard_normal((1, 2, 8, 7))
    w = RNG.standard_normal((3, 2, 3, 2))
    compare_with_torch(lambda x, w: conv2d(x, w, None, (2, 1), (1, 0)),
                       lambda x, w: TF.conv2d(x, w, None, stride=(2, 1), padding=(1, 0)), [x, w])


POOL_GRID = [(k, s, p) for k, s, p in itertools.product([1, 2, 3], [None, 1, 2, 3], [0, 1])
             if 2 * p <= k]


@pytest.mark.parametrize("k,s,p", POOL_GRID)
def test_max_pool_matches_torch_over_grid(k, s, p):
    x = RNG.standard_normal((2, 3, 7, 8))
    compare_with_torch(lambda x: max_pool2d(x, k, s, p),
                       lambda x: TF.max_pool2d(x, k, s if s is not None else k, p), [x])


@pytest.mark.parametrize("k,s,p", POOL_GRID)
def test_avg_pool_matches_torch_over_grid(k, s, p):
    x = RNG.standard_normal((2, 3, 7, 8))
    compare_with_torch(lambda x: avg_pool2d(x, k, s, p),
                       lambda x: TF.avg_pool2d(x, k, s if s is not None else k, p), [x])


@pytest.mark.parametrize("k,s,p", [(2, None, 0), (3, 2, 1), (2, 1, 0), (3, 3, 0)])
def test_pools_match_finite_differences(k, s, p):
    x = RNG.permutation(2 * 2 * 6 * 5).reshape(2, 2, 6, 5) * 0.1  # distinct: no ties
    tensor_gradcheck(lambda x: max_pool2d(x, k, s, p), [x])
    tensor_gradcheck(lambda x: avg_pool2d(x, k, s, p), [x])


@pytest.mark.parametrize("k,s", [(17, 1), (16, 16), (3, 2)])
def test_max_pool_large_and_overlapping_kernels_match_torch(k, s):
    # 17x17 has more kernel offsets (289) than a uint8 winner index can name.
    x = RNG.standard_normal((2, 2, 19, 18))
    compare_with_torch(lambda x: max_pool2d(x, k, s), lambda x: TF.max_pool2d(x, k, s), [x])


def test_max_pool_ties_send_gradient_to_one_element_like_torch():
    x = np.zeros((1, 1, 4, 4))  # what a dead ReLU produces: every window is a tie
    x[0, 0, 0, 0] = 1.0
    compare_with_torch(lambda x: max_pool2d(x, 2), lambda x: TF.max_pool2d(x, 2), [x])
    compare_with_torch(lambda x: max_pool2d(x, 3, 1), lambda x: TF.max_pool2d(x, 3, 1), [x])
    x = np.zeros((1, 2, 5, 6))  # ties between positive values in every position of a window
    x[0, 0, :, 3:] = 2.0
    x[0, 1, 1::2] = 1.0
    compare_with_torch(lambda x: max_pool2d(x, 2), lambda x: TF.max_pool2d(x, 2), [x])
    compare_with_torch(lambda x: max_pool2d(x, 3, 2, 1), lambda x: TF.max_pool2d(x, 3, 2, 1), [x])


@pytest.mark.parametrize("chunk_bytes", [1, 1 << 30])
@pytest.mark.parametrize("k,s,p", [((3, 3), 1, 1), ((3, 2), (2, 1), (1, 0)), ((2, 3), 2, 0),
                                   ((3, 3), 2, 1), ((5, 3), (1, 2), (2, 1))])
def test_separable_max_pool_keeps_torchs_winner_among_many_ties(force, chunk_bytes, k, s,
                                                                 p):
    # windows of more than 4 pixels pool rows then columns; values from {0, 1, 2} make ties
    # in almost every window, where the gradient must reach the same element as in torch
    force(chunk_bytes=chunk_bytes)
    x = RNG.integers(0, 3, (3, 2, 9, 8)).astype(np.float64)
    compare_with_torch(lambda x: max_pool2d(x, k, s, p), lambda x: TF.max_pool2d(x, k, s, p),
                       [x])


def test_pooling_layers_and_odd_sizes():
    x = RNG.standard_normal((1, 2, 5, 5))
    compare_with_torch(lambda x: MaxPool2d(2)(x), lambda x: TF.max_pool2d(x, 2), [x])
    compare_with_torch(lambda x: AvgPool2d(2)(x), lambda x: TF.avg_pool2d(x, 2), [x])
    assert MaxPool2d(2).stride == (2, 2)


def small_cnn(dtype=np.float64, seed=0):
    rng = np.random.default_rng(seed)
    return Sequential(Conv2d(1, 4, 3, padding=1, dtype=dtype, rng=rng), ReLU(), MaxPool2d(2),
                      Conv2d(4, 6, 3, padding=1, dtype=dtype, rng=rng), ReLU(), MaxPool2d(2),
                      Flatten(), Linear(6 * 3 * 3, 5, dtype=dtype, rng=rng))


def torch_cnn(net):
    tnet = torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3, padding=1), torch.nn.ReLU(),
                               torch.nn.MaxPool2d(2), torch.nn.Conv2d(4, 6, 3, padding=1),
                               torch.nn.ReLU(), torch.nn.MaxPool2d(2), torch.nn.Flatten(),
                               torch.nn.Linear(54, 5)).double()
    tnet.load_state_dict({k: torch.tensor(v) for k, v in net.state_dict().items()})
    return tnet


def test_cnn_matches_torch_forward_backward():
    net = small_cnn()
    tnet = torch_cnn(net)
    assert [n for n, _ in net.named_parameters()] == [n for n, _ in tnet.named_parameters()]
    x = RNG.standard_normal((3, 1, 12, 13))
    y = np.array([0, 4, 2])
    loss = cross_entropy(net(Tensor(x)), y)
    loss.backward()
    tloss = TF.cross_entropy(tnet(torch.tensor(x)), torch.tensor(y))
    tloss.backward()
    assert loss.item() == pytest.approx(tloss.item(), rel=1e-12)
    for (name, p), tp in zip(net.named_parameters(), tnet.parameters()):
        np.testing.assert_allclose(p.grad, tp.grad.numpy(), rtol=1e-9, atol=1e-12, err_msg=name)


def test_cnn_trains_in_float32():
    net = small_cnn(dtype=np.float32)
    rng = np.random.default_rng(1)
    x = rng.standard_normal((32, 1, 12, 12)).astype(np.float32)
    y = rng.integers(0, 5, 32)
    opt = Adam(net.parameters(), lr=0.01)
    losses = []
    for _ in range(40):
        opt.zero_grad()
        loss = cross_entropy(net(Tensor(x)), y)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0]
    assert all(p.data.dtype == np.float32 and p.grad.dtype == np.float32
               for p in net.parameters())


def test_conv_input_gradient_only_when_needed():
    layer = Conv2d(1, 2, 3, dtype=np.float64)
    x = Tensor(RNG.standard_normal((1, 1, 5, 5)))
    layer(x).sum().backward()
    assert x.grad is None and layer.weight.grad is not None


# ---- the fast paths: 1x1, the chunked stride-1 layout, the fused conv+relu node ----

@pytest.mark.parametrize("n,c,o,h,w,s,p", [(1, 5, 7, 6, 9, 1, 0), (3, 4, 2, 5, 5, 1, 0),
                                           (2, 3, 4, 7, 6, 2, 0), (2, 3, 4, 5, 5, 1, 1)])
def test_1x1_conv_matches_torch(n, c, o, h, w, s, p):
    x = RNG.standard_normal((n, c, h, w))
    wt = RNG.standard_normal((o, c, 1, 1))
    b = RNG.standard_normal(o)
    compare_with_torch(lambda x, w, b: conv2d(x, w, b, s, p),
                       lambda x, w, b: TF.conv2d(x, w, b, stride=s, padding=p), [x, wt, b])
    compare_with_torch(lambda x, w: conv2d(x, w, None, s, p),
                       lambda x, w: TF.conv2d(x, w, None, stride=s, padding=p), [x, wt])


@pytest.mark.parametrize("chunk_bytes", [1, 3000, 1 << 30])
@pytest.mark.parametrize("k,p", [(3, 1), (2, 0), (5, 2), (3, 0), (1, 1), (4, 2)])
def test_stride1_conv_in_chunks_matches_torch(force, chunk_bytes, k, p):
    # chunk_bytes=1: one sample per chunk; 3000: a few samples and a shorter last chunk.
    force(chunk_bytes=chunk_bytes)
    x = RNG.standard_normal((5, 3, 7, 6))
    w = RNG.standard_normal((4, 3, k, k + 1 if k < 5 else k))  # rectangular kernels too
    b = RNG.standard_normal(4)
    compare_with_torch(lambda x, w, b: conv2d(x, w, b, 1, p),
                       lambda x, w, b: TF.conv2d(x, w, b, stride=1, padding=p), [x, w, b])
    compare_with_torch(lambda x, w, b: conv2d_relu(x, w, b, 1, p),
                       lambda x, w, b: TF.relu(TF.conv2d(x, w, b, stride=1, padding=p)),
                       [x, w, b])


@pytest.mark.parametrize("chunk_bytes", [1, 3000, 1 << 30])
@pytest.mark.parametrize("k,s,p", [((3, 3), (2, 2), (1, 1)), ((3, 1), (2, 2), (1, 0)),
                                   ((1, 3), (2, 1), (0, 1)), ((4, 2), (3, 2), (2, 0)),
                                   ((3, 3), (2, 3), (0, 2)), ((5, 5), (2, 2), (2, 2)),
                                   ((2, 3), (1, 2), (1, 1))])
@pytest.mark.parametrize("c", [1, 3])
def test_strided_conv_over_phase_planes_in_chunks_matches_torch(force, chunk_bytes, k, s,
                                                                 p, c):
    # Windows that overlap (kernel > stride along an axis) go over phase planes: rectangular
    # kernels and strides (phases no kernel offset reads), odd sizes whose last rows no
    # window reads, one input channel (columns for the weight gradient) or several.
    force(chunk_bytes=chunk_bytes)
    x = RNG.standard_normal((5, c, 9, 8))
    w = RNG.standard_normal((4, c) + k)
    b = RNG.standard_normal(4)
    compare_with_torch(lambda x, w, b: conv2d(x, w, b, s, p),
                       lambda x, w, b: TF.conv2d(x, w, b, stride=s, padding=p), [x, w, b])
    compare_with_torch(lambda x, w, b: conv2d_relu(x, w, b, s, p),
                       lambda x, w, b: TF.relu(TF.conv2d(x, w, b, stride=s, padding=p)),
                       [x, w, b])


def test_stride1_conv_batch_of_one_and_tall_padding():
    x = RNG.standard_normal((1, 2, 3, 8))
    w = RNG.standard_normal((3, 2, 3, 3))
    compare_with_torch(lambda x, w: conv2d(x, w, None, 1, (2, 0)),
                       lambda x, w: TF.conv2d(x, w, None, stride=1, padding=(2, 0)), [x, w])


def assert_fused_bit_for_bit(layer, fused, unfused, data, input_grad, op):
    """``fused(x)`` and ``unfused(x)`` give the same output and, for one upstream gradient,
    the same gradients of the input and of ``layer``'s parameters, bit for bit."""
    rng = np.random.default_rng(5)
    results = []
    for call in (fused, unfused):
        x = Tensor(data, requires_grad=input_grad)
        layer.zero_grad()
        out = call(x)
        if not results:
            assert out.op == op
            upstream = rng.standard_normal(out.shape).astype(np.float32)
        out.backward(upstream)
        results.append([out.data, x.grad] + [q.grad for q in layer.parameters()])
    for a, b in zip(*results):
        assert (a is None and b is None) or np.array_equal(a, b)


@pytest.mark.parametrize("k,s,p,bias", [(3, 1, 1, True), (3, 2, 1, True), (1, 1, 0, False),
                                        (2, 1, 0, False), (3, 1, 0, True)])
@pytest.mark.parametrize("input_grad", [True, False])
def test_fused_conv_relu_is_conv_then_relu_bit_for_bit(k, s, p, bias, input_grad):
    rng = np.random.default_rng(7)
    layer = Conv2d(3, 5, k, stride=s, padding=p, bias=bias, dtype=np.float32, rng=rng)
    data = rng.standard_normal((4, 3, 9, 8)).astype(np.float32)
    assert_fused_bit_for_bit(layer, layer.forward_relu, lambda x: ReLU()(layer(x)), data,
                             input_grad, "conv2d+relu")


def graph_ops(out):
    ops, stack = [], [out]
    while stack:
        node = stack.pop()
        ops.append(node.op)
        stack.extend(node.operands)
    return ops


def test_sequential_fuses_conv_relu_and_conv_relu_pool():
    net = small_cnn(dtype=np.float32)  # conv, relu, pool twice: two triples
    ops = graph_ops(net(Tensor(RNG.standard_normal((2, 1, 12, 12)).astype(np.float32))))
    assert ops.count("conv2d+relu+max_pool2d") == 2
    assert not {"relu", "conv2d", "max_pool2d", "conv2d+relu"} & set(ops)
    rng = np.random.default_rng(1)
    pair_only = Sequential(Conv2d(1, 2, 3, rng=rng), ReLU(), Flatten())
    assert "conv2d+relu" in graph_ops(pair_only(Tensor(np.ones((1, 1, 5, 5), np.float32))))
    # a pool with padding, or a 1x1 convolution (no columns to save), is not fused with the pool
    for conv, pool in ((Conv2d(1, 2, 3, rng=rng), MaxPool2d(3, 2, 1)),
                       (Conv2d(1, 2, 1, rng=rng), MaxPool2d(2))):
        ops = graph_ops(Sequential(conv, ReLU(), pool)(Tensor(np.ones((1, 1, 7, 7), np.float32))))
        assert ops[0] == "max_pool2d" and "conv2d+relu" in ops


CONV_POOL_GRID = [((3, 1, 1), (2, None)), ((3, 1, 0), (3, 2)), ((2, 2, 1), (2, 1)),
                  ((1, 1, 0), (2, None)), ((3, 1, 1), (3, 3)), ((4, 1, 2), (2, 3))]


@pytest.mark.parametrize("chunk_bytes", [1, 5000, 1 << 30])
@pytest.mark.parametrize("conv,pool", CONV_POOL_GRID)
def test_conv_relu_pool_matches_torch(force, chunk_bytes, conv, pool):
    force(chunk_bytes=chunk_bytes)
    (k, s, p), (pk, ps) = conv, pool
    x = RNG.standard_normal((5, 3, 9, 10))
    w = RNG.standard_normal((4, 3, k, k))
    b = RNG.standard_normal(4)
    compare_with_torch(
        lambda x, w, b: conv_module.conv2d_relu_max_pool2d(x, w, b, s, p, pk, ps),
        lambda x, w, b: TF.max_pool2d(TF.relu(TF.conv2d(x, w, b, stride=s, padding=p)),
                                      pk, ps if ps is not None else pk), [x, w, b])


@pytest.mark.parametrize("conv,pool", [cp for cp in CONV_POOL_GRID if cp[0][0] > 1])
@pytest.mark.parametrize("input_grad,bias", [(True, True), (False, True), (True, False)])
def test_fused_conv_relu_pool_is_the_three_layers_bit_for_bit(conv, pool, input_grad, bias):
    (k, s, p), (pk, ps) = conv, pool
    rng = np.random.default_rng(11)
    layer = Conv2d(3, 5, k, stride=s, padding=p, bias=bias, dtype=np.float32, rng=rng)
    pool_layer = MaxPool2d(pk, ps)
    data = rng.standard_normal((4, 3, 9, 10)).astype(np.float32)
    data[:, :, :4] = 0.5  # flat regions: ties between equal positive outputs
    assert_fused_bit_for_bit(layer, lambda x: layer.forward_relu_pool(x, pool_layer),
                             lambda x: pool_layer(ReLU()(layer(x))), data, input_grad,
                             "conv2d+relu+max_pool2d")


def test_conv_relu_pool_gradcheck():
    x = RNG.standard_normal((2, 2, 6, 5))
    w = RNG.standard_normal((3, 2, 3, 3))
    b = RNG.standard_normal(3)
    tensor_gradcheck(lambda x, w, b: conv_module.conv2d_relu_max_pool2d(x, w, b, 1, 1, 2),
                     [x, w, b])
    tensor_gradcheck(lambda x, w, b: conv_module.conv2d_relu_max_pool2d(x, w, b, 1, 0, 3, 2),
                     [x, w, b])


def test_no_grad_forward_paths_give_the_same_numbers():
    from microgradnn.tensor import no_grad
    x = RNG.standard_normal((3, 2, 9, 8))
    w = RNG.standard_normal((4, 2, 3, 3))
    b = RNG.standard_normal(4)
    for fn in (lambda x: conv2d_relu(x, Tensor(w), Tensor(b), 1, 1),
               lambda x: conv_module.conv2d_relu_max_pool2d(x, Tensor(w), Tensor(b), 1, 1, 2),
               lambda x: conv2d(x, Tensor(w), Tensor(b), 1, 1),
               lambda x: max_pool2d(x, 2), lambda x: max_pool2d(x, 3, 2, 1)):
        with_grad = fn(Tensor(x, requires_grad=True))
        with no_grad():
            without = fn(Tensor(x, requires_grad=True))
        assert without.operands == () and np.array_equal(with_grad.data, without.data)


def test_scratch_arrays_of_different_convolutions_do_not_mix():
    # Same batch, channels, output height and padded width, different kernel widths: the
    # wider output writes columns that are the other conv's zero padding of its layout.
    x = RNG.standard_normal((3, 2, 6, 6))
    wa = RNG.standard_normal((4, 2, 3, 3))
    wb = RNG.standard_normal((4, 2, 3, 1))  # padded width 8 for both, output width 6 and 8
    for _ in range(2):
        for w in (wa, wb):
            compare_with_torch(lambda x, w: conv2d(x, w, None, 1, 1),
                               lambda x, w: TF.conv2d(x, w, None, stride=1, padding=1), [x, w])


def test_empty_batch_goes_through_every_path():
    x = Tensor(np.zeros((0, 2, 5, 5)), requires_grad=True)
    w = Tensor(RNG.standard_normal((3, 2, 3, 3)), requires_grad=True)
    b = Tensor(RNG.standard_normal(3), requires_grad=True)
    for fn, shape in ((lambda: conv2d(x, w, b, 1, 1), (0, 3, 5, 5)),
                      (lambda: conv2d(x, w, b, 2, 1), (0, 3, 3, 3)),
                      (lambda: conv2d_relu(x, w, b, 1, 1), (0, 3, 5, 5)),
                      (lambda: conv_module.conv2d_relu_max_pool2d(x, w, b, 1, 1, 2), (0, 3, 2, 2)),
                      (lambda: max_pool2d(x, 2), (0, 2, 2, 2)),
                      (lambda: avg_pool2d(x, 2), (0, 2, 2, 2))):
        x.zero_grad()
        w.zero_grad()
        out = fn()
        assert out.shape == shape
        out.sum().backward()
        assert x.grad.shape == x.shape
        assert w.grad is None or not w.grad.any()


@pytest.mark.parametrize("chunk_bytes", [1, 3000, 1 << 30])
@pytest.mark.parametrize("k,c,o,fused", [(3, 4, 4, "relu"), (3, 5, 3, "relu_pool"),
                                         (5, 6, 3, "none"), (3, 4, 4, "relu_pool")])
def test_same_padded_input_gradient_by_the_flipped_kernel_matches_torch(force, chunk_bytes, k,
                                                                         c, o, fused):
    # "same" padding and no more output than input channels (per 3x3: o <= c; 5x5: o <= c/2):
    # the input gradient is the convolution of the padded output gradient with the flipped
    # kernel, read in place from the buffer it is scattered into
    chosen = force(chunk_bytes=chunk_bytes)
    x = RNG.standard_normal((5, c, 7, 6))
    w = RNG.standard_normal((o, c, k, k))
    b = RNG.standard_normal(o)
    p = k // 2
    ours = {"none": lambda x, w, b: conv2d(x, w, b, 1, p),
            "relu": lambda x, w, b: conv2d_relu(x, w, b, 1, p),
            "relu_pool": lambda x, w, b: conv_module.conv2d_relu_max_pool2d(x, w, b, 1, p, 2)}
    theirs = {"none": lambda x, w, b: TF.conv2d(x, w, b, padding=p),
              "relu": lambda x, w, b: TF.relu(TF.conv2d(x, w, b, padding=p)),
              "relu_pool": lambda x, w, b: TF.max_pool2d(TF.relu(TF.conv2d(x, w, b, padding=p)),
                                                         2)}
    compare_with_torch(ours[fused], theirs[fused], [x, w, b])
    assert ("input_grad", "flipped_kernel") in chosen  # the geometry chose that path


@pytest.mark.parametrize("chunk_bytes", [1, 20000, 1 << 30])
@pytest.mark.parametrize("c,o,fused,bias", [(3, 2, "relu_pool", True), (2, 5, "relu", True),
                                            (4, 4, "none", False), (3, 3, "relu_pool", False)])
def test_weight_gradient_by_shifted_input_views_matches_torch(force, chunk_bytes, c, o,
                                                              fused, bias):
    # a wide layout with several input channels: the weight
    # gradient is one batched GEMM per kernel offset over the whole batch's output gradient
    # (held for the whole batch while the input gradient runs chunk by chunk), no columns
    chosen = force(chunk_bytes=chunk_bytes)
    x = RNG.standard_normal((5, c, 12, 11))
    w = RNG.standard_normal((o, c, 3, 3))
    b = RNG.standard_normal(o) if bias else None
    ours = {"none": lambda x, w, b=None: conv2d(x, w, b, 1, 1),
            "relu": lambda x, w, b=None: conv2d_relu(x, w, b, 1, 1),
            "relu_pool": lambda x, w, b=None: conv_module.conv2d_relu_max_pool2d(x, w, b, 1, 1,
                                                                                 2)}
    theirs = {"none": lambda x, w, b=None: TF.conv2d(x, w, b, padding=1),
              "relu": lambda x, w, b=None: TF.relu(TF.conv2d(x, w, b, padding=1)),
              "relu_pool": lambda x, w, b=None: TF.max_pool2d(TF.relu(TF.conv2d(x, w, b,
                                                                             padding=1)), 2)}
    compare_with_torch(ours[fused], theirs[fused], [x, w] + ([b] if bias else []))
    assert ("weight_grad", "shifted_views") in chosen  # the geometry chose that path


def test_random_geometries_match_torch(force):
    # Kernels, strides, paddings (also wider than the kernel reaches), sizes, channels and
    # chunk sizes drawn at random: every layout (compact, wide, phase planes) against torch.
    rng = np.random.default_rng(1)
    for _ in range(60):
        kh, kw = (int(v) for v in rng.integers(1, 6, 2))
        sh, sw = (int(v) for v in rng.integers(1, 4, 2))
        ph, pw = (int(v) for v in rng.integers(0, 3, 2))
        h = max(int(rng.integers(1, 12)), kh - 2 * ph)
        w = max(int(rng.integers(1, 12)), kw - 2 * pw)
        n, c, o = (int(v) for v in rng.integers(1, 5, 3))
        force(chunk_bytes=int(rng.choice([1, 500, 3000, 1 << 20])))
        arrays = [rng.standard_normal((n, c, h, w)), rng.standard_normal((o, c, kh, kw)),
                  rng.standard_normal(o)]
        compare_with_torch(lambda x, w, b: conv2d(x, w, b, (sh, sw), (ph, pw)),
                           lambda x, w, b: TF.conv2d(x, w, b, stride=(sh, sw), padding=(ph, pw)),
                           arrays)


# ---- the plain reference (microgradnn.tensor.reference), which test_tensor_conv_algorithms
# ---- holds every fast algorithm to: checked here against PyTorch

@pytest.mark.parametrize("k,s,p", [((3, 3), 1, 1), ((3, 2), (2, 1), (1, 0)), ((1, 1), 2, 0),
                                   ((5, 3), (1, 2), (2, 1)), ((2, 2), 3, 2)])
def test_reference_conv_and_pools_match_torch(k, s, p):
    x = RNG.standard_normal((2, 3, 9, 8))
    w = RNG.standard_normal((4, 3) + k)
    b = RNG.standard_normal(4)
    tx, tw, tb = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    tout = TF.conv2d(tx, tw, tb, stride=s, padding=p)
    np.testing.assert_allclose(reference.conv2d(x, w, b, s, p), tout.detach().numpy(),
                               rtol=1e-9, atol=1e-12)
    u = RNG.standard_normal(tuple(tout.shape))
    tout.backward(torch.tensor(u))
    for ours, theirs in zip(reference.conv2d_backward(x, w, u, s, p), (tx, tw, tb)):
        np.testing.assert_allclose(ours, theirs.grad.numpy(), rtol=1e-9, atol=1e-11)
    x = RNG.integers(0, 3, (2, 3, 9, 8)).astype(np.float64)  # ties in most windows
    pad = (k[0] // 2, k[1] // 2)
    for ours, backward, theirs in ((reference.max_pool2d, reference.max_pool2d_backward,
                                    TF.max_pool2d),
                                   (reference.avg_pool2d, reference.avg_pool2d_backward,
                                    TF.avg_pool2d)):
        tx = torch.tensor(x, requires_grad=True)
        tout = theirs(tx, k, s, pad)
        np.testing.assert_allclose(ours(x, k, s, pad), tout.detach().numpy(), rtol=1e-12)
        u = RNG.standard_normal(tuple(tout.shape))
        tout.backward(torch.tensor(u))
        np.testing.assert_allclose(backward(x, u, k, s, pad), tx.grad.numpy(), rtol=1e-12,
                                   atol=1e-12)
