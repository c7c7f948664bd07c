"""ONNX back into netspec: a model netspec wrote comes back as the same spec
with bit-identical weights; graphs like it from other tools are read node by
node and compute what ONNX Runtime computes; anything else is refused with
a diagnostic naming the node and its operator."""

import numpy as np
import pytest
from interop_cases import assert_close, inputs, layer_cases, option_cases

import netspec
from netspec.errors import InteropError
from netspec.interop.onnx import from_onnx

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

CASES = layer_cases() + option_cases()


def arrays(pipeline):
    return pipeline.parameters() + pipeline.buffers() if hasattr(pipeline, "buffers") else pipeline.parameters()


def compiled(case, dtype):
    pipeline = netspec.compile({**case.spec, "dtype": dtype})
    if any(hasattr(layer, "moving_mean") for layer in pipeline.layers):
        pipeline.forward(inputs(pipeline, 8, seed=5) * 3 + 1, training=True)
    return pipeline


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("case", CASES, ids=lambda case: case.id)
def test_export_then_import_gives_the_same_spec_and_bit_identical_weights(case, dtype):
    pipeline = compiled(case, dtype)
    back = from_onnx(pipeline.to_onnx())
    assert back.spec == pipeline.spec
    assert len(arrays(back)) == len(arrays(pipeline))
    assert all(a.dtype == b.dtype and np.array_equal(a, b) for a, b in zip(arrays(back), arrays(pipeline)))


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.id)
def test_without_its_metadata_a_float32_export_is_read_node_by_node(case):
    pipeline = compiled(case, "float32")
    model = pipeline.to_onnx()
    del model.metadata_props[:]
    back = from_onnx(model)
    X = inputs(pipeline, 4)
    assert_close(back.forward(X), pipeline.forward(X), "float32")


def test_a_file_round_trips(tmp_path):
    pipeline = compiled(next(c for c in CASES if c.id == "cnn"), "float32")
    pipeline.to_onnx(tmp_path / "model.onnx")
    back = from_onnx(tmp_path / "model.onnx")
    assert back.spec == pipeline.spec and all(np.array_equal(a, b) for a, b in zip(arrays(back), arrays(pipeline)))
    assert from_onnx((tmp_path / "model.onnx").read_bytes()).spec == pipeline.spec


def test_an_edited_graph_is_read_as_it_is_not_as_its_metadata_says():
    pipeline = netspec.compile({"input": {"features": 3}, "seed": 0,
                                "layers": [{"type": "dense", "neurons": 4, "activation": "relu"}]})
    model = pipeline.to_onnx()
    next(node for node in model.graph.node if node.op_type == "Relu").op_type = "Sigmoid"
    assert [layer["type"] for layer in from_onnx(model).spec["layers"]] == ["dense", "sigmoid"]


# ---------------------------------------------------------------- graphs of other tools

def model_of(nodes, inputs, output, initializers, opset=17):
    graph = helper.make_graph(nodes, "foreign", inputs, [output], [numpy_helper.from_array(a, n) for n, a in initializers])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)], producer_name="elsewhere")


def ort_output(model, feeds):
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return session.run(None, feeds)[0]


def tensor(name, *shape):
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, ["N", *shape])


RNG = np.random.default_rng(0)


def weights(*shape):
    return RNG.normal(size=shape).astype(np.float32)


def test_a_pytorch_style_mlp():
    """nn.Linear as Gemm(transB=1): weights stored (out, in)."""
    model = model_of([helper.make_node("Gemm", ["x", "w1", "b1"], ["h"], name="/fc1/Gemm", transB=1),
                      helper.make_node("Relu", ["h"], ["r"], name="/relu/Relu"),
                      helper.make_node("Gemm", ["r", "w2", "b2"], ["logits"], name="/fc2/Gemm", transB=1),
                      helper.make_node("Softmax", ["logits"], ["y"], name="/softmax/Softmax", axis=1)],
                     [tensor("x", 4)], tensor("y", 3),
                     [("w1", weights(8, 4)), ("b1", weights(8)), ("w2", weights(3, 8)), ("b2", weights(3))])
    pipeline = from_onnx(model)
    assert pipeline.spec == {"netspec": "1", "name": "foreign", "input": {"features": 4}, "dtype": "float32",
                             "layers": [{"type": "dense", "neurons": 8}, {"type": "relu"},
                                        {"type": "dense", "neurons": 3}, {"type": "softmax"}]}
    X = weights(5, 4)
    assert_close(pipeline.forward(X), ort_output(model, {"x": X}), "float32")


def test_matmul_then_add_is_one_dense_layer_and_sum_mean_merge():
    model = model_of([helper.make_node("MatMul", ["a", "w"], ["m"], name="project"),
                      helper.make_node("Add", ["m", "bias"], ["p"], name="biased"),
                      helper.make_node("Tanh", ["b"], ["t"], name="squash"),
                      helper.make_node("Sum", ["p", "t", "p"], ["s"], name="total"),
                      helper.make_node("Mean", ["s", "t"], ["y"], name="mean")],
                     [tensor("a", 3), tensor("b", 2)], tensor("y", 2), [("w", weights(3, 2)), ("bias", weights(2))])
    pipeline = from_onnx(model)
    assert [(layer["type"], layer["name"]) for layer in pipeline.spec["layers"]] == [
        ("dense", "project"), ("tanh", "squash"), ("add", "total"), ("average", "mean")]
    X = {"a": weights(4, 3), "b": weights(4, 2)}
    assert_close(pipeline.forward(X), ort_output(model, X), "float32")


def test_a_channels_last_cnn_with_global_pooling_and_batch_normalization():
    model = model_of([helper.make_node("Transpose", ["x"], ["xt"], perm=[0, 3, 1, 2]),
                      helper.make_node("Conv", ["xt", "k", "kb"], ["c"], name="conv", pads=[1, 1, 1, 1],
                                       kernel_shape=[3, 3]),
                      helper.make_node("BatchNormalization", ["c", "g", "be", "mu", "var"], ["n"], name="bn",
                                       epsilon=1e-5),
                      helper.make_node("LeakyRelu", ["n"], ["r"], name="leaky", alpha=0.2),
                      helper.make_node("GlobalAveragePool", ["r"], ["p"], name="pool"),
                      helper.make_node("Flatten", ["p"], ["f"], name="flat"),
                      helper.make_node("Gemm", ["f", "w", "b"], ["y"], name="out")],
                     [tensor("x", 6, 5, 2)], tensor("y", 2),
                     [("k", weights(4, 2, 3, 3)), ("kb", weights(4)), ("g", weights(4)), ("be", weights(4)),
                      ("mu", weights(4)), ("var", np.abs(weights(4)) + 0.5), ("w", weights(4, 2)), ("b", weights(2))])
    pipeline = from_onnx(model)
    assert [layer["type"] for layer in pipeline.spec["layers"]] == ["conv2d", "batch_norm", "leaky_relu",
                                                                    "global_avg_pool", "dense"]
    X = weights(3, 6, 5, 2)
    assert_close(pipeline.forward(X), ort_output(model, {"x": X}), "float32")


# ---------------------------------------------------------------- refused

def test_every_unsupported_node_is_named_with_its_operator_at_once():
    model = model_of([helper.make_node("Gemm", ["x", "w", "b"], ["h"], name="fc"),
                      helper.make_node("Erf", ["h"], ["e"], name="gelu_part"),
                      helper.make_node("Relu", ["e"], ["r"], name="after"),
                      helper.make_node("HardSwish", ["h"], ["s"], name="swish"),
                      helper.make_node("Add", ["r", "s"], ["y"], name="join")],
                     [tensor("x", 4)], tensor("y", 3), [("w", weights(4, 3)), ("b", weights(3))])
    with pytest.raises(InteropError) as caught:
        from_onnx(model)
    found = caught.value.errors
    assert [(d.where, d.code) for d in found] == [("graph.node[1]", "unsupported-layer"),
                                                  ("graph.node[3]", "unsupported-layer")]
    assert found[0].message == "node 'gelu_part' is an ONNX Erf, which netspec has no layer for"


def test_options_netspec_cannot_express():
    model = model_of([helper.make_node("Transpose", ["x"], ["xt"], perm=[0, 3, 1, 2]),
                      helper.make_node("Conv", ["xt", "k"], ["c"], name="grouped", group=2, kernel_shape=[1, 1]),
                      helper.make_node("MaxPool", ["xt"], ["m"], name="lopsided", kernel_shape=[2, 2],
                                       pads=[1, 0, 0, 0]),
                      helper.make_node("Concat", ["c", "m"], ["y"], name="join", axis=1)],
                     [tensor("x", 4, 4, 2)], tensor("y", 4, 4, 4), [("k", weights(2, 1, 1, 1))])
    with pytest.raises(InteropError) as caught:
        from_onnx(model)
    assert [(d.where, d.code) for d in caught.value.errors] == [("graph.node[1]", "unsupported-option"),
                                                                ("graph.node[2]", "unsupported-option")]
    assert "pads [1, 0, 0, 0]: netspec pads valid (none) or same" in caught.value.errors[1].message


def test_a_channels_first_input_is_refused_with_how_to_fix_it():
    model = model_of([helper.make_node("Conv", ["x", "k"], ["y"], name="conv", kernel_shape=[3, 3])],
                     [tensor("x", 1, 8, 8)], tensor("y", 2, 6, 6), [("k", weights(2, 1, 3, 3))])
    with pytest.raises(InteropError) as caught:
        from_onnx(model)
    (found,) = caught.value.errors
    assert (found.where, found.code) == ("graph.node[0]", "unsupported-structure")
    assert "reads 'x' as channels-first (batch, channels, ...)" in found.message


def test_several_outputs_are_refused():
    graph = helper.make_graph([helper.make_node("Relu", ["x"], ["a"]), helper.make_node("Tanh", ["x"], ["b"])], "two",
                              [tensor("x", 3)], [tensor("a", 3), tensor("b", 3)])
    with pytest.raises(InteropError, match="the graph has 2 outputs"):
        from_onnx(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]))


@pytest.mark.parametrize("source", [b"not a model", "no/such/model.onnx"])
def test_what_is_not_a_model(source, tmp_path):
    with pytest.raises(InteropError) as caught:
        from_onnx(source)
    assert [d.code for d in caught.value.errors] == ["not-a-model"]
