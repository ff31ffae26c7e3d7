"""Softmax cross-entropy on raw scores (logits), as torch's ``F.cross_entropy``.

For the logits ``z`` of one sample and its class ``t``:
``loss = -log softmax(z)[t] = logsumexp(z) - z[t]``, averaged over the batch.
Subtracting the row maximum before ``exp`` changes nothing mathematically and keeps
``exp`` from overflowing. The gradient is ``softmax(z) - onehot(t)``, divided by ``N``
for the mean.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .. import checks

__all__ = [
    "CrossEntropyCache", "log_softmax", "softmax", "cross_entropy_forward",
    "cross_entropy_backward", "cross_entropy",
]  # fmt: skip

REDUCTIONS = ("mean", "sum", "none")


class CrossEntropyCache(NamedTuple):
    """``probabilities: (N, classes)``, ``targets: (N,)`` and the ``reduction``."""

    probabilities: np.ndarray
    targets: np.ndarray
    reduction: str


def log_softmax(logits, axis=-1):
    """Numerically stable ``log(softmax(logits))`` along ``axis``; ``logits``' shape."""
    shifted = logits - logits.max(axis=axis, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))


def softmax(logits, axis=-1):
    """``softmax(logits)`` along ``axis`` (rows sum to 1); ``logits``' shape."""
    return np.exp(log_softmax(logits, axis))


def cross_entropy_forward(logits, targets, reduction="mean"):
    """``logits: (N, classes)``, integer ``targets: (N,)`` -> ``(loss, cache)``.

    ``reduction``: ``"mean"`` (torch's default) or ``"sum"`` give a 0-d ``loss``,
    ``"none"`` one loss per sample ``(N,)``.
    """
    logits, targets = checks.targets_for(logits, targets)
    if reduction not in REDUCTIONS:
        raise ValueError(f"reduction must be one of {REDUCTIONS}, got {reduction!r}")
    log_probabilities = log_softmax(logits)
    per_sample = -log_probabilities[np.arange(logits.shape[0]), targets]
    if reduction == "none":
        loss = per_sample
    else:
        loss = per_sample.mean() if reduction == "mean" else per_sample.sum()
    cache = CrossEntropyCache(np.exp(log_probabilities), targets, reduction)
    return np.asarray(loss, dtype=logits.dtype), cache


def cross_entropy_backward(grad_output, cache: CrossEntropyCache):
    """``grad_output``: the loss's upstream gradient, a scalar (``1.0`` when the loss is
    the objective) or ``(N,)`` for ``"none"``. Returns ``grad_logits: (N, classes)``."""
    probabilities, targets, reduction = cache
    n = probabilities.shape[0]
    grad_output = np.asarray(grad_output, dtype=probabilities.dtype)
    expected = (n,) if reduction == "none" else ()
    if grad_output.shape != expected:
        raise ValueError(
            f"grad_output must have shape {expected} for reduction={reduction!r}, "
            f"got {grad_output.shape}"
        )
    grad = probabilities.copy()
    grad[np.arange(n), targets] -= 1
    if reduction == "none":
        return grad * grad_output[:, None]
    return grad * (grad_output / n if reduction == "mean" else grad_output)


def cross_entropy(logits, targets, reduction="mean"):
    """``torch.nn.functional.cross_entropy`` for class indices: the loss."""
    return cross_entropy_forward(logits, targets, reduction)[0]
