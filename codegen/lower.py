"""Program -> LLVM IR (``llvmlite.ir``): one element-wise loop over ``n`` elements.

The generated function (identical in the JIT, object file and shared library)::

    void NAME(int64_t n, const T *arg0, ..., T *out0, ...)
    for (i = 0; i < n; ++i) { outj[i] = f_j(arg0[i], ...); }

with ``T`` = double or float.  Pointer arguments are ``noalias`` (arrays must not
overlap) and ``captures(none)``; the loop is a canonical ``i64`` counted loop so the
loop vectoriser applies.  The function carries ``"target-cpu"``/``"target-features"``
of the host (:func:`codegen.jit.host_cpu`).

Math functions: ``math="libm-scalar"`` calls the C library (``exp``/``expf``...)
declared ``readnone nounwind`` (``errno`` is not set-visible), one call per element;
``math="libm"`` does the same except for the functions glibc's libmvec has an AVX2
variant of (``_ZGVdN4v_exp``, ``_ZGVdN8v_sinf``...; :func:`codegen.jit.libmvec_name`):
those go through a ``noinline`` scalar wrapper carrying the vector-function ABI
attribute, so the vectorised loop calls the vector function and the remainder calls it
on a splat -- every element gets the same result wherever it sits;
``math="fast"`` uses :mod:`codegen.fastmath` inline versions for the names in
``fastmath.SUPPORTED`` (they vectorise everywhere).  sqrt, fabs, floor, ceil, fmin,
fmax, copysign and fma are LLVM intrinsics.

Fast-math flags (``fastmath=``) are put on every ``fadd fsub fmul fdiv fneg`` and on
every call to a math function (intrinsic, libm or fastmath); comparisons and
``select`` never get them, so ``Piecewise``/``sign`` keep exact IEEE tests.
"""

from __future__ import annotations

from typing import Iterable

import llvmlite.ir as ir

from . import jit
from .ops import OPS
from .program import Program

FASTMATH_FLAGS = ("contract", "reassoc", "nnan", "ninf", "nsz", "arcp", "afn")
MATH_MODES = ("libm", "fast", "libm-scalar")

_I64 = ir.IntType(64)
_BOOL = ir.IntType(1)


def fastmath_flags(fastmath: bool | str | Iterable[str] | None) -> tuple[str, ...]:
    """Normalise ``fastmath=``: False/None -> (), True -> ("fast",), or a set of flag names."""
    if fastmath is None or fastmath is False:
        return ()
    if fastmath is True:
        return ("fast",)
    flags = {fastmath} if isinstance(fastmath, str) else set(fastmath)
    unknown = flags - set(FASTMATH_FLAGS) - {"fast"}
    if unknown:
        raise ValueError(f"unknown fast-math flag(s) {', '.join(sorted(unknown))}; "
                         f"known: {', '.join(FASTMATH_FLAGS)}, fast")
    return ("fast",) if "fast" in flags else tuple(sorted(flags))


def float_type(dtype: str) -> ir.Type:
    return ir.DoubleType() if dtype == "float64" else ir.FloatType()


def _add_attribute(attributes, text: str) -> None:
    """Add an attribute llvmlite does not list (string attributes such as "target-cpu")."""
    set.add(attributes, text)


def build_module(program: Program, math: str = "libm", fastmath=False) -> ir.Module:
    """The LLVM module containing the kernel function (see the module docstring)."""
    if math not in MATH_MODES:
        raise ValueError(f"math must be one of {', '.join(map(repr, MATH_MODES))}, not {math!r}")
    flags = fastmath_flags(fastmath)
    ty = float_type(program.dtype)
    module = ir.Module(name=program.name)
    module.triple = jit.triple()
    pointer = ty.as_pointer()
    n_ptrs = len(program.args) + len(program.outputs)
    fnty = ir.FunctionType(ir.VoidType(), [_I64] + [pointer] * n_ptrs)
    fn = ir.Function(module, fnty, program.name)
    cpu, features = jit.host_cpu()
    for attribute in ("nounwind", "norecurse"):
        fn.attributes.add(attribute)
    _add_attribute(fn.attributes, f'"target-cpu"="{cpu}"')
    _add_attribute(fn.attributes, f'"target-features"="{features}"')
    fn.args[0].name = "n"
    for arg, ident in zip(fn.args[1:], program.arg_ids + program.out_ids):
        arg.name = ident
        arg.add_attribute("noalias")
        arg.add_attribute("captures(none)")
    n, inputs, outputs = fn.args[0], fn.args[1:1 + len(program.args)], fn.args[1 + len(program.args):]

    entry = fn.append_basic_block("entry")
    loop = fn.append_basic_block("loop")
    done = fn.append_basic_block("done")
    b = ir.IRBuilder(entry)
    b.cbranch(b.icmp_signed(">", n, _I64(0)), loop, done)
    b.position_at_end(loop)
    i = b.phi(_I64, name="i")
    i.add_incoming(_I64(0), entry)
    lowering = _Lowering(module, b, ty, math, flags)
    values = []
    for ins in program.instrs:
        if ins.op == "arg":
            values.append(b.load(b.gep(inputs[int(ins.value)], [i]), name=program.arg_ids[int(ins.value)]))
        elif ins.op == "const":
            values.append(ir.Constant(ty, ins.value))
        else:
            values.append(lowering.op(ins.op, [values[k] for k in ins.operands]))
    for out, k in zip(outputs, program.outputs):
        b.store(values[k], b.gep(out, [i]))
    following = b.add(i, _I64(1), name="i.next", flags=["nuw", "nsw"])
    i.add_incoming(following, loop)
    b.cbranch(b.icmp_signed("==", following, n), done, loop)
    ir.IRBuilder(done).ret_void()
    return module


class _Lowering:
    """Builds one operation of :data:`codegen.ops.OPS` at the builder's position."""

    def __init__(self, module: ir.Module, builder: ir.IRBuilder, ty: ir.Type, math: str, flags):
        self.module, self.b, self.ty, self.math, self.flags = module, builder, ty, math, flags
        self.dtype = "float64" if isinstance(ty, ir.DoubleType) else "float32"
        self.suffix = "f64" if isinstance(ty, ir.DoubleType) else "f32"

    def op(self, name: str, operands: list) -> ir.Value:
        kind, detail = OPS[name].llvm
        return getattr(self, kind)(detail, operands)

    def binop(self, instruction: str, operands):
        return getattr(self.b, instruction)(*operands, flags=self.flags)

    def _declare(self, name: str, arity: int) -> ir.Function:
        existing = self.module.globals.get(name)
        if existing is not None:
            return existing
        fn = ir.Function(self.module, ir.FunctionType(self.ty, [self.ty] * arity), name)
        fn.attributes.add("nounwind")
        fn.attributes.add("readnone")
        return fn

    def _call(self, fn: ir.Function, operands):
        return self.b.call(fn, operands, fastmath=self.flags)

    def intrinsic(self, name: str, operands):
        return self._call(self._declare(f"{name}.{self.suffix}", len(operands)), operands)

    def libm(self, name: str, operands):
        if self.math == "fast":
            fastmath = _fastmath_module()
            if fastmath is not None and name in fastmath.SUPPORTED:
                return self._call(fastmath.declare(self.module, name, self.ty), operands)
        c_name = name if self.suffix == "f64" else name + "f"
        if self.math != "libm-scalar":
            vector = jit.libmvec_name(c_name, len(operands), self.dtype)
            if vector is not None:
                return self._call(self._libmvec_lane(c_name, vector, len(operands)), operands)
        return self._call(self._declare(c_name, len(operands)), operands)

    def _libmvec_lane(self, c_name: str, vector_name: str, arity: int) -> ir.Function:
        """Scalar ``codegen.libmvec.NAME(x)``: lane 0 of glibc's vector function on a splat.

        It is ``noinline`` and carries the vector-function ABI attribute naming
        ``vector_name``, so the loop vectoriser calls ``vector_name`` on whole vectors in
        the loop body, while the scalar remainder calls this function: every element goes
        through the same glibc vector function, whatever its position.
        """
        name = f"codegen.libmvec.{c_name}"
        existing = self.module.globals.get(name)
        if existing is not None:
            return existing
        lanes = jit.LIBMVEC_LANES[self.dtype]
        vty = ir.VectorType(self.ty, lanes)
        vector = ir.Function(self.module, ir.FunctionType(vty, [vty] * arity), vector_name)
        vector.attributes.add("nounwind")
        vector.attributes.add("readnone")
        fn = ir.Function(self.module, ir.FunctionType(self.ty, [self.ty] * arity), name)
        fn.linkage = "internal"
        for attribute in ("nounwind", "readnone", "noinline"):
            fn.attributes.add(attribute)
        _add_attribute(fn.attributes, f'"vector-function-abi-variant"='
                                      f'"_ZGV_LLVM_N{lanes}{"v" * arity}_{name}({vector_name})"')
        b = ir.IRBuilder(fn.append_basic_block("entry"))
        zeros = ir.Constant(ir.VectorType(ir.IntType(32), lanes), None)
        splats = [b.shuffle_vector(b.insert_element(ir.Constant(vty, ir.Undefined), x, _I64(0)),
                                   ir.Constant(vty, ir.Undefined), zeros) for x in fn.args]
        b.ret(b.extract_element(b.call(vector, splats), _I64(0)))
        return fn

    def custom(self, name: str, operands):
        (x,) = operands  # only "sign": x > 0 ? 1 : (x < 0 ? -1 : x); NaN and ±0 pass through
        b, one = self.b, ir.Constant(self.ty, 1.0)
        negative = b.select(b.fcmp_ordered("<", x, ir.Constant(self.ty, 0.0)), ir.Constant(self.ty, -1.0), x)
        return b.select(b.fcmp_ordered(">", x, ir.Constant(self.ty, 0.0)), one, negative)

    def fcmp(self, symbol: str, operands):
        if symbol == "!=":
            return self.b.fcmp_unordered(symbol, *operands)
        return self.b.fcmp_ordered(symbol, *operands)

    def logic(self, name: str, operands):
        if name == "not":
            return self.b.xor(operands[0], _BOOL(1))
        return getattr(self.b, name + "_")(*operands)

    def select(self, _name: str, operands):
        return self.b.select(*operands)


def _fastmath_module():
    """:mod:`codegen.fastmath` if it is available (written separately), else None."""
    try:
        from . import fastmath
    except ImportError:
        return None
    return fastmath


def emit_llvm_ir(program: Program, math: str = "libm", fastmath=False, optimize: bool = True) -> str:
    """The kernel's LLVM IR as text; optimised for the host CPU unless ``optimize=False``."""
    text = str(build_module(program, math, fastmath))
    return str(jit.optimize(text)) if optimize else text
