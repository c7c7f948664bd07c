"""The table of codes, the package and docs/errors.md agree.

Every code netspec emits is in ``CODES``; every code in ``CODES`` has a section
in ``docs/errors.md`` whose severity and stage match; and every example in the
page is real. A page section holds at most one spec (a ```json or ```yaml
block); each ```console block is a list of ``$ netspec ...`` commands, each
followed by exactly what it prints when run, with the spec written to the
command's last argument, from a folder shown as ``DOC_FOLDER``; each ```pycon
block is a doctest run in an empty folder, in a separate Python process (an
example may register a component, which must not leak into this session).
"""

import ast
import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from netspec.cli import main
from netspec.codes import CODES
from netspec.lints import LINTS

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "netspec"
PAGE = (ROOT / "docs" / "errors.md").read_text(encoding="utf-8")
DOC_FOLDER = "/home/me/nets"
SPEC_SUFFIXES = {"json": ".json", "yaml": ".yaml"}

# Calls whose string arguments that look like codes are codes.
EMITTERS = {"Diagnostic", "ShapeProblem", "_problem", "_fail", "_warn", "lint_rule", "spec_error"}
CODE_LIKE = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)+")
FENCE = re.compile(r"^```(\w*)\n(.*?)^```$", re.M | re.S)

# Runs the doctests given on stdin as [[title, text], ...], each in a new empty
# folder, and prints {title: failure report, "" when it passed} as JSON.
DOCTEST_RUNNER = """
import doctest, json, os, sys, tempfile
reports = {}
for title, text in json.load(sys.stdin):
    with tempfile.TemporaryDirectory() as folder:
        os.chdir(folder)
        test = doctest.DocTestParser().get_doctest(text, {}, title, "docs/errors.md", 0)
        failures = []
        doctest.DocTestRunner().run(test, out=failures.append)
        reports[title] = reports.get(title, "") + "".join(failures)
        os.chdir(os.path.dirname(folder))
print(json.dumps(reports))
"""


def sections(page):
    """``{title: body}`` for every ``## title`` of the page."""
    parts = re.split(r"^## (.+)$", page, flags=re.M)
    return dict(zip(parts[1::2], parts[2::2]))


def blocks(body, *languages):
    return [text for language, text in FENCE.findall(body) if language in languages]


def commands(console):
    """``[(command, output)]`` of a console block: each ``$ `` line and the lines printed after it."""
    found = []
    for line in console.splitlines(keepends=True):
        if line.startswith("$ "):
            found.append([line[2:].strip(), ""])
        else:
            found[-1][1] += line
    return [tuple(pair) for pair in found]


def emitted_codes():
    """Every code-like string passed to a diagnostic-making call anywhere in the package."""
    found = set()
    for source in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(source.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            name = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
            if name not in EMITTERS:
                continue
            arguments = [*node.args, *(k.value for k in node.keywords)]
            found |= {a.value for a in arguments
                      if isinstance(a, ast.Constant) and isinstance(a.value, str) and CODE_LIKE.fullmatch(a.value)}
    return found


SECTIONS = sections(PAGE)
EXAMPLES = [title for title, body in SECTIONS.items() if blocks(body, "console", "pycon")]


def test_every_emitted_code_is_in_the_table_and_nothing_else():
    assert emitted_codes() == set(CODES)


def test_lint_codes_are_the_registered_lints():
    assert set(LINTS) == {c.code for c in CODES.values() if c.stage == "lint"}


def test_lints_are_warnings_and_everything_else_errors():
    assert {c.code for c in CODES.values() if c.severity == "warning"} == set(LINTS)


@pytest.mark.parametrize("code", sorted(CODES))
def test_every_code_has_a_section_with_its_severity_and_stage(code):
    body = SECTIONS.get(code)
    assert body is not None, f"docs/errors.md has no section ## {code}"
    entry = CODES[code]
    assert f"Severity: {entry.severity}. Stage: {entry.stage}." in body
    assert blocks(body, "console", "pycon"), f"## {code} has no example"


def test_sections_are_codes_or_known_headings():
    assert {title for title in SECTIONS if " " not in title} == set(CODES)


@pytest.fixture(scope="module")
def doctest_reports():
    examples = [(title, text) for title, body in SECTIONS.items() for text in blocks(body, "pycon")]
    done = subprocess.run([sys.executable, "-c", DOCTEST_RUNNER], input=json.dumps(examples),
                          capture_output=True, text=True, check=True)
    return json.loads(done.stdout)


@pytest.mark.parametrize("title", EXAMPLES)
def test_every_example_prints_what_the_page_says(title, tmp_path, monkeypatch, capsys, doctest_reports):
    body = SECTIONS[title]
    monkeypatch.chdir(tmp_path)
    printed = _run_console(body, capsys)
    if blocks(body, "pycon"):
        assert doctest_reports[title] == ""
        printed += "".join(blocks(body, "pycon"))
    if title in CODES:
        assert title in printed, f"the example of ## {title} does not show {title}"


def _run_console(body, capsys):
    specs = [(language, text) for language, text in FENCE.findall(body) if language in SPEC_SUFFIXES]
    assert len(specs) <= 1, "one spec per section"
    printed = ""
    for console in blocks(body, "console"):
        for command, expected in commands(console):
            argv = shlex.split(command)
            assert argv[0] == "netspec", command
            if specs:
                language, text = specs[0]
                assert argv[-1].endswith(SPEC_SUFFIXES[language]), f"{argv[-1]} is not a {language} file"
                Path(argv[-1]).write_text(text, encoding="utf-8")
            main(argv[1:])
            out = capsys.readouterr().out.replace(os.getcwd(), DOC_FOLDER)
            assert out == expected, f"$ {command}"
            printed += out
    return printed
