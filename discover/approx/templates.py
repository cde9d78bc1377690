"""Range reduction: a program on a small interval, extended to every finite input.

A :class:`Template` names the *core* function the search approximates on a small
interval and wraps a core program into the whole function with a few exact (or
error-compensated) operations, all in the target precision and in the program's order:

* ``exp``: ``k = rint(x / ln2)``, ``r = x - k ln2`` by two ``fma`` with ``ln2`` split in
  two (Cody-Waite), ``|r| <= ln2/2``; ``e**x = ldexp(core(r), k)`` with ``core ~ e**r``
  (``scalef`` on AVX-512 hosts: one instruction, :func:`scale_op`).
  ``x`` is first clamped (ordered compares and selects, which a NaN fails, so NaN passes
  through the whole computation) so that ``k`` stays in range: results overflow to
  ``inf`` and underflow to 0 or a correctly scaled subnormal.
* ``exp2``: ``k = rint(x)``, ``r = x - k`` (exact), ``core ~ 2**r`` on ``[-1/2, 1/2]``.
* ``log`` / ``log2``: subnormals scaled by ``2**p``; ``x = 2**e m`` with ``m`` in
  ``[sqrt(1/2), sqrt(2))`` from the exponent bits; ``f = m - 1`` (exact);
  ``log(1 + f) = f - (h - s (h + z Q(z)))`` with ``s = f/(2+f)``, ``z = s**2``,
  ``h = f**2/2`` (fdlibm's arrangement; one division) and the core ``Q ~ (2 atanh(s) -
  2s)/s**3``; ``log x = e ln2 + log(1 + f)`` with ``e ln2_hi + f`` formed exactly (a
  16-bit ``ln2_hi`` and Fast2Sum) so that the large part rounds once
  (``log2``: ``e + log(1 + f)/ln2`` with ``f/ln2`` as an exact fma pair and ``e + f c1``
  by Fast2Sum; the same core). ``log(0) = -inf``, negative -> NaN,
  ``log(inf) = inf``. ``log1p``: ``1 + x = uh + ul`` by TwoSum, the log of ``uh`` with
  ``ul/uh`` added to its small part; ``atanh = log1p(v)/2`` with ``v = 2|x|/(1 - |x|)`` a
  pair (``1 - |x|`` by Fast2Sum, one division, the residual by fma); ``asinh``/``acosh`` =
  ``log1p(v)`` with ``v = a + a**2/(1 + sqrt(1 + a**2))`` / ``t + sqrt(t (t + 2))`` (``t = x -
  1``) as pairs, ``log(2|x|)`` from 2**12 on (the exponent bumped by one).
* ``log_table`` (``log`` on AVX-512 hosts, :func:`log_table_template`): ``x = 2**e m`` by
  ``getexp``/``getmant``; a 16-entry table indexed by ``m``'s top fraction bits (``lut16``,
  one ``vpermi2pd`` / ``vpermps``) gives ``invc ~ 1/c`` and ``log c`` as a pair; ``r = m
  invc - 1`` exact, ``log x = (e ln2_hi + lh) + (r + (r**2 P(r) + (e ln2_lo + ll)))`` with
  the core ``P ~ (log(1 + r) - r)/r**2`` on ``[-0.037, 0.0625]``; no division.
  ``log2_table`` (``log2`` there too): the same with ``-log2(invc)`` in the table, ``e +
  lh`` exact and ``r/ln2`` as an exact fma pair, core ``(log2(1 + r) - r/ln2)/r**2``.
* ``erf`` (float32): three pieces as in fdlibm, all evaluated and selected by ``|x|``:
  below 0.84375 ``x c0 + x (t S(t) + c0_lo)`` with the searched core ``S`` and ``t = x**2``
  carried as an exact pair; up to 1.25
  ``erf(1) + D(|x| - 1)``; above, ``1 - exp(-(x**2 + g(|x|)))`` with ``x**2`` as an exact
  pair and ``exp`` by Cody-Waite (``D``, ``g`` and the exponential's polynomial are fixed
  fpminimax parts). From 4 on the result rounds to +-1.
* ``sin`` / ``cos``: ``k = rint(2x / pi)`` (an fma with the shifter ``1.5 * 2**(p-1)``
  and a subtraction), ``r = x - k pi/2`` by three ``fma`` with
  ``pi/2`` split in three (the first step exact for ``|k| < 2**17``), ``|r| <= pi/4``;
  ``r = rh + rl`` is carried as a pair (``rl`` = the rounding error of ``rh`` recovered
  by ``fma`` plus the third part), ``t = (rh + rl)**2``; ``sin r = rh + (rh t S(t) + rl)``
  with the searched core ``S(t) ~ (sin(sqrt t) - sqrt t)/t**1.5`` and
  ``cos r = 1 + t P(t)`` with a fixed fpminimax ``P``; both are evaluated and the
  quadrant selects one and its sign. Two variants: ``sin``/``cos`` for ``[-pi, pi]``
  reduce ``|x|`` (``k`` in {0, 1, 2}, ``r1 - rh`` exact): ``cos x = cos|x|``, and
  ``sin x = copysign(sin|x|, x)`` since ``sin >= 0`` on ``[0, pi]`` (a special select for
  float32's pi, above the real pi); ``sin_wide``/``cos_wide`` for ``|x| <= 1e5`` (float32) /
  ``2**20`` (float64) reduce ``x``, form ``r1 + k p2`` exactly (the product as an fma
  pair, the sum by Fast2Sum, which is exact here because ``r1`` is a multiple of
  ``ulp(k p2)``: 4 operations more) and take ``k`` odd and ``k mod 4 >= 2`` from
  ``floor(k/2)``.

* ``tanh``, ``sinh``, ``cosh``: ``a = |x|``; near 0 (tanh below 0.5625, sinh below 1.125)
  ``a + (a t) S(t)`` with ``t = a**2`` and the searched core ``S``; above, ``e**r`` of the
  exp reduction as ``1 + m``, ``m = r + r (r W(r))`` (``W`` a fixed fpminimax part, or
  cosh's searched core), because a rounded ``e**r`` is a unit too coarse where the result
  is a difference or a sum: tanh ``= 1 - 2/D``, ``D = (2**k + 1) + 2**k m`` a Fast2Sum pair
  and the quotient corrected once; sinh/cosh ``= 2**(k-1) (d + (dl -+ 2**-2k q))`` with
  ``d + dl = 1 + m`` exactly and ``q = 1/(d + dl)`` corrected once.
* ``expm1``: ``2**k ((1 - 2**-k) + r + (r**2 W(r) + rl))`` on the same reduction, ``W``
  the searched core, ``1 - 2**-k`` and ``r**2`` as exact pairs, the large sum by TwoSum.
* ``atan``: ``atan|x| = atan(c) + atan(u)``, ``u = (|x| - c)/(1 + c|x|)`` with ``c`` in
  {0, 1/2, 1, 3/2} by the interval of ``|x|`` (fdlibm's breakpoints), ``u = -1/|x|`` and
  ``atan(c) = pi/2`` from 39/16 on; ``atan(u) = u + u t Q(t)``, ``t = u**2``, Q searched.

The operations that only treat special values (clamps, NaN and signed-zero selects) are
counted apart from the main path (:func:`main_path_cost`).
"""

from __future__ import annotations

import contextlib
import functools
import math
from dataclasses import dataclass
from typing import Callable

import mpmath as mp
import numpy as np

from codegen import jit
from codegen.exact import LUT_SIZE

from .baselines import Core
from .program import SLP, Builder, OPS_COST, live

__all__ = ["Template", "TEMPLATES", "wrap", "main_path_cost"]


def _split(value, parts: int, bits: int, first_bits: int | None = None) -> list[float]:
    """``value`` (a callable giving an mpf, or an mpf) as ``parts`` numbers of ``bits``
    significant bits each (the first of ``first_bits`` if given), summing to it (computed
    at 300 bits)."""
    out = []
    with mp.workprec(300):
        rest = value() if callable(value) else mp.mpf(value)
        for i in range(parts):
            with mp.workprec(first_bits if i == 0 and first_bits else bits):
                head = +rest
            out.append(float(head))
            rest -= head
    return out


_PREC = {"float32": 24, "float64": 53}
#: per dtype: clamp of exp's argument (beyond: exactly inf / 0), valid |x| of sin/cos
_EXP_CLAMP = {"float32": (-104.0, 89.0), "float64": (-746.0, 710.0)}
SINCOS_VALID = {"float32": 1e5, "float64": 2.0**20}

SPECIAL = "special"  # the tag of instructions that only handle special values


@dataclass(frozen=True)
class Template:
    name: str
    core_name: str
    core_fn: Callable            # mpf -> mpf, the core's target
    core_interval: Callable      # dtype -> (a, b)
    build: Callable              # (Builder, core SLP, dtype) -> (output id, special ids)
    valid: Callable              # dtype -> text: the domain the template covers
    # (rng, n, dtype) -> float64 array: where the whole function is scored while searching
    # (None: uniform on the domain); each reaches the reduction's pieces and special ranges
    training: Callable | None = None

    def core(self, dtype: str) -> Core:
        a, b = self.core_interval(dtype)
        return Core.of(self.core_name, self.core_fn, a, b)


class _B(Builder):
    """A builder that records which instructions only handle special values."""

    def __init__(self, dtype):
        super().__init__(dtype)
        self.special: set[int] = set()

    def sp(self, op, *operands, value=0.0):
        k = self.emit(op, *operands, value=value)
        self.special.add(k)
        return k


def _two_sum(b: _B, x: int, y: int) -> tuple[int, int]:
    """``x + y = s + e`` exactly (Knuth's TwoSum, no ordering needed)."""
    s_ = b.emit("add", x, y)
    bb = b.emit("sub", s_, x)
    return s_, b.emit("add", b.emit("sub", x, b.emit("sub", s_, bb)), b.emit("sub", y, bb))


def _fast_two_sum(b: _B, x: int, y: int) -> tuple[int, int]:
    """``x + y = s + e`` exactly for ``|x| >= |y|`` (or ``x = 0``): Fast2Sum."""
    s_ = b.emit("add", x, y)
    return s_, b.emit("sub", y, b.emit("sub", s_, x))


def _clamp(b: _B, lo: float, hi: float, x: int = 0) -> int:
    """``x`` clamped to ``[lo, hi]`` by selects on ordered compares (special-value
    operations): NaN fails both and passes through."""
    x = b.sp("select", b.sp("lt", x, b.const(lo)), b.const(lo), x)
    return b.sp("select", b.sp("gt", x, b.const(hi)), b.const(hi), x)


#: which operations templates use (:func:`x86_ops`): "host", "portable" or "avx512"
_OPS_MODE = ["host"]


@contextlib.contextmanager
def ops_mode(mode: str):
    """Build templates inside the block for ``mode``: "portable" without the AVX-512
    operations (programs fast on every host: codegen's exported fast-math programs),
    "avx512" with them whatever the host (codegen's AVX-512 variants), "host" as the host
    has them."""
    if mode not in ("host", "portable", "avx512"):
        raise ValueError(f"unknown operations mode {mode!r}")
    _OPS_MODE.append(mode)
    try:
        yield
    finally:
        _OPS_MODE.pop()


def x86_ops() -> bool:
    """Whether templates use the operations that are one AVX-512 instruction (``scalef``,
    ``getexp``, ``getmant``; generic code elsewhere): on AVX-512 hosts, or as
    :func:`ops_mode` says."""
    mode = _OPS_MODE[-1]
    return mode == "avx512" or (mode == "host" and jit.has_feature("avx512f"))


def scale_op() -> str:
    """The operation that applies ``2**k`` in the exp templates: ``scalef`` where it is one
    instruction (``vscalefps/pd``, :func:`x86_ops`), else ``ldexp`` (its clamp, a
    conversion and two exponent-bit factors). The same value there: the clamped ``x``
    keeps the integer ``k`` inside ``ldexp``'s range, and a NaN ``k`` comes with a NaN core."""
    return "scalef" if x86_ops() else "ldexp"


def _exp_like(base2: bool):
    def build(b: _B, core: SLP, dtype: str):
        lo, hi = _EXP_CLAMP[dtype]
        if base2:
            lo, hi = lo / float(np.log(2)), hi / float(np.log(2))
        x = _clamp(b, lo, hi)
        if base2:
            k = b.emit("rint", x)
            r = b.emit("sub", x, k)
        else:
            k = b.emit("rint", b.emit("mul", x, b.const(float(1 / mp.log(2)))))
            c1, c2 = _split(lambda: mp.log(2), 2, _PREC[dtype])
            r = b.emit("fma", k, b.const(-c1), x)
            r = b.emit("fma", k, b.const(-c2), r)
        return b.emit(scale_op(), b.splice(core, r), k)   # NaN: r is NaN, so is the result
    return build


def _log_split(b: _B, dtype: str, x: int = 0):
    """``x = 2**e (1 + f)`` with ``1 + f`` in ``[sqrt(1/2), sqrt(2))``; subnormals scaled
    by ``2**p`` first. Returns the ids of ``e`` and ``f`` (``f = m - 1`` is exact)."""
    info = np.finfo(dtype)
    p = info.nmant + 1
    tiny = b.sp("lt", x, b.const(float(info.smallest_normal)))
    xs = b.sp("select", tiny, b.sp("mul", x, b.const(2.0**p)), x)
    e, m = _halve_above_sqrt2(b, b.emit("logb", xs), b.emit("significand", xs))
    e = b.sp("sub", e, b.sp("select", tiny, b.const(float(p)), b.const(0.0)))
    f = b.emit("sub", m, b.const(1.0))
    return e, f


def _halve_above_sqrt2(b: _B, e: int, m: int) -> tuple[int, int]:
    """``2**e m`` with ``m`` above ``sqrt(2)`` rewritten as ``2**(e+1) (m/2)`` (exact)."""
    big = b.emit("gt", m, b.const(float(mp.sqrt(2))))
    m = b.emit("select", big, b.emit("mul", m, b.const(0.5)), m)
    return b.emit("select", big, b.emit("add", e, b.const(1.0)), e), m


def _log_split_x86(b: _B, dtype: str, x: int = 0):
    """``x = 2**e m`` with ``m`` in ``[3/4, 3/2)`` (float64: ``[3/4, sqrt(2)]``) by
    ``getexp`` and ``getmant`` (one AVX-512 instruction each, subnormals included): ``e =
    getexp(x) - getexp(m)`` (``m`` below 1: the exponent one up). Returns the ids of
    ``e``, ``f = m - 1`` (exact) and ``getexp(x)`` (infinite at +-0 and +-inf, where the caller selects the result);
    ``getmant`` is NaN for negative ``x``, -inf and NaN, and so the result."""
    e0 = b.emit("getexp", x)
    m = b.emit("getmant", x)
    e = b.emit("sub", e0, b.emit("getexp", m))
    if dtype == "float64":
        # f up to 1/2 costs float64 a unit (1.18 ULP near x = 1.48: h = f**2/2 and the
        # tail round at the result's scale); halve m above sqrt(2) as _log_split does
        e, m = _halve_above_sqrt2(b, e, m)
    return e, b.emit("sub", m, b.const(1.0)), e0


def _log_special(b: _B, y: int, x: int = 0) -> int:
    """log(inf) = inf, log(+-0) = -inf, log(x < 0) = NaN, NaN stays NaN."""
    y = b.sp("select", b.sp("eq", x, b.const(np.inf)), x, y)
    y = b.sp("select", b.sp("eq", x, b.const(0.0)), b.const(-np.inf), y)
    y = b.sp("select", b.sp("lt", x, b.const(0.0)), b.const(np.nan), y)
    return b.sp("select", b.sp("ne", x, x), x, y)


def _log_body(b: _B, core: SLP, dtype: str, x: int, base2: bool = False, ul: int | None = None,
              bump: int | None = None, split: tuple[int, int] | None = None) -> int:
    """``log(x)`` (``log2``) for finite ``x > 0``, before special values; ``ul``: the log of
    the pair ``x + ul`` (``|ul|`` below half a unit of ``x``), ``ul/x`` added to the small
    part (the next term, ``(ul/x)**2/2``, is below ``2**-2p``: where ``x`` is 1 and the
    result ``ul`` itself, half a unit at most); ``bump``: an integer added to the exponent
    (``log(2**bump x)``); ``split``: ``(e, f)`` already formed (:func:`_log_split_x86`)."""
    e, f = split or _log_split(b, dtype, x)
    if bump is not None:
        e = b.emit("add", e, bump)
    s_ = b.emit("div", f, b.emit("add", f, b.const(2.0)))
    z = b.emit("mul", s_, s_)
    h = b.emit("mul", b.emit("mul", f, f), b.const(0.5))
    tail = b.emit("fma", b.emit("neg", s_), b.emit("fma", z, b.splice(core, z), h), h)
    if base2:
        # log2 x = e + (f - tail)/ln2: f c (c = 1/ln2 = c1 + c2) as an exact fma pair,
        # e + f c1 by Fast2Sum; y = hi + (err + (pl + (f c2 - tail c1)))
        c1, c2 = _split(lambda: 1 / mp.log(2), 2, _PREC[dtype])
        p = b.emit("mul", f, b.const(c1))
        pl = b.emit("fma", f, b.const(c1), b.emit("neg", p))
        hi = b.emit("add", e, p)
        err = b.emit("add", b.emit("sub", e, hi), p)
        small = b.emit("fma", f, b.const(c2), b.emit("mul", tail, b.const(-c1)))
        return b.emit("add", hi, b.emit("add", err, b.emit("add", pl, small)))
    # log1p(f) = f - (h - s (h + z Q(z))), s = f/(2+f), z = s*s, h = f*f/2 (the fdlibm
    # arrangement), Q the core; ln2 = c1 + c2 with c1 of 16 bits, so e c1 is exact; hi = e
    # c1 + f with its error by Fast2Sum (|e c1| >= |f| or e = 0): y = hi + ((e c2 + err) -
    # tail) rounds the large part once
    c1, c2 = _split(lambda: mp.log(2), 2, _PREC[dtype], first_bits=16)
    ec1 = b.emit("mul", e, b.const(c1))
    hi = b.emit("add", ec1, f)
    err = b.emit("add", b.emit("sub", ec1, hi), f)
    low = b.emit("sub", b.emit("fma", e, b.const(c2), err), tail)
    if ul is not None:
        low = b.emit("add", low, b.emit("div", ul, x))
    return b.emit("add", hi, low)


#: where the near-zero series of :func:`_log1p_of` takes over: its relative error, about
#: ``|v|**3/4``, is 2**-38 (float32) and 2**-80 (float64) there, far below a unit
LOG1P_SERIES_BELOW = {"float32": 2.0**-12, "float64": 2.0**-26}


def _log1p_of(b: _B, core: SLP, dtype: str, v: int, vl: int | None = None, bump: int | None = None,
              near_zero: bool = False) -> int:
    """``log(2**bump (1 + v + vl))`` with special values (-1 -> -inf, below -> NaN, inf,
    NaN): ``1 + v = uh + ul`` exactly by TwoSum, ``vl`` added to ``ul``, :func:`_log_body`.
    ``near_zero``: a series below ``|v| =`` :data:`LOG1P_SERIES_BELOW` (see below)."""
    uh, ul = _two_sum(b, b.const(1.0), v)
    if vl is not None:
        ul = b.emit("add", ul, vl)
    y = _log_special(b, _log_body(b, core, dtype, uh, ul=ul, bump=bump), uh)
    if not near_zero:
        return y
    # small |v|: v + (v**2 (v/3 - 1/2) + vl) (the next term is v**4/4). Where 1 + v rounds
    # to 1 + 2**(1-p) the log's large and small parts cancel to a third of themselves, and
    # atanh and asinh (whose v carries a tail) reach a whole unit there without it
    t = b.emit("fma", b.emit("fma", v, b.const(1 / 3), b.const(-0.5)), b.emit("mul", v, v),
               vl if vl is not None else b.const(0.0))
    small = b.emit("add", v, t)
    near = b.emit("lt", b.emit("fabs", v), b.const(LOG1P_SERIES_BELOW[dtype]))   # false for asinh's far v
    return b.emit("select", near, small, y)


def _log_like(base2: bool):
    def build(b: _B, core: SLP, dtype: str):
        if not x86_ops():
            return _log_special(b, _log_body(b, core, dtype, 0, base2))
        e, f, e0 = _log_split_x86(b, dtype)
        y = _log_body(b, core, dtype, 0, base2, split=(e, f))
        # +-0 and +-inf: getexp is -inf, -inf, +inf, +inf and f = m - 1 is 0, -2, 0, NaN, so
        # e0 - f is log's -inf, -inf, +inf, NaN
        return b.sp("select", b.sp("eq", b.sp("fabs", e0), b.const(np.inf)), b.sp("sub", e0, f), y)
    return build


def _log2_quotient(r):
    """``(log2(1 + r) - r/ln2) / r**2`` (``-1/(2 ln2)`` at 0)."""
    return -1 / (2 * mp.log(2)) if r == 0 else (mp.log(1 + r, 2) - r / mp.log(2)) / (r * r)


def _log1p_quotient(r):
    """``(log(1 + r) - r) / r**2`` (-1/2 at 0)."""
    return -mp.mpf(1) / 2 if r == 0 else (mp.log1p(r) - r) / (r * r)


#: the table-driven log (:func:`_log_table`): ``lh`` and ``ln2_hi`` are multiples of this
#: grain, so that ``e ln2_hi + lh`` is exact for every exponent ``e`` (getexp's, subnormals
#: included): float64 ``|e| <= 1074`` (11 bits) times 42 bits, and ``|e ln2_hi + lh| < 2**10``
#: on a ``2**-42`` grid, fit 53 bits; float32 ``|e| <= 149`` (8 bits) times 16 bits, and
#: ``< 2**7`` on a ``2**-17`` grid, fit 24. log2's ``e + lh`` reaches ``2**11`` (float64)
#: and ``2**8`` (float32): ``2**-42`` and ``2**-16`` (:data:`_TABLE_GRAIN2`).
_TABLE_GRAIN = {"float64": 2.0**-42, "float32": 2.0**-17}
_TABLE_GRAIN2 = {"float64": 2.0**-42, "float32": 2.0**-16}


def _exact_invc(lo, hi) -> float:
    """The ``invc`` of the bucket ``[lo, hi)`` (within ``[3/4, 3/2)``) that keeps ``r = m
    invc - 1`` smallest among those for which ``fma(m, invc, -1)`` is exact: ``m`` is a
    multiple of ``2**-52`` (``2**-53`` below 1), so with ``invc`` of ``b`` significant bits
    ``m invc`` is a multiple of ``2**-58`` for ``b = 6`` (exact where ``|r| < 2**-5``) or
    of ``2**-57`` for ``b = 5`` (exact where ``|r| < 2**-4``)."""
    scale = 2 ** mp.floor(mp.log(2 / (lo + hi), 2))   # 1/c in [scale, 2 scale)
    best = None
    for bits, limit in ((6, 2**-5), (5, 2**-4)):
        grid = scale / 2 ** (bits - 1)
        centre = mp.nint(2 / (lo + hi) / grid)
        for k in range(int(centre) - 3, int(centre) + 4):
            ic = k * grid
            worst = max(abs(lo * ic - 1), abs(hi * ic - 1))
            if worst < limit and (best is None or worst < best[0]):
                best = (worst, float(ic))
    return best[1]


@functools.cache
def log_table(dtype: str = "float64", base2: bool = False) -> tuple[tuple[float, ...], tuple[float, ...],
                                                                   tuple[float, ...], tuple[float, float]]:
    """``(invc, lh, ll, (r_min, r_max))`` of the ``dtype`` log's 16-entry table (``base2``:
    log2's, whose ``L`` is ``-log2(invc)``, plus 1 for ``j >= 8``, on :data:`_TABLE_GRAIN2`).

    Bucket ``j`` holds the ``m = getmant(x)`` in ``[3/4, 3/2)`` whose top four fraction
    bits are ``j``: ``m`` in ``[1 + j/16, 1 + (j+1)/16)`` for ``j < 8`` (``x = 2**e m``),
    ``[(1 + j/16)/2, (1 + (j+1)/16)/2)`` for ``j >= 8`` (``x = 2**e (2m)``, ``e = getexp(x)``).
    ``invc`` is near the inverse of the bucket's centre (:func:`_exact_invc`), except
    ``invc = 1`` in the two buckets beside 1 (there ``log x`` is small and ``r`` itself must
    carry it);
    ``log x = e ln2 + L + log(1 + r)``, ``r = m invc - 1``, ``L = -log(invc)`` (plus ln2 for
    ``j >= 8``) split as ``lh`` (a multiple of :data:`_TABLE_GRAIN`, so ``e ln2_hi + lh`` is
    exact) plus ``ll`` (rounded to ``dtype``). ``(r_min, r_max)``: the range of ``r`` (the
    core's interval). ``invc`` and the range are the same for both precisions: with
    ``p``-bit ``m``, ``m invc`` is a multiple of ``2**-(p + 5)`` (``2**-(p + 4)``), which the
    ``p``-bit ``r`` holds below ``2**-5`` (``2**-4``)."""
    invc, lh, ll, r_lo, r_hi = [], [], [], 0.0, 0.0
    n, half = LUT_SIZE, LUT_SIZE // 2
    grain = (_TABLE_GRAIN2 if base2 else _TABLE_GRAIN)[dtype]
    with mp.workprec(300):
        log = (lambda v: mp.log(v, 2)) if base2 else mp.log
        for j in range(n):
            lo = (1 + mp.mpf(j) / n) / (1 if j < half else 2)
            hi = (1 + mp.mpf(j + 1) / n) / (1 if j < half else 2)
            ic = 1.0 if j in (0, n - 1) else _exact_invc(lo, hi)
            big = -log(ic) + (log(2) if j >= half else 0)
            head = mp.nint(big / grain) * grain
            invc.append(ic), lh.append(float(head)), ll.append(float(np.dtype(dtype).type(float(big - head))))
            r_lo, r_hi = min(r_lo, float(lo * ic - 1)), max(r_hi, float(hi * ic - 1))
    return tuple(invc), tuple(lh), tuple(ll), (r_lo, r_hi)


def log_table_template() -> bool:
    """Whether float32 and float64 log use the table (:func:`_log_table`): where ``lut16``,
    ``getexp`` and ``getmant`` are one instruction each (:func:`x86_ops`)."""
    return x86_ops()


def _log_table(b: _B, core: SLP, dtype: str):
    """``log x`` by :func:`log_table`: ``m = getmant(x)``, ``e = getexp(x)``, the three
    entries by ``lut16(m)``, ``r = fma(m, invc, -1)`` exact (:func:`_exact_invc`); ``w = e
    ln2_hi + lh`` exact; ``y = w + (r + (r**2 P(r) + (e ln2_lo + ll)))`` with the core ``P ~
    (log(1 + r) - r)/r**2``. Near 1 (``c = 1``, ``w = 0``) ``y = r + r**2 P``.  Elsewhere
    ``|w| >= 0.06`` and ``|r + ...| < 0.07`` (below ``2**-5`` where ``|w| < 2**-4``), so the
    inner sum's rounding is at most a quarter of a unit of ``y``: float32 0.762 ULP over
    every input with a degree-3 ``P``, without the Fast2Sum of ``w + r`` (3 operations)
    that an earlier form spent (0.642 ULP, and 1.41x NumPy against 1.62x in cache, Intel Xeon
    2026-12-07). Special values by one select on ``y``'s NaN."""
    return _log_table_body(b, core, dtype, False)


def _log2_table(b: _B, core: SLP, dtype: str):
    """``log2 x`` as :func:`_log_table` with log2's table (``e + lh`` exact) and ``r/ln2``
    as the exact pair ``p + pl`` (``p = r c1``, ``-pl = fma(r, -c1, p)``, ``c = 1/ln2 = c1 +
    c2``): ``y = (e + lh) + (p + (pl + (r c2 + (r**2 P(r) + ll))))``, ``P ~ (log2(1 + r) -
    r/ln2)/r**2``; near 1 ``y = p + (pl + ...)`` rounds once, elsewhere the inner sum is at
    most a quarter of a unit of ``y`` off, as for log (every term scaled by ``1/ln2``)."""
    return _log_table_body(b, core, dtype, True)


def _log_table_body(b: _B, core: SLP, dtype: str, base2: bool):
    """:func:`_log_table` (``base2`` False) or :func:`_log2_table` (True)."""
    invc, lh, ll, _ = log_table(dtype, base2)
    e = b.emit("getexp", 0)
    m = b.emit("getmant", 0)
    ic, h, l_ = (b.emit("lut16", m, *(b.const(v) for v in column)) for column in (invc, lh, ll))
    r = b.emit("fma", m, ic, b.const(-1.0))
    if base2:
        c1, c2 = _split(lambda: 1 / mp.log(2), 2, _PREC[dtype])
        w = b.emit("add", e, h)
        p = b.emit("mul", r, b.const(c1))
        minus_pl = b.emit("fma", r, b.const(-c1), p)    # p - r c1 exactly
        low = b.emit("fma", r, b.const(c2), b.emit("fma", b.emit("mul", r, r), b.splice(core, r), l_))
        y = b.emit("add", w, b.emit("add", p, b.emit("sub", low, minus_pl)))
    else:
        ln2_hi, ln2_lo = lh[-1], ll[-1]   # the last bucket: c = 1, L = ln2
        w = b.emit("fma", e, b.const(ln2_hi), h)
        low = b.emit("fma", e, b.const(ln2_lo), l_)
        y = b.emit("add", w, b.emit("add", r, b.emit("fma", b.emit("mul", r, r), b.splice(core, r), low)))
    # +-0 and +-inf: getexp is -inf, -inf, +inf, +inf and r is 0, -2, 0, NaN (getmant 1, -1,
    # 1, NaN; the c = 1 bucket), so e - r is log's -inf, -inf, +inf, NaN; y is then inf or
    # NaN (negative inputs: getmant's NaN), and only then NaN
    return b.sp("select", b.sp("ne", y, y), b.sp("sub", e, r), y)


def _log1p(b: _B, core: SLP, dtype: str):
    return b.sp("select", b.sp("eq", 0, b.const(0.0)), 0, _log1p_of(b, core, dtype, 0))   # +-0


#: asinh/acosh: from here on log(2|x|) (the neglected 1/(4x**2) is far below a unit of the
#: result), as log1p(|x| - 1) with the exponent bumped by one; below, the argument of
#: log1p is carried as a pair
HYPERBOLIC_ARG_BIG = {"float32": 2.0**12, "float64": 2.0**27}


def _sqrt_pair(b: _B, h: int, l: int) -> tuple[int, int]:
    """``sqrt(h + l)`` as ``(r, rl)``: ``r = sqrt(h)``, ``rl = (h - r**2 + l)/(2r)`` (the
    residual by fma; 0 where ``h`` is 0)."""
    r = b.emit("sqrt", h)
    rl = b.emit("div", b.emit("add", b.emit("fma", b.emit("neg", r), r, h), l), b.emit("add", r, r))
    return r, b.emit("select", b.emit("eq", h, b.const(0.0)), b.const(0.0), rl)


def _log_far_or_pair(b: _B, core: SLP, dtype: str, big: int, a: int, vh: int, vl: int,
                     near_zero: bool = False) -> int:
    """``log(2a)`` where ``big`` (``log1p(a - 1)`` with the exponent bumped by one: no
    overflow), else ``log1p(vh + vl)``."""
    one = b.const(1.0)
    vh = b.emit("select", big, b.emit("sub", a, one), vh)
    vl = b.emit("select", big, b.const(0.0), vl)
    return _log1p_of(b, core, dtype, vh, vl, b.emit("select", big, one, b.const(0.0)), near_zero)


def _asinh(b: _B, core: SLP, dtype: str):
    """``asinh|x| = log1p(v)``, ``v = a + a**2/(1 + sqrt(1 + a**2))`` as a pair (``a**2``
    exact, ``1 + a**2`` by TwoSum, the square root and the quotient corrected once);
    ``log(2a)`` from HYPERBOLIC_ARG_BIG on; ``copysign``."""
    a = b.emit("fabs", 0)
    top = b.const(HYPERBOLIC_ARG_BIG[dtype])
    big = b.emit("ge", a, top)
    c = b.sp("minnum", a, top)
    one = b.const(1.0)
    sq = b.emit("mul", c, c)
    sql = b.emit("fma", c, c, b.emit("neg", sq))
    th, tl = _two_sum(b, one, sq)
    r, rl = _sqrt_pair(b, th, b.emit("add", tl, sql))
    dh, dl = _fast_two_sum(b, one, r)                            # r >= 1
    dl = b.emit("add", dl, rl)
    inv = b.emit("div", one, dh)
    q = b.emit("mul", sq, inv)
    rho = b.emit("fma", b.emit("neg", q), dl, b.emit("add", b.emit("fma", b.emit("neg", q), dh, sq), sql))
    vh, vl = _two_sum(b, a, q)
    vl = b.emit("add", vl, b.emit("mul", rho, inv))
    return b.emit("copysign", _log_far_or_pair(b, core, dtype, big, a, vh, vl, near_zero=True), 0)


def _acosh(b: _B, core: SLP, dtype: str):
    """``acosh x = log1p(v)``, ``v = t + sqrt(t (t + 2))`` with ``t = x - 1`` (exact below
    HYPERBOLIC_ARG_BIG) and ``t**2 + 2t`` as a pair, the square root corrected once;
    ``log(2x)`` from HYPERBOLIC_ARG_BIG on; NaN below 1."""
    top = b.const(HYPERBOLIC_ARG_BIG[dtype])
    big = b.emit("ge", 0, top)
    one = b.const(1.0)
    t = b.emit("sub", b.sp("minnum", 0, top), one)
    sq = b.emit("mul", t, t)
    ph, pl = _two_sum(b, sq, b.emit("add", t, t))
    r, rl = _sqrt_pair(b, ph, b.emit("add", pl, b.emit("fma", t, t, b.emit("neg", sq))))
    vh, vl = _two_sum(b, t, r)
    y = _log_far_or_pair(b, core, dtype, big, 0, vh, b.emit("add", vl, rl))
    y = b.sp("select", b.sp("lt", 0, one), b.const(np.nan), y)
    return b.sp("select", b.sp("ne", 0, 0), 0, y)   # NaN (the clamp would make it finite)


def _atanh(b: _B, core: SLP, dtype: str):
    """``atanh|x| = log1p(v)/2``, ``v = 2|x|/(1 - |x|)`` as a pair: ``1 - |x|`` exactly
    (Fast2Sum), one division for ``1/(1 - |x|)``, ``v``'s residual by fma; ``copysign``.
    1 -> inf, above 1 -> NaN (log1p of a value below -1, or NaN) without a select."""
    a = b.emit("fabs", 0)
    one = b.const(1.0)
    dh = b.emit("sub", one, a)
    dl = b.emit("sub", b.emit("sub", one, dh), a)
    two_a = b.emit("add", a, a)
    inv = b.emit("div", one, dh)
    vh = b.emit("mul", two_a, inv)
    nvh = b.emit("neg", vh)
    rho = b.emit("fma", nvh, dl, b.emit("fma", nvh, dh, two_a))
    y = b.emit("mul", _log1p_of(b, core, dtype, vh, b.emit("mul", rho, inv), near_zero=True), b.const(0.5))
    return b.emit("copysign", y, 0)


def _cos_partner(dtype: str) -> SLP:
    """The fixed cosine part of the sin/cos templates: ``P(t) ~ (cos(sqrt t) - 1)/t`` on
    ``t <= (pi/4)**2`` (:func:`_partner`, within a quarter unit roundoff), so that
    ``cos r = fma(t, P(t), 1)``."""
    return _partner("(cos(sqrt t) - 1)/t", _cos_quotient, 0.0, _PIO4**2, dtype, _PREC[dtype] + 2)


def _cos_quotient(t):
    return -mp.mpf(1) / 2 if t == 0 else (mp.cos(mp.sqrt(t)) - 1) / t


def _sin_quotient(t):
    return -mp.mpf(1) / 6 if t == 0 else (mp.sin(mp.sqrt(t)) - mp.sqrt(t)) / (t * mp.sqrt(t))


def _atanh_quotient(z):
    """``(2 atanh(s) - 2 s) / s**3`` at ``z = s**2`` (2/3 at 0)."""
    if z == 0:
        return mp.mpf(2) / 3
    s = mp.sqrt(z)
    return (2 * mp.atanh(s) - 2 * s) / (s * z)


#: s = f/(2+f) for m = 1 + f in [sqrt(1/2), sqrt(2)]: |s| <= 3 - 2 sqrt(2); z = s**2 below
_S_MAX2 = float((3 - 2 * mp.sqrt(2)) ** 2) * 1.001
#: the same for m in [3/4, 3/2) (:func:`_log_split_x86`, float32): s < 1/5
_S_MAX2_X86 = 0.2**2 * 1.001

_PARTNERS: dict[tuple[str, str], SLP] = {}


def _partner(name: str, f, a: float, b: float, dtype: str, goal_bits: int) -> SLP:
    """A fixed fpminimax core of a template (not searched): the lowest degree whose minimax
    relative error is below ``2**-goal_bits``, coefficients in the format, Horner."""
    from .baselines import _fpminimax, fit_minimax, polynomial

    key = (name, dtype)
    if key not in _PARTNERS:
        core = Core.of(name, f, a, b)
        for degree in range(1, 17):
            if fit_minimax(core, degree, grid=300)[1] < 2.0**-goal_bits:
                break
        _PARTNERS[key] = polynomial(core, _fpminimax(core, degree, dtype), dtype)
    return _PARTNERS[key]


#: erf pieces (as fdlibm): |x| < ERF_SPLIT: x (c0 + t S(t)); up to ERF_MID: erf(1) + D(|x| - 1);
#: above: 1 - exp(-(x**2 + g(|x|))); beyond ERF_ONE (float32) erf rounds to +-1
ERF_SPLIT = 0.84375
ERF_MID = 1.25
ERF_ONE = {"float32": 4.0}


def _erf_g(a):
    """``-log(erfc(a)) - a**2``: smooth and slowly varying on [1, 4]."""
    return -mp.log(mp.erfc(a)) - a * a


def _erf_mid(s):
    return mp.erf(1 + s) - mp.erf(1)


def _erf_small(t):
    """``S(t) = (erf(x)/x - 2/sqrt(pi)) / t`` at ``t = x**2``."""
    c0 = 2 / mp.sqrt(mp.pi)
    if t == 0:
        return -c0 / 3
    x = mp.sqrt(t)
    return (mp.erf(x) / x - c0) / t


def _erf(b: _B, core: SLP, dtype: str):
    p = _PREC[dtype]
    top = ERF_ONE[dtype]
    c0h, c0l = _split(lambda: 2 / mp.sqrt(mp.pi), 2, p)
    # erf is odd: every piece is computed at a = |x| and the sign copied at the end
    absx = b.emit("fabs", 0)
    # |x| < 0.84375: erf a = a c0 + a (t S(t) + c0_lo), S the searched core, with
    # t = a**2 = t + tl exactly (the rounding of t would cost up to 0.3 ULP near 0.84)
    t = b.emit("mul", absx, absx)
    tl = b.emit("fma", absx, absx, b.emit("neg", t))
    sc = b.splice(core, t)
    w = b.emit("fma", t, sc, b.emit("fma", tl, sc, b.const(c0l)))
    # computed at a scaled by 2**64 (exact) and scaled back: near the smallest normals
    # the product a (c0_lo + ...) would otherwise round on the subnormal grid
    up = b.emit("mul", absx, b.const(2.0**64))
    small = b.emit("mul", b.emit("fma", up, b.const(c0h), b.emit("mul", up, w)), b.const(2.0**-64))
    # |x| >= 1: 1 - exp(-h), h = a**2 + g(a) with a**2 as an exact pair (hi, lo)
    a = b.sp("minnum", absx, b.const(top))
    hi = b.emit("mul", a, a)
    lo = b.emit("fma", a, a, b.emit("neg", hi))
    g = b.splice(_partner("-log(erfc(a)) - a**2", _erf_g, ERF_MID, top, dtype, p + 2), a)
    h = b.emit("add", hi, b.emit("add", lo, g))
    # exp(-h) = 2**-k e**r, r = k ln2 - h (Cody-Waite), e**r a fixed fpminimax polynomial
    k = b.emit("rint", b.emit("mul", h, b.const(float(1 / mp.log(2)))))
    c1, c2 = _split(lambda: mp.log(2), 2, p)
    r = b.emit("fma", k, b.const(c1), b.emit("neg", h))
    r = b.emit("fma", k, b.const(c2), r)
    er = b.splice(_partner("exp(r)", mp.exp, -_LN2_HALF, _LN2_HALF, dtype, p + 3), r)
    large = b.emit("sub", b.const(1.0), b.emit("ldexp", er, b.emit("neg", k)))
    # 0.84375 <= |x| < 1.25: erf(1) + D(|x| - 1) (|x| - 1 exact), D a fixed fpminimax
    d = b.splice(_partner("erf(1+s) - erf(1)", _erf_mid, ERF_SPLIT - 1, ERF_MID - 1, dtype, p + 2),
                 b.emit("sub", absx, b.const(1.0)))
    e1h, e1l = _split(lambda: mp.erf(1), 2, p)
    mid = b.emit("add", b.const(e1h), b.emit("add", d, b.const(e1l)))
    outer = b.emit("select", b.emit("lt", absx, b.const(ERF_MID)), mid, large)
    y = b.emit("copysign", b.emit("select", b.emit("lt", absx, b.const(ERF_SPLIT)), small, outer), 0)
    return b.sp("select", b.sp("ne", 0, 0), 0, y)
#: tanh pieces: |x| < TANH_SPLIT: x + x t S(t) (t = x**2, S the searched core); above,
#: 1 - 2/(e**2|x| + 1); from TANH_ONE on the result rounds to +-1 (2/(e**2a + 1) is below
#: a quarter unit of 1)
TANH_SPLIT = 0.5625
TANH_ONE = {"float32": 9.5, "float64": 19.5}
#: sinh: |x| < SINH_SPLIT: x + x t S(t); above, from e**|x|. sinh/cosh: e**|x| clamped at
#: HYPERBOLIC_CLAMP, where the result overflows
SINH_SPLIT = 1.125
HYPERBOLIC_CLAMP = {"float32": 90.0, "float64": 711.0}


def _odd_quotient(f, one):
    """``S(t) = (f(x)/x - 1) / t`` at ``t = x**2`` (``one`` at 0), for odd ``f`` with
    ``f'(0) = 1``."""
    def quotient(t):
        if t == 0:
            return one
        x = mp.sqrt(t)
        return (f(x) / x - 1) / t
    return quotient


def _expm1_quotient(r):
    """``(e**r - 1 - r) / r**2`` (1/2 at 0)."""
    return mp.mpf(1) / 2 if r == 0 else (mp.expm1(r) - r) / (r * r)


def _expm1_partner(dtype: str) -> SLP:
    """``W(r) ~ (e**r - 1 - r)/r**2`` on ``|r| <= ln2/2``: ``e**r - 1 = r + r (r W)``."""
    return _partner("(e**r - 1 - r)/r**2", _expm1_quotient, -_LN2_HALF, _LN2_HALF, dtype, _PREC[dtype] + 2)


def _reduce_ln2(b: _B, h: int, dtype: str) -> tuple[int, int, int]:
    """``(k, r1, r)``: ``k = rint(h/ln2)``, ``r1 = h - k c1`` (exact), ``r = r1 - k c2``
    rounded (Cody-Waite, ln2 = c1 + c2), ``|r| <= ln2/2``."""
    k = b.emit("rint", b.emit("mul", h, b.const(float(1 / mp.log(2)))))
    c1, c2 = _split(lambda: mp.log(2), 2, _PREC[dtype])
    r1 = b.emit("fma", k, b.const(-c1), h)
    return k, r1, b.emit("fma", k, b.const(-c2), r1)


def _reduce_ln2_pair(b: _B, h: int, dtype: str) -> tuple[int, int, int]:
    """``(k, r, rl)``: :func:`_reduce_ln2` with ``r``'s rounding error ``rl`` recovered
    (``r1 - r`` is exact, then ``- k c2`` by fma)."""
    k, r1, r = _reduce_ln2(b, h, dtype)
    c2 = _split(lambda: mp.log(2), 2, _PREC[dtype])[1]
    return k, r, b.emit("fma", k, b.const(-c2), b.emit("sub", r1, r))


def _expm1_reduced(b: _B, h: int, w: SLP, dtype: str) -> tuple[int, int]:
    """``(k, m)`` with ``e**h = 2**k (1 + m)``, ``m = r + r (r W(r))`` (:func:`_reduce_ln2`).
    ``m`` is within about a unit of itself, so ``1 + m`` carries a fraction ``|m|/(1 + m)
    <= 0.41`` of that."""
    k, _, r = _reduce_ln2(b, h, dtype)
    return k, b.emit("fma", b.emit("mul", r, b.splice(w, r)), r, r)


def _exp_pair(b: _B, h: int, w: SLP, dtype: str) -> tuple[int, int, int]:
    """``(k, d, dl)`` with ``e**h = 2**k (d + dl)``, ``dl`` below half a unit of ``d``:
    ``m = r + (r (r W(r)) + rl)`` (:func:`_reduce_ln2_pair`) rounds once (a fifth of a unit
    of ``1 + m``) and ``d + dl = 1 + m`` exactly (Fast2Sum)."""
    k, r, rl = _reduce_ln2_pair(b, h, dtype)
    m = b.emit("add", r, b.emit("fma", b.emit("mul", r, b.splice(w, r)), r, rl))
    return (k, *_fast_two_sum(b, b.const(1.0), m))


def _odd_small(b: _B, a: int, core: SLP) -> int:
    """``a + (a t) S(t)``, ``t = a**2``, for an odd function whose ``S`` term is below a/9:
    the roundings of ``t`` and ``a t`` cost a few hundredths of a unit."""
    t = b.emit("mul", a, a)
    return b.emit("fma", b.emit("mul", a, t), b.splice(core, t), a)


def _tanh(b: _B, core: SLP, dtype: str):
    a = b.emit("fabs", 0)
    small = _odd_small(b, a, core)
    # above: tanh a = 1 - q, q = 2/(E + 1), E = e**2a = 2**k (1 + m). q must be good to a
    # quarter unit of 1 while q itself reaches 1/2, so D = E + 1 is kept as a pair:
    # (2**k + 1) + 2**k m by Fast2Sum (|2**k m| < 2**k + 1; both parts exact for
    # k <= p - 1, and beyond their rounding is far below q's), q0 = 2/Dh and one
    # correction q = q0 + (2 - q0 Dh - q0 Dl) q0/2. The error left is m's own, a fifth of
    # a unit.
    c = b.sp("minnum", a, b.const(TANH_ONE[dtype]))
    k, m = _expm1_reduced(b, b.emit("add", c, c), _expm1_partner(dtype), dtype)
    one = b.const(1.0)
    hi = b.emit("add", b.emit("ldexp", one, k), one)
    lo = b.emit("ldexp", m, k)
    dh, dl = _fast_two_sum(b, hi, lo)
    two = b.const(2.0)
    q0 = b.emit("div", two, dh)
    nq0 = b.emit("neg", q0)
    rho = b.emit("fma", nq0, dl, b.emit("fma", nq0, dh, two))
    q = b.emit("fma", rho, b.emit("mul", q0, b.const(0.5)), q0)
    large = b.emit("sub", one, q)
    y = b.emit("copysign", b.emit("select", b.emit("lt", a, b.const(TANH_SPLIT)), small, large), 0)
    return b.sp("select", b.sp("ne", 0, 0), 0, y)   # NaN (the clamp would turn it into 1)


#: expm1: clamp of the argument (below, the result rounds to -1; above, it overflows)
EXPM1_CLAMP = {"float32": (-18.0, 89.0), "float64": (-38.0, 710.0)}


def _expm1(b: _B, core: SLP, dtype: str):
    """``e**x - 1 = 2**k ((1 - 2**-k) + r + (r**2 W + rl))``: ``1 - 2**-k`` and ``r``
    (and for float64 ``r**2/2``) summed by TwoSum (``1 - 2**-k`` as a Fast2Sum pair: it rounds for ``k >= p``; for
    ``k <= -p`` the result is -1), the small parts and the sum's error added before the
    one rounding, the scaling exact (so ``e**x`` near the overflow point stays finite);
    ``k = 0`` is ``r + r**2 W`` with ``r = x``."""
    x = _clamp(b, *EXPM1_CLAMP[dtype])
    k, r, rl = _reduce_ln2_pair(b, x, dtype)
    # r**2 W: with r**2 as an exact pair, one rounding (the term reaches a third of the
    # result where 1 - 2**-k and r cancel)
    w = b.splice(core, r)
    r2 = b.emit("mul", r, r)
    r2l = b.emit("fma", r, r, b.emit("neg", r2))
    if dtype != "float64":   # here, before the sum: the stored float32 program is rebuilt in this order
        tail = b.emit("fma", r2, w, b.emit("fma", r2l, w, rl))
    one = b.const(1.0)
    inv = b.emit("ldexp", one, b.emit("neg", k))
    big = b.emit("sub", one, inv)
    big_l = b.emit("sub", b.emit("sub", one, big), inv)   # Fast2Sum: 1 - 2**-k rounds for k >= p
    s_, err = _two_sum(b, big, r)
    if dtype == "float64":
        # r**2 W rounded at the scale of W reached 1.01 ULP where 1/2 + r cancels (k = 1,
        # r near -ln2/2): r**2/2 joins the pair exactly (TwoSum), and only r**2 (W - 1/2)
        # (W - 1/2 exact: W is near 1/2) rounds below it
        half = b.const(0.5)
        q = b.emit("sub", w, half)
        tail = b.emit("fma", r2, q, b.emit("fma", r2l, q, b.emit("add", b.emit("mul", r2l, half), rl)))
        s_, err2 = _two_sum(b, s_, b.emit("mul", r2, half))
        err = b.emit("add", err2, err)
    y = b.emit("ldexp", b.emit("add", s_, b.emit("add", err, b.emit("add", tail, big_l))), k)
    return b.sp("select", b.sp("eq", 0, b.const(0.0)), 0, y)   # -0 (and NaN passes the clamps)


#: atan: |x| is reduced to u = (|x| - c)/(1 + c|x|) with atan|x| = atan(c) + atan(u), c by
#: the interval of |x| (fdlibm's breakpoints); from the last one on u = -1/|x|, atan(c) = pi/2
ATAN_BREAKS = (7 / 16, 11 / 16, 19 / 16, 39 / 16)
ATAN_CENTRES = (0.5, 1.0, 1.5)
ATAN_U2 = (7 / 16) ** 2 * 1.001   # u**2 on the core interval (|u| <= 7/16)


def _atan(b: _B, core: SLP, dtype: str):
    """``atan|x| = atan(c) + (u + u**3 Q(u**2))``, ``u = (|x| - c)/(1 + c|x|)`` (``|x| - c``
    exact by Sterbenz, one rounding in the denominator and one in the quotient), or
    ``u = -1/|x|`` with ``atan(c) = pi/2`` above 39/16; ``atan(c)`` as a pair (hi, lo)
    selected by the interval, the sum rounded once; ``copysign`` puts x's sign back."""
    p = _PREC[dtype]
    a = b.emit("fabs", 0)
    one = b.const(1.0)
    centre, base_hi, base_lo = b.const(0.0), b.const(0.0), b.const(0.0)
    for brk, c in zip(ATAN_BREAKS, ATAN_CENTRES):
        above = b.emit("ge", a, b.const(brk))
        hi, lo = _split(lambda: mp.atan(c), 2, p)
        centre = b.emit("select", above, b.const(c), centre)
        base_hi = b.emit("select", above, b.const(hi), base_hi)
        base_lo = b.emit("select", above, b.const(lo), base_lo)
    outer = b.emit("ge", a, b.const(ATAN_BREAKS[-1]))
    hi, lo = _split(lambda: mp.pi / 2, 2, p)
    base_hi = b.emit("select", outer, b.const(hi), base_hi)
    base_lo = b.emit("select", outer, b.const(lo), base_lo)
    num = b.emit("select", outer, b.const(-1.0), b.emit("sub", a, centre))
    den = b.emit("select", outer, a, b.emit("fma", centre, a, one))
    u = b.emit("div", num, den)
    t = b.emit("mul", u, u)
    small = b.emit("fma", b.emit("mul", u, t), b.splice(core, t), base_lo)
    y = b.emit("add", base_hi, b.emit("add", u, small))
    y = b.emit("copysign", y, 0)
    return b.sp("select", b.sp("ne", 0, 0), 0, y)


def _exp_and_inverse(b: _B, w: SLP, dtype: str, sign: float):
    """``(e**a + sign e**-a)/2`` for ``a = |x|`` clamped at the overflow point, as
    ``2**(k-1) (d + (dl + sign 2**-2k q))`` with ``e**r = d + dl`` (:func:`_exp_pair`) and
    ``q = 1/(d + dl)`` from one division corrected once with the pair. One rounding of the
    small sum, one of the last, one exact scaling (overflow to inf past the clamp)."""
    a = b.emit("fabs", 0)
    c = b.sp("minnum", a, b.const(HYPERBOLIC_CLAMP[dtype]))
    k, d, dl = _exp_pair(b, c, w, dtype)
    one = b.const(1.0)
    q0 = b.emit("div", one, d)
    nq0 = b.emit("neg", q0)
    rho = b.emit("fma", nq0, dl, b.emit("fma", nq0, d, one))
    q = b.emit("fma", q0, rho, q0)
    inverse = b.emit("ldexp", q, b.emit("mul", k, b.const(-2.0)))
    tail = b.emit("add" if sign > 0 else "sub", dl, inverse)
    return a, b.emit("ldexp", b.emit("add", d, tail), b.emit("sub", k, one))


def _cosh(b: _B, core: SLP, dtype: str):
    _, y = _exp_and_inverse(b, core, dtype, 1.0)
    return b.sp("select", b.sp("ne", 0, 0), 0, y)


def _sinh(b: _B, core: SLP, dtype: str):
    a, large = _exp_and_inverse(b, _expm1_partner(dtype), dtype, -1.0)
    small = _odd_small(b, a, core)
    y = b.emit("copysign", b.emit("select", b.emit("lt", a, b.const(SINH_SPLIT)), small, large), 0)
    return b.sp("select", b.sp("ne", 0, 0), 0, y)


_PIO4 = float(mp.pi / 4) * 1.01


def _round_quadrant(b: _B, x: int, dtype: str) -> int:
    """``k = rint(x * 2/pi)`` by one fma with the shifter ``1.5 * 2**(p-1)`` and one
    subtraction (the sum's last place is 1, so it rounds the exact product to an integer;
    valid for ``|k| < 2**(p-2)``)."""
    shifter = b.const(1.5 * 2.0 ** (_PREC[dtype] - 1))
    return b.emit("sub", b.emit("fma", x, b.const(float(2 / mp.pi)), shifter), shifter)


def _sincos_parts(b: _B, core: SLP, dtype: str, x: int, k: int, wide: bool) -> tuple[int, int]:
    """``(sin r, cos r)`` for ``r = x - k pi/2`` carried as ``rh + rl``."""
    p1, p2, p3 = (b.const(-v) for v in _split(lambda: mp.pi / 2, 3, _PREC[dtype]))
    r1 = b.emit("fma", k, p1, x)                       # exact for |k| < 2**17
    if wide:
        # r1 + k p2 exactly: the product as a pair (ph, pl), the sum by Fast2Sum (rh, e),
        # exact although |r1| may be below |ph|: r1 = x - k p1 is a multiple of ulp(p1)
        # (of ulp(x) for |x| < 1), so of ulp(ph) (|ph| < |k| ulp(p1)/2 is far smaller);
        # where |r1| < |ph|, r1 + ph is then exact or rounds by one ulp(ph), and both of
        # Fast2Sum's subtractions are exact (as TwoSum's six operations would be)
        ph = b.emit("mul", k, p2)
        pl = b.emit("fma", k, p2, b.emit("neg", ph))
        rh, e = _fast_two_sum(b, r1, ph)
        rl = b.emit("fma", k, p3, b.emit("add", e, pl))
    else:
        # |k| <= 2: r1 and rh are close, so r1 - rh is exact (Sterbenz)
        rh = b.emit("fma", k, p2, r1)
        rl = b.emit("fma", k, p3, b.emit("fma", k, p2, b.emit("sub", r1, rh)))
    t = b.emit("fma", rh, rh, b.emit("mul", b.emit("add", rh, rh), rl))   # (rh + rl)**2
    # sin r = rh + (rh t S(t) + rl), S the searched core
    sin_r = b.emit("add", rh, b.emit("fma", b.emit("mul", rh, t), b.splice(core, t), rl))
    cos_r = b.emit("fma", t, b.splice(_cos_partner(dtype), t), b.const(1.0))
    return sin_r, cos_r


#: pi rounded to each format (float32's is above the real pi, float64's below)
_PI_ROUNDED = {"float32": float(np.float32(np.pi)), "float64": float(np.pi)}


def _sincos(cos: bool, wide: bool):
    def build(b: _B, core: SLP, dtype: str):
        if wide:
            k = _round_quadrant(b, 0, dtype)
            sin_r, cos_r = _sincos_parts(b, core, dtype, 0, k, True)
            if cos:  # cos x = sin(x + pi/2): one quadrant on
                k = b.emit("add", k, b.const(1.0))
            # k odd: k/2 is not an integer; k mod 4 >= 2: floor(k/2) is odd (negative k too)
            half = b.emit("mul", k, b.const(0.5))
            half_floor = b.emit("floor", half)
            v = b.emit("select", b.emit("ne", half, half_floor), cos_r, sin_r)
            quarter = b.emit("mul", half_floor, b.const(0.5))
            y = b.emit("select", b.emit("ne", quarter, b.emit("floor", quarter)), b.emit("neg", v), v)
            if not cos:  # sin(-0) = -0
                y = b.sp("select", b.sp("eq", 0, b.const(0.0)), 0, y)
            return y
        # |x| <= pi: reduce a = |x|, k in {0, 1, 2}; cos is even, sin odd and >= 0 on [0, pi]
        a = b.emit("fabs", 0)
        k = _round_quadrant(b, a, dtype)
        sin_r, cos_r = _sincos_parts(b, core, dtype, a, k, False)
        if cos:  # cos a = cos r, -sin r, -cos r
            v = b.emit("select", b.emit("eq", k, b.const(1.0)), sin_r, cos_r)
            return b.emit("select", b.emit("eq", k, b.const(0.0)), v, b.emit("neg", v))
        # sin a = sin r, cos r, -sin r (>= 0: copysign puts x's sign on it, -0 included)
        y = b.emit("copysign", b.emit("select", b.emit("eq", k, b.const(1.0)), cos_r, sin_r), 0)
        pi = _PI_ROUNDED[dtype]
        if mp.mpf(pi) > mp.pi:  # sin is negative there: x * (sin(pi)/pi), rounds to sin(pi)
            ratio = float(mp.sin(mp.mpf(pi)) / pi)
            y = b.sp("select", b.sp("eq", a, b.const(pi)), b.sp("mul", 0, b.const(ratio)), y)
        return y
    return build


# ----------------------------------------------------------------------------- training inputs


def _exp_training(base2: bool):
    def inputs(rng, n, dtype):
        lo, hi = (-87.0, 88.0) if dtype == "float32" else (-700.0, 700.0)
        if base2:
            lo, hi = lo / math.log(2), hi / math.log(2)
        return rng.uniform(lo, hi, n)
    return inputs


def _log_training(rng, n, dtype):
    info = np.finfo(dtype)
    x = np.exp(rng.uniform(math.log(float(info.smallest_subnormal)), math.log(float(info.max)), n))
    return np.concatenate([x, 1 + rng.uniform(-0.3, 0.42, n)])


def _near_and_far(near: float, far: float):
    """Half uniform on ``[-near, near]``, half on ``[-far, far]``."""
    return lambda rng, n, dtype: np.concatenate([rng.uniform(-near, near, n // 2), rng.uniform(-far, far, n // 2)])


def _near_and_log_uniform(near: float, lo: float, hi: float, shift_to_one: bool = False):
    """Half uniform on ``[-near, near]``, half ``+-e**u`` with ``u`` uniform on ``[lo, hi]``
    (``shift_to_one``: ``1 + |x|`` of those, acosh's domain)."""
    def inputs(rng, n, dtype):
        x = np.concatenate([rng.uniform(-near, near, n // 2),
                            np.exp(rng.uniform(lo, hi, n // 2)) * rng.choice([-1, 1], n // 2)])
        return 1 + np.abs(x) if shift_to_one else x
    return inputs


def _atanh_training(rng, n, dtype):
    return np.concatenate([rng.uniform(-1, 1, n // 2),
                           (1 - np.exp(rng.uniform(-17, 0, n // 2))) * rng.choice([-1, 1], n // 2)])


def _log1p_training(rng, n, dtype):
    top = math.log(float(np.finfo(dtype).max))
    return np.concatenate([rng.uniform(-1, 1, n // 2), np.expm1(rng.uniform(-30, top, n // 2))])


def _expm1_training(rng, n, dtype):
    return np.concatenate([rng.uniform(-1, 1, n // 2), rng.uniform(-20, 20, n // 4),
                           rng.uniform(-20, 88 if dtype == "float32" else 700, n // 4)])


def _hyperbolic_training(rng, n, dtype):
    top = 89.5 if dtype == "float32" else 710.0
    return np.concatenate([rng.uniform(-2, 2, n // 2), rng.uniform(-top, top, n // 2)])


_LN2_HALF = float(mp.log(2) / 2) * (1 + 2.0**-10)
#: (core name, core function, core interval) shared by several templates
_LOG_CORE = ("(2 atanh(s) - 2s)/s**3, z = s**2", _atanh_quotient, lambda d: (0.0, _S_MAX2))
#: log and log2: the core's interval follows the split (:func:`_log_split_x86` on AVX-512)
_LOG_CORE_SPLIT = (*_LOG_CORE[:2], lambda d: (0.0, _S_MAX2_X86 if x86_ops() and d == "float32" else _S_MAX2))
_SIN_CORE = ("(sin(sqrt t) - sqrt t)/t**1.5", _sin_quotient, lambda d: (0.0, _PIO4**2))
TEMPLATES: dict[str, Template] = {t.name: t for t in [
    Template("exp", "exp(r)", mp.exp, lambda d: (-_LN2_HALF, _LN2_HALF), _exp_like(False),
             lambda d: "every finite input (overflow to inf, underflow to subnormals and 0)", _exp_training(False)),
    Template("exp2", "2**r", lambda r: mp.power(2, r), lambda d: (-0.5, 0.5), _exp_like(True),
             lambda d: "every finite input (overflow to inf, underflow to subnormals and 0)", _exp_training(True)),
    Template("log", *_LOG_CORE_SPLIT, _log_like(False), lambda d: "every input (subnormals; 0, negative, inf, NaN)",
             _log_training),
    Template("log2", *_LOG_CORE_SPLIT, _log_like(True), lambda d: "every input (subnormals; 0, negative, inf, NaN)",
             _log_training),
    Template("log_table", "(log(1 + r) - r)/r**2", _log1p_quotient, lambda d: log_table(d)[3], _log_table,
             lambda d: "every input (subnormals; 0, negative, inf, NaN)", _log_training),
    Template("log2_table", "(log2(1 + r) - r/ln2)/r**2", _log2_quotient, lambda d: log_table(d, True)[3],
             _log2_table, lambda d: "every input (subnormals; 0, negative, inf, NaN)", _log_training),
    Template("log1p", *_LOG_CORE, _log1p, lambda d: "every input (-1, below -1, inf, NaN)", _log1p_training),
    Template("atanh", *_LOG_CORE, _atanh, lambda d: "every input (+-1 -> +-inf, NaN beyond)", _atanh_training),
    Template("asinh", *_LOG_CORE, _asinh, lambda d: "every input", _near_and_log_uniform(3, -20, 80)),
    Template("acosh", *_LOG_CORE, _acosh, lambda d: "every input (NaN below 1)",
             _near_and_log_uniform(3, -20, 80, shift_to_one=True)),
    Template("erf", "(erf(x)/x - 2/sqrt(pi))/t, t = x**2", _erf_small, lambda d: (0.0, ERF_SPLIT**2 * 1.001),
             _erf, lambda d: "every input (|x| >= 4 rounds to +-1)", _near_and_far(1, 4.5)),
    Template("tanh", "(tanh(x)/x - 1)/t, t = x**2", _odd_quotient(mp.tanh, -mp.mpf(1) / 3),
             lambda d: (0.0, TANH_SPLIT**2 * 1.001), _tanh,
             lambda d: f"every input (|x| >= {TANH_ONE[d]:g} rounds to +-1)", _near_and_far(1, 20)),
    Template("sinh", "(sinh(x)/x - 1)/t, t = x**2", _odd_quotient(mp.sinh, mp.mpf(1) / 6),
             lambda d: (0.0, SINH_SPLIT**2 * 1.001), _sinh, lambda d: "every input (overflow to +-inf)",
             _hyperbolic_training),
    Template("atan", "(atan(u)/u - 1)/t, t = u**2", _odd_quotient(mp.atan, -mp.mpf(1) / 3),
             lambda d: (0.0, ATAN_U2), _atan, lambda d: "every input", _near_and_log_uniform(3, -20, 40)),
    Template("expm1", "(e**r - 1 - r)/r**2", _expm1_quotient, lambda d: (-_LN2_HALF, _LN2_HALF), _expm1,
             lambda d: "every input (-1 below the clamp, overflow to inf)", _expm1_training),
    Template("cosh", "(e**r - 1 - r)/r**2", _expm1_quotient, lambda d: (-_LN2_HALF, _LN2_HALF), _cosh,
             lambda d: "every input (overflow to inf)", _hyperbolic_training),
    Template("sin", *_SIN_CORE, _sincos(False, False), lambda d: "[-pi, pi]"),
    Template("cos", *_SIN_CORE, _sincos(True, False), lambda d: "[-pi, pi]"),
    Template("sin_wide", *_SIN_CORE, _sincos(False, True), lambda d: f"|x| <= {SINCOS_VALID[d]:g}"),
    Template("cos_wide", *_SIN_CORE, _sincos(True, True), lambda d: f"|x| <= {SINCOS_VALID[d]:g}"),
]}


def wrap(template: Template, core: SLP) -> tuple[SLP, set[int]]:
    """The whole function's program around ``core``, and the ids of special-value ops."""
    b = _B(core.dtype)
    out = template.build(b, core, core.dtype)
    return b.done(out), set(b.special)


def main_path_cost(slp: SLP, special: set[int]) -> int:
    """Operations of the main path: every live operation except special-value handling."""
    return sum(OPS_COST.get(slp.instrs[k].op, 0) for k in live(slp) if k not in special)
