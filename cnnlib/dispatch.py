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

__all__ = ["fast_kernels", "fast_kernels_enabled", "Switch"]


class Switch:
    """A process-wide on/off setting that works, like ``torch.set_grad_enabled``, as
    a function call (for the rest of the session) and as a context manager (for one
    block, restoring the previous setting after it). Each subclass holds its own
    setting, starting at its class attribute ``enabled``, and names itself by
    ``public_name``."""

    enabled = True
    public_name = "Switch"

    def __init__(self, enabled: bool):
        if not isinstance(enabled, bool):
            kind = type(enabled).__name__
            raise ValueError(f"enabled must be True or False, got {enabled!r} ({kind})")
        cls = type(self)
        self._previous, cls.enabled = cls.enabled, enabled

    def __enter__(self) -> Switch:
        return self

    def __exit__(self, *exc_info) -> None:
        type(self).enabled = self._previous

    def __repr__(self) -> str:
        return f"{self.public_name}({type(self).enabled})"


class fast_kernels(Switch):  # noqa: N801 -- lower case, as torch's set_grad_enabled
    """Use the tuned kernels (``True``) or the readable ops (``False``)."""

    public_name = "cnnlib.fast_kernels"


def fast_kernels_enabled() -> bool:
    """``True`` while the tuned kernels run (the default)."""
    return fast_kernels.enabled
