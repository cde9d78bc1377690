"""Function approximation: ULP measure, bit-exact program evaluation against the compiled
kernels, baselines, range-reduction templates and special values, exhaustive verification,
the search against the textbook, and the CLI with its errors."""

from __future__ import annotations

import ctypes
import json
import math
import shutil
import subprocess

import mpmath as mp
import numpy as np
import pytest
import scipy.special

from codegen import jit
from codegen.exact import fma, getmant, ldexp, logb, lut16, scalef
from codegen.kernel import Kernel
from codegen.lower import build_module
from codegen.program import Instr, Program
from discover.approx import baselines as bl
from discover.approx.job import ApproxSettings, Candidate, run, select
from discover.approx.program import SLP, Builder, compact, cost, evaluate, evaluate_real, to_program
from discover.approx.targets import NAMED
from discover.approx.templates import TEMPLATES, log_table, log_table_template, wrap
from discover.approx.ulp import ulp, ulp_distance, ulp_error
from discover.approx.verify import float32_range, verify
from discover.cli import main

F32 = np.float32


def same_bits(a: np.ndarray, b: np.ndarray) -> bool:
    """Bit-identical, with every NaN counted equal to every NaN."""
    nan = np.isnan(a) & np.isnan(b)
    u = "u4" if a.dtype == np.float32 else "u8"
    return bool(np.all(nan | (a.view(u) == b.view(u))))


# ----------------------------------------------------------------------------- ULPs


def test_ulp_distance_across_zero_to_inf_and_subnormals():
    tiny = np.finfo(F32).smallest_subnormal
    assert ulp_distance(F32(-tiny), F32(tiny))[()] == 2          # -tiny, (+-0), +tiny
    assert ulp_distance(F32(-0.0), F32(0.0))[()] == 0
    assert ulp_distance(np.finfo(F32).max, F32(np.inf))[()] == 1
    assert ulp_distance(F32(1.0), np.nextafter(F32(1.0), F32(2)))[()] == 1
    assert ulp_distance(F32(np.nan), F32(1.0))[()] == -1
    assert ulp_distance(np.float64(1.0), np.float64(1.0) + 2 * np.finfo(np.float64).eps, "float64")[()] == 2


def test_ulp_error_definition_and_edges():
    assert ulp(1.0, "float32") == 2.0**-23 and ulp(0.75, "float32") == 2.0**-24
    assert ulp(0.0, "float32") == 2.0**-149 and ulp(1e-42, "float32") == 2.0**-149   # subnormal range
    assert ulp(1e-310, "float64") == 2.0**-1074
    # half an ULP at 1.0 from the exact 1 + 2**-24
    assert ulp_error(F32(1.0), 1.0 + 2.0**-24)[()] == pytest.approx(0.5)
    # overflow: inf is exact when the true value rounds past the largest float
    assert ulp_error(F32(np.inf), 3.5e38)[()] == 0.0
    assert ulp_error(F32(np.inf), 3.0e38)[()] == np.inf
    assert ulp_error(F32(3.0e38), np.inf)[()] == np.inf
    assert ulp_error(F32(np.nan), np.nan)[()] == 0.0 and ulp_error(F32(1.0), np.nan)[()] == np.inf
    # double-double reference for float64
    assert ulp_error(np.float64(1.0), 1.0, "float64", 2.0**-53)[()] == pytest.approx(0.5)


# ----------------------------------------------------------------------------- exact arithmetic


def _kernel(op: str, arity: int, dtype: str) -> Kernel:
    names = tuple("abc"[:arity])
    instrs = tuple(Instr("arg", value=i) for i in range(arity)) + (Instr(op, tuple(range(arity))),)
    return Kernel(Program("k", dtype, names, names, ("out0",), (), instrs, (arity,)), True)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_numpy_fma_ldexp_logb_are_bit_exact_with_the_compiled_kernel(dtype):
    rng = np.random.default_rng(1)
    n = 200_000
    a = (rng.standard_normal(n) * np.exp2(rng.integers(-30, 30, n))).astype(dtype)
    b = rng.standard_normal(n).astype(dtype)
    c = (-(a.astype(np.float64) * b) * (1 + rng.standard_normal(n) * 1e-6)).astype(dtype)   # cancellation
    assert same_bits(_kernel("fma", 3, dtype)(a, b, c), fma(a, b, c))
    assert not same_bits(fma(a, b, c), (a * b + c).astype(dtype))     # fused != two roundings here
    bias = np.finfo(dtype).maxexp
    k = rng.integers(-2 * bias - 50, 2 * bias + 50, n).astype(dtype)
    m = rng.uniform(0.5, 2, n).astype(dtype)
    assert same_bits(_kernel("ldexp", 2, dtype)(m, k), ldexp(m, k))
    assert same_bits(_kernel("logb", 1, dtype)(np.abs(a) + 1), logb(np.abs(a) + 1))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("vscalef", [True, False], ids=["host", "two-factor"])
def test_ldexp_rounds_once_on_either_lowering(dtype, vscalef, monkeypatch):
    """Both ways :func:`codegen.bits.scale` applies ``2**k`` (``vscalef`` on AVX-512, two
    exponent-bit factors elsewhere) give C's ldexp, subnormal and overflowing results
    included; only the AVX-512 one also for ``|x|`` below ``2**(-bias - p)``."""
    if vscalef and not jit.has_feature("avx512f"):
        pytest.skip("the host has no AVX-512")
    if not vscalef:
        monkeypatch.setattr(jit, "has_feature", lambda name: False)
    rng = np.random.default_rng(2)
    n = 100_000
    info = np.finfo(dtype)
    bias = info.maxexp - 1
    k = rng.integers(-2 * bias - 50, 2 * bias + 50, n).astype(dtype)
    lowest = (info.minexp - info.nmant) if vscalef else -bias // 2
    x = (rng.uniform(1, 2, n) * np.exp2(rng.integers(lowest, bias, n)) * rng.choice([-1, 1], n)).astype(dtype)
    kernel = _kernel("ldexp", 2, dtype)
    asm = jit.target_machine().emit_assembly(jit.optimize(str(build_module(kernel.program))))
    assert ("vscalef" in asm) == vscalef
    got = kernel(x, k)
    expected = ldexp(x, k)
    assert same_bits(got, expected)
    assert np.any((got != 0) & (np.abs(got) < info.smallest_normal)) and np.any(np.isinf(got))
    with np.errstate(over="ignore"):
        c_ldexp = np.ldexp(x, np.clip(k, -2 * (bias - 1), 2 * bias).astype(int)).astype(dtype)
    assert same_bits(expected, c_ldexp)


def _scalef_edges(dtype: str) -> tuple[np.ndarray, np.ndarray]:
    """Every pair of special, subnormal, normal and huge ``x`` and ``k``."""
    info = np.finfo(dtype)
    bias, p = info.maxexp - 1, info.nmant + 1
    tiny, big = float(info.smallest_subnormal), float(info.max)
    xs = [0.0, -0.0, np.inf, -np.inf, np.nan, tiny, -3 * tiny, float(info.smallest_normal), 1.0, -1.5,
          0.75, big, -big, 1e-3]
    ks = [np.nan, np.inf, -np.inf, 0.0, -0.0, 0.5, -0.5, tiny, -tiny, 1.0, -1.0, 2.75, -2.25,
          2 * bias, 2 * bias + 1, -2 * bias, -2 * bias - p, -2 * bias - p - 2, bias + p, -(bias + p),
          4095.0, 4097.0, -4097.0, 1e30, -1e30, big, -big]
    x, k = np.meshgrid(np.array(xs, dtype), np.array(ks, dtype))
    return x.ravel(), k.ravel()


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("vscalef", [True, False], ids=["host", "generic"])
def test_scalef_gives_the_same_bits_in_vector_and_scalar_lanes(dtype, vscalef, monkeypatch):
    """``scalef(x, k) = x * 2**floor(k)`` (AVX-512's ``vscalef``): the kernel's vector lanes
    (the instruction itself on AVX-512), its scalar remainder (generic IR) and the NumPy
    reference agree bit for bit on every special and extreme pair, and with C's ldexp on
    integer exponents."""
    if vscalef and not jit.has_feature("avx512f"):
        pytest.skip("the host has no AVX-512")
    if not vscalef:
        monkeypatch.setattr(jit, "has_feature", lambda name: False)
    x, k = _scalef_edges(dtype)
    kernel = _kernel("scalef", 2, dtype)
    ir_text = str(build_module(kernel.program))
    assert ("codegen.avx512.scalef" in ir_text) == vscalef
    expected = scalef(x, k)
    assert same_bits(kernel(x, k), expected)                                   # mostly vector lanes
    alone = np.array([kernel(x[i:i + 1], k[i:i + 1])[0] for i in range(len(x))], dtype)
    assert same_bits(alone, expected)                                          # the scalar remainder
    with np.errstate(all="ignore"):
        assert np.isnan(expected[np.isnan(k) | ((x == 0) & (k == np.inf)) | (np.isinf(x) & (k == -np.inf))]).all()
        assert same_bits(expected[np.isnan(x) & (k == np.inf)], np.array([np.inf], dtype))   # x86's table
        assert same_bits(expected[np.isnan(x) & (k == -np.inf)], np.array([0.0], dtype))
        assert np.all(expected[(k == 1e30) & (x == 1.0)] == np.inf) and np.all(expected[(k == -1e30) & (x == 1.0)] == 0)
        assert expected[(x == 1.0) & (k == 2.75)][0] == 4 and expected[(x == 1.0) & (k == -2.25)][0] == 0.125
        whole = np.isfinite(k) & (k == np.floor(k)) & (np.abs(k) < 4096)
        assert same_bits(expected[whole], np.ldexp(x[whole], k[whole].astype(int)).astype(dtype))


def _getexp_edges(dtype: str) -> np.ndarray:
    """Specials, both signs of subnormals, normals around the [3/4, 3/2) boundaries, huge."""
    info = np.finfo(dtype)
    rng = np.random.default_rng(5)
    tiny = float(info.smallest_subnormal)
    special = [0.0, -0.0, np.inf, -np.inf, np.nan, tiny, -tiny, 3 * tiny, float(info.smallest_normal),
               float(info.max), -float(info.max), 0.75, 1.0, 1.5, 2.0, 3.0, 0.5, -1.5]
    near = np.array([0.75, 1.5, 3.0, 6.0, 1.0], dtype)
    nudged = np.concatenate([np.nextafter(near, near.dtype.type(0)), np.nextafter(near, near.dtype.type(9))])
    spread = rng.uniform(1, 2, 2000) * np.exp2(rng.integers(info.minexp - info.nmant, info.maxexp, 2000))
    return np.concatenate([np.array(special, dtype), nudged, (spread * rng.choice([-1, 1], 2000)).astype(dtype)])


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("vector", [True, False], ids=["host", "generic"])
def test_getexp_getmant_give_the_same_bits_in_vector_and_scalar_lanes(dtype, vector, monkeypatch):
    """``getexp`` = C's logb and ``getmant`` (significand in [3/4, 3/2), NaN for a set sign
    bit, +-0 -> +-1): vector lanes (``vgetexp``/``vgetmant`` on AVX-512), the scalar
    remainder and NumPy agree bit for bit, and ``x = 2**(getexp(x) - getexp(m)) m``."""
    if vector and not jit.has_feature("avx512f"):
        pytest.skip("the host has no AVX-512")
    if not vector:
        monkeypatch.setattr(jit, "has_feature", lambda name: False)
    x = _getexp_edges(dtype)
    for op, reference in (("getexp", logb), ("getmant", getmant)):
        kernel = _kernel(op, 1, dtype)
        assert (f"codegen.avx512.{op}" in str(build_module(kernel.program))) == vector
        expected = reference(x)
        assert same_bits(kernel(x), expected), op
        alone = np.array([kernel(x[i:i + 1])[0] for i in range(0, len(x), 7)], dtype)
        assert same_bits(alone, expected[::7]), op
    m, e = getmant(x), logb(x)
    positive = (x > 0) & np.isfinite(x)
    assert np.all((np.abs(m[positive]) >= 0.75) & (np.abs(m[positive]) < 1.5))
    assert same_bits(np.ldexp(m[positive], (e - logb(m))[positive].astype(int)).astype(dtype), x[positive])
    assert same_bits(m[:5], np.array([1.0, -1.0, 1.0, np.nan, np.nan], dtype))
    assert np.isnan(m[x < 0]).all() and same_bits(e[:5], np.array([-np.inf, -np.inf, np.inf, np.inf, np.nan], dtype))


@pytest.mark.skipif(shutil.which("cc") is None, reason="needs a C compiler")
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_getexp_getmant_in_c_give_the_same_bits(dtype, tmp_path):
    from codegen import c_source

    x = _getexp_edges(dtype)
    for op, reference in (("getexp", logb), ("getmant", getmant)):
        program = _kernel(op, 1, dtype).program
        (tmp_path / "k.c").write_text(c_source.source(program))
        (tmp_path / "k.h").write_text(c_source.header(program))
        lib = tmp_path / f"lib{op}.so"
        subprocess.run(["cc", "-O2", "-Wall", "-Wextra", "-Werror", "-shared", "-fPIC", "-o", str(lib),
                        str(tmp_path / "k.c"), "-lm"], check=True)
        out = np.empty_like(x)
        pointer = ctypes.c_void_p
        ctypes.CDLL(str(lib)).k(ctypes.c_int64(x.size), x.ctypes.data_as(pointer), out.ctypes.data_as(pointer))
        assert same_bits(out, reference(x)), op


def _lut16_program(dtype: str) -> SLP:
    """``lut16(x, t_0, ..., t_15) * x`` with entries ``t_j = 1/(j + 1.5)`` rounded."""
    b = Builder(dtype)
    entries = [b.const(float(np.asarray(1 / (j + 1.5), dtype))) for j in range(16)]
    return b.done(b.emit("mul", b.emit("lut16", 0, *entries), 0))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("vector", [True, False], ids=["host", "generic"])
def test_lut16_indexes_by_the_top_fraction_bits_in_every_lane(dtype, vector, monkeypatch):
    """``lut16(key, t_0..t_15) = t_j``, ``j`` the top four fraction bits of the key
    (``floor(16 f)`` for ``2**e (1 + f)``, any sign or exponent, NaN included): NumPy, the
    vector lanes (``vpermi2pd``/``vpermps`` on AVX-512, selects elsewhere), the scalar
    remainder, C and JAX give the same bits."""
    from codegen.exact import lut16_jax

    if vector and not jit.has_feature("avx512f"):
        pytest.skip("the host has no AVX-512")
    if not vector:
        monkeypatch.setattr(jit, "has_feature", lambda name: False)
    x = _getexp_edges(dtype)
    table = 1 / (np.arange(16) + 1.5)
    normal = x[np.isfinite(x) & (np.abs(x) >= np.finfo(dtype).smallest_normal)]
    f, _ = np.frexp(np.abs(normal))
    expected = (table[np.floor(32 * f).astype(int) - 16]).astype(dtype)   # frexp's f in [1/2, 1)
    assert same_bits(lut16(normal, *table.astype(dtype)), expected)
    assert same_bits(lut16(np.array([1.0, 1.0625, 1.5, 0.75, -1.9999], dtype), *np.arange(16.0)),
                     np.array([0, 1, 8, 8, 15], dtype))
    slp = _lut16_program(dtype)
    kernel = Kernel(to_program(slp), True)
    assert ("codegen.avx512.lut16" in str(build_module(kernel.program))) == vector
    reference = evaluate(slp, x)
    assert same_bits(kernel(x), reference)
    assert same_bits(np.array([kernel(x[i:i + 1])[0] for i in range(0, len(x), 7)], dtype), reference[::7])
    # a table of computed values (the permute holds one table per vector: the select tree)
    b = Builder(dtype)
    computed = b.done(b.emit("lut16", 0, *(b.emit("mul", 0, b.const(j + 1.0)) for j in range(16))))
    assert same_bits(Kernel(to_program(computed), True)(x), evaluate(computed, x))
    if not vector:
        import jax

        with jax.enable_x64(True):
            got = np.asarray(lut16_jax(x, *table.astype(dtype)))
        assert same_bits(got, lut16(x, *table.astype(dtype)))


@pytest.mark.skipif(shutil.which("cc") is None, reason="needs a C compiler")
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_lut16_in_c_gives_the_same_bits(dtype, tmp_path):
    from codegen import c_source

    program = to_program(_lut16_program(dtype), "k")
    (tmp_path / "k.c").write_text(c_source.source(program))
    (tmp_path / "k.h").write_text(c_source.header(program))
    lib = tmp_path / "libk.so"
    subprocess.run(["cc", "-O2", "-Wall", "-Wextra", "-Werror", "-shared", "-fPIC", "-o", str(lib),
                    str(tmp_path / "k.c"), "-lm"], check=True)
    x = _getexp_edges(dtype)
    out = np.empty_like(x)
    pointer = ctypes.c_void_p
    ctypes.CDLL(str(lib)).k(ctypes.c_int64(x.size), x.ctypes.data_as(pointer), out.ctypes.data_as(pointer))
    assert same_bits(out, evaluate(_lut16_program(dtype), x))


def test_log_table_entries_reduce_exactly_and_keep_log_near_one_exact():
    """The float64 log table: ``r = m invc - 1`` within its stated range on every bucket
    and exact from one fma, ``lh`` on the 2**-42 grid and ``lh + ll = -log(invc)`` (+ ln2 for the lower half) to
    2**-96 (``ll`` rounded); ``c = 1`` beside 1, where the whole template gives ``log(1 + r)`` of a
    fraction of a unit (mpmath) down to ``x = 1 +- 2**-52``."""
    invc, lh, ll, (r_lo, r_hi) = log_table()
    assert (r_lo, r_hi) == (-0.037109375, 0.0625) and invc[0] == invc[15] == 1.0 and lh[0] == ll[0] == 0.0
    rng = np.random.default_rng(3)
    with mp.workprec(300):
        for j in range(16):
            m = (1 + (j + rng.uniform(0, 1, 200)) / 16) / (1 if j < 8 else 2)
            r = fma(m, np.full_like(m, invc[j]), np.full_like(m, -1.0))
            assert all(mp.mpf(float(a)) * invc[j] - 1 == float(b) for a, b in zip(m, r))
            assert lh[j] % 2.0**-42 == 0
            big = -mp.log(mp.mpf(invc[j])) + (mp.log(2) if j >= 8 else 0)
            assert abs(mp.mpf(lh[j]) + ll[j] - big) < mp.mpf(2)**-96
            for m in ((1 + mp.mpf(j) / 16) / (1 if j < 8 else 2), (1 + mp.mpf(j + 1) / 16) / (1 if j < 8 else 2)):
                assert r_lo <= m * invc[j] - 1 <= r_hi
    t = TEMPLATES["log_table"]
    core = next(b for b in bl.baselines(t.core("float64"), "float64", [8], families=("fpminimax",))).slp
    full, _ = wrap(t, core)
    x = np.array([1 + 2.0**-52, 1 - 2.0**-53, 1 + 2.0**-30, 1 - 2.0**-30, 1.03, 0.97, 1.0624, 0.9688, 1.0,
                  5e-324, 1e-310, 1.7e308], "float64")
    with mp.workdps(40):
        exact = [mp.log(mp.mpf(float(v))) for v in x]
        hi = np.array([float(v) for v in exact])
        lo = np.array([float(v - mp.mpf(h)) for v, h in zip(exact, hi)])
    assert np.max(ulp_error(evaluate(full, x), hi, "float64", lo)) < 0.7
    assert same_bits(evaluate(full, np.array([0.0, -0.0, np.inf, -np.inf, np.nan, -1.0])),
                     np.array([-np.inf, -np.inf, np.inf, np.nan, np.nan, np.nan]))


def _float32_table_log(name: str, reference) -> tuple[Kernel, float]:
    """The kernel of template ``name`` with a degree-3 Chebyshev core in float32, and its
    max ULP against ``reference`` (float64) on every float32 in [0.9, 1.1]."""
    t = TEMPLATES[name]
    core = next(b for b in bl.baselines(t.core("float32"), "float32", [3], families=("chebyshev",))).slp
    full, _ = wrap(t, core)
    kernel = Kernel(to_program(full, name), True)
    worst = 0.0
    for x in float32_range(0.9, 1.1):
        worst = max(worst, float(np.max(ulp_error(kernel(x), reference(x.astype(np.float64)), "float32"))))
    return kernel, worst


def test_float32_log_table_is_within_its_bound_on_every_input_around_one():
    """The float32 table (``lh`` on the 2**-17 grid, so ``e ln2_hi + lh`` is exact for every
    exponent down to the subnormals' -149; the same ``invc``) and the template with a
    degree-3 core: every float32 in [0.9, 1.1] (the buckets beside 1, where ``w`` is 0 or
    smallest and the inner sum's rounding weighs most) within 0.8 ULP of the float64 log,
    and the subnormals and specials right."""
    invc, lh, ll, r_range = log_table("float32")
    assert invc == log_table("float64")[0] and r_range == log_table("float64")[3]
    assert all(h % 2.0**-17 == 0 for h in lh) and all(abs(v) < 2.0**-17 for v in ll)
    kernel, worst = _float32_table_log("log_table", np.log)
    assert 0.5 < worst < 0.8
    tiny = np.array([1e-45, 1e-40, 1.1754942e-38, 3.4028235e38], F32)
    assert np.max(ulp_error(kernel(tiny), np.log(tiny.astype(np.float64)), "float32")) < 0.8
    assert same_bits(kernel(np.array([0.0, -0.0, np.inf, -np.inf, np.nan, -1.0, 1.0], F32)),
                     np.array([-np.inf, -np.inf, np.inf, np.nan, np.nan, np.nan, 0.0], F32))


def test_log2_table_sums_exactly_and_is_within_one_ulp_on_every_input_around_one():
    """log2's table: the log table's ``invc`` and range, ``e + lh`` exact for every exponent
    (``lh`` on the 2**-16 / 2**-42 grid), ``lh + ll = -log2(invc)`` (+1 for the lower half);
    the float32 template with a degree-3 core within 1 ULP of the float64 log2 on every
    float32 in [0.9, 1.1] (where the pair ``r/ln2`` carries the result), at the extremes of
    the exponent, and right on the special values."""
    from fractions import Fraction

    for dtype, grain in (("float32", 2.0**-16), ("float64", 2.0**-42)):
        invc, lh, ll, r_range = log_table(dtype, base2=True)
        assert invc == log_table(dtype)[0] and r_range == log_table(dtype)[3]
        emax = {"float32": 150, "float64": 1075}[dtype]
        for j, (h, low) in enumerate(zip(lh, ll)):
            assert h % grain == 0
            for e in (-emax, -1, 1, emax):
                assert Fraction(float(np.dtype(dtype).type(e + h))) == Fraction(e) + Fraction(h)
            with mp.workprec(200):
                big = -mp.log(mp.mpf(invc[j]), 2) + (1 if j >= 8 else 0)
                assert abs(mp.mpf(h) + low - big) <= abs(big) * mp.mpf(2) ** -(50 if dtype == "float64" else 22) + 1e-300
    kernel, worst = _float32_table_log("log2_table", np.log2)
    assert 0.5 < worst < 1.0
    x = np.array([1e-45, 1e-40, 1.1754942e-38, 3.4028235e38, 3.0, 0.7, 1e10], F32)
    assert np.max(ulp_error(kernel(x), np.log2(x.astype(np.float64)), "float32")) < 1.0
    assert same_bits(kernel(np.array([0.0, -0.0, np.inf, -np.inf, np.nan, -1.0, 1.0, 2.0, 0.5], F32)),
                     np.array([-np.inf, -np.inf, np.inf, np.nan, np.nan, np.nan, 0.0, 1.0, -1.0], F32))


@pytest.mark.skipif(shutil.which("cc") is None, reason="needs a C compiler")
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_scalef_in_c_gives_the_same_bits(dtype, tmp_path):
    from codegen import c_source

    program = _kernel("scalef", 2, dtype).program
    (tmp_path / "k.c").write_text(c_source.source(program))
    (tmp_path / "k.h").write_text(c_source.header(program))
    lib = tmp_path / "libk.so"
    subprocess.run(["cc", "-O2", "-Wall", "-Wextra", "-Werror", "-shared", "-fPIC", "-o", str(lib),
                    str(tmp_path / "k.c"), "-lm"], check=True)
    x, k = _scalef_edges(dtype)
    out = np.empty_like(x)
    pointer = ctypes.c_void_p
    ctypes.CDLL(str(lib)).k(ctypes.c_int64(x.size), x.ctypes.data_as(pointer), k.ctypes.data_as(pointer),
                            out.ctypes.data_as(pointer))
    assert same_bits(out, scalef(x, k))


@pytest.mark.parametrize("name", ["exp", "log", "log2", "sin", "cos", "exp2", "erf", "tanh", "sinh", "cosh", "expm1", "log1p",
                                  "atan", "atanh", "asinh", "acosh", "log_table", "log2_table"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_search_evaluator_is_bit_exact_with_the_kernel_on_template_programs(name, dtype):
    if name == "erf" and dtype == "float64":
        pytest.skip("the erf template is float32 only")
    t = TEMPLATES[name]
    core = t.core(dtype)
    prog = bl.baselines(core, dtype, [4], families=("minimax",))[0].slp
    full, _ = wrap(t, prog)
    rng = np.random.default_rng(2)
    x = np.concatenate([rng.uniform(-200, 200, 50_000), np.exp(rng.uniform(-740, 700, 50_000)),
                        [0.0, -0.0, np.inf, -np.inf, np.nan, 1e-310, 5e-324]]).astype(dtype)
    assert same_bits(evaluate(full, x), Kernel(to_program(full), True)(x))


# ----------------------------------------------------------------------------- baselines


EXP2 = bl.Core.of("2**x", lambda x: mp.power(2, x), 0.0, 1.0)
GRID = np.linspace(0, 1, 4001)


def rel_err(slp: SLP) -> float:
    return float(np.max(np.abs(evaluate_real(slp, GRID) / np.exp2(GRID.astype(np.longdouble)) - 1)))


def test_taylor_chebyshev_and_minimax_coefficients():
    base = {b.name: b for b in bl.baselines(EXP2, "float64", [3], fma=False, families=("taylor", "chebyshev", "minimax"))}
    # Taylor about 1/2 expanded: sum c_k x^k must equal 2**x's series there
    taylor = base["taylor-3 horner"].slp
    assert float(evaluate_real(taylor, np.array([0.5]))[0]) == pytest.approx(math.sqrt(2), rel=1e-15)
    # Chebyshev interpolation is exact at its nodes
    nodes = 0.5 + 0.5 * np.cos(np.pi * (2 * np.arange(4) + 1) / 8)
    cheb = evaluate_real(base["chebyshev-3 horner"].slp, nodes)
    np.testing.assert_allclose(np.asarray(cheb, float), np.exp2(nodes), rtol=1e-14)
    # the minimax error is smallest, and equioscillates: 5 alternating extrema of equal size
    errors = {k: rel_err(v.slp) for k, v in base.items()}
    assert errors["minimax-3 horner"] < errors["chebyshev-3 horner"] < errors["taylor-3 horner"]
    assert errors["minimax-3 horner"] == pytest.approx(7.478e-5, rel=2e-3)
    e = np.asarray(evaluate_real(base["minimax-3 horner"].slp, GRID) / np.exp2(GRID.astype(np.longdouble)) - 1, float)
    peaks = [i for i in range(1, len(e) - 1) if abs(e[i]) >= abs(e[i - 1]) and abs(e[i]) >= abs(e[i + 1])]
    peaks = [0] + peaks + [len(e) - 1]
    assert len(peaks) == 5 and np.all(np.abs(np.abs(e[peaks]) / errors["minimax-3 horner"] - 1) < 0.02)
    assert np.all(np.sign(e[peaks][1:]) == -np.sign(e[peaks][:-1]))


def test_fpminimax_coefficients_are_in_the_format_and_estrin_costs_what_it_should():
    sinq = TEMPLATES["sin"].core("float32")
    base = bl.baselines(sinq, "float32", [5], families=("fpminimax", "minimax"))
    fp = next(b for b in base if b.family == "fpminimax").slp
    values = [i.value for i in fp.instrs if i.op == "const"]
    assert values and all(float(F32(v)) == v for v in values)
    horner = next(b for b in base if b.name == "minimax-5 horner").slp
    estrin = next(b for b in base if b.name == "minimax-5 estrin").slp
    # Horner: 5 fma. Estrin: 3 pair fma, t**2, 1 fma (+ one left over), t**4, 1 fma
    assert cost(horner) == 5 and cost(estrin) == 7


def test_rational_baseline_beats_the_polynomial_of_similar_cost():
    base = {b.name: b for b in bl.baselines(EXP2, "float64", [4], fma=False, rational=[(2, 2)],
                                             families=("minimax", "rational"))}
    assert cost(base["rational-2/2 horner"].slp) == 9
    assert rel_err(base["rational-2/2 horner"].slp) < rel_err(base["minimax-4 horner"].slp) / 4


def test_compact_folds_arithmetic_on_constants_bit_exactly():
    """A program the search bred with ``add(c1, c2)`` (a new-user review found one chosen
    at 9 operations beside an 8-operation baseline): compact folds it, in the program's
    dtype, so the cost drops and every output bit stays."""
    for dtype in ("float32", "float64"):
        b = Builder(dtype)
        folded = b.emit("add", b.const(0.00157801597379148), b.const(0.006609463132917881))
        scale = b.emit("mul", b.emit("neg", b.const(1 / 3)), b.const(3.0))   # -(1/3) * 3, rounded twice
        y = b.emit("fma", b.emit("fma", 0, folded, scale), 0, b.const(1.0))
        slp = b.done(y)
        small = compact(slp)
        assert cost(slp) == 5 and cost(small) == 2
        assert [ins.op for ins in small.instrs].count("const") == 3
        x = np.linspace(-3, 3, 10_001).astype(dtype)
        assert same_bits(evaluate(small, x), evaluate(slp, x))
        # an fma of constants alone (the float64 fma once returned shape (1,) for scalars)
        b = Builder(dtype)
        y = b.emit("add", 0, b.emit("fma", b.const(1 / 3), b.const(3.0), b.const(-1.0)))
        small = compact(b.done(y))
        assert cost(small) == 1 and same_bits(evaluate(small, x), evaluate(b.done(y), x))


# ----------------------------------------------------------------------------- templates


@pytest.fixture(scope="module")
def whole32():
    out = {}
    for name in ("exp", "exp2", "log", "log2", "sin", "cos", "sin_wide", "cos_wide", "erf", "tanh", "sinh", "cosh", "expm1",
                 "log1p", "atan", "atanh", "asinh", "acosh"):
        t = TEMPLATES[name]
        core = t.core("float32")
        degree = {"exp": 6, "exp2": 6, "erf": 5, "tanh": 4, "sinh": 3, "cosh": 4, "expm1": 5, "atan": 4}.get(name, 2)
        prog = next(b for b in bl.baselines(core, "float32", [degree], families=("fpminimax",))).slp
        out[name] = wrap(t, prog)[0]
    return out


def test_range_reduction_identities():
    # exp: x = k ln2 + r with |r| <= ln2/2; log: x = 2**e m with m in [sqrt(1/2), sqrt(2))
    x = np.random.default_rng(3).uniform(-80, 80, 10_000).astype(F32)
    k = np.rint(x * F32(1 / math.log(2)))
    b = Builder("float32")
    slp = b.done(b.emit("rint", b.emit("mul", 0, b.const(1 / math.log(2)))))
    assert np.array_equal(evaluate(slp, x), k)
    r = x.astype(np.float64) - k * math.log(2)
    assert np.max(np.abs(r)) <= math.log(2) / 2 * (1 + 1e-6)
    assert np.all(ldexp(np.exp(r).astype(F32), k) == (np.exp(r) * np.exp2(k)).astype(F32))
    y = np.exp(np.random.default_rng(4).uniform(-80, 80, 10_000)).astype(F32)
    e = logb(y)
    m = ldexp(y, -e)
    assert np.all((m >= 1) & (m < 2)) and np.array_equal(m.astype(np.float64) * np.exp2(e), y)


def test_special_values(whole32):
    inf, nan = np.inf, np.nan
    x = np.array([nan, inf, -inf, 0.0, -0.0, 200.0, -200.0, 88.72, -103.9], F32)
    y = evaluate(whole32["exp"], x)
    assert np.isnan(y[0]) and y[1] == inf and y[2] == 0 and y[3] == 1 and y[4] == 1
    assert y[5] == inf and y[6] == 0 and np.isfinite(y[7]) and 0 < y[8] < np.finfo(F32).smallest_normal
    lx = np.array([nan, inf, -inf, 0.0, -0.0, -1.0, 1.0, 1e-45, 1e-40], F32)
    for name in ("log",):
        ly = evaluate(whole32[name], lx)
        assert np.isnan(ly[0]) and ly[1] == inf and np.isnan(ly[2]) and ly[3] == -inf and ly[4] == -inf
        assert np.isnan(ly[5]) and ly[6] == 0 and ly[7] == F32(np.log(float(F32(1e-45)))) and abs(ly[8] - np.log(1e-40)) < 1e-5
    sx = np.array([-0.0, 0.0, nan, inf], F32)
    sy = evaluate(whole32["sin"], sx)
    assert np.signbit(sy[0]) and sy[0] == 0 and not np.signbit(sy[1]) and np.isnan(sy[2]) and np.isnan(sy[3])
    # float32's pi is above the real pi: sin is negative there, though sin >= 0 below it
    pi32 = F32(np.pi)
    around = np.array([pi32, -pi32, np.nextafter(pi32, F32(0)), -np.nextafter(pi32, F32(0))], F32)
    exact = np.array([float(mp.sin(mp.mpf(float(v)))) for v in around]).astype(F32)
    assert exact[0] < 0 < exact[1] and exact[2] > 0
    for name, fn in (("sin", mp.sin), ("cos", mp.cos)):
        got = evaluate(whole32[name], around)
        want = np.array([float(fn(mp.mpf(float(v)))) for v in around])
        assert np.all(ulp_error(got, want, "float32") <= 1.0), name
    assert list(evaluate(whole32["cos"], np.array([-0.0, 0.0], F32))) == [1, 1]
    ey = evaluate(whole32["erf"], np.array([-0.0, 0.0, nan, inf, -inf, 4.5, -30.0, 1e-40], F32))
    assert np.signbit(ey[0]) and ey[0] == 0 and not np.signbit(ey[1]) and np.isnan(ey[2])
    assert list(ey[3:7]) == [1, -1, 1, -1] and ey[7] == F32(2 / math.sqrt(math.pi) * float(F32(1e-40)))
    ty = evaluate(whole32["tanh"], np.array([-0.0, 0.0, nan, inf, -inf, 9.5, -30.0, 1e-40, 3e38], F32))
    assert np.signbit(ty[0]) and ty[0] == 0 and not np.signbit(ty[1]) and np.isnan(ty[2])
    assert list(ty[3:7]) == [1, -1, 1, -1] and ty[7] == F32(1e-40) and ty[8] == 1
    hx = np.array([-0.0, 0.0, nan, inf, -inf, 89.4, 89.5, -1e30, 1e-40], F32)
    sy, cy = evaluate(whole32["sinh"], hx), evaluate(whole32["cosh"], hx)
    assert np.signbit(sy[0]) and sy[0] == 0 and not np.signbit(sy[1]) and np.isnan(sy[2])
    assert list(sy[3:5]) == [inf, -inf] and np.isfinite(sy[5]) and sy[6] == inf and sy[7] == -inf
    assert sy[8] == F32(1e-40)
    assert list(cy[:2]) == [1, 1] and np.isnan(cy[2]) and list(cy[3:5]) == [inf, inf]
    assert np.isfinite(cy[5]) and cy[6] == inf and cy[7] == inf and cy[8] == 1
    my = evaluate(whole32["expm1"], np.array([-0.0, 0.0, nan, inf, -inf, 88.72, 88.73, -17.0, 1e-40], F32))
    assert np.signbit(my[0]) and my[0] == 0 and not np.signbit(my[1]) and np.isnan(my[2])
    assert list(my[3:5]) == [inf, -1] and np.isfinite(my[5]) and my[6] == inf and my[7] == -1
    assert my[8] == F32(1e-40)
    py = evaluate(whole32["log1p"], np.array([-0.0, 0.0, nan, inf, -inf, -1.0, -1.5, 1e-40, 3e38], F32))
    assert np.signbit(py[0]) and py[0] == 0 and not np.signbit(py[1]) and np.isnan(py[2])
    assert py[3] == inf and np.isnan(py[4]) and py[5] == -inf and np.isnan(py[6]) and py[7] == F32(1e-40)
    assert py[8] == F32(np.log1p(3e38))
    ay = evaluate(whole32["atan"], np.array([-0.0, 0.0, nan, inf, -inf, 1.0, -1e30, 1e-40], F32))
    assert np.signbit(ay[0]) and ay[0] == 0 and not np.signbit(ay[1]) and np.isnan(ay[2])
    assert list(ay[3:5]) == [F32(np.pi / 2), -F32(np.pi / 2)] and ay[5] == F32(np.pi / 4)
    assert ay[6] == -F32(np.pi / 2) and ay[7] == F32(1e-40)
    hy = evaluate(whole32["atanh"], np.array([-0.0, 0.0, nan, inf, -inf, 1.0, -1.0, 1.5, 1e-40], F32))
    assert np.signbit(hy[0]) and hy[0] == 0 and not np.signbit(hy[1]) and np.all(np.isnan(hy[2:5]))
    assert list(hy[5:7]) == [inf, -inf] and np.isnan(hy[7]) and hy[8] == F32(1e-40)
    sy = evaluate(whole32["asinh"], np.array([-0.0, 0.0, nan, inf, -inf, 3e38, -3e38, 1e-40], F32))
    assert np.signbit(sy[0]) and sy[0] == 0 and not np.signbit(sy[1]) and np.isnan(sy[2])
    assert list(sy[3:5]) == [inf, -inf] and sy[5] == F32(np.arcsinh(3e38)) and sy[6] == -sy[5]
    assert sy[7] == F32(1e-40)
    cy = evaluate(whole32["acosh"], np.array([1.0, nan, inf, -inf, 0.5, -2.0, 3e38], F32))
    assert cy[0] == 0 and np.isnan(cy[1]) and cy[2] == inf and np.all(np.isnan(cy[3:6]))
    assert cy[6] == F32(np.arccosh(3e38))


@pytest.mark.parametrize("name,fn,lo,hi", [("exp", np.exp, -87.0, 88.0), ("exp2", np.exp2, -126.0, 127.0),
                                           ("log", np.log, 1e-44, 3e38), ("log2", np.log2, 1e-44, 3e38),
                                           ("sin", np.sin, -math.pi, math.pi), ("cos", np.cos, -math.pi, math.pi),
                                           ("sin_wide", np.sin, -1e5, 1e5),
                                           ("erf", scipy.special.erf, -5.0, 5.0),
                                           ("tanh", np.tanh, -12.0, 12.0), ("sinh", np.sinh, -89.0, 89.0),
                                           ("cosh", np.cosh, -89.0, 89.0), ("expm1", np.expm1, -20.0, 89.0),
                                           ("log1p", np.log1p, -0.999, 30.0), ("atan", np.arctan, -40.0, 40.0),
                                           ("atanh", np.arctanh, -0.9999, 0.9999), ("asinh", np.arcsinh, -50.0, 50.0),
                                           ("acosh", np.arccosh, 1.0, 1e30)])
def test_templates_with_fpminimax_cores_are_accurate(whole32, name, fn, lo, hi):
    rng = np.random.default_rng(5)
    x = (np.exp(rng.uniform(math.log(lo), math.log(hi), 200_000)) if lo > 0 else rng.uniform(lo, hi, 200_000)).astype(F32)
    err = ulp_error(evaluate(whole32[name], x), fn(x.astype(np.float64)), "float32")
    assert np.max(err) <= 1.0


def _near_quadrant_multiples(limit: float) -> np.ndarray:
    """The float32 inputs of ``|x| <= limit`` nearest each multiple of pi/2 and their two
    neighbours on each side: where ``x - k pi/2`` cancels to its last bits (down to about
    1e-9), the hard cases of a sin/cos range reduction."""
    k = np.arange(1, int(limit / (math.pi / 2)) + 1, dtype=np.float64)
    out = [(k * (math.pi / 2)).astype(F32)]
    for toward in (F32(np.inf), F32(-np.inf)):
        step = out[0]
        for _ in range(2):
            step = np.nextafter(step, toward)
            out.append(step)
    out = np.concatenate(out)
    out = out[np.abs(out) <= limit]
    return np.concatenate([out, -out])


@pytest.mark.parametrize("name,fn", [("sin_wide", np.sin), ("cos_wide", np.cos)])
def test_wide_sincos_reduction_on_its_hard_cases(whole32, name, fn):
    """The wide reduction (r1 + k p2 by Fast2Sum, exact because r1 is a multiple of
    ulp(k p2)) on the float32 inputs nearest every multiple of pi/2 up to 1e5, where the
    reduced argument cancels to about 1e-9: within 1 ULP against float64 sin and cos
    (whose own reduction is exact). A sum that dropped its rounding error fails here."""
    x = _near_quadrant_multiples(1e5)
    assert len(x) > 600_000 and np.min(np.abs(fn(x.astype(np.float64)))) < 1e-8
    err = ulp_error(evaluate(whole32[name], x), fn(x.astype(np.float64)), "float32")
    assert np.max(err) <= 1.0


def test_float64_wide_sin_near_multiples_of_half_pi():
    """float64 sin_wide (|x| <= 2**20) on the doubles nearest 1000 random multiples of
    pi/2 and their neighbours (results down to 2e-15), against mpmath: within 1 ULP."""
    from discover.approx.reference import exact

    t = TEMPLATES["sin_wide"]
    core = next(b for b in bl.baselines(t.core("float64"), "float64", [6], families=("fpminimax",))).slp
    k = np.random.default_rng(2).integers(1, int(2**20 / (math.pi / 2)), 1000)
    with mp.workprec(200):
        x = np.array([float(mp.mpf(int(j)) * mp.pi / 2) for j in k])
    x = np.concatenate([x, np.nextafter(x, np.inf), np.nextafter(x, -np.inf)])
    ref_hi, ref_lo = exact(NAMED["sin"], x)
    assert np.min(np.abs(ref_hi)) < 1e-13
    assert np.max(ulp_error(evaluate(wrap(t, core)[0], x), ref_hi, "float64", ref_lo)) <= 1.0


@pytest.mark.parametrize("name,lo,hi", [("atanh", 1e-12, 0.999), ("asinh", 1e-12, 1e6), ("log1p", 1e-12, 1e6),
                                         ("acosh", 1.0 + 1e-12, 1e6)])
def test_float64_log_templates_are_accurate_near_zero(name, lo, hi):
    """float64 log1p, atanh, asinh, acosh with a degree-6 core, against mpmath, on magnitudes
    log-uniform down to 1e-12 (from 1 for acosh): the near-zero series of the log1p wrapper
    hands over where float64's needs it (2**-26), not float32's 2**-12, which left
    float64 atanh 2577 and asinh 32,000 ULP off between the two."""
    from discover.approx.reference import exact

    t = TEMPLATES[name]
    core = next(b for b in bl.baselines(t.core("float64"), "float64", [6], families=("fpminimax",))).slp
    rng = np.random.default_rng(11)
    if name == "acosh":
        x = 1.0 + np.exp(rng.uniform(math.log(lo - 1.0), math.log(hi), 3000))
    else:
        x = np.exp(rng.uniform(math.log(lo), math.log(hi), 3000)) * rng.choice([-1.0, 1.0], 3000)
        x = x if name != "log1p" else np.maximum(x, -0.999)
    ref_hi, ref_lo = exact(NAMED[name], x)
    assert np.max(ulp_error(evaluate(wrap(t, core)[0], x), ref_hi, "float64", ref_lo)) <= 1.0


def test_exhaustive_verification_on_a_small_domain(whole32):
    """Every float32 in [1, 1.25] (2**21 inputs) through the compiled kernel."""
    assert sum(c.size for c in float32_range(1.0, 1.25)) == 2**21 + 1
    v = verify(whole32["exp"], NAMED["exp"], (1.0, 1.25))
    assert v.method == "exhaustive" and v.points == 2**21 + 1
    assert v.max_ulp <= 1.0 and 1.0 <= v.worst_input <= 1.25 and v.correctly_rounded > 0.9
    # a program that is off by a constant is caught
    b = Builder("float32")
    bad = b.done(b.emit("mul", b.splice(whole32["exp"], 0), b.const(1 + 2.0**-20)))
    assert verify(bad, NAMED["exp"], (1.0, 1.25)).max_ulp > 3


def test_float64_sample_covers_the_reduced_interval_densely():
    """A third of a float64 verification sample lies in [-8, 8]: the part of a reduction's
    period where a core's worst error sits gets hundreds of points, not the ten or so a
    half-uniform, half-log-uniform sample gave (which missed a 1.18-ULP log program)."""
    from discover.approx.verify import DENSE_WINDOW, sample

    x = sample((0.0, math.inf), 200_000, 0)
    assert x.min() == 0.0 and x.max() == np.finfo(np.float64).max and x.size >= 200_000
    assert np.count_nonzero((x >= 1.4) & (x < 1.5)) >= 600
    x = sample((-745.0, 709.0), 200_000, 0)
    assert np.count_nonzero((x >= 0.3) & (x < 0.3 + math.log(2) / 8)) >= 300
    assert np.count_nonzero((x >= DENSE_WINDOW[0]) & (x <= DENSE_WINDOW[1])) >= 200_000 // 3
    x = sample((1e30, 1e31), 3000, 0)   # no part in the window: uniform over the domain instead
    assert x.min() >= 1e30 and x.max() <= 1e31 and np.count_nonzero(x > 5e30) > 1000


def test_ulp_error_is_the_definition_bit_for_bit_and_writes_into_out():
    """The lean ULP error (exponent bits of y, no floor(log2)) gives the bits of
    ``|f - y| / ulp(y)`` everywhere, specials and subnormals included, and fills ``out``."""
    from discover.approx.ulp import _special_error

    rng = np.random.default_rng(3)
    y = np.concatenate([rng.standard_normal(20_000) * np.exp(rng.uniform(-700, 700, 20_000)),
                        [0.0, -0.0, np.inf, -np.inf, np.nan, 1e-320, 2.0**-126, 2.0**-149, 1.7e308, 3.5e38]])
    with np.errstate(all="ignore"):
        for dtype in ("float32", "float64"):
            f = np.where(rng.random(y.size) < 0.5, y, y * (1 + 1e-6 * rng.standard_normal(y.size))).astype(dtype)
            f[::97] = np.inf
            f[::89] = np.nan
            expected = np.abs(f.astype(np.float64) - y) / ulp(y, dtype)
            special = ~(np.isfinite(f) & np.isfinite(y))   # the rules of the module docstring
            expected[special] = _special_error(f[special].astype(np.float64), y[special], dtype)
            out = np.empty(y.size)
            got = ulp_error(f, y, dtype, out=out)
            assert got is out and same_bits(got, expected)


def test_float32_sweep_in_blocks_gives_the_one_pass_result(whole32, monkeypatch):
    """The sweep runs in chunks, each in cache-sized blocks made in place: the maximum, the
    first input where it occurs and the correctly rounded count are those of one pass over
    every input (exp on [80, 100]: overflow to inf included; a chunk and a block that are
    not whole)."""
    from discover.approx import verify as verify_module

    monkeypatch.setattr(verify_module, "CHUNK", 1 << 19)
    monkeypatch.setattr(verify_module, "BLOCK", 3000)
    x = np.concatenate(list(float32_range(80.0, 100.0)))
    err = ulp_error(evaluate(whole32["exp"], x), NAMED["exp"].np_fn(x.astype(np.float64)), "float32")
    v = verify(whole32["exp"], NAMED["exp"], (80.0, 100.0))
    assert (v.points, v.max_ulp, v.worst_input) == (x.size, float(err.max()), float(x[np.argmax(err)]))
    assert v.correctly_rounded == np.count_nonzero(err <= 0.5) / x.size and not v.stopped


def test_verification_with_stop_above_stops_at_a_witness_and_never_passes_early(whole32, monkeypatch):
    """A candidate above the goal is found on a random screen of its inputs, else at the
    first chunk above it, and the check stops there (a rejected candidate cost a whole
    sweep: 4.3e9 inputs for exp); a program within the goal is still checked on every
    input."""
    from discover.approx import verify as verify_module

    b = Builder("float32")
    bad = b.done(b.emit("mul", b.splice(whole32["exp"], 0), b.const(1 + 2.0**-20)))
    monkeypatch.setattr(verify_module, "SCREEN", 1 << 10)   # [1, 1.25] holds 2**21 + 1 floats
    v = verify(bad, NAMED["exp"], (1.0, 1.25), stop_above=1.0)
    assert v.stopped and v.points == 1 << 10 and v.max_ulp > 3 and 1.0 <= v.worst_input <= 1.25
    monkeypatch.setattr(verify_module, "SCREEN", 1 << 30)   # no screen: the sweep stops at its first chunk
    monkeypatch.setattr(verify_module, "CHUNK", 1 << 18)
    v = verify(bad, NAMED["exp"], (1.0, 1.25), stop_above=1.0)
    assert v.stopped and v.points == 1 << 18 and v.max_ulp > 3
    monkeypatch.setattr(verify_module, "SCREEN", 1 << 10)
    full = verify(whole32["exp"], NAMED["exp"], (1.0, 1.25))
    v = verify(whole32["exp"], NAMED["exp"], (1.0, 1.25), stop_above=1.0)
    assert not v.stopped and v.points == full.points == 2**21 + 1 and v.max_ulp == full.max_ulp <= 1.0


# ----------------------------------------------------------------------------- the search


def test_short_search_beats_taylor_and_minimax_of_equal_cost_on_exp2():
    settings = ApproxSettings(dtype="real", domain=(0.0, 1.0), max_evaluations=150, seed=0)
    result = run("exp2", settings)
    by_cost = {r.cost: r.error for r in result.front}
    base = {b.name: b.error for b in result.baselines}
    assert by_cost[6] < base["taylor-3 horner"]
    best8 = min(e for c, e in by_cost.items() if c <= 8)
    assert best8 < base["minimax-4 horner"] / 3           # a rational form beats the polynomial
    again = run("exp2", settings)
    assert [(r.cost, r.error) for r in again.front] == [(r.cost, r.error) for r in result.front]


def test_plot_has_the_front_and_the_error_curve(tmp_path):
    from discover.approx.plot import plot_run

    result = run("exp2", ApproxSettings(dtype="real", domain=(0.0, 1.0), max_evaluations=20))
    chosen = min(range(len(result.front)), key=lambda i: result.front[i].error)
    path = tmp_path / "front.png"
    fig = plot_run(result, chosen, path)
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 20_000
    left, right = fig.axes
    assert left.get_xlabel() == "operations" and left.get_yscale() == "log"
    assert right.get_ylabel() == "relative error"
    labels = [t.get_text() for t in right.get_legend().get_texts()]
    assert any(t.startswith("search") for t in labels) and any(t.startswith("minimax") for t in labels)
    # the search's curve lies below the equal-cost minimax curve everywhere it is plotted
    ys = {line.get_label(): line.get_ydata() for line in right.get_lines()}
    search = next(v for k, v in ys.items() if k.startswith("search"))
    base = next(v for k, v in ys.items() if k.startswith("minimax"))
    assert np.nanmax(search) < np.nanmax(base)


@pytest.mark.parametrize("spec,template", [("exp", "exp"), ("log", "log_table" if log_table_template() else "log"),
                                           ("erf", "erf"), ("sin", "sin")])
def test_search_on_float32_templates_finds_a_program_within_one_ulp(spec, template):
    result = run(spec, ApproxSettings(dtype="float32", max_evaluations=10, train_points=2048))
    assert result.task.template.name == template
    chosen = select(result.front, 1.0)
    assert chosen is not None and result.front[chosen].error <= 1.0
    # and on fresh inputs of the domain, not only the training ones
    lo, hi = {"exp": (-87, 88), "log": (1e-30, 1e30), "erf": (-5, 5), "sin": (-math.pi, math.pi)}[spec]
    rng = np.random.default_rng(9)
    x = (np.exp(rng.uniform(math.log(lo), math.log(hi), 20_000)) if lo > 0 else rng.uniform(lo, hi, 20_000)).astype(F32)
    ref = NAMED[spec].np_fn(x.astype(np.float64))
    assert np.max(ulp_error(evaluate(result.front[chosen].full, x), ref, "float32")) <= 1.0


def _rows(*specs):
    """Candidates (name, cost, error) over distinct programs (their constant is the index)."""
    rows = []
    for k, (name, c, e) in enumerate(specs):
        b = Builder("float32")
        slp = b.done(b.emit("mul", 0, b.const(1.0 + k)))
        rows.append(Candidate(name, slp, slp, e, c, c))
    return rows


def test_choose_verified_stops_candidates_at_the_goal_skips_twins_and_completes_the_closest():
    from discover.approx.job import choose_verified, within_goal
    from discover.approx.verify import Verification

    rows = _rows(("search", 5, 0.9), ("minimax-3 horner", 5, 0.9), ("search", 6, 0.8), ("search", 7, 0.7))
    rows.append(Candidate("fpminimax-3 horner", rows[0].core, rows[0].full, 0.95, 5, 5))   # row 0's program
    order = within_goal(rows, 1.0)
    assert order == [1, 0, 4, 2, 3]   # a tie of cost and error: the baseline first
    calls = []

    def verify_one(program, stop_above):
        calls.append((program.instrs[1].value, stop_above))
        complete = stop_above is None
        return Verification("exhaustive", 100 if complete else 10, 1.0 + program.instrs[1].value / 10, 0.5,
                            0.9, 0.0, stopped=not complete)

    i, v, rejected = choose_verified(rows, order, 1.0, verify_one)
    # rows 1, 0 and 2 tried (row 4 is row 0's program: not again), each to its first miss;
    # the closest (row 0: 1.1) then checked in full
    assert calls == [(2.0, 1.0), (1.0, 1.0), (3.0, 1.0), (1.0, None)]
    assert i == 0 and not v.stopped and v.points == 100 and [k for k, _ in rejected] == [1, 0, 2]
    passing = lambda program, stop_above: Verification("exhaustive", 100, 0.9, 0.5, 0.9, 0.0)  # noqa: E731
    assert choose_verified(rows, order, 1.0, passing)[:2] == (1, passing(None, None))


def test_a_baseline_cheaper_or_more_accurate_than_the_search_is_selected_and_named(capsys, tmp_path, monkeypatch):
    """The pick is the cheapest program within the goal, then the most accurate, among the
    search's front and the baselines alike (a baseline at the search's cost and lower
    error used to lose to it): the result's front holds it under its name, the report
    says it is a baseline, the plot compares it with the search, and it is verified."""
    from discover import load_result
    from discover.approx import job

    real_run = job.run

    def run_with_a_weaker_search(spec, settings, progress=None):
        result = real_run(spec, settings, progress)
        best = min((b for b in result.baselines if b.error <= settings.max_ulp), key=lambda b: (b.cost, b.error))
        weaker = Candidate("search", best.core, best.full, best.error + 0.01, best.cost, best.main_cost)
        result.front = [weaker]
        return result

    monkeypatch.setattr(job, "run", run_with_a_weaker_search)
    out = tmp_path / "e.json"
    rc, text, _ = run_cli(capsys, ["approx", "exp(x)", "--domain", "0.5,0.53125", "--max-evaluations", "5",
                                   "--quiet", "--plot", str(tmp_path / "e.png"), "-o", str(out)])
    assert rc == 0
    result = load_result(out)
    chosen = result.front[result.selected]
    best = min((b for b in result.baselines if b["error"] <= 1.0), key=lambda b: (b["cost"], b["error"]))
    assert chosen["name"] == best["name"] != "search"   # it was the search's program, of higher error
    assert result.selected_name == best["name"]
    assert (chosen["cost"], chosen["error"]) == (best["cost"], best["error"])
    assert [r["name"] for r in result.front].count("search") == 1
    assert f"selected: {best['name']} (baseline), {best['cost']} operations" in text
    assert f"{best['name']} (baseline) (selected)" in text
    assert " s before, verification " in text and " s after); result written to" in text
    assert result.stats["verification_seconds"] >= result.verification["seconds"] and "baseline_seconds" in result.stats
    assert result.verification["method"] == "exhaustive" and result.verification["max_ulp"] <= 1.0
    from discover.approx.rebuild import baseline_program, run_from_result

    rebuilt = run_from_result(result)
    assert rebuilt.front[result.selected].is_baseline and not rebuilt.front[1 - result.selected].is_baseline
    assert result.program(result.selected, "core") == baseline_program(rebuilt.task, best["name"])
    # the plot: the baseline's curve (selected) beside the search's
    from discover.approx.plot import plot_run

    fig = plot_run(rebuilt, result.selected, tmp_path / "again.png", 1.0)
    labels = [line.get_label() for line in fig.axes[1].get_lines()]
    assert f"{best['name']}, selected ({best['cost']} ops)" in labels and f"search ({best['cost']} ops)" in labels


def test_a_result_is_rebuilt_with_its_own_template():
    """A float64 log result written with the ``log`` template (before the table template,
    or on a host without AVX-512) is rebuilt (plots, baselines) with that template, not the
    host's default: its baselines were drawn from the other one (526 ULP where the file
    said 0.77)."""
    from discover.approx.job import ApproxSettings, make_task, template_for
    from discover.approx.targets import target

    settings = ApproxSettings(dtype="float64")
    assert make_task("log", settings, "log").template is TEMPLATES["log"]
    assert make_task("log", settings, "log_table").template is TEMPLATES["log_table"]
    assert make_task("log", settings, None).template is template_for(target("log"), None, "float64")
    assert make_task("log", settings, "log").core.name != make_task("log", settings, "log_table").core.name


def test_baselines_come_from_the_disk_cache_on_the_second_run(tmp_path, monkeypatch):
    """The Remez fits behind the baselines took 4 s (float32) to 22 s (float64) of every
    run; the programs are kept, bit for bit, and a damaged entry is computed again."""
    from discover.approx import job
    from discover.approx.templates import TEMPLATES

    monkeypatch.setenv("DISCOVER_CACHE", str(tmp_path))
    core = TEMPLATES["exp"].core("float32")
    first = job.cached_baselines(core, "float32", [1, 2, 3])
    assert [b.slp for b in first] == [b.slp for b in bl.baselines(core, "float32", [1, 2, 3])]
    [entry] = (tmp_path / "approx").glob("baselines-*.json")

    def no_fit(*args, **kwargs):
        raise AssertionError("fitted again")

    monkeypatch.setattr(job, "baselines", no_fit)
    assert job.cached_baselines(core, "float32", [1, 2, 3]) == first
    with pytest.raises(AssertionError, match="fitted again"):   # other degrees: another entry
        job.cached_baselines(core, "float32", [1, 2])
    entry.write_text("[[1, 2")
    monkeypatch.undo()
    monkeypatch.setenv("DISCOVER_CACHE", str(tmp_path))
    assert job.cached_baselines(core, "float32", [1, 2, 3]) == first


# ----------------------------------------------------------------------------- CLI


def run_cli(capsys, argv):
    rc = main(argv)
    captured = capsys.readouterr()
    return rc, captured.out, captured.err


@pytest.mark.parametrize("argv,message", [
    (["nosuchfn"], "unknown function"),
    (["exp", "--domain", "2,1"], "empty domain"),
    (["exp", "--domain", "zero,1"], "invalid domain"),
    (["exp", "--max-ulp", "0.3"], "below 0.5"),
    (["exp", "--max-ulp", "nan"], "--max-ulp must be a finite number of ULPs (>= 0.5), not nan"),
    (["exp", "--dtype", "int8"], "unsupported precision"),
    (["tan", "--domain", "0,inf"], "unbounded"),
    (["exp", "--time-limit", "-1"], "--time-limit"),
    (["exp", "--plot", "front.svg"], "--plot"),
    (["exp", "--time-limit", "nan"], "--time-limit must be a positive number of seconds, not nan"),
    (["exp", "--seed", "-1"], "--seed must be an integer from 0 to 2**63 - 1, not -1"),
    (["exp(-x**2)", "--domain", "-2,-1", "--dtype", "bfloat8"], "unsupported precision"),   # "-2,-1": a value
    (["sin(x)/x"], "sin(x)/x is undefined (a pole or a singularity) at x = 0"),
    (["1/x", "--domain=-1,1", "--dtype", "real"], "1/x is undefined (a pole or a singularity) at x = 0"),
    (["log", "--domain=-2,-1"], "log is not real at x = -2"),
    (["sqrt(x)", "--domain=-1,1"], "sqrt(x) is not real at x = -1"),
    (["log", "--domain=0,1"], "log is infinite at x = 0"),
    (["tan(x)", "--domain=1,2"], "tan(x) is undefined (a pole or a singularity) at x = 1.5708"),   # between fit points
    # the first fit point rounded to 0 (outside [1e-20, 1]); the fit's own failure has its reason
    (["log(x)", "--domain=1e-20,1", "--time-limit", "2"], "cannot fit log(x) on [1e-20, 1] in float32: ZeroDivisionError"),
    (["exp", "--domain=0,1e40"], "exceeds float32's finite range"),
    (["exp", "--domain=0,1e40", "--dtype", "float64"], "exp overflows float64"),
    (["exp("], "cannot parse 'exp('"),
    (["exp(y)", "--domain", "0,1"], "expression 'exp(y)' uses 'y'; only x is allowed"),
    (["x/0", "--domain", "0,1"], "non-finite value zoo, a division by zero"),
    (["exp", "--domain", "100,200"], "exp overflows float32 at x = 100"),
    (["exp(-x**2)", "--domain", "20,30"], "exp(-x**2) underflows float32"),
    (["sin", "--domain", "1e30,1e31", "--no-verify", "--time-limit", "3"], "sin's range reduction covers |x| <= 100000"),
])
def test_bad_input_exit_2_one_line(capsys, tmp_path, argv, message):
    out = tmp_path / "r.json"
    out.write_text("keep")
    rc, _, err = run_cli(capsys, ["approx", *argv, "--quiet", "-o", str(out)])
    assert rc == 2 and message in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert out.read_text() == "keep"


def test_emit_path_that_is_a_directory_fails_before_the_search(capsys, tmp_path):
    """An --emit file that cannot be written is found before the search: one line, and the
    existing result file is left as it was (it used to be replaced, then the write failed)."""
    out = tmp_path / "r.json"
    out.write_text("keep")
    (tmp_path / "r.c").mkdir()
    rc, _, err = run_cli(capsys, ["approx", "exp", "--domain", "0,1", "--time-limit", "2", "--no-verify", "--quiet",
                                  "--emit", "c", "-o", str(out)])
    assert rc == 2 and err.strip() == (f"discover approx: error: cannot write {tmp_path / 'r.c'} (--emit c): "
                                       "it is a directory; give another -o")
    assert out.read_text() == "keep"


@pytest.mark.parametrize("output, extra", [("same.c", ["--emit", "c"]), ("same.ll", ["--emit", "llvm"]),
                                           ("approx_expf.h", ["--emit", "c"]), ("same.png", ["--plot", "same.png"])])
def test_outputs_that_would_overwrite_each_other_are_refused_before_the_search(capsys, tmp_path, monkeypatch,
                                                                               output, extra):
    """-o same.c --emit c wrote the C source over the result it had just reported written."""
    monkeypatch.chdir(tmp_path)
    rc, _, err = run_cli(capsys, ["approx", "exp", "--time-limit", "2", "--quiet", "-o", output, *extra])
    assert rc == 2 and "would write the same file" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / output).exists()


def test_unwritable_output_is_one_line(capsys, tmp_path):
    (tmp_path / "file").write_text("")
    out = tmp_path / "file" / "r.json"  # its "directory" is a file
    rc, _, err = run_cli(capsys, ["approx", "exp(x)", "--domain", "0.5,0.53125", "--max-evaluations", "5",
                                  "--no-verify", "--quiet", "-o", str(out)])
    assert rc == 2 and err.strip() == (f"discover approx: error: --output {out}: cannot write in {out.parent} "
                                       "(Not a directory)")   # tried before the search


@pytest.mark.skipif(shutil.which("cc") is None, reason="needs a C compiler")
def test_default_output_names_the_dtype_and_emit_object_reports_the_header(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    argv = ["approx", "exp(x)", "--domain", "0.5,0.53125", "--max-evaluations", "5", "--no-verify", "--quiet"]
    rc, text, _ = run_cli(capsys, [*argv, "--emit", "object", "--emit", "c"])
    assert rc == 0 and "object written to exp_x.float32.o and approx_exp_x_f_kernel.h" in text
    # the object holds the C file's array loop: both headers together, the object linked
    (tmp_path / "main.c").write_text(
        '#include <stdio.h>\n#include "approx_exp_x_f.h"\n#include "approx_exp_x_f_kernel.h"\n'
        "int main(void) { float x[2] = {0.5f, 0.53125f}, y[2]; approx_exp_x_f_array(2, x, y);\n"
        '  printf("%.6f %.6f\\n", y[0], y[1]); return 0; }\n')
    subprocess.run(["cc", "-O2", "-Wall", "-Wextra", "-Werror", "-o", "main", "main.c", "exp_x.float32.o", "-lm"],
                   check=True, cwd=tmp_path)
    printed = subprocess.run(["./main"], cwd=tmp_path, capture_output=True, text=True, check=True).stdout.split()
    assert [float(v) for v in printed] == pytest.approx([math.exp(0.5), math.exp(0.53125)], rel=1e-6)
    rc, text, _ = run_cli(capsys, [*argv, "--dtype", "float64"])
    assert rc == 0 and "result written to exp_x.float64.approx.json" in text
    assert json.loads((tmp_path / "exp_x.float32.approx.json").read_text())["dtype"] == "float32"
    assert json.loads((tmp_path / "exp_x.float64.approx.json").read_text())["dtype"] == "float64"
    assert (tmp_path / "exp_x.float32.o").exists() and (tmp_path / "approx_exp_x_f_kernel.h").exists()


@pytest.mark.skipif(shutil.which("cc") is None, reason="needs a C compiler")
def test_cli_end_to_end_writes_result_and_c_that_matches_the_kernel(capsys, tmp_path):
    out = tmp_path / "e.json"
    rc, text, _ = run_cli(capsys, ["approx", "exp(x)", "--domain", "0.5,0.53125", "--dtype", "float32",
                                   "--max-evaluations", "30", "--emit", "c", "--quiet", "-o", str(out)])
    assert rc == 0 and "minimax" in text and "verified (exhaustive" in text
    result = json.loads(out.read_text())
    assert result["schema"] == "discover.approx/1" and result["selected"] is not None
    v = result["verification"]
    assert v["method"] == "exhaustive" and v["points"] == 2**19 + 1 and v["max_ulp"] <= 1.0
    c_file = out.with_suffix(".c")
    lib = tmp_path / "libe.so"
    subprocess.run(["cc", "-O2", "-Wall", "-Wextra", "-Werror", "-shared", "-fPIC", "-o", str(lib),
                    str(c_file), "-lm"], check=True)
    names = [n for n in c_file.read_text().split() if n.endswith("_array(int64_t")]
    func = getattr(ctypes.CDLL(str(lib)), names[0].split("(")[0])
    x = np.linspace(0.5, 0.53125, 10001).astype(F32)
    y = np.empty_like(x)
    func(ctypes.c_int64(x.size), x.ctypes.data_as(ctypes.c_void_p), y.ctypes.data_as(ctypes.c_void_p))
    from discover.approx.result import decode_program

    full = decode_program(result["front"][result["selected"]], "float32")
    assert same_bits(y, evaluate(full, x))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_codegen_log_on_avx512_is_the_exported_program(dtype):
    """The stored AVX-512 log programs are what the exporter rebuilds (on any host), and on
    AVX-512 hosts codegen's default ``log`` kernel gives their bits, specials and subnormals
    included, within 1 ULP of mpmath."""
    import codegen
    from codegen import fastmath_programs
    from discover.approx.fastmath_export import as_data, baseline

    data = f"LOG_F{dtype[-2:]}_AVX512"
    slp = baseline("log", dtype, getattr(fastmath_programs, data + "_BASELINE"), avx512=True)
    assert repr(as_data(slp)) == repr(getattr(fastmath_programs, data))
    assert {"getexp", "getmant"} <= {ins.op for ins in slp.instrs}
    if not jit.has_feature("avx512f"):
        pytest.skip("codegen uses these programs on AVX-512 hosts only")
    rng = np.random.default_rng(8)
    info = np.finfo(dtype)
    x = np.concatenate([np.exp(rng.uniform(-80, 80, 100_000)), rng.uniform(0, 3, 10_000),
                        [0.0, -0.0, np.inf, -np.inf, np.nan, -1.0, 1.0, float(info.smallest_subnormal),
                         float(info.smallest_normal) / 3, float(info.max)]]).astype(dtype)
    got = codegen.compile("log(x)", "x", dtype=dtype)(x)
    assert same_bits(got, evaluate(slp, x))
    assert same_bits(got[-10:-4], np.array([-np.inf, -np.inf, np.inf, np.nan, np.nan, np.nan], dtype))
    pick = rng.choice(np.nonzero(x > 0)[0], 300, replace=False)
    with mp.workdps(40):
        exact_log = [mp.log(mp.mpf(float(v))) for v in x[pick]]
        hi = np.array([float(v) for v in exact_log])
        lo = np.array([float(v - mp.mpf(h)) for v, h in zip(exact_log, hi)])
    assert np.max(ulp_error(got[pick], hi, dtype, lo)) <= 1.0


def _f64_slow(name, scale):
    """float64 cases rebuild their baseline on mpmath references (cold cache: ~10 s each);
    test_fastmath checks codegen's float64 functions on dense samples in the fast run."""
    return pytest.param(name, "float64", scale, marks=pytest.mark.slow)


@pytest.mark.parametrize("name,dtype,scale", [("exp", "float32", 1.0), ("exp2", "float32", 1.45),
                                              ("tanh", "float32", 0.1), ("sinh", "float32", 1.0),
                                              ("cosh", "float32", 1.0), ("expm1", "float32", 1.0),
                                              ("log1p", "float32", 0.05), ("atan", "float32", 0.1),
                                              ("atanh", "float32", 0.0105), ("asinh", "float32", 1.0),
                                              ("acosh", "float32", 1.0), _f64_slow("tanh", 0.2),
                                              _f64_slow("sinh", 7.0), _f64_slow("cosh", 7.0),
                                              _f64_slow("expm1", 7.0), _f64_slow("atan", 0.1),
                                              _f64_slow("atanh", 0.0105), _f64_slow("acosh", 1.0)])
def test_codegen_functions_are_the_exported_programs(name, dtype, scale):
    """codegen's inline float32 exp, exp2, log1p, asinh and acosh, atanh, expm1, tanh, sinh,
    cosh, atan of both precisions (``math="fast"``) are the stored programs of this job: the data in
    codegen/fastmath_programs.py is what the exporter rebuilds from the named baseline,
    and the compiled default kernel gives the evaluator's bits, specials included, within
    1 ULP (float32 against float64 NumPy, float64 against mpmath on a subset)."""
    import codegen
    from codegen import fastmath_programs
    from discover.approx.fastmath_export import as_data, baseline
    from discover.approx.reference import exact

    data = f"{name.upper()}_F{dtype[-2:]}"
    slp = baseline(name, dtype, getattr(fastmath_programs, data + "_BASELINE"))
    assert repr(as_data(slp)) == repr(getattr(fastmath_programs, data))   # repr: NaN constants
    rng = np.random.default_rng(7)
    x = np.concatenate([rng.uniform(-110, 95, 200_000) * scale, rng.uniform(-1, 1, 10_000),
                        [0.0, -0.0, np.inf, -np.inf, np.nan, 88.72, 88.73, -103.9, -104.5, 127.9, -149.5,
                         710.4, 711.0, -745.0]]).astype(dtype)
    got = codegen.compile(f"{name}(x)", "x", dtype=dtype)(x)
    assert same_bits(got, evaluate(slp, x))
    finite = np.isfinite(x)
    if dtype == "float32":
        ref = NAMED[name].np_fn(x[finite].astype(np.float64))
        assert np.max(ulp_error(got[finite], ref, "float32")) <= 1.0
    else:
        some = x[finite][::200]
        hi, lo = exact(NAMED[name], some)
        assert np.max(ulp_error(got[finite][::200], hi, "float64", lo)) <= 1.0


def test_a_goal_no_baseline_reaches_is_not_blamed_on_the_time_limit(capsys, tmp_path):
    """A correctly rounded float32 log2 (0.5 ULP) is out of every baseline's reach (its
    rounding errors alone exceed it): more search time cannot help, and the message said
    to give it."""
    rc, text, _ = run_cli(capsys, ["approx", "log2", "--max-ulp", "0.5", "--time-limit", "2", "--no-verify",
                                   "--quiet", "-o", str(tmp_path / "l.json")])
    assert rc == 0 and "no baseline of any degree reaches it either" in text and "longer --time-limit" not in text


def test_the_run_says_first_that_the_verification_follows_the_time_limit(capsys, tmp_path, monkeypatch):
    """A 5 s run that then verified for a minute gave no word of it: the first line says
    what follows the search, --time-limit's help says what it bounds, and the status line
    shows the verification's inputs checked and the time left."""
    from discover.approx import verify as verify_module
    from discover.approx.job import ApproxSettings, baseline_rows, make_task
    from discover.approx_command import _verifier

    rc, _, err = run_cli(capsys, ["approx", "exp(x)", "--domain", "0.5,0.53125", "--max-evaluations", "5",
                                  "-o", str(tmp_path / "e.json")])
    assert rc == 0
    assert "then the search for 5 programs, then the pick is verified on every float32 input of [0.5, " \
           "0.53125] (524,289" in " ".join(err.split())
    with pytest.raises(SystemExit):
        main(["approx", "--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    assert "seconds of search (default 60). The baselines come before it" in help_text
    assert "the verification of the pick after it" in help_text

    class Status:
        def __init__(self):
            self.lines = []

        def update(self, text):
            self.lines.append(text)

    monkeypatch.setattr(verify_module, "CHUNK", 1 << 19)
    task = make_task("exp(x)", ApproxSettings(domain=(1.0, 1.25), max_evaluations=1))
    program = min((r for r in baseline_rows(task) if r.error <= 1), key=lambda r: r.cost).full
    status = Status()
    v = _verifier(status, "exp(x)", task, None)(program, None)
    assert v.points == 2**21 + 1 and not v.stopped and len(status.lines) == 1 + 5   # five chunks
    assert "on every float32 input (2,097,153)" in status.lines[0]
    assert "524,288 of 2,097,153 (25%)" in status.lines[1] and "s left" in status.lines[1]
