"""Tests for search.evaluate: the batched JAX evaluator against the float64 NumPy reference,
its losses (invalid candidates, linear scaling), and its promise not to recompile."""

from __future__ import annotations

import numpy as np
import pytest

from search.evaluate import Evaluator
from search.objectives import LeastSquares
from search.expression import constants, with_constants
from search.mutate import Grammar, random_expr
from search.numpy_eval import evaluate
from search.operators import CODE, CONST, OPERATORS, VAR, operator_of
from search.expression import const as c, op, var as v

ALL_BINARY = tuple(CODE[op.name] for op in OPERATORS if op.arity == 2)
ALL_UNARY = tuple(CODE[op.name] for op in OPERATORS if op.arity == 1)
ALL_CODES = ALL_BINARY + ALL_UNARY
F32 = np.finfo(np.float32)




class Scored:
    """An evaluator and a least-squares objective on ``X (R, n)``, ``y (R,)``, as the formula job builds them."""

    def __init__(self, X, y, codes, linear_scaling=True):
        self.ev = Evaluator(np.asarray(X).T, codes)
        self.objective = LeastSquares.of(y, scaling="affine" if linear_scaling else "none")

    def losses(self, exprs, capacity=None):
        return self.ev.losses(exprs, self.objective, capacity)

    def predict(self, exprs, capacity=None):
        return self.ev.values(exprs, capacity)


def to_f32(expr):
    """``expr`` with its constants rounded to float32, as the evaluator sees them."""
    return tuple((code, float(np.float32(val))) if code == CONST else (code, val) for code, val in expr)


TRIG = {CODE[name] for name in ("sin", "cos", "tan") if name in CODE}
from search.operators import TRIG_RANGE  # the evaluator's float32 trig range, stated once


def float32_run(expr, X, rng):
    """``expr`` evaluated in float32 with NumPy, every intermediate result flushed like XLA on CPU
    (denormals -> 0) and jittered by about one float32 rounding: one sample of the error a float32
    evaluation may legitimately make.  Returns the values and a mask of the rows where a sin, cos
    or tan argument is outside the documented accuracy range of the evaluator's float32 versions."""
    n = X.shape[0]
    stack = []
    wild = np.zeros(n, dtype=bool)
    with np.errstate(all="ignore"):
        for code, val in expr:
            if code == CONST:
                stack.append(np.full(n, val, np.float32))
            elif code == VAR:
                stack.append(X[:, int(val)].astype(np.float32))
            else:
                o = operator_of(code)
                args = stack[-o.arity:]
                del stack[-o.arity:]
                if code in TRIG:
                    wild |= ~(np.abs(args[0]) < TRIG_RANGE)
                r = np.asarray(o.numpy(*args), dtype=np.float32)
                r = r * (1 + rng.uniform(-1.2e-7, 1.2e-7, n)).astype(np.float32)
                r = np.where(np.abs(r) < F32.tiny, np.float32(0) * r, r)
                stack.append(r)
    return stack[-1].astype(np.float64), wild


@pytest.fixture(scope="module")
def population():
    rng = np.random.default_rng(7)
    g = Grammar(n_vars=3, binary=ALL_BINARY, unary=ALL_UNARY, maxsize=100)
    return [random_expr(rng, g, size) for size in list(range(1, 31)) * 10]


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(3)
    X = rng.uniform(-2.0, 2.0, size=(48, 3)).astype(np.float32).astype(np.float64)
    y = np.sin(X[:, 0]) + X[:, 1] * X[:, 2]
    return X, y


def test_random_population_covers_every_operator(population):
    used = {code for e in population for code, _ in e}
    assert set(ALL_CODES) <= used
    assert {len(e) for e in population} >= set(range(1, 31)) - {2}  # size 2 is no tree


def test_predict_matches_float64_numpy_reference(population, data):
    """One batched call for 300 random expressions over all operators.

    An element must match the float64 reference to a relative 1e-4, or, where the expression
    is ill-conditioned there, to the spread that float32 rounding itself produces (measured by
    a few jittered float32 NumPy runs).  NaN positions must be equal wherever float32
    rounding cannot change whether the value is NaN.
    """
    X, _ = data
    ev = Scored(X, np.zeros(len(X)), ALL_CODES)
    P = ev.predict(population)
    assert P.shape == (len(population), len(X))
    rng = np.random.default_rng(0)
    plain_ok = checked = 0
    for k, expr in enumerate(population):
        e32 = to_f32(expr)
        ref = evaluate(e32, X)
        results = [float32_run(e32, X, rng) for _ in range(4)]
        runs = np.array([r for r, _ in results])
        tame = ~np.any([w for _, w in results], axis=0)
        got = P[k]
        nan_ref, nan_runs, nan_got = np.isnan(ref), np.isnan(runs), np.isnan(got)
        settled = tame & ((nan_runs.all(0) & nan_ref) | (~nan_runs.any(0) & ~nan_ref))
        assert np.array_equal(nan_got[settled], nan_ref[settled]), (k, expr)
        with np.errstate(all="ignore"):
            usable = tame & np.isfinite(ref) & np.isfinite(runs).all(0) & (np.abs(ref) < 1e30)
            spread = np.max(np.abs(runs - ref), axis=0)
            err = np.abs(got - ref)
            plain = err <= 1e-4 * np.abs(ref) + 1e-6
            allowed = plain | (err <= 8 * spread + 1e-4 * np.abs(ref) + 1e-6)
        bad = usable & ~allowed
        assert not bad.any(), (k, expr, got[bad], ref[bad], spread[bad])
        checked += usable.sum()
        plain_ok += (usable & plain).sum()
    assert checked > 0.4 * P.size  # many random candidates are NaN on [-2, 2] (log, sqrt of negatives)
    assert plain_ok > 0.97 * checked  # the conditioning allowance is the exception


def test_predict_simple_expressions_exactly(data):
    X, _ = data
    ev = Scored(X, np.zeros(len(X)), (CODE["-"], CODE["/"], CODE["cos"], CODE["square"]))
    exprs = [
        (v(0),),
        (c(2.5),),
        (v(0), v(1), op("-")),
        (v(1), v(0), op("-")),  # operand order matters
        (v(0), v(1), op("/")),
        (v(1), op("cos"), c(3.0), op("/")),
        (v(2), op("square"), op("square")),
    ]
    P = ev.predict(exprs)
    x0, x1, x2 = X.T
    expected = [x0, np.full_like(x0, 2.5), x0 - x1, x1 - x0, x0 / x1, np.cos(x1) / 3, x2**4]
    for got, want in zip(P, expected):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def test_invalid_candidates_get_infinite_loss(data):
    X, _ = data
    X = X.copy()
    X[5, 1] = 0.0  # a zero divisor in one row
    X[:, 2] = -np.abs(X[:, 2]) - 0.1  # all negative
    y = X[:, 0] + 1.0
    ev = Scored(X, y, (CODE["+"], CODE["/"], CODE["log"], CODE["sqrt"], CODE["exp"]))
    exprs = [
        (v(0), v(1), op("/")),  # division by zero in one row -> inf
        (v(2), op("log")),  # log of negative -> NaN
        (v(2), op("sqrt")),  # sqrt of negative -> NaN
        (c(0.0), c(0.0), op("/")),  # 0/0 -> NaN
        (c(1000.0), v(0), op("+"), op("exp")),  # overflow in float32 -> inf
        (v(0), c(1.0), op("+")),  # exact: loss 0
        (v(0),),  # fine after linear scaling: loss 0
    ]
    losses = ev.losses(exprs)
    assert losses.shape == (7,)
    assert np.all(np.isposinf(losses[:5])), losses
    assert losses[5] == pytest.approx(0.0, abs=1e-10)
    assert losses[6] == pytest.approx(0.0, abs=1e-10)
    preds = ev.predict(exprs)
    assert np.isinf(preds[0, 5]) and np.isfinite(np.delete(preds[0], 5)).all()
    assert np.isnan(preds[1]).all() and np.isnan(preds[2]).all()


def test_linear_scaling_loss_is_least_squares_minimum(population, data):
    X, y = data
    ev = Scored(X, y, ALL_CODES)
    pop = population
    losses = ev.losses(pop)
    preds = ev.predict(pop)
    compared = 0
    for k, expr in enumerate(pop):
        f = preds[k]
        if not np.isfinite(f).all():
            assert np.isposinf(losses[k])
            continue
        if np.abs(f).max() > 1e6:  # float32 scaling of huge outputs: not a fair comparison
            continue
        A = np.column_stack([f, np.ones_like(f)])
        coef, *_ = np.linalg.lstsq(A, y, rcond=None)
        best = np.mean((A @ coef - y) ** 2)
        assert losses[k] == pytest.approx(best, rel=2e-3, abs=1e-5 * np.var(y)), (k, expr)
        compared += 1
    assert compared > 60


def test_linear_scaling_of_constant_output_is_variance(data):
    X, y = data
    ev = Scored(X, y, (CODE["+"],))
    assert ev.losses([(c(3.0),)])[0] == pytest.approx(np.var(y), rel=1e-5)


def test_plain_mse_without_linear_scaling(data):
    X, y = data
    ev = Scored(X, y, (CODE["+"], CODE["*"], CODE["sin"]), linear_scaling=False)
    exprs = [(v(0), op("sin"),), (v(0), op("sin"), v(1), v(2), op("*"), op("+")), (c(2.0), v(0), op("*"))]
    losses = ev.losses(exprs)
    x0, x1, x2 = X.T
    for loss, f in zip(losses, [np.sin(x0), np.sin(x0) + x1 * x2, 2 * x0]):
        assert loss == pytest.approx(np.mean((f - y) ** 2), rel=1e-5, abs=1e-9)
    assert losses[1] < 1e-10


def test_no_recompile_and_losses_do_not_depend_on_the_batch(population, data):
    """A population that fits the compiled sizes reuses the call; a bigger one grows them
    once.  A candidate's loss is bit-identical whichever batch it is scored in (alone, in
    another order, beside other candidates): the search's path never depends on batching."""
    X, y = data
    ev = Scored(X, y, ALL_CODES)
    first = population[:150]
    first_losses = ev.losses(first)
    compiled = ev.ev.compilations
    # A similar population (the same shapes, new constants, another order): no compilation.
    rng = np.random.default_rng(1)
    second = [with_constants(e, rng.normal(size=len(constants(e)))) for e in first[::-1]]
    second_losses = ev.losses(second)
    assert ev.ev.compilations == compiled
    assert second_losses.shape == (150,)
    # The same expressions in another batch, and one by one in a call site of their own.
    shuffled = rng.permutation(len(first))
    again = ev.losses([first[k] for k in shuffled])
    np.testing.assert_array_equal(again, first_losses[shuffled])
    alone = Scored(X, y, ALL_CODES)
    cap = alone.ev.new_capacity()
    alone.ev.plan(first, cap)  # size the call site once for all of them (planning does not compile)
    for k in range(0, 150, 7):
        assert alone.losses([first[k]], cap)[0] == first_losses[k] or (
            np.isinf(first_losses[k]) and np.isinf(alone.losses([first[k]], cap)[0])), (k, first[k])
        np.testing.assert_array_equal(alone.predict([first[k]], cap)[0], ev.predict([first[k]])[0])


def test_empty_and_single_leaf_populations(data):
    X, y = data
    ev = Scored(X, y, (CODE["+"],))
    assert ev.losses([]).shape == (0,)
    loss = ev.losses([(v(0),)])
    f = X[:, 0]
    A = np.column_stack([f, np.ones_like(f)])
    coef, *_ = np.linalg.lstsq(A, y, rcond=None)
    assert loss[0] == pytest.approx(np.mean((A @ coef - y) ** 2), rel=1e-4)


def test_trig_is_accurate_or_invalid_for_large_arguments():
    """Up to 2**16 the float32 trig matches float64; beyond, it is NaN (an invalid
    candidate), never a wrong finite value."""
    X = np.zeros((4, 1))
    ev = Scored(X, np.zeros(4), (CODE["sin"], CODE["cos"], CODE["tan"]))
    inside = [1e3, 1e4, 6e4]
    outside = [2.0**17, 1e6, 1e10, 1e20, 3e38]
    names = ("sin", "cos", "tan")
    exprs = [(c(x), op(name)) for name in names for x in inside + outside]
    P = ev.predict(exprs)[:, 0].reshape(len(names), -1)
    for row, name in zip(P, names):
        ref = getattr(np, name)(np.float32(inside).astype(np.float64))
        np.testing.assert_allclose(row[: len(inside)], ref, rtol=2e-3, atol=2e-3)
        assert np.all(np.isnan(row[len(inside):])), (name, row)
    losses = ev.losses(exprs)
    assert np.all(np.isinf(losses.reshape(len(names), -1)[:, len(inside):]))


def test_one_thread_cpu_pool_in_a_fresh_process_keeps_every_cpu_and_jax_works():
    """search.jax_setup.one_thread_cpu_pool: done once, before JAX's backends exist; every
    thread gets the process's whole affinity back; JAX computes as before."""
    import os
    import subprocess
    import sys

    code = ("import os\n"
            "from search.jax_setup import one_thread_cpu_pool\n"
            "cpus = os.sched_getaffinity(0)\n"
            "first, second = one_thread_cpu_pool(), one_thread_cpu_pool()\n"
            "import jax.numpy as jnp\n"
            "total = float(jnp.arange(10.0).sum())\n"
            "threads = [os.sched_getaffinity(int(t)) for t in os.listdir('/proc/self/task')]\n"
            "print(first, second, total, all(t == cpus for t in threads))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    first, second, total, whole = out.stdout.split()
    assert first == str(len(os.sched_getaffinity(0)) > 1) and second == "False"
    assert float(total) == 45.0 and whole == "True"


def test_the_search_pool_is_left_to_xla_where_jax_evaluates():
    """one_thread_pool_for_search: not with DISCOVER_EVALUATOR=jax (the JAX evaluator on
    the CPU wants XLA's threads); JAX's backends are then still to be created."""
    import os
    import subprocess
    import sys

    code = ("from search.evaluate import one_thread_pool_for_search\n"
            "from jax._src.xla_bridge import backends_are_initialized\n"
            "print(one_thread_pool_for_search(), backends_are_initialized())\n")
    env = {**os.environ, "DISCOVER_EVALUATOR": "jax"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split() == ["False", "False"]
