"""Stage 3, infer: one walk over the layers gives every step its input and
output shape and its parameter count, and collects the shape errors. It
allocates nothing.

A shape is a tuple without the batch axis, channels-last: ``(features,)`` for
vectors, ``(length, channels)`` for sequences, ``(height, width, channels)``
for images. The walk starts from ``input.shape`` and calls each layer's
registered shape rule. A layer's ``activation`` shorthand becomes a step of
its own right after it (path ``layers[i].activation``), exactly as the
compiled pipeline will run it.

Codes emitted here: ``shape-mismatch`` (a declared ``in_features`` differs
from what arrives), whatever code a shape rule raises (``needs-flatten``,
``empty-output``, ``wrong-rank``, ``reshape-size``, ``bad-width``, or
``bad-shape``), ``too-many-parameters`` and ``too-much-memory``. Lints, the
warnings, are :mod:`netspec.lints`'s, run after this stage.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from math import prod
from typing import Any, Iterable, Iterator

from .errors import Diagnostic, Path, format_path
from .limits import DEFAULT_LIMITS, Limits
from .registry import REGISTRY, Shape, ShapeProblem, format_shape, same_shape
from .spec import Component, Spec

# Copies held per parameter while training: the value, its gradient and up to
# two optimiser slots (Adam's moments); and per activation value of a batch:
# the output and its gradient.
COPIES_PER_PARAMETER = 4
COPIES_PER_ACTIVATION = 2
ITEMSIZE = {"float64": 8, "float32": 4}


@dataclass(slots=True)
class LayerShape:
    """One step of the network as inference sees it: shapes of one sample,
    without the batch axis. ``workspace`` counts the scratch values per
    sample the step holds beyond its output (a convolution's window matrix)."""

    name: str
    type: str
    path: Path
    in_shape: Shape
    out_shape: Shape
    parameters: int
    params: Component = field(repr=False, compare=False)
    workspace: int = 0

    @property
    def where(self) -> str:
        return format_path(self.path)

    @property
    def in_features(self) -> int:
        """Values per sample that arrive (the width, for a vector)."""
        return prod(self.in_shape)

    @property
    def out_features(self) -> int:
        """Values per sample that leave (the width, for a vector)."""
        return prod(self.out_shape)


@dataclass(frozen=True)
class Shapes:
    """The result of inference: every step's shapes and parameter counts, and
    the diagnostics (errors and warnings) found on the way."""

    input_shape: Shape
    layers: tuple[LayerShape, ...]
    diagnostics: tuple[Diagnostic, ...] = ()

    @property
    def total_parameters(self) -> int:
        return sum(layer.parameters for layer in self.layers)

    @property
    def input_features(self) -> int:
        """Values per sample of the input (the width, for a vector input)."""
        return prod(self.input_shape)

    @property
    def output_shape(self) -> Shape:
        return self.layers[-1].out_shape if self.layers else self.input_shape

    @property
    def output_features(self) -> int:
        return prod(self.output_shape)

    @property
    def widths(self) -> list[int]:
        """What a forward pass holds per sample: the input's size, then every
        step's output size plus its workspace (what the memory guards count)."""
        return [self.input_features, *(layer.out_features + layer.workspace for layer in self.layers)]

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.is_error]

    @property
    def warnings(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if not d.is_error]

    def table(self) -> str:
        """The summary table: the input, then each layer's name, type, output
        shape (``26×26×32``) and parameters, and the total."""
        rows = [("input", "input", format_shape(self.input_shape), "0")]
        rows += [(layer.name, layer.type, format_shape(layer.out_shape), f"{layer.parameters:,}")
                 for layer in self.layers]
        header = ("layer", "type", "output shape", "parameters")
        widths = [max(len(r[i]) for r in [header, *rows]) for i in range(4)]
        line = "  ".join("-" * w for w in widths)

        def fmt(row: tuple[str, ...]) -> str:
            return "  ".join(c.rjust(w) if i == 3 else c.ljust(w) for i, (c, w) in enumerate(zip(row, widths))).rstrip()

        total = f"total parameters: {self.total_parameters:,}"
        return "\n".join([fmt(header), line, *map(fmt, rows), line, total])

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready description: the input shape, each layer's shapes (lists) and parameters, and
        the total; ``*_features`` are the values per sample (the widths, for vectors)."""
        return {
            "input_shape": list(self.input_shape), "input_features": self.input_features,
            "layers": [{"name": s.name, "type": s.type, "path": s.where, "in_shape": list(s.in_shape),
                        "out_shape": list(s.out_shape), "in_features": s.in_features, "out_features": s.out_features,
                        "parameters": s.parameters} for s in self.layers],
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


def infer(spec: Spec, *, limits: Limits = DEFAULT_LIMITS) -> Shapes:
    """Walk ``spec`` from ``input.shape`` and return its :class:`Shapes`.

    Never raises for a bad spec: problems are in ``Shapes.diagnostics``.
    """
    shaped, total, found, explicit = _walk(spec, set())
    if explicit and len({step.name for step in shaped}) < len(shaped):
        shaped, total, found, _ = _walk(spec, explicit)  # a name was given twice, or given and generated
    shapes = Shapes(spec.input.shape, tuple(shaped))
    found += _loss_output(spec, shapes)
    found += _budget(total, spec, shapes, limits)
    return Shapes(shapes.input_shape, shapes.layers, tuple(found)) if found else shapes


def _walk(spec: Spec, taken: set[str]) -> tuple[list[LayerShape], int, list[Diagnostic], set[str]]:
    """One pass over the steps: their shapes, the total parameter count, the
    shape errors, and the names given explicitly.

    Unnamed steps are named as :func:`layer_names` names them, skipping the
    names in ``taken``. Names are seldom given, so :func:`infer` walks first
    with none taken, and again, skipping the given names, only when one of
    them turns out to be a generated name too.

    A step whose rule refuses its input is reported and passes on the shape
    the rule says it would otherwise give (``ShapeProblem.assume``), else its
    input shape, so later steps are still checked."""
    shape_rules = REGISTRY.shape_rules()
    shape, previous = spec.input.shape, None
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
        used = shape  # the shape given to the rule: (in_features,) when it is declared on a vector
        declared = fields.get("in_features")
        if declared is not None and len(shape) == 1 and declared != shape[0]:
            found.append(_mismatch(path, name, declared, shape[0], previous))
            used = (declared,)
        rule = shape_rules.get(kind)
        workspace = 0
        if rule is None or rule is same_shape:  # no need to call same_shape
            out, count = used, 0
        else:
            try:
                out, count = rule(params, used)
            except ShapeProblem as exc:
                out, count = exc.assume or used, 0
                if used == shape:  # a shape-mismatch is the one problem reported for a step
                    found.append(_refused(path, name, exc, shape, previous))
            else:
                workspace = _workspace(kind, params, used, out)
        shaped.append(LayerShape(name, kind, path, shape, out, count, params, workspace))
        total += count
        shape, previous = out, name
    return shaped, total, found, explicit


def _workspace(kind: str, params: Component, in_shape: Shape, out_shape: Shape) -> int:
    entry = REGISTRY.get("layer", kind)
    return entry.workspace(params, in_shape, out_shape) if entry is not None and entry.workspace else 0


def source_of(shape: Shape, previous: str | None) -> str:
    """Where a step's input comes from, in words: ``the 3×3×16 output of max_pool2d_2``,
    ``the 10 features of dense_2``, ``the 28×28×1 input``, ``the input's 2 features``."""
    if len(shape) == 1:
        return f"the {shape[0]:,} features of {previous}" if previous else f"the input's {shape[0]:,} features"
    return f"the {format_shape(shape)} output of {previous}" if previous else f"the {format_shape(shape)} input"


def _mismatch(path: Path, name: str, declared: int, width: int, previous: str | None) -> Diagnostic:
    source = f"the previous layer ({previous}) outputs" if previous else "the input has"
    return Diagnostic(path + ("in_features",), "shape-mismatch",
                      f"{format_path(path)} ({name}): in_features is {declared} but {source} {width} features",
                      f"set in_features to {width} or remove it to have it inferred")


def _refused(path: Path, name: str, problem: ShapeProblem, shape: Shape, previous: str | None) -> Diagnostic:
    where = path + ((problem.field,) if problem.field else ())
    message = problem.message.replace("{input}", source_of(shape, previous))
    return Diagnostic(where, problem.code, f"{format_path(path)} ({name}): {message}", problem.hint)


def _loss_output(spec: Spec, shapes: Shapes) -> list[Diagnostic]:
    """A loss compares a vector per sample with the targets: refuse an image or a sequence as the output."""
    if spec.loss is None or len(shapes.output_shape) == 1:
        return []
    last = shapes.layers[-1]
    return [Diagnostic(("loss",), "loss-needs-vector",
                       f"{spec.loss.type} compares a vector of outputs per sample with the targets, but the network "
                       f"ends with {source_of(last.out_shape, last.name)}",
                       'end the network with {"type": "flatten"} (or a global pooling layer) and a dense layer')]


def _budget(total: int, spec: Spec, shapes: Shapes, limits: Limits) -> list[Diagnostic]:
    """Refuse, before anything is allocated, a network too large for the
    limits: its parameters (with their gradients and optimiser state) and,
    when ``train.batch_size`` is set, one batch's outputs and their gradients."""
    if total > limits.max_parameters:
        return [Diagnostic(("layers",), "too-many-parameters",
                           f"the network has {total:,} parameters, over the limit of {limits.max_parameters:,}",
                           "use fewer or narrower layers, or raise Limits.max_parameters")]
    itemsize = ITEMSIZE[spec.dtype]
    needed = total * itemsize * COPIES_PER_PARAMETER
    batch = spec.train.batch_size if spec.train is not None else None
    activations = batch * sum(shapes.widths) * itemsize * COPIES_PER_ACTIVATION if batch else 0
    if needed + activations > limits.max_memory_bytes:
        held = f"the network's {total:,} parameters" + (f" and batches of {batch:,} samples" if activations else "")
        return [Diagnostic(("layers",), "too-much-memory",
                           f"training {held} needs about {_bytes(needed + activations)} "
                           f"({needed + activations:,} bytes), over the limit of {_bytes(limits.max_memory_bytes)}",
                           'use "dtype": "float32", fewer parameters or smaller batches, or raise Limits.max_memory_bytes')]
    return []


def _bytes(count: int) -> str:
    for unit in ("bytes", "KiB", "MiB", "GiB", "TiB"):
        if count < 1024 or unit == "TiB":
            return f"{count:.1f} {unit}" if unit != "bytes" else f"{count} bytes"
        count /= 1024
    raise AssertionError("unreachable")
