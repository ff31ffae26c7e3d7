"""What a CNN computes, written as plain loops you can follow line by line (Part I).

One module per op, forward and backward side by side, with the contract of the
vectorized ops: ``op_forward(...)`` returns ``(out, cache)``, ``op_backward(grad_output,
cache)`` returns the gradients, and ``op(...)`` returns the output alone. Arguments,
defaults and shapes are ``torch.nn.functional``'s (NCHW, weights
``(C_out, C_in, kh, kw)``, padding per side).

These loops are slow on purpose: they are the teaching code of Part I and the test
oracle of the vectorized library. Unlike the vectorized ops they also take lists and
integer arrays (computed in float64), so a first experiment needs no ``astype``.
"""

from .activation import relu, relu_backward, relu_forward, sigmoid, tanh
from .conv import Conv2dCache, conv2d, conv2d_backward, conv2d_forward, correlate2d
from .linear import LinearCache, flatten, linear, linear_backward, linear_forward
from .loss import (
    CrossEntropyCache,
    cross_entropy,
    cross_entropy_backward,
    cross_entropy_forward,
    softmax,
)
from .pooling import (
    AvgPoolCache,
    MaxPoolCache,
    avg_pool2d,
    avg_pool2d_backward,
    avg_pool2d_forward,
    max_pool2d,
    max_pool2d_backward,
    max_pool2d_forward,
    max_pool2d_with_indices,
)

__all__ = [
    "correlate2d", "conv2d", "conv2d_forward", "conv2d_backward", "Conv2dCache",
    "max_pool2d", "max_pool2d_with_indices", "max_pool2d_forward",
    "max_pool2d_backward",
    "MaxPoolCache", "avg_pool2d", "avg_pool2d_forward", "avg_pool2d_backward",
    "AvgPoolCache", "relu", "relu_forward", "relu_backward", "sigmoid", "tanh",
    "linear", "linear_forward", "linear_backward", "LinearCache", "flatten",
    "softmax", "cross_entropy", "cross_entropy_forward", "cross_entropy_backward",
    "CrossEntropyCache",
]  # fmt: skip
