"""Running a network that is a graph rather than a chain.

A :class:`Graph` is the wiring of a pipeline's layers, which are kept in a
topological order: the network's inputs are values ``0 .. m-1`` and layer
``i``'s output is value ``m + i``; ``sources[i]`` lists the values layer
``i`` reads (two or more for a merge layer, whose ``forward`` takes a list).
Forward runs the layers in order; backward runs them in reverse, summing
the gradients where a value fans out to several layers.

Several inputs travel together as :class:`Inputs`, a mapping of input names
to arrays with the same number of rows that slices like one array, so the
training loop batches and shuffles them as it does a single ``X``.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from ..errors import DataError
from .checks import as_inputs


class Inputs:
    """Named input arrays of ``n`` rows each: ``len()`` is ``n`` and
    ``inputs[rows]`` selects the same rows of every array."""

    def __init__(self, arrays: dict[str, np.ndarray]):
        self.arrays = arrays

    def __len__(self) -> int:
        return len(next(iter(self.arrays.values())))

    def __getitem__(self, rows: Any) -> "Inputs":
        return Inputs({name: array[rows] for name, array in self.arrays.items()})

    def __repr__(self) -> str:
        shapes = ", ".join(f"{name}: {array.shape}" for name, array in self.arrays.items())
        return f"Inputs({shapes})"


def as_named_inputs(X: Any, shapes: Mapping[str, tuple[int, ...]], dtype: Any) -> Inputs:
    """``X``, a mapping of each input's name to its array, checked as
    :func:`~netspec.runtime.checks.as_inputs` checks one, with the same
    number of rows in each; an :class:`Inputs` passes as it is."""
    if isinstance(X, Inputs):
        return X
    if not isinstance(X, Mapping):
        raise DataError(f"the network has {len(shapes)} inputs ({', '.join(shapes)}); pass X as a mapping "
                        f"of each input's name to its array, got {type(X).__name__}")
    unknown = [name for name in X if name not in shapes]
    if unknown:
        close = difflib.get_close_matches(str(unknown[0]), list(shapes), n=1)
        raise DataError(f"X has an array for {unknown[0]!r}, which is not an input of the network"
                        + (f' (did you mean "{close[0]}"?)' if close else f" (inputs: {', '.join(shapes)})"))
    missing = [name for name in shapes if name not in X]
    if missing:
        raise DataError(f"X has no array for the input {missing[0]!r} (inputs: {', '.join(shapes)})")
    arrays = {}
    for name, shape in shapes.items():
        try:
            arrays[name] = as_inputs(X[name], shape, dtype)
        except DataError as error:
            raise DataError(f"input {name!r}: {error}") from None
    rows = {name: len(array) for name, array in arrays.items()}
    if len(set(rows.values())) > 1:
        raise DataError("the inputs have different numbers of rows: "
                        + ", ".join(f"{name} {count}" for name, count in rows.items()))
    return Inputs(arrays)


@dataclass
class Graph:
    """The wiring of a pipeline's layers (see the module docstring):
    ``inputs`` maps input names to shapes, in value order; ``sources[i]``
    the values layer ``i`` reads; ``output`` the index of the output layer."""

    inputs: dict[str, tuple[int, ...]]
    sources: Sequence[tuple[int, ...]]
    output: int

    def run(self, layers: Sequence[Any], X: Any, training: bool = False) -> np.ndarray:
        """Every layer's forward pass in order; returns the output layer's output."""
        values: list[Any] = list(X.arrays.values()) if isinstance(X, Inputs) else [X]
        for layer, sources in zip(layers, self.sources):
            received = [values[s] for s in sources] if len(sources) > 1 else values[sources[0]]
            values.append(layer.forward(received, training=training))
        return values[len(self.inputs) + self.output]

    def backward(self, layers: Sequence[Any], loss: Any, targets: np.ndarray,
                 fused: Mapping[tuple[type, type], Callable[..., np.ndarray]],
                 weights: np.ndarray | None = None) -> None:
        """Every layer's gradients for the mean loss of the last forward pass
        (with ``weights``, one per sample, of the weighted mean loss).

        The output layer's gradient comes from the loss (fused with softmax
        or sigmoid as in a chain); each layer's ``dvalues`` is the sum over
        the layers that read it. A layer no path leads from to the output gets
        zero gradients; a layer that reads only inputs skips the gradient
        with respect to them when it can (``backward_parameters``)."""
        first = len(self.inputs)
        gradients: list[np.ndarray | None] = [None] * (first + len(layers))
        last = layers[self.output]
        fuse = fused.get((type(last), type(loss)))
        if fuse is not None and not loss.from_logits:
            last.dinputs = _weighted(fuse(last.output, targets), weights)
            _add(gradients, self.sources[self.output][0], last.dinputs)
        else:
            gradients[first + self.output] = _weighted(loss.backward(last.output, targets), weights)
        for index in range(len(layers) - 1, -1, -1):
            if index == self.output and fuse is not None and not loss.from_logits:
                continue
            layer, sources, dvalues = layers[index], self.sources[index], gradients[first + index]
            if dvalues is None:
                if layer.parameters():  # nothing it gives reaches the output
                    _backward_parameters(layer, np.zeros_like(layer.output))
                continue
            if len(sources) == 1 and sources[0] < first and hasattr(layer, "backward_parameters"):
                layer.backward_parameters(dvalues)
                continue
            received = layer.backward(dvalues)
            for source, gradient in zip(sources, received if len(sources) > 1 else [received]):
                if source >= first:
                    _add(gradients, source, gradient)


def _weighted(dvalues: np.ndarray, weights: np.ndarray | None) -> np.ndarray:
    """Each sample's (row's) gradient times its weight."""
    return dvalues * weights[:, None] if weights is not None else dvalues


def _add(gradients: list[np.ndarray | None], index: int, gradient: np.ndarray) -> None:
    """Sum ``gradient`` into ``gradients[index]``, never writing into an array a layer keeps."""
    previous = gradients[index]
    gradients[index] = gradient if previous is None else previous + gradient


def _backward_parameters(layer: Any, dvalues: np.ndarray) -> None:
    if hasattr(layer, "backward_parameters"):
        layer.backward_parameters(dvalues)
    else:
        layer.backward(dvalues)
