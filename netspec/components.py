"""The built-in components, each registered once: parameter model, shape rule, runtime.

This module and :mod:`netspec.compile` are the only ones that know both worlds:
the parameter models (Pydantic) and the runtime objects (plain NumPy, in
:mod:`netspec.runtime`). Built-ins go through the same ``register_*``
decorators users and plugins use (:mod:`netspec.extend`). Their runtimes are
named by reference (``"netspec.runtime.layers:Dense"``) and imported when a
spec first compiles, so that validating a spec never imports NumPy.
"""

from __future__ import annotations

from math import prod
from typing import Annotated, Any, ClassVar, Literal, Optional, Union

from pydantic import BeforeValidator, Field, PositiveInt, WithJsonSchema, field_validator, model_validator

from . import geometry
from .extend import (
    register_activation,
    register_initializer,
    register_layer,
    register_loss,
    register_optimizer,
    resolve,
)
from .registry import Shape, ShapeProblem, format_shape, same_shape
from .spec import MAX_RANK, Activation, Initializer, Layer, Loss, Optimizer, Regularizer, list_to_tuple, shorthand

# Bound of initialiser and activation options: beyond it weights or activations
# overflow (uniform on ±1e308 cannot even be drawn); the init-scale lint warns far below.
MAX_OPTION = 1e6

# ---------------------------------------------------------------- initialisers

@register_initializer("uniform", function="netspec.runtime.initializers:uniform")
class Uniform(Initializer):
    """Uniform on [low, high). Legacy rng: one ``rand`` call, ``low + (high - low) * rand``."""

    positional: ClassVar[tuple[str, ...]] = ("low", "high")
    type: Literal["uniform"] = "uniform"
    low: float = Field(default=-0.05, ge=-MAX_OPTION, le=MAX_OPTION)
    high: float = Field(default=0.05, ge=-MAX_OPTION, le=MAX_OPTION)

    @model_validator(mode="after")
    def _ordered(self) -> "Uniform":
        if not self.low < self.high:
            raise ValueError(f"low must be below high, got low={self.low} and high={self.high}")
        return self


@register_initializer("normal", function="netspec.runtime.initializers:normal")
class Normal(Initializer):
    """Normal with ``mean`` and ``std``. Legacy rng: one ``randn`` call, ``mean + std * randn``."""

    positional: ClassVar[tuple[str, ...]] = ("mean", "std")
    type: Literal["normal"] = "normal"
    mean: float = Field(default=0.0, ge=-MAX_OPTION, le=MAX_OPTION)
    std: float = Field(default=0.01, gt=0, le=MAX_OPTION)


@register_initializer("glorot_uniform", function="netspec.runtime.initializers:glorot_uniform")
class GlorotUniform(Initializer):
    """Uniform on ±sqrt(6 / (fan_in + fan_out)) (the default initialiser)."""

    type: Literal["glorot_uniform"] = "glorot_uniform"


@register_initializer("he_normal", function="netspec.runtime.initializers:he_normal")
class HeNormal(Initializer):
    """Normal with std sqrt(2 / fan_in), suited to ReLU networks."""

    type: Literal["he_normal"] = "he_normal"


@register_initializer("zeros", function="netspec.runtime.initializers:zeros")
class Zeros(Initializer):
    """All zeros (draws nothing)."""

    type: Literal["zeros"] = "zeros"


# ---------------------------------------------------------------- layers

def _dense_shape(params: "Dense", in_shape: Shape) -> tuple[Shape, int]:
    if len(in_shape) != 1:
        raise ShapeProblem("dense takes a vector of features, but receives {input}",
                           hint=f'insert {{"type": "flatten"}} before this layer; it would then receive '
                                f'{prod(in_shape):,} features', code="needs-flatten", assume=(params.neurons,))
    return (params.neurons,), in_shape[0] * params.neurons + (params.neurons if params.bias else 0)


def _dense_build(params: "Dense", in_shape: Shape, context: Any) -> Any:
    weights = context.initialize(params.init, (in_shape[0], params.neurons))
    bias = context.zeros((1, params.neurons)) if params.bias else None
    return resolve("netspec.runtime.layers:Dense")(weights, bias, name=context.name, **context.penalties(params))


@register_layer("dense", build=_dense_build, output_shape=_dense_shape, example={"neurons": 3})
class Dense(Layer):
    """Fully connected: ``output = inputs @ weights + bias``; (n, in_features) → (n, neurons).

    ``weights`` has shape (in_features, neurons) and ``bias`` (1, neurons),
    zeros. The input must be a vector (put a ``flatten`` after convolutions).
    ``in_features`` is inferred from the previous width when absent and
    checked when present. ``activation`` is shorthand for an activation layer
    right after this one. ``init`` overrides the spec's default initialiser;
    ``regularizer`` (a penalty on the weights, ``{"l2": 0.001}``) the spec's
    default regularizer; ``bias_regularizer`` penalises the bias.
    """

    positional: ClassVar[tuple[str, ...]] = ("neurons",)
    type: Literal["dense"] = "dense"
    neurons: PositiveInt
    in_features: Optional[PositiveInt] = None
    activation: Optional[shorthand("activation")] = None
    bias: bool = True
    init: Optional[shorthand("initializer")] = None
    regularizer: Optional[Regularizer] = None
    bias_regularizer: Optional[Regularizer] = None


# ---------------------------------------------------------------- convolution and pooling

def _sizes(rank: int) -> Any:
    """Before validation: a list of sizes must have one per spatial axis (3 or [3, 3] in 2-D)."""
    axes = "[height, width]" if rank == 2 else "[length]"

    def check(value: Any) -> Any:
        if isinstance(value, list):
            if len(value) != rank:
                raise ValueError(f"expected an integer or a list of {rank} ({axes}), got a list of {len(value)}")
            return tuple(value)
        return value

    return BeforeValidator(check)


# An int, or one per spatial axis: 3 or [3, 3] for 2-D layers, 3 or [3] for 1-D ones.
Size1D = Annotated[Union[PositiveInt, tuple[PositiveInt]], _sizes(1)]
Size2D = Annotated[Union[PositiveInt, tuple[PositiveInt, PositiveInt]], _sizes(2)]
Padding = Literal["valid", "same"]

_RANK_WORDS = {1: "sequences (length, channels)", 2: "images (height, width, channels)"}


class Windowed:
    """What convolution and pooling layers share: windows slid over the spatial
    axes (``rank`` of them) of a channels-last input."""

    rank: ClassVar[int]
    what: ClassVar[str] = "kernel"

    def window(self) -> tuple[Shape, Shape, Shape, str]:
        """``(kernel, strides, dilation, padding)``, each size one entry per spatial axis."""
        kernel = geometry.as_tuple(self._kernel(), self.rank)
        strides = self.__dict__.get("strides")
        return (kernel, geometry.as_tuple(strides if strides is not None else kernel, self.rank),
                geometry.as_tuple(self.__dict__.get("dilation", 1), self.rank), self.padding)

    def _kernel(self) -> Any:
        raise NotImplementedError


def _windows_shape(params: Any, in_shape: Shape) -> Shape:
    """The spatial output shape of ``params``'s windows over ``in_shape``, or the
    shape problem: a wrong rank, or a window larger than what arrives."""
    rank, name = params.rank, params.type
    if len(in_shape) != rank + 1:
        raise ShapeProblem(f"{name} takes {_RANK_WORDS[rank]}, but receives {{input}} (rank {len(in_shape)})",
                           hint=_rank_hint(rank, in_shape), code="wrong-rank")
    kernel, strides, dilation, padding = params.window()
    spatial = tuple(geometry.output_size(size, k, s, padding, d)
                    for size, k, s, d in zip(in_shape[:-1], kernel, strides, dilation))
    if min(spatial) <= 0:
        reach = tuple(geometry.dilated(k, d) for k, d in zip(kernel, dilation))
        dilated = f" dilated to {format_shape(reach)}" if reach != kernel else ""
        raise ShapeProblem(f"a {format_shape(kernel)} {params.what}{dilated} over {{input}} leaves nothing",
                           field="kernel_size" if params.what == "kernel" else "pool_size",
                           hint='use "padding": "same", a smaller kernel, or one pooling layer fewer',
                           code="empty-output")
    return spatial


def _rank_hint(rank: int, in_shape: Shape) -> str:
    if len(in_shape) == 1:
        return f'reshape the vector first ({{"type": "reshape", "shape": [...]}}) to {_RANK_WORDS[rank]}'
    if len(in_shape) == 2 and rank == 2:
        return ('use conv1d and 1-D pooling for sequences, or give images a channel axis: '
                f'"shape": [{in_shape[0]}, {in_shape[1]}, 1]')
    if len(in_shape) == 3 and rank == 1:
        return "use conv2d and 2-D pooling for images, or reshape to [length, channels]"
    return f"give this layer {_RANK_WORDS[rank]}"


def _conv_shape(params: Any, in_shape: Shape) -> tuple[Shape, int]:
    spatial = _windows_shape(params, in_shape)
    kernel = geometry.as_tuple(params.kernel_size, params.rank)
    count = prod(kernel) * in_shape[-1] * params.filters + (params.filters if params.bias else 0)
    return (*spatial, params.filters), count


def _conv_workspace(params: Any, in_shape: Shape, out_shape: Shape) -> int:
    """The window matrix a convolution multiplies: one row of kernel × channels values per output position."""
    return prod(out_shape[:-1]) * prod(geometry.as_tuple(params.kernel_size, params.rank)) * in_shape[-1]


def _conv_build(params: Any, in_shape: Shape, context: Any) -> Any:
    kernel, strides, dilation, padding = params.window()
    weights = context.initialize(params.init, (*kernel, in_shape[-1], params.filters))
    bias = context.zeros((params.filters,)) if params.bias else None
    runtime = resolve("netspec.runtime.conv:Conv2D" if params.rank == 2 else "netspec.runtime.conv:Conv1D")
    return runtime(weights, bias, strides=strides, padding=padding, dilation=dilation, name=context.name,
                   **context.penalties(params))


class _Conv(Windowed, Layer):
    """The options of conv1d and conv2d, in the order they are written; each
    declares its own kind of ``kernel_size``, ``strides`` and ``dilation``."""

    positional: ClassVar[tuple[str, ...]] = ("filters", "kernel_size")
    filters: PositiveInt
    kernel_size: Any
    strides: Any = 1
    padding: Padding = "valid"
    dilation: Any = 1
    activation: Optional[shorthand("activation")] = None
    bias: bool = True
    init: Optional[shorthand("initializer")] = None
    regularizer: Optional[Regularizer] = None
    bias_regularizer: Optional[Regularizer] = None

    def _kernel(self) -> Any:
        return self.kernel_size


@register_layer("conv2d", build=_conv_build, output_shape=_conv_shape, workspace=_conv_workspace,
                example={"filters": 2, "kernel_size": 2})
class Conv2D(_Conv):
    """2-D convolution over images: (n, height, width, channels) → (n, out_height, out_width, filters).

    ``output[i, j, f] = bias[f] + Σ_{a, b, c} inputs[i·sh + a·dh, j·sw + b·dw, c] · weights[a, b, c, f]``.
    ``weights`` has shape (kh, kw, in_channels, filters), ``bias`` (filters,),
    zeros. ``kernel_size``, ``strides`` and ``dilation`` are an int or [h, w].
    ``padding``: ``"valid"`` (none: floor((size − dilated kernel) / stride) + 1
    positions) or ``"same"`` (ceil(size / stride) positions, zeros added, the
    odd one at the bottom and right). ``activation`` is shorthand for an
    activation layer right after this one; ``init`` overrides the spec's
    initialiser (fans: kh·kw·in_channels in, kh·kw·filters out);
    ``regularizer`` and ``bias_regularizer`` as for ``dense``.
    """

    rank: ClassVar[int] = 2
    type: Literal["conv2d"] = "conv2d"
    kernel_size: Size2D
    strides: Size2D = 1
    dilation: Size2D = 1


@register_layer("conv1d", build=_conv_build, output_shape=_conv_shape, workspace=_conv_workspace,
                example={"filters": 2, "kernel_size": 2})
class Conv1D(_Conv):
    """1-D convolution over sequences: (n, length, channels) → (n, out_length, filters).

    ``output[i, f] = bias[f] + Σ_{a, c} inputs[i·s + a·d, c] · weights[a, c, f]``;
    ``weights`` has shape (k, in_channels, filters). Options as for ``conv2d``,
    each an int (or a one-entry list).
    """

    rank: ClassVar[int] = 1
    type: Literal["conv1d"] = "conv1d"
    kernel_size: Size1D
    strides: Size1D = 1
    dilation: Size1D = 1


def _pool_shape(params: Any, in_shape: Shape) -> tuple[Shape, int]:
    return (*_windows_shape(params, in_shape), in_shape[-1]), 0


def _pool_builder(runtime: Any) -> Any:
    def build(params: Any, in_shape: Shape, context: Any) -> Any:
        kernel, strides, _, padding = params.window()
        return resolve(runtime)(kernel, strides, padding, name=context.name)

    return build


class _Pool(Windowed, Layer):
    """The options of the pooling layers; each declares its own kind of ``pool_size`` and ``strides``."""

    what: ClassVar[str] = "pool window"
    positional: ClassVar[tuple[str, ...]] = ("pool_size",)
    pool_size: Any = 2
    strides: Any = None
    padding: Padding = "valid"

    def _kernel(self) -> Any:
        return self.pool_size


class _Pool2D(_Pool):
    rank: ClassVar[int] = 2
    pool_size: Size2D = 2
    strides: Optional[Size2D] = None


class _Pool1D(_Pool):
    rank: ClassVar[int] = 1
    pool_size: Size1D = 2
    strides: Optional[Size1D] = None


@register_layer("max_pool2d", build=_pool_builder("netspec.runtime.conv:MaxPool2D"), output_shape=_pool_shape)
class MaxPool2D(_Pool2D):
    """The maximum of each ``pool_size`` window (default 2×2), per channel:
    (n, height, width, channels) → (n, out_height, out_width, channels).

    ``strides`` default to ``pool_size``; ``padding`` as for conv2d ("same"
    pads with −∞). The gradient goes to each window's maximum (the first
    one, in row-major order, on ties)."""

    type: Literal["max_pool2d"] = "max_pool2d"


@register_layer("avg_pool2d", build=_pool_builder("netspec.runtime.conv:AvgPool2D"), output_shape=_pool_shape)
class AvgPool2D(_Pool2D):
    """The mean of each ``pool_size`` window (default 2×2), per channel:
    (n, height, width, channels) → (n, out_height, out_width, channels).

    ``strides`` default to ``pool_size``; with ``"same"`` padding, a window's
    mean is over the real values it covers, not the padding."""

    type: Literal["avg_pool2d"] = "avg_pool2d"


@register_layer("max_pool1d", build=_pool_builder("netspec.runtime.conv:MaxPool1D"), output_shape=_pool_shape)
class MaxPool1D(_Pool1D):
    """The maximum of each ``pool_size`` window (default 2) along a sequence:
    (n, length, channels) → (n, out_length, channels); as ``max_pool2d``."""

    type: Literal["max_pool1d"] = "max_pool1d"


@register_layer("avg_pool1d", build=_pool_builder("netspec.runtime.conv:AvgPool1D"), output_shape=_pool_shape)
class AvgPool1D(_Pool1D):
    """The mean of each ``pool_size`` window (default 2) along a sequence:
    (n, length, channels) → (n, out_length, channels); as ``avg_pool2d``."""

    type: Literal["avg_pool1d"] = "avg_pool1d"


def _global_shape(params: Any, in_shape: Shape) -> tuple[Shape, int]:
    if len(in_shape) < 2:
        raise ShapeProblem(f"{params.type} pools over the spatial axes, but receives {{input}}, a vector",
                           hint="remove it, or use it after conv1d or conv2d layers", code="wrong-rank")
    return (in_shape[-1],), 0


def _named(runtime: Any) -> Any:
    def build(params: Any, in_shape: Shape, context: Any) -> Any:
        return resolve(runtime)(name=context.name)

    return build


@register_layer("global_avg_pool", build=_named("netspec.runtime.conv:GlobalAvgPool"), output_shape=_global_shape)
class GlobalAvgPool(Layer):
    """The mean of each channel over every spatial axis: (n, *spatial, channels) → (n, channels)."""

    type: Literal["global_avg_pool"] = "global_avg_pool"


@register_layer("global_max_pool", build=_named("netspec.runtime.conv:GlobalMaxPool"), output_shape=_global_shape)
class GlobalMaxPool(Layer):
    """The maximum of each channel over every spatial axis: (n, *spatial, channels) → (n, channels).

    The gradient goes to each channel's maximum (the first one on ties)."""

    type: Literal["global_max_pool"] = "global_max_pool"


def _flatten_shape(params: Any, in_shape: Shape) -> tuple[Shape, int]:
    return (prod(in_shape),), 0


@register_layer("flatten", build=_named("netspec.runtime.conv:Flatten"), output_shape=_flatten_shape)
class Flatten(Layer):
    """Every value of a sample in one vector, in channels-last (C) order:
    (n, *shape) → (n, prod(shape)); a 26×26×32 input gives 21,632 features."""

    type: Literal["flatten"] = "flatten"


def _reshape_shape(params: "Reshape", in_shape: Shape) -> tuple[Shape, int]:
    count, target = prod(in_shape), params.shape
    known = prod(size for size in target if size != -1)
    if -1 in target and count % known == 0:
        return tuple(count // known if size == -1 else size for size in target), 0
    if -1 not in target and known == count:
        return target, 0
    wanted = f"{format_shape(target).replace('-1', '?')} ({'a multiple of ' if -1 in target else ''}{known:,} values)"
    raise ShapeProblem(f"reshape to {wanted}, but receives {{input}}: {count:,} values", field="shape",
                       hint=f"make the sizes multiply to {count:,}, or write -1 for one of them to have it inferred",
                       code="reshape-size", assume=None if -1 in target else target)


def _reshape_build(params: "Reshape", in_shape: Shape, context: Any) -> Any:
    return resolve("netspec.runtime.conv:Reshape")(_reshape_shape(params, in_shape)[0], name=context.name)


# Sizes positive, or -1 once at most: what the validator below checks, for the JSON Schema.
_RESHAPE_SIZES = {"type": "array", "minItems": 1, "maxItems": MAX_RANK,
                  "items": {"type": "integer", "anyOf": [{"const": -1}, {"minimum": 1, "maximum": 2**31}]},
                  "contains": {"const": -1}, "minContains": 0, "maxContains": 1}


@register_layer("reshape", build=_reshape_build, output_shape=_reshape_shape, example={"shape": [-1]})
class Reshape(Layer):
    """The same values in another shape (without the batch axis), in C order:
    (n, *in_shape) → (n, *shape). One entry may be -1, inferred from the others."""

    positional: ClassVar[tuple[str, ...]] = ("shape",)
    type: Literal["reshape"] = "reshape"
    shape: Annotated[tuple[Annotated[int, Field(ge=-1, le=2**31)], ...], BeforeValidator(list_to_tuple),
                     Field(min_length=1, max_length=MAX_RANK), WithJsonSchema(_RESHAPE_SIZES)]

    @field_validator("shape")
    @classmethod
    def _sizes(cls, shape: tuple[int, ...]) -> tuple[int, ...]:
        if 0 in shape:
            raise ValueError(f"reshape sizes must be positive or -1, got {list(shape)}")
        if shape.count(-1) > 1:
            raise ValueError(f"only one reshape size may be -1, got {list(shape)}")
        return shape


# ---------------------------------------------------------------- dropout and normalization

def _dropout_build(params: "Dropout", in_shape: Shape, context: Any) -> Any:
    return resolve("netspec.runtime.dropout:Dropout")(params.rate, context.rng, name=context.name)


@register_layer("dropout", build=_dropout_build, output_shape=same_shape, example={"rate": 0.5})
class Dropout(Layer):
    """Inverted dropout: in training, each value is zeroed with probability
    ``rate`` and the others scaled by 1 / (1 − rate); in inference, the identity. Any shape.

    The masks come from the spec's random source (``seed``, ``rng``), after
    the weights are drawn: a seeded run drops the same values every time, and
    a resumed checkpoint the values uninterrupted training would have dropped.
    """

    positional: ClassVar[tuple[str, ...]] = ("rate",)
    type: Literal["dropout"] = "dropout"
    rate: float = Field(ge=0, lt=1, allow_inf_nan=False)


def _normalization_shape(params: Any, in_shape: Shape) -> tuple[Shape, int]:
    return in_shape, in_shape[-1] * (int(params.scale) + int(params.center))


def _scale_and_shift(params: Any, channels: int, context: Any) -> tuple[Any, Any]:
    gamma = context.ones((channels,)) if params.scale else None
    beta = context.zeros((channels,)) if params.center else None
    return gamma, beta


def _batch_norm_build(params: "BatchNorm", in_shape: Shape, context: Any) -> Any:
    channels = in_shape[-1]
    return resolve("netspec.runtime.normalization:BatchNorm")(
        *_scale_and_shift(params, channels, context), context.zeros((channels,)), context.ones((channels,)),
        momentum=params.momentum, epsilon=params.epsilon, name=context.name)


def _layer_norm_build(params: "LayerNorm", in_shape: Shape, context: Any) -> Any:
    return resolve("netspec.runtime.normalization:LayerNorm")(
        *_scale_and_shift(params, in_shape[-1], context), channels=in_shape[-1], epsilon=params.epsilon,
        name=context.name)


@register_layer("batch_norm", build=_batch_norm_build, output_shape=_normalization_shape)
class BatchNorm(Layer):
    """Batch normalization per channel (the last axis), over every other axis:
    ``gamma · (x − mean) / sqrt(var + epsilon) + beta``. Any shape.

    Training uses the batch's mean and variance and updates the moving
    averages, ``moving = momentum · moving + (1 − momentum) · batch`` (Keras's
    momentum; PyTorch's is 1 − momentum); inference uses the moving averages,
    which checkpoints save. ``center``: learn ``beta`` (zeros); ``scale``:
    learn ``gamma`` (ones). Parameters: ``gamma`` and ``beta``, (channels,)
    each; the moving mean and variance are not counted (not trained).
    """

    type: Literal["batch_norm"] = "batch_norm"
    momentum: float = Field(default=0.99, ge=0, le=1, allow_inf_nan=False)
    epsilon: float = Field(default=1e-3, gt=0, le=1, allow_inf_nan=False)
    center: bool = True
    scale: bool = True


@register_layer("layer_norm", build=_layer_norm_build, output_shape=_normalization_shape)
class LayerNorm(Layer):
    """Layer normalization over the last axis of each sample (and position):
    ``gamma · (x − mean) / sqrt(var + epsilon) + beta``, the same in training
    and inference. Any shape. ``center``, ``scale`` as for ``batch_norm``."""

    type: Literal["layer_norm"] = "layer_norm"
    epsilon: float = Field(default=1e-3, gt=0, le=1, allow_inf_nan=False)
    center: bool = True
    scale: bool = True


# ---------------------------------------------------------------- merging branches

def _gives(shape: Shape) -> str:
    return f"{shape[0]:,} features" if len(shape) == 1 else format_shape(shape)


def _same_shapes(params: Any, in_shapes: tuple[Shape, ...]) -> tuple[Shape, int]:
    """The rule of the element-wise merges: every input has the same shape (no broadcasting)."""
    first = in_shapes[0]
    for k, shape in enumerate(in_shapes[1:], 1):
        if shape != first:
            raise ShapeProblem(f"{{input:0}} gives {_gives(first)} but {{input:{k}}} gives {_gives(shape)}",
                               hint=f"{params.type} needs inputs of one shape: give the branches the same "
                                    "number of units (or project one with a dense layer), or use concatenate",
                               field="inputs", code="merge-mismatch", assume=first)
    return first, 0


def _merge_builder(runtime: str) -> Any:
    def build(params: Any, in_shapes: tuple[Shape, ...], context: Any) -> Any:
        return resolve(runtime)(name=context.name)

    return build


class _Merge(Layer):
    merge: ClassVar[bool] = True
    positional: ClassVar[tuple[str, ...]] = ("inputs",)


@register_layer("add", build=_merge_builder("netspec.runtime.merge:Add"), output_shape=_same_shapes)
class Add(_Merge):
    """The sum of its inputs, element by element: ``output = a + b + ...``; all of one shape.

    Shapes must be equal (no broadcasting): a residual connection adds
    branches of the same width. ``inputs`` names the branches."""

    type: Literal["add"] = "add"


@register_layer("multiply", build=_merge_builder("netspec.runtime.merge:Multiply"), output_shape=_same_shapes)
class Multiply(_Merge):
    """The product of its inputs, element by element: ``output = a · b · ...``; all of one shape (no broadcasting)."""

    type: Literal["multiply"] = "multiply"


@register_layer("average", build=_merge_builder("netspec.runtime.merge:Average"), output_shape=_same_shapes)
class Average(_Merge):
    """The mean of its inputs, element by element: ``output = (a + b + ...) / k``; all of one shape (no broadcasting)."""

    type: Literal["average"] = "average"


def _concatenate_shape(params: "Concatenate", in_shapes: tuple[Shape, ...]) -> tuple[Shape, int]:
    first = in_shapes[0]
    rank = len(first)
    if not -rank <= params.axis < rank:
        raise ShapeProblem(f"axis {params.axis} does not exist in {{input:0}}, which has {rank} "
                           f"ax{'i' if rank == 1 else 'e'}s", field="axis",
                           hint="axes count within one sample, without the batch axis: -1 is the last", code="bad-shape")
    axis = params.axis % rank
    for k, shape in enumerate(in_shapes[1:], 1):
        if len(shape) != rank or shape[:axis] + shape[axis + 1:] != first[:axis] + first[axis + 1:]:
            raise ShapeProblem(f"{{input:0}} gives {_gives(first)} but {{input:{k}}} gives {_gives(shape)}, "
                               f"which differ beyond axis {params.axis}", field="inputs", code="merge-mismatch",
                               hint="concatenated inputs must agree on every axis but the one they are joined on")
    joined = sum(shape[axis] for shape in in_shapes)
    return (*first[:axis], joined, *first[axis + 1:]), 0


def _concatenate_build(params: "Concatenate", in_shapes: tuple[Shape, ...], context: Any) -> Any:
    return resolve("netspec.runtime.merge:Concatenate")(params.axis % len(in_shapes[0]), name=context.name)


@register_layer("concatenate", build=_concatenate_build, output_shape=_concatenate_shape)
class Concatenate(_Merge):
    """Its inputs joined along ``axis`` (default -1, the features or channels):
    (n, a) and (n, b) → (n, a + b). ``axis`` counts the axes of one sample,
    without the batch axis; the inputs agree on every other axis."""

    type: Literal["concatenate"] = "concatenate"
    axis: int = Field(default=-1, ge=-MAX_RANK, lt=MAX_RANK)


# ---------------------------------------------------------------- activations

def _softmax_shape(params: "Softmax", in_shape: Shape) -> tuple[Shape, int]:
    if in_shape[-1] < 2:
        raise ShapeProblem(
            f"softmax over {in_shape[-1]} unit always outputs 1.0",
            hint="give the previous layer 2 or more neurons, or use sigmoid for a single unit",
            code="bad-width",
        )
    return in_shape, 0


@register_activation("relu", runtime="netspec.runtime.activations:ReLU")
class ReLU(Activation):
    """max(0, x)."""

    type: Literal["relu"] = "relu"


@register_activation("leaky_relu", runtime="netspec.runtime.activations:LeakyReLU")
class LeakyReLU(Activation):
    """x for x > 0, alpha·x otherwise."""

    positional: ClassVar[tuple[str, ...]] = ("alpha",)
    type: Literal["leaky_relu"] = "leaky_relu"
    alpha: float = Field(default=0.01, ge=0, le=MAX_OPTION)


@register_activation("elu", runtime="netspec.runtime.activations:ELU")
class ELU(Activation):
    """x for x > 0, alpha·(exp(x) − 1) otherwise."""

    positional: ClassVar[tuple[str, ...]] = ("alpha",)
    type: Literal["elu"] = "elu"
    alpha: float = Field(default=1.0, ge=0, le=MAX_OPTION)


@register_activation("sigmoid", runtime="netspec.runtime.activations:Sigmoid")
class Sigmoid(Activation):
    """1 / (1 + exp(−x))."""

    type: Literal["sigmoid"] = "sigmoid"


@register_activation("tanh", runtime="netspec.runtime.activations:Tanh")
class Tanh(Activation):
    """tanh(x)."""

    type: Literal["tanh"] = "tanh"


@register_activation("softmax", runtime="netspec.runtime.activations:Softmax", output_shape=_softmax_shape)
class Softmax(Activation):
    """exp(x − max) / sum(exp(x − max)) along the last axis (each row, for vectors)."""

    type: Literal["softmax"] = "softmax"


@register_activation("linear", runtime="netspec.runtime.activations:Linear")
class Linear(Activation):
    """The identity, x."""

    type: Literal["linear"] = "linear"


# ---------------------------------------------------------------- losses

@register_loss("mse", runtime="netspec.runtime.losses:MeanSquaredError", targets="regression")
class MeanSquaredError(Loss):
    """Mean over samples of the mean over outputs of (y − ŷ)²."""

    type: Literal["mse"] = "mse"


@register_loss("mae", runtime="netspec.runtime.losses:MeanAbsoluteError", targets="regression")
class MeanAbsoluteError(Loss):
    """Mean over samples of the mean over outputs of |y − ŷ|."""

    type: Literal["mae"] = "mae"


@register_loss("categorical_crossentropy", runtime="netspec.runtime.losses:CategoricalCrossentropy", targets="categorical")
class CategoricalCrossentropy(Loss):
    """−log of the probability given to the true class; predictions clipped to
    [1e-7, 1 − 1e-7]. Targets: class indices (n,) or one-hot rows (n, k).
    ``from_logits``: the network outputs raw scores; softmax is applied inside."""

    type: Literal["categorical_crossentropy"] = "categorical_crossentropy"
    from_logits: bool = False


@register_loss("binary_crossentropy", runtime="netspec.runtime.losses:BinaryCrossentropy", targets="binary")
class BinaryCrossentropy(Loss):
    """−(y·log ŷ + (1 − y)·log(1 − ŷ)), predictions clipped to [1e-7, 1 − 1e-7].
    ``from_logits``: the network outputs raw scores; sigmoid is applied inside."""

    type: Literal["binary_crossentropy"] = "binary_crossentropy"
    from_logits: bool = False


# ---------------------------------------------------------------- optimisers

LearningRate = Field(default=0.001, gt=0, allow_inf_nan=False)
Decay = Field(default=0.0, ge=0, allow_inf_nan=False)
Epsilon = Field(default=1e-7, gt=0, allow_inf_nan=False)


@register_optimizer("sgd", runtime="netspec.runtime.optimizers:SGD")
class SGD(Optimizer):
    """Stochastic gradient descent, with optional (Nesterov) momentum and 1/(1 + decay·t) decay.

    ``momentum_buffer``: ``"gradients"`` (PyTorch's form: ``buf = μ·buf + g``,
    ``w −= lr·buf``) or ``"steps"`` (Keras's and the from-scratch book's:
    ``v = μ·v − lr·g``, ``w += v``); the same at a constant learning rate,
    different once it changes."""

    positional: ClassVar[tuple[str, ...]] = ("learning_rate",)
    type: Literal["sgd"] = "sgd"
    learning_rate: float = Field(default=0.01, gt=0, allow_inf_nan=False)
    momentum: float = Field(default=0.0, ge=0, lt=1, allow_inf_nan=False)
    nesterov: bool = False
    decay: float = Decay
    momentum_buffer: Literal["gradients", "steps"] = "gradients"

    @model_validator(mode="after")
    def _nesterov_needs_momentum(self) -> "SGD":
        if self.nesterov and self.momentum == 0:
            raise ValueError("nesterov needs momentum above 0; set momentum (e.g. 0.9) or nesterov to false")
        return self


@register_optimizer("adam", runtime="netspec.runtime.optimizers:Adam")
class Adam(Optimizer):
    """Adam: bias-corrected first and second moment estimates."""

    positional: ClassVar[tuple[str, ...]] = ("learning_rate",)
    type: Literal["adam"] = "adam"
    learning_rate: float = LearningRate
    beta1: float = Field(default=0.9, ge=0, lt=1, allow_inf_nan=False)
    beta2: float = Field(default=0.999, ge=0, lt=1, allow_inf_nan=False)
    epsilon: float = Epsilon
    decay: float = Decay


@register_optimizer("rmsprop", runtime="netspec.runtime.optimizers:RMSprop")
class RMSprop(Optimizer):
    """RMSprop: steps scaled by a running average of squared gradients."""

    positional: ClassVar[tuple[str, ...]] = ("learning_rate",)
    type: Literal["rmsprop"] = "rmsprop"
    learning_rate: float = LearningRate
    rho: float = Field(default=0.9, ge=0, lt=1, allow_inf_nan=False)
    epsilon: float = Epsilon
    decay: float = Decay


@register_optimizer("adamw", runtime="netspec.runtime.optimizers:AdamW")
class AdamW(Optimizer):
    """AdamW: Adam with decoupled weight decay, ``w *= 1 − lr·weight_decay`` before each Adam step."""

    positional: ClassVar[tuple[str, ...]] = ("learning_rate",)
    type: Literal["adamw"] = "adamw"
    learning_rate: float = LearningRate
    beta1: float = Field(default=0.9, ge=0, lt=1, allow_inf_nan=False)
    beta2: float = Field(default=0.999, ge=0, lt=1, allow_inf_nan=False)
    epsilon: float = Epsilon
    weight_decay: float = Field(default=0.01, ge=0, le=1e6, allow_inf_nan=False)
    decay: float = Decay


@register_optimizer("adagrad", runtime="netspec.runtime.optimizers:Adagrad")
class Adagrad(Optimizer):
    """Adagrad: steps scaled by the root of each parameter's sum of squared gradients."""

    positional: ClassVar[tuple[str, ...]] = ("learning_rate",)
    type: Literal["adagrad"] = "adagrad"
    learning_rate: float = LearningRate
    initial_accumulator_value: float = Field(default=0.0, ge=0, le=1e6, allow_inf_nan=False)
    epsilon: float = Epsilon
    decay: float = Decay
