"""The built-in operators' names and arities, the default choice, and how a list of
names is read, without the operators' implementations: what must be known before
anything is computed (the command line's help, defaults and ``--operators`` check), so
importing this loads no JAX, NumPy or SymPy.

:data:`search.operators.BUILTIN` is the table itself (functions, SymPy forms, costs); it
checks when imported that its operators are these, in this order, and its
:meth:`~search.operators.OperatorSet.split_by_arity` is :func:`split_names`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

__all__ = ["ALIASES", "BUILTIN_ARITIES", "DEFAULT_BINARY", "DEFAULT_UNARY", "UnknownOperatorError", "split_names",
           "split_binary_unary"]

#: name -> arity of each operator of :data:`search.operators.BUILTIN`, in code order
BUILTIN_ARITIES: dict[str, int] = {
    "+": 2, "-": 2, "*": 2, "/": 2, "pow": 2,
    "neg": 1, "square": 1, "cube": 1, "sqrt": 1, "exp": 1, "log": 1, "sin": 1, "cos": 1, "tan": 1, "tanh": 1,
    "asin": 1, "abs": 1, "inv": 1,
    "fma": 3,
}

#: the operators a search uses unless it is given others
DEFAULT_BINARY = ("+", "-", "*", "/")
DEFAULT_UNARY = ("neg", "square", "cube", "sqrt", "exp", "log", "sin", "cos")

#: other spellings of operator names
ALIASES: dict[str, str] = {"add": "+", "sub": "-", "mul": "*", "mult": "*", "div": "/", "^": "pow", "**": "pow"}


class UnknownOperatorError(ValueError):
    """An operator name that is not in the set."""


def split_names(names: Iterable[str], arities: Mapping[str, int] = BUILTIN_ARITIES) -> dict[int, tuple[str, ...]]:
    """A mixed list of operator names (aliases allowed) as ``{arity: names}``, among the
    operators ``arities`` gives (name -> arity, in code order); unknown and repeated names raise
    :class:`UnknownOperatorError`."""
    out: dict[int, list[str]] = {1: [], 2: [], 3: []}
    for raw in names:
        name = ALIASES.get(raw.strip(), raw.strip())
        if name not in arities:
            # ternary operators (fma) are for hand-built grammars, not a choice here
            valid = ", ".join(n for n, arity in arities.items() if arity <= 2)
            raise UnknownOperatorError(f"unknown operator {raw!r}; choose from: {valid}")
        out[arities[name]].append(name)
    chosen = [n for arity in (1, 2, 3) for n in out[arity]]
    repeated = next((n for n in chosen if chosen.count(n) > 1), None)
    if repeated is not None:
        raise UnknownOperatorError(f"operator {repeated!r} is given twice; name each operator once")
    return {a: tuple(v) for a, v in out.items()}


def split_binary_unary(names: Iterable[str], arities: Mapping[str, int] = BUILTIN_ARITIES
                       ) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """:func:`split_names` as (binary, unary); ternary names (which a caller of this two-way
    split would drop) raise too."""
    by = split_names(names, arities)
    if by[3]:
        raise UnknownOperatorError(f"operator {by[3][0]!r} takes three arguments; only unary and binary "
                                   f"operators can be chosen here")
    return by[2], by[1]
