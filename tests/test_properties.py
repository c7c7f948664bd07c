"""Property tests over random stacks of layers."""

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import netspec

ACTIVATIONS = ["relu", "sigmoid", "tanh", "softmax", "linear", "elu", "leaky_relu"]

activation_layer = st.sampled_from(ACTIVATIONS).map(lambda name: {"type": name})
dense_layer = st.builds(
    lambda neurons, activation, bias: {"type": "dense", "neurons": neurons, "bias": bias,
                                       **({"activation": activation} if activation else {})},
    st.integers(1, 12), st.none() | st.sampled_from(ACTIVATIONS), st.booleans())
layers = st.lists(dense_layer | activation_layer, min_size=1, max_size=8)
losses = st.none() | st.sampled_from(["mse", "mae", "categorical_crossentropy", "binary_crossentropy"])


def tree_of(features, stack, loss, dtype, seed):
    tree = {"netspec": "1", "input": {"features": features}, "layers": stack, "dtype": dtype, "seed": seed}
    if loss:
        tree["loss"] = loss
    return tree


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(1, 6), layers, losses, st.sampled_from(["float64", "float32"]), st.integers(0, 2**32 - 1),
       st.integers(1, 5))
def test_inferred_widths_are_the_shapes_a_forward_pass_produces(features, stack, loss, dtype, seed, rows):
    tree = tree_of(features, stack, loss, dtype, seed)
    report = netspec.validate(tree)
    if not report.ok:
        # Only shape rules may refuse a structurally valid random stack.
        assert {d.code for d in report.errors} <= {"bad-width"}
        return
    pipeline = netspec.compile(tree)
    X = np.random.default_rng(seed).normal(size=(rows, features))
    output = pipeline.forward(X)
    for shape, layer in zip(report.shapes.layers, pipeline.layers):
        assert layer.output.shape == (rows, shape.out_features)
        assert layer.output.dtype == np.dtype(dtype)
        assert sum(p.size for p in layer.parameters()) == shape.parameters
    assert output.shape == (rows, report.shapes.output_features)
    assert np.all(np.isfinite(output))


@settings(max_examples=100, deadline=None)
@given(st.integers(1, 6), layers, st.integers(0, 1000))
def test_any_valid_spec_compiles_and_its_loss_runs(features, stack, seed):
    for loss in ("mse", "categorical_crossentropy", "binary_crossentropy"):
        tree = tree_of(features, stack, loss, "float64", seed)
        if not netspec.validate(tree).ok:
            continue
        pipeline = netspec.compile(tree)
        X = np.random.default_rng(seed).normal(size=(4, features))
        out = pipeline.forward(X)
        if loss == "mse":
            y = np.zeros_like(out)
        elif loss == "categorical_crossentropy":
            y = np.arange(4) % out.shape[1]
        else:
            y = (np.arange(4 * out.shape[1]).reshape(4, -1) % 2).astype(float)
        value = pipeline.loss(X, y)
        assert np.isfinite(value) and value >= 0
