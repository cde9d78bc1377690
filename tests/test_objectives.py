"""Tests for search.objectives: each shipped objective against a NumPy reference, and the
constant fitters that go with them."""

from __future__ import annotations

import numpy as np
import pytest
from jax.experimental import sparse

from search.constants import derivative_free, levenberg_marquardt
from search.evaluate import Evaluator
from search.expression import const as c, constants, op, var as v
from search.numpy_eval import evaluate
from search.objectives import Custom, LeastSquares, Minimax, row_sum, ulp
from search.operators import CODE

CODES = tuple(CODE[n] for n in ("+", "-", "*", "/", "exp", "sin", "square"))
EXPRS = [
    (v(0),),
    (v(0), op("square")),
    (v(0), op("sin"), v(1), op("*")),
    (c(0.5), v(0), op("*"), op("exp")),
    (v(0), v(1), op("-"), op("square"), v(1), op("+")),
    (c(2.0),),
]


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(5)
    X = rng.uniform(0.5, 2.0, size=(60, 2))
    return X


def values(X):
    return np.array([evaluate(e, X) for e in EXPRS])


def test_row_sum_is_a_sum_independent_of_batch_shape():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(7, 37)).astype(np.float32)
    full = np.asarray(row_sum(x))
    np.testing.assert_allclose(full, x.sum(axis=1), rtol=1e-5)
    for k in range(7):  # each row alone gives the bit-identical result
        assert np.asarray(row_sum(x[k:k + 1]))[0] == full[k]


@pytest.mark.parametrize("scaling", ["affine", "scale", "none"])
def test_least_squares_identity_matches_numpy(data, scaling):
    X = data
    y = np.sin(X[:, 0]) * X[:, 1] + 0.3
    ev = Evaluator(X.T, CODES)
    got = ev.losses(EXPRS, LeastSquares.of(y, scaling=scaling))
    for k, f in enumerate(values(X)):
        cols = {"affine": [f, np.ones_like(f)], "scale": [f], "none": []}[scaling]
        if cols:
            A = np.column_stack(cols)
            coef, *_ = np.linalg.lstsq(A, y, rcond=None)
            resid = A @ coef - y
        else:
            resid = f - y
        assert got[k] == pytest.approx(np.mean(resid**2), rel=2e-3, abs=1e-6), (scaling, k)


@pytest.mark.parametrize("kind", ["dense", "sparse"])
def test_least_squares_with_linear_map_matches_numpy(data, kind):
    """``min_{a,b} mean((a Φf + b Φ1 - t)^2)`` with Φ dense or BCOO sparse."""
    X = data
    rng = np.random.default_rng(1)
    phi = rng.normal(size=(25, len(X))) * (rng.random((25, len(X))) < 0.3)
    t = phi @ (X[:, 0] ** 2) * 1.7 + 0.2 * (phi @ np.ones(len(X)))
    mapped = phi if kind == "dense" else sparse.BCOO.fromdense(phi.astype(np.float32))
    objective = LeastSquares.of(t, phi=mapped)
    got = Evaluator(X.T, CODES).losses(EXPRS, objective)
    for k, f in enumerate(values(X)):
        A = np.column_stack([phi @ f, phi @ np.ones(len(X))])
        coef, *_ = np.linalg.lstsq(A, t, rcond=None)
        ref = np.mean((A @ coef - t) ** 2)
        assert got[k] == pytest.approx(ref, rel=5e-3, abs=1e-5 * np.mean(t**2)), (kind, k)
    assert got[1] < 1e-8 * np.mean(t**2)  # x0**2 explains t exactly
    # the baseline is the loss of the best multiple of Φ1 alone
    c1 = phi @ np.ones(len(X))
    base = np.mean((t - (t @ c1) / (c1 @ c1) * c1) ** 2)
    assert objective.baseline() == pytest.approx(base, rel=1e-4)


def test_minimax_absolute_relative_ulp_match_numpy(data):
    X = data
    t = np.exp(X[:, 0])
    ev = Evaluator(X.T, CODES)
    F = values(X)
    for objective, weight in ((Minimax.absolute(t), np.ones_like(t)), (Minimax.relative(t), 1 / np.abs(t)),
                              (Minimax.ulp(t, "float32"), 1 / ulp(t, "float32"))):
        got = ev.losses(EXPRS, objective)
        ref = np.max(np.abs(F - t) * weight, axis=1)
        np.testing.assert_allclose(got, ref, rtol=1e-5)


def test_ulp_of_float_formats():
    assert ulp(np.array([1.0]), "float32")[0] == 2.0**-23
    assert ulp(np.array([1.999]), "float32")[0] == 2.0**-23
    assert ulp(np.array([0.75]), "float32")[0] == 2.0**-24
    assert ulp(np.array([-8.0]), "float64")[0] == 2.0**-49
    assert ulp(np.array([0.0]), "float32")[0] == np.finfo(np.float32).smallest_subnormal


def test_invalid_candidates_score_inf_under_every_objective(data):
    X = data
    bad = [(v(0), c(0.0), op("/"))]  # x0 / 0 -> inf
    ev = Evaluator(X.T, CODES)
    t = X[:, 0]
    for objective in (LeastSquares.of(t), Minimax.absolute(t),
                      Custom(lambda pop, leaves, data: (pop(leaves) ** 2).mean(axis=1))):
        assert np.isposinf(ev.losses(bad, objective)[0])


def test_levenberg_marquardt_with_a_linear_map(data):
    """Weak-form style: constants fitted through Φ (no scaling): c0 * exp(c1 * x0)."""
    X = data
    rng = np.random.default_rng(2)
    phi = rng.normal(size=(30, len(X)))
    t = phi @ (1.5 * np.exp(0.7 * X[:, 0]))
    objective = LeastSquares.of(t, phi=phi, scaling="none")
    expr = (c(1.0), c(1.0), v(0), op("*"), op("exp"), op("*"))
    fitted, losses = levenberg_marquardt(Evaluator(X.T, CODES), objective, [expr], iterations=30)
    c0, c1 = constants(fitted[0])
    assert c0 == pytest.approx(1.5, rel=1e-3) and c1 == pytest.approx(0.7, rel=1e-3)
    assert losses[0] < 1e-6 * np.mean(t**2)


def test_derivative_free_fits_a_minimax_line():
    """The best linear minimax approximation of exp on [0, 1] has max error 0.10593
    (Chebyshev equioscillation); the derivative-free fitter gets within 2 % of it."""
    x = np.linspace(0.0, 1.0, 201)
    objective = Minimax.absolute(np.exp(x))
    expr = (c(1.0), c(1.0), v(0), op("*"), op("+"))
    ev = Evaluator(x[None, :], CODES)
    start = ev.losses([expr], objective)[0]
    fitted, losses = derivative_free(ev, objective, [expr], iterations=150, seed=0)
    assert losses[0] < 0.108 < start
    assert ev.losses(fitted, objective)[0] == pytest.approx(losses[0], rel=1e-5)
