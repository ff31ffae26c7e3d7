"""Diagrams for the book, drawn from computed geometry so that they stay true.

Each function returns a matplotlib ``Figure``. Nothing in a drawing is typed by hand:
output sizes come from :func:`cnnlib.shapes.conv_output_size`, window positions from
index arithmetic, the im2col matrix from :func:`cnnlib.ops.im2col.im2col`, pooling
winners from :func:`cnnlib.loops.max_pool2d_with_indices`, and the pipeline's shapes
from running the model on zeros (:func:`cnnlib.summary.summary`). Nothing is random.

In a chapter, call one in a cell tagged ``hide-input``: ``fig = sliding_window()``.
The figure is made with ``pyplot``, so the notebook shows it once, at the end of the
cell.

Every grid cell is a ``Rectangle`` whose ``gid`` names its role and its place, for
example ``"tap:1,2"`` (row 1, column 2), so a test can read back what was drawn.
Colours are from the Okabe-Ito and Paul Tol palettes, safe for colour-blind readers,
and every colour is doubled by a label or an outline.

matplotlib is imported inside the functions: cnnlib itself needs only NumPy.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from . import checks
from .shapes import conv_output_size

__all__ = [
    "sliding_window", "padding_stride_dilation", "multichannel_conv", "im2col",
    "max_pool_routing", "pipeline", "window_taps", "pool_winners", "pipeline_stages",
    "lenet",
]  # fmt: skip

FONT, SMALL, TITLE = 10, 9, 11  # points; the smallest text is 9 pt
BLUE, SKY, ORANGE, YELLOW = "#0072B2", "#56B4E9", "#E69F00", "#F0E442"
VERMILLION, PURPLE, LIGHT_GREEN = "#D55E00", "#CC79A7", "#66C5AB"
PAD_GREY = "#D9D9D9"
TAP = (0.34, 0.71, 0.91, 0.7)  # SKY, translucent: a tap on padding still shows its 0
# Paul Tol's "light" scheme: distinct fills that keep black text readable.
WINDOW_COLOURS = (
    "#77AADD", "#EE8866", "#EEDD88", "#FFAABB", "#99DDFF", "#44BB99", "#BBCC33",
    "#AAAA00", "#DDDDDD",
)  # fmt: skip
FORMULA = "out = (n + 2·p − d·(k − 1) − 1) // s + 1"
DOTS = "orange dots: where each window starts (every s cells)"


# ---------------------------------------------------------------------------------
# Drawing helpers shared by the diagrams


def _canvas(figsize, ncols=1, nrows=1, layout=None):
    """A new figure and its axes (one, or a list), blank and with equal aspect."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(
        nrows, ncols, figsize=figsize, squeeze=False, layout=layout
    )
    for ax in axes.flat:
        ax.set_aspect("equal")
        ax.axis("off")
    return fig, axes.flat[0] if axes.size == 1 else list(axes.flat)


def _frame(ax, left, right, top, bottom):
    """Show ``x`` in ``[left, right]`` and ``y`` in ``[top, bottom]`` with ``y``
    pointing down, so that row 0 is at the top, as an array prints."""
    ax.set_xlim(left, right)
    ax.set_ylim(bottom, top)


def _label(ax, x, y, text, ha="center", va="center", size=SMALL, **style):
    """Text at data point ``(x, y)``."""
    ax.text(x, y, text, ha=ha, va=va, fontsize=size, **style)


def _cell(ax, row, col, origin, role, face="white", text=None, **style):
    """Grid cell ``(row, col)`` of the grid whose top-left corner is ``origin``, with
    ``gid="role:row,col"``. ``style``: ``edge``, ``hatch``, ``lw``, ``zorder``, and
    for the text ``size``, ``weight`` and ``color``."""
    from matplotlib.patches import Rectangle

    x, y, zorder = origin[0] + col, origin[1] + row, style.get("zorder", 1)
    rectangle = Rectangle(
        (x, y), 1, 1, facecolor=face, edgecolor=style.get("edge", "0.35"),
        hatch=style.get("hatch"), linewidth=style.get("lw", 1.0),
        gid=f"{role}:{row},{col}", zorder=zorder,
    )  # fmt: skip
    ax.add_patch(rectangle)
    if text is not None:
        _label(
            ax, x + 0.5, y + 0.5, text, size=style.get("size", FONT),
            fontweight=style.get("weight", "normal"),
            color=style.get("color", "black"), zorder=zorder + 1,
        )  # fmt: skip


def _box(ax, xy, width, height, role, **style):
    """A rectangle with ``gid=role``, an outline unless ``facecolor`` is given."""
    from matplotlib.patches import Rectangle

    style.setdefault("facecolor", "none")
    ax.add_patch(Rectangle(xy, width, height, gid=role, **style))


def _arrow(ax, start, end, colour="0.25", text=None):
    """An arrow from ``start`` to ``end``, optionally labelled above its middle."""
    props = {"arrowstyle": "-|>", "color": colour, "lw": 1.5}
    ax.annotate("", xy=end, xytext=start, arrowprops=props, zorder=30)
    if text is not None:
        x, y = (start[0] + end[0]) / 2, (start[1] + end[1]) / 2 - 0.3
        _label(ax, x, y, text, va="bottom", color=colour)


def _number(value) -> str:
    """``3`` for a whole number, else two significant digits."""
    return str(int(value)) if float(value).is_integer() else f"{value:.2g}"


# ---------------------------------------------------------------------------------
# Padding, stride and dilation


class _Conv(NamedTuple):
    """A window's geometry as checked ``(h, w)`` pairs, and its output size."""

    size: tuple
    kernel: tuple
    stride: tuple
    padding: tuple
    dilation: tuple
    out: tuple


def _conv(size, kernel, stride=1, padding=0, dilation=1) -> _Conv:
    pairs = (
        checks.pair(size, "size"),
        checks.pair(kernel, "kernel"),
        checks.pair(stride, "stride"),
        checks.pair(padding, "padding", allow_zero=True),
        checks.pair(dilation, "dilation"),
    )
    return _Conv(*pairs, conv_output_size(*pairs))


def window_taps(position, kernel, stride=1, dilation=1) -> list[tuple[int, int]]:
    """``(row, col)`` in the **padded** input of each tap of the window under output
    ``position = (i, j)``: ``(i*sh + u*dh, j*sw + v*dw)`` for each kernel offset
    ``(u, v)``, in row-major order."""
    (i, j), (kh, kw) = position, checks.pair(kernel, "kernel")
    (sh, sw), (dh, dw) = (
        checks.pair(stride, "stride"),
        checks.pair(dilation, "dilation"),
    )
    return [(i * sh + u * dh, j * sw + v * dw) for u in range(kh) for v in range(kw)]


def _position(position, out) -> tuple[int, int]:
    """``position`` checked to be an output cell ``(i, j)`` inside ``out``."""
    if not isinstance(position, (tuple, list)) or len(position) != 2:
        raise ValueError(f"position must be a pair (i, j), got {position!r}")
    i, j = (checks.positive_int(v, "position", allow_zero=True) for v in position)
    if i >= out[0] or j >= out[1]:
        raise ValueError(
            f"position {(i, j)} is outside the output of size {out[0]}×{out[1]} "
            f"(rows 0..{out[0] - 1}, columns 0..{out[1] - 1})"
        )
    return i, j


def _formula(g: _Conv, axis: int) -> str:
    n, k, s = g.size[axis], g.kernel[axis], g.stride[axis]
    p, d, out = g.padding[axis], g.dilation[axis], g.out[axis]
    return f"({n} + 2·{p} − {d}·({k} − 1) − 1) // {s} + 1 = {out}"


def _title(g: _Conv) -> str:
    """The output-size formula with the numbers: one line, or one per axis."""
    if all(h == w for h, w in g):
        return f"out = {_formula(g, 0)}"
    return f"H_out = {_formula(g, 0)}\nW_out = {_formula(g, 1)}"


def _draw_input(ax, g: _Conv):
    """The padded input at (0, 0): padding cells grey, hatched and holding 0; an
    orange dot where each window starts."""
    (ph, pw), (h, w) = g.padding, g.size
    for r, c in np.ndindex(h + 2 * ph, w + 2 * pw):
        if ph <= r < ph + h and pw <= c < pw + w:
            _cell(ax, r, c, (0, 0), "input")
        else:
            _cell(
                ax, r, c, (0, 0), "pad", face=PAD_GREY, text="0", hatch="///",
                edge="0.55", color="0.3", size=SMALL,
            )  # fmt: skip
    for i, j in np.ndindex(*g.out):
        r, c = i * g.stride[0], j * g.stride[1]
        ax.plot(
            c + 0.2, r + 0.2, "o", ms=3.5, color=ORANGE, gid=f"start:{i},{j}", zorder=6
        )


def _draw_window(ax, g: _Conv, position, out_origin):
    """The taps under output ``position``, their span, and an arrow to the output."""
    taps = window_taps(position, g.kernel, g.stride, g.dilation)
    for r, c in taps:
        _cell(ax, r, c, (0, 0), "tap", face=TAP, edge=BLUE, lw=1.5, zorder=4)
    (top, left), span = taps[0], [d * (k - 1) + 1 for d, k in zip(g.dilation, g.kernel)]
    _box(
        ax,
        (left, top),
        span[1],
        span[0],
        "span",
        edgecolor=BLUE,
        lw=2.5,
        ls="--",
        zorder=5,
    )
    end = (out_origin[0] + position[1], out_origin[1] + position[0] + 0.5)
    _arrow(ax, (left + span[1], top + span[0] / 2), end, BLUE)


def _draw_output(ax, g: _Conv, position, origin):
    for i, j in np.ndindex(*g.out):
        if (i, j) == position:
            _cell(ax, i, j, origin, "selected", face=SKY, edge=BLUE, lw=1.5, zorder=4)
        else:
            _cell(ax, i, j, origin, "output")


def _draw_sliding(ax, g: _Conv, position, *, labels=True):
    """Input, window and output side by side; returns the drawing's right and bottom
    edges."""
    rows, cols = g.size[0] + 2 * g.padding[0], g.size[1] + 2 * g.padding[1]
    out_origin = (cols + 2.5, (rows - g.out[0]) / 2)
    _draw_input(ax, g)
    _draw_output(ax, g, position, out_origin)
    _draw_window(ax, g, position, out_origin)
    if labels:
        padded = f", padding {g.padding[0]}" if any(g.padding) else ""
        text = f"input {g.size[0]}×{g.size[1]}{padded}"
        _label(ax, cols / 2, -0.3, text, va="bottom", size=FONT)
        x, y = out_origin[0] + g.out[1] / 2, out_origin[1] - 0.3
        _label(ax, x, y, f"output {g.out[0]}×{g.out[1]}", va="bottom", size=FONT)
    return out_origin[0] + g.out[1], rows


def sliding_window(size=5, kernel=3, stride=1, padding=0, dilation=1, position=(0, 0)):
    """One window of a convolution on its input grid, and the output cell it fills.

    Draws the input (``size`` × ``size``; the padding ring grey and hatched, holding
    0s), an orange dot where each window starts (the stride), the kernel's taps under
    output ``position`` in blue (dilation spreads them; the dashed box is the span
    ``d*(k - 1) + 1`` they cover), and beside it the output grid with that cell
    highlighted. The title is the output-size formula with the numbers.

    Args:
        size, kernel, stride, dilation: ints > 0 or ``(h, w)`` pairs.
        padding: zeros added on **each** side, an int >= 0 or a pair.
        position: the output cell ``(i, j)`` whose window is drawn.

    Returns:
        The ``matplotlib.figure.Figure``.

    Raises:
        ValueError: an argument is not a positive int (or pair), the window does not
            fit in the padded input, or ``position`` lies outside the output.
    """
    g = _conv(size, kernel, stride, padding, dilation)
    position = _position(position, g.out)
    fig, ax = _canvas((8, 3.6))
    right, bottom = _draw_sliding(ax, g, position)
    _frame(ax, -0.3, right + 0.3, -1.4, bottom + 0.3)
    ax.set_title(f"{FORMULA}\n{_title(g)}", fontsize=TITLE)
    legend = f"{DOTS}; blue: the taps of output {position}"
    fig.text(0.5, 0.02, legend, ha="center", va="bottom", fontsize=SMALL)
    fig.tight_layout(rect=(0, 0.06, 1, 1))
    return fig


def padding_stride_dilation(size=5, kernel=3):
    """Four convolutions of one ``size`` × ``size`` input with a ``kernel`` window,
    compared 2 × 2: plain, padding 1, stride 2 and dilation 2.

    Each panel draws the last window (the one that decides the output size) and the
    output grid, titled with its output-size formula; all four at one scale. Dots mark
    where each window starts.

    Args:
        size, kernel: ints > 0 (or pairs).

    Returns:
        The ``matplotlib.figure.Figure``.

    Raises:
        ValueError: a bad argument, or a case's window does not fit (dilation 2 needs
            ``size >= 2*kernel - 1``).
    """
    cases = {"plain": {}, "padding 1": {"padding": 1}, "stride 2": {"stride": 2}}
    cases["dilation 2"] = {"dilation": 2}
    geometries = {name: _conv(size, kernel, **case) for name, case in cases.items()}
    fig, axes = _canvas((9, 5.4), ncols=2, nrows=2, layout="constrained")
    edges = []
    for ax, (name, g) in zip(axes, geometries.items()):
        edges.append(_draw_sliding(ax, g, (g.out[0] - 1, g.out[1] - 1), labels=False))
        title = f"{name}: output {g.out[0]}×{g.out[1]}\n{_title(g)}"
        ax.set_title(title, fontsize=FONT)
    right, bottom = np.max(edges, axis=0)
    for ax in axes:  # one scale for all four, so that their cells compare
        _frame(ax, -0.3, right + 0.3, -0.3, bottom + 0.3)
    legend = f"{FORMULA}, p per side; blue: the last window; {DOTS}"
    fig.supxlabel(legend, fontsize=SMALL)
    return fig


# ---------------------------------------------------------------------------------
# Several filters over several channels

CHANNEL_COLOURS = ("#F5C766", "#9BD3F2", LIGHT_GREEN, "#F7EF8F")  # light Okabe-Ito
FILTER_COLOURS = (BLUE, VERMILLION, PURPLE, "black")
STEP = 0.9  # how far each deeper plane of a stack is drawn up and to the right


def _plane(ax, xy, shape, face, role, *, edge="0.35", lw=1.0, zorder=1):
    """One ``shape = (rows, cols)`` plane with its grid, top-left corner at ``xy``."""
    (x, y), (rows, cols) = xy, shape
    style = {"facecolor": face, "edgecolor": edge, "lw": lw, "zorder": zorder}
    _box(ax, (x, y), cols, rows, role, **style)
    grid = {"color": "0.45", "lw": 0.6, "zorder": zorder}
    for r in range(1, rows):
        ax.plot([x, x + cols], [y + r, y + r], **grid)
    for c in range(1, cols):
        ax.plot([x + c, x + c], [y, y + rows], **grid)


def _stack(ax, xy, depth, shape, role, *, edge="0.35", lw=1.0, window=None):
    """``depth`` planes, plane 0 in front at ``xy``, deeper ones up and to the right.
    Each gets ``gid="role:c"``; ``window = (top, left, rows, cols)`` outlines the same
    cells on every plane."""
    for c in reversed(range(depth)):
        x, y, zorder = xy[0] + c * STEP, xy[1] - c * STEP, 10 + 3 * (depth - c)
        face = CHANNEL_COLOURS[c]
        _plane(ax, (x, y), shape, face, f"{role}:{c}", edge=edge, lw=lw, zorder=zorder)
        if role == "input-plane":
            _label(ax, x - 0.15, y + 0.45, f"channel {c}", ha="right")
        if window is not None:
            top, left, rows, cols = window
            outline = {"edgecolor": "black", "lw": 2.2, "zorder": zorder + 1}
            _box(ax, (x + left, y + top), cols, rows, f"{role}-window:{c}", **outline)


def _stack_size(depth, shape):
    """Width and height of a stack of ``depth`` planes of ``shape``."""
    return shape[1] + (depth - 1) * STEP, shape[0] + (depth - 1) * STEP


def _draw_filters(ax, x, tops, c_in, kernel, maps):
    """Filter ``f`` as a stack of ``c_in`` kernel planes, and an arrow to map ``f``
    (``maps``: each map's top-left corner and its shape)."""
    width, height = _stack_size(c_in, kernel)
    for f, top in enumerate(tops):
        colour = FILTER_COLOURS[f]
        front = (x, top + (c_in - 1) * STEP)
        _stack(ax, front, c_in, kernel, f"filter-plane-{f}", edge=colour, lw=2)
        text = f"filter {f}: {(c_in, *kernel)}"
        _label(ax, x + width / 2, top - 0.2, text, va="bottom", color=colour)
        (mx, my), (rows, _) = maps[f]
        start, end = (x + width, top + height / 2), (mx, my + rows / 2)
        _arrow(ax, start, end, colour, text=f"Σ over {c_in}\nchannels")


def _draw_maps(ax, origins, out, window_cell):
    """One output map per filter, the window's output cell filled."""
    for f, (x, y) in enumerate(origins):
        colour = FILTER_COLOURS[f]
        _plane(ax, (x, y), out, "white", f"output-map:{f}", edge=colour, lw=2)
        _cell(ax, *window_cell, (x, y), f"map-{f}", face=colour, zorder=3)
        _label(
            ax, x + out[1] / 2, y - 0.2, f"map {f}: {out}", va="bottom", color=colour
        )


def multichannel_conv(in_channels=3, out_channels=2, size=5, kernel=3):
    """One convolution with ``out_channels`` filters over ``in_channels`` channels.

    Draws the input ``(C_in, H, W)`` as a stack of channel planes, each filter as a
    stack of ``C_in`` kernel planes (plane ``c`` in channel ``c``'s colour), and the
    output as one map per filter, with an arrow from each filter to its map. The
    black squares are one window: the same cells on every channel, and the one output
    cell each filter computes from them. Shapes are labelled in ``(C, H, W)``
    notation; the weight is ``(C_out, C_in, kh, kw)``.

    Args:
        in_channels: 1 to 4 input channels.
        out_channels: 1 to 4 filters.
        size, kernel: the input's and the kernel's spatial size, ints > 0 or pairs.

    Returns:
        The ``matplotlib.figure.Figure``. Raises ``ValueError`` on bad arguments.
    """
    c_in = checks.positive_int(in_channels, "in_channels")
    c_out = checks.positive_int(out_channels, "out_channels")
    for name, value in (("in_channels", c_in), ("out_channels", c_out)):
        if value > len(CHANNEL_COLOURS):
            raise ValueError(f"{name} must be at most 4 to stay readable, got {value}")
    g = _conv(size, kernel)
    fig, ax = _canvas((9, 4.5))
    _draw_multichannel(ax, c_in, c_out, g)
    legend = (
        "black: one window, the same cells in every channel; each filter turns it "
        "into one number of its map"
    )
    fig.text(0.5, 0.02, legend, ha="center", va="bottom", fontsize=SMALL)
    fig.tight_layout(rect=(0, 0.05, 1, 1))
    return fig


def _draw_multichannel(ax, c_in, c_out, g: _Conv):
    """Input stack, filter stacks and output maps, left to right."""
    (in_w, in_h), (f_w, f_h) = _stack_size(c_in, g.size), _stack_size(c_in, g.kernel)
    gap = 1.4  # between two filters
    height = max(in_h, c_out * f_h + (c_out - 1) * gap)
    in_top, fx = (height - in_h) / 2, in_w + 3.2  # fx, mx: filters' and maps' left
    mx = fx + f_w + 3.6
    first = (height - c_out * f_h - (c_out - 1) * gap) / 2
    tops = [first + f * (f_h + gap) for f in range(c_out)]
    maps = [((mx, top + (f_h - g.out[0]) / 2), g.out) for top in tops]
    window = (0, g.size[1] - g.kernel[1], *g.kernel)  # the top-right window
    front = (0, in_top + (c_in - 1) * STEP)
    _stack(ax, front, c_in, g.size, "input-plane", window=window)
    _draw_filters(ax, fx, tops, c_in, g.kernel, maps)
    _draw_maps(ax, [xy for xy, _ in maps], g.out, (0, g.out[1] - 1))
    for top in tops:
        _arrow(ax, (in_w, in_top + in_h / 2), (fx, top + f_h / 2), "0.4")
    shapes = (
        f"input x\n(C_in, H, W)\n= {(c_in, *g.size)}",
        f"weight\n(C_out, C_in, kh, kw)\n= {(c_out, c_in, *g.kernel)}",
        f"output\n(C_out, H_out, W_out)\n= {(c_out, *g.out)}",
    )
    for x, text in zip((in_w / 2, fx + f_w / 2, mx + g.out[1] / 2), shapes):
        _label(ax, x, height + 0.5, text, va="top", size=FONT)
    ax.set_title(
        f"{c_out} filters over {c_in} channels: each filter spans all {c_in} input "
        f"channels and yields 1 output channel",
        fontsize=TITLE,
    )
    _frame(ax, -2.2, mx + g.out[1] + 0.5, -1.0, height + 3.4)


# ---------------------------------------------------------------------------------
# im2col


def im2col(size=4, kernel=3):
    """im2col on a small ``size`` × ``size`` image holding the values 1, 2, 3, ...

    Left: each window (stride 1, no padding) on its own copy of the image, in its own
    colour. Right: the column matrix computed by :func:`cnnlib.ops.im2col.im2col`,
    one row per output position ``(i, j)`` (in that window's colour) and one column
    per kernel tap ``(u, v)``. At most 9 windows (``size - kernel + 1 <= 3``).

    Args:
        size, kernel: ints > 0 (or pairs), ``kernel <= size``.

    Returns:
        The ``matplotlib.figure.Figure``. Raises ``ValueError`` on bad arguments.
    """
    g = _conv(size, kernel)
    windows = g.out[0] * g.out[1]
    if windows > len(WINDOW_COLOURS):
        raise ValueError(
            f"im2col draws at most {len(WINDOW_COLOURS)} windows, but size {size} "
            f"and kernel {kernel} give {g.out[0]}×{g.out[1]} = {windows}"
        )
    image = np.arange(1, g.size[0] * g.size[1] + 1).reshape(g.size)
    fig, ax = _canvas((9, 4.2))
    right = _draw_windows(ax, image, g)
    _draw_matrix(ax, image, g, right + 3.2)
    ax.set_title(
        f"im2col: {windows} windows of a {g.size[0]}×{g.size[1]} image become the "
        f"{windows} rows of a {windows}×{g.kernel[0] * g.kernel[1]} matrix",
        fontsize=TITLE,
    )
    fig.tight_layout()
    return fig


def _draw_windows(ax, image, g: _Conv) -> float:
    """One copy of ``image`` per window, that window filled; returns the right edge."""
    (h, w), (kh, kw) = image.shape, g.kernel
    for i, j in np.ndindex(*g.out):
        origin, window = (j * (w + 1), i * (h + 1)), i * g.out[1] + j
        for r, c in np.ndindex(h, w):
            inside = i <= r < i + kh and j <= c < j + kw
            face = WINDOW_COLOURS[window] if inside else "white"
            role = f"window-{window}" if inside else f"image-{window}"
            text, colour = str(image[r, c]), "black" if inside else "0.5"
            _cell(
                ax, r, c, origin, role, face=face, text=text, size=SMALL, color=colour
            )
        x, y = origin[0] - 0.15, origin[1] + h / 2
        _label(ax, x, y, f"window ({i},{j})", ha="right", rotation=90)
    return g.out[1] * (w + 1) - 1


def _draw_matrix(ax, image, g: _Conv, left):
    """The im2col matrix at ``left``, each row in its window's colour."""
    from .ops.im2col import im2col as im2col_op

    x = image[None, None].astype(np.float64)
    cols = im2col_op(x, g.kernel, g.stride, g.padding, g.dilation, g.out)
    (rows, taps), images_height = cols.shape, g.out[0] * (image.shape[0] + 1) - 1
    top = (images_height - rows) / 2
    for r, c in np.ndindex(rows, taps):
        text, face = _number(cols[r, c]), WINDOW_COLOURS[r]
        _cell(ax, r, c, (left, top), "col", face=face, text=text, size=SMALL)
    for r in range(rows):
        _label(ax, left - 0.2, top + r + 0.5, str(divmod(r, g.out[1])), ha="right")
    for c in range(taps):
        u, v = divmod(c, g.kernel[1])
        _label(ax, left + c + 0.5, top - 0.15, f"{u},{v}", va="bottom")
    middle = left + taps / 2
    text = f"columns: kernel taps (u, v), kh·kw = {taps}"
    _label(ax, middle, top - 1.0, text, va="bottom", size=FONT)
    text = f"rows: output positions (i, j), H_out·W_out = {rows}\n"
    text += f"matrix shape {cols.shape}"
    _label(ax, middle, top + rows + 0.3, text, va="top", size=FONT)
    bottom = max(images_height, top + rows + 2.2) + 0.2
    _frame(ax, -1.0, left + taps + 0.2, min(-0.5, top - 1.2), bottom)


# ---------------------------------------------------------------------------------
# Max pooling: forward picks a winner, backward routes the gradient to it

TIE_EXAMPLE = np.array(
    [[1, 3, 2, 7], [5, 2, 7, 4], [0, 6, 1, 2], [3, 4, 8, 5]], dtype=np.float64
)  # window (0, 1) holds two 7s: row-major order picks (0, 3), column-major (1, 2)
SUBSCRIPTS = str.maketrans("0123456789", "₀₁₂₃₄₅₆₇₈₉")


def _gradient_name(i, j) -> str:
    """``g₀₁`` for output ``(0, 1)``."""
    return f"g{i}{j}".translate(SUBSCRIPTS)


def pool_winners(x, kernel=2, stride=2) -> dict:
    """``{(i, j): (row, col)}``: the input that wins each window of max pooling of
    ``x: (H, W)``, from :func:`cnnlib.loops.max_pool2d_with_indices` (the first
    maximum in row-major order on a tie)."""
    from .loops import max_pool2d_with_indices

    x = checks.real_array(x, "x", 2, "(H, W)")
    _, indices = max_pool2d_with_indices(x[None, None], kernel, stride)
    return {
        (i, j): divmod(int(indices[0, 0, i, j]), x.shape[1])
        for i, j in np.ndindex(*indices.shape[2:])
    }


def max_pool_routing(x=None, kernel=2, stride=2):
    """Max pooling forward and backward on a small ``x: (H, W)``.

    Left to right: ``x`` with each window outlined in its own colour and its maximum
    filled; the pooled output; the upstream gradient ``g_ij``; and ``grad_x``, where
    each ``g_ij`` lands on the one input that won window ``(i, j)`` (0 elsewhere, a
    sum where an input wins several overlapping windows). Winners come from
    :func:`cnnlib.loops.max_pool2d_with_indices`: on a tie the first maximum in
    row-major order wins (torch's rule), and a note under ``x`` names each tie. The
    default ``x`` has a tie in window (0, 1).

    Args:
        x: ``(H, W)`` real numbers, at most 8 × 8; ``None`` for the default 4 × 4.
        kernel, stride: the pooling window and its step, ints > 0 or pairs.

    Returns:
        The ``matplotlib.figure.Figure``. Raises ``ValueError`` on bad arguments.
    """
    x = TIE_EXAMPLE if x is None else checks.real_array(x, "x", 2, "(H, W)")
    if max(x.shape) > 8:
        raise ValueError(f"x must be at most 8×8 to stay readable, got {x.shape}")
    winners = pool_winners(x, kernel, stride)
    g = _conv(x.shape, kernel, stride)
    fig, ax = _canvas((9, 3.3))
    _draw_pooling(ax, x, g, winners)
    fig.tight_layout()
    return fig


def _draw_pooling(ax, x, g: _Conv, winners):
    """x, out, grad_out and grad_x left to right, with arrows between."""
    (h, w), out, gap = x.shape, g.out, 3.0
    widths = (w, out[1], out[1], w)
    lefts = np.cumsum([0, *(width + gap for width in widths[:3])])
    origins = [(lefts[k], 0 if k in (0, 3) else (h - out[0]) / 2) for k in range(4)]
    _draw_pool_input(ax, x, g, winners, origins[0])
    _draw_pool_outputs(ax, x, winners, out, origins[1:3])
    _draw_pool_gradient(ax, x.shape, winners, out, origins[3])
    for k, text in ((0, "max of\neach window"), (2, "to the input\nthat won")):
        start, end = (lefts[k] + widths[k] + 0.2, h / 2), (lefts[k + 1] - 0.2, h / 2)
        _arrow(ax, start, end, text=text)
    titles = ("forward: x", "out", "backward: grad_out", "grad_x")
    for (ox, oy), width, text in zip(origins, widths, titles):
        _label(ax, ox + width / 2, oy - 0.25, text, va="bottom", size=FONT)
    _label(ax, 0, h + 0.35, _tie_note(x, g, winners), ha="left", va="top")
    _frame(ax, -0.3, lefts[3] + w + 0.3, -1.6, h + 1.6)


def _window_colour(i, j, out):
    return WINDOW_COLOURS[(i * out[1] + j) % len(WINDOW_COLOURS)]


def _draw_pool_input(ax, x, g: _Conv, winners, origin):
    """``x``, each window outlined in its colour and its winner filled."""
    won = {rc: ij for ij, rc in sorted(winners.items(), reverse=True)}  # first wins
    for r, c in np.ndindex(*x.shape):
        text = _number(x[r, c])
        if (r, c) in won:
            face = _window_colour(*won[(r, c)], g.out)
            style = {"weight": "bold", "lw": 1.5, "edge": "black", "zorder": 3}
            _cell(ax, r, c, origin, "winner", face=face, text=text, **style)
        else:
            _cell(ax, r, c, origin, "x", text=text, color="0.35")
    for i, j in winners:
        top, left = i * g.stride[0], j * g.stride[1]
        inset = 0.06 + 0.05 * ((i + j) % 2)  # overlapping outlines stay apart
        xy = (origin[0] + left + inset, origin[1] + top + inset)
        size = (g.kernel[1] - 2 * inset, g.kernel[0] - 2 * inset)
        colour = _window_colour(i, j, g.out)
        _box(ax, xy, *size, f"pool-window:{i},{j}", edgecolor=colour, lw=3, zorder=5)


def _draw_pool_outputs(ax, x, winners, out, origins):
    """The pooled values and the upstream gradients, in their windows' colours."""
    for (i, j), (r, c) in winners.items():
        face = _window_colour(i, j, out)
        _cell(ax, i, j, origins[0], "pooled", face=face, text=_number(x[r, c]))
        _cell(ax, i, j, origins[1], "grad_out", face=face, text=_gradient_name(i, j))


def _draw_pool_gradient(ax, shape, winners, out, origin):
    """``grad_x``: each ``g_ij`` on its window's winner (summed), 0 elsewhere."""
    received = {}
    for (i, j), rc in sorted(winners.items()):
        received.setdefault(rc, []).append((i, j))
    for r, c in np.ndindex(*shape):
        if (r, c) in received:
            text = "\n+".join(_gradient_name(*ij) for ij in received[(r, c)])
            face = _window_colour(*received[(r, c)][0], out)
            style = {"weight": "bold", "edge": "black", "lw": 1.5, "zorder": 3}
            _cell(ax, r, c, origin, "grad_x", face=face, text=text, size=SMALL, **style)
        else:
            _cell(ax, r, c, origin, "zero", text="0", color="0.5")


def _tie_note(x, g: _Conv, winners) -> str:
    """Which windows hold a tie, and which of the equal inputs won."""
    notes = []
    for (i, j), (r, c) in sorted(winners.items()):
        rows = range(i * g.stride[0], i * g.stride[0] + g.kernel[0])
        cols = range(j * g.stride[1], j * g.stride[1] + g.kernel[1])
        equal = [(a, b) for a in rows for b in cols if x[a, b] == x[r, c]]
        if len(equal) > 1:
            places = " and ".join(str(p) for p in equal)
            notes.append(
                f"tie in window ({i}, {j}): {_number(x[r, c])} at {places}; the "
                f"first in row-major order, {(r, c)}, wins and gets the gradient"
            )
    return "\n".join(notes) or "no ties: each window has one largest input"


# ---------------------------------------------------------------------------------
# The CONV-RELU-POOL-FC pipeline

CATEGORY = {
    "Conv2d": ("CONV", SKY),
    "ReLU": ("RELU", YELLOW),
    "MaxPool2d": ("POOL", LIGHT_GREEN),
    "AvgPool2d": ("POOL", LIGHT_GREEN),
    "Flatten": ("FLATTEN", PAD_GREY),
    "Linear": ("FC", PURPLE),
}


def lenet():
    """The course's LeNet-style net (chapter 7), its weights from a fixed seed and a
    generator of its own, so that drawing it leaves ``cnnlib.manual_seed``'s
    generator, and so a chapter's later random numbers, untouched."""
    from . import nn

    rng = np.random.default_rng(0)
    return nn.Sequential(
        nn.Conv2d(1, 16, 3, rng=rng), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, rng=rng), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(800, 120, rng=rng), nn.ReLU(),
        nn.Linear(120, 10, rng=rng),
    )  # fmt: skip


def _leaves(module):
    """The layers a Sequential runs, nested Sequentials opened (summary's order)."""
    from .nn import Sequential

    if isinstance(module, Sequential):
        for child in module:
            yield from _leaves(child)
    else:
        yield module


def pipeline_stages(layers=None, input_shape=(1, 28, 28)) -> list:
    """``[(kind, module, shape), ...]``, the input first (``("Input", None,
    input_shape)``), then each layer with the shape of one example (no batch axis)
    after it, found by :func:`cnnlib.summary.summary` running the model on zeros.

    ``layers``: a module, a list of modules, or ``None`` for :func:`lenet`.
    """
    from .nn import Module, Sequential
    from .summary import summary

    if layers is None:
        layers = lenet()
    elif isinstance(layers, (list, tuple)):
        layers = Sequential(*layers)
    elif not isinstance(layers, Module):
        raise ValueError(f"layers must be a Module or a list of them, got {layers!r}")
    if not isinstance(input_shape, (tuple, list)) or not input_shape:
        raise ValueError(f"input_shape must be a tuple (C, H, W), got {input_shape!r}")
    shape = tuple(
        checks.positive_int(n, f"input_shape[{k}]") for k, n in enumerate(input_shape)
    )
    rows = summary(layers, (1, *shape), print_fn=None).layers
    stages = [("Input", None, shape)]
    for row, module in zip(rows, _leaves(layers)):
        stages.append((row.kind, module, tuple(row.output_shape[1:])))
    return stages


def _block_name(kind, module) -> str:
    """``Conv2d 3×3``, ``MaxPool 2×2``, ``Linear 800 →120``, else the class name."""
    size = getattr(module, "kernel_size", None)
    if kind == "Conv2d":
        return f"Conv2d\n{size[0]}×{size[1]}"
    if kind in ("MaxPool2d", "AvgPool2d"):
        return f"{kind[:-2]}\n{size[0]}×{size[1]}"
    if kind == "Linear":
        return f"Linear\n{module.in_features}\n→{module.out_features}"
    return kind


def pipeline(layers=None, input_shape=(1, 28, 28)):
    """The CONV–RELU–POOL–FC pipeline as a row of blocks, with the shape of one
    example after each block.

    The shapes are the model's real ones (see :func:`pipeline_stages`), printed as
    ``(C, H, W)`` tuples without the batch axis ``N``. Above each block is its role:
    CONV, RELU, POOL, FLATTEN or FC.

    Args:
        layers: a :class:`cnnlib.nn.Sequential` (or a list of modules) of at most 12
            layers; ``None`` for the course's LeNet-style net (:func:`lenet`).
        input_shape: one example's shape ``(C, H, W)``.

    Returns:
        The ``matplotlib.figure.Figure``.

    Raises:
        ValueError: ``input_shape`` is not positive ints, a layer refuses the shape
            it gets, or there are more than 12 layers.
    """
    stages = pipeline_stages(layers, input_shape)
    if len(stages) > 13:
        raise ValueError(f"pipeline draws at most 12 layers, got {len(stages) - 1}")
    fig, ax = _canvas((9, 2.4))
    _draw_pipeline(ax, stages)
    fig.tight_layout()
    return fig


def _draw_pipeline(ax, stages):
    """One block per stage, its role above, its shape below (staggered to fit)."""
    width, gap, height = 1.12, 0.36, 1.6
    for k, (kind, module, shape) in enumerate(stages):
        x, middle = k * (width + gap), k * (width + gap) + width / 2
        role, face = CATEGORY.get(kind, (kind.upper(), "white"))
        if module is None:
            role, face, name = "INPUT", "white", "Input"
        else:
            name = _block_name(kind, module)
        style = {"facecolor": face, "edgecolor": "0.25", "lw": 1.2}
        _box(ax, (x, 0), width, height, f"block:{k}", **style)
        _label(ax, middle, height / 2, name)
        _label(ax, middle, -0.15, role, va="bottom", fontweight="bold")
        y = height + 0.2 + 0.45 * (k % 2)
        _label(ax, middle, y, str(shape), va="top", gid=f"shape:{k}")
        if k:
            _arrow(ax, (x - gap, height / 2), (x, height / 2))
    title = "Shape of one example after each layer, (C, H, W); batch axis N left out"
    ax.set_title(title, fontsize=TITLE)
    _frame(ax, -0.1, len(stages) * (width + gap) - gap + 0.1, -0.7, height + 1.0)
