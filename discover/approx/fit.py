"""Constants of a straight-line program fitted for the smallest maximum relative error.

``min_c max_i |w_i (P(x_i; c) - y_i)|`` is not smooth, so it is approached by Lawson's
iteration: weighted least squares ``min sum_i l_i r_i**2`` (one Levenberg-Marquardt step
on the program's float64 value and its forward-mode Jacobian in the constants), then
``l_i <- l_i |r_i|`` (normalised), which moves the weight onto the points of largest
error; for linear problems it converges to the minimax solution. The best maximum seen
is kept. Programs whose value is NaN or infinite at a point (a division by zero, an
overflow) get an infinite error: that is part of normal search.
"""

from __future__ import annotations

import numpy as np

from .program import SLP, constant_ids, evaluate_jacobian, with_constants

__all__ = ["fit_constants", "max_error"]


def max_error(slp: SLP, x: np.ndarray, y: np.ndarray, w: np.ndarray, values=None) -> float:
    v, _ = evaluate_jacobian(slp, x, values) if values is not None else evaluate_jacobian(slp, x)
    with np.errstate(all="ignore"):
        e = np.max(np.abs(w * (v - y)))
    return float(e) if np.isfinite(e) else np.inf


def fit_constants(slp: SLP, x: np.ndarray, y: np.ndarray, w: np.ndarray,
                  iterations: int = 40) -> tuple[SLP, float]:
    """The program with fitted constants (rounded to its dtype) and its max weighted error
    on the points (real reading, before rounding)."""
    cids = constant_ids(slp)
    c = np.array([slp.instrs[k].value for k in cids], dtype=np.float64)
    if not cids:
        return slp, max_error(slp, x, y, w)
    with np.errstate(all="ignore"):  # overflowing candidates are normal; they score inf
        best_c, best_e = _lawson_lm(slp, x, y, w, c, iterations)
    return with_constants(slp, best_c), best_e


def _lawson_lm(slp, x, y, w, c, iterations):
    """Lawson-weighted Levenberg-Marquardt from constants ``c``: the best (c, max error)."""
    best_c, best_e = c.copy(), np.inf
    lawson = np.full(x.size, 1.0 / x.size)
    mu = 1e-3
    for _ in range(iterations):
        v, J = evaluate_jacobian(slp, x, c)
        r = w * (v - y)
        if not (np.all(np.isfinite(r)) and np.all(np.isfinite(J))):
            if not np.isfinite(best_e):
                return best_c, np.inf
            c, mu = best_c.copy(), mu * 10
            continue
        e = float(np.max(np.abs(r)))
        if e < best_e:
            best_c, best_e = c.copy(), e
        sq = np.sqrt(lawson)
        A = (w[:, None] * J) * sq[:, None]
        b = r * sq
        # Levenberg-Marquardt step, scaled by the columns' norms
        norms = np.linalg.norm(A, axis=0)
        norms[norms == 0] = 1.0
        As = A / norms
        m = As.shape[1]
        lhs = np.vstack([As, np.sqrt(mu) * np.eye(m)])
        rhs = np.concatenate([b, np.zeros(m)])
        try:
            step, *_ = np.linalg.lstsq(lhs, rhs, rcond=None)
        except np.linalg.LinAlgError:
            break
        c_new = c - step / norms
        v_new, _ = evaluate_jacobian(slp, x, c_new)
        r_new = w * (v_new - y)
        if np.all(np.isfinite(r_new)) and np.sum(lawson * r_new**2) <= np.sum(lawson * r**2):
            c, mu = c_new, max(mu / 3, 1e-12)
            lawson = lawson * np.abs(r_new) + 1e-300
            lawson /= lawson.sum()
        else:
            mu *= 4
            if mu > 1e8:
                break
    v, _ = evaluate_jacobian(slp, x, c)
    e = float(np.max(np.abs(w * (v - y))))
    if np.isfinite(e) and e < best_e:
        best_c, best_e = c, e
    return best_c, best_e
