"""The result of ``discover approx``: the one definition of its JSON schema.

    {
      "schema": "discover.approx/1",
      "target": "exp", "dtype": "float32", "domain": [-inf, inf],
      "template": "exp", "valid": "every finite input ...", "core": "exp(r) on [-0.347, 0.347]",
      "max_ulp": 1.0,                               # the goal
      "front": [                                     # the search's programs, by cost
        {"cost": 17, "main_path_cost": 13, "error": 0.93, "code": ["t0 = ...", ...],
         "sympy": "...", "program": [[op, [operands], value], ...], "output": 12}, ...],
      "baselines": [{"name": "minimax-6 horner", "cost": 17, "main_path_cost": 13, "error": 0.98}, ...],
      "selected": 2,                                 # index into "front" (null: none met the goal)
      "verification": {"method": "exhaustive", "points": 4278190078, "max_ulp": 0.93,
                       "worst_input": ..., "correctly_rounded": 0.87, "seconds": 40.1},
      "error_unit": "ulp",                           # "relative" for the real-number task
      "stats": {"seconds": 61.0, "evaluations": 5400}
    }

Errors in "front"/"baselines" are on the training inputs; "verification" is on every
float32 input of the domain (float64: a stated sample).
"""

from __future__ import annotations

import json
import math
import os

from codegen.program import Instr

from ..atomic import write_text_atomic
from .program import SLP, code, to_sympy
from ..result import jsonable, read_payload

__all__ = ["SCHEMA", "encode_program", "decode_program", "save", "load"]

SCHEMA = "discover.approx/1"


def encode_program(slp: SLP) -> dict:
    return {"program": [[i.op, list(i.operands), i.value] for i in slp.instrs], "output": slp.output,
            "code": code(slp), "sympy": str(to_sympy(slp))}


def decode_program(entry: dict, dtype: str) -> SLP:
    return SLP(dtype, tuple(Instr(op, tuple(ops), float(v)) for op, ops, v in entry["program"]), entry["output"])


def _finite(value):
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return value


def save(payload: dict, path: str | os.PathLike) -> None:
    """Write atomically (infinite numbers as the strings "inf"/"-inf")."""
    def clean(v):
        if isinstance(v, dict):
            return {k: clean(x) for k, x in v.items()}
        if isinstance(v, (list, tuple)):
            return [clean(x) for x in v]
        return _finite(v)
    write_text_atomic(path, json.dumps(clean({"schema": SCHEMA, **payload}), indent=2, default=jsonable) + "\n")


def load(path: str | os.PathLike) -> dict:
    return read_payload(path, SCHEMA, "approx ")
