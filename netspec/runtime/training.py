"""The fit loop: mini-batches, backpropagation, optimiser steps, metrics,
validation, early stopping, learning-rate schedules and progress, in plain NumPy.

One epoch visits every training sample once, in a fresh random order when
``shuffle`` is on. Each batch runs forward in training mode (dropout drops,
batch normalization uses the batch's statistics), the loss, backward (the
fused softmax + cross-entropy or sigmoid + binary cross-entropy gradient
when the network ends in that pair) and one optimiser step. Before the step,
the loss and every gradient are checked: a non-finite value stops training
with a :class:`TrainingError` naming the epoch, the batch and the first layer
where it appeared, and the parameters keep their values from the last finite
step; then the gradients are clipped when the spec says so.

Weights: with ``class_weight`` or ``sample_weight``, sample i's loss counts
``w_i`` times, ``w_i`` the weight of its class times its own weight; the
batch loss is ``mean(w_i · loss_i)`` over the batch (Keras's; PyTorch's
``weight=`` divides by ``Σ w_i`` instead), and its gradient scales each
sample's gradient by ``w_i``. Validation losses are not weighted.

After each epoch, the loss and metrics are measured in inference mode on the
training rows (weighted as in training) and on the validation rows. The
``loss`` is the data loss plus the layers' penalties; with penalties,
``data_loss`` and ``regularization_loss`` are recorded too (and
``val_data_loss``), and when a schedule or a decay changes the learning
rate, ``learning_rate``: the rate of the epoch's last step.

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

from ..errors import DataError, NetspecError
from . import threads as blas
from .activations import Softmax
from .clipping import Clipping
from .losses import CategoricalCrossentropy, label_positions, mean, picked_crossentropy
from .metrics import METRICS, accuracy, mean_absolute_error  # noqa: F401 -- accuracy, mean_absolute_error: public here
from .optimizers import SGD
from .schedules import ReduceOnPlateau

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
    top_k: int = 5
    schedule: Any = None  # a schedule of netspec.runtime.schedules
    clipping: Clipping | None = None
    class_weight: dict[int, float] | None = None

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


def metric_values(pipeline: Any, output: np.ndarray, targets: np.ndarray, metrics: tuple[str, ...],
                  prefix: str = "", *, top_k: int = 5, weights: np.ndarray | None = None,
                  regularization: float | None = None) -> dict[str, float]:
    """The loss and the requested metrics on one set of outputs.

    ``weights`` (one per sample) weigh the data loss; ``regularization``, the
    layers' penalties, is added to it to make ``loss``, and then the data
    loss is also given on its own (``data_loss``, with the penalty as
    ``regularization_loss`` on the training rows)."""
    logs = loss_logs(weighted_loss(pipeline.loss_function, output, targets, weights), prefix, regularization)
    from_logits = getattr(pipeline.loss_function, "from_logits", False)
    for name in metrics:
        logs[prefix + name] = METRICS[name](output, targets, pipeline.task, from_logits, top_k)
    return logs


def loss_logs(data: float, prefix: str = "", regularization: float | None = None) -> dict[str, float]:
    """The loss entries of an epoch's logs from the data loss: ``loss`` alone,
    or with penalties ``loss`` (data + penalties), ``data_loss`` and, for the
    training rows (no ``prefix``), ``regularization_loss``."""
    if regularization is None:
        return {prefix + "loss": data}
    logs = {prefix + "loss": data + regularization, prefix + "data_loss": data}
    if not prefix:
        logs["regularization_loss"] = regularization
    return logs


def weighted_loss(loss: Any, output: np.ndarray, targets: np.ndarray, weights: np.ndarray | None) -> float:
    """The mean loss, or with ``weights`` the mean of each sample's loss times its weight."""
    if weights is None:
        return loss.calculate(output, targets)
    return mean(loss.forward(output, targets) * weights)


def sample_weights(targets: np.ndarray, task: str, classes: int, class_weight: dict[int, float] | None,
                   sample_weight: np.ndarray | None) -> np.ndarray | None:
    """Each sample's weight: its class's weight in ``class_weight`` (1 for a
    class not named) times its ``sample_weight``; None when there is neither."""
    if class_weight is None:
        return sample_weight
    if task == "categorical":
        labels, count = (targets if targets.ndim == 1 else np.argmax(targets, axis=1)), classes
    elif task == "binary" and targets.shape[1] == 1:
        labels, count = (targets[:, 0] > 0.5).astype(np.int64), 2
    else:
        raise DataError("class_weight weighs each sample by its class, so it needs one class per sample: a "
                        "categorical output or a single binary output; weigh samples with sample_weight instead")
    beyond = [c for c in class_weight if c >= count]
    if beyond:
        raise DataError(f"class_weight names class {beyond[0]}, but the network tells {count} classes apart "
                        f"(0 to {count - 1})")
    table = np.ones(count)
    table[list(class_weight)] = list(class_weight.values())
    weights = table[labels].astype(targets.dtype if targets.dtype.kind == "f" else np.float64)
    return weights if sample_weight is None else weights * sample_weight


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
        values = " - ".join(f"{k}: {v:.4g}" if k == "learning_rate" else f"{k}: {v:.4f}" for k, v in logs.items())
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
    with np.errstate(over="ignore", invalid="ignore"):
        _check_finite(pipeline, loss, gradients, epoch, batch)


def _check_finite(pipeline: Any, loss: float, gradients: list[np.ndarray], epoch: int, batch: int) -> None:
    """:func:`check_finite` under the caller's error state (overflow ignored)."""
    if math.isfinite(loss):
        for gradient in gradients:  # all_finite, inlined: this runs on every step
            flat = gradient.reshape(-1)
            if not math.isfinite(np.dot(flat, flat)) and not np.isfinite(gradient).all():
                break
        else:
            return
    raise TrainingError(
        f"training diverged at epoch {epoch}, batch {batch}: the loss is {loss} and non-finite values first "
        f"appear in {first_non_finite(pipeline, loss)}; the parameters from the last finite step are kept "
        f"(try a lower learning_rate or scaling the data)")


def fit(pipeline: Any, X: np.ndarray, targets: np.ndarray, config: TrainingConfig, *, verbose: int = 1,
        stream: TextIO | None = None, on_epoch: Callable[[int, dict[str, float]], None] | None = None,
        stop: Callable[[], bool] | None = None, threads: int | None = None,
        validation: tuple[Any, np.ndarray] | None = None, sample_weight: np.ndarray | None = None) -> History:
    """Train ``pipeline`` on checked inputs ``X`` and ``targets`` for ``config.epochs`` epochs.

    The shuffle generator lives on the pipeline (``pipeline.state``) so that a
    second call, or a resumed checkpoint, continues the same sequence; so
    does a ``reduce_on_plateau`` schedule's state.
    ``stop()`` is asked after every batch; when true, training ends there
    (``History.interrupted``). ``threads`` fixes the BLAS threads (see
    :func:`netspec.runtime.threads.choose` for the default).
    ``validation``: checked ``(X_val, targets_val)`` to validate on instead of
    holding out ``config.validation_split`` of the rows. ``sample_weight``: one
    checked weight per row of ``X``.
    """
    if validation is not None:
        X_train, y_train, (X_val, y_val) = X, targets, validation
        w_train = sample_weight
    else:
        train_rows, val_rows = split(len(X), config.validation_split, config.seed)
        X_train, y_train = X[train_rows], targets[train_rows]
        X_val, y_val = X[val_rows], targets[val_rows]
        w_train = sample_weight[train_rows] if sample_weight is not None else None
    weights = sample_weights(y_train, pipeline.task, pipeline.output_features, config.class_weight, w_train)
    weights = weights.astype(pipeline.dtype, copy=False) if weights is not None else None
    _check_monitors(config, len(X_val))
    regularized = pipeline.regularized
    size = config.batch_size or len(X_train)
    count = blas.choose(blas.step_work(pipeline, X_train, min(size, len(X_train)), training=True), threads)

    def train(progress: Progress) -> dict[str, int] | None:
        return _epoch(pipeline, X_train, y_train, weights, size, config, progress, stop)

    def evaluate() -> dict[str, float]:
        penalty = pipeline.regularization_loss() if regularized else None
        logs = metric_values(pipeline, pipeline.run(X_train), y_train, config.metrics, top_k=config.top_k,
                             weights=weights, regularization=penalty)
        if len(X_val):
            logs.update(metric_values(pipeline, pipeline.run(X_val), y_val, config.metrics, "val_",
                                      top_k=config.top_k, regularization=penalty))
        return logs

    return run_epochs(pipeline, config, len(X_train), count, train, evaluate, verbose=verbose, stream=stream,
                      on_epoch=on_epoch)


def run_epochs(pipeline: Any, config: TrainingConfig, samples: int, threads: int,
               train: Callable[[Progress], dict[str, int] | None], evaluate: Callable[[], dict[str, float]], *,
               verbose: int = 1, stream: TextIO | None = None,
               on_epoch: Callable[[int, dict[str, float]], None] | None = None) -> History:
    """The epoch loop of every ``fit`` (in memory, and chunk by chunk in
    :mod:`netspec.runtime.streaming`): for each of ``config.epochs`` epochs,
    the schedule's learning rate, ``train(progress)`` (one pass over the
    ``samples`` training rows; where it stopped, or None), ``evaluate()`` (the
    epoch's loss and metrics), the history, the progress line, ``on_epoch``,
    the plateau and early stopping; with ``threads`` BLAS threads. The
    shuffle generator and a plateau's state live on ``pipeline.state``, so a
    second call or a resumed checkpoint continues them."""
    state = pipeline.state
    if state.shuffle_rng is None:
        state.shuffle_rng = np.random.default_rng(config.seed)
    optimizer = pipeline.optimizer
    base = getattr(optimizer, "initial_learning_rate", getattr(optimizer, "learning_rate", None))
    plateau = config.schedule if isinstance(config.schedule, ReduceOnPlateau) else None
    if plateau is not None and state.schedule is None:
        state.schedule = plateau.start(base)
    records_rate = config.schedule is not None or getattr(optimizer, "decay", 0) > 0
    history = History(monitor=config.early_stopping.monitor if config.early_stopping else None)
    stopper = Stopper(config.early_stopping, pipeline.parameters()) if config.early_stopping else None
    with blas.blas_threads(threads), Progress(verbose, state.epoch + 1, state.epoch + config.epochs, stream) as progress:
        for _ in range(config.epochs):
            if config.schedule is not None:
                optimizer.learning_rate = config.schedule.rate(base, state.epoch, state.schedule)
            state.epoch += 1
            started = time.perf_counter()
            history.interrupted = train(progress)
            logs = evaluate()
            if records_rate:
                logs["learning_rate"] = optimizer.last_learning_rate
            history.record(state.epoch, logs)
            progress.epoch(state.epoch, logs, samples, time.perf_counter() - started)
            if on_epoch is not None:
                on_epoch(state.epoch, logs)
            if plateau is not None:
                plateau.update(state.schedule, logs)
            if stopper is not None and stopper.update(state.epoch, logs):
                history.stopped_early = True
            if history.stopped_early or history.interrupted:
                break
    if stopper is not None:
        history.best_epoch = stopper.best_epoch
        if stopper.restore() and stopper.best_epoch != history.epochs[-1]:
            history.restored_epoch = stopper.best_epoch
    return history


def _check_monitors(config: TrainingConfig, validation_rows: int) -> None:
    """Early stopping and reduce_on_plateau watching a val_ quantity need validation rows."""
    for what, rule in (("early_stopping", config.early_stopping), ("reduce_on_plateau", config.schedule)):
        monitor = getattr(rule, "monitor", None)
        if monitor is not None and monitor.startswith("val_") and not validation_rows:
            raise TrainingError(f"{what} monitors {monitor}, but there are no validation rows: set "
                                "validation_split, or pass validation data (fit(..., validation_data=(X, y)))")


def _epoch(pipeline: Any, X: np.ndarray, targets: np.ndarray, weights: np.ndarray | None, size: int,
           config: TrainingConfig, progress: Progress, stop: Callable[[], bool] | None) -> dict[str, int] | None:
    """One pass over the training rows in batches of ``size``; where it
    stopped when ``stop()`` turned true after a batch, else None."""
    epoch = pipeline.state.epoch
    order = pipeline.state.shuffle_rng.permutation(len(X)) if config.shuffle else np.arange(len(X))
    batches = range(0, len(X), size)
    progress.start_epoch(epoch, len(X))
    with np.errstate(over="ignore", invalid="ignore"):  # once per epoch: entering one costs about a µs
        for number, start in enumerate(batches, 1):
            rows = order[start:start + size]
            _step(pipeline, X[rows], targets[rows], epoch, number, weights[rows] if weights is not None else None,
                  config.clipping)
            progress.batch(epoch, number, len(batches), len(rows), len(X))
            if stop is not None and stop():
                return {"epoch": epoch, "batch": number, "batches": len(batches)}
    return None


def train_step(pipeline: Any, X: np.ndarray, targets: np.ndarray, epoch: int = 0, batch: int = 0, *,
               weights: np.ndarray | None = None, config: TrainingConfig | None = None) -> float:
    """One step: forward in training mode, loss, backward, finiteness check,
    clipping (``config.clipping``; ``config`` is the pipeline's own when not
    given), optimiser update. ``weights``: one per sample, for a weighted
    loss. Returns the batch loss, penalties included. Overflow is not warned
    about: it is caught and reported by the finiteness check."""
    clipping = (config if config is not None else pipeline.training).clipping
    with np.errstate(over="ignore", invalid="ignore"):
        return _step(pipeline, X, targets, epoch, batch, weights, clipping)


def _step(pipeline: Any, X: np.ndarray, targets: np.ndarray, epoch: int, batch: int, weights: np.ndarray | None,
          clipping: Clipping | None) -> float:
    """:func:`train_step` under the caller's error state, which ignores overflow.

    A chain ending in softmax + categorical cross-entropy with class labels
    finds the labels' positions once, for the loss and the fused gradient.
    When the layers' arrays are still the views of a compiled small net's
    two buffers (:mod:`netspec.runtime.flat`), one dot product checks every
    gradient and plain SGD updates every parameter at once; the same values."""
    output = pipeline.run(X, training=True)
    loss_function = pipeline.loss_function
    if (targets.ndim == 1 and type(loss_function) is CategoricalCrossentropy and not loss_function.from_logits
            and pipeline.graph is None and pipeline.layers and type(pipeline.layers[-1]) is Softmax):
        positions = label_positions(output, targets)
        losses = picked_crossentropy(output, positions)
        loss = mean(losses if weights is None else losses * weights)
    else:
        positions = None
        loss = weighted_loss(loss_function, output, targets, weights)
    if pipeline.regularized:
        loss += pipeline.regularization_loss()
    if positions is None:
        pipeline.backward(targets, weights)
    else:
        pipeline.backward(targets, weights, positions)
    flat = getattr(pipeline, "flat", None)
    if flat is not None and flat.intact(pipeline.layers):  # the lists are the views, in the same order
        parameters, gradients = flat.parameter_views, flat.gradient_views
        every = flat.gradients
        if not (math.isfinite(loss) and math.isfinite(np.dot(every, every))):  # all_finite, inlined
            _check_finite(pipeline, loss, [every], epoch, batch)
        if clipping is not None:
            clipping(gradients)
        optimizer = pipeline.optimizer
        if type(optimizer) is SGD and not optimizer.slot_names:  # elementwise: one update of the whole buffer
            optimizer.step_contiguous(flat.parameters, every)
            return loss
    else:
        parameters, gradients = pipeline.parameters(), pipeline.gradients()
        _check_finite(pipeline, loss, gradients, epoch, batch)
        if clipping is not None:
            clipping(gradients)
    pipeline.optimizer.step(parameters, gradients)
    return loss
