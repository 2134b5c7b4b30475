"""The convolution ops of the graph: ``conv2d`` and its fused forms with relu and a pool."""

from __future__ import annotations

from typing import Any, Optional, Tuple

from ..tensor import _GRAD_ENABLED, Tensor, make_node
from ..windows import Pair, pair
from .backward import backward, pointwise_backward
from .forward import conv_forward

__all__ = ["conv2d", "conv2d_relu", "conv2d_relu_max_pool2d"]


def _conv_backward(g, ctx, ops: Tuple[Tensor, ...]):
    """The gradients of (x, weight[, bias]) from the output gradient ``g``; ``ctx`` is
    (forward context, stride, padding, relu's mask, or for a pool inside the pooled output)."""
    (kind, saved), _, _, mask = ctx
    x, weight = ops[0], ops[1]
    W = weight.data
    has_bias = len(ops) == 3
    want_w = weight.requires_grad or has_bias
    if kind == "pointwise":
        gx, gw, gb = pointwise_backward(g, mask, saved, W, want_w, x.requires_grad, has_bias)
        if gx is not None:
            gx = gx.reshape(x.data.shape)
        return (gx, gw) if not has_bias else (gx, gw, gb)
    if kind == "plan":
        plan, src = saved
        full, gx = backward(plan, g, mask, src, W, want_w, x.requires_grad)
    else:  # "pooled": relu's mask at each window's winner is "pooled > 0"
        plan, src, winner = saved
        full, gx = backward(plan, g, None, src, W, want_w, x.requires_grad,
                            pooled=mask, winner=winner)
    gw = gb = None
    if want_w:
        gw = full[:, :plan.rows].reshape(W.shape)
        gb = full[:, plan.rows] if has_bias else None
    return (gx, gw) if not has_bias else (gx, gw, gb)


def _conv_back(g, ctx, ops):
    return _conv_backward(g, (ctx[0], ctx[1], ctx[2], None), ops)


def _conv_relu_back(g, ctx, ops):
    # relu's backward (its output is positive exactly where its input was), then conv's:
    # ctx ends with the mask "output > 0" made in the forward pass.
    return _conv_backward(g, ctx, ops)


def _conv_relu_pool_back(g, ctx, ops):
    # ctx ends with the pooled output: relu's mask at each window's winner is "pooled > 0".
    return _conv_backward(g, ctx, ops)


def _conv_checked(x: Tensor, weight: Tensor, bias: Optional[Tensor], stride: Any,
                  padding: Any) -> Tuple[Pair, Pair]:
    stride = pair(stride, "conv2d stride", 1)
    padding = pair(padding, "conv2d padding", 0)
    X, W = x.data, weight.data
    if W.ndim != 4:
        raise ValueError(f"conv2d: weight must have shape (O, C, kh, kw), got {W.shape}")
    if X.ndim != 4 or X.shape[1] != W.shape[1]:
        raise ValueError(f"conv2d: input of shape {X.shape} does not match weight of shape "
                         f"{W.shape} (expected (N, {W.shape[1]}, H, W))")
    if X.dtype != W.dtype or (bias is not None and bias.data.dtype != W.dtype):
        raise TypeError(f"conv2d: cannot mix dtypes (input {X.dtype}, weight {W.dtype})")
    return stride, padding


def conv2d(x: Tensor, weight: Tensor, bias: Optional[Tensor] = None, stride: Any = 1,
           padding: Any = 0) -> Tensor:
    """Cross-correlation like PyTorch's: x (N, C, H, W), weight (O, C, kh, kw), bias (O,)
    -> (N, O, OH, OW) with OH = (H + 2*padding - kh) // stride + 1.

        out[n, o, y, x] = b[o] + sum over (c, i, j) of w[o, c, i, j] * xpad[n, c, y*s + i, x*s + j]
    """
    stride, padding = _conv_checked(x, weight, bias, stride, padding)
    out, data, _ = conv_forward(x.data, weight.data, None if bias is None else bias.data,
                                stride, padding)
    operands = (x, weight) if bias is None else (x, weight, bias)
    return make_node(out, operands, _conv_back, (data, stride, padding), "conv2d")


def conv2d_relu(x: Tensor, weight: Tensor, bias: Optional[Tensor] = None, stride: Any = 1,
                padding: Any = 0) -> Tensor:
    """``relu(conv2d(x, weight, bias, stride, padding))`` as one node "conv2d+relu".

    The same numbers as the two ops one after the other; the maximum is taken in place
    on the GEMM's output while it is in cache, and the backward masks the gradient on
    its way into the convolution's: an array and two passes over it saved.
    """
    stride, padding = _conv_checked(x, weight, bias, stride, padding)
    operands = (x, weight) if bias is None else (x, weight, bias)
    grad = _GRAD_ENABLED[0] and any(t.requires_grad for t in operands)
    out, data, mask = conv_forward(x.data, weight.data, None if bias is None else bias.data,
                                   stride, padding, relu=True, keep_mask=grad)
    return make_node(out, operands, _conv_relu_back, (data, stride, padding, mask),
                     "conv2d+relu")


def conv2d_relu_max_pool2d(x: Tensor, weight: Tensor, bias: Optional[Tensor], stride: Any,
                           padding: Any, pool_kernel: Any, pool_stride: Any = None) -> Tensor:
    """``max_pool2d(relu(conv2d(x, weight, bias, stride, padding)), pool_kernel, pool_stride)``
    as one node "conv2d+relu+max_pool2d" (a pool without padding).

    The same numbers as the three ops one after the other. The convolution's output is
    pooled chunk by chunk while in cache and never stored; relu is taken on the pooled
    numbers (relu and max commute), and the backward sends the gradient of each window
    straight to its winner on the convolution's gradient grid, masked by "pooled > 0"
    (relu's mask at the winner). No full-size relu mask, activation or pool gradient.
    """
    stride, padding = _conv_checked(x, weight, bias, stride, padding)
    kernel = pair(pool_kernel, "max_pool2d kernel_size", 1)
    pstride = kernel if pool_stride is None else pair(pool_stride, "max_pool2d stride", 1)
    operands = (x, weight) if bias is None else (x, weight, bias)
    grad = _GRAD_ENABLED[0] and any(t.requires_grad for t in operands)
    out, data, _ = conv_forward(x.data, weight.data, None if bias is None else bias.data,
                                stride, padding, relu=True, keep_mask=grad,
                                pool=(kernel, pstride))
    return make_node(out, operands, _conv_relu_pool_back, (data, stride, padding, out),
                     "conv2d+relu+max_pool2d")
