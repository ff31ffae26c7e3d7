"""The readable vectorized ops: what chapter 6 prints, one module per op.

Each op comes three ways, like the loops of Part I: ``op(...)`` returns the output,
``op_forward(...)`` returns ``(out, cache)``, and ``op_backward(grad_output, cache)``
returns the gradients. Arrays are NCHW throughout. These are the reference for the
tuned kernels in :mod:`cnnlib.tuned`, which a test proves equal to them;
``cnnlib.fast_kernels(False)`` makes the whole library run on these.
"""

from .activation import relu, relu_backward, relu_forward
from .batchnorm import (
    BatchNormCache,
    batch_norm,
    batch_norm_backward,
    batch_norm_forward,
)
from .conv import Conv2dCache, conv2d, conv2d_backward, conv2d_forward
from .dropout import DropoutCache, dropout, dropout_backward, dropout_forward
from .im2col import col2im, im2col
from .linear import LinearCache, linear, linear_backward, linear_forward
from .loss import (
    CrossEntropyCache,
    cross_entropy,
    cross_entropy_backward,
    cross_entropy_forward,
    log_softmax,
    softmax,
)
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
    "conv2d", "conv2d_forward", "conv2d_backward", "Conv2dCache", "im2col", "col2im",
    "max_pool2d", "max_pool2d_forward", "max_pool2d_backward",
    "avg_pool2d", "avg_pool2d_forward", "avg_pool2d_backward", "PoolCache",
    "linear", "linear_forward", "linear_backward", "LinearCache",
    "relu", "relu_forward", "relu_backward",
    "cross_entropy", "cross_entropy_forward", "cross_entropy_backward",
    "CrossEntropyCache", "log_softmax", "softmax",
    "batch_norm", "batch_norm_forward", "batch_norm_backward", "BatchNormCache",
    "dropout", "dropout_forward", "dropout_backward", "DropoutCache",
]  # fmt: skip
