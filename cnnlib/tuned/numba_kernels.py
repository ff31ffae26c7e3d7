"""Kernels compiled by numba: each op in one pass over memory.

Imported only through :mod:`cnnlib.tuned.compiled`, and only when numba is installed.
With NumPy, an element-wise op takes several passes over its arrays (ReLU: a
comparison, then a maximum; max pooling: a copy, a comparison and two maxima per
tap), each of them a full trip through memory; here each op is one loop that reads
its inputs once and writes its outputs once. ReLU, pooling and im2col give what the
NumPy kernels of :mod:`cnnlib.tuned` give, value for value; col2im sums in the
readable op's order; Adam's update rounds each number as the readable step does
(``tests/test_tuned_equals_readable.py`` runs both paths against the readable ops).
The MNIST net's first block, a one-channel 3x3 convolution with its ReLU and 2x2 max
pooling, runs as one kernel forward and one backward (see
:mod:`cnnlib.tuned.conv_relu_pool`), equal to the layers up to float rounding.

They run on one core. Spread over two cores (numba's ``prange``), they made the MNIST
net's training step slower than on one (6.6 ms against 5.2 ms on a 2-core machine):
after each matrix multiply OpenBLAS keeps its worker thread spinning on the second
core, waiting for the next one, so a second numba thread finds no free core; and with
numba's OpenMP threads, which spin in turn, each matrix multiply took several times
longer.

Arrays are channels-last, ``(N, H, W, C)``, C-contiguous as cnnlib's layers hand them
over (im2col's input excepted: it reads any strides). ``cache=True`` keeps the machine
code in ``__pycache__``, so only the first process that runs them pays their compile
time (about 5 s for the float32 kernels of the MNIST net, 3 s of it for its first
block's two); a later process loads them, with numba itself, in about 0.3 s.
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
    "conv3x3_relu_max_pool2x2",
    "conv3x3_relu_max_pool2x2_backward",
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


# A one-channel 3x3 convolution, the ReLU after it and a 2x2 max pooling of stride 2
# (the first block of the course's MNIST net), forward and backward, one image at a
# time. Output pixel (2r + a, 2c + b) of the convolution reads the padded image at rows
# 2r + a + i and columns 2c + b + j: split into its four phases (even or odd rows, even
# or odd columns), each a quarter-size image, every one of those reads becomes the same
# position (r, c) of one phase, shifted by 0 or 1 row and column. So all four outputs
# of a pooling window are computed at once, position by position, from 16 shifted views
# of the phases; the loop over positions is long and contiguous, which lets LLVM
# vectorize it. The convolution's output is never written to memory.


@njit(cache=True, inline="always")
def _phase_scratch(x, hq, wq, padding, like):
    """Scratch arrays for :func:`_phase_views`, in ``like``'s dtype, for images ``x: (N,
    H, W)`` padded by ``padding`` and pooled to ``(hq, wq)``: the padded image, zeros at
    its edges, and its four phases, ``(4, (hq + 1) * (wq + 1) + 1)``."""
    h, w = x.shape[1], x.shape[2]
    padded = np.zeros((h + 2 * padding[0], w + 2 * padding[1]), dtype=like.dtype)
    phases = np.zeros((4, (hq + 1) * (wq + 1) + 1), dtype=like.dtype)
    return padded, phases


@njit(cache=True, inline="always")
def _phase_views(x, b, padding, padded, phases, width):
    """Copy image ``b`` of ``x: (N, H, W)`` into ``padded``, then into ``phases``
    (phase ``2s + t`` holds ``padded[2u + s, 2c + t]`` at ``u * width + c``, ``width``
    being a pooled row's length plus one scratch column); return their 16 views ``v[4*m
    + l]``, ``v[4*m + l][r * width + c] = padded[2r + m, 2c + l]`` for ``m, l`` in 0..3
    (the row and column offsets within a pooling window and its kernel), each as long
    as ``width`` times the number of pooled rows."""
    _, h, w = x.shape
    ph, pw = padding
    for y in range(h):
        for x_ in range(w):
            padded[y + ph, x_ + pw] = x[b, y, x_]
    rows = (phases.shape[1] - 1) // width
    for s in range(2):
        for t in range(2):
            phase = phases[2 * s + t]
            for u in range(rows):
                for c in range(width):
                    phase[u * width + c] = padded[2 * u + s, 2 * c + t]
    length = (rows - 1) * width
    p0, p1, p2, p3 = phases[0], phases[1], phases[2], phases[3]
    down, end = width, width + length  # one phase row further
    return (
        p0[:length], p1[:length], p0[1 : 1 + length], p1[1 : 1 + length],
        p2[:length], p3[:length], p2[1 : 1 + length], p3[1 : 1 + length],
        p0[down:end], p1[down:end], p0[down + 1 : end + 1], p1[down + 1 : end + 1],
        p2[down:end], p3[down:end], p2[down + 1 : end + 1], p3[down + 1 : end + 1],
    )  # fmt: skip


@njit(cache=True, inline="always")
def _correlate3x3(k, x00, x01, x02, x10, x11, x12, x20, x21, x22):
    """``sum(k[3i + j] * x_ij)``, the taps in row-major order: a 3x3 kernel ``k``
    (9 numbers, row-major) on one 3x3 window of pixels."""
    return (
        k[0] * x00 + k[1] * x01 + k[2] * x02
        + k[3] * x10 + k[4] * x11 + k[5] * x12
        + k[6] * x20 + k[7] * x21 + k[8] * x22
    )  # fmt: skip


@njit(cache=True, error_model="numpy", fastmath={"contract"})
def conv3x3_relu_max_pool2x2(x, weight, bias, padding, out, winner):
    """``max_pool2d(relu(conv2d(x, weight, bias, padding=padding)), 2)`` for one input
    channel: ``x: (N, H, W)`` (any strides), ``weight: (C, 3, 3)``, ``bias: (C,)``
    (zeros for none) -> ``out: (N, H_q, W_q, C)`` and ``winner: (N, C, H_q, W_q + 1)``
    (uint8; its last column is scratch), filled in place.

    Pooling follows :func:`max_pool_forward` with ``relu_first``: taps scanned
    row-major, a later one wins only if strictly greater, and a window with no positive
    maximum outputs 0 (NaN stays) with winner 4. Each convolution output is summed tap
    by tap in row-major order, then the bias added; multiply-adds may be fused.
    """
    n, hq, wq, c_out = out.shape
    width = wq + 1
    length = hq * width
    padded, phases = _phase_scratch(x, hq, wq, padding, out)
    pooled = np.empty((c_out, length), dtype=out.dtype)
    zero = np.zeros(1, dtype=out.dtype)[0]
    for b in range(n):
        (
            v00, v01, v02, v03, v10, v11, v12, v13,
            v20, v21, v22, v23, v30, v31, v32, v33,
        ) = _phase_views(x, b, padding, padded, phases, width)  # fmt: skip
        for o in range(c_out):
            kernel = weight[o]
            k = (
                kernel[0, 0], kernel[0, 1], kernel[0, 2],
                kernel[1, 0], kernel[1, 1], kernel[1, 2],
                kernel[2, 0], kernel[2, 1], kernel[2, 2],
            )  # fmt: skip
            bias_o = bias[o]
            best_of, won = pooled[o], winner[b, o].reshape(length)
            for p in range(length):
                x00, x01, x02, x03 = v00[p], v01[p], v02[p], v03[p]
                x10, x11, x12, x13 = v10[p], v11[p], v12[p], v13[p]
                x20, x21, x22, x23 = v20[p], v21[p], v22[p], v23[p]
                x30, x31, x32, x33 = v30[p], v31[p], v32[p], v33[p]
                # the window's four outputs: (a, b) = (0, 0), (0, 1), (1, 0), (1, 1)
                y0 = _correlate3x3(k, x00, x01, x02, x10, x11, x12, x20, x21, x22)
                y1 = _correlate3x3(k, x01, x02, x03, x11, x12, x13, x21, x22, x23)
                y2 = _correlate3x3(k, x10, x11, x12, x20, x21, x22, x30, x31, x32)
                y3 = _correlate3x3(k, x11, x12, x13, x21, x22, x23, x31, x32, x33)
                y0, y1, y2, y3 = y0 + bias_o, y1 + bias_o, y2 + bias_o, y3 + bias_o
                best, tap = y0, np.uint8(0)
                if y1 > best:
                    best, tap = y1, np.uint8(1)
                if y2 > best:
                    best, tap = y2, np.uint8(2)
                if y3 > best:
                    best, tap = y3, np.uint8(3)
                positive = best > 0
                best_of[p] = best if positive or np.isnan(best) else zero
                won[p] = tap if positive else np.uint8(4)
        # channels-last, as the next layer reads it
        for r in range(hq):
            for c in range(wq):
                target = out[b, r, c]
                for o in range(c_out):
                    target[o] = pooled[o, r * width + c]


@njit(cache=True, error_model="numpy", fastmath={"contract", "reassoc"})
def conv3x3_relu_max_pool2x2_backward(grad, winner, x, padding, sums):
    """The weight and bias gradients of :func:`conv3x3_relu_max_pool2x2`, added into
    ``sums: (C, 10)`` (float64; columns: the 3x3 taps row-major, then the bias), from
    ``grad: (N, H_q, W_q, C)`` (any strides), that forward's ``winner`` and ``x``.

    Each pooled gradient goes to its window's winner (none for winner 4, where the
    ReLU was 0): as a sum over positions, for each tap, of the gradient times the input
    that tap read. Summed in any order (``reassoc``), as BLAS sums; float64 across
    images.
    """
    n, hq, wq, c_out = grad.shape
    width = wq + 1
    length = hq * width
    padded, phases = _phase_scratch(x, hq, wq, padding, grad)
    # this channel's gradient, one row of `width` per pooled row: the scratch column
    # stays 0
    g_rows = np.zeros(length, dtype=grad.dtype)
    zero = np.zeros(1, dtype=grad.dtype)[0]
    for b in range(n):
        (
            v00, v01, v02, v03, v10, v11, v12, v13,
            v20, v21, v22, v23, v30, v31, v32, v33,
        ) = _phase_views(x, b, padding, padded, phases, width)  # fmt: skip
        for o in range(c_out):
            for r in range(hq):
                for c in range(wq):
                    g_rows[r * width + c] = grad[b, r, c, o]
            won = winner[b, o].reshape(length)
            s00 = s01 = s02 = s10 = s11 = s12 = s20 = s21 = s22 = s_bias = zero
            for p in range(length):
                g, tap = g_rows[p], won[p]
                g0 = g if tap == 0 else zero
                g1 = g if tap == 1 else zero
                g2 = g if tap == 2 else zero
                g3 = g if tap == 3 else zero
                x00, x01, x02, x03 = v00[p], v01[p], v02[p], v03[p]
                x10, x11, x12, x13 = v10[p], v11[p], v12[p], v13[p]
                x20, x21, x22, x23 = v20[p], v21[p], v22[p], v23[p]
                x30, x31, x32, x33 = v30[p], v31[p], v32[p], v33[p]
                s00 += g0 * x00 + g1 * x01 + g2 * x10 + g3 * x11
                s01 += g0 * x01 + g1 * x02 + g2 * x11 + g3 * x12
                s02 += g0 * x02 + g1 * x03 + g2 * x12 + g3 * x13
                s10 += g0 * x10 + g1 * x11 + g2 * x20 + g3 * x21
                s11 += g0 * x11 + g1 * x12 + g2 * x21 + g3 * x22
                s12 += g0 * x12 + g1 * x13 + g2 * x22 + g3 * x23
                s20 += g0 * x20 + g1 * x21 + g2 * x30 + g3 * x31
                s21 += g0 * x21 + g1 * x22 + g2 * x31 + g3 * x32
                s22 += g0 * x22 + g1 * x23 + g2 * x32 + g3 * x33
                s_bias += g0 + g1 + g2 + g3
            row = sums[o]
            row[0] += s00
            row[1] += s01
            row[2] += s02
            row[3] += s10
            row[4] += s11
            row[5] += s12
            row[6] += s20
            row[7] += s21
            row[8] += s22
            row[9] += s_bias
