"""Data at the door of a pipeline: netspec.runtime.checks."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from netspec.errors import DataError
from netspec.runtime.checks import KINDS, as_inputs, as_targets

# as_inputs


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_as_inputs_converts_lists_and_ints(dtype):
    X = as_inputs([[1, 2], [3, 4]], 2, dtype)
    assert X.dtype == dtype and X.flags.c_contiguous
    assert np.array_equal(X, [[1, 2], [3, 4]])


def test_as_inputs_returns_the_same_array_when_nothing_to_convert():
    X = np.ones((3, 2))
    assert as_inputs(X, 2, np.float64) is X


def test_as_inputs_makes_fortran_and_strided_arrays_contiguous():
    X = np.asfortranarray(np.arange(12.0).reshape(4, 3))
    out = as_inputs(X[:, ::2], 2, np.float64)
    assert out.flags.c_contiguous and np.array_equal(out, X[:, ::2])


@pytest.mark.parametrize(
    "X, message",
    [
        ([[1, 2, 3]], "X has 3 columns but the network's input expects 2 features"),
        (np.ones((0, 2)), r"X has no rows \(shape \(0, 2\)\); expected at least one sample"),
        ([1.0, 2.0], r"X has shape \(2,\); expected a 2-D array \(samples, 2\) -- for one sample write X\.reshape\(1, -1\)"),
        (np.ones((2, 2, 2)), r"X has shape \(2, 2, 2\); expected a 2-D array \(samples, 2\)$"),
        (3.0, r"X has shape \(\); expected a 2-D array"),
        ([[True, False]], r"X has dtype bool; expected numbers \(int or float\) -- convert with X\.astype\(float\)"),
        ([["a", "b"]], r"X has dtype <U1; expected numbers \(int or float\)"),
        ([[1, None]], r"X has dtype object; expected numbers"),
        ([[1 + 2j, 0]], r"X has dtype complex128; expected numbers"),
        (np.array([["2020-01-01"] * 2], dtype="datetime64[D]"), r"X has dtype datetime64\[D\]"),
        ([[1, 2], [3]], r"X is not a rectangular array of numbers"),
        ([[1.0, 2.0], [3.0, np.nan]], r"X\[1, 1\] is nan; expected finite numbers"),
        ([[np.inf, 2.0]], r"X\[0, 0\] is inf; expected finite numbers"),
    ],
)
def test_as_inputs_rejections(X, message):
    with pytest.raises(DataError, match=message):
        as_inputs(X, 2, np.float64)


def test_as_inputs_rejects_values_that_overflow_the_dtype():
    with pytest.raises(DataError, match=r"X\[0, 1\] = 1e\+300 overflows float32; expected finite numbers"):
        as_inputs([[1.0, 1e300]], 2, np.float32)
    assert as_inputs([[1.0, 1e300]], 2, np.float64)[0, 1] == 1e300


# as_targets: categorical


def categorical(y, outputs=3, samples=None, dtype=np.float64):
    samples = len(y) if samples is None else samples
    return as_targets(y, kind="categorical", outputs=outputs, samples=samples, dtype=dtype)


@pytest.mark.parametrize("y", [[0, 2, 1], np.array([0.0, 2.0, 1.0]), np.array([0, 2, 1], dtype=np.uint8)])
def test_categorical_labels_become_int64(y):
    out = categorical(y)
    assert out.dtype == np.int64 and out.shape == (3,)
    assert np.array_equal(out, [0, 2, 1])


def test_categorical_int64_labels_are_not_copied():
    y = np.array([0, 1, 2])
    assert categorical(y) is y


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_categorical_rows_stay_rows(dtype):
    rows = [[1, 0, 0], [0.2, 0.3, 0.5]]
    out = categorical(rows, dtype=dtype)
    assert out.dtype == dtype and out.shape == (2, 3)
    assert np.allclose(out, rows)


@pytest.mark.parametrize(
    "y, message",
    [
        ([0, 1, 3], r"y\[2\] = 3 is out of range; expected a class label from 0 to 2 \(the network has 3 outputs\)"),
        ([0, -1], r"y\[1\] = -1 is out of range"),
        ([0.0, 2.5], r"y\[1\] = 2\.5 is not a class label; expected whole numbers from 0 to 2"),
        ([0.0, np.nan], r"y\[1\] is nan; expected class labels"),
        ([[0], [1]],
         r"y has shape \(2, 1\); expected class labels of shape \(2,\) or one-hot rows of shape \(2, 3\) -- use y\.ravel\(\)"),
        ([[1, 0], [0, 1]], r"y has shape \(2, 2\); expected class labels of shape \(2,\) or one-hot rows of shape \(2, 3\)$"),
        ([[1, 1, 0]], r"row 0 of y sums to 2; one-hot or probability rows must sum to 1"),
        ([[1, 0, 0], [0, 0, 0]], r"row 1 of y sums to 0"),
        ([[1.5, -0.5, 0]], r"y\[0, 0\] = 1\.5 is outside \[0, 1\]; one-hot or probability rows need values in \[0, 1\]"),
        ([[1, 0, np.inf]], r"y\[0, 2\] is inf; expected finite numbers"),
        (np.zeros((1, 1, 3)), r"y has shape \(1, 1, 3\); expected class labels"),
        ([True, False], r"y has dtype bool; expected numbers \(int or float\) -- convert with y\.astype\(float\)"),
        (["0", "1"], r"y has dtype <U1; expected numbers"),
    ],
)
def test_categorical_rejections(y, message):
    with pytest.raises(DataError, match=message):
        categorical(y)


def test_targets_length_must_match_samples():
    with pytest.raises(DataError, match="y has 99 rows but X has 100"):
        categorical(np.zeros(99, dtype=int), samples=100)
    with pytest.raises(DataError, match="y has 2 rows but X has 3"):
        as_targets([[0.0], [1.0]], kind="regression", outputs=1, samples=3, dtype=np.float64)


# as_targets: binary and regression


@pytest.mark.parametrize("kind", ["binary", "regression"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_one_output_vectors_become_columns(kind, dtype):
    out = as_targets([0, 1, 1], kind=kind, outputs=1, samples=3, dtype=dtype)
    assert out.shape == (3, 1) and out.dtype == dtype and out.flags.c_contiguous
    assert np.array_equal(out[:, 0], [0, 1, 1])


@pytest.mark.parametrize("kind", ["binary", "regression"])
def test_rows_of_outputs_pass_through(kind):
    y = np.array([[0.0, 1.0], [1.0, 0.25]])
    assert as_targets(y, kind=kind, outputs=2, samples=2, dtype=np.float64) is y


@pytest.mark.parametrize(
    "kind, y, outputs, message",
    [
        ("binary", [0.0, 2.0], 1, r"y\[1\] = 2\.0 is outside \[0, 1\]; binary cross-entropy expects targets between 0 and 1"),
        ("binary", [[0, 1], [-1, 0]], 2, r"y\[1, 0\] = -1\.0 is outside \[0, 1\]"),
        ("binary", [0, 1], 2, r"y has shape \(2,\); expected targets of shape \(2, 2\) for 2 outputs"),
        ("binary", [[0, 1, 0], [1, 0, 1]], 2, r"y has shape \(2, 3\); expected targets of shape \(2, 2\)"),
        ("binary", [np.nan, 1.0], 1, r"y\[0\] is nan; expected finite numbers"),
        ("regression", [1.5, 2.5], 3, r"y has shape \(2,\); expected targets of shape \(2, 3\) for 3 outputs"),
        ("regression", [[1.0, 2.0]], 1, r"y has shape \(1, 2\); expected targets of shape \(1, 1\) or \(1,\) for 1 output$"),
        ("regression", [[1.0, -np.inf]], 2, r"y\[0, 1\] is -inf; expected finite numbers"),
        ("regression", [1 + 1j], 1, r"y has dtype complex128; expected numbers"),
        ("regression", 1.0, 1, r"y has shape \(\); expected targets of shape"),
    ],
)
def test_binary_and_regression_rejections(kind, y, outputs, message):
    with pytest.raises(DataError, match=message):
        as_targets(y, kind=kind, outputs=outputs, samples=np.shape(y)[0] if np.ndim(y) else 1, dtype=np.float64)


def test_regression_rejects_values_that_overflow_the_dtype():
    with pytest.raises(DataError, match=r"y\[1\] = 1e\+39 overflows float32"):
        as_targets([1.0, 1e39], kind="regression", outputs=1, samples=2, dtype=np.float32)


def test_unknown_kind_is_a_programming_error():
    with pytest.raises(ValueError, match="kind must be one of categorical, binary, regression; received 'mse'") as info:
        as_targets([0.0], kind="mse", outputs=1, samples=1, dtype=np.float64)
    assert not isinstance(info.value, DataError)


# properties: a DataError or the right array, never another exception

any_dtype = st.one_of(
    hnp.scalar_dtypes(),
    hnp.unicode_string_dtypes(max_len=3),
    hnp.byte_string_dtypes(max_len=3),
    hnp.array_dtypes(max_size=2),
)
any_shape = hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=4)
any_array = hnp.arrays(any_dtype, any_shape)
float_dtype = st.sampled_from([np.float32, np.float64])
scalar = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.text(max_size=2),
    st.none(),
    st.complex_numbers(),
)
nested_list = st.recursive(scalar, lambda inner: st.lists(inner, max_size=4), max_leaves=12)


@given(X=st.one_of(any_array, nested_list), features=st.integers(1, 4), dtype=float_dtype)
def test_as_inputs_returns_the_right_array_or_raises_data_error(X, features, dtype):
    try:
        out = as_inputs(X, features, dtype)
    except DataError:
        return
    assert out.ndim == 2 and out.shape[1] == features and out.shape[0] >= 1
    assert out.dtype == dtype and out.flags.c_contiguous
    assert np.isfinite(out).all()


def rows(value):
    try:
        return len(value)
    except TypeError:
        return 1


@given(
    y=st.one_of(any_array, nested_list),
    kind=st.sampled_from(KINDS),
    outputs=st.integers(1, 4),
    extra_samples=st.sampled_from([0, 0, 1, -1]),
    dtype=float_dtype,
)
def test_as_targets_returns_the_right_array_or_raises_data_error(y, kind, outputs, extra_samples, dtype):
    samples = max(rows(y) + extra_samples, 0)
    try:
        out = as_targets(y, kind=kind, outputs=outputs, samples=samples, dtype=dtype)
    except DataError:
        return
    assert out.flags.c_contiguous and len(out) == samples
    if kind == "categorical" and out.ndim == 1:
        assert out.dtype == np.int64
        assert ((out >= 0) & (out < outputs)).all()
    else:
        assert out.shape == (samples, outputs) and out.dtype == dtype
        assert np.isfinite(out).all()


@given(
    y=hnp.arrays(
        st.sampled_from([np.int8, np.int64, np.float16, np.float64]),
        st.tuples(st.integers(1, 5)),
        elements=st.integers(-2, 4),
    ),
    outputs=st.integers(1, 4),
)
def test_categorical_labels_pass_exactly_when_in_range(y, outputs):
    in_range = bool(((y >= 0) & (y < outputs)).all())
    try:
        out = as_targets(y, kind="categorical", outputs=outputs, samples=len(y), dtype=np.float64)
    except DataError:
        assert not in_range
        return
    assert in_range and np.array_equal(out, y.astype(np.int64))


# as_inputs: tensor shapes (channels-last, without the batch axis)


@pytest.mark.parametrize("shape", [(8, 8, 1), (6, 5, 3), (16, 2), (5,)])
def test_as_inputs_passes_samples_of_a_tensor_shape_unchanged(shape):
    X = np.random.default_rng(0).normal(size=(4, *shape))
    assert as_inputs(X, shape, np.float64) is X
    assert as_inputs(X, list(shape), np.float64) is X


def test_as_inputs_converts_tensor_samples_to_the_dtype_and_c_order():
    X = np.arange(2 * 3 * 4 * 2).reshape(2, 3, 4, 2)
    out = as_inputs(X, (3, 4, 2), np.float32)
    assert out.dtype == np.float32 and out.flags.c_contiguous and np.array_equal(out, X)
    strided = np.asfortranarray(np.ones((2, 3, 4, 4)))[..., ::2]
    out = as_inputs(strided, (3, 4, 2), np.float64)
    assert out.flags.c_contiguous and np.array_equal(out, strided)


@pytest.mark.parametrize(
    "shape, got, message",
    [
        # wrong rank or sizes: both shapes named
        ((8, 8, 1), (4, 8, 8, 8, 1), r"^X has shape \(4, 8, 8, 8, 1\); expected \(samples, 8, 8, 1\)"),
        ((8, 8, 1), (4, 7, 8, 1), r"^X has shape \(4, 7, 8, 1\); expected \(samples, 8, 8, 1\)$"),
        ((8, 8, 3), (4, 8, 8, 2), r"^X has shape \(4, 8, 8, 2\); expected \(samples, 8, 8, 3\)$"),
        ((16, 4), (4, 16), r"^X has shape \(4, 16\); expected \(samples, 16, 4\)$"),
        ((16, 4), (4,), r"^X has shape \(4,\); expected \(samples, 16, 4\)$"),
        # a missing channel axis
        ((28, 28, 1), (5, 28, 28), r"^X has shape \(5, 28, 28\); expected \(samples, 28, 28, 1\) "
                                   r"-- add the channel axis with X\[\.\.\., None\]$"),
        ((64, 1), (5, 64), r"^X has shape \(5, 64\); expected \(samples, 64, 1\) -- add the channel axis with "
                           r"X\[\.\.\., None\]$"),
        # one sample without its batch axis
        ((8, 8, 3), (8, 8, 3), r"^X has shape \(8, 8, 3\); expected \(samples, 8, 8, 3\) -- for one sample write "
                               r"X\[None\]$"),
        ((16, 2), (16, 2), r"-- for one sample write X\[None\]$"),
        # channels first
        ((8, 6, 3), (5, 3, 8, 6), r"^X has shape \(5, 3, 8, 6\); expected \(samples, 8, 6, 3\) -- the network is "
                                  r"channels-last: move the channel axis to the end \(X\.transpose\(0, 2, 3, 1\)\)$"),
        ((28, 28, 1), (5, 1, 28, 28), r"move the channel axis to the end \(X\.transpose\(0, 2, 3, 1\)\)$"),
        ((16, 4), (5, 4, 16), r"^X has shape \(5, 4, 16\); expected \(samples, 16, 4\) -- the network is "
                              r"channels-last: move the channel axis to the end \(X\.transpose\(0, 2, 1\)\)$"),
        # the same values in another shape
        ((8, 8, 1), (5, 64), r"^X has shape \(5, 64\); expected \(samples, 8, 8, 1\) -- reshape with "
                             r"X\.reshape\(-1, 8, 8, 1\)$"),
    ],
)
def test_as_inputs_tensor_rejections(shape, got, message):
    with pytest.raises(DataError, match=message):
        as_inputs(np.zeros(got), shape, np.float64)


@pytest.mark.parametrize("got", [(5, 8, 2, 8), (5, 2, 8, 8)])
def test_the_transpose_hint_is_given_only_when_channels_come_first(got):
    # (5, 8, 2, 8) holds the right sizes in an order no transpose(0, 2, 3, 1) fixes;
    # for (8, 8, 2) images, (5, 2, 8, 8) is channels first.
    with pytest.raises(DataError) as caught:
        as_inputs(np.zeros(got), (8, 8, 2), np.float64)
    assert ("transpose" in str(caught.value)) == (got == (5, 2, 8, 8))


def test_the_hinted_fix_gives_an_array_that_passes():
    for shape, X, fix in [((6, 5, 1), np.zeros((3, 6, 5)), lambda X: X[..., None]),
                          ((6, 5, 2), np.zeros((6, 5, 2)), lambda X: X[None]),
                          ((6, 5, 2), np.zeros((3, 2, 6, 5)), lambda X: X.transpose(0, 2, 3, 1)),
                          ((9, 2), np.zeros((3, 2, 9)), lambda X: X.transpose(0, 2, 1))]:
        with pytest.raises(DataError):
            as_inputs(X, shape, np.float64)
        assert as_inputs(fix(X), shape, np.float64).shape == (len(fix(X)), *shape)


def test_tensor_samples_are_still_checked_for_rows_dtype_and_finiteness():
    with pytest.raises(DataError, match=r"X has no rows \(shape \(0, 4, 4, 1\)\); expected at least one sample"):
        as_inputs(np.zeros((0, 4, 4, 1)), (4, 4, 1), np.float64)
    with pytest.raises(DataError, match=r"X has dtype bool"):
        as_inputs(np.zeros((2, 4, 4, 1), dtype=bool), (4, 4, 1), np.float64)
    X = np.zeros((2, 4, 4, 1))
    X[1, 2, 3, 0] = np.nan
    with pytest.raises(DataError, match=r"X\[1, 2, 3, 0\] is nan; expected finite numbers"):
        as_inputs(X, (4, 4, 1), np.float64)


@pytest.mark.parametrize(
    "X, message",
    [
        ([[1, 2, 3]], "X has 3 columns but the network's input expects 2 features"),
        ([1.0, 2.0], r"X has shape \(2,\); expected a 2-D array \(samples, 2\) -- for one sample write X\.reshape\(1, -1\)"),
        (np.ones((2, 2, 2)), r"X has shape \(2, 2, 2\); expected a 2-D array \(samples, 2\)$"),
    ],
)
@pytest.mark.parametrize("shape", [2, (2,), [2]], ids=["int", "tuple", "list"])
def test_a_one_dimensional_shape_keeps_the_vector_messages(X, message, shape):
    with pytest.raises(DataError, match=message):
        as_inputs(X, shape, np.float64)


@given(X=hnp.arrays(st.sampled_from([np.float64, np.float32, np.int64]),
                    hnp.array_shapes(min_dims=1, max_dims=5, min_side=0, max_side=4)),
       shape=st.lists(st.integers(1, 4), min_size=1, max_size=3).map(tuple), dtype=float_dtype)
def test_as_inputs_returns_samples_of_the_tensor_shape_or_raises_data_error(X, shape, dtype):
    try:
        out = as_inputs(X, shape, dtype)
    except DataError:
        return
    assert out.shape == (len(X), *shape) and len(X) >= 1
    assert out.dtype == dtype and out.flags.c_contiguous and np.isfinite(out).all()
