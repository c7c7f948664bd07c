"""One contiguous buffer for a small network's parameters, one for its gradients.

A small net's training step is mostly per-array overhead: the finiteness
check took one dot product per gradient array, plain SGD one update per
parameter array. :func:`pack` (run by :func:`netspec.compile` on the layers
it has just built, before anyone holds their arrays) moves every dense
layer's ``weights`` and ``bias`` into views of one buffer, and seeds its
``dweights`` and ``dbiases`` with views of a second one, which
:class:`~netspec.runtime.layers.Dense` then writes into on every backward
pass. The training step then checks all the gradients with one dot product
and, with plain SGD, updates all the parameters with one ``p -= lr * g``:
the same elementwise operations, the same values bit for bit.

Each view starts on a 64-byte boundary; the padding between them is zero in
both buffers and stays zero (``0 - lr * 0``). Nothing relies on the views
staying views: :meth:`Flat.intact` checks, on every step, that the arrays the
layers hold are still the views (a checkpoint load, early stopping and the
interop code write into the arrays in place; user code that rebinds
``layer.weights``, or a copied or unpickled pipeline, whose arrays are no
longer views of the buffer, makes it false), and the step then takes the
per-array path, as for any network not packed.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from .layers import Dense

LIMIT = 16384  # pack networks of up to this many parameter values: larger ones gain nothing measurable
ALIGNMENT = 64  # bytes


class Flat:
    """The two buffers, the layers they belong to (``layers``: the pipeline's
    whole list, as packed) and the views the dense layers were given, in the
    order of ``Pipeline.parameters()`` and ``Pipeline.gradients()``."""

    def __init__(self, layers: Sequence[Any], parameters: np.ndarray, gradients: np.ndarray,
                 parameter_views: list[np.ndarray], gradient_views: list[np.ndarray]):
        self.layers = list(layers)
        self.parameters = parameters
        self.gradients = gradients
        self.parameter_views = parameter_views
        self.gradient_views = gradient_views
        self._owners = (_owner(parameters), _owner(gradients))  # what every view's ``.base`` is
        views = iter(zip(parameter_views, gradient_views))
        self._dense = []  # per dense layer: (layer, weights, dweights, bias, dbiases), what intact() checks
        for layer in self.layers:
            if type(layer) is Dense:
                weights, dweights = next(views)
                bias, dbiases = next(views) if layer.bias is not None else (None, None)
                self._dense.append((layer, weights, dweights, bias, dbiases))

    def intact(self, layers: Sequence[Any]) -> bool:
        """True when ``layers`` (the pipeline's, on this step) are still the
        layers packed and each holds, as its parameters and its gradients,
        exactly the views of the two buffers it was given (a layer without a
        bias still has none: one added later is not in the buffer)."""
        if layers != self.layers:  # identity of each layer: layers define no __eq__
            return False
        owner, gradient_owner = self._owners
        for layer, weights, dweights, bias, dbiases in self._dense:
            array, gradient = layer.weights, layer.dweights
            if array is not weights or gradient is not dweights or array.base is not owner \
                    or gradient.base is not gradient_owner:
                return False
            array = layer.bias
            if array is not bias:
                return False
            if bias is not None:
                gradient = layer.dbiases
                if gradient is not dbiases or array.base is not owner or gradient.base is not gradient_owner:
                    return False
        return True

    def __repr__(self) -> str:
        return f"Flat({len(self.parameter_views)} arrays, {self.parameters.size} values, {self.parameters.dtype})"


def pack(layers: Sequence[Any], dtype: np.dtype, limit: int = LIMIT) -> Flat | None:
    """Move the parameters of ``layers`` into one buffer and seed their
    gradients with views of another (see the module's description); None,
    changing nothing, unless every layer with parameters is a
    :class:`~netspec.runtime.layers.Dense` of ``dtype`` and they hold at most
    ``limit`` values in all. The parameters keep their values exactly."""
    dtype = np.dtype(dtype)
    dense = []
    for layer in layers:
        if type(layer) is Dense:
            dense.append(layer)
        elif _has_parameters(layer):
            return None
    arrays = [a for layer in dense for a in layer.parameters()]
    if not arrays or any(a.dtype != dtype for a in arrays) or sum(a.size for a in arrays) > limit:
        return None
    step = max(1, ALIGNMENT // dtype.itemsize)
    offsets, end = [], 0
    for array in arrays:
        offsets.append(end)
        end += -(-array.size // step) * step
    parameters, gradients = _aligned(end, dtype), _aligned(end, dtype)
    views = [_view(parameters, offset, array) for offset, array in zip(offsets, arrays)]
    gradient_views = [_view(gradients, offset, array) for offset, array in zip(offsets, arrays)]
    for view, array in zip(views, arrays):
        view[...] = array
    taken = iter(zip(views, gradient_views))
    for layer in dense:
        layer.weights, layer.dweights = next(taken)
        if layer.bias is not None:
            layer.bias, layer.dbiases = next(taken)
    return Flat(layers, parameters, gradients, views, gradient_views)


def _has_parameters(layer: Any) -> bool:
    return bool(layer.parameters()) if hasattr(layer, "parameters") else False


def _owner(array: np.ndarray) -> np.ndarray:
    return array if array.base is None else array.base


def _aligned(size: int, dtype: np.dtype) -> np.ndarray:
    """A zeroed 1-D array of ``size`` values starting on an ``ALIGNMENT``-byte boundary."""
    raw = np.zeros(size * dtype.itemsize + ALIGNMENT, np.uint8)
    start = -raw.ctypes.data % ALIGNMENT
    return raw[start:start + size * dtype.itemsize].view(dtype)


def _view(buffer: np.ndarray, offset: int, like: np.ndarray) -> np.ndarray:
    return buffer[offset:offset + like.size].reshape(like.shape)
