"""The MNIST reader: real files load with the right shapes, and every kind of damage is named."""

import gzip
import hashlib
import shutil

import numpy as np
import pytest

from cnnlib.data import DEFAULT_MNIST_DIR, MNIST_FILES, load_mnist, load_split, read_checksums, read_idx


def idx_bytes(array: np.ndarray) -> bytes:
    """Encode a uint8 array as IDX: magic 0x0000080<ndim>, big-endian sizes, then the data."""
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(int(n).to_bytes(4, "big") for n in array.shape)
    return header + array.astype(np.uint8).tobytes()


def write_split(folder, images: np.ndarray, labels: np.ndarray, split="test", gz=True):
    """Write a tiny but well-formed MNIST split plus its SHA256SUMS into `folder`."""
    image_name, label_name = MNIST_FILES[split]
    lines = []
    for name, array in ((image_name, images), (label_name, labels)):
        raw = idx_bytes(array)
        (folder / (name + ".gz" if gz else name)).write_bytes(gzip.compress(raw) if gz else raw)
        lines.append(f"{hashlib.sha256(raw).hexdigest()}  {name}")
    (folder / "SHA256SUMS").write_text("\n".join(lines) + "\n")
    return folder / (image_name + ".gz" if gz else image_name), folder / (label_name + ".gz" if gz else label_name)


@pytest.fixture
def tiny(tmp_path):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(5, 28, 28), dtype=np.uint8)
    labels = np.array([3, 1, 4, 1, 5], dtype=np.uint8)
    image_path, label_path = write_split(tmp_path, images, labels)
    return tmp_path, images, labels, image_path, label_path


def test_real_mnist_shapes_types_and_range():
    (x_train, y_train), (x_test, y_test) = load_mnist()
    assert x_train.shape == (60000, 1, 28, 28) and x_train.dtype == np.float32
    assert x_test.shape == (10000, 1, 28, 28) and x_test.dtype == np.float32
    assert y_train.shape == (60000,) and y_train.dtype == np.int64
    assert y_test.shape == (10000,) and y_test.dtype == np.int64
    assert x_train.min() == 0.0 and x_train.max() == 1.0
    assert np.bincount(y_test, minlength=10).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    assert y_train[:5].tolist() == [5, 0, 4, 1, 9]


def test_committed_checksums_cover_all_four_files():
    sums = read_checksums(DEFAULT_MNIST_DIR / "SHA256SUMS")
    assert sorted(sums) == sorted(name for pair in MNIST_FILES.values() for name in pair)


def test_tiny_split_round_trips_and_scales(tiny):
    folder, images, labels, *_ = tiny
    x, y = load_split("test", folder)
    assert x.shape == (5, 1, 28, 28) and x.dtype == np.float32
    np.testing.assert_array_equal(x[:, 0], images.astype(np.float32) / 255)
    np.testing.assert_array_equal(y, labels.astype(np.int64))


def test_uncompressed_files_are_accepted(tmp_path):
    images = np.full((2, 28, 28), 255, dtype=np.uint8)
    write_split(tmp_path, images, np.array([0, 9], dtype=np.uint8), gz=False)
    x, y = load_split("test", tmp_path)
    assert x.max() == 1.0 and y.tolist() == [0, 9]


def test_missing_file_names_it(tiny):
    folder, *_, label_path = tiny
    label_path.unlink()
    with pytest.raises(FileNotFoundError, match="t10k-labels-idx1-ubyte"):
        load_split("test", folder)


def test_missing_checksum_file_names_it(tiny):
    folder = tiny[0]
    (folder / "SHA256SUMS").unlink()
    with pytest.raises(FileNotFoundError, match="SHA256SUMS"):
        load_split("test", folder)


def test_checksum_mismatch_names_file_and_expected_sum(tiny):
    folder, images, labels, image_path, _ = tiny
    damaged = images.copy()
    damaged[0, 0, 0] ^= 1  # one bit, in a well-formed file: only the checksum can notice
    image_path.write_bytes(gzip.compress(idx_bytes(damaged)))
    expected = read_checksums(folder / "SHA256SUMS")["t10k-images-idx3-ubyte"]
    with pytest.raises(ValueError, match="t10k-images-idx3-ubyte.gz") as info:
        load_split("test", folder)
    assert "SHA-256" in str(info.value) and expected in str(info.value)


def test_truncated_gzip_names_file(tiny):
    folder, *_, image_path, _ = tiny
    data = image_path.read_bytes()
    image_path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match=r"t10k-images-idx3-ubyte\.gz.*truncated or corrupted"):
        load_split("test", folder)


def test_one_broken_byte_of_the_real_file_is_caught(tmp_path):
    for path in DEFAULT_MNIST_DIR.iterdir():
        shutil.copy(path, tmp_path)
    target = tmp_path / "t10k-images-idx3-ubyte.gz"
    data = bytearray(target.read_bytes())
    data[len(data) // 2] ^= 0xFF
    target.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="t10k-images-idx3-ubyte.gz"):
        load_mnist(tmp_path)


def test_truncated_data_with_valid_checksum_is_caught(tmp_path):
    raw = idx_bytes(np.zeros((3, 28, 28), dtype=np.uint8))[:-10]
    path = tmp_path / "short-idx3-ubyte"
    path.write_bytes(raw)
    with pytest.raises(ValueError, match=r"short-idx3-ubyte: truncated: .* expected 2368 for shape \(3, 28, 28\)"):
        read_idx(path, hashlib.sha256(raw).hexdigest(), expected_ndim=3)


def test_trailing_bytes_are_caught(tmp_path):
    path = tmp_path / "long-idx1-ubyte"
    path.write_bytes(idx_bytes(np.arange(4, dtype=np.uint8)) + b"\x00")
    with pytest.raises(ValueError, match="trailing bytes"):
        read_idx(path, expected_ndim=1)


def test_truncated_header_is_caught(tmp_path):
    path = tmp_path / "stub-idx3-ubyte"
    path.write_bytes(bytes([0, 0, 8, 3, 0, 0]))
    with pytest.raises(ValueError, match="truncated header"):
        read_idx(path)


@pytest.mark.parametrize(
    "header, expected_ndim, expected",
    [
        (bytes([0, 0, 0x08, 1]), 3, "0x00000803"),  # a label file where images were expected
        (bytes([0, 0, 0x0D, 3]), 3, "0x00000803"),  # float data, not unsigned bytes
        (b"\x1f\x8b\x08\x00", None, "0x000008NN"),  # a gzip stream saved without the .gz suffix
    ],
)
def test_wrong_magic_names_file_and_expected_magic(tmp_path, header, expected_ndim, expected):
    path = tmp_path / "odd-idx-ubyte"
    path.write_bytes(header + bytes(64))
    with pytest.raises(ValueError, match="odd-idx-ubyte: magic number") as info:
        read_idx(path, expected_ndim=expected_ndim)
    assert f"expected {expected}" in str(info.value)


def test_swapped_files_fail_on_checksum_before_parsing(tiny):
    folder, _, _, image_path, label_path = tiny
    image_bytes, label_bytes = image_path.read_bytes(), label_path.read_bytes()
    image_path.write_bytes(label_bytes)
    label_path.write_bytes(image_bytes)
    with pytest.raises(ValueError, match="t10k-images-idx3-ubyte.gz: SHA-256"):
        load_split("test", folder)


def test_label_count_must_match_image_count(tmp_path):
    write_split(tmp_path, np.zeros((3, 28, 28), dtype=np.uint8), np.zeros(2, dtype=np.uint8))
    with pytest.raises(ValueError, match="3 images but .* 2 labels"):
        load_split("test", tmp_path)


def test_bad_checksum_line_is_reported(tmp_path):
    (tmp_path / "SHA256SUMS").write_text("not a checksum line\n")
    with pytest.raises(ValueError, match="line 1"):
        read_checksums(tmp_path / "SHA256SUMS")


def test_unknown_split_is_refused():
    with pytest.raises(ValueError, match="split must be one of"):
        load_split("validation")


def test_environment_variable_selects_folder(tiny, monkeypatch):
    monkeypatch.setenv("CNNLIB_MNIST_DIR", str(tiny[0]))
    x, _ = load_split("test")
    assert x.shape == (5, 1, 28, 28)


# --- the course's train/validation split ---------------------------------------------

from cnnlib.data import (  # noqa: E402
    SPLIT_SEED,
    VALIDATION_SIZE,
    load_mnist_split,
    split_indices,
    train_validation_split,
)


def test_split_is_55000_5000_disjoint_complete_and_pinned():
    train, val = split_indices()
    assert (VALIDATION_SIZE, SPLIT_SEED) == (5000, 0)
    assert train.shape == (55000,) and val.shape == (5000,)
    assert np.intersect1d(train, val).size == 0
    np.testing.assert_array_equal(np.sort(np.concatenate([train, val])), np.arange(60000))
    assert np.all(np.diff(train) > 0) and np.all(np.diff(val) > 0)  # sorted: file order kept
    # The split is part of the course: every chapter gets these very images.
    assert val[:6].tolist() == [9, 24, 49, 60, 65, 66] and int(val.sum()) == 149360895
    again_train, again_val = split_indices(60000, 5000, 0)
    np.testing.assert_array_equal(again_val, val)
    np.testing.assert_array_equal(again_train, train)
    assert not np.array_equal(split_indices(seed=1)[1], val)


def test_load_mnist_split_gives_the_three_parts_and_matching_labels():
    (x_train, y_train), (x_val, y_val), (x_test, y_test) = load_mnist_split()
    assert x_train.shape == (55000, 1, 28, 28) and y_train.shape == (55000,)
    assert x_val.shape == (5000, 1, 28, 28) and y_val.shape == (5000,)
    assert x_test.shape == (10000, 1, 28, 28) and y_test.shape == (10000,)
    assert x_train.dtype == x_val.dtype == np.float32 and y_val.dtype == np.int64
    (x_all, y_all), _ = load_mnist()
    train, val = split_indices()
    np.testing.assert_array_equal(x_val, x_all[val])
    np.testing.assert_array_equal(y_val, y_all[val])
    np.testing.assert_array_equal(y_train, y_all[train])
    assert x_train[0].tobytes() == x_all[train[0]].tobytes()
    # every digit is in both parts, in about its share of the whole (the docstring's claim)
    share = np.bincount(y_all, minlength=10) / 60000
    for labels in (y_train, y_val):
        counts = np.bincount(labels, minlength=10)
        assert counts.min() > 0
        assert np.abs(counts / labels.size - share).max() < 0.01


def test_train_validation_split_copies_and_does_not_modify_its_inputs():
    rng = np.random.default_rng(0)
    x, y = rng.random((50, 3, 2)), rng.integers(0, 10, 50)
    x_before, y_before = x.copy(), y.copy()
    (x_tr, y_tr), (x_va, y_va) = train_validation_split(x, y, validation=7, seed=3)
    np.testing.assert_array_equal(x, x_before)
    np.testing.assert_array_equal(y, y_before)
    assert x_tr.shape == (43, 3, 2) and x_va.shape == (7, 3, 2) and y_va.shape == (7,)
    for part in (x_tr, y_tr, x_va, y_va):
        assert not np.shares_memory(part, x) and not np.shares_memory(part, y)
    train, val = split_indices(50, 7, 3)
    np.testing.assert_array_equal(x_va, x[val])
    np.testing.assert_array_equal(y_tr, y[train])
    x_va[...] = -1  # the parts are the caller's own arrays
    np.testing.assert_array_equal(x, x_before)


@pytest.mark.parametrize(
    "call, words",
    [
        (lambda: split_indices(10, 10), ["validation", "< n = 10"]),
        (lambda: split_indices(10, 0), ["validation", "> 0"]),
        (lambda: split_indices(10, 2.5), ["validation", "integer"]),
        (lambda: train_validation_split(np.zeros((5, 2)), np.zeros(4), 2), ["(5, 2)", "(4,)"]),
    ],
)
def test_split_refuses_bad_arguments(call, words):
    with pytest.raises(ValueError) as error:
        call()
    for word in words:
        assert word in str(error.value)
