"""Finite-difference gradients, the reference every backward pass is tested against.

:func:`numerical_gradient` is central differences; :func:`check_layer` and
:func:`check_loss` compare a runtime object's backward pass with it, for
plugin authors as much as for netspec's own tests.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np


def numerical_gradient(f: Callable[[], float], x: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    """Central differences ``(f(x + eps·e_i) − f(x − eps·e_i)) / 2eps`` of the
    scalar ``f()`` w.r.t. every element of ``x``, which is changed in place
    and restored. ``f`` must read ``x`` each time it is called."""
    grad = np.zeros_like(x)
    for index in np.ndindex(x.shape):
        saved = x[index]
        x[index] = saved + eps
        plus = f()
        x[index] = saved - eps
        minus = f()
        x[index] = saved
        grad[index] = (plus - minus) / (2 * eps)
    return grad


@dataclass(frozen=True)
class GradientCheck:
    """One array's analytic gradient against central differences.

    ``error`` is ``max |analytic − numeric| / max(1, max |numeric|)``; the
    check passes when it is at most ``tolerance``."""

    what: str
    error: float
    tolerance: float

    @property
    def ok(self) -> bool:
        return bool(self.error <= self.tolerance)


def _compare(what: str, analytic: np.ndarray, numeric: np.ndarray, tolerance: float) -> GradientCheck:
    if analytic is None or np.shape(analytic) != np.shape(numeric):
        return GradientCheck(f"{what} (shape {np.shape(analytic)} != {np.shape(numeric)})", float("inf"), tolerance)
    scale = max(1.0, float(np.max(np.abs(numeric), initial=0.0)))
    error = float(np.max(np.abs(analytic - numeric), initial=0.0)) / scale
    return GradientCheck(what, error if np.isfinite(error) else float("inf"), tolerance)


def check_layer(layer: Any, inputs: np.ndarray | list[np.ndarray], rng: np.random.Generator,
                tolerance: float = 1e-6) -> list[GradientCheck]:
    """Check a layer's or activation's ``backward`` w.r.t. its inputs and each
    parameter, for the scalar ``sum(forward(inputs, training=True) · R)`` with
    a random R, plus the layer's ``regularization_loss()`` when it has one
    (its backward adds the penalties' gradients). A merge layer takes a list
    of input arrays, and each is checked.

    A layer that draws random numbers in training keeps its source as
    ``rng`` (dropout does); it is rewound before each evaluation, so every
    evaluation draws the same mask and the objective is a function of the
    inputs and parameters alone."""
    merged = isinstance(inputs, list)
    weights = rng.normal(size=layer.forward([x.copy() for x in inputs] if merged else inputs.copy()).shape)
    rewind = _rewinder(getattr(layer, "rng", None))
    penalty = getattr(layer, "regularization_loss", None)

    def objective() -> float:
        rewind()
        value = float(np.sum(layer.forward(inputs, training=True) * weights))
        return value + penalty() if penalty is not None else value

    objective()
    dinputs = layer.backward(weights.copy())
    analytic = [g.copy() for g in layer.gradients()]
    if merged:
        checks = [_compare(f"input {k}", np.array(d, copy=True), numerical_gradient(objective, x), tolerance)
                  for k, (d, x) in enumerate(zip(dinputs, inputs))]
    else:
        checks = [_compare("inputs", dinputs, numerical_gradient(objective, inputs), tolerance)]
    for index, parameter in enumerate(layer.parameters()):
        numeric = numerical_gradient(objective, parameter)
        checks.append(_compare(f"parameter {index}", analytic[index] if index < len(analytic) else None,
                               numeric, tolerance))
    return checks


def _rewinder(source: Any) -> Callable[[], None]:
    """A function that puts ``source`` (a Generator or a RandomState) back in its
    state of now; one that does nothing for anything else."""
    if isinstance(source, np.random.Generator):
        state = source.bit_generator.state

        def rewind() -> None:
            source.bit_generator.state = state

        return rewind
    if isinstance(source, np.random.RandomState):
        saved = source.get_state()
        return lambda: source.set_state(saved)
    return lambda: None


def check_loss(loss: Any, predictions: np.ndarray, targets: np.ndarray,
               tolerance: float = 1e-6) -> list[GradientCheck]:
    """Check a loss's ``backward`` (gradient of the mean loss) w.r.t. the predictions."""
    analytic = np.array(loss.backward(predictions.copy(), targets), copy=True)
    numeric = numerical_gradient(lambda: loss.calculate(predictions, targets), predictions)
    return [_compare("predictions", analytic, numeric, tolerance)]
