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
* ``getexp(x)`` = C's ``logb`` (``floor(log2 |x|)``, subnormals included; ``-inf`` at
  +-0, ``+inf`` at +-inf) and ``getmant(x)`` = the significand scaled into ``[3/4,
  3/2)`` (NaN where the sign bit is set, +-0 -> +-1, +inf -> 1): AVX-512's ``vgetexp``
  and ``vgetmant`` (:data:`GETMANT_IMM`), one instruction each there; references
  :func:`codegen.exact.logb` and :func:`codegen.exact.getmant`.
* ``logb(x)`` = ``floor(log2 |x|)`` as a float, from the exponent bits, for *normal*
  finite ``x`` (callers scale subnormals first, and select the results at 0, inf, NaN).
* ``significand(x)`` = ``x * 2**-logb(x)``, in ``[1, 2)`` with ``x``'s sign, by replacing
  the exponent bits (normal finite ``x``; the same caveats).
"""

from __future__ import annotations

import llvmlite.ir as ir

from . import jit
from .exact import LUT_BITS, SCALEF_LIMIT

__all__ = ["getexp", "getmant", "ldexp", "logb", "lut16", "scale", "scalef", "significand"]


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
        return _llvm_ldexp(b, ty, x, n)
    n = b.sext(n, ity) if n.type.width < ity.width else n
    half = b.ashr(n, ity(1))
    return b.fmul(b.fmul(x, _power_of_two(b, ty, half)), _power_of_two(b, ty, b.sub(n, half)))


def ldexp(b: ir.IRBuilder, ty: ir.Type, x: ir.Value, k: ir.Value) -> ir.Value:
    if jit.has_feature("avx512f"):
        return b.call(_avx512_lane(b.module, ty, "ldexp"), [x, k])
    return _ldexp_generic(b, ty, x, k)


def _ldexp_generic(b: ir.IRBuilder, ty: ir.Type, x: ir.Value, k: ir.Value) -> ir.Value:
    return scale(b, ty, x, b.fptosi(_ldexp_clamp(b, ty, k), ir.IntType(32)))


def _ldexp_clamp(b: ir.IRBuilder, ty: ir.Type, k: ir.Value) -> ir.Value:
    """``ldexp``'s ``k`` (scalar or vector) clamped to ``[-2 (bias - 1), 2 bias]``, NaN to
    the lower bound: each half-power of :func:`scale` stays normal."""
    _, _, bias = _layout(ty)
    return _clamp(b, ty, k, -float(2 * (bias - 1)), float(2 * bias))


def _clamp(b: ir.IRBuilder, ty: ir.Type, k: ir.Value, low: float, high: float) -> ir.Value:
    """``k`` clamped to ``[low, high]`` (of scalars or vectors of ``ty``), NaN to ``low``:
    ordered compares and selects, one x86 max/min instruction each (``llvm.maxnum``'s
    NaN rule costs three)."""
    k = b.select(b.fcmp_ordered(">=", k, _splat(k.type, ty, low)), k, _splat(k.type, ty, low))
    return b.select(b.fcmp_ordered("<=", k, _splat(k.type, ty, high)), k, _splat(k.type, ty, high))


def _splat(vty: ir.Type, ty: ir.Type, value: float) -> ir.Constant:
    return ir.Constant(vty, [ty(value)] * vty.count) if isinstance(vty, ir.VectorType) else ty(value)


def _declare(module: ir.Module, name: str, ret: ir.Type, args: list) -> ir.Function:
    return module.globals.get(name) or ir.Function(module, ir.FunctionType(ret, args), name)


def _suffix(ty: ir.Type) -> str:
    return "f64" if isinstance(ty, ir.DoubleType) else "f32"


def _float_intrinsic(b: ir.IRBuilder, ty: ir.Type, name: str, *args: ir.Value) -> ir.Value:
    """``llvm.NAME.f64/f32(args)``, every argument and the result of type ``ty``."""
    return b.call(_declare(b.module, f"llvm.{name}.{_suffix(ty)}", ty, [ty] * len(args)), list(args))


def _llvm_ldexp(b: ir.IRBuilder, ty: ir.Type, x: ir.Value, n: ir.Value) -> ir.Value:
    """``llvm.ldexp.f64/f32.i32(x, n)``: ``x * 2**n`` for an ``i32`` ``n``."""
    i32 = ir.IntType(32)
    return b.call(_declare(b.module, f"llvm.ldexp.{_suffix(ty)}.i32", ty, [ty, i32]), [x, n])


def scalef(b: ir.IRBuilder, ty: ir.Type, x: ir.Value, k: ir.Value) -> ir.Value:
    if jit.has_feature("avx512f"):
        return b.call(_avx512_lane(b.module, ty, "scalef"), [x, k])
    return _scalef_generic(b, ty, x, k)


def _scalef_generic(b: ir.IRBuilder, ty: ir.Type, x: ir.Value, k: ir.Value) -> ir.Value:
    """``scalef`` by ``llvm.ldexp`` and selects (every host; the scalar lanes of AVX-512)."""
    n = b.fptosi(_clamp(b, ty, _float_intrinsic(b, ty, "floor", k), -SCALEF_LIMIT, float(SCALEF_LIMIT)),
                 ir.IntType(32))
    y = _llvm_ldexp(b, ty, x, n)
    ity, mant, _ = _layout(ty)
    quiet = b.and_(b.fcmp_unordered("uno", x, x),
                   b.icmp_unsigned("!=", b.and_(b.bitcast(x, ity), ity(1 << (mant - 1))), ity(0)))
    up = b.fcmp_ordered("==", k, ty(float("inf")))
    down = b.fcmp_ordered("==", k, ty(float("-inf")))
    y = b.select(up, b.select(quiet, ty(float("inf")), b.fmul(x, k)), y)
    y = b.select(down, b.select(quiet, ty(0.0), b.fmul(x, ty(0.0))), y)
    return b.select(b.fcmp_unordered("uno", k, k), b.fadd(x, k), y)


def getexp(b: ir.IRBuilder, ty: ir.Type, x: ir.Value) -> ir.Value:
    if jit.has_feature("avx512f"):
        return b.call(_avx512_lane(b.module, ty, "getexp"), [x])
    return _getexp_generic(b, ty, x)


def _getexp_generic(b: ir.IRBuilder, ty: ir.Type, x: ir.Value) -> ir.Value:
    """C's ``logb`` from the exponent bits (every host's scalar lanes): subnormals scaled
    by ``2**(mant+1)`` first, then +-0 -> -inf, +-inf -> +inf, NaN -> NaN by selects."""
    _, mant, bias = _layout(ty)
    ax = _float_intrinsic(b, ty, "fabs", x)
    tiny = b.fcmp_ordered("<", ax, ty(2.0 ** (1 - bias)))
    xs = b.select(tiny, b.fmul(ax, ty(2.0 ** (mant + 1))), ax)
    e = b.fsub(logb(b, ty, xs), b.select(tiny, ty(float(mant + 1)), ty(0.0)))
    e = b.select(b.fcmp_ordered("==", x, ty(0.0)), ty(float("-inf")), e)
    e = b.select(b.fcmp_ordered("==", ax, ty(float("inf"))), ty(float("inf")), e)
    return b.select(b.fcmp_unordered("uno", x, x), x, e)


def getmant(b: ir.IRBuilder, ty: ir.Type, x: ir.Value) -> ir.Value:
    if jit.has_feature("avx512f"):
        return b.call(_avx512_lane(b.module, ty, "getmant"), [x])
    return _getmant_generic(b, ty, x)


def _getmant_generic(b: ir.IRBuilder, ty: ir.Type, x: ir.Value) -> ir.Value:
    """``x * 2**-logb(x)`` (``llvm.ldexp``, exact for subnormals), halved from 1.5 on, and
    the special values of ``vgetmant`` with :data:`GETMANT_IMM`."""
    finite = b.and_(b.fcmp_ordered("!=", x, ty(0.0)),
                    b.fcmp_ordered("<", _float_intrinsic(b, ty, "fabs", x), ty(float("inf"))))
    e = b.select(finite, _getexp_generic(b, ty, x), ty(0.0))
    m = _llvm_ldexp(b, ty, x, b.fptosi(b.fneg(e), ir.IntType(32)))
    m = b.select(b.fcmp_ordered(">=", m, ty(1.5)), b.fmul(m, ty(0.5)), m)
    m = b.select(b.fcmp_ordered("==", x, ty(0.0)), _float_intrinsic(b, ty, "copysign", ty(1.0), x), m)
    m = b.select(b.fcmp_ordered("==", x, ty(float("inf"))), ty(1.0), m)
    return b.select(b.fcmp_unordered("<", x, ty(0.0)), ty(float("nan")), m)


def lut16(b: ir.IRBuilder, ty: ir.Type, key: ir.Value, *table: ir.Value) -> ir.Value:
    """``table[j]``, ``j`` the top four fraction bits of ``key`` (:func:`codegen.exact.lut16`).
    The AVX-512 permute holds one table for the whole vector, so it serves constant tables
    only (range-reduction templates); a table of computed values takes the select tree."""
    if jit.has_feature("avx512f") and all(isinstance(t, ir.Constant) for t in table):
        return b.call(_avx512_lane(b.module, ty, "lut16"), [key, *table])
    return _lut16_generic(b, ty, key, *table)


def _lut16_index(b: ir.IRBuilder, ty: ir.Type, key: ir.Value) -> ir.Value:
    """The key's bits shifted so that the table index is in the low four bits (scalar or vector)."""
    ity, mant, _ = _layout(ty)
    if isinstance(key.type, ir.VectorType):
        vty = ir.VectorType(ity, key.type.count)
        return b.lshr(b.bitcast(key, vty), ir.Constant(vty, [mant - LUT_BITS] * key.type.count))
    return b.lshr(b.bitcast(key, ity), ity(mant - LUT_BITS))


def _lut16_generic(b: ir.IRBuilder, ty: ir.Type, key: ir.Value, *table: ir.Value) -> ir.Value:
    """A tree of selects on the index bits (15 selects: vectorises on every host)."""
    ity, _, _ = _layout(ty)
    j = _lut16_index(b, ty, key)
    level = list(table)
    for bit in range(LUT_BITS):
        odd = b.icmp_unsigned("!=", b.and_(j, ity(1 << bit)), ity(0))
        level = [b.select(odd, level[k + 1], level[k]) for k in range(0, len(level), 2)]
    return level[0]


#: ``vgetmantps/pd``'s immediate: interval [3/4, 3/2) (bits 1:0 = 11), NaN where the sign
#: bit is set (bits 3:2 = 10; zeros excepted: +-0 -> +-1)
GETMANT_IMM = 0b1011
#: vector lanes of the AVX-512 variants (512-bit vectors)
AVX512_LANES = {"f32": 16, "f64": 8}
#: name prefix of the functions :func:`codegen.jit.optimize` inlines after vectorising
INLINE_AFTER_VECTORISING = "codegen.avx512."
_ARITY = {"ldexp": 2, "scalef": 2, "getexp": 1, "getmant": 1, "lut16": 17}
_GENERIC = {"ldexp": _ldexp_generic, "scalef": _scalef_generic, "getexp": _getexp_generic,
            "getmant": _getmant_generic, "lut16": _lut16_generic}


def _avx512_vector(b: ir.IRBuilder, ty: ir.Type, op: str, args) -> ir.Value:
    """The 512-bit body of ``op``: ``vscalef`` (after ``ldexp``'s clamp), ``vgetexp``,
    ``vgetmant``; rounding argument 4: the current direction (MXCSR)."""
    vty, i32 = args[0].type, ir.IntType(32)
    mask_ty, kind = ir.IntType(max(8, vty.count)), "pd" if _suffix(ty) == "f64" else "ps"
    undef, every, current = ir.Constant(vty, None), mask_ty(-1), i32(4)
    if op in ("ldexp", "scalef"):
        x, k = args
        if op == "ldexp":
            k = _ldexp_clamp(b, ty, k)
        fn = _declare(b.module, f"llvm.x86.avx512.mask.scalef.{kind}.512", vty, [vty, vty, vty, mask_ty, i32])
        return b.call(fn, [x, k, undef, every, current])
    if op == "lut16":
        # the table from the (loop-invariant, splatted) entries' first lanes: float64 as two
        # 8-lane halves for vpermi2pd (index bit 3 picks the half), float32 one 16-lane vpermps
        key, *table = args
        j = _lut16_index(b, ty, key)
        entries = [b.extract_element(t, ir.IntType(64)(0)) for t in table]

        def vector(values):
            v = ir.Constant(ir.VectorType(ty, len(values)), None)
            for k, value in enumerate(values):
                v = b.insert_element(v, value, ir.IntType(64)(k))
            return v
        if kind == "pd":
            fn = _declare(b.module, "llvm.x86.avx512.vpermi2var.pd.512", vty, [vty, j.type, vty])
            return b.call(fn, [vector(entries[:8]), j, vector(entries[8:])])
        fn = _declare(b.module, "llvm.x86.avx512.permvar.sf.512", vty, [vty, j.type])
        return b.call(fn, [vector(entries), j])
    if op == "getexp":
        fn = _declare(b.module, f"llvm.x86.avx512.mask.getexp.{kind}.512", vty, [vty, vty, mask_ty, i32])
        return b.call(fn, [args[0], undef, every, current])
    fn = _declare(b.module, f"llvm.x86.avx512.mask.getmant.{kind}.512", vty, [vty, i32, vty, mask_ty, i32])
    return b.call(fn, [args[0], i32(GETMANT_IMM), undef, every, current])


def _avx512_lane(module: ir.Module, ty: ir.Type, op: str) -> ir.Function:
    """Scalar ``codegen.avx512.OP.T`` whose vector variant is the AVX-512 instruction
    (:func:`_avx512_vector`).

    ``llvm.ldexp`` takes an integer exponent, so ``ldexp(x, fptosi(k))`` costs a
    conversion to integer and, inside the x86 lowering, one back to float before the
    ``vscalef``; ``vscalef`` reads a float exponent (``x * 2**floor(k)``), so the vector
    variant of ``ldexp`` is its clamp and the ``vscalef`` (three instructions, not five),
    and that of ``scalef`` the ``vscalef`` alone; ``getexp`` and ``getmant`` are one
    instruction each, subnormals included, where bit operations need a scaling and
    selects. The scalar function is ``noinline`` and names the vector function in the
    vector-function ABI attribute (as the libmvec wrappers of :mod:`codegen.lower`), so
    the loop vectoriser calls the vector function on whole vectors;
    :func:`codegen.jit.optimize` inlines it afterwards. The scalar remainder runs the
    generic IR of the operation: the same bits (tested on every special case). Both are
    ``weak_odr hidden``: kept until the vectoriser has run, merged at link time, not
    exported."""
    sfx = _suffix(ty)
    name = f"{INLINE_AFTER_VECTORISING}{op}.{sfx}"
    existing = module.globals.get(name)
    if existing is not None:
        return existing
    lanes, arity = AVX512_LANES[sfx], _ARITY[op]
    vty = ir.VectorType(ty, lanes)
    vector = ir.Function(module, ir.FunctionType(vty, [vty] * arity), f"{name}.v{lanes}")
    fn = ir.Function(module, ir.FunctionType(ty, [ty] * arity), name)
    cpu, features = jit.host_cpu()
    for f, inline in ((vector, "alwaysinline"), (fn, "noinline")):
        f.linkage = "weak_odr hidden"   # llvmlite prints it verbatim; no visibility field
        for attribute in ("nounwind", "readnone", inline,
                          f'"target-cpu"="{cpu}"', f'"target-features"="{features}"'):
            set.add(f.attributes, attribute)
    set.add(fn.attributes, f'"vector-function-abi-variant"='
                           f'"_ZGV_LLVM_N{lanes}{"v" * arity}_{name}({vector.name})"')
    vb = ir.IRBuilder(vector.append_basic_block("entry"))
    vb.ret(_avx512_vector(vb, ty, op, vector.args))
    sb = ir.IRBuilder(fn.append_basic_block("entry"))
    sb.ret(_GENERIC[op](sb, ty, *fn.args))
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
