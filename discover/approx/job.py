"""One approximation job: target, precision and domain in; the front, baselines and a
verified pick out (:func:`run`).

Two kinds of task:

* **ULP task** (``dtype`` float32/float64): the error of a candidate is its maximum ULP
  error, computed bit-exactly (:func:`.program.evaluate`) on training inputs of the whole
  domain. Where the target has a range-reduction template and the domain is its default
  (every finite input, or sin/cos's ``[-pi, pi]``), the search evolves the *core* on the
  reduced interval and every candidate is scored as the whole function (template + core);
  otherwise the program covers the domain directly. Constants are fitted in real
  arithmetic for the smallest relative error of the core (:mod:`.fit`), rounded to the
  precision, then tuned bit by bit: a few nudges of one constant by 1-3 ULP, kept where
  the maximum ULP error drops.
* **real task** (``dtype="real"``): the paper's real-number task. The error is the maximum
  relative error over the reals (long double on a dense grid), operations ``+ - * /``
  each of cost 1 (no fma), constants in float64.

The cost is the number of operations (:data:`.program.OPS_COST`).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import mpmath as mp
import numpy as np
import sympy

from ..errors import UserError, check_seconds, check_seed
from .baselines import Core, baselines
from codegen.program import Instr

from .evolve import EvolveSettings, evolve, pareto
from .fit import fit_constants
from .minimax import FitFailed
from .program import REAL_OPS, SEARCH_OPS, SLP, constant_ids, cost, evaluate, evaluate_real, with_constants
from .reference import exact, exact_float64
from .seeds import classical_seeds
from .targets import X, Target, target as get_target
from .templates import SINCOS_VALID, TEMPLATES, Template, log_table_template, main_path_cost, wrap
from .ulp import ulp_error

__all__ = ["ApproxSettings", "ApproxRun", "Candidate", "Task", "make_task", "run", "select", "within_goal",
           "choose_verified", "Selection", "select_program", "domain_of"]

DTYPES = ("float32", "float64", "real")


@dataclass(frozen=True)
class ApproxSettings:
    dtype: str = "float32"
    max_ulp: float = 1.0
    domain: tuple[float, float] | None = None
    time_limit: float = 60.0
    max_evaluations: int | None = None
    max_cost: int | None = None
    division: bool = False
    seed: int = 0
    train_points: int = 16384


@dataclass
class Candidate:
    """A program on the front (or a baseline), with its measured error and cost; ``name``
    is ``"search"`` for the search's programs, the baseline's name (``"minimax-6 horner"``)
    otherwise."""
    name: str
    core: SLP
    full: SLP
    error: float
    cost: int
    main_cost: int

    @property
    def is_baseline(self) -> bool:
        return self.name != "search"


def _check(settings: ApproxSettings) -> None:
    if settings.dtype not in DTYPES:
        raise UserError(f"unsupported precision {settings.dtype!r}: choose float32, float64 or real")
    if settings.dtype != "real" and not math.isfinite(settings.max_ulp):
        raise UserError(f"--max-ulp must be a finite number of ULPs (>= 0.5), not {settings.max_ulp:g}")
    if settings.dtype != "real" and not settings.max_ulp >= 0.5:
        raise UserError(f"--max-ulp {settings.max_ulp:g} is below 0.5: no float program is more "
                        "accurate than correct rounding; give a goal >= 0.5")
    check_seconds(settings.time_limit, "--time-limit")
    check_seed(settings.seed)


@dataclass
class Task:
    target: Target
    settings: ApproxSettings
    domain: tuple[float, float]
    template: Template | None
    core: Core
    x_fit: np.ndarray
    y_fit: np.ndarray
    x_train: np.ndarray = field(default=None)
    ref_hi: np.ndarray = field(default=None)
    ref_lo: np.ndarray | None = None

    @property
    def dtype(self) -> str:
        return "float64" if self.settings.dtype == "real" else self.settings.dtype

    def whole(self, core: SLP) -> tuple[SLP, set[int]]:
        return wrap(self.template, core) if self.template is not None else (core, set())

    def error(self, core: SLP) -> float:
        """Max ULP error of the whole program on the training inputs (real task: max
        relative error of the core on a dense grid, long double)."""
        if self.settings.dtype == "real":
            with np.errstate(all="ignore"):
                e = np.max(np.abs(evaluate_real(core, self.x_train) / self.ref_hi - 1))
            return float(e) if np.isfinite(e) else math.inf
        full, _ = self.whole(core)
        err = ulp_error(evaluate(full, self.x_train), self.ref_hi, self.dtype, self.ref_lo)
        e = float(np.max(err))
        return e if np.isfinite(e) else math.inf


def domain_of(spec: str, settings: ApproxSettings) -> tuple[float, float]:
    """The domain a task of ``spec`` covers: ``settings.domain``, else the target's."""
    return settings.domain or get_target(spec).domain


def make_task(spec: str, settings: ApproxSettings, template: str | None = None) -> Task:
    """The task of ``spec`` under ``settings``; ``template``: the range-reduction template by
    name (a result file's, rebuilt on another host or after a change of the default),
    else the one :func:`template_for` picks here."""
    _check(settings)
    tgt = get_target(spec)
    domain = domain_of(spec, settings)
    template = TEMPLATES[template] if template in TEMPLATES else template_for(tgt, settings.domain, settings.dtype)
    if settings.dtype == "real":
        template = None
    elif tgt.template in ("sin", "cos") and template is None and settings.dtype in SINCOS_VALID:
        raise UserError(f"{tgt.name}'s range reduction covers |x| <= {SINCOS_VALID[settings.dtype]:g} in "
                        f"{settings.dtype}; give a --domain inside it")
    if template is None and not all(math.isfinite(v) for v in domain):
        raise UserError(f"domain [{domain[0]:g}, {domain[1]:g}] of {tgt.name} is unbounded and "
                        f"{tgt.name} has no range-reduction template for {settings.dtype}: give a finite --domain a,b")
    dtype = "float64" if settings.dtype == "real" else settings.dtype
    # the target's values at the fitting points of the domain, checked finite and real
    checked = _check_domain(tgt, domain, dtype) if template is None else None
    core = template.core(dtype) if template else Core.of(tgt.name, tgt.mp_fn, *domain)
    # fitting points: Chebyshev-distributed on the core interval (x >= 0 half if symmetric)
    x_fit = _fit_points(core.a, core.b)
    if checked is not None:  # the core is the target itself on the domain
        y_fit = checked
    else:
        with mp.workdps(30):
            y_fit = np.array([float(core.f(mp.mpf(float(v)))) for v in x_fit])
    keep = y_fit != 0
    task = Task(tgt, settings, domain, template, core, x_fit[keep], y_fit[keep])
    rng = np.random.default_rng(settings.seed)
    n = settings.train_points
    if settings.dtype == "real":
        task.x_train = np.linspace(domain[0], domain[1], 20001)
        hi, lo = exact(tgt, task.x_train)
        task.ref_hi = hi.astype(np.longdouble) + lo   # the exact value to long double
        return task
    x = _training_inputs(tgt, template, domain, dtype, n, rng)
    task.x_train = x
    if dtype == "float32":
        task.ref_hi = exact_float64(tgt, x)
    else:
        task.ref_hi, task.ref_lo = exact(tgt, x)
    return task


def _fit_points(a: float, b: float) -> np.ndarray:
    """Where the constants are fitted: 400 Chebyshev-distributed points of [a, b], ends included
    (exactly: on [1e-20, 1] the first point rounded to 0, outside the domain)."""
    points = (a + b) / 2 - (b - a) / 2 * np.cos(np.linspace(0, np.pi, 400))
    points[0], points[-1] = a, b
    return np.clip(points, a, b)


def _singularity_inside(tgt: Target, a: float, b: float) -> float | None:
    """A real singularity of the target's expression in ``[a, b]`` that SymPy finds (a pole
    between the fit points: ``tan`` on [1, 2] ran to 1.7e7 ULP and advised more time), or
    None (also where SymPy cannot tell: the sampled check still runs)."""
    from sympy.calculus.util import singularities

    if sympy.count_ops(tgt.expr) > 40:   # solveset on a large expression may take long
        return None
    try:
        found = singularities(tgt.expr, X, sympy.Interval(a, b))
    except Exception:  # noqa: BLE001 - SymPy raises many kinds where it cannot decide
        return None
    if isinstance(found, sympy.FiniteSet):
        inside = [float(p) for p in found if p.is_real]
        return min(inside) if inside else None
    return None


def _check_domain(tgt: Target, domain: tuple[float, float], dtype: str) -> np.ndarray:
    """The target's values at the fitting points of ``domain`` (:func:`_fit_points`), or a
    UserError unless the program can cover ``domain`` directly: inside ``dtype``'s finite
    range, with a finite real value of the target at the fitting points, the midpoint and 0
    (the fits and the baselines use them; a pole or a branch cut there would crash them)."""
    a, b = domain
    largest = float(np.finfo(dtype).max)
    if max(abs(a), abs(b)) > largest:
        raise UserError(f"domain [{a:g}, {b:g}] exceeds {dtype}'s finite range (largest {largest:.4g}); "
                        "give a --domain inside it")
    fit_points = _fit_points(a, b)
    points = [*fit_points, (a + b) / 2] + ([0.0] if a < 0 < b else [])
    values = []
    with mp.workdps(30):
        for x in points:
            try:
                v = tgt.mp_fn(mp.mpf(float(x)))
            except (ZeroDivisionError, ValueError, OverflowError):
                v = mp.nan
            if isinstance(v, mp.mpc) and v.imag != 0:
                problem = "is not real"
            elif not mp.isfinite(mp.re(v)):
                problem = "is undefined (a pole or a singularity)" if mp.isnan(mp.re(v)) else "is infinite"
            elif abs(mp.re(v)) > largest:
                problem = f"overflows {dtype}"
            elif 0 < abs(mp.re(v)) < float(np.finfo(dtype).smallest_normal):
                problem = f"underflows {dtype} (below its smallest normal number)"
            else:
                values.append(float(mp.re(v)))
                continue
            raise UserError(f"{tgt.name} {problem} at x = {float(x):g} in the domain [{a:g}, {b:g}]; "
                            "give a --domain where it has finite real values")
    pole = _singularity_inside(tgt, a, b)   # between the points just checked
    if pole is not None:
        raise UserError(f"{tgt.name} is undefined (a pole or a singularity) at x = {pole:g} in the domain "
                        f"[{a:g}, {b:g}]; give a --domain where it has finite real values")
    return np.array(values[:len(fit_points)])


def template_for(tgt: Target, domain, dtype: str) -> Template | None:
    """The range-reduction template for a user's domain (None: the program covers the
    domain directly). sin/cos: the [-pi, pi] variant inside it, the wide one up to its bound."""
    if not tgt.template:
        return None
    if tgt.template == "erf" and dtype != "float32":
        return None  # the erf template is float32 only (its fixed parts are fitted for it)
    if tgt.template in ("sin", "cos") and domain is not None:
        bound = max(abs(domain[0]), abs(domain[1]))
        if bound <= math.pi:
            return TEMPLATES[tgt.template]
        return TEMPLATES[tgt.template + "_wide"] if dtype in SINCOS_VALID and bound <= SINCOS_VALID[dtype] else None
    if domain is not None and domain != tgt.domain and all(math.isfinite(v) for v in domain):
        return None  # a bounded user interval: the program covers it directly (an unbounded one needs the template)
    if tgt.template in ("log", "log2") and dtype in ("float32", "float64") and log_table_template():
        return TEMPLATES[tgt.template + "_table"]
    return TEMPLATES[tgt.template]


def _training_inputs(tgt: Target, template, domain, dtype, n, rng) -> np.ndarray:
    """The training inputs: the template's own distribution (:attr:`Template.training`), or
    uniform on the domain plus, across 0, a band of tiny values."""
    if template is not None and template.training is not None:
        x = template.training(rng, n, dtype)
    else:
        x = rng.uniform(domain[0], domain[1], n)
        x = np.concatenate([x, rng.uniform(-1, 1, n // 4) * min(abs(domain[0]), abs(domain[1]), 1e-3)
                            if domain[0] < 0 < domain[1] else np.empty(0)])
    x = np.unique(x.astype(dtype))
    return x[(x >= domain[0]) & (x <= domain[1])]


def _tune(task: Task, slp: SLP, err: float, rng: np.random.Generator, tries: int = 6) -> tuple[SLP, float]:
    """Nudge single constants by 1-3 units in their last place while the error drops."""
    cids = constant_ids(slp)
    if not cids or task.settings.dtype == "real":
        return slp, err
    for _ in range(tries):
        values = [slp.instrs[k].value for k in cids]
        i = int(rng.integers(len(cids)))
        step = float(np.spacing(np.asarray(values[i], dtype=slp.dtype)))
        values[i] = values[i] + step * int(rng.choice([-3, -2, -1, 1, 2, 3]))
        trial = with_constants(slp, values)
        e = task.error(trial)
        if e < err:
            slp, err = trial, e
    return slp, err


@dataclass
class ApproxRun:
    task: Task
    front: list[Candidate]
    baselines: list[Candidate]
    stats: dict

    def front_index(self, row) -> int | None:
        """Where the program ``row`` (this very object) stands on the front, or None."""
        return next((k for k, r in enumerate(self.front) if r is row), None)


def max_degree(task: Task) -> int:
    """The highest polynomial degree of the baselines and the search's classical seeds."""
    return 8 if task.dtype == "float32" else 13


def baseline_rows(task: Task, fma: bool = True, division: bool = False) -> list[Candidate]:
    """Every textbook baseline of the task (degrees 1 to :func:`max_degree`, two fewer for
    cores in even or odd powers; rationals with ``division``), scored like the search's
    programs; those with a finite error. The programs come from the disk cache where an
    earlier run made them (:func:`cached_baselines`)."""
    top = max_degree(task) + 1
    degrees = range(1, top) if task.core.step == 1 else range(1, top - 2)
    base = cached_baselines(task.core, task.dtype, list(degrees), fma=fma,
                            rational=((2, 2), (3, 3)) if division else ())
    return [r for r in (_candidate(task, b.name, b.slp) for b in base) if math.isfinite(r.error)]


#: the modules whose code makes a baseline: a change to any of them makes new cache entries
_BASELINE_SOURCES = ("discover.approx.baselines", "discover.approx.minimax", "discover.approx.program",
                     "codegen.fastmath_remez")


def _baseline_key(core: Core, dtype: str, degrees, fma: bool, rational) -> str:
    """What a baseline program depends on: the core (its form and interval, its values at
    three points to 30 digits), the precision, degrees and options, the code that fits
    and builds it and the versions of mpmath and NumPy."""
    import hashlib
    import importlib
    from pathlib import Path

    digest = hashlib.sha1()
    for name in _BASELINE_SOURCES:
        digest.update(Path(importlib.import_module(name).__file__).read_bytes())
    with mp.workdps(30):
        values = [mp.nstr(core.f(mp.mpf(core.a) + (mp.mpf(core.b) - core.a) * k / 7), 30) for k in (2, 3, 5)]
    digest.update(repr((core.name, core.a, core.b, core.zero, core.step, values, dtype, list(degrees), fma,
                        [tuple(r) for r in rational], mp.__version__, np.__version__)).encode())
    return digest.hexdigest()[:24]


def cached_baselines(core: Core, dtype: str, degrees, fma: bool = True, rational=()) -> list:
    """:func:`.baselines.baselines` of ``core``, kept in the disk cache of the references
    (:func:`.reference.cache_dir`): the Remez fits behind them take seconds (float32
    about 4 s, float64 12-22 s on an AMD EPYC, mostly fpminimax's one fit per
    coefficient), the same for every run of a target, precision and domain. A missing,
    unreadable or damaged entry is computed again; an unwritable cache only costs time."""
    import json

    from ..atomic import write_text_atomic
    from .baselines import Baseline
    from .reference import cache_dir

    try:
        path = cache_dir() / f"baselines-{_baseline_key(core, dtype, degrees, fma, rational)}.json"
    except (OSError, ValueError, ZeroDivisionError):   # no source to hash, a core that fails at a probe
        return baselines(core, dtype, degrees, fma=fma, rational=rational)
    try:
        return [Baseline(name, family, degree, order,
                         SLP(dtype, tuple(Instr(op, tuple(ops), float(v)) for op, ops, v in program), output))
                for name, family, degree, order, program, output in json.loads(path.read_text())]
    except (OSError, ValueError, TypeError, KeyError):
        pass
    found = baselines(core, dtype, degrees, fma=fma, rational=rational)
    rows = [[b.name, b.family, b.degree, b.order, [[i.op, list(i.operands), i.value] for i in b.slp.instrs],
             b.slp.output] for b in found]
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_text_atomic(path, json.dumps(rows))
    except OSError:
        pass
    return found


def run(spec: str, settings: ApproxSettings = ApproxSettings(), progress=None) -> ApproxRun:
    """Baselines, then the search; the front and the baselines measured the same way."""
    task = make_task(spec, settings)
    real = settings.dtype == "real"
    fma = not real
    division = real or settings.division
    w = 1 / np.abs(task.y_fit)
    rng = np.random.default_rng(settings.seed + 1)

    def score(core: SLP) -> tuple[SLP, float]:
        fitted, _ = fit_constants(core, task.x_fit, task.y_fit, w, iterations=25)
        err = task.error(fitted)
        if math.isfinite(err):
            fitted, err = _tune(task, fitted, err, rng)
        return fitted, err

    if progress is not None:
        progress({"phase": "baselines"})
    ops = REAL_OPS if real else SEARCH_OPS + (("div",) if division else ())
    wrapper = cost(task.whole(SLP(task.dtype, (Instr("arg", value=0),), 0))[0])
    max_cost = settings.max_cost or (12 if real else wrapper + 16)
    stats: dict = {}
    try:
        started = time.monotonic()
        base_rows = baseline_rows(task, fma, division)
        seeds = classical_seeds(task.core, task.dtype, fma, division=division, max_degree=max_degree(task))
        baseline_seconds = time.monotonic() - started
        front = evolve(seeds, score, EvolveSettings(ops=ops, max_cost=max_cost, time_limit=settings.time_limit,
                                                   max_evaluations=settings.max_evaluations, seed=settings.seed),
                       progress=progress, stats=stats)
    except (FitFailed, ZeroDivisionError) as exc:  # mpmath's singular systems raise ZeroDivisionError
        a, b = task.domain
        why = str(exc) or type(exc).__name__   # mpmath's ZeroDivisionError has no message
        raise UserError(f"cannot fit {task.target.name} on [{a:g}, {b:g}] in {settings.dtype}: {why} (the "
                        "function is too flat or too wild there at the fit's precision); give a --domain over "
                        "which it is smooth and varies by more than its precision") from None
    rows = pareto([_candidate(task, "search", e.slp) for e in front])
    stats["baseline_seconds"] = baseline_seconds   # the baselines and the seeds, before the search
    return ApproxRun(task, rows, base_rows, stats)


def select(rows: list[Candidate], goal: float) -> int | None:
    """Index of the cheapest row within the goal (None if none is)."""
    order = within_goal(rows, goal)
    return order[0] if order else None


def within_goal(rows: list[Candidate], goal: float, key=None) -> list[int]:
    """Indices of the rows within the goal on the training inputs, cheapest first (by
    ``key(row)``, default cost then error; on a tie a baseline comes first: the search
    found nothing better than that textbook program, and the report says so)."""
    key = key or (lambda r: (r.cost, r.error))
    return sorted((i for i, r in enumerate(rows) if r.error <= goal),
                  key=lambda i: (key(rows[i]), not getattr(rows[i], "is_baseline", False)))


def choose_verified(rows: list[Candidate], order: list[int], goal: float, verify_one, tries: int = 3):
    """Verify candidates in ``order`` until one meets the goal on the verification set
    (the training inputs can miss the hardest inputs): ``(index, verification, rejected)``
    with ``rejected`` the ``(index, verification)`` pairs that failed.

    ``verify_one(program, stop_above)`` verifies a program; candidates are tried with
    ``stop_above=goal``, so that one that misses the goal may stop at a witness input
    (:func:`.verify.verify`: a float32 sweep costs its whole domain only for a program
    that passes). When none of the first ``tries`` passes, the one with the smallest error
    found is verified completely (``stop_above=None``) and returned. A program identical
    to one already verified (a baseline the search rediscovered, two baselines whose
    coefficients round alike) is not verified again, nor counted as a try."""
    rejected = []
    seen: set[str] = set()
    for i in order:
        key = repr(rows[i].full)
        if key in seen:
            continue   # failed already (a pass would have returned)
        if len(seen) == tries:
            break
        seen.add(key)
        v = verify_one(rows[i].full, goal)
        if v.max_ulp <= goal:
            return i, v, rejected
        rejected.append((i, v))
    if not rejected:
        return None, None, []
    k = min(range(len(rejected)), key=lambda k: rejected[k][1].max_ulp)
    i, v = rejected[k]
    if getattr(v, "stopped", False):   # a witness, not the maximum: the closest one is reported in full
        v = verify_one(rows[i].full, None)
        rejected[k] = (i, v)
    return i, v, rejected


@dataclass
class Selection:
    """The program :func:`select_program` picked: ``index`` into ``run.front`` (a baseline
    picked is placed there, by cost, under its own name), or None where no program is
    within the goal; its ``verification`` (None where none ran); ``rejected``: the
    ``(program, verification)`` pairs within the goal on the training inputs that failed
    their verification."""
    index: int | None
    verification: object = None
    rejected: list = field(default_factory=list)


def select_program(run: "ApproxRun", goal: float, verify_one=None, key=None, tries: int = 3) -> Selection:
    """The cheapest program within ``goal`` (then the lowest error; by ``key(row)`` if
    given) among the search's front *and* the baselines, which compete on equal terms:
    both are measured the same way, in the same range-reduction template. With
    ``verify_one(program, stop_above) -> Verification`` the candidates are verified in
    that order (:func:`choose_verified`). A baseline picked is inserted into ``run.front`` (by cost,
    before search programs of its cost), so that the front of the result holds every
    program it names; the returned ``index`` points there."""
    pool = run.front + run.baselines
    order = within_goal(pool, goal, key)
    if not order:
        return Selection(None)
    verification, rejected = None, []
    chosen = order[0]
    if verify_one is not None:
        chosen, verification, rejected = choose_verified(pool, order, goal, verify_one, tries)
    row = pool[chosen]
    if row.is_baseline:
        at = next((k for k, r in enumerate(run.front) if r.cost >= row.cost), len(run.front))
        run.front.insert(at, row)
    return Selection(run.front_index(row), verification, [(pool[i], v) for i, v in rejected])


def _candidate(task: Task, name: str, core: SLP) -> Candidate:
    full, special = task.whole(core)
    return Candidate(name, core, full, task.error(core), cost(full), main_path_cost(full, special))
