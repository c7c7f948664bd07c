"""Graphs at run time: every gradient against finite differences and against
PyTorch (float64, 1e-10), training on named inputs and its data errors,
checkpoints and resume, the chain's own code path, and a property over
random small graphs."""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import netspec
from netspec.errors import DataError, SpecError
from netspec.geometry import padding_amounts
from netspec.runtime.gradcheck import numerical_gradient
from netspec.runtime.graph import Inputs


def dense(neurons, **options):
    return {"type": "dense", "neurons": neurons, **options}


def conv(filters, kernel_size, **options):
    return {"type": "conv2d", "filters": filters, "kernel_size": kernel_size, **options}


def gradients_and_differences(pipeline, X, y):
    """Each parameter's analytic gradient of the mean loss, and its central differences."""
    targets = pipeline.targets(y, len(y))
    pipeline.forward(X, training=True)
    pipeline.backward(targets)
    analytic = [g.copy() for g in pipeline.gradients()]

    def loss():
        return pipeline.loss_function.calculate(pipeline.forward(X, training=True), targets)

    return analytic, [numerical_gradient(loss, parameter) for parameter in pipeline.parameters()]


def assert_gradients_match(pipeline, X, y):
    analytic, numeric = gradients_and_differences(pipeline, X, y)
    assert len(analytic) == len(numeric) == len(pipeline.parameters()) > 0
    for index, (a, n) in enumerate(zip(analytic, numeric)):
        np.testing.assert_allclose(a, n, rtol=1e-6, atol=1e-8, err_msg=f"parameter {index}")
    return analytic


RNG = np.random.default_rng(17)

# Smooth activations, so that central differences never straddle a kink.
RESIDUAL = {
    "input": {"features": 3}, "seed": 1,
    "layers": [dense(4, activation="tanh", name="stem"), dense(4, activation="tanh"), dense(4),
               {"type": "add", "inputs": ["stem", "dense_2"], "name": "block"},
               dense(4, activation="sigmoid"), dense(4),
               {"type": "add", "inputs": ["block", "dense_4"]}, dense(3), {"type": "softmax"}],
    "loss": "categorical_crossentropy",
}

TWO_BRANCHES = {
    "input": {"features": 3}, "seed": 2,
    "layers": [dense(4, activation="tanh", name="left"), dense(2, activation="sigmoid", inputs="input", name="right"),
               dense(3, activation="elu", inputs="input", name="third"),
               {"type": "concatenate", "inputs": ["left", "right", "third"]}, dense(3), {"type": "softmax"}],
    "loss": "categorical_crossentropy",
}

TWO_INPUTS = {
    "input": {"image": {"shape": [6, 5, 2]}, "meta": {"features": 3}}, "seed": 3,
    "layers": [conv(3, 3, padding="same", activation="tanh", inputs="image"),
               conv(2, [2, 3], strides=[2, 1], activation="sigmoid"), {"type": "flatten", "name": "seen"},
               dense(4, activation="tanh", inputs="meta", name="told"),
               {"type": "concatenate", "inputs": ["seen", "told"]}, dense(3), {"type": "softmax"}],
    "loss": "categorical_crossentropy",
}

FAN_OUT = {  # h is read by three layers; its gradient is the sum of theirs
    "input": {"features": 3}, "seed": 4,
    "layers": [dense(4, activation="tanh", name="h"), dense(4, activation="sigmoid", name="b1"),
               dense(4, activation="tanh", inputs="h", name="b2"), {"type": "add", "inputs": ["b1", "b2", "h"]},
               dense(2)],
    "loss": "mse",
}

MERGES = {  # multiply and average, one reading the same layer twice and one reading the input itself
    "input": {"features": 3}, "seed": 5,
    "layers": [dense(3, activation="tanh", name="a"), dense(3, activation="sigmoid", inputs="input", name="b"),
               {"type": "multiply", "inputs": ["a", "b", "a"], "name": "product"},
               {"type": "average", "inputs": ["product", "input", "b"]}, dense(2)],
    "loss": "mse",
}


def vectors(n=5, features=3):
    return RNG.normal(size=(n, features))


def two_input_data(n=5):
    return {"image": RNG.normal(size=(n, 6, 5, 2)), "meta": RNG.normal(size=(n, 3))}


# ---------------------------------------------------------------- finite differences

@pytest.mark.parametrize("spec, X, y", [
    (RESIDUAL, vectors(), RNG.integers(0, 3, size=5)),
    (TWO_BRANCHES, vectors(), RNG.integers(0, 3, size=5)),
    (TWO_INPUTS, two_input_data(), RNG.integers(0, 3, size=5)),
    (FAN_OUT, vectors(), RNG.normal(size=(5, 2))),
    (MERGES, vectors(), RNG.normal(size=(5, 2))),
], ids=["residual", "concatenate", "two-inputs", "fan-out", "multiply-average"])
def test_every_gradient_matches_finite_differences(spec, X, y):
    pipeline = netspec.compile(spec)
    assert pipeline.graph is not None
    assert_gradients_match(pipeline, X, y)


def test_a_layer_after_the_named_output_gets_zero_gradients():
    spec = {"input": {"features": 3}, "seed": 6, "output": "head", "loss": "mse",
            "layers": [dense(4, activation="tanh", name="h"), dense(2, name="head"),
                       dense(3, inputs="head", name="after"), dense(2, inputs="h", activation="tanh", name="aside")]}
    pipeline = netspec.compile(spec)
    assert [(d.where, d.code) for d in pipeline.warnings if d.code == "unused-output"] == [
        ("layers[2]", "unused-output"), ("layers[3]", "unused-output")]
    X, y = vectors(), RNG.normal(size=(5, 2))
    output = pipeline.forward(X)
    assert output.shape == (5, 2) and pipeline.output is output
    assert np.array_equal(output, pipeline.layers[2].output)
    analytic = assert_gradients_match(pipeline, X, y)
    assert [float(np.abs(g).max()) > 0 for g in analytic] == [True] * 4 + [False] * 4
    assert pipeline.loss(X, y) == pipeline.loss_function.calculate(pipeline.layers[2].output, y)


def test_a_name_reads_after_its_activation_shorthand():
    spec = {"input": {"features": 3}, "seed": 7, "output": "twice",
            "layers": [dense(4, activation="relu", name="h"), {"type": "add", "inputs": ["h", "h"], "name": "twice"}]}
    pipeline = netspec.compile(spec)
    X = vectors(8)
    hidden = X @ pipeline.layers[0].weights + pipeline.layers[0].bias
    np.testing.assert_array_equal(pipeline.forward(X), 2 * np.maximum(hidden, 0))


def test_an_input_named_like_a_generated_name_is_read_as_the_input():
    spec = {"input": {"dense_1": {"features": 2}, "x": {"features": 5}}, "seed": 9,
            "layers": [dense(3, inputs="x"), dense(4, inputs="dense_1")]}
    pipeline = netspec.compile(spec)
    X = {"dense_1": RNG.normal(size=(3, 2)), "x": RNG.normal(size=(3, 5))}
    second = pipeline.layers[1]
    np.testing.assert_array_equal(pipeline.forward(X), X["dense_1"] @ second.weights + second.bias)


def test_the_fused_softmax_gradient_is_used_at_a_named_output():
    """Cross-entropy on a softmax output is fused wherever the output sits."""
    spec = {"input": {"features": 3}, "seed": 8, "output": "probabilities", "loss": "categorical_crossentropy",
            "layers": [dense(3, activation="tanh"), dense(3), {"type": "softmax", "name": "probabilities"},
                       dense(2, inputs="tanh_1")]}
    pipeline = netspec.compile(spec)
    assert_gradients_match(pipeline, vectors(), RNG.integers(0, 3, size=5))


# ---------------------------------------------------------------- PyTorch parity

def torch_cce_of_probabilities(torch, p, labels):
    return torch.nn.functional.nll_loss(torch.log(torch.clamp(p, 1e-7, 1 - 1e-7)), labels)


def torch_graph(torch, pipeline, shapes, X):
    """The compiled graph rebuilt in PyTorch, channels-last as netspec keeps
    tensors (convolutions permute to channels-first and back), from the
    pipeline's own parameters as leaf tensors in pipeline.parameters() order.
    Returns every step's output by name, and the leaves."""
    F = torch.nn.functional
    leaves = []

    def leaf(array):
        leaves.append(torch.tensor(array, dtype=torch.float64, requires_grad=True))
        return leaves[-1]

    arrays = X if isinstance(X, dict) else {"input": X}
    values = {name: torch.tensor(array, dtype=torch.float64) for name, array in arrays.items()}
    for step, layer in zip(shapes.layers, pipeline.layers):
        received = [values[source] for source in step.inputs]
        hidden, kind = received[0], step.type
        if kind == "dense":
            weights = leaf(layer.weights)
            bias = leaf(layer.bias) if layer.bias is not None else None
            out = F.linear(hidden, weights.T, bias[0] if bias is not None else None)
        elif kind == "conv2d":
            kernel, strides, dilation, padding = step.params.window()
            weights = leaf(layer.weights)
            bias = leaf(layer.bias) if layer.bias is not None else None
            pads = [padding_amounts(n, k, s, padding, d)
                    for n, k, s, d in zip(step.in_shape[:-1], kernel, strides, dilation)]
            flat_pads = tuple(p for pair in reversed(pads) for p in pair)
            out = F.conv2d(F.pad(hidden.permute(0, 3, 1, 2), flat_pads), weights.permute(3, 2, 0, 1), bias,
                           stride=strides, dilation=dilation).permute(0, 2, 3, 1)
        elif kind == "flatten":
            out = hidden.reshape(len(hidden), -1)  # channels-last, as netspec flattens
        elif kind in ("tanh", "sigmoid"):
            out = getattr(torch, kind)(hidden)
        elif kind in ("relu", "elu"):
            out = getattr(F, kind)(hidden)
        elif kind == "softmax":
            out = torch.softmax(hidden, dim=-1)
        elif kind == "add":
            out = sum(received[1:], received[0])
        elif kind == "multiply":
            out = received[0]
            for other in received[1:]:
                out = out * other
        elif kind == "average":
            out = sum(received[1:], received[0]) / len(received)
        elif kind == "concatenate":
            out = torch.cat(received, dim=step.params.axis % len(step.in_shape) + 1)
        else:
            raise AssertionError(f"no PyTorch counterpart written for {kind}")
        values[step.name] = out
    return values, leaves


RESIDUAL_RELU = {
    "input": {"features": 4}, "seed": 21, "dtype": "float64",
    "layers": [dense(8, activation="relu", init="he_normal", name="stem"), dense(8, activation="relu"), dense(8),
               {"type": "add", "inputs": ["stem", "dense_2"]}, {"type": "relu"}, dense(8, activation="relu"),
               dense(8, bias=False), {"type": "add", "inputs": ["relu_3", "dense_4"]}, {"type": "relu"},
               dense(3), {"type": "softmax"}],
    "loss": "categorical_crossentropy",
}

PARITY_CASES = [
    pytest.param(RESIDUAL_RELU, lambda: RNG.normal(size=(7, 4)), id="residual-mlp"),
    pytest.param({**TWO_BRANCHES, "layers": [dense(5, activation="relu", name="left"), *TWO_BRANCHES["layers"][1:]]},
                 lambda: RNG.normal(size=(7, 3)), id="two-branches-concatenate"),
    pytest.param({**TWO_INPUTS, "layers": [conv(3, 3, padding="same", activation="relu", inputs="image"),
                                           *TWO_INPUTS["layers"][1:]]},
                 lambda: {"image": RNG.normal(size=(7, 6, 5, 2)), "meta": RNG.normal(size=(7, 3))}, id="two-inputs"),
]


@pytest.mark.parametrize("spec, make_inputs", PARITY_CASES)
def test_a_graph_matches_pytorch(spec, make_inputs):
    torch = pytest.importorskip("torch")
    pipeline = netspec.compile(spec)
    shapes = netspec.infer(spec)
    X = make_inputs()
    labels = RNG.integers(0, 3, size=7)
    targets = pipeline.targets(labels, 7)

    output = pipeline.forward(X, training=True)
    loss = pipeline.loss_function.calculate(output, targets)
    pipeline.backward(targets)
    gradients = pipeline.gradients()

    values, leaves = torch_graph(torch, pipeline, shapes, X)
    expected_loss = torch_cce_of_probabilities(torch, values[shapes.output], torch.tensor(labels))
    expected_loss.backward()

    def close(actual, expected):
        np.testing.assert_allclose(actual, expected.detach().numpy(), rtol=1e-10, atol=1e-12)

    for step, layer in zip(shapes.layers, pipeline.layers):  # every step's output, not only the last
        close(layer.output, values[step.name])
    close(output, values[shapes.output])
    close(loss, expected_loss)
    close(pipeline.loss(X, labels), expected_loss)
    assert len(leaves) == len(pipeline.parameters()) == len(gradients)
    for parameter, leaf, gradient in zip(pipeline.parameters(), leaves, gradients):
        assert gradient.shape == parameter.shape
        close(gradient, leaf.grad)


# ---------------------------------------------------------------- training on named inputs

SMALL_TWO_INPUTS = {
    **TWO_INPUTS,
    "layers": [conv(2, 3, padding="same", activation="relu", inputs="image"), {"type": "flatten", "name": "seen"},
               dense(4, activation="relu", inputs="meta", name="told"),
               {"type": "concatenate", "inputs": ["seen", "told"]}, dense(3), {"type": "softmax"}],
    "train": {"optimizer": {"type": "adam", "learning_rate": 0.01}, "batch_size": 8, "epochs": 4,
              "validation_split": 0.25, "shuffle": True, "metrics": ["accuracy"]},
}


@pytest.fixture
def named_data():
    rng = np.random.default_rng(9)
    X = {"image": rng.normal(size=(30, 6, 5, 2)), "meta": rng.normal(size=(30, 3))}
    return X, rng.integers(0, 3, size=30)


def test_fit_on_named_inputs_validates_and_is_deterministic(named_data):
    X, y = named_data
    first, second = netspec.compile(SMALL_TWO_INPUTS), netspec.compile(SMALL_TWO_INPUTS)
    history = first.fit(X, y, verbose=0)
    assert history.epochs == [1, 2, 3, 4]
    assert set(history.values) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert history.values["loss"][-1] < history.values["loss"][0]
    again = second.fit(X, y, verbose=0)
    assert again.values == history.values
    assert all(np.array_equal(a, b) for a, b in zip(first.parameters(), second.parameters()))
    other = netspec.compile({**SMALL_TWO_INPUTS, "seed": 4})
    other.fit(X, y, verbose=0)
    assert not np.array_equal(other.parameters()[0], first.parameters()[0])
    assert first.predict(X).shape == (30,)
    assert set(first.evaluate(X, y)) == {"loss", "accuracy"}


def test_named_inputs_are_batched_and_shuffled_as_one_array_is():
    """One input given as an array, or by name, trains the same graph identically."""
    spec = {**RESIDUAL, "train": {"batch_size": 4, "epochs": 3, "validation_split": 0.2, "shuffle": True}}
    X, y = RNG.normal(size=(20, 3)), RNG.integers(0, 3, size=20)
    as_array, by_name = netspec.compile(spec), netspec.compile(spec)
    assert as_array.fit(X, y, verbose=0).values == by_name.fit({"input": X}, y, verbose=0).values
    assert all(np.array_equal(a, b) for a, b in zip(as_array.parameters(), by_name.parameters()))


def test_inputs_slice_every_array_by_the_same_rows():
    inputs = Inputs({"a": np.arange(5), "b": np.arange(10).reshape(5, 2)})
    assert len(inputs) == 5
    picked = inputs[np.array([4, 0])]
    assert picked.arrays["a"].tolist() == [4, 0] and picked.arrays["b"].tolist() == [[8, 9], [0, 1]]
    assert len(inputs[1:3]) == 2


@pytest.mark.parametrize("change, message", [
    (lambda X: {"image": X["image"]}, r"^X has no array for the input 'meta' \(inputs: image, meta\)$"),
    (lambda X: {"image": X["image"], "mta": X["meta"]},
     r"""^X has an array for 'mta', which is not an input of the network \(did you mean "meta"\?\)$"""),
    (lambda X: {**X, "labels": X["meta"]}, r"^X has an array for 'labels', which is not an input of the network "
                                          r"\(inputs: image, meta\)$"),
    (lambda X: {**X, "image": X["image"][..., 0]}, r"^input 'image': .*\(samples, 6, 5, 2\)"),
    (lambda X: {**X, "meta": X["meta"][:, :2]}, r"^input 'meta': .*3"),
    (lambda X: {**X, "meta": X["meta"][:20]}, r"^the inputs have different numbers of rows: image 30, meta 20$"),
    (lambda X: X["meta"], r"^the network has 2 inputs \(image, meta\); pass X as a mapping of each input's name to "
                          r"its array, got ndarray$"),
], ids=["missing", "misspelt", "unknown", "image-shape", "meta-width", "rows", "not-a-mapping"])
def test_data_errors_of_named_inputs(named_data, change, message):
    X, y = named_data
    pipeline = netspec.compile(SMALL_TWO_INPUTS)
    with pytest.raises(DataError, match=message):
        pipeline.forward(change(X))
    with pytest.raises(DataError, match=message):
        pipeline.fit(change(X), y, verbose=0)


def test_targets_must_have_a_row_per_sample_of_the_inputs(named_data):
    X, y = named_data
    with pytest.raises(DataError, match="y has 10 rows but X has 30"):
        netspec.compile(SMALL_TWO_INPUTS).fit(X, y[:10], verbose=0)


# ---------------------------------------------------------------- checkpoints

CHECKPOINT_CASES = [
    pytest.param({**RESIDUAL, "input": {"features": 2},
                  "train": {"optimizer": {"type": "adam", "learning_rate": 0.01}, "batch_size": 8}},
                 lambda: netspec.data.spiral(10, 3, seed=2), id="residual"),
    pytest.param(SMALL_TWO_INPUTS,
                 lambda: ({"image": np.random.default_rng(1).normal(size=(24, 6, 5, 2)),
                           "meta": np.random.default_rng(2).normal(size=(24, 3))},
                          np.random.default_rng(3).integers(0, 3, size=24)), id="two-inputs"),
]


@pytest.mark.parametrize("spec, make_data", CHECKPOINT_CASES)
def test_a_graph_restores_bit_for_bit(tmp_path, spec, make_data):
    X, y = make_data()
    pipeline = netspec.compile(spec)
    pipeline.fit(X, y, epochs=3, verbose=0)
    pipeline.save(tmp_path / "model.npz")
    restored = netspec.load_pipeline(tmp_path / "model.npz")
    assert restored.graph == pipeline.graph and restored.input_shapes == pipeline.input_shapes
    assert all(np.array_equal(a, b) and a.dtype == b.dtype for a, b in zip(pipeline.parameters(), restored.parameters()))
    assert np.array_equal(pipeline.forward(X), restored.forward(X))
    assert np.array_equal(pipeline.predict(X), restored.predict(X))
    assert restored.spec == pipeline.spec and restored.summary() == pipeline.summary()


@pytest.mark.parametrize("spec, make_data", CHECKPOINT_CASES)
def test_a_graph_resumes_exactly_as_uninterrupted_training(tmp_path, spec, make_data):
    X, y = make_data()
    straight = netspec.compile(spec)
    straight.fit(X, y, epochs=6, verbose=0)

    first = netspec.compile(spec)
    first.fit(X, y, epochs=3, verbose=0)
    first.save(tmp_path / "half.npz")
    resumed = netspec.load_pipeline(tmp_path / "half.npz")
    history = resumed.fit(X, y, epochs=3, verbose=0)

    assert history.epochs == [4, 5, 6]
    assert all(np.array_equal(a, b) for a, b in zip(straight.parameters(), resumed.parameters()))
    assert np.array_equal(straight.forward(X), resumed.forward(X))


# ---------------------------------------------------------------- chains keep their own path

CHAIN = {"input": {"features": 3}, "seed": 10, "loss": "categorical_crossentropy",
         "layers": [dense(5, activation="tanh"), dense(4, activation="sigmoid"), dense(3), {"type": "softmax"}],
         "train": {"batch_size": 4, "epochs": 3}}


@pytest.mark.parametrize("source", ["examples/spiral.json", "examples/cnn.json", CHAIN], ids=["spiral", "cnn", "chain"])
def test_a_chain_has_no_graph(source):
    pipeline = netspec.compile(source)
    assert pipeline.graph is None and pipeline.input_shape is not None


def test_a_chain_written_as_a_graph_computes_what_the_chain_does():
    chain = netspec.compile(CHAIN)
    graph = netspec.compile({**CHAIN, "output": "softmax_1"})
    assert chain.graph is None and graph.graph is not None
    assert all(np.array_equal(a, b) for a, b in zip(chain.parameters(), graph.parameters()))
    X, y = RNG.normal(size=(12, 3)), RNG.integers(0, 3, size=12)
    assert np.array_equal(chain.forward(X), graph.forward(X))
    for pipeline in (chain, graph):
        pipeline.forward(X, training=True)
        pipeline.backward(pipeline.targets(y, 12))
    assert all(np.array_equal(a, b) for a, b in zip(chain.gradients(), graph.gradients()))
    assert chain.fit(X, y, verbose=0).values == graph.fit(X, y, verbose=0).values
    assert all(np.array_equal(a, b) for a, b in zip(chain.parameters(), graph.parameters()))


def test_a_chain_takes_its_input_by_name_too():
    pipeline = netspec.compile(CHAIN)
    X, y = RNG.normal(size=(6, 3)), RNG.integers(0, 3, size=6)
    assert np.array_equal(pipeline.forward({"input": X}), pipeline.forward(X))
    assert pipeline.evaluate({"input": X}, y) == pipeline.evaluate(X, y)
    with pytest.raises(DataError, match="'inputs', which is not an input"):
        pipeline.forward({"inputs": X})


# ---------------------------------------------------------------- property: random small graphs

SAME_SHAPE_MERGES = ["add", "multiply", "average"]


@st.composite
def graphs(draw):
    """A spec of 1-6 layers, each reading the entry before it or a random
    earlier layer or input; merges join 2-3 earlier branches, of one width
    (now and then of any width, which may not validate)."""
    named = draw(st.booleans())
    inputs = {"u": draw(st.integers(1, 3)), "v": draw(st.integers(1, 3))} if named else {"input": draw(st.integers(1, 3))}
    widths = dict(inputs)
    layers = []
    for k in range(draw(st.integers(1, 6))):
        earlier = list(widths)
        kind = draw(st.sampled_from(["dense", "activation", "merge"]))
        layer = {"name": f"n{k}"}
        if kind == "merge":
            merge = draw(st.sampled_from([*SAME_SHAPE_MERGES, "concatenate"]))
            first = draw(st.sampled_from(earlier))
            same = [name for name in earlier if widths[name] == widths[first]]
            pool = earlier if merge == "concatenate" or draw(st.integers(0, 7)) == 0 else same
            chosen = [first, *draw(st.lists(st.sampled_from(pool), min_size=1, max_size=2))]
            layer.update(type=merge, inputs=chosen)
            width = sum(widths[name] for name in chosen) if merge == "concatenate" else widths[first]
        else:
            explicit = (k == 0 and named) or draw(st.booleans())
            source = draw(st.sampled_from(earlier)) if explicit else earlier[-1]
            if explicit:
                layer["inputs"] = source
            if kind == "dense":
                width = draw(st.integers(1, 3))
                layer.update(type="dense", neurons=width)
                activation = draw(st.sampled_from([None, "tanh", "sigmoid"]))
                if activation:
                    layer["activation"] = activation
            else:
                layer["type"] = draw(st.sampled_from(["tanh", "sigmoid", "linear"]))
                width = widths[source]
        widths[f"n{k}"] = width
        layers.append(layer)
    given = {name: {"features": width} for name, width in inputs.items()} if named else {"features": inputs["input"]}
    return {"input": given, "layers": layers, "loss": "mse", "seed": draw(st.integers(0, 1000))}


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(graphs(), st.data())
def test_any_random_graph_that_validates_compiles_runs_its_inferred_shapes_and_has_true_gradients(tree, data):
    report = netspec.validate(tree)
    if not report.ok:
        assert {d.code for d in report.errors} == {"merge-mismatch"}, [str(d) for d in report.errors]
        with pytest.raises(SpecError):
            netspec.compile(tree)
        return
    pipeline = netspec.compile(tree)
    rng = np.random.default_rng(0)
    X = {name: rng.normal(size=(4, *shape)) for name, shape in report.shapes.input_shapes.items()}
    output = pipeline.forward(X if len(X) > 1 or "input" not in X else X["input"])
    assert output.shape == (4, *report.shapes.output_shape)
    for layer, step in zip(pipeline.layers, report.shapes.layers, strict=True):
        assert layer.output.shape == (4, *step.out_shape), step.name
    parameters = pipeline.parameters()
    if not parameters:
        return
    y = rng.normal(size=output.shape)
    targets = pipeline.targets(y, 4)
    pipeline.forward(X, training=True)
    pipeline.backward(targets)
    analytic = [g.copy() for g in pipeline.gradients()]

    def loss():
        return pipeline.loss_function.calculate(pipeline.forward(X, training=True), targets)

    for index in data.draw(st.lists(st.integers(0, len(parameters) - 1), min_size=1, max_size=2, unique=True)):
        np.testing.assert_allclose(analytic[index], numerical_gradient(loss, parameters[index]), rtol=1e-6, atol=1e-8)
