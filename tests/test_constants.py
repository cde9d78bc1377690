"""Tests for search.constants: batched Levenberg-Marquardt constant fitting, with both
evaluator backends (the native float64 fitter and the compiled JAX one)."""

from __future__ import annotations

import numpy as np
import pytest

from search.constants import fit_constants
from search.evaluate import Evaluator
from search.objectives import LeastSquares
from search.expression import constants
from search.operators import CODE, CONST
from search.expression import const as c, op, var as v




CODES = tuple(CODE[n] for n in ("+", "-", "*", "/", "square", "cos", "exp", "log"))

# c0 * x0**2 + cos(c1 * x1), both constants starting at 1.0
TARGET_FORM = (c(1.0), v(0), op("square"), op("*"), c(1.0), v(1), op("*"), op("cos"), op("+"))


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    X = rng.uniform(-3, 3, size=(200, 2))
    y = 2.5 * X[:, 0] ** 2 + np.cos(1.7 * X[:, 1])
    return X, y


ITERATIONS = 30  # one value throughout: it is a static argument (one compilation per value)


@pytest.fixture(scope="module")
def evaluators(data):
    """One evaluator per scaling mode, shared so that each compiles once (its capacity freezes
    after the first call; later batches fit or are split)."""
    X, y = data
    return {(flag, backend): Scored(X, y, flag, backend) for flag in (True, False) for backend in BACKENDS}


BACKENDS = ("native", "jax")


class Scored:
    """The evaluator and least-squares objective the formula job builds, as one object."""

    def __init__(self, X, y, linear_scaling, backend):
        self.ev = Evaluator(X.T, CODES, backend=backend)
        self.objective = LeastSquares.of(y, scaling="affine" if linear_scaling else "none")

    def losses(self, exprs):
        return self.ev.losses(exprs, self.objective)

    def fit(self, exprs, iterations):
        return fit_constants(self.ev, self.objective, exprs, iterations=iterations)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("linear_scaling", [True, False])
def test_recovers_constants(data, evaluators, linear_scaling, backend):
    X, y = data
    ev = evaluators[linear_scaling, backend]
    fitted, losses = ev.fit([TARGET_FORM], ITERATIONS)
    c0, c1 = constants(fitted[0])
    assert c0 == pytest.approx(2.5, rel=1e-3)
    assert abs(c1) == pytest.approx(1.7, rel=1e-3)  # cos is even: -1.7 fits as well
    assert losses[0] < 1e-6 * np.var(y)
    # the returned loss is the evaluator's loss of the returned expression
    assert ev.losses(fitted)[0] == pytest.approx(losses[0], rel=1e-3, abs=1e-6 * np.var(y))
    # the structure is untouched
    assert [n[0] for n in fitted[0]] == [n[0] for n in TARGET_FORM]


@pytest.mark.parametrize("backend", BACKENDS)
def test_batch_mixes_fits_unchanged_and_invalid(data, evaluators, backend):
    """A whole population at once: each expression is fitted independently; expressions
    without constants come back as they are; an invalid one gets an infinite loss and does
    not disturb the others."""
    X, y = data
    ev = evaluators[True, backend]
    no_consts = (v(0), op("square"), v(1), op("cos"), op("+"))
    invalid = (v(0), c(1.0), op("-"), op("log"))  # log of negatives for x0 < 1: NaN whatever c is
    exp_form = (c(0.3), v(0), op("*"), op("exp"))  # fits y only roughly
    exprs = [no_consts, TARGET_FORM, invalid, exp_form, TARGET_FORM]
    fitted, losses = ev.fit(exprs, ITERATIONS)
    assert fitted[0] is no_consts or fitted[0] == no_consts
    assert losses[0] == pytest.approx(ev.losses([no_consts])[0], rel=1e-5)
    for k in (1, 4):
        c0, c1 = constants(fitted[k])
        assert c0 == pytest.approx(2.5, rel=1e-3) and abs(c1) == pytest.approx(1.7, rel=1e-3)
        assert losses[k] < 1e-6 * np.var(y)
    assert np.isposinf(losses[2])
    assert constants(fitted[2]) == [1.0] or np.all(np.isfinite(constants(fitted[2])))
    assert np.isfinite(losses[3])
    assert losses[3] <= ev.losses([exp_form])[0] * (1 + 1e-6)  # never worse than the start


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("linear_scaling", [True, False])
def test_without_constants_returned_unchanged(data, evaluators, linear_scaling, backend):
    ev = evaluators[linear_scaling, backend]
    exprs = [(v(0),), (v(0), v(1), op("*")), (v(1), op("cos"), op("square"))]
    fitted, losses = ev.fit(exprs, ITERATIONS)
    assert fitted == exprs
    np.testing.assert_allclose(losses, ev.losses(exprs), rtol=1e-6)


def test_the_native_fitter_is_no_worse_than_the_jax_one_on_a_population(data, evaluators):
    """Random expressions with constants: the float64 forward-difference fitter reaches at
    least the JAX fitter's loss on almost every one (and never crashes on invalid ones)."""
    from search.mutate import Grammar, random_expr

    rng = np.random.default_rng(7)
    grammar = Grammar(n_vars=2, binary=CODES[:4], unary=CODES[4:], maxsize=20, const_probability=0.5)
    exprs = [e for e in (random_expr(rng, grammar, int(rng.integers(3, 16))) for _ in range(300))
             if any(n[0] == CONST for n in e)]
    _, native = evaluators[True, "native"].fit(exprs, ITERATIONS)
    _, jax_losses = evaluators[True, "jax"].fit(exprs, ITERATIONS)
    both = np.isfinite(native) & np.isfinite(jax_losses)
    assert both.sum() > 100
    assert np.mean(native[both] <= jax_losses[both] * 1.01 + 1e-9) > 0.9


def test_native_fitter_takes_overflowing_constants_silently():
    """Constants at 1e300 or inf make invalid candidates (infinite loss), never warnings or
    errors, and do not disturb the other expressions of the batch."""
    import warnings

    X = np.random.default_rng(0).uniform(1, 3, (1, 50))
    ev = Evaluator(X, (CODE["exp"], CODE["*"]), backend="native")
    objective = LeastSquares.of(np.exp(0.5 * X[0]))
    exprs = [(c(1e300), v(0), op("*"), op("exp")), (c(np.inf), v(0), op("*")), (c(2.0), v(0), op("*"), op("exp"))]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fitted, losses = fit_constants(ev, objective, exprs, iterations=8)
    assert np.isposinf(losses[:2]).all()
    assert constants(fitted[2])[0] == pytest.approx(0.5, rel=1e-6) and losses[2] < 1e-10
