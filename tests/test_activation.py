"""cnnlib.activation: ReLU forward/backward against torch, the loop oracle and centered differences."""

import numpy as np
import pytest
import torch

from cnnlib import functional as F
from cnnlib import loops
from cnnlib.gradcheck import gradcheck

# Every test here runs on the tuned kernels and on the readable ops.
pytestmark = pytest.mark.usefixtures("both_paths")


@pytest.mark.parametrize("shape", [(7,), (3, 5), (2, 3, 4, 5)])
def test_matches_torch_and_loops(shape):
    rng = np.random.default_rng(0)
    x = rng.standard_normal(shape)
    x.flat[0] = 0.0  # torch's derivative at exactly 0 is 0
    out, cache = F.relu_forward(x)
    grad_output = rng.standard_normal(shape)
    tx = torch.tensor(x, requires_grad=True)
    torch.relu(tx).backward(torch.from_numpy(grad_output))
    np.testing.assert_array_equal(out, torch.relu(torch.from_numpy(x)).numpy())
    np.testing.assert_array_equal(F.relu_backward(grad_output, cache), tx.grad.numpy())
    np.testing.assert_array_equal(out, loops.relu(x))
    np.testing.assert_array_equal(F.relu_backward(grad_output, cache), loops.relu_backward(grad_output, loops.relu_forward(x)[1]))
    assert F.relu(x.astype(np.float32)).dtype == np.float32


def test_gradcheck_float64_away_from_the_kink():
    x = np.random.default_rng(1).standard_normal((2, 3, 4, 4))
    x[np.abs(x) < 1e-3] = 0.5
    assert gradcheck(F.relu_forward, F.relu_backward, (x,))[0] <= 1e-7


def test_does_not_modify_its_inputs():
    x = np.random.default_rng(2).standard_normal((4, 5))
    grad_output = np.random.default_rng(3).standard_normal((4, 5))
    copies = x.copy(), grad_output.copy()
    out, cache = F.relu_forward(x)
    grad_x = F.relu_backward(grad_output, cache)
    np.testing.assert_array_equal(x, copies[0])
    np.testing.assert_array_equal(grad_output, copies[1])
    assert not np.shares_memory(out, x) and not np.shares_memory(grad_x, grad_output)


def test_bad_input():
    with pytest.raises(ValueError, match="x"):
        F.relu([1.0, -1.0])
    out, cache = F.relu_forward(np.ones((2, 3)))
    with pytest.raises(ValueError, match=r"grad_output.*\(2, 3\)"):
        F.relu_backward(np.ones((3, 2)), cache)
