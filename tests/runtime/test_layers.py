import numpy as np
import pytest

from netspec.runtime.gradcheck import numerical_gradient
from netspec.runtime.layers import Dense


def test_forward_matches_the_tutorial_batch():
    # The tutorial's batch of 3 samples through 3 neurons; its weights are
    # written (neurons, in_features), so Dense takes the transpose.
    inputs = np.array([[1.0, 2.0, 3.0, 2.5], [2.0, 5.0, -1.0, 2.0], [-1.5, 2.7, 3.3, -0.8]])
    weights = np.array([[0.2, 0.8, -0.5, 1.0], [0.5, -0.91, 0.26, -0.5], [-0.26, -0.27, 0.17, 0.87]])
    bias = np.array([[2.0, 3.0, 0.5]])
    layer = Dense(weights.T.copy(), bias)
    output = layer.forward(inputs)
    np.testing.assert_allclose(output, [[4.8, 1.21, 2.385], [8.9, -1.81, 0.2], [1.41, 1.051, 0.026]])
    assert output is layer.output
    assert layer.inputs is inputs
    np.testing.assert_array_equal(output, np.dot(inputs, weights.T) + bias)


def test_backward_closed_form():
    inputs = np.array([[1.0, 2.0], [3.0, 4.0]])
    weights = np.array([[1.0, 0.0, -1.0], [2.0, 1.0, 0.5]])
    layer = Dense(weights, np.zeros((1, 3)))
    layer.forward(inputs)
    dvalues = np.array([[1.0, 0.0, 2.0], [0.0, 1.0, -1.0]])
    dinputs = layer.backward(dvalues)
    np.testing.assert_array_equal(layer.dweights, inputs.T @ dvalues)
    np.testing.assert_array_equal(layer.dbiases, [[1.0, 1.0, 1.0]])
    np.testing.assert_array_equal(dinputs, dvalues @ weights.T)
    assert dinputs is layer.dinputs


def test_gradients_match_finite_differences():
    rng = np.random.default_rng(0)
    inputs = rng.normal(size=(5, 4))
    layer = Dense(rng.normal(size=(4, 3)), rng.normal(size=(1, 3)))
    dvalues = rng.normal(size=(5, 3))

    def loss():
        return np.sum(layer.forward(inputs) * dvalues)

    layer.forward(inputs)
    layer.backward(dvalues)
    np.testing.assert_allclose(layer.dinputs, numerical_gradient(loss, inputs), rtol=1e-6)
    np.testing.assert_allclose(layer.dweights, numerical_gradient(loss, layer.weights), rtol=1e-6)
    np.testing.assert_allclose(layer.dbiases, numerical_gradient(loss, layer.bias), rtol=1e-6)


def test_parameters_are_the_given_arrays_in_order():
    weights, bias = np.ones((2, 3)), np.zeros((1, 3))
    layer = Dense(weights, bias)
    assert layer.parameters()[0] is weights
    assert layer.parameters()[1] is bias
    layer.forward(np.ones((4, 2)))
    layer.backward(np.ones((4, 3)))
    assert [g.shape for g in layer.gradients()] == [(2, 3), (1, 3)]
    assert layer.gradients()[0] is layer.dweights
    assert layer.gradients()[1] is layer.dbiases


def test_without_bias():
    weights = np.array([[1.0, 2.0], [3.0, 4.0]])
    layer = Dense(weights)
    np.testing.assert_array_equal(layer.forward(np.array([[1.0, 1.0]])), [[4.0, 6.0]])
    layer.backward(np.ones((1, 2)))
    assert layer.parameters() == [weights]
    assert len(layer.gradients()) == 1
    assert layer.gradients()[0] is layer.dweights


def test_properties_and_repr():
    layer = Dense(np.zeros((2, 3), dtype=np.float32), np.zeros((1, 3), dtype=np.float32), name="dense_1")
    assert (layer.in_features, layer.neurons, layer.dtype) == (2, 3, np.float32)
    assert layer.name == "dense_1"
    assert repr(layer) == "Dense(2 → 3, name='dense_1')"
    assert repr(Dense(np.zeros((4, 1)))) == "Dense(4 → 1, bias=False, name='dense')"


def test_float32_is_preserved():
    layer = Dense(np.ones((2, 3), dtype=np.float32), np.ones((1, 3), dtype=np.float32))
    assert layer.forward(np.ones((4, 2), dtype=np.float32)).dtype == np.float32
    layer.backward(np.ones((4, 3), dtype=np.float32))
    assert {g.dtype for g in [layer.dinputs, *layer.gradients()]} == {np.dtype(np.float32)}


@pytest.mark.parametrize(
    "weights, bias, expected",
    [
        (np.zeros(3), None, "must be 2-D"),
        (np.zeros((2, 3)), np.zeros(3), r"must have shape \(1, 3\)"),
        (np.zeros((2, 3)), np.zeros((1, 2)), r"received shape \(1, 2\)"),
    ],
    ids=["1-d_weights", "1-d_bias", "bias_too_narrow"],
)
def test_bad_arrays_are_refused_with_the_shapes(weights, bias, expected):
    with pytest.raises(ValueError, match=expected):
        Dense(weights, bias)


def test_gradient_arrays_are_reused_between_backward_passes():
    rng = np.random.default_rng(0)
    layer = Dense(rng.normal(size=(3, 2)), np.zeros((1, 2)))
    layer.forward(rng.normal(size=(4, 3)))
    layer.backward(np.ones((4, 2)))
    dweights, dbiases = layer.dweights, layer.dbiases
    inputs, dvalues = rng.normal(size=(5, 3)), rng.normal(size=(5, 2))
    layer.forward(inputs)
    layer.backward(dvalues)
    assert layer.dweights is dweights and layer.dbiases is dbiases
    np.testing.assert_array_equal(layer.dweights, inputs.T @ dvalues)
    np.testing.assert_array_equal(layer.dbiases, dvalues.sum(axis=0, keepdims=True))
    layer.forward(inputs.astype(np.float32))  # a new dtype gets new arrays
    layer.backward(dvalues.astype(np.float32))
    assert layer.dweights is not dweights and layer.dweights.dtype == np.float32
