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
- batch_norm: ``Sub``, ``Mul``, ``Add`` with the moving mean and variance
  (``Reciprocal(Sqrt(variance + epsilon))``) as netspec computes it at
  inference; layer_norm: the same with ``ReduceMean`` over the last axis;
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
from typing import Any, Callable, Iterable, Sequence

import numpy as np

from ..errors import Diagnostic, InteropError
from ..files import write_atomically
from .common import exporters_for, pipeline_shapes, window_counts, window_pads

DEFAULT_OPSET = 18
MIN_OPSET = 13
SPEC_KEY = "netspec.spec"


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

    def __init__(self, dtype: Any, opset: int, reserved: Iterable[str] = ()):
        self.dtype = np.dtype(dtype)
        self.opset = opset
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
        name, count = base, 0
        while name in self._taken:
            count += 1
            name = f"{base}_{count}"
        self._taken.add(name)
        return name

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
        if array.dtype.kind == "f":
            array = array.astype(self.dtype)
        name = self.fresh(f"{self.step}.{label}")
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
    shapes = pipeline_shapes(pipeline)
    exporters = exporters_for(shapes, "onnx", BUILTIN_EXPORTERS)
    import onnx
    from onnx import helper

    opset = _checked_opset(opset, onnx.defs.onnx_opset_version())
    graph = OnnxGraph(pipeline.dtype, opset, reserved=[*shapes.input_shapes, *(s.name for s in shapes.layers)])
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
    if path is not None:
        data = model.SerializeToString()
        write_atomically(path, lambda stream: stream.write(data))
    return model


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


def _batch_norm(graph: OnnxGraph, step: Any, layer: Any, inputs: list[str]) -> str:
    """Inference: ``(x − moving_mean) · 1/sqrt(moving_variance + epsilon) · gamma + beta``, per channel."""
    centered = graph.node("Sub", [inputs[0], graph.constant(layer.moving_mean, "moving_mean")])
    inverse = _inverse_std(graph, graph.constant(layer.moving_variance, "moving_variance"), layer.epsilon)
    return _scale_and_shift(graph, graph.node("Mul", [centered, inverse]), layer)


def _layer_norm(graph: OnnxGraph, step: Any, layer: Any, inputs: list[str]) -> str:
    """``(x − mean) / sqrt(var + epsilon) · gamma + beta`` over the last axis."""
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
