"""Memory that a BLAS product wrote last, kept to hold the next column matrix.

A convolution's backward pass writes its column gradient with one matrix multiply, which
BLAS spreads over all cores, and reads it once (col2im). The next forward pass of a
wide convolution then builds a column matrix of nearly the same size, on one core. Where
that new matrix lands matters on a machine whose cores do not share a cache: measured
on this project's 2-CPU machines, in the phases when the two slowed down, one core
writing 4.5 MB that the other core's BLAS thread had just *read* (the last column matrix
after its two products) took 1.3-2.1 ms, against 0.2 ms for memory that this core alone
had touched, or that BLAS had last *written* (0.27 ms). ``malloc`` hands back whichever
block was freed last, often the old column matrix; keeping the column gradient's memory
and building the next matrix in it avoids that. It changes no value.

One block is kept, the latest; it is released when taken, so it is never in two
arrays at once.
"""

from __future__ import annotations

import numpy as np

__all__ = ["keep", "take"]

_kept: list[np.ndarray] = []  # at most one 1-D array, referenced from nowhere else


def keep(block: np.ndarray) -> None:
    """Keep ``block`` (1-D, C-contiguous, no other reference to it) for :func:`take`,
    in place of any block kept before."""
    _kept[:] = [block]


def take(size: int, dtype) -> np.ndarray:
    """``(size,)`` uninitialised numbers of ``dtype``: the kept block where it is of
    that dtype and holds ``size`` to ``2 * size`` numbers (so that a small array does
    not pin a much larger block), otherwise new memory. The kept block is given up
    either way."""
    try:
        # One call, atomic under the GIL: two threads cannot both get the block.
        block = _kept.pop()
    except IndexError:
        block = None
    if block is None or block.dtype != dtype or not size <= block.size <= 2 * size:
        return np.empty(size, dtype)
    return block[:size]
