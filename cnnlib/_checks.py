"""Input checks shared by the functional ops: one place that turns bad input into a readable ``ValueError``.

Every message names the argument and the shapes involved, so a learner sees *which* array is wrong
instead of a NumPy broadcasting traceback three calls deeper.
"""

from __future__ import annotations

import numpy as np

__all__ = ["check_array", "check_same_dtype", "check_bias"]


def check_array(value, name: str, ndim: int, layout: str) -> np.ndarray:
    """Return ``value`` if it is a floating ``ndarray`` with ``ndim`` dimensions, else raise ``ValueError``.

    ``layout`` is the expected shape in words, e.g. ``"(N, C, H, W)"``; it goes into the message.
    """
    if not isinstance(value, np.ndarray):
        raise ValueError(f"{name} must be a NumPy array of shape {layout}, got {type(value).__name__}")
    if value.ndim != ndim:
        raise ValueError(f"{name} must have {ndim} dimensions {layout}, got shape {value.shape}")
    if not np.issubdtype(value.dtype, np.floating):
        raise ValueError(f"{name} must be float32 or float64, got dtype {value.dtype} (shape {value.shape})")
    if value.size == 0:
        raise ValueError(f"{name} must not be empty, got shape {value.shape}")
    return value


def check_same_dtype(reference: np.ndarray, reference_name: str, other: np.ndarray, other_name: str) -> None:
    """Refuse to mix float32 and float64 silently (torch refuses too): the result dtype would be a surprise."""
    if other.dtype != reference.dtype:
        raise ValueError(
            f"{other_name} has dtype {other.dtype} (shape {other.shape}) but {reference_name} has dtype "
            f"{reference.dtype} (shape {reference.shape}); convert one with .astype()"
        )


def check_bias(bias, out_features: int, weight: np.ndarray) -> None:
    """``bias`` must be ``None`` or a vector ``(out,)`` matching ``weight.shape[0]``."""
    if bias is None:
        return
    check_array(bias, "bias", 1, "(out,)")
    if bias.shape[0] != out_features:
        raise ValueError(f"bias must have shape ({out_features},) to match weight {weight.shape}, got {bias.shape}")
    check_same_dtype(weight, "weight", bias, "bias")
