"""Output sizes of convolution and pooling: the one formula every layer, summary and
chapter uses.

For one spatial dimension of size ``n``, a window of size ``k`` with dilation ``d``
covers ``d * (k - 1) + 1`` input positions. With ``p`` zeros added on *each* side
and a step of ``s`` between windows, the number of window positions is::

    out = (n + 2 * p - d * (k - 1) - 1) // s + 1

``p`` is the padding **per side** (PyTorch's convention), so the padded input has
``n + 2 * p`` positions. Integer division keeps the result an ``int``; a window that
does not fit at all gives ``out <= 0``, which is an error, never a silent empty array.
"""

from __future__ import annotations

from .checks import pair

__all__ = ["conv_output_size"]


def _output_size_1d(n: int, k: int, s: int, p: int, d: int, axis: str) -> int:
    padded = n + 2 * p
    span = d * (k - 1) + 1
    out = (padded - span) // s + 1
    if span > padded or out <= 0:
        raise ValueError(
            f"kernel_size along {axis} spans {span} positions (kernel {k}, "
            f"dilation {d}) but the padded input_size is only {padded} "
            f"(input {n} + 2 * padding {p}); the output size would be {out}"
        )
    return out


def conv_output_size(input_size, kernel_size, stride=1, padding=0, dilation=1):
    """Spatial output size of a convolution or pooling window.

    Args:
        input_size: ``n`` or ``(h, w)``, the spatial size of the input (channels do not
            matter).
        kernel_size: ``k`` or ``(kh, kw)``.
        stride: ``s`` or ``(sh, sw)``, the step between windows, > 0.
        padding: ``p`` or ``(ph, pw)``, zeros added on **each** side, >= 0.
        dilation: ``d`` or ``(dh, dw)``, spacing between kernel taps, > 0.

    Returns:
        ``int`` when every argument is an int, else an ``(h_out, w_out)`` tuple, with
        ``out = (n + 2*p - d*(k - 1) - 1) // s + 1`` along each axis.

    Raises:
        ValueError: an argument is not a positive integer (or pair of them), or the
            window does not fit in the padded input, so the output would be empty.

    >>> conv_output_size(28, 3)
    26
    >>> conv_output_size((28, 28), 2, stride=2)
    (14, 14)
    """
    args = (input_size, kernel_size, stride, padding, dilation)
    all_scalar = not any(isinstance(a, (tuple, list)) for a in args)
    n = pair(input_size, "input_size")
    k = pair(kernel_size, "kernel_size")
    s = pair(stride, "stride")
    p = pair(padding, "padding", allow_zero=True)
    d = pair(dilation, "dilation")
    out = tuple(
        _output_size_1d(n[i], k[i], s[i], p[i], d[i], axis)
        for i, axis in enumerate(("height", "width"))
    )
    return out[0] if all_scalar else out
