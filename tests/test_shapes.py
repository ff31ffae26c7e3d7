"""``conv_output_size`` against the output shapes PyTorch actually produces, and its error messages."""

import itertools

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from cnnlib.checks import pair
from cnnlib.checks import positive_int as check_positive_int
from cnnlib.shapes import conv_output_size

SIZES = [1, 2, 3, 5, 8, 13, 28]
KERNELS = [1, 2, 3, 5]
PADDINGS = [0, 1, 2]
STRIDES = [1, 2, 3]
DILATIONS = [1, 2, 3]
GRID = list(itertools.product(SIZES, KERNELS, PADDINGS, STRIDES, DILATIONS))


def torch_conv_size(size, kernel, padding, stride, dilation):
    """The spatial output shape torch's conv2d gives, or None where torch refuses (empty output)."""
    x = torch.zeros(1, 1, *size)
    weight = torch.zeros(1, 1, *kernel)
    try:
        return tuple(F.conv2d(x, weight, stride=stride, padding=padding, dilation=dilation).shape[2:])
    except RuntimeError:
        return None


def torch_pool_size(size, kernel, padding, stride, dilation):
    """The output shape torch's max_pool2d gives, or None where torch refuses (empty output)."""
    try:
        return tuple(F.max_pool2d(torch.zeros(1, 1, *size), kernel, stride, padding, dilation).shape[2:])
    except RuntimeError:
        return None


def ours_or_none(*args):
    try:
        return conv_output_size(*args)
    except ValueError:
        return None


def test_conv_output_size_matches_torch_conv2d_on_a_grid():
    agreed, raised = 0, 0
    for size, kernel, padding, stride, dilation in GRID:
        theirs = torch_conv_size((size, size), (kernel, kernel), padding, stride, dilation)
        ours = ours_or_none(size, kernel, stride, padding, dilation)
        expected = None if theirs is None else theirs[0]
        assert ours == expected, f"size={size} kernel={kernel} padding={padding} stride={stride} dilation={dilation}"
        agreed += ours is not None
        raised += ours is None
    # The grid must exercise both outcomes, or the test proves little.
    assert agreed > 300 and raised > 50


def test_conv_output_size_matches_torch_max_pool2d_on_a_grid():
    compared = 0
    for size, kernel, padding, stride, dilation in GRID:
        # torch's pooling refuses padding above half the kernel whatever the output size; skip those combinations.
        if padding > kernel // 2:
            continue
        theirs = torch_pool_size((size, size), (kernel, kernel), padding, stride, dilation)
        ours = ours_or_none(size, kernel, stride, padding, dilation)
        assert ours == (None if theirs is None else theirs[0]), (size, kernel, padding, stride, dilation)
        compared += 1
    assert compared > 400


NON_SQUARE = [
    ((28, 28), (3, 3), 1, 0, 1),
    ((7, 12), (3, 5), (1, 2), (1, 0), (1, 2)),
    ((13, 5), (2, 4), (2, 1), (0, 1), 1),
    ((9, 30), (1, 7), (3, 4), (0, 3), (1, 3)),
    ((5, 6), (5, 3), 1, (2, 0), (1, 2)),
]


@pytest.mark.parametrize("size, kernel, stride, padding, dilation", NON_SQUARE)
def test_conv_output_size_non_square_matches_torch(size, kernel, stride, padding, dilation):
    assert conv_output_size(size, kernel, stride, padding, dilation) == torch_conv_size(size, kernel, padding, stride, dilation)


def test_returns_int_for_ints_and_tuple_for_pairs():
    assert conv_output_size(28, 3) == 26 and type(conv_output_size(28, 3)) is int
    assert conv_output_size((28, 28), 2, stride=2) == (14, 14)
    assert conv_output_size(28, 3, padding=(1, 0)) == (28, 26)
    assert conv_output_size(np.int64(32), np.int64(5)) == 28  # NumPy integers count as integers


def test_course_worked_examples():
    assert conv_output_size(28, 3) == 26  # 28x28 with 3x3 -> 26x26
    assert conv_output_size(32, 5) == 28  # 32x32x3 with a 5x5x3 filter -> 28x28
    assert conv_output_size(26, 2, stride=2) == 13  # 2x2 pooling
    assert conv_output_size(13, 3) == 11
    assert conv_output_size(11, 2, stride=2) == 5  # floor: the last row and column are dropped
    assert conv_output_size(5, 3) == 3


# (args, kwargs, words the message must contain)
ERRORS = [
    ((2, 3), {}, ["kernel_size", "input_size", "3"]),  # output would be 0
    ((5, 3), {"dilation": 3}, ["dilation", "7"]),  # dilated kernel spans 7 > 5
    ((28, 3), {"stride": 0}, ["stride", "> 0"]),
    ((28, 3), {"stride": -1}, ["stride", "> 0"]),
    ((28, 3), {"stride": (1, 0)}, ["stride[1]", "> 0"]),
    ((28, 3), {"padding": -1}, ["padding", ">= 0"]),
    ((28, 3), {"dilation": 0}, ["dilation", "> 0"]),
    ((0, 3), {}, ["input_size", "> 0"]),
    ((28, 0), {}, ["kernel_size", "> 0"]),
    ((28.0, 3), {}, ["input_size", "integer", "float"]),
    ((28, 3.0), {}, ["kernel_size", "integer", "float"]),
    ((True, 1), {}, ["input_size", "integer", "bool"]),
    ((28, 3), {"padding": False}, ["padding", "integer", "bool"]),
    ((28, 3), {"stride": "2"}, ["stride", "integer", "str"]),
    (((28, 28, 3), 3), {}, ["input_size", "pair", "3 entries"]),
    ((28, (3,)), {}, ["kernel_size", "pair", "1 entries"]),
    ((28, 3), {"dilation": (1, 1, 1)}, ["dilation", "pair"]),
    (((28, 2.5), 3), {}, ["input_size[1]", "integer"]),
]


@pytest.mark.parametrize("args, kwargs, words", ERRORS, ids=[f"{a}-{k}" for a, k, _ in ERRORS])
def test_bad_arguments_raise_value_error_naming_them(args, kwargs, words):
    with pytest.raises(ValueError) as error:
        conv_output_size(*args, **kwargs)
    for word in words:
        assert word in str(error.value), f"{word!r} missing from: {error.value}"


def test_pair_and_check_positive_int():
    assert pair(3, "k") == (3, 3) and pair([2, 5], "k") == (2, 5)
    assert pair(0, "p", allow_zero=True) == (0, 0)
    assert check_positive_int(np.int32(4), "n") == 4 and type(check_positive_int(np.int32(4), "n")) is int
    with pytest.raises(ValueError, match="p must be >= 0"):
        pair(-1, "p", allow_zero=True)
    with pytest.raises(ValueError, match="n must be > 0"):
        check_positive_int(0, "n")
