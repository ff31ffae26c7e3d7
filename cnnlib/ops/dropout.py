"""Dropout, forward and backward: inverted dropout, as torch does it.

In training each value is kept with probability ``1 - p`` and zeroed otherwise, and
the kept values are divided by ``1 - p``, so every value's expected output is the
value itself: ``E[out] = (1 - p) * x / (1 - p) = x``. Evaluation is the identity, with
no rescaling to remember. ``p = 1`` zeroes everything (torch's rule). The backward
multiplies by the same mask: ``grad_x = grad_output * mask / (1 - p)``.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .. import checks
from ..init import default_generator

__all__ = ["DropoutCache", "dropout_forward", "dropout_backward", "dropout"]


class DropoutCache(NamedTuple):
    """``multiplier``: ``mask / (1 - p)`` of x's shape, or ``None`` in evaluation
    (the identity); ``shape``: x's shape."""

    multiplier: np.ndarray | None
    shape: tuple


def dropout_forward(x, p=0.5, training=True, rng=None):
    """``x``: any shape -> ``(out, cache)``, ``out`` of x's shape and dtype.

    ``rng``: a NumPy ``Generator``; by default cnnlib's
    (:func:`cnnlib.init.default_generator`, reseeded by ``cnnlib.manual_seed``).
    ``cache``: a :class:`DropoutCache`, the mask the backward will reuse.
    """
    x = checks.any_float_array(x)
    p = checks.probability(p, "p")
    if not training:
        return x.copy(), DropoutCache(None, x.shape)
    rng = default_generator() if rng is None else rng
    keep = rng.random(x.shape) >= p  # True with probability 1 - p
    scale = 0.0 if p == 1 else 1 / (1 - p)
    multiplier = keep.astype(x.dtype) * x.dtype.type(scale)
    return x * multiplier, DropoutCache(multiplier, x.shape)


def dropout_backward(grad_output, cache: DropoutCache):
    """``grad_output``: the output's shape -> ``grad_x``: the same shape, through the
    forward pass's mask."""
    grad_output = checks.grad_output_like(grad_output, cache.shape)
    if cache.multiplier is None:
        return grad_output.copy()
    return grad_output * cache.multiplier


def dropout(x, p=0.5, training=True, rng=None):
    """``torch.nn.functional.dropout``: any shape -> the same shape."""
    return dropout_forward(x, p, training, rng)[0]
