"""The picture of a formula fit (PNG): the Pareto front and, with the data, predicted vs actual.

Left: the front, loss against complexity (log loss axis), as a step line through the
members; the selected equation circled in red and labelled.  A loss of exactly 0 (an
exact fit) is drawn at a floor a decade below the smallest positive loss (1e-16 if there
is none), with a downward marker.  Right, when the data is at hand: the selected
equation's prediction ``ŷ = f(X)`` against the target ``y`` on every row (at most
``MAX_POINTS`` drawn, evenly strided), the line ``ŷ = y`` and
``R² = 1 - Σ(y - ŷ)² / Σ(y - ȳ)²`` over all rows.
"""

from __future__ import annotations

import os

import numpy as np
import sympy

from ..data import load_dataset
from ..errors import UserError
from ..figures import locate_data, new_figure, save_png
from ..result import FitResult, parse_equation

__all__ = ["MAX_POINTS", "find_data", "predict", "r_squared", "plot_fit"]

MAX_POINTS = 20_000


def _short(text: str, width: int = 60) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def predict(result: FitResult, X: np.ndarray, index: int | None = None) -> np.ndarray:
    """The selected equation (or front member ``index``) at ``X``: (n_rows, n_variables),
    columns in ``result.variables`` order -> (n_rows,) float64 (NaN where undefined)."""
    row = result.equations[result.selected if index is None else index]
    expr = parse_equation(row.sympy, result.variables)
    fn = sympy.lambdify([sympy.Symbol(name) for name in result.variables], expr, modules=["scipy", "numpy"])
    X = np.asarray(X, dtype=np.float64)
    with np.errstate(all="ignore"):
        values = np.asarray(fn(*(X[:, i] for i in range(X.shape[1]))))
    if np.iscomplexobj(values):
        values = np.where(values.imag == 0, values.real, np.nan)
    return np.broadcast_to(values.astype(np.float64), (X.shape[0],)).copy()


def r_squared(y: np.ndarray, y_hat: np.ndarray) -> float:
    """``1 - Σ(y - ŷ)² / Σ(y - ȳ)²``; NaN when a prediction is not finite."""
    if not np.all(np.isfinite(y_hat)):
        return float("nan")
    total = np.sum((y - y.mean()) ** 2)
    residual = np.sum((y - y_hat) ** 2)
    if total == 0:
        return 1.0 if residual == 0 else float("-inf")
    return float(1.0 - residual / total)


def find_data(result: FitResult, result_path: str | os.PathLike | None = None):
    """``(X, y)`` of the file the result names (as given, else beside the result file),
    columns in ``result.variables`` order; ``(None, reason)`` when it cannot be used."""
    path, reason = locate_data(result.data, result_path)
    if path is None:
        return None, reason
    try:
        dataset = load_dataset(path, target=result.target)
    except UserError as exc:
        return None, str(exc)
    missing = [v for v in result.variables if v not in dataset.feature_names]
    if missing:
        return None, f"{path} has no column {missing[0]!r} of the result's variables"
    columns = [dataset.feature_names.index(v) for v in result.variables]
    return (dataset.X[:, columns], dataset.y), None


def plot_fit(result: FitResult, path: str | os.PathLike, data: tuple[np.ndarray, np.ndarray] | None = None):
    """Write the PNG of the module docstring to ``path`` (atomically) and return the
    Figure: one axes (the front) without ``data``, two with ``data = (X, y)``."""
    fig = new_figure(12.0 if data is not None else 6.5, 4.8)
    axes = fig.subplots(1, 2 if data is not None else 1, squeeze=False)[0]
    _front(axes[0], result)
    if data is not None:
        _predicted_vs_actual(axes[1], result, *data)
    fig.tight_layout()
    save_png(fig, path)
    return fig


def _front(ax, result: FitResult) -> None:
    complexity = np.array([eq.complexity for eq in result.equations], dtype=float)
    loss = np.array([eq.loss for eq in result.equations], dtype=float)
    positive = loss[np.isfinite(loss) & (loss > 0)]
    floor = positive.min() / 10 if positive.size else 1e-16
    zero = loss <= 0
    shown = np.where(zero, floor, loss)
    ax.step(complexity, shown, where="post", color="0.4", lw=1.2)
    ax.scatter(complexity[~zero], shown[~zero], color="black", s=24, zorder=3, label="front")
    if zero.any():
        ax.scatter(complexity[zero], shown[zero], color="black", marker="v", s=36, zorder=3,
                   label=f"loss 0 (drawn at {floor:.0e})")
    s = result.selected
    chosen = result.equations[s]
    ax.scatter([complexity[s]], [shown[s]], s=180, facecolors="none", edgecolors="red", lw=2, zorder=4,
               label=f"selected ({result.model_selection})")
    right = complexity[s] > (complexity.min() + complexity.max()) / 2   # label towards the middle
    ax.annotate(_short(f"{result.target} = {chosen.sympy}", 48), (complexity[s], shown[s]),
                xytext=(-12 if right else 12, 14), textcoords="offset points", color="red", fontsize=8,
                ha="right" if right else "left",
                arrowprops={"arrowstyle": "-", "color": "red", "lw": 0.8})
    ax.set_yscale("log")
    ax.set_xlabel("complexity")
    ax.set_ylabel("loss")
    ax.set_title(f"Pareto front ({len(result.equations)} equations)")
    ax.legend(fontsize=8, loc="best", framealpha=0.8)


def _predicted_vs_actual(ax, result: FitResult, X: np.ndarray, y: np.ndarray) -> None:
    y_hat = predict(result, X)
    r2 = r_squared(y, y_hat)
    stride = max(1, -(-y.size // MAX_POINTS))
    ax.scatter(y[::stride], y_hat[::stride], s=6, alpha=0.5, color="tab:blue", lw=0)
    finite = np.concatenate([y, y_hat[np.isfinite(y_hat)]])
    lo, hi = float(finite.min()), float(finite.max())
    ax.plot([lo, hi], [lo, hi], color="red", lw=1, label="predicted = actual")
    ax.set_xlabel(f"actual {result.target}")
    ax.set_ylabel(f"predicted {result.target}")
    r2_text = "R² = n/a (non-finite predictions)" if np.isnan(r2) else f"R² = {r2:.6g}"
    ax.set_title(f"{_short(result.target + ' = ' + result.selected_equation().sympy)}\n{r2_text} on {y.size} rows",
                 fontsize=9)
    ax.legend(fontsize=8, loc="upper left")
