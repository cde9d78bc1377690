"""Evaluate one expression with NumPy in float64.

The reference the batched JAX evaluator is tested against, and the evaluator of the
float64 constant polish of the final front (few expressions, full precision).
"""

from __future__ import annotations

import numpy as np

from .expression import Expr
from .operators import BUILTIN, CONST, VAR, OperatorSet


def evaluate(expr: Expr, X: np.ndarray, ops: OperatorSet = BUILTIN) -> np.ndarray:
    """Values of ``expr`` on ``X (R, n_vars)``, shape ``(R,)``; NaN/inf pass through silently."""
    X = np.asarray(X, dtype=np.float64)
    n_rows = X.shape[0]
    stack: list[np.ndarray] = []
    with np.errstate(all="ignore"):
        for code, value in expr:
            if code == CONST:
                stack.append(np.full(n_rows, value))
            elif code == VAR:
                stack.append(X[:, int(value)])
            else:
                op = ops.operator(code)
                args = stack[-op.arity :]
                del stack[-op.arity :]
                stack.append(np.asarray(op.numpy(*args), dtype=np.float64))
    return stack[-1]
