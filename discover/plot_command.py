"""``discover plot``: the picture of any result file (PNG, no display needed).

    discover plot result.json [-o front.png] [--data PATH]

By the result's job (:func:`discover.results.load_result`):

* fit (and a PySR ``hall_of_fame.csv``): the Pareto front with the selected equation
  marked, and predicted vs actual on the data file the result names
  (:mod:`discover.formula.plot`);
* pde: the data beside the recovered model's simulation and their difference, and the
  coefficients with their uncertainty (:mod:`discover.pde.plot`);
* approx: the front beside the baselines and the error in ULPs over the domain
  (:mod:`discover.approx.plot`).

Where the data file is not found (the result stores the path as given to the job), the
picture is drawn without it and one line on stderr says why; ``--data`` names it (data
given so that cannot be used is an error: one line, no picture).
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
from pathlib import Path
from typing import Callable

from .errors import UserError
from .figures import check_png_path


def add_parser(subparsers) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "plot",
        help="draw a result file as a PNG: Pareto front, predicted vs actual, PDE simulation, ULP error",
        description="Draw the result of discover fit / pde / approx (or a PySR hall_of_fame.csv) as a PNG: "
                    "fit: the Pareto front with the selected equation marked and predicted vs actual; "
                    "pde: the data beside the recovered model's simulation, and the coefficients; "
                    "approx: the error in ULPs over the domain beside the baselines.",
    )
    parser.add_argument("result", help="result file (JSON of discover fit, pde or approx; or hall_of_fame.csv)")
    parser.add_argument("--output", "-o", metavar="PNG",
                        help="the picture (default: <result stem>.png beside the result file)")
    parser.add_argument("--data", metavar="PATH",
                        help="the data file, when it is no longer where the result says (fit and pde results)")
    parser.set_defaults(run=run)
    return parser


def _stderr(line: str) -> None:
    print(line, file=sys.stderr)


def draw(result, output: str | os.PathLike, *, result_path: str | os.PathLike | None = None,
         data=None, warn: Callable[[str], None] = _stderr):
    """Write the picture of ``result`` (any job's result object) to ``output``; returns
    the Figure.

    ``data``: the job's data already in memory (fit: ``(X, y)`` with columns in
    ``result.variables`` order; pde: the :class:`~discover.pde.data.FieldData`); without
    it the file the result names is read (as given, else beside ``result_path``), and
    ``warn`` gets one line when it cannot be.
    """
    from .result import FitResult
    from .pde.result import PDEResult
    from .approx.result import ApproxResult

    if isinstance(result, FitResult):
        from .formula.plot import find_data, plot_fit

        if data is None:
            data, why = find_data(result, result_path)
            if data is None:
                warn(f"predicted vs actual not drawn: {why}")
        return plot_fit(result, output, data)
    if isinstance(result, PDEResult):
        from .pde.plot import find_fields, plot_pde

        if data is None:
            data, why = find_fields(result, result_path)
            if data is None:
                warn(f"data and model simulation not drawn: {why}")
        return plot_pde(result, output, data)
    if isinstance(result, ApproxResult):
        from .approx.rebuild import plot_result

        return plot_result(result, output)
    raise UserError(f"cannot plot a {type(result).__name__}")


def add_plot_option(parser: argparse.ArgumentParser) -> None:
    """``--plot [PNG]`` of the job commands (fit, pde)."""
    parser.add_argument("--plot", nargs="?", const="", default=None, metavar="PNG", type=_png_value,
                        help="also draw the result as a PNG (default: <output stem>.png beside the result; "
                             "see `discover plot`)")


#: suffixes of data files, which an optional ``--plot`` value before the data would take
_DATA_SUFFIXES = (".h5", ".hdf5", ".hdf", ".csv", ".npz", ".json")


def _png_value(text: str) -> str:
    """``--plot``'s optional value; a data file's name there is the data, taken by mistake."""
    if text.lower().endswith(_DATA_SUFFIXES):
        raise argparse.ArgumentTypeError(f"'{text}' looks like the data file, not a PNG: put --plot after the "
                                         "data file, or give it a .png name")
    return text


def plot_option(value: str | None, output: str | os.PathLike) -> Path | None:
    """The PNG path ``--plot`` asks for (``None``: no plot), checked before the job runs."""
    if value is None:
        return None
    path = check_png_path(value if value else default_output(output), "--plot")
    if path.resolve() == Path(output).resolve():
        raise UserError(f"--plot {path} is also the result file; give the result (--output) a .json name")
    return path


def default_output(path: str | os.PathLike) -> Path:
    """``<stem>.png`` beside ``path`` (``fit.result.json`` -> ``fit.result.png``)."""
    return Path(path).with_suffix(".png")


def run(args) -> int:
    from .results import load_result

    result = load_result(args.result)     # first: it says what is wrong with a directory or a missing file
    output = check_png_path(args.output if args.output else default_output(args.result), "--output")
    if args.data is not None:
        if not hasattr(result, "data"):
            raise UserError("--data applies to fit and pde results only")
        if not Path(args.data).is_file():
            raise UserError(f"--data {args.data}: file not found")
        result = dataclasses.replace(result, data=str(args.data))

    def warn(line: str) -> None:
        if args.data is not None:  # the data asked for cannot be used: an error, not a picture without it
            raise UserError(f"--data {args.data}: {line}")
        _stderr(f"discover plot: {line}")

    draw(result, output, result_path=args.result, warn=warn)
    print(f"plot written to {output}")
    return 0
