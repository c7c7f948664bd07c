"""The command line never loses work: outputs are checked before any work,
inputs and other kinds of file are not overwritten without --force, Ctrl-C
saves the checkpoint, a closed pipe never stops training, FIFOs never hang,
and files get the user's umask."""

import fcntl
import json
import os
import pty
import signal
import stat
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

import numpy as np
import pytest

import netspec
from netspec.cli import main

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
XOR = EXAMPLES / "xor.json"
TIMEOUT = 120  # seconds any subprocess here may take before the test fails (none should come near)


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code, out, err


def spec_file(tmp_path, name="s.json", **changes):
    tree = json.loads(XOR.read_text())
    tree.pop("$schema")
    tree.update(changes)
    path = tmp_path / name
    path.write_text(json.dumps(tree))
    return path


def netspec_process(*argv, **options):
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "PYTHONPATH": str(ROOT)}
    return subprocess.Popen([sys.executable, "-m", "netspec", *map(str, argv)], env=env, text=True, **options)


# ---------------------------------------------------------------- outputs checked before any work

@pytest.mark.parametrize("out, message", [
    ("{tmp}/nowhere/m.npz", "cannot write the checkpoint to {tmp}/nowhere/m.npz: the folder {tmp}/nowhere does not "
                            "exist"),
    ("{tmp}", "cannot write the checkpoint to {tmp}: it is a folder; give a file name"),
    ("{tmp}/s.json/m.npz", "the folder {tmp}/s.json is not a folder"),
])
def test_train_refuses_an_output_it_cannot_write_before_training(tmp_path, capsys, out, message):
    spec = spec_file(tmp_path)
    code, stdout, err = run(capsys, "train", spec, "--out", out.format(tmp=tmp_path))
    assert code == 1 and message.format(tmp=tmp_path) in err
    assert "training on" not in stdout and stdout == ""
    assert ".netspec" not in err  # never a hidden temporary name


def test_train_refuses_a_place_nobody_may_write(tmp_path, capsys):
    if not os.path.isdir("/sys"):
        pytest.skip("needs /sys")
    code, stdout, err = run(capsys, "train", spec_file(tmp_path), "--out", "/sys/m.npz")
    assert code == 1 and "cannot write the checkpoint to /sys/m.npz: Permission denied in /sys" in err and stdout == ""


def test_train_never_writes_over_its_own_spec_unless_forced(tmp_path, capsys):
    spec = spec_file(tmp_path)
    before = spec.read_text()
    code, _, err = run(capsys, "train", spec, "--out", spec, "--epochs", 1)
    assert code == 1 and f"will not write the checkpoint to {spec}: it is this command's input {spec}" in err
    assert spec.read_text() == before
    assert run(capsys, "train", spec, "--out", spec, "--epochs", 1, "--quiet", "--force")[0] == 0
    assert netspec.load_pipeline(spec).state.epoch == 1


def test_train_never_writes_over_its_data_file(tmp_path, capsys):
    (tmp_path / "train.csv").write_text("a,b,y\n0,0,0\n0,1,1\n1,0,1\n1,1,0\n")
    spec = spec_file(tmp_path, data={"path": "train.csv", "label": "y"})
    for argv in [(spec,), (XOR, "--data", tmp_path / "train.csv")]:
        code, _, err = run(capsys, "train", *argv, "--out", tmp_path / "train.csv", "--epochs", 1)
        assert code == 1 and f"will not write the checkpoint to {tmp_path / 'train.csv'}" in err
    assert (tmp_path / "train.csv").read_text().startswith("a,b,y")


def test_train_replaces_a_checkpoint_but_not_another_kind_of_file(tmp_path, capsys):
    spec = spec_file(tmp_path)
    other = spec_file(tmp_path, "other.json")
    code, _, err = run(capsys, "train", spec, "--out", other, "--epochs", 1)
    assert code == 1 and f"{other}: it exists and is not a checkpoint (it looks like a netspec spec)" in err
    model = tmp_path / "m.npz"
    np.savez(model, X=np.zeros(2))
    code, _, err = run(capsys, "train", spec, "--out", model, "--epochs", 1)
    assert code == 1 and "exists and is not a checkpoint (a zip archive, such as a .npz)" in err
    assert run(capsys, "train", spec, "--out", model, "--epochs", 1, "--quiet", "--force")[0] == 0
    assert run(capsys, "train", spec, "--out", model, "--epochs", 2, "--quiet")[0] == 0  # a checkpoint: replaced
    assert netspec.load_pipeline(model).state.epoch == 2


def test_history_output_is_checked_too(tmp_path, capsys):
    spec = spec_file(tmp_path)
    code, _, err = run(capsys, "train", spec, "--history", spec, "--out", tmp_path / "m.npz")
    assert code == 1 and "will not write the history file to" in err and not (tmp_path / "m.npz").exists()
    code, _, err = run(capsys, "train", spec, "--history", tmp_path / "m.npz", "--out", tmp_path / "m.npz")
    assert code == 2 and "--history and --out both name" in err
    code, _, err = run(capsys, "train", spec, "--history", tmp_path / "h.txt")
    assert code == 2 and "expected a .csv or .json file name" in err


def test_predict_never_writes_over_its_inputs_or_other_files(tmp_path, capsys):
    model = tmp_path / "m.npz"
    assert run(capsys, "train", XOR, "--out", model, "--epochs", 1, "--quiet")[0] == 0
    X = tmp_path / "X.npy"
    np.save(X, np.zeros((2, 2)))
    code, _, err = run(capsys, "predict", model, "--data", X, "--out", X)
    assert code == 1 and "it is this command's input" in err and np.load(X).shape == (2, 2)
    for _ in range(2):  # the second time, the file holds predictions: it is replaced
        assert run(capsys, "predict", model, "--data", X, "--out", tmp_path / "p.csv")[0] == 0
    notes = tmp_path / "notes.csv"
    notes.write_text("these are my notes, not numbers\n")
    code, _, err = run(capsys, "predict", model, "--data", X, "--out", notes)
    assert code == 1 and f"{notes}: it exists and is not a predictions file (a text file)" in err
    assert notes.read_text().startswith("these are my notes")


def test_sweep_refuses_a_file_as_its_folder_before_validating(tmp_path, capsys):
    (tmp_path / "out").write_text("mine")
    grid = tmp_path / "grid.json"
    grid.write_text('{"seed": [1]}')
    code, out, err = run(capsys, "sweep", EXAMPLES / "invalid" / "unknown-type.json", grid, "--out", tmp_path / "out")
    assert code == 1 and f"cannot write the sweep into {tmp_path / 'out'}: it is a file, not a folder" in err
    assert "unknown-type" not in err  # refused before the base spec was even read


def test_files_are_written_with_the_umask(tmp_path, capsys):
    previous = os.umask(0o027)
    try:
        assert run(capsys, "train", XOR, "--out", tmp_path / "m.npz", "--epochs", 1, "--quiet",
                   "--history", tmp_path / "h.csv")[0] == 0
    finally:
        os.umask(previous)
    assert stat.S_IMODE(os.stat(tmp_path / "m.npz").st_mode) == 0o640
    assert stat.S_IMODE(os.stat(tmp_path / "h.csv").st_mode) == 0o640


# ---------------------------------------------------------------- inputs that are not files

@pytest.mark.parametrize("argv", [["validate", "{fifo}"], ["train", "{fifo}"], ["run", XOR, "--data", "{fifo}"],
                                  ["evaluate", "{fifo}"], ["predict", "{fifo}", "--data", "{fifo}"]])
def test_a_fifo_is_refused_at_once(tmp_path, argv):
    fifo = tmp_path / "pipe.csv"
    os.mkfifo(fifo)
    process = netspec_process(*[str(a).format(fifo=fifo) for a in argv], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out, err = process.communicate(timeout=TIMEOUT)
    assert process.returncode == 1 and "it is a FIFO (named pipe), not a regular file" in out + err
    assert "Traceback" not in err


def test_a_device_as_data_is_refused(capsys):
    code, _, err = run(capsys, "run", XOR, "--data", "/dev/zero")
    assert code == 1 and "/dev/zero: it is a character device, not a regular file" in err


# ---------------------------------------------------------------- Ctrl-C

LONG = {"input": {"features": 2}, "seed": 0,
        "layers": [{"type": "dense", "neurons": 256, "activation": "relu"}, {"type": "dense", "neurons": 3},
                   {"type": "softmax"}], "loss": "categorical_crossentropy",
        "train": {"epochs": 10_000_000, "batch_size": 10}, "data": {"dataset": "spiral", "points_per_class": 300}}


def start_training(tmp_path, *extra):
    spec = tmp_path / "long.json"
    spec.write_text(json.dumps(LONG))
    process = netspec_process("train", spec, "--out", tmp_path / "long.npz", *extra,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    started = time.monotonic()
    for line in process.stdout:  # wait until training has begun
        if line.startswith("training on"):
            return process
        assert time.monotonic() - started < TIMEOUT
    pytest.fail("training never started: " + process.stderr.read())


def test_ctrl_c_stops_at_the_end_of_the_batch_and_saves_the_checkpoint(tmp_path):
    process = start_training(tmp_path, "--history", tmp_path / "h.json")
    time.sleep(0.5)
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=TIMEOUT)
    assert process.returncode == 130, err
    assert "stopping at the end of this batch to save the checkpoint (Ctrl-C again to abort)" in err
    assert f"saving the checkpoint to {tmp_path / 'long.npz'}" in err and "Traceback" not in err
    assert f"saved {tmp_path / 'long.npz'}" in out and "final: loss: " in out
    pipeline = netspec.load_pipeline(tmp_path / "long.npz")
    history = json.loads((tmp_path / "h.json").read_text())
    assert history["interrupted"]["epoch"] == pipeline.state.epoch >= 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["h.json", "long.json", "long.npz"]


def test_a_second_ctrl_c_aborts_at_once(tmp_path):
    process = start_training(tmp_path)
    time.sleep(0.5)
    process.send_signal(signal.SIGINT)
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=TIMEOUT)
    assert process.returncode == 130 and "netspec: interrupted" in err and "Traceback" not in err
    # either aborted before the save, or during it: never a half-written or temporary file
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names in (["long.json"], ["long.json", "long.npz"])
    if "long.npz" in names:
        netspec.load_pipeline(tmp_path / "long.npz")


# ---------------------------------------------------------------- closed pipes

def test_a_closed_pipe_never_stops_training(tmp_path):
    process = netspec_process("train", XOR, "--out", tmp_path / "m.npz", "--epochs", 300,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    process.stdout.readline()  # like `| head -1`
    process.stdout.close()
    err = process.stderr.read()
    assert process.wait(timeout=TIMEOUT) == 0 and err == ""
    assert netspec.load_pipeline(tmp_path / "m.npz").state.epoch == 300


def test_a_closed_pipe_ends_a_listing_quietly():
    process = netspec_process("list", stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    process.stdout.readline()
    process.stdout.close()
    err = process.stderr.read()
    assert process.wait(timeout=TIMEOUT) == 0 and err == ""


# ---------------------------------------------------------------- a terminal

def test_train_on_a_terminal_draws_a_progress_bar(tmp_path):
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))  # 24 rows, 100 columns
    process = netspec_process("train", XOR, "--out", tmp_path / "m.npz", "--epochs", 50,
                              stdout=follower, stderr=follower)
    os.close(follower)
    screen = b""
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # the terminal closed with the process
            break
        if not chunk:
            break
        screen += chunk
    os.close(leader)
    assert process.wait(timeout=TIMEOUT) == 0
    text = screen.decode("utf-8", "replace")
    assert "train 100%|" in text and "50/50 epochs [" in text and "samples/s, loss=" in text
    assert "epoch 50/50 - loss: " in text and f"saved {tmp_path / 'm.npz'}" in text


def test_a_device_as_a_sweep_grid_is_refused(tmp_path, capsys):
    code, _, err = run(capsys, "sweep", XOR, "/dev/null", "--out", tmp_path / "out")
    assert code == 1 and "cannot read /dev/null: it is a character device, not a regular file" in err
    assert not (tmp_path / "out").exists()


def test_a_sweep_folder_holding_only_a_killed_sweeps_temporary_file_is_empty(tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    stray = out / ".variant-0001.json.abcdefgh.999999999.netspec.tmp"  # no process has that id
    stray.write_text("half")
    grid = tmp_path / "grid.json"
    grid.write_text('{"seed": [1]}')
    assert run(capsys, "sweep", XOR, grid, "--out", out)[0] == 0
    assert sorted(p.name for p in out.iterdir()) == ["index.csv", "index.json", "sweep.json", "variant-0001.json"]
