"""Fully connected layer, forward and backward: ``y = x @ weight.T + bias`` (torch's weight layout ``(out, in)``)."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ._checks import check_array, check_bias, check_same_dtype

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
    check_array(x, "x", 2, "(N, in_features)")
    check_array(weight, "weight", 2, "(out_features, in_features)")
    check_same_dtype(x, "x", weight, "weight")
    if x.shape[1] != weight.shape[1]:
        raise ValueError(f"x has {x.shape[1]} features (shape {x.shape}) but weight expects {weight.shape[1]} (shape {weight.shape})")
    check_bias(bias, weight.shape[0], weight)
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
    expected = (cache.x.shape[0], cache.weight.shape[0])
    check_array(grad_output, "grad_output", 2, "(N, out_features)")
    if grad_output.shape != expected:
        raise ValueError(f"grad_output must have the output's shape {expected}, got {grad_output.shape}")
    grad_x = grad_output @ cache.weight if needs_input_grad else None
    grad_weight = grad_output.T @ cache.x
    grad_bias = grad_output.sum(axis=0) if cache.has_bias else None
    return grad_x, grad_weight, grad_bias


def linear(x, weight, bias=None):
    """``torch.nn.functional.linear``: ``x: (N, in_features)`` -> ``(N, out_features)``."""
    return linear_forward(x, weight, bias)[0]
