"""Backpropagation through whole pipelines, and the fit loop."""

import io
import re

import numpy as np
import pytest

import netspec
from netspec.runtime.gradcheck import numerical_gradient
from netspec.runtime.training import TrainingError, all_finite, train_step


def classifier(**train):
    return netspec.compile({
        "input": {"features": 2}, "seed": 3,
        "layers": [{"type": "dense", "neurons": 16, "activation": "tanh"}, {"type": "dense", "neurons": 3},
                   {"type": "softmax"}],
        "loss": "categorical_crossentropy",
        "train": {"optimizer": {"type": "adam", "learning_rate": 0.02}, "epochs": 30, "metrics": ["accuracy"], **train},
    })


def numerical_gradients(pipeline, X, targets):
    """Central finite differences of the mean loss w.r.t. every parameter."""
    loss = lambda: pipeline.loss_function.calculate(pipeline.run(X), targets)  # noqa: E731
    return [numerical_gradient(loss, parameter) for parameter in pipeline.parameters()]


@pytest.mark.parametrize("spec", [
    {"layers": [{"type": "dense", "neurons": 5, "activation": "tanh"}, {"type": "dense", "neurons": 3},
                {"type": "softmax"}], "loss": "categorical_crossentropy"},
    {"layers": [{"type": "dense", "neurons": 5, "activation": "sigmoid"}, {"type": "dense", "neurons": 3}],
     "loss": {"type": "categorical_crossentropy", "from_logits": True}},
    {"layers": [{"type": "dense", "neurons": 5, "activation": "elu"}, {"type": "dense", "neurons": 2},
                {"type": "sigmoid"}], "loss": "binary_crossentropy"},
    {"layers": [{"type": "dense", "neurons": 4, "activation": "leaky_relu"}, {"type": "dense", "neurons": 2}],
     "loss": "mse"},
    {"layers": [{"type": "dense", "neurons": 4, "activation": "tanh"}, {"type": "dense", "neurons": 2}],
     "loss": "mae"},
], ids=["softmax-cce-fused", "logits-cce", "sigmoid-bce-fused", "mse", "mae"])
def test_pipeline_gradients_match_finite_differences(spec):
    pipeline = netspec.compile({"input": {"features": 3}, "seed": 0, **spec})
    rng = np.random.default_rng(1)
    X = rng.normal(size=(7, 3))
    out = pipeline.forward(X)
    if pipeline.task == "categorical":
        y = rng.integers(0, out.shape[1], size=7)
    elif pipeline.task == "binary":
        y = rng.integers(0, 2, size=out.shape).astype(float)
    else:
        y = rng.normal(size=out.shape)
    targets = pipeline.targets(y, 7)
    pipeline.run(X, training=True)
    pipeline.backward(targets)
    for analytic, numeric in zip(pipeline.gradients(), numerical_gradients(pipeline, X, targets)):
        np.testing.assert_allclose(analytic, numeric, rtol=1e-5, atol=1e-8)


def test_fit_learns_the_spiral():
    pipeline = netspec.compile("examples/spiral.json")
    X, y = netspec.data.spiral(100, 3, seed=0)
    history = pipeline.fit(X, y, verbose=0)
    assert history["accuracy"][-1] >= 0.97
    assert history["loss"][-1] < history["loss"][0]
    assert np.mean(pipeline.predict(X) == y) >= 0.97


def test_fit_learns_xor_exactly():
    pipeline = netspec.compile("examples/xor.json")
    X, y = netspec.data.gate("xor")
    pipeline.fit(X, y, verbose=0)
    assert np.array_equal(pipeline.predict(X), y)


def test_training_is_deterministic_for_a_seed():
    X, y = netspec.data.spiral(30, 3, seed=1)
    runs = [classifier(batch_size=16).fit(X, y, verbose=0).as_dict() for _ in range(2)]
    assert runs[0] == runs[1]


def test_history_has_training_and_validation_values():
    X, y = netspec.data.spiral(30, 3, seed=1)
    history = classifier(validation_split=0.2).fit(X, y, verbose=0, epochs=5)
    data = history.as_dict()
    assert data["epoch"] == [1, 2, 3, 4, 5]
    assert set(data) >= {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert all(len(data[k]) == 5 for k in ("loss", "accuracy", "val_loss", "val_accuracy"))


def test_overrides_and_unknown_options():
    X, y = netspec.data.spiral(10, 3, seed=1)
    assert len(classifier().fit(X, y, verbose=0, epochs=2)["loss"]) == 2
    with pytest.raises(TypeError, match="unknown training option"):
        classifier().fit(X, y, verbose=0, epoch=2)


def test_evaluate_reports_loss_and_metrics():
    X, y = netspec.data.spiral(10, 3, seed=1)
    pipeline = classifier()
    results = pipeline.evaluate(X, y)
    assert set(results) == {"loss", "accuracy"}
    assert results["loss"] == pytest.approx(pipeline.loss(X, y))


def test_early_stopping_restores_the_best_parameters():
    X, y = netspec.data.spiral(20, 3, seed=1)
    pipeline = classifier(validation_split=0.25, epochs=200,
                          optimizer={"type": "sgd", "learning_rate": 5.0},
                          early_stopping={"monitor": "val_loss", "patience": 3})
    history = pipeline.fit(X, y, verbose=0)
    assert history.stopped_early
    best = history.best_epoch
    assert history["val_loss"][best - 1] == min(history["val_loss"])
    assert len(history["loss"]) == best + 3


def test_non_finite_loss_stops_with_epoch_batch_and_layer_and_keeps_parameters():
    pipeline = netspec.compile({"input": {"features": 1}, "seed": 0, "layers": [{"type": "dense", "neurons": 1}],
                                "loss": "mse", "train": {"optimizer": {"type": "sgd", "learning_rate": 1e10}}})
    X = np.linspace(-100, 100, 10).reshape(-1, 1)
    y = X * 3
    snapshots = []
    with pytest.raises(TrainingError) as caught:
        pipeline.fit(X, y, verbose=0, epochs=50, batch_size=5,
                     on_epoch=lambda epoch, logs: snapshots.append([p.copy() for p in pipeline.parameters()]))
    message = str(caught.value)
    assert re.match(r"training diverged at epoch \d+, batch \d+: the loss is (inf|nan)", message)
    assert "first appear in the loss" in message or "dense_1" in message
    assert all(np.all(np.isfinite(p)) for p in pipeline.parameters())


def test_a_non_finite_gradient_with_a_finite_loss_stops_before_the_update():
    # Batch 1 (zeros) moves nothing; batch 2's products overflow only in the weight gradient
    # (1e308 + 1e308, from outputs of about 1): the loss stays finite.
    spec = {"input": {"features": 1}, "seed": 0, "layers": [{"type": "dense", "neurons": 1}], "loss": "mse",
            "train": {"optimizer": {"type": "sgd", "learning_rate": 0.1}, "shuffle": False, "batch_size": 2}}
    X, y = np.array([[0.0], [0.0], [1e308], [1e308]]), np.zeros((4, 1))
    pipeline, reference = netspec.compile(spec), netspec.compile(spec)
    for network in (pipeline, reference):
        network.layers[0].weights[...] = 1e-308
    train_step(reference, X[:2], y[:2])  # what batch 1 leaves
    with pytest.raises(TrainingError, match=r"training diverged at epoch 1, batch 2: the loss is 0\.99\d* and non-finite "
                                            r"values first appear in the gradients of layer dense_1"):
        pipeline.fit(X, y, verbose=0, epochs=1)
    for kept, expected in zip(pipeline.parameters(), reference.parameters()):
        np.testing.assert_array_equal(kept, expected)


def test_non_finite_output_names_the_first_layer():
    pipeline = netspec.compile({"input": {"features": 1}, "seed": 0,
                                "layers": [{"type": "dense", "neurons": 2, "activation": "elu"},
                                           {"type": "dense", "neurons": 1}], "loss": "mse"})
    pipeline.layers[0].weights[...] = 1e300
    X = np.full((2, 1), 1e10)
    with pytest.raises(TrainingError, match="first appear in the output of layer dense_1"):
        pipeline.fit(X, np.ones((2, 1)), verbose=0, epochs=1)


def test_progress_is_one_line_per_epoch_off_a_terminal():
    X, y = netspec.data.spiral(10, 3, seed=1)
    stream = io.StringIO()
    classifier().fit(X, y, epochs=3, stream=stream)
    lines = stream.getvalue().splitlines()
    assert len(lines) == 3
    assert lines[0].startswith("epoch 1/3 - loss: ") and "accuracy: " in lines[0] and "samples/s" in lines[0]


def test_quiet_fit_prints_nothing(capsys):
    X, y = netspec.data.spiral(10, 3, seed=1)
    classifier().fit(X, y, epochs=2, verbose=0)
    assert capsys.readouterr().out == ""


def test_float32_training_stays_float32():
    pipeline = netspec.compile({**classifier().spec, "dtype": "float32"})
    X, y = netspec.data.spiral(10, 3, seed=1)
    pipeline.fit(X, y, verbose=0, epochs=3)
    assert all(p.dtype == np.float32 for p in pipeline.parameters())


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_all_finite_finds_any_nan_or_infinity(dtype):
    for size in [*range(1, 40), 1000, 4097]:
        for position in {0, size // 2, size - 1}:
            for bad in (np.nan, np.inf, -np.inf):
                values = np.ones((size, 1), dtype)
                values[position] = bad
                assert not all_finite(values), (size, position, bad)
        assert all_finite(np.zeros((size, 2), dtype))
        # squares overflow but every value is finite: the exact test decides
        assert all_finite(np.full(size, np.finfo(dtype).max, dtype))
