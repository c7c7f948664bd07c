"""Tests for netspec.read: every source kind, the source map of JSON and YAML
text, every error code read emits, and properties over random input."""

from __future__ import annotations

import importlib
import json
import math
import os
import pathlib
from types import MappingProxyType
from unittest import mock

import numpy as np
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from netspec.errors import Diagnostic, SpecError
from netspec.limits import DEFAULT_LIMITS, Limits
from netspec.read import Document, read

read_module = importlib.import_module("netspec.read")

LOADERS = [yaml.SafeLoader] + ([yaml.CSafeLoader] if hasattr(yaml, "CSafeLoader") else [])


@pytest.fixture(params=LOADERS, ids=lambda loader: loader.__name__)
def yaml_loader(request, monkeypatch):
    """Run a YAML test with the pure-Python loader and, when present, libyaml's."""
    monkeypatch.setattr(read_module, "_YAML_LOADER", request.param)
    return request.param


def errors(source, **kwargs) -> list[Diagnostic]:
    with pytest.raises(SpecError) as info:
        read(source, **kwargs)
    return info.value.errors


def error(source, **kwargs) -> Diagnostic:
    """The one error reading ``source`` gives."""
    found = errors(source, **kwargs)
    assert len(found) == 1, found
    return found[0]


def where(diagnostic: Diagnostic) -> tuple:
    return diagnostic.code, diagnostic.path, diagnostic.line, diagnostic.column


def offset(text: str, position: tuple[int, int]) -> int:
    """The character offset of a 1-based (line, column), lines split as str.splitlines does."""
    line, column = position
    starts = [0]
    for piece in text.splitlines(keepends=True):
        starts.append(starts[-1] + len(piece))
    return starts[line - 1] + column - 1


def walk(tree, path=()):
    """Every (path, value, is_member) in ``tree``, the root included."""
    yield path, tree, bool(path) and isinstance(path[-1], str)
    if isinstance(tree, dict):
        for key, value in tree.items():
            yield from walk(value, path + (key,))
    elif isinstance(tree, list):
        for index, value in enumerate(tree):
            yield from walk(value, path + (index,))


# --- sources ----------------------------------------------------------------

SPEC = {"input": {"features": 2}, "layers": [{"type": "dense", "neurons": 3}]}


@pytest.mark.parametrize("name, text", [
    ("spec.json", json.dumps(SPEC)),
    ("spec.yaml", yaml.safe_dump(SPEC)),
    ("spec.yml", yaml.safe_dump(SPEC)),
    ("spec.txt", json.dumps(SPEC)),
    ("spec", yaml.safe_dump(SPEC)),
])
def test_reads_files_by_extension_or_sniffing(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    for source in (path, str(path)):
        document = read(source)
        assert document.tree == SPEC
        assert document.file == str(path)
        assert document.text == text
        assert document.positions[("layers", 0, "neurons")]


def test_extension_decides_the_format_over_the_content(tmp_path):
    path = tmp_path / "spec.json"
    path.write_text("input: {features: 2}\n", encoding="utf-8")
    assert error(path).code == "json-syntax"
    path = tmp_path / "spec.yaml"
    path.write_text('{"a": [1, 2]}', encoding="utf-8")
    assert read(path).tree == {"a": [1, 2]}  # JSON is YAML too


def test_file_name_is_kept_as_given(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    pathlib.Path("spec.yaml").write_text("a: 1\n", encoding="utf-8")
    assert read("spec.yaml").file == "spec.yaml"
    assert read(pathlib.Path("spec.yaml")).file == "spec.yaml"


def test_reads_any_path_like(tmp_path):
    class Location:
        def __fspath__(self):
            return str(tmp_path / "spec.json")

    (tmp_path / "spec.json").write_text('{"a": 1}', encoding="utf-8")
    assert read(Location()).tree == {"a": 1}


def test_str_is_a_path_or_text(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    pathlib.Path("spec").write_text("a: 1\n", encoding="utf-8")
    assert read("spec").file == "spec"  # an existing file, whatever its name
    assert where(error("missing.YML")) == ("file-not-found", (), None, None)
    assert read("a: 1\nb: other.json").tree == {"a": 1, "b": "other.json"}  # a newline: text
    assert read("a: b").tree == {"a": "b"}
    assert read('{"a": 1}').file is None


def test_reads_text_and_bytes():
    assert read('{"a": [1, 2.5, true, null, "x"]}').tree == {"a": [1, 2.5, True, None, "x"]}
    assert read("a: [1, 2.5, true, null, x]").tree == {"a": [1, 2.5, True, None, "x"]}
    assert read('{"é": 1}'.encode()).tree == {"é": 1}
    assert read(bytearray(b"a: 1")).tree == {"a": 1}
    assert read("[1, 2]").tree == [1, 2]  # any root value; check decides what it must be
    assert read("just text").tree == "just text"


@pytest.mark.parametrize("source", [
    b'\xef\xbb\xbf{"a": 1}',
    '\ufeff{"a": 1}',
    b"\xef\xbb\xbfa: 1",
])
def test_byte_order_mark_is_accepted_and_not_counted(source):
    document = read(source)
    assert document.tree == {"a": 1}
    assert document.positions[()] == (1, 1)
    assert not document.text.startswith("\ufeff")


def test_byte_order_mark_in_a_file(tmp_path):
    path = tmp_path / "spec.yaml"
    path.write_bytes(b"\xef\xbb\xbfa: 1\n")
    assert read(path).key_positions[("a",)] == (1, 1)


def test_dict_source_is_checked_and_copied():
    inner = {"neurons": 3}
    source = {"layers": [inner], "shape": (1, 2), "flags": MappingProxyType({"on": True}), "none": None}
    document = read(source)
    assert document == Document({"layers": [{"neurons": 3}], "shape": [1, 2], "flags": {"on": True}, "none": None})
    assert type(document.tree["flags"]) is dict
    inner["neurons"] = 99
    assert document.tree["layers"][0]["neurons"] == 3
    assert document.file is None and document.text is None
    assert document.positions == {} and document.key_positions == {}
    assert document.position(("layers", 0)) is None


def test_validate_keeps_nothing_of_the_callers_dict():
    import netspec

    layer = {"type": "dense", "neurons": 3, "init": {"type": "normal", "std": 0.1}}
    source = {"input": {"features": 2}, "layers": [layer, {"type": "softmax"}], "train": {"metrics": ["accuracy"]}}
    report = netspec.validate(source)
    before = (report.document.tree, report.spec, report.shapes)
    snapshot = json.loads(json.dumps(report.document.tree))
    layer["neurons"], layer["init"]["std"] = 99, 5.0
    source["layers"].append({"type": "relu"})
    source["train"]["metrics"].append("mae")
    assert report.document.tree == snapshot and report.document.tree is not source
    assert (report.document.tree, report.spec, report.shapes) == before
    assert report.spec.layers[0].neurons == 3 and len(report.shapes.layers) == 2


@pytest.mark.parametrize("value, code", [
    ((1, 2), None), (MappingProxyType({"c": 1}), None), ([np.int64(1)], "not-json-value"),
    ([math.nan], "non-finite-number"), ({"c": "x" * 11}, "string-too-long"), ({"x" * 11: 1}, "string-too-long"),
    ({2: 1}, "non-string-key"), ([[[1]]], "too-deep"),
])
def test_every_problem_of_a_dict_source_is_found_wherever_the_first_is(value, code):
    """Plain dicts take a fast path that gives up at the first value it does not
    take (a problem, or a tuple or other mapping to convert); the slow path then
    finds every problem, also those before that value."""
    limits = Limits(max_string_length=10, max_depth=3)
    source = {"a": {"x" * 11: 1, "c": [1, 2.5, True, None, "ok"]}, "b": value}
    with pytest.raises(SpecError) as caught:
        read(source, limits=limits)
    assert [(d.code, d.path[:1]) for d in caught.value.diagnostics] == (
        [("string-too-long", ("a",))] + ([(code, ("b",))] if code else []))
    del source["a"]
    if code is None:
        assert read(source, limits=limits).tree == {"b": [1, 2] if isinstance(value, tuple) else {"c": 1}}


@pytest.mark.parametrize("value, type_name", [
    (np.float64(1.0), "numpy.float64"),
    (np.int64(1), "numpy.int64"),
    (np.array([1.0]), "numpy.ndarray"),
    ({1, 2}, "set"),
    (b"bytes", "bytes"),
    (1 + 2j, "complex"),
])
def test_dict_source_refuses_values_json_does_not_have(value, type_name):
    found = error({"layers": [{"neurons": value}]})
    assert where(found) == ("not-json-value", ("layers", 0, "neurons"), None, None)
    assert type_name in found.message


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_dict_source_refuses_non_finite_numbers(value):
    assert where(error({"a": [0.5, value]})) == ("non-finite-number", ("a", 1), None, None)


def test_dict_source_refuses_non_string_keys():
    found = error({"layers": {0: "dense"}})
    assert where(found) == ("non-string-key", ("layers",), None, None)
    assert "0 (int)" in found.message


def test_dict_source_nesting_and_cycles_are_too_deep():
    cycle = {}
    cycle["again"] = cycle
    assert error(cycle).code == "too-deep"
    assert where(error({"a": [[1]]}, limits=Limits(max_depth=2))) == ("too-deep", ("a", 0), None, None)
    assert read({"a": [1]}, limits=Limits(max_depth=2)).tree == {"a": [1]}


@pytest.mark.parametrize("source", [[1, 2], 42, None, 1.5, {1, 2}])
def test_unsupported_source(source):
    found = error(source)
    assert where(found) == ("unsupported-source", (), None, None)
    assert type(source).__name__ in found.message


# --- positions ----------------------------------------------------------------

JSON_TEXT = """\
{
  "name": "ünï ✓",
  "layers": [
    {"type": "dense", "neurons": 8},
    [1, [2, 3]]
  ],
  "ключ😀": {"é": "€", "b": 1},
  "empty": {}
}"""


def test_json_positions_of_values_and_keys():
    document = read(JSON_TEXT)
    assert document.positions == {
        (): (1, 1),
        ("name",): (2, 11),
        ("layers",): (3, 13),
        ("layers", 0): (4, 5),
        ("layers", 0, "type"): (4, 14),
        ("layers", 0, "neurons"): (4, 34),
        ("layers", 1): (5, 5),
        ("layers", 1, 0): (5, 6),
        ("layers", 1, 1): (5, 9),
        ("layers", 1, 1, 0): (5, 10),
        ("layers", 1, 1, 1): (5, 13),
        ("ключ😀",): (7, 12),
        ("ключ😀", "é"): (7, 18),  # columns count characters, not bytes or UTF-16 units
        ("ключ😀", "b"): (7, 28),
        ("empty",): (8, 12),
    }
    assert document.key_positions == {
        ("name",): (2, 3),
        ("layers",): (3, 3),
        ("layers", 0, "type"): (4, 6),
        ("layers", 0, "neurons"): (4, 23),
        ("ключ😀",): (7, 3),
        ("ключ😀", "é"): (7, 13),
        ("ключ😀", "b"): (7, 23),
        ("empty",): (8, 3),
    }


def test_json_positions_after_escapes_and_crlf():
    text = '{"a\\u00e9\\"": "x\\\\y",\r\n "b": [true, -1.5e3, null]}'
    document = read(text)
    assert document.tree == {'aé"': "x\\y", "b": [True, -1500.0, None]}
    assert document.key_positions[("b",)] == (2, 2)
    assert document.positions[("b", 1)] == (2, 14)
    assert document.line_text(2) == ' "b": [true, -1.5e3, null]}'


YAML_TEXT = """\
# a comment
name: ünï ✓
layers:
  - type: dense
    neurons: 8
  - [1, [2, 3]]
  - - a
    - b
ключ😀: {é: €, b: 1}
note: |
  two
  lines
empty: {}
"""


def test_yaml_positions_of_values_and_keys(yaml_loader):
    document = read(YAML_TEXT)
    assert document.tree["note"] == "two\nlines\n"
    assert document.positions == {
        (): (2, 1),
        ("name",): (2, 7),
        ("layers",): (4, 3),
        ("layers", 0): (4, 5),
        ("layers", 0, "type"): (4, 11),
        ("layers", 0, "neurons"): (5, 14),
        ("layers", 1): (6, 5),
        ("layers", 1, 0): (6, 6),
        ("layers", 1, 1): (6, 9),
        ("layers", 1, 1, 0): (6, 10),
        ("layers", 1, 1, 1): (6, 13),
        ("layers", 2): (7, 5),
        ("layers", 2, 0): (7, 7),
        ("layers", 2, 1): (8, 7),
        ("ключ😀",): (9, 8),
        ("ключ😀", "é"): (9, 12),
        ("ключ😀", "b"): (9, 18),
        ("note",): (10, 7),
        ("empty",): (13, 8),
    }
    assert document.key_positions == {
        ("name",): (2, 1),
        ("layers",): (3, 1),
        ("layers", 0, "type"): (4, 5),
        ("layers", 0, "neurons"): (5, 5),
        ("ключ😀",): (9, 1),
        ("ключ😀", "é"): (9, 9),
        ("ключ😀", "b"): (9, 15),
        ("note",): (10, 1),
        ("empty",): (13, 1),
    }


def test_yaml_scalars_resolve_as_safe_load_does_but_dates_stay_text(yaml_loader):
    text = ("hex: 0x1F\noctal: 017\nunder: 1_000\nsixty: 1:30\nagree: yes\nswitch: off\n"
            "tilde: ~\nfloat: 1.5e+3\nnot_float: 1e5\nquoted: '1'\nday: 2020-01-01\n"
            "stamp: 2001-12-14t21:59:43.10-05:00\nequals: =\nstring: !!str 12\nint: !!int '7'\n")
    assert read(text).tree == {
        "hex": 31, "octal": 15, "under": 1000, "sixty": 90, "agree": True, "switch": False,
        "tilde": None, "float": 1500.0, "not_float": "1e5", "quoted": "1", "day": "2020-01-01",
        "stamp": "2001-12-14t21:59:43.10-05:00", "equals": "=", "string": "12", "int": 7,
    }


def test_yaml_aliases_are_expanded_into_independent_copies(yaml_loader):
    text = "base: &dense\n  type: dense\n  neurons: 4\nlayers:\n  - *dense\n  - *dense\n"
    document = read(text)
    first, second = document.tree["layers"]
    assert first == second == {"type": "dense", "neurons": 4}
    first["neurons"] = 8
    assert second["neurons"] == 4
    # an alias's values are placed where the anchor wrote them
    assert document.positions[("layers", 1)] == document.positions[("base",)]
    assert document.positions[("layers", 1, "neurons")] == (3, 12)
    assert document.key_positions[("layers", 1, "neurons")] == (3, 3)


def test_position_falls_back_to_the_nearest_known_ancestor():
    document = read('{\n  "input": {},\n  "layers": [\n    {"type": "dense"}\n  ]\n}')
    assert document.position(("layers", 0, "neurons")) == (4, 5)  # the layer's "{"
    assert document.position(("input", "features")) == (2, 3)  # the key of "input"
    assert document.position(("input", "features"), key=True) == (2, 3)
    assert document.position(["layers", 0, "type"], key=True) == (4, 6)
    assert document.position(("layers", 0, "type")) == (4, 14)
    assert document.position(("layers", 0), key=True) == (4, 5)  # list items have no key
    assert document.position(("nothing", 3, "here")) == (1, 1)
    assert document.position(()) == (1, 1)


def test_locate_adds_file_and_position(tmp_path):
    path = tmp_path / "spec.yaml"
    path.write_text("input:\n  features: 2\n  extra: 1\n", encoding="utf-8")
    document = read(path)
    unknown = document.locate(Diagnostic(("input", "extra"), "unknown-key", "unknown key"))
    assert (unknown.line, unknown.column, unknown.file) == (3, 3, str(path))
    wrong = document.locate(Diagnostic(("input", "extra"), "bad-value", "must be text"))
    assert (wrong.line, wrong.column) == (3, 10)
    missing = document.locate(Diagnostic(("input", "missing"), "missing-field", "required"))
    assert (missing.line, missing.column) == (1, 1)
    placed = Diagnostic((), "x", "already placed", line=7, column=2)
    assert (document.locate(placed).line, document.locate(placed).file) == (7, str(path))
    nowhere = read({"a": 1}).locate(Diagnostic(("a",), "x", "m"))
    assert (nowhere.line, nowhere.column, nowhere.file) == (None, None, None)


def test_line_text():
    document = read('{\r\n  "a": 1\r\n}\r\n')
    assert document.line_text(2) == '  "a": 1'
    assert [document.line_text(n) for n in (0, 4, -1)] == [None, None, None]
    assert read({"a": 1}).line_text(1) is None


def test_lines_end_where_str_splitlines_ends_them(yaml_loader):
    text = 'a: "x\\u2028"\r\nb: 1\x85c: 2\u2028d: [3,\r 4]'
    document = read(text)
    assert [document.key_positions[(key,)] for key in "abcd"] == [(1, 1), (2, 1), (3, 1), (4, 1)]
    assert document.positions[("d", 1)] == (5, 2)
    assert document.line_text(4) == "d: [3,"
    json_document = read('["\u2028", 1]')  # a raw U+2028 is allowed inside a JSON string
    assert json_document.positions[(1,)] == (2, 4)
    assert json_document.line_text(2) == '", 1]'


# --- errors -------------------------------------------------------------------

def test_file_not_found(tmp_path):
    missing = tmp_path / "missing.json"
    found = error(missing)
    assert where(found) == ("file-not-found", (), None, None)
    assert found.file == str(missing)
    assert str(missing) in found.message


def test_directory_is_unreadable(tmp_path):
    found = error(tmp_path)
    assert (found.code, found.file) == ("unreadable-file", str(tmp_path))
    assert found.message == f"cannot read {tmp_path}: it is a directory"


def test_a_fifo_is_refused_without_blocking(tmp_path):
    os.mkfifo(tmp_path / "spec.json")
    found = error(tmp_path / "spec.json")
    assert found.code == "unreadable-file"
    assert found.message == f"cannot read {tmp_path / 'spec.json'}: it is a FIFO (named pipe), not a regular file"


def test_a_device_is_refused():
    found = error(pathlib.Path("/dev/zero"))
    assert (found.code, found.message) == ("unreadable-file", "cannot read /dev/zero: it is a character device, not "
                                                              "a regular file")


def test_a_spec_that_exists_but_cannot_be_read_says_so(tmp_path, monkeypatch):
    path = tmp_path / "spec.json"
    path.write_text("{}")

    def denied(*args):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(os, "open", denied)
    found = error(path)
    assert found.code == "unreadable-file" and "it exists but you may not read it" in found.message


def test_file_size_is_checked_before_reading(tmp_path):
    path = tmp_path / "huge.json"
    with open(path, "wb") as handle:
        handle.truncate(20 * 1024**3)  # sparse: 20 GiB on paper, nothing on disk
    found = error(path)  # the size comes from the file system, not from reading it
    assert (found.code, found.file) == ("file-too-large", str(path))
    assert "21,474,836,480" in found.message and "10,485,760" in found.message


def test_text_and_bytes_sizes_are_limited():
    limits = Limits(max_file_bytes=10)
    assert read('{"a": 12}', limits=limits).tree == {"a": 12}
    assert error('{"a": 1234}', limits=limits).code == "file-too-large"
    assert error(b'{"a": 1234}', limits=limits).code == "file-too-large"
    assert "11 bytes" in error('{"é": 123}', limits=limits).message  # UTF-8 bytes, not characters


def test_not_utf8_names_the_byte(tmp_path):
    found = error(b'{"a": 1,\n "b": "caf\xe9"}')
    assert where(found) == ("not-utf8", (), 2, 11)
    assert "0xe9" in found.message and "offset 19" in found.message
    path = tmp_path / "latin1.yaml"
    path.write_bytes(b"\xef\xbb\xbfname: caf\xe9\n")
    found = error(path)
    assert (found.code, found.file, found.line, found.column) == ("not-utf8", str(path), 1, 10)
    assert "offset 12" in found.message


@pytest.mark.parametrize("data", [b"\x89PNG\r\n\x1a\n\x00\x00", b"\xff\xfe{\x00}\x00", b"\x80"])
def test_binary_is_not_utf8(data):
    assert error(data).code == "not-utf8"


def test_lone_surrogate_in_text_is_not_utf8():
    assert where(error("a: 1\nb: x\ud800")) == ("not-utf8", (), 2, 5)


@pytest.mark.parametrize("source", [
    "", "  \n\t\n", "\ufeff", b"", b"\xef\xbb\xbf", "# only a comment\n", "---\n", "--- # nothing\n...\n",
])
def test_empty_document(source, yaml_loader):
    assert error(source).code == "empty-document"


def test_empty_file(tmp_path):
    path = tmp_path / "spec.json"
    path.write_bytes(b"")
    assert (error(path).code, error(path).file) == ("empty-document", str(path))


@pytest.mark.parametrize("text, comma, bracket", [
    ('{\n  "a": 1,\n}', (2, 9), (3, 1)),
    ('[1, 2,\n]', (1, 6), (2, 1)),
])
def test_json_trailing_comma(text, comma, bracket):
    found = error(text)
    assert found.code == "json-syntax"
    assert (found.line, found.column) in (bracket, comma)  # Python 3.13 points at the comma
    assert f"remove the trailing comma before '{text[-1]}'" == found.hint


@pytest.mark.parametrize("text, line, column, hint", [
    ("{'a': 1}", 1, 2, "double quotes"),
    ('{"a": \'x\'}', 1, 7, "double quotes"),
    ('{neurons: 3}', 1, 2, 'quotes: "neurons"'),
    ('{"a": 1 // why\n}', 1, 9, "no comments"),
    ('{\n# note\n"a": 1}', 2, 1, "no comments"),
    ('{"a": True}', 1, 7, "lower case"),
    ('{"a": None}', 1, 7, "lower case"),
    ('{"a": 1 "b": 2}', 1, 9, None),
    ('{"a": [1, 2}', 1, 12, None),
    ('{"a": "unterminated', 1, 7, None),
])
def test_json_syntax(text, line, column, hint):
    found = error(text)
    assert where(found) == ("json-syntax", (), line, column)
    assert found.message.startswith("invalid JSON: ")
    assert (hint in found.hint) if hint else found.hint is None


def test_json_duplicate_keys_are_all_reported():
    text = '{\n  "a": 1,\n  "b": {"x": 1, "x": 2, "x": 3},\n  "a": 4\n}'
    found = errors(text)
    assert [where(d) for d in found] == [
        ("duplicate-key", ("b", "x"), 3, 17),
        ("duplicate-key", ("b", "x"), 3, 25),
        ("duplicate-key", ("a",), 4, 3),
    ]
    assert "'x'" in found[0].message and "line 3" in found[0].message
    assert "'a'" in found[2].message and "line 2" in found[2].message


def test_json_duplicate_keys_compare_decoded_text():
    assert where(error('{"a": 1, "\\u0061": 2}')) == ("duplicate-key", ("a",), 1, 10)


def test_yaml_duplicate_keys_are_all_reported(yaml_loader):
    text = "a: 1\nb:\n  x: 1\n  x: 2\na: 3\nc: [{k: 1, k: 2}]\n"
    found = errors(text)
    assert [where(d) for d in found] == [
        ("duplicate-key", ("b", "x"), 4, 3),
        ("duplicate-key", ("a",), 5, 1),
        ("duplicate-key", ("c", 0, "k"), 6, 12),
    ]
    assert "line 3" in found[0].message and "line 1" in found[1].message


@pytest.mark.parametrize("text, path, column, name", [
    ('{"a": NaN}', ("a",), 7, "NaN"),
    ('{"a": [1, Infinity]}', ("a", 1), 11, "Infinity"),
    ('{"a": -Infinity}', ("a",), 7, "-Infinity"),
])
def test_json_non_finite_numbers(text, path, column, name):
    found = error(text)
    assert where(found) == ("non-finite-number", path, 1, column)
    assert found.message.endswith(f"got {name}")


@pytest.mark.parametrize("text, path, column, shown", [
    ('{"a": 1e400}', ("a",), 7, "1e400"),
    ('[-1.5e999]', (0,), 2, "-1.5e999"),
    ('[' + "9" * 5000 + ']', (0,), 2, "a number of 5,000 digits"),  # past Python's int-conversion limit
    ('[' + "9" * 400 + ']', (0,), 2, "a number of 400 digits"),  # an int no float can hold
    ("a: 1.0e+400", ("a",), 4, "1.0e+400"),
    ("a: [" + "9" * 5000 + "]", ("a", 0), 5, "a number of 5,000 digits"),
])
def test_numbers_past_the_float_range_are_too_large_not_infinite(text, path, column, shown, yaml_loader):
    found = error(text)
    assert where(found) == ("non-finite-number", path, 1, column)
    assert found.message == f"{shown} is too large: numbers must lie within about ±1.8e308"


def test_large_numbers_within_the_float_range_are_read():
    assert read('[1e308, ' + "9" * 300 + ']').tree == [1e308, int("9" * 300)]


@pytest.mark.parametrize("text, path, column", [
    ("a: .nan", ("a",), 4),
    ("a: [1, .inf]", ("a", 1), 8),
    ("a: -.Inf", ("a",), 4),
    ("a: !!float .NaN", ("a",), 4),
])
def test_yaml_non_finite_numbers(text, path, column, yaml_loader):
    assert where(error(text)) == ("non-finite-number", path, 1, column)


def test_json_nesting_at_the_limit_is_fine_and_past_it_too_deep():
    assert read("[" * 64 + "]" * 64).tree is not None
    found = error('{"a":\n' + "[" * 64 + "]" * 64 + "}")
    assert where(found) == ("too-deep", ("a",) + (0,) * 63, 2, 64)
    assert "64" in found.message


def test_yaml_nesting_past_the_limit_is_too_deep(yaml_loader):
    assert read("a: " + "[" * 63 + "]" * 63).tree is not None
    assert where(error("a: " + "[" * 64 + "]" * 64)) == ("too-deep", (), 1, 67)
    block = "".join("  " * depth + f"k{depth}:\n" for depth in range(70)) + "  " * 70 + "x\n"
    assert where(error(block)) == ("too-deep", (), 65, 129)


@pytest.mark.parametrize("text", [
    "[" * 100_000, "[" * 100_000 + "]" * 100_000, '{"a":' * 100_000,
    "a: " + "[" * 100_000, "- " * 100_000 + "x", "".join(" " * n + "k:\n" for n in range(2_000)),
], ids=["json-open", "json-closed", "json-objects", "yaml-flow", "yaml-block-list", "yaml-block-map"])
def test_extreme_nesting_is_refused_without_recursion_error(text, yaml_loader):
    assert error(text).code == "too-deep"


def test_yaml_alias_cycles_are_too_deep(yaml_loader):
    found = error("a: &loop [*loop]")
    assert found.code == "too-deep"
    assert found.path == ("a",) + (0,) * 63


def test_limits_decide_the_depth():
    limits = Limits(max_depth=2)
    assert read('{"a": [1]}', limits=limits).tree == {"a": [1]}
    assert where(error('{"a": [[1]]}', limits=limits)) == ("too-deep", ("a", 0), 1, 8)
    assert error("a: [[1]]", limits=limits).code == "too-deep"


def test_strings_and_keys_longer_than_the_limit():
    limits = Limits(max_string_length=5)
    assert read('{"abcde": "12345"}', limits=limits).tree == {"abcde": "12345"}
    found = errors('{"abcdef": 1,\n "b": ["123456"]}', limits=limits)
    assert [where(d) for d in found] == [
        ("string-too-long", ("abcdef",), 1, 12),
        ("string-too-long", ("b", 0), 2, 8),
    ]
    assert found[0].message.startswith("key of 6 characters") and "limit of 5" in found[0].message
    yaml_found = errors("abcdef: 1\nb: ['123456']", limits=limits)
    assert [where(d) for d in yaml_found] == [
        ("string-too-long", ("abcdef",), 1, 9),
        ("string-too-long", ("b", 0), 2, 5),
    ]
    assert where(error({"a": "x" * 6}, limits=limits)) == ("string-too-long", ("a",), None, None)


@pytest.mark.parametrize("text, line, column", [
    ("a: b: c", 1, 5),
    ("a: *nowhere", 1, 4),
    ("a: [1, 2\nb: 3", 2, 2),
    ("a:\n  - 1\n - 2", 3, 2),
    ("é€: \x01", 1, 5),
])
def test_yaml_syntax(text, line, column, yaml_loader):
    found = error(text)
    assert (found.code, found.line, found.column) == ("yaml-syntax", line, column)
    assert found.message.startswith("invalid YAML: ")


def test_yaml_tabs_get_a_hint(yaml_loader):
    found = error("input:\n\tfeatures: 2\n")
    assert where(found) == ("yaml-syntax", (), 2, 1)
    assert "tabs" in found.hint


@pytest.mark.parametrize("text, path, tag", [
    ("a: !!python/object:os.system ls", ("a",), "!!python/object:os.system"),
    ("a: !!python/name:os.system", ("a",), "!!python/name:os.system"),
    ("a: !!binary aGVsbG8=", ("a",), "!!binary"),
    ("a: [1, !custom x]", ("a", 1), "!custom"),
    ("a: !!set {x}", ("a",), "!!set"),
    ("a: !!omap [x: 1]", ("a",), "!!omap"),
    ("a: !thing {x: 1}", ("a",), "!thing"),
])
def test_yaml_tags_other_than_the_json_ones_are_refused(text, path, tag, yaml_loader):
    found = error(text)
    assert (found.code, found.path, found.line) == ("yaml-tag", path, 1)
    assert tag in found.message


@pytest.mark.parametrize("text", ["a: !!int abc", "a: !!float x", "a: !!bool maybe", "a: !!int ''"])
def test_yaml_explicit_tags_must_fit_their_value(text, yaml_loader):
    found = error(text)
    assert where(found) == ("yaml-tag", ("a",), 1, 4)
    assert found.message.startswith("cannot read")


def test_yaml_merge_keys_are_refused(yaml_loader):
    text = "base: &b {type: dense}\nlayers:\n  - <<: *b\n    neurons: 3\n"
    found = error(text)
    assert where(found) == ("yaml-merge-key", ("layers", 0), 3, 5)
    assert read("'<<': 1").tree == {"<<": 1}  # a quoted "<<" is an ordinary key


@pytest.mark.parametrize("text, line, column, shown", [
    ("1: x", 1, 1, "'1' (read as !!int)"),
    ("a:\n  true: y", 2, 3, "'true' (read as !!bool)"),
    ("null: z", 1, 1, "!!null"),
    ("~: z", 1, 1, "!!null"),
    ("1.5: z", 1, 1, "!!float"),
    ("? [1, 2]\n: z", 1, 3, "a list"),
    ("a: {? {b: 1} : z}", 1, 7, "a mapping"),
])
def test_yaml_keys_must_be_strings(text, line, column, shown, yaml_loader):
    found = error(text)
    assert (found.code, found.line, found.column) == ("non-string-key", line, column)
    assert shown in found.message


def test_yaml_multiple_documents(yaml_loader):
    assert where(error("a: 1\n---\nb: 2\n")) == ("multiple-documents", (), 2, 1)
    assert where(error("--- 1\n--- 2\n")) == ("multiple-documents", (), 2, 1)
    assert read("---\na: 1\n...\n").tree == {"a": 1}


def test_yaml_billion_laughs_is_too_large():
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{n}: &a{n} [" + ", ".join([f"*a{n - 1}"] * 10) + "]" for n in range(1, 9)]
    found = error("\n".join(lines))
    assert found.code == "too-large" and found.line is not None
    assert "1,000,000" in found.message


def test_json_with_too_many_values_is_too_large(monkeypatch):
    monkeypatch.setattr(read_module, "_MAX_VALUES", 5)
    assert read("[1, 2, 3, 4]").tree == [1, 2, 3, 4]
    assert where(error("[1, 2, 3, 4, 5]")) == ("too-large", (), 1, 14)


def test_read_errors_print_with_file_line_and_column(tmp_path):
    path = tmp_path / "spec.json"
    path.write_text('{"a": 1, "a": 2}', encoding="utf-8")
    with pytest.raises(SpecError) as info:
        read(path)
    assert f"{path}:1:10: a: duplicate key 'a'" in str(info.value)


# --- properties ---------------------------------------------------------------

LIMITS = st.sampled_from([DEFAULT_LIMITS, Limits(max_depth=3, max_string_length=5, max_file_bytes=200)])
SPEC_TOKENS = st.sampled_from(list("{}[]\"':,-#&*!|>?~.\\ \t\n\r") + ["\x00", "é", "a", "1", "e", "<<", "---", "!!int"])


@settings(deadline=None)
@given(text=st.text() | st.lists(SPEC_TOKENS).map("".join), limits=LIMITS)
def test_any_text_gives_a_document_or_a_spec_error(text, limits):
    try:
        read(text, limits=limits)
    except SpecError:
        pass


@settings(deadline=None)
@given(data=st.binary(), limits=LIMITS)
def test_any_bytes_give_a_document_or_a_spec_error(data, limits):
    try:
        read(data, limits=limits)
    except SpecError:
        pass


SCALARS = (st.none() | st.booleans() | st.integers()
           | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=20))
TREES = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=25,
)
ROOTS = st.lists(TREES, max_size=4) | st.dictionaries(st.text(max_size=10), TREES, max_size=4)


@settings(deadline=None)
@given(tree=ROOTS, ascii_only=st.booleans())
def test_json_round_trip_and_every_position_points_at_its_text(tree, ascii_only):
    text = json.dumps(tree, indent=2, ensure_ascii=ascii_only)
    document = read(text)
    assert document.tree == tree
    for path, value, is_member in walk(tree):
        start = offset(text, document.positions[path])
        if is_member:
            key_start = offset(text, document.key_positions[path])
            assert text.startswith(json.dumps(path[-1], ensure_ascii=ascii_only), key_start)
        if isinstance(value, (dict, list)):
            assert text[start] == ("{" if isinstance(value, dict) else "[")
        else:
            assert text.startswith(json.dumps(value, ensure_ascii=ascii_only), start)


@settings(deadline=None)
@given(tree=ROOTS, unicode=st.booleans())
def test_yaml_round_trip_and_every_path_has_a_position(tree, unicode):
    text = yaml.safe_dump(tree, allow_unicode=unicode, sort_keys=False)
    expected = yaml.safe_load(text)  # == tree, but for PyYAML's own slips (a key "\x85" comes back " ")
    for loader in LOADERS:
        with mock.patch.object(read_module, "_YAML_LOADER", loader):
            document = read(text)
        assert document.tree == expected
        for path, value, is_member in walk(expected):
            start = offset(text, document.positions[path])
            if is_member:
                key = path[-1]
                assert text[offset(text, document.key_positions[path])] in {key[:1], "'", '"'} - {""}
            if isinstance(value, str):
                assert text[start] in {value[:1], "'", '"'} - {""}
            elif isinstance(value, (dict, list)) and not value:
                assert text[start] == ("{" if isinstance(value, dict) else "[")
            elif isinstance(value, dict):  # a block mapping starts at its first key, or its "?"
                first_key = document.key_positions[path + (next(iter(value)),)]
                assert document.positions[path] == first_key or text[start] == "?"
            elif isinstance(value, list):
                assert text[start] == "-"
            else:
                assert text.startswith(yaml.safe_dump(value).splitlines()[0], start)


@settings(deadline=None)
@given(tree=st.dictionaries(st.text(max_size=10), TREES, max_size=4))
def test_dict_round_trip(tree):
    document = read(tree)
    assert document.tree == tree and document.positions == {}


ODD_VALUES = (st.floats() | st.text(max_size=8) | st.integers() | st.tuples(st.integers())
              | st.sampled_from([np.float64(1.0), {1, 2}, b"x", MappingProxyType({"k": 1})]))
ODD_TREES = st.recursive(
    ODD_VALUES,
    lambda inner: (st.lists(inner, max_size=3)
                   | st.dictionaries(st.text(max_size=8) | st.integers(0, 3) | st.none(), inner, max_size=3)),
    max_leaves=15,
)


@settings(deadline=None)
@given(tree=st.dictionaries(st.text(max_size=8), ODD_TREES, max_size=3), limits=LIMITS)
def test_dict_sources_read_the_same_with_and_without_the_fast_path(tree, limits):
    """The fast path for plain dicts takes what the full walk takes, copies it the same, and leaves the rest to it."""

    def outcome():
        try:
            document = read(tree, limits=limits)
        except SpecError as exc:
            return exc.diagnostics
        assert document.tree is not tree
        return document

    fast = outcome()
    with mock.patch.object(read_module, "_plain_copy", side_effect=read_module._NotPlain):
        assert outcome() == fast


def test_a_string_naming_a_device_is_read_as_a_path_and_refused():
    assert error("/dev/null").code == "unreadable-file"
