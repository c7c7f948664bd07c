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
    AvgPool1D,
    AvgPool2D,
    BinaryCrossentropy,
    CategoricalCrossentropy,
    Conv1D,
    Conv2D,
    Dense,
    Flatten,
    GlobalAvgPool,
    GlobalMaxPool,
    GlorotUniform,
    HeNormal,
    LeakyReLU,
    Linear,
    MaxPool1D,
    MaxPool2D,
    MeanAbsoluteError,
    MeanSquaredError,
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
from .errors import CheckpointError, DataError, Diagnostic, NetspecError, SpecError
from .extend import register_activation, register_initializer, register_layer, register_loss, register_optimizer
from .gradients import GradientReport, check_gradients
from .infer import LayerShape, Shapes
from .limits import Limits
from .plugins import load_plugins
from .registry import ShapeProblem
from .runtime.pipeline import Pipeline
from .runtime.training import History, TrainingError
from .schema import json_schema
from .spec import Activation, Initializer, Input, Layer, Loss, Optimizer, Spec
from .sweeps import Variant, load_grid, sweep

__version__ = "0.1.0"

# The names Keras users know for the pooling layers.
MaxPooling1D, MaxPooling2D, AveragePooling1D, AveragePooling2D = MaxPool1D, MaxPool2D, AvgPool1D, AvgPool2D
GlobalAveragePooling1D = GlobalAveragePooling2D = GlobalAvgPool
GlobalMaxPooling1D = GlobalMaxPooling2D = GlobalMaxPool

__all__ = [
    "Activation", "Adam", "AveragePooling1D", "AveragePooling2D", "AvgPool1D", "AvgPool2D", "BinaryCrossentropy",
    "CategoricalCrossentropy", "CheckpointError", "Conv1D", "Conv2D", "DataError",
    "Dense", "Diagnostic", "ELU", "Flatten", "GlobalAvgPool", "GlobalAveragePooling1D", "GlobalAveragePooling2D",
    "GlobalMaxPool", "GlobalMaxPooling1D", "GlobalMaxPooling2D", "GlorotUniform", "GradientReport", "HeNormal",
    "History", "Initializer", "Input", "Layer", "LayerShape", "LeakyReLU", "Limits", "Linear", "Loss", "MaxPool1D",
    "MaxPool2D", "MaxPooling1D", "MaxPooling2D", "MeanAbsoluteError",
    "MeanSquaredError", "NetspecError", "Normal", "Optimizer", "Pipeline", "ReLU", "Report", "Reshape", "RMSprop", "SGD",
    "ShapeProblem", "Shapes", "Sigmoid", "Softmax", "Spec", "SpecError", "Tanh", "TrainingError", "Uniform", "Variant",
    "Zeros", "check_gradients", "compile", "data", "infer", "json_schema", "load", "load_grid", "load_pipeline",
    "load_plugins", "register_activation", "register_initializer", "register_layer", "register_loss",
    "register_optimizer", "sweep", "validate",
]
