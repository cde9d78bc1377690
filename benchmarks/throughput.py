"""Throughput of the batched evaluator against the naive way, in one run.

    python benchmarks/throughput.py [--exprs 1000] [--rows 1000] [--repeats 5]

Node evaluations per second = expressions x nodes x rows / seconds, for

* the evaluator (``search.evaluate.Evaluator.losses``), whole population in one call,
  with each backend: ``native`` (the operator set's compiled interpreter,
  :mod:`search.native`, the CPU default) and ``jax`` (the JAX step program, the GPU's),
  each timed after its first call (which compiles);
* the naive engine: for each expression build a ``sympy.lambdify`` NumPy function and
  call it (the total), and the call alone (functions built beforehand).

The population: random expressions of 10-30 nodes over all default operators and 5
input variables (``search.mutate.random_expr``, fixed seed).  Prints a table and a
summary line with the speedups.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np
import sympy
from rich.console import Console

from machine import cpu_model  # benchmarks/machine.py (scripts run from benchmarks/)
from rich.table import Table

from search import operators
from search.evaluate import Evaluator
from search.objectives import LeastSquares
from search.expression import to_sympy
from search.mutate import Grammar, random_expr


def population(n_exprs: int, n_vars: int, seed: int) -> list:
    """Random expressions of 10-30 nodes whose SymPy form lambdify can print (no zoo/nan)."""
    rng = np.random.default_rng(seed)
    symbols = sympy.symbols([f"x{i}" for i in range(n_vars)])
    g = Grammar(n_vars=n_vars, binary=operators.resolve(operators.DEFAULT_BINARY, 2),
                unary=operators.resolve(operators.DEFAULT_UNARY, 1), maxsize=30)
    out = []
    while len(out) < n_exprs:
        e = random_expr(rng, g, int(rng.integers(10, 31)))
        if 10 <= len(e) <= 30 and not to_sympy(e, symbols).has(sympy.zoo, sympy.nan, sympy.oo):
            out.append(e)
    return out


def best_of(repeats: int, fn) -> float:
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--exprs", type=int, default=1000)
    parser.add_argument("--rows", type=int, default=1000)
    parser.add_argument("--vars", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    rng = np.random.default_rng(args.seed)
    X = rng.uniform(0.5, 3.0, (args.rows, args.vars))
    y = X[:, 0] * np.sin(X[:, 1])
    exprs = population(args.exprs, args.vars, args.seed)
    node_evals = sum(len(e) for e in exprs) * args.rows
    names = [f"x{i}" for i in range(args.vars)]
    symbols = sympy.symbols(names)

    codes = operators.resolve(operators.DEFAULT_BINARY, 2) + operators.resolve(operators.DEFAULT_UNARY, 1)
    objective = LeastSquares.of(y)
    timed = {}
    for backend in ("native", "jax"):
        evaluator = Evaluator(X.T, codes, backend=backend)
        capacity = evaluator.new_capacity(len(exprs), 30)
        t = time.perf_counter()
        evaluator.losses(exprs, objective, capacity)
        first = time.perf_counter() - t
        timed[backend] = (best_of(args.repeats, lambda: evaluator.losses(exprs, objective, capacity)), first)

    sym_exprs = [to_sympy(e, symbols) for e in exprs]
    columns = [X[:, i] for i in range(args.vars)]

    def build_and_call():
        with np.errstate(all="ignore"):
            for s in sym_exprs:
                sympy.lambdify(symbols, s, modules="numpy")(*columns)

    built = [sympy.lambdify(symbols, s, modules="numpy") for s in sym_exprs]

    def call_only():
        with np.errstate(all="ignore"):
            for f in built:
                f(*columns)

    naive_total = best_of(max(1, args.repeats // 2), build_and_call)
    naive_call = best_of(args.repeats, call_only)

    table = Table(title=f"{args.exprs} expressions of 10-30 nodes (mean {node_evals / args.rows / args.exprs:.1f}), "
                        f"{args.rows} rows, {os.cpu_count()} cores")
    for col in ("method", "seconds", "node-evals/s", "vs build+call"):
        table.add_column(col, justify="right" if col != "method" else "left")
    rows = [("sympy.lambdify: build + call", naive_total), ("sympy.lambdify: call only", naive_call),
            ("evaluator, jax backend (one call)", timed["jax"][0]),
            ("evaluator, native backend (one call)", timed["native"][0])]
    for name, seconds in rows:
        table.add_row(name, f"{seconds:.4f}", f"{node_evals / seconds:.3g}", f"{naive_total / seconds:.1f}x")
    Console().print(table)
    print(f"first call (compile + run): native {timed['native'][1]:.2f} s, jax {timed['jax'][1]:.2f} s; "
          f"CPU: {cpu_model()}")
    best = timed["native"][0]
    print(f"summary: native evaluator {node_evals / best:.3g} node-evals/s = "
          f"{timed['jax'][0] / best:.1f}x the jax backend ({node_evals / timed['jax'][0]:.3g}), "
          f"{naive_total / best:.1f}x build+call ({node_evals / naive_total:.3g}), "
          f"{naive_call / best:.2f}x call-only ({node_evals / naive_call:.3g})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
