"""ULP error and throughput of the inline fast-math kernels (:mod:`codegen.fastmath`).

For every function x precision: the JIT loop ``out[i] = f(in[i])`` is built by
:func:`codegen.fastmath_check.compile_map`, checked to be vectorised (``<N x T>`` in the
optimised IR, no call left), and measured:

* float32 exp/log/sin/cos/asin/acos/tanh/sinh/cosh/expm1/log1p/atan/cbrt/log2/log10: **every** float of the domain (``--exhaustive``, the default;
  minutes), against float64 NumPy;
* float64 (and float32 pow): a sample of ``--n`` points over the domain and its edges,
  against x87 long double NumPy, plus ``--mp`` points against mpmath at 40 digits;
* throughput on 10**7 elements of the sample, against NumPy's own function (``np.exp``,
  ``np.log``, ``np.sin``, ``np.cos``, ``np.power``) in the same run.

    python benchmarks/fastmath_ulp.py            # full (float32 sweeps: several minutes)
    python benchmarks/fastmath_ulp.py --quick    # sampled only, seconds

Prints a table and a summary line; exits 1 if a measured max exceeds ``ULP_BOUNDS``.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import mpmath as mp
import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from codegen import fastmath  # noqa: E402
from codegen import fastmath_check as fc  # noqa: E402

CHUNK = 1 << 22


def _segments32(name: str) -> list[tuple[float, float]]:
    """The float32 sweep: closed intervals [a, b] of non-negative magnitudes and their sign."""
    if name == "exp":
        return [(0.0, 89.0, 1), (0.0, 104.0, -1)]
    if name in ("log", "log2", "log10"):
        return [(float(np.finfo(np.float32).smallest_subnormal), float(np.finfo(np.float32).max), 1)]
    if name in ("asin", "acos"):
        return [(0.0, 1.0, 1), (0.0, 1.0, -1)]
    top = float(np.finfo(np.float32).max)
    if name in ("tanh", "sinh", "cosh", "atan", "cbrt"):
        return [(0.0, top, 1), (0.0, top, -1)]
    if name == "expm1":
        return [(0.0, 88.72, 1), (0.0, top, -1)]
    if name == "log1p":
        return [(0.0, top, 1), (0.0, float(np.nextafter(np.float32(1), np.float32(0))), -1)]
    b = fastmath.SINCOS_BOUND["float32"]
    return [(0.0, b, 1), (0.0, b, -1)]


def sweep32(kernel: fc.MapKernel) -> tuple[int, float, float, float]:
    """Every float32 of the domain: (count, max ULP, mean ULP, worst x)."""
    count, total, worst, worst_x = 0, 0.0, -1.0, float("nan")
    for a, b, sign in _segments32(kernel.name):
        lo, hi = (int(np.array([v], np.float32).view(np.uint32)[0]) for v in (a, b))
        for start in range(lo, hi + 1, CHUNK):
            x = np.arange(start, min(start + CHUNK, hi + 1), dtype=np.uint32).view(np.float32)
            if sign < 0:
                x = -x
            err = fc.measure(kernel, x)
            i = int(np.argmax(err))
            if err[i] > worst:
                worst, worst_x = float(err[i]), float(x[i])
            count += x.size
            total += float(err.sum())
    return count, worst, total / count, worst_x


SWEPT = ("exp", "log", "sin", "cos", "asin", "acos", "tanh", "sinh", "cosh", "expm1", "log1p", "atan", "cbrt", "log2",
         "log10")  # float32 functions swept exhaustively
# (the other float32 functions are computed in float64 and rounded once: 0.5 ULP + 2**-27)


def mp_check(kernel: fc.MapKernel, xs: tuple[np.ndarray, ...], n: int) -> float:
    """Max ULP error on the first ``n`` points against mpmath at 40 digits."""
    xs = [x[:n] for x in xs]
    got = kernel(*xs)
    ref = np.empty(n, np.longdouble)
    with mp.workdps(40):
        for i in range(n):
            v = fc.MPMATH[kernel.name](*(mp.mpf(float(x[i])) for x in xs))
            if not mp.isfinite(v) or v == 0:
                ref[i] = float(v)
                continue
            m, ex = mp.frexp(v)  # v = m * 2**ex; m as hi + lo, scaled in long double
            hi = float(m)
            ref[i] = np.ldexp(np.longdouble(hi) + np.longdouble(float(m - hi)), ex)
    return float(fc.ulp_error(got, ref, kernel.dtype).max())


def throughput(kernel: fc.MapKernel, xs: tuple[np.ndarray, ...], reps: int = 7) -> tuple[float, float]:
    """Elements per second of the kernel and of NumPy's function, both writing into one
    preallocated array, timed alternately (best of ``reps``) so that load on the machine
    hits both alike."""
    ref = fc.NUMPY[kernel.name]
    out = np.empty_like(xs[0])
    tk = tn = float("inf")
    with np.errstate(all="ignore"):
        for _ in range(reps):
            t = time.perf_counter()
            kernel(*xs, out=out)
            tk = min(tk, time.perf_counter() - t)
            t = time.perf_counter()
            ref(*xs, out=out)
            tn = min(tn, time.perf_counter() - t)
    return out.size / tk, out.size / tn


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="no float32 sweeps; smaller samples")
    ap.add_argument("--n", type=int, default=4_000_000, help="sample size (float64, float32 pow)")
    ap.add_argument("--mp", type=int, default=3000, help="points checked against mpmath")
    ap.add_argument("--only", nargs="*", default=None, help="function names to run")
    args = ap.parse_args(argv)
    n = 500_000 if args.quick else args.n
    names = args.only or sorted(fastmath.SUPPORTED)
    rows, ok = [], True
    head = (f"{'function':8} {'prec':7} {'method':10} {'points':>13} {'max ULP':>8} {'mean':>6} "
            f"{'mp max':>6} {'bound':>5} {'vec':>3} {'kernel Gel/s':>12} {'numpy Gel/s':>11} "
            f"{'speedup':>7}  worst x   | domain")
    print(head)
    print("-" * len(head))
    for name in names:
        for dtype in (np.float32, np.float64):
            prec = np.dtype(dtype).name
            kernel = fc.compile_map(name, dtype)
            assert kernel.vector_width() > 1 and not kernel.calls(), f"{name} {prec} did not vectorise"
            xs = fc.sample(name, dtype, n, seed=1)
            mpmax = mp_check(kernel, xs, args.mp) if prec == "float64" else float("nan")
            if prec == "float32" and name in SWEPT and not args.quick:
                method, (count, worst, mean, wx) = "exhaustive", sweep32(kernel)
            else:
                err = fc.measure(kernel, *xs)
                i = int(np.argmax(err))
                wx = ", ".join(f"{x[i]:.9g}" for x in xs)
                method, count, worst, mean = "sampled", err.size, float(err[i]), float(err.mean())
            big = fc.sample(name, dtype, 10_000_000, seed=2)
            kt, nt = throughput(kernel, big)
            bound = fastmath.ULP_BOUNDS[(name, prec)]
            ok &= worst <= bound and not (mpmax > bound)
            print(f"{name:8} {prec:7} {method:10} {count:13,d} {worst:8.3f} {mean:6.3f} {mpmax:6.3f} "
                  f"{bound:5.2f} {kernel.vector_width():3d} {kt / 1e9:12.3f} {nt / 1e9:11.3f} "
                  f"{kt / nt:7.2f}  {wx!s:9} | {fastmath.DOMAINS[(name, prec)]}", flush=True)
            rows.append((name, prec, worst, kt / nt))
    print(f"summary: {len(rows)} kernels, worst max ULP {max(r[2] for r in rows):.3f}, "
          f"speedup vs NumPy {min(r[3] for r in rows):.2f}x .. {max(r[3] for r in rows):.2f}x, "
          f"{'all within ULP_BOUNDS' if ok else 'BOUND EXCEEDED'}")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
