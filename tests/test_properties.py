"""Property tests over random stacks of layers."""

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import netspec
from netspec.codes import CODES

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


# ---------------------------------------------------------------- tensors: convolution, pooling, reshaping

INFER_CODES = {code for code, entry in CODES.items() if entry.stage == "infer"}
PADDINGS = st.sampled_from(["valid", "same"])


def sizes(rank, low, high):
    """An int, or a list of one per spatial axis."""
    return st.integers(low, high) | st.lists(st.integers(low, high), min_size=rank, max_size=rank)


def conv_layer(rank):
    return st.builds(
        lambda filters, kernel, strides, padding, dilation, bias, activation: {
            "type": f"conv{rank}d", "filters": filters, "kernel_size": kernel, "strides": strides,
            "padding": padding, "dilation": dilation, "bias": bias, **({"activation": activation} if activation else {})},
        st.integers(1, 3), sizes(rank, 1, 3), sizes(rank, 1, 2), PADDINGS, sizes(rank, 1, 2), st.booleans(),
        st.none() | st.sampled_from(ACTIVATIONS))


def pool_layer(rank):
    return st.builds(
        lambda kind, pool, strides, padding: {"type": f"{kind}_pool{rank}d", "pool_size": pool, "padding": padding,
                                              **({"strides": strides} if strides is not None else {})},
        st.sampled_from(["max", "avg"]), sizes(rank, 1, 3), st.none() | sizes(rank, 1, 2), PADDINGS)


global_pool = st.sampled_from([{"type": "global_avg_pool"}, {"type": "global_max_pool"}])
flatten_layer = st.just({"type": "flatten"})
reshape_layer = st.sampled_from([[-1], [-1, 1], [-1, 2], [2, -1], [-1, 1, 1], [2, -1, 1], [-1, 2, 2], [1, -1, 3]]).map(
    lambda shape: {"type": "reshape", "shape": shape})


@st.composite
def tensor_stacks(draw, max_layers=6):
    """A random input shape of rank 1–3 and a stack of layers, each one meant for
    the rank of what reaches it (sizes may still run out: empty-output)."""
    rank = draw(st.integers(1, 3))
    if rank == 1:
        shape = [draw(st.integers(4, 12))]
    else:  # spatial sizes, then the channels
        shape = [*(draw(st.integers(4, 12)) for _ in range(rank - 1)), draw(st.integers(1, 3))]
    stack, current = [], rank
    for _ in range(draw(st.integers(1, max_layers))):
        if current == 1:
            options = [dense_layer, activation_layer, reshape_layer, flatten_layer]
        else:
            windowed = [conv_layer(current - 1), pool_layer(current - 1)]
            options = windowed + windowed + [activation_layer, global_pool, flatten_layer, reshape_layer]
        layer = draw(st.one_of(options))
        stack.append(layer)
        kind = layer["type"]
        if kind in ("dense", "flatten", "global_avg_pool", "global_max_pool"):
            current = 1
        elif kind == "reshape":
            current = len(layer["shape"])
    return shape, stack


def tensor_tree(shape, stack, dtype, seed, loss=None):
    tree = {"netspec": "1", "input": {"shape": shape}, "layers": stack, "dtype": dtype, "seed": seed}
    if loss:
        tree["loss"] = loss
    return tree


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tensor_stacks(), st.sampled_from(["float64", "float32"]), st.integers(0, 2**32 - 1), st.integers(1, 4))
def test_inferred_tensor_shapes_are_the_shapes_a_forward_pass_produces(drawn, dtype, seed, rows):
    shape, stack = drawn
    tree = tensor_tree(shape, stack, dtype, seed)
    report = netspec.validate(tree)
    if not report.ok:
        # Only shape rules may refuse a stack whose layers suit the rank they receive.
        assert {d.code for d in report.errors} <= INFER_CODES, [str(d) for d in report.errors]
        return
    pipeline = netspec.compile(tree)
    assert pipeline.input_shape == tuple(shape) == report.shapes.input_shape
    X = np.random.default_rng(seed).normal(size=(rows, *shape))
    output = pipeline.forward(X)
    assert len(pipeline.layers) == len(report.shapes.layers)
    previous = tuple(shape)
    for step, layer in zip(report.shapes.layers, pipeline.layers):
        assert step.in_shape == previous
        assert layer.output.shape == (rows, *step.out_shape), (step.name, step.in_shape)
        assert layer.output.dtype == np.dtype(dtype), step.name
        assert sum(p.size for p in layer.parameters()) == step.parameters, step.name
        previous = step.out_shape
    assert output.shape == (rows, *report.shapes.output_shape)
    assert pipeline.output_shape == report.shapes.output_shape
    assert np.all(np.isfinite(output))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tensor_stacks(max_layers=4), st.sampled_from(["float64", "float32"]), st.integers(0, 1000))
def test_any_valid_tensor_stack_with_a_classifier_head_trains_a_step(drawn, dtype, seed):
    shape, stack = drawn
    classes = 3
    tree = tensor_tree(shape, [*stack, {"type": "flatten"}, {"type": "dense", "neurons": classes},
                               {"type": "softmax"}], dtype, seed, loss="categorical_crossentropy")
    report = netspec.validate(tree)
    if not report.ok:
        assert {d.code for d in report.errors} <= INFER_CODES, [str(d) for d in report.errors]
        return
    pipeline = netspec.compile(tree)
    X = np.random.default_rng(seed).normal(size=(6, *shape))
    y = np.arange(6) % classes
    assert np.isfinite(pipeline.loss(X, y))
    history = pipeline.fit(X, y, epochs=1, verbose=0)
    assert np.isfinite(history["loss"][-1])
    assert all(np.all(np.isfinite(p)) and p.dtype == np.dtype(dtype) for p in pipeline.parameters())
    assert np.isfinite(pipeline.loss(X, y))
