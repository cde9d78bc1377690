"""Search rate: candidate evaluations per second of a real search, per batch size,
side by side with an earlier commit of the engine.

    python benchmarks/search_rate.py [--seconds 20] [--batch-sizes 500 5000] [--baseline 5fa08e5]

Runs a formula search for a fixed wall time on Feynman I.6.2 (a Gaussian,
``exp(-theta**2/(2 sigma**2)) / sqrt(2 pi sigma**2)``, 10,000 rows) with the default
settings except the row batch size, and reports candidate evaluations per second,
iterations and the best loss reached.  With ``--baseline COMMIT`` the same runs are made,
in a subprocess, by the engine of that commit (checked out with ``git worktree`` into a
temporary folder), and the table shows both and their ratio.  Each timed run is preceded
by a 5 s search of the same shape, so XLA compilation is not counted (``--no-warmup``
counts it).  The same command runs on whatever device JAX picks (``JAX_PLATFORMS=cpu``
forces the CPU).  ``--profile FILE`` writes a cProfile of the current engine's first
timed run.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from machine import cpu_model  # benchmarks/machine.py (scripts run from benchmarks/)

import numpy as np

ROOT = Path(__file__).resolve().parent.parent


def gaussian_data(rows: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Feynman I.6.2: ``X (rows, 2)`` = (sigma, theta) in [1, 3]^2, ``y (rows,)``."""
    rng = np.random.default_rng(seed)
    X = rng.uniform(1.0, 3.0, (rows, 2))
    sigma, theta = X[:, 0], X[:, 1]
    y = np.exp(-theta**2 / (2 * sigma**2)) / np.sqrt(2 * np.pi * sigma**2)
    return X, y


def run_search(X, y, batch: int, seconds: float, seed: int):
    """One search with whichever engine API is importable (this tree's or an older one)."""
    import inspect

    from search.evolve import SearchSettings, search

    if "problem" not in inspect.signature(search).parameters:  # the engine before problems: search(X, y, settings)
        return search(X, y, SearchSettings(batch_size=batch, timeout_in_seconds=seconds, random_state=seed))
    from discover.formula import formula_problem

    problem = formula_problem(X, y, batch_size=batch, seed=seed)
    return search(problem, SearchSettings(timeout_in_seconds=seconds, random_state=seed))


def measure(args) -> list[dict]:
    """Run every batch size with the importable engine; one dict per run.  Where the engine
    has it, JAX's CPU client is created as ``discover fit`` creates it (a one-thread pool,
    :func:`search.evaluate.one_thread_pool_for_search`)."""
    try:
        from search.evaluate import one_thread_pool_for_search
    except ImportError:  # an engine from before it
        pass
    else:
        one_thread_pool_for_search()
    import jax

    X, y = gaussian_data(args.rows, args.seed)
    out = []
    for batch in args.batch_sizes:
        if args.warmup:
            run_search(X, y, batch, 5.0, args.seed)
        profiler = cProfile.Profile() if args.profile and not out else None
        t = time.perf_counter()
        if profiler:
            profiler.enable()
        result = run_search(X, y, batch, args.seconds, args.seed)
        if profiler:
            profiler.disable()
            profiler.dump_stats(args.profile)
        wall = time.perf_counter() - t
        p = result.progress
        out.append({"batch": batch, "iterations": p.iteration, "evaluations": p.evaluations,
                    "rate": p.evaluations_per_second, "best_loss": p.best_loss, "wall": wall,
                    "compilations": result.compilations, "device": jax.devices()[0].platform})
    return out


def baseline_runs(commit: str, args) -> list[dict]:
    """The same runs by the engine of ``commit``, in a subprocess over a git worktree."""
    with tempfile.TemporaryDirectory() as tmp:
        tree = Path(tmp) / "baseline"
        subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(tree), commit], check=True,
                       capture_output=True)
        try:
            cmd = [sys.executable, str(Path(__file__).resolve()), "--json-only", "--seconds", str(args.seconds),
                   "--rows", str(args.rows), "--seed", str(args.seed), "--batch-sizes",
                   *map(str, args.batch_sizes)] + ([] if args.warmup else ["--no-warmup"])
            env = dict(os.environ, PYTHONPATH=str(tree))
            done = subprocess.run(cmd, env=env, cwd=tree, check=True, capture_output=True, text=True)
            return json.loads(done.stdout.strip().splitlines()[-1])
        finally:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(tree)], capture_output=True)




def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="wall time per run (default 20)")
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[500, 5000],
                        help="rows each candidate is scored on (default 500 5000)")
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--baseline", metavar="COMMIT", help="also run the engine of this git commit")
    parser.add_argument("--profile", metavar="FILE", help="cProfile the first timed run of this engine")
    parser.add_argument("--no-warmup", dest="warmup", action="store_false",
                        help="skip the 5 s search of each shape that fills the compile cache first")
    parser.add_argument("--json-only", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.json_only:
        print(json.dumps(measure(args)))
        return 0
    base = baseline_runs(args.baseline, args) if args.baseline else None
    runs = measure(args)

    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"search rate on Feynman I.6.2, {args.seconds:g} s per run, {os.cpu_count()} cores, "
                        f"{cpu_model()}, device {runs[0]['device']}")
    cols = ["rows", "engine", "iters", "evals", "evals/s", "best loss", "compiles"]
    if base:
        cols.append("ratio")
    for col in cols:
        table.add_column(col, justify="right")
    ratios = []
    for k, run in enumerate(runs):
        entries = [("this tree", run)] + ([(args.baseline, base[k])] if base else [])
        for name, r in entries:
            row = [str(r["batch"]), name, str(r["iterations"]), str(r["evaluations"]), f"{r['rate']:,.0f}",
                   f"{r['best_loss']:.3g}", str(r["compilations"])]
            if base:
                row.append(f"{run['rate'] / base[k]['rate']:.2f}x" if name == "this tree" else "1.00x")
            table.add_row(*row)
        if base:
            ratios.append(run["rate"] / base[k]["rate"])
    Console().print(table)
    rates = ", ".join(f"{r['rate']:,.0f}/s at {r['batch']} rows" for r in runs)
    summary = f"summary: device {runs[0]['device']}, search rate {rates}"
    if base:
        summary += "; vs " + args.baseline + ": " + ", ".join(
            f"{x:.2f}x at {r['batch']} rows" for x, r in zip(ratios, runs))
    print(summary)
    return 0


if __name__ == "__main__":
    sys.exit(main())
