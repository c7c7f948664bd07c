"""An example netspec plugin: the swish activation and the Huber loss.

Importing this module registers both; netspec imports it through the
``netspec.components`` entry point declared in ``pyproject.toml``.
"""

from __future__ import annotations

import numpy as np

import netspec
from netspec.runtime.activations import Activation
from netspec.runtime.losses import Loss


class SwishRuntime(Activation):
    """``output = x · sigmoid(beta·x)``; d/dx = s + beta·x·s·(1 − s) with s = sigmoid(beta·x)."""

    def __init__(self, beta: float = 1.0, name: str = "swish"):
        self.beta = beta
        self.name = name

    def forward(self, inputs: np.ndarray, training: bool = False) -> np.ndarray:
        self.inputs = inputs
        self.output = inputs / (1 + np.exp(-self.beta * inputs))
        return self.output

    def backward(self, dvalues: np.ndarray) -> np.ndarray:
        s = 1 / (1 + np.exp(-self.beta * self.inputs))
        self.dinputs = dvalues * (s + self.beta * self.inputs * s * (1 - s))
        return self.dinputs


@netspec.register_activation("swish", runtime=SwishRuntime)
class Swish(netspec.Activation):
    """x · sigmoid(beta · x), a smooth ReLU."""

    beta: float = 1.0


class HuberRuntime(Loss):
    """Per value: ½r² for |r| ≤ delta, delta·(|r| − ½delta) beyond, r = ŷ − y; mean over outputs."""

    def __init__(self, delta: float = 1.0):
        self.delta = delta

    def forward(self, y_pred: np.ndarray, y_true: np.ndarray) -> np.ndarray:
        r = np.abs(y_pred - y_true)
        values = np.where(r <= self.delta, 0.5 * r**2, self.delta * (r - 0.5 * self.delta))
        return np.mean(values, axis=-1)

    def backward(self, dvalues: np.ndarray, y_true: np.ndarray) -> np.ndarray:
        r = dvalues - y_true
        self.dinputs = np.clip(r, -self.delta, self.delta) / r.size
        return self.dinputs


@netspec.register_loss("huber", runtime=HuberRuntime, targets="regression")
class Huber(netspec.Loss):
    """Huber loss: squared error near the target, absolute error far from it."""

    delta: float = 1.0
