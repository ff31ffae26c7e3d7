"""Batch normalisation, forward and backward, for ``(N, C)``, ``(N, C, L)`` and
``(N, C, H, W)``.

Each channel ``c`` is normalised over the ``m`` values it has in the batch (axis 0 and
every axis after 1: ``m = N * H * W`` for images), then scaled and shifted::

    mean = x.mean(),  var = ((x - mean)**2).mean()         (biased: divides by m)
    x_hat = (x - mean) / sqrt(var + eps)
    out = weight * x_hat + bias

In training the statistics are the batch's, and the running statistics move towards
them as torch moves them: ``running = (1 - momentum) * running + momentum * batch``,
with the *unbiased* variance ``var * m / (m - 1)`` for ``running_var``. In evaluation
``running_mean`` and ``running_var`` replace the batch's statistics.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .. import checks

__all__ = [
    "BatchNormCache", "batch_norm_forward", "batch_norm_backward", "batch_norm",
]  # fmt: skip


class BatchNormCache(NamedTuple):
    """``x_hat``: the normalised input (x's shape); ``inv_std: (C,)``, the
    ``1 / sqrt(var + eps)`` used; ``weight: (C,)`` or ``None``; ``has_bias``;
    ``batch_stats``: whether the statistics were the batch's (training)."""

    x_hat: np.ndarray
    inv_std: np.ndarray
    weight: np.ndarray | None
    has_bias: bool
    batch_stats: bool


def _axes(ndim: int) -> tuple[int, ...]:
    """The axes a channel's statistics run over: all but axis 1."""
    return (0, *range(2, ndim))


def _per_channel(vector: np.ndarray, ndim: int) -> np.ndarray:
    """``(C,)`` -> ``(1, C, 1, ...)``, to broadcast against an ``ndim``-d ``x``."""
    return vector.reshape((1, -1) + (1,) * (ndim - 2))


def batch_norm_forward(
    x, running_mean, running_var, weight=None, bias=None, training=False,
    momentum=0.1, eps=1e-5,
):  # fmt: skip
    """``x: (N, C, ...)``; the four vectors ``(C,)`` or ``None`` -> ``(out, cache)``.

    ``out`` has x's shape. With ``training=True`` the batch's statistics are used, and
    ``running_mean``/``running_var`` (if given) are updated **in place**, as torch's
    ``F.batch_norm`` does: they are the layer's state, not data. ``x``, ``weight`` and
    ``bias`` are never modified.
    """
    x, running_mean, running_var, weight, bias, training, momentum, eps = (
        checks.batch_norm_args(
            x, running_mean, running_var, weight, bias, training, momentum, eps
        )
    )
    axes = _axes(x.ndim)
    if training:
        mean, var = x.mean(axis=axes), x.var(axis=axes)  # var divides by m
        if running_mean is not None:
            m = x.size // x.shape[1]
            running_mean *= 1 - momentum
            running_mean += momentum * mean
            running_var *= 1 - momentum
            running_var += momentum * var * (m / (m - 1))  # unbiased
    else:
        mean, var = running_mean, running_var
    inv_std = 1 / np.sqrt(var + eps)
    x_hat = (x - _per_channel(mean, x.ndim)) * _per_channel(inv_std, x.ndim)
    out = x_hat if weight is None else x_hat * _per_channel(weight, x.ndim)
    if bias is not None:
        out = out + _per_channel(bias, x.ndim)
    return out, BatchNormCache(x_hat, inv_std, weight, bias is not None, training)


def batch_norm_backward(grad_output, cache: BatchNormCache, needs_input_grad=True):
    """``grad_output``: x's shape -> ``(grad_x, grad_weight, grad_bias)``.

    Shapes: x's, ``(C,)``, ``(C,)``; ``None`` for a missing weight or bias, and for
    ``grad_x`` if not ``needs_input_grad``. Per channel, with ``g = grad_output``,
    sums over the channel's ``m`` values and ``s = weight / sqrt(var + eps)``::

        grad_bias = sum(g),   grad_weight = sum(g * x_hat)
        grad_x = s * g                                  (fixed, running statistics)
        grad_x = s * (g - mean(g) - x_hat * mean(g * x_hat))    (batch statistics)

    The last line is the chain rule through ``mean`` and ``var``, which depend on
    every value (``d mean/dx = 1/m``, ``d var/dx = 2 (x - mean)/m``), collapsed: it
    removes from ``g`` its components along ``1`` and ``x_hat``, because shifting or
    scaling a channel's inputs cannot change ``x_hat``. Note ``mean(g) =
    grad_bias / m`` and ``mean(g * x_hat) = grad_weight / m``.
    """
    x_hat, ndim = cache.x_hat, cache.x_hat.ndim
    g = checks.grad_output_like(grad_output, x_hat.shape)
    grad_bias = g.sum(axis=_axes(ndim))
    grad_weight = (g * x_hat).sum(axis=_axes(ndim))
    grad_x = None
    if needs_input_grad:
        if cache.batch_stats:
            m = g.size // g.shape[1]
            g = g - _per_channel(grad_bias / m, ndim)
            g -= x_hat * _per_channel(grad_weight / m, ndim)  # g is our copy now
        s = cache.inv_std if cache.weight is None else cache.weight * cache.inv_std
        grad_x = _per_channel(s, ndim) * g
    grad_weight = None if cache.weight is None else grad_weight
    return grad_x, grad_weight, (grad_bias if cache.has_bias else None)


def batch_norm(
    x, running_mean, running_var, weight=None, bias=None, training=False,
    momentum=0.1, eps=1e-5,
):  # fmt: skip
    """``torch.nn.functional.batch_norm``: ``(N, C, ...)`` -> the same shape."""
    return batch_norm_forward(
        x, running_mean, running_var, weight, bias, training, momentum, eps
    )[0]
