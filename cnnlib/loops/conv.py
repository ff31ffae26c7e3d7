"""Convolution as loops: the sliding window of chapter 1, then a batch of filters.

What deep learning calls a convolution is a cross-correlation (the kernel is not
flipped). For a batch ``x: (N, C_in, H, W)`` and filters ``weight: (C_out, C_in, kh,
kw)``, with ``x_padded`` holding ``padding`` zeros on each side::

    out[n, o, i, j] = bias[o] + sum over c, u, v of
                      x_padded[n, c, i*sh + u*dh, j*sw + v*dw] * weight[o, c, u, v]

The backward pass follows the same loops: wherever the forward pass *reads* an input,
the backward pass *adds* into that input's gradient.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .. import checks

__all__ = ["correlate2d", "Conv2dCache", "conv2d_forward", "conv2d_backward", "conv2d"]


def correlate2d(image, kernel):
    """Slide ``kernel: (kh, kw)`` over ``image: (H, W)`` -> ``(H-kh+1, W-kw+1)``."""
    image, kernel = checks.image_and_kernel(image, kernel)
    kh, kw = kernel.shape
    out = np.zeros((image.shape[0] - kh + 1, image.shape[1] - kw + 1), image.dtype)
    for i in range(out.shape[0]):
        for j in range(out.shape[1]):
            out[i, j] = np.sum(image[i : i + kh, j : j + kw] * kernel)
    return out


class Conv2dCache(NamedTuple):
    """The forward inputs, which are all the backward pass needs."""

    x: np.ndarray
    weight: np.ndarray
    has_bias: bool
    stride: tuple
    padding: tuple
    dilation: tuple
    out_hw: tuple


def pad(x, padding, value=0.0):
    """``x: (N, C, H, W)`` with ``padding = (ph, pw)`` values added on each side."""
    ph, pw = padding
    return np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)), constant_values=value)


def unpad(x_padded, padding):
    """Undo :func:`pad`: ``(N, C, H + 2*ph, W + 2*pw)`` -> ``(N, C, H, W)``."""
    ph, pw = padding
    height, width = x_padded.shape[2] - 2 * ph, x_padded.shape[3] - 2 * pw
    return x_padded[:, :, ph : ph + height, pw : pw + width]


def window(i, j, kernel_size, stride, dilation):
    """Row and column slices of the window under output ``(i, j)``."""
    (kh, kw), (sh, sw), (dh, dw) = kernel_size, stride, dilation
    rows = slice(i * sh, i * sh + dh * (kh - 1) + 1, dh)
    cols = slice(j * sw, j * sw + dw * (kw - 1) + 1, dw)
    return rows, cols


def conv2d_forward(x, weight, bias=None, stride=1, padding=0, dilation=1):
    """``x: (N, C_in, H, W)``, ``weight: (C_out, C_in, kh, kw)``, ``bias: (C_out,)``.

    Returns ``(out, cache)``, ``out: (N, C_out, H_out, W_out)``.
    """
    x, weight, bias, stride, padding, dilation, (h_out, w_out) = checks.conv2d_args(
        x, weight, bias, stride, padding, dilation, strict=False
    )
    x_padded = pad(x, padding)
    out = np.zeros((x.shape[0], weight.shape[0], h_out, w_out), dtype=x.dtype)
    for n in range(x.shape[0]):
        for o in range(weight.shape[0]):
            for i in range(h_out):
                for j in range(w_out):
                    rows, cols = window(i, j, weight.shape[2:], stride, dilation)
                    out[n, o, i, j] = np.sum(x_padded[n, :, rows, cols] * weight[o])
    if bias is not None:
        out += bias[:, None, None]
    cache = Conv2dCache(
        x, weight, bias is not None, stride, padding, dilation, (h_out, w_out)
    )
    return out, cache


def conv2d_backward(grad_output, cache: Conv2dCache):
    """``grad_output: (N, C_out, H_out, W_out)`` -> ``(grad_x, grad_w, grad_b)``.

    Shapes ``(N, C_in, H, W)``, ``(C_out, C_in, kh, kw)``, ``(C_out,)`` (``None``
    without bias).
    """
    x, weight, has_bias, stride, padding, dilation, out_hw = cache
    shape = (x.shape[0], weight.shape[0], *out_hw)
    grad_output = checks.grad_output_like(grad_output, shape, strict=False)
    dtype = np.result_type(grad_output, x)  # the wider of the two, as torch promotes
    x_padded = pad(x, padding).astype(dtype, copy=False)
    grad_x_padded = np.zeros_like(x_padded)
    grad_weight = np.zeros(weight.shape, dtype)
    for n, o, i, j in np.ndindex(grad_output.shape):
        rows, cols = window(i, j, weight.shape[2:], stride, dilation)
        g = grad_output[n, o, i, j]
        grad_weight[o] += g * x_padded[n, :, rows, cols]
        grad_x_padded[n, :, rows, cols] += g * weight[o]
    grad_bias = grad_output.sum(axis=(0, 2, 3)).astype(dtype) if has_bias else None
    return unpad(grad_x_padded, padding), grad_weight, grad_bias


def conv2d(x, weight, bias=None, stride=1, padding=0, dilation=1):
    """``torch.nn.functional.conv2d``: ``(N, C_in, H, W)`` -> ``(N, C_out, ..)``."""
    return conv2d_forward(x, weight, bias, stride, padding, dilation)[0]
