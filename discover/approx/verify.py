"""Verification of a whole-function program: every float32 input, or a stated float64 sample.

float32: the program is compiled (:mod:`codegen`, the kernel that ships) and run on every
float32 of the domain, in chunks of 2**22 on every core (each chunk in blocks of 2**14,
whose float64 temporaries stay in the core's cache), against the float64 reference of the
target; the report gives the maximum ULP error, the input where it occurs, and the fraction of
inputs correctly rounded (error <= 0.5 ULP). float64: the same on a random sample (a
third uniform over the domain, a third log-uniform over its magnitudes, a third uniform on
the domain's part within [-8, 8], where every range reduction's core interval is covered
many times over: ``DENSE_WINDOW``), plus edge values, against the mpmath reference; the
method is stated in the report.

With a Dask ``client`` the float32 sweep is split into shards of 2**26 inputs, one task
each, spread over the cluster's workers (each worker compiles the kernel once).

With ``stop_above`` (the goal, while candidates are tried in turn) a float32 program
that misses it costs little: :data:`SCREEN` random inputs of the domain are checked first,
and the sweep stops at the first chunk above it; the result is then a witness
(``stopped``), never a pass. A program is only ever reported within the goal after every
input of its domain was checked.
"""

from __future__ import annotations

import collections
import os
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from ..errors import UserError
from .emit import kernel as compile_kernel
from .program import SLP
from .reference import exact, exact_float64
from .targets import Target
from .ulp import ulp_error

__all__ = ["Verification", "verify", "float32_range", "float32_count", "SAMPLES"]

CHUNK = 1 << 22   # inputs per work item of the float32 sweep (a thread's task, one progress step)
# inputs per pass inside a chunk: the input, the kernel's output, the reference and the
# error of a block (float64: 128 KiB each) stay in the core's cache, and NumPy's
# temporaries come from the heap's free list, not fresh pages. float32 exp, one chunk on
# one core of an AMD EPYC (Zen 5): 98 ms in one pass (2**22; user and system time nearly
# equal), 49 ms with the leaner ULP error, 15 ms in blocks of 2**14 (2**15 and more: 64-74
# ms, their temporaries went back to the system between blocks; 2**13: 19 ms).
BLOCK = 1 << 14
SHARD = 1 << 26   # inputs per task when a Dask cluster verifies
SAMPLES = 200_000  # inputs of a float64 verification (:func:`sample`)
SCREEN = 1 << 20  # random inputs a float32 candidate is checked on before its sweep (with stop_above)
SHARD_TIMEOUT = 900.0  # seconds to wait for one shard (about 3 s of work on one core)
# A sampled verification spends a third of its points here: every template's reduction is
# periodic (in x for exp and sin/cos, in log2(x) for log), so a core's worst error shows up
# within a few periods near the origin, where uniform and log-uniform samples are thin.
DENSE_WINDOW = (-8.0, 8.0)


@dataclass(frozen=True)
class Verification:
    method: str                  # "exhaustive" | "sampled"
    points: int                  # inputs checked
    max_ulp: float
    worst_input: float
    correctly_rounded: float     # fraction with error <= 0.5 ULP
    seconds: float
    # the check stopped once an input was above ``stop_above`` (:func:`verify`): max_ulp
    # and worst_input are a witness that the program misses it, not the maximum
    stopped: bool = False

    def to_dict(self) -> dict:
        return dict(self.__dict__)


def float32_range(a: float, b: float):
    """Chunks (uint32 bit patterns -> float32 arrays) of every float32 in ``[a, b]``."""
    for first, last in _bit_chunks(a, b):
        yield np.arange(first, last + 1, dtype=np.uint64).astype(np.uint32).view(np.float32)


def _spans(first: int, last: int, size: int | None = None):
    """The bit patterns ``first..last`` (inclusive) as inclusive ``(start, end)`` pieces of
    at most ``size`` (default :data:`CHUNK`, read at the call)."""
    size = size or CHUNK
    for s in range(first, last + 1, size):
        yield s, min(s + size - 1, last)


def float32_bit_ranges(a: float, b: float) -> list[tuple[int, int]]:
    """Inclusive ranges of uint32 bit patterns that hold every float32 in ``[a, b]``."""
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
    return pieces


def _check_chunk(kernel, target: Target, x: np.ndarray) -> tuple[float, float, int, int]:
    """(max ULP error, its input (the first where it occurs), inputs, inputs within 0.5 ULP)
    of the float32 inputs ``x``."""
    err = ulp_error(kernel(x), exact_float64(target, x), "float32")
    i = int(np.argmax(err))
    return float(err[i]), float(x[i]), x.size, int(np.count_nonzero(err <= 0.5))


def _check_bits(kernel, target: Target, bits: tuple[int, int]) -> tuple[float, float, int, int]:
    """:func:`_check_chunk` of the float32s with the bit patterns ``bits[0]..bits[1]``
    (inclusive), a :data:`BLOCK` at a time in arrays made once."""
    first, last = bits
    size = min(BLOCK, last + 1 - first)
    lanes = np.arange(size, dtype=np.uint32)
    ints, y = np.empty(size, np.uint32), np.empty(size, np.float32)
    x64, err, ok = np.empty(size, np.float64), np.empty(size, np.float64), np.empty(size, bool)
    worst, worst_x, good = -1.0, float("nan"), 0
    with np.errstate(all="ignore"):
        for s in range(first, last + 1, size):
            m = min(size, last + 1 - s)
            x = np.add(lanes[:m], np.uint32(s), out=ints[:m]).view(np.float32)
            kernel(x, out=y[:m])
            np.copyto(x64[:m], x)
            e = ulp_error(y[:m], exact_float64(target, x64[:m]), "float32", out=err[:m])
            i = int(np.argmax(e))
            if e[i] > worst:
                worst, worst_x = float(e[i]), float(x[i])
            good += int(np.count_nonzero(np.less_equal(e, 0.5, out=ok[:m])))
    return worst, worst_x, last + 1 - first, good


def _bit_chunks(a: float, b: float):
    """``(first, last)`` bit patterns of every float32 in ``[a, b]``, :data:`CHUNK` at a time."""
    for first, last in float32_bit_ranges(a, b):
        yield from _spans(first, last)


def float32_count(a: float, b: float) -> int:
    """How many float32s lie in ``[a, b]`` (what an exhaustive verification checks)."""
    return sum(last + 1 - first for first, last in float32_bit_ranges(a, b))


def _in_order(pool: ThreadPoolExecutor, fn, items, window: int):
    """``fn(item)`` for each of ``items``, run on ``pool``, yielded in order, with at most
    ``window`` items in flight (``pool.map`` takes the whole iterable at once: every
    float32 chunk, 16 GiB for a whole-line domain, would be made before the first is done)."""
    pending = collections.deque()
    for item in items:
        pending.append(pool.submit(fn, item))
        if len(pending) >= window:
            yield pending.popleft().result()
    while pending:
        yield pending.popleft().result()


_KERNELS: dict = {}


def _verify_shard(slp: SLP, target_spec: str, first: int, last: int) -> list[tuple[float, float, int, int]]:
    """A Dask task: :func:`_check_chunk` over the bit patterns ``first..last``; the kernel
    is compiled once per worker process and program."""
    from .targets import target as resolve

    key = repr(slp)
    if key not in _KERNELS:
        _KERNELS.clear()
        _KERNELS[key] = compile_kernel(slp)
    tgt = resolve(target_spec)
    return [_check_bits(_KERNELS[key], tgt, span) for span in _spans(first, last)]


def _shard_results(client, slp: SLP, target: Target, domain):
    """Chunk results of the float32 sweep computed as tasks on ``client``, in input order
    (so that the reported worst input is the same as without a cluster)."""
    shards = [span for first, last in float32_bit_ranges(*domain) for span in _spans(first, last, SHARD)]
    futures = [client.submit(_verify_shard, slp, target.name, a, b, pure=False) for a, b in shards]
    finished = False
    try:
        for future in futures:
            try:
                yield from future.result(timeout=SHARD_TIMEOUT)
            except TimeoutError:
                raise UserError(f"a verification shard of {SHARD:,} inputs took over {SHARD_TIMEOUT:g} s on the "
                                "Dask cluster; are its workers alive?") from None
        finished = True
    finally:
        if not finished:   # a timeout, or the sweep stopped early (stop_above): nothing left running
            client.cancel(futures)


def _screen(kernel, target: Target, domain, n: int, seed: int = 0):
    """:func:`_check_chunk` of ``n`` float32 inputs of the domain drawn at random (uniform
    over its bit patterns, as the sweep weighs them), or None where the domain holds
    fewer than ``4 n`` floats (its sweep is quick)."""
    ranges = float32_bit_ranges(*domain)
    sizes = np.array([last + 1 - first for first, last in ranges], dtype=np.int64)
    if sizes.sum() < 4 * n:
        return None
    at = np.sort(np.random.default_rng(seed).integers(0, int(sizes.sum()), n))
    starts = np.cumsum(sizes) - sizes
    piece = np.searchsorted(starts, at, side="right") - 1
    bits = np.array([first for first, _ in ranges], dtype=np.int64)[piece] + (at - starts[piece])
    return _check_chunk(kernel, target, bits.astype(np.uint32).view(np.float32))


def verify(slp: SLP, target: Target, domain: tuple[float, float], samples: int = SAMPLES,
           seed: int = 0, progress=None, client=None, stop_above: float | None = None) -> Verification:
    """Verify ``slp`` (see the module docstring); ``client``: a ``distributed.Client`` to
    spread a float32 sweep over; ``progress(inputs checked)`` after each chunk;
    ``stop_above``: stop a float32 check at the first input found above it."""
    start = time.monotonic()
    kernel = compile_kernel(slp) if client is None or slp.dtype != "float32" else None
    worst, worst_x, total, good = -1.0, float("nan"), 0, 0
    stopped = False
    if slp.dtype == "float32":
        method = "exhaustive"
        if stop_above is not None:
            found = _screen(kernel or compile_kernel(slp), target, domain, SCREEN, seed)
            if found is not None and found[0] > stop_above:
                e, xe, size, ok = found
                return Verification(method, size, e, xe, ok / size, time.monotonic() - start, stopped=True)
        pool = None
        if client is not None:
            results = _shard_results(client, slp, target, domain)
        else:
            # NumPy releases the GIL in its loops: chunks run on every core, in order
            workers = os.cpu_count() or 1
            pool = ThreadPoolExecutor(max_workers=workers)
            results = _in_order(pool, lambda bits: _check_bits(kernel, target, bits), _bit_chunks(*domain), 2 * workers)
        try:
            for e, xe, size, ok in results:
                if e > worst:
                    worst, worst_x = e, xe
                total += size
                good += ok
                if progress is not None:
                    progress(total)
                if stop_above is not None and worst > stop_above:
                    stopped = True
                    break
        finally:
            if pool is not None:
                pool.shutdown(cancel_futures=True)
            if hasattr(results, "close"):
                results.close()   # a cluster's shards still queued are cancelled
    else:
        method = "sampled"
        x = sample(domain, samples, seed)
        hi, lo = exact(target, x)
        err = ulp_error(kernel(x), hi, "float64", lo)
        i = int(np.argmax(err))
        worst, worst_x, total, good = float(err[i]), float(x[i]), x.size, int(np.count_nonzero(err <= 0.5))
    return Verification(method, total, worst, worst_x, good / max(total, 1), time.monotonic() - start, stopped)


def sample(domain: tuple[float, float], n: int, seed: int, dtype: str = "float64") -> np.ndarray:
    """About ``n`` points of the domain: a third uniform, a third log-uniform in magnitude, a
    third uniform on the domain's part within ``DENSE_WINDOW`` (uniform again where that part
    is empty), plus edges."""
    rng = np.random.default_rng(seed)
    info = np.finfo(dtype)
    a, b = (max(v, -float(info.max)) if v < 0 else min(v, float(info.max)) for v in domain)
    third = n // 3
    uni = 2 * rng.uniform(a / 2, b / 2, third)   # halved: b - a may exceed the largest double
    lo_mag = float(info.smallest_subnormal)
    mags = np.exp(rng.uniform(np.log(lo_mag), np.log(max(abs(a), abs(b))), third))
    signs = np.where(rng.random(mags.size) < (0.5 if a < 0 < b else (0.0 if a >= 0 else 1.0)), -1.0, 1.0)
    logs = mags * signs
    logs = logs[(logs >= a) & (logs <= b)]
    wa, wb = max(a, DENSE_WINDOW[0]), min(b, DENSE_WINDOW[1])
    dense = rng.uniform(wa, wb, n - 2 * third) if wa < wb else 2 * rng.uniform(a / 2, b / 2, n - 2 * third)
    edges = np.array([a, b, 0.0, -0.0, float(info.smallest_normal), float(info.smallest_subnormal), 1.0, -1.0])
    edges = edges[(edges >= a) & (edges <= b)]
    return np.concatenate([edges, uni, logs, dense]).astype(dtype)
