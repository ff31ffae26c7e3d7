"""cnnlib.optim: SGD (momentum, weight decay) and Adam (weight decay) take the same steps as torch.optim;
the learning-rate schedules follow torch's formulas."""

import math

import numpy as np
import pytest
import torch

from cnnlib import nn, optim


def run_both(make_ours, make_torch, steps=5):
    rng = np.random.default_rng(0)
    values = [rng.standard_normal((3, 4)), rng.standard_normal(4)]
    ours = [nn.Parameter(v.copy()) for v in values]
    theirs = [torch.tensor(v.copy(), requires_grad=True) for v in values]
    optimizer, reference = make_ours(ours), make_torch(theirs)
    for step in range(steps):
        grads = [rng.standard_normal(v.shape) for v in values]
        optimizer.zero_grad()
        reference.zero_grad()
        for p, t, g in zip(ours, theirs, grads):
            p.grad += g
            t.grad = torch.from_numpy(g.copy())
        optimizer.step()
        reference.step()
    for p, t in zip(ours, theirs):
        np.testing.assert_allclose(p.data, t.detach().numpy(), rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("momentum, weight_decay", [(0.0, 0.0), (0.9, 0.0), (0.0, 0.01), (0.9, 0.05)])
def test_sgd_matches_torch(momentum, weight_decay):
    run_both(
        lambda ps: optim.SGD(ps, lr=0.1, momentum=momentum, weight_decay=weight_decay),
        lambda ts: torch.optim.SGD(ts, lr=0.1, momentum=momentum, weight_decay=weight_decay),
    )


@pytest.mark.parametrize("lr, betas, weight_decay", [(1e-3, (0.9, 0.999), 0.0), (0.05, (0.8, 0.99), 0.01)])
def test_adam_matches_torch(lr, betas, weight_decay):
    run_both(
        lambda ps: optim.Adam(ps, lr=lr, betas=betas, weight_decay=weight_decay),
        lambda ts: torch.optim.Adam(ts, lr=lr, betas=betas, weight_decay=weight_decay),
        steps=8,
    )


def test_step_updates_in_place_and_leaves_grads_alone():
    parameter = nn.Parameter(np.ones(3))
    data = parameter.data
    parameter.grad[...] = [1.0, 2.0, 3.0]
    optim.SGD([parameter], lr=0.5).step()
    assert parameter.data is data
    np.testing.assert_allclose(parameter.data, [0.5, 0.0, -0.5])
    np.testing.assert_allclose(parameter.grad, [1.0, 2.0, 3.0])


def test_schedules_follow_torch():
    def lrs(ours, theirs, steps=7):
        parameter, tensor = nn.Parameter(np.zeros(1)), torch.zeros(1, requires_grad=True)
        o = optim.SGD([parameter], lr=0.1)
        t = torch.optim.SGD([tensor], lr=0.1)
        s, ts = ours(o), theirs(t)
        result = []
        for _ in range(steps):
            t.step()
            s.step()
            ts.step()
            result.append((o.lr, t.param_groups[0]["lr"]))
        return result

    cases = [
        (lambda o: optim.StepLR(o, 2, 0.5), lambda t: torch.optim.lr_scheduler.StepLR(t, 2, 0.5)),
        (lambda o: optim.ExponentialLR(o, 0.7), lambda t: torch.optim.lr_scheduler.ExponentialLR(t, 0.7)),
        (lambda o: optim.CosineAnnealingLR(o, 5, 0.001), lambda t: torch.optim.lr_scheduler.CosineAnnealingLR(t, 5, 0.001)),
    ]
    for ours, theirs in cases:
        for mine, reference in lrs(ours, theirs, steps=5):
            assert math.isclose(mine, reference, rel_tol=1e-9), (mine, reference)


@pytest.mark.parametrize(
    "build, words",
    [
        (lambda p: optim.SGD([], lr=0.1), ["params", "empty"]),
        (lambda p: optim.SGD([p], lr=0.0), ["lr"]),
        (lambda p: optim.SGD([np.zeros(3)], lr=0.1), ["params[0]", "ndarray"]),
        (lambda p: optim.Adam([p], betas=(0.9, 1.0)), ["betas"]),
    ],
)
def test_bad_arguments(build, words):
    with pytest.raises(ValueError) as error:
        build(nn.Parameter(np.zeros(3)))
    for word in words:
        assert word in str(error.value)
