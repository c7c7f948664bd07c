"""Finite-difference gradients, the reference every backward pass is tested against."""

from __future__ import annotations

from typing import Callable

import numpy as np


def numerical_gradient(f: Callable[[], float], x: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    """Central differences ``(f(x + eps·e_i) − f(x − eps·e_i)) / 2eps`` of the
    scalar ``f()`` w.r.t. every element of ``x``, which is changed in place
    and restored. ``f`` must read ``x`` each time it is called."""
    grad = np.zeros_like(x)
    for index in np.ndindex(x.shape):
        saved = x[index]
        x[index] = saved + eps
        plus = f()
        x[index] = saved - eps
        minus = f()
        x[index] = saved
        grad[index] = (plus - minus) / (2 * eps)
    return grad
