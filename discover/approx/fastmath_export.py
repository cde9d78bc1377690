"""The approximation programs behind :mod:`codegen.fastmath` (``math="fast"``).

Where a program of this job is within 1 ULP on every input and cheaper than the inline
function codegen had, it becomes that function (:data:`EXPORTS`): float32 ``exp`` and
``exp2`` (a Cody-Waite / ``x - rint(x)`` reduction, a polynomial core, ``ldexp``; codegen's
own took about 40 operations or a double-double product), float32 ``log1p`` and ``asinh``,
and both precisions of ``acosh``, ``atanh``, ``expm1``, ``tanh``, ``sinh``, ``cosh``, ``atan``
(see :mod:`.templates`; codegen's own were float64 formulas with a float64 division for
float32, at a quarter of NumPy's speed, and double-double formulas for float64). codegen
may not import this package, so the programs are stored as data in
``codegen/fastmath_programs.py``, written by

    python -m discover.approx.fastmath_export > codegen/fastmath_programs.py

Deterministic, no search: the baselines within 1 ULP on the training inputs, cheapest
first, each verified (float32: on every input, about a minute each on 2 cores; float64:
on 200,000 sampled inputs, see :func:`.verify.sample`, within :data:`VERIFIED_GOAL`) until
one passes; the file records
which baseline it is, so a test can rebuild it. The float64
tanh, sinh, cosh and expm1 programs (within 0.8-0.9 ULP sampled) replaced double-double
formulas at half to three quarters of their speed, the float64 atanh and acosh programs
double-double formulas about 15 % slower than them (float64 asinh and log1p stay
double-double formulas: their programs were slower).
"""

from __future__ import annotations

import argparse
import math

from .job import ApproxSettings, baseline_rows, make_task
from .program import SLP, compact
from .templates import ops_mode

#: (name in codegen.fastmath, target, dtype)
EXPORTS = (("EXP_F32", "exp", "float32"), ("EXP2_F32", "exp2", "float32"), ("TANH_F32", "tanh", "float32"),
           ("SINH_F32", "sinh", "float32"), ("COSH_F32", "cosh", "float32"), ("TANH_F64", "tanh", "float64"),
           ("SINH_F64", "sinh", "float64"), ("COSH_F64", "cosh", "float64"), ("EXPM1_F32", "expm1", "float32"),
           ("EXPM1_F64", "expm1", "float64"), ("LOG1P_F32", "log1p", "float32"), ("ATAN_F32", "atan", "float32"),
           ("ATAN_F64", "atan", "float64"), ("ATANH_F32", "atanh", "float32"), ("ATANH_F64", "atanh", "float64"),
           ("ASINH_F32", "asinh", "float32"), ("ACOSH_F32", "acosh", "float32"), ("ACOSH_F64", "acosh", "float64"))


#: programs codegen uses on AVX-512 hosts instead of its own function (built with the
#: operations that are one AVX-512 instruction there: :func:`.templates.x86_ops`): log by
#: the table template, float32 1.83x and float64 1.75x NumPy in cache (Intel Xeon,
#: 2026-12-07; float64 1.67x codegen's own on an AMD EPYC Zen 5)
AVX512_EXPORTS = (("LOG_F32_AVX512", "log", "float32"), ("LOG_F64_AVX512", "log", "float64"))


#: The verified error a program must meet: 1 ULP on every float32; on float64's sample, less,
#: since a sample misses rare worst cases (an audit found expm1 at 1.005 ULP where 200,000
#: samples had said 0.961)
VERIFIED_GOAL = {"float32": 1.0, "float64": 0.95}


def candidates(target: str, dtype: str, avx512: bool = False) -> list:
    """The baselines' whole programs within 1 ULP on the training inputs, cheapest first,
    built without the AVX-512 operations (:func:`.templates.ops_mode` "portable": the
    file must not depend on the host that wrote it, and ``scalef``, ``getexp``,
    ``getmant`` are one instruction only on AVX-512), or with them (``avx512``)."""
    with ops_mode("avx512" if avx512 else "portable"):
        rows = baseline_rows(make_task(target, ApproxSettings(dtype=dtype)))
    return sorted((r for r in rows if r.error <= 1.0), key=lambda r: (r.cost, r.error))


def baseline(target: str, dtype: str, name: str, avx512: bool = False) -> SLP:
    """The whole program of the baseline called ``name`` (e.g. ``minimax-7 horner``)."""
    return compact(next(r.full for r in candidates(target, dtype, avx512) if r.name == name))


def as_data(slp: SLP) -> tuple:
    """``(instructions, output)`` with each instruction ``(op, operands, value)``."""
    return tuple((i.op, tuple(i.operands), float(i.value)) for i in slp.instrs), slp.output


def literal(value: float) -> str:
    """``value`` as Python source (``float('inf')``, ``float('nan')`` for the non-finite)."""
    return repr(value) if math.isfinite(value) else f"float('{value}')"


def entry(name: str, target: str, dtype: str, avx512: bool = False) -> str:
    """The source of one program: the cheapest baseline within 1 ULP that verifies."""
    from .targets import target as resolve
    from .verify import verify

    tgt = resolve(target)
    for row in candidates(target, dtype, avx512):
        v = verify(row.full, tgt, tgt.domain)
        if v.max_ulp <= VERIFIED_GOAL[dtype]:
            break
    else:
        raise SystemExit(f"no baseline of {target} {dtype} verifies within {VERIFIED_GOAL[dtype]} ULP")
    instrs, output = as_data(compact(row.full))
    return "\n".join([
        "", f"# {target} {dtype}: {row.name}, {row.cost} operations; verified {v.method} on",
        f"# {v.points:,} inputs: max {v.max_ulp:.3f} ULP, {v.correctly_rounded:.2%} correctly rounded",
        f"{name}_BASELINE = {row.name!r}", f"{name} = ((",
        *(f"    ({op!r}, {operands!r}, {literal(value)})," for op, operands, value in instrs),
        f"), {output})"])


def main(argv=None) -> int:
    argparse.ArgumentParser(description=__doc__.splitlines()[0]).parse_args(argv)
    print('"""Straight-line programs of ``discover approx`` used by :mod:`codegen.fastmath` (generated;')
    print("do not edit by hand: ``python -m discover.approx.fastmath_export > codegen/fastmath_programs.py``).")
    print()
    print("Each is ``(instructions, output)``; an instruction is ``(op, operands, value)`` with the")
    print("operations of :data:`codegen.ops.OPS` (``arg`` is x, ``const`` a constant), evaluated in")
    print('this order with IEEE rounding after each."""')
    for name, target, dtype in EXPORTS:
        print(entry(name, target, dtype))
    for name, target, dtype in AVX512_EXPORTS:
        print(entry(name, target, dtype, avx512=True))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
