"""The fit loop: mini-batches, backpropagation, optimiser steps, metrics,
validation, early stopping and progress, in plain NumPy.

One epoch visits every training sample once, in a fresh random order when
``shuffle`` is on. Each batch runs forward, the loss, backward (the fused
softmax + cross-entropy or sigmoid + binary cross-entropy gradient when the
network ends in that pair) and one optimiser step. Before the step, the loss
and every gradient are checked: a non-finite value stops training with a
:class:`TrainingError` naming the epoch, the batch and the first layer where
it appeared, and the parameters keep their values from the last finite step.

A ``stop`` callable, asked after every batch, ends training early at the end
of that batch (``netspec train`` passes one that turns true on Ctrl-C). The
loop runs with the BLAS threads :mod:`netspec.runtime.threads` chooses for
the size of one step.
"""

from __future__ import annotations

import csv
import io
import math
import os
import sys
import time
from dataclasses import dataclass, field, fields, replace
from typing import Any, Callable, TextIO

import numpy as np

from ..errors import NetspecError
from . import threads as blas

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
    """Per-epoch values: ``loss`` and each metric, and ``val_`` ones with validation.

    - ``stopped_early``: early stopping ended training; ``best_epoch`` is the
      epoch of the best monitored value (``monitor``) when early stopping was on.
    - ``restored_epoch``: the epoch whose weights the network keeps when they
      are not the last epoch's (early stopping's ``restore_best``), else None.
    - ``interrupted``: ``{"epoch": e, "batch": b, "batches": n}`` when a
      ``stop`` request ended training after batch b of n in epoch e (that
      epoch's values are then those of its first b batches), else None.
    """

    epochs: list[int] = field(default_factory=list)
    values: dict[str, list[float]] = field(default_factory=dict)
    stopped_early: bool = False
    best_epoch: int | None = None
    monitor: str | None = None
    restored_epoch: int | None = None
    interrupted: dict[str, int] | None = None

    def record(self, epoch: int, logs: dict[str, float]) -> None:
        self.epochs.append(epoch)
        for name, value in logs.items():
            self.values.setdefault(name, []).append(value)

    def __getitem__(self, name: str) -> list[float]:
        return self.values[name]

    def last(self) -> dict[str, float]:
        """The last epoch's values."""
        return {name: series[-1] for name, series in self.values.items()}

    def at(self, epoch: int) -> dict[str, float]:
        """The values recorded for ``epoch``."""
        row = self.epochs.index(epoch)
        return {name: series[row] for name, series in self.values.items()}

    def final(self) -> dict[str, float]:
        """The values of the weights the network keeps: the restored epoch's,
        else the last epoch's (training and validation rows as in each epoch)."""
        return self.at(self.restored_epoch) if self.restored_epoch is not None else self.last()

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready mapping: ``epoch`` and one list per quantity, then how training ended."""
        return {"epoch": list(self.epochs), **{k: list(v) for k, v in self.values.items()},
                "stopped_early": self.stopped_early, "best_epoch": self.best_epoch, "monitor": self.monitor,
                "restored_epoch": self.restored_epoch, "interrupted": self.interrupted}

    def as_csv(self) -> str:
        """One row per epoch: ``epoch``, then each quantity (``loss``, metrics, ``val_`` ones)."""
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["epoch", *self.values])
        for row, epoch in enumerate(self.epochs):
            writer.writerow([epoch, *(repr(series[row]) for series in self.values.values())])
        return out.getvalue()


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
    ``verbose=2``), each with the loss, metrics and speed, and nothing at
    ``verbose=0``. On a terminal, also a progress bar of the epochs with the
    elapsed time, the time left and a smoothed samples/s, and, when an epoch
    takes more than ``LONG_EPOCH`` seconds, a bar of its samples beneath
    (tqdm, imported only when a bar is drawn)."""

    LINES = 20
    LONG_EPOCH = 0.5
    SMOOTHING = 0.3  # weight of the latest epoch in the samples/s shown

    def __init__(self, verbose: int, first: int, last: int, stream: TextIO | None = None):
        self.stream = stream if stream is not None else sys.stdout
        self.verbose = verbose
        self.first, self.last = first, last
        self.every = 1 if verbose >= 2 else max(1, math.ceil((last - first + 1) / self.LINES))
        self.tty = verbose > 0 and hasattr(self.stream, "isatty") and self.stream.isatty()
        self.bar = self.inner = None
        self.speed: float | None = None
        self.long = False
        self.epoch_started = time.perf_counter()

    def __enter__(self) -> "Progress":
        if self.tty:
            from tqdm import tqdm

            self._tqdm = tqdm
            self.bar = tqdm(total=self.last - self.first + 1, file=self.stream, leave=True, **self._width(),
                            desc="train", unit="epoch", mininterval=0.1,
                            bar_format="{desc} {percentage:3.0f}%|{bar}| {n_fmt}/{total_fmt} epochs "
                                       "[{elapsed}<{remaining}{postfix}]")
        return self

    def __exit__(self, *exc: Any) -> None:
        self._close_inner()
        if self.bar is not None:
            self.bar.close()

    def start_epoch(self, epoch: int, samples: int) -> None:
        """Before an epoch of ``samples`` training rows: a samples bar if epochs are long."""
        self.epoch_started = time.perf_counter()
        if self.bar is not None and self.long:
            self._open_inner(epoch, samples, 0)

    def batch(self, epoch: int, done: int, total: int, rows: int, samples: int) -> None:
        """After batch ``done`` of ``total`` (``rows`` rows of the epoch's ``samples``)."""
        if self.bar is None or total < 2:
            return
        if self.inner is None and done < total and time.perf_counter() - self.epoch_started > self.LONG_EPOCH / 2:
            self._open_inner(epoch, samples, rows * (done - 1))
        if self.inner is not None:
            self.inner.update(rows)

    def epoch(self, epoch: int, logs: dict[str, float], samples: int, seconds: float) -> None:
        if self.verbose <= 0:
            return
        speed = samples / seconds if seconds > 0 else float("inf")
        self.speed = speed if self.speed is None or not math.isfinite(self.speed) else \
            self.SMOOTHING * speed + (1 - self.SMOOTHING) * self.speed
        self.long = seconds > self.LONG_EPOCH
        values = " - ".join(f"{k}: {v:.4f}" for k, v in logs.items())
        line = f"epoch {epoch}/{self.last} - {values} - {speed:,.0f} samples/s"
        printed = (epoch - self.first) % self.every == 0 or epoch == self.last
        self._close_inner()
        if self.bar is None:
            if printed:
                self.stream.write(line + "\n")
                self.stream.flush()
            return
        if printed:
            self.bar.write(line, file=self.stream)
        shown = "".join(f", {k}={v:.4g}" for k, v in list(logs.items())[:2])
        self.bar.set_postfix_str(f"{self.speed:,.0f} samples/s{shown}", refresh=False)
        self.bar.update(1)

    def _open_inner(self, epoch: int, samples: int, done: int) -> None:
        self.inner = self._tqdm(total=samples, initial=done, file=self.stream, leave=False, **self._width(),
                                desc=f"epoch {epoch}", unit=" samples", unit_scale=True, mininterval=0.1)

    def _width(self) -> dict[str, Any]:
        """Follow the terminal's width; 100 columns for a terminal that reports
        none (a pseudo-terminal without a size would get an empty bar)."""
        try:
            columns = os.get_terminal_size(self.stream.fileno()).columns
        except (OSError, ValueError, AttributeError):
            return {}
        return {"dynamic_ncols": True} if columns > 0 else {"ncols": 100}

    def _close_inner(self) -> None:
        if self.inner is not None:
            self.inner.close()
            self.inner = None


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

    def restore(self) -> bool:
        """Put the best parameters back (when ``restore_best`` kept them); True if it did."""
        if self.best_values is None:
            return False
        for parameter, best in zip(self.parameters, self.best_values):
            parameter[...] = best
        return True


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
        stream: TextIO | None = None, on_epoch: Callable[[int, dict[str, float]], None] | None = None,
        stop: Callable[[], bool] | None = None, threads: int | None = None) -> History:
    """Train ``pipeline`` on checked inputs ``X`` and ``targets`` for ``config.epochs`` epochs.

    The shuffle generator lives on the pipeline (``pipeline.state``) so that a
    second call, or a resumed checkpoint, continues the same sequence.
    ``stop()`` is asked after every batch; when true, training ends there
    (``History.interrupted``). ``threads`` fixes the BLAS threads (see
    :func:`netspec.runtime.threads.choose` for the default).
    """
    train_rows, val_rows = split(len(X), config.validation_split, config.seed)
    X_train, y_train = X[train_rows], targets[train_rows]
    X_val, y_val = X[val_rows], targets[val_rows]
    state = pipeline.state
    if state.shuffle_rng is None:
        state.shuffle_rng = np.random.default_rng(config.seed)
    size = config.batch_size or len(X_train)
    count = blas.choose(blas.step_work(pipeline, X_train, min(size, len(X_train)), training=True), threads)
    history = History(monitor=config.early_stopping.monitor if config.early_stopping else None)
    stopper = Stopper(config.early_stopping, pipeline.parameters()) if config.early_stopping else None
    with blas.blas_threads(count), Progress(verbose, state.epoch + 1, state.epoch + config.epochs, stream) as progress:
        for _ in range(config.epochs):
            state.epoch += 1
            started = time.perf_counter()
            history.interrupted = _epoch(pipeline, X_train, y_train, size, config.shuffle, progress, stop)
            logs = metric_values(pipeline, pipeline.run(X_train), y_train, config.metrics)
            if len(val_rows):
                logs.update(metric_values(pipeline, pipeline.run(X_val), y_val, config.metrics, "val_"))
            history.record(state.epoch, logs)
            progress.epoch(state.epoch, logs, len(X_train), time.perf_counter() - started)
            if on_epoch is not None:
                on_epoch(state.epoch, logs)
            if stopper is not None and stopper.update(state.epoch, logs):
                history.stopped_early = True
            if history.stopped_early or history.interrupted:
                break
    if stopper is not None:
        history.best_epoch = stopper.best_epoch
        if stopper.restore() and stopper.best_epoch != history.epochs[-1]:
            history.restored_epoch = stopper.best_epoch
    return history


def _epoch(pipeline: Any, X: np.ndarray, targets: np.ndarray, size: int, shuffle: bool, progress: Progress,
           stop: Callable[[], bool] | None) -> dict[str, int] | None:
    """One pass over the training rows in batches of ``size``; where it
    stopped when ``stop()`` turned true after a batch, else None."""
    epoch = pipeline.state.epoch
    order = pipeline.state.shuffle_rng.permutation(len(X)) if shuffle else np.arange(len(X))
    batches = range(0, len(X), size)
    progress.start_epoch(epoch, len(X))
    for number, start in enumerate(batches, 1):
        rows = order[start:start + size]
        train_step(pipeline, X[rows], targets[rows], epoch, number)
        progress.batch(epoch, number, len(batches), len(rows), len(X))
        if stop is not None and stop():
            return {"epoch": epoch, "batch": number, "batches": len(batches)}
    return None


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
