"""ReLU, forward and backward. ``relu(x) = max(x, 0)``; its derivative is 1 where
``x > 0`` and 0 elsewhere (torch also uses 0 at exactly ``x = 0``).

The tuned twin of the readable :mod:`cnnlib.ops.activation`, which the book prints.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .. import checks
from . import compiled

__all__ = ["relu_forward", "relu_backward", "relu", "ReluAppliedByPooling"]


class ReluAppliedByPooling(NamedTuple):
    """A ReLU's cache when :func:`~cnnlib.tuned.pooling.relu_max_pool2d_forward` ran
    it with the max pooling after it: that pooling's backward already sends no gradient
    to an input the ReLU zeroed, so the ReLU's backward passes the gradient through.
    ``shape``: the ReLU's input (and output) shape."""

    shape: tuple


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
    shape; ``grad_output`` itself where ``cache`` is a :class:`ReluAppliedByPooling`."""
    grad = checks.grad_output_like(grad_output, cache.shape)
    if isinstance(cache, ReluAppliedByPooling):
        return grad
    result = compiled.relu_backward_or_none(grad, cache)
    return grad * cache if result is None else result


def relu(x):
    """``torch.nn.functional.relu``: elementwise ``max(x, 0)``, any shape -> same
    shape."""
    return relu_forward(x)[0]
