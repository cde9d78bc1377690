"""Populations as arrays: many postfix expressions in fixed-shape NumPy arrays.

A :class:`Population` of ``N`` expressions holds

* ``codes (N, W) int32`` — node codes in postfix order (:mod:`search.operators`), then
  :data:`PAD` past each expression's end;
* ``values (N, W) float64`` — each node's value as in :mod:`search.expression`: the
  constant of a ``CONST`` node, the variable index of a ``VAR`` node, 0 otherwise;
* ``lengths (N,) int64`` — the number of nodes of each expression.

Row ``k`` is the expression ``tuple(zip(codes[k, :n], values[k, :n]))``, ``n = lengths[k]``;
:func:`from_exprs` and :func:`to_exprs` convert between the two forms exactly.

The evolution keeps its islands in this form (:mod:`search.evolve`), varies them with one
compiled step (:mod:`search.variation`) and scores them without converting
(:func:`flatten` is the native evaluator's layout).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from .expression import Expr
from .native import flatten as native_flatten
from .operators import CONST, VAR, OperatorSet

#: The code of the padding past an expression's end.
PAD = -1


@dataclass
class Population:
    """``N`` expressions as arrays (see the module docstring for the layout)."""

    codes: np.ndarray
    values: np.ndarray
    lengths: np.ndarray

    def __len__(self) -> int:
        return len(self.lengths)

    @property
    def width(self) -> int:
        return self.codes.shape[1]

    def take(self, rows) -> "Population":
        """The expressions at ``rows`` (an index array or a boolean mask; a copy)."""
        return Population(self.codes[rows], self.values[rows], self.lengths[rows])

    def split(self, n: int) -> tuple["Population", "Population"]:
        """The first ``n`` expressions and the rest (views, not copies)."""
        return (Population(self.codes[:n], self.values[:n], self.lengths[:n]),
                Population(self.codes[n:], self.values[n:], self.lengths[n:]))

    def put(self, rows, other: "Population") -> None:
        """Overwrite the expressions at ``rows`` by ``other``'s, in order; ``other`` may be
        narrower but its expressions must fit this population's width."""
        if len(other) and int(other.lengths.max()) > self.width:
            raise ValueError(f"an expression of {int(other.lengths.max())} nodes does not fit width {self.width}")
        w = min(other.width, self.width)
        self.codes[rows] = PAD
        self.values[rows] = 0.0
        self.codes[rows, :w] = other.codes[:, :w]
        self.values[rows, :w] = other.values[:, :w]
        self.lengths[rows] = other.lengths

    def valid(self) -> np.ndarray:
        """``(N, W) bool``: True at the nodes of each expression, False in the padding."""
        return np.arange(self.width) < self.lengths[:, None]


def empty(n: int, width: int) -> Population:
    """``n`` empty rows of ``width`` nodes (to be filled with :meth:`Population.put`)."""
    return Population(np.full((n, width), PAD, dtype=np.int32), np.zeros((n, width)), np.zeros(n, dtype=np.int64))


def from_exprs(exprs: Sequence[Expr], width: int | None = None) -> Population:
    """The population of ``exprs``; ``width`` defaults to the longest expression."""
    code, value, start = native_flatten(exprs)
    lengths = np.diff(start)
    width = int(lengths.max(initial=1)) if width is None else width
    if len(exprs) and int(lengths.max()) > width:
        raise ValueError(f"an expression of {int(lengths.max())} nodes does not fit width {width}")
    pop = empty(len(exprs), width)
    pop.lengths[:] = lengths
    mask = pop.valid()
    pop.codes[mask] = code
    pop.values[mask] = value
    return pop


def to_exprs(pop: Population) -> list[Expr]:
    """The tuple expressions of ``pop`` (variable indices as ``int``, operators' value 0)."""
    out = []
    for codes, values, n in zip(pop.codes.tolist(), pop.values.tolist(), pop.lengths.tolist()):
        out.append(tuple((c, v if c == CONST else int(v) if c == VAR else 0) for c, v in zip(codes[:n], values[:n])))
    return out


def flatten(pop: Population) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The interpreter's layout (:func:`search.native.flatten`): codes ``(M,) int32``, leaf
    values ``(M,) float64`` and expression starts ``(N + 1,) int64``."""
    mask = pop.valid()
    start = np.zeros(len(pop) + 1, dtype=np.int64)
    np.cumsum(pop.lengths, out=start[1:])
    return pop.codes[mask].astype(np.int32, copy=False), pop.values[mask], start


class Tables:
    """Per-code lookups of an operator set for arrays of codes (PAD, code -1, indexes the
    extra last entry: arity 0, cost 0, stack effect 0)."""

    def __init__(self, ops: OperatorSet):
        self.arity = np.array(list(ops.arities) + [0], dtype=np.int32)
        self.cost = np.array(list(ops.costs) + [0], dtype=np.int32)
        self.effect = np.append(1 - self.arity[:-1], 0).astype(np.int32)  # what a node does to the stack depth


def complexity(pop: Population, tables: Tables) -> np.ndarray:
    """``(N,)``: the sum of node costs of each expression (:func:`search.expression.complexity`)."""
    return tables.cost[pop.codes].sum(axis=1)
