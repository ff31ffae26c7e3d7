"""2-D convolution (cross-correlation, as in every deep-learning library), forward and
backward, vectorized.

The tuned twin of the readable :mod:`cnnlib.ops.conv`, which the book prints.

Forward: build the column matrix (one row per output position, one column per kernel tap
and input channel) and multiply it once by the weights. With 8 or more input channels
numba builds it in one pass from the input as it lies
(:func:`cnnlib.tuned.compiled.im2col_or_none`), otherwise
:func:`cnnlib.tuned.im2col.im2col_nhwc` does, with NumPy copies. Backward: the same
matrix multiply, transposed twice -- once for the weight gradient, once for the column
gradient, which :func:`cnnlib.tuned.im2col.col2im_nhwc` sums back onto the input. With
few input channels the backward products run image by image, on the gradient as it lies.

Shapes (PyTorch's): ``x: (N, C_in, H, W)``, ``weight: (C_out, C_in, kh, kw)``,
``bias: (C_out,)``, output ``(N, C_out, H_out, W_out)`` with
``H_out = (H + 2*ph - dh*(kh - 1) - 1) // sh + 1``
(:func:`cnnlib.shapes.conv_output_size`), padding counted **per side**.

Memory layout: outputs and input gradients are returned as NCHW-shaped *views* of
channels-last arrays (``np.transpose`` of an ``(N, H, W, C)`` array). Shapes, values and
indexing are exactly NCHW; only the strides differ, which lets the next layer read them
without a copy. ``np.ascontiguousarray`` gives a plain C-ordered copy when one is
needed.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .. import checks
from . import compiled, reuse
from .im2col import (
    WIDE_CHANNELS,
    col2im_nhwc,
    copy_blocks,
    im2col_nhwc,
    kernel_offsets,
    pad_nhwc,
    window,
)

__all__ = ["Conv2dCache", "conv2d_forward", "conv2d_backward", "conv2d"]


class Conv2dCache(NamedTuple):
    """What :func:`conv2d_backward` needs from the forward pass (nothing else is kept).

    ``cols``: ``(N*H_out*W_out, kh*kw*C_in)`` column matrix, plus a column of ones with
    a bias; ``weight_matrix``: ``(kh*kw*C_in, C_out)``, plus the bias as its last row;
    ``x_shape``: ``(N, C_in, H, W)``; ``padded_hw``: ``(H + 2*ph, W + 2*pw)``;
    ``out_hw``: ``(H_out, W_out)``; ``kernel_size``, ``stride``, ``padding``,
    ``dilation``: ``(h, w)`` pairs; ``has_bias``: whether a bias was given.
    """

    cols: np.ndarray
    weight_matrix: np.ndarray
    x_shape: tuple
    padded_hw: tuple
    out_hw: tuple
    kernel_size: tuple
    stride: tuple
    padding: tuple
    dilation: tuple
    has_bias: bool


def conv2d_forward(x, weight, bias=None, stride=1, padding=0, dilation=1):
    """Convolve ``x`` with ``weight`` and return ``(out, cache)``.

    Args:
        x: ``(N, C_in, H, W)`` float32 or float64.
        weight: ``(C_out, C_in, kh, kw)``, same dtype.
        bias: ``(C_out,)`` or ``None``.
        stride, padding, dilation: int or ``(h, w)`` pair; padding is zeros added on
            each side.

    Returns:
        ``out``: ``(N, C_out, H_out, W_out)``; ``cache``: a :class:`Conv2dCache` for
        :func:`conv2d_backward`.

    Raises:
        ValueError: wrong rank or dtype, channel mismatch, bad bias shape, non-positive
            stride or dilation, negative padding, or a kernel larger than the padded
            input.
    """
    x, weight, bias, stride, padding, dilation, (oh, ow) = checks.conv2d_args(
        x, weight, bias, stride, padding, dilation
    )
    n, _, h, w = x.shape
    c_out, _, kh, kw = weight.shape

    # The bias is the weight of an input that is always 1: with a column of ones in
    # `cols` and the bias as the weight matrix's last row, the matrix multiply adds it
    # (and backward gets its gradient the same way).
    cols = compiled.im2col_or_none(
        x.transpose(0, 2, 3, 1),
        (kh, kw),
        stride,
        padding,
        dilation,
        (oh, ow),
        ones_column=bias is not None,
    )
    if cols is None:
        cols = column_matrix(
            x, (kh, kw), stride, padding, dilation, (oh, ow), bias is not None
        )
    weight_matrix = weight_matrix_of(weight, bias)
    out = (cols @ weight_matrix).reshape(n, oh, ow, c_out).transpose(0, 3, 1, 2)
    cache = Conv2dCache(
        cols,
        weight_matrix,
        x.shape,
        (h + 2 * padding[0], w + 2 * padding[1]),
        (oh, ow),
        (kh, kw),
        stride,
        padding,
        dilation,
        bias is not None,
    )
    return out, cache


def weight_matrix_of(weight, bias):
    """``weight: (C_out, C_in, kh, kw)`` as the matrix the column matrix multiplies:
    ``(kh*kw*C_in [+ 1], C_out)``, its rows in the columns' order (i, j, c), then the
    bias as a last row if there is one."""
    c_out = weight.shape[0]
    matrix = weight.transpose(2, 3, 1, 0).reshape(-1, c_out)
    return matrix if bias is None else np.vstack([matrix, bias])


def column_matrix(x, kernel_size, stride, padding, dilation, out_hw, ones_column):
    """:func:`conv2d_forward`'s column matrix in NumPy: ``x: (N, C_in, H, W)`` ->
    ``(N*H_out*W_out, kh*kw*C_in [+ 1])``."""
    x_nhwc = x.transpose(0, 2, 3, 1)
    if padding == (0, 0) and x.shape[1] > 1 and not x_nhwc.flags.c_contiguous:
        # An NCHW-ordered input: one transposing copy is cheaper than gathering every
        # tap across channels.
        x_nhwc = np.ascontiguousarray(x_nhwc)
    return im2col_nhwc(
        pad_nhwc(x_nhwc, padding),
        kernel_size,
        stride,
        dilation,
        out_hw,
        ones_column=ones_column,
    )


def conv2d_backward(grad_output, cache: Conv2dCache, needs_input_grad=True):
    """Gradients of a convolution.

    Args:
        grad_output: ``(N, C_out, H_out, W_out)``, the loss gradient with respect to the
            output.
        cache: from :func:`conv2d_forward`.
        needs_input_grad: ``False`` skips ``grad_x`` (``None`` is returned in its
            place), e.g. for a network's first layer, whose input is data, not something
            to train.

    Returns:
        ``(grad_x, grad_weight, grad_bias)`` with shapes ``(N, C_in, H, W)``,
        ``(C_out, C_in, kh, kw)`` and ``(C_out,)`` (``grad_bias`` is ``None`` if the
        forward pass had no bias).
    """
    if not isinstance(cache, Conv2dCache):
        # a block that ran as one op (cnnlib.tuned.conv_relu_pool) kept no column
        # matrix: it is built now, for this backward pass alone
        cache = cache.conv2d_cache()
    n, c_in, h, w = cache.x_shape
    oh, ow = cache.out_hw
    kh, kw = cache.kernel_size
    c_out = cache.weight_matrix.shape[1]
    expected = (n, c_out, oh, ow)
    grad_output = checks.grad_output_like(grad_output, expected)
    taps = kh * kw * c_in
    weight_matrix = cache.weight_matrix[:taps]
    if c_in < WIDE_CHANNELS:
        return _narrow_backward(grad_output, cache, weight_matrix, needs_input_grad)
    # G: one row per output position (n, y, x), one column per output channel. Free when
    # the gradient is already channels-last (as the layers above hand it down);
    # otherwise one small transposing copy, which pays for itself: every product below
    # is then one large matrix multiply that BLAS can spread over all cores, instead of
    # one small multiply per image.
    grad_rows = np.ascontiguousarray(grad_output.transpose(0, 2, 3, 1)).reshape(
        n * oh * ow, c_out
    )

    # cols^T G has the weight matrix's shape (kh*kw*C_in [+ 1], C_out); the row of the
    # ones column, if any, is the bias gradient. (Computing its transpose G^T cols
    # instead is the same arithmetic, but BLAS runs that shape, with one long shared
    # dimension, on a single core.)
    grad_weight, grad_bias = _split_weight_rows(cache.cols.T @ grad_rows, cache)
    if not needs_input_grad:
        return None, grad_weight, grad_bias
    if compiled.numba_enabled():
        # One matrix multiply for every tap's column gradient, then one compiled pass
        # that sums them onto the input. The product is written into a block the size
        # of the column matrix, kept afterwards to hold the next one (see
        # cnnlib.tuned.reuse for why). (It has the same rows and one column fewer, or
        # none fewer without a bias.)
        block = np.empty(cache.cols.size, grad_rows.dtype)
        grad_cols = block[: grad_rows.shape[0] * taps].reshape(-1, taps)
        np.matmul(grad_rows, weight_matrix.T, out=grad_cols)
        grad_x = compiled.col2im_or_none(
            grad_cols.reshape(n, oh, ow, kh, kw, c_in),
            (h, w),
            cache.stride,
            cache.padding,
            cache.dilation,
        )
        if grad_x is not None:
            del grad_cols  # the kept block must be referenced from nowhere else
            reuse.keep(block)
            return grad_x.transpose(0, 3, 1, 2), grad_weight, grad_bias
    # Same sum as col2im, tap by tap: each tap's product is a contiguous block, added to
    # its window. The sum is kept batch-inner, (Hp, Wp, N, C_in) in memory, where a
    # window is a few long runs (N*C_in numbers per pixel) rather than many runs of
    # C_in; so the rows of G are taken in (y, x, n) order too, and the result is copied
    # back to channels-last at the end.
    by_position = np.empty((oh, ow, n, c_out), dtype=grad_rows.dtype)
    copy_blocks(by_position.transpose(2, 0, 1, 3), grad_rows.reshape(n, oh, ow, c_out))
    rows_by_position = by_position.reshape(oh * ow * n, c_out)
    batch_inner = np.zeros((*cache.padded_hw, n, c_in), dtype=grad_rows.dtype)
    grad_padded = batch_inner.transpose(2, 0, 1, 3)  # an (N, Hp, Wp, C_in)-shaped view
    tap_weights = weight_matrix.reshape(kh, kw, c_in, c_out)
    for i, j in kernel_offsets((kh, kw)):
        tap_grad = (
            (rows_by_position @ tap_weights[i, j].T)
            .reshape(oh, ow, n, c_in)
            .transpose(2, 0, 1, 3)
        )
        window(grad_padded, (i, j), cache.stride, cache.dilation, (oh, ow))[...] += (
            tap_grad
        )
    ph, pw = cache.padding
    grad_x = np.empty((n, h, w, c_in), dtype=grad_rows.dtype)
    copy_blocks(grad_x, grad_padded[:, ph : ph + h, pw : pw + w, :])
    return grad_x.transpose(0, 3, 1, 2), grad_weight, grad_bias


def _narrow_backward(grad_output, cache: Conv2dCache, weight_matrix, needs_input_grad):
    """:func:`conv2d_backward` for fewer than ``WIDE_CHANNELS`` input channels, whose
    column matrix is tap-major.

    Image by image: each image's gradient, ``(C_out, H_out*W_out)`` in an NCHW array or
    its transpose in a channels-last one, is a matrix BLAS reads where it lies, so the
    whole gradient is never copied into rows. For the MNIST net's first layer this
    halved the backward pass for an NCHW gradient (1.3-1.5 ms to 0.64 ms; the copy
    alone took 0.27-0.41 ms), and cut the weight gradient for a channels-last one from
    0.27 ms to 0.17 ms. (With 8 or more channels the opposite held: the whole-batch
    products, spread over all cores, beat 64 small ones.)
    """
    n, c_in, h, w = cache.x_shape
    oh, ow = cache.out_hw
    kh, kw = cache.kernel_size
    c_out = weight_matrix.shape[1]
    positions = oh * ow
    # (N, H_out*W_out, C_out): a view for NCHW and for channels-last gradients alike.
    grad_per_image = grad_output.transpose(0, 2, 3, 1).reshape(n, positions, c_out)
    # (N, kh*kw*C_in [+ 1], H_out*W_out): a view of the tap-major column matrix.
    cols_per_image = cache.cols.T.reshape(-1, n, positions).transpose(1, 0, 2)
    weight_rows = np.matmul(cols_per_image, grad_per_image).sum(axis=0)
    grad_weight, grad_bias = _split_weight_rows(weight_rows, cache)
    if not needs_input_grad:
        return None, grad_weight, grad_bias
    # (N, kh*kw*C_in, H_out*W_out), seen as col2im's (N, H_out, W_out, kh, kw, C_in).
    grad_cols = (
        np.matmul(weight_matrix, grad_per_image.transpose(0, 2, 1))
        .reshape(n, kh, kw, c_in, oh, ow)
        .transpose(0, 4, 5, 1, 2, 3)
    )
    ph, pw = cache.padding
    padded_shape = (n, *cache.padded_hw, c_in)
    grad_padded = col2im_nhwc(
        grad_cols, padded_shape, (kh, kw), cache.stride, cache.dilation
    )
    grad_x = grad_padded[:, ph : ph + h, pw : pw + w, :]
    return grad_x.transpose(0, 3, 1, 2), grad_weight, grad_bias


def _split_weight_rows(weight_rows, cache: Conv2dCache):
    """``(grad_weight, grad_bias)`` from ``cols^T G``, ``(kh*kw*C_in [+ 1], C_out)``:
    the weight gradient as ``(C_out, C_in, kh, kw)``, and the ones column's row as the
    bias gradient (``None`` without a bias)."""
    _, c_in, _, _ = cache.x_shape
    kh, kw = cache.kernel_size
    taps = kh * kw * c_in
    grad_weight = np.ascontiguousarray(
        weight_rows[:taps].reshape(kh, kw, c_in, -1).transpose(3, 2, 0, 1)
    )
    grad_bias = weight_rows[taps] if cache.has_bias else None
    return grad_weight, grad_bias


def conv2d(x, weight, bias=None, stride=1, padding=0, dilation=1):
    """``torch.nn.functional.conv2d`` without groups: ``x: (N, C_in, H, W)`` ->
    ``(N, C_out, H_out, W_out)``.

    See :func:`conv2d_forward` for the arguments; this returns only the output.
    """
    return conv2d_forward(x, weight, bias, stride, padding, dilation)[0]
