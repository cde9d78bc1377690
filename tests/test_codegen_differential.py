"""codegen kernels against NumPy (``sympy.lambdify``) on a grid of expressions, and accuracy.

:class:`TestDifferential` compiles every case of :data:`CASES` (rational and symbolic
exponents, every function of ``codegen.supported_functions()``, two-argument functions
with a constant operand) in every math mode and both dtypes, and compares the kernel
with ``sympy.lambdify(..., ["scipy", "numpy"])`` evaluated in float64 on the same
inputs: within ``RTOL[dtype]`` (relative, plus the same absolute tolerance near zero),
with the same NaN and infinity pattern.  Compiling can abort the process (an LLVM
"Broken function" is a ``LLVM ERROR`` and ``abort()``, not a Python exception), so the
grid runs in a subprocess (this file run as a script): it reports each case as a JSON
line; a case that kills the process is a failure, and the rest of the grid goes on in a
fresh subprocess.

:class:`TestSummationOrder`: kernels evaluate sums and products in the printed order
(as ``lambdify`` does), so on an ill-conditioned expression -- Heron's formula on thin
triangles -- their error is no larger than NumPy's.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import zlib

import mpmath
import numpy as np
import pytest
import sympy

import codegen

MATHS = ("libm", "libmvec", "fast")
DTYPES = ("float64", "float32")
RTOL = {"float64": 1e-12, "float32": 1e-5}
POINTS = 61  # random points per case (not a multiple of a vector length)
EDGES = [0.0, -0.0, 1.0, -1.0, 0.5, -2.5, 3.0, math.inf, -math.inf, math.nan]
NO_POLES = [0.0, 1.0, 0.5, -2.5, 3.0, math.inf, math.nan]  # gamma: no negative integers
# x**(k/2) is computed with sqrt (codegen.program), so x = -inf gives NaN where C's and
# NumPy's pow give +inf or 0 (for |k| >= 3; sqrt(x) and 1/sqrt(x) print as such): left out
NO_MINUS_INF = [e for e in EDGES if e != -math.inf]

# label -> (expression, args, domain of each arg for the random points, the names of
# supported_functions() it covers, edge values); domains avoid overflow and the
# neighbourhood of singular points, where relative errors of either side are unbounded.
_D = (0.1, 4.0)
CASES: dict[str, tuple] = {
    # rational and symbolic exponents
    "x**(1/3)": ("x**(1/3)", "x", [_D], ("Pow",), EDGES),
    "x**(2/3)": ("x**(2/3)", "x", [_D], ("Pow",), EDGES),
    "x**-1.5": ("x**-1.5", "x", [_D], ("Pow",), NO_MINUS_INF),
    "x**y": ("x**y", "x,y", [_D, (-3.0, 3.0)], ("Pow",), EDGES),
    "2**x": ("2**x", "x", [(-20.0, 20.0)], ("Pow",), EDGES),
    "x**x": ("x**x", "x", [_D], ("Pow",), EDGES),
    "x**(-1/3)": ("x**(-1/3)", "x", [_D], ("Pow",), EDGES),
    "sqrt": ("sqrt(x)", "x", [_D], ("sqrt",), EDGES),
    # one-argument functions
    "Abs": ("Abs(x)", "x", [(-4.0, 4.0)], ("Abs",), EDGES),
    "sign": ("sign(x)", "x", [(-4.0, 4.0)], ("sign",), EDGES),
    "floor": ("floor(x)", "x", [(-4.0, 4.0)], ("floor",), EDGES),
    "ceiling": ("ceiling(x)", "x", [(-4.0, 4.0)], ("ceiling",), EDGES),
    "exp": ("exp(x)", "x", [(-30.0, 30.0)], ("exp",), EDGES),
    "exp2": ("exp2(x)", "x", [(-30.0, 30.0)], ("exp2",), EDGES),
    "expm1": ("expm1(x)", "x", [(-20.0, 20.0)], ("expm1",), EDGES),
    "log": ("log(x)", "x", [(0.01, 1e4)], ("log",), EDGES),
    "log2": ("log2(x)", "x", [(0.01, 1e4)], ("log2",), EDGES),
    "log10": ("log10(x)", "x", [(0.01, 1e4)], ("log10",), EDGES),
    "log1p": ("log1p(x)", "x", [(-0.9, 1e3)], ("log1p",), EDGES),
    "sin": ("sin(x)", "x", [(-3.0, 3.0)], ("sin",), EDGES),
    "cos": ("cos(x)", "x", [(-1.4, 1.4)], ("cos",), EDGES),
    "tan": ("tan(x)", "x", [(-1.4, 1.4)], ("tan",), EDGES),
    "asin": ("asin(x)", "x", [(-0.99, 0.99)], ("asin",), EDGES),
    "acos": ("acos(x)", "x", [(-0.99, 0.99)], ("acos",), EDGES),
    "atan": ("atan(x)", "x", [(-50.0, 50.0)], ("atan",), EDGES),
    "sinh": ("sinh(x)", "x", [(-20.0, 20.0)], ("sinh",), EDGES),
    "cosh": ("cosh(x)", "x", [(-20.0, 20.0)], ("cosh",), EDGES),
    "tanh": ("tanh(x)", "x", [(-5.0, 5.0)], ("tanh",), EDGES),
    "asinh": ("asinh(x)", "x", [(-50.0, 50.0)], ("asinh",), EDGES),
    "acosh": ("acosh(x)", "x", [(1.01, 50.0)], ("acosh",), EDGES),
    "atanh": ("atanh(x)", "x", [(-0.95, 0.95)], ("atanh",), EDGES),
    "erf": ("erf(x)", "x", [(-3.0, 3.0)], ("erf",), EDGES),
    "erfc": ("erfc(x)", "x", [(-3.0, 8.0)], ("erfc",), EDGES),
    "gamma": ("gamma(x)", "x", [(0.1, 20.0)], ("gamma",), NO_POLES),
    "loggamma": ("loggamma(x)", "x", [(2.5, 30.0)], ("loggamma",), NO_POLES),
    # two-argument functions, and with a constant operand (a constant argument of a
    # function called through a wrapper is what IPO passes used to strip)
    "atan2": ("atan2(x, y)", "x,y", [(-4.0, 4.0), (-4.0, 4.0)], ("atan2",), EDGES),
    "atan2(x, 2)": ("atan2(x, 2)", "x", [(-4.0, 4.0)], ("atan2",), EDGES),
    "atan2(3, x)": ("atan2(3, x)", "x", [(-4.0, 4.0)], ("atan2",), EDGES),
    "hypot": ("hypot(x, y)", "x,y", [(-4.0, 4.0), (-4.0, 4.0)], ("hypot",), EDGES),
    "hypot(x, 3)": ("hypot(x, 3)", "x", [(-4.0, 4.0)], ("hypot",), EDGES),
    "Min": ("Min(x, y)", "x,y", [(-4.0, 4.0), (-4.0, 4.0)], ("Min",), EDGES),
    "Max": ("Max(x, y)", "x,y", [(-4.0, 4.0), (-4.0, 4.0)], ("Max",), EDGES),
    "Max(x, 1)": ("Max(x, 1)", "x", [(-4.0, 4.0)], ("Max",), EDGES),
    # comparisons and logic (only as Piecewise conditions: outputs are numbers)
    "Piecewise": ("Piecewise((x, (x < y) & (y <= 2)), (y, (x > 2) | Ne(x, y)), (-1, Eq(x, y)), "
                  "(2, True))", "x,y", [(-4.0, 4.0), (-4.0, 4.0)],
                  ("Piecewise", "And", "StrictLessThan", "LessThan", "Or", "StrictGreaterThan",
                   "Unequality", "Equality"), EDGES),
    "Not": ("Piecewise((x*y, ~((x >= 1) & (y > 0.5))), (y - x, True))", "x,y",
            [(-4.0, 4.0), (-4.0, 4.0)], ("Not", "GreaterThan", "And", "StrictGreaterThan"), EDGES),
}
# Min/Max follow C fmin/fmax (a NaN operand is ignored), documented in codegen.program
_REFERENCE_MODULES = [{"minimum": np.fmin, "maximum": np.fmax}, "scipy", "numpy"]


def grid() -> list[tuple[str, str, str]]:
    """Every (case label, math mode, dtype)."""
    return [(label, m, dtype) for label in CASES for m in MATHS for dtype in DTYPES]


def inputs(label: str, dtype: str) -> list[np.ndarray]:
    """Random points in the case's domains, then its edge values (all pairs for two args)."""
    _, args, domains, _, edges = CASES[label]
    rng = np.random.default_rng(zlib.crc32(label.encode()))
    points = [rng.uniform(low, high, POINTS) for low, high in domains]
    if len(domains) == 1:
        tails = [np.array(edges)]
    else:
        tails = [np.repeat(edges, len(edges)), np.tile(edges, len(edges))]
    return [np.concatenate([p, t]).astype(dtype) for p, t in zip(points, tails)]


def check(label: str, math_mode: str, dtype: str) -> str | None:
    """Compile one case and compare it with lambdify; None when it agrees, else why not."""
    from codegen.program import parse_args, parse_exprs

    text, args, _, _, _ = CASES[label]
    kernel = codegen.compile(text, args, dtype=dtype, math=math_mode)
    xs = inputs(label, dtype)
    got = np.asarray(kernel(*xs), dtype=np.float64)
    names = parse_args(args)
    (expr,), _ = parse_exprs(text, names)
    reference = sympy.lambdify(sympy.symbols(names), expr, modules=_REFERENCE_MODULES)
    with np.errstate(all="ignore"):
        expected = np.broadcast_to(reference(*[x.astype(np.float64) for x in xs]), got.shape)
        expected = np.asarray(expected, dtype=np.float64).astype(dtype).astype(np.float64)
        rtol = RTOL[dtype]
        bad = np.isnan(got) != np.isnan(expected)
        infinite = np.isinf(got) | np.isinf(expected)
        bad |= infinite & ~np.isnan(expected) & (got != expected)
        finite = np.isfinite(got) & np.isfinite(expected)
        bad |= finite & ~(np.abs(got - expected) <= rtol * np.abs(expected) + rtol)
    if not bad.any():
        return None
    where = np.flatnonzero(bad)[:4]
    samples = ", ".join(f"{tuple(float(x[k]) for x in xs)} -> {got[k]!r} (numpy {expected[k]!r})"
                        for k in where)
    return f"{int(bad.sum())} of {bad.size} points differ: {samples}"


def _worker(start: int) -> None:
    """Run the grid from ``start``; one JSON line per case start and result, on stdout.

    Where a math mode gives the same (unoptimised) LLVM IR as a mode already checked --
    a case without math functions, or one the modes implement alike -- it is the same
    kernel, and its result is reused instead of compiling it again.
    """
    checked: dict[tuple[str, str, str], str | None] = {}
    for index, (label, math_mode, dtype) in enumerate(grid()):
        if index < start:
            continue
        print("@@" + json.dumps({"index": index}), flush=True)
        try:
            text, args = CASES[label][:2]
            ir = codegen.emit_llvm_ir(text, args, dtype, math=math_mode, optimize=False)
            if (label, dtype, ir) not in checked:
                checked[label, dtype, ir] = check(label, math_mode, dtype)
            failure = checked[label, dtype, ir]
        except Exception as exc:  # a clear Python exception is still a failure of the grid
            failure = f"raised {type(exc).__name__}: {exc}"
        print("@@" + json.dumps({"index": index, "failure": failure}), flush=True)


def run_grid(max_restarts: int = 30) -> dict[int, str | None]:
    """The result of every grid case (None = agrees), running the worker subprocesses."""
    cases = grid()
    results: dict[int, str | None] = {}
    start = 0
    env = {k: v for k, v in os.environ.items() if k != "PYTHONFAULTHANDLER"}  # keep LLVM's message
    for _ in range(max_restarts + 1):
        proc = subprocess.run([sys.executable, os.path.abspath(__file__), "--worker", str(start)],
                              capture_output=True, text=True, timeout=300, env=env)
        running = None
        for line in proc.stdout.splitlines():
            if not line.startswith("@@"):
                continue
            record = json.loads(line[2:])
            if "failure" in record:
                results[record["index"]] = record["failure"]
                running = None
            else:
                running = record["index"]
        if proc.returncode == 0 and running is None:
            break
        tail = " | ".join(proc.stderr.strip().splitlines()[-3:])
        message = f"killed the process (exit status {proc.returncode}): {tail}"
        if running is None:  # died outside a case: nothing more can run
            for index in range(len(cases)):
                results.setdefault(index, message)
            break
        results[running] = message
        start = running + 1
        if start >= len(cases):
            break
    for index in range(len(cases)):
        results.setdefault(index, "not run (too many crashes before it)")
    return results


class TestDifferential:
    """Every case of the grid compiles (nothing aborts the process) and matches NumPy."""

    @pytest.fixture(scope="class")
    def results(self):
        return run_grid()

    @pytest.mark.parametrize("dtype", DTYPES)
    @pytest.mark.parametrize("math_mode", MATHS)
    def test_grid_matches_numpy(self, results, math_mode, dtype):
        failures = [f"{label}: {results[index]}"
                    for index, (label, m, d) in enumerate(grid())
                    if m == math_mode and d == dtype and results[index] is not None]
        assert not failures, "\n".join(failures)

    def test_grid_covers_every_supported_function(self):
        covered = {name for case in CASES.values() for name in case[3]}
        assert set(codegen.supported_functions()) <= covered

    def test_libmvec_pow_with_a_constant_exponent_is_vectorised(self, results):
        """The reported crash: x**(1/3) with math="libmvec" (pow's constant exponent was
        stripped from its vector-function wrapper).  In process once the grid has shown
        that it no longer aborts."""
        from codegen import jit

        crashed = [(label, m, d) for index, (label, m, d) in enumerate(grid())
                   if label == "x**(1/3)" and "killed the process" in (results[index] or "")]
        assert not crashed, crashed
        for dtype in DTYPES:
            if jit.libmvec_name("pow" if dtype == "float64" else "powf", 2, dtype) is None:
                continue
            kernel = codegen.compile("x**(1/3)", "x", dtype=dtype, math="libmvec")
            assert "_ZGVdN" in kernel.llvm_ir and "vector.body" in kernel.llvm_ir
            x = np.array([0.125, 8.0, 27.0, -1.0] * 5, dtype)
            np.testing.assert_allclose(kernel(x)[:3], [0.5, 2.0, 3.0], rtol=RTOL[dtype])
            assert np.isnan(kernel(x)[3])


    def test_an_invalid_optimised_module_is_a_python_exception(self):
        """jit.optimize verifies its result: the old internal wrapper, whose constant
        argument the optimiser strips, raises instead of reaching LLVM's abort()."""
        from codegen import jit, lower
        from codegen.program import build

        program, _ = build("atan2(x, 2)", "x")
        text = str(lower.build_module(program, "libmvec"))
        if "codegen.libmvec.atan2" not in text:
            pytest.skip("no glibc vector atan2 on this host")
        jit.optimize(text)
        with pytest.raises(RuntimeError, match="invalid module.*VFABI"):
            jit.optimize(text.replace("linkonce_odr hidden", "internal"))


# ------------------------------------------------------------- evaluation order

A, B, C = sympy.symbols("a b c")
HERON = sympy.sqrt((A + B + C) * (-A + B + C) * (A - B + C) * (A + B - C)) / 4


def heron_points(dtype: str, n: int = 2000) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Thin triangles: a = b = 1 and c = 1e-4 * uniform(0, 1) (the reported case), then
    a, b within 8 ULP of 1 and c = 1e-4 * uniform(0.5, 1)."""
    rng = np.random.default_rng(11)
    eps = np.finfo(dtype).eps
    a = np.concatenate([np.ones(n), 1 + eps * rng.integers(-8, 9, n)])
    b = np.concatenate([np.ones(n), 1 + eps * rng.integers(-8, 9, n)])
    c = 1e-4 * np.concatenate([rng.uniform(0.0, 1.0, n), rng.uniform(0.5, 1.0, n)])
    return a.astype(dtype), b.astype(dtype), c.astype(dtype)


def exact_heron(a, b, c, dtype: str) -> np.ndarray:
    """Heron's formula in 50-digit arithmetic on the (exactly converted) inputs, rounded."""
    with mpmath.workdps(50):
        values = [mpmath.sqrt((x + y + z) * (-x + y + z) * (x - y + z) * (x + y - z)) / 4
                  for x, y, z in zip(*(map(mpmath.mpf, v.astype(np.float64).tolist())
                                       for v in (a, b, c)))]
        return np.array([float(v) for v in values]).astype(dtype)


def ulps(got, exact) -> np.ndarray:
    """|got - exact| in units of the last place of ``exact`` (both of one float dtype)."""
    got, exact = np.asarray(got), np.asarray(exact)
    spacing = np.spacing(np.abs(exact))
    return np.abs(got.astype(np.float64) - exact.astype(np.float64)) / spacing.astype(np.float64)


class TestSummationOrder:
    """Sums and products are evaluated in the expression's printed order (lambdify's)."""

    @pytest.mark.parametrize("dtype", DTYPES)
    def test_heron_thin_triangles_no_less_accurate_than_numpy(self, dtype):
        a, b, c = heron_points(dtype)
        exact = exact_heron(a, b, c, dtype)
        kernel = codegen.compile(HERON, [A, B, C], dtype=dtype)(a, b, c)
        numpy_fn = sympy.lambdify((A, B, C), HERON, "numpy")
        with np.errstate(all="ignore"):
            reference = numpy_fn(a, b, c)
        assert reference.dtype == np.dtype(dtype)
        kernel_ulps, numpy_ulps = ulps(kernel, exact).max(), ulps(reference, exact).max()
        assert np.isfinite(numpy_ulps) and numpy_ulps > 0  # the points are ill-conditioned
        assert kernel_ulps <= numpy_ulps, (dtype, kernel_ulps, numpy_ulps)


    def test_sums_follow_the_printed_order(self):
        """``a - b + c`` is ``(a - b) + c`` as NumPy computes it, not ``(a + c) - b``."""
        expr = A - B + C
        assert str(expr) == "a - b + c"
        a, b, c = np.array([1.0]), np.array([1.0]), np.array([1e-17])
        numpy_fn = sympy.lambdify((A, B, C), expr, "numpy")
        assert numpy_fn(a, b, c)[0] == 1e-17
        assert codegen.compile(expr, [A, B, C])(a, b, c)[0] == 1e-17

    @pytest.mark.parametrize("dtype", DTYPES)
    def test_arithmetic_is_lambdify_bit_for_bit(self, dtype):
        """Random ``+ - * /`` expressions of symbols and rationals: the program (which every
        form, the kernel included, follows) rounds exactly as lambdify's NumPy code."""
        from codegen.ops import OPS, resolve
        from codegen.program import build

        symbols = sympy.symbols("w x y z")
        leaves = [*symbols, *symbols, sympy.Integer(2), sympy.Integer(-3), sympy.Integer(5),
                  sympy.Rational(1, 2), sympy.Rational(3, 4)]
        rng = np.random.default_rng(5)

        def random_expr(depth):
            if depth == 0 or rng.random() < 0.25:
                return leaves[rng.integers(len(leaves))]
            a, b = random_expr(depth - 1), random_expr(depth - 1)
            op = "+-*/"[rng.integers(4)]
            return a + b if op == "+" else a - b if op == "-" else a * b if op == "*" else a / b

        def lookup(op):
            if op == "const":
                return lambda v: np.asarray(v, dtype=dtype)
            return resolve(OPS[op].numpy)

        def divides_by_constant(e):  # (1/q)*x is computed x/q: more accurate, by design
            return any(m.is_Mul and len(m.args) == 2 and m.args[0].is_Rational
                       and abs(m.args[0].p) == 1 and m.args[0].q & (m.args[0].q - 1)
                       for m in sympy.preorder_traversal(e))

        inputs = [rng.uniform(-3, 3, 64).astype(dtype) for _ in symbols]
        compared = 0
        for _ in range(300):
            e = random_expr(4)
            if (not e.free_symbols or divides_by_constant(e)
                    or any(p.exp.is_Integer and abs(p.exp) > 2 for p in e.atoms(sympy.Pow))):
                continue  # integer powers: repeated squaring, by design
            with np.errstate(all="ignore"):
                got = build(e, symbols, dtype)[0].evaluate(inputs, lookup)[0]
                expected = sympy.lambdify(symbols, e, "numpy")(*inputs)
            got, expected = (np.broadcast_to(np.asarray(v, dtype), (64,)) for v in (got, expected))
            assert np.array_equal(got, expected, equal_nan=True), e
            compared += 1
        assert compared > 150


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--worker":
        _worker(int(sys.argv[2]))
    else:
        sys.exit(f"usage: {sys.argv[0]} --worker START")
