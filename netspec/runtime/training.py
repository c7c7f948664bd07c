"""The fit loop: mini-batches, backpropagation, optimiser steps, metrics,
validation, early stopping and progress, in plain NumPy.

One epoch visits every training sample once, in a fresh random order when
``shuffle`` is on. Each batch runs forward, the loss, backward (the fused
softmax + cross-entropy or sigmoid + binary cross-entropy gradient when the
network ends in that pair) and one optimiser step. Before the step, the loss
and every gradient are checked: a non-finite value stops training with a
:class:`TrainingError` naming the epoch, the batch and the first layer where
it appeared, and the parameters keep their values from the last finite step.
"""

from __future__ import annotations

import math
import sys
import time
from dataclasses import dataclass, field, fields, replace
from typing import Any, Callable, TextIO

import numpy as np

from ..errors import NetspecError

MINIMISED = ("loss", "mae")


class TrainingError(NetspecError):
    """Training cannot go on (a non-finite loss or gradient)."""


@dataclass(frozen=True)
class EarlyStopping:
    """Stop when ``monitor`` has not improved by ``min_delta`` for ``patience`` epochs."""

    monitor: str = "val_loss"
    patience: int = 10
    min_delta: float = 0.0
    restore_best: bool = True


@dataclass(frozen=True)
class TrainingConfig:
    """The ``train`` section of a spec, as plain values. ``batch_size`` None is full batch."""

    epochs: int = 100
    batch_size: int | None = None
    shuffle: bool = True
    seed: int | None = None
    validation_split: float = 0.0
    metrics: tuple[str, ...] = ()
    early_stopping: EarlyStopping | None = None

    def with_overrides(self, **overrides: Any) -> "TrainingConfig":
        """A copy with ``overrides`` applied; unknown names are a TypeError."""
        known = {f.name for f in fields(self)}
        unknown = set(overrides) - known
        if unknown:
            raise TypeError(f"unknown training option(s) {sorted(unknown)}; expected some of {sorted(known)}")
        return replace(self, **overrides)


@dataclass
class History:
    """Per-epoch values: ``loss`` and each metric, and ``val_`` ones with validation."""

    epochs: list[int] = field(default_factory=list)
    values: dict[str, list[float]] = field(default_factory=dict)
    stopped_early: bool = False
    best_epoch: int | None = None

    def record(self, epoch: int, logs: dict[str, float]) -> None:
        self.epochs.append(epoch)
        for name, value in logs.items():
            self.values.setdefault(name, []).append(value)

    def __getitem__(self, name: str) -> list[float]:
        return self.values[name]

    def last(self) -> dict[str, float]:
        """The last epoch's values."""
        return {name: series[-1] for name, series in self.values.items()}

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready mapping: ``epoch`` and one list per quantity."""
        return {"epoch": list(self.epochs), **{k: list(v) for k, v in self.values.items()},
                "stopped_early": self.stopped_early, "best_epoch": self.best_epoch}


def accuracy(output: np.ndarray, targets: np.ndarray, task: str, from_logits: bool = False) -> float:
    """Share of samples whose predicted class (categorical) or 0/1 labels (binary) are right."""
    if task == "categorical":
        truth = targets if targets.ndim == 1 else np.argmax(targets, axis=1)
        return float(np.mean(np.argmax(output, axis=1) == truth))
    threshold = 0.0 if from_logits else 0.5
    return float(np.mean((output > threshold) == (targets > 0.5)))


def mean_absolute_error(output: np.ndarray, targets: np.ndarray) -> float:
    """Mean of |output − targets| over every value."""
    return float(np.mean(np.abs(output - targets)))


def metric_values(pipeline: Any, output: np.ndarray, targets: np.ndarray, metrics: tuple[str, ...],
                  prefix: str = "") -> dict[str, float]:
    """The loss and the requested metrics on one set of outputs."""
    logs = {prefix + "loss": pipeline.loss_function.calculate(output, targets)}
    for name in metrics:
        if name == "accuracy":
            value = accuracy(output, targets, pipeline.task, getattr(pipeline.loss_function, "from_logits", False))
        else:
            value = mean_absolute_error(output, targets)
        logs[prefix + name] = value
    return logs


def split(samples: int, fraction: float, seed: int | None) -> tuple[np.ndarray, np.ndarray]:
    """Indices of the training and validation rows: a random ``fraction`` held
    out, the same for the same ``seed``."""
    order = np.random.default_rng(seed).permutation(samples)
    held = int(round(samples * fraction))
    if fraction > 0 and (held == 0 or held == samples):
        raise TrainingError(f"validation_split {fraction} of {samples} samples leaves "
                            f"{samples - held} for training and {held} for validation; both need at least 1")
    return np.sort(order[: samples - held]), np.sort(order[samples - held:])


class Progress:
    """What training prints: about 20 epoch lines per run (every epoch at
    ``verbose=2``), each with the loss, metrics and speed; on a terminal a
    progress line is also redrawn in place between them. Nothing at ``verbose=0``."""

    LINES = 20

    def __init__(self, verbose: int, first: int, last: int, stream: TextIO | None = None):
        self.stream = stream if stream is not None else sys.stdout
        self.verbose = verbose
        self.first, self.last = first, last
        self.every = 1 if verbose >= 2 else max(1, math.ceil((last - first + 1) / self.LINES))
        self.tty = verbose > 0 and hasattr(self.stream, "isatty") and self.stream.isatty()

    def batch(self, epoch: int, done: int, total: int) -> None:
        if self.tty and total > 1:
            self._redraw(f"epoch {epoch}/{self.last} {_bar(done, total)} {done}/{total} batches")

    def epoch(self, epoch: int, logs: dict[str, float], samples: int, seconds: float) -> None:
        if self.verbose <= 0:
            return
        speed = samples / seconds if seconds > 0 else float("inf")
        values = " - ".join(f"{k}: {v:.4f}" for k, v in logs.items())
        line = f"epoch {epoch}/{self.last} - {values} - {speed:,.0f} samples/s"
        if (epoch - self.first) % self.every == 0 or epoch == self.last:
            self._redraw(line + "\n" if self.tty else "")
            if not self.tty:
                self.stream.write(line + "\n")
        elif self.tty:
            self._redraw(f"epoch {epoch}/{self.last} {_bar(epoch - self.first + 1, self.last - self.first + 1)} - "
                         f"{values}")
        self.stream.flush()

    def _redraw(self, text: str) -> None:
        if self.tty:
            self.stream.write("\r\033[K" + text)
            self.stream.flush()


def _bar(done: int, total: int, width: int = 30) -> str:
    filled = width * done // total
    return f"[{'=' * filled}{'.' * (width - filled)}]"


class Stopper:
    """Early stopping bookkeeping: the best value, when it was reached, the best parameters."""

    def __init__(self, rule: EarlyStopping, parameters: list[np.ndarray]):
        self.rule = rule
        self.parameters = parameters
        self.sign = 1.0 if rule.monitor.removeprefix("val_") in MINIMISED else -1.0
        self.best = np.inf
        self.best_epoch: int | None = None
        self.best_values: list[np.ndarray] | None = None
        self.waited = 0

    def update(self, epoch: int, logs: dict[str, float]) -> bool:
        """Record the epoch; True when training should stop."""
        score = self.sign * logs[self.rule.monitor]
        if score < self.best - self.rule.min_delta:
            self.best, self.best_epoch, self.waited = score, epoch, 0
            if self.rule.restore_best:
                self.best_values = [p.copy() for p in self.parameters]
            return False
        self.waited += 1
        return self.waited >= self.rule.patience

    def restore(self) -> None:
        if self.best_values is not None:
            for parameter, best in zip(self.parameters, self.best_values):
                parameter[...] = best


def first_non_finite(pipeline: Any, loss: float) -> str:
    """Where a non-finite value first appears, in the order they are computed:
    the layers' outputs, the loss, then the gradients from the last layer back."""
    for layer in pipeline.layers:
        output = getattr(layer, "output", None)
        if output is not None and not np.all(np.isfinite(output)):
            return f"the output of layer {layer.name}"
    if not np.isfinite(loss):
        return "the loss"
    for layer in reversed(pipeline.layers):
        for gradient in layer.gradients():
            if not np.all(np.isfinite(gradient)):
                return f"the gradients of layer {layer.name}"
    raise AssertionError("first_non_finite called with everything finite")


def all_finite(array: np.ndarray) -> bool:
    """True when no value of ``array`` is NaN or infinite.

    A NaN or an infinity anywhere makes the sum of squares ``a · a`` NaN or
    infinite, so when that one BLAS dot product is finite, so is every value;
    it reads the array once and allocates nothing, where ``isfinite(a).all()``
    writes a boolean array first. Only when the dot product is not finite
    (also when values near the float range overflow their squares) does the
    exact elementwise test decide."""
    flat = array.reshape(-1)
    if flat.dtype.kind == "f":
        with np.errstate(over="ignore", invalid="ignore"):
            if math.isfinite(np.dot(flat, flat)):
                return True
    return bool(np.isfinite(array).all())


def check_finite(pipeline: Any, loss: float, gradients: list[np.ndarray], epoch: int, batch: int) -> None:
    """Stop with a clear error if the loss or a gradient is NaN or infinite."""
    if math.isfinite(loss) and all(all_finite(g) for g in gradients):
        return
    raise TrainingError(
        f"training diverged at epoch {epoch}, batch {batch}: the loss is {loss} and non-finite values first "
        f"appear in {first_non_finite(pipeline, loss)}; the parameters from the last finite step are kept "
        f"(try a lower learning_rate or scaling the data)")


def fit(pipeline: Any, X: np.ndarray, targets: np.ndarray, config: TrainingConfig, *, verbose: int = 1,
        stream: TextIO | None = None, on_epoch: Callable[[int, dict[str, float]], None] | None = None) -> History:
    """Train ``pipeline`` on checked inputs ``X`` and ``targets`` for ``config.epochs`` epochs.

    The shuffle generator lives on the pipeline (``pipeline.state``) so that a
    second call, or a resumed checkpoint, continues the same sequence.
    """
    train_rows, val_rows = split(len(X), config.validation_split, config.seed)
    X_train, y_train = X[train_rows], targets[train_rows]
    X_val, y_val = X[val_rows], targets[val_rows]
    state = pipeline.state
    if state.shuffle_rng is None:
        state.shuffle_rng = np.random.default_rng(config.seed)
    parameters = pipeline.parameters()
    history = History()
    stopper = Stopper(config.early_stopping, parameters) if config.early_stopping else None
    progress = Progress(verbose, state.epoch + 1, state.epoch + config.epochs, stream)
    size = config.batch_size or len(X_train)
    for _ in range(config.epochs):
        state.epoch += 1
        started = time.perf_counter()
        order = state.shuffle_rng.permutation(len(X_train)) if config.shuffle else np.arange(len(X_train))
        batches = range(0, len(X_train), size)
        for number, start in enumerate(batches, 1):
            rows = order[start:start + size]
            train_step(pipeline, X_train[rows], y_train[rows], state.epoch, number)
            progress.batch(state.epoch, number, len(batches))
        logs = metric_values(pipeline, pipeline.run(X_train), y_train, config.metrics)
        if len(val_rows):
            logs.update(metric_values(pipeline, pipeline.run(X_val), y_val, config.metrics, "val_"))
        history.record(state.epoch, logs)
        progress.epoch(state.epoch, logs, len(X_train), time.perf_counter() - started)
        if on_epoch is not None:
            on_epoch(state.epoch, logs)
        if stopper is not None and stopper.update(state.epoch, logs):
            history.stopped_early = True
            break
    if stopper is not None:
        stopper.restore()
        history.best_epoch = stopper.best_epoch
    return history


def train_step(pipeline: Any, X: np.ndarray, targets: np.ndarray, epoch: int = 0, batch: int = 0) -> float:
    """One step: forward, loss, backward, finiteness check, optimiser update.
    Returns the batch loss. Overflow is not warned about: it is caught and
    reported by the finiteness check."""
    with np.errstate(over="ignore", invalid="ignore"):
        output = pipeline.run(X, training=True)
        loss = pipeline.loss_function.calculate(output, targets)
        pipeline.backward(targets)
    gradients = pipeline.gradients()
    check_finite(pipeline, loss, gradients, epoch, batch)
    pipeline.optimizer.step(pipeline.parameters(), gradients)
    return loss
