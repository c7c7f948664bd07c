"""The published JSON Schema and the Pydantic models agree on structure.

Forward: specs generated from ``netspec.json_schema()`` (with
hypothesis-jsonschema) are accepted by the models; ``validate`` may refuse them
only for what the schema cannot express -- shape rules from inference, and the
rules across fields listed in ``BEYOND_THE_SCHEMA`` -- or for the one
documented difference, ``3.0`` counted as an integer by JSON Schema.

Reverse: every spec of ``tests/corpus/`` that the models refuse for its
structure is refused by the JSON Schema too.
"""

from __future__ import annotations

import copy
from pathlib import Path

import jsonschema
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis_jsonschema import from_schema

import netspec
from netspec.check import check
from netspec.codes import CODES
from netspec.errors import SpecError
from netspec.read import read

CORPUS = Path(__file__).resolve().parent / "corpus"
SCHEMA = netspec.json_schema()
VALIDATOR = jsonschema.Draft202012Validator(SCHEMA)

# Codes of inference: rules on widths and budgets that JSON Schema cannot state.
SHAPE_CODES = {c.code for c in CODES.values() if c.stage == "infer"}  # what JSON Schema cannot express

# Rules across fields, checked by the models but not expressible in (or not
# written into) the schema: (code, words of the message). Each is a place where
# a spec valid under the schema is still refused by netspec.
BEYOND_THE_SCHEMA = [
    ("duplicate-name", ""),                          # layer names unique across the list
    ("invalid-value", "low must be below high"),     # uniform initialiser
    ("invalid-value", "nesterov needs momentum"),    # sgd
    ("monitor-needs-validation", ""),                # early_stopping vs validation_split
    ("monitor-not-measured", ""),                    # early_stopping vs metrics
    ("invalid-value", "give at most one of clip_norm"),  # the three kinds of clipping
    ("invalid-value", "data.validation already gives"),  # validation_split vs data.validation
    ("invalid-value", "is a regression loss"),       # class_weight vs the loss
]

MAX_ITEMS = 4  # lists drawn from the schema hold at most this many items (generation only)


def beyond_the_schema(diagnostic):
    return any(diagnostic.code == code and words in diagnostic.message for code, words in BEYOND_THE_SCHEMA)


def integral_float_as_integer(diagnostic, tree):
    """The documented difference: JSON Schema counts 3.0 as an integer, netspec does not."""
    if diagnostic.code != "wrong-type" or "an integer" not in diagnostic.message:
        return False
    value = tree
    for part in diagnostic.path:
        value = value[part]
    return isinstance(value, float) and value.is_integer()


def tree_of(path):
    """The tree of a corpus file, or None when it cannot be read (a syntax error and the like)."""
    try:
        return read(path).tree
    except SpecError:
        return None


CORPUS_FILES = sorted(p for p in CORPUS.iterdir() if p.suffix in (".json", ".yaml", ".yml") and p.name != "expected.yaml")
READABLE = [p for p in CORPUS_FILES if tree_of(p) is not None]  # the others fail to read, before any structure


# --- generation from the schema --------------------------------------------------

def for_generation(schema):
    """A copy of ``schema`` that hypothesis-jsonschema generates from quickly and
    that accepts exactly the same documents, but for shorter lists:

    - ``$id`` is dropped: hypothesis-jsonschema resolves ``#/$defs/...``
      against it and refuses the ``urn:`` base as a remote reference;
    - ``oneOf`` becomes ``anyOf``: every ``oneOf`` here is a union whose
      branches exclude each other (by their ``type`` constant, or for ``data``
      by a required ``dataset`` of its own or a required ``path``), so at most
      one can match and the two are the same -- but ``oneOf`` makes
      hypothesis-jsonschema check each draw against every other branch;
    - arrays hold at most ``MAX_ITEMS`` items.
    """
    schema = copy.deepcopy(schema)
    schema.pop("$id")

    def edit(node):
        if isinstance(node, dict):
            if "oneOf" in node:
                node["anyOf"] = node.pop("oneOf")
            if node.get("type") == "array":
                node["maxItems"] = min(node.get("maxItems", MAX_ITEMS), MAX_ITEMS)
            for key, value in node.items():
                if key not in ("properties", "$defs", "const", "enum", "default"):
                    edit(value)
                elif key in ("properties", "$defs"):
                    for member in value.values():
                        edit(member)
        elif isinstance(node, list):
            for item in node:
                edit(item)

    edit(schema)
    return schema


def spec_strategy(schema):
    """Specs drawn from the schema, one top-level property at a time.

    hypothesis-jsonschema re-canonicalises the schema of each property on every
    draw of an object, which makes whole specs take about half a second each;
    drawing each property from its own schema (with the shared ``$defs``) gives
    the same documents (with other odds) at a tenth of the cost. That holds
    only while the root is a plain closed object, which the assertions keep true.
    """
    assert set(schema) <= {"$schema", "title", "description", "$defs", "type", "properties", "required",
                           "additionalProperties"}, sorted(schema)
    assert schema["type"] == "object" and schema["additionalProperties"] is False
    parts = {key: from_schema({"$defs": schema["$defs"], **value}) for key, value in schema["properties"].items()}
    required = set(schema["required"])
    return st.fixed_dictionaries({k: s for k, s in parts.items() if k in required},
                                 optional={k: s for k, s in parts.items() if k not in required})


GENERATION_SCHEMA = for_generation(SCHEMA)
SPECS = spec_strategy(GENERATION_SCHEMA)


def test_the_generation_schema_accepts_what_the_published_one_does():
    """Every spec of the corpus and the examples gets the same verdict from both."""
    generation = jsonschema.Draft202012Validator({**GENERATION_SCHEMA, "$id": SCHEMA["$id"]})
    trees = list(map(tree_of, READABLE))
    trees += [read(p).tree for p in (CORPUS.parent.parent / "examples").glob("*.json")]
    assert len(trees) > 20
    for tree in trees:
        if not any(isinstance(v, list) and len(v) > MAX_ITEMS for v in walk(tree)):
            assert generation.is_valid(tree) == VALIDATOR.is_valid(tree), tree


def walk(tree):
    yield tree
    if isinstance(tree, dict):
        for value in tree.values():
            yield from walk(value)
    elif isinstance(tree, list):
        for value in tree:
            yield from walk(value)


@settings(max_examples=150, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much])
@given(SPECS)
def test_specs_from_the_schema_are_accepted_by_the_models(tree):
    assert VALIDATOR.is_valid(tree), next(VALIDATOR.iter_errors(tree)).message
    spec, problems = check(tree)
    problems = [d for d in problems if not beyond_the_schema(d)]
    if any(integral_float_as_integer(d, tree) for d in problems):
        return  # the documented difference: JSON Schema counts 3.0 as an integer
    assert problems == [], [f"{d.where}: [{d.code}] {d.message}" for d in problems]

    report = netspec.validate(tree)
    refused = {d.code for d in report.errors if not beyond_the_schema(d)}
    assert refused <= SHAPE_CODES, [f"{d.where}: [{d.code}] {d.message}" for d in report.errors]


@pytest.mark.parametrize("tree", [
    {"input": {"features": 2.0}, "layers": [{"type": "relu"}]},
    {"input": {"features": 2}, "layers": [{"type": "dense", "neurons": 3.0}]},
])
def test_the_documented_difference_integral_floats(tree):
    assert VALIDATOR.is_valid(tree)
    spec, problems = check(tree)
    assert problems and all(integral_float_as_integer(d, tree) for d in problems)


# --- the corpus, the other way round ---------------------------------------------

@pytest.mark.parametrize("path", READABLE, ids=lambda p: p.name)
def test_corpus_specs_the_models_refuse_the_schema_refuses(path):
    tree = tree_of(path)
    spec, problems = check(tree)
    structural = [d for d in problems if not beyond_the_schema(d) and not integral_float_as_integer(d, tree)]
    schema_errors = list(VALIDATOR.iter_errors(tree))
    if structural:
        assert schema_errors, f"the schema accepts {path.name}, the models refuse it: {structural}"
    else:  # refused only for rules beyond the schema, or valid in structure (perhaps not in shape)
        assert schema_errors == [], [e.message for e in schema_errors]


def test_the_corpus_covers_both_kinds():
    verdicts = [VALIDATOR.is_valid(tree_of(path)) for path in READABLE]
    assert verdicts.count(False) >= 15 and verdicts.count(True) >= 5

