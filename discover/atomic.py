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
from collections.abc import Mapping
from pathlib import Path

from .errors import OutputError


def write_bytes_atomic(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (same-directory temp file + ``os.replace``)."""
    write_files_atomic({path: data})


def write_files_atomic(files: Mapping[str | os.PathLike, bytes | str]) -> None:
    """Write several files (``path -> content``, text as UTF-8) all or none: every content
    goes to a temporary file beside its target first; then devices and FIFOs among the
    targets are written into (a FIFO without a reader fails here, before any rename); only
    then are the temporaries renamed over their targets."""
    staged: list[tuple[str, Path]] = []                  # (temporary file, target)
    direct: list[tuple[str | os.PathLike, bytes, int]] = []   # (device or FIFO, data, mode)
    path, mode = None, None
    try:
        for path, content in files.items():
            data = content.encode("utf-8") if isinstance(content, str) else content
            mode = None
            try:
                mode = os.stat(path).st_mode  # follows links, /dev/stdout's included
            except FileNotFoundError:
                pass
            if mode is not None and stat.S_ISDIR(mode):
                raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR))
            if mode is not None and not stat.S_ISREG(mode):
                direct.append((path, data, mode))
            else:
                target = Path(os.path.realpath(path))
                staged.append((_stage(target, data), target))
        for path, data, mode in direct:
            _write_into(path, data)
        for tmp, target in staged:
            path, mode = target, None
            os.replace(tmp, target)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        if exc.errno == errno.ENXIO and mode is not None and stat.S_ISFIFO(mode):
            reason = "a named pipe that no process is reading"
        raise OutputError(f"cannot write {os.fspath(path)}: {reason}") from None
    finally:
        for tmp, _ in staged:
            if os.path.exists(tmp):
                os.unlink(tmp)


def _write_into(path: str | os.PathLike, data: bytes) -> None:
    """Write into an existing device or FIFO; a FIFO without a reader fails at once
    (O_NONBLOCK) instead of waiting for one."""
    fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK)
    os.set_blocking(fd, True)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)


def _stage(target: Path, data: bytes) -> str:
    """A complete temporary file of ``data`` beside ``target`` (a resolved path): its name,
    for ``os.replace`` over the target."""
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
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    return tmp


def write_text_atomic(path: str | os.PathLike, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    write_bytes_atomic(path, text.encode("utf-8"))
