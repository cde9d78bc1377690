"""Expression text to SymPy without running arbitrary Python code.

``sympy.sympify`` (and ``parse_expr``) end in Python's ``eval``: a formula string such as
``__import__('os').system('...')``, or ``exec(chr(112) + ...)`` built without quotes,
runs when parsed. Formulas come from files that people share (result JSON, PySR CSV)
and from the command line, so every text the project parses goes through
:func:`sympify_text`, which first checks the tokens: numbers; the operators of
arithmetic, comparison and logic; parentheses and commas; and names that are given
(``names``), that SymPy defines as an expression, function or constant, or that are
new (they become symbols). Rejected with a ValueError: strings, attribute access (``.``),
subscripts, ``=``, ``:``, ``;``, ``lambda`` and other keywords, names starting with
``_``, Python's built-in functions that SymPy does not define (``exec``, ``eval``,
``getattr``, ``chr``, ``open``...), SymPy's non-expression helpers (``sympify``,
``lambdify``, ``preview``...) and control characters (sympify deletes newlines before it
evaluates, which would join ``ex`` and ``ec`` into ``exec``); then, with the tokens known
to be safe, powers of numbers too large to evaluate (``10**10**10`` hangs SymPy).
:func:`check_text` is the whole check, for callers with a parser of their own.
"""

from __future__ import annotations

import builtins
import io
import keyword
import math
import tokenize
import unicodedata
from collections.abc import Mapping

import sympy

__all__ = ["check_text", "sympify_text"]

#: operator tokens a formula may use (``^`` is a power, as in sympify's default)
_OPERATORS = frozenset("+ - * / ** ^ % // ( ) , < > <= >= == != & | ~".split())
_LITERALS = frozenset({"True", "False"})
#: allowed although not SymPy expressions: ``abs`` and ``pow`` (built-ins giving ``Abs``, ``Pow``), ``S(1)/3``, ``N(pi)``
_ALSO_ALLOWED = frozenset({"abs", "pow", "S", "N"})


def _expression_name(name: str) -> bool:
    """Whether SymPy's top-level ``name`` is an expression, a function or a constant
    (classes of expressions, and the plain functions of ``sympy.functions`` such as ``sqrt``)."""
    value = getattr(sympy, name)
    return (isinstance(value, sympy.Basic) or (isinstance(value, type) and issubclass(value, sympy.Basic))
            or (callable(value) and getattr(value, "__module__", "").startswith("sympy.functions.")))


def check_text(text: str, names: Mapping[str, object] | None = None) -> None:
    """ValueError (one line, naming the token or the power) unless ``text`` holds only what
    a formula needs and no power of numbers too large to evaluate (module docstring);
    ``names`` are allowed whatever they are."""
    given = names or {}
    # a formula is one line: sympify deletes newlines before it evaluates (so "ex\nec" would
    # pass as two names and run as exec), and no control character has a use in one
    bad = next((c for c in text if unicodedata.category(c) in ("Cc", "Zl", "Zp")), None)
    if bad is not None:
        raise ValueError(f"the control character {bad!r} has no place in a formula (a formula is one line)")
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(text).readline))
    except (tokenize.TokenError, SyntaxError, IndentationError) as exc:
        raise ValueError(f"invalid syntax ({exc.args[0] if exc.args else exc})") from None
    for token in tokens:
        kind, value = token.type, token.string
        if kind in (tokenize.NUMBER, tokenize.NEWLINE, tokenize.NL, tokenize.ENDMARKER,
                    tokenize.INDENT, tokenize.DEDENT):
            continue
        if kind == tokenize.OP:
            if value not in _OPERATORS:
                raise ValueError(f"{value!r} has no place in a formula")
            continue
        if kind != tokenize.NAME:
            raise ValueError(f"{value!r} has no place in a formula")
        if value in given or value in _LITERALS or value in _ALSO_ALLOWED:
            continue
        if keyword.iskeyword(value) or value.startswith("_"):
            raise ValueError(f"{value!r} is not a name a formula may use")
        if hasattr(sympy, value):
            if not _expression_name(value):
                raise ValueError(f"{value!r} is a SymPy helper, not a function or constant of a formula")
        elif hasattr(builtins, value):
            raise ValueError(f"{value!r} is a Python built-in, not a function of a formula")
    _check_number_powers(text, given)   # parses: only after the tokens are known to be safe


#: the largest power of numbers a formula may spell out, in decimal digits (``10**10**10``
#: would take SymPy minutes and gigabytes to evaluate)
MAX_POWER_DIGITS = 10_000


def _check_number_powers(text: str, names: Mapping[str, object]) -> None:
    """ValueError when a power of numbers in ``text`` (parsed unevaluated) has more than
    :data:`MAX_POWER_DIGITS` digits: ``log10|b**e|`` is estimated from the inside out in
    floating point, so nothing large is computed."""
    try:
        expr = sympy.sympify(text, locals=dict(names), evaluate=False)
    except Exception:  # noqa: BLE001 - bad syntax: the caller's own parse says what is wrong
        return

    def log10_size(node) -> float:
        """log10 of |node| for a number or a power of numbers (NaN for anything else)."""
        if isinstance(node, sympy.Pow):
            base, exponent = log10_size(node.base), _magnitude(node.exp)
            return base * exponent if base == base and exponent == exponent else float("nan")
        value = _magnitude(node)
        return math.log10(value) if value == value and value > 0 else float("nan")

    def _magnitude(node) -> float:
        """|node| as a float for a number or a power of numbers (inf when huge, NaN otherwise)."""
        if isinstance(node, sympy.Pow):
            size = log10_size(node)
            return float("nan") if size != size else (math.inf if size > 300 else 10.0 ** size)
        if isinstance(node, sympy.Number):
            return abs(float(node))
        if isinstance(node, (sympy.Mul, sympy.Add)):   # -10**10, 10**10 + 1: bounded by the parts
            parts = [_magnitude(a) for a in node.args]
            if any(p != p for p in parts):
                return float("nan")
            return math.prod(parts) if isinstance(node, sympy.Mul) else len(parts) * max(parts)
        return float("nan")

    for node in sympy.preorder_traversal(expr):
        if isinstance(node, sympy.Pow):
            size = log10_size(node)
            if size == size and abs(size) > MAX_POWER_DIGITS:
                raise ValueError(f"the power {node} of numbers is too large to evaluate (about 10**{size:.3g})")


def sympify_text(text: str, names: Mapping[str, object] | None = None, **options) -> sympy.Basic:
    """``sympy.sympify(text, locals=names, **options)`` after :func:`check_text`."""
    check_text(text, names)
    return sympy.sympify(text, locals=dict(names or {}), **options)
