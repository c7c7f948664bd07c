"""The command line's exit codes, messages and results: sweeps that fail say
so, limits are the spec's, messages point at the real problem, and train,
evaluate and predict give a careful user what they ask for."""

import argparse
import csv
import io
import json
import math
from pathlib import Path

import numpy as np
import pytest

import netspec
from netspec.cli import CARET_WINDOW, THREADS_VARIABLE, build_parser, caret_window, main
from netspec.runtime import threads

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
XOR = EXAMPLES / "xor.json"


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code, out, err


def usage(capsys, *argv):
    """Exit status and stderr of a command that argparse refuses."""
    with pytest.raises(SystemExit) as caught:
        main([str(a) for a in argv])
    return caught.value.code, capsys.readouterr().err


def write(path, value):
    path.write_text(json.dumps(value) if not isinstance(value, str) else value)
    return path


def read_csv(path):
    with open(path, newline="", encoding="utf-8") as stream:
        return list(csv.DictReader(stream))


# ---------------------------------------------------------------- sweeps

def test_sweep_metric_that_no_variant_measures_is_a_usage_error_before_training(tmp_path, capsys):
    grid = write(tmp_path / "grid.json", {"seed": [1, 2]})
    code, _, err = run(capsys, "sweep", XOR, grid, "--out", tmp_path / "out", "--train", "--metric", "val_loss")
    assert code == 2 and "--metric val_loss: no variant measures it (val_ values need train.validation_split)" in err
    assert "they measure accuracy, loss" in err
    assert not (tmp_path / "out").exists()


def test_sweep_metric_measured_by_some_variants_is_fine(tmp_path, capsys):
    grid = write(tmp_path / "grid.json", {"train.validation_split": [0.0, 0.25]})
    spiral = EXAMPLES / "spiral.json"
    code, _, _ = run(capsys, "sweep", spiral, grid, "--out", tmp_path / "out", "--train", "--epochs", 2,
                     "--metric", "val_loss")
    assert code == 0 and len(read_csv(tmp_path / "out" / "results.csv")) == 2


def test_a_grid_over_the_variant_limit_is_refused_with_the_count(tmp_path, capsys):
    grid = write(tmp_path / "grid.json", {"layers[0].neurons": list(range(1, 102)), "seed": list(range(100))})
    code, _, err = run(capsys, "sweep", XOR, grid, "--out", tmp_path / "out")
    assert code == 1 and "the grid makes 10,100 variants, more than --max-variants 10,000" in err
    assert not (tmp_path / "out").exists()
    small = write(tmp_path / "small.json", {"seed": [1, 2, 3]})
    code, _, err = run(capsys, "sweep", XOR, small, "--out", tmp_path / "out", "--max-variants", 2)
    assert code == 1 and "makes 3 variants, more than --max-variants 2" in err
    code, out, _ = run(capsys, "sweep", XOR, grid, "--out", tmp_path / "out", "--samples", 5, "--seed", 1)
    assert code == 0 and "5 variants" in out


def test_the_index_grows_as_variants_are_written(tmp_path, capsys, monkeypatch):
    import netspec.sweeps as sweeps

    seen = []
    real = sweeps.Folder.add

    def add(folder, variant):
        seen.append([row["name"] for row in read_csv(Path(folder.path) / "index.csv")])
        real(folder, variant)

    monkeypatch.setattr(sweeps.Folder, "add", add)
    grid = write(tmp_path / "grid.json", {"seed": [1, 2, 3]})
    assert run(capsys, "sweep", XOR, grid, "--out", tmp_path / "out")[0] == 0
    assert seen == [[], ["variant-0001"], ["variant-0001", "variant-0002"]]
    assert json.loads((tmp_path / "out" / "index.json").read_text())["interrupted"] is False


def test_sweep_results_are_of_the_weights_kept_on_the_training_rows(tmp_path, capsys):
    grid = write(tmp_path / "grid.json", {"seed": [1]})
    spiral = EXAMPLES / "spiral.json"
    base = json.loads(spiral.read_text())
    base.pop("$schema")
    base["train"].update(validation_split=0.25, epochs=50)
    base["data"] = {"dataset": "spiral", "points_per_class": 20}
    write(tmp_path / "base.json", base)
    assert run(capsys, "sweep", tmp_path / "base.json", grid, "--out", tmp_path / "out", "--train")[0] == 0
    [row] = read_csv(tmp_path / "out" / "results.csv")
    history = netspec.compile(tmp_path / "out" / "variant-0001.json").fit(
        *netspec.data.spiral(20, 3, seed=0), verbose=0)
    assert float(row["val_loss"]) == pytest.approx(history.last()["val_loss"], rel=1e-9)
    assert float(row["loss"]) == pytest.approx(history.last()["loss"], rel=1e-9)


# ---------------------------------------------------------------- usage errors and limits

@pytest.mark.parametrize("name, words", [
    ("rellu", 'no layer, activation or loss is registered as "rellu"; did you mean "relu"?'),
    ("conv2", 'did you mean "conv2d"?'),
    ("adam", '"adam" is an optimizer; only layers, activations and losses have gradients to check'),
])
def test_check_gradients_of_an_unknown_name_is_a_usage_error(capsys, name, words):
    code, out, err = run(capsys, "check-gradients", "relu", name)
    assert code == 2 and words in err and out == ""  # nothing checked


@pytest.mark.parametrize("command", [["train", XOR], ["sweep", XOR, XOR, "--out", "x", "--train"]])
def test_epochs_on_the_command_line_obey_the_spec_limit(capsys, command):
    code, err = usage(capsys, *command, "--epochs", 10_000_001)
    assert code == 2 and "expected at most 10,000,000 epochs (the limit of train.epochs), got 10000001" in err


def test_the_epochs_limit_is_the_spec_models(capsys):
    from netspec.cli import MAX_EPOCHS

    over = {**json.loads(XOR.read_text()), "train": {"epochs": MAX_EPOCHS + 1}}
    assert not netspec.validate(over).ok and netspec.validate({**over, "train": {"epochs": MAX_EPOCHS}}).ok


def test_a_bad_threads_variable_is_a_usage_error(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("NETSPEC_THREADS", "lots")
    code, _, err = run(capsys, "train", XOR, "--out", tmp_path / "m.npz")
    assert code == 2 and "NETSPEC_THREADS must be a positive integer (BLAS threads); received 'lots'" in err
    assert not (tmp_path / "m.npz").exists()
    assert THREADS_VARIABLE == threads.ENVIRONMENT


def test_threads_can_be_given(tmp_path, capsys):
    assert run(capsys, "train", XOR, "--out", tmp_path / "m.npz", "--epochs", 2, "--quiet", "--threads", 1)[0] == 0
    assert usage(capsys, "train", XOR, "--threads", 0)[0] == 2


def test_csv_options_do_not_apply_to_built_in_datasets(capsys):
    code, _, err = run(capsys, "run", XOR, "--data", "xor", "--label", "y")
    assert code == 2 and "--label applies to data files, not to the built-in dataset xor" in err
    code, _, err = run(capsys, "run", XOR, "--delimiter", ";")
    assert code == 2 and "applies to data files, but the data section of" in err


# ---------------------------------------------------------------- evaluate

def test_evaluate_a_checkpoint_whose_weights_are_not_finite(tmp_path, capsys):
    pipeline = netspec.compile(XOR)
    pipeline.layers[0].weights[...] = np.nan
    pipeline.save(tmp_path / "nan.npz")
    code, out, err = run(capsys, "evaluate", tmp_path / "nan.npz", "--data", "xor")
    assert code == 1 and "its weights are not finite" in err and "layer dense_1" in err and out == ""


def test_evaluate_whose_loss_is_not_a_number_exits_1(tmp_path, capsys):
    pipeline = netspec.compile({"input": {"features": 2}, "layers": [{"type": "dense", "neurons": 1}], "loss": "mse"})
    pipeline.layers[0].weights[...] = 1e300
    pipeline.save(tmp_path / "huge.npz")
    np.savez(tmp_path / "data.npz", X=np.full((4, 2), 1e10), y=np.zeros((4, 1)))
    code, out, err = run(capsys, "evaluate", tmp_path / "huge.npz", "--data", tmp_path / "data.npz")
    assert code == 1 and "not a number" in err and out == ""


def test_evaluate_uses_the_checkpoint_data_section(tmp_path, capsys, monkeypatch):
    (tmp_path / "specs").mkdir()
    write(tmp_path / "specs" / "train.csv", "a;b;y\n0;0;0\n0;1;1\n1;0;1\n1;1;0\n")
    spec = json.loads(XOR.read_text())
    spec.pop("$schema")
    spec["data"] = {"path": "train.csv", "label": "y"}
    write(tmp_path / "specs" / "s.json", spec)
    (tmp_path / "models").mkdir()
    model = tmp_path / "models" / "m.npz"
    assert run(capsys, "train", tmp_path / "specs" / "s.json", "--out", model, "--epochs", 5, "--quiet",
               "--delimiter", ";")[0] == 0
    monkeypatch.chdir(tmp_path)  # relative paths no longer lead to the spec's folder
    code, out, err = run(capsys, "evaluate", model, "--delimiter", ";", "--format", "json")
    assert code == 0, err
    assert json.loads(out)["loss"] == pytest.approx(netspec.load_pipeline(model).evaluate(
        np.array([[0, 0], [0, 1], [1, 0], [1, 1]]), np.array([0, 1, 1, 0]))["loss"])
    assert run(capsys, "evaluate", model, "--delimiter", ";")[1].startswith(f"{model} on ../specs/train.csv (4 samples)")


def test_evaluate_without_any_data(tmp_path, capsys):
    spec = write(tmp_path / "s.json", {"input": {"features": 2}, "layers": [{"type": "dense", "neurons": 1},
                                       {"type": "sigmoid"}], "loss": "binary_crossentropy"})
    assert run(capsys, "train", spec, "--data", "xor", "--out", tmp_path / "m.npz", "--epochs", 1, "--quiet")[0] == 0
    code, _, err = run(capsys, "evaluate", tmp_path / "m.npz")
    assert code == 1 and "has no data section in its spec: pass --data" in err


# ---------------------------------------------------------------- messages

def test_the_caret_of_minified_json_shows_a_window_of_the_line(tmp_path, capsys):
    tree = {"input": {"features": 2}, "description": "x" * 600, "layers": [{"type": "dense", "neurons": "3"}]}
    spec = write(tmp_path / "min.json", json.dumps(tree, separators=(",", ":")))
    code, out, _ = run(capsys, "validate", spec)
    lines = out.splitlines()
    source, caret = lines[1], lines[2]
    assert code == 1 and len(source) <= 4 + CARET_WINDOW + 2
    assert source[len(caret) - 1:].startswith('"3"')  # the caret is under the value


@pytest.mark.parametrize("column, shown, offset", [
    (1, "a" * 100 + "…", 0), (150, "…" + "a" * 100 + "…", 51), (300, "…" + "a" * 100, 100)])
def test_caret_window(column, shown, offset):
    assert caret_window("a" * 300, column) == (shown, offset)
    assert caret_window("short", 3) == ("short", 2)


def test_one_sample_is_one_sample(tmp_path, capsys):
    np.save(tmp_path / "one.npy", np.zeros((1, 2)))
    model = tmp_path / "m.npz"
    assert run(capsys, "train", XOR, "--out", model, "--epochs", 1, "--quiet")[0] == 0
    code, out, _ = run(capsys, "predict", model, "--data", tmp_path / "one.npy", "--out", tmp_path / "p.npy")
    assert code == 0 and out == f"wrote 1 prediction to {tmp_path / 'p.npy'}\n"
    np.savez(tmp_path / "one.npz", X=np.zeros((1, 2)), y=np.array([0]))
    code, out, _ = run(capsys, "evaluate", model, "--data", tmp_path / "one.npz")
    assert "(1 sample)" in out
    code, out, _ = run(capsys, "run", XOR, "--data", tmp_path / "one.npz", "--rows", 1)
    assert ": 1 sample → 1 output each" in out and "first 1 output:" in out


@pytest.mark.parametrize("kind", ["layer", "layers", "Layers", "LAYER"])
def test_list_takes_a_kind_singular_or_plural(capsys, kind):
    code, out, _ = run(capsys, "list", kind)
    assert code == 0 and out.splitlines()[0] == "layers:"


@pytest.mark.parametrize("kind, heading", [("losses", "losses:"), ("loss", "losses:"), ("optimizers", "optimizers:"),
                                           ("activation", "activations (also usable as layers):")])
def test_list_other_kinds(capsys, kind, heading):
    assert run(capsys, "list", kind)[1].splitlines()[0] == heading


def test_list_of_an_unknown_kind_suggests_one(capsys):
    code, err = usage(capsys, "list", "lyers")
    assert code == 2 and "unknown kind 'lyers'; did you mean \"layers\"?" in err


def parsers(parser=None):
    parser = parser or build_parser()
    yield parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                yield from parsers(sub)


def test_every_flag_and_argument_has_help():
    missing = [f"{parser.prog} {action.dest}" for parser in parsers() for action in parser._actions
               if not isinstance(action, argparse._SubParsersAction) and not action.help]
    assert missing == []


# ---------------------------------------------------------------- train: early stopping, final values, history

EARLY = {"input": {"features": 2}, "seed": 3,
         "layers": [{"type": "dense", "neurons": 16, "activation": "tanh"}, {"type": "dense", "neurons": 3},
                    {"type": "softmax"}], "loss": "categorical_crossentropy",
         "train": {"optimizer": {"type": "sgd", "learning_rate": 5.0}, "epochs": 200, "validation_split": 0.25,
                   "metrics": ["accuracy"], "early_stopping": {"monitor": "val_loss", "patience": 3}},
         "data": {"dataset": "spiral", "points_per_class": 20, "seed": 1}}


def test_early_stopping_says_so_and_final_reports_the_weights_kept(tmp_path, capsys):
    spec = write(tmp_path / "early.json", EARLY)
    code, out, _ = run(capsys, "train", spec, "--quiet", "--out", tmp_path / "m.npz", "--history", tmp_path / "h.json")
    assert code == 0
    history = json.loads((tmp_path / "h.json").read_text())
    best, last = history["best_epoch"], history["epoch"][-1]
    row = history["epoch"].index(best)
    assert history["stopped_early"] and history["restored_epoch"] == best and last == best + 3
    lines = out.splitlines()
    assert lines[0] == (f"early stopping at epoch {last}: val_loss has not improved for 3 epochs; the best, "
                        f"{history['val_loss'][row]:.6g}, was at epoch {best}; the weights of epoch {best} are kept")
    final = dict(part.split(": ") for part in lines[1].split(": ", 1)[1].split(" - "))
    assert lines[1].startswith(f"final (epoch {best}'s weights): loss: ")
    assert {k: float(v) for k, v in final.items()} == pytest.approx(
        {k: history[k][row] for k in ("loss", "accuracy", "val_loss", "val_accuracy")}, rel=1e-5)
    # the checkpoint holds those weights: the validation loss is the best one
    pipeline = netspec.load_pipeline(tmp_path / "m.npz")
    assert min(history["val_loss"]) == history["val_loss"][row] and pipeline.state.epoch == last


def test_history_csv(tmp_path, capsys):
    assert run(capsys, "train", XOR, "--epochs", 7, "--quiet", "--out", tmp_path / "m.npz",
               "--history", tmp_path / "h.csv")[0] == 0
    rows = read_csv(tmp_path / "h.csv")
    assert [int(r["epoch"]) for r in rows] == list(range(1, 8)) and list(rows[0]) == ["epoch", "loss", "accuracy"]
    # an earlier history is replaced
    assert run(capsys, "train", XOR, "--epochs", 3, "--quiet", "--out", tmp_path / "m.npz",
               "--history", tmp_path / "h.csv")[0] == 0
    assert len(read_csv(tmp_path / "h.csv")) == 3


@pytest.mark.parametrize("example", sorted(p.name for p in EXAMPLES.glob("*.json")))
def test_every_example_trains(tmp_path, capsys, example):
    code, out, err = run(capsys, "train", EXAMPLES / example, "--epochs", 1, "--quiet", "--out", tmp_path / "m.npz")
    assert code == 0, err
    assert out.startswith("final: loss: ") and math.isfinite(float(out.split()[2]))


# ---------------------------------------------------------------- predict

@pytest.fixture(scope="module")
def spiral_model(tmp_path_factory):
    folder = tmp_path_factory.mktemp("spiral")
    assert main(["train", str(EXAMPLES / "spiral.json"), "--epochs", "20", "--quiet", "--out",
                 str(folder / "m.npz")]) == 0
    X, _ = netspec.data.spiral(5, 3, seed=4)
    np.save(folder / "X.npy", X)
    return folder / "m.npz", folder / "X.npy", X


def test_predict_probabilities(capsys, spiral_model, tmp_path):
    model, data, X = spiral_model
    pipeline = netspec.load_pipeline(model)
    code, out, _ = run(capsys, "predict", model, "--data", data, "--proba", "--format", "csv")
    values = np.loadtxt(io.StringIO(out), delimiter=",")
    assert code == 0 and values.shape == (15, 3) and np.array_equal(values, pipeline.forward(X))
    assert np.allclose(values.sum(axis=1), 1)
    code, out, _ = run(capsys, "predict", model, "--data", data, "--proba", "--out", tmp_path / "p.npy")
    assert np.array_equal(np.load(tmp_path / "p.npy"), pipeline.forward(X))


def test_predict_json(capsys, spiral_model, tmp_path):
    model, data, X = spiral_model
    pipeline = netspec.load_pipeline(model)
    code, out, _ = run(capsys, "predict", model, "--data", data, "--format", "json")
    assert code == 0 and json.loads(out) == {"predictions": pipeline.predict(X).tolist()}
    code, out, _ = run(capsys, "predict", model, "--data", data, "--proba", "--out", tmp_path / "p.json")
    written = json.loads((tmp_path / "p.json").read_text())
    assert written["predictions"] == pipeline.predict(X).tolist()
    assert np.array_equal(written["probabilities"], pipeline.forward(X))


def test_probabilities_of_a_network_that_outputs_logits(tmp_path, capsys):
    spec = write(tmp_path / "logits.json", {"input": {"features": 2}, "seed": 0,
                                            "layers": [{"type": "dense", "neurons": 3}],
                                            "loss": {"type": "categorical_crossentropy", "from_logits": True}})
    assert run(capsys, "train", spec, "--data", "spiral", "--epochs", 2, "--quiet", "--out", tmp_path / "m.npz")[0] == 0
    np.save(tmp_path / "X.npy", np.eye(2))
    code, out, _ = run(capsys, "predict", tmp_path / "m.npz", "--data", tmp_path / "X.npy", "--proba", "--format", "csv")
    logits = netspec.load_pipeline(tmp_path / "m.npz").forward(np.eye(2))
    expected = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    assert np.allclose(np.loadtxt(io.StringIO(out), delimiter=","), expected)


def test_predict_usage_errors(capsys, spiral_model, tmp_path):
    model, data, _ = spiral_model
    code, _, err = run(capsys, "predict", model, "--data", data, "--out", tmp_path / "p.json", "--format", "csv")
    assert code == 2 and "--format csv does not match --out" in err
    code, _, err = run(capsys, "predict", model, "--data", data, "--out", tmp_path / "p.txt")
    assert code == 2 and "expected a .npy, .csv or .json file name" in err
    regression = tmp_path / "r.npz"
    assert run(capsys, "train", EXAMPLES / "regression.json", "--epochs", 1, "--quiet", "--out", regression)[0] == 0
    np.save(tmp_path / "x.npy", np.zeros((2, 1)))
    code, _, err = run(capsys, "predict", regression, "--data", tmp_path / "x.npy", "--proba")
    assert code == 2 and "--proba needs a classifier" in err


def test_predict_reads_csv_with_the_options_given(capsys, spiral_model, tmp_path):
    model, _, X = spiral_model
    pipeline = netspec.load_pipeline(model)
    rows = "\n".join(f"{i};{a};{b}" for i, (a, b) in enumerate(X))
    write(tmp_path / "x.csv", "id;x1;x2\n" + rows + "\n")
    code, out, err = run(capsys, "predict", model, "--data", tmp_path / "x.csv", "--delimiter", ";", "--label", "id")
    assert code == 0, err
    assert [int(v) for v in out.split()] == pipeline.predict(X).tolist()
    write(tmp_path / "plain.csv", "\n".join(f"{a},{b}" for a, b in X) + "\n")
    code, out, err = run(capsys, "predict", model, "--data", tmp_path / "plain.csv", "--no-label", "--no-header")
    assert code == 0 and [int(v) for v in out.split()] == pipeline.predict(X).tolist()


def test_data_of_the_wrong_width_counts_in_words(tmp_path, capsys):
    np.save(tmp_path / "one.npy", np.zeros((3, 1)))
    code, _, err = run(capsys, "run", XOR, "--data", tmp_path / "one.npy")
    assert code == 1 and "X has 1 column but the network's input expects 2 features" in err
    code, _, err = run(capsys, "run", EXAMPLES / "regression.json", "--data", "xor")
    assert code == 1 and "X has 2 columns but the network's input expects 1 feature\n" in err


def test_a_key_holding_a_line_break_cannot_split_a_diagnostic(tmp_path, capsys):
    spec = write(tmp_path / "s.json", '{"input": {"features": 2}, "layers": [{"type": "relu"}], "descriptio\\n": 1}')
    code, out, _ = run(capsys, "validate", spec)
    [header] = [line for line in out.splitlines() if line.startswith(f"{spec}:")]
    assert code == 1 and 'unknown key "descriptio\\n" in the spec' in header


# ---------------------------------------------------------------- train --validation-data

def test_train_validates_on_the_rows_given_by_validation_data(tmp_path, capsys):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 2))
    np.savez(tmp_path / "val.npz", X=X, y=(X[:, 0] * X[:, 1] > 0).astype(np.int64))
    history = tmp_path / "history.json"
    code, out, err = run(capsys, "train", XOR, "--validation-data", tmp_path / "val.npz", "--epochs", 3,
                         "--out", tmp_path / "model.npz", "--history", history)
    assert code == 0, err
    assert f"validating on {tmp_path / 'val.npz'}: 40 samples" in out
    # the last epoch's validation loss is the saved model's loss on exactly those rows
    last = json.loads(history.read_text())
    val_loss = last["val_loss"][-1] if isinstance(last, dict) and "val_loss" in last else last["epochs"][-1]["val_loss"]
    code, out, _ = run(capsys, "evaluate", tmp_path / "model.npz", "--data", tmp_path / "val.npz", "--format", "json")
    assert code == 0 and math.isclose(json.loads(out)["loss"], val_loss, rel_tol=1e-12)


def test_validation_data_without_labels_is_an_error_before_training(tmp_path, capsys):
    np.save(tmp_path / "val.npy", np.zeros((5, 2)))
    code, out, err = run(capsys, "train", XOR, "--validation-data", tmp_path / "val.npy", "--epochs", 3,
                         "--out", tmp_path / "model.npz")
    assert code == 1
    assert "the validation data" in err and "has no labels or targets" in err
    assert not (tmp_path / "model.npz").exists()
