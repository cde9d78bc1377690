"""Random expressions, and the variation operators of the evolution on whole populations.

:func:`random_expr` grows one tuple expression (:mod:`search.expression`): the initial
populations and the bank of small subtrees that :func:`replace_subtree` grafts.  The
mutations and the crossover act on a :class:`~search.population.Population` of parents,
every row at once, with array operations only (no per-candidate Python): each chooses its
positions per row with :func:`~search.population.random_positions` and builds the children
with :func:`~search.population.concatenate`.  :meth:`Variation.children` combines them as
the evolution does (crossover or one mutation, retried until the child fits ``maxsize``).
Everything draws from the ``numpy.random.Generator`` it is given, so a seed fixes the result.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .expression import Expr, Node
from .operators import BUILTIN, CONST, VAR, OperatorSet
from .population import PAD, Population, Shape, Tables, complexity, concatenate, empty, from_exprs, random_positions


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
    is_const = rng.random(shape) < g.const_probability
    value = np.round(rng.normal(size=shape) * 2.0, 3)
    value[value == 0] = 1.0
    index = np.minimum((rng.random(shape) * g.n_vars).astype(np.int64), g.n_vars - 1)
    return np.where(is_const, CONST, VAR).astype(np.int32), np.where(is_const, value, index.astype(np.float64))


def _uniform(rng: np.random.Generator, high: np.ndarray) -> np.ndarray:
    """A uniform integer in ``[0, high[k])`` for every ``k`` (``high ≥ 1``)."""
    return np.minimum((rng.random(len(high)) * high).astype(np.int64), high - 1)


#: The edits, in the order of their codes in :meth:`Variation.edit`, and the weight with
#: which a mutation is each of them (PySR's defaults in spirit); crossover is chosen apart.
MUTATION_WEIGHTS = {"constant": 0.30, "operator": 0.15, "leaf": 0.15, "swap": 0.05,
                    "insert": 0.20, "delete": 0.10, "replace_subtree": 0.05}
EDITS = tuple(MUTATION_WEIGHTS) + ("crossover",)
KIND = {name: i for i, name in enumerate(EDITS)}


class Variation:
    """Mutation and crossover of one grammar, on populations of at most ``width`` nodes.

    Every edit of a postfix expression ``a`` is a concatenation of segments of ``a``, of a
    row of new nodes, of a small random subtree or of a partner ``b``:

    ========================  ===================================================
    constant, operator, leaf  ``a[:i] + (new node,) + a[i+1:]`` — a constant scaled by
                              ``exp(±N(0, 1/2))`` (negated one time in ten), an operator
                              of the same arity, a random leaf
    swap                      ``a[:l] + a[r:i] + a[l:r] + a[i:]`` — the operands of a
                              binary operator ``i`` exchanged
    insert                    the subtree ``a[s:e+1]`` wrapped as ``u(s)``, ``s op leaf``
                              or ``leaf op s``
    delete                    an operator replaced by one of its arguments
    replace_subtree           a subtree replaced by a random one of 1 to 5 nodes (from a
                              bank drawn with ``rng`` at construction; fresh leaves each use)
    crossover                 a subtree of ``a`` replaced by a random subtree of ``b``
    ========================  ===================================================

    :meth:`edit` performs any mix of them on a whole population with one gather.
    """

    def __init__(self, g: Grammar, width: int, rng: np.random.Generator, bank_size: int = 1000):
        self.g = g
        self.width = width
        self.tables = Tables(g.ops)
        self.choices = np.zeros((4, max(1, len(g.unary), len(g.binary), len(g.ternary))), dtype=np.int32)
        self.n_choices = np.zeros(4, dtype=np.int64)
        for arity in (1, 2, 3):
            codes = g.of_arity(arity)
            self.choices[arity, : len(codes)] = codes
            self.n_choices[arity] = len(codes)
        self.bank = from_exprs([random_expr(rng, g, 1 + k % 5) for k in range(bank_size)])
        weights = np.array(list(MUTATION_WEIGHTS.values()))
        self.cumulative = np.cumsum(weights) / weights.sum()

    def fits(self, p: Population) -> np.ndarray:
        """``(N,) bool``: complexity within ``maxsize`` and length within the width."""
        return (complexity(p, self.tables) <= self.g.maxsize) & (p.lengths <= self.width)

    def mutation_kinds(self, rng: np.random.Generator, p: Population) -> np.ndarray:
        """``(N,)`` edit codes of random mutations; one that has nothing to act on in its row
        falls back (``constant → operator → leaf``; ``swap``, ``delete`` → ``leaf``; ``insert``
        → ``leaf`` in a grammar without operators)."""
        kind = np.minimum(np.searchsorted(self.cumulative, rng.random(len(p)), side="right"), len(MUTATION_WEIGHTS) - 1)
        has_op = (p.codes > VAR).any(axis=1)
        kind[(kind == KIND["constant"]) & ~(p.codes == CONST).any(axis=1)] = KIND["operator"]
        kind[(kind == KIND["operator"]) & ~has_op] = KIND["leaf"]
        kind[(kind == KIND["swap"]) & ~(self.tables.arity[p.codes] == 2).any(axis=1)] = KIND["leaf"]
        kind[(kind == KIND["delete"]) & ~has_op] = KIND["leaf"]
        if not (self.g.unary or self.g.binary):
            kind[kind == KIND["insert"]] = KIND["leaf"]
        return kind

    def edit(self, rng: np.random.Generator, a: Population, b: Population, kind: np.ndarray) -> Population:
        """Row ``k`` of ``a`` edited by ``EDITS[kind[k]]`` (``b``'s row ``k`` is the crossover
        partner).  A row whose edit has nothing to act on (a constant mutation without a
        constant, see :meth:`mutation_kinds`) is not a valid request.  The result may be
        wider than ``maxsize``; see :meth:`fits`."""
        g, tables, n = self.g, self.tables, len(a)
        rows = np.arange(n)
        codes, lengths = a.codes, a.lengths
        is_const, is_op = codes == CONST, codes > VAR
        arity = tables.arity[codes]
        anywhere = a.valid()
        # The node each kind acts on: drawn uniformly among the nodes of the right sort.
        targets = np.stack([is_const, is_op, is_const | (codes == VAR), arity == 2, anywhere, is_op, anywhere, anywhere])
        i, _ = random_positions(rng, targets[kind, rows])
        shape = Shape(a, tables)

        def start(ends):
            return shape.subtree_starts(np.maximum(ends, 0))

        root = start(i)                 # the subtree rooted at i is a[root:i+1]
        last = start(i - 1)             # its arguments, from the last: a[last:i], ...
        middle = start(last - 1)
        first = start(middle - 1)
        rest = lengths - i - 1

        # The new node of the point mutations, and the (leaf, operator) pair that insert adds.
        value = a.values[rows, i]
        factor = np.exp(rng.normal(size=n) * 0.5)
        scaled = np.where(rng.random(n) < 0.5, value * factor, value / factor)
        scaled = np.where(rng.random(n) < 0.1, -scaled, scaled)
        op_arity = arity[rows, i]
        count = self.n_choices[op_arity]
        same_arity = np.where(count > 0, self.choices[op_arity, _uniform(rng, np.maximum(count, 1))], codes[rows, i])
        leaf_code, leaf_value = random_leaves(rng, n, g)
        unary = np.full(n, bool(g.unary)) & ((not g.binary) | (rng.random(n) < 0.4))
        wrap_op = np.where(unary, self._draw(rng, g.unary, n), self._draw(rng, g.binary, n))
        point_code = np.select([kind == KIND["constant"], kind == KIND["operator"]], [CONST, same_arity], leaf_code)
        point_value = np.select([kind == KIND["constant"], kind == KIND["operator"]], [scaled, 0.0], leaf_value)
        pieces = Population(np.stack([point_code, wrap_op], axis=1).astype(np.int32),
                            np.stack([point_value, np.zeros(n)], axis=1), np.full(n, 2, dtype=np.int64))

        graft = self.bank.take(_uniform(rng, np.full(n, len(self.bank))))
        graft_leaf = (graft.codes == CONST) | (graft.codes == VAR)
        fresh_code, fresh_value = random_leaves(rng, graft.codes.shape, g)
        graft.codes = np.where(graft_leaf, fresh_code, graft.codes).astype(np.int32)
        graft.values = np.where(graft_leaf, fresh_value, graft.values)

        leaf_first = ~unary & (rng.random(n) < 0.5)   # insert: leaf op s rather than s leaf op
        leaf_after = ~unary & ~leaf_first
        argument = _uniform(rng, np.maximum(op_arity, 1))  # delete: 0 = the last argument
        keep = np.choose(np.minimum(argument, 2), [last, middle, first])
        keep_end = np.choose(np.minimum(argument, 2), [i - 1, last - 1, middle - 1])
        end_b = _uniform(rng, b.lengths)
        start_b = Shape(b, tables).subtree_starts(end_b)

        A, NEW, GRAFT, B = 0, 1, 2, 3  # the sources, in concatenate's order
        point = ((A, 0, i), (NEW, 0, 1), (A, i + 1, rest))
        tables_by_kind = [
            point, point, point,                                                            # constant, operator, leaf
            ((A, 0, middle), (A, last, i - last), (A, middle, last - middle), (A, i, lengths - i)),  # swap
            ((A, 0, root), (NEW, 0, leaf_first), (A, root, i + 1 - root), (NEW, 1 - leaf_after, 1 + leaf_after),
             (A, i + 1, rest)),                                                             # insert
            ((A, 0, root), (A, keep, keep_end + 1 - keep), (A, i + 1, rest)),               # delete
            ((A, 0, root), (GRAFT, 0, graft.lengths), (A, i + 1, rest)),                    # replace_subtree
            ((A, 0, root), (B, start_b, end_b + 1 - start_b), (A, i + 1, rest)),            # crossover
        ]
        segments = np.stack([_segments(n, t) for t in tables_by_kind])[kind, rows]
        return concatenate([a, pieces, graft, b], segments)

    @staticmethod
    def _draw(rng, codes: tuple[int, ...], n: int) -> np.ndarray:
        """``n`` codes drawn uniformly from ``codes`` (PAD where there is none)."""
        return np.asarray(codes or (PAD,), dtype=np.int32)[_uniform(rng, np.full(n, max(1, len(codes))))]

    def children(self, rng: np.random.Generator, parents: Population, partners: Population, cross: np.ndarray,
                 tries: int = 4) -> Population:
        """One child per parent: where ``cross``, the crossover with its partner, else a
        mutation; a child past ``maxsize`` is drawn again as a mutation, up to ``tries``
        edits in all (each round edits only the rows still open), and a parent none of
        whose edits fits is copied."""
        n = len(parents)
        out = empty(n, self.width)
        todo = np.arange(n)
        for round in range(tries):
            if not len(todo):
                break
            kind = self.mutation_kinds(rng, parents.take(todo))
            if round == 0:
                kind[cross] = KIND["crossover"]
            edited = self.edit(rng, parents.take(todo), partners.take(todo), kind)
            ok = self.fits(edited)
            out.put(todo[ok], edited.take(ok))
            todo = todo[~ok]
        out.put(todo, parents.take(todo))
        return out


def _segments(n: int, triples) -> np.ndarray:
    """``(n, 5, 3)`` segments for :func:`~search.population.concatenate` from up to five
    ``(source, start, length)`` triples of per-row arrays or scalars (empty ones appended)."""
    out = np.zeros((n, 5, 3), dtype=np.int64)
    for j, triple in enumerate(triples):
        for c, part in enumerate(triple):
            out[:, j, c] = part
    return out
