"""Random expressions and the mutation operators of the evolution.

All functions are pure: they take an ``numpy.random.Generator`` and expressions (tuples of
postfix nodes, see :mod:`search.expression`) and return new expressions.  A mutation may
produce an expression larger than ``maxsize``; the caller rejects those.
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass

import numpy as np

from .expression import Expr, Node, complexity, subtree_start
from .operators import BUILTIN, CONST, VAR, OperatorSet


def pick(rng: np.random.Generator, n: int) -> int:
    """A uniform integer in ``[0, n)``.  ``rng.integers`` costs about 3 µs a call and the
    mutations draw several per child; one ``rng.random()`` costs a fifth of that."""
    return min(int(rng.random() * n), n - 1)


def pick_between(rng: np.random.Generator, low: int, high: int) -> int:
    """A uniform integer in ``[low, high)``."""
    return low + pick(rng, high - low)


@dataclass(frozen=True)
class Grammar:
    """What expressions may contain."""

    n_vars: int
    binary: tuple[int, ...]
    unary: tuple[int, ...]
    maxsize: int = 20
    const_probability: float = 0.25
    ternary: tuple[int, ...] = ()
    ops: OperatorSet = BUILTIN

    def of_arity(self, arity: int) -> tuple[int, ...]:
        return {1: self.unary, 2: self.binary, 3: self.ternary}[arity]


def random_leaf(rng: np.random.Generator, g: Grammar) -> Node:
    if rng.random() < g.const_probability:
        return (CONST, float(np.round(rng.normal() * 2.0, 3)) or 1.0)
    return (VAR, pick(rng, g.n_vars))


def random_expr(rng: np.random.Generator, g: Grammar, size: int) -> Expr:
    """A random tree with about ``size`` nodes (at least one leaf)."""
    out: list[Node] = []

    def grow(budget: int) -> None:
        if budget <= 1 or (not g.binary and not g.unary and not g.ternary):
            out.append(random_leaf(rng, g))
            return
        if g.ternary and budget >= 4 and rng.random() < 0.15:
            first = pick_between(rng, 1, budget - 2)
            second = pick_between(rng, 1, budget - 1 - first)
            grow(first)
            grow(second)
            grow(max(1, budget - 1 - first - second))
            out.append((g.ternary[pick(rng, len(g.ternary))], 0))
            return
        use_binary = g.binary and (not g.unary or budget >= 3 and rng.random() < 0.6)
        if use_binary:
            left = pick_between(rng, 1, budget - 1) if budget > 2 else 1
            grow(left)
            grow(max(1, budget - 1 - left))
            out.append((g.binary[pick(rng, len(g.binary))], 0))
        else:
            grow(budget - 1)
            out.append((g.unary[pick(rng, len(g.unary))], 0))

    grow(max(1, size))
    return tuple(out)


def _choose(rng, positions: list[int]) -> int | None:
    """One of ``positions`` at random, or None when there is none."""
    return positions[pick(rng, len(positions))] if positions else None


def mutate_constant(rng, expr: Expr, g: Grammar, temperature: float = 1.0) -> Expr:
    i = _choose(rng, [i for i, (code, _) in enumerate(expr) if code == CONST])
    if i is None:
        return mutate_operator(rng, expr, g)
    value = expr[i][1]
    factor = math.exp(rng.normal() * 0.5 * temperature)
    value = value * factor if rng.random() < 0.5 else value / factor
    if rng.random() < 0.1:
        value = -value
    return expr[:i] + ((CONST, float(value)),) + expr[i + 1 :]


def mutate_operator(rng, expr: Expr, g: Grammar) -> Expr:
    i = _choose(rng, [i for i, (code, _) in enumerate(expr) if code > VAR])
    if i is None:
        return mutate_leaf(rng, expr, g)
    choices = g.of_arity(g.ops.arity(expr[i][0]))
    return expr[:i] + ((choices[pick(rng, len(choices))], 0),) + expr[i + 1 :]


def mutate_leaf(rng, expr: Expr, g: Grammar) -> Expr:
    i = _choose(rng, [i for i, (code, _) in enumerate(expr) if code <= VAR])
    return expr[:i] + (random_leaf(rng, g),) + expr[i + 1 :]


def swap_operands(rng, expr: Expr, g: Grammar) -> Expr:
    i = _choose(rng, [i for i, (code, _) in enumerate(expr) if g.ops.arity(code) == 2])
    if i is None:
        return mutate_leaf(rng, expr, g)
    right_start = subtree_start(expr, i - 1, g.ops)
    left_start = subtree_start(expr, right_start - 1, g.ops)
    return expr[:left_start] + expr[right_start:i] + expr[left_start:right_start] + expr[i:]


def insert_node(rng, expr: Expr, g: Grammar) -> Expr:
    """Wrap a random subtree ``s`` as ``u(s)``, ``s op leaf`` or ``leaf op s``."""
    end = pick(rng, len(expr))
    start = subtree_start(expr, end, g.ops)
    sub = expr[start : end + 1]
    if g.unary and (not g.binary or rng.random() < 0.4):
        new = sub + ((g.unary[pick(rng, len(g.unary))], 0),)
    else:
        op = ((g.binary[pick(rng, len(g.binary))], 0),)
        leaf = (random_leaf(rng, g),)
        new = sub + leaf + op if rng.random() < 0.5 else leaf + sub + op
    return expr[:start] + new + expr[end + 1 :]


def delete_node(rng, expr: Expr, g: Grammar) -> Expr:
    """Replace an operator node by one of its argument subtrees."""
    i = _choose(rng, [i for i, (code, _) in enumerate(expr) if code > VAR])
    if i is None:
        return mutate_leaf(rng, expr, g)
    start = subtree_start(expr, i, g.ops)
    j = i - 1
    spans = []
    for _ in range(g.ops.arity(expr[i][0])):
        s = subtree_start(expr, j, g.ops)
        spans.append((s, j))
        j = s - 1
    s, e = spans[pick(rng, len(spans))]
    return expr[:start] + expr[s : e + 1] + expr[i + 1 :]


def replace_subtree(rng, expr: Expr, g: Grammar) -> Expr:
    end = pick(rng, len(expr))
    start = subtree_start(expr, end, g.ops)
    return expr[:start] + random_expr(rng, g, pick_between(rng, 1, 6)) + expr[end + 1 :]


def crossover(rng, a: Expr, b: Expr, ops: OperatorSet = BUILTIN) -> Expr:
    """``a`` with a random subtree replaced by a random subtree of ``b``."""
    end_a = pick(rng, len(a))
    start_a = subtree_start(a, end_a, ops)
    end_b = pick(rng, len(b))
    start_b = subtree_start(b, end_b, ops)
    return a[:start_a] + b[start_b : end_b + 1] + a[end_a + 1 :]


#: (mutation, weight); weights follow PySR's defaults in spirit.
MUTATIONS = (
    (mutate_constant, 0.30),
    (mutate_operator, 0.15),
    (mutate_leaf, 0.15),
    (swap_operands, 0.05),
    (insert_node, 0.20),
    (delete_node, 0.10),
    (replace_subtree, 0.05),
)
_CUMULATIVE = [float(c) for c in np.cumsum([w for _, w in MUTATIONS]) / sum(w for _, w in MUTATIONS)]


def mutate(rng: np.random.Generator, expr: Expr, g: Grammar) -> Expr:
    """One random mutation; retried a few times until the result fits ``maxsize``."""
    for _ in range(5):
        fn = MUTATIONS[min(bisect.bisect_right(_CUMULATIVE, rng.random()), len(MUTATIONS) - 1)][0]
        child = fn(rng, expr, g)
        if complexity(child, g.ops) <= g.maxsize:
            return child
    return expr
