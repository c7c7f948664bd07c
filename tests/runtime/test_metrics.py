"""Metrics beyond accuracy, against counts worked out by hand: macro precision,
recall and F1, and top-k accuracy."""

import numpy as np
import pytest

import netspec as ns
from netspec.errors import DataError
from netspec.runtime.metrics import METRICS, f1, precision, recall, top_k_accuracy

# Three classes. Truth 0 0 1 1 2 2, predicted 0 1 1 1 0 2:
# class 0: TP 1, FP 1, FN 1; class 1: TP 2, FP 1, FN 0; class 2: TP 1, FP 0, FN 1.
TRUTH = np.array([0, 0, 1, 1, 2, 2])
SCORES = np.array([[0.7, 0.2, 0.1], [0.2, 0.5, 0.3], [0.1, 0.8, 0.1],
                   [0.3, 0.4, 0.3], [0.5, 0.1, 0.4], [0.1, 0.2, 0.7]])


def test_macro_precision_recall_and_f1_by_hand():
    assert precision(SCORES, TRUTH, "categorical") == pytest.approx((1 / 2 + 2 / 3 + 1) / 3)
    assert recall(SCORES, TRUTH, "categorical") == pytest.approx((1 / 2 + 1 + 1 / 2) / 3)
    assert f1(SCORES, TRUTH, "categorical") == pytest.approx((2 / 4 + 4 / 5 + 2 / 3) / 3)
    assert precision(SCORES, np.eye(3)[TRUTH], "categorical") == precision(SCORES, TRUTH, "categorical")


def test_classes_in_neither_targets_nor_predictions_are_not_averaged():
    scores = np.array([[0.9, 0.05, 0.05], [0.1, 0.8, 0.1]])
    assert precision(scores, np.array([0, 1]), "categorical") == 1.0  # class 2 occurs nowhere


def test_binary_is_the_positive_class_and_an_empty_denominator_gives_zero():
    output, targets = np.array([[0.9], [0.8], [0.2], [0.6]]), np.array([[1.0], [0.0], [1.0], [1.0]])
    assert precision(output, targets, "binary") == pytest.approx(2 / 3)
    assert recall(output, targets, "binary") == pytest.approx(2 / 3)
    assert precision(np.array([[0.1], [0.2]]), np.array([[1.0], [0.0]]), "binary") == 0.0
    assert precision(np.array([[2.0], [-1.0]]), np.array([[1.0], [0.0]]), "binary", from_logits=True) == 1.0


def test_top_k_accuracy_counts_ties_at_the_boundary_as_in():
    assert top_k_accuracy(SCORES, TRUTH, "categorical", top_k=1) == pytest.approx(4 / 6)
    assert top_k_accuracy(SCORES, TRUTH, "categorical", top_k=2) == pytest.approx(5 / 6)  # sample 1: 0.2 is last
    tied = np.array([[0.4, 0.3, 0.3]])
    assert top_k_accuracy(tied, np.array([2]), "categorical", top_k=2) == 1.0
    with pytest.raises(DataError, match="needs a categorical output"):
        top_k_accuracy(SCORES[:, :1], TRUTH[:, None], "binary")


def test_regression_has_no_precision():
    with pytest.raises(DataError, match="classification loss"):
        METRICS["precision"](np.zeros((2, 1)), np.zeros((2, 1)), "regression")


def test_evaluate_and_history_report_them_under_their_names():
    spec = {"input": 2, "layers": [{"type": "dense", "neurons": 3}, {"type": "softmax"}],
            "loss": "categorical_crossentropy", "seed": 0,
            "train": {"epochs": 2, "metrics": ["precision", "recall", "f1", "top_k_accuracy"], "top_k": 2,
                      "validation_split": 0.2}}
    X, y = ns.data.spiral(points_per_class=20, seed=0)
    pipeline = ns.compile(spec)
    history = pipeline.fit(X, y, verbose=0)
    assert list(history.values) == ["loss", "precision", "recall", "f1", "top_k_accuracy", "val_loss",
                                    "val_precision", "val_recall", "val_f1", "val_top_k_accuracy"]
    found = pipeline.evaluate(X, y)
    output = pipeline.forward(X)
    assert found["top_k_accuracy"] == top_k_accuracy(output, y, "categorical", top_k=2)
    assert found["f1"] == f1(output, y, "categorical")
    stopping = {**spec, "train": {**spec["train"], "early_stopping": {"monitor": "val_f1", "patience": 1}}}
    assert ns.validate(stopping).ok
    unmeasured = {**spec, "train": {**spec["train"], "metrics": [], "early_stopping": {"monitor": "val_f1"}}}
    assert [d.code for d in ns.validate(unmeasured).errors] == ["monitor-not-measured"]


@pytest.mark.parametrize("name", sorted(METRICS))
def test_every_metric_is_a_plain_float_as_histories_write_them(name):
    # History.as_csv writes repr(value): a NumPy scalar would be written as np.float64(...).
    task = "regression" if name == "mae" else "categorical"
    targets = SCORES if task == "regression" else TRUTH
    value = METRICS[name](SCORES, targets, task, False, 2)
    assert type(value) is float


def test_accuracy_is_numpys_mean_of_the_hits():
    rng = np.random.default_rng(0)
    for rows in (1, 7, 300, 1001):
        scores, truth = rng.random((rows, 4)), rng.integers(0, 4, rows)
        assert METRICS["accuracy"](scores, truth, "categorical") == float(np.mean(np.argmax(scores, axis=1) == truth))
