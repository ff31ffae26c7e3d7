"""The fully connected layer as loops, and flatten, which feeds it.

For one sample, ``out[o] = bias[o] + sum over k of weight[o, k] * x[k]``: each output
neuron is a dot product of its weights with the whole input.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .. import checks

__all__ = ["LinearCache", "linear_forward", "linear_backward", "linear", "flatten"]


class LinearCache(NamedTuple):
    """The forward inputs ``x: (N, in)`` and ``weight: (out, in)``, and ``has_bias``."""

    x: np.ndarray
    weight: np.ndarray
    has_bias: bool


def linear_forward(x, weight, bias=None):
    """``x: (N, in)``, ``weight: (out, in)``, ``bias: (out,)`` -> ``(out, cache)``."""
    x, weight, bias = checks.linear_args(x, weight, bias, strict=False)
    out = np.zeros((x.shape[0], weight.shape[0]), dtype=x.dtype)
    for n in range(x.shape[0]):
        for o in range(weight.shape[0]):
            out[n, o] = np.sum(x[n] * weight[o])
    if bias is not None:
        out += bias
    return out, LinearCache(x, weight, bias is not None)


def linear_backward(grad_output, cache: LinearCache):
    """``grad_output: (N, out)`` -> ``(grad_x, grad_weight, grad_bias)``.

    ``d out[o] / d weight[o, k] = x[k]`` and ``d out[o] / d x[k] = weight[o, k]``.
    """
    x, weight, has_bias = cache
    shape = (x.shape[0], weight.shape[0])
    grad_output = checks.grad_output_like(grad_output, shape, strict=False)
    dtype = np.result_type(grad_output, x)  # the wider of the two, as torch promotes
    grad_x, grad_weight = np.zeros(x.shape, dtype), np.zeros(weight.shape, dtype)
    for n in range(x.shape[0]):
        grad_weight += np.outer(grad_output[n], x[n])
        grad_x[n] = weight.T @ grad_output[n]
    grad_bias = grad_output.sum(axis=0).astype(dtype) if has_bias else None
    return grad_x, grad_weight, grad_bias


def linear(x, weight, bias=None):
    """``torch.nn.functional.linear`` as loops: ``(N, in)`` -> ``(N, out)``."""
    return linear_forward(x, weight, bias)[0]


def flatten(x):
    """``(N, C, H, W)`` -> ``(N, C*H*W)``, channel by channel, row by row (a copy)."""
    x = checks.real_array(x, "x", None)
    if x.ndim < 2:
        raise ValueError(f"x must have at least 2 axes (N, ...), got shape {x.shape}")
    return x.reshape(x.shape[0], -1).copy()
