"""cnnlib.summary: the layer table of the course's LeNet-style net agrees with torch (shapes, counts, 102,130)."""

import numpy as np
import pytest
import torch

from cnnlib import nn
from cnnlib.summary import summary
from conftest import lenet, torch_lenet


def test_lenet_summary_matches_torch():
    model, reference = lenet(), torch_lenet()
    lines = []
    result = summary(model, (2, 1, 28, 28), print_fn=lines.append)
    x = torch.zeros(2, 1, 28, 28)
    for row, (name, layer) in zip(result.layers, reference.named_children()):
        x = layer(x)
        assert row.name == name and row.kind == type(layer).__name__
        assert row.output_shape == tuple(x.shape)
        assert row.num_params == sum(p.numel() for p in layer.parameters())
    assert len(result.layers) == len(reference)
    assert result.total_params == sum(p.numel() for p in reference.parameters()) == 102_130
    text = lines[0]
    assert "Total params: 102,130" in text and "(2, 32, 5, 5)" in text and "96,120" in text


def test_nested_sequential_gets_dotted_names_and_print_goes_to_stdout(capsys):
    model = nn.Sequential(nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU()), nn.Flatten(), nn.Linear(4 * 5 * 5, 2))
    result = summary(model, (1, 3, 5, 5))
    assert [row.name for row in result.layers] == ["0.0", "0.1", "1", "2"]
    assert result.total_params == 4 * 3 * 9 + 4 + 100 * 2 + 2
    assert "0.0 (Conv2d)" in capsys.readouterr().out
    assert all(layer._cache is None for layer in (model[0][0], model[2]))  # runs under no_grad


@pytest.mark.parametrize("shape, words", [((1, 28, 28), ["layer 0 (Conv2d)", "(1, 28, 28)"]), ((1, 3, 28, 28), ["layer 0", "channels"]), ((1, 1, 28.0, 28), ["input_shape[2]"]), (28, ["input_shape"])])
def test_bad_input_shape(shape, words):
    model = nn.Sequential(nn.Conv2d(1, 4, 3))
    with pytest.raises(ValueError) as error:
        summary(model, shape, print_fn=None)
    for word in words:
        assert word in str(error.value)
