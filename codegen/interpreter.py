"""A native interpreter for whole populations of postfix expressions.

The search scores thousands of short-lived candidates per second; compiling each one
(:class:`codegen.Kernel`) costs milliseconds, far more than evaluating it.  This module
compiles, once per operator set, one function that *interprets* any population::

    void NAME(int64_t P, int64_t R, const int32_t *code, const double *value,
              const int64_t *start, const T *X, T *out, T *scratch, T **stack)

``P`` expressions in postfix order, flattened: node ``i`` of the population has code
``code[i]`` and, for a leaf, ``value[i]`` (a constant, or the row of ``X`` of a variable);
expression ``p`` is nodes ``start[p] .. start[p+1]-1``.  ``X`` is ``(n_vars, R)``
row-major, ``out`` is ``(P, R)``.  ``scratch`` holds ``(max_len, TILE)`` values and
``stack`` ``max_len`` pointers, where ``max_len`` is the longest expression.

Rows are processed in tiles of :data:`TILE` (the tile's values of every node of one
expression stay in the L1/L2 cache); within a tile, each node is one vectorised loop::

    constant:  scratch[i] = value           (push)
    variable:  X[v] + t0                    (push a pointer, no copy)
    operator:  scratch[i][r] = f(args...[r]) for r < n   (pop arity, push)

A second function checks what the interpreter trusts, in one pass over the nodes::

    int64_t NAME_check(int64_t P, const int32_t *code, const double *value,
                       const int64_t *start, const int8_t *arity, int64_t n_codes, double n_vars)

``arity[c]`` is code ``c``'s arity, or -1 where ``c`` may not appear; it returns 0 for a
valid population, else an or of :data:`UNKNOWN_CODE`, :data:`VARIABLE_OUTSIDE` (a variable's
row not in ``0 <= v < n_vars``) and :data:`NOT_POSTFIX` (an empty expression, an operator
without its operands, or more than one value left).

``f`` is the operator's straight-line :class:`~codegen.program.Program` lowered exactly as
a kernel lowers it (:mod:`codegen.lower`, inline :mod:`codegen.fastmath` functions within
1 ULP, so the loops vectorise), one ``switch`` case per operator code.  The dispatch
costs one branch per node and tile, against ``TILE`` element operations.
"""

from __future__ import annotations

import ctypes
import threading
from typing import Mapping

import llvmlite.ir as ir
import numpy as np

from . import jit
from .lower import DEFAULT_MATH, emit_loop, float_type, host_function, Lowering
from .program import Program

#: :meth:`Interpreter.check`'s findings, or-ed together (0: valid).
UNKNOWN_CODE, VARIABLE_OUTSIDE, NOT_POSTFIX = 1, 2, 4

#: Rows per tile: a float32 tile is 1 KiB, so a 30-node expression's values take 30 KiB.
TILE = 256

_I32 = ir.IntType(32)
_I64 = ir.IntType(64)


def _emit_program(lowering: Lowering, program: Program, operands: list[ir.Value]) -> ir.Value:
    """The program's single output computed from ``operands`` at the builder's position."""
    values: list[ir.Value] = []
    for ins in program.instrs:
        if ins.op == "arg":
            values.append(operands[int(ins.value)])
        elif ins.op == "const":
            values.append(ir.Constant(lowering.ty, ins.value))
        else:
            values.append(lowering.op(ins.op, [values[k] for k in ins.operands]))
    return values[program.outputs[0]]


def build_module(programs: Mapping[int, Program], const_code: int, var_code: int, dtype: str,
                 name: str = "interpret", math: str = DEFAULT_MATH) -> ir.Module:
    """The module defining the interpreter function (see the module docstring).

    ``programs`` maps each operator code to its program (``len(program.args)`` is the
    operator's arity, one output); ``const_code`` and ``var_code`` are the leaf codes.
    A code that is none of these is skipped (the caller validates codes).
    """
    ty = float_type(dtype)
    ptr = ty.as_pointer()
    module, fn = host_function(name, [("P", _I64), ("R", _I64), ("code", _I32.as_pointer()),
                                      ("value", ir.DoubleType().as_pointer()), ("start", _I64.as_pointer()),
                                      ("X", ptr), ("out", ptr), ("scratch", ptr), ("stack", ptr.as_pointer())],
                               noalias=("code", "value", "start", "X", "out", "scratch", "stack"))
    P, R, code, value, start, X, out, scratch, stack = fn.args

    b = ir.IRBuilder(fn.append_basic_block("entry"))
    sp_slot = b.alloca(_I64, name="sp")
    lowering = Lowering(module, b, ty, math, ())

    def tile(b: ir.IRBuilder, k):
        t0 = b.mul(k, _I64(TILE), name="t0")
        left = b.sub(R, t0)
        n = b.select(b.icmp_signed("<", left, _I64(TILE)), left, _I64(TILE), name="n")

        def expression(b: ir.IRBuilder, p):
            first = b.load(b.gep(start, [p]), name="first")
            last = b.load(b.gep(start, [b.add(p, _I64(1))]), name="last")
            b.store(_I64(0), sp_slot)

            def node(b: ir.IRBuilder, i):
                _emit_node(b, i, b.sub(i, first), n, t0)
            emit_loop(b, first, last, node, "node")
            sp = b.load(sp_slot)
            top = b.load(b.gep(stack, [b.sub(sp, _I64(1))]), name="top")
            row = b.gep(out, [b.add(b.mul(p, R), t0)])
            emit_loop(b, _I64(0), n, lambda b, r: b.store(b.load(b.gep(top, [r])), b.gep(row, [r])), "copy")
        emit_loop(b, _I64(0), P, expression, "expr")

    def push(b: ir.IRBuilder, pointer) -> None:
        sp = b.load(sp_slot)
        b.store(pointer, b.gep(stack, [sp]))
        b.store(b.add(sp, _I64(1)), sp_slot)

    def _emit_node(b: ir.IRBuilder, i, local, n, t0) -> None:
        c = b.load(b.gep(code, [i]), name="c")
        v = b.load(b.gep(value, [i]), name="v")
        dst = b.gep(scratch, [b.mul(local, _I64(TILE))], name="dst")
        done = fn.append_basic_block("node.done")
        switch = b.switch(c, done)

        case = fn.append_basic_block("const")
        switch.add_case(_I32(const_code), case)
        b.position_at_end(case)
        constant = b.fptrunc(v, ty) if dtype == "float32" else v
        emit_loop(b, _I64(0), n, lambda b, r: b.store(constant, b.gep(dst, [r])), "fill")
        push(b, dst)
        b.branch(done)

        case = fn.append_basic_block("var")
        switch.add_case(_I32(var_code), case)
        b.position_at_end(case)
        row = b.fptosi(v, _I64)
        push(b, b.gep(X, [b.add(b.mul(row, R), t0)]))
        b.branch(done)

        for op_code, program in sorted(programs.items()):
            arity = len(program.args)
            case = fn.append_basic_block(f"op{op_code}")
            switch.add_case(_I32(op_code), case)
            b.position_at_end(case)
            sp = b.sub(b.load(sp_slot), _I64(arity))
            args = [b.load(b.gep(stack, [b.add(sp, _I64(j))])) for j in range(arity)]

            def element(b, r, args=args, program=program):
                lowering.b = b
                operands = [b.load(b.gep(a, [r])) for a in args]
                b.store(_emit_program(lowering, program, operands), b.gep(dst, [r]))
            emit_loop(b, _I64(0), n, element, f"op{op_code}.rows")
            b.store(sp, sp_slot)
            push(b, dst)
            b.branch(done)
        b.position_at_end(done)

    tiles = b.sdiv(b.add(R, _I64(TILE - 1)), _I64(TILE))
    emit_loop(b, _I64(0), tiles, tile, "tile")
    b.ret_void()
    _add_check(module, var_code, name + "_check")
    return module


def _add_check(module: ir.Module, var_code: int, name: str) -> None:
    """Define the check function of the module docstring in ``module``."""
    i8, f64 = ir.IntType(8), ir.DoubleType()
    fn = ir.Function(module, ir.FunctionType(_I64, [_I64, _I32.as_pointer(), f64.as_pointer(), _I64.as_pointer(),
                                                    i8.as_pointer(), _I64, f64]), name)
    fn.attributes.add("nounwind")
    P, code, value, start, arity, n_codes, n_vars = fn.args
    b = ir.IRBuilder(fn.append_basic_block("entry"))
    found = b.alloca(_I64, name="found")
    depth_slot = b.alloca(_I64, name="depth")
    b.store(_I64(0), found)

    def flag(b: ir.IRBuilder, condition, bit: int) -> None:
        b.store(b.or_(b.load(found), b.select(condition, _I64(bit), _I64(0))), found)

    def expression(b: ir.IRBuilder, p):
        first = b.load(b.gep(start, [p]))
        last = b.load(b.gep(start, [b.add(p, _I64(1))]))
        b.store(_I64(0), depth_slot)

        def node(b: ir.IRBuilder, i):
            c = b.sext(b.load(b.gep(code, [i])), _I64)
            in_table = b.and_(b.icmp_signed(">=", c, _I64(0)), b.icmp_signed("<", c, n_codes))
            a = b.sext(b.load(b.gep(arity, [b.select(in_table, c, _I64(0))])), _I64)
            known = b.and_(in_table, b.icmp_signed(">=", a, _I64(0)))
            flag(b, b.not_(known), UNKNOWN_CODE)
            v = b.load(b.gep(value, [i]))
            row_ok = b.and_(b.fcmp_ordered(">=", v, f64(0.0)), b.fcmp_ordered("<", v, n_vars))
            flag(b, b.and_(b.icmp_signed("==", c, _I64(var_code)), b.not_(row_ok)), VARIABLE_OUTSIDE)
            depth = b.load(depth_slot)
            operands = b.select(known, a, _I64(0))
            flag(b, b.icmp_signed("<", depth, operands), NOT_POSTFIX)  # pops more than is there
            b.store(b.add(b.sub(depth, operands), _I64(1)), depth_slot)
        emit_loop(b, first, last, node, "node")
        flag(b, b.icmp_signed("!=", b.load(depth_slot), _I64(1)), NOT_POSTFIX)  # also an empty one
    emit_loop(b, _I64(0), P, expression, "expr")
    b.ret(b.load(found))


class Interpreter:
    """The compiled interpreter of one operator set (see the module docstring).

    ``programs`` maps operator codes to one-output programs over their arguments, built
    in ``dtype`` (``"float32"`` or ``"float64"``).  Calling it evaluates a flattened
    population on ``X (n_vars, R)`` and returns ``(P, R)`` values of ``dtype``.
    """

    def __init__(self, programs: Mapping[int, Program], const_code: int, var_code: int,
                 dtype: str = "float32", math: str = DEFAULT_MATH):
        self.dtype = np.dtype(dtype)
        module = build_module(programs, const_code, var_code, dtype, math=math)
        self._engine, address = jit.jit(jit.optimize(str(module)), "interpret")
        p = ctypes.c_void_p
        self._fn = ctypes.CFUNCTYPE(None, ctypes.c_int64, ctypes.c_int64, p, p, p, p, p, p, p)(address)
        self._per_thread = threading.local()
        self._check = ctypes.CFUNCTYPE(ctypes.c_int64, ctypes.c_int64, p, p, p, p, ctypes.c_int64, ctypes.c_double)(
            self._engine.get_function_address("interpret_check"))

    def check(self, code: np.ndarray, value: np.ndarray, start: np.ndarray, arity: np.ndarray, n_vars: int) -> int:
        """What :meth:`__call__` trusts, checked natively (see the module docstring): 0, or
        an or of :data:`UNKNOWN_CODE`, :data:`VARIABLE_OUTSIDE` and :data:`NOT_POSTFIX`.
        ``arity (n_codes,) int8`` is each code's arity, -1 where it may not appear."""
        code = np.ascontiguousarray(code, dtype=np.int32)
        value = np.ascontiguousarray(value, dtype=np.float64)
        start = np.ascontiguousarray(start, dtype=np.int64)
        arity = np.ascontiguousarray(arity, dtype=np.int8)
        return self._check(len(start) - 1, jit.address(code), jit.address(value), jit.address(start),
                           self._kept_address("arity", arity), len(arity), float(n_vars))

    def __call__(self, code: np.ndarray, value: np.ndarray, start: np.ndarray, X: np.ndarray,
                 out: np.ndarray | None = None) -> np.ndarray:
        """Values ``(P, R)`` of the population ``code (N,) int32, value (N,) float64,
        start (P + 1,) int64`` on ``X (n_vars, R)`` (C-contiguous, the interpreter's dtype).

        The codes must be the interpreter's and each expression a valid postfix
        expression whose variables index rows of ``X`` (checked by the caller: this
        call trusts them, as a compiled kernel trusts its pointers).
        """
        code = np.ascontiguousarray(code, dtype=np.int32)
        value = np.ascontiguousarray(value, dtype=np.float64)
        start = np.ascontiguousarray(start, dtype=np.int64)
        X = np.ascontiguousarray(X, dtype=self.dtype)
        P = len(start) - 1
        R = X.shape[1]
        if out is None:
            out = np.empty((P, R), dtype=self.dtype)
        if P and R:
            scratch, stack = self._work(int((start[1:] - start[:-1]).max()))
            self._fn(P, R, jit.address(code), jit.address(value), jit.address(start), self._kept_address("leaves", X),
                     jit.address(out), scratch, stack)
        return out

    def _work(self, longest: int) -> tuple[int, int]:
        """Addresses of the scratch (``longest`` tiles) and the stack (``longest``
        pointers) of a call, kept per thread and grown as longer expressions come (one
        interpreter serves every search of a process, a threaded Dask worker's too)."""
        mine = self._per_thread
        if longest > getattr(mine, "longest", 0):
            mine.longest = max(longest, 2 * getattr(mine, "longest", 0))
            mine.scratch = np.empty(mine.longest * TILE, dtype=self.dtype)
            mine.stack = np.empty(mine.longest, dtype=np.uintp)
            mine.addresses = mine.scratch.ctypes.data, mine.stack.ctypes.data
        return mine.addresses

    def _kept_address(self, slot: str, array: np.ndarray) -> int:
        """``array``'s data address; this thread's last array in ``slot`` is kept with its
        address, since a search calls with the same leaves and tables again and again."""
        kept = self._per_thread.__dict__
        entry = kept.get(slot)
        if entry is None or entry[0] is not array:
            entry = kept[slot] = (array, jit.address(array))
        return entry[1]
