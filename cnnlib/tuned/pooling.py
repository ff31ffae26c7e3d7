"""Max and average pooling, forward and backward, with strided slices (one per kernel
tap, no Python loop over pixels).

The tuned twin of the readable :mod:`cnnlib.ops.pooling`, which the book prints.

Shapes: ``x: (N, C, H, W)`` -> ``(N, C, H_out, W_out)``,
``H_out = (H + 2*ph - dh*(kh - 1) - 1) // sh + 1``
(:func:`cnnlib.shapes.conv_output_size`); ``stride`` defaults to ``kernel_size`` as in
torch.

Max pooling records, for every output, *which* kernel tap won (row-major index
``i*kw + j``). Taps are scanned in row-major order and a later tap wins only if it is
strictly greater, so among tied inputs the first one wins -- torch's rule -- and
backward sends the gradient to exactly that one input. Backward adds (``+=``) into the
input gradient, so overlapping windows (stride < kernel) accumulate correctly.

Outputs are NCHW-shaped views of channels-last arrays; see :mod:`cnnlib.tuned.conv`.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .. import checks
from . import compiled
from .activation import ReluAppliedByPooling
from .im2col import copy_blocks, kernel_offsets, pad_nhwc, window

__all__ = [
    "PoolCache",
    "max_pool2d_forward",
    "max_pool2d_backward",
    "max_pool2d",
    "relu_max_pool2d_forward",
    "avg_pool2d_forward",
    "avg_pool2d_backward",
    "avg_pool2d",
]


class PoolCache(NamedTuple):
    """What the pooling backward functions need.

    ``x_shape``: ``(N, C, H, W)``; ``padded_hw``, ``out_hw``, ``kernel_size``,
    ``stride``, ``padding``, ``dilation``: ``(h, w)`` pairs. ``winner``: max pooling
    only, ``(N, H_out, W_out, C)`` uint8 index of the winning tap. ``divisor``: average
    pooling only, the number each window sum was divided by (scalar, or
    ``(1, H_out, W_out, 1)`` when padding is not counted).
    """

    x_shape: tuple
    padded_hw: tuple
    out_hw: tuple
    kernel_size: tuple
    stride: tuple
    padding: tuple
    dilation: tuple
    winner: np.ndarray | None = None
    divisor: np.ndarray | float | None = None


def max_pool2d_forward(x, kernel_size, stride=None, padding=0, dilation=1):
    """Max pooling; returns ``(out, cache)``.

    Args:
        x: ``(N, C, H, W)``.
        kernel_size, stride (default: ``kernel_size``), padding (at most half the kernel
            size, padded with -inf), dilation: int or ``(h, w)`` pair.

    Returns:
        ``out``: ``(N, C, H_out, W_out)``; ``cache``: :class:`PoolCache` for
        :func:`max_pool2d_backward`.
    """
    return _max_pool2d(x, kernel_size, stride, padding, dilation, relu_first=False)


def relu_max_pool2d_forward(x, kernel_size, stride=None, padding=0, dilation=1):
    """A ReLU and the max pooling after it, in one pass over ``x``: the output of
    ``max_pool2d_forward(relu(x), ...)``, without making ``relu(x)`` or its mask.

    The largest of a window's ReLU outputs is the ReLU of its largest input, so this
    pools ``x`` and sets every maximum that is not positive to 0. The ReLU passes no
    gradient to any input of such a window, and its winner in the cache is ``kh * kw``,
    a tap that does not exist.

    Args: as :func:`max_pool2d_forward`; ``x: (N, C, H, W)``.

    Returns:
        ``(out, relu_cache, pool_cache)``. ``out``: ``(N, C, H_out, W_out)``.
        :func:`max_pool2d_backward` with ``pool_cache`` gives the gradient of the pair,
        and :func:`~cnnlib.tuned.activation.relu_backward` with ``relu_cache`` passes a
        gradient through unchanged: the two layers' backward passes, run in turn, give
        what they give after the two ops run one by one.
    """
    checks.any_float_array(x)  # the ReLU's check, as when the two ops run one by one
    out, pool_cache = _max_pool2d(
        x, kernel_size, stride, padding, dilation, relu_first=True
    )
    return out, ReluAppliedByPooling(x.shape), pool_cache


def _max_pool2d(x, kernel_size, stride, padding, dilation, *, relu_first):
    """:func:`max_pool2d_forward`, of ``relu(x)`` if ``relu_first``."""
    x, kernel_size, stride, padding, dilation, out_hw = checks.pool2d_args(
        x, kernel_size, stride, padding, dilation, "max_pool2d"
    )
    if padding == (0, 0) and compiled.numba_enabled():
        # One compiled pass over the input. It reads channels-last, as cnnlib's layers
        # hand their outputs over (an NCHW array is copied once).
        x_nhwc = np.ascontiguousarray(x.transpose(0, 2, 3, 1))
        result = compiled.max_pool_forward_or_none(
            x_nhwc, kernel_size, stride, dilation, out_hw, relu_first
        )
        if result is not None:
            out, winner = result
            cache = PoolCache(
                x.shape, x.shape[2:], out_hw, kernel_size, stride, padding, dilation,
                winner=winner,
            )  # fmt: skip
            return out.transpose(0, 3, 1, 2), cache
    x_padded = pad_nhwc(x.transpose(0, 2, 3, 1), padding, value=-np.inf)
    offsets = kernel_offsets(kernel_size)
    n, c = x.shape[:2]
    out = np.empty((n, *out_hw, c), dtype=x.dtype)
    copy_blocks(out, window(x_padded, offsets[0], stride, dilation, out_hw))
    winner = np.zeros(out.shape, dtype=np.uint8 if len(offsets) < 256 else np.int32)
    # Each tap's window is copied once into a contiguous scratch array: the comparisons
    # then run over contiguous memory instead of short strided runs (C numbers at a
    # time), which is faster overall.
    candidate, better = np.empty_like(out), np.empty(out.shape, dtype=bool)
    for index, offset in enumerate(offsets[1:], start=1):
        copy_blocks(candidate, window(x_padded, offset, stride, dilation, out_hw))
        np.greater(
            candidate, out, out=better
        )  # strictly: the first of tied maxima keeps the win, as in torch
        # out = candidate where better, as the readable op assigns: the maximum,
        # except that a NaN candidate never wins (fmax drops it) while a NaN already
        # in `out` stays (maximum keeps it). Two whole-array passes, still far faster
        # than a masked assignment.
        np.fmax(candidate, out, out=candidate)
        np.maximum(out, candidate, out=out)
        # winner = index where better, else unchanged. Taps are numbered in scan order,
        # so that is also max(winner, index * better): one comparison over whole arrays,
        # much faster than a masked assignment (winner[better] = index, np.copyto(...,
        # where=better)), which branches per element.
        np.maximum(winner, better * winner.dtype.type(index), out=winner)
    if relu_first:  # NaN is not positive, but stays NaN (np.maximum keeps it)
        np.copyto(winner, len(offsets), where=~(out > 0))
        np.maximum(out, 0, out=out)
    cache = PoolCache(
        x.shape,
        x_padded.shape[1:3],
        out_hw,
        kernel_size,
        stride,
        padding,
        dilation,
        winner=winner,
    )
    return out.transpose(0, 3, 1, 2), cache


def max_pool2d_backward(grad_output, cache: PoolCache):
    """Gradient of max pooling: ``grad_output: (N, C, H_out, W_out)`` ->
    ``grad_x: (N, C, H, W)``.

    Each output's gradient goes to the one input that won its window (the first maximum
    on ties).
    """
    # Every tap below reads the whole gradient: one channels-last copy first (none if it
    # already is, as from a convolution; a real one after Flatten) lets each read run
    # over contiguous memory.
    grad = np.ascontiguousarray(_checked_grad(grad_output, cache))
    spans = [d * (k - 1) + 1 for d, k in zip(cache.dilation, cache.kernel_size)]
    disjoint = all(s >= span for s, span in zip(cache.stride, spans))
    if cache.padding == (0, 0):
        grad_x = compiled.max_pool_backward_or_none(
            grad, cache.winner, cache.kernel_size, cache.stride, cache.dilation,
            cache.padded_hw, disjoint,
        )  # fmt: skip
        if grad_x is not None:
            return grad_x.transpose(0, 3, 1, 2)
    # Undilated windows that tile the padded input exactly (2x2 pooling of an even size)
    # write every entry below. (Dilated windows skip inputs inside their span, which
    # must stay 0.)
    tiled = cache.dilation == (1, 1) and all(
        s == k and o * s == size
        for s, k, o, size in zip(
            cache.stride, cache.kernel_size, cache.out_hw, cache.padded_hw
        )
    )
    make = np.empty if tiled else np.zeros
    grad_padded = make(
        (grad.shape[0], *cache.padded_hw, grad.shape[3]), dtype=grad.dtype
    )
    routed = np.empty(
        cache.winner.shape, dtype=grad.dtype
    )  # one tap's share, contiguous
    for index, offset in enumerate(kernel_offsets(cache.kernel_size)):
        target = window(grad_padded, offset, cache.stride, cache.dilation, cache.out_hw)
        np.multiply(grad, cache.winner == index, out=routed)
        if disjoint:  # every input lies in at most one window: write, no read needed
            copy_blocks(target, routed)
        else:
            # overlapping windows: an input may win several of them, so add (never
            # assign)
            target += routed
    return _crop(grad_padded, cache)


def max_pool2d(x, kernel_size, stride=None, padding=0, dilation=1):
    """``torch.nn.functional.max_pool2d``: ``x: (N, C, H, W)`` ->
    ``(N, C, H_out, W_out)``."""
    return max_pool2d_forward(x, kernel_size, stride, padding, dilation)[0]


def avg_pool2d_forward(
    x, kernel_size, stride=None, padding=0, *, count_include_pad=True
):
    """Average pooling; returns ``(out, cache)``.

    Args:
        x: ``(N, C, H, W)``.
        kernel_size, stride (default: ``kernel_size``), padding (zeros, at most half the
            kernel): int or pair.
        count_include_pad: divide by ``kh*kw`` (torch's default) or, if ``False``, by
            the number of real (non-padding) inputs in each window.

    Returns:
        ``out``: ``(N, C, H_out, W_out)``; ``cache``: :class:`PoolCache` for
        :func:`avg_pool2d_backward`.
    """
    x, kernel_size, stride, padding, dilation, out_hw = checks.pool2d_args(
        x, kernel_size, stride, padding, 1, "avg_pool2d"
    )
    x_padded = pad_nhwc(x.transpose(0, 2, 3, 1), padding)
    offsets = kernel_offsets(kernel_size)
    total = window(x_padded, offsets[0], stride, dilation, out_hw).copy()
    for offset in offsets[1:]:
        total += window(x_padded, offset, stride, dilation, out_hw)
    if count_include_pad or padding == (0, 0):
        divisor = float(kernel_size[0] * kernel_size[1])
    else:
        inside = pad_nhwc(np.ones((1, *x.shape[2:], 1), dtype=x.dtype), padding)
        divisor = sum(
            window(inside, offset, stride, dilation, out_hw) for offset in offsets
        )
    out = total / np.asarray(divisor, dtype=x.dtype)
    cache = PoolCache(
        x.shape,
        x_padded.shape[1:3],
        out_hw,
        kernel_size,
        stride,
        padding,
        dilation,
        divisor=divisor,
    )
    return out.transpose(0, 3, 1, 2), cache


def avg_pool2d_backward(grad_output, cache: PoolCache):
    """Gradient of average pooling: ``grad_output: (N, C, H_out, W_out)`` ->
    ``grad_x: (N, C, H, W)``.

    Every input of a window receives the window's gradient divided by the window's
    divisor.
    """
    grad = _checked_grad(grad_output, cache)
    share = grad / np.asarray(cache.divisor, dtype=grad.dtype)
    grad_padded = np.zeros(
        (grad.shape[0], *cache.padded_hw, grad.shape[3]), dtype=grad.dtype
    )
    for offset in kernel_offsets(cache.kernel_size):
        window(grad_padded, offset, cache.stride, cache.dilation, cache.out_hw)[
            ...
        ] += share
    return _crop(grad_padded, cache)


def avg_pool2d(x, kernel_size, stride=None, padding=0, *, count_include_pad=True):
    """``torch.nn.functional.avg_pool2d``: ``x: (N, C, H, W)`` ->
    ``(N, C, H_out, W_out)``."""
    return avg_pool2d_forward(
        x, kernel_size, stride, padding, count_include_pad=count_include_pad
    )[0]


def _checked_grad(grad_output, cache: PoolCache) -> np.ndarray:
    """``grad_output`` checked against the forward output shape, as a channels-last
    view."""
    n, c = cache.x_shape[:2]
    expected = (n, c, *cache.out_hw)
    return checks.grad_output_like(grad_output, expected).transpose(0, 2, 3, 1)


def _crop(grad_padded: np.ndarray, cache: PoolCache) -> np.ndarray:
    """Drop the padding from ``(N, Hp, Wp, C)`` and return the NCHW-shaped view
    ``(N, C, H, W)``."""
    ph, pw = cache.padding
    h, w = cache.x_shape[2:]
    return grad_padded[:, ph : ph + h, pw : pw + w, :].transpose(0, 3, 1, 2)
