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
"""

from . import data
from .api import Report, compile, infer, load, load_pipeline, validate
from .components import (
    ELU,
    SGD,
    Adam,
    BinaryCrossentropy,
    CategoricalCrossentropy,
    Dense,
    GlorotUniform,
    HeNormal,
    LeakyReLU,
    Linear,
    MeanAbsoluteError,
    MeanSquaredError,
    Normal,
    ReLU,
    RMSprop,
    Sigmoid,
    Softmax,
    Tanh,
    Uniform,
    Zeros,
    register,
)
from .errors import CheckpointError, DataError, Diagnostic, NetspecError, SpecError
from .infer import LayerShape, Shapes
from .limits import Limits
from .runtime.pipeline import Pipeline
from .runtime.training import History, TrainingError
from .schema import json_schema
from .spec import Input, Spec

__version__ = "0.1.0"

__all__ = [
    "Adam", "BinaryCrossentropy", "CategoricalCrossentropy", "CheckpointError", "DataError", "Dense", "Diagnostic", "ELU",
    "GlorotUniform", "HeNormal", "History", "Input", "LayerShape", "LeakyReLU", "Limits", "Linear",
    "MeanAbsoluteError", "MeanSquaredError", "NetspecError", "Normal", "Pipeline", "ReLU",
    "Report", "RMSprop", "SGD", "Shapes", "Sigmoid", "Softmax", "Spec", "SpecError", "Tanh", "TrainingError",
    "Uniform", "Zeros", "compile", "data", "infer", "json_schema", "load", "load_pipeline", "register",
    "validate",
]
