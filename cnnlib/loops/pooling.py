"""Max and average pooling as loops, forward and backward.

Max pooling keeps the largest value of each window. When several inputs tie for it,
the **first** in row-major window order wins (``np.argmax``'s rule, and torch's), and
only that input receives the gradient. Average pooling shares each output's gradient
equally among its window (padding zeros counted, torch's ``count_include_pad=True``).
Windows may overlap (stride < kernel): an input then collects the sum of several
gradients, hence ``+=``.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .. import checks
from .conv import pad, unpad, window

__all__ = [
    "MaxPoolCache", "max_pool2d_forward", "max_pool2d_backward", "max_pool2d",
    "max_pool2d_with_indices", "AvgPoolCache", "avg_pool2d_forward",
    "avg_pool2d_backward", "avg_pool2d",
]  # fmt: skip


class MaxPoolCache(NamedTuple):
    """``x_shape``, ``x_dtype`` and ``indices``, each winner as ``row * W + col``."""

    x_shape: tuple
    x_dtype: np.dtype
    indices: np.ndarray


def max_pool2d_forward(x, kernel_size, stride=None, padding=0, dilation=1):
    """``x: (N, C, H, W)`` -> ``(out, cache)``, ``out: (N, C, H_out, W_out)``.

    Padding holds ``-inf``, so it never wins; ``stride=None`` means ``kernel_size``.
    """
    x, kernel, stride, padding, dilation, out_hw = checks.pool2d_args(
        x, kernel_size, stride, padding, dilation, "max_pool2d", strict=False
    )
    x_padded = pad(x, padding, value=-np.inf)
    out = np.zeros((*x.shape[:2], *out_hw), dtype=x.dtype)
    indices = np.zeros(out.shape, dtype=np.int64)
    for n, c, i, j in np.ndindex(out.shape):
        rows, cols = window(i, j, kernel, stride, dilation)
        patch = x_padded[n, c, rows, cols]
        u, v = np.unravel_index(np.argmax(patch), patch.shape)  # first maximum wins
        out[n, c, i, j] = patch[u, v]
        row = rows.start + u * dilation[0] - padding[0]  # back to unpadded coordinates
        col = cols.start + v * dilation[1] - padding[1]
        indices[n, c, i, j] = row * x.shape[3] + col
    return out, MaxPoolCache(x.shape, x.dtype, indices)


def max_pool2d_backward(grad_output, cache: MaxPoolCache):
    """``grad_output: (N, C, H_out, W_out)`` -> ``grad_x: (N, C, H, W)``."""
    shape = (*cache.x_shape[:2], *cache.indices.shape[2:])
    grad_output = checks.grad_output_like(grad_output, shape, strict=False)
    dtype = np.result_type(grad_output, cache.x_dtype)  # the wider of the two
    grad_x = np.zeros(cache.x_shape, dtype=dtype)
    width = cache.x_shape[3]
    for n, c, i, j in np.ndindex(grad_output.shape):
        row, col = divmod(cache.indices[n, c, i, j], width)
        grad_x[n, c, row, col] += grad_output[n, c, i, j]  # += : windows may overlap
    return grad_x


def max_pool2d_with_indices(x, kernel_size, stride=None, padding=0, dilation=1):
    """``F.max_pool2d(..., return_indices=True)``: ``(out, indices)``.

    ``indices: (N, C, H_out, W_out)``, int64 ``row * W + col`` in the unpadded input.
    """
    out, cache = max_pool2d_forward(x, kernel_size, stride, padding, dilation)
    return out, cache.indices


def max_pool2d(x, kernel_size, stride=None, padding=0, dilation=1):
    """``torch.nn.functional.max_pool2d``: ``(N, C, H, W)`` -> ``(N, C, ...)``."""
    return max_pool2d_forward(x, kernel_size, stride, padding, dilation)[0]


class AvgPoolCache(NamedTuple):
    """``x_shape``, ``x_dtype``, ``out_hw`` and the window geometry as pairs."""

    x_shape: tuple
    x_dtype: np.dtype
    out_hw: tuple
    kernel_size: tuple
    stride: tuple
    padding: tuple


def avg_pool2d_forward(x, kernel_size, stride=None, padding=0):
    """``x: (N, C, H, W)`` -> ``(out, cache)``; each window sum divided by ``kh*kw``."""
    x, kernel, stride, padding, _, out_hw = checks.pool2d_args(
        x, kernel_size, stride, padding, 1, "avg_pool2d", strict=False
    )
    x_padded = pad(x, padding)
    out = np.zeros((*x.shape[:2], *out_hw), dtype=x.dtype)
    for n, c, i, j in np.ndindex(out.shape):
        rows, cols = window(i, j, kernel, stride, (1, 1))
        out[n, c, i, j] = np.sum(x_padded[n, c, rows, cols]) / (kernel[0] * kernel[1])
    return out, AvgPoolCache(x.shape, x.dtype, out_hw, kernel, stride, padding)


def avg_pool2d_backward(grad_output, cache: AvgPoolCache):
    """``grad_output: (N, C, H_out, W_out)`` -> ``grad_x: (N, C, H, W)``."""
    x_shape, x_dtype, out_hw, kernel, stride, padding = cache
    grad_output = checks.grad_output_like(
        grad_output, (*x_shape[:2], *out_hw), strict=False
    )
    n, c, h, w = x_shape
    padded = (n, c, h + 2 * padding[0], w + 2 * padding[1])
    grad_x_padded = np.zeros(padded, dtype=np.result_type(grad_output, x_dtype))
    for n, c, i, j in np.ndindex(grad_output.shape):
        rows, cols = window(i, j, kernel, stride, (1, 1))
        share = grad_output[n, c, i, j] / (kernel[0] * kernel[1])
        grad_x_padded[n, c, rows, cols] += share
    return unpad(grad_x_padded, padding)


def avg_pool2d(x, kernel_size, stride=None, padding=0):
    """``torch.nn.functional.avg_pool2d`` with torch's defaults, as loops."""
    return avg_pool2d_forward(x, kernel_size, stride, padding)[0]
