"""cnnlib.serialization: round trip through .npz without pickle, atomic writes, loading into a model."""

import os

import numpy as np
import pytest

from cnnlib import nn
from cnnlib.serialization import load_model, load_state_dict, save_model, save_state_dict


def small_model(seed):
    rng = np.random.default_rng(seed)
    return nn.Sequential(nn.Conv2d(1, 2, 3, rng=rng), nn.ReLU(), nn.Flatten(), nn.Linear(8, 3, rng=rng))


def test_round_trip_keeps_keys_values_and_dtypes(tmp_path):
    model = small_model(0)
    path = save_model(model, tmp_path / "weights.npz")
    assert path == tmp_path / "weights.npz" and path.exists()
    assert sorted(os.listdir(tmp_path)) == ["weights.npz"]  # no temporary file left behind
    loaded = load_state_dict(path)
    assert list(loaded) == list(model.state_dict())
    for name, value in model.state_dict().items():
        np.testing.assert_array_equal(loaded[name], value)
        assert loaded[name].dtype == value.dtype
    other = load_model(small_model(1), path)
    x = np.random.default_rng(2).random((2, 1, 4, 4), dtype=np.float32)
    np.testing.assert_array_equal(other(x), model(x))


def test_file_is_plain_npz_loadable_without_pickle(tmp_path):
    path = save_state_dict({"0.weight": np.arange(6.0).reshape(2, 3)}, tmp_path / "w.npz")
    with np.load(path, allow_pickle=False) as archive:
        np.testing.assert_array_equal(archive["0.weight"], np.arange(6.0).reshape(2, 3))


def test_object_arrays_are_refused_and_nothing_is_written(tmp_path):
    with pytest.raises(ValueError, match="object"):
        save_state_dict({"bad": np.array([{"a": 1}], dtype=object)}, tmp_path / "w.npz")
    assert os.listdir(tmp_path) == []


def test_a_failed_write_leaves_the_old_file_intact(tmp_path, monkeypatch):
    path = save_state_dict({"a": np.ones(3)}, tmp_path / "w.npz")

    def crash(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(np, "savez", crash)
    with pytest.raises(OSError, match="disk full"):
        save_state_dict({"a": np.zeros(3)}, path)
    np.testing.assert_array_equal(load_state_dict(path)["a"], np.ones(3))
    assert os.listdir(tmp_path) == ["w.npz"]


def test_loading_a_pickled_file_fails(tmp_path):
    path = tmp_path / "evil.npz"
    np.savez(path, payload=np.array([object()], dtype=object))
    with pytest.raises(ValueError, match="pickle"):
        load_state_dict(path)
