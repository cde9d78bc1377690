"""Verification of a whole-function program: every float32 input, or a stated float64 sample.

float32: the program is compiled (:mod:`codegen`, the kernel that ships) and run on every
float32 of the domain, in chunks of 2**22, against the float64 reference of the target;
the report gives the maximum ULP error, the input where it occurs, and the fraction of
inputs correctly rounded (error <= 0.5 ULP). float64: the same on a dense random sample
(log-uniform over the domain's magnitudes, uniform within the reduced interval's scale),
plus edge values, against the mpmath reference; the method is stated in the report.
"""

from __future__ import annotations

import os
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from codegen.kernel import Kernel

from .program import SLP, to_program
from .reference import exact, exact_float64
from .targets import Target
from .ulp import ulp_error

__all__ = ["Verification", "verify", "float32_range"]

CHUNK = 1 << 22


@dataclass(frozen=True)
class Verification:
    method: str                  # "exhaustive" | "sampled"
    points: int
    max_ulp: float
    worst_input: float
    correctly_rounded: float     # fraction with error <= 0.5 ULP
    seconds: float

    def to_dict(self) -> dict:
        return dict(self.__dict__)


def float32_range(a: float, b: float):
    """Chunks (uint32 bit patterns -> float32 arrays) of every float32 in ``[a, b]``."""
    lo, hi = np.float32(max(a, -np.finfo(np.float32).max)), np.float32(min(b, np.finfo(np.float32).max))
    if np.float32(a) > lo:
        lo = np.nextafter(lo, np.float32(np.inf))
    pieces = []
    if lo < 0:   # negative floats: bits 0x80000000 | m, larger m is more negative
        top = np.float32(min(hi, -0.0))
        pieces.append((0x80000000 | int(np.abs(top).view(np.uint32)), 0x80000000 | int(np.abs(lo).view(np.uint32))))
    if hi >= 0:
        start = np.float32(max(lo, 0.0))
        pieces.append((int(start.view(np.uint32)), int(hi.view(np.uint32))))
    for first, last in pieces:
        for s in range(first, last + 1, CHUNK):
            bits = np.arange(s, min(s + CHUNK, last + 1), dtype=np.uint64).astype(np.uint32)
            yield bits.view(np.float32)


def verify(slp: SLP, target: Target, domain: tuple[float, float], samples: int = 200_000,
           seed: int = 0, progress=None) -> Verification:
    start = time.monotonic()
    kernel = Kernel(to_program(slp, "approx"), True)
    worst, worst_x, total, good = -1.0, float("nan"), 0, 0
    if slp.dtype == "float32":
        method = "exhaustive"

        def check(x):
            err = ulp_error(kernel(x), exact_float64(target, x), "float32")
            i = int(np.argmax(err))
            return float(err[i]), float(x[i]), x.size, int(np.count_nonzero(err <= 0.5))

        # NumPy and the kernel release the GIL: chunks run on every core, in order
        with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
            for e, xe, size, ok in pool.map(check, float32_range(*domain)):
                if e > worst:
                    worst, worst_x = e, xe
                total += size
                good += ok
                if progress is not None:
                    progress(total)
    else:
        method = "sampled"
        x = sample(domain, samples, seed)
        hi, lo = exact(target, x)
        err = ulp_error(kernel(x), hi, "float64", lo)
        i = int(np.argmax(err))
        worst, worst_x, total, good = float(err[i]), float(x[i]), x.size, int(np.count_nonzero(err <= 0.5))
    return Verification(method, total, worst, worst_x, good / max(total, 1), time.monotonic() - start)


def sample(domain: tuple[float, float], n: int, seed: int, dtype: str = "float64") -> np.ndarray:
    """``n`` points of the domain: half uniform, half log-uniform in magnitude, plus edges."""
    rng = np.random.default_rng(seed)
    info = np.finfo(dtype)
    a, b = (max(v, -float(info.max)) if v < 0 else min(v, float(info.max)) for v in domain)
    uni = rng.uniform(a, b, n // 2)
    lo_mag = float(info.smallest_subnormal)
    mags = np.exp(rng.uniform(np.log(lo_mag), np.log(max(abs(a), abs(b))), n - n // 2))
    signs = np.where(rng.random(mags.size) < (0.5 if a < 0 < b else (0.0 if a >= 0 else 1.0)), -1.0, 1.0)
    logs = mags * signs
    logs = logs[(logs >= a) & (logs <= b)]
    edges = np.array([a, b, 0.0, -0.0, float(info.smallest_normal), float(info.smallest_subnormal), 1.0, -1.0])
    edges = edges[(edges >= a) & (edges <= b)]
    return np.concatenate([edges, uni, logs]).astype(dtype)
