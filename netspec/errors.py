"""Diagnostics and the one error hierarchy of netspec.

A problem found in a spec is a :class:`Diagnostic`: a value with the JSON path
of the offending entry (``layers[2].neurons``), its line and column when the
spec came from text, a stable ``code``, a one-line ``message`` and, where one
helps, a ``hint``. Checking collects every diagnostic; the API then raises one
:class:`SpecError` carrying them all.

Every netspec error is a :class:`NetspecError`, which is also a ``ValueError``:

- :class:`SpecError` -- the spec (file, string, dict) is wrong;
- :class:`DataError` -- data handed to a pipeline or read from a data file is
  wrong (column count, NaN, labels out of range...); its subclass
  :class:`CheckpointError` -- a checkpoint cannot be read or does not match;
- :class:`InteropError` -- a model cannot move between netspec and another
  tool: a Keras or ONNX file netspec cannot import, or a network an exporter
  cannot write.

``assert`` is kept for internal invariants; users never see it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any, Iterable, Literal, Sequence, Union

PathPart = Union[str, int]
Path = tuple[PathPart, ...]

ERROR: Literal["error"] = "error"
WARNING: Literal["warning"] = "warning"


def format_path(path: Sequence[PathPart]) -> str:
    """Render a path tuple the way users write it: ``("layers", 2, "neurons")``
    becomes ``layers[2].neurons``; the empty path (the document itself) is ``""``."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


@dataclass(frozen=True)
class Diagnostic:
    """One problem found in a spec or its data.

    ``path`` is a tuple of keys and indices from the document root; ``code`` is
    stable across releases (documented in ``docs/errors.md``); ``severity`` is
    ``"error"`` or ``"warning"``. ``line`` and ``column`` are 1-based and set
    only when the spec came from text.
    """

    path: Path
    code: str
    message: str
    hint: str | None = None
    severity: Literal["error", "warning"] = ERROR
    line: int | None = None
    column: int | None = None
    file: str | None = None

    @property
    def where(self) -> str:
        """The path as users write it (``layers[2].neurons``), or ``<spec>`` for the root."""
        return format_path(self.path) or "<spec>"

    @property
    def is_error(self) -> bool:
        return self.severity == ERROR

    def located(self, line: int | None, column: int | None, file: str | None = None) -> "Diagnostic":
        """A copy carrying a source position (and file name, when given)."""
        return replace(self, line=line, column=column, file=file if file is not None else self.file)

    def as_error(self) -> "Diagnostic":
        """A copy with severity ``error`` (what ``--strict`` does to warnings)."""
        return replace(self, severity=ERROR)

    def __str__(self) -> str:
        """``FILE:LINE:COL: PATH: message (hint)``, leaving out what is unknown."""
        prefix = ":".join(
            str(p) for p in (self.file, self.line, self.column) if p is not None
        )
        label = "warning: " if self.severity == WARNING else ""
        text = f"{self.where}: {label}{self.message}"
        if self.hint:
            text += f" ({self.hint})"
        return f"{prefix}: {text}" if prefix else text

    def to_dict(self) -> dict:
        """A JSON-ready mapping: file, path, line, column, severity, code, message, hint."""
        data = asdict(self)
        data["path"] = format_path(self.path)
        return {k: data[k] for k in ("file", "path", "line", "column", "severity", "code", "message", "hint")}


class NetspecError(ValueError):
    """Base class of every error netspec raises on purpose."""


class SpecError(NetspecError):
    """A spec is invalid. ``errors`` holds every error found, ``warnings`` the
    warnings found beside them; each is a :class:`Diagnostic`."""

    def __init__(self, diagnostics: Iterable[Diagnostic]):
        diagnostics = list(diagnostics)
        self.errors: list[Diagnostic] = [d for d in diagnostics if d.is_error]
        self.warnings: list[Diagnostic] = [d for d in diagnostics if not d.is_error]
        assert self.errors, "SpecError needs at least one error"
        count = len(self.errors)
        head = f"{count} error{'s' if count != 1 else ''} in spec"
        super().__init__(head + ":\n" + "\n".join(f"  {d}" for d in self.errors))

    @property
    def diagnostics(self) -> list[Diagnostic]:
        return self.errors + self.warnings


class DataError(NetspecError):
    """Data is unusable: wrong shape, dtype or column count, non-finite values,
    labels out of range, or a data file that cannot be read. The message names
    what was expected and what was received."""


class CheckpointError(DataError):
    """A checkpoint file is missing, unreadable, or does not match its spec."""


class InteropError(NetspecError):
    """A model cannot be imported from, or exported to, another tool's format.
    ``errors`` holds every problem found, each a :class:`Diagnostic` whose path
    points into the foreign file (``config.layers[3].config.groups`` of a Keras
    config, ``graph.node[4]`` of an ONNX model) or, for an export, into the spec.
    ``document`` is the foreign file as read, when it was JSON text (its
    source lines, to show under each diagnostic), else None."""

    def __init__(self, diagnostics: Iterable[Diagnostic], doing: str, document: Any = None):
        self.errors: list[Diagnostic] = list(diagnostics)
        self.document = document
        assert self.errors, "InteropError needs at least one diagnostic"
        count = len(self.errors)
        head = f"{doing}: {count} problem{'s' if count != 1 else ''}"
        super().__init__(head + ":\n" + "\n".join(f"  {d}" for d in self.errors))

    @property
    def diagnostics(self) -> list[Diagnostic]:
        return self.errors


def spec_error(path: Sequence[PathPart], code: str, message: str, hint: str | None = None) -> SpecError:
    """The one way to build a single-diagnostic :class:`SpecError`."""
    return SpecError([Diagnostic(tuple(path), code, message, hint)])
