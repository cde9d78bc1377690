"""The float64 finish: folding of transcendental constant subtrees."""

from __future__ import annotations

import math

import numpy as np
import sympy

from search.expression import const, op, to_sympy, var
from search.polish import finish, fold_transcendental_constants

X0 = sympy.Symbol("x0")


def test_transcendental_constant_subtrees_fold_to_numbers():
    tanh_one = (const(1.0), op("tanh"))
    expr = (var(0),) + tanh_one + (const(-0.5), op("+"), op("*"))  # x0 * (tanh(1) - 0.5)
    folded = fold_transcendental_constants(expr)
    assert folded == ((1, 0), (0, math.tanh(1.0) - 0.5), op("*"))
    # algebraic constants stay exact forms; subtrees with a variable are untouched
    algebraic = (var(0), const(2.0), op("sqrt"), op("*"))
    assert fold_transcendental_constants(algebraic) == algebraic
    with_variable = (var(0), op("exp"), const(1.0), op("sin"), op("+"))
    assert fold_transcendental_constants(with_variable) == (var(0), op("exp"), const(math.sin(1.0)), op("+"))


def test_finish_cancels_a_fitted_constant_against_tanh_of_one():
    """Feynman III.21.20 came out as ``x0 * (tanh(1) - 0.7615941559...) + ...``."""
    rng = np.random.default_rng(0)
    X = rng.uniform(1, 5, (200, 2))
    y = X[:, 0] * X[:, 1]
    expr = (var(0), var(1), op("*"), const(1.0), op("tanh"), const(-math.tanh(1.0)), op("+"), var(0),
            op("*"), op("+"))
    result, loss, _ = finish(expr, X, y, linear_scaling=False, n_vars=2)
    assert loss < 1e-20
    assert not to_sympy(result, sympy.symbols("x0 x1")).has(sympy.tanh)
