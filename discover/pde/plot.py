"""The picture of a PDE result (PNG): the data beside the recovered model's simulation.

One row per field, three panels: the data, the model and their difference (model - data).
The model is ``f_t = known + rhs`` of the result for every field, integrated by the
pseudo-spectral ETDRK4 solver (:mod:`.simulate`) from the data's first snapshot to its
last, on the data's grid, with a step chosen by self-convergence (:func:`.simulate.choose_dt`,
tolerance ``1e-7`` of max|u|).  It has blown up where it is not finite or max|u| exceeds
``BLOWUP_FACTOR`` = 100 times its initial max|u|; from there on it is not drawn.  In 1-D
the panels are images over (x, t); in 2-D the last snapshot over (x, y).  Below, when the
result has term coefficients, a bar chart of them with their bootstrap standard deviation
as error bars.

The solver is periodic and needs uniform grids (an even number of points per axis, at
least 4, and uniform times): where the data does not fit, or the model blows up, the
figure says so in its title and the model panels, and the picture is still written.
"""

from __future__ import annotations

import os
import textwrap

import numpy as np
import sympy

from ..errors import UserError
from ..figures import locate_data, new_figure, save_png
from .data import FieldData, load_fields
from .library import derivative_name
from .result import PDEResult, parse_rhs

__all__ = ["find_fields", "model_rhs", "simulate_model", "plot_pde"]

#: self-convergence tolerance of the time step of the model's simulation
DT_TOLERANCE = 1e-7
#: a simulation whose max|u| exceeds BLOWUP_FACTOR * max|u(t0)| has blown up
BLOWUP_FACTOR = 100.0


def find_fields(result: PDEResult, result_path: str | os.PathLike | None = None):
    """The result's field data (as given, else beside the result file): ``(FieldData,
    None)``, or ``(None, reason)`` when it cannot be read."""
    path, reason = locate_data(result.data, result_path)
    if path is None:
        return None, reason
    try:
        return load_fields(path, result.fields, result.coords), None
    except UserError as exc:
        return None, str(exc)


def model_rhs(result: PDEResult) -> dict[str, str]:
    """``field -> known + rhs`` for the simulator: derivative symbols and coordinates renamed
    to its axes ``x[, y]`` (``u_zz`` on axes ``(z,)`` -> ``u_xx``).  UserError when a
    right-hand side cannot be parsed."""
    from .simulate import AXES

    space = list(result.coords[1:])
    target = AXES[: len(space)]
    by_field = {eq["field"]: eq for eq in result.equations}
    out = {}
    for field in result.fields:
        eq = by_field.get(field, {"rhs": "0", "known": None})
        expr = parse_rhs(eq.get("rhs") or "0", result.fields, space)
        if eq.get("known"):
            expr = parse_rhs(eq["known"], result.fields, space) + expr
        rename = {sympy.Symbol(a): sympy.Symbol(b) for a, b in zip(space, target)}
        for symbol in expr.free_symbols:
            name, _, letters = symbol.name.partition("_")
            if letters and name in result.fields:
                alpha = tuple(letters.count(a) for a in space)
                if derivative_name(name, alpha, space) == symbol.name:
                    rename[symbol] = sympy.Symbol(derivative_name(name, alpha, target))
        out[field] = sympy.sstr(expr.xreplace(rename))
    return out


def _uniform(values: np.ndarray) -> bool:
    steps = np.diff(values)
    return steps.size > 0 and bool(np.allclose(steps, steps[0], rtol=1e-6, atol=0))


def simulate_model(result: PDEResult, data: FieldData):
    """The model from the data's first snapshot at the data's times: ``(values, note)``,
    ``values[field]`` of the data's shape (NaN from a blow-up on), ``note`` what went wrong
    (None when nothing did); ``(None, reason)`` when it cannot be simulated."""
    from . import simulate

    t = data.coords[data.axis_names[0]]
    space = [data.coords[a] for a in data.space_names]
    if not 1 <= len(space) <= 2:
        return None, f"model not simulated: {len(space)}-D fields (the solver is 1-D or 2-D)"
    if not data.periodic:   # a periodic simulation of bounded data compares nothing with it
        return None, ("model not simulated: the data are not periodic, and the solver knows no "
                      "other boundary conditions")
    if t.size < 2 or not _uniform(t):
        return None, "model not simulated: the times are not uniform"
    domain = []
    for name, axis in zip(data.space_names, space):
        if axis.size < 4 or axis.size % 2 or not _uniform(axis):
            return None, (f"model not simulated: the solver needs a uniform grid with an even number "
                          f"(>= 4) of points along {name}, not {axis.size}")
        step = axis[1] - axis[0]
        domain.append((float(axis[0]), float(axis[0] + axis.size * step), int(axis.size)))
    try:
        problem = simulate.build_problem(model_rhs(result), domain)
    except UserError as exc:
        return None, f"model not simulated: {exc}"
    u0 = np.stack([np.asarray(data.fields[f], dtype=np.float64)[0] for f in result.fields])
    interval = float(t[1] - t[0])
    try:
        dt = simulate.choose_dt(problem, u0, interval, tol=DT_TOLERANCE, max_steps=1 << 12)
    except UserError:
        return None, "the model's simulation blew up (no stable time step over the first interval)"
    later = simulate.integrate(problem, u0, dt, simulate.steps_per_snapshot(interval, dt), t.size - 1)
    values = np.concatenate([u0[None], later])          # (nt, F, *shape)
    flat = values.reshape(t.size, -1)
    bound = BLOWUP_FACTOR * max(float(np.max(np.abs(u0))), 1e-300)
    with np.errstate(invalid="ignore"):
        bounded = np.all(np.isfinite(flat), axis=1) & (np.max(np.abs(flat), axis=1) <= bound)
    note = None
    if not bounded.all():
        first = int(np.argmin(bounded))
        note = f"the model's simulation blew up at t = {t[first]:.4g} (of {t[-1]:.4g})"
        values[first:] = np.nan
    return {f: values[:, i] for i, f in enumerate(result.fields)}, note


def _terms(result: PDEResult) -> list[tuple[str, float, float]]:
    """``(label, coefficient, std)`` of every found term (std 0 where none was measured)."""
    several = len(result.equations) > 1
    rows = []
    for eq in result.equations:
        for term in eq.get("terms", []):
            label = f"{eq['field']}: {term['term']}" if several else term["term"]
            std = term.get("std")
            rows.append((label, float(term["coefficient"]), float(std) if std is not None else 0.0))
    return rows


def _short(text: str, width: int = 50) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def plot_pde(result: PDEResult, path: str | os.PathLike, data: FieldData | None = None,
             simulation=None):
    """Write the PNG of the module docstring to ``path`` (atomically) and return the Figure.

    ``data``: the result's field data (None: only the coefficients are drawn);
    ``simulation``: the output of :func:`simulate_model`, computed here when not given.
    UserError when there is nothing to draw (no data and no coefficients).
    """
    terms = _terms(result)
    if data is None and not terms:
        raise UserError("nothing to plot: the data file is not available and the result has no coefficients")
    rows = len(result.fields) if data is not None else 0
    fig = new_figure(13.0, 3.4 * rows + (3.2 if terms else 0) + 0.6)
    grid = fig.add_gridspec(rows + (1 if terms else 0), 3)
    title = f"{result.method} fit of {result.data}"
    if data is not None:
        values, note = simulation if simulation is not None else simulate_model(result, data)
        if values is not None:
            shape = " × ".join(str(n) for n in np.shape(data.fields[result.fields[0]])[1:])
            title += (f"; the model simulated from the first snapshot,\non the data's {shape} grid (a coarse "
                      "grid resolves the model less well than the data's source did)")
        if note:
            title += f"\n{note}"
        equations = {eq["field"]: eq.get("equation", "") for eq in result.equations}
        for row, field in enumerate(result.fields):
            panels = [fig.add_subplot(grid[row, k]) for k in range(3)]
            _field_row(panels, data, field, None if values is None else values[field],
                       equations.get(field, ""), note)
    if terms:
        _coefficients(fig.add_subplot(grid[rows, :]), terms)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    save_png(fig, path)
    return fig


def _field_row(panels, data: FieldData, field: str, model, equation: str, note: str | None) -> None:
    names = data.axis_names
    observed = np.asarray(data.fields[field], dtype=np.float64)
    one_d = observed.ndim == 2
    if one_d:       # image over (x, t): rows are times
        axis, label = data.coords[names[1]], (names[1], names[0])
        extent = [axis[0], axis[-1], data.coords[names[0]][0], data.coords[names[0]][-1]]
        when = ""
    else:           # the last snapshot over (x, y)
        label = (names[1], names[2])
        extent = [data.coords[names[1]][0], data.coords[names[1]][-1],
                  data.coords[names[2]][0], data.coords[names[2]][-1]]
        when = f" at {names[0]} = {data.coords[names[0]][-1]:.4g}"

    def show(values):
        return values if one_d else values[-1].T

    lo, hi = float(observed.min()), float(observed.max())
    style = {"extent": extent, "origin": "lower", "aspect": "auto", "interpolation": "nearest"}
    image = panels[0].imshow(show(observed), vmin=lo, vmax=hi, cmap="viridis", **style)
    panels[0].figure.colorbar(image, ax=panels[0])
    panels[0].set_title(f"data {field}{when}", fontsize=9)
    if model is not None:
        image = panels[1].imshow(show(model), vmin=lo, vmax=hi, cmap="viridis", **style)
        panels[1].figure.colorbar(image, ax=panels[1])
        difference = show(model) - show(observed)
        finite = difference[np.isfinite(difference)]
        largest = float(np.max(np.abs(finite))) if finite.size else float("nan")
        scale = largest if largest > 0 else 1.0
        image = panels[2].imshow(difference, vmin=-scale, vmax=scale, cmap="RdBu_r", **style)
        # tick labels carry their own exponent: the colour bar's offset text ("1e-10") sat on the title
        panels[2].figure.colorbar(image, ax=panels[2], format="%.2g")
        panels[2].set_title(f"model - data{when} (max |·| {largest:.3g})", fontsize=9)
    else:
        for ax in panels[1:]:
            ax.text(0.5, 0.5, textwrap.fill(note or "model not simulated", 40), ha="center", va="center",
                    fontsize=8, transform=ax.transAxes)
        panels[2].set_title("model - data", fontsize=9)
    panels[1].set_title(_short(f"model {equation}") + when, fontsize=9)
    for ax in panels:
        ax.set_xlabel(label[0])
        ax.set_ylabel(label[1])


def _coefficients(ax, terms: list[tuple[str, float, float]]) -> None:
    labels = [t[0] for t in terms]
    values = np.array([t[1] for t in terms])
    errors = np.array([t[2] for t in terms])
    positions = np.arange(len(terms))
    ax.bar(positions, values, yerr=errors, width=0.6, capsize=4, color="tab:blue", alpha=0.8)
    for x, value, error in zip(positions, values, errors):
        text = f"{value:.4g}" + (f" ± {error:.2g}" if error > 0 else "")
        tip = value + error if value >= 0 else value - error
        ax.annotate(text, (x, tip), xytext=(0, 3 if value >= 0 else -11), textcoords="offset points",
                    ha="center", fontsize=8)
    ax.axhline(0, color="black", lw=0.6)
    pad = max(0.0, (4 - len(terms)) / 2)
    ax.set_xlim(-0.6 - pad, len(terms) - 0.4 + pad)
    ax.margins(y=0.15)
    ax.set_xticks(positions)
    ax.set_xticklabels(labels, fontsize=8)
    ax.set_xlabel("term")
    ax.set_ylabel("coefficient")
    ax.set_title("coefficients ± std (bootstrap, or the refit's Cramér–Rao)", fontsize=9)
