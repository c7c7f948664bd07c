"""ONNX: a pipeline written as an ONNX model, and ONNX models read back.

Export (:func:`to_onnx`, ``pipeline.to_onnx(path)``): one graph input per
network input, ``(batch, *shape)`` with a dynamic batch, channels-last as
netspec takes it, and one output, ``(batch, *output_shape)``; the weights are
initializers named ``<layer>.weights`` and ``<layer>.bias``; the canonical
spec is in the model's metadata under ``netspec.spec``. Every model is checked
with ``onnx.checker.check_model(full_check=True)`` before it is returned.

How each layer is written:

- dense: ``Gemm`` (weights (in, out), bias (out,));
- conv1d, conv2d: ``Conv`` between ``Transpose`` nodes (ONNX convolves
  channels-first), ``pads`` giving Keras's "same" padding with the odd extra
  at the end. Transposes that cancel out, around activations and merges
  between convolutions, are not written. In float64, which ONNX Runtime has
  no ``Conv`` kernel for, the window matrix is built as netspec builds it:
  ``Pad``, one ``Slice`` per kernel tap, ``Concat``, then ``MatMul`` and
  ``Add``, channels-last throughout;
- max pooling: ``MaxPool``; average pooling: ``AveragePool`` with
  ``count_include_pad=0``, so "same" windows average only real values (in
  float64: ``Pad``, ``Slice`` per tap, ``Sum`` and ``Mul`` by 1/count);
- global pooling: ``ReduceMean`` / ``ReduceMax`` over the spatial axes;
  flatten: ``Flatten`` of the channels-last values, so the order is netspec's;
  reshape: ``Reshape``; dropout: ``Identity`` (the model is for inference);
- batch_norm: ``BatchNormalization`` (channels-first) with the moving mean
  and variance; layer_norm: ``LayerNormalization`` (opset 17 and later); in
  float64 (where their float ``epsilon`` attribute would round it) both are
  written as netspec computes them, ``Sub``, ``Mul``, ``Add``,
  ``Reciprocal(Sqrt(variance + epsilon))``, with ``ReduceMean`` for layer_norm;
- activations: ``Relu``, ``LeakyRelu``, ``Elu``, ``Sigmoid``, ``Tanh``,
  ``Softmax`` (last axis), ``Identity``; in float64, an ``alpha`` that a
  float32 attribute would round is written with ``Where``, ``Mul`` and a
  float64 constant instead;
- merges: ``Add`` and ``Mul`` chains, ``Add`` then ``Div`` for average,
  ``Concat``.

Import (:func:`from_onnx`): a model netspec wrote comes back as the same
spec with bit-identical weights (the spec in its metadata is used when the
graph is exactly what exporting it gives). Other graphs are read node by
node, for the operators above and the forms other tools write for them
(``Gemm`` with ``transB``, ``MatMul`` + ``Add``, ``GlobalAveragePool`` +
``Flatten``, ``Sum``, ``Mean``, ...); any other operator is refused with a
diagnostic naming the node.
"""

from __future__ import annotations

import itertools
import json
import math
import os
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Sequence

import numpy as np

from .. import geometry
from ..errors import Diagnostic, InteropError
from ..files import write_atomically
from .common import exporters_for, pipeline_shapes, window_counts, window_pads

DEFAULT_OPSET = 18
MIN_OPSET = 13
SPEC_KEY = "netspec.spec"


def _unused(base: str, taken: set[str]) -> str:
    """``base``, else the first of ``base_1``, ``base_2``... not in ``taken``; added to ``taken``."""
    name, count = base, 0
    while name in taken:
        count += 1
        name = f"{base}_{count}"
    taken.add(name)
    return name


class OnnxGraph:
    """The ONNX graph an export is writing; exporters add nodes to it.

    Values are named by strings. ``dtype`` is the network's NumPy dtype
    (float32 or float64) and ``opset`` the ONNX opset. Every value an
    exporter receives and returns is channels-last, as netspec's are. ONNX
    convolves channels-first: :meth:`channels_first` and :meth:`channels_last`
    convert (each value at most once), and :meth:`layout_free` applies an
    element-wise operation in whichever layout its inputs were made in, so
    the transposes between two convolutions cancel out. Nodes whose outputs
    nothing reads are dropped when the graph is done.
    """

    def __init__(self, dtype: Any, opset: int, reserved: Iterable[str] = (), weights: Sequence[np.ndarray] = ()):
        self.dtype = np.dtype(dtype)
        self.opset = opset
        self.weights = list(weights)  # the network's arrays: a constant that views one is recorded in ``views``
        self.views: dict[str, tuple[int, tuple[int, ...], tuple[int, ...]]] = {}
        self.step = ""  # the layer being exported: nodes and constants are named after it
        self.nodes: list[Any] = []
        self.initializers: list[Any] = []
        self._taken = set(reserved)
        self._ints: dict[tuple[int, ...], str] = {}
        self._first: dict[str, str] = {}  # a channels-last value -> the same values, channels-first
        self._last: dict[str, str] = {}  # and back
        self._made_last: set[str] = set()  # channels-last values made by transposing channels-first ones

    def fresh(self, base: str) -> str:
        """A value or node name not used yet: ``base``, else ``base_1``, ``base_2``..."""
        return _unused(base, self._taken)

    def node(self, op: str, inputs: Sequence[str], **attributes: Any) -> str:
        """Add an ``op`` node reading ``inputs``; returns the name of its output."""
        from onnx import helper

        name = self.fresh(f"{self.step}/{op}")
        self.nodes.append(helper.make_node(op, list(inputs), [name], name=name, **attributes))
        return name

    def constant(self, array: Any, label: str = "constant") -> str:
        """An initializer holding ``array`` (floats in the network's dtype), named ``<layer>.<label>``."""
        from onnx import numpy_helper

        array = np.asarray(array)
        name = self.fresh(f"{self.step}.{label}")
        for index, weights in enumerate(self.weights):
            if np.shares_memory(array, weights) and array.ctypes.data == weights.ctypes.data:
                self.views[name] = (index, array.shape, array.strides)  # a transpose or reshape of the weights
        if array.dtype.kind == "f":
            array = array.astype(self.dtype)
        self.initializers.append(numpy_helper.from_array(array, name))
        return name

    def ints(self, values: Iterable[int]) -> str:
        """An int64 initializer holding ``values`` (shared by every node that needs the same ones)."""
        from onnx import numpy_helper

        values = tuple(int(v) for v in values)
        if values not in self._ints:
            name = self.fresh("ints")
            self.initializers.append(numpy_helper.from_array(np.array(values, dtype=np.int64), name))
            self._ints[values] = name
        return self._ints[values]

    def channels_first(self, value: str, rank: int) -> str:
        """``value`` (batch, *spatial, channels) as (batch, channels, *spatial); ``rank`` counts the batch axis."""
        if value not in self._first:
            first = self.node("Transpose", [value], perm=[0, rank - 1, *range(1, rank - 1)])
            self._first[value], self._last[first] = first, value
        return self._first[value]

    def channels_last(self, value: str, rank: int) -> str:
        """``value`` (batch, channels, *spatial) as (batch, *spatial, channels)."""
        if value not in self._last:
            last = self.node("Transpose", [value], perm=[0, *range(2, rank), 1])
            self._last[value], self._first[last] = last, value
            self._made_last.add(last)
        return self._last[value]

    def made_channels_first(self, value: str) -> str | None:
        """The channels-first value ``value`` was transposed from, or None."""
        return self._first[value] if value in self._made_last else None

    def layout_free(self, inputs: Sequence[str], rank: int, build: Callable[[list[str]], str]) -> str:
        """``build(values)`` for an element-wise operation: on the channels-first
        values the inputs were transposed from, when all were (the result is
        then transposed back, if anything reads it channels-last), else on the inputs."""
        if rank > 2 and all(value in self._made_last for value in inputs):
            return self.channels_last(build([self._first[value] for value in inputs]), rank)
        return build(list(inputs))

    def reduce(self, op: str, value: str, axes: Sequence[int], keepdims: bool = False) -> str:
        """``op`` (ReduceMean, ReduceMax) over ``axes``, which are dropped unless ``keepdims``."""
        if self.opset >= 18:
            return self.node(op, [value, self.ints(axes)], keepdims=int(keepdims))
        return self.node(op, [value], axes=list(axes), keepdims=int(keepdims))

    def exact_float(self, number: float) -> bool:
        """Whether ``number`` survives as an ONNX float attribute (float32) in this network's dtype."""
        return self.dtype == np.float32 or float(np.float32(number)) == number

    def finish_step(self, start: int, value: str, name: str) -> str:
        """Name the step's output ``name`` when the step's own nodes (from index ``start``) made it."""
        made = [node for node in self.nodes[start:] if value in node.output]
        if not made:
            return value
        for node in self.nodes[start:]:
            for field in (node.output, node.input):
                renamed = [name if v == value else v for v in field]
                del field[:]
                field.extend(renamed)
        for table in (self._first, self._last):
            for key, other in list(table.items()):
                table[name if key == value else key] = name if other == value else other
            table.pop(value, None)
        if value in self._made_last:
            self._made_last.discard(value)
            self._made_last.add(name)
        return name

    def prune(self, outputs: Sequence[str]) -> None:
        """Drop the nodes and initializers nothing leads from to ``outputs``."""
        needed, kept = set(outputs), []
        for node in reversed(self.nodes):
            if any(value in needed for value in node.output):
                kept.append(node)
                needed.update(node.input)
        self.nodes = kept[::-1]
        self.initializers = [tensor for tensor in self.initializers if tensor.name in needed]


# ---------------------------------------------------------------- export

def to_onnx(pipeline: Any, path: str | os.PathLike | None = None, *, opset: int | None = None) -> Any:
    """The ``onnx.ModelProto`` of ``pipeline`` (see the module docstring),
    written to ``path`` when one is given. ``opset``: the ONNX opset, 13 up to
    the installed onnx's latest; 18 by default.

    Raises :class:`~netspec.errors.InteropError` (``no-exporter``) naming
    every layer whose type has no ONNX exporter, before anything is written."""
    model, _ = _export(pipeline, opset)
    if path is not None:
        data = model.SerializeToString()
        write_atomically(path, lambda stream: stream.write(data))
    return model


def _export(pipeline: Any, opset: int | None) -> tuple[Any, OnnxGraph]:
    """The checked model, and the graph that made it (which records the initializers that are views of weights)."""
    shapes = pipeline_shapes(pipeline)
    exporters = exporters_for(shapes, "onnx", BUILTIN_EXPORTERS)
    import onnx
    from onnx import helper

    opset = _checked_opset(opset, onnx.defs.onnx_opset_version())
    graph = OnnxGraph(pipeline.dtype, opset, reserved=[*shapes.input_shapes, *(s.name for s in shapes.layers)],
                      weights=_weights(pipeline))
    values = {name: name for name in shapes.input_shapes}
    for step, layer, exporter in zip(shapes.layers, pipeline.layers, exporters):
        graph.step, start = step.name, len(graph.nodes)
        output = exporter(graph, step, layer, [values[source] for source in step.inputs])
        values[step.name] = graph.finish_step(start, output, step.name)
    output = values[shapes.output_step.name]
    if output in shapes.input_shapes:  # the network gives its input back: a graph output must be made by a node
        graph.step = shapes.output_step.name
        output = graph.finish_step(len(graph.nodes), graph.node("Identity", [output]), graph.step)
    graph.prune([output])
    element = helper.np_dtype_to_tensor_dtype(pipeline.dtype)
    inputs = [helper.make_tensor_value_info(name, element, ["batch", *shape])
              for name, shape in shapes.input_shapes.items()]
    outputs = [helper.make_tensor_value_info(output, element, ["batch", *shapes.output_shape])]
    body = helper.make_graph(graph.nodes, pipeline.spec.get("name") or "netspec", inputs, outputs, graph.initializers)
    opsets = [helper.make_opsetid("", opset)]
    model = helper.make_model(body, opset_imports=opsets, producer_name="netspec", producer_version=_version(),
                              ir_version=helper.find_min_ir_version_for(opsets))
    helper.set_model_props(model, {SPEC_KEY: json.dumps(pipeline.spec, ensure_ascii=False)})
    onnx.checker.check_model(model, full_check=True)
    return model, graph


def _weights(pipeline: Any) -> list[np.ndarray]:
    """Every array a pipeline's layers hold: their parameters, then their buffers (moving averages)."""
    return [array for layer in pipeline.layers
            for array in [*layer.parameters(), *getattr(layer, "buffers", lambda: [])()]]


def _checked_opset(opset: int | None, latest: int) -> int:
    if opset is None:
        return DEFAULT_OPSET
    if isinstance(opset, bool) or not isinstance(opset, int) or not MIN_OPSET <= opset <= latest:
        raise ValueError(f"opset: expected an integer from {MIN_OPSET} to {latest} (the installed onnx's latest); "
                         f"received {opset!r}")
    return opset


def _version() -> str:
    from .. import __version__

    return __version__


def _onnx_pads(pads: Sequence[tuple[int, int]]) -> list[int]:
    """ONNX's ``pads`` attribute: every axis's start, then every axis's end."""
    return [before for before, _ in pads] + [after for _, after in pads]


def _taps(graph: OnnxGraph, value: str, step: Any, kernel: Sequence[int], strides: Sequence[int],
          dilation: Sequence[int], pads: Sequence[tuple[int, int]]) -> list[str]:
    """One value (batch, *out, channels) per kernel tap, in row-major tap
    order: the inputs, zero-padded, that the tap reads in every window."""
    rank = len(kernel)
    if any(before or after for before, after in pads):
        amounts = [0, *(before for before, _ in pads), 0, 0, *(after for _, after in pads), 0]
        value = graph.node("Pad", [value, graph.ints(amounts)], mode="constant")
    axes, steps = graph.ints(range(1, rank + 1)), graph.ints(strides)
    taps = []
    for tap in itertools.product(*map(range, kernel)):
        starts = [t * d for t, d in zip(tap, dilation)]
        ends = [start + (out - 1) * stride + 1 for start, out, stride in zip(starts, step.out_shape[:-1], strides)]
        taps.append(graph.node("Slice", [value, graph.ints(starts), graph.ints(ends), axes, steps]))
    return taps


def _conv(graph: OnnxGraph, step: Any, layer: Any, inputs: list[str]) -> str:
    rank, kernel = layer.rank, layer.kernel_size
    pads = window_pads(step, kernel, layer.strides, layer.padding, layer.dilation)
    bias = [graph.constant(layer.bias, "bias")] if layer.bias is not None else []
    if graph.dtype == np.float64:  # ONNX Runtime has no float64 Conv: the window matrix times the kernel
        taps = _taps(graph, inputs[0], step, kernel, layer.strides, layer.dilation, pads)
        cols = graph.node("Concat", taps, axis=-1) if len(taps) > 1 else taps[0]
        output = graph.node("MatMul", [cols, graph.constant(layer.weights.reshape(-1, layer.filters), "weights")])
        return graph.node("Add", [output, *bias]) if bias else output
    weights = graph.constant(layer.weights.transpose(rank + 1, rank, *range(rank)), "weights")  # (filters, in, *kernel)
    output = graph.node("Conv", [graph.channels_first(inputs[0], rank + 2), weights, *bias],
                        kernel_shape=list(kernel), strides=list(layer.strides), dilations=list(layer.dilation),
                        pads=_onnx_pads(pads))
    return graph.channels_last(output, rank + 2)


def _max_pool(graph: OnnxGraph, step: Any, layer: Any, inputs: list[str]) -> str:
    rank = layer.rank
    pads = window_pads(step, layer.pool_size, layer.strides, layer.padding, (1,) * rank)
    output = graph.node("MaxPool", [graph.channels_first(inputs[0], rank + 2)], kernel_shape=list(layer.pool_size),
                        strides=list(layer.strides), pads=_onnx_pads(pads))
    return graph.channels_last(output, rank + 2)


def _avg_pool(graph: OnnxGraph, step: Any, layer: Any, inputs: list[str]) -> str:
    rank = layer.rank
    pads = window_pads(step, layer.pool_size, layer.strides, layer.padding, (1,) * rank)
    if graph.dtype == np.float64:  # no float64 AveragePool in ONNX Runtime: the sum of the taps, over the count
        taps = _taps(graph, inputs[0], step, layer.pool_size, layer.strides, (1,) * rank, pads)
        total = graph.node("Sum", taps) if len(taps) > 1 else taps[0]
        scale = _average_scale(step.in_shape[:-1], step.out_shape[:-1], layer.pool_size, layer.strides, pads)
        return graph.node("Mul", [total, graph.constant(scale, "scale")])
    output = graph.node("AveragePool", [graph.channels_first(inputs[0], rank + 2)], kernel_shape=list(layer.pool_size),
                        strides=list(layer.strides), pads=_onnx_pads(pads), count_include_pad=0)
    return graph.channels_last(output, rank + 2)


def _average_scale(spatial: Sequence[int], out: Sequence[int], kernel: Sequence[int], strides: Sequence[int],
                   pads: Sequence[tuple[int, int]]) -> np.ndarray:
    """1 / the real values each window covers: a scalar when every window is
    whole, else (1, *out, 1), as :class:`netspec.runtime.conv.AvgPool2D` scales."""
    if not any(before or after for before, after in pads):
        return np.array(1 / math.prod(kernel))
    return 1 / window_counts(spatial, out, kernel, strides, pads)[None, ..., None]


def _global_pool(op: str) -> Callable[..., str]:
    def export(graph: OnnxGraph, step: Any, layer: Any, inputs: list[str]) -> str:
        rank = len(step.in_shape) + 1
        first = graph.made_channels_first(inputs[0])
        if first is not None:
            return graph.reduce(op, first, range(2, rank))
        return graph.reduce(op, inputs[0], range(1, rank - 1))

    return export


def _dense(graph: OnnxGraph, step: Any, layer: Any, inputs: list[str]) -> str:
    bias = [graph.constant(layer.bias.reshape(-1), "bias")] if layer.bias is not None else []
    return graph.node("Gemm", [inputs[0], graph.constant(layer.weights, "weights"), *bias])


def _flatten(graph: OnnxGraph, step: Any, layer: Any, inputs: list[str]) -> str:
    return graph.node("Flatten", inputs, axis=1)


def _reshape(graph: OnnxGraph, step: Any, layer: Any, inputs: list[str]) -> str:
    return graph.node("Reshape", [inputs[0], graph.ints([0, *step.out_shape])])


def _unary(op: str) -> Callable[..., str]:
    def export(graph: OnnxGraph, step: Any, layer: Any, inputs: list[str]) -> str:
        return graph.layout_free(inputs, len(step.in_shape) + 1, lambda v: graph.node(op, v))

    return export


def _leaky_relu(graph: OnnxGraph, step: Any, layer: Any, inputs: list[str]) -> str:
    if graph.exact_float(layer.alpha):
        build = lambda v: graph.node("LeakyRelu", v, alpha=layer.alpha)  # noqa: E731
    else:  # where(x > 0, x, alpha · x), alpha in float64
        def build(v: list[str]) -> str:
            positive = graph.node("Greater", [v[0], graph.constant(np.array(0.0), "zero")])
            return graph.node("Where", [positive, v[0], graph.node("Mul", [v[0], graph.constant(layer.alpha, "alpha")])])
    return graph.layout_free(inputs, len(step.in_shape) + 1, build)


def _elu(graph: OnnxGraph, step: Any, layer: Any, inputs: list[str]) -> str:
    if graph.exact_float(layer.alpha):
        build = lambda v: graph.node("Elu", v, alpha=layer.alpha)  # noqa: E731
    else:  # where(x > 0, x, alpha · (exp(min(x, 0)) − 1)), alpha in float64
        def build(v: list[str]) -> str:
            zero, one = graph.constant(np.array(0.0), "zero"), graph.constant(np.array(1.0), "one")
            below = graph.node("Sub", [graph.node("Exp", [graph.node("Min", [v[0], zero])]), one])
            negative = graph.node("Mul", [below, graph.constant(layer.alpha, "alpha")])
            return graph.node("Where", [graph.node("Greater", [v[0], zero]), v[0], negative])
    return graph.layout_free(inputs, len(step.in_shape) + 1, build)


def _softmax(graph: OnnxGraph, step: Any, layer: Any, inputs: list[str]) -> str:
    return graph.node("Softmax", inputs, axis=-1)


def _identity(graph: OnnxGraph, step: Any, layer: Any, inputs: list[str]) -> str:
    """Dropout, at inference."""
    return graph.layout_free(inputs, len(step.in_shape) + 1, lambda v: graph.node("Identity", v))


def _scale_and_shift(graph: OnnxGraph, value: str, layer: Any) -> str:
    """``value · gamma + beta``, each when the layer has it."""
    if layer.gamma is not None:
        value = graph.node("Mul", [value, graph.constant(layer.gamma, "gamma")])
    if layer.beta is not None:
        value = graph.node("Add", [value, graph.constant(layer.beta, "beta")])
    return value


def _inverse_std(graph: OnnxGraph, variance: str, epsilon: float) -> str:
    """``1 / sqrt(variance + epsilon)``, epsilon in the network's dtype."""
    total = graph.node("Add", [variance, graph.constant(np.array(epsilon), "epsilon")])
    return graph.node("Reciprocal", [graph.node("Sqrt", [total])])


def _gamma_and_beta(graph: OnnxGraph, layer: Any) -> list[str]:
    """gamma and beta as constants, ones and zeros where the layer has none."""
    ones = np.ones(layer.channels) if layer.gamma is None else layer.gamma
    zeros = np.zeros(layer.channels) if layer.beta is None else layer.beta
    return [graph.constant(ones, "gamma"), graph.constant(zeros, "beta")]


def _batch_norm(graph: OnnxGraph, step: Any, layer: Any, inputs: list[str]) -> str:
    """Inference: ``(x − moving_mean) · 1/sqrt(moving_variance + epsilon) · gamma + beta``, per channel.
    float32: ONNX's ``BatchNormalization``, channels-first; float64: as netspec computes it (ONNX's float
    ``epsilon`` attribute would round it)."""
    rank = len(step.in_shape) + 1
    if graph.dtype == np.float32:
        statistics = [graph.constant(layer.moving_mean, "moving_mean"), graph.constant(layer.moving_variance,
                                                                                          "moving_variance")]
        value = graph.channels_first(inputs[0], rank) if rank > 2 else inputs[0]
        output = graph.node("BatchNormalization", [value, *_gamma_and_beta(graph, layer), *statistics],
                            epsilon=layer.epsilon, momentum=layer.momentum)
        return graph.channels_last(output, rank) if rank > 2 else output
    centered = graph.node("Sub", [inputs[0], graph.constant(layer.moving_mean, "moving_mean")])
    inverse = _inverse_std(graph, graph.constant(layer.moving_variance, "moving_variance"), layer.epsilon)
    return _scale_and_shift(graph, graph.node("Mul", [centered, inverse]), layer)


def _layer_norm(graph: OnnxGraph, step: Any, layer: Any, inputs: list[str]) -> str:
    """``(x − mean) / sqrt(var + epsilon) · gamma + beta`` over the last axis; ONNX's
    ``LayerNormalization`` in float32 from opset 17."""
    if graph.dtype == np.float32 and graph.opset >= 17:
        return graph.node("LayerNormalization", [inputs[0], *_gamma_and_beta(graph, layer)], axis=-1,
                          epsilon=layer.epsilon)
    centered = graph.node("Sub", [inputs[0], graph.reduce("ReduceMean", inputs[0], [-1], keepdims=True)])
    variance = graph.reduce("ReduceMean", graph.node("Mul", [centered, centered]), [-1], keepdims=True)
    return _scale_and_shift(graph, graph.node("Mul", [centered, _inverse_std(graph, variance, layer.epsilon)]), layer)


def _chain(op: str) -> Callable[..., str]:
    """A merge as a chain of binary ``op`` nodes, ((a op b) op c)..., as netspec computes it."""
    def export(graph: OnnxGraph, step: Any, layer: Any, inputs: list[str]) -> str:
        return graph.layout_free(inputs, len(step.in_shape) + 1, lambda v: _fold(graph, op, v))

    return export


def _fold(graph: OnnxGraph, op: str, values: list[str]) -> str:
    output = values[0]
    for value in values[1:]:
        output = graph.node(op, [output, value])
    return output


def _average(graph: OnnxGraph, step: Any, layer: Any, inputs: list[str]) -> str:
    def build(values: list[str]) -> str:
        return graph.node("Div", [_fold(graph, "Add", values), graph.constant(np.array(float(len(values))), "count")])

    return graph.layout_free(inputs, len(step.in_shape) + 1, build)


def _concatenate(graph: OnnxGraph, step: Any, layer: Any, inputs: list[str]) -> str:
    return graph.node("Concat", inputs, axis=layer.axis + 1)


BUILTIN_EXPORTERS: dict[str, Callable[..., str]] = {
    "dense": _dense,
    "conv2d": _conv,
    "conv1d": _conv,
    "max_pool2d": _max_pool,
    "avg_pool2d": _avg_pool,
    "max_pool1d": _max_pool,
    "avg_pool1d": _avg_pool,
    "global_avg_pool": _global_pool("ReduceMean"),
    "global_max_pool": _global_pool("ReduceMax"),
    "flatten": _flatten,
    "reshape": _reshape,
    "dropout": _identity,
    "batch_norm": _batch_norm,
    "layer_norm": _layer_norm,
    "add": _chain("Add"),
    "multiply": _chain("Mul"),
    "average": _average,
    "concatenate": _concatenate,
    "relu": _unary("Relu"),
    "leaky_relu": _leaky_relu,
    "elu": _elu,
    "sigmoid": _unary("Sigmoid"),
    "tanh": _unary("Tanh"),
    "softmax": _softmax,
    "linear": _unary("Identity"),
}


# ---------------------------------------------------------------- import

def from_onnx(source: Any) -> Any:
    """A :class:`~netspec.runtime.pipeline.Pipeline` of an ONNX model: a path,
    the file's bytes, or an ``onnx.ModelProto``.

    A model netspec exported comes back as the spec in its metadata with
    bit-identical weights, when its graph is exactly the one exporting that
    spec gives. Any other graph is read node by node (see the module
    docstring); an operator or option netspec cannot express is refused
    with a diagnostic naming the node (``graph.node[4]``), every problem at
    once, as an :class:`~netspec.errors.InteropError`."""
    model, file = _load(source)
    return _netspecs_own(model) or _GraphReader(model, file).pipeline()


def _load(source: Any) -> tuple[Any, str | None]:
    import onnx

    if isinstance(source, onnx.ModelProto):
        return source, None
    file = None if isinstance(source, (bytes, bytearray)) else os.fspath(source)
    try:
        model = onnx.load_from_string(bytes(source)) if file is None else onnx.load(file)
        onnx.checker.check_model(model)
    except FileNotFoundError:
        raise _refused([Diagnostic((), "not-a-model", f"no such file: {file}")], file) from None
    except IsADirectoryError:
        raise _refused([Diagnostic((), "not-a-model", f"{file} is a directory")], file) from None
    except Exception as exc:  # protobuf's DecodeError, onnx's ValidationError: the file is not a valid model
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise _refused([Diagnostic((), "not-a-model", f"this is not a valid ONNX model ({first[:200]})")], file) from None
    return model, file


def _refused(problems: list[Diagnostic], file: str | None) -> InteropError:
    located = [d.located(d.line, d.column, file) if file and d.file is None else d for d in problems]
    return InteropError(located, f"cannot import {file}" if file else "cannot import the ONNX model")


def _opset_of(model: Any) -> int:
    return next((entry.version for entry in model.opset_import if entry.domain in ("", "ai.onnx")), 1)


def _netspecs_own(model: Any) -> Any:
    """The pipeline of the spec in the model's metadata, with the model's
    weights, when exporting it gives exactly the model's graph; else None."""
    from numpy.lib.stride_tricks import as_strided
    from onnx import numpy_helper

    from ..api import compile
    from ..errors import NetspecError

    text = next((entry.value for entry in model.metadata_props if entry.key == SPEC_KEY), None)
    if text is None:
        return None
    try:
        pipeline = compile(json.loads(text))
        template, graph = _export(pipeline, _opset_of(model))
    except (NetspecError, ValueError, TypeError):
        return None
    stored = {tensor.name: tensor for tensor in model.graph.initializer}
    weights = _weights(pipeline)
    for tensor in template.graph.initializer:  # a layer the output does not depend on has none: it keeps its seed's
        if tensor.name not in graph.views:
            continue
        index, shape, strides = graph.views[tensor.name]
        if tensor.name not in stored:
            return None
        value = numpy_helper.to_array(stored[tensor.name])
        if value.shape != shape or value.dtype != weights[index].dtype:
            return None
        as_strided(weights[index], shape, strides)[...] = value
    again, _ = _export(pipeline, _opset_of(model))
    same = all(getattr(again.graph, part) == getattr(model.graph, part)
               for part in ("node", "initializer", "input", "output"))
    return pipeline if same else None


@dataclass
class _Value:
    """What an ONNX value is for netspec: the step (or input) ``name`` whose
    output it holds, its shape of one sample (channels-last), and its layout:
    ``first`` when the ONNX tensor holds it channels-first. ``pending`` is a
    global pooling whose spatial axes are still there (size 1)."""

    name: str
    shape: tuple[int, ...]
    layout: str = "last"
    pending: str | None = None


_ACTIVATIONS = {"Relu": "relu", "Sigmoid": "sigmoid", "Tanh": "tanh", "LeakyRelu": "leaky_relu", "Elu": "elu"}
_POOLS = {"MaxPool": "max", "AveragePool": "avg"}
_GLOBAL_POOLS = {"GlobalAveragePool": "global_avg_pool", "GlobalMaxPool": "global_max_pool",
                 "ReduceMean": "global_avg_pool", "ReduceMax": "global_max_pool"}
_MERGES = {"Add": "add", "Sum": "add", "Mul": "multiply", "Mean": "average"}
_ALIASES = {"Identity", "Dropout"}  # nothing at inference


class _GraphReader:
    """Reads a graph node by node into a spec and its weights (see :func:`from_onnx`)."""

    def __init__(self, model: Any, file: str | None):
        from onnx import numpy_helper

        self.graph, self.file, self.opset = model.graph, file, _opset_of(model)
        self.constants = {t.name: numpy_helper.to_array(t) for t in self.graph.initializer}
        self.values: dict[str, _Value | None] = {}
        self.layers: list[dict] = []
        self.arrays: list[list[np.ndarray]] = []
        self.origins: list[tuple] = []
        self.problems: list[Diagnostic] = []
        self.uses: dict[str, int] = {}
        for node in self.graph.node:
            for name in node.input:
                self.uses[name] = self.uses.get(name, 0) + 1
        self.taken: set[str] = set()
        self.dtype: np.dtype | None = None

    def _problem(self, index: int | None, code: str, message: str, hint: str | None = None) -> None:
        path = ("graph", "node", index) if index is not None else ("graph",)
        self.problems.append(Diagnostic(path, code, message, hint))

    def pipeline(self) -> Any:
        from ..api import validate
        from ..compile import build_pipeline

        inputs = self._inputs()
        for index, node in enumerate(self.graph.node):
            self._node(index, node)
        output = self._output()
        if self.problems:
            raise _refused(self.problems, self.file)
        tree = self._tree(inputs, output)
        report = validate(tree)
        if not report.ok:
            raise _refused([Diagnostic(self._origin(d.path), d.code, d.message, d.hint) for d in report.errors],
                           self.file)
        pipeline = build_pipeline(report.spec, report.shapes)
        for layer, arrays in zip(pipeline.layers, self.arrays):
            targets = [*layer.parameters(), *getattr(layer, "buffers", lambda: [])()]
            for target, array in zip(targets, arrays):
                target[...] = array.reshape(target.shape)
        return pipeline

    def _origin(self, path: tuple) -> tuple:
        """Where in the graph the spec's ``layers[i]...`` came from."""
        if len(path) >= 2 and path[0] == "layers" and isinstance(path[1], int) and path[1] < len(self.origins):
            return self.origins[path[1]]
        return ("graph",)

    # -- the graph's ends

    def _inputs(self) -> dict[str, tuple[int, ...]]:
        from onnx import helper

        found = {}
        for k, value in enumerate(self.graph.input):
            if value.name in self.constants:
                continue
            where = ("graph", "input", k)
            tensor = value.type.tensor_type
            dims = [d.dim_value if d.HasField("dim_value") else None for d in tensor.shape.dim]
            dtype = np.dtype(helper.tensor_dtype_to_np_dtype(tensor.elem_type)) if tensor.elem_type else None
            if dtype not in (np.float32, np.float64):
                self.problems.append(Diagnostic(where, "unsupported-option",
                                                f"input {value.name!r} is {dtype}, and netspec computes in float32 or float64"))
            elif self.dtype not in (None, dtype):
                self.problems.append(Diagnostic(where, "unsupported-option", "the inputs have different dtypes"))
            self.dtype = dtype if self.dtype is None else self.dtype
            if not 2 <= len(dims) <= 4 or any(d is None or d < 1 for d in dims[1:]):
                shape = "×".join("?" if d is None else str(d) for d in dims)
                self.problems.append(Diagnostic(where, "unsupported-structure",
                                                f"input {value.name!r} has shape {shape or 'unknown'}: netspec takes "
                                                "(batch, features), (batch, length, channels) or (batch, height, width, "
                                                "channels), every size but the batch fixed"))
                self.values[value.name] = None
                continue
            found[value.name] = tuple(dims[1:])
            self.values[value.name] = _Value(value.name, tuple(dims[1:]))
            self.taken.add(value.name)
        return found

    def _output(self) -> _Value | None:
        if len(self.graph.output) != 1:
            self._problem(None, "unsupported-structure",
                         f"the graph has {len(self.graph.output)} outputs, and a netspec network has one")
            return None
        value = self.values.get(self.graph.output[0].name)
        if value is not None and (value.pending or (value.layout == "first" and len(value.shape) > 1)):
            self._problem(None, "unsupported-structure",
                         f"the output {self.graph.output[0].name!r} is channels-first, and netspec's are channels-last",
                         "end the graph with a Transpose to (batch, ..., channels), or with a Flatten")
        return value

    def _tree(self, inputs: dict[str, tuple[int, ...]], output: _Value) -> dict:
        if output.name in inputs:  # the graph gives an input back (Identity, Dropout): one linear layer
            self.layers.append({"type": "linear", "name": self._name(self.graph.node[-1] if self.graph.node else None),
                                "inputs": output.name})
            self.arrays.append([])
            self.origins.append(("graph",))
            output = _Value(self.layers[-1]["name"], output.shape)
        tree: dict[str, Any] = {"netspec": "1", **({"name": self.graph.name} if self.graph.name else {}),
                                **({"dtype": self.dtype.name} if self.dtype is not None else {})}
        previous = next(iter(inputs)) if len(inputs) == 1 else None
        chain = previous is not None
        for layer in self.layers:
            chain = chain and layer["inputs"] == previous
            previous = layer["name"]
        if chain and output.name == previous:
            tree["input"] = {"shape": list(next(iter(inputs.values())))}
            tree["layers"] = [{k: v for k, v in layer.items() if k not in ("name", "inputs")} for layer in self.layers]
        else:
            tree["input"] = {name: {"shape": list(shape)} for name, shape in inputs.items()}
            tree["layers"] = self.layers
            if self.layers and output.name != self.layers[-1]["name"]:
                tree["output"] = output.name
        return tree

    # -- nodes

    def _node(self, index: int, node: Any) -> None:
        if node.op_type == "Constant":
            from onnx import numpy_helper

            value = next((a.t for a in node.attribute if a.name == "value"), None)
            if value is not None:
                self.constants[node.output[0]] = numpy_helper.to_array(value)
                return
        read = [self.values.get(name, False) if name not in self.constants else name for name in node.input if name]
        if any(value is None for value in read):  # it reads what a refused node made: that node is reported
            self._poison(node)
            return
        handler = getattr(self, f"_op_{node.op_type}", None)
        if node.domain not in ("", "ai.onnx") or handler is None:
            self._problem(index, "unsupported-layer",
                         f"node {node.name or node.output[0]!r} is an ONNX {node.op_type}, which netspec has no layer for",
                         "netspec reads Gemm, MatMul (+ Add), Conv, MaxPool, AveragePool, global pooling, Flatten, "
                         "Reshape, Transpose (to and from channels-first), Relu, LeakyRelu, Elu, Sigmoid, Tanh, "
                         "Softmax, Add, Sum, Mul, Mean, Concat, BatchNormalization, LayerNormalization and Identity")
            self._poison(node)
            return
        if any(value is False for value in read):
            self._problem(index, "not-a-model", f"node {node.name or node.output[0]!r} reads a value no node makes")
            self._poison(node)
            return
        made = handler(index, node)
        if made is None:
            self._poison(node)
        else:
            self.values[node.output[0]] = made

    def _poison(self, node: Any) -> None:
        for name in node.output:
            self.values[name] = None

    def _attributes(self, node: Any) -> dict[str, Any]:
        from onnx import helper

        return {a.name: helper.get_attribute_value(a) for a in node.attribute}

    def _value(self, index: int, node: Any, position: int = 0) -> _Value | None:
        """The input at ``position``, which must be a value the network computes (not a constant)."""
        name = node.input[position]
        if name in self.constants:
            self._problem(index, "unsupported-structure", f"node {node.name or node.output[0]!r} ({node.op_type}) "
                         "computes on constants only, and netspec's layers read the network's values")
            return None
        return self.values[name]

    def _constant(self, index: int, node: Any, position: int, what: str) -> np.ndarray | None:
        name = node.input[position] if len(node.input) > position else ""
        if not name:
            return None
        if name not in self.constants:
            self._problem(index, "unsupported-structure", f"node {node.name or node.output[0]!r} ({node.op_type}) "
                         f"computes its {what} ({name!r}), and netspec's {what} are weights")
            return None
        array = self.constants[name]
        if array.dtype.kind == "f" and self.dtype is not None and array.dtype != self.dtype:
            self._problem(index, "unsupported-option", f"node {node.name or node.output[0]!r}: its {what} are "
                         f"{array.dtype}, and the network computes in {self.dtype}")
        return array

    def _layer(self, index: int, node: Any, layer: dict, sources: list[_Value], arrays: list[np.ndarray] = (),
               layout: str = "last") -> _Value | None:
        """Add the netspec layer ``layer`` reading ``sources``; its output value."""
        from ..infer import apply_rule
        from ..registry import REGISTRY, ShapeProblem

        entry = REGISTRY.get("layer", layer["type"])
        if entry is None:
            self._problem(index, "unsupported-layer", f"node {node.name or node.output[0]!r} is a {node.op_type}, "
                         f"and this netspec has no {layer['type']} layer")
            return None
        try:
            params = entry.params.model_validate({k: v for k, v in layer.items()})
            shapes = tuple(s.shape for s in sources)
            out, _, _ = apply_rule(params, shapes if params.merge else shapes[0])
        except (ValueError, ShapeProblem) as exc:
            self._problem(index, "unsupported-option", f"node {node.name or node.output[0]!r} ({node.op_type}) "
                         f"cannot be a netspec {layer['type']} ({str(exc).splitlines()[0][:160]})")
            return None
        name = self._name(node)
        merge = entry.params.merge
        self.layers.append({**layer, "name": name,
                            "inputs": [s.name for s in sources] if merge else sources[0].name})
        self.arrays.append(list(arrays))
        self.origins.append(("graph", "node", index))
        return _Value(name, tuple(out), layout if len(out) > 1 else "last")

    def _name(self, node: Any) -> str:
        base = (node.name or node.output[0] or node.op_type.lower())[:190] if node is not None else "linear"
        return _unused(base, self.taken)

    def _needs_layout(self, index: int, node: Any, value: _Value, layout: str) -> bool:
        if len(value.shape) > 1 and value.layout != layout:
            if layout == "first":
                self._problem(index, "unsupported-structure",
                             f"node {node.name or node.output[0]!r} ({node.op_type}) reads {value.name!r} as "
                             "channels-first (batch, channels, ...), and netspec's values are channels-last",
                             "a graph for netspec takes (batch, ..., channels) and transposes before convolving, as "
                             "netspec's own exports do; transpose this model's input first")
            else:
                self._problem(index, "unsupported-structure",
                             f"node {node.name or node.output[0]!r} ({node.op_type}) reads {value.name!r} "
                             "channels-first, and netspec would read it channels-last",
                             "transpose it back to (batch, ..., channels) first")
            return False
        return True

    # -- operators

    def _op_Transpose(self, index: int, node: Any) -> _Value | None:
        value = self._value(index, node)
        if value is None:
            return None
        rank = len(value.shape) + 1
        perm = list(self._attributes(node).get("perm", reversed(range(rank))))
        to_first, to_last = [0, rank - 1, *range(1, rank - 1)], [0, *range(2, rank), 1]
        if perm == list(range(rank)):
            return value
        if rank > 2 and value.layout == "last" and perm == to_first:
            return _Value(value.name, value.shape, "first")
        if rank > 2 and value.layout == "first" and perm == to_last:
            return _Value(value.name, value.shape, "last")
        self._problem(index, "unsupported-option", f"node {node.name or node.output[0]!r} transposes with perm {perm}: "
                     "netspec reads transposes between channels-last and channels-first only")
        return None

    def _window(self, index: int, node: Any, value: _Value, kernel: list[int]) -> dict | None:
        """``kernel``, ``strides``, ``dilation`` and ``padding`` of a Conv or pooling node, in netspec's terms."""
        attributes = self._attributes(node)
        rank = len(kernel)
        strides = list(attributes.get("strides", [1] * rank))
        dilation = list(attributes.get("dilations", [1] * rank))
        pads = list(attributes.get("pads", [0] * 2 * rank))
        auto = attributes.get("auto_pad", b"NOTSET")
        auto = auto.decode() if isinstance(auto, bytes) else auto
        spatial = value.shape[:-1]
        same = [geometry.padding_amounts(n, k, s, "same", d) for n, k, s, d in zip(spatial, kernel, strides, dilation)]
        if auto == "SAME_UPPER" or (auto == "NOTSET" and pads == _onnx_pads(same) and any(pads)):
            padding = "same"
        elif auto == "VALID" or (auto == "NOTSET" and not any(pads)):
            padding = "valid"
        else:
            self._problem(index, "unsupported-option", f"node {node.name or node.output[0]!r} ({node.op_type}) pads "
                         f"{pads if auto == 'NOTSET' else auto}: netspec pads valid (none) or same "
                         f"({_onnx_pads(same)} here, the odd one at the end)")
            return None
        if attributes.get("ceil_mode", 0):
            self._problem(index, "unsupported-option", f"node {node.name or node.output[0]!r} rounds its windows up "
                         "(ceil_mode=1), and netspec's pooling rounds down")
            return None
        return {"kernel": _one_or_all(kernel), "strides": _one_or_all(strides), "dilation": _one_or_all(dilation),
                "padding": padding}

    def _op_Conv(self, index: int, node: Any) -> _Value | None:
        value = self._value(index, node)
        weights = self._constant(index, node, 1, "weights")
        bias = self._constant(index, node, 2, "bias")
        if value is None or weights is None or not self._needs_layout(index, node, value, "first"):
            return None
        if self._attributes(node).get("group", 1) != 1:
            self._problem(index, "unsupported-option", f"node {node.name or node.output[0]!r} convolves in groups "
                         f"(group={self._attributes(node)['group']}), and netspec convolves every channel with every filter")
            return None
        rank = weights.ndim - 2
        window = self._window(index, node, value, list(weights.shape[2:]))
        if window is None:
            return None
        layer = {"type": f"conv{rank}d", "filters": int(weights.shape[0]), "kernel_size": window["kernel"],
                 "strides": window["strides"], "dilation": window["dilation"], "padding": window["padding"],
                 "bias": bias is not None}
        kernel = weights.transpose(*range(2, rank + 2), 1, 0)  # (filters, in, *kernel) -> (*kernel, in, filters)
        return self._layer(index, node, layer, [value], [kernel, *([bias] if bias is not None else [])], "first")

    def _pool(self, index: int, node: Any) -> _Value | None:
        value = self._value(index, node)
        if value is None or not self._needs_layout(index, node, value, "first"):
            return None
        attributes = self._attributes(node)
        kernel = list(attributes.get("kernel_shape", []))
        window = self._window(index, node, value, kernel)
        if window is None:
            return None
        if window["dilation"] != 1:
            self._problem(index, "unsupported-option", f"node {node.name or node.output[0]!r} dilates its pooling "
                         "windows, and netspec's pooling windows are dense")
            return None
        if node.op_type == "AveragePool" and window["padding"] == "same" and attributes.get("count_include_pad", 0):
            self._problem(index, "unsupported-option", f"node {node.name or node.output[0]!r} averages the padding in "
                         "(count_include_pad=1), and netspec averages only real values")
            return None
        layer = {"type": f"{_POOLS[node.op_type]}_pool{len(kernel)}d", "pool_size": window["kernel"],
                 "strides": window["strides"], "padding": window["padding"]}
        return self._layer(index, node, layer, [value], layout="first")

    _op_MaxPool = _op_AveragePool = _pool

    def _global(self, index: int, node: Any) -> _Value | None:
        value = self._value(index, node)
        if value is None:
            return None
        kind = _GLOBAL_POOLS[node.op_type]
        rank = len(value.shape) + 1
        if node.op_type.startswith("Global"):
            if not self._needs_layout(index, node, value, "first") or rank < 3:
                return None
            return _Value(value.name, value.shape, "first", pending=kind)
        attributes = self._attributes(node)
        axes = attributes.get("axes")
        if axes is None and len(node.input) > 1:
            axes = self._constant(index, node, 1, "axes")
        spatial = list(range(2, rank)) if value.layout == "first" else list(range(1, rank - 1))
        if axes is None or sorted(int(a) % rank for a in axes) != spatial or rank < 3:
            self._problem(index, "unsupported-option", f"node {node.name or node.output[0]!r} ({node.op_type}) reduces "
                         "axes other than the spatial ones, and netspec reduces only over those (global pooling)")
            return None
        if attributes.get("keepdims", 1):
            return _Value(value.name, value.shape, value.layout, pending=kind)
        return self._layer(index, node, {"type": kind}, [value])

    _op_GlobalAveragePool = _op_GlobalMaxPool = _op_ReduceMean = _op_ReduceMax = _global

    def _finish_pending(self, index: int, node: Any, value: _Value) -> _Value | None:
        """A Flatten, Squeeze or Reshape that drops the size-1 axes a global pooling kept."""
        return self._layer(index, node, {"type": value.pending}, [_Value(value.name, value.shape, value.layout)])

    def _op_Flatten(self, index: int, node: Any) -> _Value | None:
        value = self._value(index, node)
        if value is None:
            return None
        if self._attributes(node).get("axis", 1) != 1:
            self._problem(index, "unsupported-option", f"node {node.name or node.output[0]!r} flattens from an axis "
                         "other than 1, and netspec keeps the batch axis alone")
            return None
        if value.pending:
            return self._finish_pending(index, node, value)
        if len(value.shape) == 1:
            return value
        if not self._needs_layout(index, node, value, "last"):
            return None
        return self._layer(index, node, {"type": "flatten"}, [value])

    def _op_Squeeze(self, index: int, node: Any) -> _Value | None:
        value = self._value(index, node)
        if value is None:
            return None
        if value.pending:
            return self._finish_pending(index, node, value)
        self._problem(index, "unsupported-layer", f"node {node.name or node.output[0]!r} is a Squeeze, which netspec "
                     "reads only after a global pooling")
        return None

    def _op_Reshape(self, index: int, node: Any) -> _Value | None:
        value = self._value(index, node)
        target = self._constant(index, node, 1, "shape")
        if value is None or target is None:
            return None
        target = [int(t) for t in target]
        if value.pending and len(target) == 2:
            return self._finish_pending(index, node, value)
        if not target or target[0] not in (0, -1) or not self._needs_layout(index, node, value, "last"):
            if target and target[0] not in (0, -1):
                self._problem(index, "unsupported-option", f"node {node.name or node.output[0]!r} reshapes to "
                             f"{target}, changing the batch axis, which netspec keeps")
            return None
        shape = [value.shape[k - 1] if size == 0 and k - 1 < len(value.shape) else size
                 for k, size in enumerate(target) if k > 0]
        if target[0] == -1 and -1 in shape:
            self._problem(index, "unsupported-option", f"node {node.name or node.output[0]!r} reshapes to {target}, "
                         "leaving two sizes open")
            return None
        return self._layer(index, node, {"type": "reshape", "shape": shape}, [value])

    def _op_Gemm(self, index: int, node: Any) -> _Value | None:
        value = self._value(index, node)
        weights = self._constant(index, node, 1, "weights")
        bias = self._constant(index, node, 2, "bias")
        if value is None or weights is None:
            return None
        attributes = self._attributes(node)
        if attributes.get("transA", 0) or attributes.get("alpha", 1.0) != 1.0 or attributes.get("beta", 1.0) != 1.0:
            self._problem(index, "unsupported-option", f"node {node.name or node.output[0]!r} is a Gemm with transA, "
                         "alpha or beta, and netspec's dense layer computes inputs @ weights + bias")
            return None
        weights = weights.T if attributes.get("transB", 0) else weights
        return self._dense(index, node, value, weights, bias)

    def _dense(self, index: int, node: Any, value: _Value, weights: np.ndarray, bias: np.ndarray | None) -> _Value | None:
        if weights.ndim != 2 or len(value.shape) != 1:
            self._problem(index, "unsupported-option", f"node {node.name or node.output[0]!r} ({node.op_type}) is not "
                         "a product of a vector of features with a weight matrix")
            return None
        if bias is not None and bias.size != weights.shape[1]:
            self._problem(index, "unsupported-option", f"node {node.name or node.output[0]!r}: its bias has "
                         f"{bias.size} values for {weights.shape[1]} neurons")
            return None
        layer = {"type": "dense", "neurons": int(weights.shape[1]), "bias": bias is not None}
        return self._layer(index, node, layer, [value], [weights, *([bias] if bias is not None else [])])

    def _op_MatMul(self, index: int, node: Any) -> _Value | None:
        value = self._value(index, node)
        weights = self._constant(index, node, 1, "weights")
        if value is None or weights is None:
            return None
        return self._dense(index, node, value, weights, None)

    def _merge(self, index: int, node: Any) -> _Value | None:
        constant = [name for name in node.input if name in self.constants]
        if node.op_type == "Add" and len(node.input) == 2 and len(constant) == 1:
            return self._bias(index, node, constant[0])
        if constant:
            self._problem(index, "unsupported-layer", f"node {node.name or node.output[0]!r} ({node.op_type}) combines "
                         "a value with a constant, which netspec has no layer for")
            return None
        values = [self.values[name] for name in node.input]
        if len(values) == 1:
            return values[0]
        if len({v.layout for v in values if len(v.shape) > 1}) > 1:
            self._problem(index, "unsupported-structure", f"node {node.name or node.output[0]!r} merges "
                         "channels-first and channels-last values")
            return None
        return self._layer(index, node, {"type": _MERGES[node.op_type]}, values, layout=values[0].layout)

    _op_Add = _op_Sum = _op_Mul = _op_Mean = _merge

    def _bias(self, index: int, node: Any, constant: str) -> _Value | None:
        """``MatMul`` then ``Add`` of a vector: one dense layer with a bias."""
        value = self.values[next(name for name in node.input if name != constant)]
        layer = next((k for k, made in enumerate(self.layers) if made["name"] == value.name), None)
        if layer is None or self.layers[layer]["type"] != "dense" or self.layers[layer]["bias"] \
                or self.uses.get(next(n for n in node.input if n != constant), 0) != 1 \
                or self.constants[constant].size != self.layers[layer]["neurons"]:
            self._problem(index, "unsupported-layer", f"node {node.name or node.output[0]!r} adds a constant, which "
                         "netspec reads only as the bias right after a MatMul")
            return None
        self.layers[layer]["bias"] = True
        self.arrays[layer].append(self.constants[constant])
        return value

    def _op_Div(self, index: int, node: Any) -> _Value | None:
        """``Add`` (or ``Sum``) of k values then ``Div`` by k: an average."""
        value = self.values.get(node.input[0])
        divisor = self.constants.get(node.input[1])
        layer = next((k for k, made in enumerate(self.layers) if value and made["name"] == value.name), None)
        if layer is None or divisor is None or divisor.size != 1 or self.layers[layer]["type"] != "add" \
                or float(divisor.reshape(())) != len(self.layers[layer]["inputs"]) or self.uses.get(node.input[0]) != 1:
            self._problem(index, "unsupported-layer", f"node {node.name or node.output[0]!r} divides, which netspec "
                         "reads only as the sum of k values divided by k (an average)")
            return None
        self.layers[layer]["type"] = "average"
        return value

    def _op_Concat(self, index: int, node: Any) -> _Value | None:
        values = [self._value(index, node, k) for k in range(len(node.input))]
        if any(v is None for v in values):
            return None
        layouts = {v.layout for v in values if len(v.shape) > 1}
        rank = len(values[0].shape) + 1
        axis = int(self._attributes(node).get("axis")) % rank
        if len(layouts) > 1 or axis == 0:
            self._problem(index, "unsupported-option", f"node {node.name or node.output[0]!r} concatenates along the "
                         "batch axis or across layouts, which netspec does not")
            return None
        if layouts == {"first"}:
            axis = -1 if axis == 1 else axis - 2  # (batch, channels, *spatial): channels, or a spatial axis
        else:
            axis = axis - 1
        layer = {"type": "concatenate", "axis": -1 if axis == rank - 2 else axis}
        return self._layer(index, node, layer, values, layout=values[0].layout)

    def _activation(self, index: int, node: Any) -> _Value | None:
        value = self._value(index, node)
        if value is None:
            return None
        layer: dict[str, Any] = {"type": _ACTIVATIONS[node.op_type]}
        if node.op_type in ("LeakyRelu", "Elu"):
            default = 0.01 if node.op_type == "LeakyRelu" else 1.0
            layer["alpha"] = _shortest(float(self._attributes(node).get("alpha", default)))
        return self._layer(index, node, layer, [value], layout=value.layout)

    _op_Relu = _op_Sigmoid = _op_Tanh = _op_LeakyRelu = _op_Elu = _activation

    def _op_Softmax(self, index: int, node: Any) -> _Value | None:
        value = self._value(index, node)
        if value is None:
            return None
        rank = len(value.shape) + 1
        axis = int(self._attributes(node).get("axis", -1 if self.opset >= 13 else 1)) % rank
        channels = 1 if value.layout == "first" and rank > 2 else rank - 1
        if axis != channels or (self.opset < 13 and axis != rank - 1):
            self._problem(index, "unsupported-option", f"node {node.name or node.output[0]!r} takes softmax over "
                         f"axis {axis}, and netspec's is over the channels (the last axis)")
            return None
        return self._layer(index, node, {"type": "softmax"}, [value], layout=value.layout)

    def _alias(self, index: int, node: Any) -> _Value | None:
        return self._value(index, node)

    _op_Identity = _op_Dropout = _alias

    def _op_BatchNormalization(self, index: int, node: Any) -> _Value | None:
        value = self._value(index, node)
        arrays = [self._constant(index, node, k, what)
                  for k, what in ((1, "scale"), (2, "bias"), (3, "mean"), (4, "variance"))]
        if value is None or any(a is None for a in arrays) or not self._needs_layout(index, node, value, "first"):
            return None
        attributes = self._attributes(node)
        if attributes.get("training_mode", 0):
            self._problem(index, "unsupported-option", f"node {node.name or node.output[0]!r} normalizes in training mode")
            return None
        layer = {"type": "batch_norm", "epsilon": _shortest(float(attributes.get("epsilon", 1e-5))),
                 "momentum": _shortest(float(attributes.get("momentum", 0.9)))}
        return self._layer(index, node, layer, [value], arrays, layout=value.layout)

    def _op_LayerNormalization(self, index: int, node: Any) -> _Value | None:
        value = self._value(index, node)
        arrays = [self._constant(index, node, 1, "scale"), self._constant(index, node, 2, "bias")]
        if value is None or arrays[0] is None or not self._needs_layout(index, node, value, "last"):
            return None
        attributes = self._attributes(node)
        if int(attributes.get("axis", -1)) % (len(value.shape) + 1) != len(value.shape):
            self._problem(index, "unsupported-option", f"node {node.name or node.output[0]!r} normalizes from an axis "
                         "other than the last, and netspec's layer_norm normalizes the last")
            return None
        layer = {"type": "layer_norm", "epsilon": _shortest(float(attributes.get("epsilon", 1e-5))),
                 "center": arrays[1] is not None}
        return self._layer(index, node, layer, [value], [a for a in arrays if a is not None])


def _one_or_all(sizes: Sequence[int]) -> Any:
    sizes = [int(s) for s in sizes]
    return sizes[0] if len(set(sizes)) == 1 else sizes


def _shortest(number: float) -> float:
    """A float32 attribute's value as the decimal it was written as (``9.999999747378752e-06`` → ``1e-05``)."""
    single = float(np.float32(number))
    for digits in range(1, 10):
        shorter = float(f"{number:.{digits}g}")
        if float(np.float32(shorter)) == single:
            return shorter
    return number
