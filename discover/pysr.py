"""PySR's ``hall_of_fame.csv``: read one into a :class:`~discover.result.FitResult`, write
a result's front as one.

PySR (SymbolicRegression.jl) checkpoints its Pareto front, simplest first, as::

    Complexity,Loss,Equation
    1,4.6211,"x0"
    5,0.0107,"((x0 * x0) * 2.5) + cos(x1)"

Older versions wrote ``|``-separated columns ``Complexity|MSE|Equation``, unquoted.  A
CSV saved from PySR's ``equations_`` DataFrame (``model.equations_.to_csv(path)``: an
index column, then complexity, loss, score, equation, sympy_format, lambda_format) reads
too.  Columns are found by name, case-insensitively: ``complexity``, ``loss`` (or
``MSE``) and ``equation``; others are ignored, and ``score`` is recomputed.

Equations are in PySR's (Julia's) syntax: ``^`` is a power, numbers may be Julia
literals (``2.5f0``, ``1.0e-5``, ``Inf``, ``NaN``) and functions have PySR's names
(``square``, ``cube``, ``neg``, ``inv``, ``plus``, ``mult``, ``safe_log``, ``relu``, ...:
:data:`PYSR_FUNCTIONS`), translated to SymPy as PySR's own ``export_sympy`` does.  An
unknown function is an error, never a silent undefined SymPy function.

Variables: ``variables`` (the input names in column order) when given; otherwise the
names found in the equations: ``x0 ... x{n-1}`` (every index up to the largest one
used, so ``x3`` alone means four inputs) when all are ``x<k>``, else all names sorted
(natural order).  A CSV does not record the column order of named variables: pass
``variables`` when it matters (e.g. for the argument order of a kernel).

The result's ``selected`` row follows PySR's ``model_selection="best"`` rule
(:func:`search.pareto.select`; the row count is unknown, so no small-sample AICc).
"""

from __future__ import annotations

import csv
import io
import math
import os
import re
from pathlib import Path

import sympy
from sympy.parsing.sympy_parser import convert_xor, parse_expr, standard_transformations
from sympy.printing.str import StrPrinter

from codegen.text import check_text

from .atomic import write_text_atomic
from .errors import UserError
from .result import Equation, FitResult, parse_equation

#: PySR's operator names -> SymPy (the same meaning as PySR's ``export_sympy``).
PYSR_FUNCTIONS = {
    "plus": lambda x, y: x + y,
    "sub": lambda x, y: x - y,
    "mult": lambda x, y: x * y,
    "div": lambda x, y: x / y,
    "pow": lambda x, y: x**y,
    "safe_pow": lambda x, y: x**y,
    "pow_abs": lambda x, y: sympy.Abs(x) ** y,
    "neg": lambda x: -x,
    "inv": lambda x: 1 / x,
    "square": lambda x: x**2,
    "cube": lambda x: x**3,
    "sqrt": sympy.sqrt,
    "safe_sqrt": sympy.sqrt,
    "sqrt_abs": lambda x: sympy.sqrt(sympy.Abs(x)),
    "cbrt": sympy.cbrt,
    "exp": sympy.exp,
    "log": sympy.log,
    "safe_log": sympy.log,
    "log2": lambda x: sympy.log(x, 2),
    "safe_log2": lambda x: sympy.log(x, 2),
    "log10": lambda x: sympy.log(x, 10),
    "safe_log10": lambda x: sympy.log(x, 10),
    "log1p": lambda x: sympy.log(x + 1),
    "safe_log1p": lambda x: sympy.log(x + 1),
    "log_abs": lambda x: sympy.log(sympy.Abs(x)),
    "sin": sympy.sin, "cos": sympy.cos, "tan": sympy.tan,
    "sinh": sympy.sinh, "cosh": sympy.cosh, "tanh": sympy.tanh,
    "asin": sympy.asin, "acos": sympy.acos, "atan": sympy.atan,
    "asinh": sympy.asinh, "acosh": sympy.acosh, "safe_acosh": sympy.acosh, "atanh": sympy.atanh,
    "abs": sympy.Abs,
    "sign": sympy.sign,
    "erf": sympy.erf, "erfc": sympy.erfc,
    "gamma": sympy.gamma,
    "floor": sympy.floor, "ceil": sympy.ceiling,
    "round": lambda x: sympy.ceiling(x - sympy.Rational(1, 2)),
    "mod": sympy.Mod,
    "max": sympy.Max, "min": sympy.Min,
    "relu": lambda x: sympy.Piecewise((0, x < 0), (x, True)),
    "greater": lambda x, y: sympy.Piecewise((1, x > y), (0, True)),
    "cond": lambda x, y: sympy.Piecewise((y, x > 0), (0, True)),
}

_CONSTANTS = {"Inf": sympy.oo, "Inf32": sympy.oo, "Inf64": sympy.oo, "NaN": sympy.nan, "NaN32": sympy.nan,
              "NaN64": sympy.nan, "pi": sympy.pi}

# A number (consumed first, so the 'e' of 1e-5 is not a name) or a name.
_TOKEN = re.compile(r"(?P<number>(?:\d+\.?\d*|\.\d+)(?:[eEfF][+-]?\d+)?)|(?P<name>[^\W\d]\w*)(?P<call>\s*\()?")
_JULIA_FLOAT = re.compile(r"(?<![\w.])((?:\d+\.?\d*|\.\d+))[fF]([+-]?\d+)\b")
_X_NAME = re.compile(r"x(\d+)")
_TRANSFORMS = standard_transformations + (convert_xor,)


def read_hall_of_fame(path: str | os.PathLike, variables: list[str] | None = None) -> FitResult:
    """Read a PySR hall-of-fame CSV (module docstring) into a :class:`FitResult`.

    ``variables``: the input names in column order (default: found in the equations).
    The result's ``equations[i].sympy`` strings parse back with
    :func:`discover.result.parse_equation` over ``result.variables``; a missing or
    malformed file is a :class:`~discover.errors.UserError`.
    """
    path = Path(path)
    rows = _read_rows(path)
    names = _names_used(rows)
    if variables is None:
        variables = _default_variables(names)
    else:
        variables = [str(v) for v in variables]
        unknown = sorted(names - set(variables))
        if unknown:
            raise UserError(f"{path}: the equations use {', '.join(unknown)}, which are not among the "
                            f"variables given ({', '.join(variables)})")
    symbols = {name: sympy.Symbol(name) for name in variables}
    equations = [(lineno, complexity, loss, _to_sympy(text, symbols, f"{path} line {lineno}"))
                 for lineno, complexity, loss, text in rows]
    equations.sort(key=lambda e: e[1])
    return _fit_result([(c, loss, expr) for _, c, loss, expr in equations], variables, path)


def write_hall_of_fame(result: FitResult, path: str | os.PathLike) -> None:
    """Write ``result``'s front to ``path`` as PySR writes ``hall_of_fame.csv``
    (``Complexity,Loss,Equation``, equations quoted, in Julia syntax), atomically."""
    out = io.StringIO()
    out.write("Complexity,Loss,Equation\n")
    for eq in result.equations:
        expr = parse_equation(eq.sympy, result.variables)
        out.write(f'{int(eq.complexity)},{float(eq.loss)!r},"{julia_string(expr)}"\n')
    write_text_atomic(path, out.getvalue())


def julia_string(expr: sympy.Expr) -> str:
    """``expr`` in the syntax of PySR's equations (``^`` for powers, Julia's names)."""
    return _JuliaPrinter().doprint(expr)


def pysr_to_sympy(text: str, variables: list[str]) -> sympy.Expr:
    """One equation in PySR's syntax as SymPy over ``variables`` (module docstring)."""
    return _to_sympy(text, {name: sympy.Symbol(name) for name in variables}, "equation")


# --------------------------------------------------------------------------- reading


def _read_rows(path: Path) -> list[tuple[int, int, float, str]]:
    """``(line number, complexity, loss, equation text)`` of every data row."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise UserError(f"PySR hall-of-fame file not found: {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"cannot read {path} as a PySR hall-of-fame CSV ({exc})") from None
    lines = [(i + 1, line) for i, line in enumerate(text.splitlines()) if line.strip()]
    if not lines:
        raise UserError(f"{path} is empty; a PySR hall of fame starts with the header Complexity,Loss,Equation")
    header_no, header = lines[0]
    delimiter = "|" if "|" in header and "," not in header else ","
    columns = [c.strip().lower() for c in next(csv.reader([header], delimiter=delimiter))]
    try:
        ic = columns.index("complexity")
        il = columns.index("loss") if "loss" in columns else columns.index("mse")
        ie = columns.index("equation")
    except ValueError:
        raise UserError(f"{path} is not a PySR hall of fame: its header has {', '.join(columns) or 'no columns'}; "
                        "expected Complexity, Loss (or MSE) and Equation") from None
    rows = []
    for lineno, line in lines[1:]:
        cells = next(csv.reader([line], delimiter=delimiter))
        if ie == len(columns) - 1 and len(cells) > len(columns):  # an unquoted equation with commas
            cells = cells[:ie] + [delimiter.join(cells[ie:])]
        if len(cells) != len(columns):
            raise UserError(f"{path} line {lineno}: {len(cells)} fields, but the header has {len(columns)}")
        try:
            complexity = float(_julia_floats(cells[ic].strip()))
            loss = float(_julia_floats(cells[il].strip()))
        except ValueError:
            raise UserError(f"{path} line {lineno}: complexity {cells[ic]!r} and loss {cells[il]!r} "
                            "must be numbers") from None
        if complexity != int(complexity) or complexity < 1:
            raise UserError(f"{path} line {lineno}: complexity {cells[ic]!r} is not a positive integer")
        rows.append((lineno, int(complexity), loss, cells[ie].strip()))
    if not rows:
        raise UserError(f"{path} has a header but no equations")
    return rows


def _julia_floats(text: str) -> str:
    """Julia's Float32 literals (``2.5f0``, ``1.0f-5``) as Python's (``2.5e0``)."""
    return _JULIA_FLOAT.sub(r"\1e\2", text)


def _names_used(rows) -> set[str]:
    """The variable names the equations use (names not called as functions)."""
    names = set()
    for _, _, _, text in rows:
        for m in _TOKEN.finditer(text):
            if m.group("name") and not m.group("call") and m.group("name") not in _CONSTANTS:
                names.add(m.group("name"))
    return names


def _default_variables(names: set[str]) -> list[str]:
    indices = [_X_NAME.fullmatch(n) for n in names]
    if names and all(indices):
        return [f"x{k}" for k in range(max(int(m.group(1)) for m in indices) + 1)]
    return sorted(names, key=lambda n: [int(p) if p.isdigit() else p for p in re.split(r"(\d+)", n)])


def _to_sympy(text: str, symbols: dict[str, sympy.Symbol], where: str) -> sympy.Expr:
    """Parse one equation; unknown functions and bad syntax are UserErrors naming ``where``."""
    for m in _TOKEN.finditer(text):
        if m.group("call") and m.group("name") not in PYSR_FUNCTIONS:
            raise UserError(f"{where}: unknown operator {m.group('name')!r} in {text!r}; known: "
                            f"{', '.join(sorted(PYSR_FUNCTIONS))}")
        if m.group("name") and not m.group("call") and m.group("name") not in symbols and m.group("name") not in _CONSTANTS:
            raise UserError(f"{where}: unknown variable {m.group('name')!r} in {text!r}")
    local = {**PYSR_FUNCTIONS, **_CONSTANTS, **symbols}
    python_text = _julia_floats(text)
    try:
        check_text(python_text, local)
        expr = parse_expr(python_text, local_dict=local, transformations=_TRANSFORMS)
    except Exception as exc:  # SymPy raises many kinds (SyntaxError, TokenError, TypeError, ...)
        raise UserError(f"{where}: cannot parse equation {text!r} ({type(exc).__name__}: {exc})".splitlines()[0]) from None
    if not isinstance(expr, sympy.Expr):
        raise UserError(f"{where}: {text!r} is not an expression")
    return expr


def _fit_result(front: list[tuple[int, float, sympy.Expr]], variables: list[str], path: Path) -> FitResult:
    from search.pareto import Member, scores, select

    kept = _pareto(front)
    if not kept:
        raise UserError(f"{path}: no equation has a finite loss")
    members = [Member((), loss, complexity) for complexity, loss, _ in kept]
    equations = [Equation(c, loss, score, str(expr)) for (c, loss, expr), score in zip(kept, scores(members))]
    source = f"PySR hall of fame {path.name}"
    if len(kept) < len(front):
        source += (f" ({len(front) - len(kept)} of its {len(front)} rows left out: a loss that is not finite, "
                   "or no lower than that of a simpler row)")
    return FitResult(
        data=None, target="y", variables=list(variables), settings={"source": source},
        equations=equations, selected=select(members, "best"), model_selection="best",
    )


def _pareto(front: list[tuple[int, float, sympy.Expr]]) -> list[tuple[int, float, sympy.Expr]]:
    """The rows of ``front`` (sorted by complexity) that form a Pareto front: a finite
    loss, lower than every simpler row's (of equal complexities the lowest); PySR's own
    files are such fronts, and model selection and scores assume one."""
    kept: list[tuple[int, float, sympy.Expr]] = []
    for row in sorted(front, key=lambda r: (r[0], r[1])):
        if not math.isfinite(row[1]) or (kept and (row[1] >= kept[-1][1] or row[0] == kept[-1][0])):
            continue
        kept.append(row)
    return kept


# --------------------------------------------------------------------------- writing


class _JuliaPrinter(StrPrinter):
    """SymPy's ``str`` with ``^`` for ``**`` and the names PySR / Julia use."""

    def _print_Pow(self, expr, rational=False):
        return super()._print_Pow(expr, rational).replace("**", "^")

    def _print_Abs(self, expr):
        return f"abs({self._print(expr.args[0])})"

    def _print_ceiling(self, expr):
        return f"ceil({self._print(expr.args[0])})"

    def _print_Mod(self, expr):
        return f"mod({self._print(expr.args[0])}, {self._print(expr.args[1])})"

    def _print_Max(self, expr):
        return self._nested("max", expr.args)

    def _print_Min(self, expr):
        return self._nested("min", expr.args)

    def _nested(self, name: str, args) -> str:
        text = self._print(args[0])
        for a in args[1:]:
            text = f"{name}({text}, {self._print(a)})"
        return text

    def _print_Piecewise(self, expr):
        """PySR's ``relu``, ``greater`` and ``cond``, which the reader makes Piecewise;
        SymPy may have turned the condition around (``relu(-x)`` reads ``x > 0``)."""
        pieces = expr.args
        if len(pieces) == 2 and pieces[1][1] == sympy.true and isinstance(pieces[0][1], (sympy.StrictGreaterThan,
                                                                                          sympy.StrictLessThan)):
            (a, condition), (b, _) = pieces
            big, small = ((condition.lhs, condition.rhs) if isinstance(condition, sympy.StrictGreaterThan)
                          else (condition.rhs, condition.lhs))           # the condition is big > small
            if a == 0 and sympy.expand(big - small + b) == 0:            # 0 where b < 0, else b
                return f"relu({self._print(b)})"
            if a == 1 and b == 0:
                return f"greater({self._print(big)}, {self._print(small)})"
            if b == 0:
                return f"cond({self._print(big - small)}, {self._print(a)})"
        raise UserError(f"{expr} has no spelling in PySR's equations (only relu, greater and cond "
                        "are piecewise there)")

    def _print_Float(self, expr):
        """The shortest digits of the double (``0.5123``, not SymPy's ``0.512300000000000``)."""
        return repr(float(expr))

    def _print_Exp1(self, expr):
        return "exp(1)"

    def _print_Infinity(self, expr):
        return "Inf"

    def _print_NegativeInfinity(self, expr):
        return "-Inf"

    def _print_NaN(self, expr):
        return "NaN"
