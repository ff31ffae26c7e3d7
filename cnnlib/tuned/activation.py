"""ReLU, forward and backward. ``relu(x) = max(x, 0)``; its derivative is 1 where
``x > 0`` and 0 elsewhere (torch also uses 0 at exactly ``x = 0``).

The tuned twin of the readable :mod:`cnnlib.ops.activation`, which the book prints.
"""

from __future__ import annotations

import numpy as np

from .. import checks
from . import compiled

__all__ = ["relu_forward", "relu_backward", "relu"]


def relu_forward(x):
    """``x``: any shape. Returns ``(out, cache)``: ``out`` has ``x``'s shape; ``cache``
    is the boolean mask ``x > 0``."""
    checks.any_float_array(x)
    result = compiled.relu_or_none(x)  # out and mask in one compiled pass
    if result is not None:
        return result
    positive = x > 0
    # Against the scalar 0, np.maximum runs an element-by-element loop; against an array
    # of zeros in x's own memory layout it runs its vectorized loop, about three times
    # faster, which more than pays for the zeros.
    zeros = np.zeros_like(x)
    return np.maximum(x, zeros, out=zeros), positive


def relu_backward(grad_output, cache):
    """``grad_output``: the output's shape -> ``grad_x = grad_output * cache``, the same
    shape."""
    grad = checks.grad_output_like(grad_output, cache.shape)
    result = compiled.relu_backward_or_none(grad, cache)
    return grad * cache if result is None else result


def relu(x):
    """``torch.nn.functional.relu``: elementwise ``max(x, 0)``, any shape -> same
    shape."""
    return relu_forward(x)[0]
