"""Batched evaluation of whole populations in one compiled JAX call.

Every operator node of every expression is assigned a *step* by its depth below the
root, as late as possible: a node at depth ``d`` is computed at step ``L - 1 - d``, so all
roots are computed at the last step and every operator's operator-children exactly one
step earlier.  A step therefore only reads the *block* written by the step before: a
``(B, R)`` array (R data rows) laid out as

    [ leaves (n_leaves) | constants used next step (w_c) | op 1 (w_1) | op 2 (w_2) | ... ]

Each arity owns a fixed segment of slots per step, so one step is

    args_j = prev[child_j[s, seg]]                 # (w, R) gathers, j < the segment's arity
    segment = select(opcode, op_1(*args), op_2(*args), ...)   # every operator of that arity

i.e. the operators of one arity are computed on their segment across the whole
population at once (see :func:`operator_groups` for why per arity, not per operator),
and ``lax.scan`` runs the steps carrying one small block.  The sizes are static (a
:class:`Capacity`); a batch that does not fit is split in halves, only persistent
splitting grows the sizes (one recompile), and expressions deeper than the common case
go to a second call site of their own so that the common one keeps few steps.

The plan (the index arrays) is computed with vectorized NumPy over the whole population
(:meth:`Evaluator.plan`), not node by node.

On a CPU the values are computed instead by the operator set's native interpreter
(:mod:`search.native`), which needs no plan at all; the JAX program above serves the
GPU, per-candidate leaves, objectives that call the population themselves, and
constant fitting (which differentiates through it).  See :class:`Evaluator`'s
``backend``.  There, values scored by least squares without a map (tabular regression)
are scored natively too (:func:`search.native.row_losses`, float64 sums); other
objectives score them in JAX.

What the values are scored with is the caller's :class:`~search.objectives.Objective`;
the evaluator only computes values, shape ``(P, R)``.  Leaves are shared by every
candidate, shape ``(n_leaves, R)``, or given per candidate, ``(P, n_leaves, R)`` (a user
objective integrating an ODE gives each candidate its own state).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from functools import partial
from typing import NoReturn, Sequence

import jax
import jax.numpy as jnp
import numpy as np
from codegen.interpreter import UNKNOWN_CODE, VARIABLE_OUTSIDE

from . import native
from . import population as arrays
from .expression import Expr
from .jax_setup import configure
from .objectives import Objective
from .operators import BUILTIN, CONST, VAR, OperatorSet

configure()


def _bucket(n: int) -> int:
    """Smallest power of two >= ``n`` (at least 8): each size grows only a few times."""
    size = 8
    while size < n:
        size *= 2
    return size


def _round_up(n: int, step: int) -> int:
    """``n`` rounded up to a multiple of ``step`` (at least ``step``)."""
    return max(step, -(-n // step) * step)


#: Expressions deeper than this go to the deep call site (every step costs the full width).
SHALLOW_STEPS = 12


@dataclass
class Capacity:
    """Static sizes of one compiled call site.  ``widths[k]`` is the slots per step of the
    evaluator's operator group ``k``."""

    widths: list[int] = field(default_factory=list)
    steps: int = 4
    const_width: int = 8
    consts: int = 64
    population: int = 8
    max_consts_per_expr: int = 4
    deep: "Capacity | None" = None  # where expressions deeper than ``steps`` go
    calls: int = 0   # calls and splits since the last growth (see Evaluator.plans)
    splits: int = 0

    def holds(self, need: "Capacity") -> bool:
        """True when every size of ``need`` fits within this capacity."""
        return (all(n <= w for n, w in zip(need.widths, self.widths))
                and need.steps <= self.steps and need.const_width <= self.const_width
                and need.consts <= self.consts and need.population <= self.population
                and need.max_consts_per_expr <= self.max_consts_per_expr)

    def grow_to(self, need: "Capacity", slack: float = 2.0) -> None:
        """Grow every size that ``need`` exceeds to a bucket above ``slack * need``."""
        self.widths = [w if n <= w else _round_up(int(slack * n), 8) for n, w in zip(need.widths, self.widths)]
        self.steps = max(self.steps, _round_up(need.steps, 4))
        if need.const_width > self.const_width:
            self.const_width = _round_up(int(slack * need.const_width), 16)
        self.consts = max(self.consts, _bucket(need.consts))
        self.population = max(self.population, _bucket(need.population))
        if need.max_consts_per_expr > self.max_consts_per_expr:
            self.max_consts_per_expr = _round_up(need.max_consts_per_expr, 4)

    def key(self) -> tuple:
        return (tuple(self.widths), self.steps, self.const_width, self.consts, self.population,
                self.max_consts_per_expr)


@dataclass(frozen=True)
class Plan:
    """A population compiled to index arrays (see the module docstring).

    children:     (A, steps, W) int32 index into the previous block of each slot's j-th
                  argument (A = the largest arity; unused entries are 0)
    owner:        (steps, W) int32 expression of each slot (for per-candidate leaves)
    const_index:  (steps + 1, w_c) int32 index into ``consts`` of the constants that block
                  ``s`` (the one read by step ``s``; the last is the final block) carries
    roots:        (population,) int32 index into the final block of each expression's value
    consts:       (n_consts,) initial constant values; the last one is an unused pad
    const_slots:  (population, max_consts_per_expr) index into ``consts`` of each
                  expression's constants in postfix order; padding points at the pad
    opcode:       (steps, W) int32 operator code of each slot (groups of several operators
                  compute each of them on the whole segment and select by it)
    layout:       ((operator codes of the group, width), ...) segments, in block order
    """

    children: np.ndarray
    owner: np.ndarray
    opcode: np.ndarray
    const_index: np.ndarray
    roots: np.ndarray
    consts: np.ndarray
    const_slots: np.ndarray
    n_exprs: int
    layout: tuple[tuple[tuple[int, ...], int], ...]

    def arrays(self, dtype):
        """The device arrays ``forward`` takes after the leaves."""
        with np.errstate(over="ignore"):  # a constant past the float range is an invalid candidate, not news
            consts = self.consts.astype(np.dtype(dtype))
        return (jnp.asarray(consts), jnp.asarray(self.children), jnp.asarray(self.owner),
                jnp.asarray(self.opcode), jnp.asarray(self.const_index), jnp.asarray(self.roots))


@dataclass
class _Flat:
    """A population as flat node arrays: every node of every expression, in order."""

    code: np.ndarray    # (N,) node codes
    value: np.ndarray   # (N,) constant value or variable index
    expr: np.ndarray    # (N,) which expression
    pos: np.ndarray     # (N,) position within its expression
    start: np.ndarray   # (P,) index of each expression's first node
    length: np.ndarray  # (P,)


def _flatten(exprs: Sequence[Expr]) -> _Flat:
    code, value, bounds = native.flatten(exprs)
    start, length = bounds[:-1], np.diff(bounds)
    expr = np.repeat(np.arange(len(exprs)), length)
    pos = np.arange(len(expr)) - start[expr]
    return _Flat(code.astype(np.int64), value, expr, pos, start, length)


def _tree_links(flat: _Flat, arities: np.ndarray, max_arity: int) -> tuple[np.ndarray, np.ndarray]:
    """Children (N, max_arity) flat indices (-1 where none) and depth (N,) of every node.

    A postfix stack machine run over all expressions at once, one position per pass.
    """
    P = len(flat.length)
    N = len(flat.code)
    Lmax = int(flat.length.max(initial=0))
    grid = np.full((P, Lmax), -1, dtype=np.int64)  # flat index of node (p, i)
    grid[flat.expr, flat.pos] = np.arange(N)
    ar = np.zeros((P, Lmax), dtype=np.int64)
    ar[flat.expr, flat.pos] = arities[flat.code]
    stack = np.zeros((P, Lmax + 1), dtype=np.int64)
    top = np.zeros(P, dtype=np.int64)
    kids = np.full((N, max(max_arity, 1)), -1, dtype=np.int64)
    rows = np.arange(P)
    for i in range(Lmax):
        live = grid[:, i] >= 0
        a = ar[:, i]
        for j in range(max_arity):
            has = live & (a > j)
            kids[grid[has, i], j] = stack[rows[has], top[has] - a[has] + j]
        top = np.where(live, top - a, top)
        stack[rows[live], top[live]] = grid[live, i]
        top = top + live
    depth = np.zeros(N, dtype=np.int64)
    for i in range(Lmax - 1, -1, -1):
        node = grid[:, i]
        node = node[node >= 0]
        for j in range(max_arity):
            k = kids[node, j]
            ok = k >= 0
            depth[k[ok]] = depth[node[ok]] + 1
    return kids, depth


def _rank_within(keys: np.ndarray) -> np.ndarray:
    """For each element, how many earlier elements share its key (stable order)."""
    order = np.argsort(keys, kind="stable")
    sorted_keys = keys[order]
    first = np.searchsorted(sorted_keys, sorted_keys, side="left")
    rank = np.empty(len(keys), dtype=np.int64)
    rank[order] = np.arange(len(keys)) - first
    return rank


#: Evaluator backends: ``"auto"`` is the native interpreter where JAX runs on the CPU
#: and the operator set has one, else ``"jax"``.  ``DISCOVER_EVALUATOR`` overrides the default.
BACKENDS = ("auto", "native", "jax")


class BackendError(ValueError):
    """An evaluator backend that does not exist or cannot serve the operator set."""


def choose_backend(backend: str | None, ops: OperatorSet, dtype) -> str:
    """The backend ``"native"`` or ``"jax"`` that ``backend`` (or the environment's
    ``DISCOVER_EVALUATOR``, default ``"auto"``) resolves to for ``ops`` in ``dtype``."""
    source = "evaluator backend" if backend else "DISCOVER_EVALUATOR"
    backend = backend or os.environ.get("DISCOVER_EVALUATOR") or "auto"
    if backend not in BACKENDS:
        raise BackendError(f"{source} must be one of {', '.join(BACKENDS)}, not {backend!r}")
    if backend == "jax" or (backend == "auto" and jax.default_backend() != "cpu"):
        return "jax"
    if native.interpreter(ops, np.dtype(dtype).name) is None:
        if backend == "native":
            raise BackendError(f"{source} 'native': no native evaluator for this operator set (an operator "
                               f"codegen cannot lower); use 'auto' or 'jax'")
        return "jax"
    return "native"


def one_thread_pool_for_search(ops: OperatorSet = BUILTIN, dtype="float32") -> bool:
    """:func:`search.jax_setup.one_thread_cpu_pool` in a process about to run searches of
    ``ops`` that will evaluate natively on the CPU (``DISCOVER_EVALUATOR`` does not ask for
    JAX and codegen lowers every operator); True if done.  The JAX evaluator on the CPU
    wants XLA's threads: with one, it ran 19 % (500 rows) to 39 % (5,000 rows) slower."""
    from .jax_setup import one_thread_cpu_pool

    if (os.environ.get("DISCOVER_EVALUATOR") or "auto") == "jax":
        return False
    if native.interpreter(ops, np.dtype(dtype).name) is None:
        return False
    return one_thread_cpu_pool()


class Evaluator:
    """Computes the values of populations of expressions on fixed leaves ``(n_leaves, R)``.

    ``codes`` are the operator codes (of ``ops``) that may appear; ``dtype`` is the
    compute type (float32 by default: twice the throughput of float64 on CPU);
    ``backend`` one of :data:`BACKENDS` (see :func:`choose_backend`).
    """

    def __init__(self, leaves: np.ndarray, codes: Sequence[int], ops: OperatorSet = BUILTIN, *, dtype=jnp.float32,
                 backend: str | None = None):
        leaves = np.asarray(leaves, dtype=np.float64)
        if leaves.ndim != 2:
            raise ValueError(f"leaves must have shape (n_leaves, n_rows), got {leaves.shape}")
        self.n_vars, self.n_rows = leaves.shape
        self.ops = ops
        self.dtype = dtype
        self.codes = tuple(sorted(set(codes)))
        self.groups = operator_groups(self.codes, ops)
        self._segment = np.full(len(ops.arities), -1, dtype=np.int64)
        for k, group in enumerate(self.groups):
            self._segment[list(group)] = k
        self._arities = np.asarray(ops.arities, dtype=np.int64)
        self.max_arity = max((ops.arity(c) for c in self.codes), default=1)
        self.leaves = jnp.asarray(leaves, dtype=dtype)
        self.backend = choose_backend(backend, ops, dtype)
        if self.backend == "native":
            self._interpreter = native.interpreter(ops, np.dtype(dtype).name)
            self._native_leaves = np.ascontiguousarray(leaves, dtype=np.dtype(dtype))
            self._leaves64 = np.ascontiguousarray(leaves)  # float64, for constant fitting
            self._interpreter64 = None
            self._row_losses: dict[int, tuple] = {}  # id(objective) -> (objective, native.row_losses)
            self._allowed = np.zeros(len(ops.arities), dtype=bool)
            self._allowed[[CONST, VAR, *self.codes]] = True
            self._arity_or_absent = np.where(self._allowed, self._arities, -1).astype(np.int8)
        self.capacity = self.new_capacity()
        self.compilations = 0
        self._seen_keys: set = set()

    def new_capacity(self, population: int = 8, maxsize: int = 8) -> Capacity:
        """A fresh capacity for a call site of its own (its shapes then stay stable),
        pre-sized for batches of ``population`` expressions of up to ``maxsize`` nodes."""
        return Capacity(widths=[8 for _ in self.groups], steps=_round_up(min(maxsize, SHALLOW_STEPS), 4),
                        const_width=_round_up(population // 2, 16),
                        consts=_bucket(population * max(maxsize // 3, 1)), population=_bucket(population))

    # ------------------------------------------------------------------ planning
    def plan(self, exprs: Sequence[Expr], capacity: Capacity | None = None, grow: bool = True) -> Plan | None:
        """Lay the population out in steps.  Where ``capacity`` (default: the evaluator's
        own) is too small it is grown, or with ``grow=False`` None is returned."""
        cap = capacity if capacity is not None else self.capacity
        n_vars = self.n_vars
        flat = _flatten(exprs)
        P = len(exprs)
        N = len(flat.code)
        is_op = flat.code > VAR
        if np.any(is_op) and np.any(self._segment[flat.code[is_op]] < 0):
            bad = sorted({self.ops.operator(int(c)).name for c in flat.code[is_op] if self._segment[c] < 0})
            raise ValueError(f"operators {bad} are not among the evaluator's codes")
        kids, depth = _tree_links(flat, self._arities, self.max_arity)

        # What this population needs; fit it into (or grow) the capacity.
        op_ids = np.flatnonzero(is_op)
        L_need = int(depth[op_ids].max(initial=-1)) + 1
        is_const = flat.code == CONST
        const_id = np.cumsum(is_const) - 1  # global constant number of each constant node
        n_consts_of = np.bincount(flat.expr[is_const], minlength=P)
        L = max(cap.steps, _round_up(L_need, 4))
        step = L - 1 - depth
        segment = self._segment[flat.code]
        n_seg = len(self.groups)
        op_key = step[op_ids] * n_seg + segment[op_ids]
        op_rank = _rank_within(op_key)
        counts = np.bincount(op_key, minlength=L * n_seg).reshape(L, n_seg)
        # Each constant node is read by exactly one parent (at the parent's step), or is a root.
        parent_step = np.full(N, L, dtype=np.int64)  # roots are read from the final block L
        for j in range(self.max_arity):
            k = kids[op_ids, j]
            ok = k >= 0
            parent_step[k[ok]] = step[op_ids[ok]]
        const_nodes = np.flatnonzero(is_const)
        const_block = parent_step[const_nodes]
        const_rank = _rank_within(const_block)
        const_fill = np.bincount(const_block, minlength=L + 1)
        need = Capacity(widths=[int(w) for w in counts.max(axis=0)] if len(op_ids) else [0] * n_seg, steps=L,
                        const_width=int(const_fill.max(initial=0)), consts=len(const_nodes) + 1, population=P,
                        max_consts_per_expr=int(n_consts_of.max(initial=0)))
        if not cap.holds(need):
            if not grow:
                return None
            cap.grow_to(need)
            cap.calls = cap.splits = 0
            L = cap.steps
            if L != need.steps:  # re-plan with the grown step count
                return self.plan(exprs, cap)

        # Index arrays.
        seg_start = n_vars + cap.const_width + np.concatenate([[0], np.cumsum(cap.widths)[:-1]]).astype(np.int64)
        W = int(sum(cap.widths))
        index = np.zeros(N, dtype=np.int64)  # where each node's value sits in the block that reads it
        index[op_ids] = seg_start[segment[op_ids]] + op_rank
        var_nodes = flat.code == VAR
        index[var_nodes] = flat.value[var_nodes].astype(np.int64)
        index[const_nodes] = n_vars + const_rank
        first_op = n_vars + cap.const_width
        col = index[op_ids] - first_op
        children = np.zeros((max(self.max_arity, 1), L, W), dtype=np.int32)
        for j in range(self.max_arity):
            k = kids[op_ids, j]
            ok = k >= 0
            children[j, step[op_ids[ok]], col[ok]] = index[k[ok]]
        owner = np.zeros((L, W), dtype=np.int32)
        owner[step[op_ids], col] = flat.expr[op_ids]
        opcode = np.zeros((L, W), dtype=np.int32)
        opcode[step[op_ids], col] = flat.code[op_ids]
        pad = cap.consts - 1
        const_index = np.full((L + 1, cap.const_width), pad, dtype=np.int32)
        const_index[const_block, const_rank] = const_id[const_nodes]
        root_nodes = flat.start + flat.length - 1
        root_idx = np.zeros(cap.population, dtype=np.int32)
        root_idx[:P] = index[root_nodes]
        const_values = np.zeros(cap.consts, dtype=np.float64)
        const_values[: len(const_nodes)] = flat.value[const_nodes]
        const_slots = np.full((cap.population, cap.max_consts_per_expr), pad, dtype=np.int32)
        const_slots[flat.expr[const_nodes], _rank_within(flat.expr[const_nodes])] = const_id[const_nodes]
        key = (self.groups, cap.key())
        if key not in self._seen_keys:
            self._seen_keys.add(key)
            self.compilations += 1
        layout = tuple(zip(self.groups, cap.widths))
        return Plan(children, owner, opcode, const_index, root_idx, const_values, const_slots, P, layout)

    def plans(self, exprs: Sequence[Expr], capacity: Capacity | None = None) -> list[tuple[np.ndarray, Plan]]:
        """Plans covering ``exprs``, as ``(indices into exprs, plan)`` chunks.

        Expressions deeper than ``capacity.steps`` (once it has ``SHALLOW_STEPS``) go to
        its deep call site, so that the common case keeps few steps.  A population that
        does not fit a call site is split in halves (no compilation); only persistent
        splitting (over 30 % of at least 10 calls) grows it, which compiles once.
        """
        cap = capacity if capacity is not None else self.capacity
        if not exprs:
            return []
        depths = self.depths(exprs)
        deep = depths - 1 > max(cap.steps, SHALLOW_STEPS)
        out = []
        shallow_idx = np.flatnonzero(~deep)
        if len(shallow_idx):
            out += self._fit(exprs, shallow_idx, cap)
        deep_idx = np.flatnonzero(deep)
        if len(deep_idx):
            if cap.deep is None:
                cap.deep = _deep_capacity(cap, int(depths.max()))
            out += self._fit(exprs, deep_idx, cap.deep)
        return out

    def depths(self, exprs: Sequence[Expr]) -> np.ndarray:
        """Height of every expression (a leaf has 1), computed for all at once."""
        flat = _flatten(exprs)
        _, node_depth = _tree_links(flat, self._arities, self.max_arity)
        # A node's height below it is unknown here, but the deepest leaf's depth from the
        # root is the tree's height minus one.
        height = np.zeros(len(exprs), dtype=np.int64)
        np.maximum.at(height, flat.expr, node_depth)
        return height + 1

    def _fit(self, exprs: Sequence[Expr], index: np.ndarray, cap: Capacity) -> list[tuple[np.ndarray, Plan]]:
        """Plans of ``exprs[index]`` in ``cap``: one call, halves, or a grown capacity."""
        cap.calls += 1
        chosen = [exprs[i] for i in index]
        plan = self.plan(chosen, cap, grow=len(index) == 1 or (cap.calls >= 10 and cap.splits > 0.3 * cap.calls))
        if plan is not None:
            return [(index, plan)]
        cap.splits += 1
        out = []
        for part in (index[: len(index) // 2], index[len(index) // 2:]):
            plan = self.plan([exprs[i] for i in part], cap, grow=False)
            out += [(part, plan)] if plan is not None else self._fit(exprs, part, cap)
        return out

    def presize(self, exprs: Sequence[Expr], capacity: Capacity, max_depth: int) -> None:
        """Grow ``capacity`` to hold ``exprs`` in one call, without compiling anything (used
        with a sample of full-size expressions), and give it a deep call site of ``max_depth``
        steps with half its widths (evolved populations hold many deep expressions)."""
        depths = self.depths(exprs)
        self.plan([e for e, d in zip(exprs, depths) if d - 1 <= max(capacity.steps, SHALLOW_STEPS)], capacity)
        capacity.deep = _deep_capacity(capacity, max_depth)

    # ------------------------------------------------------------------ evaluation
    def _native_values(self, exprs: Sequence[Expr], rows: int | None = None) -> np.ndarray:
        """The interpreter's values ``(rows or P, R)`` (rows past P are zero), after checking
        what it trusts (:meth:`codegen.interpreter.Interpreter.check`, one native pass):
        known codes, variables within the leaves, valid postfix order."""
        code, value, start = arrays.flatten(exprs) if isinstance(exprs, arrays.Population) else native.flatten(exprs)
        found = self._interpreter.check(code, value, start, self._arity_or_absent, self.n_vars)
        if found:
            self._raise_invalid(found, code)
        P = len(start) - 1
        out = np.empty((rows or P, self.n_rows), dtype=self._native_leaves.dtype)
        out[P:] = 0
        self._interpreter(code, value, start, self._native_leaves, out=out)
        return out

    def _raise_invalid(self, found: int, code: np.ndarray) -> NoReturn:
        """The ValueError for what :meth:`codegen.interpreter.Interpreter.check` ``found``."""
        if found & UNKNOWN_CODE:
            known = (code >= 0) & (code < len(self._allowed))
            known[known] = self._allowed[code[known]]
            bad = sorted({int(c) for c in code[~known]})
            raise ValueError(f"operator codes {bad} are not among the evaluator's codes")
        if found & VARIABLE_OUTSIDE:
            raise ValueError(f"a variable index is outside the {self.n_vars} leaves")
        raise ValueError("an expression is not a valid postfix expression")

    def _native_row_losses(self, objective):
        """:func:`search.native.row_losses` of ``objective``, built once per objective."""
        entry = self._row_losses.get(id(objective))
        if entry is None or entry[0] is not objective:
            entry = self._row_losses[id(objective)] = (objective, native.row_losses(objective, self._native_leaves.dtype.name))
        return entry[1]

    def native_values64(self, code: np.ndarray, value: np.ndarray, start: np.ndarray) -> np.ndarray:
        """float64 values ``(P, R)`` of a flattened population (:func:`search.native.flatten`)
        that came from valid expressions of this evaluator (not checked again); for the
        host's constant fitting, which needs accurate differences."""
        if self._interpreter64 is None:
            self._interpreter64 = native.interpreter(self.ops, "float64")
        return self._interpreter64(code, value, start, self._leaves64)

    def values(self, exprs: Sequence[Expr] | arrays.Population, capacity: Capacity | None = None) -> np.ndarray:
        """Outputs ``f(leaves)`` of each expression, shape ``(len(exprs), R)``."""
        if self.backend == "native":
            return self._native_values(exprs).astype(np.float64) if len(exprs) else np.empty((0, self.n_rows))
        if isinstance(exprs, arrays.Population):
            exprs = arrays.to_exprs(exprs)
        out = np.empty((len(exprs), self.n_rows))
        for index, plan in self.plans(exprs, capacity):
            values = _forward(self.leaves, *plan.arrays(self.dtype), layout=plan.layout, ops=self.ops)
            out[index] = np.asarray(values)[: plan.n_exprs]
        return out

    def losses(self, exprs: Sequence[Expr] | arrays.Population, objective, capacity: Capacity | None = None) -> np.ndarray:
        """``objective``'s loss of each expression (float64 array; inf where invalid)."""
        if self.backend == "native" and type(objective).losses is Objective.losses:
            if not len(exprs):
                return np.empty(0)
            row_losses = self._native_row_losses(objective)
            if row_losses is not None:
                return row_losses(self._native_values(exprs))
            # the batch padded to a power of two, so a search compiles the loss a few times only
            values = self._native_values(exprs, rows=_bucket(len(exprs)))
            return np.asarray(_losses_of_values(objective, values), dtype=np.float64)[: len(exprs)]
        if isinstance(exprs, arrays.Population):
            exprs = arrays.to_exprs(exprs)
        out = np.empty(len(exprs))
        for index, plan in self.plans(exprs, capacity):
            values = _losses(self.leaves, objective, *plan.arrays(self.dtype), layout=plan.layout, ops=self.ops)
            out[index] = np.asarray(values, dtype=np.float64)[: plan.n_exprs]
        return out


def _deep_capacity(capacity: Capacity, steps: int) -> Capacity:
    """The deep call site of ``capacity``: ``steps`` steps and half its other sizes."""
    return Capacity(widths=[max(8, _round_up(w // 2, 8)) for w in capacity.widths], steps=_round_up(steps, 4),
                    const_width=max(16, capacity.const_width // 2), consts=max(128, capacity.consts // 2),
                    population=max(8, capacity.population // 2), max_consts_per_expr=capacity.max_consts_per_expr)


def operator_groups(codes: Sequence[int], ops: OperatorSet) -> tuple[tuple[int, ...], ...]:
    """The evaluator's segments: one per arity, holding every operator of that arity.

    A group of several operators computes each on the whole segment and selects per slot
    (``jnp.where`` on the slot's code).  That costs extra arithmetic, but the block holds
    far fewer slots than with a segment per operator (each sized by its busiest step), so
    the gathers, which dominate, shrink; and the sizes no longer drift with the
    population's operator mix, so a running search rarely recompiles.
    """
    by_arity: dict[int, list[int]] = {}
    for code in sorted(codes):
        by_arity.setdefault(ops.arity(code), []).append(code)
    return tuple(tuple(by_arity[a]) for a in sorted(by_arity))


class Population:
    """The population of a plan as a function of its leaves (what a user objective gets).

    ``population(leaves)`` with ``leaves`` of shape ``(n_leaves, R)`` (shared by every
    candidate) or ``(size, n_leaves, R)`` (one set per candidate) returns the values,
    shape ``(size, R)``; rows past the plan's expressions are padding.  It is a pure JAX
    function, usable inside ``jax.lax.scan`` (e.g. to integrate an ODE with every
    candidate as the right-hand side at once).
    """

    def __init__(self, consts, children, owner, opcode, const_index, roots, layout, ops):
        self._arrays = (consts, children, owner, opcode, const_index, roots)
        self.layout = layout
        self.ops = ops
        self.size = roots.shape[0]

    def __call__(self, leaves):
        return forward(leaves, *self._arrays, layout=self.layout, ops=self.ops)


def forward(leaves, consts, children, owner, opcode, const_index, roots, layout, ops):
    """Run the steps; returns the ``(population, R)`` values of the roots."""
    dtype = leaves.dtype
    if leaves.ndim == 3:
        # One set of leaves per candidate: rows p * n_leaves + v of the input region.
        size, n_leaves, n_rows = leaves.shape
        inputs = leaves.reshape(size * n_leaves, n_rows)
        shift = size * n_leaves - n_leaves
        children = jnp.where(children < n_leaves, owner[None] * n_leaves + children, children + shift)
        roots = jnp.where(roots < n_leaves, jnp.arange(roots.shape[0]) * n_leaves + roots, roots + shift)
    else:
        inputs = leaves
    n_rows = inputs.shape[1]
    width = children.shape[2]

    def const_rows(index):
        c = consts[index].astype(dtype)
        return jnp.broadcast_to(c[:, None], (c.shape[0], n_rows))

    def step(prev, inputs_s):
        kids, codes, next_consts = inputs_s
        parts = [inputs, const_rows(next_consts)]
        off = 0
        for group, w in layout:
            arity = ops.arity(group[0])
            args = [prev[kids[j, off:off + w]] for j in range(arity)]
            value = ops.operator(group[0]).jax(*args).astype(dtype)
            for code in group[1:]:
                here = (codes[off:off + w] == code)[:, None]
                value = jnp.where(here, ops.operator(code).jax(*args).astype(dtype), value)
            parts.append(value)
            off += w
        return jnp.concatenate(parts), None

    initial = jnp.concatenate([inputs, const_rows(const_index[0]), jnp.zeros((width, n_rows), dtype)])
    final, _ = jax.lax.scan(step, initial, (jnp.moveaxis(children, 0, 1), opcode, const_index[1:]))
    return final[roots]


_forward = jax.jit(forward, static_argnames=("layout", "ops"))


@jax.jit
def _losses_of_values(objective, values):
    return objective.losses_of_values(values)


@partial(jax.jit, static_argnames=("layout", "ops"))
def _losses(leaves, objective, consts, children, owner, opcode, const_index, roots, layout, ops):
    population = Population(consts, children, owner, opcode, const_index, roots, layout, ops)
    return objective.losses(population, leaves)
