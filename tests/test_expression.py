"""Tests for search.expression: postfix trees, their measures, and SymPy conversion both ways."""

from __future__ import annotations

import math

import numpy as np
import pytest
import sympy

from search.expression import (
    ConversionError, children, complexity, constants, depth, from_sympy, is_valid, subtree_start, to_string,
    to_sympy, with_constants,
)
from search.numpy_eval import evaluate
from search.operators import CODE, CONST, VAR

NAMES = ["x", "y", "z"]
SYMS = [sympy.Symbol(n) for n in NAMES]
LOCALS = {n: s for n, s in zip(NAMES, SYMS)}


def parse(text: str) -> sympy.Expr:
    return sympy.sympify(text, locals=LOCALS)


def op(name: str):
    return (CODE[name], 0)


def c(value: float):
    return (CONST, value)


def v(index: int):
    return (VAR, index)


FORMULAS = [
    "x",
    "x + y",
    "x - y",
    "x - 2*y",
    "-x",
    "-x - y",
    "x*y*z",
    "x/y",
    "-x/y",
    "1/(x + y)",
    "1/(x*y)",
    "x/(y*z)",
    "x**2",
    "x**3 - y**2",
    "x**(-1)",
    "x**(-2)",
    "x**(-3) + y",
    "x**(-1/2)",
    "x**(3/2)",
    "x**y",
    "x**(-y)",
    "sqrt(x)",
    "sqrt(x)/y**2",
    "sqrt(x**2 + y**2)",
    "exp(sin(x*y))",
    "log(cos(x)**2 + 1)",
    "tanh(x) - Abs(y)",
    "tan(exp(-x))",
    "x/2",
    "1/2",
    "-3/7",
    "pi",
    "pi*x",
    "E*x",
    "2.5*x**2 + cos(1.7*y)",
    "0.1*x - 1e-3",
    "sin(sin(sin(x))) + cos(y*z)",
]


@pytest.mark.parametrize("text", FORMULAS)
def test_sympy_round_trip(text):
    expr = parse(text)
    nodes = from_sympy(expr, NAMES)
    assert is_valid(nodes)
    back = to_sympy(nodes, SYMS)
    # decimal constants come back as the equal rationals, or as the same short decimals
    exact = sympy.nsimplify(expr, rational=True)
    back_exact = sympy.nsimplify(back, rational=True)
    assert back_exact == exact or sympy.simplify(back_exact - exact) == 0, (expr, back)
    # and the postfix program computes the same numbers as SymPy
    rng = np.random.default_rng(0)
    X = rng.uniform(0.5, 2.0, size=(7, 3))
    f = sympy.lambdify(SYMS, expr, "numpy")
    expected = np.broadcast_to(np.asarray(f(X[:, 0], X[:, 1], X[:, 2]), dtype=np.float64), (7,))
    np.testing.assert_allclose(evaluate(nodes, X), expected, rtol=1e-12)


def test_round_trip_accepts_symbols_as_variables():
    nodes = from_sympy(parse("x*z"), SYMS)
    assert nodes == (v(0), v(2), op("*"))


@pytest.mark.parametrize("text, expected", [
    ("x - y", (v(0), v(1), op("-"))),
    ("x/y", (v(0), v(1), op("/"))),
    ("x**2", (v(0), op("square"))),
    ("x**3", (v(0), op("cube"))),
    ("sqrt(x)", (v(0), op("sqrt"))),
    ("1/x", (c(1.0), v(0), op("/"))),
    ("x**(-2)", (c(1.0), v(0), op("square"), op("/"))),
    ("x**y", (v(0), v(1), op("pow"))),
    ("-x", (v(0), op("neg"))),
    ("cos(x)", (v(0), op("cos"))),
    ("1/2", (c(0.5),)),
])
def test_from_sympy_uses_the_dedicated_operators(text, expected):
    assert from_sympy(parse(text), NAMES) == expected


def test_constants_become_exact_sympy_numbers():
    assert to_sympy((c(0.5),), SYMS) == sympy.Rational(1, 2)
    assert to_sympy((c(0.1),), SYMS) == sympy.Rational(1, 10)
    assert to_sympy((c(-2.0),), SYMS) == -2
    assert to_sympy((c(math.pi),), SYMS) == sympy.pi
    assert to_sympy((c(math.e),), SYMS) == sympy.E
    odd = to_sympy((c(0.123456789123),), SYMS)
    assert isinstance(odd, sympy.Float) and float(odd) == 0.123456789123


@pytest.mark.parametrize("text", ["gamma(x)", "sinh(x)", "Max(x, y)", "floor(x)", "x + w", "I*x"])
def test_unsupported_raises_conversion_error(text):
    local = dict(LOCALS, w=sympy.Symbol("w"))
    with pytest.raises(ConversionError):
        from_sympy(sympy.sympify(text, locals=local), NAMES)


def test_conversion_error_is_a_value_error_and_names_the_function():
    with pytest.raises(ValueError, match="sinh"):
        from_sympy(parse("sinh(x) + 1"), NAMES)


# ((x + 2) * sin(y))  in postfix: x 2 + y sin *
TREE = (v(0), c(2.0), op("+"), v(1), op("sin"), op("*"))


def test_complexity_counts_nodes():
    assert complexity(TREE) == 6
    assert complexity((v(0),)) == 1
    assert complexity(from_sympy(parse("2.5*x**2 + cos(1.7*y)"), NAMES)) == 9


def test_depth():
    assert depth((v(0),)) == 1
    assert depth(TREE) == 3
    assert depth((v(0), op("sin"), op("cos"), op("exp"))) == 4
    assert depth((v(0), v(1), op("+"), v(2), op("*"), c(1.0), op("-"))) == 4


def test_subtree_start_and_children():
    assert subtree_start(TREE, 5) == 0
    assert subtree_start(TREE, 4) == 3
    assert subtree_start(TREE, 2) == 0
    assert subtree_start(TREE, 1) == 1
    assert subtree_start(TREE, 3) == 3
    assert children(TREE, 5) == [(0, 2), (3, 4)]
    assert children(TREE, 4) == [(3, 3)]
    assert children(TREE, 0) == []
    for end in range(len(TREE)):
        assert is_valid(TREE[subtree_start(TREE, end) : end + 1])


def test_is_valid():
    assert is_valid(TREE)
    assert is_valid((c(1.0),))
    assert not is_valid(())
    assert not is_valid((v(0), v(1)))  # two trees
    assert not is_valid((v(0), op("+")))  # missing operand
    assert not is_valid((op("sin"), v(0)))  # operator before its operand
    assert not is_valid(TREE[1:])


def test_constants_and_with_constants():
    e = (c(1.0), v(0), op("*"), c(2.0), op("+"), c(3.0), op("/"))
    assert constants(e) == [1.0, 2.0, 3.0]
    replaced = with_constants(e, [4.0, 5.0, 6.0])
    assert constants(replaced) == [4.0, 5.0, 6.0]
    assert [node[0] for node in replaced] == [node[0] for node in e]
    assert [node for node in replaced if node[0] != CONST] == [node for node in e if node[0] != CONST]
    assert all(type(val) is float for code, val in replaced if code == CONST)
    assert with_constants(with_constants(e, np.array([4.0, 5.0, 6.0])), constants(e)) == e
    assert with_constants(TREE[:1], []) == TREE[:1]


def test_to_string():
    assert to_string(TREE, ["a", "b"]) == str((sympy.Symbol("a") + 2) * sympy.sin(sympy.Symbol("b")))
