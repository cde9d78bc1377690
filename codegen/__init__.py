"""Expressions -> fast element-wise kernels: JIT (LLVM), C, object file, shared library, JAX.

Every form computes the same function with the same signature::

    void NAME(int64_t n, const T *arg0, ..., T *out0, ...)   /* T = double or float */

``outj[i] = exprs[j](arg0[i], ...)`` for ``0 <= i < n``; arrays must not overlap.

``exprs`` is one SymPy expression (or string) or a list of them (outputs share common
subexpressions and are computed in one pass); ``args`` lists the argument names in
order (``"x,y"``, ``["x", "y"]`` or Symbols).  Strings are parsed with every argument
name bound to a plain Symbol.  This package imports neither ``discover`` nor ``search``.

Modules: :mod:`.ops` (the operation table), :mod:`.program` (SymPy -> straight-line
program), :mod:`.lower` (program -> LLVM IR), :mod:`.jit` (target machine, passes,
MCJIT), :mod:`.kernel` (the callable), :mod:`.c_source`, :mod:`.native` (object and
shared library), :mod:`.jax_export`.  See ``docs/codegen.md``.
"""

from __future__ import annotations

from .kernel import Kernel
from .lower import DEFAULT_MATH, FASTMATH_FLAGS, MATH_MODES
from .ops import UnsupportedError, supported_functions
from .program import build as _build

__all__ = [
    "compile", "emit_llvm_ir", "emit_c", "emit_header", "emit_object", "emit_shared_library",
    "to_jax", "Kernel", "UnsupportedError", "FASTMATH_FLAGS", "MATH_MODES", "DEFAULT_MATH",
    "supported_functions",
]


def compile(exprs, args, dtype: str = "float64", fastmath=False, math: str = DEFAULT_MATH,
            name: str = "kernel") -> Kernel:
    """JIT-compile ``exprs`` over ``args`` for the host CPU; returns a callable :class:`Kernel`.

    ``dtype``: ``"float64"`` or ``"float32"`` (all arithmetic in that type).
    ``math``: ``"fast"`` (the default, :data:`DEFAULT_MATH`: every function within 1 ULP --
    the inline vectorisable versions of :mod:`codegen.fastmath` where they are, by
    ``fastmath.ULP_BOUNDS``, else one scalar C library call), ``"libm"`` (one scalar C
    library call per element: exact libm semantics, bit-identical to the C source) or
    ``"libmvec"`` (glibc's AVX2 vector functions where it has one -- measured within 4 ULP
    of the scalar function -- else the scalar function). ``fastmath``: False, True (all
    flags) or a set of LLVM fast-math flag names (see :data:`FASTMATH_FLAGS`).
    """
    program, single = _build(exprs, args, dtype, name)
    return Kernel(program, single, math, fastmath)


def emit_llvm_ir(exprs, args, dtype: str = "float64", fastmath=False, math: str = DEFAULT_MATH,
                 name: str = "kernel", optimize: bool = True) -> str:
    """LLVM IR text of the kernel function (optimised for the host unless ``optimize=False``)."""
    from .lower import emit_llvm_ir as emit

    return emit(_build(exprs, args, dtype, name)[0], math, fastmath, optimize)


def emit_c(exprs, args, dtype: str = "float64", name: str = "kernel") -> tuple[str, str]:
    """Self-contained C99 source and its header, as ``(source, header)``."""
    from . import c_source as c

    program = _build(exprs, args, dtype, name)[0]
    return c.source(program), c.header(program)


def emit_header(exprs, args, dtype: str = "float64", name: str = "kernel") -> str:
    """The C header declaring the kernel (the same for C, object and shared library)."""
    from . import c_source as c

    return c.header(_build(exprs, args, dtype, name)[0])


def emit_object(exprs, args, dtype: str = "float64", fastmath=False, math: str = DEFAULT_MATH,
                name: str = "kernel") -> tuple[bytes, str]:
    """ELF object file (position independent, host CPU) and its header: ``(bytes, header)``."""
    from . import c_source as c
    from . import native

    program = _build(exprs, args, dtype, name)[0]
    return native.object_code(program, math, fastmath), c.header(program)


def emit_shared_library(exprs, args, dtype: str = "float64", fastmath=False, math: str = DEFAULT_MATH,
                        name: str = "kernel") -> tuple[bytes, str]:
    """Shared library (the object linked by ``cc -shared ... -lm``) and header: ``(bytes, header)``."""
    from . import c_source as c
    from . import native

    program = _build(exprs, args, dtype, name)[0]
    return native.shared_library(program, math, fastmath), c.header(program)


def to_jax(exprs, args, dtype: str = "float64"):
    """A JAX function ``f(*arrays)`` of the args (one array, or a tuple for a list of exprs)."""
    from . import jax_export

    program, single = _build(exprs, args, dtype)
    return jax_export.function(program, single)
