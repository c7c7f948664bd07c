"""An example netspec plugin: the swish activation, the Huber loss, and a
``channel_scale`` layer with parameters and a shape rule.

Importing this module registers them; netspec imports it through the
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


class ChannelScaleRuntime:
    """``output = inputs · scale``, one learnt factor per channel (the last axis), on any rank.

    Backward: ``dinputs = dvalues · scale``; ``dscale`` sums ``dvalues · inputs``
    over every axis but the last."""

    def __init__(self, scale: np.ndarray, name: str = "channel_scale"):
        self.scale = scale
        self.name = name

    def forward(self, inputs: np.ndarray, training: bool = False) -> np.ndarray:
        self.inputs = inputs
        self.output = inputs * self.scale
        return self.output

    def backward(self, dvalues: np.ndarray) -> np.ndarray:
        self.dscale = (dvalues * self.inputs).reshape(-1, self.scale.shape[0]).sum(axis=0)
        self.dinputs = dvalues * self.scale
        return self.dinputs

    def parameters(self) -> list[np.ndarray]:
        return [self.scale]

    def gradients(self) -> list[np.ndarray]:
        return [self.dscale]


def _channel_scale_shape(params: "ChannelScale", in_shape: tuple[int, ...]) -> tuple[tuple[int, ...], int]:
    """The shape rule, on the shape of one sample: the shape is kept; one parameter per channel."""
    if in_shape[-1] > 4096:
        raise netspec.ShapeProblem("channel_scale takes at most 4096 channels, but receives {input}",
                                   hint="scale fewer channels, or put a dense layer before it")
    return in_shape, in_shape[-1]


def _channel_scale_build(params: "ChannelScale", in_shape: tuple[int, ...], context) -> ChannelScaleRuntime:
    scale = np.full(in_shape[-1], params.initial, dtype=context.dtype)
    return ChannelScaleRuntime(scale, name=context.name)


@netspec.register_layer("channel_scale", build=_channel_scale_build, output_shape=_channel_scale_shape)
class ChannelScale(netspec.Layer):
    """One learnt factor per channel (the last axis), starting at ``initial``."""

    initial: float = 1.0
