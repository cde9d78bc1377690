"""The textbook approximations every report shows beside the search's programs.

A :class:`Core` is a function ``f`` on an interval ``[a, b]`` to approximate with small
relative error. Its *form* ``f(x) = x**zero * g(x**step)`` is read from the function:
``zero`` is the order of a zero at ``x = 0`` inside the interval (1 for sin, atan, expm1;
2 for ``log1p(x) - x``), ``step = 2``
where the interval is symmetric and ``f`` even or odd; then ``g`` is approximated in
``t = x**step`` with weight ``1/|g|`` (relative error of ``f``).

Baselines, each a polynomial (or rational) in ``t`` turned into a :class:`~.program.SLP`:

* ``taylor``: Taylor coefficients of ``g`` at the interval's centre, expanded to monomials;
* ``chebyshev``: interpolation of ``g`` at the Chebyshev points of the first kind;
* ``minimax``: the weighted minimax polynomial (Remez), coefficients rounded to nearest;
* ``fpminimax``: minimax with coefficients in the target format, in the spirit of
  Sollya's ``fpminimax``: coefficients are rounded one at a time, highest degree first,
  and the rest re-fitted by Remez with the rounded ones held fixed;
* ``rational``: near-minimax ``P/Q`` (:func:`.minimax.rational_lawson`);
* evaluation orders: Horner (one ``fma`` per degree, or ``mul`` + ``add`` without fma) and
  Estrin (pairs ``c_i + c_{i+1} t`` combined with ``t**2``, ``t**4``, ...).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import mpmath as mp
import numpy as np

from .minimax import rational_lawson, remez
from .program import SLP, Builder, round_constant

__all__ = ["Core", "Baseline", "polynomial", "horner", "estrin", "baselines", "fit_minimax"]


@dataclass(frozen=True)
class Core:
    """``f`` (mpf -> mpf) on ``[a, b]``, with its form ``x**zero * g(x**step)``."""

    name: str
    f: Callable
    a: float
    b: float
    zero: int = 0
    step: int = 1

    @staticmethod
    def of(name: str, f: Callable, a: float, b: float) -> "Core":
        with mp.workdps(30):
            zero = 0  # the order of the zero at 0 (f(x)/x**zero -> nonzero)
            while a <= 0 <= b and zero < 3 and abs(mp.limit(lambda x: f(x) / x**zero, 0)) < mp.mpf("1e-25"):
                zero += 1
            step = 1
            if abs(a + b) < 1e-12 * max(1.0, abs(b)):
                probes = [mp.mpf(b) * k / 7 for k in (1, 2, 3, 5, 6)]
                sign = -1 if zero else 1
                if all(abs(f(-p) - sign * f(p)) <= mp.mpf("1e-25") * (1 + abs(f(p))) for p in probes):
                    step = 2
        return Core(name, f, float(a), float(b), zero, step)

    def g(self, t):
        """``g(t)`` with ``t = x**step`` (x >= 0 where step is 2)."""
        x = mp.sqrt(t) if self.step == 2 else t
        if self.zero and x == 0:
            return mp.diff(self.f, 0, self.zero) / mp.factorial(self.zero)
        return self.f(x) / x**self.zero

    @property
    def t_interval(self) -> tuple[float, float]:
        if self.step == 2:
            return 0.0, max(self.a**2, self.b**2)
        return self.a, self.b

    def weight(self, t):
        return 1 / abs(self.g(t))


@dataclass(frozen=True)
class Baseline:
    name: str          # e.g. "minimax-6 horner"
    family: str        # taylor | chebyshev | minimax | fpminimax | rational
    degree: str        # "6" or "3/2"
    order: str         # horner | estrin | -
    slp: SLP


def horner(b: Builder, coeffs: Sequence[float], t: int, fma: bool = True) -> int:
    """``sum c_k t**k`` by Horner's rule (lowest-degree coefficient first)."""
    acc = b.const(coeffs[-1])
    for c in reversed(coeffs[:-1]):
        if fma:
            acc = b.emit("fma", acc, t, b.const(c))
        else:
            acc = b.emit("add", b.emit("mul", acc, t), b.const(c))
    return acc


def estrin(b: Builder, coeffs: Sequence[float], t: int, fma: bool = True) -> int:
    """``sum c_k t**k`` by Estrin's scheme: pairs, then powers t**2, t**4, ... ."""
    level = [b.const(c) for c in coeffs]
    power = t
    while len(level) > 1:
        nxt = []
        for i in range(0, len(level) - 1, 2):
            lo, hi = level[i], level[i + 1]
            nxt.append(b.emit("fma", hi, power, lo) if fma else b.emit("add", b.emit("mul", hi, power), lo))
        if len(level) % 2:
            nxt.append(level[-1])
        level = nxt
        if len(level) > 1:
            power = b.emit("mul", power, power)
    return level[0]


def polynomial(core: Core, coeffs: Sequence[float], dtype: str, order: str = "horner",
               fma: bool = True, denominator: Sequence[float] | None = None) -> SLP:
    """The program ``x**zero * P(t) [/ Q(t)]``, ``t = x**step``, in the given order."""
    b = Builder(dtype)
    t = b.emit("mul", 0, 0) if core.step == 2 else 0
    scheme = estrin if order == "estrin" else horner
    if core.zero == 1 and denominator is None and coeffs[0] == 1.0 and len(coeffs) > 1 and fma:
        # x * (1 + t Q(t)) as fma(x t, Q(t), x): the exact x dominates the rounding
        q = scheme(b, list(coeffs[1:]), t, fma)
        return b.done(b.emit("fma", b.emit("mul", 0, t), q, 0))
    y = scheme(b, list(coeffs), t, fma)
    if denominator is not None:
        y = b.emit("div", y, scheme(b, list(denominator), t, fma))
    if core.zero:
        power = 0
        for _ in range(core.zero - 1):
            power = b.emit("mul", power, 0)
        y = b.emit("mul", power, y)
    return b.done(y)


def fit_minimax(core: Core, degree: int, fixed: dict[int, float] | None = None, grid: int = 800):
    """Remez coefficients of ``g`` (degree ``degree`` in t, ``fixed`` ones held) and the
    minimax relative error."""
    a, b = core.t_interval
    fixed = dict(fixed or {})
    free = [k for k in range(degree + 1) if k not in fixed]
    if 0 in fixed and a < 0 < b and abs(fixed[0] - core.g(mp.mpf(0))) < 1e-15:
        # g - sum(fixed) vanishes at t = 0, and so do the free monomials: fit the quotient
        # by t with weight |t| w(t), so that the basis keeps the Haar property
        # (grid even: t = 0 is skipped)
        def h(t):
            if t == 0:
                return mp.diff(lambda u: core.g(u) - sum(mp.mpf(v) * u**k for k, v in fixed.items()), 0)
            return (core.g(t) - sum(mp.mpf(v) * t**k for k, v in fixed.items())) / t

        c, err = remez(h, lambda t: abs(t) * core.weight(t), a, b, [k - 1 for k in free],
                       grid=grid + grid % 2)
    else:
        c, err = remez(core.g, core.weight, a, b, free, fixed, grid=grid)
    fixed.update({k: ci for k, ci in zip(free, c)})
    return [fixed[k] for k in range(degree + 1)], err


def _taylor(core: Core, degree: int) -> list:
    a, b = core.t_interval
    centre = mp.mpf(a + b) / 2
    with mp.workdps(40):
        d = mp.taylor(core.g, centre, degree)
        coeffs = [mp.mpf(0)] * (degree + 1)
        for k, dk in enumerate(d):                  # sum dk (t - c)**k, expanded
            for j in range(k + 1):
                coeffs[j] += dk * mp.binomial(k, j) * (-centre) ** (k - j)
    return coeffs


def _chebyshev(core: Core, degree: int) -> list:
    a, b = core.t_interval
    with mp.workdps(40):
        n = degree + 1
        nodes = [(mp.mpf(a) + b) / 2 + (mp.mpf(b) - a) / 2 * mp.cos(mp.pi * (2 * i + 1) / (2 * n))
                 for i in range(n)]
        V = mp.matrix([[t**k for k in range(n)] for t in nodes])
        sol = mp.lu_solve(V, mp.matrix([core.g(t) for t in nodes]))
    return [sol[k] for k in range(n)]


def _fpminimax(core: Core, degree: int, dtype: str, fixed: dict[int, float] | None = None) -> list:
    """Coefficients in the format: rounded one at a time from the highest degree down, the
    lower ones re-fitted by Remez after each (their effect is largest, so they are fixed
    last; the free basis keeps the constant, so the exchange stays well posed)."""
    fixed = dict(fixed or {})
    for k in range(degree, -1, -1):
        if k in fixed:
            continue
        coeffs, _ = fit_minimax(core, degree, fixed, grid=500)
        fixed[k] = round_constant(float(coeffs[k]), dtype)
    return [fixed[k] for k in range(degree + 1)]


def baselines(core: Core, dtype: str, degrees: Sequence[int], fma: bool = True,
              rational: Sequence[tuple[int, int]] = (), families: Sequence[str] | None = None) -> list[Baseline]:
    """Every baseline of the module docstring for each degree (and rational degrees)."""
    families = families or ("taylor", "chebyshev", "minimax", "fpminimax", "rational")
    out: list[Baseline] = []
    for d in degrees:
        fits = {}
        if "taylor" in families:
            fits["taylor"] = _taylor(core, d)
        if "chebyshev" in families:
            fits["chebyshev"] = _chebyshev(core, d)
        # where f(0) = 0, g(0) = f'(0) = 1 is kept exact (x + x t Q(t) in one fma)
        one = {0: 1.0} if core.zero and abs(float(core.g(mp.mpf(0))) - 1) < 1e-15 else None
        if "minimax" in families:
            fits["minimax"] = fit_minimax(core, d, one)[0]
        if "fpminimax" in families:
            fits["fpminimax"] = _fpminimax(core, d, dtype, one)
        for family, coeffs in fits.items():
            coeffs = [float(c) for c in coeffs]
            out.append(Baseline(f"{family}-{d} horner", family, str(d), "horner",
                                polynomial(core, coeffs, dtype, "horner", fma)))
            if family == "minimax" and d >= 3:
                out.append(Baseline(f"{family}-{d} estrin", family, str(d), "estrin",
                                    polynomial(core, coeffs, dtype, "estrin", fma)))
    if "rational" in families:
        a, b = core.t_interval
        g = np.vectorize(lambda t: float(core.g(mp.mpf(float(t)))))
        for p, q in rational:
            P, Q, _ = rational_lawson(g, lambda t: 1 / np.abs(g(t)), a, b, p, q)
            out.append(Baseline(f"rational-{p}/{q} horner", "rational", f"{p}/{q}", "horner",
                                polynomial(core, P, dtype, "horner", fma, denominator=Q)))
    return out
