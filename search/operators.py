"""The operator table: every operator the search knows, declared once.

Each :class:`Operator` carries its name, arity, NumPy and JAX implementations, SymPy
constructor and complexity cost.  Everything else (the evaluator, the SymPy converter,
the mutation code, the CLI's ``--operators`` list) reads this table; adding an operator is
one entry here.

Operators are identified by small integer codes (their position in :data:`OPERATORS`,
offset by the number of leaf kinds), as in DynamicExpressions.jl: expressions are arrays
of such codes.  Semantics are the plain mathematical ones: ``log`` of a negative number
is NaN, ``x / 0`` is inf.  Non-finite results make a candidate's loss infinite; they are
never errors.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import jax.numpy as jnp
import numpy as np
import sympy

from . import jax_math


@dataclass(frozen=True)
class Operator:
    """One operator: ``arity`` arguments in, one value out."""

    name: str
    arity: int
    numpy: Callable
    jax: Callable
    sympy: Callable
    complexity: int = 1


def _np_pow(a, b):
    with np.errstate(all="ignore"):
        return np.power(a, b)


OPERATORS: tuple[Operator, ...] = (
    # binary
    Operator("+", 2, np.add, jnp.add, lambda a, b: a + b),
    Operator("-", 2, np.subtract, jnp.subtract, lambda a, b: a - b),
    Operator("*", 2, np.multiply, jnp.multiply, lambda a, b: a * b),
    Operator("/", 2, np.divide, jnp.divide, lambda a, b: a / b),
    Operator("pow", 2, _np_pow, jnp.power, lambda a, b: a**b),
    # unary
    Operator("neg", 1, np.negative, jnp.negative, lambda a: -a),
    Operator("square", 1, np.square, jnp.square, lambda a: a**2),
    Operator("cube", 1, lambda a: a * a * a, lambda a: a * a * a, lambda a: a**3),
    Operator("sqrt", 1, np.sqrt, jnp.sqrt, sympy.sqrt),
    Operator("exp", 1, np.exp, jnp.exp, sympy.exp),
    Operator("log", 1, np.log, jnp.log, sympy.log),
    Operator("sin", 1, np.sin, jax_math.sin, sympy.sin),
    Operator("cos", 1, np.cos, jax_math.cos, sympy.cos),
    Operator("tan", 1, np.tan, jax_math.tan, sympy.tan),
    Operator("tanh", 1, np.tanh, jnp.tanh, sympy.tanh),
    Operator("asin", 1, np.arcsin, jax_math.asin, sympy.asin),
    Operator("abs", 1, np.abs, jnp.abs, sympy.Abs),
    Operator("inv", 1, np.reciprocal, jnp.reciprocal, lambda a: 1 / a),
)

#: Leaf kinds come first in the code space; operator ``i`` has code ``N_LEAF_KINDS + i``.
CONST = 0
VAR = 1
N_LEAF_KINDS = 2

BY_NAME: dict[str, Operator] = {op.name: op for op in OPERATORS}
CODE: dict[str, int] = {op.name: N_LEAF_KINDS + i for i, op in enumerate(OPERATORS)}
ALIASES: dict[str, str] = {"add": "+", "sub": "-", "mul": "*", "mult": "*", "div": "/", "^": "pow", "**": "pow"}

DEFAULT_BINARY = ("+", "-", "*", "/")
DEFAULT_UNARY = ("neg", "square", "cube", "sqrt", "exp", "log", "sin", "cos")


def operator_of(code: int) -> Operator:
    """The operator with expression code ``code`` (codes below N_LEAF_KINDS are leaves)."""
    return OPERATORS[code - N_LEAF_KINDS]


def arity_of(code: int) -> int:
    return 0 if code < N_LEAF_KINDS else OPERATORS[code - N_LEAF_KINDS].arity


class UnknownOperatorError(ValueError):
    """An operator name that is not in the table."""


def resolve(names, arity: int) -> tuple[int, ...]:
    """Codes for the operator ``names`` (aliases allowed), all of the given ``arity``.

    Raises :class:`UnknownOperatorError` with the list of valid names otherwise.
    """
    codes = []
    for raw in names:
        name = ALIASES.get(raw.strip(), raw.strip())
        op = BY_NAME.get(name)
        if op is None or op.arity != arity:
            valid = ", ".join(o.name for o in OPERATORS if o.arity == arity)
            kind = "binary" if arity == 2 else "unary"
            raise UnknownOperatorError(f"unknown {kind} operator {raw!r}; choose from: {valid}")
        if CODE[name] not in codes:
            codes.append(CODE[name])
    return tuple(codes)


def split_by_arity(names) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Split a mixed list of operator names into (binary, unary); unknown names raise."""
    binary, unary = [], []
    for raw in names:
        name = ALIASES.get(raw.strip(), raw.strip())
        op = BY_NAME.get(name)
        if op is None:
            valid = ", ".join(o.name for o in OPERATORS)
            raise UnknownOperatorError(f"unknown operator {raw!r}; choose from: {valid}")
        (binary if op.arity == 2 else unary).append(name)
    return tuple(binary), tuple(unary)
