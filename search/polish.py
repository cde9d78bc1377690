"""Float64 finish of the final front: refit constants, fold in the scaling, round, rewrite.

The search runs in float32 on a subsample; its constants are good to a few digits.  For
each hall-of-fame member :func:`finish`

1. refits all constants and the linear scaling ``a f + b`` by least squares in float64
   on the training data (``scipy.optimize.least_squares``, Levenberg–Marquardt),
2. folds ``a`` and ``b`` into the expression (dropped where they are 1 and 0),
3. rounds every constant to a nice value (:mod:`search.numbers`: ``5/2``, ``1/(4 pi)``)
   or else to its shortest decimal, as far as the data cannot tell the difference
   (:func:`noise_tolerance`),
4. simplifies the result with SymPy's automatic evaluation, and then tries SymPy's
   rewrites (``trigsimp``, ``cancel``, ``logcombine`` ...) and keeps the shortest form
   that computes the same values (:func:`shortest_equivalent`).

Losses are mean squared errors in float64 on all rows given.
"""

from __future__ import annotations

import functools
import math
from typing import Callable

import numpy as np
import sympy
from scipy.optimize import least_squares

from .expression import CONST, VAR, ConversionError, Expr, children, complexity, constants, from_sympy, to_sympy, \
    with_constants
from .numbers import nice_candidates, round_significant
from .numpy_eval import evaluate
from .operators import BUILTIN, OperatorSet
from .simplify import simplify

#: Critical value of the F-test for one restricted parameter at the 5 % level (the 95 %
#: quantile of chi-square with one degree of freedom): see :func:`noise_tolerance`.
F_CRITICAL = 3.84


def scaled(expr: Expr, a: float, b: float, ops: OperatorSet = BUILTIN) -> Expr:
    """``a * expr + b`` as postfix nodes (identity parts omitted)."""
    out = expr
    if a != 1.0:
        out = ((CONST, float(a)),) + out + ((ops.code["*"], 0),)
    if b != 0.0:
        out = out + ((CONST, float(b)), (ops.code["+"], 0))
    return out


def mse(expr: Expr, X: np.ndarray, y: np.ndarray, ops: OperatorSet = BUILTIN) -> float:
    """Mean squared error of ``expr`` on ``(X, y)``; inf when not finite."""
    return mse_of(evaluate(expr, X, ops), y)


def mse_of(f: np.ndarray, y: np.ndarray) -> float:
    """Mean squared error of the values ``f`` against ``y``; inf when not finite."""
    with np.errstate(all="ignore"):
        value = float(np.mean((f - y) ** 2))
    return value if math.isfinite(value) else math.inf


def refit(expr: Expr, X: np.ndarray, y: np.ndarray, linear_scaling: bool, ops: OperatorSet = BUILTIN) -> Expr:
    """Least-squares refit of the constants (and scaling) of ``expr`` in float64."""
    c0 = np.asarray(constants(expr), dtype=np.float64)
    f0 = evaluate(expr, X, ops)
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
        f = evaluate(e, X, ops)
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
        out = scaled(out, float(theta[n_c]), float(theta[n_c + 1]), ops)
    return out


# ----------------------------------------------------------------------------- rounding


def noise_tolerance(loss: float, n_rows: int, y_var: float) -> float:
    """How much the MSE may grow when one constant is rounded: the noise level ``tau``.

    With ``n`` rows, a least-squares loss ``L`` (the MSE at the fitted constants) and one
    constant fixed to a rounded value, the F statistic of the restriction is
    ``F = n (L' - L) / L``; the data cannot tell the rounded value from the fitted one
    when ``F`` is below the 5 % critical value ``3.84`` (chi-square, one degree of
    freedom).  So

        tau = max(1e-6 L + 1e-12 var(y),  3.84 L / n).

    The first term is the floor for exact data (``L`` near 0): there a rounding may only
    change the loss by float64 noise, so ``2.493 x**2`` never becomes ``47 x**2/(6 pi)``.
    """
    if not math.isfinite(loss):
        return 0.0
    return max(1e-6 * loss + 1e-12 * y_var, F_CRITICAL * loss / max(n_rows, 1))


def constant_noise(expr: Expr, i: int, X: np.ndarray, y: np.ndarray, ops: OperatorSet = BUILTIN) -> float:
    """The residual MSE as constant ``i`` sees it: ``sum g^2 r^2 / sum g^2``.

    ``r = f - y`` are the residuals and ``g = df/dc_i`` the sensitivities (a forward
    difference).  The least-squares estimate of ``c_i`` has the robust (sandwich)
    variance ``sum g^2 r^2 / (sum g^2)^2``, and moving ``c_i`` by ``delta`` raises the
    MSE by ``delta^2 sum g^2 / n``; so this weighted MSE in place of ``L`` makes
    :func:`noise_tolerance` the same F-test with noise that varies across the rows
    (1 % relative noise).  It is the plain MSE ``L`` when the noise is the same on every
    row, and ``L`` is returned when ``g`` is zero or not finite.
    """
    values = constants(expr)
    f = evaluate(expr, X, ops)
    loss = mse_of(f, y)
    c = values[i]
    step = 1e-6 * abs(c) if c != 0.0 else 1e-6
    moved = evaluate(with_constants(expr, values[:i] + [c + step] + values[i + 1:]), X, ops)
    with np.errstate(all="ignore"):
        g2 = ((moved - f) / step) ** 2
        total = float(np.sum(g2))
        weighted = float(np.sum(g2 * (f - y) ** 2)) / total if total > 0 else math.nan
    return weighted if math.isfinite(weighted) else loss


def round_constant(expr: Expr, i: int, loss_of: Callable[[Expr], float], limit: float) -> tuple[Expr, float] | None:
    """Constant ``i`` of ``expr`` rounded as far as ``loss_of(rounded) <= limit`` allows.

    With ``c`` the constant, ``d`` the fewest significant digits such that
    ``round(c, d)`` passes is the price of a decimal.  A nice value
    (:func:`search.numbers.nice_candidates`) replaces ``c`` instead when it is cheaper
    (cost ``< d``: ``1/(4 pi)`` costs 2, ``47/(6 pi)`` costs 4, ``2.493`` costs 4), lies
    no further from ``c`` than twice the ``d - 1`` digit rounding that failed, and
    passes too; the simplest such value wins.  Returns the new expression and its loss,
    or None when nothing passes (the constant is left alone).
    """
    values = constants(expr)
    c = values[i]
    if not math.isfinite(c):
        return None

    def attempt(value: float) -> tuple[Expr, float] | None:
        cand = expr if value == c else with_constants(expr, values[:i] + [value] + values[i + 1:])
        cand_loss = loss_of(cand)
        return (cand, cand_loss) if cand_loss <= limit else None

    if c == 0.0:
        return attempt(0.0)
    decimal, n_digits, failed_distance = None, 17, math.inf
    for n_digits in range(1, 18):
        rounded = round_significant(c, n_digits)
        decimal = attempt(rounded)
        if decimal is not None:
            break
        failed_distance = abs(rounded - c) / abs(c)
    reach = 2 * failed_distance if n_digits > 1 else math.inf
    for nice in nice_candidates(c, reach, max_cost=n_digits - 1):
        accepted = attempt(nice.value)
        if accepted is not None:
            return accepted
    return decimal


def round_constants(expr: Expr, X: np.ndarray, y: np.ndarray, loss: float, y_var: float,
                    ceiling: float = math.inf, ops: OperatorSet = BUILTIN) -> tuple[Expr, float]:
    """Round each constant in turn (:func:`round_constant`).

    Rounding constant ``i`` may raise the MSE by ``tau_i`` = :func:`noise_tolerance` of
    :func:`constant_noise` over the MSE before it, and the MSE must stay below
    ``ceiling``, which bounds the drift of repeated passes: :func:`finish` sets it to
    ``L + sum_i tau_i`` over the constants of the fit (each fixed constant may cost one
    parameter's worth of noise).
    """
    current, current_loss = expr, loss
    if not math.isfinite(loss):
        return expr, loss
    for i in range(len(constants(expr))):
        tau = noise_tolerance(constant_noise(current, i, X, y, ops), len(y), y_var)
        limit = min(current_loss + tau, ceiling)
        rounded = round_constant(current, i, lambda e: mse(e, X, y, ops), limit)
        if rounded is not None:
            current, current_loss = rounded
    return current, current_loss


def rounding_ceiling(expr: Expr, X: np.ndarray, y: np.ndarray, loss: float, y_var: float,
                     ops: OperatorSet = BUILTIN) -> float:
    """``L + sum_i tau_i`` over the constants of ``expr``: the most that rounding them all may
    cost (at least one ``tau`` of ``L``, for an expression without constants)."""
    taus = [noise_tolerance(constant_noise(expr, i, X, y, ops), len(y), y_var) for i in range(len(constants(expr)))]
    return loss + (sum(taus) if taus else noise_tolerance(loss, len(y), y_var))


# ----------------------------------------------------------------------------- folding


def fold_transcendental_constants(expr: Expr, ops: OperatorSet = BUILTIN) -> Expr:
    """Replace each largest variable-free subtree that applies a transcendental operator
    (``tanh(1)``, ``exp(2) - 7.3``) by its float64 value.

    SymPy keeps such terms symbolic, so a fitted constant next to them (``tanh(1) -
    0.7615941559``) never cancels.  Purely algebraic constant subtrees (``sqrt(2)``,
    ``1/3``) are kept: they are the exact forms the final formula should show.
    """
    keep = ops.algebraic_codes | {CONST}
    out: list = []

    def emit(start: int, end: int) -> None:
        sub = expr[start:end + 1]
        codes = {code for code, _ in sub}
        if VAR not in codes and codes - keep:
            value = float(evaluate(sub, np.zeros((1, 1)), ops)[0])
            if math.isfinite(value):
                out.append((CONST, value))
                return
        if end == start:
            out.append(expr[end])
            return
        for child_start, child_end in children(expr, end, ops):
            emit(child_start, child_end)
        out.append(expr[end])

    emit(0, len(expr) - 1)
    return tuple(out)


# ----------------------------------------------------------------------------- rewriting

#: Largest SymPy expression (``sympy.count_ops``) that the slow rewrites are tried on:
#: ``trigsimp`` (only with a trigonometric function inside) and ``simplify`` take tens
#: of milliseconds on small expressions and up to seconds on large ones.
TRIGSIMP_MAX_OPS = 16
SIMPLIFY_MAX_OPS = 10


def _has_trig(e: sympy.Expr) -> bool:
    return bool(e.atoms(sympy.sin, sympy.cos, sympy.tan))


#: SymPy rewrites tried by :func:`equivalent_forms`: ``(name, rewrite, applies)``.
REWRITES: tuple[tuple[str, Callable[[sympy.Expr], sympy.Expr], Callable[[sympy.Expr, int], bool]], ...] = (
    ("powsimp", sympy.powsimp, lambda e, n_ops: True),
    ("cancel", sympy.cancel, lambda e, n_ops: True),
    ("factor", sympy.factor, lambda e, n_ops: True),
    ("expand", sympy.expand, lambda e, n_ops: True),
    ("logcombine", lambda e: sympy.logcombine(e, force=True), lambda e, n_ops: True),
    ("expand_log", lambda e: sympy.expand_log(e, force=True), lambda e, n_ops: True),
    ("trigsimp", sympy.trigsimp, lambda e, n_ops: n_ops <= TRIGSIMP_MAX_OPS and _has_trig(e)),
    ("simplify", sympy.simplify, lambda e, n_ops: n_ops <= SIMPLIFY_MAX_OPS),
)


@functools.lru_cache(maxsize=4096)
def equivalent_forms(expr: Expr, n_vars: int, ops: OperatorSet = BUILTIN) -> tuple[Expr, ...]:
    """Forms of ``expr`` that SymPy's rewrites (:data:`REWRITES`) produce, of lower
    complexity than ``expr``, simplest first.

    The variables are real SymPy symbols (data are real), so ``log(exp(x)) -> x``.  The
    rewrites are symbolic identities, some only under conditions (``logcombine(force=
    True)`` assumes positive arguments), so callers check each form on the data.  The
    result depends on ``expr`` alone and is cached: the front is finished at every
    checkpoint.
    """
    symbols = [sympy.Symbol(f"v{i}", real=True) for i in range(n_vars)]
    try:
        original = to_sympy(expr, symbols, ops)
    except (TypeError, ValueError, ZeroDivisionError, OverflowError):
        return ()
    size = complexity(expr, ops)
    forms: dict[Expr, int] = {}
    n_ops = sympy.count_ops(original)
    rewritten = [original] + [_safe(rewrite, original) for _, rewrite, applies in REWRITES if applies(original, n_ops)]
    for form in rewritten:
        if form is None:
            continue
        try:
            converted = from_sympy(form, symbols, ops)
        except (ConversionError, TypeError, ValueError, ZeroDivisionError, OverflowError, KeyError):
            continue
        form_size = complexity(converted, ops)
        if form_size < size:
            forms.setdefault(converted, form_size)
    return tuple(sorted(forms, key=forms.__getitem__))


def _safe(rewrite: Callable[[sympy.Expr], sympy.Expr], e: sympy.Expr) -> sympy.Expr | None:
    """``rewrite(e)``, or None when SymPy fails on it."""
    try:
        return rewrite(e)
    except Exception:  # noqa: BLE001 - SymPy raises many kinds (PolynomialError, NotImplementedError ...)
        return None


def no_worse(new_loss: float, old_loss: float, y_var: float) -> bool:
    """``new <= old (1 + 1e-9) + 1e-15 var(y)``: the same function up to float64 rounding."""
    return new_loss <= old_loss * (1 + 1e-9) + 1e-15 * y_var


def shortest_equivalent(expr: Expr, X: np.ndarray, y: np.ndarray, loss: float, n_vars: int, y_var: float,
                        ops: OperatorSet = BUILTIN) -> tuple[Expr, float]:
    """The lowest-complexity form of ``expr`` (:func:`equivalent_forms`) whose MSE is no
    worse (:func:`no_worse`) than ``loss``, and its MSE; ``expr`` itself if none is."""
    for form in equivalent_forms(expr, n_vars, ops):
        form_loss = mse(form, X, y, ops)
        if no_worse(form_loss, loss, y_var):
            return form, form_loss
    return expr, loss


# ----------------------------------------------------------------------------- finish


def finish(expr: Expr, X: np.ndarray, y: np.ndarray, linear_scaling: bool, n_vars: int,
           refit_rows: int = 2000, *, ops: OperatorSet = BUILTIN, rewrite: bool = True) -> tuple[Expr, float, int]:
    """The polished, rounded, simplified expression, its float64 MSE and its complexity.

    Constants are refit on the first ``refit_rows`` rows (plenty for a handful of
    parameters, and it keeps the finish fast); losses use all rows given.  Rounding
    follows :func:`noise_tolerance`: each constant may cost at most its ``tau_i`` and all
    of them together at most ``sum_i tau_i`` (:func:`rounding_ceiling`).  ``rewrite=False``
    skips the SymPy rewrites (:func:`shortest_equivalent`).
    """
    fitted = refit(expr, X[:refit_rows], y[:refit_rows], linear_scaling, ops)
    loss = mse(fitted, X, y, ops)
    y_var = float(np.var(y))
    ceiling = rounding_ceiling(fitted, X, y, loss, y_var, ops)
    # The final form may use any operator of the set: it is the same function, and
    # SymPy's folding (c1 * (sqrt(a) / c2)**3 -> 1.0*a**(3/2)) needs pow to be written.
    allowed = frozenset(ops.code.values())

    def rounded_and_simplified(current: Expr, current_loss: float) -> tuple[Expr, float]:
        rounded, rounded_loss = round_constants(current, X, y, current_loss, y_var, ceiling, ops)
        simpler = simplify(rounded, n_vars, allowed, ops)
        simpler_loss = mse(simpler, X, y, ops)
        if no_worse(simpler_loss, rounded_loss, y_var):
            return simpler, simpler_loss
        return rounded, rounded_loss

    # Round, then simplify; simplification folds constants into new ones (a * 27.9 + b
    # -> 1e-16), so round and simplify once more.
    current, loss = rounded_and_simplified(fitted, loss)
    current, loss = rounded_and_simplified(current, loss)
    # SymPy keeps tanh(1) symbolic; as a number it can cancel a fitted constant.
    folded = fold_transcendental_constants(current, ops)
    if folded != current:
        folded = simplify(folded, n_vars, allowed, ops)
        folded_loss = mse(folded, X, y, ops)
        if no_worse(folded_loss, loss, y_var):
            current, loss = folded, folded_loss
    # Identities (2 cos(x/2)**2 - 1 -> cos(x)) need the exact constants: rewrite after rounding.
    if rewrite:
        current, loss = shortest_equivalent(current, X, y, loss, n_vars, y_var, ops)
    # Simplification can leave a folded constant such as 1.0000000000000002: round last.
    current, loss = round_constants(current, X, y, loss, y_var, ceiling, ops)
    return current, loss, complexity(current, ops)
