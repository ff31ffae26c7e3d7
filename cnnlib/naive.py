"""What a CNN computes, written as plain loops you can follow line by line.

Every function here mirrors the function of the same name in ``torch.nn.functional``:
same arguments, same defaults, NCHW layout, weights ``(C_out, C_in, kh, kw)``. They are the
teaching code of Part I of the course and the *test oracle* for the vectorized library: slow
on purpose, short and obviously right.

Conventions shared by all functions:

* ``stride``, ``padding``, ``dilation`` and ``kernel_size`` are an int or an ``(h, w)`` pair.
  ``padding`` is the number of positions added on **each** side (PyTorch's convention).
* Output sizes come from :func:`cnnlib.shapes.conv_output_size`, the one formula of the course.
* A floating-point input keeps its dtype (float32 stays float32); integer input is computed in float64.
  Weights and biases are cast to the dtype of ``x``.
* Inputs are never modified.
* Bad input (wrong rank, channel mismatch, a kernel that does not fit in the padded input,
  a stride of 0, a size that is not an integer, ...) raises ``ValueError`` naming the argument
  and the shapes involved.
"""

from __future__ import annotations

import numpy as np

from cnnlib.shapes import conv_output_size, pair

__all__ = [
    "correlate2d",
    "conv2d",
    "max_pool2d",
    "max_pool2d_with_indices",
    "avg_pool2d",
    "relu",
    "sigmoid",
    "tanh",
    "linear",
    "softmax",
    "flatten",
]


# ----------------------------------------------------------------------------------------------
# Input checks: turn every bad input into one readable ValueError before any arithmetic happens.
# ----------------------------------------------------------------------------------------------


def _as_real_array(value, name: str) -> np.ndarray:
    """``value`` as a NumPy array of real numbers (bool, complex and object arrays are refused)."""
    array = np.asarray(value)
    if array.dtype == np.bool_ or not (np.issubdtype(array.dtype, np.integer) or np.issubdtype(array.dtype, np.floating)):
        raise ValueError(f"{name} must hold real numbers (integer or float), got dtype {array.dtype} with shape {array.shape}")
    return array


def _compute_dtype(x: np.ndarray) -> np.dtype:
    """float32/float64 input keeps its dtype; anything else is computed in float64."""
    return x.dtype if np.issubdtype(x.dtype, np.floating) else np.dtype(np.float64)


def _check_rank(array: np.ndarray, name: str, ndim: int, layout: str) -> None:
    if array.ndim != ndim:
        raise ValueError(f"{name} must be {ndim}-D {layout}, got {array.ndim}-D array of shape {array.shape}")
    if array.size == 0:
        raise ValueError(f"{name} must not be empty, got shape {array.shape}")


def _output_size(function, x_shape, kernel, stride, padding, dilation, kernel_name, kernel_shape, x_name="x"):
    """``conv_output_size`` with the caller's names and shapes added to its error message."""
    try:
        return conv_output_size(tuple(x_shape[-2:]), kernel, stride, padding, dilation)
    except ValueError as error:
        raise ValueError(
            f"{function}: {kernel_name} {kernel_shape} does not fit in {x_name} of shape {tuple(x_shape)} "
            f"with padding {padding} per side, stride {stride}, dilation {dilation}: {error}"
        ) from error


def _check_pool_padding(function: str, kernel: tuple[int, int], padding: tuple[int, int]) -> None:
    # PyTorch refuses padding larger than half the window: such a window could lie entirely in the padding.
    if padding[0] > kernel[0] // 2 or padding[1] > kernel[1] // 2:
        raise ValueError(
            f"{function}: padding {padding} must be at most half of kernel_size {kernel} "
            f"(padding <= kernel_size // 2 along each axis), as in PyTorch"
        )


def _pad(x: np.ndarray, padding: tuple[int, int], value: float) -> np.ndarray:
    """Pad the last two axes of ``x`` (N, C, H, W) by ``padding = (ph, pw)`` on each side with ``value``."""
    ph, pw = padding
    return np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)), mode="constant", constant_values=value)


# ----------------------------------------------------------------------------------------------
# Convolution
# ----------------------------------------------------------------------------------------------


def correlate2d(image, kernel):
    """Cross-correlate one 2-D image with one 2-D kernel, no padding ("valid"), stride 1.

    This is what deep learning calls a convolution: the kernel is *not* flipped::

        out[i, j] = sum over u, v of image[i + u, j + v] * kernel[u, v]

    Args:
        image: ``(H, W)``, one channel.
        kernel: ``(kh, kw)`` with ``kh <= H`` and ``kw <= W``.

    Returns:
        ``(H - kh + 1, W - kw + 1)``, in the dtype of ``image`` (float64 for integer images).

    Raises:
        ValueError: ``image`` or ``kernel`` is not 2-D, or the kernel is larger than the image.
    """
    image = _as_real_array(image, "image")
    kernel = _as_real_array(kernel, "kernel")
    _check_rank(image, "image", 2, "(H, W)")
    _check_rank(kernel, "kernel", 2, "(kh, kw)")
    dtype = _compute_dtype(image)
    image, kernel = image.astype(dtype, copy=False), kernel.astype(dtype, copy=False)
    kh, kw = kernel.shape
    h_out, w_out = _output_size("correlate2d", image.shape, (kh, kw), 1, 0, 1, "kernel of shape", kernel.shape, "image")

    out = np.zeros((h_out, w_out), dtype=dtype)
    for i in range(h_out):
        for j in range(w_out):
            window = image[i : i + kh, j : j + kw]  # the kh x kw patch under the kernel
            out[i, j] = np.sum(window * kernel)
    return out


def conv2d(x, weight, bias=None, stride=1, padding=0, dilation=1):
    """2-D convolution (cross-correlation) of a batch, like ``torch.nn.functional.conv2d``.

    Each of the ``C_out`` filters spans *all* ``C_in`` input channels and produces one feature map::

        out[n, o, i, j] = bias[o] + sum over c, u, v of
                          x_padded[n, c, i * sh + u * dh, j * sw + v * dw] * weight[o, c, u, v]

    Args:
        x: ``(N, C_in, H, W)``.
        weight: ``(C_out, C_in, kh, kw)``, PyTorch's layout.
        bias: ``(C_out,)`` or ``None``.
        stride: ``s`` or ``(sh, sw)``, > 0.
        padding: ``p`` or ``(ph, pw)`` zeros added on each side, >= 0.
        dilation: ``d`` or ``(dh, dw)``, spacing between kernel taps, > 0.

    Returns:
        ``(N, C_out, H_out, W_out)`` with ``H_out, W_out = conv_output_size((H, W), (kh, kw), stride, padding, dilation)``,
        in the dtype of ``x`` (float64 for integer ``x``).

    Raises:
        ValueError: wrong rank, ``weight.shape[1] != C_in``, ``bias`` not ``(C_out,)``, bad
            stride/padding/dilation, or a (dilated) kernel larger than the padded input.
    """
    x = _as_real_array(x, "x")
    weight = _as_real_array(weight, "weight")
    _check_rank(x, "x", 4, "(N, C_in, H, W)")
    _check_rank(weight, "weight", 4, "(C_out, C_in, kh, kw)")
    n_batch, c_in, _, _ = x.shape
    c_out, w_c_in, kh, kw = weight.shape
    if w_c_in != c_in:
        raise ValueError(
            f"conv2d: weight of shape {weight.shape} expects C_in = {w_c_in} input channels, "
            f"but x of shape {x.shape} has {c_in}"
        )
    if bias is not None:
        bias = _as_real_array(bias, "bias")
        if bias.shape != (c_out,):
            raise ValueError(f"conv2d: bias must have shape (C_out,) = ({c_out},) for weight of shape {weight.shape}, got {bias.shape}")
    sh, sw = pair(stride, "stride")
    ph, pw = pair(padding, "padding", allow_zero=True)
    dh, dw = pair(dilation, "dilation")
    h_out, w_out = _output_size(
        "conv2d", x.shape, (kh, kw), (sh, sw), (ph, pw), (dh, dw), "weight of shape", weight.shape
    )

    dtype = _compute_dtype(x)
    x_padded = _pad(x.astype(dtype, copy=False), (ph, pw), 0.0)
    weight = weight.astype(dtype, copy=False)
    span_h, span_w = dh * (kh - 1) + 1, dw * (kw - 1) + 1  # input positions one dilated kernel covers

    out = np.zeros((n_batch, c_out, h_out, w_out), dtype=dtype)
    for n in range(n_batch):
        for o in range(c_out):
            for i in range(h_out):
                for j in range(w_out):
                    top, left = i * sh, j * sw
                    # All C_in channels at once; the step of the slice skips the positions a dilation jumps over.
                    window = x_padded[n, :, top : top + span_h : dh, left : left + span_w : dw]
                    out[n, o, i, j] = np.sum(window * weight[o])
            if bias is not None:
                out[n, o] += dtype.type(bias[o])
    return out


# ----------------------------------------------------------------------------------------------
# Pooling
# ----------------------------------------------------------------------------------------------


def _pool_arguments(function: str, x, kernel_size, stride, padding):
    """Check the arguments shared by the pooling functions; return them normalised."""
    x = _as_real_array(x, "x")
    _check_rank(x, "x", 4, "(N, C, H, W)")
    kernel = pair(kernel_size, "kernel_size")
    strides = kernel if stride is None else pair(stride, "stride")  # PyTorch: stride defaults to the window size
    pads = pair(padding, "padding", allow_zero=True)
    _check_pool_padding(function, kernel, pads)
    out_size = _output_size(function, x.shape, kernel, strides, pads, 1, "kernel_size", kernel)
    return x, kernel, strides, pads, out_size


def max_pool2d_with_indices(x, kernel_size, stride=None, padding=0):
    """Max pooling that also says *which* input won each window, like ``F.max_pool2d(..., return_indices=True)``.

    Ties: when several inputs of a window share the maximum, the **first one in row-major
    window order** (top row first, left to right) wins, as in PyTorch. Only that input receives
    the gradient in the backward pass.

    Args:
        x: ``(N, C, H, W)``.
        kernel_size: ``k`` or ``(kh, kw)``.
        stride: ``s`` or ``(sh, sw)``; ``None`` (default) means ``kernel_size``.
        padding: ``p`` or ``(ph, pw)`` per side, at most ``kernel_size // 2``; padded positions
            hold ``-inf``, so they never win.

    Returns:
        ``(out, indices)``, both ``(N, C, H_out, W_out)``: ``out`` in the dtype of ``x``
        (float64 for integer ``x``), ``indices`` int64 positions ``row * W + col`` in the
        *unpadded* ``H x W`` input plane (PyTorch's format).
    """
    x, (kh, kw), (sh, sw), (ph, pw), (h_out, w_out) = _pool_arguments("max_pool2d", x, kernel_size, stride, padding)
    dtype = _compute_dtype(x)
    n_batch, channels, _, width = x.shape
    x_padded = _pad(x.astype(dtype, copy=False), (ph, pw), -np.inf)

    out = np.zeros((n_batch, channels, h_out, w_out), dtype=dtype)
    indices = np.zeros((n_batch, channels, h_out, w_out), dtype=np.int64)
    for n in range(n_batch):
        for c in range(channels):
            for i in range(h_out):
                for j in range(w_out):
                    top, left = i * sh, j * sw
                    window = x_padded[n, c, top : top + kh, left : left + kw]
                    u, v = np.unravel_index(np.argmax(window), window.shape)  # argmax: first maximum wins
                    out[n, c, i, j] = window[u, v]
                    row, col = top + u - ph, left + v - pw  # back to unpadded coordinates
                    indices[n, c, i, j] = row * width + col
    return out, indices


def max_pool2d(x, kernel_size, stride=None, padding=0):
    """Max pooling, like ``torch.nn.functional.max_pool2d`` (``dilation=1``, ``ceil_mode=False``).

    Args:
        x: ``(N, C, H, W)``.
        kernel_size: ``k`` or ``(kh, kw)``.
        stride: ``s`` or ``(sh, sw)``; ``None`` (default) means ``kernel_size``.
        padding: ``p`` or ``(ph, pw)`` per side, at most ``kernel_size // 2``, filled with ``-inf``.

    Returns:
        ``(N, C, H_out, W_out)`` with ``H_out, W_out = conv_output_size((H, W), kernel_size, stride, padding)``,
        in the dtype of ``x``. See :func:`max_pool2d_with_indices` for which input wins a tie.
    """
    out, _ = max_pool2d_with_indices(x, kernel_size, stride, padding)
    return out


def avg_pool2d(x, kernel_size, stride=None, padding=0):
    """Average pooling, like ``torch.nn.functional.avg_pool2d`` with its defaults.

    Padded zeros count in the average (PyTorch's ``count_include_pad=True``): every window is
    divided by ``kh * kw``, even at the border.

    Args:
        x: ``(N, C, H, W)``.
        kernel_size: ``k`` or ``(kh, kw)``.
        stride: ``s`` or ``(sh, sw)``; ``None`` (default) means ``kernel_size``.
        padding: ``p`` or ``(ph, pw)`` zeros per side, at most ``kernel_size // 2``.

    Returns:
        ``(N, C, H_out, W_out)`` with ``H_out, W_out = conv_output_size((H, W), kernel_size, stride, padding)``,
        in the dtype of ``x`` (float64 for integer ``x``).
    """
    x, (kh, kw), (sh, sw), (ph, pw), (h_out, w_out) = _pool_arguments("avg_pool2d", x, kernel_size, stride, padding)
    dtype = _compute_dtype(x)
    n_batch, channels, _, _ = x.shape
    x_padded = _pad(x.astype(dtype, copy=False), (ph, pw), 0.0)

    out = np.zeros((n_batch, channels, h_out, w_out), dtype=dtype)
    for n in range(n_batch):
        for c in range(channels):
            for i in range(h_out):
                for j in range(w_out):
                    top, left = i * sh, j * sw
                    window = x_padded[n, c, top : top + kh, left : left + kw]
                    out[n, c, i, j] = np.sum(window) / (kh * kw)
    return out


# ----------------------------------------------------------------------------------------------
# Activations, fully connected layer, softmax, flatten
# ----------------------------------------------------------------------------------------------


def _elementwise_input(x, name: str = "x") -> np.ndarray:
    x = _as_real_array(x, name)
    return x.astype(_compute_dtype(x), copy=False)


def relu(x):
    """Rectified linear unit, ``max(x, 0)`` element by element.

    Args:
        x: any shape.

    Returns:
        same shape, in the dtype of ``x`` (float64 for integer ``x``); a new array.
    """
    return np.maximum(_elementwise_input(x), 0)  # a NaN stays NaN, as in PyTorch


def sigmoid(x):
    """Logistic sigmoid ``1 / (1 + exp(-x))``, element by element, without overflow.

    For ``x < 0`` it uses the equal form ``exp(x) / (1 + exp(x))``, so ``exp`` never sees a
    large positive argument.

    Args:
        x: any shape.

    Returns:
        same shape, values in ``[0, 1]``, in the dtype of ``x`` (float64 for integer ``x``).
    """
    x = _elementwise_input(x)
    exp_neg_abs = np.exp(-np.abs(x))  # in (0, 1], never overflows
    return np.where(x >= 0, 1 / (1 + exp_neg_abs), exp_neg_abs / (1 + exp_neg_abs)).astype(x.dtype, copy=False)


def tanh(x):
    """Hyperbolic tangent, element by element (``np.tanh``), values in ``[-1, 1]``.

    Args:
        x: any shape.

    Returns:
        same shape, in the dtype of ``x`` (float64 for integer ``x``).
    """
    return np.tanh(_elementwise_input(x))


def linear(x, weight, bias=None):
    """Fully connected layer ``x @ weight.T + bias``, like ``torch.nn.functional.linear``.

    Args:
        x: ``(N, in_features)``.
        weight: ``(out_features, in_features)``, PyTorch's layout.
        bias: ``(out_features,)`` or ``None``.

    Returns:
        ``(N, out_features)`` in the dtype of ``x`` (float64 for integer ``x``)::

            out[n, o] = bias[o] + sum over k of x[n, k] * weight[o, k]

    Raises:
        ValueError: wrong rank, ``weight.shape[1] != in_features``, or ``bias`` not ``(out_features,)``.
    """
    x = _as_real_array(x, "x")
    weight = _as_real_array(weight, "weight")
    _check_rank(x, "x", 2, "(N, in_features)")
    _check_rank(weight, "weight", 2, "(out_features, in_features)")
    n_batch, in_features = x.shape
    out_features = weight.shape[0]
    if weight.shape[1] != in_features:
        raise ValueError(
            f"linear: weight of shape {weight.shape} expects in_features = {weight.shape[1]}, "
            f"but x of shape {x.shape} has {in_features}"
        )
    if bias is not None:
        bias = _as_real_array(bias, "bias")
        if bias.shape != (out_features,):
            raise ValueError(
                f"linear: bias must have shape (out_features,) = ({out_features},) for weight of shape {weight.shape}, got {bias.shape}"
            )
    dtype = _compute_dtype(x)
    x, weight = x.astype(dtype, copy=False), weight.astype(dtype, copy=False)

    out = np.zeros((n_batch, out_features), dtype=dtype)
    for n in range(n_batch):
        for o in range(out_features):
            out[n, o] = np.sum(x[n] * weight[o])  # one neuron: a dot product of its weights with the whole input
            if bias is not None:
                out[n, o] += dtype.type(bias[o])
    return out


def softmax(logits):
    """Softmax along the last axis: ``exp(z) / sum(exp(z))``, computed without overflow.

    Subtracting each row's maximum first leaves the result unchanged (the factor ``exp(-max)``
    cancels) but keeps every ``exp`` argument <= 0, so ``exp`` never overflows.

    Args:
        logits: ``(..., K)``, at least 1-D, e.g. ``(N, 10)`` scores for 10 classes.

    Returns:
        same shape, each row non-negative and summing to 1, in the dtype of ``logits``
        (float64 for integer ``logits``).
    """
    logits = _as_real_array(logits, "logits")
    if logits.ndim < 1 or logits.shape[-1] == 0:
        raise ValueError(f"logits must be at least 1-D with a non-empty last axis (..., K), got shape {logits.shape}")
    logits = logits.astype(_compute_dtype(logits), copy=False)
    shifted = logits - logits.max(axis=-1, keepdims=True)
    exps = np.exp(shifted)
    return exps / exps.sum(axis=-1, keepdims=True)


def flatten(x):
    """Flatten every axis but the first, like ``torch.flatten(x, 1)`` or ``nn.Flatten()``.

    Args:
        x: ``(N, C, H, W)`` (any array with at least 2 axes).

    Returns:
        ``(N, C * H * W)``, a new array (not a view), in C order: channel by channel, row by row.
    """
    x = _as_real_array(x, "x")
    if x.ndim < 2:
        raise ValueError(f"x must have at least 2 axes (N, ...), e.g. (N, C, H, W), got shape {x.shape}")
    return x.reshape(x.shape[0], -1).copy()
