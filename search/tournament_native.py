"""Tournament selection of the islands compiled natively: fitness and winners in one call.

Every generation each island runs ``2n`` tournaments of ``t`` entrants (the parents' and
the crossover partners'), on the cost of its members (PySR's adaptive parsimony)

    cost_k = loss_k / baseline * exp(scaling * share_k) + parsimony * size_k,

``share_k`` the fraction of the island's ``M`` members of ``size_k``, NaN costs taken as
inf.  In NumPy that is two dozen calls on ``(I, M)`` arrays, about 75 us for 4 islands and
95 us for 8 (AMD EPYC Zen 2): 55 us a generation whatever the islands' number, as much as
the work of a whole island's children.  :class:`Tournament` computes the same in one
native function (:func:`build_module`), a loop over the islands, and
:func:`tournament_rows` is its NumPy twin (the reference of the tests, and the path where
no native target exists).

Entrant ``e`` of tournament ``j`` of island ``i`` is member ``min(floor(u * M), M - 1)``,
``u = uniforms[i, j, e]``; the winner is the first entrant of least cost (NumPy's
``argmin``).  The winners are returned as rows of the islands' member arrays (row ``i M +
k``), the ``I n`` parents first (island after island), then the ``I n`` partners.
"""

from __future__ import annotations

import ctypes
import functools
import math

import llvmlite.ir as ir
import numpy as np

from codegen import jit
from codegen.lower import emit_loop, host_function

_I64 = ir.IntType(64)
_F64 = ir.DoubleType()


def _c(value: int) -> ir.Constant:
    return ir.Constant(_I64, value)


def tournament_rows(losses: np.ndarray, sizes: np.ndarray, uniforms: np.ndarray, baseline: float,
                    scaling: float, parsimony: float) -> np.ndarray:
    """The winners' rows (module docstring) in NumPy: ``losses (I, M)``, ``sizes (I, M)``
    non-negative integers, ``uniforms (I, 2n, t)`` in [0, 1)."""
    n_islands, size = losses.shape
    two_n, t = uniforms.shape[1:]
    entrants = np.minimum((uniforms * size).astype(np.int64), size - 1) + (np.arange(n_islands) * size)[:, None, None]
    entrants = entrants.reshape(-1, t)
    winners = entrants[np.arange(len(entrants)), np.argmin(costs(losses, sizes, baseline, scaling, parsimony).ravel()[
        entrants], axis=1)].reshape(n_islands, two_n)
    return np.concatenate([winners[:, :two_n // 2].ravel(), winners[:, two_n // 2:].ravel()])


def costs(losses: np.ndarray, sizes: np.ndarray, baseline: float, scaling: float, parsimony: float) -> np.ndarray:
    """``(I, M)`` tournament cost of every member (module docstring; lower is fitter)."""
    stride = int(sizes.max()) + 1
    # each member's (island, complexity) bin, and the share of its island in that bin
    bins = sizes + stride * np.arange(len(sizes))[:, None]
    share = np.bincount(bins.ravel(), minlength=stride * len(sizes))[bins] / sizes.shape[1]
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        cost = losses / baseline * np.exp(scaling * share) + parsimony * sizes
    return np.where(np.isnan(cost), np.inf, cost)


def build_module() -> ir.Module:
    """``void tournament(I, M, n, t, stride, losses, sizes, uniforms, params, counts,
    cost, rows)``: ``params = (baseline, scaling, parsimony)``, ``counts`` (``stride``
    int64) and ``cost`` (``M`` doubles) scratch, ``rows (2 I n)`` the output."""
    i64p, f64p = _I64.as_pointer(), _F64.as_pointer()
    module, fn = host_function("tournament", [
        ("I", _I64), ("M", _I64), ("n", _I64), ("t", _I64), ("stride", _I64), ("losses", f64p), ("sizes", i64p),
        ("uniforms", f64p), ("params", f64p), ("counts", i64p), ("cost", f64p), ("rows", i64p)],
        noalias=("losses", "sizes", "uniforms", "params", "counts", "cost", "rows"))
    I, M, n, t, stride, losses, sizes, uniforms, params, counts, cost, rows = fn.args
    exp = module.declare_intrinsic("llvm.exp", [_F64])
    b = ir.IRBuilder(fn.append_basic_block("entry"))
    best_slot = b.alloca(_I64, name="best")
    baseline, scaling, parsimony = (b.load(b.gep(params, [_c(k)])) for k in range(3))
    m_float = b.sitofp(M, _F64)
    two_n = b.mul(n, _c(2))

    def island(b: ir.IRBuilder, i):
        first = b.mul(i, M)
        emit_loop(b, _c(0), stride, lambda b, s: b.store(_c(0), b.gep(counts, [s])), "zero")

        def count(b: ir.IRBuilder, k):
            slot = b.gep(counts, [b.load(b.gep(sizes, [b.add(first, k)]))])
            b.store(b.add(b.load(slot), _c(1)), slot)
        emit_loop(b, _c(0), M, count, "count")

        def member_cost(b: ir.IRBuilder, k):
            size = b.load(b.gep(sizes, [b.add(first, k)]))
            share = b.fdiv(b.sitofp(b.load(b.gep(counts, [size])), _F64), m_float)
            scaled = b.fmul(b.fdiv(b.load(b.gep(losses, [b.add(first, k)])), baseline), b.call(exp, [b.fmul(scaling, share)]))
            c = b.fadd(scaled, b.fmul(parsimony, b.sitofp(size, _F64)))
            b.store(b.select(b.fcmp_unordered("uno", c, c), ir.Constant(_F64, math.inf), c), b.gep(cost, [k]))
        emit_loop(b, _c(0), M, member_cost, "cost")

        def tournament(b: ir.IRBuilder, j):
            draws = b.mul(b.add(b.mul(i, two_n), j), t)

            def entrant(e):
                drawn = b.fptosi(b.fmul(b.load(b.gep(uniforms, [b.add(draws, e)])), m_float), _I64)
                return b.select(b.icmp_signed("<", drawn, M), drawn, b.sub(M, _c(1)))
            b.store(entrant(_c(0)), best_slot)

            def challenge(b: ir.IRBuilder, e):
                k, best = entrant(e), b.load(best_slot)
                fitter = b.fcmp_ordered("<", b.load(b.gep(cost, [k])), b.load(b.gep(cost, [best])))
                b.store(b.select(fitter, k, best), best_slot)
            emit_loop(b, _c(1), t, challenge, "entrant")
            partner = b.icmp_signed(">=", j, n)
            # parents island after island, then the partners likewise
            out = b.add(b.add(b.mul(i, n), b.select(partner, b.sub(j, n), j)), b.select(partner, b.mul(I, n), _c(0)))
            b.store(b.add(first, b.load(best_slot)), b.gep(rows, [out]))
        emit_loop(b, _c(0), two_n, tournament, "tournament")
    emit_loop(b, _c(0), I, island, "island")
    b.ret_void()
    return module


@functools.cache
def _compiled():
    engine, address = jit.jit(jit.optimize(str(build_module())), "tournament")
    i64, p = ctypes.c_int64, ctypes.c_void_p
    return ctypes.CFUNCTYPE(None, i64, i64, i64, i64, i64, p, p, p, p, p, p, p)(address), engine


class Tournament:
    """:func:`tournament_rows` by the compiled function; falls back to NumPy where LLVM
    has no native target.  One instance per search (it keeps its scratch)."""

    def __init__(self, baseline: float, scaling: float, parsimony: float):
        self._params = np.array([baseline, scaling, parsimony], dtype=np.float64)
        try:
            self._fn, self._engine = _compiled()
        except RuntimeError:
            self._fn = None
        self._counts = np.zeros(0, dtype=np.int64)
        self._cost = np.zeros(0)

    def __call__(self, losses: np.ndarray, sizes: np.ndarray, uniforms: np.ndarray) -> np.ndarray:
        """The winners' rows ``(2 I n,) int64`` (module docstring)."""
        two_n, t = uniforms.shape[1:]
        if t < 1:   # the kernel would leave the rows unwritten
            raise ValueError("a tournament needs at least one entrant (tournament_selection_n >= 1)")
        if self._fn is None:
            return tournament_rows(losses, sizes, uniforms, *self._params)
        n_islands, size = losses.shape
        losses = np.ascontiguousarray(losses, dtype=np.float64)
        sizes = np.ascontiguousarray(sizes, dtype=np.int64)
        uniforms = np.ascontiguousarray(uniforms, dtype=np.float64)
        stride = int(sizes.max()) + 1
        if stride > len(self._counts) or size > len(self._cost):
            self._counts = np.zeros(max(stride, 2 * len(self._counts)), dtype=np.int64)
            self._cost = np.zeros(max(size, len(self._cost)))
        if int(sizes.min()) < 0:
            raise ValueError("member sizes must be non-negative")
        rows = np.empty(n_islands * two_n, dtype=np.int64)
        if two_n > 0:
            self._fn(n_islands, size, two_n // 2, t, stride, jit.address(losses), jit.address(sizes),
                     jit.address(uniforms), jit.address(self._params), jit.address(self._counts),
                     jit.address(self._cost), jit.address(rows))
        return rows
