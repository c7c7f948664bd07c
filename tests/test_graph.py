"""Graphs in the language: layers that read named layers and inputs, merge
layers, named inputs and ``output`` — their diagnostics, what inference
records, the summary, the builder, canonical round trips and sweeps."""

import json
from pathlib import Path

import pytest

import netspec as ns
from netspec.cli import main
from netspec.infer import infer, layer_names, steps

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"

# Every code the graph language added; a chain gives none of them.
GRAPH_CODES = {"ambiguous-input", "unknown-input", "forward-reference", "input-cycle", "merge-inputs",
               "too-many-inputs", "merge-mismatch", "unknown-output", "several-outputs", "unused-output",
               "unused-input"}

CYCLE_HINT = "a network's data flows one way: make one of them read an earlier layer or an input"
SAME_SHAPES_HINT = ("{} needs inputs of one shape: give the branches the same number of units "
                    "(or project one with a dense layer), or use concatenate")
CONCATENATE_HINT = "concatenated inputs must agree on every axis but the one they are joined on"


def dense(neurons, **options):
    return {"type": "dense", "neurons": neurons, **options}


def net(layers, features=2, **sections):
    return {"input": {"features": features}, "layers": layers, **sections}


def two_inputs(layers, **sections):
    return {"input": {"image": {"shape": [4, 4, 1]}, "meta": {"features": 3}}, "layers": layers, **sections}


def found(tree):
    """Every diagnostic, as (path, code, message, hint, severity)."""
    return [(d.where, d.code, d.message, d.hint, d.severity) for d in ns.validate(tree).diagnostics]


def one(tree, code):
    """The one diagnostic of ``code``, as (path, message, hint)."""
    [d] = [d for d in ns.validate(tree).diagnostics if d.code == code]
    return d.where, d.message, d.hint


RESIDUAL = net([dense(4, activation="tanh", name="stem"), dense(4, activation="tanh"), dense(4),
                {"type": "add", "inputs": ["stem", "dense_2"]}, dense(3), {"type": "softmax"}],
               loss="categorical_crossentropy")

TWO_BRANCHES = net([dense(3, activation="tanh", name="left"), dense(2, activation="sigmoid", inputs="input", name="right"),
                    {"type": "concatenate", "inputs": ["left", "right"]}, dense(2)], loss="mse")


# ---------------------------------------------------------------- names in inputs

def test_an_unknown_name_suggests_the_layer_meant():
    tree = net([dense(4, name="block_in", activation="relu"), dense(4, inputs="blok_in")])
    assert found(tree) == [("layers[1].inputs", "unknown-input",
                            'layers[1] (dense_1) reads "blok_in", which is neither a layer nor an input',
                            'did you mean "block_in"?', "error")]


def test_an_unknown_name_in_a_list_is_located_at_its_item_and_may_suggest_an_input():
    tree = two_inputs([{"type": "flatten", "inputs": "image"},
                       {"type": "concatenate", "inputs": ["flatten_1", "mta"]}, dense(2)])
    assert one(tree, "unknown-input") == (
        "layers[1].inputs[1]", 'layers[1] (concatenate_1) reads "mta", which is neither a layer nor an input',
        'did you mean "meta"?')


def test_an_unknown_name_with_nothing_close_lists_what_exists():
    tree = net([dense(4, name="a", activation="tanh"), dense(4, inputs="zzz")])
    assert one(tree, "unknown-input")[2] == "layers and inputs: input, a, tanh_1, dense_1"


def test_a_reference_to_a_later_layer():
    tree = net([dense(8, activation="relu"), {"type": "add", "inputs": ["dense_1", "skip"]},
                dense(8, name="skip", inputs="input")])
    assert found(tree) == [("layers[1].inputs[1]", "forward-reference",
                            'layers[1] (add_1) reads "skip", which comes later (layers[2]): '
                            "a layer can only read the layers before it and the inputs",
                            "move layers[2] before layers[1]", "error")]


def test_an_empty_inputs_list_reads_nothing():
    tree = net([dense(4, name="a", activation="tanh"), dense(2, inputs=[]), dense(2)])
    assert found(tree) == [("layers[1].inputs", "unknown-input", 'layers[1] (dense_1) reads nothing: its "inputs" list is empty',
                            'name the layer or input it reads, or leave "inputs" out to read the entry before it', "error")]
    with pytest.raises(ns.SpecError):
        ns.compile(tree)
    with pytest.raises(ns.SpecError) as caught:
        ns.Spec(input=2, layers=[ns.Dense(2, inputs=[])])
    assert [(d.where, d.code) for d in caught.value.errors] == [("layers[0].inputs", "unknown-input")]
    assert one(net([dense(4), {"type": "add", "inputs": []}]), "merge-inputs")[1] == (
        "layers[1] (add_1) merges what it reads, so it needs two or more inputs, and has 0")


# ---------------------------------------------------------------- cycles

@pytest.mark.parametrize("layers, message", [
    ([dense(4, name="a", inputs="a")], "layers[0] (a) reads its own output"),
    ([dense(4, name="a", inputs="b"), dense(4, name="b", inputs="a")],
     "layers[0] (a), layers[1] (b) form a cycle: a reads b, b reads a"),
    ([dense(4, name="a", inputs="c"), dense(4, name="b", inputs="a"), dense(4, name="c", inputs="b")],
     "layers[0] (a), layers[2] (c), layers[1] (b) form a cycle: a reads c, c reads b, b reads a"),
    # without "inputs" a layer reads the one before it, and that closes a cycle too
    ([dense(4, name="a", inputs="c"), dense(4, name="b"), dense(4, name="c"), dense(1)],
     "layers[0] (a), layers[2] (c), layers[1] (b) form a cycle: a reads c, c reads b, b reads a"),
    ([{"type": "add", "inputs": ["input", "later"]}, dense(2, name="later")],
     "layers[0] (add_1), layers[1] (later) form a cycle: add_1 reads later, later reads add_1"),
], ids=["one", "two", "three", "three-through-the-entry-before", "merge-and-the-entry-after"])
def test_a_cycle_names_every_layer_on_it_once_and_is_not_also_a_forward_reference(layers, message):
    assert found(net(layers)) == [("layers[0].inputs", "input-cycle", message, CYCLE_HINT, "error")]


def test_two_cycles_are_two_errors_beside_a_layer_reading_them():
    tree = net([dense(4, name="a", inputs="b"), dense(4, name="b", inputs="a"), dense(4, name="c", inputs="c"),
                {"type": "add", "inputs": ["a", "c"]}])
    assert [(where, code, message) for where, code, message, _, _ in found(tree)] == [
        ("layers[0].inputs", "input-cycle", "layers[0] (a), layers[1] (b) form a cycle: a reads b, b reads a"),
        ("layers[2].inputs", "input-cycle", "layers[2] (c) reads its own output"),
    ]


def test_a_long_residual_graph_validates_quickly():
    """Cycle detection walks each entry once: branches that merge again do not
    multiply the paths it follows (40 blocks are 2^40 paths)."""
    layers = [dense(4, name="a0", activation="tanh")]
    for k in range(1, 41):
        layers += [dense(4, name=f"d{k}", inputs=f"a{k - 1}", activation="tanh"),
                   {"type": "add", "name": f"a{k}", "inputs": [f"a{k - 1}", f"d{k}"]}]
    assert ns.validate(net(layers)).ok
    layers[1] = {**layers[1], "inputs": "a40"}
    [d] = ns.validate(net(layers)).errors
    assert d.code == "input-cycle" and d.message.startswith("layers[1] (d1), layers[80] (a40), layers[78] (a39), ")


# ---------------------------------------------------------------- how many inputs

@pytest.mark.parametrize("kind", ["add", "multiply", "average", "concatenate"])
@pytest.mark.parametrize("inputs", [None, "dense_1", ["dense_1"]], ids=["implicit", "name", "list-of-one"])
def test_a_merge_with_one_input(kind, inputs):
    merge = {"type": kind} if inputs is None else {"type": kind, "inputs": inputs}
    assert found(net([dense(4, activation="relu"), merge])) == [
        ("layers[1].inputs", "merge-inputs",
         f"layers[1] ({kind}_1) merges what it reads, so it needs two or more inputs, and has 1",
         'name them: "inputs": ["a", "b"]', "error")]


def test_a_layer_that_is_not_a_merge_with_two_inputs():
    tree = net([dense(4, activation="relu"), dense(4, inputs=["input", "dense_1"])])
    assert found(tree) == [("layers[1].inputs", "too-many-inputs", "layers[1] (dense_2) reads one input, but 2 are named",
                            'join them first with a merge layer ("add", "concatenate", ...)', "error")]


def test_the_first_layer_of_several_inputs_must_say_which():
    assert found(two_inputs([{"type": "flatten"}, dense(2)])) == [
        ("layers[0]", "ambiguous-input", "layers[0] (flatten_1) is the first layer, so it reads the network's input, "
                                         "but the network has 2 inputs (image, meta)",
         'say which with "inputs": "image"', "error")]


# ---------------------------------------------------------------- shapes of merges

def test_a_merge_of_vectors_of_different_widths_names_each_branch_and_its_width():
    tree = net([dense(64, activation="relu"), dense(32, inputs="input"), {"type": "add", "inputs": ["relu_1", "dense_2"]}])
    assert found(tree) == [("layers[2].inputs", "merge-mismatch",
                            "layers[2] (add_1): relu_1 gives 64 features but dense_2 gives 32 features",
                            SAME_SHAPES_HINT.format("add"), "error")]


def test_a_merge_of_three_names_the_branch_that_differs_from_the_first():
    tree = net([dense(4, name="a", activation="tanh"), dense(4, name="b", activation="tanh", inputs="input"),
                dense(5, name="c", activation="tanh", inputs="input"), {"type": "multiply", "inputs": ["a", "b", "c"]}])
    assert one(tree, "merge-mismatch") == ("layers[3].inputs", "layers[3] (multiply_1): tanh_1 gives 4 features but "
                                           "tanh_3 gives 5 features", SAME_SHAPES_HINT.format("multiply"))


def test_a_merge_of_images_of_different_sizes_names_each_branch_and_its_shape():
    tree = {"input": {"shape": [8, 8, 1]},
            "layers": [{"type": "conv2d", "filters": 4, "kernel_size": 3, "name": "a"},
                       {"type": "conv2d", "filters": 4, "kernel_size": 3, "padding": "same", "inputs": "input", "name": "b"},
                       {"type": "average", "inputs": ["a", "b"]}, {"type": "flatten"}]}
    assert found(tree) == [("layers[2].inputs", "merge-mismatch", "layers[2] (average_1): a gives 6×6×4 but b gives 8×8×4",
                            SAME_SHAPES_HINT.format("average"), "error")]


def test_a_merge_of_an_image_and_a_vector():
    tree = {"input": {"image": {"shape": [6, 8, 2]}, "meta": {"features": 5}},
            "layers": [{"type": "add", "inputs": ["image", "meta"]}, {"type": "flatten"}]}
    assert one(tree, "merge-mismatch")[1] == "layers[0] (add_1): image gives 6×8×2 but meta gives 5 features"


IMAGES = {"input": {"top": {"shape": [6, 8, 2]}, "bottom": {"shape": [2, 8, 2]}, "deep": {"shape": [6, 8, 3]}}}


@pytest.mark.parametrize("inputs, axis, shape", [
    (["top", "bottom"], 0, (8, 8, 2)), (["top", "bottom"], -3, (8, 8, 2)),
    (["top", "deep"], -1, (6, 8, 5)), (["top", "deep"], 2, (6, 8, 5)), (["top", "top"], 1, (6, 16, 2)),
    (["top", "deep", "top"], -1, (6, 8, 7)),
])
def test_concatenate_joins_images_along_the_axis_they_differ_on(inputs, axis, shape):
    report = ns.validate({**IMAGES, "layers": [{"type": "concatenate", "inputs": inputs, "axis": axis}],
                          "output": "concatenate_1"})
    assert report.errors == []
    assert report.shapes.layers[0].out_shape == shape
    assert report.shapes.layers[0].in_shapes == tuple(tuple(IMAGES["input"][name]["shape"]) for name in inputs)


@pytest.mark.parametrize("inputs, axis, message", [
    (["top", "bottom"], -1, "top gives 6×8×2 but bottom gives 2×8×2, which differ beyond axis -1"),
    (["top", "deep"], 0, "top gives 6×8×2 but deep gives 6×8×3, which differ beyond axis 0"),
])
def test_concatenate_of_images_that_differ_on_another_axis(inputs, axis, message):
    tree = {**IMAGES, "layers": [{"type": "concatenate", "inputs": inputs, "axis": axis}]}
    assert one(tree, "merge-mismatch") == ("layers[0].inputs", f"layers[0] (concatenate_1): {message}", CONCATENATE_HINT)


@pytest.mark.parametrize("axis, rank", [(1, "1 axis"), (-2, "1 axis")])
def test_an_axis_a_vector_does_not_have(axis, rank):
    tree = net([dense(4, name="a", activation="tanh"), dense(4, name="b", activation="tanh", inputs="input"),
                {"type": "concatenate", "inputs": ["a", "b"], "axis": axis}])
    assert one(tree, "bad-shape") == (
        "layers[2].axis", f"layers[2] (concatenate_1): axis {axis} does not exist in tanh_1, which has {rank}",
        "axes count within one sample, without the batch axis: -1 is the last")


def test_an_axis_outside_any_sample_is_refused_by_the_language():
    tree = {**IMAGES, "layers": [{"type": "concatenate", "inputs": ["top", "top"], "axis": 3}]}
    assert [(where, code, message) for where, code, message, _, _ in found(tree)] == [
        ("layers[0].axis", "out-of-range", "axis must be < 3, got 3")]


# ---------------------------------------------------------------- output

def test_an_unknown_output_suggests_a_layer():
    tree = net([dense(4, name="head", activation="tanh"), dense(2)], output="haed")
    assert found(tree) == [("output", "unknown-output", 'output "haed" is not the name of a layer',
                            'did you mean "head"?', "error")]


def test_an_output_that_names_an_input():
    assert one(net([dense(2)], output="input"), "unknown-output") == (
        "output", 'output "input" is an input, not a layer', "name the layer whose output the network gives")


def test_several_outputs_are_refused_for_now():
    tree = net([dense(4, name="a", activation="tanh"), dense(4, name="b")], output=["a", "b"])
    assert found(tree) == [("output", "several-outputs", "output names 2 layers, but a network has one output for now",
                            "name the one layer whose output the loss compares with the targets", "error")]


@pytest.mark.parametrize("output", [[], ["a"]], ids=["empty", "one"])
def test_an_output_list_of_fewer_than_two_is_not_several_outputs(output):
    tree = net([dense(4, name="a", activation="tanh")], output=output)
    assert [(where, code, message) for where, code, message, _, _ in found(tree)] == [
        ("output", "wrong-type", "output must be a string, got a list")]


# ---------------------------------------------------------------- names shared with inputs

def test_a_layer_named_like_a_named_input():
    tree = two_inputs([{"type": "flatten", "inputs": "image"}, dense(2, name="meta")])
    assert found(tree) == [("layers[1].name", "duplicate-name",
                            'layer name "meta" is already the name of an input ("input.meta")',
                            "give the layer another name", "error")]


def test_a_layer_named_input_in_a_network_that_reads_by_name():
    tree = net([dense(2, name="input", activation="tanh"), dense(2, inputs="input")])
    assert found(tree) == [("layers[0].name", "duplicate-name",
                            "layer name \"input\" is already the name of the network's input",
                            "give the layer another name", "error")]


# ---------------------------------------------------------------- lints

def test_a_layer_nobody_reads_and_inputs_nobody_reads_are_warnings():
    tree = {"input": {"a": {"features": 2}, "b": {"features": 2}, "c": {"features": 2}},
            "layers": [dense(2, inputs="a", activation="tanh"), dense(2, inputs="a", activation="relu"), dense(2)]}
    report = ns.validate(tree)
    assert report.ok
    assert [(d.where, d.code, d.message, d.hint, d.severity) for d in report.warnings] == [
        ("layers[0]", "unused-output", "nothing reads the output of layers[0] (dense_1), and it is not the network's "
                                       "output, so it does not change what the network computes",
         'read it in a later layer\'s "inputs", make it the "output", or remove it', "warning"),
        ("input.b", "unused-input", 'no layer reads the input "b"', 'read it with "inputs": "b", or remove it', "warning"),
        ("input.c", "unused-input", 'no layer reads the input "c"', 'read it with "inputs": "c", or remove it', "warning"),
    ]
    assert ns.validate(tree, ignore=["unused-output", "unused-input"]).diagnostics == []
    assert {d.code for d in ns.validate(tree, strict=True).errors} == {"unused-output", "unused-input"}


def test_a_layer_after_the_named_output_is_unused():
    tree = net([dense(2, name="head", activation="tanh"), dense(2, activation="relu")], output="head")
    report = ns.validate(tree)
    assert [(d.where, d.code) for d in report.diagnostics] == [("layers[1]", "unused-output")]
    assert report.shapes.output == "tanh_1" and report.shapes.output_shape == (2,)


@pytest.mark.parametrize("source", ["spiral.json", "xor.json", "cnn.json", "conv1d.json", "regression.json",
                                    "tutorial.json"])
def test_a_chain_gives_none_of_the_graph_diagnostics(source):
    report = ns.validate(EXAMPLES / source)
    assert not report.shapes.graph
    assert not {d.code for d in report.diagnostics} & GRAPH_CODES


@pytest.mark.parametrize("source", ["residual_mlp.json", "residual_cnn.json", "two_inputs.json"])
def test_the_graph_examples_are_clean(source):
    report = ns.validate(EXAMPLES / source)
    assert report.shapes.graph and report.diagnostics == []


# ---------------------------------------------------------------- all at once, located

def test_every_graph_error_is_reported_at_once():
    tree = net([dense(4, name="a", activation="relu"), dense(4, inputs="aa"), dense(4, inputs="later"),
                dense(5, name="later", inputs="a"), {"type": "add", "inputs": ["a", "later"]},
                dense(4, name="x", inputs="y"), dense(4, name="y", inputs="x"), {"type": "add", "inputs": "a"},
                dense(4, inputs=["a", "input"]), dense(4, in_features=3, inputs="a")], output="nope")
    assert sorted((where, code) for where, code, *_ in found(tree)) == [
        ("layers[1].inputs", "unknown-input"), ("layers[2].inputs", "forward-reference"),
        ("layers[4].inputs", "merge-mismatch"), ("layers[5].inputs", "input-cycle"), ("layers[7].inputs", "merge-inputs"),
        ("layers[8].inputs", "too-many-inputs"), ("layers[9].in_features", "shape-mismatch"),
        ("output", "unknown-output")]


def test_structural_errors_come_together_with_the_graph_ones_the_checker_finds():
    tree = net([dense(4, name="a"), {"type": "relus", "name": "a"}, {"type": "add", "inputs": ["a", "b"]}],
               output=["a", "b"])
    assert [(where, code) for where, code, *_ in found(tree)] == [
        ("layers[1].type", "unknown-type"), ("layers[1].name", "duplicate-name"), ("output", "several-outputs")]


GRAPH_FILE = """{
  "input": {"image": {"shape": [4, 4, 1]}, "meta": {"features": 3}},
  "layers": [
    {"type": "flatten", "inputs": "imag"},
    {"type": "dense", "neurons": 4, "inputs": "later"},
    {"type": "dense", "neurons": 4, "name": "later", "inputs": "meta"},
    {"type": "add", "inputs": ["later", "meta"]},
    {"type": "concatenate"}
  ],
  "output": "nope"
}
"""


def test_graph_errors_from_a_file_carry_line_and_column(tmp_path):
    path = tmp_path / "graph.json"
    path.write_text(GRAPH_FILE)
    lines = GRAPH_FILE.splitlines()

    def at(line, text):
        return line, lines[line - 1].index(text) + 1

    report = ns.validate(path)
    assert [(d.where, d.code, (d.line, d.column)) for d in report.errors] == [
        ("layers[0].inputs", "unknown-input", at(4, '"imag"')),
        ("layers[1].inputs", "forward-reference", at(5, '"later"')),
        ("layers[3].inputs", "merge-mismatch", at(7, '["later"')),
        ("layers[4].inputs", "merge-inputs", at(8, "{")),  # no "inputs" written: the layer
        ("output", "unknown-output", at(10, '"nope"')),
    ]
    assert all(d.file == str(path) for d in report.errors)
    assert str(report.errors[0]).startswith(f"{path}:4:")


# ---------------------------------------------------------------- inference

def test_shapes_record_what_each_step_reads():
    shapes = infer(ns.load(RESIDUAL))
    assert shapes.graph and shapes.output == "softmax_1"
    assert [(s.name, s.inputs) for s in shapes.layers] == [
        ("stem", ("input",)), ("tanh_1", ("stem",)), ("dense_1", ("tanh_1",)), ("tanh_2", ("dense_1",)),
        ("dense_2", ("tanh_2",)), ("add_1", ("tanh_1", "dense_2")), ("dense_3", ("add_1",)),
        ("softmax_1", ("dense_3",))]
    add = shapes.layers[5]
    assert (add.in_shape, add.in_shapes, add.out_shape, add.parameters) == ((4,), ((4,), (4,)), (4,), 0)
    assert all(s.in_shapes == () for s in shapes.layers if s.type != "add")
    assert shapes.total_parameters == 2 * 4 + 4 + 2 * (4 * 4 + 4) + 4 * 3 + 3


def test_a_chain_records_the_step_before_as_what_it_reads():
    shapes = infer(ns.load(EXAMPLES / "spiral.json"))
    assert not shapes.graph and shapes.output is None
    assert [s.inputs for s in shapes.layers] == [("input",)] + [(s.name,) for s in shapes.layers[:-1]]
    assert shapes.output_step is shapes.layers[-1]


def test_named_inputs_and_the_output_step():
    tree = two_inputs([{"type": "flatten", "inputs": "image"}, dense(2, activation="tanh", inputs="meta", name="m"),
                       {"type": "concatenate", "inputs": ["flatten_1", "m"], "name": "joined"}, dense(3, name="head"),
                       dense(1, inputs="joined")], output="head")
    shapes = ns.validate(tree).shapes
    assert shapes.input_shapes == {"image": (4, 4, 1), "meta": (3,)}
    assert shapes.input_shape is None and shapes.input_features == 19
    assert shapes.output == "head" and shapes.output_step.name == "head" and shapes.output_shape == (3,)
    assert shapes.layers[3].in_shapes == ((16,), (2,)) and shapes.layers[3].out_shape == (18,)
    summary = shapes.as_dict()
    assert "input_shape" not in summary
    assert summary["input_shapes"] == {"image": [4, 4, 1], "meta": [3]} and summary["output"] == "head"
    assert [layer["inputs"] for layer in summary["layers"]] == [
        ["image"], ["meta"], ["m"], ["flatten_1", "tanh_1"], ["joined"], ["joined"]]


def test_a_name_stands_for_the_output_of_its_activation_shorthand():
    tree = net([dense(3, activation="tanh", name="h"), {"type": "add", "inputs": ["h", "h"]}, dense(2, inputs="h")],
               output="add_1")
    shapes = ns.validate(tree).shapes
    assert [(s.name, s.inputs) for s in shapes.layers] == [
        ("h", ("input",)), ("tanh_1", ("h",)), ("add_1", ("tanh_1", "tanh_1")), ("dense_1", ("tanh_1",))]
    assert ns.validate(net([dense(3, activation="softmax", name="h"), dense(2)], output="h")).shapes.output == "softmax_1"


@pytest.mark.parametrize("layers, where, message", [
    ([dense(4, in_features=3), {"type": "add", "inputs": ["dense_1", "dense_1"]}],
     "layers[0]", "layers[0] (dense_1): in_features is 3 but the input has 2 features"),
    ([dense(4, in_features=3, inputs="input"), {"type": "add", "inputs": ["dense_1", "dense_1"]}],
     "layers[0]", "layers[0] (dense_1): in_features is 3 but the input has 2 features"),
    ([dense(4, activation="tanh"), dense(4, in_features=5), {"type": "add", "inputs": ["dense_1", "dense_2"]}],
     "layers[1]", "layers[1] (dense_2): in_features is 5 but the previous layer (tanh_1) outputs 4 features"),
    ([dense(4, activation="tanh", name="h"), dense(4, in_features=5, inputs="h"), {"type": "add", "inputs": ["h", "dense_1"]}],
     "layers[1]", "layers[1] (dense_1): in_features is 5 but tanh_1 outputs 4 features"),
])
def test_in_features_is_checked_inside_a_graph_in_the_words_of_a_chain(layers, where, message):
    width = message.split()[-2]
    assert one(net(layers), "shape-mismatch") == (f"{where}.in_features", message,
                                                  f"set in_features to {width} or remove it to have it inferred")


def test_in_features_against_a_named_input():
    tree = two_inputs([dense(4, in_features=2, inputs="meta"), dense(4, in_features=16, inputs="image")])
    assert [(where, code, message) for where, code, message, _, severity in found(tree) if severity == "error"] == [
        ("layers[0].in_features", "shape-mismatch", "layers[0] (dense_1): in_features is 2 but input meta has 3 features"),
        ("layers[1]", "needs-flatten",
         "layers[1] (dense_2): dense takes a vector of features, but receives the 4×4×1 input image"),
    ]
    assert ns.validate(two_inputs([dense(4, in_features=3, inputs="meta")])).errors == []


@pytest.mark.parametrize("layers", [
    [dense(3, activation="relu"), dense(3), {"type": "relu"}, dense(2, activation="tanh")],
    [dense(3, name="dense_2", activation="relu"), dense(3), {"type": "relu"}],
    [dense(3), dense(3), {"type": "relu", "name": "dense_1"}, {"type": "tanh"}],
    [dense(3, name="relu_1", activation="relu"), {"type": "relu"}, dense(2, activation="relu")],
])
def test_a_chain_written_as_a_graph_names_and_shapes_its_steps_as_the_chain(layers):
    chain = ns.load(net(layers))
    names = layer_names(steps(chain))
    graph = ns.load(net(layers, output=names[-1]))
    chained, graphed = infer(chain), infer(graph)
    assert not chained.graph and graphed.graph
    assert [s.name for s in graphed.layers] == [s.name for s in chained.layers] == names
    assert [(s.path, s.in_shape, s.out_shape, s.parameters, s.inputs) for s in graphed.layers] == [
        (s.path, s.in_shape, s.out_shape, s.parameters, s.inputs) for s in chained.layers]


def test_generated_names_in_a_graph_count_per_type_and_skip_given_names():
    tree = net([dense(3, activation="tanh"), dense(3, name="add_1", activation="tanh", inputs="input"),
                {"type": "add", "inputs": ["tanh_1", "tanh_2"]}, {"type": "add", "inputs": ["add_2", "tanh_1"]}])
    assert [s.name for s in ns.validate(tree).shapes.layers] == ["dense_1", "tanh_1", "add_1", "tanh_2", "add_2", "add_3"]


def test_generated_names_skip_the_names_of_inputs():
    """An unnamed layer is never called as an input is: "inputs" could not tell them apart."""
    tree = {"input": {"dense_1": {"features": 2}, "relu_1": {"features": 5}},
            "layers": [dense(3, activation="relu", inputs="relu_1"), dense(3, inputs="dense_1"),
                       {"type": "add", "inputs": ["relu_2", "dense_3"]}]}
    report = ns.validate(tree)
    assert report.diagnostics == []
    assert [(s.name, s.inputs) for s in report.shapes.layers] == [
        ("dense_2", ("relu_1",)), ("relu_2", ("dense_2",)), ("dense_3", ("dense_1",)), ("add_1", ("relu_2", "dense_3"))]
    assert [s.in_shape for s in report.shapes.layers] == [(5,), (3,), (2,), (3,)]


# ---------------------------------------------------------------- the summary

def test_the_summary_of_a_graph_has_a_connected_to_column():
    lines = infer(ns.load(RESIDUAL)).table().splitlines()
    assert lines[0].split() == ["layer", "type", "output", "shape", "parameters", "connected", "to"]
    rows = {line.split()[0]: line.split(None, 4) for line in lines[2:-2]}
    assert rows["input"] == ["input", "input", "2", "0"]
    assert rows["stem"] == ["stem", "dense", "4", "12", "input"]
    assert rows["add_1"] == ["add_1", "add", "4", "0", "tanh_1, dense_2"]
    assert rows["softmax_1"][4] == "dense_3"
    assert lines[-1] == "total parameters: 67"


def test_the_summary_of_a_chain_has_no_connected_to_column():
    table = infer(ns.load(EXAMPLES / "spiral.json")).table()
    assert "connected to" not in table
    assert all(len(line.split()) == 4 for line in table.splitlines()[2:-2])


def test_the_summary_of_two_inputs_lists_both():
    rows = [line.split() for line in ns.compile(EXAMPLES / "two_inputs.json").summary().splitlines()[2:-2]]
    assert rows[:2] == [["image", "input", "12×12×1", "0"], ["meta", "input", "3", "0"]]
    assert ["concatenate_1", "concatenate", "32", "0", "seen,", "relu_3"] in rows


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code, out, err


def test_summary_json_gives_each_layers_inputs_and_the_output(capsys):
    code, out, _ = run(capsys, "summary", "--format", "json", EXAMPLES / "two_inputs.json")
    assert code == 0
    summary = json.loads(out)
    assert summary["input_shapes"] == {"image": [12, 12, 1], "meta": [3]} and "input_shape" not in summary
    layers = {layer["name"]: layer for layer in summary["layers"]}
    assert layers["conv2d_1"]["inputs"] == ["image"] and layers["told"]["inputs"] == ["meta"]
    assert layers["concatenate_1"]["inputs"] == ["seen", "relu_3"]
    assert summary["output"] == "softmax_1"


def test_summary_table_of_a_graph_from_the_command_line(capsys):
    code, out, _ = run(capsys, "summary", EXAMPLES / "residual_mlp.json")
    assert code == 0 and "connected to" in out.splitlines()[0]
    assert any(line.split()[:2] == ["block_1", "add"] and line.endswith("relu_1, dense_2") for line in out.splitlines())


# ---------------------------------------------------------------- the builder and the canonical form

def built_two_inputs():
    return ns.Spec(input={"image": ns.Input(shape=[8, 8, 1]), "meta": ns.Input(3)},
                   layers=[ns.Conv2D(4, 3, activation="relu", inputs="image"), ns.Flatten(),
                           ns.Dense(8, activation="relu", inputs="meta", name="m"),
                           ns.Concatenate(["flatten_1", "m"]), ns.Dense(3), ns.Softmax()],
                   loss="categorical_crossentropy")


def test_builder_graphs_read_like_the_spec():
    assert ns.Dense(64, inputs="block_in").inputs == "block_in"
    assert ns.Add(["a", "b"]).inputs == ("a", "b") == ns.Add(inputs=["a", "b"]).inputs
    assert ns.Concatenate(["a", "b"], axis=0).axis == 0 and ns.Concatenate(["a", "b"]).axis == -1
    assert [cls(["a", "b"]).type for cls in (ns.Add, ns.Multiply, ns.Average, ns.Concatenate)] == [
        "add", "multiply", "average", "concatenate"]
    assert built_two_inputs() == ns.load({
        "input": {"image": {"shape": [8, 8, 1]}, "meta": {"features": 3}},
        "layers": [{"type": "conv2d", "filters": 4, "kernel_size": 3, "activation": "relu", "inputs": "image"},
                   {"type": "flatten"}, dense(8, activation="relu", inputs="meta", name="m"),
                   {"type": "concatenate", "inputs": ["flatten_1", "m"]}, dense(3), {"type": "softmax"}],
        "loss": "categorical_crossentropy"})


def test_named_inputs_of_the_builder_canonicalise_like_their_spec_form():
    spec = built_two_inputs()
    assert spec.to_dict()["input"] == {"image": {"shape": [8, 8, 1]}, "meta": {"features": 3}}
    assert spec.inputs == {"image": ns.Input(shape=[8, 8, 1]), "meta": ns.Input(3)}
    assert ns.Spec(input={"meta": {"features": 3}}, layers=[ns.Dense(2, inputs="meta")]).to_dict()["input"] == {
        "meta": {"features": 3}}
    assert ns.Spec(input=2, layers=[ns.Dense(2)]).inputs == {"input": ns.Input(2)}


def test_graph_layers_write_type_name_and_inputs_first():
    layers = built_two_inputs().to_dict()["layers"]
    assert list(layers[0]) == ["type", "inputs", "filters", "kernel_size", "activation"]
    assert list(layers[2]) == ["type", "name", "inputs", "neurons", "activation"]
    assert layers[3] == {"type": "concatenate", "inputs": ["flatten_1", "m"]}
    assert ns.load(net([dense(2, inputs=["input"])])).to_dict()["layers"] == [dense(2, inputs=["input"])]


def test_builder_graph_errors_are_raised_at_construction():
    with pytest.raises(ns.SpecError) as caught:
        ns.Spec(input=2, layers=[ns.Dense(4, name="a"), ns.Dense(3, inputs="input"), ns.Add(["a", "dense_1"])])
    assert [(d.where, d.code) for d in caught.value.errors] == [("layers[2].inputs", "merge-mismatch")]
    with pytest.raises(ns.SpecError) as caught:
        ns.Spec(input={"image": ns.Input(shape=[4, 4, 1]), "meta": ns.Input(3)}, layers=[ns.Flatten()])
    assert [(d.where, d.code) for d in caught.value.errors] == [("layers[0]", "ambiguous-input")]
    with pytest.raises(ns.SpecError) as caught:
        ns.Add(["a", ""])
    assert [d.where for d in caught.value.errors] == ["inputs[1]"]


@pytest.mark.parametrize("source", [EXAMPLES / "residual_mlp.json", EXAMPLES / "residual_cnn.json",
                                    EXAMPLES / "two_inputs.json", RESIDUAL, TWO_BRANCHES, "built"],
                         ids=["residual_mlp", "residual_cnn", "two_inputs", "residual", "two_branches", "built"])
def test_a_graph_spec_round_trips_byte_identical_in_json_and_yaml(source):
    spec = built_two_inputs() if source == "built" else ns.load(source)
    text = spec.to_json()
    assert ns.load(text) == spec and ns.load(text).to_json() == text
    yaml = spec.to_yaml()
    assert ns.load(yaml) == spec and ns.load(yaml).to_yaml() == yaml
    assert json.loads(text) == spec.to_dict()
    assert ns.load(spec.to_dict()) == spec


@pytest.mark.parametrize("name", ["yes", "on", "null", "1", "1e3", "~", "a: b", "- x", "#c"])
def test_names_yaml_would_read_as_other_values_round_trip(name):
    spec = ns.Spec(input={name: ns.Input(2)}, layers=[ns.Dense(2, inputs=name, name=f"{name}!"),
                                                      ns.Add([f"{name}!", f"{name}!"])])
    yaml, text = spec.to_yaml(), spec.to_json()
    assert ns.load(yaml) == spec and ns.load(yaml).to_yaml() == yaml
    assert ns.load(text) == spec and ns.load(text).to_json() == text


def test_a_graph_file_is_already_canonical_apart_from_its_layout():
    spec = ns.load(EXAMPLES / "residual_mlp.json")
    written = json.loads((EXAMPLES / "residual_mlp.json").read_text())
    assert spec.to_dict()["layers"] == written["layers"] and spec.to_dict()["input"] == written["input"]


def test_replace_varies_one_branch():
    spec = ns.load(TWO_BRANCHES)
    wider = spec.replace("layers[1].neurons", 5)
    assert (wider.layers[1].neurons, spec.layers[1].neurons) == (5, 2)
    assert infer(wider).layers[4].out_shape == (8,) and infer(spec).layers[4].out_shape == (5,)
    assert wider.replace("layers[1].inputs", "left").layers[1].inputs == "left"
    with pytest.raises(ns.SpecError) as caught:
        ns.load(RESIDUAL).replace("layers[2].neurons", 5)
    [d] = caught.value.errors
    assert (d.where, d.code, d.message) == ("layers[3].inputs", "merge-mismatch",
                                            "layers[3] (add_1): tanh_1 gives 4 features but dense_2 gives 5 features")
    rewired = ns.load(RESIDUAL).replace("layers[3].inputs", ["stem", "dense_2", "tanh_2"])
    assert infer(rewired).layers[5].inputs == ("tanh_1", "dense_2", "tanh_2")


def test_a_sweep_over_a_branch_gives_valid_variants_and_merge_mismatches():
    variants = list(ns.sweep(EXAMPLES / "residual_mlp.json", {"layers[2].neurons": [32, 64],
                                                                "layers[1].neurons": [16, 64]}))
    assert [(v.values["layers[2].neurons"], v.values["layers[1].neurons"], v.ok) for v in variants] == [
        (32, 16, False), (32, 64, False), (64, 16, True), (64, 64, True)]
    for variant in variants[:2]:
        [d] = variant.errors
        assert (d.where, d.code) == ("layers[3].inputs", "merge-mismatch")
        assert d.message == "layers[3] (block_1): relu_1 gives 64 features but dense_2 gives 32 features"
    assert variants[2].spec.layers[1].neurons == 16 and variants[2].warnings == []
    branches = list(ns.sweep(TWO_BRANCHES, {"layers[0].neurons": [1, 4], "layers[1].neurons": [2, 6]}))
    assert all(v.ok for v in branches)
    assert [infer(v.spec).layers[4].out_shape for v in branches] == [(3,), (7,), (6,), (10,)]
