"""A one-channel 3x3 convolution, the ReLU after it and a 2x2 max pooling of stride 2,
run as one op: the first block of the course's MNIST net.

Run layer by layer, the convolution writes its output (16 channels of 26x26 for a
28x28 digit: 2.8 MB for a batch of 64), the pooling reads it back, and backward writes
and reads a gradient of that size again, then multiplies a column matrix of the
images. Here one compiled pass per image (:mod:`cnnlib.tuned.numba_kernels`) computes
each pooling window's four convolution outputs, pools them and keeps only the maximum
and which tap won; backward sends each pooled gradient to its winner and sums it, times
the pixels that winner read, straight into the weight and bias gradients. No column
matrix is built. For the MNIST net at batch 64 (float32, on a 2-core machine) this took
the block from 0.80 ms to 0.43 ms forward and from 0.64 ms to 0.40 ms backward, and the
training step from 5.69 ms to 4.96 ms.

:class:`cnnlib.nn.Sequential` runs a ``Conv2d, ReLU, MaxPool2d`` block this way where
:func:`conv_relu_max_pool2d_forward` applies (numba installed, one input channel, a 3x3
kernel of stride and dilation 1, any zero padding; pooling 2x2, stride 2, no padding or
dilation), and its backward when the convolution's input gradient is not needed (a
network's first layer). The results equal the layer-by-layer ones up to float rounding:
the sums run in another order. Each layer still gets a cache its own backward can use,
so the three layers' backward passes, run one by one, give the block's gradients too.

One difference shows only with an infinite or NaN pixel. The forward pass gives the
layers' outputs, NaN and infinity included, but the weight gradient's NaNs can sit
elsewhere: the layers multiply every pixel by the gradient of every convolution output,
zeros included (0 times infinity is NaN), where this kernel multiplies the pixels read
by the outputs the pooling keeps, plus a scratch column whose gradient is 0.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .. import checks
from . import compiled
from .activation import ReluAppliedByPooling
from .conv import Conv2dCache, column_matrix, conv2d_backward, weight_matrix_of
from .pooling import PoolCache, max_pool2d_backward

__all__ = [
    "ConvReluPoolCache",
    "conv_relu_max_pool2d_backward",
    "conv_relu_max_pool2d_forward",
]

_KERNEL = (3, 3)
_POOL = (2, 2)
_ONE = (1, 1)


class ConvReluPoolCache(NamedTuple):
    """The convolution's cache when the block ran as one op.

    ``x``: the block's input ``(N, 1, H, W)`` (kept, not copied); ``weight_matrix``:
    ``(9 [+ 1], C_out)`` as :class:`~cnnlib.tuned.conv.Conv2dCache` holds it;
    ``padding``: ``(ph, pw)``; ``out_hw``: the convolution's output size;
    ``has_bias``; ``winner``: ``(N, C_out, H_q, W_q + 1)`` uint8, the pooling's
    winning tap for every output (4: the ReLU sent nothing), its last column scratch;
    ``pool_cache``: the cache the block's pooling layer got.
    """

    x: np.ndarray
    weight_matrix: np.ndarray
    padding: tuple
    out_hw: tuple
    has_bias: bool
    winner: np.ndarray
    pool_cache: PoolCache

    def conv2d_cache(self) -> Conv2dCache:
        """The cache :func:`~cnnlib.tuned.conv.conv2d_forward` would have kept, its
        column matrix built now (for a backward pass that runs the layers one by
        one)."""
        (ph, pw), (h, w) = self.padding, self.x.shape[2:]
        cols = column_matrix(
            self.x, _KERNEL, _ONE, self.padding, _ONE, self.out_hw, self.has_bias
        )
        return Conv2dCache(
            cols, self.weight_matrix, self.x.shape, (h + 2 * ph, w + 2 * pw),
            self.out_hw, _KERNEL, _ONE, self.padding, _ONE, self.has_bias,
        )  # fmt: skip


def conv_relu_max_pool2d_forward(x, weight, bias, conv_args, pool_args):
    """``max_pool2d(relu(conv2d(x, weight, bias, *conv_args)), *pool_args)`` in one
    pass, or ``None`` where this block is not the one the kernel was written for (see
    the module's docstring), or numba is not running.

    Args:
        x: ``(N, 1, H, W)``; weight: ``(C_out, 1, 3, 3)``; bias: ``(C_out,)`` or
            ``None``.
        conv_args: the convolution's ``(stride, padding, dilation)``; pool_args: the
            pooling's ``(kernel_size, stride, padding, dilation)``; each an ``(h, w)``
            pair, as the layers hold them.

    Returns:
        ``(out, conv_cache, relu_cache, pool_cache)``: ``out: (N, C_out, H_q, W_q)``
        and a cache for each layer's backward (:class:`ConvReluPoolCache`,
        :class:`~cnnlib.tuned.ReluAppliedByPooling`,
        :class:`~cnnlib.tuned.PoolCache`).

    Raises:
        ValueError: as :func:`~cnnlib.tuned.conv.conv2d_forward` for a bad ``x``,
            ``weight`` or ``bias``.
    """
    stride, padding, dilation = conv_args
    if (
        np.shape(weight)[1:] != (1, *_KERNEL)
        or (stride, dilation) != (_ONE, _ONE)
        or tuple(pool_args) != (_POOL, _POOL, (0, 0), _ONE)
        or not compiled.numba_enabled()
    ):
        return None
    x, weight, bias, _, padding, _, out_hw = checks.conv2d_args(
        x, weight, bias, stride, padding, dilation
    )
    pooled_hw = (out_hw[0] // 2, out_hw[1] // 2)
    if 0 in pooled_hw:  # the pooling would fail: its own check gives the error
        return None
    result = compiled.conv3x3_relu_max_pool2x2_or_none(
        x, weight, bias, padding, pooled_hw
    )
    if result is None:
        return None
    out, winner = result
    conv_shape = (x.shape[0], weight.shape[0], *out_hw)
    pool_cache = PoolCache(
        conv_shape, out_hw, pooled_hw, _POOL, _POOL, (0, 0), _ONE,
        winner=winner[..., : pooled_hw[1]].transpose(0, 2, 3, 1),
    )  # fmt: skip
    conv_cache = ConvReluPoolCache(
        x, weight_matrix_of(weight, bias), padding, out_hw, bias is not None, winner,
        pool_cache,
    )  # fmt: skip
    return (
        out.transpose(0, 3, 1, 2),
        conv_cache,
        ReluAppliedByPooling(conv_shape),
        pool_cache,
    )


def conv_relu_max_pool2d_backward(grad_output, cache: ConvReluPoolCache):
    """The block's weight and bias gradients, from ``grad_output: (N, C_out, H_q,
    W_q)``, the gradient of its output.

    Returns ``(grad_weight, grad_bias)``: ``(C_out, 1, 3, 3)`` and ``(C_out,)``
    (``None`` without a bias). The block's input gradient is not computed: run the
    three layers' backward passes for that.
    """
    n, c_out, hq = cache.winner.shape[:3]
    wq = cache.winner.shape[3] - 1
    grad_output = checks.grad_output_like(grad_output, (n, c_out, hq, wq))
    sums = compiled.conv3x3_relu_max_pool2x2_backward_or_none(
        grad_output.transpose(0, 2, 3, 1), cache.winner, cache.x, cache.padding
    )
    if sums is None:  # numba switched off since the forward pass: layer by layer
        grad_conv = max_pool2d_backward(grad_output, cache.pool_cache)
        _, grad_weight, grad_bias = conv2d_backward(
            grad_conv, cache, needs_input_grad=False
        )
        return grad_weight, grad_bias
    dtype = grad_output.dtype
    grad_weight = sums[:, :9].reshape(c_out, 1, *_KERNEL).astype(dtype)
    grad_bias = sums[:, 9].astype(dtype) if cache.has_bias else None
    return grad_weight, grad_bias
