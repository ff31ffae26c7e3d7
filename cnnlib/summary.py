"""A layer-by-layer table of a model: each layer's output shape and number of
parameters.

The shapes are found by running a batch of zeros through the model (under ``no_grad``),
so they are the shapes the layers really produce -- computed by the layers' own use of
:func:`cnnlib.shapes.conv_output_size`, never written by hand.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .nn import Module, Sequential, no_grad
from .checks import positive_int

__all__ = ["LayerSummary", "ModelSummary", "summary"]


class LayerSummary(NamedTuple):
    """One row: ``name`` (torch's, e.g. ``"0"``), ``kind`` (class name),
    ``output_shape``, ``num_params``."""

    name: str
    kind: str
    output_shape: tuple
    num_params: int


class ModelSummary(NamedTuple):
    """``layers``: list of :class:`LayerSummary`; ``total_params``: their sum."""

    layers: list
    total_params: int


def _leaves(module: Module, prefix: str = ""):
    """``(name, module)`` for each layer a Sequential runs, descending into nested
    Sequentials."""
    if isinstance(module, Sequential):
        for name, child in module._modules.items():
            yield from _leaves(child, f"{prefix}.{name}" if prefix else name)
    else:
        yield prefix or type(module).__name__, module


def summary(
    model: Module, input_shape, *, dtype=np.float32, print_fn=print
) -> ModelSummary:
    """Print and return each layer's output shape and parameter count.

    Args:
        model: a :class:`~cnnlib.nn.Sequential` (nested ones are walked) or any single
            module.
        input_shape: the shape of one **batch**, including ``N``, e.g.
            ``(1, 1, 28, 28)`` (like torchinfo's ``input_size``).
        print_fn: where the table goes (``None`` to print nothing).

    Returns:
        :class:`ModelSummary` ``(layers, total_params)``.

    Raises:
        ValueError: ``input_shape`` is not a tuple of positive ints, or a layer refuses
            the shape it gets (the layer's own message says why).
    """
    if not isinstance(input_shape, (tuple, list)) or not input_shape:
        raise ValueError(
            f"input_shape must be a tuple such as (1, 1, 28, 28), got {input_shape!r}"
        )
    input_shape = tuple(
        positive_int(size, f"input_shape[{i}]") for i, size in enumerate(input_shape)
    )
    x = np.zeros(input_shape, dtype=dtype)
    rows = []
    with no_grad():
        for name, layer in _leaves(model):
            try:
                x = layer(x)
            except ValueError as error:
                raise ValueError(
                    f"layer {name} ({type(layer).__name__}) cannot take an input of "
                    f"shape {x.shape}: {error}"
                ) from error
            rows.append(
                LayerSummary(
                    name,
                    type(layer).__name__,
                    tuple(x.shape),
                    sum(p.size for p in layer.parameters()),
                )
            )
    total = sum(row.num_params for row in rows)
    if print_fn is not None:
        header = f"{'Layer (type)':<24}{'Output shape':<24}{'Param #':>10}"
        lines = [
            header,
            "-" * len(header),
            f"{'Input':<24}{str(input_shape):<24}{'':>10}",
        ]
        lines += [
            f"{row.name + ' (' + row.kind + ')':<24}"
            f"{str(row.output_shape):<24}{row.num_params:>10,}"
            for row in rows
        ]
        lines += ["-" * len(header), f"Total params: {total:,}"]
        print_fn("\n".join(lines))
    return ModelSummary(rows, total)
