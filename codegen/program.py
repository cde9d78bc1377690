"""SymPy expressions -> a straight-line program that every backend lowers the same way.

A :class:`Program` computes ``len(outputs)`` values from ``len(args)`` scalar inputs by
a list of instructions in SSA form (instruction ``k`` may only use results ``< k``).
Each backend (LLVM IR, C, JAX, the tests' NumPy reference) walks the same list, so all
forms round identically: the order of operations is decided here, once.

Choices made here (and so identical in every output form):

* common subexpressions are shared across all outputs (``sympy.cse``, then hash-consing
  of identical instructions),
* sub-expressions without symbols are folded to one constant, rounded once (correctly)
  to the kernel's dtype,
* ``x**n`` for integer ``|n| <= 32`` is repeated squaring (multiplies), negative powers
  divide, ``x**(k/2)`` uses ``sqrt``; other powers call ``pow``,
* ``a - b`` and ``a / b`` are recovered from SymPy's ``a + (-1)*b`` and ``a * b**-1``,
* ``Min``/``Max`` follow C ``fmin``/``fmax`` (a NaN operand is ignored),
* ``Piecewise`` becomes a chain of ``select`` (both branches are computed).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Iterable, Sequence

import mpmath
import numpy as np
import sympy
from tokenize import TokenError

from . import names
from .ops import BY_SYMPY, OPS, PARSE_NAMES, UnsupportedError, unsupported

DTYPES = ("float64", "float32")
MAX_INTEGER_POWER = 32


@dataclass(frozen=True)
class Instr:
    """One SSA instruction.

    ``op`` is ``"arg"`` (``value`` = argument index), ``"const"`` (``value`` = a float,
    exactly representable in the program's dtype) or a key of :data:`codegen.ops.OPS`
    applied to the results of the instructions ``operands``.
    """

    op: str
    operands: tuple[int, ...] = ()
    value: float = 0.0

    @property
    def boolean(self) -> bool:
        return self.op in OPS and OPS[self.op].boolean


@dataclass(frozen=True)
class Program:
    """A kernel body: ``outputs[j]`` indexes the instruction whose value is output ``j``."""

    name: str                   # C identifier of the kernel
    dtype: str                  # "float64" or "float32"
    args: tuple[str, ...]       # argument names as given
    arg_ids: tuple[str, ...]    # their C identifiers
    out_ids: tuple[str, ...]    # C identifiers of the outputs (out0, out1, ...)
    exprs: tuple[sympy.Expr, ...]
    instrs: tuple[Instr, ...]
    outputs: tuple[int, ...]

    @property
    def used_args(self) -> set[int]:
        return {int(ins.value) for ins in self.instrs if ins.op == "arg"}

    def evaluate(self, inputs: Sequence, functions) -> list:
        """Run the program element-wise: ``functions(op) -> callable`` (NumPy, JAX...)."""
        values: list = []
        for ins in self.instrs:
            if ins.op == "arg":
                values.append(inputs[int(ins.value)])
            elif ins.op == "const":
                values.append(functions("const")(ins.value))
            else:
                values.append(functions(ins.op)(*(values[k] for k in ins.operands)))
        return [values[k] for k in self.outputs]


def parse_args(args: str | Sequence[str | sympy.Symbol]) -> list[str]:
    """Argument names from ``"x,y"``, ``["x", "y"]`` or Symbols; duplicates are errors."""
    if isinstance(args, str):
        args = [a.strip() for a in args.split(",") if a.strip()]
    result = [a.name if isinstance(a, sympy.Symbol) else str(a) for a in args]
    if not result:
        raise ValueError("codegen needs at least one argument")
    duplicates = sorted({a for a in result if result.count(a) > 1})
    if duplicates:
        raise ValueError(f"duplicate argument names: {', '.join(duplicates)}")
    return result


def parse_exprs(exprs, args: list[str]) -> tuple[list[sympy.Expr], bool]:
    """Expressions from SymPy objects or strings; returns (list, given_as_single).

    Strings are parsed with every argument name bound to a plain Symbol, so names such as
    ``gamma``, ``beta``, ``I``, ``E``, ``S``, ``N``, ``Q`` are variables, not SymPy objects;
    ``exp2 log2 log10 expm1 log1p hypot`` parse as the C functions of the same names.
    """
    single = isinstance(exprs, (str, sympy.Basic)) or not isinstance(exprs, Iterable)
    items = [exprs] if single else list(exprs)
    if not items:
        raise ValueError("codegen needs at least one expression")
    local = {**PARSE_NAMES, **{name: sympy.Symbol(name) for name in args}}
    parsed = []
    for item in items:
        if isinstance(item, str):
            try:
                item = sympy.sympify(item, locals=local)
            except (sympy.SympifyError, SyntaxError, TokenError):
                raise ValueError(f"cannot parse expression {item!r} (invalid syntax)") from None
            except (TypeError, ValueError, AttributeError) as exc:
                reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
                raise ValueError(f"cannot parse expression {item!r}: {reason}") from None
        else:
            item = sympy.sympify(item)
        if not isinstance(item, sympy.Basic):
            raise TypeError(f"not an expression: {item!r}")
        parsed.append(item)
    return parsed, single


def build(exprs, args, dtype: str = "float64", name: str = "kernel") -> tuple[Program, bool]:
    """Translate expressions over ``args`` into a :class:`Program`; see the module docstring.

    Returns the program and whether ``exprs`` was a single expression (not a list).
    """
    if dtype not in DTYPES:
        raise ValueError(f"dtype must be 'float64' or 'float32', not {dtype!r}")
    arg_names = parse_args(args)
    parsed, single = parse_exprs(exprs, arg_names)
    builder = _Builder(arg_names, dtype)
    replacements, reduced = sympy.cse(parsed, symbols=(sympy.Dummy(f"cse{k}") for k in itertools.count()))
    for symbol, sub in replacements:
        builder.temps[symbol] = builder.expr(sub)
    outputs = tuple(builder.expr(e) for e in reduced)
    out_ids = tuple(f"out{k}" for k in range(len(parsed)))
    ids = names.unique_identifiers([name] + arg_names, taken=set(out_ids))
    program = Program(ids[0], dtype, tuple(arg_names), tuple(ids[1:]), out_ids,
                      tuple(parsed), tuple(builder.instrs), outputs)
    if any(program.instrs[k].boolean for k in outputs):
        raise ValueError("an output is a truth value (a comparison), not a number")
    return program, single


def round_to(value: sympy.Expr, dtype: str) -> float:
    """``value`` (a real SymPy number) correctly rounded to ``dtype`` (as a Python float)."""
    if value in (sympy.oo, -sympy.oo, sympy.nan):
        return float(value)
    if value.has(sympy.zoo) or not value.is_real:
        raise UnsupportedError(f"value {value} is not a real number; codegen computes in real floats")
    exact = sympy.N(value, 60)
    bits = 53 if dtype == "float64" else 24
    with mpmath.workprec(bits):
        rounded = mpmath.mpf(exact._to_mpmath(80))
    return float(np.dtype(dtype).type(float(rounded)))


class _Builder:
    """Hash-consing construction of the instruction list."""

    def __init__(self, args: list[str], dtype: str):
        self.arg_index = {name: k for k, name in enumerate(args)}
        self.dtype = dtype
        self.instrs: list[Instr] = []
        self.seen: dict[Instr, int] = {}
        self.temps: dict[sympy.Symbol, int] = {}

    def emit(self, op: str, *operands: int, value: float = 0.0) -> int:
        ins = Instr(op, tuple(operands), value)
        if ins not in self.seen:
            self.seen[ins] = len(self.instrs)
            self.instrs.append(ins)
        return self.seen[ins]

    def const(self, value) -> int:
        return self.emit("const", value=round_to(sympy.sympify(value), self.dtype))

    def fold(self, op: str, items: list[int]) -> int:
        acc = items[0]
        for item in items[1:]:
            acc = self.emit(op, acc, item)
        return acc

    def expr(self, e: sympy.Basic) -> int:
        if e in self.temps:
            return self.temps[e]
        if isinstance(e, sympy.Symbol):
            if e.name not in self.arg_index:
                raise ValueError(f"expression uses {e.name!r}, which is not among the args "
                                 f"({', '.join(self.arg_index)})")
            return self.emit("arg", value=self.arg_index[e.name])
        if e is sympy.true or e is sympy.false:
            raise UnsupportedError("a constant truth value outside Piecewise is not supported")
        if getattr(e, "is_number", False) and not isinstance(e, sympy.logic.boolalg.Boolean):
            return self.const(e)
        if isinstance(e, sympy.Add):
            return self.add(e)
        if isinstance(e, sympy.Mul):
            return self.mul(e)
        if isinstance(e, sympy.Pow):
            return self.power(self.expr(e.base), e.base, e.exp)
        if isinstance(e, sympy.Piecewise):
            return self.piecewise(e)
        op = BY_SYMPY.get(type(e))
        if op is None:
            raise unsupported(getattr(type(e), "__name__", str(e)))
        operands = [self.expr(a) for a in e.args]
        if op.name in ("minnum", "maxnum", "and", "or"):
            return self.fold(op.name, operands)
        if len(operands) != op.arity:
            raise UnsupportedError(f"{type(e).__name__} with {len(operands)} arguments is not supported")
        return self.emit(op.name, *operands)

    def add(self, e: sympy.Add) -> int:
        numbers = [t for t in e.args if t.is_number]
        terms = [t for t in e.args if not t.is_number]
        if numbers:
            terms.append(sympy.Add(*numbers))
        positive = [self.expr(t) for t in terms if not t.could_extract_minus_sign()]
        negative = [self.expr(-t) for t in terms if t.could_extract_minus_sign()]
        if positive:
            acc = self.fold("add", positive)
        else:
            acc = self.emit("neg", negative.pop(0))
        for item in negative:
            acc = self.emit("sub", acc, item)
        return acc

    def mul(self, e: sympy.Mul) -> int:
        number = sympy.Mul(*[f for f in e.args if f.is_number])
        factors = [f for f in e.args if not f.is_number]
        negate = bool(number.is_negative)
        number = -number if negate else number
        numerator, denominator = [], []
        if isinstance(number, sympy.Rational) and number.q != 1 and not _is_power_of_two(number.q):
            if number.p != 1:
                numerator.append(self.const(number.p))
            denominator.append(self.const(number.q))
        elif number != 1:
            numerator.append(self.const(number))
        for f in factors:
            if isinstance(f, sympy.Pow) and f.exp.is_number and f.exp.is_negative:
                denominator.append(self.power(self.expr(f.base), f.base, -f.exp))
            else:
                numerator.append(self.expr(f))
        acc = self.fold("mul", numerator) if numerator else self.const(1)
        if denominator:
            acc = self.emit("div", acc, self.fold("mul", denominator))
        return self.emit("neg", acc) if negate else acc

    def power(self, base: int, base_expr: sympy.Expr, exponent: sympy.Expr) -> int:
        if exponent.is_number and exponent.is_real:
            value = float(exponent)
            twice = 2 * value
            if twice == int(twice) and abs(value) <= MAX_INTEGER_POWER:
                k = abs(int(twice))
                result = self.integer_power(base, k // 2) if k >= 2 else None
                if k % 2:
                    root = self.emit("sqrt", base)
                    result = root if result is None else self.emit("mul", result, root)
                if result is None:
                    result = self.const(1)
                return self.emit("div", self.const(1), result) if value < 0 else result
        return self.emit("pow", base, self.expr(exponent))

    def integer_power(self, base: int, k: int) -> int:
        """``base**k`` for ``k >= 1`` by repeated squaring (``x**3 = (x*x)*x``)."""
        result, square = None, base
        while k:
            if k & 1:
                result = square if result is None else self.emit("mul", result, square)
            k >>= 1
            if k:
                square = self.emit("mul", square, square)
        return result

    def piecewise(self, e: sympy.Piecewise) -> int:
        pieces = list(e.args)
        result = None
        for value, cond in reversed(pieces):
            if cond is sympy.true:
                result = self.expr(value)
            elif cond is sympy.false:
                continue
            else:
                otherwise = result if result is not None else self.const(sympy.nan)
                result = self.emit("select", self.expr(cond), self.expr(value), otherwise)
        return result if result is not None else self.const(sympy.nan)


def _is_power_of_two(q: int) -> bool:
    return q > 0 and q & (q - 1) == 0
