"""cnnlib.pooling: max and average pooling against the loop oracle and torch, including overlapping
windows (stride < kernel), ties, padding, dilation, batch 1 and odd sizes; gradcheck; bad input."""

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

from cnnlib import functional as F
from cnnlib import loops
from cnnlib.gradcheck import gradcheck

# Every test here runs on the tuned kernels and on the readable ops.
pytestmark = pytest.mark.usefixtures("both_paths")

# (N, C, H, W, kernel, stride, padding): non-overlapping, overlapping (stride < kernel), padded,
# non-square, odd sizes that leave a remainder, batch 1, a window as large as the input.
CASES = [
    (2, 3, 8, 8, 2, None, 0),
    (1, 2, 7, 9, 3, 1, 1),
    (2, 1, 9, 7, 3, 2, 1),
    (1, 3, 11, 10, (2, 3), (1, 2), (1, 1)),
    (3, 2, 5, 6, (3, 2), 1, (1, 0)),
    (1, 1, 4, 4, 4, None, 0),
    (2, 2, 13, 13, 2, 2, 0),
]


def relative(actual, expected):
    return np.abs(actual - expected).max() / max(np.abs(expected).max(), 1e-30)


def torch_pool(x, grad_output, kind, **kwargs):
    tx = torch.tensor(x, requires_grad=True)
    out = (TF.max_pool2d if kind == "max" else TF.avg_pool2d)(tx, **kwargs)
    if grad_output is not None:
        out.backward(torch.from_numpy(grad_output))
    return out.detach().numpy(), None if grad_output is None else tx.grad.numpy()


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("kind", ["max", "avg"])
def test_forward_matches_torch_and_loops(case, kind):
    n, c, h, w, kernel, stride, padding = case
    x = np.random.default_rng(0).standard_normal((n, c, h, w)).astype(np.float32)
    ours = (F.max_pool2d if kind == "max" else F.avg_pool2d)(x, kernel, stride, padding)
    expected, _ = torch_pool(x, None, kind, kernel_size=kernel, stride=stride, padding=padding)
    looped = (loops.max_pool2d if kind == "max" else loops.avg_pool2d)(x, kernel, stride, padding)
    assert ours.shape == expected.shape and ours.dtype == np.float32
    assert relative(ours, expected) <= 1e-5
    assert relative(ours, looped) <= 1e-5


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("kind", ["max", "avg"])
def test_backward_matches_torch_and_loop_backward(case, kind):
    n, c, h, w, kernel, stride, padding = case
    rng = np.random.default_rng(1)
    x = rng.standard_normal((n, c, h, w))
    forward, backward = (F.max_pool2d_forward, F.max_pool2d_backward) if kind == "max" else (F.avg_pool2d_forward, F.avg_pool2d_backward)
    out, cache = forward(x, kernel, stride, padding)
    grad_output = rng.standard_normal(out.shape)
    grad_x = backward(grad_output, cache)
    _, expected = torch_pool(x, grad_output, kind, kernel_size=kernel, stride=stride, padding=padding)
    loop_forward, loop_backward = (loops.max_pool2d_forward, loops.max_pool2d_backward) if kind == "max" else (loops.avg_pool2d_forward, loops.avg_pool2d_backward)
    assert grad_x.shape == x.shape
    assert relative(grad_x, expected) <= 1e-12
    assert relative(grad_x, loop_backward(grad_output, loop_forward(x, kernel, stride, padding)[1])) <= 1e-12


@pytest.mark.parametrize("case", CASES)
def test_max_pool_ties_follow_torch_first_maximum(case):
    """Inputs drawn from {0, 1, 2} tie in almost every window: the gradient must go to exactly one input
    per window -- the first maximum in row-major order -- and overlapping windows must add up."""
    n, c, h, w, kernel, stride, padding = case
    rng = np.random.default_rng(2)
    x = rng.integers(0, 3, (n, c, h, w)).astype(np.float64)
    out, cache = F.max_pool2d_forward(x, kernel, stride, padding)
    grad_output = rng.standard_normal(out.shape)
    expected_out, expected_grad = torch_pool(x, grad_output, "max", kernel_size=kernel, stride=stride, padding=padding)
    np.testing.assert_array_equal(out, expected_out)
    np.testing.assert_allclose(F.max_pool2d_backward(grad_output, cache), expected_grad, rtol=0, atol=1e-12)
    # every window sends its whole gradient somewhere, once
    np.testing.assert_allclose(F.max_pool2d_backward(grad_output, cache).sum(), grad_output.sum(), rtol=1e-12)


def test_all_equal_window_sends_gradient_to_its_first_element():
    x = np.ones((1, 1, 2, 2))
    out, cache = F.max_pool2d_forward(x, 2)
    np.testing.assert_array_equal(F.max_pool2d_backward(np.full((1, 1, 1, 1), 5.0), cache), [[[[5.0, 0.0], [0.0, 0.0]]]])


@pytest.mark.parametrize("dilation, padding", [(2, 0), ((2, 1), (1, 1)), (3, 1)])
def test_max_pool_dilation_matches_torch(dilation, padding):
    rng = np.random.default_rng(4)
    x = rng.standard_normal((2, 3, 11, 10))
    out, cache = F.max_pool2d_forward(x, 3, 1, padding, dilation)
    grad_output = rng.standard_normal(out.shape)
    expected_out, expected_grad = torch_pool(x, grad_output, "max", kernel_size=3, stride=1, padding=padding, dilation=dilation)
    np.testing.assert_array_equal(out, expected_out)
    np.testing.assert_allclose(F.max_pool2d_backward(grad_output, cache), expected_grad, atol=1e-12)


@pytest.mark.parametrize("case", CASES[1:5])
def test_avg_pool_without_counting_padding_matches_torch(case):
    n, c, h, w, kernel, stride, padding = case
    rng = np.random.default_rng(5)
    x = rng.standard_normal((n, c, h, w))
    out, cache = F.avg_pool2d_forward(x, kernel, stride, padding, count_include_pad=False)
    grad_output = rng.standard_normal(out.shape)
    expected_out, expected_grad = torch_pool(x, grad_output, "avg", kernel_size=kernel, stride=stride, padding=padding, count_include_pad=False)
    np.testing.assert_allclose(out, expected_out, atol=1e-12)
    np.testing.assert_allclose(F.avg_pool2d_backward(grad_output, cache), expected_grad, atol=1e-12)


@pytest.mark.parametrize("case", CASES[:5])
@pytest.mark.parametrize("kind", ["max", "avg"])
def test_gradcheck_float64(case, kind):
    n, c, h, w, kernel, stride, padding = case
    x = np.random.default_rng(6).standard_normal((n, c, h, w))  # distinct values: no ties, no kinks
    forward, backward = (F.max_pool2d_forward, F.max_pool2d_backward) if kind == "max" else (F.avg_pool2d_forward, F.avg_pool2d_backward)
    (error,) = gradcheck(lambda v: forward(v, kernel, stride, padding), backward, (x,))
    assert error <= 1e-7


@pytest.mark.parametrize("kind", ["max", "avg"])
def test_inputs_untouched_and_dtype_kept(kind):
    x = np.random.default_rng(7).standard_normal((2, 3, 7, 7)).astype(np.float32)
    copy = x.copy()
    forward, backward = (F.max_pool2d_forward, F.max_pool2d_backward) if kind == "max" else (F.avg_pool2d_forward, F.avg_pool2d_backward)
    out, cache = forward(x, 3, 2, 1)
    grad_output = np.ones(out.shape, np.float32)
    grad_x = backward(grad_output, cache)
    np.testing.assert_array_equal(x, copy)
    np.testing.assert_array_equal(grad_output, 1.0)
    assert out.dtype == grad_x.dtype == np.float32
    assert not np.shares_memory(out, x)


@pytest.mark.parametrize("function", [F.max_pool2d, F.avg_pool2d])
@pytest.mark.parametrize(
    "x_shape, args, words",
    [
        ((3, 8, 8), (2,), ["x", "(3, 8, 8)"]),
        ((1, 1, 8, 8), (3, 1, 2), ["padding", "half"]),
        ((1, 1, 3, 3), (4,), ["kernel_size", "padded"]),
        ((1, 1, 8, 8), (2, 0), ["stride"]),
        ((1, 1, 8, 8), (2.0,), ["kernel_size"]),
    ],
)
def test_bad_input_raises_value_error_naming_it(function, x_shape, args, words):
    with pytest.raises(ValueError) as error:
        function(np.zeros(x_shape, np.float32), *args)
    for word in words:
        assert word in str(error.value)


def test_backward_rejects_wrong_grad_shape():
    out, cache = F.max_pool2d_forward(np.zeros((1, 2, 6, 6)), 2)
    with pytest.raises(ValueError, match=r"grad_output.*\(1, 2, 3, 3\)"):
        F.max_pool2d_backward(np.zeros((1, 2, 3, 2)), cache)


def test_max_pool_backward_sends_nothing_to_inputs_in_no_window():
    # kernel 2, dilation 2, stride 3 on 6 x 6: the windows cover inputs {0, 2} and {3, 5} of each axis and
    # never 1 or 4, although the windows' spans tile the input; those inputs' gradient must be exactly 0.
    x = np.random.default_rng(11).standard_normal((2, 3, 6, 6))
    out, cache = F.max_pool2d_forward(x, 2, stride=3, dilation=2)
    _, expected = torch_pool(x, np.ones(out.shape), "max", kernel_size=2, stride=3, dilation=2)
    for _ in range(3):
        garbage = np.full((2, 6, 6, 3), np.nan)  # freed just before: memory the allocator may hand out again
        del garbage
        grad_x = F.max_pool2d_backward(np.ones(out.shape), cache)
        np.testing.assert_array_equal(grad_x, expected)
        assert not grad_x[:, :, [1, 4], :].any() and not grad_x[:, :, :, [1, 4]].any()
