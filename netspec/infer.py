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
from typing import Any, Iterable, Iterator

import numpy as np

from .errors import Diagnostic, Path, format_path
from .limits import DEFAULT_LIMITS, Limits
from .lints import lint
from .registry import REGISTRY, ShapeProblem, same_width
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
    def widths(self) -> list[int]:
        """The input's width, then every step's output width: what a forward pass holds per sample."""
        return [self.input_features, *(layer.out_features for layer in self.layers)]

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
    return list(_run(spec))


def _run(spec: Spec) -> Iterator[tuple[Path, Component]]:
    """:func:`steps`, one at a time."""
    for index, layer in enumerate(spec.layers):
        path = ("layers", index)
        yield path, layer
        inline = layer.__dict__.get("activation")  # not getattr: a missing attribute is slow on pydantic models
        if inline is not None and isinstance(inline, Component):
            yield path + ("activation",), inline


def layer_names(run: Iterable[tuple[Path, Component]]) -> list[str]:
    """Explicit names kept; unnamed steps get ``{type}_{k}`` counting per type from 1,
    skipping names already taken."""
    run = list(run)
    explicit = [params.__dict__.get("name") for _, params in run]
    taken = set(explicit) - {None}
    counts: dict[str, int] = {}
    names = []
    for (_, params), name in zip(run, explicit):
        names.append(name or _generated_name(params.type, counts, taken))
    return names


def _generated_name(kind: str, counts: dict[str, int], taken: set[str]) -> str:
    """The next ``{kind}_{k}`` not in ``taken``, counting in ``counts``. Only
    explicit names need to be in ``taken``: generated ones differ from each
    other in type or in count."""
    count = counts.get(kind, 0) + 1
    name = f"{kind}_{count}"
    while name in taken:
        count += 1
        name = f"{kind}_{count}"
    counts[kind] = count
    return name


def infer(spec: Spec, *, limits: Limits = DEFAULT_LIMITS, ignore: Iterable[str] = ()) -> Shapes:
    """Walk ``spec`` from ``input.features`` and return its :class:`Shapes`.

    Lints whose code is in ``ignore`` are left out. Never raises for a bad
    spec: problems are in ``Shapes.diagnostics``.
    """
    shaped, total, found, explicit = _walk(spec, set())
    if explicit and len({step.name for step in shaped}) < len(shaped):
        shaped, total, found, _ = _walk(spec, explicit)  # a name was given twice, or given and generated
    shapes = Shapes(spec.input.features, tuple(shaped))
    found += _budget(total, spec, limits)
    ignored = set(ignore)
    found += [d for d in lint(spec, shapes) if d.code not in ignored]
    return Shapes(shapes.input_features, shapes.layers, tuple(found)) if found else shapes


def _walk(spec: Spec, taken: set[str]) -> tuple[list[LayerShape], int, list[Diagnostic], set[str]]:
    """One pass over the steps: their shapes, the total parameter count, the
    shape errors, and the names given explicitly.

    Unnamed steps are named as :func:`layer_names` names them, skipping the
    names in ``taken``. Names are seldom given, so :func:`infer` walks first
    with none taken, and again, skipping the given names, only when one of
    them turns out to be a generated name too."""
    shape_rules = REGISTRY.shape_rules()
    width, previous = spec.input.features, None
    shaped, found, explicit, counts, total = [], [], set(), {}, 0
    for path, params in _run(spec):
        fields = params.__dict__  # not getattr: a missing attribute is slow on pydantic models
        kind = params.type
        name = fields.get("name")
        if name:
            explicit.add(name)
        elif taken:
            name = _generated_name(kind, counts, taken)
        else:  # as _generated_name does, inline for the common case
            counts[kind] = number = counts.get(kind, 0) + 1
            name = f"{kind}_{number}"
        used = width  # the width given to the shape rule: in_features when it is declared
        declared = fields.get("in_features")
        if declared is not None and declared != width:
            found.append(_mismatch(path, name, declared, width, previous))
            used = declared
        rule = shape_rules.get(kind)
        if rule is None or rule is same_width:  # no need to call same_width
            out, count = used, 0
        else:
            try:
                out, count = rule(params, used)
            except ShapeProblem as exc:
                out, count = used, 0
                if used == width:  # a shape-mismatch is the one problem reported for a step
                    found.append(_bad_width(path, name, exc))
        shaped.append(LayerShape(name, kind, path, width, out, count, params))
        total += count
        width, previous = out, name
    return shaped, total, found, explicit


def _mismatch(path: Path, name: str, declared: int, width: int, previous: str | None) -> Diagnostic:
    source = f"the previous layer ({previous}) outputs" if previous else "the input has"
    return Diagnostic(path + ("in_features",), "shape-mismatch",
                      f"{format_path(path)} ({name}): in_features is {declared} but {source} {width} features",
                      f"set in_features to {width} or remove it to have it inferred")


def _bad_width(path: Path, name: str, problem: ShapeProblem) -> Diagnostic:
    where = path + ((problem.field,) if problem.field else ())
    return Diagnostic(where, "bad-width", f"{format_path(path)} ({name}): {problem.message}", problem.hint)


def _budget(total: int, spec: Spec, limits: Limits) -> list[Diagnostic]:
    """Refuse, before anything is allocated, a network of ``total`` parameters too large for the limits."""
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
