"""Stage 3, infer: one walk over the layers gives every layer its widths and
parameter count, and collects shape errors and lints. It allocates nothing.

The walk starts from ``input.features``. A dense layer's ``activation``
shorthand becomes a step of its own right after it (path
``layers[i].activation``), exactly as the compiled pipeline will run it.
Codes emitted here: ``shape-mismatch``, ``bad-width`` (a shape rule refused
the width), ``too-many-parameters``, ``too-much-memory``; lints come from
:mod:`netspec.lints`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable

import numpy as np

from .errors import Diagnostic, Path, format_path
from .limits import DEFAULT_LIMITS, Limits
from .lints import lint
from .registry import REGISTRY, ShapeProblem
from .spec import Component, Spec

# Bytes held per parameter while training: the value, its gradient and up to
# two optimiser slots (Adam's moments).
COPIES_PER_PARAMETER = 4


@dataclass(slots=True)
class LayerShape:
    """One step of the network as inference sees it."""

    name: str
    type: str
    path: Path
    in_features: int
    out_features: int
    parameters: int
    params: Component = field(repr=False, compare=False)

    @property
    def where(self) -> str:
        return format_path(self.path)


@dataclass(frozen=True)
class Shapes:
    """The result of inference: every step's widths and parameter counts, and
    the diagnostics (errors and warnings) found on the way."""

    input_features: int
    layers: tuple[LayerShape, ...]
    diagnostics: tuple[Diagnostic, ...] = ()

    @property
    def total_parameters(self) -> int:
        return sum(layer.parameters for layer in self.layers)

    @property
    def output_features(self) -> int:
        return self.layers[-1].out_features if self.layers else self.input_features

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.is_error]

    @property
    def warnings(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if not d.is_error]

    def table(self) -> str:
        """The summary table: each layer's name, type, in → out width, parameters, and the total."""
        rows = [(layer.name, layer.type, f"{layer.in_features} → {layer.out_features}", f"{layer.parameters:,}")
                for layer in self.layers]
        header = ("layer", "type", "shape", "parameters")
        widths = [max(len(r[i]) for r in [header, *rows]) for i in range(4)]
        line = "  ".join("-" * w for w in widths)

        def fmt(row: tuple[str, ...]) -> str:
            return "  ".join(c.rjust(w) if i == 3 else c.ljust(w) for i, (c, w) in enumerate(zip(row, widths))).rstrip()

        total = f"total parameters: {self.total_parameters:,}"
        return "\n".join([fmt(header), line, *map(fmt, rows), line, total])

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready description of the layers and the total."""
        return {
            "input_features": self.input_features,
            "layers": [{"name": s.name, "type": s.type, "path": s.where, "in_features": s.in_features,
                        "out_features": s.out_features, "parameters": s.parameters} for s in self.layers],
            "total_parameters": self.total_parameters,
        }


def steps(spec: Spec) -> list[tuple[Path, Component]]:
    """The layers in run order, with each ``activation`` shorthand expanded."""
    out: list[tuple[Path, Component]] = []
    for index, layer in enumerate(spec.layers):
        out.append((("layers", index), layer))
        inline = vars(layer).get("activation")  # vars(): a missing attribute is slow on pydantic models
        if isinstance(inline, Component):
            out.append((("layers", index, "activation"), inline))
    return out


def layer_names(run: Iterable[tuple[Path, Component]]) -> list[str]:
    """Explicit names kept; unnamed steps get ``{type}_{k}`` counting per type from 1,
    skipping names already taken."""
    run = list(run)
    taken = {vars(params).get("name") for _, params in run} - {None}
    counts: dict[str, int] = {}
    names = []
    for _, params in run:
        if vars(params).get("name"):
            names.append(params.name)
            continue
        while True:
            counts[params.type] = counts.get(params.type, 0) + 1
            candidate = f"{params.type}_{counts[params.type]}"
            if candidate not in taken:
                break
        taken.add(candidate)
        names.append(candidate)
    return names


def infer(spec: Spec, *, limits: Limits = DEFAULT_LIMITS, ignore: Iterable[str] = ()) -> Shapes:
    """Walk ``spec`` from ``input.features`` and return its :class:`Shapes`.

    Lints whose code is in ``ignore`` are left out. Never raises for a bad
    spec: problems are in ``Shapes.diagnostics``.
    """
    run = steps(spec)
    names = layer_names(run)
    width, previous = spec.input.features, None
    shaped, found = [], []
    for (path, params), name in zip(run, names):
        out, count, problem = _apply(params, path, name, width, previous)
        if problem is not None:
            found.append(problem)
        shaped.append(LayerShape(name, params.type, path, width, out, count, params))
        width, previous = out, name
    shapes = Shapes(spec.input.features, tuple(shaped))
    found += _budget(shapes, spec, limits)
    ignored = set(ignore)
    found += [d for d in lint(spec, shapes) if d.code not in ignored]
    return Shapes(spec.input.features, tuple(shaped), tuple(found))


def _apply(params: Component, path: Path, name: str, width: int, previous: str | None
           ) -> tuple[int, int, Diagnostic | None]:
    """One step of the walk: (out width, parameter count, problem or None)."""
    declared = vars(params).get("in_features")
    if declared is not None and declared != width:
        source = f"the previous layer ({previous}) outputs" if previous else "the input has"
        problem = Diagnostic(path + ("in_features",), "shape-mismatch",
                             f"{format_path(path)} ({name}): in_features is {declared} but {source} {width} features",
                             f"set in_features to {width} or remove it to have it inferred")
        width = declared
    else:
        problem = None
    entry = REGISTRY.get("layer", params.type)
    if entry is None or entry.shape is None:
        return width, 0, problem
    try:
        out, count = entry.shape(params, width)
    except ShapeProblem as exc:
        where = path + ((exc.field,) if exc.field else ())
        return width, 0, problem or Diagnostic(where, "bad-width", f"{format_path(path)} ({name}): {exc.message}",
                                               exc.hint)
    return out, count, problem


def _budget(shapes: Shapes, spec: Spec, limits: Limits) -> list[Diagnostic]:
    """Refuse, before anything is allocated, a network too large for the limits."""
    total = shapes.total_parameters
    if total > limits.max_parameters:
        return [Diagnostic(("layers",), "too-many-parameters",
                           f"the network has {total:,} parameters, over the limit of {limits.max_parameters:,}",
                           "use fewer or narrower layers, or raise Limits.max_parameters")]
    needed = total * np.dtype(spec.dtype).itemsize * COPIES_PER_PARAMETER
    if needed > limits.max_memory_bytes:
        return [Diagnostic(("layers",), "too-much-memory",
                           f"training the network's {total:,} parameters needs about {_bytes(needed)} "
                           f"({needed:,} bytes), over the limit of {_bytes(limits.max_memory_bytes)}",
                           'use "dtype": "float32", fewer parameters, or raise Limits.max_memory_bytes')]
    return []


def _bytes(count: int) -> str:
    for unit in ("bytes", "KiB", "MiB", "GiB", "TiB"):
        if count < 1024 or unit == "TiB":
            return f"{count:.1f} {unit}" if unit != "bytes" else f"{count} bytes"
        count /= 1024
    raise AssertionError("unreachable")
