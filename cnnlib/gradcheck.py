"""Gradient checking: compare a hand-written backward with centered finite differences,
in float64.

A backward function computes the gradient of a *scalar* loss. To check it for an op with
a big output we project the output on a fixed random upstream gradient ``G``:
``L(inputs) = sum(G * op(inputs))``. Then ``dL/d input`` is exactly what ``backward(G)``
must return, and each of its entries can be estimated by centered differences
``(L(x + eps) - L(x - eps)) / (2 eps)``, whose error is ``O(eps**2)``.

The result is the relative error
``||analytic - numeric|| / max(||analytic||, ||numeric||)`` (Euclidean norms over all
entries). In float64 with ``eps = 1e-6`` a correct backward gives about 1e-10; the
course's threshold is ``1e-7`` per layer. Max pooling and ReLU have kinks: keep inputs
away from ties and zero (random normal inputs are, with overwhelming probability).
"""

from __future__ import annotations

import numpy as np

from .nn import Module, no_grad

__all__ = ["relative_error", "numerical_gradient", "gradcheck", "gradcheck_module"]


def relative_error(analytic: np.ndarray, numeric: np.ndarray) -> float:
    """``||analytic - numeric|| / max(||analytic||, ||numeric||)``; 0.0 if both are
    zero. Same shapes required."""
    analytic, numeric = (
        np.asarray(analytic, dtype=np.float64),
        np.asarray(numeric, dtype=np.float64),
    )
    if analytic.shape != numeric.shape:
        raise ValueError(
            f"analytic has shape {analytic.shape} but numeric has shape {numeric.shape}"
        )
    scale = max(np.linalg.norm(analytic), np.linalg.norm(numeric))
    return 0.0 if scale == 0 else float(np.linalg.norm(analytic - numeric) / scale)


def numerical_gradient(loss, array: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    """Centered differences of the scalar function ``loss()`` with respect to every
    entry of ``array``.

    ``array`` is perturbed **in place** one entry at a time and restored exactly
    afterwards; ``loss()`` must read it. Returns an array of ``array``'s shape.
    """
    grad = np.zeros(array.shape, dtype=np.float64)
    for index in np.ndindex(array.shape):
        original = array[index]
        array[index] = original + eps
        plus = loss()
        array[index] = original - eps
        minus = loss()
        array[index] = original
        grad[index] = (plus - minus) / (2 * eps)
    return grad


def _as_float64(name, value):
    if not isinstance(value, np.ndarray) or not np.issubdtype(value.dtype, np.floating):
        raise ValueError(
            f"{name} must be a float NumPy array, got {type(value).__name__}"
        )
    if value.dtype != np.float64:
        raise ValueError(
            f"{name} must be float64 for a gradient check (float32 differences are too "
            f"coarse), got {value.dtype}"
        )
    return value.copy()


def gradcheck(
    forward, backward, inputs, *, eps: float = 1e-6, seed: int = 0
) -> list[float | None]:
    """Relative error of ``backward`` against centered differences, one number per
    input.

    Args:
        forward: ``forward(*inputs) -> (output, cache)``, e.g.
            ``lambda x, w, b: conv2d_forward(x, w, b, stride=2)``.
        backward: ``backward(grad_output, cache)`` returning one gradient or a tuple
            with one entry per input (``None`` entries are skipped), e.g.
            :func:`cnnlib.functional.conv2d_backward`.
        inputs: tuple of float64 arrays (copied; the originals are not touched).
        eps: the finite-difference step. seed: for the random upstream gradient
            ``G ~ N(0, 1)``.

    Returns:
        ``[error_0, error_1, ...]`` (``None`` where backward returned ``None``).
    """
    inputs = [_as_float64(f"inputs[{i}]", value) for i, value in enumerate(inputs)]
    output, cache = forward(*inputs)
    upstream = np.random.default_rng(seed).standard_normal(np.shape(output))
    analytic = backward(upstream if np.ndim(output) else np.float64(upstream), cache)
    if not isinstance(analytic, tuple):
        analytic = (analytic,)
    if len(analytic) > len(inputs) and all(
        extra is None for extra in analytic[len(inputs) :]
    ):
        analytic = analytic[
            : len(inputs)
        ]  # e.g. conv2d_backward's grad_bias = None when no bias was passed
    if len(analytic) != len(inputs):
        raise ValueError(
            f"backward returned {len(analytic)} gradients for {len(inputs)} inputs"
        )

    def loss():
        return float(np.sum(upstream * forward(*inputs)[0]))

    errors = []
    for value, grad in zip(inputs, analytic):
        errors.append(
            None
            if grad is None
            else relative_error(grad, numerical_gradient(loss, value, eps))
        )
    return errors


def gradcheck_module(
    module: Module, x: np.ndarray, *, eps: float = 1e-6, seed: int = 0
) -> dict[str, float]:
    """Check a layer's (or a whole model's) ``backward``: the input gradient and every
    parameter gradient.

    Args:
        module: a float64 module (``module.double()``); its parameters are perturbed and
            restored exactly.
        x: float64 input of the shape ``module`` takes.

    Returns:
        ``{"input": error, "<parameter name>": error, ...}``; the parameter grads are
        left as computed for ``G``.
    """
    x = _as_float64("x", x)
    for name, parameter in module.named_parameters():
        if parameter.dtype != np.float64:
            raise ValueError(
                f"parameter {name!r} is {parameter.dtype}; call module.double() before "
                "a gradient check"
            )
    output = module(x)
    upstream = np.random.default_rng(seed).standard_normal(output.shape)
    module.zero_grad()
    errors = {"input": None}
    grad_x = module.backward(upstream)
    analytic = {
        name: parameter.grad.copy() for name, parameter in module.named_parameters()
    }

    def loss():
        with no_grad():
            return float(np.sum(upstream * module(x)))

    errors["input"] = relative_error(grad_x, numerical_gradient(loss, x, eps))
    for name, parameter in module.named_parameters():
        errors[name] = relative_error(
            analytic[name], numerical_gradient(loss, parameter.data, eps)
        )
    return errors
