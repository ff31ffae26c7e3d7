"""cnnlib.diagrams: each figure draws what the library computes.

The drawn geometry is read back from the figure (each cell's ``gid`` names its role and
place) and compared with oracles that do not share the drawing code: the loops' own
windows, ``conv_output_size``, ``max_pool2d_with_indices`` and torch's pooling indices,
array slicing for im2col, and the model's real shapes for the pipeline.
"""

import io
import subprocess
import sys

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

import cnnlib  # noqa: E402
from cnnlib import diagrams, nn  # noqa: E402
from cnnlib.init import default_generator  # noqa: E402
from cnnlib.loops import max_pool2d_backward, max_pool2d_forward  # noqa: E402
from cnnlib.loops.conv import window  # noqa: E402
from cnnlib.shapes import conv_output_size  # noqa: E402


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def gids(ax):
    """Every ``gid`` of the patches, lines and texts drawn on ``ax``."""
    artists = [*ax.patches, *ax.lines, *ax.texts]
    return [a.get_gid() for a in artists if a.get_gid()]


def cells(ax, role):
    """``[(row, col), ...]`` of the cells drawn with ``gid="role:row,col"``."""
    found = []
    for gid in gids(ax):
        name, _, place = gid.partition(":")
        if name == role:
            found.append(tuple(int(v) for v in place.split(",")))
    return found


def patches(ax, role):
    """``{gid: patch}`` of the patches whose gid is ``role`` or starts ``role:``."""
    return {
        p.get_gid(): p
        for p in ax.patches
        if p.get_gid() and p.get_gid().partition(":")[0] == role
    }


def cell_texts(ax, role):
    """``{(row, col): text}``: the text written inside each ``role`` cell."""
    texts = {tuple(np.round(t.get_position(), 6)): t.get_text() for t in ax.texts}
    found = {}
    for gid, patch in patches(ax, role).items():
        x, y = patch.get_xy()
        place = tuple(int(v) for v in gid.partition(":")[2].split(","))
        found[place] = texts.get(tuple(np.round((x + 0.5, y + 0.5), 6)))
    return found


def all_text(fig):
    texts = [t for ax in fig.axes for t in (*ax.texts, ax.title)] + list(fig.texts)
    return [t for t in texts if t.get_text()]


DEFAULTS = [
    diagrams.sliding_window, diagrams.padding_stride_dilation,
    diagrams.multichannel_conv, diagrams.im2col, diagrams.max_pool_routing,
    diagrams.pipeline,
]  # fmt: skip


@pytest.mark.parametrize("draw", DEFAULTS, ids=lambda f: f.__name__)
def test_each_diagram_is_a_readable_deterministic_figure(draw):
    first, second = io.BytesIO(), io.BytesIO()
    fig = draw()
    assert isinstance(fig, Figure)
    width, height = fig.get_size_inches()
    assert 8 <= width <= 9 and 2.3 <= height <= 5.5  # a ~750 px page column
    assert all(t.get_fontsize() >= 9 for t in all_text(fig))
    fig.savefig(first, format="png", dpi=50)
    draw().savefig(second, format="png", dpi=50)
    assert first.getvalue() == second.getvalue()  # nothing random


def test_importing_the_library_does_not_import_matplotlib():
    code = "import sys, cnnlib, cnnlib.diagrams; print('matplotlib' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "False"


SLIDING_CASES = [
    # size, kernel, stride, padding, dilation, position
    (5, 3, 1, 0, 1, (0, 0)),
    (5, 3, 1, 1, 1, (4, 4)),
    (7, 3, 2, 1, 2, (1, 2)),
    (6, 2, 2, 0, 1, (2, 1)),
    ((5, 7), (3, 2), (1, 2), (1, 0), (2, 1), (2, 2)),
]


@pytest.mark.parametrize(
    "size, kernel, stride, padding, dilation, position", SLIDING_CASES
)
def test_sliding_window_draws_the_loops_window_and_the_output_size(
    size, kernel, stride, padding, dilation, position
):
    fig = diagrams.sliding_window(size, kernel, stride, padding, dilation, position)
    ax = fig.axes[0]
    out = conv_output_size(size, kernel, stride, padding, dilation)
    h_out, w_out = out if isinstance(out, tuple) else (out, out)
    (h, w), (ph, pw) = [v if isinstance(v, tuple) else (v, v) for v in (size, padding)]
    pair = [v if isinstance(v, tuple) else (v, v) for v in (kernel, stride, dilation)]
    rows, cols = window(*position, *pair)  # the loops' own window, in padded coords
    expected = {
        (r, c) for r in range(*rows.indices(10**6)) for c in range(*cols.indices(10**6))
    }
    assert set(cells(ax, "tap")) == expected and len(cells(ax, "tap")) == len(expected)
    assert cells(ax, "selected") == [tuple(position)]
    assert len(cells(ax, "output")) + 1 == h_out * w_out
    assert len(cells(ax, "start")) == h_out * w_out
    assert len(cells(ax, "input")) == h * w
    assert len(cells(ax, "pad")) == (h + 2 * ph) * (w + 2 * pw) - h * w
    assert all(r < h + 2 * ph and c < w + 2 * pw for r, c in expected)
    assert f"= {h_out}" in ax.get_title() and f"= {w_out}" in ax.get_title()


def test_padding_stride_dilation_compares_four_output_sizes():
    fig = diagrams.padding_stride_dilation(5, 3)
    cases = {"plain": {}, "padding 1": {"padding": 1}, "stride 2": {"stride": 2}}
    cases["dilation 2"] = {"dilation": 2}
    assert len(fig.axes) == 4
    for ax, (name, case) in zip(fig.axes, cases.items()):
        out = conv_output_size(5, 3, **case)
        assert ax.get_title().startswith(f"{name}: output {out}×{out}")
        assert ax.get_title().endswith(f"= {out}")
        assert cells(ax, "selected") == [(out - 1, out - 1)]  # the last window
        assert len(cells(ax, "output")) + 1 == out * out
    assert [len(cells(ax, "pad")) for ax in fig.axes] == [0, 7 * 7 - 25, 0, 0]


@pytest.mark.parametrize(
    "kwargs",
    [
        {"kernel": 7},  # does not fit
        {"kernel": 3, "dilation": 3},  # spans 7 > 5
        {"stride": 0},
        {"padding": -1},
        {"size": 2.5},
        {"kernel": (3, 3, 3)},
        {"position": (3, 0)},  # output is 3×3
        {"position": (0,)},
        {"position": (-1, 0)},
    ],
)
def test_sliding_window_refuses_bad_arguments(kwargs):
    with pytest.raises(ValueError):
        diagrams.sliding_window(**kwargs)


def test_padding_stride_dilation_refuses_a_case_that_does_not_fit():
    with pytest.raises(ValueError, match="dilation"):
        diagrams.padding_stride_dilation(size=4, kernel=3)  # dilation 2 spans 5
    with pytest.raises(ValueError):
        diagrams.padding_stride_dilation(size=0)


@pytest.mark.parametrize(
    "c_in, c_out, size, kernel",
    [(3, 2, 5, 3), (1, 1, 4, 2), (4, 4, 6, 3), (2, 3, (5, 6), (3, 2))],
)
def test_multichannel_conv_draws_one_map_per_filter_over_all_channels(
    c_in, c_out, size, kernel
):
    ax = diagrams.multichannel_conv(c_in, c_out, size, kernel).axes[0]
    out = conv_output_size(size, kernel)
    out = out if isinstance(out, tuple) else (out, out)
    size = size if isinstance(size, tuple) else (size, size)
    kernel = kernel if isinstance(kernel, tuple) else (kernel, kernel)
    assert len(patches(ax, "input-plane")) == c_in
    for f in range(c_out):  # every filter has one plane per input channel
        planes = patches(ax, f"filter-plane-{f}")
        assert len(planes) == c_in
        assert all((p.get_height(), p.get_width()) == kernel for p in planes.values())
    maps = patches(ax, "output-map")
    assert len(maps) == c_out
    assert all((p.get_height(), p.get_width()) == out for p in maps.values())
    text = "\n".join(t.get_text() for t in ax.texts)
    assert f"= {(c_in, *size)}" in text
    assert f"= {(c_out, c_in, *kernel)}" in text and f"= {(c_out, *out)}" in text
    assert f"{c_out} filters over {c_in} channels" in ax.get_title()


@pytest.mark.parametrize(
    "kwargs",
    [
        {"in_channels": 0},
        {"in_channels": 5},
        {"out_channels": 5},
        {"out_channels": 2.0},
        {"kernel": 6},
    ],
)
def test_multichannel_conv_refuses_bad_arguments(kwargs):
    with pytest.raises(ValueError):
        diagrams.multichannel_conv(**kwargs)


@pytest.mark.parametrize("size, kernel", [(4, 3), (5, 3), (3, 2), (3, 3), (4, 2)])
def test_im2col_rows_are_the_windows_in_their_colours(size, kernel):
    ax = diagrams.im2col(size, kernel).axes[0]
    image = np.arange(1, size * size + 1).reshape(size, size)
    out = conv_output_size(size, kernel)
    matrix = cell_texts(ax, "col")
    assert max(matrix) == (out * out - 1, kernel * kernel - 1)
    colours, matrix_cells = {}, patches(ax, "col")
    for p in ax.patches:
        name = (p.get_gid() or "").partition(":")[0]
        if name.startswith("window-"):
            colours.setdefault(int(name[7:]), set()).add(p.get_facecolor())
    for i, j in np.ndindex(out, out):
        r = i * out + j
        expected = image[i : i + kernel, j : j + kernel].ravel()
        drawn = [int(matrix[(r, c)]) for c in range(kernel * kernel)]
        assert drawn == expected.tolist()
        assert sorted(cells(ax, f"window-{r}")) == [
            (a, b) for a in range(i, i + kernel) for b in range(j, j + kernel)
        ]
        row_colours = {
            matrix_cells[f"col:{r},{c}"].get_facecolor() for c in range(kernel * kernel)
        }
        assert row_colours == colours[r] and len(row_colours) == 1
    assert len(set().union(*colours.values())) == out * out  # one colour per window


@pytest.mark.parametrize("size, kernel", [(6, 3), (4, 5), (0, 1), (4, 2.0)])
def test_im2col_refuses_bad_arguments(size, kernel):
    with pytest.raises(ValueError):
        diagrams.im2col(size, kernel)


def torch_winners(x, kernel, stride):
    import torch
    import torch.nn.functional as F

    _, indices = F.max_pool2d(
        torch.tensor(x)[None, None], kernel, stride, return_indices=True
    )
    return {
        ij: divmod(int(indices[0, 0][ij]), x.shape[1])
        for ij in np.ndindex(*indices.shape[2:])
    }


def test_max_pool_routing_default_has_a_tie_won_by_the_first_in_row_major_order():
    x = diagrams.TIE_EXAMPLE
    window_01 = x[0:2, 2:4]
    assert (window_01 == window_01.max()).sum() == 2  # the tie the figure is about
    winners = diagrams.pool_winners(x)
    assert winners == torch_winners(x, 2, 2)
    assert winners[(0, 1)] == (0, 3)  # not (1, 2), which column-major order picks
    ax = diagrams.max_pool_routing().axes[0]
    assert sorted(cells(ax, "winner")) == sorted(winners.values())
    assert sorted(cells(ax, "grad_x")) == sorted(winners.values())
    assert cell_texts(ax, "grad_x")[(0, 3)] == "g₀₁"
    assert len(cells(ax, "zero")) == x.size - len(winners)
    assert "(0, 3), wins" in "\n".join(t.get_text() for t in ax.texts)


@pytest.mark.parametrize(
    "x, kernel, stride",
    [
        (diagrams.TIE_EXAMPLE, 2, 2),
        (np.arange(16.0).reshape(4, 4) % 5, 2, 1),  # overlapping windows, ties
        (np.ones((3, 5)), (2, 3), (1, 2)),  # all equal: first of each window wins
        (np.array([[3, 1, 4, 1, 5, 9], [2, 6, 5, 3, 5, 8]]), 2, 2),
    ],
)
def test_max_pool_routing_sends_each_gradient_to_the_winner(x, kernel, stride):
    ax = diagrams.max_pool_routing(x, kernel, stride).axes[0]
    winners = diagrams.pool_winners(x, kernel, stride)
    assert winners == torch_winners(np.asarray(x, dtype=np.float64), kernel, stride)
    out, cache = max_pool2d_forward(np.asarray(x)[None, None], kernel, stride)
    grad_x = max_pool2d_backward(np.ones_like(out), cache)[0, 0]  # gradients per input
    drawn = cell_texts(ax, "grad_x")
    assert {rc: text.count("g") for rc, text in drawn.items()} == {
        tuple(rc): int(grad_x[tuple(rc)]) for rc in np.argwhere(grad_x)
    }
    for (i, j), rc in winners.items():
        assert f"g{i}{j}".translate(diagrams.SUBSCRIPTS) in drawn[rc]
    pooled = cell_texts(ax, "pooled")
    assert {ij: float(v) for ij, v in pooled.items()} == {
        ij: float(out[0, 0][ij]) for ij in np.ndindex(*out.shape[2:])
    }


@pytest.mark.parametrize(
    "x, kernel",
    [
        (np.zeros((9, 4)), 2),  # too big to read
        (np.zeros((1, 4, 4)), 2),  # not (H, W)
        (np.array([["a", "b"], ["c", "d"]]), 2),
        (np.zeros((4, 4)), 5),  # window does not fit
        (np.zeros((4, 4)), 0),
    ],
)
def test_max_pool_routing_refuses_bad_arguments(x, kernel):
    with pytest.raises(ValueError):
        diagrams.max_pool_routing(x, kernel)


def shape_labels(fig):
    ax = fig.axes[0]
    labels = {t.get_gid(): t.get_text() for t in ax.texts if t.get_gid()}
    return [labels[f"shape:{k}"] for k in range(len(labels))]


def test_pipeline_labels_are_the_lenet_real_shapes():
    fig = diagrams.pipeline()
    model = diagrams.lenet()
    x, expected = np.zeros((1, 1, 28, 28), dtype=np.float32), [(1, 28, 28)]
    with cnnlib.no_grad():
        for layer in model:
            x = layer(x)
            expected.append(x.shape[1:])
    assert shape_labels(fig) == [str(tuple(shape)) for shape in expected]
    assert expected[-1] == (10,) and (32, 5, 5) in expected and (800,) in expected
    roles = [t.get_text() for t in fig.axes[0].texts if t.get_fontweight() == "bold"]
    assert roles[:4] == ["INPUT", "CONV", "RELU", "POOL"] and roles[-1] == "FC"


def test_pipeline_of_another_model_and_the_global_generator_untouched():
    cnnlib.manual_seed(3)
    expected_draw = default_generator().random()
    cnnlib.manual_seed(3)
    layers = [
        nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.AvgPool2d(2),
        nn.Sequential(nn.Conv2d(8, 4, 5, stride=2), nn.ReLU()), nn.Flatten(),
    ]  # fmt: skip
    cnnlib.manual_seed(3)
    diagrams.pipeline()  # the default net draws its weights from its own generator
    assert default_generator().random() == expected_draw
    fig = diagrams.pipeline(layers, input_shape=(3, 16, 16))
    assert shape_labels(fig) == [
        "(3, 16, 16)", "(8, 16, 16)", "(8, 16, 16)", "(8, 8, 8)", "(4, 2, 2)",
        "(4, 2, 2)", "(16,)",
    ]  # fmt: skip


@pytest.mark.parametrize(
    "layers, input_shape",
    [
        (None, (1, 2, 2)),  # a 3×3 kernel does not fit
        (None, (3, 28, 28)),  # the first conv wants 1 channel
        (None, (1, 28.0, 28)),
        (None, 28),
        ("conv", (1, 28, 28)),
        ([nn.ReLU()] * 13, (1, 4, 4)),  # too many to draw
    ],
)
def test_pipeline_refuses_bad_arguments(layers, input_shape):
    with pytest.raises(ValueError):
        diagrams.pipeline(layers, input_shape)


def test_window_taps_spread_with_dilation():
    assert diagrams.window_taps((0, 1), 2, stride=2, dilation=3) == [
        (0, 2), (0, 5), (3, 2), (3, 5),
    ]  # fmt: skip
