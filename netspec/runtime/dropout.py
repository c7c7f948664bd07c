"""Dropout, in plain NumPy: inverted dropout, active only in training.

In training, each value is kept with probability ``keep = 1 − rate`` and
scaled by ``1 / keep``, so the expected output equals the input and nothing
needs rescaling at inference, where the layer is the identity:

    mask   = binary / keep          # binary: 1 with probability keep, else 0
    output = inputs · mask          dinputs = dvalues · mask

The binary mask is drawn from ``rng``, the spec's random source (the same
generator that initialised the weights, continuing after them), so a seeded
run draws the same masks every time, and a checkpoint that saves the
generator's state resumes with the masks uninterrupted training would draw.
With a ``numpy.random.RandomState`` (``"rng": "legacy"``) the mask is
``rng.binomial(1, keep, size=inputs.shape)``, the from-scratch book's draw;
with a ``Generator``, ``rng.random(inputs.shape) >= rate``.
"""

from __future__ import annotations

import math

import numpy as np

from .layers import Parameterless


class Dropout(Parameterless):
    """Inverted dropout of ``rate`` in [0, 1) on inputs of any shape (see the module docstring)."""

    def __init__(self, rate: float, rng: np.random.Generator | np.random.RandomState | None = None,
                 name: str = "dropout"):
        if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not math.isfinite(rate) \
                or not 0 <= rate < 1:
            raise ValueError(f"Received an invalid value for `rate`, expected a number in [0, 1). Received: rate={rate!r}")
        self.rate = float(rate)
        self.rng = rng if rng is not None else np.random.default_rng()
        self.name = name
        self.mask: np.ndarray | None = None
        self._uniform: np.ndarray | None = None
        self._kept: np.ndarray | None = None

    def binary_mask(self, shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
        """1 where a value is kept (probability 1 − rate), 0 where it is dropped."""
        if isinstance(self.rng, np.random.RandomState):
            return self.rng.binomial(1, 1 - self.rate, size=shape)
        draws = np.float32 if dtype == np.float32 else np.float64
        if self._uniform is None or self._uniform.shape != shape or self._uniform.dtype != draws:
            self._uniform = np.empty(shape, draws)
            self._kept = np.empty(shape, bool)
        self.rng.random(dtype=draws, out=self._uniform)
        return np.greater_equal(self._uniform, self.rate, out=self._kept)

    def forward(self, inputs: np.ndarray, training: bool = False) -> np.ndarray:
        self.inputs = inputs
        if not training or self.rate == 0:
            self.mask = None
            self.output = inputs
            return inputs
        dtype = inputs.dtype if inputs.dtype.kind == "f" else np.dtype(np.float64)
        if self.mask is None or self.mask.shape != inputs.shape or self.mask.dtype != dtype:
            self.mask = np.empty(inputs.shape, dtype)
        binary = self.binary_mask(inputs.shape, dtype)
        np.divide(binary, 1 - self.rate, out=self.mask, casting="unsafe")
        self.output = inputs * self.mask
        return self.output

    def backward(self, dvalues: np.ndarray) -> np.ndarray:
        self.dinputs = dvalues * self.mask if self.mask is not None else dvalues.copy()
        return self.dinputs

    def __repr__(self) -> str:
        return f"Dropout(rate={self.rate}, name={self.name!r})"
