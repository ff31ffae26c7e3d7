"""Activation functions, element by element: ReLU (with its backward), sigmoid, tanh."""

from __future__ import annotations

import numpy as np

from .. import checks

__all__ = ["relu_forward", "relu_backward", "relu", "sigmoid", "tanh"]


def relu_forward(x):
    """``max(x, 0)``, any shape; returns ``(out, cache)``, the cache being ``x``."""
    x = checks.real_array(x, "x", None)
    return np.maximum(x, 0), x  # np.maximum keeps a NaN a NaN, as torch does


def relu_backward(grad_output, cache):
    """The gradient passes where the input was positive; 0 elsewhere (at 0 too)."""
    grad_output = checks.grad_output_like(grad_output, cache.shape, strict=False)
    dtype = np.result_type(grad_output, cache)  # the wider of the two
    return np.where(cache > 0, grad_output, 0).astype(dtype)


def relu(x):
    """``torch.nn.functional.relu``: any shape -> same shape."""
    return relu_forward(x)[0]


def sigmoid(x):
    """``1 / (1 + exp(-x))``, any shape, without overflow.

    For ``x < 0`` it uses the equal form ``exp(x) / (1 + exp(x))``, so ``exp`` never
    sees a large positive argument.
    """
    x = checks.real_array(x, "x", None)
    exp_neg_abs = np.exp(-np.abs(x))  # in (0, 1], never overflows
    positive = 1 / (1 + exp_neg_abs)
    return np.where(x >= 0, positive, exp_neg_abs * positive).astype(x.dtype)


def tanh(x):
    """Hyperbolic tangent, any shape, values in ``[-1, 1]``."""
    return np.tanh(checks.real_array(x, "x", None))
