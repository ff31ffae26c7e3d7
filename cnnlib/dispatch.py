"""The switch between the tuned kernels (the default) and the readable ops.

``cnnlib.fast_kernels(False)`` makes every op of :mod:`cnnlib.functional`, and so every
layer, run the readable code of :mod:`cnnlib.ops` that chapter 6 prints; ``True``
switches the tuned kernels of :mod:`cnnlib.tuned` back on. Like
``torch.set_grad_enabled``, it works as a function call (for the rest of the session)
and as a context manager (for one block)::

    with cnnlib.fast_kernels(False):
        loss = train_step(model, ...)   # readable ops only

A backward pass always runs on the path its forward pass took, whatever the switch
says by then: each path's cache is its own type.
"""

from __future__ import annotations

__all__ = ["fast_kernels", "fast_kernels_enabled"]

_enabled = True


class fast_kernels:  # noqa: N801 -- lower case, as torch's set_grad_enabled
    """Use the tuned kernels (``True``) or the readable ops (``False``)."""

    def __init__(self, enabled: bool):
        global _enabled
        if not isinstance(enabled, bool):
            kind = type(enabled).__name__
            raise ValueError(f"enabled must be True or False, got {enabled!r} ({kind})")
        self._previous, _enabled = _enabled, enabled

    def __enter__(self) -> fast_kernels:
        return self

    def __exit__(self, *exc_info) -> None:
        global _enabled
        _enabled = self._previous

    def __repr__(self) -> str:
        return f"cnnlib.fast_kernels({_enabled})"


def fast_kernels_enabled() -> bool:
    """``True`` while the tuned kernels run (the default)."""
    return _enabled
