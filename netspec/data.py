"""Built-in datasets and data files, each returned as ``(X, y)``.

``X`` is float64 of shape ``(samples, features)``. ``y`` holds the labels or
targets, shape ``(samples,)`` or ``(samples, k)``: int64 when every value is a
whole number, float64 otherwise; ``None`` when a file has no labels.

- :func:`spiral` -- the cs231n spiral, ``classes`` interleaved arms in 2-D.
- :func:`gate` -- the four rows of a logic gate's truth table (and, or, xor, nand).
- :func:`sine` -- ``y = sin(2πx)`` on [0, 1), a small regression problem.
- :func:`load` -- a ``.csv``, ``.npy`` or ``.npz`` file.
- :data:`DATASETS` and :func:`resolve` -- a name (``"spiral"``, ``"xor"``) or a
  path, as the CLI's ``--data`` takes it.

Every bad argument or file raises :class:`~netspec.errors.DataError` naming what
was expected and what was received.
"""

from __future__ import annotations

import csv
import difflib
import inspect
import math
import numbers
import os
import zipfile
import zlib
from array import array
from functools import partial
from typing import Callable, Iterator

import numpy as np
from numpy.lib import format as npy_format

from netspec.errors import DataError

Data = tuple[np.ndarray, "np.ndarray | None"]

EXTENSIONS = (".csv", ".npy", ".npz")
DEFAULT_MAX_BYTES = 1024**3


def spiral(
    points_per_class: int = 100,
    classes: int = 3,
    noise: float = 0.2,
    seed: int | None = None,
    *,
    rng: np.random.Generator | np.random.RandomState | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """The cs231n spiral: ``classes`` arms of ``points_per_class`` points each.

    For class ``j`` in order, with ``N = points_per_class``::

        r = linspace(0, 1, N)
        t = linspace(4j, 4(j + 1), N) + noise * standard_normal(N)
        X[rows of j] = [r sin(t), r cos(t)];  y[rows of j] = j

    Returns ``X`` float64 ``(N * classes, 2)`` and ``y`` int64 ``(N * classes,)``.

    Randomness is passed in, never taken from NumPy's global state: ``seed``
    (an int in [0, 2**32)) makes a ``np.random.RandomState(seed)``, so
    ``spiral(seed=s)`` equals, bit for bit, the cs231n loop run after
    ``np.random.seed(s)``. Or pass ``rng``, a ``np.random.Generator`` or
    ``RandomState``; with neither, a fresh ``np.random.default_rng()`` is used.
    """
    n = _positive_int("points_per_class", points_per_class)
    k = _positive_int("classes", classes)
    _check_generated_size("spiral", n * k, 3 * 8)
    noise = _noise(noise)
    source = _random_source(seed, rng)
    X = np.zeros((n * k, 2))
    y = np.zeros(n * k, dtype=np.int64)
    for j in range(k):
        rows = slice(n * j, n * (j + 1))
        r = np.linspace(0.0, 1, n)
        t = np.linspace(j * 4, (j + 1) * 4, n) + noise * source.standard_normal(n)
        X[rows] = np.c_[r * np.sin(t), r * np.cos(t)]
        y[rows] = j
    return X, y


def _positive_int(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise DataError(f"{name} must be a positive integer; received {name}={value!r}")
    return int(value)


def _check_generated_size(name: str, samples: int, bytes_per_sample: int) -> None:
    """Refuse, before allocating, a built-in dataset larger than a data file may be."""
    size = samples * bytes_per_sample
    if size > DEFAULT_MAX_BYTES:
        raise DataError(
            f"{name} with {samples:,} samples would take {size:,} bytes, "
            f"more than the limit of {DEFAULT_MAX_BYTES:,}; ask for fewer samples"
        )


def _noise(value: object) -> float:
    if (
        isinstance(value, bool)
        or not isinstance(value, numbers.Real)
        or not math.isfinite(value)
        or value < 0
    ):
        raise DataError(f"noise must be a finite number >= 0; received noise={value!r}")
    return float(value)


def _random_source(seed: object, rng: object) -> np.random.Generator | np.random.RandomState:
    """The source of normal draws: ``RandomState(seed)``, ``rng``, or a fresh Generator."""
    if seed is not None and rng is not None:
        raise DataError(f"pass seed or rng, not both; received seed={seed!r} and rng={rng!r}")
    if rng is not None:
        if not isinstance(rng, (np.random.Generator, np.random.RandomState)):
            raise DataError(
                f"rng must be a np.random.Generator or np.random.RandomState; received {type(rng).__name__}"
            )
        return rng
    if seed is None:
        return np.random.default_rng()
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or not 0 <= seed < 2**32:
        raise DataError(f"seed must be an integer in [0, 2**32); received seed={seed!r}")
    return np.random.RandomState(int(seed))


GATE_INPUTS = ((0, 0), (0, 1), (1, 0), (1, 1))
GATES = {
    "and": (0, 0, 0, 1),
    "nand": (1, 1, 1, 0),
    "or": (0, 1, 1, 1),
    "xor": (0, 1, 1, 0),
}


def gate(name: str) -> tuple[np.ndarray, np.ndarray]:
    """The truth table of a two-input logic gate, ``name`` one of ``GATES``
    (case-insensitive). ``X`` float64 ``(4, 2)`` is the rows [0,0], [0,1],
    [1,0], [1,1]; ``y`` int64 ``(4,)`` is the gate's output on each row."""
    key = name.lower() if isinstance(name, str) else name
    if key not in GATES:
        raise DataError(
            f"unknown gate {name!r}; expected one of {', '.join(GATES)}"
            + _did_you_mean(str(name).lower(), list(GATES))
        )
    return np.array(GATE_INPUTS, dtype=np.float64), np.array(GATES[key], dtype=np.int64)


def _did_you_mean(name: str, choices: list[str]) -> str:
    close = difflib.get_close_matches(name, choices, n=1)
    return f"; did you mean {close[0]!r}?" if close else ""


def load(
    path: str | os.PathLike,
    *,
    label: str | int | bool | None = None,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> Data:
    """Read ``(X, y)`` from a ``.csv``, ``.npy`` or ``.npz`` file.

    - ``.npz``: arrays named ``X`` (required) and ``y`` (optional).
    - ``.npy``: one 2-D array, returned as ``X`` with ``y`` None.
    - ``.csv``: a numeric table with an optional header row (recognised by a
      non-numeric cell in the first row). The label is the last column, or the
      column ``label`` names (a header name, or a 0-based index, negative from
      the end); ``label=False`` means every column is a feature and ``y`` is None.
      ``label`` applies to ``.csv`` only.

    ``X`` must be 2-D with at least one row and one column, ``y`` 1-D or 2-D
    with one entry per row of ``X``; every value a finite int or float. NumPy
    files are read with ``allow_pickle=False`` and their headers checked before
    any data is read. Files (and, for ``.npz``, the arrays they unpack to)
    larger than ``max_bytes`` (default 1 GiB) are refused unread.

    Errors name the file and, for CSV, the line as an editor numbers it
    (1-based) and the 1-based column.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise DataError(f"no such data file: {path!r}")
    extension = os.path.splitext(path)[1].lower()
    if extension not in EXTENSIONS:
        raise DataError(
            f"{path}: unknown data file type {extension!r}; expected one of {', '.join(EXTENSIONS)}"
        )
    if label is not None and extension != ".csv":
        raise DataError(f"{path}: label={label!r} applies to .csv files only")
    size = os.path.getsize(path)
    if size > max_bytes:
        raise DataError(f"{path} is {size} bytes, more than max_bytes={max_bytes}")
    if size == 0:
        raise DataError(f"{path} is empty; expected a table of numbers")
    if extension == ".csv":
        return _read_csv(path, label)
    if extension == ".npy":
        return _read_npy(path, max_bytes)
    return _read_npz(path, max_bytes)


def _read_npy(path: str, max_bytes: int) -> Data:
    with open(path, "rb") as stream:
        _check_header(path, "X", stream, max_bytes)
        stream.seek(0)
        return _checked_arrays(path, _read_array(path, "X", stream), None)


def _read_npz(path: str, max_bytes: int) -> Data:
    """Check the archive's ``X`` and ``y`` headers (dtype, unpacked size), then read them."""
    try:
        with zipfile.ZipFile(path) as archive:
            members = {name.removesuffix(".npy"): name for name in archive.namelist()}
            if "X" not in members:
                raise DataError(
                    f"{path} has no array named 'X'; arrays present: {', '.join(members) or 'none'}"
                )
            names = [name for name in ("X", "y") if name in members]
            unpacked = 0
            for name in names:
                with archive.open(members[name]) as stream:
                    unpacked += _check_header(path, name, stream, max_bytes)
            if unpacked > max_bytes:
                raise DataError(
                    f"{path} unpacks to {unpacked} bytes, more than max_bytes={max_bytes}"
                )
            arrays = {}
            for name in names:
                with archive.open(members[name]) as stream:
                    arrays[name] = _read_array(path, name, stream)
    except (zipfile.BadZipFile, OSError, EOFError, zlib.error) as error:
        raise DataError(f"{path} is not a readable .npz archive: {error}") from None
    except (RuntimeError, NotImplementedError) as error:  # zipfile: encrypted, or a compression it lacks
        raise DataError(f"{path} cannot be unpacked: {error}; save it with numpy.savez") from None
    return _checked_arrays(path, arrays["X"], arrays.get("y"))


def _read_array(path: str, name: str, stream) -> np.ndarray:
    try:
        return npy_format.read_array(stream, allow_pickle=False)
    except ValueError as error:
        raise DataError(f"{path}: {name} cannot be read: {error}") from None


def _check_header(path: str, name: str, stream, max_bytes: int) -> int:
    """Read a ``.npy`` header (no data) and refuse non-numeric dtypes and
    arrays larger than ``max_bytes``; return the array's size in bytes."""
    try:
        version = npy_format.read_magic(stream)
        read_header = {
            (1, 0): npy_format.read_array_header_1_0,
            (2, 0): npy_format.read_array_header_2_0,
        }[version]
        shape, _, dtype = read_header(stream)
    except (ValueError, KeyError, EOFError, OSError) as error:
        raise DataError(f"{path}: {name} is not a readable .npy array: {error}") from None
    _check_numeric_dtype(f"{path}: {name}", dtype)
    if not all(0 <= n < 2**63 for n in shape):
        raise DataError(f"{path}: {name} has shape {shape}; expected sizes from 0 to 2**63 - 1")
    size = math.prod(shape) * dtype.itemsize
    if size > max_bytes:
        raise DataError(f"{path}: {name} {shape} is {size} bytes, more than max_bytes={max_bytes}")
    return size


def _check_numeric_dtype(where: str, dtype: np.dtype) -> None:
    if dtype.kind not in "iuf":
        raise DataError(
            f"{where} has dtype {dtype}; expected numbers (int or float) -- "
            "bool, complex, text, object and structured arrays are refused"
        )


def _checked_arrays(path: str, X: np.ndarray, y: np.ndarray | None) -> Data:
    """Check arrays read from a NumPy file: ``X`` 2-D, non-empty, finite;
    ``y`` 1-D or 2-D, finite, one entry per row of ``X``."""
    if X.ndim != 2:
        raise DataError(f"{path}: X has shape {X.shape}; expected a 2-D array (samples, features)")
    if 0 in X.shape:
        raise DataError(f"{path}: X has shape {X.shape}; expected at least one row and one column")
    _check_finite(path, "X", X)
    if y is None:
        return X.astype(np.float64), None
    if y.ndim not in (1, 2):
        raise DataError(f"{path}: y has shape {y.shape}; expected (samples,) or (samples, outputs)")
    if len(y) != len(X):
        raise DataError(f"{path}: y has {len(y)} rows but X has {len(X)}")
    _check_finite(path, "y", y)
    return X.astype(np.float64), _labels(y)


def _check_finite(path: str, name: str, values: np.ndarray) -> None:
    bad = ~np.isfinite(values)
    if bad.any():
        index = np.unravel_index(np.argmax(bad), bad.shape)
        where = ", ".join(str(int(i)) for i in index)
        raise DataError(f"{path}: {name}[{where}] is {values[index]}; expected finite numbers")


def _labels(y: np.ndarray) -> np.ndarray:
    """``y`` as int64 when every value is a whole number of magnitude at most
    2**53 (class labels), else as float64."""
    whole = y.dtype.kind in "iu" or np.array_equal(y, np.trunc(y))
    if whole and np.all(np.abs(y) <= 2**53):
        return y.astype(np.int64)
    return y.astype(np.float64)


def _read_csv(path: str, label: str | int | bool | None) -> Data:
    try:
        with open(path, newline="", encoding="utf-8-sig") as stream:
            return _parse_csv(path, stream, label)
    except UnicodeDecodeError as error:
        raise DataError(f"{path} is not UTF-8 text: {error.reason}") from None


def _parse_csv(path: str, stream, label: str | int | bool | None) -> Data:
    rows = _csv_rows(path, stream)
    first_line, first = next(rows, (0, None))
    if first is None:
        raise DataError(f"{path} is empty; expected a table of numbers")
    header = None if _is_numeric_row(first) else [cell.strip() for cell in first]
    width = len(first)
    column = None if label is False else _label_column(path, width, header, label)
    values = array("d")
    if header is None:
        values.extend(_numbers(path, first_line, first, header))
    for line, cells in rows:
        if len(cells) != width:
            cells_text = "1 cell" if len(cells) == 1 else f"{len(cells)} cells"
            raise DataError(f"{path}, line {line}: {cells_text}, expected {width} like line {first_line}")
        values.extend(_numbers(path, line, cells, header))
    if not values:
        raise DataError(f"{path} has a header row but no data rows")
    table = np.frombuffer(values, dtype=np.float64).reshape(-1, width)
    if column is None:
        return table, None
    return np.delete(table, column, axis=1), _labels(table[:, column])


def _csv_rows(path: str, stream) -> Iterator[tuple[int, list[str]]]:
    """``(line number, cells)`` for each row, skipping blank lines."""
    reader = csv.reader(stream)
    try:
        for cells in reader:
            if len(cells) > 1 or (cells and cells[0].strip()):
                yield reader.line_num, cells
    except csv.Error as error:
        raise DataError(f"{path}, line {reader.line_num}: {error}") from None


def _is_numeric_row(cells: list[str]) -> bool:
    try:
        [float(cell) for cell in cells]
    except ValueError:
        return False
    return True


def _label_column(path: str, width: int, header: list[str] | None, label: object) -> int:
    """The 0-based index of the label column, given ``label`` as :func:`load` takes it."""
    if width < 2:
        raise DataError(
            f"{path} has one column; taking it as the label leaves no features "
            "(pass label=False if it holds features)"
        )
    if label is None:
        return width - 1
    if isinstance(label, str):
        if header is None:
            raise DataError(
                f"{path}: label={label!r} names a column, but the file has no header row; "
                "pass the column's index instead"
            )
        if label not in header:
            raise DataError(
                f"{path} has no column named {label!r}; columns: {', '.join(map(repr, header))}"
                + _did_you_mean(label, header)
            )
        return header.index(label)
    if isinstance(label, numbers.Integral) and not isinstance(label, bool):
        if not -width <= label < width:
            raise DataError(
                f"{path}: label={label} is out of range; the file has {width} columns "
                f"(indices 0 to {width - 1}, or -{width} to -1 from the end)"
            )
        return int(label) % width
    raise DataError(
        f"label must be a column name, a column index or False; received label={label!r}"
    )


def _numbers(path: str, line: int, cells: list[str], header: list[str] | None) -> list[float]:
    """The cells of one CSV row as finite floats, or a DataError naming the
    line, the column and the cell."""
    values = []
    for index, cell in enumerate(cells):
        try:
            value = float(cell)
        except ValueError:
            raise DataError(
                f"{path}, line {line}, {_column_name(index, header)}: {cell!r} is not a number"
            ) from None
        if not math.isfinite(value):
            raise DataError(
                f"{path}, line {line}, {_column_name(index, header)}: {cell.strip()!r} is not "
                "finite; expected finite numbers"
            )
        values.append(value)
    return values


def _column_name(index: int, header: list[str] | None) -> str:
    """``column 3`` (1-based), with its header name when there is one."""
    name = f"column {index + 1}"
    return f"{name} ({header[index]!r})" if header else name

def sine(samples: int = 1000) -> tuple[np.ndarray, np.ndarray]:
    """``samples`` evenly spaced points for regression: ``x = i / samples`` for
    i in 0..samples−1 and ``y = sin(2πx)``. ``X`` float64 ``(samples, 1)``,
    ``y`` float64 ``(samples, 1)``."""
    count = _positive_int("samples", samples)
    _check_generated_size("sine", count, 2 * 8)
    X = (np.arange(count, dtype=np.float64) / count).reshape(-1, 1)
    return X, np.sin(2 * np.pi * X)


DATASETS: dict[str, Callable[..., tuple[np.ndarray, np.ndarray]]] = {
    "spiral": spiral,
    "sine": sine,
    **{name: partial(gate, name) for name in GATES},
}


def resolve(name_or_path: str | os.PathLike, **options) -> Data:
    """``(X, y)`` from a built-in dataset's name (a key of :data:`DATASETS`,
    case-insensitive; ``options`` are its keyword arguments) or else from a
    data file (``options`` go to :func:`load`). A built-in name wins over a
    file of the same name; write ``./spiral`` for the file."""
    name = os.fspath(name_or_path)
    key = name.lower()
    if key in DATASETS:
        return _call_dataset(key, options)
    if os.path.exists(name) or os.path.splitext(key)[1] in EXTENSIONS:
        return load(name, **options)
    raise DataError(
        f"{name!r} is neither a built-in dataset nor an existing file; "
        f"datasets: {', '.join(sorted(DATASETS))}" + _did_you_mean(key, list(DATASETS))
    )


def from_section(section: object, base_dir: str | os.PathLike | None = None) -> Data:
    """``(X, y)`` for a spec's ``data`` section: a built-in dataset with its
    options, or a file whose relative path is taken from ``base_dir`` (the
    spec's folder)."""
    options = dict(section.options())
    path = options.pop("path", None)
    if path is not None:
        full = os.path.join(base_dir, path) if base_dir is not None and not os.path.isabs(path) else path
        return load(full, label=options.get("label"))
    return resolve(options.pop("dataset"), **options)


def _call_dataset(name: str, options: dict) -> tuple[np.ndarray, np.ndarray]:
    dataset = DATASETS[name]
    try:
        inspect.signature(dataset).bind(**options)
    except TypeError as error:
        raise DataError(f"dataset {name!r} does not take these options: {error}") from None
    return dataset(**options)
