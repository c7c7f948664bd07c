"""Files netspec reads and writes, so that a crash never leaves half of one
and a typo never costs a user a file.

Writing (checkpoints, predictions, histories, sweep folders) goes through
:func:`write_atomically`: a temporary file in the same folder, flushed to
disk, then renamed over the target. A failure at any point leaves the
previous file as it was; an exception or Ctrl-C removes the temporary file,
and one left by a killed process (``.NAME.XXXX.PID.netspec.tmp``, hidden) is
removed by the next write of the same file once that process is gone. Files
get the permissions of the user's umask, as any other program's.

Before a command does any work, :func:`check_output` makes sure each of its
outputs can be written and would not replace something it should not;
:func:`open_input` opens what it reads, refusing FIFOs and devices instead of
hanging on them.
"""

from __future__ import annotations

import errno
import os
import re
import stat
import tempfile
from typing import BinaryIO, Callable, Iterable

from .errors import DataError, NetspecError

TEMPORARY_SUFFIX = ".netspec.tmp"
_TEMPORARY = re.compile(r"\.(?P<target>.+)\.[^./]+\.(?P<pid>\d+)" + re.escape(TEMPORARY_SUFFIX))


class OutputError(NetspecError):
    """An output path cannot or should not be written; nothing was written."""


class InputError(DataError):
    """An input path cannot be read; ``reason`` is one of ``missing``,
    ``folder``, ``special`` (a FIFO, device or socket), ``denied``, ``other``."""

    def __init__(self, message: str, reason: str = "other"):
        super().__init__(message)
        self.reason = reason


def write_atomically(path: str | os.PathLike, write: Callable[[BinaryIO], object], *,
                     clean_stale: bool = True) -> None:
    """Call ``write(stream)`` on a temporary file beside ``path``, fsync it, and
    rename it over ``path``, with the permissions ``0o666`` less the umask.

    ``clean_stale`` first removes the temporary files that killed processes
    left for ``path`` (one look at the folder; a sweep writing thousands of
    files into one folder cleans it once instead, with :func:`remove_stale`)."""
    path = os.fspath(path)
    folder, name = os.path.split(os.path.abspath(path))
    if clean_stale:
        remove_stale(folder, name)
    handle, temporary = tempfile.mkstemp(prefix=f".{name}.", suffix=f".{os.getpid()}{TEMPORARY_SUFFIX}", dir=folder)
    try:
        os.fchmod(handle, 0o666 & ~umask())
        with os.fdopen(handle, "wb") as stream:
            write(stream)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except BaseException as exc:
        if os.path.exists(temporary):
            os.unlink(temporary)
        if isinstance(exc, OSError) and exc.errno is not None:
            raise type(exc)(exc.errno, exc.strerror, path) from None  # the user's name, not the temporary one
        raise


def write_text(path: str | os.PathLike, text: str, *, clean_stale: bool = True) -> None:
    """:func:`write_atomically` for UTF-8 text, written exactly (no newline translation)."""
    write_atomically(path, lambda stream: stream.write(text.encode("utf-8")), clean_stale=clean_stale)


def umask() -> int:
    """The process's umask, read without changing it where Linux tells it
    (``/proc/self/status``), else set and restored at once."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def is_temporary(name: str) -> bool:
    """True for the name of a temporary file :func:`write_atomically` makes."""
    return _TEMPORARY.fullmatch(name) is not None


def remove_stale(folder: str, target: str | None = None) -> None:
    """Remove the temporary files in ``folder`` (only those for ``target``,
    when given) whose process has ended; a live process's are left alone."""
    try:
        names = os.listdir(folder)
    except OSError:
        return
    for name in names:
        match = _TEMPORARY.fullmatch(name)
        if match and (target is None or match["target"] == target) and not _alive(int(match["pid"])):
            try:
                os.unlink(os.path.join(folder, name))
            except OSError:
                pass


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # it exists, owned by someone else
    return True


# ---------------------------------------------------------------- outputs

def check_output(path: str | os.PathLike, what: str, *, is_kind: Callable[[str], bool], inputs: Iterable[str] = (),
                 force: bool = False) -> None:
    """Refuse, with an :class:`OutputError` naming ``path`` as given, an output
    that could not be written or should not be: a missing folder, a folder
    given as the file, a FIFO or device, a place the user cannot write; and,
    unless ``force``, the command's own ``inputs`` or an existing file that
    ``is_kind`` does not recognise as a ``what`` (a spec given as the
    checkpoint). Nothing is written, but a probe file created and removed
    at once to learn whether the folder is writable."""
    path = os.fspath(path)
    folder = os.path.dirname(path) or "."
    if not os.path.isdir(folder):
        problem = "does not exist" if not os.path.exists(folder) else "is not a folder"
        raise OutputError(f"cannot write the {what} to {path}: the folder {folder} {problem}")
    if os.path.lexists(path):
        _check_existing(path, what, is_kind, inputs, force)
    _check_writable(path, folder, what)


def _check_existing(path: str, what: str, is_kind: Callable[[str], bool], inputs: Iterable[str], force: bool) -> None:
    if not os.path.exists(path):
        raise OutputError(f"cannot write the {what} to {path}: it is a symbolic link to nothing")
    mode = os.stat(path).st_mode
    if stat.S_ISDIR(mode):
        raise OutputError(f"cannot write the {what} to {path}: it is a folder; give a file name")
    if not stat.S_ISREG(mode):
        raise OutputError(f"cannot write the {what} to {path}: it is {describe_mode(mode)}, not a regular file")
    if force:
        return
    same = next((given for given in inputs if _same_file(path, given)), None)
    if same is not None:
        raise OutputError(f"will not write the {what} to {path}: it is this command's input {same}; "
                          "choose another name (or pass --force to replace it)")
    if not is_kind(path):
        raise OutputError(f"will not write the {what} to {path}: it exists and is not a {what} "
                          f"({describe_file(path)}); choose another name (or pass --force to replace it)")


def _check_writable(path: str, folder: str, what: str) -> None:
    try:
        handle, probe = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=f".{os.getpid()}{TEMPORARY_SUFFIX}",
                                         dir=folder)
    except OSError as exc:
        raise OutputError(f"cannot write the {what} to {path}: {exc.strerror or exc} in {folder}") from None
    os.close(handle)
    os.unlink(probe)


def check_output_folder(path: str | os.PathLike, what: str) -> None:
    """Refuse a folder to write into that is a file, or that cannot be made or
    written (its nearest existing ancestor is probed, as :func:`check_output` does)."""
    path = os.fspath(path)
    if os.path.exists(path) and not os.path.isdir(path):
        raise OutputError(f"cannot write the {what} into {path}: it is a file, not a folder")
    existing = os.path.abspath(path)
    while not os.path.exists(existing):
        existing = os.path.dirname(existing)
    if not os.path.isdir(existing):
        raise OutputError(f"cannot make the folder {path} for the {what}: {existing} is not a folder")
    _check_writable(os.path.join(existing, "probe"), existing, what)


def _same_file(a: str, b: str) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def describe_mode(mode: int) -> str:
    """``a FIFO``, ``a character device``... for a file that is not regular."""
    kinds = [(stat.S_ISFIFO, "a FIFO (named pipe)"), (stat.S_ISCHR, "a character device"),
             (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"), (stat.S_ISDIR, "a folder")]
    return next((name for test, name in kinds if test(mode)), "not a regular file")


def describe_file(path: str) -> str:
    """What an existing regular file looks like from its first bytes: a zip
    or NumPy file, a netspec spec, text, or binary data."""
    head = read_head(path)
    if head.startswith(b"PK\x03\x04"):
        return "a zip archive, such as a .npz"
    if head.startswith(b"\x93NUMPY"):
        return "a NumPy .npy file"
    if not head:
        return "an empty file"
    if b"\x00" in head:
        return "binary data"
    if b'"layers"' in head or b"layers:" in head:
        return "it looks like a netspec spec"
    return "a text file"


def read_head(path: str, size: int = 4096) -> bytes:
    """The first ``size`` bytes of a regular file (fewer when it is shorter)."""
    with open(path, "rb") as stream:
        return stream.read(size)


# ---------------------------------------------------------------- inputs

def open_input(path: str | os.PathLike, what: str) -> BinaryIO:
    """``path`` opened for reading in binary, or an :class:`InputError` that
    says which of these it is (its ``reason``): ``missing``, a ``folder``, a
    FIFO, device or socket (``special``: refused without blocking, for it is
    opened non-blocking and checked before any read), or a file that exists
    but may not be read (``denied``); ``other`` for any other failure."""
    name = os.fsdecode(path)
    try:
        handle = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except FileNotFoundError:
        raise InputError(f"no such {what}: {name}", "missing") from None
    except IsADirectoryError:
        raise InputError(f"cannot read the {what} {name}: it is a directory", "folder") from None
    except PermissionError:
        raise InputError(f"cannot read the {what} {name}: it exists but you may not read it (permission denied)",
                         "denied") from None
    except OSError as exc:
        if exc.errno in (errno.ENXIO, errno.EOPNOTSUPP):  # a socket
            raise InputError(f"cannot read the {what} {name}: it is a socket, not a regular file", "special") from None
        raise InputError(f"cannot read the {what} {name}: {exc.strerror or exc}", "other") from None
    mode = os.fstat(handle).st_mode
    if not stat.S_ISREG(mode):
        os.close(handle)
        if stat.S_ISDIR(mode):
            raise InputError(f"cannot read the {what} {name}: it is a directory", "folder")
        raise InputError(f"cannot read the {what} {name}: it is {describe_mode(mode)}, not a regular file", "special")
    if hasattr(os, "O_NONBLOCK"):
        os.set_blocking(handle, True)
    return os.fdopen(handle, "rb")
