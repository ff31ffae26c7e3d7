"""cnnlib.linear: the fully connected op against the loop oracle, torch and centered differences."""

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

from cnnlib import functional as F
from cnnlib import loops
from cnnlib.gradcheck import gradcheck

# Every test here runs on the tuned kernels and on the readable ops.
pytestmark = pytest.mark.usefixtures("both_paths")


@pytest.mark.parametrize("n, fan_in, fan_out, has_bias", [(1, 1, 1, True), (5, 7, 3, True), (4, 800, 120, False), (64, 120, 10, True)])
def test_forward_and_backward_match_torch_and_loops(n, fan_in, fan_out, has_bias):
    rng = np.random.default_rng(0)
    x, weight = rng.standard_normal((n, fan_in)), rng.standard_normal((fan_out, fan_in))
    bias = rng.standard_normal(fan_out) if has_bias else None
    out32 = F.linear(x.astype(np.float32), weight.astype(np.float32), None if bias is None else bias.astype(np.float32))
    expected32 = TF.linear(*(torch.from_numpy(a.astype(np.float32)) for a in (x, weight)), None if bias is None else torch.from_numpy(bias.astype(np.float32)))
    assert out32.dtype == np.float32
    assert np.abs(out32 - expected32.numpy()).max() <= 1e-5 * np.abs(expected32.numpy()).max()
    assert np.abs(out32 - loops.linear(x, weight, bias)).max() <= 1e-5 * np.abs(out32).max()

    out, cache = F.linear_forward(x, weight, bias)
    grad_output = rng.standard_normal(out.shape)
    grad_x, grad_weight, grad_bias = F.linear_backward(grad_output, cache)
    tx, tw = torch.tensor(x, requires_grad=True), torch.tensor(weight, requires_grad=True)
    tb = None if bias is None else torch.tensor(bias, requires_grad=True)
    TF.linear(tx, tw, tb).backward(torch.from_numpy(grad_output))
    np.testing.assert_allclose(grad_x, tx.grad.numpy(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(grad_weight, tw.grad.numpy(), rtol=1e-12, atol=1e-12)
    assert (grad_bias is None) if bias is None else np.allclose(grad_bias, tb.grad.numpy(), rtol=1e-12)
    loop = loops.linear_backward(grad_output, loops.linear_forward(x, weight, bias)[1])
    np.testing.assert_allclose(grad_x, loop[0], rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(grad_weight, loop[1], rtol=1e-10, atol=1e-12)


def test_gradcheck_float64():
    rng = np.random.default_rng(1)
    inputs = (rng.standard_normal((3, 6)), rng.standard_normal((4, 6)), rng.standard_normal(4))
    assert max(gradcheck(F.linear_forward, F.linear_backward, inputs)) <= 1e-7


def test_inputs_untouched():
    rng = np.random.default_rng(2)
    x, weight, bias = rng.standard_normal((3, 6)), rng.standard_normal((4, 6)), rng.standard_normal(4)
    copies = [a.copy() for a in (x, weight, bias)]
    out, cache = F.linear_forward(x, weight, bias)
    F.linear_backward(np.ones(out.shape), cache)
    for original, copy in zip((x, weight, bias), copies):
        np.testing.assert_array_equal(original, copy)


@pytest.mark.parametrize(
    "x_shape, w_shape, b_shape, words",
    [
        ((3, 1, 6), (4, 6), None, ["x", "(3, 1, 6)"]),
        ((3, 6), (4, 5), None, ["features", "(3, 6)", "(4, 5)"]),
        ((3, 6), (4, 6), (5,), ["bias", "(4,)", "(5,)"]),
    ],
)
def test_bad_input_raises_value_error_naming_it(x_shape, w_shape, b_shape, words):
    bias = None if b_shape is None else np.zeros(b_shape)
    with pytest.raises(ValueError) as error:
        F.linear(np.zeros(x_shape), np.zeros(w_shape), bias)
    for word in words:
        assert word in str(error.value)
