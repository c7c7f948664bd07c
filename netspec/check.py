"""Stage 2, check: a raw tree becomes a typed :class:`~netspec.spec.Spec`, or diagnostics.

Pydantic validates; this module is the one place its errors are turned into
netspec :class:`~netspec.errors.Diagnostic` values, each with the user's path
(``layers[2].neurons``, the union tags Pydantic inserts removed), a stable
code, a plain-words message and a hint. Codes emitted here:

``not-an-object``, ``unknown-key``, ``missing-key``, ``unknown-type``,
``missing-type``, ``wrong-type``, ``out-of-range``, ``invalid-value``,
``empty-list``, ``too-long``, ``duplicate-name``, ``too-many-layers``,
``unknown-dataset``, ``monitor-needs-validation``, ``monitor-not-measured``.
"""

from __future__ import annotations

import difflib
from typing import Any, Iterable, Sequence

from pydantic import ValidationError

from . import components  # noqa: F401 -- registers the built-in components the models are made of
from .errors import Diagnostic, Path, format_path
from .limits import DEFAULT_LIMITS, Limits
from .registry import REGISTRY
from .spec import (
    DATASETS,
    SCHEDULES,
    STAGES,
    BookSpiralData,
    Component,
    EarlyStopping,
    FileData,
    GateData,
    Input,
    ShapesData,
    SineData,
    Spec,
    SpiralData,
    Train,
    VerticalData,
    WavesData,
    data_tag,
    input_tag,
)

# The last key of a path says which kind of component a tagged union holds there.
_UNION_KINDS = {"layers": "layer", "activation": "activation", "init": "initializer",
                "loss": "loss", "optimizer": "optimizer"}

# The parameter model of each fixed section, by path.
_SECTIONS = {(): Spec, ("input",): Input, ("train",): Train, ("train", "early_stopping"): EarlyStopping}

# The model of a data section, by its tag.
_DATA_MODELS = {"spiral": SpiralData, "sine": SineData, "shapes": ShapesData, "waves": WavesData,
                "book_spiral": BookSpiralData, "vertical": VerticalData, "file": FileData}

_TYPE_WORDS = {
    "int": "an integer", "float": "a number", "bool": "true or false", "string": "a string",
    "dict": "an object", "model": "an object", "model_attributes": "an object", "tuple": "a list",
    "list": "a list", "none": "null",
}

_RANGE_WORDS = {"greater_than": ">", "greater_than_equal": "≥", "less_than": "<", "less_than_equal": "≤"}


def check(tree: Any, *, limits: Limits = DEFAULT_LIMITS) -> tuple[Spec | None, list[Diagnostic]]:
    """Validate ``tree`` (a plain JSON-like value) as a spec.

    Returns ``(spec, [])`` when it is valid, ``(None, diagnostics)`` otherwise:
    every problem found, not only the first.
    """
    if not isinstance(tree, dict):
        return None, [Diagnostic((), "not-an-object",
                                 f"a spec must be an object, got {describe(tree)}",
                                 'start from {"netspec": "1", "input": {"features": 2}, "layers": [...]}')]
    layers = tree.get("layers")
    if isinstance(layers, list) and len(layers) > limits.max_layers:
        return None, [Diagnostic(("layers",), "too-many-layers",
                                 f"{len(layers)} layers is over the limit of {limits.max_layers}",
                                 "raise Limits.max_layers if this is intended")]
    problems = duplicate_names(layers if isinstance(layers, list) else [])
    if isinstance(tree.get("output"), list) and len(tree["output"]) > 1:  # fewer is a list for a name: wrong-type
        problems.append(Diagnostic(("output",), "several-outputs",
                                   f"output names {len(tree['output'])} layers, but a network has one output for now",
                                   "name the one layer whose output the loss compares with the targets"))
        tree = {key: value for key, value in tree.items() if key != "output"}
    try:
        spec = Spec.model_validate(tree)
    except ValidationError as exc:
        return None, diagnostics_from(exc, tree) + problems
    problems += train_rules(spec) + input_names(spec)
    return (None, problems) if problems else (spec, [])


def diagnostics_from(exc: ValidationError, tree: Any, root: type[Component] = Spec) -> list[Diagnostic]:
    """Turn a Pydantic ``ValidationError`` raised on ``tree`` into diagnostics;
    ``root`` is the model ``tree`` was validated as (a whole Spec, or one
    component built in Python)."""
    found: list[Diagnostic] = []
    unions: dict[Path, tuple[int, list[str]]] = {}  # path -> (index in found, each type expected there)
    for error in exc.errors(include_url=False):
        path, node, parent = user_path(error["loc"], tree)
        if error["type"].endswith("_type") and isinstance(parent, dict) and path and path[-1] not in parent:
            path, node = path[:-1], parent  # a wrong type names a value that is there: the last part is a union member
        expected = _expected_type(error)
        if expected is not None and path in unions:  # a plain union reports each member's type at one path
            unions[path][1].append(expected)
            found[unions[path][0]] = _wrong_type(path, " or ".join(unions[path][1]), node)
            continue
        if expected is not None:
            unions[path] = (len(found), [expected])
        found.append(_diagnostic(error, path, node, parent, root))
    return _drop_noise(found)


def _expected_type(error: dict) -> str | None:
    """What a wrong-type error expected (``an integer``), or None for any other error."""
    kind = error["type"]
    if kind in ("model_type", "model_attributes_type"):
        return "an object"
    base = kind.removesuffix("_type")
    return _TYPE_WORDS[base] if kind.endswith("_type") and base in _TYPE_WORDS else None


def user_path(loc: Sequence[Any], tree: Any) -> tuple[Path, Any, Any]:
    """Map a Pydantic location to the user's path through ``tree``.

    At a tagged union (a layer, ``activation``, ``init``, ``loss``,
    ``optimizer``) Pydantic inserts the tag (``layers.0.dense.neurons``); it is
    skipped. Returns the path, the value found there (``None`` when missing)
    and its parent.
    """
    path: list[Any] = []
    node, parent, tag_skipped = tree, None, False
    for part in loc:
        if not tag_skipped and _at_union(path) and part == _tag_of(node, path):
            tag_skipped = True
            continue
        if isinstance(part, str) and node is not None and not isinstance(node, dict):
            continue  # a union member's label, or a field of a shorthand (``"input": 2``): not in the tree
        parent, path, tag_skipped = node, [*path, part], False
        node = _child(node, part)
    return tuple(path), node, parent


def _at_union(path: Sequence[Any]) -> bool:
    if len(path) >= 2 and path[-2] == "layers" and isinstance(path[-1], int):
        return True
    if list(path) == ["input"]:  # one input, or named inputs
        return True
    return bool(path) and path[-1] in (*_UNION_KINDS, "data", "schedule", "validation") and path[-1] != "layers"


def _tag_of(node: Any, path: Sequence[Any]) -> Any:
    """The union tag of a raw value: its ``type`` (or its dataset), or itself
    when written as a bare name."""
    if path[-1] in ("data", "validation"):
        return data_tag(node)
    if list(path) == ["input"]:
        return input_tag(node)
    return node.get("type") if isinstance(node, dict) else node


def _child(node: Any, part: Any) -> Any:
    if isinstance(node, dict) and isinstance(part, str):
        return node.get(part)
    if isinstance(node, (list, tuple)) and isinstance(part, int) and 0 <= part < len(node):
        return node[part]
    return None


def _diagnostic(error: dict, path: Path, node: Any, parent: Any, root: type[Component]) -> Diagnostic:
    kind = error["type"]
    handler = _HANDLERS.get(kind)
    if handler is not None:
        return handler(error, path, node, parent, root)
    base = kind.removesuffix("_type")
    if kind.endswith("_type") and base in _TYPE_WORDS:
        return _wrong_type(path, _TYPE_WORDS[base], node)
    if kind in _RANGE_WORDS:
        bound = next(iter(error["ctx"].values()))
        return Diagnostic(path, "out-of-range",
                          f"{_field(path)} must be {_RANGE_WORDS[kind]} {bound}, got {describe(node)}")
    return Diagnostic(path, "invalid-value", f"{_field(path)}: {_plain(error['msg'])}")


def _unknown_key(error: dict, path: Path, node: Any, parent: Any, root: type[Component]) -> Diagnostic:
    key = path[-1]
    allowed = _allowed_keys(path[:-1], parent, root)
    hint = did_you_mean(str(key), allowed)
    if hint is None and allowed:
        hint = "allowed keys: " + ", ".join(allowed)
    return Diagnostic(path, "unknown-key", f'unknown key "{key}" in {_owner(path[:-1], parent, root)}', hint)


def _missing(error: dict, path: Path, node: Any, parent: Any, root: type[Component]) -> Diagnostic:
    key = path[-1]
    if path == ("data", "path") and isinstance(parent, dict) and "dataset" not in parent:
        return Diagnostic(("data", "dataset"), "missing-key", 'data needs "dataset" (a built-in dataset) or "path" (a data file)',
                          "use one of " + ", ".join(DATASETS) + ', or {"path": FILE}')
    return Diagnostic(path, "missing-key", f'{_owner(path[:-1], parent, root)} needs "{key}"',
                      _missing_hint(str(key), parent))


def _unknown_type(error: dict, path: Path, node: Any, parent: Any, root: type[Component]) -> Diagnostic:
    kind = _union_kind(path)
    tag = error["ctx"]["tag"]
    names = REGISTRY.names(kind)
    valid = "valid types: " + ", ".join(names)
    close = did_you_mean(str(tag), names)
    return Diagnostic(path + (("type",) if isinstance(node, dict) else ()), "unknown-type",
                      f'unknown {kind} type "{tag}"', f"{close}; {valid}" if close else valid)


def _missing_type(error: dict, path: Path, node: Any, parent: Any, root: type[Component]) -> Diagnostic:
    kind = _union_kind(path)
    return Diagnostic(path, "missing-type", f'this {kind} has no "type"',
                      'add "type": one of ' + ", ".join(REGISTRY.names(kind)))


def _not_an_object(error: dict, path: Path, node: Any, parent: Any, root: type[Component]) -> Diagnostic:
    return _wrong_type(path, "an object", node)


def _too_short(error: dict, path: Path, node: Any, parent: Any, root: type[Component]) -> Diagnostic:
    return Diagnostic(path, "empty-list", f"{_field(path)} must not be empty",
                      "add at least one layer" if path == ("layers",) else None)


def _too_long(error: dict, path: Path, node: Any, parent: Any, root: type[Component]) -> Diagnostic:
    limit = error["ctx"].get("max_length")
    return Diagnostic(path, "too-long", f"{_field(path)} is longer than {limit} characters")


def _too_many_items(error: dict, path: Path, node: Any, parent: Any, root: type[Component]) -> Diagnostic:
    limit, count = error["ctx"].get("max_length"), error["ctx"].get("actual_length")
    hint = "a shape has at most 3 axes, without the batch axis: [height, width, channels]" if path[-1:] == ("shape",) \
        else None
    return Diagnostic(path, "invalid-value", f"{_field(path)} has {count} entries, at most {limit} are allowed", hint)


def _too_short_string(error: dict, path: Path, node: Any, parent: Any, root: type[Component]) -> Diagnostic:
    least = error["ctx"].get("min_length")
    return Diagnostic(path, "invalid-value", f"{_field(path)} must not be empty" if least == 1 else
                      f"{_field(path)} must be at least {least} characters long, got {describe(node)}")


def _literal(error: dict, path: Path, node: Any, parent: Any, root: type[Component]) -> Diagnostic:
    expected = error["ctx"]["expected"]
    options = [o.strip().strip("'\"") for o in expected.replace(" or ", ", ").split(",")]
    return Diagnostic(path, "invalid-value",
                      f"{_field(path)} must be {expected.replace(chr(39), chr(34))}, got {describe(node)}",
                      did_you_mean(str(node), options) if isinstance(node, str) else None)


def _custom(error: dict, path: Path, node: Any, parent: Any, root: type[Component]) -> Diagnostic:
    return Diagnostic(path, "invalid-value", _plain(error["msg"]))


def _not_here(error: dict, path: Path, node: Any, parent: Any, root: type[Component]) -> Diagnostic:
    """A key a section lists only to refuse it: ``validation`` inside ``data.validation``."""
    return Diagnostic(path, "unknown-key", f'"{path[-1]}" cannot be set in {format_path(path[:-1])}',
                      "data.validation gives the validation rows; it has no validation section of its own"
                      if path[-1] == "validation" else None)


def _unknown_schedule(error: dict, path: Path, node: Any, parent: Any, root: type[Component]) -> Diagnostic:
    names = ", ".join(SCHEDULES)
    if not isinstance(node, dict):
        return Diagnostic(path, "wrong-type", f"schedule must be an object, got {describe(node)}",
                          '{"type": "step", "step_size": 10}; valid types: ' + names)
    if "type" not in node:
        return Diagnostic(path, "missing-type", 'this schedule has no "type"', f'add "type": one of {names}')
    close = did_you_mean(str(node["type"]), SCHEDULES)
    return Diagnostic(path + ("type",), "unknown-type", f"unknown schedule type {describe(node['type'])}",
                      f"{close}; valid types: {names}" if close else f"valid types: {names}")


def _unknown_dataset(error: dict, path: Path, node: Any, parent: Any, root: type[Component]) -> Diagnostic:
    valid = "use one of " + ", ".join(DATASETS) + ', or {"path": FILE}'
    if not isinstance(node, dict):
        return Diagnostic(path, "wrong-type", f"{_field(path)} must be an object, got {describe(node)}",
                          '{"dataset": "spiral"} or {"path": "data.csv"}')
    name = node.get("dataset")
    close = did_you_mean(str(name), DATASETS)
    return Diagnostic(path + ("dataset",), "unknown-dataset", f"unknown dataset {describe(name)}",
                      f"{close}; {valid}" if close else valid)


def _finite(error: dict, path: Path, node: Any, parent: Any, root: type[Component]) -> Diagnostic:
    return Diagnostic(path, "invalid-value", f"{_field(path)} must be a finite number, got {describe(node)}")


_HANDLERS = {
    "extra_forbidden": _unknown_key,
    "missing": _missing,
    "union_tag_invalid": _unknown_type,
    "union_tag_not_found": _missing_type,
    "model_attributes_type": _not_an_object,
    "model_type": _not_an_object,
    "too_short": _too_short,
    "too_long": _too_many_items,
    "string_too_long": _too_long,
    "string_too_short": _too_short_string,
    "literal_error": _literal,
    "value_error": _custom,
    "assertion_error": _custom,
    "finite_number": _finite,
    "unknown-dataset": _unknown_dataset,
    "unknown-schedule": _unknown_schedule,
    "none_required": _not_here,
}


def _drop_noise(found: list[Diagnostic]) -> list[Diagnostic]:
    """Pydantic reports a list as "too short" when items inside it failed: keep
    only the item errors then, and report each path and code once. A data
    section with neither "dataset" nor "path" has no known keys: only that is
    reported. A value of a union (``3`` or ``[3, 3]``) that has the type of
    one member and fails inside it is not also of the wrong type for the other."""
    seen, kept = set(), []
    kindless_data = any(d.code == "missing-key" and d.path == ("data", "dataset") for d in found)
    for d in found:
        inner = any(o.path[: len(d.path)] == d.path and len(o.path) > len(d.path) for o in found)
        if d.code == "empty-list" and inner:
            continue
        if d.code == "wrong-type" and (inner or any(o.path == d.path and o.code != "wrong-type" for o in found)):
            continue
        if kindless_data and d.code == "unknown-key" and d.path[:-1] == ("data",):
            continue
        if (d.path, d.code) not in seen:
            seen.add((d.path, d.code))
            kept.append(d)
    return kept


def train_rules(spec: Spec) -> list[Diagnostic]:
    """Rules across fields of ``train`` and ``data``: early stopping and
    reduce_on_plateau must watch something measured, validation rows come
    from one place, class weights need classes."""
    train = spec.train
    data = spec.data
    validation = data.validation if data is not None else None
    found = []
    if validation is not None:
        if train is not None and train.validation_split > 0:
            found.append(Diagnostic(("train", "validation_split"), "invalid-value",
                                    "validation_split holds out training rows, but data.validation already gives "
                                    "the validation rows", 'remove one: "validation_split" or data.validation'))
    if train is None:
        return found
    validated = train.validation_split > 0 or validation is not None
    for section in ("early_stopping", "schedule"):
        monitor = getattr(getattr(train, section), "monitor", None)
        if monitor is not None:
            found += _monitored(train, ("train", section, "monitor"), section, monitor, validated)
    if train.class_weight is not None and spec.loss is not None \
            and REGISTRY.get("loss", spec.loss.type).targets == "regression":
        found.append(Diagnostic(("train", "class_weight"), "invalid-value",
                                f"class_weight weighs classes, but {spec.loss.type} is a regression loss",
                                "remove class_weight, or weigh samples with fit(..., sample_weight=...)"))
    return found


def _monitored(train: Train, where: Path, section: str, monitor: str, validated: bool) -> list[Diagnostic]:
    """A monitored quantity must be measured: val_ ones on validation rows, metrics among ``train.metrics``."""
    if monitor.startswith("val_") and not validated:
        return [Diagnostic(where, "monitor-needs-validation",
                           f"{section} monitors {monitor} but validation_split is 0 and data has no validation",
                           'set "validation_split" (e.g. 0.2) or data.validation, or monitor a training quantity '
                           'such as "loss"')]
    metric = monitor.removeprefix("val_")
    if metric != "loss" and metric not in train.metrics:
        return [Diagnostic(where, "monitor-not-measured",
                           f"{section} monitors {monitor} but metrics does not include {metric}",
                           f'add "{metric}" to train.metrics')]
    return []


def spec_rules(spec: Spec) -> list[Diagnostic]:
    """The rules Pydantic cannot state, for a spec built in Python rather than checked from a tree."""
    return duplicate_names(list(spec.layers)) + train_rules(spec) + input_names(spec)


def input_names(spec: Spec) -> list[Diagnostic]:
    """In a network that names its inputs, no layer may have an input's name:
    references would not know which is meant. (A layer named ``input`` beside
    one unnamed input is refused by inference, if the network is a graph.)"""
    if not isinstance(spec.input, dict):
        return []
    return [Diagnostic(("layers", index, "name"), "duplicate-name",
                       f'layer name "{layer.name}" is already the name of an input ("input.{layer.name}")',
                       "give the layer another name")
            for index, layer in enumerate(spec.layers) if layer.__dict__.get("name") in spec.input]


def duplicate_names(layers: list[Any]) -> list[Diagnostic]:
    """Layer names given explicitly must be unique (checked on the raw list
    when checking a tree, so it is reported beside every other problem)."""
    first: dict[str, int] = {}
    found = []
    for index, layer in enumerate(layers):
        if type(layer) is dict:  # the common case, tested first: most layers are unnamed dicts
            if "name" not in layer:
                continue
            name = layer["name"]
        else:
            name = layer.get("name") if isinstance(layer, dict) else getattr(layer, "name", None)
        if not isinstance(name, str):
            continue
        if name in first:
            found.append(Diagnostic(("layers", index, "name"), "duplicate-name",
                                    f'layer name "{name}" is already used by layers[{first[name]}]',
                                    "give every layer a different name"))
        else:
            first[name] = index
    return found


# ---------------------------------------------------------------- wording helpers

def did_you_mean(word: str, options: Iterable[str]) -> str | None:
    """``did you mean "relu"?`` for the closest option, or None."""
    close = difflib.get_close_matches(word, list(options), n=1, cutoff=0.6)
    return f'did you mean "{close[0]}"?' if close else None


def describe(value: Any) -> str:
    """A short description of a received value: ``string "10"``, ``true``, ``3.0``."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, str):
        shown = value if len(value) <= 40 else value[:37] + "..."
        return f'string "{shown}"'
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, (list, tuple)):
        return "a list"
    return type(value).__name__


def _field(path: Path) -> str:
    """How a message names a field: from its last key on (``neurons``, ``metrics[1]``, ``layers[5]``)."""
    keys = [i for i, part in enumerate(path) if isinstance(part, str)]
    return format_path(path[keys[-1]:]) if keys else "the spec"


def _wrong_type(path: Path, expected: str, node: Any) -> Diagnostic:
    hint = None
    if isinstance(node, str) and expected in ("an integer", "a number"):
        hint = "write the number without quotes"
    elif isinstance(node, float) and expected == "an integer" and node.is_integer():
        hint = f"write {int(node)} without a decimal point"
    return Diagnostic(path, "wrong-type", f"{_field(path)} must be {expected}, got {describe(node)}", hint)


def _plain(message: str) -> str:
    return message.removeprefix("Value error, ").removeprefix("Assertion failed, ")


def _union_kind(path: Path) -> str:
    last = next((p for p in reversed(path) if isinstance(p, str)), "layers")
    return _UNION_KINDS.get(last, "layer")


def _model_at(path: Path, node: Any, root: type[Component]) -> type[Component] | None:
    """The parameter model that validates the object ``node`` found at ``path``
    below a ``root`` model."""
    if root is not Spec:
        return root if path == () else None
    if path in _SECTIONS:
        return _SECTIONS[path]
    if path in (("data",), ("data", "validation")):
        return _DATA_MODELS.get(data_tag(node), GateData)
    if path == ("train", "schedule"):
        return SCHEDULES.get(node.get("type")) if isinstance(node, dict) else None
    if isinstance(node, dict) and isinstance(node.get("type"), str):
        entry = REGISTRY.get(_union_kind(path), node["type"])
        return entry.params if entry else None
    return None


def _allowed_keys(path: Path, node: Any, root: type[Component]) -> list[str]:
    model = _model_at(path, node, root)
    if model is None:
        return []
    return [f.alias or name for name, f in model.model_fields.items()]


def _owner(path: Path, node: Any, root: type[Component]) -> str:
    """How a message names the object at ``path``: ``dense layer``, ``input``, ``the spec``."""
    if path == () and root is not Spec:
        tag = getattr(root.model_fields.get("type"), "default", None)
        return f"{tag} {root.kind}" if tag else root.__name__
    if path == ():
        return "the spec"
    if path == ("train", "schedule") and isinstance(node, dict):
        return f'{node.get("type")} schedule'
    if isinstance(node, dict) and isinstance(node.get("type"), str):
        return f'{node["type"]} {_union_kind(path)}'
    return _field(path)


def _missing_hint(key: str, parent: Any) -> str | None:
    if key == "neurons":
        return 'add "neurons": the number of outputs of this layer'
    if key == "features":
        return 'add "features": the number of columns in your data'
    if key in ("input", "layers"):
        return {"input": 'add "input": {"features": N}', "layers": 'add "layers": [...]'}[key]
    return None


STAGES.diagnose = diagnostics_from  # the builder API converts Pydantic's errors as check does
