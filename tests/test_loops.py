"""The loops of ``cnnlib.loops`` (Part I) against ``torch.nn.functional`` and autograd.

* Forward ops match torch in float32 and float64; ``op(...)`` is ``op_forward(...)[0]``.
* Backward ops, given the forward's cache, match autograd in float64 (ties, overlapping
  windows, padding, stride, dilation, non-square kernels) and keep float32.
* Lists and integer arrays are computed in float64; no op changes its inputs.
* A hand-built mini network's chain rule matches centered differences.
* Bad arguments raise a ``ValueError`` whose message names the argument and the shapes.

Tolerances: float64 results match torch to 1e-10 (the same sums in another order);
float32 results to 1e-5 relative and absolute.
"""

import re
import zlib

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from cnnlib import loops

TOLERANCE = {
    np.float32: {"rtol": 1e-5, "atol": 1e-5},
    np.float64: {"rtol": 1e-10, "atol": 1e-10},
}
DTYPES = [np.float32, np.float64]
RTOL, ATOL = 1e-10, 1e-12  # backward passes, float64


def random_array(shape, dtype=np.float64, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


def rng_for(*key):
    """A generator seeded by the test case, so each case draws its own numbers."""
    return np.random.default_rng(zlib.crc32(repr(key).encode()))


def assert_matches_torch(ours, theirs, dtype):
    theirs = theirs.detach().numpy()
    assert ours.dtype == dtype, f"dtype {ours.dtype}, expected {np.dtype(dtype)}"
    assert ours.shape == theirs.shape
    np.testing.assert_allclose(ours, theirs, **TOLERANCE[dtype])


def torch_grads(op, inputs, grad_output):
    """Run ``op`` on float64 leaves made from ``inputs``, backprop ``grad_output``."""
    leaves = [torch.tensor(a, dtype=torch.float64, requires_grad=True) for a in inputs]
    out = op(*leaves)
    out.backward(torch.from_numpy(np.asarray(grad_output, dtype=np.float64)))
    return [leaf.grad.numpy() for leaf in leaves]


def assert_grads_match(got, expected):
    assert len(got) == len(expected)
    for g, e in zip(got, expected):
        assert isinstance(g, np.ndarray) and g.shape == e.shape
        np.testing.assert_allclose(g, e, rtol=RTOL, atol=ATOL)


# -------------------------------------------------------------------------- correlate2d


@pytest.mark.parametrize(
    "image_shape, kernel_shape",
    [((5, 5), (3, 3)), ((7, 4), (2, 3)), ((1, 6), (1, 2)), ((4, 4), (4, 4)),
     ((28, 28), (3, 3))],
)  # fmt: skip
@pytest.mark.parametrize("dtype", DTYPES)
def test_correlate2d_matches_torch(image_shape, kernel_shape, dtype):
    image = random_array(image_shape, dtype, seed=1)
    kernel = random_array(kernel_shape, dtype, seed=2)
    ours = loops.correlate2d(image, kernel)
    theirs = F.conv2d(
        torch.from_numpy(image)[None, None], torch.from_numpy(kernel)[None, None]
    )[0, 0]
    assert_matches_torch(ours, theirs, dtype)


def test_correlate2d_small_example_by_hand():
    # Not flipped: the top-left output is 1*1 + 2*0 + 4*0 + 5*(-1) = -4.
    image = np.arange(1, 10, dtype=np.float64).reshape(3, 3)
    kernel = np.array([[1.0, 0.0], [0.0, -1.0]])
    np.testing.assert_array_equal(
        loops.correlate2d(image, kernel), [[-4.0, -4.0], [-4.0, -4.0]]
    )
    kernel = np.array(
        [[0.0, 1.0], [0.0, 0.0]]
    )  # the top-right tap: shifted left by one
    np.testing.assert_array_equal(
        loops.correlate2d(image, kernel), [[2.0, 3.0], [5.0, 6.0]]
    )


def test_correlate2d_integer_input_gives_float64():
    out = loops.correlate2d(
        np.arange(16).reshape(4, 4), np.ones((2, 2), dtype=np.int64)
    )
    assert out.dtype == np.float64
    assert out[0, 0] == 0 + 1 + 4 + 5


# ------------------------------------------------------------------------------- conv2d

# (N, C_in, H, W, C_out, kernel, stride, padding, dilation, bias)
CONV_CASES = [
    (1, 1, 5, 5, 1, 3, 1, 0, 1, False),
    (2, 3, 7, 6, 4, 3, 1, 1, 1, True),
    (1, 2, 9, 8, 3, (3, 2), (2, 1), (1, 2), 1, True),
    (2, 1, 10, 9, 2, 3, 2, 0, 2, True),
    (1, 3, 11, 7, 2, (2, 3), 3, (2, 0), (2, 1), False),
    (3, 2, 6, 6, 5, 1, 1, 0, 1, True),  # 1x1 convolution
    (1, 1, 4, 4, 1, 4, 1, 0, 1, True),  # kernel as large as the input: a 1x1 output
    (1, 2, 5, 5, 2, 5, 2, 3, 1, True),  # padding larger than half the kernel
    (2, 1, 28, 28, 3, 3, 1, 0, 1, True),  # MNIST-sized
    (1, 4, 8, 13, 2, (1, 5), (1, 3), (0, 2), (1, 2), True),
]


def conv_inputs(case, dtype=np.float64):
    n, c_in, h, w, c_out, kernel, stride, padding, dilation, use_bias = case
    kh, kw = (kernel, kernel) if isinstance(kernel, int) else kernel
    x = random_array((n, c_in, h, w), dtype, seed=3)
    weight = random_array((c_out, c_in, kh, kw), dtype, seed=4)
    bias = random_array((c_out,), dtype, seed=5) if use_bias else None
    return x, weight, bias, {"stride": stride, "padding": padding, "dilation": dilation}


@pytest.mark.parametrize("case", CONV_CASES, ids=[str(c) for c in CONV_CASES])
@pytest.mark.parametrize("dtype", DTYPES)
def test_conv2d_matches_torch(case, dtype):
    x, weight, bias, kwargs = conv_inputs(case, dtype)
    ours = loops.conv2d(x, weight, bias, **kwargs)
    theirs = F.conv2d(
        torch.from_numpy(x),
        torch.from_numpy(weight),
        None if bias is None else torch.from_numpy(bias),
        **kwargs,
    )
    assert_matches_torch(ours, theirs, dtype)


def test_conv2d_accepts_lists_for_pairs():
    x, weight = random_array((1, 1, 6, 7)), random_array((1, 1, 2, 3))
    np.testing.assert_array_equal(
        loops.conv2d(x, weight, stride=[2, 1], padding=[1, 0], dilation=[1, 2]),
        loops.conv2d(x, weight, stride=(2, 1), padding=(1, 0), dilation=(1, 2)),
    )


def test_conv2d_float64_weight_on_float32_input_keeps_float32():
    out, cache = loops.conv2d_forward(
        random_array((1, 1, 5, 5), np.float32),
        random_array((2, 1, 3, 3), np.float64),
        random_array((2,), np.float64),
    )
    assert out.dtype == np.float32
    grads = loops.conv2d_backward(np.ones(out.shape, np.float32), cache)
    assert [g.dtype for g in grads] == [np.float32] * 3


def test_conv2d_equals_correlate2d_for_one_channel():
    x, weight = random_array((1, 1, 8, 9), seed=6), random_array((1, 1, 3, 2), seed=7)
    np.testing.assert_array_equal(
        loops.conv2d(x, weight)[0, 0], loops.correlate2d(x[0, 0], weight[0, 0])
    )


# ------------------------------------------------------------------------------ pooling

# (N, C, H, W, kernel, stride, padding, dilation)
POOL_CASES = [
    (1, 1, 4, 4, 2, None, 0, 1),
    (2, 3, 26, 26, 2, 2, 0, 1),  # 26x26 -> 13x13 as in the Keras-style net
    (2, 3, 8, 8, 2, None, 0, 1),
    (1, 2, 7, 7, 3, 2, 0, 1),  # overlapping windows, odd size
    (1, 2, 7, 7, 3, 1, 0, 1),  # overlapping, stride 1
    (2, 1, 9, 8, 3, 2, 1, 1),  # overlapping + padding
    (2, 2, 7, 9, 3, 2, 1, 1),
    (1, 2, 5, 6, (2, 3), (1, 2), (1, 1), 1),  # non-square
    (1, 3, 6, 9, (2, 3), (1, 2), (1, 1), 1),
    (1, 1, 5, 5, 3, 1, 1, 1),  # stride 1, every input in up to 9 windows
    (1, 1, 5, 5, 2, 1, 1, 1),
    (1, 2, 11, 11, 4, 3, 2, 1),
    (2, 1, 9, 8, (3, 2), (3, 2), 0, 1),
    (1, 1, 3, 3, 3, None, 0, 1),  # a single window
]
# Max pooling only (torch's avg_pool2d has no dilation).
DILATED_POOL_CASES = [
    (1, 2, 9, 9, 3, 1, 0, 2),  # overlapping, dilated
    (2, 1, 10, 8, (2, 3), (2, 1), (1, 1), (3, 2)),  # non-square, padded, dilated
    (1, 1, 7, 7, 2, 1, 1, 2),
    (1, 2, 12, 11, 3, 2, 1, (2, 3)),
]
MAX_POOL_CASES = POOL_CASES + DILATED_POOL_CASES


def pool_args(case):
    n, c, h, w, kernel, stride, padding, dilation = case
    return (
        (n, c, h, w),
        {"kernel_size": kernel, "stride": stride, "padding": padding},
        dilation,
    )


@pytest.mark.parametrize("case", MAX_POOL_CASES, ids=[str(c) for c in MAX_POOL_CASES])
@pytest.mark.parametrize("dtype", DTYPES)
def test_max_pool2d_matches_torch(case, dtype):
    shape, kwargs, dilation = pool_args(case)
    x = random_array(shape, dtype, seed=8)
    ours = loops.max_pool2d(x, **kwargs, dilation=dilation)
    assert_matches_torch(
        ours, F.max_pool2d(torch.from_numpy(x), **kwargs, dilation=dilation), dtype
    )


@pytest.mark.parametrize("case", POOL_CASES, ids=[str(c) for c in POOL_CASES])
@pytest.mark.parametrize("dtype", DTYPES)
def test_avg_pool2d_matches_torch(case, dtype):
    shape, kwargs, _ = pool_args(case)
    x = random_array(shape, dtype, seed=9)
    ours = loops.avg_pool2d(x, **kwargs)
    # count_include_pad=True is torch's default
    assert_matches_torch(ours, F.avg_pool2d(torch.from_numpy(x), **kwargs), dtype)


def test_avg_pool2d_counts_padding_zeros():
    # A 2x2 window at the corner of a padded all-ones input covers 1 one and 3 zeros.
    out = loops.avg_pool2d(np.ones((1, 1, 2, 2)), 2, stride=2, padding=1)
    np.testing.assert_array_equal(out, np.full((1, 1, 2, 2), 0.25))


@pytest.mark.parametrize("case", MAX_POOL_CASES, ids=[str(c) for c in MAX_POOL_CASES])
def test_max_pool2d_indices_match_torch_with_ties(case):
    shape, kwargs, dilation = pool_args(case)
    # Small integers make many ties: the first maximum in row-major order must win.
    x = np.random.default_rng(10).integers(0, 3, size=shape).astype(np.float64)
    out, indices = loops.max_pool2d_with_indices(x, **kwargs, dilation=dilation)
    torch_out, torch_indices = F.max_pool2d(
        torch.from_numpy(x), **kwargs, dilation=dilation, return_indices=True
    )
    np.testing.assert_array_equal(out, torch_out.numpy())
    np.testing.assert_array_equal(indices, torch_indices.numpy())
    assert indices.dtype == np.int64


def test_max_pool2d_tie_goes_to_first_in_row_major_order():
    x = np.array([[[[1.0, 5.0], [5.0, 5.0]]]])
    out, indices = loops.max_pool2d_with_indices(x, 2)
    assert out[0, 0, 0, 0] == 5.0
    assert indices[0, 0, 0, 0] == 1  # row 0, col 1: the first 5 met reading row by row


def test_max_pool2d_padding_never_wins():
    x = -np.ones((1, 1, 3, 3))  # all negative: a zero pad would win, -inf must not
    np.testing.assert_array_equal(
        loops.max_pool2d(x, 2, stride=2, padding=1), -np.ones((1, 1, 2, 2))
    )


# ----------------------------------------------- activations, linear, softmax, flatten


@pytest.mark.parametrize("dtype", DTYPES)
def test_relu_sigmoid_tanh_match_torch(dtype):
    x = random_array((2, 3, 4, 5), dtype, seed=11) * 5
    x[0, 0, 0, :3] = [0.0, -0.0, 80.0]
    assert_matches_torch(loops.relu(x), torch.relu(torch.from_numpy(x)), dtype)
    assert_matches_torch(loops.sigmoid(x), torch.sigmoid(torch.from_numpy(x)), dtype)
    assert_matches_torch(loops.tanh(x), torch.tanh(torch.from_numpy(x)), dtype)


def test_sigmoid_does_not_overflow():
    with np.errstate(over="raise"):
        out = loops.sigmoid(np.array([-1000.0, 0.0, 1000.0]))
    np.testing.assert_array_equal(out, [0.0, 0.5, 1.0])


LINEAR_CASES = [(1, 5, 3, True), (4, 800, 10, True), (3, 7, 1, False)]


@pytest.mark.parametrize("n, in_features, out_features, use_bias", LINEAR_CASES)
@pytest.mark.parametrize("dtype", DTYPES)
def test_linear_matches_torch(n, in_features, out_features, use_bias, dtype):
    x = random_array((n, in_features), dtype, seed=12)
    weight = random_array((out_features, in_features), dtype, seed=13)
    bias = random_array((out_features,), dtype, seed=14) if use_bias else None
    theirs = F.linear(
        torch.from_numpy(x),
        torch.from_numpy(weight),
        None if bias is None else torch.from_numpy(bias),
    )
    assert_matches_torch(loops.linear(x, weight, bias), theirs, dtype)


@pytest.mark.parametrize("shape", [(10,), (3, 10), (2, 3, 4)])
@pytest.mark.parametrize("dtype", DTYPES)
def test_softmax_matches_torch(shape, dtype):
    logits = random_array(shape, dtype, seed=15) * 10
    ours = loops.softmax(logits)
    theirs = torch.softmax(torch.from_numpy(logits), dim=-1)
    assert_matches_torch(ours, theirs, dtype)
    np.testing.assert_allclose(ours.sum(axis=-1), 1.0, **TOLERANCE[dtype])


def test_softmax_is_stable_for_huge_logits():
    with np.errstate(over="raise", invalid="raise"):
        out = loops.softmax(np.array([[1000.0, 1000.0, -1000.0], [1e308, 0.0, 0.0]]))
    np.testing.assert_allclose(out, [[0.5, 0.5, 0.0], [1.0, 0.0, 0.0]])


@pytest.mark.parametrize("shape", [(2, 3, 4, 5), (1, 128, 1, 1), (3, 7)])
def test_flatten_matches_torch_and_copies(shape):
    x = random_array(shape, seed=16)
    out = loops.flatten(x)
    np.testing.assert_array_equal(out, torch.flatten(torch.from_numpy(x), 1).numpy())
    out[...] = 0  # a copy: the input must not change
    assert not np.all(x == 0)


# ---------------------------------------------------- op(...) is op_forward(...)[0]

X_SMALL = random_array((2, 2, 6, 6), seed=21)
FORWARD_PAIRS = {
    "conv2d": (
        loops.conv2d,
        loops.conv2d_forward,
        (X_SMALL, random_array((3, 2, 3, 2), seed=22), random_array((3,), seed=23)),
        {"stride": (2, 1), "padding": 1, "dilation": (1, 2)},
    ),
    "max_pool2d": (
        loops.max_pool2d,
        loops.max_pool2d_forward,
        (X_SMALL, 3),
        {"stride": 2, "padding": 1, "dilation": 2},
    ),
    "avg_pool2d": (
        loops.avg_pool2d,
        loops.avg_pool2d_forward,
        (X_SMALL, (3, 2)),
        {"stride": 1, "padding": (1, 0)},
    ),
    "relu": (loops.relu, loops.relu_forward, (X_SMALL,), {}),
    "linear": (
        loops.linear,
        loops.linear_forward,
        (
            X_SMALL.reshape(2, -1),
            random_array((4, 72), seed=24),
            random_array(4, seed=25),
        ),
        {},
    ),
    "cross_entropy": (
        loops.cross_entropy,
        loops.cross_entropy_forward,
        (random_array((4, 5), seed=26), np.array([0, 4, 2, 2])),
        {},
    ),
}


@pytest.mark.parametrize("name", FORWARD_PAIRS)
def test_op_returns_the_output_of_op_forward(name):
    op, op_forward, args, kwargs = FORWARD_PAIRS[name]
    result = op_forward(*args, **kwargs)
    assert isinstance(result, tuple) and len(result) == 2
    np.testing.assert_array_equal(op(*args, **kwargs), result[0])


# ------------------------------------------------------- lists and integers -> float64

INT_X = np.random.default_rng(27).integers(-3, 4, (2, 2, 5, 5))
INT_W = np.random.default_rng(28).integers(-2, 3, (3, 2, 2, 3))
INT_FC = np.random.default_rng(29).integers(-2, 3, (4, 50))
INT_LOGITS = np.random.default_rng(30).integers(-3, 4, (3, 4))
INTEGER_FORWARD_CASES = {
    "conv2d": (loops.conv2d, (INT_X, INT_W, [1, -1, 2]), {"padding": 1}),
    "max_pool2d": (loops.max_pool2d, (INT_X, 2), {"stride": 1, "dilation": 2}),
    "avg_pool2d": (loops.avg_pool2d, (INT_X, 3), {"padding": 1}),
    "relu": (loops.relu, (INT_X,), {}),
    "sigmoid": (loops.sigmoid, (INT_X,), {}),
    "tanh": (loops.tanh, (INT_X,), {}),
    "linear": (loops.linear, (INT_X.reshape(2, -1), INT_FC, [1, 0, -1, 2]), {}),
    "softmax": (loops.softmax, (INT_LOGITS,), {}),
    "flatten": (loops.flatten, (INT_X,), {}),
}


@pytest.mark.parametrize("name", INTEGER_FORWARD_CASES)
@pytest.mark.parametrize("container", ["integer array", "list"])
def test_integers_and_lists_are_computed_in_float64(name, container):
    op, args, kwargs = INTEGER_FORWARD_CASES[name]
    as_float = [a.astype(np.float64) if isinstance(a, np.ndarray) else a for a in args]
    if container == "list":
        args = [a.tolist() if isinstance(a, np.ndarray) else a for a in args]
    out = op(*args, **kwargs)
    assert out.dtype == np.float64
    np.testing.assert_array_equal(out, op(*as_float, **kwargs))


def test_cross_entropy_of_integer_logits_is_computed_in_float64():
    targets = np.array([0, 3, 1])
    loss, cache = loops.cross_entropy_forward(INT_LOGITS.tolist(), targets)
    expected = F.cross_entropy(
        torch.from_numpy(INT_LOGITS.astype(np.float64)), torch.from_numpy(targets)
    )
    assert type(loss) is float  # a Python float, not np.float64
    np.testing.assert_allclose(loss, expected.item(), rtol=RTOL)
    assert loops.cross_entropy_backward(1.0, cache).dtype == np.float64


# ---------------------------------------------------------------------- conv2d backward

# (N, C_in, H, W, C_out, kernel, stride, padding, dilation)
CONV_BACKWARD_CASES = [
    (2, 3, 7, 7, 4, 3, 1, 0, 1),
    (1, 1, 6, 6, 1, 2, 2, 0, 1),
    (2, 2, 7, 6, 3, (2, 3), (2, 1), (1, 0), 1),
    (1, 3, 8, 9, 2, (3, 2), 3, 2, 1),
    (2, 2, 9, 9, 2, 3, 1, 1, 2),
    (1, 2, 10, 8, 3, (2, 3), (2, 3), (1, 2), (3, 1)),
    (3, 1, 5, 5, 2, 5, 1, 0, 1),
    (1, 4, 4, 4, 2, 1, 1, 0, 1),
]


@pytest.mark.parametrize("case", CONV_BACKWARD_CASES, ids=str)
@pytest.mark.parametrize("use_bias", [True, False], ids=["bias", "no bias"])
def test_conv2d_backward_matches_torch(case, use_bias):
    n, c_in, h, w, c_out, kernel, stride, padding, dilation = case
    rng = rng_for(case)
    kh, kw = (kernel, kernel) if isinstance(kernel, int) else kernel
    x = rng.standard_normal((n, c_in, h, w))
    weight = rng.standard_normal((c_out, c_in, kh, kw))
    bias = rng.standard_normal(c_out) if use_bias else None
    kwargs = {"stride": stride, "padding": padding, "dilation": dilation}
    out, cache = loops.conv2d_forward(x, weight, bias, **kwargs)
    grad_output = rng.standard_normal(out.shape)
    if use_bias:
        expected = torch_grads(
            lambda x_, w_, b_: F.conv2d(x_, w_, b_, **kwargs),
            [x, weight, bias],
            grad_output,
        )
    else:
        expected = torch_grads(
            lambda x_, w_: F.conv2d(x_, w_, **kwargs), [x, weight], grad_output
        )
    grad_x, grad_weight, grad_bias = loops.conv2d_backward(grad_output, cache)
    if use_bias:
        assert_grads_match([grad_x, grad_weight, grad_bias], expected)
    else:
        assert grad_bias is None
        assert_grads_match([grad_x, grad_weight], expected)


# --------------------------------------------------------------------- pooling backward


@pytest.mark.parametrize("case", MAX_POOL_CASES, ids=[str(c) for c in MAX_POOL_CASES])
@pytest.mark.parametrize("values", ["distinct", "ties"])
def test_max_pool2d_backward_matches_torch(case, values):
    shape, kwargs, dilation = pool_args(case)
    rng = rng_for(case, values)
    # Few distinct integers make many tied maxima; torch routes to the first of them.
    if values == "ties":
        x = rng.integers(-1, 2, shape).astype(np.float64)
    else:
        x = rng.standard_normal(shape)
    out, cache = loops.max_pool2d_forward(x, **kwargs, dilation=dilation)
    grad_output = rng.standard_normal(out.shape)
    (expected,) = torch_grads(
        lambda t: F.max_pool2d(t, **kwargs, dilation=dilation), [x], grad_output
    )
    got = loops.max_pool2d_backward(grad_output, cache)
    assert_grads_match([got], [expected])


def test_max_pool2d_backward_with_dilation_by_hand():
    # A 2x2 kernel with dilation 2 on a 3x3 input reads only the four corners.
    x = np.array([[[[1.0, 9.0, 2.0], [9.0, 9.0, 9.0], [3.0, 9.0, 4.0]]]])
    out, cache = loops.max_pool2d_forward(x, 2, stride=1, dilation=2)
    np.testing.assert_array_equal(out, [[[[4.0]]]])
    grad = loops.max_pool2d_backward(np.array([[[[7.0]]]]), cache)
    expected = np.zeros_like(x)
    expected[0, 0, 2, 2] = 7.0
    np.testing.assert_array_equal(grad, expected)


def test_max_pool2d_backward_sends_tie_to_first_max_only():
    _, cache = loops.max_pool2d_forward(np.ones((1, 1, 2, 2)), 2)
    grad = loops.max_pool2d_backward(np.array([[[[5.0]]]]), cache)
    np.testing.assert_array_equal(grad, [[[[5.0, 0.0], [0.0, 0.0]]]])


def test_max_pool2d_backward_accumulates_overlapping_windows():
    # The centre value wins all four 2x2 windows of stride 1: its gradient is their sum.
    x = np.zeros((1, 1, 3, 3))
    x[0, 0, 1, 1] = 1.0
    _, cache = loops.max_pool2d_forward(x, 2, stride=1)
    grad = loops.max_pool2d_backward(np.array([[[[1.0, 2.0], [3.0, 4.0]]]]), cache)
    expected = np.zeros((1, 1, 3, 3))
    expected[0, 0, 1, 1] = 10.0
    np.testing.assert_array_equal(grad, expected)


@pytest.mark.parametrize("case", POOL_CASES, ids=[str(c) for c in POOL_CASES])
def test_avg_pool2d_backward_matches_torch(case):
    shape, kwargs, _ = pool_args(case)
    rng = rng_for(case)
    x = rng.standard_normal(shape)
    out, cache = loops.avg_pool2d_forward(x, **kwargs)
    grad_output = rng.standard_normal(out.shape)
    (expected,) = torch_grads(lambda t: F.avg_pool2d(t, **kwargs), [x], grad_output)
    assert_grads_match([loops.avg_pool2d_backward(grad_output, cache)], [expected])


# ---------------------------------------------------------- ReLU and linear backward


def test_relu_backward_matches_torch_including_zeros():
    rng = np.random.default_rng(1)
    x = rng.integers(-2, 3, (2, 3, 4, 5)).astype(np.float64)  # many exact zeros
    assert np.any(x == 0)
    grad_output = rng.standard_normal(x.shape)
    (expected,) = torch_grads(torch.relu, [x], grad_output)
    _, cache = loops.relu_forward(x)
    got = loops.relu_backward(grad_output, cache)
    np.testing.assert_array_equal(got, expected)
    assert got is not grad_output


@pytest.mark.parametrize(
    "n, in_features, out_features", [(1, 1, 1), (4, 7, 3), (5, 800, 120)]
)
@pytest.mark.parametrize("use_bias", [True, False], ids=["bias", "no bias"])
def test_linear_backward_matches_torch(n, in_features, out_features, use_bias):
    rng = rng_for(n, in_features, out_features)
    x = rng.standard_normal((n, in_features))
    weight = rng.standard_normal((out_features, in_features))
    bias = rng.standard_normal(out_features) if use_bias else None
    grad_output = rng.standard_normal((n, out_features))
    inputs = [x, weight] + ([bias] if use_bias else [])
    expected = torch_grads(F.linear, inputs, grad_output)
    _, cache = loops.linear_forward(x, weight, bias)
    grad_x, grad_weight, grad_bias = loops.linear_backward(grad_output, cache)
    if use_bias:
        assert_grads_match([grad_x, grad_weight, grad_bias], expected)
    else:
        assert grad_bias is None
        assert_grads_match([grad_x, grad_weight], expected)


# ------------------------------------------------------------ cross-entropy backward


@pytest.mark.parametrize(
    "n, classes, scale", [(1, 2, 1.0), (6, 10, 3.0), (8, 10, 300.0)]
)
@pytest.mark.parametrize("upstream", [1.0, 0.25])
def test_cross_entropy_matches_torch(n, classes, scale, upstream):
    rng = rng_for(n, classes, scale)
    logits = scale * rng.standard_normal((n, classes))  # 300: exp overflows unshifted
    targets = rng.integers(0, classes, n)
    logits_t = torch.tensor(logits, requires_grad=True)
    loss_t = F.cross_entropy(logits_t, torch.from_numpy(targets))
    (upstream * loss_t).backward()
    loss, cache = loops.cross_entropy_forward(logits, targets)
    grad = loops.cross_entropy_backward(upstream, cache)
    assert type(loss) is float  # a Python float, not np.float64
    np.testing.assert_allclose(loss, loss_t.item(), rtol=RTOL)
    assert grad.shape == logits.shape
    np.testing.assert_allclose(grad, logits_t.grad.numpy(), rtol=RTOL, atol=ATOL)


# -------------------------------- every backward: float32 kept, integers, no mutation


def forward_backward_cases(dtype):
    """``name -> (forward, args, kwargs, backward)``, the inputs in ``dtype``."""
    x = random_array((2, 2, 6, 7), dtype, seed=30)
    return {
        "conv2d": (
            loops.conv2d_forward,
            (x, random_array((3, 2, 3, 2), dtype, 31), random_array(3, dtype, 32)),
            {"stride": (1, 2), "padding": 1, "dilation": (2, 1)},
            loops.conv2d_backward,
        ),
        "max_pool2d": (
            loops.max_pool2d_forward,
            (x, (3, 2)),
            {"stride": 1, "padding": 1, "dilation": (1, 2)},
            loops.max_pool2d_backward,
        ),
        "avg_pool2d": (
            loops.avg_pool2d_forward,
            (x, 3),
            {"stride": 2, "padding": 1},
            loops.avg_pool2d_backward,
        ),
        "relu": (loops.relu_forward, (x,), {}, loops.relu_backward),
        "linear": (
            loops.linear_forward,
            (
                x.reshape(2, -1),
                random_array((5, 84), dtype, 33),
                random_array(5, dtype, 34),
            ),
            {},
            loops.linear_backward,
        ),
        "cross_entropy": (
            loops.cross_entropy_forward,
            (random_array((4, 6), dtype, 35), np.array([5, 0, 3, 3])),
            {},
            loops.cross_entropy_backward,
        ),
    }


def upstream_gradient(out, dtype, seed=36):
    """A random gradient shaped like ``out`` (a scalar for the loss)."""
    if isinstance(out, float):
        return 0.5
    return random_array(out.shape, dtype, seed)


def as_list(grads):
    return list(grads) if isinstance(grads, tuple) else [grads]


@pytest.mark.parametrize("name", list(forward_backward_cases(np.float64)))
def test_backward_keeps_float32(name):
    forward, args, kwargs, backward = forward_backward_cases(np.float32)[name]
    out, cache = forward(*args, **kwargs)
    if not isinstance(out, float):
        assert out.dtype == np.float32
    grads = as_list(backward(upstream_gradient(out, np.float32), cache))
    assert grads and all(g.dtype == np.float32 for g in grads)


@pytest.mark.parametrize("name", list(forward_backward_cases(np.float64)))
def test_backward_of_integer_or_list_gradient_is_float64(name):
    forward, args, kwargs, backward = forward_backward_cases(np.float64)[name]
    out, cache = forward(*args, **kwargs)
    if isinstance(out, float):
        integer_grad, float_grad = 2, 2.0
    else:
        float_grad = np.round(upstream_gradient(out, np.float64) * 3)
        integer_grad = float_grad.astype(np.int64).tolist()
    got = as_list(backward(integer_grad, cache))
    expected = as_list(backward(float_grad, cache))
    for g, e in zip(got, expected, strict=True):
        assert g.dtype == np.float64
        np.testing.assert_array_equal(g, e)


@pytest.mark.parametrize("name", list(forward_backward_cases(np.float64)))
def test_forward_and_backward_never_change_their_inputs(name):
    forward, args, kwargs, backward = forward_backward_cases(np.float64)[name]
    saved_args = [np.copy(a) for a in args]
    out, cache = forward(*args, **kwargs)
    grad_output = upstream_gradient(out, np.float64)
    saved_grad = np.copy(grad_output)
    first = as_list(backward(grad_output, cache))
    second = as_list(backward(grad_output, cache))  # the cache is not used up
    for before, after in zip(saved_args, args, strict=True):
        np.testing.assert_array_equal(before, after)
    np.testing.assert_array_equal(saved_grad, grad_output)
    for a, b in zip(first, second, strict=True):
        np.testing.assert_array_equal(a, b)


def test_element_wise_ops_and_correlate2d_never_change_their_inputs():
    x = random_array((2, 2, 6, 6), seed=17)
    kernel = random_array((3, 3), seed=18)
    saved = [x.copy(), kernel.copy()]
    loops.sigmoid(x), loops.tanh(x), loops.softmax(x), loops.flatten(x)
    loops.max_pool2d_with_indices(x, 3, 2, 1)
    loops.correlate2d(x[0, 0], kernel)
    np.testing.assert_array_equal(saved[0], x)
    np.testing.assert_array_equal(saved[1], kernel)


# -------------------------------- a mini network's chain rule vs centered differences


def test_mini_network_gradients_match_centered_differences():
    """conv -> relu -> maxpool -> flatten -> linear -> loss, by hand, forward and back.

    Every parameter's gradient and the input's is checked with centered differences of
    the loss, the chapter's method.
    """
    rng = np.random.default_rng(7)
    params = {
        "x": rng.standard_normal((2, 1, 6, 6)),
        "conv_w": rng.standard_normal((2, 1, 3, 3)),
        "conv_b": rng.standard_normal(2),
        "fc_w": rng.standard_normal(
            (3, 8)
        ),  # 2 channels of 2x2 after conv 4x4 and pool
        "fc_b": rng.standard_normal(3),
    }
    targets = np.array([0, 2])

    def forward(p):
        out, conv_cache = loops.conv2d_forward(p["x"], p["conv_w"], p["conv_b"])
        a, relu_cache = loops.relu_forward(out)
        pooled, pool_cache = loops.max_pool2d_forward(a, 2)
        logits, fc_cache = loops.linear_forward(
            loops.flatten(pooled), p["fc_w"], p["fc_b"]
        )
        loss, loss_cache = loops.cross_entropy_forward(logits, targets)
        return loss, (conv_cache, relu_cache, pool_cache, fc_cache, loss_cache), pooled

    _, caches, pooled = forward(params)
    conv_cache, relu_cache, pool_cache, fc_cache, loss_cache = caches
    g_logits = loops.cross_entropy_backward(1.0, loss_cache)
    g_flat, g_fc_w, g_fc_b = loops.linear_backward(g_logits, fc_cache)
    g_a = loops.max_pool2d_backward(g_flat.reshape(pooled.shape), pool_cache)
    g_out = loops.relu_backward(g_a, relu_cache)
    g_x, g_conv_w, g_conv_b = loops.conv2d_backward(g_out, conv_cache)
    analytic = {
        "x": g_x,
        "conv_w": g_conv_w,
        "conv_b": g_conv_b,
        "fc_w": g_fc_w,
        "fc_b": g_fc_b,
    }

    eps = 1e-6
    for name, value in params.items():
        numeric = np.zeros_like(value)
        for index in np.ndindex(value.shape):
            plus, minus = dict(params), dict(params)
            plus[name], minus[name] = value.copy(), value.copy()
            plus[name][index] += eps
            minus[name][index] -= eps
            numeric[index] = (forward(plus)[0] - forward(minus)[0]) / (2 * eps)
        got = analytic[name]
        assert got.shape == value.shape, name
        error = np.linalg.norm(numeric - got) / np.linalg.norm(numeric + got)
        assert error < 1e-7, f"{name}: relative error {error:.2e}"


# ------------------------------------------------------------------------------- errors

X4 = np.zeros((1, 3, 8, 8))
W4 = np.zeros((2, 3, 3, 3))
X5 = np.zeros((1, 2, 5, 5))
W5 = np.zeros((1, 2, 3, 3))
LOGITS = np.zeros((2, 10))


def cache_of(forward, *args, **kwargs):
    return forward(*args, **kwargs)[1]


CONV_CACHE = cache_of(loops.conv2d_forward, X5, W5)  # output (1, 1, 3, 3)
MAX_CACHE = cache_of(
    loops.max_pool2d_forward, np.zeros((1, 1, 4, 4)), 2
)  # (1, 1, 2, 2)
AVG_CACHE = cache_of(
    loops.avg_pool2d_forward, np.zeros((1, 1, 4, 4)), 2
)  # (1, 1, 2, 2)
RELU_CACHE = cache_of(loops.relu_forward, np.zeros((3, 2)))
LINEAR_CACHE = cache_of(loops.linear_forward, np.zeros((2, 3)), np.zeros((4, 3)))

# (id, function, args, kwargs, argument named, other words the message must contain)
ERROR_CASES = [
    ("correlate2d image rank", loops.correlate2d,
     (np.zeros((1, 5, 5)), np.ones((3, 3))), {},
     "image", ["2 dimensions", "(1, 5, 5)"]),
    ("correlate2d kernel rank", loops.correlate2d, (np.zeros((5, 5)), np.ones(3)),
     {}, "kernel", ["2 dimensions", "(3,)"]),
    ("correlate2d kernel too large", loops.correlate2d,
     (np.zeros((5, 5)), np.ones((6, 2))), {}, "kernel", ["(6, 2)", "(5, 5)"]),
    ("correlate2d empty image", loops.correlate2d, (np.zeros((0, 5)), np.ones((1, 1))),
     {}, "image", ["empty", "(0, 5)"]),
    ("correlate2d string dtype", loops.correlate2d,
     (np.array([["a"]]), np.ones((1, 1))), {}, "image", ["real numbers", "(1, 1)"]),
    ("correlate2d bool dtype", loops.correlate2d,
     (np.ones((3, 3), dtype=bool), np.ones((1, 1))), {}, "image", ["bool", "(3, 3)"]),
    ("conv2d x rank", loops.conv2d, (np.zeros((3, 8, 8)), W4), {},
     "x", ["4 dimensions", "(3, 8, 8)"]),
    ("conv2d weight rank", loops.conv2d, (X4, np.zeros((2, 3, 3))), {},
     "weight", ["4 dimensions", "(2, 3, 3)"]),
    ("conv2d channel mismatch", loops.conv2d, (X4, np.zeros((2, 1, 3, 3))), {},
     "weight", ["x", "channels", "(2, 1, 3, 3)", "(1, 3, 8, 8)"]),
    ("conv2d bias shape", loops.conv2d, (X4, W4, np.zeros(3)), {},
     "bias", ["(3,)", "(2,)", "(2, 3, 3, 3)"]),
    ("conv2d bias rank", loops.conv2d, (X4, W4, np.zeros((1, 2))), {},
     "bias", ["(1, 2)", "(2,)"]),
    ("conv2d kernel too large", loops.conv2d, (X4, np.zeros((2, 3, 9, 3))), {},
     "weight", ["(2, 3, 9, 3)", "(1, 3, 8, 8)", "kernel_size"]),
    ("conv2d padding does not save it", loops.conv2d, (X4, np.zeros((2, 3, 11, 3))),
     {"padding": 1}, "weight", ["(1, 3, 8, 8)", "padding"]),
    ("conv2d dilated kernel too large", loops.conv2d, (X4, W4), {"dilation": 4},
     "weight", ["dilation", "(1, 3, 8, 8)"]),
    ("conv2d stride 0", loops.conv2d, (X4, W4), {"stride": 0}, "stride", ["> 0"]),
    ("conv2d stride negative", loops.conv2d, (X4, W4), {"stride": (1, -2)},
     "stride[1]", ["> 0", "-2"]),
    ("conv2d stride float", loops.conv2d, (X4, W4), {"stride": 1.0},
     "stride", ["integer"]),
    ("conv2d padding negative", loops.conv2d, (X4, W4), {"padding": -1},
     "padding", [">= 0"]),
    ("conv2d padding bool", loops.conv2d, (X4, W4), {"padding": True},
     "padding", ["integer"]),
    ("conv2d dilation 0", loops.conv2d, (X4, W4), {"dilation": 0}, "dilation", ["> 0"]),
    ("conv2d stride triple", loops.conv2d, (X4, W4), {"stride": (1, 1, 1)},
     "stride", ["pair"]),
    ("conv2d_forward x rank", loops.conv2d_forward, (np.zeros((2, 5, 5)), W5), {},
     "x", ["4 dimensions", "(2, 5, 5)"]),
    ("conv2d_forward weight rank", loops.conv2d_forward, (X5, np.zeros((1, 2, 3))), {},
     "weight", ["4 dimensions", "(1, 2, 3)"]),
    ("conv2d_forward channel mismatch", loops.conv2d_forward,
     (np.zeros((1, 3, 5, 5)), W5), {}, "weight",
     ["x", "channels", "(1, 2, 3, 3)", "(1, 3, 5, 5)"]),
    ("conv2d_forward kernel too large", loops.conv2d_forward,
     (np.zeros((1, 2, 2, 2)), W5), {}, "weight",
     ["kernel_size", "(1, 2, 3, 3)", "(1, 2, 2, 2)"]),
    ("conv2d_forward padding float", loops.conv2d_forward, (X5, W5), {"padding": 1.5},
     "padding", ["integer", "1.5"]),
    ("conv2d_forward dilation negative", loops.conv2d_forward, (X5, W5),
     {"dilation": -1}, "dilation", ["> 0", "-1"]),
    ("max_pool2d x rank", loops.max_pool2d, (np.zeros((8, 8)), 2), {},
     "x", ["4 dimensions", "(8, 8)"]),
    ("max_pool2d kernel too large", loops.max_pool2d, (X4, 9), {},
     "kernel_size", ["(1, 3, 8, 8)"]),
    ("max_pool2d kernel 0", loops.max_pool2d, (X4, 0), {}, "kernel_size", ["> 0"]),
    ("max_pool2d kernel float", loops.max_pool2d, (X4, 2.5), {},
     "kernel_size", ["integer"]),
    ("max_pool2d stride 0", loops.max_pool2d, (X4, 2), {"stride": 0},
     "stride", ["> 0"]),
    ("max_pool2d stride negative", loops.max_pool2d, (X4, 2), {"stride": -1},
     "stride", ["> 0"]),
    ("max_pool2d padding over half", loops.max_pool2d, (X4, 3), {"padding": 2},
     "padding", ["half", "kernel_size"]),
    ("max_pool2d dilated kernel too large", loops.max_pool2d, (X4, 3), {"dilation": 4},
     "kernel_size", ["dilation", "(1, 3, 8, 8)"]),
    ("max_pool2d dilation 0", loops.max_pool2d, (X4, 2), {"dilation": 0},
     "dilation", ["> 0"]),
    ("max_pool2d_with_indices padding over half", loops.max_pool2d_with_indices,
     (X4, 2), {"padding": (0, 2)}, "padding", ["half", "(0, 2)"]),
    ("avg_pool2d x rank", loops.avg_pool2d, (np.zeros((1, 1, 1, 8, 8)), 2), {},
     "x", ["4 dimensions", "(1, 1, 1, 8, 8)"]),
    ("avg_pool2d kernel too large", loops.avg_pool2d, (X4, (2, 9)), {},
     "kernel_size", ["(1, 3, 8, 8)"]),
    ("avg_pool2d padding over half", loops.avg_pool2d, (X4, 2), {"padding": 2},
     "padding", ["half"]),
    ("avg_pool2d stride float", loops.avg_pool2d, (X4, 2), {"stride": 2.0},
     "stride", ["integer"]),
    ("linear x rank", loops.linear, (np.zeros((2, 3, 4)), np.zeros((5, 12))), {},
     "x", ["2 dimensions", "(2, 3, 4)"]),
    ("linear weight rank", loops.linear, (np.zeros((2, 12)), np.zeros(12)), {},
     "weight", ["2 dimensions", "(12,)"]),
    ("linear feature mismatch", loops.linear, (np.zeros((2, 12)), np.zeros((5, 11))),
     {}, "weight", ["x", "features", "(5, 11)", "(2, 12)"]),
    ("linear bias length", loops.linear,
     (np.zeros((2, 12)), np.zeros((5, 12)), np.zeros(4)), {},
     "bias", ["(4,)", "(5,)", "(5, 12)"]),
    ("linear bias rank", loops.linear,
     (np.zeros((2, 12)), np.zeros((5, 12)), np.zeros((1, 5))), {},
     "bias", ["(1, 5)", "(5,)"]),
    ("linear_forward x rank", loops.linear_forward,
     (np.zeros((2, 3, 1)), np.zeros((4, 3))), {}, "x", ["2 dimensions", "(2, 3, 1)"]),
    ("linear_forward weight rank", loops.linear_forward,
     (np.zeros((2, 3)), np.zeros((4, 3, 1))), {},
     "weight", ["2 dimensions", "(4, 3, 1)"]),
    ("linear_forward feature mismatch", loops.linear_forward,
     (np.zeros((2, 5)), np.zeros((4, 3))), {},
     "weight", ["x", "features", "(4, 3)", "(2, 5)"]),
    ("softmax scalar", loops.softmax, (np.float64(3.0),), {},
     "logits", ["()"]),
    ("softmax empty last axis", loops.softmax, (np.zeros((2, 0)),), {},
     "logits", ["(2, 0)"]),
    ("softmax complex", loops.softmax, (np.zeros(3, dtype=complex),), {},
     "logits", ["complex", "(3,)"]),
    ("flatten 1-D", loops.flatten, (np.zeros(5),), {}, "x", ["(5,)"]),
    ("relu strings", loops.relu, (np.array(["1"]),), {}, "x", ["real numbers"]),
    ("sigmoid bool", loops.sigmoid, (np.ones(3, dtype=bool),), {}, "x", ["bool"]),
    ("tanh complex", loops.tanh, (np.ones(3, dtype=complex),), {}, "x", ["complex"]),
]  # fmt: skip

# Pooling checks, shared by max and average pooling (forward: the backward has a cache).
POOL_ERROR_CASES = [
    ("x rank", (np.zeros((1, 4, 4)), 2), {}, "x", ["4 dimensions", "(1, 4, 4)"]),
    ("kernel 0", (np.zeros((1, 1, 4, 4)), 0), {}, "kernel_size", ["> 0"]),
    ("kernel float", (np.zeros((1, 1, 4, 4)), 2.0), {}, "kernel_size", ["integer"]),
    ("stride 0", (np.zeros((1, 1, 4, 4)), 2), {"stride": 0}, "stride", ["> 0"]),
    ("padding over half", (np.zeros((1, 1, 4, 4)), 2), {"padding": 2},
     "padding", ["at most half", "kernel_size"]),
    ("kernel too large", (np.zeros((1, 1, 2, 2)), 3), {},
     "kernel_size", ["(3, 3)", "(1, 1, 2, 2)"]),
]  # fmt: skip
for _forward in (loops.max_pool2d_forward, loops.avg_pool2d_forward):
    for _id, _args, _kwargs, _argument, _words in POOL_ERROR_CASES:
        _name = f"{_forward.__name__} {_id}"
        ERROR_CASES.append((_name, _forward, _args, _kwargs, _argument, _words))

# Cross-entropy checks, through the loss and through its forward.
CROSS_ENTROPY_ERROR_CASES = [
    ("logits rank", (np.zeros(10), np.array([1])), "logits", ["2 dimensions", "(10,)"]),
    ("targets rank", (LOGITS, np.array([[1, 2]])), "targets", ["1-D", "(1, 2)"]),
    ("one target per row", (LOGITS, np.array([1, 2, 3])),
     "targets", ["logits", "(3,)", "(2, 10)"]),
    ("float targets", (LOGITS, np.array([1.0, 2.0])),
     "targets", ["integer", "float64"]),
    ("target too large", (LOGITS, np.array([1, 10])),
     "targets", ["[0, 10)", "(2, 10)"]),
    ("target negative", (LOGITS, np.array([-1, 0])),
     "targets", ["[0, 10)", "(2, 10)"]),
]  # fmt: skip
for _function in (loops.cross_entropy, loops.cross_entropy_forward):
    for _id, _args, _argument, _words in CROSS_ENTROPY_ERROR_CASES:
        _name = f"{_function.__name__} {_id}"
        ERROR_CASES.append((_name, _function, _args, {}, _argument, _words))

# The backward passes check grad_output against the output the cache describes.
ERROR_CASES += [
    ("conv2d_backward grad_output shape", loops.conv2d_backward,
     (np.zeros((1, 1, 4, 4)), CONV_CACHE), {},
     "grad_output", ["(1, 1, 3, 3)", "(1, 1, 4, 4)"]),
    ("conv2d_backward grad_output rank", loops.conv2d_backward,
     (np.zeros((1, 3, 3)), CONV_CACHE), {},
     "grad_output", ["4 dimensions", "(1, 1, 3, 3)", "(1, 3, 3)"]),
    ("conv2d_backward grad_output strings", loops.conv2d_backward,
     (np.full((1, 1, 3, 3), "a"), CONV_CACHE), {},
     "grad_output", ["real numbers", "(1, 1, 3, 3)"]),
    ("max_pool2d_backward grad_output shape", loops.max_pool2d_backward,
     (np.zeros((1, 1, 3, 3)), MAX_CACHE), {},
     "grad_output", ["(1, 1, 2, 2)", "(1, 1, 3, 3)"]),
    ("max_pool2d_backward grad_output rank", loops.max_pool2d_backward,
     (np.zeros((1, 2, 2)), MAX_CACHE), {},
     "grad_output", ["4 dimensions", "(1, 1, 2, 2)", "(1, 2, 2)"]),
    ("avg_pool2d_backward grad_output shape", loops.avg_pool2d_backward,
     (np.zeros((1, 1, 3, 3)), AVG_CACHE), {},
     "grad_output", ["(1, 1, 2, 2)", "(1, 1, 3, 3)"]),
    ("avg_pool2d_backward grad_output rank", loops.avg_pool2d_backward,
     (np.zeros((1, 1, 1, 2, 2)), AVG_CACHE), {},
     "grad_output", ["4 dimensions", "(1, 1, 2, 2)", "(1, 1, 1, 2, 2)"]),
    ("relu_backward grad_output shape", loops.relu_backward,
     (np.zeros((2, 3)), RELU_CACHE), {}, "grad_output", ["(3, 2)", "(2, 3)"]),
    ("linear_backward grad_output shape", loops.linear_backward,
     (np.zeros((2, 5)), LINEAR_CACHE), {}, "grad_output", ["(2, 4)", "(2, 5)"]),
    ("linear_backward grad_output rank", loops.linear_backward,
     (np.zeros(4), LINEAR_CACHE), {}, "grad_output", ["2 dimensions", "(4,)"]),
]  # fmt: skip


def case_values(case):
    if hasattr(case, "values"):
        return pytest.param(*case.values[1:], marks=case.marks, id=case.values[0])
    return pytest.param(*case[1:], id=case[0])


@pytest.mark.parametrize(
    "function, args, kwargs, argument, words", [case_values(c) for c in ERROR_CASES]
)
def test_bad_input_raises_value_error_naming_argument_and_shapes(
    function, args, kwargs, argument, words
):
    # The argument must appear as a name of its own ("x", not the x of "max_pool2d").
    named = rf"(?<![\w\[]){re.escape(argument)}(?![\w\[])"
    with pytest.raises(ValueError, match=named) as error:
        function(*args, **kwargs)
    message = str(error.value)
    for word in words:
        assert word in message, f"{word!r} missing from: {message}"
