"""Weight penalties (L1 and L2 regularization), in plain NumPy.

A :class:`Penalty` on an array ``w`` adds ``l1·Σ|w| + l2·Σw²`` to the loss,
with Keras's meaning of ``l2``: its gradient is ``2·l2·w``. (Courses that
write the L2 term as ``½·λ·Σw²``, with gradient ``λ·w``, mean ``l2 = λ/2``.)
The gradient of ``|w|`` is ``sign(w)``, 0 at exactly 0, as PyTorch's.

Layers with weights mix in :class:`Regularized`: ``regularizer`` penalises
the weights, ``bias_regularizer`` the bias, each a :class:`Penalty` or None.
The penalties' gradients are added to ``dweights`` and ``dbiases`` at the end
of the layer's backward pass, so an optimiser steps on the gradient of
data loss + penalty; ``regularization_loss()`` is the penalty itself, which
the pipeline adds to the data loss when it reports the loss.
"""

from __future__ import annotations

import math

import numpy as np


class Penalty:
    """``l1·Σ|w| + l2·Σw²`` on one array; gradient ``l1·sign(w) + 2·l2·w``."""

    def __init__(self, l1: float = 0.0, l2: float = 0.0):
        for name, value in (("l1", l1), ("l2", l2)):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
                    or value < 0:
                raise ValueError(f"Received an invalid value for `{name}`, expected a finite number >= 0. "
                                 f"Received: {name}={value!r}")
        self.l1 = float(l1)
        self.l2 = float(l2)
        self._scratch: np.ndarray | None = None

    def __bool__(self) -> bool:
        return bool(self.l1 or self.l2)

    def loss(self, w: np.ndarray) -> float:
        """``l1·Σ|w| + l2·Σw²``."""
        flat = w.reshape(-1)
        total = 0.0
        if self.l1:
            total += self.l1 * float(np.sum(np.abs(flat)))
        if self.l2:
            total += self.l2 * float(np.dot(flat, flat))
        return total

    def add_gradient(self, w: np.ndarray, gradient: np.ndarray) -> None:
        """``gradient += l1·sign(w) + 2·l2·w``, in place, through one reused scratch array."""
        scratch = self._scratch
        if scratch is None or scratch.shape != w.shape or scratch.dtype != gradient.dtype:
            scratch = self._scratch = np.empty(w.shape, gradient.dtype)
        if self.l2:
            gradient += np.multiply(w, 2 * self.l2, out=scratch)
        if self.l1:
            np.sign(w, out=scratch)
            gradient += np.multiply(scratch, self.l1, out=scratch)

    def __repr__(self) -> str:
        return f"Penalty(l1={self.l1!r}, l2={self.l2!r})"


def penalty(l1: float = 0.0, l2: float = 0.0) -> Penalty | None:
    """A :class:`Penalty`, or None when both factors are 0 (nothing to add)."""
    made = Penalty(l1, l2)
    return made if made else None


class Regularized:
    """What a layer with ``weights`` (and maybe ``bias``) gains from penalties.

    Its ``backward_parameters`` calls :meth:`_penalize` after writing
    ``dweights`` and ``dbiases``."""

    regularizer: Penalty | None = None
    bias_regularizer: Penalty | None = None

    def _set_penalties(self, regularizer: Penalty | None, bias_regularizer: Penalty | None) -> None:
        self.regularizer = regularizer if regularizer else None
        self.bias_regularizer = bias_regularizer if bias_regularizer is not None and \
            getattr(self, "bias", None) is not None and bias_regularizer else None

    def regularization_loss(self) -> float:
        """The penalties on the weights and the bias: what they add to the loss."""
        total = 0.0
        if self.regularizer is not None:
            total += self.regularizer.loss(self.weights)
        if self.bias_regularizer is not None:
            total += self.bias_regularizer.loss(self.bias)
        return total

    def _penalize(self) -> None:
        """Add the penalties' gradients to ``dweights`` and ``dbiases``."""
        if self.regularizer is not None:
            self.regularizer.add_gradient(self.weights, self.dweights)
        if self.bias_regularizer is not None:
            self.bias_regularizer.add_gradient(self.bias, self.dbiases)

    def _penalties_repr(self) -> str:
        parts = []
        if self.regularizer is not None:
            parts.append(f", regularizer={self.regularizer!r}")
        if self.bias_regularizer is not None:
            parts.append(f", bias_regularizer={self.bias_regularizer!r}")
        return "".join(parts)
