"""Writing files atomically with the user's umask, checking outputs before any
work, and opening inputs without hanging on FIFOs."""

import os
import stat
import subprocess
import sys
import textwrap

import pytest

from netspec.files import (
    InputError,
    OutputError,
    check_output,
    check_output_folder,
    is_temporary,
    open_input,
    umask,
    write_atomically,
    write_text,
)


def anything(path):
    return True


def nothing(path):
    return False


@pytest.fixture
def mask():
    """Set a umask for the test and restore the previous one after it."""
    previous = os.umask(0o022)

    def set_mask(value):
        os.umask(value)

    yield set_mask
    os.umask(previous)


@pytest.mark.parametrize("value, mode", [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_files_get_the_permissions_of_the_umask(tmp_path, mask, value, mode):
    mask(value)
    assert umask() == value
    write_text(tmp_path / "out.txt", "x")
    assert stat.S_IMODE(os.stat(tmp_path / "out.txt").st_mode) == mode


def test_a_failed_write_leaves_no_temporary_file_and_the_old_file(tmp_path):
    target = tmp_path / "out.txt"
    target.write_text("old")

    def failing(stream):
        stream.write(b"half")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        write_atomically(target, failing)
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"] and target.read_text() == "old"


def test_a_kill_during_a_save_leaves_a_hidden_file_the_next_save_removes(tmp_path):
    target = tmp_path / "model.npz"
    killed = textwrap.dedent(f"""
        import os, signal
        from netspec.files import write_atomically
        def write(stream):
            stream.write(b"half")
            stream.flush()
            os.kill(os.getpid(), signal.SIGKILL)
        write_atomically({str(target)!r}, write)
    """)
    done = subprocess.run([sys.executable, "-c", killed], capture_output=True, timeout=60)
    assert done.returncode == -9
    [stray] = list(tmp_path.iterdir())
    assert stray.name.startswith(".model.npz.") and is_temporary(stray.name)
    write_text(target, "whole")
    assert [p.name for p in tmp_path.iterdir()] == ["model.npz"] and target.read_text() == "whole"


def test_a_live_process_temporary_file_is_left_alone(tmp_path):
    theirs = tmp_path / f".model.npz.abcdefgh.{os.getppid()}.netspec.tmp"
    theirs.write_text("being written")
    write_text(tmp_path / "model.npz", "mine")
    assert theirs.exists()


# ---------------------------------------------------------------- check_output

def test_a_missing_folder_is_named_as_given(tmp_path):
    with pytest.raises(OutputError, match="cannot write the checkpoint to nowhere/m.npz: the folder nowhere does not"):
        check_output("nowhere/m.npz", "checkpoint", is_kind=anything)


def test_a_file_given_as_the_folder(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(OutputError, match="is not a folder"):
        check_output(tmp_path / "file" / "m.npz", "checkpoint", is_kind=anything)


def test_a_folder_given_as_the_file(tmp_path):
    with pytest.raises(OutputError, match="it is a folder; give a file name"):
        check_output(tmp_path, "checkpoint", is_kind=anything, force=True)


def test_a_fifo_is_never_an_output(tmp_path):
    os.mkfifo(tmp_path / "pipe")
    with pytest.raises(OutputError, match="it is a FIFO"):
        check_output(tmp_path / "pipe", "checkpoint", is_kind=anything, force=True)


def test_a_place_that_cannot_be_written():
    if not os.path.isdir("/sys"):
        pytest.skip("needs /sys, where nobody creates files")
    with pytest.raises(OutputError, match="cannot write the checkpoint to /sys/m.npz: Permission denied in /sys"):
        check_output("/sys/m.npz", "checkpoint", is_kind=anything)


def test_the_command_input_and_other_kinds_of_file_need_force(tmp_path):
    spec = tmp_path / "s.json"
    spec.write_text('{"layers": []}')
    with pytest.raises(OutputError, match=r"it is this command's input .*s\.json; choose another name"):
        check_output(spec, "checkpoint", is_kind=anything, inputs=[str(spec)])
    with pytest.raises(OutputError, match=r"it exists and is not a checkpoint \(it looks like a netspec spec\)"):
        check_output(spec, "checkpoint", is_kind=nothing)
    check_output(spec, "checkpoint", is_kind=nothing, inputs=[str(spec)], force=True)
    check_output(spec, "checkpoint", is_kind=anything)
    check_output(tmp_path / "new.npz", "checkpoint", is_kind=nothing)
    assert [p.name for p in tmp_path.iterdir()] == ["s.json"]  # the probes are gone


def test_an_output_folder_that_is_a_file_or_under_one(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(OutputError, match="it is a file, not a folder"):
        check_output_folder(tmp_path / "file", "sweep")
    with pytest.raises(OutputError, match="is not a folder"):
        check_output_folder(tmp_path / "file" / "deeper" / "out", "sweep")
    check_output_folder(tmp_path / "new" / "out", "sweep")
    assert not (tmp_path / "new").exists()


# ---------------------------------------------------------------- open_input

def test_open_input_reads_a_regular_file(tmp_path):
    (tmp_path / "a.json").write_bytes(b"{}")
    with open_input(tmp_path / "a.json", "spec") as stream:
        assert stream.read() == b"{}"


def test_a_fifo_is_refused_without_waiting_for_a_writer(tmp_path):
    os.mkfifo(tmp_path / "pipe.json")
    with pytest.raises(InputError, match="it is a FIFO .named pipe., not a regular file"):
        open_input(tmp_path / "pipe.json", "spec")


def test_a_device_is_refused():
    with pytest.raises(InputError, match="cannot read the data file /dev/null: it is a character device"):
        open_input("/dev/null", "data file")


def test_missing_folder_and_unreadable_inputs_say_which(tmp_path, monkeypatch):
    with pytest.raises(InputError, match="no such spec: "):
        open_input(tmp_path / "nope.json", "spec")
    with pytest.raises(InputError, match="it is a directory"):
        open_input(tmp_path, "spec")

    def denied(*args):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(os, "open", denied)
    with pytest.raises(InputError, match="it exists but you may not read it"):
        open_input(tmp_path / "nope.json", "spec")


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads every file")
def test_a_file_without_read_permission(tmp_path):
    path = tmp_path / "secret.json"
    path.write_text("{}")
    path.chmod(0)
    with pytest.raises(InputError, match="it exists but you may not read it"):
        open_input(path, "spec")


def test_a_failed_write_names_the_file_the_user_asked_for(tmp_path, monkeypatch):
    def full(source, target):
        raise OSError(28, "No space left on device", source)

    monkeypatch.setattr(os, "replace", full)
    with pytest.raises(OSError) as caught:
        write_text(tmp_path / "model.npz", "x")
    assert caught.value.filename == str(tmp_path / "model.npz") and caught.value.strerror == "No space left on device"
    assert list(tmp_path.iterdir()) == []
