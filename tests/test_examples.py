"""Every example validates; every broken example gives exactly the errors written beside it.

``examples/invalid/NAME.errors`` holds one line per diagnostic of
``examples/invalid/NAME``: ``LINE:COLUMN: PATH: [CODE] message``.
"""

from pathlib import Path

import pytest

import netspec

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
GOOD = sorted(p for p in EXAMPLES.glob("*") if p.suffix in (".json", ".yaml", ".yml"))
BROKEN = sorted(p for p in (EXAMPLES / "invalid").glob("*") if p.suffix in (".json", ".yaml", ".yml"))


def described(diagnostic):
    return f"{diagnostic.line}:{diagnostic.column}: {diagnostic.where}: [{diagnostic.code}] {diagnostic.message}"


@pytest.mark.parametrize("path", GOOD, ids=lambda p: p.name)
def test_examples_validate_without_warnings(path):
    report = netspec.validate(path)
    assert report.ok and report.warnings == [], report.diagnostics


@pytest.mark.parametrize("path", BROKEN, ids=lambda p: p.name)
def test_broken_examples_give_their_expected_errors(path):
    expected = path.with_name(path.name + ".errors").read_text(encoding="utf-8").splitlines()
    report = netspec.validate(path)
    assert not report.ok
    assert [described(d) for d in report.diagnostics] == expected


def test_every_broken_example_has_expectations():
    written = {p.name.removesuffix(".errors") for p in (EXAMPLES / "invalid").glob("*.errors")}
    assert written == {p.name for p in BROKEN}
