"""The ops of ``torch.nn.functional``, in NumPy, each with its backward.

Every op comes three ways:

* ``op(...)``: torch's name, arguments, defaults and output shape; returns the output.
* ``op_forward(...) -> (out, cache)``: the same, plus what the backward needs.
* ``op_backward(grad_output, cache)``: the gradient(s). Ops with parameters return
  ``(grad_x, grad_weight, grad_bias)`` (``grad_bias`` is ``None`` without bias) and
  take ``needs_input_grad=False`` to skip ``grad_x``; the others return ``grad_x``.

``grad_output`` has the forward output's shape and every gradient the shape of what it
is the gradient of. Inputs are never modified; the one exception is torch's too:
``batch_norm`` in training updates the running statistics it is given in place.

Each op runs the tuned kernel of :mod:`cnnlib.tuned` where there is one, or the
readable op of :mod:`cnnlib.ops` when ``cnnlib.fast_kernels(False)`` is in force (see
:mod:`cnnlib.dispatch`). Linear layers, the loss, batch normalisation and dropout have
one implementation, the readable one (a few whole-array NumPy operations each, with no
loop or copy for a tuned kernel to remove). Outputs of the tuned path may be
channels-last in memory (NCHW in shape and values); ``np.ascontiguousarray`` gives a
C-ordered copy when one is needed.
"""

from __future__ import annotations

from . import ops, tuned
from .dispatch import fast_kernels_enabled
from .ops import (
    BatchNormCache,
    CrossEntropyCache,
    DropoutCache,
    LinearCache,
    batch_norm,
    batch_norm_backward,
    batch_norm_forward,
    cross_entropy,
    cross_entropy_backward,
    cross_entropy_forward,
    dropout,
    dropout_backward,
    dropout_forward,
    linear,
    linear_backward,
    linear_forward,
    log_softmax,
    softmax,
)

__all__ = [
    "conv2d", "conv2d_forward", "conv2d_backward",
    "max_pool2d", "max_pool2d_forward", "max_pool2d_backward",
    "avg_pool2d", "avg_pool2d_forward", "avg_pool2d_backward",
    "linear", "linear_forward", "linear_backward", "LinearCache",
    "relu", "relu_forward", "relu_backward",
    "cross_entropy", "cross_entropy_forward", "cross_entropy_backward",
    "CrossEntropyCache", "log_softmax", "softmax",
    "batch_norm", "batch_norm_forward", "batch_norm_backward", "BatchNormCache",
    "dropout", "dropout_forward", "dropout_backward", "DropoutCache",
]  # fmt: skip


def _path():
    """The module whose forward ops run now."""
    return tuned if fast_kernels_enabled() else ops


def conv2d_forward(x, weight, bias=None, stride=1, padding=0, dilation=1):
    """``x: (N, C_in, H, W)``, ``weight: (C_out, C_in, kh, kw)`` -> ``(out, cache)``."""
    return _path().conv2d_forward(x, weight, bias, stride, padding, dilation)


def conv2d_backward(grad_output, cache, needs_input_grad=True):
    """``(grad_x, grad_weight, grad_bias)`` on the path of ``cache``'s forward pass."""
    tuned_caches = (tuned.Conv2dCache, tuned.ConvReluPoolCache)
    path = tuned if isinstance(cache, tuned_caches) else ops
    return path.conv2d_backward(grad_output, cache, needs_input_grad)


def conv2d(x, weight, bias=None, stride=1, padding=0, dilation=1):
    """``torch.nn.functional.conv2d``: ``(N, C_in, H, W)`` -> ``(N, C_out, ...)``."""
    return conv2d_forward(x, weight, bias, stride, padding, dilation)[0]


def max_pool2d_forward(x, kernel_size, stride=None, padding=0, dilation=1):
    """``x: (N, C, H, W)`` -> ``(out, cache)``; the first of tied maxima wins."""
    return _path().max_pool2d_forward(x, kernel_size, stride, padding, dilation)


def max_pool2d_backward(grad_output, cache):
    """``grad_output: (N, C, H_out, W_out)`` -> ``grad_x: (N, C, H, W)``."""
    path = tuned if isinstance(cache, tuned.PoolCache) else ops
    return path.max_pool2d_backward(grad_output, cache)


def max_pool2d(x, kernel_size, stride=None, padding=0, dilation=1):
    """``torch.nn.functional.max_pool2d``: ``(N, C, H, W)`` -> ``(N, C, ...)``."""
    return max_pool2d_forward(x, kernel_size, stride, padding, dilation)[0]


def avg_pool2d_forward(
    x, kernel_size, stride=None, padding=0, *, count_include_pad=True
):
    """``x: (N, C, H, W)`` -> ``(out, cache)``."""
    return _path().avg_pool2d_forward(
        x, kernel_size, stride, padding, count_include_pad=count_include_pad
    )


def avg_pool2d_backward(grad_output, cache):
    """``grad_output: (N, C, H_out, W_out)`` -> ``grad_x: (N, C, H, W)``."""
    path = tuned if isinstance(cache, tuned.PoolCache) else ops
    return path.avg_pool2d_backward(grad_output, cache)


def avg_pool2d(x, kernel_size, stride=None, padding=0, *, count_include_pad=True):
    """``torch.nn.functional.avg_pool2d``: ``(N, C, H, W)`` -> ``(N, C, ...)``."""
    return avg_pool2d_forward(
        x, kernel_size, stride, padding, count_include_pad=count_include_pad
    )[0]


def relu_forward(x):
    """``x``: any shape -> ``(out, cache)``, the cache being the mask ``x > 0``."""
    return _path().relu_forward(x)


def relu_backward(grad_output, cache):
    """``grad_output``: the output's shape -> ``grad_x``; both paths take the same
    mask, and give the same values. (A ReLU that the tuned max pooling after it ran,
    :class:`~cnnlib.tuned.ReluAppliedByPooling`, has no mask: the tuned path passes
    its gradient through.)"""
    path = tuned if isinstance(cache, tuned.ReluAppliedByPooling) else _path()
    return path.relu_backward(grad_output, cache)


def relu(x):
    """``torch.nn.functional.relu``: any shape -> same shape."""
    return relu_forward(x)[0]
