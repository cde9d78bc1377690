"""Every small expression of a grammar, enumerated up front.

Evolution is good at refining and bad at finding a short law whose constant sits inside
a function (``exp(c x^2)``: a random constant of the wrong sign makes the candidate
useless, and nothing leads from there to the right one).  Small expressions are few, so
the search scores all of them once, with fitted constants, before it evolves (the
"brute force" step of AI Feynman, restricted to small sizes).

Rules that keep the count down without losing a function: no subtree made of constants
alone; ``+`` and ``*`` with their operands in canonical order; no ``a - a`` or ``a / a``;
no ``neg(neg(a))``; at most two unary operators in a row; at most ``max_consts`` constants.  Each constant leaf starts at each
of ``const_starts`` (fitting is local, and the sign of a constant inside a function is
what a local fit cannot change).
"""

from __future__ import annotations

from itertools import product

from .expression import Expr
from .mutate import Grammar
from .operators import CONST, VAR

_PLACEHOLDER = (CONST, float("nan"))


def small_expressions(g: Grammar, max_size: int, budget: int, max_consts: int = 2,
                      const_starts: tuple[float, ...] = (1.0, -1.0)) -> list[Expr]:
    """Expressions of up to ``max_size`` nodes in ``g``, smallest first, at most ``budget``
    of them (a size that would pass the budget is left out whole, so the result never
    depends on an arbitrary cut inside one size)."""
    ops = g.ops
    commutative = {ops.code[n] for n in ("+", "*") if n in ops.code}
    no_twin = {ops.code[n] for n in ("-", "/") if n in ops.code}
    neg = ops.code.get("neg")
    # (expression with placeholders, its constants, unary operators in a row at its root)
    by_size: list[list[tuple[Expr, int, int]]] = [[]]
    by_size.append([(((VAR, i),), 0, 0) for i in range(g.n_vars)] + ([((_PLACEHOLDER,), 1, 0)] if max_consts else []))
    out: list[Expr] = []
    total = 0
    for size in range(1, max_size + 1):
        if size >= 2:
            level: list[tuple[Expr, int, int]] = []
            for code in g.unary:
                for e, k, chain in by_size[size - 1]:
                    if k == len(e) or chain >= 2 or (code == neg and e[-1][0] == neg):
                        continue
                    level.append((e + ((code, 0),), k, chain + 1))
            for code in g.binary:
                for left_size in range(1, size - 1):
                    for a, ka, _ in by_size[left_size]:
                        for b, kb, _ in by_size[size - 1 - left_size]:
                            if ka + kb > max_consts or (ka == len(a) and kb == len(b)):
                                continue
                            if code in commutative and _key(a) > _key(b):
                                continue
                            if code in no_twin and a == b:
                                continue
                            level.append((a + b + ((code, 0),), ka + kb, 0))
            by_size.append(level)
        variants = [v for e, k, _ in by_size[size] for v in _instantiate(e, k, const_starts)]
        if total + len(variants) > budget:
            break
        out.extend(variants)
        total += len(variants)
    return out


def _key(e: Expr) -> tuple:
    """A total order on placeholder expressions (NaN constants compare as equal)."""
    return tuple((code, 0.0 if code == CONST else value) for code, value in e)


def _instantiate(e: Expr, n_consts: int, starts: tuple[float, ...]) -> list[Expr]:
    """``e`` with its placeholders set to every combination of ``starts``."""
    if n_consts == 0:
        return [e]
    out = []
    for values in product(starts, repeat=n_consts):
        it = iter(values)
        out.append(tuple((CONST, next(it)) if code == CONST else (code, value) for code, value in e))
    return out
