"""Range reduction: a program on a small interval, extended to every finite input.

A :class:`Template` names the *core* function the search approximates on a small
interval and wraps a core program into the whole function with a few exact (or
error-compensated) operations, all in the target precision and in the program's order:

* ``exp``: ``k = rint(x / ln2)``, ``r = x - k ln2`` by two ``fma`` with ``ln2`` split in
  two (Cody-Waite), ``|r| <= ln2/2``; ``e**x = ldexp(core(r), k)`` with ``core ~ e**r``.
  ``x`` is first clamped so that ``k`` stays in range: results overflow to ``inf`` and
  underflow to 0 or a correctly scaled subnormal; NaN passes through.
* ``exp2``: ``k = rint(x)``, ``r = x - k`` (exact), ``core ~ 2**r`` on ``[-1/2, 1/2]``.
* ``log`` / ``log2``: subnormals scaled by ``2**p``; ``x = 2**e m`` with ``m`` in
  ``[sqrt(1/2), sqrt(2))`` from the exponent bits; ``f = m - 1`` (exact);
  ``log x = e ln2 + core(f)`` (``ln2`` in two parts, two ``fma``), ``core ~ log1p``
  (``log2``: ``e + core(f)``, ``core ~ log2(1 + f)``). ``log(0) = -inf``, negative -> NaN,
  ``log(inf) = inf``.
* ``sin`` / ``cos``: ``k = rint(x / pi)`` (cos: ``rint(x/pi - 1/2) + 1/2``),
  ``r = x - k pi`` by three ``fma`` with ``pi`` split in three (exact first step for
  ``|k| < 2**17``), ``|r| <= pi/2``; ``sin x = (-1)**k core(r)``
  (cos: ``-(-1)**k core(r)``), ``core ~ sin`` on ``[-pi/2, pi/2]``. Stated valid range
  ``|x| <= 1e5`` (float32) / ``2**20`` (float64): beyond it the reduction loses bits.

The operations that only treat special values (clamps, NaN and signed-zero selects) are
counted apart from the main path (:func:`main_path_cost`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import mpmath as mp
import numpy as np

from .baselines import Core
from .program import SLP, Builder, OPS_COST, live

__all__ = ["Template", "TEMPLATES", "wrap", "main_path_cost"]


def _split(value, parts: int, bits: int) -> list[float]:
    out, rest = [], mp.mpf(value)
    for _ in range(parts):
        with mp.workprec(bits):
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


def _exp_like(base2: bool):
    def build(b: _B, core: SLP, dtype: str):
        lo, hi = _EXP_CLAMP[dtype]
        if base2:
            lo, hi = lo / float(np.log(2)), hi / float(np.log(2))
        x = b.sp("minnum", b.sp("maxnum", 0, b.const(lo)), b.const(hi))
        if base2:
            k = b.emit("rint", x)
            r = b.emit("sub", x, k)
        else:
            k = b.emit("rint", b.emit("mul", x, b.const(float(1 / mp.log(2)))))
            c1, c2 = _split(mp.log(2), 2, _PREC[dtype])
            r = b.emit("fma", k, b.const(-c1), x)
            r = b.emit("fma", k, b.const(-c2), r)
        y = b.emit("ldexp", b.splice(core, r), k)
        return b.sp("select", b.sp("ne", 0, 0), 0, y)
    return build


def _log_like(base2: bool):
    def build(b: _B, core: SLP, dtype: str):
        info = np.finfo(dtype)
        p = info.nmant + 1
        tiny = b.sp("lt", 0, b.const(float(info.smallest_normal)))
        xs = b.sp("select", tiny, b.sp("mul", 0, b.const(2.0**p)), 0)
        e = b.emit("logb", xs)
        m = b.emit("ldexp", xs, b.emit("neg", e))
        big = b.emit("gt", m, b.const(float(mp.sqrt(2))))
        m = b.emit("select", big, b.emit("mul", m, b.const(0.5)), m)
        e = b.emit("select", big, b.emit("add", e, b.const(1.0)), e)
        e = b.sp("sub", e, b.sp("select", tiny, b.const(float(p)), b.const(0.0)))
        f = b.emit("sub", m, b.const(1.0))
        c = b.splice(core, f)
        if base2:
            y = b.emit("add", e, c)
        else:
            c1, c2 = _split(mp.log(2), 2, _PREC[dtype])
            y = b.emit("fma", e, b.const(c1), b.emit("fma", e, b.const(c2), c))
        y = b.sp("select", b.sp("eq", 0, b.const(np.inf)), 0, y)
        y = b.sp("select", b.sp("eq", 0, b.const(0.0)), b.const(-np.inf), y)
        y = b.sp("select", b.sp("lt", 0, b.const(0.0)), b.const(np.nan), y)
        return b.sp("select", b.sp("ne", 0, 0), 0, y)
    return build


def _sincos(cos: bool):
    def build(b: _B, core: SLP, dtype: str):
        inv_pi = b.const(float(1 / mp.pi))
        if cos:
            k = b.emit("rint", b.emit("fma", 0, inv_pi, b.const(-0.5)))
            m = b.emit("add", k, b.const(0.5))
        else:
            k = m = b.emit("rint", b.emit("mul", 0, inv_pi))
        r = 0
        for part in _split(mp.pi, 3, _PREC[dtype]):
            r = b.emit("fma", m, b.const(-part), r)
        y = b.splice(core, r)
        parity = b.emit("fabs", b.emit("fma", b.const(-2.0), b.emit("rint", b.emit("mul", k, b.const(0.5))), k))
        sign = b.emit("fma", parity, b.const(2.0 if cos else -2.0), b.const(-1.0 if cos else 1.0))
        y = b.emit("mul", y, sign)
        if not cos:  # sin(-0) = -0
            y = b.sp("select", b.sp("eq", 0, b.const(0.0)), 0, y)
        return y
    return build


_LN2_HALF = float(mp.log(2) / 2) * (1 + 2.0**-10)
TEMPLATES: dict[str, Template] = {t.name: t for t in [
    Template("exp", "exp(r)", mp.exp, lambda d: (-_LN2_HALF, _LN2_HALF), _exp_like(False),
             lambda d: "every finite input (overflow to inf, underflow to subnormals and 0)"),
    Template("exp2", "2**r", lambda r: mp.power(2, r), lambda d: (-0.5, 0.5), _exp_like(True),
             lambda d: "every finite input (overflow to inf, underflow to subnormals and 0)"),
    Template("log", "log1p(f)", mp.log1p, lambda d: (float(mp.sqrt(0.5)) - 1, float(mp.sqrt(2)) - 1),
             _log_like(False), lambda d: "every input (subnormals; 0, negative, inf, NaN)"),
    Template("log2", "log2(1+f)", lambda f: mp.log(1 + f, 2), lambda d: (float(mp.sqrt(0.5)) - 1, float(mp.sqrt(2)) - 1),
             _log_like(True), lambda d: "every input (subnormals; 0, negative, inf, NaN)"),
    Template("sin", "sin(r)", mp.sin, lambda d: (-float(mp.pi / 2) * 1.005, float(mp.pi / 2) * 1.005),
             _sincos(False), lambda d: f"|x| <= {SINCOS_VALID[d]:g}"),
    Template("cos", "sin(r)", mp.sin, lambda d: (-float(mp.pi / 2) * 1.005, float(mp.pi / 2) * 1.005),
             _sincos(True), lambda d: f"|x| <= {SINCOS_VALID[d]:g}"),
]}


def wrap(template: Template, core: SLP) -> tuple[SLP, set[int]]:
    """The whole function's program around ``core``, and the ids of special-value ops."""
    b = _B(core.dtype)
    out = template.build(b, core, core.dtype)
    return b.done(out), set(b.special)


def main_path_cost(slp: SLP, special: set[int]) -> int:
    """Operations of the main path: every live operation except special-value handling."""
    return sum(OPS_COST.get(slp.instrs[k].op, 0) for k in live(slp) if k not in special)
