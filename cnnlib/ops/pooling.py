"""Max and average pooling, vectorized with one strided slice per kernel offset.

Max pooling scans the window's taps in row-major order and records which tap won
each window. A later tap wins only if it is strictly greater, so among tied inputs
the first wins (torch's rule) and the backward pass sends the gradient to exactly
that one input. Backward adds (``+=``), so overlapping windows accumulate.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .. import checks
from .im2col import pad, tap

__all__ = [
    "PoolCache", "max_pool2d_forward", "max_pool2d_backward", "max_pool2d",
    "avg_pool2d_forward", "avg_pool2d_backward", "avg_pool2d",
]  # fmt: skip


class PoolCache(NamedTuple):
    """The geometry (``(h, w)`` pairs), plus ``winner`` (max: the winning tap of each
    window, ``(N, C, H_out, W_out)``) or ``divisor`` (average: each window's count)."""

    x_shape: tuple
    kernel_size: tuple
    stride: tuple
    padding: tuple
    dilation: tuple
    out_hw: tuple
    winner: np.ndarray | None = None
    divisor: np.ndarray | float | None = None


def taps(kernel_size):
    """Kernel offsets ``(i, j)`` in row-major order, as torch scans a window."""
    return [(i, j) for i in range(kernel_size[0]) for j in range(kernel_size[1])]


def max_pool2d_forward(x, kernel_size, stride=None, padding=0, dilation=1):
    """``x: (N, C, H, W)`` -> ``(out, cache)``, ``out: (N, C, H_out, W_out)``."""
    x, kernel_size, stride, padding, dilation, out_hw = checks.pool2d_args(
        x, kernel_size, stride, padding, dilation, "max_pool2d"
    )
    x_padded = pad(x, padding, value=-np.inf)
    out = tap(x_padded, 0, 0, stride, dilation, out_hw).copy()
    winner = np.zeros(out.shape, dtype=np.int64)
    for index, (i, j) in enumerate(taps(kernel_size)):
        candidate = tap(x_padded, i, j, stride, dilation, out_hw)
        better = candidate > out  # strictly: the first of tied maxima keeps its win
        out[better] = candidate[better]
        winner[better] = index
    geometry = (kernel_size, stride, padding, dilation, out_hw)
    return out, PoolCache(x.shape, *geometry, winner=winner)


def max_pool2d_backward(grad_output, cache: PoolCache):
    """``grad_output: (N, C, H_out, W_out)`` -> ``grad_x: (N, C, H, W)``."""
    grad = checks.grad_output_like(grad_output, (*cache.x_shape[:2], *cache.out_hw))
    grad_padded = pad(np.zeros(cache.x_shape, dtype=grad.dtype), cache.padding)
    geometry = (cache.stride, cache.dilation, cache.out_hw)
    for index, (i, j) in enumerate(taps(cache.kernel_size)):
        tap(grad_padded, i, j, *geometry)[...] += grad * (cache.winner == index)
    return unpad(grad_padded, cache)


def avg_pool2d_forward(
    x, kernel_size, stride=None, padding=0, *, count_include_pad=True
):
    """``x: (N, C, H, W)`` -> ``(out, cache)``; each window sum is divided by ``kh*kw``
    or, with ``count_include_pad=False``, by its number of real (unpadded) inputs."""
    x, kernel_size, stride, padding, dilation, out_hw = checks.pool2d_args(
        x, kernel_size, stride, padding, 1, "avg_pool2d"
    )
    x_padded = pad(x, padding)
    total = sum(
        tap(x_padded, i, j, stride, dilation, out_hw) for i, j in taps(kernel_size)
    )
    if count_include_pad:
        divisor = float(kernel_size[0] * kernel_size[1])
    else:  # count the ones of a plane that is 1 inside and 0 in the padding
        inside = pad(np.ones((1, 1, *x.shape[2:]), dtype=x.dtype), padding)
        divisor = sum(
            tap(inside, i, j, stride, dilation, out_hw) for i, j in taps(kernel_size)
        )[0, 0]
    out = total / np.asarray(divisor, dtype=x.dtype)
    geometry = (kernel_size, stride, padding, dilation, out_hw)
    return out, PoolCache(x.shape, *geometry, divisor=divisor)


def avg_pool2d_backward(grad_output, cache: PoolCache):
    """``grad_output: (N, C, H_out, W_out)`` -> ``grad_x: (N, C, H, W)``: every input of
    a window receives the window's gradient divided by the window's divisor."""
    grad = checks.grad_output_like(grad_output, (*cache.x_shape[:2], *cache.out_hw))
    share = grad / np.asarray(cache.divisor, dtype=grad.dtype)
    grad_padded = pad(np.zeros(cache.x_shape, dtype=grad.dtype), cache.padding)
    for i, j in taps(cache.kernel_size):
        tap(grad_padded, i, j, cache.stride, cache.dilation, cache.out_hw)[...] += share
    return unpad(grad_padded, cache)


def unpad(grad_padded, cache: PoolCache):
    """Drop the padding: ``(N, C, H + 2*ph, W + 2*pw)`` -> ``(N, C, H, W)``."""
    (ph, pw), (h, w) = cache.padding, cache.x_shape[2:]
    return grad_padded[:, :, ph : ph + h, pw : pw + w]


def max_pool2d(x, kernel_size, stride=None, padding=0, dilation=1):
    """``torch.nn.functional.max_pool2d``: ``(N, C, H, W)`` -> ``(N, C, H_out, ..)``."""
    return max_pool2d_forward(x, kernel_size, stride, padding, dilation)[0]


def avg_pool2d(x, kernel_size, stride=None, padding=0, *, count_include_pad=True):
    """``torch.nn.functional.avg_pool2d``: ``(N, C, H, W)`` -> ``(N, C, H_out, ..)``."""
    return avg_pool2d_forward(
        x, kernel_size, stride, padding, count_include_pad=count_include_pad
    )[0]
