"""Argument checks for the whole library: bad input becomes one readable ``ValueError``.

Every op (the loops of Part I, the readable vectorized ops, the tuned kernels and the
layers) checks its arguments with **one** call into this module before any arithmetic,
so the arithmetic reads on its own and every op refuses bad input with the same words.
Each message names the argument and the shapes involved, so a learner sees *which*
array is wrong instead of a NumPy broadcasting traceback three calls deeper.

Two strictnesses:

* :func:`real_array` (the loops of Part I): anything NumPy can read as real numbers,
  lists and integer arrays included; integers are computed in float64.
* :func:`float_array` (the vectorized ops): a float32 or float64 ``ndarray``, as torch
  wants a float tensor; mixing float32 and float64 is refused.
"""

from __future__ import annotations

import numbers

import numpy as np

__all__ = [
    "positive_int", "pair", "real_array", "float_array", "same_dtype",
    "conv2d_args", "pool2d_args", "linear_args", "targets_for", "grad_output_like",
    "any_float_array", "image_and_kernel", "probability", "batch_norm_args",
    "batch_norm_input", "image_shape",
]  # fmt: skip


def positive_int(value, name: str, *, allow_zero: bool = False) -> int:
    """``value`` as an ``int`` if it is a whole number > 0 (>= 0 with ``allow_zero``).

    Booleans and floats are refused, even ``3.0``: a size that is not an integer is
    always a bug upstream, and hiding it would move the crash somewhere harder to read.
    """
    # A plain int skips the test against the abstract class, which costs more than
    # the rest of the check (ops check several of these on every call).
    if type(value) is not int:
        if isinstance(value, bool) or not isinstance(value, numbers.Integral):
            kind = type(value).__name__
            raise ValueError(f"{name} must be an integer, got {value!r} of type {kind}")
        value = int(value)
    lowest = 0 if allow_zero else 1
    if value < lowest:
        bound = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"{name} must be {bound}, got {value}")
    return value


def pair(value, name: str, *, allow_zero: bool = False) -> tuple[int, int]:
    """An int or an ``(h, w)`` pair as checked ints: ``pair(3, "k") == (3, 3)``."""
    if isinstance(value, (tuple, list)):
        if len(value) != 2:
            raise ValueError(
                f"{name} must be an int or a pair (h, w), got {value!r} "
                f"with {len(value)} entries"
            )
        return (
            positive_int(value[0], f"{name}[0]", allow_zero=allow_zero),
            positive_int(value[1], f"{name}[1]", allow_zero=allow_zero),
        )
    checked = positive_int(value, name, allow_zero=allow_zero)
    return (checked, checked)


def _check_rank(array: np.ndarray, name: str, ndim: int | None, layout: str) -> None:
    if ndim is not None and array.ndim != ndim:
        raise ValueError(
            f"{name} must have {ndim} dimensions {layout}, got shape {array.shape}"
        )
    if array.size == 0:
        raise ValueError(f"{name} must not be empty, got shape {array.shape}")


def real_array(
    value, name: str, ndim: int | None, layout: str = "", *, min_ndim: int = 0
) -> np.ndarray:
    """``value`` as a float array of rank ``ndim`` (``None``: any rank of at least
    ``min_ndim``).

    Lists and integer arrays are accepted and computed in float64; float32 stays
    float32. Booleans, complex numbers and objects are refused.
    """
    array = np.asarray(value)
    if array.dtype == np.bool_ or not (
        np.issubdtype(array.dtype, np.integer)
        or np.issubdtype(array.dtype, np.floating)
    ):
        raise ValueError(
            f"{name} must hold real numbers (integer or float), got dtype "
            f"{array.dtype} with shape {array.shape}"
        )
    _check_rank(array, name, ndim, layout)
    if array.ndim < min_ndim:
        raise ValueError(
            f"{name} must have at least {min_ndim} dimensions {layout}, "
            f"got shape {array.shape}"
        )
    if not np.issubdtype(array.dtype, np.floating):
        array = array.astype(np.float64)
    return array


def float_array(value, name: str, ndim: int | None, layout: str = "") -> np.ndarray:
    """``value`` itself if it is a non-empty float32/float64 array of rank ``ndim``."""
    if not isinstance(value, np.ndarray):
        raise ValueError(
            f"{name} must be a NumPy array of shape {layout or '(any shape)'}, "
            f"got {type(value).__name__}"
        )
    if not np.issubdtype(value.dtype, np.floating):
        raise ValueError(
            f"{name} must be float32 or float64, got dtype {value.dtype} "
            f"(shape {value.shape})"
        )
    _check_rank(value, name, ndim, layout)
    return value


def any_float_array(value, name: str = "x") -> np.ndarray:
    """:func:`float_array` of any rank (element-wise ops)."""
    return float_array(value, name, None)


def same_dtype(reference, reference_name: str, other, other_name: str) -> None:
    """Refuse to mix float32 and float64 silently (torch refuses too)."""
    if other.dtype != reference.dtype:
        raise ValueError(
            f"{other_name} has dtype {other.dtype} (shape {other.shape}) but "
            f"{reference_name} has dtype {reference.dtype} (shape {reference.shape}); "
            f"convert one with .astype()"
        )


def _vector(bias, length: int, weight, *, strict: bool):
    """``bias`` (``None`` or ``(out,)`` matching ``weight.shape[0]``), checked."""
    if bias is None:
        return None
    bias = (float_array if strict else real_array)(bias, "bias", None, "(out,)")
    if bias.shape != (length,):
        raise ValueError(
            f"bias must have shape ({length},) to match weight of shape "
            f"{weight.shape}, got {bias.shape}"
        )
    if strict:
        same_dtype(weight, "weight", bias, "bias")
    return bias.astype(weight.dtype, copy=False)


def _input_weight_bias(x, weight, bias, layouts, *, strict):
    """``x``, ``weight`` and ``bias`` of a layer whose axis 1 of ``x`` and ``weight``
    must agree; ``layouts`` = (x's, weight's, the name of axis 1)."""
    x_layout, weight_layout, axis_name = layouts
    array = float_array if strict else real_array
    x = array(x, "x", x_layout.count(",") + 1, x_layout)
    weight = array(weight, "weight", weight_layout.count(",") + 1, weight_layout)
    if strict:
        same_dtype(x, "x", weight, "weight")
    weight = weight.astype(x.dtype, copy=False)
    if x.shape[1] != weight.shape[1]:
        raise ValueError(
            f"x has {x.shape[1]} {axis_name} (shape {x.shape}) but weight expects "
            f"{weight.shape[1]} (shape {weight.shape})"
        )
    return x, weight, _vector(bias, weight.shape[0], weight, strict=strict)


def _output_size(op, x_shape, kernel, stride, padding, dilation, what):
    from .shapes import conv_output_size  # shapes uses pair() from here

    try:
        return conv_output_size(tuple(x_shape[-2:]), kernel, stride, padding, dilation)
    except ValueError as error:
        raise ValueError(
            f"{op}: {what} does not fit in x of shape {tuple(x_shape)} with padding "
            f"{padding} per side, stride {stride}, dilation {dilation}: {error}"
        ) from error


def conv2d_args(x, weight, bias, stride, padding, dilation, *, strict=True):
    """Check a convolution's arguments; returns them normalised.

    ``x: (N, C_in, H, W)``, ``weight: (C_out, C_in, kh, kw)``, ``bias: (C_out,)`` or
    ``None``. Returns ``(x, weight, bias, stride, padding, dilation, (H_out, W_out))``
    with ``stride``, ``padding``, ``dilation`` as ``(h, w)`` pairs. ``strict=False``
    (the loops) also takes lists and integers, and casts weight and bias to ``x``'s
    dtype.
    """
    layouts = ("(N, C_in, H, W)", "(C_out, C_in, kh, kw)", "channels")
    x, weight, bias = _input_weight_bias(x, weight, bias, layouts, strict=strict)
    stride, dilation = pair(stride, "stride"), pair(dilation, "dilation")
    padding = pair(padding, "padding", allow_zero=True)
    kernel = weight.shape[2:]
    what = f"weight of shape {weight.shape}"
    out_hw = _output_size("conv2d", x.shape, kernel, stride, padding, dilation, what)
    return x, weight, bias, stride, padding, dilation, out_hw


def pool2d_args(x, kernel_size, stride, padding, dilation, op: str, *, strict=True):
    """Check a pooling op's arguments (torch's rules); returns them normalised.

    ``x: (N, C, H, W)``; ``stride=None`` means ``kernel_size``; padding may be at most
    half the kernel (else a window could lie entirely in the padding; torch refuses
    it too). Returns ``(x, kernel_size, stride, padding, dilation, (H_out, W_out))``.
    """
    x = (float_array if strict else real_array)(x, "x", 4, "(N, C, H, W)")
    kernel_size = pair(kernel_size, "kernel_size")
    stride = kernel_size if stride is None else pair(stride, "stride")
    padding = pair(padding, "padding", allow_zero=True)
    dilation = pair(dilation, "dilation")
    for axis, k, p in zip(("height", "width"), kernel_size, padding):
        if 2 * p > k:
            raise ValueError(
                f"{op}: padding along {axis} is {p} but may be at most half the "
                f"kernel size {k} (kernel_size={kernel_size}, padding={padding})"
            )
    what = f"kernel_size {kernel_size}"
    out_hw = _output_size(op, x.shape, kernel_size, stride, padding, dilation, what)
    return x, kernel_size, stride, padding, dilation, out_hw


def linear_args(x, weight, bias, *, strict=True):
    """``x: (N, in)``, ``weight: (out, in)``, ``bias: (out,)`` or ``None``, checked.

    Returns ``(x, weight, bias)``.
    """
    layouts = ("(N, in_features)", "(out_features, in_features)", "features")
    return _input_weight_bias(x, weight, bias, layouts, strict=strict)


def targets_for(logits, targets, *, strict=True):
    """``logits: (N, classes)`` and integer ``targets: (N,)`` in ``[0, classes)``.

    Returns ``(logits, targets)``.
    """
    logits = (float_array if strict else real_array)(
        logits, "logits", 2, "(N, classes)"
    )
    targets = np.asarray(targets)
    if targets.ndim != 1 or not np.issubdtype(targets.dtype, np.integer):
        raise ValueError(
            f"targets must be a 1-D integer array (N,) of class indices, got dtype "
            f"{targets.dtype} with shape {targets.shape}"
        )
    if targets.shape[0] != logits.shape[0]:
        raise ValueError(
            f"targets has {targets.shape[0]} entries (shape {targets.shape}) but "
            f"logits has {logits.shape[0]} rows (shape {logits.shape})"
        )
    if targets.min() < 0 or targets.max() >= logits.shape[1]:
        raise ValueError(
            f"targets must lie in [0, {logits.shape[1]}) for logits of shape "
            f"{logits.shape}, got values from {targets.min()} to {targets.max()}"
        )
    return logits, targets


def grad_output_like(grad_output, expected_shape, *, strict=True) -> np.ndarray:
    """``grad_output`` checked to have the forward output's shape ``expected_shape``."""
    expected_shape = tuple(expected_shape)
    array = float_array if strict else real_array
    grad_output = array(
        grad_output, "grad_output", len(expected_shape), str(expected_shape)
    )
    if grad_output.shape != expected_shape:
        raise ValueError(
            f"grad_output must have the output's shape {expected_shape}, "
            f"got {grad_output.shape}"
        )
    return grad_output


def image_and_kernel(image, kernel):
    """One channel ``image: (H, W)`` and ``kernel: (kh, kw)`` that fits in it.

    Returns both as float arrays in ``image``'s float dtype (float64 for integers).
    """
    image = real_array(image, "image", 2, "(H, W)")
    kernel = real_array(kernel, "kernel", 2, "(kh, kw)").astype(image.dtype, copy=False)
    if kernel.shape[0] > image.shape[0] or kernel.shape[1] > image.shape[1]:
        raise ValueError(
            f"correlate2d: kernel of shape {kernel.shape} does not fit in image of "
            f"shape {image.shape}"
        )
    return image, kernel


def probability(value, name: str) -> float:
    """``value`` as a ``float`` if it is a real number in ``[0, 1]`` (dropout's ``p``,
    batch norm's ``momentum``)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        kind = type(value).__name__
        raise ValueError(f"{name} must be a number in [0, 1], got {value!r} ({kind})")
    if not 0 <= value <= 1:
        raise ValueError(f"{name} must lie in [0, 1], got {value}")
    return float(value)


def _channel_vector(value, name: str, x) -> np.ndarray | None:
    """``None``, or a float ``(C,)`` array of ``x``'s dtype, C being ``x.shape[1]``."""
    if value is None:
        return None
    value = float_array(value, name, 1, "(C,)")
    same_dtype(x, "x", value, name)
    if value.shape[0] != x.shape[1]:
        raise ValueError(
            f"{name} must have shape ({x.shape[1]},) for x of shape {x.shape} "
            f"({x.shape[1]} channels), got {value.shape}"
        )
    return value


def batch_norm_args(
    x, running_mean, running_var, weight, bias, training, momentum, eps
):
    """Check batch norm's arguments (torch's ``F.batch_norm``); returns them checked.

    ``x: (N, C)``, ``(N, C, L)`` or ``(N, C, H, W)``; the four vectors ``None`` or
    ``(C,)`` in ``x``'s dtype; running statistics are required outside training, and
    training needs more than one value per channel (the variance of one number is 0).
    """
    x = float_array(x, "x", None, "(N, C), (N, C, L) or (N, C, H, W)")
    if x.ndim not in (2, 3, 4):
        raise ValueError(
            f"batch_norm expects x of shape (N, C), (N, C, L) or (N, C, H, W), "
            f"got shape {x.shape}"
        )
    names = ("running_mean", "running_var", "weight", "bias")
    values = (running_mean, running_var, weight, bias)
    vectors = [_channel_vector(v, name, x) for v, name in zip(values, names)]
    if (vectors[0] is None) != (vectors[1] is None):
        raise ValueError("running_mean and running_var must both be given or be None")
    if not training and vectors[0] is None:
        raise ValueError("batch_norm with training=False needs running_mean/var")
    if training and x.size // x.shape[1] < 2:
        raise ValueError(
            f"batch_norm in training needs more than 1 value per channel, got x of "
            f"shape {x.shape}"
        )
    momentum = probability(momentum, "momentum")
    if isinstance(eps, bool) or not isinstance(eps, numbers.Real) or not eps > 0:
        raise ValueError(f"eps must be a number > 0, got {eps!r}")
    return (x, *vectors, bool(training), momentum, float(eps))


def batch_norm_input(x, num_features: int, ranks: tuple[int, ...], layer: str):
    """``x`` for a batch-norm layer: a float array of one of ``ranks`` dimensions
    with ``num_features`` channels on axis 1."""
    x = float_array(x, "x", None)
    if x.ndim not in ranks:
        layouts = {2: "(N, C)", 3: "(N, C, L)", 4: "(N, C, H, W)"}
        allowed = " or ".join(layouts[r] for r in ranks)
        raise ValueError(f"{layer} expects x of shape {allowed}, got shape {x.shape}")
    if x.shape[1] != num_features:
        raise ValueError(
            f"{layer}({num_features}) expects {num_features} channels on axis 1, got "
            f"x of shape {x.shape}"
        )
    return x


def image_shape(value, name: str) -> tuple[int, int, int]:
    """The shape of one image, ``(C, H, W)``, as three checked positive ints."""
    if not isinstance(value, (tuple, list)) or len(value) != 3:
        raise ValueError(
            f"{name} must be the shape of one image, (C, H, W), got {value!r}"
        )
    return tuple(positive_int(v, f"{name}[{i}]") for i, v in enumerate(value))
