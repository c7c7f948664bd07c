"""Sweeps: many variants of one spec, from a grid of values.

A *grid* maps paths into a spec (the syntax of :meth:`Spec.replace`:
``"layers[0].neurons"``, ``"train.optimizer.learning_rate"``) to lists of
values. Each combination of one value per path is a *variant*: the base
spec's canonical tree with every path of the combination set (in grid order,
on one tree), then validated once, like a file. Invalid variants are yielded
with their diagnostics, never dropped.

>>> base = {"input": {"features": 2}, "layers": [{"type": "dense", "neurons": 8}, {"type": "softmax"}]}
>>> grid = {"layers[0].neurons": [1, 3], "train.optimizer.learning_rate": [0.1, 0.01]}
>>> [(v.name, v.values, v.ok) for v in sweep(base, grid)][1:3]  # doctest: +NORMALIZE_WHITESPACE
[('variant-0002', {'layers[0].neurons': 1, 'train.optimizer.learning_rate': 0.01}, False),
 ('variant-0003', {'layers[0].neurons': 3, 'train.optimizer.learning_rate': 0.1}, True)]

The second half trains variants (:meth:`Sweep.train`, :func:`train_all`:
in this process, or on a Dask cluster through :mod:`netspec.cluster`, each
failure recorded as its variant's result) and writes a sweep into a folder
(one canonical spec per valid variant, an index, training results as they
finish, and what it takes to go on after an interruption); it is what
``netspec sweep`` runs.
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import functools
import hashlib
import io
import json
import math
import os
import random
import re
import sys
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Collection, Iterable, Iterator, Sequence

import numpy as np

from .api import compile, infer, load, validate
from .check import describe
from .collector import paused_collector
from .errors import DataError, Diagnostic, NetspecError, SpecError
from .files import is_temporary, remove_stale, write_text
from .limits import DEFAULT_LIMITS, Limits
from .read import Document, read
from .registry import REGISTRY
from .runtime.checks import check_forward_memory
from .runtime.training import MINIMISED, fit
from .spec import FileData, Spec, Train, parse_path, set_path

Grid = dict[str, list[Any]]


@dataclass(frozen=True)
class Variant:
    """One combination of a grid's values, and what validating it found.

    - ``index``: the combination's position in the whole grid, 0-based, in
      grid order (first path slowest). A combination has the same index, and
      name, whether the grid is enumerated or sampled.
    - ``name``: ``variant-`` and ``index + 1``, zero-padded to at least four
      digits (more for grids of 10,000 or more), so names sort in grid order.
    - ``values``: path → value of this variant, in grid order.
    - ``spec``: the validated :class:`Spec`, or ``None`` when invalid.
    - ``errors``: every error (empty when valid), with paths as in the spec
      (``layers[1].in_features``); ``warnings``: the lints found.
    """

    index: int
    name: str
    values: dict[str, Any]
    spec: Spec | None
    errors: list[Diagnostic] = field(default_factory=list)
    warnings: list[Diagnostic] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


def sweep(base: Any, grid: Any, *, samples: int | None = None, seed: int | None = None) -> "Sweep":
    """The variants of ``base`` (anything :func:`netspec.load` takes) over ``grid``
    (a mapping of path → non-empty list of values, or a grid file or text, see
    :func:`load_grid`), as a :class:`Sweep`: iterate it for the variants,
    call :meth:`Sweep.train` to train them.

    Without ``samples``: every combination, in grid order — the first path
    varies slowest, the last fastest, as nested loops written in grid order.
    With ``samples=N``: N distinct combinations drawn at random (without
    replacement) from a ``random.Random(seed)``, so the same seed draws the
    same variants in the same order; when N is at least the size of the grid,
    every combination, in random order. ``seed=None`` draws differently each
    call of ``sweep`` (and the same each time one sweep is iterated).

    Paths are applied in grid order to one copy of the base's canonical tree
    (as :meth:`Spec.replace` does: missing sections are created, a bare-name
    component is opened up), so a later path may set an option inside an
    earlier path's value (``"train.optimizer"`` then
    ``"train.optimizer.learning_rate"``). A relative ``data.path`` stays
    relative to the base spec's folder.

    The base and the grid are checked now (:class:`SpecError`); variants are
    built and validated lazily, one per step of the iteration.
    """
    if samples is not None and (isinstance(samples, bool) or not isinstance(samples, int) or samples < 1):
        raise ValueError(f"samples must be a positive integer, got {samples!r}")
    is_file = isinstance(base, os.PathLike) or (isinstance(base, str) and os.path.isfile(base))
    return Sweep(load(base), load_grid(grid), samples=samples, seed=seed,
                 base_dir=os.path.dirname(os.path.abspath(base)) if is_file else None)


class Sweep:
    """The variants of a base spec over a grid, as :func:`sweep` makes them.

    Iterating gives the :class:`Variant` objects, built and validated one at
    a time, the same ones each time; ``len()`` is how many. :meth:`train`
    trains the valid ones, in this process or on a Dask cluster.
    ``base_dir`` is the folder the base's relative data paths are relative
    to (the base file's folder; None: the working directory)."""

    def __init__(self, base: Spec, grid: Grid, *, samples: int | None = None, seed: int | None = None,
                 base_dir: str | None = None):
        self.base = base
        self.grid = grid
        self.samples = samples
        self.seed = seed
        self.base_dir = base_dir
        self.draw_seed = seed if seed is not None or samples is None else random.randrange(2**32)
        self._plan = _Plan(base.to_dict(), grid)

    def __iter__(self) -> Iterator[Variant]:
        plan = self._plan
        draws = self.samples is not None
        indices = _draw(plan.total, self.samples, random.Random(self.draw_seed)) if draws else range(plan.total)
        return (plan.variant(index) for index in indices)

    def __len__(self) -> int:
        return variant_count(self.grid, self.samples)

    def __repr__(self) -> str:
        drawn = f", {self.samples} drawn with seed {self.draw_seed}" if self.samples is not None else ""
        return f"<Sweep of {len(self):,} variants over {', '.join(self.grid) or 'no paths'}{drawn}>"

    def drawn_with(self, seed: int) -> "Sweep":
        """The same sweep with the draw of ``seed``."""
        return Sweep(self.base, self.grid, samples=self.samples, seed=seed, base_dir=self.base_dir)

    def train(self, data: Any = None, *, client: Any = None, workers: int = 1, out: str | os.PathLike | None = None,
              epochs: int | None = None, metric: str | None = None, limits: Limits = DEFAULT_LIMITS,
              threads: int | None = None, progress: bool = False) -> list[Result]:
        """Train every valid variant and return their :class:`Result` objects,
        best first by ``metric`` (see :func:`rank`).

        ``data``: a built-in dataset's name (generated as ``netspec sweep
        --data`` does), a data file's path, ``(X, y)`` arrays, or None for
        each variant's own data section. ``epochs`` overrides each variant's
        ``train.epochs``; ``threads`` fixes the BLAS threads of each variant;
        ``limits`` bound each variant's parameters and memory, as for one spec.

        Where: in this process, one variant after another (``workers=1``);
        on a local Dask cluster of ``workers`` processes (``workers > 1``); or
        on the cluster of a ``distributed.Client`` (``client=``, left open).
        On a cluster, workers get each variant's spec as a dict and the data's
        description, and load the data themselves (a file by its path, so
        they must see the same files); ``(X, y)`` arrays are sent to each
        worker once. Every variant that fails, however (diverging, bad data,
        any exception, a worker that died), is a failed result with its
        error, and the others go on.

        ``out``: also write the sweep into this folder as ``netspec sweep
        --train`` does, ``results.csv`` growing as variants finish; when the
        folder already holds this same sweep (same base, grid, draw, data and
        epochs), variants it lists as ``ok`` are not trained again. A folder
        holding anything else is a :class:`NetspecError`.
        ``progress``: a bar of the variants on stderr."""
        source = DataSource.of(data, self.base_dir)
        if out is not None:
            folder = write(self, out, source, train=True, client=client, workers=workers, epochs=epochs,
                           metric=metric, limits=limits, threads=threads, progress=progress)
            return folder.results
        with contextlib.closing(train_all(self, source, client=client, workers=workers, epochs=epochs, limits=limits,
                                          threads=threads, progress=progress)) as results:
            return rank(list(results), metric)[1]


def variant_count(grid: Grid, samples: int | None = None) -> int:
    """How many variants :func:`sweep` yields for a checked ``grid``: the
    product of its list lengths, or at most ``samples`` when drawing."""
    total = math.prod(len(values) for values in grid.values())
    return total if samples is None else min(samples, total)


def load_grid(source: Any) -> Grid:
    """A grid from a ``.json``/``.yaml`` file, JSON or YAML text, or a mapping:
    an object whose keys are paths into a spec and whose values are non-empty
    lists. Raises :class:`SpecError` listing every problem, located in the file
    (line and column) when the grid came from text: ``bad-path`` (a path that
    cannot be read, or that sets a place an earlier path already set or
    replaces), ``wrong-type`` (values that are not a list), ``empty-list``,
    ``not-an-object``, and whatever reading the file found."""
    document = read(source)
    problems = _grid_problems(document.tree)
    if problems:
        raise SpecError([_locate(d, document) for d in problems])
    return document.tree


def _grid_problems(tree: Any) -> list[Diagnostic]:
    """What is wrong with a grid read as a plain tree; paths are the grid's
    (a key, such as ``("layers[0].neurons",)``)."""
    if not isinstance(tree, dict):
        return [Diagnostic((), "not-an-object", f"a grid must be an object, got {describe(tree)}",
                           'map paths to lists of values: {"layers[0].neurons": [16, 32, 64]}')]
    problems, seen = [], {}
    for key, values in tree.items():
        problems += _key_problems(key, seen)
        problems += _values_problems(key, values)
    return problems


def _key_problems(key: str, seen: dict[tuple, str]) -> list[Diagnostic]:
    """A key that is no path, or that sets a place an earlier key sets or is
    inside of (the earlier value would be overwritten, not varied)."""
    try:
        parts = parse_path(key)
    except SpecError as exc:
        return [Diagnostic((key,), "bad-path", exc.errors[0].message, exc.errors[0].hint)]
    earlier = next((k for p, k in seen.items() if p[: len(parts)] == parts), None)
    seen[parts] = key
    if earlier is None:
        return []
    return [Diagnostic((key,), "bad-path", f"{key} would overwrite {earlier}, which comes earlier in the grid",
                       f"put {key} before {earlier}, or remove one of them")]


def _values_problems(key: str, values: Any) -> list[Diagnostic]:
    if not isinstance(values, list):
        return [Diagnostic((key,), "wrong-type", f"the values of {key} must be a list, got {describe(values)}",
                           f"write [{json.dumps(values)}] for a single value")]
    if not values:
        return [Diagnostic((key,), "empty-list", f"{key} has no values",
                           "give at least one value, or remove the path from the grid")]
    return []


def _locate(diagnostic: Diagnostic, document: Document) -> Diagnostic:
    """A grid diagnostic at its key's position (a path's problems are in the key)."""
    line, column = document.position(diagnostic.path, key=True) or (None, None)
    return diagnostic.located(line, column, document.file)


class _Plan:
    """A base tree and a checked grid: builds the variant at any grid index."""

    def __init__(self, base: dict[str, Any], grid: Grid):
        self.base = base
        self.grid = grid
        self.parts = [parse_path(key) for key in grid]
        self.sizes = [len(values) for values in grid.values()]
        self.total = math.prod(self.sizes)
        self.digits = max(4, len(str(self.total)))

    def variant(self, index: int) -> Variant:
        with paused_collector():  # copying and validating allocate much and free little: see netspec.collector
            return self._variant(index)

    def _variant(self, index: int) -> Variant:
        values = {key: _copy(self.grid[key][pick]) for key, pick in zip(self.grid, self.picks(index))}
        name = f"variant-{index + 1:0{self.digits}d}"
        tree, problems = _copy(self.base), []
        for parts, value in zip(self.parts, values.values()):
            try:
                set_path(tree, parts, _copy(value))
            except SpecError as exc:
                problems += exc.errors
        if problems:
            return Variant(index, name, values, None, problems)
        report = validate(tree)
        return Variant(index, name, values, report.spec if report.ok else None, report.errors, report.warnings)

    def picks(self, index: int) -> list[int]:
        """The position in each path's list of the combination at ``index`` (mixed radix, last path fastest)."""
        picks = []
        for size in reversed(self.sizes):
            index, pick = divmod(index, size)
            picks.append(pick)
        return picks[::-1]


def _draw(total: int, count: int, rng: random.Random) -> Iterator[int]:
    """``min(count, total)`` distinct integers of ``range(total)`` in random order.
    A sparse draw remembers only what it drew, so a huge grid is never listed."""
    if 2 * count >= total:
        yield from rng.sample(range(total), total if count > total else count)
        return
    drawn: set[int] = set()
    while len(drawn) < count:
        index = rng.randrange(total)
        if index not in drawn:
            drawn.add(index)
            yield index


def _copy(value: Any) -> Any:
    """A deep copy of a JSON-like value (much faster than copy.deepcopy)."""
    if isinstance(value, dict):
        return {key: _copy(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_copy(item) for item in value]
    return value


# ---------------------------------------------------------------- training a variant

@dataclass(frozen=True)
class Result:
    """How one trained variant did: ``metrics`` holds the final ``loss``, the
    metrics, and ``val_`` ones with validation (as ``netspec train`` prints
    them); ``error`` says why training failed (then ``metrics`` is empty)."""

    name: str
    values: dict[str, Any]
    metrics: dict[str, float]
    seconds: float
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


def measured_by(spec: Spec) -> set[str]:
    """What training ``spec`` reports, known before training: ``loss``, its
    metrics, ``accuracy`` for a classifier (as ``netspec train`` prints), and
    the ``val_`` twin of each when it validates (a validation split, or
    ``data.validation``). Empty without a loss (nothing to train)."""
    if spec.loss is None:
        return set()
    train = spec.train if spec.train is not None else Train()
    names = {"loss", *train.metrics}
    if REGISTRY.get("loss", spec.loss.type).targets != "regression":
        names.add("accuracy")
    if train.validation_split > 0 or (spec.data is not None and spec.data.validation is not None):
        names |= {"val_" + name for name in names}
    return names


def train_variant(variant: Variant, data: Callable[[Spec], tuple[Any, Any]], *, epochs: int | None = None,
                  limits: Limits = DEFAULT_LIMITS, threads: int | None = None,
                  validation: Callable[[Spec], tuple[Any, Any]] | None = None) -> Result:
    """Compile and train a valid ``variant`` quietly on ``data(spec)`` → ``(X, y)``,
    then report the values of the weights kept on the training and validation
    rows, as ``netspec train`` does; when the variant's data has a
    ``validation`` section, ``validation(spec)`` → ``(X, y)`` gives those rows. A :class:`DataError` or
    :class:`TrainingError` is recorded in the result, not raised; so is data
    whose forward pass would hold more than ``limits.max_memory_bytes`` of
    layer outputs, before any is computed. ``threads``: BLAS threads (see
    :mod:`netspec.runtime.threads`)."""
    assert variant.spec is not None, "only valid variants are trained"
    started = time.perf_counter()
    try:
        X, y = data(variant.spec)
        if y is None:
            raise DataError("the data has no labels or targets to train on")
        widths = infer(variant.spec, limits=limits).widths
        samples = len(next(iter(X.values()))) if isinstance(X, dict) else len(X)
        check_forward_memory(samples, widths, variant.spec.dtype, limits.max_memory_bytes)
        pipeline = compile(variant.spec, limits=limits)
        config = pipeline.training.with_overrides(**({"epochs": epochs} if epochs is not None else {}))
        config = config.with_overrides(metrics=pipeline.reported_metrics)
        X = pipeline.checked(X)
        rows = None
        if validation is not None and variant.spec.data is not None and variant.spec.data.validation is not None:
            X_val, y_val = validation(variant.spec)
            X_val = pipeline.checked(X_val)
            rows = (X_val, pipeline.targets(y_val, len(X_val)))
        with np.errstate(over="ignore", invalid="ignore"):  # divergence is reported as a TrainingError
            history = fit(pipeline, X, pipeline.targets(y, len(X)), config, verbose=0, threads=threads,
                          validation=rows)
    except NetspecError as exc:
        return Result(variant.name, variant.values, {}, time.perf_counter() - started, str(exc).splitlines()[0])
    return Result(variant.name, variant.values, history.final(), time.perf_counter() - started)


def _attempt(variant: Variant, data: "DataSource", *, epochs: int | None, limits: Limits,
             threads: int | None) -> Result:
    """:func:`train_variant` on ``data``, with any exception (not only a
    netspec error) recorded as the variant's failure, so one variant cannot stop the others."""
    started = time.perf_counter()
    try:
        return train_variant(variant, data.training, epochs=epochs, limits=limits, threads=threads,
                             validation=data.validation)
    except Exception as exc:  # noqa: BLE001 — a bug, MemoryError or bad file in one variant is its result
        return Result(variant.name, variant.values, {}, time.perf_counter() - started, error_text(exc))


def error_text(exc: BaseException) -> str:
    """The one line ``results.csv`` keeps of why a variant failed: a netspec
    error's first line, else the exception's type and first line."""
    lines = str(exc).strip().splitlines()
    first = lines[0] if lines else ""
    if isinstance(exc, NetspecError) and first:
        return first
    return f"{type(exc).__name__}: {first}" if first else type(exc).__name__


# ---------------------------------------------------------------- where the data comes from

@dataclass(frozen=True)
class DataSource:
    """Where the variants of a sweep get their rows, small enough to send to
    a cluster's workers in place of the arrays.

    - ``name``: a built-in dataset (generated as ``--data`` does: ``spiral``
      with seed 0) or a data file by absolute path; None: each variant's own
      data section, its relative paths taken from ``base_dir``.
    - ``csv``: CSV reading options (``label``, ``header``, ``delimiter``).
    - ``arrays``: ``(X, y)`` given as arrays instead (sent to each worker once).

    Each process loads each distinct dataset once and keeps it (a few at most)."""

    name: str | None = None
    base_dir: str | None = None
    csv: tuple[tuple[str, Any], ...] = ()
    arrays: tuple[Any, Any] | None = field(default=None, compare=False, repr=False)

    @classmethod
    def of(cls, data: Any, base_dir: str | None = None, csv: dict[str, Any] | None = None) -> "DataSource":
        """From what :meth:`Sweep.train` takes: None, a dataset name or a path, or ``(X, y)``."""
        if isinstance(data, DataSource):
            return data
        options = tuple(sorted((csv or {}).items()))
        if data is None:
            return cls(None, base_dir, options)
        if isinstance(data, (str, os.PathLike)):
            from . import data as datasets

            name = os.fspath(data)
            return cls(name if name.lower() in datasets.DATASETS else os.path.abspath(name), base_dir, options)
        if isinstance(data, tuple) and len(data) == 2:
            return cls(None, base_dir, options, arrays=(np.asarray(data[0]), data[1]))
        raise TypeError(f"data must be a dataset's name, a file's path or (X, y) arrays, got {describe(data)}")

    def training(self, spec: Spec) -> tuple[Any, Any]:
        """``(X, y)`` to train ``spec`` on."""
        if self.arrays is not None:
            return self.arrays
        if self.name is None and spec.data is None:
            raise DataError("the spec has no data section: give the sweep data (a built-in dataset's name, "
                            "a file or (X, y) arrays)")
        return _loaded(self.name, self.base_dir, self.csv, None if self.name else spec.data, _input_names(spec))

    def validation(self, spec: Spec) -> tuple[Any, Any]:
        """The rows of ``spec``'s ``data.validation`` section."""
        return _loaded(None, self.base_dir, self.csv, spec.data.validation, _input_names(spec))

    def identity(self) -> dict[str, Any]:
        """What makes two sources give the same rows (for resuming a sweep folder)."""
        found = {"data": self.name, "base_dir": self.base_dir, "csv": dict(self.csv)}
        if self.arrays is not None:
            digest = hashlib.sha256()
            for array in self.arrays:
                array = np.ascontiguousarray(array)
                digest.update(f"{array.dtype.str}{array.shape}".encode())
                digest.update(array.view(np.uint8).reshape(-1))
            found["arrays"] = digest.hexdigest()
        return found


def _input_names(spec: Spec) -> tuple[str, ...] | None:
    names = tuple(infer(spec).input_shapes)
    return names if len(names) > 1 else None


@functools.lru_cache(maxsize=8)
def _loaded(name: str | None, base_dir: str | None, csv_options: tuple, section: Any,
            inputs: tuple[str, ...] | None) -> tuple[Any, Any]:
    from . import data

    options = {**dict(csv_options), **({"inputs": list(inputs)} if inputs else {})}
    if section is not None:
        return tuple(data.from_section(section, base_dir, **options))
    if name.lower() in data.DATASETS:
        return tuple(data.resolve(name, **({"seed": 0} if name.lower() == "spiral" else {})))
    return tuple(data.resolve(name, **options))


# ---------------------------------------------------------------- training many variants

def train_all(variants: Sequence[Variant], data: DataSource, *, client: Any = None, workers: int = 1,
              scheduler: str | None = None, epochs: int | None = None, limits: Limits = DEFAULT_LIMITS,
              threads: int | None = None, progress: bool = False, skip: Collection[str] = (),
              on_variant: Callable[[Variant], None] | None = None) -> Iterator[Result]:
    """Train the valid ``variants`` whose names are not in ``skip``, and yield
    each :class:`Result` as it finishes (see :meth:`Sweep.train` for where).
    ``on_variant(variant)`` is called for every variant, in order, before it
    is trained (in this process) or submitted (to a cluster).
    ``progress``: a bar of the variants trained on stderr (tqdm)."""
    _check_where(client, workers, scheduler)
    todo = [v for v in variants if v.ok and v.name not in skip]
    options = {"epochs": epochs, "limits": limits, "threads": threads}
    with _Bar(len(todo), progress) as bar:
        if client is None and scheduler is None and workers == 1:
            results = _in_process(variants, data, options, skip, on_variant)
        else:
            results = _on_cluster(variants, data, options, skip, on_variant, client=client, workers=workers,
                                  scheduler=scheduler)
        with contextlib.closing(results):
            for result in results:
                bar.done(result)
                yield result


def _check_where(client: Any, workers: Any, scheduler: str | None) -> None:
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ValueError(f"workers must be a positive integer, got {workers!r}")
    if client is not None and (workers > 1 or scheduler is not None):
        raise ValueError("give a client, or workers > 1, or a scheduler's address, not several")


@contextlib.contextmanager
def _cluster_ready(where: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """``where`` (the options of :func:`train_all`) with the client of the
    cluster it asks for already open, so that a cluster that cannot be
    reached is an error before anything is written."""
    client, workers, scheduler = where.get("client"), where.get("workers", 1), where.get("scheduler")
    _check_where(client, workers, scheduler)
    if client is not None or (scheduler is None and workers == 1):
        yield where
        return
    from . import cluster

    with cluster.client_for(workers=workers, scheduler=scheduler) as opened:
        yield {**where, "client": opened, "workers": 1, "scheduler": None}


def _in_process(variants: Sequence[Variant], data: DataSource, options: dict[str, Any], skip: Collection[str],
                on_variant: Callable[[Variant], None] | None) -> Iterator[Result]:
    for variant in variants:
        if on_variant is not None:
            on_variant(variant)
        if variant.ok and variant.name not in skip:
            yield _attempt(variant, data, **options)


def _on_cluster(variants: Sequence[Variant], data: DataSource, options: dict[str, Any], skip: Collection[str],
                on_variant: Callable[[Variant], None] | None, **where: Any) -> Iterator[Result]:
    from . import cluster

    shared, sent = (data.arrays, dataclasses.replace(data, arrays=None)) if data.arrays is not None else ((), data)
    calls, todo = [], {}
    for variant in variants:
        if on_variant is not None:
            on_variant(variant)
        if variant.ok and variant.name not in skip:
            todo[variant.name] = variant
            payload = {"index": variant.index, "name": variant.name, "values": variant.values,
                       "spec": variant.spec.to_dict()}
            calls.append((variant.name, (payload, sent, options)))
    if not calls:
        return
    with cluster.client_for(**where) as client:
        for name, result, exc in cluster.run(train_on_worker, calls, client, shared=shared, name="netspec-train"):
            yield result if exc is None else Result(name, todo[name].values, {}, math.nan,
                                                    f"lost on the cluster: {error_text(exc)}")


def train_on_worker(payload: dict[str, Any], data: DataSource, options: dict[str, Any], *arrays: Any) -> Result:
    """Run on a cluster's worker: rebuild the variant from its spec as a dict
    (``payload``: index, name, values, spec) and train it as :func:`_attempt`
    does. Plugins installed on the worker are loaded first."""
    _plugins_once()
    if arrays:
        data = dataclasses.replace(data, arrays=tuple(arrays))
    try:
        spec = load(payload["spec"])
    except NetspecError as exc:
        return Result(payload["name"], payload["values"], {}, 0.0, f"the worker cannot read the variant: {exc}")
    variant = Variant(payload["index"], payload["name"], payload["values"], spec)
    return _attempt(variant, data, **options)


@functools.cache
def _plugins_once() -> None:
    """Load the installed plugins in this (worker) process, the first time it trains a variant."""
    from .plugins import load_plugins

    load_plugins()


class _Bar:
    """A tqdm bar of variants trained, on stderr, with how many failed; nothing when not ``shown``."""

    def __init__(self, total: int, shown: bool):
        self.total, self.shown = total, shown and total > 0
        self.failed = 0
        self.bar: Any = None

    def __enter__(self) -> "_Bar":
        if self.shown:
            from tqdm import tqdm

            self.bar = tqdm(total=self.total, file=sys.stderr, desc="sweep", unit="variant", mininterval=0.1,
                            **self._width())
        return self

    @staticmethod
    def _width() -> dict[str, Any]:
        """Follow the terminal's width; 100 columns and lines for one that
        reports no size (tqdm would draw nothing on a terminal of 0 lines)."""
        try:
            columns = os.get_terminal_size(sys.stderr.fileno()).columns
        except (OSError, ValueError, AttributeError):
            return {}
        return {"dynamic_ncols": True} if columns > 0 else {"ncols": 100, "nrows": 100}

    def done(self, result: Result) -> None:
        if self.bar is None:
            return
        self.failed += not result.ok
        self.bar.set_postfix_str(f"last {result.name}" + (f", {self.failed} failed" if self.failed else ""),
                                 refresh=False)
        self.bar.update(1)

    def __exit__(self, *exc: Any) -> None:
        if self.bar is not None:
            self.bar.close()


def rank(results: Iterable[Result], metric: str | None = None) -> tuple[str, list[Result]]:
    """``(metric, results sorted best first)``. ``metric`` defaults to
    ``val_loss`` when any result has it, else ``loss``; losses and ``mae``
    sort ascending, accuracy descending; results without it come last, in
    their order."""
    results = list(results)
    if metric is None:
        metric = "val_loss" if any("val_loss" in r.metrics for r in results) else "loss"
    sign = 1.0 if metric.removeprefix("val_") in MINIMISED else -1.0
    measured = [r for r in results if metric in r.metrics]
    best_first = sorted(measured, key=lambda r: sign * r.metrics[metric])
    return metric, best_first + [r for r in results if metric not in r.metrics]


# ---------------------------------------------------------------- a sweep folder

INDEX_CSV, INDEX_JSON, RESULTS_CSV, MANIFEST = "index.csv", "index.json", "results.csv", "sweep.json"
_WRITTEN = re.compile(r"variant-\d+\.json|index\.csv|index\.json|results\.csv|sweep\.json")


class Folder:
    """Writes a sweep into folder ``path``: ``variant-NNNN.json`` (the canonical
    spec) per valid variant as it comes, with its row of ``index.csv`` right
    after it, so that the index always lists exactly the variants written,
    even when the sweep is killed; ``results.csv`` grows the same way, one
    row per variant trained, in the order they finish. :meth:`finish` writes
    ``index.json`` (every variant, with its diagnostics) and ``results.csv``
    again, sorted best first. Every other file is written to a temporary file
    and renamed, so an interrupted sweep leaves only whole files.

    ``sweep.json`` says which sweep the folder holds (base, grid, draw, and
    the data and epochs it trains with); a run of the same sweep into the
    folder continues it (:meth:`continuing`): variants with an ``ok`` row in
    ``results.csv`` are kept, the others trained again.

    ``data_dir`` is the folder the base spec's relative data paths are
    relative to; they are rewritten relative to ``path``, so each variant file
    trains as it is. :meth:`clear` removes an earlier sweep's files first."""

    def __init__(self, path: str | os.PathLike, grid: Grid, *, data_dir: str | None = None):
        self.path = os.fspath(path)
        self.grid = grid
        self.data_dir = data_dir
        self.entries: list[dict[str, Any]] = []
        self.results: list[Result] = []
        self.kept = 0  # results read back from an earlier run of the same sweep (see begin)
        self._results_names: list[str] | None = None

    def clear(self, keep: Collection[str] = ()) -> None:
        """Remove the files an earlier sweep wrote here (and nothing else, and
        not those named in ``keep``), and the temporary files a killed sweep left."""
        remove_stale(self.path)
        for name in os.listdir(self.path):
            if _WRITTEN.fullmatch(name) and name not in keep:
                os.remove(os.path.join(self.path, name))

    def has_other_files(self) -> bool:
        """Whether the folder holds anything (but temporary files)."""
        return os.path.isdir(self.path) and any(not is_temporary(name) for name in os.listdir(self.path))

    def continuing(self, sweep: "Sweep", training: dict[str, Any] | None) -> "Sweep | None":
        """``sweep`` as this folder's earlier run of it was, when the folder
        holds that sweep (``sweep.json`` equal, with ``training`` the data and
        epochs, None without training): drawn with the earlier seed when
        ``sweep`` was given none. None when the folder holds no sweep or another."""
        earlier = self._earlier()
        if earlier is None:
            return None
        if sweep.seed is None and sweep.samples is not None and isinstance(earlier.get("seed"), int):
            sweep = sweep.drawn_with(earlier["seed"])
        return sweep if earlier == _manifest(sweep, training) else None

    def differences(self, sweep: "Sweep", training: dict[str, Any] | None) -> list[str]:
        """What differs between ``sweep`` and the one this folder holds:
        some of ``base``, ``grid``, ``samples``, ``seed``, ``train`` (empty when it holds none)."""
        earlier = self._earlier()
        if earlier is None:
            return []
        return [key for key, value in _manifest(sweep, training).items() if earlier.get(key) != value]

    def _earlier(self) -> dict[str, Any] | None:
        try:
            with open(self._file(MANIFEST), encoding="utf-8") as stream:
                earlier = json.load(stream)
        except (OSError, ValueError):
            return None
        return earlier if isinstance(earlier, dict) else None

    def begin(self, sweep: "Sweep", variants: Sequence[Variant], training: dict[str, Any] | None,
              kept: Sequence[Result] = ()) -> None:
        """Start writing ``sweep`` (its ``variants``) here: remove an earlier
        sweep's files, write ``sweep.json`` and the header of ``index.csv``,
        and ``results.csv`` with the ``kept`` results of an earlier run
        (:meth:`finished`), whose variants need no training."""
        os.makedirs(self.path, exist_ok=True)
        self.kept = len(kept)
        self.clear(keep={RESULTS_CSV} if kept else ())
        write_text(self._file(MANIFEST), json.dumps(_manifest(sweep, training), indent=2, ensure_ascii=False) + "\n")
        self.start(set().union(*(measured_by(v.spec) for v in variants if v.ok)) if training is not None else ())
        if kept:
            self.results = list(kept)
            write_text(self._file(RESULTS_CSV), self._rows_csv(self.results))

    def fill(self, sweep: "Sweep", variants: Sequence[Variant], data: "DataSource | None",
             training: dict[str, Any] | None, *, resume: bool = False, metric: str | None = None,
             **where: Any) -> str | None:
        """Write ``variants`` here and, when ``training`` is given, train them
        on ``data`` (:func:`train_all` with ``where``: client, workers,
        scheduler, epochs, limits, threads, progress), each result appended as
        it finishes; then :meth:`finish`. Returns the metric the results are
        sorted by. On Ctrl-C: finishes as interrupted, then re-raises.

        With ``resume``, the ``ok`` rows of an earlier run's ``results.csv``
        are kept (:meth:`finished`). A cluster is reached before anything is
        written, and only when some variant is to be trained."""
        kept = self.finished(variants) if resume and training is not None else []
        done = {r.name for r in kept}
        if training is None or all(not v.ok or v.name in done for v in variants):
            where = {**where, "workers": 1, "scheduler": None}
        with _cluster_ready(where) as where:
            self.begin(sweep, variants, training, kept)
            try:
                if training is None:
                    for variant in variants:
                        self.add(variant)
                else:
                    trained = train_all(variants, data, skip=done, on_variant=self.add, **where)
                    with contextlib.closing(trained):
                        for result in trained:
                            self.add_result(result)
            except KeyboardInterrupt:
                self.finish(metric, interrupted=True)
                raise
            return self.finish(metric)

    def finished(self, variants: Sequence[Variant]) -> list[Result]:
        """The ``ok`` rows of ``results.csv`` whose variant (name and values)
        is among ``variants``, as results; a last row cut short (by a killed
        run) and rows that cannot be read are left out."""
        try:
            with open(self._file(RESULTS_CSV), encoding="utf-8", newline="") as stream:
                text = stream.read()
        except (OSError, UnicodeDecodeError):
            return []
        rows = _rows(text[: text.rfind("\n") + 1])  # whole lines only
        paths = len(self.grid)
        if not rows or rows[0][: 2 + paths] != ["variant", "status", *self.grid] or rows[0][-2:] != ["seconds", "error"]:
            return []
        names = rows[0][2 + paths: -2]
        valid = {v.name: v for v in variants if v.ok}
        kept = []
        for row in rows[1:]:
            variant = valid.get(row[0]) if len(row) == len(rows[0]) and row[1] == "ok" else None
            if variant is None or row[2: 2 + paths] != [_cell(value) for value in variant.values.values()]:
                continue
            try:
                metrics = {n: float(c) for n, c in zip(names, row[2 + paths: -2]) if c != ""}
                kept.append(Result(variant.name, variant.values, metrics, float(row[-2])))
            except ValueError:
                continue
            del valid[variant.name]
        return kept

    def start(self, measures: Iterable[str] = ()) -> None:
        """Write the header of ``index.csv``; rows follow as variants are added.
        ``measures``: what trained variants will report (:func:`measured_by`),
        the columns of ``results.csv`` while it grows."""
        os.makedirs(self.path, exist_ok=True)
        write_text(self._file(INDEX_CSV), _csv([self._index_header()]))
        self._results_names = _in_order(set(measures))

    def add(self, variant: Variant) -> None:
        """Record ``variant``: write its spec now when it is valid, then its index row."""
        file = None
        if variant.spec is not None:
            file = variant.name + ".json"
            write_text(self._file(file), self._rebased(variant.spec).to_json(), clean_stale=False)
        self.entries.append({
            "name": variant.name, "index": variant.index, "status": "ok" if variant.ok else "invalid",
            "values": variant.values, "file": file,
            "errors": [d.to_dict() for d in variant.errors], "warnings": [d.to_dict() for d in variant.warnings],
        })
        _append(self._file(INDEX_CSV), _csv([self._index_row(self.entries[-1])]))

    def add_result(self, result: Result) -> None:
        """Record ``result`` and append its row to ``results.csv`` (started by the first)."""
        self.results.append(result)
        names = self._results_names if self._results_names is not None else self.measured()
        if len(self.results) == 1:
            write_text(self._file(RESULTS_CSV), _csv([self._results_header(names)]))
        _append(self._file(RESULTS_CSV), _csv([self._results_row(result, names)]))

    def finish(self, metric: str | None = None, *, interrupted: bool = False) -> str | None:
        """Write the whole index (``index.json`` with ``interrupted`` when the
        sweep stopped early) and the results sorted by ``metric`` (see
        :func:`rank`) when there are any; returns the metric they were sorted by."""
        write_text(self._file(INDEX_CSV), self.index_csv())
        index = {"grid": self.grid, "interrupted": interrupted, "variants": self.entries}
        write_text(self._file(INDEX_JSON), json.dumps(index, indent=2, ensure_ascii=False) + "\n")
        if not self.results:
            return None
        metric, self.results = rank(self.results, metric)
        write_text(self._file(RESULTS_CSV), self.results_csv())
        return metric

    def _file(self, name: str) -> str:
        return os.path.join(self.path, name)

    def index_csv(self) -> str:
        """name, status, one column per grid path, file, and the first error's path and message."""
        return _csv([self._index_header(), *map(self._index_row, self.entries)])

    def _index_header(self) -> list[str]:
        return ["name", "status", *self.grid, "file", "error_path", "error_message"]

    def _index_row(self, entry: dict[str, Any]) -> list[str]:
        first = entry["errors"][0] if entry["errors"] else {}
        return [entry["name"], entry["status"], *map(_cell, entry["values"].values()),
                entry["file"] or "", first.get("path", ""), first.get("message", "")]

    def results_csv(self) -> str:
        """variant, status, one column per grid path, each measured quantity, seconds, error."""
        names = self.measured()
        return _csv([self._results_header(names), *(self._results_row(r, names) for r in self.results)])

    def _rows_csv(self, results: list[Result]) -> str:
        """``results`` under the header of the quantities the sweep measures (as the file grows)."""
        names = self._results_names if self._results_names is not None else self.measured()
        return _csv([self._results_header(names), *(self._results_row(r, names) for r in results)])

    def _results_header(self, names: list[str]) -> list[str]:
        return ["variant", "status", *self.grid, *names, "seconds", "error"]

    def _results_row(self, r: Result, names: list[str]) -> list[str]:
        return [r.name, "ok" if r.ok else "failed", *map(_cell, r.values.values()),
                *(_cell(r.metrics[n]) if n in r.metrics else "" for n in names), f"{r.seconds:.3f}", r.error or ""]

    def measured(self) -> list[str]:
        """The quantities any result has: loss first, each metric followed by its val_ twin."""
        return _in_order({name for r in self.results for name in r.metrics})

    def table(self, metric: str, top: int = 5) -> str:
        """The ``top`` results as an aligned text table."""
        names = self.measured()
        header = ["variant", *self.grid, *names, "seconds"]
        rows = [[r.name, *map(_cell, r.values.values()), *(f"{r.metrics[n]:.4f}" if n in r.metrics else "-"
                                                           for n in names), f"{r.seconds:.2f}"]
                for r in self.results[:top]]
        widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
        lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() for row in [header, *rows]]
        title = f"top {len(rows)} by {metric}" if metric in names else f"first {len(rows)} (no variant measured {metric})"
        return f"{title}:\n" + "\n".join(lines)

    def _rebased(self, spec: Spec) -> Spec:
        data = spec.data
        if self.data_dir is None or not isinstance(data, FileData) or os.path.isabs(data.path):
            return spec
        moved = os.path.relpath(os.path.join(self.data_dir, data.path), os.path.abspath(self.path))
        return spec.replace("data.path", moved)


def write(sweep: "Sweep", out: str | os.PathLike, data: "DataSource", *, train: bool = True,
          metric: str | None = None, **where: Any) -> Folder:
    """Write ``sweep`` into folder ``out`` (created when missing) and, with
    ``train``, train it on ``data`` (:meth:`Folder.fill`; ``where``: client,
    workers, scheduler, epochs, limits, threads, progress), continuing the
    folder's earlier run of the same sweep. A folder holding anything else is
    a :class:`NetspecError`, and nothing is written."""
    folder = Folder(out, sweep.grid, data_dir=sweep.base_dir)
    training = training_identity(data, where.get("epochs")) if train else None
    resumed = folder.continuing(sweep, training)
    if resumed is None and folder.has_other_files():
        raise NetspecError(f"{folder.path} is not empty and holds no run of this sweep (same base, grid, draw, "
                           "data and epochs); give an empty or new folder")
    sweep = resumed or sweep
    folder.fill(sweep, list(sweep), data, training, resume=resumed is not None, metric=metric, **where)
    return folder


def training_identity(data: "DataSource", epochs: int | None) -> dict[str, Any]:
    """What a sweep trains with, as ``sweep.json`` records it: the data's identity and the epochs."""
    return {**data.identity(), "epochs": epochs}


def _manifest(sweep: "Sweep", training: dict[str, Any] | None) -> dict[str, Any]:
    """The content of ``sweep.json``, as read back from JSON."""
    tree = {"base": sweep.base.to_dict(), "grid": sweep.grid, "samples": sweep.samples,
            "seed": sweep.draw_seed if sweep.samples is not None else None, "train": training}
    return json.loads(json.dumps(tree, ensure_ascii=False))


def _rows(text: str) -> list[list[str]]:
    """CSV rows of ``text``, up to the first that cannot be read."""
    rows = []
    reader = csv.reader(io.StringIO(text))
    with contextlib.suppress(csv.Error):
        for row in reader:
            rows.append(row)
    return rows


def _cell(value: Any) -> str:
    """A CSV cell: strings as they are, everything else as JSON (``true``, ``0.01``, ``{...}``)."""
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def _in_order(found: set[str]) -> list[str]:
    """Quantities as results list them: loss first, each metric followed by its val_ twin."""
    bases = sorted({name.removeprefix("val_") for name in found}, key=lambda n: (n != "loss", n))
    return [name for base in bases for name in (base, "val_" + base) if name in found]


def _append(path: str, text: str) -> None:
    """Append ``text``, whole rows, to a file in one write (a killed process
    leaves every row it wrote, and no half row)."""
    with open(path, "a", encoding="utf-8", newline="") as stream:
        stream.write(text)


def _csv(rows: list[list[str]]) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    return out.getvalue()


