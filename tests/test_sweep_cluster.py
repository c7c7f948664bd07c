"""Sweeps on a Dask cluster — a real LocalCluster of two worker processes on
127.0.0.1, started once for the module (by netspec.cluster, as --workers
does) and closed after it, every wait on it bounded — and sweep folders that
a second run of the same sweep goes on with."""

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

distributed = pytest.importorskip("distributed")
dask = pytest.importorskip("dask")

import netspec as ns  # noqa: E402
from netspec import cluster as netspec_cluster  # noqa: E402
from netspec.cli import main  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
SPIRAL = ROOT / "examples" / "spiral.json"
XOR = ROOT / "examples" / "xor.json"
GRID = {"layers[0].neurons": [8, 16], "train.optimizer.learning_rate": [0.01, 0.05]}


@pytest.fixture(scope="module")
def client():
    with dask.config.set({"distributed.comm.timeouts.connect": "20s"}):
        with netspec_cluster.client_for(workers=2) as opened:
            yield opened


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code, out, err


def read_csv(path):
    with open(path, newline="", encoding="utf-8") as stream:
        return list(csv.DictReader(stream))


def write(path, content):
    path.write_text(content if isinstance(content, str) else json.dumps(content))
    return path


def test_the_cluster_is_two_single_threaded_workers_on_loopback_with_one_blas_thread_each(client):
    workers = client.scheduler_info()["workers"]
    assert len(workers) == 2 and all(w["host"] == "127.0.0.1" and w["nthreads"] == 1 for w in workers.values())
    assert client.scheduler.address.startswith("tcp://127.0.0.1:")
    cores = netspec_cluster.cores()
    assert netspec_cluster.shares(client) == {address: max(1, cores // 2) for address in workers}


def test_training_on_the_cluster_gives_the_results_of_training_in_this_process(client):
    plan = ns.sweep(SPIRAL, GRID)
    serial = plan.train(epochs=15)
    parallel = plan.train(epochs=15, client=client)
    assert len(serial) == 4 and all(r.ok for r in serial + parallel)
    assert {r.name: r.metrics for r in parallel} == {r.name: r.metrics for r in serial}  # same seeds, same numbers
    assert [r.name for r in parallel] == [r.name for r in serial]  # both best first
    assert parallel[0].metrics["loss"] <= parallel[-1].metrics["loss"]


def test_arrays_are_sent_once_and_give_the_same_results(client):
    X, y = ns.data.spiral(50, 3, seed=1)
    plan = ns.sweep(SPIRAL, {"layers[0].neurons": [4, 12]})
    assert {r.name: r.metrics for r in plan.train(data=(X, y), epochs=5, client=client)} == \
        {r.name: r.metrics for r in plan.train(data=(X, y), epochs=5)}


def test_failing_variants_are_recorded_and_the_others_finish(client, tmp_path):
    (tmp_path / "train.csv").write_text("a,b,y\n0,0,0\n0,1,1\n1,0,1\n1,1,0\n")
    (tmp_path / "broken.csv").write_text("a,b,y\n0,0,0\n0,one,1\n")
    base = json.loads(XOR.read_text())
    base.pop("$schema")
    base.update(loss="mse", data={"path": "train.csv", "label": "y"})
    base["layers"][1]["activation"] = "linear"
    spec = write(tmp_path / "base.json", base)
    grid = {"data.path": ["train.csv", "missing.csv", "broken.csv"],
            "train.optimizer": [{"type": "sgd", "learning_rate": 0.1}, {"type": "sgd", "learning_rate": 1e10}]}
    results = {(r.values["data.path"], r.values["train.optimizer"]["learning_rate"]): r
               for r in ns.sweep(spec, grid).train(client=client, epochs=30, out=tmp_path / "out")}
    assert len(results) == 6
    assert results["train.csv", 0.1].ok and results["train.csv", 0.1].metrics["loss"] < 1
    assert results["train.csv", 1e10].error.startswith("training diverged at epoch")
    for rate in (0.1, 1e10):
        assert not results["missing.csv", rate].ok and "missing.csv" in results["missing.csv", rate].error
        assert "broken.csv" in results["broken.csv", rate].error and results["broken.csv", rate].metrics == {}
    rows = read_csv(tmp_path / "out" / "results.csv")
    assert [row["status"] for row in rows] == ["ok"] + ["failed"] * 5
    assert rows[0]["data.path"] == "train.csv" and all(row["error"] for row in rows[1:])


def test_cli_on_a_scheduler_resumes_a_killed_run_and_trains_failed_variants_again(client, tmp_path, capsys):
    grid = write(tmp_path / "grid.json", GRID)
    out = tmp_path / "out"
    argv = ["sweep", SPIRAL, grid, "--out", out, "--train", "--epochs", 10, "--scheduler", client.scheduler.address]
    code, stdout, _ = run(capsys, *argv)
    assert code == 0 and stdout.startswith(f"{out}: 4 variants, 4 valid, 0 invalid (index.csv, results.csv)")
    first = {row["variant"]: row for row in read_csv(out / "results.csv")}
    assert sorted(first) == ["variant-0001", "variant-0002", "variant-0003", "variant-0004"]
    # as a run killed while appending would leave it: two whole rows (one of them a failure), half of a third
    lines = (out / "results.csv").read_text().splitlines(keepends=True)
    kept = lines[1].replace(lines[1].split(",")[-2], "123.456")  # a mark: a variant trained again loses it
    failed = lines[2].split(",")
    failed[1], failed[-1] = "failed", "lost on the cluster\n"
    (out / "results.csv").write_text(lines[0] + kept + ",".join(failed) + lines[3][:15])
    code, stdout, _ = run(capsys, *argv)
    assert code == 0 and "went on from the earlier run: 1 variant kept, 3 trained now" in stdout
    again = {row["variant"]: row for row in read_csv(out / "results.csv")}
    assert sorted(again) == sorted(first) and all(row["status"] == "ok" for row in again.values())
    mark = kept.split(",")[0]
    assert again[mark]["seconds"] == "123.456"
    assert all(again[name]["loss"] == first[name]["loss"] for name in first)
    assert json.loads((out / "index.json").read_text())["interrupted"] is False


def test_cli_refuses_to_resume_a_different_sweep(client, tmp_path, capsys):
    grid = write(tmp_path / "grid.json", {"layers[0].neurons": [4]})
    out = tmp_path / "out"
    assert run(capsys, "sweep", XOR, grid, "--out", out, "--train", "--epochs", 3)[0] == 0
    code, _, err = run(capsys, "sweep", XOR, grid, "--out", out, "--train", "--epochs", 4,
                       "--scheduler", client.scheduler.address)
    assert code == 1 and "with another sweep (other data or epochs); pass --force" in err
    assert run(capsys, "sweep", XOR, grid, "--out", out, "--train", "--epochs", 4, "--force",
               "--scheduler", client.scheduler.address)[0] == 0


def test_an_unreachable_scheduler_is_a_clear_error_and_writes_nothing(tmp_path, capsys):
    grid = write(tmp_path / "grid.json", {"seed": [1, 2]})
    with dask.config.set({"distributed.comm.timeouts.connect": "1s"}):
        started = time.perf_counter()
        code, _, err = run(capsys, "sweep", XOR, grid, "--out", tmp_path / "out", "--train",
                           "--scheduler", "tcp://127.0.0.1:9")
    assert code == 1 and time.perf_counter() - started < 20
    assert "cannot reach the Dask scheduler at tcp://127.0.0.1:9 (no answer within 1 s); is it running?" in err
    assert not (tmp_path / "out").exists()


def test_without_distributed_the_error_names_the_extra_to_install(tmp_path):
    grid = write(tmp_path / "grid.json", {"seed": [1, 2]})
    argv = ["sweep", str(XOR), str(grid), "--out", str(tmp_path / "out"), "--train", "--workers", "2"]
    code = ("import sys; sys.modules['distributed'] = None  # as when it is not installed\n"
            f"from netspec.cli import main; sys.exit(main({argv!r}))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 1, done.stderr
    assert done.stderr == ("netspec: training on several workers needs Dask's distributed package, which is not "
                           "installed: pip install 'netspec[dask]'\n")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("extra, message", [
    (["--workers", "2"], "--workers and --scheduler go with --train"),
    (["--train", "--workers", "2", "--scheduler", "tcp://127.0.0.1:8786"], "give one of them"),
])
def test_cluster_options_usage(tmp_path, capsys, extra, message):
    grid = write(tmp_path / "grid.json", {"seed": [1]})
    code, _, err = run(capsys, "sweep", XOR, grid, "--out", tmp_path / "out", *extra)
    assert code == 2 and message in err and not (tmp_path / "out").exists()


@pytest.mark.parametrize("address", ["http://127.0.0.1:8786", "127.0.0.1", "tcp://127.0.0.1:99999"])
def test_a_malformed_scheduler_address_is_a_usage_error(tmp_path, capsys, address):
    grid = write(tmp_path / "grid.json", {"seed": [1]})
    with pytest.raises(SystemExit) as caught:
        main(["sweep", str(XOR), str(grid), "--out", str(tmp_path / "out"), "--train", "--scheduler", address])
    assert caught.value.code == 2 and "expected a scheduler address such as tcp://127.0.0.1:8786" in \
        capsys.readouterr().err


def test_any_exception_in_a_variant_is_its_failure_and_the_bar_counts_them(monkeypatch, capsys):
    import netspec.sweeps as sweeps

    real = sweeps.train_variant

    def flaky(variant, data, **options):
        if variant.values["seed"] == 2:
            raise RuntimeError("boom\nsecond line")
        return real(variant, data, **options)

    monkeypatch.setattr(sweeps, "train_variant", flaky)
    results = ns.sweep(XOR, {"seed": [1, 2, 3]}).train(data="xor", epochs=2, progress=True)
    assert [r.error for r in results] == [None, None, "RuntimeError: boom"]
    bar = capsys.readouterr().err
    assert "sweep" in bar and "3/3" in bar and "1 failed" in bar


def test_ctrl_c_cancels_closes_the_cluster_and_leaves_whole_files(tmp_path):
    grid = write(tmp_path / "grid.json", {"layers[0].neurons": [8, 16, 24, 32, 40, 48],
                                          "train.optimizer.learning_rate": [0.01, 0.02]})
    out = tmp_path / "out"
    command = [sys.executable, "-m", "netspec", "sweep", str(SPIRAL), str(grid), "--out", str(out), "--train",
               "--epochs", "400", "--workers", "2"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               start_new_session=True)
    try:
        deadline = time.monotonic() + 40
        while time.monotonic() < deadline and process.poll() is None:
            results = out / "results.csv"
            if results.exists() and results.read_text().count("\n") >= 2:
                break
            time.sleep(0.05)
        assert process.poll() is None, process.communicate()
        os.killpg(process.pid, signal.SIGINT)  # as a terminal does: to the command and its worker processes
        stdout, stderr = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    assert process.returncode == 130, stderr
    assert not any(word in stderr for word in ("Traceback", "ERROR", "WARNING")), stderr
    assert stderr.splitlines()[-1].startswith("netspec: interrupted after 12 variants of 12 (")
    assert stderr.splitlines()[-1].endswith("results.csv those trained; run the same command again to go on")
    rows = read_csv(out / "results.csv")
    assert 1 <= len(rows) < 12 and all(row["status"] == "ok" and float(row["loss"]) >= 0 for row in rows)
    assert json.loads((out / "index.json").read_text())["interrupted"] is True
    assert not [name for name in os.listdir(out) if name.startswith(".")]  # no temporary file left
    assert np.isfinite([float(row["accuracy"]) for row in rows]).all()


# ---------------------------------------------------------------- resuming in one process

def test_a_random_draw_without_a_seed_is_resumed_with_the_draw_it_had(tmp_path, capsys):
    grid = write(tmp_path / "grid.json", {"layers[0].neurons": list(range(2, 12)), "seed": [1, 2, 3]})
    out = tmp_path / "out"
    argv = ["sweep", XOR, grid, "--out", out, "--train", "--epochs", 2, "--samples", 3]
    assert run(capsys, *argv)[0] == 0
    drawn = sorted(row["variant"] for row in read_csv(out / "results.csv"))
    code, stdout, _ = run(capsys, *argv)
    assert code == 0 and "went on from the earlier run: 3 variants kept, 0 trained now" in stdout
    assert sorted(row["variant"] for row in read_csv(out / "results.csv")) == drawn
    assert json.loads((out / "sweep.json").read_text())["samples"] == 3


def test_python_train_into_a_folder_resumes_and_refuses_another_sweep(tmp_path):
    plan = ns.sweep(XOR, {"seed": [1, 2]})
    first = plan.train(data="xor", epochs=3, out=tmp_path / "out")
    assert [r.ok for r in first] == [True, True]
    again = ns.sweep(XOR, {"seed": [1, 2]}).train(data="xor", epochs=3, out=tmp_path / "out")
    assert {r.name: (r.metrics, r.seconds) for r in again} == {r.name: (r.metrics, round(r.seconds, 3)) for r in first}
    with pytest.raises(ns.NetspecError, match="is not empty and holds no run of this sweep"):
        plan.train(data="xor", epochs=4, out=tmp_path / "out")
