"""Building specs from Python: typed classes, canonical round-trips, replace/with_."""

import json

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import netspec as ns
from netspec.registry import REGISTRY


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


# ---------------------------------------------------------------- tensors: convolution, pooling, reshaping



def cnn():
    return ns.Spec(input=ns.Input(shape=[28, 28, 1]),
                   layers=[ns.Conv2D(32, 3, activation="relu"), ns.MaxPool2D(2),
                           ns.Conv2D(16, [3, 3], strides=[1, 2], padding="same", dilation=(2, 1), bias=False,
                                     init="he_normal"),
                           ns.AvgPool2D(padding="same"), ns.Flatten(), ns.Dense(10), ns.Softmax()],
                   loss="categorical_crossentropy")


def test_convolution_and_pooling_builders_read_like_the_spec():
    conv = ns.Conv2D(32, 3, activation="relu")
    assert (conv.type, conv.filters, conv.kernel_size, conv.activation) == ("conv2d", 32, 3, ns.ReLU())
    assert (conv.strides, conv.padding, conv.dilation, conv.bias, conv.init) == (1, "valid", 1, True, None)
    assert ns.Conv2D(8, [3, 5]).kernel_size == (3, 5)
    assert ns.Conv1D(8, 5, padding="same").type == "conv1d" and ns.Conv1D(8, [5]).kernel_size == (5,)
    assert ns.MaxPool2D(2) == ns.MaxPool2D(pool_size=2) == ns.MaxPool2D()
    assert ns.MaxPool2D(3, strides=1).strides == 1 and ns.AvgPool2D().pool_size == 2
    assert [p.type for p in (ns.MaxPool2D(), ns.AvgPool2D(), ns.MaxPool1D(), ns.AvgPool1D())] == [
        "max_pool2d", "avg_pool2d", "max_pool1d", "avg_pool1d"]
    assert (ns.GlobalAvgPool().type, ns.GlobalMaxPool().type, ns.Flatten().type) == (
        "global_avg_pool", "global_max_pool", "flatten")
    assert ns.Reshape([-1, 4]).shape == (-1, 4) and ns.Reshape([-1, 4]) == ns.Reshape(shape=(-1, 4))
    assert ns.Input(shape=[28, 28, 1]).shape == (28, 28, 1)
    assert cnn() == ns.load({
        "input": {"shape": [28, 28, 1]}, "loss": "categorical_crossentropy",
        "layers": [{"type": "conv2d", "filters": 32, "kernel_size": 3, "activation": "relu"},
                   {"type": "max_pool2d", "pool_size": 2},
                   {"type": "conv2d", "filters": 16, "kernel_size": [3, 3], "strides": [1, 2], "padding": "same",
                    "dilation": [2, 1], "bias": False, "init": "he_normal"},
                   {"type": "avg_pool2d", "padding": "same"}, {"type": "flatten"},
                   {"type": "dense", "neurons": 10}, {"type": "softmax"}]})


def test_the_keras_names_are_the_same_classes():
    assert ns.MaxPooling2D is ns.MaxPool2D and ns.MaxPooling1D is ns.MaxPool1D
    assert ns.AveragePooling2D is ns.AvgPool2D and ns.AveragePooling1D is ns.AvgPool1D
    assert ns.GlobalAveragePooling2D is ns.GlobalAveragePooling1D is ns.GlobalAvgPool
    assert ns.GlobalMaxPooling2D is ns.GlobalMaxPooling1D is ns.GlobalMaxPool
    assert ns.MaxPooling2D(2, strides=1) == ns.MaxPool2D(2, strides=1)


@pytest.mark.parametrize("build, where, code", [
    (lambda: ns.Conv2D(0, 3), "filters", "out-of-range"),
    (lambda: ns.Conv2D("8", 3), "filters", "wrong-type"),
    (lambda: ns.Conv2D(8, [3, 3, 3]), "kernel_size", "invalid-value"),
    (lambda: ns.Conv1D(8, [3, 3]), "kernel_size", "invalid-value"),
    (lambda: ns.Conv2D(8, 3, padding="full"), "padding", "invalid-value"),
    (lambda: ns.Conv2D(8, 3, strides="2"), "strides", "wrong-type"),
    (lambda: ns.Conv2D(8, [3, 0]), "kernel_size[1]", "out-of-range"),
    (lambda: ns.Conv2D(8, 3, activation="relus"), "activation", "unknown-type"),
    (lambda: ns.Conv2D(8, 3, kernal_size=2), "kernal_size", "unknown-key"),
    (lambda: ns.MaxPool2D(2.5), "pool_size", "wrong-type"),
    (lambda: ns.MaxPool1D([2, 2]), "pool_size", "invalid-value"),
    (lambda: ns.AvgPool2D(padding="causal"), "padding", "invalid-value"),
    (lambda: ns.Reshape([-1, -1]), "shape", "invalid-value"),
    (lambda: ns.Reshape([0, 4]), "shape", "invalid-value"),
    (lambda: ns.Reshape([]), "shape", "empty-list"),
    (lambda: ns.Flatten(axis=1), "axis", "unknown-key"),
    (lambda: ns.Input(shape=[1, 2, 3, 4]), "shape", "invalid-value"),
    (lambda: ns.Input(shape=[28, 0, 1]), "shape[1]", "out-of-range"),
])
def test_bad_tensor_layer_arguments_are_spec_errors_with_paths(build, where, code):
    with pytest.raises(ns.SpecError) as caught:
        build()
    assert (where, code) in [(d.where, d.code) for d in caught.value.errors], [str(d) for d in caught.value.errors]


def test_an_unknown_key_of_a_conv_layer_gets_a_suggestion():
    with pytest.raises(ns.SpecError) as caught:
        ns.Conv2D(8, 3, kernal_size=2)
    assert caught.value.errors[0].hint == 'did you mean "kernel_size"?'


@pytest.mark.parametrize("build", [lambda: ns.MaxPool2D(0), lambda: ns.Conv2D(8, 0), lambda: ns.Conv2D(8, [3, 0]),
                                   lambda: ns.Conv1D(8, 3, strides=0)])
def test_a_bad_window_size_is_one_error(build):
    with pytest.raises(ns.SpecError) as caught:
        build()
    assert len(caught.value.errors) == 1, [str(d) for d in caught.value.errors]


def test_shape_errors_of_tensors_are_raised_at_construction():
    with pytest.raises(ns.SpecError) as caught:
        ns.Spec(input=ns.Input(shape=[8, 8, 1]), layers=[ns.Conv2D(2, 3), ns.Dense(3)])
    [d] = caught.value.errors
    assert (d.where, d.code) == ("layers[1]", "needs-flatten")
    with pytest.raises(ns.SpecError) as caught:
        ns.Spec(input=ns.Input(shape=[4, 4, 1]), layers=[ns.Conv2D(2, 5)])
    assert [(d.where, d.code) for d in caught.value.errors] == [("layers[0].kernel_size", "empty-output")]


def test_a_cnn_spec_round_trips_byte_identical_in_json_and_yaml():
    for spec in (cnn(), ns.load("examples/cnn.json"), ns.load("examples/conv1d.json")):
        text = spec.to_json()
        assert ns.load(text) == spec
        assert ns.load(text).to_json() == text
        yaml = spec.to_yaml()
        assert ns.load(yaml) == spec
        assert ns.load(yaml).to_yaml() == yaml
        assert json.loads(text) == spec.to_dict()


def test_canonical_form_of_tensor_layers():
    assert cnn().to_dict() == {
        "netspec": "1",
        "input": {"shape": [28, 28, 1]},
        "layers": [{"type": "conv2d", "filters": 32, "kernel_size": 3, "activation": "relu"},
                   {"type": "max_pool2d"},
                   {"type": "conv2d", "filters": 16, "kernel_size": [3, 3], "strides": [1, 2], "padding": "same",
                    "dilation": [2, 1], "bias": False, "init": "he_normal"},
                   {"type": "avg_pool2d", "padding": "same"}, {"type": "flatten"},
                   {"type": "dense", "neurons": 10}, {"type": "softmax"}],
        "loss": "categorical_crossentropy",
    }
    assert ns.Spec(input=3, layers=[ns.Reshape([-1, 1])]).to_dict()["layers"] == [{"type": "reshape", "shape": [-1, 1]}]


@pytest.mark.parametrize("source", [{"shape": [5]}, {"features": 5}, 5], ids=["shape", "features", "int"])
def test_a_one_axis_shape_is_written_as_features(source):
    spec = ns.Spec(input=source, layers=[ns.Dense(2)])
    assert spec.to_dict()["input"] == {"features": 5}
    assert (spec.input.features, spec.input.shape) == (5, (5,))
    assert ns.load(spec.to_json()) == spec == ns.load({"input": {"shape": [5]}, "layers": [{"type": "dense", "neurons": 2}]})


def test_input_instances_canonicalise_like_their_spec_form():
    assert ns.Input(shape=[5]) == ns.Input(5) == ns.Input(features=5)
    assert (ns.Input(shape=[5]).features, ns.Input(5).shape) == (5, (5,))
    assert ns.Spec(input=ns.Input(shape=[4, 4, 1]), layers=[ns.Flatten()]).to_dict()["input"] == {"shape": [4, 4, 1]}


@pytest.mark.parametrize("source", [ns.Input(5), ns.Input(shape=[5])], ids=["Input(features)", "Input(shape)"])
def test_a_vector_input_instance_builds_a_spec(source):
    spec = ns.Spec(input=source, layers=[ns.Dense(2)])
    assert spec.to_dict()["input"] == {"features": 5}


def accepted_shape(entry, params):
    """The first sample shape the entry's shape rule accepts, as check_gradients chooses one."""
    for shape in ((4,), (7, 3), (6, 5, 2)):
        try:
            if entry.shape is not None:
                entry.shape(params, shape)
            return shape
        except ns.ShapeProblem:
            continue
    raise AssertionError(f"{entry.name} refuses every shape tried")


@pytest.mark.parametrize("entry", REGISTRY.entries("layer"), ids=lambda entry: entry.name)
def test_every_registered_layer_type_round_trips_through_its_spec_form(entry):
    if entry.params.merge:  # merges read two inputs of one shape, named in their example
        params = entry.params(**{"inputs": ["a", "b"], **entry.example})
        shape = (4,)
        given = {"a": {"shape": [4]}, "b": {"shape": [4]}}
        X = {"a": np.ones((2, 4)), "b": np.full((2, 4), 2.0)}
    else:
        params = entry.params(**entry.example)
        shape = accepted_shape(entry, params)
        given, X = {"shape": list(shape)}, np.ones((2, *shape))
    layer = params.model_dump(mode="json", exclude_defaults=True)
    tree = {"netspec": "1", "input": given, "layers": [{**layer, "type": entry.name}]}
    spec = ns.load(tree)
    assert spec.layers[0] == params and spec.layers[0].type == entry.name
    text = spec.to_json()
    assert ns.load(text) == spec and ns.load(text).to_json() == text
    assert ns.load(spec.to_yaml()) == spec and ns.load(spec.to_yaml()).to_yaml() == spec.to_yaml()
    built = ns.Spec(input=given, layers=[params])
    assert built == spec and built.to_json() == text
    layer_form = spec.to_dict()["layers"][0]
    assert entry.params(**{k: v for k, v in layer_form.items() if k != "type"}) == params
    report = ns.validate(tree)
    assert report.ok, [str(d) for d in report.errors]
    pipeline = ns.compile(spec)
    output = pipeline.forward(X)
    assert output.shape == (2, *report.shapes.output_shape)


def test_training_toolkit_builders_read_like_the_spec():
    spec = ns.Spec(input=2,
                   layers=[ns.Dense(64, activation="relu", regularizer=ns.L2(1e-3)), ns.BatchNorm(), ns.Dropout(0.25),
                           ns.Dense(3), ns.LayerNorm(epsilon=1e-5), ns.Softmax()],
                   loss="categorical_crossentropy", regularizer=ns.L1(1e-5),
                   train={"optimizer": ns.AdamW(0.01, weight_decay=0.05)})
    assert spec.to_dict()["layers"][1:3] == [{"type": "batch_norm"}, {"type": "dropout", "rate": 0.25}]
    assert ns.BatchNormalization is ns.BatchNorm and ns.LayerNormalization is ns.LayerNorm
    assert ns.SGD(0.1, momentum=0.9, momentum_buffer="steps").momentum_buffer == "steps"
    assert ns.Adagrad(0.5).learning_rate == 0.5
    stronger = spec.replace("regularizer.l2", 1e-4).replace("layers[2].rate", 0.5)
    assert stronger.regularizer == ns.L1L2(1e-5, 1e-4) and stronger.layers[2] == ns.Dropout(0.5)
    with pytest.raises(ns.SpecError) as caught:
        ns.Dropout(1.0)
    assert caught.value.errors[0].code == "out-of-range"
