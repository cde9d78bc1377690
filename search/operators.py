"""The operator table: every operator the search knows, declared once.

Each :class:`Operator` carries every fact the engine needs: name, arity (1, 2 or 3),
NumPy and JAX implementations, the SymPy constructor *and* how SymPy writes it (the
function class such as ``sympy.exp``, or the exponent of a power such as 2 for
``square``), the complexity cost and the algebraic property the simplifier uses.
Nothing else in the engine names an operator: the evaluator, the SymPy converters, the
simplifier, the mutations and the CLI read these facts (the CLI's help and its
``--operators`` check, before the engine loads, read the names and arities alone from
:mod:`search.operator_names`, which this table is checked against).

An :class:`OperatorSet` is a value, as DynamicExpressions.jl's ``OperatorEnum``: the
search is given one (default :data:`BUILTIN`), and adding an operator is making a new
set, ``BUILTIN.with_operators(Operator("sinh", 1, np.sinh, jnp.sinh, sympy.sinh,
sympy_function=sympy.sinh))``, with no edit anywhere else.

Operators are identified by small integer codes, their position in the set offset by
the number of leaf kinds: expressions are arrays of such codes, meaningful together with
their set.  Semantics are the plain mathematical ones: ``log`` of a negative number is
NaN, ``x / 0`` is inf.  Non-finite results make a candidate's loss infinite; they are
never errors.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Callable

import jax.numpy as jnp
import numpy as np
import sympy

from . import operator_names
from .operator_names import ALIASES, UnknownOperatorError

#: The search's float32 sin/cos/tan are exact to a few ULP for |x| up to this and NaN
#: (an invalid candidate) beyond (see search/jax_math.py); stated once, here.
TRIG_RANGE = 2.0**16
#: The SymPy functions the trig range applies to (the search's evaluators give NaN beyond it).
TRIG_FUNCTIONS = (sympy.sin, sympy.cos, sympy.tan)

from . import jax_math  # noqa: E402 (jax_math reads TRIG_RANGE)


#: How an operator treats physical dimensions (see :class:`Operator` and :mod:`search.units`).
DIMENSION_RULES = ("same", "product", "quotient", "pow", "power", "keep", "fma", "dimensionless")


@dataclass(frozen=True)
class Operator:
    """One operator: ``arity`` arguments in, one value out.

    ``sympy`` builds the SymPy expression from the arguments' expressions;
    ``sympy_function`` (a SymPy function class, e.g. ``sympy.exp``) or ``sympy_power``
    (an exponent, e.g. ``Rational(1, 2)`` for ``sqrt``) says how SymPy writes the result,
    so :func:`search.expression.from_sympy` can read it back.  ``algebraic`` marks the
    operators whose constant subtrees are exact numbers worth keeping symbolic
    (``sqrt(2)``, ``1/3``); other constant subtrees (``tanh(1)``) are folded to floats.
    ``dimension`` names how physical dimensions pass through it (one of
    :data:`DIMENSION_RULES`, implemented in :mod:`search.units`): ``"same"`` (arguments of
    equal dimension, as ``+``), ``"product"``, ``"quotient"``, ``"pow"`` (``a**b``),
    ``"power"`` (the dimension times ``sympy_power``, as ``sqrt``), ``"keep"`` (as
    ``neg``), ``"fma"`` (``a*b + c``), or ``"dimensionless"`` (dimensionless arguments
    and result, as ``exp`` or ``sin``: the default, right for transcendental functions).
    """

    name: str
    arity: int
    numpy: Callable
    jax: Callable
    sympy: Callable
    complexity: int = 1
    sympy_function: type | None = None
    sympy_power: sympy.Rational | None = None
    algebraic: bool = False
    dimension: str = "dimensionless"

    def __post_init__(self):
        if self.arity not in (1, 2, 3):
            raise ValueError(f"operator {self.name!r}: arity must be 1, 2 or 3, not {self.arity}")
        if self.dimension not in DIMENSION_RULES:
            raise ValueError(f"operator {self.name!r}: dimension must be one of {DIMENSION_RULES}, "
                             f"not {self.dimension!r}")
        if self.dimension == "power" and (self.sympy_power is None or self.arity != 1):
            raise ValueError(f"operator {self.name!r}: dimension 'power' needs a unary operator with sympy_power")


#: Leaf kinds come first in the code space; operator ``i`` of a set has code ``N_LEAF_KINDS + i``.
CONST = 0
VAR = 1
N_LEAF_KINDS = 2

_ARITY_WORD = {1: "unary", 2: "binary", 3: "ternary"}


@dataclass(frozen=True)
class OperatorSet:
    """An ordered, immutable set of operators; codes index it (see the module docstring)."""

    operators: tuple[Operator, ...]
    _cache: dict = field(default_factory=dict, compare=False, hash=False, repr=False)

    def __post_init__(self):
        names = [op.name for op in self.operators]
        if len(set(names)) != len(names):
            raise ValueError(f"duplicate operator names in {names}")

    def with_operators(self, *extra: Operator) -> "OperatorSet":
        """A new set: this one's operators (codes unchanged) followed by ``extra``."""
        return OperatorSet(self.operators + tuple(extra))

    @cached_property
    def by_name(self) -> dict[str, Operator]:
        return {op.name: op for op in self.operators}

    @cached_property
    def code(self) -> dict[str, int]:
        """Operator name -> expression code."""
        return {op.name: N_LEAF_KINDS + i for i, op in enumerate(self.operators)}

    @cached_property
    def arities(self) -> tuple[int, ...]:
        """Arity of every code (leaves have arity 0)."""
        return (0,) * N_LEAF_KINDS + tuple(op.arity for op in self.operators)

    @cached_property
    def costs(self) -> np.ndarray:
        """Complexity of every code (1 for leaves), as an array indexable by code arrays."""
        return np.array([1] * N_LEAF_KINDS + [op.complexity for op in self.operators], dtype=np.int64)

    @cached_property
    def cost_of(self) -> tuple[int, ...]:
        """:attr:`costs` as a tuple of Python ints (faster to index from Python)."""
        return tuple(int(c) for c in self.costs)

    @cached_property
    def unit_costs(self) -> bool:
        """Every node costs 1, so an expression's complexity is its length."""
        return all(c == 1 for c in self.cost_of)

    def operator(self, code: int) -> Operator:
        """The operator with expression code ``code`` (codes below N_LEAF_KINDS are leaves)."""
        return self.operators[code - N_LEAF_KINDS]

    def arity(self, code: int) -> int:
        return self.arities[code]

    def resolve(self, names, arity: int) -> tuple[int, ...]:
        """Codes for the operator ``names`` (aliases allowed), all of the given ``arity``.

        Raises :class:`UnknownOperatorError` with the list of valid names otherwise.
        """
        codes = []
        for raw in names:
            name = ALIASES.get(raw.strip(), raw.strip())
            op = self.by_name.get(name)
            if op is None or op.arity != arity:
                valid = ", ".join(o.name for o in self.operators if o.arity == arity)
                raise UnknownOperatorError(f"unknown {_ARITY_WORD[arity]} operator {raw!r}; choose from: {valid}")
            if self.code[name] not in codes:
                codes.append(self.code[name])
        return tuple(codes)

    @cached_property
    def arity_by_name(self) -> dict[str, int]:
        """Operator name -> arity, in code order."""
        return {op.name: op.arity for op in self.operators}

    def split_by_arity(self, names) -> dict[int, tuple[str, ...]]:
        """A mixed list of operator names as ``{arity: names}``; unknown and repeated names raise
        (:func:`search.operator_names.split_names`)."""
        return operator_names.split_names(names, self.arity_by_name)

    @cached_property
    def sympy_functions(self) -> dict[type, int]:
        """SymPy function class -> code, for reading SymPy expressions back."""
        return {op.sympy_function: self.code[op.name] for op in self.operators if op.sympy_function is not None}

    @cached_property
    def sympy_powers(self) -> dict[sympy.Rational, int]:
        """Exponent -> code of the operator that writes ``x**exponent``."""
        return {sympy.Rational(op.sympy_power): self.code[op.name] for op in self.operators
                if op.sympy_power is not None}

    @cached_property
    def algebraic_codes(self) -> frozenset[int]:
        return frozenset(self.code[op.name] for op in self.operators if op.algebraic)

    def __hash__(self) -> int:
        return hash(self.operators)


def _np_pow(a, b):
    with np.errstate(all="ignore"):
        return np.power(a, b)


BUILTIN = OperatorSet((
    # binary
    Operator("+", 2, np.add, jnp.add, lambda a, b: a + b, algebraic=True, dimension="same"),
    Operator("-", 2, np.subtract, jnp.subtract, lambda a, b: a - b, algebraic=True, dimension="same"),
    Operator("*", 2, np.multiply, jnp.multiply, lambda a, b: a * b, algebraic=True, dimension="product"),
    Operator("/", 2, np.divide, jnp.divide, lambda a, b: a / b, algebraic=True, dimension="quotient"),
    Operator("pow", 2, _np_pow, jnp.power, lambda a, b: a**b, algebraic=True, dimension="pow"),
    # unary
    Operator("neg", 1, np.negative, jnp.negative, lambda a: -a, algebraic=True, dimension="keep"),
    Operator("square", 1, np.square, jnp.square, lambda a: a**2, sympy_power=sympy.Integer(2), algebraic=True,
             dimension="power"),
    Operator("cube", 1, lambda a: a * a * a, lambda a: a * a * a, lambda a: a**3, sympy_power=sympy.Integer(3),
             algebraic=True, dimension="power"),
    Operator("sqrt", 1, np.sqrt, jnp.sqrt, sympy.sqrt, sympy_power=sympy.Rational(1, 2), algebraic=True,
             dimension="power"),
    Operator("exp", 1, np.exp, jnp.exp, sympy.exp, sympy_function=sympy.exp),
    Operator("log", 1, np.log, jnp.log, sympy.log, sympy_function=sympy.log),
    Operator("sin", 1, np.sin, jax_math.sin, sympy.sin, sympy_function=sympy.sin),
    Operator("cos", 1, np.cos, jax_math.cos, sympy.cos, sympy_function=sympy.cos),
    Operator("tan", 1, np.tan, jax_math.tan, sympy.tan, sympy_function=sympy.tan),
    Operator("tanh", 1, np.tanh, jnp.tanh, sympy.tanh, sympy_function=sympy.tanh),
    Operator("asin", 1, np.arcsin, jax_math.asin, sympy.asin, sympy_function=sympy.asin),
    Operator("abs", 1, np.abs, jnp.abs, sympy.Abs, sympy_function=sympy.Abs, algebraic=True, dimension="keep"),
    Operator("inv", 1, np.reciprocal, jnp.reciprocal, lambda a: 1 / a, sympy_power=sympy.Integer(-1),
             algebraic=True, dimension="power"),
    # ternary
    Operator("fma", 3, lambda a, b, c: a * b + c, lambda a, b, c: a * b + c, lambda a, b, c: a * b + c,
             algebraic=True, dimension="fma"),
))

DEFAULT_BINARY = operator_names.DEFAULT_BINARY
DEFAULT_UNARY = operator_names.DEFAULT_UNARY

if list(BUILTIN.arity_by_name.items()) != list(operator_names.BUILTIN_ARITIES.items()):
    # the light list the command line's help reads (search/operator_names.py) names this table's operators
    raise ImportError("search.operator_names.BUILTIN_ARITIES does not list BUILTIN's operators in order; "
                      "update it with the table")

# The built-in set's facts under their historical module-level names.
OPERATORS: tuple[Operator, ...] = BUILTIN.operators
BY_NAME: dict[str, Operator] = BUILTIN.by_name
CODE: dict[str, int] = BUILTIN.code
operator_of = BUILTIN.operator
arity_of = BUILTIN.arity


def resolve(names, arity: int, ops: OperatorSet = BUILTIN) -> tuple[int, ...]:
    """``ops.resolve(names, arity)``."""
    return ops.resolve(names, arity)


def split_by_arity(names, ops: OperatorSet = BUILTIN) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Split a mixed list of operator names into (binary, unary); unknown names, and
    ternary ones (which a caller of this two-way split would drop), raise
    (:func:`search.operator_names.split_binary_unary`)."""
    return operator_names.split_binary_unary(names, ops.arity_by_name)
