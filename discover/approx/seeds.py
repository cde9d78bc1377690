"""Classical program shapes the search may start from (``--seed-forms``, on by default).

* Horner polynomials of each degree (``fma`` or ``mul`` + ``add``), with the minimax
  coefficients of the core, so the search starts level with the textbook;
* rationals ``P/Q`` in Horner form (where division is allowed);
* ``1 + v/((v - b)**2 + c)`` (the lowest-order Cody-Waite/Padé form of the exponential,
  where the core's value at 0 is 1);
* the exponential's symmetric rational shape ``s * (Q(v*v) + v R(v*v)) / (Q(v*v) - v R(v*v))``
  with ``v = a x + b`` (Padé-like; the even and odd parts are shared between numerator and
  denominator), of orders 1 to 3 (where division is allowed).

Constants are only starting points: the search refits them.
"""

from __future__ import annotations

import mpmath as mp

from .baselines import Core, fit_minimax, polynomial
from .program import SLP, Builder

__all__ = ["classical_seeds"]


def symmetric_rational(order: int, core: Core, dtype: str, fma: bool) -> SLP:
    """``s * (q + p) / (q - p)``: Padé form of order ``order`` of ``e**z``, ``z = alpha (x - m)``.

    With ``v = z / c`` (``c`` = 2, 6, 12 for orders 1, 2, 3) the Padé numerator is monic in
    ``v`` and splits into an even part ``q = Q(v**2)`` and an odd part ``p = v R(v**2)``;
    the denominator is ``q - p``. ``alpha``, ``m`` and ``s`` are read from the core (its
    logarithmic slope across the interval, its midpoint and its value there).
    """
    with mp.workdps(30):
        fa, fb = core.f(mp.mpf(core.a)), core.f(mp.mpf(core.b))
        mid = (core.a + core.b) / 2
        alpha = float(mp.log(fb / fa) / (core.b - core.a)) if fa * fb > 0 else 1.0
        scale = float(core.f(mp.mpf(mid)))
    div = {1: 2.0, 2: 6.0, 3: 12.0}[order]
    b = Builder(dtype)
    a_, b_ = b.const(alpha / div), b.const(-alpha * mid / div)
    v = b.emit("fma", a_, 0, b_) if fma else b.emit("add", b.emit("mul", a_, 0), b_)
    w = b.emit("mul", v, v)
    if order == 1:
        q, p = b.const(1.0), v
    elif order == 2:
        q, p = b.emit("add", w, b.const(1 / 3)), v
    else:
        q, p = b.emit("add", w, b.const(120 / 1728)), b.emit("mul", v, b.emit("add", w, b.const(60 / 144)))
    y = b.emit("div", b.emit("add", q, p), b.emit("sub", q, p))
    return b.done(b.emit("mul", y, b.const(scale)))


def one_plus_ratio(core: Core, dtype: str, fma: bool) -> SLP | None:
    """``1 + v / ((v - b)**2 + c)``, ``v = a x``: the Padé form ``e**z ~ 1 + z/(1 - z/2 +
    z**2/12)`` (Cody and Waite's ``1 + 2rP/(Q - rP)`` of lowest order) with ``v = z/12``,
    so ``b = 1/4``, ``c = 1/12 - 1/16``; for cores with ``f(0) = 1`` inside the interval
    (``z = alpha x``, ``alpha`` the logarithmic slope). Six operations."""
    if not core.a <= 0 <= core.b:
        return None
    with mp.workdps(30):
        if abs(core.f(mp.mpf(0)) - 1) > mp.mpf("1e-20"):
            return None
        fa, fb = core.f(mp.mpf(core.a)), core.f(mp.mpf(core.b))
        if not (fa > 0 and fb > 0):
            return None
        alpha = float(mp.log(fb / fa) / (core.b - core.a))
    b = Builder(dtype)
    v = b.emit("mul", b.const(alpha / 12), 0)
    w = b.emit("sub", v, b.const(0.25))
    q = b.emit("fma", w, w, b.const(1 / 12 - 1 / 16)) if fma else b.emit("add", b.emit("mul", w, w), b.const(1 / 12 - 1 / 16))
    return b.done(b.emit("div", b.emit("add", q, v), q))


def classical_seeds(core: Core, dtype: str, fma: bool, division: bool, max_degree: int = 8) -> list[SLP]:
    out = []
    for d in range(1, max_degree + 1):
        coeffs, _ = fit_minimax(core, d, grid=300)
        out.append(polynomial(core, [float(c) for c in coeffs], dtype, "horner", fma))
    if division:
        for p, q in ((1, 1), (2, 1), (2, 2), (3, 2)):
            out.append(polynomial(core, [1.0] * (p + 1), dtype, "horner", fma, denominator=[1.0] + [0.1] * q))
        out += [symmetric_rational(k, core, dtype, fma) for k in (1, 2, 3)]
        out += [s for s in (one_plus_ratio(core, dtype, fma),) if s is not None]
    return out
