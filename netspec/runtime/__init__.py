"""The runtime: plain NumPy layers, activations, losses and the compiled
:class:`Pipeline`. Nothing here imports Pydantic; compile builds these objects
from a checked spec."""

from .activations import ELU, LeakyReLU, Linear, ReLU, Sigmoid, Softmax, Tanh
from .layers import Dense
from .losses import BinaryCrossentropy, CategoricalCrossentropy, MeanAbsoluteError, MeanSquaredError
from .pipeline import Pipeline

__all__ = [
    "BinaryCrossentropy", "CategoricalCrossentropy", "Dense", "ELU", "LeakyReLU", "Linear",
    "MeanAbsoluteError", "MeanSquaredError", "Pipeline", "ReLU", "Sigmoid", "Softmax", "Tanh",
]
