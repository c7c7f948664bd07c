"""Gradient clipping before each optimiser step, in plain NumPy, as PyTorch clips."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

CLIP_EPSILON = 1e-6  # added to a norm before dividing by it, as PyTorch's clip_grad_norm_ does


@dataclass(frozen=True)
class Clipping:
    """Gradient clipping before each optimiser step, at most one kind:

    - ``norm``: each gradient array ``g`` times ``norm / (‖g‖ + 1e-6)`` when that is below 1;
    - ``global_norm``: every gradient times ``global_norm / (‖all‖ + 1e-6)``
      when that is below 1, ``‖all‖`` the norm of all of them together
      (``torch.nn.utils.clip_grad_norm_``);
    - ``value``: each value into [−value, value] (``clip_grad_value_``).
    """

    norm: float | None = None
    global_norm: float | None = None
    value: float | None = None

    def __call__(self, gradients: list[np.ndarray]) -> None:
        """Clip ``gradients`` in place."""
        if self.norm is not None:
            for gradient in gradients:
                _scale(gradient, self.norm / (_norm(gradient) + CLIP_EPSILON))
        elif self.global_norm is not None:
            total = math.sqrt(sum(_norm(g) ** 2 for g in gradients))
            coefficient = self.global_norm / (total + CLIP_EPSILON)
            for gradient in gradients:
                _scale(gradient, coefficient)
        elif self.value is not None:
            for gradient in gradients:
                np.clip(gradient, -self.value, self.value, out=gradient)


def _norm(gradient: np.ndarray) -> float:
    flat = gradient.reshape(-1)
    return math.sqrt(float(np.dot(flat, flat)))


def _scale(gradient: np.ndarray, coefficient: float) -> None:
    if coefficient < 1:
        gradient *= coefficient
