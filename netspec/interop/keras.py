"""Keras: a model's config becomes a netspec spec, and its weights a pipeline's.

:func:`from_keras` reads a Keras model config: the JSON ``model.to_json()``
writes (a ``.json`` file, JSON text or the dict), or the config inside a
``.keras`` archive or a full-model ``.h5`` file. :func:`from_keras_model` also
loads the weights: from the same ``.keras``/``.h5`` file, or from
``weights=``, a Keras 3 ``.weights.h5`` or a tf.keras ``.h5`` weights file
(h5py reads them; nothing else of Keras is needed, nor imported).

Formats: Keras 3 (``module``, ``class_name``, ``config``, ``registered_name``;
``InputLayer`` with ``batch_shape``; ``DTypePolicy`` dtypes; ``build_config``),
tf.keras 2.x (``batch_input_shape``, a ``config`` holding ``layers``) and
Keras 2.0.x (a Sequential's ``config`` being the bare list of layers);
Sequential and Functional models.

Every option of every layer is either translated or checked to be the one
netspec's layer has; anything netspec cannot express is a diagnostic whose
path points into the Keras config (``config.layers[3].config.groups``),
saying what is not supported and what is. Every problem is reported at once,
as an :class:`~netspec.errors.InteropError`; the spec is then checked and
inferred like a written one, its problems located in the Keras file too.
Keras axes count the batch axis and netspec's do not: ``Concatenate(axis=1)``
on (batch, features) is netspec's axis 0.

Names are kept: a Keras layer ``dense_1`` is the netspec layer ``dense_1``,
with its activation as the ``activation`` shorthand. ``HeNormal`` becomes
``he_normal``, which draws untruncated (Keras truncates at two standard
deviations); that matters only for freshly drawn weights. Execution settings
of ``compile()`` (``run_eagerly``, ``jit_compile``, ``steps_per_execution``)
have no meaning in netspec and are not read.
"""

from __future__ import annotations

import io
import json
import os
import re
import struct
import zipfile
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

from ..errors import Diagnostic, InteropError, Path, SpecError

_HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"
_ZIP_MAGIC = b"PK\x03\x04"
_MISSING = object()


# ---------------------------------------------------------------- the source

@dataclass
class KerasSource:
    """A Keras model as read: its config, where it came from, and its weights when the file holds them.

    ``document`` locates paths in JSON text (None for a dict or a config
    inside an archive); ``training`` is ``(compile or training config, its
    path)`` when the model was compiled; ``weights`` opens the embedded
    weights as a :class:`Weights`."""

    config: Any
    file: str | None = None
    document: Any = None
    training: tuple[Any, Path] | None = None
    weights: Callable[[], "Weights"] | None = None


def read_source(source: Any) -> KerasSource:
    """A :class:`KerasSource` from a dict, JSON text, or a path to a ``.json``,
    ``.keras`` or ``.h5`` file; :class:`InteropError` (``not-a-model``) when it is none of them."""
    if isinstance(source, dict):
        return _from_tree(source, None, None)
    if isinstance(source, (bytes, bytearray)):
        source = bytes(source).decode("utf-8", errors="replace")
    if isinstance(source, str) and source.lstrip().startswith("{"):
        return _from_text(source, None)
    if not isinstance(source, (str, os.PathLike)):
        raise _not_a_model(None, f"cannot read a Keras model from {type(source).__name__}",
                           "pass a path to a .json, .keras or .h5 file, JSON text, or the dict of model.to_json()")
    return _from_file(os.fspath(source))


def _from_file(path: str) -> KerasSource:
    try:
        with open(path, "rb") as stream:
            head = stream.read(8)
    except FileNotFoundError:
        raise _not_a_model(path, f"no such file: {path}") from None
    except OSError as exc:
        raise _not_a_model(path, f"cannot read {path}: {exc.strerror or exc}") from None
    if head.startswith(_ZIP_MAGIC):
        return _from_archive(path)
    if head.startswith(_HDF5_MAGIC):
        return _from_h5(path)
    try:
        with open(path, encoding="utf-8") as stream:
            text = stream.read()
    except UnicodeDecodeError:
        raise _not_a_model(path, f"{path} is neither JSON text, a .keras archive nor an HDF5 file") from None
    return _from_text(text, path)


def _from_text(text: str, file: str | None) -> KerasSource:
    from ..read import read

    try:
        document = read(text)
    except SpecError as exc:  # JSON syntax, duplicate keys, NaN: as a spec's, located in the file
        raise InteropError([d.located(d.line, d.column, file) for d in exc.errors], _doing(file)) from None
    return _from_tree(document.tree, file, document)


def _from_tree(tree: Any, file: str | None, document: Any) -> KerasSource:
    training = (tree["compile_config"], ("compile_config",)) if isinstance(tree, dict) and \
        isinstance(tree.get("compile_config"), dict) else None
    return KerasSource(tree, file, document, training)


def _from_archive(path: str) -> KerasSource:
    """A Keras 3 ``.keras`` archive: ``config.json`` and ``model.weights.h5``."""
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
            if "config.json" not in names:
                raise _not_a_model(path, f"{path} is a zip archive without config.json, so not a .keras model",
                                   "save the model with model.save('model.keras') (Keras 3)")
            config = json.loads(archive.read("config.json").decode("utf-8"))
            weights = archive.read("model.weights.h5") if "model.weights.h5" in names else None
    except (zipfile.BadZipFile, json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise _not_a_model(path, f"{path} is a damaged .keras archive ({exc})") from None
    source = _from_tree(config, path, None)
    if weights is not None:
        source.weights = lambda: Weights.read(io.BytesIO(weights), f"{path}/model.weights.h5")
    return source


def _from_h5(path: str) -> KerasSource:
    """A full-model HDF5 file (``model.save('model.h5')``): attributes ``model_config``
    and ``training_config``, weights in ``model_weights``."""
    h5py = _h5py(path)
    try:
        with h5py.File(path, "r") as f:
            config = f.attrs.get("model_config")
            training = f.attrs.get("training_config")
            weights_only = "layer_names" in f.attrs or "layers" in f or "model_weights" not in f
    except OSError as exc:
        raise _not_a_model(path, f"{path} is a damaged HDF5 file ({exc})") from None
    if config is None:
        raise _not_a_model(path, f"{path} holds weights but no model config" if weights_only else
                           f"{path} is an HDF5 file without a Keras model config",
                           "give the model's config (model.to_json(), or a .keras or full-model .h5 file) "
                           "and this file as the weights")
    try:
        tree = json.loads(_text(config))
        training_tree = json.loads(_text(training)) if training is not None else None
    except json.JSONDecodeError as exc:
        raise _not_a_model(path, f"{path}: its model_config attribute is not JSON ({exc})") from None
    source = KerasSource(tree, path, None, (training_tree, ("training_config",)) if training_tree else None)
    source.weights = lambda: Weights.read(path, path)
    return source


def _text(value: Any) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


def _h5py(where: str) -> Any:
    try:
        import h5py
    except ImportError:
        raise InteropError([Diagnostic((), "not-a-model", f"{where} is an HDF5 file, and reading one needs h5py",
                                       "pip install 'netspec[keras]' (or h5py)", file=where)],
                           _doing(where)) from None
    return h5py


def _doing(file: str | None) -> str:
    return f"cannot import {file}" if file else "cannot import the Keras model"


def _not_a_model(file: str | None, message: str, hint: str | None = None) -> InteropError:
    return InteropError([Diagnostic((), "not-a-model", message, hint, file=file)], _doing(file))


# ---------------------------------------------------------------- weights files

@dataclass
class Weights:
    """The arrays of a Keras weights file, each with its path in the file, in
    the order Keras lists a layer's weights (kernel, bias; gamma, beta, moving
    mean and variance).

    ``layout`` ``keras3`` (``.weights.h5``, ``.keras``): ``layers`` maps the
    file's keys (``dense``, ``dense_1``..., by class and position in the
    model) to arrays; ``legacy`` (tf.keras 2, Keras 2.0 and the ``.h5``
    format): ``layers`` maps layer names to arrays, in the file's order.
    Keras loads both by position, not by name, and so does netspec."""

    file: str
    layout: str
    layers: dict[str, list[tuple[str, Any]]] = field(default_factory=dict)

    @classmethod
    def read(cls, source: Any, file: str) -> "Weights":
        h5py = _h5py(file)
        try:
            with h5py.File(source, "r") as f:
                root = f["model_weights"] if "model_weights" in f else f
                if "layer_names" in root.attrs:
                    return cls._legacy(root, file)
                if "layers" in root:
                    return cls._keras3(root["layers"], file)
        except (OSError, KeyError, ValueError, TypeError) as exc:
            raise _not_a_model(file, f"{file} is not a readable Keras weights file ({exc})") from None
        raise _not_a_model(file, f"{file} is an HDF5 file but not a Keras weights file "
                                 "(it has neither layer_names nor a layers group)")

    @classmethod
    def _legacy(cls, root: Any, file: str) -> "Weights":
        weights = cls(file, "legacy")
        for name in map(_text, root.attrs["layer_names"]):
            group = root[name]
            names = [_text(n) for n in group.attrs.get("weight_names", [])]
            weights.layers[name] = [(f"{group.name}/{n}".lstrip("/"), group[n][()]) for n in names]
        return weights

    @classmethod
    def _keras3(cls, layers: Any, file: str) -> "Weights":
        weights = cls(file, "keras3")
        for key in layers:
            variables = layers[key].get("vars")
            if variables is not None:
                weights.layers[key] = [(f"layers/{key}/vars/{i}", variables[str(i)][()]) for i in range(len(variables))]
        return weights


def _snake_case(name: str) -> str:
    """Keras's key for an object of class ``name`` in a weights file: ``MaxPooling2D`` → ``max_pooling2d``."""
    name = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", name).lower()


# ---------------------------------------------------------------- one layer's options

class Options:
    """The ``config`` of one Keras layer, read option by option. Every option
    read is recorded; :meth:`finish` reports the ones nobody read (unless
    they are null or false, a feature not in use), so none is dropped silently."""

    def __init__(self, config: dict, at: Path, kind: str, problems: list[Diagnostic]):
        self.config, self.at, self.kind, self.problems = config, at, kind, problems
        self.read: set[str] = {"name"}
        self.last_axis: int | None = None  # a positive axis a normalization names, checked after inference

    def get(self, key: str, default: Any = None) -> Any:
        self.read.add(key)
        return self.config.get(key, default)

    def has(self, key: str) -> bool:
        return key in self.config

    def _problem(self, key: str | None, message: str, hint: str | None = None,
               code: str = "unsupported-option") -> None:
        where = self.at + ("config", key) if key is not None else self.at
        self.problems.append(Diagnostic(where, code, message, hint))

    def expect(self, key: str, allowed: Iterable[Any], what: str, hint: str | None = None) -> Any:
        """The option, when it is one of ``allowed`` (or absent); refused otherwise."""
        allowed = list(allowed)
        value = self.get(key, allowed[0])
        if value not in allowed:
            self._problem(key, f"{self.kind} {key}={_show(value)}: {what}", hint)
        return value

    def integer(self, key: str, default: Any = _MISSING, *, minimum: int = 1, many: bool = False) -> Any:
        """A whole number of at least ``minimum`` (or, with ``many``, a list of them: sizes)."""
        value = self.get(key, default)
        if value is _MISSING:
            self._problem(key, f"{self.kind} needs {key}, which this config does not give", code="not-a-model")
            return None
        parts = value if isinstance(value, list) and many else [value]
        if not parts or not all(isinstance(v, int) and not isinstance(v, bool) and v >= minimum for v in parts):
            self._problem(key, f"{self.kind} {key}={_show(value)}: expected whole numbers of at least {minimum}",
                        code="not-a-model")
            return None
        return value

    def number(self, key: str, default: Any) -> Any:
        value = self.get(key, default)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            self._problem(key, f"{self.kind} {key}={_show(value)}: expected a number", code="not-a-model")
            return default
        return value

    def finish(self) -> None:
        for key, value in self.config.items():
            if key not in self.read and value is not None and value is not False:
                self._problem(key, f"{self.kind} option {key}={_show(value)} is not one netspec reads",
                            f"netspec reads {', '.join(sorted(self.read - {'name'}))} of {self.kind}")


def _show(value: Any) -> str:
    """A config value as it reads in a message: a serialized object as its class, JSON otherwise."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and isinstance(value.get("class_name"), str):
        return value["class_name"]
    text = json.dumps(value)
    return text if len(text) <= 80 else text[:79] + "…"


# ---------------------------------------------------------------- translating layers

_ACTIVATIONS = {"relu": "relu", "sigmoid": "sigmoid", "tanh": "tanh", "softmax": "softmax", "linear": None,
                "elu": "elu", "leaky_relu": {"type": "leaky_relu", "alpha": 0.2}}


def _object(value: Any) -> tuple[str | None, dict]:
    """A serialized Keras object, a name or ``{"class_name": ..., "config": {...}}``,
    as ``(class name, config)``; ``(None, {})`` when it is neither."""
    if isinstance(value, str):
        return value, {}
    if isinstance(value, dict) and isinstance(value.get("class_name"), str):
        config = value.get("config")
        return value["class_name"], config if isinstance(config, dict) else {}
    return None, {}


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _activation(options: Options, key: str = "activation") -> tuple[bool, Any]:
    """``(ok, netspec activation or None for linear)`` of the activation option."""
    value = options.get(key, "linear")
    if isinstance(value, dict) and value.get("class_name") == "function":  # Keras 3's serialized functions
        value = value.get("config")
    if value is None:
        value = "linear"
    if isinstance(value, str) and value in _ACTIVATIONS:
        return True, _ACTIVATIONS[value]
    options._problem(key, f"{options.kind} activation {_show(value)} has no netspec equivalent",
                   f"netspec has {', '.join(_ACTIVATIONS)}")
    return False, None


def _float32_rounded(value: float) -> float:
    """The shortest decimal of a number Keras kept in float32 (``0.009999999776482582`` → ``0.01``)."""
    if not isinstance(value, float) or value == 0:
        return value
    single = struct.unpack("f", struct.pack("f", value))[0]
    if single != value:
        return value
    for digits in range(1, 10):
        shorter = float(f"{value:.{digits}g}")
        if struct.unpack("f", struct.pack("f", shorter))[0] == single:
            return shorter
    return value


def _initializer(options: Options, key: str) -> tuple[bool, Any]:
    """``(ok, netspec initializer or None for the default glorot_uniform)``."""
    value = options.get(key)
    if value is None:
        return True, None
    name, config = _object(value)
    at = options.at + ("config", key)
    if name is None:
        options.problems.append(Diagnostic(at, "not-a-model", f"cannot read {options.kind} {key} {_show(value)}"))
        return False, None
    if config.get("seed") is not None:
        options.problems.append(Diagnostic(at + ("config", "seed"), "unsupported-option",
                                           f"{options.kind} {key} has its own seed ({config['seed']})",
                                           "netspec draws every initialiser from the spec's one seed; "
                                           "set seed to null in the Keras config"))
        return False, None
    extra = set(config) - {"seed", "input_axes", "output_axes", "minval", "maxval", "mean", "stddev", "scale", "mode",
                           "distribution", "dtype"}
    if extra or any(config.get(k) is not None for k in ("input_axes", "output_axes")):
        options.problems.append(Diagnostic(at, "unsupported-option",
                                           f"{options.kind} {key} {name} has options netspec does not know: "
                                           f"{', '.join(sorted(extra)) or 'input_axes, output_axes'}"))
        return False, None
    found = _INITIALIZERS.get(_snake_case(name or "").replace("_", ""))
    init = found(config) if found is not None else None
    if init is _MISSING or found is None:
        supported = "GlorotUniform, HeNormal, RandomUniform, RandomNormal, Zeros, and VarianceScaling as one of them"
        options.problems.append(Diagnostic(at, "unsupported-option",
                                           f"{options.kind} {key} {name}{_scaling(config)} has no netspec equivalent",
                                           f"netspec has {supported}"))
        return False, None
    return True, init


def _scaling(config: dict) -> str:
    keys = ("scale", "mode", "distribution")
    return f" ({', '.join(f'{k}={config[k]}' for k in keys if k in config)})" if any(k in config for k in keys) else ""


def _variance_scaling(config: dict) -> Any:
    scale = config.get("scale", 1.0)
    if not _is_number(scale):
        return _MISSING
    form = (float(scale), config.get("mode", "fan_in"), config.get("distribution", "truncated_normal"))
    if form == (1.0, "fan_avg", "uniform"):
        return None
    if form[:2] == (2.0, "fan_in") and form[2] in ("truncated_normal", "normal", "untruncated_normal"):
        return "he_normal"
    return _MISSING


_INITIALIZERS: dict[str, Callable[[dict], Any]] = {
    "glorotuniform": lambda c: None,
    "henormal": lambda c: "he_normal",
    "zeros": lambda c: "zeros",
    "randomuniform": lambda c: {"type": "uniform", "low": c.get("minval", -0.05), "high": c.get("maxval", 0.05)},
    "randomnormal": lambda c: {"type": "normal", "mean": c.get("mean", 0.0), "std": c.get("stddev", 0.05)},
    "variancescaling": _variance_scaling,
}


def _zeros(options: Options, key: str) -> None:
    """A bias, beta or moving-mean initialiser: netspec's are zeros."""
    _fixed_init(options, key, "zeros")


def _fixed_init(options: Options, key: str, name: str) -> None:
    value = options.get(key)
    if value is None:
        return
    kind, _ = _object(value)
    if kind is None or _snake_case(kind).replace("_", "") != name:
        options._problem(key, f"{options.kind} {key} is {kind}, but netspec starts it at {name}",
                       f"netspec's {key.replace('_initializer', '')} starts at {name}")


def _no(options: Options, *keys: str, why: str = "netspec has no such thing") -> None:
    """Options that must be absent (null)."""
    for key in keys:
        value = options.get(key)
        if value is not None:
            options._problem(key, f"{options.kind} {key}={_show(value)}: {why}", f"set {key} to null in the Keras config")


def _regularizer(options: Options, key: str, layer: dict, field_name: str) -> None:
    value = options.get(key)
    if value is None:
        return
    name, config = _object(value)
    known = {"l1": {"l1": config.get("l1", 0.01)}, "l2": {"l2": config.get("l2", 0.01)},
             "l1l2": {"l1": config.get("l1", 0.0), "l2": config.get("l2", 0.0)}}.get((name or "").lower().replace("_", ""))
    if known is None or set(config) - {"l1", "l2"} or not all(_is_number(v) for v in known.values()):
        options._problem(key, f"{options.kind} {key} {_show(value)} has no netspec equivalent", "netspec has L1, L2 and L1L2")
        return
    layer[field_name] = {k: _float32_rounded(float(v)) for k, v in known.items() if v}


def _common(options: Options) -> None:
    """What every layer may say: trainable (netspec trains every layer)."""
    if options.get("trainable", True) is not True:
        options._problem("trainable", f"{options.kind} is frozen (trainable=false), and netspec trains every layer",
                       "set trainable to true, or train this network in Keras")


def _dense(options: Options) -> dict | None:
    layer: dict[str, Any] = {"type": "dense", "neurons": options.integer("units")}
    _kernel(options, layer)
    return layer


def _kernel(options: Options, layer: dict) -> None:
    """The options dense and convolutions share: activation, bias, initialisers, regularizers, constraints."""
    ok, activation = _activation(options)
    if activation is not None:
        layer["activation"] = activation
    if options.get("use_bias", True) is False:
        layer["bias"] = False
    ok, init = _initializer(options, "kernel_initializer")
    if init is not None:
        layer["init"] = init
    _zeros(options, "bias_initializer")
    _regularizer(options, "kernel_regularizer", layer, "regularizer")
    _regularizer(options, "bias_regularizer", layer, "bias_regularizer")
    _no(options, "activity_regularizer", why="netspec has no penalty on a layer's outputs")
    _no(options, "kernel_constraint", "bias_constraint", why="netspec has no weight constraints")
    _no(options, "lora_rank", "quantization_config", why="netspec has no low-rank or quantized layers")
    options.get("lora_alpha")


def _channels_last(options: Options) -> None:
    options.expect("data_format", [None, "channels_last"], "netspec is channels-last",
                   "rebuild the model with data_format='channels_last' (the default)")


def _size(value: Any, rank: int) -> Any:
    """A Keras size (an int or a list) as netspec writes it: an int when every axis has the same."""
    parts = value if isinstance(value, list) else [value] * rank
    return parts[0] if len(set(parts)) == 1 else parts


def _conv(rank: int) -> Callable[[Options], dict | None]:
    def translate(options: Options) -> dict | None:
        layer: dict[str, Any] = {"type": f"conv{rank}d", "filters": options.integer("filters"),
                                 "kernel_size": _size(options.integer("kernel_size", many=True), rank)}
        strides = options.integer("strides", 1, many=True)
        dilation = options.integer("dilation_rate", 1, many=True)
        if strides is not None and _size(strides, rank) != 1:
            layer["strides"] = _size(strides, rank)
        if dilation is not None and _size(dilation, rank) != 1:
            layer["dilation"] = _size(dilation, rank)
        padding = options.expect("padding", ["valid", "same"], "netspec pads valid or same",
                                 "causal padding is same padding at the start only; netspec has valid and same")
        if padding == "same":
            layer["padding"] = "same"
        _channels_last(options)
        options.expect("groups", [1], "netspec convolves every input channel with every filter (groups=1)")
        _kernel(options, layer)
        return layer

    return translate


def _pool(kind: str, rank: int) -> Callable[[Options], dict | None]:
    def translate(options: Options) -> dict | None:
        pool = options.integer("pool_size", 2, many=True)
        layer: dict[str, Any] = {"type": f"{kind}_pool{rank}d"}
        if pool is not None and _size(pool, rank) != 2:
            layer["pool_size"] = _size(pool, rank)
        strides = options.integer("strides", None, many=True) if options.get("strides") is not None else None
        if strides is not None and _size(strides, rank) != _size(pool, rank):
            layer["strides"] = _size(strides, rank)
        if options.expect("padding", ["valid", "same"], "netspec pads valid or same") == "same":
            layer["padding"] = "same"
        _channels_last(options)
        return layer

    return translate


def _global_pool(kind: str) -> Callable[[Options], dict | None]:
    def translate(options: Options) -> dict | None:
        _channels_last(options)
        options.expect("keepdims", [False], "netspec's global pooling drops the spatial axes",
                       "set keepdims to false (then add a reshape if the axes are needed)")
        return {"type": f"global_{kind}_pool"}

    return translate


def _flatten(options: Options) -> dict | None:
    _channels_last(options)
    return {"type": "flatten"}


def _reshape(options: Options) -> dict | None:
    shape = options.get("target_shape")
    if not isinstance(shape, list) or not all(isinstance(v, int) and not isinstance(v, bool) for v in shape):
        options._problem("target_shape", f"Reshape target_shape={_show(shape)}: expected a list of sizes",
                       code="not-a-model")
        return None
    return {"type": "reshape", "shape": shape}


def _activation_layer(options: Options) -> dict | None:
    ok, activation = _activation(options)
    if not ok:
        return None
    return activation if isinstance(activation, dict) else {"type": activation or "linear"}


def _relu(options: Options) -> dict | None:
    _no(options, "max_value", why="netspec's relu has no ceiling")
    if options.number("threshold", 0.0) != 0:
        options._problem("threshold", f"ReLU threshold={options.config['threshold']}: netspec's relu is at 0")
    slope = options.number("negative_slope", 0.0)
    return {"type": "leaky_relu", "alpha": slope} if slope else {"type": "relu"}


def _leaky_relu(options: Options) -> dict | None:
    key = "negative_slope" if options.has("negative_slope") else "alpha"
    return {"type": "leaky_relu", "alpha": options.number(key, 0.3)}


def _elu(options: Options) -> dict | None:
    alpha = options.number("alpha", 1.0)
    return {"type": "elu", **({"alpha": alpha} if alpha != 1.0 else {})}


def _softmax(options: Options) -> dict | None:
    options.expect("axis", [-1, [-1]], "netspec's softmax is over the last axis")
    return {"type": "softmax"}


def _dropout(options: Options) -> dict | None:
    _no(options, "noise_shape", why="netspec drops every value independently")
    _no(options, "seed", why="netspec draws dropout's masks from the spec's one seed")
    return {"type": "dropout", "rate": options.number("rate", 0.5)}


def _last_axis(options: Options) -> None:
    """A normalization's axis: the last (netspec normalises the channels). A
    positive one (tf.keras writes ``[3]``) is checked once shapes are inferred."""
    value = options.get("axis", -1)
    axes = value if isinstance(value, list) else [value]
    if len(axes) == 1 and isinstance(axes[0], int) and axes[0] > 0:
        options.last_axis = axes[0]
    elif axes != [-1]:
        options._problem("axis", f"{options.kind} axis={_show(value)}: netspec normalises the last axis (the channels)")


def _center_and_scale(options: Options, layer: dict) -> None:
    for key in ("center", "scale"):
        if options.get(key, True) is False:
            layer[key] = False
    _zeros(options, "beta_initializer")
    _fixed_init(options, "gamma_initializer", "ones")
    _no(options, "beta_regularizer", "gamma_regularizer", why="netspec has no penalty on gamma or beta")
    _no(options, "beta_constraint", "gamma_constraint", why="netspec has no weight constraints")


def _batch_norm(options: Options) -> dict | None:
    layer: dict[str, Any] = {"type": "batch_norm"}
    _last_axis(options)
    for key, default in (("momentum", 0.99), ("epsilon", 1e-3)):
        value = options.number(key, default)
        if value != default:
            layer[key] = _float32_rounded(value)
    _center_and_scale(options, layer)
    _zeros(options, "moving_mean_initializer")
    _fixed_init(options, "moving_variance_initializer", "ones")
    for key in ("renorm", "synchronized"):
        options.expect(key, [False], f"netspec's batch normalization has no {key}")
    options.get("renorm_momentum")  # read by Keras only with renorm
    _no(options, "renorm_clipping", "adjustment", "virtual_batch_size", "fused",
        why="netspec's batch normalization has no such option")
    return layer


def _layer_norm(options: Options) -> dict | None:
    layer: dict[str, Any] = {"type": "layer_norm"}
    _last_axis(options)
    epsilon = options.number("epsilon", 1e-3)
    if epsilon != 1e-3:
        layer["epsilon"] = _float32_rounded(epsilon)
    _center_and_scale(options, layer)
    options.expect("rms_scaling", [False], "netspec's layer normalization centres (no RMS scaling)")
    return layer


def _merge(kind: str) -> Callable[[Options], dict | None]:
    def translate(options: Options) -> dict | None:
        return {"type": kind}

    return translate


def _concatenate(options: Options) -> dict | None:
    axis = options.integer("axis", -1, minimum=-100)
    if axis is None:
        return None
    if axis == 0:
        options._problem("axis", "Concatenate axis=0 joins along the batch axis, which netspec does not",
                       "join along a sample's axes: -1 (the features or channels) or 1 and above")
        return None
    layer: dict[str, Any] = {"type": "concatenate"}
    netspec_axis = axis if axis < 0 else axis - 1  # Keras counts the batch axis
    if netspec_axis != -1:
        layer["axis"] = netspec_axis
    return layer


# Keras class name -> translation of its config into a netspec layer (None when refused).
LAYERS: dict[str, Callable[[Options], dict | None]] = {
    "Dense": _dense,
    "Conv1D": _conv(1), "Convolution1D": _conv(1),
    "Conv2D": _conv(2), "Convolution2D": _conv(2),
    "MaxPooling1D": _pool("max", 1), "MaxPool1D": _pool("max", 1),
    "MaxPooling2D": _pool("max", 2), "MaxPool2D": _pool("max", 2),
    "AveragePooling1D": _pool("avg", 1), "AvgPool1D": _pool("avg", 1),
    "AveragePooling2D": _pool("avg", 2), "AvgPool2D": _pool("avg", 2),
    "GlobalAveragePooling1D": _global_pool("avg"), "GlobalAveragePooling2D": _global_pool("avg"),
    "GlobalAvgPool1D": _global_pool("avg"), "GlobalAvgPool2D": _global_pool("avg"),
    "GlobalMaxPooling1D": _global_pool("max"), "GlobalMaxPooling2D": _global_pool("max"),
    "GlobalMaxPool1D": _global_pool("max"), "GlobalMaxPool2D": _global_pool("max"),
    "Flatten": _flatten,
    "Reshape": _reshape,
    "Activation": _activation_layer,
    "ReLU": _relu,
    "LeakyReLU": _leaky_relu,
    "ELU": _elu,
    "Softmax": _softmax,
    "Dropout": _dropout,
    "BatchNormalization": _batch_norm,
    "LayerNormalization": _layer_norm,
    "Add": _merge("add"),
    "Multiply": _merge("multiply"),
    "Average": _merge("average"),
    "Concatenate": _concatenate,
}
_MERGES = {"Add", "Multiply", "Average", "Concatenate"}
_SHAPE_KEYS = ("batch_shape", "batch_input_shape", "input_shape", "input_dim")


# ---------------------------------------------------------------- models

@dataclass
class Imported:
    """A translated model: the spec tree, for each of its layers the Keras
    layer it came from (its path in the config, class and name), and the
    normalization axes to check against the inferred shapes."""

    tree: dict
    origins: list[tuple[Path, str, str]]
    last_axes: list[tuple[int, int, Path, str]] = field(default_factory=list)  # (layer, axis, where, kind)


class ModelReader:
    """Translates one Keras model config (see the module docstring), collecting every problem."""

    def __init__(self, source: KerasSource):
        self.source = source
        self.problems: list[Diagnostic] = []
        self.dtypes: list[tuple[str, Path]] = []

    def _problem(self, path: Path, code: str, message: str, hint: str | None = None) -> None:
        self.problems.append(Diagnostic(tuple(path), code, message, hint))

    def read(self) -> Imported:
        config = self.source.config
        if not isinstance(config, dict) or not (isinstance(config.get("class_name"), str) and "config" in config):
            raise self._refused([Diagnostic((), "not-a-model", "this is not a Keras model config: expected a JSON "
                                            'object with "class_name" and "config", as model.to_json() writes')])
        kind = config["class_name"]
        if kind == "Sequential":
            imported = self._sequential(config["config"])
        elif kind in ("Functional", "Model"):
            imported = self._functional(config["config"])
        else:
            raise self._refused([Diagnostic(("class_name",), "unsupported-structure",
                                            f"a {kind} model: netspec reads Sequential and Functional models",
                                            "a subclassed model has no config of its layers to read")])
        self._dtype(imported.tree)
        if self.source.training is not None:
            self._training(imported.tree, *self.source.training)
        if self.problems:
            raise self._refused(self.problems)
        return imported

    def _refused(self, problems: list[Diagnostic]) -> InteropError:
        return InteropError([self._locate(d) for d in problems], _doing(self.source.file), self.source.document)

    def _locate(self, diagnostic: Diagnostic) -> Diagnostic:
        if diagnostic.file is not None:
            return diagnostic
        if self.source.document is not None:
            diagnostic = self.source.document.locate(diagnostic)
        return diagnostic.located(diagnostic.line, diagnostic.column, self.source.file)

    # -- Sequential

    def _sequential(self, config: Any) -> Imported:
        if isinstance(config, list):  # Keras 2.0: the bare list of layers
            layers, at, name = config, ("config",), None
        elif isinstance(config, dict) and isinstance(config.get("layers"), list):
            layers, at, name = config["layers"], ("config", "layers"), config.get("name")
        else:
            raise self._refused([Diagnostic(("config",), "not-a-model", "a Sequential model's config holds no list of layers")])
        shape, imported, declared = None, Imported({}, []), False
        for index, layer in enumerate(layers):
            where = at + (index,)
            if not self._is_layer(layer, where):
                continue
            options = Options(layer["config"], where, layer["class_name"], self.problems)
            declared = declared or any(options.has(key) for key in _SHAPE_KEYS)
            found = self._input_shape(options)
            shape = shape if shape is not None else found
            if layer["class_name"] == "InputLayer":
                self._input_layer(options)
            else:
                self._add(imported, self._layer(layer["class_name"], options), options, layer["config"].get("name"))
        if shape is None and not declared:
            shape = self._build_shape(config)
        if shape is None and not declared:
            self._problem(at, "unsupported-structure", "the model has no input shape (it was never built)",
                         "give it one: keras.Input(shape=...) first, or build the model before saving it")
        imported.tree = {"netspec": "1", **({"name": name} if isinstance(name, str) else {}),
                         "input": {"shape": shape or [1]}, "layers": imported.tree.get("layers", [])}
        return imported

    def _add(self, imported: Imported, made: dict | None, options: Options, name: Any, **extra: Any) -> None:
        """Append a translated layer, named as the Keras layer is, remembering where it came from."""
        if made is None:
            return
        layers = imported.tree.setdefault("layers", [])
        if options.last_axis is not None:
            imported.last_axes.append((len(layers), options.last_axis, options.at + ("config", "axis"), options.kind))
        layers.append({**made, **({"name": name} if isinstance(name, str) else {}), **extra})
        imported.origins.append((options.at, options.kind, name))

    def _build_shape(self, config: Any) -> list[int] | None:
        """The input shape from ``build_input_shape`` or the top-level ``build_config``."""
        candidates = [config.get("build_input_shape") if isinstance(config, dict) else None,
                      (self.source.config.get("build_config") or {}).get("input_shape")]
        for candidate in candidates:
            if isinstance(candidate, list) and candidate:
                return self._batch_shape(candidate, ("config", "build_input_shape"))
        return None

    def _is_layer(self, layer: Any, where: Path) -> bool:
        if not (isinstance(layer, dict) and isinstance(layer.get("class_name"), str)
                and isinstance(layer.get("config"), dict)):
            self._problem(where, "not-a-model", 'expected a layer: an object with "class_name" and "config"')
            return False
        if layer["class_name"] in ("Sequential", "Functional", "Model"):
            self._problem(where, "unsupported-layer", f"a {layer['class_name']} model used as a layer",
                         "netspec reads flat models: build the model from its layers directly")
            return False
        return True

    def _input_shape(self, options: Options) -> list[int] | None:
        """A layer's declared input shape (batch_shape, batch_input_shape, input_shape or input_dim), or None."""
        for key in _SHAPE_KEYS[:2]:
            if options.has(key):
                return self._batch_shape(options.get(key), options.at + ("config", key))
        if options.has("input_shape"):
            value = options.get("input_shape")
            return self._batch_shape([None, *value] if isinstance(value, list) else value,
                                     options.at + ("config", "input_shape"))
        if options.has("input_dim"):
            return self._batch_shape([None, options.get("input_dim")], options.at + ("config", "input_dim"))
        return None

    def _batch_shape(self, value: Any, at: Path) -> list[int] | None:
        if not (isinstance(value, list) and len(value) >= 2):
            self._problem(at, "not-a-model", f"expected a shape with the batch axis first, got {_show(value)}")
            return None
        sizes = value[1:]
        if any(size is None for size in sizes):
            self._problem(at, "unsupported-structure",
                         f"the input shape {_show(value)} has a size left open (null), and netspec's sizes are fixed",
                         "give every axis but the batch a size")
            return None
        if not all(isinstance(s, int) and not isinstance(s, bool) and s > 0 for s in sizes) or len(sizes) > 3:
            self._problem(at, "unsupported-structure", f"the input shape {_show(value)} is not one netspec has",
                         "netspec's inputs are vectors, sequences (length, channels) and images (height, width, channels)")
            return None
        return list(sizes)

    def _input_layer(self, options: Options) -> None:
        self._dtype_of(options)
        for key in ("sparse", "ragged", "optional"):
            options.expect(key, [False], "netspec's inputs are dense arrays, always given")
        options.get("input_tensor")
        options.get("trainable")
        options.finish()

    def _layer(self, kind: str, options: Options) -> dict | None:
        translate = LAYERS.get(kind)
        if translate is None:
            self._problem(options.at + ("class_name",), "unsupported-layer", f"netspec has no {kind} layer",
                         f"netspec imports {', '.join(_importable())}")
            return None
        self._dtype_of(options)
        _common(options)
        made = translate(options)
        options.finish()
        return made

    def _dtype_of(self, options: Options) -> None:
        value = options.get("dtype")
        if value is None:
            return
        config = value.get("config") if isinstance(value, dict) else None
        name = config.get("name") if isinstance(config, dict) else value
        if not isinstance(name, str):
            options._problem("dtype", f"cannot read {options.kind} dtype {_show(value)}", code="not-a-model")
            return
        self.dtypes.append((name, options.at + ("config", "dtype")))

    def _dtype(self, tree: dict) -> None:
        """The spec's dtype: every layer's, which must be float32 or float64, and one of them."""
        seen = {}
        for name, at in self.dtypes:
            if name not in ("float32", "float64"):
                self._problem(at, "unsupported-option", f"dtype {name}: netspec computes in float32 or float64",
                             "use the float32 or float64 policy")
            seen.setdefault(name, at)
        floats = [name for name in seen if name in ("float32", "float64")]
        if len(floats) > 1:
            self._problem(seen[floats[1]], "unsupported-option",
                         f"layers compute in {' and '.join(floats)}, and a netspec network has one dtype",
                         "give every layer the same dtype policy")
        if floats:
            tree["dtype"] = floats[0]

    # -- Functional

    def _functional(self, config: Any) -> Imported:
        if not (isinstance(config, dict) and isinstance(config.get("layers"), list)):
            raise self._refused([Diagnostic(("config",), "not-a-model", "a Functional model's config holds no list of layers")])
        inputs = self._endpoints(config.get("input_layers"), ("config", "input_layers"))
        outputs = self._endpoints(config.get("output_layers"), ("config", "output_layers"))
        if len(outputs) != 1:
            self._problem(("config", "output_layers"), "unsupported-structure",
                         f"the model has {len(outputs)} outputs ({', '.join(outputs)}), and a netspec network has one")
        shapes, imported, reads = {}, Imported({}, []), {}
        for index, layer in enumerate(config["layers"]):
            where = ("config", "layers", index)
            if not self._is_layer(layer, where):
                continue
            name = layer.get("name", layer["config"].get("name"))
            if not isinstance(name, str):
                self._problem(where + ("name",), "not-a-model", f"a layer's name must be a string, got {_show(name)}")
                continue
            options = Options(layer["config"], where, layer["class_name"], self.problems)
            if layer["class_name"] == "InputLayer":
                shapes[name] = self._input_shape(options)
                self._input_layer(options)
                continue
            sources = reads[name] = self._inbound(layer.get("inbound_nodes"), where + ("inbound_nodes",), name)
            merge = layer["class_name"] in _MERGES
            if merge and len(sources) < 2:
                self._problem(where + ("inbound_nodes",), "unsupported-structure",
                             f"{layer['class_name']} {name!r} merges {len(sources)} input")
            self._add(imported, self._layer(layer["class_name"], options), options, name,
                      inputs=sources if merge else (sources[0] if sources else None))
        for name in inputs:
            if name not in shapes:
                self._problem(("config", "input_layers"), "not-a-model", f"input {name!r} is not an InputLayer of the model")
        layers = imported.tree.get("layers", [])
        tree: dict[str, Any] = {"netspec": "1", **({"name": config["name"]} if isinstance(config.get("name"), str) else {})}
        if self._as_chain(inputs, outputs, layers, reads):
            for layer in layers:
                layer.pop("inputs", None)
            tree["input"] = {"shape": shapes.get(inputs[0]) or [1]}
        else:
            tree["input"] = {name: {"shape": shapes.get(name) or [1]} for name in inputs if name in shapes}
            if outputs and layers and outputs[0] != layers[-1].get("name"):
                tree["output"] = outputs[0]
        tree["layers"] = layers
        imported.tree = tree
        return imported

    def _as_chain(self, inputs: list[str], outputs: list[str], layers: list[dict], reads: dict) -> bool:
        """Whether the model is a chain: one input, every layer reading the one before, the last the output."""
        if len(inputs) != 1 or len(outputs) != 1 or not layers or outputs[0] != layers[-1].get("name"):
            return False
        previous = inputs[0]
        for layer in layers:
            if "name" in layer:
                if reads.get(layer["name"]) != [previous]:
                    return False
                previous = layer["name"]
        return True

    def _endpoints(self, value: Any, at: Path) -> list[str]:
        """Layer names of ``input_layers`` / ``output_layers``: ``[name, 0, 0]`` or a list of them."""
        if isinstance(value, list) and len(value) == 3 and isinstance(value[0], str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(v, list) and v and isinstance(v[0], str) for v in value):
            self._problem(at, "not-a-model", f"expected [layer name, node, tensor] entries, got {_show(value)}")
            return []
        for k, entry in enumerate(value):
            if entry[1:3] != [0, 0]:
                self._problem(at + (k,), "unsupported-structure",
                             f"{entry[0]!r} is used through its call {entry[1]}, tensor {entry[2]}: "
                             "netspec's layers are called once and give one output")
        return [entry[0] for entry in value]

    def _inbound(self, nodes: Any, at: Path, name: str) -> list[str]:
        """The names of the layers a Functional layer reads, from either format of ``inbound_nodes``."""
        if not isinstance(nodes, list) or not nodes:
            self._problem(at, "unsupported-structure", f"layer {name!r} reads nothing")
            return []
        if len(nodes) > 1:
            self._problem(at, "unsupported-structure",
                         f"layer {name!r} is called {len(nodes)} times (a shared layer), and netspec's layers are called once",
                         "give each call a layer of its own")
            return []
        node = nodes[0]
        if isinstance(node, dict):  # Keras 3: {"args": [tensor or [tensors]], "kwargs": {...}}
            kwargs = node.get("kwargs") or {}
            if kwargs:
                passed = ", ".join(map(str, kwargs)) if isinstance(kwargs, dict) else _show(kwargs)
                self._problem(at + (0, "kwargs"), "unsupported-option",
                              f"layer {name!r} is called with {passed}, which netspec does not pass")
            args = node.get("args") or []
            tensors = args[0] if args and isinstance(args[0], list) else args
            tensors = tensors if isinstance(tensors, list) else [tensors]
            histories = [(t.get("config") or {}).get("keras_history") if isinstance(t, dict) and
                         isinstance(t.get("config") or {}, dict) else None for t in tensors]
        elif isinstance(node, list):  # tf.keras and Keras 2: [[name, node, tensor, kwargs], ...]
            histories = [entry[:3] if isinstance(entry, list) else None for entry in node]
            for k, entry in enumerate(node):
                if isinstance(entry, list) and len(entry) > 3 and isinstance(entry[3], dict) and entry[3]:
                    self._problem(at + (0, k), "unsupported-option",
                                 f"layer {name!r} is called with {', '.join(map(str, entry[3]))}, which netspec does not pass")
        else:
            histories = [None]
        sources = []
        for history in histories:
            if not (isinstance(history, list) and len(history) >= 3 and isinstance(history[0], str)):
                self._problem(at, "not-a-model", f"cannot read what layer {name!r} reads")
                return []
            if history[1:3] != [0, 0]:
                self._problem(at, "unsupported-structure",
                             f"layer {name!r} reads call {history[1]}, tensor {history[2]} of {history[0]!r}: "
                             "netspec's layers are called once and give one output")
            sources.append(history[0])
        return sources

    # -- compile() / training config

    def _training(self, tree: dict, config: dict, at: Path) -> None:
        optimizer = config.get("optimizer") if "optimizer" in config else config.get("optimizer_config")
        key = "optimizer" if "optimizer" in config else "optimizer_config"
        train: dict[str, Any] = {}
        if optimizer is not None:
            made = self._optimizer(optimizer, at + (key,))
            if made is not None:
                train["optimizer"] = made
        loss = config.get("loss")
        if loss is not None:
            made = self._loss(loss, at + ("loss",))
            if made is not None:
                tree["loss"] = made
        metrics = self._metrics(config.get("metrics"), at + ("metrics",))
        if metrics:
            train["metrics"] = metrics
        for key in ("loss_weights", "weighted_metrics", "sample_weight_mode"):
            if config.get(key) is not None:
                self._problem(at + (key,), "unsupported-option", f"compile {key}={_show(config[key])}: "
                             "netspec has one output, one loss and unweighted metrics")
        if train:
            tree["train"] = train

    def _optimizer(self, value: Any, at: Path) -> Any:
        name, config = _object(value)
        if name is None:
            self._problem(at, "not-a-model", f"cannot read the optimizer {_show(value)}")
            return None
        kind = _OPTIMIZERS.get(name.lower())
        if kind is None:
            self._problem(at + ("class_name",), "unsupported-option", f"netspec has no {name} optimizer",
                          "netspec has Adam, SGD, RMSprop, AdamW and Adagrad")
            return None
        options = Options(config, at, name, self.problems)
        made: dict[str, Any] = {"type": kind[0]}
        rate = options.get("learning_rate", options.get("lr", 0.001))
        if isinstance(rate, dict):
            options._problem("learning_rate", f"{name} learning_rate is a schedule ({_show(rate.get('class_name'))})",
                           "netspec's rate decays as 1/(1 + decay·t) (the optimizer's decay)")
        elif _is_number(rate):
            made["learning_rate"] = _float32_rounded(float(rate))
        elif rate is not None:
            options._problem("learning_rate", f"{name} learning_rate={_show(rate)}: expected a number", code="not-a-model")
        for keras_key, netspec_key in kind[1].items():
            if options.has(keras_key):
                value = options.get(keras_key)
                if isinstance(value, (int, float)) and not isinstance(value, bool):
                    value = _float32_rounded(float(value)) if keras_key != "nesterov" else value
                made[netspec_key] = value
        if made.get("decay") in (0, 0.0):
            made.pop("decay")
        if kind[0] == "sgd" and made.get("momentum"):
            made["momentum_buffer"] = "steps"  # Keras's v = μ·v − lr·g, w += v
        if kind[0] == "sgd" and not made.get("nesterov"):
            made.pop("nesterov", None)
        for key in ("amsgrad", "centered", "use_ema", "is_legacy_optimizer", "jit_compile"):
            options.expect(key, [False, None], f"netspec's {kind[0]} has no {key}")
        if kind[0] == "rmsprop":
            options.expect("momentum", [0, 0.0, None], "netspec's rmsprop has no momentum")
        for key in ("clipnorm", "clipvalue", "global_clipnorm", "weight_decay" if kind[0] != "adamw" else "",
                    "ema_overwrite_frequency", "loss_scale_factor", "gradient_accumulation_steps"):
            if key and options.get(key) is not None:
                options._problem(key, f"{name} {key}={_show(options.config[key])}: netspec's {kind[0]} has no {key}")
        options.get("ema_momentum")
        options.finish()
        return made

    def _loss(self, value: Any, at: Path) -> Any:
        name, config = _object(value)
        if name is None:
            self._problem(at, "unsupported-option", f"loss {_show(value)}: netspec has one loss for its one output")
            return None
        kind = _LOSSES.get(_snake_case(name))
        if kind is None:
            self._problem(at, "unsupported-option", f"netspec has no {name} loss",
                         "netspec has mse, mae, categorical_crossentropy (also for class indices, as "
                         "sparse_categorical_crossentropy) and binary_crossentropy")
            return None
        options = Options(config, at, name, self.problems)
        made: dict[str, Any] = {"type": kind}
        if options.get("from_logits", False):
            made["from_logits"] = True
        if options.number("label_smoothing", 0.0) != 0:
            options._problem("label_smoothing", f"{name} label_smoothing: netspec's losses have none")
        options.expect("reduction", ["sum_over_batch_size", "auto", None], "netspec's losses average over the batch")
        options.expect("axis", [-1], "netspec's losses compare along the last axis")
        options.get("ignore_class")
        options.get("dtype")
        if config.get("ignore_class") is not None:
            options._problem("ignore_class", f"{name} ignore_class: netspec's losses count every class")
        options.finish()
        return made if len(made) > 1 else kind

    def _metrics(self, value: Any, at: Path) -> list[str]:
        if value is None:
            return []
        entries = value if isinstance(value, list) else [value]
        if len(entries) == 1 and isinstance(entries[0], list):  # Keras 3: one list per output
            entries, at = entries[0], at + (0,)
        found = []
        for k, entry in enumerate(entries):
            kind, config = _object(entry)
            name = entry if isinstance(entry, str) else config.get("name")
            metric = _METRICS.get(name) if isinstance(name, str) else None
            if metric is None:
                self._problem(at + (k,), "unsupported-option", f"netspec has no {_show(name or entry)} metric",
                             "netspec measures accuracy and mae")
            elif metric not in found:
                found.append(metric)
        return found


def _importable() -> list[str]:
    """The Keras layers netspec imports, in their usual spelling."""
    return sorted(kind for kind in LAYERS if _canonical_name(kind))


def _canonical_name(kind: str) -> bool:
    """The names to list in hints: Keras's usual spelling, not its aliases."""
    return not kind.startswith(("Convolution", "MaxPool1", "MaxPool2", "AvgPool", "GlobalAvgPool", "GlobalMaxPool1",
                                "GlobalMaxPool2"))


# Keras optimizer -> (netspec optimizer, {Keras option: netspec option}).
_OPTIMIZERS = {
    "adam": ("adam", {"beta_1": "beta1", "beta_2": "beta2", "epsilon": "epsilon", "decay": "decay"}),
    "sgd": ("sgd", {"momentum": "momentum", "nesterov": "nesterov", "decay": "decay"}),
    "rmsprop": ("rmsprop", {"rho": "rho", "epsilon": "epsilon", "decay": "decay"}),
    "adamw": ("adamw", {"beta_1": "beta1", "beta_2": "beta2", "epsilon": "epsilon", "weight_decay": "weight_decay",
                        "decay": "decay"}),
    "adagrad": ("adagrad", {"initial_accumulator_value": "initial_accumulator_value", "epsilon": "epsilon",
                            "decay": "decay"}),
}
_LOSSES = {"mse": "mse", "mean_squared_error": "mse", "mae": "mae", "mean_absolute_error": "mae",
           "categorical_crossentropy": "categorical_crossentropy",
           "sparse_categorical_crossentropy": "categorical_crossentropy",
           "binary_crossentropy": "binary_crossentropy"}
_METRICS = {"accuracy": "accuracy", "acc": "accuracy", "categorical_accuracy": "accuracy",
            "sparse_categorical_accuracy": "accuracy", "binary_accuracy": "accuracy",
            "mae": "mae", "mean_absolute_error": "mae"}


# ---------------------------------------------------------------- the public functions

def from_keras(source: Any) -> Any:
    """The :class:`~netspec.spec.Spec` of a Keras model's config (see the module
    docstring for the sources and formats read). Raises
    :class:`~netspec.errors.InteropError` listing every problem, located in the Keras file."""
    return _spec(read_source(source))[0]


def _spec(source: KerasSource) -> tuple[Any, Imported]:
    from ..api import validate

    reader = ModelReader(source)
    imported = reader.read()
    report = validate(imported.tree)
    problems = [_into_keras(d, imported) for d in report.errors] if not report.ok else _axes(imported, report.shapes)
    if problems:
        raise reader._refused(problems)
    return report.spec, imported


def _axes(imported: Imported, shapes: Any) -> list[Diagnostic]:
    """The positive axes normalizations named (tf.keras writes ``[3]``) must be their input's last."""
    found = []
    steps = {step.path: step for step in shapes.layers}
    for index, axis, where, kind in imported.last_axes:
        rank = len(steps[("layers", index)].in_shape)
        if axis != rank:
            found.append(Diagnostic(where, "unsupported-option",
                                    f"{kind} axis={axis} is not the last axis of its input (axis {rank}, "
                                    "counting the batch)", "netspec normalises the last axis (the channels)"))
    return found


def _into_keras(diagnostic: Diagnostic, imported: Imported) -> Diagnostic:
    """A spec's diagnostic, pointing at the Keras layer its netspec layer came from."""
    path = diagnostic.path
    if len(path) >= 2 and path[0] == "layers" and isinstance(path[1], int) and path[1] < len(imported.origins):
        where, kind, name = imported.origins[path[1]]
        message = re.sub(r"layers\[\d+\](\.activation)? \(([^)]*)\)", lambda m: f"layer {m.group(2)!r}",
                         diagnostic.message)
        return Diagnostic(where, diagnostic.code, message, diagnostic.hint)
    return Diagnostic((), diagnostic.code, diagnostic.message, diagnostic.hint)


def from_keras_model(source: Any, weights: Any = None) -> Any:
    """A :class:`~netspec.runtime.pipeline.Pipeline` of a Keras model with its
    weights: from the ``.keras`` or full-model ``.h5`` file itself, or from
    ``weights``, a Keras 3 ``.weights.h5`` or tf.keras ``.h5`` weights file.
    Weights that do not fit the config (another model's) are refused, every
    mismatch named with both shapes, before the pipeline is returned."""
    keras_source = read_source(source)
    spec, imported = _spec(keras_source)
    if weights is not None:
        arrays = Weights.read(os.fspath(weights), os.fspath(weights))
    elif keras_source.weights is not None:
        arrays = keras_source.weights()
    else:
        raise InteropError([Diagnostic((), "weights-mismatch", "this source holds the model's config but no weights",
                                       "pass the weights file: from_keras_model(config, weights='model.weights.h5')",
                                       file=keras_source.file)], _doing(keras_source.file))
    from ..api import compile

    pipeline = compile(spec)
    _load_weights(pipeline, keras_source, imported, arrays)
    return pipeline


def _load_weights(pipeline: Any, source: KerasSource, imported: Imported, weights: Weights) -> None:
    """Copy the file's arrays into the pipeline's layers, after checking that every one fits."""
    wanted = _wanted(pipeline)
    origins = {name: where for where, _, name in imported.origins}
    if weights.layout == "keras3":
        pairs, problems = _by_keys(source, weights, wanted, origins)
    else:
        pairs, problems = _in_order(weights, wanted)
    plan = []
    for name, label, arrays, targets in pairs:
        needs = ", ".join(f"{role} {_shape(shape)}" for role, shape, _ in targets)
        if len(arrays) != len(targets):
            holds = ", ".join(_shape(array.shape) for _, array in arrays)
            problems.append(_mismatch(weights, arrays[0][0] if arrays else label,
                                      f"layer {name!r} has {needs}, but the weights file holds {len(arrays)} "
                                      f"array{'s' * (len(arrays) != 1)} for it ({holds or 'none'})"))
            continue
        for (where, array), (role, shape, target) in zip(arrays, targets):
            if tuple(array.shape) != shape:
                problems.append(_mismatch(weights, where, f"layer {name!r}: its {role} is {_shape(array.shape)} in the "
                                          f"weights file but {_shape(shape)} in the config"))
            else:
                plan.append((target, array))
    if problems:
        raise InteropError(problems, f"cannot load the weights of {weights.file}")
    for target, array in plan:
        target[...] = array.reshape(target.shape)


def _by_keys(source: KerasSource, weights: Weights, wanted: dict, origins: dict) -> tuple[list, list[Diagnostic]]:
    """Keras 3: each layer's arrays at its key, ``layers/<class>_<k>/vars``."""
    keys = _keras3_keys(source)
    pairs, problems = [], []
    for name, targets in wanted.items():
        key = keys.get(name, name)
        if key not in weights.layers:
            needs = ", ".join(f"{role} {_shape(shape)}" for role, shape, _ in targets)
            problems.append(Diagnostic(origins.get(name, ()), "weights-mismatch",
                                       f"layer {name!r} has {needs}, and {weights.file} holds nothing at "
                                       f"layers/{key}/vars", "is it the weights file of this model?", file=source.file))
            continue
        pairs.append((name, f"layers/{key}/vars", weights.layers[key], targets))
    read = {keys.get(name, name) for name in wanted}
    for key, arrays in weights.layers.items():
        if arrays and key not in read:
            problems.append(_mismatch(weights, f"layers/{key}/vars", f"the weights file holds {len(arrays)} arrays at "
                                      f"layers/{key}/vars, which no layer of the model has",
                                      "is it the weights file of this model?"))
    return pairs, problems


def _in_order(weights: Weights, wanted: dict) -> tuple[list, list[Diagnostic]]:
    """tf.keras and Keras 2.0: the file's layers with weights, in order, one for each of the model's."""
    held = [(name, arrays) for name, arrays in weights.layers.items() if arrays]
    if len(held) != len(wanted):
        return [], [_mismatch(weights, "layer_names", f"the weights file holds weights for {len(held)} layers "
                              f"({', '.join(name for name, _ in held) or 'none'}), and the model has {len(wanted)} "
                              f"with weights ({', '.join(wanted)})", "is it the weights file of this model?")]
    return [(name, label, arrays, targets) for (name, targets), (label, arrays) in zip(wanted.items(), held)], []


_ROLES = {"weights": "kernel", "bias": "bias", "gamma": "gamma", "beta": "beta", "moving_mean": "moving_mean",
          "moving_variance": "moving_variance"}


def _wanted(pipeline: Any) -> dict[str, list[tuple[str, tuple[int, ...], Any]]]:
    """Every layer's arrays in Keras's order (its parameters, then its moving
    averages), each as ``(Keras's name for it, its shape in Keras, the array)``:
    a dense bias, (1, n) in netspec, is (n,) in Keras."""
    wanted = {}
    for layer in pipeline.layers:
        arrays = list(layer.parameters()) + list(getattr(layer, "buffers", lambda: [])())
        roles = {id(getattr(layer, attribute, None)): role for attribute, role in _ROLES.items()}
        entries = []
        for array in arrays:
            role = roles.get(id(array), "weights")
            shape = array.shape[1:] if role == "bias" and array.ndim == 2 else array.shape
            entries.append((role, tuple(shape), array))
        if entries:
            wanted[layer.name] = entries
    return wanted


def _keras3_keys(source: KerasSource) -> dict[str, str]:
    """Each layer's key in a Keras 3 weights file: its class in snake case,
    numbered in the model's layer order (``dense``, ``dense_1``...); a
    Sequential's layers do not count its InputLayer."""
    config = source.config.get("config") if isinstance(source.config, dict) else None
    layers = config.get("layers") if isinstance(config, dict) else config
    sequential = isinstance(source.config, dict) and source.config.get("class_name") == "Sequential"
    keys, used = {}, {}
    for layer in layers if isinstance(layers, list) else []:
        if not isinstance(layer, dict) or (sequential and layer.get("class_name") == "InputLayer"):
            continue
        key = _snake_case(str(layer.get("class_name")))
        used[key] = used.get(key, -1) + 1
        name = layer.get("name") or (layer.get("config") or {}).get("name")
        if isinstance(name, str):
            keys[name] = key if used[key] == 0 else f"{key}_{used[key]}"
    return keys


def _shape(shape: tuple[int, ...]) -> str:
    return "(" + ", ".join(map(str, shape)) + ("," if len(shape) == 1 else "") + ")"


def _mismatch(weights: Weights, where: str, message: str, hint: str | None = None) -> Diagnostic:
    """A problem at ``where``, a path inside the weights file (``layers/dense/vars/0``)."""
    return Diagnostic((where,), "weights-mismatch", message, hint, file=weights.file)
