"""IR for the exponent-bit operations ``ldexp`` and ``logb`` (branch-free, vectorisable).

Used by range-reduction templates of :mod:`discover.approx` through the ``custom``
lowerings of :mod:`codegen.lower`:

* ``ldexp(x, k)`` = ``x * 2**k`` rounded once (C ``ldexp``), for an integer-valued float
  ``k`` clamped to ``[-2 (bias - 1), 2 bias]`` (NaN as the lower bound); the reference is
  :func:`codegen.exact.ldexp`. How the power is applied: :func:`scale`.
* ``logb(x)`` = ``floor(log2 |x|)`` as a float, from the exponent bits, for *normal*
  finite ``x`` (callers scale subnormals first, and select the results at 0, inf, NaN).
* ``significand(x)`` = ``x * 2**-logb(x)``, in ``[1, 2)`` with ``x``'s sign, by replacing
  the exponent bits (normal finite ``x``; the same caveats).
"""

from __future__ import annotations

import llvmlite.ir as ir

from . import jit

__all__ = ["ldexp", "logb", "scale", "significand"]


def _layout(ty: ir.Type) -> tuple[ir.IntType, int, int]:
    """(integer type of the same width, mantissa bits, exponent bias)."""
    if isinstance(ty, ir.DoubleType):
        return ir.IntType(64), 52, 1023
    return ir.IntType(32), 23, 127


def _power_of_two(b: ir.IRBuilder, ty: ir.Type, e: ir.Value) -> ir.Value:
    ity, mant, bias = _layout(ty)
    return b.bitcast(b.shl(b.add(e, ity(bias)), ity(mant)), ty)


def scale(b: ir.IRBuilder, ty: ir.Type, x: ir.Value, n: ir.Value) -> ir.Value:
    """``x * 2**n`` for an integer ``n`` (of any integer type) in ``[-2 (bias - 1), 2 bias]``.

    On AVX-512 hosts ``llvm.ldexp``, which the x86 back end turns into ``vscalefps/pd``
    (one instruction and a conversion; correctly rounded for every ``x``).  Elsewhere
    two factors ``2**(n >> 1)`` and ``2**(n - (n >> 1))`` built in the exponent bits
    (seven instructions): the first product is exact, so only the second rounds, unless
    it underflows, which needs ``|x| < 2**(-bias - p)`` or so (``p`` the precision) --
    never for the values near 1 that range reductions scale.
    """
    ity, _, _ = _layout(ty)
    if jit.has_feature("avx512f"):
        i32 = ir.IntType(32)
        n = b.trunc(n, i32) if n.type.width > 32 else n
        name = f"llvm.ldexp.{'f64' if ity.width == 64 else 'f32'}.i32"
        fn = b.module.globals.get(name) or ir.Function(b.module, ir.FunctionType(ty, [ty, i32]), name)
        return b.call(fn, [x, n])
    n = b.sext(n, ity) if n.type.width < ity.width else n
    half = b.ashr(n, ity(1))
    return b.fmul(b.fmul(x, _power_of_two(b, ty, half)), _power_of_two(b, ty, b.sub(n, half)))


def ldexp(b: ir.IRBuilder, ty: ir.Type, x: ir.Value, k: ir.Value) -> ir.Value:
    _, _, bias = _layout(ty)
    limit, low = ty(float(2 * bias)), ty(-float(2 * (bias - 1)))  # each half-power normal
    # clamp with ordered compares and selects (x86 max/min patterns: one instruction each,
    # where llvm.maxnum's NaN rule costs three); a NaN k becomes the lower bound
    k = b.select(b.fcmp_ordered(">=", k, low), k, low)
    k = b.select(b.fcmp_ordered("<=", k, limit), k, limit)
    return scale(b, ty, x, b.fptosi(k, ir.IntType(32)))


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
