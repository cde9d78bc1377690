"""The JIT-compiled kernel as a Python callable on NumPy arrays.

``kernel(*arrays, out=None)`` evaluates every output element-wise.  Arguments are
arrays of the kernel's dtype, all of one shape (any number of dimensions), or real
scalars (broadcast).  Results have that shape (a NumPy scalar when every argument is a
scalar).  ``out=`` takes an array (one output) or a tuple of arrays (one per output),
C-contiguous, writeable, of the kernel's dtype and the common shape; an ``out`` that
overlaps an input or another output is computed through a temporary.

Calling costs one or two microseconds: a small JIT-compiled CPython builtin
(``METH_FASTCALL``) ``NAME__py(in0, ..., out0, ..., n) -> int`` reads the data pointers
from the array objects (NumPy's ``PyArrayObject.data``, offset probed at import), checks
that no output overlaps another array (returns 1 without computing if one does), calls
``NAME(n, in0, ..., out0, ...)`` -- releasing the GIL for ``n >= GIL_RELEASE`` -- and
returns 0.  The Python side checks types, dtypes, shapes and contiguity first.
"""

from __future__ import annotations

import ctypes
import functools
import numbers

import llvmlite.ir as ir
import numpy as np

from . import jit
from .lower import build_module, fastmath_flags
from .program import Program

_I64, _I32, _I8 = ir.IntType(64), ir.IntType(32), ir.IntType(8)


GIL_RELEASE = 1 << 16  # kernels on at least this many elements release the GIL


@functools.cache
def _array_data_offset() -> int:
    """Offset in bytes of the data pointer in NumPy's array object (``PyArray_DATA``)."""
    probe = (np.zeros(3), np.zeros(5))
    for offset in range(8, 129, 8):
        if all(ctypes.c_void_p.from_address(id(a) + offset).value == a.ctypes.data for a in probe):
            return offset
    raise RuntimeError("unexpected NumPy array layout; codegen kernels cannot be called")


def _add_trampoline(module: ir.Module, kernel: ir.Function, n_in: int, n_out: int, itemsize: int) -> str:
    """Add the builtin ``NAME__py(in0, ..., out0, ..., n) -> int`` (CPython METH_FASTCALL).

    Reads each array's data pointer, returns 1 (computing nothing) if an output overlaps
    another array, else runs the kernel -- releasing the GIL when ``n >= GIL_RELEASE`` --
    and returns 0.  Only public C API functions are called.
    """
    data = _array_data_offset()
    byte = _I8.as_pointer()
    fn = ir.Function(module, ir.FunctionType(byte, [byte, byte.as_pointer(), _I64]), kernel.name + "__py")
    _, args, _ = fn.args
    b = ir.IRBuilder(fn.append_basic_block("entry"))

    def declare(name, result, params):
        return module.globals.get(name) or ir.Function(module, ir.FunctionType(result, params), name)

    def data_pointer(k):
        obj = b.load(b.gep(args, [_I64(k)]))
        return b.load(b.bitcast(b.gep(obj, [_I64(data)]), kernel.args[1].type.as_pointer()))

    pointers = [data_pointer(k) for k in range(n_in + n_out)]
    n = b.call(declare("PyLong_AsLongLong", _I64, [byte]), [b.load(b.gep(args, [_I64(n_in + n_out)]))])
    nbytes = b.mul(n, _I64(itemsize))
    overlap = ir.Constant(ir.IntType(1), 0)
    for j in range(n_in, n_in + n_out):
        start = b.ptrtoint(pointers[j], _I64)
        for other in pointers[:j]:
            other_start = b.ptrtoint(other, _I64)
            hit = b.and_(b.icmp_unsigned("<", start, b.add(other_start, nbytes)),
                         b.icmp_unsigned("<", other_start, b.add(start, nbytes)))
            overlap = b.or_(overlap, hit)
    status = b.zext(overlap, _I64)
    with b.if_then(b.not_(overlap)):
        with b.if_else(b.icmp_signed(">=", n, _I64(GIL_RELEASE))) as (release, keep):
            with release:
                state = b.call(declare("PyEval_SaveThread", byte, []), [])
                b.call(kernel, [n] + pointers)
                b.call(declare("PyEval_RestoreThread", ir.VoidType(), [byte]), [state])
            with keep:
                b.call(kernel, [n] + pointers)
    b.ret(b.call(declare("PyLong_FromLongLong", byte, [_I64]), [status]))
    return fn.name


class _MethodDef(ctypes.Structure):
    _fields_ = [("ml_name", ctypes.c_char_p), ("ml_meth", ctypes.c_void_p),
                ("ml_flags", ctypes.c_int), ("ml_doc", ctypes.c_char_p)]


_METH_FASTCALL = 0x0080


def _builtin(address: int, name: str):
    """A Python builtin function object calling the METH_FASTCALL function at ``address``."""
    definition = _MethodDef(name.encode(), address, _METH_FASTCALL, None)
    new = ctypes.pythonapi.PyCFunction_NewEx
    new.restype = ctypes.py_object
    new.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p]
    return new(ctypes.addressof(definition), None, None), definition


class Kernel:
    """A compiled element-wise kernel; call it on arrays (see the module docstring).

    Attributes: ``name``, ``args`` (names), ``dtype`` (``numpy.dtype``), ``n_outputs``,
    ``math``, ``fastmath`` (the flags applied), ``program``, ``llvm_ir`` (optimised IR
    text, including the trampoline), ``address`` (of the C-ABI function
    ``void NAME(int64_t n, const T *in..., T *out...)``).
    """

    def __init__(self, program: Program, single: bool, math: str = "libm", fastmath=False):
        self.program = program
        self.name = program.name
        self.args = program.args
        self.dtype = np.dtype(program.dtype)
        self.n_outputs = len(program.outputs)
        self.math = math
        self.fastmath = fastmath_flags(fastmath)
        self._single = single
        module = build_module(program, math, fastmath)
        kernel_fn = module.globals[program.name]
        trampoline = _add_trampoline(module, kernel_fn, len(program.args), self.n_outputs,
                                     self.dtype.itemsize)
        optimized = jit.optimize(str(module))
        self.llvm_ir = str(optimized)
        self._engine, self.address = jit.jit(optimized, program.name)
        self._fast, self._method_def = _builtin(self._engine.get_function_address(trampoline),
                                                trampoline)

    def __repr__(self) -> str:
        return (f"<codegen.Kernel {self.name}({', '.join(self.args)}) -> {self.n_outputs} output(s), "
                f"{self.dtype}, math={self.math!r}>")

    def __call__(self, *args, out=None):
        # fast path: 1-d arrays of the kernel's dtype, one length, C-contiguous, valid out
        dtype, ndarray = self.dtype, np.ndarray
        if len(args) == len(self.args) and args[0].__class__ is ndarray:
            shape = args[0].shape
            if out is None:
                outputs = tuple([np.empty(shape, dtype) for _ in range(self.n_outputs)])
            elif out.__class__ is ndarray and self._single:
                outputs = (out,)
            else:
                outputs = tuple(out) if isinstance(out, (tuple, list)) else ()
            if len(outputs) == self.n_outputs:
                for a in args + outputs:
                    if a.__class__ is not ndarray or a.dtype is not dtype or a.shape != shape \
                            or not a.flags.c_contiguous:
                        break
                else:
                    if (out is None or all(o.flags.writeable for o in outputs)) and shape != () \
                            and not self._fast(*args, *outputs, args[0].size):
                        return outputs[0] if self._single else outputs
        return self._call_general(args, out)

    def _call_general(self, args, out):
        """Validate, convert (scalars, non-contiguous arrays), handle overlapping outputs."""
        if len(args) != len(self.args):
            raise TypeError(f"{self.name}() takes {len(self.args)} arguments "
                            f"({', '.join(self.args)}), got {len(args)}")
        dtype = self.dtype
        shape = None
        arrays = list(args)
        scalars = []
        for k, a in enumerate(args):
            if type(a) is np.ndarray and a.ndim:
                if a.dtype != dtype:
                    raise TypeError(f"argument {self.args[k]!r} has dtype {a.dtype}; "
                                    f"this kernel takes {dtype} arrays")
                if shape is None:
                    shape = a.shape
                elif a.shape != shape:
                    raise ValueError(f"argument {self.args[k]!r} has shape {a.shape}, but an earlier "
                                     f"argument has shape {shape}; array arguments must have one shape")
                if not a.flags.c_contiguous:
                    arrays[k] = np.ascontiguousarray(a)
            else:
                scalars.append(k)
        if shape is None:
            shape = ()
        for k in scalars:
            arrays[k] = np.full(shape, self._scalar(k, args[k]), dtype)
        outputs = self._outputs(out, shape)
        n = arrays[0].size
        if self._fast(*arrays, *outputs, n):
            # an output overlaps another array: compute into fresh arrays, then copy
            fresh = tuple(np.empty(shape, dtype) for _ in outputs)
            self._fast(*arrays, *fresh, n)
            for target, value in zip(outputs, fresh):
                np.copyto(target, value)
        if out is None and shape == ():
            outputs = tuple(o[()] for o in outputs)
        return outputs[0] if self._single else outputs

    def _scalar(self, k: int, value):
        if isinstance(value, np.ndarray):  # 0-d array
            value = value[()]
        if isinstance(value, (numbers.Real, np.floating, np.integer, np.bool_)):
            return value
        raise TypeError(f"argument {self.args[k]!r} must be a NumPy array or a real scalar, "
                        f"not {type(value).__name__}")

    def _outputs(self, out, shape) -> tuple:
        if out is None:
            return tuple(np.empty(shape, self.dtype) for _ in range(self.n_outputs))
        if isinstance(out, np.ndarray):
            out = (out,)
        if not isinstance(out, (tuple, list)) or len(out) != self.n_outputs:
            raise TypeError(f"out must be {'an array' if self._single else 'a tuple'} of "
                            f"{self.n_outputs} array(s) for this kernel")
        for j, o in enumerate(out):
            if type(o) is not np.ndarray:
                raise TypeError(f"out[{j}] must be a NumPy array, not {type(o).__name__}")
            if o.dtype != self.dtype:
                raise TypeError(f"out[{j}] has dtype {o.dtype}; this kernel writes {self.dtype}")
            if o.shape != shape:
                raise ValueError(f"out[{j}] has shape {o.shape}; the arguments' shape is {shape}")
            if not (o.flags.c_contiguous and o.flags.writeable):
                raise ValueError(f"out[{j}] must be a C-contiguous, writeable array")
        return tuple(out)
