"""Vectorizable float32 sin, cos, tan and asin for the evaluator.

XLA's CPU backend computes ``jnp.sin``/``cos``/``tan``/``arcsin`` about ten times slower
than ``exp``/``log`` (roughly 5e7 against 1e9 elements/s on this machine), which made
them the evaluator's bottleneck.  These are plain arithmetic (Cody–Waite reduction by
pi/2 in three parts, then Cephes' single-precision minimax polynomials), which XLA
vectorizes.  Accuracy: a few float32 ULP for ``|x| < 1e4``, degrading slowly beyond; for
``|x| > 2**16`` the result is NaN, so such a candidate scores as invalid.  The limit keeps
``k * pi/2``'s leading part (8 bits) times ``k`` (at most 16 bits) exact in float32 on
every backend: XLA-GPU does not contract it into an FMA, and without one a larger ``k``
loses the whole reduction (sin(1e6) came out 0.03 wrong on an H100).  The search only
needs scores; the final front is refit with NumPy in float64.
Non-float32 inputs use the exact ``jnp`` functions.
"""

from __future__ import annotations

import math

import jax.numpy as jnp

from .operators import TRIG_RANGE

_TWO_OVER_PI = 2.0 / math.pi
_PIO2 = (1.5703125, 4.837512969970703125e-4, 7.54978995489188216e-8)
_SIN = (-1.6666654611e-1, 8.3321608736e-3, -1.9515295891e-4)
_COS = (4.166664568298827e-2, -1.388731625493765e-3, 2.443315711809948e-5)
_ASIN = (4.2163199048e-2, 2.4181311049e-2, 4.5470025998e-2, 7.4953002686e-2, 1.6666752422e-1)


_LIMIT = TRIG_RANGE


def _reduce(x):
    """``x = k pi/2 + r`` with ``|r| <= pi/4``; returns ``(r, k mod 4)``; NaN past 2**16."""
    x = jnp.where(jnp.abs(x) <= _LIMIT, x, jnp.nan)
    k = jnp.round(x * _TWO_OVER_PI)
    r = ((x - k * _PIO2[0]) - k * _PIO2[1]) - k * _PIO2[2]
    return r, jnp.mod(k, 4.0)


def _sin_cos_poly(r):
    z = r * r
    s = r + r * z * (_SIN[0] + z * (_SIN[1] + z * _SIN[2]))
    c = 1.0 - 0.5 * z + z * z * (_COS[0] + z * (_COS[1] + z * _COS[2]))
    return s, c


def sin(x):
    if x.dtype != jnp.float32:
        return jnp.sin(x)
    r, q = _reduce(x)
    s, c = _sin_cos_poly(r)
    return jnp.where(q == 0, s, jnp.where(q == 1, c, jnp.where(q == 2, -s, -c)))


def cos(x):
    if x.dtype != jnp.float32:
        return jnp.cos(x)
    r, q = _reduce(x)
    s, c = _sin_cos_poly(r)
    return jnp.where(q == 0, c, jnp.where(q == 1, -s, jnp.where(q == 2, -c, s)))


def tan(x):
    if x.dtype != jnp.float32:
        return jnp.tan(x)
    r, q = _reduce(x)
    s, c = _sin_cos_poly(r)
    odd = (q == 1) | (q == 3)
    return jnp.where(odd, -c / s, s / c)


def asin(x):
    if x.dtype != jnp.float32:
        return jnp.arcsin(x)
    a = jnp.abs(x)
    big = a > 0.5
    z = jnp.where(big, 0.5 * (1.0 - a), a * a)
    s = jnp.where(big, jnp.sqrt(z), a)  # NaN for |x| > 1, as it should be
    p = z * (_ASIN[4] + z * (_ASIN[3] + z * (_ASIN[2] + z * (_ASIN[1] + z * _ASIN[0]))))
    p = s + s * p
    p = jnp.where(big, math.pi / 2 - 2.0 * p, p)
    return jnp.copysign(p, x)
