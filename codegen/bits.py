"""IR for the exponent-bit operations ``ldexp`` and ``logb`` (branch-free, vectorisable).

Used by range-reduction templates of :mod:`discover.approx` through the ``custom``
lowerings of :mod:`codegen.lower`:

* ``ldexp(x, k)`` = ``x * 2**k`` for an integer-valued float ``k``, clamped to
  ``[-2 (bias - 1), 2 bias]`` (NaN as the lower bound): ``2**k`` is applied as two factors
  ``2**(k >> 1)`` and ``2**(k - (k >> 1))``, each built in the exponent bits. Where the
  first product is exact (``x`` near 1, as in every template) only the second rounds:
  one correct rounding, also where the result is subnormal, overflows or underflows, as
  C ``ldexp``. :func:`codegen.exact.ldexp` does the same two steps.
* ``logb(x)`` = ``floor(log2 |x|)`` as a float, from the exponent bits, for *normal*
  finite ``x`` (callers scale subnormals first, and select the results at 0, inf, NaN).
* ``significand(x)`` = ``x * 2**-logb(x)``, in ``[1, 2)`` with ``x``'s sign, by replacing
  the exponent bits (normal finite ``x``; the same caveats).
"""

from __future__ import annotations

import llvmlite.ir as ir

__all__ = ["ldexp", "logb", "significand"]


def _layout(ty: ir.Type) -> tuple[ir.IntType, int, int]:
    """(integer type of the same width, mantissa bits, exponent bias)."""
    if isinstance(ty, ir.DoubleType):
        return ir.IntType(64), 52, 1023
    return ir.IntType(32), 23, 127


def _power_of_two(b: ir.IRBuilder, ty: ir.Type, e: ir.Value) -> ir.Value:
    ity, mant, bias = _layout(ty)
    return b.bitcast(b.shl(b.add(e, ity(bias)), ity(mant)), ty)


def ldexp(b: ir.IRBuilder, ty: ir.Type, x: ir.Value, k: ir.Value) -> ir.Value:
    ity, _, bias = _layout(ty)
    limit, low = ty(float(2 * bias)), ty(-float(2 * (bias - 1)))  # each half-power normal
    # clamp with ordered compares and selects (x86 max/min patterns: one instruction each,
    # where llvm.maxnum's NaN rule costs three); a NaN k becomes the lower bound
    k = b.select(b.fcmp_ordered(">=", k, low), k, low)
    k = b.select(b.fcmp_ordered("<=", k, limit), k, limit)
    ki = b.fptosi(k, ity)
    half = b.ashr(ki, ity(1))
    rest = b.sub(ki, half)
    return b.fmul(b.fmul(x, _power_of_two(b, ty, half)), _power_of_two(b, ty, rest))


def logb(b: ir.IRBuilder, ty: ir.Type, x: ir.Value) -> ir.Value:
    ity, mant, bias = _layout(ty)
    bits = b.bitcast(x, ity)
    exponent = b.and_(b.lshr(bits, ity(mant)), ity((2 * bias + 1)))
    return b.sitofp(b.sub(exponent, ity(bias)), ty)


def significand(b: ir.IRBuilder, ty: ir.Type, x: ir.Value) -> ir.Value:
    ity, mant, bias = _layout(ty)
    bits = b.bitcast(x, ity)
    keep = ity(((1 << mant) - 1) | (1 << (ity.width - 1)))    # sign and fraction bits
    return b.bitcast(b.or_(b.and_(bits, keep), ity(bias << mant)), ty)
