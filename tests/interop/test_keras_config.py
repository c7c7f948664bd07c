"""Keras configs into specs, without Keras: the three formats (Keras 3,
tf.keras 2.x and Keras 2.0.x, the last two from hand-written fixtures),
Sequential and Functional, the translation of every option, and every
problem reported at once as a diagnostic pointing into the Keras config."""

import json
from pathlib import Path

import pytest

import netspec
from netspec.errors import InteropError
from netspec.interop.keras import from_keras

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "keras"


def layer(class_name, name, **config):
    """A layer as Keras 3 serializes it."""
    return {"module": "keras.layers", "class_name": class_name, "config": {"name": name, "trainable": True, **config},
            "registered_name": None}


def sequential(*layers, shape=(4,), **top):
    return {"module": "keras", "class_name": "Sequential", "registered_name": None, **top,
            "config": {"name": "sequential", "trainable": True,
                       "layers": [layer("InputLayer", "input_layer", batch_shape=[None, *shape], dtype="float32",
                                        sparse=False, ragged=False), *layers]}}


def dense(name, units, **config):
    options = {"units": units, "activation": "linear", "use_bias": True,
               "dtype": {"module": "keras", "class_name": "DTypePolicy", "config": {"name": "float32"}},
               "kernel_initializer": {"module": "keras.initializers", "class_name": "GlorotUniform",
                                      "config": {"seed": None}},
               "bias_initializer": {"module": "keras.initializers", "class_name": "Zeros", "config": {}},
               "kernel_regularizer": None, "bias_regularizer": None, "kernel_constraint": None,
               "bias_constraint": None, "quantization_config": None}
    return layer("Dense", name, **{**options, **config})


def problems(source):
    with pytest.raises(InteropError) as caught:
        from_keras(source)
    return [(d.where, d.code) for d in caught.value.errors]


def test_tf_keras_2_sequential():
    assert from_keras(FIXTURES / "tf_keras2_sequential.json").to_dict() == {
        "netspec": "1", "name": "sequential", "input": {"features": 4}, "dtype": "float32",
        "layers": [{"type": "dense", "name": "dense", "neurons": 8, "activation": "relu"},
                   {"type": "dense", "name": "dense_1", "neurons": 8, "activation": "tanh", "init": "he_normal"},
                   {"type": "dense", "name": "dense_2", "neurons": 3, "activation": "softmax",
                    "init": {"type": "uniform", "low": -0.1, "high": 0.1}}]}


def test_tf_keras_2_functional_with_two_inputs():
    spec = from_keras(FIXTURES / "tf_keras2_functional.json")
    assert spec.to_dict() == {
        "netspec": "1", "name": "model", "input": {"image": {"shape": [6, 6, 1]}, "meta": {"features": 3}},
        "dtype": "float32",
        "layers": [{"type": "conv2d", "name": "conv2d", "inputs": "image", "filters": 2, "kernel_size": 3,
                    "padding": "same", "activation": "relu", "init": "he_normal"},
                   {"type": "max_pool2d", "name": "max_pooling2d", "inputs": "conv2d"},
                   {"type": "flatten", "name": "flatten", "inputs": "max_pooling2d"},
                   {"type": "concatenate", "name": "concatenate", "inputs": ["flatten", "meta"]},
                   {"type": "dense", "name": "hidden", "inputs": "concatenate", "neurons": 5, "activation": "elu",
                    "init": {"type": "normal", "std": 0.05}},
                   {"type": "dense", "name": "skip", "inputs": "concatenate", "neurons": 5, "bias": False},
                   {"type": "add", "name": "add", "inputs": ["hidden", "skip"]},
                   {"type": "dense", "name": "out", "inputs": "add", "neurons": 1, "activation": "sigmoid"}]}
    assert netspec.infer(spec).output_shape == (1,)


def test_keras_2_0_sequential_is_a_bare_list_of_layers():
    assert from_keras(FIXTURES / "keras20_sequential.json").to_dict() == {
        "netspec": "1", "input": {"shape": [10, 2]}, "dtype": "float32",
        "layers": [{"type": "conv1d", "name": "conv1d_1", "filters": 4, "kernel_size": 3, "activation": "relu"},
                   {"type": "avg_pool1d", "name": "average_pooling1d_1"},
                   {"type": "flatten", "name": "flatten_1"},
                   {"type": "dense", "name": "dense_1", "neurons": 2},
                   {"type": "softmax", "name": "activation_1"}]}


def test_keras_2_0_functional_and_its_batch_counting_axis():
    spec = from_keras(FIXTURES / "keras20_functional.json")
    concatenate = spec.layers[3]
    assert (concatenate.type, concatenate.axis, concatenate.inputs) == ("concatenate", 0, ("multiply_1", "input_1"))
    assert netspec.infer(spec).output_shape == (2,)


def test_every_source_form_gives_the_same_spec(tmp_path):
    text = (FIXTURES / "tf_keras2_sequential.json").read_text()
    copy = tmp_path / "model.json"
    copy.write_text(text)
    expected = from_keras(FIXTURES / "tf_keras2_sequential.json")
    for source in (text, text.encode(), json.loads(text), str(copy), copy):
        assert from_keras(source) == expected


def test_a_linear_functional_model_is_a_chain():
    config = {"class_name": "Functional", "config": {
        "name": "f", "layers": [
            {**layer("InputLayer", "x", batch_shape=[None, 3]), "name": "x", "inbound_nodes": []},
            {**dense("d", 2, activation="relu"), "name": "d", "inbound_nodes": [
                {"args": [{"class_name": "__keras_tensor__", "config": {"shape": [None, 3], "keras_history": ["x", 0, 0]}}],
                 "kwargs": {}}]}],
        "input_layers": ["x", 0, 0], "output_layers": ["d", 0, 0]}}
    assert from_keras(config).to_dict()["layers"] == [{"type": "dense", "name": "d", "neurons": 2, "activation": "relu"}]
    assert from_keras(config).to_dict()["input"] == {"features": 3}


def test_every_unsupported_option_is_reported_at_once_with_its_path():
    config = sequential(
        layer("Conv2D", "grouped", filters=4, kernel_size=[3, 3], groups=2),
        layer("Conv2D", "first", filters=4, kernel_size=[3, 3], data_format="channels_first"),
        layer("Flatten", "flatten"),
        dense("gelu", 3, activation="gelu", kernel_constraint={"class_name": "MaxNorm", "config": {"max_value": 2}}),
        layer("LSTM", "lstm", units=4),
        dense("seeded", 3, kernel_initializer={"class_name": "RandomUniform", "config": {"seed": 7}}),
        {**dense("frozen", 3), "config": {**dense("frozen", 3)["config"], "trainable": False, "lookahead": 3}},
        shape=(8, 8, 3))
    assert problems(config) == [
        ("config.layers[1].config.groups", "unsupported-option"),
        ("config.layers[2].config.data_format", "unsupported-option"),
        ("config.layers[4].config.activation", "unsupported-option"),
        ("config.layers[4].config.kernel_constraint", "unsupported-option"),
        ("config.layers[5].class_name", "unsupported-layer"),
        ("config.layers[6].config.kernel_initializer.config.seed", "unsupported-option"),
        ("config.layers[7].config.trainable", "unsupported-option"),
        ("config.layers[7].config.lookahead", "unsupported-option"),
    ]


def test_a_diagnostic_says_what_is_not_supported_and_what_is():
    with pytest.raises(InteropError) as caught:
        from_keras(sequential(dense("d", 3, activation="gelu"), layer("LSTM", "lstm", units=4)))
    activation, lstm = caught.value.errors
    assert activation.message == "Dense activation gelu has no netspec equivalent"
    assert activation.hint == "netspec has relu, sigmoid, tanh, softmax, linear, elu, leaky_relu"
    assert lstm.message == "netspec has no LSTM layer"
    assert "Conv2D" in lstm.hint and "Dense" in lstm.hint
    assert str(caught.value).startswith("cannot import the Keras model: 2 problems:\n  config.layers[1].config.activation")


def test_problems_in_a_json_file_have_its_lines_and_columns(tmp_path):
    path = tmp_path / "model.json"
    path.write_text(json.dumps(sequential(layer("Conv2D", "c", filters=2, kernel_size=3, groups=2), shape=(5, 5, 4)),
                               indent=1))
    with pytest.raises(InteropError) as caught:
        from_keras(path)
    (found,) = caught.value.errors
    line = path.read_text().splitlines()[found.line - 1]
    assert (found.file, line[found.column - 1:]) == (str(path), "2")


def test_json_syntax_is_reported_as_for_a_spec(tmp_path):
    path = tmp_path / "model.json"
    path.write_text('{"class_name": "Sequential",\n "config": [}')
    with pytest.raises(InteropError) as caught:
        from_keras(path)
    assert [(d.code, d.line, d.file) for d in caught.value.errors] == [("json-syntax", 2, str(path))]


@pytest.mark.parametrize("source, message", [
    ({"layers": []}, 'this is not a Keras model config: expected a JSON object with "class_name" and "config", '
                     "as model.to_json() writes"),
    ("no/such/model.keras", "no such file: no/such/model.keras"),
    (42, "cannot read a Keras model from int"),
])
def test_what_is_not_a_model(source, message):
    with pytest.raises(InteropError) as caught:
        from_keras(source)
    assert [(d.code, d.message) for d in caught.value.errors] == [("not-a-model", message)]


def test_a_zip_that_is_not_a_keras_archive(tmp_path):
    import zipfile

    path = tmp_path / "model.keras"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("notes.txt", "hello")
    assert problems(path) == [("<spec>", "not-a-model")]


def test_structures_netspec_cannot_express():
    tensor = {"class_name": "__keras_tensor__", "config": {"keras_history": ["x", 0, 0]}}
    shared = {"class_name": "Functional", "config": {
        "name": "f", "layers": [
            {**layer("InputLayer", "x", batch_shape=[None, None, 3]), "name": "x", "inbound_nodes": []},
            {**dense("d", 3), "name": "d", "inbound_nodes": [{"args": [tensor], "kwargs": {}},
                                                             {"args": [tensor], "kwargs": {}}]},
            {**dense("e", 3), "name": "e", "inbound_nodes": [{"args": [tensor], "kwargs": {"training": True}}]}],
        "input_layers": [["x", 0, 0]], "output_layers": [["d", 0, 0], ["e", 0, 0]]}}
    assert problems(shared) == [
        ("config.output_layers", "unsupported-structure"),
        ("config.layers[0].config.batch_shape", "unsupported-structure"),
        ("config.layers[1].inbound_nodes", "unsupported-structure"),
        ("config.layers[2].inbound_nodes[0].kwargs", "unsupported-option"),
    ]
    never_built = {"class_name": "Sequential", "config": {"name": "s", "layers": [dense("d", 3)]}}
    assert problems(never_built) == [("config.layers", "unsupported-structure")]
    assert problems({"class_name": "MyModel", "config": {}}) == [("class_name", "unsupported-structure")]


def test_the_specs_own_problems_point_into_the_keras_config():
    config = sequential(layer("Conv2D", "conv", filters=2, kernel_size=[3, 3]), dense("dense", 3), shape=(6, 6, 1))
    with pytest.raises(InteropError) as caught:
        from_keras(config)
    (found,) = caught.value.errors
    assert (found.where, found.code) == ("config.layers[2]", "needs-flatten")
    assert found.message == "layer 'dense': dense takes a vector of features, but receives the 4×4×2 output of conv"


@pytest.mark.parametrize("initializer, init", [
    ({"class_name": "GlorotUniform", "config": {"seed": None}}, None),
    ({"class_name": "HeNormal", "config": {"seed": None}}, "he_normal"),
    ({"class_name": "Zeros", "config": {}}, "zeros"),
    ({"class_name": "RandomUniform", "config": {"minval": 0.0, "maxval": 0.5, "seed": None}},
     {"type": "uniform", "low": 0.0, "high": 0.5}),
    ({"class_name": "RandomNormal", "config": {"mean": 1.0, "stddev": 0.1, "seed": None}},
     {"type": "normal", "mean": 1.0, "std": 0.1}),
    ({"class_name": "VarianceScaling", "config": {"scale": 1.0, "mode": "fan_avg", "distribution": "uniform"}}, None),
    ({"class_name": "VarianceScaling", "config": {"scale": 2.0, "mode": "fan_in", "distribution": "truncated_normal"}},
     "he_normal"),
    ("he_normal", "he_normal"),
])
def test_initializers(initializer, init):
    spec = from_keras(sequential(dense("d", 3, kernel_initializer=initializer))).to_dict()
    assert spec["layers"][0].get("init") == init


@pytest.mark.parametrize("initializer", [
    {"class_name": "GlorotNormal", "config": {"seed": None}},
    {"class_name": "VarianceScaling", "config": {"scale": 1.0, "mode": "fan_in", "distribution": "uniform"}},
    {"class_name": "Orthogonal", "config": {"gain": 1.0, "seed": None}},
])
def test_initializers_netspec_lacks(initializer):
    assert problems(sequential(dense("d", 3, kernel_initializer=initializer))) == [
        ("config.layers[1].config.kernel_initializer", "unsupported-option")]


def test_a_bias_that_does_not_start_at_zero():
    config = sequential(dense("d", 3, bias_initializer={"class_name": "Ones", "config": {}}))
    assert problems(config) == [("config.layers[1].config.bias_initializer", "unsupported-option")]


@pytest.mark.parametrize("activation_layer, expected", [
    (layer("ReLU", "a", max_value=None, negative_slope=0.0, threshold=0.0), {"type": "relu"}),
    (layer("ReLU", "a", negative_slope=0.1), {"type": "leaky_relu", "alpha": 0.1}),
    (layer("LeakyReLU", "a", negative_slope=0.2), {"type": "leaky_relu", "alpha": 0.2}),
    (layer("LeakyReLU", "a", alpha=0.3), {"type": "leaky_relu", "alpha": 0.3}),
    (layer("ELU", "a", alpha=0.5), {"type": "elu", "alpha": 0.5}),
    (layer("Softmax", "a", axis=-1), {"type": "softmax"}),
    (layer("Activation", "a", activation="linear"), {"type": "linear"}),
    (layer("Activation", "a", activation="leaky_relu"), {"type": "leaky_relu", "alpha": 0.2}),
])
def test_activation_layers(activation_layer, expected):
    assert from_keras(sequential(activation_layer)).to_dict()["layers"] == [{**expected, "name": "a"}]


def test_pooling_and_reshape_options():
    config = sequential(layer("MaxPooling2D", "m", pool_size=[3, 3], strides=[1, 1], padding="same",
                              data_format="channels_last"),
                        layer("AveragePooling2D", "a", pool_size=[2, 2], strides=None, padding="valid"),
                        layer("GlobalMaxPooling2D", "g", keepdims=False), layer("Reshape", "r", target_shape=[-1, 2]),
                        shape=(8, 8, 4))
    assert from_keras(config).to_dict()["layers"] == [
        {"type": "max_pool2d", "name": "m", "pool_size": 3, "strides": 1, "padding": "same"},
        {"type": "avg_pool2d", "name": "a"}, {"type": "global_max_pool", "name": "g"},
        {"type": "reshape", "name": "r", "shape": [-1, 2]}]


def test_concatenate_axes_count_the_batch_in_keras():
    def model(axis):
        tensors = [{"class_name": "__keras_tensor__", "config": {"keras_history": [n, 0, 0]}} for n in ("a", "b")]
        return {"class_name": "Functional", "config": {"name": "f", "layers": [
            {**layer("InputLayer", "a", batch_shape=[None, 4, 2]), "name": "a", "inbound_nodes": []},
            {**layer("InputLayer", "b", batch_shape=[None, 4, 2]), "name": "b", "inbound_nodes": []},
            {**layer("Concatenate", "c", axis=axis), "name": "c", "inbound_nodes": [{"args": [tensors], "kwargs": {}}]}],
            "input_layers": [["a", 0, 0], ["b", 0, 0]], "output_layers": [["c", 0, 0]]}}

    assert netspec.infer(from_keras(model(1))).output_shape == (8, 2)
    assert netspec.infer(from_keras(model(2))).output_shape == (4, 4)
    assert netspec.infer(from_keras(model(-1))).output_shape == (4, 4)
    assert problems(model(0)) == [("config.layers[2].config.axis", "unsupported-option")]


def test_dtype_policies():
    config = sequential(dense("d", 3))
    config["config"]["layers"][1]["config"]["dtype"] = {"class_name": "DTypePolicy", "config": {"name": "float64"}}
    config["config"]["layers"][0]["config"]["dtype"] = "float64"
    assert from_keras(config).dtype == "float64"
    config["config"]["layers"][1]["config"]["dtype"] = {"class_name": "DTypePolicy", "config": {"name": "mixed_float16"}}
    assert problems(config) == [("config.layers[1].config.dtype", "unsupported-option")]


def keras3_compile_config(optimizer, loss, metrics=("accuracy",)):
    return {"optimizer": optimizer, "loss": loss, "loss_weights": None, "metrics": list(metrics),
            "weighted_metrics": None, "run_eagerly": False, "steps_per_execution": 1, "jit_compile": False}


ADAM = {"module": "keras.optimizers", "class_name": "Adam", "registered_name": None, "config": {
    "name": "adam", "learning_rate": 0.009999999776482582, "weight_decay": None, "clipnorm": None,
    "global_clipnorm": None, "clipvalue": None, "use_ema": False, "ema_momentum": 0.99, "ema_overwrite_frequency": None,
    "loss_scale_factor": None, "gradient_accumulation_steps": None, "beta_1": 0.9, "beta_2": 0.999, "epsilon": 1e-07,
    "amsgrad": False}}


def test_a_keras_3_compile_config_gives_the_loss_optimizer_and_metrics():
    loss = {"module": "keras.losses", "class_name": "CategoricalCrossentropy", "registered_name": None,
            "config": {"name": "categorical_crossentropy", "reduction": "sum_over_batch_size", "from_logits": True,
                       "label_smoothing": 0.0, "axis": -1}}
    spec = from_keras(sequential(dense("d", 3), compile_config=keras3_compile_config(ADAM, loss))).to_dict()
    assert spec["loss"] == {"type": "categorical_crossentropy", "from_logits": True}
    assert spec["train"] == {"optimizer": {"type": "adam", "learning_rate": 0.01}, "metrics": ["accuracy"]}


def test_what_compile_settings_netspec_lacks():
    optimizer = {**ADAM, "config": {**ADAM["config"], "amsgrad": True, "clipnorm": 1.0,
                                    "learning_rate": {"class_name": "ExponentialDecay", "config": {}}}}
    config = sequential(dense("d", 3), compile_config={**keras3_compile_config(optimizer, "hinge", ["AUC"]),
                                                       "loss_weights": [1.0]})
    assert problems(config) == [
        ("compile_config.optimizer.config.learning_rate", "unsupported-option"),
        ("compile_config.optimizer.config.amsgrad", "unsupported-option"),
        ("compile_config.optimizer.config.clipnorm", "unsupported-option"),
        ("compile_config.loss", "unsupported-option"),
        ("compile_config.metrics[0]", "unsupported-option"),
        ("compile_config.loss_weights", "unsupported-option"),
    ]


@pytest.mark.parametrize("loss, expected", [
    ("mse", "mse"), ("mean_absolute_error", "mae"), ("sparse_categorical_crossentropy", "categorical_crossentropy"),
    ("binary_crossentropy", "binary_crossentropy"),
])
def test_losses(loss, expected):
    assert from_keras(sequential(dense("d", 3), compile_config=keras3_compile_config("sgd", loss))).to_dict()["loss"] \
        == expected


def test_dropout_and_normalization():
    config = sequential(layer("Dropout", "drop", rate=0.25, noise_shape=None, seed=None),
                        layer("BatchNormalization", "bn", axis=-1, momentum=0.9, epsilon=0.001, center=True,
                              scale=False, beta_initializer={"class_name": "Zeros", "config": {}},
                              gamma_initializer={"class_name": "Ones", "config": {}},
                              moving_mean_initializer={"class_name": "Zeros", "config": {}},
                              moving_variance_initializer={"class_name": "Ones", "config": {}},
                              beta_regularizer=None, gamma_regularizer=None, beta_constraint=None,
                              gamma_constraint=None, synchronized=False),
                        layer("LayerNormalization", "ln", axis=[2], epsilon=1e-5, center=False, scale=True,
                              rms_scaling=False), shape=(3, 4))
    assert from_keras(config).to_dict()["layers"] == [
        {"type": "dropout", "name": "drop", "rate": 0.25},
        {"type": "batch_norm", "name": "bn", "momentum": 0.9, "scale": False},
        {"type": "layer_norm", "name": "ln", "epsilon": 1e-5, "center": False}]
    wrong_axis = sequential(layer("LayerNormalization", "ln", axis=[1]), shape=(3, 4))
    assert problems(wrong_axis) == [("config.layers[1].config.axis", "unsupported-option")]


def test_regularizers():
    config = sequential(dense("d", 3, kernel_regularizer={"class_name": "L2", "config": {"l2": 0.0010000000474974513}},
                              bias_regularizer={"class_name": "L1L2", "config": {"l1": 0.01, "l2": 0.0}}))
    layers = from_keras(config).to_dict()["layers"]
    assert (layers[0]["regularizer"], layers[0]["bias_regularizer"]) == ({"l2": 0.001}, {"l1": 0.01})
    activity = sequential(dense("d", 3, activity_regularizer={"class_name": "L2", "config": {"l2": 0.1}}))
    assert problems(activity) == [("config.layers[1].config.activity_regularizer", "unsupported-option")]


def _paths(tree, path=()):
    yield path
    if isinstance(tree, dict):
        for key, value in tree.items():
            yield from _paths(value, path + (key,))
    elif isinstance(tree, list):
        for index, value in enumerate(tree):
            yield from _paths(value, path + (index,))


MUTANTS = [None, 0, -1, 2, 1.5, True, "x", "same", [], [None], [3, 3], {}, {"class_name": 3}, {"config": []}]
CONFIGS = [json.loads((FIXTURES / name).read_text()) for name in
           ("tf_keras2_sequential.json", "tf_keras2_functional.json", "keras20_sequential.json", "keras20_functional.json")]


def test_a_mutated_config_never_raises_anything_but_an_interop_error():
    """Paths of the fixtures set to wrong values or removed, a few at a time:
    a spec or diagnostics, never a traceback."""
    import copy
    import random

    rng = random.Random(0)
    for _ in range(600):
        config = copy.deepcopy(rng.choice(CONFIGS))
        for _ in range(rng.randint(1, 3)):
            path = rng.choice(list(_paths(config))[1:])
            parent = config
            for part in path[:-1]:
                parent = parent[part]
            if isinstance(parent, dict) and rng.random() < 0.3:
                del parent[path[-1]]
            else:
                parent[path[-1]] = copy.deepcopy(rng.choice(MUTANTS))
        try:
            from_keras(config)
        except InteropError as error:
            assert error.errors and all(d.code and d.message for d in error.errors)
