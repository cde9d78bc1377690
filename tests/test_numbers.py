"""Nice numbers: candidates, shortest decimals and how constants print."""

from __future__ import annotations

import math

import pytest
import sympy

from search.numbers import multiple, nice_candidates, nice_value, round_significant, shortest_decimal, sympy_number

X0 = sympy.Symbol("x0")


def test_nice_value_prefers_rationals_then_multiples_of_pi():
    assert nice_value(2.5000001, 1e-6) == 2.5
    assert nice_value(1 / 3 + 1e-9, 1e-6) == 1 / 3
    assert nice_value(0.0795779, 1e-4) == multiple(1, 4, 1 / math.pi)  # 1/(4 pi)
    assert nice_value(2 * math.pi * 1.0000001, 1e-6) == multiple(2, 1, math.pi)
    assert nice_value(1e-13, 1e-6) == 0.0
    assert nice_value(2.49304817293, 1e-9) == 2.49304817293  # nothing that close


def test_candidates_come_simplest_first_and_within_the_tolerance():
    found = nice_candidates(2.49304817293, 1e-3)
    costs = [c.cost for c in found]
    assert costs == sorted(costs)
    assert all(abs(c.value - 2.49304817293) <= 1e-3 * 2.49304817293 for c in found)
    # 47/(6 pi) is within 1e-3, but it costs as much as the decimal 2.493 (4 digits)
    assert found[0].text == "47/6*1/pi" and found[0].cost == 4
    assert nice_candidates(2.49304817293, 1e-3, max_cost=3) == []


def test_shortest_decimal_keeps_the_fewest_digits_within_the_tolerance():
    assert shortest_decimal(2.49304817293, 1e-3) == 2.493
    assert shortest_decimal(2.49304817293, 2e-3) == 2.49
    assert shortest_decimal(2.49304817293, 1e-2) == 2.5
    assert shortest_decimal(0.0795774715, 1e-3) == 0.0796
    assert shortest_decimal(2.49304817293, 0.0) == 2.49304817293
    assert round_significant(-123456.0, 2) == -120000.0


def test_sympy_number_writes_exact_forms_only_for_exact_floats():
    assert sympy_number(0.5) == sympy.Rational(1, 2)
    assert sympy_number(0.1) == sympy.Rational(1, 10)
    assert sympy_number(-2.0) == -2
    assert sympy_number(math.pi) == sympy.pi
    assert sympy_number(math.e) == sympy.E
    assert sympy_number(multiple(1, 4, 1 / math.pi)) == 1 / (4 * sympy.pi)
    assert sympy_number(multiple(33, 8, 1 / math.sqrt(2 * math.pi))) == sympy.Rational(33, 8) / sympy.sqrt(2 * sympy.pi)
    odd = sympy_number(0.123456789123)
    assert isinstance(odd, sympy.Float) and float(odd) == 0.123456789123
    near_pi_form = sympy_number(multiple(1, 4, 1 / math.pi) * (1 + 1e-12))
    assert isinstance(near_pi_form, sympy.Float)


def test_a_short_decimal_prints_as_a_decimal_not_a_long_fraction():
    assert str(sympy_number(2.493) * X0**2) == "2.493*x0**2"
    assert float(sympy_number(2.493)) == 2.493
    assert sympy_number(0.25) == sympy.Rational(1, 4)  # "1/4" is as short as "0.25"


@pytest.mark.parametrize("value", [2.49304817293, 0.0795774, 14.9166, 343.81, -0.618034, 1.6487])
def test_every_candidate_prints_exactly(value):
    """A rounded constant prints as the form it was chosen as: exact, or a short decimal
    (149/10 prints as 14.9), never a long float."""
    for cand in nice_candidates(value, 1e-2):
        printed = sympy_number(cand.value)
        floats = printed.atoms(sympy.Float)
        assert not floats or len(repr(cand.value)) <= 6, (cand, printed)
        assert float(printed) == pytest.approx(cand.value, rel=1e-15)
