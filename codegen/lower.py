"""Program -> LLVM IR (``llvmlite.ir``): one element-wise loop over ``n`` elements.

The generated function (identical in the JIT, object file and shared library)::

    void NAME(int64_t n, const T *arg0, ..., T *out0, ...)
    for (i = 0; i < n; ++i) { outj[i] = f_j(arg0[i], ...); }

with ``T`` = double or float.  Pointer arguments are ``noalias`` (arrays must not
overlap) and ``captures(none)``; the loop is a canonical ``i64`` counted loop so the
loop vectoriser applies.  The function carries ``"target-cpu"``/``"target-features"``
of the host (:func:`codegen.jit.host_cpu`).

Math functions: ``math="fast"`` (the default, :data:`DEFAULT_MATH`) uses the
:mod:`codegen.fastmath` inline version of a function where it is within 1 ULP
(``fastmath.ULP_BOUNDS <= 1`` for the kernel's dtype; they vectorise everywhere) and the
scalar C library function otherwise, so every function is within 1 ULP (glibc's own
accuracy for those left to it); ``math="libm"`` calls the C library
(``exp``/``expf``...) declared ``readnone nounwind`` (``errno`` is not set-visible), one
call per element: exact libm semantics; ``math="libmvec"`` does the same except for the
functions glibc's libmvec has an AVX2
variant of (``_ZGVdN4v_exp``, ``_ZGVdN8v_sinf``...; :func:`codegen.jit.libmvec_name`):
those go through a ``noinline`` scalar wrapper carrying the vector-function ABI
attribute, so the vectorised loop calls the vector function and the remainder calls it
on a splat -- every element gets the same result wherever it sits (libmvec is
documented at 4 ULP, so ``"fast"`` never uses it).  sqrt, fabs, floor, ceil, fmin,
fmax, copysign and fma are LLVM intrinsics.

Fast-math flags (``fastmath=``) are put on every ``fadd fsub fmul fdiv fneg`` and on
every call to a math function (intrinsic, libm or fastmath); comparisons and
``select`` never get them, so ``Piecewise``/``sign`` keep exact IEEE tests.
"""

from __future__ import annotations

from typing import Iterable, Sequence

import llvmlite.ir as ir

from . import jit
from .ops import OPS
from .program import Program

FASTMATH_FLAGS = ("contract", "reassoc", "nnan", "ninf", "nsz", "arcp", "afn")
MATH_MODES = ("libm", "libmvec", "fast")
#: The math mode of every entry point that does not name one (``codegen.compile``,
#: ``emit_*``, :class:`~codegen.kernel.Kernel`, ``discover codegen``): inline vectorised
#: functions within 1 ULP, scalar libm for the rest.
DEFAULT_MATH = "fast"

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


def add_attribute(attributes, text: str) -> None:
    """Add an attribute llvmlite does not list (string attributes such as "target-cpu")."""
    set.add(attributes, text)


def build_module(program: Program, math: str = DEFAULT_MATH, fastmath=False,
                 interleave: int | None = None, fresh_outputs: bool = False) -> ir.Module:
    """The LLVM module containing the kernel function (see the module docstring).

    ``interleave``: how many vectors the element loop works on per iteration (LLVM's
    ``llvm.loop.interleave.count``); None: :func:`default_interleave`.

    ``fresh_outputs``: define the loops as the internal ``NAME.impl(n, allow_streaming,
    in..., out...)``, called by ``NAME`` with streaming allowed, so that a caller that has
    just allocated the outputs can turn the streaming path off: their pages are not mapped
    yet, the kernel's first store faults each one in (the system zeroes it through the
    cache), and non-temporal stores after that only add traffic -- 2.5x slower than plain
    stores on 10**7 float64 elements (:mod:`codegen.kernel` does so when it allocates
    the result).  Without a streaming path (non-x86 hosts) there is no ``NAME.impl``.
    """
    if math not in MATH_MODES:
        raise ValueError(f"math must be one of {', '.join(map(repr, MATH_MODES))}, not {math!r}")
    if interleave is None:
        interleave = default_interleave(program, math)
    module = ir.Module(name=program.name)
    module.triple = jit.triple()
    lowering = Lowering(module, ir.IRBuilder(), float_type(program.dtype), math, fastmath_flags(fastmath))
    streaming = _streaming_supported()
    if not (fresh_outputs and streaming):
        _define_kernel(module, program, program.name, lowering, interleave, streaming)
        return module
    impl = _define_kernel(module, program, program.name + ".impl", lowering, interleave, streaming, switch=True)
    impl.linkage = "internal"
    impl.attributes.add("noinline")
    caller = ir.Function(module, ir.FunctionType(ir.VoidType(), [a.type for a in impl.args if a.type != _BOOL]),
                         program.name)
    _kernel_attributes(caller, program)
    b = ir.IRBuilder(caller.append_basic_block("entry"))
    b.call(impl, [caller.args[0], _BOOL(1), *caller.args[1:]])
    b.ret_void()
    return module


#: vectors in flight per loop iteration for loops that call inline fast-math functions
FAST_MATH_INTERLEAVE = 4
#: functions whose loops ran slower so (measured on AVX-512: float64 acos alone 0.81x,
#: Feynman I.30.5's asin 0.88x in cache): their loops keep LLVM's choice
INTERLEAVE_SLOWER = frozenset({"asin", "acos"})


#: Bodies with more inline fast-math functions keep LLVM's choice: their calls are already
#: independent work in flight, and four copies of a long body made LLVM's optimisation
#: superlinear (100 sin*exp terms: 13.6 s to compile interleaved, 4.2 s not)
INTERLEAVE_MAX_CALLS = 8


def default_interleave(program: Program, math: str) -> int | None:
    """:data:`FAST_MATH_INTERLEAVE` where the element code calls one to
    :data:`INTERLEAVE_MAX_CALLS` :mod:`codegen.fastmath` functions (none of
    :data:`INTERLEAVE_SLOWER`), else None (the vectoriser's cost model).

    The cost model picks one vector per iteration for long bodies, but a range reduction,
    a polynomial and a reconstruction are one long dependency chain: with four independent
    vectors in flight the typical kernels of ``benchmarks/codegen_kernels.csv`` ran up to
    1.6x faster (see BENCHMARKS.md); arithmetic-only loops keep LLVM's choice.
    """
    if math != "fast" or any(ins.op in INTERLEAVE_SLOWER for ins in program.instrs):
        return None
    calls = sum(ins.op in OPS and OPS[ins.op].llvm[0] == "libm" and _inline_fast(ins.op, program.dtype)
                for ins in program.instrs)
    return FAST_MATH_INTERLEAVE if 0 < calls <= INTERLEAVE_MAX_CALLS else None


def _host_attributes(fn: ir.Function) -> None:
    """``nounwind`` and the host's ``target-cpu`` / ``target-features``."""
    cpu, features = jit.host_cpu()
    fn.attributes.add("nounwind")
    add_attribute(fn.attributes, f'"target-cpu"="{cpu}"')
    add_attribute(fn.attributes, f'"target-features"="{features}"')


def host_function(name: str, params: Sequence[tuple[str, ir.Type]], noalias: Sequence[str] = ()
                  ) -> tuple[ir.Module, ir.Function]:
    """A module holding ``void name(params...)`` for the host CPU (:func:`_host_attributes`),
    its arguments named as in ``params`` (``(label, type)`` pairs), those in ``noalias``
    marked so (native helpers such as the population interpreter)."""
    module = ir.Module(name=name)
    module.triple = jit.triple()
    fn = ir.Function(module, ir.FunctionType(ir.VoidType(), [ty for _, ty in params]), name)
    _host_attributes(fn)
    for arg, (label, _) in zip(fn.args, params):
        arg.name = label
        if label in noalias:
            arg.add_attribute("noalias")
    return module, fn


def _kernel_attributes(fn: ir.Function, program: Program) -> None:
    """Host CPU, ``nounwind``, ``norecurse``, and ``noalias``/``captures(none)`` array arguments."""
    _host_attributes(fn)
    fn.attributes.add("norecurse")
    fn.args[0].name = "n"
    arrays = [a for a in fn.args[1:] if a.type != _BOOL]
    for arg, ident in zip(arrays, program.arg_ids + program.out_ids):
        arg.name = ident
        arg.add_attribute("noalias")
        arg.add_attribute("captures(none)")


def _define_kernel(module: ir.Module, program: Program, name: str, lowering: "Lowering",
                   interleave: int | None, streaming: bool, switch: bool = False) -> ir.Function:
    """``void name(n, in..., out...)``: the element loop, with the streaming path if asked;
    with ``switch`` an ``i1`` after ``n`` allows the streaming path or not."""
    ty = lowering.ty
    pointer = ty.as_pointer()
    n_ptrs = len(program.args) + len(program.outputs)
    params = [_I64] + [_BOOL] * switch + [pointer] * n_ptrs
    fn = ir.Function(module, ir.FunctionType(ir.VoidType(), params), name)
    _kernel_attributes(fn, program)
    arrays = fn.args[1 + switch:]
    n, inputs, outputs = fn.args[0], arrays[:len(program.args)], arrays[len(program.args):]

    def body(b: ir.IRBuilder, i: ir.Value, lowering: Lowering = lowering) -> tuple[list[ir.Value], ir.Value]:
        """The outputs at element ``i`` (the program's instructions, emitted at ``b``) and
        an ``i1``: whether an inline function's argument was beyond its range there."""
        lowering.b = b
        lowering.beyond_range = []
        values = lowering.run(((ins.op, ins.operands, ins.value) for ins in program.instrs),
                              lambda j: b.load(b.gep(inputs[j], [i]), name=program.arg_ids[j]))
        flag = _BOOL(0)
        for beyond in lowering.beyond_range:
            flag = b.or_(flag, beyond)
        return [values[k] for k in program.outputs], flag

    def store_outputs(b, i, results):
        for out, value in zip(outputs, results):
            b.store(value, b.gep(out, [i]))

    def element(b, i):
        results, beyond = body(b, i)
        store_outputs(b, i, results)
        return beyond

    b = ir.IRBuilder(fn.append_basic_block("entry"))
    # where an inline function returns NaN beyond its range (sin, cos, tan), the loops
    # also note whether an argument was beyond it (an or-reduction, which vectorises);
    # such elements are then computed again with the C library
    beyond_seen = None
    if _libm_fixup_needed(program, lowering.math):
        beyond_seen = b.alloca(_BOOL, name="beyond.seen")
        b.store(_BOOL(0), beyond_seen)
    done = fn.append_basic_block("done")
    plain = fn.append_basic_block("plain")
    if streaming:
        stream = fn.append_basic_block("streaming")
        wanted = _streaming_wanted(b, n, len(program.used_args) + len(outputs), outputs, ty)
        b.cbranch(b.and_(fn.args[1], wanted) if switch else wanted, stream, plain)
        _emit_streaming(ir.IRBuilder(stream), n, outputs, ty, body, element, done, interleave, beyond_seen)
    else:
        b.branch(plain)
    b = ir.IRBuilder(plain)
    latch = emit_loop(b, _I64(0), n, element, "loop", beyond_seen)
    if interleave is not None:
        latch.set_metadata("llvm.loop", _interleave_metadata(module, interleave))
    b.branch(done)
    b = ir.IRBuilder(done)
    if beyond_seen is not None:
        _emit_libm_fixup(b, n, beyond_seen, body, store_outputs, Lowering(module, b, ty, "libm", lowering.flags))
    b.ret_void()
    return fn


#: inline fast functions that return NaN where the C library does not (sin, cos and tan
#: beyond ``fastmath.SINCOS_BOUND``): a kernel calling one computes the elements where an
#: argument was beyond that bound again with the C library (:func:`_emit_libm_fixup`)
NAN_BEYOND_RANGE = frozenset({"sin", "cos", "tan"})


def _libm_fixup_needed(program: Program, math: str) -> bool:
    return math == "fast" and any(ins.op in NAN_BEYOND_RANGE and _inline_fast(ins.op, program.dtype)
                                  for ins in program.instrs)


def _emit_libm_fixup(b: ir.IRBuilder, n, beyond_seen, body, store_outputs, libm: "Lowering") -> None:
    """If ``beyond_seen``: a scalar loop (it runs only then) that computes every element
    again with the inline functions' range tests only (the rest is dead code) and, where an
    argument was beyond its range, stores the outputs computed with the C library's
    functions, whose reduction is exact for every argument.  The test is on the
    arguments, not the outputs: ``Max(sin(x), -2)`` or ``sin(x) > 0`` hide the NaN."""
    fn = b.function
    fix, after = fn.append_basic_block("libm.fixup"), fn.append_basic_block("libm.done")
    b.cbranch(b.load(beyond_seen), fix, after)
    b.position_at_end(fix)

    def element(b, i):
        again, next_ = fn.append_basic_block("libm.again"), fn.append_basic_block("libm.next")
        _, beyond = body(b, i)
        b.cbranch(beyond, again, next_)
        b.position_at_end(again)
        store_outputs(b, i, body(b, i, libm)[0])
        b.branch(next_)
        b.position_at_end(next_)
    emit_loop(b, _I64(0), n, element, "libm.loop")
    b.branch(after)
    b.position_at_end(after)


# Streaming (non-temporal) stores: when the arrays a call touches (inputs and outputs)
# are larger than half the last-level cache, they come from memory and will not stay in
# the cache, so the loop computes a block of STREAM_BLOCK elements into an aligned stack
# buffer and copies it to the outputs with aligned non-temporal vector stores.  Those
# skip the read-for-ownership of every output cache line (a third less memory traffic
# for y = f(x)).  Smaller calls, whose data a caller likely reads back from cache, use
# plain stores.
STREAM_BLOCK = 512           # elements per block (4 KiB of float64 per output: stays in L1)
_STREAM_ALIGN = 32           # bytes: one AVX vector; the non-temporal stores need it


def stream_bytes() -> int:
    """Bytes touched by a call from which the streaming path is taken."""
    return jit.last_level_cache_bytes() // 2


def _itemsize(ty: ir.Type) -> int:
    return 8 if isinstance(ty, ir.DoubleType) else 4


def _streaming_supported() -> bool:
    """Non-temporal vector stores and ``sfence``: x86-64 with AVX."""
    _, features = jit.host_cpu()
    return jit.triple().startswith("x86_64") and "+avx" in features.split(",")


def _phase(b: ir.IRBuilder, pointer) -> ir.Value:
    """``pointer``'s byte offset within its vector-aligned block."""
    return b.and_(b.ptrtoint(pointer, _I64), _I64(_STREAM_ALIGN - 1))


def _streaming_wanted(b: ir.IRBuilder, n, arrays: int, outputs, ty) -> ir.Value:
    """``n * itemsize * arrays >= stream_bytes()``, and every output at the same offset
    modulo the vector alignment (so one scalar head aligns them all)."""
    itemsize = _itemsize(ty)
    big = b.icmp_signed(">=", n, _I64(-(-stream_bytes() // (itemsize * arrays))))
    phase = _phase(b, outputs[0])
    for out in outputs[1:]:
        big = b.and_(big, b.icmp_unsigned("==", _phase(b, out), phase))
    return b.and_(big, b.icmp_unsigned("==", b.and_(phase, _I64(itemsize - 1)), _I64(0)))


def _interleave_metadata(module: ir.Module, count: int):
    """A loop ID asking for ``count`` interleaved vectors (LLVM loop IDs refer to themselves)."""
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise ValueError(f"interleave must be a positive integer, not {count!r}")
    option = module.add_metadata([ir.MetaDataString(module, "llvm.loop.interleave.count"), ir.IntType(32)(count)])
    loop_id = module.add_metadata([option])
    loop_id.operands = (loop_id,) + tuple(loop_id.operands)   # llvmlite has no distinct nodes
    return loop_id


def emit_loop(b: ir.IRBuilder, start, stop, emit_body, name: str, any_of=None):
    """``for (i = start; i < stop; ++i) emit_body(b, i)``; ``b`` ends after the loop.
    Returns the loop's latch branch.  ``any_of``: an ``i1`` slot (``alloca``) that the
    or over the iterations of ``emit_body``'s ``i1`` result is or-ed into after the loop
    (a loop-carried reduction, which the vectoriser handles; None: the result is ignored)."""
    fn = b.function
    loop = fn.append_basic_block(name)
    after = fn.append_basic_block(name + ".end")
    before = b.block
    b.cbranch(b.icmp_signed("<", start, stop), loop, after)
    b.position_at_end(loop)
    i = b.phi(_I64, name="i")
    i.add_incoming(start, before)
    if any_of is not None:
        seen = b.phi(_BOOL, name="seen")
        seen.add_incoming(_BOOL(0), before)
    flag = emit_body(b, i)
    if any_of is not None:
        seen_next = b.or_(seen, flag)
        seen.add_incoming(seen_next, b.block)
    following = b.add(i, _I64(1), name="i.next", flags=["nuw", "nsw"])
    i.add_incoming(following, b.block)
    end = b.block
    latch = b.cbranch(b.icmp_signed("<", following, stop), loop, after)
    b.position_at_end(after)
    if any_of is not None:
        total = b.phi(_BOOL, name="seen.total")
        total.add_incoming(_BOOL(0), before)
        total.add_incoming(seen_next, end)
        b.store(b.or_(b.load(any_of), total), any_of)
    return latch


def _emit_streaming(b: ir.IRBuilder, n, outputs, ty, body, element, done, interleave=None,
                    beyond_seen=None) -> None:
    """The streaming path (see :func:`stream_bytes`): a plain head up to the alignment,
    then blocks computed into stack buffers and streamed out, then ``sfence``;
    ``body``, ``element`` (computes and stores element ``i``) and ``beyond_seen`` as in
    :func:`_define_kernel`."""
    itemsize = _itemsize(ty)
    lanes = _STREAM_ALIGN // itemsize
    vector = ir.VectorType(ty, lanes)
    at_entry = ir.IRBuilder()
    at_entry.position_at_start(b.function.entry_basic_block)  # static allocas
    buffers = [at_entry.alloca(ty, STREAM_BLOCK, name=f"block{j}") for j in range(len(outputs))]
    for buffer in buffers:
        buffer.align = 64
    phase = _phase(b, outputs[0])
    head = b.udiv(b.and_(b.sub(_I64(_STREAM_ALIGN), phase), _I64(_STREAM_ALIGN - 1)), _I64(itemsize))
    head = b.select(b.icmp_signed("<", head, n), head, n)
    emit_loop(b, _I64(0), head, element, "head", beyond_seen)

    def block(b, k):
        # one block: elements [start, start + m) with start = head + k * STREAM_BLOCK
        start = b.add(head, b.mul(k, _I64(STREAM_BLOCK)))
        left = b.sub(n, start)
        m = b.select(b.icmp_signed("<", left, _I64(STREAM_BLOCK)), left, _I64(STREAM_BLOCK))

        def compute(b, i):
            results, beyond = body(b, b.add(start, i))
            for buffer, value in zip(buffers, results):
                b.store(value, b.gep(buffer, [i]))
            return beyond
        latch = emit_loop(b, _I64(0), m, compute, "compute", beyond_seen)
        if interleave is not None:
            latch.set_metadata("llvm.loop", _interleave_metadata(b.module, interleave))

        def stream(b, v):
            for buffer, out in zip(buffers, outputs):
                offset = b.mul(v, _I64(lanes))
                source = b.bitcast(b.gep(buffer, [offset]), vector.as_pointer())
                target = b.bitcast(b.gep(out, [b.add(start, offset)]), vector.as_pointer())
                value = b.load(source, align=_STREAM_ALIGN)
                store = b.store(value, target, align=_STREAM_ALIGN)
                store.set_metadata("nontemporal", b.module.add_metadata([ir.IntType(32)(1)]))
        whole = b.udiv(m, _I64(lanes))
        emit_loop(b, _I64(0), whole, stream, "stream")

        def rest(b, i):
            for buffer, out in zip(buffers, outputs):
                b.store(b.load(b.gep(buffer, [i])), b.gep(out, [b.add(start, i)]))
        emit_loop(b, b.mul(whole, _I64(lanes)), m, rest, "rest")

    blocks = b.udiv(b.add(b.sub(n, head), _I64(STREAM_BLOCK - 1)), _I64(STREAM_BLOCK))
    emit_loop(b, _I64(0), blocks, block, "blocks")
    sfence = b.module.globals.get("llvm.x86.sse.sfence") or ir.Function(
        b.module, ir.FunctionType(ir.VoidType(), []), "llvm.x86.sse.sfence")
    b.call(sfence, [])
    b.branch(done)


class Lowering:
    """Builds one operation of :data:`codegen.ops.OPS` at the builder's position."""

    def __init__(self, module: ir.Module, builder: ir.IRBuilder, ty: ir.Type, math: str, flags):
        self.module, self.b, self.ty, self.math, self.flags = module, builder, ty, math, flags
        self.beyond_range: list[ir.Value] = []   # i1 per inline call of NAN_BEYOND_RANGE: argument beyond it
        self.dtype = "float64" if isinstance(ty, ir.DoubleType) else "float32"
        self.suffix = "f64" if isinstance(ty, ir.DoubleType) else "f32"

    def run(self, instrs, arg) -> list[ir.Value]:
        """The values of straight-line instructions ``(op, operands, value)``, emitted in
        order: ``arg(j)`` for argument ``j``, constants, :meth:`op` for the rest."""
        values = []
        for op, operands, value in instrs:
            if op == "arg":
                values.append(arg(int(value)))
            elif op == "const":
                values.append(ir.Constant(self.ty, value))
            else:
                values.append(self.op(op, [values[k] for k in operands]))
        return values

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
        if self.math == "fast" and _inline_fast(name, self.dtype):
            fastmath = _fastmath_module()
            if name in NAN_BEYOND_RANGE:
                # |x| > bound, without fast-math flags (nnan would let LLVM drop the test)
                magnitude = self.b.call(self._declare(f"llvm.fabs.{self.suffix}", 1), operands[:1])
                bound = ir.Constant(self.ty, fastmath.SINCOS_BOUND[self.dtype])
                self.beyond_range.append(self.b.fcmp_ordered(">", magnitude, bound))
            return self._call(fastmath.declare(self.module, name, self.ty), operands)
        c_name = name if self.suffix == "f64" else name + "f"
        if self.math == "libmvec":
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

        Its signature must stay that of the C function, or the attribute (``v`` per
        argument) no longer matches and the verifier aborts the process ("invalid name
        for a VFABI variant").  An ``internal`` function is fair game for interprocedural
        passes: called only with a constant exponent (``x**(1/3)``), IPSCCP propagated
        the constant into it and dead-argument elimination deleted the parameter.  So
        the wrapper has ``linkonce_odr`` linkage (hidden, so a shared library does not
        export it): callers the optimiser cannot see may exist, so it keeps its
        signature, and identical copies from several kernels merge at link time.
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
        fn.linkage = "linkonce_odr hidden"  # llvmlite prints it verbatim; no visibility field
        for attribute in ("nounwind", "readnone", "noinline"):
            fn.attributes.add(attribute)
        add_attribute(fn.attributes, f'"vector-function-abi-variant"='
                                      f'"_ZGV_LLVM_N{lanes}{"v" * arity}_{name}({vector_name})"')
        b = ir.IRBuilder(fn.append_basic_block("entry"))
        zeros = ir.Constant(ir.VectorType(ir.IntType(32), lanes), None)
        splats = [b.shuffle_vector(b.insert_element(ir.Constant(vty, ir.Undefined), x, _I64(0)),
                                   ir.Constant(vty, ir.Undefined), zeros) for x in fn.args]
        b.ret(b.extract_element(b.call(vector, splats), _I64(0)))
        return fn

    def custom(self, name: str, operands):
        if name in ("ldexp", "scalef", "getexp", "getmant", "logb", "significand", "lut16"):
            from . import bits

            return getattr(bits, name)(self.b, self.ty, *operands)
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


def _inline_fast(name: str, dtype: str) -> bool:
    """Whether ``math="fast"`` uses :mod:`codegen.fastmath`'s inline ``name`` (its
    ``ULP_BOUNDS`` is at most 1) rather than the C library call."""
    fastmath = _fastmath_module()
    return fastmath is not None and fastmath.ULP_BOUNDS.get((name, dtype), 2.0) <= 1.0


def emit_llvm_ir(program: Program, math: str = DEFAULT_MATH, fastmath=False, optimize: bool = True,
                 interleave: int | None = None) -> str:
    """The kernel's LLVM IR as text; optimised for the host CPU unless ``optimize=False``."""
    text = str(build_module(program, math, fastmath, interleave))
    return str(jit.optimize(text)) if optimize else text
