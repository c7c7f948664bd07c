"""Batch and layer normalization, in plain NumPy, channels last.

Both normalise ``x̂ = (x − mean) / sqrt(var + epsilon)`` and then scale and
shift it, ``output = gamma · x̂ + beta``, with ``gamma`` (ones) and ``beta``
(zeros) of shape (channels,) — ``channels`` being the last axis — and either
one left out when ``scale`` or ``center`` is off. Variances are biased (÷ n),
as in every framework's forward pass.

- :class:`BatchNorm` takes mean and variance per channel over every other
  axis (the batch, and the positions of an image or a sequence) in training,
  and updates the moving averages ``moving = momentum · moving + (1 −
  momentum) · batch`` (Keras's meaning of momentum: PyTorch's momentum is
  ``1 − momentum``); the moving variance takes the unbiased batch variance
  (÷ (n − 1)), as PyTorch's does. In inference it uses the moving averages.
- :class:`LayerNorm` takes mean and variance over the last axis of each
  sample and position, the same in training and inference.

Backward, with ``n`` values per statistic, ``g = dvalues · gamma`` and sums
over the values that share a statistic: ``dbeta = Σ dvalues``,
``dgamma = Σ dvalues · x̂`` and
``dinputs = (g − Σg / n − x̂ · Σ(g · x̂) / n) / sqrt(var + epsilon)``; in
inference batch normalization is an affine map, ``dinputs = g / sqrt(var + epsilon)``.
"""

from __future__ import annotations

import numpy as np

from ..errors import DataError


def _check_channels(layer: object, inputs: np.ndarray, channels: int) -> None:
    if inputs.ndim < 2 or inputs.shape[-1] != channels:
        raise ValueError(f"{type(layer).__name__} {getattr(layer, 'name', '')!r}: expected inputs (n, ..., {channels}) "
                         f"with {channels} channels on the last axis; received shape {inputs.shape}")


class _Normalization:
    """The scale and shift both normalizations share."""

    def __init__(self, gamma: np.ndarray | None, beta: np.ndarray | None, epsilon: float, name: str):
        shapes = {a.shape for a in (gamma, beta) if a is not None}
        if len(shapes) > 1 or any(len(shape) != 1 for shape in shapes):
            raise ValueError(f"{type(self).__name__} gamma and beta must be 1-D of one length (channels,); "
                             f"received shapes {[None if a is None else a.shape for a in (gamma, beta)]}")
        if not epsilon > 0:
            raise ValueError(f"Received an invalid value for `epsilon`, expected a number > 0. Received: epsilon={epsilon!r}")
        self.gamma = gamma
        self.beta = beta
        self.epsilon = float(epsilon)
        self.name = name

    def _affine(self, normalized: np.ndarray) -> np.ndarray:
        """``gamma · x̂ + beta`` (each when present), written over ``normalized``."""
        if self.gamma is not None:
            normalized *= self.gamma
        if self.beta is not None:
            normalized += self.beta
        return normalized

    def _parameter_gradients(self, dvalues: np.ndarray, normalized: np.ndarray) -> None:
        axes = tuple(range(dvalues.ndim - 1))
        if self.gamma is not None:
            self.dgamma = np.sum(dvalues * normalized, axis=axes)
        if self.beta is not None:
            self.dbeta = np.sum(dvalues, axis=axes)

    def _scaled(self, dvalues: np.ndarray) -> np.ndarray:
        """``dvalues · gamma``: the gradient w.r.t. the normalized values."""
        return dvalues * self.gamma if self.gamma is not None else dvalues

    def parameters(self) -> list[np.ndarray]:
        return [a for a in (self.gamma, self.beta) if a is not None]

    def gradients(self) -> list[np.ndarray]:
        found = [self.dgamma] if self.gamma is not None else []
        return found + [self.dbeta] if self.beta is not None else found


class BatchNorm(_Normalization):
    """Batch normalization over every axis but the last (see the module docstring).

    Shapes: ``gamma``, ``beta``, ``moving_mean`` (zeros) and
    ``moving_variance`` (ones) are (channels,); inputs (n, ..., channels) →
    output of the same shape. ``buffers()`` are the moving averages, which
    checkpoints save; they change only in a training forward pass.
    Training needs two or more values per channel (the unbiased variance of
    one value is undefined).
    """

    def __init__(self, gamma: np.ndarray | None, beta: np.ndarray | None, moving_mean: np.ndarray,
                 moving_variance: np.ndarray, *, momentum: float = 0.99, epsilon: float = 1e-3,
                 name: str = "batch_norm"):
        super().__init__(gamma, beta, epsilon, name)
        if moving_mean.ndim != 1 or moving_variance.shape != moving_mean.shape:
            raise ValueError(f"BatchNorm moving_mean and moving_variance must be 1-D of one length (channels,); "
                             f"received shapes {moving_mean.shape} and {moving_variance.shape}")
        if not 0 <= momentum <= 1:
            raise ValueError(f"Received an invalid value for `momentum`, expected a number in [0, 1]. "
                             f"Received: momentum={momentum!r}")
        self.moving_mean = moving_mean
        self.moving_variance = moving_variance
        self.momentum = float(momentum)

    @property
    def channels(self) -> int:
        return self.moving_mean.shape[0]

    def forward(self, inputs: np.ndarray, training: bool = False) -> np.ndarray:
        _check_channels(self, inputs, self.channels)
        self.inputs = inputs
        self.training = training
        if training:
            centered, variance = self._batch_statistics(inputs)
        else:
            centered, variance = inputs - self.moving_mean, self.moving_variance
        self.inverse_std = 1 / np.sqrt(variance + self.epsilon)
        self.normalized = centered * self.inverse_std
        self.output = self._affine(self.normalized.copy())
        return self.output

    def _batch_statistics(self, inputs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The inputs minus the batch's mean per channel, and the batch's biased
        variance per channel; the moving averages updated."""
        values = inputs.reshape(-1, self.channels)
        count = len(values)
        if count < 2:
            raise DataError(f"batch_norm {self.name!r} cannot train on a batch of one value per channel "
                            f"(inputs of shape {inputs.shape}): a variance needs two or more; use a batch_size "
                            "that leaves no batch of a single sample")
        mean = values.mean(axis=0)
        centered = values - mean
        variance = np.mean(centered * centered, axis=0)
        keep = self.momentum
        self.moving_mean *= keep
        self.moving_mean += (1 - keep) * mean
        self.moving_variance *= keep
        self.moving_variance += (1 - keep) * (variance * (count / (count - 1)))
        return centered.reshape(inputs.shape), variance

    def backward(self, dvalues: np.ndarray) -> np.ndarray:
        self._parameter_gradients(dvalues, self.normalized)
        scaled = self._scaled(dvalues)
        if not self.training:
            self.dinputs = scaled * self.inverse_std
            return self.dinputs
        flat = scaled.reshape(-1, self.channels)
        normalized = self.normalized.reshape(-1, self.channels)
        count = len(flat)
        mean_scaled = flat.sum(axis=0) / count
        mean_projection = np.sum(flat * normalized, axis=0) / count
        dinputs = (flat - mean_scaled - normalized * mean_projection) * self.inverse_std
        self.dinputs = dinputs.reshape(dvalues.shape)
        return self.dinputs

    def buffers(self) -> list[np.ndarray]:
        """The moving mean and variance (not trained; saved in checkpoints)."""
        return [self.moving_mean, self.moving_variance]

    def __repr__(self) -> str:
        return f"BatchNorm({self.channels}, momentum={self.momentum}, epsilon={self.epsilon}, name={self.name!r})"


class LayerNorm(_Normalization):
    """Layer normalization over the last axis (see the module docstring).

    Shapes: ``gamma`` and ``beta`` (channels,); inputs (n, ..., channels) →
    output of the same shape, each position normalised over its channels.
    """

    def __init__(self, gamma: np.ndarray | None, beta: np.ndarray | None, *, channels: int | None = None,
                 epsilon: float = 1e-3, name: str = "layer_norm"):
        super().__init__(gamma, beta, epsilon, name)
        known = next((a.shape[0] for a in (gamma, beta) if a is not None), None)
        if known is None and channels is None:
            raise ValueError("LayerNorm without gamma and beta needs channels=")
        self.channels = known if known is not None else int(channels)

    def forward(self, inputs: np.ndarray, training: bool = False) -> np.ndarray:
        _check_channels(self, inputs, self.channels)
        self.inputs = inputs
        mean = inputs.mean(axis=-1, keepdims=True)
        centered = inputs - mean
        variance = np.mean(centered * centered, axis=-1, keepdims=True)
        self.inverse_std = 1 / np.sqrt(variance + self.epsilon)
        self.normalized = centered * self.inverse_std
        self.output = self._affine(self.normalized.copy())
        return self.output

    def backward(self, dvalues: np.ndarray) -> np.ndarray:
        self._parameter_gradients(dvalues, self.normalized)
        scaled = self._scaled(dvalues)
        normalized = self.normalized
        mean_scaled = scaled.mean(axis=-1, keepdims=True)
        mean_projection = np.mean(scaled * normalized, axis=-1, keepdims=True)
        self.dinputs = (scaled - mean_scaled - normalized * mean_projection) * self.inverse_std
        return self.dinputs

    def __repr__(self) -> str:
        return f"LayerNorm({self.channels}, epsilon={self.epsilon}, name={self.name!r})"
