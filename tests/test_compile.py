"""Stage 4: a checked spec becomes a Pipeline of plain NumPy objects."""

import numpy as np
import pytest

import netspec
from netspec.runtime import Dense, ReLU, Softmax

TUTORIAL = {
    "netspec": "1",
    "input": {"features": 2},
    "layers": [{"type": "dense", "neurons": 3}, {"type": "relu"}, {"type": "dense", "neurons": 3}, {"type": "softmax"}],
    "loss": "categorical_crossentropy",
    "init": {"type": "uniform", "low": 0, "high": 0.1},
    "rng": "legacy",
    "seed": 42,
}


def tutorial_by_hand(X):
    """The tutorial's network written the tutorial way (closed form of the pipeline)."""
    np.random.seed(42)
    W1 = 0.1 * np.random.rand(2, 3)
    W2 = 0.1 * np.random.rand(3, 3)
    hidden = np.maximum(0, X @ W1 + np.zeros((1, 3)))
    scores = hidden @ W2 + np.zeros((1, 3))
    exp = np.exp(scores - np.max(scores, axis=1, keepdims=True))
    return W1, W2, exp / np.sum(exp, axis=1, keepdims=True)


def test_legacy_rng_reproduces_the_tutorial_bit_for_bit():
    pipeline = netspec.compile(TUTORIAL)
    X, y = netspec.data.spiral(seed=0)
    W1, W2, probs = tutorial_by_hand(X)
    assert np.array_equal(pipeline.layers[0].weights, W1)
    assert np.array_equal(pipeline.layers[2].weights, W2)
    assert np.array_equal(pipeline.forward(X), probs)
    clipped = np.clip(probs, 1e-7, 1 - 1e-7)
    assert pipeline.loss(X, y) == pytest.approx(np.mean(-np.log(clipped[np.arange(len(y)), y])), rel=1e-15)


def test_pipeline_is_plain_numpy_objects():
    pipeline = netspec.compile(TUTORIAL)
    assert [type(layer) for layer in pipeline.layers] == [Dense, ReLU, Dense, Softmax]
    dense = pipeline.layers[0]
    assert dense.weights.shape == (2, 3) and dense.bias.shape == (1, 3)
    assert np.all(dense.bias == 0)
    assert len(pipeline.parameters()) == 4
    for obj in [pipeline, *pipeline.layers, pipeline.loss_function]:
        assert not any("pydantic" in type(v).__module__ for v in vars(obj).values())


def test_every_layer_keeps_its_last_output():
    pipeline = netspec.compile(TUTORIAL)
    X = np.array([[1.0, 2.0], [-1.0, 0.5]])
    out = pipeline.forward(X)
    assert np.array_equal(pipeline.layers[-1].output, out)
    assert np.array_equal(pipeline.layers[1].output, np.maximum(0, pipeline.layers[0].output))


def test_activation_shorthand_becomes_its_own_layer():
    pipeline = netspec.compile({"input": {"features": 2},
                                "layers": [{"type": "dense", "neurons": 4, "activation": {"type": "leaky_relu", "alpha": 0.2}}]})
    assert [layer.name for layer in pipeline.layers] == ["dense_1", "leaky_relu_1"]
    assert pipeline.layers[1].alpha == 0.2


def test_predict_gives_classes_labels_or_values():
    X = np.array([[0.0, 1.0], [1.0, 0.0], [2.0, -1.0]])
    classes = netspec.compile(TUTORIAL).predict(X)
    assert classes.shape == (3,) and classes.dtype.kind == "i"
    binary = netspec.compile({"input": {"features": 2}, "seed": 0,
                              "layers": [{"type": "dense", "neurons": 1, "activation": "sigmoid"}],
                              "loss": "binary_crossentropy"}).predict(X)
    assert binary.shape == (3,) and set(binary) <= {0, 1}
    values = netspec.compile({"input": {"features": 2}, "seed": 0, "layers": [{"type": "dense", "neurons": 2}],
                              "loss": "mse"}).predict(X)
    assert values.shape == (3, 2) and values.dtype == np.float64


def test_float32_on_request():
    pipeline = netspec.compile({**TUTORIAL, "dtype": "float32"})
    assert all(p.dtype == np.float32 for p in pipeline.parameters())
    assert pipeline.forward(np.ones((2, 2))).dtype == np.float32


def test_same_seed_same_weights_and_default_rng():
    spec = {**TUTORIAL, "rng": "default", "init": "glorot_uniform", "seed": 7}
    a, b = netspec.compile(spec), netspec.compile(spec)
    assert all(np.array_equal(p, q) for p, q in zip(a.parameters(), b.parameters()))
    expected = np.random.default_rng(7).uniform(-np.sqrt(6 / 5), np.sqrt(6 / 5), (2, 3))
    assert np.array_equal(a.layers[0].weights, expected)


def test_dense_without_bias():
    pipeline = netspec.compile({"input": {"features": 2}, "layers": [{"type": "dense", "neurons": 3, "bias": False}]})
    assert pipeline.layers[0].bias is None and len(pipeline.parameters()) == 1


def test_warnings_are_kept_not_raised():
    pipeline = netspec.compile({"input": {"features": 2}, "layers": [{"type": "dense", "neurons": 3}],
                                "loss": "categorical_crossentropy"})
    assert [w.code for w in pipeline.warnings] == ["crossentropy-without-softmax"]


def test_strict_turns_warnings_into_errors():
    with pytest.raises(netspec.SpecError) as caught:
        netspec.compile({"input": {"features": 2}, "layers": [{"type": "dense", "neurons": 3}],
                         "loss": "categorical_crossentropy"}, strict=True)
    assert caught.value.errors[0].code == "crossentropy-without-softmax"


def test_summary_is_the_inference_table():
    pipeline = netspec.compile(TUTORIAL)
    assert pipeline.summary() == netspec.infer(TUTORIAL).table()
    assert "total parameters: 21" in pipeline.summary()


def test_pipeline_carries_the_canonical_spec():
    pipeline = netspec.compile(TUTORIAL)
    assert netspec.load(pipeline.spec) == netspec.load(TUTORIAL)
