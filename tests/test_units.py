"""Physical units: unit strings, propagation of dimensions through formulas (right ones
accepted, wrong ones penalized), free vs dimensionless constants, the Feynman units table
(every true formula consistent), the final front's ranking, a real search with units, and
bad units from the API, the CLI and HDF5 attributes (one clear line, exit 2)."""

from __future__ import annotations

import csv
import pickle
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest
import sympy

from discover import Regressor
from discover.cli import main
from discover.data import load_dataset
from discover.errors import UserError
from discover.formula.problem import formula_problem, polish_front
from discover.units import UnitError, fit_dimensions, format_dimension, parse_unit, parse_unit_list
from search.expression import from_sympy
from search.pareto import Member, select
from search.units import DIMENSIONLESS, DimensionCheck, DimensionPenalty, propagate

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
import feynman  # noqa: E402

KG, SPEED, JOULE, SECOND = parse_unit("kg"), parse_unit("m/s"), parse_unit("J"), parse_unit("s")


# ----------------------------------------------------------------------------- parsing


@pytest.mark.parametrize("text, expected", [
    ("kg*m/s^2", "m kg s^-2"),
    ("kg m^2 s^-2", "m^2 kg s^-2"),
    ("m**2/(s*K)", "m^2 s^-1 K^-1"),
    ("J/(mol K)", "m^2 kg s^-2 K^-1 mol^-1"),
    ("J/kg/K", "m^2 s^-2 K^-1"),
    ("m s-1", "m s^-1"),
    ("m²/s", "m^2 s^-1"),
    ("m^(1/2)", "m^(1/2)"),
    ("m**0.5", "m^(1/2)"),
    ("(m/s)^2", "m^2 s^-2"),
    ("N", "m kg s^-2"),
    ("W", "m^2 kg s^-3"),
    ("Pa", "m^-1 kg s^-2"),
    ("V", "m^2 kg s^-3 A^-1"),
    ("ohm", "m^2 kg s^-3 A^-2"),
    ("Ω", "m^2 kg s^-3 A^-2"),
    ("T", "kg s^-2 A^-1"),
    ("F/m", "m^-3 kg^-1 s^4 A^2"),
])
def test_parse_good_units(text, expected):
    assert format_dimension(parse_unit(text)) == expected


@pytest.mark.parametrize("text", ["1", "", "dimensionless", "rad", " 1 ", "m/m", "1/s*s"])
def test_dimensionless_spellings(text):
    assert parse_unit(text) == DIMENSIONLESS
    assert parse_unit(1) == DIMENSIONLESS


@pytest.mark.parametrize("text", ["kJ", "MPa", "mm", "ms", "uA", "µA", "kohm", "GHz", "meV"])
def test_prefixes_keep_the_dimension(text):
    bare = {"kJ": "J", "MPa": "Pa", "mm": "m", "ms": "s", "uA": "A", "µA": "A", "kohm": "ohm", "GHz": "Hz",
            "meV": "eV"}[text]
    assert parse_unit(text) == parse_unit(bare)


@pytest.mark.parametrize("text, fragment", [
    ("kgg", "unknown unit 'kgg'"),
    ("mkg", "unknown unit 'mkg'"),      # no prefix on kg
    ("h", "unknown unit 'h'"),          # a prefix alone
    ("m/", "unexpected end"),
    ("m^", "a power is missing"),
    ("m^x", "a power must be a number"),
    ("(m", "unbalanced '('"),
    ("m)", "unexpected ')'"),
    ("2 m", "the number 2 is not a unit"),
    ("kg$", "unexpected '$'"),
    ("m^1/0", "divides by zero"),
])
def test_bad_unit_strings_get_one_clear_line(text, fragment):
    with pytest.raises(UnitError) as info:
        parse_unit(text, "feature 'x'")
    message = str(info.value)
    assert fragment in message and "\n" not in message
    assert f"bad unit {text!r} for feature 'x'" in message
    assert "kg*m/s^2" in message  # says what is accepted
    assert isinstance(info.value, UserError)


def test_unit_list():
    assert parse_unit_list("m=kg, v=m/s, y=J") == {"m": "kg", "v": "m/s", "y": "J"}
    assert parse_unit_list(" a = 1 ,") == {"a": "1"}
    for bad, fragment in [("m kg", "NAME=UNIT"), ("=kg", "NAME=UNIT"), ("m=kg, m=s", "given twice"),
                          ("m=, v=m/s", "the unit of 'm' is empty"),
                          ("m=kgg", "unknown unit 'kgg'"), ("", "no units given")]:
        with pytest.raises(UnitError, match=fragment):
            parse_unit_list(bad)


def test_fit_dimensions_checks_names_and_lengths():
    names = ["m", "v"]
    assert fit_dimensions(None, None, names) is None
    assert fit_dimensions(["kg", "m/s"], "J", names) == ((KG, SPEED), JOULE)
    assert fit_dimensions({"v": "m/s", "m": "kg"}, None, names) == ((KG, SPEED), None)
    for X_units, y_units, fragment in [(None, "J", "y_units needs X_units"), (["kg"], None, "1 units for 2"),
                                       ({"m": "kg"}, None, "no unit for feature 'v'"),
                                       ({"m": "kg", "v": "m/s", "w": "s"}, None, "'w', which is not a feature"),
                                       ("kg", None, "not a string"), (["kg", "m/ss"], None, "feature 'v'")]:
        with pytest.raises(UnitError, match=fragment):
            fit_dimensions(X_units, y_units, names)


# -------------------------------------------------------------------------- propagation


def expr_of(text: str, names=("m", "v", "t")):
    symbols = {n: sympy.Symbol(n) for n in names}
    return from_sympy(sympy.sympify(text, locals=symbols, evaluate=False), list(names))


def check(output=JOULE, **kw) -> DimensionCheck:
    return DimensionCheck((KG, SPEED, SECOND), output, **kw)


@pytest.mark.parametrize("text", ["0.5*m*v**2", "m*v**2", "m*v*v/2", "sqrt(m*v**2)*sqrt(m)*v", "(m*v)**2/m",
                                  "m*v**2*exp(t/t)", "m*v**2*cos(3*t/t)", "m*(v - v*t/t)**2", "m*v**2*(1 + 1/t*t)"])
def test_right_formulas_are_accepted(text):
    for wildcard in (True, False):
        assert check(wildcard_constants=wildcard).consistent(expr_of(text)), (text, wildcard)


@pytest.mark.parametrize("text", ["m + v", "exp(m)", "sin(v)", "log(t)", "m*v**2 + m", "m*v",
                                  "m*v**2*exp(t)", "sqrt(m)*v", "m**t*v**2"])
def test_wrong_formulas_are_rejected(text):
    for wildcard in (True, False):
        assert not check(wildcard_constants=wildcard).consistent(expr_of(text)), (text, wildcard)


def test_free_constants_take_any_dimension():
    # A free constant absorbs a dimension: 2.5*m*v (a constant of unit m/s ...) and exp(c*t) pass.
    loose, strict = check(), check(wildcard_constants=False)
    for text in ["2.5*m*v", "m*v**2 + 3.1", "m*v**2*exp(2.0*t)", "1.7*exp(m*2.0)"]:
        assert loose.consistent(expr_of(text)), text
        assert not strict.consistent(expr_of(text)), text
    # ... but not where the dimensions meet without one.
    assert not loose.consistent(expr_of("m + v + 2.0"))
    assert propagate(expr_of("2.5*m*v"), loose.leaves).free
    assert not propagate(expr_of("m*v"), loose.leaves).free


def test_output_dimension_and_the_free_scale():
    """With a fitted scale of any dimension (linear scaling, free constants) only the
    inside is checked; without one, the output must be y's."""
    e = expr_of("m*v")
    assert not check().consistent(e)
    assert check(free_scale=True).consistent(e)
    assert check(output=None).consistent(e)
    assert not check(free_scale=True).consistent(expr_of("m + v"))
    verdict = propagate(expr_of("m*v**2/t"), check().leaves)
    assert verdict.consistent and format_dimension(verdict.dimension) == "m^2 kg s^-3"


def test_pow_with_constant_and_variable_exponents():
    leaves = check().leaves
    assert format_dimension(propagate(expr_of("v**3.0"), leaves, False).dimension) == "m^3 s^-3"
    assert format_dimension(propagate(expr_of("m**1.5000001"), leaves, False).dimension) == "kg^(3/2)"
    assert propagate(expr_of("(t/t)**v"), leaves).consistent is False       # a dimensional exponent
    assert propagate(expr_of("(v*t/t/v)**(m/m)"), leaves).consistent is True
    assert propagate(expr_of("2.0**(m/m)"), leaves).consistent is True


def test_penalty_adds_the_amount_to_violators_only():
    penalty = DimensionPenalty(check(), 7.0)
    exprs = [expr_of("m*v**2"), expr_of("m + v"), expr_of("exp(m)")]
    assert penalty(exprs).tolist() == [0.0, 7.0, 7.0]
    clone = pickle.loads(pickle.dumps(penalty))  # a search shipped to another process
    assert clone(exprs).tolist() == [0.0, 7.0, 7.0]


# ---------------------------------------------------------------------------- Feynman


def feynman_units() -> dict[str, dict[str, str]]:
    return feynman.read_units(feynman.DEFAULT_UNITS)


@pytest.mark.skipif(not feynman.DEFAULT_DATA.exists(), reason="shared Feynman set not present")
def test_feynman_true_formulas_are_consistent_with_the_units_table():
    """Checks the table and the checker together: each true formula passes with
    dimensionless constants (physical constants are variables there) and the output's
    unit; with a wrong output unit every one fails."""
    table = feynman_units()
    equations = feynman.read_equations(feynman.DEFAULT_DATA)
    assert len(equations) == 50 and set(table) == {e["name"] for e in equations}
    metre = parse_unit("m")
    for eq in equations:
        names = [v[0] for v in eq["variables"]]
        units = table[eq["name"]]
        assert set(units) == set(names) | {eq["output"]}, eq["name"]
        truth = from_sympy(sympy.sympify(eq["formula"], locals={n: sympy.Symbol(n) for n in names}), names)
        leaves = [parse_unit(units[n]) for n in names]
        output = parse_unit(units[eq["output"]])
        for wildcard in (True, False):
            assert DimensionCheck(leaves, output, wildcard_constants=wildcard).consistent(truth), eq["name"]
        wrong = tuple(a + b for a, b in zip(output, metre))
        assert not DimensionCheck(leaves, wrong, wildcard_constants=False).consistent(truth), eq["name"]


def test_feynman_unit_settings():
    eq = {"variables": [("m", 1, 5), ("g", 1, 5), ("z", 1, 5)], "output": "U",
          "units": feynman_units()["I.14.3"], "dimensionless_constants": True}
    assert feynman.unit_settings(eq) == dict(X_units=["kg", "m/s^2", "m"], y_units="J",
                                             dimensionless_constants_only=True)
    assert feynman.unit_settings({"variables": []}) == {}


# ------------------------------------------------------------------------ final front


def energy_data(n=200, seed=0):
    rng = np.random.default_rng(seed)
    X = np.column_stack([rng.uniform(1, 5, n), rng.uniform(1, 5, n), rng.uniform(1, 5, n)])
    return X, 0.5 * X[:, 0] * X[:, 1] ** 2


def test_polished_front_ranks_violators_below_consistent_formulas():
    """y = m v^2/2 + v/10 in J: m*v**2 + 0.2*v is exact but adds J to m/s (with pure-number
    constants); m*v**2 fits less well but is consistent, and is selected."""
    X, y = energy_data()
    y = y + 0.1 * X[:, 1]
    consistent, violator = expr_of("m*v*v"), expr_of("m*v*v + 0.2*v")
    members = [Member(consistent, 0.0, 5), Member(violator, 0.0, 9)]
    plain = polish_front(members, X, y, True, 3)
    assert len(plain) == 2 and select(plain, "best") == 1  # without units the exact violator wins
    problem = formula_problem(X, y, leaf_dimensions=(KG, SPEED, SECOND), output_dimension=JOULE,
                              dimensionless_constants_only=True)
    front = problem.finish(members)
    chosen = front[select(front, "best")]
    assert chosen.loss < 1.0 and check(wildcard_constants=False).consistent(chosen.expr)
    assert len(front) == 1  # the violator, penalized, is off the front


def test_strict_constants_drop_the_intercept_when_y_has_a_dimension():
    X, y = energy_data()
    units = dict(leaf_dimensions=(KG, SPEED, SECOND), output_dimension=JOULE)
    assert formula_problem(X, y, **units).objective.scaling == "affine"
    assert formula_problem(X, y, **units, dimensionless_constants_only=True).objective.scaling == "scale"
    assert formula_problem(X, y, leaf_dimensions=(KG, SPEED, SECOND), output_dimension=DIMENSIONLESS,
                           dimensionless_constants_only=True).objective.scaling == "affine"
    problem = formula_problem(X, y, **units)
    assert problem.penalty.amount == pytest.approx(1000.0 * problem.baseline_loss())
    assert formula_problem(X, y).penalty is None


# ------------------------------------------------------------------------ real search


def test_search_with_units_selects_a_consistent_formula():
    X, y = energy_data(300)
    model = Regressor(binary_operators=("+", "-", "*", "/"), unary_operators=("square", "exp"), maxsize=12,
                      populations=2, population_size=32, ncycles_per_iteration=10, niterations=4,
                      X_units=["kg", "m/s", "s"], y_units="J", dimensionless_constants_only=True, random_state=0)
    model.fit(X, y, variable_names=["m", "v", "t"])
    m, v = sympy.symbols("m v")
    assert sympy.simplify(model.sympy() - m * v**2 / 2) == 0, model.sympy()
    chosen = from_sympy(model.sympy(), ["m", "v", "t"])
    assert check(wildcard_constants=False).consistent(chosen)
    assert model.get_params()["X_units"] == ["kg", "m/s", "s"]
    assert model.stats_["dimensionally_consistent"] is True


def test_a_selection_that_violates_the_units_is_flagged():
    """No formula of a time alone, with pure-number constants, is an energy."""
    X, y = energy_data(100)
    model = Regressor(populations=1, population_size=16, niterations=1, ncycles_per_iteration=2,
                      X_units=["s"], y_units="J", dimensionless_constants_only=True, random_state=0)
    model.fit(X[:, 2:], y, variable_names=["t"])
    assert model.stats_["dimensionally_consistent"] is False


@pytest.mark.parametrize("params, fragment", [
    (dict(X_units=["kg", "furlong"]), "unknown unit 'furlong'"),
    (dict(X_units=["kg"]), "1 units for 2 features"),
    (dict(y_units="J"), "y_units needs X_units"),
    (dict(X_units=["kg", "m/s"], dimensional_constraint_penalty=-1.0), "dimensional_constraint_penalty"),
    (dict(X_units=["kg", "m/s"], dimensional_constraint_penalty="high"), "dimensional_constraint_penalty"),
])
def test_regressor_bad_units(params, fragment):
    X, y = energy_data(50)
    with pytest.raises(UserError, match=fragment):
        Regressor(niterations=1, **params).fit(X[:, :2], y)


# ------------------------------------------------------------------------- CLI, HDF5


def write_h5(path: Path, columns: dict, units: dict) -> Path:
    with h5py.File(path, "w", track_order=True) as handle:
        for name, values in columns.items():
            handle[name] = values
            if name in units:
                handle[name].attrs["units"] = units[name]
    return path


def columns():
    X, y = energy_data(100)
    return {"m": X[:, 0], "v": X[:, 1], "y": y}


def test_hdf5_units_attributes_are_read(tmp_path):
    path = write_h5(tmp_path / "e.h5", columns(), {"m": "kg", "v": "m/s", "y": "J"})
    assert load_dataset(path).units == {"m": "kg", "v": "m/s", "y": "J"}
    with h5py.File(tmp_path / "x.h5", "w") as handle:
        handle["X"] = np.ones((4, 2))
        handle["X"].attrs["units"] = np.array([b"kg", b"m/s"])
        handle["y"] = np.ones(4)
        handle["y"].attrs["units"] = "J"
    assert load_dataset(tmp_path / "x.h5").units == {"x0": "kg", "x1": "m/s", "y": "J"}
    assert load_dataset(write_h5(tmp_path / "n.h5", columns(), {})).units == {}


@pytest.mark.parametrize("units_arg, attrs, fragment", [
    ("m=kgg, v=m/s, y=J", {}, "bad unit 'kgg' for 'm'"),
    ("m=kg, speed=m/s", {}, "--units names 'speed', which is not a column"),
    ("y=J", {}, "for the target 'y' only"),
    ("m=kg", {}, "no unit for feature 'v'"),
    (None, {"m": "kg", "v": "m/ss"}, "bad unit 'm/ss' for feature 'v'"),
    ("m bad", {}, "NAME=UNIT"),
])
def test_cli_bad_units_one_line_exit_2(tmp_path, capsys, units_arg, attrs, fragment):
    data = write_h5(tmp_path / "e.h5", columns(), attrs)
    output = tmp_path / "out.json"
    argv = ["fit", str(data), "--quiet", "--time-limit", "5", "-o", str(output)]
    if units_arg is not None:
        argv += ["--units", units_arg]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("discover fit: error:") and fragment in err and "\n" not in err, err
    assert not output.exists()


def test_feynman_units_file_parses():
    rows = [line for line in open(feynman.DEFAULT_UNITS, encoding="utf-8") if not line.startswith("#")]
    assert len(list(csv.DictReader(rows))) == 50
