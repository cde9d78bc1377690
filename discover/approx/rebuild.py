"""An approximation run rebuilt from its result file, for the picture of :mod:`.plot`.

The file keeps every front program (``discover.approx/1``: ``program``, ``core``; a
baseline that was selected is one of them, under its name) but only the name, cost and
error of each baseline.  :func:`run_from_result` rebuilds the task
(target, precision, domain: the references the error curves need) and the front's
programs exactly; a baseline's program is rebuilt from its name (``minimax-6 horner``:
family, degree, evaluation order; :func:`.baselines.baselines` for that degree and family
alone) only when the picture draws its error curve.
"""

from __future__ import annotations

import os

from ..errors import UserError
from .baselines import baselines
from .job import ApproxRun, ApproxSettings, Candidate, make_task
from .program import SLP
from .result import ApproxResult
from .targets import target as get_target

__all__ = ["run_from_result", "baseline_program", "plot_result"]


def baseline_program(task, name: str) -> SLP:
    """The core program of the baseline called ``name`` (``"fpminimax-5 estrin"``,
    ``"rational-3/3 horner"``) for ``task``; UserError for a name no baseline has."""
    family, _, rest = name.partition("-")
    degree, _, order = rest.partition(" ")
    try:
        if family == "rational":
            p, q = (int(v) for v in degree.split("/"))
            built = baselines(task.core, task.dtype, [], fma=task.settings.dtype != "real",
                              rational=[(p, q)], families=["rational"])
        else:
            built = baselines(task.core, task.dtype, [int(degree)], fma=task.settings.dtype != "real",
                              families=[family])
    except ValueError:
        built = []
    for b in built:
        if b.name == name:
            return b.slp
    raise UserError(f"cannot rebuild the baseline {name!r}: no baseline of that name")


class _StoredBaseline:
    """A baseline row of the file, read like a :class:`.job.Candidate` (name, cost,
    main_cost, error, core, full); its programs are rebuilt on first use."""

    def __init__(self, task, row: dict):
        self._task = task
        self._programs: tuple[SLP, SLP] | None = None
        self.name, self.error = str(row["name"]), float(row["error"])
        self.cost, self.main_cost = int(row["cost"]), int(row.get("main_path_cost", row["cost"]))

    is_baseline = True

    def _built(self) -> tuple[SLP, SLP]:
        if self._programs is None:
            core = baseline_program(self._task, self.name)
            self._programs = (core, self._task.whole(core)[0])
        return self._programs

    @property
    def core(self) -> SLP:
        return self._built()[0]

    @property
    def full(self) -> SLP:
        return self._built()[1]


def run_from_result(result: ApproxResult) -> ApproxRun:
    """The :class:`.job.ApproxRun` of a result file (front programs decoded, baselines lazy)."""
    tgt = get_target(result.target)
    domain = tuple(result.domain)
    # the default domain was chosen by the job (and so was its range-reduction template)
    settings = ApproxSettings(dtype=result.dtype, max_ulp=result.max_ulp,
                              domain=None if domain == tuple(tgt.domain) else domain)
    task = make_task(result.target, settings, result.template)
    front = [Candidate(str(row.get("name", "search")), result.program(i, "core"), result.program(i),
                       float(row["error"]), int(row["cost"]), int(row.get("main_path_cost", row["cost"])))
             for i, row in enumerate(result.front)]
    return ApproxRun(task, front, [_StoredBaseline(task, row) for row in result.baselines], dict(result.stats))


def plot_result(result: ApproxResult, path: str | os.PathLike):
    """:func:`.plot.plot_run` for a result file: the front beside the baselines, and the
    error over the inputs of the selected program and its baseline; returns the Figure."""
    from .plot import plot_run

    run = run_from_result(result)
    goal = None if result.dtype == "real" else result.max_ulp
    return plot_run(run, result.selected, path, goal)
