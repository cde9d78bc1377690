"""Batched constant fitting: every expression of a population at once, in one compiled call.

Two fitters, chosen by the objective (a problem may override):

* :func:`levenberg_marquardt` for :class:`~search.objectives.LeastSquares`.  For
  expression ``p`` with constants ``c_p`` the model is ``m_p = a_p Φ f_p(c_p) + b_p Φ1``.
  Each iteration linearises the whole population's tape once (``jax.linearize``) and
  pushes K one-hot tangents through it, giving every expression's Jacobian
  ``J_p = Φ df_p/dc_p`` of shape ``(M, K)`` in K forward passes.  Then, per expression,

      A = Jt J + lambda diag(Jt J) + eps I,   delta = -A^-1 Jt r

  with ``J = [a J_p, Φf_p, Φ1]`` over ``[c_p, a_p, b_p]``.  The trial's loss uses the
  closed-form optimal ``a, b`` (variable projection); a step is kept where the loss
  falls, and ``lambda`` shrinks on success and grows on failure, per expression.

* :func:`derivative_free` for every other objective (minimax errors are not smooth; a
  user objective may integrate an ODE): a batched (1+S) evolution strategy.  Each
  iteration draws S Gaussian perturbations of every expression's constants (one
  ``vmap`` over S copies of the population), keeps each expression's best, and adapts
  each expression's step size (double on success, shrink otherwise).
"""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp
import numpy as np

from . import native
from .evaluate import Capacity, Evaluator, Population, _rank_within, forward
from .expression import Expr, constants, with_constants
from .operators import CONST
from .objectives import LeastSquares, Objective, row_sum


def fit_constants(evaluator: Evaluator, objective: Objective, exprs: list[Expr], iterations: int = 8,
                  capacity: Capacity | None = None, seed: int = 0) -> tuple[list[Expr], np.ndarray]:
    """Fit the constants of ``exprs`` for ``objective``; returns the updated expressions and
    their losses.  Expressions without constants are returned as they are, with their loss.

    ``iterations`` are Levenberg–Marquardt steps; the derivative-free strategy takes three
    times as many (each of its steps tries S random points, not a solved step)."""
    if getattr(objective, "least_squares", False):
        return levenberg_marquardt(evaluator, objective, exprs, iterations, capacity)
    return derivative_free(evaluator, objective, exprs, 3 * iterations, capacity, seed=seed)


def _run(evaluator: Evaluator, exprs: list[Expr], capacity, solve) -> tuple[list[Expr], np.ndarray]:
    """Plan ``exprs``, call ``solve(plan) -> (consts, losses)`` per chunk, write back."""
    fitted: list[Expr] = list(exprs)
    losses = np.empty(len(exprs))
    for index, plan in evaluator.plans(exprs, capacity):
        consts, chunk_losses = solve(plan)
        consts = np.asarray(consts, dtype=np.float64)
        losses[index] = np.asarray(chunk_losses, dtype=np.float64)[: plan.n_exprs]
        for p, i in enumerate(index):
            n = len(constants(exprs[i]))
            if n:
                fitted[i] = with_constants(exprs[i], consts[plan.const_slots[p, :n]])
    return fitted, losses


def levenberg_marquardt(evaluator: Evaluator, objective: LeastSquares, exprs: list[Expr], iterations: int = 8,
                        capacity: Capacity | None = None) -> tuple[list[Expr], np.ndarray]:
    """Batched Levenberg–Marquardt (see the module docstring).  With the native
    evaluator and a row-wise objective (no ``Φ``) it runs in float64 on the host
    (:func:`native_levenberg_marquardt`), else as one compiled JAX call."""
    if evaluator.backend == "native" and objective.phi is None:
        return native_levenberg_marquardt(evaluator, objective, exprs, iterations)

    def solve(plan):
        return _levenberg_marquardt(evaluator.leaves, objective, *plan.arrays(evaluator.dtype),
                                    jnp.asarray(plan.const_slots), layout=plan.layout, ops=evaluator.ops,
                                    iterations=iterations)
    return _run(evaluator, exprs, capacity, solve)


def _scaled_residual(g: np.ndarray, target: np.ndarray, scaling: str):
    """NumPy float64 twin of :meth:`LeastSquares.scaled_residual` for ``Φ = I`` (offset 1):
    ``(residual (P, M), a (P,), loss (P,))``, loss inf where ``g`` is not finite.  With
    ``scaling="affine"`` the ``target`` comes centred (its mean subtracted)."""
    finite = np.isfinite(g).all(axis=1)
    if not finite.all():
        g = np.where(finite[:, None], g, 0.0)
    M = g.shape[1]
    tiny = np.finfo(np.float64).tiny * 1e6 * M
    if scaling == "affine":
        gp = g - np.add.reduce(g, axis=1, keepdims=True) / M   # g.mean(axis=1), without its wrapper's cost
        tp = target
        var = np.einsum("pm,pm->p", gp, gp)
        a = np.divide(gp @ tp, var, out=np.zeros(len(g)), where=var > tiny)
        resid = a[:, None] * gp
        resid -= tp
    elif scaling == "scale":
        gg = np.einsum("pm,pm->p", g, g)
        a = np.divide(g @ target, gg, out=np.zeros(len(g)), where=gg > tiny)
        resid = a[:, None] * g
        resid -= target
    else:
        a = np.ones(len(g))
        resid = g - target
    loss = np.einsum("pm,pm->p", resid, resid) / M
    return resid, a, np.where(finite & np.isfinite(loss), loss, np.inf)


def native_levenberg_marquardt(evaluator: Evaluator, objective: LeastSquares, exprs: list[Expr],
                               iterations: int = 8) -> tuple[list[Expr], np.ndarray]:
    """Levenberg–Marquardt as in the module docstring, for every expression with constants
    at once, on the native interpreter in float64.

    The Jacobian columns are forward differences, ``(f(c + h_k e_k) - f(c)) / h_k`` with
    ``h_k = 1e-7 max(|c_k|, 1)``: the K shifted copies of the population are one
    interpreter call (the float64 values make the differences accurate to about 1e-8).
    Returns the fitted expressions and their losses under ``objective`` as the evaluator
    scores them (so they compare with every other score of the search).
    """
    code, value, start = native.flatten(exprs)
    lengths = np.diff(start)
    owner = np.repeat(np.arange(len(exprs)), lengths)
    fitted: list[Expr] = list(exprs)
    chosen = np.unique(owner[code == CONST])
    if len(chosen):
        # the sub-population with constants, as flat arrays
        keep = np.isin(owner, chosen)
        sub_code, sub_value = code[keep], value[keep]
        sub_start = np.concatenate([[0], np.cumsum(lengths[chosen])])
        nodes = np.flatnonzero(sub_code == CONST)
        sub_owner = np.repeat(np.arange(len(chosen)), np.diff(sub_start))[nodes]
        rank = _rank_within(sub_owner)
        K = int(rank.max()) + 1
        with np.errstate(all="ignore"):  # overflowing candidates are invalid, masked inside, not news
            c = _fit_flat(evaluator, objective, sub_code, sub_value, sub_start, nodes, sub_owner, rank, K, iterations)
        for j, i in enumerate(chosen):
            fitted[i] = with_constants(exprs[i], c[nodes[sub_owner == j]])
    return fitted, evaluator.losses(fitted, objective)


def _fit_flat(evaluator, objective, code, value, start, nodes, owner, rank, K, iterations) -> np.ndarray:
    """The LM iterations on a flat population (see :func:`native_levenberg_marquardt`);
    returns the value array with the fitted constants at ``nodes``."""
    P, N = len(start) - 1, len(code)
    scaling = objective.scaling
    target = np.asarray(objective.target, dtype=np.float64)
    if scaling == "affine":
        target = target - target.mean()
    real = np.zeros((P, K), dtype=bool)
    real[owner, rank] = True
    # K shifted copies of the population, copy k moving each expression's k-th constant
    shifted_code = np.tile(code, K)
    shifted_start = np.concatenate([start[:-1] + k * N for k in range(K)] + [[K * N]])
    moved = rank * N + nodes  # position of each constant in its own copy

    def values(v):
        return evaluator.native_values64(code, v, start)

    extra = {"affine": 2, "scale": 1}.get(scaling, 0)   # the columns of a and b
    on_diagonal = np.arange(K + extra)
    value = value.copy()
    g = values(value)
    resid, a, loss = _scaled_residual(g, target, scaling)
    lam = np.full(P, 1e-3)
    for _ in range(iterations):
        h = 1e-7 * np.maximum(np.abs(value[nodes]), 1.0)
        shifted = np.empty(K * N)
        shifted.reshape(K, N)[:] = value
        shifted[moved] += h
        step = np.zeros((P, K))
        step[owner, rank] = h
        dg = evaluator.native_values64(shifted_code, shifted, shifted_start).reshape(K, P, -1) - g[None]
        # Jt = [a df/dc, g, 1] transposed, (P, K + extra, M); zero where not finite
        Jt = np.empty((P, K + extra, g.shape[1]))
        np.multiply(dg.transpose(1, 0, 2), (a[:, None] / np.where(real, step, 1.0) * real)[:, :, None],
                    out=Jt[:, :K])
        if extra:
            Jt[:, K] = g
        if extra == 2:
            Jt[:, K + 1] = 1.0
        np.copyto(Jt, 0.0, where=~np.isfinite(Jt))
        if not np.isfinite(loss).all():
            Jt[~np.isfinite(loss)] = 0.0
        r = np.where(np.isfinite(resid), resid, 0.0)
        A = Jt @ Jt.transpose(0, 2, 1)    # (einsum's path for these shapes was ten times slower)
        Jtr = (Jt @ r[..., None])[..., 0]
        diag = A[:, on_diagonal, on_diagonal]
        A += 1e-30
        A[:, on_diagonal, on_diagonal] += lam[:, None] * diag + 1e-12 * (1.0 + diag)
        bad = ~(np.isfinite(A).all(axis=(1, 2)) & np.isfinite(Jtr).all(axis=1))  # overflowed: no step
        if bad.any():
            A[bad], Jtr[bad] = np.eye(K + extra), 0.0
        try:
            delta = -np.linalg.solve(A, Jtr[..., None])[..., 0]
        except np.linalg.LinAlgError:
            delta = -np.stack([np.linalg.lstsq(A_p, b_p, rcond=None)[0] for A_p, b_p in zip(A, Jtr)])
        trial = value.copy()
        trial[nodes] += np.where(np.isfinite(delta[owner, rank]), delta[owner, rank], 0.0)
        trial_g = values(trial)
        trial_resid, trial_a, trial_loss = _scaled_residual(trial_g, target, scaling)
        better = trial_loss < loss
        value[nodes] = np.where(better[owner], trial[nodes], value[nodes])
        g = np.where(better[:, None], trial_g, g)
        resid = np.where(better[:, None], trial_resid, resid)
        a = np.where(better, trial_a, a)
        loss = np.where(better, trial_loss, loss)
        lam = np.clip(np.where(better, lam * 0.3, lam * 10.0), 1e-9, 1e9)
    return value


def derivative_free(evaluator: Evaluator, objective: Objective, exprs: list[Expr], iterations: int = 24,
                    capacity: Capacity | None = None, samples: int = 8, seed: int = 0) -> tuple[list[Expr], np.ndarray]:
    """Batched (1+S) evolution strategy (see the module docstring)."""
    def solve(plan):
        key = jax.random.PRNGKey(seed)
        return _evolution_strategy(evaluator.leaves, objective, *plan.arrays(evaluator.dtype),
                                   jnp.asarray(plan.const_slots), key, layout=plan.layout, ops=evaluator.ops,
                                   iterations=iterations, samples=samples)
    return _run(evaluator, exprs, capacity, solve)


def _tangents(const_slots, n_consts, dtype):
    """(K, n_consts): tangent j is one-hot on the j-th constant of every expression at once."""
    pad = n_consts - 1
    real = const_slots != pad
    t = jnp.zeros((const_slots.shape[1], n_consts), dtype).at[
        jnp.arange(const_slots.shape[1])[:, None], const_slots.T].set(jnp.where(real.T, 1.0, 0.0).astype(dtype))
    return t.at[:, pad].set(0.0)


@partial(jax.jit, static_argnames=("layout", "ops", "iterations"))
def _levenberg_marquardt(leaves, objective, consts, children, owner, opcode, const_index, roots, const_slots, layout,
                         ops, iterations):
    n_pop, n_k = const_slots.shape
    dtype = consts.dtype
    pad = consts.shape[0] - 1
    real = const_slots != pad  # (P, K) which parameter columns exist
    scaling = objective.scaling

    def f_of(c):
        return forward(leaves, c, children, owner, opcode, const_index, roots, layout, ops)

    tangents = _tangents(const_slots, consts.shape[0], dtype)

    def loss_of(c):
        return objective.losses_of_values(f_of(c))

    def step(state, _):
        c, loss, lam = state
        f, lin = jax.linearize(f_of, c)
        jac = objective.apply(jax.vmap(lin)(tangents))  # (K, P, M)
        g = objective.apply(f)  # (P, M)
        _, a, b, _ = objective.scaled_residual(g)
        finite = jnp.isfinite(loss)
        resid = a[:, None] * g + b[:, None] * objective.offset - objective.target
        resid = jnp.where(finite[:, None] & jnp.isfinite(resid), resid, 0.0)
        cols = [jnp.moveaxis(jac, 0, -1) * a[:, None, None]]  # (P, M, K)
        if scaling in ("affine", "scale"):
            cols.append(g[..., None])
        if scaling == "affine":
            cols.append(jnp.broadcast_to(objective.offset[None, :, None], g.shape + (1,)))
        J = jnp.concatenate(cols, axis=-1)
        J = jnp.where(finite[:, None, None] & jnp.isfinite(J), J, 0.0)
        Jt = jnp.moveaxis(J, 1, -1)  # (P, K', M)
        JtJ = row_sum(Jt[:, :, None, :] * Jt[:, None, :, :])
        Jtr = row_sum(Jt * resid[:, None, :])
        diag = jnp.diagonal(JtJ, axis1=1, axis2=2)
        damp = lam[:, None] * diag + 1e-12 * (1.0 + diag)
        A = JtJ + jax.vmap(jnp.diag)(damp) + 1e-30
        delta = -jnp.linalg.solve(A, Jtr[..., None])[..., 0]
        dc = jnp.where(real, delta[:, :n_k], 0.0)
        trial = c.at[const_slots].add(dc)
        trial = trial.at[pad].set(0.0)
        trial_loss = loss_of(trial)
        better = trial_loss < loss  # (P,)
        # Accept per expression: copy trial constants only for improving expressions.
        keep = jnp.where(real, better[:, None], False)
        c = c.at[const_slots].set(jnp.where(keep, trial[const_slots], c[const_slots]))
        loss = jnp.where(better, trial_loss, loss)
        lam = jnp.where(better, lam * 0.3, lam * 10.0)
        return (c, loss, jnp.clip(lam, 1e-9, 1e9)), None

    loss0 = loss_of(consts)
    lam0 = jnp.full((n_pop,), 1e-3, dtype)
    (c, loss, _), _ = jax.lax.scan(step, (consts, loss0, lam0), None, length=iterations)
    return c, loss


@partial(jax.jit, static_argnames=("layout", "ops", "iterations", "samples"))
def _evolution_strategy(leaves, objective, consts, children, owner, opcode, const_index, roots, const_slots, key,
                        layout, ops, iterations, samples):
    n_pop, n_k = const_slots.shape
    dtype = consts.dtype
    pad = consts.shape[0] - 1
    real = const_slots != pad

    def loss_of(c):
        return objective.losses(Population(c, children, owner, opcode, const_index, roots, layout, ops), leaves)

    def step(state, key):
        c, loss, sigma = state
        mine = c[const_slots]  # (P, K)
        noise = jax.random.normal(key, (samples,) + mine.shape, dtype)
        scale = sigma[None, :, None] * (jnp.abs(mine)[None] + 1e-3)
        trials = jnp.where(real[None], mine[None] + scale * noise, mine[None])  # (S, P, K)
        full = jax.vmap(lambda t: c.at[const_slots].set(t).at[pad].set(0.0))(trials)
        trial_loss = jax.vmap(loss_of)(full)  # (S, P)
        best = jnp.argmin(trial_loss, axis=0)
        best_loss = jnp.take_along_axis(trial_loss, best[None], axis=0)[0]
        better = best_loss < loss
        chosen = jnp.take_along_axis(trials, best[None, :, None], axis=0)[0]
        c = c.at[const_slots].set(jnp.where(real & better[:, None], chosen, mine)).at[pad].set(0.0)
        loss = jnp.where(better, best_loss, loss)
        sigma = jnp.clip(jnp.where(better, sigma * 1.5, sigma * 0.7), 1e-7, 2.0)
        return (c, loss, sigma), None

    loss0 = loss_of(consts)
    sigma0 = jnp.full((n_pop,), 0.1, dtype)
    (c, loss, _), _ = jax.lax.scan(step, (consts, loss0, sigma0), jax.random.split(key, iterations))
    return c, loss
