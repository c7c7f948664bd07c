"""Loss functions, in plain NumPy.

Every loss takes predictions ``y_pred`` (n, k) and targets ``y_true`` and has:

- ``forward(y_pred, y_true)`` -> per-sample losses, shape (n,);
- ``calculate(output, y_true)`` -> the mean loss, a float (the tutorial's name);
- ``backward(dvalues, y_true)`` -> ``dinputs`` (n, k), the gradient of the
  *mean* loss w.r.t. the predictions ``dvalues``, also kept in ``self.dinputs``.

Targets are assumed already checked (shapes match, labels are in range); float
targets are cast to the predictions' dtype, so float32 stays float32.
Probabilities are clipped to [1e-7, 1 - 1e-7] before any log, as in the classic
formulation; with ``from_logits=True`` the losses take raw scores and use
stable log-softmax / log-sigmoid forms instead, without clipping.

When a network ends in Softmax + CategoricalCrossentropy or Sigmoid +
BinaryCrossentropy, the pipeline uses the fused gradients
:func:`softmax_crossentropy_backward` and
:func:`sigmoid_binary_crossentropy_backward` instead of chaining the two
backward passes.

``LOSSES`` maps each loss's spec name to its class.
"""

from __future__ import annotations

import numpy as np

from netspec.runtime.activations import sigmoid, softmax

EPSILON = 1e-7


def _clip(probabilities: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """``np.clip(probabilities, EPSILON, 1 - EPSILON)``, the same values (NaN
    stays NaN) through two ufuncs, without ``np.clip``'s per-call overhead."""
    return np.minimum(np.maximum(probabilities, EPSILON, out=out), 1 - EPSILON, out=out)


def mean(values: np.ndarray) -> float:
    """``float(np.mean(values))`` over every value, bit for bit, without
    ``np.mean``'s Python-level overhead (a few µs, much of a small step):
    the same pairwise sum, divided by the count as ``np.mean`` divides it
    (in float64, then rounded to the array's float type). Float arrays only."""
    total = np.add.reduce(values, axis=None)
    return float(total.dtype.type(float(total) / values.size))


def _log_softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - np.max(logits, axis=1, keepdims=True)
    return shifted - np.log(np.sum(np.exp(shifted), axis=1, keepdims=True))


def label_positions(values: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Where each row's label is in ``values`` (n, k) read flat (C order):
    ``i * k + labels[i]``. One index array instead of the pair
    ``(arange(n), labels)``, which NumPy's fancy indexing serves more slowly;
    a training step computes it once for the loss (:func:`picked_crossentropy`)
    and the fused gradient."""
    return np.arange(0, values.size, values.shape[1]) + labels


def _as_rows(y_true: np.ndarray, like: np.ndarray) -> np.ndarray:
    """Targets as rows (n, k) in ``like``'s dtype: int labels (n,) become one-hot."""
    if y_true.ndim == 1:
        rows = np.zeros_like(like)
        rows[np.arange(len(like)), y_true] = 1
        return rows
    return y_true.astype(like.dtype, copy=False)


def picked_crossentropy(probs: np.ndarray, positions: np.ndarray) -> np.ndarray:
    """Per-sample categorical cross-entropy ``-log(clip(probs[i, label_i]))``,
    the labels given as :func:`label_positions`: only each sample's own class
    is clipped and logged, n values, not n * k."""
    picked = probs.take(positions)  # the method: np.take's Python wrapper costs a µs
    return np.negative(np.log(_clip(picked, out=picked), out=picked), out=picked)


def softmax_crossentropy_backward(probs: np.ndarray, y_true: np.ndarray,
                                  positions: np.ndarray | None = None) -> np.ndarray:
    """Gradient of the mean categorical cross-entropy w.r.t. the *inputs of a
    Softmax*, given its output ``probs`` (n, k): ``(probs - onehot(y_true)) / n``.

    ``y_true`` is int labels (n,) or probability rows (n, k). This equals
    ``Softmax.backward(CategoricalCrossentropy().backward(probs, y_true))``
    wherever ``probs`` lies inside the clipping range [1e-7, 1 - 1e-7], and is
    cheaper and better conditioned. ``positions``: int labels' positions
    from :func:`label_positions`, when already computed (for the loss).
    """
    if y_true.ndim == 1:  # the tutorial's way: subtract 1 at each label, no one-hot array
        dinputs = probs.copy()
        dinputs.reshape(-1)[label_positions(dinputs, y_true) if positions is None else positions] -= 1
        dinputs /= len(probs)
        return dinputs
    return (probs - _as_rows(y_true, probs)) / len(probs)


def sigmoid_binary_crossentropy_backward(probs: np.ndarray, y_true: np.ndarray) -> np.ndarray:
    """Gradient of the mean binary cross-entropy w.r.t. the *inputs of a
    Sigmoid*, given its output ``probs`` (n, k): ``(probs - y_true) / (n * k)``.

    This equals ``Sigmoid.backward(BinaryCrossentropy().backward(probs, y_true))``
    wherever ``probs`` lies inside the clipping range [1e-7, 1 - 1e-7].
    """
    y_true = y_true.astype(probs.dtype, copy=False)
    return (probs - y_true) / probs.size


class Loss:
    """What every loss shares: ``calculate`` and a short repr."""

    def calculate(self, output: np.ndarray, y_true: np.ndarray) -> float:
        """Mean of the per-sample losses."""
        return mean(self.forward(output, y_true))

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class MeanSquaredError(Loss):
    """Per sample: ``mean((y_true - y_pred) ** 2)`` over the k outputs.

    Backward: ``-2 * (y_true - y_pred) / k / n``. Targets (n, k).
    """

    def forward(self, y_pred: np.ndarray, y_true: np.ndarray) -> np.ndarray:
        y_true = y_true.astype(y_pred.dtype, copy=False)
        return np.mean((y_true - y_pred) ** 2, axis=-1)

    def backward(self, dvalues: np.ndarray, y_true: np.ndarray) -> np.ndarray:
        samples, outputs = dvalues.shape
        y_true = y_true.astype(dvalues.dtype, copy=False)
        self.dinputs = -2 * (y_true - dvalues) / outputs / samples
        return self.dinputs


class MeanAbsoluteError(Loss):
    """Per sample: ``mean(|y_true - y_pred|)`` over the k outputs.

    Backward: ``sign(y_pred - y_true) / k / n``, 0 where they are equal (as
    PyTorch). Targets (n, k).
    """

    def forward(self, y_pred: np.ndarray, y_true: np.ndarray) -> np.ndarray:
        y_true = y_true.astype(y_pred.dtype, copy=False)
        return np.mean(np.abs(y_true - y_pred), axis=-1)

    def backward(self, dvalues: np.ndarray, y_true: np.ndarray) -> np.ndarray:
        samples, outputs = dvalues.shape
        y_true = y_true.astype(dvalues.dtype, copy=False)
        self.dinputs = np.sign(dvalues - y_true) / outputs / samples
        return self.dinputs


class CategoricalCrossentropy(Loss):
    """Per sample: ``-sum(y_true * log(clip(y_pred)))`` over the k classes, i.e.
    ``-log(clip(y_pred)[label])`` for int labels (n,) or one-hot rows (n, k);
    probability rows (n, k) give the full cross-entropy.

    Backward: ``-y_true / clip(y_pred) / n``, with the same clipped predictions
    as forward (so a prediction of exactly 0 gets a finite gradient).

    With ``from_logits=True``, ``y_pred`` are raw scores z: the loss is
    ``-sum(y_true * log_softmax(z))`` with a stable log-softmax, and backward is
    ``(softmax(z) - y_true) / n`` (targets rows summing to 1); no clipping.
    """

    def __init__(self, from_logits: bool = False):
        self.from_logits = from_logits

    def forward(self, y_pred: np.ndarray, y_true: np.ndarray) -> np.ndarray:
        if y_true.ndim == 1 and not self.from_logits:  # only each sample's own class: clip and log n values, not n * k
            return picked_crossentropy(y_pred, label_positions(y_pred, y_true))
        log_probs = _log_softmax(y_pred) if self.from_logits else np.log(_clip(y_pred))
        if y_true.ndim == 1:
            return -log_probs[np.arange(len(log_probs)), y_true]
        return -np.sum(y_true.astype(y_pred.dtype, copy=False) * log_probs, axis=1)

    def backward(self, dvalues: np.ndarray, y_true: np.ndarray) -> np.ndarray:
        if self.from_logits:
            self.dinputs = softmax_crossentropy_backward(softmax(dvalues), y_true)
        else:
            self.dinputs = -_as_rows(y_true, dvalues) / _clip(dvalues) / len(dvalues)
        return self.dinputs

    def __repr__(self) -> str:
        return f"CategoricalCrossentropy(from_logits={self.from_logits})"


class BinaryCrossentropy(Loss):
    """Per sample, over the k outputs:
    ``mean(-(y_true * log(p) + (1 - y_true) * log(1 - p)))`` with
    ``p = clip(y_pred)``. Targets (n, k) of 0/1 or probabilities.

    Backward: ``-(y_true / p - (1 - y_true) / (1 - p)) / k / n``, with the same
    clipped p as forward.

    With ``from_logits=True``, ``y_pred`` are raw scores z and the loss is the
    stable ``max(z, 0) - z * y_true + log(1 + exp(-|z|))`` (PyTorch's
    BCEWithLogitsLoss); backward is ``(sigmoid(z) - y_true) / (n * k)``.
    """

    def __init__(self, from_logits: bool = False):
        self.from_logits = from_logits

    def forward(self, y_pred: np.ndarray, y_true: np.ndarray) -> np.ndarray:
        y_true = y_true.astype(y_pred.dtype, copy=False)
        if self.from_logits:
            z = y_pred
            losses = np.maximum(z, 0) - z * y_true + np.log1p(np.exp(-np.abs(z)))
        else:
            p = _clip(y_pred)
            losses = -(y_true * np.log(p) + (1 - y_true) * np.log(1 - p))
        return np.mean(losses, axis=-1)

    def backward(self, dvalues: np.ndarray, y_true: np.ndarray) -> np.ndarray:
        if self.from_logits:
            self.dinputs = sigmoid_binary_crossentropy_backward(sigmoid(dvalues), y_true)
        else:
            samples, outputs = dvalues.shape
            y_true = y_true.astype(dvalues.dtype, copy=False)
            p = _clip(dvalues)
            self.dinputs = -(y_true / p - (1 - y_true) / (1 - p)) / outputs / samples
        return self.dinputs

    def __repr__(self) -> str:
        return f"BinaryCrossentropy(from_logits={self.from_logits})"


LOSSES: dict[str, type[Loss]] = {
    "mse": MeanSquaredError,
    "mae": MeanAbsoluteError,
    "categorical_crossentropy": CategoricalCrossentropy,
    "binary_crossentropy": BinaryCrossentropy,
}
