"""Data at the door of a pipeline: ``X`` and ``y`` are checked before any matmul.

:func:`as_inputs` and :func:`as_targets` turn array-likes into the arrays the
runtime computes with, or raise :class:`~netspec.errors.DataError` saying what
was expected and what was received -- never a NumPy broadcasting traceback.

Rules shared by both:

- values must be real numbers: int or float dtypes. bool, complex, text,
  datetime, object and structured arrays are refused (convert bools with
  ``.astype(float)`` or ``.astype(int)``);
- values must be finite, also after conversion to the pipeline's dtype (1e300
  overflows float32); the first offending entry is named by its index;
- results are C-contiguous and, where nothing needs converting, the very
  array passed in.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from netspec.errors import DataError

KINDS = ("categorical", "binary", "regression")
ROW_SUM_TOLERANCE = 1e-3


def as_inputs(X, shape: int | tuple[int, ...], dtype) -> np.ndarray:
    """``X`` as a C-contiguous ``(samples, *shape)`` array of ``dtype``.

    ``shape`` is one sample's shape, without the batch axis (an int is a
    vector's width). ``X`` must have one more axis, the samples, and at least
    one of them. For vectors a 1-D ``X`` is refused rather than guessed at:
    with one feature it could be one sample or many, so the message says to
    write ``X.reshape(1, -1)`` (one sample) or ``X.reshape(-1, 1)`` (one
    feature). For tensors the message names both shapes, and how to add a
    missing channel axis or batch axis.
    """
    shape = (shape,) if isinstance(shape, int) else tuple(shape)
    X = _numeric(X, "X")
    if len(shape) == 1:
        _check_vectors(X, shape[0])
    elif X.shape[1:] != shape or X.ndim != len(shape) + 1:
        raise DataError(f"X has shape {X.shape}; expected (samples, {', '.join(map(str, shape))})"
                        + _tensor_hint(X.shape, shape))
    if X.shape[0] == 0:
        raise DataError(f"X has no rows (shape {X.shape}); expected at least one sample")
    return _finite(X, "X", dtype)


def _check_vectors(X: np.ndarray, features: int) -> None:
    if X.ndim != 2:
        hint = " -- for one sample write X.reshape(1, -1), for one feature X.reshape(-1, 1)"
        raise DataError(
            f"X has shape {X.shape}; expected a 2-D array (samples, {features})"
            + (hint if X.ndim == 1 else "")
        )
    if X.shape[1] != features:
        raise DataError(
            f"X has {X.shape[1]} column{'s' * (X.shape[1] != 1)} but the network's input expects "
            f"{features} feature{'s' * (features != 1)}"
        )


def _tensor_hint(got: tuple[int, ...], shape: tuple[int, ...]) -> str:
    """How to turn an array of shape ``got`` into samples of ``shape``, when it is clear."""
    if got == shape:
        return " -- for one sample write X[None]"
    if got[1:] == shape[:-1] and shape[-1] == 1:
        return " -- add the channel axis with X[..., None]"
    if len(got) == len(shape) + 1 and got[1] == shape[-1] and got[2:] == shape[:-1]:
        axes = ", ".join(map(str, (0, *range(2, len(got)), 1)))
        return f" -- the network is channels-last: move the channel axis to the end (X.transpose({axes}))"
    size = int(np.prod(shape))
    if got and int(np.prod(got[1:])) == size:
        return f" -- reshape with X.reshape(-1, {', '.join(map(str, shape))})"
    return ""


def as_targets(y, *, kind: str, outputs: int, samples: int, dtype) -> np.ndarray:
    """``y`` checked against the loss ``kind`` and the network's ``outputs``.

    - ``"categorical"`` (categorical cross-entropy): class labels ``(n,)``,
      whole numbers in ``[0, outputs)`` (floats such as 2.0 are accepted),
      returned as int64 ``(n,)``; or one-hot / probability rows
      ``(n, outputs)`` with values in [0, 1] summing to 1 (within 1e-3),
      returned as ``dtype``.
    - ``"binary"`` (binary cross-entropy): ``(n, outputs)``, or ``(n,)`` when
      ``outputs == 1``, values in [0, 1]; returned as ``dtype`` ``(n, outputs)``.
    - ``"regression"`` (mse, mae): ``(n, outputs)``, or ``(n,)`` when
      ``outputs == 1``; returned as ``dtype`` ``(n, outputs)``.

    ``n`` must equal ``samples``, the number of rows of ``X``. An unknown
    ``kind`` is a programming error and raises a plain ``ValueError``.
    """
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}; received {kind!r}")
    y = _numeric(y, "y")
    if y.ndim not in (1, 2):
        raise DataError(f"y has shape {y.shape}; expected {_expected(kind, outputs, samples)}")
    if len(y) != samples:
        raise DataError(f"y has {len(y)} rows but X has {samples}")
    if kind == "categorical" and y.ndim == 1:
        return _class_labels(y, outputs)
    if not _has_output_shape(y, kind, outputs):
        hint = " -- use y.ravel() for a column of class labels"
        raise DataError(
            f"y has shape {y.shape}; expected {_expected(kind, outputs, samples)}"
            + (hint if kind == "categorical" and y.shape[1] == 1 else "")
        )
    values = _finite(y, "y", dtype)
    if kind == "categorical":
        _check_between_0_and_1(values, "one-hot or probability rows need values in [0, 1]")
        _check_rows_sum_to_1(values)
    if kind == "binary":
        _check_between_0_and_1(values, "binary cross-entropy expects targets between 0 and 1")
    return values if values.ndim == 2 else values.reshape(samples, 1)


def as_sample_weights(weights, samples: int, dtype) -> np.ndarray:
    """``sample_weight`` checked: one finite number >= 0 per sample, shape (samples,)."""
    array = _numeric(weights, "sample_weight")
    if array.shape != (samples,):
        raise DataError(f"sample_weight has shape {array.shape}; expected ({samples},): one weight per sample")
    array = _finite(array, "sample_weight", dtype)
    index = _first(array < 0)
    if index is not None:
        raise DataError(f"{_at('sample_weight', index)} = {array[index]} is negative; expected weights >= 0")
    return array


def check_forward_memory(samples: int, widths: Sequence[int], dtype, limit: int, source: str = "the data") -> None:
    """Refuse, before a forward pass over all ``samples`` at once, one whose
    layer outputs would need more than ``limit`` bytes: every layer keeps its
    last output, so the pass holds ``samples * sum(widths)`` values (``widths``:
    the input's and every layer's output width)."""
    needed = samples * sum(widths) * np.dtype(dtype).itemsize
    if needed > limit:
        raise DataError(f"{source}: a forward pass over its {samples:,} samples would hold {needed:,} bytes "
                        f"of layer outputs, over the limit of {limit:,}; use fewer samples")


def _has_output_shape(y: np.ndarray, kind: str, outputs: int) -> bool:
    """Rows of ``outputs`` values, or a 1-D vector for one binary/regression output."""
    if y.ndim == 2:
        return y.shape[1] == outputs
    return outputs == 1 and kind != "categorical"


def _expected(kind: str, outputs: int, samples: int) -> str:
    if kind == "categorical":
        return (
            f"class labels of shape ({samples},) or one-hot rows of shape ({samples}, {outputs})"
        )
    single = f" or ({samples},)" if outputs == 1 else ""
    plural = "" if outputs == 1 else "s"
    return f"targets of shape ({samples}, {outputs}){single} for {outputs} output{plural}"


def _numeric(value, name: str) -> np.ndarray:
    """``value`` as an ndarray of an int or float dtype."""
    try:
        array = np.asarray(value)
    except (ValueError, TypeError, OverflowError) as error:
        raise DataError(f"{name} is not a rectangular array of numbers: {error}") from None
    if array.dtype.kind == "b":
        raise DataError(
            f"{name} has dtype bool; expected numbers (int or float) -- "
            f"convert with {name}.astype(float)"
        )
    if array.dtype.kind not in "iuf":
        raise DataError(f"{name} has dtype {array.dtype}; expected numbers (int or float)")
    return array


def _finite(array: np.ndarray, name: str, dtype) -> np.ndarray:
    """``array`` as C-contiguous ``dtype`` (no copy if it already is), refusing
    NaN, infinities and values that overflow ``dtype``."""
    with np.errstate(over="ignore", invalid="ignore"):
        converted = np.ascontiguousarray(array, dtype=dtype)
    index = _first(~np.isfinite(converted))
    if index is not None:
        value = array[index]
        problem = f"is {value}" if not np.isfinite(value) else f"= {value} overflows {converted.dtype}"
        raise DataError(f"{_at(name, index)} {problem}; expected finite numbers")
    return converted


def _class_labels(y: np.ndarray, outputs: int) -> np.ndarray:
    """1-D labels as int64, each a whole number in ``[0, outputs)``."""
    if y.dtype.kind == "f":
        index = _first(~np.isfinite(y))
        if index is not None:
            raise DataError(f"{_at('y', index)} is {y[index]}; expected class labels")
        index = _first(y != np.trunc(y))
        if index is not None:
            raise DataError(
                f"{_at('y', index)} = {y[index]} is not a class label; "
                f"expected whole numbers from 0 to {outputs - 1}"
            )
    index = _first((y < 0) | (y >= outputs))
    if index is not None:
        raise DataError(
            f"{_at('y', index)} = {y[index]} is out of range; expected a class label "
            f"from 0 to {outputs - 1} (the network has {outputs} output{'s' * (outputs != 1)})"
        )
    return np.ascontiguousarray(y, dtype=np.int64)


def _check_between_0_and_1(values: np.ndarray, rule: str) -> None:
    index = _first((values < 0) | (values > 1))
    if index is not None:
        raise DataError(f"{_at('y', index)} = {values[index]} is outside [0, 1]; {rule}")


def _check_rows_sum_to_1(rows: np.ndarray) -> None:
    sums = rows.sum(axis=1, dtype=np.float64)
    index = _first(np.abs(sums - 1) > ROW_SUM_TOLERANCE)
    if index is not None:
        raise DataError(
            f"row {index[0]} of y sums to {sums[index]:g}; "
            "one-hot or probability rows must sum to 1"
        )


def _first(mask: np.ndarray) -> tuple[int, ...] | None:
    """The index of the first True in ``mask`` (C order), or None."""
    if not mask.any():
        return None
    return tuple(int(i) for i in np.unravel_index(np.argmax(mask), mask.shape))


def _at(name: str, index: tuple[int, ...]) -> str:
    """``X[3, 1]``."""
    return f"{name}[{', '.join(map(str, index))}]"
