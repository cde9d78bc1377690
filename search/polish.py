"""Float64 finish of the final front: refit constants, fold in the scaling, round, rewrite.

The search runs in float32 on a subsample; its constants are good to a few digits.  For
each hall-of-fame member :func:`finish`

1. refits all constants and the linear scaling ``a f + b`` by least squares in float64
   on the training data (``scipy.optimize.least_squares``, Levenberg–Marquardt),
2. folds ``a`` and ``b`` into the expression (dropped where they are 1 and 0),
3. rounds every constant to a nice value (:mod:`search.numbers`: ``5/2``, ``1/(4 pi)``)
   or else to its shortest decimal, as far as the data cannot tell the difference,
4. simplifies the result with SymPy's automatic evaluation, and then tries SymPy's
   rewrites (``cancel``, ``logcombine``, Fu's trigonometric rules ...) and keeps the
   shortest form that computes the same values (:func:`shortest_equivalent`).

The rounding rule (:func:`round_constants`).  With ``n`` rows and the fitted MSE ``L``,
constant ``c_i`` may be replaced by a rounded value when the MSE grows by at most

    tau_i = max(1e-6 L_i + 1e-12 var(y),  3.84 L_i / n),

the constants after it being re-fitted (one Gauss–Newton step): an F-test at the 5 %
level with one degree of freedom (:func:`noise_tolerance`).  ``L_i`` is the MSE weighted
by the constant's sensitivity (:func:`constant_noise`; ``L`` itself when the noise is the
same on every row); the first term is the float64 floor for exact data.  All roundings
together may raise the MSE by at most ``sum_i tau_i``.  Among the values that pass, a
nice value wins when it is cheaper to write than the shortest passing decimal
(:func:`round_constant`), else that decimal does.

Losses are mean squared errors in float64 on all rows given.
"""

from __future__ import annotations

import functools
import importlib
import math
import signal
import threading
from contextlib import contextmanager
from typing import Callable, Sequence

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


def sensitivities(expr: Expr, indices: Sequence[int], X: np.ndarray, ops: OperatorSet = BUILTIN
                  ) -> tuple[np.ndarray, np.ndarray]:
    """``f`` and the Jacobian ``J[:, k] = df/dc_{indices[k]}`` of ``expr``'s values with
    respect to the listed constants (forward differences, step ``1e-7 max(|c|, 1e-3)``);
    a column that is not finite is zero."""
    values = constants(expr)
    f = evaluate(expr, X, ops)
    J = np.zeros((len(f), len(indices)))
    with np.errstate(all="ignore"):
        for k, j in enumerate(indices):
            step = 1e-7 * max(abs(values[j]), 1e-3)
            moved = values[:j] + [values[j] + step] + values[j + 1:]
            column = (evaluate(with_constants(expr, moved), X, ops) - f) / step
            if np.all(np.isfinite(column)):
                J[:, k] = column
    return f, J


def constant_noise(r: np.ndarray, g: np.ndarray) -> float:
    """The residual MSE as one constant sees it: ``sum g^2 r^2 / sum g^2``.

    ``r`` are the residuals and ``g`` the constant's sensitivities ``df/dc`` (with the
    part that the constants re-fitted along with it can absorb projected out).  The
    least-squares estimate of ``c`` has the robust (sandwich) variance
    ``sum g^2 r^2 / (sum g^2)^2``, and moving ``c`` by ``delta`` raises the MSE by
    ``delta^2 sum g^2 / n``; so this weighted MSE in place of ``L`` makes
    :func:`noise_tolerance` the same F-test with noise that varies across the rows
    (1 % relative noise).  It is the plain MSE when the noise is the same on every row,
    and the plain MSE is returned when ``g`` is zero.
    """
    with np.errstate(all="ignore"):
        g2 = g**2
        total = float(np.sum(g2))
        weighted = float(np.sum(g2 * r**2)) / total if total > 0 else math.nan
    return weighted if math.isfinite(weighted) else mse_of(r, np.zeros_like(r))


def constant_fixer(expr: Expr, i: int, free: Sequence[int], X: np.ndarray, y: np.ndarray,
                   ops: OperatorSet = BUILTIN) -> tuple[Callable[[float], tuple[Expr, float]], float]:
    """``(fixed, noise)`` for rounding constant ``i`` of ``expr`` while the ``free``
    constants are re-fitted.

    ``fixed(value) -> (expr', mse(expr'))`` sets constant ``i`` to ``value`` and moves the
    free constants by one Gauss–Newton step,

        d theta_free = -pinv(J_free) (r + J_i (value - c_i)),

    the least-squares answer of the linearized model.  So the loss that is tested is, to
    first order, the profile loss (the best the other constants can do with ``c_i``
    fixed), as the F-test of nested models requires: rounding the slope of ``c x + b``
    is judged with the intercept ``b`` re-fitted.  When the step does not lower the loss
    (a non-linear model), the free constants stay as they are.  ``noise`` is
    :func:`constant_noise` of the sensitivity ``J_i`` less its projection on ``J_free``.
    """
    values = np.asarray(constants(expr), dtype=np.float64)
    f, J = sensitivities(expr, [i, *free], X, ops)
    r = f - y
    g = J[:, 0]
    base_step = slope_step = np.zeros(len(free))
    if len(free) and np.all(np.isfinite(r)):
        pinv = np.linalg.pinv(J[:, 1:], rcond=1e-10)
        base_step, slope_step = -(pinv @ r), -(pinv @ g)
        g = g + J[:, 1:] @ slope_step
    free_index = np.asarray(free, dtype=np.int64)

    def fixed(value: float) -> tuple[Expr, float]:
        theta = values.copy()
        theta[i] = value
        plain = with_constants(expr, theta)
        plain_loss = mse(plain, X, y, ops)
        if not len(free):
            return plain, plain_loss
        theta[free_index] += base_step + slope_step * (value - values[i])
        stepped = with_constants(expr, theta)
        stepped_loss = mse(stepped, X, y, ops)
        return (stepped, stepped_loss) if stepped_loss <= plain_loss else (plain, plain_loss)

    return fixed, constant_noise(r, g)


def round_constant(c: float, fixed: Callable[[float], tuple[Expr, float]], limit: float) -> tuple[Expr, float] | None:
    """The constant ``c`` rounded as far as ``fixed(rounded)[1] <= limit`` allows
    (``fixed`` maps a value of ``c`` to the expression and its loss, :func:`constant_fixer`).

    ``d``, the fewest significant digits such that ``round(c, d)`` passes, is the price
    of a decimal.  A nice value (:func:`search.numbers.nice_candidates`) replaces ``c``
    instead when it is cheaper (cost ``< d``: ``1/(4 pi)`` costs 2, ``47/(6 pi)`` costs 4,
    ``2.493`` costs 4), lies no further from ``c`` than twice the ``d - 1`` digit rounding
    that failed, and passes too; the simplest such value wins.  Returns the new
    expression and its loss, or None when nothing passes.
    """
    if not math.isfinite(c):
        return None

    def attempt(value: float) -> tuple[Expr, float] | None:
        cand = fixed(value)
        return cand if cand[1] <= limit else None

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
    """Round each constant in postfix order (:func:`round_constant`), re-fitting the
    constants after it (:func:`constant_fixer`).

    Rounding constant ``i`` may raise the MSE by ``tau_i`` = :func:`noise_tolerance` of
    its :func:`constant_noise` over the MSE before it, and the MSE must stay below
    ``ceiling``, which bounds the drift of repeated passes: :func:`finish` sets it to
    ``L + sum_i tau_i`` over the constants of the fit (each fixed constant may cost one
    parameter's worth of noise).
    """
    current, current_loss = expr, loss
    if not math.isfinite(loss):
        return expr, loss
    n_constants = len(constants(expr))
    for i in range(n_constants):
        fixed, noise = constant_fixer(current, i, range(i + 1, n_constants), X, y, ops)
        limit = min(current_loss + noise_tolerance(noise, len(y), y_var), ceiling)
        rounded = round_constant(constants(current)[i], fixed, limit)
        if rounded is not None:
            current, current_loss = rounded
    return current, current_loss


def rounding_ceiling(expr: Expr, X: np.ndarray, y: np.ndarray, loss: float, y_var: float,
                     ops: OperatorSet = BUILTIN) -> float:
    """``L + sum_i tau_i`` over the constants of ``expr`` (each ``tau_i`` as in
    :func:`round_constants`): the most that rounding them all may cost (one ``tau`` of
    ``L`` for an expression without constants)."""
    n_constants = len(constants(expr))
    taus = [noise_tolerance(constant_fixer(expr, i, range(i + 1, n_constants), X, y, ops)[1], len(y), y_var)
            for i in range(n_constants)]
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


def without_identities(expr: Expr, ops: OperatorSet = BUILTIN) -> Expr:
    """``expr`` with ``f + 0``, ``0 + f``, ``f - 0``, ``f * 1``, ``1 * f`` and ``f / 1``
    replaced by ``f`` (the same float64 values).

    Rounding leaves such nodes (an intercept rounded to 0); removing them here keeps
    SymPy from rewriting the whole expression for them, which can split an exact
    constant (``1/(4 pi)`` becomes ``1/4`` times ``1/pi``, two constants).
    """
    code = ops.code
    zero_right = {code[name] for name in ("+", "-") if name in code}
    zero_left = {code["+"]} if "+" in code else set()
    one_right = {code[name] for name in ("*", "/") if name in code}
    one_left = {code["*"]} if "*" in code else set()

    def build(start: int, end: int) -> Expr:
        node = expr[end]
        if end == start:
            return (node,)
        parts = [build(a, b) for a, b in children(expr, end, ops)]
        if len(parts) == 2:
            left, right = parts
            if node[0] in zero_right and right == ((CONST, 0.0),) or node[0] in one_right and right == ((CONST, 1.0),):
                return left
            if node[0] in zero_left and left == ((CONST, 0.0),) or node[0] in one_left and left == ((CONST, 1.0),):
                return right
        return tuple(n for part in parts for n in part) + (node,)

    return build(0, len(expr) - 1)


# ----------------------------------------------------------------------------- rewriting

_FU = importlib.import_module("sympy.simplify.fu")  # the module (sympy.simplify.fu is also a function)

#: SymPy rewrites tried by :func:`equivalent_forms`.  All are single passes over the tree
#: (milliseconds on front-sized expressions): the algebraic ones, and Fu's trigonometric
#: rules instead of ``trigsimp``/``simplify``, whose searches took from seconds to minutes
#: on some 10-node expressions (``simplify(-sin(a v0 - (v1 + b)**2/(sin(v0) - E)**2))``
#: did not return within 100 s).
REWRITES: tuple[tuple[str, Callable[[sympy.Expr], sympy.Expr]], ...] = (
    ("expand", sympy.expand),
    ("cancel", sympy.cancel),
    ("factor", sympy.factor),
    ("powsimp", sympy.powsimp),
    ("logcombine", lambda e: sympy.logcombine(e, force=True)),
    ("expand_log", lambda e: sympy.expand_log(e, force=True)),
    ("TR5", _FU.TR5),      # sin(x)**2 -> 1 - cos(x)**2
    ("TR6", _FU.TR6),      # cos(x)**2 -> 1 - sin(x)**2
    ("TR7", _FU.TR7),      # cos(x)**2 -> (1 + cos(2 x))/2
    ("TR8", _FU.TR8),      # products and powers of sin, cos -> sums (2 sin cos -> sin(2 x))
    ("TR10i", _FU.TR10i),  # sin(a) cos(b) + cos(a) sin(b) -> sin(a + b)
    ("TR2i", _FU.TR2i),    # sin(x)/cos(x) -> tan(x)
)


def opaque_constants(e: sympy.Expr) -> tuple[sympy.Expr, dict[sympy.Symbol, sympy.Expr]]:
    """``e`` with every number except small rationals (``|p| <= 1000``, ``q <= 64``)
    replaced by a fresh real symbol, and the map back.

    Identities need the exact small numbers (``2 cos(x/2)**2 - 1``), while fitted floats
    and long rationals only make SymPy's polynomial algebra slow (``factor`` of
    ``(-2 v1 - exp(161/125))**2 - exp(-1000/3407)`` took seconds).
    """
    back: dict[sympy.Symbol, sympy.Expr] = {}
    forward: dict[sympy.Expr, sympy.Symbol] = {}
    for number in sorted(e.atoms(sympy.Number), key=sympy.default_sort_key):
        if number.is_Rational and number.q <= 64 and abs(number.p) <= 1000:
            continue
        symbol = sympy.Symbol(f"_c{len(back)}", real=True)
        forward[number], back[symbol] = symbol, number
    return e.xreplace(forward), back


@functools.lru_cache(maxsize=4096)
def equivalent_forms(expr: Expr, n_vars: int, ops: OperatorSet = BUILTIN) -> tuple[Expr, ...]:
    """Forms of ``expr`` of lower complexity that :data:`REWRITES` produce, simplest first.

    Each rewrite is applied to ``expr`` and once more to each distinct result that is no
    larger (``sympy.count_ops``) than ``expr`` (so ``factor`` then ``TR5`` turns
    ``y cos(x)**2 + y sin(x)**2`` into ``y``, while ``expand`` of a product of cubes is
    not factored back).  The variables are real SymPy symbols (data are real), so
    ``log(exp(x)) -> x``, and constants other than small rationals are opaque symbols
    (:func:`opaque_constants`).
    Some rewrites hold only under conditions (``logcombine(force=True)`` assumes positive
    arguments), so callers check each form on the data.  The result depends on ``expr``
    alone and is cached: the front is finished at every checkpoint.
    """
    symbols = [sympy.Symbol(f"v{i}", real=True) for i in range(n_vars)]
    try:
        original, back = opaque_constants(to_sympy(expr, symbols, ops))
    except (TypeError, ValueError, ZeroDivisionError, OverflowError):
        return ()
    first = _rewritten(original) - {original}
    n_ops = sympy.count_ops(original)
    second = set().union(*(_rewritten(form) for form in first if sympy.count_ops(form) <= n_ops), set())
    size = complexity(expr, ops)
    forms: dict[Expr, int] = {}
    for form in sorted({original} | first | second, key=sympy.default_sort_key):
        try:
            converted = from_sympy(form.xreplace(back), symbols, ops)
        except (ConversionError, TypeError, ValueError, ZeroDivisionError, OverflowError, KeyError):
            continue
        form_size = complexity(converted, ops)
        if form_size < size:
            forms.setdefault(converted, form_size)
    return tuple(sorted(forms, key=forms.__getitem__))


def _rewritten(e: sympy.Expr) -> set[sympy.Expr]:
    """The distinct results of :data:`REWRITES` on ``e``."""
    return {r for r in (_safe(rewrite, e) for _, rewrite in REWRITES) if r is not None}


#: Wall-clock limit of one SymPy rewrite: ``expand`` of a nested power of a sum (a noisy
#: fit such as ``((a + b)**3 + c)**3``) can run for many minutes.
REWRITE_SECONDS = 0.5
#: Where no timer can be set (a thread other than the main one), rewrites are skipped for
#: expressions with more operations than this.
UNTIMED_MAX_OPS = 25


class _RewriteTimeout(Exception):
    pass


@contextmanager
def _time_limit(seconds: float):
    """Raise :class:`_RewriteTimeout` after ``seconds`` (SIGALRM; main thread only).
    Yields whether the limit is armed."""
    if threading.current_thread() is not threading.main_thread() or not hasattr(signal, "setitimer"):
        yield False
        return

    def expire(signum, frame):
        raise _RewriteTimeout

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield True
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


#: Largest number of terms (an upper bound, :func:`expanded_terms`) an expression may
#: expand to before the polynomial rewrites skip it: expanding a nested power of a sum
#: can take minutes and gigabytes inside SymPy's C-level arithmetic, where no timer
#: interrupts it.
MAX_EXPANDED_TERMS = 2000
_POLYNOMIAL_REWRITES = frozenset(fn for name, fn in REWRITES if name in ("expand", "cancel", "factor"))


def expanded_terms(e: sympy.Expr) -> float:
    """An upper bound on the number of terms of ``expand(e)``: sums add, products
    multiply, a positive integer power of ``b`` raises ``b``'s count to that power."""
    if e.is_Add:
        return sum(expanded_terms(a) for a in e.args)
    if e.is_Mul:
        return math.prod(expanded_terms(a) for a in e.args)
    if e.is_Pow and e.exp.is_Integer and e.exp > 0:
        return expanded_terms(e.base) ** int(e.exp)
    return 1.0


def _safe(rewrite: Callable[[sympy.Expr], sympy.Expr], e: sympy.Expr) -> sympy.Expr | None:
    """``rewrite(e)``, or None when SymPy fails on it or takes longer than
    :data:`REWRITE_SECONDS`."""
    if rewrite in _POLYNOMIAL_REWRITES and expanded_terms(e) > MAX_EXPANDED_TERMS:
        return None
    try:
        with _time_limit(REWRITE_SECONDS) as limited:
            if not limited and sympy.count_ops(e) > UNTIMED_MAX_OPS:
                return None
            return rewrite(e)
    except Exception:  # noqa: BLE001 - SymPy raises many kinds (PolynomialError, NotImplementedError ...)
        return None


def no_worse(new_loss: float, old_loss: float, y_var: float) -> bool:
    """``new <= old (1 + 1e-9) + 1e-15 var(y)``: the same function up to float64 rounding."""
    return new_loss <= old_loss * (1 + 1e-9) + 1e-15 * y_var


def rounding_dependent(expr: Expr, evaluated: Expr, X: np.ndarray, y_var: float, ops: OperatorSet = BUILTIN) -> bool:
    """Whether ``expr`` and ``evaluated``, its SymPy-evaluated form (the same function over
    the reals), differ on ``X`` by more than ``1e-6 (max |evaluated| + std(y))``: then
    ``expr``'s values come from float64 rounding, not from its formula (the search with only
    ``+`` and ``-`` found ``-4.3e16 ((x0 + 0.0036) - x0) + ...``, which SymPy prints as a
    constant), and the formula a user reads is ``evaluated``, so its loss is the one to report."""
    with np.errstate(all="ignore"):
        a, b = evaluate(expr, X, ops), evaluate(evaluated, X, ops)
        gap = float(np.max(np.abs(a - b), initial=0.0))
        scale = float(np.max(np.abs(b), initial=0.0)) + math.sqrt(max(y_var, 0.0))
    return not gap <= 1e-6 * scale   # NaN gaps count as differing


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
    y_var = float(np.var(y))
    # The final form may use any operator of the set: it is the same function, and
    # SymPy's folding (c1 * (sqrt(a) / c2)**3 -> 1.0*a**(3/2)) needs pow to be written.
    allowed = frozenset(ops.code.values())

    def simplified(current: Expr, current_loss: float) -> tuple[Expr, float]:
        current = without_identities(current, ops)
        simpler = simplify(current, n_vars, allowed, ops)
        simpler_loss = mse(simpler, X, y, ops)
        if no_worse(simpler_loss, current_loss, y_var) or rounding_dependent(current, simpler, X, y_var, ops):
            return simpler, simpler_loss
        return current, current_loss

    # Fold redundant constants first (the scale a of a (c x) + b and c are one parameter),
    # so that each constant that is rounded is one the data determine.
    current, loss = simplified(fitted, mse(fitted, X, y, ops))
    ceiling = rounding_ceiling(current, X, y, loss, y_var, ops)
    # Round, then simplify; simplification folds constants into new ones (a * 27.9 + b
    # -> 1e-16), so round and simplify once more.
    for _ in range(2):
        current, loss = simplified(*round_constants(current, X, y, loss, y_var, ceiling, ops))
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
