"""2-D convolution, vectorized: one matrix multiply forward, two backward.

With the column matrix ``cols = im2col(x)`` (one row per output position) and the
filters flattened to ``W: (C_out, C_in*kh*kw)``, the convolution is ``cols @ W.T``.
Backward, the same product transposed twice: ``grad_W = G.T @ cols`` and
``grad_cols = G @ W``, which :func:`col2im` sums back onto the input.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .. import checks
from .im2col import col2im, im2col

__all__ = ["Conv2dCache", "conv2d_forward", "conv2d_backward", "conv2d"]


class Conv2dCache(NamedTuple):
    """``cols: (N*H_out*W_out, C_in*kh*kw)``, ``weight``, the geometry, ``has_bias``."""

    cols: np.ndarray
    weight: np.ndarray
    x_shape: tuple
    stride: tuple
    padding: tuple
    dilation: tuple
    out_hw: tuple
    has_bias: bool


def conv2d_forward(x, weight, bias=None, stride=1, padding=0, dilation=1):
    """``x: (N, C_in, H, W)``, ``weight: (C_out, C_in, kh, kw)``, ``bias: (C_out,)``.

    Returns ``(out, cache)`` with ``out: (N, C_out, H_out, W_out)``.
    """
    x, weight, bias, stride, padding, dilation, out_hw = checks.conv2d_args(
        x, weight, bias, stride, padding, dilation
    )
    (n, c_out), kernel_size = (x.shape[0], weight.shape[0]), weight.shape[2:]
    cols = im2col(x, kernel_size, stride, padding, dilation, out_hw)
    out = cols @ weight.reshape(c_out, -1).T  # (N*H_out*W_out, C_out)
    if bias is not None:
        out += bias
    out = out.reshape(n, *out_hw, c_out).transpose(0, 3, 1, 2)
    cache = Conv2dCache(
        cols, weight, x.shape, stride, padding, dilation, out_hw, bias is not None
    )
    return out, cache


def conv2d_backward(grad_output, cache: Conv2dCache, needs_input_grad=True):
    """``grad_output: (N, C_out, H_out, W_out)`` -> ``(grad_x, grad_w, grad_b)``.

    ``needs_input_grad=False`` skips ``grad_x`` (``None``), e.g. for a first layer.
    """
    weight, c_out = cache.weight, cache.weight.shape[0]
    shape = (cache.x_shape[0], c_out, *cache.out_hw)
    grad_output = checks.grad_output_like(grad_output, shape)
    grad_rows = grad_output.transpose(0, 2, 3, 1).reshape(-1, c_out)  # like cols' rows
    grad_weight = (grad_rows.T @ cache.cols).reshape(weight.shape)
    grad_bias = grad_rows.sum(axis=0) if cache.has_bias else None
    if not needs_input_grad:
        return None, grad_weight, grad_bias
    grad_cols = grad_rows @ weight.reshape(c_out, -1)
    geometry = (cache.stride, cache.padding, cache.dilation, cache.out_hw)
    grad_x = col2im(grad_cols, cache.x_shape, weight.shape[2:], *geometry)
    return grad_x, grad_weight, grad_bias


def conv2d(x, weight, bias=None, stride=1, padding=0, dilation=1):
    """``torch.nn.functional.conv2d`` ``(N, C_in, H, W)`` -> ``(N, C_out, ..)``."""
    return conv2d_forward(x, weight, bias, stride, padding, dilation)[0]
