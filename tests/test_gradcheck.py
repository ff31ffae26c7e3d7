"""cnnlib.gradcheck: it passes correct backward functions and -- the point -- catches wrong ones."""

import numpy as np
import pytest

from cnnlib import functional as F
from cnnlib import nn
from cnnlib.gradcheck import gradcheck, gradcheck_module, numerical_gradient, relative_error


def test_numerical_gradient_of_a_known_function_and_restores_the_array():
    x = np.array([1.0, -2.0, 3.0])
    before = x.copy()
    grad = numerical_gradient(lambda: float(np.sum(x**3)), x)
    np.testing.assert_allclose(grad, 3 * before**2, rtol=1e-8)
    np.testing.assert_array_equal(x, before)


def test_relative_error():
    assert relative_error(np.zeros(3), np.zeros(3)) == 0.0
    assert relative_error(np.array([1.0, 0.0]), np.array([0.0, 0.0])) == 1.0
    with pytest.raises(ValueError, match="shape"):
        relative_error(np.zeros(2), np.zeros(3))


def test_catches_a_max_pool_backward_that_assigns_instead_of_adding():
    """The cs231n bug: '=' instead of '+=' only shows when windows overlap."""
    from cnnlib.tuned.im2col import kernel_offsets, window

    def wrong_backward(grad_output, cache):
        grad = grad_output.transpose(0, 2, 3, 1)
        grad_padded = np.zeros((grad.shape[0], *cache.padded_hw, grad.shape[3]))
        for index, offset in enumerate(kernel_offsets(cache.kernel_size)):
            target = window(grad_padded, offset, cache.stride, cache.dilation, cache.out_hw)
            np.copyto(target, grad, where=cache.winner == index)  # '=' : overlapping windows overwrite
        return grad_padded.transpose(0, 3, 1, 2)

    x = np.random.default_rng(0).standard_normal((2, 2, 7, 7))
    forward = lambda v: F.max_pool2d_forward(v, 3, 1)  # noqa: E731
    assert gradcheck(forward, F.max_pool2d_backward, (x,))[0] <= 1e-7
    assert gradcheck(forward, wrong_backward, (x,))[0] > 1e-2


def test_catches_a_wrong_layer_backward():
    class ScaledReLU(nn.ReLU):
        def backward(self, grad_output):
            return 1.01 * super().backward(grad_output)

    x = np.random.default_rng(1).standard_normal((3, 4))
    assert gradcheck_module(nn.ReLU(), x)["input"] <= 1e-7
    assert gradcheck_module(ScaledReLU(), x)["input"] > 1e-3


def test_refuses_float32():
    with pytest.raises(ValueError, match="float64"):
        gradcheck(F.relu_forward, F.relu_backward, (np.ones(3, np.float32),))
    with pytest.raises(ValueError, match="double"):
        gradcheck_module(nn.Linear(2, 2), np.ones((1, 2)))


def test_inputs_are_not_modified():
    x = np.random.default_rng(2).standard_normal((2, 3))
    before = x.copy()
    gradcheck(F.relu_forward, F.relu_backward, (x,))
    np.testing.assert_array_equal(x, before)
