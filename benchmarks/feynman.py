"""Feynman benchmark (SRBench ground-truth protocol) for the formula search.

    python benchmarks/feynman.py --budget 60 [--noise 0 0.001 0.01] [--only I.12.1 ...] [--limit N]
                                 [--units [--dimensionless-constants]]

For each equation of ``../shared/benchmarks/feynman_public.csv``: sample every variable
uniformly in its range (10,000 rows), split 75/25, add Gaussian noise of std
``level * RMS(y)`` to the training target only, run ``discover.Regressor`` for ``--budget``
seconds (with ``--units``, given every variable's physical units from
``feynman_units.csv``, so that dimensionally inconsistent formulas are penalized), and
judge the selected formula:

* symbolic solution: after rounding constants within 1e-6 relative of a simple rational,
  ``simplify(model - truth)`` or ``simplify(model / truth)`` is a constant (variables
  sampled from a positive range are positive symbols);
* accuracy solution: R^2 > 0.999 on the noise-free test set.

Prints one row per equation and noise level, then a summary line per noise level:
solved / total, accuracy-solution rate, median wall seconds.  ``--json PATH`` also
writes every row.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import multiprocessing
import os
import signal
import statistics
import sys
import threading
import time
from pathlib import Path

import numpy as np
import sympy

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = ROOT.parent / "shared" / "benchmarks" / "feynman_public.csv"
DEFAULT_UNITS = ROOT / "benchmarks" / "feynman_units.csv"
OPERATORS = dict(
    binary_operators=("+", "-", "*", "/"),
    unary_operators=("neg", "square", "cube", "sqrt", "exp", "log", "sin", "cos", "tanh", "asin"),
)


def read_equations(path: Path) -> list[dict]:
    with open(path, encoding="utf-8") as handle:
        rows = [line for line in handle if not line.startswith("#")]
    out = []
    for row in csv.DictReader(rows):
        variables = []
        for spec in row["variables"].split():
            name, low, high = spec.split(":")
            variables.append((name, float(low), float(high)))
        out.append({"name": row["name"], "output": row["output"], "formula": row["formula"], "variables": variables})
    return out


def read_units(path: Path) -> dict[str, dict[str, str]]:
    """Equation name -> {variable or output: unit string} from ``feynman_units.csv``."""
    from discover.units import parse_unit_list

    with open(path, encoding="utf-8") as handle:
        rows = [line for line in handle if not line.startswith("#")]
    return {row["name"]: parse_unit_list(row["units"]) for row in csv.DictReader(rows)}


def unit_settings(eq: dict) -> dict:
    """The Regressor's unit parameters for ``eq`` (empty without ``eq["units"]``)."""
    units = eq.get("units")
    if not units:
        return {}
    return dict(X_units=[units[v[0]] for v in eq["variables"]], y_units=units[eq["output"]],
                dimensionless_constants_only=bool(eq.get("dimensionless_constants")))


def make_data(eq: dict, n_rows: int, seed: int):
    """Rows sampled uniformly in each variable's range; ``y`` from the true formula."""
    rng = np.random.default_rng(seed)
    names = [v[0] for v in eq["variables"]]
    X = np.column_stack([rng.uniform(lo, hi, n_rows) for _, lo, hi in eq["variables"]])
    # a variable sampled from a positive (non-negative) range is a positive (non-negative)
    # symbol, so that simplify() may use sqrt(r**2) = r and log(exp(r)) = r as the data do
    symbols = {n: sympy.Symbol(n, positive=True) if lo > 0 else sympy.Symbol(n, nonnegative=True) if lo == 0
               else sympy.Symbol(n) for n, lo, _ in eq["variables"]}
    truth = sympy.sympify(eq["formula"], locals=symbols)
    fn = sympy.lambdify([symbols[n] for n in names], truth, modules="numpy")
    y = np.asarray(fn(*X.T), dtype=np.float64) * np.ones(n_rows)
    return X, y, truth, symbols


def _round_floats(expr: sympy.Expr, rel: float = 1e-6) -> sympy.Expr:
    replacements = {}
    for f in expr.atoms(sympy.Float):
        r = sympy.nsimplify(f, rational=True, tolerance=rel * abs(float(f)))
        if r.q <= 10_000:
            replacements[f] = r
    return expr.xreplace(replacements)


class _Timeout(Exception):
    pass


def _alarm(signum, frame):
    raise _Timeout


def is_symbolic_solution(model: sympy.Expr, truth: sympy.Expr, seconds: int = 60) -> bool:
    """SRBench's rule: ``model - truth`` or ``model / truth`` simplifies to a constant.

    SymPy's ``simplify`` can run for many minutes on some forms; after ``seconds`` the
    answer is "not shown equal".
    """
    model = _round_floats(model)
    # The alarm needs the main thread; a Dask worker runs tasks in others (no time limit there).
    timed = threading.current_thread() is threading.main_thread()
    if timed:
        previous = signal.signal(signal.SIGALRM, _alarm)
        signal.alarm(seconds)
    try:
        if not sympy.simplify(model - truth).free_symbols:
            return True
        ratio = sympy.simplify(model / truth)
        return not ratio.free_symbols and ratio != 0
    except Exception:  # SymPy failures and the time limit: not shown equal
        return False
    finally:
        if timed:
            signal.alarm(0)
            signal.signal(signal.SIGALRM, previous)


def numerically_equivalent(pred: np.ndarray, y: np.ndarray, rel: float = 1e-6) -> bool:
    """Necessary condition for a symbolic solution, checked on the test rows first:
    ``pred - y`` or ``pred / y`` is constant to ``rel``."""
    with np.errstate(all="ignore"):
        diff = pred - y
        ratio = pred / y
    scale = float(np.std(y)) or 1.0
    if np.all(np.isfinite(diff)) and float(np.std(diff)) <= rel * scale:
        return True
    return bool(np.all(np.isfinite(ratio)) and float(np.std(ratio)) <= rel * max(abs(float(np.mean(ratio))), 1e-300))


def r2(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    if not np.all(np.isfinite(y_pred)):
        return -math.inf
    ss_res = float(np.sum((y_true - y_pred) ** 2))
    ss_tot = float(np.sum((y_true - y_true.mean()) ** 2))
    return 1.0 - ss_res / ss_tot if ss_tot > 0 else (1.0 if ss_res == 0 else -math.inf)


def run_one(task: tuple) -> dict:
    eq, noise, budget, seed, n_rows = task
    from discover import Regressor

    X, y, truth, symbols = make_data(eq, n_rows, seed)
    n_train = int(0.75 * n_rows)
    rng = np.random.default_rng(seed + 1)
    y_train = y[:n_train].copy()
    if noise > 0:
        y_train += rng.normal(0.0, noise * math.sqrt(float(np.mean(y_train**2))), n_train)
    names = [v[0] for v in eq["variables"]]
    start = time.perf_counter()
    model = Regressor(**OPERATORS, niterations=100_000, timeout_in_seconds=budget, random_state=seed,
                      **unit_settings(eq))
    model.fit(X[:n_train], y_train, variable_names=names)
    seconds = time.perf_counter() - start
    formula = model.sympy()
    with np.errstate(all="ignore"):
        pred = model.predict(X[n_train:])
    score = r2(y[n_train:], pred)
    # Only numerically exact fits can be symbolic solutions; this keeps simplify() off the rest.
    symbolic = numerically_equivalent(pred, y[n_train:], rel=1e-4) and is_symbolic_solution(
        formula.subs({sympy.Symbol(n): symbols[n] for n in names}), truth)
    return {"name": eq["name"], "noise": noise, "symbolic": bool(symbolic), "accuracy": bool(score > 0.999),
            "r2": score, "seconds": round(seconds, 2), "formula": str(formula), "truth": eq["formula"],
            "stopped_by": model.stats_["stopped_by"], "evaluations": model.stats_["evaluations"],
            "units": bool(eq.get("units"))}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--budget", type=float, default=60.0, help="seconds per equation (default 60)")
    parser.add_argument("--noise", type=float, nargs="+", default=[0.0])
    parser.add_argument("--only", nargs="+", help="equation names to run")
    parser.add_argument("--limit", type=int, help="run the first N equations only")
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--jobs", type=int, default=1, help="equations run in parallel (processes)")
    parser.add_argument("--scheduler", metavar="ADDRESS",
                        help="run the equations as tasks on this Dask cluster (e.g. tcp://host:8786) instead of --jobs")
    parser.add_argument("--json", type=Path, help="write every row to this JSON file")
    parser.add_argument("--units", action="store_true",
                        help="give the search every variable's physical units (feynman_units.csv)")
    parser.add_argument("--units-file", type=Path, default=DEFAULT_UNITS, help="units table (default: %(default)s)")
    parser.add_argument("--dimensionless-constants", action="store_true",
                        help="with --units: constants are pure numbers (physical constants are variables here)")
    args = parser.parse_args(argv)
    if not args.data.exists():
        print(f"feynman.py: error: {args.data} not found; pass --data PATH", file=sys.stderr)
        return 2
    equations = read_equations(args.data)
    if args.only:
        equations = [e for e in equations if e["name"] in set(args.only)]
    if args.limit:
        equations = equations[: args.limit]
    if args.units:
        table = read_units(args.units_file)
        missing = [e["name"] for e in equations if e["name"] not in table]
        if missing:
            print(f"feynman.py: error: no units for {', '.join(missing)} in {args.units_file}", file=sys.stderr)
            return 2
        for eq in equations:
            eq["units"], eq["dimensionless_constants"] = table[eq["name"]], args.dimensionless_constants
    tasks = [(eq, noise, args.budget, args.seed, args.rows) for noise in args.noise for eq in equations]
    print(f"{'equation':<12} {'noise':>6} {'symbolic':>8} {'R2>0.999':>8} {'R2':>10} {'seconds':>8}  formula")
    rows = []

    def report(row: dict) -> None:
        rows.append(row)
        print(f"{row['name']:<12} {row['noise']:>6g} {'yes' if row['symbolic'] else 'no':>8} "
              f"{'yes' if row['accuracy'] else 'no':>8} {row['r2']:>10.6f} {row['seconds']:>8.1f}  {row['formula']}",
              flush=True)

    if args.scheduler:
        from distributed import Client

        with Client(args.scheduler) as client:  # one equation per task, spread over the workers
            for future in client.map(run_one, tasks, pure=False):
                report(future.result())
    elif args.jobs > 1:
        ctx = multiprocessing.get_context("spawn")
        with ctx.Pool(args.jobs) as pool:
            for row in pool.imap(run_one, tasks):
                report(row)
    else:
        for task in tasks:
            report(run_one(task))
    for noise in args.noise:
        sel = [r for r in rows if r["noise"] == noise]
        solved = sum(r["symbolic"] for r in sel)
        accurate = sum(r["accuracy"] for r in sel)
        median = statistics.median(r["seconds"] for r in sel) if sel else float("nan")
        print(f"summary noise={noise:g}: symbolic {solved}/{len(sel)} ({100 * solved / max(len(sel), 1):.1f} %), "
              f"accuracy {accurate}/{len(sel)} ({100 * accurate / max(len(sel), 1):.1f} %), "
              f"median {median:.1f} s per equation, budget {args.budget:g} s, {os.cpu_count()} cores"
              + (", with units" + (" (dimensionless constants)" if args.dimensionless_constants else "")
                 if args.units else ""))
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
