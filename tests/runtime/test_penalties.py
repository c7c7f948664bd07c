"""Weight penalties: the closed forms l1·Σ|w| + l2·Σw² and l1·sign(w) + 2·l2·w,
their place in the layers' backward pass, finite differences, and the spec's
regularizer and its default."""

import numpy as np
import pytest

import netspec as ns
from netspec.runtime.conv import Conv1D, Conv2D
from netspec.runtime.gradcheck import check_layer
from netspec.runtime.layers import Dense
from netspec.runtime.penalties import Penalty, penalty

RNG = np.random.default_rng(11)


def test_loss_and_gradient_are_the_closed_forms():
    w = RNG.normal(size=(4, 3))
    gradient = RNG.normal(size=(4, 3))
    expected = gradient + 0.01 * np.sign(w) + 2 * 0.02 * w
    found = Penalty(l1=0.01, l2=0.02)
    assert found.loss(w) == pytest.approx(0.01 * np.abs(w).sum() + 0.02 * (w**2).sum(), rel=1e-14)
    found.add_gradient(w, gradient)
    np.testing.assert_allclose(gradient, expected, rtol=1e-15, atol=1e-16)


def test_the_gradient_of_the_l1_term_at_zero_is_zero():
    w, gradient = np.array([0.0, -0.0, 2.0, -3.0]), np.zeros(4)
    Penalty(l1=0.5).add_gradient(w, gradient)
    np.testing.assert_array_equal(gradient, [0.0, 0.0, 0.5, -0.5])


def test_no_penalty_is_none_and_bad_factors_are_refused():
    assert penalty(0.0, 0.0) is None and penalty(0.0, 1e-3).l2 == 1e-3
    for bad in (-1.0, float("nan"), True, "0.1"):
        with pytest.raises(ValueError, match="`l1`, expected a finite number >= 0"):
            Penalty(l1=bad)


def dense(regularizer=None, bias_regularizer=None):
    rng = np.random.default_rng(0)
    return Dense(rng.normal(size=(4, 3)), rng.normal(size=(1, 3)), regularizer=regularizer,
                 bias_regularizer=bias_regularizer)


def test_dense_backward_adds_the_penalties_to_the_data_gradients():
    inputs, dvalues = RNG.normal(size=(5, 4)), RNG.normal(size=(5, 3))
    plain, penalised = dense(), dense(Penalty(l2=0.1), Penalty(l1=0.2))
    for layer in (plain, penalised):
        layer.forward(inputs)
        layer.backward(dvalues)
    np.testing.assert_array_equal(penalised.dweights, plain.dweights + 2 * 0.1 * plain.weights)
    np.testing.assert_array_equal(penalised.dbiases, plain.dbiases + 0.2 * np.sign(plain.bias))
    np.testing.assert_array_equal(penalised.dinputs, plain.dinputs)
    assert penalised.regularization_loss() == pytest.approx(
        0.1 * (plain.weights**2).sum() + 0.2 * np.abs(plain.bias).sum(), rel=1e-14)
    assert plain.regularization_loss() == 0.0


def test_a_first_layer_penalises_without_the_input_gradient():
    inputs, dvalues = RNG.normal(size=(5, 4)), RNG.normal(size=(5, 3))
    layer, reference = dense(Penalty(l2=0.3)), dense(Penalty(l2=0.3))
    layer.forward(inputs)
    layer.backward_parameters(dvalues)
    reference.forward(inputs)
    reference.backward(dvalues)
    np.testing.assert_array_equal(layer.dweights, reference.dweights)


LAYERS = {
    "dense": lambda: (dense(Penalty(l1=0.01, l2=0.02), Penalty(l1=0.03, l2=0.04)), (5, 4)),
    "conv2d": lambda: (Conv2D(RNG.normal(size=(2, 2, 3, 2)), RNG.normal(size=2), regularizer=Penalty(l1=0.05, l2=0.1),
                              bias_regularizer=Penalty(l2=0.2)), (3, 5, 5, 3)),
    "conv1d": lambda: (Conv1D(RNG.normal(size=(3, 2, 4)), RNG.normal(size=4), regularizer=Penalty(l2=0.5),
                              bias_regularizer=Penalty(l1=0.1)), (2, 7, 2)),
}


@pytest.mark.parametrize("name", LAYERS)
def test_finite_differences_of_data_loss_plus_penalty(name):
    layer, shape = LAYERS[name]()
    inputs = RNG.uniform(0.1, 1.5, size=shape)
    checks = check_layer(layer, inputs, np.random.default_rng(1))
    assert all(c.ok for c in checks), [(c.what, c.error) for c in checks]
    assert len(checks) == 3  # inputs, weights, bias


def regularized(**sections):
    return {"input": {"features": 3},
            "layers": [{"type": "dense", "neurons": 4, "activation": "relu", **sections.pop("first", {})},
                       {"type": "dense", "neurons": 2, **sections.pop("second", {})}],
            "loss": "mse", "seed": 0, **sections}


def test_the_spec_default_penalises_every_weight_matrix_and_no_bias():
    pipeline = ns.compile(regularized(regularizer={"l2": 0.01}))
    first, second = pipeline.layers[0], pipeline.layers[2]
    assert (first.regularizer.l2, second.regularizer.l2) == (0.01, 0.01)
    assert first.bias_regularizer is None and second.bias_regularizer is None
    expected = 0.01 * sum(float((layer.weights**2).sum()) for layer in (first, second))
    assert pipeline.regularization_loss() == pytest.approx(expected, rel=1e-14)


def test_a_layers_own_regularizer_wins_and_an_empty_one_turns_the_default_off():
    pipeline = ns.compile(regularized(regularizer={"l2": 0.01}, first={"regularizer": {"l1": 0.5},
                                                                        "bias_regularizer": {"l2": 0.1}},
                                      second={"regularizer": {}}))
    first, second = pipeline.layers[0], pipeline.layers[2]
    assert (first.regularizer.l1, first.regularizer.l2, first.bias_regularizer.l2) == (0.5, 0.0, 0.1)
    assert second.regularizer is None


def test_no_regularizer_adds_nothing():
    assert ns.compile(regularized()).regularization_loss() == 0.0


def test_builders_and_canonical_form():
    assert ns.L2(1e-3) == ns.Regularizer(l2=1e-3) and ns.L1() == ns.Regularizer(l1=0.01)
    assert ns.L1L2(0.1, 0.2) == ns.Regularizer(0.1, 0.2)
    spec = ns.Spec(input=3, layers=[ns.Dense(4, regularizer=ns.L2(1e-3), bias_regularizer=ns.L1(1e-4)),
                                    ns.Dense(2, regularizer=ns.Regularizer())],
                   regularizer=ns.L1L2(l1=1e-5, l2=1e-4))
    tree = spec.to_dict()
    assert tree["layers"][0] == {"type": "dense", "neurons": 4, "regularizer": {"l2": 0.001},
                                 "bias_regularizer": {"l1": 0.0001}}
    assert tree["layers"][1] == {"type": "dense", "neurons": 2, "regularizer": {}}
    assert tree["regularizer"] == {"l1": 1e-05, "l2": 0.0001}
    assert ns.load(spec.to_json()) == spec


@pytest.mark.parametrize("value, code", [({"l2": -1}, "out-of-range"), ({"l3": 1}, "unknown-key"),
                                         ({"l2": "0.1"}, "wrong-type"), (0.01, "wrong-type")])
def test_bad_regularizers_are_spec_errors(value, code):
    report = ns.validate(regularized(first={"regularizer": value}))
    assert code in [d.code for d in report.errors], [str(d) for d in report.errors]
    assert report.errors[0].where.startswith("layers[0].regularizer")
