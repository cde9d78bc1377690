"""``discover.load_result`` for every job's file, and the pictures of ``discover plot`` /
``--plot``: real small results (a short formula search, a PDE found in simulated heat
data, an approximation run of textbook programs), PNGs written and non-empty, figures
with the expected axes."""

from __future__ import annotations

import contextlib
import dataclasses
import io
import json
import math
import os
import re
from pathlib import Path

import h5py
import numpy as np
import pytest

import discover
from discover.cli import main
from discover.errors import UserError
from discover.result import Equation, FitResult

PNG = b"\x89PNG\r\n\x1a\n"


def run_cli(*argv) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = main([str(a) for a in argv])
    return rc, out.getvalue(), err.getvalue()


def assert_png(path: Path) -> None:
    data = Path(path).read_bytes()
    assert data[:8] == PNG
    assert len(data) > 10_000


def panels(fig) -> list:
    """The figure's axes without the colour bars."""
    return [ax for ax in fig.axes if ax.get_label() != "<colorbar>"]


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def fit_run(tmp_path_factory):
    """``discover fit --plot`` on y = 2*x0 + 1 with a tiny budget."""
    tmp = tmp_path_factory.mktemp("fit")
    x = np.random.default_rng(0).uniform(-2.0, 2.0, 64)
    data = tmp / "line.h5"
    with h5py.File(data, "w", track_order=True) as handle:
        handle["x0"] = x
        handle["y"] = 2 * x + 1
    output = tmp / "line.result.json"
    rc, out, err = run_cli("fit", data, "--niterations", "3", "--populations", "2", "--population-size", "32",
                           "--time-limit", "120", "--checkpoint", "0", "--quiet", "--seed", "0",
                           "--output", output, "--plot")
    assert rc == 0, err
    return output, data, out


@pytest.fixture(scope="module")
def pde_run(tmp_path_factory):
    """``discover pde --plot`` on simulated heat data u_t = 0.1 u_xx."""
    from discover.pde.simulate import simulate_rhs, write_h5

    tmp = tmp_path_factory.mktemp("pde")
    data = tmp / "heat.h5"
    write_h5(data, simulate_rhs({"u": "0.1*u_xx"}, [(0.0, 2 * math.pi)], 64, 2.0, 41, "sin(x) + 0.5*cos(2*x)"))
    output = tmp / "heat.pde.json"
    plot = tmp / "heat-picture.png"
    rc, out, err = run_cli("pde", data, "--quiet", "--output", output, "--plot", plot)
    assert rc == 0, err
    return output, data, plot, out


@pytest.fixture(scope="module")
def approx_run(tmp_path_factory):
    """An exp float32 result file whose front is minimax programs and whose baselines are
    Taylor and minimax polynomials of degree 2-4 (what ``discover approx`` writes)."""
    from discover.approx import job
    from discover.approx import result as approx_result
    from discover.approx.baselines import baselines
    from discover.approx_command import _payload

    settings = job.ApproxSettings(dtype="float32", max_ulp=64.0)
    task = job.make_task("exp", settings)
    base = baselines(task.core, task.dtype, [2, 3, 4], families=["taylor", "minimax"])
    rows = [job._candidate(task, b.name, b.slp) for b in base]
    front = [job._candidate(task, "search", b.slp) for b in base if b.family == "minimax" and b.order == "horner"]
    run = job.ApproxRun(task, front, rows, {"seconds": 0.0, "evaluations": 0})
    selected = job.select(front, settings.max_ulp)
    path = tmp_path_factory.mktemp("approx") / "exp.float32.approx.json"
    approx_result.save(_payload(run, selected, None, "ULP", None), path)
    return path, run, selected, base


# --------------------------------------------------------------------------- load_result


def test_load_result_reads_every_job(fit_run, pde_run, approx_run):
    from discover.approx.result import ApproxResult
    from discover.pde.result import PDEResult, load_pde_result
    from discover.result import load_result as load_fit

    fit = discover.load_result(fit_run[0])
    assert isinstance(fit, FitResult)
    assert fit == load_fit(fit_run[0])
    assert fit.variables == ["x0"] and fit.target == "y"

    pde = discover.load_result(pde_run[0])
    assert isinstance(pde, PDEResult)
    assert pde == load_pde_result(pde_run[0])
    assert pde.equations[0]["terms"][0]["term"] == "u_xx"

    path, run, selected, _ = approx_run
    approx = discover.load_result(path)
    assert isinstance(approx, ApproxResult)
    assert (approx.target, approx.dtype, approx.max_ulp, approx.selected) == ("exp", "float32", 64.0, selected)
    assert approx.domain == (-math.inf, math.inf)        # stored as "-inf"/"inf" strings
    assert [r["name"] for r in approx.baselines] == [b.name for b in run.baselines]
    for i, row in enumerate(run.front):
        assert approx.program(i) == row.full
        assert approx.program(i, "core") == row.core
        assert approx.front[i]["error"] == row.error


@pytest.mark.parametrize("content, expected", [
    (None, "result file not found"),
    ("{not json", "invalid JSON"),
    ('{"schema": "discover.other/9"}', "schema 'discover.other/9'"),
    ('[1, 2]', "no 'schema' field"),
])
def test_load_result_errors_are_one_line(tmp_path, content, expected):
    path = tmp_path / "result.json"
    if content is not None:
        path.write_text(content)
    with pytest.raises(UserError) as info:
        discover.load_result(path)
    message = str(info.value)
    assert expected in message and "\n" not in message and str(path) in message


def test_load_result_missing_hall_of_fame(tmp_path):
    with pytest.raises(UserError, match="result file not found"):
        discover.load_result(tmp_path / "hall_of_fame.csv")


def test_pysr_hall_of_fame_loads_and_plots(fit_run, tmp_path):
    pysr = pytest.importorskip("discover.pysr")
    path = tmp_path / "hall_of_fame.csv"
    path.write_text("Complexity,Loss,Equation\n1,4.0,\"x0\"\n5,0.0,\"(x0 * 2.0) + 1.0\"\n")
    loaded = discover.load_result(path)
    assert isinstance(loaded, FitResult) and loaded == pysr.read_hall_of_fame(path)
    assert [eq.complexity for eq in loaded.equations] == [1, 5]

    rc, out, err = run_cli("plot", path, "--data", fit_run[1])      # the data of y = 2 x0 + 1
    assert rc == 0 and err == "", err
    assert_png(tmp_path / "hall_of_fame.png")
    from discover.plot_command import draw

    fig = draw(dataclasses.replace(loaded, data=str(fit_run[1])), tmp_path / "hof.png")
    front, scatter = panels(fig)
    assert front.get_xlabel() == "complexity" and scatter.get_xlabel() == "actual y"


# --------------------------------------------------------------------------- formula


def test_fit_plot_from_the_fit_command(fit_run):
    output, _, out = fit_run
    png = output.with_suffix(".png")
    assert f"plot written to {png}" in out.replace("\n", "")
    assert_png(png)


def test_fit_plot_front_and_predicted_vs_actual(fit_run, tmp_path):
    from discover.plot_command import draw

    result = discover.load_result(fit_run[0])
    warnings: list[str] = []
    fig = draw(result, tmp_path / "fit.png", result_path=fit_run[0], warn=warnings.append)
    assert warnings == []
    assert_png(tmp_path / "fit.png")
    front, scatter = panels(fig)
    assert front.get_xlabel() == "complexity" and front.get_yscale() == "log"
    assert front.get_title() == f"Pareto front ({len(result.equations)} equations)"
    assert scatter.get_xlabel() == "actual y" and scatter.get_ylabel() == "predicted y"
    r2 = float(re.search(r"R² = ([-\d.e]+)", scatter.get_title()).group(1))
    assert r2 > 0.999  # the selected equation of y = 2 x0 + 1 on its own data


def test_fit_front_marks_the_selected_equation_and_zero_losses(tmp_path):
    from discover.formula.plot import plot_fit

    equations = [Equation(1, 4.0, 0.0, "x0"), Equation(3, 0.5, 1.0, "2*x0"), Equation(5, 0.0, 10.0, "2*x0 + 1")]
    result = FitResult("nowhere.h5", "y", ["x0"], {}, equations, 1, "best")
    fig = plot_fit(result, tmp_path / "front.png")
    assert_png(tmp_path / "front.png")
    (front,) = panels(fig)
    # the selected member is circled at its (complexity, loss)
    circles = [c for c in front.collections if c.get_label() == "selected (best)"]
    assert len(circles) == 1 and np.allclose(circles[0].get_offsets(), [[3, 0.5]])
    # the exact fit is drawn a decade below the smallest positive loss
    zero = [c for c in front.collections if c.get_label().startswith("loss 0")]
    assert len(zero) == 1 and np.allclose(zero[0].get_offsets(), [[5, 0.05]])
    assert "y = 2*x0" in [t.get_text() for t in front.texts]


def test_plot_command_without_the_data_and_with_data(fit_run, tmp_path):
    output, data, _ = fit_run
    moved = tmp_path / "moved.json"
    payload = json.loads(output.read_text())
    payload["data"] = "no-such-dir/line.h5"
    moved.write_text(json.dumps(payload))

    rc, out, err = run_cli("plot", moved)
    assert rc == 0
    assert err.strip().splitlines() == [
        "discover plot: predicted vs actual not drawn: the data file no-such-dir/line.h5 was not found"]
    assert_png(tmp_path / "moved.png")
    assert "plot written to" in out

    rc, out, err = run_cli("plot", moved, "--data", data, "-o", tmp_path / "with-data.png")
    assert rc == 0 and err == ""
    assert_png(tmp_path / "with-data.png")

    # data that cannot serve the result, asked for explicitly: an error, not a picture without it
    other = tmp_path / "other.h5"
    with h5py.File(other, "w") as handle:
        handle["u"] = np.zeros((3, 4))
    rc, out, err = run_cli("plot", moved, "--data", other, "-o", tmp_path / "wrong-data.png")
    assert rc == 2 and out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"discover plot: error: --data {other}: predicted vs actual "
                                                  "not drawn")
    assert not (tmp_path / "wrong-data.png").exists()


# --------------------------------------------------------------------------- PDE


def test_pde_plot_from_the_pde_command(pde_run):
    _, _, plot, out = pde_run
    assert "plot written to" in out
    assert_png(plot)


def test_pde_plot_data_beside_the_model(pde_run, tmp_path):
    from discover.pde.plot import find_fields, simulate_model
    from discover.plot_command import draw

    result = discover.load_result(pde_run[0])
    fig = draw(result, tmp_path / "pde.png", result_path=pde_run[0])
    assert_png(tmp_path / "pde.png")
    data_ax, model_ax, diff_ax, coefficients = panels(fig)
    for ax in (data_ax, model_ax, diff_ax):
        assert (ax.get_xlabel(), ax.get_ylabel()) == ("x", "t")
    assert data_ax.get_title() == "data u"
    assert model_ax.get_title().startswith("model u_t = 0.1")
    assert diff_ax.get_title().startswith("model - data (max |·|")
    assert (coefficients.get_xlabel(), coefficients.get_ylabel()) == ("term", "coefficient")
    assert [t.get_text() for t in coefficients.get_xticklabels()] == ["u_xx"]
    assert "blew up" not in fig._suptitle.get_text()

    # the recovered heat equation reproduces the data it came from
    data, why = find_fields(result, pde_run[0])
    values, note = simulate_model(result, data)
    assert why is None and note is None
    assert np.max(np.abs(values["u"] - data.fields["u"])) < 1e-6


def test_pde_plot_says_when_the_model_blows_up(pde_run, tmp_path):
    payload = json.loads(pde_run[0].read_text())
    payload["data"] = str(pde_run[1])
    payload["equations"][0]["rhs"] = "-0.1*u_xx"      # backward heat: grows without bound
    path = tmp_path / "backward.json"
    path.write_text(json.dumps(payload))
    from discover.plot_command import draw

    fig = draw(discover.load_result(path), tmp_path / "backward.png")
    assert_png(tmp_path / "backward.png")
    assert "the model's simulation blew up at t =" in fig._suptitle.get_text()


def test_pde_plot_2d_last_snapshot_and_renamed_axes(tmp_path):
    """2-D data with spatial axes named p, q: the model (u_t = 0.05 (u_pp + u_qq)) is
    simulated on x, y and compared at the last snapshot."""
    from discover.pde.plot import model_rhs, plot_pde
    from discover.pde.data import load_fields
    from discover.pde.result import PDEResult
    from discover.pde.simulate import simulate_rhs

    sim = simulate_rhs({"u": "0.05*u_xx + 0.05*u_yy"}, [(0.0, 2 * math.pi)] * 2, 16, 1.0, 5,
                       "sin(x)*cos(y) + 0.3*sin(2*y)")
    path = tmp_path / "heat2d.h5"
    with h5py.File(path, "w") as handle:
        handle["u"], handle["t"], handle["p"], handle["q"] = sim["u"], sim["t"], sim["x"], sim["y"]
        handle.attrs["periodic"] = True
    equation = {"field": "u", "lhs": "u_t", "rhs": "0.05*u_pp + 0.05*u_qq", "known": None,
                "equation": "u_t = 0.05*u_pp + 0.05*u_qq", "residual": 0.0, "alternatives": [],
                "terms": [{"term": "u_pp", "coefficient": 0.05, "std": 0.001, "inclusion": 1.0},
                          {"term": "u_qq", "coefficient": 0.05, "std": None, "inclusion": None}]}
    result = PDEResult(str(path), "weak", ["u"], ["t", "p", "q"], [equation])
    assert model_rhs(result) == {"u": "0.05*u_xx + 0.05*u_yy"}
    data = load_fields(path, ["u"], ["t", "p", "q"])
    fig = plot_pde(result, tmp_path / "heat2d.png", data)
    assert_png(tmp_path / "heat2d.png")
    data_ax, model_ax, diff_ax, coefficients = panels(fig)
    for ax in (data_ax, model_ax, diff_ax):
        assert (ax.get_xlabel(), ax.get_ylabel()) == ("p", "q")
    assert data_ax.get_title() == "data u at t = 1"
    largest = float(re.search(r"max \|·\| ([-\d.e+]+)", diff_ax.get_title()).group(1))
    assert largest < 1e-9
    assert [t.get_text() for t in coefficients.get_xticklabels()] == ["u_pp", "u_qq"]


# --------------------------------------------------------------------------- approx


def test_approx_plot_from_the_result_file(approx_run, tmp_path):
    from discover.approx.rebuild import baseline_program, run_from_result

    path, run, selected, base = approx_run
    rc, out, err = run_cli("plot", path, "-o", tmp_path / "exp.png")
    assert rc == 0, err
    assert_png(tmp_path / "exp.png")

    from discover.plot_command import draw

    result = discover.load_result(path)
    fig = draw(result, tmp_path / "exp2.png")
    front, curves = panels(fig)
    assert front.get_xlabel() == "operations" and front.get_yscale() == "log"
    assert front.get_ylabel() == "max error (ULP, float32)"
    assert curves.get_xlabel() == "x" and curves.get_ylabel() == "error (ULP, float32)"
    chosen = run.front[selected]
    labels = [line.get_label() for line in curves.get_lines()]
    assert f"search ({chosen.cost} ops)" in labels
    assert f"minimax-4 horner ({chosen.cost} ops)" in labels    # the best baseline of that cost

    # baselines are rebuilt by name, identical to the ones the run measured
    rebuilt = run_from_result(result)
    for b in base:
        assert baseline_program(rebuilt.task, b.name) == b.slp
    assert [r.full for r in rebuilt.front] == [r.full for r in run.front]


# --------------------------------------------------------------------------- CLI errors


@pytest.mark.parametrize("args, expected", [
    (["missing.json"], "result file not found"),
    (["."], ". is a directory, not a result file"),
    (["bad.json"], "is not a discover result file"),
    (["good.json", "-o", "picture.jpg"], "give a name ending in .png"),
    (["good.json", "-o", "no-dir/picture.png"], "the directory no-dir does not exist"),
    (["good.json", "--data", "missing.h5"], "--data missing.h5: file not found"),
])
def test_plot_command_errors(tmp_path, monkeypatch, args, expected):
    monkeypatch.chdir(tmp_path)
    Path("bad.json").write_text('{"schema": "nope"}')
    FitResult(None, "y", ["x0"], {}, [Equation(1, 1.0, 0.0, "x0")], 0, "best").save("good.json")
    rc, out, err = run_cli("plot", *args)
    assert rc == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("discover plot: error: ") and expected in lines[0]
    assert not Path("picture.png").exists() and not Path("good.png").exists()


@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="needs Linux /proc (a directory no file can be made in)")
def test_plot_command_unwritable_output_is_one_line(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    FitResult(None, "y", ["x0"], {}, [Equation(1, 1.0, 0.0, "x0")], 0, "best").save("good.json")
    rc, _, err = run_cli("plot", "good.json", "-o", "/proc/picture.png")
    assert rc == 2 and "Traceback" not in err
    assert err.strip().splitlines()[-1] == "discover plot: error: cannot write /proc/picture.png: No such file or directory"


def test_fit_plot_option_is_checked_before_the_search(tmp_path):
    data = tmp_path / "d.h5"
    with h5py.File(data, "w") as handle:
        handle["x0"] = np.arange(10.0)
        handle["y"] = np.arange(10.0)
    rc, _, err = run_cli("fit", data, "--output", tmp_path / "r.json", "--plot", tmp_path / "r.svg", "--quiet")
    assert rc == 2 and "--plot" in err and ".png" in err
    assert not (tmp_path / "r.json").exists()


def test_pde_plot_of_data_that_is_not_periodic_simulates_nothing(pde_run, tmp_path):
    """The solver is periodic: a model of bounded data (fixed ends) was simulated as if the
    ends wrapped around, and the title claimed the simulation."""
    from discover.pde.data import fields_from_arrays
    from discover.pde.plot import find_fields, simulate_model
    from discover.plot_command import draw

    result = discover.load_result(pde_run[0])
    data, _ = find_fields(result, pde_run[0])
    bounded = fields_from_arrays({**data.fields, **data.coords}, periodic=False)
    values, note = simulate_model(result, bounded)
    assert values is None and "the data are not periodic" in note
    fig = draw(result, tmp_path / "p.png", data=bounded)
    assert_png(tmp_path / "p.png")
    title = fig._suptitle.get_text()
    assert "simulated from the first snapshot" not in title and "the data are not periodic" in title
