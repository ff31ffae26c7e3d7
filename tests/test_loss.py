"""cnnlib.loss: cross-entropy against torch (value and gradient, every reduction), centered differences,
numerical stability, bad targets."""

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

from cnnlib import functional as F
from cnnlib import loops
from cnnlib.gradcheck import gradcheck

# Every test here runs on the tuned kernels and on the readable ops.
pytestmark = pytest.mark.usefixtures("both_paths")


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("n, classes", [(1, 2), (7, 10), (64, 10)])
def test_matches_torch(reduction, n, classes):
    rng = np.random.default_rng(0)
    logits, targets = rng.standard_normal((n, classes)) * 3, rng.integers(0, classes, n)
    loss, cache = F.cross_entropy_forward(logits, targets, reduction)
    grad_output = rng.standard_normal(n) if reduction == "none" else 0.7
    grad = F.cross_entropy_backward(grad_output, cache)
    t_logits = torch.tensor(logits, requires_grad=True)
    t_loss = TF.cross_entropy(t_logits, torch.from_numpy(targets), reduction=reduction)
    t_loss.backward(torch.as_tensor(grad_output, dtype=torch.float64))
    np.testing.assert_allclose(loss, t_loss.detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(grad, t_logits.grad.numpy(), rtol=1e-10, atol=1e-14)
    loss32 = F.cross_entropy(logits.astype(np.float32), targets, reduction)
    assert loss32.dtype == np.float32
    np.testing.assert_allclose(loss32, t_loss.detach().numpy(), rtol=1e-5)


def test_matches_the_loop_version_and_softmax():
    rng = np.random.default_rng(1)
    logits, targets = rng.standard_normal((5, 4)), rng.integers(0, 4, 5)
    loss, cache = F.cross_entropy_forward(logits, targets)
    np.testing.assert_allclose(loss, loops.cross_entropy(logits, targets), rtol=1e-12)
    np.testing.assert_allclose(F.cross_entropy_backward(1.0, cache), loops.cross_entropy_backward(1.0, loops.cross_entropy_forward(logits, targets)[1]), rtol=1e-10)
    np.testing.assert_allclose(F.softmax(logits), loops.softmax(logits), rtol=1e-12)


def test_gradcheck_float64():
    rng = np.random.default_rng(2)
    logits, targets = rng.standard_normal((6, 5)), rng.integers(0, 5, 6)
    (error,) = gradcheck(lambda z: F.cross_entropy_forward(z, targets), F.cross_entropy_backward, (logits,))
    assert error <= 1e-7


def test_huge_logits_do_not_overflow():
    logits = np.array([[1000.0, 0.0, -1000.0], [0.0, 1000.0, 1000.0]], dtype=np.float32)
    loss, cache = F.cross_entropy_forward(logits, np.array([0, 1]))
    assert np.isfinite(loss) and np.isclose(loss, np.log(2) / 2, rtol=1e-5)
    assert np.all(np.isfinite(F.cross_entropy_backward(1.0, cache)))


@pytest.mark.parametrize(
    "logits_shape, targets, words",
    [
        ((4, 3), np.array([0, 1, 2]), ["targets", "(3,)", "(4, 3)"]),
        ((3, 3), np.array([0, 1, 3]), ["targets", "[0, 3)"]),
        ((3, 3), np.array([0.0, 1.0, 2.0]), ["targets", "integer"]),
        ((3,), np.array([0, 1, 2]), ["logits", "(3,)"]),
    ],
)
def test_bad_input(logits_shape, targets, words):
    with pytest.raises(ValueError) as error:
        F.cross_entropy(np.zeros(logits_shape), targets)
    for word in words:
        assert word in str(error.value)
