"""Free-form right-hand sides found by the evolutionary engine (``search``).

Two problems of the engine, one per field:

* **evolve** — weak-form residuals through the engine's linear-map objective.  A
  candidate ``h(U[, U_x, ...])`` is evaluated pointwise on the grid (the leaves are the
  fields, plus estimated derivatives when ``max_order`` allows them); the objective is
  ``‖a Φ h - (b_t - known)‖²`` with ``Φ`` the ``(K, N)`` sparse matrix of test
  functions (:meth:`discover.pde.weak.WeakForm.matrix`) and ``b_t`` the weak time
  derivative.  The search runs on a grid coarsened to at most ``SEARCH_POINTS`` points
  with at most ``SEARCH_QUERIES`` test functions; the front is refit in float64 on the
  full grid.
* **solver** — for sparse observations (few snapshots): every candidate of a population
  is integrated at once, ``u_t = known(u) + h(u)``, from each observed snapshot to the
  next (RK4 in ``lax.scan``, spatial derivatives of the known part spectral), and scored
  by the mean squared mismatch with the next snapshot.  No derivative of the sparse data
  is taken.  Constants are fitted derivative-free by the engine.  The found formula and
  the library's sums of powers of the field are then fitted through every snapshot with a
  fitted initial state (:func:`discover.pde.trajectory.fit_snapshots`) and the lowest BIC
  is chosen.  The chosen model is then simulated past the data to report whether it stays
  bounded.
"""

from __future__ import annotations

import itertools
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import replace

import jax
from jax.experimental import sparse as jax_sparse
import jax.numpy as jnp
import numpy as np
import sympy
from scipy.optimize import least_squares

from codegen.text import sympify_text
from search.distributed import search_with
from search.evolve import SearchSettings
from search.expression import complexity, constants, to_sympy, with_constants
from search.numbers import shortest_decimal
from search.numpy_eval import evaluate
from search.objectives import Custom, LeastSquares
from search.pareto import HallOfFame, Member, select
from search.polish import noise_tolerance, scaled
from search.problem import Problem

from ..errors import UserError
from . import library as lib
from . import trajectory
from .data import FieldData
from .fit import (RHS_DIGITS, Columns, FieldEquation, PDEFit, PDESettings, TermFit, expansion_matrix, parse_known,
                  rhs_text, term_fits, trajectory_refit, validate_settings)
from .noise import field_noise
from .weak import minimum_half_width

#: The search scores candidates on a coarsened grid with fewer test functions (the cost of
#: one population is P x nnz(Φ)); the front is then refit on the full weak system.
SEARCH_POINTS = 4096
SEARCH_QUERIES = 192
#: The front's refit uses at most this many points (all of a 1-D record of 101 x 256; a whole 2-D
#: record's Φ, 3,840 test functions of 368,379 points each for λ–ω, would not fit in memory)
REFIT_POINTS = 1 << 15
#: evolve: the search's share of a field's time (less what the weak systems took to
#: build, but at least MIN_SEARCH_SHARE); the front's float64 refit gets the rest
EVOLVE_SEARCH_SHARE = 0.6
MIN_SEARCH_SHARE = 0.4
BINARY = ("+", "-", "*")
UNARY = ("square", "cube", "exp", "sin", "neg")


def run_method(method: str, data: FieldData, settings: PDESettings, time_limit: float,
               progress: Callable[[str], None] | None = None, client=None) -> tuple[PDEFit, dict]:
    """``discover pde --method evolve|solver``: one search per field; with a Dask ``client``
    each search runs its islands on its workers (:func:`search.distributed.search_with`)."""
    say = progress or (lambda message: None)
    validate_settings(data, replace(settings, method="weak"))
    start = time.perf_counter()
    deadline = time.monotonic() + time_limit
    known = parse_known(data, settings)
    per_field = time_limit / len(data.field_names)
    message, refined = None, False
    if method == "evolve":
        equations, rows, systems = _evolve(data, settings, known, per_field, say, client)
        extra = {}
        if settings.trajectory:   # within the limit: what the search and the polish left
            equations, message, refined = _refit_free_form(data, known, equations, systems, say, deadline)
    elif method == "solver":
        equations, rows, extra = _solver(data, settings, known, per_field, say, client)
    else:
        raise UserError(f"unknown method {method!r}")
    return PDEFit(equations, [], rows, time.perf_counter() - start, settings, message, refined), extra


def _search_settings(settings: PDESettings, time_limit: float, costly: bool = False) -> SearchSettings:
    """Engine settings; ``costly`` objectives (a PDE integrated per candidate) enumerate
    and fit fewer small expressions up front."""
    # (no constant fits of the small expressions up front: one chunk of derivative-free fits
    # through a PDE solve took 10 s of a 7.5 s search; an iteration's fits of the fittest
    # members took 5 s, so fewer members and steps, and at most a third of the time)
    extra = dict(enumerate_budget=600, enumerate_fits=0, enumerate_fit=128, max_fit_share=1 / 3,
                 optimize_top=2, optimize_probability=0.0, optimizer_iterations=4) if costly else {}
    return SearchSettings(binary_operators=BINARY, unary_operators=UNARY, maxsize=15, populations=4,
                          population_size=48, niterations=100_000, timeout_in_seconds=time_limit,
                          random_state=settings.seed, tolerance=1e-14, **extra)


def _reporter(field: str, time_limit: float, say: Callable[[str], None]):
    """A search callback that turns the engine's progress into one status line."""
    def report(p) -> None:
        say(f"{field}_t: {p.elapsed:.0f} of {time_limit:.0f} s, iteration {p.iteration}, "
            f"{p.evaluations:,} candidates, best loss {p.best_loss:.3g}")
    return report


def _leaf_names(data: FieldData, settings: PDESettings, hidden: bool) -> list[str]:
    """The fields, plus their spatial derivatives up to ``max_order`` (none by default in
    hidden-term mode, where ``h`` is usually a function of the fields alone)."""
    names = list(data.field_names)
    order = (settings.max_order or 0) if hidden else settings.order(len(data.space_names))
    for field in data.field_names:
        for k in range(1, order + 1):
            for alpha in lib._multi_indices(len(data.space_names), k):
                names.append(lib.derivative_name(field, alpha, data.space_names))
    return names


def _divisor_at_least(n: int, stride: int) -> int:
    """The smallest divisor of ``n`` that is at least ``stride`` (1 when only ``n`` itself is)."""
    for d in range(stride, n // 4 + 1):
        if n % d == 0:
            return d
    return 1


def _coarsen(data: FieldData, limit: int, min_points: Sequence[int]) -> FieldData:
    """Every ``s_a``-th point along each axis ``a``: one stride ``s``, the smallest leaving
    <= ``limit`` points, capped per axis so that ``min_points[a]`` points remain (what the
    weak form's narrowest test function needs: 2-D data keeps more than ``limit``); on
    periodic axes the stride divides the axis length, so the coarse grid still wraps
    around evenly."""
    def strides_for(stride: int) -> list[int]:
        out = []
        for axis, n in enumerate(data.shape):
            periodic = axis > 0 and data.periodic
            s = _divisor_at_least(n, stride) if periodic else stride
            cap = max(1, n // min_points[axis])
            if s > cap or s < stride:   # s < stride: no divisor of n in [stride, n/4]
                s = max(d for d in range(1, cap + 1) if n % d == 0) if periodic else cap
            out.append(s)
        return out

    stride, strides = 1, [1] * len(data.shape)
    while np.prod([math.ceil(n / s) for n, s in zip(data.shape, strides)]) > limit and stride < max(data.shape):
        stride += 1
        strides = strides_for(stride)
    if strides == [1] * len(data.shape):
        return data
    index = tuple(slice(None, None, s) for s in strides)
    coords = {name: values[::s] for (name, values), s in zip(data.coords.items(), strides)}
    return FieldData({k: v[index] for k, v in data.fields.items()}, coords, data.periodic, data.attrs, data.path)


class _WeakSystem:
    """Leaves ``(n_leaves, N)``, the map ``Φ (K, N)`` and target ``(K,)`` of one field."""

    def __init__(self, data: FieldData, settings: PDESettings, known, field: str, leaf_names: list[str]):
        columns = Columns(data, replace(settings, method="weak"),
                          [t for _, t in known.get(field, [])])
        self.rows = columns.rows
        self.names = leaf_names
        self.leaves = np.stack([columns.field_or_derivative(n).ravel() for n in leaf_names])
        target = columns.time_derivative(field)
        for c, term in known.get(field, []):
            target = target - c * columns.column(term)
        self.target = target
        self.phi = columns.weak.matrix((0,) * (1 + len(data.space_names)))


def _evolve(data, settings, known, time_limit, say, client=None):
    """One weak-form search per field: ``(equations, rows, {field: full weak system})``."""
    equations, rows, systems = [], "", {}
    for field in data.field_names:
        hidden = field in known
        names = _leaf_names(data, settings, hidden)
        say(f"weak-form search for {field}_t ({'hidden term' if hidden else 'whole right-hand side'})")
        field_start = time.monotonic()
        deadline = field_start + time_limit
        n_space = len(data.space_names)
        narrowest = [4 * minimum_half_width(order) + 1 for order in (1,) + (settings.order(n_space),) * n_space]
        keep = [n + n // 2 for n in narrowest]
        coarse = _WeakSystem(_coarsen(data, SEARCH_POINTS, keep),
                             replace(settings, max_queries=SEARCH_QUERIES), known, field, names)
        full = systems[field] = _WeakSystem(_coarsen(data, REFIT_POINTS, keep), settings, known, field, names)
        rows = full.rows
        phi = jax_sparse.BCOO.from_scipy_sparse(coarse.phi.tocoo())
        # Scale-only: a constant source term must be earned as an explicit constant.
        problem = Problem(leaves=coarse.leaves, objective=LeastSquares.of(coarse.target, phi=phi, scaling="scale"),
                          leaf_names=names,
                          polish=lambda members, final, s=full: _polish_weak(members, s, deadline, say))
        # 2-D data keeps more points than SEARCH_POINTS (the test functions' minimum): costly
        costly = coarse.leaves.shape[1] > SEARCH_POINTS
        search_time = max(EVOLVE_SEARCH_SHARE * time_limit - (time.monotonic() - field_start),
                          MIN_SEARCH_SHARE * time_limit)
        result = search_with(client, problem, _search_settings(settings, search_time, costly),
                             _reporter(field, search_time, say))
        equations.append(_equation_from_front(field, result.front, names, known, settings, full.target.size,
                                              lambda m, s=full: _weak_residual(m.expr, s)))
    return equations, rows, systems


def _refit_free_form(data, known, equations, systems, say, deadline: float | None = None):
    """The found right-hand sides' outer coefficients refit by maximum likelihood
    (:func:`discover.pde.fit.trajectory_refit`, stopping at ``deadline``; constants inside
    a term, as in ``sin(2.1*u)``, stay): ``(equations, message, applied)``."""
    fields, axes = data.field_names, data.space_names
    pieces = {}
    for eq in equations:
        if eq.rhs != "0":
            pieces[eq.field] = lib.as_terms(lib.parse_expression(eq.rhs, fields, axes), fields, axes)
    noise, clean = field_noise(data.fields)
    outcome, fitted = trajectory_refit(data, pieces, known, {} if clean else noise, say, deadline)
    if fitted is None:
        return equations, outcome, False
    refitted = []
    for eq in equations:
        if eq.field not in fitted:
            refitted.append(eq)
            continue
        monomials, M = expansion_matrix([t for _, t in pieces[eq.field]], fields, axes)
        coefficients, covariance = fitted[eq.field]
        rhs = rhs_text(monomials, M @ coefficients)
        system = systems[eq.field]
        values = sympy.lambdify([sympy.Symbol(n) for n in system.names], lib.parse_expression(rhs, fields, axes))
        weak = system.phi @ np.broadcast_to(values(*system.leaves), system.leaves.shape[1:])
        refitted.append(replace(eq, rhs=rhs, terms=term_fits(monomials, M, coefficients, covariance),
                                residual=_relative_misfit(weak, system)))
    return refitted, outcome.describe(), True


def _weak_values(expr, system: _WeakSystem) -> np.ndarray:
    return system.phi @ evaluate(expr, system.leaves.T)


def _weak_residual(expr, system: _WeakSystem) -> float:
    return _relative_misfit(_weak_values(expr, system), system)


def _relative_misfit(weak: np.ndarray, system: _WeakSystem) -> float:
    """``|Φ h - b| / |b|`` of a right-hand side's weak values ``weak = Φ h``."""
    return float(np.linalg.norm(weak - system.target) / max(np.linalg.norm(system.target), 1e-300))


def _polish_weak(members: list[Member], system: _WeakSystem, deadline: float | None = None,
                 say: Callable[[str], None] = lambda message: None) -> list[Member]:
    """Fold the optimal scale ``a h`` into each member, refit its constants in float64 on
    the full weak system, round constants within noise, keep the Pareto front.

    ``members`` come simplest first; past ``deadline`` (``time.monotonic()``) the rest only
    get their scale folded in (one product with ``Φ`` each instead of a hundred or so)."""
    front = HallOfFame()
    target = system.target
    var = float(np.var(target))
    skipped, longest = 0, 0.0
    for member in members:
        g = _weak_values(member.expr, system)
        if not np.all(np.isfinite(g)) or not np.any(g):
            continue
        a = float(g @ target / (g @ g))
        expr = scaled(member.expr, a, 0.0)
        started = time.monotonic()
        if deadline is None or started + longest < deadline:   # the longest refit so far still fits
            expr = _refit(expr, system)
            expr = _round_constants(expr, system, _loss(expr, system), var)
            longest = max(longest, time.monotonic() - started)
        else:
            skipped += 1
        front.consider(expr, _loss(expr, system), complexity(expr))
    if skipped:
        say(f"the time limit left {skipped} of {len(members)} front members "
            "without their float64 refit (only their scale fitted)")
    return front.front()


def _loss(expr, system) -> float:
    r = _weak_values(expr, system) - system.target
    value = float(np.mean(r * r))
    return value if math.isfinite(value) else math.inf


def _refit(expr, system):
    c0 = np.asarray(constants(expr), dtype=np.float64)
    if not len(c0):
        return expr

    def resid(theta):
        r = _weak_values(with_constants(expr, theta), system) - system.target
        return np.where(np.isfinite(r), r, 1e150)

    try:
        theta = least_squares(resid, c0, method="lm" if len(system.target) > len(c0) else "trf",
                              xtol=1e-15, ftol=1e-15, gtol=1e-15, max_nfev=100 * (len(c0) + 1)).x
    except (ValueError, np.linalg.LinAlgError):
        return expr
    fitted = with_constants(expr, theta)
    return fitted if _loss(fitted, system) <= _loss(expr, system) else expr


def _round_constants(expr, system, loss, var):
    """Each constant to zero, or else its shortest decimal, if the loss stays within the
    noise tolerance (:func:`search.polish.noise_tolerance`)."""
    tol = noise_tolerance(loss, len(system.target), var)
    values = list(constants(expr))
    for i, c in enumerate(values):
        for rel in (None, 1e-1, 1e-2, 1e-3, 1e-4, 1e-5, 1e-6):
            trial = values.copy()
            trial[i] = 0.0 if rel is None else shortest_decimal(c, rel)  # 0 first: a noise offset
            candidate = with_constants(expr, trial)
            if _loss(candidate, system) <= loss + tol:
                values = trial
                break
    return with_constants(expr, values)


def _equation_from_front(field, front, names, known, settings, n_rows, residual) -> FieldEquation:
    symbols = [sympy.Symbol(n) for n in names]
    if not front:
        raise UserError(f"the search found no finite model for {field}_t; give it more time (--time-limit)")
    chosen = front[select(front, "best", n_rows)]
    rhs = sympy.expand(to_sympy(chosen.expr, symbols))
    terms = [TermFit(sympy.sstr(m), c, None, None)
             for m, c in sorted(lib.coefficients_by_monomial(rhs).items(), key=lambda kv: -abs(kv[1]))]
    alternatives = [{"rhs": _text(sympy.expand(to_sympy(m.expr, symbols))), "loss": m.loss,
                     "complexity": m.complexity, "residual": residual(m)} for m in front]
    known_text = settings.known.get(field)
    return FieldEquation(field, _text(rhs), known_text, terms, residual(chosen), alternatives)


def _text(expr: sympy.Expr) -> str:
    """``expr`` with its constants to :data:`~discover.pde.fit.RHS_DIGITS` significant digits,
    as the other methods write theirs (:func:`discover.pde.fit.rhs_text`); the terms' table
    keeps the full values."""
    return sympy.sstr(expr.xreplace({f: sympy.Float(float(f), RHS_DIGITS) for f in expr.atoms(sympy.Float)}))


# ----------------------------------------------------------------------------- solver in the loop


def spectral_operator(known_terms, data: FieldData, field_index: dict[str, int]):
    """The known part as a JAX function of the state ``(..., n_fields, nx[, ny])``, spatial
    derivatives by FFT on the periodic grid."""
    shape = data.shape[1:]
    spacings = data.spacings()[1:]
    wavenumbers = [2j * np.pi * np.fft.fftfreq(n, d) for n, d in zip(shape, spacings)]
    grids = np.meshgrid(*wavenumbers, indexing="ij")
    axes = tuple(range(-len(shape), 0))
    fields = data.field_names

    def symbol(alpha):
        out = np.ones(shape, dtype=np.complex128)
        for k, order in zip(grids, alpha):
            out = out * k**order
        return jnp.asarray(out)

    parts = []
    for c, term in known_terms:
        if term.pointwise:
            raise UserError("with --method solver the known part must be a sum of derivatives of the fields and "
                            "functions of the fields (no products with derivatives)")
        fn = sympy.lambdify([sympy.Symbol(f) for f in fields], term.inner, "jax")
        parts.append((c, fn, symbol(term.alpha) if term.order else None))

    def apply(state):
        values = [state[..., field_index[f], *([slice(None)] * len(shape))] for f in fields]
        total = jnp.zeros_like(values[0])
        for c, fn, mult in parts:
            g = jnp.broadcast_to(fn(*values), values[0].shape)
            if mult is not None:
                g = jnp.real(jnp.fft.ifftn(mult * jnp.fft.fftn(g, axes=axes), axes=axes))
            total = total + c * g
        return total

    return apply


def _substeps(known_terms, data: FieldData, interval: float) -> int:
    """RK4 steps per observation interval: stable for the known part's stiffest mode."""
    spacings = data.spacings()[1:]
    k_max = max(np.pi / d for d in spacings)
    rate = sum(abs(c) * k_max ** term.order for c, term in known_terms if term.order) + 1.0
    return max(4, int(math.ceil(interval * rate / 2.0)))


def _solver(data: FieldData, settings: PDESettings, known, time_limit, say, client=None):
    if not data.periodic:
        raise UserError("--method solver integrates on a periodic grid; pass --periodic if the data wraps around")
    if len(data.field_names) > 1:
        raise UserError("--method solver handles one field; systems need every field's equation integrated "
                        "together (use --method weak or evolve for systems)")
    t = data.coords[data.axis_names[0]]
    if len(t) < 2:
        raise UserError(f"--method solver needs at least 2 snapshots, not {len(t)}")
    intervals = np.diff(t)
    if not np.allclose(intervals, intervals[0], rtol=1e-6):
        raise UserError("--method solver needs snapshots evenly spaced in time")
    fields = data.field_names
    index = {f: i for i, f in enumerate(fields)}
    stacked = np.stack([data.fields[f] for f in fields], axis=1)  # (nt, n_fields, *space)
    # the search integrates every candidate on a grid of at most SOLVER_POINTS per axis:
    # the cost is points x RK4 steps, and the steps grow with the square of the finest
    # wavenumber (256 points of Allen–Cahn: 83 steps per interval, a first iteration of
    # minutes); the fits through the snapshots afterwards use the whole grid
    coarse = _coarsen_space(data, SOLVER_POINTS)
    coarse_stacked = np.stack([coarse.fields[f] for f in fields], axis=1)
    if coarse.shape != data.shape:
        say(f"the search integrates on a {' x '.join(map(str, coarse.shape[1:]))} grid "
            f"(every {data.shape[1] // coarse.shape[1]}th point); the fits use all {' x '.join(map(str, data.shape[1:]))}")
    equations, extra = [], {}
    for field in fields:
        say(f"solver-in-the-loop search for {field}_t")
        field_start = time.monotonic()
        known_terms = known.get(field, [])
        steps = _substeps(known_terms, coarse, float(intervals[0]))
        objective, baseline = _trajectory_objective(coarse_stacked, index[field], known_terms, coarse, index,
                                                    float(intervals[0]), steps)
        start = coarse_stacked[:-1].reshape(len(coarse_stacked) - 1, len(fields), -1)  # (S-1, n_fields, R)
        leaves = np.moveaxis(start, 1, 0).reshape(len(fields), -1)  # (n_fields, (S-1) R)
        problem = Problem(leaves=leaves, objective=objective, leaf_names=fields, baseline=baseline)
        # With the fits through the snapshots afterwards, the search gets half the time.
        search_time = time_limit * (SEARCH_SHARE if settings.trajectory else 1.0)
        result = search_with(client, problem, _search_settings(settings, search_time, costly=True),
                             _reporter(field, search_time, say))
        equation = _equation_from_front(field, result.front, fields, known, settings, leaves.shape[1],
                                        lambda m: m.loss / baseline)
        last = stacked[-1]
        if settings.trajectory:
            say(f"{field}_t: fitting the found model and library terms through every snapshot")
            fits_until = field_start + time_limit
            equation, report, fitted_last = _choose_by_snapshot_fit(data, known, equation, fits_until)
            extra[field] = {"snapshot_fit": report}
            last = last if fitted_last is None else fitted_last
        equations.append(equation)
        extra.setdefault(field, {})["stable_past_data"] = _stays_bounded(
            stacked, index[field], known_terms, data, index, equation.rhs, float(intervals[0]),
            _substeps(known_terms, data, float(intervals[0])), last)
    rows = (f"{len(t)} snapshots x {int(np.prod(data.shape[1:]))} points, {len(t) - 1} intervals "
            f"integrated with {steps} RK4 steps each")
    if coarse.shape != data.shape:
        rows += f" on the search's {int(np.prod(coarse.shape[1:]))}-point grid"
    return equations, rows, extra


#: The solver search's share of ``--time-limit`` when the snapshot fit follows it.
SEARCH_SHARE = 0.5
#: The solver search's grid: at most this many points per spatial axis (the benchmark's
#: sparse cases have 32 sensors)
SOLVER_POINTS = 64


def _coarsen_space(data: FieldData, most: int) -> FieldData:
    """Every ``s``-th point along each spatial axis longer than ``most``, ``s`` the smallest
    divisor of its length leaving at most ``most`` points (so the periodic grid still wraps
    around evenly); every snapshot is kept."""
    strides = [1]
    for n in data.shape[1:]:
        stride = 1 if n <= most else _divisor_at_least(n, math.ceil(n / most))
        strides.append(stride if n // stride >= 4 else 1)
    if strides == [1] * len(strides):
        return data
    index = tuple(slice(None, None, s) for s in strides)
    coords = {name: values[::s] for (name, values), s in zip(data.coords.items(), strides)}
    return FieldData({k: v[index] for k, v in data.fields.items()}, coords, data.periodic, data.attrs, data.path)
#: ETDRK4 steps per observation interval when fitting through the snapshots.
SNAPSHOT_FIT_STEPS = 32
#: The library the snapshot fit also tries: every non-empty set of these powers of the field.
SNAPSHOT_FIT_POWERS = (1, 2, 3)


def _choose_by_snapshot_fit(data, known, equation, deadline: float | None = None):
    """The model with the lowest Bayesian information criterion when fitted through every
    snapshot with its initial state (:func:`discover.pde.trajectory.fit_snapshots`): the
    search's formula (its outer coefficients refit; its inner constants count in the BIC)
    or a library model, a sum of powers of the field.  The search scores a candidate from
    each noisy snapshot to the next, so where noise at an unstable state blows up under the
    true law (Fisher–KPP below u = 0) the truth scores badly there; fitted initial states
    remove that.  Returns ``(equation, report, last)``: the chosen equation (its residual
    ``sqrt(RSS / Σ U²)`` of the fit), the report ``{"models": [{"rhs", "bic"}]}`` or
    ``{"skipped": reason}``, and the chosen fit's state at the last snapshot (None when the
    search's equation stays).  At ``deadline`` (``time.monotonic()``) or an interrupt the
    fitting stops: the models fitted so far are ranked (the report says how many were not),
    or the search's equation stays."""
    field, fields, axes = equation.field, data.field_names, data.space_names
    symbol, zero = sympy.Symbol(field), (0,) * len(axes)
    # term set -> pieces: the search's formula first (a fit stopped by the time limit or an
    # interrupt leaves it ranked), then the library models; one equal to it is fitted once
    candidates = {}
    if equation.rhs != "0":
        pieces = lib.as_terms(lib.parse_expression(equation.rhs, fields, axes), fields, axes)
        candidates[frozenset(t for _, t in pieces)] = pieces
    for size in range(1, len(SNAPSHOT_FIT_POWERS) + 1):
        for powers in itertools.combinations(SNAPSHOT_FIT_POWERS, size):
            pieces = [(0.0, lib.Term(symbol ** k, zero)) for k in powers]
            candidates.setdefault(frozenset(t for _, t in pieces), pieces)
    work = trajectory.work(data, max(len(p) for p in candidates.values()), SNAPSHOT_FIT_STEPS)
    if work > trajectory.MAX_WORK:
        return equation, {"skipped": f"too large to fit through every snapshot "
                                      f"({work:.1e} > {trajectory.MAX_WORK:.0e})"}, None
    ranking, unfitted, interrupted = [], 0, False
    for pieces in candidates.values():
        if interrupted or (deadline is not None and time.monotonic() > deadline):
            unfitted += 1
            continue
        active = [(0, term) for _, term in pieces]
        try:
            fit = trajectory.fit_snapshots(data, active, np.array([c for c, _ in pieces]), known,
                                           SNAPSHOT_FIT_STEPS, deadline)
        except KeyboardInterrupt:   # Ctrl-C: keep what is fitted, as the search keeps its front
            interrupted = True
            unfitted += 1
            continue
        if fit is None:
            unfitted += deadline is not None and time.monotonic() > deadline
            continue
        fit.fixed = len(set().union(*(t.inner.atoms(sympy.Float) for _, t in pieces)))
        monomials, M = expansion_matrix([t for _, t in pieces], fields, axes)
        ranking.append((fit.bic(), rhs_text(monomials, M @ fit.coefficients), monomials, M, fit))
    stopper = "an interrupt" if interrupted else "the time limit"
    late = f"{stopper} stopped {unfitted} of {len(candidates)} fits" if unfitted else None
    if not ranking:
        return equation, {"skipped": late or "no candidate could be fitted through every snapshot"}, None
    ranking.sort(key=lambda item: item[0])
    _, rhs, monomials, M, fit = ranking[0]
    residual = math.sqrt(fit.rss / max(float(np.sum(data.fields[field] ** 2)), 1e-300))
    chosen = replace(equation, rhs=rhs, terms=term_fits(monomials, M, fit.coefficients, fit.covariance),
                     residual=residual)
    report = {"models": [{"rhs": text, "bic": value} for value, text, *_ in ranking]}
    return chosen, report | ({"stopped": late} if late else {}), fit.final_state


def rk4_step(rhs, state, where, dt):
    """One classical Runge–Kutta step of ``state[where]' = rhs(state)`` (the other
    entries of ``state`` held fixed)."""
    u = state[where]
    k1 = rhs(state)
    k2 = rhs(state.at[where].set(u + 0.5 * dt * k1))
    k3 = rhs(state.at[where].set(u + 0.5 * dt * k2))
    k4 = rhs(state.at[where].set(u + dt * k3))
    return state.at[where].set(u + dt / 6 * (k1 + 2 * k2 + 2 * k3 + k4))


def _trajectory_objective(stacked, row, known_terms, data, index, interval, steps):
    """Mean squared mismatch at snapshot ``i+1`` after integrating from snapshot ``i``."""
    known_fn = spectral_operator(known_terms, data, index)
    space = stacked.shape[2:]
    S = stacked.shape[0] - 1
    observed_next = jnp.asarray(stacked[1:, row].reshape(S, -1))
    dt = interval / steps
    n_fields = stacked.shape[1]

    def loss(population, leaves, observed):
        P = population.size
        state0 = jnp.broadcast_to(leaves.reshape(n_fields, S, *space), (P, n_fields, S, *space))
        state0 = jnp.moveaxis(state0, 1, 2)  # (P, S, n_fields, *space)

        def rhs(state):  # (P, S, n_fields, *space) -> (P, S, *space) for this field
            flat = jnp.moveaxis(state, 2, 1).reshape(P, n_fields, -1)
            h = population(flat).reshape(P, S, *space)
            return known_fn(state) + h

        def step(state, _):
            return rk4_step(rhs, state, (slice(None), slice(None), row), dt), None

        final, _ = jax.lax.scan(step, state0, None, length=steps)
        mismatch = final[:, :, row].reshape(P, S, -1) - observed[None]
        return jnp.mean(mismatch.reshape(P, -1) ** 2, axis=1)

    baseline = float(np.mean((stacked[1:, row] - stacked[:-1, row]) ** 2))
    return Custom(loss, observed_next, baseline if baseline > 0 else 1.0), baseline if baseline > 0 else 1.0


def _stays_bounded(stacked, row, known_terms, data, index, rhs_text, interval, steps, start) -> dict:
    """Simulate the found model from ``start`` (the state at the last snapshot: fitted, or
    observed) for as long again as the data spans."""
    fields = data.field_names
    h = sympy.lambdify([sympy.Symbol(f) for f in fields], sympify_text(rhs_text, {f: sympy.Symbol(f) for f in fields}), "jax")
    known_fn = spectral_operator(known_terms, data, index)
    horizon = stacked.shape[0] - 1
    dt = interval / steps

    with jax.enable_x64(True):
        state = jnp.asarray(start)

        def rhs(s):
            return known_fn(s) + jnp.broadcast_to(h(*[s[index[f]] for f in fields]), s[row].shape)

        def step(s, _):
            return rk4_step(rhs, s, row, dt), jnp.max(jnp.abs(s[row]))

        _, peaks = jax.lax.scan(step, state, None, length=horizon * steps)
        peaks = np.asarray(peaks)
    data_peak = float(np.max(np.abs(stacked[:, row])))
    finite = bool(np.all(np.isfinite(peaks)))
    peak = float(np.max(peaks)) if finite else math.inf
    return {"simulated_time": float(horizon * interval), "max_abs": peak, "max_abs_data": data_peak,
            "stable": finite and peak <= 10 * data_peak}
