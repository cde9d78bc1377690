"""Throughput of codegen kernels on the Feynman formulas against lambdify, Numba, SymEngine.

For every formula of ``feynman_public.csv`` (name,output,formula,variables; variables
``name:low:high``, sampled uniformly), at float64 and float32, and for two sizes
(10**6 elements: memory bound, caches evicted before each timing; 2**14 elements
called repeatedly: in cache), this
measures elements per second (best of ``--repeats`` rounds in cache, ``--large-repeats``
at 10**6) of

* ``lambdify``: ``sympy.lambdify(args, expr, "numpy")`` on NumPy arrays,
* ``numba`` / ``numba-fm``: ``numba.vectorize`` of the scalar ``math``-module lambdify,
  fastmath off / on (called with ``out=``),
* ``symengine``: ``symengine.Lambdify(backend="llvm", cse=True)`` (inputs pre-stacked),
* ``libm`` / ``libmvec`` / ``fast``: ``codegen.compile(..., math=...)`` called with ``out=``
  (exact scalar libm calls / glibc's vector functions / the default: inline functions
  within 1 ULP, scalar libm for the rest).

``--data benchmarks/codegen_kernels.csv`` runs the same on typical numerical kernels
(compositions of exp, log, pow, cbrt, trig, inverse trig, hyperbolic, expm1, log1p...).

Summary lines: median and minimum speedup of codegen (both math modes) over lambdify
and over Numba (libm and libmvec vs Numba without fastmath, fast vs Numba with fastmath
and without), the fast-mode speedup over Numba on the transcendental formulas (containing
exp, log, sin, cos or the sqrt of a sum), and the max ULP error of the fast and libmvec kernels against
the float64 ``libm`` kernel (rounded to float32 for float32 kernels), and of the
fast kernel on the elements where the formula is well conditioned (there the float32
``libm`` kernel is
within 1 ULP of the reference): the long formulas with cancellation
amplify any last-bit difference, so only that last figure measures the functions.

    python benchmarks/codegen_speed.py                       # everything (~10 minutes on 2 cores)
    python benchmarks/codegen_speed.py --limit 8 --repeats 3  # a quick look
"""

from __future__ import annotations

import argparse
import csv
import math
import re
import statistics
import sys
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import sympy
from sympy.codegen import cfunctions
from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import codegen  # noqa: E402

DEFAULT_DATA = ROOT.parent / "shared" / "benchmarks" / "feynman_public.csv"
KERNELS_DATA = ROOT / "benchmarks" / "codegen_kernels.csv"  # typical numerical kernels (--data)
#: C99 functions SymPy parses only by name (codegen lowers them to expm1, log1p...)
C_FUNCTIONS = {f.__name__: f for f in (cfunctions.expm1, cfunctions.log1p, cfunctions.log10,
                                       cfunctions.log2, cfunctions.exp2, cfunctions.hypot)}
LARGE, SMALL = 10**6, 2**14
TRANSCENDENTAL = (sympy.exp, sympy.log, sympy.sin, sympy.cos)


@dataclass
class Formula:
    name: str
    expr: sympy.Expr
    names: list[str]
    bounds: list[tuple[float, float]]

    @property
    def call_free(self) -> bool:
        """No function calls and only integer or half-integer powers: the libm and fast
        kernels are then the same machine code, so their ratio measures timing noise."""
        if self.expr.atoms(sympy.Function):
            return False
        return all((2 * p.exp).is_integer for p in self.expr.atoms(sympy.Pow))

    @property
    def transcendental(self) -> bool:
        if self.expr.has(*TRANSCENDENTAL):
            return True
        return any(p.exp == sympy.Rational(1, 2) and isinstance(p.base, sympy.Add)
                   for p in self.expr.atoms(sympy.Pow))


@dataclass
class Row:
    formula: Formula
    dtype: str
    rates: dict[tuple[str, int], float] = field(default_factory=dict)  # (method, size) -> elem/s
    max_ulp: float = math.nan              # fast kernel vs float64 libm reference
    max_ulp_libmvec: float = math.nan      # libmvec kernel of the same dtype vs that reference
    max_ulp_conditioned: float = math.nan  # fast, on well-conditioned elements (see measure)


def load_formulas(path: Path) -> list[Formula]:
    lines = [line for line in path.read_text().splitlines() if line.strip() and not line.startswith("#")]
    formulas = []
    for record in csv.DictReader(lines):
        names, bounds = [], []
        for spec in record["variables"].split():
            name, low, high = spec.split(":")
            names.append(name)
            bounds.append((float(low), float(high)))
        local = {**C_FUNCTIONS, **{n: sympy.Symbol(n) for n in names}}
        formulas.append(Formula(record["name"], sympy.sympify(record["formula"], locals=local), names, bounds))
    return formulas


EVICT_BYTES = 96 << 20  # larger than the last-level cache (32 MiB on the reference machine)
_evict_buffer: np.ndarray | None = None


def evict_caches() -> None:
    """Push the benchmark arrays out of every CPU cache (write a buffer larger than L3)."""
    global _evict_buffer
    if _evict_buffer is None:
        _evict_buffer = np.zeros(EVICT_BYTES // 8)
    _evict_buffer += 1.0


def best_rates(callables: dict, n: int, repeats: int, calls: int, cold: bool = False) -> dict[str, float]:
    """Elements per second per method: best over ``repeats`` rounds of ``calls`` calls.

    The methods take turns within each round (in an order rotated every round), so a busy
    machine slows all of them alike.
    ``cold``: evict the caches before each method's turn, so every method reads its
    inputs from memory.  Without it, at 10**6 float32 elements (12-40 MB) the method
    running right after one that touched the same arrays finds part of them in the
    last-level cache, and the one after SymEngine (which reads a stacked copy) does
    not: that order effect alone moved single results by up to 1.8x.
    """
    for fn in callables.values():
        fn()  # warm up (and JIT for lazily compiled callables)
    best = dict.fromkeys(callables, math.inf)
    order = list(callables.items())
    for round_ in range(repeats):
        # rotate the order each round: no method always follows the same one (SymEngine's
        # stacked copy of the inputs pushes the others' arrays out of L1/L2)
        for method, fn in order[round_ % len(order):] + order[:round_ % len(order)]:
            if cold:
                evict_caches()
            start = time.perf_counter()
            for _ in range(calls):
                fn()
            best[method] = min(best[method], (time.perf_counter() - start) / calls)
    return {method: n / seconds for method, seconds in best.items()}


def make_callables(formula: Formula, dtype: str, inputs: list[np.ndarray], out: np.ndarray,
                   methods: list[str]):
    """method -> zero-argument callable computing the formula on ``inputs``."""
    symbols = [sympy.Symbol(n) for n in formula.names]
    made = {}
    if "lambdify" in methods:
        f = sympy.lambdify(symbols, formula.expr, "numpy")
        made["lambdify"] = lambda: f(*inputs)
    for method, fastmath in (("numba", False), ("numba-fm", True)):
        if method in methods:
            made[method] = _numba(formula, symbols, dtype, fastmath, inputs, out)
    if "symengine" in methods:
        made["symengine"] = _symengine(formula, symbols, dtype, inputs, out)
    for math_mode in ("libm", "libmvec", "fast"):
        if math_mode in methods:
            kernel = codegen.compile(formula.expr, formula.names, dtype=dtype, math=math_mode)
            made[math_mode] = lambda k=kernel: k(*inputs, out=out)
    return {k: v for k, v in made.items() if v is not None}


def _numba(formula, symbols, dtype, fastmath, inputs, out):
    try:
        import numba
    except ImportError:
        return None
    scalar = sympy.lambdify(symbols, formula.expr, "math")
    signature = f"{dtype}({', '.join([dtype] * len(symbols))})"
    ufunc = numba.vectorize([signature], fastmath=fastmath)(scalar)
    return lambda: ufunc(*inputs, out=out)


def _symengine(formula, symbols, dtype, inputs, out):
    try:
        import symengine
    except ImportError:
        return None
    try:
        f = symengine.Lambdify([symengine.sympify(s) for s in symbols], [symengine.sympify(formula.expr)],
                               backend="llvm", cse=True, order="F", dtype=np.dtype(dtype).type)
    except Exception:  # no LLVM backend, or no float32 support in this build
        return None
    stacked = np.ascontiguousarray(np.stack(inputs))
    result = out.reshape(1, -1)
    return lambda: f(stacked, out=result)


def ulp_distance(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    itype = np.int64 if a.dtype == np.float64 else np.int32
    mask = np.iinfo(itype).max

    def ordered(v):
        bits = v.view(itype).astype(np.int64)
        return np.where(bits < 0, -(bits & mask), bits)

    return np.abs(ordered(a) - ordered(b)).astype(float)


def measure(formula: Formula, dtype: str, methods: list[str], repeats: int, seed: int,
            large_repeats: int) -> Row:
    rng = np.random.default_rng(seed)
    row = Row(formula, dtype)
    big = [rng.uniform(low, high, LARGE).astype(dtype) for low, high in formula.bounds]
    for size in (LARGE, SMALL):
        inputs = [np.ascontiguousarray(a[:size]) for a in big]
        out = np.empty(size, dtype)
        calls = 1 if size == LARGE else max(1, 2_000_000 // size // 4)
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            callables = make_callables(formula, dtype, inputs, out, methods)
            rounds = large_repeats if size == LARGE else repeats
            for method, rate in best_rates(callables, size, rounds, calls, cold=size == LARGE).items():
                row.rates[(method, size)] = rate
    if "fast" in methods:
        inputs = [a[:SMALL] for a in big]
        errors = {mode: ulp_distance(_kernel(formula, dtype, mode)(*inputs), _reference(formula, inputs, dtype))
                  for mode in ("libmvec", "fast")}
        row.max_ulp = float(errors["fast"].max())
        row.max_ulp_libmvec = float(errors["libmvec"].max())
        # well-conditioned elements: the float32 libm kernel is within 1 ULP of the reference
        single = [a.astype(np.float32) for a in inputs]
        well = ulp_distance(_kernel(formula, "float32", "libm")(*single),
                            _reference(formula, single, "float32")) <= 1
        row.max_ulp_conditioned = float(errors["fast"][well].max()) if well.any() else math.nan
    return row


def _kernel(formula: Formula, dtype: str, mode: str):
    return codegen.compile(formula.expr, formula.names, dtype=dtype, math=mode)


def _reference(formula: Formula, inputs: list[np.ndarray], dtype: str) -> np.ndarray:
    """The float64 exact-libm kernel on ``inputs``, rounded to ``dtype``."""
    return _kernel(formula, "float64", "libm")(*[a.astype(np.float64) for a in inputs]).astype(dtype)


def speedups(rows: list[Row], ours: str, base: str, size: int | None = None, only=None) -> list[float]:
    values = []
    for row in rows:
        if only is not None and not only(row):
            continue
        for (method, s), rate in row.rates.items():
            if method == ours and (size is None or s == size) and (base, s) in row.rates:
                values.append(rate / row.rates[(base, s)])
    return values


def summary_line(label: str, values: list[float]) -> str:
    if not values:
        return f"{label}: n/a"
    return (f"{label}: median {statistics.median(values):.2f}x, min {min(values):.2f}x, "
            f"max {max(values):.2f}x over {len(values)} measurements")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="feynman_public.csv")
    parser.add_argument("--limit", type=int, help="only the first N formulas")
    parser.add_argument("--match", help="only formulas whose name matches this regex")
    parser.add_argument("--repeats", type=int, default=5, help="timing repeats (best of) at 2^14 elements")
    parser.add_argument("--large-repeats", type=int, default=15,
                        help="timing repeats at 10^6 elements (one cold call each: noisier, cheap)")
    parser.add_argument("--dtypes", default="float64,float32")
    parser.add_argument("--methods", default="lambdify,numba,numba-fm,symengine,libm,libmvec,fast")
    parser.add_argument("--seed", type=int, default=0)
    options = parser.parse_args(argv)
    if not options.data.exists():
        parser.error(f"data file not found: {options.data} (give --data PATH)")
    formulas = load_formulas(options.data)
    if options.match:
        formulas = [f for f in formulas if re.search(options.match, f.name)]
    formulas = formulas[: options.limit]
    methods = options.methods.split(",")
    console = Console(width=200)
    rows = []
    started = time.perf_counter()
    for formula in formulas:
        for dtype in options.dtypes.split(","):
            rows.append(measure(formula, dtype, methods, options.repeats, options.seed, options.large_repeats))
            console.print(f"[dim]{formula.name} {dtype} done ({time.perf_counter() - started:.0f} s)[/dim]")
    print_table(console, rows, methods)
    print_summary(console, rows)
    return 0


def print_table(console: Console, rows: list[Row], methods: list[str]) -> None:
    table = Table(title="elements per second (M/s); 1e6 elements | 2^14 elements in cache")
    for column in ("formula", "dtype", *methods, "ULP fast|libmvec|cond"):
        table.add_column(column, justify="left" if column == "formula" else "right")
    for row in rows:
        cells = []
        for method in methods:
            large, small = row.rates.get((method, LARGE)), row.rates.get((method, SMALL))
            cells.append("-" if large is None else f"{large / 1e6:.0f} | {small / 1e6:.0f}")
        name = row.formula.name + (" *" if row.formula.transcendental else "")
        table.add_row(name, row.dtype.replace("float", "f"), *cells,
                      f"{row.max_ulp:.0f} | {row.max_ulp_libmvec:.0f} | {row.max_ulp_conditioned:.0f}")
    console.print(table)
    console.print("* transcendental: contains exp, log, sin, cos or sqrt of a sum")


def print_summary(console: Console, rows: list[Row]) -> None:
    transcendental = lambda row: row.formula.transcendental  # noqa: E731
    lines = [
        summary_line("libm vs lambdify", speedups(rows, "libm", "lambdify")),
        summary_line("libmvec vs lambdify", speedups(rows, "libmvec", "lambdify")),
        summary_line("fast (the default) vs lambdify", speedups(rows, "fast", "lambdify")),
        summary_line("libm vs numba (fastmath off)", speedups(rows, "libm", "numba")),
        summary_line("libmvec vs numba (fastmath off)", speedups(rows, "libmvec", "numba")),
        summary_line("fast vs numba (fastmath off)", speedups(rows, "fast", "numba")),
        summary_line("fast vs numba (fastmath on)", speedups(rows, "fast", "numba-fm")),
        summary_line("libm vs symengine llvm", speedups(rows, "libm", "symengine")),
        summary_line("noise floor: fast vs libm on call-free formulas (identical code)",
                     speedups(rows, "fast", "libm", only=lambda row: row.formula.call_free)),
        summary_line("fast vs numba (fastmath off), transcendental formulas",
                     speedups(rows, "fast", "numba", only=transcendental)),
        summary_line("fast vs numba (fastmath on), transcendental formulas",
                     speedups(rows, "fast", "numba-fm", only=transcendental)),
    ]
    for dtype in ("float64", "float32"):
        picked = [row for row in rows if row.dtype == dtype and not math.isnan(row.max_ulp)]
        if picked:
            worst = lambda attr: max((getattr(r, attr) for r in picked if not math.isnan(getattr(r, attr))),  # noqa: E731
                                     default=math.nan)
            lines.append(f"max ULP error vs float64 libm reference ({dtype}): fast {worst('max_ulp'):.0f}, "
                         f"libmvec {worst('max_ulp_libmvec'):.0f} (ill-conditioned formulas amplify rounding); "
                         f"fast on well-conditioned elements: {worst('max_ulp_conditioned'):.0f}")
    slow = [f"{row.formula.name}/{row.dtype}/{'1e6' if s == LARGE else '2^14'}: {r:.2f}x"
            for row in rows for (m, s), rate in row.rates.items()
            if m == "libm" and ("numba", s) in row.rates
            for r in [rate / row.rates[("numba", s)]] if r < 1.0]
    lines.append("libm slower than numba on: " + (", ".join(slow) if slow else "none"))
    for base in ("lambdify", "numba"):  # the default mode (math="fast") against each baseline
        slow = [f"{row.formula.name}/{row.dtype}/{'1e6' if s == LARGE else '2^14'}: {r:.2f}x"
                for row in rows for (m, s), rate in row.rates.items()
                if m == "fast" and (base, s) in row.rates
                for r in [rate / row.rates[(base, s)]] if r < 1.0]
        lines.append(f"default (fast) slower than {base} on: " + (", ".join(slow) if slow else "none"))
    for line in lines:
        console.print(line)


if __name__ == "__main__":
    sys.exit(main())
