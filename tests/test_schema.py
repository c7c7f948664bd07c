"""The published JSON Schema: committed, in step with the models, and agreeing with them."""

import copy
import json
from pathlib import Path

import jsonschema
import pytest

import netspec
from netspec.check import check
from netspec.schema import json_schema, json_schema_text

ROOT = Path(__file__).resolve().parent.parent
SCHEMA_FILE = ROOT / "schemas" / "netspec.schema.json"
EXAMPLES = sorted(p for p in (ROOT / "examples").glob("*.*") if p.suffix in (".json", ".yaml", ".yml"))


def validator():
    return jsonschema.Draft202012Validator(json_schema())


def test_committed_schema_is_what_the_models_generate():
    assert SCHEMA_FILE.read_text(encoding="utf-8") == json_schema_text(), (
        "schemas/netspec.schema.json is stale: regenerate it with `netspec schema > schemas/netspec.schema.json`")


def test_schema_is_a_valid_draft_2020_12_schema():
    jsonschema.Draft202012Validator.check_schema(json_schema())
    assert json_schema()["$schema"] == "https://json-schema.org/draft/2020-12/schema"


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_every_example_validates_under_schema_and_models(path):
    from netspec.read import read

    tree = read(path).tree
    assert list(validator().iter_errors(tree)) == []
    spec, found = check(tree)
    assert found == []


def test_examples_exist():
    assert {p.name for p in EXAMPLES} >= {"tutorial.json", "tutorial.yaml", "xor.json", "spiral.json",
                                          "regression.json"}


VALID = {
    "netspec": "1",
    "input": {"features": 2},
    "layers": [
        {"type": "dense", "neurons": 3, "activation": "relu", "init": {"type": "normal", "std": 0.1}},
        {"type": "dense", "neurons": 3, "in_features": 3, "bias": False, "activation": {"type": "leaky_relu"}},
        {"type": "softmax", "name": "probabilities"},
    ],
    "loss": {"type": "categorical_crossentropy", "from_logits": False},
    "init": "glorot_uniform",
    "seed": 1,
    "dtype": "float32",
    "rng": "legacy",
}


def mutate(path, value):
    tree = copy.deepcopy(VALID)
    node = tree
    for key in path[:-1]:
        node = node[key]
    if value is DELETE:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return tree


DELETE = object()

# Structurally invalid specs: both the schema and the models must refuse each.
INVALID = {
    "missing input": (("input",), DELETE),
    "missing layers": (("layers",), DELETE),
    "empty layers": (("layers",), []),
    "layers not a list": (("layers",), {"type": "dense"}),
    "unknown top-level key": (("extra",), 1),
    "wrong version": (("netspec",), "2"),
    "version as number": (("netspec",), 1),
    "features zero": (("input", "features"), 0),
    "features string": (("input", "features"), "2"),
    "features bool": (("input", "features"), True),
    "unknown layer type": (("layers", 0, "type"), "relus"),
    "layer without type": (("layers", 0, "type"), DELETE),
    "layer not an object": (("layers", 1), 5),
    "neurons missing": (("layers", 0, "neurons"), DELETE),
    "neurons negative": (("layers", 0, "neurons"), -3),
    "neurons string": (("layers", 0, "neurons"), "3"),
    "misspelled key": (("layers", 0, "nuerons"), 3),
    "bias not bool": (("layers", 1, "bias"), "no"),
    "unknown activation": (("layers", 0, "activation"), "relus"),
    "activation wrong type": (("layers", 0, "activation"), 3),
    "leaky alpha string": (("layers", 1, "activation"), {"type": "leaky_relu", "alpha": "0.1"}),
    "unknown key in activation layer": (("layers", 2, "alpha"), 0.1),
    "name empty": (("layers", 2, "name"), ""),
    "unknown loss": (("loss",), "crossentropy"),
    "loss option typo": (("loss", "from_logit"), True),
    "unknown init": (("init",), "glorot"),
    "normal std zero": (("layers", 0, "init"), {"type": "normal", "std": 0}),
    "seed negative": (("seed",), -1),
    "seed float": (("seed",), 1.5),
    "dtype": (("dtype",), "float16"),
    "rng": (("rng",), "numpy"),
    "description number": (("description",), 5),
}


@pytest.mark.parametrize("name", INVALID)
def test_schema_and_models_agree_on_invalid_specs(name):
    tree = mutate(*INVALID[name])
    spec, found = check(tree)
    assert found, f"models accepted {name}"
    assert list(validator().iter_errors(tree)), f"schema accepted {name}"


def test_schema_and_models_agree_on_the_valid_spec():
    assert list(validator().iter_errors(VALID)) == []
    assert check(VALID)[1] == []


def test_schema_lists_every_registered_type():
    text = json.dumps(json_schema())
    for name in ("dense", "relu", "leaky_relu", "elu", "sigmoid", "tanh", "softmax", "linear", "mse", "mae",
                 "categorical_crossentropy", "binary_crossentropy", "uniform", "normal", "glorot_uniform",
                 "he_normal", "zeros"):
        assert f'"{name}"' in text


def test_public_function():
    assert netspec.json_schema() == json_schema()
