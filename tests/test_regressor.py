"""Tests for discover.Regressor: a real (small) search that recovers a known law, the
fitted attributes and exports, the scikit-learn parameter protocol, and determinism."""

from __future__ import annotations

import time

import numpy as np
import pytest
import sympy

from discover import Regressor
from discover.errors import ParameterError, UserError
from discover.result import SCHEMA, parse_equation
from search.operators import CODE

x0, x1 = sympy.symbols("x0 x1")
TRUTH = sympy.Rational(5, 2) * x0**2 + sympy.cos(x1)

SMALL = dict(binary_operators=("+", "-", "*", "/"), unary_operators=("square", "cos"), populations=4,
             population_size=32, ncycles_per_iteration=10, random_state=0)


def law_data():
    rng = np.random.default_rng(0)
    X = rng.uniform(-3, 3, size=(300, 2))
    return X, 2.5 * X[:, 0] ** 2 + np.cos(X[:, 1])


@pytest.fixture(scope="module")
def fitted():
    X, y = law_data()
    start = time.perf_counter()
    model = Regressor(**SMALL, niterations=30, timeout_in_seconds=60).fit(X, y)
    model.fit_seconds_ = time.perf_counter() - start
    return model


def drop_float_noise(expr: sympy.Expr, tol: float = 1e-9) -> sympy.Expr:
    """``expr`` with float coefficients that are within ``tol`` of an integer rounded to it."""
    return expr.xreplace({f: sympy.Integer(round(f)) for f in expr.atoms(sympy.Float) if abs(f - round(f)) < tol})


def test_fit_finds_the_law_up_to_float_noise(fitted):
    assert fitted.stats_["stopped_by"] in ("tolerance", "niterations")
    model = fitted.sympy()
    assert sympy.simplify(drop_float_noise(sympy.expand(model - TRUTH))) == 0, model
    assert fitted.fit_seconds_ < 60


def test_fit_recovers_exact_formula(fitted):
    """Exactly the law: no float leftovers, and symbolically equal to the truth."""
    model = fitted.sympy()
    assert not model.atoms(sympy.Float), model
    assert sympy.simplify(model - TRUTH) == 0, model


def test_polish_rounds_constants_that_appear_after_folding():
    from search.polish import finish

    X, y = law_data()
    c, v = 0, 1
    # 27.94 + 343.8*x0**2 + 137.5*cos(x1), as the float32 search found it (complexity 13)
    expr = ((c, 27.939568070769308), (c, 343.81431584901657), (v, 0), (CODE["square"], 0), (CODE["*"], 0),
            (CODE["+"], 0), (c, 137.52573108267498), (c, 0.9999999403953552), (v, 1), (CODE["*"], 0),
            (CODE["cos"], 0), (CODE["*"], 0), (CODE["+"], 0))
    final, loss, size = finish(expr, X, y, True, 2)
    from search.expression import to_sympy

    assert loss < 1e-20
    assert to_sympy(final, [x0, x1]) == TRUTH
    assert size == 7


def test_polish_folds_overparametrized_constants():
    """c1 * (sqrt(a) / c2)**3 / sqrt(M) with c1 / c2**3 = 1 comes out as a**(3/2)/sqrt(M)."""
    from search.polish import finish
    from search.expression import to_sympy

    rng = np.random.default_rng(1)
    X = np.column_stack([rng.uniform(0.3, 30, 300), rng.uniform(0.5, 2, 300)])
    y = np.sqrt(X[:, 0] ** 3 / X[:, 1])
    c, v = 0, 1
    expr = ((c, -0.23763156311390346), (v, 0), (CODE["sqrt"], 0), (c, -0.6193954939642462), (CODE["/"], 0),
            (CODE["cube"], 0), (v, 1), (CODE["sqrt"], 0), (CODE["/"], 0), (CODE["*"], 0), (c, 0.0), (CODE["+"], 0))
    final, loss, size = finish(expr, X, y, True, 2)
    a, M = sympy.symbols("a M")
    assert to_sympy(final, [a, M]) == a ** sympy.Rational(3, 2) / sympy.sqrt(M)
    assert loss < 1e-20


def test_equations_table(fitted):
    table = fitted.equations_  # a pandas DataFrame with PySR's columns (pandas is in the test extra)
    assert list(table.columns) == ["complexity", "loss", "score", "equation", "sympy_format", "lambda_format"]
    assert len(table) >= 2
    rows = [fitted.get_best(i) for i in range(len(table))]
    assert [r.equation for r in rows] == list(table["equation"])
    complexities = [r.complexity for r in rows]
    losses = [r.loss for r in rows]
    assert complexities == sorted(set(complexities))
    assert all(a > b for a, b in zip(losses, losses[1:]))
    assert rows[0].score == 0.0 and all(r.score >= 0 for r in rows)
    assert fitted.get_best() == rows[fitted.best_index_]
    assert 0 <= fitted.best_index_ < len(table)
    with pytest.raises(ParameterError, match=f"index must be a row of the front, 0 to {len(table) - 1}, not 99"):
        fitted.sympy(99)
    pts = np.random.default_rng(1).uniform(-3, 3, size=(20, 2))
    for r in rows:  # the strings parse back (to the printed 15 digits)
        parsed = sympy.lambdify([x0, x1], parse_equation(r.equation, ["x0", "x1"]), "numpy")
        exact = sympy.lambdify([x0, x1], r.sympy_format, "numpy")
        np.testing.assert_allclose(parsed(*pts.T) + 0 * pts[:, 0], exact(*pts.T) + 0 * pts[:, 0], rtol=1e-13, atol=1e-13)
    assert fitted.variable_names_ == ["x0", "x1"] and fitted.n_features_in_ == 2
    assert not hasattr(fitted, "feature_names_in_")  # scikit-learn: only after fitting a DataFrame
    assert {"iterations", "evaluations", "seconds", "stopped_by", "compilations"} <= set(fitted.stats_)


def test_predict_and_score(fitted):
    X, y = law_data()
    rng = np.random.default_rng(5)
    X_new = rng.uniform(-3, 3, size=(50, 2))
    pred = fitted.predict(X_new)
    assert pred.shape == (50,)
    f = sympy.lambdify([x0, x1], fitted.sympy(), "numpy")
    np.testing.assert_allclose(pred, f(X_new[:, 0], X_new[:, 1]), rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(pred, 2.5 * X_new[:, 0] ** 2 + np.cos(X_new[:, 1]), rtol=1e-8, atol=1e-8)
    assert fitted.score(X, y) == pytest.approx(1.0, abs=1e-10)
    # another row of the front: simplest member, a worse fit
    assert fitted.score(X, y, index=0) < fitted.score(X, y)
    assert fitted.predict(X_new, index=0).shape == (50,)
    with pytest.raises(ValueError, match="X has 1 features, but Regressor is expecting 2"):
        fitted.predict(X_new[:, :1])
    with pytest.raises(ValueError):
        fitted.predict(X_new[0])


def test_exports(fitted):
    X, _ = law_data()
    best = fitted.equations_.iloc[fitted.best_index_].sympy_format
    assert fitted.sympy() == best
    assert fitted.sympy(0) == fitted.equations_.iloc[0].sympy_format
    assert fitted.latex() == sympy.latex(best)
    assert "x_{0}" in fitted.latex() and "\\cos" in fitted.latex()
    fn = fitted.jax()
    np.testing.assert_allclose(np.asarray(fn(X)), fitted.predict(X), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(np.asarray(fitted.jax(0)(X)), fitted.predict(X, index=0), rtol=1e-12, atol=1e-12)


def test_to_result(fitted):
    result = fitted.to_result(data="mem", target="y")
    assert result.selected == fitted.best_index_
    assert [e.sympy for e in result.equations] == [str(e) for e in fitted.equations_["sympy_format"]]
    assert '"schema": "%s"' % SCHEMA in result.to_json()


def test_unfitted_model_raises():
    from sklearn.exceptions import NotFittedError

    model = Regressor()
    with pytest.raises(NotFittedError, match="not fitted"):
        model.predict(np.zeros((3, 2)))
    with pytest.raises(NotFittedError, match="not fitted"):
        model.sympy()


def test_get_set_params_round_trip():
    model = Regressor(maxsize=12, unary_operators=("sin",), model_selection="accuracy")
    params = model.get_params()
    assert params["maxsize"] == 12 and params["unary_operators"] == ("sin",)
    assert params["model_selection"] == "accuracy"
    assert set(params) == set(Regressor().get_params())
    clone = Regressor(**params)
    assert clone.get_params() == params
    assert model.set_params(maxsize=9, niterations=3) is model
    assert model.maxsize == 9 and model.niterations == 3
    model.set_params(**params)
    assert model.get_params() == params
    assert "maxsize=12" in repr(model) and "niterations" not in repr(model)


def test_set_params_rejects_unknown_names():
    model = Regressor()
    with pytest.raises(ValueError, match="max_size") as info:
        model.set_params(max_size=3)
    assert "maxsize" in str(info.value)
    assert model.get_params() == Regressor().get_params()


@pytest.mark.parametrize("params, match", [
    (dict(model_selection="fastest"), "model_selection"),
    (dict(maxsize=2), "maxsize"),
    (dict(unary_operators=("sinh",)), "sinh"),
    (dict(binary_operators=("+", "sin")), "sin"),
])
def test_invalid_parameters_raise_user_error_on_fit(params, match):
    X, y = law_data()
    with pytest.raises(UserError, match=match):
        Regressor(**params).fit(X, y)


@pytest.mark.parametrize("params, match", [
    (dict(populations=0), "populations must be an integer of at least 1, not 0"),
    (dict(population_size=0), "population_size must be an integer of at least 1, not 0"),
    (dict(random_state=-1), "random_state must be an integer from 0 to 2\\*\\*63 - 1, not -1"),
    (dict(random_state=1.5), "random_state must be an integer from 0 to 2\\*\\*63 - 1, not 1.5"),
    (dict(maxsize="10"), "maxsize must be an integer of at least 3, not '10'"),
    (dict(maxsize=20000), "maxsize must be at most 1000, not 20000"),
    (dict(niterations=0), "niterations must be an integer of at least 1, not 0"),
    (dict(ncycles_per_iteration=0), "ncycles_per_iteration must be an integer of at least 1, not 0"),
    (dict(parsimony=-0.01), "parsimony must be a finite number of at least 0, not -0.01"),
    (dict(tolerance=float("nan")), "tolerance must be a finite number of at least 0, not nan"),
    (dict(tolerance="1e-9"), "tolerance must be a finite number of at least 0, not '1e-9'"),
])
def test_bad_numeric_parameters_raise_value_error(params, match):
    X, y = law_data()
    with pytest.raises(ValueError, match=match) as info:
        Regressor(**{**SMALL, **params}).fit(X, y)
    assert isinstance(info.value, UserError)


def test_operators_given_as_one_string_are_a_comma_separated_list():
    X, y = law_data()
    model = Regressor(**{**SMALL, "unary_operators": "square, cos", "binary_operators": "+,*"},
                      niterations=1, timeout_in_seconds=30).fit(X[:50], y[:50])
    assert model.settings().unary_operators == ("square", "cos")    # not 's', 'q', ...
    assert model.settings().binary_operators == ("+", "*")


def test_a_target_too_large_for_float32_squares_is_one_clear_error_on_jax(monkeypatch):
    """JAX scores in float32, where squared errors of 1e30 overflow: one clear error."""
    monkeypatch.setenv("DISCOVER_EVALUATOR", "jax")
    X, y = law_data()
    with pytest.raises(UserError, match="rescale y") as info:
        Regressor(**SMALL, niterations=1, timeout_in_seconds=30).fit(X[:50], 1e30 * y[:50])
    assert isinstance(info.value, ValueError)


def test_a_target_of_1e30_is_fitted_by_the_native_evaluator(monkeypatch):
    """The CPU evaluator sums squared errors in float64 (codegen.row_losses): no overflow."""
    monkeypatch.setenv("DISCOVER_EVALUATOR", "native")
    X, y = law_data()
    model = Regressor(**SMALL, niterations=1, timeout_in_seconds=30).fit(X[:50], 1e30 * y[:50])
    np.testing.assert_allclose(model.predict(X[50:80]), 1e30 * y[50:80], rtol=1e-6)


@pytest.mark.parametrize("timeout", [-1, 0, float("nan"), float("inf")])
def test_bad_timeout_raises_value_error_as_the_cli_does(timeout):
    X, y = law_data()
    with pytest.raises(ValueError, match="timeout_in_seconds must be a positive number of seconds") as info:
        Regressor(**SMALL, timeout_in_seconds=timeout).fit(X, y)
    assert isinstance(info.value, UserError)


def test_bad_data_raises_user_error():
    X, y = law_data()
    X = X.copy()
    X[3, 1] = np.nan
    with pytest.raises(UserError, match="NaN"):
        Regressor(**SMALL).fit(X, y)
    with pytest.raises(UserError):
        Regressor(**SMALL).fit(X[:, 0], y)


def test_same_seed_and_iteration_limit_give_identical_results(fitted):
    X, y = law_data()
    runs = [Regressor(**SMALL, niterations=2, timeout_in_seconds=None).fit(X, y) for _ in range(2)]
    a, b = ([(r.complexity, r.loss, r.equation) for r in m.equations_.itertuples()] for m in runs)
    assert a == b
    assert runs[0].best_index_ == runs[1].best_index_
    assert runs[0].stats_["evaluations"] == runs[1].stats_["evaluations"]


def test_fit_with_a_feature_called_y():
    """Coordinates as names: a feature may be called ``y`` (the API's target is unnamed)."""
    rng = np.random.default_rng(1)
    X = rng.uniform(-3, 3, size=(300, 2))
    model = Regressor(**SMALL, niterations=3, timeout_in_seconds=60).fit(X, X[:, 0] * X[:, 1], variable_names=["x", "y"])
    x, y = sympy.symbols("x y")
    assert model.variable_names_ == ["x", "y"]
    assert sympy.simplify(model.sympy() - x * y) == 0, model.sympy()
    assert parse_equation(str(model.sympy()), ["x", "y"]) == model.sympy()
    np.testing.assert_allclose(model.predict(X[:5]), X[:5, 0] * X[:5, 1], rtol=1e-12)


def test_a_constant_inside_a_function_is_found_in_seconds():
    """exp(-x**2/2) on [1, 3], default settings: the small-expression enumeration finds it
    exactly (it used to leave a straight line at complexity 5 after 30 s)."""
    rng = np.random.default_rng(0)
    x = rng.uniform(1, 3, (200, 1))
    model = Regressor(timeout_in_seconds=60, random_state=0).fit(x, np.exp(-x[:, 0] ** 2 / 2), variable_names=["x"])
    X = sympy.Symbol("x")
    assert model.stats_["stopped_by"] == "tolerance"
    assert sympy.simplify(model.sympy() - sympy.exp(-X**2 / 2)) == 0
    assert model.stats_["islands"] == 8  # populations=None: 8 in this process


def test_a_column_beyond_float32_is_one_clear_error_before_the_search():
    """Values the search's float32 arithmetic cannot hold (1e150): every formula would be
    infinite, so the fit says which column and what to do, before searching."""
    from discover.errors import DataError

    x = np.linspace(1, 50, 100)
    with pytest.raises(DataError, match=r"'x0' reaches 5e\+151, beyond the search's float32 range"):
        Regressor(niterations=1).fit((x * 1e150)[:, None], x)
    with pytest.raises(DataError, match=r"'y' reaches 5e\+301"):
        Regressor(niterations=1).fit(x[:, None], x * 1e300)
