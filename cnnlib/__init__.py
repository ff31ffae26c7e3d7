"""cnnlib: a small CNN library in NumPy, written alongside the course.

It follows PyTorch's conventions (NCHW tensors, weights ``(out, in, kh, kw)``, layer names and
``state_dict`` keys) so that what a learner builds here carries straight over to ``torch.nn``.
Import the submodules you need, e.g. ``from cnnlib.data import load_mnist``.
"""

__version__ = "0.1.0"
