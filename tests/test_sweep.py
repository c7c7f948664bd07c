"""Sweeps: grid order, random draws, invalid variants, grid errors, and ``netspec sweep``."""

import csv
import importlib
import itertools
import json
from pathlib import Path

import pytest

import netspec
from netspec.cli import main
from netspec.limits import Limits
from netspec.sweeps import load_grid, sweep, train_variant

ROOT = Path(__file__).resolve().parent.parent
XOR = ROOT / "examples" / "xor.json"

BASE = {"input": {"features": 2},
        "layers": [{"type": "dense", "neurons": 8, "activation": "relu"}, {"type": "dense", "neurons": 3},
                   {"type": "softmax"}],
        "loss": "categorical_crossentropy"}


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code, out, err


def read_csv(path):
    with open(path, newline="", encoding="utf-8") as stream:
        return list(csv.DictReader(stream))


# ---------------------------------------------------------------- the grid, in order

def test_every_combination_in_grid_order_first_path_slowest():
    grid = {"layers[0].neurons": [4, 16, 32], "seed": [0, 1]}
    variants = list(sweep(BASE, grid))
    assert [tuple(v.values.values()) for v in variants] == list(itertools.product([4, 16, 32], [0, 1]))
    assert [v.index for v in variants] == list(range(6))
    assert [v.name for v in variants] == [f"variant-000{i}" for i in range(1, 7)]
    assert all(v.ok and v.errors == [] for v in variants)
    assert [(v.spec.layers[0].neurons, v.spec.seed) for v in variants] == list(itertools.product([4, 16, 32], [0, 1]))


def test_a_variant_is_the_base_with_its_values_set_and_validated():
    [variant] = sweep(XOR, {"train.optimizer.learning_rate": [0.2]})
    assert variant.spec == netspec.load(XOR).replace("train.optimizer.learning_rate", 0.2)


def test_names_are_padded_to_the_size_of_the_grid_and_generation_is_lazy(monkeypatch):
    sweeping = importlib.import_module("netspec.sweeps")
    validated = []
    monkeypatch.setattr(sweeping, "validate", lambda tree: validated.append(tree) or netspec.validate(tree))
    grid = {"layers[0].neurons": list(range(1, 101)), "seed": list(range(100))}  # 10,000 variants
    first, second = itertools.islice(sweep(BASE, grid), 2)
    assert len(validated) == 2
    assert (first.name, second.name) == ("variant-00001", "variant-00002")
    assert second.values == {"layers[0].neurons": 1, "seed": 1}


def test_an_empty_grid_is_the_base_alone():
    [variant] = sweep(BASE, {})
    assert variant.ok and variant.values == {} and variant.spec == netspec.load(BASE)


# ---------------------------------------------------------------- random draws

def test_samples_are_distinct_counted_and_the_same_for_the_same_seed():
    grid = {"layers[0].neurons": list(range(1, 21)), "seed": list(range(10)), "dtype": ["float32", "float64"]}
    drawn = list(sweep(BASE, grid, samples=25, seed=7))
    assert len(drawn) == 25 and len({v.index for v in drawn}) == 25
    assert [v.index for v in sweep(BASE, grid, samples=25, seed=7)] == [v.index for v in drawn]
    assert [v.index for v in sweep(BASE, grid, samples=25, seed=8)] != [v.index for v in drawn]
    every = list(sweep(BASE, grid))
    for variant in drawn:  # a drawn variant is the grid's variant of the same index
        assert (variant.name, variant.values, variant.spec) == (
            every[variant.index].name, every[variant.index].values, every[variant.index].spec)


def test_more_samples_than_the_grid_give_all_of_it_once():
    grid = {"layers[0].neurons": [4, 8, 16], "seed": [0, 1]}
    drawn = [v.index for v in sweep(BASE, grid, samples=50, seed=0)]
    assert sorted(drawn) == list(range(6))


def test_sampling_a_huge_grid_draws_indices_without_listing_the_grid():
    grid = {f"description{i}": list(range(10)) for i in range(30)}  # 10**30 combinations
    drawn = list(sweep(BASE, grid, samples=3, seed=1))
    assert len({v.index for v in drawn}) == 3 and all(v.index < 10**30 for v in drawn)
    assert drawn[0].name.startswith("variant-") and len(drawn[0].name) == len("variant-") + 31
    assert all(not v.ok and v.errors[0].code == "unknown-key" for v in drawn)  # unknown keys, reported


@pytest.mark.parametrize("samples", [0, -1, 2.5, True])
def test_samples_must_be_a_positive_integer(samples):
    with pytest.raises(ValueError, match="samples must be a positive integer"):
        sweep(BASE, {"seed": [1]}, samples=samples)


# ---------------------------------------------------------------- invalid variants

def test_invalid_combinations_are_yielded_with_their_diagnostics():
    variants = list(sweep(BASE, {"layers[0].neurons": [4, 8], "layers[1].in_features": [8]}))
    bad, good = variants
    assert not bad.ok and bad.spec is None
    [error] = bad.errors
    assert (error.where, error.code) == ("layers[1].in_features", "shape-mismatch")
    assert "in_features is 8" in error.message and "outputs 4 features" in error.message
    assert good.ok and good.spec.layers[1].in_features == 8


def test_every_path_is_applied_to_one_tree_before_validating():
    # Setting in_features first would be invalid on its own (8 arrive); with neurons set too it is fine.
    [variant] = sweep(BASE, {"layers[1].in_features": [5], "layers[0].neurons": [5]})
    assert variant.ok and (variant.spec.layers[0].neurons, variant.spec.layers[1].in_features) == (5, 5)


def test_a_later_path_sets_an_option_inside_an_earlier_value():
    grid = {"train.optimizer": [{"type": "sgd"}, {"type": "rmsprop"}], "train.optimizer.learning_rate": [0.5]}
    optimizers = [v.spec.train.optimizer for v in sweep(BASE, grid)]
    assert [(o.type, o.learning_rate) for o in optimizers] == [("sgd", 0.5), ("rmsprop", 0.5)]
    assert grid["train.optimizer"] == [{"type": "sgd"}, {"type": "rmsprop"}]  # the grid is not changed


def test_a_path_that_leads_nowhere_is_an_error_of_each_variant():
    [variant] = sweep(BASE, {"layers[5].neurons": [3]})
    [error] = variant.errors
    assert (error.path, error.code) == (("layers", 5), "bad-path")


def test_values_the_spec_refuses_are_errors_at_their_spec_path():
    variants = list(sweep(BASE, {"layers[0].activation": ["relu", "relus"], "layers[0].neurons": [0]}))
    assert [[(d.where, d.code) for d in v.errors] for v in variants] == [
        [("layers[0].neurons", "out-of-range")],
        [("layers[0].neurons", "out-of-range"), ("layers[0].activation", "unknown-type")]]


def test_an_invalid_base_is_refused_when_the_sweep_is_made():
    with pytest.raises(netspec.SpecError) as caught:
        sweep({"input": {"features": 2}, "layers": []}, {"seed": [1]})
    assert caught.value.errors[0].code == "empty-list"


# ---------------------------------------------------------------- grid errors

GRID_JSON = """{
  "layers[0": [1, 2],
  "seed": [],
  "loss": "mse",
  "train.optimizer.learning_rate": [0.1],
  "train": [{}]
}
"""


def test_grid_errors_point_into_the_grid_file(tmp_path):
    path = tmp_path / "grid.json"
    path.write_text(GRID_JSON)
    with pytest.raises(netspec.SpecError) as caught:
        load_grid(path)
    found = [(d.path, d.code, d.line, d.column, d.file) for d in caught.value.errors]
    assert found == [
        (("layers[0",), "bad-path", 2, 3, str(path)),
        (("seed",), "empty-list", 3, 3, str(path)),
        (("loss",), "wrong-type", 4, 3, str(path)),
        (("train",), "bad-path", 6, 3, str(path)),
    ]
    messages = [d.message for d in caught.value.errors]
    assert messages[2] == 'the values of loss must be a list, got string "mse"'
    assert messages[3] == "train would overwrite train.optimizer.learning_rate, which comes earlier in the grid"


def test_grid_errors_in_yaml_text_and_in_a_dict():
    with pytest.raises(netspec.SpecError) as caught:
        load_grid("seed: [1]\nlayers[0].neurons: 8\n")
    [error] = caught.value.errors
    assert (error.path, error.code, error.line, error.column) == (("layers[0].neurons",), "wrong-type", 2, 1)
    with pytest.raises(netspec.SpecError) as caught:
        sweep(BASE, {"layers[0].neurons": []})
    [error] = caught.value.errors
    assert (error.path, error.code, error.line) == (("layers[0].neurons",), "empty-list", None)


@pytest.mark.parametrize("grid, code", [("[1, 2]", "not-an-object"), ({"a": {1, 2}}, "not-json-value"),
                                        ('{"seed": [1], "seed": [2]}', "duplicate-key"),
                                        ({"layers[0].neurons": [8], "layers[00].neurons": [4]}, "bad-path")])
def test_other_grid_errors(grid, code):
    with pytest.raises(netspec.SpecError) as caught:
        load_grid(grid)
    assert caught.value.errors[0].code == code


def test_load_grid_reads_json_and_yaml_files(tmp_path):
    (tmp_path / "g.yaml").write_text("layers[0].neurons: [8, 16]\ntrain.optimizer.learning_rate: [0.1]\n")
    (tmp_path / "g.json").write_text('{"layers[0].neurons": [8, 16], "train.optimizer.learning_rate": [0.1]}')
    assert load_grid(tmp_path / "g.yaml") == load_grid(str(tmp_path / "g.json")) == {
        "layers[0].neurons": [8, 16], "train.optimizer.learning_rate": [0.1]}


# ---------------------------------------------------------------- netspec sweep

def write(path, value):
    path.write_text(json.dumps(value) if path.suffix == ".json" else value)
    return path


def test_cli_writes_a_spec_per_valid_variant_and_an_index(tmp_path, capsys):
    grid = write(tmp_path / "grid.json", {"layers[0].neurons": [2, 8], "layers[1].in_features": [8]})
    out = tmp_path / "out"
    code, stdout, _ = run(capsys, "sweep", XOR, grid, "--out", out)
    assert code == 0
    assert stdout.splitlines()[0] == f"{out}: 2 variants, 1 valid, 1 invalid (index.csv)"
    assert sorted(p.name for p in out.iterdir()) == ["index.csv", "index.json", "sweep.json", "variant-0002.json"]
    expected = netspec.load(XOR).replace("layers[0].neurons", 8).replace("layers[1].in_features", 8)
    assert (out / "variant-0002.json").read_text() == expected.to_json()
    assert read_csv(out / "index.csv") == [
        {"name": "variant-0001", "status": "invalid", "layers[0].neurons": "2", "layers[1].in_features": "8",
         "file": "", "error_path": "layers[1].in_features",
         "error_message": "layers[1] (dense_2): in_features is 8 but the previous layer (tanh_1) outputs 2 features"},
        {"name": "variant-0002", "status": "ok", "layers[0].neurons": "8", "layers[1].in_features": "8",
         "file": "variant-0002.json", "error_path": "", "error_message": ""},
    ]
    index = json.loads((out / "index.json").read_text())
    assert index["grid"] == {"layers[0].neurons": [2, 8], "layers[1].in_features": [8]}
    first, second = index["variants"]
    assert (first["status"], first["file"], first["values"]) == ("invalid", None, {"layers[0].neurons": 2,
                                                                                   "layers[1].in_features": 8})
    assert [(d["path"], d["code"], d["severity"]) for d in first["errors"]] == [
        ("layers[1].in_features", "shape-mismatch", "error")]
    assert first["errors"][0]["hint"] == "set in_features to 2 or remove it to have it inferred"
    assert (second["status"], second["errors"]) == ("ok", [])


def test_cli_samples_with_a_seed(tmp_path, capsys):
    grid = write(tmp_path / "grid.json", {"layers[0].neurons": list(range(1, 11)), "seed": list(range(10))})
    for name in ("a", "b"):
        assert run(capsys, "sweep", XOR, grid, "--out", tmp_path / name, "--samples", 4, "--seed", 3)[0] == 0
    names = [row["name"] for row in read_csv(tmp_path / "a" / "index.csv")]
    assert len(set(names)) == 4 and names == [row["name"] for row in read_csv(tmp_path / "b" / "index.csv")]


def test_cli_refuses_a_non_empty_folder_unless_forced(tmp_path, capsys):
    grid = write(tmp_path / "grid.json", {"seed": [1, 2, 3]})
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    code, _, err = run(capsys, "sweep", XOR, grid, "--out", out)
    assert code == 1 and "is not empty; pass --force" in err
    assert [p.name for p in out.iterdir()] == ["notes.txt"]
    assert run(capsys, "sweep", XOR, grid, "--out", out, "--force")[0] == 0
    write(grid, {"seed": [7]})
    assert run(capsys, "sweep", XOR, grid, "--out", out, "--force")[0] == 0
    # the earlier sweep's files are gone, the user's file is kept
    assert sorted(p.name for p in out.iterdir()) == ["index.csv", "index.json", "notes.txt", "sweep.json",
                                                     "variant-0001.json"]


def test_cli_train_writes_results_sorted_best_first(tmp_path, capsys):
    grid = write(tmp_path / "grid.yaml", "train.optimizer.learning_rate: [0.001, 0.1, 0.01]\n")
    out = tmp_path / "out"
    code, stdout, _ = run(capsys, "sweep", XOR, grid, "--out", out, "--train", "--epochs", 40)
    assert code == 0
    rows = read_csv(out / "results.csv")
    assert list(rows[0]) == ["variant", "status", "train.optimizer.learning_rate", "loss", "accuracy", "seconds",
                             "error"]
    losses = [float(row["loss"]) for row in rows]
    assert losses == sorted(losses) and len(rows) == 3 and all(row["status"] == "ok" for row in rows)
    assert rows[0]["train.optimizer.learning_rate"] == "0.1"
    assert "top 3 by loss:" in stdout and rows[0]["variant"] in stdout.split("top 3 by loss:")[1].splitlines()[2]
    by_accuracy = tmp_path / "by-accuracy"
    run(capsys, "sweep", XOR, grid, "--out", by_accuracy, "--train", "--epochs", 40, "--metric", "accuracy")
    accuracies = [float(row["accuracy"]) for row in read_csv(by_accuracy / "results.csv")]
    assert accuracies == sorted(accuracies, reverse=True)


def test_cli_train_lists_a_variant_whose_training_fails(tmp_path, capsys):
    grid = write(tmp_path / "grid.json", {
        "layers[0].activation": ["relu"], "layers[1].activation": ["linear"], "loss": ["mse"],
        "train.optimizer": [{"type": "sgd", "learning_rate": 1e10}, {"type": "sgd", "learning_rate": 0.01}]})
    out = tmp_path / "out"
    code, stdout, stderr = run(capsys, "sweep", XOR, grid, "--out", out, "--train", "--epochs", 50)
    assert code == 1 and f"1 variant failed to train; the reasons are in {out}/results.csv (column error)" in stderr
    ok, failed = read_csv(out / "results.csv")
    assert (ok["variant"], ok["status"], ok["error"]) == ("variant-0002", "ok", "")
    assert (failed["variant"], failed["status"], failed["loss"]) == ("variant-0001", "failed", "")
    assert failed["error"].startswith("training diverged at epoch")


def test_training_a_variant_whose_forward_pass_would_exceed_the_memory_limit_is_a_failed_result():
    [variant] = sweep(BASE, {"layers[0].neurons": [64]})
    X, y = netspec.data.spiral(100, 3, seed=0)
    result = train_variant(variant, lambda spec: (X, y), epochs=1, limits=Limits(max_memory_bytes=100_000))
    assert not result.ok and result.metrics == {}
    # 300 samples × (2 + 64 + 64 + 3 + 3) values × 8 bytes
    assert result.error == ("the data: a forward pass over its 300 samples would hold 326,400 bytes of layer "
                            "outputs, over the limit of 100,000; use fewer samples")
    assert train_variant(variant, lambda spec: (X, y), epochs=1).ok


def test_cli_train_on_a_data_file_relative_to_the_base(tmp_path, capsys):
    specs = tmp_path / "specs"
    specs.mkdir()
    (specs / "train.csv").write_text("a,b,y\n0,0,0\n0,1,1\n1,0,1\n1,1,0\n")
    base = json.loads(XOR.read_text())
    base.pop("$schema")
    base["data"] = {"path": "train.csv", "label": "y"}
    write(specs / "base.json", base)
    grid = write(tmp_path / "grid.json", {"seed": [1, 2]})
    out = tmp_path / "runs" / "out"
    assert run(capsys, "sweep", specs / "base.json", grid, "--out", out, "--train", "--epochs", 5)[0] == 0
    assert all(row["status"] == "ok" for row in read_csv(out / "results.csv"))
    written = json.loads((out / "variant-0001.json").read_text())
    assert written["data"] == {"path": "../../specs/train.csv", "label": "y"}  # still names the same file
    assert run(capsys, "train", out / "variant-0001.json", "--epochs", 1, "--quiet", "--out", tmp_path / "m.npz")[0] == 0


def test_an_interrupted_sweep_leaves_only_whole_files(tmp_path, capsys, monkeypatch):
    calls = []

    def interrupted(variant, data, **options):
        calls.append(variant.name)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(variant, data, **options)

    import netspec.sweeps as sweeps  # the command imports it when it runs

    real = sweeps.train_variant
    monkeypatch.setattr(sweeps, "train_variant", interrupted)
    grid = write(tmp_path / "grid.json", {"seed": [1, 2, 3]})
    out = tmp_path / "out"
    code, _, err = run(capsys, "sweep", XOR, grid, "--out", out, "--train", "--epochs", 2)
    assert code == 130 and "interrupted after 2 variants of 3" in err
    assert sorted(p.name for p in out.iterdir()) == ["index.csv", "index.json", "results.csv", "sweep.json",
                                                     "variant-0001.json", "variant-0002.json"]
    assert netspec.load(out / "variant-0002.json").seed == 2
    assert [row["name"] for row in read_csv(out / "index.csv")] == ["variant-0001", "variant-0002"]
    index = json.loads((out / "index.json").read_text())
    assert index["interrupted"] is True and [v["name"] for v in index["variants"]] == ["variant-0001", "variant-0002"]
    assert [row["variant"] for row in read_csv(out / "results.csv")] == ["variant-0001"]


@pytest.mark.parametrize("argv, message", [
    (["sweep", ROOT / "examples" / "invalid" / "shape-mismatch.json", "{grid}", "--out", "{out}"], "shape-mismatch"),
    (["sweep", XOR, "{bad_grid}", "--out", "{out}"], "[empty-list]"),
    (["sweep", XOR, "{missing}", "--out", "{out}"], "[file-not-found]"),
    (["sweep", XOR, "{grid}", "--out", "{out}", "--train", "--data", "{missing}"], "neither a built-in dataset nor"),
    (["sweep", "{no_data}", "{grid}", "--out", "{out}", "--train"], "has no data section"),
])
def test_cli_bad_input_exits_1_without_writing(tmp_path, capsys, argv, message):
    names = {"grid": write(tmp_path / "grid.json", {"seed": [1]}), "bad_grid": write(tmp_path / "bad.json", {"seed": []}),
             "missing": tmp_path / "missing.json", "out": tmp_path / "out", "no_data": write(tmp_path / "s.json", BASE)}
    code, out, err = run(capsys, *[str(a).format(**names) for a in argv])
    assert code == 1 and message in err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("extra", [[], ["--samples", "0"], ["--metric", "f1"]])
def test_cli_usage_errors_exit_2(tmp_path, capsys, extra):
    grid = write(tmp_path / "grid.json", {"seed": [1]})
    argv = ["sweep", str(XOR), str(grid), *(["--out", str(tmp_path / "out")] if extra else []), *extra]
    with pytest.raises(SystemExit) as caught:
        main(argv)
    assert caught.value.code == 2
    assert "usage: netspec sweep" in capsys.readouterr().err


@pytest.mark.parametrize("extra, message", [(["--metric", "loss"], "go with --train"),
                                            (["--epochs", "3"], "go with --train"),
                                            (["--data", "xor"], "go with --train"),
                                            (["--seed", "1"], "--seed goes with --samples")])
def test_cli_options_that_need_another(tmp_path, capsys, extra, message):
    grid = write(tmp_path / "grid.json", {"seed": [1]})
    code, _, err = run(capsys, "sweep", XOR, grid, "--out", tmp_path / "out", *extra)
    assert code == 2 and message in err
    assert not (tmp_path / "out").exists()


# ---------------------------------------------------------------- convolutional networks

CNN = ROOT / "examples" / "cnn.json"


def test_a_sweep_over_a_cnn_kernel_yields_valid_variants_and_shape_errors():
    grid = {"layers[0].filters": [0, 4], "layers[0].kernel_size": [3, [3, 5], 15, 17, [3, 3, 3]],
            "layers[0].padding": ["same", "valid"]}
    variants = {tuple(json.dumps(v) for v in variant.values.values()): variant for variant in sweep(CNN, grid)}
    assert len(variants) == 20

    def of(filters, kernel, padding):
        return variants[(json.dumps(filters), json.dumps(kernel), json.dumps(padding))]

    def codes(variant):
        return [(d.where, d.code) for d in variant.errors]

    for kernel in (3, [3, 5], 15, 17):  # "same" keeps 16×16 whatever the kernel
        variant = of(4, kernel, "same")
        assert variant.ok and netspec.infer(variant.spec).layers[0].out_shape == (16, 16, 4)
    assert netspec.infer(of(4, 3, "valid").spec).layers[0].out_shape == (14, 14, 4)
    assert netspec.infer(of(4, [3, 5], "valid").spec).layers[0].out_shape == (14, 12, 4)
    assert of(4, [3, 5], "valid").spec.layers[0].kernel_size == (3, 5)
    # 17×17 over 16×16 leaves nothing; 15×15 leaves 2×2, pooled to 1×1, which the second pool cannot take
    assert codes(of(4, 17, "valid")) == [("layers[0].kernel_size", "empty-output")]
    assert "a 17×17 kernel over the 16×16×1 input leaves nothing" in of(4, 17, "valid").errors[0].message
    assert codes(of(4, 15, "valid")) == [("layers[3].pool_size", "empty-output")]
    assert "over the 1×1×16 output of relu_2 leaves nothing" in of(4, 15, "valid").errors[0].message
    # values the layer refuses are errors at their path, before any shape is worked out
    assert codes(of(4, [3, 3, 3], "same")) == [("layers[0].kernel_size", "invalid-value")]
    for kernel in (3, 17):
        assert codes(of(0, kernel, "valid")) == [("layers[0].filters", "out-of-range")]
    assert sum(v.ok for v in variants.values()) == 6


def test_cnn_variants_carry_the_shape_lints():
    [tight, loose] = sweep(CNN, {"layers[0].kernel_size": [3], "layers[0].padding": ["valid", "same"]})
    # 16 → 14 → pool 7 → 7 → pool 3: the last row and column of the 7×7 are never read
    assert [(d.where, d.code) for d in tight.warnings] == [("layers[3]", "drops-edge")]
    assert tight.ok and loose.ok and loose.warnings == []


def test_a_sweep_over_the_input_shape_finds_the_wrong_rank():
    ok, flat = sweep(CNN, {"input.shape": [[16, 16, 1], [16, 16]]})
    assert ok.ok and ok.spec.input.shape == (16, 16, 1)
    assert flat.errors[0].where == "layers[0]" and flat.errors[0].code == "wrong-rank"
    assert "give images a channel axis" in flat.errors[0].hint
    assert {d.code for d in flat.errors} == {"wrong-rank"}


def test_cli_sweep_of_a_cnn_writes_valid_variants_and_indexes_the_shape_errors(tmp_path, capsys):
    grid = write(tmp_path / "grid.json", {"layers[0].kernel_size": [3, 17], "layers[0].padding": ["valid"]})
    out = tmp_path / "out"
    code, stdout, _ = run(capsys, "sweep", CNN, grid, "--out", out)
    assert code == 0 and stdout.splitlines()[0] == f"{out}: 2 variants, 1 valid, 1 invalid (index.csv)"
    good, bad = read_csv(out / "index.csv")
    assert (good["status"], good["file"]) == ("ok", "variant-0001.json")
    assert (bad["status"], bad["error_path"]) == ("invalid", "layers[0].kernel_size")
    assert bad["error_message"] == "layers[0] (conv2d_1): a 17×17 kernel over the 16×16×1 input leaves nothing"
    written = netspec.load(out / "variant-0001.json")
    assert written == netspec.load(CNN).replace("layers[0].kernel_size", 3).replace("layers[0].padding", "valid")
    assert [d["code"] for d in json.loads((out / "index.json").read_text())["variants"][1]["errors"]] == [
        "empty-output"]
