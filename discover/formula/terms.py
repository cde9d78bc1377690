"""Sparse linear models over small terms, proposed to the search before it evolves.

Evolution assembles a sum of several products over many variables slowly: each term has
to be found while the others are still wrong, so ``m (u² + v² + w²) / 2`` or
``√((x₁ - x₂)² + (y₁ - y₂)²)`` sit behind long chains of poor intermediate formulas.  A
linear model finds the terms together (the idea of FFX, SINDy and AI Feynman's
polynomial fit):

    T(y) ≈ c₀ + Σₖ cₖ tₖ(X)

where each term ``tₖ`` is a constant-free expression of at most :data:`TERM_SIZE` nodes
(every one the grammar allows, enumerated), the reciprocal of a smaller one, or the
product of two of them, and ``T`` is one of the target transforms whose inverse the
grammar can write: ``y``, ``y²`` (``√`` back), ``1/y`` (``/``), ``1/y²``, ``log y``
(``exp``), and ``y / x_v`` and ``(y / x_v)²`` for each variable ``x_v`` (a law
``x_v g(...)`` whose ``g`` is a sum).

The terms are chosen by forward selection (orthogonal least squares): at each step the
term whose part orthogonal to the chosen ones best explains the residual joins, and every
coefficient is refit by least squares.  Products (on transforms of ``y`` alone) are
searched between every single and the :data:`PRODUCT_FACTORS` singles best correlated
with the residual or already chosen, with matrix–vector products only, so the cost is
``O(steps · PRODUCT_FACTORS · terms · rows)``; since the single best correlated with the
target is often a factor of a term rather than a term, these paths start from
:data:`PRODUCT_STARTS` singles over distinct sets of variables.  Every model on a path
becomes one expression (terms that change it by less than :data:`EXACT` dropped); of
these, the ones whose error on ``y`` is within :data:`KEEP_WITHIN` of the best are
proposed.  The search scores them, refits their constants and keeps what earns a place on
its Pareto front (the finish rounds near-rational coefficients).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from search.enumerate import small_expressions
from search.expression import Expr, complexity
from search.mutate import Grammar
from search.numpy_eval import evaluate
from search.operators import CONST, VAR
from search.simplify import simplify

#: Largest single term (nodes); every constant-free expression up to this size is a term.
TERM_SIZE = 4
#: Most singles enumerated (a size that would pass it is left out whole).
TERM_BUDGET = 6000
#: Singles up to this size also enter as reciprocals ``1/t``.
RECIPROCAL_SIZE = 3
#: Singles, best correlated with the residual, whose products with every single are tried.
PRODUCT_FACTORS = 12
#: First terms tried by the selection with products.
PRODUCT_STARTS = 3
#: Most terms in one model.
MAX_TERMS = 5
#: Rows the models are fitted on (a spread subset of the data).
FIT_ROWS = 500
#: Proposals kept: those whose error is within this factor of the best one's.
KEEP_WITHIN = 2.0
#: A model whose residual norm is below this fraction of the target's spread is exact.
EXACT = 1e-9


@dataclass(frozen=True)
class _Transform:
    """A target ``T(y)`` (possibly using one variable ``x_v``) and how a model of it
    becomes a formula for ``y``.

    ``name`` is one of ``y``, ``y**2``, ``1/y``, ``1/y**2``, ``log(y)``, ``y/x`` and ``(y/x)**2``
    (``variable`` says which ``x``); ``needs`` the operators the inverse is written with.
    """

    name: str
    needs: tuple[str, ...]
    variable: int | None = None

    def target(self, y: np.ndarray, X: np.ndarray) -> np.ndarray | None:
        """``T(y)``, or None where it is undefined on some row."""
        if self.name == "y":
            return y
        if self.name == "y**2":
            return y * y
        if self.name in ("1/y", "1/y**2"):
            return (1.0 / y if self.name == "1/y" else 1.0 / (y * y)) if np.all(y != 0) else None
        if self.name == "log(y)":
            return np.log(y) if np.all(y > 0) else None
        x = X[:, self.variable]
        if not np.all(x != 0):
            return None
        return y / x if self.name == "y/x" else (y / x) ** 2

    @property
    def squared(self) -> bool:
        return self.name in ("y**2", "(y/x)**2", "1/y**2")

    @property
    def reciprocal(self) -> bool:
        return self.name in ("1/y", "1/y**2")

    def wrap(self, model: list, codes: dict[str, int]) -> list:
        """The postfix formula for ``y`` from the postfix ``model`` of ``T(y)``."""
        if self.squared:
            model = model + [(codes["sqrt"], 0)]
        if self.reciprocal:
            model = [(CONST, 1.0)] + model + [(codes["/"], 0)]
        if self.name == "log(y)":
            model = model + [(codes["exp"], 0)]
        if self.variable is not None:
            model = model + [(VAR, self.variable), (codes["*"], 0)]
        return model


def _transforms(n_vars: int) -> list[_Transform]:
    """Every target transform: of ``y`` alone, then ``y / x_v`` and its square for each
    variable (a law ``x_v g(...)`` whose ``g`` is a sum is common: ``m (u² + v²) / 2``)."""
    out = [_Transform("y", ()), _Transform("y**2", ("sqrt",)), _Transform("1/y", ("/",)),
           _Transform("1/y**2", ("/", "sqrt")), _Transform("log(y)", ("exp",))]
    for v in range(n_vars):
        out += [_Transform("y/x", (), v), _Transform("(y/x)**2", ("sqrt",), v)]
    return out


def term_models(X: np.ndarray, y: np.ndarray, grammar: Grammar, *, intercept_free: bool = True,
                scale_free: bool = True, deadline: float | None = None) -> list[Expr]:
    """Expressions ``T⁻¹(c₀ + Σ cₖ tₖ)`` for ``X (R, n_vars)``, ``y (R,)`` (module docstring).

    ``scale_free``: the objective fits a scale ``a f`` itself, so a model's first
    coefficient is divided out (on ``log y`` the intercept, which is a scale after ``exp``,
    is dropped instead); ``intercept_free``: it fits an intercept ``a f + b`` too, so the
    model on ``y`` drops ``c₀``.  Only operators of ``grammar`` are used; a transform
    whose inverse it cannot write is skipped.  ``deadline`` (``time.perf_counter()``): the
    transforms not begun by then are skipped.
    """
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    ops = grammar.ops
    codes = {ops.operator(c).name: c for c in grammar.binary + grammar.unary}
    if "*" not in codes or "+" not in codes:
        return []
    rows = np.unique(np.linspace(0, len(y) - 1, min(len(y), FIT_ROWS)).astype(np.int64))
    X, y = X[rows], y[rows]
    terms, values = _library(X, grammar, codes)
    if not terms:
        return []
    with np.errstate(all="ignore"):  # huge terms overflow: they are never selected
        squares = values * values  # shared by every selection path
        centered = values - values.mean(axis=1, keepdims=True)
    out: list[Expr] = []
    with np.errstate(all="ignore"):
        for transform in _transforms(X.shape[1]):
            if deadline is not None and time.perf_counter() >= deadline:
                break
            if not all(name in codes for name in transform.needs):
                continue
            target = transform.target(y, X)
            if target is None or not np.all(np.isfinite(target)):
                continue
            # Products of terms only on transforms of y alone (they multiply the cost by
            # PRODUCT_FACTORS), and from each of several first terms: the one best
            # correlated with the target is often a factor of one term (cos δ of
            # 2√(I₁I₂) cos δ), not a term.
            paths = [_forward_selection(values, squares, target, False)]
            if transform.variable is None:
                paths += [_forward_selection(values, squares, target, True, int(first))
                          for first in _diverse_starts(terms, centered, target, PRODUCT_STARTS)]
            for path in paths:
                for selected, coefficients in path:
                    expr = _model_expression(transform, terms, selected, coefficients, codes,
                                             intercept_free=intercept_free, scale_free=scale_free)
                    if expr is not None:
                        out.append(expr)
    # Products of singles write some terms the long way (x₁/x₀² · 1/x₁³): let SymPy's
    # automatic evaluation shorten those that would not fit the search's size limit.
    allowed = frozenset(grammar.binary + grammar.unary + grammar.ternary)
    out = [simplify(e, grammar.n_vars, allowed, ops) if complexity(e, ops) > grammar.maxsize else e for e in out]
    out = [e for e in dict.fromkeys(out) if complexity(e, ops) <= grammar.maxsize]
    return _closest(out, X, y, grammar, intercept_free=intercept_free, scale_free=scale_free)


def _closest(exprs: list[Expr], X: np.ndarray, y: np.ndarray, g: Grammar, *, intercept_free: bool,
             scale_free: bool) -> list[Expr]:
    """The expressions whose error on ``y`` (after the scale and intercept the objective
    fits) is within :data:`KEEP_WITHIN` of the smallest: the rest would only fill the
    hall of fame with approximations that lead the evolution away from the law."""
    errors = np.array([_relative_error(evaluate(e, X, g.ops), y, intercept_free, scale_free) for e in exprs])
    if not len(exprs) or not np.isfinite(errors.min(initial=np.inf)):
        return []
    limit = KEEP_WITHIN * errors.min() + EXACT
    return [e for e, err in zip(exprs, errors) if err <= limit]


def _relative_error(f: np.ndarray, y: np.ndarray, intercept_free: bool, scale_free: bool) -> float:
    """RMS of ``y - (a f + b)`` over the spread of ``y``, with ``a, b`` fitted where free."""
    if not np.all(np.isfinite(f)):
        return np.inf
    columns = ([f] if scale_free else []) + ([np.ones_like(f)] if intercept_free else [])
    target = y if scale_free else y - f
    if columns:
        design = np.column_stack(columns)
        try:
            coefficients, *_ = np.linalg.lstsq(design, target, rcond=None)
        except np.linalg.LinAlgError:
            return np.inf
        residual = target - design @ coefficients
    else:
        residual = target
    return float(np.linalg.norm(residual) / max(np.linalg.norm(y - y.mean()), 1e-300))


def _library(X: np.ndarray, g: Grammar, codes: dict[str, int]) -> tuple[list[Expr], np.ndarray]:
    """The single terms (expressions) and their values ``(n_terms, R)``: finite, not
    constant, not a sum, and no two equal up to scale (the smallest of equals is kept)."""
    # A sum or difference (negated or not) is already a linear combination of smaller
    # terms: as one term it only adds a second, longer way to write the same model.
    sums = {codes.get("+"), codes.get("-")}
    neg = codes.get("neg")
    singles = [t for t in small_expressions(g, TERM_SIZE, TERM_BUDGET, max_consts=0)
               if t[-1][0] not in sums and not (t[-1][0] == neg and t[-2][0] in sums)]
    if "/" in codes:
        singles += [((CONST, 1.0),) + t + ((codes["/"], 0),) for t in singles if len(t) <= RECIPROCAL_SIZE]
    terms: list[Expr] = []
    values: list[np.ndarray] = []
    seen: set[bytes] = set()
    with np.errstate(all="ignore"):
        for t in singles:
            v = evaluate(t, X, g.ops)
            if not np.all(np.isfinite(v)):
                continue
            centered = v - v.mean()
            norm = np.linalg.norm(centered)
            if not norm > 1e-12 * max(np.abs(v).max(), 1e-300):
                continue
            unit = centered / norm
            unit = unit if unit[np.argmax(np.abs(unit))] > 0 else -unit
            key = np.round(unit, 9).tobytes()
            if key in seen:
                continue
            seen.add(key)
            terms.append(t)
            values.append(v)
    return terms, np.array(values).reshape(len(values), len(X))


def _forward_selection(values: np.ndarray, squares: np.ndarray, target: np.ndarray, products: bool,
                       first: int | None = None) -> list[tuple[list[tuple[int, ...]], np.ndarray]]:
    """The models on the forward-selection path: ``(terms, coefficients)`` where a term is
    ``(i,)`` (single ``i``) or ``(i, j)`` (their product) and the coefficients are
    ``[c₀, c₁, ...]``.  Stops at :data:`MAX_TERMS` terms or at an exact fit.  ``first``:
    the single every model starts with (default: the best one).  ``squares`` is
    ``values ** 2``.

    Orthogonal least squares: a candidate ``p`` is scored by how much of the residual ``r``
    its part ``q`` orthogonal to the terms already chosen explains, ``|⟨q, r⟩| / ‖q‖``.
    With the chosen terms spanned by orthonormal rows ``B`` (``r`` is orthogonal to them),
    ``⟨q, r⟩ = ⟨p, r⟩`` and ``‖q‖² = ‖p‖² − ‖B p‖²``; for the products ``p = a ∘ vⱼ`` of a
    factor ``a`` with every single these are matrix–vector products with ``values``, so
    no product column is ever formed.
    """
    spread = np.linalg.norm(target - target.mean())
    if not spread > 0:
        return []
    basis = np.ones((1, len(target))) / np.sqrt(len(target))  # orthonormal rows spanning the chosen columns

    def scores(residual: np.ndarray, factor: np.ndarray | None = None) -> np.ndarray:
        """Score of every single (``factor`` None) or of its product with ``factor``."""
        a = np.ones_like(residual) if factor is None else factor
        inner = values @ (a * residual)
        full2 = squares @ (a * a)
        norm2 = full2 - np.sum(((basis * a) @ values.T) ** 2, axis=0)
        ok = np.isfinite(norm2) & np.isfinite(inner) & (norm2 > 1e-9 * full2)
        return np.where(ok, np.abs(inner) / np.sqrt(np.where(ok, norm2, 1.0)), 0.0)

    selected: list[tuple[int, ...]] = []
    columns: list[np.ndarray] = []
    residual = target - target.mean()
    path = []
    for step in range(MAX_TERMS):
        single_score = scores(residual)
        best_score, best = float(np.max(single_score)), (int(np.argmax(single_score)),)
        if step == 0 and first is not None:
            best_score, best = float(single_score[first]), (first,)
        elif products:
            # Factors: the singles best correlated with what is left, and those chosen
            # already (their own score is 0 now, but a term times them may be the answer).
            chosen = [t[0] for t in selected if len(t) == 1]
            for i in dict.fromkeys([*np.argsort(-single_score)[:PRODUCT_FACTORS], *chosen]):
                score = scores(residual, values[i])
                j = int(np.argmax(score))
                if score[j] > best_score * (1 + 1e-9):
                    best_score, best = float(score[j]), tuple(sorted((int(i), j)))
        if best in selected or best_score == 0:
            break
        column = np.prod(values[list(best)], axis=0)
        if not np.all(np.isfinite(column)):
            break
        selected.append(best)
        columns.append(column)
        q = column - (basis @ column) @ basis
        basis = np.vstack([basis, q / np.linalg.norm(q)])
        coefficients, residual = _least_squares(columns, target)
        if coefficients is None:
            break
        path.append(_without_negligible_terms(selected, columns, coefficients, target, spread))
        if np.linalg.norm(residual) <= EXACT * spread:
            break
    return path


def _least_squares(columns: list[np.ndarray], target: np.ndarray) -> tuple[np.ndarray | None, np.ndarray]:
    """Coefficients ``[c₀, c₁, ...]`` of ``target ≈ c₀ + Σ cₖ columnsₖ`` and the residual."""
    design = np.column_stack([np.ones_like(target)] + columns)
    try:
        coefficients, *_ = np.linalg.lstsq(design, target, rcond=None)
    except np.linalg.LinAlgError:  # values near the float range: no model, not an error
        return None, target
    if not np.all(np.isfinite(coefficients)):
        return None, target
    return coefficients, target - design @ coefficients


def _without_negligible_terms(selected: list[tuple[int, ...]], columns: list[np.ndarray], coefficients: np.ndarray,
                              target: np.ndarray, spread: float) -> tuple[list[tuple[int, ...]], np.ndarray]:
    """The model without the terms that change it by less than :data:`EXACT` of the
    target's spread (greedy selection picks ``x`` on its way to ``x²``), refit."""
    contribution = np.abs(coefficients[1:]) * np.array([np.linalg.norm(c - c.mean()) for c in columns])
    keep = [k for k in range(len(columns)) if contribution[k] > EXACT * spread]
    if len(keep) == len(columns) or not keep:
        return list(selected), coefficients
    refit, _ = _least_squares([columns[k] for k in keep], target)
    if refit is None:
        return list(selected), coefficients
    return [selected[k] for k in keep], refit


def _diverse_starts(terms: Sequence[Expr], centered: np.ndarray, target: np.ndarray, k: int) -> list[int]:
    """The singles best correlated with ``target``, at most one per set of variables used
    (``cos δ``, ``sin(cos δ)`` and ``tanh(cos δ)`` are one start, not three), ``k`` at most.
    ``centered``: the singles' values less their means."""
    score = np.abs(centered @ (target - target.mean())) / np.linalg.norm(centered, axis=1)
    starts: dict[frozenset, int] = {}
    for i in np.argsort(-score, kind="stable"):
        key = frozenset(value for code, value in terms[i] if code == VAR)
        starts.setdefault(key, int(i))
        if len(starts) == k:
            break
    return list(starts.values())


def _model_expression(transform: _Transform, terms: Sequence[Expr], selected: list[tuple[int, ...]],
                      coefficients: np.ndarray, codes: dict[str, int], *, intercept_free: bool,
                      scale_free: bool) -> Expr | None:
    """The postfix formula of one model (see :func:`term_models` for what is dropped)."""
    c0, cs = float(coefficients[0]), [float(c) for c in coefficients[1:]]
    if scale_free and transform.name != "log(y)":
        # The fitted scale absorbs a factor: c₁ itself on a linear target, |c₁| under √
        # and 1/ (a positive factor comes out of them whole).  On log y the scale is exp(c₀).
        scale = abs(cs[0]) if transform.squared or transform.reciprocal else cs[0]
        if scale == 0:
            return None
        c0, cs = c0 / scale, [c / scale for c in cs]
    drop_intercept = (transform.name == "log(y)" and scale_free) or (transform.name == "y" and intercept_free)
    out: list = []
    for k, (term, c) in enumerate(zip(selected, cs)):
        body: tuple = terms[term[0]] + (terms[term[1]] + ((codes["*"], 0),) if len(term) == 2 else ())
        if abs(c - 1) > 1e-12:
            if abs(c + 1) <= 1e-12 and "neg" in codes:
                body = body + ((codes["neg"], 0),)
            else:
                body = ((CONST, c),) + body + ((codes["*"], 0),)
        out.extend(body)
        if k:
            out.append((codes["+"], 0))
    if not drop_intercept and abs(c0) > 1e-12 * max(1.0, *map(abs, cs)):
        out.extend([(CONST, c0), (codes["+"], 0)])
    return tuple(transform.wrap(out, codes))


__all__ = ["term_models"]
