"""Tabular symbolic regression as a :class:`search.problem.Problem`.

The leaves are the columns of ``X`` on a fixed random subset of ``batch_size`` rows (the
search scores every candidate on those; constants found there are good to a few digits),
the objective is least squares against ``y`` with optional linear scaling ``a f + b``
(Keijzer 2003), and the finish refits every hall-of-fame member in float64 on all rows,
folds the scaling in, rounds constants and simplifies (:func:`search.polish.finish`).

With physical units (``leaf_dimensions``, :mod:`search.units`), a dimensionally
inconsistent candidate has ``dimensional_constraint_penalty * baseline`` added to its
loss, where ``baseline`` is the loss of the best constant model (the MSE of ``y`` about
its mean, or of ``y`` itself without an intercept).  With linear scaling every finite
candidate's loss is at most ``baseline``, so any penalty above 1 ranks every violator
below every consistent candidate; the default 1000 is PySR's.  The scaling and the
constants obey the same rule as the candidate:

* constants free (any dimension, the default): the scale ``a`` takes the dimension of
  ``y / f`` and the intercept ``b`` that of ``y``, so only the inside of ``f`` is checked
  (no ``m + v``, no ``exp(m)``); without linear scaling ``f`` must also have ``y``'s
  dimension (a free subtree, such as ``c * m``, has any);
* ``dimensionless_constants_only``: every constant, ``a`` included, is a pure number, so
  ``f`` must have ``y``'s dimension, and when ``y`` has a dimension the search fits
  ``a f`` without an intercept (an intercept would be a constant carrying ``y``'s unit).

The finished front keeps each member's penalty (judged on the candidate as searched, whose
scaling is implicit), so the selected formula is consistent whenever one is on the front.
"""

from __future__ import annotations

import numpy as np

from typing import Callable, Sequence

from search.expression import Expr
from search.objectives import LeastSquares
from search.operators import CODE, CONST
from search.pareto import HallOfFame, Member
from search.polish import finish
from search.problem import Problem
from search.units import Dimension, DimensionCheck, DimensionPenalty, is_dimensionless

from ..fit_limits import DEFAULT_BATCH_SIZE
from .terms import term_models

#: Whether candidates are scored after the optimal ``a f + b``.
DEFAULT_LINEAR_SCALING = True
#: Loss added to a dimensionally inconsistent candidate, in units of the baseline loss.
DEFAULT_DIMENSIONAL_PENALTY = 1000.0


def formula_problem(X: np.ndarray, y: np.ndarray, *, linear_scaling: bool = DEFAULT_LINEAR_SCALING,
                    batch_size: int = DEFAULT_BATCH_SIZE, seed: int = 0,
                    names: list[str] | None = None,
                    leaf_dimensions: Sequence[Dimension] | None = None,
                    output_dimension: Dimension | None = None,
                    dimensionless_constants_only: bool = False,
                    dimensional_constraint_penalty: float = DEFAULT_DIMENSIONAL_PENALTY) -> Problem:
    """The problem ``y ~ f(X)`` for ``X (R, n_vars)``, ``y (R,)`` (see the module docstring).

    ``leaf_dimensions`` (one :data:`search.units.Dimension` per column of ``X``) turns
    the dimensional check on; ``output_dimension`` is ``y``'s (None: not checked).
    """
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    n_rows, n_vars = X.shape
    rng = np.random.default_rng(seed)
    rows = np.sort(rng.choice(n_rows, size=batch_size, replace=False)) if n_rows > batch_size else np.arange(n_rows)
    scaling = "affine" if linear_scaling else "none"
    check = None
    if leaf_dimensions is not None:
        strict = bool(dimensionless_constants_only)
        if strict and linear_scaling and output_dimension is not None and not is_dimensionless(output_dimension):
            scaling = "scale"
        check = DimensionCheck(tuple(leaf_dimensions), output_dimension, wildcard_constants=not strict,
                               free_scale=linear_scaling and not strict)
    objective = LeastSquares.of(y[rows], scaling=scaling)
    problem = Problem(leaves=X[rows].T, objective=objective, leaf_names=names)
    if check is not None:
        problem.penalty = DimensionPenalty(check, float(dimensional_constraint_penalty) * problem.baseline_loss())

    def polish(members: list[Member], final: bool) -> list[Member]:
        return polish_front(members, X, y, scaling != "none", n_vars, max_rows=10_000 if final else 2000,
                            scale_only=scaling == "scale", penalty=problem.penalty)

    problem.polish = polish
    problem.proposals = lambda grammar, deadline: term_models(X, y, grammar, intercept_free=scaling == "affine",
                                                              scale_free=scaling != "none", deadline=deadline)
    return problem


def polish_front(members: list[Member], X: np.ndarray, y: np.ndarray, linear_scaling: bool, n_vars: int,
                 max_rows: int = 10_000, *, scale_only: bool = False,
                 penalty: Callable[[Sequence[Expr]], np.ndarray] | None = None) -> list[Member]:
    """Refit ``members`` in float64 and return the Pareto front of the results.

    Members off the front are refit too when they are within a factor 10 of the front's
    loss at their complexity: polishing can reorder near neighbours.  ``scale_only``:
    the scaling is ``a f`` without an intercept; ``penalty(exprs)``: added to the loss of
    each polished member, judged on the member as searched.
    """
    final = HallOfFame()
    n = min(len(y), max_rows)
    best_so_far = np.inf
    for member in sorted(members, key=lambda m: m.complexity):
        if member.loss > 10 * best_so_far:
            continue
        best_so_far = min(best_so_far, member.loss)
        if scale_only:
            scaled = ((CONST, 1.0),) + member.expr + ((CODE["*"], 0),)
            expr, loss, size = finish(scaled, X[:n], y[:n], False, n_vars)
        else:
            expr, loss, size = finish(member.expr, X[:n], y[:n], linear_scaling, n_vars)
        if penalty is not None:
            loss += float(penalty([member.expr])[0])
        final.consider(expr, loss, size)
    return final.front()
