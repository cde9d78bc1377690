"""The picture of an approximation run (PNG, matplotlib, no display needed).

Left: the search's front, max error against operations, beside every baseline family, the
selected program (a search program or a baseline) circled. Right: the error over the
inputs of the selected program and of the program it is compared with (for a search
program, the most accurate baseline of at most its cost, else the cheapest baseline within
the goal; for a selected baseline, the search's most accurate program of at most its cost,
else its cheapest within the goal), in ULPs of the target precision (relative error for the
real-number task), on 4001 inputs spread over the domain (log-spaced for log targets).
"""

from __future__ import annotations

import os

import numpy as np

from .job import ApproxRun, Candidate
from .program import evaluate, evaluate_real
from .reference import exact, exact_float64
from .ulp import ulp_error

__all__ = ["plot_run", "error_curve"]

_MARKERS = {"taylor": "v", "chebyshev": "s", "minimax": "o", "fpminimax": "D", "rational": "^"}


def _inputs(run: ApproxRun, n: int = 4001) -> tuple[np.ndarray, bool]:
    """Plot inputs and whether the x axis is logarithmic."""
    task = run.task
    a, b = task.domain
    name = task.target.template if task.template is not None else None   # "log" for log_table too
    if name in ("exp", "exp2"):
        a, b = -10.0, 10.0
    elif name == "erf":
        a, b = -5.0, 5.0
    elif name in ("log", "log2"):
        return np.geomspace(1e-3, 1e3, n), True
    return np.linspace(a, b, n), False


def error_curve(run: ApproxRun, row: Candidate, x: np.ndarray) -> np.ndarray:
    """The error of ``row`` at ``x``: ULPs of the precision, or relative (real task)."""
    task = run.task
    if task.settings.dtype == "real":
        hi, lo = exact(task.target, x)
        ref = hi.astype(np.longdouble) + lo
        with np.errstate(all="ignore"):
            return np.abs(np.asarray(evaluate_real(row.core, x) / ref - 1, dtype=np.float64))
    xs = x.astype(task.dtype)
    if task.dtype == "float32":
        return ulp_error(evaluate(row.full, xs), exact_float64(task.target, xs), "float32")
    hi, lo = exact(task.target, xs)
    return ulp_error(evaluate(row.full, xs), hi, "float64", lo)


def plot_run(run: ApproxRun, selected: int | None, path: str | os.PathLike, goal: float | None = None):
    """Write the two-panel PNG to ``path`` (atomically) and return the matplotlib Figure."""
    from ..figures import new_figure, save_png

    task = run.task
    real = task.settings.dtype == "real"
    unit = "max relative error" if real else f"max error (ULP, {task.dtype})"
    fig = new_figure(12, 4.5)
    left, right = fig.subplots(1, 2)
    families: dict[str, list[Candidate]] = {}
    for b in run.baselines:
        families.setdefault(b.name.split("-")[0], []).append(b)
    for family, rows in families.items():
        left.scatter([r.cost for r in rows], [r.error for r in rows], marker=_MARKERS.get(family, "x"),
                     s=22, alpha=0.6, label=family)
    front = sorted((r for r in run.front if not r.is_baseline), key=lambda r: r.cost)
    left.step([r.cost for r in front], [r.error for r in front], where="post", color="black", lw=1.5)
    left.scatter([r.cost for r in front], [r.error for r in front], color="black", s=26, zorder=3, label="search")
    if selected is not None:
        s = run.front[selected]
        left.scatter([s.cost], [s.error], s=160, facecolors="none", edgecolors="red", lw=2, zorder=4,
                     label="selected")
    if goal is not None and not real:
        left.axhline(goal, color="red", ls=":", lw=1)
    left.set_yscale("log")
    left.set_xlabel("operations")
    left.set_ylabel(unit)
    left.set_title(f"{task.target.name}: programs found vs baselines")
    left.legend(fontsize=8, loc="best", framealpha=0.9)

    x, logx = _inputs(run)
    curves = []
    # the program to compare with: of the other kind (baseline or search), the most
    # accurate one of at most the selected cost, else the cheapest within the goal
    chosen = run.front[selected] if selected is not None else None
    others = [r for r in run.front if not r.is_baseline] if chosen is not None and chosen.is_baseline \
        else list(run.baselines)
    cheap = [b for b in others if chosen is not None and b.cost <= chosen.cost]
    within = [b for b in others if goal is None or b.error <= goal]
    pick = (min(cheap, key=lambda b: b.error) if cheap
            else min(within, key=lambda b: (b.cost, b.error)) if within else None)
    if pick is not None:
        name = "search" if not pick.is_baseline else pick.name
        curves.append((f"{name} ({pick.cost} ops)", pick, "black" if not pick.is_baseline else "tab:blue", 0.9))
    if chosen is not None:  # drawn last, on top, half transparent: it would hide the other curve
        name = "search" if not chosen.is_baseline else f"{chosen.name}, selected"
        curves.append((f"{name} ({chosen.cost} ops)", chosen, "black" if not chosen.is_baseline else "tab:red",
                       0.55))
    for label, row, colour, alpha in curves:
        err = error_curve(run, row, x)
        err = np.where(np.isfinite(err), err, np.nan)
        right.plot(x, err, lw=0.6, color=colour, alpha=alpha, label=label)
    if goal is not None and not real:
        right.axhline(goal, color="red", ls=":", lw=1, label=f"goal {goal:g} ULP")
        right.set_ylim(0.0, max(right.get_ylim()[1], 1.4 * goal))   # room for the legend above the goal
    if logx:
        right.set_xscale("log")
    if real:
        right.set_yscale("log")
    right.set_xlabel("x")
    right.set_ylabel("relative error" if real else f"error (ULP, {task.dtype})")
    window = (x[0], x[-1])
    whole = tuple(float(v) for v in task.domain)
    shown = "the domain" if np.allclose(window, whole) else f"[{window[0]:g}, {window[1]:g}], a window of the domain"
    right.set_title(f"error over {shown} ({len(x):,} inputs)", fontsize=10)
    right.legend(fontsize=8, loc="best", framealpha=0.9)
    fig.tight_layout()
    save_png(fig, path)
    return fig
