"""Plugins: packages that register components through the ``netspec.components`` entry point group.

A plugin declares, in its ``pyproject.toml``::

    [project.entry-points."netspec.components"]
    swish = "netspec_swish"            # a module that registers on import
    # or: swish = "netspec_swish:register"   (a function called with no arguments)

The ``netspec`` command loads every installed plugin before it runs; Python
code calls :func:`load_plugins` once. A plugin that fails to load is reported,
never fatal: netspec and the other plugins work on.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import metadata

GROUP = "netspec.components"

_loaded: dict[str, "PluginResult"] = {}


@dataclass(frozen=True)
class PluginResult:
    """What happened when one entry point was loaded: ``error`` is None on success."""

    name: str
    value: str
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


def load_plugins() -> list[PluginResult]:
    """Load every entry point of the ``netspec.components`` group not loaded
    yet, and return the outcome of each (in entry point order)."""
    results = []
    for entry_point in metadata.entry_points(group=GROUP):
        key = f"{entry_point.name}={entry_point.value}"
        if key not in _loaded:
            _loaded[key] = _load(entry_point)
        results.append(_loaded[key])
    return results


def _load(entry_point: metadata.EntryPoint) -> PluginResult:
    try:
        loaded = entry_point.load()
        if callable(loaded):
            loaded()
    except Exception as exc:  # a broken plugin must not break netspec
        return PluginResult(entry_point.name, entry_point.value, f"{type(exc).__name__}: {exc}")
    return PluginResult(entry_point.name, entry_point.value)
