"""netspec: describe a neural network as data; get every mistake in it, or a
NumPy pipeline that runs.

>>> import netspec
>>> pipeline = netspec.compile({
...     "netspec": "1",
...     "input": {"features": 2},
...     "layers": [{"type": "dense", "neurons": 3, "activation": "relu"},
...                {"type": "dense", "neurons": 3}, {"type": "softmax"}],
...     "loss": "categorical_crossentropy", "seed": 0})
>>> pipeline.forward([[0.5, -0.5]]).shape
(1, 3)

Importing netspec and validating specs never imports NumPy: the names that
need it (``data``, ``Pipeline``, ``History``, ``TrainingError``,
``check_gradients``, ``sweep``, ...) are imported when first used, and so are
the importers of other tools' models (``from_keras``, ``from_keras_model``,
``from_onnx``), which import nothing heavy until they read a file, and the
pictures (``plot``), which import matplotlib only when one is drawn.
"""

from importlib import import_module
from typing import Any

from .api import Report, compile, infer, load, load_pipeline, validate
from .components import (
    ELU,
    SGD,
    Adagrad,
    Adam,
    AdamW,
    Add,
    Average,
    AvgPool1D,
    AvgPool2D,
    BatchNorm,
    BinaryCrossentropy,
    CategoricalCrossentropy,
    Concatenate,
    Conv1D,
    Conv2D,
    Dense,
    Dropout,
    Flatten,
    GlobalAvgPool,
    GlobalMaxPool,
    GlorotUniform,
    HeNormal,
    LayerNorm,
    LeakyReLU,
    Linear,
    MaxPool1D,
    MaxPool2D,
    MeanAbsoluteError,
    MeanSquaredError,
    Multiply,
    Normal,
    ReLU,
    Reshape,
    RMSprop,
    Sigmoid,
    Softmax,
    Tanh,
    Uniform,
    Zeros,
)
from .errors import CheckpointError, DataError, Diagnostic, InteropError, NetspecError, SpecError
from .extend import register_activation, register_initializer, register_layer, register_loss, register_optimizer
from .infer import LayerShape, Shapes
from .limits import Limits
from .plugins import load_plugins
from .registry import ShapeProblem
from .schema import json_schema
from .spec import L1, L1L2, L2, Activation, Initializer, Input, Layer, Loss, Optimizer, Regularizer, Spec

# Names whose modules import NumPy, imported on first use: name -> (module, attribute or None for the module).
_LAZY = {
    "data": (".data", None), "plot": (".plot", None),
    "GradientReport": (".gradients", "GradientReport"), "check_gradients": (".gradients", "check_gradients"),
    "Pipeline": (".runtime.pipeline", "Pipeline"),
    "History": (".runtime.training", "History"), "TrainingError": (".runtime.training", "TrainingError"),
    "Variant": (".sweeps", "Variant"), "load_grid": (".sweeps", "load_grid"), "sweep": (".sweeps", "sweep"),
    "Sweep": (".sweeps", "Sweep"), "Result": (".sweeps", "Result"),
    "from_keras": (".interop.keras", "from_keras"), "from_keras_model": (".interop.keras", "from_keras_model"),
    "from_onnx": (".interop.onnx", "from_onnx"),
}


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module 'netspec' has no attribute {name!r}")
    module, attribute = _LAZY[name]
    value = import_module(module, __name__)
    value = value if attribute is None else getattr(value, attribute)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))

__version__ = "0.1.0"

# The names Keras users know for the pooling layers ...
MaxPooling1D, MaxPooling2D, AveragePooling1D, AveragePooling2D = MaxPool1D, MaxPool2D, AvgPool1D, AvgPool2D
GlobalAveragePooling1D = GlobalAveragePooling2D = GlobalAvgPool
GlobalMaxPooling1D = GlobalMaxPooling2D = GlobalMaxPool
# ... and for normalization.
BatchNormalization, LayerNormalization = BatchNorm, LayerNorm

__all__ = [
    "InteropError", "from_keras", "from_keras_model", "from_onnx",
    "Activation", "Adagrad", "Adam", "AdamW", "Add", "Average", "AveragePooling1D", "AveragePooling2D", "AvgPool1D",
    "AvgPool2D", "BatchNorm", "BatchNormalization", "BinaryCrossentropy", "CategoricalCrossentropy", "CheckpointError",
    "Concatenate", "Conv1D", "Conv2D", "DataError", "Dense", "Diagnostic", "Dropout", "ELU", "Flatten",
    "GlobalAveragePooling1D", "GlobalAveragePooling2D", "GlobalAvgPool", "GlobalMaxPool", "GlobalMaxPooling1D",
    "GlobalMaxPooling2D", "GlorotUniform", "GradientReport", "HeNormal", "History", "Initializer", "Input", "L1",
    "L1L2", "L2", "Layer", "LayerNorm", "LayerNormalization", "LayerShape", "LeakyReLU", "Limits", "Linear", "Loss",
    "MaxPool1D", "MaxPool2D", "MaxPooling1D", "MaxPooling2D", "MeanAbsoluteError", "MeanSquaredError", "Multiply",
    "NetspecError", "Normal", "Optimizer", "Pipeline", "Regularizer", "ReLU", "Report", "Reshape", "RMSprop", "SGD",
    "Result", "ShapeProblem", "Shapes", "Sigmoid", "Softmax", "Spec", "SpecError", "Sweep", "Tanh", "TrainingError",
    "Uniform", "Variant", "Zeros", "check_gradients", "compile", "data", "infer", "json_schema", "load", "load_grid",
    "load_pipeline", "load_plugins", "plot", "register_activation", "register_initializer", "register_layer",
    "register_loss", "register_optimizer", "sweep", "validate",
]
