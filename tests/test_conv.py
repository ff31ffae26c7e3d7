"""cnnlib.conv (via cnnlib.functional): forward against the loop oracle and torch, backward against torch
autograd, the loop backward of cnnlib.loops, and centered differences; bad input; no mutation."""

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

from cnnlib import functional as F
from cnnlib import loops
from cnnlib.gradcheck import gradcheck
from cnnlib.shapes import conv_output_size

# Every test here runs on the tuned kernels and on the readable ops.
pytestmark = pytest.mark.usefixtures("both_paths")

# (N, C_in, H, W, C_out, kernel, stride, padding, dilation, bias): batch 1, odd sizes, non-square
# kernels, stride > 1, padding, dilation, no bias, 1x1 kernels, a kernel as large as the padded input.
CASES = [
    (2, 3, 7, 9, 4, 3, 1, 0, 1, True),
    (1, 1, 5, 5, 1, 1, 1, 0, 1, False),
    (3, 2, 8, 6, 5, (3, 2), 2, 1, 1, True),
    (1, 4, 9, 11, 3, (2, 5), (2, 3), (1, 2), 1, True),
    (2, 3, 10, 9, 2, 3, 1, 2, 2, False),
    (2, 2, 11, 7, 3, (3, 2), (1, 2), (0, 1), (2, 3), True),
    (1, 3, 4, 4, 2, 6, 1, 1, 1, True),
    (2, 1, 28, 28, 4, 3, 1, 0, 1, True),
    # >= WIDE_CHANNELS input channels take the row-wise im2col and tap-wise input gradient
    (2, 16, 13, 13, 4, 3, 1, 0, 1, True),
    (1, 9, 8, 10, 3, (2, 3), (2, 1), 1, (2, 1), False),
    (2, 8, 9, 7, 2, (3, 2), (1, 2), (1, 0), 1, True),
]


def random_cases(count, seed=0):
    """Seeded random valid configurations (a poor man's hypothesis)."""
    rng = np.random.default_rng(seed)
    cases = []
    while len(cases) < count:
        kernel = tuple(int(k) for k in rng.integers(1, 5, 2))
        stride = tuple(int(s) for s in rng.integers(1, 4, 2))
        padding = tuple(int(p) for p in rng.integers(0, 3, 2))
        dilation = tuple(int(d) for d in rng.integers(1, 3, 2))
        h, w = (int(v) for v in rng.integers(3, 13, 2))
        try:
            conv_output_size((h, w), kernel, stride, padding, dilation)
        except ValueError:
            continue
        n, c_out = (int(v) for v in rng.integers(1, 4, 2))
        c_in = int(rng.choice([1, 2, 3, 8, 10]))
        cases.append((n, c_in, h, w, c_out, kernel, stride, padding, dilation, bool(rng.integers(2))))
    return cases


ALL_CASES = CASES + random_cases(16)


def make(case, dtype, seed=0):
    n, c_in, h, w, c_out, kernel, stride, padding, dilation, has_bias = case
    rng = np.random.default_rng(seed)
    kh, kw = (kernel, kernel) if isinstance(kernel, int) else kernel
    x = rng.standard_normal((n, c_in, h, w)).astype(dtype)
    weight = rng.standard_normal((c_out, c_in, kh, kw)).astype(dtype)
    bias = rng.standard_normal(c_out).astype(dtype) if has_bias else None
    return x, weight, bias, dict(stride=stride, padding=padding, dilation=dilation)


def relative(actual, expected):
    return np.abs(actual - expected).max() / max(np.abs(expected).max(), 1e-30)


@pytest.mark.parametrize("case", ALL_CASES)
def test_forward_matches_torch_and_loops_float32(case):
    x, weight, bias, kwargs = make(case, np.float32)
    out = F.conv2d(x, weight, bias, **kwargs)
    assert out.dtype == np.float32
    expected = TF.conv2d(torch.from_numpy(x), torch.from_numpy(weight), None if bias is None else torch.from_numpy(bias), **kwargs).numpy()
    assert out.shape == expected.shape
    assert relative(out, expected) <= 1e-5
    assert relative(out, loops.conv2d(x, weight, bias, **kwargs)) <= 1e-5


@pytest.mark.parametrize("case", ALL_CASES)
def test_backward_matches_torch_autograd_and_loop_backward(case):
    x, weight, bias, kwargs = make(case, np.float64)
    out, cache = F.conv2d_forward(x, weight, bias, **kwargs)
    grad_output = np.random.default_rng(1).standard_normal(out.shape)
    grad_x, grad_weight, grad_bias = F.conv2d_backward(grad_output, cache)

    tx, tw = torch.tensor(x, requires_grad=True), torch.tensor(weight, requires_grad=True)
    tb = None if bias is None else torch.tensor(bias, requires_grad=True)
    TF.conv2d(tx, tw, tb, **kwargs).backward(torch.from_numpy(grad_output))
    assert grad_x.shape == x.shape and grad_weight.shape == weight.shape
    assert relative(grad_x, tx.grad.numpy()) <= 1e-10
    assert relative(grad_weight, tw.grad.numpy()) <= 1e-10
    if bias is None:
        assert grad_bias is None
    else:
        assert relative(grad_bias, tb.grad.numpy()) <= 1e-10

    _, loop_cache = loops.conv2d_forward(x, weight, bias, **kwargs)
    loop_x, loop_weight, loop_bias = loops.conv2d_backward(grad_output, loop_cache)
    assert relative(grad_x, loop_x) <= 1e-10
    assert relative(grad_weight, loop_weight) <= 1e-10


@pytest.mark.parametrize("case", CASES[:6] + CASES[9:])
def test_gradcheck_float64(case):
    x, weight, bias, kwargs = make(case, np.float64)
    inputs = (x, weight) if bias is None else (x, weight, bias)
    errors = gradcheck(lambda *args: F.conv2d_forward(*args, **kwargs), F.conv2d_backward, inputs)
    errors = [e for e in errors if e is not None]
    assert len(errors) == len(inputs)
    assert max(errors) <= 1e-7


def test_float64_stays_float64_and_inputs_untouched():
    x, weight, bias, kwargs = make(CASES[3], np.float64)
    copies = [x.copy(), weight.copy(), bias.copy()]
    out, cache = F.conv2d_forward(x, weight, bias, **kwargs)
    grad_output = np.ones(out.shape)
    grads = F.conv2d_backward(grad_output, cache)
    assert out.dtype == np.float64 and all(g.dtype == np.float64 for g in grads)
    for original, copy in zip((x, weight, bias), copies):
        np.testing.assert_array_equal(original, copy)
    np.testing.assert_array_equal(grad_output, 1.0)
    # the returned arrays do not alias the inputs
    assert not np.shares_memory(out, x) and not np.shares_memory(grads[0], grad_output)


def test_one_by_one_convolution_is_a_matrix_multiply():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 5, 4, 3)).astype(np.float32)
    weight = rng.standard_normal((7, 5, 1, 1)).astype(np.float32)
    expected = np.einsum("oc,nchw->nohw", weight[:, :, 0, 0], x)
    np.testing.assert_allclose(F.conv2d(x, weight), expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize(
    "args, kwargs, words",
    [
        ((np.zeros((1, 28, 28), np.float32), np.zeros((4, 1, 3, 3), np.float32)), {}, ["x", "(1, 28, 28)"]),
        ((np.zeros((1, 2, 8, 8), np.float32), np.zeros((4, 3, 3, 3), np.float32)), {}, ["channels", "(1, 2, 8, 8)", "(4, 3, 3, 3)"]),
        ((np.zeros((1, 1, 8, 8), np.float32), np.zeros((4, 1, 3, 3), np.float32), np.zeros(3, np.float32)), {}, ["bias", "(4,)", "(3,)"]),
        ((np.zeros((1, 1, 4, 4), np.float32), np.zeros((4, 1, 5, 5), np.float32)), {}, ["kernel_size", "padded"]),
        ((np.zeros((1, 1, 8, 8), np.float32), np.zeros((4, 1, 3, 3), np.float32)), {"stride": 0}, ["stride"]),
        ((np.zeros((1, 1, 8, 8), np.float32), np.zeros((4, 1, 3, 3), np.float32)), {"padding": -1}, ["padding"]),
        ((np.zeros((1, 1, 8, 8), np.float32), np.zeros((4, 1, 3, 3), np.float32)), {"dilation": 1.5}, ["dilation"]),
        ((np.zeros((1, 1, 8, 8), np.float32), np.zeros((4, 1, 3, 3), np.float64)), {}, ["dtype", "weight"]),
        ((np.zeros((1, 1, 8, 8), np.int64), np.zeros((4, 1, 3, 3), np.float32)), {}, ["x", "float"]),
        (([[1.0]], np.zeros((4, 1, 3, 3), np.float32)), {}, ["x", "NumPy"]),
    ],
)
def test_bad_input_raises_value_error_naming_it(args, kwargs, words):
    with pytest.raises(ValueError) as error:
        F.conv2d(*args, **kwargs)
    for word in words:
        assert word in str(error.value)


def test_backward_rejects_wrong_grad_shape():
    x, weight, bias, kwargs = make(CASES[0], np.float32)
    out, cache = F.conv2d_forward(x, weight, bias, **kwargs)
    with pytest.raises(ValueError, match=r"grad_output.*\(2, 4, 5, 7\)"):
        F.conv2d_backward(np.zeros((2, 4, 5, 6), np.float32), cache)


@pytest.mark.parametrize("case", [CASES[0], CASES[8]])  # col2im path and tap-by-tap path
def test_backward_reads_nchw_and_channels_last_grad_output_alike(case):
    x, weight, bias, kwargs = make(case, np.float64)
    out, cache = F.conv2d_forward(x, weight, bias, **kwargs)
    grad_nchw = np.random.default_rng(2).standard_normal(out.shape)
    grad_channels_last = np.ascontiguousarray(grad_nchw.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2)
    assert not grad_channels_last.flags.c_contiguous
    for a, b in zip(F.conv2d_backward(grad_nchw, cache), F.conv2d_backward(grad_channels_last, cache)):
        if a is None:
            assert b is None
        else:
            assert relative(a, b) <= 1e-12
    tx, tw = torch.tensor(x, requires_grad=True), torch.tensor(weight, requires_grad=True)
    TF.conv2d(tx, tw, None if bias is None else torch.tensor(bias), **kwargs).backward(torch.from_numpy(grad_nchw))
    grad_x, grad_weight, _ = F.conv2d_backward(grad_channels_last, cache)
    assert relative(grad_x, tx.grad.numpy()) <= 1e-10 and relative(grad_weight, tw.grad.numpy()) <= 1e-10
