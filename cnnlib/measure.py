"""Measuring a PyTorch model: its parameters, its multiply-adds and its field of view.

Part III compares networks by what they cost and by what they can see. All three
measures are read from the model itself, by running it, never from a formula typed
next to it:

* :func:`count_parameters`: the numbers gradient descent learns.
* :func:`count_macs`: the multiply-adds of one forward pass of one image, from a
  forward hook on every ``Conv2d`` and ``Linear`` (nested ones included).
* :func:`field_of_view`: which input pixels can change the output at all, from the
  gradient of the output with respect to random inputs.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from .checks import image_shape, positive_int

__all__ = ["count_parameters", "count_macs", "field_of_view"]


def _run_in_eval_mode(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """``model(x)`` with dropout off and batch norm on its running statistics, so that
    one image's output depends on that image only; the model's mode is restored."""
    was_training = model.training
    model.eval()
    try:
        return model(x)
    finally:
        model.train(was_training)


def count_parameters(model: nn.Module) -> int:
    """Number of elements of all the model's parameters (buffers not counted)."""
    return sum(p.numel() for p in model.parameters())


def count_macs(model: nn.Module, input_shape=(1, 28, 28)) -> int:
    """Multiply-adds of one forward pass of one image of shape ``input_shape``
    ``(C, H, W)``.

    A convolution does ``C_in / groups * kh * kw`` multiply-adds for each of its
    ``C_out * H_out * W_out`` outputs, a linear layer one per weight. Biases, ReLUs,
    pooling and normalisation are not counted: next to these they are nearly free.
    """
    shape = image_shape(input_shape, "input_shape")
    total = 0

    def conv_hook(layer, inputs, output):
        nonlocal total
        per_output = layer.in_channels // layer.groups * layer.kernel_size[0]
        total += output[0].numel() * per_output * layer.kernel_size[1]

    def linear_hook(layer, inputs, output):
        nonlocal total
        total += layer.in_features * layer.out_features

    hooks = []
    for layer in model.modules():
        if isinstance(layer, nn.Conv2d):
            hooks.append(layer.register_forward_hook(conv_hook))
        elif isinstance(layer, nn.Linear):
            hooks.append(layer.register_forward_hook(linear_hook))
    device = next(model.parameters()).device
    try:
        with torch.no_grad():
            _run_in_eval_mode(model, torch.zeros((1, *shape), device=device))
    finally:
        for hook in hooks:
            hook.remove()
    return total


def field_of_view(
    model: nn.Module, input_shape=(1, 28, 28), images: int = 16, seed: int = 0
) -> np.ndarray:
    """``(H, W)`` booleans: True where an input pixel can change the model's output.

    The gradient of the summed output with respect to the input is non-zero at a pixel
    exactly when some path of non-zero weights leads from it to the output. Random
    inputs (``images`` of them, uniform in [0, 1), seeded) make a path that one input
    happens to switch off (a ReLU at zero, a max-pooling window another pixel wins)
    open in another. The model's parameters and their ``.grad`` are left untouched.
    """
    shape = image_shape(input_shape, "input_shape")
    images = positive_int(images, "images")
    device = next(model.parameters()).device
    generator = torch.Generator().manual_seed(seed)
    x = torch.rand((images, *shape), generator=generator).to(device)
    x.requires_grad_(True)
    (grad,) = torch.autograd.grad(_run_in_eval_mode(model, x).sum(), x)
    return (grad.abs().sum(dim=(0, 1)) > 0).cpu().numpy()
