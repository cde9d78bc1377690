"""``discover pde``: the PDE behind field data, or the hidden term of a partly known one.

    discover pde data.h5 [--fields u,v] [--coords t,x] [--known "0.01*u_xx"]
                         [--method weak|strong|evolve|solver] [--max-order 4] [--output result.json]

Prints the equation per field, a table of its terms (coefficient, spread: Cramér–Rao after
a trajectory refit, bootstrap otherwise; inclusion frequency) and the runner-up models, and writes a JSON result
(:mod:`discover.pde.result`) atomically.
"""

from __future__ import annotations

import argparse
from dataclasses import asdict
from typing import TYPE_CHECKING

from .cluster_options import add_cluster_arguments, cluster_from_args, using_cluster
from .errors import DataError, UserError, check_seconds, check_seed
from .plot_command import add_plot_option, draw, plot_option
from .result import result_path
from .pde.defaults import (DEFAULT_DERIVATIVE_DEGREE, DEFAULT_MAX_DEGREE, DEFAULT_MAX_QUERIES, DERIVATIVE_METHODS,
                           METHODS)

if TYPE_CHECKING:
    from rich.table import Table

    from .pde.fit import PDESettings

# The PDE job's modules (SciPy, SymPy, JAX) and rich are imported where a run needs them:
# `discover pde --help` and a usage error answer without loading them.

ALL_METHODS = METHODS + ("evolve", "solver")


def add_parser(subparsers) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "pde",
        help="find the PDE u_t = f(u, u_x, ...) behind field data, or the hidden term of a known one",
        description="PDE discovery from field data u(t, x[, y]) in HDF5 or NPZ (one dataset per field, "
                    "one per coordinate; `discover simulate` writes such files).  Methods: weak "
                    "(default; weak-form sparse regression, robust to noise), strong (pointwise "
                    "derivatives), evolve (free-form search scored by weak-form residuals), solver "
                    "(integrates candidate PDEs between sparse snapshots: finds a function h(u) of the fields "
                    "beside a --known part that holds the derivative terms).",
    )
    parser.add_argument("data", help="HDF5 (.h5) or NPZ file with the fields and coordinates")
    parser.add_argument("--fields", default=None, metavar="LIST", help="comma-separated field datasets (default: every 2-D/3-D dataset in the file)")
    parser.add_argument("--coords", default=None, metavar="LIST",
                        help="comma-separated coordinate datasets, time first (default t,x or t,x,y)")
    parser.add_argument("--known", action="append", default=[], metavar="EXPR",
                        help="known part of the right-hand side, e.g. \"0.01*u_xx\"; with several fields "
                             "\"v=0.1*v_xx\" (repeat per field).  The tool finds only the rest (hidden term)")
    parser.add_argument("--method", choices=ALL_METHODS, default="weak", help="discovery method (default weak)")
    parser.add_argument("--max-order", type=int, default=None, metavar="N",
                        help="highest spatial derivative in the library (default 4 in 1-D, 2 in 2-D)")
    parser.add_argument("--max-degree", type=int, default=DEFAULT_MAX_DEGREE, metavar="N",
                        help=f"highest polynomial degree of the fields (default {DEFAULT_MAX_DEGREE})")
    parser.add_argument("--derivative-degree", type=int, default=DEFAULT_DERIVATIVE_DEGREE, metavar="N",
                        help="highest degree differentiated, as in (u^2)_x "
                             f"(default {DEFAULT_DERIVATIVE_DEGREE})")
    parser.add_argument("--terms", default="", metavar="LIST",
                        help="extra library terms, ';'-separated SymPy expressions of the fields and their "
                             "derivatives, e.g. \"sin(u); u*u_xx; Derivative(u*v, x)\"")
    parser.add_argument("--derivative", choices=DERIVATIVE_METHODS, default=None,
                        help="derivative estimator of the strong form (default savgol; spectral on clean periodic data)")
    periodic = parser.add_mutually_exclusive_group()
    periodic.add_argument("--periodic", dest="periodic", action="store_true", default=None,
                          help="the spatial axes wrap around (default: the file's 'periodic' attribute)")
    periodic.add_argument("--no-periodic", dest="periodic", action="store_false")
    parser.add_argument("--max-queries", type=int, default=DEFAULT_MAX_QUERIES, metavar="N",
                        help=f"most test functions in the weak form (default {DEFAULT_MAX_QUERIES})")
    parser.add_argument("--no-trajectory-refit", dest="trajectory", action="store_false",
                        help="keep the coefficients of the regression (weak) or the search (evolve, solver); by default, on noisy periodic data, the chosen "
                             "terms' coefficients are refitted by simulating the PDE through every snapshot: "
                             "maximum likelihood, with Cramér-Rao spreads; solver: the found formula and the sums of "
                             "u, u^2, u^3 fitted so, the lowest BIC kept)")
    parser.add_argument("--time-limit", type=float, default=30.0, metavar="S",
                        help="time for --method evolve (60%% for the search, then the float64 refit of its "
                             "front and the trajectory refit, which stop at the limit after the step in "
                             "progress) or solver (half for the search, then the fits through every snapshot, "
                             "which stop at the limit after the one in progress) (default 30)")
    parser.add_argument("--seed", type=int, default=0, metavar="N", help="random seed (default 0)")
    parser.add_argument("--output", "-o", metavar="PATH",
                        help="result JSON file (default: <data file stem>.pde.json in the current directory)")
    add_plot_option(parser)
    add_cluster_arguments(parser, "the islands of --method evolve/solver")
    parser.add_argument("--quiet", "-q", action="store_true", help="no progress display")
    parser.set_defaults(run=run)
    return parser


def _names(text: str | None) -> list[str] | None:
    if text is None:
        return None
    names = [n.strip() for n in text.split(",") if n.strip()]
    if not names:
        raise UserError(f"empty list {text!r}; give comma-separated names")
    return names


def runners_up(equation: dict, fields, axes, count: int = 3) -> list[dict]:
    """The first ``count`` alternatives whose terms differ from the chosen equation's (the
    regression lists the chosen one first, the evolutionary methods by complexity)."""
    from .pde.library import coefficients_by_monomial, parse_expression

    def terms(rhs: str) -> frozenset:
        try:
            return frozenset(coefficients_by_monomial(parse_expression(rhs, fields, axes)))
        except ValueError:
            return frozenset({rhs})

    chosen = terms(equation["rhs"])
    return [alt for alt in equation["alternatives"] if terms(alt["rhs"]) != chosen][:count]


def parse_known_options(items: list[str], fields: list[str]) -> dict[str, str]:
    """``["0.01*u_xx"]`` -> ``{first field: ...}``; ``["v=0.1*v_xx"]`` or ``["v_t=..."]`` -> ``{"v": ...}``."""
    known = {}
    for item in items:
        name, sep, expr = item.partition("=")
        if sep and name.strip().removesuffix("_t") in fields:
            field, text = name.strip().removesuffix("_t"), expr
        elif sep:
            raise UserError(f"--known {item!r}: {name.strip()!r} is not a field ({', '.join(fields)})")
        elif len(fields) == 1:
            field, text = fields[0], item
        else:
            raise UserError(f"--known {item!r}: with several fields write FIELD=EXPR, e.g. \"{fields[0]}={item}\"")
        if not text.strip():
            raise UserError(f"--known {item!r} is empty")
        if field in known:
            raise UserError(f"--known given twice for field {field!r}")
        known[field] = text.strip()
    return known


def settings_from_args(args, fields: list[str]) -> PDESettings:
    for flag, value, lowest in (("--max-queries", args.max_queries, 16), ("--max-degree", args.max_degree, 1),
                                ("--derivative-degree", args.derivative_degree, 1)):
        if value < lowest:
            raise UserError(f"{flag} must be at least {lowest}, not {value}")
    check_seconds(args.time_limit, "--time-limit")
    check_seed(args.seed)
    from .pde.fit import PDESettings

    return PDESettings(
        method=args.method if args.method in METHODS else "weak", derivative=args.derivative,
        max_order=args.max_order, max_degree=args.max_degree, derivative_degree=args.derivative_degree,
        extra_terms=[t for t in args.terms.split(";") if t.strip()], known=parse_known_options(args.known, fields),
        max_queries=args.max_queries, seed=args.seed, trajectory=args.trajectory)


def equation_table(equation: dict) -> Table:
    from rich.markup import escape
    from rich.table import Table

    table = Table(title=escape(equation["equation"]), title_justify="left")   # "[u]" is no style
    table.add_column("term")
    table.add_column("coefficient", justify="right")
    table.add_column("± std", justify="right")
    table.add_column("kept in", justify="right")
    for term in equation["terms"]:
        std, kept = term["std"], term["inclusion"]
        table.add_row(term["term"], f"{term['coefficient']:.7g}", "-" if std is None else f"{std:.2g}",
                      "-" if kept is None else f"{kept:.0%}")
    return table


def run(args) -> int:
    output = result_path(args.output, args.data, ".pde.json")
    plot = plot_option(args.plot, output)
    cluster = cluster_from_args(args)
    if cluster is not None and args.method in METHODS:
        raise UserError(f"--workers/--scheduler run the evolutionary methods (evolve, solver); "
                        f"--method {args.method} is a sparse regression that runs here")
    from .pde.data import load_fields

    data = load_fields(args.data, _names(args.fields), _names(args.coords), args.periodic)
    settings = settings_from_args(args, data.field_names)
    from rich.console import Console

    from .pde import fit as pde_fit
    from .pde.result import PDEResult

    console = Console(stderr=True, quiet=args.quiet)
    with console.status(f"discovering the PDE in {args.data} ({args.method})") as status:
        def progress(message: str) -> None:
            status.update(f"{args.method}: {message}")

        try:
            if args.method in METHODS:
                fit = pde_fit.fit_pde(data, settings, progress)
                extra = {}
            else:
                from .pde import free_form

                with using_cluster(cluster) as client:
                    fit, extra = free_form.run_method(args.method, data, settings, args.time_limit, progress,
                                                      client)
        except DataError as exc:  # what this data does not allow, named as the loading errors are
            raise DataError(f"{args.data}: {exc}") from None
    extra = {**extra, **fit.refit_report()}
    equations = [{**asdict(eq), "lhs": eq.lhs, "equation": eq.equation()} for eq in fit.equations]
    result = PDEResult(data=str(args.data), method=args.method, fields=data.field_names, coords=data.axis_names,
                       equations=equations, library=fit.library, rows=fit.rows,
                       # evolve and solver run on weak-form settings: record the method used
                       settings={**asdict(settings), "method": args.method}, stats={"seconds": fit.seconds},
                       extra=extra)
    result.save(output)
    out = Console(soft_wrap=True)   # piped: whole lines, not wrapped at 80 columns
    for equation in equations:
        out.print(equation_table(equation))
        out.print(f"relative residual {equation['residual']:.3g}")
        if args.method in METHODS and equation["rhs"] == "0" and not equation["alternatives"]:
            whole = ", or the known part is the whole equation" if equation.get("known") else ""
            out.print(f"{equation['lhs']} is zero to rounding on this data (the fields do not change in time{whole}): "
                      "nothing to find", markup=False)
        for alt in runners_up(equation, data.field_names, data.space_names):
            rhs = f"{equation['known']} + [{alt['rhs']}]" if equation.get("known") else alt["rhs"]
            out.print(f"  alternative (loss {alt['loss']:.3g}): {equation['lhs']} = {rhs}", markup=False)
    if fit.refinement:
        out.print(f"coefficients: {fit.refinement}" if fit.refined
                  else f"coefficients kept; trajectory refit not applied: {fit.refinement}")
    for field, report in extra.items():
        snapshot_fit = report.get("snapshot_fit") or {}
        for rank in snapshot_fit.get("models", [])[:4]:
            out.print(f"  {field}_t fitted through every snapshot, BIC {rank['bic']:.1f}: {rank['rhs']}")
        if "skipped" in snapshot_fit:
            out.print(f"{field}_t: the search's formula stands; fit through every snapshot skipped: "
                      f"{snapshot_fit['skipped']}")
        if "stopped" in snapshot_fit:
            out.print(f"{field}_t: {snapshot_fit['stopped']} through every snapshot; a longer --time-limit "
                      "tries them all")
        if args.method == "solver" and field not in settings.known:
            out.print(f"{field}_t: --method solver searches a function of the fields only (no derivative "
                      "terms); give the known part with its derivatives (--known), or use --method weak or evolve")
        stable = report.get("stable_past_data")
        if stable:
            verdict = "stays bounded" if stable["stable"] else "does NOT stay bounded"
            out.print(f"{field}: simulated {stable['simulated_time']:g} time units past the data, the model "
                      f"{verdict} (max |{field}| {stable['max_abs']:.3g}, data {stable['max_abs_data']:.3g})")
    out.print(f"{fit.rows}; {fit.seconds:.1f} s; result written to {output}")
    if plot is not None:
        draw(result, plot, data=data)
        out.print(f"plot written to {plot}")
    return 0
