"""cnnlib.batching: every sample exactly once, batch sizes, seeded shuffles."""

import numpy as np
import pytest

from cnnlib.batching import iterate_minibatches, num_batches


def test_unshuffled_batches_cover_the_data_in_order():
    x, y = np.arange(10).reshape(10, 1), np.arange(10)
    batches = list(iterate_minibatches(x, y, 4))
    assert [len(b[1]) for b in batches] == [4, 4, 2] and num_batches(10, 4) == 3
    np.testing.assert_array_equal(np.concatenate([b[1] for b in batches]), y)
    assert [len(b[1]) for b in iterate_minibatches(x, y, 4, drop_last=True)] == [4, 4] and num_batches(10, 4, True) == 2


def test_seeded_shuffle_is_a_reproducible_permutation_with_pairs_kept():
    x, y = np.arange(100) * 10, np.arange(100)
    first = list(iterate_minibatches(x, y, 7, shuffle=True, seed=3))
    again = list(iterate_minibatches(x, y, 7, shuffle=True, seed=3))
    other = list(iterate_minibatches(x, y, 7, shuffle=True, seed=4))
    order = np.concatenate([b[1] for b in first])
    assert sorted(order) == list(range(100)) and not np.array_equal(order, y)
    np.testing.assert_array_equal(order, np.concatenate([b[1] for b in again]))
    assert not np.array_equal(order, np.concatenate([b[1] for b in other]))
    for xb, yb in first:
        np.testing.assert_array_equal(xb, yb * 10)


@pytest.mark.parametrize(
    "kwargs, words",
    [({"batch_size": 0}, ["batch_size"]), ({"batch_size": 2, "shuffle": True}, ["seed"]), ({"batch_size": 2.0}, ["batch_size"])],
)
def test_bad_arguments(kwargs, words):
    with pytest.raises(ValueError) as error:
        list(iterate_minibatches(np.zeros(4), np.zeros(4), **kwargs))
    for word in words:
        assert word in str(error.value)
    with pytest.raises(ValueError, match=r"\(4,\).*\(3,\)"):
        list(iterate_minibatches(np.zeros(4), np.zeros(3), 2))
