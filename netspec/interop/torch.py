"""PyTorch: a pipeline as a ``torch.nn.Module`` holding copies of its weights.

:func:`to_torch` (``pipeline.to_torch()``) gives a ``torch.nn.Sequential`` for
a chain and a :class:`netspec.interop.torch_modules.Graph` for a graph, in
the pipeline's dtype, taking the same channels-last input netspec does
(several inputs are passed positionally, in the spec's order). Its outputs
and gradients are netspec's to rounding, so training can go on in PyTorch.

Each layer is PyTorch's own module where it has one: ``nn.Linear`` (weight
= netspec's weights transposed), ``nn.Conv1d``/``nn.Conv2d``,
``nn.MaxPool1d``/``2d``, ``nn.AvgPool1d``/``2d`` (``count_include_pad=False``),
``nn.Flatten``, ``nn.Dropout``, ``nn.BatchNorm1d``/``2d`` (momentum 1 −
netspec's, PyTorch's convention), ``nn.LayerNorm``, ``nn.ReLU``, ``nn.LeakyReLU``, ``nn.ELU``, ``nn.Sigmoid``,
``nn.Tanh``, ``nn.Softmax`` and ``nn.Identity``. Convolutions and pooling run
channels-first between :class:`~netspec.interop.torch_modules.Permute`
modules, which are left out between two of them; Keras's "same" padding,
whose odd extra element goes at the end, is a ``ConstantPad`` module where
it is not the same on both sides. A chain's modules are named after its
layers (``model.dense_1``).

:func:`save_exported` writes the module with ``torch.export`` (a ``.pt2``
program of ATen operations with a dynamic batch), loadable with
``torch.export.load(path).module()`` without netspec.
"""

from __future__ import annotations

import io
import math
import os
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Callable

from ..files import write_atomically
from .common import exporters_for, pipeline_shapes, window_counts, window_pads

LAST, FIRST, ANY = "last", "first", "any"


@dataclass(frozen=True)
class Piece:
    """How a built-in layer becomes modules: ``make(step, layer, layout, dtype)
    -> (modules, layout of the output)``, given its input in the layout it
    ``takes`` (channels-``last``, channels-``first``, or ``any``, which it is
    then given as it comes)."""

    takes: str
    make: Callable[..., tuple[list[Any], str]]


def to_torch(pipeline: Any) -> Any:
    """The ``torch.nn.Module`` of ``pipeline`` (see the module docstring).

    Raises :class:`~netspec.errors.InteropError` (``no-exporter``) naming
    every layer whose type has no PyTorch exporter."""
    shapes = pipeline_shapes(pipeline)
    pieces = [exporter if isinstance(exporter, Piece) else _custom(exporter)
              for exporter in exporters_for(shapes, "torch", BUILTIN_EXPORTERS)]
    import torch

    dtype = getattr(torch, pipeline.dtype.name)
    if not shapes.graph:
        return _sequential(shapes, pipeline.layers, pieces, dtype)
    return _graph(shapes, pipeline.layers, pieces, dtype)


def _custom(exporter: Callable[..., Any]) -> Piece:
    """A registered exporter: ``exporter(step, layer)``, a module channels-last in and out."""
    return Piece(LAST, lambda step, layer, layout, dtype: ([exporter(step, layer)], LAST))


def _sequential(shapes: Any, layers: list[Any], pieces: list[Piece], dtype: Any) -> Any:
    """One ``nn.Sequential``, permuting only where the layout a module takes changes."""
    from torch import nn

    named: OrderedDict[str, Any] = OrderedDict()
    layout = LAST
    for step, layer, piece in zip(shapes.layers, layers, pieces):
        rank = len(step.in_shape) + 1
        if rank > 2 and piece.takes not in (ANY, layout):
            _add(named, f"{step.name}_channels_{piece.takes}", _permute(layout, piece.takes, rank))
            layout = piece.takes
        modules, layout = piece.make(step, layer, layout, dtype)
        for index, module in enumerate(modules):
            _add(named, step.name if index == len(modules) - 1 else f"{step.name}_pad", module)
        if len(step.out_shape) == 1:
            layout = LAST
    if layout == FIRST:
        _add(named, "channels_last", _permute(FIRST, LAST, len(shapes.output_shape) + 1))
    return nn.Sequential(named)


def _add(named: OrderedDict, name: str, module: Any) -> None:
    """``named[name] = module`` under a name torch accepts (no dots) and not taken yet."""
    base = name.replace(".", "_") or "layer"
    name, count = base, 0
    while name in named:
        count += 1
        name = f"{base}_{count}"
    named[name] = module


def _graph(shapes: Any, layers: list[Any], pieces: list[Piece], dtype: Any) -> Any:
    """A :class:`~netspec.interop.torch_modules.Graph`, every step channels-last in and out."""
    from torch import nn

    from .torch_modules import Graph

    steps = []
    for step, layer, piece in zip(shapes.layers, layers, pieces):
        rank = len(step.in_shape) + 1
        first = rank > 2 and piece.takes == FIRST
        modules, layout = piece.make(step, layer, FIRST if first else LAST, dtype)
        if first:
            modules.insert(0, _permute(LAST, FIRST, rank))
        if layout == FIRST and len(step.out_shape) > 1:
            modules.append(_permute(FIRST, LAST, len(step.out_shape) + 1))
        steps.append(modules[0] if len(modules) == 1 else nn.Sequential(*modules))
    value = {name: index for index, name in enumerate(shapes.input_shapes)}
    value.update({step.name: len(shapes.input_shapes) + index for index, step in enumerate(shapes.layers)})
    sources = [tuple(value[name] for name in step.inputs) for step in shapes.layers]
    output = next(index for index, step in enumerate(shapes.layers) if step.name == shapes.output_step.name)
    return Graph(steps, [step.name for step in shapes.layers], list(shapes.input_shapes), sources,
                 [step.params.merge for step in shapes.layers], output)


def _permute(source: str, target: str, rank: int) -> Any:
    from .torch_modules import Permute

    if source == LAST and target == FIRST:
        return Permute(0, rank - 1, *range(1, rank - 1))
    return Permute(0, *range(2, rank), 1)


def _tensor(array: Any, dtype: Any) -> Any:
    import numpy as np
    import torch

    return torch.tensor(np.ascontiguousarray(array), dtype=dtype)


def _torch_pads(pads: list[tuple[int, int]]) -> tuple[int, ...]:
    """``nn.functional.pad``'s order: the last axis first, (before, after) each."""
    return tuple(amount for before, after in reversed(pads) for amount in (before, after))


def _pad(pads: list[tuple[int, int]], value: float) -> Any:
    from torch import nn

    module = nn.ConstantPad2d if len(pads) == 2 else nn.ConstantPad1d
    return module(_torch_pads(pads), value)


def _symmetric(pads: list[tuple[int, int]]) -> tuple[int, ...] | None:
    """The padding per axis when it is the same on both sides of every axis, else None."""
    return tuple(before for before, _ in pads) if all(before == after for before, after in pads) else None


def _linear(step: Any, layer: Any, layout: str, dtype: Any) -> tuple[list[Any], str]:
    from torch import nn

    module = nn.Linear(layer.in_features, layer.neurons, bias=layer.bias is not None, dtype=dtype)
    module.weight.data = _tensor(layer.weights.T, dtype)
    if layer.bias is not None:
        module.bias.data = _tensor(layer.bias[0], dtype)
    return [module], LAST


def _conv(step: Any, layer: Any, layout: str, dtype: Any) -> tuple[list[Any], str]:
    from torch import nn

    rank = layer.rank
    pads = window_pads(step, layer.kernel_size, layer.strides, layer.padding, layer.dilation)
    symmetric = _symmetric(pads)
    kind = nn.Conv2d if rank == 2 else nn.Conv1d
    module = kind(layer.in_channels, layer.filters, layer.kernel_size, stride=layer.strides,
                  padding=symmetric or 0, dilation=layer.dilation, bias=layer.bias is not None, dtype=dtype)
    module.weight.data = _tensor(layer.weights.transpose(rank + 1, rank, *range(rank)), dtype)
    if layer.bias is not None:
        module.bias.data = _tensor(layer.bias, dtype)
    return ([] if symmetric is not None else [_pad(pads, 0.0)]) + [module], FIRST


def _max_pool(step: Any, layer: Any, layout: str, dtype: Any) -> tuple[list[Any], str]:
    from torch import nn

    pads = window_pads(step, layer.pool_size, layer.strides, layer.padding, (1,) * layer.rank)
    symmetric = _symmetric(pads)
    kind = nn.MaxPool2d if layer.rank == 2 else nn.MaxPool1d
    module = kind(layer.pool_size, layer.strides, padding=symmetric or 0)
    return ([] if symmetric is not None else [_pad(pads, -math.inf)]) + [module], FIRST


def _avg_pool(step: Any, layer: Any, layout: str, dtype: Any) -> tuple[list[Any], str]:
    from torch import nn

    from .torch_modules import AvgPoolSame

    pads = window_pads(step, layer.pool_size, layer.strides, layer.padding, (1,) * layer.rank)
    symmetric = _symmetric(pads)
    if symmetric is not None:
        kind = nn.AvgPool2d if layer.rank == 2 else nn.AvgPool1d
        return [kind(layer.pool_size, layer.strides, padding=symmetric, count_include_pad=False)], FIRST
    counts = window_counts(step.in_shape[:-1], step.out_shape[:-1], layer.pool_size, layer.strides, pads)
    scale = _tensor(math.prod(layer.pool_size) / counts[None, None], dtype)
    return [AvgPoolSame(layer.pool_size, layer.strides, list(_torch_pads(pads)), scale)], FIRST


def _global_avg_pool(step: Any, layer: Any, layout: str, dtype: Any) -> tuple[list[Any], str]:
    from .torch_modules import GlobalAvgPool

    rank = len(step.in_shape) + 1
    return [GlobalAvgPool(tuple(range(2, rank)) if layout == FIRST else tuple(range(1, rank - 1)))], LAST


def _global_max_pool(step: Any, layer: Any, layout: str, dtype: Any) -> tuple[list[Any], str]:
    from .torch_modules import GlobalMaxPool

    return [GlobalMaxPool(channels_first=layout == FIRST)], LAST


def _flatten(step: Any, layer: Any, layout: str, dtype: Any) -> tuple[list[Any], str]:
    from torch import nn

    return [nn.Flatten()], LAST


def _reshape(step: Any, layer: Any, layout: str, dtype: Any) -> tuple[list[Any], str]:
    from .torch_modules import Reshape

    return [Reshape(step.out_shape)], LAST


def _batch_norm(step: Any, layer: Any, layout: str, dtype: Any) -> tuple[list[Any], str]:
    """``nn.BatchNorm1d``/``2d`` (momentum 1 − netspec's, as PyTorch counts it); a
    missing gamma or beta is kept frozen at ones or zeros."""
    from torch import nn

    kind = nn.BatchNorm2d if len(step.in_shape) == 3 else nn.BatchNorm1d
    affine = layer.gamma is not None or layer.beta is not None
    module = kind(layer.channels, eps=layer.epsilon, momentum=1 - layer.momentum, affine=affine, dtype=dtype)
    module.running_mean.data = _tensor(layer.moving_mean, dtype)
    module.running_var.data = _tensor(layer.moving_variance, dtype)
    if affine:
        _affine(module, layer, dtype)
    return [module], FIRST


def _layer_norm(step: Any, layer: Any, layout: str, dtype: Any) -> tuple[list[Any], str]:
    from torch import nn

    affine = layer.gamma is not None or layer.beta is not None
    module = nn.LayerNorm(layer.channels, eps=layer.epsilon, elementwise_affine=affine, bias=affine, dtype=dtype)
    if affine:
        _affine(module, layer, dtype)
    return [module], LAST


def _affine(module: Any, layer: Any, dtype: Any) -> None:
    """Copy gamma and beta into ``module.weight`` and ``.bias``; one the layer lacks is frozen."""
    for parameter, value in ((module.weight, layer.gamma), (module.bias, layer.beta)):
        if value is not None:
            parameter.data = _tensor(value, dtype)
        else:
            parameter.requires_grad_(False)


def _module(name: str, **options: str) -> Piece:
    """A piece of any layout: the ``torch.nn`` module ``name``, its options read from the runtime layer."""
    def make(step: Any, layer: Any, layout: str, dtype: Any) -> tuple[list[Any], str]:
        from torch import nn

        return [getattr(nn, name)(**{key: getattr(layer, attribute) for key, attribute in options.items()})], layout

    return Piece(ANY, make)


def _softmax(step: Any, layer: Any, layout: str, dtype: Any) -> tuple[list[Any], str]:
    from torch import nn

    return [nn.Softmax(dim=1 if layout == FIRST and len(step.in_shape) > 1 else -1)], layout


def _merge(name: str) -> Piece:
    def make(step: Any, layer: Any, layout: str, dtype: Any) -> tuple[list[Any], str]:
        from . import torch_modules

        return [getattr(torch_modules, name)()], LAST

    return Piece(LAST, make)


def _concatenate(step: Any, layer: Any, layout: str, dtype: Any) -> tuple[list[Any], str]:
    from .torch_modules import Concatenate

    return [Concatenate(layer.axis + 1)], LAST


BUILTIN_EXPORTERS: dict[str, Piece] = {
    "dense": Piece(LAST, _linear),
    "conv2d": Piece(FIRST, _conv),
    "conv1d": Piece(FIRST, _conv),
    "max_pool2d": Piece(FIRST, _max_pool),
    "avg_pool2d": Piece(FIRST, _avg_pool),
    "max_pool1d": Piece(FIRST, _max_pool),
    "avg_pool1d": Piece(FIRST, _avg_pool),
    "global_avg_pool": Piece(ANY, _global_avg_pool),
    "global_max_pool": Piece(ANY, _global_max_pool),
    "flatten": Piece(LAST, _flatten),
    "reshape": Piece(LAST, _reshape),
    "dropout": _module("Dropout", p="rate"),
    "batch_norm": Piece(FIRST, _batch_norm),
    "layer_norm": Piece(LAST, _layer_norm),
    "add": _merge("Add"),
    "multiply": _merge("Multiply"),
    "average": _merge("Average"),
    "concatenate": Piece(LAST, _concatenate),
    "relu": _module("ReLU"),
    "leaky_relu": _module("LeakyReLU", negative_slope="alpha"),
    "elu": _module("ELU", alpha="alpha"),
    "sigmoid": _module("Sigmoid"),
    "tanh": _module("Tanh"),
    "softmax": Piece(ANY, _softmax),
    "linear": _module("Identity"),
}


def save_exported(pipeline: Any, path: str | os.PathLike) -> Any:
    """Write ``pipeline`` with ``torch.export`` to ``path`` (a ``.pt2`` file):
    the traced program and its weights, the batch dimension dynamic; no
    netspec object is pickled. Returns the ``ExportedProgram``."""
    import torch

    module = to_torch(pipeline).eval()
    shapes = list(pipeline.input_shapes.values())
    dtype = getattr(torch, pipeline.dtype.name)
    examples = tuple(torch.zeros((2, *shape), dtype=dtype) for shape in shapes)
    batch = torch.export.Dim("batch")
    dynamic = tuple({0: batch} for _ in shapes)
    if not isinstance(module, torch.nn.Sequential):  # Graph.forward(*inputs): one structure for all the inputs
        dynamic = (dynamic,)
    program = torch.export.export(module, examples, dynamic_shapes=dynamic)
    buffer = io.BytesIO()
    torch.export.save(program, buffer)
    write_atomically(path, lambda stream: stream.write(buffer.getvalue()))
    return program
