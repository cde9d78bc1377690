"""Tests for ``discover fit``: a real search on a small HDF5 file with a known law (in
process), and every kind of bad input: exit code 2, one line on stderr, no traceback, and
no result file written or clobbered."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest
import sympy

from discover.cli import main
from discover.errors import UserError
from discover.result import SCHEMA, load_result, parse_equation

FAST = ["--time-limit", "30", "--quiet", "--populations", "4", "--population-size", "32", "--maxsize", "20",
        "--operators", "+,-,*,/,square,cos", "--seed", "0", "--checkpoint", "0"]


def write_h5(path: Path, columns: dict) -> Path:
    with h5py.File(path, "w", track_order=True) as handle:
        for name, values in columns.items():
            handle[name] = values
    return path


def law_columns(n=300):  # the shapes of test_regressor.py: its compiled calls are reused
    rng = np.random.default_rng(0)
    mass = rng.uniform(0.5, 3.0, n)
    speed = rng.uniform(-2.0, 2.0, n)
    return {"mass": mass, "speed": speed, "energy": 0.5 * mass * speed**2}


def drop_float_noise(expr, tol=1e-9):
    return expr.xreplace({f: sympy.Integer(round(f)) for f in expr.atoms(sympy.Float) if abs(f - round(f)) < tol})


@pytest.fixture(scope="module")
def happy(tmp_path_factory):
    """One real run of ``discover fit`` in process; its exit code, output and result file."""
    tmp = tmp_path_factory.mktemp("fit")
    data = write_h5(tmp / "energy.h5", law_columns())
    output = tmp / "out" / "energy.json"
    output.parent.mkdir()
    mp = pytest.MonkeyPatch()
    mp.setenv("COLUMNS", "200")  # rich wraps at the terminal width
    import io
    import contextlib

    out, err = io.StringIO(), io.StringIO()
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            rc = main(["fit", str(data), "--target", "energy", "--output", str(output), *FAST])
    finally:
        mp.undo()
    return rc, out.getvalue(), err.getvalue(), output, data


def test_fit_happy_path_exit_code_and_selected_formula(happy):
    rc, out, err, output, _ = happy
    assert rc == 0, err
    assert err == ""  # --quiet: no progress panel
    selected = [line for line in out.splitlines() if line.startswith("selected (best): energy = ")]
    assert len(selected) == 1, out
    formula = parse_equation(selected[0].split(" = ", 1)[1], ["mass", "speed"])
    mass, speed = sympy.symbols("mass speed")
    assert sympy.simplify(drop_float_noise(sympy.expand(formula - mass * speed**2 / 2))) == 0, formula
    assert f"result written to {output}" in out
    assert "Pareto front" in out and "complexity" in out


def test_batch_size_reaches_the_search(tmp_path, capsys):
    """``--batch-size``: the search scores on that many rows (recorded in the result's
    settings), the front is refit on all of them and still holds the law."""
    data = write_h5(tmp_path / "energy.h5", law_columns())
    output = tmp_path / "r.json"
    rc, out, err = run_cli(capsys, ["fit", str(data), "--target", "energy", "--output", str(output),
                                    "--batch-size", "100", *FAST])
    assert rc == 0, err
    payload = json.loads(output.read_text())
    assert payload["settings"]["batch_size"] == 100
    best = min(payload["equations"], key=lambda e: e["loss"])
    assert best["loss"] < 1e-20


def test_fit_happy_path_result_file(happy):
    rc, out, _, output, data = happy
    payload = json.loads(output.read_text())
    assert payload["schema"] == SCHEMA == "discover.fit/1"
    assert payload["data"] == str(data)
    assert payload["target"] == "energy"
    assert payload["variables"] == ["mass", "speed"]
    assert payload["model_selection"] == "best"
    assert payload["settings"]["maxsize"] == 20 and payload["settings"]["populations"] == 4
    assert payload["stats"]["stopped_by"] in ("tolerance", "timeout", "niterations")
    equations = payload["equations"]
    assert len(equations) >= 1
    assert 0 <= payload["selected"] < len(equations)
    complexities = [e["complexity"] for e in equations]
    losses = [e["loss"] for e in equations]
    assert complexities == sorted(set(complexities))
    assert all(a > b for a, b in zip(losses, losses[1:]))
    for e in equations:
        assert set(e) == {"complexity", "loss", "score", "sympy"}
        assert isinstance(parse_equation(e["sympy"], payload["variables"]), sympy.Expr)
    chosen = equations[payload["selected"]]["sympy"]
    assert f"energy = {chosen}" in out
    assert losses[payload["selected"]] < 1e-20
    result = load_result(output)
    assert result.selected == payload["selected"] and result.selected_equation().sympy == chosen
    assert not list(output.parent.glob("*.tmp"))  # atomic write leaves no temporary file


# ----------------------------------------------------------------------------- bad input


def run_cli(capsys, argv):
    rc = main(argv)
    captured = capsys.readouterr()
    return rc, captured.out, captured.err


def assert_one_line_error(rc, err, *needles):
    assert rc == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("discover fit: error: ")
    assert "Traceback" not in err
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])


def bad_files(tmp: Path) -> dict:
    n = 20
    x = np.linspace(0.0, 1.0, n)
    nan_y = 2 * x
    nan_y[4] = np.nan
    garbage = tmp / "garbage.h5"
    garbage.write_bytes(bytes(range(256)) * 4)
    return {
        "missing": (tmp / "nope.h5", [], ["no such file"]),
        "directory": (tmp, [], ["directory"]),
        "not-a-data-file": (garbage, [], ["not an HDF5, NPZ or CSV file"]),
        "no-y-column": (write_h5(tmp / "noy.h5", {"a": x, "b": 2 * x}), [], ["--target", "'a'", "'b'"]),
        "missing-target": (write_h5(tmp / "t.h5", {"x": x, "y": 2 * x}), ["--target", "z"], ["'z'", "not found"]),
        "nan": (write_h5(tmp / "nan.h5", {"x": x, "y": nan_y}), [], ["NaN", "'y'", "row index 4"]),
        "unequal-lengths": (write_h5(tmp / "len.h5", {"x": x, "y": x[:-3]}), [], ["different lengths"]),
        "empty": (write_h5(tmp / "empty.h5", {"x": np.zeros(0), "y": np.zeros(0)}), [], ["no data rows"]),
        "non-numeric": (write_h5(tmp / "str.h5", {"x": np.array([b"a", b"b"] * 10), "y": x}), [], ["not numeric"]),
        "unknown-operator": (write_h5(tmp / "ok1.h5", {"x": x, "y": 2 * x}), ["--operators", "+,sinh"],
                             ["unknown operator 'sinh'", "cos"]),
        "maxsize-1": (write_h5(tmp / "ok2.h5", {"x": x, "y": 2 * x}), ["--maxsize", "1"], ["--maxsize", "at least"]),
        "output-in-missing-dir": (write_h5(tmp / "ok3.h5", {"x": x, "y": 2 * x}),
                                  ["--output", str(tmp / "no" / "such" / "r.json")], ["does not exist"]),
        "time-limit-nan": (write_h5(tmp / "ok4.h5", {"x": x, "y": 2 * x}), ["--time-limit", "nan"],
                           ["--time-limit must be a positive number of seconds, not nan"]),
        "checkpoint-negative": (write_h5(tmp / "ok5.h5", {"x": x, "y": 2 * x}), ["--checkpoint", "-1"],
                                ["--checkpoint", ">= 0", "not -1"]),
        "operators-empty": (write_h5(tmp / "ok6.h5", {"x": x, "y": 2 * x}), ["--operators", ""],
                            ["--operators '' names no operator"]),
        "text-named-h5": (text_file(tmp / "text.h5", "hello\n"), [], ["text.h5: not an HDF5 file"]),
        "batch-size-0": (write_h5(tmp / "ok7.h5", {"x": x, "y": 2 * x}), ["--batch-size", "0"],
                         ["--batch-size must be at least 1, not 0"]),
        "maxsize-huge": (write_h5(tmp / "ok8.h5", {"x": x, "y": 2 * x}), ["--maxsize", "20000"],
                         ["--maxsize must be at most 1000, not 20000"]),
        "seed-negative": (write_h5(tmp / "ok9.h5", {"x": x, "y": 2 * x}), ["--seed", "-1"],
                          ["--seed must be an integer from 0 to 2**63 - 1, not -1"]),
        "one-row": (write_h5(tmp / "one.h5", {"x": x[:1], "y": 2 * x[:1]}), [], ["only 1 sample", "at least 2 rows"]),
        "constant-inputs": (write_h5(tmp / "const.h5", {"a": np.ones(20), "b": np.full(20, 2.0), "y": x[:20]}), [],
                            ["every input column is constant (a = 1, b = 2)"]),
    }


def text_file(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


CASES = ["missing", "directory", "not-a-data-file", "no-y-column", "missing-target", "nan", "unequal-lengths",
         "empty", "non-numeric", "unknown-operator", "maxsize-1", "output-in-missing-dir", "time-limit-nan",
         "checkpoint-negative", "operators-empty", "text-named-h5", "batch-size-0",
         "maxsize-huge", "seed-negative", "one-row", "constant-inputs"]


@pytest.mark.parametrize("case", CASES)
def test_bad_input_exit_2_one_line(tmp_path, capsys, monkeypatch, case):
    monkeypatch.chdir(tmp_path)  # the default output file would land here
    path, extra, needles = bad_files(tmp_path)[case]
    before = set(tmp_path.rglob("*"))
    rc, out, err = run_cli(capsys, ["fit", str(path), "--quiet", "--time-limit", "5", *extra])
    assert_one_line_error(rc, err, *needles)
    assert out == ""
    assert set(tmp_path.rglob("*")) == before  # nothing written


@pytest.mark.parametrize("argv, needle", [
    (["fit", "d.h5", "--time-limit", "abc"], "argument --time-limit: invalid float value: 'abc'"),
    (["fit", "d.h5", "--seed", "1.5"], "argument --seed: invalid int value: '1.5'"),
    (["fit"], "the following arguments are required: data"),
])
def test_usage_errors_are_one_line(capsys, argv, needle):
    """argparse's own errors (a value of the wrong type, a missing argument) as one line
    that says where the help is, not the usage block; exit status 2."""
    with pytest.raises(SystemExit) as exc:
        main(argv)
    err = capsys.readouterr().err
    assert exc.value.code == 2 and len(err.strip().splitlines()) == 1, err
    assert err.startswith("discover fit: error: ") and needle in err and "(see 'discover fit --help')" in err


@pytest.mark.parametrize("case", ["nan", "unknown-operator", "non-numeric", "maxsize-1"])
def test_existing_output_not_clobbered_on_bad_input(tmp_path, capsys, case):
    path, extra, needles = bad_files(tmp_path)[case]
    output = tmp_path / "result.json"
    output.write_text('{"keep": true}\n')
    rc, _, err = run_cli(capsys, ["fit", str(path), "--quiet", "--output", str(output), *extra])
    assert_one_line_error(rc, err, *needles)
    assert output.read_text() == '{"keep": true}\n'
    assert sorted(p.name for p in tmp_path.glob("*result.json*")) == ["result.json"]


def test_subprocess_bad_input_exit_code_and_single_stderr_line(tmp_path):
    x = np.linspace(0.0, 1.0, 10)
    y = 2 * x
    y[2] = np.nan
    data = write_h5(tmp_path / "nan.h5", {"x": x, "y": y})
    proc = subprocess.run([sys.executable, "-m", "discover", "fit", str(data), "--quiet"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("discover fit: error: ") and "NaN" in lines[0]
    assert proc.stdout == ""
    assert sorted(p.name for p in tmp_path.iterdir()) == ["nan.h5"]


def test_unknown_evaluator_backend_in_the_environment_is_one_line(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("DISCOVER_EVALUATOR", "bogus")
    data = write_h5(tmp_path / "energy.h5", law_columns())
    output = tmp_path / "energy.json"
    rc, out, err = run_cli(capsys, ["fit", str(data), "--target", "energy", "--output", str(output), *FAST])
    assert_one_line_error(rc, err, "DISCOVER_EVALUATOR", "auto, native, jax", "'bogus'")
    assert not output.exists()


def test_an_output_that_would_destroy_the_input_or_cannot_be_written_is_refused_first(tmp_path, capsys):
    """-o naming the data file, --plot naming the result file, a directory that takes no
    files (/proc): one line before any search, and the data file untouched."""
    data = write_h5(tmp_path / "energy.h5", law_columns())
    before = data.read_bytes()
    for extra, needle in ((["--output", str(data)], "is the input data file"),
                          (["--output", str(tmp_path / "r.png"), "--plot"], "is also the result file"),
                          (["--output", "/proc/r.json"], "cannot write in /proc")):
        if extra[1].startswith("/proc") and not Path("/proc").is_dir():
            continue
        rc, out, err = run_cli(capsys, ["fit", str(data), "--target", "energy", *FAST, *extra])
        assert_one_line_error(rc, err, needle)
        assert out == "" and data.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["energy.h5"]


@pytest.mark.parametrize("flag", ["--output", "--pysr-csv"])
def test_unwritable_output_is_one_line(tmp_path, capsys, flag):
    data = write_h5(tmp_path / "energy.h5", law_columns())
    (tmp_path / "file").write_text("")
    bad = tmp_path / "file" / "r.out"  # its "directory" is a file: the write fails after the search
    extra = [flag, str(bad)] + (["--output", str(tmp_path / "r.json")] if flag != "--output" else [])
    rc, _, err = run_cli(capsys, ["fit", str(data), "--target", "energy", *FAST, "--niterations", "1", *extra])
    # --output is tried before the search (a file in its directory), --pysr-csv when written
    assert_one_line_error(rc, err, f"--output {bad}: cannot write in {bad.parent} (Not a directory)"
                          if flag == "--output" else f"cannot write {bad}: Not a directory")


def test_output_through_a_symlink_writes_its_target(tmp_path, capsys):
    data = write_h5(tmp_path / "energy.h5", law_columns())
    target = tmp_path / "target.json"
    target.write_text("{}")
    link = tmp_path / "link.json"
    link.symlink_to(target.name)
    rc, _, _ = run_cli(capsys, ["fit", str(data), "--target", "energy", *FAST, "--niterations", "1",
                                "--output", str(link)])
    assert rc == 0 and link.is_symlink() and link.resolve() == target
    assert load_result(target).target == "energy"


def test_result_file_missing_a_key_names_it(tmp_path):
    path = tmp_path / "r.json"
    path.write_text(json.dumps({"schema": SCHEMA, "target": "y", "variables": ["x"], "selected": 0}))
    with pytest.raises(UserError, match=r"malformed discover result file \(it has no 'equations' field\)"):
        load_result(path)
