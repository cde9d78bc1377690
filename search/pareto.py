"""The hall of fame (best expression per complexity), its Pareto front, and model selection.

Model selection follows PySR:

* ``"accuracy"``: the lowest loss;
* ``"score"``: the largest ``score = -d log(loss) / d complexity`` between consecutive
  front members;
* ``"best"``: the largest score among members with ``loss <= 1.5 * min(loss)``; when the
  simplest front member is itself among them, that member.  (Its score is 0 by
  convention, having no simpler member to be scored against; PySR's front always starts
  with a constant or a variable, which is never that accurate.  Here the finish folds the
  linear scaling into every formula, so ``0.3 x + 2.1`` costs 5 and a law whose
  constants round away, ``μ Nn`` at 3, can head the front: without this rule any member
  that fits a little noise, ``5.4e-5 μ(18657 Nn + μ − 5)``, had the larger score.)

Except on small samples: with ``n_rows < 100`` (:data:`SMALL_SAMPLE`), ``"best"``
takes the member with the lowest corrected Akaike criterion (:func:`aicc`)

    ``AICc = n ln(MSE) + 2k + 2k(k + 1) / (n - k - 1)``,  ``k`` = constants + 1,

the Gaussian log-likelihood of the MSE loss penalised by the number of free parameters
(the expression's constants plus the noise variance), corrected for few rows.  On a
handful of noisy rows a few extra constants cut the loss by more than PySR's 1.5x
window allows, and ``"best"`` would select that overfit over the law; AICc weighs the
gain against the constants spent.  With ``n_rows >= 100`` (or unknown) PySR's rule is
kept unchanged, and ``"accuracy"`` and ``"score"`` never change.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .expression import Expr, constants

MODEL_SELECTIONS = ("best", "accuracy", "score")
SMALL_SAMPLE = 100  # below this many rows, "best" selects by AICc


@dataclass(frozen=True)
class Member:
    expr: Expr
    loss: float
    complexity: int


class HallOfFame:
    """The lowest-loss expression seen at each complexity."""

    def __init__(self) -> None:
        self.best: dict[int, Member] = {}
        # the held losses by complexity as an array, for testing a whole batch at once;
        # the last entry stays inf and stands for every complexity past the others
        self._held = np.full(64, math.inf)

    def consider(self, expr: Expr, loss: float, complexity: int) -> bool:
        """Keep ``expr`` if it beats the current holder of its complexity; True if kept."""
        if not math.isfinite(loss):
            return False
        held = self.best.get(complexity)
        if held is None or loss < held.loss:
            self.best[complexity] = Member(expr, float(loss), complexity)
            if complexity >= len(self._held) - 1:
                self._held = np.concatenate([self._held, np.full(complexity + 2 - len(self._held), math.inf)])
            self._held[complexity] = loss
            return True
        return False

    def may_improve(self, losses: np.ndarray, complexities: np.ndarray) -> np.ndarray:
        """``(N,) bool``: which of the candidates' ``losses`` (at non-negative integer
        ``complexities``) are below the held loss of their complexity, so that
        :meth:`consider` would keep the best of them (NaN and inf never are)."""
        return losses < self._held[np.minimum(complexities, len(self._held) - 1)]

    def members(self) -> list[Member]:
        """Every held member (the best at each complexity), simplest first."""
        return [self.best[c] for c in sorted(self.best)]

    def front(self) -> list[Member]:
        """The Pareto front of the held members (:func:`pareto_front`)."""
        return pareto_front(self.members())


#: losses below this fraction of the front's largest are float noise of an exact fit
EXACT_FIT = 1e-20


def pareto_front(members: list[Member]) -> list[Member]:
    """Members whose loss is lower than that of every simpler member, by complexity
    (``members`` sorted by complexity, simplest first)."""
    out: list[Member] = []
    for m in members:
        if not out or m.loss < out[-1].loss:
            out.append(m)
    return out


def scores(front: list[Member], floor: float = 0.0) -> list[float]:
    """``-d log(loss) / d complexity`` against the previous member (0 for the first);
    losses below ``floor`` count as ``floor``."""
    out = [0.0]
    for prev, cur in zip(front, front[1:]):
        lo_prev = math.log(max(prev.loss, floor, 1e-300))
        lo_cur = math.log(max(cur.loss, floor, 1e-300))
        out.append(max(0.0, -(lo_cur - lo_prev) / (cur.complexity - prev.complexity)))
    return out


def aicc(member: Member, n_rows: int, floor: float = 0.0) -> float:
    """Corrected Akaike criterion of ``member`` on ``n_rows`` rows (lower is better).

    ``n ln(max(loss, floor)) + 2k + 2k(k + 1) / (n - k - 1)`` with ``k`` = the number of
    constants + 1 (noise variance); ``inf`` when ``n <= k + 1`` (too few rows for ``k``).
    """
    k = len(constants(member.expr)) + 1
    if n_rows <= k + 1:
        return math.inf
    return n_rows * math.log(max(member.loss, floor, 1e-300)) + 2 * k + 2 * k * (k + 1) / (n_rows - k - 1)


def select(front: list[Member], model_selection: str = "best", n_rows: int | None = None) -> int:
    """Index into ``front`` of the chosen member; ``n_rows``: rows the losses were measured on.

    With ``model_selection="best"`` and ``n_rows < SMALL_SAMPLE``, the lowest AICc (ties:
    the simpler member).  Otherwise PySR's rules, with the simplest member taken by
    ``"best"`` when it is within the 1.5x window (module docstring).  Except for
    ``"accuracy"``, losses below :data:`EXACT_FIT` ``* max(loss)`` (float noise of an exact
    fit: 2.3e-29 against 1.5e-29) count as equal, so an exact law is not beaten by a longer
    exact form of it.
    """
    if model_selection not in MODEL_SELECTIONS:
        raise ValueError(f"model_selection must be one of {MODEL_SELECTIONS}, got {model_selection!r}")
    if not front:
        raise ValueError("empty front")
    losses = [m.loss for m in front]
    if model_selection == "accuracy":
        return min(range(len(front)), key=lambda i: (losses[i], front[i].complexity))
    floor = EXACT_FIT * max(losses)
    if model_selection == "best" and n_rows is not None and n_rows < SMALL_SAMPLE:
        return min(range(len(front)), key=lambda i: (aicc(front[i], n_rows, floor), front[i].complexity))
    s = scores(front, floor)
    candidates = range(len(front))
    if model_selection == "best":
        threshold = 1.5 * max(min(losses), floor)
        candidates = [i for i in candidates if losses[i] <= threshold]
        if candidates[0] == 0:  # the simplest member is accurate enough (module docstring)
            return 0
    return max(candidates, key=lambda i: (s[i], -i))
