"""Optimizers with torch's update rules, step for step, and learning-rate schedules.

Each class's docstring gives its update rule as formulas, for one parameter ``p``
with gradient ``grad`` (``t = 1, 2, ...`` counts the steps); its ``step()`` is those
formulas in NumPy. (Adam's and AdamW's run compiled while the tuned kernels are on,
:mod:`cnnlib.tuned.adam`, with the same values bit for bit.) A test runs each beside
``torch.optim`` on random parameters and gradients and asserts the same values after
every step.

Parameters are updated in place (``p.data`` keeps its identity), so the model sees
the new values. The learning rate is the attribute ``lr`` (torch's
``param_groups[0]["lr"]``), which a schedule sets on every ``step()``.
"""

from __future__ import annotations

import functools
import math
import numbers

import numpy as np

from . import tuned
from .checks import positive_int, probability
from .dispatch import fast_kernels_enabled
from .nn import Parameter

__all__ = [
    "Optimizer", "SGD", "Adam", "AdamW",
    "LRScheduler", "StepLR", "ExponentialLR", "CosineAnnealingLR", "OneCycleLR",
]  # fmt: skip


def _non_negative(value, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or value < 0:
        raise ValueError(f"{name} must be a number >= 0, got {value!r}")
    return float(value)


class Optimizer:
    """Holds the parameter list and the learning rate; subclasses define ``step()``."""

    def __init__(self, params, lr: float):
        self.params = list(params)
        if not self.params:
            raise ValueError("params is empty: pass model.parameters()")
        for index, parameter in enumerate(self.params):
            if not isinstance(parameter, Parameter):
                raise ValueError(
                    f"params[{index}] is a {type(parameter).__name__}, not a "
                    "cnnlib.nn.Parameter"
                )
        if isinstance(lr, bool) or not isinstance(lr, numbers.Real) or not lr > 0:
            raise ValueError(f"lr must be > 0, got {lr!r}")
        self.lr = float(lr)

    def zero_grad(self) -> None:
        """Set every parameter's ``grad`` to zeros."""
        for parameter in self.params:
            parameter.grad[...] = 0

    def step(self) -> None:
        raise NotImplementedError


class SGD(Optimizer):
    """Stochastic gradient descent with momentum (torch's ``optim.SGD``)::

        g = grad + weight_decay * p              (L2 weight decay)
        b = g                                    (momentum buffer, first step)
        b = momentum * b + (1 - dampening) * g   (later steps)
        g = b,   or  g = g + momentum * b  with nesterov=True
        p = p - lr * g

    Without momentum (``momentum=0``, the default) the buffer is skipped:
    ``p = p - lr * g``.
    """

    def __init__(
        self,
        params,
        lr: float = 1e-3,
        momentum: float = 0.0,
        dampening: float = 0.0,
        weight_decay: float = 0.0,
        nesterov: bool = False,
    ):
        super().__init__(params, lr)
        self.momentum = _non_negative(momentum, "momentum")
        self.dampening = _non_negative(dampening, "dampening")
        self.weight_decay = _non_negative(weight_decay, "weight_decay")
        self.nesterov = bool(nesterov)
        if self.nesterov and (self.momentum == 0 or self.dampening != 0):
            raise ValueError("nesterov=True needs momentum > 0 and dampening = 0")
        self._buffers: list[np.ndarray | None] = [None] * len(self.params)

    def step(self) -> None:
        """Update every parameter once from its current ``grad``."""
        for index, p in enumerate(self.params):
            g = p.grad
            if self.weight_decay:
                g = g + self.weight_decay * p.data
            if self.momentum:
                b = self._buffers[index]
                if b is None:
                    b = self._buffers[index] = g.copy()
                else:
                    b *= self.momentum
                    b += (1 - self.dampening) * g
                g = g + self.momentum * b if self.nesterov else b
            p.data -= self.lr * g


class Adam(Optimizer):
    """Adam (torch's ``optim.Adam``; its weight decay is L2, added to the gradient)::

        g = grad + weight_decay * p
        m = beta1 * m + (1 - beta1) * g          (running mean of g, m = 0 at first)
        v = beta2 * v + (1 - beta2) * g**2       (running mean of g**2, v = 0 at first)
        m_hat = m / (1 - beta1**t),   v_hat = v / (1 - beta2**t)   (bias corrections)
        p = p - lr * m_hat / (sqrt(v_hat) + eps)

    Each parameter's step is about ``lr`` in size whatever the scale of its gradient.
    """

    decoupled_weight_decay = False

    def __init__(
        self,
        params,
        lr: float = 1e-3,
        betas=(0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
    ):
        super().__init__(params, lr)
        beta1, beta2 = betas
        if not (0 <= beta1 < 1 and 0 <= beta2 < 1):
            raise ValueError(f"betas must lie in [0, 1), got {betas}")
        if eps <= 0:
            raise ValueError(f"eps must be > 0, got {eps}")
        self.betas = (float(beta1), float(beta2))
        self.eps = float(eps)
        self.weight_decay = _non_negative(weight_decay, "weight_decay")
        self.step_count = 0
        self._m: list[np.ndarray] = []  # the moments, made at the first step (after
        self._v: list[np.ndarray] = []  # any .double() of the model)

    def step(self) -> None:
        """Update every parameter once from its current ``grad``."""
        if not self._m:
            self._m = [np.zeros_like(p.data) for p in self.params]
            self._v = [np.zeros_like(p.data) for p in self.params]
        self.step_count += 1
        t, (beta1, beta2) = self.step_count, self.betas
        step_size = self.lr / (1 - beta1**t)  # lr * m_hat = step_size * m
        root_correction = math.sqrt(1 - beta2**t)  # sqrt(v_hat) = sqrt(v) / this
        for p, m, v in zip(self.params, self._m, self._v):
            g = p.grad
            if self.weight_decay and self.decoupled_weight_decay:
                p.data *= 1 - self.lr * self.weight_decay  # AdamW
            elif self.weight_decay:
                g = g + self.weight_decay * p.data
            m *= beta1
            m += (1 - beta1) * g
            v *= beta2
            v += (1 - beta2) * g * g
            p.data -= step_size * m / (np.sqrt(v) / root_correction + self.eps)


def _tuned_where_it_applies(readable_step):
    """``readable_step`` run by :func:`cnnlib.tuned.adam_step`, one compiled pass per
    parameter with the same values, while the fast kernels are on and it applies."""

    @functools.wraps(readable_step)  # inspect.getsource shows the readable step
    def step(self) -> None:
        if not (fast_kernels_enabled() and tuned.adam_step(self)):
            readable_step(self)

    return step


# Set here rather than as a decorator, so that the class shows the readable step as
# it is (chapter 9 prints it); AdamW inherits this one.
Adam.step = _tuned_where_it_applies(Adam.step)


class AdamW(Adam):
    """Adam with decoupled weight decay (torch's ``optim.AdamW``, Loshchilov & Hutter)::

        p = p - lr * weight_decay * p            (decay the weights themselves)
        then Adam's update with g = grad         (m, v, bias corrections as in Adam)

    In Adam the decay term enters ``g`` and is then divided by ``sqrt(v_hat)``, so
    weights with large gradients are hardly decayed; AdamW decays every weight by the
    same fraction ``lr * weight_decay`` per step. Default ``weight_decay=1e-2``.
    """

    decoupled_weight_decay = True

    def __init__(
        self,
        params,
        lr: float = 1e-3,
        betas=(0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 1e-2,
    ):
        super().__init__(params, lr, betas, eps, weight_decay)


class LRScheduler:
    """Sets ``optimizer.lr`` from the number of ``step()`` calls so far, ``epoch``
    (torch's ``last_epoch``): ``lr = lr_at(epoch)``, ``base_lr`` being the optimizer's
    ``lr`` when the schedule was made. Call ``step()`` after ``optimizer.step()``: once
    per epoch, or once per batch with the lengths counted in batches."""

    def __init__(self, optimizer: Optimizer):
        if not isinstance(optimizer, Optimizer):
            kind = type(optimizer).__name__
            raise ValueError(f"optimizer must be a cnnlib.optim.Optimizer, got {kind}")
        self.optimizer, self.base_lr, self.epoch = optimizer, optimizer.lr, 0

    def lr_at(self, epoch: int) -> float:
        raise NotImplementedError

    def step(self) -> None:
        self.epoch += 1
        self.optimizer.lr = self.lr_at(self.epoch)

    def get_last_lr(self) -> list[float]:
        """``[optimizer.lr]``, as torch's ``get_last_lr()`` (one entry per group)."""
        return [self.optimizer.lr]


class StepLR(LRScheduler):
    """``lr = base_lr * gamma ** (epoch // step_size)``: divide the rate by
    ``1 / gamma`` every ``step_size`` epochs."""

    def __init__(self, optimizer: Optimizer, step_size: int, gamma: float = 0.1):
        super().__init__(optimizer)
        self.step_size = positive_int(step_size, "step_size")
        self.gamma = _non_negative(gamma, "gamma")

    def lr_at(self, epoch: int) -> float:
        return self.base_lr * self.gamma ** (epoch // self.step_size)


class ExponentialLR(LRScheduler):
    """``lr = base_lr * gamma ** epoch``."""

    def __init__(self, optimizer: Optimizer, gamma: float):
        super().__init__(optimizer)
        self.gamma = _non_negative(gamma, "gamma")

    def lr_at(self, epoch: int) -> float:
        return self.base_lr * self.gamma**epoch


class CosineAnnealingLR(LRScheduler):
    """Half a cosine from ``base_lr`` down to ``eta_min`` over ``T_max`` steps::

        lr = eta_min + (base_lr - eta_min) * (1 + cos(pi * epoch / T_max)) / 2

    As in torch, the cosine goes on past ``T_max`` (the rate rises again), so make
    ``T_max`` the number of ``step()`` calls of the whole run.
    """

    def __init__(self, optimizer: Optimizer, T_max: int, eta_min: float = 0.0):
        super().__init__(optimizer)
        self.T_max = positive_int(T_max, "T_max")
        self.eta_min = _non_negative(eta_min, "eta_min")

    def lr_at(self, epoch: int) -> float:
        cosine = (1 + math.cos(math.pi * epoch / self.T_max)) / 2
        return self.eta_min + (self.base_lr - self.eta_min) * cosine


class OneCycleLR(LRScheduler):
    """The one-cycle policy (Smith & Topin; torch's ``OneCycleLR``), stepped once per
    batch, ``total_steps`` times (or ``epochs * steps_per_epoch``)::

        initial_lr = max_lr / div_factor,   min_lr = initial_lr / final_div_factor
        steps 0 .. pct_start * total - 1:  lr initial_lr -> max_lr,
                                           momentum max_momentum -> base_momentum
        then up to step total - 1:         lr max_lr -> min_lr,
                                           momentum base_momentum -> max_momentum
        'cos':    value = end + (start - end) * (1 + cos(pi * pct)) / 2
        'linear': value = start + (end - start) * pct
                  (pct: the fraction of the current phase done)

    The rate warms up, then anneals far below where it started; the momentum (SGD's
    ``momentum``, Adam's ``beta1``) moves the other way. ``three_phase=True``: up to
    ``max_lr``, back down to ``initial_lr`` symmetrically, then down to ``min_lr``.
    """

    def __init__(
        self, optimizer: Optimizer, max_lr: float, total_steps=None, epochs=None,
        steps_per_epoch=None, pct_start=0.3, anneal_strategy="cos",
        cycle_momentum=True, base_momentum=0.85, max_momentum=0.95,
        div_factor=25.0, final_div_factor=1e4, three_phase=False,
    ):  # fmt: skip
        super().__init__(optimizer)
        if total_steps is None and (epochs is None or steps_per_epoch is None):
            raise ValueError("give total_steps, or epochs and steps_per_epoch")
        self.total_steps = (
            positive_int(total_steps, "total_steps")
            if total_steps is not None
            else positive_int(epochs, "epochs")
            * positive_int(steps_per_epoch, "steps_per_epoch")
        )
        if anneal_strategy not in ("cos", "linear"):
            raise ValueError(
                f"anneal_strategy must be 'cos' or 'linear', got {anneal_strategy!r}"
            )
        if cycle_momentum and not isinstance(optimizer, (SGD, Adam)):
            raise ValueError("cycle_momentum needs an optimizer with momentum or betas")
        self.anneal_strategy = anneal_strategy
        self.cycle_momentum = bool(cycle_momentum)
        if isinstance(max_lr, bool) or not isinstance(max_lr, numbers.Real):
            raise ValueError(f"max_lr must be a number > 0, got {max_lr!r}")
        initial = float(max_lr) / div_factor
        lrs = (initial, float(max_lr), initial / final_div_factor)
        pct_start = probability(pct_start, "pct_start")
        momenta = (float(base_momentum), float(max_momentum))
        self.phases = self._phases(pct_start, three_phase, lrs, momenta)
        self._set(0)

    def _phases(self, pct_start, three_phase, lrs, momenta):
        """``[(end_step, lr from, lr to, momentum from, momentum to), ...]``."""
        (initial, peak, low), (base, top) = lrs, momenta
        up = pct_start * self.total_steps - 1
        if not three_phase:
            return [(up, initial, peak, top, base),
                    (self.total_steps - 1, peak, low, base, top)]  # fmt: skip
        return [(up, initial, peak, top, base),
                (2 * pct_start * self.total_steps - 2, peak, initial, base, top),
                (self.total_steps - 1, initial, low, top, top)]  # fmt: skip

    def _anneal(self, start: float, end: float, pct: float) -> float:
        if self.anneal_strategy == "cos":
            return end + (start - end) / 2.0 * (math.cos(math.pi * pct) + 1)
        return (end - start) * pct + start

    def values_at(self, step: int) -> tuple[float, float]:
        """``(lr, momentum)`` after ``step`` calls to ``step()``."""
        if step > self.total_steps:
            raise ValueError(
                f"OneCycleLR stepped {step} times, more than its "
                f"total_steps={self.total_steps}"
            )
        start = 0.0
        for index, (end, lr0, lr1, m0, m1) in enumerate(self.phases):
            if step <= end or index == len(self.phases) - 1:
                pct = (step - start) / (end - start)
                return self._anneal(lr0, lr1, pct), self._anneal(m0, m1, pct)
            start = end

    def lr_at(self, epoch: int) -> float:
        return self.values_at(epoch)[0]

    def _set(self, step: int) -> None:
        lr, momentum = self.values_at(step)
        self.optimizer.lr = lr
        if self.cycle_momentum and isinstance(self.optimizer, Adam):
            self.optimizer.betas = (momentum, self.optimizer.betas[1])
        elif self.cycle_momentum:
            self.optimizer.momentum = momentum

    def step(self) -> None:
        self.epoch += 1
        self._set(self.epoch)
