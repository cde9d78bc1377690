"""Expressions as linear postfix programs, and their conversion to and from SymPy.

An expression is a tuple of nodes in postfix (reverse Polish) order.  A node is a pair
``(code, value)``:

* ``(CONST, c)`` — a constant with float value ``c``;
* ``(VAR, i)`` — input variable ``i`` (column ``i`` of X);
* ``(code, 0)`` — operator ``operator_of(code)`` applied to the preceding subtrees.

Tuples are cheap to copy, slice and splice, which is all mutation needs, and they hash,
which lets the search deduplicate.  The evaluator compiles whole populations of them into
arrays (see :mod:`search.evaluate`).
"""

from __future__ import annotations

from typing import Sequence

import sympy

from .numbers import sympy_number
from .operators import BUILTIN, CONST, VAR, OperatorSet

Node = tuple[int, float]
Expr = tuple[Node, ...]


def var(i: int) -> Node:
    """The node of input variable ``i``."""
    return (VAR, int(i))


def const(x: float) -> Node:
    """A constant node."""
    return (CONST, float(x))


def op(name: str, ops: OperatorSet = BUILTIN) -> Node:
    """The node of the operator called ``name`` in the set ``ops``."""
    return (ops.code[name], 0)


def subtree_start(expr: Expr, end: int, ops: OperatorSet = BUILTIN) -> int:
    """Index of the first node of the subtree whose root is ``expr[end]``."""
    arities = ops.arities
    need = 1
    i = end
    while True:
        need += arities[expr[i][0]] - 1
        if need == 0:
            return i
        i -= 1


def children(expr: Expr, end: int, ops: OperatorSet = BUILTIN) -> list[tuple[int, int]]:
    """``(start, end)`` spans (inclusive) of the argument subtrees of node ``end``, in order."""
    spans = []
    j = end - 1
    for _ in range(ops.arity(expr[end][0])):
        start = subtree_start(expr, j, ops)
        spans.append((start, j))
        j = start - 1
    return spans[::-1]


def is_valid(expr: Expr, ops: OperatorSet = BUILTIN) -> bool:
    """True when ``expr`` is a single well-formed postfix tree."""
    depth = 0
    for code, _ in expr:
        if not 0 <= code < len(ops.arities):
            return False
        depth += 1 - ops.arities[code]
        if depth < 1:
            return False
    return depth == 1


def complexity(expr: Expr, ops: OperatorSet = BUILTIN) -> int:
    """Sum of node costs: 1 per leaf, the operator's ``complexity`` per operator."""
    if ops.unit_costs:
        return len(expr)
    costs = ops.cost_of
    return sum(costs[code] for code, _ in expr)


def constants(expr: Expr) -> list[float]:
    """The constant values, in postfix order."""
    return [value for code, value in expr if code == CONST]


def with_constants(expr: Expr, values: Sequence[float]) -> Expr:
    """``expr`` with its constants replaced, in postfix order, by ``values``."""
    it = iter(values)
    return tuple((code, float(next(it))) if code == CONST else (code, value) for code, value in expr)


def depth(expr: Expr, ops: OperatorSet = BUILTIN) -> int:
    """Height of the tree (a single leaf has depth 1)."""
    stack: list[int] = []
    for code, _ in expr:
        a = ops.arities[code]
        h = 1 + max(stack[-a:]) if a else 1
        if a:
            del stack[-a:]
        stack.append(h)
    return stack[-1]


# ----------------------------------------------------------------------------- SymPy


def to_sympy(expr: Expr, symbols: Sequence[sympy.Symbol], ops: OperatorSet = BUILTIN) -> sympy.Expr:
    """The SymPy expression of ``expr``; variable ``i`` becomes ``symbols[i]``."""
    stack: list[sympy.Expr] = []
    for code, value in expr:
        if code == CONST:
            stack.append(sympy_number(value))
        elif code == VAR:
            stack.append(symbols[int(value)])
        else:
            op = ops.operator(code)
            args = stack[-op.arity :]
            del stack[-op.arity :]
            stack.append(op.sympy(*args))
    (result,) = stack
    return result


class ConversionError(ValueError):
    """A SymPy expression that uses something outside the operator table."""


def from_sympy(expr: sympy.Expr, variables: Sequence[str | sympy.Symbol], ops: OperatorSet = BUILTIN) -> Expr:
    """Convert a SymPy expression to postfix nodes over the named ``variables``.

    n-ary sums and products become left-folded binary ones; ``a - b`` and ``a / b`` use
    the subtraction and division operators when ``ops`` has them; a power whose exponent
    an operator declares (``square`` 2, ``sqrt`` 1/2 ...) uses that operator; functions
    map through each operator's ``sympy_function``.  Raises :class:`ConversionError` for
    symbols, functions or operators outside ``ops``.
    """
    index = {str(v): i for i, v in enumerate(variables)}
    out: list[Node] = []
    functions = ops.sympy_functions
    powers = ops.sympy_powers

    def op(name: str) -> None:
        code = ops.code.get(name)
        if code is None:
            raise ConversionError(f"the operator {name!r} is not in the operator set")
        out.append((code, 0))

    def emit(e: sympy.Expr) -> None:
        if e.is_Number or e in (sympy.pi, sympy.E):
            value = complex(e)
            if value.imag != 0:
                raise ConversionError(f"complex constant {e} is not supported")
            out.append((CONST, float(value.real)))
        elif e.is_Symbol:
            if str(e) not in index:
                raise ConversionError(f"unknown variable {e}; expected one of {', '.join(index)}")
            out.append((VAR, index[str(e)]))
        elif e.is_Add:
            positive = [t for t in e.args if not _is_negated(t)]
            negative = [-t for t in e.args if _is_negated(t)]
            if not positive:
                emit(sympy.Add(*negative, evaluate=False) if len(negative) > 1 else negative[0])
                op("neg")
                return
            _fold(positive, "+")
            for t in negative:
                emit(t)
                op("-")
        elif e.is_Mul:
            coeff, rest = e.as_coeff_Mul()
            if coeff == -1 and "neg" in ops.code:
                emit(rest)
                op("neg")
                return
            numer = [f for f in e.args if not _is_reciprocal(f)]
            denom = [1 / f for f in e.args if _is_reciprocal(f)]
            if numer:
                _fold(numer, "*")
            else:
                out.append((CONST, 1.0))
            for f in denom:
                emit(f)
                op("/")
        elif e.is_Pow:
            base, exponent = e.args
            if exponent in powers and not (exponent == -1 and "/" in ops.code):
                emit(base)
                out.append((powers[exponent], 0))
            elif exponent.is_Number and exponent < 0 and "/" in ops.code:
                out.append((CONST, 1.0))
                emit(base**-exponent)
                op("/")
            else:
                emit(base)
                emit(exponent)
                op("pow")
        elif e.func in functions:
            for arg in e.args:
                emit(arg)
            out.append((functions[e.func], 0))
        else:
            raise ConversionError(f"{e.func.__name__} is not in the operator set")

    def _fold(terms, name: str) -> None:
        emit(terms[0])
        for t in terms[1:]:
            emit(t)
            op(name)

    emit(sympy.sympify(expr))
    return tuple(out)


def _is_negated(term: sympy.Expr) -> bool:
    return term.is_Mul and term.as_coeff_Mul()[0].is_negative or (term.is_Number and term.is_negative)


def _is_reciprocal(factor: sympy.Expr) -> bool:
    return factor.is_Pow and factor.args[1].is_Number and factor.args[1].is_negative


def to_string(expr: Expr, names: Sequence[str], ops: OperatorSet = BUILTIN) -> str:
    """A readable infix string (via SymPy)."""
    return str(to_sympy(expr, [sympy.Symbol(n) for n in names], ops))
