"""The loop operations of ``cnnlib.naive`` against ``torch.nn.functional``, and their error messages.

Tolerances: float64 results must match torch to 1e-10 (the same sums in a different order);
float32 results to 1e-5 relative / 1e-5 absolute.
"""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from cnnlib import naive

TOLERANCE = {np.float32: dict(rtol=1e-5, atol=1e-5), np.float64: dict(rtol=1e-10, atol=1e-10)}
DTYPES = [np.float32, np.float64]


def random_array(shape, dtype=np.float64, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


def assert_matches_torch(ours, theirs, dtype):
    theirs = theirs.detach().numpy()
    assert ours.dtype == dtype, f"dtype {ours.dtype}, expected {np.dtype(dtype)}"
    assert ours.shape == theirs.shape
    np.testing.assert_allclose(ours, theirs, **TOLERANCE[dtype])


# ---------------------------------------------------------------------------- correlate2d


@pytest.mark.parametrize("image_shape, kernel_shape", [((5, 5), (3, 3)), ((7, 4), (2, 3)), ((1, 6), (1, 2)), ((4, 4), (4, 4)), ((28, 28), (3, 3))])
@pytest.mark.parametrize("dtype", DTYPES)
def test_correlate2d_matches_torch(image_shape, kernel_shape, dtype):
    image = random_array(image_shape, dtype, seed=1)
    kernel = random_array(kernel_shape, dtype, seed=2)
    ours = naive.correlate2d(image, kernel)
    theirs = F.conv2d(torch.from_numpy(image)[None, None], torch.from_numpy(kernel)[None, None])[0, 0]
    assert_matches_torch(ours, theirs, dtype)


def test_correlate2d_small_example_by_hand():
    # Not flipped: the top-left output is image[0:2, 0:2] * kernel, summed = 1*1 + 2*0 + 4*0 + 5*(-1) = -4.
    image = np.arange(1, 10, dtype=np.float64).reshape(3, 3)
    kernel = np.array([[1.0, 0.0], [0.0, -1.0]])
    np.testing.assert_array_equal(naive.correlate2d(image, kernel), [[-4.0, -4.0], [-4.0, -4.0]])
    kernel = np.array([[0.0, 1.0], [0.0, 0.0]])  # picks the top-right tap: image shifted left by one
    np.testing.assert_array_equal(naive.correlate2d(image, kernel), [[2.0, 3.0], [5.0, 6.0]])


def test_correlate2d_integer_input_gives_float64():
    out = naive.correlate2d(np.arange(16).reshape(4, 4), np.ones((2, 2), dtype=np.int64))
    assert out.dtype == np.float64
    assert out[0, 0] == 0 + 1 + 4 + 5


# ---------------------------------------------------------------------------- conv2d

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


@pytest.mark.parametrize("case", CONV_CASES, ids=[str(c) for c in CONV_CASES])
@pytest.mark.parametrize("dtype", DTYPES)
def test_conv2d_matches_torch(case, dtype):
    n, c_in, h, w, c_out, kernel, stride, padding, dilation, use_bias = case
    kh, kw = (kernel, kernel) if isinstance(kernel, int) else kernel
    x = random_array((n, c_in, h, w), dtype, seed=3)
    weight = random_array((c_out, c_in, kh, kw), dtype, seed=4)
    bias = random_array((c_out,), dtype, seed=5) if use_bias else None
    ours = naive.conv2d(x, weight, bias, stride=stride, padding=padding, dilation=dilation)
    theirs = F.conv2d(
        torch.from_numpy(x), torch.from_numpy(weight), None if bias is None else torch.from_numpy(bias),
        stride=stride, padding=padding, dilation=dilation,
    )
    assert_matches_torch(ours, theirs, dtype)


def test_conv2d_accepts_lists_for_pairs():
    x, weight = random_array((1, 1, 6, 7)), random_array((1, 1, 2, 3))
    np.testing.assert_array_equal(
        naive.conv2d(x, weight, stride=[2, 1], padding=[1, 0]), naive.conv2d(x, weight, stride=(2, 1), padding=(1, 0))
    )


def test_conv2d_float64_weight_on_float32_input_keeps_float32():
    out = naive.conv2d(random_array((1, 1, 5, 5), np.float32), random_array((2, 1, 3, 3), np.float64))
    assert out.dtype == np.float32


def test_conv2d_equals_correlate2d_for_one_channel():
    x, weight = random_array((1, 1, 8, 9), seed=6), random_array((1, 1, 3, 2), seed=7)
    np.testing.assert_array_equal(naive.conv2d(x, weight)[0, 0], naive.correlate2d(x[0, 0], weight[0, 0]))


# ---------------------------------------------------------------------------- pooling

# (N, C, H, W, kernel, stride, padding)
POOL_CASES = [
    (1, 1, 4, 4, 2, None, 0),
    (2, 3, 26, 26, 2, 2, 0),  # 26x26 -> 13x13 as in the Keras-style net
    (1, 2, 7, 7, 3, 2, 0),  # overlapping windows, odd size
    (2, 1, 9, 8, 3, 2, 1),  # overlapping + padding
    (1, 2, 5, 6, (2, 3), (1, 2), (1, 1)),  # non-square
    (1, 1, 5, 5, 3, 1, 1),  # stride 1, every input in up to 9 windows
    (1, 2, 11, 11, 4, 3, 2),
    (1, 1, 3, 3, 3, None, 0),  # a single window
]


@pytest.mark.parametrize("case", POOL_CASES, ids=[str(c) for c in POOL_CASES])
@pytest.mark.parametrize("dtype", DTYPES)
def test_max_pool2d_matches_torch(case, dtype):
    n, c, h, w, kernel, stride, padding = case
    x = random_array((n, c, h, w), dtype, seed=8)
    ours = naive.max_pool2d(x, kernel, stride, padding)
    theirs = F.max_pool2d(torch.from_numpy(x), kernel, stride, padding)
    assert_matches_torch(ours, theirs, dtype)


@pytest.mark.parametrize("case", POOL_CASES, ids=[str(c) for c in POOL_CASES])
@pytest.mark.parametrize("dtype", DTYPES)
def test_avg_pool2d_matches_torch(case, dtype):
    n, c, h, w, kernel, stride, padding = case
    x = random_array((n, c, h, w), dtype, seed=9)
    ours = naive.avg_pool2d(x, kernel, stride, padding)
    theirs = F.avg_pool2d(torch.from_numpy(x), kernel, stride, padding)  # count_include_pad=True by default
    assert_matches_torch(ours, theirs, dtype)


def test_avg_pool2d_counts_padding_zeros():
    # One 2x2 window at the corner of a padded all-ones input covers 1 real one and 3 zeros.
    out = naive.avg_pool2d(np.ones((1, 1, 2, 2)), 2, stride=2, padding=1)
    np.testing.assert_array_equal(out, np.full((1, 1, 2, 2), 0.25))


@pytest.mark.parametrize("case", POOL_CASES, ids=[str(c) for c in POOL_CASES])
def test_max_pool2d_indices_match_torch_with_ties(case):
    n, c, h, w, kernel, stride, padding = case
    # Small integers make many ties, so this checks that the first maximum in row-major order wins.
    x = np.random.default_rng(10).integers(0, 3, size=(n, c, h, w)).astype(np.float64)
    out, indices = naive.max_pool2d_with_indices(x, kernel, stride, padding)
    torch_out, torch_indices = F.max_pool2d(torch.from_numpy(x), kernel, stride, padding, return_indices=True)
    np.testing.assert_array_equal(out, torch_out.numpy())
    np.testing.assert_array_equal(indices, torch_indices.numpy())
    assert indices.dtype == np.int64


def test_max_pool2d_tie_goes_to_first_in_row_major_order():
    x = np.array([[[[1.0, 5.0], [5.0, 5.0]]]])
    out, indices = naive.max_pool2d_with_indices(x, 2)
    assert out[0, 0, 0, 0] == 5.0
    assert indices[0, 0, 0, 0] == 1  # row 0, col 1: the first 5 met reading row by row


def test_max_pool2d_padding_never_wins():
    x = -np.ones((1, 1, 3, 3))  # all negative, so a zero pad would win; -inf padding must not
    np.testing.assert_array_equal(naive.max_pool2d(x, 2, stride=2, padding=1), -np.ones((1, 1, 2, 2)))


# ---------------------------------------------------------------------------- activations, linear, softmax, flatten


@pytest.mark.parametrize("dtype", DTYPES)
def test_relu_sigmoid_tanh_match_torch(dtype):
    x = random_array((2, 3, 4, 5), dtype, seed=11) * 5
    x[0, 0, 0, :3] = [0.0, -0.0, 80.0]
    assert_matches_torch(naive.relu(x), torch.relu(torch.from_numpy(x)), dtype)
    assert_matches_torch(naive.sigmoid(x), torch.sigmoid(torch.from_numpy(x)), dtype)
    assert_matches_torch(naive.tanh(x), torch.tanh(torch.from_numpy(x)), dtype)


def test_sigmoid_does_not_overflow():
    with np.errstate(over="raise"):
        out = naive.sigmoid(np.array([-1000.0, 0.0, 1000.0]))
    np.testing.assert_array_equal(out, [0.0, 0.5, 1.0])


@pytest.mark.parametrize("n, in_features, out_features, use_bias", [(1, 5, 3, True), (4, 800, 10, True), (3, 7, 1, False)])
@pytest.mark.parametrize("dtype", DTYPES)
def test_linear_matches_torch(n, in_features, out_features, use_bias, dtype):
    x = random_array((n, in_features), dtype, seed=12)
    weight = random_array((out_features, in_features), dtype, seed=13)
    bias = random_array((out_features,), dtype, seed=14) if use_bias else None
    theirs = F.linear(torch.from_numpy(x), torch.from_numpy(weight), None if bias is None else torch.from_numpy(bias))
    assert_matches_torch(naive.linear(x, weight, bias), theirs, dtype)


@pytest.mark.parametrize("shape", [(10,), (3, 10), (2, 3, 4)])
@pytest.mark.parametrize("dtype", DTYPES)
def test_softmax_matches_torch(shape, dtype):
    logits = random_array(shape, dtype, seed=15) * 10
    ours = naive.softmax(logits)
    assert_matches_torch(ours, torch.softmax(torch.from_numpy(logits), dim=-1), dtype)
    np.testing.assert_allclose(ours.sum(axis=-1), 1.0, **TOLERANCE[dtype])


def test_softmax_is_stable_for_huge_logits():
    with np.errstate(over="raise", invalid="raise"):
        out = naive.softmax(np.array([[1000.0, 1000.0, -1000.0], [1e308, 0.0, 0.0]]))
    np.testing.assert_allclose(out, [[0.5, 0.5, 0.0], [1.0, 0.0, 0.0]])


@pytest.mark.parametrize("shape", [(2, 3, 4, 5), (1, 128, 1, 1), (3, 7)])
def test_flatten_matches_torch_and_copies(shape):
    x = random_array(shape, seed=16)
    out = naive.flatten(x)
    np.testing.assert_array_equal(out, torch.flatten(torch.from_numpy(x), 1).numpy())
    out[...] = 0  # a copy: the input must not change
    assert not np.all(x == 0)


def test_no_function_mutates_its_input():
    x = random_array((2, 2, 6, 6), seed=17)
    weight, bias = random_array((3, 2, 3, 3), seed=18), random_array((3,), seed=19)
    saved = [a.copy() for a in (x, weight, bias)]
    naive.conv2d(x, weight, bias, padding=1)
    naive.max_pool2d(x, 3, 2, 1)
    naive.avg_pool2d(x, 3, 2, 1)
    naive.relu(x), naive.sigmoid(x), naive.tanh(x), naive.softmax(x), naive.flatten(x)
    naive.correlate2d(x[0, 0], weight[0, 0])
    naive.linear(x.reshape(2, -1), random_array((4, 72), seed=20))
    for before, after in zip(saved, (x, weight, bias)):
        np.testing.assert_array_equal(before, after)


# ---------------------------------------------------------------------------- errors

X4 = np.zeros((1, 3, 8, 8))
W4 = np.zeros((2, 3, 3, 3))

# (id, function, args, kwargs, words the message must contain)
ERROR_CASES = [
    ("correlate2d image rank", naive.correlate2d, (np.zeros((1, 5, 5)), np.ones((3, 3))), {}, ["image", "2-D", "(1, 5, 5)"]),
    ("correlate2d kernel rank", naive.correlate2d, (np.zeros((5, 5)), np.ones(3)), {}, ["kernel", "2-D", "(3,)"]),
    ("correlate2d kernel too large", naive.correlate2d, (np.zeros((5, 5)), np.ones((6, 2))), {}, ["kernel", "(6, 2)", "(5, 5)"]),
    ("correlate2d empty image", naive.correlate2d, (np.zeros((0, 5)), np.ones((1, 1))), {}, ["image", "empty", "(0, 5)"]),
    ("correlate2d string dtype", naive.correlate2d, (np.array([["a"]]), np.ones((1, 1))), {}, ["image", "real numbers"]),
    ("correlate2d bool dtype", naive.correlate2d, (np.ones((3, 3), dtype=bool), np.ones((1, 1))), {}, ["image", "bool"]),
    ("conv2d x rank", naive.conv2d, (np.zeros((3, 8, 8)), W4), {}, ["x", "4-D", "(3, 8, 8)"]),
    ("conv2d weight rank", naive.conv2d, (X4, np.zeros((2, 3, 3))), {}, ["weight", "4-D", "(2, 3, 3)"]),
    ("conv2d channel mismatch", naive.conv2d, (X4, np.zeros((2, 1, 3, 3))), {}, ["weight", "C_in", "(2, 1, 3, 3)", "(1, 3, 8, 8)"]),
    ("conv2d bias shape", naive.conv2d, (X4, W4, np.zeros(3)), {}, ["bias", "(3,)", "(2, 3, 3, 3)"]),
    ("conv2d kernel too large", naive.conv2d, (X4, np.zeros((2, 3, 9, 3))), {}, ["weight", "(2, 3, 9, 3)", "(1, 3, 8, 8)", "kernel_size"]),
    ("conv2d padding does not save it", naive.conv2d, (X4, np.zeros((2, 3, 11, 3))), {"padding": 1}, ["weight", "(1, 3, 8, 8)", "padding"]),
    ("conv2d dilated kernel too large", naive.conv2d, (X4, W4), {"dilation": 4}, ["weight", "dilation", "(1, 3, 8, 8)"]),
    ("conv2d stride 0", naive.conv2d, (X4, W4), {"stride": 0}, ["stride", "> 0"]),
    ("conv2d stride negative", naive.conv2d, (X4, W4), {"stride": (1, -2)}, ["stride[1]", "> 0"]),
    ("conv2d stride float", naive.conv2d, (X4, W4), {"stride": 1.0}, ["stride", "integer"]),
    ("conv2d padding negative", naive.conv2d, (X4, W4), {"padding": -1}, ["padding", ">= 0"]),
    ("conv2d padding bool", naive.conv2d, (X4, W4), {"padding": True}, ["padding", "integer"]),
    ("conv2d dilation 0", naive.conv2d, (X4, W4), {"dilation": 0}, ["dilation", "> 0"]),
    ("conv2d stride triple", naive.conv2d, (X4, W4), {"stride": (1, 1, 1)}, ["stride", "pair"]),
    ("max_pool2d x rank", naive.max_pool2d, (np.zeros((8, 8)), 2), {}, ["x", "4-D", "(8, 8)"]),
    ("max_pool2d kernel too large", naive.max_pool2d, (X4, 9), {}, ["kernel_size", "(1, 3, 8, 8)"]),
    ("max_pool2d kernel 0", naive.max_pool2d, (X4, 0), {}, ["kernel_size", "> 0"]),
    ("max_pool2d kernel float", naive.max_pool2d, (X4, 2.5), {}, ["kernel_size", "integer"]),
    ("max_pool2d stride 0", naive.max_pool2d, (X4, 2), {"stride": 0}, ["stride", "> 0"]),
    ("max_pool2d stride negative", naive.max_pool2d, (X4, 2), {"stride": -1}, ["stride", "> 0"]),
    ("max_pool2d padding over half", naive.max_pool2d, (X4, 3), {"padding": 2}, ["padding", "half", "kernel_size"]),
    ("max_pool2d_with_indices padding over half", naive.max_pool2d_with_indices, (X4, 2), {"padding": (0, 2)}, ["padding", "half"]),
    ("avg_pool2d x rank", naive.avg_pool2d, (np.zeros((1, 1, 1, 8, 8)), 2), {}, ["x", "4-D", "(1, 1, 1, 8, 8)"]),
    ("avg_pool2d kernel too large", naive.avg_pool2d, (X4, (2, 9)), {}, ["kernel_size", "(1, 3, 8, 8)"]),
    ("avg_pool2d padding over half", naive.avg_pool2d, (X4, 2), {"padding": 2}, ["padding", "half"]),
    ("avg_pool2d stride float", naive.avg_pool2d, (X4, 2), {"stride": 2.0}, ["stride", "integer"]),
    ("linear x rank", naive.linear, (np.zeros((2, 3, 4)), np.zeros((5, 12))), {}, ["x", "2-D", "(2, 3, 4)"]),
    ("linear weight rank", naive.linear, (np.zeros((2, 12)), np.zeros(12)), {}, ["weight", "2-D", "(12,)"]),
    ("linear feature mismatch", naive.linear, (np.zeros((2, 12)), np.zeros((5, 11))), {}, ["weight", "in_features", "(5, 11)", "(2, 12)"]),
    ("linear bias shape", naive.linear, (np.zeros((2, 12)), np.zeros((5, 12)), np.zeros((1, 5))), {}, ["bias", "(1, 5)", "(5,)"]),
    ("softmax scalar", naive.softmax, (np.float64(3.0),), {}, ["logits", "1-D", "()"]),
    ("softmax empty last axis", naive.softmax, (np.zeros((2, 0)),), {}, ["logits", "(2, 0)"]),
    ("softmax complex", naive.softmax, (np.zeros(3, dtype=complex),), {}, ["logits", "complex"]),
    ("flatten 1-D", naive.flatten, (np.zeros(5),), {}, ["x", "(5,)"]),
    ("relu strings", naive.relu, (np.array(["1"]),), {}, ["x", "real numbers"]),
]


@pytest.mark.parametrize("function, args, kwargs, words", [c[1:] for c in ERROR_CASES], ids=[c[0] for c in ERROR_CASES])
def test_bad_input_raises_value_error_naming_argument_and_shapes(function, args, kwargs, words):
    with pytest.raises(ValueError) as error:
        function(*args, **kwargs)
    message = str(error.value)
    for word in words:
        assert word in message, f"{word!r} missing from: {message}"
