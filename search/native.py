"""The CPU evaluator: an operator set compiled into codegen's population interpreter.

On a CPU, a population is evaluated fastest by :class:`codegen.interpreter.Interpreter`:
one natively compiled function per operator set that walks every expression's postfix
nodes, one vectorised loop per node over a tile of rows (about 4e9 node evaluations/s
on one core of an AVX-512 Xeon, against about 2e8 for the JAX step program on two).  Each operator's body is its
own SymPy form (``op.sympy`` on symbols) translated by codegen, so an operator added to
a set is interpreted with no other edit; a set with an operator codegen cannot lower
has no interpreter (:func:`interpreter` returns None) and the JAX evaluator is used.

The trig functions keep the search's one trig range (:data:`search.operators.TRIG_RANGE`):
beyond it their value is NaN here as in :mod:`search.jax_math`, so both evaluators
score such a candidate as invalid.
"""

from __future__ import annotations

import functools
import itertools

import numpy as np
import sympy

from codegen.interpreter import Interpreter
from codegen.ops import UnsupportedError
from codegen.program import build
from codegen.row_losses import RowLosses

from .objectives import LeastSquares
from .operators import CONST, TRIG_FUNCTIONS, TRIG_RANGE, VAR, Operator, OperatorSet

_ARGUMENTS = sympy.symbols("a0 a1 a2")


def operator_expression(op: Operator) -> sympy.Expr:
    """The operator applied to symbols ``a0, a1, ...`` as the interpreter computes it."""
    args = _ARGUMENTS[: op.arity]
    value = op.sympy(*args)
    if op.sympy_function in TRIG_FUNCTIONS:
        value = sympy.Piecewise((value, sympy.Abs(args[0]) <= TRIG_RANGE), (sympy.nan, True))
    return value


def interpreter(ops: OperatorSet, dtype: str = "float32"):
    """The compiled interpreter of ``ops`` in ``dtype``, or None where one operator has no
    codegen lowering or native compilation is unavailable (then JAX evaluates).

    Cached by what the interpreter computes, each code's SymPy form, not by the set
    object: a set that arrives pickled (a Dask worker's task) holds new function objects
    and compares unequal to the last one, and compiling again cost 0.8 s per task."""
    forms = ops._cache.get("interpreter forms")
    if forms is None:
        forms = ops._cache["interpreter forms"] = tuple(
            (ops.code[op.name], op.arity, operator_expression(op)) for op in ops.operators)
    return _interpreter_of_forms(forms, dtype)


@functools.lru_cache(maxsize=16)
def _interpreter_of_forms(forms: tuple[tuple[int, int, sympy.Expr], ...], dtype: str):
    """:func:`interpreter` for ``(code, arity, SymPy form)`` per operator."""
    programs = {}
    for code, arity, form in forms:
        names = [s.name for s in _ARGUMENTS[:arity]]
        try:
            programs[code] = build(form, names, dtype=dtype)[0]
        except (UnsupportedError, ValueError, TypeError):
            return None
    try:
        return Interpreter(programs, CONST, VAR, dtype)
    except RuntimeError:  # no native target (LLVM could not build for this host)
        return None


def row_losses(objective, dtype: str = "float32") -> RowLosses | None:
    """The compiled scoring of values ``(P, R)`` by ``objective`` where it is a
    :class:`~search.objectives.LeastSquares` on the values themselves (no map, offset 1:
    tabular regression), else None (JAX scores the values).  Its sums are float64, so its
    losses agree with the objective's float32 ones to float32's precision and are closer to
    the exact loss of the values."""
    if not isinstance(objective, LeastSquares) or objective.phi is not None:
        return None
    if not np.all(np.asarray(objective.offset) == 1):
        return None
    try:
        return RowLosses(np.asarray(objective.target, dtype=np.float64), dtype, objective.scaling)
    except RuntimeError:  # no native target
        return None


def flatten(exprs) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A population as the interpreter's arrays: codes ``(N,) int32``, leaf values
    ``(N,) float64`` and expression starts ``(P + 1,) int64``."""
    length = np.fromiter(map(len, exprs), dtype=np.int64, count=len(exprs))
    start = np.zeros(len(exprs) + 1, dtype=np.int64)
    np.cumsum(length, out=start[1:])
    chain = itertools.chain.from_iterable
    nodes = np.fromiter(chain(chain(exprs)), dtype=np.float64, count=2 * int(start[-1])).reshape(-1, 2)
    return nodes[:, 0].astype(np.int32), np.ascontiguousarray(nodes[:, 1]), start
