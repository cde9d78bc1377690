"""Batched constant fitting: Levenberg–Marquardt on every expression at once.

For expression ``p`` with constants ``c_p`` (K_p of them, padded to K) the model is
``m_p = a_p f_p(X; c_p) + b_p`` (``a = 1, b = 0`` fixed without linear scaling).  Each
iteration linearises the whole population's tape once (``jax.linearize``) and pushes K
one-hot tangents through it, giving every expression's Jacobian
``J_p = d f_p / d c_p`` of shape ``(R, K)`` in K forward passes.  Then, per expression,

    A = Jt J + lambda diag(Jt J) + eps I,   delta = -A^-1 Jt r

with ``J = [a J_p, f_p, 1]`` over the parameters ``[c_p, a_p, b_p]``.  The trial's loss
uses the closed-form optimal ``a, b`` (variable projection); a step is kept where the loss
falls, and ``lambda`` shrinks on success and grows on failure, per expression.
Expressions are independent, so all of this is one compiled call.
"""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp
import numpy as np

from .evaluate import Capacity, Evaluator, forward, positions, scaled_mse
from .expression import Expr, with_constants
from .operators import CONST


def fit_constants(evaluator: Evaluator, exprs: list[Expr], iterations: int = 8,
                  capacity: Capacity | None = None) -> tuple[list[Expr], np.ndarray]:
    """Fit the constants of ``exprs``; returns the updated expressions and their losses.

    Expressions without constants are returned as they are, with their loss.
    """
    fitted: list[Expr] = list(exprs)
    losses = np.empty(len(exprs))
    for where, plan in evaluator.plans(exprs, capacity):
        index = positions(where, plan)
        consts, chunk_losses = _levenberg_marquardt(
            evaluator.X_rows, evaluator.y, *plan.arrays(evaluator.dtype), jnp.asarray(plan.const_slots),
            layout=plan.layout, linear_scaling=evaluator.linear_scaling, iterations=iterations,
        )
        consts = np.asarray(consts, dtype=np.float64)
        losses[index] = np.asarray(chunk_losses, dtype=np.float64)[: plan.n_exprs]
        for p, i in enumerate(index):
            n = sum(1 for code, _ in exprs[i] if code == CONST)
            if n:
                fitted[i] = with_constants(exprs[i], consts[plan.const_slots[p, :n]])
    return fitted, losses


@partial(jax.jit, static_argnames=("layout", "linear_scaling", "iterations"))
def _levenberg_marquardt(X_rows, y, consts, first_child, second_child, const_index, roots, const_slots, layout,
                         linear_scaling, iterations):
    n_pop, n_k = const_slots.shape
    dtype = consts.dtype
    pad = consts.shape[0] - 1
    real = const_slots != pad  # (P, K) which parameter columns exist

    def f_of(c):
        return forward(X_rows, c, first_child, second_child, const_index, roots, layout)

    # Tangent j is one-hot on the j-th constant of every expression at once.
    tangents = jnp.zeros((n_k, consts.shape[0]), dtype).at[
        jnp.arange(n_k)[:, None], const_slots.T].set(jnp.where(real.T, 1.0, 0.0).astype(dtype))
    tangents = tangents.at[:, pad].set(0.0)

    def loss_of(c):
        return scaled_mse(f_of(c), y, linear_scaling)

    def step(state, _):
        c, loss, lam = state
        f, lin = jax.linearize(f_of, c)
        jac = jax.vmap(lin)(tangents)  # (K, P, R)
        _, a, b = scaled_mse(f, y, linear_scaling)
        finite = jnp.isfinite(loss)
        resid = jnp.where(finite[:, None], a[:, None] * f + b[:, None] - y, 0.0)
        cols = [jnp.moveaxis(jac, 0, -1) * a[:, None, None]]  # (P, R, K)
        if linear_scaling:
            cols += [f[..., None], jnp.ones_like(f)[..., None]]
        J = jnp.concatenate(cols, axis=-1)
        J = jnp.where(finite[:, None, None] & jnp.isfinite(J), J, 0.0)
        JtJ = jnp.einsum("prk,prl->pkl", J, J)
        Jtr = jnp.einsum("prk,pr->pk", J, resid)
        diag = jnp.diagonal(JtJ, axis1=1, axis2=2)
        damp = lam[:, None] * diag + 1e-12 * (1.0 + diag)
        A = JtJ + jax.vmap(jnp.diag)(damp) + 1e-30
        delta = -jnp.linalg.solve(A, Jtr[..., None])[..., 0]
        dc = jnp.where(real, delta[:, :n_k], 0.0)
        trial = c.at[const_slots].add(jnp.where(real, dc, 0.0))
        trial = trial.at[pad].set(0.0)
        trial_loss = loss_of(trial)[0]
        better = trial_loss < loss  # (P,)
        # Accept per expression: copy trial constants only for improving expressions.
        keep = jnp.where(real, better[:, None], False)
        c = c.at[const_slots].set(jnp.where(keep, trial[const_slots], c[const_slots]))
        loss = jnp.where(better, trial_loss, loss)
        lam = jnp.where(better, lam * 0.3, lam * 10.0)
        return (c, loss, jnp.clip(lam, 1e-9, 1e9)), None

    loss0 = loss_of(consts)[0]
    lam0 = jnp.full((n_pop,), 1e-3, dtype)
    (c, loss, _), _ = jax.lax.scan(step, (consts, loss0, lam0), None, length=iterations)
    return c, loss
