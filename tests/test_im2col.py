"""cnnlib.im2col: the column array holds each receptive field, and col2im is its exact adjoint."""

import numpy as np
import pytest

from cnnlib.im2col import WIDE_CHANNELS, col2im_nhwc, im2col_nhwc, pad_nhwc
from cnnlib.shapes import conv_output_size


@pytest.mark.parametrize("channels", [3, WIDE_CHANNELS + 1])  # both ways of building the columns
@pytest.mark.parametrize("kernel, stride, dilation", [((3, 3), (1, 1), (1, 1)), ((2, 3), (2, 1), (1, 2)), ((1, 1), (3, 2), (1, 1)), ((3, 2), (2, 1), (2, 1))])
def test_rows_are_receptive_fields_and_col2im_is_the_adjoint(kernel, stride, dilation, channels):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 9, 8, channels))
    out = conv_output_size((9, 8), kernel, stride, 0, dilation)
    matrix = im2col_nhwc(x, kernel, stride, dilation, out)
    taps = kernel[0] * kernel[1] * channels
    assert matrix.shape == (2 * out[0] * out[1], taps)
    # Wide inputs give a C-contiguous matrix, narrow ones the transpose of a tap-major one; the 6-D view is free.
    assert matrix.flags.c_contiguous == (channels >= WIDE_CHANNELS) and matrix.T.flags.c_contiguous == (channels < WIDE_CHANNELS)
    cols = matrix.reshape(2, *out, *kernel, channels)
    assert np.shares_memory(cols, matrix)
    with_ones = im2col_nhwc(x, kernel, stride, dilation, out, ones_column=True)
    np.testing.assert_array_equal(with_ones, np.hstack([matrix, np.ones((len(matrix), 1))]))
    for y, xx, i, j in [(0, 0, 0, 0), (out[0] // 2, out[1] - 1, kernel[0] // 2, kernel[1] - 1)]:
        np.testing.assert_array_equal(cols[0, y, xx, i, j], x[0, y * stride[0] + i * dilation[0], xx * stride[1] + j * dilation[1]])
    n, y, xx, i, j = 1, out[0] - 1, out[1] - 1, kernel[0] - 1, kernel[1] - 1
    np.testing.assert_array_equal(cols[n, y, xx, i, j], x[n, y * stride[0] + i * dilation[0], xx * stride[1] + j * dilation[1]])
    # <col2im(G), x> == <G, im2col(x)> for every G: col2im is the transpose of im2col
    g = rng.standard_normal(cols.shape)
    back = col2im_nhwc(g, x.shape, kernel, stride, dilation)
    assert np.isclose(np.sum(back * x), np.sum(g * cols), rtol=1e-12)


def test_pad_returns_a_new_array_and_keeps_the_input():
    x = np.ones((1, 2, 3, 1))
    padded = pad_nhwc(x, (1, 2), value=-np.inf)
    assert padded.shape == (1, 4, 7, 1) and padded[0, 0, 0, 0] == -np.inf and padded[0, 1, 2, 0] == 1
    assert pad_nhwc(x, (0, 0)) is x
    np.testing.assert_array_equal(x, 1)
