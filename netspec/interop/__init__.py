"""Moving networks between netspec and other tools, one module per format.

- :mod:`netspec.interop.onnx`: ``pipeline.to_onnx(path)`` writes an ONNX
  model that ONNX Runtime runs on the same input array netspec takes, and
  :func:`netspec.from_onnx` reads such graphs back;
- :mod:`netspec.interop.torch`: ``pipeline.to_torch()`` gives a
  ``torch.nn.Module`` holding copies of the weights;
- :mod:`netspec.interop.keras`: :func:`netspec.from_keras` reads a Keras
  model's config into a :class:`~netspec.spec.Spec`, and
  :func:`netspec.from_keras_model` its weights too.

Each module imports its library (``onnx``, ``torch``, ``h5py``) inside the
functions that need it, so importing netspec never does. Whatever a module
cannot convert is an :class:`~netspec.errors.InteropError` listing every
problem, each a diagnostic pointing into the foreign file or the spec.

A registered layer is exported by the exporter registered for its type. The
built-in layers have theirs; a layer of your own needs one per format::

    @netspec.interop.register_onnx_exporter("swish")
    def swish_to_onnx(graph, step, layer, inputs):
        # graph: the ONNX graph being written (see netspec.interop.onnx.OnnxGraph);
        # step: the layer's LayerShape (name, in_shape, out_shape, params);
        # layer: its runtime object, with its weights; inputs: the names of the
        # values it reads, channels-last. Returns the name of its output.
        beta = graph.constant(np.array(layer.beta, graph.dtype), "beta")
        return graph.node("Mul", [inputs[0], graph.node("Sigmoid", [graph.node("Mul", [inputs[0], beta])])])

    @netspec.interop.register_torch_exporter("swish")
    def swish_to_torch(step, layer):
        return MySwishModule(layer.beta)  # a torch.nn.Module: channels-last in, channels-last out

An exporter registered for a built-in type replaces the built-in one.
"""

from __future__ import annotations

from typing import Any, Callable

FORMATS = ("onnx", "torch")

# Exporters registered by users and plugins, by format and layer type; the
# built-in ones live in each format's module and are consulted after these.
EXPORTERS: dict[str, dict[str, Callable[..., Any]]] = {fmt: {} for fmt in FORMATS}


def _registrar(fmt: str, name: str, function: Callable[..., Any] | None, replace: bool) -> Any:
    if not isinstance(name, str) or not name:
        raise ValueError(f"a layer type must be a non-empty string, got {name!r}")

    def register(exporter: Callable[..., Any]) -> Callable[..., Any]:
        if not callable(exporter):
            raise TypeError(f"the {fmt} exporter of {name!r} must be callable, got {exporter!r}")
        if name in EXPORTERS[fmt] and not replace:
            raise ValueError(f"a {fmt} exporter for {name!r} is already registered; pass replace=True to override it")
        EXPORTERS[fmt][name] = exporter
        return exporter

    return register(function) if function is not None else register


def register_onnx_exporter(name: str, function: Callable[..., Any] | None = None, *,
                           replace: bool = False) -> Any:
    """Register ``function(graph, step, layer, inputs) -> output name`` as the
    ONNX exporter of layer type ``name`` (a decorator when ``function`` is
    omitted). See the module docstring and :class:`netspec.interop.onnx.OnnxGraph`."""
    return _registrar("onnx", name, function, replace)


def register_torch_exporter(name: str, function: Callable[..., Any] | None = None, *,
                            replace: bool = False) -> Any:
    """Register ``function(step, layer) -> torch.nn.Module`` as the PyTorch
    exporter of layer type ``name`` (a decorator when ``function`` is
    omitted). The module takes and returns channels-last tensors (a merge
    layer's module takes a list of them)."""
    return _registrar("torch", name, function, replace)
