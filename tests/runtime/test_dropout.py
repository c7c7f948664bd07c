"""Dropout: inverted, training only, any rank, its masks from the spec's random
source (the book's draw with the legacy RandomState), reproducible with a seed."""

import numpy as np
import pytest

import netspec as ns
from netspec.runtime.dropout import Dropout


def test_inference_is_the_identity():
    inputs = np.random.default_rng(0).normal(size=(4, 5))
    layer = Dropout(0.5, np.random.default_rng(1))
    assert layer.forward(inputs) is inputs
    np.testing.assert_array_equal(layer.backward(np.ones((4, 5))), np.ones((4, 5)))


@pytest.mark.parametrize("shape", [(2000, 50), (40, 25, 100), (10, 20, 50, 10)], ids=["vectors", "sequences", "images"])
def test_training_keeps_each_value_with_probability_one_minus_rate_scaled_up(shape):
    inputs = np.random.default_rng(0).uniform(0.5, 1.5, size=shape)
    layer = Dropout(0.3, np.random.default_rng(1))
    output = layer.forward(inputs, training=True)
    kept = output != 0
    assert output.shape == shape
    assert kept.mean() == pytest.approx(0.7, abs=0.01)
    np.testing.assert_array_equal(output[kept], inputs[kept] * (1 / 0.7))
    assert output.mean() == pytest.approx(inputs.mean(), rel=0.01)  # inverted: the expectation is kept


def test_backward_uses_the_forward_mask():
    rng = np.random.default_rng(2)
    inputs, dvalues = rng.uniform(0.5, 1.5, size=(6, 7)), rng.normal(size=(6, 7))
    layer = Dropout(0.5, np.random.default_rng(3))
    output = layer.forward(inputs, training=True)
    np.testing.assert_array_equal(layer.backward(dvalues), dvalues * ((output != 0) / 0.5))


def test_rate_zero_drops_nothing():
    inputs = np.arange(6.0).reshape(2, 3)
    np.testing.assert_array_equal(Dropout(0.0).forward(inputs, training=True), inputs)


def test_legacy_random_state_draws_the_books_binomial_mask():
    inputs = np.random.default_rng(0).normal(size=(8, 5))
    source, book = np.random.RandomState(7), np.random.RandomState(7)
    layer = Dropout(0.2, source)
    for _ in range(3):  # the book: binary_mask = np.random.binomial(1, self.rate, size) / self.rate, rate = 1 - 0.2
        binary_mask = book.binomial(1, 1 - 0.2, size=inputs.shape) / (1 - 0.2)
        assert layer.forward(inputs, training=True).tobytes() == (inputs * binary_mask).tobytes()


def test_float32_stays_float32():
    inputs = np.ones((3, 4), np.float32)
    assert Dropout(0.5, np.random.default_rng(0)).forward(inputs, training=True).dtype == np.float32


def test_bad_rates_are_refused():
    for rate in (1.0, -0.1, float("nan"), True):
        with pytest.raises(ValueError, match="`rate`, expected a number in"):
            Dropout(rate)


def test_finite_differences_with_the_mask_replayed():
    report = ns.check_gradients(ns.Dropout(0.4), in_shape=(3, 4, 2))
    assert report.ok, str(report)


SPEC = {"input": 2, "layers": [{"type": "dense", "neurons": 16, "activation": "relu"},
                               {"type": "dropout", "rate": 0.3}, {"type": "dense", "neurons": 3},
                               {"type": "softmax"}],
        "loss": "categorical_crossentropy", "seed": 4,
        "train": {"optimizer": "sgd", "epochs": 3, "batch_size": 50}}


def trained(spec):
    X, y = ns.data.spiral(points_per_class=50, seed=0)
    pipeline = ns.compile(spec)
    pipeline.fit(X, y, verbose=0)
    return pipeline, X


def test_a_seeded_run_drops_the_same_values_every_time():
    (one, _), (two, _) = trained(SPEC), trained(SPEC)
    for a, b in zip(one.parameters(), two.parameters()):
        np.testing.assert_array_equal(a, b)
    other, _ = trained({**SPEC, "seed": 5})
    assert not np.array_equal(one.parameters()[0], other.parameters()[0])


def test_the_masks_come_from_the_spec_source_after_the_weights():
    pipeline = ns.compile(SPEC)
    assert pipeline.layers[2].rng is pipeline.random
    source = np.random.default_rng(4)
    source.uniform(size=(2, 16)), source.uniform(size=(16, 3))  # glorot_uniform's draws for the two weight matrices
    inputs = np.ones((5, 16))
    expected = (source.random((5, 16)) >= 0.3) / 0.7
    np.testing.assert_array_equal(pipeline.layers[2].forward(inputs, training=True), expected)


def test_predict_and_evaluate_run_in_inference_mode():
    pipeline, X = trained(SPEC)
    assert np.array_equal(pipeline.forward(X), pipeline.forward(X))
    assert pipeline.evaluate(X, np.zeros(len(X), int)) == pipeline.evaluate(X, np.zeros(len(X), int))
    assert not np.array_equal(pipeline.run(pipeline.checked(X), training=True), pipeline.forward(X))
