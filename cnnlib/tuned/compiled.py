"""The compiled kernels of :mod:`cnnlib.tuned.numba_kernels`: whether they run, and
the calls that prepare their arrays.

numba is optional. Where it is installed (``requirements.txt`` installs it), the tuned
ReLU, max pooling, a convolution's column matrix, the sum of its input gradient, Adam's
step and the MNIST net's first block (:mod:`cnnlib.tuned.conv_relu_pool`) run
compiled, one pass over memory each; where it is not, or after ``use_numba(False)``,
the same ops run the NumPy code of :mod:`cnnlib.tuned` (Adam's, the readable step; the
first block's layers one by one), and cnnlib needs nothing but NumPy.
Both give the same values (a convolution's input gradient and the first block up to
float rounding: their products are summed in another grouping; Adam's step bit for
bit).

``CNNLIB_NUMBA=0`` in the environment starts a process with them switched off. The
grader sets it: its runs train nothing, and each would otherwise compile the kernels
afresh in its sandbox (about 1.5 s), where no cache is kept between runs.

Each ``*_or_none`` function below returns ``None`` where its kernel does not apply
(numba missing or switched off, an integer dtype, a memory layout the kernel was not
written for); the caller then runs its NumPy code.
"""

from __future__ import annotations

import os

import numpy as np

from ..dispatch import Switch
from . import reuse
from .im2col import WIDE_CHANNELS

__all__ = [
    "use_numba",
    "numba_enabled",
    "relu_or_none",
    "relu_backward_or_none",
    "max_pool_forward_or_none",
    "max_pool_backward_or_none",
    "im2col_or_none",
    "col2im_or_none",
    "conv3x3_relu_max_pool2x2_or_none",
    "conv3x3_relu_max_pool2x2_backward_or_none",
    "adam_kernel_or_none",
]

_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))
_kernels = None  # the numba_kernels module, once imported
_missing = False  # numba could not be imported


class use_numba(Switch):  # noqa: N801 -- lower case, as cnnlib.fast_kernels
    """Run the compiled kernels where they apply (``True``, the default where numba
    is installed and ``CNNLIB_NUMBA`` is not ``0``) or the NumPy ones (``False``); a
    function call or a context manager, like :class:`cnnlib.fast_kernels`."""

    enabled = os.environ.get("CNNLIB_NUMBA", "1") != "0"
    public_name = "cnnlib.tuned.compiled.use_numba"


def numba_enabled() -> bool:
    """``True`` while the compiled kernels run: numba is installed and not switched
    off."""
    return _module() is not None


def _module():
    """:mod:`cnnlib.tuned.numba_kernels`, imported on first use; ``None`` if numba is
    missing or switched off."""
    global _kernels, _missing
    if not use_numba.enabled or _missing:
        return None
    if _kernels is None:
        try:
            from . import numba_kernels
        except ImportError:
            _missing = True
            return None
        _kernels = numba_kernels
    return _kernels


def _memory_order(a: np.ndarray) -> np.ndarray | None:
    """``a``'s elements in memory order as a 1-D view; ``None`` if ``a`` is not one
    contiguous block in some axis order."""
    flat = np.ravel(a, order="K")
    return flat if np.shares_memory(flat, a) or a.size == 0 else None


def relu_or_none(x: np.ndarray):
    """``(max(x, 0), x > 0)``, both in ``x``'s shape and memory layout, or ``None``."""
    kernels = _module()
    if kernels is None or x.dtype not in _FLOATS or x.size == 0:
        return None
    x_flat = _memory_order(x)
    if x_flat is None:
        return None
    out, positive = np.empty_like(x), np.empty_like(x, dtype=bool)
    kernels.relu_flat(x_flat, np.ravel(out, order="K"), np.ravel(positive, order="K"))
    return out, positive


def relu_backward_or_none(grad: np.ndarray, positive: np.ndarray):
    """``grad * positive`` for two arrays of one shape and memory layout, or
    ``None``."""
    kernels = _module()
    if (
        kernels is None
        or grad.dtype not in _FLOATS
        or positive.dtype != np.bool_
        or grad.shape != positive.shape
        or grad.strides != tuple(s * grad.itemsize for s in positive.strides)
        or grad.size == 0
    ):
        return None
    grad_flat, positive_flat = _memory_order(grad), _memory_order(positive)
    if grad_flat is None or positive_flat is None:
        return None
    out = np.empty_like(grad)
    kernels.relu_backward_flat(grad_flat, positive_flat, np.ravel(out, order="K"))
    return out


def max_pool_forward_or_none(
    x_nhwc, kernel_size, stride, dilation, out_hw, relu_first=False
):
    """Max pooling of an unpadded ``x_nhwc: (N, H, W, C)``: ``(out, winner)``, both
    ``(N, H_out, W_out, C)`` and C-contiguous, or ``None``. ``relu_first``: of
    ``relu(x)``, each window without a positive input won by no tap (``kh * kw``)."""
    kernels = _module()
    if kernels is None or x_nhwc.dtype not in _FLOATS or x_nhwc.size == 0:
        return None
    kh, kw = kernel_size
    if kh * kw >= 256:  # the winner would not fit its uint8
        return None
    n, _, _, c = x_nhwc.shape
    out = np.empty((n, *out_hw, c), dtype=x_nhwc.dtype)
    winner = np.empty(out.shape, dtype=np.uint8)
    kernels.max_pool_forward(
        x_nhwc, kernel_size, stride, dilation, out, winner, relu_first
    )
    return out, winner


def max_pool_backward_or_none(
    grad_nhwc, winner, kernel_size, stride, dilation, hw, disjoint
):
    """Gradient of :func:`max_pool_forward_or_none`: ``grad_nhwc: (N, H_out, W_out,
    C)`` -> ``(N, H, W, C)``, C-contiguous, or ``None``. ``disjoint``: no input lies
    in two windows."""
    kernels = _module()
    if (
        kernels is None
        or grad_nhwc.dtype not in _FLOATS
        or winner.dtype != np.uint8
        or grad_nhwc.size == 0
    ):
        return None
    n, _, _, c = grad_nhwc.shape
    grad_x = np.empty((n, *hw, c), dtype=grad_nhwc.dtype)
    kernels.max_pool_backward(
        grad_nhwc, winner, kernel_size, stride, dilation, disjoint, grad_x
    )
    return grad_x


def conv3x3_relu_max_pool2x2_or_none(x, weight, bias, padding, pooled_hw):
    """``max_pool2d(relu(conv2d(x, weight, bias, padding=padding)), 2)`` for one input
    channel and a 3x3 kernel: ``x: (N, 1, H, W)`` (any strides), ``weight: (C, 1, 3,
    3)``, ``bias: (C,)`` or ``None``, all of one dtype; ``pooled_hw = (H_q, W_q)``.
    Returns ``(out, winner)``: ``(N, H_q, W_q, C)``, C-contiguous, and the winning taps
    ``(N, C, H_q, W_q + 1)`` (uint8, the last column scratch); or ``None``."""
    kernels = _module()
    if kernels is None or x.dtype not in _FLOATS or x.size == 0:
        return None
    n, c = x.shape[0], weight.shape[0]
    out = np.empty((n, *pooled_hw, c), dtype=x.dtype)
    winner = np.empty((n, c, pooled_hw[0], pooled_hw[1] + 1), dtype=np.uint8)
    bias = np.zeros(c, dtype=x.dtype) if bias is None else bias
    kernels.conv3x3_relu_max_pool2x2(x[:, 0], weight[:, 0], bias, padding, out, winner)
    return out, winner


def conv3x3_relu_max_pool2x2_backward_or_none(grad_nhwc, winner, x, padding):
    """The weight and bias gradients of :func:`conv3x3_relu_max_pool2x2_or_none`, from
    the gradient of its output ``grad_nhwc: (N, H_q, W_q, C)`` (any strides), its
    ``winner`` and ``x``: ``(C, 10)`` float64 sums (the taps row-major, then the bias),
    or ``None``."""
    kernels = _module()
    if kernels is None or grad_nhwc.dtype not in _FLOATS:
        return None
    sums = np.zeros((winner.shape[1], 10))
    kernels.conv3x3_relu_max_pool2x2_backward(grad_nhwc, winner, x[:, 0], padding, sums)
    return sums


def im2col_or_none(x_nhwc, kernel_size, stride, padding, dilation, out_hw, ones_column):
    """The column matrix of ``x_nhwc: (N, H, W, C)``, any strides, padded by
    ``padding``: ``(N*H_out*W_out, kh*kw*C [+ 1])``, C-contiguous, as
    :func:`cnnlib.tuned.im2col.im2col_nhwc` builds it for ``C >= WIDE_CHANNELS``; or
    ``None``, also for fewer channels or a dilation across the row."""
    kernels = _module()
    n, _, _, c = x_nhwc.shape
    if (
        kernels is None
        or x_nhwc.dtype not in _FLOATS
        or c < WIDE_CHANNELS
        or dilation[1] != 1
        or x_nhwc.size == 0
    ):
        return None
    kh, kw = kernel_size
    shape = (n * out_hw[0] * out_hw[1], kh * kw * c + ones_column)
    cols = reuse.take(shape[0] * shape[1], x_nhwc.dtype).reshape(shape)
    kernels.im2col_rows(x_nhwc, kernel_size, stride, padding, dilation[0], out_hw, cols)
    return cols


def col2im_or_none(cols, input_hw, stride, padding, dilation):
    """The adjoint of im2col: ``cols: (N, H_out, W_out, kh, kw, C)``, C-contiguous ->
    ``(N, H, W, C)`` with ``input_hw = (H, W)`` (the padding dropped), or ``None``."""
    kernels = _module()
    if kernels is None or cols.dtype not in _FLOATS or cols.size == 0:
        return None
    n, *_, c = cols.shape
    grad_x = np.empty((n, *input_hw, c), dtype=cols.dtype)
    kernels.col2im(cols, stride, padding, dilation, grad_x)
    return grad_x


def adam_kernel_or_none(groups):
    """:func:`cnnlib.tuned.numba_kernels.adam_update` where it applies to every
    ``(param, grad, exp_avg, exp_avg_sq)`` in ``groups``: four C-contiguous arrays of
    one shape and one float dtype; otherwise ``None``."""
    kernels = _module()
    if kernels is None:
        return None
    for group in groups:
        param = group[0]
        if param.dtype not in _FLOATS or not all(
            isinstance(a, np.ndarray)
            and a.dtype == param.dtype
            and a.shape == param.shape
            and a.flags.c_contiguous
            for a in group
        ):
            return None
    return kernels.adam_update
