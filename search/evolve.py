"""The evolutionary search: islands of regularized evolution with migration.

One *cycle* makes ``children_per_island`` children on every island (tournament
selection, then mutation or crossover), scores all children of all islands in one
batched call, and lets each child replace the oldest member of its island (regularized
evolution, Real et al. 2019).  The islands are arrays (:class:`Islands`, a
:class:`~search.population.Population` of every member) and a cycle acts on all of them at
once: the variation is one compiled step (:mod:`search.variation`), the replacement one
scatter.  An *iteration* is ``ncycles_per_iteration`` cycles followed by constant fitting
(batched Levenberg–Marquardt on each island's fittest members and a random share),
simplification of the front, migration from it and a progress report.  The search stops at ``niterations``, at ``timeout_in_seconds``, when the
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

from . import interrupt
from .enumerate import small_expressions
from .evaluate import Evaluator
from .expression import Expr, complexity
from .mutate import Grammar, random_expr
from .operators import BUILTIN, CONST, DEFAULT_BINARY, DEFAULT_UNARY, OperatorSet
from .pareto import HallOfFame, Member, pareto_front
from .population import Population, Tables, from_exprs, to_exprs
from .population import complexity as complexities
from .problem import Problem
from .simplify import simplify
from .tournament_native import Tournament, costs as tournament_costs
from .variation import Variation


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
    # the most of the elapsed time the per-iteration constant fitting may have taken before
    # an iteration skips it (None: never skipped); for objectives so costly that one fit of
    # the fittest members takes as long as many generations (a PDE integrated per candidate)
    max_fit_share: float | None = None
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
    islands: int  # run in all (on a cluster: summed over the groups)


@dataclass
class Islands:
    """Every island's state as arrays: ``I`` islands of ``M`` members.

    ``members`` holds the ``I·M`` expressions island after island (row ``i·M + k`` is
    member ``k`` of island ``i``); ``losses`` and ``sizes`` (complexities) are ``(I, M)``.
    Children replace the oldest members in a ring, the same slots on every island:
    ``oldest`` is the slot of every island's oldest member.
    """

    members: Population
    losses: np.ndarray
    sizes: np.ndarray
    oldest: int = 0

    def __post_init__(self) -> None:
        #: ``(I, 1)``: the row of each island's first member
        self.first_rows = np.arange(self.losses.shape[0])[:, None] * self.losses.shape[1]

    def rows(self, index: np.ndarray) -> np.ndarray:
        """Rows of :attr:`members` of the ``(I, K)`` per-island member ``index``."""
        return (self.first_rows + index).ravel()


def search(problem: Problem, settings: SearchSettings,
           callback: Callable[[Progress], None] | None = None,
           checkpoint: Callable[[list[Member], Progress], None] | None = None,
           checkpoint_interval: float = 10.0, *,
           initial_population: list[Expr] | None = None,
           exchange: Callable[[Progress, list[Expr], list[Member]], tuple[list[Member], bool]] | None = None,
           exchange_interval: float = 0.0, finish: bool = True) -> SearchResult:
    """Run the evolution on ``problem``; returns its finished Pareto front.

    ``callback(progress)`` runs after every iteration; ``checkpoint(front, progress)``
    at most every ``checkpoint_interval`` seconds with the front finished so far
    (``problem.finish(front, final=False)``).

    For a search spread over several processes (:mod:`search.distributed`):
    ``initial_population`` resumes islands from saved members (they are rescored; the
    enumeration of small expressions is skipped), ``exchange(progress, members,
    hall_of_fame)`` runs after an iteration, at most every ``exchange_interval`` seconds,
    with every island member and the hall of fame and returns ``(immigrants, stop)``:
    members found elsewhere, which join the hall of fame the islands' migrants are drawn
    from, and whether to stop now; ``finish=False``
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
    # the enumeration's constant fits and the problem's proposals stop here, so that costly
    # objectives (a PDE solved per candidate) leave the evolution half of a time limit
    setup_deadline = None if s.timeout_in_seconds is None else start + 0.5 * s.timeout_in_seconds

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

    tables = Tables(ops)
    # Rows of the island arrays: every member fits, since each node costs at least 1
    # (a set with free operators gets room for twice as many nodes).
    width = s.maxsize if int(tables.cost[:-1].min()) >= 1 else 2 * s.maxsize
    variation = Variation(grammar, width, rng)

    def fits(e: Expr) -> bool:
        return size_of(e) <= s.maxsize and len(e) <= width

    def score(members: Population) -> np.ndarray:
        """Losses of ``members`` (penalized by the problem), counted as evaluations."""
        progress.evaluations += len(members)
        losses = evaluator.losses(members, objective, child_capacity)
        return problem.penalized(to_exprs(members), losses) if problem.penalty is not None else losses

    def fit(exprs: list[Expr], capacity, seed: int) -> tuple[list[Expr], np.ndarray]:
        """Fitted constants of ``exprs`` and their losses on all rows."""
        fitted, losses = problem.fit_constants(fit_evaluator, fit_objective, exprs, s.optimizer_iterations, capacity,
                                               seed=seed)
        progress.evaluations += len(exprs) * s.optimizer_iterations
        if fit_evaluator is not evaluator:
            losses = evaluator.losses(fitted, objective, capacity)
        return fitted, problem.penalized(fitted, losses)

    def record(members: Population | list[Expr], losses: np.ndarray, sizes: np.ndarray) -> None:
        """Offer the best finite member of each complexity to the hall of fame."""
        # most batches hold nothing better than the hall of fame: test them all at once
        candidates = np.flatnonzero(hof.may_improve(losses, sizes))
        if not len(candidates):
            return
        order = candidates[np.lexsort((losses[candidates], sizes[candidates]))]
        best = order[np.r_[True, sizes[order][1:] != sizes[order][:-1]]]
        exprs = to_exprs(members.take(best)) if isinstance(members, Population) else [members[j] for j in best]
        for expr, j in zip(exprs, best):
            hof.consider(expr, float(losses[j]), int(sizes[j]))

    def fitness() -> np.ndarray:
        """``(I, M)`` tournament cost of every member (lower is fitter)."""
        return tournament_costs(islands.losses, islands.sizes, baseline, s.adaptive_parsimony_scaling, s.parsimony)

    tournament = Tournament(baseline, s.adaptive_parsimony_scaling, s.parsimony)

    def breed() -> Population:
        """``children_per_island`` children of every island, island after island: tournament
        winners, each mutated or (with ``crossover_probability``) crossed with a second."""
        n_islands, n = s.populations, s.children_per_island
        rows = tournament(islands.losses, islands.sizes, rng.random((n_islands, 2 * n, s.tournament_selection_n)))
        parents, partners = islands.members.take(rows).split(n_islands * n)
        return variation.children(rng, parents, partners, rng.random(len(parents)) < s.crossover_probability)

    def replace_oldest(children: Population, losses: np.ndarray, sizes: np.ndarray) -> None:
        """Regularized evolution: each island's children replace its oldest members, in order."""
        n, size = s.children_per_island, s.population_size
        rows = islands.rows((islands.oldest + np.arange(n)) % size)
        islands.members.put(rows, children)
        islands.losses.flat[rows] = losses
        islands.sizes.flat[rows] = sizes
        islands.oldest = (islands.oldest + n) % size

    def optimize_constants() -> None:
        """Batched constant fitting on each island's ``optimize_top`` fittest members with
        constants plus a random ``optimize_probability`` share of its members with constants."""
        has_c = (islands.members.codes == CONST).any(axis=1).reshape(islands.losses.shape)
        top = np.argsort(np.where(has_c, fitness(), np.inf), axis=1, kind="stable")[:, : s.optimize_top]
        chosen = has_c & (rng.random(has_c.shape) < s.optimize_probability)
        np.put_along_axis(chosen, top, np.take_along_axis(has_c, top, axis=1), axis=1)  # top members with constants
        rows = np.flatnonzero(chosen.ravel())
        if not len(rows):
            return
        fitted, losses = fit(to_exprs(islands.members.take(rows)), fit_capacity, int(rng.integers(2**31)))
        better = np.flatnonzero(losses <= islands.losses.flat[rows])
        islands.members.put(rows[better], from_exprs([fitted[j] for j in better], width))
        islands.losses.flat[rows[better]] = losses[better]
        for j in better:
            hof.consider(fitted[j], float(losses[j]), int(islands.sizes.flat[rows[j]]))

    # Initial populations: random trees of assorted sizes, all scored in one batch.
    initial = [random_expr(rng, grammar, int(rng.integers(1, min(s.maxsize, 10) + 1)))
               for _ in range(s.populations * s.population_size)]
    if initial_population:
        resumed = [e for e in initial_population if fits(e)][: len(initial)]
        initial[: len(resumed)] = resumed
    members = from_exprs([e if fits(e) else e[:1] for e in initial], width)
    losses = np.concatenate([score(members.take(np.arange(k, min(k + batch, len(members)))))
                             for k in range(0, len(members), batch)])
    sizes = complexities(members, tables)
    record(members, losses, sizes)
    shape = (s.populations, s.population_size)
    islands = Islands(members, losses.reshape(shape), sizes.reshape(shape))

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
            if setup_deadline is not None and time.perf_counter() >= setup_deadline:
                break
            chunk = promising[k:k + s.enumerate_fit // 2]
            exprs, fit_losses = fit([small[j] for j in chunk], enum_capacity, s.random_state)
            for j, e, loss in zip(chunk, exprs, fit_losses):
                if loss <= losses[j]:
                    fitted[j], losses[j] = e, loss
        sizes = np.fromiter((size_of(e) for e in fitted), dtype=np.int64, count=len(fitted))
        record(fitted, losses, sizes)
        order = [int(k) for k in np.argsort(losses, kind="stable") if np.isfinite(losses[k]) and fits(fitted[k])]
        n_seed = s.population_size // 4
        for i in range(s.populations):
            picked = order[i::s.populations][:n_seed]
            slots = i * s.population_size + np.arange(len(picked))
            islands.members.put(slots, from_exprs([fitted[k] for k in picked], width))
            islands.losses[i, : len(picked)] = losses[picked]
            islands.sizes[i, : len(picked)] = sizes[picked]

    def offer_proposals() -> None:
        """Score the problem's own proposals (constants fitted) and offer them to the hall
        of fame; the islands meet them through migration.  (Dealt to the islands directly,
        they crowded out the lines of descent that lead to short laws.)"""
        if problem.proposals is None:
            return
        proposed = [e for e in dict.fromkeys(problem.proposals(grammar, setup_deadline)) if size_of(e) <= s.maxsize]
        if not proposed:
            return
        losses = problem.penalized(proposed, evaluator.losses(proposed, objective, fit_capacity))
        progress.evaluations += len(proposed)
        fitted, fit_losses = fit(proposed, fit_capacity, s.random_state)
        better = fit_losses < losses
        proposed = [f if b else e for e, f, b in zip(proposed, fitted, better)]
        losses = np.where(better, fit_losses, losses)
        record(proposed, losses, np.fromiter((size_of(e) for e in proposed), dtype=np.int64, count=len(proposed)))

    stopped_by = "niterations"
    last_checkpoint, last_exchange = 0.0, -math.inf
    fit_seconds = 0.0   # spent in optimize_constants
    try:
        if not initial_population:
            seed_islands_with_small_expressions()
            offer_proposals()
        for iteration in range(1, s.niterations + 1):
            out_of_time = False
            for _ in range(s.ncycles_per_iteration):
                interrupt.check()
                children = breed()
                losses = score(children)
                sizes = complexities(children, tables)
                record(children, losses, sizes)
                replace_oldest(children, losses, sizes)
                progress.cycles += 1
                if s.timeout_in_seconds is not None and time.perf_counter() - start >= 0.95 * s.timeout_in_seconds:
                    out_of_time = True
                    break
            # no constant fitting once the time is up (the problem's polish refits the front)
            if not out_of_time and (s.max_fit_share is None
                                    or fit_seconds <= s.max_fit_share * (time.perf_counter() - start)):
                fit_started = time.perf_counter()
                optimize_constants()
                fit_seconds += time.perf_counter() - fit_started
            progress.iteration = iteration
            stop = False
            progress.elapsed = time.perf_counter() - start
            if exchange is not None and progress.elapsed - last_exchange >= exchange_interval:
                # The members found elsewhere join this hall of fame, so the migration below
                # draws from the merged front (PySR's migration from the global hall of fame).
                last_exchange = progress.elapsed
                immigrants, stop = exchange(progress, to_exprs(islands.members), hof.members())
                for m in immigrants:
                    hof.consider(m.expr, m.loss, m.complexity)
            _simplify_and_migrate(rng, islands, hof, s, simpler_form, fits)
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
    try:
        final = problem.finish(hof.members()) if finish else hof.members()
    except KeyboardInterrupt:   # a second Ctrl-C while polishing: the front as searched
        stopped_by, final = "interrupt", pareto_front(hof.members())
    compilations = evaluator.compilations + (fit_evaluator.compilations if fit_evaluator is not evaluator else 0)
    return SearchResult(final, progress, stopped_by, compilations, s.populations)


def _simplify_and_migrate(rng, islands: Islands, hof: HallOfFame, s: SearchSettings,
                          simpler_form: Callable[[Expr], Expr], fits: Callable[[Expr], bool]) -> None:
    """Offer the simplified form of every front member to the hall of fame (SymPy runs on
    the front only, cached: a round trip costs about 10 ms, as much as breeding and scoring
    thousands of children), and replace a random ``fraction_replaced`` of every island's
    members by front members (so the simplified forms reach the islands)."""
    for m in hof.front():
        simpler = simpler_form(m.expr)
        if simpler != m.expr:
            hof.consider(simpler, m.loss * (1 - 1e-12), complexity(simpler, s.operators))
    migrants = [m for m in hof.front() if fits(m.expr)]
    n_islands, size = islands.losses.shape
    n_replace = int(round(s.fraction_replaced * size))
    if migrants and n_replace:
        slots = np.argsort(rng.random((n_islands, size)), axis=1)[:, :n_replace]
        chosen = rng.integers(len(migrants), size=slots.size)
        rows = islands.rows(slots)
        islands.members.put(rows, from_exprs([migrants[j].expr for j in chosen], islands.members.width))
        islands.losses.flat[rows] = [migrants[j].loss for j in chosen]
        islands.sizes.flat[rows] = [migrants[j].complexity for j in chosen]


__all__ = ["SearchSettings", "SearchResult", "Progress", "search"]
