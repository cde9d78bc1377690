"""Algebraic simplification through SymPy's automatic evaluation.

Converting to SymPy and back folds constants (``2*x*3 -> 6*x``), collects like terms
(``x + x -> 2*x``), merges powers (``x*x -> x**2``) and cancels (``x - x -> 0``), without
calling the slow ``sympy.simplify``.  The result is kept only when it is valid for the
grammar (every operator allowed) and no more complex than the input.
"""

from __future__ import annotations

import sympy

from .expression import ConversionError, Expr, complexity, from_sympy, to_sympy
from .operators import BUILTIN, VAR, OperatorSet


def simplify(expr: Expr, n_vars: int, allowed_codes: frozenset[int], ops: OperatorSet = BUILTIN) -> Expr:
    """The SymPy-evaluated form of ``expr`` if it is allowed and no more complex, else ``expr``."""
    symbols = [sympy.Symbol(f"v{i}") for i in range(n_vars)]
    try:
        converted = from_sympy(to_sympy(expr, symbols, ops), symbols, ops)
    except (ConversionError, TypeError, ValueError, ZeroDivisionError, OverflowError):
        return expr
    if any(code > VAR and code not in allowed_codes for code, _ in converted):
        return expr
    return converted if complexity(converted, ops) <= complexity(expr, ops) else expr
