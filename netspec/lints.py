"""Lints: warnings about specs that are valid but probably not what was meant.

Each lint is a small function of the spec and its inferred shapes (the run
steps of :func:`netspec.infer.steps`, activation shorthands expanded),
registered in :data:`LINTS` under its stable code; lints that look at the same
thing (the loss against the last step, the order of the steps) share one
function, registered under each of their codes, so that a spec of a thousand
layers is walked once rather than once per lint. Every code is also in
:data:`netspec.codes.CODES` and explained in ``docs/errors.md``. Lints never
stop compile; ``--strict`` (or ``strict=True``) turns them into errors, and
each can be silenced by its code (``--ignore relu-output-regression``).
"""

from __future__ import annotations

from typing import Any, Callable, Iterable, Iterator

from . import geometry
from .errors import WARNING, Diagnostic, Path, format_path
from .infer import LayerShape, Shapes
from .registry import format_shape
from .spec import (
    Activation,
    BookSpiralData,
    Component,
    GateData,
    ShapesData,
    SineData,
    Spec,
    SpiralData,
    VerticalData,
    WavesData,
)

Lint = Callable[[Spec, Shapes], Iterable[Diagnostic]]
LINTS: dict[str, Lint] = {}


def lint_rule(*codes: str) -> Callable[[Lint], Lint]:
    """Register a lint function under its code or, for related lints that share
    one look at the spec, under each of their codes (it returns their warnings
    code by code, in this order)."""

    def decorate(function: Lint) -> Lint:
        for code in codes:
            LINTS[code] = function
        return function

    return decorate


def lint(spec: Spec, shapes: Shapes) -> list[Diagnostic]:
    """Every lint's warnings for ``spec``, code by code in the order of :data:`LINTS`."""
    return [d for function in dict.fromkeys(LINTS.values()) for d in function(spec, shapes)]


def _warn(path: Path, code: str, message: str, hint: str | None = None) -> Diagnostic:
    return Diagnostic(path, code, message, hint, severity=WARNING)


# ---------------------------------------------------------------- the loss against the output

@lint_rule("crossentropy-without-softmax", "sigmoid-with-categorical-crossentropy", "softmax-with-logits",
           "binary-crossentropy-width", "binary-crossentropy-without-sigmoid", "relu-output-regression")
def _loss_against_output(spec: Spec, shapes: Shapes) -> list[Diagnostic]:
    """A loss that does not suit what the network's last step outputs, or how many outputs it has."""
    loss = spec.loss
    if loss is None:
        return []
    last = shapes.output_step
    kind, width, found = last.type, last.out_features, []
    if loss.type == "categorical_crossentropy" and not loss.from_logits and kind not in ("softmax", "sigmoid"):
        found.append(_expects_probabilities("categorical cross-entropy", kind, "softmax", "crossentropy-without-softmax"))
    if loss.type == "categorical_crossentropy" and kind == "sigmoid" and width > 1:
        found.append(_warn(("loss",), "sigmoid-with-categorical-crossentropy",
                           f"sigmoid outputs over {width} classes do not sum to 1, as categorical cross-entropy assumes",
                           "use softmax for one class per sample, or binary_crossentropy for several labels per sample"))
    if loss.__dict__.get("from_logits", False) and kind in ("softmax", "sigmoid"):  # not getattr: mse has none
        found.append(_warn(("loss", "from_logits"), "softmax-with-logits",
                           f"from_logits is true but the network already ends with {kind}, so it is applied twice",
                           f'remove the final {kind} layer, or set "from_logits": false'))
    if loss.type == "binary_crossentropy" and width > 1:
        found.append(_warn(("loss",), "binary-crossentropy-width",
                           f"binary cross-entropy on {width} outputs treats each as a separate yes/no label",
                           "for one class out of several use softmax with categorical_crossentropy"))
    if loss.type == "binary_crossentropy" and not loss.from_logits and kind != "sigmoid":
        found.append(_expects_probabilities("binary cross-entropy", kind, "sigmoid", "binary-crossentropy-without-sigmoid"))
    if loss.type in ("mse", "mae") and kind == "relu":
        found.append(_warn(last.path, "relu-output-regression",
                           f"a ReLU output cannot predict negative values, and {loss.type} will not push it to",
                           "end a regression network with a dense layer (linear output)"))
    return found


def _expects_probabilities(words: str, kind: str, output: str, code: str) -> Diagnostic:
    """A loss that takes probabilities, after a network whose last step (``kind``) does not make them."""
    return _warn(("loss",), code, f"{words} expects probabilities, but the network ends with {kind}",
                 f'add {{"type": "{output}"}} as the last layer, or set "from_logits": true')


# ---------------------------------------------------------------- the order of steps

def _step(step: LayerShape) -> str:
    """How a message names a step: ``layers[1] (relu_2)``."""
    return f"{step.where} ({step.name})"


@lint_rule("activation-after-activation", "activation-after-softmax", "dense-collapse")
def _order_of_steps(spec: Spec, shapes: Shapes) -> list[Diagnostic]:
    """Steps that repeat or undo what the step they read did, in one walk over the steps:

    - ``activation-after-activation``: two non-linear activations in a row
      (``linear`` is the identity, so it does not count); after softmax,
      ``activation-after-softmax`` says it instead;
    - ``activation-after-softmax``: a non-linear activation right after a softmax;
    - ``dense-collapse``: a dense layer with no non-linear activation after it,
      feeding another dense layer (``linear`` steps between them change nothing).
    """
    after_activation, after_softmax, collapsing = [], [], []
    # By step name: the step, whether it is a non-linear activation, and the
    # last step up to it that is not linear. "Before" a step is the one step
    # it reads: the previous one in a chain; none for a merge or an input.
    seen: dict[str, tuple[LayerShape, bool, LayerShape | None]] | None = {} if shapes.graph else None
    source = None  # in a chain, the step before
    for step in shapes.layers:
        kind = step.type
        if seen is not None:
            source = seen.get(step.inputs[0]) if len(step.inputs) == 1 else None
        before, before_activates, feeding = source if source is not None else (None, False, None)
        activates = kind != "linear" and isinstance(step.params, Activation)
        if activates and before is not None:
            if before.type == "softmax":
                after_softmax.append(_after_softmax(before, step))
            elif before_activates:
                after_activation.append(_after_activation(before, step))
        if kind != "linear":
            if kind == "dense" and feeding is not None and feeding.type == "dense":
                collapsing.append(_collapse(feeding, step))
            feeding = step
        source = (step, activates, feeding)
        if seen is not None:
            seen[step.name] = source
    return after_activation + after_softmax + collapsing


def _after_activation(first: LayerShape, second: LayerShape) -> Diagnostic:
    return _warn(second.path, "activation-after-activation",
                 f"{_step(second)} comes right after another activation, {_step(first)}: "
                 f"{second.type}({first.type}(x)) is rarely meant, one activation between dense layers is enough",
                 "remove one of the two, or put a dense layer between them")


def _after_softmax(first: LayerShape, second: LayerShape) -> Diagnostic:
    return _warn(second.path, "activation-after-softmax",
                 f"{_step(second)} comes right after {_step(first)}: softmax already outputs probabilities "
                 f"(each in [0, 1], each row summing to 1), and {second.type} on top of them distorts them "
                 "or does nothing",
                 f"remove {second.where}; softmax belongs at the end of a classifier")


def _collapse(step: LayerShape, following: LayerShape) -> Diagnostic:
    return _warn(step.path, "dense-collapse",
                 f"{_step(step)} has no activation and feeds {_step(following)} directly: two linear "
                 f"maps in a row are one linear map ({step.in_features} → {following.out_features}), "
                 f"so {step.name} adds parameters but no expressive power",
                 f'give {step.where} an activation ("activation": "relu"), or remove it')


# ---------------------------------------------------------------- dropout and normalization

# A dropout rate from which too little is left to learn from.
HIGH_DROPOUT = 0.9
# Layers whose bias a batch normalization right after them cancels.
_BIASED = ("dense", "conv1d", "conv2d")


@lint_rule("high-dropout-rate", "batch-norm-after-softmax", "bias-before-batch-norm", "dropout-before-output")
def _dropout_and_normalization(spec: Spec, shapes: Shapes) -> list[Diagnostic]:
    """Dropout and batch normalization where they undo something, in one walk over the steps:

    - ``high-dropout-rate``: a dropout rate of :data:`HIGH_DROPOUT` or more;
    - ``batch-norm-after-softmax``: batch_norm reading a softmax;
    - ``bias-before-batch-norm``: batch_norm reading a dense or conv layer
      with a bias, which its mean subtraction cancels;
    - ``dropout-before-output``: dropout with nothing but activations
      between it and the network's output.
    """
    high, after_softmax, cancelled, before_output = [], [], [], []
    by_name: dict[str, LayerShape] = {}
    previous, dropout = None, False
    for step in shapes.layers:
        kind = step.type
        if kind == "dropout":
            dropout = True
            if step.params.rate >= HIGH_DROPOUT:
                high.append(_high_dropout(step))
        elif kind == "batch_norm":
            source = (by_name.get(step.inputs[0]) if len(step.inputs) == 1 else None) if shapes.graph else previous
            if source is not None and source.type == "softmax":
                after_softmax.append(_normalizes_softmax(source, step))
            elif source is not None and source.type in _BIASED and source.params.__dict__.get("bias"):
                cancelled.append(_bias_cancelled(source, step))
        if shapes.graph:
            by_name[step.name] = step
        previous = step
    if dropout:
        before_output += _dropout_at_output(shapes, by_name)
    return high + after_softmax + cancelled + before_output


def _high_dropout(step: LayerShape) -> Diagnostic:
    rate = step.params.rate
    return _warn(step.path + ("rate",), "high-dropout-rate",
                 f"{_step(step)} drops {rate:.0%} of its values in training (rate {rate:g}): what is left is too "
                 "little to learn from, and training barely moves",
                 "use a rate from 0.1 to 0.5, the usual range")


def _normalizes_softmax(source: LayerShape, step: LayerShape) -> Diagnostic:
    return _warn(step.path, "batch-norm-after-softmax",
                 f"{_step(step)} normalizes the output of {_step(source)}: the probabilities stop being "
                 "probabilities (they no longer lie in [0, 1] or sum to 1)",
                 f"normalize before the activation, or remove {step.where}; softmax belongs at the end of a classifier")


def _bias_cancelled(source: LayerShape, step: LayerShape) -> Diagnostic:
    channels = source.out_shape[-1]
    shift = (f"; {step.name}'s beta is the shift that is learnt" if step.params.center
             else f', and "center": true on {step.where} to learn a shift there')
    return _warn(source.path, "bias-before-batch-norm",
                 f"{_step(source)} has a bias, but {_step(step)} right after it subtracts each channel's mean, "
                 f"which cancels the bias: its {channels:,} values are trained and change nothing",
                 f'set "bias": false on {source.where}{shift}')


def _dropout_at_output(shapes: Shapes, by_name: dict[str, LayerShape]) -> list[Diagnostic]:
    """A dropout followed by nothing but activations up to the network's output."""
    index = {step.name: position for position, step in enumerate(shapes.layers)}
    step = shapes.output_step
    while step is not None and isinstance(step.params, Activation) and len(step.inputs) == 1:
        step = by_name.get(step.inputs[0]) if shapes.graph else (
            shapes.layers[index[step.name] - 1] if index[step.name] > 0 else None)
    if step is None or step.type != "dropout":
        return []
    return [_warn(step.path, "dropout-before-output",
                  f"{_step(step)} drops values of the network's output (only activations come after it): in "
                  "training it zeroes outputs the loss compares with the targets, which adds noise to the "
                  "loss instead of regularizing",
                  "move the dropout before the last dense layer, or remove it")]


# ---------------------------------------------------------------- numbers

# Weights whose scale is outside [low, high] rarely train. The fields that set
# each initialiser's scale: the largest magnitude among them is the scale.
INIT_SCALE = (1e-4, 1.0)
_SCALE_FIELDS = {"normal": ("std",), "uniform": ("low", "high")}


def _initializers(spec: Spec, shapes: Shapes) -> list[tuple[Path, Component]]:
    """The spec's default initialiser and each layer's own, with their paths."""
    found = [(("init",), spec.init)] if spec.init is not None else []
    # step.params.__dict__, not getattr: a missing attribute is slow on pydantic models
    return found + [(step.path + ("init",), init) for step in shapes.layers
                    if (init := step.params.__dict__.get("init")) is not None]


@lint_rule("init-scale")
def _init_scale(spec: Spec, shapes: Shapes) -> Iterator[Diagnostic]:
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
LEARNING_RATES = {"sgd": (1e-5, 10.0), "adam": (1e-6, 1.0), "rmsprop": (1e-6, 1.0), "adamw": (1e-6, 1.0),
                  "adagrad": (1e-6, 10.0)}


@lint_rule("learning-rate")
def _learning_rate(spec: Spec, shapes: Shapes) -> Iterator[Diagnostic]:
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
    ShapesData: lambda data: data.samples_per_class * data.classes,
    WavesData: lambda data: data.samples_per_class * data.classes,
    BookSpiralData: lambda data: data.samples * data.classes,
    VerticalData: lambda data: data.samples * data.classes,
}


@lint_rule("too-large-for-data")
def _too_large_for_data(spec: Spec, shapes: Shapes) -> Iterator[Diagnostic]:
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
    if len(shapes.layers) <= MAX_DENSE_LAYERS:
        return  # too few steps to count
    dense = sum(step.type == "dense" for step in shapes.layers)
    if dense > MAX_DENSE_LAYERS:
        yield _warn(("layers",), "too-large-for-data",
                    f'{dense} dense layers (over {MAX_DENSE_LAYERS}) for {samples:,} samples of "{name}": '
                    "a plain stack this deep trains poorly, its gradients vanish or explode",
                    "a few dense layers are enough for data of this size")


# ---------------------------------------------------------------- windows

_AXES = {1: ("position", "positions"), 2: ("row", "rows"), 3: ("column", "columns")}


@lint_rule("drops-edge")
def _drops_edge(spec: Spec, shapes: Shapes) -> Iterator[Diagnostic]:
    """A convolution or pooling layer with ``"valid"`` padding whose windows,
    by their size or stride, never reach the last rows or columns of its input."""
    for step in shapes.layers:
        params = step.params
        if params.window is None or len(step.in_shape) != params.rank + 1:  # only convolution and pooling have windows
            continue
        kernel, strides, dilation, padding = params.window()
        spatial = step.in_shape[:-1]
        lost = [geometry.dropped(size, k, s, padding, d) for size, k, s, d in zip(spatial, kernel, strides, dilation)]
        if any(lost):
            size = f"{format_shape(spatial)} input" if len(spatial) > 1 else f"input of length {spatial[0]}"
            yield _warn(step.path, "drops-edge",
                        f"{_step(step)} drops {_lost_words(lost)} of its {size}: no {format_shape(kernel)} "
                        f"{step.params.what} at strides of {format_shape(strides)} reads there",
                        'use "padding": "same" to read every value, or a kernel, stride or input size that fit together')


def _lost_words(lost: list[int]) -> str:
    """``the last 2 rows and columns``, ``the last row and 3 columns``, ``the last 2 positions``."""
    if len(lost) == 1:
        one, many = _AXES[1]
        return f"the last {one}" if lost[0] == 1 else f"the last {lost[0]} {many}"
    rows, columns = lost
    if rows == columns:
        return "the last row and column" if rows == 1 else f"the last {rows} rows and columns"
    parts = [(count, *_AXES[axis]) for axis, count in ((2, rows), (3, columns)) if count]
    return "the last " + " and ".join(one if count == 1 else f"{count} {many}" for count, one, many in parts)


# ---------------------------------------------------------------- graphs

@lint_rule("unused-output", "unused-input")
def _unused(spec: Spec, shapes: Shapes) -> list[Diagnostic]:
    """In a graph, a layer whose output no layer reads and that is not the
    network's output, and a named input no layer reads: both are usually a
    wrong name in an ``inputs`` list."""
    if not shapes.graph:
        return []
    read = {source for step in shapes.layers for source in step.inputs}
    output = shapes.output_step
    last_of_entry = {step.path[1]: step for step in shapes.layers}
    name_of_entry = {step.path[1]: step.name for step in shapes.layers if len(step.path) == 2}
    unused = [_warn(step.path[:2], "unused-output",
                    f"nothing reads the output of {format_path(step.path[:2])} ({name_of_entry[index]}), and it is "
                    "not the network's output, so it does not change what the network computes",
                    'read it in a later layer\'s "inputs", make it the "output", or remove it')
              for index, step in last_of_entry.items() if step.name not in read and step is not output]
    unread = [_warn(("input", name) if isinstance(spec.input, dict) else ("input",), "unused-input",
                    f'no layer reads the input "{name}"', f'read it with "inputs": "{name}", or remove it')
              for name in shapes.input_shapes if name not in read]
    return unused + unread
