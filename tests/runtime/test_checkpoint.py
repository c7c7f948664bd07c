"""Checkpoints: exact restore, exact resume, atomic writes, clear errors."""

import json
import os
import zipfile

import numpy as np
import pytest

import netspec
from netspec.errors import CheckpointError
from netspec.runtime import checkpoint

SPEC = {
    "input": {"features": 2}, "seed": 5,
    "layers": [{"type": "dense", "neurons": 8, "activation": "relu"}, {"type": "dense", "neurons": 3},
               {"type": "softmax"}],
    "loss": "categorical_crossentropy",
    "train": {"optimizer": {"type": "adam", "learning_rate": 0.01}, "batch_size": 16, "metrics": ["accuracy"]},
}


@pytest.fixture
def data():
    return netspec.data.spiral(20, 3, seed=2)


def test_restore_is_bit_for_bit(tmp_path, data):
    X, y = data
    pipeline = netspec.compile(SPEC)
    pipeline.fit(X, y, epochs=5, verbose=0)
    pipeline.save(tmp_path / "model.npz")
    restored = netspec.load_pipeline(tmp_path / "model.npz")
    assert all(np.array_equal(a, b) for a, b in zip(pipeline.parameters(), restored.parameters()))
    assert np.array_equal(pipeline.forward(X), restored.forward(X))
    assert restored.spec == pipeline.spec


def test_checkpoint_loads_without_pickle(tmp_path, data):
    netspec.compile(SPEC).save(tmp_path / "model.npz")
    with np.load(tmp_path / "model.npz", allow_pickle=False) as archive:
        assert json.loads(str(archive["spec"]))["layers"][0]["neurons"] == 8
        assert str(archive["format"]) == checkpoint.FORMAT


def test_resume_continues_exactly_as_uninterrupted_training(tmp_path, data):
    X, y = data
    straight = netspec.compile(SPEC)
    straight.fit(X, y, epochs=6, verbose=0)

    first = netspec.compile(SPEC)
    first.fit(X, y, epochs=3, verbose=0)
    first.save(tmp_path / "half.npz")
    resumed = netspec.load_pipeline(tmp_path / "half.npz")
    history = resumed.fit(X, y, epochs=3, verbose=0)

    assert history.epochs == [4, 5, 6]
    assert all(np.array_equal(a, b) for a, b in zip(straight.parameters(), resumed.parameters()))


def test_without_optimizer_state_only_parameters_are_kept(tmp_path, data):
    X, y = data
    pipeline = netspec.compile(SPEC)
    pipeline.fit(X, y, epochs=2, verbose=0)
    pipeline.save(tmp_path / "weights.npz", optimizer_state=False)
    restored = netspec.load_pipeline(tmp_path / "weights.npz")
    assert restored.optimizer.iterations == 0 and restored.state.epoch == 0
    assert np.array_equal(pipeline.forward(X), restored.forward(X))


def test_a_failed_write_keeps_the_previous_checkpoint(tmp_path, monkeypatch, data):
    path = tmp_path / "model.npz"
    pipeline = netspec.compile(SPEC)
    pipeline.save(path)
    before = path.read_bytes()

    def crash(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(np, "savez", crash)
    with pytest.raises(OSError):
        pipeline.save(path)
    assert path.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["model.npz"]


def test_not_a_checkpoint(tmp_path):
    junk = tmp_path / "junk.npz"
    junk.write_bytes(b"not a zip")
    with pytest.raises(CheckpointError, match="junk.npz is not a netspec checkpoint: it is a text file"):
        netspec.load_pipeline(junk)
    other = tmp_path / "other.npz"
    np.savez(other, X=np.zeros(3))
    with pytest.raises(CheckpointError, match="not a netspec checkpoint"):
        netspec.load_pipeline(other)
    with pytest.raises(CheckpointError, match="no such file"):
        netspec.load_pipeline(tmp_path / "missing.npz")


def test_arrays_that_do_not_match_the_spec(tmp_path):
    path = tmp_path / "model.npz"
    netspec.compile(SPEC).save(path)
    with np.load(path) as archive:
        arrays = dict(archive)
    arrays["parameter.0"] = np.zeros((3, 8))
    np.savez(path, **arrays)
    with pytest.raises(CheckpointError, match=r"parameter 0 is float64\[3, 8\] but the spec needs float64\[2, 8\]"):
        netspec.load_pipeline(path)
    del arrays["parameter.3"]
    arrays["parameter.0"] = np.zeros((2, 8))
    np.savez(path, **arrays)
    with pytest.raises(CheckpointError, match="holds 3 parameter arrays but its spec has 4"):
        netspec.load_pipeline(path)


def test_invalid_spec_inside_a_checkpoint(tmp_path):
    path = tmp_path / "model.npz"
    netspec.compile(SPEC).save(path)
    with np.load(path) as archive:
        arrays = dict(archive)
    arrays["spec"] = np.array(json.dumps({"input": {"features": 2}, "layers": [{"type": "relus"}]}))
    np.savez(path, **arrays)
    with pytest.raises(CheckpointError, match='unknown layer type "relus"'):
        netspec.load_pipeline(path)


def test_checkpoint_is_one_npz(tmp_path):
    netspec.compile(SPEC).save(tmp_path / "m.npz")
    assert zipfile.is_zipfile(tmp_path / "m.npz")


# ---------------------------------------------------------------- convolutional networks

CNN = {
    "input": {"shape": [8, 8, 1]}, "seed": 3,
    "layers": [{"type": "conv2d", "filters": 4, "kernel_size": 3, "padding": "same", "activation": "relu"},
               {"type": "max_pool2d"},
               {"type": "conv2d", "filters": 3, "kernel_size": [2, 3], "strides": [1, 2], "bias": False},
               {"type": "avg_pool2d", "pool_size": 1},
               {"type": "flatten"}, {"type": "dense", "neurons": 3}, {"type": "softmax"}],
    "loss": "categorical_crossentropy",
    "train": {"optimizer": {"type": "adam", "learning_rate": 0.01}, "batch_size": 8, "metrics": ["accuracy"]},
}

CONV1D = {
    "input": {"shape": [16, 1]}, "seed": 4,
    "layers": [{"type": "conv1d", "filters": 4, "kernel_size": 3, "padding": "same", "activation": "relu"},
               {"type": "max_pool1d"},
               {"type": "conv1d", "filters": 4, "kernel_size": 3, "dilation": 2, "activation": "tanh"},
               {"type": "global_avg_pool"}, {"type": "dense", "neurons": 3}, {"type": "softmax"}],
    "loss": "categorical_crossentropy",
    "train": {"optimizer": {"type": "rmsprop", "learning_rate": 0.01}, "batch_size": 8, "metrics": ["accuracy"]},
}

CONV_CASES = [
    pytest.param(CNN, lambda: netspec.data.shapes(8, size=8, classes=3, seed=2), id="conv2d"),
    pytest.param(CONV1D, lambda: netspec.data.waves(8, length=16, classes=3, seed=2), id="conv1d"),
    pytest.param({**CNN, "dtype": "float32", "rng": "legacy"}, lambda: netspec.data.shapes(8, size=8, classes=3, seed=2),
                 id="conv2d-float32-legacy"),
]


@pytest.mark.parametrize("spec, make_data", CONV_CASES)
def test_a_convolutional_network_restores_bit_for_bit(tmp_path, spec, make_data):
    X, y = make_data()
    pipeline = netspec.compile(spec)
    pipeline.fit(X, y, epochs=3, verbose=0)
    pipeline.save(tmp_path / "model.npz")
    restored = netspec.load_pipeline(tmp_path / "model.npz")
    assert restored.input_shape == pipeline.input_shape == tuple(spec["input"]["shape"])
    assert [p.shape for p in restored.parameters()] == [p.shape for p in pipeline.parameters()]
    assert all(np.array_equal(a, b) and a.dtype == b.dtype for a, b in zip(pipeline.parameters(), restored.parameters()))
    assert np.array_equal(pipeline.forward(X), restored.forward(X))
    assert np.array_equal(pipeline.predict(X), restored.predict(X))
    assert restored.spec == pipeline.spec


@pytest.mark.parametrize("spec, make_data", CONV_CASES)
def test_a_convolutional_network_resumes_exactly_as_uninterrupted_training(tmp_path, spec, make_data):
    X, y = make_data()
    straight = netspec.compile(spec)
    straight.fit(X, y, epochs=5, verbose=0)

    first = netspec.compile(spec)
    first.fit(X, y, epochs=2, verbose=0)
    first.save(tmp_path / "half.npz")
    resumed = netspec.load_pipeline(tmp_path / "half.npz")
    history = resumed.fit(X, y, epochs=3, verbose=0)

    assert history.epochs == [3, 4, 5]
    assert all(np.array_equal(a, b) for a, b in zip(straight.parameters(), resumed.parameters()))
    assert np.array_equal(straight.forward(X), resumed.forward(X))
