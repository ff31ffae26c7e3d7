"""Dropout (cnnlib.ops.dropout, cnnlib.nn.Dropout) against torch.

torch's mask cannot be drawn from cnnlib's generator, so the comparison replays it:
torch's mask is fed to cnnlib through a generator stand-in, and the outputs and the
input gradients must then be torch's. The rest is behaviour: evaluation is the
identity, p=0 and p=1 as torch, the mean is kept (statistically, with a fixed seed),
the backward reuses the forward's mask, and the same seed gives the same mask.
"""

import numpy as np
import pytest
import torch

import cnnlib
from cnnlib import functional as F
from cnnlib import nn
from cnnlib.gradcheck import gradcheck


class Replay:
    """A stand-in for a NumPy Generator whose ``random`` gives back a chosen mask:
    1.0 (kept, since 1.0 >= p) where ``keep`` is True, 0.0 (dropped) elsewhere."""

    def __init__(self, keep):
        self.keep = keep

    def random(self, shape):
        assert shape == self.keep.shape
        return np.where(self.keep, 1.0, 0.0)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("shape, p", [((4, 5), 0.5), ((2, 3, 6, 7), 0.2), ((64,), 0.9)])
def test_replaying_torchs_mask_gives_torchs_output_and_gradient(shape, p, dtype):
    rng = np.random.default_rng(0)
    x = (rng.standard_normal(shape) + 3).astype(dtype)  # no zeros: the mask shows
    grad_output = rng.standard_normal(shape).astype(dtype)
    torch.manual_seed(1)
    tx = torch.tensor(x, requires_grad=True)
    t_out = torch.nn.functional.dropout(tx, p, training=True)
    t_out.backward(torch.from_numpy(grad_output))
    keep = t_out.detach().numpy() != 0
    assert 0 < keep.sum() < keep.size  # a real mask
    out, cache = F.dropout_forward(x, p, True, Replay(keep))
    tolerance = 1e-6 if dtype == np.float32 else 1e-15
    np.testing.assert_allclose(out, t_out.detach().numpy(), rtol=tolerance)
    assert out.dtype == dtype
    np.testing.assert_allclose(
        F.dropout_backward(grad_output, cache), tx.grad.numpy(), rtol=tolerance
    )


def test_evaluation_is_the_identity_as_in_torch():
    x = np.random.default_rng(2).standard_normal((3, 4, 5))
    layer, reference = nn.Dropout(0.7).eval(), torch.nn.Dropout(0.7).eval()
    out = layer(x)
    np.testing.assert_array_equal(out, x)
    np.testing.assert_array_equal(reference(torch.from_numpy(x)).numpy(), x)
    assert out is not x and not np.shares_memory(out, x)
    grad = np.ones_like(x)
    np.testing.assert_array_equal(layer.backward(grad), grad)
    model = nn.Sequential(nn.Linear(5, 5, dtype=np.float64), nn.Dropout(0.9))
    model.eval()
    assert np.array_equal(model(x[0]), model(x[0]))  # no randomness left
    model.train()
    assert not np.array_equal(model(x[0]), model(x[0]))


def test_p_zero_keeps_everything_and_p_one_drops_everything_as_torch():
    x = np.random.default_rng(3).standard_normal((50, 20))
    tx = torch.from_numpy(x)
    out, cache = F.dropout_forward(x, 0.0, True)
    np.testing.assert_array_equal(out, x)
    np.testing.assert_array_equal(torch.nn.functional.dropout(tx, 0.0).numpy(), x)
    np.testing.assert_array_equal(F.dropout_backward(np.ones_like(x), cache), 1.0)
    out, cache = F.dropout_forward(x, 1.0, True)
    assert np.all(out == 0) and np.isfinite(out).all()
    assert torch.all(torch.nn.functional.dropout(tx, 1.0) == 0)
    np.testing.assert_array_equal(F.dropout_backward(np.ones_like(x), cache), 0.0)


@pytest.mark.parametrize("p", [0.1, 0.5, 0.8])
def test_mean_is_preserved_and_the_drop_rate_is_p(p):
    cnnlib.manual_seed(4)
    n = 200_000
    x = np.full(n, 2.0)
    out = nn.Dropout(p)(x)
    dropped = np.mean(out == 0)
    # binomial standard deviation of the drop rate; 5 of them is a generous bound
    assert abs(dropped - p) < 5 * np.sqrt(p * (1 - p) / n)
    np.testing.assert_allclose(out[out != 0], 2.0 / (1 - p))
    mean_sd = 2.0 * np.sqrt(p / (1 - p) / n)  # sd of the mean of x * mask / (1 - p)
    assert abs(out.mean() - 2.0) < 5 * mean_sd


def test_backward_uses_the_forward_mask_of_the_last_call():
    layer = nn.Dropout(0.5, rng=np.random.default_rng(5))
    x = np.random.default_rng(6).standard_normal((8, 16)) + 5
    layer(x)
    out = layer(x)  # one slot: the second mask is the one differentiated
    grad_output = np.random.default_rng(7).standard_normal(x.shape)
    grad_x = layer.backward(grad_output)
    kept = out != 0
    np.testing.assert_array_equal(grad_x[~kept], 0.0)
    np.testing.assert_allclose(grad_x[kept], grad_output[kept] * 2.0)
    assert layer.backward(grad_output, needs_input_grad=False) is None


def test_gradcheck_float64_with_a_fixed_mask():
    x = np.random.default_rng(8).standard_normal((3, 4, 5))

    def forward(x):
        return F.dropout_forward(x, 0.3, True, np.random.default_rng(9))

    assert gradcheck(forward, F.dropout_backward, (x,))[0] <= 1e-7


def test_same_seed_same_mask_through_cnnlib_manual_seed():
    x = np.ones((10, 10))
    cnnlib.manual_seed(10)
    first = nn.Dropout()(x)
    cnnlib.manual_seed(10)
    layer = nn.Dropout()
    again = layer(x)
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(again, layer(x))  # the generator moves on
    cnnlib.manual_seed(11)
    assert not np.array_equal(first, nn.Dropout()(x))
    rng_a, rng_b = np.random.default_rng(12), np.random.default_rng(12)
    np.testing.assert_array_equal(
        nn.Dropout(rng=rng_a)(x), F.dropout(x, 0.5, True, rng_b)
    )


def test_forward_and_backward_modify_no_input():
    x = np.random.default_rng(13).standard_normal((4, 4))
    g = np.ones((4, 4))
    x_copy = x.copy()
    layer = nn.Dropout(0.5)
    layer(x)
    layer.backward(g)
    np.testing.assert_array_equal(x, x_copy)
    np.testing.assert_array_equal(g, 1.0)
    assert repr(layer) == "Dropout(p=0.5)"


@pytest.mark.parametrize(
    "call, words",
    [
        (lambda: nn.Dropout(1.5), ["p", "[0, 1]", "1.5"]),
        (lambda: nn.Dropout(-0.1), ["p", "[0, 1]"]),
        (lambda: nn.Dropout("0.5"), ["p", "str"]),
        (lambda: F.dropout([1.0, 2.0]), ["x", "NumPy array"]),
        (lambda: F.dropout(np.arange(4)), ["x", "float32 or float64"]),
        (
            lambda: F.dropout_backward(np.ones(3), F.dropout_forward(np.ones(4))[1]),
            ["grad_output", "(4,)"],
        ),
    ],
)
def test_bad_input_raises_value_error_naming_it(call, words):
    with pytest.raises(ValueError) as error:
        call()
    for word in words:
        assert word in str(error.value)
