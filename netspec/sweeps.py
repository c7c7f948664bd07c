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

The second half of this module writes a sweep into a folder (one canonical
spec per valid variant, an index, and training results); it is what
``netspec sweep`` runs.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import random
import re
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Iterator

import numpy as np

from .api import compile, infer, load, validate
from .check import describe
from .collector import paused_collector
from .errors import DataError, Diagnostic, NetspecError, SpecError
from .files import remove_stale, write_text
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


def sweep(base: Any, grid: Any, *, samples: int | None = None, seed: int | None = None) -> Iterator[Variant]:
    """The variants of ``base`` (anything :func:`netspec.load` takes) over ``grid``
    (a mapping of path → non-empty list of values, or a grid file or text, see
    :func:`load_grid`).

    Without ``samples``: every combination, in grid order — the first path
    varies slowest, the last fastest, as nested loops written in grid order.
    With ``samples=N``: N distinct combinations drawn at random (without
    replacement) from a ``random.Random(seed)``, so the same seed draws the
    same variants in the same order; when N is at least the size of the grid,
    every combination, in random order. ``seed=None`` draws differently each time.

    Paths are applied in grid order to one copy of the base's canonical tree
    (as :meth:`Spec.replace` does: missing sections are created, a bare-name
    component is opened up), so a later path may set an option inside an
    earlier path's value (``"train.optimizer"`` then
    ``"train.optimizer.learning_rate"``). A relative ``data.path`` stays
    relative to the base spec's folder.

    The base and the grid are checked now (:class:`SpecError`); variants are
    built and validated lazily, one per step of the iterator.
    """
    if samples is not None and (isinstance(samples, bool) or not isinstance(samples, int) or samples < 1):
        raise ValueError(f"samples must be a positive integer, got {samples!r}")
    plan = _Plan(load(base).to_dict(), load_grid(grid))
    indices = range(plan.total) if samples is None else _draw(plan.total, samples, random.Random(seed))
    return (plan.variant(index) for index in indices)


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

INDEX_CSV, INDEX_JSON, RESULTS_CSV = "index.csv", "index.json", "results.csv"
_WRITTEN = re.compile(r"variant-\d+\.json|index\.csv|index\.json|results\.csv")


class Folder:
    """Writes a sweep into folder ``path``: ``variant-NNNN.json`` (the canonical
    spec) per valid variant as it comes, with its row of ``index.csv`` right
    after it, so that the index always lists exactly the variants written,
    even when the sweep is killed; ``results.csv`` grows the same way, one
    row per variant trained. :meth:`finish` writes ``index.json`` (every
    variant, with its diagnostics) and ``results.csv`` again, sorted best
    first. Every other file is written to a temporary file and renamed, so an
    interrupted sweep leaves only whole files.

    ``data_dir`` is the folder the base spec's relative data paths are
    relative to; they are rewritten relative to ``path``, so each variant file
    trains as it is. :meth:`clear` removes an earlier sweep's files first."""

    def __init__(self, path: str | os.PathLike, grid: Grid, *, data_dir: str | None = None):
        self.path = os.fspath(path)
        self.grid = grid
        self.data_dir = data_dir
        self.entries: list[dict[str, Any]] = []
        self.results: list[Result] = []
        self._results_names: list[str] | None = None
        os.makedirs(self.path, exist_ok=True)

    def clear(self) -> None:
        """Remove the files an earlier sweep wrote here (and nothing else),
        and the temporary files a killed sweep left."""
        remove_stale(self.path)
        for name in os.listdir(self.path):
            if _WRITTEN.fullmatch(name):
                os.remove(os.path.join(self.path, name))

    def start(self, measures: Iterable[str] = ()) -> None:
        """Write the header of ``index.csv``; rows follow as variants are added.
        ``measures``: what trained variants will report (:func:`measured_by`),
        the columns of ``results.csv`` while it grows."""
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


