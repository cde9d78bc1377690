"""What a robustness pass found: interrupts a garbage-collection callback swallowed,
inputs that are pipes, values below float32's range, malformed result files, path names
the system refuses: each one line, or the work kept."""

from __future__ import annotations

import json
import os
import signal

import h5py
import numpy as np
import pytest

from discover import cli
from search import interrupt


def test_a_swallowed_interrupt_is_raised_at_the_next_check():
    """The handler remembers the signal: where its KeyboardInterrupt was lost (a gc
    callback prints "Exception ignored"), the next check() raises it, once."""
    previous = signal.getsignal(signal.SIGINT)
    try:
        interrupt.install()
        try:
            os.kill(os.getpid(), signal.SIGINT)
        except KeyboardInterrupt:
            pass                      # what a gc callback would have swallowed
        with pytest.raises(KeyboardInterrupt):
            interrupt.check()
        interrupt.check()             # cleared: no second raise
    finally:
        interrupt.clear()
        signal.signal(signal.SIGINT, previous)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")
def test_a_pipe_as_input_is_one_line_not_a_hang(tmp_path, capsys):
    fifo = tmp_path / "data.csv"
    os.mkfifo(fifo)
    assert cli.main(["fit", str(fifo), "--time-limit", "1"]) == 2
    assert "is a pipe or a device, not a file" in capsys.readouterr().err


def test_values_below_float32_are_refused_not_read_as_zeros(tmp_path, capsys):
    path = tmp_path / "tiny.h5"
    with h5py.File(path, "w") as f:
        x = np.linspace(0, 1, 50)
        f["x"], f["y"] = x, x * 1e-300
    assert cli.main(["fit", str(path), "--time-limit", "1", "-o", str(tmp_path / "r.json")]) == 2
    assert "'y' is at most 1e-300, below the search's float32 range" in capsys.readouterr().err


def test_a_result_whose_selection_does_not_exist_is_one_line(tmp_path, capsys):
    from discover.result import Equation, FitResult
    path = tmp_path / "r.json"
    FitResult(None, "y", ["x0"], {}, [Equation(1, 1.0, 0.0, "x0")], 0, "best").save(path)
    payload = json.loads(path.read_text())
    payload["selected"] = 999
    path.write_text(json.dumps(payload))
    for argv in (["plot", str(path)], ["codegen", str(path)]):
        assert cli.main(argv) == 2
        assert "'selected' is 999, but the file has 1 equations" in capsys.readouterr().err


def test_a_file_name_the_system_refuses_is_one_line(tmp_path, capsys):
    long = str(tmp_path / ("a" * 300 + ".json"))
    data = os.path.join(os.path.dirname(__file__), "..", "examples", "data", "quadratic_cosine.h5")
    assert cli.main(["fit", data, "--time-limit", "1", "-o", long]) == 2
    err = capsys.readouterr().err
    assert "File name too long" in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
