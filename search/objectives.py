"""Objectives: from a population's values to one loss per candidate, in JAX.

An objective is a JAX pytree (its arrays are traced, its settings static), so one
compiled evaluator call serves every objective of the same kind and shape.  Its method
``losses(population, leaves) -> (P,)`` receives the population as a function of the
leaves (:class:`search.evaluate.Population`); most objectives just call it once and
score the values ``f`` of shape ``(P, R)``.  Every loss is ``inf`` where the candidate
produced NaN or inf.  ``baseline()`` is the loss of the best constant model, which
normalizes the loss for the search's parsimony and stopping tolerance.

Shipped (the problem kinds of the design):

* :class:`LeastSquares` — ``mean((a Φf + b Φ1 - t)^2)`` with the optimal scaling ``a, b``
  in closed form (or ``a`` only, or neither), where ``Φ`` is the identity (tabular
  regression), a dense ``(M, R)`` matrix or a ``jax.experimental.sparse.BCOO`` matrix
  (weak-form residuals).  Constants are fitted by Levenberg–Marquardt.
* :class:`Minimax` — ``max_r w_r |f_r - t_r|``: maximum absolute, relative or ULP error
  (weights 1, ``1/|t|`` or ``1/ulp(t)`` of a float format).  Not smooth: constants are
  fitted derivative-free.
* :class:`Custom` — a user function ``loss(population, leaves, data) -> (P,)`` that may
  call the population any number of times, e.g. inside ``jax.lax.scan`` to integrate an
  ODE with every candidate as its right-hand side.

Row sums use a fixed pairwise order (:func:`row_sum`), so a candidate's loss does not
depend on which other candidates share its call: the search's path never depends on
how populations are batched.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import jax
import jax.numpy as jnp
import numpy as np

SCALINGS = ("affine", "scale", "none")


def row_sum(x):
    """Sum over the last axis in a fixed pairwise order, independent of the other axes'
    sizes (XLA's reductions may order additions by the batch shape)."""
    n = x.shape[-1]
    size = 1
    while size < n:
        size *= 2
    if size != n:
        x = jnp.concatenate([x, jnp.zeros(x.shape[:-1] + (size - n,), x.dtype)], axis=-1)
    while x.shape[-1] > 1:
        half = x.shape[-1] // 2
        x = x[..., :half] + x[..., half:]
    return x[..., 0]


def _finite_rows(f):
    """``(f with non-finite candidates zeroed, finite mask (P,))``."""
    finite = jnp.all(jnp.isfinite(f), axis=-1)
    return jnp.where(finite[:, None], f, 0.0), finite


class Objective:
    """Base class: ``losses(population, leaves)`` and ``baseline()``."""

    least_squares = False  # True when the constants fitter may use residuals (Levenberg–Marquardt)

    def losses(self, population, leaves):
        return self.losses_of_values(population(leaves))

    def losses_of_values(self, f):
        raise NotImplementedError

    def baseline(self) -> float:
        return 1.0

    def restrict(self, rows: np.ndarray) -> "Objective | None":
        """The same objective on a subset of the leaves' rows (for cheaper constant
        fitting), or None when it does not decompose over rows."""
        return None


def _pytree(data_fields, meta_fields):
    """Register a frozen dataclass as a pytree: ``data_fields`` traced, ``meta_fields`` static."""
    def register(cls):
        return jax.tree_util.register_dataclass(cls, data_fields=list(data_fields), meta_fields=list(meta_fields))
    return register


@_pytree(("target", "phi", "offset"), ("scaling",))
@dataclass(frozen=True)
class LeastSquares(Objective):
    """``min_{a,b} mean((a Φf + b c - t)^2)`` with ``c = Φ 1``.

    target: (M,) the vector ``t``;  phi: None (identity, M = R), a dense (M, R) array or a
    BCOO sparse matrix;  offset: (M,) ``c = Φ 1``;  scaling: ``"affine"`` (a and b free),
    ``"scale"`` (b = 0) or ``"none"`` (a = 1, b = 0).
    """

    target: Any
    phi: Any = None
    offset: Any = None
    scaling: str = "affine"

    least_squares = True

    @staticmethod
    def of(target, phi=None, scaling: str = "affine", dtype=jnp.float32) -> "LeastSquares":
        """Build from host arrays: ``target (M,)`` and ``phi`` None, ``(M, R)`` or BCOO."""
        if scaling not in SCALINGS:
            raise ValueError(f"scaling must be one of {SCALINGS}, not {scaling!r}")
        target = np.asarray(target, dtype=np.float64)
        if phi is None:
            offset = np.ones_like(target)
        else:
            sparse = hasattr(phi, "indices")  # jax.experimental.sparse.BCOO
            if not sparse:
                phi = np.asarray(phi, dtype=np.float64)
            if len(phi.shape) != 2 or phi.shape[0] != target.shape[0]:
                raise ValueError(f"phi must have shape ({target.shape[0]}, R) to match the target, got {phi.shape}")
            if sparse:
                phi = phi.astype(dtype)
                offset = np.asarray(phi @ jnp.ones(phi.shape[1], dtype), dtype=np.float64)
            else:
                offset = phi @ np.ones(phi.shape[1])
                phi = jnp.asarray(phi, dtype)
        return LeastSquares(jnp.asarray(target, dtype), phi, jnp.asarray(offset, dtype), scaling)

    def restrict(self, rows: np.ndarray) -> "LeastSquares | None":
        if self.phi is not None:
            return None
        return LeastSquares(self.target[rows], None, self.offset[rows], self.scaling)

    def apply(self, f):
        """``Φ f`` for values ``f (..., R)`` -> ``(..., M)``."""
        if self.phi is None:
            return f
        lead = f.shape[:-1]
        flat = f.reshape(-1, f.shape[-1])
        return (self.phi @ flat.T).T.reshape(lead + (self.phi.shape[0],))

    def scaled_residual(self, g):
        """For mapped values ``g (P, M)``: ``(residual (P, M), a (P,), b (P,), finite (P,))``
        at the optimal scaling, computed without cancellation (the offset direction is
        projected out first, as centering does for ``c = 1``)."""
        g, finite = _finite_rows(g)
        t = self.target
        P = g.shape[0]
        if self.scaling == "affine":
            c = self.offset
            cc = jnp.sum(c * c)
            cc = jnp.where(cc > 0, cc, 1.0)
            gc = row_sum(g * c) / cc  # (P,) projection coefficients on c
            tc = jnp.sum(t * c) / cc
            gp = g - gc[:, None] * c
            tp = t - tc * c
            var = row_sum(gp * gp)
            cov = row_sum(gp * tp)
            # no scale where what is left of g after the offset's projection is rounding
            # (a constant candidate under a map: Φ(2·1) = 2Φ1 up to the matmul's rounding,
            # whose noise the scale would otherwise fit); besides the absolute floor
            info = jnp.finfo(g.dtype)
            tiny = info.tiny * 1e6 * g.shape[1]
            shaped = (var > tiny) & (var > (64 * info.eps) ** 2 * row_sum(g * g))
            a = jnp.where(shaped, cov / jnp.where(shaped, var, 1.0), 0.0)
            b = tc - a * gc
            resid = a[:, None] * gp - tp
        elif self.scaling == "scale":
            gg = row_sum(g * g)
            tiny = jnp.finfo(g.dtype).tiny * 1e6 * g.shape[1]
            a = jnp.where(gg > tiny, row_sum(g * t) / jnp.where(gg > tiny, gg, 1.0), 0.0)
            b = jnp.zeros(P, g.dtype)
            resid = a[:, None] * g - t
        else:
            a = jnp.ones(P, g.dtype)
            b = jnp.zeros(P, g.dtype)
            resid = g - t
        return resid, a, b, finite

    def losses_of_values(self, f):
        resid, _, _, finite = self.scaled_residual(self.apply(f))
        loss = row_sum(resid * resid) / resid.shape[1]
        return jnp.where(finite & jnp.isfinite(loss), loss, jnp.inf)

    def baseline(self) -> float:
        """The loss of the zero candidate after scaling: ``mean(t_perp^2)``."""
        t = np.asarray(self.target, dtype=np.float64)
        if self.scaling == "affine":
            c = np.asarray(self.offset, dtype=np.float64)
            cc = float(c @ c)
            if cc > 0:
                t = t - (t @ c) / cc * c
        value = float(np.mean(t * t))
        return value if value > 0 else 1.0


@_pytree(("target", "weight"), ())
@dataclass(frozen=True)
class Minimax(Objective):
    """``max_r weight_r |f_r - target_r|``: the worst error over the rows.

    Build with :meth:`absolute`, :meth:`relative` or :meth:`ulp`.
    """

    target: Any
    weight: Any

    @staticmethod
    def absolute(target, dtype=jnp.float32) -> "Minimax":
        target = np.asarray(target, dtype=np.float64)
        return Minimax(jnp.asarray(target, dtype), jnp.ones(target.shape, dtype))

    @staticmethod
    def relative(target, dtype=jnp.float32) -> "Minimax":
        target = np.asarray(target, dtype=np.float64)
        if np.any(target == 0):
            raise ValueError("relative error is undefined where the target is 0")
        return Minimax(jnp.asarray(target, dtype), jnp.asarray(1.0 / np.abs(target), dtype))

    @staticmethod
    def ulp(target, fmt: str = "float32", dtype=jnp.float32) -> "Minimax":
        """Error in units in the last place of ``fmt`` at the (exact) target value."""
        target = np.asarray(target, dtype=np.float64)
        return Minimax(jnp.asarray(target, dtype), jnp.asarray(1.0 / ulp(target, fmt), dtype))

    def losses_of_values(self, f):
        f, finite = _finite_rows(f)
        err = jnp.max(jnp.abs(f - self.target) * self.weight, axis=-1)
        return jnp.where(finite & jnp.isfinite(err), err, jnp.inf)

    def baseline(self) -> float:
        value = float(np.max(np.abs(np.asarray(self.target, np.float64)) * np.asarray(self.weight, np.float64)))
        return value if value > 0 else 1.0


def ulp(x: np.ndarray, fmt: str = "float32") -> np.ndarray:
    """The unit in the last place of the float format ``fmt`` at each (real) ``x``:
    ``2^(floor(log2 |x|) - p + 1)`` with ``p`` the format's precision, never below the
    smallest subnormal."""
    info = np.finfo(np.dtype(fmt))
    x = np.abs(np.asarray(x, dtype=np.float64))
    exponent = np.floor(np.log2(np.maximum(x, float(info.smallest_normal))))
    return np.maximum(np.exp2(exponent - info.nmant), float(info.smallest_subnormal))


@_pytree(("data",), ("fn", "baseline_value"))
@dataclass(frozen=True)
class Custom(Objective):
    """A user objective: ``fn(population, leaves, data) -> (P,)`` losses.

    ``population(leaves)`` gives the values ``(P, R)`` for leaves ``(n_leaves, R)`` or
    per-candidate leaves ``(P, n_leaves, R)`` (``population.size`` is P); ``data`` is any
    pytree of arrays (traced, so new data does not recompile).  Non-finite losses count
    as invalid.  ``baseline_value`` normalizes the loss (default 1).
    """

    fn: Callable = None
    data: Any = None
    baseline_value: float = 1.0

    def losses(self, population, leaves):
        loss = jnp.asarray(self.fn(population, leaves, self.data))
        return jnp.where(jnp.isfinite(loss), loss, jnp.inf)

    def baseline(self) -> float:
        return float(self.baseline_value)
