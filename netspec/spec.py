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
from typing import Annotated, Any, ClassVar, Literal, Optional, Union

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
    model_serializer,
)
from pydantic_core import core_schema

from .registry import REGISTRY

LANGUAGE_VERSION = "1"
SCHEMA_ID = "urn:netspec:schema:1"


def _require_type(schema: dict[str, Any]) -> None:
    """JSON Schema: ``type`` is the tag, so a spec must always write it."""
    if "type" in schema.get("properties", {}):
        schema["required"] = ["type", *(k for k in schema.get("required", []) if k != "type")]


class Component(BaseModel):
    """Base of every parameter model: strict, frozen, unknown keys forbidden."""

    model_config = ConfigDict(
        extra="forbid",
        strict=True,
        frozen=True,
        defer_build=True,
        populate_by_name=True,
        json_schema_extra=_require_type,
    )
    kind: ClassVar[str] = ""

    def options(self) -> dict[str, Any]:
        """The parameters as plain keyword arguments: every field but ``type`` and ``name``."""
        return {k: getattr(self, k) for k in type(self).model_fields if k not in ("type", "name")}

    @model_serializer(mode="wrap")
    def _canonical(self, handler: Any) -> Any:
        data = handler(self)
        tag = getattr(self, "type", None)
        if tag is None:
            return data
        data.pop("type", None)
        return {"type": tag, **data}


class Layer(Component):
    """Base of everything that may stand in ``layers``. ``name`` is optional;
    unnamed layers are called ``dense_1``, ``relu_1``, ... in order."""

    kind: ClassVar[str] = "layer"
    name: Optional[str] = Field(default=None, min_length=1, max_length=200)


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
        return core_schema.no_info_before_validator_function(_name_to_object, union) if self.bare_names else union

    def __get_pydantic_json_schema__(self, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler) -> Any:
        objects = handler(schema)
        if not self.bare_names:
            return objects
        names = {"type": "string", "enum": REGISTRY.names(self.kind)}
        return {"anyOf": [names, objects]}


def _name_to_object(value: Any) -> Any:
    """Shorthand: a bare name ``"relu"`` stands for ``{"type": "relu"}``."""
    return {"type": value} if isinstance(value, str) else value


def _list_to_tuple(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value


def _bare_name(component: Any) -> Any:
    """Canonical form of a shorthand-able component: its bare name when it has no options."""
    data = component.model_dump(mode="json", by_alias=True, exclude_defaults=True)
    return data["type"] if list(data) == ["type"] else data


def shorthand(kind: str) -> Any:
    """A field type holding a component of ``kind`` that may be written as a bare name."""
    return Annotated[Component, AnyOf(kind, bare_names=True)]


LayerList = Annotated[tuple[Annotated[Layer, AnyOf("layer")], ...], BeforeValidator(_list_to_tuple)]


class Input(Component):
    """The network's input: ``features`` columns per sample."""

    features: PositiveInt


class EarlyStopping(Component):
    """Stop when ``monitor`` has not improved by ``min_delta`` for ``patience`` epochs."""

    monitor: Literal["loss", "val_loss", "accuracy", "val_accuracy", "mae", "val_mae"] = "val_loss"
    patience: PositiveInt = 10
    min_delta: float = Field(default=0.0, ge=0, allow_inf_nan=False)
    restore_best: bool = True


class Train(Component):
    """How to train: optimiser, epochs, batches, validation, metrics, early stopping.

    ``batch_size`` absent means full batch; ``seed`` drives shuffling and the
    validation split (the spec's ``seed`` when absent).
    """

    optimizer: Optional[shorthand("optimizer")] = None
    epochs: PositiveInt = Field(default=100, le=10_000_000)
    batch_size: Optional[PositiveInt] = None
    shuffle: bool = True
    seed: Optional[int] = Field(default=None, ge=0, le=2**32 - 1)
    validation_split: float = Field(default=0.0, ge=0, lt=1, allow_inf_nan=False)
    metrics: Annotated[tuple[Literal["accuracy", "mae"], ...], BeforeValidator(_list_to_tuple)] = ()
    early_stopping: Optional[EarlyStopping] = None


DATASETS = ("spiral", "xor", "and", "or", "nand", "sine")


class SpiralData(Component):
    """The cs231n spiral: ``classes`` arms of ``points_per_class`` points."""

    dataset: Literal["spiral"]
    points_per_class: PositiveInt = Field(default=100, le=10_000_000)
    classes: int = Field(default=3, ge=2, le=1000)
    noise: float = Field(default=0.2, ge=0, allow_inf_nan=False)
    seed: Optional[int] = Field(default=0, ge=0, le=2**32 - 1)


class GateData(Component):
    """The four rows of a logic gate's truth table."""

    dataset: Literal["xor", "and", "or", "nand"]


class SineData(Component):
    """``samples`` points x in [0, 1) with y = sin(2πx), for regression."""

    dataset: Literal["sine"]
    samples: PositiveInt = Field(default=1000, le=100_000_000)


class FileData(Component):
    """A ``.csv``, ``.npy`` or ``.npz`` file, relative to the spec's folder.
    ``label``: the CSV label column (a header name or an index; default the last)."""

    path: str = Field(min_length=1, max_length=4096)
    label: Optional[Union[str, int]] = None


def data_tag(value: Any) -> str | None:
    if isinstance(value, dict):
        return value.get("dataset", "file") if "path" not in value else "file"
    if isinstance(value, Component):
        return getattr(value, "dataset", "file")
    return None


DataSection = Annotated[
    Union[
        Annotated[SpiralData, Tag("spiral")],
        Annotated[GateData, Tag("xor")], Annotated[GateData, Tag("and")],
        Annotated[GateData, Tag("or")], Annotated[GateData, Tag("nand")],
        Annotated[SineData, Tag("sine")],
        Annotated[FileData, Tag("file")],
    ],
    Discriminator(data_tag, custom_error_type="unknown-dataset",
                  custom_error_message="unknown dataset"),
]


class Spec(Component):
    """A whole network: input, layers, loss and the numeric settings.

    >>> Spec.model_validate({"input": {"features": 2},
    ...     "layers": [{"type": "dense", "neurons": 3}, {"type": "softmax"}],
    ...     "loss": "categorical_crossentropy"}).layers[0].neurons
    3
    """

    schema_: Optional[str] = Field(default=None, alias="$schema", max_length=2000)
    netspec: Literal["1"] = LANGUAGE_VERSION
    name: Optional[str] = Field(default=None, max_length=200)
    description: Optional[str] = None
    input: Input
    layers: LayerList = Field(min_length=1)
    loss: Optional[shorthand("loss")] = None
    init: Optional[shorthand("initializer")] = None
    seed: Optional[int] = Field(default=None, ge=0, le=2**32 - 1)
    dtype: Literal["float64", "float32"] = "float64"
    rng: Literal["default", "legacy"] = "default"
    train: Optional[Train] = None
    data: Optional[DataSection] = None

    def to_dict(self) -> dict[str, Any]:
        """The canonical JSON-ready form (see the module docstring)."""
        data = self.model_dump(mode="json", by_alias=True, exclude_defaults=True)
        data.pop("type", None)
        ordered = {"$schema": data.pop("$schema")} if "$schema" in data else {}
        ordered["netspec"] = self.netspec
        ordered.update(data)
        if self.loss is not None:
            ordered["loss"] = _bare_name(self.loss)
        if self.init is not None:
            ordered["init"] = _bare_name(self.init)
        if self.train is not None and self.train.optimizer is not None:
            ordered["train"]["optimizer"] = _bare_name(self.train.optimizer)
        return ordered

    def to_json(self, indent: int | None = 2) -> str:
        """The canonical form as JSON text (ends with a newline when indented)."""
        text = json.dumps(self.to_dict(), indent=indent, ensure_ascii=False)
        return text + "\n" if indent is not None else text


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
