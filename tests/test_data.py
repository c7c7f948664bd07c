"""Built-in datasets and the data-file loader of netspec.data."""

import os
import zipfile

import numpy as np
import pytest

from netspec.data import (
    DATASETS,
    GATES,
    SHAPES,
    WAVES,
    book_spiral,
    from_section,
    gate,
    load,
    resolve,
    shapes,
    sine,
    spiral,
    vertical,
    waves,
)
from netspec.errors import DataError


def cs231n_spiral():
    """The cs231n course's spiral, copied literally (uses the global RNG)."""
    N = 100  # number of points per class
    D = 2  # dimensionality
    K = 3  # number of classes
    X = np.zeros((N * K, D))  # data matrix (each row = single example)
    y = np.zeros(N * K, dtype="uint8")  # class labels
    for j in range(K):
        ix = range(N * j, N * (j + 1))
        r = np.linspace(0.0, 1, N)  # radius
        t = np.linspace(j * 4, (j + 1) * 4, N) + np.random.randn(N) * 0.2  # theta
        X[ix] = np.c_[r * np.sin(t), r * np.cos(t)]
        y[ix] = j
    return X, y


@pytest.fixture
def global_rng():
    state = np.random.get_state()
    yield
    np.random.set_state(state)


# spiral


@pytest.mark.parametrize("seed", [0, 1, 12345])
def test_spiral_matches_cs231n_bit_for_bit(global_rng, seed):
    np.random.seed(seed)
    X_ref, y_ref = cs231n_spiral()
    for X, y in (spiral(seed=seed), spiral(rng=np.random.RandomState(seed))):
        assert X.tobytes() == X_ref.tobytes()
        assert np.array_equal(y, y_ref)


def test_spiral_shapes_dtypes_and_class_balance():
    X, y = spiral(points_per_class=7, classes=5, seed=0)
    assert X.shape == (35, 2) and X.dtype == np.float64
    assert y.shape == (35,) and y.dtype == np.int64
    assert np.array_equal(np.bincount(y), [7] * 5)
    assert np.array_equal(y, np.repeat(np.arange(5), 7))


def test_spiral_radius_grows_from_0_to_1_in_each_arm():
    X, _ = spiral(points_per_class=10, classes=2, seed=0)
    radius = np.hypot(X[:, 0], X[:, 1]).reshape(2, 10)
    assert np.allclose(radius, np.linspace(0, 1, 10))


def test_spiral_without_noise_is_exact_arms():
    X, _ = spiral(points_per_class=5, classes=2, noise=0.0, seed=0)
    r = np.linspace(0, 1, 5)
    t = np.linspace(4, 8, 5)
    assert np.array_equal(X[5:], np.c_[r * np.sin(t), r * np.cos(t)])


def test_spiral_is_deterministic_with_a_seed_or_generator():
    assert np.array_equal(spiral(seed=3)[0], spiral(seed=3)[0])
    assert not np.array_equal(spiral(seed=3)[0], spiral(seed=4)[0])
    a = spiral(rng=np.random.default_rng(3))[0]
    assert np.array_equal(a, spiral(rng=np.random.default_rng(3))[0])
    assert not np.array_equal(a, spiral(seed=3)[0])


def test_spiral_leaves_the_global_random_state_alone(global_rng):
    np.random.seed(0)
    expected = np.random.randn(3)
    np.random.seed(0)
    spiral(seed=5)
    spiral()
    assert np.array_equal(np.random.randn(3), expected)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"points_per_class": 0}, "points_per_class must be a positive integer; received points_per_class=0"),
        ({"points_per_class": 2.5}, "received points_per_class=2.5"),
        ({"points_per_class": True}, "received points_per_class=True"),
        ({"classes": -1}, "classes must be a positive integer; received classes=-1"),
        ({"classes": "3"}, "received classes='3'"),
        ({"noise": -0.1}, "noise must be a finite number >= 0; received noise=-0.1"),
        ({"noise": float("inf")}, "received noise=inf"),
        ({"noise": False}, "received noise=False"),
        ({"seed": -1}, "seed must be an integer in [0, 2**32); received seed=-1"),
        ({"seed": 2**32}, "received seed=4294967296"),
        ({"seed": 1.0}, "received seed=1.0"),
        ({"seed": True}, "received seed=True"),
        ({"rng": 42}, "rng must be a np.random.Generator or np.random.RandomState; received int"),
        ({"seed": 1, "rng": np.random.default_rng()}, "pass seed or rng, not both"),
    ],
)
def test_spiral_rejects_bad_arguments(kwargs, message):
    with pytest.raises(DataError) as info:
        spiral(**kwargs)
    assert message in str(info.value)


def test_spiral_accepts_numpy_integers():
    X, y = spiral(np.int64(4), np.int32(2), seed=np.uint32(1))
    assert X.shape == (8, 2)


# gates


@pytest.mark.parametrize(
    "name, truth",
    [
        ("and", [0, 0, 0, 1]),
        ("or", [0, 1, 1, 1]),
        ("xor", [0, 1, 1, 0]),
        ("nand", [1, 1, 1, 0]),
        ("XoR", [0, 1, 1, 0]),
    ],
)
def test_gate_truth_tables(name, truth):
    X, y = gate(name)
    assert X.dtype == np.float64 and y.dtype == np.int64
    assert np.array_equal(X, [[0, 0], [0, 1], [1, 0], [1, 1]])
    assert np.array_equal(y, truth)


def test_gate_arrays_are_fresh_copies():
    X, y = gate("xor")
    X[0, 0] = 5
    y[0] = 5
    assert np.array_equal(gate("xor")[0][0], [0, 0])
    assert gate("xor")[1][0] == 0


def test_unknown_gate_lists_the_valid_ones_and_a_guess():
    with pytest.raises(DataError, match="unknown gate 'xro'; expected one of and, nand, or, xor; did you mean 'xor'"):
        gate("xro")


# DATASETS and resolve


def test_datasets_holds_every_builtin_and_every_gate():
    assert set(DATASETS) == {"spiral", "sine", "shapes", "waves", "book_spiral", "vertical", *GATES}


# the from-scratch book's datasets


def book_init(monkeypatch):
    """What the book's ``init()`` does to NumPy: seed 0, and ``np.zeros`` and
    ``np.random.randn`` made float32 (a dtype given explicitly still wins)."""
    zeros, randn = np.zeros, np.random.randn
    monkeypatch.setattr(np, "zeros", lambda shape, dtype="float32": zeros(shape, dtype=dtype))
    monkeypatch.setattr(np.random, "randn", lambda *shape: randn(*shape).astype("float32"))
    np.random.seed(0)


def book_spiral_data(samples, classes):
    """The book's spiral recipe, step by step, with the global RNG."""
    X = np.zeros((samples * classes, 2))
    y = np.zeros(samples * classes, dtype="uint8")
    for class_number in range(classes):
        ix = range(samples * class_number, samples * (class_number + 1))
        r = np.linspace(0.0, 1, samples)
        t = np.linspace(class_number * 4, (class_number + 1) * 4, samples) + np.random.randn(samples) * 0.2
        X[ix] = np.c_[r * np.sin(t * 2.5), r * np.cos(t * 2.5)]
        y[ix] = class_number
    return X, y


def book_vertical_data(samples, classes):
    """The book's vertical recipe, step by step, with the global RNG."""
    X = np.zeros((samples * classes, 2))
    y = np.zeros(samples * classes, dtype="uint8")
    for class_number in range(classes):
        ix = range(samples * class_number, samples * (class_number + 1))
        X[ix] = np.c_[np.random.randn(samples) * 0.1 + class_number / 3, np.random.randn(samples) * 0.1 + 0.5]
        y[ix] = class_number
    return X, y


@pytest.mark.parametrize("ours, book", [(book_spiral, book_spiral_data), (vertical, book_vertical_data)],
                         ids=["spiral", "vertical"])
@pytest.mark.parametrize("samples, classes", [(100, 3), (7, 5)])
def test_book_datasets_are_the_books_after_its_init_bit_for_bit(global_rng, monkeypatch, ours, book, samples, classes):
    with monkeypatch.context() as patched:
        book_init(patched)
        X_book, y_book = book(samples, classes)
    assert X_book.dtype == np.float32
    X, y = ours(samples, classes)
    assert X.dtype == np.float64 and y.dtype == np.int64 and X.shape == (samples * classes, 2)
    assert X.tobytes() == X_book.astype(np.float64).tobytes()
    assert np.array_equal(y, y_book)


def test_book_spiral_winds_two_and_a_half_times_the_cs231n_spiral_without_noise_in_radius():
    X, y = book_spiral(samples=50, classes=2, seed=3)
    radius = np.hypot(X[:, 0], X[:, 1]).reshape(2, 50)
    assert np.allclose(radius, np.linspace(0, 1, 50), atol=1e-6)  # float32 values
    assert np.array_equal(np.bincount(y), [50, 50])


def test_vertical_classes_stand_in_columns_at_j_over_3():
    X, y = vertical(samples=2000, classes=3, seed=1)
    columns = [X[y == j, 0].mean() for j in range(3)]
    np.testing.assert_allclose(columns, [0, 1 / 3, 2 / 3], atol=0.01)
    np.testing.assert_allclose(X[:, 1].mean(), 0.5, atol=0.01)
    np.testing.assert_allclose(X[:, 0][y == 0].std(), 0.1, rtol=0.05)


def test_book_datasets_take_a_generator_and_leave_the_global_state_alone(global_rng):
    before = np.random.get_state()[1].copy()
    for dataset in (book_spiral, vertical):
        first, second = dataset(rng=np.random.default_rng(5)), dataset(rng=np.random.default_rng(5))
        assert first[0].tobytes() == second[0].tobytes()
        assert not np.array_equal(dataset(seed=1)[0], dataset(seed=2)[0])
    assert np.array_equal(np.random.get_state()[1], before)


def test_book_datasets_by_name_and_from_a_spec_section():
    import netspec

    X, y = resolve("vertical", samples=4, classes=2)
    assert X.shape == (8, 2)
    spec = netspec.load({"input": 2, "layers": [{"type": "dense", "neurons": 3}],
                         "data": {"dataset": "book_spiral", "samples": 5, "classes": 4, "seed": 2}})
    X, y = from_section(spec.data)
    assert X.tobytes() == book_spiral(5, 4, seed=2)[0].tobytes()


def test_sine_is_evenly_spaced_and_closed_form():
    X, y = sine(4)
    assert X.shape == y.shape == (4, 1)
    np.testing.assert_array_equal(X[:, 0], [0.0, 0.25, 0.5, 0.75])
    np.testing.assert_allclose(y[:, 0], [0.0, 1.0, 0.0, -1.0], atol=1e-15)
    assert np.array_equal(DATASETS["nand"]()[1], gate("nand")[1])
    assert np.array_equal(DATASETS["spiral"](seed=0)[0], spiral(seed=0)[0])


def test_resolve_picks_a_builtin_by_name_with_options():
    X, y = resolve("Spiral", points_per_class=4, classes=2, seed=0)
    assert np.array_equal(X, spiral(4, 2, seed=0)[0])
    assert np.array_equal(resolve("xor")[1], [0, 1, 1, 0])


def test_resolve_loads_a_file(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("1,2,0\n3,4,1\n")
    X, y = resolve(str(path))
    assert np.array_equal(X, [[1, 2], [3, 4]]) and np.array_equal(y, [0, 1])
    X, y = resolve(path, label=False)
    assert X.shape == (2, 3) and y is None


def test_resolve_unknown_name_suggests_a_dataset():
    with pytest.raises(DataError, match="'spirla' is neither a built-in dataset nor an existing file.*did you mean 'spiral'"):
        resolve("spirla")


def test_resolve_missing_file_with_a_data_extension_says_so(tmp_path):
    with pytest.raises(DataError, match="no such data file"):
        resolve(str(tmp_path / "train.csv"))


def test_resolve_refuses_options_a_dataset_does_not_take():
    with pytest.raises(DataError, match="dataset 'xor' does not take these options.*seed"):
        resolve("xor", seed=0)


# load: NumPy files


def test_load_npz_with_and_without_labels(tmp_path):
    np.savez(tmp_path / "a.npz", X=np.arange(6, dtype=np.float32).reshape(3, 2), y=np.array([0.0, 1.0, 2.0]))
    X, y = load(tmp_path / "a.npz")
    assert X.dtype == np.float64 and X.shape == (3, 2)
    assert y.dtype == np.int64 and np.array_equal(y, [0, 1, 2])
    np.savez(tmp_path / "b.npz", X=np.ones((2, 2)), other=np.zeros(3))
    X, y = load(tmp_path / "b.npz")
    assert y is None


def test_load_npz_keeps_fractional_targets_as_float(tmp_path):
    np.savez(tmp_path / "a.npz", X=np.ones((2, 1)), y=np.array([[0.5, 0.5], [1.0, 0.0]]))
    y = load(tmp_path / "a.npz")[1]
    assert y.dtype == np.float64 and y.shape == (2, 2)


def test_load_npy_is_X_without_labels(tmp_path):
    np.save(tmp_path / "a.npy", np.arange(6).reshape(2, 3))
    X, y = load(tmp_path / "a.npy")
    assert X.dtype == np.float64 and np.array_equal(X, [[0, 1, 2], [3, 4, 5]]) and y is None


def test_load_npz_without_X_names_the_arrays_present(tmp_path):
    np.savez(tmp_path / "a.npz", x=np.ones((2, 2)), labels=np.ones(2))
    with pytest.raises(DataError, match=r"a\.npz has no array named 'X'; arrays present: x, labels"):
        load(tmp_path / "a.npz")


@pytest.mark.parametrize(
    "array, dtype_text",
    [
        (np.array([[1, "a"]], dtype=object), "object"),
        (np.zeros((2, 2), dtype=complex), "complex128"),
        (np.zeros((2, 2), dtype=bool), "bool"),
        (np.array([["a", "b"]]), "<U1"),
        (np.zeros(2, dtype=[("a", "f8"), ("b", "i4")]), "[('a', '<f8'), ('b', '<i4')]"),
    ],
)
def test_load_refuses_non_numeric_arrays_unread(tmp_path, array, dtype_text):
    np.save(tmp_path / "a.npy", array, allow_pickle=True)
    np.savez(tmp_path / "a.npz", X=array)
    for name in ("a.npy", "a.npz"):
        with pytest.raises(DataError) as info:
            load(tmp_path / name)
        assert name in str(info.value)
        assert f"X has dtype {dtype_text}; expected numbers (int or float)" in str(info.value)


def test_load_never_unpickles(tmp_path, monkeypatch):
    import pickle

    np.save(tmp_path / "a.npy", np.array([[object()]], dtype=object), allow_pickle=True)
    monkeypatch.setattr(pickle, "load", lambda *a, **k: pytest.fail("unpickled"))
    with pytest.raises(DataError, match="dtype object"):
        load(tmp_path / "a.npy")


@pytest.mark.parametrize(
    "X, y, message",
    [
        (np.ones(3), None, r"X has shape \(3,\); expected a 2-D array \(samples, features\)"),
        (np.ones(()), None, r"X has shape \(\); expected a 2-D array \(samples, features\)"),
        (np.ones((2, 0, 2)), None, r"X has shape \(2, 0, 2\); expected at least one sample and no empty dimension"),
        (np.ones((0, 4, 4, 1)), None, r"X has shape \(0, 4, 4, 1\); expected at least one sample"),
        (np.ones((2, 2, 2)), np.ones(3), "y has 3 rows but X has 2"),
        (np.ones((2, 2, 2)), np.ones((2, 1, 1)), r"y has shape \(2, 1, 1\)"),
        (np.array([[[0.0], [1.0]], [[2.0], [np.inf]]]), None, r"X\[1, 1, 0\] is inf; expected finite numbers"),
        (np.ones((0, 2)), None, r"X has shape \(0, 2\); expected at least one row and one column"),
        (np.array([[1.0, 2.0], [3.0, np.nan]]), None, r"X\[1, 1\] is nan; expected finite numbers"),
        (np.ones((2, 2)), np.ones(3), "y has 3 rows but X has 2"),
        (np.ones((2, 2)), np.ones((2, 1, 1)), r"y has shape \(2, 1, 1\)"),
        (np.ones((2, 2)), np.array([0.0, -np.inf]), r"y\[1\] is -inf; expected finite numbers"),
    ],
)
def test_load_npz_rejects_bad_arrays(tmp_path, X, y, message):
    arrays = {"X": X} if y is None else {"X": X, "y": y}
    np.savez(tmp_path / "a.npz", **arrays)
    with pytest.raises(DataError, match=r"a\.npz: " + message):
        load(tmp_path / "a.npz")


def test_load_refuses_files_over_max_bytes(tmp_path):
    np.save(tmp_path / "a.npy", np.ones((100, 2)))
    with pytest.raises(DataError, match=r"a\.npy is \d+ bytes, more than max_bytes=1000"):
        load(tmp_path / "a.npy", max_bytes=1000)


def test_load_refuses_npz_that_unpacks_over_max_bytes(tmp_path):
    np.savez_compressed(tmp_path / "a.npz", X=np.zeros((1000, 100)))
    assert (tmp_path / "a.npz").stat().st_size < 10_000
    with pytest.raises(DataError, match=r"X \(1000, 100\) is 800000 bytes, more than max_bytes=100000"):
        load(tmp_path / "a.npz", max_bytes=100_000)


def test_load_refuses_npy_header_promising_more_than_max_bytes(tmp_path):
    path = tmp_path / "a.npy"
    with open(path, "wb") as stream:
        np.lib.format.write_array_header_1_0(
            stream, {"descr": "<f8", "fortran_order": False, "shape": (10**6, 10**6)}
        )
    with pytest.raises(DataError, match=r"X \(1000000, 1000000\) is 8000000000000 bytes"):
        load(path)


@pytest.mark.parametrize("name, content", [("a.npy", b"not numpy"), ("a.npz", b"not a zip")])
def test_load_refuses_corrupt_numpy_files(tmp_path, name, content):
    (tmp_path / name).write_bytes(content)
    with pytest.raises(DataError, match=name.replace(".", r"\.")):
        load(tmp_path / name)


def test_load_refuses_truncated_npy(tmp_path):
    np.save(tmp_path / "a.npy", np.ones((100, 2)))
    data = (tmp_path / "a.npy").read_bytes()
    (tmp_path / "a.npy").write_bytes(data[:-50])
    with pytest.raises(DataError, match=r"a\.npy: X cannot be read"):
        load(tmp_path / "a.npy")


def test_load_refuses_npz_member_that_is_not_npy(tmp_path):
    with zipfile.ZipFile(tmp_path / "a.npz", "w") as archive:
        archive.writestr("X.npy", b"garbage")
    with pytest.raises(DataError, match=r"a\.npz: X is not a readable \.npy array"):
        load(tmp_path / "a.npz")


# load: any file


def test_load_missing_file(tmp_path):
    with pytest.raises(DataError, match="no such data file: .*nope.csv"):
        load(tmp_path / "nope.csv")


def test_load_unknown_extension(tmp_path):
    (tmp_path / "a.txt").write_text("1,2\n")
    with pytest.raises(DataError, match=r"a\.txt: unknown data file type '\.txt'; expected one of \.csv, \.npy, \.npz"):
        load(tmp_path / "a.txt")


@pytest.mark.parametrize("name", ["a.csv", "a.npy", "a.npz"])
def test_load_empty_file(tmp_path, name):
    (tmp_path / name).write_bytes(b"")
    with pytest.raises(DataError, match=name.replace(".", r"\.") + " is empty"):
        load(tmp_path / name)


def test_load_label_is_for_csv_only(tmp_path):
    np.save(tmp_path / "a.npy", np.ones((2, 2)))
    with pytest.raises(DataError, match="label='y' applies to .csv files only"):
        load(tmp_path / "a.npy", label="y")


# load: CSV


def write(tmp_path, text, name="data.csv"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_csv_without_header_takes_the_last_column_as_label(tmp_path):
    X, y = load(write(tmp_path, "0.5,1,0\n2,3e-1,1\n\n4,5,2\n"))
    assert X.dtype == np.float64 and np.array_equal(X, [[0.5, 1], [2, 0.3], [4, 5]])
    assert y.dtype == np.int64 and np.array_equal(y, [0, 1, 2])


def test_csv_fractional_labels_stay_float(tmp_path):
    y = load(write(tmp_path, "1,0.5\n2,1.5\n"))[1]
    assert y.dtype == np.float64 and np.array_equal(y, [0.5, 1.5])


def test_csv_header_and_label_by_name(tmp_path):
    path = write(tmp_path, "label, a ,b\n1,2,3\n0,5,6\n")
    X, y = load(path, label="label")
    assert np.array_equal(X, [[2, 3], [5, 6]]) and np.array_equal(y, [1, 0])
    X, y = load(path, label="a")
    assert np.array_equal(X, [[1, 3], [0, 6]]) and np.array_equal(y, [2, 5])


@pytest.mark.parametrize("label, column", [(0, 0), (1, 1), (-1, 2), (-3, 0)])
def test_csv_label_by_index(tmp_path, label, column):
    table = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    X, y = load(write(tmp_path, "1,2,3\n4,5,6\n"), label=label)
    assert np.array_equal(y, table[:, column])
    assert np.array_equal(X, np.delete(table, column, axis=1))


def test_csv_without_label(tmp_path):
    X, y = load(write(tmp_path, "a,b\n1,2\n3,4\n"), label=False)
    assert np.array_equal(X, [[1, 2], [3, 4]]) and y is None


def test_csv_with_bom_and_crlf(tmp_path):
    path = tmp_path / "a.csv"
    path.write_bytes("\ufeffx,y\r\n1,0\r\n2,1\r\n".encode("utf-8"))
    X, y = load(path)
    assert np.array_equal(X, [[1], [2]]) and np.array_equal(y, [0, 1])


@pytest.mark.parametrize(
    "text, label, message",
    [
        ("a,b\n1,2\n3\n", None, r"data\.csv, line 3: 1 cell, expected 2 like line 1"),
        ("1,2\n\n3,4,5\n", None, r"data\.csv, line 3: 3 cells, expected 2 like line 1"),
        ("1,2\n3,x\n", None, r"data\.csv, line 2, column 2: 'x' is not a number"),
        ("a,b\n1,2\n3,\n", None, r"data\.csv, line 3, column 2 \('b'\): '' is not a number"),
        ("1,2\n3,4\n5,nan\n", None, r"data\.csv, line 3, column 2: 'nan' is not finite"),
        ("a,b\n\n-inf,2\n", None, r"data\.csv, line 3, column 1 \('a'\): '-inf' is not finite"),
        ("\n\n  \n", None, r"data\.csv is empty"),
        ("a,b\n", None, r"data\.csv has a header row but no data rows"),
        ("a,b\n1,2\n", "c", r"data\.csv has no column named 'c'; columns: 'a', 'b'"),
        ("label,b\n1,2\n", "lable", r"did you mean 'label'\?"),
        ("1,2\n", "a", r"label='a' names a column, but the file has no header row"),
        ("1,2\n", 2, r"label=2 is out of range; the file has 2 columns"),
        ("1,2\n", -3, r"label=-3 is out of range"),
        ("1,2\n", True, r"label must be a column name, a column index or False; received label=True"),
        ("1,2\n", 1.0, r"received label=1\.0"),
        ("1\n2\n", None, r"data\.csv has one column; taking it as the label leaves no features"),
    ],
)
def test_csv_rejections(tmp_path, text, label, message):
    with pytest.raises(DataError, match=message):
        load(write(tmp_path, text), label=label)


def test_csv_one_column_without_label_is_fine(tmp_path):
    X, y = load(write(tmp_path, "1\n2\n"), label=False)
    assert X.shape == (2, 1) and y is None


def test_csv_not_utf8(tmp_path):
    (tmp_path / "a.csv").write_bytes(b"a,b\n1,\xff\n")
    with pytest.raises(DataError, match=r"a\.csv is not UTF-8 text"):
        load(tmp_path / "a.csv")


def test_csv_line_numbers_count_quoted_newlines_as_an_editor_does(tmp_path):
    with pytest.raises(DataError, match=r"line 4, column 2"):
        load(write(tmp_path, '"a\nb",c\n1,2\n3,oops\n'))


# shapes and waves


def reference_shapes(samples_per_class, size, classes, noise, seed):
    """The recipe of shapes' docstring, one pixel at a time."""
    source = np.random.RandomState(seed)
    S, n = size, samples_per_class
    X = np.zeros((n * classes, S, S, 1))
    for j in range(classes):
        h = source.uniform(0.2 * S, 0.4 * S, n)
        cy = source.uniform(h, S - h)
        cx = source.uniform(h, S - h)
        z = source.standard_normal((n, S, S))
        for m in range(n):
            for i in range(S):
                for k in range(S):
                    dy, dx, r = i + 0.5 - cy[m], k + 0.5 - cx[m], h[m]
                    inside = {
                        "square": abs(dy) <= r and abs(dx) <= r,
                        "disc": dy * dy + dx * dx <= r * r,
                        "triangle": -r <= dy <= r and abs(dx) <= (dy + r) / 2,
                        "cross": (abs(dy) <= r / 3 and abs(dx) <= r) or (abs(dx) <= r / 3 and abs(dy) <= r),
                        "ring": r - max(r / 3, 1) <= (dy * dy + dx * dx) ** 0.5 <= r,
                    }[SHAPES[j]]
                    X[n * j + m, i, k, 0] = min(max(inside + noise * z[m, i, k], 0.0), 1.0)
    return X, np.repeat(np.arange(classes), n)


def reference_waves(samples_per_class, length, classes, noise, seed):
    """The recipe of waves' docstring, one step at a time."""
    source = np.random.RandomState(seed)
    L, n = length, samples_per_class
    X = np.zeros((n * classes, L, 1))
    for j in range(classes):
        cycles = source.uniform(2, L / 8, n)
        phase = source.uniform(0, 1, n)
        z = source.standard_normal((n, L))
        for m in range(n):
            for t in range(L):
                f = (cycles[m] * t / L + phase[m]) % 1
                wave = {
                    "sine": np.sin(2 * np.pi * f),
                    "square": 1.0 if f < 0.5 else -1.0,
                    "sawtooth": 2 * f - 1,
                    "triangle": 1 - 4 * abs(f - 0.5),
                }[WAVES[j]]
                X[n * j + m, t, 0] = wave + noise * z[m, t]
    return X, np.repeat(np.arange(classes), n)


def test_shapes_and_waves_name_their_classes():
    assert SHAPES == ("square", "disc", "triangle", "cross", "ring")
    assert WAVES == ("sine", "square", "sawtooth", "triangle")


@pytest.mark.parametrize("noise", [0.0, 0.3])
def test_shapes_follows_its_recipe(noise):
    X, y = shapes(samples_per_class=3, size=9, classes=5, noise=noise, seed=7)
    X_ref, y_ref = reference_shapes(3, 9, 5, noise, 7)
    np.testing.assert_allclose(X, X_ref, rtol=0, atol=1e-12)
    assert np.array_equal(y, y_ref)


@pytest.mark.parametrize("noise", [0.0, 0.2])
def test_waves_follows_its_recipe(noise):
    X, y = waves(samples_per_class=3, length=24, classes=4, noise=noise, seed=7)
    X_ref, y_ref = reference_waves(3, 24, 4, noise, 7)
    np.testing.assert_allclose(X, X_ref, rtol=0, atol=1e-12)
    assert np.array_equal(y, y_ref)


def test_shapes_shapes_dtypes_and_class_blocks():
    X, y = shapes(samples_per_class=7, size=12, classes=5, seed=0)
    assert X.shape == (35, 12, 12, 1) and X.dtype == np.float64
    assert y.shape == (35,) and y.dtype == np.int64
    assert np.array_equal(y, np.repeat(np.arange(5), 7))
    X, y = shapes()
    assert X.shape == (600, 16, 16, 1) and np.array_equal(np.bincount(y), [200] * 3)


def test_waves_shapes_dtypes_and_class_blocks():
    X, y = waves(samples_per_class=5, length=20, classes=4, seed=0)
    assert X.shape == (20, 20, 1) and X.dtype == np.float64
    assert y.shape == (20,) and y.dtype == np.int64
    assert np.array_equal(y, np.repeat(np.arange(4), 5))
    X, y = waves()
    assert X.shape == (600, 64, 1) and np.array_equal(np.bincount(y), [200] * 3)


@pytest.mark.parametrize("dataset", [shapes, waves])
def test_image_and_sequence_datasets_are_deterministic(dataset):
    assert dataset()[0].tobytes() == dataset()[0].tobytes() == dataset(seed=0)[0].tobytes()
    assert dataset(seed=3)[0].tobytes() == dataset(seed=3)[0].tobytes()
    assert not np.array_equal(dataset(seed=3)[0], dataset(seed=4)[0])
    assert dataset(rng=np.random.RandomState(3))[0].tobytes() == dataset(seed=3)[0].tobytes()
    a = dataset(rng=np.random.default_rng(3))[0]
    assert np.array_equal(a, dataset(seed=None, rng=np.random.default_rng(3))[0])
    assert not np.array_equal(a, dataset(seed=3)[0])
    assert not np.array_equal(dataset(seed=None)[0], dataset(seed=None)[0])


@pytest.mark.parametrize("dataset", [shapes, waves])
def test_image_and_sequence_datasets_leave_the_global_random_state_alone(global_rng, dataset):
    np.random.seed(0)
    expected = np.random.randn(3)
    np.random.seed(0)
    dataset(samples_per_class=2)
    dataset(samples_per_class=2, seed=None)
    assert np.array_equal(np.random.randn(3), expected)


def test_shapes_pixels_lie_in_0_1_and_noise_does_not_move_the_shapes():
    X, _ = shapes(classes=5, noise=0.3, seed=2)
    assert X.min() == 0.0 and X.max() == 1.0
    assert ((X > 0) & (X < 1)).mean() > 0.3
    clean, _ = shapes(classes=5, noise=0.0, seed=2)
    assert set(np.unique(clean)) == {0.0, 1.0}
    assert np.array_equal(shapes(classes=5, noise=0.1, seed=2)[0] > 0.5, clean == 1)


def test_shapes_without_noise_draw_each_kind():
    X, y = shapes(samples_per_class=50, size=16, classes=5, noise=0.0, seed=1)
    for image, label in zip(X[..., 0] == 1, y):
        rows, cols = np.nonzero(image)
        box = image[rows.min() : rows.max() + 1, cols.min() : cols.max() + 1]
        height, width = box.shape
        middle = box[height // 2, width // 2]
        corners = box[[0, 0, -1, -1], [0, -1, 0, -1]]
        kind = SHAPES[label]
        if kind == "square":
            assert box.all() and abs(height - width) <= 1
        elif kind == "disc":
            assert middle and corners.sum() <= 1  # a small one drawn off-centre may fill a corner
        elif kind == "triangle":
            widths = box.sum(axis=1)
            assert np.all(np.diff(widths) >= 0) and widths[-1] > 2 * widths[0]
        elif kind == "cross":
            assert box[height // 2].all() and box[:, width // 2].all() and not corners.any()
        else:
            assert not middle and corners.sum() <= 1


def test_shapes_vary_in_place_and_size():
    X, y = shapes(samples_per_class=100, classes=5, noise=0.0, seed=0)
    ink = X[..., 0]
    rows = np.arange(16) + 0.5
    centre_row = (ink.sum(axis=2) @ rows) / ink.sum(axis=(1, 2))
    centre_col = (ink.sum(axis=1) @ rows) / ink.sum(axis=(1, 2))
    for j in range(5):
        area = ink[y == j].sum(axis=(1, 2))
        assert area.max() > 2 * area.min()
        assert centre_row[y == j].std() > 1 and centre_col[y == j].std() > 1


def test_waves_lie_in_minus_1_1_without_noise_and_noise_is_not_clipped():
    X, y = waves(classes=4, noise=0.0, seed=0)
    assert X.min() >= -1 and X.max() <= 1
    assert set(np.unique(X[y == 1])) == {-1.0, 1.0}
    saw = np.diff(X[y == 2, :, 0], axis=1)
    assert np.all((saw > 0) | (saw < -1))
    noisy, _ = waves(classes=4, noise=0.5, seed=0)
    assert noisy.min() < -1.5 and noisy.max() > 1.5
    assert 0.45 < (noisy - X).std() < 0.55


def softmax_regression_accuracy(X_train, y_train, X_test, y_test, classes, steps=300, rate=0.5):
    """Held-out accuracy of a softmax regression on standardised flattened inputs."""
    A, B = X_train.reshape(len(X_train), -1), X_test.reshape(len(X_test), -1)
    mean, std = A.mean(axis=0), A.std(axis=0) + 1e-8
    A, B = (A - mean) / std, (B - mean) / std
    W, b = np.zeros((A.shape[1], classes)), np.zeros(classes)
    targets = np.eye(classes)[y_train]
    for _ in range(steps):
        z = A @ W + b
        p = np.exp(z - z.max(axis=1, keepdims=True))
        p /= p.sum(axis=1, keepdims=True)
        g = (p - targets) / len(A)
        W -= rate * (A.T @ g + 1e-3 * W)
        b -= rate * g.sum(axis=0)
    return np.mean((B @ W + b).argmax(axis=1) == y_test)


def best_single_pixel_accuracy(X_train, y_train, X_test, y_test, classes, bins=10):
    """Held-out accuracy of the best classifier that looks at one pixel only
    (the majority class of each of ``bins`` value ranges)."""
    A, B = X_train.reshape(len(X_train), -1), X_test.reshape(len(X_test), -1)
    edges = np.linspace(0, 1, bins + 1)[1:-1]
    best = 0.0
    for pixel in range(A.shape[1]):
        counts = np.zeros((bins, classes))
        np.add.at(counts, (np.digitize(A[:, pixel], edges), y_train), 1)
        guess = counts.argmax(axis=1)[np.digitize(B[:, pixel], edges)]
        best = max(best, np.mean(guess == y_test))
    return best


def test_shapes_classes_are_told_apart_by_the_whole_image_not_one_pixel():
    X_train, y_train = shapes(seed=0)
    X_test, y_test = shapes(seed=1)
    # chance is 1/3; measured 0.69 (0.69 to 0.72 over other seed pairs); a CNN reaches 0.99
    assert softmax_regression_accuracy(X_train, y_train, X_test, y_test, 3) > 0.6
    # measured 0.50 (0.50 to 0.52 over other seed pairs)
    assert best_single_pixel_accuracy(X_train, y_train, X_test, y_test, 3) < 0.6
    means = np.stack([X_train[y_train == j].mean(axis=0) for j in range(3)])
    assert min(np.abs(means[a] - means[b]).max() for a, b in [(0, 1), (0, 2), (1, 2)]) > 0.1


def test_waves_classes_are_told_apart_by_the_shape_of_a_period():
    def features(X):
        """Phase- and frequency-free: the sorted values and the sorted steps."""
        x = X[..., 0]
        return np.hstack([np.sort(x, axis=1), np.sort(np.diff(x, axis=1), axis=1)])

    X_train, y_train = waves(classes=4, seed=0)
    X_test, y_test = waves(classes=4, seed=1)
    A, B = features(X_train), features(X_test)
    means = np.stack([A[y_train == j].mean(axis=0) for j in range(4)])
    nearest = ((B[:, None] - means) ** 2).sum(axis=2).argmin(axis=1)
    # chance is 1/4; nearest class mean measured 0.994
    assert np.mean(nearest == y_test) > 0.9


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"samples_per_class": 0}, "samples_per_class must be a positive integer; received samples_per_class=0"),
        ({"samples_per_class": 2.5}, "received samples_per_class=2.5"),
        ({"samples_per_class": True}, "received samples_per_class=True"),
        ({"size": 7}, "size must be an integer >= 8; received size=7"),
        ({"size": 16.0}, "size must be an integer >= 8; received size=16.0"),
        ({"size": "16"}, "received size='16'"),
        ({"size": True}, "received size=True"),
        (
            {"classes": 1},
            "classes must be an integer from 2 to 5 (the classes: 0 square, 1 disc, 2 triangle, 3 cross, 4 ring); "
            "received classes=1",
        ),
        ({"classes": 6}, "received classes=6"),
        ({"classes": 3.0}, "received classes=3.0"),
        ({"classes": True}, "received classes=True"),
        ({"noise": -0.1}, "noise must be a finite number >= 0; received noise=-0.1"),
        ({"noise": float("nan")}, "received noise=nan"),
        ({"noise": None}, "received noise=None"),
        ({"seed": -1}, "seed must be an integer in [0, 2**32); received seed=-1"),
        ({"seed": 2**32}, "received seed=4294967296"),
        ({"seed": 1.0}, "received seed=1.0"),
        ({"rng": 42}, "rng must be a np.random.Generator or np.random.RandomState; received int"),
        ({"seed": 1, "rng": np.random.default_rng()}, "pass seed or rng, not both"),
    ],
)
def test_shapes_rejects_bad_arguments(kwargs, message):
    with pytest.raises(DataError) as info:
        shapes(**kwargs)
    assert message in str(info.value)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"samples_per_class": -3}, "samples_per_class must be a positive integer; received samples_per_class=-3"),
        ({"length": 15}, "length must be an integer >= 16; received length=15"),
        ({"length": 64.0}, "received length=64.0"),
        ({"length": False}, "received length=False"),
        (
            {"classes": 5},
            "classes must be an integer from 2 to 4 (the classes: 0 sine, 1 square, 2 sawtooth, 3 triangle); "
            "received classes=5",
        ),
        ({"classes": 1}, "received classes=1"),
        ({"noise": float("inf")}, "noise must be a finite number >= 0; received noise=inf"),
        ({"noise": "0.1"}, "received noise='0.1'"),
        ({"seed": "0"}, "seed must be an integer in [0, 2**32); received seed='0'"),
        ({"rng": "rng"}, "rng must be a np.random.Generator or np.random.RandomState; received str"),
        ({"seed": 5, "rng": np.random.RandomState(0)}, "pass seed or rng, not both"),
    ],
)
def test_waves_rejects_bad_arguments(kwargs, message):
    with pytest.raises(DataError) as info:
        waves(**kwargs)
    assert message in str(info.value)


def test_shapes_and_waves_accept_numpy_integers_and_the_smallest_sizes():
    X, y = shapes(np.int64(2), np.int32(8), np.int8(5), seed=np.uint32(1))
    assert X.shape == (10, 8, 8, 1) and (X.reshape(10, -1) > 0.5).any(axis=1).all()
    X, y = waves(np.int64(2), np.int32(16), np.int8(4), seed=np.uint32(1))
    assert X.shape == (8, 16, 1)


@pytest.mark.parametrize(
    "dataset, kwargs, per_sample",
    [(shapes, {"size": 16, "classes": 3}, 16 * 16 * 8 + 8), (waves, {"length": 64, "classes": 3}, 64 * 8 + 8)],
)
def test_shapes_and_waves_refuse_datasets_over_the_limit_before_allocating(monkeypatch, dataset, kwargs, per_sample):
    import netspec.data

    monkeypatch.setattr(netspec.data, "DEFAULT_MAX_BYTES", 3 * 4 * per_sample)
    assert dataset(samples_per_class=4, **kwargs)[0].shape[0] == 12
    monkeypatch.setattr(np, "empty", lambda *a, **k: pytest.fail("allocated"))
    with pytest.raises(DataError, match=rf"{dataset.__name__} with 15 samples would take {15 * per_sample:,} bytes"):
        dataset(samples_per_class=5, **kwargs)


def test_shapes_refuses_a_huge_image_before_allocating():
    with pytest.raises(DataError, match=r"shapes with 3 samples would take [\d,]+ bytes, more than the limit"):
        shapes(samples_per_class=1, size=10**6)
    with pytest.raises(DataError, match=r"waves with 600 samples would take [\d,]+ bytes, more than the limit"):
        waves(length=10**7)


def test_resolve_and_from_section_build_shapes_and_waves():
    assert np.array_equal(resolve("shapes")[0], shapes()[0])
    assert np.array_equal(resolve("Waves")[0], waves()[0])
    X, y = resolve("shapes", samples_per_class=3, size=10, classes=4, noise=0.0, seed=5)
    assert np.array_equal(X, shapes(3, 10, 4, 0.0, 5)[0])
    with pytest.raises(DataError, match="dataset 'shapes' does not take these options.*length"):
        resolve("shapes", length=10)

    class Section:
        def __init__(self, **options):
            self._options = options

        def options(self):
            return self._options

    X, y = from_section(Section(dataset="waves", samples_per_class=2, length=32, classes=4, noise=0.0, seed=1))
    assert np.array_equal(X, waves(2, 32, 4, 0.0, 1)[0])
    X, y = from_section(Section(dataset="shapes", samples_per_class=2, size=8, classes=2, noise=0.1, seed=None))
    assert X.shape == (4, 8, 8, 1)


# load: image and sequence arrays


def test_load_npy_keeps_a_4d_image_array(tmp_path):
    images = np.arange(3 * 5 * 4 * 2, dtype=np.uint8).reshape(3, 5, 4, 2)
    np.save(tmp_path / "images.npy", images)
    X, y = load(tmp_path / "images.npy")
    assert X.dtype == np.float64 and X.shape == (3, 5, 4, 2) and y is None
    assert np.array_equal(X, images)


def test_load_npz_with_4d_X_and_labels(tmp_path):
    X_in, y_in = shapes(samples_per_class=4, size=8, classes=3, seed=0)
    np.savez(tmp_path / "shapes.npz", X=X_in.astype(np.float32), y=y_in)
    X, y = load(tmp_path / "shapes.npz")
    assert X.dtype == np.float64 and X.shape == (12, 8, 8, 1)
    assert np.array_equal(X, X_in.astype(np.float32)) and np.array_equal(y, y_in) and y.dtype == np.int64
    assert np.array_equal(resolve(str(tmp_path / "shapes.npz"))[0], X)


def test_load_npz_with_3d_sequences(tmp_path):
    X_in, y_in = waves(samples_per_class=2, length=16, seed=0)
    np.savez_compressed(tmp_path / "waves.npz", X=X_in, y=y_in)
    X, y = load(tmp_path / "waves.npz")
    assert X.tobytes() == X_in.tobytes() and np.array_equal(y, y_in)


def test_load_refuses_4d_arrays_over_max_bytes_unread(tmp_path):
    np.savez_compressed(tmp_path / "a.npz", X=np.zeros((100, 8, 8, 1)))
    with pytest.raises(DataError, match=r"X \(100, 8, 8, 1\) is 51200 bytes, more than max_bytes=10000"):
        load(tmp_path / "a.npz", max_bytes=10_000)


def test_csv_stays_a_table(tmp_path):
    X, y = load(write(tmp_path, "1,2,3,0\n4,5,6,1\n"))
    assert X.shape == (2, 3) and y.shape == (2,)


# CSV: the header row, the delimiter, and files that are not files


@pytest.mark.parametrize("text, header_row", [
    ("x1,x2,y\n1,2,0\n", True),
    ("label, a ,b\n1,2,3\n", True),
    (",a,b\n1,2,3\n", True),        # an unnamed first column is still a name
    ("1,2,0\n3,4,1\n", False),
    ("1e3, -2.5 ,0\n3,4,1\n", False),
])
def test_csv_header_is_a_row_without_numbers(tmp_path, text, header_row):
    X, y = load(write(tmp_path, text))
    assert len(X) == text.count("\n") - header_row


@pytest.mark.parametrize("text, message", [
    ("0x10,0.2,0\n1,2,0\n", r"line 1, column 1: '0x10' is not a number, but other cells of the row are"),
    ("a,1,b\n1,2,0\n", r"line 1, column 1: 'a' is not a number, but other cells .* \(--header, --no-header\)"),
    ("nan,1,2\n1,2,0\n", r"line 1, column 1: 'nan' is not finite"),  # read as data: nan is a number, refused
])
def test_csv_first_row_mixing_names_and_numbers_is_never_dropped(tmp_path, text, message):
    with pytest.raises(DataError, match=message):
        load(write(tmp_path, text))


def test_csv_header_can_be_said(tmp_path):
    path = write(tmp_path, "1,2,3\n4,5,6\n")
    X, y = load(path, header=True, label="3")
    assert np.array_equal(X, [[4, 5]]) and np.array_equal(y, [6])
    with pytest.raises(DataError, match=r"line 1, column 1: 'a' is not a number"):
        load(write(tmp_path, "a,b\n1,2\n"), header=False)
    X, _ = load(write(tmp_path, "a,1\n2,3\n"), header=True)
    assert np.array_equal(X, [[2]])


def test_csv_delimiter(tmp_path):
    X, y = load(write(tmp_path, "a;b;y\n1;2;0\n3;4;1\n"), delimiter=";")
    assert np.array_equal(X, [[1, 2], [3, 4]]) and np.array_equal(y, [0, 1])
    X, _ = load(write(tmp_path, "1\t2\t0\n"), delimiter="\t")
    assert np.array_equal(X, [[1, 2]])


def test_csv_in_another_delimiter_gets_a_hint(tmp_path):
    with pytest.raises(DataError, match=r"has one column; .*--no-label"):
        load(write(tmp_path, "a;b;y\n1;2;0\n"))
    with pytest.raises(DataError, match=r"line 2: 1 cell, expected 2 like line 1; the cells look separated by ';': "
                                        r"pass delimiter=';' \(--delimiter ';'\)"):
        load(write(tmp_path, "a,b\n1;2\n"))


@pytest.mark.parametrize("options, message", [
    ({"delimiter": ";;"}, "delimiter must be one character"),
    ({"delimiter": '"'}, "delimiter must be one character"),
])
def test_csv_bad_delimiter(tmp_path, options, message):
    with pytest.raises(DataError, match=message):
        load(write(tmp_path, "1,2\n"), **options)


@pytest.mark.parametrize("options", [{"header": True}, {"delimiter": ";"}])
def test_csv_options_are_for_csv_only(tmp_path, options):
    np.save(tmp_path / "a.npy", np.ones((2, 2)))
    with pytest.raises(DataError, match="applies to .csv files only"):
        load(tmp_path / "a.npy", **options)


def test_a_fifo_or_device_is_refused_as_data_without_blocking(tmp_path):
    os.mkfifo(tmp_path / "pipe.csv")
    with pytest.raises(DataError, match=r"pipe\.csv: it is a FIFO \(named pipe\), not a regular file"):
        load(tmp_path / "pipe.csv")
    with pytest.raises(DataError, match="/dev/null: it is a character device"):
        resolve("/dev/null")


def test_data_that_exists_but_cannot_be_read_says_so(tmp_path, monkeypatch):
    write(tmp_path, "1,2\n")

    def denied(*args):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(os, "open", denied)
    with pytest.raises(DataError, match="it exists but you may not read it"):
        load(tmp_path / "data.csv")
