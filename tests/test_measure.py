"""cnnlib.measure: parameters, multiply-adds and field of view of torch models, each
against a count made another way (by hand, or by following windows back through the
layers)."""

import numpy as np
import pytest
import torch
from torch import nn

from cnnlib.measure import count_macs, count_parameters, field_of_view
from cnnlib.shapes import conv_output_size


def visible_positions(side: int, windows: list[tuple[int, int, int]]) -> set[int]:
    """Input positions (along one axis) that reach some output of a chain of windows
    ``(kernel, stride, padding)``: every output position is kept (a dense head reads
    them all), and each layer's window is followed back, padding positions dropped."""
    sides = [side]
    for k, s, p in windows:
        sides.append(conv_output_size(sides[-1], k, s, p))
    reached = set(range(sides[-1]))
    for (k, s, p), n in zip(reversed(windows), reversed(sides[:-1])):
        reached = {o * s - p + j for o in reached for j in range(k)}
        reached = {i for i in reached if 0 <= i < n}
    return reached


def chain(windows, kinds, channels=4):
    layers, c = [], 1
    for (k, s, p), kind in zip(windows, kinds):
        if kind == "conv":
            layers += [nn.Conv2d(c, channels, k, stride=s, padding=p), nn.ReLU()]
            c = channels
        else:
            layers.append(nn.MaxPool2d(k, stride=s, padding=p))
    return nn.Sequential(*layers, nn.Flatten(), nn.LazyLinear(3))


def random_chain(rng):
    """A chain of 2 to 4 convolutions and poolings whose sizes all fit, on a square
    input of 9 to 30 pixels, starting with a convolution: ``(side, windows, kinds)``.
    Strides above 1 are common, so that many chains leave pixels unseen."""
    while True:
        side = int(rng.integers(9, 31))
        windows, kinds, n = [], [], side
        for _ in range(int(rng.integers(2, 5))):
            kind = "conv" if rng.random() < 0.55 or not kinds else "pool"
            k = int(rng.choice([1, 2, 3, 5]))
            s = int(rng.choice([1, 2, 2, 3]))
            p = int(rng.integers(0, k // 2 + 1))
            if n + 2 * p < k:
                break
            windows.append((k, s, p))
            kinds.append(kind)
            n = conv_output_size(n, k, s, p)
        if len(windows) >= 2:
            return side, windows, kinds


@pytest.mark.parametrize("seed", range(12))
def test_field_of_view_matches_windows_followed_back(seed):
    rng = np.random.default_rng(1000 + seed)
    side, windows, kinds = random_chain(rng)
    torch.manual_seed(seed)
    model = chain(windows, kinds)
    model(torch.zeros(1, 1, side, side))  # sizes the lazy head
    expected = sorted(visible_positions(side, windows))
    seen = field_of_view(model, (1, side, side), images=32)
    assert seen.shape == (side, side)
    rows, cols = np.nonzero(seen.any(axis=1))[0], np.nonzero(seen.any(axis=0))[0]
    assert rows.tolist() == expected, (side, windows, kinds)
    assert cols.tolist() == expected
    # The field is the product of the two axes' positions: a square, or a grid.
    assert (seen == np.outer(seen.any(axis=1), seen.any(axis=0))).all()


def test_the_keras_tutorial_network_sees_rows_and_columns_0_to_21():
    torch.manual_seed(0)
    keras_style = nn.Sequential(
        nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(64, 128, 3), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(128, 128), nn.ReLU(), nn.Linear(128, 10))  # fmt: skip
    seen = field_of_view(keras_style)
    assert seen[:22, :22].all() and not seen[22:].any() and not seen[:, 22:].any()


def test_field_of_view_leaves_the_model_as_it_was():
    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2), nn.Dropout(0.5), nn.Flatten(),
        nn.Linear(2 * 6 * 6, 2))  # fmt: skip
    before = {k: v.clone() for k, v in model.state_dict().items()}
    model.train()
    seen = field_of_view(model, (1, 8, 8))
    assert seen.all()
    assert model.training
    assert all(p.grad is None for p in model.parameters())
    after = model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)  # running stats too


def test_counts_of_a_nested_model_match_the_formulas():
    torch.manual_seed(0)
    block = nn.Sequential(nn.Conv2d(8, 8, 3, padding=1, groups=2), nn.ReLU())
    model = nn.Sequential(
        nn.Conv2d(3, 8, 5, stride=2), nn.ReLU(), block, nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(8 * 3 * 3, 7), nn.Linear(7, 2, bias=False))  # fmt: skip
    side = conv_output_size(17, 5, 2)  # 7, pooled to 3
    assert count_parameters(model) == (
        8 * 3 * 25 + 8 + 8 * 4 * 9 + 8 + 72 * 7 + 7 + 7 * 2
    )
    assert count_macs(model, (3, 17, 17)) == (
        side * side * 8 * 3 * 25 + side * side * 8 * 4 * 9 + 72 * 7 + 7 * 2
    )
    assert not any(m._forward_hooks for m in model.modules())


@pytest.mark.parametrize("bad", [(28, 28), (1, 28, 0), (1, 28.0, 28), "1x28x28"])
def test_bad_input_shape_is_refused_with_its_name(bad):
    model = nn.Sequential(nn.Conv2d(1, 1, 3))
    for measure in (count_macs, field_of_view):
        with pytest.raises(ValueError, match="input_shape"):
            measure(model, bad)
