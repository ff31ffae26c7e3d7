"""Adam's and AdamW's step, compiled: one pass over each parameter.

The tuned twin of :meth:`cnnlib.optim.Adam.step`, which the book prints. That step
makes about a dozen NumPy passes over each parameter (the moments scaled and added
to, a square, a square root, a division...), each a trip through memory with a
temporary array; the compiled kernel (:func:`cnnlib.tuned.numba_kernels.adam_update`)
reads each number once and writes it once. It does the same operations in the same
order, so every value is the same, bit for bit. For the MNIST net's 102,000
parameters a step took 0.08 ms against 0.22 ms.
"""

from __future__ import annotations

import math

import numpy as np

from . import compiled

__all__ = ["adam_step"]


def adam_step(optimizer) -> bool:
    """Run one step of ``optimizer``, a :class:`cnnlib.optim.Adam` (or ``AdamW``),
    compiled, and return ``True``; or change nothing and return ``False`` where the
    kernel does not apply (numba missing or switched off, a gradient missing, arrays
    not C-contiguous or not all of one float dtype), for the readable step to run."""
    if not optimizer._m:  # the readable step's first-step moments, made here alike
        optimizer._m = [np.zeros_like(p.data) for p in optimizer.params]
        optimizer._v = [np.zeros_like(p.data) for p in optimizer.params]
    groups = [
        (p.data, p.grad, m, v)
        for p, m, v in zip(optimizer.params, optimizer._m, optimizer._v)
    ]
    kernel = compiled.adam_kernel_or_none(groups)
    if kernel is None:
        return False
    optimizer.step_count += 1
    t, (beta1, beta2) = optimizer.step_count, optimizer.betas
    step_size = optimizer.lr / (1 - beta1**t)
    root_correction = math.sqrt(1 - beta2**t)
    decoupled = bool(optimizer.weight_decay and optimizer.decoupled_weight_decay)
    if decoupled:
        decay = 1 - optimizer.lr * optimizer.weight_decay
    else:
        decay = optimizer.weight_decay
    # Python floats, each rounded to the arrays' dtype, as NumPy rounds them there.
    numbers = (beta1, beta2, 1 - beta1, 1 - beta2, step_size, root_correction)
    for param, grad, m, v in groups:
        as_dtype = param.dtype.type
        coefficients = tuple(as_dtype(c) for c in (*numbers, optimizer.eps))
        kernel(
            param.reshape(-1),
            grad.reshape(-1),
            m.reshape(-1),
            v.reshape(-1),
            coefficients,
            as_dtype(decay),
            decoupled,
        )
    return True
