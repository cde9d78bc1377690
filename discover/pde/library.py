"""Candidate terms of a PDE's right-hand side, and their names as SymPy.

A term is ``∂^α g(U)``: a spatial multi-index ``α`` applied to a function ``g`` of the
fields (a monomial ``u^i v^j`` in the default library; any SymPy expression of the fields
given by the user).  This conservative form is what the weak form integrates by parts
(``∫ φ ∂^α g = (-1)^|α| ∫ (∂^α φ) g``), so no derivative of the data is taken; the
strong form differentiates ``g(U)`` numerically instead.  A user term that already holds
derivatives (``u*u_xx``) is a *pointwise* term: its derivatives are estimated from the
data in either method.

Derivatives are named by appending axis letters to the field: ``u_x``, ``u_xx``,
``u_xxxx``, ``v_xy``; ``u_t`` is the time derivative.  Every term knows its expansion
into those symbols (``∂_x(u^2) = 2 u u_x``), so a fitted model is printed, and compared
with a known equation, in the form people write (:func:`coefficients_by_monomial`).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

import sympy

from codegen.text import check_text

from ..sympy_checks import non_finite_number
from .defaults import DEFAULT_DERIVATIVE_DEGREE, DEFAULT_MAX_DEGREE

DEFAULT_MAX_ORDER = 4


def derivative_name(field: str, alpha: Sequence[int], axes: Sequence[str]) -> str:
    """``u`` with ``α = (2, 1)`` on axes ``(x, y)`` -> ``u_xxy``; ``α = 0`` -> ``u``."""
    letters = "".join(axis * order for axis, order in zip(axes, alpha))
    return f"{field}_{letters}" if letters else field


def split_derivative_name(name: str, axes: Sequence[str]) -> tuple[str, tuple[int, ...]]:
    """``u_xxy`` on axes ``(x, y)`` -> ``("u", (2, 1))``; a bare field ``u`` -> ``("u", (0, ...))``."""
    field, _, letters = name.partition("_")
    return field, tuple(letters.count(a) for a in axes)


@dataclass(frozen=True)
class Term:
    """``∂^alpha inner`` (``pointwise`` False), or the pointwise expression ``inner`` in the
    fields and derivative symbols (``pointwise`` True, ``alpha`` all zero)."""

    inner: sympy.Expr
    alpha: tuple[int, ...]
    pointwise: bool = False

    @property
    def order(self) -> int:
        return sum(self.alpha)

    def label(self, axes: Sequence[str]) -> str:
        inner = sympy.sstr(self.inner).replace("**", "^")
        if not self.order:
            return inner
        letters = "".join(axis * k for axis, k in zip(axes, self.alpha))
        wrapped = inner if self.inner.is_Symbol else f"({inner})"
        return f"{wrapped}_{letters}"

    def expanded(self, fields: Sequence[str], axes: Sequence[str]) -> sympy.Expr:
        """``∂^α g`` written in the fields and their derivative symbols (``2*u*u_x``)."""
        if not self.order:
            return self.inner
        coords = sympy.symbols(list(axes))
        functions = {f: sympy.Function(f)(*coords) for f in fields}
        expr = self.inner.subs({sympy.Symbol(f): functions[f] for f in fields})
        for coord, k in zip(coords, self.alpha):
            if k:
                expr = sympy.diff(expr, coord, k)
        return sympy.expand(_derivatives_as_symbols(expr, functions, coords, axes))


def _derivatives_as_symbols(expr, functions, coords, axes):
    """Replace ``Derivative(u(x, y), (x, 2), y)`` by the symbol ``u_xxy`` and ``u(x, y)`` by ``u``."""
    replacements = {}
    for derivative in expr.atoms(sympy.Derivative):
        field = derivative.expr.func.__name__
        counts = dict(derivative.variable_count)
        alpha = [int(counts.get(c, 0)) for c in coords]
        replacements[derivative] = sympy.Symbol(derivative_name(field, alpha, axes))
    expr = expr.xreplace(replacements)
    return expr.xreplace({function: sympy.Symbol(name) for name, function in functions.items()})


def default_library(fields: Sequence[str], n_space: int, max_order: int = DEFAULT_MAX_ORDER,
                    max_degree: int = DEFAULT_MAX_DEGREE,
                    derivative_degree: int = DEFAULT_DERIVATIVE_DEGREE) -> list[Term]:
    """The constant, every monomial of the fields up to ``max_degree``, and every spatial
    derivative ``∂^α m`` with ``1 <= |α| <= max_order`` of every monomial ``m`` up to
    ``derivative_degree`` (linear terms ``u_xx`` and conservative nonlinear ones
    ``(u^2)_x``).  Order: by derivative order, then degree."""
    symbols = [sympy.Symbol(f) for f in fields]
    monomials = {degree: [sympy.Mul(*combo) for combo in itertools.combinations_with_replacement(symbols, degree)]
                 for degree in range(1, max_degree + 1)}
    zero = (0,) * n_space
    terms = [Term(sympy.Integer(1), zero)]
    terms += [Term(m, zero) for degree in range(1, max_degree + 1) for m in monomials[degree]]
    for order in range(1, max_order + 1):
        for alpha in _multi_indices(n_space, order):
            for degree in range(1, min(derivative_degree, max_degree) + 1):
                terms += [Term(m, alpha) for m in monomials[degree]]
    return terms


def _multi_indices(n: int, order: int) -> list[tuple[int, ...]]:
    """Every ``α`` with ``n`` entries summing to ``order``, x-heavy first."""
    return sorted((alpha for alpha in itertools.product(range(order + 1), repeat=n) if sum(alpha) == order),
                  reverse=True)


def parse_terms(text: str | Sequence[str], fields: Sequence[str], axes: Sequence[str]) -> list[Term]:
    """User terms: SymPy expressions of the fields (``sin(u)``: integrated by parts where
    wrapped as ``Derivative(u*v, x)``) or of derivative symbols (``u*u_xx``: pointwise)."""
    items = [t for t in (text.split(";") if isinstance(text, str) else text) if t.strip()]
    terms = []
    for item in items:
        expr = parse_expression(item, fields, axes, what="library term")
        if isinstance(expr, sympy.Derivative):
            terms.append(_derivative_term(expr, axes))
        elif expr.atoms(sympy.Derivative):
            raise ValueError(f"the library term {item!r} holds a Derivative inside a larger expression; "
                             "give each Derivative(...) as its own term")
        elif expr.free_symbols <= {sympy.Symbol(f) for f in fields}:
            terms.append(Term(expr, (0,) * len(axes)))
        else:
            terms.append(Term(expr, (0,) * len(axes), pointwise=True))
    return terms


def _derivative_term(expr: sympy.Derivative, axes: Sequence[str]) -> Term:
    """``Derivative(g, x, ...)`` (checked by :func:`parse_expression`) as a term."""
    counts = dict(expr.variable_count)
    return Term(expr.expr, tuple(int(counts.get(sympy.Symbol(a), 0)) for a in axes))


def _check_derivatives(expr: sympy.Expr, text: str, fields: Sequence[str], axes: Sequence[str], what: str) -> None:
    """``Derivative`` only along the spatial axes, of a function of the fields alone."""
    field_symbols = {sympy.Symbol(f) for f in fields}
    for d in expr.atoms(sympy.Derivative):
        along = [str(v) for v in d.variables]
        if any(v not in axes for v in along):
            raise ValueError(f"the {what} {text!r} differentiates along {', '.join(along)}; Derivative(...) "
                             f"is taken along the spatial axes ({', '.join(axes)}) only")
        if not d.expr.free_symbols <= field_symbols:
            raise ValueError(f"the {what} {text!r} differentiates an expression with derivatives in it; "
                             "write Derivative(...) of a function of the fields")


def parse_expression(text: str, fields: Sequence[str], axes: Sequence[str], what: str = "expression") -> sympy.Expr:
    """Parse ``text`` with the fields, the spatial axes and derivative symbols of the fields
    (up to 6th order) as the only names; ValueError with one line otherwise."""
    names = {f: sympy.Symbol(f) for f in fields}
    names.update({a: sympy.Symbol(a) for a in axes})
    for f in fields:
        for order in range(1, 7):
            for alpha in _multi_indices(len(axes), order):
                name = derivative_name(f, alpha, axes)
                names[name] = sympy.Symbol(name)
    names["Derivative"] = sympy.Derivative
    try:
        check_text(text, names)
    except ValueError as exc:
        raise ValueError(f"cannot parse the {what} {text!r}: {exc}") from None
    try:
        expr = sympy.sympify(text, locals=names, rational=False)
    except (sympy.SympifyError, SyntaxError, TypeError, ValueError) as exc:
        raise ValueError(f"cannot parse the {what} {text!r} ({type(exc).__name__}); write it in SymPy syntax "
                         "with the fields and their derivatives, e.g. '0.1*u_xx - u*u_x'") from None
    if not isinstance(expr, sympy.Expr):
        raise ValueError(f"the {what} {text!r} is not an expression")
    bad_number = non_finite_number(expr)
    if bad_number is not None:
        raise ValueError(f"the {what} {text!r} has the non-finite value {bad_number}; "
                         "give finite coefficients")
    _check_derivatives(expr, text, fields, axes, what)
    unknown = sorted(str(s) for s in expr.free_symbols if str(s) not in names or str(s) in axes)
    functions = sorted({type(f).__name__ for f in expr.atoms(sympy.Function)
                        if isinstance(f, sympy.core.function.AppliedUndef)})
    if functions:
        raise ValueError(f"the {what} {text!r} calls {', '.join(functions)}, which is not a function SymPy "
                         "knows (sin, exp, tanh, ...)")
    if unknown:
        f, a = fields[0], axes[0] if axes else "x"
        examples = f"{f}_{a}, {f}_{a}{a}" + (f", {f}_{a}{axes[1]}" if len(axes) > 1 else "")
        raise ValueError(f"the {what} {text!r} names {', '.join(unknown)}, which is not a field "
                         f"({', '.join(fields)}) or a derivative of one up to 6th order along "
                         f"{', '.join(axes)} ({examples}, ...)")
    return expr


def derivative_symbols(expr: sympy.Expr) -> set[sympy.Symbol]:
    """The derivative symbols (names with ``_``) in an expression."""
    return {s for s in expr.free_symbols if "_" in s.name}


def coefficients_by_monomial(expr: sympy.Expr) -> dict[sympy.Expr, float]:
    """``{monomial: coefficient}`` of an expanded polynomial in fields and derivative
    symbols; non-polynomial parts (``sin(u)``) count as their own monomials."""
    out: dict[sympy.Expr, float] = {}
    for part in sympy.Add.make_args(sympy.expand(expr)):
        coeff, rest = part.as_coeff_Mul()
        if coeff == 0:
            continue
        out[rest] = out.get(rest, 0.0) + float(coeff)
    return {k: v for k, v in out.items() if v != 0.0}


def compare_with_truth(found: sympy.Expr, truth: sympy.Expr) -> tuple[bool, float]:
    """``(same terms, max relative coefficient error)`` of two right-hand sides; the error
    is over the true terms (inf when a true term is missing)."""
    got, want = coefficients_by_monomial(found), coefficients_by_monomial(truth)
    exact = set(got) == set(want)
    errors = [abs(got.get(m, 0.0) - c) / abs(c) for m, c in want.items()]
    missing = any(m not in got for m in want)
    return exact, (float("inf") if missing else max(errors, default=0.0))


def as_terms(expr: sympy.Expr, fields: Sequence[str], axes: Sequence[str]) -> list[tuple[float, Term]]:
    """Split a known right-hand side into ``(coefficient, term)`` pairs: ``c*u_xx`` becomes
    ``(c, ∂_xx u)`` (integrated by parts in the weak form), a function of the fields alone
    ``(c, g)``, anything else a pointwise term."""
    field_symbols = {sympy.Symbol(f) for f in fields}
    derivatives = {sympy.Symbol(derivative_name(f, alpha, axes)): (f, alpha)
                   for f in fields for order in range(1, 7) for alpha in _multi_indices(len(axes), order)}
    zero = (0,) * len(axes)
    pairs = []
    for part in sympy.Add.make_args(sympy.expand(expr)):
        coeff, rest = part.as_coeff_Mul()
        if isinstance(rest, sympy.Derivative):
            pairs.append((float(coeff), _derivative_term(rest, axes)))
            continue
        if rest.atoms(sympy.Derivative):
            raise ValueError(f"{sympy.sstr(part)!r}: a Derivative(...) may only be multiplied by a number")
        if rest in derivatives:
            field, alpha = derivatives[rest]
            pairs.append((float(coeff), Term(sympy.Symbol(field), alpha)))
        elif rest.free_symbols <= field_symbols:
            pairs.append((float(coeff), Term(rest, zero)))
        else:
            pairs.append((float(coeff), Term(rest, zero, pointwise=True)))
    return pairs
