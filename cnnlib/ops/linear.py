"""Fully connected layer, forward and backward: ``y = x @ weight.T + bias`` (torch's weight layout ``(out, in)``)."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .. import checks

__all__ = ["LinearCache", "linear_forward", "linear_backward", "linear"]


class LinearCache(NamedTuple):
    """``x``: the input ``(N, in_features)`` (a reference, never modified); ``weight``: ``(out, in)``; ``has_bias``."""

    x: np.ndarray
    weight: np.ndarray
    has_bias: bool


def linear_forward(x, weight, bias=None):
    """Affine map; returns ``(out, cache)``.

    Args:
        x: ``(N, in_features)``; weight: ``(out_features, in_features)``; bias: ``(out_features,)`` or ``None``.

    Returns:
        ``out``: ``(N, out_features)``; ``cache``: :class:`LinearCache` for :func:`linear_backward`.
    """
    x, weight, bias = checks.linear_args(x, weight, bias)
    out = x @ weight.T
    if bias is not None:
        out += bias
    return out, LinearCache(x, weight, bias is not None)


def linear_backward(grad_output, cache: LinearCache, needs_input_grad=True):
    """Gradients of the affine map.

    Args:
        grad_output: ``(N, out_features)``; cache: from :func:`linear_forward`.
        needs_input_grad: ``False`` skips ``grad_x`` (``None`` is returned in its place).

    Returns:
        ``(grad_x, grad_weight, grad_bias)``: ``(N, in_features)``, ``(out_features, in_features)``,
        ``(out_features,)`` (``None`` without bias).
    """
    shape = (cache.x.shape[0], cache.weight.shape[0])
    grad_output = checks.grad_output_like(grad_output, shape)
    grad_x = grad_output @ cache.weight if needs_input_grad else None
    grad_weight = grad_output.T @ cache.x
    grad_bias = grad_output.sum(axis=0) if cache.has_bias else None
    return grad_x, grad_weight, grad_bias


def linear(x, weight, bias=None):
    """``torch.nn.functional.linear``: ``x: (N, in_features)`` -> ``(N, out_features)``."""
    return linear_forward(x, weight, bias)[0]
