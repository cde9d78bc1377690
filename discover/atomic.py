"""Atomic file writes: write to a temporary file beside the target, then rename.

A reader (or a crash) never sees a half-written file; an existing file is replaced only
once the new content is complete.  A symbolic link is followed: its target is written
(atomically) and the link kept.  A path that exists but is not a regular file (``/dev/null``,
a named pipe) is written into directly, never replaced.  A path that cannot be written
raises :class:`~discover.errors.OutputError` ("cannot write PATH: reason"), a ``UserError``.
"""

from __future__ import annotations

import errno
import os
import stat
import tempfile
from pathlib import Path

from .errors import OutputError


def write_bytes_atomic(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (same-directory temp file + ``os.replace``)."""
    mode = None
    try:
        try:
            mode = os.stat(path).st_mode  # follows links, /dev/stdout's included
        except FileNotFoundError:
            pass
        if mode is not None and not stat.S_ISREG(mode):
            _write_into(path, data)
        else:
            _replace(Path(os.path.realpath(path)), data)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        if exc.errno == errno.ENXIO and mode is not None and stat.S_ISFIFO(mode):
            reason = "a named pipe that no process is reading"
        raise OutputError(f"cannot write {os.fspath(path)}: {reason}") from None


def _write_into(path: str | os.PathLike, data: bytes) -> None:
    """Write into an existing device or FIFO; a FIFO without a reader fails at once
    (O_NONBLOCK) instead of waiting for one."""
    fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK)
    os.set_blocking(fd, True)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)


def _replace(target: Path, data: bytes) -> None:
    """A temporary file beside ``target`` (a resolved path), renamed over it when complete."""
    directory = target.parent if str(target.parent) else Path(".")
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=directory)
    try:
        # mkstemp creates 0600; give the file the permissions a plain open() would.
        umask = os.umask(0)
        os.umask(umask)
        os.fchmod(fd, 0o666 & ~umask)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def write_text_atomic(path: str | os.PathLike, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    write_bytes_atomic(path, text.encode("utf-8"))
