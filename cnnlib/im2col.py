"""Sliding windows as strided slices: im2col, its adjoint col2im, and padding, all channels-last.

A convolution or pooling window with kernel ``(kh, kw)``, stride ``(sh, sw)`` and dilation ``(dh, dw)`` visits,
for kernel offset ``(i, j)``, the input rows ``i*dh, i*dh + sh, ..., i*dh + sh*(out_h - 1)`` -- a plain strided
slice. So instead of looping over the ``out_h * out_w`` output positions we loop over the ``kh * kw`` kernel
offsets and copy one slice each: the column matrix is built by ``kh * kw`` array copies.

Everything here is **channels-last**, ``(N, H, W, C)``: then the column matrix rows are ``(n, y, x)`` and its
columns ``(i, j, c)``, so one matrix multiply with the weights gives the output already in ``(N, out_h, out_w,
out_channels)`` order, with no transpose copy afterwards. The public ops take and return NCHW and convert
with free ``transpose`` views at the edges.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import as_strided

__all__ = ["pad_nhwc", "window", "im2col_nhwc", "col2im_nhwc", "kernel_offsets", "WIDE_CHANNELS"]

#: From this many channels on, a block of ``C`` consecutive numbers is long enough that copying tap by
#: tap (or kernel row by kernel row) beats element-wise scatter; measured on the course's MNIST net.
WIDE_CHANNELS = 8


def kernel_offsets(kernel_size: tuple[int, int]):
    """The kernel offsets ``(i, j)`` in row-major order: the order torch scans a window in."""
    kh, kw = kernel_size
    return [(i, j) for i in range(kh) for j in range(kw)]


def pad_nhwc(x: np.ndarray, padding: tuple[int, int], value: float = 0.0) -> np.ndarray:
    """Pad ``x: (N, H, W, C)`` with ``value`` on each side: returns ``(N, H + 2*ph, W + 2*pw, C)``.

    Returns ``x`` itself (no copy) when there is no padding; otherwise a new array, ``x`` is untouched.
    """
    ph, pw = padding
    if ph == 0 and pw == 0:
        return x
    n, h, w, c = x.shape
    padded = np.full((n, h + 2 * ph, w + 2 * pw, c), value, dtype=x.dtype)
    padded[:, ph : ph + h, pw : pw + w, :] = x
    return padded


def window(x: np.ndarray, offset, stride, dilation, out_size) -> np.ndarray:
    """The view of ``x: (N, Hp, Wp, C)`` that kernel tap ``offset = (i, j)`` sees at every output position.

    Returns a view ``(N, out_h, out_w, C)``: element ``[n, y, x, c]`` is ``x[n, y*sh + i*dh, x*sw + j*dw, c]``.
    """
    i, j = offset
    sh, sw = stride
    dh, dw = dilation
    oh, ow = out_size
    top, left = i * dh, j * dw
    return x[:, top : top + sh * (oh - 1) + 1 : sh, left : left + sw * (ow - 1) + 1 : sw, :]


def im2col_nhwc(x: np.ndarray, kernel_size, stride, dilation, out_size, *, ones_column: bool = False) -> np.ndarray:
    """Column matrix of the (already padded) ``x: (N, Hp, Wp, C)``: ``(N * out_h * out_w, kh * kw * C)``.

    Row ``(n, y, x)`` holds the receptive field of output position ``(y, x)`` of image ``n``; its columns run
    over kernel taps ``(i, j)`` and, within a tap, channels ``c``. ``ones_column=True`` appends one more
    column, all ones: multiplied by a weight matrix whose last row is the bias, it adds the bias in the
    same matrix multiply.

    A new array; without the ones column, ``reshape(N, out_h, out_w, kh, kw, C)`` views it for free. With
    ``C >= WIDE_CHANNELS`` it is C-contiguous. With fewer channels it is the transpose of a tap-major
    array (one row per tap and channel): then every tap's copy writes one contiguous block instead of
    single numbers ``kh * kw * C`` apart, and BLAS multiplies the transposed matrix without copying it.
    """
    n, _, _, c = x.shape
    kh, kw = kernel_size
    oh, ow = out_size
    taps, positions = kh * kw * c, n * oh * ow
    width = taps + ones_column
    if c < WIDE_CHANNELS:
        tap_major = np.empty((width, positions), dtype=x.dtype)
        fields = tap_major[:taps].reshape(kh, kw, c, n, oh, ow, copy=False)
        for i, j in kernel_offsets(kernel_size):
            fields[i, j] = window(x, (i, j), stride, dilation, out_size).transpose(3, 0, 1, 2)
        matrix = tap_major.T
    else:
        matrix = np.empty((positions, width), dtype=x.dtype)
        fields = matrix[:, :taps].reshape(n, oh, ow, kh, kw, c, copy=False)
        if stride[1] == 1 and dilation[1] == 1:
            # Same copies, fewer and longer: with unit horizontal stride the kw taps of one kernel row are
            # kw*C consecutive numbers in memory, so one strided view per kernel row gives them all at once.
            sn, sh, sw, sc = x.strides
            for i in range(kh):
                row = x[:, i * dilation[0] :]
                fields[:, :, :, i] = as_strided(row, shape=(n, oh, ow, kw, c), strides=(sn, sh * stride[0], sw, sw, sc), writeable=False)
        else:
            for i, j in kernel_offsets(kernel_size):
                fields[:, :, :, i, j, :] = window(x, (i, j), stride, dilation, out_size)
    if ones_column:
        matrix[:, taps] = 1
    return matrix


def col2im_nhwc(cols: np.ndarray, padded_shape, kernel_size, stride, dilation) -> np.ndarray:
    """Adjoint of :func:`im2col_nhwc`: sum every column entry back onto the input position it was copied from.

    ``cols``: a column matrix (without ones column) viewed as ``(N, out_h, out_w, kh, kw, C)``; returns
    ``(N, Hp, Wp, C)`` = ``padded_shape``. Overlapping
    windows send several entries to one input position, hence ``+=``, never ``=``.
    """
    n, oh, ow, _, _, c = cols.shape
    grad = np.zeros(padded_shape, dtype=cols.dtype)
    for i, j in kernel_offsets(kernel_size):
        window(grad, (i, j), stride, dilation, (oh, ow))[...] += cols[:, :, :, i, j, :]
    return grad
