"""The training loop and evaluation: mini-batches, forward, loss, backward, optimizer
step -- and accuracy.

The progress bar (tqdm) is shown only when someone is watching a terminal: by default it
is off when standard error is not a TTY (notebooks, nbval, pipes, CI) or the ``CI``
environment variable is set. Pass ``progress=True`` to force it on (then tag the cell
``nbval-ignore-output``).
"""

from __future__ import annotations

import os
import sys
import time
from typing import NamedTuple

import numpy as np

from .batching import iterate_minibatches, num_batches
from .nn import Module, no_grad

__all__ = ["Evaluation", "progress_enabled", "train_step", "fit", "evaluate", "predict"]


class Evaluation(NamedTuple):
    """``loss``: mean cross-entropy (``None`` without a loss function); ``accuracy``:
    fraction correct in [0, 1]."""

    loss: float | None
    accuracy: float


def progress_enabled(progress: bool | None = None) -> bool:
    """Resolve the ``progress`` argument: ``None`` means "only in an interactive
    terminal, never under CI"."""
    if progress is not None:
        return bool(progress)
    return sys.stderr.isatty() and not os.environ.get("CI")


def train_step(
    model: Module, loss_fn, optimizer, x_batch, y_batch
) -> tuple[float, np.ndarray]:
    """One step: zero the grads, forward, loss, backward, update. Returns
    ``(loss, logits)``.

    ``x_batch: (B, ...)``, ``y_batch: (B,)`` int; ``logits: (B, classes)``.
    """
    optimizer.zero_grad()
    logits = model(x_batch)
    loss = loss_fn(logits, y_batch)
    model.backward(
        loss_fn.backward(), needs_input_grad=False
    )  # the batch is data: no gradient for it
    optimizer.step()
    return float(loss), logits


def predict(model: Module, x, batch_size: int = 1000) -> np.ndarray:
    """The model's outputs for ``x: (N, ...)`` computed ``batch_size`` at a time in eval
    mode without caches. Returns ``(N, classes)``."""
    was_training = model.training
    model.eval()
    outputs = []
    try:
        with no_grad():
            for x_batch, _ in iterate_minibatches(x, np.zeros(len(x)), batch_size):
                outputs.append(model(x_batch))
    finally:
        model.train(was_training)
    return np.concatenate(outputs)


def evaluate(model: Module, x, y, batch_size: int = 1000, loss_fn=None) -> Evaluation:
    """Accuracy (and mean loss, if ``loss_fn`` is given) of ``model`` on
    ``x: (N, ...)``, ``y: (N,)`` int."""
    logits = predict(model, x, batch_size)
    accuracy = float(np.mean(logits.argmax(axis=1) == y))
    loss = None
    if loss_fn is not None:
        with no_grad():
            loss = float(loss_fn(logits, y))
    return Evaluation(loss, accuracy)


def fit(
    model: Module,
    loss_fn,
    optimizer,
    x,
    y,
    *,
    epochs: int = 1,
    batch_size: int = 64,
    seed: int = 0,
    scheduler=None,
    scheduler_interval: str = "epoch",
    validation_data=None,
    progress: bool | None = None,
    verbose: bool = False,
) -> dict[str, list]:
    """Train ``model`` on ``x: (N, ...)``, ``y: (N,)`` for ``epochs`` passes of shuffled
    mini-batches.

    Args:
        loss_fn: e.g. :class:`cnnlib.nn.CrossEntropyLoss` (``loss_fn(logits, y)`` then
            ``loss_fn.backward()``).
        optimizer: e.g. :class:`cnnlib.optim.Adam`.
        seed: epoch ``e`` shuffles with ``seed + e``, so a run is reproducible.
        scheduler: anything with ``step()`` (e.g. :class:`cnnlib.optim.StepLR`), called
            after every epoch, or after every batch with ``scheduler_interval="batch"``.
        validation_data: ``(x_val, y_val)`` evaluated after every epoch.
        progress: tqdm bar on/off; ``None`` = only in an interactive terminal (see
            :func:`progress_enabled`).
        verbose: print one line per epoch.

    Returns:
        History ``{"loss": [...], "accuracy": [...], "val_loss": [...], "val_accuracy":
        [...], "lr": [...], "seconds": [...]}``, one entry per epoch (train
        loss/accuracy are means over the epoch's batches; ``val_*`` are empty without
        ``validation_data``; ``seconds`` is the epoch's training time).
    """
    if scheduler_interval not in ("epoch", "batch"):
        raise ValueError(
            f"scheduler_interval must be 'epoch' or 'batch', got {scheduler_interval!r}"
        )
    history = {
        key: []
        for key in ("loss", "accuracy", "val_loss", "val_accuracy", "lr", "seconds")
    }
    show = progress_enabled(progress)
    if show:
        from tqdm.auto import tqdm
    for epoch in range(epochs):
        model.train()
        history["lr"].append(optimizer.lr)
        batches = iterate_minibatches(x, y, batch_size, shuffle=True, seed=seed + epoch)
        if show:
            batches = tqdm(
                batches,
                total=num_batches(len(x), batch_size),
                desc=f"epoch {epoch + 1}/{epochs}",
                leave=False,
            )
        start = time.perf_counter()
        loss_sum, correct, seen = 0.0, 0, 0
        for x_batch, y_batch in batches:
            loss, logits = train_step(model, loss_fn, optimizer, x_batch, y_batch)
            loss_sum += loss * len(y_batch)
            correct += int(np.sum(logits.argmax(axis=1) == y_batch))
            seen += len(y_batch)
            if show:
                batches.set_postfix(loss=f"{loss:.4f}")
            if scheduler is not None and scheduler_interval == "batch":
                scheduler.step()
        history["seconds"].append(time.perf_counter() - start)
        if scheduler is not None and scheduler_interval == "epoch":
            scheduler.step()
        history["loss"].append(loss_sum / seen)
        history["accuracy"].append(correct / seen)
        if validation_data is not None:
            result = evaluate(model, *validation_data, loss_fn=loss_fn)
            history["val_loss"].append(result.loss)
            history["val_accuracy"].append(result.accuracy)
        if verbose:
            line = (
                f"epoch {epoch + 1}/{epochs}: loss {history['loss'][-1]:.4f}, "
                f"accuracy {history['accuracy'][-1]:.4f}"
            )
            if validation_data is not None:
                line += (
                    f", val_loss {history['val_loss'][-1]:.4f}, "
                    f"val_accuracy {history['val_accuracy'][-1]:.4f}"
                )
            print(line + f" ({history['seconds'][-1]:.1f} s)", flush=True)
    return history
