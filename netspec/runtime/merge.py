"""Merge layers: several inputs in, one output, in plain NumPy.

They follow the runtime protocol of :mod:`netspec.runtime.layers` with one
difference: ``forward`` takes a list of arrays (one per input, each
``(n, *shape)``), and ``backward`` returns a list of gradients, one per
input, in the same order. None has parameters.
"""

from __future__ import annotations

import numpy as np

from .layers import Parameterless


class _Merge(Parameterless):
    """What every merge layer shares: a name, no parameters, a short repr."""

    def __init__(self, name: str = "merge"):
        self.name = name


class Add(_Merge):
    """``output = a + b + ...``; every input's gradient is ``dvalues``."""

    def forward(self, inputs: list[np.ndarray], training: bool = False) -> np.ndarray:
        self.inputs = inputs
        self.output = inputs[0] + inputs[1]
        for more in inputs[2:]:
            self.output += more
        return self.output

    def backward(self, dvalues: np.ndarray) -> list[np.ndarray]:
        self.dinputs = [dvalues] * len(self.inputs)
        return self.dinputs


class Multiply(_Merge):
    """``output = a · b · ...`` element by element; input k's gradient is
    ``dvalues`` times the product of the other inputs."""

    def forward(self, inputs: list[np.ndarray], training: bool = False) -> np.ndarray:
        self.inputs = inputs
        self.output = inputs[0] * inputs[1]
        for more in inputs[2:]:
            self.output *= more
        return self.output

    def backward(self, dvalues: np.ndarray) -> list[np.ndarray]:
        self.dinputs = []
        for k in range(len(self.inputs)):
            gradient = dvalues.copy()
            for j, other in enumerate(self.inputs):
                if j != k:
                    gradient *= other
            self.dinputs.append(gradient)
        return self.dinputs


class Average(_Merge):
    """``output = (a + b + ...) / k`` for k inputs; every input's gradient is ``dvalues / k``."""

    def forward(self, inputs: list[np.ndarray], training: bool = False) -> np.ndarray:
        self.inputs = inputs
        total = inputs[0] + inputs[1]
        for more in inputs[2:]:
            total += more
        self.output = total / len(inputs)
        return self.output

    def backward(self, dvalues: np.ndarray) -> list[np.ndarray]:
        share = dvalues / len(self.inputs)
        self.dinputs = [share] * len(self.inputs)
        return self.dinputs


class Concatenate(_Merge):
    """The inputs joined along ``axis`` of a sample (0 is the first axis after
    the batch): (n, a) and (n, b) → (n, a + b). Backward splits ``dvalues``
    back into the inputs' widths."""

    def __init__(self, axis: int = 0, name: str = "concatenate"):
        super().__init__(name)
        self.axis = axis

    def forward(self, inputs: list[np.ndarray], training: bool = False) -> np.ndarray:
        self.inputs = inputs
        self.output = np.concatenate(inputs, axis=self.axis + 1)
        return self.output

    def backward(self, dvalues: np.ndarray) -> list[np.ndarray]:
        edges = np.cumsum([x.shape[self.axis + 1] for x in self.inputs])[:-1]
        self.dinputs = np.split(dvalues, edges, axis=self.axis + 1)
        return self.dinputs

    def __repr__(self) -> str:
        return f"Concatenate(axis={self.axis}, name={self.name!r})"
