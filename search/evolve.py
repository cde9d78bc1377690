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

What a candidate may use and how it is scored come from the :class:`~search.problem.Problem`;
nothing here knows about tabular data.

Tournament fitness is ``loss / baseline * exp(adaptive_parsimony * share) + parsimony *
complexity``, where ``share`` is the fraction of the island at the candidate's complexity
(PySR's adaptive parsimony, which keeps every size represented).
"""

from __future__ import annotations

import dataclasses
import functools
import math
import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from .enumerate import small_expressions
from .evaluate import Evaluator
from .expression import Expr, complexity
from .mutate import Grammar, crossover, mutate, random_expr
from .operators import BUILTIN, CONST, DEFAULT_BINARY, DEFAULT_UNARY, OperatorSet
from .pareto import HallOfFame, Member
from .problem import Problem
from .simplify import simplify


@dataclass(frozen=True)
class SearchSettings:
    """Parameters of the search (names follow PySR where the concept is the same)."""

    binary_operators: tuple[str, ...] = DEFAULT_BINARY
    unary_operators: tuple[str, ...] = DEFAULT_UNARY
    ternary_operators: tuple[str, ...] = ()
    operators: OperatorSet = BUILTIN
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
    fit_rows: int = 128          # rows constants are fitted on, where the objective allows
    enumerate_max_size: int = 5
    enumerate_budget: int = 4000
    enumerate_fit: int = 512     # expressions per call while enumerating
    enumerate_fits: int = 1024   # how many get their constants fitted
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

    def observe(self, front: list[Member]) -> None:
        """Take ``front`` as the current front and its lowest-loss member as the best."""
        self.front = front
        if front:
            best = min(front, key=lambda m: m.loss)
            self.best_loss, self.best = best.loss, best.expr

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


def search(problem: Problem, settings: SearchSettings,
           callback: Callable[[Progress], None] | None = None,
           checkpoint: Callable[[list[Member], Progress], None] | None = None,
           checkpoint_interval: float = 10.0, *,
           initial_population: list[Expr] | None = None,
           exchange: Callable[[Progress, list[Expr], list[Member]], tuple[list[Member], bool]] | None = None,
           finish: bool = True) -> SearchResult:
    """Run the evolution on ``problem``; returns its finished Pareto front.

    ``callback(progress)`` runs after every iteration; ``checkpoint(front, progress)``
    at most every ``checkpoint_interval`` seconds with the front finished so far
    (``problem.finish(front, final=False)``).

    For a search spread over several processes (:mod:`search.distributed`):
    ``initial_population`` resumes islands from saved members (they are rescored; the
    enumeration of small expressions is skipped), ``exchange(progress, members,
    hall_of_fame)`` runs after every iteration with every island member and the hall of
    fame and returns ``(immigrants, stop)``: members found elsewhere, which join the hall of
    fame the islands' migrants are drawn from, and whether to stop now; ``finish=False``
    returns the hall of fame unpolished (search losses), for a caller that merges several.
    """
    # An island replaces its oldest members by its children: never more children than members.
    s = dataclasses.replace(settings, children_per_island=min(settings.children_per_island, settings.population_size))
    ops = s.operators
    rng = np.random.default_rng(s.random_state)
    n_vars = problem.n_leaves
    binary = ops.resolve(s.binary_operators, 2)
    unary = ops.resolve(s.unary_operators, 1)
    ternary = ops.resolve(s.ternary_operators, 3)
    allowed = frozenset(binary + unary + ternary)
    grammar = Grammar(n_vars=n_vars, binary=binary, unary=unary, maxsize=s.maxsize, ternary=ternary, ops=ops)
    # SymPy round trips cost milliseconds and the best members change slowly: remember them.
    simpler_form = functools.lru_cache(maxsize=20_000)(lambda e: simplify(e, n_vars, allowed, ops))
    objective = problem.objective
    baseline = problem.baseline_loss()
    evaluator = Evaluator(problem.leaves, binary + unary + ternary, ops, dtype=problem.dtype)
    # Constants are fitted on a subset of the rows where the objective decomposes over
    # rows (a handful of constants needs few rows), then rescored on all of them.
    n_rows = problem.leaves.shape[1]
    fit_subset = np.unique(np.linspace(0, n_rows - 1, min(n_rows, s.fit_rows)).astype(np.int64))
    fit_objective = objective.restrict(fit_subset) if len(fit_subset) < n_rows else None
    if fit_objective is None:
        fit_evaluator, fit_objective = evaluator, objective
    else:
        fit_evaluator = Evaluator(problem.leaves[:, fit_subset], binary + unary + ternary, ops, dtype=problem.dtype)
    hof = HallOfFame()
    progress = Progress()
    start = time.perf_counter()
    clock = 0

    batch = s.populations * s.children_per_island
    n_fit = s.populations * (s.optimize_top + int(s.optimize_probability * s.population_size) + 2)
    # Size both call sites up front for full-size expressions (planning a random sample
    # compiles nothing): a running search then rarely grows them, i.e. rarely recompiles.
    sizing_rng = np.random.default_rng(s.random_state + 1)
    child_capacity = evaluator.new_capacity(batch, s.maxsize)
    fit_capacity = evaluator.new_capacity(n_fit, s.maxsize)
    small = [e for e in small_expressions(grammar, s.enumerate_max_size, s.enumerate_budget)
             if complexity(e, ops) <= s.maxsize]
    enum_capacity = evaluator.new_capacity(s.enumerate_fit, s.enumerate_max_size)
    evaluator.presize(small[: s.enumerate_fit], enum_capacity, s.enumerate_max_size)
    for capacity, n in ((child_capacity, batch), (fit_capacity, n_fit)):
        sample = [random_expr(sizing_rng, grammar, int(sizing_rng.integers(s.maxsize // 2, s.maxsize + 1)))
                  for _ in range(n)]
        evaluator.presize([e for e in sample if complexity(e, ops) <= s.maxsize], capacity, s.maxsize)

    def size_of(e: Expr) -> int:
        return complexity(e, ops)

    def score_children(children: list[Expr]) -> np.ndarray:
        progress.evaluations += len(children)
        return problem.penalized(children, evaluator.losses(children, objective, child_capacity))

    def fit(exprs: list[Expr], capacity, seed: int) -> tuple[list[Expr], np.ndarray]:
        """Fitted constants of ``exprs`` and their losses on all rows."""
        fitted, losses = problem.fit_constants(fit_evaluator, fit_objective, exprs, s.optimizer_iterations, capacity,
                                               seed=seed)
        progress.evaluations += len(exprs) * s.optimizer_iterations
        if fit_evaluator is not evaluator:
            losses = evaluator.losses(fitted, objective, capacity)
        return fitted, problem.penalized(fitted, losses)

    def optimize_constants() -> None:
        """Batched constant fitting on each island's fittest members with constants plus a random share."""
        picks: list[tuple[int, int]] = []
        for i, island in enumerate(islands):
            has_c = np.array([any(code == CONST for code, _ in m) for m in island.members])
            order = [k for k in np.argsort(fitness(island)) if has_c[k]]
            chosen = set(order[: s.optimize_top])
            chosen.update(k for k in np.flatnonzero(has_c & (rng.random(len(has_c)) < s.optimize_probability)))
            picks.extend((i, int(k)) for k in sorted(chosen))
        if not picks:
            return
        fitted, losses = fit([islands[i].members[k] for i, k in picks], fit_capacity, int(rng.integers(2**31)))
        for (i, k), expr, loss in zip(picks, fitted, losses):
            if loss <= islands[i].losses[k]:
                islands[i].members[k], islands[i].losses[k] = expr, loss
                hof.consider(expr, float(loss), int(islands[i].sizes[k]))

    def record(children: list[Expr], losses: np.ndarray, sizes: np.ndarray) -> None:
        """Offer the best finite child of each complexity to the hall of fame."""
        ok = np.isfinite(losses)
        for size in np.unique(sizes[ok]):
            idx = np.flatnonzero(ok & (sizes == size))
            j = int(idx[np.argmin(losses[idx])])
            hof.consider(children[j], float(losses[j]), int(size))

    # Initial populations: random trees of assorted sizes, all scored in one batch.
    islands: list[_Island] = []
    initial = [random_expr(rng, grammar, int(rng.integers(1, min(s.maxsize, 10) + 1)))
               for _ in range(s.populations * s.population_size)]
    if initial_population:
        resumed = [e for e in initial_population if size_of(e) <= s.maxsize][: len(initial)]
        initial[: len(resumed)] = resumed
    initial = [e if size_of(e) <= s.maxsize else e[:1] for e in initial]
    losses = np.concatenate([score_children(initial[k : k + batch]) for k in range(0, len(initial), batch)])
    sizes = np.array([size_of(e) for e in initial])
    record(initial, losses, sizes)
    for i in range(s.populations):
        sl = slice(i * s.population_size, (i + 1) * s.population_size)
        islands.append(_Island(initial[sl], losses[sl].copy(), sizes[sl].copy(), np.arange(s.population_size)))
    clock = s.population_size

    def seed_islands_with_small_expressions() -> None:
        """Score every small expression once (constants fitted), keep them in the hall of
        fame, and deal the best out to the islands (see :mod:`search.enumerate`)."""
        if not small:
            return
        # Score all as they are, then fit the constants of the most promising (the shape
        # matters more than the start: exp(-x**2) already correlates with exp(-x**2/2)).
        losses = np.concatenate([evaluator.losses(small[k:k + s.enumerate_fit], objective, enum_capacity)
                                 for k in range(0, len(small), s.enumerate_fit)])
        losses = problem.penalized(small, losses)
        progress.evaluations += len(small)
        fitted = list(small)
        has_c = np.array([any(code == CONST for code, _ in e) for e in small])
        promising = [int(k) for k in np.argsort(np.where(has_c, losses, np.inf), kind="stable")[: s.enumerate_fits]
                     if has_c[k] and np.isfinite(losses[k])]
        for k in range(0, len(promising), s.enumerate_fit // 2):
            if s.timeout_in_seconds is not None and time.perf_counter() - start >= 0.5 * s.timeout_in_seconds:
                break  # costly objectives (a PDE solved per candidate): leave time to evolve
            chunk = promising[k:k + s.enumerate_fit // 2]
            exprs, fit_losses = fit([small[j] for j in chunk], enum_capacity, s.random_state)
            for j, e, loss in zip(chunk, exprs, fit_losses):
                if loss <= losses[j]:
                    fitted[j], losses[j] = e, loss
        sizes = np.fromiter((size_of(e) for e in fitted), dtype=np.int64, count=len(fitted))
        record(fitted, losses, sizes)
        order = [int(k) for k in np.argsort(losses, kind="stable") if np.isfinite(losses[k])]
        n_seed = s.population_size // 4
        for i, island in enumerate(islands):
            for slot, k in enumerate(order[i::len(islands)][:n_seed]):
                island.members[slot], island.losses[slot], island.sizes[slot] = fitted[k], losses[k], sizes[k]

    def fitness(island: _Island) -> np.ndarray:
        """Tournament cost of every member of ``island`` (lower is fitter)."""
        share = np.bincount(island.sizes, minlength=s.maxsize + 8)[island.sizes] / len(island.members)
        with np.errstate(over="ignore", invalid="ignore"):
            cost = island.losses / baseline * np.exp(s.adaptive_parsimony_scaling * share) + s.parsimony * island.sizes
        return np.where(np.isnan(cost), np.inf, cost)

    def breed(island: _Island) -> list[Expr]:
        """``children_per_island`` children of ``island``: tournament winners (all drawn at
        once), each mutated, or crossed over with a second winner."""
        cost = fitness(island)
        n = s.children_per_island
        draws = rng.integers(len(island.members), size=(2 * n, s.tournament_selection_n))
        winners = draws[np.arange(2 * n), np.argmin(cost[draws], axis=1)]
        cross = rng.random(n) < s.crossover_probability
        out = []
        for j in range(n):
            parent = island.members[winners[j]]
            child = crossover(rng, parent, island.members[winners[n + j]], ops) if cross[j] else None
            if child is None or size_of(child) > s.maxsize:
                child = mutate(rng, parent, grammar)
            out.append(child)
        return out

    def replace_oldest(island: _Island, children: list[Expr], losses: np.ndarray, sizes: np.ndarray) -> None:
        """Regularized evolution: the children replace the island's oldest members, in order."""
        nonlocal clock
        oldest = np.argsort(island.births, kind="stable")[: len(children)]
        for k, child in zip(oldest, children):
            island.members[k] = child
        island.losses[oldest] = losses
        island.sizes[oldest] = sizes
        island.births[oldest] = clock + 1 + np.arange(len(children))
        clock += len(children)

    def offer_proposals() -> None:
        """Score the problem's own proposals (constants fitted) and offer them to the hall
        of fame; the islands meet them through migration.  (Dealt to the islands directly,
        they crowded out the lines of descent that lead to short laws.)"""
        if problem.proposals is None:
            return
        proposed = [e for e in dict.fromkeys(problem.proposals(grammar)) if size_of(e) <= s.maxsize]
        if not proposed:
            return
        losses = problem.penalized(proposed, evaluator.losses(proposed, objective, fit_capacity))
        progress.evaluations += len(proposed)
        fitted, fit_losses = fit(proposed, fit_capacity, s.random_state)
        better = fit_losses < losses
        proposed = [f if b else e for e, f, b in zip(proposed, fitted, better)]
        losses = np.where(better, fit_losses, losses)
        record(proposed, losses, np.fromiter((size_of(e) for e in proposed), dtype=np.int64, count=len(proposed)))

    if not initial_population:
        seed_islands_with_small_expressions()
        offer_proposals()
    stopped_by = "niterations"
    last_checkpoint = 0.0
    try:
        for iteration in range(1, s.niterations + 1):
            for _ in range(s.ncycles_per_iteration):
                children = [child for island in islands for child in breed(island)]
                losses = score_children(children)
                sizes = np.fromiter((size_of(c) for c in children), dtype=np.int64, count=len(children))
                record(children, losses, sizes)
                n = s.children_per_island
                for i, island in enumerate(islands):
                    sl = slice(i * n, (i + 1) * n)
                    replace_oldest(island, children[sl], losses[sl], sizes[sl])
                progress.cycles += 1
                if s.timeout_in_seconds is not None and time.perf_counter() - start >= 0.95 * s.timeout_in_seconds:
                    break
            optimize_constants()
            progress.iteration = iteration
            stop = False
            if exchange is not None:
                # The members found elsewhere join this hall of fame, so the migration below
                # draws from the merged front (PySR's migration from the global hall of fame).
                progress.elapsed = time.perf_counter() - start
                immigrants, stop = exchange(progress, [e for island in islands for e in island.members], hof.members())
                for m in immigrants:
                    hof.consider(m.expr, m.loss, m.complexity)
            _simplify_and_migrate(rng, islands, hof, s, simpler_form, iteration)
            if stop:
                stopped_by = "stop"
                break
            progress.elapsed = time.perf_counter() - start
            progress.observe(hof.front())
            if callback is not None:
                callback(progress)
            if checkpoint is not None and progress.elapsed - last_checkpoint >= checkpoint_interval:
                checkpoint(problem.finish(hof.members(), final=False), progress)
                last_checkpoint = progress.elapsed
            if progress.best_loss / baseline <= s.tolerance:
                stopped_by = "tolerance"
                break
            if s.timeout_in_seconds is not None and progress.elapsed >= 0.95 * s.timeout_in_seconds:
                stopped_by = "timeout"
                break
    except KeyboardInterrupt:
        stopped_by = "interrupt"

    progress.elapsed = time.perf_counter() - start
    final = problem.finish(hof.members()) if finish else hof.members()
    compilations = evaluator.compilations + (fit_evaluator.compilations if fit_evaluator is not evaluator else 0)
    return SearchResult(final, progress, stopped_by, compilations)


def _simplify_and_migrate(rng, islands: list[_Island], hof: HallOfFame, s: SearchSettings,
                          simpler_form: Callable[[Expr], Expr], iteration: int) -> None:
    """Simplify the front and one island's best member (the islands take turns: a SymPy
    round trip costs about 10 ms, as much as scoring a thousand children), and seed
    islands with hall-of-fame members."""
    front = hof.front()
    turn = islands[iteration % len(islands)]
    k = int(np.argmin(turn.losses))
    turn.members[k] = simpler_form(turn.members[k])
    turn.sizes[k] = complexity(turn.members[k], s.operators)
    for island in islands:
        n_replace = int(round(s.fraction_replaced * len(island.members)))
        if front and n_replace:
            for k in rng.choice(len(island.members), size=n_replace, replace=False):
                m = front[int(rng.integers(len(front)))]
                island.members[k], island.losses[k], island.sizes[k] = m.expr, m.loss, m.complexity
    for m in front:
        simpler = simpler_form(m.expr)
        if simpler != m.expr:
            hof.consider(simpler, m.loss * (1 - 1e-12), complexity(simpler, s.operators))


__all__ = ["SearchSettings", "SearchResult", "Progress", "search"]
