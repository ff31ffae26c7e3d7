"""cnnlib.training: fit learns a small problem, is reproducible, reports a history, stays silent
when not attached to a terminal; evaluate/predict run without caches and restore the mode."""

import numpy as np
import pytest

from cnnlib import nn, optim
from cnnlib.training import evaluate, fit, predict, progress_enabled


def toy_data(n=256, seed=0):
    """Two classes: a bright blob top-left or bottom-right of a 6x6 image."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    x = rng.normal(0, 0.1, (n, 1, 6, 6)).astype(np.float32)
    for i, label in enumerate(y):
        x[i, 0, 4 * label : 4 * label + 2, 4 * label : 4 * label + 2] += 1.0
    return x, y


def model(seed):
    rng = np.random.default_rng(seed)
    return nn.Sequential(nn.Conv2d(1, 4, 3, rng=rng), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(16, 2, rng=rng))


def train(seed=0, **kwargs):
    x, y = toy_data()
    net = model(seed)
    optimizer = optim.Adam(net.parameters(), lr=0.01)
    history = fit(net, nn.CrossEntropyLoss(), optimizer, x, y, epochs=3, batch_size=32, seed=seed,
                  scheduler=optim.StepLR(optimizer, 1, 0.5), validation_data=toy_data(100, 1), **kwargs)  # fmt: skip
    return net, history


def test_fit_learns_and_reports_history(capsys):
    net, history = train()
    assert set(history) == {"loss", "accuracy", "val_loss", "val_accuracy", "lr", "seconds"}
    assert all(len(v) == 3 for v in history.values())
    assert history["loss"][-1] < history["loss"][0]
    assert history["val_accuracy"][-1] >= 0.95
    assert history["lr"] == [0.01, 0.005, 0.0025]
    assert capsys.readouterr() == ("", "")  # pytest's captured streams are not TTYs: no progress bar


def test_fit_is_reproducible():
    a, history_a = train(seed=5)
    b, history_b = train(seed=5)
    assert history_a["loss"] == history_b["loss"]
    for p, q in zip(a.parameters(), b.parameters()):
        np.testing.assert_array_equal(p.data, q.data)


def test_verbose_prints_one_line_per_epoch(capsys):
    train(verbose=True)
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 3 and lines[0].startswith("epoch 1/3: loss")


def test_progress_switch(monkeypatch):
    assert progress_enabled(True) and not progress_enabled(False)
    monkeypatch.setenv("CI", "true")
    assert not progress_enabled(None)


def test_evaluate_and_predict():
    net, _ = train()
    x, y = toy_data(100, 1)
    net.train()
    logits = predict(net, x, batch_size=7)
    assert logits.shape == (100, 2) and net.training
    result = evaluate(net, x, y, batch_size=30, loss_fn=nn.CrossEntropyLoss())
    assert result.accuracy == np.mean(logits.argmax(1) == y)
    assert result.loss > 0 and evaluate(net, x, y).loss is None
    assert all(layer._cache is None for layer in net)  # predict/evaluate keep no caches
    with pytest.raises(ValueError, match="scheduler_interval"):
        fit(net, nn.CrossEntropyLoss(), optim.SGD(net.parameters(), lr=0.1), x, y, scheduler_interval="step")
