"""The native population interpreter (codegen.interpreter) as the search's CPU evaluator."""

import numpy as np
import pytest
import sympy

from search import native, operators
from search.evaluate import Evaluator, choose_backend
from search.mutate import Grammar, random_expr
from search.numpy_eval import evaluate
from search.objectives import LeastSquares, Minimax
from search.operators import BUILTIN, CONST, VAR, Operator

ALL_UNARY = tuple(op.name for op in BUILTIN.operators if op.arity == 1)
ALL_BINARY = tuple(op.name for op in BUILTIN.operators if op.arity == 2)


def _population(n, n_vars=3, seed=0, ops=BUILTIN, unary=ALL_UNARY, ternary=("fma",)):
    rng = np.random.default_rng(seed)
    grammar = Grammar(n_vars=n_vars, binary=ops.resolve(ALL_BINARY, 2), unary=ops.resolve(unary, 1),
                      maxsize=30, ternary=ops.resolve(ternary, 3), ops=ops)
    return [random_expr(rng, grammar, int(rng.integers(1, 25))) for _ in range(n)], grammar


def _codes(grammar):
    return grammar.binary + grammar.unary + grammar.ternary


def test_every_operator_matches_float64_numpy_where_well_conditioned():
    """Each operator alone, on arguments inside its domain, to float32 accuracy."""
    rng = np.random.default_rng(1)
    X = np.stack([rng.uniform(0.2, 0.9, 700), rng.uniform(1.1, 3.0, 700), rng.uniform(-2, 2, 700)])
    exprs = []
    for op in BUILTIN.operators:
        code = BUILTIN.code[op.name]
        exprs.append(tuple([(VAR, 0.0), (VAR, 1.0), (CONST, 0.5)][: op.arity]) + ((code, 0.0),))
    evaluator = Evaluator(X, [BUILTIN.code[op.name] for op in BUILTIN.operators], backend="native")
    got = evaluator.values(exprs)
    for op, expr, row in zip(BUILTIN.operators, exprs, got):
        want = evaluate(expr, X.T)
        np.testing.assert_allclose(row, want, rtol=3e-6, atol=1e-6, err_msg=op.name)


def test_native_and_jax_backends_agree_on_random_populations():
    exprs, grammar = _population(400)
    X = np.random.default_rng(2).uniform(0.5, 3.0, (3, 300))
    a = Evaluator(X, _codes(grammar), backend="native").values(exprs)
    b = Evaluator(X, _codes(grammar), backend="jax").values(exprs)
    assert a.shape == b.shape == (400, 300)
    finite_a, finite_b = np.isfinite(a), np.isfinite(b)
    both = finite_a & finite_b & (np.abs(b) < 1e6)
    # where float32 rounding is not amplified (most rows), the two agree closely
    close = np.isclose(a, b, rtol=1e-3, atol=1e-5) | ~both
    assert close.mean() > 0.99
    assert (finite_a == finite_b).mean() > 0.99


def test_trig_range_gives_nan_natively_as_in_jax():
    X = np.array([[1.0, operators.TRIG_RANGE * 2, -operators.TRIG_RANGE * 4]])
    expr = ((VAR, 0.0), (BUILTIN.code["sin"], 0.0))
    for backend in ("native", "jax"):
        values = Evaluator(X, [BUILTIN.code["sin"]], backend=backend).values([expr])[0]
        assert values[0] == pytest.approx(np.sin(1.0), rel=1e-6)
        assert np.isnan(values[1:]).all(), backend


def test_losses_agree_with_the_jax_backend_for_shipped_objectives():
    exprs, grammar = _population(300, seed=3, unary=("neg", "square", "exp", "log", "sin", "cos"))
    rng = np.random.default_rng(4)
    X = rng.uniform(0.5, 3.0, (3, 200))
    target = X[0] * np.sin(X[1]) + 0.3
    native_ev = Evaluator(X, _codes(grammar), backend="native")
    jax_ev = Evaluator(X, _codes(grammar), backend="jax")
    for objective in (LeastSquares.of(target), LeastSquares.of(target, scaling="none"), Minimax.absolute(target)):
        a = native_ev.losses(exprs, objective)
        b = jax_ev.losses(exprs, objective)
        assert (np.isinf(a) == np.isinf(b)).mean() > 0.98
        ok = np.isfinite(a) & np.isfinite(b)
        assert ok.sum() > 100
        assert np.median(np.abs(a[ok] - b[ok]) / np.maximum(np.abs(b[ok]), 1e-6)) < 1e-4
    # the true law scores zero (up to float32) natively
    law = ((VAR, 0.0), (VAR, 1.0), (BUILTIN.code["sin"], 0.0), (BUILTIN.code["*"], 0.0))
    assert native_ev.losses([law], LeastSquares.of(target))[0] < 1e-10


def _reference_loss(g, t, scaling):
    """Least squares after the optimal scaling, in float64 NumPy (two passes)."""
    g = g.astype(np.float64)
    if not np.isfinite(g).all():
        return np.inf
    tiny = 1e6 * len(t) * np.finfo(np.float32).tiny
    if scaling == "affine":
        gp, tp = g - g.mean(), t - t.mean()
        a = gp @ tp / (gp @ gp) if gp @ gp > tiny else 0.0
        r = a * gp - tp
    elif scaling == "scale":
        a = g @ t / (g @ g) if g @ g > tiny else 0.0
        r = a * g - t
    else:
        r = g - t
    return np.mean(r * r)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("scaling", ["affine", "scale", "none"])
def test_native_row_losses_match_a_float64_reference_row_by_row(dtype, scaling):
    from codegen.row_losses import RowLosses

    rng = np.random.default_rng(6)
    R = 333  # not a multiple of any vector width
    t = rng.normal(size=R) * 3 + 1
    g = (rng.normal(size=(40, R)) + 5).astype(dtype)
    g[1, 7], g[2, 300], g[3, 0] = np.nan, np.inf, -np.inf
    g[4] = 2.0  # constant: scores as the best constant
    g[5] = (0.5 * t - 2).astype(dtype)  # an exact law up to the values' rounding
    g[6] = 1e30
    losses = RowLosses(t, dtype, scaling)(g)
    want = np.array([_reference_loss(row, t, scaling) for row in g])
    assert np.isinf(losses[1:4]).all() and np.isinf(want[1:4]).all()
    ok = np.isfinite(want)
    np.testing.assert_allclose(losses[ok], want[ok], rtol=1e-12, atol=1e-12 * np.mean(t * t))
    if scaling == "affine":
        assert losses[4] == pytest.approx(np.var(t), rel=1e-12)
        assert losses[5] < (1e-13 if dtype == "float32" else 1e-28) * np.var(t)
    # a row's loss does not depend on the rows it is scored with
    alone = np.array([RowLosses(t, dtype, scaling)(g[k:k + 1])[0] for k in range(len(g))])
    np.testing.assert_array_equal(alone, losses)


def test_native_row_losses_are_used_only_for_unmapped_least_squares():
    X = np.random.default_rng(7).uniform(1, 2, (1, 50))
    target = 3 * X[0]
    phi = np.eye(50)[::3]  # a map: every third row
    assert native.row_losses(LeastSquares.of(target, scaling="scale")) is not None
    assert native.row_losses(LeastSquares.of(phi @ target, phi=phi)) is None
    assert native.row_losses(Minimax.absolute(target)) is None
    evaluator = Evaluator(X, [BUILTIN.code["*"]], backend="native")
    law = ((VAR, 0.0), (CONST, 3.0), (BUILTIN.code["*"], 0.0))
    for objective in (LeastSquares.of(target, scaling="none"), LeastSquares.of(phi @ target, phi=phi, scaling="none")):
        assert evaluator.losses([law, ((VAR, 0.0),)], objective)[0] < 1e-12


def test_an_operator_added_in_the_test_is_interpreted_natively():
    sinh = Operator("sinh", 1, np.sinh, None, sympy.sinh, sympy_function=sympy.sinh)
    ops = BUILTIN.with_operators(sinh)
    X = np.linspace(-3, 3, 50)[None]
    expr = ((VAR, 0.0), (CONST, 0.5), (ops.code["*"], 0.0), (ops.code["sinh"], 0.0))
    assert choose_backend(None, ops, np.float32) == "native"
    values = Evaluator(X, [ops.code["*"], ops.code["sinh"]], ops, backend="native").values([expr])[0]
    np.testing.assert_allclose(values, np.sinh(0.5 * X[0]), rtol=2e-6)


def test_an_operator_set_that_arrives_pickled_reuses_its_compiled_interpreter():
    """A Dask task unpickles the problem's operator set with new function objects (so it
    compares unequal); its interpreter is the one already compiled for the same forms."""
    import cloudpickle

    ops = BUILTIN.with_operators(Operator("twice", 1, lambda a: 2 * a, lambda a: 2 * a, lambda a: 2 * a))
    copy = cloudpickle.loads(cloudpickle.dumps(ops))
    assert copy != ops
    assert native.interpreter(copy) is native.interpreter(ops) is not None
    different = BUILTIN.with_operators(Operator("twice", 1, lambda a: 3 * a, lambda a: 3 * a, lambda a: 3 * a))
    assert native.interpreter(different) is not native.interpreter(ops)


def test_an_operator_codegen_cannot_lower_falls_back_to_jax():
    mystery = sympy.Function("mystery")
    op = Operator("mystery", 1, np.tanh, lambda a: a, mystery, sympy_function=mystery)
    ops = BUILTIN.with_operators(op)
    assert native.interpreter(ops, "float32") is None
    assert choose_backend("auto", ops, np.float32) == "jax"
    with pytest.raises(ValueError, match="no native evaluator"):
        choose_backend("native", ops, np.float32)
    with pytest.raises(ValueError, match="backend must be one of"):
        choose_backend("gpu", ops, np.float32)


@pytest.mark.parametrize("bad, message", [
    (((VAR, 0.0), (99, 0.0)), "not among the evaluator's codes"),
    (((VAR, 5.0),), "outside the 2 leaves"),
    (((VAR, 0.0), (VAR, 1.0)), "not a valid postfix"),
    (((VAR, 0.0), (BUILTIN.code["+"], 0.0)), "not a valid postfix"),
])
def test_what_the_interpreter_trusts_is_checked_first(bad, message):
    evaluator = Evaluator(np.ones((2, 10)), [BUILTIN.code["+"]], backend="native")
    with pytest.raises(ValueError, match=message):
        evaluator.values([((VAR, 1.0),), bad])


def test_the_native_check_names_each_fault_and_passes_valid_populations():
    from codegen.interpreter import NOT_POSTFIX, UNKNOWN_CODE, VARIABLE_OUTSIDE
    from search.native import flatten

    evaluator = Evaluator(np.ones((2, 10)), [BUILTIN.code["+"], BUILTIN.code["exp"]], backend="native")
    plus, exp = BUILTIN.code["+"], BUILTIN.code["exp"]

    def check(*exprs):
        return evaluator._interpreter.check(*flatten(exprs), evaluator._arity_or_absent, evaluator.n_vars)

    assert check(((VAR, 1.0), (CONST, 2.0), (plus, 0.0), (exp, 0.0)), ((CONST, 3.0),)) == 0
    assert check(((VAR, 0.0),), ((VAR, 0.0), (BUILTIN.code["*"], 0.0))) == UNKNOWN_CODE | NOT_POSTFIX
    assert check(((VAR, 2.0),)) == check(((VAR, -1.0),)) == check(((VAR, float("nan")),)) == VARIABLE_OUTSIDE
    assert check(((VAR, 0.0), (VAR, 1.0))) == NOT_POSTFIX          # two values left
    assert check(((plus, 0.0),)) == NOT_POSTFIX                    # an operator without operands
    assert check((), ((CONST, 1.0),)) == NOT_POSTFIX                # an empty expression
    assert check(((CONST, 1.0), (10_000, 0.0))) & UNKNOWN_CODE     # past the table


def test_many_rows_span_several_tiles_and_leaf_roots_copy_through():
    from codegen.interpreter import TILE

    rows = 3 * TILE + 17
    X = np.random.default_rng(5).uniform(1, 2, (2, rows))
    exprs = [((VAR, 1.0),), ((CONST, 2.5),), ((VAR, 0.0), (VAR, 1.0), (BUILTIN.code["/"], 0.0))]
    values = Evaluator(X, [BUILTIN.code["/"]], backend="native").values(exprs)
    np.testing.assert_allclose(values[0], X[1], rtol=1e-7)
    assert (values[1] == 2.5).all()
    np.testing.assert_allclose(values[2], X[0] / X[1], rtol=1e-6)


def test_native_search_is_deterministic_and_finds_a_law():
    from discover.formula import formula_problem
    from search.evolve import SearchSettings, search

    rng = np.random.default_rng(0)
    X = rng.uniform(1, 3, (400, 2))
    y = X[:, 0] * np.exp(-X[:, 1])
    settings = SearchSettings(niterations=6, populations=4, population_size=24, random_state=3,
                              timeout_in_seconds=None)
    fronts = []
    for _ in range(2):
        result = search(formula_problem(X, y, seed=3), settings)
        fronts.append([(m.expr, m.loss) for m in result.front])
    assert fronts[0] == fronts[1]
    assert min(loss for _, loss in fronts[0]) < 1e-10
