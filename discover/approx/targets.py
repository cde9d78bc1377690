"""What to approximate: a named function or any one-variable SymPy expression.

A :class:`Target` knows its exact value (mpmath, any precision), a float64 NumPy/SciPy
version (the reference of exhaustive float32 checks: its error, about 1e-16 relative,
is 1e-9 of a float32 ULP), its default domain, and the range-reduction template that
extends a program on a small interval to every finite input (``None`` where there is
none: the program then covers the domain directly).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import mpmath
import numpy
import sympy

from codegen.text import sympify_text

from ..errors import UserError
from ..sympy_checks import non_finite_number
from .names import TEMPLATES

__all__ = ["Target", "NAMED", "target", "parse_domain"]

INF = math.inf


@dataclass(frozen=True)
class Target:
    name: str
    expr: sympy.Expr                      # of the symbol x
    mp_fn: Callable                       # mpf -> mpf
    np_fn: Callable                       # float64 array -> float64 array
    domain: tuple[float, float]           # default domain
    template: str | None = None           # range-reduction template (templates.py)

    @property
    def c_name(self) -> str:
        """A C identifier for kernels of this target."""
        name = "".join(ch if ch.isalnum() else "_" for ch in self.name)
        return name if name and not name[0].isdigit() else "f_" + name


X = sympy.Symbol("x")


def _named(name, expr, domain, template=None, mp_fn=None, np_fn=None) -> Target:
    """A target from its SymPy expression; ``mp_fn``/``np_fn`` where the lambdified
    expression would cancel (``exp(x) - 1`` near 0)."""
    return Target(name, expr, mp_fn or sympy.lambdify(X, expr, "mpmath"),
                  np_fn or sympy.lambdify(X, expr, ["scipy", "numpy"]), domain, template)


def _builtin(name, expr, domain, mp_fn=None, np_fn=None) -> Target:
    """A named target, its template from :data:`discover.approx.names.TEMPLATES`."""
    return _named(name, expr, domain, TEMPLATES[name], mp_fn, np_fn)


_PI = math.pi
#: the named targets and their default domains (their names and templates: names.py)
NAMED: dict[str, Target] = {t.name: t for t in [
    _builtin("exp", sympy.exp(X), (-INF, INF)),
    _builtin("exp2", 2 ** X, (-INF, INF)),
    _builtin("expm1", sympy.exp(X) - 1, (-INF, INF), mpmath.expm1, numpy.expm1),
    _builtin("log", sympy.log(X), (0.0, INF)),
    _builtin("log2", sympy.log(X, 2), (0.0, INF)),
    _builtin("log1p", sympy.log(1 + X), (-1.0, INF), mpmath.log1p, numpy.log1p),
    _builtin("sin", sympy.sin(X), (-_PI, _PI)),
    _builtin("cos", sympy.cos(X), (-_PI, _PI)),
    _builtin("tan", sympy.tan(X), (-_PI / 4, _PI / 4)),
    _builtin("tanh", sympy.tanh(X), (-INF, INF)),
    _builtin("sinh", sympy.sinh(X), (-INF, INF)),
    _builtin("cosh", sympy.cosh(X), (-INF, INF)),
    _builtin("sigmoid", 1 / (1 + sympy.exp(-X)), (-1.0, 1.0)),
    _builtin("erf", sympy.erf(X), (-INF, INF)),
    _builtin("erfc", sympy.erfc(X), (0.0, 1.0)),
    _builtin("atan", sympy.atan(X), (-INF, INF)),
    _builtin("atanh", sympy.atanh(X), (-1.0, 1.0)),
    _builtin("asinh", sympy.asinh(X), (-INF, INF)),
    _builtin("acosh", sympy.acosh(X), (1.0, INF)),
]}
if list(NAMED) != list(TEMPLATES):
    # the light list that `discover approx --help` reads (names.py) names these functions, in this order
    raise ImportError("discover.approx.names.TEMPLATES does not list the named targets in order; update it")


def target(spec: str) -> Target:
    """The named target ``spec`` or a SymPy expression of ``x`` (default domain [0, 1])."""
    if spec in NAMED:
        return NAMED[spec]
    unknown = (f"unknown function {spec!r}: name one of {', '.join(NAMED)} "
               "or give a SymPy expression of x, e.g. 'exp(-x**2/2)'")
    if spec.strip().isidentifier() and spec.strip() != "x":
        raise UserError(unknown)  # a name, not an expression: a typo of a named function
    try:
        expr = sympify_text(spec, {"x": X})
    except Exception:  # noqa: BLE001 - SymPy raises many kinds for bad text (SyntaxError, TokenError, ...)
        expr = None
    if expr is None or not isinstance(expr, sympy.Expr):
        raise UserError(f"cannot parse {spec!r} as an expression of x; give SymPy syntax, e.g. 'exp(-x**2/2)'")
    bad_number = non_finite_number(expr)
    if bad_number is not None:
        raise UserError(f"expression {spec!r} has the non-finite value {bad_number}; "
                        "give a finite expression of x")
    others = sorted(str(s) for s in expr.free_symbols - {X})
    if others:
        raise UserError(f"expression {spec!r} uses {', '.join(repr(n) for n in others)}; only x is allowed")
    if X not in expr.free_symbols:
        raise UserError(f"expression {spec!r} does not depend on x; give a function of x")
    return _named(str(expr), expr, (0.0, 1.0))


def parse_domain(text: str | None, default: tuple[float, float]) -> tuple[float, float]:
    """``"a,b"`` (``inf``/``-inf``/``pi`` allowed) -> (a, b); one clear error if invalid."""
    if text is None:
        return default
    parts = [p.strip() for p in str(text).split(",")]
    try:
        if len(parts) != 2:
            raise ValueError
        a, b = (float(sympify_text(p.replace("inf", "oo")).evalf()) for p in parts)
    except (ValueError, TypeError, sympy.SympifyError, SyntaxError):
        raise UserError(f"invalid domain {text!r}: give two numbers 'a,b' with a < b, "
                        "e.g. --domain 0,1 or --domain -pi,pi") from None
    if not (a < b) or math.isnan(a) or math.isnan(b):
        raise UserError(f"empty domain [{a}, {b}]: give 'a,b' with a < b")
    return a, b
