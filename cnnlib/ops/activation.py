"""ReLU, forward and backward: ``relu(x) = max(x, 0)``; its derivative is 1 where
``x > 0`` and 0 elsewhere (torch also takes 0 at exactly ``x = 0``)."""

from __future__ import annotations

import numpy as np

from .. import checks

__all__ = ["relu_forward", "relu_backward", "relu"]


def relu_forward(x):
    """``x``: any shape -> ``(out, cache)``; ``cache`` is the mask ``x > 0``."""
    x = checks.any_float_array(x)
    return np.maximum(x, 0), x > 0  # np.maximum keeps a NaN a NaN, as torch does


def relu_backward(grad_output, cache):
    """``grad_output``: the output's shape -> ``grad_x``: the same shape."""
    return checks.grad_output_like(grad_output, cache.shape) * cache


def relu(x):
    """``torch.nn.functional.relu``: any shape -> same shape."""
    return relu_forward(x)[0]
