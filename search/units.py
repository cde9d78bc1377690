"""Physical dimensions of candidates: propagation through an expression and the penalty
for an inconsistent one.

A dimension is a vector of exponents over the seven SI base dimensions
:data:`BASE_UNITS` ``= (m, kg, s, A, K, mol, cd)``: a velocity is ``(1, 0, -1, 0, 0, 0, 0)``,
a dimensionless quantity :data:`DIMENSIONLESS`.  Exponents are floats (``sqrt`` halves
them, ``x**1.5`` scales them by 1.5) and compare equal within :data:`TOLERANCE` (a
float32-fitted exponent is ``1.5000001``).

:func:`propagate` walks a postfix expression bottom-up; each subtree gets a dimension and
a flag *free* (PySR's "wildcard"): a free subtree can take any dimension, because a fitted
constant inside it can carry whatever dimension is needed.  How each operator treats
dimensions is a fact of the operator table (``Operator.dimension``,
:data:`search.operators.DIMENSION_RULES`); the rules are:

==================  ==========================================================================
``same`` (+, -)     equal dimensions (a free side takes the other's); free when both are
``product`` (*)     dimensions add; free when either side is
``quotient`` (/)    dimensions subtract; free when either side is
``power``           the dimension times the operator's ``sympy_power`` (``square`` 2,
                    ``sqrt`` 1/2, ``inv`` -1 ...); free stays free
``pow`` (a**b)      ``b`` dimensionless (or free); when ``b`` is one constant node ``k``,
                    the dimension of ``a`` times ``k``, free when ``a`` is; otherwise ``a``
                    must be dimensionless (or free) and the result is dimensionless
``keep`` (neg, abs) unchanged
``fma`` (a*b + c)   ``product`` of a and b, then ``same`` with c
``dimensionless``   every argument dimensionless (or free), result dimensionless, not
                    free (exp, log, sin, cos, tanh, asin ...; the default for new operators)
==================  ==========================================================================

A constant is free (any dimension, PySR's semantics) unless constants are dimensionless
(``wildcard_constants=False``); a leaf has its given dimension.

The output rule (:class:`DimensionCheck`): a candidate is consistent when no rule above is
violated and its dimension matches the target's, where a free candidate matches anything,
and so does every candidate whose value is multiplied by a fitted scale that may carry a
dimension (``free_scale``: linear scaling ``a f + b`` with free constants; ``a`` then has
the dimension of ``y / f``).  With dimensionless constants the scale is a pure number and
the candidate itself must have the target's dimension.

A violation adds a fixed amount to the candidate's loss (:class:`DimensionPenalty`), so a
violating candidate still competes with other violators but ranks below consistent ones.
"""

from __future__ import annotations

import math
from dataclasses import InitVar, dataclass, field
from typing import Sequence

import numpy as np

from .expression import Expr
from .operators import BUILTIN, CONST, VAR, OperatorSet

#: The SI base dimensions, in the order of a dimension vector.
BASE_UNITS = ("m", "kg", "s", "A", "K", "mol", "cd")
Dimension = tuple[float, ...]
DIMENSIONLESS: Dimension = (0.0,) * len(BASE_UNITS)
#: Exponents closer than this are equal.
TOLERANCE = 1e-5


def as_dimension(exponents: Sequence[float]) -> Dimension:
    """A :data:`Dimension` from ``len(BASE_UNITS)`` finite exponents; ValueError otherwise."""
    out = tuple(float(e) for e in exponents)
    if len(out) != len(BASE_UNITS) or not all(math.isfinite(e) for e in out):
        raise ValueError(f"a dimension is {len(BASE_UNITS)} finite exponents over {BASE_UNITS}, got {exponents!r}")
    return out


def same(a: Dimension, b: Dimension) -> bool:
    """Equal within :data:`TOLERANCE` in every exponent."""
    return all(abs(x - y) <= TOLERANCE for x, y in zip(a, b))


def is_dimensionless(a: Dimension) -> bool:
    return all(abs(x) <= TOLERANCE for x in a)


def _scaled(a: Dimension, k: float) -> Dimension:
    return tuple(x * k for x in a)


@dataclass(frozen=True)
class Verdict:
    """What :func:`propagate` found: ``consistent`` (no rule violated), the ``dimension``
    of the whole expression (:data:`DIMENSIONLESS` when free or inconsistent) and whether
    it is ``free`` (any dimension, through a constant)."""

    consistent: bool
    dimension: Dimension = DIMENSIONLESS
    free: bool = False


_INCONSISTENT = Verdict(False)


def rule_table(ops: OperatorSet = BUILTIN) -> tuple:
    """Per expression code: ``(rule, exponent, arity)`` of its operator (``exponent`` only
    for ``power``; None for leaves).  Plain data, so a check pickles without the set."""
    n_leaves = len(ops.arities) - len(ops.operators)
    return (None,) * n_leaves + tuple(
        (op.dimension, float(op.sympy_power) if op.sympy_power is not None else 0.0, op.arity)
        for op in ops.operators)


def propagate(expr: Expr, leaves: Sequence[Dimension], wildcard_constants: bool = True,
              ops: OperatorSet | tuple = BUILTIN) -> Verdict:
    """The dimension of ``expr`` whose variable ``i`` has dimension ``leaves[i]`` (module
    docstring: the rules, and free subtrees); ``ops`` is the operator set or its
    :func:`rule_table`."""
    rules = rule_table(ops) if isinstance(ops, OperatorSet) else ops
    zero = DIMENSIONLESS
    stack: list[tuple[Dimension, bool]] = []
    for i, (code, value) in enumerate(expr):
        if code == CONST:
            stack.append((zero, wildcard_constants))
            continue
        if code == VAR:
            stack.append((leaves[int(value)], False))
            continue
        rule, exponent, arity = rules[code]
        if rule == "same" or rule == "fma":
            b, fb = stack.pop()
            a, fa = stack.pop()
            if rule == "fma":
                m, fm = stack.pop()
                a, fa = tuple(x + y for x, y in zip(m, a)), fm or fa
            if fa and fb:
                stack.append((zero, True))
            elif fa or fb:
                stack.append((b if fa else a, False))
            elif same(a, b):
                stack.append((a, False))
            else:
                return _INCONSISTENT
        elif rule == "product" or rule == "quotient":
            b, fb = stack.pop()
            a, fa = stack.pop()
            sign = 1.0 if rule == "product" else -1.0
            stack.append((tuple(x + sign * y for x, y in zip(a, b)), fa or fb))
        elif rule == "power":
            a, fa = stack.pop()
            stack.append((_scaled(a, exponent), fa))
        elif rule == "keep":
            pass
        elif rule == "pow":
            b, fb = stack.pop()
            a, fa = stack.pop()
            if not (fb or is_dimensionless(b)):
                return _INCONSISTENT
            if expr[i - 1][0] == CONST and math.isfinite(expr[i - 1][1]):
                stack.append((zero if is_dimensionless(a) else _scaled(a, expr[i - 1][1]), fa))
            elif fa or is_dimensionless(a):
                stack.append((zero, False))
            else:
                return _INCONSISTENT
        else:  # "dimensionless"
            for a, fa in stack[-arity:]:
                if not (fa or is_dimensionless(a)):
                    return _INCONSISTENT
            del stack[-arity:]
            stack.append((zero, False))
    (dimension, free), = stack
    return Verdict(True, zero if free else dimension, free)


@dataclass
class DimensionCheck:
    """Whether a candidate is dimensionally consistent (module docstring).

    ``leaves``: the dimension of each leaf (variable ``i`` is ``leaves[i]``); ``output``:
    the target's dimension, or None to check only the inside of the candidate;
    ``wildcard_constants``: constants may carry any dimension (else they are
    dimensionless); ``free_scale``: the candidate's value is multiplied by a fitted
    scale that carries any dimension, so its own output dimension does not matter;
    ``ops``: the operator set the expressions' codes refer to.
    Verdicts are cached per expression (about 10 µs each, then a dict lookup).
    """

    leaves: tuple[Dimension, ...]
    output: Dimension | None = None
    wildcard_constants: bool = True
    free_scale: bool = False
    ops: InitVar[OperatorSet] = BUILTIN
    max_cached: int = 200_000
    _cache: dict = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self, ops: OperatorSet):
        self.rules = rule_table(ops)
        self.leaves = tuple(as_dimension(d) for d in self.leaves)
        if self.output is not None:
            self.output = as_dimension(self.output)

    def consistent(self, expr: Expr) -> bool:
        """True when ``expr`` violates no rule and matches the output dimension."""
        verdict = self._cache.get(expr)
        if verdict is None:
            if len(self._cache) >= self.max_cached:
                self._cache.clear()
            verdict = self._cache[expr] = self._judge(expr)
        return verdict

    def _judge(self, expr: Expr) -> bool:
        v = propagate(expr, self.leaves, self.wildcard_constants, self.rules)
        if not v.consistent:
            return False
        if self.output is None or v.free or self.free_scale:
            return True
        return same(v.dimension, self.output)

    def violations(self, exprs: Sequence[Expr]) -> np.ndarray:
        """``(len(exprs),)`` bool: True where a candidate is inconsistent."""
        return np.fromiter((not self.consistent(e) for e in exprs), dtype=bool, count=len(exprs))

    def __getstate__(self):  # the cache stays behind (a search shipped to another process)
        state = dict(self.__dict__)
        state["_cache"] = {}
        return state


@dataclass
class DimensionPenalty:
    """``amount`` added to the loss of every inconsistent candidate: ``penalty(exprs) ->
    (len(exprs),)`` losses to add (0 for consistent ones).  A
    :attr:`search.problem.Problem.penalty`."""

    check: DimensionCheck
    amount: float

    def __call__(self, exprs: Sequence[Expr]) -> np.ndarray:
        return self.check.violations(exprs) * float(self.amount)


__all__ = ["BASE_UNITS", "DIMENSIONLESS", "Dimension", "DimensionCheck", "DimensionPenalty", "Verdict",
           "as_dimension", "is_dimensionless", "propagate", "rule_table", "same"]
