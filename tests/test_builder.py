"""Building specs from Python: typed classes, canonical round-trips, replace/with_."""

import json

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import netspec as ns


def classifier():
    return ns.Spec(input=2, layers=[ns.Dense(64, activation="relu"), ns.Dense(3), ns.Softmax()],
                   loss="categorical_crossentropy")


def test_builder_reads_like_the_spec():
    spec = classifier()
    assert spec.input.features == 2
    assert [layer.type for layer in spec.layers] == ["dense", "dense", "softmax"]
    assert spec.layers[0].activation == ns.ReLU()
    assert spec == ns.load({"input": {"features": 2}, "loss": "categorical_crossentropy",
                            "layers": [{"type": "dense", "neurons": 64, "activation": "relu"},
                                       {"type": "dense", "neurons": 3}, {"type": "softmax"}]})


def test_construction_gives_the_same_diagnostics_as_files():
    with pytest.raises(ns.SpecError) as caught:
        ns.Dense("64")
    [d] = caught.value.errors
    assert (d.where, d.code, d.message) == ("neurons", "wrong-type", 'neurons must be an integer, got string "64"')
    with pytest.raises(ns.SpecError) as caught:
        ns.Dense(3, activation="relus")
    assert caught.value.errors[0].hint.startswith('did you mean "relu"?')
    with pytest.raises(ns.SpecError) as caught:
        ns.Dense(3, nuerons=4)
    assert caught.value.errors[0].hint == 'did you mean "neurons"?'


def test_shape_errors_are_raised_at_construction():
    with pytest.raises(ns.SpecError) as caught:
        ns.Spec(input=2, layers=[ns.Dense(3, in_features=4)])
    assert caught.value.errors[0].code == "shape-mismatch"
    with pytest.raises(ns.SpecError) as caught:
        ns.Spec(input=2, layers=[ns.Dense(3, name="a"), ns.ReLU(name="a")])
    assert caught.value.errors[0].code == "duplicate-name"


def test_positional_arguments():
    assert ns.Dense(8).neurons == 8
    assert ns.Uniform(0, 0.1) == ns.Uniform(low=0, high=0.1)
    assert ns.Adam(0.01).learning_rate == 0.01
    assert ns.Input(3) == ns.Input(features=3)
    with pytest.raises(TypeError, match="at most 1 positional"):
        ns.Dense(1, 2)
    with pytest.raises(TypeError, match="both by position and by keyword"):
        ns.Dense(1, neurons=2)


def test_specs_are_immutable():
    spec = classifier()
    with pytest.raises(Exception):
        spec.seed = 3
    with pytest.raises(Exception):
        spec.layers[0].neurons = 3
    assert hash(spec) == hash(classifier())


def test_canonical_form_writes_no_defaults_and_bare_names():
    assert classifier().to_dict() == {
        "netspec": "1",
        "input": {"features": 2},
        "layers": [{"type": "dense", "neurons": 64, "activation": "relu"}, {"type": "dense", "neurons": 3},
                   {"type": "softmax"}],
        "loss": "categorical_crossentropy",
    }
    spec = classifier().with_(train={"optimizer": {"type": "adam", "learning_rate": 0.001}}, dtype="float64")
    assert spec.to_dict()["train"] == {"optimizer": "adam"}
    assert "dtype" not in spec.to_dict()


def test_round_trip_through_json_and_yaml():
    spec = ns.load("examples/spiral.json")
    assert ns.load(spec.to_json()) == spec
    assert ns.load(spec.to_yaml()) == spec
    assert ns.load(spec.to_json()).to_json() == spec.to_json()
    assert ns.load(spec.to_yaml()).to_yaml() == spec.to_yaml()


def test_replace_returns_a_new_validated_spec():
    spec = classifier()
    wider = spec.replace("layers[0].neurons", 128)
    assert wider.layers[0].neurons == 128 and spec.layers[0].neurons == 64
    assert spec.replace("loss.from_logits", True).loss.from_logits is True
    assert spec.replace(("layers", 0, "activation"), "tanh").layers[0].activation == ns.Tanh()
    assert spec.replace("train.optimizer.learning_rate", 0.1).train.optimizer == ns.Adam(0.1)
    leaky = spec.replace("layers[0].activation", {"type": "leaky_relu", "alpha": 0.2})
    assert leaky.layers[0].activation == ns.LeakyReLU(0.2)


@pytest.mark.parametrize("path, value, code", [
    ("layers[9].neurons", 3, "bad-path"),
    ("layers[x", 3, "bad-path"),
    ("layers[0].nuerons", 3, "unknown-key"),
    ("layers[0].neurons", 0, "out-of-range"),
    ("layers[1].in_features", 5, "shape-mismatch"),
])
def test_replace_reports_bad_paths_and_values(path, value, code):
    with pytest.raises(ns.SpecError) as caught:
        classifier().replace(path, value)
    assert caught.value.errors[0].code == code


def test_with_replaces_top_level_fields():
    spec = classifier().with_(seed=3, dtype="float32", schema_="./schemas/netspec.schema.json")
    assert (spec.seed, spec.dtype, spec.schema_) == (3, "float32", "./schemas/netspec.schema.json")
    assert spec.to_dict()["$schema"] == "./schemas/netspec.schema.json"
    with pytest.raises(ns.SpecError):
        classifier().with_(dtype="float16")


# ---------------------------------------------------------------- property: any built spec round-trips

activations = st.sampled_from([ns.ReLU(), ns.Sigmoid(), ns.Tanh(), ns.Linear(), ns.ELU(0.5), ns.LeakyReLU(0.2)])
inits = st.none() | st.sampled_from([ns.GlorotUniform(), ns.HeNormal(), ns.Zeros(), ns.Uniform(0, 0.1),
                                     ns.Normal(0.0, 0.05), ns.Uniform(-1e-3, 2.5e-3)])
dense = st.builds(lambda neurons, activation, bias, init: ns.Dense(neurons, activation=activation, bias=bias, init=init),
                  st.integers(1, 16), st.none() | activations, st.booleans(), inits)
stacks = st.lists(dense | activations, min_size=1, max_size=5)
optimizers = st.none() | st.sampled_from([ns.SGD(0.1, momentum=0.9, nesterov=True), ns.Adam(0.003), ns.RMSprop()])


@st.composite
def specs(draw):
    layers = draw(stacks)
    train = draw(st.none() | st.builds(
        lambda optimizer, epochs, batch: {k: v for k, v in
                                          {"optimizer": optimizer, "epochs": epochs, "batch_size": batch}.items()
                                          if v is not None},
        optimizers, st.integers(1, 50), st.none() | st.integers(1, 64)))
    return ns.Spec(
        input=draw(st.integers(1, 8)), layers=layers,
        loss=draw(st.none() | st.sampled_from(["mse", "mae", ns.BinaryCrossentropy(from_logits=True)])),
        init=draw(inits), seed=draw(st.none() | st.integers(0, 2**32 - 1)),
        dtype=draw(st.sampled_from(["float64", "float32"])), rng=draw(st.sampled_from(["default", "legacy"])),
        name=draw(st.none() | st.text(min_size=1, max_size=20)), train=train)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(specs())
def test_any_built_spec_round_trips_and_compiles(spec):
    text = spec.to_json()
    assert ns.load(text) == spec
    assert ns.load(text).to_json() == text
    assert ns.load(spec.to_yaml()) == spec
    assert json.loads(text) == spec.to_dict()
    pipeline = ns.compile(spec)
    out = pipeline.forward(np.ones((2, spec.input.features)))
    assert out.shape[0] == 2
