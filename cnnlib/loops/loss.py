"""Softmax and the cross-entropy loss, one sample at a time.

For logits ``z`` of one sample with target ``t``: ``loss = -log softmax(z)[t]``, and
its gradient with respect to ``z`` is ``softmax(z) - onehot(t)``. The batch loss is
the mean over samples, so each sample's gradient is divided by ``N``.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .. import checks

__all__ = [
    "softmax", "CrossEntropyCache", "cross_entropy_forward", "cross_entropy_backward",
    "cross_entropy",
]  # fmt: skip


def softmax(logits):
    """``exp(z) / sum(exp(z))`` along the last axis: ``(..., K)`` -> same shape.

    Subtracting each row's maximum first changes nothing (``exp(-max)`` cancels)
    but keeps every ``exp`` argument <= 0, so ``exp`` never overflows.
    """
    logits = checks.real_array(logits, "logits", None, "(..., K)", min_ndim=1)
    exps = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return exps / exps.sum(axis=-1, keepdims=True)


class CrossEntropyCache(NamedTuple):
    """The forward inputs: ``logits: (N, classes)`` and ``targets: (N,)``."""

    logits: np.ndarray
    targets: np.ndarray


def cross_entropy_forward(logits, targets):
    """Mean ``-log softmax(logits[n])[targets[n]]``; returns ``(loss, cache)``."""
    logits, targets = checks.targets_for(logits, targets, strict=False)
    losses = []
    for z, t in zip(logits, targets):
        shifted = z - z.max()  # log softmax(z)[t] without exp overflowing or log(0)
        losses.append(np.log(np.sum(np.exp(shifted))) - shifted[t])
    return float(np.mean(losses)), CrossEntropyCache(logits, targets)


def cross_entropy_backward(grad_output, cache: CrossEntropyCache):
    """``grad_output``: the loss's upstream gradient (1.0 at the end of the network).

    Returns ``grad_logits: (N, classes)``.
    """
    logits, targets = cache
    grad_output = checks.grad_output_like(grad_output, (), strict=False)
    grad_logits = np.zeros_like(logits)
    for n, (z, t) in enumerate(zip(logits, targets)):
        grad_logits[n] = softmax(z)
        grad_logits[n, t] -= 1.0
    return grad_logits * (float(grad_output) / len(logits))


def cross_entropy(logits, targets):
    """``torch.nn.functional.cross_entropy`` (mean) as loops: a Python ``float``."""
    return cross_entropy_forward(logits, targets)[0]
