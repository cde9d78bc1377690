"""Correctly rounded fused multiply-add on NumPy arrays (NumPy has no ``fma``).

``fma(a, b, c)`` returns ``RN(a*b + c)``, rounded once, in the operands' dtype (float32 or
float64), bit-identical to the ``llvm.fma`` intrinsic the compiled kernels use. It is the
NumPy reference of the ``fma`` operation of :data:`codegen.ops.OPS` and the evaluator of
straight-line programs in :mod:`discover.approx`.

The maths (Boldo and Melquiond, "Emulation of FMA and correctly rounded sums: proved
algorithms using rounding to odd", IEEE TC 2008):

* float32: the product of two floats is exact in float64 (24 + 24 <= 53 bits); the sum
  ``p + c`` is then rounded *to odd* in float64 (round to nearest, and where that was
  inexact and gave an even significand, step to the neighbour towards the exact value);
  rounding a round-to-odd float64 once more to float32 is the correct rounding of the
  exact value, because 53 >= 24 + 2.
* float64: ``a*b = uh + ul`` exactly (Dekker's product with Veltkamp's split), ``c + uh =
  th + tl`` exactly (Knuth's TwoSum); ``v = RO(tl + ul)`` (round to odd); the result is
  ``RN(th + v)``. Exact unless an intermediate overflows or a product underflows (then
  the error is that of the underflowed part; the inputs of function approximations stay
  far from both).
"""

from __future__ import annotations

import numpy as np

__all__ = ["fma", "fma_jax", "getmant", "ldexp", "logb", "lut16", "lut16_jax", "scalef", "significand"]

_SPLIT = 134217729.0  # 2**27 + 1, Veltkamp's splitter for binary64


def _two_sum(a, b):
    s = a + b
    bb = s - a
    return s, (a - (s - bb)) + (b - bb)


def _round_to_odd_sum(a, b):
    """``RO(a + b)`` in float64: round to nearest, then fix even inexact results."""
    s, err = _two_sum(a, b)
    even = (s.view(np.int64) & 1) == 0
    fix = (err != 0) & even & np.isfinite(s)
    if np.any(fix):
        s = np.where(fix, np.nextafter(s, np.where(err > 0, np.inf, -np.inf)), s)
    return s


def _two_product(a, b):
    """``a*b = p + err`` exactly (Dekker). Operands above 2**900 are scaled by 2**-64 first
    (and the pair scaled back), so that Veltkamp's split cannot overflow."""
    big_a = np.isfinite(a) & (np.abs(a) > 2.0**900)
    big_b = np.isfinite(b) & (np.abs(b) > 2.0**900)
    if np.any(big_a | big_b):
        a = np.where(big_a, a * 2.0**-64, a)
        b = np.where(big_b, b * 2.0**-64, b)
        p, err = _two_product(a, b)
        scale = np.exp2(64.0 * (big_a.astype(np.int64) + big_b.astype(np.int64)))
        with np.errstate(over="ignore", invalid="ignore"):
            return p * scale, np.where(np.isfinite(p * scale), err * scale, 0.0)
    p = a * b
    with np.errstate(over="ignore", invalid="ignore"):
        ah = a * _SPLIT
        ah = ah - (ah - a)
        al = a - ah
        bh = b * _SPLIT
        bh = bh - (bh - b)
        bl = b - bh
        err = ((ah * bh - p) + ah * bl + al * bh) + al * bl
    return p, np.where(np.isfinite(p), err, 0.0)


def fma(a, b, c):
    """``a*b + c`` with one rounding, element-wise; float32 or float64 arrays or scalars."""
    a, b, c = np.broadcast_arrays(np.asarray(a), np.asarray(b), np.asarray(c))
    dtype, shape = np.result_type(a, b, c), np.shape(a)
    with np.errstate(all="ignore"):
        if dtype == np.float32:
            p = a.astype(np.float64) * b.astype(np.float64)
            s = _round_to_odd_sum(np.atleast_1d(p), np.atleast_1d(c.astype(np.float64)))
            out = s.astype(np.float32)
        elif dtype == np.float64:
            a, b, c = (np.atleast_1d(v).astype(np.float64) for v in (a, b, c))
            uh, ul = _two_product(a, b)
            th, tl = _two_sum(c, uh)
            v = _round_to_odd_sum(tl, ul)
            out = th + v
            # infinities and NaN: the plain expression has the IEEE answer
            special = ~np.isfinite(uh) | ~np.isfinite(c) | ~np.isfinite(th)
            # (a finite product plus an infinite c is c: the exact product never overflows)
            plain = np.where(np.isinf(c) & np.isfinite(a) & np.isfinite(b), c, a * b + c)
            out = np.where(special, plain, out)
        else:
            raise TypeError(f"fma supports float32 and float64, not {dtype}")
    return out.reshape(shape) if shape else out[0]


def fma_jax(a, b, c):
    """The JAX form of ``fma``: ``a*b + c`` (XLA has no fused multiply-add primitive, so
    this rounds twice; exported JAX functions are not bit-exact on programs with fma)."""
    return a * b + c


def ldexp(x, k):
    """``x * 2**k`` rounded once (C ``ldexp``), ``k`` an integer-valued float clamped to
    ``[-2 (bias - 1), 2 bias]`` (NaN as the lower bound): the kernels' ``ldexp``
    (:mod:`codegen.bits`)."""
    x = np.asarray(x)
    bias = np.finfo(x.dtype).maxexp - 1
    k = np.nan_to_num(np.asarray(k, dtype=np.float64), nan=-2.0 * (bias - 1))
    k = np.clip(k, -2 * (bias - 1), 2 * bias).astype(np.int32)
    with np.errstate(all="ignore"):
        return np.ldexp(x, k).astype(x.dtype)


#: beyond this ``|floor(k)|`` every finite nonzero ``x * 2**k`` has overflowed or rounded
#: to zero in either precision (``2**-1075`` is below half the smallest double)
SCALEF_LIMIT = 4096


def scalef(x, k):
    """``x * 2**floor(k)`` rounded once, for every float ``k``; NaN ``k``: NaN; ``k = +inf``:
    ``x * inf``, ``k = -inf``: ``x * 0``, except that a quiet NaN ``x`` gives ``+inf`` and
    ``+0`` there (x86's table for ``vscalefps/pd``; the kernels' ``scalef``,
    :mod:`codegen.bits`)."""
    x = np.asarray(x)
    k = np.asarray(k, dtype=x.dtype)
    ity = {4: np.uint32, 8: np.uint64}[x.dtype.itemsize]
    quiet = np.isnan(x) & ((np.ascontiguousarray(x).view(ity).reshape(x.shape) >> ity(np.finfo(x.dtype).nmant - 1))
                           & ity(1)).astype(bool)
    with np.errstate(all="ignore"):
        n = np.clip(np.nan_to_num(np.floor(k), nan=0.0, posinf=0.0, neginf=0.0),
                    -SCALEF_LIMIT, SCALEF_LIMIT)
        out = np.ldexp(x, n.astype(np.int32)).astype(x.dtype)
        out = np.where(k == np.inf, np.where(quiet, np.inf, x * k), out)
        out = np.where(k == -np.inf, np.where(quiet, 0.0, x * x.dtype.type(0)), out)
        return np.where(np.isnan(k), x + k, out).astype(x.dtype)


def logb(x):
    """``floor(log2 |x|)`` as a float of ``x``'s dtype (C ``logb``; ``-inf`` at 0)."""
    x = np.asarray(x)
    with np.errstate(all="ignore"):
        _, e = np.frexp(x)
        out = np.where(x == 0, -np.inf, (e - 1).astype(x.dtype))
        return np.where(np.isfinite(x), out, np.abs(x)).astype(x.dtype)


def getmant(x):
    """The significand of ``x`` scaled into ``[3/4, 3/2)``, the sign kept, subnormals
    included (``x = 2**(logb(x) + (m < 1)) m``); NaN where the sign bit is set (zeros
    excepted: +-0 -> +-1), +inf -> 1, NaN -> NaN: AVX-512's ``vgetmantps/pd`` with
    interval 3/4..3/2 and sign control "NaN if negative" (the kernels' ``getmant``,
    :mod:`codegen.bits`)."""
    x = np.asarray(x)
    with np.errstate(all="ignore"):
        fraction, _ = np.frexp(x)
        m = (2 * fraction).astype(x.dtype)
        m = np.where(m >= 1.5, m * x.dtype.type(0.5), m)
        m = np.where(x == 0, np.copysign(x.dtype.type(1), x), m)
        m = np.where(x == np.inf, x.dtype.type(1), m)
        return np.where((x < 0) | np.isnan(x), x.dtype.type(np.nan), m).astype(x.dtype)


def significand(x):
    """``x * 2**-logb(x)`` in ``[1, 2)`` (sign kept) for normal ``x``: the exponent bits
    replaced by the bias, as the kernels' ``significand`` (:mod:`codegen.bits`)."""
    x = np.asarray(x)
    ity = {4: np.uint32, 8: np.uint64}[x.dtype.itemsize]
    info = np.finfo(x.dtype)
    mant = info.nmant
    bias = info.maxexp - 1
    keep = ity(((1 << mant) - 1) | (1 << (8 * x.dtype.itemsize - 1)))
    bits = (np.ascontiguousarray(x).view(ity) & keep) | ity(bias << mant)
    return bits.view(x.dtype).reshape(x.shape)


#: a ``lut16`` table's index bits and entries, and where the index sits in the key's bits:
#: the top bits of the fraction field (float64 bits 51-48, float32 bits 22-19)
LUT_BITS = 4
LUT_SIZE = 1 << LUT_BITS
LUT_SHIFT = {d: int(np.finfo(d).nmant) - LUT_BITS for d in ("float64", "float32")}


def lut16(key, *table):
    """``table[j]``, ``j`` = the top four bits of ``key``'s fraction field (``floor(16 f)``
    for a normal key ``+-2**e (1 + f)``; any bits, NaN's too): a lookup in a 16-entry table of the
    kernel's dtype (the kernels' ``lut16``, :mod:`codegen.bits`: one ``vpermi2pd`` /
    ``vpermps`` on AVX-512). Shapes broadcast; ``len(table) == 16``."""
    key = np.asarray(key)
    if len(table) != LUT_SIZE:
        raise ValueError(f"lut16 takes a key and {LUT_SIZE} table entries, not {len(table)}")
    ity = {4: np.uint32, 8: np.uint64}[key.dtype.itemsize]
    shift = LUT_SHIFT["float64" if key.dtype.itemsize == 8 else "float32"]
    j = (np.ascontiguousarray(key).view(ity).reshape(key.shape) >> ity(shift)) & ity(LUT_SIZE - 1)
    j, *entries = np.broadcast_arrays(j.astype(np.intp), *(np.asarray(t, dtype=key.dtype) for t in table))
    return np.take_along_axis(np.stack(entries), j[None], 0)[0]


def lut16_jax(key, *table):
    """The JAX form of :func:`lut16` (bit-exact: a gather)."""
    import jax
    import jax.numpy as jnp

    key = jnp.asarray(key)
    ity = jnp.uint64 if key.dtype == jnp.float64 else jnp.uint32
    shift = LUT_SHIFT["float64" if key.dtype == jnp.float64 else "float32"]
    j = (jax.lax.bitcast_convert_type(key, ity) >> shift) & (LUT_SIZE - 1)
    j, *entries = jnp.broadcast_arrays(j.astype(jnp.int32), *(jnp.asarray(t, dtype=key.dtype) for t in table))
    return jnp.take_along_axis(jnp.stack(entries), j[None], 0)[0]
