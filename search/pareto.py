"""The hall of fame (best expression per complexity), its Pareto front, and model selection.

Model selection follows PySR:

* ``"accuracy"``: the lowest loss;
* ``"score"``: the largest ``score = -d log(loss) / d complexity`` between consecutive
  front members;
* ``"best"``: the largest score among members with ``loss <= 1.5 * min(loss)``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from .expression import Expr

MODEL_SELECTIONS = ("best", "accuracy", "score")


@dataclass(frozen=True)
class Member:
    expr: Expr
    loss: float
    complexity: int


class HallOfFame:
    """The lowest-loss expression seen at each complexity."""

    def __init__(self) -> None:
        self.best: dict[int, Member] = {}

    def consider(self, expr: Expr, loss: float, complexity: int) -> bool:
        """Keep ``expr`` if it beats the current holder of its complexity; True if kept."""
        if not math.isfinite(loss):
            return False
        held = self.best.get(complexity)
        if held is None or loss < held.loss:
            self.best[complexity] = Member(expr, float(loss), complexity)
            return True
        return False

    def front(self) -> list[Member]:
        """Members whose loss is lower than that of every simpler member, by complexity."""
        out: list[Member] = []
        for c in sorted(self.best):
            m = self.best[c]
            if not out or m.loss < out[-1].loss:
                out.append(m)
        return out


def scores(front: list[Member]) -> list[float]:
    """``-d log(loss) / d complexity`` against the previous member (0 for the first)."""
    out = [0.0]
    for prev, cur in zip(front, front[1:]):
        lo_prev = math.log(max(prev.loss, 1e-300))
        lo_cur = math.log(max(cur.loss, 1e-300))
        out.append(max(0.0, -(lo_cur - lo_prev) / (cur.complexity - prev.complexity)))
    return out


def select(front: list[Member], model_selection: str = "best") -> int:
    """Index into ``front`` of the chosen member."""
    if model_selection not in MODEL_SELECTIONS:
        raise ValueError(f"model_selection must be one of {MODEL_SELECTIONS}, got {model_selection!r}")
    if not front:
        raise ValueError("empty front")
    losses = [m.loss for m in front]
    if model_selection == "accuracy":
        return min(range(len(front)), key=lambda i: (losses[i], front[i].complexity))
    s = scores(front)
    candidates = range(len(front))
    if model_selection == "best":
        threshold = 1.5 * min(losses)
        candidates = [i for i in candidates if losses[i] <= threshold]
    return max(candidates, key=lambda i: (s[i], -i))
