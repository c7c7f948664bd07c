"""The compiled pipeline checks data at the door: clear errors, never a broadcasting traceback."""

import numpy as np
import pytest

import netspec
from netspec.errors import DataError

CLASSIFIER = {"input": {"features": 2}, "seed": 0,
              "layers": [{"type": "dense", "neurons": 4, "activation": "relu"}, {"type": "dense", "neurons": 3},
                         {"type": "softmax"}],
              "loss": "categorical_crossentropy"}


@pytest.fixture
def pipeline():
    return netspec.compile(CLASSIFIER)


def test_wrong_column_count(pipeline):
    with pytest.raises(DataError, match="3 columns.*2 features"):
        pipeline.forward(np.ones((5, 3)))


def test_non_finite_inputs(pipeline):
    X = np.ones((4, 2))
    X[2, 1] = np.nan
    with pytest.raises(DataError, match=r"X\[2, 1\] is nan"):
        pipeline.forward(X)


def test_wrong_dimensionality(pipeline):
    with pytest.raises(DataError):
        pipeline.forward(np.ones((2, 2, 2)))


def test_labels_out_of_range(pipeline):
    with pytest.raises(DataError, match="out of range|range"):
        pipeline.loss(np.ones((3, 2)), np.array([0, 1, 3]))


def test_label_count_mismatch(pipeline):
    with pytest.raises(DataError, match="rows|samples"):
        pipeline.loss(np.ones((3, 2)), np.array([0, 1]))


def test_one_hot_and_index_labels_give_the_same_loss(pipeline):
    X = np.random.default_rng(0).normal(size=(6, 2))
    y = np.array([0, 1, 2, 2, 1, 0])
    assert pipeline.loss(X, y) == pytest.approx(pipeline.loss(X, np.eye(3)[y]), rel=1e-15)


def test_a_pipeline_without_loss_says_so():
    pipeline = netspec.compile({"input": {"features": 2}, "layers": [{"type": "dense", "neurons": 2}]})
    with pytest.raises(DataError, match="no loss"):
        pipeline.loss(np.ones((1, 2)), np.zeros(1))


def test_data_errors_are_value_errors(pipeline):
    with pytest.raises(ValueError):
        pipeline.forward("not data")


# ---------------------------------------------------------------- tensor inputs and outputs

PER_PIXEL = {"input": {"shape": [4, 5, 1]}, "seed": 0,
             "layers": [{"type": "conv2d", "filters": 3, "kernel_size": 3, "padding": "same"}, {"type": "softmax"}]}


def test_image_inputs_are_checked_at_the_door():
    pipeline = netspec.compile(PER_PIXEL)
    assert pipeline.forward(np.zeros((2, 4, 5, 1))).shape == (2, 4, 5, 3)
    with pytest.raises(DataError, match=r"X has shape \(2, 4, 5\); expected \(samples, 4, 5, 1\) -- add the channel"):
        pipeline.forward(np.zeros((2, 4, 5)))
    with pytest.raises(DataError, match=r"X has shape \(2, 5, 4, 1\); expected \(samples, 4, 5, 1\)"):
        pipeline.predict(np.zeros((2, 5, 4, 1)))


def test_predict_takes_classes_along_the_last_axis():
    pipeline = netspec.compile(PER_PIXEL)
    X = np.random.default_rng(0).normal(size=(2, 4, 5, 1))
    output = pipeline.forward(X)
    assert pipeline.task == "categorical"
    assert np.array_equal(pipeline.predict(X), np.argmax(output, axis=-1))  # (2, 4, 5): a class per pixel


@pytest.mark.parametrize("filters", [1, 2])
def test_binary_predict_on_tensors_drops_only_a_single_output_axis(filters):
    spec = {"input": {"shape": [1, 5, 1]}, "seed": 0,
            "layers": [{"type": "conv2d", "filters": filters, "kernel_size": 1}, {"type": "sigmoid"}]}
    pipeline = netspec.compile(spec)
    X = np.random.default_rng(1).normal(size=(3, 1, 5, 1))
    labels = (pipeline.forward(X) > 0.5).astype(np.int64)
    assert pipeline.task == "binary"
    assert np.array_equal(pipeline.predict(X), labels[..., 0] if filters == 1 else labels)
