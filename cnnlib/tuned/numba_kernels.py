"""Element-wise kernels compiled by numba: each op in one pass over memory.

Imported only through :mod:`cnnlib.tuned.compiled`, and only when numba is installed.
With NumPy, an element-wise op takes several passes over its arrays (ReLU: a
comparison, then a maximum; max pooling: a copy, a comparison and two maxima per
tap), each of them a full trip through memory; here each op is one loop that reads
its inputs once and writes its outputs once. ReLU, pooling and im2col give what the
NumPy kernels of :mod:`cnnlib.tuned` give, value for value; col2im sums in the
readable op's order; Adam's update rounds each number as the readable step does
(``tests/test_tuned_equals_readable.py`` runs both paths against the readable ops).

They run on one core. Spread over two cores (numba's ``prange``), they made the MNIST
net's training step slower than on one (6.6 ms against 5.2 ms on a 2-core machine):
after each matrix multiply OpenBLAS keeps its worker thread spinning on the second
core, waiting for the next one, so a second numba thread finds no free core; and with
numba's OpenMP threads, which spin in turn, each matrix multiply took several times
longer.

Arrays are channels-last, ``(N, H, W, C)``, C-contiguous as cnnlib's layers hand them
over (im2col's input excepted: it reads any strides). ``cache=True`` keeps the machine
code in ``__pycache__``, so only the first process that runs them pays their compile
time (about 2 s for the float32 kernels of the MNIST net); a later process loads
them, with numba itself, in about 0.3 s.
"""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = [
    "relu_flat",
    "relu_backward_flat",
    "max_pool_forward",
    "max_pool_backward",
    "im2col_rows",
    "col2im",
    "adam_update",
]


@njit(cache=True)
def relu_flat(x, out, positive):
    """``out = max(x, 0)`` (a NaN stays NaN, as in ``np.maximum``) and
    ``positive = x > 0``; all three ``(L,)``."""
    for k in range(x.shape[0]):
        value = x[k]
        out[k] = 0 if value <= 0 else value
        positive[k] = value > 0


@njit(cache=True)
def relu_backward_flat(grad, positive, out):
    """``out = grad * positive`` (so ``-0.0`` where the gradient is negative and the
    mask is off, as NumPy's product gives); all three ``(L,)``."""
    for k in range(grad.shape[0]):
        out[k] = grad[k] * positive[k]


@njit(cache=True)
def max_pool_forward(x, kernel_size, stride, dilation, out, winner, relu_first):
    """Max pooling without padding: ``x: (N, H, W, C)`` -> ``out`` and ``winner``, both
    ``(N, H_out, W_out, C)``, filled in place.

    Taps are scanned row-major; a later tap wins only if strictly greater, so the first
    of tied maxima wins (torch's rule). As in the readable op, a NaN therefore wins
    only as a window's first tap, and then keeps the window. One row of outputs at a
    time, tap by tap, so that each inner loop runs over a whole row of pixels and
    channels.

    ``relu_first``: pool ``relu(x)`` instead, in the same pass. The largest of a
    window's ReLU outputs is the ReLU of its largest input, so each maximum that is
    not positive becomes 0, and its winner ``kh * kw``, a tap that does not exist: the
    ReLU sends no gradient to any of that window's inputs.
    """
    n, oh, ow, c = out.shape
    kh, kw = kernel_size
    sh, sw = stride
    dh, dw = dilation
    no_tap = np.uint8(kh * kw)
    for b in range(n):
        for y in range(oh):
            best, won, first = out[b, y], winner[b, y], x[b, y * sh]
            for x_ in range(ow):
                for k in range(c):
                    best[x_, k] = first[x_ * sw, k]
                    won[x_, k] = 0
            for tap in range(1, kh * kw):
                i, j = tap // kw, tap % kw
                row, index = x[b, y * sh + i * dh], np.uint8(tap)
                for x_ in range(ow):
                    for k in range(c):
                        value, current = row[x_ * sw + j * dw, k], best[x_, k]
                        better = value > current
                        won[x_, k] = index if better else won[x_, k]
                        best[x_, k] = value if better else current
            if relu_first:
                for x_ in range(ow):
                    for k in range(c):
                        value = best[x_, k]
                        if not value > 0:  # NaN stays, as the ReLU keeps it
                            best[x_, k] = value if np.isnan(value) else 0
                            won[x_, k] = no_tap


@njit(cache=True)
def max_pool_backward(grad, winner, kernel_size, stride, dilation, disjoint, grad_x):
    """Route ``grad: (N, H_out, W_out, C)`` to the winning inputs of ``grad_x:
    (N, H, W, C)``, which is overwritten.

    Tap by tap, as the readable op adds them (``grad * (winner == tap)`` at every
    window position), so an input that wins several overlapping windows sums their
    gradients in the same order, and an infinite gradient gives the same NaNs. With
    ``disjoint`` windows (no input in two of them) each input is written once, not
    added to.
    """
    n, oh, ow, c = grad.shape
    kh, kw = kernel_size
    sh, sw = stride
    dh, dw = dilation
    for b in range(n):
        grad_x[b] = 0
        for tap in range(kh * kw):
            i, j = tap // kw, tap % kw
            index = np.uint8(tap)
            for y in range(oh):
                g, won = grad[b, y], winner[b, y]
                target = grad_x[b, y * sh + i * dh]
                for x_ in range(ow):
                    column = x_ * sw + j * dw
                    for k in range(c):
                        routed = g[x_, k] * (won[x_, k] == index)
                        if disjoint:
                            target[column, k] = routed
                        else:
                            target[column, k] += routed


@njit(cache=True)
def im2col_rows(x, kernel_size, stride, padding, row_dilation, out_hw, cols):
    """Fill the column matrix ``cols: (N*H_out*W_out, kh*kw*C [+ 1])`` from ``x: (N, H,
    W, C)``, which may have any strides (an NCHW array's channels-last view included);
    ``out_hw = (H_out, W_out)``; a last column, if ``cols`` has one, is set to 1.

    Only for a dilation of 1 across the row (``row_dilation`` is the other one): then
    the ``kw`` taps of one kernel row are ``kw*C`` consecutive numbers of a
    channels-last image, copied as one run. Each image is first copied, padded, into
    a channels-last scratch image of its own, which stays in the core's cache, so an
    NCHW input needs no transposing copy of the whole batch.
    """
    n, h, w, c = x.shape
    kh, kw = kernel_size
    sh, sw = stride
    ph, pw = padding
    padded_w = w + 2 * pw
    oh, ow = out_hw
    taps, run = kh * kw * c, kw * c
    ones_column = cols.shape[1] > taps
    image = np.zeros((h + 2 * ph, padded_w, c), dtype=cols.dtype)
    image_rows = image.reshape(h + 2 * ph, padded_w * c)
    for b in range(n):
        for y in range(h):
            for x_ in range(w):
                for k in range(c):
                    image[y + ph, x_ + pw, k] = x[b, y, x_, k]
        for y in range(oh):
            for x_ in range(ow):
                row = cols[(b * oh + y) * ow + x_]
                start = x_ * sw * c
                for i in range(kh):
                    # Two slices, then a plain loop: numba vectorises this copy; with
                    # the offsets inside the loop's indices it ran 3x slower.
                    source = image_rows[y * sh + i * row_dilation, start : start + run]
                    target = row[i * run : (i + 1) * run]
                    for t in range(run):
                        target[t] = source[t]
                if ones_column:
                    row[taps] = 1


@njit(cache=True)
def col2im(cols, stride, padding, dilation, grad_x):
    """Sum each entry of ``cols: (N, H_out, W_out, kh, kw, C)`` onto the input pixel
    it was copied from: ``grad_x: (N, H, W, C)``, overwritten.

    Positions in the padding are skipped rather than summed and cropped. Tap by tap,
    as the readable col2im adds them, so every input sums its entries in the same
    order.
    """
    n, oh, ow, kh, kw, c = cols.shape
    h, w = grad_x.shape[1], grad_x.shape[2]
    sh, sw = stride
    ph, pw = padding
    dh, dw = dilation
    for b in range(n):
        grad_x[b] = 0
        for i in range(kh):
            for j in range(kw):
                for y in range(oh):
                    row = y * sh + i * dh - ph
                    if row < 0 or row >= h:
                        continue
                    target = grad_x[b, row]
                    for x_ in range(ow):
                        column = x_ * sw + j * dw - pw
                        if column < 0 or column >= w:
                            continue
                        entry = cols[b, y, x_, i, j]
                        for k in range(c):
                            target[column, k] += entry[k]


# error_model="numpy": a division by zero gives inf or NaN, as in NumPy, instead of
# raising. The check that raises would keep LLVM from vectorizing the loop, which then
# took longer than NumPy's passes (0.27 ms against 0.22 ms for the MNIST net's
# parameters); vectorized it takes 0.08 ms.
@njit(cache=True, error_model="numpy")
def adam_update(param, grad, exp_avg, exp_avg_sq, coefficients, decay, decoupled):
    """One Adam step of one parameter, in place, in the readable step's order of
    operations (so each number is rounded as there): ``param``, ``grad`` and the
    moments ``exp_avg``, ``exp_avg_sq`` all ``(L,)`` of one dtype. ``coefficients``:
    ``(beta1, beta2, 1 - beta1, 1 - beta2, step_size, root_correction, eps)`` in that
    dtype; ``decay``: ``weight_decay`` (L2, added to the gradient) or, with
    ``decoupled``, the factor ``1 - lr * weight_decay`` (AdamW); 0 for no decay."""
    beta1, beta2, rest1, rest2, step_size, root_correction, eps = coefficients
    for k in range(param.shape[0]):
        p, g = param[k], grad[k]
        if decoupled:
            p = p * decay
        elif decay != 0:
            g = g + decay * p
        m = exp_avg[k] * beta1 + rest1 * g
        v = exp_avg_sq[k] * beta2 + rest2 * g * g
        exp_avg[k], exp_avg_sq[k] = m, v
        param[k] = p - step_size * m / (np.sqrt(v) / root_correction + eps)
