"""The grammar of a search and random expressions.

:func:`random_expr` grows one tuple expression (:mod:`search.expression`): the initial
populations and the bank of small subtrees that a mutation grafts;
:func:`random_leaves` draws leaves as arrays.  The mutations and the crossover themselves
act on whole populations (:mod:`search.variation`).  Everything draws from the
``numpy.random.Generator`` it is given, so a seed fixes the result.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .expression import Expr, Node
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



def random_leaves(rng: np.random.Generator, shape, g: Grammar) -> tuple[np.ndarray, np.ndarray]:
    """Codes and values of random leaves (as :func:`random_leaf`), arrays of ``shape``."""
    return leaves_from_draws(rng.random(shape), rng.normal(size=shape), rng.random(shape), g)


def leaves_from_draws(u_const: np.ndarray, z_value: np.ndarray, u_var: np.ndarray,
                      g: Grammar) -> tuple[np.ndarray, np.ndarray]:
    """:func:`random_leaves` from its draws, three arrays of one shape: uniforms that make a
    leaf a constant (below ``const_probability``), standard normals for the constants
    (``N(0, 2)`` rounded to 3 decimals, 0 made 1) and uniforms that pick the variables."""
    is_const = u_const < g.const_probability
    value = np.round(z_value * 2.0, 3)
    value[value == 0] = 1.0
    index = np.minimum((u_var * g.n_vars).astype(np.int64), g.n_vars - 1)
    return np.where(is_const, CONST, VAR).astype(np.int32), np.where(is_const, value, index.astype(np.float64))
