"""A corpus of broken specs, each with exactly the diagnostics it must give.

``tests/corpus/`` holds real files, JSON and YAML, each broken in one or a few
ways; ``tests/corpus/expected.yaml`` maps each file name to its diagnostics in
order (errors, then warnings): ``path``, ``line``, ``column``, ``code`` and
``severity`` exactly, and a part of the ``message``. The same list must come
from ``netspec.validate``, from the ``SpecError`` of ``netspec.load``, and
from ``netspec validate --format json``; YAML files give it with libyaml and
with the pure-Python parser alike.
"""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import pytest
import yaml

import netspec
import netspec.read
from netspec.cli import main

CORPUS = Path(__file__).resolve().parent / "corpus"
EXPECTED = yaml.safe_load((CORPUS / "expected.yaml").read_text(encoding="utf-8"))
FILES = sorted(p for p in CORPUS.iterdir() if p.suffix in (".json", ".yaml", ".yml") and p.name != "expected.yaml")
LOADERS = [yaml.SafeLoader] + ([yaml.CSafeLoader] if hasattr(yaml, "CSafeLoader") else [])

# Every code the corpus must show at least once.
CHECK_CODES = {"unknown-key", "missing-key", "unknown-type", "missing-type", "wrong-type", "out-of-range",
               "invalid-value", "empty-list", "too-long", "duplicate-name", "unknown-dataset",
               "monitor-needs-validation", "monitor-not-measured", "not-an-object"}
READ_CODES = {"json-syntax", "yaml-syntax", "yaml-tag", "yaml-merge-key", "duplicate-key", "non-finite-number",
              "non-string-key", "empty-document", "multiple-documents", "not-utf8", "string-too-long", "too-deep"}
INFER_CODES = {"shape-mismatch", "bad-width", "too-many-parameters", "too-much-memory"}
LINT_CODES = {"crossentropy-without-softmax", "sigmoid-with-categorical-crossentropy", "softmax-with-logits",
              "binary-crossentropy-width", "binary-crossentropy-without-sigmoid", "relu-output-regression"}

FIELDS = ("path", "line", "column", "code", "severity")


def described(diagnostics):
    return [{"path": d.where, "line": d.line, "column": d.column, "code": d.code, "severity": d.severity}
            for d in diagnostics]


def expected(name):
    return [{k: entry[k] for k in FIELDS} for entry in EXPECTED[name]]


def assert_messages(name, diagnostics):
    for entry, d in zip(EXPECTED[name], diagnostics):
        assert entry["message"] in d.message, (name, entry["message"], d.message)


@pytest.fixture(params=LOADERS, ids=lambda loader: loader.__name__)
def yaml_loader(request, monkeypatch):
    monkeypatch.setattr(netspec.read, "_YAML_LOADER", request.param)


def test_every_file_has_its_expectation_and_every_expectation_its_file():
    assert sorted(EXPECTED) == [p.name for p in FILES]


def test_the_corpus_is_broad():
    assert len(FILES) >= 40
    assert sum(p.suffix in (".yaml", ".yml") for p in FILES) >= 12
    codes = {entry["code"] for entries in EXPECTED.values() for entry in entries}
    for group in (CHECK_CODES, READ_CODES, INFER_CODES, LINT_CODES):
        assert group <= codes, sorted(group - codes)


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_validate_gives_exactly_the_expected_diagnostics(path, yaml_loader):
    report = netspec.validate(path)
    assert described(report.diagnostics) == expected(path.name)
    assert_messages(path.name, report.diagnostics)
    assert all(d.file == str(path) for d in report.diagnostics)
    assert all(d.message and d.code for d in report.diagnostics)


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_positions_are_inside_the_file(path):
    lines = path.read_bytes().decode("utf-8", "replace").splitlines()
    for d in netspec.validate(path).diagnostics:
        if d.line is not None:
            assert 1 <= d.line <= len(lines) and 1 <= d.column <= len(lines[d.line - 1]) + 1, d


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_load_raises_the_same_diagnostics(path):
    has_errors = any(entry["severity"] == "error" for entry in EXPECTED[path.name])
    if not has_errors:
        assert netspec.load(path) is not None
        with pytest.raises(netspec.SpecError) as strict:
            netspec.load(path, strict=True)
        assert [d.code for d in strict.value.errors] == [entry["code"] for entry in EXPECTED[path.name]]
        return
    with pytest.raises(netspec.SpecError) as info:
        netspec.load(path)
    assert described(info.value.diagnostics) == expected(path.name)


def cli(*argv):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main([str(a) for a in argv])
    return code, out.getvalue(), err.getvalue()


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_the_cli_reports_the_same_in_json_and_in_text(path):
    has_errors = any(entry["severity"] == "error" for entry in EXPECTED[path.name])
    code, out, err = cli("validate", "--format", "json", path)
    assert code == (1 if has_errors else 0) and err == ""
    found = json.loads(out)
    assert found["ok"] is not has_errors
    as_json = [{**entry, "path": "" if entry["path"] == "<spec>" else entry["path"]} for entry in expected(path.name)]
    assert [{k: d[k] for k in FIELDS} for d in found["diagnostics"]] == as_json  # the root's path is "" in JSON
    assert all(d["file"] == str(path) for d in found["diagnostics"])

    code, out, err = cli("validate", path)
    assert code == (1 if has_errors else 0) and "Traceback" not in out + err
    for entry in EXPECTED[path.name]:
        place = ":".join(str(p) for p in (path, entry["line"], entry["column"]) if p is not None)
        assert f"{place}: {entry['path']}: {entry['severity']}: " in out
        assert f"[{entry['code']}]" in out

    code, out, err = cli("validate", "--strict", path)
    assert code == 1
