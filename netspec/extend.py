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

A runtime (and an initialiser's function) may also be given as a reference,
``"package.module:Name"``, imported when a spec first compiles with it: so
registering a component, and validating specs that use it, never imports
NumPy or the component's runtime. The built-ins are registered that way.

Runtime protocols (see :mod:`netspec.runtime`): layers and activations have
``forward(inputs, training=False)``, ``backward(dvalues)``, ``parameters()``
and ``gradients()``; losses ``forward(y_pred, y_true)`` (per-sample losses),
``calculate`` and ``backward(dvalues, y_true)``; optimisers ``step``,
``state_dict`` and ``load_state_dict``; initialisers are functions
``(shape, rng, dtype, **options) -> array``. Check gradients with
:func:`netspec.check_gradients` or ``netspec check-gradients NAME``.
"""

from __future__ import annotations

import importlib
import warnings
from functools import cache
from typing import Any, Callable, Literal, Mapping, Union

from pydantic import create_model

from .registry import REGISTRY, Entry, Shape, ShapeProblem, ShapeRule, same_shape
from .spec import Component

TARGETS = ("categorical", "binary", "regression")
Runtime = Union[type, str]  # a class, or "package.module:Name", imported when first built
PROTOCOLS = {
    "layer": ("forward", "backward", "parameters", "gradients"),
    "activation": ("forward", "backward", "parameters", "gradients"),
    "loss": ("forward", "calculate", "backward"),
    "optimizer": ("step", "state_dict", "load_state_dict"),
}


def register_layer(name: str, *, build: Callable[..., Any], output_shape: ShapeRule | None = None,
                   shape: Callable[[Any, int], tuple[int, int]] | None = None,
                   workspace: Callable[[Any, Shape, Shape], int] | None = None,
                   example: Mapping[str, Any] | None = None, replace: bool = False) -> Callable[[type], type]:
    """Register a layer. ``build(params, in_shape, context)`` returns the
    runtime object (``context`` has ``name``, ``dtype``, ``rng``,
    ``initialize(init, shape)`` and ``zeros(shape)``);
    ``output_shape(params, in_shape) -> (out_shape, parameter_count)`` is its
    shape rule, on the shape of one sample without the batch axis (raise
    :class:`netspec.ShapeProblem` for a shape it cannot take).
    ``workspace(params, in_shape, out_shape)``, for a layer holding scratch
    arrays beyond its output, gives their values per sample, for the memory
    budget. ``example`` holds parameters :func:`netspec.check_gradients` may
    build it with.

    Deprecated: ``shape(params, in_features) -> (out_features, count)``, the
    rule of the first language, on widths. Such a layer keeps working on
    vectors (its builder then receives the width, as before); given a tensor
    it asks for a flatten before it.
    """
    if (output_shape is None) == (shape is None):
        raise TypeError(f"layer {name!r}: pass output_shape= (the shape rule), and not the deprecated shape= too")
    if shape is not None:
        warnings.warn(f"layer {name!r}: register_layer(shape=...) takes a rule on widths, which is deprecated; "
                      "pass output_shape=, a rule from the input shape tuple to (output shape tuple, parameter count)",
                      DeprecationWarning, stacklevel=2)
        output_shape, build = _width_rule(name, shape), _width_builder(build)
    return _registrar("layer", name, build, output_shape, example=example, workspace=workspace, replace=replace)


def register_activation(name: str, *, runtime: Runtime, output_shape: ShapeRule | None = None,
                        shape: Callable[[Any, int], tuple[int, int]] | None = None,
                        replace: bool = False) -> Callable[[type], type]:
    """Register an activation: ``runtime(**options, name=...)`` is its NumPy
    object. Activations keep the shape (they work on any rank) and may also
    stand in ``layers`` and in a layer's ``activation``; ``output_shape`` may
    refuse a shape (softmax over one unit), and defaults to accepting any.
    The deprecated ``shape`` (a rule on the width) is applied to the last axis."""
    _check_protocol("activation", name, runtime)
    if output_shape is not None and shape is not None:
        raise TypeError(f"activation {name!r}: pass output_shape=, and not the deprecated shape= too")
    if shape is not None:
        warnings.warn(f"activation {name!r}: register_activation(shape=...) takes a rule on widths, which is "
                      "deprecated; pass output_shape=, a rule on shape tuples", DeprecationWarning, stacklevel=2)
        output_shape = _last_axis_rule(shape)
    return _registrar("activation", name, _named_builder(runtime), output_shape or same_shape, runtime=runtime,
                      replace=replace)


def _width_rule(name: str, rule: Callable[[Any, int], tuple[int, int]]) -> ShapeRule:
    """A shape rule from a deprecated width rule: vectors only."""

    def output_shape(params: Any, in_shape: Shape) -> tuple[Shape, int]:
        if len(in_shape) != 1:
            size = 1
            for axis in in_shape:
                size *= axis
            raise ShapeProblem(f"{name} takes a vector of features, but receives {{input}}",
                               hint=f'insert {{"type": "flatten"}} before it; it would then receive {size} features',
                               code="needs-flatten")
        out, count = rule(params, in_shape[0])
        return (out,), count

    return output_shape


def _width_builder(build: Callable[..., Any]) -> Callable[..., Any]:
    """A builder of the first language, which receives the width, not the shape."""

    def builder(params: Any, in_shape: Shape, context: Any) -> Any:
        return build(params, in_shape[0], context)

    return builder


def _last_axis_rule(rule: Callable[[Any, int], tuple[int, int]]) -> ShapeRule:
    """A shape rule from a deprecated width rule of an activation: applied to the last axis."""

    def output_shape(params: Any, in_shape: Shape) -> tuple[Shape, int]:
        out, count = rule(params, in_shape[-1])
        return (*in_shape[:-1], out), count

    return output_shape


def register_loss(name: str, *, runtime: Runtime, targets: str = "regression",
                  replace: bool = False) -> Callable[[type], type]:
    """Register a loss: ``runtime(**options)`` is its NumPy object. ``targets``
    says what ``y`` it takes: ``"categorical"`` (class indices or one-hot rows),
    ``"binary"`` (0/1 per output) or ``"regression"`` (values like the output)."""
    if targets not in TARGETS:
        raise ValueError(f"targets must be one of {', '.join(TARGETS)}, got {targets!r}")
    _check_protocol("loss", name, runtime)
    return _registrar("loss", name, _options_builder(runtime), None, targets=targets, runtime=runtime,
                      replace=replace)


def register_initializer(name: str, *, function: Callable[..., Any] | str,
                         replace: bool = False) -> Callable[[type], type]:
    """Register an initialiser: ``function(shape, rng, dtype, **options)``
    returns the array; ``rng`` is a ``numpy.random.Generator``, or a legacy
    ``RandomState`` when the spec says ``"rng": "legacy"``. ``function`` may
    be a ``"package.module:name"`` reference."""
    if not (callable(function) or _is_reference(function)):
        raise TypeError(f"initializer {name!r}: function must be callable, got {function!r}")

    def build(params: Component, in_shape: Any = None, context: Any = None) -> Callable[..., Any]:
        options, make = params.options(), resolve(function)
        return lambda shape, rng, dtype: make(shape, rng, dtype, **options)

    return _registrar("initializer", name, build, None, runtime=function, replace=replace)


def register_optimizer(name: str, *, runtime: Runtime, replace: bool = False) -> Callable[[type], type]:
    """Register an optimiser: ``runtime(**options)`` is its NumPy object
    (subclassing :class:`netspec.runtime.optimizers.Optimizer` gives decay,
    slots and state for free)."""
    _check_protocol("optimizer", name, runtime)
    return _registrar("optimizer", name, _options_builder(runtime), None, runtime=runtime, replace=replace)


def _registrar(kind: str, name: str, build: Callable[..., Any], shape: Callable | None, *,
               targets: str | None = None, example: Mapping[str, Any] | None = None,
               workspace: Callable[..., int] | None = None, runtime: Any = None,
               replace: bool = False) -> Callable[[type], type]:
    if not isinstance(name, str) or not name:
        raise ValueError(f"a component name must be a non-empty string, got {name!r}")

    def decorate(params: type) -> type:
        if not (isinstance(params, type) and issubclass(params, Component)):
            raise TypeError(f"{kind} {name!r}: decorate a parameter model (a subclass of netspec.{kind.title()}), "
                            f"got {params!r}")
        params = _with_type_field(params, name)
        REGISTRY.add(Entry(kind, name, params, build, shape, targets, dict(example or {}), workspace, runtime),
                     replace=replace)
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


def resolve(runtime: Any) -> Any:
    """``runtime`` itself, or the object a ``"package.module:Name"`` reference names, imported once."""
    return _imported(runtime) if isinstance(runtime, str) else runtime


@cache
def _imported(reference: str) -> Any:
    module, _, attribute = reference.partition(":")
    return getattr(importlib.import_module(module), attribute)


def _is_reference(value: Any) -> bool:
    return isinstance(value, str) and value.count(":") == 1 and all(value.split(":"))


def _check_protocol(kind: str, name: str, runtime: Any) -> None:
    if _is_reference(runtime):
        return  # checked by the tests of whoever registers it so; importing it here would defeat the purpose
    missing = [m for m in PROTOCOLS[kind] if not callable(getattr(runtime, m, None))]
    if missing:
        raise TypeError(f"{kind} {name!r}: the runtime {getattr(runtime, '__name__', runtime)!r} lacks "
                        f"{', '.join(missing)} (see the {kind} protocol in netspec.extend)")


def _named_builder(runtime: type) -> Callable[..., Any]:
    """Builder of a component whose runtime class takes its options and a ``name``."""

    def build(params: Component, in_shape: Shape, context: Any) -> Any:
        return resolve(runtime)(**params.options(), name=context.name)

    return build


def _options_builder(runtime: type) -> Callable[..., Any]:
    """Builder of a component whose runtime class takes its options as keywords."""

    def build(params: Component, in_shape: Any = None, context: Any = None) -> Any:
        return resolve(runtime)(**params.options())

    return build
