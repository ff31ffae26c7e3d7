"""cnnlib.optim against torch.optim: SGD (momentum, dampening, Nesterov, weight decay),
Adam and AdamW take the same steps, asserted after every one of at least 10 steps on
random parameters and gradients; StepLR, ExponentialLR, CosineAnnealingLR and
OneCycleLR give torch's learning rates (and OneCycleLR torch's momentum / beta1) at
every step, and drive the optimizers to the same parameters."""

import math

import numpy as np
import pytest
import torch

from cnnlib import nn, optim


def random_values(rng):
    """2 to 4 parameters of random shapes (a vector, a matrix, a conv kernel...)."""
    shapes = [tuple(int(s) for s in rng.integers(1, 5, size=rng.integers(1, 5)))
              for _ in range(int(rng.integers(2, 5)))]  # fmt: skip
    return [rng.standard_normal(shape) for shape in shapes]


def run_both(make_ours, make_torch, steps=12, seed=0, schedules=None, dtype=np.float64):
    """Step both optimizers ``steps`` times on the same random gradients; assert the
    parameters equal after every step. ``schedules``: a pair of scheduler factories,
    stepped after each optimizer step."""
    rng = np.random.default_rng(seed)
    values = [v.astype(dtype) for v in random_values(rng)]
    ours = [nn.Parameter(v.copy()) for v in values]
    theirs = [torch.tensor(v.copy(), requires_grad=True) for v in values]
    optimizer, reference = make_ours(ours), make_torch(theirs)
    if schedules:
        schedule, t_schedule = schedules[0](optimizer), schedules[1](reference)
    tolerance = 1e-12 if dtype == np.float64 else 1e-5
    for step in range(steps):
        grads = [rng.standard_normal(v.shape).astype(dtype) for v in values]
        optimizer.zero_grad()
        reference.zero_grad()
        for p, t, g in zip(ours, theirs, grads):
            p.grad += g
            t.grad = torch.from_numpy(g.copy())
        optimizer.step()
        reference.step()
        if schedules:
            schedule.step()
            t_schedule.step()
            assert math.isclose(optimizer.lr, reference.param_groups[0]["lr"], rel_tol=1e-12)
        for p, t in zip(ours, theirs):
            np.testing.assert_allclose(
                p.data, t.detach().numpy(), rtol=tolerance, atol=tolerance,
                err_msg=f"step {step + 1}",
            )  # fmt: skip
    return optimizer


SGD_CASES = [
    dict(lr=0.1),
    dict(lr=0.1, momentum=0.9),
    dict(lr=0.05, weight_decay=0.01),
    dict(lr=0.1, momentum=0.9, weight_decay=0.05),
    dict(lr=0.1, momentum=0.8, dampening=0.3),
    dict(lr=0.1, momentum=0.9, nesterov=True),
    dict(lr=0.02, momentum=0.5, nesterov=True, weight_decay=0.1),
]


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("kwargs", SGD_CASES, ids=str)
def test_sgd_matches_torch(kwargs, seed):
    run_both(
        lambda ps: optim.SGD(ps, **kwargs), lambda ts: torch.optim.SGD(ts, **kwargs),
        seed=seed,
    )  # fmt: skip


ADAM_CASES = [
    dict(),
    dict(lr=0.05, betas=(0.8, 0.99), weight_decay=0.01),
    dict(lr=0.01, eps=1e-3),
    dict(lr=0.2, betas=(0.0, 0.5), weight_decay=0.3),
]


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("kind", ["Adam", "AdamW"])
@pytest.mark.parametrize("kwargs", ADAM_CASES, ids=str)
def test_adam_and_adamw_match_torch(kind, kwargs, seed):
    run_both(
        lambda ps: getattr(optim, kind)(ps, **kwargs),
        lambda ts: getattr(torch.optim, kind)(ts, **kwargs),
        seed=seed,
    )


def test_defaults_are_torchs():
    parameter = [nn.Parameter(np.zeros(2))]
    tensor = [torch.zeros(2, requires_grad=True)]
    for ours, theirs, names in (
        (optim.SGD(parameter), torch.optim.SGD(tensor),
         ["lr", "momentum", "dampening", "weight_decay", "nesterov"]),
        (optim.Adam(parameter), torch.optim.Adam(tensor),
         ["lr", "betas", "eps", "weight_decay"]),
        (optim.AdamW(parameter), torch.optim.AdamW(tensor),
         ["lr", "betas", "eps", "weight_decay"]),
    ):  # fmt: skip
        for name in names:
            assert getattr(ours, name) == theirs.defaults[name], (type(ours), name)


def test_adamw_decay_is_decoupled_from_the_gradient_scale():
    """With zero gradients Adam's L2 decay term is normalised to a step of ~lr, while
    AdamW shrinks the weights by exactly the fraction lr * weight_decay."""
    values = np.array([10.0, -0.1])
    adam_p, adamw_p = nn.Parameter(values.copy()), nn.Parameter(values.copy())
    adam = optim.Adam([adam_p], lr=0.01, weight_decay=0.1)
    adamw = optim.AdamW([adamw_p], lr=0.01, weight_decay=0.1)
    adam.step()
    adamw.step()
    np.testing.assert_allclose(adamw_p.data, values * (1 - 0.01 * 0.1))
    np.testing.assert_allclose(np.abs(adam_p.data - values), 0.01, rtol=1e-6)


def test_float32_parameters_match_torch():
    run_both(
        lambda ps: optim.AdamW(ps, lr=0.01),
        lambda ts: torch.optim.AdamW(ts, lr=0.01),
        dtype=np.float32,
    )


def test_step_updates_in_place_and_leaves_grads_alone():
    parameter = nn.Parameter(np.ones(3))
    data = parameter.data
    parameter.grad[...] = [1.0, 2.0, 3.0]
    optim.SGD([parameter], lr=0.5).step()
    assert parameter.data is data
    np.testing.assert_allclose(parameter.data, [0.5, 0.0, -0.5])
    np.testing.assert_allclose(parameter.grad, [1.0, 2.0, 3.0])


def schedule_values(make_optimizers, ours, theirs, steps):
    """``[(lr, momentum)]`` of both libraries at construction and after each step;
    momentum is SGD's ``momentum`` or Adam's ``beta1``."""
    o, t = make_optimizers(nn.Parameter(np.zeros(1)), torch.zeros(1, requires_grad=True))
    s, ts = ours(o), theirs(t)

    def read():
        group = t.param_groups[0]
        t_momentum = group["betas"][0] if "betas" in group else group["momentum"]
        o_momentum = o.betas[0] if isinstance(o, optim.Adam) else o.momentum
        return (o.lr, o_momentum), (group["lr"], t_momentum)

    result = [read()]
    for _ in range(steps):
        t.step()
        s.step()
        ts.step()
        result.append(read())
    return result


def sgd_pair(p, t):
    return optim.SGD([p], lr=0.1, momentum=0.9), torch.optim.SGD([t], lr=0.1, momentum=0.9)


def adam_pair(p, t):
    return optim.Adam([p], lr=0.1), torch.optim.Adam([t], lr=0.1)


sched = torch.optim.lr_scheduler
SCHEDULES = {
    "StepLR": (lambda o: optim.StepLR(o, 3, 0.5), lambda t: sched.StepLR(t, 3, 0.5), 10),
    "StepLR default gamma": (lambda o: optim.StepLR(o, 2), lambda t: sched.StepLR(t, 2), 7),
    "ExponentialLR": (lambda o: optim.ExponentialLR(o, 0.7), lambda t: sched.ExponentialLR(t, 0.7), 8),
    "Cosine": (lambda o: optim.CosineAnnealingLR(o, 7, 0.001), lambda t: sched.CosineAnnealingLR(t, 7, 0.001), 7),
    "Cosine past T_max": (lambda o: optim.CosineAnnealingLR(o, 4), lambda t: sched.CosineAnnealingLR(t, 4), 11),
    "OneCycle defaults": (lambda o: optim.OneCycleLR(o, 0.5, total_steps=20), lambda t: sched.OneCycleLR(t, 0.5, total_steps=20), 20),
    "OneCycle epochs": (lambda o: optim.OneCycleLR(o, 0.3, epochs=3, steps_per_epoch=7), lambda t: sched.OneCycleLR(t, 0.3, epochs=3, steps_per_epoch=7), 21),
    "OneCycle linear": (lambda o: optim.OneCycleLR(o, 0.2, total_steps=13, pct_start=0.4, anneal_strategy="linear"), lambda t: sched.OneCycleLR(t, 0.2, total_steps=13, pct_start=0.4, anneal_strategy="linear"), 13),
    "OneCycle three phases": (lambda o: optim.OneCycleLR(o, 1.0, total_steps=25, three_phase=True), lambda t: sched.OneCycleLR(t, 1.0, total_steps=25, three_phase=True), 25),
    "OneCycle custom": (lambda o: optim.OneCycleLR(o, 0.4, total_steps=11, base_momentum=0.7, max_momentum=0.99, div_factor=10.0, final_div_factor=100.0), lambda t: sched.OneCycleLR(t, 0.4, total_steps=11, base_momentum=0.7, max_momentum=0.99, div_factor=10.0, final_div_factor=100.0), 11),
    "OneCycle no momentum": (lambda o: optim.OneCycleLR(o, 0.4, total_steps=10, cycle_momentum=False), lambda t: sched.OneCycleLR(t, 0.4, total_steps=10, cycle_momentum=False), 10),
}  # fmt: skip


@pytest.mark.parametrize("make_optimizers", [sgd_pair, adam_pair], ids=["SGD", "Adam"])
@pytest.mark.parametrize("name", SCHEDULES)
def test_schedules_give_torchs_learning_rates_and_momenta(name, make_optimizers):
    ours, theirs, steps = SCHEDULES[name]
    values = schedule_values(make_optimizers, ours, theirs, steps)
    assert len(values) == steps + 1
    for step, ((lr, momentum), (t_lr, t_momentum)) in enumerate(values):
        assert math.isclose(lr, t_lr, rel_tol=1e-12, abs_tol=1e-15), (step, lr, t_lr)
        assert math.isclose(momentum, t_momentum, rel_tol=1e-12), (step, momentum, t_momentum)
    lrs = [lr for (lr, _), _ in values]
    assert len(set(lrs)) > 2  # the schedule did move the rate


@pytest.mark.parametrize(
    "ours, theirs",
    [
        (lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9, nesterov=True),
         lambda ts: torch.optim.SGD(ts, lr=0.1, momentum=0.9, nesterov=True)),
        (lambda ps: optim.AdamW(ps), lambda ts: torch.optim.AdamW(ts)),
        (lambda ps: optim.Adam(ps, weight_decay=0.01), lambda ts: torch.optim.Adam(ts, weight_decay=0.01)),
    ],
)  # fmt: skip
def test_one_cycle_drives_the_optimizers_as_torchs_does(ours, theirs):
    schedules = (lambda o: optim.OneCycleLR(o, 0.05, total_steps=15),
                 lambda t: sched.OneCycleLR(t, 0.05, total_steps=15))  # fmt: skip
    run_both(ours, theirs, steps=15, schedules=schedules)


def test_one_cycle_refuses_to_step_past_its_total_as_torch():
    parameter = nn.Parameter(np.zeros(1))
    schedule = optim.OneCycleLR(optim.SGD([parameter]), 0.1, total_steps=3)
    for _ in range(3):
        schedule.step()
    with pytest.raises(ValueError, match="total_steps=3"):
        schedule.step()
    t_optimizer = torch.optim.SGD([torch.zeros(1, requires_grad=True)])
    t_schedule = sched.OneCycleLR(t_optimizer, 0.1, total_steps=3)
    for _ in range(3):
        t_optimizer.step()
        t_schedule.step()
    t_optimizer.step()
    with pytest.raises(ValueError):
        t_schedule.step()


def test_get_last_lr_is_the_optimizers_rate():
    optimizer = optim.SGD([nn.Parameter(np.zeros(1))], lr=0.1)
    schedule = optim.StepLR(optimizer, 1, 0.5)
    schedule.step()
    assert schedule.get_last_lr() == [optimizer.lr] == [0.05]


@pytest.mark.parametrize(
    "build, words",
    [
        (lambda p: optim.SGD([], lr=0.1), ["params", "empty"]),
        (lambda p: optim.SGD([p], lr=0.0), ["lr"]),
        (lambda p: optim.SGD([np.zeros(3)], lr=0.1), ["params[0]", "ndarray"]),
        (lambda p: optim.SGD([p], momentum=-0.5), ["momentum", ">= 0"]),
        (lambda p: optim.SGD([p], nesterov=True), ["nesterov", "momentum"]),
        (lambda p: optim.SGD([p], momentum=0.9, dampening=0.1, nesterov=True), ["dampening"]),
        (lambda p: optim.Adam([p], betas=(0.9, 1.0)), ["betas"]),
        (lambda p: optim.AdamW([p], weight_decay=-1), ["weight_decay"]),
        (lambda p: optim.StepLR(optim.SGD([p]), 0), ["step_size"]),
        (lambda p: optim.StepLR(torch.optim.SGD([torch.zeros(1, requires_grad=True)]), 2), ["cnnlib.optim.Optimizer"]),
        (lambda p: optim.CosineAnnealingLR(optim.SGD([p]), 0), ["T_max"]),
        (lambda p: optim.OneCycleLR(optim.SGD([p]), 0.1), ["total_steps", "epochs"]),
        (lambda p: optim.OneCycleLR(optim.SGD([p]), 0.1, total_steps=10, pct_start=1.5), ["pct_start"]),
        (lambda p: optim.OneCycleLR(optim.SGD([p]), 0.1, total_steps=10, anneal_strategy="exp"), ["anneal_strategy"]),
        (lambda p: optim.OneCycleLR(optim.SGD([p]), 0.1, epochs=2, steps_per_epoch=0), ["steps_per_epoch"]),
    ],
)  # fmt: skip
def test_bad_arguments(build, words):
    with pytest.raises(ValueError) as error:
        build(nn.Parameter(np.zeros(3)))
    for word in words:
        assert word in str(error.value)
