"""``discover fit``: search for formulas in a data file.

    discover fit data.h5 [--target NAME] [--time-limit S] [--operators +,-,*,/,sin]
                         [--maxsize N] [--seed N] [--output result.json]

While it runs, a live panel shows elapsed time, iterations, evaluations per second, the
best loss and the current best formula; the front so far is checkpointed to the output
file every ``--checkpoint`` seconds (atomically: write a temporary file, then rename).
At the end the Pareto front is printed as a table with the selected formula marked, and
the result file (schema: :mod:`discover.result`) is written.  Ctrl-C stops the search
early and still prints and saves the front.  ``--pysr-csv PATH`` also writes the front
as PySR's ``hall_of_fame.csv`` (:mod:`discover.pysr`), at every checkpoint and at the end.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from search.operator_names import (BUILTIN_ARITIES, DEFAULT_BINARY, DEFAULT_UNARY, UnknownOperatorError,
                                   split_binary_unary)

from .cluster_options import add_cluster_arguments, cluster_from_args, describe_cluster
from .errors import UserError, check_seconds, check_seed
from .fit_limits import DEFAULT_BATCH_SIZE, MAXSIZE_LIMIT
from .plot_command import add_plot_option, draw, plot_option
from .result import result_path

if TYPE_CHECKING:
    from rich.table import Table

# The engine (JAX), NumPy and rich are imported where a run needs them: `discover fit --help`
# and a usage error answer without loading them.


def add_parser(subparsers) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "fit",
        help="find closed-form formulas y = f(x...) in a data file (HDF5, CSV, NPZ)",
        description="Evolutionary symbolic regression: prints the Pareto front of formulas "
                    "(accuracy vs complexity) and writes it to a JSON result file.",
    )
    parser.add_argument("data", help="HDF5 (.h5), CSV or NPZ file with the inputs and the target")
    parser.add_argument("--target", metavar="NAME", help="name of the target column (default: y, or the file's target)")
    parser.add_argument("--time-limit", type=float, default=60.0, metavar="S",
                        help="stop after S seconds (default 60)")
    parser.add_argument("--niterations", type=int, default=10_000, metavar="N",
                        help="stop after N iterations (default: only the time limit)")
    parser.add_argument("--operators", metavar="LIST",
                        help="comma-separated operators to use (default: "
                             f"{','.join(DEFAULT_BINARY + DEFAULT_UNARY)}); "
                             f"available: {','.join(name for name, arity in BUILTIN_ARITIES.items() if arity <= 2)}")
    parser.add_argument("--maxsize", type=int, default=20, metavar="N",
                        help="largest complexity searched (default 20); a final formula carries its fitted "
                             "scale and offset, a*f + b, so it may be up to 4 more")
    parser.add_argument("--populations", type=int, metavar="N",
                        help="number of islands in all (default: 8, and 8 on every worker with --workers or "
                             "--scheduler)")
    parser.add_argument("--population-size", type=int, default=64, metavar="N", help="members per island (default 64)")
    parser.add_argument("--batch-size", type=int, default=DEFAULT_BATCH_SIZE, metavar="N",
                        help=f"rows each candidate is scored on while searching, a fixed random subset (default "
                             f"{DEFAULT_BATCH_SIZE}; the final front is refit on all rows; more rows: slower, "
                             "finer scores, and more gained from --workers)")
    parser.add_argument("--model-selection", choices=["best", "accuracy", "score"], default="best",
                        help="how the formula is chosen from the front (default best)")
    parser.add_argument("--seed", type=int, default=0, metavar="N", help="random seed (default 0)")
    parser.add_argument("--output", "-o", metavar="PATH",
                        help="result JSON file (default: <data file stem>.result.json in the current directory)")
    parser.add_argument("--checkpoint", type=float, default=10.0, metavar="S",
                        help="save the front so far every S seconds (default 10; 0 disables)")
    parser.add_argument("--pysr-csv", metavar="PATH",
                        help="also write the front as PySR's hall_of_fame.csv (Complexity,Loss,Equation) "
                             "to PATH, at every checkpoint and at the end")
    add_cluster_arguments(parser, "the islands")
    add_plot_option(parser)
    parser.add_argument("--units", metavar="LIST",
                        help='physical units of the columns, e.g. "m=kg, v=m/s, y=J" (overrides the HDF5 '
                             "attributes 'units'); dimensionally inconsistent formulas are penalized")
    parser.add_argument("--dimensionless-constants", action="store_true",
                        help="with units: constants are pure numbers (default: they may carry any unit)")
    parser.add_argument("--quiet", "-q", action="store_true", help="no live progress display")
    parser.set_defaults(run=run)
    return parser


def _regressor_parameters(args) -> dict:
    """The Regressor's parameters the options give, each checked (a UserError), without
    loading the engine (``--operators`` on the built-in operators' names and arities)."""
    binary, unary = DEFAULT_BINARY, DEFAULT_UNARY
    if args.operators is not None:
        names = [n for n in args.operators.split(",") if n.strip()]
        if not names:
            raise UserError(f"--operators {args.operators!r} names no operator; give a comma-separated list, "
                            f"e.g. {','.join(DEFAULT_BINARY + DEFAULT_UNARY)}")
        try:
            binary, unary = split_binary_unary(names)
        except UnknownOperatorError as exc:
            raise UserError(str(exc)) from None
        if not binary:
            raise UserError("--operators needs at least one binary operator (+, -, *, /, pow)")
    for flag, value, lowest in (("--maxsize", args.maxsize, 3), ("--populations", args.populations, 1),
                                ("--population-size", args.population_size, 8), ("--niterations", args.niterations, 1),
                                ("--batch-size", args.batch_size, 1)):
        if value is not None and value < lowest:
            raise UserError(f"{flag} must be at least {lowest}, not {value}")
    if args.maxsize > MAXSIZE_LIMIT:
        raise UserError(f"--maxsize must be at most {MAXSIZE_LIMIT}, not {args.maxsize}")
    check_seconds(args.time_limit, "--time-limit")
    check_seed(args.seed)
    if not args.checkpoint >= 0:  # NaN too
        raise UserError(f"--checkpoint must be a number of seconds >= 0 (0 disables it), not {args.checkpoint}")
    return dict(
        cluster=cluster_from_args(args), binary_operators=binary, unary_operators=unary, maxsize=args.maxsize,
        niterations=args.niterations,
        populations=args.populations, population_size=args.population_size, batch_size=args.batch_size,
        model_selection=args.model_selection, timeout_in_seconds=args.time_limit, random_state=args.seed,
    )


def _check_inputs_vary(dataset) -> None:
    """A UserError when every input column holds one value: any formula of them is a constant."""
    import numpy as np

    X = np.asarray(dataset.X)
    if len(X) > 1 and np.all(X == X[:1]):  # one row: the Regressor says so
        values = ", ".join(f"{name} = {X[0, j]:g}" for j, name in enumerate(dataset.feature_names[:4]))
        more = ", ..." if X.shape[1] > 4 else ""
        raise UserError(f"every input column is constant ({values}{more}): a formula of them can only be a "
                        "constant; give inputs that vary")


def _apply_units(model, dataset, text: str | None, dimensionless_constants: bool) -> None:
    """Set ``model``'s units: the data file's (HDF5 attributes), overridden by ``--units``
    (names as in the file or as sanitized); checked here, before the search starts."""
    from .data import column_name
    from .units import fit_dimensions, parse_unit_list

    units = dict(dataset.units)
    columns = list(dataset.feature_names) + [dataset.target_name]
    for name, unit in (parse_unit_list(text) if text is not None else {}).items():
        key = column_name(name, columns)
        if key not in columns:
            raise UserError(f"--units names {name!r}, which is not a column; columns: {', '.join(columns)}")
        units[key] = unit
    if not units:
        if dimensionless_constants:
            raise UserError("--dimensionless-constants needs units: give them with --units")
        return
    target_unit = units.pop(dataset.target_name, None)
    if not units:
        raise UserError(f"units are given for the target {dataset.target_name!r} only; give every input's unit too "
                        "('1' for dimensionless)")
    model.X_units, model.y_units = units, target_unit
    model.dimensionless_constants_only = dimensionless_constants
    fit_dimensions(model.X_units, model.y_units, dataset.feature_names)


def front_table(model, title: str = "Pareto front") -> Table:
    """The front as a rich table, the selected row marked."""
    from rich.table import Table

    table = Table(title=title, title_justify="left")
    table.add_column("", width=2)
    table.add_column("complexity", justify="right")
    # with units, a dimensionally inconsistent formula's loss carries the penalty
    table.add_column("loss (MSE + unit penalty)" if getattr(model, "X_units", None) is not None else "loss (MSE)",
                     justify="right")
    table.add_column("score", justify="right")
    table.add_column("equation", overflow="fold")
    for i in range(len(model.equations_)):
        row = model.get_best(i)
        selected = i == model.best_index_
        table.add_row("▶" if selected else "", str(row.complexity), f"{row.loss:.4g}", f"{row.score:.3g}",
                      row.equation, style="bold green" if selected else None)
    return table


def _pysr_csv_path(value: str | None) -> Path | None:
    """``--pysr-csv``, checked before the search runs (``None``: not asked for)."""
    if value is None:
        return None
    path = Path(value)
    if path.is_dir():
        raise UserError(f"--pysr-csv {path} is a directory; give a file name such as {path / 'hall_of_fame.csv'}")
    if not path.parent.exists():
        raise UserError(f"--pysr-csv {path}: the directory {path.parent} does not exist")
    return path


def _save(result, output: Path, pysr_csv: Path | None) -> None:
    """The result JSON and, if asked for, the front as PySR's CSV (both atomically)."""
    result.save(output)
    if pysr_csv is not None:
        from .pysr import write_hall_of_fame

        write_hall_of_fame(result, pysr_csv)


def run(args) -> int:
    parameters = _regressor_parameters(args)
    output = result_path(args.output, args.data, ".result.json")
    plot = plot_option(args.plot, output)
    pysr_csv = _pysr_csv_path(args.pysr_csv)
    from .data import load_dataset

    dataset = load_dataset(args.data, target=args.target)
    _check_inputs_vary(dataset)

    # the engine loads here, once the options and the data are known to be usable
    from rich.console import Console
    from rich.live import Live
    from rich.table import Table

    from search.evaluate import one_thread_pool_for_search

    from .regressor import DEFAULT_ISLANDS, Regressor

    model = Regressor(**parameters)
    if model.cluster is None:  # this process runs the search (the workers get theirs from connect())
        one_thread_pool_for_search()
    _apply_units(model, dataset, args.units, args.dimensionless_constants)
    console = Console(stderr=True)
    names = dataset.feature_names

    from search.expression import to_string

    def panel(p) -> Table:
        grid = Table.grid(padding=(0, 2))
        grid.add_column(style="bold")
        grid.add_column()
        rate = f"{p.evaluations_per_second:,.0f}/s" if p.elapsed else "-"
        grid.add_row("data", f"{args.data}  ({dataset.n_rows} rows, {dataset.n_features} inputs -> {dataset.target_name})")
        if model.cluster is not None:
            islands = (f"{DEFAULT_ISLANDS} islands on each" if model.populations is None
                       else f"{model.populations} islands in all")
            grid.add_row("workers", f"{describe_cluster(model.cluster)}, {islands}")
        grid.add_row("elapsed", f"{p.elapsed:.1f} s of {args.time_limit:g} s")
        grid.add_row("iterations", f"{p.iteration}  ({p.evaluations:,} evaluations, {rate})")
        grid.add_row("best loss", f"{p.best_loss:.4g} (search subset, before polishing)")
        grid.add_row("best formula", to_string(p.best, names) if p.best is not None else "-")
        return grid

    live = None

    def save_checkpoint(fitted) -> None:
        _save(fitted.to_result(data=str(args.data), target=dataset.target_name), output, pysr_csv)

    def callback(progress) -> None:
        if live is not None:
            live.update(panel(progress))

    from .regressor import check_range

    check_range(dataset)   # before the banner: a column beyond the search's arithmetic is one line
    if not args.quiet:
        live = Live(console=console, refresh_per_second=4, transient=True)
        live.start()
        console.print(f"searching {args.data} for up to {args.time_limit:g} s (Ctrl-C stops and keeps the front)")
    try:
        model.fit(dataset.X, dataset.y, variable_names=names, callback=callback,
                  checkpoint=save_checkpoint if args.checkpoint > 0 else None,
                  checkpoint_interval=args.checkpoint)
    finally:
        if live is not None:
            live.stop()
    result = model.to_result(data=str(args.data), target=dataset.target_name)
    _save(result, output, pysr_csv)
    out = Console(soft_wrap=True)   # piped: whole lines, not wrapped at 80 columns
    out.print(front_table(model))
    stats = model.stats_
    out.print(f"selected ({args.model_selection}): {dataset.target_name} = {model.get_best().equation}")
    if model.stats_.get("dimensionally_consistent") is False:
        out.print("[bold yellow]warning:[/bold yellow] no dimensionally consistent formula was found; the selected "
                  "one violates the units (its loss includes the dimensional penalty)")
    out.print(f"{stats['iterations']} iterations, {stats['evaluations']:,} evaluations in {stats['seconds']:.1f} s "
              f"(stopped by {stats['stopped_by']}); result written to {output}")
    if pysr_csv is not None:
        out.print(f"PySR hall of fame written to {pysr_csv}")
    if plot is not None:
        draw(result, plot, data=(dataset.X, dataset.y))
        out.print(f"plot written to {plot}")
    return 0
