"""Saving and loading weights as ``.npz`` (a zip of ``.npy`` arrays): no pickle, written
atomically.

``np.load(..., allow_pickle=False)`` can only produce plain arrays, so a weights file
from someone else cannot run code. The file is written to a temporary name in the same
folder and moved into place with ``os.replace``, so a crash mid-write never leaves a
half-written file under the real name.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .files import write_atomically

__all__ = [
    "save",
    "load",
    "save_state_dict",
    "load_state_dict",
    "save_model",
    "load_model",
]


def save_state_dict(state_dict: dict[str, np.ndarray], path) -> Path:
    """Write ``{name: array}`` to ``path`` (an ``.npz`` file) atomically; returns the
    path.

    Keys are kept as they are (``"0.weight"``); arrays must be numeric (object arrays
    are refused).
    """
    path = Path(path)
    arrays = {}
    for name, value in state_dict.items():
        array = np.asarray(value)
        if array.dtype == object:
            raise ValueError(
                f"state_dict[{name!r}] is an object array (shape {array.shape}); only "
                "numeric arrays can be saved without pickle"
            )
        arrays[name] = array
    return write_atomically(path, lambda handle: np.savez(handle, **arrays))


def load_state_dict(path) -> dict[str, np.ndarray]:
    """Read a file written by :func:`save_state_dict` into ``{name: array}``
    (``allow_pickle=False``)."""
    with np.load(Path(path), allow_pickle=False) as archive:
        return {name: archive[name] for name in archive.files}


def save_model(model, path) -> Path:
    """``save_state_dict(model.state_dict(), path)``."""
    return save_state_dict(model.state_dict(), path)


def load_model(model, path):
    """Load the weights in ``path`` into ``model`` (keys and shapes must match; see
    ``Module.load_state_dict``); returns ``model``."""
    model.load_state_dict(load_state_dict(path))
    return model


def save(state_dict: dict[str, np.ndarray], path) -> Path:
    """``torch.save(model.state_dict(), path)``'s twin: :func:`save_state_dict`."""
    return save_state_dict(state_dict, path)


def load(path) -> dict[str, np.ndarray]:
    """``torch.load(path, weights_only=True)``'s twin: :func:`load_state_dict`."""
    return load_state_dict(path)
