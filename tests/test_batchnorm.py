"""Batch normalisation (cnnlib.ops.batchnorm, cnnlib.nn.BatchNorm1d/2d) against torch.

Random shapes and settings run through cnnlib and torch side by side for several
training steps and then in evaluation: outputs, every gradient, the running statistics
and num_batches_tracked must agree (float64: 1e-10 relative; float32: 1e-5). The
backward is gradchecked in float64 (threshold 1e-7), state_dicts travel to torch and
back as they stand, and the module buffers behave as torch's.
"""

import numpy as np
import pytest
import torch

import cnnlib
from cnnlib import functional as F
from cnnlib import nn
from cnnlib.gradcheck import gradcheck, gradcheck_module
from conftest import assert_no_input_grad_keeps_parameter_grads

TOLERANCE = {np.float64: 1e-10, np.float32: 1e-5}


def to_torch(state_dict):
    return {k: torch.from_numpy(v) for k, v in state_dict.items()}


def assert_close(ours, theirs, dtype, what=""):
    theirs = theirs.detach().numpy() if isinstance(theirs, torch.Tensor) else theirs
    assert ours.shape == theirs.shape, what
    scale = max(np.abs(theirs).max(), 1.0)
    error = np.abs(ours - theirs).max() / scale
    assert error <= TOLERANCE[dtype], f"{what}: relative error {error:.2e}"


def random_cases(count, seed):
    """(shape, momentum, affine, track_running_stats, bias) drawn at random."""
    rng = np.random.default_rng(seed)
    cases = []
    for _ in range(count):
        ndim = int(rng.choice([2, 3, 4]))
        n, c = int(rng.integers(1, 6)), int(rng.integers(1, 7))
        rest = tuple(int(v) for v in rng.integers(1, 6, size=ndim - 2))
        if n * int(np.prod(rest)) < 2:  # training needs > 1 value per channel
            n = 2
        momentum = [0.1, None, float(rng.uniform(0.01, 0.9))][int(rng.integers(0, 3))]
        affine, track, bias = (bool(b) for b in rng.integers(0, 2, size=3))
        cases.append(((n, c, *rest), momentum, affine, track, bias))
    return cases


def layer_pair(shape, momentum, affine, track, bias, dtype, eps=1e-5):
    kind = "BatchNorm2d" if len(shape) == 4 else "BatchNorm1d"
    ours = getattr(nn, kind)(shape[1], eps, momentum, affine, track, bias=bias, dtype=dtype)
    theirs = getattr(torch.nn, kind)(shape[1], eps, momentum, affine, track, bias=bias)
    if dtype == np.float64:
        theirs.double()
    return ours, theirs


def step_both(ours, theirs, x, grad_output, dtype):
    """One forward and backward in both libraries; assert every result equal."""
    ours.zero_grad()
    theirs.zero_grad()
    out = ours(x)
    grad_x = ours.backward(grad_output)
    tx = torch.tensor(x, requires_grad=True)
    t_out = theirs(tx)
    t_out.backward(torch.from_numpy(grad_output))
    assert_close(out, t_out, dtype, "output")
    assert_close(grad_x, tx.grad, dtype, "grad_x")
    for name, parameter in ours.named_parameters():
        t_grad = dict(theirs.named_parameters())[name].grad
        assert_close(parameter.grad, t_grad, dtype, f"grad of {name}")
    assert_buffers_equal(ours, theirs, dtype)


def assert_buffers_equal(ours, theirs, dtype):
    t_state = theirs.state_dict()
    assert list(ours.state_dict()) == list(t_state)
    for name, value in ours.state_dict().items():
        if name == "num_batches_tracked":
            assert value.dtype == np.int64 and int(value) == int(t_state[name])
        else:
            assert_close(value, t_state[name], dtype, name)


FIXED_CASES = [  # the defaults in both layers, and the cumulative average tracked
    ((8, 3, 4, 4), 0.1, True, True, True),
    ((6, 5), 0.1, True, True, True),
    ((5, 3, 4, 4), None, True, True, True),
    ((3, 2, 7), None, False, True, True),
]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("case", FIXED_CASES + random_cases(12, seed=0), ids=str)
def test_layer_equals_torch_in_training_then_evaluation(case, dtype):
    shape, momentum, affine, track, bias = case
    ours, theirs = layer_pair(shape, momentum, affine, track, bias, dtype)
    rng = np.random.default_rng(1)
    for parameter in ours.parameters():  # start from weights not ones and zeros
        parameter.data[...] = rng.uniform(0.5, 2.0, shape[1])
    theirs.load_state_dict(to_torch(ours.state_dict()))
    for _ in range(4):  # several steps: the running statistics accumulate
        x = (rng.standard_normal(shape) * rng.uniform(0.5, 3) + rng.normal()).astype(dtype)
        step_both(ours, theirs, x, rng.standard_normal(shape).astype(dtype), dtype)
    ours.eval()
    theirs.eval()
    x = rng.standard_normal((1, *shape[1:])).astype(dtype)  # batch 1 is fine in eval
    if not track:
        x = rng.standard_normal(shape).astype(dtype)  # eval uses the batch's statistics
    step_both(ours, theirs, x, rng.standard_normal(x.shape).astype(dtype), dtype)


def test_functional_batch_norm_equals_torch_and_updates_running_stats_in_place():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((6, 3, 4, 5)) * 2 + 1
    weight, bias = rng.standard_normal(3), rng.standard_normal(3)
    running_mean, running_var = rng.standard_normal(3), rng.uniform(0.5, 2, 3)
    t_mean, t_var = torch.tensor(running_mean), torch.tensor(running_var)
    keep = [a.copy() for a in (x, weight, bias)]
    out = F.batch_norm(x, running_mean, running_var, weight, bias, True, 0.3, 1e-3)
    t_out = torch.nn.functional.batch_norm(
        torch.tensor(x), t_mean, t_var, torch.tensor(weight), torch.tensor(bias),
        True, 0.3, 1e-3,
    )  # fmt: skip
    assert_close(out, t_out, np.float64, "training")
    assert_close(running_mean, t_mean, np.float64, "running_mean")
    assert_close(running_var, t_var, np.float64, "running_var (unbiased)")
    for before, after in zip(keep, (x, weight, bias)):
        np.testing.assert_array_equal(before, after)
    out = F.batch_norm(x, running_mean, running_var, weight, bias, False)
    t_out = torch.nn.functional.batch_norm(
        torch.tensor(x), t_mean, t_var, torch.tensor(weight), torch.tensor(bias), False
    )
    assert_close(out, t_out, np.float64, "evaluation")


@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("shape", [(5, 3), (3, 2, 4), (2, 3, 3, 4), (4, 1, 1, 1)])
@pytest.mark.parametrize("affine", [True, False])
def test_backward_passes_gradcheck_float64(shape, training, affine):
    rng = np.random.default_rng(3)
    c = shape[1]
    x = rng.standard_normal(shape) * 2 + 0.5
    running = (rng.standard_normal(c), rng.uniform(0.5, 2.0, c))

    def forward(x, weight=None, bias=None):
        mean, var = running[0].copy(), running[1].copy()  # updated in place in training
        return F.batch_norm_forward(x, mean, var, weight, bias, training, 0.1, 1e-5)

    inputs = (x, rng.uniform(0.5, 2.0, c), rng.standard_normal(c)) if affine else (x,)
    errors = gradcheck(forward, F.batch_norm_backward, inputs)
    assert max(errors) <= 1e-7, errors


@pytest.mark.parametrize("train", [True, False])
def test_layers_pass_gradcheck_module(train):
    rng = np.random.default_rng(4)
    for layer, shape in ((nn.BatchNorm2d(3, dtype=np.float64), (4, 3, 3, 2)),
                         (nn.BatchNorm1d(5, momentum=None, dtype=np.float64), (6, 5))):  # fmt: skip
        layer.weight.data[...] = rng.uniform(0.5, 2.0, shape[1])
        layer.bias.data[...] = rng.standard_normal(shape[1])
        layer(rng.standard_normal(shape))  # running statistics that are not 0 and 1
        layer.train(train)
        errors = gradcheck_module(layer, rng.standard_normal(shape) * 3 + 1)
        assert set(errors) == {"input", "weight", "bias"}
        assert max(errors.values()) <= 1e-7, errors


def test_compact_backward_equals_the_step_by_step_chain_rule():
    """The compact formula against the chain rule written out node by node
    (cs231n's staged graph), as a second oracle beside torch."""
    rng = np.random.default_rng(5)
    x, g = rng.standard_normal((7, 4)), rng.standard_normal((7, 4))
    gamma, eps, m = rng.uniform(0.5, 2, 4), 1e-5, 7
    _, cache = F.batch_norm_forward(x, None, None, gamma, np.zeros(4), True, 0.1, eps)
    grad_x, _, _ = F.batch_norm_backward(g, cache)
    mu = x.mean(0)
    xc = x - mu
    var = (xc**2).mean(0)
    std = np.sqrt(var + eps)
    d_xhat = g * gamma
    d_xc = d_xhat / std
    d_std = -(d_xhat * xc).sum(0) / std**2
    d_var = d_std / (2 * std)
    d_xc += 2 * xc * d_var / m
    staged = d_xc - d_xc.sum(0) / m
    np.testing.assert_allclose(grad_x, staged, rtol=1e-12, atol=1e-12)


def bn_net(dtype=np.float64):
    rng = np.random.default_rng(6)
    return nn.Sequential(
        nn.Conv2d(2, 4, 3, rng=rng, dtype=dtype), nn.BatchNorm2d(4, dtype=dtype),
        nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(4 * 3 * 3, 5, rng=rng, dtype=dtype),
        nn.BatchNorm1d(5, momentum=None, dtype=dtype), nn.ReLU(), nn.Linear(5, 3, rng=rng, dtype=dtype),
    )  # fmt: skip


def torch_bn_net():
    t = torch.nn
    return t.Sequential(
        t.Conv2d(2, 4, 3), t.BatchNorm2d(4), t.ReLU(), t.MaxPool2d(2), t.Flatten(),
        t.Linear(36, 5), t.BatchNorm1d(5, momentum=None), t.ReLU(), t.Linear(5, 3),
    ).double()  # fmt: skip


def test_state_dict_round_trip_through_torch_in_a_whole_model():
    model, reference = bn_net(), torch_bn_net()
    assert list(model.state_dict()) == list(reference.state_dict())
    reference.load_state_dict(to_torch(model.state_dict()))  # strict, as it stands
    rng = np.random.default_rng(7)
    loss_fn = nn.CrossEntropyLoss()
    for _ in range(3):  # train both: weights stay equal, buffers move equally
        x, y = rng.standard_normal((8, 2, 8, 8)), rng.integers(0, 3, 8)
        model.zero_grad()
        loss = loss_fn(model(x), y)
        model.backward(loss_fn.backward(), needs_input_grad=False)
        reference.zero_grad()
        t_loss = torch.nn.functional.cross_entropy(reference(torch.tensor(x)), torch.tensor(y))
        t_loss.backward()
        assert abs(float(loss) - t_loss.item()) <= 1e-10
        for name, parameter in model.named_parameters():
            t_grad = dict(reference.named_parameters())[name].grad
            assert_close(parameter.grad, t_grad, np.float64, name)
            parameter.data -= 0.1 * parameter.grad
        with torch.no_grad():
            for parameter in reference.parameters():
                parameter -= 0.1 * parameter.grad
    assert_buffers_equal(model, reference, np.float64)
    assert int(model.state_dict()["6.num_batches_tracked"]) == 3
    # and back: torch's trained state loads into a fresh cnnlib model, which then
    # predicts as torch does in evaluation
    fresh = bn_net()
    fresh.load_state_dict(reference.state_dict())
    assert_buffers_equal(fresh, reference, np.float64)
    x = rng.standard_normal((3, 2, 8, 8))
    expected = reference.eval()(torch.tensor(x))
    assert_close(fresh.eval()(x), expected, np.float64, "eval after round trip")
    assert not np.allclose(fresh.train()(x), fresh.eval()(x))


def test_save_and_load_keep_the_buffers(tmp_path):
    model = bn_net()
    model(np.random.default_rng(8).standard_normal((4, 2, 8, 8)))
    cnnlib.save(model.state_dict(), tmp_path / "bn.npz")
    other = bn_net()
    other.load_state_dict(cnnlib.load(tmp_path / "bn.npz"))
    for (name, value), (_, loaded) in zip(model.state_dict().items(), other.state_dict().items()):
        np.testing.assert_array_equal(value, loaded, err_msg=name)
        assert value.dtype == loaded.dtype
    assert int(other[1].num_batches_tracked) == 1


def test_affine_false_and_no_running_stats_have_torchs_state():
    plain = nn.BatchNorm2d(3, affine=False)
    assert list(plain.state_dict()) == ["running_mean", "running_var", "num_batches_tracked"]
    assert list(plain.parameters()) == [] and plain.weight is None
    untracked = nn.BatchNorm2d(3, track_running_stats=False)
    assert list(untracked.state_dict()) == ["weight", "bias"]
    assert untracked.running_mean is None and list(untracked.buffers()) == []
    no_bias = nn.BatchNorm1d(3, bias=False)
    assert list(no_bias.state_dict())[:2] == ["weight", "running_mean"]
    for ours, theirs in ((plain, torch.nn.BatchNorm2d(3, affine=False)),
                         (untracked, torch.nn.BatchNorm2d(3, track_running_stats=False)),
                         (no_bias, torch.nn.BatchNorm1d(3, bias=False))):  # fmt: skip
        assert list(ours.state_dict()) == list(theirs.state_dict())
        assert repr(ours) == repr(theirs)
        theirs.load_state_dict(to_torch(ours.state_dict()))


def test_buffers_convert_with_double_and_count_stays_integer():
    layer = nn.BatchNorm2d(4).double()
    assert layer.running_mean.dtype == layer.running_var.dtype == np.float64
    assert layer.weight.dtype == np.float64
    assert layer.num_batches_tracked.dtype == np.int64
    layer(np.random.default_rng(9).standard_normal((2, 4, 3, 3)))
    assert int(layer.num_batches_tracked) == 1
    assert dict(layer.named_buffers())["running_mean"] is layer.running_mean


def test_forward_and_backward_modify_no_input():
    layer = nn.BatchNorm2d(3, dtype=np.float64)
    rng = np.random.default_rng(10)
    x, g = rng.standard_normal((2, 3, 4, 4)), rng.standard_normal((2, 3, 4, 4))
    x_copy, g_copy = x.copy(), g.copy()
    layer(x)
    layer.backward(g)
    np.testing.assert_array_equal(x, x_copy)
    np.testing.assert_array_equal(g, g_copy)


def test_no_update_under_eval_and_no_cache_under_no_grad():
    layer = nn.BatchNorm2d(2, dtype=np.float64)
    x = np.random.default_rng(11).standard_normal((3, 2, 2, 2))
    layer.eval()
    layer(x)
    assert int(layer.num_batches_tracked) == 0
    np.testing.assert_array_equal(layer.running_mean, 0.0)
    layer.train()
    with nn.no_grad():
        layer(x)
    assert layer._cache is None and int(layer.num_batches_tracked) == 1


def test_backward_without_input_grad_returns_none_and_the_same_parameter_grads():
    rng = np.random.default_rng(12)
    x, g = rng.standard_normal((5, 4)), rng.standard_normal((5, 4))
    assert_no_input_grad_keeps_parameter_grads(nn.BatchNorm1d(4, dtype=np.float64), x, g)


@pytest.mark.parametrize(
    "call, words",
    [
        (lambda: nn.BatchNorm2d(3)(np.zeros((2, 3, 4), np.float32)), ["BatchNorm2d", "(N, C, H, W)", "(2, 3, 4)"]),
        (lambda: nn.BatchNorm1d(3)(np.zeros((2, 3, 4, 4), np.float32)), ["BatchNorm1d", "(N, C)"]),
        (lambda: nn.BatchNorm2d(3)(np.zeros((2, 4, 5, 5), np.float32)), ["3 channels", "(2, 4, 5, 5)"]),
        (lambda: nn.BatchNorm1d(3)(np.zeros((1, 3), np.float32)), ["more than 1 value per channel"]),
        (lambda: nn.BatchNorm2d(3)(np.zeros((2, 3, 2, 2))), ["float64", "float32"]),
        (lambda: nn.BatchNorm2d(3, momentum=1.5), ["momentum", "[0, 1]"]),
        (lambda: nn.BatchNorm2d(0), ["num_features"]),
        (lambda: nn.BatchNorm2d(3, eps=0), ["eps"]),
        (lambda: F.batch_norm(np.zeros((2, 3)), None, None), ["training=False", "running"]),
        (lambda: F.batch_norm(np.zeros((2, 3)), np.zeros(2), np.ones(2)), ["running_mean", "(3,)"]),
        (lambda: nn.BatchNorm2d(3).register_buffer("weight", None), ["weight", "parameter"]),
        (lambda: setattr(nn.BatchNorm2d(3), "running_mean", [0.0, 0.0, 0.0]), ["running_mean", "NumPy"]),
    ],
)
def test_bad_input_raises_value_error_naming_it(call, words):
    with pytest.raises(ValueError) as error:
        call()
    for word in words:
        assert word in str(error.value)


def test_a_failed_forward_changes_no_state():
    layer = nn.BatchNorm1d(3)
    with pytest.raises(ValueError):
        layer(np.zeros((1, 3), np.float32))
    assert int(layer.num_batches_tracked) == 0
    np.testing.assert_array_equal(layer.running_var, 1.0)
