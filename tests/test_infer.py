"""Stage 3: shapes, parameter counts and shape errors, without allocating; and
the lints, which run on what it infers."""

import pytest

import netspec
from netspec.check import check
from netspec.errors import format_path
from netspec.infer import infer, layer_names, steps
from netspec.limits import Limits


def spec_of(layers, features=2, **extra):
    spec, found = check({"input": {"features": features}, "layers": layers, **extra})
    assert found == [], found
    return spec


def linted(spec, ignore=()):
    """Inference and then the lints, as validation runs them."""
    return netspec.validate(spec, ignore=ignore).shapes


def codes(shapes):
    return {(format_path(d.path), d.code, d.severity) for d in shapes.diagnostics}


def test_widths_and_parameter_counts():
    shapes = infer(spec_of([{"type": "dense", "neurons": 64, "activation": "relu"},
                            {"type": "dense", "neurons": 3, "bias": False}, {"type": "softmax"}]))
    rows = [(s.name, s.type, s.in_features, s.out_features, s.parameters) for s in shapes.layers]
    assert rows == [
        ("dense_1", "dense", 2, 64, 2 * 64 + 64),
        ("relu_1", "relu", 64, 64, 0),
        ("dense_2", "dense", 64, 3, 64 * 3),
        ("softmax_1", "softmax", 3, 3, 0),
    ]
    assert shapes.total_parameters == 2 * 64 + 64 + 64 * 3
    assert shapes.output_features == 3 and shapes.widths == [2, 64, 64, 3, 3]
    assert shapes.layers[1].where == "layers[0].activation"
    assert shapes.diagnostics == ()


def test_in_features_mismatch_names_both_sides():
    shapes = infer(spec_of([{"type": "dense", "neurons": 10}, {"type": "relu"},
                            {"type": "dense", "neurons": 3, "in_features": 4}]))
    [d] = shapes.errors
    assert format_path(d.path) == "layers[2].in_features"
    assert d.code == "shape-mismatch"
    assert d.message == "layers[2] (dense_2): in_features is 4 but the previous layer (relu_1) outputs 10 features"


def test_in_features_of_the_first_layer_is_checked_against_the_input():
    [d] = infer(spec_of([{"type": "dense", "neurons": 3, "in_features": 5}])).errors
    assert d.message == "layers[0] (dense_1): in_features is 5 but the input has 2 features"


def test_matching_in_features_is_fine():
    assert infer(spec_of([{"type": "dense", "neurons": 3, "in_features": 2}])).diagnostics == ()


def test_softmax_over_one_unit_is_an_error():
    [d] = infer(spec_of([{"type": "dense", "neurons": 1}, {"type": "softmax"}])).errors
    assert (format_path(d.path), d.code) == ("layers[1]", "bad-width")
    assert "softmax over 1 unit" in d.message


@pytest.mark.parametrize("layers, loss, expected", [
    ([{"type": "dense", "neurons": 3}], "categorical_crossentropy", ("loss", "crossentropy-without-softmax")),
    ([{"type": "dense", "neurons": 3}, {"type": "softmax"}], {"type": "categorical_crossentropy", "from_logits": True},
     ("loss.from_logits", "softmax-with-logits")),
    ([{"type": "dense", "neurons": 2}, {"type": "sigmoid"}], "binary_crossentropy", ("loss", "binary-crossentropy-width")),
    ([{"type": "dense", "neurons": 1}], "binary_crossentropy", ("loss", "binary-crossentropy-without-sigmoid")),
    ([{"type": "dense", "neurons": 1, "activation": "relu"}], "mse", ("layers[0].activation", "relu-output-regression")),
    ([{"type": "dense", "neurons": 3}, {"type": "sigmoid"}], "categorical_crossentropy",
     ("loss", "sigmoid-with-categorical-crossentropy")),
])
def test_loss_against_output_lints_are_warnings(layers, loss, expected):
    shapes = linted(spec_of(layers, loss=loss))
    assert shapes.errors == []
    assert (*expected, "warning") in codes(shapes)


def test_lints_can_be_ignored_by_code():
    spec = spec_of([{"type": "dense", "neurons": 3}], loss="categorical_crossentropy")
    assert linted(spec).diagnostics != ()
    assert linted(spec, ignore=["crossentropy-without-softmax"]).diagnostics == ()


def test_sensible_networks_have_no_lints():
    for layers, loss in [
        ([{"type": "dense", "neurons": 3}, {"type": "softmax"}], "categorical_crossentropy"),
        ([{"type": "dense", "neurons": 3}], {"type": "categorical_crossentropy", "from_logits": True}),
        ([{"type": "dense", "neurons": 1, "activation": "sigmoid"}], "binary_crossentropy"),
        ([{"type": "dense", "neurons": 4, "activation": "relu"}, {"type": "dense", "neurons": 1}], "mse"),
    ]:
        assert linted(spec_of(layers, loss=loss)).diagnostics == ()


def test_parameter_budget_is_checked_before_allocation():
    spec = spec_of([{"type": "dense", "neurons": 10**6}, {"type": "dense", "neurons": 10**6}], features=10**6)
    [d] = infer(spec).errors
    assert d.code == "too-many-parameters"
    assert "2,000,002,000,000 parameters" in d.message
    assert "500,000,000" in d.message


def test_memory_budget_names_count_and_bytes():
    spec = spec_of([{"type": "dense", "neurons": 1000}], features=1000)
    [d] = infer(spec, limits=Limits(max_memory_bytes=1024**2)).errors
    assert d.code == "too-much-memory"
    assert "1,001,000 parameters" in d.message and "32,032,000 bytes" in d.message


def test_names_count_per_type_and_skip_taken_names():
    spec = spec_of([{"type": "dense", "neurons": 3, "name": "dense_2", "activation": "relu"},
                    {"type": "dense", "neurons": 3}, {"type": "relu"}])
    assert layer_names(steps(spec)) == ["dense_2", "relu_1", "dense_1", "relu_2"]


@pytest.mark.parametrize("layers", [
    [{"type": "dense", "neurons": 3, "name": "dense_2", "activation": "relu"}, {"type": "dense", "neurons": 3},
     {"type": "relu"}],
    [{"type": "dense", "neurons": 3}, {"type": "dense", "neurons": 3}, {"type": "relu", "name": "dense_1"}],
    [{"type": "dense", "neurons": 3, "name": "a"}, {"type": "dense", "neurons": 3, "in_features": 5, "name": "relu_1"},
     {"type": "relu"}],
])
def test_infer_names_steps_as_layer_names_does(layers):
    spec = spec_of(layers)
    shapes = infer(spec)
    assert [step.name for step in shapes.layers] == layer_names(steps(spec))
    assert [step.path for step in shapes.layers] == [path for path, _ in steps(spec)]
    assert all(step.params is params for step, (_, params) in zip(shapes.layers, steps(spec)))


def test_messages_name_steps_as_they_are_named_when_names_are_taken():
    shapes = infer(spec_of([{"type": "dense", "neurons": 3, "in_features": 5}, {"type": "relu", "name": "dense_1"}]))
    [d] = shapes.errors
    assert d.message == "layers[0] (dense_2): in_features is 5 but the input has 2 features"


def test_shape_rules_follow_the_registry(clean_registry):
    from netspec import Layer, register_layer

    spec = spec_of([{"type": "dense", "neurons": 3}])
    assert infer(spec).layers[0].out_features == 3
    saved = clean_registry.snapshot()

    @register_layer("doubling", build=lambda params, shape, context: None,
                    output_shape=lambda params, shape: ((*shape[:-1], 2 * shape[-1]), 0))
    class Doubling(Layer):
        """Twice as many channels."""

    assert [s.out_shape for s in infer(spec_of([{"type": "doubling"}, {"type": "doubling"}])).layers] == [(4,), (8,)]
    clean_registry.restore(saved)
    assert "doubling" not in clean_registry.shape_rules()


def test_a_width_rule_of_the_first_language_still_works_on_vectors_and_asks_for_flatten_on_tensors(clean_registry):
    from netspec import Layer, register_layer

    with pytest.warns(DeprecationWarning, match="output_shape="):
        @register_layer("widening", build=lambda params, width, context: width, shape=lambda params, width: (2 * width, 0))
        class Widening(Layer):
            """Twice as wide."""

    assert [s.out_shape for s in infer(spec_of([{"type": "widening"}, {"type": "widening"}])).layers] == [(4,), (8,)]
    spec, found = check({"input": {"shape": [3, 3, 1]}, "layers": [{"type": "widening"}]})
    [d] = infer(spec).errors
    assert (d.where, d.code) == ("layers[0]", "needs-flatten")
    assert d.message == "layers[0] (widening_1): widening takes a vector of features, but receives the 3×3×1 input"
    assert "it would then receive 9 features" in d.hint
    entry = clean_registry.get("layer", "widening")
    assert entry.build(None, (5,), None) == 5  # the builder still receives the width


def test_table_lists_every_layer_and_the_total():
    table = infer(spec_of([{"type": "dense", "neurons": 3}, {"type": "softmax"}])).table()
    rows = [line.split() for line in table.splitlines()]
    assert rows[0] == ["layer", "type", "output", "shape", "parameters"]
    assert rows[2:5] == [["input", "input", "2", "0"], ["dense_1", "dense", "3", "9"], ["softmax_1", "softmax", "3", "0"]]
    assert rows[-1] == ["total", "parameters:", "9"]
