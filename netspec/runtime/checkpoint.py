"""Checkpoints: one ``.npz`` holding the canonical spec and every parameter.

Layout (every entry a plain array, so ``np.load(path, allow_pickle=False)``
reads it):

- ``format``: ``"netspec-checkpoint/1"``;
- ``spec``: the canonical spec as JSON text;
- ``parameter.<i>``: the i-th array of ``pipeline.parameters()``;
- with optimizer state: ``optimizer.<key>`` for each entry of the optimiser's
  ``state_dict()``, ``epoch``, and ``shuffle_rng``, the shuffle generator's
  state as JSON, so training resumes exactly where it stopped.

Writing goes to a temporary file beside the target, is flushed to disk, then
renamed over it: a crash mid-write never leaves a half-written checkpoint and
never destroys the previous one.
"""

from __future__ import annotations

import json
import os
import zipfile
from typing import Any, BinaryIO

import numpy as np

from ..errors import CheckpointError, NetspecError
from ..files import InputError, open_input, write_atomically

FORMAT = "netspec-checkpoint/1"
_ZIP_MAGIC = b"PK\x03\x04"


def save(pipeline: Any, path: str | os.PathLike, *, optimizer_state: bool = True) -> None:
    """Write ``pipeline`` to ``path`` atomically (see the module docstring)."""
    arrays: dict[str, np.ndarray] = {"format": np.array(FORMAT), "spec": np.array(json.dumps(pipeline.spec))}
    arrays.update({f"parameter.{i}": p for i, p in enumerate(pipeline.parameters())})
    if optimizer_state and pipeline.optimizer is not None:
        arrays.update({f"optimizer.{k}": np.asarray(v) for k, v in pipeline.optimizer.state_dict().items()})
        arrays["epoch"] = np.array(pipeline.state.epoch)
        rng = pipeline.state.shuffle_rng
        arrays["shuffle_rng"] = np.array(json.dumps(rng.bit_generator.state if rng is not None else None))
    write_atomically(path, lambda stream: np.savez(stream, **arrays))


def read(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Every array of the checkpoint at ``path``, checked to be a netspec
    checkpoint first: anything else (a spec, a plain ``.npz``, random bytes, a
    FIFO) is a :class:`CheckpointError` saying what the file is instead."""
    where = os.fspath(path)
    try:
        with open_input(where, "checkpoint") as stream:
            _check_format(stream, where)
            stream.seek(0)
            with np.load(stream, allow_pickle=False) as archive:
                return {name: _array(archive, name, where) for name in archive.files}
    except InputError as exc:
        raise CheckpointError(str(exc) if exc.reason != "missing" else f"checkpoint {where}: no such file") from None
    except CheckpointError:
        raise
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
        raise CheckpointError(f"checkpoint {where}: the archive is damaged ({exc})") from None


def _check_format(stream: BinaryIO, where: str) -> None:
    """Refuse a file that is not a netspec checkpoint, from its first bytes
    and its ``format`` entry alone."""
    head = stream.read(len(_ZIP_MAGIC))
    if head != _ZIP_MAGIC:
        stream.seek(0)
        raise CheckpointError(f"{where} is not a netspec checkpoint: {_what_instead(stream.read(4096))}")
    stream.seek(0)
    try:
        with zipfile.ZipFile(stream) as archive:
            names = archive.namelist()
            if "format.npy" not in names:
                arrays = ", ".join(n.removesuffix(".npy") for n in names[:10]) or "none"
                raise CheckpointError(f"{where} is not a netspec checkpoint: a .npz archive without netspec's "
                                      f"'format' entry (its arrays: {arrays})")
            with archive.open("format.npy") as entry:
                found = np.lib.format.read_array(entry, allow_pickle=False)
    except CheckpointError:
        raise
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
        raise CheckpointError(f"{where} is not a netspec checkpoint: a damaged zip archive ({exc})") from None
    if found.shape != () or str(found) != FORMAT:
        raise CheckpointError(f"{where} is not a netspec checkpoint this version reads: its format is "
                              f"{str(found)[:60]!r}, expected {FORMAT!r}")


def _what_instead(head: bytes) -> str:
    if not head:
        return "the file is empty"
    if head.startswith(b"\x93NUMPY"):
        return "it is a NumPy .npy array (a checkpoint is the .npz that netspec train writes)"
    if b"\x00" not in head and (b'"layers"' in head or b"layers:" in head):
        return "it looks like a netspec spec; train it to make one: netspec train SPEC --out MODEL.npz"
    if b"\x00" not in head:
        return "it is a text file, not a .npz archive"
    return "it is neither a .npz archive nor any file netspec writes"


def _array(archive: Any, name: str, where: str) -> np.ndarray:
    try:
        return archive[name]
    except ValueError:
        raise CheckpointError(f"checkpoint {where}: its array {name!r} holds Python objects, which no netspec "
                              "checkpoint does; it was not written by netspec") from None


def is_checkpoint(path: str | os.PathLike) -> bool:
    """True when ``path`` is a netspec checkpoint (from its ``format`` entry; the rest is not read)."""
    try:
        with open_input(path, "checkpoint") as stream:
            _check_format(stream, os.fspath(path))
    except NetspecError:
        return False
    return True


def spec_of(arrays: dict[str, np.ndarray], where: str) -> dict:
    """The canonical spec stored in a checkpoint."""
    try:
        spec = json.loads(str(arrays["spec"]))
    except json.JSONDecodeError as exc:
        raise CheckpointError(f"checkpoint {where}: its spec is not valid JSON ({exc})") from None
    if not isinstance(spec, dict):
        raise CheckpointError(f"checkpoint {where}: its spec is not a JSON object")
    return spec


def restore(pipeline: Any, arrays: dict[str, np.ndarray], where: str) -> None:
    """Copy stored parameters (and optimiser and shuffle state, when present)
    into a pipeline freshly compiled from the checkpoint's spec."""
    parameters = pipeline.parameters()
    stored = sorted((k for k in arrays if k.startswith("parameter.")), key=lambda k: int(k.split(".")[1]))
    if len(stored) != len(parameters):
        raise CheckpointError(f"checkpoint {where}: holds {len(stored)} parameter arrays but its spec "
                              f"has {len(parameters)}")
    for index, (parameter, key) in enumerate(zip(parameters, stored)):
        value = arrays[key]
        if value.shape != parameter.shape or value.dtype != parameter.dtype:
            raise CheckpointError(f"checkpoint {where}: parameter {index} is {value.dtype}{list(value.shape)} "
                                  f"but the spec needs {parameter.dtype}{list(parameter.shape)}")
        parameter[...] = value
    _check_finite(pipeline, where)
    optimizer = {k.removeprefix("optimizer."): arrays[k] for k in arrays if k.startswith("optimizer.")}
    if optimizer:
        _restore_training(pipeline, optimizer, arrays, where)


def _check_finite(pipeline: Any, where: str) -> None:
    """Refuse weights holding NaN or infinity: every output computed with them would be NaN."""
    for layer in pipeline.layers:
        for array in layer.parameters():
            if not np.isfinite(array).all():
                bad = int(np.size(array) - np.count_nonzero(np.isfinite(array)))
                raise CheckpointError(f"checkpoint {where}: its weights are not finite ({bad:,} of the "
                                      f"{array.size:,} values of layer {layer.name} are NaN or infinite); "
                                      "nothing computed with them would be a number: train again")


def _restore_training(pipeline: Any, optimizer: dict, arrays: dict[str, np.ndarray], where: str) -> None:
    state = {k: (int(v) if k == "iterations" else v) for k, v in optimizer.items()}
    try:
        pipeline.optimizer.load_state_dict(state, pipeline.parameters())
        pipeline.state.epoch = int(arrays["epoch"])
        rng_state = json.loads(str(arrays["shuffle_rng"]))
        if rng_state is not None:
            rng = np.random.default_rng()
            rng.bit_generator.state = rng_state
            pipeline.state.shuffle_rng = rng
    except (KeyError, ValueError, TypeError) as exc:
        raise CheckpointError(f"checkpoint {where}: its training state does not fit the network ({exc})") from None
