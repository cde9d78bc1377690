"""The JIT-compiled kernel as a Python callable on NumPy arrays.

``kernel(*arrays, out=None)`` evaluates every output element-wise.  Arguments are
arrays of the kernel's dtype, all of one shape (any number of dimensions), or real
scalars (broadcast).  Results have that shape (a NumPy scalar when every argument is a
scalar).  ``out=`` takes an array (one output) or a tuple of arrays (one per output),
C-contiguous, writeable, of the kernel's dtype and the common shape; an ``out`` that
overlaps an input or another output is computed through a temporary.

Calling costs about a microsecond plus ~0.2 us per array: a small JIT-compiled
trampoline ``NAME__py(n, tuple_of_inputs, tuple_of_outputs) -> i32`` reads the data
pointers straight from the tuple and array objects (CPython's tuple item offset and
NumPy's ``PyArrayObject.data`` offset, both probed at import), checks that no output
overlaps another array (returns 1 without computing if one does) and calls
``NAME(n, in0, ..., out0, ...)``.  ctypes releases the GIL during the call.
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


@functools.cache
def _object_offsets() -> tuple[int, int]:
    """(offset of a tuple's first item, offset of an ndarray's data pointer) in bytes."""
    items = tuple.__basicsize__
    probe = (np.zeros(3), np.zeros(5))
    if ctypes.c_void_p.from_address(id(probe) + items).value != id(probe[0]):
        raise RuntimeError("unexpected CPython tuple layout; codegen kernels cannot be called")
    for offset in range(8, 129, 8):
        if all(ctypes.c_void_p.from_address(id(a) + offset).value == a.ctypes.data for a in probe):
            return items, offset
    raise RuntimeError("unexpected NumPy array layout; codegen kernels cannot be called")


def _add_trampoline(module: ir.Module, kernel: ir.Function, n_in: int, n_out: int, itemsize: int) -> str:
    """Add ``i32 NAME__py(i64 n, tuple *ins, tuple *outs)`` (see the module docstring)."""
    items, data = _object_offsets()
    byte = _I8.as_pointer()
    fn = ir.Function(module, ir.FunctionType(_I32, [_I64, byte, byte]), kernel.name + "__py")
    fn.attributes.add("nounwind")
    n, ins, outs = fn.args
    b = ir.IRBuilder(fn.append_basic_block("entry"))

    def data_pointer(tup, k):
        obj = b.load(b.bitcast(b.gep(tup, [_I64(items + 8 * k)]), byte.as_pointer()))
        return b.load(b.bitcast(b.gep(obj, [_I64(data)]), kernel.args[1].type.as_pointer()))

    inputs = [data_pointer(ins, k) for k in range(n_in)]
    outputs = [data_pointer(outs, k) for k in range(n_out)]
    nbytes = b.mul(n, _I64(itemsize))
    overlap = ir.Constant(ir.IntType(1), 0)
    for j, out in enumerate(outputs):
        start = b.ptrtoint(out, _I64)
        end = b.add(start, nbytes)
        for other in inputs + outputs[:j]:
            other_start = b.ptrtoint(other, _I64)
            other_end = b.add(other_start, nbytes)
            hit = b.and_(b.icmp_unsigned("<", start, other_end), b.icmp_unsigned("<", other_start, end))
            overlap = b.or_(overlap, hit)
    with b.if_then(overlap, likely=False):
        b.ret(_I32(1))
    b.call(kernel, [n] + inputs + outputs)
    b.ret(_I32(0))
    return fn.name


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
        entry = self._engine.get_function_address(trampoline)
        self._call = ctypes.CFUNCTYPE(ctypes.c_int32, ctypes.c_int64, ctypes.py_object,
                                      ctypes.py_object)(entry)

    def __repr__(self) -> str:
        return (f"<codegen.Kernel {self.name}({', '.join(self.args)}) -> {self.n_outputs} output(s), "
                f"{self.dtype}, math={self.math!r}>")

    def __call__(self, *args, out=None):
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
        n = arrays[0].size if arrays else 0
        if self._call(n, tuple(arrays), outputs):
            # an output overlaps another array: compute into fresh arrays, then copy
            fresh = tuple(np.empty(shape, dtype) for _ in outputs)
            self._call(n, tuple(arrays), fresh)
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
