"""ONNX export, checked against the real engine: ``onnx.checker`` (full check)
passes, and ONNX Runtime gives ``pipeline.forward``'s output to 1e-5 in
float32 and 1e-10 in float64, for every registered layer (a layer added
without an exporter fails here) and the options the exporter treats apart."""

import json
import subprocess
import sys

import numpy as np
import pytest
from interop_cases import assert_close, inputs, layer_cases, option_cases

import netspec
from netspec.errors import InteropError
from netspec.registry import REGISTRY
from netspec.runtime.activations import Activation

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

LAYER_CASES = layer_cases()
OPTION_CASES = option_cases()


def run(model, X):
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    feeds = X if isinstance(X, dict) else {session.get_inputs()[0].name: X}
    return session.run(None, feeds)[0]


def test_every_layer_has_a_case():
    assert {entry.name for entry in REGISTRY.entries("layer")} == {case.type for case in LAYER_CASES}


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("case", LAYER_CASES + OPTION_CASES, ids=lambda case: case.id)
def test_onnx_runtime_gives_netspecs_output(case, dtype):
    pipeline = netspec.compile({**case.spec, "dtype": dtype})
    _train_moving_averages(pipeline)
    model = pipeline.to_onnx()
    onnx.checker.check_model(model, full_check=True)
    X = inputs(pipeline, 4)
    output = run(model, X)
    assert output.dtype == np.dtype(dtype)
    assert_close(output, pipeline.forward(X), dtype)


def _train_moving_averages(pipeline):
    """Moving averages other than the initial zeros and ones, so the export of batch_norm is checked on real ones."""
    if any(hasattr(layer, "moving_mean") for layer in pipeline.layers):
        pipeline.forward(inputs(pipeline, 8, seed=5) * 3 + 1, training=True)


def test_the_batch_is_dynamic_and_the_spec_is_in_the_metadata(tmp_path):
    pipeline = netspec.compile(OPTION_CASES[0].spec)
    path = tmp_path / "model.onnx"
    model = pipeline.to_onnx(path)
    assert onnx.load(path) == model
    graph_input, graph_output = model.graph.input[0], model.graph.output[0]
    assert [d.dim_param or d.dim_value for d in graph_input.type.tensor_type.shape.dim] == ["batch", 9, 8, 2]
    assert [d.dim_param or d.dim_value for d in graph_output.type.tensor_type.shape.dim][0] == "batch"
    assert json.loads({p.key: p.value for p in model.metadata_props}["netspec.spec"]) == pipeline.spec
    for samples in (1, 7):
        X = inputs(pipeline, samples)
        assert_close(run(model, X), pipeline.forward(X), "float64")


def test_transposes_between_convolutions_cancel_out():
    pipeline = netspec.compile({"input": {"shape": [8, 8, 1]}, "dtype": "float32", "layers": [
        {"type": "conv2d", "filters": 2, "kernel_size": 3, "activation": "relu"}, {"type": "max_pool2d"},
        {"type": "conv2d", "filters": 2, "kernel_size": 2, "activation": "tanh"}, {"type": "flatten"},
        {"type": "dense", "neurons": 2}]})
    ops = [node.op_type for node in pipeline.to_onnx().graph.node]
    assert ops == ["Transpose", "Conv", "Relu", "MaxPool", "Conv", "Tanh", "Transpose", "Flatten", "Gemm"]


def test_weights_are_initializers_named_after_the_layers():
    pipeline = netspec.compile({"input": {"features": 3}, "layers": [{"type": "dense", "neurons": 2}], "seed": 0})
    tensors = {t.name: onnx.numpy_helper.to_array(t) for t in pipeline.to_onnx().graph.initializer}
    assert set(tensors) == {"dense_1.weights", "dense_1.bias"}
    assert np.array_equal(tensors["dense_1.weights"], pipeline.layers[0].weights)


@pytest.mark.parametrize("opset", [13, 17, 18])
def test_older_opsets(opset):
    case = next(c for c in OPTION_CASES if c.id == "conv-global-max")
    pipeline = netspec.compile({**case.spec, "dtype": "float32"})
    model = pipeline.to_onnx(opset=opset)
    assert model.opset_import[0].version == opset
    X = inputs(pipeline, 3)
    assert_close(run(model, X), pipeline.forward(X), "float32")


@pytest.mark.parametrize("opset", [12, 1000, "18", True])
def test_an_opset_out_of_range_is_refused(opset):
    pipeline = netspec.compile({"input": {"features": 3}, "layers": [{"type": "dense", "neurons": 2}]})
    with pytest.raises(ValueError, match="opset: expected an integer from 13"):
        pipeline.to_onnx(opset=opset)


def _register_swish():
    """A custom activation: x · sigmoid(beta · x)."""
    class SwishRuntime(Activation):
        def __init__(self, beta=1.0, name="swish"):
            self.beta, self.name = beta, name

        def forward(self, inputs, training=False):
            self.output = inputs / (1 + np.exp(-self.beta * inputs))
            return self.output

        def backward(self, dvalues):
            raise NotImplementedError

    @netspec.register_activation("swish", runtime=SwishRuntime)
    class Swish(netspec.Activation):
        """x · sigmoid(beta · x)."""
        beta: float = 1.0

    return {"input": {"features": 3}, "layers": [{"type": "dense", "neurons": 4, "activation": "relu"},
                                                  {"type": "swish", "beta": 2.0}, {"type": "swish"}]}


def test_a_layer_without_exporter_is_named_with_how_to_register_one(clean_registry):
    pipeline = netspec.compile(_register_swish())
    with pytest.raises(InteropError) as caught:
        pipeline.to_onnx()
    assert [(d.where, d.code) for d in caught.value.errors] == [("layers[1]", "no-exporter"),
                                                                ("layers[2]", "no-exporter")]
    assert "layers[1] (swish_1) is a swish layer, and no ONNX exporter is registered for 'swish'" in str(caught.value)
    assert "register_onnx_exporter('swish')" in caught.value.errors[0].hint


def test_a_registered_exporter_is_used(clean_registry, monkeypatch):
    from netspec import interop

    pipeline = netspec.compile(_register_swish())
    monkeypatch.setitem(interop.EXPORTERS, "onnx", {})

    @interop.register_onnx_exporter("swish")
    def swish(graph, step, layer, inputs):
        beta = graph.constant(np.array(layer.beta), "beta")
        return graph.node("Mul", [inputs[0], graph.node("Sigmoid", [graph.node("Mul", [inputs[0], beta])])])

    with pytest.raises(ValueError, match="already registered"):
        interop.register_onnx_exporter("swish", swish)
    model = pipeline.to_onnx()
    X = np.random.default_rng(0).normal(size=(5, 3))
    assert_close(run(model, X), pipeline.forward(X), "float64")


def test_importing_netspec_imports_no_interop_library():
    code = ("import sys, netspec; p = netspec.compile({'input': 2, 'layers': [{'type': 'dense', 'neurons': 2}]}); "
            "import netspec.interop, netspec.interop.onnx, netspec.interop.torch, netspec.interop.keras, netspec.interop.cli; "
            "print(sorted(m for m in ('onnx', 'onnxruntime', 'torch', 'h5py', 'keras') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
