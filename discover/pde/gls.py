"""Generalized least squares for the weak form: weigh the equations by their noise.

In the weak system ``r(w) = G w - b`` every row integrates the same noisy data against an
overlapping test function, so the rows' errors are correlated and of unequal size.  To
first order in the noise ``ε_f`` of each field ``f`` (standard deviation ``σ_f``),

    r ≈ r_clean + Σ_f J_f ε_f,    J_f = ∂r/∂U_f = Σ_j w_j (-1)^|α_j| Φ_{α_j} diag(∂g_j/∂U_f)
                                             + [f is the equation's field] Φ_t,

with ``Φ_α`` the ``(K, N)`` matrix of ``∂^α φ_k`` on the grid (``b = -Φ_t u``).  So
``Cov r ≈ C(w) = Σ_f σ_f² J_f J_fᵀ``, and the best linear unbiased estimate on a support
minimises ``(G w - b)ᵀ C⁻¹ (G w - b)``.  ``C`` depends on ``w``: iterate (the idea of
WENDy, Bortz, Messenger & Dukic 2023).  The solution is returned with the whitened
system ``(L⁻¹ G, L⁻¹ b)``, ``C = L Lᵀ``, whose rows are nearly independent, so a
bootstrap over them gives honest coefficient spreads.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import scipy.linalg
import scipy.sparse as sp

from .sparse import lstsq_on

#: Most nonzeros the Jacobians may hold, and most rows (the covariance is dense, K x K);
#: larger systems use a random subset of their rows.
MAX_JACOBIAN_NONZEROS = 10_000_000
MAX_ROWS = 1500
#: Fewer rows than this (huge supports, e.g. 2-D data) are not worth weighting with the
#: sparse Jacobians; the covariance is then contracted axis by axis over the full query
#: grid (:meth:`discover.pde.weak.WeakForm.gram`) when it has at most DENSE_MAX_ROWS rows.
MIN_ROWS = 256
DENSE_MAX_ROWS = 6000
ITERATIONS = 2


def choose_rows(n_rows: int, nonzeros_per_row: int, seed: int) -> np.ndarray | None:
    """All rows, or a sorted random subset small enough for :data:`MAX_JACOBIAN_NONZEROS`;
    None when that leaves fewer than :data:`MIN_ROWS`."""
    limit = min(MAX_ROWS, MAX_JACOBIAN_NONZEROS // max(nonzeros_per_row, 1))
    if n_rows <= limit:
        return np.arange(n_rows)
    if limit < MIN_ROWS:
        return None
    return np.sort(np.random.default_rng(seed).choice(n_rows, limit, replace=False))


def covariance(jacobians: Sequence[tuple[float, sp.spmatrix]]) -> np.ndarray | None:
    """``Σ σ² J Jᵀ`` (dense ``(K, K)``) from ``(σ², J)`` pairs, lightly regularised."""
    C = None
    for variance, J in jacobians:
        if variance <= 0:
            continue
        part = (J @ J.T).toarray() * variance
        C = part if C is None else C + part
    return regularised(C)


def regularised(C: np.ndarray | None) -> np.ndarray | None:
    """``C`` plus a tiny multiple of the identity (so that Cholesky succeeds), in place."""
    if C is None:
        return None
    C += np.eye(len(C)) * (1e-10 * np.trace(C) / len(C) + np.finfo(float).tiny)
    return C


def gls(G: np.ndarray, b: np.ndarray, support: np.ndarray, w0: np.ndarray,
        covariance_of: Callable[[np.ndarray], np.ndarray | None],
        iterations: int = ITERATIONS) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """Iterated GLS on the columns in ``support`` from the start ``w0`` (J,).

    ``covariance_of(w)`` gives ``C(w)`` (regularised, :func:`covariance` or a dense
    computation of the same sum), None without noise.  Returns ``(w, whitened G,
    whitened b)``, or None when the noise is zero (plain least squares is then already
    best).
    """
    w = w0.copy()
    whitened = None
    for _ in range(iterations):
        C = covariance_of(w)
        if C is None:
            return None
        try:
            L = scipy.linalg.cholesky(C, lower=True)
        except np.linalg.LinAlgError:
            return None
        Gw = scipy.linalg.solve_triangular(L, G, lower=True)
        bw = scipy.linalg.solve_triangular(L, b, lower=True)
        new = lstsq_on(Gw, bw, support)  # column-normalised: terms of any scale
        converged = np.allclose(new, w, rtol=1e-9, atol=0)
        w, whitened = new, (Gw, bw)
        if converged:
            break
    return w, whitened[0], whitened[1]
