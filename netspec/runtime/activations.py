"""Activation functions, in plain NumPy.

Each activation is applied elementwise (Softmax: along the last axis) and
keeps the shape and dtype of its inputs, of any rank: inputs (n, ..., k) ->
output (n, ..., k), ``dvalues`` -> ``dinputs`` of the same shape. They follow the runtime protocol of
:mod:`netspec.runtime.layers` and have no parameters. Where the derivative has
a kink, the value chosen is the one PyTorch uses.

``ACTIVATIONS`` maps each activation's spec name to its class.
"""

from __future__ import annotations

import numpy as np

from .layers import Parameterless


def sigmoid(inputs: np.ndarray) -> np.ndarray:
    """``1 / (1 + exp(-inputs))``, the tutorial's formula, bit for bit.

    For inputs below about -709 (float64; -88 in float32) ``exp(-inputs)``
    overflows to inf and the result is exactly 0, the true value being below
    the smallest normal float; the overflow warning is silenced.
    """
    with np.errstate(over="ignore"):
        return 1 / (1 + np.exp(-inputs))


def softmax(inputs: np.ndarray) -> np.ndarray:
    """``exp(x - max(x)) / sum(exp(x - max(x)))`` along the last axis: per row
of inputs (n, k), per position of a sequence or an image (n, ..., k).

    Subtracting the row max keeps every exponent <= 0, so exp never overflows
    and each row's sum is at least 1: rows sum to 1 and never hold NaN for
    finite inputs, however large. A row spanning more than the float range
    (1e308 and -1e308) makes ``x - max(x)`` overflow to -inf, whose exp is the
    right answer, 0; that warning is silenced.
    """
    with np.errstate(over="ignore"):
        return _softmax_unguarded(inputs)


def _softmax_unguarded(inputs: np.ndarray) -> np.ndarray:
    """:func:`softmax` under the caller's floating-point error state: the
    training step's, which ignores overflow (its finiteness check reports
    what matters), saves entering one per call. The same values."""
    exp_values = inputs - np.maximum.reduce(inputs, axis=-1, keepdims=True)
    if exp_values.dtype.kind != "f":  # integer inputs: exp is float64, as np.exp gives
        exp_values = exp_values.astype(np.float64)
    np.exp(exp_values, out=exp_values)
    exp_values /= np.add.reduce(exp_values, axis=-1, keepdims=True)
    return exp_values


class Activation(Parameterless):
    """What every activation shares: a ``name``, no parameters, a short repr."""


class ReLU(Activation):
    """``output = max(0, inputs)``; derivative 1 where inputs > 0, else 0
    (0 at inputs == 0, as PyTorch).

    Backward multiplies ``dvalues`` by the mask ``inputs > 0`` rather than
    assigning zeros through it as the tutorial does: the same values for
    finite gradients (a masked one becomes ``-0.0`` when it was negative),
    several times faster, since a random mask defeats branch prediction.
    A NaN or inf in ``dvalues`` stays NaN where the unit is off.
    """

    def __init__(self, name: str = "relu"):
        self.name = name

    def forward(self, inputs: np.ndarray, training: bool = False) -> np.ndarray:
        self.inputs = inputs
        self.output = np.maximum(0, inputs)
        return self.output

    def backward(self, dvalues: np.ndarray) -> np.ndarray:
        self.dinputs = dvalues * (self.inputs > 0)
        return self.dinputs


class LeakyReLU(Activation):
    """``output = inputs`` where inputs > 0, else ``alpha * inputs``;
    derivative 1 where inputs > 0, else ``alpha`` (``alpha`` at 0, as PyTorch)."""

    def __init__(self, alpha: float = 0.01, name: str = "leaky_relu"):
        self.alpha = float(alpha)
        self.name = name

    def forward(self, inputs: np.ndarray, training: bool = False) -> np.ndarray:
        self.inputs = inputs
        self.output = np.where(inputs > 0, inputs, self.alpha * inputs)
        return self.output

    def backward(self, dvalues: np.ndarray) -> np.ndarray:
        self.dinputs = np.where(self.inputs > 0, dvalues, self.alpha * dvalues)
        return self.dinputs

    def __repr__(self) -> str:
        return f"LeakyReLU(alpha={self.alpha}, name={self.name!r})"


class ELU(Activation):
    """``output = inputs`` where inputs > 0, else ``alpha * (exp(inputs) - 1)``;
    derivative 1 where inputs > 0, else ``alpha * exp(inputs)`` (``alpha`` at 0,
    as PyTorch)."""

    def __init__(self, alpha: float = 1.0, name: str = "elu"):
        self.alpha = float(alpha)
        self.name = name

    def forward(self, inputs: np.ndarray, training: bool = False) -> np.ndarray:
        self.inputs = inputs
        negative = self.alpha * np.expm1(np.minimum(inputs, 0))
        self.output = np.where(inputs > 0, inputs, negative)
        return self.output

    def backward(self, dvalues: np.ndarray) -> np.ndarray:
        slope = self.alpha * np.exp(np.minimum(self.inputs, 0))
        self.dinputs = np.where(self.inputs > 0, dvalues, slope * dvalues)
        return self.dinputs

    def __repr__(self) -> str:
        return f"ELU(alpha={self.alpha}, name={self.name!r})"


class Sigmoid(Activation):
    """``output = 1 / (1 + exp(-inputs))`` (see :func:`sigmoid`);
    derivative ``output * (1 - output)``."""

    def __init__(self, name: str = "sigmoid"):
        self.name = name

    def forward(self, inputs: np.ndarray, training: bool = False) -> np.ndarray:
        self.inputs = inputs
        self.output = sigmoid(inputs)
        return self.output

    def backward(self, dvalues: np.ndarray) -> np.ndarray:
        self.dinputs = dvalues * (1 - self.output) * self.output
        return self.dinputs


class Tanh(Activation):
    """``output = tanh(inputs)``; derivative ``1 - output ** 2``."""

    def __init__(self, name: str = "tanh"):
        self.name = name

    def forward(self, inputs: np.ndarray, training: bool = False) -> np.ndarray:
        self.inputs = inputs
        self.output = np.tanh(inputs)
        return self.output

    def backward(self, dvalues: np.ndarray) -> np.ndarray:
        self.dinputs = dvalues * (1 - self.output**2)
        return self.dinputs


class Softmax(Activation):
    """``output = exp(x - max(x)) / sum(exp(x - max(x)))`` along the last axis
    (per row of inputs (n, k); per position for (n, ..., k)).

    In training (``training=True``, which the training step runs under an
    error state that ignores overflow) the overflow of a row spanning more
    than the float range is left to the caller's error state.

    Backward is the Jacobian-vector product of each row, ``J = diag(y) - y yᵀ``
    applied to ``dvalues``, vectorized over rows:
    ``dinputs = y * (dvalues - sum(dvalues * y, axis=-1, keepdims=True))``.
    """

    def __init__(self, name: str = "softmax"):
        self.name = name

    def forward(self, inputs: np.ndarray, training: bool = False) -> np.ndarray:
        self.inputs = inputs
        self.output = _softmax_unguarded(inputs) if training else softmax(inputs)
        return self.output

    def backward(self, dvalues: np.ndarray) -> np.ndarray:
        y = self.output
        self.dinputs = y * (dvalues - np.sum(dvalues * y, axis=-1, keepdims=True))
        return self.dinputs


class Linear(Activation):
    """Identity: ``output = inputs``, ``dinputs = dvalues`` (a copy)."""

    def __init__(self, name: str = "linear"):
        self.name = name

    def forward(self, inputs: np.ndarray, training: bool = False) -> np.ndarray:
        self.inputs = inputs
        self.output = inputs
        return self.output

    def backward(self, dvalues: np.ndarray) -> np.ndarray:
        self.dinputs = dvalues.copy()
        return self.dinputs


ACTIVATIONS: dict[str, type[Activation]] = {
    "relu": ReLU,
    "leaky_relu": LeakyReLU,
    "elu": ELU,
    "sigmoid": Sigmoid,
    "tanh": Tanh,
    "softmax": Softmax,
    "linear": Linear,
}
