"""Minimax (Remez exchange) fits that produce the coefficient tables of :mod:`codegen.fastmath`.

Run ``python -m codegen.fastmath_remez > codegen/fastmath_coeffs.py`` to regenerate the
tables (about a minute). Each fit minimises ``max |w(t) * (f(t) - sum_i c_i t**i)|`` on an
interval with the classic Remez exchange in mpmath at 60 digits; the extrema are located
on a dense Chebyshev grid. The coefficients are then rounded to the target precision
(binary64 or binary32); the rounding is part of what the ULP sweeps in
``benchmarks/fastmath_ulp.py`` measure.

Only mpmath is needed; :mod:`codegen.fastmath` itself imports the stored tables, not this.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import mpmath as mp


def chebyshev_grid(a, b, n: int) -> list:
    """``n`` Chebyshev extrema on ``[a, b]`` (mpf), ends included, increasing."""
    a, b = mp.mpf(a), mp.mpf(b)
    return [(a + b) / 2 - (b - a) / 2 * mp.cos(mp.pi * i / (n - 1)) for i in range(n)]


def remez_basis(g: Callable, w: Callable, a, b, powers: Sequence[int],
                fixed: dict[int, float] | None = None, grid: int = 3000, iters: int = 40):
    """Coefficients (mpf, one per entry of ``powers``) of the weighted minimax fit of
    ``g(t) - sum(fixed[k] t**k)`` by ``sum c_i t**powers[i]`` on ``[a, b]``, and the
    minimax error (mpf): ``min max_t w(t) |...|`` by the Remez exchange.

    ``g`` and ``w`` take and return mpf; ``w > 0`` on ``[a, b]`` (callers move a zero of
    the weight off the interval, or divide it out). Extrema are located on a dense
    Chebyshev grid of ``grid`` points; the reference moves to the alternating extrema
    until they are level to 1e-6. Works at the caller's mpmath precision.
    """
    fixed = fixed or {}
    n = len(powers)
    ts = chebyshev_grid(a, b, grid)
    gs = [g(t) - sum(mp.mpf(v) * t**k for k, v in fixed.items()) for t in ts]
    ws = [w(t) for t in ts]
    phi = [[t**k for k in powers] for t in ts]
    # initial reference: n + 1 Chebyshev extrema, snapped to the grid
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
        # one extremum per maximal run of constant sign
        ext, start = [], 0
        for j in range(1, grid + 1):
            if j == grid or mp.sign(err[j]) != mp.sign(err[start]):
                ext.append(max(range(start, j), key=lambda i: abs(err[i])))
                start = j
        while len(ext) > n + 1:  # drop the smaller end until n + 1 alternating points remain
            ext.pop(0 if abs(err[ext[0]]) < abs(err[ext[-1]]) else -1)
        if len(ext) < n + 1:
            break
        leveled = abs(sol[n])
        ref = ext
        if emax - leveled < leveled * mp.mpf("1e-6"):
            break
    return best


def remez(f: Callable, w: Callable, a, b, degree: int, grid: int = 3000, iters: int = 40):
    """Coefficients ``c[0..degree]`` (mpf) of the weighted minimax polynomial and its error."""
    return remez_basis(f, w, a, b, list(range(degree + 1)), grid=grid, iters=iters)


@dataclass(frozen=True)
class Fit:
    """One table: the function fitted, its weight, interval and degree."""

    name: str
    doc: str
    f: Callable
    w: Callable
    a: object
    b: object
    degree: int
    precision: str  # "float64" | "float32"


def _series0(expr, limit):
    """``expr(t)`` with its limit at ``t == 0`` (the fitted quotients are removable there)."""
    return lambda t: limit if t == 0 else expr(t)


LN2_HALF = mp.log(2) / 2 * (1 + mp.mpf("1e-6"))
S_MAX2 = (3 - 2 * mp.sqrt(2)) ** 2 * (1 + mp.mpf("1e-6"))  # s = (m-1)/(m+1), m in [sqrt(1/2), sqrt(2)]
# sin/cos: k = rint(x * 2/pi) with 2/pi rounded to the target precision drifts by up to
# |x| * 0.355 * 2**-53 (float64, |x| <= 2**50: 0.044) or |x| * 0.431 * 2**-24 (float32,
# |x| <= 2**22: 0.108), so |r| reaches pi/4 * 1.089 / 1.216: fit a little beyond.
PIO4_2 = {"float64": (mp.pi / 4 * mp.mpf("1.1")) ** 2, "float32": (mp.pi / 4 * mp.mpf("1.25")) ** 2}


def _exp_p(t):
    return (mp.exp(t) - 1 - t) / t**2


def _atanh_q(z):  # (2 atanh(s) - 2 s) / s**3 with z = s**2
    s = mp.sqrt(z)
    return (2 * mp.atanh(s) - 2 * s) / (s * z)


def _sin_s(u):
    r = mp.sqrt(u)
    return (mp.sin(r) - r) / (r * u)


def _cos_c(u):
    return (mp.cos(mp.sqrt(u)) - 1 + u / 2) / u**2


def fits() -> list[Fit]:
    exp_p = _series0(_exp_p, mp.mpf(1) / 2)
    atanh_q = _series0(_atanh_q, mp.mpf(2) / 3)
    sin_s = _series0(_sin_s, -mp.mpf(1) / 6)
    cos_c = _series0(_cos_c, mp.mpf(1) / 24)
    tiny = mp.mpf("1e-12")
    out = []
    for prec, d_exp, d_log, d_sin, d_cos in (("float64", 9, 6, 5, 5), ("float32", 4, 2, 3, 2)):
        out += [
            Fit("EXP_P", "e**r = 1 + r + r**2 * P(r), |r| <= ln2/2; weight r**2 / e**r",
                exp_p, lambda t: t**2 / mp.exp(t), -LN2_HALF, LN2_HALF, d_exp, prec),
            Fit("LOG_Q", "log(1+f) = f - (h - s*(h + z*Q(z))), s = f/(2+f), z = s**2, h = f*f/2; weight z",
                atanh_q, lambda z: z, S_MAX2 * tiny, S_MAX2, d_log, prec),
            Fit("SIN_S", "sin(r) = r + r**3 * S(r**2), |r| <= pi/4 * 1.1 (f64) / 1.25 (f32); weight r**2",
                sin_s, lambda u: u, PIO4_2[prec] * tiny, PIO4_2[prec], d_sin, prec),
            Fit("COS_C", "cos(r) = 1 - r**2/2 + r**4 * C(r**2), |r| <= pi/4 * 1.1 (f64) / 1.25 (f32); weight r**4 / cos(r)",
                cos_c, lambda u: u**2 / mp.cos(mp.sqrt(u)), PIO4_2[prec] * tiny, PIO4_2[prec], d_cos, prec),
        ]
    # atan: after reduction |u| <= tan(pi/8) = sqrt(2) - 1
    atan_q = _series0(lambda z: (mp.atan(mp.sqrt(z)) - mp.sqrt(z)) / (z * mp.sqrt(z)), -mp.mpf(1) / 3)
    u2 = (mp.sqrt(2) - 1) ** 2 * (1 + mp.mpf("1e-6"))
    for prec, deg in (("float64", 10), ("float32", 4)):
        out.append(Fit("ATAN_Q", "atan(u) = u + u**3 * Q(u**2), |u| <= sqrt(2) - 1; weight u**2",
                       atan_q, lambda z: z, u2 * tiny, u2, deg, prec))
    # pow (float64): double-double log. log(m) = 2s + s**3 * (2/3 + z*T(z)), 2/3 carried
    # as a double-double constant; weight z**2 (the term's size relative to 2s).
    out.append(Fit("LOGDD_T", "log(m) = 2s + s**3*(2/3 + z*T(z)), z = s**2 <= (3-2*sqrt2)**2; weight z**2",
                   lambda z: (atanh_q(z) - mp.mpf(2) / 3) / z if z else mp.mpf(2) / 5,
                   lambda z: z**2, S_MAX2 * tiny, S_MAX2, 7, "float64"))
    # pow (float32): 2**(y*log2|x|) evaluated in float64 with short polynomials, since the
    # float result needs y*log2|x| to about 2**-31 absolute only (|y*log2|x|| <= 150).
    # log2(m) = s*L(s**2), s = (m-1)/(m+1); relative weight.
    log2_l = _series0(lambda z: 2 * mp.atanh(mp.sqrt(z)) / (mp.sqrt(z) * mp.log(2)), 2 / mp.log(2))
    out.append(Fit("POWF_LOG2", "log2(m) = s*L(s**2), s = (m-1)/(m+1), m in [sqrt(1/2), sqrt(2)]; weight 1/L",
                   log2_l, lambda z: 1 / log2_l(z), 0, S_MAX2, 4, "float64"))
    half = mp.mpf(1) / 2 * (1 + mp.mpf("1e-6"))
    out.append(Fit("POWF_EXP2", "2**r = E(r), |r| <= 1/2; weight 2**-r",
                   lambda r: 2**r, lambda r: 2**-r, -half, half, 6, "float64"))
    # asin (float64; also acos): asin(s) = s + s**3 * P(s**2), s <= 1/2; weight z = s**2
    asin_p = _series0(lambda z: (mp.asin(mp.sqrt(z)) - mp.sqrt(z)) / (z * mp.sqrt(z)), mp.mpf(1) / 6)
    z_max = mp.mpf(1) / 4 * (1 + mp.mpf("1e-6"))
    for prec, deg in (("float64", 12), ("float32", 5)):
        out.append(Fit("ASIN_P", "asin(s) = s + s**3 * P(s**2), 0 <= s <= 1/2; weight s**2",
                       asin_p, lambda z: z, z_max * tiny, z_max, deg, prec))
    # cbrt (float64): the first guess m**(1/3), m in [1, 2], refined by two Newton steps
    out.append(Fit("CBRT_P", "m**(1/3) for m in [1, 2] (first guess); weight m**(-1/3)",
                   mp.cbrt, lambda m: 1 / mp.cbrt(m), 1, 2, 5, "float64"))
    return out


def _round(x, precision: str) -> str:
    import numpy as np

    v = float(x) if precision == "float64" else float(np.float32(float(x)))
    return repr(v)


def main() -> None:
    mp.mp.dps = 60
    print('"""Coefficient tables for :mod:`codegen.fastmath` (generated; do not edit by hand).')
    print()
    print("Produced by ``python -m codegen.fastmath_remez > codegen/fastmath_coeffs.py``:")
    print("weighted minimax (Remez exchange, mpmath 60 digits) polynomials, rounded to the")
    print("target precision. Lowest-degree coefficient first. ``err`` is the weighted minimax")
    print("error of the unrounded fit.")
    print('"""')
    print()
    for fit in fits():
        c, err = remez(fit.f, fit.w, fit.a, fit.b, fit.degree)
        suffix = "64" if fit.precision == "float64" else "32"
        print(f"# {fit.doc}; err {mp.nstr(err, 3)} (log2 {mp.nstr(mp.log(err, 2), 4)})")
        print(f"{fit.name}{suffix} = (")
        for ci in c:
            print(f"    {_round(ci, fit.precision)},")
        print(")")
        print()


if __name__ == "__main__":
    main()
