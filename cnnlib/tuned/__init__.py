"""Tuned kernels: the same ops as :mod:`cnnlib.ops`, rewritten for speed.

The library runs these by default; no chapter prints them. They keep activations
channels-last in memory (NCHW in shape, as transposed views), so that one matrix
multiply lands in the next layer's order; they copy whole pixels as single items
(:func:`~cnnlib.tuned.im2col.copy_blocks`), accumulate wide-channel gradients
batch-inner, and skip work that a readable version does for clarity. A ReLU and the max
pooling after it run as one op (:func:`relu_max_pool2d_forward`, which
:class:`cnnlib.nn.Sequential` uses), without writing the ReLU's output; so does a
one-channel 3x3 convolution before them (:mod:`cnnlib.tuned.conv_relu_pool`), the MNIST
net's first block, without writing the convolution's output either. A convolution
builds its next column matrix in the memory of its last column gradient
(:mod:`cnnlib.tuned.reuse`).

``tests/test_tuned_equals_readable.py`` proves every op here equal to its readable
twin on random shapes, forward and backward, in float64 and float32. Switch them off
with ``cnnlib.fast_kernels(False)``.
"""

from .adam import adam_step
from .activation import ReluAppliedByPooling, relu, relu_backward, relu_forward
from .conv import Conv2dCache, conv2d, conv2d_backward, conv2d_forward
from .conv_relu_pool import (
    ConvReluPoolCache,
    conv_relu_max_pool2d_backward,
    conv_relu_max_pool2d_forward,
)
from .pooling import (
    PoolCache,
    avg_pool2d,
    avg_pool2d_backward,
    avg_pool2d_forward,
    max_pool2d,
    max_pool2d_backward,
    max_pool2d_forward,
    relu_max_pool2d_forward,
)

__all__ = [
    "conv2d", "conv2d_forward", "conv2d_backward", "Conv2dCache",
    "max_pool2d", "max_pool2d_forward", "max_pool2d_backward",
    "relu_max_pool2d_forward", "ReluAppliedByPooling",
    "conv_relu_max_pool2d_forward", "conv_relu_max_pool2d_backward",
    "ConvReluPoolCache",
    "avg_pool2d", "avg_pool2d_forward", "avg_pool2d_backward", "PoolCache",
    "relu", "relu_forward", "relu_backward",
    "adam_step",
]  # fmt: skip
