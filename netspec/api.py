"""The stages run in order: read → check → infer → compile.

Every public entry point takes a ``source``: a path (``.json``, ``.yaml``,
``.yml``), JSON or YAML text, a dict, or an already checked :class:`Spec`.
Validation (:func:`validate`, :func:`load`, :func:`infer`) never imports
NumPy or the runtime; :func:`compile` and :func:`load_pipeline` import them
when first called.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Iterable

from .check import check, spec_rules
from .collector import paused_collector
from .compile import build_pipeline
from .errors import CheckpointError, Diagnostic, SpecError
from .infer import UNRESOLVED, Shapes
from .infer import infer as infer_shapes
from .limits import DEFAULT_LIMITS, Limits
from .lints import lint
from .read import Document, read
from .spec import STAGES, Spec

if TYPE_CHECKING:
    from .runtime.pipeline import Pipeline


@dataclass(frozen=True)
class Report:
    """What :func:`validate` found: ``ok`` when there is no error.

    ``errors`` and ``warnings`` are :class:`~netspec.errors.Diagnostic` lists,
    located in the source when it was text. ``spec`` and ``shapes`` are set
    when the spec checked cleanly (``shapes`` may still carry shape errors).
    """

    errors: list[Diagnostic] = field(default_factory=list)
    warnings: list[Diagnostic] = field(default_factory=list)
    spec: Spec | None = None
    shapes: Shapes | None = None
    document: Document | None = field(default=None, repr=False)

    @property
    def ok(self) -> bool:
        return not self.errors

    @property
    def diagnostics(self) -> list[Diagnostic]:
        return self.errors + self.warnings

    def raise_for_errors(self) -> None:
        """Raise one :class:`SpecError` carrying every diagnostic, if there is any error."""
        if self.errors:
            raise SpecError(self.diagnostics)


def validate(source: Any, *, strict: bool = False, ignore: Iterable[str] = (),
             limits: Limits = DEFAULT_LIMITS) -> Report:
    """Check ``source`` through every stage but compile; never raises for a bad spec.

    ``strict`` turns warnings into errors; ``ignore`` silences lints by code.
    Python's cyclic garbage collector is paused while it runs (see
    :mod:`netspec.collector`), which keeps the cost linear in the spec's size.
    """
    with paused_collector():
        return _validate(source, strict, ignore, limits)


def _validate(source: Any, strict: bool, ignore: Iterable[str], limits: Limits) -> Report:
    if isinstance(source, Spec):
        spec, document = source, None
        problems = spec_rules(spec)
        if problems:
            return Report(problems, [])
    else:
        try:
            document = read(source, limits=limits)
        except SpecError as exc:
            return Report(exc.errors, exc.warnings)
        spec, problems = check(document.tree, limits=limits)
        if problems:
            return Report(_in_source_order(_located(problems, document)), [], document=document)
    shapes = _linted(infer_shapes(spec, limits=limits), spec, ignore)
    found = _located(shapes.diagnostics, document)
    if strict:
        found = [d.as_error() for d in found]
    return Report([d for d in found if d.is_error], [d for d in found if not d.is_error],
                  spec, shapes, document)


def load(source: Any, *, strict: bool = False, ignore: Iterable[str] = (),
         limits: Limits = DEFAULT_LIMITS) -> Spec:
    """The typed, immutable :class:`Spec` of ``source``, or :class:`SpecError`
    listing every problem (structural and shape alike)."""
    report = validate(source, strict=strict, ignore=ignore, limits=limits)
    report.raise_for_errors()
    return report.spec


def infer(source: Any, *, limits: Limits = DEFAULT_LIMITS) -> Shapes:
    """Every layer's name, type, in/out width and parameter count, and the
    total (``Shapes.total_parameters``); raises :class:`SpecError` on errors."""
    report = validate(source, limits=limits)
    report.raise_for_errors()
    return report.shapes


def compile(source: Any, *, strict: bool = False, ignore: Iterable[str] = (),
            limits: Limits = DEFAULT_LIMITS) -> "Pipeline":
    """A runnable :class:`~netspec.runtime.pipeline.Pipeline` for ``source``.

    Raises :class:`SpecError` when the spec has errors; warnings are kept on
    ``pipeline.warnings`` and never raised (unless ``strict``).
    """
    with paused_collector():  # building one runtime object per step is allocation-heavy too
        report = validate(source, strict=strict, ignore=ignore, limits=limits)
        report.raise_for_errors()
        return build_pipeline(report.spec, report.shapes)


def load_pipeline(path: Any, *, limits: Limits = DEFAULT_LIMITS) -> "Pipeline":
    """Restore a pipeline saved with :meth:`Pipeline.save`: same parameters
    bit for bit and, when saved, the optimiser and shuffle state, so the next
    training step is the one uninterrupted training would take.

    Raises :class:`~netspec.errors.CheckpointError` when the file is not a
    checkpoint or its arrays do not match its spec."""
    from .runtime import checkpoint

    where = str(path)
    arrays = checkpoint.read(path)
    try:
        pipeline = compile(checkpoint.spec_of(arrays, where), limits=limits)
    except SpecError as exc:
        raise CheckpointError(f"checkpoint {where}: its spec is invalid:\n{exc}") from None
    checkpoint.restore(pipeline, arrays, where)
    return pipeline


def _linted(shapes: Shapes, spec: Spec, ignore: Iterable[str]) -> Shapes:
    """``shapes`` with the lints' warnings added, but those whose code is in ``ignore``."""
    if any(d.code in UNRESOLVED for d in shapes.diagnostics):
        return shapes  # shapes are unknown past a reference that cannot be followed
    ignored = set(ignore)
    found = [d for d in lint(spec, shapes) if d.code not in ignored]
    return replace(shapes, diagnostics=shapes.diagnostics + tuple(found)) if found else shapes


def _in_source_order(found: list[Diagnostic]) -> list[Diagnostic]:
    """Structural problems by line and column, as a reader meets them (Pydantic
    reports them in the order of the models' fields); unlocated ones keep their order, last."""
    return sorted(found, key=lambda d: (d.line is None, d.line or 0, d.column or 0))


def _located(found: Iterable[Diagnostic], document: Document | None) -> list[Diagnostic]:
    found = list(found)
    if document is None or not (document.positions or document.file):
        return found  # a dict source: there is no position or file to add
    return [document.locate(d) for d in found]


STAGES.validate, STAGES.load = validate, load  # what Spec(...), Spec.replace and Spec.with_ run
