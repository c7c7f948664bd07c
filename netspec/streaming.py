"""Data files larger than memory, opened as dask arrays read one chunk of rows at a time.

:func:`open` (also :func:`netspec.data.open`) takes a path and returns a lazy
``dask.array.Array`` whose chunks split the rows only (a sample's trailing
axes are never split), so a pipeline can predict or train on it chunk by
chunk (see :mod:`netspec.runtime.streaming`):

- ``.npy``: memory-mapped, one chunk at a time -- a chunk maps its own rows
  of the file, copies them and lets the mapping go, so reading the whole
  file never holds more than a chunk (nor grows the process's resident set
  with the file's pages). Headers are checked and pickles refused before
  any data is read.
- ``.zarr``: an array, or a group's array ``name`` (by default ``"X"``; ``"y"``),
  read with ``dask.array.from_zarr`` in the store's own chunks (merged or
  split to ``chunk_rows`` rows when given).
- ``.csv``: a numeric table, one record per line, with an optional header
  row (a first row without any number). One pass over the file finds where
  every chunk of rows begins (a byte offset per chunk is all it keeps); each
  chunk is then read and parsed when it is computed, as float64. Every
  column is returned, the label column included: slice it off
  (``table[:, :-1]``, ``table[:, -1]``). A cell that is not a finite number
  is an error naming the line and column when its chunk is read.
- a folder of ``.npy`` files: their rows one after the other, in sorted
  name order (other files in the folder are ignored); every file must have
  the same trailing shape and dtype, and an error names the first one that
  does not.

dask and zarr are imported only here, inside the functions that use them
(``pip install 'netspec[dask]'``); ``import netspec.data`` stays light.
"""

from __future__ import annotations

import builtins
import csv
import io
import math
import os
from typing import Any

import numpy as np
from numpy.lib import format as npy_format

from .errors import DataError
from .files import open_input

CHUNK_BYTES = 32 * 1024**2  # the default size of a chunk of rows, for data files opened without chunk_rows
INSTALL = "pip install 'netspec[dask]'"


def open(path: str | os.PathLike, *, chunk_rows: int | None = None, name: str | None = None) -> Any:  # noqa: A001
    """``path`` as a lazy ``dask.array.Array`` of shape ``(samples, *shape)``, chunked along the rows only.

    ``path``: a ``.npy`` file (memory-mapped chunk by chunk), a ``.zarr``
    store (an array, or a group's array ``name``, by default ``X``), a ``.csv``
    file (a float64 table of every column, header row skipped) or a folder of
    ``.npy`` files (concatenated along the rows, in sorted name order).
    ``chunk_rows``: rows per chunk; by default chunks of about 32 MiB (a
    zarr store keeps its own chunks). Nothing but headers (and, for CSV, the
    line breaks) is read until the array is computed.

    A missing path, an unknown extension, a file that is not what its
    extension says, or files of a folder that do not agree raise
    :class:`~netspec.errors.DataError` naming the file.
    """
    da = _dask_array()
    path = os.fspath(path)
    if chunk_rows is not None and (isinstance(chunk_rows, bool) or not isinstance(chunk_rows, int) or chunk_rows < 1):
        raise DataError(f"chunk_rows must be a positive integer; received chunk_rows={chunk_rows!r}")
    if not os.path.exists(path):
        raise DataError(f"no such data file or folder: {path}")
    extension = os.path.splitext(path.rstrip(os.sep))[1].lower()
    if name is not None and extension != ".zarr":
        raise DataError(f"{path}: name={name!r} picks an array of a zarr group; it applies to .zarr stores only")
    if extension == ".zarr":
        return _open_zarr(da, path, chunk_rows, name)
    if os.path.isdir(path):
        return _open_folder(da, path, chunk_rows)
    if extension == ".npy":
        return _npy_array(da, NpyRows.of(path), chunk_rows)
    if extension == ".csv":
        return _open_csv(da, path, chunk_rows)
    raise DataError(f"{path}: unknown data file type {extension!r}; expected a .npy, .zarr or .csv file, "
                    "or a folder of .npy files")


def open_pair(path: str | os.PathLike, *, chunk_rows: int | None = None) -> tuple[Any, Any]:
    """``(X, y)`` as lazy dask arrays: a zarr group's arrays ``X`` and ``y`` (``y``
    None when the group has none), else :func:`open` of ``path`` and None."""
    X = open(path, chunk_rows=chunk_rows)
    path = os.fspath(path)
    if not path.lower().rstrip(os.sep).endswith(".zarr"):
        return X, None
    import zarr

    store = zarr.open(path, mode="r")
    if hasattr(store, "shape") or "y" not in store.array_keys():
        return X, None
    return X, open(path, chunk_rows=X.chunks[0][0], name="y")


def _dask_array() -> Any:
    try:
        import dask.array as da
    except ImportError:
        raise DataError(f"reading data in chunks needs dask, which is not installed: {INSTALL}") from None
    return da


def rows_per_chunk(row_bytes: int, chunk_rows: int | None, budget: int = CHUNK_BYTES) -> int:
    """``chunk_rows``, or as many rows of ``row_bytes`` as fit in ``budget`` bytes (at least one)."""
    return chunk_rows if chunk_rows is not None else max(1, budget // max(1, row_bytes))


# ---------------------------------------------------------------- .npy

class NpyRows:
    """The array of one ``.npy`` file, read by rows: ``rows[a:b]`` maps those
    rows of the file, copies them into memory and unmaps them. Picklable (it
    holds the path, not the data), so dask's workers can read it too."""

    def __init__(self, path: str, shape: tuple[int, ...], dtype: np.dtype, offset: int):
        self.path, self.shape, self.dtype, self.offset = path, shape, dtype, offset
        self.ndim = len(shape)

    @classmethod
    def of(cls, path: str) -> "NpyRows":
        """Read and check the header of the ``.npy`` file ``path``."""
        with open_input(path, "data file") as stream:
            try:
                version = npy_format.read_magic(stream)
                read_header = {(1, 0): npy_format.read_array_header_1_0,
                               (2, 0): npy_format.read_array_header_2_0,
                               (3, 0): npy_format.read_array_header_2_0}[version]
                shape, fortran, dtype = read_header(stream)
            except (ValueError, KeyError, EOFError, OSError) as error:
                raise DataError(f"{path} is not a readable .npy array: {error}") from None
            offset = stream.tell()
            size = os.fstat(stream.fileno()).st_size
        if dtype.kind not in "iuf" or dtype.hasobject:
            raise DataError(f"{path} has dtype {dtype}; expected numbers (int or float) -- "
                            "bool, complex, text, object and structured arrays are refused")
        if fortran and len(shape) > 1:
            raise DataError(f"{path} is stored in Fortran (column-major) order, which cannot be read by rows; "
                            "save it with np.save(path, np.ascontiguousarray(X))")
        if len(shape) < 1 or 0 in shape:
            raise DataError(f"{path} has shape {shape}; expected (samples, ...) with at least one sample "
                            "and no empty dimension")
        needed = offset + math.prod(shape) * dtype.itemsize
        if size < needed:
            raise DataError(f"{path} is truncated: its header promises {shape} {dtype} ({needed:,} bytes), "
                            f"but the file has {size:,} bytes")
        return cls(path, tuple(shape), dtype, offset)

    @property
    def row_bytes(self) -> int:
        return math.prod(self.shape[1:]) * self.dtype.itemsize

    def __getitem__(self, key: Any) -> np.ndarray:
        key = key if isinstance(key, tuple) else (key,)
        rows = key[0] if key else slice(None)
        start, stop, step = rows.indices(self.shape[0]) if isinstance(rows, slice) else (rows, rows + 1, 1)
        count = max(0, stop - start)
        if count == 0:
            block = np.empty((0, *self.shape[1:]), self.dtype)
        else:
            mapped = np.memmap(self.path, dtype=self.dtype, mode="r", offset=self.offset + start * self.row_bytes,
                               shape=(count, *self.shape[1:]))
            block = np.array(mapped)
            del mapped
        block = block[::step] if step != 1 else block
        rest = (slice(None), *key[1:]) if isinstance(rows, slice) else (0, *key[1:])
        return block[rest]


def _npy_array(da: Any, rows: NpyRows, chunk_rows: int | None) -> Any:
    size = rows_per_chunk(rows.row_bytes, chunk_rows)
    stat = os.stat(rows.path)
    from dask.base import tokenize

    token = "npy-" + tokenize(os.path.abspath(rows.path), stat.st_mtime_ns, stat.st_size, size)
    return da.from_array(rows, chunks=(size, *rows.shape[1:]), name=token, lock=False, asarray=False,
                         meta=np.empty((0,) * rows.ndim, rows.dtype))


def _open_folder(da: Any, path: str, chunk_rows: int | None) -> Any:
    names = sorted(entry for entry in os.listdir(path) if entry.lower().endswith(".npy") and not entry.startswith("."))
    if not names:
        raise DataError(f"{path} is a folder without .npy files; expected a folder of .npy files "
                        "(their rows are read one file after the other)")
    files = [NpyRows.of(os.path.join(path, entry)) for entry in names]
    first = files[0]
    for other in files[1:]:
        if other.shape[1:] != first.shape[1:] or other.dtype != first.dtype:
            raise DataError(f"{other.path} holds {other.dtype} samples of shape {other.shape[1:]}, but "
                            f"{first.path} (the first file of the folder) holds {first.dtype} samples of shape "
                            f"{first.shape[1:]}; every file of a folder must agree")
    return da.concatenate([_npy_array(da, rows, chunk_rows) for rows in files], axis=0)


# ---------------------------------------------------------------- .zarr

def _open_zarr(da: Any, path: str, chunk_rows: int | None, name: str | None) -> Any:
    try:
        import zarr
    except ImportError:
        raise DataError(f"reading .zarr stores needs zarr, which is not installed: {INSTALL}") from None
    try:
        store = zarr.open(path, mode="r")
    except Exception as error:  # zarr raises many types for a store it cannot read
        raise DataError(f"{path} is not a readable zarr store: {error}") from None
    if not hasattr(store, "shape"):  # a group
        arrays = sorted(store.array_keys())
        if name is None and "X" not in arrays:
            raise DataError(f"{path} is a zarr group of {', '.join(arrays) or 'no arrays'}, without an array X; "
                            "say which array to read (name=...)")
        name = "X" if name is None else name
        if name not in arrays:
            raise DataError(f"{path} has no array {name!r}; arrays present: {', '.join(arrays) or 'none'}")
        store = store[name]
    elif name is not None:
        raise DataError(f"{path} is a zarr array, not a group; it has no array {name!r} (leave name out)")
    if store.dtype.kind not in "iuf":
        raise DataError(f"{path} has dtype {store.dtype}; expected numbers (int or float)")
    if store.ndim < 1 or store.shape[0] == 0:
        raise DataError(f"{path} has shape {store.shape}; expected (samples, ...) with at least one sample")
    array = da.from_zarr(store)
    rows = chunk_rows if chunk_rows is not None else max(array.chunks[0])
    return array.rechunk({0: rows, **{axis: -1 for axis in range(1, array.ndim)}})


# ---------------------------------------------------------------- .csv

def _open_csv(da: Any, path: str, chunk_rows: int | None) -> Any:
    from dask import delayed

    table = CsvRows.scan(path, chunk_rows)
    blocks = [da.from_delayed(delayed(table.read, pure=True)(index), shape=(rows, table.width), dtype=np.float64)
              for index, rows in enumerate(table.chunk_sizes())]
    return da.concatenate(blocks, axis=0)


class CsvRows:
    """Where each chunk of a numeric CSV table begins (byte offset, line
    number), found in one pass, so that each chunk can be parsed alone."""

    def __init__(self, path: str, width: int, rows: int, size: int, starts: list[tuple[int, int]],
                 header: list[str] | None):
        self.path, self.width, self.rows, self.size, self.starts, self.header = path, width, rows, size, starts, header

    @classmethod
    def scan(cls, path: str, chunk_rows: int | None) -> "CsvRows":
        with open_input(path, "data file") as stream:
            first = _first_record(path, stream)
            if first is None:
                raise DataError(f"{path} has no rows; expected a table of numbers")
            line, offset, cells = first
            header = cells if not any(_is_number(cell) for cell in cells) else None
            if header is None and not all(_is_number(cell) for cell in cells):
                index = next(i for i, cell in enumerate(cells) if not _is_number(cell))
                raise DataError(f"{path}, line {line}, column {index + 1}: {cells[index]!r} is not a number, but "
                                "other cells of the row are, so it is neither a header (only names) nor data")
            width = len(cells)
            size = rows_per_chunk(width * 8, chunk_rows)
            starts: list[tuple[int, int]] = []
            rows = 0
            position, number = offset, line
            if header is not None:
                stream.seek(offset)
                position += len(stream.readline())
            else:
                stream.seek(offset)
                number -= 1
            for raw in stream:
                number += 1
                if raw.strip():
                    if rows % size == 0:
                        starts.append((position, number))
                    rows += 1
                position += len(raw)
        if rows == 0:
            raise DataError(f"{path} has a header row but no data rows")
        return cls(path, width, rows, size, starts, header)

    def chunk_sizes(self) -> list[int]:
        return [min(self.size, self.rows - index * self.size) for index in range(len(self.starts))]

    def read(self, index: int) -> np.ndarray:
        """Chunk ``index``: its rows as float64, each cell checked."""
        count = self.chunk_sizes()[index]
        offset, line = self.starts[index]
        block = np.empty((count, self.width))
        with builtins.open(self.path, "rb") as raw:
            raw.seek(offset)
            stream = io.TextIOWrapper(raw, encoding="utf-8", newline="")
            row = 0
            for cells in csv.reader(stream):
                if row == count:
                    break
                if len(cells) > 1 or (cells and cells[0].strip()):
                    block[row] = self._numbers(line, cells)
                    row += 1
                line += 1
        return block

    def _numbers(self, line: int, cells: list[str]) -> list[float]:
        if len(cells) != self.width:
            raise DataError(f"{self.path}, line {line}: {len(cells)} cells, but the table has {self.width} columns")
        values = []
        for index, cell in enumerate(cells):
            try:
                value = float(cell)
            except ValueError:
                raise DataError(f"{self.path}, line {line}, column {index + 1}: {cell!r} is not a number") from None
            if not math.isfinite(value):
                raise DataError(f"{self.path}, line {line}, column {index + 1}: {cell.strip()!r} is not finite; "
                                "expected finite numbers")
            values.append(value)
        return values


def _first_record(path: str, stream: Any) -> tuple[int, int, list[str]] | None:
    """The first non-blank line of a CSV file: its number (1-based), its byte offset and its cells."""
    offset = 0
    for number, raw in enumerate(stream, 1):
        if number == 1 and raw.startswith(b"\xef\xbb\xbf"):  # a byte-order mark is not part of the first cell
            raw, offset = raw[3:], 3
        if raw.strip():
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as error:
                raise DataError(f"{path}, line {number}: not UTF-8 text ({error})") from None
            return number, offset, next(csv.reader([text]))
        offset += len(raw)
    return None


def _is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True
