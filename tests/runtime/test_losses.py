import math

import numpy as np
import pytest

from netspec.runtime.activations import Sigmoid, Softmax, sigmoid, softmax
from netspec.runtime.gradcheck import numerical_gradient
from netspec.runtime.losses import (
    LOSSES,
    BinaryCrossentropy,
    CategoricalCrossentropy,
    MeanAbsoluteError,
    MeanSquaredError,
    _clip,
    mean,
    sigmoid_binary_crossentropy_backward,
    softmax_crossentropy_backward,
)

# The tutorial's batch: three softmax outputs and their classes.
SOFTMAX_OUTPUTS = np.array([[0.7, 0.1, 0.2], [0.1, 0.5, 0.4], [0.02, 0.9, 0.08]])
CLASS_TARGETS = np.array([0, 1, 1])
ONE_HOT_TARGETS = np.eye(3)[CLASS_TARGETS]


# Closed forms.


def test_mse_by_hand():
    y_pred, y_true = np.array([[1.0, 2.0], [3.0, 5.0]]), np.array([[0.0, 2.0], [3.0, 3.0]])
    loss = MeanSquaredError()
    np.testing.assert_array_equal(loss.forward(y_pred, y_true), [0.5, 2.0])
    assert loss.calculate(y_pred, y_true) == 1.25
    # -2 (y - y_pred) / outputs / samples
    np.testing.assert_array_equal(loss.backward(y_pred, y_true), [[0.5, 0.0], [0.0, 1.0]])


def test_mae_by_hand_with_zero_gradient_where_equal():
    y_pred, y_true = np.array([[1.0, 2.0], [3.0, 5.0]]), np.array([[0.0, 2.0], [3.0, 3.0]])
    loss = MeanAbsoluteError()
    np.testing.assert_array_equal(loss.forward(y_pred, y_true), [0.5, 1.0])
    assert loss.calculate(y_pred, y_true) == 0.75
    # sign(y_pred - y) / outputs / samples, 0 where equal
    np.testing.assert_array_equal(loss.backward(y_pred, y_true), [[0.25, 0.0], [0.0, 0.25]])


def test_cce_matches_the_tutorial_with_indices_and_one_hot():
    loss = CategoricalCrossentropy()
    expected = -np.log([0.7, 0.5, 0.9])
    np.testing.assert_allclose(loss.forward(SOFTMAX_OUTPUTS, CLASS_TARGETS), expected, rtol=1e-15)
    assert loss.calculate(SOFTMAX_OUTPUTS, CLASS_TARGETS) == 0.38506088005216804
    assert loss.calculate(SOFTMAX_OUTPUTS, ONE_HOT_TARGETS) == 0.38506088005216804


def test_cce_with_probability_targets_is_the_full_cross_entropy():
    y_true = np.array([[0.5, 0.5, 0.0]])
    expected = -(0.5 * math.log(0.7) + 0.5 * math.log(0.1))
    np.testing.assert_allclose(CategoricalCrossentropy().forward(SOFTMAX_OUTPUTS[:1], y_true), [expected])


def test_cce_clips_at_zero_and_one():
    y_pred = np.array([[1.0, 0.0, 0.0], [1.0, 0.0, 0.0]])
    labels = np.array([0, 1])
    loss = CategoricalCrossentropy()
    np.testing.assert_allclose(loss.forward(y_pred, labels), [-math.log(1 - 1e-7), -math.log(1e-7)])
    np.testing.assert_allclose(loss.backward(y_pred, labels), [[-1 / (1 - 1e-7) / 2, 0, 0], [0, -1 / 1e-7 / 2, 0]])


def test_cce_backward_by_hand():
    # -y / y_pred / n
    dinputs = CategoricalCrossentropy().backward(SOFTMAX_OUTPUTS, CLASS_TARGETS)
    np.testing.assert_allclose(dinputs, [[-1 / 0.7 / 3, 0, 0], [0, -1 / 0.5 / 3, 0], [0, -1 / 0.9 / 3, 0]])


def test_cce_from_logits_equals_cce_of_softmax():
    logits = np.random.default_rng(0).normal(size=(3, 3))
    expected = CategoricalCrossentropy().forward(softmax(logits), CLASS_TARGETS)
    for targets in (CLASS_TARGETS, ONE_HOT_TARGETS):
        np.testing.assert_allclose(CategoricalCrossentropy(from_logits=True).forward(logits, targets), expected)


def test_cce_from_logits_is_stable_and_unclipped():
    logits = np.array([[1000.0, 0.0], [0.0, 1000.0]])
    losses = CategoricalCrossentropy(from_logits=True).forward(logits, np.array([1, 1]))
    np.testing.assert_array_equal(losses, [1000.0, 0.0])


def test_bce_by_hand():
    y_pred, y_true = np.array([[0.9, 0.2]]), np.array([[1.0, 0.0]])
    loss = BinaryCrossentropy()
    assert loss.calculate(y_pred, y_true) == pytest.approx((-math.log(0.9) - math.log(0.8)) / 2, rel=1e-15)
    # -(y / p - (1 - y) / (1 - p)) / outputs / samples
    np.testing.assert_allclose(loss.backward(y_pred, y_true), [[-1 / 0.9 / 2, 1 / 0.8 / 2]])


def test_bce_clips_at_zero_and_one():
    y_pred, y_true = np.array([[1.0, 0.0]]), np.array([[0.0, 1.0]])
    loss = BinaryCrossentropy()
    np.testing.assert_allclose(loss.forward(y_pred, y_true), [-math.log(1e-7)], rtol=1e-9)
    assert np.isfinite(loss.backward(y_pred, y_true)).all()


def test_bce_from_logits_equals_bce_of_sigmoid_and_is_stable():
    logits, y_true = np.array([[-2.0, 0.5, 3.0]]), np.array([[0.0, 1.0, 0.3]])
    expected = BinaryCrossentropy().forward(sigmoid(logits), y_true)
    np.testing.assert_allclose(BinaryCrossentropy(from_logits=True).forward(logits, y_true), expected)
    huge = np.array([[1000.0, -1000.0]])
    np.testing.assert_array_equal(BinaryCrossentropy(from_logits=True).forward(huge, np.array([[0.0, 0.0]])), [500.0])


# Fused gradients equal the chained ones (inside the clipping range).


@pytest.mark.parametrize("targets", [CLASS_TARGETS, ONE_HOT_TARGETS], ids=["labels", "one_hot"])
def test_softmax_crossentropy_fused_equals_chained(targets):
    logits = np.random.default_rng(1).normal(size=(3, 3))
    softmax_layer = Softmax()
    probs = softmax_layer.forward(logits)
    chained = softmax_layer.backward(CategoricalCrossentropy().backward(probs, targets))
    fused = softmax_crossentropy_backward(probs, targets)
    np.testing.assert_allclose(fused, chained, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(CategoricalCrossentropy(from_logits=True).backward(logits, targets), fused)


def test_softmax_crossentropy_fused_is_the_tutorial_step_bit_for_bit():
    expected = SOFTMAX_OUTPUTS.copy()
    expected[range(3), CLASS_TARGETS] -= 1
    expected = expected / 3
    np.testing.assert_array_equal(softmax_crossentropy_backward(SOFTMAX_OUTPUTS, CLASS_TARGETS), expected)
    np.testing.assert_array_equal(softmax_crossentropy_backward(SOFTMAX_OUTPUTS, ONE_HOT_TARGETS), expected)


def test_sigmoid_binary_crossentropy_fused_equals_chained():
    rng = np.random.default_rng(2)
    logits, y_true = rng.normal(size=(4, 3)), rng.integers(0, 2, size=(4, 3)).astype(float)
    sigmoid_layer = Sigmoid()
    probs = sigmoid_layer.forward(logits)
    chained = sigmoid_layer.backward(BinaryCrossentropy().backward(probs, y_true))
    fused = sigmoid_binary_crossentropy_backward(probs, y_true)
    np.testing.assert_allclose(fused, chained, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(BinaryCrossentropy(from_logits=True).backward(logits, y_true), fused)


# Every loss: gradient of the mean against finite differences, protocol, dtype.


def loss_cases():
    rng = np.random.default_rng(3)
    probs = softmax(rng.normal(size=(4, 3)))
    labels = rng.integers(0, 3, size=4)
    binary = rng.integers(0, 2, size=(4, 3)).astype(float)
    cases = {
        "mse": (MeanSquaredError(), rng.normal(size=(4, 3)), rng.normal(size=(4, 3))),
        "mae": (MeanAbsoluteError(), rng.normal(size=(4, 3)), rng.normal(size=(4, 3))),
        "cce_labels": (CategoricalCrossentropy(), probs, labels),
        "cce_one_hot": (CategoricalCrossentropy(), probs, np.eye(3)[labels]),
        "cce_soft": (CategoricalCrossentropy(), probs, softmax(rng.normal(size=(4, 3)))),
        "cce_logits_labels": (CategoricalCrossentropy(from_logits=True), rng.normal(size=(4, 3)), labels),
        "cce_logits_soft": (
            CategoricalCrossentropy(from_logits=True), rng.normal(size=(4, 3)), softmax(rng.normal(size=(4, 3)))
        ),
        "bce": (BinaryCrossentropy(), rng.uniform(0.05, 0.95, size=(4, 3)), binary),
        "bce_soft": (BinaryCrossentropy(), rng.uniform(0.05, 0.95, size=(4, 3)), rng.uniform(size=(4, 3))),
        "bce_logits": (BinaryCrossentropy(from_logits=True), rng.normal(size=(4, 3)), binary),
    }
    return [pytest.param(*case, id=name) for name, case in cases.items()]


@pytest.mark.parametrize("loss, y_pred, y_true", loss_cases())
def test_gradient_matches_finite_differences(loss, y_pred, y_true):
    dinputs = loss.backward(y_pred, y_true)
    expected = numerical_gradient(lambda: loss.calculate(y_pred, y_true), y_pred)
    np.testing.assert_allclose(dinputs, expected, rtol=1e-6, atol=1e-10)
    assert dinputs is loss.dinputs


@pytest.mark.parametrize("loss, y_pred, y_true", loss_cases())
def test_shapes_and_float32_are_preserved(loss, y_pred, y_true):
    y_pred = y_pred.astype(np.float32)
    losses = loss.forward(y_pred, y_true)
    assert losses.shape == (4,) and losses.dtype == np.float32
    assert isinstance(loss.calculate(y_pred, y_true), float)
    dinputs = loss.backward(y_pred, y_true)
    assert dinputs.shape == y_pred.shape and dinputs.dtype == np.float32


@pytest.mark.parametrize("backward", [softmax_crossentropy_backward, sigmoid_binary_crossentropy_backward])
def test_fused_gradients_preserve_float32(backward):
    probs = np.full((2, 2), 0.5, dtype=np.float32)
    assert backward(probs, np.eye(2)).dtype == np.float32


def test_table_and_reprs():
    assert LOSSES == {
        "mse": MeanSquaredError,
        "mae": MeanAbsoluteError,
        "categorical_crossentropy": CategoricalCrossentropy,
        "binary_crossentropy": BinaryCrossentropy,
    }
    assert repr(MeanSquaredError()) == "MeanSquaredError()"
    assert repr(CategoricalCrossentropy(from_logits=True)) == "CategoricalCrossentropy(from_logits=True)"
    assert repr(BinaryCrossentropy()) == "BinaryCrossentropy(from_logits=False)"


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_mean_and_clip_are_numpys_bit_for_bit(dtype):
    rng = np.random.default_rng(5)
    for size in [*range(1, 70), 255, 256, 1000, 4097]:
        values = (rng.normal(size=size) * rng.uniform(0.1, 1e3)).astype(dtype)
        assert mean(values) == float(np.mean(values))
        assert mean(values.reshape(1, -1)) == float(np.mean(values.reshape(1, -1)))
        probabilities = rng.uniform(-0.5, 1.5, size).astype(dtype)
        probabilities[::5] = np.nan
        np.testing.assert_array_equal(_clip(probabilities), np.clip(probabilities, 1e-7, 1 - 1e-7))


@pytest.mark.parametrize("rows", [1, 32, 300])
def test_cce_and_its_fused_gradient_are_the_tutorials_bit_for_bit(rows):
    rng = np.random.default_rng(rows)
    probabilities, labels = softmax(rng.normal(size=(rows, 7)) * 5), rng.integers(0, 7, rows)
    clipped = np.clip(probabilities, 1e-7, 1 - 1e-7)
    assert CategoricalCrossentropy().calculate(probabilities, labels) == np.mean(-np.log(clipped[range(rows), labels]))
    expected = probabilities.copy()
    expected[range(rows), labels] -= 1
    np.testing.assert_array_equal(softmax_crossentropy_backward(probabilities, labels), expected / rows)
