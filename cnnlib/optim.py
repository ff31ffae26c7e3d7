"""Optimizers with torch's update rules, step for step, plus two learning-rate
schedules.

``SGD`` (``dampening=0``, no Nesterov, as torch's defaults)::

    g = grad + weight_decay * p
    buf = g                        (first step)
    buf = momentum * buf + g       (later steps)
    p -= lr * buf                  (or  p -= lr * g  without momentum)

``Adam`` (torch's ``Adam``, L2 weight decay added to the gradient, not AdamW)::

    g = grad + weight_decay * p
    m = beta1 * m + (1 - beta1) * g ;  v = beta2 * v + (1 - beta2) * g**2
    p -= lr / (1 - beta1**t) * m / (sqrt(v) / sqrt(1 - beta2**t) + eps)

Parameters are updated in place (``p.data`` keeps its identity), so the model sees the
new values. The learning rate is the attribute ``lr``; the schedules below change it
once per epoch.
"""

from __future__ import annotations

import math

import numpy as np

from .nn import Parameter

__all__ = ["Optimizer", "SGD", "Adam", "StepLR", "ExponentialLR", "CosineAnnealingLR"]


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
        if not lr > 0:
            raise ValueError(f"lr must be > 0, got {lr}")
        self.lr = float(lr)

    def zero_grad(self) -> None:
        """Set every parameter's ``grad`` to zeros."""
        for parameter in self.params:
            parameter.grad[...] = 0

    def step(self) -> None:
        raise NotImplementedError


class SGD(Optimizer):
    """Stochastic gradient descent with optional momentum and L2 weight decay (torch's
    ``optim.SGD``)."""

    def __init__(
        self, params, lr: float, momentum: float = 0.0, weight_decay: float = 0.0
    ):
        super().__init__(params, lr)
        if momentum < 0 or weight_decay < 0:
            raise ValueError(
                f"momentum and weight_decay must be >= 0, got {momentum} and "
                f"{weight_decay}"
            )
        self.momentum = float(momentum)
        self.weight_decay = float(weight_decay)
        self._buffers: list[np.ndarray | None] = [None] * len(self.params)

    def step(self) -> None:
        """Update every parameter once from its current ``grad``."""
        for index, parameter in enumerate(self.params):
            grad = parameter.grad
            if self.weight_decay:
                grad = grad + self.weight_decay * parameter.data
            if self.momentum:
                if self._buffers[index] is None:
                    self._buffers[index] = np.array(grad, copy=True)
                else:
                    self._buffers[index] *= self.momentum
                    self._buffers[index] += grad
                grad = self._buffers[index]
            parameter.data -= self.lr * grad


class Adam(Optimizer):
    """Adam (torch's ``optim.Adam``): per-parameter steps scaled by running moments of
    the gradient."""

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
        if eps <= 0 or weight_decay < 0:
            raise ValueError(
                f"eps must be > 0 and weight_decay >= 0, got {eps} and {weight_decay}"
            )
        self.betas = (float(beta1), float(beta2))
        self.eps = float(eps)
        self.weight_decay = float(weight_decay)
        self.step_count = 0
        self._m: list[
            np.ndarray
        ] = []  # first and second moments, created at the first step
        self._v: list[np.ndarray] = []

    def step(self) -> None:
        """Update every parameter once from its current ``grad``."""
        if not self._m:
            self._m = [np.zeros_like(p.data) for p in self.params]
            self._v = [np.zeros_like(p.data) for p in self.params]
        self.step_count += 1
        beta1, beta2 = self.betas
        step_size = self.lr / (1 - beta1**self.step_count)
        root_correction = math.sqrt(1 - beta2**self.step_count)
        for parameter, m, v in zip(self.params, self._m, self._v):
            grad = parameter.grad
            if self.weight_decay:
                grad = grad + self.weight_decay * parameter.data
            m *= beta1
            m += (1 - beta1) * grad
            v *= beta2
            v += (1 - beta2) * grad * grad
            denominator = np.sqrt(v)
            denominator /= root_correction
            denominator += self.eps
            parameter.data -= (step_size * m) / denominator


class StepLR:
    """Multiply the optimizer's ``lr`` by ``gamma`` every ``step_size`` epochs; call
    ``step()`` once per epoch."""

    def __init__(self, optimizer: Optimizer, step_size: int, gamma: float = 0.1):
        self.optimizer, self.step_size, self.gamma = (
            optimizer,
            int(step_size),
            float(gamma),
        )
        self.base_lr, self.epoch = optimizer.lr, 0

    def step(self) -> None:
        self.epoch += 1
        self.optimizer.lr = self.base_lr * self.gamma ** (self.epoch // self.step_size)


class ExponentialLR:
    """Multiply the optimizer's ``lr`` by ``gamma`` after every epoch; call ``step()``
    once per epoch."""

    def __init__(self, optimizer: Optimizer, gamma: float):
        self.optimizer, self.gamma = optimizer, float(gamma)
        self.base_lr, self.epoch = optimizer.lr, 0

    def step(self) -> None:
        self.epoch += 1
        self.optimizer.lr = self.base_lr * self.gamma**self.epoch


class CosineAnnealingLR:
    """Lower ``lr`` from its initial value to ``eta_min`` along half a cosine over
    ``T_max`` calls to ``step()`` (torch's closed form). Call ``step()`` once per epoch,
    or once per batch with ``T_max`` = total batches."""

    def __init__(self, optimizer: Optimizer, T_max: int, eta_min: float = 0.0):
        if T_max <= 0:
            raise ValueError(f"T_max must be > 0, got {T_max}")
        self.optimizer, self.T_max, self.eta_min = optimizer, int(T_max), float(eta_min)
        self.base_lr, self.epoch = optimizer.lr, 0

    def step(self) -> None:
        self.epoch += 1
        progress = min(self.epoch, self.T_max) / self.T_max
        self.optimizer.lr = (
            self.eta_min
            + (self.base_lr - self.eta_min) * (1 + math.cos(math.pi * progress)) / 2
        )
