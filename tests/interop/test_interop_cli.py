"""``netspec export`` and ``netspec import``: what they write, what they
print, and that a model they cannot convert leaves nothing written."""

import json
import os

import numpy as np
import pytest

import netspec
from netspec.cli import main

SPEC = {"netspec": "1", "input": {"shape": [6, 6, 1]}, "seed": 3, "loss": "categorical_crossentropy",
        "layers": [{"type": "conv2d", "filters": 2, "kernel_size": 3, "activation": "relu"}, {"type": "flatten"},
                   {"type": "dense", "neurons": 3}, {"type": "softmax"}]}


@pytest.fixture
def checkpoint(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    pipeline = netspec.compile(SPEC)
    pipeline.save("model.npz")
    return pipeline


def X():
    return np.random.default_rng(0).normal(size=(4, 6, 6, 1))


def test_export_a_checkpoint_to_onnx(checkpoint, capsys):
    ort = pytest.importorskip("onnxruntime")
    assert main(["export", "model.npz", "--to", "onnx", "--out", "model.onnx"]) == 0
    assert capsys.readouterr().out == ("wrote model.onnx: ONNX opset 18, input (batch, 6, 6, 1) float64 → "
                                       "output (batch, 3), 119 parameters\n")
    session = ort.InferenceSession("model.onnx", providers=["CPUExecutionProvider"])
    np.testing.assert_allclose(session.run(None, {"input": X()})[0], checkpoint.forward(X()), rtol=1e-10, atol=1e-12)


def test_export_a_spec_with_fresh_seeded_weights(tmp_path, monkeypatch):
    pytest.importorskip("onnx")
    from netspec.interop.onnx import from_onnx

    monkeypatch.chdir(tmp_path)
    (tmp_path / "spec.json").write_text(json.dumps(SPEC))
    assert main(["export", "spec.json", "--to", "onnx", "--opset", "17", "--seed", "9", "--out", "fresh.onnx"]) == 0
    expected = netspec.compile({**SPEC, "seed": 9})
    assert all(np.array_equal(a, b) for a, b in zip(from_onnx("fresh.onnx").parameters(), expected.parameters()))


def test_export_to_torch(checkpoint, capsys):
    torch = pytest.importorskip("torch")
    assert main(["export", "model.npz", "--to", "torch", "--out", "model.pt2"]) == 0
    assert "load it with torch.export.load('model.pt2').module()" in capsys.readouterr().out
    program = torch.export.load("model.pt2").module()
    np.testing.assert_allclose(program(torch.tensor(X())).detach().numpy(), checkpoint.forward(X()), rtol=1e-10)


@pytest.mark.parametrize("argv, message", [
    (["export", "model.npz", "--to", "torch", "--opset", "13", "--out", "m.pt2"], "--opset is an ONNX option"),
    (["export", "model.npz", "--to", "onnx", "--seed", "1", "--out", "m.onnx"], "--seed draws a spec's weights"),
    (["import", "onnx", "m.onnx", "--weights", "w.h5", "--out", "s.json"], "--weights is for Keras models"),
    (["import", "keras", "m.json", "--weights", "w.h5", "--out", "s.json"], "add --checkpoint MODEL.npz"),
])
def test_usage_errors(checkpoint, capsys, argv, message):
    assert main(argv) == 2
    assert message in capsys.readouterr().err


def test_an_existing_file_of_another_kind_is_not_replaced(checkpoint, capsys):
    pytest.importorskip("onnx")
    with open("notes.onnx", "w") as stream:
        stream.write("my notes")
    assert main(["export", "model.npz", "--to", "onnx", "--out", "notes.onnx"]) == 1
    assert "will not write the ONNX model to notes.onnx" in capsys.readouterr().err
    assert open("notes.onnx").read() == "my notes"


def test_import_onnx_writes_the_spec_and_the_checkpoint(checkpoint, capsys):
    pytest.importorskip("onnx")
    checkpoint.to_onnx("model.onnx")
    assert main(["import", "onnx", "model.onnx", "--out", "back.json", "--checkpoint", "back.npz"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "wrote back.json: 4 layers, from the ONNX model model.onnx",
        "wrote back.npz: 119 parameters, input (batch, 6, 6, 1) float64 → output (batch, 3)"]
    assert netspec.load("back.json").to_dict() == checkpoint.spec
    restored = netspec.load_pipeline("back.npz")
    assert all(np.array_equal(a, b) for a, b in zip(restored.parameters(), checkpoint.parameters()))


KERAS_CONFIG = {"class_name": "Sequential", "config": {"name": "small", "layers": [
    {"class_name": "InputLayer", "config": {"name": "x", "batch_shape": [None, 4]}},
    {"class_name": "Dense", "config": {"name": "hidden", "units": 5, "activation": "relu"}},
    {"class_name": "Dense", "config": {"name": "out", "units": 2, "activation": "softmax"}}]}}


def test_import_keras_writes_the_spec(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "model.json").write_text(json.dumps(KERAS_CONFIG))
    assert main(["import", "keras", "model.json", "--out", "spec.json"]) == 0
    assert capsys.readouterr().out == "wrote spec.json: 2 layers, from the Keras model model.json\n"
    assert netspec.load("spec.json").to_dict()["layers"] == [
        {"type": "dense", "name": "hidden", "neurons": 5, "activation": "relu"},
        {"type": "dense", "name": "out", "neurons": 2, "activation": "softmax"}]


def _weights(path, hidden=5):
    pytest.importorskip("h5py")
    from keras_files import write_legacy

    rng = np.random.default_rng(0)
    write_legacy(path, [("hidden", [("kernel", rng.normal(size=(4, hidden))), ("bias", rng.normal(size=hidden))]),
                        ("out", [("kernel", rng.normal(size=(hidden, 2))), ("bias", rng.normal(size=2))])])


def test_import_keras_with_weights_writes_a_checkpoint(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "model.json").write_text(json.dumps(KERAS_CONFIG))
    _weights("weights.h5")
    assert main(["import", "keras", "model.json", "--weights", "weights.h5", "--out", "spec.json",
                 "--checkpoint", "model.npz"]) == 0
    assert capsys.readouterr().out.splitlines()[1] == ("wrote model.npz: 37 parameters, input (batch, 4) float64 → "
                                                       "output (batch, 2)")
    assert netspec.load_pipeline("model.npz").layers[0].weights.shape == (4, 5)


def test_weights_of_another_model_write_nothing(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "model.json").write_text(json.dumps(KERAS_CONFIG))
    _weights("other.h5", hidden=7)
    assert main(["import", "keras", "model.json", "--weights", "other.h5", "--out", "spec.json",
                 "--checkpoint", "model.npz"]) == 1
    err = capsys.readouterr().err
    assert "layer 'hidden': its kernel is (4, 7) in the weights file but (4, 5) in the config [weights-mismatch]" in err
    assert err.endswith("netspec import: 3 problems; nothing written\n")
    assert not os.path.exists("spec.json") and not os.path.exists("model.npz")


def test_an_unsupported_keras_model_is_every_diagnostic_with_its_source_line(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    config = json.loads(json.dumps(KERAS_CONFIG))
    config["config"]["layers"][1]["config"].update(activation="gelu", kernel_constraint={"class_name": "MaxNorm"})
    (tmp_path / "model.json").write_text(json.dumps(config, indent=1))
    assert main(["import", "keras", "model.json", "--out", "spec.json"]) == 1
    err = capsys.readouterr().err.splitlines()
    assert err[0] == ("model.json:21:20: config.layers[1].config.activation: error: Dense activation gelu has no "
                      'netspec equivalent [unsupported-option]')
    assert err[1:3] == ['         "activation": "gelu",', "                       ^"]
    assert err[-1] == "netspec import: 2 problems; nothing written"
    assert not os.path.exists("spec.json")


def test_a_missing_library_says_which_extra_to_install(checkpoint, capsys, monkeypatch):
    monkeypatch.setitem(__import__("sys").modules, "onnx", None)
    assert main(["export", "model.npz", "--to", "onnx", "--out", "model.onnx"]) == 1
    assert capsys.readouterr().err == ("netspec export --to onnx: needs the onnx package, which is not installed: "
                                       "pip install 'netspec[onnx]'\n")
    assert not os.path.exists("model.onnx")
