"""Straight-line programs: what the approximation search evolves and what ships.

A :class:`SLP` is a list of SSA instructions (:class:`codegen.program.Instr`) over one
input ``x`` (instruction 0, ``("arg", 0)``): constants, and operations of
:data:`OPS_COST` whose operands are earlier instructions. It is a DAG, not a tree: a
value used twice is computed once, and :func:`cost` counts each live operation once.

Evaluation is the program's own IEEE arithmetic in its dtype, operation by operation, in
its order, with ``fma`` rounded once (:func:`codegen.exact.fma`): :func:`evaluate` is
bit-identical to the compiled kernel of :func:`to_program` (a test checks it), so what
the search scores is what ships. :func:`evaluate_real` is the real-number reading of the
same program (``long double``, 64-bit significand) for real-number tasks, and
:func:`evaluate_jacobian` its float64 value with derivatives in the constants (forward
mode), which constant fitting uses.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, replace
from typing import Sequence

import numpy as np
import sympy

from codegen.ops import OPS, resolve
from codegen.program import Instr, Program

__all__ = ["SLP", "OPS_COST", "SEARCH_OPS", "REAL_OPS", "cost", "compact", "evaluate", "evaluate_real",
           "evaluate_jacobian", "to_program", "to_sympy", "code", "constant_ids",
           "with_constants", "round_constant", "Builder", "live"]

#: the cost of each operation in "operations" (the cost model ``ops``); arguments and
#: constants are free. Template operations count the machine instructions they lower to.
OPS_COST: dict[str, int] = {
    "add": 1, "sub": 1, "mul": 1, "fma": 1, "div": 1, "neg": 1,
    "rint": 1, "ldexp": 3, "scalef": 1, "getexp": 1, "getmant": 1, "logb": 3, "significand": 2,
    "lut16": 1,
    "select": 1, "lt": 1, "gt": 1, "le": 1, "ge": 1,
    "eq": 1, "ne": 1, "or": 1, "and": 1, "fabs": 1, "copysign": 1, "floor": 1,
    "minnum": 1, "maxnum": 1,
}

#: the operations the search composes programs from (division is optional)
SEARCH_OPS = ("add", "sub", "mul", "fma")
#: the real-number task's operations (AutoNumerics-Zero's: no fma)
REAL_OPS = ("add", "sub", "mul", "div")


@dataclass(frozen=True)
class SLP:
    """A straight-line program ``y = P(x)``: ``instrs[output]`` is the result."""

    dtype: str
    instrs: tuple[Instr, ...]
    output: int

    def __post_init__(self):
        if not self.instrs or self.instrs[0] != Instr("arg", value=0):
            raise ValueError("an SLP starts with the argument x")
        for k, ins in enumerate(self.instrs):
            if any(j >= k for j in ins.operands):
                raise ValueError(f"instruction {k} uses a later value")

    def __len__(self) -> int:
        return len(self.instrs)


def live(slp: SLP) -> list[int]:
    """Indices of the instructions the output depends on, in order."""
    needed = {0, slp.output}  # the argument stays first, used or not
    for k in range(slp.output, -1, -1):
        if k in needed:
            needed.update(slp.instrs[k].operands)
    return sorted(needed)


def cost(slp: SLP) -> int:
    """Operations executed: each live operation once, by :data:`OPS_COST`."""
    return sum(OPS_COST.get(slp.instrs[k].op, 0) for k in live(slp))


#: arithmetic that :func:`compact` folds when every operand is a constant
FOLDABLE = frozenset({"add", "sub", "mul", "div", "fma", "neg"})


def compact(slp: SLP) -> SLP:
    """Drop dead instructions, fold arithmetic on constants alone into one constant (its
    value in the program's dtype, so the result is bit-identical) and merge identical
    instructions (same op, operands and value)."""
    index: dict[int, int] = {}
    seen: dict[Instr, int] = {}
    out: list[Instr] = []
    folded = False
    for k in live(slp):
        ins = slp.instrs[k]
        ins = Instr(ins.op, tuple(index[j] for j in ins.operands), ins.value)
        if ins.op in FOLDABLE and all(out[j].op == "const" for j in ins.operands):
            ops = _numpy_ops(slp.dtype)
            with np.errstate(all="ignore"):
                value = ops[ins.op](*(ops["const"](out[j].value) for j in ins.operands))
            ins, folded = Instr("const", value=float(np.asarray(value, dtype=slp.dtype))), True
        if ins in seen:
            index[k] = seen[ins]
            continue
        seen[ins] = index[k] = len(out)
        out.append(ins)
    small = SLP(slp.dtype, tuple(out), index[slp.output])
    return compact(small) if folded else small  # drop the constants the folds left unused


def constant_ids(slp: SLP) -> list[int]:
    return [k for k, ins in enumerate(slp.instrs) if ins.op == "const"]


def round_constant(value: float, dtype: str) -> float:
    """``value`` rounded to nearest in ``dtype`` (as a Python float; beyond its range, inf,
    as the fitted constant of a divergent candidate may be)."""
    with np.errstate(over="ignore"):
        return float(np.asarray(value, dtype=np.float64).astype(dtype))


def with_constants(slp: SLP, values: Sequence[float]) -> SLP:
    """The program with its constants (in :func:`constant_ids` order) replaced, rounded."""
    instrs = list(slp.instrs)
    for k, v in zip(constant_ids(slp), values):
        instrs[k] = Instr("const", value=round_constant(v, slp.dtype))
    return replace(slp, instrs=tuple(instrs))


def _run(slp: SLP, x, ops) -> np.ndarray:
    values: list = [None] * len(slp.instrs)
    for k in live(slp):
        ins = slp.instrs[k]
        if ins.op == "arg":
            values[k] = x
        elif ins.op == "const":
            values[k] = ops["const"](ins.value)
        else:
            values[k] = ops[ins.op](*(values[j] for j in ins.operands))
    return values[slp.output]


@functools.lru_cache(maxsize=None)
def _numpy_ops(dtype: str) -> dict:
    """codegen's NumPy reference of every operation (resolved once per dtype: the search
    evaluates thousands of programs)."""
    table = {name: resolve(op.numpy) for name, op in OPS.items()}
    table["const"] = lambda v: np.asarray(v, dtype=dtype)
    return table


def evaluate(slp: SLP, x) -> np.ndarray:
    """The program on ``x`` in its dtype, bit-exact (see the module docstring)."""
    x = np.asarray(x, dtype=slp.dtype)
    with np.errstate(all="ignore"):
        out = _run(slp, x, _numpy_ops(slp.dtype))
    return np.broadcast_to(np.asarray(out, dtype=slp.dtype), x.shape).copy()


def evaluate_real(slp: SLP, x) -> np.ndarray:
    """The program read over the reals: ``long double`` arithmetic, constants as stored."""
    ld = np.longdouble
    ops = {"const": lambda v: ld(v), "add": np.add, "sub": np.subtract, "mul": np.multiply,
           "div": np.divide, "neg": np.negative, "fma": lambda a, b, c: a * b + c}
    x = np.asarray(x, dtype=ld)
    with np.errstate(all="ignore"):
        out = _run(slp, x, ops)
    return np.broadcast_to(np.asarray(out, dtype=ld), x.shape).copy()


def evaluate_jacobian(slp: SLP, x, values: Sequence[float] | None = None):
    """``(y, J)``: the program in float64 (real reading) with constants ``values`` (default:
    its own) and ``J[:, i] = dy/dc_i``, shapes ``(n,)`` and ``(n, n_constants)``.

    Forward mode: each value carries its gradient in the constants.
    """
    x = np.asarray(x, dtype=np.float64)
    cids = constant_ids(slp)
    values = [slp.instrs[k].value for k in cids] if values is None else list(values)
    m, n = len(cids), x.size
    position = {k: i for i, k in enumerate(cids)}
    vals: list = [None] * len(slp.instrs)
    grads: list = [None] * len(slp.instrs)
    zero = np.zeros((n, m))
    with np.errstate(all="ignore"):
        for k in live(slp):
            ins = slp.instrs[k]
            if ins.op == "arg":
                vals[k], grads[k] = x, zero
            elif ins.op == "const":
                g = np.zeros((n, m))
                g[:, position[k]] = 1.0
                vals[k], grads[k] = np.full(n, values[position[k]]), g
            else:
                a = [vals[j] for j in ins.operands]
                da = [grads[j] for j in ins.operands]
                if ins.op == "add":
                    v, g = a[0] + a[1], da[0] + da[1]
                elif ins.op == "sub":
                    v, g = a[0] - a[1], da[0] - da[1]
                elif ins.op == "neg":
                    v, g = -a[0], -da[0]
                elif ins.op == "mul":
                    v, g = a[0] * a[1], da[0] * a[1][:, None] + a[0][:, None] * da[1]
                elif ins.op == "fma":
                    v = a[0] * a[1] + a[2]
                    g = da[0] * a[1][:, None] + a[0][:, None] * da[1] + da[2]
                elif ins.op == "div":
                    v = a[0] / a[1]
                    g = (da[0] - v[:, None] * da[1]) / a[1][:, None]
                else:
                    raise ValueError(f"evaluate_jacobian: operation {ins.op!r} is not differentiable here")
                vals[k], grads[k] = v, g
    return vals[slp.output], grads[slp.output]


def to_program(slp: SLP, name: str = "approx", arg: str = "x") -> Program:
    """The codegen :class:`~codegen.program.Program` of the live instructions, same order."""
    small = compact(slp)
    return Program(name, slp.dtype, (arg,), (arg,), ("out0",), (to_sympy(small, arg),),
                   small.instrs, (small.output,))


_SYMPY = {"add": lambda a, b: a + b, "sub": lambda a, b: a - b, "mul": lambda a, b: a * b,
          "div": lambda a, b: a / b, "neg": lambda a: -a, "fma": lambda a, b, c: a * b + c}


def to_sympy(slp: SLP, arg: str = "x") -> sympy.Expr:
    """The program's value as a SymPy expression (the order of operations is in :func:`code`)."""
    x = sympy.Symbol(arg)
    # arithmetic as SymPy arithmetic; every other operation of codegen's table as a function
    ops = {**{name: sympy.Function(name) for name in OPS}, **_SYMPY,
           "const": lambda v: sympy.Float(v, 17 if slp.dtype == "float64" else 9)}
    return sympy.sympify(_run(slp, x, ops))


def code(slp: SLP, arg: str = "x") -> list[str]:
    """The program as lines of straight-line code, ``t3 = fma(t1, x, t2)``, live part only."""
    small = compact(slp)
    names = {}
    lines = []
    for k, ins in enumerate(small.instrs):
        if ins.op == "arg":
            names[k] = arg
        elif ins.op == "const":
            names[k] = repr(ins.value)
        else:
            names[k] = f"t{len(lines)}"
            lines.append(f"{names[k]} = {ins.op}({', '.join(names[j] for j in ins.operands)})")
    lines.append(f"return {names[small.output]}")
    return lines


class Builder:
    """Appends instructions to a program under construction (hash-consed)."""

    def __init__(self, dtype: str):
        self.dtype = dtype
        self.instrs: list[Instr] = [Instr("arg", value=0)]
        self._seen: dict[Instr, int] = {self.instrs[0]: 0}

    def emit(self, op: str, *operands: int, value: float = 0.0) -> int:
        ins = Instr(op, tuple(operands), value)
        if ins not in self._seen:
            self._seen[ins] = len(self.instrs)
            self.instrs.append(ins)
        return self._seen[ins]

    def const(self, value: float) -> int:
        return self.emit("const", value=round_constant(value, self.dtype))

    def done(self, output: int) -> SLP:
        return SLP(self.dtype, tuple(self.instrs), output)

    def splice(self, slp: SLP, x: int) -> int:
        """Append ``slp``'s live instructions with its argument bound to value ``x``."""
        index = {}
        for k in live(slp):
            ins = slp.instrs[k]
            if ins.op == "arg":
                index[k] = x
            elif ins.op == "const":
                index[k] = self.const(ins.value)
            else:
                index[k] = self.emit(ins.op, *(index[j] for j in ins.operands))
        return index[slp.output]
