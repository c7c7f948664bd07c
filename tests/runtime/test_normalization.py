"""Batch and layer normalization: the closed forms of training and inference,
the moving averages (Keras's momentum, the unbiased variance), any rank with
channels last, finite differences in both modes, and their place in a pipeline."""

import numpy as np
import pytest

import netspec as ns
from netspec.errors import DataError
from netspec.runtime.gradcheck import numerical_gradient
from netspec.runtime.normalization import BatchNorm, LayerNorm

RNG = np.random.default_rng(5)


def batch_norm(channels, momentum=0.99, epsilon=1e-3, center=True, scale=True):
    return BatchNorm(np.ones(channels) if scale else None, np.zeros(channels) if center else None,
                     np.zeros(channels), np.ones(channels), momentum=momentum, epsilon=epsilon)


@pytest.mark.parametrize("shape", [(50, 3), (8, 5, 3), (4, 6, 5, 3)], ids=["vectors", "sequences", "images"])
def test_training_output_has_zero_mean_and_unit_variance_per_channel(shape):
    inputs = RNG.normal(loc=4.0, scale=3.0, size=shape)
    output = batch_norm(3, epsilon=1e-12).forward(inputs, training=True)
    values = output.reshape(-1, 3)
    np.testing.assert_allclose(values.mean(axis=0), 0, atol=1e-12)
    np.testing.assert_allclose(values.var(axis=0), 1, rtol=1e-9)


def test_moving_averages_after_one_step_are_the_closed_form():
    inputs = RNG.normal(loc=2.0, size=(10, 4, 3))
    layer = batch_norm(3, momentum=0.9)
    layer.forward(inputs, training=True)
    values = inputs.reshape(-1, 3)
    np.testing.assert_allclose(layer.moving_mean, 0.1 * values.mean(axis=0), rtol=1e-14)
    np.testing.assert_allclose(layer.moving_variance, 0.9 + 0.1 * values.var(axis=0, ddof=1), rtol=1e-14)
    assert layer.buffers() == [layer.moving_mean, layer.moving_variance]


def test_inference_uses_the_moving_averages_and_changes_nothing():
    layer = BatchNorm(np.array([2.0, 0.5]), np.array([1.0, -1.0]), np.array([3.0, -2.0]), np.array([4.0, 0.25]),
                      epsilon=1e-3)
    inputs = RNG.normal(size=(5, 2))
    expected = (inputs - [3.0, -2.0]) / np.sqrt(np.array([4.0, 0.25]) + 1e-3) * [2.0, 0.5] + [1.0, -1.0]
    np.testing.assert_allclose(layer.forward(inputs), expected, rtol=1e-14)
    np.testing.assert_array_equal(layer.moving_mean, [3.0, -2.0])


def test_center_and_scale_choose_the_parameters():
    assert [p.shape for p in batch_norm(3).parameters()] == [(3,), (3,)]
    assert batch_norm(3, center=False, scale=False).parameters() == []
    spec = ns.Spec(input=ns.Input(shape=[6, 6, 4]), layers=[ns.BatchNorm(center=False), ns.LayerNorm(scale=False)])
    assert [step.parameters for step in ns.infer(spec).layers] == [4, 4]


def test_training_on_one_value_per_channel_is_a_data_error():
    with pytest.raises(DataError, match="batch of one value per channel"):
        batch_norm(3).forward(np.ones((1, 3)), training=True)
    batch_norm(3).forward(np.ones((1, 3)))  # inference takes a single sample


def finite_differences(layer, inputs, training):
    weights = RNG.normal(size=inputs.shape)

    def objective():
        return float(np.sum(layer.forward(inputs, training=training) * weights))

    objective()
    analytic = [layer.backward(weights.copy()).copy(), *(g.copy() for g in layer.gradients())]
    numeric = [numerical_gradient(objective, inputs), *(numerical_gradient(objective, p) for p in layer.parameters())]
    for a, n in zip(analytic, numeric):
        np.testing.assert_allclose(a, n, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("training", [True, False], ids=["training", "inference"])
@pytest.mark.parametrize("shape", [(6, 3), (3, 4, 4, 3)], ids=["vectors", "images"])
def test_batch_norm_finite_differences(training, shape):
    layer = BatchNorm(RNG.normal(size=3), RNG.normal(size=3), RNG.normal(size=3), RNG.uniform(0.5, 2, 3),
                      momentum=1.0)  # momentum 1 keeps the moving averages still across evaluations
    finite_differences(layer, RNG.normal(size=shape), training)


@pytest.mark.parametrize("shape", [(6, 5), (3, 4, 5)], ids=["vectors", "sequences"])
def test_layer_norm_finite_differences(shape):
    finite_differences(LayerNorm(RNG.normal(size=5), RNG.normal(size=5)), RNG.normal(size=shape), True)


def test_layer_norm_normalises_each_position_over_its_channels():
    inputs = RNG.normal(loc=-3.0, scale=5.0, size=(4, 6, 8))
    output = LayerNorm(np.ones(8), np.zeros(8), epsilon=1e-12).forward(inputs)
    np.testing.assert_allclose(output.mean(axis=-1), 0, atol=1e-12)
    np.testing.assert_allclose(output.var(axis=-1), 1, rtol=1e-9)


def test_wrong_channel_count_is_refused():
    with pytest.raises(ValueError, match="3 channels on the last axis"):
        batch_norm(3).forward(np.ones((4, 2)))


def test_check_gradients_covers_both_layers():
    for name in ("batch_norm", "layer_norm"):
        assert ns.check_gradients(name).ok
    assert ns.check_gradients(ns.BatchNorm(momentum=0.5), in_shape=(5, 5, 2)).ok


CONV_NET = {"input": {"shape": [8, 8, 1]},
            "layers": [{"type": "conv2d", "filters": 4, "kernel_size": 3, "bias": False},
                       {"type": "batch_norm", "momentum": 0.9}, {"type": "relu"}, {"type": "flatten"},
                       {"type": "dense", "neurons": 3}, {"type": "layer_norm"}, {"type": "softmax"}],
           "loss": "categorical_crossentropy", "seed": 0, "train": {"epochs": 2, "batch_size": 16}}


def test_a_pipeline_updates_the_moving_averages_in_training_only():
    pipeline = ns.compile(CONV_NET)
    norm = pipeline.layers[1]
    assert pipeline.buffers() == [norm.moving_mean, norm.moving_variance]
    X, y = RNG.uniform(size=(32, 8, 8, 1)), RNG.integers(0, 3, 32)
    pipeline.predict(X)
    pipeline.evaluate(X, y)
    np.testing.assert_array_equal(norm.moving_mean, 0)
    pipeline.fit(X, y, verbose=0)
    assert np.all(norm.moving_mean != 0) and np.all(norm.moving_variance != 1)
    assert sum(p.size for p in pipeline.parameters()) == ns.infer(CONV_NET).total_parameters
