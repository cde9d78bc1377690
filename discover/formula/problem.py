"""Tabular symbolic regression as a :class:`search.problem.Problem`.

The leaves are the columns of ``X`` on a fixed random subset of ``batch_size`` rows (the
search scores every candidate on those; constants found there are good to a few digits),
the objective is least squares against ``y`` with optional linear scaling ``a f + b``
(Keijzer 2003), and the finish refits every hall-of-fame member in float64 on all rows,
folds the scaling in, rounds constants and simplifies (:func:`search.polish.finish`).
"""

from __future__ import annotations

import numpy as np

from search.objectives import LeastSquares
from search.pareto import HallOfFame, Member
from search.polish import finish
from search.problem import Problem

#: Rows a candidate is scored on while searching (the final front is refit on all rows).
DEFAULT_BATCH_SIZE = 500
#: Whether candidates are scored after the optimal ``a f + b``.
DEFAULT_LINEAR_SCALING = True


def formula_problem(X: np.ndarray, y: np.ndarray, *, linear_scaling: bool = DEFAULT_LINEAR_SCALING,
                    batch_size: int = DEFAULT_BATCH_SIZE, seed: int = 0,
                    names: list[str] | None = None) -> Problem:
    """The problem ``y ~ f(X)`` for ``X (R, n_vars)``, ``y (R,)`` (see the module docstring)."""
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    n_rows, n_vars = X.shape
    rng = np.random.default_rng(seed)
    rows = np.sort(rng.choice(n_rows, size=batch_size, replace=False)) if n_rows > batch_size else np.arange(n_rows)
    objective = LeastSquares.of(y[rows], scaling="affine" if linear_scaling else "none")

    def polish(members: list[Member], final: bool) -> list[Member]:
        return polish_front(members, X, y, linear_scaling, n_vars, max_rows=10_000 if final else 2000)

    return Problem(leaves=X[rows].T, objective=objective, leaf_names=names, polish=polish)


def polish_front(members: list[Member], X: np.ndarray, y: np.ndarray, linear_scaling: bool, n_vars: int,
                 max_rows: int = 10_000) -> list[Member]:
    """Refit ``members`` in float64 and return the Pareto front of the results.

    Members off the front are refit too when they are within a factor 10 of the front's
    loss at their complexity: polishing can reorder near neighbours.
    """
    final = HallOfFame()
    n = min(len(y), max_rows)
    best_so_far = np.inf
    for member in sorted(members, key=lambda m: m.complexity):
        if member.loss > 10 * best_so_far:
            continue
        best_so_far = min(best_so_far, member.loss)
        expr, loss, size = finish(member.expr, X[:n], y[:n], linear_scaling, n_vars)
        final.consider(expr, loss, size)
    return final.front()
