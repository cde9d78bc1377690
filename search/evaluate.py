"""Batched evaluation of whole populations in one compiled JAX call.

Every operator node of every expression is assigned a *step* by its depth below the
root, as late as possible: a node at depth ``d`` is computed at step ``L - 1 - d``, so all
roots are computed at the last step and every operator's operator-children exactly one
step earlier.  A step therefore only reads the *block* written by the step before: a
``(B, R)`` array (R data rows) laid out as

    [ input columns (n_vars) | constants used next step (w_c) | op 1 (w_1) | op 2 (w_2) | ... ]

Each operator owns a fixed segment of slots per step, so one step is

    a = prev[first_child[s]]; b = prev[second_child[s]]     # (W, R) gathers
    segment_k = op_k(a[seg_k], b[seg_k])                     # each op on its own slots only

i.e. every operator is computed only on the nodes that use it, across the whole
population at once (computing every operator on every slot and selecting was measured
3x slower), and ``lax.scan`` runs the steps carrying one small block (a tape of all
levels would be copied at every step by XLA's loop).  The sizes are static and only two widths vary with
the population's mix, so a running search compiles a handful of times: a population
that does not fit the compiled sizes is split in halves instead (see ``plans``).

Loss: the mean squared error, optionally after the optimal linear scaling
``a * f + b`` (Keijzer 2003), computed in closed form per expression.  A candidate whose
output has any NaN or inf gets an infinite loss.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial
from typing import Sequence

import jax
import jax.numpy as jnp
import numpy as np

from .expression import Expr, depth
from .jax_setup import configure
from .operators import CONST, VAR, arity_of, operator_of

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


@dataclass
class Capacity:
    """Static sizes of one compiled call site.  ``widths[k]`` is operator ``k``'s slots per step
    (``k`` indexes the evaluator's ``codes``)."""

    widths: list[int] = field(default_factory=list)
    steps: int = 4
    const_width: int = 8
    consts: int = 64
    population: int = 8
    max_consts_per_expr: int = 4
    frozen: bool = False  # set after the first plan: from then on, split before growing
    overflow: "Capacity | None" = None  # where deep or misfit expressions go
    is_overflow: bool = False
    calls: int = 0
    splits: int = 0

    def holds(self, need: "Capacity") -> bool:
        """True when every size of ``need`` fits within this capacity."""
        return (all(n <= w for n, w in zip(need.widths, self.widths))
                and need.steps <= self.steps and need.const_width <= self.const_width
                and need.consts <= self.consts and need.population <= self.population
                and need.max_consts_per_expr <= self.max_consts_per_expr)

    def grow_to(self, need: "Capacity", slack: float = 1.25) -> None:
        """Grow every size that ``need`` exceeds to a bucket above ``slack * need``."""
        self.widths = [w if n <= w else _round_up(int(slack * n), 8) for n, w in zip(need.widths, self.widths)]
        self.steps = max(self.steps, need.steps)
        if need.const_width > self.const_width:
            self.const_width = _bucket(int(slack * need.const_width))
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

    first_child:  (steps, W) int32 index into the previous block of each slot's first argument
    second_child: (steps, W) int32 likewise for the second argument (unused for unary slots)
    const_index:  (steps + 1, w_c) int32 index into ``consts`` of the constants that block
                  ``s`` (the one read by step ``s``; the last is the final block) carries
    roots:        (population,) int32 index into the final block of each expression's value
    consts:       (n_consts,) initial constant values; the last one is an unused pad
    const_slots:  (population, max_consts_per_expr) index into ``consts`` of each
                  expression's constants in postfix order; padding points at the pad
    layout:       ((operator code, width), ...) segments, in block order
    """

    first_child: np.ndarray
    second_child: np.ndarray
    const_index: np.ndarray
    roots: np.ndarray
    consts: np.ndarray
    const_slots: np.ndarray
    n_exprs: int
    layout: tuple[tuple[tuple[int, ...], int], ...]

    def arrays(self, dtype):
        """The device arrays ``forward`` takes after ``X_rows``."""
        return (jnp.asarray(self.consts, dtype), jnp.asarray(self.first_child), jnp.asarray(self.second_child),
                jnp.asarray(self.const_index), jnp.asarray(self.roots))


class Evaluator:
    """Scores populations of expressions on fixed data ``X (R, n_vars)``, ``y (R,)``.

    ``codes`` are the operator codes that may appear; ``dtype`` is the JAX compute type
    (float32 by default: twice the throughput of float64 on CPU; the final front is
    polished in float64 elsewhere).
    """

    def __init__(self, X: np.ndarray, y: np.ndarray, codes: Sequence[int], *,
                 dtype=jnp.float32, linear_scaling: bool = True):
        X = np.asarray(X, dtype=np.float64)
        self.n_rows, self.n_vars = X.shape
        self.dtype = dtype
        self.linear_scaling = linear_scaling
        codes = sorted(set(codes))
        self.codes = tuple(codes)
        self.segment_of = {c: k for k, c in enumerate(self.codes)}
        self.X_rows = jnp.asarray(X.T, dtype=dtype)
        self.y = jnp.asarray(np.asarray(y, dtype=np.float64), dtype=dtype)
        self.capacity = self.new_capacity()
        self.compilations = 0
        self._seen_keys: set = set()

    def new_capacity(self, population: int = 8, maxsize: int = 8) -> Capacity:
        """A fresh capacity for a call site of its own (its shapes then stay stable),
        pre-sized for batches of ``population`` expressions of up to ``maxsize`` nodes."""
        return Capacity(widths=[8 for _ in self.codes], steps=_round_up(min(maxsize, 8), 4),
                        const_width=_bucket(population // 2), consts=_bucket(population * max(maxsize // 3, 1)),
                        population=_bucket(population))

    # ------------------------------------------------------------------ planning
    def plan(self, exprs: Sequence[Expr], capacity: Capacity | None = None, grow: bool = True) -> Plan | None:
        """Lay the population out in steps.  Where ``capacity`` (default: the evaluator's
        own) is too small it is grown, or with ``grow=False`` None is returned."""
        cap = capacity if capacity is not None else self.capacity
        n_vars = self.n_vars
        # Pass 1: depth of every node (reverse postfix is a pre-order walk).
        op_code: list[int] = []
        op_depth: list[int] = []
        op_kids: list[tuple[int, int]] = []  # child refs: >= 0 op id; VAR -> -(1+v); CONST -> -(1+n_vars+c)
        roots: list[int] = []
        consts: list[float] = []
        expr_consts: list[list[int]] = []
        for expr in exprs:
            depths = [0] * len(expr)
            pending = [0]
            for i in range(len(expr) - 1, -1, -1):
                d = pending.pop()
                depths[i] = d
                pending.extend([d + 1] * arity_of(expr[i][0]))
            stack: list[int] = []
            mine: list[int] = []
            for (code, value), d in zip(expr, depths):
                if code == VAR:
                    stack.append(-(1 + int(value)))
                elif code == CONST:
                    mine.append(len(consts))
                    stack.append(-(1 + n_vars + len(consts)))
                    consts.append(value)
                else:
                    arity = arity_of(code)
                    args = stack[-arity:]
                    del stack[-arity:]
                    stack.append(len(op_code))
                    op_code.append(code)
                    op_depth.append(d)
                    op_kids.append((args[0], args[-1]))
            roots.append(stack[-1])
            expr_consts.append(mine)

        # Pass 2: what this population needs; fit it into (or grow) the capacity.
        L_need = max(op_depth, default=0) + 1
        L = max(cap.steps, _round_up(L_need, 4)) if grow else cap.steps
        if L_need > L:
            return None
        step_of = [L - 1 - d for d in op_depth]
        segment = [self.segment_of[c] for c in op_code]
        fill: dict[tuple[int, int], int] = {}
        rank = [0] * len(op_code)
        for i, key in enumerate(zip(step_of, segment)):
            r = fill.get(key, 0)
            rank[i] = r
            fill[key] = r + 1
        width_need = [0] * len(self.codes)
        for (_, g), n in fill.items():
            width_need[g] = max(width_need[g], n)
        const_fill = [0] * (L + 1)
        const_pos: dict[tuple[int, int], int] = {}  # (block, const id) -> slot

        def use_const(block: int, cid: int) -> None:
            if (block, cid) not in const_pos:
                const_pos[(block, cid)] = const_fill[block]
                const_fill[block] += 1

        for i, (a, b) in enumerate(op_kids):
            for ref in (a, b):
                if ref <= -(1 + n_vars):
                    use_const(step_of[i], -ref - 1 - n_vars)
        for r in roots:
            if r <= -(1 + n_vars):
                use_const(L, -r - 1 - n_vars)
        most = max((len(c) for c in expr_consts), default=0)
        need = Capacity(widths=width_need, steps=L, const_width=max(const_fill), consts=len(consts) + 1,
                        population=len(exprs), max_consts_per_expr=most)
        if not cap.holds(need):
            if not grow:
                return None
            cap.grow_to(need)

        # Pass 3: index arrays.
        segment_start = [n_vars + cap.const_width]
        for w in cap.widths[:-1]:
            segment_start.append(segment_start[-1] + w)
        W = sum(cap.widths)
        position = [segment_start[k] + r for k, r in zip(segment, rank)]

        def index_in_block(ref: int, block: int) -> int:
            if ref >= 0:
                return position[ref]
            if ref >= -n_vars:
                return -ref - 1
            return n_vars + const_pos[(block, -ref - 1 - n_vars)]

        pad = cap.consts - 1
        first = np.zeros((L, W), dtype=np.int32)
        second = np.zeros((L, W), dtype=np.int32)
        const_index = np.full((L + 1, cap.const_width), pad, dtype=np.int32)
        for (block, cid), slot in const_pos.items():
            const_index[block, slot] = cid
        first_start = n_vars + cap.const_width
        for i, (a, b) in enumerate(op_kids):
            st = step_of[i]
            col = position[i] - first_start
            first[st, col] = index_in_block(a, st)
            second[st, col] = index_in_block(b, st)
        root_idx = np.zeros(cap.population, dtype=np.int32)
        root_idx[: len(roots)] = [index_in_block(r, L) for r in roots]
        const_values = np.zeros(cap.consts, dtype=np.float64)
        const_values[: len(consts)] = consts
        const_slots = np.full((cap.population, cap.max_consts_per_expr), pad, dtype=np.int32)
        for p, mine in enumerate(expr_consts):
            const_slots[p, : len(mine)] = mine
        key = (self.codes, cap.key())
        if key not in self._seen_keys:
            self._seen_keys.add(key)
            self.compilations += 1
        layout = tuple(zip(self.codes, cap.widths))
        return Plan(first, second, const_index, root_idx, const_values, const_slots, len(exprs), layout)

    def plans(self, exprs: Sequence[Expr], capacity: Capacity | None = None,
              top: bool = True) -> list[tuple[object, Plan]]:
        """Plans covering ``exprs``, as ``(where, plan)`` chunks; ``positions(where, plan)``
        are the chunk's indices into ``exprs``.

        Once a capacity has compiled, a population that does not fit is split in halves
        (each half needs about half the widths) rather than recompiling; expressions too
        deep for it, and single ones that still do not fit, go to its overflow capacity.
        Only persistent splitting grows a capacity (a recompile).
        """
        cap = capacity if capacity is not None else self.capacity
        if not cap.frozen:
            plan = self.plan(exprs, cap, grow=True)
            cap.frozen = True
            return [(0, plan)]
        plan = self.plan(exprs, cap, grow=False)
        cap.calls += top
        if plan is not None:
            return [(0, plan)]
        cap.splits += top
        if cap.is_overflow:
            # The overflow capacity takes what fits nowhere else; it grows when it must.
            if len(exprs) == 1 or (cap.calls >= 50 and cap.splits > 0.3 * cap.calls):
                cap.calls = cap.splits = 0
                return [(0, self.plan(exprs, cap, grow=True))]
        else:
            if cap.calls >= 50 and cap.splits > 0.3 * cap.calls:
                cap.calls = cap.splits = 0
                return [(0, self.plan(exprs, cap, grow=True))]
            # Deep expressions, and single expressions that do not fit, go to a capacity
            # of their own, sized once for any formula of up to 32 nodes: the common case
            # keeps few steps (every step costs the full width) and nothing recompiles.
            misfits = [i for i, e in enumerate(exprs) if len(exprs) == 1 or depth(e) > cap.steps]
            if misfits:
                if cap.overflow is None:
                    cap.overflow = Capacity(widths=[16] * len(self.codes), steps=max(32, _round_up(2 * cap.steps, 4)),
                                            const_width=32, consts=512, population=32, is_overflow=True)
                chosen = set(misfits)
                rest = [i for i in range(len(exprs)) if i not in chosen]
                out = []
                for idx, target in ((rest, cap), (misfits, cap.overflow)):
                    if idx:
                        for where, plan in self.plans([exprs[i] for i in idx], target, top=target is not cap):
                            out.append((np.asarray(idx)[positions(where, plan)], plan))
                return out
        half = len(exprs) // 2
        return (self.plans(exprs[:half], cap, top=False)
                + [(positions(w, p) + half, p) for w, p in self.plans(exprs[half:], cap, top=False)])

    # ------------------------------------------------------------------ evaluation
    def predict(self, exprs: Sequence[Expr], capacity: Capacity | None = None) -> np.ndarray:
        """Raw outputs ``f(X)`` of each expression, shape ``(len(exprs), R)``."""
        out = np.empty((len(exprs), self.n_rows))
        for where, plan in self.plans(exprs, capacity):
            values = _forward(self.X_rows, *plan.arrays(self.dtype), layout=plan.layout)
            out[positions(where, plan)] = np.asarray(values)[: plan.n_exprs]
        return out

    def losses(self, exprs: Sequence[Expr], capacity: Capacity | None = None) -> np.ndarray:
        """Loss of each expression (MSE, after linear scaling if enabled); inf if invalid."""
        out = np.empty(len(exprs))
        for where, plan in self.plans(exprs, capacity):
            values = _losses(self.X_rows, self.y, *plan.arrays(self.dtype), layout=plan.layout,
                             linear_scaling=self.linear_scaling)
            out[positions(where, plan)] = np.asarray(values, dtype=np.float64)[: plan.n_exprs]
        return out


def positions(where, plan: Plan) -> np.ndarray:
    """Indices into the caller's list of a chunk from ``plans``: ``where`` is a start
    index or an index array."""
    if isinstance(where, (int, np.integer)):
        return np.arange(where, where + plan.n_exprs)
    return np.asarray(where)


def forward(X_rows, consts, first_child, second_child, const_index, roots, layout):
    """Run the steps; returns the ``(population, R)`` values of the roots."""
    n_rows = X_rows.shape[1]
    dtype = X_rows.dtype
    width = first_child.shape[1]

    def const_rows(index):
        c = consts[index].astype(dtype)
        return jnp.broadcast_to(c[:, None], (c.shape[0], n_rows))

    def step(prev, inputs):
        first, second, next_consts = inputs
        a = prev[first]
        b = prev[second]
        parts = [X_rows, const_rows(next_consts)]
        off = 0
        for code, w in layout:
            op = operator_of(code)
            sl = slice(off, off + w)
            parts.append((op.jax(a[sl], b[sl]) if op.arity == 2 else op.jax(a[sl])).astype(dtype))
            off += w
        return jnp.concatenate(parts), None

    initial = jnp.concatenate([X_rows, const_rows(const_index[0]), jnp.zeros((width, n_rows), dtype)])
    final, _ = jax.lax.scan(step, initial, (first_child, second_child, const_index[1:]))
    return final[roots]


_forward = jax.jit(forward, static_argnames=("layout",))


def scaled_mse(f, y, linear_scaling: bool):
    """Per-row-set MSE of ``f (P, R)`` against ``y (R,)``; inf where ``f`` is not finite.

    With ``linear_scaling`` the loss is ``min_{a,b} mean((a f + b - y)^2)``, solved in
    closed form: ``a = cov(f, y) / var(f)``, ``b = mean(y) - a mean(f)``.
    Returns ``(loss (P,), a (P,), b (P,))``.
    """
    finite = jnp.all(jnp.isfinite(f), axis=1)
    f = jnp.where(finite[:, None], f, 0.0)
    if linear_scaling:
        mf = jnp.mean(f, axis=1, keepdims=True)
        my = jnp.mean(y)
        df = f - mf
        var = jnp.mean(df * df, axis=1)
        cov = jnp.mean(df * (y - my), axis=1)
        tiny = jnp.finfo(f.dtype).tiny * 1e6
        a = jnp.where(var > tiny, cov / jnp.where(var > tiny, var, 1.0), 0.0)
        b = my - a * mf[:, 0]
        # a (f - mean f) + (mean y - y) equals a f + b - y without the cancellation
        # between a f and b when the output has a large offset.
        resid = a[:, None] * df + (my - y)
    else:
        a = jnp.ones(f.shape[0], f.dtype)
        b = jnp.zeros(f.shape[0], f.dtype)
        resid = f - y
    loss = jnp.mean(resid * resid, axis=1)
    loss = jnp.where(finite & jnp.isfinite(loss), loss, jnp.inf)
    return loss, a, b


@partial(jax.jit, static_argnames=("layout", "linear_scaling"))
def _losses(X_rows, y, consts, first_child, second_child, const_index, roots, layout, linear_scaling):
    f = forward(X_rows, consts, first_child, second_child, const_index, roots, layout)
    return scaled_mse(f, y, linear_scaling)[0]
