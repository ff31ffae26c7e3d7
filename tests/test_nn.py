"""cnnlib.nn: layers and Sequential against torch.nn -- state_dict keys and shapes, weights loaded into
torch, a whole model's loss and every parameter gradient against autograd, per-layer gradcheck, torch's
default init distributions, the one-slot cache, no_grad, train/eval, bad input."""

import numpy as np
import pytest
import torch

from cnnlib import init, nn
from cnnlib.gradcheck import gradcheck_module
from conftest import assert_no_input_grad_keeps_parameter_grads, torch_lenet
import conftest


def lenet(dtype=np.float32, rng=None):
    return conftest.lenet(rng, dtype)


def odd_model(dtype=np.float64, rng=None):
    """Padding, stride, dilation, non-square kernels, no bias, overlapping pools, average pooling."""
    return nn.Sequential(
        nn.Conv2d(3, 4, (3, 2), stride=(1, 2), padding=(1, 2), rng=rng, dtype=dtype), nn.ReLU(),
        nn.MaxPool2d(3, stride=2, padding=1),
        nn.Conv2d(4, 5, 2, dilation=2, bias=False, rng=rng, dtype=dtype), nn.ReLU(),
        nn.AvgPool2d(2, stride=1, padding=1),
        nn.Flatten(), nn.Linear(5 * 4 * 2, 6, rng=rng, dtype=dtype),
    )  # fmt: skip


def torch_odd_model():
    t = torch.nn
    return t.Sequential(
        t.Conv2d(3, 4, (3, 2), stride=(1, 2), padding=(1, 2)), t.ReLU(), t.MaxPool2d(3, stride=2, padding=1),
        t.Conv2d(4, 5, 2, dilation=2, bias=False), t.ReLU(), t.AvgPool2d(2, stride=1, padding=1),
        t.Flatten(), t.Linear(5 * 4 * 2, 6),
    ).double()  # fmt: skip


def to_torch(state_dict):
    return {k: torch.from_numpy(v) for k, v in state_dict.items()}


def test_lenet_state_dict_matches_torch_and_loads_as_it_stands():
    model, reference = lenet(rng=np.random.default_rng(0)), torch_lenet()
    state = model.state_dict()
    assert list(state) == list(reference.state_dict())
    assert {k: v.shape for k, v in state.items()} == {k: tuple(v.shape) for k, v in reference.state_dict().items()}
    assert sum(p.size for p in model.parameters()) == sum(p.numel() for p in reference.parameters()) == 102_130
    reference.load_state_dict(to_torch(model.state_dict()))
    x = np.random.default_rng(1).random((3, 1, 28, 28), dtype=np.float32)
    expected = reference(torch.from_numpy(x)).detach().numpy()
    assert np.abs(model(x) - expected).max() <= 1e-5 * np.abs(expected).max()


@pytest.mark.parametrize("dtype, tolerance", [(np.float64, 1e-10), (np.float32, 2e-4)])
def test_whole_model_loss_and_every_gradient_equal_torch_autograd(dtype, tolerance):
    model, reference = lenet(dtype, np.random.default_rng(2)), torch_lenet()
    if dtype == np.float64:
        reference.double()
    reference.load_state_dict(to_torch(model.state_dict()))
    rng = np.random.default_rng(3)
    x, y = rng.random((16, 1, 28, 28)).astype(dtype), rng.integers(0, 10, 16)
    loss_fn = nn.CrossEntropyLoss()
    model.zero_grad()
    loss = loss_fn(model(x), y)
    grad_x = model.backward(loss_fn.backward())
    tx = torch.tensor(x, requires_grad=True)
    t_loss = torch.nn.functional.cross_entropy(reference(tx), torch.from_numpy(y))
    t_loss.backward()
    assert abs(float(loss) - t_loss.item()) <= tolerance * abs(t_loss.item())
    assert np.abs(grad_x - tx.grad.numpy()).max() <= tolerance * np.abs(tx.grad.numpy()).max()
    torch_grads = {name: p.grad.numpy() for name, p in reference.named_parameters()}
    assert [name for name, _ in model.named_parameters()] == list(torch_grads)
    for name, parameter in model.named_parameters():
        assert np.abs(parameter.grad - torch_grads[name]).max() <= tolerance * np.abs(torch_grads[name]).max(), name


def test_odd_model_matches_torch_autograd():
    model, reference = odd_model(rng=np.random.default_rng(4)), torch_odd_model()
    assert list(model.state_dict()) == list(reference.state_dict())
    reference.load_state_dict(to_torch(model.state_dict()))
    x = np.random.default_rng(5).standard_normal((2, 3, 9, 8))
    out = model(x)
    grad_output = np.random.default_rng(6).standard_normal(out.shape)
    model.zero_grad()
    grad_x = model.backward(grad_output)
    tx = torch.tensor(x, requires_grad=True)
    t_out = reference(tx)
    t_out.backward(torch.from_numpy(grad_output))
    np.testing.assert_allclose(out, t_out.detach().numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(grad_x, tx.grad.numpy(), rtol=1e-10, atol=1e-12)
    for (name, parameter), (t_name, t_parameter) in zip(model.named_parameters(), reference.named_parameters()):
        assert name == t_name
        np.testing.assert_allclose(parameter.grad, t_parameter.grad.numpy(), rtol=1e-10, atol=1e-12)


class Spy(nn.Module):
    """A parameter-free layer that records the ``needs_input_grad`` of each backward call."""

    def __init__(self):
        super().__init__()
        self.calls = []

    def forward(self, x):
        return x

    def backward(self, grad_output, needs_input_grad=True):
        self.calls.append(needs_input_grad)
        return grad_output if needs_input_grad else None


@pytest.mark.parametrize("build, x_shape", [(lambda: lenet(np.float64, np.random.default_rng(2)), (2, 1, 28, 28)),
                                            (lambda: odd_model(rng=np.random.default_rng(4)), (2, 3, 9, 8))])
def test_backward_without_input_grad_gives_the_same_parameter_grads_and_none(build, x_shape):
    model = build()
    x = np.random.default_rng(5).standard_normal(x_shape)
    grad_output = np.random.default_rng(6).standard_normal(model(x).shape)
    assert_no_input_grad_keeps_parameter_grads(model, x, grad_output)


def test_sequential_skips_only_what_the_input_gradient_alone_needs():
    rng = np.random.default_rng(7)
    before, between, after = Spy(), Spy(), Spy()
    model = nn.Sequential(before, nn.Linear(3, 4, rng=rng, dtype=np.float64), between, nn.Linear(4, 2, rng=rng, dtype=np.float64), after)
    x = rng.standard_normal((5, 3))
    model(x)
    assert model.backward(np.ones((5, 2)), needs_input_grad=False) is None
    # the first Linear still gets its weight gradient, but nothing below it runs
    assert (before.calls, between.calls, after.calls) == ([], [True], [True])
    assert np.abs(model[1].weight.grad).sum() > 0
    model(x)
    assert model.backward(np.ones((5, 2))).shape == (5, 3)
    assert before.calls == [True]
    parameter_free = nn.Sequential(Spy(), nn.ReLU())
    parameter_free(x)
    assert parameter_free.backward(np.ones((5, 3)), needs_input_grad=False) is None and parameter_free[0].calls == []


@pytest.mark.parametrize("layer", [nn.Conv2d(2, 3, 3, rng=np.random.default_rng(0), dtype=np.float64), nn.Linear(4, 3, rng=np.random.default_rng(0), dtype=np.float64)])
def test_layer_without_input_grad_returns_none_and_the_same_parameter_grads(layer):
    x = np.random.default_rng(1).standard_normal((2, 2, 5, 5) if isinstance(layer, nn.Conv2d) else (2, 4))
    grad_output = np.random.default_rng(2).standard_normal(layer(x).shape)
    assert_no_input_grad_keeps_parameter_grads(layer, x, grad_output)


@pytest.mark.parametrize(
    "layer, x_shape",
    [
        (lambda rng: nn.Conv2d(2, 3, (3, 2), stride=2, padding=1, dilation=(1, 2), rng=rng, dtype=np.float64), (2, 2, 7, 8)),
        (lambda rng: nn.Conv2d(3, 2, 1, bias=False, rng=rng, dtype=np.float64), (1, 3, 4, 5)),
        (lambda rng: nn.Linear(6, 4, rng=rng, dtype=np.float64), (3, 6)),
        (lambda rng: nn.MaxPool2d(3, stride=2, padding=1), (2, 2, 7, 7)),
        (lambda rng: nn.AvgPool2d((3, 2), stride=1, padding=1), (2, 2, 5, 6)),
        (lambda rng: nn.ReLU(), (2, 3, 4, 4)),
        (lambda rng: nn.Flatten(), (2, 3, 4, 4)),
        (lambda rng: odd_model(rng=rng), (2, 3, 9, 8)),
    ],
)
def test_gradcheck_every_layer_float64(layer, x_shape):
    rng = np.random.default_rng(7)
    module = layer(rng)
    x = rng.standard_normal(x_shape)
    errors = gradcheck_module(module, x)
    assert set(errors) == {"input", *(name for name, _ in module.named_parameters())}
    assert max(errors.values()) <= 1e-7, errors


def test_default_init_follows_torch_distributions():
    """Both libraries draw weights and biases from U(-1/sqrt(fan_in), 1/sqrt(fan_in)): check torch's samples
    and ours against that bound and the uniform's standard deviation bound / sqrt(3)."""
    torch.manual_seed(0)
    init.manual_seed(0)
    conv, linear = nn.Conv2d(16, 32, 3), nn.Linear(800, 120)
    for layer, reference, fan_in in ((conv, torch.nn.Conv2d(16, 32, 3), 16 * 9), (linear, torch.nn.Linear(800, 120), 800)):
        bound = 1 / np.sqrt(fan_in)
        for name, parameter in layer.named_parameters():
            t_values = dict(reference.named_parameters())[name].detach().numpy()
            assert parameter.data.dtype == np.float32 and parameter.shape == t_values.shape
            for values in (t_values, parameter.data):
                assert np.abs(values).max() <= bound and np.abs(values).max() >= 0.5 * bound
                if name == "weight":  # thousands of samples: the spread is pinned down
                    assert np.abs(values).max() >= 0.97 * bound
                    assert abs(values.mean()) < 0.05 * bound
                    assert abs(values.std() - bound / np.sqrt(3)) < 0.05 * bound / np.sqrt(3)
    init.manual_seed(0)
    again = nn.Conv2d(16, 32, 3)
    np.testing.assert_array_equal(again.weight.data, conv.weight.data)


def test_cache_is_one_slot_and_backward_accumulates_like_torch():
    layer = nn.Linear(3, 2, rng=np.random.default_rng(8), dtype=np.float64)
    x1, x2 = np.ones((4, 3)), np.full((5, 3), 2.0)
    layer(x1)
    layer(x2)  # overwrites the cache: backward differentiates the last forward pass
    layer.backward(np.ones((5, 2)))
    np.testing.assert_allclose(layer.weight.grad, np.full((2, 3), 10.0))
    layer(x2)
    layer.backward(np.ones((5, 2)))
    np.testing.assert_allclose(layer.weight.grad, np.full((2, 3), 20.0))
    layer.zero_grad()
    np.testing.assert_array_equal(layer.weight.grad, 0.0)


def test_no_grad_keeps_no_cache_and_train_eval_flags():
    model = lenet(rng=np.random.default_rng(9))
    x = np.zeros((2, 1, 28, 28), np.float32)
    with nn.no_grad():
        out = model(x)
    assert out.shape == (2, 10) and all(layer._cache is None for layer in model)
    with pytest.raises(RuntimeError, match="forward"):
        model.backward(np.ones((2, 10), np.float32))
    assert model.eval() is model and not any(m.training for _, m in model.named_modules())
    model.train()
    assert all(m.training for _, m in model.named_modules())


def test_forward_does_not_modify_input_and_repr_names_layers():
    model = odd_model(rng=np.random.default_rng(10))
    x = np.random.default_rng(11).standard_normal((2, 3, 9, 8))
    copy = x.copy()
    out = model(x)
    model.backward(np.ones_like(out))
    np.testing.assert_array_equal(x, copy)
    text = repr(model)
    assert "(0): Conv2d(3, 4, kernel_size=(3, 2), stride=(1, 2), padding=(1, 2))" in text
    assert "bias=False" in text and "(7): Linear(in_features=40, out_features=6, bias=True)" in text


def test_load_state_dict_checks_keys_and_shapes_and_copies():
    model = lenet(rng=np.random.default_rng(12))
    state = model.state_dict()
    other = lenet(rng=np.random.default_rng(13))
    other.load_state_dict(state)
    for name, parameter in other.named_parameters():
        np.testing.assert_array_equal(parameter.data, state[name])
        assert not np.shares_memory(parameter.data, state[name])
    with pytest.raises(ValueError, match=r"missing keys \['9.bias'\]"):
        other.load_state_dict({k: v for k, v in state.items() if k != "9.bias"})
    with pytest.raises(ValueError, match=r"unexpected keys \['10.weight'\]"):
        other.load_state_dict({**state, "10.weight": np.zeros(1)})
    bad = {**state, "0.weight": np.zeros((16, 1, 5, 5), np.float32)}
    with pytest.raises(ValueError, match=r"'0.weight'.*\(16, 1, 5, 5\).*\(16, 1, 3, 3\)"):
        other.load_state_dict(bad)
    # a torch state_dict loads too
    reference = torch_lenet()
    other.load_state_dict(reference.state_dict())
    np.testing.assert_array_equal(other[0].weight.data, reference[0].weight.detach().numpy())


def test_to_double_converts_parameters():
    model = lenet(rng=np.random.default_rng(14)).double()
    assert all(p.dtype == np.float64 and p.grad.dtype == np.float64 for p in model.parameters())
    assert model(np.zeros((1, 1, 28, 28))).dtype == np.float64


@pytest.mark.parametrize(
    "build, words",
    [
        (lambda: nn.Conv2d(1, 0, 3), ["out_channels"]),
        (lambda: nn.Conv2d(1, 4, (3, 3, 3)), ["kernel_size"]),
        (lambda: nn.Linear(2.5, 3), ["in_features"]),
        (lambda: nn.MaxPool2d(2, stride=0), ["stride"]),
        (lambda: nn.Sequential(nn.ReLU(), np.maximum), ["Sequential", "argument 1"]),
        (lambda: nn.Conv2d(1, 4, 3, dtype=np.int32), ["dtype"]),
    ],
)
def test_bad_construction_raises_value_error(build, words):
    with pytest.raises(ValueError) as error:
        build()
    for word in words:
        assert word in str(error.value)


def test_channel_mismatch_in_a_model_names_the_shapes():
    with pytest.raises(ValueError, match=r"3 channels.*\(2, 3, 28, 28\).*\(16, 1, 3, 3\)"):
        lenet()(np.zeros((2, 3, 28, 28), np.float32))
