"""Checkpoints: one ``.npz`` holding the canonical spec and every parameter.

Layout (every entry a plain array, so ``np.load(path, allow_pickle=False)``
reads it):

- ``format``: ``"netspec-checkpoint/1"``;
- ``spec``: the canonical spec as JSON text;
- ``parameter.<i>``: the i-th array of ``pipeline.parameters()``;
- ``buffer.<i>``: the i-th array of ``pipeline.buffers()``, the state that
  is not trained but changes in training (batch normalization's moving mean
  and variance), which inference uses;
- with optimizer state: ``optimizer.<key>`` for each entry of the optimiser's
  ``state_dict()``, ``epoch``, ``shuffle_rng``, the shuffle generator's
  state as JSON, ``random``, the state of the spec's random source (which
  draws dropout's masks), ``learning_rate``, the optimiser's rate of the
  moment (a schedule moves it), and ``schedule``, a ``reduce_on_plateau``
  schedule's state as JSON (null without one), so training resumes exactly
  where it stopped.

Writing goes to a temporary file beside the target, is flushed to disk, then
renamed over it: a crash mid-write never leaves a half-written checkpoint and
never destroys the previous one.
"""

from __future__ import annotations

import json
import os
import zipfile
from typing import Any, BinaryIO, Iterator

import numpy as np

from ..errors import CheckpointError, NetspecError
from ..files import InputError, open_input, write_atomically
from .schedules import PlateauState

FORMAT = "netspec-checkpoint/1"
_ZIP_MAGIC = b"PK\x03\x04"


def save(pipeline: Any, path: str | os.PathLike, *, optimizer_state: bool = True) -> None:
    """Write ``pipeline`` to ``path`` atomically (see the module docstring)."""
    arrays: dict[str, np.ndarray] = {"format": np.array(FORMAT), "spec": np.array(json.dumps(pipeline.spec))}
    arrays.update({f"parameter.{i}": p for i, p in enumerate(pipeline.parameters())})
    arrays.update({f"buffer.{i}": b for i, b in enumerate(pipeline.buffers())})
    if optimizer_state and pipeline.optimizer is not None:
        arrays.update({f"optimizer.{k}": np.asarray(v) for k, v in pipeline.optimizer.state_dict().items()})
        arrays["epoch"] = np.array(pipeline.state.epoch)
        rng = pipeline.state.shuffle_rng
        arrays["shuffle_rng"] = np.array(json.dumps(rng.bit_generator.state if rng is not None else None))
        arrays["random"] = np.array(json.dumps(random_state(pipeline.random)))
        if hasattr(pipeline.optimizer, "learning_rate"):
            arrays["learning_rate"] = np.array(float(pipeline.optimizer.learning_rate))
        schedule = pipeline.state.schedule
        arrays["schedule"] = np.array(json.dumps(schedule.as_dict() if schedule is not None else None))
    write_atomically(path, lambda stream: np.savez(stream, **arrays))


def random_state(source: Any) -> Any:
    """The state of a Generator or a RandomState as JSON-ready values, or None."""
    if isinstance(source, np.random.Generator):
        return {"generator": source.bit_generator.state}
    if isinstance(source, np.random.RandomState):
        state = source.get_state(legacy=False)
        return {"random_state": {**state, "state": {"key": state["state"]["key"].tolist(),
                                                    "pos": int(state["state"]["pos"])}}}
    return None


def set_random_state(source: Any, state: Any) -> None:
    """Put ``source`` back in a state :func:`random_state` gave; ValueError if they do not fit."""
    if state is None:
        return
    if isinstance(source, np.random.Generator) and "generator" in state:
        source.bit_generator.state = state["generator"]
    elif isinstance(source, np.random.RandomState) and "random_state" in state:
        saved = state["random_state"]
        source.set_state({**saved, "state": {"key": np.array(saved["state"]["key"], dtype=np.uint32),
                                             "pos": saved["state"]["pos"]}})
    else:
        raise ValueError(f"the random state {sorted(state)} does not fit the spec's random source")


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
    for _, parameter, value in _stored(arrays, "parameter", "parameter arrays", pipeline.parameters(), where):
        parameter[...] = value
    _restore_buffers(pipeline, arrays, where)
    _check_finite(pipeline, where)
    optimizer = {k.removeprefix("optimizer."): arrays[k] for k in arrays if k.startswith("optimizer.")}
    if optimizer:
        _restore_training(pipeline, optimizer, arrays, where)


def _restore_buffers(pipeline: Any, arrays: dict[str, np.ndarray], where: str) -> None:
    """Copy the stored buffers (moving averages) into the pipeline's. A
    checkpoint written before buffers were saved has none: the pipeline
    keeps its fresh ones only if it has none either."""
    for index, buffer, value in _stored(arrays, "buffer", "buffer arrays (moving averages)", pipeline.buffers(),
                                        where):
        if not np.isfinite(value).all():
            raise CheckpointError(f"checkpoint {where}: buffer {index} (a moving average) is not finite")
        buffer[...] = value


def _stored(arrays: dict[str, np.ndarray], kind: str, counted: str, targets: list[np.ndarray],
            where: str) -> Iterator[tuple[int, np.ndarray, np.ndarray]]:
    """``(index, target, stored value)`` for the arrays saved as ``{kind}.{index}``,
    in index order, each once its shape and dtype are found to match its
    target's, after their count is found to match ``targets`` (``counted``
    names them in that error)."""
    stored = sorted((k for k in arrays if k.startswith(kind + ".")), key=lambda k: int(k.split(".")[1]))
    if len(stored) != len(targets):
        raise CheckpointError(f"checkpoint {where}: holds {len(stored)} {counted} but its spec has {len(targets)}")
    for index, (target, key) in enumerate(zip(targets, stored)):
        value = arrays[key]
        if value.shape != target.shape or value.dtype != target.dtype:
            raise CheckpointError(f"checkpoint {where}: {kind} {index} is {value.dtype}{list(value.shape)} "
                                  f"but the spec needs {target.dtype}{list(target.shape)}")
        yield index, target, value


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
        if "random" in arrays:  # checkpoints before dropout did not save it
            set_random_state(pipeline.random, json.loads(str(arrays["random"])))
        if "learning_rate" in arrays:
            pipeline.optimizer.learning_rate = float(arrays["learning_rate"])
        schedule = json.loads(str(arrays["schedule"])) if "schedule" in arrays else None
        pipeline.state.schedule = PlateauState.from_dict(schedule) if schedule is not None else None
    except (KeyError, ValueError, TypeError) as exc:
        raise CheckpointError(f"checkpoint {where}: its training state does not fit the network ({exc})") from None
