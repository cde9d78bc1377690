"""Checks shared by the parsers of user expressions (``--known``, ``--terms``, ``--rhs``,
``--ic``, ``discover approx EXPR``)."""

from __future__ import annotations

import math

import sympy

__all__ = ["non_finite_number"]


def non_finite_number(expr: sympy.Expr) -> str | None:
    """The first constant part of ``expr`` (a number, or a function of numbers only) whose
    value is not a finite float64 -- ``zoo`` from a division by zero, ``oo``, ``nan``,
    ``1e400``, ``exp(1000)`` -- as text (``zoo`` says it is a division by zero); None
    when every constant part is finite."""
    stack = [expr]
    while stack:
        node = stack.pop()
        if node.is_number:
            try:
                value = complex(node.evalf(30))
            except (TypeError, ValueError, OverflowError):
                value = complex(math.nan)
            if not (math.isfinite(value.real) and math.isfinite(value.imag)):
                if node is sympy.zoo:
                    return "zoo, a division by zero"
                return str(sympy.Float(node, 4)) if isinstance(node, sympy.Float) else str(node)
            continue
        stack.extend(reversed(node.args))
    return None
