"""Backward passes of the CNN ops, written as plain loops: the backpropagation chapter in code.

Every function here takes the upstream gradient ``grad_output`` (the derivative of the loss with
respect to the op's output) together with the op's *forward inputs*, and returns the derivative
of the loss with respect to each input. There is no cache: what a backward pass needs is exactly
what the forward pass saw, and passing it explicitly keeps each function readable beside the
formula it implements. The loops follow the forward loops of :mod:`cnnlib.naive` one to one:
wherever the forward pass *reads* an input, the backward pass *adds* into that input's gradient.

These functions are slow on purpose. They are the teaching version and a test oracle; the
vectorized backward passes live in :mod:`cnnlib.functional`.

Conventions are PyTorch's: NCHW tensors, conv weights ``(C_out, C_in, kh, kw)``, linear weights
``(out_features, in_features)``, padding per side, and the output size from
:func:`cnnlib.shapes.conv_output_size`.
"""

from __future__ import annotations

import numpy as np

from cnnlib.shapes import conv_output_size, pair

__all__ = [
    "conv2d_backward",
    "max_pool2d_backward",
    "avg_pool2d_backward",
    "relu_backward",
    "linear_backward",
    "softmax_cross_entropy",
    "softmax_cross_entropy_backward",
]


# --- argument checks -------------------------------------------------------------------------


def _array(value, name: str, ndim: int, layout: str) -> np.ndarray:
    """``value`` as an array of rank ``ndim``, else a ValueError naming ``name`` and its shape."""
    array = np.asarray(value)
    if array.ndim != ndim:
        raise ValueError(f"{name} must have {ndim} dimensions {layout}, got shape {array.shape}")
    return array


def _float_dtype(*arrays: np.ndarray) -> np.dtype:
    """The floating dtype the gradients are computed in: the inputs' own, or float64 for integers."""
    dtype = np.result_type(*arrays)
    return dtype if np.issubdtype(dtype, np.floating) else np.dtype(np.float64)


def _check_grad_output(grad_output: np.ndarray, expected_shape: tuple, what: str) -> None:
    if grad_output.shape != tuple(expected_shape):
        raise ValueError(
            f"grad_output has shape {grad_output.shape}, but the output of {what} has shape {tuple(expected_shape)}"
        )


def _check_pool_padding(kernel: tuple[int, int], padding: tuple[int, int]) -> None:
    # PyTorch's rule: a window must never lie entirely in the padding.
    for k, p, axis in zip(kernel, padding, ("height", "width")):
        if p > k // 2:
            raise ValueError(f"padding along {axis} must be at most half the kernel_size ({k} // 2 = {k // 2}), got {p}")


def _pad(x: np.ndarray, padding: tuple[int, int], value: float = 0.0) -> np.ndarray:
    ph, pw = padding
    return np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)), constant_values=value)


def _unpad(x_padded: np.ndarray, padding: tuple[int, int]) -> np.ndarray:
    ph, pw = padding
    height, width = x_padded.shape[2] - 2 * ph, x_padded.shape[3] - 2 * pw
    return x_padded[:, :, ph : ph + height, pw : pw + width].copy()


# --- convolution -----------------------------------------------------------------------------


def conv2d_backward(grad_output, x, weight, stride=1, padding=0, dilation=1):
    """Gradients of ``conv2d(x, weight, bias, stride, padding, dilation)`` (cross-correlation, like torch).

    The forward pass computes, for every sample ``n``, output channel ``o`` and position ``(i, j)``::

        out[n, o, i, j] = bias[o] + sum over c, a, b of
                          x_pad[n, c, i*sh + a*dh, j*sw + b*dw] * weight[o, c, a, b]

    so each upstream value ``g = grad_output[n, o, i, j]`` is added to ``grad_weight[o]`` times the
    input window it saw, to the input window's gradient times ``weight[o]``, and to ``grad_bias[o]``.
    With stride 1 this makes ``grad_weight`` a correlation of the input with ``grad_output`` and
    ``grad_x`` a full convolution of ``grad_output`` with the kernel (a correlation with the
    flipped kernel).

    Args:
        grad_output: ``(N, C_out, H_out, W_out)``, the loss gradient with respect to the output.
        x: ``(N, C_in, H, W)``, the forward input.
        weight: ``(C_out, C_in, kh, kw)``.
        stride, padding, dilation: ints or ``(h, w)`` pairs, as in the forward pass; padding is per side.

    Returns:
        ``(grad_x, grad_weight, grad_bias)`` with shapes ``(N, C_in, H, W)``,
        ``(C_out, C_in, kh, kw)`` and ``(C_out,)``. The gradient of the bias does not depend on
        whether the forward pass used one; ignore it if it did not.

    Raises:
        ValueError: wrong ranks, ``x`` and ``weight`` disagree on ``C_in``, a size argument is not a
            positive integer, the dilated kernel does not fit in the padded input, or
            ``grad_output`` does not have the forward output's shape.
    """
    x = _array(x, "x", 4, "(N, C_in, H, W)")
    weight = _array(weight, "weight", 4, "(C_out, C_in, kh, kw)")
    grad_output = _array(grad_output, "grad_output", 4, "(N, C_out, H_out, W_out)")
    batch, in_channels, height, width = x.shape
    out_channels, weight_in_channels, kh, kw = weight.shape
    if weight_in_channels != in_channels:
        raise ValueError(
            f"weight has shape {weight.shape}, so it expects {weight_in_channels} input channels, "
            f"but x has shape {x.shape} with {in_channels}"
        )
    sh, sw = pair(stride, "stride")
    ph, pw = pair(padding, "padding", allow_zero=True)
    dh, dw = pair(dilation, "dilation")
    h_out, w_out = conv_output_size((height, width), (kh, kw), (sh, sw), (ph, pw), (dh, dw))
    _check_grad_output(grad_output, (batch, out_channels, h_out, w_out), f"conv2d of x {x.shape} with weight {weight.shape}")

    dtype = _float_dtype(grad_output, x, weight)
    x_padded = _pad(x.astype(dtype, copy=False), (ph, pw))
    grad_x_padded = np.zeros_like(x_padded)
    grad_weight = np.zeros(weight.shape, dtype=dtype)
    for n in range(batch):
        for o in range(out_channels):
            for i in range(h_out):
                for j in range(w_out):
                    # The window of x_padded (all channels) that out[n, o, i, j] was computed from.
                    rows = slice(i * sh, i * sh + dh * (kh - 1) + 1, dh)
                    cols = slice(j * sw, j * sw + dw * (kw - 1) + 1, dw)
                    g = grad_output[n, o, i, j]
                    grad_weight[o] += g * x_padded[n, :, rows, cols]
                    grad_x_padded[n, :, rows, cols] += g * weight[o]
    grad_bias = grad_output.sum(axis=(0, 2, 3)).astype(dtype, copy=False)
    return _unpad(grad_x_padded, (ph, pw)), grad_weight, grad_bias


# --- pooling ---------------------------------------------------------------------------------


def _pool_setup(grad_output, x, kernel_size, stride, padding, what: str):
    x = _array(x, "x", 4, "(N, C, H, W)")
    grad_output = _array(grad_output, "grad_output", 4, "(N, C, H_out, W_out)")
    kernel = pair(kernel_size, "kernel_size")
    step = kernel if stride is None else pair(stride, "stride")
    pad = pair(padding, "padding", allow_zero=True)
    _check_pool_padding(kernel, pad)
    batch, channels, height, width = x.shape
    h_out, w_out = conv_output_size((height, width), kernel, step, pad)
    _check_grad_output(grad_output, (batch, channels, h_out, w_out), f"{what} of x {x.shape}")
    return x, grad_output, kernel, step, pad


def max_pool2d_backward(grad_output, x, kernel_size, stride=None, padding=0):
    """Gradient of ``max_pool2d(x, kernel_size, stride, padding)`` with respect to ``x``.

    Each output is one input value, the largest in its window, so its upstream gradient goes to
    that one input and nowhere else. When several inputs tie for the maximum, the gradient goes to
    the first of them in row-major order, as PyTorch does. Windows may overlap (stride smaller than
    the kernel); an input that wins several windows collects the sum of their gradients. Padding
    is ``-inf``, so it never wins.

    Args:
        grad_output: ``(N, C, H_out, W_out)``.
        x: ``(N, C, H, W)``, the forward input.
        kernel_size: int or ``(kh, kw)``.
        stride: int or ``(sh, sw)``; ``None`` means ``kernel_size`` (torch's default).
        padding: int or ``(ph, pw)`` per side, at most half the kernel size.

    Returns:
        ``grad_x``: ``(N, C, H, W)``.

    Raises:
        ValueError: wrong ranks, bad sizes, padding larger than half the kernel, a window that
            does not fit, or ``grad_output`` not of the forward output's shape.
    """
    x, grad_output, (kh, kw), (sh, sw), pad = _pool_setup(grad_output, x, kernel_size, stride, padding, "max_pool2d")
    dtype = _float_dtype(grad_output, x)
    x_padded = _pad(x.astype(dtype, copy=False), pad, value=-np.inf)
    grad_x_padded = np.zeros_like(x_padded)
    batch, channels, h_out, w_out = grad_output.shape
    for n in range(batch):
        for c in range(channels):
            for i in range(h_out):
                for j in range(w_out):
                    window = x_padded[n, c, i * sh : i * sh + kh, j * sw : j * sw + kw]
                    # argmax returns the first maximum in row-major order: torch's tie rule.
                    a, b = np.unravel_index(np.argmax(window), window.shape)
                    grad_x_padded[n, c, i * sh + a, j * sw + b] += grad_output[n, c, i, j]
    return _unpad(grad_x_padded, pad)


def avg_pool2d_backward(grad_output, x, kernel_size, stride=None, padding=0):
    """Gradient of ``avg_pool2d(x, kernel_size, stride, padding)`` with respect to ``x``.

    Each output is the mean of the ``kh * kw`` values in its window (padding zeros included, as
    torch's default ``count_include_pad=True``), so its upstream gradient is shared equally:
    every input in the window receives ``g / (kh * kw)``. Overlapping windows add up.

    Args:
        grad_output: ``(N, C, H_out, W_out)``.
        x: ``(N, C, H, W)``, the forward input (only its shape matters).
        kernel_size, stride, padding: as in :func:`max_pool2d_backward`.

    Returns:
        ``grad_x``: ``(N, C, H, W)``.

    Raises:
        ValueError: as :func:`max_pool2d_backward`.
    """
    x, grad_output, (kh, kw), (sh, sw), pad = _pool_setup(grad_output, x, kernel_size, stride, padding, "avg_pool2d")
    dtype = _float_dtype(grad_output, x)
    grad_x_padded = np.zeros(_pad(x, pad).shape, dtype=dtype)
    batch, channels, h_out, w_out = grad_output.shape
    for n in range(batch):
        for c in range(channels):
            for i in range(h_out):
                for j in range(w_out):
                    grad_x_padded[n, c, i * sh : i * sh + kh, j * sw : j * sw + kw] += grad_output[n, c, i, j] / (kh * kw)
    return _unpad(grad_x_padded, pad)


# --- activation and fully connected layer ------------------------------------------------------


def relu_backward(grad_output, x):
    """Gradient of ``relu(x) = max(x, 0)`` with respect to ``x``.

    The derivative is 1 where ``x > 0`` and 0 elsewhere; at exactly 0 we take 0, as PyTorch does.
    The op is elementwise, so the "loop" is NumPy's: ``grad_x = grad_output * (x > 0)``.

    Args:
        grad_output: any shape, the same as ``x``.
        x: the forward input.

    Returns:
        ``grad_x``: the shape of ``x``, a new array (``grad_output`` is not modified).
    """
    x = np.asarray(x)
    grad_output = np.asarray(grad_output)
    if grad_output.shape != x.shape:
        raise ValueError(f"grad_output has shape {grad_output.shape}, but x (and so relu's output) has shape {x.shape}")
    dtype = _float_dtype(grad_output, x)
    return np.where(x > 0, grad_output, 0).astype(dtype, copy=False)


def linear_backward(grad_output, x, weight):
    """Gradients of ``linear(x, weight, bias) = x @ weight.T + bias``.

    For one sample, ``out[o] = bias[o] + sum_k weight[o, k] * x[k]``, so ``d out[o] / d weight[o, k]
    = x[k]`` and ``d out[o] / d x[k] = weight[o, k]``. Summed over the batch::

        grad_weight = sum_n outer(grad_output[n], x[n])      # = grad_output.T @ x
        grad_x[n]   = weight.T @ grad_output[n]               # = grad_output @ weight
        grad_bias   = sum_n grad_output[n]

    Args:
        grad_output: ``(N, out_features)``.
        x: ``(N, in_features)``, the forward input.
        weight: ``(out_features, in_features)``.

    Returns:
        ``(grad_x, grad_weight, grad_bias)`` with shapes ``(N, in_features)``,
        ``(out_features, in_features)`` and ``(out_features,)``.

    Raises:
        ValueError: wrong ranks, ``x`` and ``weight`` disagree on ``in_features``, or
            ``grad_output`` is not ``(N, out_features)``.
    """
    x = _array(x, "x", 2, "(N, in_features)")
    weight = _array(weight, "weight", 2, "(out_features, in_features)")
    grad_output = _array(grad_output, "grad_output", 2, "(N, out_features)")
    if weight.shape[1] != x.shape[1]:
        raise ValueError(
            f"weight has shape {weight.shape}, so it expects {weight.shape[1]} input features, but x has shape {x.shape}"
        )
    _check_grad_output(grad_output, (x.shape[0], weight.shape[0]), f"linear of x {x.shape} with weight {weight.shape}")
    dtype = _float_dtype(grad_output, x, weight)
    grad_x = np.zeros(x.shape, dtype=dtype)
    grad_weight = np.zeros(weight.shape, dtype=dtype)
    for n in range(x.shape[0]):
        grad_weight += np.outer(grad_output[n], x[n])
        grad_x[n] = weight.T @ grad_output[n]
    grad_bias = grad_output.sum(axis=0).astype(dtype, copy=False)
    return grad_x, grad_weight, grad_bias


# --- the loss ----------------------------------------------------------------------------------


def _check_targets(logits, targets):
    logits = _array(logits, "logits", 2, "(N, num_classes)")
    targets = _array(targets, "targets", 1, "(N,)")
    if targets.shape[0] != logits.shape[0]:
        raise ValueError(f"targets has shape {targets.shape}, but logits has shape {logits.shape}: one target per row expected")
    if not np.issubdtype(targets.dtype, np.integer):
        raise ValueError(f"targets must be integer class indices, got dtype {targets.dtype}")
    num_classes = logits.shape[1]
    if targets.size and (targets.min() < 0 or targets.max() >= num_classes):
        raise ValueError(f"targets must lie in [0, {num_classes}) for logits of shape {logits.shape}, got values in [{targets.min()}, {targets.max()}]")
    return logits, targets


def softmax_cross_entropy(logits, targets):
    """Mean cross-entropy of ``softmax(logits)`` against integer targets (torch's ``F.cross_entropy``).

    ``loss = mean_n( logsumexp(logits[n]) - logits[n, targets[n]] )``, computed with the largest
    logit subtracted first so that ``exp`` cannot overflow.

    Args:
        logits: ``(N, num_classes)``.
        targets: ``(N,)`` integers in ``[0, num_classes)``.

    Returns:
        the loss, a Python ``float``.
    """
    logits, targets = _check_targets(logits, targets)
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_normalizer = np.log(np.exp(shifted).sum(axis=1))
    return float(np.mean(log_normalizer - shifted[np.arange(len(targets)), targets]))


def softmax_cross_entropy_backward(logits, targets):
    """Gradient of :func:`softmax_cross_entropy` (the mean over the batch) with respect to ``logits``.

    For one sample with probabilities ``p = softmax(logits[n])`` and target ``t``, the derivative
    of ``-log p[t]`` is ``p - onehot(t)``; the mean over ``N`` samples divides by ``N``.

    Args:
        logits: ``(N, num_classes)``.
        targets: ``(N,)`` integers in ``[0, num_classes)``.

    Returns:
        ``grad_logits``: ``(N, num_classes)``.
    """
    logits, targets = _check_targets(logits, targets)
    dtype = _float_dtype(logits)
    batch = logits.shape[0]
    grad_logits = np.zeros(logits.shape, dtype=dtype)
    for n in range(batch):
        exp = np.exp(logits[n] - logits[n].max())
        probabilities = exp / exp.sum()
        probabilities[targets[n]] -= 1.0
        grad_logits[n] = probabilities / batch
    return grad_logits
