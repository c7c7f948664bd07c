"""The compiled network: plain Python objects holding NumPy arrays.

A :class:`Pipeline` runs its layers in order, keeps every layer's last
``.output`` as the tutorial's classes do, and checks data at the door so a
wrong column count or a label out of range is a :class:`~netspec.errors.DataError`
naming what was expected, never a NumPy broadcasting traceback.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from ..errors import DataError
from .activations import Sigmoid, Softmax
from .checks import as_inputs, as_sample_weights, as_targets
from .graph import Graph, as_named_inputs
from .losses import (
    BinaryCrossentropy,
    CategoricalCrossentropy,
    sigmoid_binary_crossentropy_backward,
    softmax_crossentropy_backward,
)
from .streaming import evaluate as streamed_evaluate
from .streaming import fit as streamed_fit
from .streaming import is_dask, is_streamed, lazy_forward
from .training import History, TrainingConfig, fit, metric_values

# Output layer + loss pairs whose gradient is taken in one fused step.
FUSED = {
    (Softmax, CategoricalCrossentropy): softmax_crossentropy_backward,
    (Sigmoid, BinaryCrossentropy): sigmoid_binary_crossentropy_backward,
}


@dataclass
class TrainingState:
    """What carries over between ``fit`` calls and through checkpoints: epochs
    done, the shuffle generator, and a ``reduce_on_plateau`` schedule's state."""

    epoch: int = 0
    shuffle_rng: np.random.Generator | None = None
    schedule: Any = None  # netspec.runtime.schedules.PlateauState


class Pipeline:
    """A network compiled from a spec: ``layers`` run in order, then ``loss_function``.

    - ``forward(X)`` -> output (n, *output_shape), for X of (n, *input_shape);
    - ``loss(X, y)`` -> the mean loss of the forward pass;
    - ``predict(X)`` -> class indices (n,) for classification, 0/1 labels for
      binary outputs, values (n, *output_shape) otherwise;
    - ``parameters()`` -> every trainable array, in layer order; ``buffers()``
      -> every non-trainable array (batch normalization's moving averages);
    - ``regularization_loss()`` -> the layers' weight penalties, which
      training adds to the data loss;
    - ``summary()`` -> the layer table (the same as ``netspec summary``);
    - ``fit(X, y, **overrides)`` -> a :class:`History`; ``evaluate(X, y)``;
    - ``save(path)``; restore with :func:`netspec.load_pipeline`;
    - ``to_onnx(path)``, ``to_torch()``: the network for ONNX Runtime and
      PyTorch (:mod:`netspec.interop`).

    ``warnings`` holds the spec's lints (never raised). ``spec`` is the
    canonical spec as a plain dict. ``optimizer`` and ``training`` come from
    the spec's ``train`` section (Adam and the defaults when it has none).
    ``random`` is the spec's random source, which drew the weights and draws
    dropout's masks in training (None when built by hand). ``flat``: for a
    small net of dense layers compiled from a spec, its parameters' and
    gradients' buffers (:mod:`netspec.runtime.flat`), which let a training
    step check and update them in one operation each; None otherwise.
    """

    def __init__(self, layers: Sequence[Any], loss_function: Any | None, *, input_shape: tuple[int, ...] | None,
                 output_shape: tuple[int, ...], dtype: np.dtype, task: str, spec: dict, summary: str,
                 warnings: Sequence[Any] = (), optimizer: Any = None,
                 training: TrainingConfig = TrainingConfig(), graph: Graph | None = None,
                 random: np.random.Generator | np.random.RandomState | None = None):
        self.layers = list(layers)
        self.graph = graph
        self.loss_function = loss_function
        self.optimizer = optimizer
        self.training = training
        self.state = TrainingState()
        self.random = random
        self.flat = None  # a small dense net's buffers (netspec.runtime.flat), set by compile
        # True when a layer has a weight penalty (then losses add regularization_loss()); each step reads it.
        self.regularized = any(getattr(layer, "regularizer", None) is not None
                               or getattr(layer, "bias_regularizer", None) is not None for layer in self.layers)
        self.input_shapes = graph.inputs if graph is not None else {"input": tuple(input_shape)}
        self.input_shape = tuple(input_shape) if input_shape is not None else None
        self.output_shape = tuple(output_shape)
        self.dtype = np.dtype(dtype)
        self.task = task
        self.spec = spec
        self.warnings = list(warnings)
        self._summary = summary

    @property
    def input_features(self) -> int:
        """Values per sample of the inputs (the width, for a vector input)."""
        return sum(int(np.prod(shape)) for shape in self.input_shapes.values())

    @property
    def output_features(self) -> int:
        """Values per sample of the output (the width, for a vector output)."""
        return int(np.prod(self.output_shape))

    @property
    def output(self) -> np.ndarray | None:
        """The output layer's output from the latest forward pass."""
        if self.graph is not None:
            return self.layers[self.graph.output].output
        return self.layers[-1].output if self.layers else None

    def forward(self, X: Any, training: bool = False) -> np.ndarray:
        """Check ``X`` (n, *input_shape), or for several inputs a mapping of each
        input's name to its array, run every layer on it, return the output.
        A ``dask.array.Array`` gives a lazy dask array, computed chunk by chunk
        along the rows (:func:`netspec.runtime.streaming.lazy_forward`)."""
        if is_dask(X):
            return lazy_forward(self, X, training)
        return self.run(self.checked(X), training)

    def checked(self, X: Any) -> Any:
        """``X`` checked at the door: an array, or :class:`~netspec.runtime.graph.Inputs` for several inputs."""
        if self.input_shape is not None and not isinstance(X, dict):
            return as_inputs(X, self.input_shape, self.dtype)
        named = as_named_inputs(X, self.input_shapes, self.dtype)
        return named if self.graph is not None else named.arrays["input"]  # a chain's layers take the array

    def run(self, X: Any, training: bool = False) -> np.ndarray:
        """Run every layer on already checked inputs (the hot path of training);
        a chain runs its layers in order, a graph in its topological order."""
        if self.graph is not None:
            return self.graph.run(self.layers, X, training)
        output = X
        for layer in self.layers:
            output = layer.forward(output, training=training)
        return output

    def backward(self, targets: np.ndarray, weights: np.ndarray | None = None,
                 positions: np.ndarray | None = None) -> None:
        """Backpropagate the mean loss of the last forward pass against checked
        ``targets``: every layer's parameter gradients, and ``dinputs`` of all
        but the first layer, are set. (The gradient w.r.t. the data is never
        needed; a first layer with ``backward_parameters`` skips it, as
        PyTorch does, which saves a matrix product per step.) With
        ``weights`` (one per sample), of ``mean(weights · loss_i)``: each
        sample's gradient times its weight. Layers with penalties add their
        gradients.

        A network ending in softmax + categorical cross-entropy (or sigmoid +
        binary cross-entropy) uses the fused gradient ``(p − y)/n``. A graph
        sums the gradients where an output fans out to several layers.
        ``positions``: the labels' positions the loss used
        (:func:`~netspec.runtime.losses.label_positions`), for the fused
        softmax gradient of a chain, which then does not compute them again."""
        if self.graph is not None:
            return self.graph.backward(self.layers, self.loss_function, targets, FUSED, weights)
        last = self.layers[-1]
        fused = FUSED.get((type(last), type(self.loss_function)))
        if fused is not None and not self.loss_function.from_logits:
            dvalues = fused(last.output, targets) if positions is None else fused(last.output, targets, positions)
            last.dinputs = dvalues = dvalues * weights[:, None] if weights is not None else dvalues
            layers = self.layers[:-1]
        else:
            dvalues = self.loss_function.backward(last.output, targets)
            dvalues = dvalues * weights[:, None] if weights is not None else dvalues
            layers = self.layers
        for index in range(len(layers) - 1, -1, -1):
            layer = layers[index]
            if index == 0 and hasattr(layer, "backward_parameters"):
                layer.backward_parameters(dvalues)
            else:
                dvalues = layer.backward(dvalues)

    def gradients(self) -> list[np.ndarray]:
        """The gradients of the last backward pass, in the order of :meth:`parameters`."""
        return [g for layer in self.layers for g in layer.gradients()]

    def fit(self, X: Any, y: Any, *, verbose: int = 1, stream: Any = None, on_epoch: Any = None,
            sample_weight: Any = None, validation_data: tuple[Any, Any] | None = None, **overrides: Any) -> History:
        """Train on ``X`` and ``y``; ``overrides`` replace the spec's training
        options (``epochs``, ``batch_size``, ``shuffle``, ``seed``,
        ``validation_split``, ``metrics``, ``class_weight``, ...).
        ``verbose=0`` is silent. ``sample_weight``: one weight per row of ``X``,
        multiplying that sample's loss (and its class's weight). ``validation_data``:
        ``(X_val, y_val)`` to validate on, instead of ``validation_split`` of the rows.

        ``X`` or ``y`` a dask array, a memory map (``np.load(path, mmap_mode="r")``)
        or a zarr array: read chunk by chunk, shuffling chunks and rows within a
        buffer of chunks, never all in memory (:mod:`netspec.runtime.streaming`)."""
        if self.loss_function is None:
            raise _no_loss()
        config = self.training.with_overrides(**overrides)
        if is_streamed(X) or is_streamed(y):  # larger than memory: read in chunks (netspec.runtime.streaming)
            return streamed_fit(self, X, y, config, verbose=verbose, stream=stream, on_epoch=on_epoch,
                                validation_data=validation_data, sample_weight=sample_weight)
        X = self.checked(X)
        weights = as_sample_weights(sample_weight, len(X), self.dtype) if sample_weight is not None else None
        validation = None
        if validation_data is not None:
            X_val = self.checked(validation_data[0])
            validation = (X_val, self.targets(validation_data[1], len(X_val)))
        return fit(self, X, self.targets(y, len(X)), config, verbose=verbose, stream=stream, on_epoch=on_epoch,
                   validation=validation, sample_weight=weights)

    def evaluate(self, X: Any, y: Any, metrics: Sequence[str] | None = None) -> dict[str, float]:
        """The loss and metrics (the spec's, unless given) on ``X`` and ``y``, in
        inference mode. With penalties, ``loss`` includes them, and
        ``data_loss`` and ``regularization_loss`` are given too. Dask, zarr or
        memory-mapped ``X``/``y`` are read and summed chunk by chunk."""
        if self.loss_function is None:
            raise _no_loss()
        chosen = tuple(self.training.metrics if metrics is None else metrics)
        penalty = self.regularization_loss() if self.regularized else None
        if is_streamed(X) or is_streamed(y):
            return streamed_evaluate(self, X, y, chosen, regularization=penalty)
        output = self.forward(X)
        return metric_values(self, output, self.targets(y, len(output)), chosen, top_k=self.training.top_k,
                             regularization=penalty)

    @property
    def reported_metrics(self) -> tuple[str, ...]:
        """The spec's metrics, and accuracy for classification even when not asked for
        (what ``netspec train``, ``evaluate`` and sweeps print)."""
        metrics = tuple(self.training.metrics)
        return metrics if self.task == "regression" or "accuracy" in metrics else (*metrics, "accuracy")

    def save(self, path: Any, *, optimizer_state: bool = True) -> None:
        """Write one ``.npz`` checkpoint (see :mod:`netspec.runtime.checkpoint`)."""
        from .checkpoint import save

        save(self, path, optimizer_state=optimizer_state)

    def to_onnx(self, path: Any = None, *, opset: int | None = None) -> Any:
        """The network as an ``onnx.ModelProto``, written to ``path`` when given
        (see :mod:`netspec.interop.onnx`)."""
        return _interop("onnx", "to_onnx")(self, path, opset=opset)

    def to_torch(self) -> Any:
        """The network as a ``torch.nn.Module`` holding copies of the weights
        (see :mod:`netspec.interop.torch`)."""
        return _interop("torch", "to_torch")(self)

    def targets(self, y: Any, samples: int) -> np.ndarray:
        """``y`` checked and shaped for this pipeline's loss (see :func:`as_targets`)."""
        return as_targets(y, kind=self.task, outputs=self.output_features, samples=samples, dtype=self.dtype)

    def loss(self, X: Any, y: Any) -> float:
        """Mean loss of the forward pass on ``X`` against targets ``y``."""
        if self.loss_function is None:
            raise _no_loss()
        output = self.forward(X)
        return self.loss_function.calculate(output, self.targets(y, len(output)))

    def predict(self, X: Any) -> np.ndarray:
        """Class indices (categorical), 0/1 labels (binary), or the output values (regression).
        Classes are along the last axis, as softmax is: an output (n, H, W, classes) gives (n, H, W)."""
        output = self.forward(X)
        if self.task == "categorical":
            return np.argmax(output, axis=-1)
        if self.task == "binary":
            threshold = 0.0 if getattr(self.loss_function, "from_logits", False) else 0.5
            labels = (output > threshold).astype(np.int64)
            return labels[..., 0] if labels.shape[-1] == 1 else labels
        return output

    def parameters(self) -> list[np.ndarray]:
        """Every trainable array, in layer order (dense: weights, then bias)."""
        return [p for layer in self.layers for p in layer.parameters()]

    def buffers(self) -> list[np.ndarray]:
        """Every non-trainable array that training changes (batch normalization's
        moving mean and variance), in layer order; checkpoints save them."""
        return [b for layer in self.layers if hasattr(layer, "buffers") for b in layer.buffers()]

    def regularization_loss(self) -> float:
        """The sum of every layer's weight penalties (``l1·Σ|w| + l2·Σw²``),
        which training adds to the data loss; 0.0 without regularizers."""
        return sum((layer.regularization_loss() for layer in self.layers if hasattr(layer, "regularization_loss")),
                   0.0)

    def summary(self) -> str:
        """The layer table: name, type, in → out width, parameters, total."""
        return self._summary

    def __repr__(self) -> str:
        inner = ", ".join(repr(layer) for layer in self.layers)
        return f"Pipeline([{inner}], loss={self.loss_function!r})"


def _interop(module: str, function: str) -> Any:
    """A function of :mod:`netspec.interop`, imported by name when first used:
    the runtime imports no stage, and names the exporters (which run the
    stages) as the registry names runtimes, by reference."""
    from importlib import import_module

    return getattr(import_module(f"netspec.interop.{module}"), function)


def _no_loss() -> Exception:
    return DataError('this pipeline has no loss: add "loss" to the spec to compute one')
