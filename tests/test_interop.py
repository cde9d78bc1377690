"""Interop of the formula job: ``discover.Regressor`` as a scikit-learn estimator
(``check_estimator``, Pipeline, GridSearchCV, clone, DataFrames), ``equations_`` as PySR's
DataFrame, and PySR's ``hall_of_fame.csv`` (read, write, compile with codegen, CLI)."""

from __future__ import annotations

import contextlib
import io
import math
import sys
import time

import numpy as np
import pandas as pd
import pytest
import sympy
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils import estimator_checks as ec

import codegen
from discover import Regressor
from discover.cli import main
from discover.equations import COLUMNS, EquationTable, as_equations
from discover.errors import UserError
from discover.pysr import pysr_to_sympy, read_hall_of_fame, write_hall_of_fame
from discover.result import parse_equation

#: One real search per fit, as small as it gets: check_estimator fits ~60 times.
FAST = dict(niterations=1, populations=1, population_size=16, ncycles_per_iteration=1,
            binary_operators=("+", "*"), unary_operators=(), maxsize=5, random_state=0)

x0, x1 = sympy.symbols("x0 x1")


# ------------------------------------------------------------------ scikit-learn checks

#: A meaningful subset of check_estimator that runs in seconds: the API contract, input
#: validation (1-D, complex, sparse, empty, NaN/inf, y=None, wrong feature count), fit
#: returning self, pickling, Pipeline consistency, subset invariance, DataFrame names.
FAST_CHECKS = [
    ec.check_estimator_cloneable, ec.check_estimator_repr, ec.check_no_attributes_set_in_init,
    ec.check_mixin_order, ec.check_parameters_default_constructible, ec.check_get_params_invariance,
    ec.check_set_params, ec.check_do_not_raise_errors_in_init_or_set_params, ec.check_estimators_unfitted,
    ec.check_complex_data, ec.check_estimators_empty_data_messages, ec.check_estimator_sparse_array,
    ec.check_estimator_sparse_matrix, ec.check_fit1d, ec.check_requires_y_none, ec.check_supervised_y_no_nan,
    ec.check_fit_score_takes_y, ec.check_estimators_fit_returns_self, ec.check_n_features_in_after_fitting,
    ec.check_estimators_pickle, ec.check_methods_subset_invariance, ec.check_fit2d_predict1d,
    ec.check_dict_unchanged, ec.check_supervised_y_2d, ec.check_pipeline_consistency,
    ec.check_estimators_nan_inf, ec.check_dataframe_column_names_consistency,
]


@pytest.mark.parametrize("check", FAST_CHECKS, ids=lambda check: check.__name__)
def test_sklearn_check(check):
    check("Regressor", Regressor(**FAST))


@pytest.mark.slow
def test_check_estimator_passes_every_check():
    """All of ``check_estimator`` (scikit-learn 1.9: 52 checks, about 60 real fits; about
    2 minutes on 2 cores, mostly JAX compiling for each new data shape).  Nothing is
    expected to fail; a check that must would be listed in ``expected_failed_checks``."""
    start = time.perf_counter()
    results = ec.check_estimator(Regressor(**FAST), on_fail=None)
    failed = {r["check_name"]: str(r["exception"]).splitlines()[0] for r in results if r["status"] == "failed"}
    assert failed == {}
    assert sum(r["status"] == "passed" for r in results) >= 50
    print(f"check_estimator: {len(results)} checks in {time.perf_counter() - start:.0f} s")


# --------------------------------------------------------- Pipeline, GridSearchCV, clone


def product_law(n: int = 120, seed: int = 0):
    rng = np.random.default_rng(seed)
    X = rng.uniform(1, 3, size=(n, 2))
    return X, X[:, 0] * X[:, 1] + X[:, 0]


def test_pipeline_scaler_then_regressor():
    X, _ = product_law()
    y = 2 * X[:, 0] - X[:, 1] + 3  # linear: a*z0 + b*z1 + c in the scaled variables z
    pipe = make_pipeline(StandardScaler(), Regressor(**{**FAST, "maxsize": 7, "niterations": 3}))
    pipe.fit(X, y)
    assert pipe.score(X, y) == pytest.approx(1.0, abs=1e-9)
    scaler, model = pipe[0], pipe[-1]
    Z = scaler.transform(X)
    np.testing.assert_allclose(pipe.predict(X), model.predict(Z), rtol=0, atol=0)
    formula = sympy.lambdify([x0, x1], model.sympy(), "numpy")  # in the scaled variables
    np.testing.assert_allclose(formula(Z[:, 0], Z[:, 1]), pipe.predict(X), rtol=1e-13)
    assert sympy.Poly(model.sympy(), x0, x1).total_degree() == 1  # linear in z, as the law


def test_grid_search_over_maxsize():
    """maxsize 3 cannot hold x0*x1 + x0 (5 nodes); the grid search must pick 7."""
    X, y = product_law()
    grid = GridSearchCV(Regressor(**{**FAST, "niterations": 3}), {"maxsize": [3, 7]}, cv=3)
    grid.fit(X, y)
    assert grid.best_params_ == {"maxsize": 7}
    scores = dict(zip([p["maxsize"] for p in grid.cv_results_["params"]], grid.cv_results_["mean_test_score"]))
    assert scores[7] == pytest.approx(1.0, abs=1e-9) and scores[3] < 0.999
    assert sympy.simplify(grid.best_estimator_.sympy() - (x0 * x1 + x0)) == 0


def test_clone_copies_parameters_not_the_fit():
    X, y = product_law(40)
    model = Regressor(**FAST).fit(X, y)
    copy = clone(model)
    assert copy.get_params() == model.get_params() and copy is not model
    assert not hasattr(copy, "equations_") and not hasattr(copy, "n_features_in_")
    assert repr(copy) == repr(model) and "maxsize=5" in repr(copy)


def test_dataframe_names_become_the_formula_variables():
    X, y = product_law(60)
    frame = pd.DataFrame(X, columns=["mass", "v"])
    model = Regressor(**{**FAST, "maxsize": 7, "niterations": 3}).fit(frame, y)
    mass, v = sympy.symbols("mass v")
    assert list(model.feature_names_in_) == ["mass", "v"] and model.variable_names_ == ["mass", "v"]
    assert sympy.simplify(model.sympy() - (mass * v + mass)) == 0
    np.testing.assert_allclose(model.predict(frame), y, rtol=1e-12)
    with pytest.warns(UserWarning, match="does not have valid feature names"):
        model.predict(X)
    # variable_names wins over the columns
    named = Regressor(**FAST).fit(frame, y, variable_names=["a", "b"])
    assert named.variable_names_ == ["a", "b"] and list(named.feature_names_in_) == ["mass", "v"]


def test_bad_input_is_a_user_error_and_a_value_error():
    X, y = product_law(30)
    X[4, 1] = np.inf
    with pytest.raises(UserError, match="inf") as info:
        Regressor(**FAST).fit(X, y)
    assert isinstance(info.value, ValueError)
    with pytest.raises(UserError, match="2D array"):
        Regressor(**FAST).fit(X[:, 0], y)


# ------------------------------------------------------------------------- equations_


def test_equations_is_pysrs_dataframe():
    X, y = product_law(40)
    model = Regressor(**{**FAST, "maxsize": 7, "niterations": 3}).fit(X, y)
    table = model.equations_
    assert isinstance(table, pd.DataFrame)
    assert tuple(table.columns) == COLUMNS == ("complexity", "loss", "score", "equation", "sympy_format",
                                               "lambda_format")
    assert list(table["complexity"]) == sorted(table["complexity"])
    best = table.iloc[model.best_index_]
    assert best.equation == model.get_best().equation == str(model.sympy())
    assert sympy.simplify(best.sympy_format - (x0 * x1 + x0)) == 0
    for i, row in enumerate(table.itertuples()):  # lambda_format is predict with that row
        np.testing.assert_array_equal(row.lambda_format(X), model.predict(X, index=i))
    assert repr(best.lambda_format) == f"CallableEquation(X=>{best.equation})"


def test_without_pandas_equations_is_the_table(monkeypatch):
    rows = [pysr_row(1, 2.0, x0), pysr_row(3, 0.5, x0 * x1)]
    table = EquationTable(rows, selected=1)
    assert isinstance(as_equations(table), pd.DataFrame)
    monkeypatch.setitem(sys.modules, "pandas", None)  # "not installed"
    assert as_equations(table) is table
    text = repr(table).splitlines()
    assert text[0].split() == ["complexity", "loss", "score", "equation"]
    assert [line.startswith(">>") for line in text[1:]] == [False, True] and text[2].endswith("x0*x1")
    assert table[1].sympy_format == x0 * x1 and len(table) == 2


def pysr_row(complexity, loss, expr):
    from discover.equations import CallableEquation, EquationRow

    return EquationRow(complexity, loss, 0.0, str(expr), expr, CallableEquation((), 2, str(expr)))


# ------------------------------------------------------------------------ PySR CSV

#: PySR's documented hall_of_fame.csv (SymbolicRegression.jl writes equations quoted).
HALL_OF_FAME = '''Complexity,Loss,Equation
1,4.6211047,"x0"
3,2.9001236,"square(x0)"
5,0.59478635,"(x0 * x0) * 2.5"
8,1.2345e-14,"((x0 * x0) * 2.5) + cos(x1)"
'''

#: The older format: '|'-separated, MSE, unquoted, Julia Float32 literals.
OLD_HALL_OF_FAME = '''Complexity|MSE|Equation
1|3.5|x1
4|0.25|pow(x0, 2.0f0) + neg(1.5)
6|0.01|cube(x1) - inv(exp(x0 ^ 2))
'''

EXPECTED = [x0, x0**2, sympy.Float(2.5) * x0**2, sympy.Float(2.5) * x0**2 + sympy.cos(x1)]


def numpy_truth(X):
    a, b = X[:, 0], X[:, 1]
    return [a, a**2, 2.5 * a**2, 2.5 * a**2 + np.cos(b)]


def test_read_hall_of_fame(tmp_path):
    path = tmp_path / "hall_of_fame.csv"
    path.write_text(HALL_OF_FAME)
    result = read_hall_of_fame(path)
    assert result.variables == ["x0", "x1"]
    assert [e.complexity for e in result.equations] == [1, 3, 5, 8]
    assert [e.loss for e in result.equations] == [4.6211047, 2.9001236, 0.59478635, 1.2345e-14]
    assert [parse_equation(e.sympy, result.variables) for e in result.equations] == EXPECTED
    losses, sizes = [4.6211047, 2.9001236, 0.59478635, 1.2345e-14], [1, 3, 5, 8]
    pysr_scores = [0.0] + [-math.log(losses[i] / losses[i - 1]) / (sizes[i] - sizes[i - 1]) for i in (1, 2, 3)]
    assert [e.score for e in result.equations] == pytest.approx(pysr_scores, rel=1e-12)
    assert result.selected == 3 and result.model_selection == "best"  # PySR's "best": highest score


def test_read_old_pipe_format_and_julia_literals(tmp_path):
    path = tmp_path / "old.csv"
    path.write_text(OLD_HALL_OF_FAME)
    result = read_hall_of_fame(path)
    assert result.variables == ["x0", "x1"]
    exprs = [parse_equation(e.sympy, result.variables) for e in result.equations]
    assert exprs == [x1, x0 ** sympy.Float(2.0) - sympy.Float(1.5), x1**3 - sympy.exp(-(x0**2))]
    assert [e.loss for e in result.equations] == [3.5, 0.25, 0.01]


def test_variables_given_or_found():
    assert pysr_to_sympy("safe_log(T) * relu(H)", ["T", "H"]) == sympy.log(sympy.Symbol("T")) * sympy.Piecewise(
        (0, sympy.Symbol("H") < 0), (sympy.Symbol("H"), True))
    assert pysr_to_sympy("1.5e-3 * x0 - 2.0f-1", ["x0"]) == sympy.Float(1.5e-3) * x0 - sympy.Float(0.2)


def test_x3_alone_means_four_inputs_and_names_sort_naturally(tmp_path):
    path = tmp_path / "a.csv"
    path.write_text('Complexity,Loss,Equation\n1,1.0,"x3"\n')
    assert read_hall_of_fame(path).variables == ["x0", "x1", "x2", "x3"]
    path.write_text('Complexity,Loss,Equation\n3,1.0,"v10 * v2"\n5,0.5,"(v2 * mass) + v10"\n')
    result = read_hall_of_fame(path)
    assert result.variables == ["mass", "v2", "v10"]
    assert read_hall_of_fame(path, variables=["v10", "v2", "mass"]).variables == ["v10", "v2", "mass"]


def test_pysr_equations_dataframe_csv(tmp_path):
    """``model.equations_.to_csv(path)`` of PySR: an index column, lower-case names, extras."""
    path = tmp_path / "equations.csv"
    frame = pd.DataFrame({"complexity": [1, 5], "loss": [2.0, 0.1], "score": [0.0, 0.7],
                          "equation": ["x0", "(x0 * x1) + x0"], "sympy_format": ["x0", "x0*x1 + x0"],
                          "lambda_format": ["PySRFunction(X=>x0)", "PySRFunction(X=>x0*x1 + x0)"]})
    frame.to_csv(path)
    result = read_hall_of_fame(path)
    assert [parse_equation(e.sympy, result.variables) for e in result.equations] == [x0, x0 * x1 + x0]


@pytest.mark.parametrize("text, match", [
    ("", "empty"),
    ("complexity,error,formula\n1,2,x0\n", "expected Complexity, Loss"),
    ('Complexity,Loss,Equation\n', "no equations"),
    ('Complexity,Loss,Equation\n1,abc,"x0"\n', "line 2"),
    ('Complexity,Loss,Equation\n1,1.0,"x0"\n3,0.5,"frobnicate(x0)"\n', "unknown operator 'frobnicate'"),
    ('Complexity,Loss,Equation\n3,0.5,"(x0 * "\n', "cannot parse"),
    ('Complexity,Loss,Equation\n2.5,0.5,"x0"\n', "positive integer"),
])
def test_bad_csv_is_one_clear_user_error(tmp_path, text, match):
    path = tmp_path / "bad.csv"
    path.write_text(text)
    with pytest.raises(UserError, match=match) as info:
        read_hall_of_fame(path)
    assert "\n" not in str(info.value)


def test_missing_file_and_unknown_variable(tmp_path):
    with pytest.raises(UserError, match="not found"):
        read_hall_of_fame(tmp_path / "none.csv")
    path = tmp_path / "hof.csv"
    path.write_text(HALL_OF_FAME)
    with pytest.raises(UserError, match="x1"):
        read_hall_of_fame(path, variables=["x0"])


def test_write_then_read_back_is_equal(tmp_path):
    source = tmp_path / "hall_of_fame.csv"
    source.write_text(HALL_OF_FAME)
    result = read_hall_of_fame(source)
    out = tmp_path / "written.csv"
    write_hall_of_fame(result, out)
    text = out.read_text()
    assert text.splitlines()[0] == "Complexity,Loss,Equation"
    assert text.splitlines()[4] == '8,1.2345e-14,"2.5*x0^2 + cos(x1)"'
    back = read_hall_of_fame(out, variables=result.variables)
    assert back.equations == result.equations and back.selected == result.selected
    assert not list(tmp_path.glob(".*.tmp"))  # written atomically, nothing left behind


def test_write_a_fitted_front_and_read_it_back(tmp_path):
    X, y = product_law(40)
    model = Regressor(**{**FAST, "maxsize": 7, "niterations": 3}).fit(X, y, variable_names=["a", "E"])
    assert model.variable_names_ == ["a", "_E"]   # a name of a constant is sanitized (E is Euler's number)
    result = model.to_result()
    write_hall_of_fame(result, tmp_path / "hof.csv")
    back = read_hall_of_fame(tmp_path / "hof.csv", variables=["a", "_E"])
    assert [e.complexity for e in back.equations] == [e.complexity for e in result.equations]
    for mine, theirs in zip(result.equations, back.equations):
        assert parse_equation(theirs.sympy, ["a", "_E"]) == parse_equation(mine.sympy, ["a", "_E"])


def test_read_csv_compiles_with_codegen(tmp_path):
    path = tmp_path / "hall_of_fame.csv"
    path.write_text(HALL_OF_FAME)
    result = read_hall_of_fame(path)
    X = np.random.default_rng(3).uniform(-3, 3, size=(1000, 2))
    for eq, truth in zip(result.equations, numpy_truth(X)):
        kernel = codegen.compile(parse_equation(eq.sympy, result.variables), result.variables)
        np.testing.assert_allclose(kernel(X[:, 0].copy(), X[:, 1].copy()), truth, rtol=1e-15, atol=1e-15)


def test_old_format_compiles_with_codegen(tmp_path):
    path = tmp_path / "old.csv"
    path.write_text(OLD_HALL_OF_FAME)
    result = read_hall_of_fame(path)
    X = np.random.default_rng(4).uniform(0.5, 2, size=(500, 2))
    truth = [X[:, 1], X[:, 0] ** 2 - 1.5, X[:, 1] ** 3 - np.exp(-X[:, 0] ** 2)]
    for eq, want in zip(result.equations, truth):
        kernel = codegen.compile(parse_equation(eq.sympy, result.variables), result.variables)
        np.testing.assert_allclose(kernel(X[:, 0].copy(), X[:, 1].copy()), want, rtol=1e-14, atol=1e-14)


# ------------------------------------------------------------------------------- CLI


def run_cli(argv):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = main(argv)
    return rc, out.getvalue(), err.getvalue()


def test_load_result_and_codegen_cli_read_pysr_csv(tmp_path):
    import discover

    path = tmp_path / "hall_of_fame.csv"
    path.write_text(HALL_OF_FAME)
    assert discover.load_result(path).equations == read_hall_of_fame(path).equations
    rc, out, _ = run_cli(["codegen", str(path), "--select", "2"])
    assert rc == 0 and "void kernel(int64_t n, const double *restrict x0, const double *restrict x1" in out
    assert "cos" not in out.split("{", 1)[1].split("}", 1)[0]  # row 2 is 2.5*x0**2
    rc, out, _ = run_cli(["codegen", str(path), "--args", "u,x0,x1"])  # column order given
    assert rc == 0 and "const double *restrict u, const double *restrict x0" in out
    rc, _, err = run_cli(["codegen", str(path), "--args", "u"])
    assert rc == 2 and "x0, x1" in err and "Traceback" not in err


def test_fit_cli_writes_pysr_csv(tmp_path, monkeypatch):
    X, y = product_law(60)
    data = tmp_path / "law.csv"
    np.savetxt(data, np.column_stack([X, y]), delimiter=",", header="x0,x1,y", comments="")
    monkeypatch.setenv("COLUMNS", "200")
    hof = tmp_path / "hall_of_fame.csv"
    rc, out, _ = run_cli(["fit", str(data), "--niterations", "2", "--populations", "1", "--population-size", "16",
                          "--maxsize", "7", "--operators", "+,*", "-q", "--output", str(tmp_path / "r.json"),
                          "--pysr-csv", str(hof)])
    assert rc == 0 and f"PySR hall of fame written to {hof}" in " ".join(out.split())
    from discover.result import load_result

    result = load_result(tmp_path / "r.json")
    back = read_hall_of_fame(hof, variables=result.variables)
    assert [(e.complexity, e.loss) for e in back.equations] == [(e.complexity, e.loss) for e in result.equations]
    assert [parse_equation(e.sympy, back.variables) for e in back.equations] == \
        [parse_equation(e.sympy, result.variables) for e in result.equations]
    rc, _, err = run_cli(["fit", str(data), "--pysr-csv", str(tmp_path / "no" / "h.csv")])
    assert rc == 2 and "does not exist" in err


# ------------------------------------------------------------- what a new user found


def test_a_column_named_like_a_constant_is_renamed_and_round_trips(tmp_path):
    """A column ``E`` beside the constant e: the formula text "E + E*x**2" read back as
    the column twice; such columns are sanitized (``_E``)."""
    import discover

    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"E": rng.uniform(1, 2, 200), "x": rng.uniform(1, 2, 200)})
    y = np.e * frame.x**2 + frame.E
    model = Regressor(**{**FAST, "unary_operators": (), "maxsize": 9, "niterations": 8}).fit(frame, y)
    assert model.variable_names_ == ["_E", "x"]
    model.to_result().save(tmp_path / "r.json")
    loaded = discover.load_result(tmp_path / "r.json")
    expr = parse_equation(loaded.equations[loaded.selected].sympy, loaded.variables)
    assert sympy.simplify(expr - model.sympy()) == 0


def test_clone_and_pickle_keep_a_live_cluster_object_out_of_the_copies():
    import pickle

    class Connection:   # stands for a distributed.Client: it cannot be deep-copied or pickled
        def __deepcopy__(self, memo):
            raise TypeError("cannot pickle '_asyncio.Task' object")

        def __reduce__(self):
            raise TypeError("cannot pickle '_asyncio.Task' object")

    connection = Connection()
    model = Regressor(**FAST, cluster=connection)
    copy = clone(model)
    assert copy.cluster is connection and copy is not model and model.cluster is connection
    X, y = product_law(40)
    fitted = Regressor(**FAST).fit(X, y)
    fitted.cluster = connection
    restored = pickle.loads(pickle.dumps(fitted))
    assert restored.cluster is None and fitted.cluster is connection
    np.testing.assert_array_equal(restored.predict(X), fitted.predict(X))


def test_random_state_none_or_a_generator_gives_a_seed():
    X, y = product_law(40)
    assert Regressor(**{**FAST, "random_state": None}).settings().random_state != \
        Regressor(**{**FAST, "random_state": None}).settings().random_state
    a, b = (Regressor(**{**FAST, "random_state": np.random.RandomState(5)}).settings().random_state for _ in range(2))
    assert a == b and 0 <= a < 2**63
    assert Regressor(**{**FAST, "random_state": None}).fit(X, y).sympy() is not None
    with pytest.raises(UserError, match="random_state must be an integer"):
        Regressor(**{**FAST, "random_state": -1}).settings()


def test_a_dataframe_is_read_by_column_name_and_get_best_is_subscriptable():
    X, y = product_law(60)
    frame = pd.DataFrame(X, columns=["mass", "v"])
    model = Regressor(**{**FAST, "maxsize": 7, "niterations": 3}).fit(frame, y)
    swapped = frame[["v", "mass"]]
    np.testing.assert_allclose(model.equations_.lambda_format.iloc[-1](swapped), y, rtol=1e-12)
    np.testing.assert_allclose(np.asarray(model.jax()(swapped)), y, rtol=1e-12)
    assert model.get_best()["equation"] == model.get_best().equation
    with pytest.raises(ValueError, match="no column 'mass'"):
        model.equations_.lambda_format.iloc[-1](frame.rename(columns={"mass": "m"}))


def test_units_may_name_the_columns_as_in_the_data():
    rng = np.random.default_rng(1)
    frame = pd.DataFrame({"mass (kg)": rng.uniform(1, 2, 50), "v": rng.uniform(1, 2, 50)})
    y = 0.5 * frame["mass (kg)"] * frame.v**2
    model = Regressor(**{**FAST, "niterations": 2}, X_units={"mass (kg)": "kg", "v": "m/s"}, y_units="J")
    assert model.fit(frame, y).variable_names_ == ["mass__kg_", "v"]


def test_a_hall_of_fame_off_the_pareto_front_keeps_the_front(tmp_path):
    """Rows PySR never writes, hand-made: a loss of Inf, two of one complexity, a row no
    better than a simpler one. Inf made every loss "equal" in model selection; two rows of
    one complexity divided by zero in the scores."""
    path = tmp_path / "h.csv"
    path.write_text('Complexity,Loss,Equation\n1,1.0,"-0.5"\n3,0.5,"x0 * x1"\n3,0.4,"x0 + x1"\n'
                    '5,0.45,"x0 * x1 + x0"\n6,0.2,"exp(x0) - x1"\n7,Inf,"x0 - x1"\n')
    result = read_hall_of_fame(path)
    assert [(e.complexity, e.loss) for e in result.equations] == [(1, 1.0), (3, 0.4), (6, 0.2)]
    assert result.selected == 2 and "3 of its 6 rows left out" in result.settings["source"]
    path.write_text('Complexity,Loss,Equation\n1,Inf,"-0.5"\n')
    with pytest.raises(UserError, match="no equation has a finite loss"):
        read_hall_of_fame(path)


def test_pysrs_piecewise_operators_and_constants_are_written_as_pysr_writes_them(tmp_path):
    path = tmp_path / "h.csv"
    path.write_text('Complexity,Loss,Equation\n1,2.0,"0.5123"\n4,1.0,"relu(x0) + greater(x0, x1)"\n'
                    '6,0.5,"cond(x0, x1) * 1.2e-5"\n8,0.4,"relu(-x0) + greater(x1, x0) + cond(-x0, x1)"\n')
    result = read_hall_of_fame(path)
    write_hall_of_fame(result, tmp_path / "out.csv")
    text = (tmp_path / "out.csv").read_text()
    assert '"0.5123"' in text and "relu(x0)" in text and "greater(x0, x1)" in text and "cond(x0, x1)" in text
    # SymPy turns the conditions of these around (relu(-x0) reads x0 > 0): written as read
    assert "relu(-x0)" in text and "greater(x1, x0)" in text and "cond(-x0, x1)" in text
    again = read_hall_of_fame(tmp_path / "out.csv")
    assert [e.sympy for e in again.equations] == [e.sympy for e in result.equations]


def test_codegen_of_a_hall_of_fame_checks_only_the_selected_equation(tmp_path, capsys):
    path = tmp_path / "h.csv"
    path.write_text('Complexity,Loss,Equation\n1,1.0,"0.5"\n3,0.5,"x0 * x1"\n5,0.1,"x0 * x1 + x2"\n')
    assert main(["codegen", str(path), "--select", "1", "--args", "x0,x1", "--lang", "c", "-o", str(tmp_path / "k")]) == 0
    assert "void kernel(int64_t n, const double *x0, const double *x1, double *out0)" in (tmp_path / "k.h").read_text()
    assert main(["codegen", str(path), "--select", "2", "--args", "x0,x1", "--lang", "c", "-o", str(tmp_path / "j")]) == 2
    assert "equation 2 of" in capsys.readouterr().err and not (tmp_path / "j.c").exists()


def test_a_huge_constant_is_not_an_integer_times_pi():
    from search.numbers import sympy_number

    assert sympy_number(1e30) == sympy.Float(1e30) and sympy_number(3 * math.pi / 4) == 3 * sympy.pi / 4
