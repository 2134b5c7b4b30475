"""Convolution on (N, C, H, W) arrays, vectorized: no loop over pixels.

``conv2d`` is one small GEMM per sample (weights times that sample's columns), run over the
batch in cache-sized chunks; ``conv2d_relu`` and ``conv2d_relu_max_pool2d`` are the same
numbers as the layers one after the other, fused into one node (``Sequential`` uses them)
so that relu masks, activations and pool gradients never take a batch-sized array.

The modules, in the order a call runs through them:

- ``ops.py``: the graph ops and their backward functions;
- ``algorithms.py``: which algorithm runs, small pure functions of the geometry (a test
  names one with ``microgradnn.tensor.forcing.forced``);
- ``plan.py``: the layout of the columns (wide, compact, phase planes);
- ``forward.py``: the GEMMs, chunk by chunk, with relu and a pool inside;
- ``backward.py``: the output gradient chunk by chunk, into
- ``input_grad.py`` and ``weight_grad.py``: one class per gradient algorithm.

The plain version every algorithm is tested against: ``microgradnn.tensor.reference``
(``sliding_window_view`` and one ``einsum``); PyTorch is the second oracle.

To change how a convolution's input gradient is computed, edit one function, the
``chunk`` method of its algorithm in ``input_grad.py`` (``algorithms.INPUT_GRADS`` says
which geometry runs which), and run one test,
``tests/test_tensor_conv_algorithms.py::test_every_input_gradient_algorithm_matches_the_reference``:
it forces each algorithm by name over a grid of geometries and compares its gradients
with the reference's.

Pooling is ``microgradnn.tensor.pool`` (imported here too, as before).
"""

from ..pool import avg_pool2d, max_pool2d
from ..windows import pair
from .ops import conv2d, conv2d_relu, conv2d_relu_max_pool2d

__all__ = ["conv2d", "conv2d_relu", "conv2d_relu_max_pool2d", "max_pool2d", "avg_pool2d",
           "pair"]
