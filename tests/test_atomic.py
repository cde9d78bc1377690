"""The atomic writer (:mod:`discover.atomic`): links are followed and kept, devices and
pipes are written into (never replaced), an unwritable path is one UserError."""

from __future__ import annotations

import os
import stat
import threading

import pytest

from discover.atomic import write_text_atomic
from discover.errors import OutputError, UserError


def test_a_symlink_is_kept_and_its_target_written(tmp_path):
    target = tmp_path / "target.json"
    target.write_text("old")
    link = tmp_path / "link.json"
    link.symlink_to(target.name)
    write_text_atomic(link, "new")
    assert link.is_symlink() and target.read_text() == "new"
    dangling = tmp_path / "dangling.json"
    dangling.symlink_to("created.json")
    write_text_atomic(dangling, "made")
    assert dangling.is_symlink() and (tmp_path / "created.json").read_text() == "made"
    assert not list(tmp_path.glob(".*.tmp"))


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")
def test_a_named_pipe_is_written_into_not_replaced(tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    with pytest.raises(OutputError, match="no process is reading"):  # no reader: fails at once, no hang
        write_text_atomic(fifo, "lost")
    received = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_text()), daemon=True)
    reader.start()
    try:
        for _ in range(500):  # until the reader has opened its end
            try:
                write_text_atomic(fifo, "through the pipe")
                break
            except OutputError:
                threading.Event().wait(0.01)
    finally:
        reader.join(timeout=10)
    assert received == ["through the pipe"]
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)


def test_an_unwritable_path_is_one_user_error(tmp_path):
    (tmp_path / "file").write_text("keep")
    path = tmp_path / "file" / "x.json"
    with pytest.raises(UserError) as info:
        write_text_atomic(path, "{}")
    assert str(info.value) == f"cannot write {path}: Not a directory"
    assert isinstance(info.value, OSError)  # callers that tolerate an unwritable file (a cache) still can
    assert (tmp_path / "file").read_text() == "keep"


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")
def test_several_files_are_written_all_or_none(tmp_path):
    """A pair whose second target cannot be written (a directory, a named pipe nobody
    reads) leaves the first untouched, whatever the order; no temporary file stays."""
    from discover.atomic import write_files_atomic

    (tmp_path / "a.txt").write_text("old")
    (tmp_path / "dir").mkdir()
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    for files, reason in (({tmp_path / "a.txt": "new", tmp_path / "dir": "x"}, "Is a directory"),
                          ({tmp_path / "a.txt": "new", fifo: "x"}, "a named pipe that no process is reading"),
                          ({fifo: "x", tmp_path / "a.txt": "new"}, "a named pipe that no process is reading")):
        with pytest.raises(OutputError, match=reason):
            write_files_atomic(files)
        assert (tmp_path / "a.txt").read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt", "dir", "pipe"]
    write_files_atomic({tmp_path / "a.txt": "new", tmp_path / "b.bin": b"\x00\x01"})
    assert (tmp_path / "a.txt").read_text() == "new" and (tmp_path / "b.bin").read_bytes() == b"\x00\x01"
