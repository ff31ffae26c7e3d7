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


# `make test` runs on two pytest-xdist workers with --dist loadfile: the cells of a
# notebook share one kernel, so one worker runs a whole file, in order. The modules that
# test the student release share one release, built once per worker, so they go to one
# worker as one unit (see pytest_xdist_make_scheduler), and the pin check for other
# Pythons rides along at its end: its resolutions wait on the network for two minutes,
# so they start with the unit and are done when the check runs. The queue goes longest
# first, so that neither worker is left alone with a long unit at the end: that unit
# (about ten minutes), then the chapters, then the unit tests, which fill in.
RELEASE_UNIT = ("test_release.py", "test_grading.py", "test_python_versions.py")


def _in_release_unit(path: str) -> bool:
    return path.rsplit("/", 1)[-1] in RELEASE_UNIT


def _queue_position(item) -> tuple[int, int]:
    name = item.path.name
    if name in RELEASE_UNIT:
        return (0, RELEASE_UNIT.index(name))
    in_chapters = "chapters" in item.path.relative_to(item.config.rootpath).parts
    return (1 if in_chapters else 2, 0)


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config, log):
    if config.getvalue("dist") != "loadfile":
        return None  # xdist's own scheduler for the mode asked for
    from xdist.scheduler import LoadFileScheduling

    class ReleaseUnitTogether(LoadFileScheduling):
        def _split_scope(self, nodeid: str) -> str:
            path = nodeid.split("::", 1)[0]
            return "student release" if _in_release_unit(path) else path

    return ReleaseUnitTogether(config, log)


_checks_pins = False  # whether this session runs tests/test_python_versions.py


def pytest_collection_modifyitems(session, config, items):
    global _checks_pins
    items.sort(key=_queue_position)  # stable: a notebook's cells keep their order
    _checks_pins = any(item.path.name == "test_python_versions.py" for item in items)


def pytest_runtest_setup(item):
    if _checks_pins and item.path.name in RELEASE_UNIT:
        pip_resolve.start()  # once per process; later calls return at once


def pytest_sessionfinish(session, exitstatus):
    pip_resolve.stop()
