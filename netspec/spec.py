"""The typed spec: Pydantic v2 models for the netspec language, version 1.

A :class:`Spec` is immutable and strict: unknown keys are errors, and nothing
is coerced (``"10"``, ``true`` and ``3.0`` are not a neuron count). Layers,
losses, initialisers and optimisers are tagged unions on ``type``, built from
the component registry, so a registered component is valid everywhere a
built-in is. Turning a raw tree into a ``Spec`` with diagnostics is the job of
:mod:`netspec.check`; this module only declares the shapes of things.

Canonical form: :meth:`Spec.to_dict` writes what differs from the defaults
(never a default value), always with ``netspec`` and every component's
``type``; a component with no options is written as its bare name where the
language allows one (``"loss": "mse"``, ``"activation": "relu"``).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Annotated, Any, Callable, ClassVar, Literal, Optional, Sequence, Union

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    GetCoreSchemaHandler,
    GetJsonSchemaHandler,
    PositiveInt,
    Tag,
    ValidationError,
    WithJsonSchema,
    create_model,
    model_serializer,
    model_validator,
)
from pydantic_core import core_schema

from .errors import SpecError, format_path, spec_error
from .registry import REGISTRY

LANGUAGE_VERSION = "1"
SCHEMA_ID = "urn:netspec:schema:1"


def _stage_missing(*args: Any, **kwargs: Any) -> Any:
    raise AssertionError("import netspec (or netspec.api) before building specs from Python")


def _require_type(schema: dict[str, Any]) -> None:
    """JSON Schema: ``type`` is the tag, so a spec must always write it."""
    if "type" in schema.get("properties", {}):
        schema["required"] = ["type", *(k for k in schema.get("required", []) if k != "type")]


@dataclass
class Stages:
    """What the builder API needs from the stages that come after this module:
    ``diagnose`` (Pydantic's errors as diagnostics, from :mod:`netspec.check`)
    and ``validate`` and ``load`` (from :mod:`netspec.api`). Those modules set
    them when they are imported, so that this module, which they import,
    never imports them: the stages import only downward."""

    diagnose: Callable[..., list] = _stage_missing
    validate: Callable[..., Any] = _stage_missing
    load: Callable[..., Any] = _stage_missing


STAGES = Stages()


class Component(BaseModel):
    """Base of every parameter model: strict, frozen, unknown keys forbidden.

    Components are also the builder API: ``Dense(64, activation="relu")``
    validates at construction and raises :class:`~netspec.errors.SpecError`
    with the same diagnostics a file would get (paths relative to the
    component). ``positional`` names the fields that may be passed by position.
    """

    model_config = ConfigDict(
        extra="forbid",
        strict=True,
        frozen=True,
        defer_build=True,
        populate_by_name=True,
        json_schema_extra=_require_type,
    )
    kind: ClassVar[str] = ""
    positional: ClassVar[tuple[str, ...]] = ()

    def __init__(self, *args: Any, **data: Any) -> None:
        if len(args) > len(self.positional):
            raise TypeError(f"{type(self).__name__} takes at most {len(self.positional)} positional "
                            f"argument{'s' * (len(self.positional) != 1)} ({', '.join(self.positional) or 'none'}), "
                            f"got {len(args)}")
        for name, value in zip(self.positional, args):
            if name in data:
                raise TypeError(f"{type(self).__name__} got {name!r} both by position and by keyword")
            data[name] = value
        try:
            super().__init__(**data)
        except ValidationError as exc:
            raise SpecError(STAGES.diagnose(exc, data, type(self))) from None

    # Validation from trees builds instances without calling __init__ (as RootModel does).
    __init__.__pydantic_base_init__ = True  # type: ignore[attr-defined]

    def options(self) -> dict[str, Any]:
        """The parameters as plain keyword arguments: every field but ``type``, ``name`` and ``inputs``."""
        return {k: getattr(self, k) for k in type(self).model_fields if k not in ("type", "name", "inputs")}

    @model_serializer(mode="wrap")
    def _canonical(self, handler: Any) -> Any:
        data = handler(self)
        tag = getattr(self, "type", None)
        if tag is None:
            return data
        data.pop("type", None)
        return {"type": tag, **data}


Name = Annotated[str, Field(min_length=1, max_length=200)]


def _one_or_many(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value


class Layer(Component):
    """Base of everything that may stand in ``layers``. ``name`` is optional;
    unnamed layers are called ``dense_1``, ``relu_1``, ... in order.

    ``inputs`` says where the layer's input comes from: the name of an
    earlier layer or of a named input (``"inputs": "block_in"``), or several
    for a merge layer (``["a", "b"]``). Without it, a layer takes the output
    of the entry before it (the first, the network's input), so a chain needs
    no ``inputs`` at all. A name stands for what its entry outputs, after its
    ``activation`` shorthand."""

    kind: ClassVar[str] = "layer"
    merge: ClassVar[bool] = False  # a merge layer takes several inputs
    window: ClassVar[Any] = None  # convolution and pooling layers: their windows (see components.Windowed)
    name: Optional[Name] = None
    inputs: Optional[Annotated[Union[Name, tuple[Name, ...]], BeforeValidator(_one_or_many)]] = None

    def sources(self) -> tuple[str, ...] | None:
        """The names in ``inputs`` as a tuple, or None when absent."""
        inputs = self.__dict__.get("inputs")  # not getattr: a missing attribute is slow on pydantic models
        return (inputs,) if isinstance(inputs, str) else inputs


class Activation(Layer):
    """Base of activations: element-wise or row-wise maps that keep the width."""

    kind: ClassVar[str] = "activation"


class Loss(Component):
    """Base of losses."""

    kind: ClassVar[str] = "loss"


class Initializer(Component):
    """Base of weight initialisers."""

    kind: ClassVar[str] = "initializer"


class Optimizer(Component):
    """Base of optimisers."""

    kind: ClassVar[str] = "optimizer"


class Regularizer(Component):
    """A penalty on an array of weights, added to the loss:
    ``l1·Σ|w| + l2·Σw²``. ``l2`` has Keras's meaning: the gradient of its term
    is ``2·l2·w``, so a course's ``½·λ·Σw²`` (gradient ``λ·w``) is ``l2 = λ/2``.
    ``{}`` (both 0) is no penalty. Builders: :func:`L1`, :func:`L2`, :func:`L1L2`."""

    positional: ClassVar[tuple[str, ...]] = ("l1", "l2")
    l1: float = Field(default=0.0, ge=0, le=1e6, allow_inf_nan=False)
    l2: float = Field(default=0.0, ge=0, le=1e6, allow_inf_nan=False)


def L1(l1: float = 0.01) -> Regularizer:
    """``Regularizer(l1=l1)``: the penalty ``l1·Σ|w|``."""
    return Regularizer(l1=l1)


def L2(l2: float = 0.01) -> Regularizer:
    """``Regularizer(l2=l2)``: the penalty ``l2·Σw²``, gradient ``2·l2·w``."""
    return Regularizer(l2=l2)


def L1L2(l1: float = 0.0, l2: float = 0.0) -> Regularizer:
    """``Regularizer(l1=l1, l2=l2)``: the penalty ``l1·Σ|w| + l2·Σw²``."""
    return Regularizer(l1=l1, l2=l2)


class AnyOf:
    """Annotation: a tagged union (on ``type``) of every registered component of
    ``kind``, read from the registry when the models are (re)built. With
    ``bare_names``, a component may also be written as its bare name
    (``"relu"`` for ``{"type": "relu"}``), in specs and in the JSON Schema."""

    def __init__(self, kind: str, *, bare_names: bool = False):
        self.kind = kind
        self.bare_names = bare_names

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> core_schema.CoreSchema:
        choices = {e.name: handler.generate_schema(e.params) for e in REGISTRY.entries(self.kind)}
        union = core_schema.tagged_union_schema(choices, discriminator="type")
        if not self.bare_names:
            return union
        return core_schema.no_info_before_validator_function(
            _name_to_object, union,
            serialization=core_schema.wrap_serializer_function_ser_schema(_object_to_name))

    def __get_pydantic_json_schema__(self, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler) -> Any:
        objects = handler(schema)
        if not self.bare_names:
            return objects
        names = {"type": "string", "enum": REGISTRY.names(self.kind)}
        return {"anyOf": [names, objects]}


def _name_to_object(value: Any) -> Any:
    """Shorthand: a bare name ``"relu"`` stands for ``{"type": "relu"}``."""
    return {"type": value} if isinstance(value, str) else value


def _object_to_name(value: Any, handler: Any) -> Any:
    """Canonical form: a component with nothing but its ``type`` to say is written as its bare name."""
    data = handler(value)
    return data["type"] if isinstance(data, dict) and list(data) == ["type"] else data


def list_to_tuple(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value


def shorthand(kind: str) -> Any:
    """A field type holding a component of ``kind`` that may be written as a bare name."""
    return Annotated[Component, AnyOf(kind, bare_names=True)]


LayerList = Annotated[tuple[Annotated[Layer, AnyOf("layer")], ...], BeforeValidator(list_to_tuple)]


def _features_to_input(value: Any) -> Any:
    """Shorthand: ``"input": 2`` stands for ``{"features": 2}``."""
    return {"features": value} if isinstance(value, int) and not isinstance(value, bool) else value


MAX_RANK = 3  # (features,), (length, channels), (height, width, channels)


class Input(Component):
    """The shape of one sample, without the batch axis, channels-last:
    ``{"shape": [28, 28, 1]}`` for images (height, width, channels),
    ``{"shape": [100, 8]}`` for sequences (length, channels), and
    ``{"features": 2}`` (or ``{"shape": [2]}``, or just ``2``) for vectors.

    ``shape`` is always set once checked; ``features`` is the width of a
    vector input, ``None`` for tensors. The canonical form writes
    ``{"features": N}`` for vectors and ``{"shape": [...]}`` otherwise.
    """

    model_config = ConfigDict(json_schema_extra={"oneOf": [  # one of the two, the other absent or null
        {"required": ["features"], "properties": {"features": {"type": "integer"}, "shape": {"type": "null"}}},
        {"required": ["shape"], "properties": {"shape": {"type": "array"}, "features": {"type": "null"}}}]})
    positional: ClassVar[tuple[str, ...]] = ("features",)
    features: Optional[PositiveInt] = None
    shape: Optional[Annotated[tuple[PositiveInt, ...], Field(min_length=1, max_length=MAX_RANK),
                              BeforeValidator(list_to_tuple)]] = None

    @model_validator(mode="after")
    def _one_of_features_or_shape(self) -> "Input":
        if self.features is None and self.shape is None:
            raise ValueError('input needs "features" (a vector of N numbers) or "shape" ([height, width, channels], '
                             "[length, channels] or [N])")
        if {"features", "shape"} <= self.model_fields_set and self.features is not None and self.shape is not None:
            raise ValueError('give input either "features" or "shape", not both ("features": N is "shape": [N])')
        if self.shape is None:
            object.__setattr__(self, "shape", (self.features,))
        elif len(self.shape) == 1:
            object.__setattr__(self, "features", self.shape[0])
        return self

    @model_serializer(mode="plain")
    def _canonical_input(self) -> dict[str, Any]:
        return {"features": self.shape[0]} if len(self.shape) == 1 else {"shape": list(self.shape)}


def input_tag(value: Any) -> str:
    """``named`` for a mapping of input names to input objects, else ``one``."""
    if isinstance(value, dict) and value and "features" not in value and "shape" not in value \
            and all(isinstance(v, (dict, Input)) for v in value.values()):
        return "named"
    return "one"


class _InputsShorthand:
    """JSON Schema of ``input``: one input, its features as a bare integer, or named inputs."""

    def __get_pydantic_json_schema__(self, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler) -> Any:
        one, named = handler(schema)["oneOf"]
        named = {**named, "propertyNames": {"minLength": 1, "maxLength": 200, "not": {"enum": ["features", "shape"]}}}
        return {"anyOf": [one, {"type": "integer", "exclusiveMinimum": 0}, named]}


NamedInputs = Annotated[dict[Name, Input], Field(min_length=1)]
InputSection = Annotated[
    Union[Annotated[Input, BeforeValidator(_features_to_input), Tag("one")], Annotated[NamedInputs, Tag("named")]],
    Discriminator(input_tag), _InputsShorthand()]

# The name that stands for the network's input when it has one, unnamed.
INPUT_NAME = "input"


METRICS = ("accuracy", "mae", "precision", "recall", "f1", "top_k_accuracy")
Metric = Literal["accuracy", "mae", "precision", "recall", "f1", "top_k_accuracy"]
# What early stopping and reduce_on_plateau may watch: the loss or a metric, on the training or validation rows.
Monitor = Literal["loss", "val_loss", "accuracy", "val_accuracy", "mae", "val_mae", "precision", "val_precision",
                  "recall", "val_recall", "f1", "val_f1", "top_k_accuracy", "val_top_k_accuracy"]


class EarlyStopping(Component):
    """Stop when ``monitor`` has not improved by ``min_delta`` for ``patience`` epochs."""

    monitor: Monitor = "val_loss"
    patience: PositiveInt = 10
    min_delta: float = Field(default=0.0, ge=0, allow_inf_nan=False)
    restore_best: bool = True


Fraction = Field(default=0.1, gt=0, lt=1, allow_inf_nan=False)
MinimumRate = Field(default=0.0, ge=0, allow_inf_nan=False)


class StepSchedule(Component):
    """The learning rate times ``gamma`` every ``step_size`` epochs:
    ``lr · gamma^floor(epoch / step_size)``, epochs counted from 0."""

    type: Literal["step"] = "step"
    step_size: PositiveInt
    gamma: float = Fraction


class ExponentialSchedule(Component):
    """The learning rate times ``gamma`` every epoch: ``lr · gamma^epoch``."""

    type: Literal["exponential"] = "exponential"
    gamma: float = Field(gt=0, le=1, allow_inf_nan=False)


class CosineSchedule(Component):
    """Half a cosine from the learning rate down to ``min_learning_rate`` over
    ``decay_epochs`` (default: the epochs after the warmup), after
    ``warmup_epochs`` of linear warmup (``lr · (epoch + 1) / warmup_epochs``);
    ``min_learning_rate`` after that."""

    type: Literal["cosine"] = "cosine"
    decay_epochs: Optional[PositiveInt] = None
    warmup_epochs: int = Field(default=0, ge=0, le=10_000_000)
    min_learning_rate: float = MinimumRate


class PlateauSchedule(Component):
    """The learning rate times ``factor`` when ``monitor`` has not improved by
    ``min_delta`` for ``patience`` epochs (counted as early stopping counts
    them), then ``cooldown`` epochs of rest, never below ``min_learning_rate``."""

    type: Literal["reduce_on_plateau"] = "reduce_on_plateau"
    monitor: Monitor = "val_loss"
    factor: float = Fraction
    patience: PositiveInt = 10
    min_delta: float = Field(default=1e-4, ge=0, allow_inf_nan=False)
    cooldown: int = Field(default=0, ge=0)
    min_learning_rate: float = MinimumRate


SCHEDULES = {"step": StepSchedule, "exponential": ExponentialSchedule, "cosine": CosineSchedule,
             "reduce_on_plateau": PlateauSchedule}


def schedule_tag(value: Any) -> str | None:
    """A schedule's ``type``, when it is one of :data:`SCHEDULES`."""
    tag = value.get("type") if isinstance(value, dict) else getattr(value, "type", None)
    return tag if tag in SCHEDULES else None


ScheduleSection = Annotated[
    Union[tuple(Annotated[model, Tag(name)] for name, model in SCHEDULES.items())],
    Discriminator(schedule_tag, custom_error_type="unknown-schedule", custom_error_message="unknown schedule"),
]


MAX_CLASSES = 1_000_000


def _class_weight(value: Any) -> Any:
    """``class_weight`` checked whole, so that a problem is one plain message:
    a non-empty list of weights (class 0 first), or a non-empty mapping of
    class indices to weights (Python's ``{0: 1.0}`` reads as JSON's ``{"0": 1.0}``)."""
    if isinstance(value, (list, tuple)) and value:
        for index, weight in enumerate(value):
            _check_weight(weight, f"class_weight[{index}]")
        return tuple(value)
    if isinstance(value, dict) and value:
        weights = {}
        for key, weight in value.items():
            text = str(key) if isinstance(key, int) and not isinstance(key, bool) else key
            if not (isinstance(text, str) and text.isdigit() and text == str(int(text)) and int(text) < MAX_CLASSES):
                raise ValueError(f"class_weight keys are class indices (\"0\", \"1\", ...), got {_shown(key)}")
            weights[text] = _check_weight(weight, f'class_weight["{text}"]')
        return weights
    raise ValueError("class_weight must be a non-empty list of weights, one per class, or a non-empty mapping "
                     f'of classes to weights ({{"1": 5.0}}), got {_shown(value)}')


def _check_weight(weight: Any, where: str) -> Any:
    if isinstance(weight, bool) or not isinstance(weight, (int, float)) or not 0 <= weight <= 1e6:
        raise ValueError(f"{where} must be a number from 0 to 1e6, got {_shown(weight)}")
    return weight


def _shown(value: Any) -> str:
    """A value as a spec writes it (JSON), or its repr when it is no JSON value."""
    try:
        return json.dumps(value, ensure_ascii=False)[:80]
    except (TypeError, ValueError):
        return repr(value)[:80]


_CLASS_WEIGHT_SCHEMA = {"anyOf": [
    {"type": "array", "minItems": 1, "items": {"type": "number", "minimum": 0, "maximum": 1e6}},
    {"type": "object", "minProperties": 1, "propertyNames": {"pattern": "^(0|[1-9][0-9]{0,5})$"},
     "additionalProperties": {"type": "number", "minimum": 0, "maximum": 1e6}}]}
ClassWeight = Annotated[Union[tuple[float, ...], dict[str, float]], BeforeValidator(_class_weight),
                        WithJsonSchema(_CLASS_WEIGHT_SCHEMA)]
ClipSize = Field(default=None, gt=0, allow_inf_nan=False)


class Train(Component):
    """How to train: optimiser, epochs, batches, validation, metrics, early
    stopping, learning-rate schedule, gradient clipping and class weights.

    ``batch_size`` absent means full batch; ``seed`` drives shuffling and the
    validation split (the spec's ``seed`` when absent). ``top_k`` is the k of
    the ``top_k_accuracy`` metric. Clipping, at most one of: ``clip_norm``
    (each gradient array rescaled to at most that norm), ``clip_global_norm``
    (all of them together), ``clip_value`` (each value into ±clip_value).
    ``class_weight``: one weight per class, a list or ``{"class": weight}``
    (classes not named weigh 1).
    """

    optimizer: Optional[shorthand("optimizer")] = None
    epochs: PositiveInt = Field(default=100, le=10_000_000)
    batch_size: Optional[PositiveInt] = None
    shuffle: bool = True
    seed: Optional[int] = Field(default=None, ge=0, le=2**32 - 1)
    validation_split: float = Field(default=0.0, ge=0, lt=1, allow_inf_nan=False)
    metrics: Annotated[tuple[Metric, ...], BeforeValidator(list_to_tuple)] = ()
    top_k: PositiveInt = Field(default=5, le=1_000_000)
    early_stopping: Optional[EarlyStopping] = None
    schedule: Optional[ScheduleSection] = None
    clip_norm: Optional[float] = ClipSize
    clip_global_norm: Optional[float] = ClipSize
    clip_value: Optional[float] = ClipSize
    class_weight: Optional[ClassWeight] = None

    @model_validator(mode="after")
    def _one_clipping(self) -> "Train":
        given = [name for name in ("clip_norm", "clip_global_norm", "clip_value") if getattr(self, name) is not None]
        if len(given) > 1:
            raise ValueError(f"give at most one of clip_norm, clip_global_norm and clip_value, got {' and '.join(given)}")
        return self


DATASETS = ("spiral", "xor", "and", "or", "nand", "sine", "shapes", "waves", "book_spiral", "vertical")


class SpiralData(Component):
    """The cs231n spiral: ``classes`` arms of ``points_per_class`` points."""

    dataset: Literal["spiral"]
    points_per_class: PositiveInt = Field(default=100, le=10_000_000)
    classes: int = Field(default=3, ge=2, le=1000)
    noise: float = Field(default=0.2, ge=0, allow_inf_nan=False)
    seed: Optional[int] = Field(default=0, ge=0, le=2**32 - 1)
    validation: Optional["ValidationSection"] = None


class BookSpiralData(Component):
    """The from-scratch book's spiral: ``classes`` arms of ``samples`` points,
    wound 2.5 times tighter than the cs231n spiral, as the book's code makes them."""

    dataset: Literal["book_spiral"]
    samples: PositiveInt = Field(default=100, le=10_000_000)
    classes: int = Field(default=3, ge=2, le=1000)
    seed: Optional[int] = Field(default=0, ge=0, le=2**32 - 1)
    validation: Optional["ValidationSection"] = None


class VerticalData(Component):
    """The from-scratch book's vertical data: ``classes`` columns of ``samples``
    points each, side by side along x."""

    dataset: Literal["vertical"]
    samples: PositiveInt = Field(default=100, le=10_000_000)
    classes: int = Field(default=3, ge=2, le=1000)
    seed: Optional[int] = Field(default=0, ge=0, le=2**32 - 1)
    validation: Optional["ValidationSection"] = None


class GateData(Component):
    """The four rows of a logic gate's truth table."""

    dataset: Literal["xor", "and", "or", "nand"]
    validation: Optional["ValidationSection"] = None


class SineData(Component):
    """``samples`` points x in [0, 1) with y = sin(2πx), for regression."""

    dataset: Literal["sine"]
    samples: PositiveInt = Field(default=1000, le=100_000_000)
    validation: Optional["ValidationSection"] = None


class ShapesData(Component):
    """Grayscale ``size``×``size`` images of ``classes`` kinds of filled shape
    (square, disc, triangle, cross, ring), ``samples_per_class`` of each, for convolutions."""

    dataset: Literal["shapes"]
    samples_per_class: PositiveInt = Field(default=200, le=10_000_000)
    size: int = Field(default=16, ge=8, le=1024)
    classes: int = Field(default=3, ge=2, le=5)
    noise: float = Field(default=0.1, ge=0, allow_inf_nan=False)
    seed: Optional[int] = Field(default=0, ge=0, le=2**32 - 1)
    validation: Optional["ValidationSection"] = None


class WavesData(Component):
    """Sequences of ``length`` steps, one channel, of ``classes`` kinds of wave
    (sine, square, sawtooth, triangle), ``samples_per_class`` of each, for 1-D convolutions."""

    dataset: Literal["waves"]
    samples_per_class: PositiveInt = Field(default=200, le=10_000_000)
    length: int = Field(default=64, ge=16, le=1_000_000)
    classes: int = Field(default=3, ge=2, le=4)
    noise: float = Field(default=0.1, ge=0, allow_inf_nan=False)
    seed: Optional[int] = Field(default=0, ge=0, le=2**32 - 1)
    validation: Optional["ValidationSection"] = None


class FileData(Component):
    """A ``.csv``, ``.npy`` or ``.npz`` file, relative to the spec's folder.
    ``label``: the CSV label column (a header name or an index; default the last)."""

    path: str = Field(min_length=1, max_length=4096)
    label: Optional[Union[str, int]] = None
    validation: Optional["ValidationSection"] = None


def data_tag(value: Any) -> str | None:
    if isinstance(value, dict):
        return value.get("dataset", "file") if "path" not in value else "file"
    if isinstance(value, Component):
        return getattr(value, "dataset", "file")
    return None


# Every data section may hold a ``validation`` section of its own, a dataset or
# a file like itself (but without a validation section in turn): the rows the
# network is validated on, instead of a share of its training rows.
DataSection = Annotated[
    Union[
        Annotated[SpiralData, Tag("spiral")],
        Annotated[GateData, Tag("xor")], Annotated[GateData, Tag("and")],
        Annotated[GateData, Tag("or")], Annotated[GateData, Tag("nand")],
        Annotated[SineData, Tag("sine")],
        Annotated[ShapesData, Tag("shapes")],
        Annotated[WavesData, Tag("waves")],
        Annotated[BookSpiralData, Tag("book_spiral")],
        Annotated[VerticalData, Tag("vertical")],
        Annotated[FileData, Tag("file")],
    ],
    Discriminator(data_tag, custom_error_type="unknown-dataset",
                  custom_error_message="unknown dataset"),
]


def _validation_rows(model: type[Component]) -> type[Component]:
    """``model`` as the section of ``data.validation``: the same dataset or
    file, without a validation section of its own (so the schema does not
    recurse)."""
    return create_model(model.__name__.replace("Data", "Validation"), __base__=model, __module__=__name__,
                        __doc__=f"{model.__doc__.splitlines()[0]} (validation rows)", validation=(None, None))


_VALIDATION_MODELS = {tag: _validation_rows(model) for tag, model in
                      (("spiral", SpiralData), ("book_spiral", BookSpiralData), ("vertical", VerticalData),
                       ("xor", GateData), ("sine", SineData), ("shapes", ShapesData), ("waves", WavesData),
                       ("file", FileData))}
_VALIDATION_MODELS.update(dict.fromkeys(("and", "or", "nand"), _VALIDATION_MODELS["xor"]))  # the gates share it
_VALIDATION_CHOICES = tuple(Annotated[_VALIDATION_MODELS[tag], Tag(tag)] for tag in (*DATASETS, "file"))
ValidationSection = Annotated[
    Union[_VALIDATION_CHOICES],
    Discriminator(data_tag, custom_error_type="unknown-dataset", custom_error_message="unknown dataset"),
]


class Spec(Component):
    """A whole network: input, layers, loss and the numeric settings.

    ``init`` and ``regularizer`` are the defaults of every dense and conv
    layer's ``init`` and ``regularizer`` (its weights' penalty; biases have
    none unless a layer's ``bias_regularizer`` says so).

    >>> Spec.model_validate({"input": {"features": 2},
    ...     "layers": [{"type": "dense", "neurons": 3}, {"type": "softmax"}],
    ...     "loss": "categorical_crossentropy"}).layers[0].neurons
    3
    """

    schema_: Optional[str] = Field(default=None, alias="$schema", max_length=2000)
    netspec: Literal["1"] = LANGUAGE_VERSION
    name: Optional[str] = Field(default=None, max_length=200)
    description: Optional[str] = None
    input: InputSection
    layers: LayerList = Field(min_length=1)
    output: Optional[Name] = None
    loss: Optional[shorthand("loss")] = None
    init: Optional[shorthand("initializer")] = None
    regularizer: Optional[Regularizer] = None
    seed: Optional[int] = Field(default=None, ge=0, le=2**32 - 1)
    dtype: Literal["float64", "float32"] = "float64"
    rng: Literal["default", "legacy"] = "default"
    train: Optional[Train] = None
    data: Optional[DataSection] = None

    def __init__(self, *args: Any, **data: Any) -> None:
        """Build a spec from Python values, validated like a file: structure,
        shapes and rules. Raises :class:`~netspec.errors.SpecError`."""
        super().__init__(*args, **data)
        STAGES.validate(self).raise_for_errors()

    __init__.__pydantic_base_init__ = True  # type: ignore[attr-defined]

    @property
    def inputs(self) -> dict[str, Input]:
        """Every input by name: ``{"input": ...}`` for a network with one unnamed input."""
        return self.input if isinstance(self.input, dict) else {INPUT_NAME: self.input}

    def to_dict(self) -> dict[str, Any]:
        """The canonical JSON-ready form (see the module docstring)."""
        data = self.model_dump(mode="json", by_alias=True, exclude_defaults=True)
        ordered = {"$schema": data.pop("$schema")} if "$schema" in data else {}
        ordered["netspec"] = self.netspec
        ordered.update(data)
        return ordered

    def to_json(self, indent: int | None = 2) -> str:
        """The canonical form as JSON text (ends with a newline when indented)."""
        text = json.dumps(self.to_dict(), indent=indent, ensure_ascii=False)
        return text + "\n" if indent is not None else text

    def to_yaml(self) -> str:
        """The canonical form as YAML text, keys in canonical order. Unicode is
        written as is, unless PyYAML would not read it back the same (it
        mishandles a few line-break characters such as U+0085), then escaped."""
        data = self.to_dict()
        text = yaml.safe_dump(data, sort_keys=False, allow_unicode=True)
        if yaml.safe_load(text) != data:
            text = yaml.safe_dump(data, sort_keys=False, allow_unicode=False)
        return text

    def replace(self, path: str | Sequence[str | int], value: Any) -> "Spec":
        """A new, fully validated spec with the value at ``path`` set:
        ``spec.replace("layers[0].neurons", 128)``. Missing objects on the way
        are created; a bare-name component (``"loss": "mse"``) is opened up to
        set an option (``"loss.from_logits"``)."""
        tree = self.to_dict()
        set_path(tree, parse_path(path), value)
        return _load(tree)

    def with_(self, **changes: Any) -> "Spec":
        """A new, fully validated spec with top-level fields replaced:
        ``spec.with_(seed=1, dtype="float32")`` (``schema_`` stands for ``$schema``)."""
        tree = self.to_dict()
        for key, value in changes.items():
            tree["$schema" if key == "schema_" else key] = value
        return _load(tree)


def _load(tree: dict[str, Any]) -> "Spec":
    return STAGES.load(tree)


_PATH_PART = re.compile(r"([^.\[\]]+)|\[(\d+)\]")

# What a missing section is created as when a path reaches into it.
_NEW_SECTIONS = {("train",): {}, ("train", "optimizer"): {"type": "adam"}, ("train", "early_stopping"): {}}


def parse_path(path: str | Sequence[str | int]) -> tuple[str | int, ...]:
    """``"layers[0].neurons"`` → ``("layers", 0, "neurons")``; a sequence is taken as it is."""
    if not isinstance(path, str):
        return tuple(path)
    parts, position = [], 0
    for match in _PATH_PART.finditer(path):
        if match.start() != position and path[position:match.start()] != ".":
            break
        parts.append(match.group(1) if match.group(1) is not None else int(match.group(2)))
        position = match.end()
    if not parts or position != len(path):
        raise spec_error((), "bad-path", f"cannot read the path {path!r}",
                         'write keys with dots and list indices in brackets: "layers[0].neurons"')
    return tuple(parts)


def set_path(tree: Any, path: tuple[str | int, ...], value: Any) -> None:
    """Set ``value`` at ``path`` inside ``tree`` (in place), creating missing objects."""
    node = tree
    for depth, part in enumerate(path[:-1]):
        node = _step_into(node, part, path[: depth + 1])
    last = path[-1]
    _check_step(node, last, path)
    node[last] = value


def _step_into(node: Any, part: str | int, where: tuple[str | int, ...]) -> Any:
    _check_step(node, part, where)
    if isinstance(node, dict) and part not in node:
        node[part] = dict(_NEW_SECTIONS.get(where, {}))
    child = node[part]
    if isinstance(child, str):
        child = node[part] = {"type": child}
    return child


def _check_step(node: Any, part: str | int, where: tuple[str | int, ...]) -> None:
    ok = (isinstance(node, dict) and isinstance(part, str)) or (
        isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node))
    if not ok:
        raise spec_error(where, "bad-path", f"there is no {format_path(where)} to set in this spec",
                         "check the path against the spec's canonical form (spec.to_dict())")


def _rebuild_models() -> None:
    """After a registration, rebuild the models already built (leaves first, the
    Spec last) so their tagged unions include the new component; models not
    built yet pick it up when first used."""
    models = [e.params for kind in ("activation", "loss", "initializer", "optimizer", "layer")
              for e in REGISTRY.entries(kind)]
    for model in [*models, Train, Spec]:
        if model.__pydantic_complete__:
            model.model_rebuild(force=True)


REGISTRY.on_change(_rebuild_models)
