"""Maximum-likelihood coefficients: fit a simulated trajectory to every noisy snapshot.

The weak form (even reweighted, :mod:`discover.pde.gls`) is an *equation-error*
estimate: it tests the PDE against the data.  With white Gaussian noise the most
accurate estimate is the *output-error* one, maximum likelihood: the coefficients ``w``
and the clean initial state ``u₀`` whose solution of the PDE passes closest to the data,

    min over (w, u₀) of  Σ_i ‖ Σ⁻¹ (S_{t_i - t_0}(u₀; w) - U(t_i)) ‖²,

``S_τ(u; w)`` the pseudo-spectral ETDRK4 solution of ``u_t = Σ_j w_j θ_j(u) + known(u)``
after a time ``τ`` and ``Σ`` the noise level of each field.  The initial state is a
parameter too: taking it from the noisy first snapshot would bias ``w`` (errors in
variables).

Gauss–Newton: the Jacobian ``[A | B]`` with respect to the coefficients and the initial
state comes from forward-mode differentiation of the solver (``jax.jacfwd``); the initial
state is eliminated by projecting onto the orthogonal complement of ``range(B)``, leaving
a small system for ``w``:

    Δw = argmin ‖ P (A Δw + r) ‖,    P = I - Q Qᵀ,  B = Q R,    Δu₀ = -R⁻¹ Qᵀ (r + A Δw).

At the optimum ``Cov(w) ≈ s² (Aᵀ P A)⁻¹`` (``s`` the whitened residual's RMS, about 1
when the model is right): the Cramér–Rao bound of this data, reported as each
coefficient's uncertainty.

Two uses: :func:`refine` for records of many snapshots (Gauss–Newton from the weak form's
or the search's coefficients), :func:`fit_snapshots` for a few snapshots (Levenberg–Marquardt
with the horizon grown one snapshot at a time; the ``--method solver`` choice between
candidate models by BIC).

Scope of :func:`refine`: periodic data (the solver is spectral), terms already chosen, a
size small enough for the forward-mode Jacobian (one tangent per grid value of a field
plus one per coefficient; :data:`MAX_WORK`), and dynamics one trajectory can follow over
the whole record.  The refined model is kept only when its simulation explains the data
to the noise level (:data:`MAX_WHITENED_RMS`); otherwise the weak-form coefficients stay.
Cutting the record into windows, each with its own initial state, makes chaotic data
tractable but costs information: on Fisher–KPP at 1 % noise, windows of 20 intervals gave
errors of 9e-4 against the weak form's 2e-4, so it is not done.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import sympy

from search import interrupt

from . import library as lib
from .data import FieldData
from .simulate import Coefficients, _dealias_mask, _etdrk4_step, _multiplier, etdrk4_coefficients
from .sparse import lstsq_on

#: Snapshots simulated when choosing the time step.
STEP_CHECK_SNAPSHOTS = 21
#: Gauss–Newton iterations at most; stop earlier when the cost falls by less than TOLERANCE.
ITERATIONS = 6
TOLERANCE = 1e-7
#: Keep the refinement only if the whitened residual's RMS is at most this (1 = the noise).
MAX_WHITENED_RMS = 1.3
#: Largest (tangents x simulated steps x grid values) for one Jacobian; larger problems keep
#: the weak-form coefficients.  About 1e7 takes 1 s on one core of an Intel Xeon (2026).
MAX_WORK = 4e7
#: The time step is refined until halving it moves the simulated window by less than
#: this fraction of the noise level.
STEP_TOLERANCE = 1e-2
MAX_SUBSTEPS = 256


@dataclass
class Refinement:
    """Refined free coefficients ``(n_free,)`` in the order of ``active``, their covariance
    ``(n_free, n_free)`` and how the fit went."""

    coefficients: np.ndarray
    covariance: np.ndarray
    whitened_rms: float
    iterations: int
    substeps: int
    seconds: float

    def describe(self) -> str:
        return (f"trajectory refit: {self.substeps} ETDRK4 steps per snapshot, {self.iterations} Gauss-Newton iterations, residual "
                f"{self.whitened_rms:.3f} x noise, {self.seconds:.1f} s")


class _Model:
    """``u_t = Σ_j w_j T_j(u) + known(u)`` for the stacked fields, split for ETDRK4 into a
    stiff diagonal part ``L`` (own-field linear terms at the starting coefficients) and the
    rest ``N(v; w) = Σ_j w_j T_j(v) + known(v) - L v`` (Fourier coefficients ``v``)."""

    def __init__(self, data: FieldData, active: list[tuple[int, lib.Term]],
                 known: Mapping[str, Sequence[tuple[float, lib.Term]]], w0: np.ndarray):
        """``active``: (field index, term) per free coefficient, with starting values ``w0``."""
        self.fields = data.field_names
        self.axes = data.space_names
        spacings = data.spacings()[1:]
        self.domain = tuple((float(data.coords[a][0]), float(data.coords[a][0]) + n * h, n)
                            for a, h, n in zip(self.axes, spacings, data.shape[1:]))
        self.space = tuple(n for _, _, n in self.domain)
        self.fft_axes = tuple(range(1, len(self.space) + 1))
        self.mask = _dealias_mask(self.domain)
        self.symbols = [sympy.Symbol(f) for f in self.fields]
        # (field index, coefficient or None for free, term)
        pieces = [(i, None, t) for i, t in active]
        pieces += [(self.fields.index(f), float(c), t) for f, pairs in known.items() for c, t in pairs]
        # As the simulator does: with any nonlinear term, everything outside L is dealiased.
        dealias = any(not self._linear(term) for _, _, term in pieces)
        self.free, self.fixed = [], []
        L = np.zeros((len(self.fields), *self.mask.shape), dtype=complex)
        for slot, (i, c, term) in enumerate(pieces):
            value = float(w0[slot]) if c is None else c
            own_linear = self._linear(term) and term.inner == self.symbols[i]
            evaluate = self._term_function(term, masked=dealias and not own_linear)
            (self.free if c is None else self.fixed).append((i, value, evaluate))
            if own_linear:
                L[i] += value * _multiplier(self.domain, term.alpha)
        self.L = L

    def _linear(self, term: lib.Term) -> bool:
        return not term.pointwise and term.inner in self.symbols

    def _term_function(self, term: lib.Term, masked: bool) -> Callable:
        """``(v, physical) -> rfftn`` of the term, traceable; ``physical(source)`` gives a
        field or derivative on the grid."""
        import jax.numpy as jnp

        multiplier = jnp.asarray(_multiplier(self.domain, term.alpha) * (self.mask if masked else 1.0))
        if self._linear(term):
            index = self.symbols.index(term.inner)
            return lambda v, physical: v[index] * multiplier
        names = sorted(term.inner.free_symbols, key=str)
        fn = sympy.lambdify(names, term.inner, modules="jax")
        sources = [self._source(s.name) for s in names]

        def evaluate(v, physical):
            values = fn(*(physical(src) for src in sources))
            values = jnp.broadcast_to(jnp.asarray(values, dtype=jnp.float64), self.space)
            return jnp.fft.rfftn(values, axes=tuple(range(len(self.space)))) * multiplier

        return evaluate

    def _source(self, name: str) -> tuple[int, tuple[int, ...]]:
        """(field index, derivative multi-index) of a field or derivative symbol."""
        field, alpha = lib.split_derivative_name(name, self.axes)
        return self.fields.index(field), alpha

    def nonlinear(self, w):
        """``N(v; w)`` as a function of ``v`` (F, *spectral_shape)."""
        import jax.numpy as jnp

        def N(v):
            cache = {}

            def physical(source):
                if source not in cache:
                    index, alpha = source
                    spectral = v[index] * jnp.asarray(_multiplier(self.domain, alpha)) if any(alpha) else v[index]
                    cache[source] = jnp.fft.irfftn(spectral, s=self.space, axes=tuple(range(len(self.space))))
                return cache[source]

            out = [-(jnp.asarray(self.L[i]) * v[i]) for i in range(len(self.fields))]
            for (i, _, evaluate), wj in zip(self.free, w):
                out[i] = out[i] + wj * evaluate(v, physical)
            for i, value, evaluate in self.fixed:
                out[i] = out[i] + value * evaluate(v, physical)
            return jnp.stack(out)

        return N


def work(data: FieldData, n_free: int, substeps: int) -> float:
    """Tangents x simulated steps x grid values of one Jacobian."""
    grid = int(np.prod(data.shape[1:])) * len(data.field_names)
    return (grid + n_free) * data.shape[0] * substeps * grid


def refine(data: FieldData, active: list[tuple[int, lib.Term]], w0: np.ndarray,
           known: Mapping[str, Sequence[tuple[float, lib.Term]]], noise: Mapping[str, float],
           say: Callable[[str], None] = lambda m: None, deadline: float | None = None) -> Refinement | str:
    """Maximum-likelihood refit of the free coefficients ``w0`` (one per ``active`` term).

    Returns a :class:`Refinement`, or a one-line reason why it does not apply (the caller
    keeps its coefficients).  Past ``deadline`` (``time.monotonic()``), checked before the
    refit starts and before each Gauss–Newton iteration, it stops with such a reason.
    """
    import jax

    from search.jax_setup import configure

    if not data.periodic:
        return "not periodic (the trajectory refit simulates spectrally)"
    sigma = np.array([noise.get(f, 0.0) for f in data.field_names])
    if not np.all(sigma > 0):
        return "no noise to weigh (the weak form is already exact on clean data)"
    if not len(active):
        return "no terms"
    if work(data, len(active), 1) > MAX_WORK:
        return f"too large for the forward-mode Jacobian ({work(data, len(active), 1):.1e} > {MAX_WORK:.0e})"
    if deadline is not None and time.monotonic() > deadline:
        return "no time left within --time-limit (raise it for the refit)"
    configure()
    start = time.perf_counter()
    with jax.enable_x64(True):
        fitter = _Fitter(data, _Model(data, active, known, w0), np.asarray(w0, dtype=float), sigma)
        steps = fitter.choose_steps()
        if isinstance(steps, str):
            return steps
        outcome = fitter.fit(steps, say, deadline)
    if isinstance(outcome, str):
        return outcome
    outcome.seconds = time.perf_counter() - start
    return outcome


class _Fitter:
    """Gauss–Newton on the whitened output error for one model and data set."""

    def __init__(self, data: FieldData, model: _Model, w0: np.ndarray, sigma: np.ndarray):
        self.data, self.model, self.w0, self.sigma = data, model, w0, sigma
        self.interval = data.spacings()[0]
        self.observed = np.stack([data.fields[f] for f in data.field_names], axis=1)  # (nt, F, *space)
        self.grid_shape = self.observed.shape[1:]
        self.whiten = (1.0 / sigma).reshape((-1,) + (1,) * (self.observed.ndim - 2))
        self.n_free = len(w0)

    def _runner(self, steps: int, length: int):
        """``params -> (length, F, *space)``: the initial state then ``length - 1`` snapshots,
        ``params`` = free coefficients followed by the ravelled initial state."""
        import jax
        import jax.numpy as jnp

        model, n_free = self.model, self.n_free
        coefficients = Coefficients(*(jnp.asarray(c) for c in etdrk4_coefficients(model.L, self.interval / steps)))

        def run(params):
            w, u0 = params[:n_free], params[n_free:].reshape(self.grid_shape)
            N = model.nonlinear(w)

            def block(v, _):
                v = jax.lax.fori_loop(0, steps, lambda _, x: _etdrk4_step(coefficients, x, N), v)
                return v, jnp.fft.irfftn(v, s=model.space, axes=model.fft_axes)

            v0 = jnp.fft.rfftn(u0, axes=model.fft_axes)
            return jnp.concatenate([u0[None], jax.lax.scan(block, v0, None, length=length - 1)[1]])

        return run

    def choose_steps(self) -> int | str:
        """ETDRK4 steps per snapshot: the fewest whose halving moves a simulation of the first
        :data:`STEP_CHECK_SNAPSHOTS` snapshots by at most :data:`STEP_TOLERANCE` of the noise."""
        import jax
        import jax.numpy as jnp

        length = min(STEP_CHECK_SNAPSHOTS, self.data.shape[0])
        params = jnp.asarray(np.concatenate([self.w0, self.observed[0].ravel()]))

        def simulate(steps):
            return np.asarray(jax.jit(self._runner(steps, length))(params))

        steps, coarse = 1, simulate(1)
        while steps <= MAX_SUBSTEPS and work(self.data, self.n_free, steps) <= MAX_WORK:
            fine = simulate(2 * steps)
            if np.all(np.isfinite(coarse)) and np.all(np.isfinite(fine)):
                change = np.abs(fine - coarse).reshape(length, len(self.sigma), -1).max(axis=(0, 2))
                if np.all(change <= STEP_TOLERANCE * self.sigma):
                    return steps
            steps, coarse = 2 * steps, fine
        return (f"{steps // 2} ETDRK4 steps per snapshot are not accurate enough, and more exceed the "
                f"Jacobian's work limit ({MAX_WORK:.0e})")

    def fit(self, steps: int, say, deadline: float | None = None) -> Refinement | str:
        """Gauss–Newton from the weak-form coefficients and the first snapshot (a reason
        instead, past ``deadline``)."""
        import jax
        import jax.numpy as jnp

        n_free = self.n_free
        run = self._runner(steps, self.data.shape[0])
        whiten, target = jnp.asarray(self.whiten), jnp.asarray(self.observed * self.whiten)

        def residual(params):
            return (run(params) * whiten - target).ravel()

        residuals, jacobian = jax.jit(residual), jax.jit(jax.jacfwd(residual))
        params = np.concatenate([self.w0, self.observed[0].ravel()])
        r = np.asarray(residuals(params))
        cost = float(r @ r)
        if not np.isfinite(cost):
            return "the weak-form model's simulation is not finite"
        for iterations in range(1, ITERATIONS + 1):
            interrupt.check()
            if deadline is not None and time.monotonic() > deadline:
                return (f"the time limit stopped it after {iterations - 1} Gauss-Newton iteration"
                        f"{'s' if iterations != 2 else ''} (raise --time-limit for the refit)")
            say(f"trajectory refit: Gauss-Newton iteration {iterations}, cost {cost:.6g}")
            J = np.asarray(jacobian(params))
            A, Q, R, PA = _off_initial_state(J, n_free)
            Pr = r - Q @ (Q.T @ r)
            dw = lstsq_on(PA, -Pr, np.ones(n_free, bool))  # column-normalised
            delta = np.concatenate([dw, np.linalg.solve(R, -(Q.T @ (r + A @ dw)))])
            step = 1.0
            for _ in range(6):
                candidate = params + step * delta
                r_new = np.asarray(residuals(candidate))
                cost_new = float(r_new @ r_new)
                if np.isfinite(cost_new) and cost_new <= cost:
                    break
                step /= 2
            else:
                break  # no step lowers the cost: at the minimum (to rounding) or stuck
            converged = cost - cost_new <= TOLERANCE * cost
            params, r, cost = candidate, r_new, cost_new
            if converged:
                break
        grid = int(np.prod(self.grid_shape))
        whitened_rms = math.sqrt(cost / max(r.size - grid - n_free, 1))
        if whitened_rms > MAX_WHITENED_RMS:
            return (f"the simulated trajectory misses the data by {whitened_rms:.2f} x the noise level "
                    f"(at most {MAX_WHITENED_RMS} allowed)")
        # The covariance at the last linearisation point: one step before the optimum, where
        # the step has converged (or the cost stopped falling), so A and P are those of the optimum
        # to first order.
        covariance = _covariance(PA, whitened_rms ** 2)
        if covariance is None:
            return "the coefficients are not identifiable from the trajectory"
        return Refinement(params[:n_free], covariance, whitened_rms, iterations, steps, 0.0)


# ------------------------------------------------------------------ few snapshots

#: Levenberg–Marquardt iterations at most per horizon of the continuation, and the relative
#: fall of the cost below which a horizon counts as converged.
LM_ITERATIONS = 150
LM_TOLERANCE = 1e-10


@dataclass
class SnapshotFit:
    """Coefficients ``(n_free,)`` fitted with the initial state through every snapshot,
    their covariance, the residual sum of squares (in the data's units) and its count, and
    the fitted (denoised) state at the last snapshot."""

    coefficients: np.ndarray
    covariance: np.ndarray
    rss: float
    n: int
    final_state: np.ndarray  # (F, *space): the fitted trajectory at the last snapshot
    fixed: int = 0  # constants inside the terms, fitted before on the same data (for the BIC)

    def bic(self) -> float:
        """Bayesian information criterion ``n log(RSS/n) + k log n``, ``k`` the fitted
        coefficients plus ``fixed`` constants fitted earlier on the same data (inside a
        term, as in ``sin(6.4*u)``); the initial state, common to every candidate, is left out."""
        k = len(self.coefficients) + self.fixed
        return self.n * math.log(max(self.rss, 1e-300) / self.n) + k * math.log(self.n)


def fit_snapshots(data: FieldData, active: list[tuple[int, lib.Term]], w0: np.ndarray,
                  known: Mapping[str, Sequence[tuple[float, lib.Term]]], steps: int,
                  deadline: float | None = None) -> SnapshotFit | None:
    """Maximum likelihood for a few snapshots (:func:`refine` for dense records): the
    coefficients and the initial state fitted by Levenberg–Marquardt, first to the first two
    snapshots, then to one more at a time from the previous solution (continuation in the
    horizon).  The continuation matters where the dynamics are unstable: at the true
    coefficients a noisy initial state can blow up (Fisher–KPP's noise below u = 0), while
    over short horizons the initial state is pulled to values that do not.  ``steps``
    ETDRK4 steps per interval.  None when no finite fit is found or the coefficients are not
    identifiable (an ill-conditioned information matrix), or when ``deadline``
    (``time.monotonic()``) passes first.  The caller checks the size (:func:`work`,
    :data:`MAX_WORK`)."""
    import jax
    import jax.numpy as jnp

    with jax.enable_x64(True):
        w0 = np.asarray(w0, dtype=float)
        fitter = _Fitter(data, _Model(data, active, known, w0), w0, np.ones(len(data.field_names)))
        n_free, nt = len(w0), data.shape[0]
        params = np.concatenate([w0, fitter.observed[0].ravel()])
        run, target = fitter._runner(steps, nt), jnp.asarray(fitter.observed)
        later = np.arange(nt).reshape((nt,) + (1,) * (target.ndim - 1))

        def residual(p, horizon):
            # snapshots from `horizon` on do not count (where() also drops their NaNs and
            # tangents: a trajectory may blow up after the horizon)
            return jnp.where(later < horizon, run(p) - target, 0.0).ravel()

        residuals, jacobian = jax.jit(residual), jax.jit(jax.jacfwd(residual))
        for horizon in range(2, nt + 1):
            r = np.asarray(residuals(params, horizon))
            cost = float(r @ r)
            if not np.isfinite(cost):
                return None
            damping = 1e-3
            for _ in range(LM_ITERATIONS):
                if deadline is not None and time.monotonic() > deadline:
                    return None
                J = np.asarray(jacobian(params, horizon))
                # Marquardt's damping in the units of each parameter: solved with H scaled
                # to a unit diagonal, so parameters of any size (data in any units) move alike
                diag = np.einsum("ij,ij->j", J, J)
                diag[~(diag > 0)] = 1.0
                S = 1.0 / np.sqrt(diag)
                H, g = (J * S).T @ (J * S), S * (J.T @ r)
                while damping < 1e12:
                    candidate = params + S * np.linalg.solve(H + damping * np.eye(len(S)), -g)
                    r_new = np.asarray(residuals(candidate, horizon))
                    with np.errstate(over="ignore", invalid="ignore"):  # a step into a blow-up
                        cost_new = float(r_new @ r_new)
                    if np.isfinite(cost_new) and cost_new < cost:
                        break
                    damping *= 4
                else:
                    break  # no damped step lowers the cost
                converged = cost - cost_new <= LM_TOLERANCE * cost
                params, r, cost, damping = candidate, r_new, cost_new, damping / 3
                if converged:
                    break
        J = np.asarray(jacobian(params, nt))  # at the optimum (the loop's is one step behind)
        dof = max(r.size - (J.shape[1] - n_free) - n_free, 1)
        covariance = _covariance(_off_initial_state(J, n_free)[3], cost / dof)
        if covariance is None:
            return None
        final_state = np.asarray(jax.jit(run)(params)[-1])
    return SnapshotFit(params[:n_free], covariance, cost, r.size, final_state)


def _off_initial_state(J: np.ndarray, n_free: int):
    """``(A, Q, R, PA)`` for ``J = [A | B]`` (coefficients | initial state): ``B = QR`` and
    ``PA = A - Q Qᵀ A``, the coefficients' columns projected off ``range(B)`` (what the
    initial state cannot absorb)."""
    A, B = J[:, :n_free], J[:, n_free:]
    Q, R = np.linalg.qr(B)
    return A, Q, R, A - Q @ (Q.T @ A)


def _covariance(PA: np.ndarray, scale: float) -> np.ndarray | None:
    """``scale (PAᵀ PA)⁻¹`` for the projected coefficient columns ``PA``
    (:func:`_off_initial_state`); None when not finite or too ill-conditioned (the
    coefficients are then not identifiable)."""
    # judged with unit columns: coefficients of very different sizes are not ill-conditioned
    norms = np.linalg.norm(PA, axis=0)
    if not np.all(np.isfinite(PA)) or not np.all(norms > 0):
        return None
    information = (PA / norms).T @ (PA / norms)  # finite: unit columns
    if np.linalg.cond(information) > 1e14:
        return None
    return np.linalg.inv(information) / np.outer(norms, norms) * scale
