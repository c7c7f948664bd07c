"""Parameter initializers, in plain NumPy.

Each initializer is ``(shape, rng, dtype, **options) -> ndarray``: it draws in
float64 from ``rng`` and casts to ``dtype``. The fans that scale Glorot and He
come from :func:`fans`: for dense weights (in_features, neurons),
``fan_in = shape[0]`` and ``fan_out = shape[1]``; for convolution kernels
(*kernel, in_channels, filters), with ``receptive = prod(kernel)``,
``fan_in = receptive · in_channels`` and ``fan_out = receptive · filters``.

``rng`` is a ``numpy.random.Generator`` or, to reproduce tutorials written
against ``np.random.seed(seed)``, a legacy ``numpy.random.RandomState``. With a
RandomState each initializer makes exactly one draw call (``rand`` or
``randn`` of the whole shape; ``zeros`` none), so
``np.random.seed(0); W = 0.1 * np.random.rand(4, 10)`` equals
``uniform((4, 10), np.random.RandomState(0), np.float64, low=0, high=0.1)``
bit for bit, layer after layer.

``INITIALIZERS`` maps each initializer's spec name to its function.
"""

from __future__ import annotations

import math
from typing import Callable, Union

import numpy as np

Rng = Union[np.random.Generator, np.random.RandomState]


def uniform(shape: tuple[int, ...], rng: Rng, dtype: np.dtype, *, low: float, high: float) -> np.ndarray:
    """Uniform on [low, high): legacy ``low + (high - low) * rng.rand(*shape)``,
    else ``rng.uniform(low, high, shape)``.

    With ``low == 0`` the legacy form is exactly the tutorial's ``high * rand``:
    ``high - 0`` and ``0 + x`` are exact in floating point.
    """
    if isinstance(rng, np.random.RandomState):
        values = low + (high - low) * rng.rand(*shape)
    else:
        values = rng.uniform(low, high, shape)
    return values.astype(dtype)


def normal(shape: tuple[int, ...], rng: Rng, dtype: np.dtype, *, mean: float, std: float) -> np.ndarray:
    """Normal with mean ``mean`` and standard deviation ``std``: legacy
    ``mean + std * rng.randn(*shape)`` (the tutorial's ``0.01 * randn`` when
    ``mean == 0``), else ``rng.normal(mean, std, shape)``."""
    if isinstance(rng, np.random.RandomState):
        values = mean + std * rng.randn(*shape)
    else:
        values = rng.normal(mean, std, shape)
    return values.astype(dtype)


def fans(shape: tuple[int, ...]) -> tuple[int, int]:
    """``(fan_in, fan_out)`` of a weight array of this shape.

    (in_features, neurons): ``(shape[0], shape[1])``. (*kernel, in_channels,
    out_channels), a convolution kernel with one or more spatial axes:
    ``receptive = prod(kernel)``, ``(receptive · in_channels, receptive ·
    out_channels)``. One axis (n,): ``(n, n)``.
    """
    shape = tuple(int(d) for d in shape)
    if len(shape) == 0:
        raise ValueError("fans: expected a weight shape of rank 1 or more; received ()")
    if len(shape) == 1:
        return shape[0], shape[0]
    receptive = math.prod(shape[:-2])
    return receptive * shape[-2], receptive * shape[-1]


def glorot_uniform(shape: tuple[int, ...], rng: Rng, dtype: np.dtype) -> np.ndarray:
    """Glorot (Xavier) uniform: uniform on [-limit, limit) with
    ``limit = sqrt(6 / (fan_in + fan_out))``, fans from :func:`fans`."""
    fan_in, fan_out = fans(shape)
    limit = np.sqrt(6 / (fan_in + fan_out))
    return uniform(shape, rng, dtype, low=-limit, high=limit)


def he_normal(shape: tuple[int, ...], rng: Rng, dtype: np.dtype) -> np.ndarray:
    """He (Kaiming) normal: normal with mean 0 and ``std = sqrt(2 / fan_in)``,
    fan_in from :func:`fans`, untruncated as PyTorch's ``kaiming_normal_``
    (Keras truncates)."""
    return normal(shape, rng, dtype, mean=0.0, std=np.sqrt(2 / fans(shape)[0]))


def zeros(shape: tuple[int, ...], rng: Rng, dtype: np.dtype) -> np.ndarray:
    """All zeros; draws nothing from ``rng``."""
    return np.zeros(shape, dtype=dtype)


INITIALIZERS: dict[str, Callable[..., np.ndarray]] = {
    "uniform": uniform,
    "normal": normal,
    "glorot_uniform": glorot_uniform,
    "he_normal": he_normal,
    "zeros": zeros,
}
