"""Sparse-regression PDE discovery: ``u_t = Σ_j w_j θ_j(U)`` with few nonzero ``w``.

For each field ``f`` the linear system ``b_f ≈ G w_f`` is built in one of two ways:

* **weak** (default): one row per compactly supported test function ``φ_k``;
  ``b_k = ∫ φ_k ∂_t f = -∫ (∂_t φ_k) f`` and ``G_kj = ∫ φ_k ∂^α g_j(U) =
  (-1)^|α| ∫ (∂^α φ_k) g_j(U)`` (:mod:`discover.pde.weak`), so the noisy data is never
  differentiated;
* **strong**: one row per sampled grid point; ``∂_t f`` and ``∂^α g_j(U)`` estimated by
  finite differences, spectral or Savitzky–Golay derivatives (:mod:`discover.pde.derivatives`).

A known part (hidden-term mode) is moved to the left: ``b_f -= G_known c_known``.  The
terms and coefficients come from :func:`discover.pde.sparse.mstls` (refit by generalized
least squares on noisy weak systems), their spread from a bootstrap over rows at the chosen
threshold.  On noisy periodic data the chosen terms' coefficients are then refit by
maximum likelihood (:mod:`discover.pde.trajectory`) when that succeeds; their spread is
then the Cramér–Rao bound.  The alternatives stay the regression's candidates, with its
coefficients.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import sympy

from search import interrupt

from ..errors import DataError, UserError
from . import library as lib
from . import trajectory
from .data import FieldData
from .defaults import DEFAULT_MAX_QUERIES, METHODS
from .derivatives import METHODS as DERIVATIVE_METHODS
from .derivatives import derivative
from . import gls as weighting
from .noise import debiased, field_noise
from .sparse import TERM_PENALTY, bootstrap, compressed, lstsq_on, mstls, relative_residual, selection_loss
from .weak import WeakForm, choose_half_widths

DEFAULT_MAX_POINTS = 20_000


@dataclass
class PDESettings:
    """How the discovery runs; every field has the CLI's default."""

    method: str = "weak"
    derivative: str | None = None  # strong form (and pointwise terms): default savgol, spectral when periodic & clean
    max_order: int | None = None  # default 4 in 1-D, 2 in 2-D
    max_degree: int = lib.DEFAULT_MAX_DEGREE
    derivative_degree: int = lib.DEFAULT_DERIVATIVE_DEGREE
    extra_terms: Sequence[str] = ()
    known: dict[str, str] = field(default_factory=dict)
    max_queries: int = DEFAULT_MAX_QUERIES
    max_points: int = DEFAULT_MAX_POINTS
    bootstrap: int = 64
    debias: bool = True  # Hermite-corrected monomials and noise-weighted (GLS) weak equations
    trajectory: bool = True  # refit the chosen terms' coefficients by simulation (maximum likelihood)
    seed: int = 0

    def order(self, n_space: int) -> int:
        return self.max_order if self.max_order is not None else (4 if n_space == 1 else 2)


@dataclass
class TermFit:
    """One term of a found equation, in expanded form (``u*u_x``)."""

    term: str
    coefficient: float
    std: float | None  # Cramér–Rao spread after a trajectory refit, else bootstrap (None: free-form methods)
    inclusion: float | None  # fraction of bootstrap fits keeping the term


@dataclass
class FieldEquation:
    """``lhs = known + rhs`` for one field; ``rhs`` is the found part (SymPy text)."""

    field: str
    rhs: str
    known: str | None
    terms: list[TermFit]
    residual: float
    alternatives: list[dict]

    @property
    def lhs(self) -> str:
        return f"{self.field}_t"

    def equation(self) -> str:
        rhs = self.rhs if not self.known else f"{self.known} + [{self.rhs}]"
        return f"{self.lhs} = {rhs}"


@dataclass
class PDEFit:
    equations: list[FieldEquation]
    library: list[str]
    rows: str
    seconds: float
    settings: PDESettings
    refinement: str | None = None  # what the trajectory refit did, or why it did not run (None: not tried)
    refined: bool = False  # the coefficients are the trajectory refit's

    def refit_report(self) -> dict:
        """The result file's ``extra`` entry for the trajectory refit (empty when not tried)."""
        if self.refinement is None:
            return {}
        return {"trajectory_refit": {"applied": self.refined, "message": self.refinement}}


def validate_settings(data: FieldData, settings: PDESettings) -> None:
    """UserError for settings that cannot work with this data."""
    if settings.method not in METHODS:
        raise UserError(f"unknown method {settings.method!r}; choose one of {', '.join(METHODS)}")
    if settings.derivative is not None and settings.derivative not in DERIVATIVE_METHODS:
        raise UserError(f"unknown derivative method {settings.derivative!r}; choose one of {', '.join(DERIVATIVE_METHODS)}")
    if settings.derivative == "spectral" and not data.periodic:
        raise UserError("spectral derivatives need periodic data; use --derivative fd or savgol, or --periodic")
    order = settings.order(len(data.space_names))
    if not 0 <= order <= 6:
        raise UserError(f"--max-order must be between 0 and 6, not {order}")
    if settings.max_degree < 1:
        raise UserError(f"--max-degree must be at least 1, not {settings.max_degree}")
    unknown = sorted(set(settings.known) - set(data.field_names))
    if unknown:
        raise UserError(f"--known names field {unknown[0]!r}, which is not one of the fields "
                        f"({', '.join(data.field_names)})")


def build_library(data: FieldData, settings: PDESettings) -> list[lib.Term]:
    axes = data.space_names
    terms = lib.default_library(data.field_names, len(axes), settings.order(len(axes)), settings.max_degree,
                                settings.derivative_degree)
    try:
        extra = lib.parse_terms(list(settings.extra_terms), data.field_names, axes)
    except ValueError as exc:
        raise UserError(str(exc)) from None
    return terms + [t for t in extra if t not in terms]


def parse_known(data: FieldData, settings: PDESettings) -> dict[str, list[tuple[float, lib.Term]]]:
    known = {}
    for name, text in settings.known.items():
        try:
            expr = lib.parse_expression(text, data.field_names, data.space_names, what="known part")
            known[name] = lib.as_terms(expr, data.field_names, data.space_names)
        except ValueError as exc:
            raise UserError(str(exc)) from None
    return known


class Columns:
    """Evaluates library terms as columns of ``G`` for one method (weak or strong)."""

    def __init__(self, data: FieldData, settings: PDESettings, terms: Sequence[lib.Term] = ()):
        """``terms``: every term that will be evaluated (library and known part)."""
        self.data = data
        self.settings = settings
        self.terms = list(terms)
        self.spacings = data.spacings()
        self.axes = data.space_names
        self.symbols = [sympy.Symbol(f) for f in data.field_names]
        self._derivatives: dict[tuple[str, tuple[int, ...]], np.ndarray] = {}
        self.noise, self.clean = field_noise(data.fields)
        self.variances = {f: (s ** 2 if settings.debias and not self.clean else 0.0) for f, s in self.noise.items()}
        default = "spectral" if data.periodic and (self.clean or not settings.debias) else "savgol"
        self.derivative_method = settings.derivative or default
        self._phi: dict[tuple, object] = {}  # (alpha, rows) -> sparse matrix
        self._slopes: dict[tuple, np.ndarray | None] = {}
        if settings.method == "weak":
            self._setup_weak()
        else:
            self._setup_strong()

    # -- evaluation of the inner functions and their derivatives -----------------------
    def values(self, expr: sympy.Expr) -> np.ndarray:
        """A SymPy expression of the fields (and derivative symbols) on the grid."""
        names = sorted(expr.free_symbols, key=str)
        arrays = [self.field_or_derivative(s.name) for s in names]
        fn = sympy.lambdify(names, expr, "numpy")
        with np.errstate(all="ignore"):  # overflow: fit_pde names the terms not finite on the data
            return np.broadcast_to(np.asarray(fn(*arrays), dtype=np.float64), self.data.shape)

    def field_or_derivative(self, name: str) -> np.ndarray:
        if name in self.data.fields:
            return self.data.fields[name]
        field, alpha = lib.split_derivative_name(name, self.axes)
        return self.spatial_derivative(self.data.fields[field], alpha, key=(field, alpha))

    def spatial_derivative(self, values: np.ndarray, alpha: Sequence[int], key=None) -> np.ndarray:
        if key is not None and key in self._derivatives:
            return self._derivatives[key]
        out = values
        for axis, order in enumerate(alpha, start=1):
            if order:
                out = derivative(out, self.spacings[axis], axis, order, method=self.derivative_method,
                                 periodic=self.data.periodic, name=self.data.axis_names[axis])
        if key is not None:
            self._derivatives[key] = out
        return out

    # -- the two methods -----------------------------------------------------------------
    def _setup_weak(self):
        first = self.data.fields[self.data.field_names[0]]
        periodic = (self.data.periodic,) * len(self.axes)
        # Test functions smooth enough for the highest derivative any term puts on them.
        order = max([self.settings.order(len(self.axes)), 1] + [t.order for t in self.terms])
        max_orders = (1,) + (order,) * len(self.axes)
        names = tuple(self.data.axis_names)
        widths = choose_half_widths(first, self.spacings, periodic, max_orders=max_orders, axis_names=names)
        # Centers a sixteenth of a support apart: many more equations than library terms, and
        # max_queries bounds their number on large grids.
        strides = [max(1, m // 8) for m in widths]
        self.weak = WeakForm(first.shape, self.spacings, widths, periodic=periodic, max_orders=max_orders,
                             strides=strides, max_queries=self.settings.max_queries, axis_names=names)
        self.rows = self.weak.describe()
        if self.weak.n_queries < 2 * len(self.terms):  # fewer leave the regression barely determined
            raise UserError(f"only {self.weak.n_queries} test functions for {len(self.terms)} library terms (at "
                            f"least {2 * len(self.terms)} needed); raise --max-queries or shrink the library "
                            "(--max-order, --max-degree)")

    def _setup_strong(self):
        shape = self.data.shape
        margin = [min(8, n // 8) for n in shape]
        if self.data.periodic:
            margin[1:] = [0] * (len(shape) - 1)
        ranges = [np.arange(m, n - m) for m, n in zip(margin, shape)]
        grid = np.stack(np.meshgrid(*ranges, indexing="ij"), axis=-1).reshape(-1, len(shape))
        if len(grid) > self.settings.max_points:
            rng = np.random.default_rng(self.settings.seed)
            grid = grid[np.sort(rng.choice(len(grid), self.settings.max_points, replace=False))]
        self.points = tuple(grid.T)
        self.rows = f"{len(grid)} grid points of {int(np.prod(shape))} (edges of {margin} points skipped)"

    def time_derivative(self, field: str) -> np.ndarray:
        values = self.data.fields[field]
        if self.settings.method == "weak":
            return self.weak.term(values, (1,) + (0,) * len(self.axes))
        method = "fd" if self.derivative_method == "spectral" else self.derivative_method
        return derivative(values, self.spacings[0], 0, 1, method=method, periodic=False,
                          name=self.data.axis_names[0])[self.points]

    def inner(self, term: lib.Term) -> sympy.Expr:
        """The function of the fields a term differentiates, corrected for the noise."""
        if term.pointwise:
            return term.inner
        return debiased(term.inner, {sympy.Symbol(f): v for f, v in self.variances.items()})

    def column(self, term: lib.Term) -> np.ndarray:
        values = self.values(self.inner(term))
        if self.settings.method == "weak":
            if term.pointwise or not term.order:
                return self.weak.term(values, (0,) * (1 + len(self.axes)))
            return self.weak.term(values, (0,) + tuple(term.alpha))
        if not np.all(np.isfinite(values)):  # the filters refuse inf; fit_pde names the term
            return np.full(len(self.points[0]), np.nan)
        return self.spatial_derivative(values, term.alpha)[self.points]


    def phi(self, alpha: tuple[int, ...], weak: WeakForm):
        """``weak.matrix(alpha)``, cached (``weak`` is this system's form or a row restriction of it)."""
        key = (alpha, weak.rows.tobytes())
        if key not in self._phi:
            self._phi[key] = weak.matrix(alpha)
        return self._phi[key]

    def _slope(self, term: lib.Term, symbol: sympy.Symbol) -> np.ndarray | None:
        """``∂g/∂U_f`` of a term's inner function on the grid, ravelled (cached: each GLS
        iteration needs it again); None where it does not depend on the field or holds
        derivative symbols."""
        key = (term, symbol)
        if key not in self._slopes:
            inner = self.inner(term)
            depends = symbol in inner.free_symbols and not lib.derivative_symbols(inner)
            self._slopes[key] = self.values(sympy.diff(inner, symbol)).ravel() if depends else None
        return self._slopes[key]

    def _slopes_by_derivative(self, weighted_terms: list[tuple[float, lib.Term]], field: str):
        """Per noisy field ``f``: ``(σ_f², {α: S_α})`` with ``J_f = Σ_α Φ_α diag(S_α)`` the
        Jacobian of ``field``'s weak residual: ``S_α`` sums the signed, weighted slopes
        ``c (-1)^|α| ∂g/∂U_f`` (ravelled) of the terms under ``∂^α``, plus 1 for the own
        field's ``∂_t``."""
        zero_time = (0,) * (1 + len(self.axes))
        for name, variance in self.variances.items():
            if variance <= 0:
                continue
            parts: dict[tuple[int, ...], np.ndarray] = {}
            if name == field:
                parts[(1,) + (0,) * len(self.axes)] = np.ones(int(np.prod(self.data.shape)))
            symbol = sympy.Symbol(name)
            for c, term in weighted_terms:
                slope = self._slope(term, symbol) if c != 0.0 else None
                if slope is None:
                    continue
                alpha = zero_time if term.pointwise else (0,) + tuple(term.alpha)
                part = slope * (c * (-1) ** term.order)
                parts[alpha] = parts[alpha] + part if alpha in parts else part
            if parts:
                yield variance, parts

    def jacobians(self, weighted_terms: list[tuple[float, lib.Term]], field: str,
                  weak: WeakForm) -> list[tuple[float, object]]:
        """``(σ_f², J_f)`` per noisy field for the weak residual of ``field``'s equation
        with the given ``(coefficient, term)`` pairs (:mod:`discover.pde.gls`), on the rows
        of ``weak`` (a restriction of this system's form), as sparse matrices."""
        out = []
        for variance, parts in self._slopes_by_derivative(weighted_terms, field):
            J = sum(self.phi(alpha, weak).multiply(slope[None, :]) for alpha, slope in parts.items())
            out.append((variance, J.tocsr()))
        return out

    def gram_covariance(self, weighted_terms: list[tuple[float, lib.Term]], field: str) -> np.ndarray | None:
        """``Σ_f σ_f² J_f J_fᵀ`` of :meth:`jacobians` over the full query grid, dense
        ``(K, K)``, without forming ``J_f``: ``J_f J_fᵀ = Σ_{α,β} Φ_α diag(S_α S_β) Φ_βᵀ``,
        each a :meth:`~discover.pde.weak.WeakForm.gram`.  None without noise."""
        C = None
        for variance, parts in self._slopes_by_derivative(weighted_terms, field):
            alphas = list(parts)
            for i, a in enumerate(alphas):
                for b in alphas[i:]:
                    weights = (parts[a] * parts[b]).reshape(self.weak.shape)
                    g = self.weak.gram(a, b, weights) * variance
                    g = g if a == b else g + g.T
                    C = g if C is None else C + g
        return C


def fit_pde(data: FieldData, settings: PDESettings | None = None,
            progress: Callable[[str], None] | None = None) -> PDEFit:
    """Discover one equation per field (see the module docstring)."""
    settings = settings or PDESettings()
    validate_settings(data, settings)
    say = progress or (lambda message: None)
    start = time.perf_counter()
    terms = build_library(data, settings)
    known = parse_known(data, settings)
    say(f"building the {settings.method}-form system")
    columns = Columns(data, settings, terms + [t for pairs in known.values() for _, t in pairs])
    G = np.column_stack([columns.column(t) for t in terms])
    if not np.all(np.isfinite(G)):
        bad = [terms[j].label(columns.axes) for j in np.flatnonzero(~np.all(np.isfinite(G), axis=0))]
        raise DataError(f"library terms {', '.join(bad)} are not finite on this data; rescale the fields, "
                        "or drop the terms (--max-degree, --terms)")
    expansion = expansion_matrix(terms, data.field_names, columns.axes)
    selections = {}
    for name in data.field_names:
        say(f"sparse regression for {name}_t")
        b = columns.time_derivative(name)
        if name in known:
            with np.errstate(all="ignore"):   # a known part undefined on the data: one line below
                b = b - sum(c * columns.column(t) for c, t in known[name])
            if not np.all(np.isfinite(b)):
                raise DataError(f"the known part {settings.known[name]!r} is not finite on this data (a division "
                                "by a value that is 0 somewhere, or an overflow); give one defined on the data")
        selections[name] = _select(name, G, b, terms, settings, columns, known.get(name, []))
    refinement = None
    if settings.method == "weak" and settings.trajectory and any(s is not None for s in selections.values()):
        refinement = _trajectory_refit(data, terms, selections, known, columns, say)
    equations = [_equation(name, selections[name], expansion, settings.known.get(name))
                 for name in data.field_names]
    refined = isinstance(refinement, trajectory.Refinement)
    message = refinement.describe() if refined else refinement
    return PDEFit(equations, [t.label(columns.axes) for t in terms], columns.rows,
                  time.perf_counter() - start, settings, message, refined)


def expansion_matrix(terms, fields, axes) -> tuple[list[sympy.Expr], np.ndarray]:
    """Monomials of the expanded terms and the matrix ``M`` with ``expanded = M @ w``."""
    monomials: list[sympy.Expr] = []
    index: dict[sympy.Expr, int] = {}
    entries = []
    for j, term in enumerate(terms):
        for monomial, c in lib.coefficients_by_monomial(term.expanded(fields, axes)).items():
            if monomial not in index:
                index[monomial] = len(monomials)
                monomials.append(monomial)
            entries.append((index[monomial], j, c))
    M = np.zeros((len(monomials), len(terms)))
    for i, j, c in entries:
        M[i, j] += c
    return monomials, M


#: A left-hand side this small against :func:`_rate_scale` is zero to rounding.
ZERO_RELATIVE = 1e-12


def _rate_scale(name: str, columns) -> float:
    """What the left-hand side ``b`` of field ``name`` would be if the field changed by its
    own size in one time step: its bare column (``u``: no derivative, no power, in the
    weak or strong form) over the time step.  Steady data gives ``b`` of about ``eps``
    times this, any evolution far more.  Derivative columns do not serve: ``u_xxxx`` grows
    as ``1/dx**4``, so data on a fine grid in metres looked steady against it; nor do
    ``u**3``, the constant, or another field, which scale differently with the data."""
    bare = lib.Term(sympy.Symbol(name), (0,) * len(columns.axes))
    scale = np.linalg.norm(columns.column(bare)) / columns.spacings[0]
    return max(float(scale), np.finfo(float).tiny)


@dataclass
class _Selection:
    """One field's chosen terms: coefficients ``(J,)`` over the library, the system they were
    fitted on, and their spread (bootstrap samples ``(B, J)``, or a covariance over the
    support once the trajectory refit has replaced them)."""

    G: np.ndarray
    b: np.ndarray
    coefficients: np.ndarray
    fit: object  # sparse.SparseFit: the chosen model and its alternatives
    samples: np.ndarray
    covariance: np.ndarray | None = None


def _select(name, G, b, terms, settings, columns, known_terms) -> _Selection | None:
    """The weak/strong sparse regression of one field; None when there is nothing to find."""
    if np.linalg.norm(b) <= ZERO_RELATIVE * _rate_scale(name, columns):
        # steady data, or a known part that is already the whole equation: nothing to find
        return None
    fit = mstls(G, b)
    coefficients = fit.coefficients
    G_boot, b_boot = G, b
    if settings.method == "weak" and settings.debias:
        plain = compressed(G, b)  # the unweighted equations, for judging a re-selection
        refined = _weighted_refit(name, G, b, fit.coefficients, terms, columns, known_terms, settings.seed)
        for _ in range(2):
            if refined is None:
                break
            coefficients, G_boot, b_boot = refined
            # Choose the terms again on the whitened rows, where noise shared between the
            # equations no longer rewards terms that fit it.
            again = mstls(G_boot, b_boot)
            if np.array_equal(again.coefficients != 0, coefficients != 0):
                break
            if _plain_loss(plain, again.coefficients != 0) > _plain_loss(plain, coefficients != 0) + TERM_PENALTY:
                break  # the unweighted equations reject it by more than one term's worth
            refit_again = _weighted_refit(name, G, b, again.coefficients, terms, columns, known_terms, settings.seed)
            if refit_again is None:
                break
            fit, refined = again, refit_again
        if refined is not None:
            coefficients, G_boot, b_boot = refined
    ensemble = bootstrap(G_boot, b_boot, fit.threshold, settings.bootstrap, settings.seed)
    return _Selection(G, b, coefficients, fit, ensemble.samples)


def _trajectory_refit(data, terms, selections, known, columns, say):
    """Replace the chosen terms' coefficients by the maximum-likelihood ones when the
    trajectory refit applies; returns its :class:`~discover.pde.trajectory.Refinement` or
    the reason it did not."""
    supports = {name: np.flatnonzero(s.coefficients) for name, s in selections.items() if s is not None}
    pieces = {name: [(selections[name].coefficients[j], terms[j]) for j in support]
              for name, support in supports.items()}
    outcome, fitted = trajectory_refit(data, pieces, known, {} if columns.clean else columns.noise, say)
    for name, (coefficients, covariance) in (fitted or {}).items():
        selection, support = selections[name], supports[name]
        selection.coefficients = np.zeros_like(selection.coefficients)
        selection.coefficients[support] = coefficients
        selection.covariance = np.zeros((len(terms), len(terms)))
        selection.covariance[np.ix_(support, support)] = covariance
    return outcome


def trajectory_refit(data: FieldData, pieces: dict[str, list[tuple[float, lib.Term]]], known, noise, say,
                     deadline: float | None = None):
    """Maximum-likelihood coefficients of every field's ``(coefficient, term)`` pieces
    (:mod:`discover.pde.trajectory`): ``(refinement, {field: (coefficients, covariance)})``
    in the pieces' order, or ``(reason, None)`` when the refit does not apply (or stops at
    ``deadline``, ``time.monotonic()``)."""
    fields = data.field_names
    active = [(fields.index(f), term) for f, pairs in pieces.items() for _, term in pairs]
    w0 = np.array([c for pairs in pieces.values() for c, _ in pairs], dtype=float)
    try:
        outcome = trajectory.refine(data, active, w0, known, noise, say, deadline)
    except KeyboardInterrupt:   # Ctrl-C: the weak form's coefficients stand, and are written
        return f"interrupted ({interrupt.described()})", None
    except Exception as exc:  # noqa: BLE001 - JAX/XLA failures (memory, a user term JAX cannot trace)
        # only cost the refinement: the caller's coefficients stand, and the message says why
        return f"failed ({type(exc).__name__}: {exc})", None
    if isinstance(outcome, str):
        return outcome, None
    fitted, start = {}, 0
    for f, pairs in pieces.items():
        part = slice(start, start + len(pairs))
        fitted[f] = (outcome.coefficients[part], outcome.covariance[part, part])
        start += len(pairs)
    return outcome, fitted


def term_fits(monomials, M, coefficients, covariance=None, samples=None) -> list[TermFit]:
    """The expanded terms ``M @ coefficients`` by size, with their spreads: from
    ``covariance`` (over ``coefficients``) when given, else from bootstrap ``samples``
    ``(B, len(coefficients))``, which also give the inclusion frequency."""
    expanded = M @ coefficients
    parts = np.abs(M) @ np.abs(coefficients)  # a monomial below 1e-12 of its parts cancelled
    projected = None if samples is None else samples @ M.T  # (B, monomials)
    out = []
    for i in np.argsort(-np.abs(expanded)):
        if expanded[i] == 0.0 or abs(expanded[i]) < 1e-12 * parts[i]:
            continue
        kept = None if projected is None else projected[:, i] != 0
        if covariance is not None:
            std = float(np.sqrt(max(M[i] @ covariance @ M[i], 0.0)))
        elif kept is not None:
            std = float(projected[kept, i].std(ddof=1)) if kept.sum() > 1 else 0.0
        else:
            std = None
        out.append(TermFit(sympy.sstr(monomials[i]), float(expanded[i]), std,
                           None if kept is None else float(kept.mean())))
    return out


def _equation(name, selection, expansion, known_text) -> FieldEquation:
    if selection is None:
        return FieldEquation(name, "0", known_text, [], 0.0, [])
    monomials, M = expansion
    coefficients = selection.coefficients
    residual = relative_residual(selection.G, selection.b, coefficients)
    fits = term_fits(monomials, M, coefficients, selection.covariance, selection.samples)
    alternatives = [{"rhs": rhs_text(monomials, M @ w), "loss": loss, "residual": residual}
                    for loss, residual, w in selection.fit.alternatives[:8]]
    return FieldEquation(name, rhs_text(monomials, M @ coefficients), known_text, fits, residual, alternatives)


def _plain_loss(system, support) -> float:
    """:func:`~discover.pde.sparse.selection_loss` of least squares on ``support`` of a
    (compressed) system ``(G, b)``."""
    G, b = system
    return selection_loss(G, b, lstsq_on(G, b, support))


def _weighted_refit(name, G, b, w, terms, columns, known_terms, seed):
    """GLS on the chosen support (:func:`discover.pde.gls.gls`): ``(w, whitened G, b)``;
    None when the system is too large for either way of forming the covariance."""
    support = w != 0
    if not support.any():
        return None

    def weighted(coefficients):
        return list(zip(coefficients, terms)) + list(known_terms)

    rows = weighting.choose_rows(len(b), columns.weak.support_size(), seed)
    if rows is not None:
        restricted = columns.weak.restrict(rows)
        return weighting.gls(G[rows], b[rows], support, w,
                             lambda c: weighting.covariance(columns.jacobians(weighted(c), name, restricted)))
    if columns.weak.n_queries > weighting.DENSE_MAX_ROWS or columns.weak.n_queries != len(b):
        return None
    return weighting.gls(G, b, support, w,
                         lambda c: weighting.regularised(columns.gram_covariance(weighted(c), name)))


#: Significant digits of the coefficients in a written right-hand side (every method's).
RHS_DIGITS = 8


def rhs_text(monomials, coefficients) -> str:
    total = sympy.Integer(0)
    for monomial, c in zip(monomials, coefficients):
        if c != 0.0:
            total += sympy.Float(float(c), RHS_DIGITS) * monomial
    return sympy.sstr(total)
