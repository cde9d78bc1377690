"""The evolutionary search: islands of regularized evolution with migration.

One *cycle* makes ``children_per_island`` children on every island (tournament
selection, then mutation or crossover), scores all children of all islands in one
batched call, and lets each child replace the oldest member of its island (regularized
evolution, Real et al. 2019).  An *iteration* is ``ncycles_per_iteration`` cycles
followed by constant fitting (batched Levenberg–Marquardt on each island's fittest
members and a random share), migration between islands, simplification of the best
members and a progress report.  The search stops at ``niterations``, at ``timeout_in_seconds``, when the
normalized loss drops below ``tolerance``, or on Ctrl-C; in each case it returns the
Pareto front found so far.

Tournament fitness is ``loss / var(y) * exp(adaptive_parsimony * share) + parsimony *
complexity``, where ``share`` is the fraction of the island at the candidate's complexity
(PySR's adaptive parsimony, which keeps every size represented).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from .constants import fit_constants
from .evaluate import Evaluator
from .expression import Expr, complexity
from .mutate import Grammar, crossover, mutate, random_expr
from .operators import CONST, DEFAULT_BINARY, DEFAULT_UNARY, resolve
from .pareto import HallOfFame, Member
from .polish import finish
from .simplify import simplify


@dataclass(frozen=True)
class SearchSettings:
    """Parameters of the search (names follow PySR where the concept is the same)."""

    binary_operators: tuple[str, ...] = DEFAULT_BINARY
    unary_operators: tuple[str, ...] = DEFAULT_UNARY
    maxsize: int = 20
    populations: int = 8
    population_size: int = 64
    niterations: int = 1000
    ncycles_per_iteration: int = 20
    children_per_island: int = 32
    tournament_selection_n: int = 6
    crossover_probability: float = 0.05
    parsimony: float = 1e-4
    adaptive_parsimony_scaling: float = 20.0
    fraction_replaced: float = 0.05
    optimize_probability: float = 0.05
    optimize_top: int = 4
    optimizer_iterations: int = 8
    timeout_in_seconds: float | None = None
    tolerance: float = 1e-11
    linear_scaling: bool = True
    batch_size: int = 500
    random_state: int = 0


@dataclass
class Progress:
    """What a progress display needs, updated after every iteration."""

    iteration: int = 0
    cycles: int = 0
    evaluations: int = 0
    elapsed: float = 0.0
    best_loss: float = math.inf
    best: Expr | None = None
    front: list[Member] = field(default_factory=list)

    @property
    def evaluations_per_second(self) -> float:
        return self.evaluations / self.elapsed if self.elapsed > 0 else 0.0


@dataclass
class SearchResult:
    """The polished front (float64 losses on the training data) and how the run went."""

    front: list[Member]
    progress: Progress
    stopped_by: str
    compilations: int


@dataclass
class _Island:
    members: list[Expr]
    losses: np.ndarray
    sizes: np.ndarray
    births: np.ndarray


def search(X: np.ndarray, y: np.ndarray, settings: SearchSettings,
           callback: Callable[[Progress], None] | None = None,
           checkpoint: Callable[[list[Member], Progress], None] | None = None,
           checkpoint_interval: float = 10.0) -> SearchResult:
    """Run the evolution on ``X (R, n_vars)``, ``y (R,)``; returns the polished Pareto front.

    ``callback(progress)`` runs after every iteration; ``checkpoint(front, progress)``
    at most every ``checkpoint_interval`` seconds with the front polished so far.
    """
    s = settings
    rng = np.random.default_rng(s.random_state)
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    n_rows, n_vars = X.shape
    binary = resolve(s.binary_operators, 2)
    unary = resolve(s.unary_operators, 1)
    allowed = frozenset(binary + unary)
    grammar = Grammar(n_vars=n_vars, binary=binary, unary=unary, maxsize=s.maxsize)

    rows = np.sort(rng.choice(n_rows, size=s.batch_size, replace=False)) if n_rows > s.batch_size else np.arange(n_rows)
    Xs, ys = X[rows], y[rows]
    y_var = float(np.var(ys)) or 1.0
    evaluator = Evaluator(Xs, ys, binary + unary, linear_scaling=s.linear_scaling)
    hof = HallOfFame()
    progress = Progress()
    start = time.perf_counter()
    clock = 0

    batch = s.populations * s.children_per_island
    child_capacity = evaluator.new_capacity(batch, s.maxsize)
    fit_capacity = evaluator.new_capacity(s.populations * (s.optimize_top + int(s.optimize_probability * s.population_size) + 2), s.maxsize)

    def score_children(children: list[Expr]) -> np.ndarray:
        progress.evaluations += len(children)
        return evaluator.losses(children, child_capacity)

    def optimize_constants() -> None:
        """Batched LM on each island's fittest members with constants plus a random share."""
        picks: list[tuple[int, int]] = []
        for i, island in enumerate(islands):
            has_c = np.array([any(code == CONST for code, _ in m) for m in island.members])
            order = [k for k in np.argsort(fitness(island)) if has_c[k]]
            chosen = set(order[: s.optimize_top])
            chosen.update(k for k in np.flatnonzero(has_c & (rng.random(len(has_c)) < s.optimize_probability)))
            picks.extend((i, int(k)) for k in sorted(chosen))
        if not picks:
            return
        fitted, losses = fit_constants(evaluator, [islands[i].members[k] for i, k in picks],
                                       s.optimizer_iterations, fit_capacity)
        progress.evaluations += len(picks) * s.optimizer_iterations
        for (i, k), expr, loss in zip(picks, fitted, losses):
            if loss <= islands[i].losses[k]:
                islands[i].members[k], islands[i].losses[k] = expr, loss
                hof.consider(expr, float(loss), int(islands[i].sizes[k]))

    def record(children: list[Expr], losses: np.ndarray, sizes: np.ndarray) -> None:
        for e, loss, size in zip(children, losses, sizes):
            hof.consider(e, float(loss), int(size))

    # Initial populations: random trees of assorted sizes, all scored in one batch.
    islands: list[_Island] = []
    initial = [random_expr(rng, grammar, int(rng.integers(1, min(s.maxsize, 10) + 1)))
               for _ in range(s.populations * s.population_size)]
    initial = [e if complexity(e) <= s.maxsize else e[:1] for e in initial]
    losses = np.concatenate([score_children(initial[k : k + batch]) for k in range(0, len(initial), batch)])
    sizes = np.array([complexity(e) for e in initial])
    record(initial, losses, sizes)
    for i in range(s.populations):
        sl = slice(i * s.population_size, (i + 1) * s.population_size)
        islands.append(_Island(initial[sl], losses[sl].copy(), sizes[sl].copy(), np.arange(s.population_size)))
    clock = s.population_size

    def fitness(island: _Island) -> np.ndarray:
        """Tournament cost of every member of ``island`` (lower is fitter)."""
        share = np.bincount(island.sizes, minlength=s.maxsize + 8)[island.sizes] / len(island.members)
        with np.errstate(over="ignore", invalid="ignore"):
            cost = island.losses / y_var * np.exp(s.adaptive_parsimony_scaling * share) + s.parsimony * island.sizes
        return np.where(np.isnan(cost), np.inf, cost)

    def tournament(island: _Island, cost: np.ndarray) -> Expr:
        idx = rng.integers(len(island.members), size=s.tournament_selection_n)
        return island.members[int(idx[np.argmin(cost[idx])])]

    stopped_by = "niterations"
    last_checkpoint = 0.0
    try:
        for iteration in range(1, s.niterations + 1):
            for _ in range(s.ncycles_per_iteration):
                children: list[Expr] = []
                owner: list[int] = []
                for i, island in enumerate(islands):
                    cost = fitness(island)
                    for _ in range(s.children_per_island):
                        parent = tournament(island, cost)
                        if rng.random() < s.crossover_probability:
                            child = crossover(rng, parent, tournament(island, cost))
                            if complexity(child) > s.maxsize:
                                child = mutate(rng, parent, grammar)
                        else:
                            child = mutate(rng, parent, grammar)
                        children.append(child)
                        owner.append(i)
                losses = score_children(children)
                sizes = np.array([complexity(c) for c in children])
                record(children, losses, sizes)
                for i, island in enumerate(islands):
                    for j in np.flatnonzero(np.asarray(owner) == i):
                        oldest = int(np.argmin(island.births))
                        island.members[oldest] = children[j]
                        island.losses[oldest] = losses[j]
                        island.sizes[oldest] = sizes[j]
                        clock += 1
                        island.births[oldest] = clock
                progress.cycles += 1
                if s.timeout_in_seconds is not None and time.perf_counter() - start >= 0.95 * s.timeout_in_seconds:
                    break
            optimize_constants()
            _simplify_and_migrate(rng, islands, hof, s, n_vars, allowed)
            progress.iteration = iteration
            progress.elapsed = time.perf_counter() - start
            front = hof.front()
            progress.front = front
            if front:
                best = min(front, key=lambda m: m.loss)
                progress.best_loss, progress.best = best.loss, best.expr
            if callback is not None:
                callback(progress)
            if checkpoint is not None and progress.elapsed - last_checkpoint >= checkpoint_interval:
                checkpoint(polish_front(hof, X, y, s.linear_scaling, n_vars, max_rows=2000), progress)
                last_checkpoint = progress.elapsed
            if progress.best_loss / y_var <= s.tolerance:
                stopped_by = "tolerance"
                break
            if s.timeout_in_seconds is not None and progress.elapsed >= 0.95 * s.timeout_in_seconds:
                stopped_by = "timeout"
                break
    except KeyboardInterrupt:
        stopped_by = "interrupt"

    progress.elapsed = time.perf_counter() - start
    final = polish_front(hof, X, y, s.linear_scaling, n_vars)
    return SearchResult(final, progress, stopped_by, evaluator.compilations)


def _simplify_and_migrate(rng, islands: list[_Island], hof: HallOfFame, s: SearchSettings, n_vars: int,
                          allowed: frozenset[int]) -> None:
    """Simplify each island's best members and seed islands with hall-of-fame members."""
    front = hof.front()
    for island in islands:
        for k in np.argsort(island.losses)[:4]:
            simpler = simplify(island.members[k], n_vars, allowed)
            island.members[k] = simpler
            island.sizes[k] = complexity(simpler)
        n_replace = int(round(s.fraction_replaced * len(island.members)))
        if front and n_replace:
            for k in rng.choice(len(island.members), size=n_replace, replace=False):
                m = front[int(rng.integers(len(front)))]
                island.members[k], island.losses[k], island.sizes[k] = m.expr, m.loss, m.complexity
    for m in front:
        simpler = simplify(m.expr, n_vars, allowed)
        if simpler != m.expr:
            hof.consider(simpler, m.loss * (1 - 1e-12), complexity(simpler))


def polish_front(hof: HallOfFame, X: np.ndarray, y: np.ndarray, linear_scaling: bool, n_vars: int,
                 max_rows: int = 10_000) -> list[Member]:
    """Refit the front's members in float64 and return the Pareto front of the results.

    Members off the front are refit too when they are within a factor 10 of the front's
    loss at their complexity: polishing can reorder near neighbours.
    """
    final = HallOfFame()
    n = min(len(y), max_rows)
    front = hof.front()
    for member in hof.best.values():
        simpler = [m.loss for m in front if m.complexity <= member.complexity]
        if simpler and member.loss > 10 * min(simpler):
            continue
        expr, loss, size = finish(member.expr, X[:n], y[:n], linear_scaling, n_vars)
        final.consider(expr, loss, size)
    return final.front()


__all__ = ["SearchSettings", "SearchResult", "Progress", "search"]
