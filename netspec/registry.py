"""The component registry: one table for built-ins and users' components alike.

A component is a small, complete unit registered once under a ``kind`` and a
``type`` name:

- its **parameter model**, a :class:`netspec.spec.Component` subclass (what a
  spec may say about it; validated, listed in the JSON Schema);
- its **shape rule** (layers and activations): ``shape(params, in_shape)``
  takes the shape of one sample (a tuple without the batch axis,
  channels-last: ``(features,)``, ``(length, channels)`` or ``(height, width,
  channels)``), returns ``(out_shape, parameter_count)`` and raises
  :class:`ShapeProblem` when the input shape cannot work;
- its **builder**: ``build(params, in_shape, context)`` returns the plain
  NumPy runtime object (layers, activations, losses, optimizers) or, for
  initialisers, the array-making function;
- for layers that need scratch memory beyond their output (a convolution's
  window matrix), ``workspace(params, in_shape, out_shape)``: the values per
  sample it holds, so memory budgets count it;
- for losses, the ``targets`` they take (``categorical``, ``binary`` or
  ``regression``); for layers, an ``example`` of parameters to build one with.

Components are registered through :mod:`netspec.extend`.

Kinds: ``layer`` (anything that may stand in ``layers``), ``activation``
(also usable as a layer, and as dense's ``activation`` shorthand), ``loss``,
``initializer`` and ``optimizer``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

KINDS = ("layer", "activation", "loss", "initializer", "optimizer")


Shape = tuple[int, ...]
ShapeRule = Callable[[Any, Shape], tuple[Shape, int]]


class ShapeProblem(Exception):
    """Raised by a shape rule: the layer cannot take the input shape that arrives.

    ``message`` is plain words; in it, ``{input}`` stands for where the shape
    comes from, as inference words it ("the 3×3 output of max_pool2d_2", "the
    28×28×1 input"). ``field`` names the parameter at fault, when one is (it
    extends the diagnostic's path); ``hint`` says how to fix it; ``code`` is
    the diagnostic's stable code (``bad-shape`` when not given). ``assume``:
    the output shape the layer would give once fixed (a dense layer's
    ``(neurons,)``), so that inference checks the layers after it; without
    it, they are checked against the input shape.
    """

    def __init__(self, message: str, *, field: str | None = None, hint: str | None = None,
                 code: str = "bad-shape", assume: tuple[int, ...] | None = None):
        super().__init__(message)
        self.message = message
        self.field = field
        self.hint = hint
        self.code = code
        self.assume = assume


def format_shape(shape: Shape) -> str:
    """A sample's shape as people read it: ``26×26×32``, ``784``."""
    return "×".join(str(size) for size in shape)


def same_shape(params: Any, in_shape: Shape) -> tuple[Shape, int]:
    """The shape rule of element-wise components: shape unchanged, no parameters."""
    return in_shape, 0


@dataclass(frozen=True)
class Entry:
    """One registered component."""

    kind: str
    name: str
    params: type
    build: Callable[..., Any]
    shape: ShapeRule | None = None
    targets: str | None = None
    example: dict[str, Any] = field(default_factory=dict)
    workspace: Callable[[Any, Shape, Shape], int] | None = None
    runtime: Any = None  # the runtime class (or initialiser function) it builds, or its "module:Name" reference

    @property
    def summary(self) -> str:
        """The first paragraph of the parameter model's docstring, on one line."""
        doc = (self.params.__doc__ or "").strip()
        return " ".join(doc.split("\n\n")[0].split())


class Registry:
    """Components by kind and name, in registration order.

    Registering after the spec models were first used rebuilds them, so a new
    type is valid in specs, in the JSON Schema and in listings at once.
    """

    def __init__(self) -> None:
        self._entries: dict[str, dict[str, Entry]] = {kind: {} for kind in KINDS}
        self._listeners: list[Callable[[], None]] = []
        self._shape_rules: dict[str, ShapeRule | None] | None = None
        self._workspaces: dict[str, Callable[[Any, Shape, Shape], int]] | None = None
        self._merges: frozenset[str] | None = None

    def add(self, entry: Entry, *, replace: bool = False) -> Entry:
        if entry.kind not in KINDS:
            raise ValueError(f"unknown component kind {entry.kind!r}; expected one of {', '.join(KINDS)}")
        table = self._entries[entry.kind]
        if entry.name in table and not replace:
            raise ValueError(
                f"a {entry.kind} named {entry.name!r} is already registered; pass replace=True to override it"
            )
        table[entry.name] = entry
        if entry.kind == "activation":
            self._entries["layer"][entry.name] = entry
        self._changed()
        return entry

    def snapshot(self) -> dict[str, dict[str, Entry]]:
        """A copy of every table, to :meth:`restore` later (tests register and then forget)."""
        return {kind: dict(table) for kind, table in self._entries.items()}

    def restore(self, snapshot: dict[str, dict[str, Entry]]) -> None:
        """Put back the tables of a :meth:`snapshot`."""
        self._entries = {kind: dict(table) for kind, table in snapshot.items()}
        self._changed()

    def _changed(self) -> None:
        """Forget what was derived from the tables, and tell the listeners."""
        self._shape_rules = self._workspaces = self._merges = None
        for listener in self._listeners:
            listener()

    def on_change(self, listener: Callable[[], None]) -> None:
        """Call ``listener`` after every registration (the spec models rebuild this way)."""
        self._listeners.append(listener)

    def get(self, kind: str, name: str) -> Entry | None:
        return self._entries[kind].get(name)

    def shape_rules(self) -> dict[str, ShapeRule | None]:
        """The shape rule of every layer type, by name (``None`` for a layer without one).
        Inference looks one up for every step, so the table is made once per
        change of the registry; callers must not modify it."""
        if self._shape_rules is None:
            self._shape_rules = {name: entry.shape for name, entry in self._entries["layer"].items()}
        return self._shape_rules

    def workspaces(self) -> dict[str, Callable[[Any, Shape, Shape], int]]:
        """The workspace function of every layer type that has one, by name; made once per change."""
        if self._workspaces is None:
            self._workspaces = {name: entry.workspace for name, entry in self._entries["layer"].items()
                                if entry.workspace is not None}
        return self._workspaces

    def merges(self) -> frozenset[str]:
        """The names of the merge layers (several inputs); made once per change."""
        if self._merges is None:
            self._merges = frozenset(name for name, entry in self._entries["layer"].items()
                                     if getattr(entry.params, "merge", False))
        return self._merges

    def names(self, kind: str) -> list[str]:
        return list(self._entries[kind])

    def entries(self, kind: str) -> list[Entry]:
        return list(self._entries[kind].values())

    def entry_for(self, params: Any) -> Entry:
        """The entry whose parameter model ``params`` is an instance of."""
        for table in self._entries.values():
            entry = table.get(getattr(params, "type", None))
            if entry is not None and isinstance(params, entry.params):
                return entry
        raise LookupError(f"{type(params).__name__} is not a registered component")


REGISTRY = Registry()
