"""The Pareto front of a formula fit as a table (``Regressor.equations_``).

One row per front member, simplest first, with PySR's column names:

============== ================ ===============================================
column         type             meaning
============== ================ ===============================================
complexity     int              size of the formula (node count by default)
loss           float            MSE on the training rows (<= 10,000) + penalty
score          float            ``-d ln(loss) / d complexity`` against the row
                                before (0 for the first row)
equation       str              the formula as text (SymPy syntax)
sympy_format   sympy.Expr       the formula
lambda_format  CallableEquation ``f(X (n_rows, n_features)) -> (n_rows,)``
============== ================ ===============================================

``Regressor.equations_`` is :meth:`EquationTable.to_pandas` (a ``pandas.DataFrame``,
as in PySR) when pandas can be imported, and the :class:`EquationTable` itself when it
cannot; ``Regressor.get_best(index)`` returns an :class:`EquationRow` either way.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass, fields
from typing import Iterator

import numpy as np
import sympy

from search.expression import Expr

COLUMNS = ("complexity", "loss", "score", "equation", "sympy_format", "lambda_format")


class CallableEquation:
    """A front member as a NumPy function: ``f(X)`` with ``X (n_rows, n_features)``
    (array-like) returns ``(n_rows,)`` float64; NaN/inf of the formula pass through."""

    def __init__(self, expr: Expr, n_features: int, text: str, feature_names=None):
        """``feature_names``: the columns of the DataFrame fitted on, if it was one; a
        DataFrame ``X`` is then read by those names (as PySR does), in any column order."""
        self.expr = expr
        self.n_features = n_features
        self.text = text
        self.feature_names = feature_names

    def __call__(self, X) -> np.ndarray:
        from search.numpy_eval import evaluate

        X = columns_by_name(X, self.feature_names)
        if X.ndim != 2 or X.shape[1] != self.n_features:
            raise ValueError(f"X must have shape (n_rows, {self.n_features}), got {X.shape}")
        return evaluate(self.expr, X)

    def __repr__(self) -> str:
        return f"CallableEquation(X=>{self.text})"


def columns_by_name(X, names) -> np.ndarray:
    """``X`` as a float64 array: a DataFrame's columns ``names`` in that order (ValueError
    naming any it lacks) where ``names`` is given (the columns fitted on), else ``X`` as it is."""
    if names is not None and hasattr(X, "columns"):
        names = [str(n) for n in names]
        missing = [n for n in names if n not in set(map(str, X.columns))]
        if missing:
            raise ValueError(f"X has no column {', '.join(map(repr, missing))}; the equation was fitted on "
                             f"{', '.join(map(repr, names))}")
        X = X.rename(columns=str)[names]
    return np.asarray(X, dtype=np.float64)


@dataclass(frozen=True)
class EquationRow:
    """One member of the front; the fields are :data:`COLUMNS`."""

    complexity: int
    loss: float
    score: float
    equation: str
    sympy_format: sympy.Expr
    lambda_format: CallableEquation

    def __getitem__(self, column: str):
        """``row["equation"]``, as on the pandas row PySR's ``get_best()`` returns."""
        if column not in COLUMNS:
            raise KeyError(f"{column!r}; the columns are {', '.join(COLUMNS)}")
        return getattr(self, column)


assert tuple(f.name for f in fields(EquationRow)) == COLUMNS


class EquationTable:
    """The front without pandas: rows by complexity, ``len``, ``[i]``, iteration, a
    readable ``repr`` (the selected row marked ``>>``), ``to_pandas()``."""

    columns = COLUMNS

    def __init__(self, rows: list[EquationRow], selected: int):
        self.rows = rows
        self.selected = selected

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, i: int) -> EquationRow:
        return self.rows[i]

    def __iter__(self) -> Iterator[EquationRow]:
        return iter(self.rows)

    def __repr__(self) -> str:
        lines = [f"{'':2}{'complexity':>10}  {'loss':>12}  {'score':>8}  equation"]
        for i, r in enumerate(self.rows):
            mark = ">>" if i == self.selected else ""
            lines.append(f"{mark:2}{r.complexity:>10}  {r.loss:>12.6g}  {r.score:>8.4g}  {r.equation}")
        return "\n".join(lines)

    def to_pandas(self):
        """A ``pandas.DataFrame`` with the columns :data:`COLUMNS` (PySR's ``equations_``)."""
        import pandas as pd  # optional dependency

        return pd.DataFrame({c: [getattr(r, c) for r in self.rows] for c in self.columns}, columns=list(self.columns))


def as_equations(table: EquationTable):
    """``table.to_pandas()`` when pandas can be imported, else ``table``."""
    if importlib.util.find_spec("pandas") is None:
        return table
    return table.to_pandas()
