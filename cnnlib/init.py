"""Parameter initialisation with PyTorch's defaults, so that a result obtained here
carries over to ``torch.nn``.

``nn.Conv2d`` and ``nn.Linear`` call ``kaiming_uniform_(weight, a=sqrt(5))`` and then
draw the bias from ``U(-1/sqrt(fan_in), 1/sqrt(fan_in))``. With ``a = sqrt(5)`` the
Kaiming gain is ``sqrt(2 / (1 + 5)) = sqrt(1/3)`` and the Kaiming bound
``gain * sqrt(3 / fan_in)`` simplifies to ``1 / sqrt(fan_in)``: weights and biases are
both uniform on ``[-1/sqrt(fan_in), 1/sqrt(fan_in)]``, where
``fan_in = in_channels * kh * kw`` (``in_features`` for a linear layer). The
distributions are torch's; the random numbers are NumPy's, so the same seed gives
different (equally distributed) weights in the two libraries.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["manual_seed", "default_generator", "torch_default_bound", "uniform"]

_generator = np.random.default_rng()


def manual_seed(seed: int) -> np.random.Generator:
    """Reseed the generator used by every layer created without an explicit ``rng``
    (like ``torch.manual_seed``)."""
    global _generator
    _generator = np.random.default_rng(seed)
    return _generator


def default_generator() -> np.random.Generator:
    """The generator layers draw from when no ``rng`` is given."""
    return _generator


def torch_default_bound(fan_in: int) -> float:
    """``1 / sqrt(fan_in)``: the half-width of torch's default uniform init for weights
    and biases."""
    if fan_in <= 0:
        raise ValueError(f"fan_in must be > 0, got {fan_in}")
    return 1.0 / math.sqrt(fan_in)


def uniform(
    shape: tuple[int, ...],
    bound: float,
    rng: np.random.Generator | None = None,
    dtype=np.float32,
) -> np.ndarray:
    """An array of ``shape`` drawn from ``U(-bound, bound)`` in ``dtype`` (drawn in
    float64, then cast)."""
    rng = default_generator() if rng is None else rng
    return rng.uniform(-bound, bound, size=shape).astype(dtype)
