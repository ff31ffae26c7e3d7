"""Writing files atomically: the one helper that the library and the course tools share.

A file is written under a temporary name in its own folder, flushed to disk, and then
moved onto its real name with ``os.replace``. A crash or a full disk mid-write
therefore never leaves a half-written file under the real name: readers see the old
file or the new one, nothing between.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import BinaryIO, Callable

__all__ = ["write_atomically", "write_text_atomically", "write_bytes_atomically"]


def write_atomically(path, write: Callable[[BinaryIO], None]) -> Path:
    """Call ``write(handle)`` on a temporary file beside ``path``, then move it there.

    Returns ``path`` as a ``Path``. The temporary file is removed if ``write`` raises.
    """
    path = Path(path)
    folder = path.parent if str(path.parent) else Path(".")
    descriptor, temporary = tempfile.mkstemp(
        dir=folder, prefix=f".{path.name}.", suffix=".tmp"
    )
    try:
        with os.fdopen(descriptor, "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise
    return path


def write_bytes_atomically(path, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically; returns the path."""
    return write_atomically(path, lambda handle: handle.write(data))


def write_text_atomically(path, text: str, encoding: str = "utf-8") -> Path:
    """Write ``text`` to ``path`` atomically (UTF-8 by default); returns the path."""
    return write_bytes_atomically(path, text.encode(encoding))
