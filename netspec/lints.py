"""Lints: warnings about specs that are valid but probably not what was meant.

Each lint is a small function of the spec and its inferred shapes (the run
steps of :func:`netspec.infer.steps`, activation shorthands expanded),
registered in :data:`LINTS` under its stable code; every code is also in
:data:`netspec.codes.CODES` and explained in ``docs/errors.md``. Lints never
stop compile; ``--strict`` (or ``strict=True``) turns them into errors, and
each can be silenced by its code (``--ignore relu-output-regression``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Iterator

from .errors import WARNING, Diagnostic, Path
from .spec import Activation, Component, GateData, SineData, SpiralData

if TYPE_CHECKING:
    from .infer import LayerShape, Shapes
    from .spec import Spec

Lint = Callable[["Spec", "Shapes"], Iterator[Diagnostic]]
LINTS: dict[str, Lint] = {}


def lint_rule(code: str) -> Callable[[Lint], Lint]:
    """Register a lint function under ``code``."""

    def decorate(function: Lint) -> Lint:
        LINTS[code] = function
        return function

    return decorate


def lint(spec: "Spec", shapes: "Shapes") -> list[Diagnostic]:
    """Every lint's warnings for ``spec``."""
    return [d for function in LINTS.values() for d in function(spec, shapes)]


def _warn(path: Path, code: str, message: str, hint: str | None = None) -> Diagnostic:
    return Diagnostic(path, code, message, hint, severity=WARNING)


def _output(shapes: "Shapes") -> tuple[str, int]:
    """The type and width of the network's last step."""
    last = shapes.layers[-1]
    return last.type, last.out_features


def _expects_probabilities(spec: "Spec", shapes: "Shapes", loss_type: str, words: str, outputs: tuple[str, ...],
                           code: str) -> Iterator[Diagnostic]:
    """A loss that takes probabilities, after a network whose last step does not make them."""
    loss = spec.loss
    if loss is None or loss.type != loss_type or loss.from_logits:
        return
    kind, _ = _output(shapes)
    if kind not in outputs:
        yield _warn(("loss",), code, f"{words} expects probabilities, but the network ends with {kind}",
                    f'add {{"type": "{outputs[0]}"}} as the last layer, or set "from_logits": true')


@lint_rule("crossentropy-without-softmax")
def _crossentropy_without_softmax(spec: "Spec", shapes: "Shapes") -> Iterator[Diagnostic]:
    return _expects_probabilities(spec, shapes, "categorical_crossentropy", "categorical cross-entropy",
                                  ("softmax", "sigmoid"), "crossentropy-without-softmax")


@lint_rule("sigmoid-with-categorical-crossentropy")
def _sigmoid_with_categorical(spec: "Spec", shapes: "Shapes") -> Iterator[Diagnostic]:
    loss = spec.loss
    kind, width = _output(shapes)
    if loss is not None and loss.type == "categorical_crossentropy" and kind == "sigmoid" and width > 1:
        yield _warn(("loss",), "sigmoid-with-categorical-crossentropy",
                    f"sigmoid outputs over {width} classes do not sum to 1, as categorical cross-entropy assumes",
                    "use softmax for one class per sample, or binary_crossentropy for several labels per sample")


@lint_rule("softmax-with-logits")
def _softmax_with_logits(spec: "Spec", shapes: "Shapes") -> Iterator[Diagnostic]:
    loss = spec.loss
    if loss is None or not vars(loss).get("from_logits", False):
        return
    kind, _ = _output(shapes)
    if kind in ("softmax", "sigmoid"):
        yield _warn(("loss", "from_logits"), "softmax-with-logits",
                    f"from_logits is true but the network already ends with {kind}, so it is applied twice",
                    f'remove the final {kind} layer, or set "from_logits": false')


@lint_rule("binary-crossentropy-width")
def _binary_width(spec: "Spec", shapes: "Shapes") -> Iterator[Diagnostic]:
    loss = spec.loss
    _, width = _output(shapes)
    if loss is not None and loss.type == "binary_crossentropy" and width > 1:
        yield _warn(("loss",), "binary-crossentropy-width",
                    f"binary cross-entropy on {width} outputs treats each as a separate yes/no label",
                    "for one class out of several use softmax with categorical_crossentropy")


@lint_rule("binary-crossentropy-without-sigmoid")
def _binary_without_sigmoid(spec: "Spec", shapes: "Shapes") -> Iterator[Diagnostic]:
    return _expects_probabilities(spec, shapes, "binary_crossentropy", "binary cross-entropy", ("sigmoid",),
                                  "binary-crossentropy-without-sigmoid")


@lint_rule("relu-output-regression")
def _relu_output_regression(spec: "Spec", shapes: "Shapes") -> Iterator[Diagnostic]:
    loss = spec.loss
    kind, _ = _output(shapes)
    if loss is not None and loss.type in ("mse", "mae") and kind == "relu":
        yield _warn(shapes.layers[-1].path, "relu-output-regression",
                    f"a ReLU output cannot predict negative values, and {loss.type} will not push it to",
                    "end a regression network with a dense layer (linear output)")


# ---------------------------------------------------------------- the order of steps

def _is_activation(step: "LayerShape") -> bool:
    """A non-linear activation step; ``linear`` is the identity, so it does not count."""
    return isinstance(step.params, Activation) and step.type != "linear"


def _step(step: "LayerShape") -> str:
    """How a message names a step: ``layers[1] (relu_2)``."""
    return f"{step.where} ({step.name})"


def _pairs(shapes: "Shapes") -> Iterator[tuple["LayerShape", "LayerShape"]]:
    """Each step with the step run right after it."""
    return zip(shapes.layers, shapes.layers[1:])


@lint_rule("activation-after-activation")
def _activation_after_activation(spec: "Spec", shapes: "Shapes") -> Iterator[Diagnostic]:
    """Two non-linear activations in a row; after softmax, ``activation-after-softmax`` says it instead."""
    for first, second in _pairs(shapes):
        if _is_activation(first) and _is_activation(second) and first.type != "softmax":
            yield _warn(second.path, "activation-after-activation",
                        f"{_step(second)} comes right after another activation, {_step(first)}: "
                        f"{second.type}({first.type}(x)) is rarely meant, one activation between dense layers is enough",
                        "remove one of the two, or put a dense layer between them")


@lint_rule("activation-after-softmax")
def _activation_after_softmax(spec: "Spec", shapes: "Shapes") -> Iterator[Diagnostic]:
    """A non-linear activation right after a softmax."""
    for first, second in _pairs(shapes):
        if first.type == "softmax" and _is_activation(second):
            yield _warn(second.path, "activation-after-softmax",
                        f"{_step(second)} comes right after {_step(first)}: softmax already outputs probabilities "
                        f"(each in [0, 1], each row summing to 1), and {second.type} on top of them distorts them "
                        "or does nothing",
                        f"remove {second.where}; softmax belongs at the end of a classifier")


@lint_rule("dense-collapse")
def _dense_collapse(spec: "Spec", shapes: "Shapes") -> Iterator[Diagnostic]:
    """A dense layer with no non-linear activation after it, feeding another dense layer."""
    found, following = [], None  # following: the next step that is not linear
    for step in reversed(shapes.layers):
        if step.type == "dense" and following is not None and following.type == "dense":
            found.append(_warn(step.path, "dense-collapse",
                               f"{_step(step)} has no activation and feeds {_step(following)} directly: two linear "
                               f"maps in a row are one linear map ({step.in_features} → {following.out_features}), "
                               f"so {step.name} adds parameters but no expressive power",
                               f'give {step.where} an activation ("activation": "relu"), or remove it'))
        if step.type != "linear":
            following = step
    yield from reversed(found)


# ---------------------------------------------------------------- numbers

# Weights whose scale is outside [low, high] rarely train. The fields that set
# each initialiser's scale: the largest magnitude among them is the scale.
INIT_SCALE = (1e-4, 1.0)
_SCALE_FIELDS = {"normal": ("std",), "uniform": ("low", "high")}


def _initializers(spec: "Spec", shapes: "Shapes") -> Iterator[tuple[Path, Component]]:
    """The spec's default initialiser and each layer's own, with their paths."""
    if spec.init is not None:
        yield ("init",), spec.init
    for step in shapes.layers:
        init = vars(step.params).get("init")
        if init is not None:
            yield step.path + ("init",), init


@lint_rule("init-scale")
def _init_scale(spec: "Spec", shapes: "Shapes") -> Iterator[Diagnostic]:
    """A ``normal`` std, or a ``uniform`` bound's magnitude, outside :data:`INIT_SCALE`.

    ``uniform`` always has low < high, so its scale is never 0 (all zeros is ``zeros``).
    """
    low, high = INIT_SCALE
    for path, init in _initializers(spec, shapes):
        fields = _SCALE_FIELDS.get(init.type, ())
        if not fields:
            continue
        field = max(fields, key=lambda name: abs(getattr(init, name)))
        scale = abs(getattr(init, field))
        if low <= scale <= high:
            continue
        effect = ("weights this large saturate tanh and sigmoid and make outputs grow layer after layer"
                  if scale > high else "weights this small make signals and gradients fade layer after layer, "
                  "so training stalls")
        yield _warn(path + (field,), "init-scale",
                    f"the {init.type} initialiser's {field} is {getattr(init, field):g}, far outside the usual scale "
                    f"of weights (magnitudes from {low:g} to {high:g}): {effect}",
                    'use "he_normal" before ReLU or "glorot_uniform" (the default) before tanh and sigmoid: '
                    "both scale with the layer's width")


# Learning rates (inclusive ranges) outside which an optimiser rarely trains.
LEARNING_RATES = {"sgd": (1e-5, 10.0), "adam": (1e-6, 1.0), "rmsprop": (1e-6, 1.0)}


@lint_rule("learning-rate")
def _learning_rate(spec: "Spec", shapes: "Shapes") -> Iterator[Diagnostic]:
    """``train.optimizer.learning_rate`` outside its optimiser's range in :data:`LEARNING_RATES`."""
    optimizer = spec.train.optimizer if spec.train is not None else None
    if optimizer is None or optimizer.type not in LEARNING_RATES:
        return
    (low, high), rate = LEARNING_RATES[optimizer.type], optimizer.learning_rate
    if low <= rate <= high:
        return
    effect = "steps this large make the loss diverge" if rate > high else "steps this small barely move the weights"
    default = type(optimizer).model_fields["learning_rate"].default
    yield _warn(("train", "optimizer", "learning_rate"), "learning-rate",
                f"learning_rate {rate:g} is outside the usual range [{low:g}, {high:g}] for {optimizer.type}: {effect}",
                f"start from {default:g}, the {optimizer.type} default, and adjust by factors of 3 to 10")


# ---------------------------------------------------------------- size against data

# More parameters per sample, or more dense layers, than a dataset supports; and
# the size of each built-in dataset, known without loading it.
PARAMETERS_PER_SAMPLE = 100
MAX_DENSE_LAYERS = 50
_SAMPLES: dict[type, Callable[[Any], int]] = {
    SpiralData: lambda data: data.points_per_class * data.classes,
    GateData: lambda data: 4,
    SineData: lambda data: data.samples,
}


@lint_rule("too-large-for-data")
def _too_large_for_data(spec: "Spec", shapes: "Shapes") -> Iterator[Diagnostic]:
    """More than :data:`PARAMETERS_PER_SAMPLE` parameters per sample, or more than
    :data:`MAX_DENSE_LAYERS` dense layers, for a built-in dataset (whose size is
    known without loading it; data files are not looked at)."""
    count = _SAMPLES.get(type(spec.data))
    if count is None:
        return
    samples, total, name = count(spec.data), shapes.total_parameters, spec.data.dataset
    if total > PARAMETERS_PER_SAMPLE * samples:
        yield _warn(("data",), "too-large-for-data",
                    f'the network has {total:,} parameters for {samples:,} samples of "{name}" '
                    f"({total // samples:,} per sample, over {PARAMETERS_PER_SAMPLE}): it can memorise the data "
                    "instead of learning from it",
                    "use fewer or narrower layers, or more samples")
    dense = sum(step.type == "dense" for step in shapes.layers)
    if dense > MAX_DENSE_LAYERS:
        yield _warn(("layers",), "too-large-for-data",
                    f'{dense} dense layers (over {MAX_DENSE_LAYERS}) for {samples:,} samples of "{name}": '
                    "a plain stack this deep trains poorly, its gradients vanish or explode",
                    "a few dense layers are enough for data of this size")
