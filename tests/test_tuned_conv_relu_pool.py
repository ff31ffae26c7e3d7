"""The first block of the course's net -- a one-channel 3x3 convolution, a ReLU and a 2x2
max pooling -- run as one op (cnnlib.tuned.conv_relu_pool) gives what the three layers
give one by one: the readable ops, and the tuned ones, forward and backward, up to float
rounding (float64 to 1e-12 of the largest value, float32 to 1e-5), with the same
winners of the pooling. Sequential runs it so where it applies, and only there.

Every test runs with the compiled kernels on and off: off, the block is never run as
one op, and everything must still work layer by layer.
"""

import numpy as np
import pytest

import cnnlib
from cnnlib import ops, tuned
from cnnlib.tuned import compiled
from conftest import lenet


@pytest.fixture(autouse=True, params=["numba", "numpy"])
def numba_on(request):
    """``True`` with the compiled kernels on (the block can run as one op)."""
    with compiled.use_numba(request.param == "numba"):
        assert compiled.numba_enabled() == (request.param == "numba")
        yield request.param == "numba"


TOLERANCE = {np.float64: 1e-12, np.float32: 1e-5}
DTYPES = [np.float64, np.float32]
POOL = ((2, 2), (2, 2), (0, 0), (1, 1))  # kernel, stride, padding, dilation


def assert_close(got, expected, dtype):
    assert got.shape == expected.shape and got.dtype == expected.dtype == dtype
    scale = max(np.abs(expected).max(), 1e-30)
    error = np.abs(got - expected).max() / scale
    assert error <= TOLERANCE[dtype], f"relative error {error:.2e}"


def block_cases(count, seed):
    """``(n, c_out, h, w, padding, bias)``: odd and even sizes, so that the
    convolution's last row or column is sometimes left out by the pooling."""
    rng = np.random.default_rng(seed)
    cases = []
    while len(cases) < count:
        n, c_out = int(rng.integers(1, 4)), int(rng.integers(1, 6))
        h, w = (int(v) for v in rng.integers(2, 14, size=2))
        padding = tuple(int(v) for v in rng.integers(0, 3, size=2))
        if h + 2 * padding[0] < 4 or w + 2 * padding[1] < 4:
            continue  # the pooling's output would be empty
        cases.append((n, c_out, h, w, padding, bool(rng.integers(0, 2))))
    return cases


def block_arguments(case, dtype):
    n, c_out, h, w, padding, has_bias = case
    rng = np.random.default_rng(abs(hash(case)) % 2**32)
    x = rng.standard_normal((n, 1, h, w)).astype(dtype)
    weight = rng.standard_normal((c_out, 1, 3, 3)).astype(dtype)
    bias = rng.standard_normal(c_out).astype(dtype) if has_bias else None
    return rng, x, weight, bias, padding


def readable_block(x, weight, bias, padding, grad_output=None):
    """``(out, grad_x, grad_weight, grad_bias)`` of the readable ops one by one (the
    gradients ``None`` without ``grad_output``)."""
    conv, conv_cache = ops.conv2d_forward(x, weight, bias, 1, padding)
    relu, mask = ops.relu_forward(conv)
    out, pool_cache = ops.max_pool2d_forward(relu, 2)
    if grad_output is None:
        return out, None, None, None
    grad_relu = ops.max_pool2d_backward(grad_output, pool_cache)
    grad_conv = ops.relu_backward(grad_relu, mask)
    return (out, *ops.conv2d_backward(grad_conv, conv_cache))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", block_cases(24, seed=41))
def test_the_block_equals_the_readable_layers(case, dtype, numba_on):
    rng, x, weight, bias, padding = block_arguments(case, dtype)
    result = tuned.conv_relu_max_pool2d_forward(
        x, weight, bias, ((1, 1), padding, (1, 1)), POOL
    )
    if not numba_on:
        assert result is None
        return
    out, conv_cache, relu_cache, pool_cache = result
    grad_output = rng.standard_normal(out.shape).astype(dtype)
    out_r, grad_x_r, grad_weight_r, grad_bias_r = readable_block(
        x, weight, bias, padding, grad_output
    )
    assert_close(out, out_r, dtype)
    grad_weight, grad_bias = tuned.conv_relu_max_pool2d_backward(grad_output, conv_cache)
    assert_close(grad_weight, grad_weight_r, dtype)
    if bias is None:
        assert grad_bias is None
    else:
        assert_close(grad_bias, grad_bias_r, dtype)
    # Each layer's own backward on its cache, one by one (what runs where the block's
    # input gradient is needed): the same gradients, and the input gradient too.
    grad_relu = tuned.max_pool2d_backward(grad_output, pool_cache)
    grad_conv = tuned.relu_backward(grad_relu, relu_cache)
    grads = tuned.conv2d_backward(grad_conv, conv_cache)
    for got, expected in zip(grads, (grad_x_r, grad_weight_r, grad_bias_r)):
        if expected is None:
            assert got is None
        else:
            assert_close(got, expected, dtype)


@pytest.mark.parametrize("case", block_cases(24, seed=43))
def test_the_pooling_has_the_same_winners_as_the_tuned_layers(case, numba_on):
    """Which input of each window won (or that none did, after the ReLU) is what the
    tuned pooling records after the tuned convolution."""
    _, x, weight, bias, padding = block_arguments(case, np.float64)
    result = tuned.conv_relu_max_pool2d_forward(
        x, weight, bias, ((1, 1), padding, (1, 1)), POOL
    )
    if not numba_on:
        return
    out, conv_cache, relu_cache, pool_cache = result
    conv, _ = tuned.conv2d_forward(x, weight, bias, 1, padding)
    out_t, relu_cache_t, pool_cache_t = tuned.relu_max_pool2d_forward(conv, 2)
    np.testing.assert_array_equal(pool_cache.winner, pool_cache_t.winner)
    assert relu_cache == relu_cache_t
    assert pool_cache._replace(winner=None) == pool_cache_t._replace(winner=None)
    assert_close(out, out_t, np.float64)


def test_nan_and_infinity_in_the_image_reach_the_output_as_layer_by_layer(numba_on):
    """A NaN pixel makes every convolution output that reads it NaN; the pooling keeps a
    NaN only as a window's first tap, and the ReLU keeps it; an infinite pixel gives
    infinite outputs. The same outputs and winners as the tuned layers one by one."""
    rng = np.random.default_rng(47)
    x = rng.standard_normal((2, 1, 10, 11))
    x[0, 0, 3, 4], x[0, 0, 7, 2], x[1, 0, 5, 5] = np.nan, np.inf, -np.inf
    weight, bias = rng.standard_normal((4, 1, 3, 3)), rng.standard_normal(4)
    result = tuned.conv_relu_max_pool2d_forward(
        x, weight, bias, ((1, 1), (1, 1), (1, 1)), POOL
    )
    if not numba_on:
        return
    out, _, _, pool_cache = result
    with np.errstate(invalid="ignore"):  # inf - inf in the convolution: NaN
        conv, _ = tuned.conv2d_forward(x, weight, bias, 1, 1)
        out_t, _, pool_cache_t = tuned.relu_max_pool2d_forward(conv, 2)
    assert np.isnan(out).any() and np.isinf(out).any()
    np.testing.assert_array_equal(np.isnan(out), np.isnan(out_t))
    np.testing.assert_array_equal(np.isinf(out), np.isinf(out_t))
    finite = np.isfinite(out_t)
    np.testing.assert_allclose(out[finite], out_t[finite], rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(pool_cache.winner, pool_cache_t.winner)


@pytest.mark.parametrize(
    ("change", "conv_args", "pool_args"),
    [
        ("two input channels", None, POOL),
        ("a 5x5 kernel", None, POOL),
        ("stride 2", ((2, 2), (0, 0), (1, 1)), POOL),
        ("dilation 2", ((1, 1), (0, 0), (2, 2)), POOL),
        ("3x3 pooling", None, ((3, 3), (3, 3), (0, 0), (1, 1))),
        ("pooling of stride 1", None, ((2, 2), (1, 1), (0, 0), (1, 1))),
        ("padded pooling", None, ((2, 2), (2, 2), (1, 1), (1, 1))),
        ("dilated pooling", None, ((2, 2), (2, 2), (0, 0), (2, 2))),
    ],
)
def test_any_other_block_is_left_to_the_layers(change, conv_args, pool_args):
    rng = np.random.default_rng(53)
    channels, kernel = (2, 3) if change == "two input channels" else (1, 3)
    if change == "a 5x5 kernel":
        kernel = 5
    x = rng.standard_normal((2, channels, 12, 12))
    weight = rng.standard_normal((3, channels, kernel, kernel))
    conv_args = conv_args or ((1, 1), (0, 0), (1, 1))
    assert tuned.conv_relu_max_pool2d_forward(x, weight, None, conv_args, pool_args) is None


def test_an_input_too_small_for_the_pooling_is_left_to_the_layers_and_their_errors():
    x, weight = np.ones((1, 1, 3, 3)), np.ones((2, 1, 3, 3))
    assert tuned.conv_relu_max_pool2d_forward(
        x, weight, None, ((1, 1), (0, 0), (1, 1)), POOL
    ) is None
    model = cnnlib.nn.Sequential(
        cnnlib.nn.Conv2d(1, 2, 3, dtype=np.float64), cnnlib.nn.ReLU(), cnnlib.nn.MaxPool2d(2)
    )
    with pytest.raises(ValueError, match="max_pool2d"):
        model(x)


def test_bad_input_gets_the_convolutions_error():
    model = cnnlib.nn.Sequential(
        cnnlib.nn.Conv2d(1, 2, 3, dtype=np.float64), cnnlib.nn.ReLU(), cnnlib.nn.MaxPool2d(2)
    )
    with pytest.raises(ValueError, match="x has 2 channels"):
        model(np.ones((1, 2, 8, 8)))
    with pytest.raises(ValueError, match="must be float32 or float64"):
        model(np.ones((1, 1, 8, 8), dtype=int))


def layer_by_layer(model, x):
    """``model``'s layers one at a time, as a chapter runs them: nothing fused."""
    for layer in model:
        x = layer(x)
    return x


@pytest.mark.parametrize("needs_input_grad", [False, True])
@pytest.mark.parametrize("dtype", DTYPES)
def test_sequential_runs_the_course_nets_first_block_as_one_op(dtype, needs_input_grad, numba_on):
    """The course's net through Sequential and layer by layer: the same output, and the
    same parameter gradients (and input gradient, where asked for) up to rounding; the
    parameter gradients do not depend on whether the input gradient is asked for."""
    x = np.random.default_rng(59).standard_normal((4, 1, 28, 28)).astype(dtype)
    results = []
    for fused in (True, False):
        model = lenet(np.random.default_rng(61), dtype)
        out = model(x) if fused else layer_by_layer(model, x)
        grad_x = model.backward(np.ones_like(out), needs_input_grad=needs_input_grad)
        grads = {name: p.grad for name, p in model.named_parameters()}
        results.append((out, grad_x, grads, type(model[0]._cache)))
    (out_f, grad_x_f, grads_f, cache_f), (out_1, grad_x_1, grads_1, cache_1) = results
    assert cache_f is (tuned.ConvReluPoolCache if numba_on else tuned.Conv2dCache)
    assert cache_1 is tuned.Conv2dCache
    assert_close(out_f, out_1, dtype)
    if needs_input_grad:
        assert_close(grad_x_f, grad_x_1, dtype)
    else:
        assert grad_x_f is None and grad_x_1 is None
    for name in grads_1:
        assert_close(grads_f[name], grads_1[name], dtype)
    model = lenet(np.random.default_rng(61), dtype)
    model(x)
    model.backward(np.ones_like(out_f), needs_input_grad=not needs_input_grad)
    for name, parameter in model.named_parameters():
        np.testing.assert_array_equal(parameter.grad, grads_f[name], err_msg=name)


def test_a_fused_block_backward_follows_its_forward_whatever_the_switches_say(numba_on):
    """Forward through Sequential with the block run as one op; backward with the
    readable ops switched on, or numba off: the same gradients, up to rounding (with
    numba off the layers run one by one)."""
    if not numba_on:
        return
    x = np.random.default_rng(67).standard_normal((3, 1, 12, 12))
    grads = []
    for fast, compiled_on in ((True, True), (False, True), (True, False)):
        model = cnnlib.nn.Sequential(
            cnnlib.nn.Conv2d(1, 4, 3, rng=np.random.default_rng(71), dtype=np.float64),
            cnnlib.nn.ReLU(),
            cnnlib.nn.MaxPool2d(2),
        )
        out = model(x)
        assert isinstance(model[0]._cache, tuned.ConvReluPoolCache)
        upstream = np.arange(out.size, dtype=x.dtype).reshape(out.shape)
        with cnnlib.fast_kernels(fast), compiled.use_numba(compiled_on):
            model.backward(upstream, needs_input_grad=False)
        grads.append((model[0].weight.grad, model[0].bias.grad))
    expected = readable_block(x, model[0].weight.data, model[0].bias.data, (0, 0), upstream)
    for grad_weight, grad_bias in grads:
        assert_close(grad_weight, expected[2], np.float64)
        assert_close(grad_bias, expected[3], np.float64)


def test_sequential_runs_the_block_only_where_it_applies(numba_on):
    """Not with the readable ops on, not for subclasses, not for other geometries, and
    not with another layer between the convolution and the pooling."""

    class ScaledConv(cnnlib.nn.Conv2d):
        def forward(self, x):
            return super().forward(x) * 2

    def block(conv=None, between=None, pool=None):
        rng = np.random.default_rng(73)
        return cnnlib.nn.Sequential(
            conv or cnnlib.nn.Conv2d(1, 3, 3, rng=rng, dtype=np.float64),
            between or cnnlib.nn.ReLU(),
            pool or cnnlib.nn.MaxPool2d(2),
        )

    rng = np.random.default_rng(79)
    models = {
        "the block": block(),
        "readable": block(),
        "subclass": block(conv=ScaledConv(1, 3, 3, rng=rng, dtype=np.float64)),
        "5x5": block(conv=cnnlib.nn.Conv2d(1, 3, 5, rng=rng, dtype=np.float64)),
        "batch norm, not ReLU": block(between=cnnlib.nn.BatchNorm2d(3, dtype=np.float64)),
        "3x3 pooling": block(pool=cnnlib.nn.MaxPool2d(3)),
    }
    x = np.random.default_rng(83).standard_normal((2, 1, 13, 13))
    for name, model in models.items():
        with cnnlib.fast_kernels(name != "readable"):
            out = model(x)
        ran_as_one = isinstance(model[0]._cache, tuned.ConvReluPoolCache)
        assert ran_as_one == (name == "the block" and numba_on), name
        np.testing.assert_allclose(out, layer_by_layer(model, x), rtol=1e-12, err_msg=name)
