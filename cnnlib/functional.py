"""The ops of ``torch.nn.functional``, in NumPy, each with its backward -- one namespace for all of them.

Every op comes three ways:

* ``op(...)``: torch's name, arguments, defaults and output shape; returns the output only.
* ``op_forward(...) -> (out, cache)``: the same, plus a cache holding exactly what the backward needs.
* ``op_backward(grad_output, cache)``: the gradient(s). Ops with parameters return a tuple
  ``(grad_x, grad_weight, grad_bias)`` (``grad_bias`` is ``None`` without bias) and take
  ``needs_input_grad=False`` to skip ``grad_x``; the others return ``grad_x``.

``grad_output`` always has the shape of the forward output and every gradient the shape of what it is
the gradient of. Inputs are never modified. The implementations live in small modules of their own:
:mod:`cnnlib.conv`, :mod:`cnnlib.pooling`, :mod:`cnnlib.linear`, :mod:`cnnlib.activation`, :mod:`cnnlib.loss`.

Outputs of ``conv2d``/pooling are NCHW in shape but may be channels-last in memory (transposed views);
see :mod:`cnnlib.conv`.
"""

from .activation import relu, relu_backward, relu_forward
from .conv import Conv2dCache, conv2d, conv2d_backward, conv2d_forward
from .linear import LinearCache, linear, linear_backward, linear_forward
from .loss import CrossEntropyCache, cross_entropy, cross_entropy_backward, cross_entropy_forward, log_softmax, softmax
from .pooling import (
    PoolCache,
    avg_pool2d,
    avg_pool2d_backward,
    avg_pool2d_forward,
    max_pool2d,
    max_pool2d_backward,
    max_pool2d_forward,
)

__all__ = [
    "conv2d", "conv2d_forward", "conv2d_backward", "Conv2dCache",
    "max_pool2d", "max_pool2d_forward", "max_pool2d_backward",
    "avg_pool2d", "avg_pool2d_forward", "avg_pool2d_backward", "PoolCache",
    "linear", "linear_forward", "linear_backward", "LinearCache",
    "relu", "relu_forward", "relu_backward",
    "cross_entropy", "cross_entropy_forward", "cross_entropy_backward", "CrossEntropyCache",
    "log_softmax", "softmax",
]  # fmt: skip
