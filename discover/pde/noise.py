"""The noise level of field data, and polynomial terms corrected for it.

**Estimate.**  For a smooth signal sampled finely, the ``k``-th forward difference
``Δ^k u = h^k u^(k) + ...`` is tiny, while for white noise of standard deviation ``σ``
it has variance ``C(2k, k) σ²``.  So ``σ ≈ MAD(Δ^k u) / 0.6745 / sqrt(C(2k, k))``
(median absolute deviation: robust to the few places the signal is rough).  Taken along
every axis, the smallest estimate wins (the signal can only add to it).

**Bias.**  With ``ũ = u + ε``, ``ε ~ N(0, σ²)``, the mean of ``ũⁿ`` is not ``uⁿ``
(``E ũ² = u² + σ²``, ``E ũ³ = u³ + 3σ² u``), so a regression on noisy monomials is
biased (a noisy ``u³`` term leaks into ``u``).  The probabilists' Hermite polynomials
``He_n(ũ; σ²)`` (``He_0 = 1``, ``He_1 = ũ``, ``He_{n+1} = ũ He_n - n σ² He_{n-1}``)
have ``E He_n(ũ; σ²) = uⁿ``: they replace the monomials of the library, independently per
field (the fields' noises are independent).
"""

from __future__ import annotations

from math import comb

import numpy as np
import sympy

DIFFERENCE_ORDER = 6
MAD_TO_STD = 1.0 / 0.6744897501960817


def noise_std(u: np.ndarray) -> float:
    """Estimated standard deviation of additive white noise in ``u`` (any shape)."""
    u = np.asarray(u, dtype=np.float64)
    k = DIFFERENCE_ORDER
    estimates = []
    for axis in range(u.ndim):
        if u.shape[axis] <= 2 * k:
            continue
        d = np.diff(u, n=k, axis=axis)
        mad = np.median(np.abs(d - np.median(d)))
        estimates.append(mad * MAD_TO_STD / np.sqrt(comb(2 * k, k)))
    return float(min(estimates)) if estimates else 0.0


#: Below this level relative to the field's RMS the "noise" is the signal's own roughness.
CLEAN_RELATIVE = 1e-6


def field_noise(fields: dict[str, np.ndarray]) -> tuple[dict[str, float], bool]:
    """Per-field noise estimates (:func:`noise_std`) and whether the data counts as clean
    (every field's estimate below :data:`CLEAN_RELATIVE` of its RMS)."""
    noise = {f: noise_std(u) for f, u in fields.items()}
    clean = max(s / max(float(np.sqrt(np.mean(np.square(fields[f])))), 1e-300) for f, s in noise.items()) < CLEAN_RELATIVE
    return noise, clean


def hermite(n: int, x: sympy.Expr, variance: float) -> sympy.Expr:
    """``He_n(x; variance)``: the unbiased stand-in for ``x**n`` under Gaussian noise."""
    previous, current = sympy.Integer(1), x
    if n == 0:
        return previous
    for k in range(1, n):
        previous, current = current, sympy.expand(x * current - k * variance * previous)
    return current


def debiased(expr: sympy.Expr, variances: dict[sympy.Symbol, float]) -> sympy.Expr:
    """``expr`` with every monomial of the noisy symbols replaced by its Hermite form; a
    non-polynomial expression is returned unchanged."""
    symbols = [s for s in variances if s in expr.free_symbols and variances[s] > 0]
    if not symbols:
        return expr
    try:
        poly = sympy.Poly(expr, *symbols)
    except sympy.PolynomialError:
        return expr
    total = sympy.Integer(0)
    for powers, coeff in poly.terms():
        term = coeff
        for s, n in zip(symbols, powers):
            term *= hermite(n, s, variances[s])
        total += term
    return sympy.expand(total)
