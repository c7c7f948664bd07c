"""The netspec command: output, exit codes, and no traceback on bad input."""

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import netspec
from netspec.cli import main
from netspec.schema import json_schema_text

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_validate_ok(capsys):
    code, out, err = run(capsys, "validate", EXAMPLES / "tutorial.json", EXAMPLES / "tutorial.yaml")
    assert code == 0
    assert out.splitlines() == [f"{EXAMPLES / 'tutorial.json'}: ok", f"{EXAMPLES / 'tutorial.yaml'}: ok"]


def test_validate_prints_every_error_with_path_and_hint(capsys):
    bad = EXAMPLES / "invalid" / "unknown-type.json"
    code, out, err = run(capsys, "validate", bad)
    assert code == 1
    first = out.splitlines()[0]
    assert first.startswith(f"{bad}:6:14: layers[1].type: error: unknown layer type \"relus\"")
    assert 'hint: did you mean "relu"?' in out


def test_validate_json_format(capsys):
    bad = EXAMPLES / "invalid" / "shape-mismatch.json"
    code, out, err = run(capsys, "validate", "--format", "json", bad)
    assert code == 1
    report = json.loads(out)
    assert report["ok"] is False
    [d] = report["diagnostics"]
    assert set(d) == {"file", "path", "line", "column", "severity", "code", "message", "hint"}
    assert (d["path"], d["code"], d["severity"], d["file"]) == ("layers[1].in_features", "shape-mismatch", "error", str(bad))


def test_warnings_pass_unless_strict(tmp_path, capsys):
    spec = tmp_path / "s.json"
    spec.write_text(json.dumps({"input": {"features": 2}, "layers": [{"type": "dense", "neurons": 3}],
                                "loss": "categorical_crossentropy"}))
    code, out, _ = run(capsys, "validate", spec)
    assert code == 0 and "warning" in out and "crossentropy-without-softmax" in out and "ok (1 warning)" in out
    assert run(capsys, "validate", "--strict", spec)[0] == 1
    code, out, _ = run(capsys, "validate", "--strict", "--ignore", "crossentropy-without-softmax", spec)
    assert code == 0 and out.strip() == f"{spec}: ok"


@pytest.mark.parametrize("content", [b"\xff\xfe\x00binary\x00", b"", b"{", b"[1, 2]", b"null"])
def test_bad_files_exit_1_without_traceback(tmp_path, capsys, content):
    spec = tmp_path / "bad.json"
    spec.write_bytes(content)
    code, out, err = run(capsys, "validate", spec)
    assert code == 1
    assert "Traceback" not in out + err


def test_missing_file_and_directory(tmp_path, capsys):
    assert run(capsys, "validate", tmp_path / "nope.json")[0] == 1
    assert run(capsys, "validate", tmp_path)[0] == 1


def test_usage_errors_exit_2(capsys):
    with pytest.raises(SystemExit) as caught:
        main(["validate"])
    assert caught.value.code == 2
    with pytest.raises(SystemExit) as caught:
        main(["frobnicate"])
    assert caught.value.code == 2


def test_summary_table(capsys):
    code, out, _ = run(capsys, "summary", EXAMPLES / "tutorial.json")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split() == ["layer", "type", "output", "shape", "parameters"]
    assert lines[2].split() == ["input", "input", "2", "0"]
    assert any(line.split()[:2] == ["dense_1", "dense"] and line.split()[-1] == "9" for line in lines)
    assert lines[-1] == "total parameters: 21"


def test_summary_of_an_invalid_spec(capsys):
    code, out, err = run(capsys, "summary", EXAMPLES / "invalid" / "misspelled-key.json")
    assert code == 1 and "nuerons" in err


def test_schema_command_prints_the_committed_schema(capsys):
    code, out, _ = run(capsys, "schema")
    assert code == 0 and out == json_schema_text()


def test_run_prints_loss_and_outputs(capsys):
    code, out, _ = run(capsys, "run", EXAMPLES / "tutorial.json", "--data", "spiral")
    assert code == 0
    assert "loss: 1.09" in out
    assert "first 5 outputs:" in out


def test_run_with_data_of_the_wrong_width(capsys):
    code, out, err = run(capsys, "run", EXAMPLES / "regression.json", "--data", "xor")
    assert code == 1 and "2 columns" in err and "1 feature" in err and "Traceback" not in err


def test_run_with_unknown_dataset(capsys):
    code, out, err = run(capsys, "run", EXAMPLES / "tutorial.json", "--data", "spirall")
    assert code == 1 and "spiral" in err


def test_console_script_entry_point():
    done = subprocess.run([sys.executable, "-m", "netspec", "validate", str(EXAMPLES / "xor.json")],
                          capture_output=True, text=True)
    assert done.returncode == 0 and done.stdout.strip().endswith("ok")


@pytest.mark.parametrize("code, words", [("dense-colapse", 'did you mean "dense-collapse"?'),
                                         ("unknown-key", "only warnings can be ignored")])
def test_ignore_takes_only_warning_codes(capsys, code, words):
    with pytest.raises(SystemExit) as caught:
        main(["validate", "--ignore", code, str(EXAMPLES / "xor.json")])
    assert caught.value.code == 2 and words in capsys.readouterr().err


# ---------------------------------------------------------------- tensors: convolution and pooling

def test_summary_of_a_cnn_shows_tensor_shapes(capsys):
    code, out, _ = run(capsys, "summary", EXAMPLES / "cnn.json")
    assert code == 0
    rows = {line.split()[0]: line.split() for line in out.splitlines()[2:-2]}
    assert rows["input"] == ["input", "input", "16×16×1", "0"]
    assert rows["conv2d_1"] == ["conv2d_1", "conv2d", "16×16×8", "80"]
    assert rows["max_pool2d_1"][2] == "8×8×8" and rows["max_pool2d_2"][2] == "4×4×16"
    assert rows["flatten_1"][2:] == ["256", "0"] and rows["dense_1"][2:] == ["64", "16,448"]
    assert out.splitlines()[-1] == "total parameters: 18,021"


def test_summary_json_of_a_cnn_gives_shapes_as_lists(capsys):
    code, out, _ = run(capsys, "summary", "--format", "json", EXAMPLES / "cnn.json")
    assert code == 0
    summary = json.loads(out)
    assert summary["input_shape"] == [16, 16, 1]
    first, *_ = summary["layers"]
    assert (first["name"], first["path"], first["in_shape"], first["out_shape"], first["parameters"]) == (
        "conv2d_1", "layers[0]", [16, 16, 1], [16, 16, 8], 80)
    flatten = next(layer for layer in summary["layers"] if layer["type"] == "flatten")
    assert (flatten["in_shape"], flatten["out_shape"]) == ([4, 4, 16], [256])
    assert summary["layers"][-1]["out_shape"] == [5]
    assert summary["total_parameters"] == 18_021 == sum(layer["parameters"] for layer in summary["layers"])
    shapes = [summary["input_shape"]] + [layer["out_shape"] for layer in summary["layers"]]
    assert all(layer["in_shape"] == shape for layer, shape in zip(summary["layers"], shapes))


def test_summary_json_of_a_sequence_network(capsys):
    code, out, _ = run(capsys, "summary", "--format", "json", EXAMPLES / "conv1d.json")
    summary = json.loads(out)
    assert code == 0 and summary["input_shape"] == [64, 1]
    assert [layer["out_shape"] for layer in summary["layers"][:3]] == [[64, 8], [64, 8], [32, 8]]


def test_check_gradients_of_convolution_and_pooling(capsys):
    code, out, _ = run(capsys, "check-gradients", "conv2d", "max_pool2d", "flatten")
    assert code == 0
    lines = out.splitlines()
    assert [line.split(":")[0] for line in lines] == ["layer conv2d", "layer max_pool2d", "layer flatten"]
    assert all(": ok (" in line for line in lines)


def test_list_layers_shows_the_convolution_options(capsys):
    code, out, _ = run(capsys, "list", "layer")
    assert code == 0
    lines = out.splitlines()
    start = next(i for i, line in enumerate(lines) if line.split()[:1] == ["conv2d"])
    options = [line.strip() for line in lines[start + 1:start + 9]]
    assert options == ["filters: int (required)", "kernel_size (required)", "strides = 1", 'padding = "valid"',
                       "dilation = 1", "activation = null", "bias: bool = true", "init = null"]
    listed = {line.split()[0] for line in lines if line.startswith("  ") and not line.startswith("      ")}
    assert {"conv1d", "max_pool2d", "avg_pool2d", "max_pool1d", "avg_pool1d", "global_avg_pool", "global_max_pool",
            "flatten", "reshape"} <= listed


TINY_CNN = {"input": {"shape": [8, 8, 1]}, "seed": 0,
            "layers": [{"type": "conv2d", "filters": 2, "kernel_size": 3, "padding": "same", "activation": "relu"},
                       {"type": "max_pool2d"}, {"type": "flatten"}, {"type": "dense", "neurons": 2},
                       {"type": "softmax"}],
            "loss": "categorical_crossentropy", "train": {"epochs": 50, "batch_size": 8},
            "data": {"dataset": "shapes", "samples_per_class": 6, "size": 8, "classes": 2}}


def test_train_and_predict_a_cnn(tmp_path, capsys):
    spec = tmp_path / "tiny.json"
    spec.write_text(json.dumps(TINY_CNN))
    model = tmp_path / "tiny.npz"
    code, out, err = run(capsys, "train", spec, "--epochs", 1, "--out", model)
    assert code == 0, err
    assert "8×8×2" in out and "epoch 1/1" in out and "epoch 2/" not in out and f"saved {model}" in out
    pipeline = netspec.load_pipeline(model)
    assert pipeline.state.epoch == 1 and pipeline.input_shape == (8, 8, 1)

    X, _ = netspec.data.shapes(3, size=8, classes=2, seed=5)
    np.save(tmp_path / "X.npy", X)
    code, out, err = run(capsys, "predict", model, "--data", tmp_path / "X.npy")
    assert code == 0, err
    assert [int(line) for line in out.split()] == pipeline.predict(X).tolist()
    code, out, _ = run(capsys, "predict", model, "--data", tmp_path / "X.npy", "--out", tmp_path / "p.npy")
    assert code == 0 and np.array_equal(np.load(tmp_path / "p.npy"), pipeline.predict(X))

    np.save(tmp_path / "no_channel.npy", X[..., 0])
    code, out, err = run(capsys, "predict", model, "--data", tmp_path / "no_channel.npy")
    assert code == 1 and "expected (samples, 8, 8, 1) -- add the channel axis with X[..., None]" in err
    assert "Traceback" not in out + err


@pytest.mark.parametrize("name", ["empty-output", "flatten-size", "loss-needs-vector", "needs-flatten",
                                  "reshape-size", "wrong-rank"])
def test_validate_each_invalid_tensor_example_exits_1(capsys, name):
    bad = EXAMPLES / "invalid" / f"{name}.json"
    code, out, err = run(capsys, "validate", bad)
    assert code == 1 and "Traceback" not in out + err
    expected = re.findall(r"^\S+ \S+ \[([a-z-]+)\]", (bad.parent / f"{name}.json.errors").read_text(), re.MULTILINE)
    assert expected and [re.search(r"\[([a-z-]+)\]$", line).group(1)
                         for line in out.splitlines() if line.startswith(str(bad))] == expected
    assert "hint: " in out
    code, out, _ = run(capsys, "validate", "--format", "json", bad)
    assert code == 1 and [d["code"] for d in json.loads(out)["diagnostics"]] == expected
