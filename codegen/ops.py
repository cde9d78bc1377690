"""The one table of operations codegen understands.

Every operation of a :class:`codegen.program.Program` is declared here once, with

* ``arity`` -- number of operands (all scalars of the kernel's dtype),
* ``sympy`` -- the SymPy function classes that map onto it (empty for the arithmetic
  the SymPy-to-program translation produces itself: add, sub, mul, div, neg),
* ``c`` -- C99 spellings ``(double, float)`` as ``str.format`` templates over the
  operand names ``{0}``, ``{1}``,
* ``llvm`` -- how :mod:`codegen.lower` builds it: ``("binop", "fadd")`` an IR float
  instruction, ``("intrinsic", "llvm.sqrt")`` an LLVM intrinsic (``.f64``/``.f32`` is
  appended; these vectorise), ``("libm", "exp")`` an external C math function (``expf``
  for float; replaced by the inline :mod:`codegen.fastmath` version when
  ``math="fast"``, the default, and its ``fastmath.ULP_BOUNDS`` is <= 1), ``("custom", name)`` a
  small IR sequence written in :mod:`codegen.lower`,
* ``numpy`` / ``jax`` -- dotted paths of the element-wise reference functions (used by
  :mod:`codegen.jax_export` and by the tests' NumPy reference).

Adding an operation is one entry here plus, for ``custom`` lowerings only, one builder.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Callable

import sympy
from sympy.codegen import cfunctions

from .exact import LUT_SHIFT as _LUT_SHIFT
from .exact import LUT_SIZE as _LUT
from .exact import SCALEF_LIMIT as _L


class UnsupportedError(ValueError):
    """An expression uses a function (or value) that codegen cannot lower."""


@dataclass(frozen=True)
class Op:
    """One operation: see the module docstring for the meaning of each field."""

    name: str
    arity: int
    c: tuple[str, str]
    llvm: tuple[str, str]
    numpy: str
    jax: str
    sympy: tuple[type, ...] = ()
    boolean: bool = False  # the result is a truth value (comparisons, and/or/not)


def _libm(name: str, sympy_cls: tuple[type, ...], numpy: str | None = None, arity: int = 1,
          jax: str | None = None) -> Op:
    """An operation lowered to the C math library function ``name`` / ``name + 'f'``."""
    operands = ", ".join(f"{{{k}}}" for k in range(arity))
    numpy = numpy or f"numpy.{name}"
    return Op(name, arity, (f"{name}({operands})", f"{name}f({operands})"), ("libm", name),
              numpy, jax or numpy.replace("numpy", "jax.numpy", 1).replace("scipy", "jax.scipy", 1),
              sympy_cls)


def _intrinsic(name: str, c_name: str, sympy_cls: tuple[type, ...], numpy: str,
               arity: int = 1) -> Op:
    """An operation lowered to the LLVM intrinsic ``llvm.<name>`` (vectorises)."""
    operands = ", ".join(f"{{{k}}}" for k in range(arity))
    return Op(name, arity, (f"{c_name}({operands})", f"{c_name}f({operands})"),
              ("intrinsic", f"llvm.{name}"), numpy, numpy.replace("numpy", "jax.numpy", 1), sympy_cls)


def _arith(name: str, symbol: str, numpy: str) -> Op:
    template = "-{0}" if name == "neg" else f"{{0}} {symbol} {{1}}"
    return Op(name, 1 if name == "neg" else 2, (template, template),
              ("binop", "fneg" if name == "neg" else "f" + name), numpy,
              numpy.replace("numpy", "jax.numpy", 1))


_OPS = [
    _arith("add", "+", "numpy.add"),
    _arith("sub", "-", "numpy.subtract"),
    _arith("mul", "*", "numpy.multiply"),
    _arith("div", "/", "numpy.divide"),
    _arith("neg", "-", "numpy.negative"),
    _intrinsic("sqrt", "sqrt", (), "numpy.sqrt"),
    _intrinsic("fabs", "fabs", (sympy.Abs,), "numpy.fabs"),
    _intrinsic("floor", "floor", (sympy.floor,), "numpy.floor"),
    _intrinsic("ceil", "ceil", (sympy.ceiling,), "numpy.ceil"),
    _intrinsic("minnum", "fmin", (sympy.Min,), "numpy.fmin", arity=2),
    _intrinsic("maxnum", "fmax", (sympy.Max,), "numpy.fmax", arity=2),
    _intrinsic("copysign", "copysign", (), "numpy.copysign", arity=2),
    # fused multiply-add a*b + c, rounded once (no SymPy class: straight-line programs of
    # discover.approx use it; NumPy has no fma, codegen.exact emulates it bit-exactly)
    Op("fma", 3, ("fma({0}, {1}, {2})", "fmaf({0}, {1}, {2})"), ("intrinsic", "llvm.fma"),
       "codegen.exact.fma", "codegen.exact.fma_jax"),
    # exponent-bit operations of range-reduction templates (codegen.bits): x * 2**k for an
    # integer-valued k (clamped) or x * 2**floor(k) for any k, and floor(log2|x|) of a normal x
    _intrinsic("rint", "rint", (), "numpy.rint"),
    Op("ldexp", 2, ("ldexp({0}, (int){1})", "ldexpf({0}, (int){1})"), ("custom", "ldexp"),
       "codegen.exact.ldexp", "codegen.exact.ldexp"),
    Op("scalef", 2, tuple(
        f"(isnan({{1}}) ? {{0}} + {{1}} : isinf({{1}}) ? (isnan({{0}}) && ((union {{{{ {t} f; uint{w}_t u; }}}})"
        f"{{{{ .f = {{0}} }}}}.u >> {m - 1} & 1) ? ({{1}} > 0 ? {{1}} : 0.0{f}) : {{1}} > 0 ? {{0}} * {{1}} : "
        f"{{0}} * 0.0{f}) : scalbn{f}({{0}}, (int)fmax{f}(fmin{f}(floor{f}({{1}}), {_L}.0{f}), -{_L}.0{f})))"
        for t, w, m, f in (("double", 64, 52, ""), ("float", 32, 23, "f"))),
       ("custom", "scalef"), "codegen.exact.scalef", "codegen.exact.scalef"),
    # C's logb and the significand in [3/4, 3/2) for every x (AVX-512's vgetexp, vgetmant)
    Op("getexp", 1, ("logb({0})", "logbf({0})"), ("custom", "getexp"), "codegen.exact.logb",
       "codegen.exact.logb"),
    Op("getmant", 1, tuple(
        f"(isnan({{0}}) || {{0}} < 0 ? NAN : {{0}} == 0 ? copysign{f}(1.0{f}, {{0}}) : isinf({{0}}) ? 1.0{f} : "
        f"ldexp{f}({{0}}, -ilogb{f}({{0}})) >= 1.5{f} ? 0.5{f} * ldexp{f}({{0}}, -ilogb{f}({{0}})) : "
        f"ldexp{f}({{0}}, -ilogb{f}({{0}})))" for f in ("", "f")),
       ("custom", "getmant"), "codegen.exact.getmant", "codegen.exact.getmant"),
    Op("logb", 1, ("logb({0})", "logbf({0})"), ("custom", "logb"), "codegen.exact.logb",
       "codegen.exact.logb"),
    Op("significand", 1, ("ldexp({0}, -ilogb({0}))", "ldexpf({0}, -ilogbf({0}))"),
       ("custom", "significand"), "codegen.exact.significand", "codegen.exact.significand"),
    # table[j] with j the top four fraction bits of the key (codegen.exact.lut16): range
    # reductions index a 16-entry table of constants by the significand (vpermi2pd/vpermps)
    Op("lut16", 1 + _LUT, tuple(
        f"((const {t}[{_LUT}]){{{{{', '.join(f'{{{k}}}' for k in range(1, 1 + _LUT))}}}}})"
        f"[((union {{{{ {t} f; uint{w}_t u; }}}}){{{{ .f = {{0}} }}}}.u >> {_LUT_SHIFT[d]}) & {_LUT - 1}]"
        for t, w, d in (("double", 64, "float64"), ("float", 32, "float32"))),
       ("custom", "lut16"), "codegen.exact.lut16", "codegen.exact.lut16_jax"),
    Op("sign", 1, ("({0} > 0.0 ? 1.0 : ({0} < 0.0 ? -1.0 : {0}))",
                   "({0} > 0.0f ? 1.0f : ({0} < 0.0f ? -1.0f : {0}))"),
       ("custom", "sign"), "numpy.sign", "jax.numpy.sign", (sympy.sign,)),
    _libm("exp", (sympy.exp,)),
    _libm("log", (sympy.log,)),
    _libm("pow", (), "numpy.power", arity=2),
    _libm("sin", (sympy.sin,)),
    _libm("cos", (sympy.cos,)),
    _libm("tan", (sympy.tan,)),
    _libm("asin", (sympy.asin,), "numpy.arcsin"),
    _libm("acos", (sympy.acos,), "numpy.arccos"),
    _libm("atan", (sympy.atan,), "numpy.arctan"),
    _libm("atan2", (sympy.atan2,), "numpy.arctan2", arity=2),
    _libm("sinh", (sympy.sinh,)),
    _libm("cosh", (sympy.cosh,)),
    _libm("tanh", (sympy.tanh,)),
    _libm("asinh", (sympy.asinh,), "numpy.arcsinh"),
    _libm("acosh", (sympy.acosh,), "numpy.arccosh"),
    _libm("atanh", (sympy.atanh,), "numpy.arctanh"),
    _libm("erf", (sympy.erf,), "scipy.special.erf"),
    _libm("erfc", (sympy.erfc,), "scipy.special.erfc"),
    _libm("tgamma", (sympy.gamma,), "scipy.special.gamma"),
    _libm("lgamma", (sympy.loggamma,), "scipy.special.gammaln"),
    _libm("expm1", (cfunctions.expm1,)),
    _libm("log1p", (cfunctions.log1p,)),
    _libm("exp2", (cfunctions.exp2,)),
    _libm("log2", (cfunctions.log2,)),
    _libm("log10", (cfunctions.log10,)),
    _libm("cbrt", (), "numpy.cbrt"),
    _libm("hypot", (cfunctions.hypot,), arity=2),
]


def _compare(name: str, symbol: str, numpy: str, sympy_cls: type) -> Op:
    """A comparison (ordered, except ``ne`` which like C's ``!=`` is true on NaN)."""
    return Op(name, 2, (f"({{0}} {symbol} {{1}})",) * 2, ("fcmp", symbol), numpy,
              numpy.replace("numpy", "jax.numpy", 1), (sympy_cls,), boolean=True)


def _logic(name: str, template: str, numpy: str, sympy_cls: type, arity: int = 2) -> Op:
    return Op(name, arity, (template, template), ("logic", name), numpy,
              numpy.replace("numpy", "jax.numpy", 1), (sympy_cls,), boolean=True)


_OPS += [
    _compare("lt", "<", "numpy.less", sympy.StrictLessThan),
    _compare("le", "<=", "numpy.less_equal", sympy.LessThan),
    _compare("gt", ">", "numpy.greater", sympy.StrictGreaterThan),
    _compare("ge", ">=", "numpy.greater_equal", sympy.GreaterThan),
    _compare("eq", "==", "numpy.equal", sympy.Eq),
    _compare("ne", "!=", "numpy.not_equal", sympy.Ne),
    _logic("and", "({0} && {1})", "numpy.logical_and", sympy.And),
    _logic("or", "({0} || {1})", "numpy.logical_or", sympy.Or),
    _logic("not", "(!{0})", "numpy.logical_not", sympy.Not, arity=1),
    # select(condition, if_true, if_false): Piecewise lowers to a chain of these
    Op("select", 3, ("({0} ? {1} : {2})",) * 2, ("select", "select"), "numpy.where",
       "jax.numpy.where"),
]

#: operation name -> Op
OPS: dict[str, Op] = {op.name: op for op in _OPS}

#: SymPy function class -> Op
BY_SYMPY: dict[type, Op] = {cls: op for op in _OPS for cls in op.sympy}


#: extra names for parsing strings: C functions SymPy only has in sympy.codegen.cfunctions
PARSE_NAMES: dict[str, type] = {cls.__name__: cls for cls in BY_SYMPY
                                if cls.__module__.startswith("sympy.codegen")}


def supported_functions() -> list[str]:
    """Names of the SymPy functions accepted (besides + - * / ** and constants)."""
    return sorted({cls.__name__ for cls in BY_SYMPY} | {"Pow", "sqrt", "Piecewise"})


def unsupported(what: str) -> UnsupportedError:
    """The error for a function or value that has no entry in the table."""
    return UnsupportedError(
        f"function {what!r} is not supported by codegen; supported: "
        + ", ".join(supported_functions()))


def resolve(path: str) -> Callable:
    """Import a dotted path such as ``'jax.numpy.exp'`` (lazily: jax/scipy load on use)."""
    module, _, attr = path.rpartition(".")
    return getattr(importlib.import_module(module), attr)
