"""Sliding windows as strided slices: im2col, its adjoint col2im, and padding, all
channels-last.

The tuned twin of the readable :mod:`cnnlib.ops.im2col`, which the book prints.

A convolution or pooling window with kernel ``(kh, kw)``, stride ``(sh, sw)`` and
dilation ``(dh, dw)`` visits, for kernel offset ``(i, j)``, the input rows
``i*dh, i*dh + sh, ..., i*dh + sh*(out_h - 1)`` -- a plain strided slice. So instead of
looping over the ``out_h * out_w`` output positions we loop over the ``kh * kw`` kernel
offsets and copy one slice each: the column matrix is built by ``kh * kw`` array copies.

Everything here is **channels-last**, ``(N, H, W, C)``: then the column matrix rows are
``(n, y, x)`` and its columns ``(i, j, c)``, so one matrix multiply with the weights
gives the output already in ``(N, out_h, out_w, out_channels)`` order, with no transpose
copy afterwards. The public ops take and return NCHW and convert with free ``transpose``
views at the edges.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import as_strided

__all__ = [
    "pad_nhwc",
    "window",
    "copy_blocks",
    "im2col_nhwc",
    "col2im_nhwc",
    "kernel_offsets",
    "WIDE_CHANNELS",
]

#: From this many channels on, a block of ``C`` consecutive numbers is long enough that
#: copying tap by tap (or kernel row by kernel row) beats element-wise scatter; measured
#: on the course's MNIST net.
WIDE_CHANNELS = 8


def kernel_offsets(kernel_size: tuple[int, int]):
    """The kernel offsets ``(i, j)`` in row-major order: the order torch scans a window
    in."""
    kh, kw = kernel_size
    return [(i, j) for i in range(kh) for j in range(kw)]


def pad_nhwc(x: np.ndarray, padding: tuple[int, int], value: float = 0.0) -> np.ndarray:
    """Pad ``x: (N, H, W, C)`` with ``value`` on each side: returns
    ``(N, H + 2*ph, W + 2*pw, C)``.

    Returns ``x`` itself (no copy) when there is no padding; otherwise a new array,
    ``x`` is untouched.
    """
    ph, pw = padding
    if ph == 0 and pw == 0:
        return x
    n, h, w, c = x.shape
    padded = np.full((n, h + 2 * ph, w + 2 * pw, c), value, dtype=x.dtype)
    padded[:, ph : ph + h, pw : pw + w, :] = x
    return padded


def window(x: np.ndarray, offset, stride, dilation, out_size) -> np.ndarray:
    """The view of ``x: (N, Hp, Wp, C)`` that kernel tap ``offset = (i, j)`` sees at
    every output position.

    Returns a view ``(N, out_h, out_w, C)``: element ``[n, y, x, c]`` is
    ``x[n, y*sh + i*dh, x*sw + j*dw, c]``.
    """
    i, j = offset
    sh, sw = stride
    dh, dw = dilation
    oh, ow = out_size
    top, left = i * dh, j * dw
    return x[
        :, top : top + sh * (oh - 1) + 1 : sh, left : left + sw * (ow - 1) + 1 : sw, :
    ]


def copy_blocks(dst: np.ndarray, src: np.ndarray, block_axes: int = 1) -> None:
    """``np.copyto(dst, src)`` for arrays of the same shape and dtype, moving each block
    formed by the last ``block_axes`` axes (e.g. one pixel's ``C`` channels) as a single
    item.

    NumPy's copy loop starts over for every run of the innermost axis, and a run of 16
    channels (64 bytes) costs little more to move than to set up. When the trailing axes
    are contiguous in both arrays, viewing each block as one opaque item (``np.void`` of
    the block's size in bytes) lets the loop step from block to block instead: the same
    bytes moved, in about half the time for the pooling windows of the MNIST net. Where
    they are not contiguous this is plain ``np.copyto``.
    """
    if dst.dtype != src.dtype or dst.size == 0:
        np.copyto(dst, src)
        return
    try:
        dst_blocks, src_blocks = (
            _as_blocks(dst, block_axes),
            _as_blocks(src, block_axes),
        )
    except (
        ValueError
    ):  # NumPy refuses the view: the trailing axes are not one contiguous block
        np.copyto(dst, src)
        return
    np.copyto(dst_blocks, src_blocks)


def _as_blocks(a: np.ndarray, axes: int) -> np.ndarray:
    """View ``a: (*outer, *block)`` as ``(*outer, 1)``: one void item per block of the
    last ``axes`` axes.

    Raises ValueError (NumPy's) unless each block is contiguous in memory.
    """
    if axes > 1:
        a = a.reshape(*a.shape[: a.ndim - axes], -1, copy=False)
    return a.view(f"V{a.shape[-1] * a.itemsize}")


def im2col_nhwc(
    x: np.ndarray, kernel_size, stride, dilation, out_size, *, ones_column: bool = False
) -> np.ndarray:
    """Column matrix of the (already padded) ``x: (N, Hp, Wp, C)``:
    ``(N * out_h * out_w, kh * kw * C)``.

    Row ``(n, y, x)`` holds the receptive field of output position ``(y, x)`` of image
    ``n``; its columns run over kernel taps ``(i, j)`` and, within a tap, channels
    ``c``. ``ones_column=True`` appends one more column, all ones: multiplied by a
    weight matrix whose last row is the bias, it adds the bias in the same matrix
    multiply.

    A new array; without the ones column, ``reshape(N, out_h, out_w, kh, kw, C)`` views
    it for free. With ``C >= WIDE_CHANNELS`` it is C-contiguous. With fewer channels it
    is the transpose of a tap-major array (one row per tap and channel): then every
    tap's copy writes one contiguous block instead of single numbers ``kh * kw * C``
    apart, and BLAS multiplies the transposed matrix without copying it.
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
            copy_blocks(
                fields[i, j],
                window(x, (i, j), stride, dilation, out_size).transpose(3, 0, 1, 2),
            )
        matrix = tap_major.T
    else:
        matrix = np.empty((positions, width), dtype=x.dtype)
        fields = matrix[:, :taps].reshape(n, oh, ow, kh, kw, c, copy=False)
        if stride[1] == 1 and dilation[1] == 1:
            # Same copies, fewer and longer: with unit horizontal stride the kw taps of
            # one kernel row are kw*C consecutive numbers in memory, so one strided view
            # per kernel row gives them all at once.
            sn, sh, sw, sc = x.strides
            for i in range(kh):
                row = x[:, i * dilation[0] :]
                kernel_row = as_strided(
                    row,
                    shape=(n, oh, ow, kw, c),
                    strides=(sn, sh * stride[0], sw, sw, sc),
                    writeable=False,
                )
                copy_blocks(fields[:, :, :, i], kernel_row, block_axes=2)
        else:
            for i, j in kernel_offsets(kernel_size):
                copy_blocks(
                    fields[:, :, :, i, j, :],
                    window(x, (i, j), stride, dilation, out_size),
                )
    if ones_column:
        matrix[:, taps] = 1
    return matrix


def col2im_nhwc(
    cols: np.ndarray, padded_shape, kernel_size, stride, dilation
) -> np.ndarray:
    """Adjoint of :func:`im2col_nhwc`: sum every column entry back onto the input
    position it was copied from.

    ``cols``: a column matrix (without ones column) viewed as
    ``(N, out_h, out_w, kh, kw, C)``; returns ``(N, Hp, Wp, C)`` = ``padded_shape``.
    Overlapping windows send several entries to one input position, hence ``+=``, never
    ``=``.
    """
    n, oh, ow, _, _, c = cols.shape
    grad = np.zeros(padded_shape, dtype=cols.dtype)
    for i, j in kernel_offsets(kernel_size):
        window(grad, (i, j), stride, dilation, (oh, ow))[...] += cols[:, :, :, i, j, :]
    return grad
