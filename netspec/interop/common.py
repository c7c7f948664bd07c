"""What the format modules share: a pipeline's steps, exporter look-up, and
pipelines built from imported specs and weights. Imports nothing heavy."""

from __future__ import annotations

from typing import Any, Callable, Mapping, Sequence

from .. import geometry
from ..errors import Diagnostic, InteropError, format_path
from ..infer import Shapes
from . import EXPORTERS

FORMAT_NAMES = {"onnx": "ONNX", "torch": "PyTorch"}


def pipeline_shapes(pipeline: Any) -> Shapes:
    """The inferred steps of ``pipeline``, from its canonical spec, in the order of ``pipeline.layers``."""
    from ..api import validate

    report = validate(pipeline.spec)
    report.raise_for_errors()
    assert len(report.shapes.layers) == len(pipeline.layers), "a pipeline has one runtime layer per step"
    return report.shapes


def exporters_for(shapes: Shapes, fmt: str, builtins: Mapping[str, Callable[..., Any]]) -> list[Callable[..., Any]]:
    """The exporter of every step, in order: a registered one, else the built-in one.
    Steps without one are refused all at once, before any work."""
    found, missing = [], []
    for step in shapes.layers:
        exporter = EXPORTERS[fmt].get(step.type) or builtins.get(step.type)
        found.append(exporter)
        if exporter is None:
            missing.append(Diagnostic(
                step.path, "no-exporter",
                f"{format_path(step.path)} ({step.name}) is a {step.type} layer, and no {FORMAT_NAMES[fmt]} "
                f"exporter is registered for {step.type!r}",
                f"register one with @netspec.interop.register_{fmt}_exporter({step.type!r}) "
                "(see help(netspec.interop) for what it receives and returns)"))
    if missing:
        raise InteropError(missing, f"cannot export to {FORMAT_NAMES[fmt]}")
    return found


def window_counts(spatial: Sequence[int], out: Sequence[int], kernel: Sequence[int], strides: Sequence[int],
                  pads: Sequence[tuple[int, int]]) -> Any:
    """The real (not padding) values each pooling window covers, (*out,),
    float64: what netspec's average pooling divides by."""
    import numpy as np

    count = np.ones(tuple(out))
    for axis, (n, o, k, s, (before, _)) in enumerate(zip(spatial, out, kernel, strides, pads)):
        starts = np.arange(o) * s - before
        per_axis = np.minimum(starts + k, n) - np.maximum(starts, 0)
        count = count * per_axis.astype(np.float64).reshape((1,) * axis + (o,) + (1,) * (len(out) - axis - 1))
    return count


def window_pads(step: Any, kernel: Sequence[int], strides: Sequence[int], padding: str,
                dilation: Sequence[int]) -> list[tuple[int, int]]:
    """``(before, after)`` per spatial axis of the step's input, as netspec pads it."""
    return [geometry.padding_amounts(n, k, s, padding, d)
            for n, k, s, d in zip(step.in_shape[:-1], kernel, strides, dilation)]


def pipeline_with_weights(spec: Any, weights: Mapping[str, list[Any]]) -> Any:
    """A pipeline compiled from ``spec`` whose steps named in ``weights`` hold
    those arrays (in the order of the layer's ``parameters()``; shapes and
    dtypes checked by the caller). The initial weights are drawn and replaced."""
    from ..api import compile

    pipeline = compile(spec)
    for layer in pipeline.layers:
        for parameter, value in zip(layer.parameters(), weights.get(layer.name, [])):
            parameter[...] = value
    return pipeline
