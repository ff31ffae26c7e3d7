"""The tuned kernels (cnnlib.tuned) equal the readable ops (cnnlib.ops) that the book prints.

Every op runs forward and backward both ways on a seeded grid of random shapes:
padding, stride, dilation, non-square kernels, overlapping windows, ties, batch 1
and odd sizes. float64 must agree to 1e-12 (relative to the largest value), float32
to 1e-5. A whole training step of the course's net gives the same loss and
gradients on both paths, and Adam's step the same parameters and moments, bit for bit.

Every test runs twice: with the compiled (numba) kernels the tuned path uses where
numba is installed, and with its NumPy-only code, which runs where it is not.
"""

import numpy as np
import pytest

import cnnlib
from cnnlib import ops, tuned
from cnnlib.shapes import conv_output_size
from cnnlib.tuned import compiled, reuse
from conftest import lenet


@pytest.fixture(autouse=True, params=["numba", "numpy"])
def tuned_kernels(request):
    """Run the test with the compiled kernels on (``"numba"``) or off."""
    with compiled.use_numba(request.param == "numba"):
        # requirements.txt installs numba: its absence must fail here, not pass as
        # a second run of the NumPy code
        assert compiled.numba_enabled() == (request.param == "numba")
        yield request.param


TOLERANCE = {np.float64: 1e-12, np.float32: 1e-5}
DTYPES = [np.float64, np.float32]


def assert_close(tuned_value, readable_value, dtype):
    assert tuned_value.shape == readable_value.shape
    assert tuned_value.dtype == readable_value.dtype == dtype
    scale = max(np.abs(readable_value).max(), 1e-30)
    error = np.abs(tuned_value - readable_value).max() / scale
    assert error <= TOLERANCE[dtype], f"relative error {error:.2e}"


def random_conv_cases(count: int, seed: int):
    """Convolution geometries drawn at random, kept only where the output is not empty."""
    rng = np.random.default_rng(seed)
    cases = []
    while len(cases) < count:
        n = int(rng.choice([1, 2, 3]))
        c_in, c_out = int(rng.choice([1, 2, 3, 8, 16])), int(rng.integers(1, 6))
        h, w = (int(v) for v in rng.integers(3, 12, size=2))
        kernel = tuple(int(v) for v in rng.integers(1, 5, size=2))
        stride = tuple(int(v) for v in rng.integers(1, 4, size=2))
        padding = tuple(int(v) for v in rng.integers(0, 3, size=2))
        dilation = tuple(int(v) for v in rng.integers(1, 3, size=2))
        try:
            conv_output_size((h, w), kernel, stride, padding, dilation)
        except ValueError:
            continue
        bias = bool(rng.integers(0, 2))
        cases.append((n, c_in, c_out, h, w, kernel, stride, padding, dilation, bias))
    return cases


def random_pool_cases(count: int, seed: int, dilated: bool):
    rng = np.random.default_rng(seed)
    cases = []
    while len(cases) < count:
        n, c = int(rng.choice([1, 2])), int(rng.choice([1, 3, 16]))
        h, w = (int(v) for v in rng.integers(2, 12, size=2))
        kernel = tuple(int(v) for v in rng.integers(1, 5, size=2))
        stride = tuple(int(v) for v in rng.integers(1, 4, size=2))
        padding = tuple(int(rng.integers(0, k // 2 + 1)) for k in kernel)
        dilation = (
            tuple(int(v) for v in rng.integers(1, 3, size=2)) if dilated else (1, 1)
        )
        try:
            conv_output_size((h, w), kernel, stride, padding, dilation)
        except ValueError:
            continue
        cases.append((n, c, h, w, kernel, stride, padding, dilation))
    return cases


def conv_arguments(case, dtype):
    """``(rng, (x, weight, bias, stride, padding, dilation))`` for a case of
    :func:`random_conv_cases`, drawn from a generator seeded by the case."""
    n, c_in, c_out, h, w, kernel, stride, padding, dilation, has_bias = case
    rng = np.random.default_rng(abs(hash(case)) % 2**32)
    x = rng.standard_normal((n, c_in, h, w)).astype(dtype)
    weight = rng.standard_normal((c_out, c_in, *kernel)).astype(dtype)
    bias = rng.standard_normal(c_out).astype(dtype) if has_bias else None
    return rng, (x, weight, bias, stride, padding, dilation)


def assert_gradients_close(got, expected, dtype):
    """Two ``(grad_x, grad_weight, grad_bias)`` triples agree, ``None`` for ``None``."""
    for got_one, expected_one in zip(got, expected, strict=True):
        if expected_one is None:
            assert got_one is None
        else:
            assert_close(got_one, expected_one, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", random_conv_cases(24, seed=2026))
def test_conv2d(case, dtype):
    rng, args = conv_arguments(case, dtype)
    out_t, cache_t = tuned.conv2d_forward(*args)
    out_r, cache_r = ops.conv2d_forward(*args)
    assert_close(out_t, out_r, dtype)
    grad_output = rng.standard_normal(out_r.shape).astype(dtype)
    assert_gradients_close(
        tuned.conv2d_backward(grad_output, cache_t),
        ops.conv2d_backward(grad_output, cache_r),
        dtype,
    )


def in_layout(array: np.ndarray, layout: str) -> np.ndarray:
    """The same ``(N, C, H, W)`` values stored as ``layout`` says: ``"nchw"``
    (C-ordered), ``"channels-last"``, or ``"strided"`` (every other element of a larger
    array, contiguous along no axis)."""
    if layout == "nchw":
        return np.ascontiguousarray(array)
    if layout == "channels-last":
        return np.ascontiguousarray(array.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2)
    wider = np.zeros((*array.shape[:3], 2 * array.shape[3]), dtype=array.dtype)
    wider[..., ::2] = array
    return wider[..., ::2]


@pytest.mark.parametrize("layout", ["nchw", "channels-last", "strided"])
@pytest.mark.parametrize("case", random_conv_cases(24, seed=31))
def test_column_matrix_holds_the_readable_receptive_fields(case, layout):
    """The forward pass's column matrix, however the input is stored and whichever
    tuned code builds it, holds exactly the readable im2col's numbers (its columns in
    the order (i, j, c) rather than (c, i, j)), then a column of ones with a bias."""
    for dtype in DTYPES:
        _, (x, weight, bias, stride, padding, dilation) = conv_arguments(case, dtype)
        x = in_layout(x, layout)
        before = x.copy()
        _, cache = tuned.conv2d_forward(x, weight, bias, stride, padding, dilation)
        c_in, (kh, kw), taps = x.shape[1], weight.shape[2:], weight[0].size
        readable = ops.im2col(x, (kh, kw), stride, padding, dilation, cache.out_hw)
        by_tap = cache.cols[:, :taps].reshape(-1, kh, kw, c_in).transpose(0, 3, 1, 2)
        np.testing.assert_array_equal(by_tap.reshape(readable.shape), readable)
        assert cache.cols.shape[1] == taps + (bias is not None)
        if bias is not None:
            assert (cache.cols[:, taps] == 1).all()
        np.testing.assert_array_equal(x, before)


def test_numba_builds_the_column_matrix_where_its_kernel_applies(tuned_kernels):
    """With numba on, the compiled im2col runs for 8 or more channels in any layout (so
    the test above checks it, not only the NumPy code), and declines what it was not
    written for."""
    x = np.random.default_rng(5).standard_normal((2, 8, 6, 6)).astype(np.float32)

    def columns(x, channels=8, dilation=(1, 1), out_hw=(4, 4)):
        x_nhwc = x[:, :channels].transpose(0, 2, 3, 1)
        return compiled.im2col_or_none(
            x_nhwc, (3, 3), (1, 1), (0, 0), dilation, out_hw, ones_column=True
        )

    for layout in ("nchw", "channels-last", "strided"):
        built = columns(in_layout(x, layout))
        assert (built is not None) == (tuned_kernels == "numba"), layout
    assert columns(x, channels=7) is None
    assert columns(x, dilation=(1, 2), out_hw=(4, 2)) is None
    assert columns(x.astype(np.int64)) is None


def test_the_next_column_matrix_reuses_only_a_finished_column_gradient(tuned_kernels):
    """With numba on, the memory of a backward pass's column gradient holds the next
    column matrix (cnnlib.tuned.reuse), and is then no longer kept; a cache still alive
    keeps its own numbers, and the new cache is the new input's."""
    reuse._kept.clear()  # a block left by an earlier test
    rng = np.random.default_rng(11)
    x1, x2 = rng.standard_normal((2, 3, 8, 7, 7)).astype(np.float32)
    weight = rng.standard_normal((5, 8, 3, 3)).astype(np.float32)
    bias = rng.standard_normal(5).astype(np.float32)
    grad = rng.standard_normal((3, 5, 5, 5)).astype(np.float32)
    _, cache1 = tuned.conv2d_forward(x1, weight, bias)
    first = tuned.conv2d_backward(grad, cache1)
    kept = list(reuse._kept)
    _, cache2 = tuned.conv2d_forward(x2, weight, bias)
    assert len(kept) == (tuned_kernels == "numba")
    if kept:
        assert np.shares_memory(cache2.cols, kept[0]) and not reuse._kept
    assert not np.shares_memory(cache1.cols, cache2.cols)
    again = tuned.conv2d_backward(grad, cache1)
    for got, expected in zip(again, first, strict=True):
        np.testing.assert_array_equal(got, expected)
    assert_gradients_close(
        tuned.conv2d_backward(grad, cache2),
        ops.conv2d_backward(grad, ops.conv2d_forward(x2, weight, bias)[1]),
        np.float32,
    )


def test_a_kept_block_serves_only_a_matrix_of_its_dtype_and_about_its_size():
    """cnnlib.tuned.reuse gives new memory for a larger array, a much smaller one or
    another dtype, and gives the kept block up in every case."""
    for size, dtype in [(101, np.float32), (49, np.float32), (60, np.float64)]:
        block = np.empty(100, np.float32)
        reuse.keep(block)
        got = reuse.take(size, dtype)
        assert got.shape == (size,) and got.dtype == dtype
        assert not np.shares_memory(got, block) and not reuse._kept
    reuse.keep(block)
    assert np.shares_memory(reuse.take(50, np.float32), block)


@pytest.mark.parametrize("needs_input_grad", [True, False])
@pytest.mark.parametrize("layout", ["nchw", "channels-last", "strided"])
@pytest.mark.parametrize("case", random_conv_cases(10, seed=23))
def test_conv2d_backward_on_any_gradient_layout(case, layout, needs_input_grad):
    """The backward pass reads the gradient where it lies, whatever its strides (one
    input channel or few: image by image; many: as rows), and gives the readable op's
    gradients."""
    dtype = np.float32
    rng, args = conv_arguments(case, dtype)
    out, cache_t = tuned.conv2d_forward(*args)
    _, cache_r = ops.conv2d_forward(*args)
    grad_output = in_layout(rng.standard_normal(out.shape).astype(dtype), layout)
    before = grad_output.copy()
    got = tuned.conv2d_backward(grad_output, cache_t, needs_input_grad)
    expected = ops.conv2d_backward(grad_output, cache_r, needs_input_grad)
    np.testing.assert_array_equal(grad_output, before)
    assert_gradients_close(got, expected, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", random_pool_cases(16, seed=7, dilated=True))
def test_max_pool2d_with_ties(case, dtype):
    """Inputs drawn from {0, 1, 2}: most windows tie, and both paths must pick the
    same (first) winner, so the gradients agree exactly."""
    n, c, h, w, kernel, stride, padding, dilation = case
    rng = np.random.default_rng(abs(hash(case)) % 2**32)
    for x in (rng.integers(0, 3, size=(n, c, h, w)), rng.standard_normal((n, c, h, w))):
        x = x.astype(dtype)
        out_t, cache_t = tuned.max_pool2d_forward(x, kernel, stride, padding, dilation)
        out_r, cache_r = ops.max_pool2d_forward(x, kernel, stride, padding, dilation)
        np.testing.assert_array_equal(out_t, out_r)
        grad_output = rng.standard_normal(out_r.shape).astype(dtype)
        assert_close(
            tuned.max_pool2d_backward(grad_output, cache_t),
            ops.max_pool2d_backward(grad_output, cache_r),
            dtype,
        )


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", random_pool_cases(16, seed=9, dilated=True))
def test_relu_then_max_pool_in_one_pass(case, dtype):
    """The fused op against the readable ReLU and max pooling run one after the other.
    Inputs from {-2, ..., 2} make windows whose inputs are all 0 or negative, whose
    tied maxima the ReLU turns into zeros, and ties among positive values."""
    n, c, h, w, kernel, stride, padding, dilation = case
    rng = np.random.default_rng(abs(hash(case)) % 2**32)
    for x in (rng.integers(-2, 3, size=(n, c, h, w)), rng.standard_normal((n, c, h, w))):
        x = x.astype(dtype)
        x_before = x.copy()
        pool_args = (kernel, stride, padding, dilation)
        out_t, *caches = tuned.relu_max_pool2d_forward(x, *pool_args)
        grad_output = rng.standard_normal(out_t.shape).astype(dtype)
        grad_before = grad_output.copy()
        grad_t = fused_backward(grad_output, *caches)
        out_r, grad_r = readable_relu_then_max_pool(x, grad_output, *pool_args)
        np.testing.assert_array_equal(out_t, out_r)
        assert grad_t.shape == x.shape
        np.testing.assert_array_equal(grad_t, grad_r)
        np.testing.assert_array_equal(x, x_before)
        np.testing.assert_array_equal(grad_output, grad_before)


@pytest.mark.parametrize("dtype", DTYPES)
def test_sequential_runs_relu_and_max_pool_as_one_op(dtype):
    """The course's net, on two input channels, through Sequential (which fuses each
    ReLU with the pooling after it) and layer by layer: the same output, input gradient
    and parameter gradients, bit for bit. The last ReLU has no pooling after it and runs
    alone. (On one channel, Sequential runs the first block, convolution included, as
    one op: the same up to rounding, see test_tuned_conv_relu_pool.py.)"""
    rng = np.random.default_rng(12)
    x = rng.standard_normal((4, 2, 28, 28)).astype(dtype)
    results = []
    for fused in (True, False):
        model = lenet(np.random.default_rng(13), dtype)
        setattr(model, "0", cnnlib.nn.Conv2d(2, 16, 3, rng=np.random.default_rng(13), dtype=dtype))
        out = model(x) if fused else _one_by_one(model, x)
        grad_x = model.backward(np.ones_like(out))
        grads = {name: p.grad for name, p in model.named_parameters()}
        relu_caches = [type(layer._cache) for layer in model if type(layer) is cnnlib.nn.ReLU]
        results.append((out, grad_x, grads, relu_caches))
    (out_f, grad_x_f, grads_f, caches_f), (out_1, grad_x_1, grads_1, caches_1) = results
    assert caches_f == [tuned.ReluAppliedByPooling, tuned.ReluAppliedByPooling, np.ndarray]
    assert caches_1 == [np.ndarray] * 3
    np.testing.assert_array_equal(out_f, out_1)
    np.testing.assert_array_equal(grad_x_f, grad_x_1)
    for name in grads_1:
        np.testing.assert_array_equal(grads_f[name], grads_1[name])


def test_a_fused_pair_backward_follows_its_forward_whatever_the_switch_says():
    """Forward through Sequential on the tuned kernels (fused), backward with the
    readable ops switched on: the same gradients as a backward on the tuned path."""
    x = np.random.default_rng(15).standard_normal((2, 3, 6, 6))
    grads = []
    for fast_backward in (True, False):
        model = cnnlib.nn.Sequential(cnnlib.nn.ReLU(), cnnlib.nn.MaxPool2d(2))
        out = model(x)
        assert isinstance(model[0]._cache, tuned.ReluAppliedByPooling)
        upstream = np.arange(out.size, dtype=x.dtype).reshape(out.shape)
        with cnnlib.fast_kernels(fast_backward):
            grads.append(model.backward(upstream))
    np.testing.assert_array_equal(grads[0], grads[1])
    np.testing.assert_array_equal(grads[1], readable_relu_then_max_pool(x, upstream, 2)[1])


def test_sequential_fuses_only_a_relu_followed_by_max_pooling():
    """Not with the readable ops on, not for a subclass (it may compute something
    else), not for a ReLU last or before another layer."""

    class HalfPool(cnnlib.nn.MaxPool2d):
        def forward(self, x):
            return super().forward(x) / 2

    x = np.random.default_rng(14).standard_normal((2, 3, 6, 6))
    models = {
        "readable": cnnlib.nn.Sequential(cnnlib.nn.ReLU(), cnnlib.nn.MaxPool2d(2)),
        "subclass": cnnlib.nn.Sequential(cnnlib.nn.ReLU(), HalfPool(2)),
        "last": cnnlib.nn.Sequential(cnnlib.nn.MaxPool2d(2), cnnlib.nn.ReLU()),
        "before another": cnnlib.nn.Sequential(cnnlib.nn.ReLU(), cnnlib.nn.AvgPool2d(2)),
    }
    for name, model in models.items():
        with cnnlib.fast_kernels(name != "readable"):
            out = model(x)
        assert np.array_equal(out, _one_by_one(model, x)), name
        relu = next(layer for layer in model if type(layer) is cnnlib.nn.ReLU)
        assert isinstance(relu._cache, np.ndarray), name
    np.testing.assert_array_equal(
        models["subclass"](x), np.maximum(x, 0).reshape(2, 3, 3, 2, 3, 2).max((3, 5)) / 2
    )


def _one_by_one(model, x):
    """``model``'s layers run one at a time, as a chapter does, without fusion."""
    for layer in model:
        x = layer(x)
    return x


def fused_backward(grad_output, relu_cache, pool_cache):
    """The gradient through a fused ReLU and max pooling: the two backward passes in
    turn, as Sequential.backward runs them."""
    return tuned.relu_backward(tuned.max_pool2d_backward(grad_output, pool_cache), relu_cache)


def readable_relu_then_max_pool(x, grad_output, *pool_args):
    """``(out, grad_x)`` of the readable ReLU, then max pooling (``pool_args``: kernel
    size, stride, ...), with ``grad_output`` sent back through both."""
    relu_out, mask = ops.relu_forward(x)
    out, cache = ops.max_pool2d_forward(relu_out, *pool_args)
    return out, ops.relu_backward(ops.max_pool2d_backward(grad_output, cache), mask)


@pytest.mark.parametrize("count_include_pad", [True, False])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", random_pool_cases(12, seed=8, dilated=False))
def test_avg_pool2d(case, dtype, count_include_pad):
    n, c, h, w, kernel, stride, padding, _ = case
    rng = np.random.default_rng(abs(hash(case)) % 2**32)
    x = rng.standard_normal((n, c, h, w)).astype(dtype)
    options = dict(count_include_pad=count_include_pad)
    out_t, cache_t = tuned.avg_pool2d_forward(x, kernel, stride, padding, **options)
    out_r, cache_r = ops.avg_pool2d_forward(x, kernel, stride, padding, **options)
    assert_close(out_t, out_r, dtype)
    grad_output = rng.standard_normal(out_r.shape).astype(dtype)
    assert_close(
        tuned.avg_pool2d_backward(grad_output, cache_t),
        ops.avg_pool2d_backward(grad_output, cache_r),
        dtype,
    )


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(1,), (3, 5), (2, 3, 4, 5), (1, 16, 13, 13)])
def test_relu(shape, dtype):
    x = np.random.default_rng(len(shape)).standard_normal(shape).astype(dtype)
    x.flat[0] = 0.0  # the derivative at exactly 0 is 0 on both paths
    out_t, mask_t = tuned.relu_forward(x)
    out_r, mask_r = ops.relu_forward(x)
    np.testing.assert_array_equal(out_t, out_r)
    np.testing.assert_array_equal(mask_t, mask_r)


@pytest.mark.parametrize("dtype", DTYPES)
def test_a_whole_training_step_is_the_same_on_both_paths(dtype):
    """Loss and every parameter gradient of the course's net, on a real-sized batch."""
    rng = np.random.default_rng(5)
    x = rng.random((8, 1, 28, 28)).astype(dtype)
    targets = rng.integers(0, 10, size=8)
    results = []
    for fast in (True, False):
        model = lenet(np.random.default_rng(11), dtype)
        loss_fn = cnnlib.nn.CrossEntropyLoss()
        with cnnlib.fast_kernels(fast):
            loss = loss_fn(model(x), targets)
            model.backward(loss_fn.backward())
        grads = {name: p.grad for name, p in model.named_parameters()}
        results.append((loss, grads))
    (loss_t, grads_t), (loss_r, grads_r) = results
    assert_close(np.asarray(loss_t), np.asarray(loss_r), dtype)
    assert grads_t.keys() == grads_r.keys()
    for name in grads_t:
        assert_close(grads_t[name], grads_r[name], dtype)


def test_the_switch_works_as_a_function_and_as_a_context_manager():
    assert cnnlib.fast_kernels_enabled()
    with cnnlib.fast_kernels(False):
        assert not cnnlib.fast_kernels_enabled()
        _, cache = cnnlib.functional.conv2d_forward(
            np.ones((1, 1, 3, 3)), np.ones((1, 1, 2, 2))
        )
        assert isinstance(cache, ops.Conv2dCache)
    assert cnnlib.fast_kernels_enabled()
    cnnlib.fast_kernels(False)
    try:
        assert not cnnlib.fast_kernels_enabled()
    finally:
        cnnlib.fast_kernels(True)
    _, cache = cnnlib.functional.conv2d_forward(
        np.ones((1, 1, 3, 3)), np.ones((1, 1, 2, 2))
    )
    assert isinstance(cache, tuned.Conv2dCache)
    with pytest.raises(ValueError, match="enabled must be True or False"):
        cnnlib.fast_kernels("no")


def test_a_backward_follows_the_path_of_its_forward():
    """Switching between forward and backward must not mix the paths' caches."""
    x, weight = np.ones((1, 2, 5, 5)), np.ones((3, 2, 3, 3))
    out, cache = cnnlib.functional.conv2d_forward(x, weight)
    with cnnlib.fast_kernels(False):
        grads = cnnlib.functional.conv2d_backward(np.ones(out.shape), cache)
    expected = ops.conv2d_backward(np.ones(out.shape), ops.conv2d_forward(x, weight)[1])
    for got, want in zip(grads[:2], expected[:2]):
        np.testing.assert_allclose(got, want, rtol=1e-12)


def test_nan_and_infinity_travel_as_in_the_readable_ops():
    """NaN stays NaN through ReLU; in max pooling it wins a window only as the first
    tap (nothing is greater than NaN, and NaN is greater than nothing), as in the
    readable op; an infinite gradient routed by max pooling gives the readable op's
    NaNs (inf * 0)."""
    x = np.random.default_rng(3).standard_normal((2, 3, 6, 6))
    x[0, 0, 0, 0], x[0, 0, 1, 1] = np.nan, np.nan
    x[0, 1, 2, 3], x[1, 2, 5, 5] = np.inf, -np.inf
    x = x.transpose(0, 2, 3, 1).copy().transpose(0, 3, 1, 2)  # channels-last
    out_t, mask_t = tuned.relu_forward(x)
    out_r, mask_r = ops.relu_forward(x)
    np.testing.assert_array_equal(out_t, out_r)
    np.testing.assert_array_equal(mask_t, mask_r)
    for kernel, stride in [(2, 2), (3, 1)]:
        out_t, cache_t = tuned.max_pool2d_forward(x, kernel, stride)
        out_r, cache_r = ops.max_pool2d_forward(x, kernel, stride)
        np.testing.assert_array_equal(out_t, out_r)
        grad = np.ones(out_r.shape)
        grad[0, 0, 0, 0] = np.inf
        with np.errstate(invalid="ignore"):  # inf * 0 is NaN: the point of the check
            np.testing.assert_array_equal(
                tuned.max_pool2d_backward(grad, cache_t),
                ops.max_pool2d_backward(grad, cache_r),
            )
        # and the ReLU with the pooling in one pass, as Sequential runs them
        out_f, *caches = tuned.relu_max_pool2d_forward(x, kernel, stride)
        with np.errstate(invalid="ignore"):
            grad_f = fused_backward(grad, *caches)
            out_r, grad_r = readable_relu_then_max_pool(x, grad, kernel, stride)
        np.testing.assert_array_equal(out_f, out_r)
        np.testing.assert_array_equal(grad_f, grad_r)


def test_relu_backward_on_any_memory_layout():
    """The mask and the gradient may be stored differently (a C-ordered gradient for a
    channels-last mask, or a strided slice): the result is the same product."""
    rng = np.random.default_rng(4)
    x = rng.standard_normal((2, 5, 4, 3)).transpose(0, 3, 1, 2)
    _, mask = tuned.relu_forward(x)
    for grad in (
        rng.standard_normal(mask.shape),
        rng.standard_normal((2, 3, 10, 4))[:, :, ::2],
    ):
        np.testing.assert_array_equal(
            tuned.relu_backward(grad, mask), ops.relu_backward(grad, mask)
        )


ADAM_CASES = [
    ("Adam", {}),
    ("Adam", dict(lr=0.01, betas=(0.8, 0.99), eps=1e-6)),
    ("Adam", dict(lr=0.003, weight_decay=0.1)),
    ("AdamW", {}),
    ("AdamW", dict(lr=0.02, weight_decay=0.0)),
    ("AdamW", dict(lr=0.005, betas=(0.5, 0.9), weight_decay=0.3)),
]


def adam_runs(kind, kwargs, dtype, gradients, fast):
    """The parameters and both moments after one optimizer per ``gradients`` list
    (one array per parameter) has stepped through them, on the tuned path (``fast``)
    or the readable one; and the step count."""
    rng = np.random.default_rng(17)
    params = [
        cnnlib.nn.Parameter(rng.standard_normal(g.shape).astype(dtype))
        for g in gradients[0]
    ]
    optimizer = getattr(cnnlib.optim, kind)(params, **kwargs)
    with cnnlib.fast_kernels(fast):
        for step in gradients:
            optimizer.zero_grad()
            for p, g in zip(params, step):
                p.grad += g
            optimizer.step()
    return [p.data for p in params], optimizer._m, optimizer._v, optimizer.step_count


def assert_same_bits(got, expected):
    """Equal to the last bit: the sign of a zero, and NaN where NaN."""
    assert got.dtype == expected.dtype and got.shape == expected.shape
    bits = np.dtype(f"u{got.itemsize}")
    np.testing.assert_array_equal(got.view(bits), expected.view(bits))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(("kind", "kwargs"), ADAM_CASES, ids=str)
def test_adam_step_is_the_readable_step_bit_for_bit(kind, kwargs, dtype):
    """Ten steps on the MNIST net's parameter shapes and a few odd ones, gradients of
    every scale, zeros of both signs, and a parameter with no gradient at all."""
    rng = np.random.default_rng(29)
    shapes = [(16, 1, 3, 3), (16,), (120, 800), (10, 120), (3, 1, 5), (1,)]
    gradients = []
    for step in range(10):
        scales = 10.0 ** rng.integers(-8, 3, size=len(shapes))
        step_grads = [
            s * rng.standard_normal(shape) for s, shape in zip(scales, shapes)
        ]
        step_grads[0][:4] = 0.0
        step_grads[0][4:8] = -0.0
        step_grads[-1][...] = 0.0 if step % 2 else -0.0
        gradients.append([g.astype(dtype) for g in step_grads])
    tuned_run = adam_runs(kind, kwargs, dtype, gradients, fast=True)
    readable_run = adam_runs(kind, kwargs, dtype, gradients, fast=False)
    for tuned_arrays, readable_arrays in zip(tuned_run[:3], readable_run[:3]):
        for got, expected in zip(tuned_arrays, readable_arrays, strict=True):
            assert_same_bits(got, expected)
    assert tuned_run[3] == readable_run[3] == 10


def test_adam_step_carries_nan_and_infinity_as_the_readable_step():
    gradients = [[np.array([np.nan, np.inf, -np.inf, 1.0, 0.0])]] * 3
    with np.errstate(invalid="ignore"):  # inf / inf is NaN, in both steps alike
        tuned_run = adam_runs(
            "AdamW", dict(weight_decay=0.1), np.float64, gradients, True
        )
        readable_run = adam_runs(
            "AdamW", dict(weight_decay=0.1), np.float64, gradients, False
        )
    for tuned_arrays, readable_arrays in zip(tuned_run[:3], readable_run[:3]):
        assert_same_bits(tuned_arrays[0], readable_arrays[0])


def test_adam_runs_compiled_only_where_its_kernel_applies(tuned_kernels):
    """Compiled (with numba) on C-contiguous float arrays of one dtype; the readable
    step, with nothing changed first, for a strided gradient, a parameter turned to
    another dtype after its moments were made, or a missing gradient."""

    def ready():
        params = [cnnlib.nn.Parameter(np.ones((4, 3))) for _ in range(2)]
        for p in params:
            p.grad[...] = 0.5
        return params, cnnlib.optim.Adam(params)

    params, optimizer = ready()
    assert tuned.adam_step(optimizer) == (tuned_kernels == "numba")
    assert optimizer.step_count == (1 if tuned_kernels == "numba" else 0)

    params, optimizer = ready()
    params[1].grad = np.ones((3, 4)).T  # the right shape, Fortran order
    assert not tuned.adam_step(optimizer)
    optimizer.step()  # the readable step copes with any layout
    assert optimizer.step_count == 1

    params, optimizer = ready()
    optimizer.step()
    params[0].data = params[0].data.astype(np.float32)
    params[0].grad = params[0].grad.astype(np.float32)
    before = [p.data.copy() for p in params]
    assert not tuned.adam_step(optimizer)
    assert optimizer.step_count == 1
    for p, data in zip(params, before):
        np.testing.assert_array_equal(p.data, data)

    params, optimizer = ready()
    params[0].grad = None
    assert not tuned.adam_step(optimizer)
