"""Physical units from the user: unit strings, ``name=unit`` lists, and the dimensions of
a fit's features and target.

A unit string is a product of units with powers, e.g. ``"kg*m/s^2"``, ``"kg m^2 s^-2"``,
``"m**2/(s*K)"``, ``"J/(mol K)"``, ``"m s-1"``, ``"m²/s"``:

* units: the SI base units ``m kg s A K mol cd``, the gram ``g``, the derived units
  :data:`DERIVED` (``Hz N Pa J W C V F ohm (Ω) S Wb T H eV L Bq Gy Sv kat lm lx``) and
  the dimensionless ``rad sr``; any of them (except ``kg``) with an SI prefix
  (:data:`PREFIXES`: ``km``, ``ms``, ``uA`` / ``µA``, ``MPa``, ``kohm`` ...).  A prefix
  only scales, which a fitted constant absorbs: only the dimension is kept;
* ``*``, ``·``, a space, and ``/`` combine them left to right (``J/kg/K`` = ``J/(kg K)``;
  ``W/m K`` is ``W K/m``, so write ``W/(m K)``);
* a power follows ``^`` or ``**`` as an integer, a fraction or a decimal (``s^-2``,
  ``m^(1/2)``, ``m**0.5``), or is written right after the unit (``s-2``, ``m2``, ``m²``);
* ``1``, ``dimensionless`` or the empty string is dimensionless (``1/s`` is a rate).

A string that is none of these raises :class:`UnitError` (a :class:`UserError`) with one
line naming the problem and what is accepted.  Dimensions are exponent vectors over
:data:`search.units.BASE_UNITS` (:mod:`search.units` propagates them through formulas).
"""

from __future__ import annotations

import re
from fractions import Fraction
from typing import Mapping, Sequence

from search.units import BASE_UNITS, Dimension

from .errors import UserError

Exponents = tuple[Fraction, ...]


class UnitError(UserError):
    """A unit string, or a list of units, that cannot be used."""


def _base(**powers: int) -> Exponents:
    return tuple(Fraction(powers.get(name, 0)) for name in BASE_UNITS)


#: Every unit name accepted without a prefix, with its exponents over BASE_UNITS.
UNITS: dict[str, Exponents] = {
    "m": _base(m=1), "kg": _base(kg=1), "s": _base(s=1), "A": _base(A=1), "K": _base(K=1),
    "mol": _base(mol=1), "cd": _base(cd=1), "g": _base(kg=1),
    "rad": _base(), "sr": _base(),
}
#: Derived units as strings of the units before them (parsed once, at import).
DERIVED: dict[str, str] = {
    "Hz": "1/s", "N": "kg m s^-2", "Pa": "N/m^2", "J": "N m", "W": "J/s", "C": "A s", "V": "W/A",
    "F": "C/V", "ohm": "V/A", "Ω": "V/A", "S": "A/V", "Wb": "V s", "T": "Wb/m^2", "H": "Wb/A",
    "eV": "J", "L": "m^3", "Bq": "1/s", "Gy": "J/kg", "Sv": "J/kg", "kat": "mol/s", "lm": "cd sr",
    "lx": "lm/m^2",
}
#: SI prefixes (scale only; the dimension is the unit's).
PREFIXES = ("Q", "R", "Y", "Z", "E", "P", "T", "G", "M", "k", "h", "da", "d", "c", "m", "u", "µ", "μ", "n", "p",
            "f", "a", "z", "y", "r", "q")
ACCEPTED = ("use SI units (m, kg, s, A, K, mol, cd, g, Hz, N, Pa, J, W, C, V, F, ohm, S, Wb, T, H, eV, L, rad ...) "
            "with optional prefixes (km, ms, uA ...), '1' for dimensionless, joined by *, / or spaces, "
            "with powers as ^2, **-1, ^(1/2) or s-2, e.g. 'kg*m/s^2'")

_SUPERSCRIPTS = str.maketrans("⁰¹²³⁴⁵⁶⁷⁸⁹⁻⁺", "0123456789-+")
_TOKEN = re.compile(r"(?P<space>\s*)(?:(?P<name>[^\W\d_⁰¹²³⁴⁵⁶⁷⁸⁹]+)|(?P<number>\d+(?:\.\d*)?|\.\d+)"
                    r"|(?P<sup>[⁰¹²³⁴⁵⁶⁷⁸⁹⁻⁺]+)|(?P<op>\*\*|[*/^()·⋅+\-]))")


def _tokens(text: str) -> list[tuple[str, str, bool]]:
    """``(kind, text, spaced)`` tokens; ``spaced``: whitespace before it."""
    out, pos = [], 0
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None or match.end() == pos:
            if text[pos:].strip() == "":
                break
            raise ValueError(f"unexpected {text[pos:].lstrip()[0]!r}")
        kind = next(k for k in ("name", "number", "sup", "op") if match.group(k) is not None)
        out.append((kind, match.group(kind), bool(match.group("space"))))
        pos = match.end()
    return out


class _Parser:
    """Recursive descent over :func:`_tokens` (grammar in the module docstring)."""

    def __init__(self, text: str):
        self.tokens = _tokens(text)
        self.i = 0

    def peek(self, offset: int = 0):
        j = self.i + offset
        return self.tokens[j] if j < len(self.tokens) else (None, None, False)

    def take(self):
        token = self.peek()
        self.i += 1
        return token

    def parse(self) -> Exponents:
        if not self.tokens:
            return _base()
        result = self.product()
        if self.i < len(self.tokens):
            raise ValueError(f"unexpected {self.peek()[1]!r}")
        return result

    def product(self) -> Exponents:
        result = self.power()
        while True:
            kind, text, _ = self.peek()
            if kind == "op" and text in ("*", "·", "⋅", "/"):
                self.take()
                other = self.power()
                sign = -1 if text == "/" else 1
                result = tuple(a + sign * b for a, b in zip(result, other))
            elif kind in ("name", "number") or (kind == "op" and text == "("):
                other = self.power()  # juxtaposition: a product
                result = tuple(a + b for a, b in zip(result, other))
            else:
                return result

    def power(self) -> Exponents:
        kind, text, _ = self.peek()
        base = self.atom()
        nkind, ntext, spaced = self.peek()
        if nkind == "op" and ntext in ("^", "**"):
            self.take()
            exponent = self.exponent()
        elif nkind == "sup":
            self.take()
            exponent = _fraction(ntext.translate(_SUPERSCRIPTS))
        elif kind == "name" and not spaced and (nkind == "number" or (
                nkind == "op" and ntext in ("-", "+") and self.peek(1)[0] == "number" and not self.peek(1)[2])):
            exponent = self.signed_number()  # s-2, m2
        else:
            return base
        return tuple(b * exponent for b in base)

    def atom(self) -> Exponents:
        kind, text, _ = self.take()
        if kind == "name":
            return unit_exponents(text)
        if kind == "number":
            if Fraction(text) != 1:
                raise ValueError(f"the number {text} is not a unit (only 1 is, for dimensionless)")
            return _base()
        if kind == "op" and text == "(":
            inner = self.product()
            if self.take()[1] != ")":
                raise ValueError("unbalanced '('")
            return inner
        raise ValueError("unexpected end" if kind is None else f"unexpected {text!r}")

    def signed_number(self) -> Fraction:
        sign = 1
        if self.peek()[0] == "op" and self.peek()[1] in ("-", "+"):
            sign = -1 if self.take()[1] == "-" else 1
        kind, text, _ = self.take()
        if kind != "number":
            raise ValueError("a power must be a number" if kind else "a power is missing")
        return sign * _fraction(text)

    def exponent(self) -> Fraction:
        if self.peek()[1] == "(":
            self.take()
            value = self.fraction()
            if self.take()[1] != ")":
                raise ValueError("unbalanced '(' in a power")
            return value
        return self.fraction()

    def fraction(self) -> Fraction:
        value = self.signed_number()
        if self.peek()[1] == "/" and self.peek(1)[0] == "number":
            self.take()
            denominator = _fraction(self.take()[1])
            if denominator == 0:
                raise ValueError("a power divides by zero")
            value /= denominator
        return value


def _fraction(text: str) -> Fraction:
    try:
        return Fraction(text)
    except (ValueError, ZeroDivisionError):
        raise ValueError(f"bad power {text!r}") from None


def unit_exponents(name: str) -> Exponents:
    """The exponents of one unit name, with or without an SI prefix; ValueError if unknown."""
    if name in UNITS:
        return UNITS[name]
    if name == "dimensionless":
        return _base()
    for prefix in sorted(PREFIXES, key=len, reverse=True):
        rest = name[len(prefix):]
        if name.startswith(prefix) and rest in UNITS and rest != "kg":
            return UNITS[rest]
    raise ValueError(f"unknown unit {name!r}")


for _name, _text in DERIVED.items():
    UNITS[_name] = _Parser(_text).parse()


def parse_unit(text, label: str | None = None) -> Dimension:
    """The dimension of the unit string ``text`` (module docstring), as exponents over
    :data:`search.units.BASE_UNITS`.  ``label`` names it in errors (``"feature 'v'"``).
    The number 1 is also accepted (dimensionless)."""
    where = f" for {label}" if label else ""
    if isinstance(text, (int, float)) and not isinstance(text, bool) and text == 1:
        text = "1"
    if not isinstance(text, str):
        raise UnitError(f"bad unit {text!r}{where}: a unit is a string such as 'm/s'; {ACCEPTED}")
    try:
        exponents = _Parser(text.strip()).parse()
    except ValueError as exc:
        raise UnitError(f"bad unit {text!r}{where}: {exc}; {ACCEPTED}") from None
    return tuple(float(e) for e in exponents)


def format_dimension(dimension: Sequence[float]) -> str:
    """``"kg m^2 s^-2"`` for the exponents ``dimension`` over BASE_UNITS (``"1"`` when none)."""
    parts = []
    for name, e in zip(BASE_UNITS, dimension):
        if e:
            f = Fraction(e).limit_denominator(1000)
            parts.append(name if f == 1 else f"{name}^{f}" if f.denominator == 1 else f"{name}^({f})")
    return " ".join(parts) or "1"


def parse_unit_list(text: str) -> dict[str, str]:
    """``"m=kg, v=m/s, y=J"`` -> ``{"m": "kg", "v": "m/s", "y": "J"}`` (the units are checked)."""
    out: dict[str, str] = {}
    for item in text.split(","):
        if not item.strip():
            continue
        name, sep, unit = item.partition("=")
        name = name.strip()
        if not sep or not name:
            raise UnitError(f"bad units entry {item.strip()!r}: write NAME=UNIT pairs separated by commas, "
                            "e.g. 'm=kg, v=m/s, y=J'")
        if name in out:
            raise UnitError(f"the units of {name!r} are given twice")
        if not unit.strip():
            raise UnitError(f"the unit of {name!r} is empty; write {name}=1 for a dimensionless quantity")
        parse_unit(unit, f"'{name}'")
        out[name] = unit.strip()
    if not out:
        raise UnitError("no units given: write NAME=UNIT pairs separated by commas, e.g. 'm=kg, v=m/s, y=J'")
    return out


def fit_dimensions(X_units, y_units, feature_names: Sequence[str]
                   ) -> tuple[tuple[Dimension, ...], Dimension | None] | None:
    """The dimensions of the features and of the target from a Regressor's ``X_units``
    (a unit per feature, as a list aligned with the columns or a dict by feature name,
    as in the data or as sanitized)
    and ``y_units`` (a unit string or None: the target's dimension is not checked).

    None when both are None.  Raises :class:`UnitError` for a bad unit, a list of the
    wrong length, a name that is not a feature, a feature without a unit, or ``y_units``
    without ``X_units``.
    """
    if X_units is None:
        if y_units is not None:
            raise UnitError("y_units needs X_units: give the units of every feature too ('1' for dimensionless)")
        return None
    names = list(feature_names)
    if isinstance(X_units, Mapping):
        from .data import column_name

        X_units = {column_name(str(k), names): v for k, v in X_units.items()}
        unknown = [str(k) for k in X_units if k not in names]
        if unknown:
            raise UnitError(f"units given for {', '.join(repr(k) for k in unknown)}, which "
                            f"{'is not a feature' if len(unknown) == 1 else 'are not features'}; "
                            f"features: {', '.join(names)}")
        missing = [n for n in names if n not in X_units]
        if missing:
            raise UnitError(f"no unit for feature {', '.join(repr(n) for n in missing)}; give every feature a unit "
                            "('1' for dimensionless)")
        units = [X_units[n] for n in names]
    elif isinstance(X_units, str):
        raise UnitError("X_units must be a list (one unit per feature) or a dict {feature: unit}, not a string")
    else:
        units = list(X_units)
        if len(units) != len(names):
            raise UnitError(f"X_units has {len(units)} units for {len(names)} features; give one per feature")
    leaves = tuple(parse_unit(u, f"feature '{n}'") for n, u in zip(names, units))
    output = None if y_units is None else parse_unit(y_units, "the target")
    return leaves, output


__all__ = ["UnitError", "UNITS", "DERIVED", "PREFIXES", "parse_unit", "parse_unit_list", "format_dimension",
           "fit_dimensions", "unit_exponents"]
