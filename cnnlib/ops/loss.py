"""Softmax cross-entropy on raw scores (logits), as ``torch.nn.functional.cross_entropy``.

For logits ``z`` of one sample and its class ``t``: ``loss = -log softmax(z)[t] = logsumexp(z) - z[t]``, averaged
over the batch. Subtracting the row maximum before ``exp`` changes nothing mathematically and keeps ``exp``
from overflowing. The gradient is ``softmax(z) - onehot(t)``, divided by ``N`` for the mean.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .. import checks

__all__ = ["CrossEntropyCache", "log_softmax", "softmax", "cross_entropy_forward", "cross_entropy_backward", "cross_entropy"]


class CrossEntropyCache(NamedTuple):
    """``probabilities``: softmax of the logits ``(N, classes)``; ``targets``: ``(N,)``; ``reduction``."""

    probabilities: np.ndarray
    targets: np.ndarray
    reduction: str


def log_softmax(logits, axis=-1):
    """Numerically stable ``log(softmax(logits))`` along ``axis``; same shape as ``logits``."""
    shifted = logits - logits.max(axis=axis, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))


def softmax(logits, axis=-1):
    """``softmax(logits)`` along ``axis`` (rows sum to 1); same shape as ``logits``."""
    return np.exp(log_softmax(logits, axis))


def cross_entropy_forward(logits, targets, reduction="mean"):
    """Cross-entropy loss; returns ``(loss, cache)``.

    Args:
        logits: ``(N, classes)`` raw scores; targets: ``(N,)`` integer classes in ``[0, classes)``.
        reduction: ``"mean"`` (torch's default), ``"sum"`` or ``"none"``.

    Returns:
        ``loss``: a 0-d array (``"mean"``/``"sum"``) or ``(N,)`` (``"none"``); ``cache``: :class:`CrossEntropyCache`.
    """
    logits, targets = checks.targets_for(logits, targets)
    if reduction not in ("mean", "sum", "none"):
        raise ValueError(f"reduction must be 'mean', 'sum' or 'none', got {reduction!r}")
    log_probabilities = log_softmax(logits)
    per_sample = -log_probabilities[np.arange(logits.shape[0]), targets]
    loss = {"mean": per_sample.mean, "sum": per_sample.sum, "none": lambda: per_sample}[reduction]()
    return np.asarray(loss, dtype=logits.dtype), CrossEntropyCache(np.exp(log_probabilities), targets, reduction)


def cross_entropy_backward(grad_output, cache: CrossEntropyCache):
    """Gradient of the loss with respect to the logits.

    Args:
        grad_output: the upstream gradient of the loss: a scalar (``1.0`` when the loss is the final
            objective) for ``"mean"``/``"sum"``, or ``(N,)`` for ``"none"``.
        cache: from :func:`cross_entropy_forward`.

    Returns:
        ``grad_logits``: ``(N, classes)``.
    """
    probabilities, targets, reduction = cache
    n = probabilities.shape[0]
    grad_output = np.asarray(grad_output, dtype=probabilities.dtype)
    expected = (n,) if reduction == "none" else ()
    if grad_output.shape != expected:
        raise ValueError(f"grad_output must have shape {expected} for reduction={reduction!r}, got {grad_output.shape}")
    grad = probabilities.copy()
    grad[np.arange(n), targets] -= 1
    if reduction == "none":
        grad *= grad_output[:, None]
    else:
        grad *= grad_output / n if reduction == "mean" else grad_output
    return grad


def cross_entropy(logits, targets, reduction="mean"):
    """``torch.nn.functional.cross_entropy`` for class indices: ``logits (N, classes)``, ``targets (N,)`` -> loss."""
    return cross_entropy_forward(logits, targets, reduction)[0]
