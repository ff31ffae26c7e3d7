"""The loop backward passes of cnnlib.naive_grad against PyTorch's autograd, in float64."""

import zlib

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from cnnlib import naive_grad

RTOL, ATOL = 1e-10, 1e-12


def _torch_grads(op, inputs, grad_output):
    """Run ``op`` on float64 leaf tensors made from ``inputs``; backprop ``grad_output``; return their grads."""
    leaves = [torch.tensor(a, dtype=torch.float64, requires_grad=True) for a in inputs]
    out = op(*leaves)
    out.backward(torch.from_numpy(np.asarray(grad_output, dtype=np.float64)))
    return [leaf.grad.numpy() for leaf in leaves]


def _frozen(*arrays):
    return [a.copy() for a in arrays]


def _assert_unchanged(originals, arrays):
    for original, array in zip(originals, arrays):
        np.testing.assert_array_equal(original, array)


# --- convolution ---------------------------------------------------------------------------------

# (N, C_in, H, W, C_out, kernel, stride, padding, dilation)
CONV_CASES = [
    (2, 3, 7, 7, 4, 3, 1, 0, 1),
    (1, 1, 6, 6, 1, 2, 2, 0, 1),
    (2, 2, 7, 6, 3, (2, 3), (2, 1), (1, 0), 1),
    (1, 3, 8, 9, 2, (3, 2), 3, 2, 1),
    (2, 2, 9, 9, 2, 3, 1, 1, 2),
    (1, 2, 10, 8, 3, (2, 3), (2, 3), (1, 2), (3, 1)),
    (3, 1, 5, 5, 2, 5, 1, 0, 1),
    (1, 4, 4, 4, 2, 1, 1, 0, 1),
]


@pytest.mark.parametrize("case", CONV_CASES)
def test_conv2d_backward_matches_torch(case):
    n, c_in, h, w, c_out, kernel, stride, padding, dilation = case
    rng = np.random.default_rng(zlib.crc32(str(case).encode()))
    kh, kw = (kernel, kernel) if isinstance(kernel, int) else kernel
    x = rng.standard_normal((n, c_in, h, w))
    weight = rng.standard_normal((c_out, c_in, kh, kw))
    bias = rng.standard_normal(c_out)
    out = F.conv2d(torch.from_numpy(x), torch.from_numpy(weight), stride=stride, padding=padding, dilation=dilation)
    grad_output = rng.standard_normal(tuple(out.shape))
    expected = _torch_grads(
        lambda x_, w_, b_: F.conv2d(x_, w_, b_, stride=stride, padding=padding, dilation=dilation),
        [x, weight, bias],
        grad_output,
    )
    before = _frozen(grad_output, x, weight)
    got = naive_grad.conv2d_backward(grad_output, x, weight, stride=stride, padding=padding, dilation=dilation)
    _assert_unchanged(before, [grad_output, x, weight])
    assert len(got) == 3
    for g, e in zip(got, expected):
        assert g.shape == e.shape
        np.testing.assert_allclose(g, e, rtol=RTOL, atol=ATOL)


def test_conv2d_backward_keeps_float32():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((1, 2, 5, 5)).astype(np.float32)
    weight = rng.standard_normal((3, 2, 3, 3)).astype(np.float32)
    grads = naive_grad.conv2d_backward(np.ones((1, 3, 3, 3), np.float32), x, weight)
    assert [g.dtype for g in grads] == [np.float32] * 3


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(x=np.zeros((2, 5, 5)), weight=np.zeros((1, 2, 3, 3)), grad_output=np.zeros((2, 1, 3, 3))), "x must have 4"),
        (dict(x=np.zeros((1, 2, 5, 5)), weight=np.zeros((1, 2, 3)), grad_output=np.zeros((1, 1, 3, 3))), "weight must have 4"),
        (dict(x=np.zeros((1, 3, 5, 5)), weight=np.zeros((1, 2, 3, 3)), grad_output=np.zeros((1, 1, 3, 3))), "input channels"),
        (dict(x=np.zeros((1, 2, 5, 5)), weight=np.zeros((1, 2, 3, 3)), grad_output=np.zeros((1, 1, 4, 4))), "grad_output has shape"),
        (dict(x=np.zeros((1, 2, 2, 2)), weight=np.zeros((1, 2, 3, 3)), grad_output=np.zeros((1, 1, 1, 1))), "kernel_size"),
        (dict(x=np.zeros((1, 2, 5, 5)), weight=np.zeros((1, 2, 3, 3)), grad_output=np.zeros((1, 1, 3, 3)), stride=0), "stride"),
        (dict(x=np.zeros((1, 2, 5, 5)), weight=np.zeros((1, 2, 3, 3)), grad_output=np.zeros((1, 1, 3, 3)), padding=1.5), "padding"),
        (dict(x=np.zeros((1, 2, 5, 5)), weight=np.zeros((1, 2, 3, 3)), grad_output=np.zeros((1, 1, 3, 3)), dilation=-1), "dilation"),
    ],
)
def test_conv2d_backward_rejects_bad_input(kwargs, message):
    with pytest.raises(ValueError, match=message):
        naive_grad.conv2d_backward(**kwargs)


# --- pooling ---------------------------------------------------------------------------------------

# (shape, kernel_size, stride, padding)
POOL_CASES = [
    ((2, 3, 8, 8), 2, None, 0),
    ((1, 2, 7, 7), 3, 1, 0),  # overlapping windows
    ((2, 2, 7, 9), 3, 2, 1),  # overlapping, padded
    ((1, 3, 6, 9), (2, 3), (1, 2), (1, 1)),  # non-square, overlapping along height
    ((1, 1, 5, 5), 2, 1, 1),
    ((2, 1, 9, 8), (3, 2), (3, 2), 0),
]


@pytest.mark.parametrize("case", POOL_CASES)
@pytest.mark.parametrize("values", ["distinct", "ties"])
def test_max_pool2d_backward_matches_torch(case, values):
    shape, kernel_size, stride, padding = case
    rng = np.random.default_rng(zlib.crc32((str(case) + values).encode()))
    # Few distinct integers make many windows with tied maxima; torch routes to the first of them.
    x = rng.integers(-1, 2, shape).astype(np.float64) if values == "ties" else rng.standard_normal(shape)
    out = F.max_pool2d(torch.from_numpy(x), kernel_size, stride=stride, padding=padding)
    grad_output = rng.standard_normal(tuple(out.shape))
    (expected,) = _torch_grads(lambda t: F.max_pool2d(t, kernel_size, stride=stride, padding=padding), [x], grad_output)
    before = _frozen(grad_output, x)
    got = naive_grad.max_pool2d_backward(grad_output, x, kernel_size, stride=stride, padding=padding)
    _assert_unchanged(before, [grad_output, x])
    assert got.shape == x.shape
    np.testing.assert_allclose(got, expected, rtol=RTOL, atol=ATOL)


def test_max_pool2d_backward_sends_tie_to_first_max_only():
    x = np.ones((1, 1, 2, 2))
    grad = naive_grad.max_pool2d_backward(np.array([[[[5.0]]]]), x, 2)
    np.testing.assert_array_equal(grad, [[[[5.0, 0.0], [0.0, 0.0]]]])


def test_max_pool2d_backward_accumulates_overlapping_windows():
    # The centre value wins all four 2x2 windows of stride 1: its gradient is their sum.
    x = np.zeros((1, 1, 3, 3))
    x[0, 0, 1, 1] = 1.0
    grad_output = np.array([[[[1.0, 2.0], [3.0, 4.0]]]])
    grad = naive_grad.max_pool2d_backward(grad_output, x, 2, stride=1)
    expected = np.zeros((1, 1, 3, 3))
    expected[0, 0, 1, 1] = 10.0
    np.testing.assert_array_equal(grad, expected)


@pytest.mark.parametrize("case", POOL_CASES)
def test_avg_pool2d_backward_matches_torch(case):
    shape, kernel_size, stride, padding = case
    rng = np.random.default_rng(zlib.crc32(str(case).encode()))
    x = rng.standard_normal(shape)
    out = F.avg_pool2d(torch.from_numpy(x), kernel_size, stride=stride, padding=padding)
    grad_output = rng.standard_normal(tuple(out.shape))
    (expected,) = _torch_grads(lambda t: F.avg_pool2d(t, kernel_size, stride=stride, padding=padding), [x], grad_output)
    before = _frozen(grad_output, x)
    got = naive_grad.avg_pool2d_backward(grad_output, x, kernel_size, stride=stride, padding=padding)
    _assert_unchanged(before, [grad_output, x])
    np.testing.assert_allclose(got, expected, rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("backward", [naive_grad.max_pool2d_backward, naive_grad.avg_pool2d_backward])
@pytest.mark.parametrize(
    "x_shape, grad_shape, kwargs, message",
    [
        ((1, 4, 4), (1, 2, 2), dict(kernel_size=2), "x must have 4"),
        ((1, 1, 4, 4), (1, 1, 3, 3), dict(kernel_size=2), "grad_output has shape"),
        ((1, 1, 4, 4), (1, 1, 2, 2), dict(kernel_size=0), "kernel_size"),
        ((1, 1, 4, 4), (1, 1, 2, 2), dict(kernel_size=2, stride=0), "stride"),
        ((1, 1, 4, 4), (1, 1, 2, 2), dict(kernel_size=2.0), "kernel_size"),
        ((1, 1, 4, 4), (1, 1, 3, 3), dict(kernel_size=2, padding=2), "at most half"),
        ((1, 1, 2, 2), (1, 1, 1, 1), dict(kernel_size=3), "kernel_size"),
    ],
)
def test_pool_backward_rejects_bad_input(backward, x_shape, grad_shape, kwargs, message):
    with pytest.raises(ValueError, match=message):
        backward(np.zeros(grad_shape), np.zeros(x_shape), **kwargs)


# --- ReLU and linear --------------------------------------------------------------------------------


def test_relu_backward_matches_torch_including_zeros():
    rng = np.random.default_rng(1)
    x = rng.integers(-2, 3, (2, 3, 4, 5)).astype(np.float64)  # many exact zeros
    grad_output = rng.standard_normal(x.shape)
    (expected,) = _torch_grads(torch.relu, [x], grad_output)
    before = _frozen(grad_output, x)
    got = naive_grad.relu_backward(grad_output, x)
    _assert_unchanged(before, [grad_output, x])
    np.testing.assert_array_equal(got, expected)
    assert got is not grad_output


def test_relu_backward_rejects_shape_mismatch():
    with pytest.raises(ValueError, match="grad_output has shape"):
        naive_grad.relu_backward(np.zeros((2, 3)), np.zeros((3, 2)))


@pytest.mark.parametrize("n, in_features, out_features", [(1, 1, 1), (4, 7, 3), (5, 800, 120)])
def test_linear_backward_matches_torch(n, in_features, out_features):
    rng = np.random.default_rng(n * 1000 + in_features)
    x = rng.standard_normal((n, in_features))
    weight = rng.standard_normal((out_features, in_features))
    bias = rng.standard_normal(out_features)
    grad_output = rng.standard_normal((n, out_features))
    expected = _torch_grads(F.linear, [x, weight, bias], grad_output)
    before = _frozen(grad_output, x, weight)
    got = naive_grad.linear_backward(grad_output, x, weight)
    _assert_unchanged(before, [grad_output, x, weight])
    for g, e in zip(got, expected):
        assert g.shape == e.shape
        np.testing.assert_allclose(g, e, rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize(
    "x_shape, w_shape, g_shape, message",
    [
        ((2, 3, 1), (4, 3), (2, 4), "x must have 2"),
        ((2, 3), (4, 3, 1), (2, 4), "weight must have 2"),
        ((2, 5), (4, 3), (2, 4), "input features"),
        ((2, 3), (4, 3), (2, 5), "grad_output has shape"),
    ],
)
def test_linear_backward_rejects_bad_input(x_shape, w_shape, g_shape, message):
    with pytest.raises(ValueError, match=message):
        naive_grad.linear_backward(np.zeros(g_shape), np.zeros(x_shape), np.zeros(w_shape))


# --- softmax cross-entropy ---------------------------------------------------------------------------


@pytest.mark.parametrize("n, classes, scale", [(1, 2, 1.0), (6, 10, 3.0), (8, 10, 300.0)])
def test_softmax_cross_entropy_matches_torch(n, classes, scale):
    rng = np.random.default_rng(n + classes)
    logits = scale * rng.standard_normal((n, classes))  # large scale: exp would overflow unshifted
    targets = rng.integers(0, classes, n)
    logits_t = torch.tensor(logits, requires_grad=True)
    loss_t = F.cross_entropy(logits_t, torch.from_numpy(targets))
    loss_t.backward()
    before = _frozen(logits, targets)
    loss = naive_grad.softmax_cross_entropy(logits, targets)
    grad = naive_grad.softmax_cross_entropy_backward(logits, targets)
    _assert_unchanged(before, [logits, targets])
    assert isinstance(loss, float)
    np.testing.assert_allclose(loss, loss_t.item(), rtol=RTOL)
    np.testing.assert_allclose(grad, logits_t.grad.numpy(), rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("function", [naive_grad.softmax_cross_entropy, naive_grad.softmax_cross_entropy_backward])
@pytest.mark.parametrize(
    "logits, targets, message",
    [
        (np.zeros(10), np.array([1]), "logits must have 2"),
        (np.zeros((2, 10)), np.array([[1, 2]]), "targets must have 1"),
        (np.zeros((2, 10)), np.array([1, 2, 3]), "one target per row"),
        (np.zeros((2, 10)), np.array([1.0, 2.0]), "integer class indices"),
        (np.zeros((2, 10)), np.array([1, 10]), r"lie in \[0, 10\)"),
        (np.zeros((2, 10)), np.array([-1, 0]), r"lie in \[0, 10\)"),
    ],
)
def test_softmax_cross_entropy_rejects_bad_input(function, logits, targets, message):
    with pytest.raises(ValueError, match=message):
        function(logits, targets)


# --- a centered-difference check, the chapter's method, on the loss of a tiny CNN ---------------------


def test_tiny_cnn_gradient_matches_centered_differences():
    """Chain conv -> relu -> maxpool -> linear -> loss by hand and check d loss / d weight numerically."""
    from cnnlib.shapes import conv_output_size

    rng = np.random.default_rng(7)
    x = rng.standard_normal((2, 1, 6, 6))
    targets = np.array([0, 2])
    conv_w = rng.standard_normal((2, 1, 3, 3))
    side = conv_output_size(conv_output_size(6, 3), 2, stride=2)
    fc_w = rng.standard_normal((3, 2 * side * side))

    def forward(conv_weight):
        out = F.conv2d(torch.from_numpy(x), torch.from_numpy(conv_weight)).numpy()
        a = np.maximum(out, 0)
        p = F.max_pool2d(torch.from_numpy(a), 2).numpy()
        logits = p.reshape(2, -1) @ fc_w.T
        return out, a, p, logits

    out, a, p, logits = forward(conv_w)
    g_logits = naive_grad.softmax_cross_entropy_backward(logits, targets)
    g_flat, _, _ = naive_grad.linear_backward(g_logits, p.reshape(2, -1), fc_w)
    g_a = naive_grad.max_pool2d_backward(g_flat.reshape(p.shape), a, 2)
    g_out = naive_grad.relu_backward(g_a, out)
    _, g_conv_w, _ = naive_grad.conv2d_backward(g_out, x, conv_w)

    eps = 1e-6
    numeric = np.zeros_like(conv_w)
    for index in np.ndindex(conv_w.shape):
        plus, minus = conv_w.copy(), conv_w.copy()
        plus[index] += eps
        minus[index] -= eps
        numeric[index] = (
            naive_grad.softmax_cross_entropy(forward(plus)[3], targets)
            - naive_grad.softmax_cross_entropy(forward(minus)[3], targets)
        ) / (2 * eps)
    relative_error = np.linalg.norm(numeric - g_conv_w) / np.linalg.norm(numeric + g_conv_w)
    assert relative_error < 1e-7
