"""Checking a registered component's gradients by finite differences.

``check_gradients("swish")`` builds the component in float64 from its
registered parameters (or the parameter model you pass), feeds it random
inputs away from kinks, and compares its backward pass with central
differences: the inputs' gradient and every parameter's for layers and
activations, the predictions' gradient for losses. Optimisers and
initialisers have no backward pass and are not checked.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .compile import DEFAULT_INIT, BuildContext
from .errors import SpecError, spec_error
from .registry import REGISTRY, Entry, ShapeProblem, format_shape
from .runtime.gradcheck import GradientCheck, check_layer, check_loss
from .spec import Component

CHECKED_KINDS = ("layer", "activation", "loss")


@dataclass(frozen=True)
class GradientReport:
    """The checks of one component; ``ok`` when every array passed."""

    name: str
    kind: str
    checks: tuple[GradientCheck, ...]

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.checks)

    @property
    def error(self) -> float:
        return max((c.error for c in self.checks), default=0.0)

    def __str__(self) -> str:
        verdict = "ok" if self.ok else "WRONG"
        details = ", ".join(f"{c.what} {c.error:.1e}" for c in self.checks)
        return f"{self.kind} {self.name}: {verdict} (max relative error {self.error:.1e}; {details})"


# The sample shapes a layer is tried on, in order, when none is given: a
# vector, a sequence, an image; the first its shape rule accepts is used.
TRIED_SHAPES = ((4,), (7, 3), (6, 5, 2))


def check_gradients(component: str | Component, *, in_features: int = 4, in_shape: tuple[int, ...] | None = None,
                    samples: int = 5, seed: int = 0, tolerance: float = 1e-6) -> GradientReport:
    """Compare ``component``'s backward pass with central differences.

    ``component`` is a registered name (built with its registered ``example``
    parameters, or its defaults) or a parameter model instance
    (``Swish(beta=2)``). A layer runs on samples of ``in_shape``; when it is
    not given, on the first of :data:`TRIED_SHAPES` its shape rule accepts
    (``(in_features,)`` first). A loss compares ``in_features`` outputs.
    Raises :class:`SpecError` for an unknown name or a component that needs
    parameters to be built."""
    entry, params = _resolve(component)
    rng = np.random.default_rng(seed)
    if entry.kind == "loss":
        checks = _check_loss(entry, params, in_features, samples, rng, tolerance)
    else:
        context = BuildContext(entry.name, np.dtype("float64"), rng, DEFAULT_INIT)
        if getattr(entry.params, "merge", False):  # two inputs of one shape
            shape = tuple(in_shape) if in_shape is not None else (in_features,)
            layer = entry.build(params, (shape, shape), context)
            inputs = [_away_from_kinks(rng, (samples, *shape)) for _ in range(2)]
        else:
            shape = tuple(in_shape) if in_shape is not None else _accepted_shape(entry, params, in_features)
            layer = entry.build(params, shape, context)
            inputs = _away_from_kinks(rng, (samples, *shape))
        checks = check_layer(layer, inputs, rng, tolerance)
    return GradientReport(entry.name, entry.kind, tuple(checks))


def _accepted_shape(entry: Entry, params: Component, in_features: int) -> tuple[int, ...]:
    """The first sample shape ``entry``'s shape rule accepts, or a SpecError naming the shapes tried."""
    tried = ((in_features,), *TRIED_SHAPES[1:])
    for shape in tried:
        try:
            if entry.shape is not None:
                entry.shape(params, shape)
            return shape
        except ShapeProblem:
            continue
    raise spec_error((), "bad-shape", f'{entry.kind} "{entry.name}" refuses every sample shape tried '
                     f"({', '.join(format_shape(s) for s in tried)})",
                     "pass one it takes: check_gradients(..., in_shape=(...))")


def check_all(names: list[str] | None = None, **options: Any) -> list[GradientReport]:
    """Reports for the named components, or every registered layer, activation and loss."""
    if names:
        return [check_gradients(name, **options) for name in names]
    seen = {e.name: e for kind in ("layer", "loss") for e in REGISTRY.entries(kind)}
    return [check_gradients(name, **options) for name in seen]


def _resolve(component: str | Component) -> tuple[Entry, Component]:
    if isinstance(component, Component):
        entry = REGISTRY.entry_for(component)
        params = component
    else:
        entry = next((REGISTRY.get(kind, component) for kind in CHECKED_KINDS if REGISTRY.get(kind, component)), None)
        if entry is None:
            known = sorted({e.name for kind in ("layer", "loss") for e in REGISTRY.entries(kind)})
            raise spec_error((), "unknown-type", f'no layer, activation or loss is registered as "{component}"',
                             "registered: " + ", ".join(known))
        try:
            params = entry.params(**entry.example)
        except SpecError:
            raise spec_error((), "needs-parameters",
                             f'{entry.kind} "{entry.name}" cannot be built without parameters',
                             "pass an instance (check_gradients(MyLayer(...))) or register it with example={...}"
                             ) from None
    if entry.kind not in CHECKED_KINDS:
        raise spec_error((), "not-differentiable", f'{entry.kind} "{entry.name}" has no backward pass to check')
    return entry, params


def _away_from_kinks(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """Values in ±[0.1, 1.5]: no exact zeros, where ReLU-like functions bend."""
    return rng.uniform(0.1, 1.5, size=shape) * rng.choice([-1.0, 1.0], size=shape)


def _check_loss(entry: Entry, params: Component, width: int, samples: int, rng: np.random.Generator,
                tolerance: float) -> list[GradientCheck]:
    loss = entry.build(params)
    if entry.targets == "categorical":
        scores = rng.normal(size=(samples, width))
        if getattr(loss, "from_logits", False):
            predictions = scores
        else:
            exp = np.exp(scores - scores.max(axis=1, keepdims=True))
            predictions = exp / exp.sum(axis=1, keepdims=True)
        targets = rng.integers(0, width, size=samples)
    elif entry.targets == "binary":
        predictions = rng.normal(size=(samples, width)) if getattr(loss, "from_logits", False) \
            else rng.uniform(0.05, 0.95, size=(samples, width))
        targets = rng.integers(0, 2, size=(samples, width)).astype(np.float64)
    else:
        predictions = rng.normal(size=(samples, width))
        targets = predictions + _away_from_kinks(rng, (samples, width))
    return check_loss(loss, predictions, targets, tolerance)
