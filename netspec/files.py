"""Writing files so that a crash never leaves half of one.

Everything netspec writes (checkpoints, predictions, sweep folders) goes
through :func:`write_atomically`: a temporary file in the same folder, flushed
to disk, then renamed over the target. A failure at any point leaves the
previous file as it was and no temporary file behind.
"""

from __future__ import annotations

import os
import tempfile
from typing import BinaryIO, Callable


def write_atomically(path: str | os.PathLike, write: Callable[[BinaryIO], object]) -> None:
    """Call ``write(stream)`` on a temporary file beside ``path``, fsync it, and rename it over ``path``."""
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    handle, temporary = tempfile.mkstemp(prefix=".netspec-", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(handle, "wb") as stream:
            write(stream)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise


def write_text(path: str | os.PathLike, text: str) -> None:
    """:func:`write_atomically` for UTF-8 text, written exactly (no newline translation)."""
    write_atomically(path, lambda stream: stream.write(text.encode("utf-8")))
