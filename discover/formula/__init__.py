"""The formula job: tabular data ``y ~ f(X)`` as a problem for the search engine."""

from .problem import DEFAULT_BATCH_SIZE, DEFAULT_DIMENSIONAL_PENALTY, DEFAULT_LINEAR_SCALING, formula_problem

__all__ = ["DEFAULT_BATCH_SIZE", "DEFAULT_DIMENSIONAL_PENALTY", "DEFAULT_LINEAR_SCALING", "formula_problem"]
