"""Built-in datasets and the data-file loader of netspec.data."""

import zipfile

import numpy as np
import pytest

from netspec.data import DATASETS, GATES, gate, load, resolve, sine, spiral
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


def test_datasets_holds_spiral_sine_and_every_gate():
    assert set(DATASETS) == {"spiral", "sine", *GATES}


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
        (np.ones((2, 2, 2)), None, r"X has shape \(2, 2, 2\); expected a 2-D array"),
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
