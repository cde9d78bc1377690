"""IR for the exponent-bit operations ``ldexp``, ``scalef``, ``logb`` and ``significand``
(branch-free, vectorisable).

Used by range-reduction templates of :mod:`discover.approx` through the ``custom``
lowerings of :mod:`codegen.lower`:

* ``ldexp(x, k)`` = ``x * 2**k`` rounded once (C ``ldexp``), for an integer-valued float
  ``k`` clamped to ``[-2 (bias - 1), 2 bias]`` (NaN as the lower bound); the reference is
  :func:`codegen.exact.ldexp`. How the power is applied: :func:`scale`.
* ``scalef(x, k)`` = ``x * 2**floor(k)`` rounded once for every float ``k`` (NaN ``k``:
  NaN; ``k = +inf``: ``x * inf``; ``k = -inf``: ``x * 0``; a quiet NaN ``x`` gives ``+inf``
  and ``+0`` there): AVX-512's ``vscalefps/pd``, one instruction there; the reference is
  :func:`codegen.exact.scalef`.
* ``logb(x)`` = ``floor(log2 |x|)`` as a float, from the exponent bits, for *normal*
  finite ``x`` (callers scale subnormals first, and select the results at 0, inf, NaN).
* ``significand(x)`` = ``x * 2**-logb(x)``, in ``[1, 2)`` with ``x``'s sign, by replacing
  the exponent bits (normal finite ``x``; the same caveats).
"""

from __future__ import annotations

import llvmlite.ir as ir

from . import jit
from .exact import SCALEF_LIMIT

__all__ = ["ldexp", "logb", "scale", "scalef", "significand"]


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
    if jit.has_feature("avx512f"):
        return b.call(_vscalef_lane(b.module, ty, "ldexp"), [x, k])
    return _ldexp_generic(b, ty, x, k)


def _ldexp_generic(b: ir.IRBuilder, ty: ir.Type, x: ir.Value, k: ir.Value) -> ir.Value:
    k = _clamp(b, ty, k, -float(2 * (_layout(ty)[2] - 1)), float(2 * _layout(ty)[2]))
    return scale(b, ty, x, b.fptosi(k, ir.IntType(32)))


def _clamp(b: ir.IRBuilder, ty: ir.Type, k: ir.Value, low: float, high: float) -> ir.Value:
    """``k`` clamped to ``[low, high]`` (of scalars or vectors of ``ty``), NaN to ``low``:
    ordered compares and selects, one x86 max/min instruction each (``llvm.maxnum``'s
    NaN rule costs three)."""
    def splat(v):
        return ir.Constant(k.type, [ty(v)] * k.type.count) if isinstance(k.type, ir.VectorType) else ty(v)
    k = b.select(b.fcmp_ordered(">=", k, splat(low)), k, splat(low))
    return b.select(b.fcmp_ordered("<=", k, splat(high)), k, splat(high))


def scalef(b: ir.IRBuilder, ty: ir.Type, x: ir.Value, k: ir.Value) -> ir.Value:
    if jit.has_feature("avx512f"):
        return b.call(_vscalef_lane(b.module, ty, "scalef"), [x, k])
    return _scalef_generic(b, ty, x, k)


def _scalef_generic(b: ir.IRBuilder, ty: ir.Type, x: ir.Value, k: ir.Value) -> ir.Value:
    """``scalef`` by ``llvm.ldexp`` and selects (every host; the scalar lanes of AVX-512)."""
    suffix = "f64" if isinstance(ty, ir.DoubleType) else "f32"
    module, i32 = b.module, ir.IntType(32)
    floor = module.globals.get(f"llvm.floor.{suffix}") or ir.Function(
        module, ir.FunctionType(ty, [ty]), f"llvm.floor.{suffix}")
    ldexp_ = module.globals.get(f"llvm.ldexp.{suffix}.i32") or ir.Function(
        module, ir.FunctionType(ty, [ty, i32]), f"llvm.ldexp.{suffix}.i32")
    n = b.fptosi(_clamp(b, ty, b.call(floor, [k]), -SCALEF_LIMIT, float(SCALEF_LIMIT)), i32)
    y = b.call(ldexp_, [x, n])
    ity, mant, _ = _layout(ty)
    quiet = b.and_(b.fcmp_unordered("uno", x, x),
                   b.icmp_unsigned("!=", b.and_(b.bitcast(x, ity), ity(1 << (mant - 1))), ity(0)))
    up = b.fcmp_ordered("==", k, ty(float("inf")))
    down = b.fcmp_ordered("==", k, ty(float("-inf")))
    y = b.select(up, b.select(quiet, ty(float("inf")), b.fmul(x, k)), y)
    y = b.select(down, b.select(quiet, ty(0.0), b.fmul(x, ty(0.0))), y)
    return b.select(b.fcmp_unordered("uno", k, k), b.fadd(x, k), y)


#: vector lanes of the ``vscalefps/pd`` variants (512-bit vectors)
VSCALEF_LANES = {"f32": 16, "f64": 8}
#: name prefix of the functions :func:`codegen.jit.optimize` inlines after vectorising
INLINE_AFTER_VECTORISING = "codegen.vscalef."


def _vscalef_lane(module: ir.Module, ty: ir.Type, op: str) -> ir.Function:
    """Scalar ``codegen.vscalef.OP.T(x, k)`` (``op`` ``ldexp`` or ``scalef``) whose vector
    variant is AVX-512's ``vscalefps/pd`` on the float ``k`` itself.

    ``llvm.ldexp`` takes an integer exponent, so ``ldexp(x, fptosi(k))`` costs a
    conversion to integer and, inside the x86 lowering, one back to float before the
    ``vscalef``; ``vscalef`` reads a float exponent (``x * 2**floor(k)``), so the vector
    variant of ``ldexp`` is its clamp and the ``vscalef`` (three instructions, not five),
    and that of ``scalef`` the ``vscalef`` alone. The scalar function is ``noinline`` and
    names the vector function in the vector-function ABI attribute (as the libmvec
    wrappers of :mod:`codegen.lower`), so the loop vectoriser calls the vector function
    on whole vectors; :func:`codegen.jit.optimize` inlines it afterwards. The scalar
    remainder runs the generic IR of the operation: the same bits (tested on every
    special case). Both are ``weak_odr hidden``: kept until the vectoriser has run,
    merged at link time, not exported."""
    suffix = "f64" if isinstance(ty, ir.DoubleType) else "f32"
    name = f"{INLINE_AFTER_VECTORISING}{op}.{suffix}"
    existing = module.globals.get(name)
    if existing is not None:
        return existing
    lanes, i32 = VSCALEF_LANES[suffix], ir.IntType(32)
    vty, mask_ty = ir.VectorType(ty, lanes), ir.IntType(lanes)
    intrinsic_name = f"llvm.x86.avx512.mask.scalef.{'pd' if suffix == 'f64' else 'ps'}.512"
    intrinsic = module.globals.get(intrinsic_name) or ir.Function(
        module, ir.FunctionType(vty, [vty, vty, vty, mask_ty, i32]), intrinsic_name)
    vector = ir.Function(module, ir.FunctionType(vty, [vty, vty]), f"{name}.v{lanes}")
    fn = ir.Function(module, ir.FunctionType(ty, [ty, ty]), name)
    cpu, features = jit.host_cpu()
    for f, inline in ((vector, "alwaysinline"), (fn, "noinline")):
        f.linkage = "weak_odr hidden"   # llvmlite prints it verbatim; no visibility field
        for attribute in ("nounwind", "readnone", inline,
                          f'"target-cpu"="{cpu}"', f'"target-features"="{features}"'):
            set.add(f.attributes, attribute)
    set.add(fn.attributes, f'"vector-function-abi-variant"="_ZGV_LLVM_N{lanes}vv_{name}({vector.name})"')
    vb = ir.IRBuilder(vector.append_basic_block("entry"))
    vx, vk = vector.args
    if op == "ldexp":
        _, _, bias = _layout(ty)
        vk = _clamp(vb, ty, vk, -float(2 * (bias - 1)), float(2 * bias))
    # rounding argument 4: the current direction (MXCSR), as every other instruction
    vb.ret(vb.call(intrinsic, [vx, vk, ir.Constant(vty, None), mask_ty(-1), i32(4)]))
    sb = ir.IRBuilder(fn.append_basic_block("entry"))
    generic = _ldexp_generic if op == "ldexp" else _scalef_generic
    sb.ret(generic(sb, ty, *fn.args))
    return fn


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
