"""Best approximations on an interval: linear minimax (Remez exchange) and rational.

:func:`remez` minimises ``max_t w(t) |g(t) - sum_i c_i phi_i(t)|`` over the coefficients
``c`` of any basis ``phi`` (monomials ``t**k`` here, possibly with some coefficients held
fixed, which :mod:`.baselines` uses for fpminimax-style rounding), by the classic Remez
exchange in mpmath (40 digits) on a dense Chebyshev grid: solve for the levelled error on
``n + 1`` reference points, move the reference to the alternating extrema of the error,
repeat until the extrema are level to 1e-6.

:func:`rational_lawson` fits ``P(t) / Q(t)`` (``Q(0) = 1``) by iteratively reweighted
linearised least squares (Loeb's linearisation with Lawson's weights), in float64 on a
Chebyshev-scaled basis: near-minimax, which is what a baseline needs; the reported error
is measured, never assumed.
"""

from __future__ import annotations

from typing import Callable, Sequence

import mpmath as mp
import numpy as np

__all__ = ["remez", "chebyshev_grid", "rational_lawson"]

DIGITS = 40


def chebyshev_grid(a, b, n: int) -> list:
    """``n`` Chebyshev extrema on ``[a, b]`` (mpf), ends included, increasing."""
    a, b = mp.mpf(a), mp.mpf(b)
    return [(a + b) / 2 - (b - a) / 2 * mp.cos(mp.pi * i / (n - 1)) for i in range(n)]


def remez(g: Callable, w: Callable, a, b, powers: Sequence[int], fixed: dict[int, float] | None = None,
          grid: int = 1500, iters: int = 30) -> tuple[list, float]:
    """Coefficients (mpf, one per entry of ``powers``) of the weighted minimax fit of
    ``g(t) - sum(fixed[k] t**k)`` by ``sum c_i t**powers[i]``, and the minimax error.

    ``g`` and ``w`` take and return mpf; ``w > 0`` on ``[a, b]``.
    """
    fixed = fixed or {}
    with mp.workdps(DIGITS):
        ts = chebyshev_grid(a, b, grid)
        gs = [g(t) - sum(mp.mpf(v) * t**k for k, v in fixed.items()) for t in ts]
        ws = [w(t) for t in ts]
        phi = [[t**k for k in powers] for t in ts]
        n = len(powers)
        ref = [round(i * (grid - 1) / n) for i in range(n + 1)]
        best = None
        for _ in range(iters):
            rows = [phi[j] + [(-1) ** i / ws[j]] for i, j in enumerate(ref)]
            try:
                sol = mp.lu_solve(mp.matrix(rows), mp.matrix([gs[j] for j in ref]))
            except ZeroDivisionError:
                break
            c = [sol[k] for k in range(n)]
            err = [ws[j] * (gs[j] - mp.fsum(ci * pj for ci, pj in zip(c, phi[j]))) for j in range(grid)]
            emax = max(abs(e) for e in err)
            if best is None or emax < best[1]:
                best = (c, emax)
            ext, start = [], 0
            for j in range(1, grid + 1):
                if j == grid or mp.sign(err[j]) != mp.sign(err[start]):
                    ext.append(max(range(start, j), key=lambda i: abs(err[i])))
                    start = j
            while len(ext) > n + 1:
                ext.pop(0 if abs(err[ext[0]]) < abs(err[ext[-1]]) else -1)
            if len(ext) < n + 1:
                break
            leveled = abs(sol[n])
            ref = ext
            if emax - leveled < leveled * mp.mpf("1e-6"):
                break
        return best[0], float(best[1])


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
