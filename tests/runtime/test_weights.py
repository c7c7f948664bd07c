"""Class and sample weights: the weighted mean loss mean(w_i · loss_i), its
gradient by finite differences and against PyTorch, and where weights come from."""

import numpy as np
import pytest

import netspec as ns
from netspec.errors import DataError
from netspec.runtime.gradcheck import numerical_gradient
from netspec.runtime.training import sample_weights, weighted_loss

SPEC = {"input": 3, "seed": 4, "layers": [{"type": "dense", "neurons": 5, "activation": "tanh"},
                                         {"type": "dense", "neurons": 3}, {"type": "softmax"}],
        "loss": "categorical_crossentropy"}
RNG = np.random.default_rng(41)
X, LABELS = RNG.normal(size=(9, 3)), RNG.integers(0, 3, size=9)


def test_class_weights_times_sample_weights():
    weights = sample_weights(LABELS, "categorical", 3, {0: 2.0, 2: 0.5}, np.full(9, 3.0))
    np.testing.assert_array_equal(weights, 3.0 * np.array([2.0, 1.0, 0.5])[LABELS])
    binary = sample_weights(np.array([[1.0], [0.0]]), "binary", 1, {1: 4.0}, None)
    np.testing.assert_array_equal(binary, [4.0, 1.0])
    with pytest.raises(DataError, match="names class 3, but the network tells 3 classes apart"):
        sample_weights(LABELS, "categorical", 3, {3: 1.0}, None)
    with pytest.raises(DataError, match="one class per sample"):
        sample_weights(np.zeros((2, 2)), "binary", 2, {1: 2.0}, None)


def test_the_weighted_gradient_is_the_gradient_of_the_weighted_mean_loss():
    pipeline = ns.compile(SPEC)
    targets, weights = pipeline.targets(LABELS, 9), RNG.uniform(0.5, 3.0, size=9)

    def objective():
        return weighted_loss(pipeline.loss_function, pipeline.forward(X, training=True), targets, weights)

    objective()
    pipeline.backward(targets, weights)
    analytic = [g.copy() for g in pipeline.gradients()]
    for gradient, parameter in zip(analytic, pipeline.parameters()):
        np.testing.assert_allclose(gradient, numerical_gradient(objective, parameter), rtol=1e-6, atol=1e-8)


torch = pytest.importorskip("torch")


def test_weighted_loss_and_gradients_match_pytorch():
    pipeline = ns.compile(SPEC)
    targets, weights = pipeline.targets(LABELS, 9), RNG.uniform(0.5, 3.0, size=9)
    loss = weighted_loss(pipeline.loss_function, pipeline.forward(X, training=True), targets, weights)
    pipeline.backward(targets, weights)
    leaves = [torch.tensor(p.copy(), requires_grad=True) for p in pipeline.parameters()]
    w1, b1, w2, b2 = leaves
    logits = torch.tanh(torch.tensor(X) @ w1 + b1) @ w2 + b2
    expected = (torch.tensor(weights) * torch.nn.functional.cross_entropy(logits, torch.tensor(LABELS),
                                                                         reduction="none")).mean()
    expected.backward()
    np.testing.assert_allclose(loss, expected.item(), rtol=1e-10)
    for gradient, leaf in zip(pipeline.gradients(), leaves):
        np.testing.assert_allclose(gradient, leaf.grad.numpy(), rtol=1e-10, atol=1e-12)


def test_class_weight_in_the_spec_is_sample_weight_by_class_in_fit():
    Xs, ys = ns.data.spiral(points_per_class=20, seed=0)
    train = {"optimizer": "sgd", "epochs": 5, "batch_size": 16}
    by_class = ns.compile({**SPEC, "input": 2, "train": {**train, "class_weight": {"1": 3.0}}})
    by_sample = ns.compile({**SPEC, "input": 2, "train": train})
    one = by_class.fit(Xs, ys, verbose=0)
    other = by_sample.fit(Xs, ys, verbose=0, sample_weight=np.where(ys == 1, 3.0, 1.0))
    assert one.values == other.values
    for a, b in zip(by_class.parameters(), by_sample.parameters()):
        np.testing.assert_array_equal(a, b)
    as_list = ns.compile({**SPEC, "input": 2, "train": {**train, "class_weight": [1, 3, 1]}})
    assert as_list.fit(Xs, ys, verbose=0).values == one.values


def test_class_weight_forms_and_mistakes_in_the_spec():
    built = ns.Spec(input=3, layers=[ns.Dense(3), ns.Softmax()], train={"class_weight": {0: 2}})  # Python's int keys
    assert built.train.class_weight == {"0": 2} and built.to_dict()["train"] == {"class_weight": {"0": 2}}
    assert ns.load({**SPEC, "train": {"class_weight": [1, 2, 1]}}).to_dict()["train"] == {"class_weight": [1, 2, 1]}
    for bad, words in (({"x": 1}, 'keys are class indices ("0", "1", ...), got "x"'), ([1, -1], "class_weight[1]"),
                       ([], "non-empty")):
        [error] = ns.validate({**SPEC, "train": {"class_weight": bad}}).errors
        assert (error.where, error.code) == ("train.class_weight", "invalid-value") and words in error.message
    [error] = ns.validate({**SPEC, "loss": "mse", "layers": [{"type": "dense", "neurons": 1}],
                           "train": {"class_weight": [1, 2]}}).errors
    assert "mse is a regression loss" in error.message


def test_sample_weight_is_checked_at_the_door():
    pipeline = ns.compile({**SPEC, "train": {"epochs": 1}})
    for bad, words in ((np.ones(4), r"shape \(4,\); expected \(9,\)"), (-np.ones(9), "is negative"),
                       (np.full(9, np.nan), "expected finite numbers")):
        with pytest.raises(DataError, match=words):
            pipeline.fit(X, LABELS, verbose=0, sample_weight=bad)
