"""Data beyond memory: files opened as dask arrays, lazy forward passes, chunked
predict on the command line (written atomically) and streamed training,
reproducible and resumable, with errors that name the rows."""

import io
import json
import os
import subprocess
import sys

import numpy as np
import pytest

da = pytest.importorskip("dask.array")
zarr = pytest.importorskip("zarr")

import netspec  # noqa: E402
from netspec import data  # noqa: E402
from netspec.cli import main  # noqa: E402
from netspec.errors import DataError  # noqa: E402
from netspec.runtime import streaming  # noqa: E402
from netspec.runtime.training import TrainingError  # noqa: E402

SPEC = {
    "seed": 0,
    "input": {"features": 3},
    "layers": [{"type": "dense", "neurons": 16, "activation": "relu"},
               {"type": "dense", "neurons": 3, "activation": "softmax"}],
    "loss": "categorical_crossentropy",
    "train": {"epochs": 2, "batch_size": 50, "seed": 3, "metrics": ["accuracy", "f1"]},
}


def table(rows=1200, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(rows, 3))
    return X, ((X[:, 0] > 0).astype(np.int64) + (X[:, 1] > 0.5))


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code, out, err


def zarr_group(path, X, y=None, rows=250):
    group = zarr.open(str(path), mode="w")
    group.create_array("X", shape=X.shape, chunks=(rows, *X.shape[1:]), dtype=X.dtype)[:] = X
    if y is not None:
        group.create_array("y", shape=y.shape, chunks=(rows,), dtype=y.dtype)[:] = y
    return path


def npy_folder(path, X, pieces=3):
    path.mkdir()
    for number, part in enumerate(np.array_split(X, pieces)):
        np.save(path / f"part-{number:02d}.npy", part)
    return path


@pytest.fixture
def model(tmp_path, capsys):
    X, y = table()
    np.savez(tmp_path / "train.npz", X=X, y=y)
    spec = tmp_path / "spec.json"
    spec.write_text(json.dumps(SPEC))
    code, _, _ = run(capsys, "train", spec, "--data", tmp_path / "train.npz", "--out", tmp_path / "model.npz", "--quiet")
    assert code == 0
    return tmp_path / "model.npz"


# ---------------------------------------------------------------- data.open

def test_open_reads_npy_zarr_csv_and_folders_as_dask_arrays_chunked_by_rows(tmp_path):
    X, y = table(1000)
    np.save(tmp_path / "x.npy", X)
    npy = data.open(tmp_path / "x.npy", chunk_rows=300)
    assert isinstance(npy, da.Array) and npy.chunks == ((300, 300, 300, 100), (3,))
    assert np.array_equal(npy.compute(), X)
    folder = data.open(npy_folder(tmp_path / "parts", X), chunk_rows=128)
    assert np.array_equal(folder.compute(), X) and max(folder.chunks[0]) == 128
    group = zarr_group(tmp_path / "d.zarr", X, y)
    assert np.array_equal(data.open(group).compute(), X)  # a group's X by default
    assert np.array_equal(data.open(group, name="y").compute(), y)
    X_open, y_open = data.open_pair(group)
    assert np.array_equal(y_open.compute(), y) and X_open.chunks[0] == y_open.chunks[0]
    (tmp_path / "t.csv").write_text("a,b,c\n" + "".join(",".join(repr(float(v)) for v in r) + "\n" for r in X))
    csv = data.open(tmp_path / "t.csv", chunk_rows=333)
    assert csv.chunks[0] == (333, 333, 333, 1) and np.array_equal(csv.compute(), X)


def test_open_reads_one_chunk_of_a_memory_map_at_a_time(tmp_path):
    X, _ = table(100)
    np.save(tmp_path / "x.npy", X.astype(np.float32))
    rows = data.open(tmp_path / "x.npy", chunk_rows=10)
    assert rows.dtype == np.float32 and np.array_equal(rows[37:52, 1:].compute(), X.astype(np.float32)[37:52, 1:])


def test_import_of_netspec_data_does_not_import_dask():
    code = "import sys, netspec.data; assert 'dask' not in sys.modules and 'zarr' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.parametrize("name, content, message", [
    ("missing.npy", None, "no such data file or folder"),
    ("x.txt", b"1,2\n", "unknown data file type '.txt'"),
    ("x.npy", b"not numpy at all", "is not a readable .npy array"),
    ("x.csv", b"1,2\n3,x\n", "line 2, column 2: 'x' is not a number"),
])
def test_open_refuses_bad_files_naming_them(tmp_path, name, content, message):
    if content is not None:
        (tmp_path / name).write_bytes(content)
    with pytest.raises(DataError, match=message):
        data.open(tmp_path / name).compute()


def test_open_refuses_object_arrays_and_folders_that_disagree(tmp_path):
    np.save(tmp_path / "o.npy", np.array([[1, "a"]], dtype=object), allow_pickle=True)
    with pytest.raises(DataError, match="dtype object; expected numbers"):
        data.open(tmp_path / "o.npy")
    X, _ = table(30)
    folder = npy_folder(tmp_path / "parts", X)
    np.save(folder / "part-99.npy", X[:, :2])
    with pytest.raises(DataError, match=r"part-99.npy holds float64 samples of shape \(2,\), but .*part-00.npy"):
        data.open(folder)
    with pytest.raises(DataError, match="without .npy files"):
        (tmp_path / "empty").mkdir()
        data.open(tmp_path / "empty")


# ---------------------------------------------------------------- lazy forward and predict

def test_forward_and_predict_of_a_dask_array_are_lazy_and_equal_the_numpy_ones():
    pipeline = netspec.compile(SPEC)
    X, _ = table(1000)
    lazy = da.from_array(X, chunks=(170, 1))  # the columns split too: merged before the forward pass
    output, labels = pipeline.forward(lazy), pipeline.predict(lazy)
    assert isinstance(output, da.Array) and output.chunks == ((170,) * 5 + (150,), (3,))
    # Each chunk's output is NumPy's on those rows; BLAS may round the last bit differently for other row counts.
    by_chunk = np.concatenate([pipeline.forward(X[start:start + 170]) for start in range(0, 1000, 170)])
    assert np.array_equal(output.compute(), by_chunk)
    np.testing.assert_allclose(output.compute(), pipeline.forward(X), rtol=1e-13, atol=1e-15)
    assert labels.dtype == np.int64 and np.array_equal(labels.compute(), pipeline.predict(X))


def test_lazy_forward_checks_the_width_now_and_the_values_of_each_chunk_naming_its_rows():
    pipeline = netspec.compile(SPEC)
    with pytest.raises(DataError, match="X has 4 columns but the network's input expects 3 features"):
        pipeline.forward(da.zeros((10, 4), chunks=5))
    X, _ = table(400)
    X[250, 2] = np.nan
    lazy = pipeline.predict(da.from_array(X, chunks=100))
    with pytest.raises(DataError, match=r"rows 200 to 299: X\[250, 2\] is nan; expected finite numbers"):
        lazy.compute()


# ---------------------------------------------------------------- netspec predict in chunks

@pytest.mark.parametrize("out", ["p.npy", "p.csv"])
def test_cli_predict_in_chunks_equals_predict_in_memory(tmp_path, capsys, model, out):
    X, y = table(700, seed=5)
    np.save(tmp_path / "x.npy", X)
    assert run(capsys, "predict", model, "--data", tmp_path / "x.npy", "--out", tmp_path / ("whole-" + out))[0] == 0
    sources = {"folder": npy_folder(tmp_path / "parts", X), "zarr": zarr_group(tmp_path / "x.zarr", X, y)}
    for name, source in [("chunks", tmp_path / "x.npy"), *sources.items()]:
        code, printed, _ = run(capsys, "predict", model, "--data", source, "--chunk-rows", 64,
                               "--out", tmp_path / f"{name}-{out}")
        assert code == 0 and "wrote 700 predictions" in printed
        assert (tmp_path / f"{name}-{out}").read_bytes() == (tmp_path / ("whole-" + out)).read_bytes()


def test_cli_predict_in_chunks_prints_and_gives_probabilities(tmp_path, capsys, model):
    X, _ = table(300, seed=6)
    folder = npy_folder(tmp_path / "parts", X)
    np.save(tmp_path / "x.npy", X)
    for option in ([], ["--format", "csv"], ["--proba"], ["--proba", "--format", "json"]):
        whole = run(capsys, "predict", model, "--data", tmp_path / "x.npy", *option)
        chunked = run(capsys, "predict", model, "--data", folder, "--chunk-rows", 7, *option)
        assert whole[0] == chunked[0] == 0
        if "--proba" not in option:
            assert whole[1] == chunked[1]
        else:  # probabilities: equal up to the last bit, which BLAS may round by the number of rows
            values = [json.loads(out)["probabilities"] if "json" in option else np.loadtxt(io.StringIO(out))
                      for _, out, _ in (whole, chunked)]
            np.testing.assert_allclose(*values, rtol=1e-13, atol=1e-15)


def test_cli_predict_error_mid_way_names_the_rows_and_leaves_no_file(tmp_path, capsys, model):
    X, _ = table(600, seed=7)
    X[450, 0] = np.inf
    folder = npy_folder(tmp_path / "parts", X)  # 200 rows a file
    code, _, err = run(capsys, "predict", model, "--data", folder, "--chunk-rows", 100, "--out", tmp_path / "p.npy")
    assert code == 1 and "rows 400 to 499: X[450, 0] is inf; expected finite numbers" in err
    assert sorted(os.listdir(tmp_path)) == sorted(["model.npz", "parts", "spec.json", "train.npz"])


def test_cli_predict_interrupted_leaves_no_file(tmp_path, capsys, model, monkeypatch):
    X, _ = table(600, seed=8)
    np.save(tmp_path / "x.npy", X)
    calls = []
    predict = netspec.runtime.Pipeline.predict

    def interrupted(self, X):
        calls.append(len(X))
        if len(calls) == 3:
            raise KeyboardInterrupt
        return predict(self, X)

    monkeypatch.setattr(netspec.runtime.Pipeline, "predict", interrupted)
    code, _, err = run(capsys, "predict", model, "--data", tmp_path / "x.npy", "--chunk-rows", 100,
                       "--out", tmp_path / "p.csv")
    assert code == 130 and calls == [100, 100, 100]
    assert not [name for name in os.listdir(tmp_path) if name.startswith((".p.csv", "p.csv"))]


def test_cli_predict_and_evaluate_refuse_a_wrong_width_and_run_refuses_chunked_data(tmp_path, capsys, model):
    zarr_group(tmp_path / "wide.zarr", np.zeros((20, 4)))
    code, _, err = run(capsys, "predict", model, "--data", tmp_path / "wide.zarr")
    assert code == 1 and "X has 4 columns but the network's input expects 3 features" in err
    code, _, err = run(capsys, "evaluate", model, "--data", tmp_path / "wide.zarr")
    assert code == 1 and "wide.zarr has no labels or targets to evaluate against" in err
    zarr_group(tmp_path / "wide.zarr", np.zeros((20, 4)), np.zeros(20, dtype=np.int64))
    code, _, err = run(capsys, "evaluate", model, "--data", tmp_path / "wide.zarr")
    assert code == 1 and "X has 4 columns but the network's input expects 3 features" in err
    code, _, err = run(capsys, "run", tmp_path / "spec.json", "--data", tmp_path / "wide.zarr")
    assert code == 1 and "is read in chunks, which only train, evaluate and predict do" in err


def test_cli_evaluate_in_chunks_equals_evaluate_in_memory_and_names_bad_rows(tmp_path, capsys, model):
    X, y = table(1000, seed=1)
    np.savez(tmp_path / "test.npz", X=X, y=y)
    zarr_group(tmp_path / "test.zarr", X, y, rows=300)
    code, whole, _ = run(capsys, "evaluate", model, "--data", tmp_path / "test.npz", "--format", "json")
    assert code == 0
    code, chunked, _ = run(capsys, "evaluate", model, "--data", tmp_path / "test.zarr", "--format", "json")
    assert code == 0
    whole, chunked = json.loads(whole), json.loads(chunked)
    assert whole.keys() == chunked.keys() == {"loss", "accuracy", "f1"}
    for name in whole:  # sums over chunks of 300 rows: equal up to rounding
        assert chunked[name] == pytest.approx(whole[name], rel=1e-12)
    X[650, 2] = np.inf
    zarr_group(tmp_path / "bad.zarr", X, y, rows=300)
    code, out, err = run(capsys, "evaluate", model, "--data", tmp_path / "bad.zarr")
    assert code == 1 and out == "" and "rows 600 to 899: X[650, 2] is inf" in err


def test_cli_train_on_a_zarr_group_streams(tmp_path, capsys):
    X, y = table(1000)
    zarr_group(tmp_path / "d.zarr", X, y, rows=100)
    spec = tmp_path / "spec.json"
    spec.write_text(json.dumps({**SPEC, "train": {**SPEC["train"], "validation_split": 0.2}}))
    code, out, _ = run(capsys, "train", spec, "--data", tmp_path / "d.zarr", "--out", tmp_path / "m.npz")
    assert code == 0 and "training on" in out and "val_accuracy" in out
    pipeline = netspec.load_pipeline(tmp_path / "m.npz")
    assert pipeline.state.epoch == 2


# ---------------------------------------------------------------- streamed fit

def chunked(X, y, rows=100):
    return da.from_array(X, chunks=(rows, 3)), da.from_array(y, chunks=rows)


def parameters(pipeline):
    return [p.copy() for p in pipeline.parameters()]


def test_streamed_fit_is_reproducible_under_a_seed_and_its_metrics_are_those_of_the_rows():
    X, y = table()
    runs = []
    for _ in range(2):
        pipeline = netspec.compile(SPEC)
        history = pipeline.fit(*chunked(X, y), verbose=0)
        runs.append((parameters(pipeline), history.values))
    assert all(np.array_equal(a, b) for a, b in zip(runs[0][0], runs[1][0])) and runs[0][1] == runs[1][1]
    measured = pipeline.evaluate(X, y, ["accuracy", "f1"])
    assert history.last() == pytest.approx(measured, rel=1e-12)
    assert pipeline.evaluate(*chunked(X, y, rows=77), ["accuracy", "f1"]) == pytest.approx(measured, rel=1e-12)


def test_streamed_fit_resumed_from_a_checkpoint_equals_an_uninterrupted_run(tmp_path):
    X, y = table()
    spec = {**SPEC, "train": {**SPEC["train"], "validation_split": 0.25, "epochs": 4}}
    whole = netspec.compile(spec)
    history = whole.fit(*chunked(X, y), verbose=0)
    first = netspec.compile(spec)
    first.fit(*chunked(X, y), verbose=0, epochs=2)
    first.save(tmp_path / "half.npz")
    resumed = netspec.load_pipeline(tmp_path / "half.npz")
    rest = resumed.fit(*chunked(X, y), verbose=0, epochs=2)
    assert all(np.array_equal(a, b) for a, b in zip(whole.parameters(), resumed.parameters()))
    assert rest.values == {name: values[2:] for name, values in history.values.items()}


def test_streamed_fit_reads_memory_maps_and_zarr(tmp_path):
    X, y = table(600)
    np.save(tmp_path / "x.npy", X)
    np.save(tmp_path / "y.npy", y)
    mapped = netspec.compile(SPEC)
    mapped.fit(np.load(tmp_path / "x.npy", mmap_mode="r"), np.load(tmp_path / "y.npy", mmap_mode="r"), verbose=0)
    group = zarr.open(str(zarr_group(tmp_path / "d.zarr", X, y, rows=600)), mode="r")
    stored = netspec.compile(SPEC)
    stored.fit(group["X"], group["y"], verbose=0)
    in_chunks = netspec.compile(SPEC)
    in_chunks.fit(*chunked(X, y, rows=600), verbose=0)  # one chunk: the same batches as the other two
    for a, b, c in zip(mapped.parameters(), stored.parameters(), in_chunks.parameters()):
        assert np.array_equal(a, b) and np.array_equal(a, c)


def test_shuffle_mixes_rows_of_several_chunks_and_changes_with_the_epoch(monkeypatch):
    X, _ = table(1200)
    y = np.repeat(np.arange(3), 400)  # one class per 400 rows: a chunk of 100 rows holds one class
    seen = []
    step = streaming.train_step

    def recording(pipeline, X, targets, epoch, batch, **options):
        seen.append((epoch, tuple(np.unique(targets))))
        return step(pipeline, X, targets, epoch, batch, **options)

    monkeypatch.setattr(streaming, "train_step", recording)
    netspec.compile(SPEC).fit(*chunked(X, y), verbose=0, epochs=3)
    assert len(seen) == 3 * 24
    assert sum(len(classes) > 1 for _, classes in seen) > len(seen) // 2
    epochs = [[classes for epoch, classes in seen if epoch == e] for e in (1, 2, 3)]
    assert epochs[0] != epochs[1] != epochs[2]


def test_streamed_validation_split_holds_out_rows_of_every_chunk():
    X, y = table(1000)
    rows = streaming.Rows(netspec.compile(SPEC), *chunked(X, y, rows=300))
    assert rows.hold_out(0.1, seed=5) == 30 + 30 + 30 + 10
    assert all(mask.any() for mask in rows.held)
    again = streaming.Rows(netspec.compile(SPEC), *chunked(X, y, rows=300))
    again.hold_out(0.1, seed=5)
    assert all(np.array_equal(a, b) for a, b in zip(rows.held, again.held))


@pytest.mark.parametrize("where, value, message", [
    ("X", np.nan, r"rows 700 to 799: X\[705, 1\] is nan; expected finite numbers"),
    ("y", 3, r"rows 700 to 799: y\[705\] = 3 is out of range; expected a class label from 0 to 2"),
])
def test_streamed_fit_refuses_bad_chunks_naming_the_rows(where, value, message):
    X, y = table()
    (X.__setitem__((705, 1), value) if where == "X" else y.__setitem__(705, value))
    with pytest.raises(DataError, match=message):
        netspec.compile(SPEC).fit(*chunked(X, y), verbose=0)


def test_streamed_fit_needs_mini_batches_and_matching_rows():
    X, y = table(100)
    with pytest.raises(TrainingError, match="needs mini-batches"):
        netspec.compile(SPEC).fit(*chunked(X, y), verbose=0, batch_size=None)
    with pytest.raises(DataError, match="y has 99 rows but X has 100"):
        netspec.compile(SPEC).fit(*chunked(X, y[:99]), verbose=0)
