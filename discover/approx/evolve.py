"""Evolutionary search over straight-line programs: error against cost, both minimised.

Regularised evolution (Real et al. 2019, as in AutoNumerics-Zero) with a Pareto hall of
fame: each step picks a parent (half the time from the hall of fame, else a tournament of
four from the population), applies one to three mutations, drops dead code, fits the
constants and scores the child (the caller's ``score``), and replaces the population's
oldest member. The hall of fame keeps the lowest error at each cost; the front is its
non-dominated part.

Mutations (each keeps the program a valid DAG):

* change an operation (same arity: add/sub/mul/div; fma),
* rewire one operand to another earlier value,
* insert an operation after a value and route its later uses (or the output) through it,
* delete an operation, routing its uses to one of its operands,
* scale or nudge a constant (by a relative factor, or by a few units in its last place).

The search is deterministic for a seed when bounded by ``max_evaluations``; a time limit
stops it on the clock.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from codegen.ops import OPS
from search import interrupt
from codegen.program import Instr

from .program import SEARCH_OPS, SLP, compact, constant_ids, cost, live, round_constant

__all__ = ["EvolveSettings", "Entry", "evolve", "pareto"]

#: operand counts of the operations mutations may change or insert (codegen's table)
_ARITY = {name: OPS[name].arity for name in SEARCH_OPS + ("div",)}


@dataclass(frozen=True)
class EvolveSettings:
    ops: tuple[str, ...] = SEARCH_OPS
    max_cost: int = 24
    population: int = 48
    time_limit: float = 30.0
    max_evaluations: int | None = None
    seed: int = 0


@dataclass(frozen=True)
class Entry:
    slp: SLP
    error: float
    cost: int


def pareto(entries: Sequence) -> list:
    """The entries (anything with ``cost`` and ``error``) no other entry beats in both,
    by increasing cost."""
    out: list[Entry] = []
    for e in sorted(entries, key=lambda e: (e.cost, e.error)):
        if not out or e.error < out[-1].error:
            out.append(e)
    return out


def _redirect(instrs: list[Instr], old: int, new: int, start: int) -> list[Instr]:
    return [ins if k < start else Instr(ins.op, tuple(new if j == old else j for j in ins.operands), ins.value)
            for k, ins in enumerate(instrs)]


def _insert(slp: SLP, at: int, ins: Instr) -> tuple[list[Instr], int]:
    """Insert ``ins`` at position ``at`` (shifting later references)."""
    out = []
    for k, old in enumerate(slp.instrs):
        if k == at:
            out.append(ins)
        out.append(Instr(old.op, tuple(j + (j >= at) for j in old.operands), old.value))
    if at == len(slp.instrs):
        out.append(ins)
    return out, slp.output + (slp.output >= at)


def mutate(slp: SLP, rng: np.random.Generator, ops: Sequence[str]) -> SLP:
    """One random mutation (see the module docstring)."""
    instrs = list(slp.instrs)
    ops_live = [k for k in live(slp) if instrs[k].op in _ARITY]
    consts = constant_ids(slp)
    kind = rng.choice(["op", "operand", "insert", "insert", "delete", "constant"])
    if kind == "op" and ops_live:
        k = int(rng.choice(ops_live))
        same = [o for o in ops if _ARITY[o] == _ARITY[instrs[k].op] and o != instrs[k].op]
        if same:
            instrs[k] = Instr(str(rng.choice(same)), instrs[k].operands)
            return SLP(slp.dtype, tuple(instrs), slp.output)
    if kind == "operand" and ops_live:
        k = int(rng.choice(ops_live))
        operands = list(instrs[k].operands)
        operands[int(rng.integers(len(operands)))] = int(rng.integers(k))
        instrs[k] = Instr(instrs[k].op, tuple(operands))
        return SLP(slp.dtype, tuple(instrs), slp.output)
    if kind == "delete" and len(ops_live) > 1:
        k = int(rng.choice(ops_live))
        keep = int(rng.choice(instrs[k].operands))
        instrs = _redirect(instrs, k, keep, k + 1)
        return SLP(slp.dtype, tuple(instrs), keep if slp.output == k else slp.output)
    if kind == "constant" and consts:
        k = int(rng.choice(consts))
        v = instrs[k].value
        if rng.random() < 0.5:
            v = v * (1 + rng.normal(0, 0.1)) if v else rng.normal(0, 1)
        else:  # a few units in the last place: the final, bit-level tuning
            step = np.spacing(np.asarray(v, dtype=slp.dtype)).astype(np.float64)
            v = v + float(step) * int(rng.choice([-3, -2, -1, 1, 2, 3]))
        instrs[k] = Instr("const", value=round_constant(v, slp.dtype))
        return SLP(slp.dtype, tuple(instrs), slp.output)
    # insert: new = op(value_k, other[, third]) placed right after k; k's later uses -> new
    k = int(rng.choice(live(slp)))
    op = str(rng.choice(list(ops)))
    at = k + 1
    # a fresh constant (inserted before k + 1 keeps SSA order) or an existing earlier value
    if rng.random() < 0.5:
        value = float(rng.normal(0, 1))
        base, out = _insert(slp, at, Instr("const", value=round_constant(value, slp.dtype)))
        slp2 = SLP(slp.dtype, tuple(base), out)
        other, at = at, at + 1
    else:
        slp2, other = slp, int(rng.integers(at))
    operands = [k, other] if rng.random() < 0.5 else [other, k]
    if _ARITY[op] == 3:
        operands.append(int(rng.integers(at)))
    base, out = _insert(slp2, at, Instr(op, tuple(operands)))
    base = _redirect(base, k, at, at + 1)
    return SLP(slp.dtype, tuple(base), at if out == k else out)


def evolve(seeds: Sequence[SLP], score: Callable[[SLP], tuple[SLP, float]],
           settings: EvolveSettings = EvolveSettings(),
           progress: Callable[[dict], None] | None = None, stats: dict | None = None) -> list[Entry]:
    """Search from ``seeds``; ``score(slp) -> (fitted slp, error)``. Returns the front;
    ``stats`` (if given) receives ``evaluations`` and ``seconds``."""
    rng = np.random.default_rng(settings.seed)
    hall: dict[int, Entry] = {}
    population: list[Entry] = []
    evaluations = 0
    start = time.monotonic()

    def consider(slp: SLP) -> Entry | None:
        nonlocal evaluations
        slp = compact(slp)
        c = cost(slp)
        if c > settings.max_cost or c == 0:
            return None
        try:
            fitted, err = score(slp)
        except (FloatingPointError, ValueError, ZeroDivisionError, np.linalg.LinAlgError):
            fitted, err = slp, math.inf
        evaluations += 1
        if not math.isfinite(err):
            return None
        entry = Entry(compact(fitted), float(err), cost(compact(fitted)))
        held = hall.get(entry.cost)
        if held is None or entry.error < held.error:
            hall[entry.cost] = entry
        return entry

    for s in seeds:
        e = consider(s)
        if e is not None:
            population.append(e)
    if not population:
        raise ValueError("no seed program could be scored")
    last_report = 0.0

    def done() -> bool:
        if settings.max_evaluations is not None:
            return evaluations >= settings.max_evaluations
        return time.monotonic() - start >= settings.time_limit

    interrupted = False
    try:
        while not done():
            interrupt.check()   # a Ctrl-C that a garbage-collection callback swallowed
            front = pareto(hall.values())
            if rng.random() < 0.5:
                parent = front[int(rng.integers(len(front)))]
            else:
                picks = [population[int(i)] for i in rng.integers(len(population), size=4)]
                parent = min(picks, key=lambda e: (math.log(e.error + 1e-300) + 0.3 * e.cost))
            child = parent.slp
            for _ in range(int(rng.integers(1, 4))):
                child = compact(mutate(child, rng, settings.ops))
            entry = consider(child)
            if entry is not None:
                population.append(entry)
                if len(population) > settings.population:
                    population.pop(0)
            now = time.monotonic() - start
            if progress is not None and now - last_report > 0.5:
                last_report = now
                progress({"elapsed": now, "evaluations": evaluations,
                          "front": [(e.cost, e.error) for e in pareto(hall.values())]})
    except KeyboardInterrupt:   # Ctrl-C: the front so far
        interrupted = True
    if progress is not None:
        progress({"elapsed": time.monotonic() - start, "evaluations": evaluations,
                  "front": [(e.cost, e.error) for e in pareto(hall.values())], "done": True})
    if stats is not None:
        stats.update(evaluations=evaluations, seconds=time.monotonic() - start, interrupted=interrupted)
    return pareto(hall.values())
