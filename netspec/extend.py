"""Registering components: the one path for built-ins, users' code and plugins.

Each ``register_*`` function is a class decorator on a **parameter model** (a
subclass of :class:`netspec.Activation`, :class:`netspec.Layer`,
:class:`netspec.Loss`, :class:`netspec.Initializer` or
:class:`netspec.Optimizer`: what a spec may say about the component) and takes
the **NumPy implementation** as an argument::

    class SwishRuntime(netspec.runtime.activations.Activation):
        def __init__(self, beta=1.0, name="swish"):
            self.beta, self.name = beta, name

        def forward(self, inputs, training=False):
            self.inputs = inputs
            self.output = inputs / (1 + np.exp(-self.beta * inputs))
            return self.output

        def backward(self, dvalues):
            s = 1 / (1 + np.exp(-self.beta * self.inputs))
            self.dinputs = dvalues * (s + self.beta * self.inputs * s * (1 - s))
            return self.dinputs

    @netspec.register_activation("swish", runtime=SwishRuntime)
    class Swish(netspec.Activation):
        \"\"\"x · sigmoid(beta · x).\"\"\"
        beta: float = 1.0

The new type is then valid in specs (``{"type": "swish", "beta": 2}``),
checked with paths and hints, listed by ``netspec list``, included in
``netspec schema``, compiled and trained like a built-in. The model's ``type``
field is added when it does not declare one.

Runtime protocols (see :mod:`netspec.runtime`): layers and activations have
``forward(inputs, training=False)``, ``backward(dvalues)``, ``parameters()``
and ``gradients()``; losses ``forward(y_pred, y_true)`` (per-sample losses),
``calculate`` and ``backward(dvalues, y_true)``; optimisers ``step``,
``state_dict`` and ``load_state_dict``; initialisers are functions
``(shape, rng, dtype, **options) -> array``. Check gradients with
:func:`netspec.check_gradients` or ``netspec check-gradients NAME``.
"""

from __future__ import annotations

from typing import Any, Callable, Literal, Mapping

from pydantic import create_model

from .registry import REGISTRY, Entry, same_width
from .spec import Component

TARGETS = ("categorical", "binary", "regression")
PROTOCOLS = {
    "layer": ("forward", "backward", "parameters", "gradients"),
    "activation": ("forward", "backward", "parameters", "gradients"),
    "loss": ("forward", "calculate", "backward"),
    "optimizer": ("step", "state_dict", "load_state_dict"),
}


def register_layer(name: str, *, build: Callable[..., Any], shape: Callable[[Any, int], tuple[int, int]],
                   example: Mapping[str, Any] | None = None, replace: bool = False) -> Callable[[type], type]:
    """Register a layer. ``build(params, in_features, context)`` returns the
    runtime object (``context`` has ``name``, ``dtype``, ``rng``,
    ``initialize(init, shape)`` and ``zeros(shape)``);
    ``shape(params, in_features) -> (out_features, parameter_count)`` is its
    shape rule (raise :class:`netspec.ShapeProblem` for an impossible width).
    ``example`` holds parameters :func:`netspec.check_gradients` may build it with."""
    return _registrar("layer", name, build, shape, example=example, replace=replace)


def register_activation(name: str, *, runtime: type, shape: Callable[[Any, int], tuple[int, int]] | None = None,
                        replace: bool = False) -> Callable[[type], type]:
    """Register an activation: ``runtime(**options, name=...)`` is its NumPy
    object. Activations keep the width and may also stand in ``layers`` and
    in a dense layer's ``activation``; ``shape`` may refuse a width (softmax
    over one unit), and defaults to accepting any."""
    _check_protocol("activation", name, runtime)
    return _registrar("activation", name, _named_builder(runtime), shape or same_width, replace=replace)


def register_loss(name: str, *, runtime: type, targets: str = "regression",
                  replace: bool = False) -> Callable[[type], type]:
    """Register a loss: ``runtime(**options)`` is its NumPy object. ``targets``
    says what ``y`` it takes: ``"categorical"`` (class indices or one-hot rows),
    ``"binary"`` (0/1 per output) or ``"regression"`` (values like the output)."""
    if targets not in TARGETS:
        raise ValueError(f"targets must be one of {', '.join(TARGETS)}, got {targets!r}")
    _check_protocol("loss", name, runtime)
    return _registrar("loss", name, _options_builder(runtime), None, targets=targets, replace=replace)


def register_initializer(name: str, *, function: Callable[..., Any], replace: bool = False) -> Callable[[type], type]:
    """Register an initialiser: ``function(shape, rng, dtype, **options)``
    returns the array; ``rng`` is a ``numpy.random.Generator``, or a legacy
    ``RandomState`` when the spec says ``"rng": "legacy"``."""
    if not callable(function):
        raise TypeError(f"initializer {name!r}: function must be callable, got {function!r}")

    def build(params: Component, in_features: int | None = None, context: Any = None) -> Callable[..., Any]:
        options = params.options()
        return lambda shape, rng, dtype: function(shape, rng, dtype, **options)

    return _registrar("initializer", name, build, None, replace=replace)


def register_optimizer(name: str, *, runtime: type, replace: bool = False) -> Callable[[type], type]:
    """Register an optimiser: ``runtime(**options)`` is its NumPy object
    (subclassing :class:`netspec.runtime.optimizers.Optimizer` gives decay,
    slots and state for free)."""
    _check_protocol("optimizer", name, runtime)
    return _registrar("optimizer", name, _options_builder(runtime), None, replace=replace)


def _registrar(kind: str, name: str, build: Callable[..., Any], shape: Callable | None, *,
               targets: str | None = None, example: Mapping[str, Any] | None = None,
               replace: bool = False) -> Callable[[type], type]:
    if not isinstance(name, str) or not name:
        raise ValueError(f"a component name must be a non-empty string, got {name!r}")

    def decorate(params: type) -> type:
        if not (isinstance(params, type) and issubclass(params, Component)):
            raise TypeError(f"{kind} {name!r}: decorate a parameter model (a subclass of netspec.{kind.title()}), "
                            f"got {params!r}")
        params = _with_type_field(params, name)
        REGISTRY.add(Entry(kind, name, params, build, shape, targets, dict(example or {})), replace=replace)
        return params

    return decorate


def _with_type_field(params: type, name: str) -> type:
    """The model with ``type: Literal[name]``: as declared (it must match), or added."""
    field = params.model_fields.get("type")
    if field is None:
        return create_model(params.__name__, __base__=params, __module__=params.__module__,
                            __doc__=params.__doc__, type=(Literal[name], name))
    if field.default != name:
        raise ValueError(f"{params.__name__}.type defaults to {field.default!r}, but it is registered as {name!r}")
    return params


def _check_protocol(kind: str, name: str, runtime: Any) -> None:
    missing = [m for m in PROTOCOLS[kind] if not callable(getattr(runtime, m, None))]
    if missing:
        raise TypeError(f"{kind} {name!r}: the runtime {getattr(runtime, '__name__', runtime)!r} lacks "
                        f"{', '.join(missing)} (see the {kind} protocol in netspec.extend)")


def _named_builder(runtime: type) -> Callable[..., Any]:
    """Builder of a component whose runtime class takes its options and a ``name``."""

    def build(params: Component, in_features: int, context: Any) -> Any:
        return runtime(**params.options(), name=context.name)

    return build


def _options_builder(runtime: type) -> Callable[..., Any]:
    """Builder of a component whose runtime class takes its options as keywords."""

    def build(params: Component, in_features: int | None = None, context: Any = None) -> Any:
        return runtime(**params.options())

    return build
