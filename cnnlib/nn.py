"""Layers as objects, in the shape of ``torch.nn``: ``Module``, ``Parameter`` and the
layers of a small CNN.

A layer's ``forward(x)`` calls the matching op of :mod:`cnnlib.functional` and keeps its
cache in **one** slot (``self._cache``), overwritten by the next forward pass;
``backward(grad_output)`` uses that cache, **adds** the parameter gradients into
``param.grad`` (accumulating, as torch does -- call ``zero_grad()`` between steps) and
returns one array, the gradient with respect to the layer's input.

Inside :func:`no_grad` no cache is kept (evaluation of large batches then holds no
column matrices). Besides parameters a module may hold *buffers*: arrays that are state
but not trained, such as batch norm's running statistics (``register_buffer``, as in
torch). Parameter and buffer names and ``state_dict`` keys follow torch
(``"0.weight"``, ``"0.bias"``, ``"1.running_mean"``, ...), so::

    torch_model.load_state_dict(
        {k: torch.from_numpy(v) for k, v in model.state_dict().items()}
    )

loads this model's weights into the equivalent ``torch.nn.Sequential``.
"""

from __future__ import annotations

import contextlib
from typing import Iterator

import numpy as np

from . import functional as F
from . import tuned
from .dispatch import fast_kernels_enabled
from .init import torch_default_bound, uniform
from .checks import batch_norm_input, pair, positive_int, probability

__all__ = [
    "Parameter", "Module", "Conv2d", "MaxPool2d", "AvgPool2d", "ReLU", "Flatten",
    "Linear", "Sequential", "CrossEntropyLoss", "no_grad", "is_grad_enabled",
    "BatchNorm1d", "BatchNorm2d", "Dropout", "Residual",
]  # fmt: skip

_grad_enabled = True


@contextlib.contextmanager
def no_grad():
    """Within this block layers keep no cache (like ``torch.no_grad()``), so
    ``backward`` is unavailable."""
    global _grad_enabled
    previous, _grad_enabled = _grad_enabled, False
    try:
        yield
    finally:
        _grad_enabled = previous


def is_grad_enabled() -> bool:
    """``False`` inside :func:`no_grad`."""
    return _grad_enabled


class Parameter:
    """A trainable array: ``data`` (the values) and ``grad`` (same shape and dtype,
    accumulated by backward)."""

    def __init__(self, data: np.ndarray):
        if not isinstance(data, np.ndarray) or not np.issubdtype(
            data.dtype, np.floating
        ):
            raise ValueError(
                "Parameter data must be a float NumPy array, got "
                f"{type(data).__name__} {getattr(data, 'dtype', '')}"
            )
        self.data = data
        self.grad = np.zeros_like(data)

    @property
    def shape(self) -> tuple:
        return self.data.shape

    @property
    def dtype(self):
        return self.data.dtype

    @property
    def size(self) -> int:
        return self.data.size

    def __repr__(self) -> str:
        return f"Parameter(shape={self.data.shape}, dtype={self.data.dtype})"


class Module:
    """Base class. Assigning a :class:`Parameter` or a :class:`Module` to an attribute
    registers it, as in torch; :meth:`register_buffer` registers a buffer, and later
    assignments to its name replace it."""

    def __init__(self):
        object.__setattr__(self, "_parameters", {})
        object.__setattr__(self, "_buffers", {})
        object.__setattr__(self, "_modules", {})
        self.training = True
        self._cache = None

    def __setattr__(self, name, value):
        if isinstance(value, Parameter):
            self._parameters[name] = value
        elif isinstance(value, Module):
            self._modules[name] = value
        elif name in self._buffers:
            self._buffers[name] = self._checked_buffer(name, value)
        elif value is None and name in self._parameters:
            self._parameters[name] = None
        object.__setattr__(self, name, value)

    @staticmethod
    def _checked_buffer(name, value):
        if value is not None and not isinstance(value, np.ndarray):
            raise ValueError(
                f"buffer {name!r} must be a NumPy array or None, got "
                f"{type(value).__name__}"
            )
        return value

    def register_buffer(self, name: str, value: np.ndarray | None) -> None:
        """Register ``value`` (an array, or ``None`` for "not kept") as the buffer
        ``name``: state that ``state_dict`` saves and ``.double()`` converts, but that
        no optimizer sees (torch's ``register_buffer``)."""
        if not isinstance(name, str) or not name.isidentifier():
            raise ValueError(f"buffer name must be an identifier, got {name!r}")
        if name in self._parameters or name in self._modules:
            raise ValueError(f"{name!r} is already a parameter or a submodule")
        self._buffers[name] = self._checked_buffer(name, value)
        object.__setattr__(self, name, value)

    # --- computation ------------------------------------------------------------------
    def __call__(self, *args, **kwargs):
        return self.forward(*args, **kwargs)

    def forward(self, x):
        raise NotImplementedError(f"{type(self).__name__} must define forward(x)")

    def backward(self, grad_output, needs_input_grad=True):
        """Add the parameters' gradients into their ``.grad`` and return the gradient
        with respect to the input.

        ``needs_input_grad=False``: the caller has no use for the input gradient (the
        input is data, as for a network's first layer); the layer may skip computing it
        and returns ``None``.
        """
        raise NotImplementedError(
            f"{type(self).__name__} must define backward(grad_output, "
            "needs_input_grad=True)"
        )

    def _keep(self, cache):
        """Store the forward cache in the layer's one slot (nothing under
        :func:`no_grad`)."""
        self._cache = cache if _grad_enabled else None

    def _take(self):
        """The cache of the last forward pass; a clear error if there is none."""
        if self._cache is None:
            raise RuntimeError(
                f"{type(self).__name__}.backward called without a forward pass to "
                "differentiate (no forward yet, or it ran under no_grad())"
            )
        return self._cache

    # --- parameters -------------------------------------------------------------------
    def named_parameters(self, prefix: str = "") -> Iterator[tuple[str, Parameter]]:
        """Yield ``(name, parameter)`` pairs, children's prefixed by their name:
        ``"0.weight"``, ``"0.bias"``, ..."""
        for name, parameter in self._parameters.items():
            if parameter is not None:
                yield prefix + name, parameter
        for child_name, child in self._modules.items():
            yield from child.named_parameters(prefix + child_name + ".")

    def parameters(self) -> Iterator[Parameter]:
        """Yield every :class:`Parameter` of this module and its children."""
        for _, parameter in self.named_parameters():
            yield parameter

    def named_modules(self, prefix: str = "") -> Iterator[tuple[str, "Module"]]:
        """Yield ``(name, module)`` for this module (name ``prefix``) and every
        descendant."""
        yield prefix, self
        for child_name, child in self._modules.items():
            yield from child.named_modules(
                f"{prefix}.{child_name}" if prefix else child_name
            )

    def named_buffers(self, prefix: str = "") -> Iterator[tuple[str, np.ndarray]]:
        """Yield ``(name, array)`` for every buffer that is not ``None``, children's
        prefixed by their name: ``"1.running_mean"``, ..."""
        for name, buffer in self._buffers.items():
            if buffer is not None:
                yield prefix + name, buffer
        for child_name, child in self._modules.items():
            yield from child.named_buffers(prefix + child_name + ".")

    def buffers(self) -> Iterator[np.ndarray]:
        """Yield every buffer array of this module and its children."""
        for _, buffer in self.named_buffers():
            yield buffer

    def _state_slots(self, prefix: str = ""):
        """Yield ``(key, module, attribute)`` for every parameter and buffer in torch's
        ``state_dict`` order: a module's parameters, then its buffers, then its
        children's."""
        for name, parameter in self._parameters.items():
            if parameter is not None:
                yield prefix + name, self, name
        for name, buffer in self._buffers.items():
            if buffer is not None:
                yield prefix + name, self, name
        for child_name, child in self._modules.items():
            yield from child._state_slots(prefix + child_name + ".")

    def children(self) -> Iterator["Module"]:
        return iter(self._modules.values())

    def zero_grad(self) -> None:
        """Set every parameter's ``grad`` to zeros."""
        for parameter in self.parameters():
            parameter.grad[...] = 0

    def train(self, mode: bool = True) -> "Module":
        """Switch to training mode (and back with ``train(False)``); returns ``self``.
        :class:`Dropout` and the batch norms behave differently in the two modes."""
        for _, module in self.named_modules():
            module.training = mode
        return self

    def eval(self) -> "Module":
        """``train(False)``."""
        return self.train(False)

    def to(self, dtype) -> "Module":
        """Convert every parameter (and gradient) and every float buffer to ``dtype`` in
        place, e.g. ``np.float64`` for gradient checks (integer buffers stay, as in
        torch)."""
        for parameter in self.parameters():
            parameter.data = parameter.data.astype(dtype)
            parameter.grad = parameter.grad.astype(dtype)
        for _, module in self.named_modules():
            for name, buffer in list(module._buffers.items()):
                if buffer is not None and np.issubdtype(buffer.dtype, np.floating):
                    setattr(module, name, buffer.astype(dtype))
        return self

    def double(self) -> "Module":
        return self.to(np.float64)

    def float(self) -> "Module":
        return self.to(np.float32)

    # --- state ------------------------------------------------------------------------
    @staticmethod
    def _state_value(module: "Module", name: str) -> np.ndarray:
        """The array behind a ``state_dict`` entry: a parameter's data or a buffer."""
        parameter = module._parameters.get(name)
        return module._buffers[name] if parameter is None else parameter.data

    def state_dict(self) -> dict[str, np.ndarray]:
        """``{name: copy of the parameter's or buffer's array}`` with torch's keys
        (``"0.weight"``, ``"1.running_mean"``), order and shapes."""
        return {
            key: self._state_value(module, name).copy()
            for key, module, name in self._state_slots()
        }

    def load_state_dict(self, state_dict, strict: bool = True) -> None:
        """Copy arrays into the parameters and buffers (cast to each one's dtype; the
        arrays given are not kept).

        Raises ``ValueError`` on missing or unexpected keys (when ``strict``) or a shape
        mismatch, naming the key and both shapes; nothing is modified then.
        """
        slots = {key: (module, name) for key, module, name in self._state_slots()}
        own = {key: self._state_value(*slot) for key, slot in slots.items()}
        missing = sorted(set(own) - set(state_dict))
        unexpected = sorted(set(state_dict) - set(own))
        if strict and (missing or unexpected):
            raise ValueError(
                f"state_dict does not match the model: missing keys {missing}, "
                f"unexpected keys {unexpected}"
            )
        arrays = {}
        for key, current in own.items():
            if key not in state_dict:
                continue
            value = np.asarray(state_dict[key])
            if value.shape != current.shape:
                raise ValueError(
                    f"state_dict[{key!r}] has shape {value.shape} but the model's "
                    f"array has shape {current.shape}"
                )
            arrays[key] = value
        for key, value in arrays.items():
            module, name = slots[key]
            value = value.astype(own[key].dtype, copy=True)
            if name in module._parameters:
                module._parameters[name].data = value
            else:
                setattr(module, name, value)

    # --- display ----------------------------------------------------------------------
    def extra_repr(self) -> str:
        return ""

    def __repr__(self) -> str:
        if not self._modules:
            return f"{type(self).__name__}({self.extra_repr()})"
        lines = [
            f"  ({name}): " + repr(child).replace("\n", "\n  ")
            for name, child in self._modules.items()
        ]
        return f"{type(self).__name__}(\n" + "\n".join(lines) + "\n)"


def _dtype(dtype):
    dtype = np.dtype(dtype)
    if dtype not in (np.float32, np.float64):
        raise ValueError(f"dtype must be float32 or float64, got {dtype}")
    return dtype


class Conv2d(Module):
    """2-D convolution layer: ``(N, in_channels, H, W)`` ->
    ``(N, out_channels, H_out, W_out)``.

    ``weight: (out_channels, in_channels, kh, kw)``, ``bias: (out_channels,)``, both
    drawn from torch's default ``U(-1/sqrt(fan_in), 1/sqrt(fan_in))`` with
    ``fan_in = in_channels * kh * kw`` (see :mod:`cnnlib.init`). ``rng``: a NumPy
    ``Generator`` (default: :func:`cnnlib.init.default_generator`); ``dtype``: float32
    or float64.
    """

    def __init__(
        self,
        in_channels,
        out_channels,
        kernel_size,
        stride=1,
        padding=0,
        dilation=1,
        bias=True,
        *,
        rng=None,
        dtype=np.float32,
    ):
        super().__init__()
        self.in_channels = positive_int(in_channels, "in_channels")
        self.out_channels = positive_int(out_channels, "out_channels")
        self.kernel_size = pair(kernel_size, "kernel_size")
        self.stride = pair(stride, "stride")
        self.padding = pair(padding, "padding", allow_zero=True)
        self.dilation = pair(dilation, "dilation")
        dtype = _dtype(dtype)
        bound = torch_default_bound(
            self.in_channels * self.kernel_size[0] * self.kernel_size[1]
        )
        self.weight = Parameter(
            uniform(
                (self.out_channels, self.in_channels, *self.kernel_size),
                bound,
                rng,
                dtype,
            )
        )
        self.bias = (
            Parameter(uniform((self.out_channels,), bound, rng, dtype))
            if bias
            else None
        )

    def forward(self, x):
        """``x: (N, in_channels, H, W)`` -> ``(N, out_channels, H_out, W_out)``."""
        bias = None if self.bias is None else self.bias.data
        out, cache = F.conv2d_forward(
            x, self.weight.data, bias, self.stride, self.padding, self.dilation
        )
        self._keep(cache)
        return out

    def backward(self, grad_output, needs_input_grad=True):
        """``grad_output: (N, out_channels, H_out, W_out)`` ->
        ``grad_x: (N, in_channels, H, W)`` (``None`` if not ``needs_input_grad``); adds
        into ``weight.grad`` and ``bias.grad``."""
        grad_x, grad_weight, grad_bias = F.conv2d_backward(
            grad_output, self._take(), needs_input_grad
        )
        self.weight.grad += grad_weight
        if self.bias is not None:
            self.bias.grad += grad_bias
        return grad_x

    def extra_repr(self):
        text = (
            f"{self.in_channels}, {self.out_channels}, "
            f"kernel_size={self.kernel_size}, stride={self.stride}"
        )
        if self.padding != (0, 0):
            text += f", padding={self.padding}"
        if self.dilation != (1, 1):
            text += f", dilation={self.dilation}"
        return text + ("" if self.bias is not None else ", bias=False")


class Linear(Module):
    """Fully connected layer: ``(N, in_features)`` -> ``(N, out_features)``;
    ``weight: (out_features, in_features)``, ``bias: (out_features,)``, torch's default
    init with ``fan_in = in_features``."""

    def __init__(
        self, in_features, out_features, bias=True, *, rng=None, dtype=np.float32
    ):
        super().__init__()
        self.in_features = positive_int(in_features, "in_features")
        self.out_features = positive_int(out_features, "out_features")
        dtype = _dtype(dtype)
        bound = torch_default_bound(self.in_features)
        self.weight = Parameter(
            uniform((self.out_features, self.in_features), bound, rng, dtype)
        )
        self.bias = (
            Parameter(uniform((self.out_features,), bound, rng, dtype))
            if bias
            else None
        )

    def forward(self, x):
        """``x: (N, in_features)`` -> ``(N, out_features)``."""
        bias = None if self.bias is None else self.bias.data
        out, cache = F.linear_forward(x, self.weight.data, bias)
        self._keep(cache)
        return out

    def backward(self, grad_output, needs_input_grad=True):
        """``grad_output: (N, out_features)`` -> ``grad_x: (N, in_features)`` (``None``
        if not ``needs_input_grad``); adds into the parameter grads."""
        grad_x, grad_weight, grad_bias = F.linear_backward(
            grad_output, self._take(), needs_input_grad
        )
        self.weight.grad += grad_weight
        if self.bias is not None:
            self.bias.grad += grad_bias
        return grad_x

    def extra_repr(self):
        return (
            f"in_features={self.in_features}, out_features={self.out_features}, "
            f"bias={self.bias is not None}"
        )


class MaxPool2d(Module):
    """Max pooling: ``(N, C, H, W)`` -> ``(N, C, H_out, W_out)``; ``stride`` defaults to
    ``kernel_size``; first maximum wins ties (torch's rule)."""

    def __init__(self, kernel_size, stride=None, padding=0, dilation=1):
        super().__init__()
        self.kernel_size = pair(kernel_size, "kernel_size")
        self.stride = self.kernel_size if stride is None else pair(stride, "stride")
        self.padding = pair(padding, "padding", allow_zero=True)
        self.dilation = pair(dilation, "dilation")

    def forward(self, x):
        """``x: (N, C, H, W)`` -> ``(N, C, H_out, W_out)``."""
        out, cache = F.max_pool2d_forward(
            x, self.kernel_size, self.stride, self.padding, self.dilation
        )
        self._keep(cache)
        return out

    def backward(self, grad_output, needs_input_grad=True):
        """``grad_output: (N, C, H_out, W_out)`` -> ``grad_x: (N, C, H, W)`` (``None``
        if not ``needs_input_grad``)."""
        return (
            F.max_pool2d_backward(grad_output, self._take())
            if needs_input_grad
            else None
        )

    def extra_repr(self):
        return (
            f"kernel_size={self.kernel_size}, stride={self.stride}, "
            f"padding={self.padding}"
        )


class AvgPool2d(Module):
    """Average pooling: ``(N, C, H, W)`` -> ``(N, C, H_out, W_out)``;
    ``count_include_pad`` as in torch."""

    def __init__(self, kernel_size, stride=None, padding=0, count_include_pad=True):
        super().__init__()
        self.kernel_size = pair(kernel_size, "kernel_size")
        self.stride = self.kernel_size if stride is None else pair(stride, "stride")
        self.padding = pair(padding, "padding", allow_zero=True)
        self.count_include_pad = bool(count_include_pad)

    def forward(self, x):
        """``x: (N, C, H, W)`` -> ``(N, C, H_out, W_out)``."""
        out, cache = F.avg_pool2d_forward(
            x,
            self.kernel_size,
            self.stride,
            self.padding,
            count_include_pad=self.count_include_pad,
        )
        self._keep(cache)
        return out

    def backward(self, grad_output, needs_input_grad=True):
        """``grad_output: (N, C, H_out, W_out)`` -> ``grad_x: (N, C, H, W)`` (``None``
        if not ``needs_input_grad``)."""
        return (
            F.avg_pool2d_backward(grad_output, self._take())
            if needs_input_grad
            else None
        )

    def extra_repr(self):
        return (
            f"kernel_size={self.kernel_size}, stride={self.stride}, "
            f"padding={self.padding}"
        )


class ReLU(Module):
    """``max(x, 0)`` elementwise: any shape -> same shape."""

    def forward(self, x):
        out, cache = F.relu_forward(x)
        self._keep(cache)
        return out

    def backward(self, grad_output, needs_input_grad=True):
        return F.relu_backward(grad_output, self._take()) if needs_input_grad else None


class Flatten(Module):
    """``(N, d1, d2, ...)`` -> ``(N, d1 * d2 * ...)`` in C order, i.e. torch's
    ``nn.Flatten()`` on NCHW (channel-major), so a following ``Linear``'s weights are
    interchangeable with torch's."""

    def forward(self, x):
        if not isinstance(x, np.ndarray) or x.ndim < 2:
            raise ValueError(
                "Flatten expects x of shape (N, ...) with at least 2 dimensions, got "
                f"{getattr(x, 'shape', type(x).__name__)}"
            )
        self._keep(x.shape)
        return x.reshape(x.shape[0], -1)

    def backward(self, grad_output, needs_input_grad=True):
        if not needs_input_grad:
            return None
        shape = self._take()
        expected = (shape[0], int(np.prod(shape[1:])))
        if grad_output.shape != expected:
            raise ValueError(
                f"grad_output must have the output's shape {expected}, got "
                f"{grad_output.shape}"
            )
        return grad_output.reshape(shape)


class Sequential(Module):
    """Modules applied in order; children are named ``"0"``, ``"1"``, ... as in
    ``torch.nn.Sequential``.

    ``forward(x)`` runs them first to last; ``backward(grad_output)`` runs their
    ``backward`` last to first and returns the gradient with respect to the input.
    With the tuned kernels on, a ``ReLU`` followed by a ``MaxPool2d`` runs as one op
    (the same output and gradients, in fewer passes over memory), and so does a
    one-channel ``Conv2d`` before them where :mod:`cnnlib.tuned.conv_relu_pool` applies
    (the same up to float rounding).
    ``backward(grad_output, needs_input_grad=False)`` returns ``None`` and skips the
    work that only the input gradient needs: the modules before the first one with
    parameters, and that module's own input gradient (as torch skips it for inputs that
    do not require grad).
    """

    def __init__(self, *modules: Module):
        super().__init__()
        for index, module in enumerate(modules):
            if not isinstance(module, Module):
                raise ValueError(
                    f"Sequential takes Module instances, argument {index} is "
                    f"{type(module).__name__}"
                )
            setattr(self, str(index), module)

    def forward(self, x):
        modules = list(self._modules.values())
        k = 0
        while k < len(modules):
            pooled = _conv_relu_then_max_pool(modules[k : k + 3], x)
            if pooled is not None:
                x, k = pooled, k + 3
                continue
            pooled = _relu_then_max_pool(modules[k : k + 2], x)
            if pooled is None:
                x, k = modules[k](x), k + 1
            else:
                x, k = pooled, k + 2
        return x

    def backward(self, grad_output, needs_input_grad=True):
        modules = list(self._modules.values())
        first_trained = next(
            (k for k, module in enumerate(modules) if next(module.parameters(), None)),
            len(modules),
        )
        # Module k's input gradient is needed if a module before it has parameters, or
        # if the caller needs it.
        k = len(modules) - 1
        while k >= 0:
            if k < first_trained and not needs_input_grad:
                return None
            if k >= 2:
                ran, grad_x = _conv_relu_max_pool_backward(
                    modules[k - 2 : k + 1],
                    grad_output,
                    needs_input_grad or k - 2 > first_trained,
                )
                if ran:
                    grad_output, k = grad_x, k - 3
                    continue
            grad_output = modules[k].backward(
                grad_output, needs_input_grad=needs_input_grad or k > first_trained
            )
            k -= 1
        return grad_output

    def __getitem__(self, index):
        return list(self._modules.values())[index]

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())


def _conv_relu_then_max_pool(layers, x):
    """The output of ``layers``, a ``Conv2d``, a ``ReLU`` and a ``MaxPool2d``, run by
    the tuned kernels as one op (:mod:`cnnlib.tuned.conv_relu_pool`); ``None`` where
    ``layers`` are not those three, the op does not apply to them, or the readable ops
    are on. Each layer keeps a cache its own backward can use, as after
    :func:`_relu_then_max_pool`."""
    kinds = [type(layer) for layer in layers]  # a subclass may compute something else
    if kinds != [Conv2d, ReLU, MaxPool2d] or not fast_kernels_enabled():
        return None
    conv, relu, pool = layers
    result = tuned.conv_relu_max_pool2d_forward(
        x,
        conv.weight.data,
        None if conv.bias is None else conv.bias.data,
        (conv.stride, conv.padding, conv.dilation),
        (pool.kernel_size, pool.stride, pool.padding, pool.dilation),
    )
    if result is None:
        return None
    out, *caches = result
    for layer, cache in zip(layers, caches):
        layer._keep(cache)
    return out


def _conv_relu_max_pool_backward(layers, grad_output, needs_input_grad):
    """The backward pass of ``layers`` (a ``Conv2d``, a ``ReLU`` and a ``MaxPool2d``)
    for ``grad_output``, the gradient of the pooling's output, where their last forward
    pass ran as one op: their parameter gradients in one pass, added into ``.grad``.

    Returns ``(True, grad_x)``, the block's input gradient computed layer by layer if
    ``needs_input_grad`` (else ``None``), so that the parameter gradients do not depend
    on it; ``(False, None)`` where the layers did not run as one op.
    """
    conv, relu, pool = layers
    cache = conv._cache
    ran_as_one = isinstance(cache, tuned.ConvReluPoolCache)
    if not ran_as_one or cache.pool_cache is not pool._cache:
        return False, None
    grad_weight, grad_bias = tuned.conv_relu_max_pool2d_backward(grad_output, cache)
    grad_x = None
    if needs_input_grad:
        grad_conv = relu.backward(pool.backward(grad_output))
        grad_x, _, _ = F.conv2d_backward(grad_conv, cache)
    conv.weight.grad += grad_weight
    if conv.bias is not None:
        conv.bias.grad += grad_bias
    return True, grad_x


def _relu_then_max_pool(layers, x):
    """The output of ``layers``, a ReLU and a max pooling after it, run by the tuned
    kernels in one pass over memory (:func:`cnnlib.tuned.relu_max_pool2d_forward`);
    ``None`` where ``layers`` are not those two layers, or the readable ops are on.
    In the MNIST net each convolution is followed by these two layers; running them as
    one made its training step about 8 % faster (4.6 ms to 4.25 ms on 2 cores).

    Each layer keeps the cache its own backward needs, so the two backward passes give
    the pair's gradient. (The pooling's backward then includes the ReLU's mask, and the
    ReLU's passes the gradient through.)
    """
    kinds = [type(layer) for layer in layers]  # a subclass may compute something else
    if kinds != [ReLU, MaxPool2d] or not fast_kernels_enabled():
        return None
    relu, pool = layers
    out, relu_cache, pool_cache = tuned.relu_max_pool2d_forward(
        x, pool.kernel_size, pool.stride, pool.padding, pool.dilation
    )
    relu._keep(relu_cache)
    pool._keep(pool_cache)
    return out


class CrossEntropyLoss(Module):
    """``loss = CrossEntropyLoss()(logits, targets)`` with ``logits: (N, classes)``,
    ``targets: (N,)`` int; a 0-d array.

    ``backward(grad_output=1.0)`` returns ``grad_logits: (N, classes)``, the start of
    the backward pass.
    """

    def __init__(self, reduction: str = "mean"):
        super().__init__()
        self.reduction = reduction

    def forward(self, logits, targets):
        loss, cache = F.cross_entropy_forward(logits, targets, self.reduction)
        self._keep(cache)
        return loss

    def backward(self, grad_output=1.0):
        return F.cross_entropy_backward(grad_output, self._take())

    def extra_repr(self):
        return "" if self.reduction == "mean" else f"reduction={self.reduction!r}"


class _BatchNorm(Module):
    """What :class:`BatchNorm1d` and :class:`BatchNorm2d` share (torch's
    ``_BatchNorm``, its arguments and defaults; ``bias=False`` keeps only the
    ``weight``); subclasses set ``_ranks``, the input ranks they accept."""

    _ranks: tuple[int, ...] = ()

    def __init__(
        self,
        num_features,
        eps=1e-5,
        momentum=0.1,
        affine=True,
        track_running_stats=True,
        *,
        bias=True,
        dtype=np.float32,
    ):
        super().__init__()
        self.num_features = positive_int(num_features, "num_features")
        if isinstance(eps, bool) or not isinstance(eps, (int, float)) or eps <= 0:
            raise ValueError(f"eps must be a number > 0, got {eps!r}")
        self.eps = float(eps)
        self.momentum = None if momentum is None else probability(momentum, "momentum")
        self.affine, self.track_running_stats = bool(affine), bool(track_running_stats)
        dtype, shape = _dtype(dtype), (self.num_features,)
        self.weight = Parameter(np.ones(shape, dtype)) if affine else None
        self.bias = Parameter(np.zeros(shape, dtype)) if affine and bias else None
        tracked = self.track_running_stats
        self.register_buffer(
            "running_mean", np.zeros(shape, dtype) if tracked else None
        )
        self.register_buffer("running_var", np.ones(shape, dtype) if tracked else None)
        count = np.array(0, dtype=np.int64) if tracked else None
        self.register_buffer("num_batches_tracked", count)

    def forward(self, x):
        """``x`` -> the same shape. Training: normalise with the batch's statistics
        and update the running ones (``momentum=None``: their cumulative average over
        ``num_batches_tracked`` batches). Evaluation: use the running statistics, or
        the batch's if none are tracked."""
        x = batch_norm_input(x, self.num_features, self._ranks, type(self).__name__)
        updating = self.training and self.track_running_stats
        factor = 0.0 if self.momentum is None else self.momentum
        if updating and self.momentum is None:
            factor = 1.0 / (int(self.num_batches_tracked) + 1)
        use_running = not self.training or self.track_running_stats
        out, cache = F.batch_norm_forward(
            x,
            self.running_mean if use_running else None,
            self.running_var if use_running else None,
            None if self.weight is None else self.weight.data,
            None if self.bias is None else self.bias.data,
            self.training or self.running_mean is None,
            factor,
            self.eps,
        )
        if updating:
            self.num_batches_tracked += 1
        self._keep(cache)
        return out

    def backward(self, grad_output, needs_input_grad=True):
        """``grad_output``: x's shape -> ``grad_x`` (``None`` if not
        ``needs_input_grad``); adds into ``weight.grad`` and ``bias.grad``."""
        grad_x, grad_weight, grad_bias = F.batch_norm_backward(
            grad_output, self._take(), needs_input_grad
        )
        if self.weight is not None:
            self.weight.grad += grad_weight
        if self.bias is not None:
            self.bias.grad += grad_bias
        return grad_x

    def extra_repr(self):
        return (
            f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, "
            f"affine={self.affine}, bias={self.bias is not None}, "
            f"track_running_stats={self.track_running_stats}"
        )


class BatchNorm1d(_BatchNorm):
    """Batch normalisation of ``(N, C)`` or ``(N, C, L)`` (torch's ``BatchNorm1d``):
    each of the ``C = num_features`` channels is normalised over the batch (and
    ``L``), then scaled by ``weight`` and shifted by ``bias`` (ones and zeros at
    first). See :mod:`cnnlib.ops.batchnorm` for the formulas."""

    _ranks = (2, 3)


class BatchNorm2d(_BatchNorm):
    """Batch normalisation of ``(N, C, H, W)`` (torch's ``BatchNorm2d``): each of the
    ``C = num_features`` channels is normalised over its ``N * H * W`` values, then
    scaled by ``weight`` and shifted by ``bias``. Buffers ``running_mean``,
    ``running_var``, ``num_batches_tracked``; ``state_dict`` keys as torch's."""

    _ranks = (4,)


class Dropout(Module):
    """Inverted dropout (torch's ``Dropout``): any shape -> the same shape.

    Training: each value is zeroed with probability ``p`` and the others are divided
    by ``1 - p``; evaluation: the identity. The mask comes from ``rng`` (default:
    :func:`cnnlib.init.default_generator`, reseeded by ``cnnlib.manual_seed``) and the
    backward reuses it.
    """

    def __init__(self, p=0.5, *, rng=None):
        super().__init__()
        self.p = probability(p, "p")
        self.rng = rng

    def forward(self, x):
        out, cache = F.dropout_forward(x, self.p, self.training, self.rng)
        self._keep(cache)
        return out

    def backward(self, grad_output, needs_input_grad=True):
        if not needs_input_grad:
            return None
        return F.dropout_backward(grad_output, self._take())

    def extra_repr(self):
        return f"p={self.p}"


class Residual(Module):
    """A residual connection (He et al., 2015): ``out = block(x) + shortcut(x)``.

    ``block``: any module, e.g. ``Sequential(Conv2d, BatchNorm2d, ReLU, Conv2d,
    BatchNorm2d)``; ``shortcut``: a module (e.g. a 1x1 ``Conv2d`` with stride 2 and a
    ``BatchNorm2d``, a *projection*) or ``None`` for the identity. The two outputs
    must have the same shape. A ReLU after the sum is a separate layer. The children
    are named ``block`` and ``shortcut``, so ``state_dict`` keys (``"block.0.weight"``,
    ``"shortcut.0.weight"``) equal those of a torch module with attributes of those
    names.
    """

    def __init__(self, block, shortcut=None):
        super().__init__()
        if not isinstance(block, Module):
            raise ValueError(
                f"Residual's block must be a Module, got {type(block).__name__}"
            )
        if shortcut is not None and not isinstance(shortcut, Module):
            raise ValueError(
                "Residual's shortcut must be a Module or None, got "
                f"{type(shortcut).__name__}"
            )
        self.block = block
        self.shortcut = shortcut

    def forward(self, x):
        """``x`` -> ``block(x) + shortcut(x)`` (``+ x`` without a shortcut)."""
        out = self.block(x)
        skip = x if self.shortcut is None else self.shortcut(x)
        if out.shape != skip.shape:
            raise ValueError(
                f"Residual: the block's output has shape {out.shape} but the "
                f"shortcut's has shape {skip.shape}; they must be equal to be added "
                "(a block that changes channels or size needs a projection shortcut)"
            )
        return out + skip

    def backward(self, grad_output, needs_input_grad=True):
        """The sum sends ``grad_output`` unchanged into both paths; the input
        gradients of the two paths add. Returns ``None`` if not ``needs_input_grad``
        (the parameter gradients are still accumulated)."""
        grad_block = self.block.backward(grad_output, needs_input_grad)
        if self.shortcut is None:
            grad_skip = grad_output  # the identity's gradient is grad_output itself
        else:
            grad_skip = self.shortcut.backward(grad_output, needs_input_grad)
        return grad_block + grad_skip if needs_input_grad else None
