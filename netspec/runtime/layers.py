"""Layers with trainable parameters, in plain NumPy.

Every runtime component follows one protocol: ``forward(inputs, training=False)``
stores ``inputs`` and ``output`` and returns the output; ``backward(dvalues)``
turns the gradient w.r.t. the output into ``dinputs`` (and the parameter
gradients) and returns it; ``parameters()`` and ``gradients()`` list the arrays
in the same order, the parameters being the very arrays optimizers update in
place. Layers with non-trainable state (batch normalization's moving
averages) also have ``buffers()``: those arrays, updated in place by a
training forward pass, which checkpoints save beside the parameters.

``forward(inputs, training=...)`` says the mode: ``training=True`` while
fitting (dropout drops, batch normalization uses the batch's statistics and
updates its moving averages), False for every other use (``predict``,
``evaluate``, the metrics of each epoch), where dropout is the identity and
batch normalization uses its moving averages.
"""

from __future__ import annotations

import numpy as np

from .penalties import Penalty, Regularized


class Parameterless:
    """What every component without parameters shares (activations, pooling,
    flatten, reshape, dropout, merges): a ``name``, empty ``parameters()`` and
    ``gradients()``, and a short repr."""

    name: str

    def parameters(self) -> list[np.ndarray]:
        return []

    def gradients(self) -> list[np.ndarray]:
        return []

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"


class Dense(Regularized):
    """Fully connected layer: ``output = inputs @ weights + bias``.

    Shapes: ``weights`` (in_features, neurons), ``bias`` (1, neurons) or None
    for no bias; inputs (n, in_features) -> output (n, neurons). The arrays'
    dtype is the layer's dtype; the layer keeps and updates the arrays it was
    given (make them with :mod:`netspec.runtime.initializers`).

    Backward, for ``dvalues`` (n, neurons):
    ``dweights = inputs.T @ dvalues`` (in_features, neurons),
    ``dbiases = sum(dvalues, axis=0)`` (1, neurons),
    ``dinputs = dvalues @ weights.T`` (n, in_features).

    ``dweights`` and ``dbiases`` are written into the same arrays on every
    backward pass (as PyTorch's ``.grad``), which saves allocating, and
    page-faulting in, a weight-sized array per training step; copy them to
    keep the gradients of one step.

    ``regularizer`` and ``bias_regularizer`` (:class:`~netspec.runtime.penalties.Penalty`
    or None) add their gradients to ``dweights`` and ``dbiases``, and
    ``regularization_loss()`` is what they add to the loss.
    """

    def __init__(self, weights: np.ndarray, bias: np.ndarray | None = None, name: str = "dense", *,
                 regularizer: Penalty | None = None, bias_regularizer: Penalty | None = None):
        if weights.ndim != 2:
            raise ValueError(f"Dense weights must be 2-D (in_features, neurons); received shape {weights.shape}")
        if bias is not None and bias.shape != (1, weights.shape[1]):
            raise ValueError(
                f"Dense bias must have shape (1, {weights.shape[1]}) to match weights {weights.shape}; "
                f"received shape {bias.shape}"
            )
        self.weights = weights
        self.bias = bias
        self.name = name
        self._set_penalties(regularizer, bias_regularizer)

    @property
    def in_features(self) -> int:
        return self.weights.shape[0]

    @property
    def neurons(self) -> int:
        return self.weights.shape[1]

    @property
    def dtype(self) -> np.dtype:
        return self.weights.dtype

    def forward(self, inputs: np.ndarray, training: bool = False) -> np.ndarray:
        self.inputs = inputs
        self.output = inputs @ self.weights
        if self.bias is not None:
            self.output += self.bias
        return self.output

    def backward(self, dvalues: np.ndarray) -> np.ndarray:
        self.backward_parameters(dvalues)
        self.dinputs = dvalues @ self.weights.T
        return self.dinputs

    def backward_parameters(self, dvalues: np.ndarray) -> None:
        """The parameter gradients alone: what the first layer of a network
        needs, where nothing uses the gradient w.r.t. the data."""
        inputs = self.inputs
        dtype = dvalues.dtype
        if inputs.dtype != dtype:
            dtype = np.result_type(inputs, dvalues)
        shape = (inputs.shape[1], dvalues.shape[1])
        dweights = getattr(self, "dweights", None)  # _reusable, inlined: this runs on every step
        if dweights is None or dweights.shape != shape or dweights.dtype != dtype:
            dweights = np.empty(shape, dtype)
        self.dweights = np.matmul(inputs.T, dvalues, out=dweights)
        if self.bias is not None:
            dbiases = getattr(self, "dbiases", None)
            if dbiases is None or dbiases.shape != (1, shape[1]) or dbiases.dtype != dvalues.dtype:
                dbiases = np.empty((1, shape[1]), dvalues.dtype)
            self.dbiases = np.add.reduce(dvalues, axis=0, keepdims=True, out=dbiases)  # np.sum, without its overhead
        if self.regularizer is not None or self.bias_regularizer is not None:
            self._penalize()

    def parameters(self) -> list[np.ndarray]:
        return [self.weights] if self.bias is None else [self.weights, self.bias]

    def gradients(self) -> list[np.ndarray]:
        return [self.dweights] if self.bias is None else [self.dweights, self.dbiases]

    def __repr__(self) -> str:
        bias = "" if self.bias is not None else ", bias=False"
        return f"Dense({self.in_features} → {self.neurons}{bias}{self._penalties_repr()}, name={self.name!r})"


def _reusable(previous: np.ndarray | None, shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
    """``previous`` when it has this shape and dtype (to be overwritten), else a new array."""
    if previous is not None and previous.shape == shape and previous.dtype == dtype:
        return previous
    return np.empty(shape, dtype)
