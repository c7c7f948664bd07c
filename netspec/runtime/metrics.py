"""Metrics, in plain NumPy: what training and ``evaluate`` report beside the loss.

Each metric is a function ``(output, targets, task, from_logits, top_k) -> float``
over one set of outputs (n, k) and checked targets, listed in
:data:`METRICS` under its spec name. Predicted classes are the argmax of the
outputs (categorical) or the outputs above 0.5 (0 with ``from_logits``) for
binary outputs, each output column a label of its own.

- ``accuracy``: the share of samples whose predicted class (categorical) or
  0/1 labels (binary, every label of the sample counted) are right.
- ``mae``: the mean of |output − target| over every value.
- ``precision``, ``recall``, ``f1``: macro averages. Per class c, with TP, FP
  and FN counted over the samples: precision = TP / (TP + FP), recall =
  TP / (TP + FN), F1 = 2·TP / (2·TP + FP + FN), each 0 when its denominator
  is 0; then the plain mean over the classes that occur in the targets or the
  predictions (categorical), or over the output labels, each for its
  positive class (binary: for one output, the positive class's own value).
- ``top_k_accuracy``: the share of samples whose true class is among the
  ``top_k`` highest outputs: fewer than ``top_k`` classes score strictly
  higher than it (so classes tied with it at the boundary count as in).
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from ..errors import DataError


def _truth(targets: np.ndarray) -> np.ndarray:
    """Class indices of categorical targets: the indices themselves, or each row's argmax."""
    return targets if targets.ndim == 1 else np.argmax(targets, axis=1)


def _binary(output: np.ndarray, targets: np.ndarray, from_logits: bool) -> tuple[np.ndarray, np.ndarray]:
    return output > (0.0 if from_logits else 0.5), targets > 0.5


def accuracy(output: np.ndarray, targets: np.ndarray, task: str, from_logits: bool = False, top_k: int = 5) -> float:
    """Share of samples whose predicted class (categorical) or 0/1 labels (binary) are right."""
    if task == "categorical":
        return _share(np.argmax(output, axis=1) == _truth(targets))
    predicted, truth = _binary(output, targets, from_logits)
    return _share(predicted == truth)


def _share(hits: np.ndarray) -> float:
    """The share of True values: ``np.mean(hits)``, the same float, without its overhead (NaN for none)."""
    return int(np.count_nonzero(hits)) / hits.size if hits.size else float("nan")


def mean_absolute_error(output: np.ndarray, targets: np.ndarray, task: str = "regression", from_logits: bool = False,
                        top_k: int = 5) -> float:
    """Mean of |output − targets| over every value."""
    return float(np.mean(np.abs(output - targets)))


def confusion_counts(output: np.ndarray, targets: np.ndarray, task: str,
                     from_logits: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """True positives, false positives and false negatives per class (or per
    binary label), for the classes the macro averages are taken over."""
    if task == "categorical":
        classes = output.shape[1]
        predicted, truth = np.argmax(output, axis=1), _truth(targets)
        hits = np.bincount(truth[predicted == truth], minlength=classes)
        said, real = np.bincount(predicted, minlength=classes), np.bincount(truth, minlength=classes)
        present = (said + real) > 0
        return hits[present], (said - hits)[present], (real - hits)[present]
    if task != "binary":
        raise DataError("precision, recall and f1 count classes: they need a classification loss "
                        "(categorical or binary cross-entropy)")
    predicted, truth = _binary(output, targets, from_logits)
    return (np.sum(predicted & truth, axis=0), np.sum(predicted & ~truth, axis=0),
            np.sum(~predicted & truth, axis=0))


def _mean_ratio(numerator: np.ndarray, denominator: np.ndarray) -> float:
    """The mean over classes of numerator / denominator, 0 where the denominator is 0."""
    ratios = np.divide(numerator, denominator, out=np.zeros(len(numerator)), where=denominator > 0)
    return float(np.mean(ratios)) if len(ratios) else 0.0


def precision(output: np.ndarray, targets: np.ndarray, task: str, from_logits: bool = False, top_k: int = 5) -> float:
    """Macro precision: the mean over classes of TP / (TP + FP)."""
    tp, fp, _ = confusion_counts(output, targets, task, from_logits)
    return _mean_ratio(tp, tp + fp)


def recall(output: np.ndarray, targets: np.ndarray, task: str, from_logits: bool = False, top_k: int = 5) -> float:
    """Macro recall: the mean over classes of TP / (TP + FN)."""
    tp, _, fn = confusion_counts(output, targets, task, from_logits)
    return _mean_ratio(tp, tp + fn)


def f1(output: np.ndarray, targets: np.ndarray, task: str, from_logits: bool = False, top_k: int = 5) -> float:
    """Macro F1: the mean over classes of 2·TP / (2·TP + FP + FN)."""
    tp, fp, fn = confusion_counts(output, targets, task, from_logits)
    return _mean_ratio(2 * tp, 2 * tp + fp + fn)


def top_k_accuracy(output: np.ndarray, targets: np.ndarray, task: str, from_logits: bool = False,
                   top_k: int = 5) -> float:
    """Share of samples whose true class is among the ``top_k`` highest outputs."""
    if task != "categorical":
        raise DataError("top_k_accuracy ranks classes: it needs a categorical output (categorical cross-entropy)")
    truth = _truth(targets)
    scores = output[np.arange(len(output)), truth]
    higher = np.sum(output > scores[:, None], axis=1)
    return _share(higher < top_k)


Metric = Callable[..., float]
METRICS: dict[str, Metric] = {
    "accuracy": accuracy,
    "mae": mean_absolute_error,
    "precision": precision,
    "recall": recall,
    "f1": f1,
    "top_k_accuracy": top_k_accuracy,
}
