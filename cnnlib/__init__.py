"""cnnlib: a small CNN library in NumPy, written alongside the course.

It reads like torch: ``cnnlib.nn`` (layers), ``cnnlib.optim`` (optimizers),
``cnnlib.functional`` (the ops with their backward passes), ``cnnlib.manual_seed``,
``cnnlib.no_grad``, ``cnnlib.save`` and ``cnnlib.load``. It follows PyTorch's
conventions (NCHW arrays, weights ``(out, in, kh, kw)``, layer names and ``state_dict``
keys), so what a learner builds here carries straight over to ``torch.nn``.

The loops of Part I are in :mod:`cnnlib.loops`, the readable vectorized ops of
chapter 6 in :mod:`cnnlib.ops`, and the tuned kernels that run by default in
:mod:`cnnlib.tuned`; ``cnnlib.fast_kernels(False)`` runs the readable ops instead.
"""

from . import functional, nn, optim
from .dispatch import fast_kernels, fast_kernels_enabled
from .init import manual_seed
from .nn import no_grad
from .serialization import load, save

__version__ = "0.1.0"

__all__ = [
    "functional", "nn", "optim", "fast_kernels", "fast_kernels_enabled",
    "manual_seed", "no_grad", "save", "load",
]  # fmt: skip
