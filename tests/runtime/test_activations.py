import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from netspec.runtime.activations import (
    ACTIVATIONS,
    ELU,
    LeakyReLU,
    Linear,
    ReLU,
    Sigmoid,
    Softmax,
    Tanh,
)
from netspec.runtime.gradcheck import numerical_gradient

ALL = [ReLU, LeakyReLU, ELU, Sigmoid, Tanh, Softmax, Linear]


def forward_backward(activation, inputs, dvalues=None):
    output = activation.forward(np.array(inputs, dtype=np.float64))
    dvalues = np.ones_like(output) if dvalues is None else np.asarray(dvalues, dtype=np.float64)
    return output, activation.backward(dvalues)


# Closed forms at chosen points, including each kink (derivative there as PyTorch).


def test_relu():
    output, dinputs = forward_backward(ReLU(), [[-2.0, -0.5, 0.0, 0.5, 3.0]])
    np.testing.assert_array_equal(output, [[0.0, 0.0, 0.0, 0.5, 3.0]])
    np.testing.assert_array_equal(dinputs, [[0.0, 0.0, 0.0, 1.0, 1.0]])


def test_leaky_relu():
    output, dinputs = forward_backward(LeakyReLU(alpha=0.1), [[-2.0, 0.0, 3.0]])
    np.testing.assert_allclose(output, [[-0.2, 0.0, 3.0]])
    np.testing.assert_allclose(dinputs, [[0.1, 0.1, 1.0]])


def test_elu():
    output, dinputs = forward_backward(ELU(alpha=2.0), [[-1.0, 0.0, 2.0]])
    np.testing.assert_allclose(output, [[2.0 * (math.exp(-1.0) - 1.0), 0.0, 2.0]])
    np.testing.assert_allclose(dinputs, [[2.0 * math.exp(-1.0), 2.0, 1.0]])


def test_sigmoid():
    output, dinputs = forward_backward(Sigmoid(), [[-2.0, 0.0, 2.0]])
    np.testing.assert_allclose(output, [[0.11920292202211755, 0.5, 0.8807970779778823]])
    np.testing.assert_allclose(dinputs, output * (1.0 - output))


def test_sigmoid_is_the_tutorial_formula_bit_for_bit():
    inputs = np.random.default_rng(0).normal(scale=10.0, size=(4, 5))
    np.testing.assert_array_equal(Sigmoid().forward(inputs), 1 / (1 + np.exp(-inputs)))


def test_sigmoid_saturates_without_warnings():
    with np.errstate(all="raise", under="ignore"):
        output, dinputs = forward_backward(Sigmoid(), [[-1e300, -800.0, 800.0, 1e300]])
    np.testing.assert_array_equal(output, [[0.0, 0.0, 1.0, 1.0]])
    np.testing.assert_array_equal(dinputs, [[0.0, 0.0, 0.0, 0.0]])


def test_tanh():
    output, dinputs = forward_backward(Tanh(), [[-0.5, 0.0, 0.5]])
    np.testing.assert_allclose(output, [[-0.46211715726000974, 0.0, 0.46211715726000974]])
    np.testing.assert_allclose(dinputs, 1.0 - output**2)


def test_softmax_closed_form():
    output = Softmax().forward(np.array([[2.0, 3.0, 4.0], [1.0, 1.0, 1.0]]))
    np.testing.assert_allclose(output[0], [0.09003057, 0.24472847, 0.66524096], rtol=1e-7)
    np.testing.assert_allclose(output[1], [1 / 3, 1 / 3, 1 / 3])


def test_softmax_is_the_tutorial_formula_bit_for_bit():
    inputs = np.random.default_rng(1).normal(size=(4, 5))
    exp_values = np.exp(inputs - np.max(inputs, axis=1, keepdims=True))
    expected = exp_values / np.sum(exp_values, axis=1, keepdims=True)
    np.testing.assert_array_equal(Softmax().forward(inputs), expected)


def test_softmax_backward_is_the_jacobian_product_of_each_row():
    rng = np.random.default_rng(2)
    inputs, dvalues = rng.normal(size=(3, 4)), rng.normal(size=(3, 4))
    output, dinputs = forward_backward(Softmax(), inputs, dvalues)
    for y, dvalue, dinput in zip(output, dvalues, dinputs):
        jacobian = np.diagflat(y) - np.outer(y, y)
        np.testing.assert_allclose(dinput, jacobian @ dvalue, rtol=1e-12, atol=1e-15)


def test_softmax_huge_inputs():
    with np.errstate(all="raise", under="ignore"):
        output = Softmax().forward(np.array([[1e300, 1e300, -1e300], [1e308, 0.0, -1e308]]))
    np.testing.assert_array_equal(output, [[0.5, 0.5, 0.0], [1.0, 0.0, 0.0]])


def test_softmax_in_training_leaves_the_error_state_to_the_caller():
    # The training step ignores overflow around every layer, so softmax does not enter its own error state
    # there: the same values, and a caller that raises on overflow sees it.
    huge = np.array([[1e308, 0.0, -1e308]])
    with np.errstate(over="ignore", invalid="ignore"):
        np.testing.assert_array_equal(Softmax().forward(huge, training=True), [[1.0, 0.0, 0.0]])
    with np.errstate(over="raise"), pytest.raises(FloatingPointError):
        Softmax().forward(huge, training=True)
    inputs = np.random.default_rng(3).normal(size=(6, 4))
    np.testing.assert_array_equal(Softmax().forward(inputs, training=True), Softmax().forward(inputs))


def test_linear_is_identity():
    inputs = np.array([[-1.0, 2.0]])
    output, dinputs = forward_backward(Linear(), inputs, [[3.0, 4.0]])
    np.testing.assert_array_equal(output, inputs)
    np.testing.assert_array_equal(dinputs, [[3.0, 4.0]])


# Every activation: gradient, protocol, dtype.


@pytest.mark.parametrize("cls", ALL)
def test_gradient_matches_finite_differences(cls):
    rng = np.random.default_rng(3)
    inputs = rng.uniform(0.1, 2.0, size=(4, 5)) * rng.choice([-1.0, 1.0], size=(4, 5))  # no kinks
    dvalues = rng.normal(size=(4, 5))
    activation = cls()

    def loss():
        return np.sum(activation.forward(inputs) * dvalues)

    activation.forward(inputs)
    dinputs = activation.backward(dvalues)
    np.testing.assert_allclose(dinputs, numerical_gradient(loss, inputs), rtol=1e-6, atol=1e-10)


@pytest.mark.parametrize("cls", ALL)
def test_protocol(cls):
    activation = cls(name="act_1")
    inputs = np.array([[0.5, -0.5]])
    assert activation.forward(inputs, training=True) is activation.output
    assert activation.inputs is inputs
    assert activation.backward(np.ones((1, 2))) is activation.dinputs
    assert activation.parameters() == activation.gradients() == []
    assert activation.name == "act_1"


@pytest.mark.parametrize("cls", ALL)
def test_float32_is_preserved(cls):
    activation = cls()
    inputs = np.array([[-1.5, 0.0, 2.0]], dtype=np.float32)
    assert activation.forward(inputs).dtype == np.float32
    assert activation.backward(np.ones((1, 3), dtype=np.float32)).dtype == np.float32


def test_reprs():
    assert repr(ReLU(name="relu_1")) == "ReLU(name='relu_1')"
    assert repr(LeakyReLU()) == "LeakyReLU(alpha=0.01, name='leaky_relu')"
    assert repr(ELU(alpha=0.5, name="e")) == "ELU(alpha=0.5, name='e')"
    assert repr(Softmax()) == "Softmax(name='softmax')"


def test_table_names_are_the_default_names():
    assert set(ACTIVATIONS.values()) == set(ALL)
    for name, cls in ACTIVATIONS.items():
        assert cls().name == name


# Properties over random finite inputs.

finite_arrays = st.sampled_from([np.float32, np.float64]).flatmap(
    lambda dtype: hnp.arrays(
        dtype,
        hnp.array_shapes(min_dims=2, max_dims=2, min_side=1, max_side=6),
        elements=st.floats(allow_nan=False, allow_infinity=False, width=np.finfo(dtype).bits),
    )
)


@pytest.mark.parametrize("cls", ALL)
@given(inputs=finite_arrays)
def test_shape_and_dtype_follow_the_inputs(cls, inputs):
    activation = cls()
    with np.errstate(all="raise", under="ignore"):
        output = activation.forward(inputs)
        dinputs = activation.backward(np.ones_like(inputs))
    assert output.shape == dinputs.shape == inputs.shape
    assert output.dtype == dinputs.dtype == inputs.dtype
    assert not np.isnan(output).any()


@given(inputs=finite_arrays)
def test_softmax_rows_sum_to_one(inputs):
    with np.errstate(all="raise", under="ignore"):
        output = Softmax().forward(inputs)
    assert not np.isnan(output).any()
    assert ((output >= 0) & (output <= 1)).all()
    np.testing.assert_allclose(output.sum(axis=1), 1.0, rtol=10 * np.finfo(inputs.dtype).eps * inputs.shape[1])
