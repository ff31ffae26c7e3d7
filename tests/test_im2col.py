"""cnnlib.im2col: the column array holds each receptive field, col2im is its exact adjoint, and copy_blocks copies as np.copyto does."""

import numpy as np
import pytest

from numpy.lib.stride_tricks import as_strided

from cnnlib.tuned.im2col import WIDE_CHANNELS, _as_blocks, col2im_nhwc, copy_blocks, im2col_nhwc, pad_nhwc, window
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


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_copy_blocks_equals_copyto_on_windows_whole_pixels_at_a_time(dtype):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((3, 8, 9, 5)).astype(dtype)  # channels-last: each pixel's 5 channels are contiguous
    for offset, stride in [((0, 0), (2, 2)), ((1, 2), (2, 3)), ((0, 1), (1, 1))]:
        source = window(x, offset, stride, (1, 1), (3, 2))
        assert _as_blocks(source, 1).shape == (3, 3, 2, 1)  # the fast path applies: one item per pixel
        expected = source.copy()
        into_array, into_window = np.zeros_like(expected), np.zeros_like(x)
        copy_blocks(into_array, source)
        copy_blocks(window(into_window, offset, stride, (1, 1), (3, 2)), expected)
        np.testing.assert_array_equal(into_array, expected)
        np.testing.assert_array_equal(window(into_window, offset, stride, (1, 1), (3, 2)), expected)
        assert np.count_nonzero(into_window) == expected.size  # nothing outside the window was written


def test_copy_blocks_of_overlapping_kernel_rows():
    # The im2col case: a read-only strided view whose blocks (kw taps x C channels) overlap in memory.
    x = np.arange(2 * 4 * 5 * 3, dtype=np.float32).reshape(2, 4, 5, 3)
    sn, sh, sw, sc = x.strides
    rows = as_strided(x, shape=(2, 4, 3, 3, 3), strides=(sn, sh, sw, sw, sc), writeable=False)
    assert _as_blocks(rows, 2).shape == (2, 4, 3, 1)
    out = np.empty(rows.shape, dtype=np.float32)
    copy_blocks(out, rows, block_axes=2)
    np.testing.assert_array_equal(out, rows)


def test_copy_blocks_falls_back_where_blocks_are_not_contiguous_or_dtypes_differ():
    x_nchw = np.arange(2 * 3 * 4 * 4, dtype=np.float32).reshape(2, 3, 4, 4)
    channels_last_view = x_nchw.transpose(0, 2, 3, 1)  # channels 16 numbers apart
    with pytest.raises(ValueError):
        _as_blocks(channels_last_view, 1)
    out = np.empty(channels_last_view.shape, dtype=np.float32)
    copy_blocks(out, channels_last_view)
    np.testing.assert_array_equal(out, channels_last_view)
    swapped = x_nchw.transpose(0, 1, 3, 2)  # the last two axes are no single block: reshape would copy
    with pytest.raises(ValueError):
        _as_blocks(swapped, 2)
    out = np.empty(swapped.shape, dtype=np.float32)
    copy_blocks(out, swapped, block_axes=2)
    np.testing.assert_array_equal(out, swapped)
    # Different dtypes of the same item size: values are converted, never bytes reinterpreted.
    as_float = np.empty(x_nchw.shape, dtype=np.float32)
    copy_blocks(as_float, x_nchw.astype(np.int32), block_axes=2)
    np.testing.assert_array_equal(as_float, x_nchw)
    empty = np.empty((0, 4, 4, 3), dtype=np.float32)
    copy_blocks(empty, np.ones((0, 4, 4, 3), dtype=np.float32))
