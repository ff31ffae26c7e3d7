"""Mini-batches: split a data set into consecutive batches, optionally in a seeded
random order."""

from __future__ import annotations

import math

import numpy as np

from .checks import positive_int

__all__ = ["iterate_minibatches", "num_batches"]


def num_batches(num_samples: int, batch_size: int, drop_last: bool = False) -> int:
    """How many batches :func:`iterate_minibatches` yields."""
    return (
        num_samples // batch_size if drop_last else math.ceil(num_samples / batch_size)
    )


def iterate_minibatches(
    x,
    y,
    batch_size: int,
    shuffle: bool = False,
    seed: int | None = None,
    drop_last: bool = False,
):
    """Yield ``(x_batch, y_batch)`` pairs covering every sample once.

    Args:
        x: ``(N, ...)``; y: ``(N, ...)`` (same ``N``).
        batch_size: samples per batch; the last batch is smaller unless ``drop_last``.
        shuffle: visit the samples in a random order drawn from
            ``np.random.default_rng(seed)``; the same seed gives the same order (pass
            e.g. ``seed=epoch`` for a new order every epoch).

    Yields:
        ``x_batch: (B, ...)`` and ``y_batch: (B, ...)``; copies when shuffled, views
        otherwise.
    """
    batch_size = positive_int(batch_size, "batch_size")
    if len(x) != len(y):
        raise ValueError(
            f"x and y must have the same number of samples, got x shape {np.shape(x)} "
            f"and y shape {np.shape(y)}"
        )
    if shuffle and seed is None:
        raise ValueError(
            "shuffle=True needs a seed (an int) so that the order can be reproduced"
        )
    n = len(x)
    order = np.random.default_rng(seed).permutation(n) if shuffle else None
    stop = n - n % batch_size if drop_last else n
    for start in range(0, stop, batch_size):
        if order is None:
            yield x[start : start + batch_size], y[start : start + batch_size]
        else:
            index = order[start : start + batch_size]
            yield x[index], y[index]
