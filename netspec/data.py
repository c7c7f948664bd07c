"""Built-in datasets and data files, each returned as ``(X, y)``.

``X`` is float64 of shape ``(samples, *shape)``: ``(samples, features)`` for a
table, ``(samples, height, width, channels)`` for images and ``(samples,
length, channels)`` for sequences (channels last). ``y`` holds the labels or
targets, shape ``(samples,)`` or ``(samples, k)``: int64 when every value is a
whole number, float64 otherwise; ``None`` when a file has no labels.

- :func:`spiral` -- the cs231n spiral, ``classes`` interleaved arms in 2-D.
- :func:`book_spiral` and :func:`vertical` -- the from-scratch book's spiral
  (wound 2.5 times tighter) and its vertical columns, as its code makes them.
- :func:`gate` -- the four rows of a logic gate's truth table (and, or, xor, nand).
- :func:`sine` -- ``y = sin(2πx)`` on [0, 1), a small regression problem.
- :func:`shapes` -- grayscale images ``(samples, size, size, 1)`` of a square,
  disc, triangle, cross or ring at a random place and size, one per class.
- :func:`waves` -- sequences ``(samples, length, 1)`` of a sine, square,
  sawtooth or triangle wave of random frequency and phase, one per class.
- :func:`load` -- a ``.csv``, ``.npy`` or ``.npz`` file.
- :func:`open` -- a ``.npy``, ``.zarr`` or ``.csv`` file, or a folder of
  ``.npy`` files, as a lazy dask array read chunk by chunk, for data larger
  than memory (:mod:`netspec.streaming`).
- :data:`DATASETS` and :func:`resolve` -- a name (``"spiral"``, ``"xor"``) or a
  path, as the CLI's ``--data`` takes it.

Every bad argument or file raises :class:`~netspec.errors.DataError` naming what
was expected and what was received.
"""

from __future__ import annotations

import builtins
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
from typing import Callable, Iterator, Sequence

import numpy as np
from numpy.lib import format as npy_format

from netspec.errors import DataError
from netspec.files import open_input
from netspec.streaming import open, open_pair  # noqa: F401, A004 -- files as dask arrays, read in chunks

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


def book_spiral(
    samples: int = 100,
    classes: int = 3,
    seed: int | None = 0,
    *,
    rng: np.random.Generator | np.random.RandomState | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """The from-scratch book's spiral: ``classes`` arms of ``samples`` points,
    the cs231n spiral with every angle times 2.5 (10 radians per arm, not 4).

    As the book's ``spiral_data(samples, classes)`` makes it after its
    ``init()`` (which seeds NumPy with 0 and makes its draws and arrays
    float32), for class ``j`` in order, with ``N = samples``::

        r = linspace(0, 1, N)
        t = linspace(4j, 4(j + 1), N) + float32(float32(standard_normal(N)) · 0.2)
        X[rows of j] = float32([r sin(2.5 t), r cos(2.5 t)]);  y[rows of j] = j

    Returns ``X`` ``(N * classes, 2)``, float64 holding those float32 values
    exactly, and ``y`` int64 ``(N * classes,)``. ``seed`` (default 0, as the
    book's) makes a ``RandomState(seed)``, so ``book_spiral()`` is the
    book's first ``spiral_data(samples=100, classes=3)``, bit for bit; or pass
    ``rng`` (leave ``seed`` at its default or pass None).
    """
    n = _positive_int("samples", samples)
    k = _positive_int("classes", classes)
    _check_generated_size("book_spiral", n * k, 3 * 8)
    source = _random_source(_seed_unless_rng(seed, rng), rng)
    X = np.zeros((n * k, 2), dtype=np.float32)
    y = np.zeros(n * k, dtype=np.int64)
    for j in range(k):
        rows = slice(n * j, n * (j + 1))
        r = np.linspace(0.0, 1, n)
        t = np.linspace(j * 4, (j + 1) * 4, n) + source.standard_normal(n).astype(np.float32) * np.float32(0.2)
        X[rows] = np.c_[r * np.sin(t * 2.5), r * np.cos(t * 2.5)]
        y[rows] = j
    return X.astype(np.float64), y


def vertical(
    samples: int = 100,
    classes: int = 3,
    seed: int | None = 0,
    *,
    rng: np.random.Generator | np.random.RandomState | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """The from-scratch book's vertical data: for each class ``j``, ``samples``
    points around (j / 3, 0.5), so the classes stand in columns side by side.

    As the book's ``vertical_data(samples, classes)`` makes it after its
    ``init()``, in float32, for class ``j`` in order, with ``N = samples``::

        x = float32(standard_normal(N)) · 0.1 + j / 3      # drawn first
        y = float32(standard_normal(N)) · 0.1 + 0.5        # then these
        X[rows of j] = [x, y];  y[rows of j] = j

    Returns ``X`` ``(N * classes, 2)``, float64 holding those float32 values,
    and ``y`` int64. Randomness as in :func:`book_spiral`.
    """
    n = _positive_int("samples", samples)
    k = _positive_int("classes", classes)
    _check_generated_size("vertical", n * k, 3 * 8)
    source = _random_source(_seed_unless_rng(seed, rng), rng)
    X = np.zeros((n * k, 2), dtype=np.float32)
    y = np.zeros(n * k, dtype=np.int64)
    for j in range(k):
        rows = slice(n * j, n * (j + 1))
        across = source.standard_normal(n).astype(np.float32) * np.float32(0.1) + np.float32(j / 3)
        up = source.standard_normal(n).astype(np.float32) * np.float32(0.1) + np.float32(0.5)
        X[rows] = np.c_[across, up]
        y[rows] = j
    return X.astype(np.float64), y


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
    header: bool | None = None,
    delimiter: str = ",",
    max_bytes: int = DEFAULT_MAX_BYTES,
    inputs: Sequence[str] | None = None,
) -> Data:
    """Read ``(X, y)`` from a ``.csv``, ``.npy`` or ``.npz`` file.

    - ``.npz``: arrays named ``X`` (required) and ``y`` (optional); for a
      network with several inputs, named by ``inputs``, one array per input
      name instead of ``X``, returned as a dict of name to array.
    - ``.npy``: one array, returned as ``X`` with ``y`` None.
    - ``.csv``: a numeric table with an optional header row, cells separated
      by ``delimiter`` (one character; default ``,``). The first row is a
      header when none of its cells is a number as the data rows read them
      (``float``, then finite), data when every cell is, and an error when it
      mixes both (``0x10,0.2,0`` is never silently dropped); ``header=True``
      or ``False`` says which it is instead. The label is the last column, or
      the column ``label`` names (a header name, or a 0-based index, negative
      from the end); ``label=False`` means every column is a feature and
      ``y`` is None. ``label``, ``header`` and ``delimiter`` apply to ``.csv``
      only; the CLI spells them ``--label``, ``--no-label``, ``--header``,
      ``--no-header`` and ``--delimiter``.

    ``X`` must be 2-D with at least one row and one column -- or, from a
    ``.npy`` or ``.npz`` file, of any higher rank, samples first (images
    ``(samples, height, width, channels)``, sequences ``(samples, length,
    channels)``), kept as it is, with no empty dimension; ``y`` 1-D or 2-D
    with one entry per sample of ``X``; every value a finite int or float. NumPy
    files are read with ``allow_pickle=False`` and their headers checked before
    any data is read. Files (and, for ``.npz``, the arrays they unpack to)
    larger than ``max_bytes`` (default 1 GiB) are refused unread.

    Errors name the file and, for CSV, the line as an editor numbers it
    (1-based) and the 1-based column.
    """
    path = os.fspath(path)
    with open_input(path, "data file") as stream:  # missing, a directory, a FIFO or unreadable: said so
        size = os.fstat(stream.fileno()).st_size
    extension = os.path.splitext(path)[1].lower()
    if extension not in EXTENSIONS:
        raise DataError(
            f"{path}: unknown data file type {extension!r}; expected one of {', '.join(EXTENSIONS)}"
        )
    csv_options = {"label": label, "header": header, "delimiter": delimiter}
    for name, value in csv_options.items():
        if value is not None and value != "," and extension != ".csv":
            raise DataError(f"{path}: {name}={value!r} applies to .csv files only")
    if size > max_bytes:
        raise DataError(f"{path} is {size} bytes, more than max_bytes={max_bytes}")
    if size == 0:
        raise DataError(f"{path} is empty; expected a table of numbers")
    if extension == ".csv":
        return _read_csv(path, label, header, _delimiter(delimiter))
    if inputs is not None and extension != ".npz":
        raise DataError(f"{path}: the network has several inputs ({', '.join(inputs)}); give them as an .npz "
                        "with one array per input name and y")
    if extension == ".npy":
        return _read_npy(path, max_bytes)
    return _read_npz(path, max_bytes, inputs)


def _read_npy(path: str, max_bytes: int) -> Data:
    with builtins.open(path, "rb") as stream:
        _check_header(path, "X", stream, max_bytes)
        stream.seek(0)
        return _checked_arrays(path, _read_array(path, "X", stream), None)


def _read_npz(path: str, max_bytes: int, inputs: Sequence[str] | None = None) -> Data:
    """Check the archive's headers of ``X`` (or of each of ``inputs``) and
    ``y`` (dtype, unpacked size), then read them."""
    wanted = list(inputs) if inputs is not None else ["X"]
    try:
        with zipfile.ZipFile(path) as archive:
            members = {name.removesuffix(".npy"): name for name in archive.namelist()}
            for name in wanted:
                if name not in members:
                    what = f"for the input {name!r}" if inputs is not None else "named 'X'"
                    raise DataError(
                        f"{path} has no array {what}; arrays present: {', '.join(members) or 'none'}"
                    )
            names = [*wanted, *(["y"] if "y" in members else [])]
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
    if inputs is None:
        return _checked_arrays(path, arrays["X"], arrays.get("y"))
    checked = {name: _checked_arrays(f"{path}[{name}]", arrays[name], arrays.get("y"))[0] for name in wanted}
    rows = {name: len(array) for name, array in checked.items()}
    if len(set(rows.values())) > 1:
        raise DataError(f"{path}: the inputs have different numbers of rows: "
                        + ", ".join(f"{name} {count}" for name, count in rows.items()))
    return checked, _checked_arrays(path, arrays[wanted[0]], arrays.get("y"))[1]


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
    """Check arrays read from a NumPy file: ``X`` of rank 2 or more (samples
    first), non-empty, finite; ``y`` 1-D or 2-D, finite, one entry per sample
    of ``X``."""
    if X.ndim < 2:
        raise DataError(f"{path}: X has shape {X.shape}; expected a 2-D array (samples, features)")
    if X.ndim == 2 and 0 in X.shape:
        raise DataError(f"{path}: X has shape {X.shape}; expected at least one row and one column")
    if 0 in X.shape:
        raise DataError(
            f"{path}: X has shape {X.shape}; expected at least one sample and no empty dimension"
        )
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


def _delimiter(value: object) -> str:
    if not isinstance(value, str) or len(value) != 1 or value in "\r\n\"":
        raise DataError(f"delimiter must be one character (not a quote or a line break); received delimiter={value!r}")
    return value


def _read_csv(path: str, label: str | int | bool | None, header: bool | None = None, delimiter: str = ",") -> Data:
    try:
        with builtins.open(path, newline="", encoding="utf-8-sig") as stream:
            return _parse_csv(path, stream, label, header, delimiter)
    except UnicodeDecodeError as error:
        raise DataError(f"{path} is not UTF-8 text: {error.reason}") from None


def _parse_csv(path: str, stream, label: str | int | bool | None, header: bool | None = None,
               delimiter: str = ",") -> Data:
    rows = _csv_rows(path, stream, delimiter)
    first_line, first = next(rows, (0, None))
    if first is None:
        raise DataError(f"{path} is empty; expected a table of numbers")
    names = [cell.strip() for cell in first] if _is_header(path, first_line, first, header) else None
    width = len(first)
    column = None if label is False else _label_column(path, width, names, label)
    values = array("d")
    if names is None:
        values.extend(_numbers(path, first_line, first, names))
    for line, cells in rows:
        if len(cells) != width:
            raise DataError(f"{path}, line {line}: {_count(len(cells), 'cell')}, expected {width} like line {first_line}"
                            + _delimiter_hint(cells, delimiter))
        values.extend(_numbers(path, line, cells, names))
    if not values:
        raise DataError(f"{path} has a header row but no data rows")
    table = np.frombuffer(values, dtype=np.float64).reshape(-1, width)
    if column is None:
        return table, None
    return np.delete(table, column, axis=1), _labels(table[:, column])


def _csv_rows(path: str, stream, delimiter: str = ",") -> Iterator[tuple[int, list[str]]]:
    """``(line number, cells)`` for each row, skipping blank lines."""
    reader = csv.reader(stream, delimiter=delimiter)
    try:
        for cells in reader:
            if len(cells) > 1 or (cells and cells[0].strip()):
                yield reader.line_num, cells
    except csv.Error as error:
        raise DataError(f"{path}, line {reader.line_num}: {error}") from None


def _is_number(cell: str) -> bool:
    """True when ``cell`` reads as a number as a data row's cells are read
    (``float``; a non-finite one is then refused as data, not taken for a name)."""
    try:
        float(cell)
    except ValueError:
        return False
    return True


def _is_header(path: str, line: int, cells: list[str], header: bool | None) -> bool:
    """Whether the first row is a header: as ``header`` says, else when none
    of its cells is a number. A row mixing names and numbers is neither."""
    if header is not None:
        return header
    numbers_ = [_is_number(cell) for cell in cells]
    if all(numbers_):
        return False
    if not any(numbers_):
        return True
    index = numbers_.index(False)
    raise DataError(
        f"{path}, line {line}, column {index + 1}: {cells[index]!r} is not a number, but other cells of the row "
        "are, so it is neither a header (only names) nor data; fix the cell, or say which it is with "
        "header=True or header=False (--header, --no-header)"
    )


def _delimiter_hint(cells: list[str], delimiter: str) -> str:
    """A hint when the row looks separated by another character."""
    if len(cells) != 1:
        return ""
    other = next((c for c in ";\t|" if c != delimiter and c in cells[0]), None)
    if other is None:
        return ""
    shown = "tab" if other == "\t" else other
    return f"; the cells look separated by {shown!r}: pass delimiter={other!r} (--delimiter {shown!r})"


def _count(number: int, noun: str) -> str:
    """``1 cell``, ``2 cells``."""
    return f"{number:,} {noun}" + ("s" if number != 1 else "")


def _label_column(path: str, width: int, header: list[str] | None, label: object) -> int:
    """The 0-based index of the label column, given ``label`` as :func:`load` takes it."""
    if width < 2:
        raise DataError(
            f"{path} has one column; taking it as the label leaves no features "
            "(pass label=False, or --no-label, if it holds features)"
        )
    if label is None:
        return width - 1
    if isinstance(label, str):
        if header is None:
            raise DataError(
                f"{path}: label={label!r} names a column, but the file has no header row; "
                "pass the column's index instead (label=0, or --label 0, for the first)"
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
                f"{path}: label={label} is out of range; the file has {_count(width, 'column')} "
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


SHAPES = ("square", "disc", "triangle", "cross", "ring")
WAVES = ("sine", "square", "sawtooth", "triangle")
MIN_IMAGE_SIZE = 8
MIN_WAVE_LENGTH = 16


def shapes(
    samples_per_class: int = 200,
    size: int = 16,
    classes: int = 3,
    noise: float = 0.1,
    seed: int | None = 0,
    *,
    rng: np.random.Generator | np.random.RandomState | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Grayscale images of filled shapes, one kind per class, for convolutions.

    Class ``j`` is ``SHAPES[j]``; ``classes`` (2 to 5) takes the first ones:
    0 square, 1 disc, 2 triangle (apex up), 3 cross (a plus sign), 4 ring.
    Classes come in blocks, like :func:`spiral`: rows ``N*j`` to ``N*(j+1)``
    are class ``j``, with ``N = samples_per_class``.

    The image covers ``[0, S]²`` with ``S = size``; pixel ``(i, k)`` (row, column)
    sits at its centre ``(i + 0.5, k + 0.5)``. For each class in order, drawn
    for its ``N`` images at once::

        h      = uniform(0.2 S, 0.4 S)          # half the shape's width
        cy, cx = uniform(h, S - h), uniform(h, S - h)   # centre: the shape fits
        dy, dx = i + 0.5 - cy, k + 0.5 - cx     # over the pixel grid
        square:   |dy| <= h and |dx| <= h
        disc:     dy² + dx² <= h²
        triangle: -h <= dy <= h and |dx| <= (dy + h) / 2
        cross:    (|dy| <= t and |dx| <= h) or (|dx| <= t and |dy| <= h),  t = h / 3
        ring:     h - t <= sqrt(dy² + dx²) <= h,  t = max(h / 3, 1)
        X[image, i, k, 0] = clip(shape + noise * standard_normal(), 0, 1)

    the shape being 1 inside and 0 outside. Position and size vary, so no one
    pixel tells the classes apart; edges and corners do. Pixel values lie in
    [0, 1]: the noise is clipped.

    Returns ``X`` float64 ``(N * classes, size, size, 1)`` (channels last) and
    ``y`` int64 ``(N * classes,)``. ``size`` is at least 8; datasets over 1 GiB
    are refused. Randomness as in :func:`spiral`, except that ``seed``
    defaults to 0 (the same images every time): ``RandomState(seed)``, or
    ``rng`` (then leave ``seed`` at its default or pass None), or with
    ``seed=None`` and no ``rng`` a fresh ``np.random.default_rng()``.
    """
    n = _positive_int("samples_per_class", samples_per_class)
    S = _int_at_least("size", size, MIN_IMAGE_SIZE)
    k = _class_count(classes, SHAPES)
    _check_generated_size("shapes", n * k, S * S * 8 + 8)
    noise = _noise(noise)
    source = _random_source(_seed_unless_rng(seed, rng), rng)
    X = np.empty((n * k, S, S, 1))
    y = np.repeat(np.arange(k, dtype=np.int64), n)
    grid = np.arange(S) + 0.5
    for j in range(k):
        h = source.uniform(0.2 * S, 0.4 * S, n)
        cy = source.uniform(h, S - h)
        cx = source.uniform(h, S - h)
        h = h[:, None, None]
        dy = grid[None, :, None] - cy[:, None, None]
        dx = grid[None, None, :] - cx[:, None, None]
        shape = _shape_mask(SHAPES[j], dy, dx, h)
        pixels = source.standard_normal(shape.shape)
        pixels *= noise
        pixels += shape
        np.clip(pixels, 0.0, 1.0, out=X[n * j : n * (j + 1), :, :, 0])
    return X, y


def _shape_mask(name: str, dy: np.ndarray, dx: np.ndarray, h: np.ndarray) -> np.ndarray:
    """Which pixels ``name`` covers: ``dy`` ``(n, S, 1)`` and ``dx`` ``(n, 1, S)``
    are the offsets from each image's centre, ``h`` ``(n, 1, 1)`` the half-widths;
    the result is bool ``(n, S, S)``."""
    ay, ax = np.abs(dy), np.abs(dx)
    if name == "square":
        return (ay <= h) & (ax <= h)
    if name == "disc":
        return dy**2 + dx**2 <= h**2
    if name == "triangle":
        return (ay <= h) & (ax <= (dy + h) / 2)
    if name == "cross":
        t = h / 3
        return ((ay <= t) & (ax <= h)) | ((ax <= t) & (ay <= h))
    radius = np.sqrt(dy**2 + dx**2)
    return (radius <= h) & (radius >= h - np.maximum(h / 3, 1.0))


def waves(
    samples_per_class: int = 200,
    length: int = 64,
    classes: int = 3,
    noise: float = 0.1,
    seed: int | None = 0,
    *,
    rng: np.random.Generator | np.random.RandomState | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Sequences of one channel, one waveform kind per class, for 1-D convolutions.

    Class ``j`` is ``WAVES[j]``; ``classes`` (2 to 4) takes the first ones:
    0 sine, 1 square, 2 sawtooth (rising), 3 triangle. Classes come in blocks,
    like :func:`spiral`: rows ``N*j`` to ``N*(j+1)`` are class ``j``, with
    ``N = samples_per_class``.

    With ``L = length`` and ``t = 0, 1, ..., L-1``, for each class in order,
    drawn for its ``N`` sequences at once::

        cycles = uniform(2, L / 8)              # a period of 8 to L/2 steps
        phase  = uniform(0, 1)
        f      = (cycles * t / L + phase) mod 1     # position within the period
        sine:     sin(2π f)
        square:   1 if f < 0.5 else -1
        sawtooth: 2 f - 1
        triangle: 1 - 4 |f - 0.5|
        X[sequence, t, 0] = wave + noise * standard_normal()

    The waves lie in [-1, 1]; the noise is not clipped. Frequency and phase
    vary, so the kind shows in the shape of each period, not in any one step.

    Returns ``X`` float64 ``(N * classes, length, 1)`` (channels last) and
    ``y`` int64 ``(N * classes,)``. ``length`` is at least 16; datasets over
    1 GiB are refused. Randomness as in :func:`shapes`.
    """
    n = _positive_int("samples_per_class", samples_per_class)
    L = _int_at_least("length", length, MIN_WAVE_LENGTH)
    k = _class_count(classes, WAVES)
    _check_generated_size("waves", n * k, L * 8 + 8)
    noise = _noise(noise)
    source = _random_source(_seed_unless_rng(seed, rng), rng)
    X = np.empty((n * k, L, 1))
    y = np.repeat(np.arange(k, dtype=np.int64), n)
    steps = np.arange(L) / L
    for j in range(k):
        cycles = source.uniform(2.0, L / 8, n)
        phase = source.uniform(0.0, 1.0, n)
        f = np.mod(cycles[:, None] * steps + phase[:, None], 1.0)
        wave = _waveform(WAVES[j], f)
        wave += noise * source.standard_normal(wave.shape)
        X[n * j : n * (j + 1), :, 0] = wave
    return X, y


def _waveform(name: str, f: np.ndarray) -> np.ndarray:
    """The wave ``name`` at ``f``, the position within each period in [0, 1)."""
    if name == "sine":
        return np.sin(2 * np.pi * f)
    if name == "square":
        return np.where(f < 0.5, 1.0, -1.0)
    if name == "sawtooth":
        return 2 * f - 1
    return 1 - 4 * np.abs(f - 0.5)


def _int_at_least(name: str, value: object, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < low:
        raise DataError(f"{name} must be an integer >= {low}; received {name}={value!r}")
    return int(value)


def _class_count(value: object, kinds: tuple[str, ...]) -> int:
    """``classes`` for a dataset whose classes are ``kinds``: from 2 to ``len(kinds)``."""
    if (
        isinstance(value, bool)
        or not isinstance(value, numbers.Integral)
        or not 2 <= value <= len(kinds)
    ):
        listed = ", ".join(f"{j} {kind}" for j, kind in enumerate(kinds))
        raise DataError(
            f"classes must be an integer from 2 to {len(kinds)} (the classes: {listed}); "
            f"received classes={value!r}"
        )
    return int(value)


def _seed_unless_rng(seed: object, rng: object) -> object:
    """``seed``, or None when ``rng`` is given and ``seed`` was left at its default 0."""
    if rng is not None and type(seed) is int and seed == 0:
        return None
    return seed


DATASETS: dict[str, Callable[..., tuple[np.ndarray, np.ndarray]]] = {
    "spiral": spiral,
    "sine": sine,
    "shapes": shapes,
    "waves": waves,
    "book_spiral": book_spiral,
    "vertical": vertical,
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
    if _may_exist(name) or os.path.splitext(key)[1] in EXTENSIONS:
        return load(name, **options)
    raise DataError(
        f"{name!r} is neither a built-in dataset nor an existing file; "
        f"datasets: {', '.join(sorted(DATASETS))}" + _did_you_mean(key, list(DATASETS))
    )


def _may_exist(path: str) -> bool:
    """False only when ``path`` surely does not exist: a path that cannot be
    looked at (no permission) may, and :func:`load` then says why it cannot be read."""
    try:
        os.lstat(path)
    except (FileNotFoundError, NotADirectoryError):
        return False
    except OSError:
        return True
    return True


def from_section(section: object, base_dir: str | os.PathLike | None = None, **file_options) -> Data:
    """``(X, y)`` for a spec's ``data`` section: a built-in dataset with its
    options, or a file whose relative path is taken from ``base_dir`` (the
    spec's folder), read with the section's ``label`` and ``file_options``
    (:func:`load`'s ``label``, ``header``, ``delimiter``; a ``label`` here wins)."""
    options = dict(section.options())
    options.pop("validation", None)  # the validation rows are a section of their own: from_section(section.validation)
    path = options.pop("path", None)
    if path is not None:
        full = os.path.join(base_dir, path) if base_dir is not None and not os.path.isabs(path) else path
        return load(full, **{"label": options.get("label"), **file_options})
    return resolve(options.pop("dataset"), **options)


def _call_dataset(name: str, options: dict) -> tuple[np.ndarray, np.ndarray]:
    dataset = DATASETS[name]
    try:
        inspect.signature(dataset).bind(**options)
    except TypeError as error:
        raise DataError(f"dataset {name!r} does not take these options: {error}") from None
    return dataset(**options)
