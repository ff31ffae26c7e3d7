"""MNIST from the IDX files in ``data/mnist/``, read with our own code and checked
against known sums.

The IDX format (LeCun et al.) is a tiny binary header followed by raw bytes:

* 2 zero bytes, 1 byte giving the element type (``0x08`` = unsigned byte), 1 byte giving
  the number of dimensions ``ndim``;
* ``ndim`` big-endian 32-bit sizes;
* the data, ``prod(sizes)`` elements in C order.

So the magic number of an image file is ``0x00000803`` (3 dimensions: N, 28, 28) and
that of a label file ``0x00000801`` (1 dimension: N). The files are stored gzipped; the
SHA-256 sums in ``data/mnist/SHA256SUMS`` are of the *uncompressed* bytes, so any
corruption is caught whether it breaks the gzip stream or not.

**Validation.** Every choice the course makes (epochs, learning rate, recipe,
architecture) is made on a validation set: the same :data:`VALIDATION_SIZE` = 5,000 of
the 60,000 training images in every chapter, chosen by :func:`split_indices` with
:data:`SPLIT_SEED`. The test set is touched once per model, at the end.
:func:`load_mnist_split` returns the three parts.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import zlib
from pathlib import Path

import numpy as np

from .checks import positive_int

__all__ = [
    "DEFAULT_MNIST_DIR",
    "MNIST_FILES",
    "load_mnist",
    "load_mnist_split",
    "split_indices",
    "train_validation_split",
    "VALIDATION_SIZE",
    "SPLIT_SEED",
    "load_split",
    "load_split_uint8",
    "read_idx",
    "read_checksums",
]

#: Where the course keeps MNIST: ``data/mnist`` at the repository root.
#: ``CNNLIB_MNIST_DIR`` overrides it.
DEFAULT_MNIST_DIR = Path(__file__).resolve().parent.parent / "data" / "mnist"

#: The four files, as ``(images, labels)`` per split.
MNIST_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}

_IDX_UBYTE = 0x08

#: How many of the 60,000 training images are held out for validation.
VALIDATION_SIZE = 5000
#: The seed of the permutation that chooses them: the same split in every chapter.
SPLIT_SEED = 0


def read_checksums(path: Path) -> dict[str, str]:
    """Read a ``sha256sum``-style file (``<hex>  <name>`` per line) into
    ``{name: hex}``."""
    sums = {}
    for number, line in enumerate(Path(path).read_text().splitlines(), start=1):
        if not line.strip():
            continue
        parts = line.split()
        if len(parts) != 2 or len(parts[0]) != 64:
            raise ValueError(
                f"{path}: line {number} is not '<sha256 hex>  <file name>': {line!r}"
            )
        sums[parts[1].lstrip("*")] = parts[0].lower()
    return sums


def _read_bytes(path: Path) -> bytes:
    """The uncompressed contents of ``path`` (gzipped if it ends in ``.gz``)."""
    if not path.is_file():
        raise FileNotFoundError(f"MNIST file not found: {path}")
    if path.suffix != ".gz":
        return path.read_bytes()
    try:
        with gzip.open(path, "rb") as handle:
            return handle.read()
    except (OSError, EOFError, zlib.error) as error:
        raise ValueError(
            f"{path}: not a valid gzip file ({error}); the file is truncated or "
            "corrupted"
        ) from error


def read_idx(
    path, expected_sha256: str | None = None, expected_ndim: int | None = None
) -> np.ndarray:
    """Read one IDX file of unsigned bytes into a NumPy array.

    Args:
        path: the file, gzipped (``.gz``) or not.
        expected_sha256: hex SHA-256 of the uncompressed bytes; checked before parsing
            when given.
        expected_ndim: the number of dimensions the magic number must announce (3 for
            images, 1 for labels).

    Returns:
        ``uint8`` array whose shape is the sizes in the header, e.g.
        ``(60000, 28, 28)``.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        ValueError: the gzip stream is broken, the checksum differs, the magic number is
            not the expected one, or the file is shorter or longer than its header says.
            The message names the file and what was expected.
    """
    path = Path(path)
    raw = _read_bytes(path)
    if expected_sha256 is not None:
        actual = hashlib.sha256(raw).hexdigest()
        if actual != expected_sha256.lower():
            raise ValueError(
                f"{path}: SHA-256 of the uncompressed contents is {actual}, expected "
                f"{expected_sha256.lower()}; the file is corrupted or is not the "
                "original MNIST file"
            )
    if len(raw) < 4:
        raise ValueError(
            f"{path}: {len(raw)} bytes is too short for an IDX header (at least 4 "
            "bytes expected)"
        )
    zero0, zero1, dtype_code, ndim = raw[:4]
    magic = int.from_bytes(raw[:4], "big")
    if (
        zero0 != 0
        or zero1 != 0
        or dtype_code != _IDX_UBYTE
        or (expected_ndim is not None and ndim != expected_ndim)
    ):
        if expected_ndim is None:
            want = "0x000008NN (unsigned bytes, NN = number of dimensions)"
        else:
            want = (
                f"0x{_IDX_UBYTE << 8 | expected_ndim:08x} "
                f"(unsigned bytes, {expected_ndim} dimensions)"
            )
        hint = (
            "; it looks gzipped, so its name should end in .gz"
            if raw[:2] == b"\x1f\x8b"
            else ""
        )
        raise ValueError(
            f"{path}: magic number is 0x{magic:08x}, expected {want}{hint}"
        )
    header_size = 4 + 4 * ndim
    if len(raw) < header_size:
        raise ValueError(
            f"{path}: truncated header, {len(raw)} bytes for a {ndim}-dimensional IDX "
            f"file that needs {header_size}"
        )
    shape = tuple(
        int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)
    )
    expected_size = header_size + int(np.prod(shape, dtype=np.int64))
    if len(raw) != expected_size:
        problem = "truncated" if len(raw) < expected_size else "has trailing bytes"
        raise ValueError(
            f"{path}: {problem}: {len(raw)} bytes, expected {expected_size} for shape "
            f"{shape}"
        )
    # frombuffer gives a read-only view of `raw`; copy so callers own a normal writable
    # array.
    return np.frombuffer(raw, dtype=np.uint8, offset=header_size).reshape(shape).copy()


def _find(directory: Path, name: str) -> Path:
    """Prefer the gzipped file; accept an uncompressed one a user unpacked by hand."""
    gz = directory / f"{name}.gz"
    if gz.exists() or not (directory / name).exists():
        return gz
    return directory / name


def load_split_uint8(split: str, root=None) -> tuple[np.ndarray, np.ndarray]:
    """Load one split of MNIST as stored: what ``keras.datasets.mnist.load_data()``
    returns for it.

    Args:
        split: ``"train"`` (60,000 digits) or ``"test"`` (10,000 digits).
        root: folder holding the IDX files and ``SHA256SUMS``; defaults to
            ``CNNLIB_MNIST_DIR`` if set, else :data:`DEFAULT_MNIST_DIR`.

    Returns:
        ``images``: ``(N, 28, 28)`` uint8 grey levels 0..255; ``labels``: ``(N,)`` uint8
        digits 0..9.
    """
    if split not in MNIST_FILES:
        raise ValueError(f"split must be one of {sorted(MNIST_FILES)}, got {split!r}")
    directory = Path(
        root
        if root is not None
        else os.environ.get("CNNLIB_MNIST_DIR", DEFAULT_MNIST_DIR)
    )
    sums_path = directory / "SHA256SUMS"
    if not sums_path.is_file():
        raise FileNotFoundError(f"checksum file not found: {sums_path}")
    sums = read_checksums(sums_path)
    image_name, label_name = MNIST_FILES[split]
    for name in (image_name, label_name):
        if name not in sums:
            raise ValueError(f"{sums_path} has no checksum for {name}")
    images = read_idx(_find(directory, image_name), sums[image_name], expected_ndim=3)
    labels = read_idx(_find(directory, label_name), sums[label_name], expected_ndim=1)
    if images.shape[0] != labels.shape[0]:
        raise ValueError(
            f"{directory}: {image_name} holds {images.shape[0]} images but "
            f"{label_name} holds {labels.shape[0]} labels"
        )
    return images, labels


def load_split(split: str, root=None) -> tuple[np.ndarray, np.ndarray]:
    """Load one split of MNIST for training.

    Args:
        split, root: as for :func:`load_split_uint8`.

    Returns:
        ``images``: ``(N, 1, 28, 28)`` float32 in [0, 1] (NCHW, one grey channel);
        ``labels``: ``(N,)`` int64 digits 0..9.
    """
    images, labels = load_split_uint8(split, root)
    # Scale to [0, 1] in float32: the range the network's initial weights are designed
    # for.
    x = (images.astype(np.float32) / np.float32(255.0))[:, np.newaxis, :, :]
    return x, labels.astype(np.int64)


def load_mnist(root=None):
    """Load MNIST as ``((x_train, y_train), (x_test, y_test))``, the order Keras users
    know.

    Returns:
        ``x_train``: ``(60000, 1, 28, 28)`` float32 in [0, 1]; ``y_train``: ``(60000,)``
        int64; ``x_test``: ``(10000, 1, 28, 28)`` float32 in [0, 1]; ``y_test``:
        ``(10000,)`` int64.

    Every file is checked against ``SHA256SUMS`` first, so a corrupted download fails
    loudly with the file's name rather than training on garbage.
    """
    return load_split("train", root), load_split("test", root)


def split_indices(n: int = 60000, validation: int = VALIDATION_SIZE, seed=SPLIT_SEED):
    """Positions of a seeded train/validation split of ``n`` examples.

    A plain seeded permutation, ``default_rng(seed).permutation(n)``: its first
    ``validation`` positions are the validation set, the rest the training set; both
    are returned sorted, so each part keeps the file's order. Not stratified, because
    MNIST hardly needs it: its classes are near balanced (5,421 to 6,742 images per
    digit), and a random 5,000 carries each digit's share to within about half a
    percentage point (at most 0.75 for seed 0). With per-digit error rates within a
    point or two of each other at 99 % accuracy, that moves the validation accuracy by
    a few hundredths of a point, below its own sampling noise of about 0.14 points
    (``sqrt(0.99 * 0.01 / 5000)``). One line of NumPy, then, that a reader can redo.

    Returns ``(train, val)``: int64 arrays of shapes ``(n - validation,)`` and
    ``(validation,)``, disjoint, together ``0 .. n-1``.
    """
    n = positive_int(n, "n")
    validation = positive_int(validation, "validation")
    if validation >= n:
        raise ValueError(f"validation must be < n = {n} examples, got {validation}")
    order = np.random.default_rng(seed).permutation(n)
    return np.sort(order[validation:]), np.sort(order[:validation])


def train_validation_split(x, y, validation: int = VALIDATION_SIZE, seed=SPLIT_SEED):
    """Split ``x: (N, ...)`` and ``y: (N,)`` by :func:`split_indices` (new arrays;
    the inputs are not modified).

    Returns ``((x_train, y_train), (x_val, y_val))`` with ``N - validation`` and
    ``validation`` examples.
    """
    x, y = np.asarray(x), np.asarray(y)
    if x.ndim < 1 or y.ndim != 1 or x.shape[0] != y.shape[0]:
        raise ValueError(
            f"x must be (N, ...) and y (N,) with the same N, got shapes {x.shape} "
            f"and {y.shape}"
        )
    train, val = split_indices(x.shape[0], validation, seed)
    return (x[train], y[train]), (x[val], y[val])


def load_mnist_split(validation: int = VALIDATION_SIZE, seed=SPLIT_SEED, root=None):
    """MNIST as ``(x_train, y_train), (x_val, y_val), (x_test, y_test)``: the course's
    split (:func:`split_indices`) of the 60,000 training images, then the test set.

    Shapes with the defaults: ``(55000, 1, 28, 28)``, ``(5000, 1, 28, 28)`` and
    ``(10000, 1, 28, 28)`` float32 in [0, 1]; labels ``(55000,)``, ``(5000,)``,
    ``(10000,)`` int64.
    """
    (x, y), test = load_mnist(root)
    train, val = train_validation_split(x, y, validation, seed)
    return train, val, test
