"""Tests for discover.pde.derivatives (finite differences, spectral, Savitzky–Golay) and
discover.pde.weak (test functions, weak-form integrals, query grids, automatic half-widths).

Exact derivatives come from SymPy, so every check is against the true derivative."""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp
from scipy.special import beta

from discover.errors import DataError
from discover.pde.derivatives import derivative, fd_weights, uniform_spacing
from discover.pde.weak import (
    WeakForm,
    bump,
    choose_half_widths,
    default_degree,
    spectral_corner,
)

T, X, Y = sp.symbols("t x y")


def evaluate(expr, symbols, grids):
    """``expr`` evaluated on the meshgrid ``grids`` (float64, full shape)."""
    values = sp.lambdify(symbols, expr, "numpy")(*grids)
    return np.broadcast_to(np.asarray(values, dtype=np.float64), grids[0].shape).copy()


def rel_err(a, b):
    return float(np.abs(a - b).max() / np.abs(b).max())


# --------------------------------------------------------------------------- spacing


def test_uniform_spacing_accepts_uniform_grid():
    assert uniform_spacing(np.linspace(0.0, 2.0, 201), "x") == pytest.approx(0.01, rel=1e-14)


def test_uniform_spacing_allows_for_float32_rounding_only():
    """float32 linspace(0, 100, 1001) has spacings that differ by 7.6e-5 of the step: uniform
    to its precision (as float32, or as the same values in float64), as are coordinates
    written with 6 significant digits (1.6e-4: they were refused); a 2e-3 wobble of the
    same grid held in float64 is not."""
    t = np.linspace(0.0, 100.0, 1001)
    assert uniform_spacing(t.astype(np.float32), "t") == pytest.approx(0.1, rel=1e-6)
    assert uniform_spacing(t.astype(np.float32).astype(np.float64), "t") == pytest.approx(0.1, rel=1e-6)
    six_digits = np.array([float(f"{v:.6g}") for v in np.linspace(0.0, 5.0, 101) + 1e-9])
    assert uniform_spacing(six_digits, "t") == pytest.approx(0.05, rel=1e-6)
    wobbly = t + 1e-4 * np.sin(np.arange(t.size))
    with pytest.raises(DataError, match="not uniformly spaced"):
        uniform_spacing(wobbly, "t")
    import warnings
    with warnings.catch_warnings():   # beyond float32's range: float64 rounding, no cast warning
        warnings.simplefilter("error")
        assert uniform_spacing(np.linspace(0, 1e300, 11), "x") == pytest.approx(1e299)


@pytest.mark.parametrize(
    "coord, words",
    [
        (np.r_[0.0, 0.1, 0.2, 0.31, 0.4], "not uniformly spaced"),
        (np.r_[0.0, 0.2, 0.1, 0.3], "not strictly increasing"),
        (np.r_[0.0, 0.1, 0.1, 0.2], "not strictly increasing"),
        (np.r_[0.0], "at least 2"),
        (np.r_[0.0, np.nan, 0.2], "NaN"),
    ],
)
def test_uniform_spacing_rejects_bad_coordinates(coord, words):
    with pytest.raises(DataError, match=words) as info:
        uniform_spacing(coord, "x")
    assert "'x'" in str(info.value)


def test_nonuniform_message_says_what_to_do():
    coord = np.cumsum(np.r_[0.0, np.full(50, 0.1), 0.103])
    with pytest.raises(DataError, match=r"spacing varies by .*%\); resample the data onto a uniform grid"):
        uniform_spacing(coord, "x")


# ----------------------------------------------------------------------- derivatives


def test_fd_weights_are_the_classical_stencils():
    np.testing.assert_allclose(fd_weights(1, range(-1, 2)), [-0.5, 0.0, 0.5], atol=1e-15)
    np.testing.assert_allclose(fd_weights(2, range(-1, 2)), [1.0, -2.0, 1.0], atol=1e-15)
    np.testing.assert_allclose(fd_weights(1, range(0, 3)), [-1.5, 2.0, -0.5], atol=1e-15)
    np.testing.assert_allclose(fd_weights(4, range(-2, 3)), [1.0, -4.0, 6.0, -4.0, 1.0], atol=1e-13)


PERIODIC = sp.exp(sp.sin(X)) + 0.3 * sp.cos(2 * X)


def periodic_case(nx: int):
    """(u, x-grid, spacing) on a 2-D (nt, nx) array; derivatives along axis 1."""
    t = np.linspace(0.0, 1.0, 3)
    x = np.linspace(0.0, 2 * np.pi, nx, endpoint=False)
    grids = np.meshgrid(t, x, indexing="ij")
    expr = PERIODIC * (1 + T)
    return expr, grids, x[1] - x[0]


@pytest.mark.parametrize("order, tol", [(1, 3e-6), (2, 2e-6), (3, 3e-5), (4, 2e-5)])
def test_fd_periodic(order, tol):
    expr, grids, h = periodic_case(64)
    u = evaluate(expr, (T, X), grids)
    exact = evaluate(sp.diff(expr, X, order), (T, X), grids)
    assert rel_err(derivative(u, h, 1, order, "fd", periodic=True), exact) < tol


def test_fd_periodic_converges_at_sixth_order():
    errors = []
    for nx in (64, 128):
        expr, grids, h = periodic_case(nx)
        u = evaluate(expr, (T, X), grids)
        errors.append(rel_err(derivative(u, h, 1, 2, periodic=True), evaluate(sp.diff(expr, X, 2), (T, X), grids)))
    assert errors[0] / errors[1] > 2**6 * 0.8


GAUSS = sp.exp(-((X - 0.3) ** 2)) * (1 + 0.5 * X)  # not periodic: large values and slopes at the ends


@pytest.mark.parametrize("order, tol", [(1, 1e-6), (2, 1e-5), (3, 5e-5), (4, 5e-4)])
def test_fd_nonperiodic_with_one_sided_edges(order, tol):
    x = np.linspace(-1.5, 2.0, 141)
    u = evaluate(GAUSS, (X,), [x])
    exact = evaluate(sp.diff(GAUSS, X, order), (X,), [x])
    got = derivative(u, x[1] - x[0], 0, order, "fd")
    assert rel_err(got, exact) < tol
    # the edges are as good as the interior, up to the larger one-sided error constant
    edge = np.abs(got - exact)[[0, 1, -2, -1]].max() / np.abs(exact).max()
    assert edge < tol


def test_fd_axis_zero_of_a_3d_array():
    t = np.linspace(0.0, 1.0, 41)
    grids = np.meshgrid(t, np.arange(3.0), np.arange(2.0), indexing="ij")
    expr = sp.sin(2 * T) * (1 + X) + Y
    u = evaluate(expr, (T, X, Y), grids)
    got = derivative(u, t[1] - t[0], 0, 1)
    assert got.shape == u.shape
    assert rel_err(got, evaluate(sp.diff(expr, T), (T, X, Y), grids)) < 1e-8


@pytest.mark.parametrize("order", [1, 2, 3, 4])
def test_spectral_is_exact_to_rounding(order):
    # 48 points resolve exp(sin x) to rounding; more would only amplify rounding by k^order
    expr, grids, h = periodic_case(48)
    u = evaluate(expr, (T, X), grids)
    exact = evaluate(sp.diff(expr, X, order), (T, X), grids)
    assert rel_err(derivative(u, h, 1, order, "spectral", periodic=True), exact) < 1e-10


def test_spectral_odd_order_zeroes_nyquist():
    x = np.arange(8.0)
    u = np.cos(np.pi * x)  # pure Nyquist mode
    assert np.abs(derivative(u, 1.0, 0, 1, "spectral", periodic=True)).max() < 1e-12
    np.testing.assert_allclose(derivative(u, 1.0, 0, 2, "spectral", periodic=True), -np.pi**2 * u, atol=1e-12)


def test_spectral_needs_periodic_axis():
    with pytest.raises(ValueError, match="periodic"):
        derivative(np.zeros(16), 0.1, 0, 1, "spectral", periodic=False)


@pytest.mark.parametrize("order, noise, tol", [(1, 1e-4, 0.02), (2, 1e-5, 0.1)])
def test_savgol_on_noisy_data_beats_finite_differences(order, noise, tol):
    rng = np.random.default_rng(1)
    x = np.linspace(0.0, 2 * np.pi, 400, endpoint=False)
    h = x[1] - x[0]
    noisy = np.sin(x) + noise * rng.standard_normal(x.size)
    exact = np.sin(x + order * np.pi / 2)
    for periodic in (True, False):
        sg = derivative(noisy, h, 0, order, "savgol", periodic=periodic)
        fd = derivative(noisy, h, 0, order, "fd", periodic=periodic)
        assert rel_err(sg, exact) < tol
        assert rel_err(sg, exact) < rel_err(fd, exact) / 2


def test_savgol_wider_window_smooths_more():
    rng = np.random.default_rng(2)
    x = np.linspace(0.0, 2 * np.pi, 400, endpoint=False)
    noisy = np.sin(x) + 1e-2 * rng.standard_normal(x.size)
    h = x[1] - x[0]
    narrow = rel_err(derivative(noisy, h, 0, 1, "savgol", periodic=True), np.cos(x))
    wide = rel_err(derivative(noisy, h, 0, 1, "savgol", periodic=True, window=41, polyorder=3), np.cos(x))
    assert wide < narrow / 3


def test_too_few_points_is_a_data_error():
    message = r"axis 'x' has 5 points; a 4th derivative with finite differences of accuracy 6 needs at least 10"
    with pytest.raises(DataError, match=message):
        derivative(np.zeros(5), 0.1, 0, 4, "fd", name="x")
    with pytest.raises(DataError, match="needs at least 9"):
        derivative(np.zeros(8), 0.1, 0, 4, "fd", periodic=True, name="x")
    with pytest.raises(DataError, match="Savitzky-Golay"):
        derivative(np.zeros(6), 0.1, 0, 1, "savgol", name="x")
    # spectral: 4 periodic points hold no 2nd derivative (strong-form fits on them were nonsense)
    with pytest.raises(DataError, match="axis 'x' has 4 points; a 2nd derivative with spectral differentiation "
                                        "needs at least 5"):
        derivative(np.zeros(4), 0.1, 0, 2, "spectral", periodic=True, name="x")
    assert derivative(np.zeros(5), 0.1, 0, 2, "spectral", periodic=True, name="x").shape == (5,)


def test_invalid_arguments_are_value_errors():
    with pytest.raises(ValueError, match="unknown derivative method"):
        derivative(np.zeros(20), 0.1, 0, 1, "magic")
    with pytest.raises(ValueError, match="even"):
        derivative(np.zeros(20), 0.1, 0, 1, accuracy=3)
    with pytest.raises(ValueError, match=">= 1"):
        derivative(np.zeros(20), 0.1, 0, 0)
    with pytest.raises(ValueError, match="polyorder"):
        derivative(np.zeros(20), 0.1, 0, 3, "savgol", window=7, polyorder=2)


# ------------------------------------------------------------------- test functions


def test_bump_derivatives_match_the_polynomial():
    s = np.linspace(-1.0, 1.0, 101)
    for p in (3, 8):
        poly = np.polynomial.Polynomial([1.0, 0.0, -1.0]) ** p
        for r in range(0, 3):
            np.testing.assert_allclose(bump(s, p, r), poly.deriv(r)(s), atol=1e-10 * np.abs(poly.deriv(r)(s)).max())
    assert np.all(bump(np.array([-1.5, 1.01, 3.0]), 6, 2) == 0.0)
    with pytest.raises(ValueError):
        bump(s, 4, 4)


def test_default_degree_rule():
    for m in (8, 12, 20, 40):
        for r in (1, 4):
            p = default_degree(m, r)
            assert p >= r + 2
            s = np.linspace(-1.0, 1.0, 4001)
            peak = np.abs(bump(s, p, r)).max()
            assert abs(bump(np.array([1 - 1 / m]), p, r)[0]) <= 1e-10 * peak
            assert abs(bump(np.array([1 - 1 / m]), p - 1, r)[0]) > 1e-10 * peak or p - 1 < r + 2
    assert default_degree(12, 4) > default_degree(40, 4)


# ------------------------------------------------------------------ weak identities

U2 = sp.exp(-0.3 * T) * sp.sin(X) + 0.5 * sp.cos(2 * X - T) + 0.2 * sp.sin(3 * X + 0.5 * T**2)


def case_1d(periodic: bool):
    t = np.linspace(0.0, 2.0, 201)
    x = np.linspace(0.0, 2 * np.pi, 128, endpoint=False)
    grids = np.meshgrid(t, x, indexing="ij")
    wf = WeakForm(grids[0].shape, (t[1] - t[0], x[1] - x[0]), (20, 20), periodic=(periodic,))
    return wf, grids


@pytest.mark.parametrize("periodic", [True, False])
@pytest.mark.parametrize("alpha", [(1, 0), (0, 1), (0, 2), (0, 3), (0, 4), (1, 2)])
def test_weak_identity_1d(periodic, alpha):
    """∫ φ_k ∂^α u (exact derivative, quadrature) == (-1)^|α| ∫ ∂^α φ_k u, to ~1e-10."""
    wf, grids = case_1d(periodic)
    u = evaluate(U2, (T, X), grids)
    exact = evaluate(sp.diff(U2, T, alpha[0], X, alpha[1]), (T, X), grids)
    assert rel_err(wf.term(u, alpha), wf.integrate(exact, (0, 0))) < 1e-9


def test_weak_identity_nonlinear_term():
    """(u²)_x as a term: integration by parts of a nonlinear g(u) = u²."""
    wf, grids = case_1d(True)
    u = evaluate(U2, (T, X), grids)
    exact = evaluate(sp.diff(U2**2, X), (T, X), grids)
    assert rel_err(wf.term(u**2, (0, 1)), wf.integrate(exact)) < 1e-9


U3 = sp.exp(-0.2 * T) * sp.sin(X) * sp.cos(2 * Y) + 0.3 * sp.cos(X + Y - T) + 0.1 * sp.sin(2 * X) * T


@pytest.mark.parametrize("alpha", [(1, 0, 0), (0, 1, 0), (0, 0, 2), (0, 2, 2), (0, 0, 4), (1, 1, 1)])
def test_weak_identity_2d(alpha):
    t = np.linspace(0.0, 1.0, 81)
    x = np.linspace(0.0, 2 * np.pi, 64, endpoint=False)
    y = np.linspace(0.0, 2 * np.pi, 48, endpoint=False)
    grids = np.meshgrid(t, x, y, indexing="ij")
    wf = WeakForm(grids[0].shape, (t[1] - t[0], x[1] - x[0], y[1] - y[0]), (16, 16, 16), periodic=(True, True))
    assert wf.grid_shape == (4, 4, 3)
    u = evaluate(U3, (T, X, Y), grids)
    exact = evaluate(sp.diff(U3, T, alpha[0], X, alpha[1], Y, alpha[2]), (T, X, Y), grids)
    assert rel_err(wf.term(u, alpha), wf.integrate(exact)) < 1e-9


def test_integrate_is_a_quadrature_of_the_integral():
    """Σ φ_k ΔtΔx against the exact integral Π_d m_d Δ_d B(1/2, p_d + 1) of the bump."""
    wf = WeakForm((101, 80), (0.01, 0.05), (20, 16), periodic=(True,))
    got = wf.integrate(np.ones(wf.shape))
    expected = np.prod([m * h * beta(0.5, p + 1) for m, h, p in zip(wf.half_widths, wf.spacings, wf.degrees)])
    np.testing.assert_allclose(got, expected, rtol=1e-12)


def test_term_sign_convention():
    wf, grids = case_1d(True)
    u = evaluate(U2, (T, X), grids)
    np.testing.assert_array_equal(wf.term(u, (0, 1)), -wf.integrate(u, (0, 1)))
    np.testing.assert_array_equal(wf.term(u, (1, 1)), wf.integrate(u, (1, 1)))


# ------------------------------------------------------------- matrices and queries


@pytest.mark.parametrize("periodic", [(True,), (False,)])
@pytest.mark.parametrize("alpha", [(0, 0), (1, 0), (0, 3)])
def test_matrix_equals_integrate(periodic, alpha):
    rng = np.random.default_rng(4)
    wf = WeakForm((60, 50), (0.1, 0.2), (6, 7), periodic=periodic)
    values = rng.standard_normal(wf.shape)
    phi = wf.matrix(alpha)
    assert phi.shape == (wf.n_queries, values.size) and phi.format == "csr"
    assert phi.nnz <= wf.n_queries * 11 * 13  # ψ^(r)(±1) = 0: at most 2m - 1 non-zeros per axis
    np.testing.assert_allclose(phi @ values.ravel(), wf.integrate(values, alpha), rtol=1e-12, atol=1e-14)


def test_matrix_equals_integrate_3d_and_restricted():
    rng = np.random.default_rng(5)
    wf = WeakForm((30, 20, 24), (0.1, 0.2, 0.3), (4, 3, 5), periodic=(True, False))
    values = rng.standard_normal(wf.shape)
    np.testing.assert_allclose(wf.matrix((1, 2, 0)) @ values.ravel(), wf.integrate(values, (1, 2, 0)), atol=1e-12)
    rows = np.array([5, 0, 5, wf.n_queries - 1])
    sub = wf.restrict(rows)
    assert sub.n_queries == 4 and wf.n_queries == np.prod(wf.grid_shape)
    np.testing.assert_array_equal(sub.integrate(values, (0, 1, 1)), wf.integrate(values, (0, 1, 1))[rows])
    np.testing.assert_allclose(sub.matrix((0, 1, 1)) @ values.ravel(), sub.integrate(values, (0, 1, 1)), atol=1e-12)
    np.testing.assert_array_equal(sub.query_centers(), wf.query_centers()[rows])
    again = sub.restrict([1, 3])
    np.testing.assert_array_equal(again.rows, rows[[1, 3]])
    assert "4 of" in sub.describe()


def test_query_order_is_c_order_over_the_center_grid():
    wf = WeakForm((50, 40), (0.1, 0.1), (5, 4), periodic=(True,))
    kt, kx = wf.grid_shape
    centers = wf.query_centers()
    assert centers.shape == (kt * kx, 2)
    np.testing.assert_array_equal(centers[kx + 2], [wf.centers[0][1], wf.centers[1][2]])
    # a field that is a delta at one grid point is seen by the queries whose supports cover it
    delta = np.zeros(wf.shape)
    delta[wf.centers[0][1], wf.centers[1][2]] = 1.0
    assert int(np.argmax(wf.integrate(delta))) == kx + 2


def test_centers_keep_supports_inside_time_and_nonperiodic_axes():
    wf = WeakForm((101, 64, 50), (0.1, 0.1, 0.1), (10, 8, 6), periodic=(True, False))
    t, x, y = wf.centers
    assert t.min() >= 10 and t.max() <= 100 - 10
    assert y.min() >= 6 and y.max() <= 49 - 6
    assert x.min() == 0 and len(x) == 8  # periodic: wraps, stride 8 over 64 points
    assert np.all(np.diff(t) == 10)
    for axis in range(3):
        w = wf.axis_weights(axis, 1)
        assert w.shape == (len(wf.centers[axis]), wf.shape[axis])
        assert not w.flags.writeable
        assert wf.axis_weights(axis, 1) is w  # cached


def test_describe():
    wf = WeakForm((253, 448), (0.01, 0.02), (12, 14), degrees=(6, 6), periodic=(True,))
    assert wf.describe() == "K = 20 × 32 = 640 test functions, half-widths (12, 14) points, degrees (6, 6)"


def test_max_queries_is_honoured():
    wf = WeakForm((2001, 4096), (0.01, 0.01), (10, 10), periodic=(True,), max_queries=1000)
    assert 600 <= wf.n_queries <= 1000
    assert all(s >= 10 for s in wf.strides)
    small = WeakForm((2001, 4096), (0.01, 0.01), (10, 10), periodic=(True,), max_queries=1)
    assert small.n_queries == 1
    # integrate and matrix still agree after coarsening
    rng = np.random.default_rng(6)
    wf = WeakForm((300, 256), (0.01, 0.01), (8, 8), periodic=(True,), max_queries=50)
    assert wf.n_queries <= 50
    values = rng.standard_normal(wf.shape)
    np.testing.assert_allclose(wf.matrix((0, 2)) @ values.ravel(), wf.integrate(values, (0, 2)), atol=1e-10)


def test_order_beyond_degree_is_rejected():
    wf = WeakForm((60, 50), (0.1, 0.2), (6, 7), degrees=(3, 4), periodic=(True,))
    with pytest.raises(ValueError, match="degree"):
        wf.integrate(np.zeros(wf.shape), (0, 4))


def test_too_short_axis_is_a_data_error():
    with pytest.raises(DataError, match="only 8 time points"):
        WeakForm((8, 64), (0.1, 0.1), (4, 8), periodic=(True,))
    with pytest.raises(DataError, match=r"only 8 time points: the weak form needs at least 13; use --method strong"):
        choose_half_widths(np.zeros((8, 64)), (0.1, 0.1), (True,))
    with pytest.raises(DataError, match="points along 'x'"):
        choose_half_widths(np.zeros((64, 20)), (0.1, 0.1), (True,))


# ------------------------------------------------------------- automatic half-widths


def noisy_waves(k0: int, noise: float, seed: int = 7):
    rng = np.random.default_rng(seed)
    t = np.linspace(0.0, 2.0, 201)
    x = np.linspace(0.0, 2 * np.pi, 512, endpoint=False)
    tt, xx = np.meshgrid(t, x, indexing="ij")
    clean = sum(np.exp(-j / 2) * np.sin(k0 * j * (xx - tt) + j) for j in range(1, 6))
    return clean, clean + noise * clean.std() * rng.standard_normal(clean.shape), (t[1] - t[0], x[1] - x[0])


def test_spectral_corner_finds_the_signal_band():
    clean, noisy, _ = noisy_waves(4, 0.3)
    assert 4 <= spectral_corner(noisy, 1, True) <= 20  # signal in modes 4, 8, ..., 20


def test_choose_half_widths_on_smooth_plus_noisy_signal():
    clean, noisy, spacings = noisy_waves(4, 0.3)
    m = choose_half_widths(noisy, spacings, (True,))
    assert 3 <= m[0] <= 50 and 6 <= m[1] <= 127
    # the chosen test functions filter the noise but keep the signal
    wf = WeakForm(noisy.shape, spacings, m, periodic=(True,))
    for alpha in [(0, 0), (0, 1), (1, 0)]:
        assert rel_err(wf.integrate(noisy, alpha), wf.integrate(clean, alpha)) < 0.05
    # higher wavenumbers need narrower test functions
    _, rough, _ = noisy_waves(16, 0.3)
    assert choose_half_widths(rough, spacings, (True,))[1] < m[1]
    # from_data is the same choice
    assert WeakForm.from_data(noisy, spacings, periodic=(True,)).half_widths == m
