"""A file that is not a netspec checkpoint says what it is instead; weights
that are not finite are refused when a checkpoint is read."""

import json
import os

import numpy as np
import pytest

import netspec
from netspec.errors import CheckpointError
from netspec.runtime.checkpoint import is_checkpoint

SPEC = {"input": {"features": 2}, "seed": 0, "layers": [{"type": "dense", "neurons": 3}, {"type": "softmax"}],
        "loss": "categorical_crossentropy"}


def refused(path):
    with pytest.raises(CheckpointError) as caught:
        netspec.load_pipeline(path)
    message = str(caught.value)
    assert "pickle" not in message and "unsafely" not in message
    return message


@pytest.mark.parametrize("content, says", [
    (json.dumps(SPEC).encode(), "is not a netspec checkpoint: it looks like a netspec spec; train it to make one"),
    (b"input: {features: 2}\nlayers: [{type: dense, neurons: 3}]\n", "it looks like a netspec spec"),
    (b"hello\n", "is not a netspec checkpoint: it is a text file, not a .npz archive"),
    (bytes(range(256)) * 4, "is not a netspec checkpoint: it is neither a .npz archive nor any file netspec writes"),
    (b"", "is not a netspec checkpoint: the file is empty"),
])
def test_a_file_that_is_not_a_checkpoint_says_what_it_is(tmp_path, content, says):
    path = tmp_path / "model.npz"
    path.write_bytes(content)
    assert says in refused(path)
    assert not is_checkpoint(path)


def test_a_plain_npz_even_with_pickled_objects_is_not_a_checkpoint(tmp_path):
    path = tmp_path / "data.npz"
    np.savez(path, X=np.zeros(3), labels=np.array([{"a": 1}], dtype=object))
    assert refused(path) == (f"{path} is not a netspec checkpoint: a .npz archive without netspec's 'format' "
                             "entry (its arrays: X, labels)")


def test_a_npy_file(tmp_path):
    path = tmp_path / "X.npy"
    np.save(path, np.zeros(3))
    assert "it is a NumPy .npy array" in refused(path)


def test_another_format_version(tmp_path):
    path = tmp_path / "model.npz"
    np.savez(path, format=np.array("netspec-checkpoint/9"), spec=np.array("{}"))
    assert "its format is 'netspec-checkpoint/9', expected 'netspec-checkpoint/1'" in refused(path)


def test_a_checkpoint_holding_objects_is_refused_without_unpickling(tmp_path):
    path = tmp_path / "model.npz"
    netspec.compile(SPEC).save(path)
    with np.load(path) as archive:
        arrays = dict(archive)
    arrays["parameter.0"] = np.array([object()], dtype=object)
    np.savez(path, **arrays)
    assert "its array 'parameter.0' holds Python objects" in refused(path)


def test_a_fifo_is_refused_without_blocking(tmp_path):
    os.mkfifo(tmp_path / "model.npz")
    assert "it is a FIFO (named pipe), not a regular file" in refused(tmp_path / "model.npz")


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_weights_that_are_not_finite_are_refused(tmp_path, bad):
    path = tmp_path / "model.npz"
    pipeline = netspec.compile(SPEC)
    pipeline.layers[0].weights[0, 1] = bad
    pipeline.save(path)
    assert refused(path) == (f"checkpoint {path}: its weights are not finite (1 of the 6 values of layer dense_1 "
                             "are NaN or infinite); nothing computed with them would be a number: train again")


def test_is_checkpoint(tmp_path):
    netspec.compile(SPEC).save(tmp_path / "model.npz")
    assert is_checkpoint(tmp_path / "model.npz")
    assert not is_checkpoint(tmp_path / "missing.npz")
