"""cnnlib.nn.Residual: out = block(x) + shortcut(x).

Float64 gradcheck of the input and every parameter; equal to a torch twin (a small
``torch.nn.Module`` with attributes ``block`` and ``shortcut``) in the forward pass, the
input gradient, every parameter gradient and the batch-norm buffers, through the
state_dict, with an identity and with a projection shortcut (1x1 conv + BatchNorm2d,
stride 2), on shapes drawn at random; state_dict round trip; needs_input_grad=False;
accumulation; bad input."""

import numpy as np
import pytest
import torch

from cnnlib import nn
from cnnlib.gradcheck import gradcheck_module
from conftest import assert_no_input_grad_keeps_parameter_grads


class TorchResidual(torch.nn.Module):
    """The torch twin: the same two children, an ``Identity`` for no shortcut."""

    def __init__(self, block, shortcut=None):
        super().__init__()
        self.block = block
        self.shortcut = torch.nn.Identity() if shortcut is None else shortcut

    def forward(self, x):
        return self.block(x) + self.shortcut(x)


def basic_block(c_in, c_out, stride, rng, dtype=np.float64):
    """A ResNet BasicBlock: conv-BN-ReLU-conv-BN, projection shortcut when needed."""
    block = nn.Sequential(
        nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False, rng=rng, dtype=dtype),
        nn.BatchNorm2d(c_out, dtype=dtype), nn.ReLU(),
        nn.Conv2d(c_out, c_out, 3, padding=1, bias=False, rng=rng, dtype=dtype),
        nn.BatchNorm2d(c_out, dtype=dtype),
    )  # fmt: skip
    shortcut = None
    if stride != 1 or c_in != c_out:
        shortcut = nn.Sequential(
            nn.Conv2d(c_in, c_out, 1, stride=stride, bias=False, rng=rng, dtype=dtype),
            nn.BatchNorm2d(c_out, dtype=dtype),
        )
    return nn.Residual(block, shortcut)


def torch_basic_block(c_in, c_out, stride):
    t = torch.nn
    block = t.Sequential(
        t.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False), t.BatchNorm2d(c_out), t.ReLU(),
        t.Conv2d(c_out, c_out, 3, padding=1, bias=False), t.BatchNorm2d(c_out),
    )  # fmt: skip
    shortcut = None
    if stride != 1 or c_in != c_out:
        shortcut = t.Sequential(t.Conv2d(c_in, c_out, 1, stride=stride, bias=False), t.BatchNorm2d(c_out))
    return TorchResidual(block, shortcut).double()


def randomise_batch_norms(model, rng):
    """Batch norms whose scale and shift are not 1 and 0, so that a wrong path shows."""
    for _, module in model.named_modules():
        if isinstance(module, nn.BatchNorm2d):
            module.weight.data[...] = rng.uniform(0.5, 2.0, module.num_features)
            module.bias.data[...] = rng.standard_normal(module.num_features)


def to_torch(state_dict):
    return {k: torch.from_numpy(v) for k, v in state_dict.items()}


def random_case(seed, projection):
    """(c_in, c_out, stride, x shape) drawn from ``seed``."""
    rng = np.random.default_rng(seed)
    c_in = int(rng.integers(1, 5))
    if projection:
        c_out, stride = int(rng.integers(2, 6)), 2
    else:
        c_out, stride = c_in, 1
    shape = (int(rng.integers(2, 5)), c_in, int(rng.integers(4, 10)), int(rng.integers(4, 10)))
    return c_in, c_out, stride, shape


CASES = [(seed, projection) for projection in (False, True) for seed in range(4)]


@pytest.mark.parametrize("seed, projection", CASES[:2] + CASES[4:6])
def test_gradcheck_float64(seed, projection):
    c_in, c_out, stride, shape = random_case(seed, projection)
    rng = np.random.default_rng(100 + seed)
    module = basic_block(c_in, c_out, stride, rng)
    randomise_batch_norms(module, rng)
    errors = gradcheck_module(module, rng.standard_normal(shape))
    assert set(errors) == {"input", *(name for name, _ in module.named_parameters())}
    assert max(errors.values()) <= 1e-7, errors


def test_gradcheck_with_a_plain_block_and_a_plain_shortcut():
    """Not only BasicBlocks: a Linear block with a Linear shortcut, and a ReLU block
    with the identity (no parameters at all)."""
    rng = np.random.default_rng(7)
    dense = nn.Residual(nn.Linear(4, 3, rng=rng, dtype=np.float64), nn.Linear(4, 3, rng=rng, dtype=np.float64))
    errors = gradcheck_module(dense, rng.standard_normal((5, 4)))
    assert set(errors) == {"input", "block.weight", "block.bias", "shortcut.weight", "shortcut.bias"}
    assert max(errors.values()) <= 1e-7, errors
    errors = gradcheck_module(nn.Residual(nn.ReLU()), rng.standard_normal((3, 2, 4, 4)))
    assert errors["input"] <= 1e-7


@pytest.mark.parametrize("train", [True, False])
@pytest.mark.parametrize("seed, projection", CASES)
def test_equals_torch_twin_forward_and_backward(seed, projection, train):
    c_in, c_out, stride, shape = random_case(seed, projection)
    rng = np.random.default_rng(200 + seed)
    module = basic_block(c_in, c_out, stride, rng)
    randomise_batch_norms(module, rng)
    module(rng.standard_normal(shape) * 2 + 1)  # running statistics that are not 0 and 1
    twin = torch_basic_block(c_in, c_out, stride)
    assert list(module.state_dict()) == list(twin.state_dict())
    twin.load_state_dict(to_torch(module.state_dict()))
    module.train(train)
    twin.train(train)
    x = rng.standard_normal(shape)
    out = module(x)
    grad_output = rng.standard_normal(out.shape)
    module.zero_grad()
    grad_x = module.backward(grad_output)
    tx = torch.tensor(x, requires_grad=True)
    t_out = twin(tx)
    t_out.backward(torch.from_numpy(grad_output))
    expected_shape = (shape[0], c_out, (shape[2] - 1) // stride + 1, (shape[3] - 1) // stride + 1)
    assert out.shape == tuple(t_out.shape) == expected_shape
    np.testing.assert_allclose(out, t_out.detach().numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(grad_x, tx.grad.numpy(), rtol=1e-10, atol=1e-12)
    torch_grads = dict(twin.named_parameters())
    assert [name for name, _ in module.named_parameters()] == list(torch_grads)
    for name, parameter in module.named_parameters():
        np.testing.assert_allclose(parameter.grad, torch_grads[name].grad.numpy(), rtol=1e-10, atol=1e-12, err_msg=name)
    for key, value in twin.state_dict().items():  # running statistics updated alike
        np.testing.assert_allclose(module.state_dict()[key], value.numpy(), rtol=1e-12, atol=1e-14, err_msg=key)


def test_state_dict_keys_are_torchs_and_round_trip():
    rng = np.random.default_rng(3)
    module = basic_block(2, 4, 2, rng)
    randomise_batch_norms(module, rng)
    module(rng.standard_normal((3, 2, 6, 6)))
    state = module.state_dict()
    assert list(state)[:2] == ["block.0.weight", "block.1.weight"]
    assert "shortcut.0.weight" in state and "shortcut.1.running_var" in state
    assert list(state) == list(torch_basic_block(2, 4, 2).state_dict())
    other = basic_block(2, 4, 2, np.random.default_rng(4))
    other.load_state_dict(state)
    for key, value in other.state_dict().items():
        np.testing.assert_array_equal(value, state[key], err_msg=key)
    x = rng.standard_normal((2, 2, 6, 6))
    module.eval()
    other.eval()
    np.testing.assert_array_equal(module(x), other(x))
    identity = basic_block(3, 3, 1, rng)
    assert not any(key.startswith("shortcut") for key in identity.state_dict())
    assert identity.shortcut is None and list(identity._modules) == ["block"]


def test_inside_a_sequential_a_small_resnet_equals_torch():
    """Stem, an identity block, a projection block with stride 2, ReLUs after the sums,
    global average pooling and a classifier: the loss and every gradient."""
    rng = np.random.default_rng(11)
    f64 = np.float64
    model = nn.Sequential(
        nn.Conv2d(1, 3, 3, padding=1, rng=rng, dtype=f64), nn.ReLU(),
        basic_block(3, 3, 1, rng), nn.ReLU(),
        basic_block(3, 5, 2, rng), nn.ReLU(),
        nn.AvgPool2d(4), nn.Flatten(), nn.Linear(5, 10, rng=rng, dtype=f64),
    )  # fmt: skip
    t = torch.nn
    twin = t.Sequential(
        t.Conv2d(1, 3, 3, padding=1), t.ReLU(), torch_basic_block(3, 3, 1), t.ReLU(),
        torch_basic_block(3, 5, 2), t.ReLU(), t.AvgPool2d(4), t.Flatten(), t.Linear(5, 10),
    ).double()  # fmt: skip
    twin.load_state_dict(to_torch(model.state_dict()))
    x, y = rng.standard_normal((6, 1, 8, 8)), rng.integers(0, 10, 6)
    loss_fn = nn.CrossEntropyLoss()
    loss = loss_fn(model(x), y)
    grad_x = model.backward(loss_fn.backward())
    tx = torch.tensor(x, requires_grad=True)
    t_loss = torch.nn.functional.cross_entropy(twin(tx), torch.from_numpy(y))
    t_loss.backward()
    assert abs(float(loss) - t_loss.item()) <= 1e-12
    np.testing.assert_allclose(grad_x, tx.grad.numpy(), rtol=1e-10, atol=1e-14)
    for (name, parameter), (t_name, t_parameter) in zip(model.named_parameters(), twin.named_parameters()):
        assert name == t_name
        np.testing.assert_allclose(parameter.grad, t_parameter.grad.numpy(), rtol=1e-10, atol=1e-14, err_msg=name)


@pytest.mark.parametrize("projection", [False, True])
def test_without_input_grad_same_parameter_grads_and_none(projection):
    rng = np.random.default_rng(5)
    module = basic_block(2, 3 if projection else 2, 2 if projection else 1, rng)
    x = rng.standard_normal((2, 2, 6, 6))
    grad_output = rng.standard_normal(module(x).shape)
    assert_no_input_grad_keeps_parameter_grads(module, x, grad_output)


def test_identity_path_adds_grad_output_and_grads_accumulate():
    """With a block whose gradient is zero (a ReLU of negative inputs), the input gradient
    is grad_output itself; a second backward doubles the parameter grads, as in torch."""
    module = nn.Residual(nn.ReLU())
    x = -np.ones((2, 3))
    np.testing.assert_array_equal(module(x), x)  # relu(x) = 0 for x < 0
    grad_output = np.arange(6.0).reshape(2, 3)
    np.testing.assert_array_equal(module.backward(grad_output), grad_output)
    rng = np.random.default_rng(6)
    dense = nn.Residual(nn.Linear(3, 3, rng=rng, dtype=np.float64))
    dense(rng.standard_normal((4, 3)))
    dense.backward(np.ones((4, 3)))
    once = dense.block.weight.grad.copy()
    dense.backward(np.ones((4, 3)))
    np.testing.assert_allclose(dense.block.weight.grad, 2 * once)


def test_forward_does_not_modify_its_input_and_repr_names_the_children():
    rng = np.random.default_rng(8)
    module = basic_block(2, 4, 2, rng)
    x = rng.standard_normal((2, 2, 5, 5))
    copy = x.copy()
    module.backward(np.ones_like(module(x)))
    np.testing.assert_array_equal(x, copy)
    text = repr(module)
    assert text.startswith("Residual(") and "(block): Sequential(" in text
    assert "(shortcut): Sequential(" in text and "kernel_size=(1, 1), stride=(2, 2)" in text


@pytest.mark.parametrize(
    "module, shape, block_shape, shortcut_shape",
    [  # channels change without a projection; stride 2 without one; a wrong projection
        (nn.Residual(nn.Conv2d(3, 4, 3, padding=1)), (2, 3, 6, 6), (2, 4, 6, 6), (2, 3, 6, 6)),
        (nn.Residual(nn.Conv2d(3, 3, 3, stride=2, padding=1)), (2, 3, 6, 6), (2, 3, 3, 3), (2, 3, 6, 6)),
        (nn.Residual(nn.Conv2d(3, 4, 3, stride=2, padding=1), nn.Conv2d(3, 4, 1)), (1, 3, 5, 7), (1, 4, 3, 4), (1, 4, 5, 7)),
    ],
)
def test_shapes_that_differ_raise_a_value_error_naming_both(module, shape, block_shape, shortcut_shape):
    with pytest.raises(ValueError) as error:
        module(np.zeros(shape, np.float32))
    message = str(error.value)
    assert f"block's output has shape {block_shape}" in message
    assert f"shortcut's has shape {shortcut_shape}" in message


@pytest.mark.parametrize("args, words", [((np.maximum,), ["block", "ufunc"]), ((nn.ReLU(), "identity"), ["shortcut", "str"])])
def test_bad_construction_raises_value_error(args, words):
    with pytest.raises(ValueError) as error:
        nn.Residual(*args)
    for word in words:
        assert word in str(error.value)
