"""Fixtures and session hooks shared by the test modules."""

from __future__ import annotations

import numpy as np
import pip_resolve
import pytest

import cnnlib
from cnnlib import nn


@pytest.fixture(params=[True, False], ids=["tuned", "readable"])
def both_paths(request):
    """Run the test once on the tuned kernels and once on the readable ops."""
    with cnnlib.fast_kernels(request.param):
        yield request.param


def lenet(rng: np.random.Generator | None = None, dtype=np.float32) -> nn.Sequential:
    """The course's LeNet-style MNIST net (102,130 parameters), as chapter 7 builds it.

    ``rng=None`` draws from cnnlib's default generator (see ``cnnlib.manual_seed``).
    """
    return nn.Sequential(
        nn.Conv2d(1, 16, 3, rng=rng, dtype=dtype), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, rng=rng, dtype=dtype), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(800, 120, rng=rng, dtype=dtype), nn.ReLU(),
        nn.Linear(120, 10, rng=rng, dtype=dtype),
    )  # fmt: skip


def torch_lenet(like: nn.Module | None = None):
    """The same net in torch; with ``like``, carrying that cnnlib net's weights."""
    import torch

    t = torch.nn
    net = t.Sequential(
        t.Conv2d(1, 16, 3), t.ReLU(), t.MaxPool2d(2),
        t.Conv2d(16, 32, 3), t.ReLU(), t.MaxPool2d(2),
        t.Flatten(), t.Linear(800, 120), t.ReLU(), t.Linear(120, 10),
    )  # fmt: skip
    if like is not None:
        weights = {k: torch.from_numpy(v) for k, v in like.state_dict().items()}
        net.load_state_dict(weights)
    return net


def assert_no_input_grad_keeps_parameter_grads(module, x, grad_output):
    """``backward(..., needs_input_grad=False)`` returns None and leaves every parameter
    the same gradient as a full backward: the input gradient alone is skipped."""
    module.zero_grad()
    module(x)
    assert module.backward(grad_output) is not None
    full = {name: p.grad.copy() for name, p in module.named_parameters()}
    module.zero_grad()
    module(x)
    assert module.backward(grad_output, needs_input_grad=False) is None
    for name, parameter in module.named_parameters():
        np.testing.assert_array_equal(parameter.grad, full[name], err_msg=name)


def pytest_collection_modifyitems(session, config, items):
    # The pin resolutions for other Pythons wait on the network for about a minute each:
    # start them now, when they are going to be tested, so that they overlap the other
    # tests.
    if any(item.nodeid.startswith("tests/test_python_versions.py") for item in items):
        pip_resolve.start()


def pytest_sessionfinish(session, exitstatus):
    pip_resolve.stop()
