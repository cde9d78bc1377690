"""The float64 finish: folding of transcendental constants, noise-aware rounding, rewrites."""

from __future__ import annotations

import math

import numpy as np
import pytest
import sympy

from search.expression import complexity, const, constants, from_sympy, op, to_sympy, var
from search.numbers import round_significant, sympy_number
from search.numpy_eval import evaluate
from search.polish import finish, fold_transcendental_constants, noise_tolerance, opaque_constants

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


# ----------------------------------------------------------------------------- rounding

S = sympy.symbols("x0 x1 x2")


def postfix(text: str):
    """The postfix expression of ``text`` over x0, x1, x2."""
    return from_sympy(sympy.sympify(text, locals=dict(zip(("x0", "x1", "x2"), S))), S)


def test_noise_tolerance_is_one_parameter_of_chi_square():
    """tau = max(1e-6 L + 1e-12 var(y), 3.84 L / n)."""
    assert noise_tolerance(0.01, 2000, 1.0) == pytest.approx(3.84 * 0.01 / 2000)
    assert noise_tolerance(0.0, 2000, 4.0) == pytest.approx(4e-12)  # exact data: float64 noise only
    assert noise_tolerance(math.inf, 2000, 1.0) == 0.0


def test_exact_data_keep_a_constant_that_is_not_nice_printed_short():
    """y = 2.493 x**2: 47/(6 pi) is 1.5e-4 away, far beyond float64 noise; 2.493 stays."""
    X = np.random.default_rng(0).uniform(-3, 3, (500, 1))
    y = 2.493 * X[:, 0] ** 2
    result, loss, size = finish(postfix("2.4930481*x0**2"), X, y, linear_scaling=True, n_vars=1)
    assert constants(result) == [2.493]
    assert size == 4 and loss < 1e-25
    assert str(sympy_number(2.493) * S[0] ** 2) == "2.493*x0**2"


def test_exact_data_give_an_exact_rational():
    X = np.random.default_rng(1).uniform(-3, 3, (500, 1))
    y = 2.5 * X[:, 0] ** 2
    result, loss, size = finish(postfix("2.4999*x0**2"), X, y, linear_scaling=True, n_vars=1)
    assert to_sympy(result, S) == sympy.Rational(5, 2) * S[0] ** 2
    assert loss < 1e-25


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("linear_scaling", [False, True])
def test_one_percent_noise_still_gives_the_exact_pi_form(seed, linear_scaling):
    """y = h q / (4 pi m) plus Gaussian noise of 1 % of rms(y): the fitted 0.0795...
    is within noise of 1/(4 pi), which is cheaper than the decimal."""
    rng = np.random.default_rng(seed)
    X = rng.uniform(1, 5, (2000, 3))
    y = X[:, 0] * X[:, 1] / (4 * math.pi * X[:, 2])
    y = y + rng.normal(0.0, 0.01 * math.sqrt(np.mean(y**2)), len(y))
    result, loss, size = finish(postfix("0.08*x0*x1/x2"), X, y, linear_scaling, n_vars=3)
    assert to_sympy(result, S) == S[0] * S[1] / (4 * sympy.pi * S[2])
    assert size == 7  # one constant, 1/(4 pi), times x0 times x1 over x2


def test_relative_noise_still_gives_the_exact_pi_form():
    """1 % noise proportional to y: the tolerance uses the sensitivity-weighted MSE."""
    rng = np.random.default_rng(3)
    X = rng.uniform(1, 5, (2000, 3))
    y = X[:, 0] * X[:, 1] / (4 * math.pi * X[:, 2]) * (1 + 0.01 * rng.standard_normal(2000))
    result, _, _ = finish(postfix("0.08*x0*x1/x2"), X, y, linear_scaling=True, n_vars=3)
    assert to_sympy(result, S) == S[0] * S[1] / (4 * sympy.pi * S[2])


def test_an_approximate_member_gets_a_short_decimal_not_a_spurious_nice_form():
    """The member c x0**2 of data 2.5 x0**2 + cos(x1): its best c is 2.5087...; the loss
    (the missing cos term) allows 3 digits, and 5/2 costs more loss than noise."""
    X = np.random.default_rng(0).uniform(-3, 3, (2000, 2))
    y = 2.5 * X[:, 0] ** 2 + np.cos(X[:, 1])
    result, loss, size = finish(postfix("2.493*x0**2"), X, y, linear_scaling=False, n_vars=2)
    best = float(np.sum(y * X[:, 0] ** 2) / np.sum(X[:, 0] ** 4))
    (c,) = constants(result)
    assert c == round_significant(best, 3) == 2.51
    fitted_loss = float(np.mean((best * X[:, 0] ** 2 - y) ** 2))
    assert fitted_loss <= loss <= fitted_loss + noise_tolerance(fitted_loss, 2000, float(np.var(y)))


# ----------------------------------------------------------------------------- rewriting


@pytest.mark.parametrize("linear_scaling", [False, True])
def test_finish_rewrites_a_trigonometric_identity(linear_scaling):
    """2.5 x0**2 + cos(x1) once came back as 5 x0**2/2 + 2 cos(x1/2)**2 - 1 (complexity 14)."""
    X = np.random.default_rng(0).uniform(-3, 3, (1000, 2))
    y = 2.5 * X[:, 0] ** 2 + np.cos(X[:, 1])
    expr = postfix("5*x0**2/2 + 2*cos(x1/2)**2 - 1")
    assert complexity(expr) == 14
    result, loss, size = finish(expr, X, y, linear_scaling, n_vars=2)
    assert size == 7
    assert to_sympy(result, S) == sympy.Rational(5, 2) * S[0] ** 2 + sympy.cos(S[1])
    assert loss < 1e-25


@pytest.mark.parametrize("text, expected, size", [
    ("log(exp(x0))*2", "2*x0", 3),
    ("x1*sin(x0)**2 + x1*cos(x0)**2", "x1", 1),
    ("(x0**2 - 1)/(x0 - 1)", "x0 + 1", 3),
    ("log(x0*exp(x1))", "x1 + log(x0)", 4),
])
def test_finish_keeps_the_shortest_equivalent_form(text, expected, size):
    X = np.random.default_rng(2).uniform(1.5, 3, (500, 2))
    expr = postfix(text)
    y = evaluate(expr, X)
    result, loss, result_size = finish(expr, X, y, linear_scaling=False, n_vars=2)
    assert to_sympy(result, S) == sympy.sympify(expected, locals=dict(zip(("x0", "x1"), S)))
    assert result_size == size
    assert loss < 1e-25


def test_fitted_constants_are_opaque_to_the_rewrites():
    e = 2.493 * S[0] + sympy.Rational(1, 2) * sympy.cos(S[1]) + sympy.Rational(2493, 1000)
    hidden, back = opaque_constants(e)
    assert hidden.atoms(sympy.Number) <= {sympy.Rational(1, 2)}
    assert hidden.xreplace(back) == e


def test_identity_nodes_left_by_rounding_are_dropped():
    from search.polish import without_identities

    f = (var(0), var(1), op("*"))
    assert without_identities(f + (const(0.0), op("+"))) == f
    assert without_identities((const(1.0),) + f + (op("*"), const(1.0), op("/"))) == f
    assert without_identities((const(0.0),) + f + (op("-"),)) == (const(0.0),) + f + (op("-"),)  # 0 - f stays


def test_a_sympy_rewrite_that_runs_away_is_cut_off():
    """expand of a nested power of a sum (what a noisy fit can produce) would run for
    minutes and take gigabytes; the finish skips polynomial rewrites of expressions whose
    expansion is too large, and gives every rewrite a time limit."""
    import time

    import sympy

    from search.polish import MAX_EXPANDED_TERMS, REWRITE_SECONDS, _safe, expanded_terms

    a, b, c, d = sympy.symbols("a b c d", real=True)
    runaway = (((a + b + c + d) ** 3 + c * d + a) ** 3 + b) ** 3
    assert expanded_terms(runaway) > MAX_EXPANDED_TERMS
    assert expanded_terms((a + b) ** 2 * (c + d)) == 8
    start = time.perf_counter()
    assert _safe(sympy.expand, runaway) is None
    assert time.perf_counter() - start < REWRITE_SECONDS
    assert _safe(sympy.expand, (a + b) ** 2) == a**2 + 2 * a * b + b**2


def test_a_front_member_made_of_rounding_noise_is_reported_as_printed():
    """``-4.3e16 ((x0 + 0.0036) - x0) + c`` is a constant over the reals (SymPy prints it so)
    but in float64 its values follow x0's rounding, which a search with only + and - used
    to fit data; the finished member is the printed constant, with the constant's loss."""
    rng = np.random.default_rng(0)
    X = rng.uniform(-3, 3, (500, 1))
    y = 2.5 * X[:, 0] ** 2
    expr = (const(-4.34e16), var(0), const(0.0036), op("+"), var(0), op("-"), op("*"), const(7.0), op("+"))
    assert np.ptp(evaluate(expr, X)) > 1.0  # the tree's float64 values are not constant
    result, loss, _ = finish(expr, X, y, linear_scaling=False, n_vars=1)
    printed = to_sympy(result, [X0])
    assert printed.is_number
    assert loss == pytest.approx(float(np.mean((y - float(printed)) ** 2)))
