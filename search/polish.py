"""Float64 finish of the final front: refit constants, fold in the scaling, round.

The search runs in float32 on a subsample; its constants are good to a few digits.  For
each hall-of-fame member this module

1. refits all constants and the linear scaling ``a f + b`` by least squares in float64
   on the training data (``scipy.optimize.least_squares``, Levenberg–Marquardt),
2. folds ``a`` and ``b`` into the expression (dropped where they are 1 and 0),
3. tries "nice" values for the constants (nearby small-denominator rationals, pi, e)
   and keeps them where the loss does not get measurably worse,
4. simplifies the result with SymPy's automatic evaluation.
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
from scipy.optimize import least_squares

from .expression import CONST, VAR, Expr, children, complexity, constants, with_constants
from .numpy_eval import evaluate
from .operators import CODE, operator_of
from .simplify import simplify


def scaled(expr: Expr, a: float, b: float) -> Expr:
    """``a * expr + b`` as postfix nodes (identity parts omitted)."""
    out = expr
    if a != 1.0:
        out = ((CONST, float(a)),) + out + ((CODE["*"], 0),)
    if b != 0.0:
        out = out + ((CONST, float(b)), (CODE["+"], 0))
    return out


def mse(expr: Expr, X: np.ndarray, y: np.ndarray) -> float:
    """Mean squared error of ``expr`` on ``(X, y)``; inf when not finite."""
    return mse_of(evaluate(expr, X), y)


def refit(expr: Expr, X: np.ndarray, y: np.ndarray, linear_scaling: bool) -> Expr:
    """Least-squares refit of the constants (and scaling) of ``expr`` in float64."""
    c0 = np.asarray(constants(expr), dtype=np.float64)
    f0 = evaluate(expr, X)
    if not np.all(np.isfinite(f0)):
        return expr
    a0, b0 = 1.0, 0.0
    if linear_scaling:
        var = float(np.var(f0))
        if var > 0:
            a0 = float(np.cov(f0, y, bias=True)[0, 1] / var)
            b0 = float(np.mean(y) - a0 * np.mean(f0))
        else:
            a0, b0 = 0.0, float(np.mean(y))
    n_c = len(c0)

    def model(theta):
        e = with_constants(expr, theta[:n_c]) if n_c else expr
        f = evaluate(e, X)
        if linear_scaling:
            f = theta[n_c] * f + theta[n_c + 1]
        return f

    theta0 = np.concatenate([c0, [a0, b0]]) if linear_scaling else c0
    if len(theta0):
        def resid(theta):
            r = model(theta) - y
            return np.where(np.isfinite(r), r, 1e150)
        try:
            method = "lm" if len(y) >= len(theta0) else "trf"
            theta = least_squares(resid, theta0, method=method, xtol=1e-15, ftol=1e-15, gtol=1e-15,
                                  max_nfev=200 * (len(theta0) + 1)).x
        except (ValueError, np.linalg.LinAlgError):
            theta = theta0
        if mse_of(model(theta), y) > mse_of(model(theta0), y):
            theta = theta0
    else:
        theta = theta0
    out = with_constants(expr, theta[:n_c]) if n_c else expr
    if linear_scaling:
        out = scaled(out, float(theta[n_c]), float(theta[n_c + 1]))
    return out


def mse_of(f: np.ndarray, y: np.ndarray) -> float:
    """Mean squared error of the values ``f`` against ``y``; inf when not finite."""
    with np.errstate(all="ignore"):
        value = float(np.mean((f - y) ** 2))
    return value if math.isfinite(value) else math.inf


def nice_value(value: float, rel: float) -> float:
    """The simplest of 0, small rationals, and rational multiples of pi, 1/pi, pi**2,
    1/pi**2, e, sqrt(2 pi) and 1/sqrt(2 pi) within ``rel`` of ``value``."""
    if abs(value) < 1e-12:
        return 0.0
    for den in (1, 2, 3, 4, 5, 6, 8, 10, 12, 16, 20, 25, 32, 50, 64, 100, 1000):
        cand = round(value * den) / den
        if cand != 0 and abs(cand - value) <= rel * abs(value):
            return float(Fraction(cand).limit_denominator(1000))
    for base in (math.pi, 1 / math.pi, math.pi**2, 1 / math.pi**2, math.e, math.sqrt(2 * math.pi),
                 1 / math.sqrt(2 * math.pi)):
        for den in (1, 2, 3, 4, 6, 8, 12, 16):
            mult = round(value / base * den) / den
            if mult != 0 and abs(mult * base - value) <= rel * abs(value):
                return float(mult * base)
    return value


def round_constants(expr: Expr, X: np.ndarray, y: np.ndarray, loss: float, y_var: float) -> tuple[Expr, float]:
    """Replace constants by nice values where the loss stays within a hair of ``loss``.

    Constants are tried one at a time (largest tolerance first that is still accepted);
    each rounded constant must keep ``mse <= loss * (1 + 1e-6) + 1e-12 * var(y)``.
    """
    values = constants(expr)
    best, best_loss = expr, loss
    for i in range(len(values)):
        for rel in (1e-6, 1e-4, 1e-3):
            cand_values = list(constants(best))
            nice = nice_value(cand_values[i], rel)
            if nice == cand_values[i]:
                continue
            cand_values[i] = nice
            cand = with_constants(best, cand_values)
            cand_loss = mse(cand, X, y)
            if cand_loss <= loss * (1 + 1e-6) + 1e-12 * y_var:
                best, best_loss = cand, cand_loss
                break
    return best, best_loss


ALGEBRAIC = frozenset(CODE[name] for name in ("+", "-", "*", "/", "neg", "square", "cube", "sqrt", "inv",
                                               "pow", "abs") if name in CODE)


def fold_transcendental_constants(expr: Expr) -> Expr:
    """Replace each largest variable-free subtree that applies a transcendental operator
    (``tanh(1)``, ``exp(2) - 7.3``) by its float64 value.

    SymPy keeps such terms symbolic, so a fitted constant next to them (``tanh(1) -
    0.7615941559``) never cancels.  Purely algebraic constant subtrees (``sqrt(2)``,
    ``1/3``) are kept: they are the exact forms the final formula should show.
    """
    out: list = []

    def emit(start: int, end: int) -> None:
        sub = expr[start:end + 1]
        codes = {code for code, _ in sub}
        if VAR not in codes and codes - ALGEBRAIC - {CONST}:
            value = float(evaluate(sub, np.zeros((1, 1)))[0])
            if math.isfinite(value):
                out.append((CONST, value))
                return
        if end == start:
            out.append(expr[end])
            return
        for child_start, child_end in children(expr, end):
            emit(child_start, child_end)
        out.append(expr[end])

    emit(0, len(expr) - 1)
    return tuple(out)


def finish(expr: Expr, X: np.ndarray, y: np.ndarray, linear_scaling: bool, n_vars: int,
           refit_rows: int = 2000) -> tuple[Expr, float, int]:
    """The polished, rounded, simplified expression, its float64 MSE and its complexity.

    Constants are refit on the first ``refit_rows`` rows (plenty for a handful of
    parameters, and it keeps the finish fast); losses use all rows given.
    """
    fitted = refit(expr, X[:refit_rows], y[:refit_rows], linear_scaling)
    loss = mse(fitted, X, y)
    y_var = float(np.var(y))
    # The final form may use any operator of the table: it is the same function, and
    # SymPy's folding (c1 * (sqrt(a) / c2)**3 -> 1.0*a**(3/2)) needs pow to be written.
    allowed = frozenset(CODE.values())
    current = fitted
    # Round, then simplify; simplification folds constants into new ones (a * 27.9 + b
    # -> 1e-16), so round and simplify once more.
    for _ in range(2):
        rounded, rounded_loss = round_constants(current, X, y, loss, y_var)
        simpler = simplify(rounded, n_vars, allowed)
        simpler_loss = mse(simpler, X, y)
        if simpler_loss <= rounded_loss * (1 + 1e-9) + 1e-15:
            current, loss = simpler, simpler_loss
        else:
            current, loss = rounded, rounded_loss
    # SymPy keeps tanh(1) symbolic; as a number it can cancel a fitted constant.
    folded = fold_transcendental_constants(current)
    if folded != current:
        folded = simplify(folded, n_vars, allowed)
        folded_loss = mse(folded, X, y)
        if folded_loss <= loss * (1 + 1e-9) + 1e-15:
            current, loss = folded, folded_loss
    # Simplification can leave a folded constant such as 1.0000000000000002: round last.
    current, loss = round_constants(current, X, y, loss, y_var)
    return current, loss, complexity(current)
