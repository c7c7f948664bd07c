"""The netspec command: output, exit codes, and no traceback on bad input."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

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
