"""What the engine is given: a :class:`Problem`.

A problem says what a candidate may use and how it is judged, and nothing about where
the data came from:

* ``leaves`` — the input arrays, shape ``(n_leaves, R)``: leaf ``i`` of a candidate is
  row ``i`` (a data column, a field or one of its derivatives, a grid coordinate ...);
* ``objective`` — an :class:`~search.objectives.Objective`, from a population's values
  to one loss per candidate, in JAX;
* ``fit_constants`` — how constants are fitted (default: Levenberg–Marquardt for
  least-squares objectives, a derivative-free strategy otherwise);
* ``baseline`` — the loss that normalizes it (default: the objective's, the loss of the
  best constant model), used by parsimony and the stopping tolerance;
* ``polish`` — how the final front is finished (default: kept as found), e.g. a float64
  refit and rounding on all the data for tabular regression;
* ``penalty`` — an amount added to a candidate's loss wherever the engine scores it
  (default: none), e.g. for a dimensionally inconsistent formula (:mod:`search.units`);
* ``proposals`` — candidates the problem itself proposes before the evolution starts
  (default: none), e.g. sparse linear models over small terms of tabular data
  (:mod:`discover.formula.terms`); the engine scores them, fits their constants and
  offers them to the hall of fame, from which migration carries them to the islands.

A tabular formula, a weak-form PDE residual, a PDE integrated with the candidate inside
it and a max-ULP error are four problems of this one engine.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Sequence

import numpy as np

from .constants import fit_constants as default_fitter
from .expression import Expr
from .objectives import Objective
from .pareto import Member, pareto_front

if TYPE_CHECKING:
    from .mutate import Grammar


@dataclass
class Problem:
    """A search problem (see the module docstring).

    ``polish(members, final)`` receives the hall of fame (the best member at each
    complexity, simplest first) and returns the finished Pareto front; ``final`` is False
    for the quick finish of a checkpoint.
    ``fit_constants(evaluator, objective, exprs, iterations, capacity, seed)`` returns
    ``(fitted expressions, losses)``.  ``dtype`` is the evaluator's compute type.
    ``penalty(exprs) -> (len(exprs),)`` losses added to the objective's (see
    :meth:`penalized`); the polish applies it to the finished front itself.
    ``proposals(grammar, deadline) -> expressions`` may use any operator of ``grammar``
    (:class:`search.mutate.Grammar`); those past its ``maxsize`` are dropped; ``deadline``
    (a ``time.perf_counter()`` value, or None) is when to return what is found so far.
    """

    leaves: np.ndarray
    objective: Objective
    leaf_names: Sequence[str] | None = None
    fit_constants: Callable = default_fitter
    baseline: float | None = None
    polish: Callable[[list[Member], bool], list[Member]] | None = None
    dtype: str = "float32"
    penalty: Callable[[Sequence[Expr]], np.ndarray] | None = None
    proposals: Callable[["Grammar", float | None], Sequence[Expr]] | None = None

    def __post_init__(self):
        self.leaves = np.asarray(self.leaves, dtype=np.float64)
        if self.leaves.ndim != 2 or self.leaves.shape[1] == 0:
            raise ValueError(f"leaves must have shape (n_leaves, n_rows) with n_rows > 0, got {self.leaves.shape}")
        if self.leaf_names is None:
            self.leaf_names = tuple(f"x{i}" for i in range(self.leaves.shape[0]))
        if len(self.leaf_names) != self.leaves.shape[0]:
            raise ValueError(f"{len(self.leaf_names)} leaf names for {self.leaves.shape[0]} leaves")

    @property
    def n_leaves(self) -> int:
        return self.leaves.shape[0]

    def baseline_loss(self) -> float:
        value = self.baseline if self.baseline is not None else self.objective.baseline()
        return float(value) if value and np.isfinite(value) and value > 0 else 1.0

    def penalized(self, exprs: Sequence[Expr], losses: np.ndarray) -> np.ndarray:
        """``losses (len(exprs),)`` of ``exprs`` plus their :attr:`penalty` (unchanged without one)."""
        if self.penalty is None:
            return losses
        return np.asarray(losses, dtype=np.float64) + self.penalty(exprs)

    def finish(self, members: list[Member], final: bool = True) -> list[Member]:
        """The finished front of the hall of fame's ``members`` (simplest first)."""
        return self.polish(members, final) if self.polish is not None else pareto_front(members)
