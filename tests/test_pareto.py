"""Tests for search.pareto: the hall of fame, its front, scores and PySR's model selection
rules, on hand-made fronts whose answers are known."""

from __future__ import annotations

import math

import pytest

from search.expression import complexity, const, op, var
from search.operators import VAR
from search.pareto import MODEL_SELECTIONS, HallOfFame, Member, aicc, scores, select


def expr(k: int):
    """A distinct dummy expression (the front only looks at loss and complexity)."""
    return ((VAR, k),)


def front_of(pairs):
    return [Member(expr(i), loss, c) for i, (c, loss) in enumerate(pairs)]


def test_hall_of_fame_keeps_best_per_complexity():
    hof = HallOfFame()
    assert hof.consider(expr(0), 5.0, 3)
    assert not hof.consider(expr(1), 6.0, 3)  # worse at the same complexity
    assert not hof.consider(expr(2), 5.0, 3)  # ties do not replace
    assert hof.consider(expr(3), 4.0, 3)
    assert hof.best[3].expr == expr(3) and hof.best[3].loss == 4.0
    assert not hof.consider(expr(4), math.inf, 5)
    assert not hof.consider(expr(5), math.nan, 5)
    assert 5 not in hof.best


def test_front_is_strictly_decreasing_in_loss():
    hof = HallOfFame()
    for c, loss in [(7, 0.5), (1, 10.0), (3, 2.0), (4, 3.0), (5, 2.0), (9, 0.01), (8, 0.6), (12, 0.01)]:
        hof.consider(expr(c), loss, c)
    front = hof.front()
    assert [(m.complexity, m.loss) for m in front] == [(1, 10.0), (3, 2.0), (7, 0.5), (9, 0.01)]
    assert all(a.loss > b.loss and a.complexity < b.complexity for a, b in zip(front, front[1:]))
    assert HallOfFame().front() == []


def test_scores_are_minus_dlogloss_over_dcomplexity():
    front = front_of([(1, 8.0), (3, 2.0), (4, 1.0), (8, 0.0625)])
    s = scores(front)
    assert s[0] == 0.0
    assert s[1] == pytest.approx(math.log(4.0) / 2)
    assert s[2] == pytest.approx(math.log(2.0))
    assert s[3] == pytest.approx(math.log(16.0) / 4)
    assert scores(front_of([(2, 1.0)])) == [0.0]


def test_scores_survive_zero_loss():
    s = scores(front_of([(1, 1.0), (3, 0.0)]))
    assert math.isfinite(s[1]) and s[1] > 100


# complexity/loss pairs; scores: [0, ln(10)/2 = 1.15, ln(10/0.95) = 2.35, ln(0.95/0.8)/3 = 0.06, ln(1.25) = 0.22]
FRONT = [(1, 100.0), (3, 10.0), (4, 0.95), (7, 0.8), (8, 0.64)]


def test_select_accuracy_takes_lowest_loss():
    assert select(front_of(FRONT), "accuracy") == 4


def test_select_score_takes_largest_score():
    assert select(front_of(FRONT), "score") == 2


def test_select_best_uses_the_1_5x_threshold():
    # min loss 0.64; threshold 0.96: rows 2 (loss 0.95), 3 and 4 qualify; row 2 scores highest
    assert select(front_of(FRONT), "best") == 2
    # push row 2 just above the threshold: best must pick among rows 3, 4 -> row 4 (its score is larger)
    shifted = [(1, 100.0), (3, 10.0), (4, 0.97), (7, 0.8), (8, 0.64)]
    assert select(front_of(shifted), "score") == 2
    assert select(front_of(shifted), "best") == 4


def test_select_best_differs_from_score_when_high_score_is_inaccurate():
    # the big jump (score ln 1000) is at a member 10x worse than the best
    front = front_of([(1, 1000.0), (2, 1.0), (5, 0.5), (6, 0.1)])
    assert select(front, "score") == 1
    assert select(front, "best") == 3
    assert select(front, "accuracy") == 3


def test_an_exact_law_is_not_beaten_by_a_longer_exact_form_on_float_noise():
    """Kepler's sqrt(a**3/M) (loss 2.3e-29) against sqrt(sqrt(a**6)/M) (1.5e-29): both are
    exact to float noise, so "best" and "score" keep the shorter; "accuracy" the lowest."""
    front = front_of([(1, 0.8), (3, 1e-3), (5, 2.33e-29), (7, 1.5e-29)])
    assert select(front, "best") == 2
    assert select(front, "score") == 2
    assert select(front, "accuracy") == 3
    assert select(front_of([(1, 0.8), (3, 1e-3), (5, 2.33e-19), (7, 1.5e-19)]), "best") == 3   # not noise


def test_select_single_member():
    for how in MODEL_SELECTIONS:
        assert select(front_of([(5, 0.3)]), how) == 0


@pytest.mark.parametrize("bad", ["Best", "loss", "", None])
def test_select_rejects_unknown_model_selection(bad):
    with pytest.raises(ValueError, match="model_selection"):
        select(front_of(FRONT), bad)


def test_select_empty_front_raises():
    with pytest.raises(ValueError):
        select([], "best")


# ------------------------------------------------------------- small samples: AICc


def small_sample_front(law_loss=0.05, overfit_loss=0.02):
    """A front as found on 8 noisy rows: the 7-node law ``c*x0*x0 + x1`` (1 constant) and a
    9-node overfit ``c*x0 + c*x1 + c`` (3 constants) whose loss is 2.5x lower."""
    exprs = [
        (const(2.0),),                                                      # 1 node, 1 constant
        (const(2.0), var(0), op("*")),                                      # 3 nodes, 1 constant
        (const(2.5), var(0), var(0), op("*"), op("*"), var(1), op("+")),    # 7 nodes, 1 constant: the law
        (const(2.5), var(0), op("*"), const(0.9), var(1), op("*"), op("+"), const(0.3), op("+")),  # 9 nodes, 3
    ]
    losses = [10.0, 2.0, law_loss, overfit_loss]
    return [Member(e, loss, complexity(e)) for e, loss in zip(exprs, losses)]


def test_aicc_counts_constants_plus_noise_variance():
    law, overfit = small_sample_front()[2:]
    assert (law.complexity, overfit.complexity) == (7, 9)
    # k = 2: 8 ln(0.05) + 4 + 12/5;  k = 4: 8 ln(0.02) + 8 + 40/3
    assert aicc(law, 8) == pytest.approx(8 * math.log(0.05) + 4 + 12 / 5)
    assert aicc(overfit, 8) == pytest.approx(8 * math.log(0.02) + 8 + 40 / 3)
    assert aicc(overfit, 5) == math.inf  # n <= k + 1: no criterion


def test_best_on_8_rows_picks_the_law_not_the_overfit():
    front = small_sample_front()
    # PySR's rule: only the overfit is within 1.5x of the lowest loss, so it is chosen ...
    assert select(front, "best") == 3
    # ... while on 8 rows its two extra constants do not pay for a 2.5x lower loss
    assert select(front, "best", n_rows=8) == 2
    assert select(front, "accuracy", n_rows=8) == 3
    assert select(front, "score", n_rows=8) == select(front, "score") == 2  # score: ln(40)/4 > ln(2.5)/2
    # a large enough gain still wins: 8 ln(loss ratio) > the extra penalty (about 14.9)
    assert select(small_sample_front(overfit_loss=0.05 / 7), "best", n_rows=8) == 3


def test_best_on_few_rows_prefers_the_shorter_exact_fit():
    """Noiseless data: float-noise losses count as equal, the fewer constants win."""
    assert select(small_sample_front(law_loss=1e-30, overfit_loss=1e-32), "best", n_rows=8) == 2


def test_best_with_many_rows_keeps_the_pysr_rule():
    for front in (small_sample_front(), front_of(FRONT), front_of([(1, 1000.0), (2, 1.0), (5, 0.5), (6, 0.1)])):
        for how in MODEL_SELECTIONS:
            assert select(front, how, n_rows=10_000) == select(front, how)
    assert select(small_sample_front(), "best", n_rows=10_000) == 3
    assert select(small_sample_front(), "best", n_rows=100) == 3  # the threshold: n_rows < 100 is small


def test_select_best_keeps_a_simplest_member_that_is_accurate_enough():
    """Feynman I.12.1 at noise 0.001: the law heads the front (the scaling folded into the
    simpler formulas made them longer), and an overfit after it buys 0.01 % of loss.  PySR's
    rule alone gave the overfit (the head's score is 0 by convention)."""
    front = front_of([(3, 1.07e-4), (11, 1.0699e-4)])
    assert scores(front)[1] > 0
    assert select(front, "best") == 0
    assert select(front, "accuracy") == 1
    # a head outside the 1.5x window is not taken
    assert select(front_of([(3, 2e-4), (11, 1e-4)]), "best") == 1
