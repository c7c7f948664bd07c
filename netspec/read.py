"""Stage 1 of the flow, *read*: a spec file, text, bytes or dict becomes a plain
JSON-like tree plus a source map from each path to its line and column
(:class:`Document`). Nothing after this stage knows about files. Every problem
is raised as one :class:`~netspec.errors.SpecError`, with these codes:
``unsupported-source``, ``file-not-found``, ``unreadable-file``,
``file-too-large``, ``not-utf8``, ``empty-document``, ``json-syntax``,
``yaml-syntax``, ``yaml-tag``, ``yaml-merge-key``, ``multiple-documents``,
``duplicate-key``, ``non-string-key``, ``non-finite-number``,
``not-json-value``, ``string-too-long``, ``too-deep`` and ``too-large``.
Lines and columns are 1-based and count characters; lines end where
:meth:`str.splitlines` ends them (as YAML does).
"""

from __future__ import annotations

import codecs
import json
import math
import operator
import os
import re
import sys
from bisect import bisect_right
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Callable

import yaml

from netspec.errors import Diagnostic, Path, PathPart, SpecError
from netspec.files import InputError, open_input
from netspec.limits import DEFAULT_LIMITS, Limits

Position = tuple[int, int]

_MAX_VALUES = 1_000_000  # values in one document, aliases expanded ("billion laughs")
_KEY_CODES = frozenset({"unknown-key", "duplicate-key"})
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@dataclass(frozen=True)
class Document:
    """A spec as read: the plain tree and, when it came from text, where each part starts.

    ``tree`` holds only dict (str keys), list, str, int, float, bool and None.
    ``positions`` maps a path such as ``("layers", 2, "neurons")`` to the 1-based
    (line, column) where that value starts; ``key_positions`` maps the path of
    an object member to where its key starts. Both are empty for a dict source.
    """

    tree: Any
    file: str | None = None
    text: str | None = None
    positions: Mapping[Path, Position] = field(default_factory=dict)
    key_positions: Mapping[Path, Position] = field(default_factory=dict)

    def position(self, path: Sequence[PathPart], *, key: bool = False) -> Position | None:
        """Where ``path`` starts: its key's position when ``key`` is true and it has
        one, else its value's. A path not in the map (a missing field) falls back
        to its nearest known ancestor, preferring the ancestor's key. ``None``
        when nothing is known (a dict source)."""
        path = tuple(path)
        found = (key and self.key_positions.get(path)) or self.positions.get(path)
        if found or not path:
            return found
        return self.position(path[:-1], key=True)

    def locate(self, diagnostic: Diagnostic) -> Diagnostic:
        """``diagnostic`` with this document's file and the position of its path
        (the key's position for ``unknown-key`` and ``duplicate-key``). A
        diagnostic that already has a line keeps it."""
        if diagnostic.line is not None:
            return diagnostic.located(diagnostic.line, diagnostic.column, self.file)
        line, column = self.position(diagnostic.path, key=diagnostic.code in _KEY_CODES) or (None, None)
        return diagnostic.located(line, column, self.file)

    def line_text(self, line: int) -> str | None:
        """The text of source line ``line`` (1-based) without its line break, or
        ``None`` when the spec did not come from text or has no such line."""
        lines = self.text.splitlines() if self.text is not None else []
        return lines[line - 1] if 1 <= line <= len(lines) else None


def read(source: Any, *, limits: Limits = DEFAULT_LIMITS) -> Document:
    """Read a spec into a :class:`Document`, or raise one :class:`SpecError` listing every problem.

    ``source`` is a ``pathlib.Path`` or other ``os.PathLike``; a ``str`` naming a
    file (no newline and ending in ``.json``/``.yaml``/``.yml``, or an existing
    file); a ``str`` of JSON or YAML text; UTF-8 ``bytes``; or a dict (any
    ``Mapping``), which is checked and deep-copied. ``.json`` files are JSON,
    ``.yaml``/``.yml`` files YAML; anything else is JSON when its first
    non-blank character is ``{`` or ``[``, else YAML. Text larger than
    ``limits.max_file_bytes``, nesting deeper than ``limits.max_depth`` and
    strings longer than ``limits.max_string_length`` are refused. The root may
    be any JSON value.
    """
    try:
        return _read_source(source, limits)
    except RecursionError:
        raise SpecError([_too_deep((), limits)]) from None


def _read_source(source: Any, limits: Limits) -> Document:
    if type(source) is dict:  # the common case first: isinstance against the Mapping ABC is slow
        try:
            return Document(_plain_copy(source, 0, limits))
        except _NotPlain:
            pass  # not plain: the Mapping case below finds and describes every problem
    if isinstance(source, os.PathLike):
        return _read_file(source, limits)
    if isinstance(source, str):
        return _read_file(source, limits) if _names_a_file(source) else _read_str(source, limits)
    if isinstance(source, (bytes, bytearray)):
        _check_size(len(source), limits)
        return _read_text(_decode(bytes(source)), None, limits)
    if isinstance(source, Mapping):
        return _checked(Document(source), [], limits)
    raise _fail(
        "unsupported-source",
        f"cannot read a spec from {_type_name(source)}",
        hint="pass a file path, JSON or YAML text, bytes, or a dict",
    )


def _names_a_file(text: str) -> bool:
    """A str is a path when it has no newline and ends like a spec file, or
    names something that exists (a FIFO or a device too, to be refused as such)."""
    return "\n" not in text and (text.lower().endswith((".json", ".yaml", ".yml")) or os.path.exists(text))


def _read_file(path: str | os.PathLike, limits: Limits) -> Document:
    name = os.fsdecode(path)
    reader = _READERS.get(os.path.splitext(name)[1].lower())
    try:
        document = _read_text(_decode(_read_bytes(path, name, limits)), reader, limits)
    except SpecError as exc:
        raise SpecError([d.located(d.line, d.column, name) for d in exc.diagnostics]) from None
    return replace(document, file=name)


def _read_bytes(path: str | os.PathLike, name: str, limits: Limits) -> bytes:
    """The file's bytes; its size is checked before reading and the read is
    bounded. A FIFO or device is refused before any read (it could block forever)."""
    try:
        with open_input(path, "spec") as handle:
            _check_size(os.fstat(handle.fileno()).st_size, limits)
            data = handle.read(limits.max_file_bytes + 1)
    except InputError as exc:
        if exc.reason == "missing":
            raise _fail("file-not-found", f"no such file: {name}", hint=f"paths are relative to {os.getcwd()}") \
                from None
        raise _fail("unreadable-file", str(exc).replace("the spec ", "", 1)) from None
    except OSError as exc:
        raise _fail("unreadable-file", f"cannot read {name}: {exc.strerror or exc}") from None
    _check_size(len(data), limits)
    return data


def _read_str(text: str, limits: Limits) -> Document:
    try:
        size = len(text) if len(text) > limits.max_file_bytes else len(text.encode("utf-8"))
    except UnicodeEncodeError as exc:
        raise _fail(
            "not-utf8",
            f"the text holds U+{ord(text[exc.start]):04X}, a lone surrogate that is not valid Unicode",
            hint="decode the text strictly as UTF-8 (lone surrogates come from errors='surrogateescape')",
            at=_Lines(text).at(exc.start),
        ) from None
    _check_size(size, limits)
    return _read_text(text, None, limits)


def _check_size(size: int, limits: Limits) -> None:
    if size > limits.max_file_bytes:
        raise _fail(
            "file-too-large",
            f"the spec is {size:,} bytes, over the limit of {limits.max_file_bytes:,} bytes",
            hint="raise it with Limits(max_file_bytes=...) if the spec is meant to be this big",
        )


def _decode(data: bytes) -> str:
    """UTF-8 text, strictly decoded, without a leading byte order mark."""
    bom = len(codecs.BOM_UTF8) if data.startswith(codecs.BOM_UTF8) else 0
    try:
        return data[bom:].decode("utf-8")
    except UnicodeDecodeError as exc:
        offset = bom + exc.start
        valid = data[bom:offset].decode("utf-8")
        raise _fail(
            "not-utf8",
            f"the spec is not UTF-8 text: byte 0x{data[offset]:02x} at offset {offset} cannot be decoded",
            hint="save the spec as UTF-8; binary files are not specs",
            at=_Lines(valid).at(len(valid)),
        ) from None


def _read_text(text: str, reader: Callable[[str, Limits], Document] | None, limits: Limits) -> Document:
    text = text.removeprefix("\ufeff")
    if not text.strip():
        raise _fail("empty-document", "the spec is empty", hint="write a JSON object or a YAML mapping")
    if reader is None:
        reader = _read_json if text.lstrip(" \t\r\n")[:1] in ("{", "[") else _read_yaml
    return reader(text, limits)


def _checked(document: Document, problems: list[Diagnostic], limits: Limits) -> Document:
    """``document`` with a plain copy of its tree, or a SpecError with every problem, located.

    Most trees are plain already: :func:`_plain_copy` copies those quickly, and
    gives up at the first thing that needs a closer look, for :func:`_plain`
    to start over and describe every problem."""
    try:
        tree = _plain_copy(document.tree, 0, limits)
    except _NotPlain:
        tree = _plain(document.tree, (), 0, limits, problems)
    if problems:
        raise SpecError([document.locate(problem) for problem in problems])
    return Document(tree, document.file, document.text, document.positions, document.key_positions)


def _plain(value: Any, path: Path, depth: int, limits: Limits, problems: list[Diagnostic]) -> Any:
    """A plain copy of the JSON-like ``value`` (tuples become lists, mappings dicts);
    each problem found is appended to ``problems``. ``depth`` counts enclosing containers.
    Exact built-in types are tested first: ``isinstance`` against the ``Mapping``
    ABC costs far more, and is left for other mappings and for what is not JSON."""
    kind = type(value)
    if kind is _TooLarge:
        problems.append(_too_large_number(value, path))
        return None
    if kind in _JSON_SCALARS:
        if (kind is str and len(value) > limits.max_string_length) or (kind is float and not math.isfinite(value)):
            problems.append(_scalar_problem(value, path, limits))
        return value
    is_mapping = kind is dict or (kind is not list and isinstance(value, Mapping))
    if not (is_mapping or isinstance(value, (list, tuple))):
        problems.append(_problem(
            path, "not-json-value",
            f"expected a JSON value (object, list, string, number, true/false or null), got {_type_name(value)}",
            hint="convert it to a plain dict, list, str, int, float, bool or None (NumPy: .item() or .tolist())",
        ))
        return None
    if depth >= limits.max_depth:
        problems.append(_too_deep(path, limits))
        return None
    if is_mapping:
        return _plain_object(value, path, depth + 1, limits, problems)
    return [_plain(item, path + (index,), depth + 1, limits, problems) for index, item in enumerate(value)]


_JSON_SCALARS = frozenset({str, int, float, bool, type(None)})


class _NotPlain(Exception):
    """Raised by :func:`_plain_copy` at the first value it leaves to :func:`_plain`."""


def _plain_copy(value: Any, depth: int, limits: Limits) -> dict | list:
    """A copy of ``value``, a dict or list within the limits holding only dicts
    (with str keys), lists, str, int, finite float, bool and None, all of
    exactly these types; anything else (another root, a tuple, another
    mapping, a subclass, a problem) raises :class:`_NotPlain`. It is the common
    case made fast: exact type tests only, no paths built, and each container
    copied in C before its nested containers are replaced by their copies."""
    kind = type(value)
    if (kind is not dict and kind is not list) or depth >= limits.max_depth:
        raise _NotPlain
    longest = limits.max_string_length
    copy = value.copy()
    # The same test of each item twice, for a dict's values and a list's items:
    # one loop per kind, most frequent types first, saves a fifth of the time.
    if kind is dict:
        for key, item in value.items():
            if type(key) is not str or len(key) > longest:
                raise _NotPlain
            kind = type(item)
            if kind is str:
                if len(item) > longest:
                    raise _NotPlain
            elif kind is dict or kind is list:
                copy[key] = _plain_copy(item, depth + 1, limits)
            elif kind is float:
                if not math.isfinite(item):
                    raise _NotPlain
            elif not (kind is int or kind is bool or item is None):
                raise _NotPlain
    else:
        for index, item in enumerate(value):
            kind = type(item)
            if kind is str:
                if len(item) > longest:
                    raise _NotPlain
            elif kind is dict or kind is list:
                copy[index] = _plain_copy(item, depth + 1, limits)
            elif kind is float:
                if not math.isfinite(item):
                    raise _NotPlain
            elif not (kind is int or kind is bool or item is None):
                raise _NotPlain
    return copy


def _plain_object(value: Mapping, path: Path, depth: int, limits: Limits, problems: list[Diagnostic]) -> dict:
    tree = {}
    for key, item in value.items():
        if type(key) is not str:
            problems.append(_problem(
                path, "non-string-key", f"keys must be strings, got {key!r} ({_type_name(key)})",
                hint="write the key as a string"))
            continue
        if len(key) > limits.max_string_length:
            problems.append(_too_long(path + (key,), "key", len(key), limits))
        tree[key] = _plain(item, path + (key,), depth, limits, problems)
    return tree


def _scalar_problem(value: Any, path: Path, limits: Limits) -> Diagnostic | None:
    if isinstance(value, str) and len(value) > limits.max_string_length:
        return _too_long(path, "string", len(value), limits)
    if isinstance(value, float) and not math.isfinite(value):
        name = "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
        return _problem(
            path, "non-finite-number", f"expected a finite number, got {name}",
            hint="NaN and Infinity are not JSON, and numbers must lie within about ±1.8e308")
    return None


# --- JSON -------------------------------------------------------------------

_JSON_SPACE = re.compile(r"[ \t\n\r]*")
_JSON_ATOM = re.compile(r"-?(?:Infinity|\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)|NaN|true|false|null")
_WORD = re.compile(r"\w*")
_TRAILING_COMMA = re.compile(r",[ \t\n\r]*[\]}]")
_JSON_HINTS = {
    "'": 'JSON strings and keys use double quotes: "relu", not \'relu\'',
    "/": "JSON has no comments; remove them, or write the spec in YAML",
    "#": "JSON has no comments; remove them, or write the spec in YAML",
    "True": "JSON writes true, false and null in lower case",
    "False": "JSON writes true, false and null in lower case",
    "None": "JSON writes true, false and null in lower case",
}


def _read_json(text: str, limits: Limits) -> Document:
    lines = _Lines(text)
    try:
        tree = json.loads(text, parse_int=_json_int, parse_float=_json_float)
    except json.JSONDecodeError as exc:
        raise _fail(
            "json-syntax", f"invalid JSON: {exc.msg[:1].lower()}{exc.msg[1:]}",
            hint=_json_hint(text, exc), at=_on_a_line(text, lines.at(exc.pos)),
        ) from None
    positions, key_positions, problems = _scan_json(text, lines)
    return _checked(Document(tree, text=text, positions=positions, key_positions=key_positions), problems, limits)


class _TooLarge(float):
    """A number whose magnitude is past the float range, as written (``1e400``,
    or thousands of digits): infinite as a float, refused as too large."""

    def __new__(cls, text: str) -> "_TooLarge":
        self = super().__new__(cls, "-inf" if text.lstrip().startswith("-") else "inf")
        self.text = text
        return self

    def describe(self) -> str:
        digits = sum(c.isdigit() for c in self.text)
        return self.text if len(self.text) <= 24 else f"a number of {digits:,} digits"


def _json_int(digits: str) -> int | float:
    """An int, or a :class:`_TooLarge` past the float range (no float, and so
    no option of a spec, could hold it)."""
    return _TooLarge(digits) if _past_float_range(digits) else int(digits)


def _past_float_range(digits: str) -> bool:
    """True for an integer written with more digits than the largest float
    has (309), and larger than it."""
    if sum(c.isdigit() for c in digits) < 309:
        return False
    try:
        return abs(int(digits)) > sys.float_info.max
    except ValueError:  # past Python's int-conversion limit
        return True


def _json_float(text: str) -> float:
    value = float(text)
    return value if math.isfinite(value) else _TooLarge(text)


def _json_hint(text: str, error: json.JSONDecodeError) -> str | None:
    """A fix for common mistakes. The error is at a trailing comma's closing
    bracket (or, from Python 3.13, at the comma itself)."""
    comma = text.rfind(",", 0, error.pos + 1)
    trailing = _TRAILING_COMMA.match(text, comma) if comma >= 0 else None
    if trailing and trailing.end() > error.pos:
        return f"remove the trailing comma before '{trailing.group()[-1]}'"
    if not text[error.pos:].strip():
        return "the text ends before every '{' and '[' is closed"
    found = text[error.pos:error.pos + 1]
    word = _WORD.match(text, error.pos).group()
    if error.msg.startswith("Expecting property name") and word:
        return f'put keys in double quotes: "{word}"'
    return _JSON_HINTS.get(word or found)


@dataclass
class _Open:
    """A container the JSON scan is inside: its path, and the keys seen so far
    with their lines (an object) or the number of items so far (a list)."""

    path: Path
    keys: dict[str, int] | None
    items: int = 0


def _scan_json(text: str, lines: _Lines) -> tuple[dict, dict, list[Diagnostic]]:
    """Where each value and each key of valid JSON ``text`` starts, by path, and
    every duplicate key. json.loads has accepted ``text`` already, so this only
    follows its structure; it is iterative, so any depth is safe."""
    values: dict[Path, Position] = {}
    keys: dict[Path, Position] = {}
    duplicates: list[Diagnostic] = []
    stack: list[_Open] = []
    path, i = (), _JSON_SPACE.match(text).end()
    while True:
        values[path] = lines.at(i)
        if len(values) > _MAX_VALUES:
            raise _too_large(values[path])
        if text[i] in "{[":
            stack.append(_Open(path, {} if text[i] == "{" else None))
            i = _JSON_SPACE.match(text, i + 1).end()
        else:
            i = _JSON_SPACE.match(text, _json_scalar_end(text, i)).end()
        while stack and text[i] in "]}":
            stack.pop()
            i = _JSON_SPACE.match(text, i + 1).end()
        if not stack:
            return values, keys, duplicates
        if text[i] == ",":
            i = _JSON_SPACE.match(text, i + 1).end()
        inside = stack[-1]
        if inside.keys is None:
            path = inside.path + (inside.items,)
            inside.items += 1
            continue
        key, end = json.decoder.scanstring(text, i + 1)
        path = inside.path + (key,)
        keys[path] = lines.at(i)
        if key in inside.keys:
            duplicates.append(_duplicate(path, inside.keys[key], keys[path]))
        inside.keys.setdefault(key, keys[path][0])
        colon = _JSON_SPACE.match(text, end).end()
        i = _JSON_SPACE.match(text, colon + 1).end()


def _json_scalar_end(text: str, start: int) -> int:
    if text[start] == '"':
        return json.decoder.scanstring(text, start + 1)[1]
    return _JSON_ATOM.match(text, start).end()


# --- YAML -------------------------------------------------------------------

_YAML_TAG = "tag:yaml.org,2002:"
_MERGE_TAG = _YAML_TAG + "merge"
_INDENT = re.compile(r"[ \t]*")
_COLLECTION_TAGS = {yaml.MappingNode: _YAML_TAG + "map", yaml.SequenceNode: _YAML_TAG + "seq"}
_STRING_TAGS = frozenset({_YAML_TAG + "str", _YAML_TAG + "timestamp", _YAML_TAG + "value"})
_SAFE = yaml.constructor.SafeConstructor()
_SCALARS: dict[str, Callable[[yaml.ScalarNode], Any]] = {
    **{tag: operator.attrgetter("value") for tag in _STRING_TAGS},  # dates and a lone "=" stay text
    _YAML_TAG + "int": lambda node: _yaml_number(_SAFE.construct_yaml_int, node),
    _YAML_TAG + "float": lambda node: _yaml_number(_SAFE.construct_yaml_float, node),
    _YAML_TAG + "bool": _SAFE.construct_yaml_bool,
    _YAML_TAG + "null": _SAFE.construct_yaml_null,
}


def _yaml_number(construct: Callable[[yaml.ScalarNode], Any], node: yaml.ScalarNode) -> Any:
    """The scalar's number, or a :class:`_TooLarge` for one past the float
    range (``.inf`` stays infinite, to be refused as such)."""
    if re.fullmatch(r"[-+]?[0-9_]+", node.value) and _past_float_range(node.value):
        return _TooLarge(node.value)
    value = construct(node)
    if isinstance(value, float) and math.isinf(value) and "inf" not in node.value.lower():
        return _TooLarge(node.value)
    return value


def _read_yaml(text: str, limits: Limits) -> Document:
    try:
        _check_yaml_outline(text, limits)
        root = yaml.compose(text, Loader=_YAML_LOADER)
    except yaml.YAMLError as exc:
        raise _yaml_syntax(exc, text, limits) from None
    if isinstance(root, yaml.ScalarNode) and root.tag == _YAML_TAG + "null" and root.value == "":
        raise _fail("empty-document", "the spec is empty", hint="write a JSON object or a YAML mapping")
    past_limit = _value_past_limit(root, limits.max_depth)
    if past_limit is not None:
        raise _too_large(_mark(past_limit.start_mark))
    converter = _YamlTree(limits)
    tree = converter.value(root, (), 0)
    document = Document(tree, text=text, positions=converter.positions, key_positions=converter.key_positions)
    return _checked(document, converter.problems, limits)


def _check_yaml_outline(text: str, limits: Limits) -> None:
    """Refuse nesting deeper than ``limits.max_depth``, more than
    ``_MAX_VALUES`` values (before aliases are expanded) and anything but one
    document, from the parse events alone: parsing is iterative and stops here
    at the first problem, while composing nodes recurses (in C, for libyaml,
    where deep nesting would crash the interpreter, so never deeper than
    Python's own recursion limit either) and costs far more per value."""
    max_depth = min(limits.max_depth, sys.getrecursionlimit())
    documents = values = 0
    entries: list[int] = []  # per open collection: keys and values so far in a mapping, -1 in a list
    for event in yaml.parse(text, Loader=_YAML_LOADER):
        if isinstance(event, yaml.NodeEvent):
            is_key = bool(entries) and entries[-1] >= 0 and entries[-1] % 2 == 0
            if entries and entries[-1] >= 0:
                entries[-1] += 1
            values += not is_key
            if values > _MAX_VALUES:
                raise _too_large(_mark(event.start_mark))
        if isinstance(event, yaml.CollectionStartEvent):
            entries.append(0 if isinstance(event, yaml.MappingStartEvent) else -1)
            if len(entries) > max_depth:
                raise SpecError([_too_deep((), limits).located(*_mark(event.start_mark))])
        elif isinstance(event, yaml.CollectionEndEvent):
            entries.pop()
        elif isinstance(event, yaml.DocumentStartEvent):
            documents += 1
            if documents > 1:
                raise _fail(
                    "multiple-documents", "the YAML holds more than one document (a second '---')",
                    hint="a spec is one document; remove the extra '---' and what follows, or split the file",
                    at=_mark(event.start_mark))
    if not documents:
        raise _fail("empty-document", "the spec is empty", hint="write a JSON object or a YAML mapping")


def _yaml_syntax(error: yaml.YAMLError, text: str, limits: Limits) -> SpecError:
    mark = getattr(error, "problem_mark", None) or getattr(error, "context_mark", None)
    simple_key = getattr(error, "context", None) == "while scanning a simple key"
    if simple_key:  # a key without ':' -- point at the key
        mark = error.context_mark
    at = _on_a_line(text, _mark(mark)) if mark is not None else None
    if isinstance(error, yaml.reader.ReaderError):  # a character YAML refuses; libyaml counts bytes, so find it
        at = _Lines(text).at(max(text.find(chr(error.character)), 0))
    problem = getattr(error, "problem", None) or getattr(error, "reason", None) or str(error)
    if "maximum nesting depth" in problem:  # libyaml's own limit (PyYAML >= 6.0.4) can come before ours
        return SpecError([_too_deep((), limits).located(*at) if at else _too_deep((), limits)])
    context = getattr(error, "context", None)
    message = f"invalid YAML: {problem}" + (f" ({context})" if context else "")
    line = Document(None, text=text).line_text(at[0]) if at else None
    hint = "YAML indents with spaces, not tabs" if line and "\t" in _INDENT.match(line).group() else None
    if simple_key and hint is None:
        hint = 'write a colon and a space after each key: "loss: mse"'
    return _fail("yaml-syntax", message, hint=hint, at=at)


class _YamlTree:
    """Turns composed YAML nodes into plain values, recording where each value
    and key starts and the YAML-specific problems (tags, keys, duplicates).
    Aliases are expanded (:func:`_value_past_limit` has guarded against
    "billion laughs" before)."""

    def __init__(self, limits: Limits):
        self.limits = limits
        self.positions: dict[Path, Position] = {}
        self.key_positions: dict[Path, Position] = {}
        self.problems: list[Diagnostic] = []

    def value(self, node: yaml.Node, path: Path, depth: int) -> Any:
        self.positions[path] = _mark(node.start_mark)
        if isinstance(node, yaml.ScalarNode):
            return self.scalar(node, path)
        if node.tag != _COLLECTION_TAGS[type(node)]:
            self.problems.append(self.tag_problem(path, f"the YAML tag {_short_tag(node.tag)} is not allowed"))
            return None
        if depth >= self.limits.max_depth:  # reachable through aliases only
            self.problems.append(_too_deep(path, self.limits))
            return None
        if isinstance(node, yaml.SequenceNode):
            return [self.value(item, path + (index,), depth + 1) for index, item in enumerate(node.value)]
        return self.mapping(node, path, depth + 1)

    def mapping(self, node: yaml.MappingNode, path: Path, depth: int) -> dict[str, Any]:
        tree: dict[str, Any] = {}
        first_lines: dict[str, int] = {}
        for key_node, value_node in node.value:
            key = self.key(key_node, path)
            if key is None:
                continue
            member = path + (key,)
            self.key_positions[member] = _mark(key_node.start_mark)
            if key in first_lines:
                self.problems.append(_duplicate(member, first_lines[key], self.key_positions[member]))
            first_lines.setdefault(key, self.key_positions[member][0])
            tree[key] = self.value(value_node, member, depth)
        return tree

    def key(self, node: yaml.Node, path: Path) -> str | None:
        if isinstance(node, yaml.ScalarNode) and node.tag in _STRING_TAGS:
            return node.value
        if node.tag == _MERGE_TAG:
            problem = _problem(
                path, "yaml-merge-key", "YAML merge keys (<<) are not supported",
                hint="write the keys out, or reuse a whole mapping with an alias (*name)")
        else:
            problem = _problem(
                path, "non-string-key", f"keys must be strings, got {_describe_node(node)}",
                hint="quote the key: '1': ... or 'true': ...")
        self.problems.append(problem.located(*_mark(node.start_mark)))
        return None

    def scalar(self, node: yaml.ScalarNode, path: Path) -> Any:
        construct = _SCALARS.get(node.tag)
        if construct is None:
            self.problems.append(self.tag_problem(path, f"the YAML tag {_short_tag(node.tag)} is not allowed"))
            return None
        try:
            return construct(node)
        except (ValueError, LookupError):
            self.problems.append(self.tag_problem(path, f"cannot read {node.value[:40]!r} as {_short_tag(node.tag)}"))
            return None

    def tag_problem(self, path: Path, message: str) -> Diagnostic:
        return _problem(path, "yaml-tag", message, hint="a spec holds only mappings, lists, strings, numbers, booleans and null")


def _value_past_limit(root: yaml.Node, max_depth: int) -> yaml.Node | None:
    """The value that takes the document past ``_MAX_VALUES`` values once its
    aliases are expanded (a "billion laughs"), or None. Each node's size is
    computed once per depth, so this costs as many steps as the YAML has nodes
    (times at most ``max_depth``), not as many as it expands to."""
    sizes: dict[tuple[int, int], int] = {}

    def size(node: yaml.Node, depth: int) -> int:
        if (id(node), depth) not in sizes:
            sizes[id(node), depth] = 1 + sum(size(child, depth + 1) for child in _yaml_values(node, depth, max_depth))
        return sizes[id(node), depth]

    if size(root, 0) <= _MAX_VALUES:
        return None
    node, depth, index = root, 0, _MAX_VALUES  # index: of the value past the limit, 0-based, in document order
    while index:
        index -= 1
        for child in _yaml_values(node, depth, max_depth):
            if index < sizes[id(child), depth + 1]:
                break
            index -= sizes[id(child), depth + 1]
        node, depth = child, depth + 1
    return node


def _yaml_values(node: yaml.Node, depth: int, max_depth: int) -> list[yaml.Node]:
    """The value nodes directly inside ``node`` that :class:`_YamlTree` converts at ``depth``."""
    if isinstance(node, yaml.ScalarNode) or node.tag != _COLLECTION_TAGS[type(node)] or depth >= max_depth:
        return []
    return node.value if isinstance(node, yaml.SequenceNode) else [value for _, value in node.value]


def _mark(mark: yaml.Mark) -> Position:
    return mark.line + 1, mark.column + 1


def _short_tag(tag: str) -> str:
    return "!!" + tag.removeprefix(_YAML_TAG) if tag.startswith(_YAML_TAG) else tag


def _describe_node(node: yaml.Node) -> str:
    if isinstance(node, yaml.ScalarNode):
        return f"{node.value!r} (read as {_short_tag(node.tag)})"
    return "a mapping" if isinstance(node, yaml.MappingNode) else "a list"


# --- shared -----------------------------------------------------------------

_READERS: dict[str, Callable[[str, Limits], Document]] = {
    ".json": _read_json, ".yaml": _read_yaml, ".yml": _read_yaml,
}
_LINE_END = re.compile(r"\r\n|[\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029]")  # as str.splitlines


class _Lines:
    """Turns a character offset into ``text`` into a 1-based (line, column)."""

    def __init__(self, text: str):
        self.starts = [0] + [match.end() for match in _LINE_END.finditer(text)]

    def at(self, offset: int) -> Position:
        line = bisect_right(self.starts, offset)
        return line, offset - self.starts[line - 1] + 1


def _on_a_line(text: str, at: Position) -> Position:
    """``at``, or the end of the last line when a parser places an error past
    it (at the end of the text after a final line break, or beyond)."""
    lines = text.splitlines()
    return (len(lines), len(lines[-1]) + 1) if lines and at[0] > len(lines) else at


def _problem(path: Sequence[PathPart], code: str, message: str, hint: str | None = None,
             at: Position | None = None) -> Diagnostic:
    line, column = at or (None, None)
    return Diagnostic(tuple(path), code, message, hint, line=line, column=column)


def _fail(code: str, message: str, hint: str | None = None, at: Position | None = None) -> SpecError:
    """The error for a problem with the document as a whole (path ``()``)."""
    return SpecError([_problem((), code, message, hint, at)])


def _duplicate(path: Path, first_line: int, at: Position) -> Diagnostic:
    return _problem(
        path, "duplicate-key", f"duplicate key {path[-1]!r}, first set on line {first_line}",
        hint="keep one of them; JSON and YAML readers would silently keep only the last", at=at)


def _too_deep(path: Path, limits: Limits) -> Diagnostic:
    return _problem(
        path, "too-deep", f"the spec is nested more than {limits.max_depth} levels deep",
        hint="raise it with Limits(max_depth=...) if the nesting is meant")


def _too_large_number(value: _TooLarge, path: Path) -> Diagnostic:
    return _problem(
        path, "non-finite-number", f"{value.describe()} is too large: numbers must lie within about ±1.8e308",
        hint="write a smaller number; no size, rate or count of a network comes near this")


def _too_long(path: Path, what: str, length: int, limits: Limits) -> Diagnostic:
    return _problem(
        path, "string-too-long",
        f"{what} of {length:,} characters is longer than the limit of {limits.max_string_length:,}",
        hint="raise it with Limits(max_string_length=...) if the string is meant")


def _too_large(at: Position) -> SpecError:
    return _fail(
        "too-large", f"the spec holds more than {_MAX_VALUES:,} values (YAML aliases count each time used)",
        hint="a network spec is far smaller; check for aliases that expand exponentially", at=at)


def _type_name(value: Any) -> str:
    kind = type(value)
    return kind.__qualname__ if kind.__module__ == "builtins" else f"{kind.__module__}.{kind.__qualname__}"
