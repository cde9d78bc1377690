"""codegen JIT kernels: differential tests against a NumPy + libm evaluation, and the API.

The reference walks the same straight-line program (codegen.program) with NumPy for
arithmetic and the C library (through ctypes) for exp, sin..., so ``math="libm"``
kernels must agree bit for bit (we allow 1 ULP for LLVM's exact libcall rewrites such as
pow(2, y) -> exp2(y)); NaN equals NaN and -0 equals +0.  ``math="libmvec"`` kernels call
glibc's vector functions (libmvec) where it has them: tested within 4 ULP per function.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import math
import re
import warnings

import mpmath
import numpy as np
import pytest
import sympy
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import codegen
from codegen.ops import OPS, resolve
from codegen.program import build

LIBM = ctypes.CDLL(ctypes.util.find_library("m"))
X, Y, Z = sympy.symbols("x y z")


def _libm_function(name: str, arity: int, dtype: str):
    ctype = ctypes.c_double if dtype == "float64" else ctypes.c_float
    fn = getattr(LIBM, name if dtype == "float64" else name + "f")
    fn.restype, fn.argtypes = ctype, [ctype] * arity
    vectorised = np.frompyfunc(fn, arity, 1)
    return lambda *a: np.asarray(vectorised(*a), dtype=object).astype(dtype)


def reference(exprs, args, dtype, inputs):
    """NumPy/libm evaluation of codegen's program for ``exprs`` (list of arrays)."""
    program, _ = build(exprs, args, dtype)

    def lookup(op):
        if op == "const":
            return lambda v: np.asarray(v, dtype=dtype)
        kind, detail = OPS[op].llvm
        if kind == "libm":
            return _libm_function(detail, OPS[op].arity, dtype)
        return resolve(OPS[op].numpy)

    with np.errstate(all="ignore"):
        values = program.evaluate([np.asarray(a, dtype) for a in inputs], lookup)
    n = len(inputs[0])
    return [np.broadcast_to(np.asarray(v, dtype), (n,)) for v in values]


def ulp_distance(a, b) -> np.ndarray:
    """Elementwise distance in units in the last place; NaN==NaN is 0, NaN vs number is inf."""
    a, b = np.asarray(a), np.asarray(b)
    itype = np.int64 if a.dtype == np.float64 else np.int32
    mask = np.iinfo(itype).max

    def ordered(v):
        bits = v.view(itype).astype(np.int64)
        return np.where(bits < 0, -(bits & mask), bits)

    distance = np.abs(ordered(a) - ordered(b)).astype(float)
    nan_a, nan_b = np.isnan(a), np.isnan(b)
    distance[nan_a & nan_b] = 0
    distance[nan_a ^ nan_b] = np.inf
    return distance


# ---------------------------------------------------------------- random expressions

UNARY = [
    sympy.sin, sympy.cos, sympy.tan, sympy.exp, sympy.log, sympy.sqrt, sympy.tanh, sympy.sinh,
    sympy.cosh, sympy.asin, sympy.acos, sympy.atan, sympy.Abs, sympy.sign, sympy.floor,
    sympy.ceiling, sympy.erf, lambda a: -a, lambda a: a**2, lambda a: a**3, lambda a: 1 / a,
    lambda a: a**sympy.Rational(1, 2), lambda a: a**-0.5, lambda a: a**5,
]
BINARY = [
    lambda a, b: a + b, lambda a, b: a - b, lambda a, b: a * b, lambda a, b: a / b,
    lambda a, b: a**b, sympy.atan2, sympy.Min, sympy.Max,
    lambda a, b: sympy.Piecewise((a, a < b), (b, True)),
]
LEAVES = st.sampled_from([X, Y, Z, X, Y, Z, sympy.Integer(2), sympy.Rational(1, 3),
                          sympy.Float(0.75), sympy.pi, sympy.E, sympy.Integer(-3)])


def _apply(fn, *operands):
    try:
        return fn(*operands)
    except (ValueError, TypeError, ZeroDivisionError):
        return operands[0]


expressions = st.recursive(
    LEAVES,
    lambda children: st.one_of(
        st.builds(_apply, st.sampled_from(UNARY), children),
        st.builds(_apply, st.sampled_from(BINARY), children, children),
    ),
    max_leaves=7,
)

EDGES = {
    "float64": [0.0, -0.0, math.inf, -math.inf, math.nan, 5e-324, -5e-324, 2.2250738585072014e-308,
                1.7976931348623157e308, -1.7976931348623157e308, 1e-300, 1.0, -1.0, 0.5, 2.0,
                3.141592653589793, 700.0, -745.0, 1e15],
    "float32": [0.0, -0.0, math.inf, -math.inf, math.nan, 1e-45, -1e-45, 1.1754943508222875e-38,
                3.4028234663852886e38, -3.4028234663852886e38, 1e-30, 1.0, -1.0, 0.5, 2.0,
                3.1415927410125732, 88.0, -103.0, 1e7],
}
LENGTH = 23  # longer than a vector (4/8/16 lanes) and not a multiple of one


def arrays(dtype):
    width = 64 if dtype == "float64" else 32
    element = st.one_of(st.sampled_from(EDGES[dtype]), st.floats(width=width),
                        st.floats(-10, 10, width=width))
    return st.lists(element, min_size=LENGTH, max_size=LENGTH).map(lambda v: np.array(v, dtype))


def _differential(dtype, expr, x, y, z):
    try:
        kernel = codegen.compile(expr, "x,y,z", dtype=dtype, math="libm")
    except codegen.UnsupportedError:  # e.g. a constant folded to complex infinity
        assume(False)
    got = kernel(x, y, z)
    (expected,) = reference([expr], "x,y,z", dtype, [x, y, z])
    distance = ulp_distance(got, expected)
    bad = np.flatnonzero(distance > 1)
    assert bad.size == 0, (f"{expr}: at x={x[bad]}, y={y[bad]}, z={z[bad]}: "
                           f"kernel {got[bad]} vs reference {expected[bad]}")


@settings(max_examples=120, derandomize=True, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(expressions, arrays("float64"), arrays("float64"), arrays("float64"))
def test_random_expressions_match_libm_reference_float64(expr, x, y, z):
    _differential("float64", expr, x, y, z)


@settings(max_examples=80, derandomize=True, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(expressions, arrays("float32"), arrays("float32"), arrays("float32"))
def test_random_expressions_match_libm_reference_float32(expr, x, y, z):
    _differential("float32", expr, x, y, z)


# ------------------------------------------------ every supported function vs lambdify

FUNCTIONS = [
    "sin(x) + cos(y)", "tan(x/4)", "exp(x) - log(y)", "sqrt(x*y)", "tanh(x) + sinh(y) * cosh(x)",
    "asin(x/5) + acos(y/5) + atan(x*y)", "atan2(x - 2, y - 2)", "Abs(x - 2) + sign(y - 2)",
    "floor(x*3) + ceiling(y*3)", "Min(x, y, 2) + Max(x, 1)", "erf(x - 2) + erfc(y - 2)",
    "gamma(x) + loggamma(y)", "asinh(x) + acosh(y + 1) + atanh(x/5 - 0.1)", "x**y + y**(-2.5)",
    "(x**3 - y**-1) / (x**0.5 + y**(3/2))", "Piecewise((x, x < y), (y**2, x < 3), (-1, True))",
    "pi*x + E*y + 1/3", "x**7 - y**-4",
]


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("text", FUNCTIONS)
def test_supported_functions_match_lambdify(text, dtype):
    rng = np.random.default_rng(0)
    x = rng.uniform(0.2, 4.5, 101).astype(dtype)
    y = rng.uniform(0.2, 4.5, 101).astype(dtype)
    expr = sympy.sympify(text, locals={"x": X, "y": Y})
    numpy_fn = sympy.lambdify((X, Y), expr, modules=["scipy", "numpy"])
    expected = np.broadcast_to(numpy_fn(x.astype(float), y.astype(float)), x.shape)
    got = codegen.compile(text, "x,y", dtype=dtype)(x, y)
    assert got.dtype == np.dtype(dtype)
    rtol = 1e-12 if dtype == "float64" else 3e-5
    np.testing.assert_allclose(got, expected, rtol=rtol, atol=rtol)


# ---------------------------------------------- libmvec mode: glibc's vector functions

LIBMVEC_CASES = {  # name: (arity, domain of x, domain of y)
    "exp": (1, (-700.0, 700.0)), "log": (1, (1e-300, 1e300)), "sin": (1, (-1e4, 1e4)),
    "cos": (1, (-1e4, 1e4)), "tan": (1, (-1e3, 1e3)), "asin": (1, (-1.0, 1.0)),
    "acos": (1, (-1.0, 1.0)), "atan": (1, (-1e6, 1e6)), "sinh": (1, (-80.0, 80.0)),
    "cosh": (1, (-80.0, 80.0)), "tanh": (1, (-20.0, 20.0)), "asinh": (1, (-1e6, 1e6)),
    "acosh": (1, (1.0, 1e6)), "atanh": (1, (-0.999, 0.999)), "erf": (1, (-6.0, 6.0)),
    "erfc": (1, (-6.0, 9.0)), "exp2": (1, (-100.0, 100.0)), "log2": (1, (1e-30, 1e30)),
    "log10": (1, (1e-30, 1e30)), "expm1": (1, (-40.0, 40.0)), "log1p": (1, (-0.99, 1e6)),
    "pow": (2, (0.01, 100.0), (-30.0, 30.0)), "atan2": (2, (-10.0, 10.0), (-10.0, 10.0)),
    "hypot": (2, (-1e3, 1e3), (-1e3, 1e3)),
}
SPECIAL = [0.0, -0.0, math.inf, -math.inf, math.nan, 1.0, -1.0, 0.5, 2.0]


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("name", sorted(LIBMVEC_CASES))
def test_libmvec_mode_functions_within_4_ulp_of_libm(name, dtype):
    """glibc's libmvec (math="libmvec" in vector loops) vs its scalar libm."""
    from codegen import jit

    arity, *domains = LIBMVEC_CASES[name]
    c_name = name if dtype == "float64" else name + "f"
    if jit.libmvec_name(c_name, arity, dtype) is None:
        pytest.skip(f"no glibc vector variant of {c_name} on this host")
    rng = np.random.default_rng(3)
    args = [np.concatenate([rng.uniform(low, high, 3001), SPECIAL]).astype(dtype)
            for low, high in domains]
    if arity == 2:  # the special values against every other
        args = [np.concatenate([a, np.repeat(SPECIAL, len(SPECIAL))]).astype(dtype) for a in args]
        args[1][-len(SPECIAL) ** 2:] = np.tile(SPECIAL, len(SPECIAL))
    names = ",".join("xy"[:arity])
    text = f"{name}({names})"
    kernel = codegen.compile(text, names, dtype=dtype, math="libmvec")
    assert "_ZGVdN" in kernel.llvm_ir and "vector.body" in kernel.llvm_ir
    assert "_ZGVdN" not in codegen.compile(text, names, dtype=dtype).llvm_ir  # libm: exact, scalar
    got = kernel(*args)
    expected = codegen.compile(text, names, dtype=dtype, math="libm")(*args)
    with np.errstate(invalid="ignore"):
        assert np.array_equal(np.isnan(got), np.isnan(expected))
        assert np.array_equal(np.isinf(got), np.isinf(expected))
    finite = np.isfinite(expected)
    assert ulp_distance(got[finite], expected[finite]).max() <= 4
    # every element goes through the same vector function, in the loop body or the remainder
    for start, stop in ((0, 3), (1, 12), (5, 3001)):
        part = kernel(*[a[start:stop] for a in args])
        assert np.array_equal(part, got[start:stop], equal_nan=True)


# ----------------------------------------------------------------------- fast math

def _fast_cases():
    from codegen import fastmath

    cases = {
        "exp": {"float64": [(-740.0, 709.0)], "float32": [(-103.0, 88.7)]},
        "exp2": {"float64": [(-1070.0, 1023.0)], "float32": [(-148.0, 127.0)]},
        "log": {"float64": [(1e-310, 1e300)], "float32": [(1e-44, 3e38)]},
        "log2": {"float64": [(1e-310, 1e300)], "float32": [(1e-44, 3e38)]},
        "sin": {"float64": [(-1e4, 1e4)], "float32": [(-1e4, 1e4)]},
        "cos": {"float64": [(-1e4, 1e4)], "float32": [(-1e4, 1e4)]},
        "tan": {"float64": [(-1e4, 1e4)], "float32": [(-1e4, 1e4)]},
        "atan": {"float64": [(-1e6, 1e6)], "float32": [(-1e6, 1e6)]},
        "sinh": {"float64": [(-700.0, 700.0)], "float32": [(-88.0, 88.0)]},
        "cosh": {"float64": [(-700.0, 700.0)], "float32": [(-88.0, 88.0)]},
        "tanh": {"float64": [(-30.0, 30.0)], "float32": [(-12.0, 12.0)]},
    }
    return [(name, dtype, bounds) for name, per in cases.items() if name in fastmath.SUPPORTED
            for dtype, bounds in per.items()]


def _reference_values(name, dtype, x):
    """The correctly rounded value but for rare ties: x87 long double (float64 kernels; glibc's
    double tanh, sinh, cosh are up to 2 ULP off) or libm in float64 (float32 kernels)."""
    if dtype == "float64":
        from codegen import fastmath_check

        return fastmath_check.reference(name, "float64", x).astype(dtype)
    values = _libm_function(name, 1, "float64")(x.astype(np.float64))
    return values.astype(dtype)


def _outside_libm_fixup(function_ir: str) -> str:
    """The lines of an IR function outside its basic blocks labelled ``libm.*``
    (:func:`codegen.lower._emit_libm_fixup`)."""
    kept, inside = [], False
    for line in function_ir.splitlines():
        label = re.match(r'^"?([\w.\-]+)"?:', line)
        if label:
            inside = label.group(1).startswith("libm.")
        if not inside:
            kept.append(line)
    return "\n".join(kept)


@pytest.mark.parametrize("name,dtype,bounds", _fast_cases())
def test_fast_math_functions_within_ulp_bounds(name, dtype, bounds):
    from codegen import fastmath

    rng = np.random.default_rng(1)
    low, high = bounds[0]
    if name in ("log", "log2"):
        x = np.exp(rng.uniform(np.log(low), np.log(high), 4000))
    else:
        x = rng.uniform(low, high, 4000)
    x = np.concatenate([x, rng.uniform(-3, 3, 1000)]).astype(dtype)
    if name in ("log", "log2"):
        x = np.abs(x)
    kernel = codegen.compile(f"{name}(x)", "x", dtype=dtype, math="fast")
    body = _outside_libm_fixup(kernel.loop_ir())
    # inlined: no libm call left (the scalar remainder's ldexp on AVX-512 hosts is
    # codegen.bits' wrapper of the vectorised loop's vscalef; sin/cos/tan's kernels call
    # libm only in the loop that recomputes NaN outputs, which runs after the others)
    assert not re.search(r"call [^@]*@(?!llvm\.|\"?codegen\.avx512\.)", body)
    assert "vector.body" in kernel.llvm_ir  # no scalar libm call blocks the vectoriser
    distance = ulp_distance(kernel(x), _reference_values(name, dtype, x))
    # the bound is against the exact value; the reference is that value rounded (0.5 ULP)
    allowed = fastmath.ULP_BOUNDS[(name, dtype)] + 0.5
    assert distance.max() <= allowed, (name, dtype, distance.max(), x[np.argmax(distance)])


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_fast_math_pow_within_ulp_bounds(dtype):
    from codegen import fastmath

    if "pow" not in fastmath.SUPPORTED:
        pytest.skip("fastmath has no pow")
    rng = np.random.default_rng(2)
    x = np.exp(rng.uniform(-6, 6, 4000)).astype(dtype)
    y = rng.uniform(-12, 12, 4000).astype(dtype)
    got = codegen.compile("x**y", "x,y", dtype=dtype, math="fast")(x, y)
    expected = np.array([math.pow(a, b) for a, b in zip(x.astype(float), y.astype(float))]).astype(dtype)
    finite = np.isfinite(expected) & (expected != 0)
    allowed = fastmath.ULP_BOUNDS[("pow", dtype)] + (1 if dtype == "float64" else 0.5)
    assert ulp_distance(got[finite], expected[finite]).max() <= allowed


def test_fast_math_compound_expression_close_to_libm():
    rng = np.random.default_rng(3)
    x, y = rng.uniform(0.1, 5, 1000), rng.uniform(0.1, 5, 1000)
    text = "x*sin(y) + exp(-x**2) + log(x*y) * cos(x) + x**y"
    fast = codegen.compile(text, "x,y", math="fast")(x, y)
    np.testing.assert_allclose(fast, codegen.compile(text, "x,y")(x, y), rtol=1e-13, atol=1e-14)


# ------------------------------------------------------------------------- the API

def test_several_outputs_share_subexpressions():
    exprs = ["exp(-x**2) * y", "exp(-x**2) + sin(y)", "x"]
    kernel = codegen.compile(exprs, ["x", "y"])
    assert [ins.op for ins in kernel.program.instrs].count("exp") == 1
    x, y = np.linspace(-2, 2, 50), np.linspace(0, 3, 50)
    a, b, c = kernel(x, y)
    for got, text in zip((a, b, c), exprs):
        np.testing.assert_array_equal(got, codegen.compile(text, "x,y")(x, y))


def test_out_argument_and_return_values():
    kernel = codegen.compile(["x + y", "x * y"], "x,y")
    x, y = np.arange(10.0), np.full(10, 2.0)
    out = (np.empty(10), np.empty(10))
    result = kernel(x, y, out=out)
    assert result[0] is out[0] and result[1] is out[1]
    np.testing.assert_array_equal(out[0], x + y)
    np.testing.assert_array_equal(out[1], x * y)
    single = codegen.compile("x - y", "x,y")
    target = np.empty(10)
    assert single(x, y, out=target) is target
    np.testing.assert_array_equal(target, x - y)


def test_out_may_alias_an_input():
    kernel = codegen.compile("x*x + y", "x,y")
    x, y = np.arange(8.0), np.ones(8)
    expected = x * x + y
    kernel(x, y, out=x)
    np.testing.assert_array_equal(x, expected)
    z = np.arange(9.0)
    kernel(z[1:], z[:-1].copy(), out=z[:-1])  # partial overlap
    np.testing.assert_array_equal(z[:-1], np.arange(1.0, 9.0) ** 2 + np.arange(8.0))


def test_scalars_broadcast_and_shapes():
    kernel = codegen.compile("a*x + b", "a,x,b")
    x = np.linspace(0, 1, 12)
    np.testing.assert_array_equal(kernel(2.0, x, 1), 2.0 * x + 1)
    assert kernel(2.0, 3.0, 1.0) == 7.0
    grid = np.arange(12.0).reshape(3, 4)
    assert kernel(grid, grid, 0.5).shape == (3, 4)
    strided = np.arange(24.0)[::2]  # not contiguous: copied
    np.testing.assert_array_equal(kernel(1.0, strided, 0.0), strided)
    assert kernel(np.zeros(0), np.zeros(0), np.zeros(0)).shape == (0,)


def test_dtype_and_shape_errors():
    kernel = codegen.compile("x + y", "x,y", dtype="float32")
    x = np.ones(5, np.float32)
    with pytest.raises(TypeError, match="float64.*float32"):
        kernel(x, np.ones(5))
    with pytest.raises(ValueError, match="shape"):
        kernel(x, np.ones(6, np.float32))
    with pytest.raises(TypeError, match="takes 2 arguments"):
        kernel(x)
    with pytest.raises(TypeError, match="real scalar"):
        kernel(x, "3")
    with pytest.raises(TypeError, match="dtype"):
        kernel(x, x, out=np.empty(5))
    with pytest.raises(ValueError, match="shape"):
        kernel(x, x, out=np.empty(4, np.float32))
    with pytest.raises(ValueError, match="contiguous"):
        kernel(x, x, out=np.empty(10, np.float32)[::2])
    with pytest.raises(ValueError, match="dtype"):
        codegen.compile("x", "x", dtype="int32")
    with pytest.raises(TypeError, match="args must be names as a string"):
        codegen.compile("x", 3)
    x_symbol = sympy.Symbol("x")
    np.testing.assert_array_equal(codegen.compile(2 * x_symbol, x_symbol)(np.ones(3)), 2.0)   # one Symbol
    # a scalar beyond float32's range rounds to inf without NumPy's overflow warning
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert kernel(np.ones(2, np.float32), 1e300)[0] == np.inf


def test_native_fast_path_rejects_what_it_must_not_compute():
    """The trampoline's checks: anything it refuses goes to the general path, which
    computes it correctly or raises the clear error."""
    kernel = codegen.compile("x - y", "x,y")
    a, b = np.arange(6.0), np.ones(6)
    # same size, other shape: an error, not a computation over 6 elements
    with pytest.raises(ValueError, match="shape"):
        kernel(a.reshape(2, 3), b.reshape(3, 2))
    with pytest.raises(ValueError, match="shape"):
        kernel(a.reshape(2, 3), b.reshape(2, 3), out=np.empty((3, 2)))
    frozen = np.empty(6)
    frozen.flags.writeable = False
    with pytest.raises(ValueError, match="writeable"):
        kernel(a, b, out=frozen)
    with pytest.raises(TypeError, match="dtype"):
        kernel(a.astype(">f8"), b)
    with pytest.raises(TypeError, match="takes 2 arguments"):
        kernel(a, b, b, out=np.empty(6))
    # computed through the general path: a subclass, a Fortran-ordered array, a dtype
    # equal to float64 but a distinct object, a 0-d array and a 0-d out
    class Tagged(np.ndarray):
        pass
    np.testing.assert_array_equal(kernel(a.view(Tagged), b), a - b)
    grid = np.arange(6.0).reshape(2, 3)
    np.testing.assert_array_equal(kernel(np.asfortranarray(grid), grid), np.zeros((2, 3)))
    labelled = np.dtype(np.float64, metadata={"unit": "m"})
    assert labelled == np.float64 and labelled is not np.dtype(np.float64)
    np.testing.assert_array_equal(kernel(a.astype(labelled), b), a - b)
    target = np.empty(6, labelled)
    kernel(a, b, out=target)
    np.testing.assert_array_equal(target, a - b)
    scalar_out = np.empty(())
    assert kernel(np.array(5.0), 2.0, out=scalar_out) is scalar_out and scalar_out[()] == 3.0


def test_never_touches_memory_outside_the_arrays():
    kernel = codegen.compile(["sqrt(x) + y", "x*y"], "x,y")
    for n in (0, 1, 3, 7, 8, 9, 31, 33, 100):
        pad = np.full(n + 40, np.nan)
        x = pad[20:20 + n]
        x[:] = np.arange(n)
        y = np.arange(n, dtype=float)
        guard = np.full(n + 40, -7.0)
        out0, out1 = guard[20:20 + n], np.empty(n)
        kernel(x, y, out=(out0, out1))
        assert np.all(guard[:20] == -7.0) and np.all(guard[20 + n:] == -7.0)
        np.testing.assert_array_equal(out0, np.sqrt(np.arange(n)) + y)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_streaming_path_is_exact_and_stays_inside_the_arrays(monkeypatch, dtype):
    """Large calls stream their outputs (non-temporal stores, blocks through a stack
    buffer); with the threshold lowered, small arrays of every length and alignment
    take that path and must equal the plain path bit for bit."""
    from codegen import lower
    plain = codegen.compile(["exp(x)*y + 1", "x/y"], "x,y", dtype=dtype)
    monkeypatch.setattr(lower, "stream_bytes", lambda: 1)  # every call streams
    streamed = codegen.compile(["exp(x)*y + 1", "x/y"], "x,y", dtype=dtype)
    if lower._streaming_supported():
        assert "!nontemporal" in streamed.llvm_ir
        # one copy of the loops behind a switch: the caller's outputs may stream, fresh
        # ones (not yet faulted in) may not
        assert re.search(r"define internal fastcc void @kernel\.impl\(i64 %n, i1 ", streamed.llvm_ir)
    rng = np.random.default_rng(0)
    for n in (1, 2, 5, 9, 511, 512, 513, 1029, 4100):
        for shift0, shift1 in ((0, 0), (1, 1), (3, 3), (1, 2)):  # output misalignment, elements
            x, y = rng.uniform(-3, 3, n).astype(dtype), rng.uniform(1, 2, n).astype(dtype)
            guard0, guard1 = np.full(n + 16, -7.0, dtype), np.full(n + 16, -7.0, dtype)
            out0, out1 = guard0[8 + shift0:8 + shift0 + n], guard1[8 + shift1:8 + shift1 + n]
            streamed(x, y, out=(out0, out1))
            expected = plain(x, y)
            fresh = streamed(x, y)  # outputs the kernel allocates: the plain path
            np.testing.assert_array_equal(fresh[0], expected[0])
            np.testing.assert_array_equal(out0, expected[0])
            np.testing.assert_array_equal(out1, expected[1])
            for guard, shift in ((guard0, shift0), (guard1, shift1)):
                assert np.all(guard[:8 + shift] == -7.0) and np.all(guard[8 + shift + n:] == -7.0)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_interleaved_loops_compute_the_same_bits(dtype):
    """``interleave=k`` makes the vectorised loop carry k vectors per iteration (k times
    the vector fma calls in the optimised IR, at least twice counting the remainder
    loops) on both the plain and the streaming path; the default is 4 where the loop
    calls inline fast-math functions and LLVM's own choice elsewhere;
    every length, remainders included, gives the bits of the one-vector loop."""
    from codegen.kernel import Kernel
    from codegen.lower import FAST_MATH_INTERLEAVE, default_interleave, stream_bytes

    # (no sin: its kernels add a loop that recomputes arguments beyond its range with libm,
    # which LLVM partly vectorises without the interleave, muddying the count)
    program = codegen.compile("exp(x)*atan(x) + x**3", "x", dtype=dtype).program
    assert default_interleave(program, "fast") == FAST_MATH_INTERLEAVE == 4
    assert default_interleave(program, "libm") is None
    assert default_interleave(codegen.compile("x*x + 1", "x", dtype=dtype).program, "fast") is None
    assert default_interleave(codegen.compile("asin(x)*exp(x)", "x", dtype=dtype).program, "fast") is None
    plain, four = Kernel(program, True, interleave=1), Kernel(program, True)
    vector_fma = r"call (?:fast )?<\d+ x (?:float|double)> @llvm\.fma\.v"
    assert len(re.findall(vector_fma, four.llvm_ir)) >= 2 * len(re.findall(vector_fma, plain.llvm_ir)) > 0
    rng = np.random.default_rng(3)
    big = stream_bytes() // np.dtype(dtype).itemsize + 77
    for n in (1, 3, 63, 64, 65, 1000, 4099, big):
        x = rng.uniform(-3, 3, n).astype(dtype)
        np.testing.assert_array_equal(four(x), plain(x))
    with pytest.raises(ValueError, match="positive integer"):
        Kernel(program, True, interleave=0)


def test_strings_parse_special_names_as_symbols():
    names = ["gamma", "beta", "I", "E", "S", "N", "Q"]
    kernel = codegen.compile("gamma*beta + I + E + S + N + Q", names)
    values = [np.full(3, float(k + 1)) for k in range(len(names))]
    np.testing.assert_array_equal(kernel(*values), 1 * 2 + 3 + 4 + 5 + 6 + 7)


def test_unusual_symbol_names_are_sanitized():
    names = [sympy.Symbol("int"), sympy.Symbol("x.y"), sympy.Symbol("λ"), sympy.Symbol("1a")]
    expr = names[0] * names[1] + names[2] - names[3]
    kernel = codegen.compile(expr, names, name="my kernel!")
    assert kernel.name == "my_kernel"
    assert kernel.program.arg_ids == ("int_", "x_y", "u3bb", "v1a")
    assert kernel(2.0, 3.0, 4.0, 1.0) == 9.0


def test_unsupported_function_error_names_it():
    with pytest.raises(codegen.UnsupportedError, match="function 'besselj' is not supported by codegen; "
                                                       "supported: .*exp"):
        codegen.compile("besselj(0, x)", "x")
    with pytest.raises(codegen.UnsupportedError, match="'foo'"):
        codegen.compile("foo(x)", "x")
    with pytest.raises(ValueError, match="'z', which is not among the args"):
        codegen.compile("x + z", "x")
    with pytest.raises(ValueError, match="cannot parse"):
        codegen.compile("x +* 2", "x")


def test_integer_powers_lower_to_multiplies():
    program = codegen.compile("x**2 + x**3 + x**-1 + x**0.5 + x**-0.5 + x**(5/2)", "x").program
    ops = {ins.op for ins in program.instrs}
    assert "pow" not in ops and {"mul", "div", "sqrt"} <= ops
    text = codegen.emit_llvm_ir("x**3 / y**2", "x,y")
    assert "pow" not in text


@pytest.mark.parametrize("math_mode,bound", [("fast", 1.0), ("libm", 4.0)])
def test_cube_root_is_cbrt_and_closer_to_the_real_root_than_pow(math_mode, bound):
    """``x**(1/3)`` lowers to ``cbrt``: within 1 ULP of the real cube root over the whole
    double range by default (glibc's cbrt: 4 ULP, its documented bound), where NumPy's
    ``x**(1/3)`` (pow with the exponent rounded to 1/3.) is off by about
    ``|log x| * 2**-55`` more (above 4 ULP beyond 1e50)."""
    kernel = codegen.compile("x**(1/3)", "x", math=math_mode)
    assert {ins.op for ins in kernel.program.instrs} >= {"cbrt"} and "pow" not in {
        ins.op for ins in kernel.program.instrs}
    x = np.concatenate([np.logspace(-300, 300, 1201), [8.0, 27.0, 1e-310]])
    with mpmath.workdps(40):
        want = [mpmath.cbrt(mpmath.mpf(float(v))) for v in x]
    ulp = np.spacing(np.array([float(w) for w in want]))

    def err(got):
        return np.array([abs(mpmath.mpf(float(g)) - w) for g, w in zip(got, want)], float) / ulp

    assert err(kernel(x)).max() <= bound
    assert err(np.power(x, 1 / 3))[x > 1e50].min() > 4.0
    if math_mode == "fast":  # glibc's cbrt(27) is 3.0000000000000004, like 27**(1/3.)
        assert kernel(np.array([8.0, 27.0])).tolist() == [2.0, 3.0]


def test_loops_vectorise_and_float32_stays_float():
    kernel = codegen.compile("x*y + sqrt(x*x + y*y) - Abs(x) + floor(y)", "x,y", dtype="float32")
    assert "vector.body" in kernel.llvm_ir
    assert "double" not in kernel.loop_ir()


def test_fastmath_flags_are_opt_in_and_validated():
    plain = codegen.emit_llvm_ir("x*y + z", "x,y,z", optimize=False)
    assert "fmul double" in plain and "contract" not in plain
    flagged = codegen.emit_llvm_ir("x*y + z", "x,y,z", fastmath={"contract"}, optimize=False)
    assert "fmul contract double" in flagged and "fadd contract double" in flagged
    assert "fast" in codegen.emit_llvm_ir("sin(x)", "x", fastmath=True, optimize=False)
    with pytest.raises(ValueError, match="unknown fast-math flag"):
        codegen.compile("x", "x", fastmath={"turbo"})
    with pytest.raises(ValueError, match="math must be one of 'libm', 'libmvec', 'fast'"):
        codegen.compile("x", "x", math="svml")


def test_large_arrays_from_several_threads():
    from concurrent.futures import ThreadPoolExecutor

    from codegen.kernel import GIL_RELEASE

    kernel = codegen.compile("sqrt(x) * y + 1", "x,y")
    x = np.linspace(0, 9, GIL_RELEASE + 5)
    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(lambda s: kernel(x, np.full_like(x, s)), [1.0, 2.0, 3.0]))
    for s, result in zip([1.0, 2.0, 3.0], results):
        np.testing.assert_array_equal(result, np.sqrt(x) * s + 1)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_rational_powers_round_about_once_and_keep_pows_special_values(dtype):
    """x**(n/d), d in 1, 2, 3, without pow: within 0.65 ULP of the exact power like pow itself
    (x**2.5 was 1.85 ULP as sqrt(x)*x*x, x**(2/3) 22 ULP as pow(x, 0.666...) at 6e29), and
    C pow's value at 0, -0, +-inf, NaN and negative x."""
    rng = np.random.default_rng(3)
    span = 60 if dtype == "float64" else 14
    x = np.exp(rng.uniform(-span, span, 400)).astype(dtype)
    for text in ["x**(5/2)", "x**(-1/2)", "x**(2/3)", "x**(4/3)", "x**(-2/3)", "x**7", "x**-3", "x**(17/2)"]:
        exponent = sympy.Rational(text[4:-1] if text.endswith(")") else text[3:])
        got = codegen.compile(text, "x", dtype=dtype)(x)
        with mpmath.workdps(40):
            exact = [mpmath.power(mpmath.mpf(float(v)), mpmath.mpf(exponent.p) / exponent.q) for v in x]
            with np.errstate(over="ignore"):
                rounded = np.array([float(e) for e in exact]).astype(dtype)   # 0 and inf: out of range
            ulps = [abs(mpmath.mpf(float(g)) - e) / float(np.spacing(np.abs(r)))
                    for g, e, r in zip(got, exact, rounded) if np.isfinite(r) and r != 0]
        assert max(ulps) <= 0.65, (text, dtype, float(max(ulps)))
    special = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, -2.0, 2.0, 1e-310], dtype)
    for text, exponent in [("x**(5/2)", 2.5), ("x**(-1/2)", -0.5), ("x**(2/3)", 2 / 3), ("x**-3", -3.0),
                           ("x**(-5/2)", -2.5), ("x**5", 5.0)]:
        got = codegen.compile(text, "x", dtype=dtype)(special)
        with np.errstate(all="ignore"):
            want = np.power(special.astype(np.float64), exponent).astype(dtype)
        same = (got == want) & (np.signbit(got) == np.signbit(want)) | (np.isnan(got) & np.isnan(want))
        with np.errstate(invalid="ignore"):
            close = np.isfinite(want) & (want != 0) & (np.abs(got / np.where(want == 0, 1, want) - 1) < 1e-6)
        assert np.all(same | close), (text, dtype, got, want)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_rational_powers_hold_their_accuracy_over_the_whole_range(dtype):
    """Across every input whose power is a finite non-zero float (subnormal results, results
    near overflow, subnormal inputs), within 0.7 ULP of the exact power, the ULP of a
    subnormal being the smallest one: ``x**-2`` was 0 at 1.35e154 (exactly 5.52e-309),
    ``x**-32`` 5.5 ULP and ``x**32`` 1.4 ULP near the ends of the range, ``x**(-1/2)`` 1.4
    ULP at subnormal inputs, and ``x**-2`` (as ``1/(x*x)``) 1.5 ULP in the middle."""
    info = np.finfo(dtype)
    rng = np.random.default_rng(7)
    exponents = rng.uniform(info.minexp - info.nmant, info.maxexp, 1500)
    x = np.ldexp(1.0, np.floor(exponents).astype(int)) * rng.uniform(1, 2, exponents.size)
    x = x.astype(dtype)
    x = x[(x > 0) & np.isfinite(x)]
    tiny = mpmath.mpf(2) ** (info.minexp - info.nmant)
    for text, power in [("x**-2", -2), ("x**-3", -3), ("x**-32", -32), ("x**32", 32), ("x**(-5/3)", sympy.Rational(-5, 3)),
                        ("x**(-1/2)", sympy.Rational(-1, 2)), ("x**(5/2)", sympy.Rational(5, 2))]:
        inputs = np.concatenate([x, -x[:50]]) if isinstance(power, int) else x   # integer powers: x < 0 too
        got = codegen.compile(text, "x", dtype=dtype)(inputs)
        worst = 0.0
        with mpmath.workdps(60):
            p = mpmath.mpf(power.p) / power.q if isinstance(power, sympy.Rational) else mpmath.mpf(power)
            for v, g in zip(inputs, got):
                exact = mpmath.mpf(float(v)) ** p
                if abs(exact) > info.max or abs(exact) < tiny / 2:
                    continue
                unit = max(mpmath.mpf(2) ** (mpmath.floor(mpmath.log(abs(exact), 2)) - info.nmant), tiny)
                worst = max(worst, float(abs(mpmath.mpf(float(g)) - exact) / unit))
        assert worst <= 0.7, (text, dtype, worst)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("streaming", [False, True])
@pytest.mark.parametrize("flags", [False, True])
def test_fast_trig_beyond_its_reduction_gives_the_c_library_value(monkeypatch, dtype, streaming, flags):
    """The inline sin/cos/tan return NaN beyond ``fastmath.SINCOS_BOUND`` (2**22 for
    float32: ordinary values such as 1e7); a kernel computes the elements where an argument
    is beyond it again with the C library (plain and streaming paths, with and without
    fast-math flags, also where ``Max``/``Min``/a comparison would hide the NaN) and keeps
    the inline values elsewhere; its loop still vectorises."""
    from codegen import fastmath, lower
    if streaming:
        monkeypatch.setattr(lower, "stream_bytes", lambda: 1)
    exprs = ["sin(x) + y", "cos(2*x)*tan(x)", "Max(sin(x), -2)", "Piecewise((1.0, cos(x) > 0), (2.0, True))"]
    fast = codegen.compile(exprs, "x,y", dtype=dtype, fastmath=flags)
    libm = codegen.compile(exprs, "x,y", dtype=dtype, math="libm")
    assert re.search(r"<\d+ x (double|float)>", fast.llvm_ir)
    bound = fastmath.SINCOS_BOUND[dtype]
    rng = np.random.default_rng(1)
    x = rng.uniform(-3, 3, 1500).astype(dtype)
    huge = 8 + rng.choice(1492, 40, replace=False)
    x[huge] = rng.uniform(1.5, 1e6, 40) * bound * rng.choice([-1, 1], 40)
    x[[0, 7]] = [np.inf, np.nan]
    y = np.ones_like(x)
    got = fast(x, y)
    within = codegen.compile(exprs, "x,y", dtype=dtype, fastmath=flags)(np.where(abs(x) > bound, 0, x), y)
    reference = libm(x, y)
    beyond = abs(x) > bound
    for k, (g, r, w) in enumerate(zip(got, reference, within)):
        np.testing.assert_array_equal(g[beyond], r[beyond])          # libm's values
        inside = abs(x) <= bound
        np.testing.assert_array_equal(g[inside], w[inside])          # the inline values elsewhere
        assert np.isfinite(g[huge]).all()
        if k == 0:
            assert np.isnan(g[[0, 7]]).all()                            # sin(inf), sin(NaN)


def test_api_argument_names_and_outputs_are_checked():
    """Names an expression string cannot contain, an empty name, overlapping outputs and a
    too deeply nested string are one clear error each; a float32 constant beyond range is
    inf without a NumPy warning (``-W error`` in the test settings would raise it)."""
    with pytest.raises(ValueError, match="'lambda' cannot be written in an expression string"):
        codegen.compile("lambda + 1", "lambda")
    assert codegen.compile(sympy.Symbol("lambda") + 1, [sympy.Symbol("lambda")])(np.array([1.0]))[0] == 2.0
    with pytest.raises(ValueError, match="an argument name is empty"):
        codegen.compile("x", ["x", ""])
    deep = "x"
    for _ in range(300):
        deep = f"sin({deep})"
    with pytest.raises(ValueError, match="nested too deeply") as info:
        codegen.compile(deep, "x")
    assert len(str(info.value)) < 200
    k = codegen.compile(["x + 1", "x * 2"], "x")
    x, o = np.arange(4.0), np.empty(4)
    with pytest.raises(ValueError, match=r"out\[0\] and out\[1\] overlap"):
        k(x, out=(o, o))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert codegen.compile("1e39*x", "x", dtype="float32")(np.float32([1.0]))[0] == np.inf
