"""Classical program shapes the search may start from (``--seed-forms``, on by default).

* Horner polynomials of each degree (``fma`` or ``mul`` + ``add``), with the minimax
  coefficients of the core, so the search starts level with the textbook;
* rationals ``P/Q`` in Horner form (where division is allowed);
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


def classical_seeds(core: Core, dtype: str, fma: bool, division: bool, max_degree: int = 8) -> list[SLP]:
    out = []
    for d in range(1, max_degree + 1):
        coeffs, _ = fit_minimax(core, d, grid=300)
        out.append(polynomial(core, [float(c) for c in coeffs], dtype, "horner", fma))
    if division:
        for p, q in ((1, 1), (2, 1), (2, 2), (3, 2)):
            out.append(polynomial(core, [1.0] * (p + 1), dtype, "horner", fma, denominator=[1.0] + [0.1] * q))
        out += [symmetric_rational(k, core, dtype, fma) for k in (1, 2, 3)]
    return out
