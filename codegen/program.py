"""SymPy expressions -> a straight-line program that every backend lowers the same way.

A :class:`Program` computes ``len(outputs)`` values from ``len(args)`` scalar inputs by
a list of instructions in SSA form (instruction ``k`` may only use results ``< k``).
Each backend (LLVM IR, C, JAX, the tests' NumPy reference) walks the same list, so all
forms round identically: the order of operations is decided here, once.

Choices made here (and so identical in every output form):

* sums and products are evaluated in the expression's printed order -- the order in
  which ``sympy.lambdify`` (and ``str``) write it: an ``Add`` term by term in
  ``as_ordered_terms()`` order, left to right, a term printed with a minus subtracted;
  a ``Mul`` as the printer writes it, numerator factors in ``as_ordered_factors()``
  order, left to right, divided by the product of the denominator factors (those with
  a negative rational exponent) -- so a kernel computes what NumPy computes for the
  lambdified expression, not a reordering of it (on ill-conditioned sums such as
  Heron's formula a reordering can cost thousands of ULPs).  Departures, each at least
  as accurate: a leading run of number factors (or terms), which Python would combine
  in float64 first, is one correctly rounded constant; ``x/q`` (SymPy's ``(1/q)*x``,
  ``q`` an integer exact in the dtype) is one correctly rounded division; ``-a + b``
  is ``b - a`` (the same value),
* identical subexpressions are computed once, across all outputs (hash-consing of
  identical instructions); ``sympy.cse`` is not used, as its sharing of partial sums
  and products would regroup them,
* sub-expressions without symbols are folded to one constant, rounded once (correctly)
  to the kernel's dtype,
* ``x**(n/d)`` for ``d`` in 1, 2, 3 and ``|n/d| <= 32`` uses no ``pow``: ``sqrt``, ``cbrt``
  (with ``pow``'s special values) and products, with the rounding errors carried so the
  result is within about half a unit like ``pow`` (:meth:`_Builder.rational_power`);
  other powers call ``pow``,
* ``Min``/``Max`` follow C ``fmin``/``fmax`` (a NaN operand is ignored),
* ``Piecewise`` becomes a chain of ``select`` (both branches are computed).
"""

from __future__ import annotations

import keyword
import math
from dataclasses import dataclass
from typing import Iterable, Sequence

import mpmath
import numpy as np
import sympy
from tokenize import TokenError

from . import names
from .ops import BY_SYMPY, OPS, PARSE_NAMES, UnsupportedError, unsupported
from .text import sympify_text

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
    """Argument names from ``"x,y"``, ``["x", "y"]``, Symbols or one Symbol; duplicates are errors."""
    if isinstance(args, str):
        args = [a.strip() for a in args.split(",") if a.strip()]
    elif isinstance(args, sympy.Symbol):
        args = [args]
    elif not isinstance(args, Iterable):
        raise TypeError(f"args must be names as a string ('x,y') or a sequence of names or Symbols, not {args!r}")
    result = [a.name if isinstance(a, sympy.Symbol) else str(a) for a in args]
    if not result:
        raise ValueError("codegen needs at least one argument (a kernel maps arrays to arrays)")
    if "" in result:
        raise ValueError(f"an argument name is empty in {args!r}")
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
    unusable = [name for name in args if not name.isidentifier() or keyword.iskeyword(name)]
    parsed = []
    for item in items:
        if isinstance(item, str):
            if unusable:
                raise ValueError(f"argument name {unusable[0]!r} cannot be written in an expression string (not an "
                                 "identifier, or a Python keyword): rename it, or pass SymPy expressions of Symbols")
            shown = item if len(item) <= 80 else item[:60] + "..." + item[-12:]
            try:
                item = sympify_text(item, local)
            except RecursionError:
                raise ValueError(f"cannot parse expression {shown!r}: nested too deeply for the parser; "
                                 "build it as a SymPy expression instead") from None
            except (sympy.SympifyError, SyntaxError, TokenError) as exc:
                if "too many nested" in str(exc):
                    raise ValueError(f"cannot parse expression {shown!r}: nested too deeply for Python's parser; "
                                     "build it as a SymPy expression instead") from None
                raise ValueError(f"cannot parse expression {shown!r} (invalid syntax)") from None
            except (TypeError, ValueError, AttributeError) as exc:
                reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
                raise ValueError(f"cannot parse expression {shown!r}: {reason}") from None
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
    outputs = tuple(builder.expr(e) for e in parsed)
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
    with np.errstate(over="ignore"):   # beyond float32's range: inf, as the C cast gives
        return float(np.dtype(dtype).type(float(rounded)))


class _Builder:
    """Hash-consing construction of the instruction list."""

    def __init__(self, args: list[str], dtype: str):
        self.arg_index = {name: k for k, name in enumerate(args)}
        self.dtype = dtype
        self.instrs: list[Instr] = []
        self.seen: dict[Instr, int] = {}
        self.built: dict[sympy.Basic, int] = {}  # expression -> its instruction

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
        if e not in self.built:
            self.built[e] = self._expr(e)
        return self.built[e]

    def _expr(self, e: sympy.Basic) -> int:
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

    def _leading_numbers(self, items: list[sympy.Expr], combine) -> list:
        """``items`` with its leading run of numbers (two or more) as one SymPy number."""
        k = 0
        while k < len(items) and items[k].is_number:
            k += 1
        return [combine(*items[:k])] + items[k:] if k >= 2 else items

    def add(self, e: sympy.Add) -> int:
        """The terms in printed order, left to right: ``t0 + t1 - t2 ...`` where a term
        printed with a leading minus (negative coefficient or number) is subtracted."""
        terms = self._leading_numbers(list(e.as_ordered_terms()), sympy.Add)
        signs = [_printed_negative(t) for t in terms]
        magnitudes = [self.expr(-t if negative else t) for t, negative in zip(terms, signs)]
        if not signs[0]:
            acc = magnitudes[0]
        elif len(terms) > 1 and not signs[1]:  # -t0 + t1 is exactly t1 - t0
            acc = self.emit("sub", magnitudes[1], magnitudes[0])
            terms, signs, magnitudes = terms[1:], signs[1:], magnitudes[1:]
        else:
            acc = self.emit("neg", magnitudes[0])
        for negative, item in zip(signs[1:], magnitudes[1:]):
            acc = self.emit("sub" if negative else "add", acc, item)
        return acc

    def mul(self, e: sympy.Mul) -> int:
        """As the printer writes it: ``[-]n0*n1*.../(d0*d1*...)``, left to right; ``dk`` are
        the factors with a negative rational exponent (``y/x**(3/2)``), the others in
        ``as_ordered_factors()`` order are the numerator."""
        coefficient, rest = e.as_coeff_Mul()
        negate = bool(coefficient.is_extended_negative)
        positive = sympy.core.mul._keep_coeff(-coefficient, rest) if negate else e
        numerator, denominator = [], []
        for factor in positive.as_ordered_factors():
            if (factor.is_Pow and factor.is_commutative and factor.exp.is_Rational
                    and factor.exp.is_negative):
                denominator.append(factor)
            else:
                numerator.append(factor)
        numerator = self._leading_numbers(numerator, sympy.Mul)
        reciprocal = numerator[0] if len(numerator) == 2 and not denominator else None
        if (isinstance(reciprocal, sympy.Rational) and reciprocal.p == 1
                and not _is_power_of_two(reciprocal.q) and self._exact(reciprocal.q)):
            # (1/q)*x as x/q: correctly rounded, where RN(1/q)*x rounds twice
            acc = self.emit("div", self.expr(numerator[1]), self.const(reciprocal.q))
        else:
            acc = self.fold("mul", [self.expr(f) for f in numerator]) if numerator else self.const(1)
            if denominator:
                divisors = [self.power(self.expr(f.base), f.base, -f.exp) for f in denominator]
                acc = self.emit("div", acc, self.fold("mul", divisors))
        return self.emit("neg", acc) if negate else acc

    def _exact(self, q: int) -> bool:
        """Whether the integer ``q`` is exactly representable in the dtype."""
        return abs(q) <= 2 ** (53 if self.dtype == "float64" else 24)

    def power(self, base: int, base_expr: sympy.Expr, exponent: sympy.Expr) -> int:
        """``base**exponent``: ``n/d`` with ``d`` in 1, 2, 3 and ``|n/d| <= MAX_INTEGER_POWER``
        without ``pow`` (see :meth:`rational_power`), any other exponent by ``pow``.  A float
        exponent counts as ``n/d`` when it is the double nearest to it (``x**(2/3)`` written
        in Python reaches SymPy as ``x**0.6666666666666666``)."""
        if exponent.is_number and exponent.is_real:
            value = float(exponent)
            for d in (1, 2, 3):
                n = round(value * d)
                if abs(value) <= MAX_INTEGER_POWER and n / d == value:
                    return self.rational_power(base, n, d)
        return self.emit("pow", base, self.expr(exponent))

    def rational_power(self, base: int, n: int, d: int) -> int:
        """``x**(n/d)`` for ``d`` in 1, 2, 3, within about half a unit, 0.75 for subnormal
        results (NumPy's ``pow`` rounds once; a chain of roundings would not): ``x**(1/2)``,
        ``x**(1/3)`` and ``x**2`` round once; otherwise the root ``r`` (``x``, ``sqrt(x)`` or
        ``cbrt(x)``) of ``x`` scaled into the middle of the range (:meth:`_scaled_for_power`)
        is carried as a pair ``r + rl`` (``rl`` from the root's exact residual), ``r**|n|`` by repeated
        squaring of pairs (each product's rounding error recovered by ``fma``), and
        ``1/(h + l)`` for negative ``n`` corrected by one Newton step.  Where the plain
        chain is not finite and non-zero (overflow, ``0``, ``inf``, NaN) its own value is
        the result, so the special values are the plain chain's."""
        k = abs(n)
        if k == 0:
            return self.const(1)
        if n == 1 and d == 3:
            return self.cube_root(base)
        if n == 1 and d == 2:
            return self.emit("sqrt", base)
        if d == 1 and (k == 1 or n == 2):
            plain = self.integer_power(base, k)
            return plain if n > 0 else self.emit("div", self.const(1), plain)
        scaled, back = self._scaled_for_power(base, n, d)
        hi, lo = self._root_pair(scaled, d)
        hi, lo = self._pair_power(hi, lo, k)
        if n < 0:
            q = self.emit("div", self.const(1), hi)
            e = self.emit("fma", self.emit("neg", hi), q, self.const(1))     # 1 - hi q, exact
            e = self.emit("fma", self.emit("neg", lo), q, e)                 # - lo q
            value = self.emit("select", self._finite_nonzero(q), self.emit("fma", q, e, q), q)
        else:
            value = self.emit("select", self._finite_nonzero(hi), self.emit("add", hi, lo), hi)
        return self.emit("mul", value, back)

    def _scaled_for_power(self, x: int, n: int, d: int) -> tuple[int, int]:
        """``(x', f)`` with ``x**(n/d) = x'**(n/d) * f`` and ``|x'**(n/d)|`` between about
        ``2**(-emax/2)`` and ``2**(emax/2)`` wherever the result is finite and non-zero:
        ``x' = x 2**-c``, ``f = 2**(c n/d)`` where ``|x| > 2**S`` (``S = emax / (2 max(|n/d|, 1))``,
        ``c`` the multiple of ``d`` nearest ``S``), ``x 2**c`` and ``2**(-c n/d)`` where
        ``|x| < 2**-S``, else ``x`` and 1.  The scalings by powers of two are exact, and the
        final product by ``f`` rounds once more (into subnormals: up to 0.75 ULP there, a value
        already rounded to the full precision rounded again; or to inf); without them the
        pair's products overflowed where the result is subnormal (``x**-2`` was 0 at 1e154,
        whose exact value 5.5e-309 is a double) and lost their low parts to underflow
        near the ends of the range (``x**-32`` 5.5 ULP, ``x**32`` 1.4 ULP)."""
        emax = 1024 if self.dtype == "float64" else 128
        power = abs(n) / d
        limit = emax / (2 * max(power, 1))   # |n/d| < 1: still scale subnormals up to normal numbers
        c = max(d, d * round(limit / d))
        step = c * n // d                          # x**(n/d) scales by 2**step when x scales by 2**c
        two = sympy.Integer(2)
        magnitude = self.emit("fabs", x)
        large = self.emit("gt", magnitude, self.const(two ** math.floor(limit)))
        small = self.emit("lt", magnitude, self.const(two ** -math.floor(limit)))
        factor = self.emit("select", large, self.const(two ** -c),
                           self.emit("select", small, self.const(two ** c), self.const(1)))
        back = self.emit("select", large, self.const(two ** step),
                         self.emit("select", small, self.const(two ** -step), self.const(1)))
        return self.emit("mul", x, factor), back

    def _finite_nonzero(self, v: int) -> int:
        """``0 < |v| < inf`` (false for NaN)."""
        magnitude = self.emit("fabs", v)
        return self.emit("and", self.emit("lt", magnitude, self.const(sympy.oo)),
                         self.emit("gt", magnitude, self.const(0)))

    def _root_pair(self, x: int, d: int) -> tuple[int, int]:
        """``x**(1/d) = r + rl`` to about twice the dtype's precision (``rl`` is 0 where ``r``
        is 0, inf or NaN): ``sqrt``: ``rl = (x - r*r) / 2r``; ``cbrt``: ``rl = (x - r**3) /
        3r*r`` with ``r**3`` as an exact-enough pair."""
        if d == 1:
            return x, self.const(0)
        zero = self.const(0)
        if d == 2:
            # C's pow for a non-integer exponent: +0 at -0, and -inf as +inf (x + 0 is +0 at -0)
            x = self.emit("add", self.emit("select", self.emit("eq", x, self.const(-sympy.oo)),
                                           self.const(sympy.oo), x), self.const(0))
            r = self.emit("sqrt", x)
            residual = self.emit("fma", self.emit("neg", r), r, x)
            scale = self.emit("mul", self.const(2), r)
        else:
            r = self.cube_root(x)
            r2 = self.emit("mul", r, r)
            r2l = self.emit("fma", r, r, self.emit("neg", r2))
            t = self.emit("mul", r2, r)
            tl = self.emit("fma", r2l, r, self.emit("fma", r2, r, self.emit("neg", t)))
            residual = self.emit("sub", self.emit("sub", self.emit("fabs", x), t), tl)
            scale = self.emit("mul", self.const(3), r2)
        rl = self.emit("select", self._finite_nonzero(r), self.emit("div", residual, scale), zero)
        return r, rl

    def _pair_power(self, hi: int, lo: int, k: int) -> tuple[int, int]:
        """``(hi + lo)**k``, ``k >= 1``, by repeated squaring: ``hi`` is the plain chain of
        products, ``lo`` collects each product's error (``fma``) and the first-order terms."""
        result, square = None, (hi, lo)
        while k:
            if k & 1:
                result = square if result is None else self._pair_mul(result, square)
            k >>= 1
            if k:
                square = self._pair_mul(square, square)
        return result

    def _pair_mul(self, a: tuple[int, int], b: tuple[int, int]) -> tuple[int, int]:
        """``(ah + al)(bh + bl) = p + e``: ``p = ah bh`` rounded, ``e = (ah bh - p) + ah bl + al bh``."""
        (ah, al), (bh, bl) = a, b
        p = self.emit("mul", ah, bh)
        e = self.emit("fma", ah, bh, self.emit("neg", p))
        e = self.emit("fma", ah, bl, e)
        return p, self.emit("fma", al, bh, e)

    def cube_root(self, base: int) -> int:
        """``x**(1/3)`` as C99 ``pow(x, 1/3.)`` defines it (NaN for finite ``x < 0``, ``+0``
        at ``-0``, ``+inf`` at ``-inf``), from ``cbrt(|x|)``: within the cbrt's bound of the
        real cube root (0.6 ULP by default, glibc's 4), where ``pow`` with the rounded
        exponent ``1/3.`` is off it by a further ``|log x| * 2**-55`` relative (0.2 ULP at
        ``x = 10``, 20 ULP at ``1e100``); the default float64 kernel is also 2.5x faster."""
        root = self.emit("cbrt", self.emit("fabs", base))
        negative = self.emit("and", self.emit("lt", base, self.const(0)),
                             self.emit("gt", base, self.const(-sympy.oo)))
        return self.emit("select", negative, self.const(sympy.nan), root)

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


def _printed_negative(term: sympy.Expr) -> bool:
    """Whether the printer writes ``term`` of a sum with a leading minus (then it is
    subtracted): a negative number, or a product with a negative number coefficient."""
    if term.is_Number:
        return bool(term.is_extended_negative)
    if term.is_Mul:
        return bool(term.as_coeff_Mul()[0].is_extended_negative)
    return False
