"""Keras models built and saved by Keras itself (Keras 3, torch backend), in
each format — ``.keras``, full-model ``.h5``, ``to_json()`` with a
``.weights.h5`` — and tf.keras 2.x / Keras 2.0 weights files written by hand
in their layout; imported with their weights, they give Keras's outputs to
1e-5. Weights of another model are refused, both shapes named."""

import json
import os
from pathlib import Path

import numpy as np
import pytest
from keras_files import write_legacy

os.environ.setdefault("KERAS_BACKEND", "torch")
keras = pytest.importorskip("keras")
pytest.importorskip("h5py")

import netspec  # noqa: E402
from netspec.errors import InteropError  # noqa: E402
from netspec.interop.keras import from_keras, from_keras_model  # noqa: E402

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "keras"
L = keras.layers


def mlp():
    model = keras.Sequential([keras.Input((6,)), L.Dense(16, activation="relu", kernel_initializer="he_normal"),
                              L.Dropout(0.3), L.Dense(8, activation="tanh"), L.Dense(3, activation="softmax")])
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="categorical_crossentropy", metrics=["accuracy"])
    return model


def cnn():
    model = keras.Sequential([
        keras.Input((12, 10, 3)), L.Conv2D(6, 3, strides=2, padding="same", activation="relu"),
        L.MaxPooling2D(2, padding="same"), L.BatchNormalization(), L.Conv2D(4, (2, 3)), L.LeakyReLU(0.2),
        L.AveragePooling2D(3, strides=1, padding="same"), L.Flatten(), L.Dense(5), L.ELU(), L.Dense(2), L.Softmax()])
    model.compile(optimizer=keras.optimizers.SGD(0.05, momentum=0.9), loss="mse")
    return model


def sequence():
    model = keras.Sequential([
        keras.Input((20, 2)), L.Conv1D(4, 5, padding="same", dilation_rate=2, activation="elu"),
        L.MaxPooling1D(3, strides=2), L.AveragePooling1D(2), L.Conv1D(3, 3, strides=2, use_bias=False),
        L.LayerNormalization(), L.GlobalAveragePooling1D(), L.Dense(2, activation="sigmoid")])
    model.compile(optimizer="rmsprop", loss="binary_crossentropy")
    return model


def reshaped():
    return keras.Sequential([keras.Input((12,)), L.Reshape((3, 4)), L.Conv1D(2, 2), L.Flatten(), L.Dense(3),
                             L.ReLU(), L.Activation("linear")])


def two_inputs():
    image, meta = keras.Input((8, 8, 1), name="image"), keras.Input((4,), name="meta")
    x = L.GlobalMaxPooling2D()(L.Conv2D(3, 3, padding="same", activation="relu")(image))
    joined = L.Concatenate()([x, meta])
    a = L.Dense(6, activation="relu")(joined)
    b = L.Dense(6)(joined)
    mixed = L.Average()([L.Add()([a, b]), L.Multiply()([a, b])])
    return keras.Model([image, meta], L.Dense(1, activation="sigmoid")(mixed))


def joined_images():
    image = keras.Input((6, 6, 2))
    a = L.Conv2D(2, 1)(image)
    b = L.Conv2D(2, 3, padding="same", activation="tanh")(image)
    rows = L.Concatenate(axis=1)([a, b])
    return keras.Model(image, L.Dense(2)(L.Flatten()(L.Concatenate(axis=-1)([rows, rows]))))


MODELS = {"mlp": mlp, "cnn": cnn, "sequence": sequence, "reshaped": reshaped, "two_inputs": two_inputs,
          "joined_images": joined_images}


def randomized(model, seed=0):
    """Every weight drawn at random (variances positive), so nothing matches by accident."""
    rng = np.random.default_rng(seed)
    for variable in model.weights:
        shape = tuple(variable.shape)
        values = rng.uniform(0.5, 2, shape) if "variance" in variable.path else rng.normal(0, 0.5, shape)
        variable.assign(values.astype("float32"))
    return model


def inputs_for(model, samples=5, seed=1):
    rng = np.random.default_rng(seed)
    return [rng.normal(size=(samples, *tensor.shape[1:])).astype("float32") for tensor in model.inputs]


def keras_output(model, X):
    return keras.ops.convert_to_numpy(model(X if len(X) > 1 else X[0]))


def netspec_output(pipeline, model, X):
    if len(X) == 1:
        return pipeline.forward(X[0])
    return pipeline.forward({tensor.name.split(":")[0]: x for tensor, x in zip(model.inputs, X)})


@pytest.fixture(scope="module", params=sorted(MODELS))
def saved(request, tmp_path_factory):
    folder = tmp_path_factory.mktemp(request.param)
    model = randomized(MODELS[request.param]())
    model.save(folder / "model.keras")
    model.save(folder / "model.h5")
    model.save_weights(folder / "model.weights.h5")
    (folder / "model.json").write_text(model.to_json())
    return request.param, model, folder


@pytest.mark.parametrize("form", ["keras", "h5", "json+weights"])
def test_a_saved_model_gives_keras_outputs(saved, form):
    name, model, folder = saved
    if form == "json+weights":
        pipeline = from_keras_model(folder / "model.json", weights=folder / "model.weights.h5")
    else:
        pipeline = from_keras_model(folder / f"model.{form}")
    assert pipeline.dtype == np.float32
    X = inputs_for(model)
    np.testing.assert_allclose(netspec_output(pipeline, model, X), keras_output(model, X), rtol=1e-5, atol=1e-5)


def test_every_format_gives_the_same_spec(saved):
    name, model, folder = saved
    specs = [from_keras(folder / "model.keras"), from_keras(folder / "model.h5"), from_keras(folder / "model.json"),
             from_keras(model.to_json()), from_keras(json.loads(model.to_json()))]
    without_training = [spec.with_(loss=None, train=None) for spec in specs]
    assert all(spec == without_training[0] for spec in without_training)


def test_the_compile_config_gives_loss_and_optimizer(tmp_path):
    model = mlp()
    model.save(tmp_path / "model.keras")
    model.save(tmp_path / "model.h5")
    for path in (tmp_path / "model.keras", tmp_path / "model.h5"):
        spec = from_keras(path).to_dict()
        assert spec["loss"] == "categorical_crossentropy"
        assert spec["train"] == {"optimizer": {"type": "adam", "learning_rate": 0.01}, "metrics": ["accuracy"]}


def test_weights_of_another_model_are_refused_with_both_shapes(tmp_path):
    small = keras.Sequential([keras.Input((6,)), L.Dense(4, name="hidden"), L.Dense(3, name="out")])
    large = keras.Sequential([keras.Input((6,)), L.Dense(5, name="hidden"), L.Dense(3, name="out")])
    small.save_weights(tmp_path / "small.weights.h5")
    with pytest.raises(InteropError) as caught:
        from_keras_model(large.to_json(), weights=tmp_path / "small.weights.h5")
    messages = [d.message for d in caught.value.errors]
    assert {d.code for d in caught.value.errors} == {"weights-mismatch"}
    assert "layer 'hidden': its kernel is (6, 4) in the weights file but (6, 5) in the config" in messages
    assert "layer 'hidden': its bias is (4,) in the weights file but (5,) in the config" in messages
    assert "layer 'out': its kernel is (4, 3) in the weights file but (5, 3) in the config" in messages


def test_a_config_alone_has_no_weights():
    with pytest.raises(InteropError, match="holds the model's config but no weights"):
        from_keras_model(reshaped().to_json())


def test_a_weights_file_is_not_a_model(tmp_path):
    model = reshaped()
    model.save_weights(tmp_path / "model.weights.h5")
    with pytest.raises(InteropError) as caught:
        from_keras(tmp_path / "model.weights.h5")
    (found,) = caught.value.errors
    assert (found.code, found.message) == ("not-a-model", f"{tmp_path / 'model.weights.h5'} holds weights but no model config")


# ---------------------------------------------------------------- tf.keras 2.x and Keras 2.0 files

def legacy_weights(spec_like_layers, seed=0):
    """Random arrays for each layer with weights, named as tf.keras names them."""
    rng = np.random.default_rng(seed)
    return [(name, [(weight, rng.normal(0, 0.5, shape).astype("float32")) for weight, shape in weights])
            for name, weights in spec_like_layers]


TF_KERAS_SEQUENTIAL = [("dense", [("kernel", (4, 8)), ("bias", (8,))]), ("dense_1", [("kernel", (8, 8)), ("bias", (8,))]),
                       ("dense_2", [("kernel", (8, 3)), ("bias", (3,))])]


def softmax(x):
    e = np.exp(x - x.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def test_a_tf_keras_weights_file(tmp_path):
    layers = legacy_weights(TF_KERAS_SEQUENTIAL)
    write_legacy(tmp_path / "weights.h5", layers)
    pipeline = from_keras_model(FIXTURES / "tf_keras2_sequential.json", weights=tmp_path / "weights.h5")
    (w1, b1), (w2, b2), (w3, b3) = [[array for _, array in weights] for _, weights in layers]
    X = np.random.default_rng(2).normal(size=(5, 4)).astype("float32")
    expected = softmax(np.tanh(np.maximum(X @ w1 + b1, 0) @ w2 + b2) @ w3 + b3)  # the fixture's three dense layers
    np.testing.assert_allclose(pipeline.forward(X), expected, rtol=1e-5, atol=1e-6)


def test_a_tf_keras_full_model_file_with_its_training_config(tmp_path):
    config = json.loads((FIXTURES / "tf_keras2_sequential.json").read_text())
    training = json.loads((FIXTURES / "tf_keras2_training_config.json").read_text())
    layers = legacy_weights(TF_KERAS_SEQUENTIAL)
    write_legacy(tmp_path / "model.h5", layers, model_config=config, training_config=training)
    spec = from_keras(tmp_path / "model.h5").to_dict()
    assert spec["loss"] == "categorical_crossentropy"
    assert spec["train"] == {"optimizer": "adam", "metrics": ["accuracy"]}
    pipeline = from_keras_model(tmp_path / "model.h5")
    assert np.array_equal(pipeline.layers[0].weights, layers[0][1][0][1])
    assert np.array_equal(pipeline.layers[0].bias, layers[0][1][1][1][None, :])


def test_a_tf_keras_weights_file_of_another_model(tmp_path):
    """tf.keras loads a weights file by position, layer after layer: so does netspec, and names both shapes."""
    fewer = legacy_weights([("dense", [("kernel", (4, 8)), ("bias", (8,))]), ("dense_9", [("kernel", (8, 3))])])
    write_legacy(tmp_path / "fewer.h5", fewer)
    with pytest.raises(InteropError) as caught:
        from_keras_model(FIXTURES / "tf_keras2_sequential.json", weights=tmp_path / "fewer.h5")
    assert [(d.where, d.message) for d in caught.value.errors] == [
        ("layer_names", "the weights file holds weights for 2 layers (dense, dense_9), and the model has 3 with "
                        "weights (dense, dense_1, dense_2)")]
    wider = legacy_weights([(name, [(w, (shape[0], 9) if w == "kernel" and name == "dense_1" else shape)
                                    for w, shape in weights]) for name, weights in TF_KERAS_SEQUENTIAL])
    write_legacy(tmp_path / "wider.h5", wider)
    with pytest.raises(InteropError) as caught:
        from_keras_model(FIXTURES / "tf_keras2_sequential.json", weights=tmp_path / "wider.h5")
    assert [(d.where, d.message) for d in caught.value.errors] == [
        ("dense_1/dense_1/kernel:0", "layer 'dense_1': its kernel is (8, 9) in the weights file but (8, 8) in the config")]


def test_keras_2_0_files_against_the_same_model_in_keras_3(tmp_path):
    config = json.loads((FIXTURES / "keras20_sequential.json").read_text())
    training = json.loads((FIXTURES / "keras20_training_config.json").read_text())
    layers = legacy_weights([("conv1d_1", [("kernel", (3, 2, 4)), ("bias", (4,))]),
                             ("average_pooling1d_1", []), ("flatten_1", []),
                             ("dense_1", [("kernel", (16, 2)), ("bias", (2,))]), ("activation_1", [])])
    write_legacy(tmp_path / "model.h5", layers, model_config=config, training_config=training, keras_version="2.0.8")
    assert from_keras(tmp_path / "model.h5").to_dict()["train"] == {
        "optimizer": {"type": "sgd", "momentum": 0.9, "nesterov": True, "momentum_buffer": "steps"},  # lr: the default
        "metrics": ["accuracy"]}
    pipeline = from_keras_model(tmp_path / "model.h5")
    same = keras.Sequential([keras.Input((10, 2)), L.Conv1D(4, 3, activation="relu"), L.AveragePooling1D(2),
                             L.Flatten(), L.Dense(2), L.Activation("softmax")])
    same.set_weights([array for _, weights in layers for _, array in weights])
    X = inputs_for(same)
    np.testing.assert_allclose(pipeline.forward(X[0]), keras_output(same, X), rtol=1e-5, atol=1e-6)


def test_a_tf_keras_functional_model_against_the_same_model_in_keras_3(tmp_path):
    layers = legacy_weights([("conv2d", [("kernel", (3, 3, 1, 2)), ("bias", (2,))]),
                             ("hidden", [("kernel", (21, 5)), ("bias", (5,))]), ("skip", [("kernel", (21, 5))]),
                             ("out", [("kernel", (5, 1)), ("bias", (1,))])])
    write_legacy(tmp_path / "weights.h5", layers)
    pipeline = from_keras_model(FIXTURES / "tf_keras2_functional.json", weights=tmp_path / "weights.h5")
    image, meta = keras.Input((6, 6, 1), name="image"), keras.Input((3,), name="meta")
    x = L.Flatten()(L.MaxPooling2D()(L.Conv2D(2, 3, padding="same", activation="relu", name="conv2d")(image)))
    joined = L.Concatenate()([x, meta])
    added = L.Add()([L.Dense(5, activation="elu", name="hidden")(joined), L.Dense(5, use_bias=False, name="skip")(joined)])
    same = keras.Model([image, meta], L.Dense(1, activation="sigmoid", name="out")(added))
    for name, weights in layers:
        same.get_layer(name).set_weights([array for _, array in weights])
    X = inputs_for(same)
    np.testing.assert_allclose(pipeline.forward({"image": X[0], "meta": X[1]}), keras_output(same, X),
                               rtol=1e-5, atol=1e-6)


def test_an_imported_model_trains_in_netspec():
    model = randomized(reshaped())
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="mse")
    spec = from_keras(json.loads(model.to_json()) | {"compile_config": model.get_compile_config()})
    pipeline = netspec.compile(spec.with_(seed=0))
    X = np.random.default_rng(0).normal(size=(64, 12)).astype("float32")
    y = X[:, :3] ** 2
    history = pipeline.fit(X, y, epochs=30, verbose=0)
    assert history["loss"][-1] < history["loss"][0]
