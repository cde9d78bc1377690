"""Best approximations on an interval: linear minimax (Remez exchange) and rational.

:func:`remez` minimises ``max_t w(t) |g(t) - sum_i c_i t**k_i|`` over the coefficients
of any set of monomials, possibly with some coefficients held fixed (which
:mod:`.baselines` uses for fpminimax-style rounding): the Remez exchange of
:func:`codegen.fastmath_remez.remez_basis` (the one implementation, also behind codegen's
inline math tables), in mpmath at 40 digits.

:func:`rational_lawson` fits ``P(t) / Q(t)`` (``Q(0) = 1``) by iteratively reweighted
linearised least squares (Loeb's linearisation with Lawson's weights), in float64 on a
Chebyshev-scaled basis: near-minimax, which is what a baseline needs; the reported error
is measured, never assumed.
"""

from __future__ import annotations

from typing import Callable, Sequence

import mpmath as mp
import numpy as np

from codegen.fastmath_remez import chebyshev_grid, remez_basis

__all__ = ["FitFailed", "remez", "chebyshev_grid", "rational_lawson"]

DIGITS = 40


class FitFailed(ValueError):
    """The minimax fit's linear system is singular from its first step (the function is
    numerically flat or wild on the interval at these digits)."""


def remez(g: Callable, w: Callable, a, b, powers: Sequence[int], fixed: dict[int, float] | None = None,
          grid: int = 1500, iters: int = 30) -> tuple[list, float]:
    """Coefficients (mpf, one per entry of ``powers``) of the weighted minimax fit of
    ``g(t) - sum(fixed[k] t**k)`` by ``sum c_i t**powers[i]``, and the minimax error
    (:func:`codegen.fastmath_remez.remez_basis` at 40 digits)."""
    with mp.workdps(DIGITS):
        found = remez_basis(g, w, a, b, powers, fixed, grid=grid, iters=iters)
    if found is None:
        raise FitFailed(f"the minimax system on [{float(a):g}, {float(b):g}] is singular")
    c, err = found
    return c, float(err)


def rational_lawson(g: Callable, w: Callable, a: float, b: float, p: int, q: int,
                    grid: int = 2000, iters: int = 60) -> tuple[np.ndarray, np.ndarray, float]:
    """``(P, Q, err)``: monomial coefficients (lowest first, ``Q[0] = 1``) of a near-minimax
    weighted rational fit ``P/Q`` of degrees ``(p, q)`` to ``g`` on ``[a, b]`` and its error
    on the grid. ``g`` and ``w`` take float64 arrays."""
    t = np.array([float(v) for v in chebyshev_grid(a, b, grid)])
    gt, wt = g(t), w(t)
    mid, half = (a + b) / 2, (b - a) / 2
    s = (t - mid) / half                              # scaled variable in [-1, 1]
    vp = np.polynomial.chebyshev.chebvander(s, p)
    vq = np.polynomial.chebyshev.chebvander(s, q)[:, 1:]
    lawson = np.full(grid, 1.0 / grid)
    qprev = np.ones(grid)
    best = None
    for _ in range(iters):
        scale = np.sqrt(lawson) * wt / np.abs(qprev)
        A = np.hstack([vp, -gt[:, None] * vq]) * scale[:, None]
        sol, *_ = np.linalg.lstsq(A, gt * scale, rcond=None)
        num = vp @ sol[: p + 1]
        den = 1.0 + vq @ sol[p + 1:]
        e = wt * (gt - num / den)
        emax = float(np.max(np.abs(e)))
        if best is None or emax < best[2]:
            best = (sol[: p + 1].copy(), np.concatenate([[1.0], sol[p + 1:]]), emax)
        lawson = lawson * np.abs(e) + 1e-300
        lawson /= lawson.sum()
        qprev = den
    cp, cq, err = best
    # Chebyshev in s -> monomials in t (s = (t - mid)/half), then normalise Q[0] = 1
    P = _cheb_to_monomial(cp, mid, half)
    Q = _cheb_to_monomial(cq, mid, half)
    return P / Q[0], Q / Q[0], err


def _cheb_to_monomial(c: np.ndarray, mid: float, half: float) -> np.ndarray:
    poly_s = np.polynomial.chebyshev.cheb2poly(c)                # in s
    out = np.polynomial.Polynomial([0.0])
    lin = np.polynomial.Polynomial([-mid / half, 1.0 / half])     # s as a polynomial in t
    for k, ck in enumerate(poly_s):
        out = out + ck * lin**k
    coef = out.coef
    return np.pad(coef, (0, len(c) - len(coef)))
