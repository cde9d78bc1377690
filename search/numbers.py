""""Nice" numbers: the one place that decides how a fitted constant may be written.

A fitted constant ``c`` is a float.  It may be written

* as ``0``;
* as a rational ``p/q`` with a small denominator ``q`` (:data:`RATIONAL_DENOMINATORS`);
* as a small rational multiple ``(p/q) * B`` of a named base ``B`` (:data:`NAMED_BASES`:
  pi, 1/pi, pi**2, 1/pi**2, e, sqrt(2 pi), 1/sqrt(2 pi)) with ``q <= 16``;
* as a short decimal (the fewest significant digits that are close enough).

Each written form has a *cost*, the number of digits and symbols a reader sees:
``cost(p/q * B) = digits(p) + digits(q) + cost(B)``, where a numerator or denominator of 1
is not written and costs nothing, and ``cost(B)`` counts the base's symbols (``pi`` 1,
``pi**2`` 2, ``sqrt(2*pi)`` 3); ``cost(0) = 0``; a decimal costs its significant digits.
So ``1/(4 pi)`` costs 2, ``0.0796`` costs 3, ``47/(6 pi)`` costs 4 and ``2.493`` costs 4.
Callers (the float64 finish, :mod:`search.polish`) decide *which* closeness is
acceptable; this module only lists the candidates, simplest first, and prints the result
(:func:`sympy_number`, used by :func:`search.expression.to_sympy`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction

import sympy


@dataclass(frozen=True)
class NamedBase:
    """A constant that prints symbolically: its float64 ``value``, SymPy ``symbol``, ``cost``."""

    name: str
    value: float
    symbol: sympy.Expr
    cost: int


#: The named bases.  A base's cost is the number of symbols it is written with (pi: 1, pi**2: 2,
#: sqrt(2*pi): 3), so 1/sqrt(2 pi) must be better supported by the data than 1/pi.
NAMED_BASES: tuple[NamedBase, ...] = (
    NamedBase("pi", math.pi, sympy.pi, 1),
    NamedBase("1/pi", 1 / math.pi, 1 / sympy.pi, 1),
    NamedBase("e", math.e, sympy.E, 1),
    NamedBase("pi**2", math.pi**2, sympy.pi**2, 2),
    NamedBase("1/pi**2", 1 / math.pi**2, sympy.pi**-2, 2),
    NamedBase("sqrt(2*pi)", math.sqrt(2 * math.pi), sympy.sqrt(2 * sympy.pi), 3),
    NamedBase("1/sqrt(2*pi)", 1 / math.sqrt(2 * math.pi), 1 / sympy.sqrt(2 * sympy.pi), 3),
)

#: Denominators of the plain rationals tried as nice values.
RATIONAL_DENOMINATORS: tuple[int, ...] = tuple(range(1, 17)) + (20, 24, 25, 32, 64)

#: Largest denominator of a rational multiple of a named base (also what :func:`sympy_number`
#: recognizes).
MAX_BASE_DENOMINATOR = 16

#: Largest denominator of a float that :func:`sympy_number` prints as an exact rational.
MAX_EXACT_DENOMINATOR = 1000


@dataclass(frozen=True, order=True)
class Nice:
    """A candidate ``value = (p/q) * base``; ordered by (cost, plain rationals first, distance)."""

    cost: int
    kind: int  # 0: zero, 1: rational, 2: multiple of a named base
    distance: float  # |value - target| / |target|
    value: float
    text: str


def digits(k: int) -> int:
    """Decimal digits of ``|k|``, with ``1`` costing nothing (it is not written in ``1/q``, ``p/1``)."""
    k = abs(k)
    return 0 if k == 1 else len(str(k))


def cost(p: int, q: int, base_cost: int = 0) -> int:
    """Cost of writing ``(p/q) * base``: ``digits(p) + digits(q) + base_cost``, at least 1."""
    return max(1, digits(p) + digits(q) + base_cost)


def multiple(p: int, q: int, base: float = 1.0) -> float:
    """The float64 ``(p/q) * base``: the one way this package computes such a value, so
    :func:`sympy_number` recognizes exactly the floats :func:`nice_candidates` produces."""
    return float(Fraction(p, q)) * base


def nice_candidates(value: float, rel: float, max_cost: int | None = None) -> list[Nice]:
    """All nice values within relative distance ``rel`` of ``value``, simplest first.

    For each denominator ``q`` (and each named base ``B``) the nearest numerator
    ``p = round(value * q / B)`` gives one candidate ``(p/q) B``; those with
    ``|candidate - value| <= rel |value|`` and cost at most ``max_cost`` are returned,
    sorted by cost, then plain rationals before multiples of a base, then distance.
    ``0`` (cost 0) is a candidate when ``rel >= 1``.
    """
    if not math.isfinite(value) or value == 0.0:
        return []
    out: dict[float, Nice] = {}

    def consider(cand: Nice) -> None:
        if cand.distance <= rel and (max_cost is None or cand.cost <= max_cost):
            if cand.value not in out or cand < out[cand.value]:
                out[cand.value] = cand

    consider(Nice(0, 0, 1.0, 0.0, "0"))
    scale = abs(value)
    for q in RATIONAL_DENOMINATORS:
        p = round(value * q)
        if p != 0 and math.gcd(p, q) == 1:
            cand = multiple(p, q)
            consider(Nice(cost(p, q), 1, abs(cand - value) / scale, cand, f"{p}/{q}" if q > 1 else str(p)))
    for base in NAMED_BASES:
        for q in range(1, MAX_BASE_DENOMINATOR + 1):
            p = round(value / base.value * q)
            if p != 0 and math.gcd(p, q) == 1:
                cand = multiple(p, q, base.value)
                consider(Nice(cost(p, q, base.cost), 2, abs(cand - value) / scale, cand,
                              f"{p}/{q}*{base.name}"))
    return sorted(out.values())


def nice_value(value: float, rel: float) -> float:
    """The simplest nice value within relative distance ``rel`` of ``value`` (``value``
    itself when there is none): ``0`` for ``|value| < 1e-12``, else the first of
    :func:`nice_candidates` (lowest cost; small-denominator rationals before rational
    multiples of pi, e, ...; then the nearest)."""
    if abs(value) < 1e-12:
        return 0.0
    found = nice_candidates(value, rel)
    return found[0].value if found else value


def round_significant(value: float, n_digits: int) -> float:
    """``value`` rounded to ``n_digits`` significant decimal digits (correctly rounded)."""
    if value == 0.0 or not math.isfinite(value):
        return value
    return float(f"{value:.{max(1, n_digits) - 1}e}")


def shortest_decimal(value: float, rel: float) -> float:
    """The decimal with the fewest significant digits ``d`` such that
    ``|round(value, d) - value| <= rel |value|`` (``value`` itself when no ``d <= 17`` does)."""
    for n_digits in range(1, 18):
        cand = round_significant(value, n_digits)
        if abs(cand - value) <= rel * abs(value):
            return cand
    return value


def _exact_rational(value: float) -> Fraction | None:
    """``p/q`` with ``q <= MAX_EXACT_DENOMINATOR`` whose float64 is exactly ``value``, if any."""
    frac = Fraction(value).limit_denominator(MAX_EXACT_DENOMINATOR)
    if float(frac) == value and abs(frac.numerator) < 10**9:
        return frac
    return None


def sympy_number(value: float) -> sympy.Expr:
    """How the constant ``value`` is written in SymPy (and so printed).

    * ``math.pi`` and ``math.e`` are ``pi`` and ``E``;
    * a float that is exactly ``p/q`` with ``q <= 1000`` is ``Rational(p, q)`` (0.5 -> 1/2,
      0.1 -> 1/10), unless it is a terminating decimal that reads shorter as one
      (2.493 rather than 2493/1000);
    * a float that is exactly the float64 product ``multiple(p, q, B)`` with ``q <= 16``
      of a named base is ``p/q * B`` (``1/(4*pi)``);
    * anything else is ``sympy.Float(value)``, which prints its shortest digits.
    """
    if value == math.pi:
        return sympy.pi
    if value == math.e:
        return sympy.E
    if not math.isfinite(value):
        return sympy.Float(value)
    frac = _exact_rational(value)
    if frac is not None:
        if frac.denominator > 1 and len(repr(value)) + 1 < len(f"{frac.numerator}/{frac.denominator}"):
            return sympy.Float(value)
        return sympy.Rational(frac.numerator, frac.denominator)
    for base in NAMED_BASES:
        mult = Fraction(value / base.value).limit_denominator(MAX_BASE_DENOMINATOR)
        # a huge float is some integer times pi by accident (1e30 = 318309886183790685506177597440 pi)
        if mult and abs(mult.numerator) < 10**9 and multiple(mult.numerator, mult.denominator, base.value) == value:
            return sympy.Rational(mult.numerator, mult.denominator) * base.symbol
    return sympy.Float(value)
