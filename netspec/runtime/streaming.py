"""Data larger than memory: forward passes and training one chunk of rows at a time.

Arrays that are read, not held -- ``dask.array.Array``, ``np.memmap`` (a
``.npy`` opened with ``mmap_mode``) and zarr arrays -- go through here;
everything else stays on the in-memory paths of :class:`Pipeline` and
:mod:`netspec.runtime.training`, which pay one type check and nothing more.
dask is never imported here: its arrays are recognised by their type's module.

**Forward and predict.** :func:`lazy_forward` turns a dask array of inputs
into a dask array of outputs, one block per chunk of rows (the trailing axes
of a sample are first merged into one chunk). Each block is checked at the
door when it is computed, and an error names its rows.

**Training.** :func:`fit` reads the rows in chunks -- a dask array's own
chunks, a zarr array's chunks merged to about :data:`CHUNK_BYTES`, or
:data:`CHUNK_BYTES` of a memory map -- and feeds mini-batches to
:func:`~netspec.runtime.training.train_step`. The shuffle needs no index of
the whole array: each epoch draws a random order of the chunks, takes them
:data:`BUFFER_CHUNKS` at a time, shuffles the rows of those chunks together
(with the rows left over from the previous buffer, fewer than a batch) and
cuts them into batches. So a batch mixes rows of up to four chunks, and which
chunks meet changes every epoch. Both draws come from the pipeline's
``state.shuffle_rng``, so a seed makes training reproducible and a resumed
checkpoint continues exactly as an uninterrupted run. Memory holds a buffer
of chunks, never the data. (A memory map you pass keeps the pages it has
read mapped -- file-backed, which the system reclaims as it needs, but
counted in the resident set; :func:`netspec.data.open` maps one chunk at a
time instead.)

``validation_split`` holds out, in each chunk, ``round(rows · split)`` rows
picked by a generator seeded with ``(train.seed, chunk index)``: the same
rows every epoch and for the same seed and chunking, spread over the whole
data, and found without reading it. After each epoch, the loss and metrics
are accumulated over the chunks in one inference pass (sums of losses and
hits, and the per-class counts of precision, recall and F1), so they equal
the in-memory values up to rounding.
"""

from __future__ import annotations

import math
import re
import threading
from typing import Any, Callable, Iterator, TextIO

import numpy as np

from ..errors import DataError
from . import threads as blas
from .checks import as_sample_weights
from .metrics import METRICS, _mean_ratio
from .training import (
    History,
    Progress,
    TrainingConfig,
    TrainingError,
    _check_monitors,
    loss_logs,
    run_epochs,
    sample_weights,
    train_step,
    weighted_loss,
)

CHUNK_BYTES = 32 * 1024**2  # rows read at once from a memory map (and a zarr array's chunks merged up to it)
BUFFER_CHUNKS = 4  # chunks whose rows are shuffled together
CHUNK_SHARE = 64  # a chunk's layer outputs take at most this fraction of the memory limit (8 GiB: 128 MiB)
COUNTED = ("precision", "recall", "f1")


def is_dask(value: Any) -> bool:
    """True for a ``dask.array.Array`` (told by its type's module, so dask is not imported)."""
    return type(value).__module__.startswith("dask.")


def is_streamed(value: Any) -> bool:
    """True for arrays that :func:`fit` reads chunk by chunk: dask arrays, memory maps and zarr arrays."""
    return isinstance(value, np.memmap) or is_dask(value) or type(value).__module__.startswith("zarr")


# ---------------------------------------------------------------- at the door, by rows

_INDEX = re.compile(r"\b(X|y|sample_weight)\[(\d+)")
_ROW = re.compile(r"\brow (\d+) of y\b")


def in_rows(error: DataError, start: int, stop: int) -> DataError:
    """``error`` about rows ``start:stop`` of the data, its indices made global and the rows named."""
    message = _INDEX.sub(lambda m: f"{m.group(1)}[{int(m.group(2)) + start}", str(error))
    message = _ROW.sub(lambda m: f"row {int(m.group(1)) + start} of y", message)
    return DataError(f"rows {start:,} to {stop - 1:,}: {message}")


def checked_rows(pipeline: Any, X: np.ndarray, start: int) -> np.ndarray:
    """Rows ``start:start + len(X)`` of the inputs, checked as :meth:`Pipeline.checked` checks them."""
    try:
        return pipeline.checked(X)
    except DataError as error:
        raise in_rows(error, start, start + len(X)) from None


def target_rows(pipeline: Any, y: np.ndarray, start: int) -> np.ndarray:
    """Rows ``start:start + len(y)`` of the targets, checked as :meth:`Pipeline.targets` checks them."""
    try:
        return pipeline.targets(y, len(y))
    except DataError as error:
        raise in_rows(error, start, start + len(y)) from None


def check_sample_shape(pipeline: Any, shape: tuple[int, ...], dtype: Any) -> None:
    """The shape and dtype of the inputs, checked on one row of zeros before any chunk is read
    (the same messages as for an array in memory)."""
    if pipeline.input_shape is None:
        raise DataError("this network has several inputs; chunked data can feed only a network with one input")
    if len(shape) < 1:
        raise DataError(f"X has shape {shape}; expected (samples, {', '.join(map(str, pipeline.input_shape))})")
    pipeline.checked(np.zeros((1, *shape[1:]), dtype=dtype))


def read(array: Any, start: int, stop: int) -> np.ndarray:
    """Rows ``start:stop`` of a dask, zarr, memory-mapped or in-memory array, as a NumPy array."""
    part = array[start:stop]
    return part.compute() if is_dask(part) else np.asarray(part)


def chunk_bounds(array: Any, chunk_rows: int | None = None) -> list[tuple[int, int]]:
    """``(start, stop)`` of each chunk of rows: ``chunk_rows`` when given, else a dask array's
    own chunks, a zarr array's chunks merged to about :data:`CHUNK_BYTES`, or :data:`CHUNK_BYTES`."""
    rows = int(array.shape[0])
    if chunk_rows is None and is_dask(array):
        edges = np.cumsum((0, *array.chunks[0]))
        return [(int(a), int(b)) for a, b in zip(edges[:-1], edges[1:]) if b > a]
    if chunk_rows is None:
        row_bytes = math.prod(array.shape[1:]) * np.dtype(array.dtype).itemsize
        chunk_rows = max(1, CHUNK_BYTES // max(1, row_bytes))
        stored = getattr(array, "chunks", None)
        if type(array).__module__.startswith("zarr") and stored:
            chunk_rows = max(stored[0], chunk_rows // stored[0] * stored[0])
    return [(start, min(start + chunk_rows, rows)) for start in range(0, rows, chunk_rows)]


def row_blocks(array: Any, chunk_rows: int) -> Iterator[tuple[int, np.ndarray]]:
    """``(start, rows)`` for each block of ``chunk_rows`` rows, read one at a time."""
    for start, stop in chunk_bounds(array, chunk_rows):
        yield start, read(array, start, stop)


def default_chunk_rows(pipeline: Any, sample: np.ndarray, memory_limit: int) -> int:
    """Rows per chunk for inference when none are asked for: as many as keep one
    chunk's layer outputs (every layer keeps its last one) within
    ``memory_limit / CHUNK_SHARE`` bytes, measured on ``sample`` (one checked row)."""
    with np.errstate(all="ignore"):
        pipeline.run(sample)
    values = sample.size + sum(layer.output.size for layer in pipeline.layers if getattr(layer, "output", None) is not None)
    return max(1, memory_limit // CHUNK_SHARE // (values * pipeline.dtype.itemsize))


# ---------------------------------------------------------------- lazy forward

class BlockForward:
    """The forward pass of one block of rows, for ``map_blocks``: checked at
    the door (errors name the rows), run in inference (or training) mode, and
    copied out of the layers' buffers. One block runs at a time, since the
    layers keep their last outputs; picklable for dask's distributed workers."""

    def __init__(self, pipeline: Any, training: bool):
        self.pipeline, self.training = pipeline, training
        self.lock = threading.Lock()

    def __getstate__(self) -> dict:
        return {"pipeline": self.pipeline, "training": self.training}

    def __setstate__(self, state: dict) -> None:
        self.__init__(state["pipeline"], state["training"])

    def __call__(self, block: np.ndarray, block_info: dict | None = None) -> np.ndarray:
        start = block_info[0]["array-location"][0][0] if block_info else 0
        with self.lock:
            X = checked_rows(self.pipeline, block, start)
            return np.array(self.pipeline.run(X, self.training), copy=True)


def lazy_forward(pipeline: Any, X: Any, training: bool = False) -> Any:
    """The network's output on the dask array ``X`` (samples, *input_shape): a dask
    array (samples, *output_shape) of the pipeline's dtype, with ``X``'s row
    chunks, computed block by block when asked for. The shape and dtype are
    checked now; each block's values (NaN, overflow) when it is computed."""
    check_sample_shape(pipeline, tuple(X.shape), X.dtype)
    X = X.rechunk({axis: -1 for axis in range(1, X.ndim)})
    out = tuple(pipeline.output_shape)
    return X.map_blocks(BlockForward(pipeline, training), dtype=pipeline.dtype, token="netspec-forward",
                        chunks=(X.chunks[0], *((size,) for size in out)),
                        drop_axis=list(range(1, X.ndim)), new_axis=list(range(1, len(out) + 1)),
                        meta=np.empty((0,) * (len(out) + 1), pipeline.dtype))


# ---------------------------------------------------------------- streamed metrics

class Totals:
    """The loss and metrics of one set of rows, accumulated chunk by chunk:
    row-weighted sums of the means, and per-class counts for precision,
    recall and F1 (whose macro average is not a mean over rows)."""

    def __init__(self, pipeline: Any, metrics: tuple[str, ...], top_k: int):
        self.pipeline, self.metrics, self.top_k = pipeline, metrics, top_k
        self.from_logits = getattr(pipeline.loss_function, "from_logits", False)
        self.rows = 0
        self.loss = 0.0
        self.sums = dict.fromkeys(metrics, 0.0)
        self.counts: list[np.ndarray] | None = None

    def add(self, output: np.ndarray, targets: np.ndarray, weights: np.ndarray | None = None) -> None:
        n = len(output)
        if n == 0:
            return
        self.rows += n
        self.loss += weighted_loss(self.pipeline.loss_function, output, targets, weights) * n
        for name in self.metrics:
            if name not in COUNTED:
                self.sums[name] += METRICS[name](output, targets, self.pipeline.task, self.from_logits, self.top_k) * n
        if any(name in COUNTED for name in self.metrics):
            counts = self._counts(output, targets)
            self.counts = counts if self.counts is None else [a + b for a, b in zip(self.counts, counts)]

    def _counts(self, output: np.ndarray, targets: np.ndarray) -> list[np.ndarray]:
        """Hits, predicted and true counts per class (categorical), or TP, FP, FN per label (binary)."""
        task = self.pipeline.task
        if task == "categorical":
            classes = output.shape[1]
            predicted = np.argmax(output, axis=1)
            truth = targets if targets.ndim == 1 else np.argmax(targets, axis=1)
            return [np.bincount(truth[predicted == truth], minlength=classes),
                    np.bincount(predicted, minlength=classes), np.bincount(truth, minlength=classes)]
        if task != "binary":
            raise DataError("precision, recall and f1 count classes: they need a classification loss "
                            "(categorical or binary cross-entropy)")
        predicted, truth = output > (0.0 if self.from_logits else 0.5), targets > 0.5
        return [np.sum(predicted & truth, axis=0), np.sum(predicted & ~truth, axis=0),
                np.sum(~predicted & truth, axis=0)]

    def values(self, prefix: str = "", regularization: float | None = None) -> dict[str, float]:
        """As :func:`~netspec.runtime.training.metric_values` gives them, over every row added."""
        logs = loss_logs(self.loss / self.rows, prefix, regularization)
        tp, fp, fn = self._confusion() if self.counts is not None else (None, None, None)
        for name in self.metrics:
            if name == "precision":
                logs[prefix + name] = _mean_ratio(tp, tp + fp)
            elif name == "recall":
                logs[prefix + name] = _mean_ratio(tp, tp + fn)
            elif name == "f1":
                logs[prefix + name] = _mean_ratio(2 * tp, 2 * tp + fp + fn)
            else:
                logs[prefix + name] = float(self.sums[name] / self.rows)
        return logs

    def _confusion(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        first, second, third = self.counts
        if self.pipeline.task != "categorical":
            return first, second, third
        present = (second + third) > 0
        return first[present], (second - first)[present], (third - first)[present]


# ---------------------------------------------------------------- streamed training

class Rows:
    """Training data read in chunks: inputs, targets and sample weights
    (array-likes of the same number of rows), each chunk checked at the door,
    and which of its rows are held out for validation."""

    def __init__(self, pipeline: Any, X: Any, y: Any, sample_weight: Any = None, *, name: str = "X"):
        if y is None:
            raise DataError(f"there are no labels or targets for the rows of {name} to train on")
        self.pipeline, self.X, self.y, self.sample_weight = pipeline, X, y, sample_weight
        check_sample_shape(pipeline, tuple(X.shape), X.dtype)
        self.samples = int(X.shape[0])
        for what, other in (("y", y), ("sample_weight", sample_weight)):
            if other is not None and int(other.shape[0]) != self.samples:
                raise DataError(f"{what} has {int(other.shape[0])} rows but X has {self.samples}")
        self.bounds = chunk_bounds(X)
        self.held: list[np.ndarray] | None = None

    def hold_out(self, fraction: float, seed: int) -> int:
        """Hold out ``round(rows · fraction)`` rows of each chunk, drawn with ``(seed, chunk)``; rows held."""
        self.held = []
        for index, (start, stop) in enumerate(self.bounds):
            rows = stop - start
            mask = np.zeros(rows, dtype=bool)
            mask[np.random.default_rng([seed, index]).permutation(rows)[:int(round(rows * fraction))]] = True
            self.held.append(mask)
        return int(sum(mask.sum() for mask in self.held))

    def chunk(self, index: int) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        """Chunk ``index``, every row of it: checked inputs, targets and sample weights (or None)."""
        start, stop = self.bounds[index]
        X = checked_rows(self.pipeline, read(self.X, start, stop), start)
        targets = target_rows(self.pipeline, read(self.y, start, stop), start)
        weights = None
        if self.sample_weight is not None:
            try:
                weights = as_sample_weights(read(self.sample_weight, start, stop), stop - start, self.pipeline.dtype)
            except DataError as error:
                raise in_rows(error, start, stop) from None
        return X, targets, weights

    def kept(self, index: int) -> np.ndarray | None:
        """The mask of chunk ``index``'s training rows (None: all of them)."""
        return ~self.held[index] if self.held is not None else None


def _take(parts: tuple[Any, ...], mask: np.ndarray | None) -> tuple[Any, ...]:
    return parts if mask is None else tuple(part[mask] if part is not None else None for part in parts)


def _weights(pipeline: Any, config: TrainingConfig, targets: np.ndarray, weights: np.ndarray | None) -> Any:
    """Each row's weight (class weight times sample weight), as the in-memory fit computes it."""
    combined = sample_weights(targets, pipeline.task, pipeline.output_features, config.class_weight, weights)
    return combined.astype(pipeline.dtype, copy=False) if combined is not None else None


def fit(pipeline: Any, X: Any, y: Any, config: TrainingConfig, *, verbose: int = 1, stream: TextIO | None = None,
        on_epoch: Callable[[int, dict[str, float]], None] | None = None, stop: Callable[[], bool] | None = None,
        threads: int | None = None, validation_data: tuple[Any, Any] | None = None,
        sample_weight: Any = None) -> History:
    """Train ``pipeline`` on rows read chunk by chunk from ``X`` and ``y`` (dask,
    zarr, memory-mapped or in-memory arrays of the same number of rows), as
    :func:`netspec.runtime.training.fit` does in memory, with the chunked
    shuffle and validation split of this module's docstring. Needs mini-batches
    (``batch_size``). ``validation_data``: ``(X_val, y_val)``, read the same way."""
    if config.batch_size is None:
        raise TrainingError("training on data read in chunks needs mini-batches: set train.batch_size "
                            "(or fit(..., batch_size=N)); a full batch would hold every row in memory")
    rows = Rows(pipeline, X, y, sample_weight)
    validation = Rows(pipeline, *validation_data, name="the validation data") if validation_data is not None else None
    if validation is None and config.validation_split > 0:
        seed = config.seed if config.seed is not None else int(np.random.default_rng().integers(2**63))
        held = rows.hold_out(config.validation_split, seed)
        if held == 0 or held == rows.samples:
            raise TrainingError(f"validation_split {config.validation_split} of {rows.samples} samples leaves "
                                f"{rows.samples - held} for training and {held} for validation; both need at least 1")
        validating, training_rows = held, rows.samples - held
    else:
        validating, training_rows = (validation.samples if validation is not None else 0), rows.samples
    _check_monitors(config, validating)
    first = checked_rows(pipeline, read(X, 0, 1), 0)
    count = blas.choose(blas.step_work(pipeline, first, min(config.batch_size, training_rows), training=True), threads)
    return run_epochs(pipeline, config, training_rows, count,
                      lambda progress: _epoch(pipeline, rows, training_rows, config, progress, stop),
                      lambda: _epoch_values(pipeline, rows, validation, config),
                      verbose=verbose, stream=stream, on_epoch=on_epoch)


def _epoch(pipeline: Any, rows: Rows, samples: int, config: TrainingConfig, progress: Progress,
           stop: Callable[[], bool] | None) -> dict[str, int] | None:
    """One pass over the training rows: chunks in a random order, rows shuffled within buffers of
    :data:`BUFFER_CHUNKS` chunks, batches of ``config.batch_size``; where it stopped, if ``stop()``."""
    epoch, size, rng = pipeline.state.epoch, config.batch_size, pipeline.state.shuffle_rng
    chunks = len(rows.bounds)
    order = rng.permutation(chunks) if config.shuffle else np.arange(chunks)
    total = math.ceil(samples / size)
    progress.start_epoch(epoch, samples)
    left: tuple[Any, ...] | None = None
    number = 0
    for at in range(0, chunks, BUFFER_CHUNKS):
        window = order[at:at + BUFFER_CHUNKS]
        parts = [_take(rows.chunk(int(index)), rows.kept(int(index))) for index in window]
        if left is not None:
            parts.insert(0, left)
        X = np.concatenate([part[0] for part in parts])
        targets = np.concatenate([part[1] for part in parts])
        weights = np.concatenate([part[2] for part in parts]) if parts[0][2] is not None else None
        if config.shuffle:
            mixed = rng.permutation(len(X))
            X, targets, weights = X[mixed], targets[mixed], (weights[mixed] if weights is not None else None)
        last = at + BUFFER_CHUNKS >= chunks
        end = len(X) if last else len(X) // size * size
        weights_all = _weights(pipeline, config, targets, weights)
        for start in range(0, end, size):
            number += 1
            batch = slice(start, min(start + size, end))
            train_step(pipeline, X[batch], targets[batch], epoch, number,
                       weights=weights_all[batch] if weights_all is not None else None, config=config)
            progress.batch(epoch, number, total, batch.stop - batch.start, samples)
            if stop is not None and stop():
                return {"epoch": epoch, "batch": number, "batches": total}
        left = (X[end:], targets[end:], weights[end:] if weights is not None else None) if not last else None
    return None


def evaluate(pipeline: Any, X: Any, y: Any, metrics: tuple[str, ...], *,
             regularization: float | None = None) -> dict[str, float]:
    """The loss and ``metrics`` of ``pipeline`` on rows read chunk by chunk from ``X`` and ``y``, in inference mode."""
    rows = Rows(pipeline, X, y)
    totals = Totals(pipeline, metrics, pipeline.training.top_k)
    for index in range(len(rows.bounds)):
        inputs, targets, _ = rows.chunk(index)
        totals.add(pipeline.run(inputs), targets)
    return totals.values(regularization=regularization)


def _epoch_values(pipeline: Any, rows: Rows, validation: Rows | None, config: TrainingConfig) -> dict[str, float]:
    """The epoch's loss and metrics on the training rows (weighted) and the validation rows,
    in one inference pass over the chunks."""
    train = Totals(pipeline, tuple(config.metrics), config.top_k)
    held = Totals(pipeline, tuple(config.metrics), config.top_k)
    for index in range(len(rows.bounds)):
        X, targets, weights = rows.chunk(index)
        output = pipeline.run(X)
        kept = rows.kept(index)
        if kept is None:
            train.add(output, targets, _weights(pipeline, config, targets, weights))
            continue
        kept_targets = targets[kept]
        train.add(output[kept], kept_targets,
                  _weights(pipeline, config, kept_targets, weights[kept] if weights is not None else None))
        held.add(output[~kept], targets[~kept])
    if validation is not None:
        for index in range(len(validation.bounds)):
            X, targets, _ = validation.chunk(index)
            held.add(pipeline.run(X), targets)
    penalty = pipeline.regularization_loss() if pipeline.regularized else None
    logs = train.values(regularization=penalty)
    if held.rows:
        logs.update(held.values("val_", regularization=penalty))
    return logs
