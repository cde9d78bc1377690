"""Tests for discover.formula.terms: sparse linear models over small terms, proposed to
the search, and the search that takes them (sums of products found in seconds)."""

from __future__ import annotations

import numpy as np
import pytest
import sympy

from discover import Regressor
from discover.formula.terms import term_models
from search.expression import complexity, to_sympy
from search.mutate import Grammar
from search.numpy_eval import evaluate
from search.operators import BUILTIN, DEFAULT_BINARY, DEFAULT_UNARY


def grammar(n_vars: int, unary=DEFAULT_UNARY) -> Grammar:
    return Grammar(n_vars=n_vars, binary=BUILTIN.resolve(DEFAULT_BINARY, 2), unary=BUILTIN.resolve(unary, 1),
                   maxsize=20, ops=BUILTIN)


def affine_error(expr, X, y) -> float:
    """Relative RMS error of the best ``a f + b`` (what the formula problem's objective scores)."""
    f = evaluate(expr, X)
    if not np.all(np.isfinite(f)):
        return np.inf
    design = np.column_stack([f, np.ones_like(f)])
    coef, *_ = np.linalg.lstsq(design, y, rcond=None)
    return float(np.sqrt(np.mean((design @ coef - y) ** 2)) / np.std(y))


def exact_proposals(X, y, g, **kw):
    return [e for e in term_models(X, y, g, **kw) if affine_error(e, X, y) < 1e-9 and complexity(e) <= 20]


@pytest.mark.parametrize("law, names", [
    ("m * (u**2 + v**2 + w**2) / 2", "m u v w"),                # Feynman I.13.4: y / m is a sum
    ("sqrt((x2 - x1)**2 + (y2 - y1)**2)", "x1 x2 y1 y2"),       # I.8.14: y**2 is a sum
    ("mom * sqrt(bx**2 + by**2 + bz**2)", "mom bx by bz"),      # III.10.19: (y / mom)**2 is a sum
])
def test_an_exact_model_of_a_sum_of_terms_is_proposed(law, names):
    symbols = sympy.symbols(names)
    truth = sympy.sympify(law, locals={str(s): s for s in symbols})
    rng = np.random.default_rng(0)
    X = rng.uniform(1, 5, (1000, 4))
    y = sympy.lambdify(symbols, truth, "numpy")(*X.T)
    exact = exact_proposals(X, y, grammar(4))
    assert exact, "no exact proposal"
    # Up to the scale and intercept the objective fits, the proposal is the law.
    best = min(exact, key=complexity)
    found = sympy.nsimplify(to_sympy(best, symbols), tolerance=1e-9, rational=True)
    ratio = sympy.simplify(found**2 / truth**2)
    assert not ratio.free_symbols, (found, ratio)


def test_a_past_deadline_stops_the_models_before_any_transform():
    """``deadline``: the transforms not begun by then are skipped (the search passes half of
    its time limit), so a passed deadline proposes nothing; without one the law is found."""
    import time

    rng = np.random.default_rng(2)
    X = rng.uniform(1, 5, (500, 3))
    y = X[:, 0] ** 2 + 3 * X[:, 1] * X[:, 2]
    assert term_models(X, y, grammar(3), deadline=time.perf_counter()) == []
    assert exact_proposals(X, y, grammar(3), deadline=time.perf_counter() + 600)


def test_a_transform_needs_its_inverse_operator_in_the_grammar():
    rng = np.random.default_rng(1)
    X = rng.uniform(1, 5, (500, 2))
    y = np.sqrt(X[:, 0] ** 2 + X[:, 1] ** 3)
    with_sqrt = exact_proposals(X, y, grammar(2))
    assert with_sqrt and all(to_sympy(e, sympy.symbols("a b")).has(sympy.sqrt(sympy.Symbol("a")).func)
                             for e in with_sqrt[:1])
    g = grammar(2, unary=("neg", "square", "cube", "exp", "log"))
    proposals = term_models(X, y, g)
    sqrt_code = BUILTIN.code["sqrt"]
    assert proposals and all(code != sqrt_code for e in proposals for code, _ in e)
    assert not any(affine_error(e, X, y) < 1e-9 for e in proposals)


def test_targets_undefined_on_the_data_are_skipped():
    """y crosses zero: no 1/y and no log y model (they would be NaN or inf on some row)."""
    rng = np.random.default_rng(2)
    X = rng.uniform(-2, 2, (400, 2))
    y = X[:, 0] * X[:, 1]
    proposals = term_models(X, y, grammar(2))
    assert proposals
    for e in proposals:
        f = evaluate(e, X)
        assert np.all(np.isfinite(f)), to_sympy(e, sympy.symbols("a b"))
    assert any(affine_error(e, X, y) < 1e-9 for e in proposals)


def test_without_linear_scaling_the_proposal_carries_every_coefficient():
    rng = np.random.default_rng(3)
    X = rng.uniform(1, 3, (400, 2))
    y = 3.0 * X[:, 0] ** 2 - 2.0 * X[:, 1] + 0.5
    exact = [e for e in term_models(X, y, grammar(2), intercept_free=False, scale_free=False)
             if np.max(np.abs(evaluate(e, X) - y)) < 1e-9]
    assert exact


def test_proposals_are_deterministic():
    rng = np.random.default_rng(4)
    X = rng.uniform(1, 5, (300, 3))
    y = X[:, 0] * X[:, 1] + np.cos(X[:, 2])
    assert term_models(X, y, grammar(3)) == term_models(X, y, grammar(3))


def test_the_search_finds_a_sum_of_squares_over_four_variables_in_seconds():
    """Feynman I.13.4, ``m (u² + v² + w²) / 2``: left unsolved by 60 s of evolution; the
    proposed linear model puts it on the front at the start and the search stops on
    tolerance."""
    rng = np.random.default_rng(0)
    X = rng.uniform(1, 5, (2000, 4))
    y = X[:, 0] * (X[:, 1] ** 2 + X[:, 2] ** 2 + X[:, 3] ** 2) / 2
    model = Regressor(timeout_in_seconds=60, random_state=0).fit(X, y, variable_names=["m", "u", "v", "w"])
    m, u, v, w = sympy.symbols("m u v w")
    assert model.stats_["stopped_by"] == "tolerance"
    assert sympy.simplify(model.sympy() - m * (u**2 + v**2 + w**2) / 2) == 0, model.sympy()


def test_only_proposals_close_to_the_best_are_kept():
    """With an exact model among them, every proposal kept is exact: approximations would
    only crowd the hall of fame."""
    rng = np.random.default_rng(6)
    X = rng.uniform([1, 1, 3], [5, 2, 10], (600, 3))
    y = X[:, 0] / (1 - X[:, 1] / X[:, 2])  # Feynman I.34.1: 1/y = 1/x0 - x1/(x0 x2)
    proposals = term_models(X, y, grammar(3))
    assert proposals
    errors = [affine_error(e, X, y) for e in proposals]
    assert max(errors) < 1e-9, errors


def test_values_at_the_edge_of_the_float_range_give_no_error():
    """exp(exp(x)) and friends overflow on this data: such terms and models are left out,
    and the search's proposals are still produced without an exception."""
    rng = np.random.default_rng(7)
    X = rng.uniform(5, 700, (300, 2))
    y = np.exp(X[:, 0] / 100) * X[:, 1]
    proposals = term_models(X, y, grammar(2))
    assert all(np.all(np.isfinite(evaluate(e, X))) for e in proposals)
