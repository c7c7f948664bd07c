"""Stage 2: raw trees become a Spec, or every problem as a diagnostic."""

import pytest

from netspec.check import check, did_you_mean, user_path
from netspec.errors import format_path
from netspec.spec import Spec


def base(**changes):
    tree = {
        "netspec": "1",
        "input": {"features": 2},
        "layers": [{"type": "dense", "neurons": 3}, {"type": "softmax"}],
        "loss": "categorical_crossentropy",
    }
    tree.update(changes)
    return tree


def problems(tree):
    spec, found = check(tree)
    assert spec is None
    return {(format_path(d.path), d.code): d for d in found}


def test_valid_tree_gives_a_spec():
    spec, found = check(base())
    assert found == []
    assert isinstance(spec, Spec)
    assert spec.layers[0].neurons == 3
    assert spec.loss.type == "categorical_crossentropy"


def test_unknown_layer_type_suggests_the_closest_and_lists_all():
    found = problems(base(layers=[{"type": "dense", "neurons": 3}, {"type": "relus"}]))
    d = found[("layers[1].type", "unknown-type")]
    assert d.message == 'unknown layer type "relus"'
    assert d.hint.startswith('did you mean "relu"?')
    for name in ("dense", "relu", "softmax", "sigmoid", "tanh", "linear", "elu", "leaky_relu"):
        assert name in d.hint


def test_misspelled_key_suggests_the_right_one():
    found = problems(base(layers=[{"type": "dense", "nuerons": 3}]))
    d = found[("layers[0].nuerons", "unknown-key")]
    assert d.message == 'unknown key "nuerons" in dense layer'
    assert d.hint == 'did you mean "neurons"?'
    assert ("layers[0].neurons", "missing-key") in found


@pytest.mark.parametrize("value, words", [("10", 'string "10"'), (True, "true"), (3.0, "3.0"), (None, "null")])
def test_no_silent_coercion_of_neuron_counts(value, words):
    found = problems(base(layers=[{"type": "dense", "neurons": value}]))
    d = found[("layers[0].neurons", "wrong-type")]
    assert d.message == f"neurons must be an integer, got {words}"


def test_every_problem_is_reported_at_once():
    tree = base(
        input={"features": 0},
        layers=[{"type": "dense", "neurons": -1}, {"type": "relus"}, {"neurons": 2}, 5,
                {"type": "dense", "neurons": 2, "activation": "sigmoyd"}],
        loss={"type": "mse", "foo": 1},
        dtype="float16",
        extra=True,
    )
    found = problems(tree)
    assert set(found) == {
        ("input.features", "out-of-range"),
        ("layers[0].neurons", "out-of-range"),
        ("layers[1].type", "unknown-type"),
        ("layers[2]", "missing-type"),
        ("layers[3]", "wrong-type"),
        ("layers[4].activation", "unknown-type"),
        ("loss.foo", "unknown-key"),
        ("dtype", "invalid-value"),
        ("extra", "unknown-key"),
    }
    assert found[("input.features", "out-of-range")].message == "features must be > 0, got 0"
    assert found[("dtype", "invalid-value")].hint == 'did you mean "float64"?'


def test_empty_layers():
    d = problems(base(layers=[]))[("layers", "empty-list")]
    assert d.message == "layers must not be empty"


def test_not_an_object():
    spec, found = check([1, 2])
    assert spec is None and found[0].code == "not-an-object" and found[0].path == ()


def test_duplicate_names_reported_with_other_errors():
    tree = base(layers=[{"type": "dense", "neurons": 3, "name": "a"}, {"type": "relu", "name": "a"},
                        {"type": "dense", "neurons": "x"}])
    found = problems(tree)
    d = found[("layers[1].name", "duplicate-name")]
    assert d.message == 'layer name "a" is already used by layers[0]'
    assert ("layers[2].neurons", "wrong-type") in found


def test_missing_required_sections():
    found = problems({"netspec": "1"})
    assert ("input", "missing-key") in found and ("layers", "missing-key") in found
    assert found[("input", "missing-key")].message == 'the spec needs "input"'


def test_language_version_is_checked():
    d = problems(base(netspec="2"))[("netspec", "invalid-value")]
    assert d.message == 'netspec must be "1", got string "2"'


def test_loss_and_init_accept_bare_names_and_objects():
    spec, _ = check(base(loss={"type": "categorical_crossentropy", "from_logits": True}, init="he_normal"))
    assert spec.loss.from_logits is True
    assert spec.init.type == "he_normal"


def test_uniform_bounds_are_ordered():
    d = problems(base(init={"type": "uniform", "low": 1, "high": 0}))[("init", "invalid-value")]
    assert "low must be below high" in d.message


def test_too_many_layers_is_refused_before_validation():
    from netspec.limits import Limits

    spec, found = check(base(layers=[{"type": "relu"}] * 11), limits=Limits(max_layers=10))
    assert found[0].code == "too-many-layers"


def test_user_path_drops_pydantic_union_tags():
    tree = {"layers": [{"type": "dense", "dense": 1}]}
    path, node, parent = user_path(("layers", 0, "dense", "dense"), tree)
    assert path == ("layers", 0, "dense") and node == 1


def test_did_you_mean():
    assert did_you_mean("sigmod", ["sigmoid", "softmax"]) == 'did you mean "sigmoid"?'
    assert did_you_mean("zzz", ["sigmoid"]) is None
