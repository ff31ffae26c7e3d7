"""Fully connected layer, forward and backward: ``out = x @ weight.T + bias``.

The weight has torch's layout ``(out_features, in_features)``. Backward, for the
upstream gradient ``G: (N, out_features)``: ``grad_x = G @ weight``,
``grad_weight = G.T @ x`` and ``grad_bias = G.sum(axis=0)``.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .. import checks

__all__ = ["LinearCache", "linear_forward", "linear_backward", "linear"]


class LinearCache(NamedTuple):
    """The input ``x: (N, in)`` (never modified), ``weight: (out, in)``, has_bias."""

    x: np.ndarray
    weight: np.ndarray
    has_bias: bool


def linear_forward(x, weight, bias=None):
    """``x: (N, in)``, ``weight: (out, in)``, ``bias: (out,)`` or ``None``.

    Returns ``(out, cache)`` with ``out: (N, out)``.
    """
    x, weight, bias = checks.linear_args(x, weight, bias)
    out = x @ weight.T
    if bias is not None:
        out += bias
    return out, LinearCache(x, weight, bias is not None)


def linear_backward(grad_output, cache: LinearCache, needs_input_grad=True):
    """``grad_output: (N, out)`` -> ``(grad_x, grad_weight, grad_bias)``.

    Shapes ``(N, in)``, ``(out, in)``, ``(out,)`` (``None`` without bias);
    ``needs_input_grad=False`` returns ``None`` for ``grad_x``.
    """
    shape = (cache.x.shape[0], cache.weight.shape[0])
    grad_output = checks.grad_output_like(grad_output, shape)
    grad_x = grad_output @ cache.weight if needs_input_grad else None
    grad_weight = grad_output.T @ cache.x
    grad_bias = grad_output.sum(axis=0) if cache.has_bias else None
    return grad_x, grad_weight, grad_bias


def linear(x, weight, bias=None):
    """``torch.nn.functional.linear``: ``x: (N, in)`` -> ``(N, out)``."""
    return linear_forward(x, weight, bias)[0]
