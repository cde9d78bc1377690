"""Tests for search.operators: the one operator table.

Every operator's NumPy, JAX and SymPy implementations agree on inputs inside its domain;
codes are unique and map back to their operators; ``resolve`` and ``split_by_arity``
accept names and aliases and reject unknown names with the list of valid ones.
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import pytest
import sympy

from search import operators as O
from search.operators import (
    ALIASES, BUILTIN, BY_NAME, CODE, CONST, N_LEAF_KINDS, OPERATORS, VAR, UnknownOperatorError, arity_of, operator_of,
    resolve, split_by_arity,
)

# Inputs inside every operator's domain (log, sqrt, asin, pow with a real result) ...
SAFE = (0.3, 0.55, 0.9)
# ... and a wider set for operators that are defined on all reals (except 0 for / and inv).
WIDE = (-2.5, -0.4, 1.3, 2.2)
RESTRICTED = {"sqrt", "log", "asin", "pow"}


def samples(op: O.Operator) -> list[tuple[float, ...]]:
    values = SAFE if op.name in RESTRICTED else SAFE + WIDE
    if op.arity == 1:
        return [(v,) for v in values]
    if op.arity == 3:
        return [(a, b, c) for a in values for b in values[:2] for c in values[-2:]]
    return [(a, b) for a in values for b in values]


@pytest.mark.parametrize("op", OPERATORS, ids=lambda op: op.name)
def test_numpy_jax_sympy_agree(op):
    for args in samples(op):
        with np.errstate(all="raise"):
            ref = float(op.numpy(*[np.float64(a) for a in args]))
        assert np.isfinite(ref), (op.name, args)
        got_jax = float(op.jax(*[jnp.asarray(a, jnp.float32) for a in args]))
        got_sympy = float(sympy.N(op.sympy(*[sympy.Float(a, 30) for a in args]), 20))
        assert got_sympy == pytest.approx(ref, rel=1e-12, abs=1e-14), (op.name, args)
        assert got_jax == pytest.approx(ref, rel=2e-6, abs=1e-6), (op.name, args)


@pytest.mark.parametrize("op", OPERATORS, ids=lambda op: op.name)
def test_numpy_works_elementwise_on_arrays(op):
    rows = np.array(samples(op)).T  # (arity, n)
    out = np.asarray(op.numpy(*rows), dtype=np.float64)
    assert out.shape == (rows.shape[1],)
    for k, args in enumerate(samples(op)):
        assert out[k] == pytest.approx(float(op.numpy(*args)), rel=1e-15)


def test_invalid_inputs_give_nan_or_inf_not_errors():
    with np.errstate(all="ignore"):
        assert np.isnan(BY_NAME["log"].numpy(-1.0))
        assert np.isnan(BY_NAME["sqrt"].numpy(-1.0))
        assert np.isinf(BY_NAME["/"].numpy(1.0, 0.0))
        assert np.isnan(BY_NAME["pow"].numpy(-2.0, 0.5))
    assert np.isnan(float(BY_NAME["log"].jax(jnp.float32(-1.0))))
    assert np.isinf(float(BY_NAME["/"].jax(jnp.float32(1.0), jnp.float32(0.0))))


def test_names_and_codes_unique_and_consistent():
    names = [op.name for op in OPERATORS]
    assert len(set(names)) == len(names)
    codes = list(CODE.values())
    assert len(set(codes)) == len(codes) == len(OPERATORS)
    assert CONST != VAR and {CONST, VAR} == set(range(N_LEAF_KINDS))
    assert min(codes) >= N_LEAF_KINDS
    for op in OPERATORS:
        assert op.arity in (1, 2, 3)
        assert op.complexity >= 1
        assert operator_of(CODE[op.name]) is op
        assert arity_of(CODE[op.name]) == op.arity
        assert BY_NAME[op.name] is op
    assert arity_of(CONST) == arity_of(VAR) == 0


def test_aliases_and_defaults_point_into_the_table():
    for alias, name in ALIASES.items():
        assert name in BY_NAME, alias
    for name in O.DEFAULT_BINARY:
        assert BY_NAME[name].arity == 2
    for name in O.DEFAULT_UNARY:
        assert BY_NAME[name].arity == 1


def test_resolve_names_and_aliases():
    assert resolve(["+", "-", "*", "/"], 2) == tuple(CODE[n] for n in "+-*/")
    assert resolve(["add", "sub", "mul", "mult", "div", "^", "**"], 2) == (
        CODE["+"], CODE["-"], CODE["*"], CODE["/"], CODE["pow"])
    # whitespace is stripped, duplicates (also via aliases) collapse, order is kept
    assert resolve([" sin ", "cos", "sin"], 1) == (CODE["sin"], CODE["cos"])
    assert resolve(["*", "mul", "+"], 2) == (CODE["*"], CODE["+"])
    assert resolve([], 1) == ()


@pytest.mark.parametrize("names, arity", [(["sinh"], 1), (["+", "plus"], 2), (["sin"], 2), (["+"], 1), ([""], 2)])
def test_resolve_rejects_unknown_or_wrong_arity_listing_valid_names(names, arity):
    with pytest.raises(UnknownOperatorError) as info:
        resolve(names, arity)
    message = str(info.value)
    assert isinstance(info.value, ValueError)
    for op in OPERATORS:
        if op.arity == arity:
            assert op.name in message
    assert "binary" in message if arity == 2 else "unary" in message


def test_split_by_arity():
    assert split_by_arity(["+", "sin", "mul", " cos", "^", "square"]) == (
        ("+", "*", "pow"), ("sin", "cos", "square"))
    assert split_by_arity([]) == ((), ())


def test_split_by_arity_unknown_lists_every_choosable_name():
    """Every unary and binary operator is offered; the ternary fma, which this split
    refuses, is not."""
    with pytest.raises(UnknownOperatorError) as info:
        split_by_arity(["+", "foo"])
    message = str(info.value)
    assert "'foo'" in message
    offered = message.split("choose from: ")[1].split(", ")
    assert offered == [op.name for op in OPERATORS if op.arity <= 2]
    assert "fma" not in offered


def test_split_by_arity_refuses_ternary_rather_than_dropping_them():
    with pytest.raises(UnknownOperatorError, match="'fma' takes three arguments"):
        split_by_arity(["+", "fma"])


def test_split_by_arity_refuses_an_operator_named_twice():
    """An alias counts as its operator: "mul" after "*" is "*" again."""
    for names in (["+", "+"], ["*", "sin", "mul"]):
        with pytest.raises(UnknownOperatorError, match="is given twice; name each operator once"):
            split_by_arity(names)
    with pytest.raises(UnknownOperatorError, match="is given twice"):
        BUILTIN.split_by_arity(["fma", "fma"])
