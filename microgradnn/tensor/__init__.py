"""The vectorized path: array autograd, layers and CNNs with the scalar engine's API.

    from microgradnn.tensor import Tensor, Sequential, Linear, ReLU, cross_entropy
    net = Sequential(Linear(784, 16), ReLU(), Linear(16, 10))
    loss = cross_entropy(net(Tensor(x_batch)), y_batch)
    loss.backward()
"""

from . import ops as _ops  # noqa: F401  (attaches the operators to Tensor)
from .conv import avg_pool2d, conv2d, max_pool2d
from .functional import (cross_entropy, dropout, linear, log_softmax, mse_loss, sigmoid_mse_loss,
                         softmax)
from .layers import (AvgPool2d, Conv2d, Dropout, Flatten, Linear, MaxPool2d, ReLU, Sequential,
                     Sigmoid, Tanh)
from .ops import exp, log, relu, sigmoid, tanh
from .adaptive_pool import AdaptiveAvgPool2d, adaptive_avg_pool2d
from .join import cat
from .norm import (BatchNorm1d, BatchNorm2d, LocalResponseNorm, batch_norm,
                   local_response_norm)
from .blocks import BasicBlock, Inception
from .bridge import mlp_from_sequential, sequential_from_mlp
from .gradcheck import tensor_gradcheck
from .tensor import Tensor, from_uint8, is_grad_enabled, no_grad
from .replay import ReplayRefused, ReplayStep, replay

__all__ = ["Tensor", "no_grad", "is_grad_enabled", "from_uint8",
           "exp", "log", "tanh", "sigmoid", "relu",
           "linear", "cross_entropy", "mse_loss", "sigmoid_mse_loss", "softmax", "log_softmax",
           "dropout",
           "conv2d", "max_pool2d", "avg_pool2d",
           "Linear", "ReLU", "Sigmoid", "Tanh", "Conv2d", "MaxPool2d", "AvgPool2d", "Flatten",
           "Dropout", "Sequential", "sequential_from_mlp", "mlp_from_sequential",
           "tensor_gradcheck",
           "cat", "adaptive_avg_pool2d", "batch_norm", "local_response_norm",
           "AdaptiveAvgPool2d", "BatchNorm1d", "BatchNorm2d", "LocalResponseNorm",
           "BasicBlock", "Inception", "replay", "ReplayStep", "ReplayRefused"]
