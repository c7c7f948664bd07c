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
from typing import Any

import numpy as np

from ..errors import CheckpointError
from ..files import write_atomically

FORMAT = "netspec-checkpoint/1"


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
    """Every array of the checkpoint at ``path``, checked to be a netspec checkpoint."""
    where = os.fspath(path)
    try:
        with np.load(where, allow_pickle=False) as archive:
            arrays = {name: archive[name] for name in archive.files}
    except FileNotFoundError:
        raise CheckpointError(f"checkpoint {where}: no such file") from None
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
        raise CheckpointError(f"checkpoint {where}: not a readable .npz file ({exc})") from None
    if "format" not in arrays or str(arrays["format"]) != FORMAT or "spec" not in arrays:
        raise CheckpointError(f"checkpoint {where}: not a netspec checkpoint (expected 'format' = {FORMAT!r} "
                              f"and a 'spec'; found arrays {sorted(arrays)})")
    return arrays


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
    optimizer = {k.removeprefix("optimizer."): arrays[k] for k in arrays if k.startswith("optimizer.")}
    if optimizer:
        _restore_training(pipeline, optimizer, arrays, where)


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
