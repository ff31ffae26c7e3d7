"""im2col and col2im: every window of a batch as one row of a matrix, and back.

A window with kernel ``(kh, kw)``, stride ``(sh, sw)`` and dilation ``(dh, dw)`` reads,
for kernel offset ``(i, j)``, the input rows ``i*dh, i*dh + sh, ...,
i*dh + sh*(H_out - 1)``: a plain strided slice. So instead of looping over the
``H_out * W_out`` output positions we loop over the ``kh * kw`` kernel offsets and
copy one slice each.
"""

from __future__ import annotations

import numpy as np

__all__ = ["pad", "tap", "im2col", "col2im"]


def pad(x, padding, value=0.0):
    """``x: (N, C, H, W)`` -> ``(N, C, H + 2*ph, W + 2*pw)``, ``value`` around it."""
    ph, pw = padding
    return np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)), constant_values=value)


def tap(x_padded, i, j, stride, dilation, out_hw):
    """The view ``(N, C, H_out, W_out)`` that kernel offset ``(i, j)`` sees.

    Element ``[n, c, y, x]`` is ``x_padded[n, c, y*sh + i*dh, x*sw + j*dw]``.
    """
    (sh, sw), (dh, dw), (h_out, w_out) = stride, dilation, out_hw
    rows = slice(i * dh, i * dh + sh * (h_out - 1) + 1, sh)
    cols = slice(j * dw, j * dw + sw * (w_out - 1) + 1, sw)
    return x_padded[:, :, rows, cols]


def im2col(x, kernel_size, stride, padding, dilation, out_hw):
    """``x: (N, C, H, W)`` -> ``cols: (N*H_out*W_out, C*kh*kw)``.

    Row ``(n, y, x)`` is the window under output ``(y, x)`` of image ``n``, its
    columns ordered ``(c, i, j)`` like a flattened weight ``(C_out, C*kh*kw)``.
    """
    (n, c), (kh, kw), (h_out, w_out) = x.shape[:2], kernel_size, out_hw
    x_padded = pad(x, padding)
    cols = np.empty((n, c, kh, kw, h_out, w_out), dtype=x.dtype)
    for i in range(kh):
        for j in range(kw):
            cols[:, :, i, j] = tap(x_padded, i, j, stride, dilation, out_hw)
    return cols.transpose(0, 4, 5, 1, 2, 3).reshape(n * h_out * w_out, c * kh * kw)


def col2im(cols, x_shape, kernel_size, stride, padding, dilation, out_hw):
    """The adjoint of :func:`im2col`: ``(N*H_out*W_out, C*kh*kw)`` -> ``(N, C, H, W)``.

    Each entry goes back to the input it was copied from. Overlapping windows send
    several entries to one input, hence ``+=``, never ``=``.
    """
    (n, c, h, w), (kh, kw), (ph, pw) = x_shape, kernel_size, padding
    cols = cols.reshape(n, *out_hw, c, kh, kw).transpose(0, 3, 4, 5, 1, 2)
    x_padded = np.zeros((n, c, h + 2 * ph, w + 2 * pw), dtype=cols.dtype)
    for i in range(kh):
        for j in range(kw):
            tap(x_padded, i, j, stride, dilation, out_hw)[...] += cols[:, :, i, j]
    return x_padded[:, :, ph : ph + h, pw : pw + w]
